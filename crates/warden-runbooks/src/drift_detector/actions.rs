//! Runbook 3's containment (R3.3) and its undo at closure:
//! - `set_drift_threshold`: a temporary raise of the monitor's minimum effects (×`factor`, or
//!   one column's threshold), recorded with who approved it, why and when it expires, saved
//!   in the monitor's state so it survives a restart; Warden's own runs apply it until it
//!   expires (the detector ends it then) or `revert_drift_threshold` ends it at closure;
//! - `disable_retraining_trigger` / `enable_retraining_trigger`: the Airflow DAG paused, the
//!   KFP recurring run disabled, or the webhook told — and put back exactly as found.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use warden_config::{DriftMonitorConfig, RetrainingTrigger};
use warden_engine::executor::{
    ActionError, ActionHandler, ActionRegistry, ActionRequest, BoxFuture,
};

use super::Monitors;
use super::state::{ThresholdOverride, after};
use crate::common::actions::{refused, text_param};
use crate::common::schedule::{AirflowDag, KfpRecurringRun, PauseResume, Schedule};

/// The catalogue actions this module implements (the fixes are in [`super::fixes`]).
pub const NAMES: [&str; 4] = [
    "set_drift_threshold",
    "revert_drift_threshold",
    "disable_retraining_trigger",
    "enable_retraining_trigger",
];

/// Every action handler of this module.
pub fn handlers(monitors: &Arc<Monitors>) -> ActionRegistry {
    let entries: [(&str, Arc<dyn ActionHandler>); 4] = [
        (
            "set_drift_threshold",
            Arc::new(SetThreshold {
                monitors: monitors.clone(),
            }),
        ),
        (
            "revert_drift_threshold",
            Arc::new(RevertThreshold {
                monitors: monitors.clone(),
            }),
        ),
        (
            "disable_retraining_trigger",
            Arc::new(RetrainingSwitch {
                monitors: monitors.clone(),
                disable: true,
            }),
        ),
        (
            "enable_retraining_trigger",
            Arc::new(RetrainingSwitch {
                monitors: monitors.clone(),
                disable: false,
            }),
        ),
    ];
    entries
        .into_iter()
        .map(|(name, handler)| (name.to_string(), handler))
        .collect()
}

fn number_param(request: &ActionRequest, name: &str) -> Option<f64> {
    request.params.get(name).and_then(serde_json::Value::as_f64)
}

/// Who approved the step, and the reason they gave: the approval the executor read with the
/// step; Warden itself (with the incident's title as the reason) when none was needed.
pub fn approver(request: &ActionRequest) -> (String, String) {
    match request
        .approval
        .as_ref()
        .filter(|a| a.decision == warden_core::Decision::Approved)
    {
        Some(approval) if !approval.reason.trim().is_empty() => {
            (approval.actor.name().to_string(), approval.reason.clone())
        }
        Some(approval) => (
            approval.actor.name().to_string(),
            request.incident.title.clone(),
        ),
        None => ("warden".to_string(), request.incident.title.clone()),
    }
}

struct SetThreshold {
    monitors: Arc<Monitors>,
}

impl SetThreshold {
    async fn work(&self, request: &ActionRequest, execute: bool) -> Result<String, ActionError> {
        let monitor = self.monitors.monitor(&request.incident.target)?;
        let expires_in = text_param(request, "expires_in")
            .map(warden_core::parse_duration)
            .transpose()
            .map_err(|e| refused(format!("expires_in: {e}")))?
            .unwrap_or(Duration::from_secs(7 * 86_400));
        let column = match (
            text_param(request, "column"),
            number_param(request, "threshold"),
        ) {
            (Some(column), Some(threshold)) if threshold > 0.0 => {
                Some((column.to_string(), threshold))
            }
            (Some(_), _) => {
                return Err(refused(
                    "set_drift_threshold: a column needs a positive threshold".into(),
                ));
            }
            _ => None,
        };
        let factor = match (number_param(request, "factor"), &column) {
            (Some(f), _) if f >= 1.0 && f.is_finite() => f,
            (Some(f), _) => {
                return Err(refused(format!(
                    "set_drift_threshold: factor {f} would make the monitor more sensitive; a temporary change to reduce noise is at least 1"
                )));
            }
            (None, Some(_)) => 1.0,
            (None, None) => 2.0,
        };
        let what = match &column {
            Some((name, threshold)) => format!("set {name}'s minimum effect to {threshold}"),
            None => format!("multiply every minimum effect by {factor}"),
        };
        let _guard = self.monitors.lock.lock().await;
        let mut state = self.monitors.state(&monitor.name)?;
        if let Some(existing) = &state.threshold_override
            && existing.incident == request.incident.id.0
        {
            return Ok(format!(
                "drift monitor {}: the override of {} is already in force until {} (set by {})",
                monitor.name, existing.incident, existing.expires_at, existing.set_by
            ));
        }
        let now = request.now;
        let expires_at = after(now, expires_in);
        let until = expires_at.format("%Y-%m-%d %H:%M UTC");
        if !execute {
            return Ok(format!(
                "would {what} of drift monitor {} until {until} ({}), recorded for {}",
                monitor.name,
                warden_core::format_duration(expires_in),
                request.incident.id
            ));
        }
        let (set_by, reason) = approver(request);
        if let Some(replaced) = state.threshold_override.take() {
            state.ended_overrides.push((
                format!("replaced by {} at {now}", request.incident.id),
                replaced,
            ));
        }
        state.threshold_override = Some(ThresholdOverride {
            factor,
            column,
            set_by: set_by.clone(),
            reason: reason.clone(),
            incident: request.incident.id.0.clone(),
            set_at: now,
            expires_at,
        });
        self.monitors.save(&monitor.name, &state)?;
        Ok(format!(
            "drift monitor {}: {what} until {until}, by {set_by} ({reason}); it reverts by itself then, or at closure",
            monitor.name
        ))
    }
}
crate::common::actions::work_handler!(SetThreshold);

