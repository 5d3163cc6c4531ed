//! The retraining Warden's own drift monitor starts (R3.6's human review queue): when a run
//! begins a drift episode, the monitor's retraining trigger fires — at once, or, with
//! `retraining.review` (or the `require_retraining_review` fix), only after a person says yes
//! to the review the episode opened. Reviews are listed and decided through the engine's
//! review queues (`GET /api/v1/reviews`, `warden reviews`). A trigger that an incident paused
//! or disabled is never started behind its back: the start is refused and says why.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use warden_config::{DriftMonitorConfig, RetrainingTrigger};
use warden_engine::executor::{ActionError, BoxFuture};
use warden_engine::review::{Review, ReviewDecision, ReviewError, ReviewQueue};

use super::Monitors;
use super::state::{MonitorState, RetrainingStart};
use crate::common::actions::refused;
use crate::common::schedule::{AirflowDag, Schedule, airflow_error};

/// Why retraining was started, for the trigger's run id and its payload.
pub struct StartRequest<'a> {
    /// A review id, or the episode's start time when no review was asked for.
    pub label: &'a str,
    /// Who said yes (`warden` when no review was asked for).
    pub approved_by: &'a str,
    /// The columns that drifted.
    pub columns: &'a [String],
}

/// Whether the monitor's retraining waits for a review: configured, or applied as a fix.
pub fn review_required(monitor: &DriftMonitorConfig, state: &MonitorState) -> bool {
    monitor.review_retraining || state.fixes.review_retraining
}

/// Starts the monitor's retraining once for `request`; says what it started. Idempotent per
/// label: an Airflow run id or webhook payload names it, and a run already there is reported,
/// not started twice.
///
/// # Errors
/// No trigger, a paused or disabled one, a KFP recurring run (starting one run of it is not
/// supported: its pipeline version and parameters would have to be copied), or the system
/// failing.
pub async fn start(
    monitors: &Monitors,
    monitor: &DriftMonitorConfig,
    request: &StartRequest<'_>,
) -> Result<String, ActionError> {
    match &monitor.retraining {
        None => Err(refused(format!(
            "drift monitor {} has no retraining trigger (drift_monitors[].retraining)",
            monitor.name
        ))),
        Some(RetrainingTrigger::AirflowDag { dag }) => {
            let airflow = monitors
                .config
                .connectors
                .airflow
                .clone()
                .ok_or_else(|| refused("needs connectors.airflow".into()))?;
            let schedule = AirflowDag {
                airflow,
                dag: dag.clone(),
            };
            if schedule.paused().await? {
                return Err(refused(format!(
                    "Airflow DAG {dag} is paused (an incident's containment, or by hand): retraining is not started behind it; unpause it, then approve again"
                )));
            }
            let run_id = format!("warden-{}-{}", run_id_part(&monitor.name), request.label);
            let conf = json!({"monitor": monitor.name, "reason": request.label,
                "approved_by": request.approved_by, "columns": request.columns});
            let client = schedule.client().await?;
            match client.trigger(dag, &run_id, conf).await {
                Ok(run) => Ok(format!(
                    "Airflow DAG {dag}: run {} started ({})",
                    run.dag_run_id, run.state
                )),
                Err(warden_connect::ConnectError::Status { status: 409, .. }) => Ok(format!(
                    "Airflow DAG {dag}: run {run_id} was already started"
                )),
                Err(err) => Err(airflow_error(err)),
            }
        }
        Some(RetrainingTrigger::KfpRecurringRun { id }) => Err(refused(format!(
            "KFP recurring run {id}: Warden pauses and resumes it but does not start one run of it; start the run in KFP"
        ))),
        Some(RetrainingTrigger::Webhook { url }) => {
            if let Some(incident) = &monitors.state(&monitor.name)?.retraining_disabled_by {
                return Err(refused(format!(
                    "retraining webhook {url} was told to stop by {incident}: retraining is not started until it is enabled again"
                )));
            }
            tell_webhook(
                url,
                &json!({"monitor": monitor.name, "retrain": true, "reason": request.label,
                    "approved_by": request.approved_by, "columns": request.columns}),
            )
            .await?;
            Ok(format!(
                "retraining webhook {url} told to retrain ({})",
                request.label
            ))
        }
    }
}

