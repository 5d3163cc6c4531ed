//! Runbook 3's detectors (R3.2), one or two per monitor:
//! - `drift_alert_rate`: the detector's alerts over the recent window against its own
//!   historical rate — from Prometheus (`alerts.query`, a team's detector) or from Warden's own
//!   runs of the monitor (every `check_every`, kept in the monitor's state). Far above
//!   (`factor` times, at least `min_alerts`) is a false-positive finding. Each beat also ends
//!   a temporary threshold override that expired, and a drifted run of Warden's own starts
//!   retraining or opens a review of it ([`super::retraining`]).
//! - `drift_backtest`: every `backtest.every`, the monitor's settings on its labelled history;
//!   recall under the target is a false-negative finding.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use warden_config::DriftMonitorConfig;
use warden_core::{Finding, RunbookId, Severity, Timestamp};
use warden_engine::detect::{DetectError, Detector};
use warden_engine::executor::BoxFuture;

use super::analysis::{self, Override};
use super::state::MonitorRun;
use super::{FALSE_NEGATIVES, FALSE_POSITIVES, Monitors, RUNBOOK, blocking, target};

/// How often the alert rate is read from Prometheus when the monitor sets no `check_every`.
const DEFAULT_EVERY: Duration = Duration::from_secs(300);

/// The alert rate over the recent window against the history before it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertRate {
    /// Alerts in the recent window.
    pub recent: f64,
    /// Alerts per window over the history before it.
    pub historical: f64,
    /// How much history there was, in windows.
    pub history_windows: f64,
}

impl AlertRate {
    /// Whether the recent rate is far above the historical one.
    pub fn noisy(&self, factor: f64, min_alerts: f64) -> bool {
        self.recent >= min_alerts && self.recent >= factor * self.historical
    }
}

/// The rate from a Prometheus series of alerts per window: the newest point is the recent
/// window, the points at least a window older are the history (their mean).
pub fn rate_from_series(
    points: &[(Timestamp, f64)],
    now: Timestamp,
    window: Duration,
) -> Option<AlertRate> {
    let window = chrono::Duration::from_std(window).ok()?;
    let (_, recent) = points
        .iter()
        .rev()
        .find(|(t, v)| *t <= now && v.is_finite())?;
    let history: Vec<f64> = points
        .iter()
        .filter(|(t, v)| *t <= now - window && v.is_finite())
        .map(|(_, v)| *v)
        .collect();
    let historical = if history.is_empty() {
        0.0
    } else {
        history.iter().sum::<f64>() / history.len() as f64
    };
    Some(AlertRate {
        recent: *recent,
        historical,
        history_windows: history.len() as f64,
    })
}

/// The rate from Warden's own runs.
pub fn rate_from_runs(
    runs: &[MonitorRun],
    now: Timestamp,
    window: Duration,
    history: Duration,
) -> AlertRate {
    let window_c = chrono::Duration::from_std(window).unwrap_or_default();
    let history_c = chrono::Duration::from_std(history).unwrap_or_default();
    let recent = runs
        .iter()
        .filter(|r| r.drifted && r.at > now - window_c && r.at <= now)
        .count() as f64;
    let before: Vec<&MonitorRun> = runs
        .iter()
        .filter(|r| r.at > now - history_c && r.at <= now - window_c)
        .collect();
    // The history is as long as the runs reach back, not as long as configured: a monitor
    // started yesterday has one day of history.
    let span = before
        .first()
        .map_or(0.0, |first| {
            (now - window_c - first.at).num_milliseconds() as f64
        })
        .max(window_c.num_milliseconds() as f64);
    let windows = span / (window_c.num_milliseconds().max(1) as f64);
    let alerts = before.iter().filter(|r| r.drifted).count() as f64;
    AlertRate {
        recent,
        historical: if before.is_empty() {
            0.0
        } else {
            alerts / windows
        },
        history_windows: if before.is_empty() { 0.0 } else { windows },
    }
}

/// The false-positive finding, when the rate is noisy.
pub fn noise_finding(
    monitor: &DriftMonitorConfig,
    rate: &AlertRate,
    source: &str,
    now: Timestamp,
) -> Option<Finding> {
    let alerts = &monitor.alerts;
    if !rate.noisy(alerts.factor, alerts.min_alerts) {
        return None;
    }
    let window = warden_core::format_duration(alerts.window);
    Some(Finding {
        runbook: RunbookId::new(RUNBOOK),
        target: target(monitor),
        detector: "drift_alert_rate".into(),
        severity: Severity::Medium,
        summary: format!(
            "{}: {:.1} drift alerts in the last {window}, {:.1} per {window} before ({}); {:.0}x the usual rate or more is likely false positives",
            monitor.name, rate.recent, rate.historical, source, alerts.factor
        ),
        detected_at: now,
        measurements: BTreeMap::from([
            ("recent_alerts".to_string(), rate.recent),
            ("historical_alerts_per_window".to_string(), rate.historical),
            ("history_windows".to_string(), rate.history_windows),
            ("factor".to_string(), alerts.factor),
        ]),
        cause_key: Some(FALSE_POSITIVES.into()),
        alert: None,
    })
}

