//! Where a pipeline's runs come from — an Airflow DAG or Kubeflow Pipelines runs — behind one
//! shape, so detection, evidence, retries and gates are written once: recent runs (state,
//! times, scheduled or not), a run's failed tasks (error message, log, pods), the run's raw
//! details, a rerun with the same inputs (Airflow clear, KFP `:retry`), and the schedule to
//! pause (the DAG, or the KFP recurring run through `:disable` / `:enable`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use warden_config::{PipelineConfig, PipelineSource};
use warden_connect::kfp::{RuntimeState, TaskDetail};
use warden_connect::{AirflowClient, KfpClient};
use warden_engine::executor::ActionError;

use super::Pipelines;
use crate::common::actions::connect_error;
use crate::common::schedule::{
    AirflowDag, KfpRecurringRun, Schedule, airflow_client, airflow_error,
};

/// A run's state, the same for both orchestrators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Finished well.
    Succeeded,
    /// Finished badly.
    Failed,
    /// Queued or running.
    Running,
    /// Cancelled, skipped, paused or unknown.
    Other,
}

/// One run of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PipelineRun {
    /// The orchestrator's run id.
    pub id: String,
    /// Its state.
    pub state: RunState,
    /// When it started (KFP: created).
    pub started: Option<DateTime<Utc>>,
    /// When it finished.
    pub ended: Option<DateTime<Utc>>,
    /// Started by the schedule (an Airflow scheduled run, a KFP recurring run).
    pub scheduled: bool,
}

impl PipelineRun {
    /// It finished, well or badly.
    pub fn finished(&self) -> bool {
        matches!(self.state, RunState::Succeeded | RunState::Failed)
    }
}

/// A task of a run Warden looks at: failed, or still running in a stuck run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunTask {
    /// Its name (Airflow task id, KFP task display name).
    pub name: String,
    /// Its attempt (1-based).
    pub attempt: u32,
    /// The orchestrator's error message (KFP), if any.
    pub error: Option<String>,
    /// Its pods (KFP), for logs and events.
    pub pods: Vec<String>,
}

/// A connected source of runs.
pub enum Source {
    /// An Airflow DAG.
    Airflow {
        /// The client.
        client: AirflowClient,
        /// The DAG.
        dag: String,
    },
    /// Kubeflow Pipelines runs.
    Kfp {
        /// The client.
        client: KfpClient,
        /// Runs of this experiment…
        experiment_id: Option<String>,
        /// …and/or started by this recurring run.
        recurring_run_id: Option<String>,
    },
}

fn kfp_time(text: Option<&String>) -> Option<DateTime<Utc>> {
    let text = text?;
    // KFP writes the zero time for "not yet".
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| t.timestamp() > 0)
}

fn kfp_task(task: &TaskDetail) -> RunTask {
    RunTask {
        name: if task.display_name.is_empty() {
            task.task_id.clone()
        } else {
            task.display_name.clone()
        },
        attempt: 1,
        error: task
            .error
            .as_ref()
            .map(|e| e.message.clone())
            .filter(|m| !m.is_empty()),
        pods: task.pods(),
    }
}

impl Source {
    /// A source for `pipeline`, its client authenticated.
    ///
    /// # Errors
    /// The connector is missing or its credentials cannot be resolved.
    pub async fn connect(
        pipelines: &Pipelines,
        pipeline: &PipelineConfig,
    ) -> Result<Self, ActionError> {
        let missing = |connector: &str| ActionError {
            message: format!(
                "pipelines {}: connectors.{connector} is not configured",
                pipeline.name
            ),
            retryable: false,
        };
        Ok(match &pipeline.source {
            PipelineSource::Airflow { dag } => {
                let airflow = pipelines
                    .airflow
                    .as_ref()
                    .ok_or_else(|| missing("airflow"))?;
                Self::Airflow {
                    client: airflow_client(airflow).await?,
                    dag: dag.clone(),
                }
            }
            PipelineSource::Kfp {
                experiment_id,
                recurring_run_id,
            } => {
                let kfp = pipelines.kfp.as_ref().ok_or_else(|| missing("kfp"))?;
                Self::Kfp {
                    client: KfpClient::from_config(kfp).map_err(connect_error)?,
                    experiment_id: experiment_id.clone(),
                    recurring_run_id: recurring_run_id.clone(),
                }
            }
        })
    }