/// Posts `body` to a monitor's retraining webhook (a stop, a start, or a retrain).
///
/// # Errors
/// No answer (retryable), or an error status (retryable when the server's).
pub async fn tell_webhook(url: &url::Url, body: &serde_json::Value) -> Result<(), ActionError> {
    let response = reqwest::Client::new()
        .post(url.clone())
        .timeout(Duration::from_secs(10))
        .json(body)
        .send()
        .await
        .map_err(|e| ActionError {
            message: format!("retraining webhook {url}: {e}"),
            retryable: true,
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(ActionError {
            message: format!("retraining webhook {url} answered {status}"),
            retryable: status.is_server_error(),
        });
    }
    Ok(())
}

/// Airflow run ids allow letters, digits and `_.~:+-`.
fn run_id_part(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.~:+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// After a run of Warden's own monitor: opens or counts a review, or starts retraining when
/// no review is asked for. Returns a line for the daemon's log when something happened.
///
/// # Errors
/// The state file failing; a failed start is logged, not an error (the detector's beat goes
/// on, and the next episode tries again).
pub async fn after_run(
    monitors: &Monitors,
    monitor: &DriftMonitorConfig,
    now: warden_core::Timestamp,
) -> Result<Option<String>, ActionError> {
    if monitor.retraining.is_none() {
        return Ok(None);
    }
    let (next, columns) = {
        let _guard = monitors.lock.lock().await;
        let mut state = monitors.state(&monitor.name)?;
        let review = review_required(monitor, &state);
        let next = state.retraining_after_run(&monitor.name, review, now);
        let columns = state
            .runs
            .last()
            .map(|r| r.columns.clone())
            .unwrap_or_default();
        if matches!(next, RetrainingStart::Review(_)) {
            monitors.save(&monitor.name, &state)?;
        }
        (next, columns)
    };
    Ok(match next {
        RetrainingStart::Nothing => None,
        RetrainingStart::Review(id) => Some(format!(
            "drift monitor {}: review {id} waits for a yes before retraining starts (warden reviews approve {id})",
            monitor.name
        )),
        RetrainingStart::Start(label) => {
            let request = StartRequest {
                label: &label,
                approved_by: "warden",
                columns: &columns,
            };
            Some(match start(monitors, monitor, &request).await {
                Ok(started) => format!("drift monitor {}: {started}", monitor.name),
                Err(err) => format!(
                    "drift monitor {}: retraining not started: {}",
                    monitor.name, err.message
                ),
            })
        }
    })
}

/// Runbook 3's review queue over every monitor's state.
pub struct DriftReviews {
    monitors: Arc<Monitors>,
}

impl DriftReviews {
    /// Over `monitors`.
    pub fn new(monitors: Arc<Monitors>) -> Self {
        Self { monitors }
    }

    async fn decide_in(
        &self,
        monitor: &DriftMonitorConfig,
        id: &str,
        decision: ReviewDecision,
        by: &str,
        reason: &str,
    ) -> Result<Review, ReviewError> {
        let store = |e: ActionError| ReviewError::Store(e.message);
        let now = chrono::Utc::now();
        let (review, effect) = {
            let _guard = self.monitors.lock.lock().await;
            let mut state = self.monitors.state(&monitor.name).map_err(store)?;
            let decided = state.decide_review(id, decision, by, reason, now)?;
            self.monitors.save(&monitor.name, &state).map_err(store)?;
            decided
        };
        if !effect {
            return Ok(review);
        }
        let columns: Vec<String> =
            serde_json::from_value(review.detail["columns"].clone()).unwrap_or_default();
        let approver = review.decided_by.clone().unwrap_or_else(|| by.to_string());
        let request = StartRequest {
            label: id,
            approved_by: &approver,
            columns: &columns,
        };
        let result = start(&self.monitors, monitor, &request)
            .await
            .map_err(|e| e.message);
        let _guard = self.monitors.lock.lock().await;
        let mut state = self.monitors.state(&monitor.name).map_err(store)?;
        state.review_effect(id, result, chrono::Utc::now());
        self.monitors.save(&monitor.name, &state).map_err(store)?;
        state
            .reviews
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| ReviewError::NotFound(id.to_string()))
    }
}

impl ReviewQueue for DriftReviews {
    fn list(&self) -> BoxFuture<'_, Result<Vec<Review>, ReviewError>> {
        Box::pin(async move {
            let mut all = Vec::new();
            for monitor in &self.monitors.monitors {
                let state = self
                    .monitors
                    .states
                    .load(&monitor.name)
                    .map_err(|e| ReviewError::Store(e.to_string()))?;
                all.extend(state.reviews);
            }
            Ok(all)
        })
    }

    fn decide<'a>(
        &'a self,
        id: &'a str,
        decision: ReviewDecision,
        by: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<Review, ReviewError>> {
        Box::pin(async move {
            for monitor in &self.monitors.monitors {
                let state = self
                    .monitors
                    .states
                    .load(&monitor.name)
                    .map_err(|e| ReviewError::Store(e.to_string()))?;
                if state.reviews.iter().any(|r| r.id == id) {
                    return self.decide_in(monitor, id, decision, by, reason).await;
                }
            }
            Err(ReviewError::NotFound(id.to_string()))
        })
    }
}
