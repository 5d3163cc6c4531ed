//! Runbook 1's actions (R1.2, R1.7): `pause_schedule` / `resume_schedule` (the Airflow
//! DAG's pause or the KFP recurring run's `:disable` / `:enable`, left as found), and
//! `retry_pipeline_run` (reached only when the transient cause is confirmed: reruns the failed
//! run with the same inputs and looks at the outcome on each later attempt, so the step's
//! retry policy is the bounded exponential backoff with jitter between reruns).

use std::sync::Arc;

use warden_engine::executor::{
    ActionError, ActionHandler, ActionRegistry, ActionRequest, BoxFuture,
};

use super::source::{RunState, schedule};
use super::{Pipelines, newest_finished};
use crate::common::schedule::{PauseResume, Schedule};

/// The catalogue actions this module implements.
pub const NAMES: [&str; 3] = ["pause_schedule", "resume_schedule", "retry_pipeline_run"];

/// Pause or resume the incident's schedule through runbook 4's left-as-found handler.
struct PauseSchedule {
    pipelines: Arc<Pipelines>,
    pause: bool,
}

impl PauseSchedule {
    fn handler(
        &self,
        request: &ActionRequest,
    ) -> Result<Option<PauseResume<Box<dyn Schedule>>>, ActionError> {
        let pipeline = self.pipelines.pipeline(&request.incident.target)?;
        Ok(
            schedule(&self.pipelines, pipeline).map(|schedule| PauseResume {
                schedule,
                pause: self.pause,
            }),
        )
    }

    fn nothing(&self, request: &ActionRequest) -> Result<String, ActionError> {
        let pipeline = self.pipelines.pipeline(&request.incident.target)?;
        Ok(format!(
            "{}: no schedule to {} (no recurring_run_id configured)",
            pipeline.source.describe(),
            if self.pause { "pause" } else { "resume" }
        ))
    }
}

impl ActionHandler for PauseSchedule {
    fn plan<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            match self.handler(request)? {
                Some(handler) => handler.plan(request).await,
                None => self.nothing(request),
            }
        })
    }

    fn execute<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            match self.handler(request)? {
                Some(handler) => handler.execute(request).await,
                None => self.nothing(request),
            }
        })
    }
}

/// Reruns the failed run with the same inputs, then — on each later attempt the step's retry
/// policy allows — looks at the outcome: still running or failed again (rerun once more) is a
/// retryable error, so the executor backs off exponentially with jitter, within its bound.
struct RetryRun {
    pipelines: Arc<Pipelines>,
}

impl RetryRun {
    async fn work(&self, request: &ActionRequest, execute: bool) -> Result<String, ActionError> {
        let pipeline = self.pipelines.pipeline(&request.incident.target)?;
        let source = self.pipelines.source(pipeline).await?;
        let described = source.describe();
        let runs = source.recent_runs(10).await?;
        let opened = request.incident.opened_at;
        if super::is_stuck_incident(&request.incident)
            && let Some(stuck) = super::incident_run(&runs, true)
        {
            // Warden does not stop runs: a second copy beside a stuck one helps nobody.
            return Err(ActionError {
                message: format!(
                    "{described}: run {} is stuck, not failed; stop it first (Airflow: mark it failed; KFP: terminate it), then the failed run is rerun",
                    stuck.id
                ),
                retryable: false,
            });
        }
        if let Some(running) = runs.iter().find(|r| r.state == RunState::Running) {
            return Err(ActionError {
                message: format!(
                    "{described}: run {} is still running; its outcome is read at the next attempt",
                    running.id
                ),
                retryable: true,
            });
        }
        let Some(newest) = newest_finished(&runs).cloned() else {
            return Ok(format!("{described}: no finished run to retry"));
        };
        if newest.state == RunState::Succeeded {
            return Ok(if newest.ended.is_some_and(|end| end > opened) {
                format!("{described}: run {} succeeded after the retry", newest.id)
            } else {
                format!("{described}: no failed run to retry")
            });
        }
        if !execute {
            return Ok(format!(
                "would rerun run {} of {described} with the same inputs",
                newest.id
            ));
        }
        let did = source.rerun(&newest.id).await?;
        if let Some(schedule) = schedule(&self.pipelines, pipeline)
            && matches!(source, super::source::Source::Airflow { .. })
            && schedule.paused().await?
        {
            // Airflow runs no task of a paused DAG, cleared or not: the rerun starts when the
            // schedule resumes after the fixes, and the rerun gate judges it then.
            return Ok(format!(
                "{did}; {described} is paused, so the rerun starts when the schedule resumes"
            ));
        }
        Err(ActionError {
            message: format!("{did}; its outcome is read at the next attempt"),
            retryable: true,
        })
    }
}

crate::common::actions::work_handler!(RetryRun);

/// Runbook 1's handlers by catalogue name.
pub fn handlers(pipelines: &Arc<Pipelines>, registry: &mut ActionRegistry) {
    let entries: [(&str, Arc<dyn ActionHandler>); 3] = [
        (
            "pause_schedule",
            Arc::new(PauseSchedule {
                pipelines: pipelines.clone(),
                pause: true,
            }),
        ),
        (
            "resume_schedule",
            Arc::new(PauseSchedule {
                pipelines: pipelines.clone(),
                pause: false,
            }),
        ),
        (
            "retry_pipeline_run",
            Arc::new(RetryRun {
                pipelines: pipelines.clone(),
            }),
        ),
    ];
    for (name, handler) in entries {
        registry.insert(name.to_string(), handler);
    }
}