/// The false-negative finding, when the backtest's recall is under the target.
pub fn missed_finding(
    monitor: &DriftMonitorConfig,
    report: &warden_drift::backtest::BacktestReport,
    now: Timestamp,
) -> Option<Finding> {
    let target_recall = monitor.backtest.as_ref()?.recall;
    let s = &report.scores;
    if s.true_positives + s.false_negatives == 0 || s.recall >= target_recall {
        return None;
    }
    Some(Finding {
        runbook: RunbookId::new(RUNBOOK),
        target: target(monitor),
        detector: "drift_backtest".into(),
        severity: Severity::Medium,
        summary: format!(
            "{}: the backtest on {} missed {} of {} labelled drift windows (recall {:.2}, target {:.2})",
            monitor.name,
            report.history,
            s.false_negatives,
            s.true_positives + s.false_negatives,
            s.recall,
            target_recall
        ),
        detected_at: now,
        measurements: BTreeMap::from([
            ("recall".to_string(), s.recall),
            ("precision".to_string(), s.precision),
            ("missed_windows".to_string(), s.false_negatives as f64),
            ("target_recall".to_string(), target_recall),
        ]),
        cause_key: Some(FALSE_NEGATIVES.into()),
        alert: None,
    })
}

/// The alert-rate check of one monitor.
pub struct AlertRateDetector {
    name: String,
    monitor: DriftMonitorConfig,
    every: Duration,
    monitors: Arc<Monitors>,
}

/// The scheduled backtest of one monitor.
pub struct BacktestDetector {
    name: String,
    monitor: DriftMonitorConfig,
    every: Duration,
    monitors: Arc<Monitors>,
}

/// The detectors the monitors ask for: an alert-rate check for each monitor with an alert
/// query or its own schedule, a backtest for each with `backtest.every`.
pub fn detectors(monitors: &Arc<Monitors>) -> Vec<Box<dyn Detector>> {
    let mut detectors: Vec<Box<dyn Detector>> = Vec::new();
    for monitor in &monitors.monitors {
        let every = match (&monitor.alerts.query, monitor.check_every) {
            (_, Some(every)) => Some(every),
            (Some(_), None) => Some(DEFAULT_EVERY),
            (None, None) => None,
        };
        if let Some(every) = every {
            detectors.push(Box::new(AlertRateDetector {
                name: format!("drift_alert_rate:{}", monitor.name),
                monitor: monitor.clone(),
                every,
                monitors: monitors.clone(),
            }));
        }
        if let Some(every) = monitor.backtest.as_ref().and_then(|b| b.every) {
            detectors.push(Box::new(BacktestDetector {
                name: format!("drift_backtest:{}", monitor.name),
                monitor: monitor.clone(),
                every,
                monitors: monitors.clone(),
            }));
        }
    }
    detectors
}

impl AlertRateDetector {
    /// Ends an expired override (logged: it is an audited change of the monitor).
    async fn expire(&self, now: Timestamp) -> Result<(), DetectError> {
        let _guard = self.monitors.lock.lock().await;
        let mut state = self
            .monitors
            .states
            .load(&self.monitor.name)
            .map_err(|e| DetectError::Invalid(e.to_string()))?;
        if let Some(ended) = state.expire(now) {
            self.monitors
                .states
                .save(&self.monitor.name, &state)
                .map_err(|e| DetectError::Unavailable(e.to_string()))?;
            eprintln!(
                "warden: drift monitor {}: the threshold override set by {} for {} expired at {}; thresholds are back to the monitor's settings",
                warden_core::text::terminal_safe(&self.monitor.name),
                warden_core::text::terminal_safe(&ended.set_by),
                ended.incident,
                ended.expires_at
            );
        }
        Ok(())
    }

    async fn rate_from_prometheus(
        &self,
        query: &str,
        now: Timestamp,
    ) -> Result<AlertRate, DetectError> {
        let Some(prometheus) = &self.monitors.prometheus else {
            return Err(DetectError::Invalid("needs connectors.prometheus".into()));
        };
        let alerts = &self.monitor.alerts;
        let start = now - chrono::Duration::from_std(alerts.history).unwrap_or_default();
        let step = u32::try_from(alerts.window.as_secs()).unwrap_or(u32::MAX);
        let series = prometheus
            .query_range(query, start, now, step)
            .await
            .map_err(|e| DetectError::Unavailable(format!("alerts.query {query:?}: {e}")))?;
        // One series: the query sums; several are added up point by point.
        let mut points: BTreeMap<Timestamp, f64> = BTreeMap::new();
        for s in &series {
            for (t, v) in &s.points {
                *points.entry(*t).or_default() += v;
            }
        }
        let points: Vec<(Timestamp, f64)> = points.into_iter().collect();
        Ok(
            rate_from_series(&points, now, alerts.window).unwrap_or(AlertRate {
                recent: 0.0,
                historical: 0.0,
                history_windows: 0.0,
            }),
        )
    }

