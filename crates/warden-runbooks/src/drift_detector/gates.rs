//! Runbook 3's closure gates (R3.7): the monitor's backtest on its labelled history with the
//! settings that stay (the fixes applied, not the temporary override) — precision and recall
//! each at least the stricter of the runbook's threshold and the monitor's target.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use warden_core::Incident;
use warden_drift::backtest::BacktestReport;
use warden_engine::executor::{BoxFuture, GateEvaluator, GateVerdict};
use warden_runbook::Gate;

use super::analysis::{self, Override};
use super::{Monitors, blocking};

/// The gate checks [`BacktestGates`] judges.
pub const CHECKS: [&str; 2] = ["backtest_precision", "backtest_recall"];

/// Longest a backtest is reused: both gates ask within the same advance, and a backtest reads
/// the whole history.
const REUSE: Duration = Duration::from_secs(30);

/// A backtest, when it ran, and the settings it ran with.
type Recent = (Instant, String, Arc<BacktestReport>);

/// Backtest gates over the configured monitors.
pub struct BacktestGates {
    monitors: Arc<Monitors>,
    /// The last backtest per monitor, with the settings it ran with.
    recent: tokio::sync::Mutex<HashMap<String, Recent>>,
}

impl BacktestGates {
    /// Gates over `monitors`.
    pub fn new(monitors: Arc<Monitors>) -> Self {
        Self {
            monitors,
            recent: tokio::sync::Mutex::new(HashMap::new()),
        }
    }
}

impl GateEvaluator for BacktestGates {
    fn evaluate<'a>(
        &'a self,
        incident: &'a Incident,
        gate: &'a Gate,
        _now: warden_core::Timestamp,
    ) -> BoxFuture<'a, Result<Option<GateVerdict>, String>> {
        Box::pin(async move {
            let Ok(monitor) = self.monitors.monitor(&incident.target) else {
                return Ok(None);
            };
            let Some(labelled) = &monitor.backtest else {
                return Ok(None);
            };
            let state = self.monitors.state(&monitor.name).map_err(|e| e.message)?;
            let settings = analysis::settings(monitor, &state, Override::Without)?;
            let key = format!("{:?}|{:?}", settings.options, settings.reference);
            let mut recent = self.recent.lock().await;
            let report = match recent.get(&monitor.name) {
                Some((at, seen, report)) if *seen == key && at.elapsed() < REUSE => report.clone(),
                _ => {
                    let (m, s) = (monitor.clone(), settings.clone());
                    let report = Arc::new(blocking(move || analysis::backtest(&m, &s)).await?);
                    recent.insert(monitor.name.clone(), (Instant::now(), key, report.clone()));
                    report
                }
            };
            drop(recent);
            let s = &report.scores;
            let (name, value, target) = match gate.check.as_str() {
                "backtest_precision" => ("precision", s.precision, labelled.precision),
                "backtest_recall" => ("recall", s.recall, labelled.recall),
                _ => return Ok(None),
            };
            let needed = gate.above.unwrap_or(0.0).max(target);
            Ok(Some(GateVerdict {
                passed: value >= needed,
                explanation: format!(
                    "backtest {name} {value:.3} (needs ≥ {needed}) on {} — {} windows of {}, {} reference, TP {} FP {} FN {} TN {}; settings: {}",
                    report.history,
                    report.windows.len(),
                    report.window,
                    report.reference_window,
                    s.true_positives,
                    s.false_positives,
                    s.false_negatives,
                    s.true_negatives,
                    settings.describe()
                ),
            }))
        })
    }
}
