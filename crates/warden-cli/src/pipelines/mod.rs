//! Runbook 1 ("Pipeline component failure") in the daemon, for the Airflow DAGs under
//! `pipelines:`: the failed-run detector, the evidence collectors (task logs captured at
//! detection, before they are gone; run details; isolation across recent runs; the failure
//! classification), the cause judges, the actions (pause and resume the schedule, retry a
//! transient failure) and the closure gates (rerun and next scheduled run succeeded) —
//! [`work`]. Kubeflow Pipelines is client-only so far.

pub mod work;

use std::sync::Arc;

use warden_config::{AirflowConfig, Config, PipelineConfig};
use warden_connect::AirflowClient;
use warden_connect::airflow::DagRun;
use warden_core::{Finding, RunbookId, Severity, Target, TargetKind};
use warden_detect::classify::Rules;
use warden_engine::executor::ActionError;
use warden_server::AppState;

/// The built-in runbook pipeline failures open.
pub const RUNBOOK: &str = "pipeline-failure";

/// What runbook 1's handlers share.
pub struct Pipelines {
    /// The configured pipelines.
    pub pipelines: Vec<PipelineConfig>,
    /// The Airflow connector.
    pub airflow: AirflowConfig,
    /// The built-in classification rules and every pipeline's own (by pipeline name).
    pub rules: std::collections::HashMap<String, Rules>,
    /// `connectors.object_store`, for the artifact-storage probe.
    pub object_store: Option<warden_config::model::ObjectStoreConfig>,
}

impl Pipelines {
    /// From the configuration; `None` without pipelines or an Airflow connector.
    ///
    /// # Errors
    /// A pipeline's rules file is unreadable or invalid (named).
    pub fn from_config(config: &Config) -> Result<Option<Arc<Self>>, String> {
        let Some(airflow) = &config.connectors.airflow else {
            return Ok(None);
        };
        if config.pipelines.is_empty() {
            return Ok(None);
        }
        let mut rules = std::collections::HashMap::new();
        for pipeline in &config.pipelines {
            let mut set = Rules::builtin().map_err(|e| e.to_string())?;
            for file in &pipeline.rules {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| format!("pipelines {}: {}: {e}", pipeline.name, file.display()))?;
                let more =
                    Rules::parse(&file.display().to_string(), &text).map_err(|e| e.to_string())?;
                set = set.extended(more);
            }
            rules.insert(pipeline.name.clone(), set);
        }
        Ok(Some(Arc::new(Self {
            pipelines: config.pipelines.clone(),
            airflow: airflow.clone(),
            rules,
            object_store: config.connectors.object_store.clone(),
        })))
    }

    /// The pipeline an incident is about.
    ///
    /// # Errors
    /// No `pipelines:` entry has the target's name.
    pub fn pipeline(&self, target: &Target) -> Result<&PipelineConfig, ActionError> {
        self.pipelines
            .iter()
            .find(|p| p.name == target.name)
            .ok_or_else(|| ActionError {
                message: format!(
                    "no pipelines entry named {:?} in warden.yaml (pipelines:)",
                    target.name
                ),
                retryable: false,
            })
    }

    /// An authenticated Airflow client.
    ///
    /// # Errors
    /// The password cannot be resolved, or Airflow refuses the login.
    pub async fn client(&self) -> Result<AirflowClient, ActionError> {
        crate::feature_store::actions::airflow_client(&self.airflow).await
    }
}

/// The incident target of a pipeline.
pub fn target(pipeline: &PipelineConfig) -> Target {
    Target::new(TargetKind::Pipeline, pipeline.name.clone())
}

/// The newest run that has finished (`success` or `failed`), among `runs` (newest first).
pub fn newest_finished(runs: &[DagRun]) -> Option<&DagRun> {
    runs.iter()
        .find(|r| r.state == "success" || r.state == "failed")
}

/// A run still going past `factor` × the p95 duration of the recent successful runs (at least
/// three of them, so one fast run does not set the bound): `(run, running for, bound)`.
pub fn stuck_run(
    runs: &[DagRun],
    now: chrono::DateTime<chrono::Utc>,
    factor: f64,
) -> Option<(&DagRun, std::time::Duration, std::time::Duration)> {
    let mut durations: Vec<std::time::Duration> = runs
        .iter()
        .filter(|r| r.state == "success")
        .filter_map(|r| (r.end_date? - r.start_date?).to_std().ok())
        .collect();
    if durations.len() < 3 {
        return None;
    }
    durations.sort_unstable();
    let rank = ((durations.len() as f64) * 0.95).ceil() as usize;
    let p95 = durations[rank.clamp(1, durations.len()) - 1];
    let bound = p95.mul_f64(factor);
    runs.iter()
        .filter(|r| r.state == "running")
        .filter_map(|r| Some((r, (now - r.start_date?).to_std().ok()?)))
        .find(|(_, running)| *running > bound)
        .map(|(run, running)| (run, running, bound))
}

/// What one look at a pipeline's runs found.
struct Look {
    /// The newest finished run, if it failed, with its failed tasks.
    failed: Option<(DagRun, Vec<String>)>,
    /// A run past the stuck bound: `(run, running for, bound)`.
    stuck: Option<(DagRun, std::time::Duration, std::time::Duration)>,
}