    /// How messages name it.
    pub fn describe(&self) -> String {
        match self {
            Self::Airflow { dag, .. } => PipelineSource::Airflow { dag: dag.clone() },
            Self::Kfp {
                experiment_id,
                recurring_run_id,
                ..
            } => PipelineSource::Kfp {
                experiment_id: experiment_id.clone(),
                recurring_run_id: recurring_run_id.clone(),
            },
        }
        .describe()
    }

    /// Up to `limit` recent runs, newest first.
    ///
    /// # Errors
    /// The orchestrator's API fails.
    pub async fn recent_runs(&self, limit: usize) -> Result<Vec<PipelineRun>, ActionError> {
        match self {
            Self::Airflow { client, dag } => Ok(client
                .recent_runs(dag, u32::try_from(limit).unwrap_or(u32::MAX))
                .await
                .map_err(airflow_error)?
                .into_iter()
                .map(|run| PipelineRun {
                    state: match run.state.as_str() {
                        "success" => RunState::Succeeded,
                        "failed" => RunState::Failed,
                        "running" | "queued" => RunState::Running,
                        _ => RunState::Other,
                    },
                    scheduled: run.run_type.as_deref() == Some("scheduled"),
                    id: run.dag_run_id,
                    started: run.start_date,
                    ended: run.end_date,
                })
                .collect()),
            Self::Kfp {
                client,
                experiment_id,
                recurring_run_id,
            } => {
                // Runs of one recurring run are picked out of the listing; read more so
                // `limit` of them remain when other runs share the experiment.
                let read = if recurring_run_id.is_some() {
                    limit * 5
                } else {
                    limit
                };
                let runs = client
                    .list_runs(experiment_id.as_deref(), read)
                    .await
                    .map_err(connect_error)?;
                Ok(runs
                    .into_iter()
                    .filter(|run| {
                        recurring_run_id.is_none() || run.recurring_run_id == *recurring_run_id
                    })
                    .take(limit)
                    .map(|run| PipelineRun {
                        state: match run.state {
                            Some(RuntimeState::Succeeded) => RunState::Succeeded,
                            Some(RuntimeState::Failed) => RunState::Failed,
                            Some(RuntimeState::Running | RuntimeState::Pending) => {
                                RunState::Running
                            }
                            _ => RunState::Other,
                        },
                        scheduled: run
                            .recurring_run_id
                            .as_deref()
                            .is_some_and(|id| !id.is_empty()),
                        started: kfp_time(run.created_at.as_ref()),
                        ended: kfp_time(run.finished_at.as_ref()),
                        id: run.run_id,
                    })
                    .collect())
            }
        }
    }

    /// The failed tasks of run `run`.
    ///
    /// # Errors
    /// The orchestrator's API fails.
    pub async fn failed_tasks(&self, run: &str) -> Result<Vec<RunTask>, ActionError> {
        self.tasks(run, RunState::Failed).await
    }

    /// The tasks of run `run` in `state` (failed ones, or running ones of a stuck run).
    ///
    /// # Errors
    /// The orchestrator's API fails.
    pub async fn tasks(&self, run: &str, state: RunState) -> Result<Vec<RunTask>, ActionError> {
        match self {
            Self::Airflow { client, dag } => Ok(client
                .task_instances(dag, run)
                .await
                .map_err(airflow_error)?
                .into_iter()
                .filter(|t| match state {
                    RunState::Failed => t.state.as_deref() == Some("failed"),
                    RunState::Running => t.state.as_deref() == Some("running"),
                    _ => false,
                })
                .map(|t| RunTask {
                    name: t.task_id,
                    attempt: t.try_number.max(1),
                    error: None,
                    pods: Vec::new(),
                })
                .collect()),
            Self::Kfp { client, .. } => {
                let run = client.get_run(run).await.map_err(connect_error)?;
                let wanted = match state {
                    RunState::Failed => RuntimeState::Failed,
                    RunState::Running => RuntimeState::Running,
                    _ => return Ok(Vec::new()),
                };
                let mut tasks: Vec<RunTask> = run
                    .run_details
                    .iter()
                    .flat_map(|d| &d.task_details)
                    .filter(|t| t.state == Some(wanted))
                    .map(kfp_task)
                    .collect();
                if tasks.is_empty()
                    && state == RunState::Failed
                    && let Some(error) = run.error.filter(|e| !e.message.is_empty())
                {
                    tasks.push(RunTask {
                        name: run.display_name,
                        attempt: 1,
                        error: Some(error.message),
                        pods: Vec::new(),
                    });
                }
                Ok(tasks)
            }
        }
    }

