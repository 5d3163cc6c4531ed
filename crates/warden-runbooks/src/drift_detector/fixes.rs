//! Runbook 3's fixes (R3.6) as concrete, reviewable changes to the monitor, each applied only
//! when its cause is confirmed and a responder approves it; the plan shows exactly what will
//! change and the result the `warden.yaml` lines that make it permanent:
//! - `apply_sliding_reference`: a sliding reference of recent production data;
//! - `tune_drift_thresholds`: thresholds tuned on the labelled history (recall first for
//!   missed drift, then precision), written to the monitor's thresholds file;
//! - `enable_seasonal_detection`: the window compared with the same season of the reference;
//! - `require_retraining_review`: the retraining Warden's own runs start waits for a person's
//!   yes to a review ([`super::retraining`]); registered when some monitor is run by Warden,
//!   refused for one whose alerts come from an external detector (it starts retraining
//!   without Warden).
//!
//! The fourth fix, the transformation consistency check, is evidence
//! (`transformation_consistency` in [`super::evidence`]).

use std::sync::Arc;
use std::time::Duration;

use warden_drift::Season;
use warden_drift::backtest::{thresholds_yaml, tune_to};
use warden_engine::executor::{ActionError, ActionHandler, ActionRegistry, ActionRequest};

use super::analysis::{self, Override};
use super::{Monitors, about_false_negatives, blocking};
use crate::common::actions::{refused, text_param};

/// The catalogue actions this module implements.
pub const NAMES: [&str; 3] = [
    "apply_sliding_reference",
    "tune_drift_thresholds",
    "enable_seasonal_detection",
];

/// The fix that puts a review in front of retraining.
pub const REVIEW: &str = "require_retraining_review";

#[derive(Clone, Copy)]
enum Fix {
    SlidingReference,
    TuneThresholds,
    Seasonal,
    Review,
}

struct ApplyFix {
    monitors: Arc<Monitors>,
    fix: Fix,
}

/// Every fix handler.
pub fn handlers(monitors: &Arc<Monitors>) -> ActionRegistry {
    NAMES
        .into_iter()
        .zip([Fix::SlidingReference, Fix::TuneThresholds, Fix::Seasonal])
        .map(|(name, fix)| {
            let handler: Arc<dyn ActionHandler> = Arc::new(ApplyFix {
                monitors: monitors.clone(),
                fix,
            });
            (name.to_string(), handler)
        })
        .collect()
}

/// The review fix's handler.
pub fn review_handler(monitors: &Arc<Monitors>) -> Arc<dyn ActionHandler> {
    Arc::new(ApplyFix {
        monitors: monitors.clone(),
        fix: Fix::Review,
    })
}