async fn look(
    pipelines: &Pipelines,
    pipeline: &PipelineConfig,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Look, String> {
    let client = pipelines.client().await.map_err(|e| e.message)?;
    let runs = client
        .recent_runs(&pipeline.airflow_dag, 20)
        .await
        .map_err(|e| e.to_string())?;
    let stuck = stuck_run(&runs, now, pipeline.stuck_factor)
        .map(|(run, running, bound)| (run.clone(), running, bound));
    let failed = match newest_finished(&runs).filter(|r| r.state == "failed") {
        Some(run) => {
            let tasks = client
                .task_instances(&pipeline.airflow_dag, &run.dag_run_id)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|t| t.state.as_deref() == Some("failed"))
                .map(|t| t.task_id)
                .collect();
            Some((run.clone(), tasks))
        }
        None => None,
    };
    Ok(Look { failed, stuck })
}

fn finding(
    pipeline: &PipelineConfig,
    detector: &str,
    summary: String,
    now: warden_core::Timestamp,
    measurement: (&str, f64),
    cause_key: Option<&str>,
) -> Finding {
    Finding {
        runbook: RunbookId::new(RUNBOOK),
        target: target(pipeline),
        detector: detector.into(),
        severity: Severity::High,
        summary,
        detected_at: now,
        measurements: [(measurement.0.to_string(), measurement.1)]
            .into_iter()
            .collect(),
        cause_key: cause_key.map(str::to_string),
    }
}

/// Looks at `pipeline`'s runs every `every` until the daemon stops: a newest finished run that
/// failed is a `pipeline_failed_runs` finding (one incident per pipeline until it resolves), a
/// run past the stuck bound a `pipeline_stuck_runs` one (an incident of its own).
pub async fn run_detector(
    pipelines: Arc<Pipelines>,
    pipeline: PipelineConfig,
    every: std::time::Duration,
    state: AppState,
    verbose: bool,
) {
    let name = format!("pipeline_runs:{}", pipeline.name);
    loop {
        let now = state.manager.clock().now();
        match look(&pipelines, &pipeline, now).await {
            Ok(found) => {
                state.metrics.detector_run(&name, true);
                if let Some((run, tasks)) = found.failed {
                    let summary = format!(
                        "{}: Airflow DAG {} run {} failed (tasks: {})",
                        pipeline.name,
                        pipeline.airflow_dag,
                        run.dag_run_id,
                        tasks.join(", ")
                    );
                    let f = finding(
                        &pipeline,
                        "pipeline_failed_runs",
                        summary,
                        now,
                        ("failed_tasks", tasks.len() as f64),
                        None,
                    );
                    crate::detectors::report(&state, &name, &f, verbose).await;
                }
                if let Some((run, running, bound)) = found.stuck {
                    let summary = format!(
                        "{}: Airflow DAG {} run {} running for {} (bound {}: {}× the recent p95)",
                        pipeline.name,
                        pipeline.airflow_dag,
                        run.dag_run_id,
                        warden_core::format_duration(std::time::Duration::from_secs(
                            running.as_secs()
                        )),
                        warden_core::format_duration(std::time::Duration::from_secs(
                            bound.as_secs()
                        )),
                        pipeline.stuck_factor
                    );
                    let f = finding(
                        &pipeline,
                        "pipeline_stuck_runs",
                        summary,
                        now,
                        ("running_seconds", running.as_secs_f64()),
                        Some("stuck"),
                    );
                    crate::detectors::report(&state, &name, &f, verbose).await;
                }
            }
            Err(err) => {
                state.metrics.detector_run(&name, false);
                if verbose {
                    eprintln!("warden: {name}: {err}");
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn run(id: &str, state: &str, start_minute: i64, minutes: Option<i64>) -> DagRun {
        let start =
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + Duration::minutes(start_minute);
        DagRun {
            dag_run_id: id.into(),
            state: state.into(),
            start_date: Some(start),
            end_date: minutes.map(|m| start + Duration::minutes(m)),
            run_type: Some("scheduled".into()),
        }
    }

    #[test]
    fn a_run_past_three_times_the_recent_p95_is_stuck() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + Duration::minutes(1000);
        let mut runs = vec![run("now", "running", 1000 - 31, None)];
        for (i, minutes) in [8, 9, 10, 9, 8].iter().enumerate() {
            runs.push(run(
                &format!("ok-{i}"),
                "success",
                i as i64 * 60,
                Some(*minutes),
            ));
        }
        let (stuck, running, bound) = stuck_run(&runs, now, 3.0).expect("31 min > 3 × 10 min");
        assert_eq!(stuck.dag_run_id, "now");
        assert_eq!(running.as_secs(), 31 * 60);
        assert_eq!(bound.as_secs(), 30 * 60);
        runs[0] = run("now", "running", 1000 - 29, None);
        assert!(
            stuck_run(&runs, now, 3.0).is_none(),
            "29 min is within the bound"
        );
        // Two successful runs are too few to bound anything.
        runs.truncate(3);
        runs[0] = run("now", "running", 0, None);
        assert!(stuck_run(&runs, now, 3.0).is_none());
    }
}
