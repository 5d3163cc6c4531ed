//! Validation of `drift_monitors:` (see [`crate::drift`]).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::{Checker, HTTP_SCHEMES};
use crate::drift::{
    DriftAlerts, DriftBacktest, DriftMonitorConfig, DriftReference, RawDriftMonitor,
    RetrainingTrigger, SEASONS,
};

/// The longest window, history or interval a monitor may name.
const MAX_SPAN: Duration = Duration::from_secs(366 * 86_400);

/// What `drift_monitors:` may lean on elsewhere in the file.
pub(super) struct DriftNeeds {
    pub have_prometheus: bool,
    pub have_airflow: bool,
    pub have_kfp: bool,
}

impl Checker<'_> {
    fn positive(&mut self, field: &str, value: Option<&Spanned<f64>>, default: f64) -> f64 {
        match value {
            None => default,
            Some(v) if v.value > 0.0 && v.value.is_finite() => v.value,
            Some(v) => {
                self.error(v, field, "must be a positive number");
                default
            }
        }
    }

    fn target_share(&mut self, field: &str, value: Option<&Spanned<f64>>) -> f64 {
        match value {
            None => 0.8,
            Some(v) if v.value > 0.0 && v.value <= 1.0 => v.value,
            Some(v) => {
                self.error(v, field, "a precision or recall target is in (0, 1]");
                0.8
            }
        }
    }

    pub(super) fn drift_monitors(
        &mut self,
        raw: &[Spanned<RawDriftMonitor>],
        needs: &DriftNeeds,
    ) -> Vec<DriftMonitorConfig> {
        let mut names = BTreeSet::new();
        let mut monitors = Vec::new();
        for (index, spanned) in raw.iter().enumerate() {
            let monitor = &spanned.value;
            let at = |field: &str| format!("drift_monitors[{index}].{field}");
            let name = self.text(&at("name"), &monitor.name);
            if !names.insert(name.clone()) {
                self.error(
                    &monitor.name,
                    &at("name"),
                    format!("{name:?} is listed twice"),
                );
            }
            let predictions = self.location(&at("predictions"), &monitor.predictions);
            let reference = match (
                &monitor.reference,
                &monitor.profile,
                &monitor.reference_window,
            ) {
                (Some(location), None, None) => DriftReference::Data {
                    location: self.location(&at("reference"), location),
                },
                (None, Some(path), None) => DriftReference::Profile {
                    path: self.path(&at("profile"), path).display().to_string(),
                },
                (None, None, Some(window)) => DriftReference::Sliding {
                    window: self
                        .bounded_duration(&at("reference_window"), Some(window), MAX_SPAN)
                        .unwrap_or(Duration::from_secs(28 * 86_400)),
                },
                (None, None, None) => {
                    self.error(
                        &monitor.name,
                        &at("reference"),
                        "what is the current window compared with? give reference (data), profile (warden drift profile) or reference_window (sliding)",
                    );
                    DriftReference::Sliding {
                        window: Duration::from_secs(28 * 86_400),
                    }
                }
                _ => {
                    self.error(
                        &monitor.name,
                        &at("reference"),
                        "give one of reference, profile and reference_window",
                    );
                    DriftReference::Sliding {
                        window: Duration::from_secs(28 * 86_400),
                    }
                }
            };
            let window = self
                .bounded_duration(&at("window"), monitor.window.as_ref(), MAX_SPAN)
                .unwrap_or(Duration::from_secs(86_400));
            let check_every =
                self.bounded_duration(&at("check_every"), monitor.check_every.as_ref(), MAX_SPAN);
            let seasonal = monitor.seasonal.as_ref().map(|season| {
                let text = season.value.trim().to_string();
                if !SEASONS.contains(&text.as_str()) {
                    self.error(
                        season,
                        &at("seasonal"),
                        format!("unknown season (known: {})", SEASONS.join(", ")),
                    );
                }
                text
            });
            let max_reference_age = self
                .bounded_duration(
                    &at("max_reference_age"),
                    monitor.max_reference_age.as_ref(),
                    Duration::from_secs(10 * 366 * 86_400),
                )
                .unwrap_or(Duration::from_secs(90 * 86_400));
            let alerts = match &monitor.alerts {
                None => DriftAlerts::default(),
                Some(spanned) => {
                    let alerts = &spanned.value;
                    let field = |f: &str| at(&format!("alerts.{f}"));
                    let query = alerts.query.as_ref().map(|q| {
                        if !needs.have_prometheus {
                            self.error(q, &field("query"), "needs connectors.prometheus");
                        }
                        self.text(&field("query"), q)
                    });
                    let defaults = DriftAlerts::default();
                    let window = self
                        .bounded_duration(&field("window"), alerts.window.as_ref(), MAX_SPAN)
                        .unwrap_or(defaults.window);
                    let history = self
                        .bounded_duration(&field("history"), alerts.history.as_ref(), MAX_SPAN)
                        .unwrap_or(defaults.history);
                    if history <= window {
                        self.error(
                            spanned,
                            &field("history"),
                            "the history must be longer than the window it is compared with",
                        );
                    }
                    DriftAlerts {
                        query,
                        window,
                        history,
                        factor: self.positive(
                            &field("factor"),
                            alerts.factor.as_ref(),
                            defaults.factor,
                        ),
                        min_alerts: self.positive(
                            &field("min_alerts"),
                            alerts.min_alerts.as_ref(),
                            defaults.min_alerts,
                        ),
                    }
                }
            };
            let backtest = monitor.backtest.as_ref().map(|spanned| {
                let backtest = &spanned.value;
                let field = |f: &str| at(&format!("backtest.{f}"));
                let labels_mark = match &backtest.labels_mark {
                    None => "change".to_string(),
                    Some(mark) if ["change", "regime"].contains(&mark.value.trim()) => {
                        mark.value.trim().to_string()
                    }
                    Some(mark) => {
                        self.error(mark, &field("labels_mark"), "change or regime");
                        "change".to_string()
                    }
                };
                DriftBacktest {
                    labels: self
                        .path(&field("labels"), &backtest.labels)
                        .display()
                        .to_string(),
                    history: backtest.history.as_ref().map_or_else(
                        || predictions.clone(),
                        |h| self.location(&field("history"), h),
                    ),
                    labels_mark,
                    every: self.bounded_duration(
                        &field("every"),
                        backtest.every.as_ref(),
                        MAX_SPAN,
                    ),
                    precision: self.target_share(&field("precision"), backtest.precision.as_ref()),
                    recall: self.target_share(&field("recall"), backtest.recall.as_ref()),
                }
            });
            let retraining = monitor.retraining.as_ref().and_then(|spanned| {
                let r = &spanned.value;
                let field = |f: &str| at(&format!("retraining.{f}"));
                match (&r.airflow_dag, &r.kfp_recurring_run, &r.webhook) {
                    (Some(dag), None, None) => {
                        if !needs.have_airflow {
                            self.error(dag, &field("airflow_dag"), "needs connectors.airflow");
                        }
                        Some(RetrainingTrigger::AirflowDag {
                            dag: self.text(&field("airflow_dag"), dag),
                        })
                    }
                    (None, Some(id), None) => {
                        if !needs.have_kfp {
                            self.error(id, &field("kfp_recurring_run"), "needs connectors.kfp");
                        }
                        Some(RetrainingTrigger::KfpRecurringRun {
                            id: self.text(&field("kfp_recurring_run"), id),
                        })
                    }
                    (None, None, Some(url)) => self
                        .url(&field("webhook"), url, HTTP_SCHEMES)
                        .map(|url| RetrainingTrigger::Webhook { url }),
                    _ => {
                        self.error(
                            spanned,
                            &at("retraining"),
                            "give exactly one of airflow_dag, kfp_recurring_run and webhook",
                        );
                        None
                    }
                }
            });
            let review_retraining = monitor.retraining.as_ref().is_some_and(|spanned| {
                let Some(review) = &spanned.value.review else {
                    return false;
                };
                if review.value && alerts.query.is_some() {
                    self.error(
                        review,
                        &at("retraining.review"),
                        "an external detector's alerts (alerts.query) start retraining without Warden; review applies to the retraining Warden's own runs start, so drop alerts.query to let Warden run the monitor",
                    );
                }
                review.value
            });
            monitors.push(DriftMonitorConfig {
                name,
                predictions,
                reference,
                window,
                check_every,
                timestamp: monitor
                    .timestamp
                    .as_ref()
                    .map(|t| self.text(&at("timestamp"), t)),
                seasonal,
                segments: monitor.segments.clone(),
                schema: monitor
                    .schema
                    .as_ref()
                    .map(|s| self.path(&at("schema"), s).display().to_string()),
                thresholds: monitor
                    .thresholds
                    .as_ref()
                    .map(|t| self.path(&at("thresholds"), t).display().to_string()),
                max_reference_age,
                alerts,
                backtest,
                retraining,
                review_retraining,
            });
        }
        monitors
    }
}
