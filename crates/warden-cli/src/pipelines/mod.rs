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

/// Looks at `pipeline`'s runs every `every` until the daemon stops; a newest finished run that
/// failed is a `pipeline_failed_runs` finding (one incident per pipeline until it resolves).
pub async fn run_detector(
    pipelines: Arc<Pipelines>,
    pipeline: PipelineConfig,
    every: std::time::Duration,
    state: AppState,
    verbose: bool,
) {
    let name = format!("pipeline_failed_runs:{}", pipeline.name);
    loop {
        let looked = async {
            let client = pipelines.client().await.map_err(|e| e.message)?;
            let runs = client
                .recent_runs(&pipeline.airflow_dag, 10)
                .await
                .map_err(|e| e.to_string())?;
            let Some(run) = newest_finished(&runs)
                .filter(|r| r.state == "failed")
                .cloned()
            else {
                return Ok::<_, String>(None);
            };
            let failed_tasks: Vec<String> = client
                .task_instances(&pipeline.airflow_dag, &run.dag_run_id)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|t| t.state.as_deref() == Some("failed"))
                .map(|t| t.task_id)
                .collect();
            Ok(Some((run, failed_tasks)))
        };
        match looked.await {
            Ok(found) => {
                state.metrics.detector_run(&name, true);
                if let Some((run, failed_tasks)) = found {
                    let finding = Finding {
                        runbook: RunbookId::new(RUNBOOK),
                        target: target(&pipeline),
                        detector: "pipeline_failed_runs".into(),
                        severity: Severity::High,
                        summary: format!(
                            "{}: Airflow DAG {} run {} failed (tasks: {})",
                            pipeline.name,
                            pipeline.airflow_dag,
                            run.dag_run_id,
                            failed_tasks.join(", ")
                        ),
                        detected_at: state.manager.clock().now(),
                        measurements: [("failed_tasks".to_string(), failed_tasks.len() as f64)]
                            .into_iter()
                            .collect(),
                        cause_key: None,
                    };
                    crate::detectors::report(&state, &name, &finding, verbose).await;
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