    async fn rate_from_own_runs(&self, now: Timestamp) -> Result<AlertRate, DetectError> {
        let state = self
            .monitors
            .states
            .load(&self.monitor.name)
            .map_err(|e| DetectError::Invalid(e.to_string()))?;
        let settings = analysis::settings(&self.monitor, &state, Override::At(now))
            .map_err(DetectError::Invalid)?;
        let report = blocking(move || analysis::compare(&settings, None))
            .await
            .map_err(DetectError::Unavailable)?;
        let guard = self.monitors.lock.lock().await;
        let mut state = self
            .monitors
            .states
            .load(&self.monitor.name)
            .map_err(|e| DetectError::Invalid(e.to_string()))?;
        state.record_run(MonitorRun {
            at: now,
            drifted: report.summary.drifted,
            columns: report
                .columns
                .iter()
                .filter(|c| c.drifted)
                .map(|c| c.name.clone())
                .collect(),
        });
        self.monitors
            .states
            .save(&self.monitor.name, &state)
            .map_err(|e| DetectError::Unavailable(e.to_string()))?;
        drop(guard);
        match super::retraining::after_run(&self.monitors, &self.monitor, now).await {
            Ok(Some(line)) => eprintln!("warden: {}", warden_core::text::terminal_safe(&line)),
            Ok(None) => {}
            Err(err) => return Err(DetectError::Unavailable(err.message)),
        }
        let alerts = &self.monitor.alerts;
        Ok(rate_from_runs(
            &state.runs,
            now,
            alerts.window,
            alerts.history,
        ))
    }
}

impl Detector for AlertRateDetector {
    fn name(&self) -> &str {
        &self.name
    }

    fn every(&self) -> Duration {
        self.every
    }

    fn check<'a>(&'a mut self, now: Timestamp) -> BoxFuture<'a, Result<Vec<Finding>, DetectError>> {
        Box::pin(async move {
            self.expire(now).await?;
            let (rate, source) = match &self.monitor.alerts.query {
                Some(query) => (
                    self.rate_from_prometheus(query, now).await?,
                    "Prometheus alert history",
                ),
                None => (self.rate_from_own_runs(now).await?, "Warden's own runs"),
            };
            Ok(noise_finding(&self.monitor, &rate, source, now)
                .into_iter()
                .collect())
        })
    }
}

impl Detector for BacktestDetector {
    fn name(&self) -> &str {
        &self.name
    }

    fn every(&self) -> Duration {
        self.every
    }

    fn check<'a>(&'a mut self, now: Timestamp) -> BoxFuture<'a, Result<Vec<Finding>, DetectError>> {
        Box::pin(async move {
            let state = self
                .monitors
                .states
                .load(&self.monitor.name)
                .map_err(|e| DetectError::Invalid(e.to_string()))?;
            let settings = analysis::settings(&self.monitor, &state, Override::At(now))
                .map_err(DetectError::Invalid)?;
            let monitor = self.monitor.clone();
            let report = blocking(move || analysis::backtest(&monitor, &settings))
                .await
                .map_err(DetectError::Invalid)?;
            Ok(missed_finding(&self.monitor, &report, now)
                .into_iter()
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_790_000_000 + minutes * 60, 0).unwrap_or_default()
    }

    #[test]
    fn the_newest_point_is_compared_with_the_mean_of_the_history() {
        let points: Vec<(Timestamp, f64)> = (0..10)
            .map(|m| (at(m), if m == 9 { 12.0 } else { 1.0 }))
            .collect();
        let rate = rate_from_series(&points, at(9), Duration::from_secs(60)).expect("rate");
        assert_eq!(rate.recent, 12.0);
        assert_eq!(rate.historical, 1.0);
        assert!(rate.noisy(3.0, 3.0));
        assert!(
            !AlertRate {
                recent: 2.0,
                historical: 0.0,
                history_windows: 9.0
            }
            .noisy(3.0, 3.0)
        );
        assert!(
            !AlertRate {
                recent: 6.0,
                historical: 2.5,
                history_windows: 9.0
            }
            .noisy(3.0, 3.0)
        );
    }

    #[test]
    fn own_runs_give_the_rate_over_the_history_they_cover() {
        // One run a minute for an hour; alerts once in ten before, every run in the last 10 min.
        let runs: Vec<MonitorRun> = (1..=60)
            .map(|m| MonitorRun {
                at: at(m),
                drifted: m > 50 || m % 10 == 0,
                columns: vec![],
            })
            .collect();
        let rate = rate_from_runs(
            &runs,
            at(60),
            Duration::from_secs(600),
            Duration::from_secs(86_400),
        );
        assert_eq!(rate.recent, 10.0);
        // Minutes 1–50: 5 alerts over 49 minutes of runs = 4.9 windows.
        assert!((rate.historical - 5.0 / 4.9).abs() < 1e-9, "{rate:?}");
        assert!(rate.noisy(3.0, 3.0));
    }
}