struct RevertThreshold {
    monitors: Arc<Monitors>,
}

impl RevertThreshold {
    async fn work(&self, request: &ActionRequest, execute: bool) -> Result<String, ActionError> {
        let monitor = self.monitors.monitor(&request.incident.target)?;
        let _guard = self.monitors.lock.lock().await;
        let mut state = self.monitors.state(&monitor.name)?;
        let ours = state
            .threshold_override
            .as_ref()
            .is_some_and(|o| o.incident == request.incident.id.0);
        if !ours {
            let ended = state
                .ended_overrides
                .iter()
                .rev()
                .find(|(_, o)| o.incident == request.incident.id.0)
                .map(|(how, _)| how.clone());
            return Ok(match ended {
                Some(how) => format!(
                    "drift monitor {}: this incident's threshold override already ended ({how})",
                    monitor.name
                ),
                None => format!(
                    "drift monitor {}: no threshold override of this incident to revert",
                    monitor.name
                ),
            });
        }
        if !execute {
            return Ok(format!(
                "would revert drift monitor {}'s temporary threshold override",
                monitor.name
            ));
        }
        let now = request.now;
        if let Some(ended) = state.threshold_override.take() {
            state.ended_overrides.push((
                format!("reverted at closure of {} at {now}", request.incident.id),
                ended,
            ));
        }
        self.monitors.save(&monitor.name, &state)?;
        Ok(format!(
            "drift monitor {}: temporary threshold override reverted; thresholds are the monitor's own again",
            monitor.name
        ))
    }
}
crate::common::actions::work_handler!(RevertThreshold);

/// A webhook told to stop or start retraining; what it was told is kept in the monitor's
/// state, since a webhook cannot be read back.
struct RetrainingWebhook {
    monitors: Arc<Monitors>,
    monitor: String,
    url: url::Url,
    incident: String,
}

impl Schedule for RetrainingWebhook {
    fn describe(&self) -> String {
        format!("retraining webhook {}", self.url)
    }

    fn paused(&self) -> BoxFuture<'_, Result<bool, ActionError>> {
        Box::pin(async move {
            Ok(self
                .monitors
                .state(&self.monitor)?
                .retraining_disabled_by
                .is_some())
        })
    }

    fn set_paused(&self, paused: bool) -> BoxFuture<'_, Result<bool, ActionError>> {
        Box::pin(async move {
            super::retraining::tell_webhook(
                &self.url,
                &json!({"monitor": self.monitor, "enabled": !paused, "incident": self.incident}),
            )
            .await?;
            let _guard = self.monitors.lock.lock().await;
            let mut state = self.monitors.state(&self.monitor)?;
            state.retraining_disabled_by = paused.then(|| self.incident.clone());
            self.monitors.save(&self.monitor, &state)?;
            Ok(paused)
        })
    }
}

struct RetrainingSwitch {
    monitors: Arc<Monitors>,
    disable: bool,
}

impl RetrainingSwitch {
    fn schedule(
        &self,
        monitor: &DriftMonitorConfig,
        request: &ActionRequest,
    ) -> Result<Box<dyn Schedule>, ActionError> {
        let connectors = &self.monitors.config.connectors;
        match &monitor.retraining {
            None => Err(refused(format!(
                "drift monitor {} has no retraining trigger (drift_monitors[].retraining)",
                monitor.name
            ))),
            Some(RetrainingTrigger::AirflowDag { dag }) => Ok(Box::new(AirflowDag {
                airflow: connectors
                    .airflow
                    .clone()
                    .ok_or_else(|| refused("needs connectors.airflow".into()))?,
                dag: dag.clone(),
            })),
            Some(RetrainingTrigger::KfpRecurringRun { id }) => Ok(Box::new(KfpRecurringRun {
                kfp: connectors
                    .kfp
                    .clone()
                    .ok_or_else(|| refused("needs connectors.kfp".into()))?,
                id: id.clone(),
            })),
            Some(RetrainingTrigger::Webhook { url }) => Ok(Box::new(RetrainingWebhook {
                monitors: self.monitors.clone(),
                monitor: monitor.name.clone(),
                url: url.clone(),
                incident: request.incident.id.0.clone(),
            })),
        }
    }

    fn handler(
        &self,
        request: &ActionRequest,
    ) -> Result<PauseResume<Box<dyn Schedule>>, ActionError> {
        let monitor = self.monitors.monitor(&request.incident.target)?;
        Ok(PauseResume {
            schedule: self.schedule(monitor, request)?,
            pause: self.disable,
        })
    }
}

impl ActionHandler for RetrainingSwitch {
    fn plan<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move { self.handler(request)?.plan(request).await })
    }

    fn execute<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move { self.handler(request)?.execute(request).await })
    }
}
