//! Runbook 1's detector: each pipeline's recent runs, looked at every `check_every`. A newest
//! finished run that failed is a `pipeline_failed_runs` finding (one incident per pipeline
//! until it resolves); a run past the stuck bound a `pipeline_stuck_runs` one (an incident of
//! its own).

use std::sync::Arc;
use std::time::Duration;

use warden_config::PipelineConfig;
use warden_core::{Finding, RunbookId, Severity, Timestamp};
use warden_engine::detect::{DetectError, Detector};
use warden_engine::executor::BoxFuture;

use super::source::{PipelineRun, RunState};
use super::{Pipelines, RUNBOOK, newest_finished, stuck_run, target};

/// What one look at a pipeline's runs found.
struct Look {
    /// What the runs come from, for messages.
    source: String,
    /// The newest finished run, if it failed, with its failed tasks.
    failed: Option<(PipelineRun, Vec<String>)>,
    /// A run past the stuck bound: `(run, running for, bound)`.
    stuck: Option<(PipelineRun, std::time::Duration, std::time::Duration)>,
}

async fn look(
    pipelines: &Pipelines,
    pipeline: &PipelineConfig,
    now: Timestamp,
) -> Result<Look, String> {
    let source = pipelines.source(pipeline).await.map_err(|e| e.message)?;
    let runs = source.recent_runs(20).await.map_err(|e| e.message)?;
    let stuck = stuck_run(&runs, now, pipeline.stuck_factor)
        .map(|(run, running, bound)| (run.clone(), running, bound));
    let failed = match newest_finished(&runs).filter(|r| r.state == RunState::Failed) {
        Some(run) => {
            let tasks = source
                .failed_tasks(&run.id)
                .await
                .map_err(|e| e.message)?
                .into_iter()
                .map(|t| t.name)
                .collect();
            Some((run.clone(), tasks))
        }
        None => None,
    };
    Ok(Look {
        source: source.describe(),
        failed,
        stuck,
    })
}

fn finding(
    pipeline: &PipelineConfig,
    detector: &str,
    summary: String,
    now: Timestamp,
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
        alert: None,
    }
}

/// One pipeline's runs, watched.
pub struct PipelineDetector {
    name: String,
    pipelines: Arc<Pipelines>,
    pipeline: PipelineConfig,
    every: Duration,
}

/// A detector for every pipeline with `check_every`.
pub fn detectors(pipelines: &Arc<Pipelines>) -> Vec<Box<dyn Detector>> {
    pipelines
        .pipelines
        .iter()
        .filter_map(|pipeline| {
            let detector: Box<dyn Detector> = Box::new(PipelineDetector {
                name: format!("pipeline_runs:{}", pipeline.name),
                pipelines: pipelines.clone(),
                pipeline: pipeline.clone(),
                every: pipeline.check_every?,
            });
            Some(detector)
        })
        .collect()
}

impl Detector for PipelineDetector {
    fn name(&self) -> &str {
        &self.name
    }

    fn every(&self) -> Duration {
        self.every
    }

    fn check<'a>(&'a mut self, now: Timestamp) -> BoxFuture<'a, Result<Vec<Finding>, DetectError>> {
        Box::pin(async move {
            let pipeline = &self.pipeline;
            let found = look(&self.pipelines, pipeline, now)
                .await
                .map_err(DetectError::Unavailable)?;
            let mut findings = Vec::new();
            if let Some((run, tasks)) = found.failed {
                let summary = format!(
                    "{}: {} run {} failed (tasks: {})",
                    pipeline.name,
                    found.source,
                    run.id,
                    tasks.join(", ")
                );
                findings.push(finding(
                    pipeline,
                    "pipeline_failed_runs",
                    summary,
                    now,
                    ("failed_tasks", tasks.len() as f64),
                    None,
                ));
            }
            if let Some((run, running, bound)) = found.stuck {
                let summary = format!(
                    "{}: {} run {} running for {} (bound {}: {}× the recent p95)",
                    pipeline.name,
                    found.source,
                    run.id,
                    warden_core::format_duration(Duration::from_secs(running.as_secs())),
                    warden_core::format_duration(Duration::from_secs(bound.as_secs())),
                    pipeline.stuck_factor
                );
                findings.push(finding(
                    pipeline,
                    "pipeline_stuck_runs",
                    summary,
                    now,
                    ("running_seconds", running.as_secs_f64()),
                    Some("stuck"),
                ));
            }
            Ok(findings)
        })
    }
}