impl ApplyFix {
    async fn work(&self, request: &ActionRequest, execute: bool) -> Result<String, ActionError> {
        let monitor = self.monitors.monitor(&request.incident.target)?.clone();
        let _guard = self.monitors.lock.lock().await;
        let mut state = self.monitors.state(&monitor.name)?;
        let incident = &request.incident.id;
        let now = request.now;
        let (done, yaml) = match self.fix {
            Fix::SlidingReference => {
                let window = text_param(request, "window")
                    .map(warden_core::parse_duration)
                    .transpose()
                    .map_err(|e| refused(format!("window: {e}")))?
                    .unwrap_or(Duration::from_secs(28 * 86_400));
                let ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
                let text = warden_core::format_duration(window);
                if state.fixes.sliding_reference_ms == Some(ms) {
                    return Ok(format!(
                        "drift monitor {} already uses a sliding reference of {text}",
                        monitor.name
                    ));
                }
                if !execute {
                    return Ok(format!(
                        "would compare drift monitor {} with the {text} of logs before each window instead of its fixed reference",
                        monitor.name
                    ));
                }
                state.fixes.sliding_reference_ms = Some(ms);
                (
                    format!("sliding reference of {text}"),
                    format!("reference_window: {text}  (instead of reference/profile)"),
                )
            }
            Fix::Seasonal => {
                let season = text_param(request, "season")
                    .map(str::to_string)
                    .or_else(|| monitor.seasonal.clone())
                    .unwrap_or_else(|| Season::DayOfWeek.name().to_string());
                if Season::parse(&season).is_none() {
                    return Err(refused(format!(
                        "season {season:?}: day-of-week or hour-of-week"
                    )));
                }
                if state.fixes.seasonal.as_deref() == Some(season.as_str()) {
                    return Ok(format!(
                        "drift monitor {} already compares with the same {season}",
                        monitor.name
                    ));
                }
                if !execute {
                    return Ok(format!(
                        "would compare drift monitor {}'s window with the same {season} of its reference",
                        monitor.name
                    ));
                }
                state.fixes.seasonal = Some(season.clone());
                (
                    format!("seasonal detection ({season})"),
                    format!("seasonal: {season}"),
                )
            }
            Fix::Review => {
                if let Some(query) = &monitor.alerts.query {
                    return Err(refused(format!(
                        "drift monitor {}'s alerts come from an external detector ({query}), which starts retraining without Warden: put the review in front of its trigger by hand",
                        monitor.name
                    )));
                }
                if monitor.retraining.is_none() {
                    return Err(refused(format!(
                        "drift monitor {} has no retraining trigger (drift_monitors[].retraining): there is no retraining to review",
                        monitor.name
                    )));
                }
                if super::retraining::review_required(&monitor, &state) {
                    return Ok(format!(
                        "drift monitor {}: retraining already waits for a review",
                        monitor.name
                    ));
                }
                if !execute {
                    return Ok(format!(
                        "would make the retraining drift monitor {}'s alerts start wait for a person's yes (warden reviews)",
                        monitor.name
                    ));
                }
                state.fixes.review_retraining = true;
                (
                    "retraining waits for a review of each drift alert (warden reviews list|approve|reject)".to_string(),
                    "retraining: {…, review: true}".to_string(),
                )
            }
            Fix::TuneThresholds => {
                let target = request
                    .params
                    .get("target_precision")
                    .and_then(serde_json::Value::as_f64)
                    .or(monitor.backtest.as_ref().map(|b| b.precision))
                    .unwrap_or(0.8);
                let recall = about_false_negatives(&request.incident)
                    .then(|| monitor.backtest.as_ref().map_or(0.8, |b| b.recall));
                let settings =
                    analysis::settings(&monitor, &state, Override::Without).map_err(refused)?;
                let (m, s) = (monitor.clone(), settings.clone());
                let tuning = blocking(move || {
                    let mut report = analysis::backtest(&m, &s)?;
                    tune_to(&mut report, &s.options, target, recall);
                    Ok(report)
                })
                .await
                .map_err(refused)?;
                let Some(tuned) = &tuning.tuning else {
                    return Err(refused("the backtest produced no tuning".into()));
                };
                let changes: Vec<String> = tuned
                    .changes
                    .iter()
                    .map(|c| format!("{} {} → {} ({})", c.column, c.before, c.after, c.reason))
                    .collect();
                let summary = format!(
                    "precision {:.2} → {:.2}, recall {:.2} → {:.2}; {}",
                    tuning.scores.precision,
                    tuned.after.precision,
                    tuning.scores.recall,
                    tuned.after.recall,
                    if changes.is_empty() {
                        "no threshold changed".to_string()
                    } else {
                        changes.join("; ")
                    }
                );
                let path = self.monitors.states.thresholds_path(&monitor.name);
                if !execute {
                    return Ok(format!(
                        "would write tuned thresholds to {}: {summary}",
                        path.display()
                    ));
                }
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| refused(format!("{}: {e}", parent.display())))?;
                }
                std::fs::write(&path, thresholds_yaml(tuned, &tuning.history))
                    .map_err(|e| refused(format!("{}: {e}", path.display())))?;
                let text = path.display().to_string();
                state.fixes.thresholds = Some(text.clone());
                (
                    format!("thresholds tuned: {summary}"),
                    format!("thresholds: {text}"),
                )
            }
        };
        state
            .fixes
            .history
            .push(format!("{done} — applied by {incident} at {now}"));
        self.monitors.save(&monitor.name, &state)?;
        Ok(format!(
            "drift monitor {}: {done}; Warden's runs use it now — to keep it, set in warden.yaml (drift_monitors[{}]): {yaml}",
            monitor.name, monitor.name
        ))
    }
}
crate::common::actions::work_handler!(ApplyFix);