    /// The orchestrator's own log of a task (Airflow); KFP keeps none — its logs are the task
    /// pods'.
    ///
    /// # Errors
    /// The orchestrator's API fails.
    pub async fn task_log(&self, run: &str, task: &RunTask) -> Result<Option<String>, ActionError> {
        match self {
            Self::Airflow { client, dag } => client
                .task_log(dag, run, &task.name, task.attempt)
                .await
                .map(Some)
                .map_err(airflow_error),
            Self::Kfp { .. } => Ok(None),
        }
    }

    /// The run and its tasks as the orchestrator describes them.
    ///
    /// # Errors
    /// The orchestrator's API fails.
    pub async fn run_details(&self, run: &str) -> Result<Value, ActionError> {
        match self {
            Self::Airflow { client, dag } => {
                let tasks = client
                    .task_instances(dag, run)
                    .await
                    .map_err(airflow_error)?;
                Ok(json!({"dag": dag, "run": run, "tasks": tasks}))
            }
            Self::Kfp { client, .. } => {
                let detail = client.get_run(run).await.map_err(connect_error)?;
                let tasks: Vec<Value> = detail
                    .run_details
                    .iter()
                    .flat_map(|d| &d.task_details)
                    .map(|t| {
                        json!({"task": t.display_name, "state": t.state.map(|s| format!("{s:?}")),
                               "error": t.error.as_ref().map(|e| &e.message), "pods": t.pods(),
                               "start_time": t.start_time, "end_time": t.end_time})
                    })
                    .collect();
                Ok(json!({"run": run, "name": detail.display_name,
                          "experiment_id": detail.experiment_id,
                          "recurring_run_id": detail.recurring_run_id,
                          "error": detail.error.map(|e| e.message), "tasks": tasks}))
            }
        }
    }

    /// Reruns `run` with the same inputs: Airflow clears its failed tasks, KFP retries it.
    ///
    /// # Errors
    /// The orchestrator's API fails.
    pub async fn rerun(&self, run: &str) -> Result<String, ActionError> {
        match self {
            Self::Airflow { client, dag } => {
                client.clear_failed(dag, run).await.map_err(airflow_error)?;
                Ok(format!(
                    "cleared the failed tasks of run {run} of Airflow DAG {dag}"
                ))
            }
            Self::Kfp { client, .. } => {
                client.retry_run(run).await.map_err(connect_error)?;
                Ok(format!("retried KFP run {run} (:retry, same inputs)"))
            }
        }
    }
}

/// The schedule of `pipeline`, if it has one Warden can pause.
pub fn schedule(pipelines: &Pipelines, pipeline: &PipelineConfig) -> Option<Box<dyn Schedule>> {
    match &pipeline.source {
        PipelineSource::Airflow { dag } => Some(Box::new(AirflowDag {
            airflow: pipelines.airflow.clone()?,
            dag: dag.clone(),
        })),
        PipelineSource::Kfp {
            recurring_run_id: Some(id),
            ..
        } => Some(Box::new(KfpRecurringRun {
            kfp: pipelines.kfp.clone()?,
            id: id.clone(),
        })),
        PipelineSource::Kfp { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kfp_zero_times_mean_not_yet() {
        assert_eq!(kfp_time(Some(&"1970-01-01T00:00:00Z".to_string())), None);
        assert_eq!(
            kfp_time(Some(&"2026-11-25T02:07:31Z".to_string())).map(|t| t.to_rfc3339()),
            Some("2026-11-25T02:07:31+00:00".to_string())
        );
        assert_eq!(kfp_time(Some(&"garbage".to_string())), None);
    }
}
