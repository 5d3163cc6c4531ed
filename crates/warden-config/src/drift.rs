//! `drift_monitors:` — the drift detectors runbook 3 watches (R3): Warden's own monitors over
//! prediction logs, or a team's detector whose alerts reach Prometheus. Per monitor: the logs,
//! the reference (a data set, a stored profile, or a sliding window of the logs), the window
//! and schedule, seasonal and segment settings, the thresholds file, where its alert history
//! is, the labelled history its backtests run on, and the retraining trigger it may start.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use url::Url;

/// `drift_monitors[]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDriftMonitor {
    /// The monitor's name: the target of its incidents (usually the model's name).
    pub name: Spanned<String>,
    /// Prediction logs: a file, directory, glob or `s3://` prefix.
    pub predictions: Spanned<String>,
    /// Reference data (a location), …
    pub reference: Option<Spanned<String>>,
    /// … or a profile written by `warden drift profile`, …
    pub profile: Option<Spanned<String>>,
    /// … or a sliding reference: this long, right before the window.
    pub reference_window: Option<Spanned<String>>,
    /// The current window: this long, ending at the newest prediction (default `1d`).
    pub window: Option<Spanned<String>>,
    /// How often Warden runs the monitor itself (unset: only when an incident asks).
    pub check_every: Option<Spanned<String>>,
    /// The timestamp column (default: inferred).
    pub timestamp: Option<Spanned<String>>,
    /// `day-of-week` or `hour-of-week`: compare with the same season of the reference.
    pub seasonal: Option<Spanned<String>>,
    /// Columns whose values define segments.
    #[serde(default)]
    pub segments: Vec<String>,
    /// Column roles (the schema file of `warden drift --schema`).
    pub schema: Option<Spanned<String>>,
    /// Tuned thresholds (written by `warden drift backtest --write-thresholds`).
    pub thresholds: Option<Spanned<String>>,
    /// A reference older than this is not representative (default `90d`).
    pub max_reference_age: Option<Spanned<String>>,
    /// Where the detector's alert history is.
    pub alerts: Option<Spanned<RawDriftAlerts>>,
    /// The labelled history backtests run on.
    pub backtest: Option<Spanned<RawDriftBacktest>>,
    /// The automatic retraining the monitor's alerts start.
    pub retraining: Option<Spanned<RawRetraining>>,
}

/// `drift_monitors[].alerts` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDriftAlerts {
    /// PromQL giving the detector's alerts per `window` (e.g.
    /// `sum(increase(drift_alerts_total{model="x"}[1d]))`); unset: Warden's own runs.
    pub query: Option<Spanned<String>>,
    /// The recent stretch whose alert rate is compared (default `1d`).
    pub window: Option<Spanned<String>>,
    /// How far back the historical rate reaches (default `28d`).
    pub history: Option<Spanned<String>>,
    /// How many times the historical rate is "far above" (default 3).
    pub factor: Option<Spanned<f64>>,
    /// Fewest alerts in the window before it can be called noisy (default 3).
    pub min_alerts: Option<Spanned<f64>>,
}

/// `drift_monitors[].backtest` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDriftBacktest {
    /// Labelled periods (CSV or JSON: start, end, drift).
    pub labels: Spanned<String>,
    /// The history the windows come from (default: the prediction logs).
    pub history: Option<Spanned<String>>,
    /// `change` (labels mark where data changed) or `regime` (every shifted period).
    pub labels_mark: Option<Spanned<String>>,
    /// How often the scheduled backtest runs (unset: only when an incident asks).
    pub every: Option<Spanned<String>>,
    /// Closure and detection target for precision (default 0.8).
    pub precision: Option<Spanned<f64>>,
    /// Closure and detection target for recall (default 0.8).
    pub recall: Option<Spanned<f64>>,
}

/// `drift_monitors[].retraining` as written: exactly one of the three.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetraining {
    /// An Airflow DAG (needs `connectors.airflow`).
    pub airflow_dag: Option<Spanned<String>>,
    /// A KFP recurring run (needs `connectors.kfp`).
    pub kfp_recurring_run: Option<Spanned<String>>,
    /// A webhook told `{"monitor", "enabled"}`.
    pub webhook: Option<Spanned<String>>,
    /// Whether retraining the monitor's own drift alerts would start waits for a person's yes.
    pub review: Option<Spanned<bool>>,
}

/// What a monitor compares the current window with.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DriftReference {
    /// A reference data set.
    Data {
        /// Its location.
        location: String,
    },
    /// A stored profile.
    Profile {
        /// The profile file.
        path: String,
    },
    /// The stretch of the logs right before the window.
    Sliding {
        /// How long.
        #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
        window: Duration,
    },
}

/// Where a monitor's alert history comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftAlerts {
    /// PromQL for alerts per window; `None`: Warden's own monitor runs.
    pub query: Option<String>,
    /// The recent stretch.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub window: Duration,
    /// How far back the historical rate reaches.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub history: Duration,
    /// "Far above" factor.
    pub factor: f64,
    /// Fewest alerts in the window.
    pub min_alerts: f64,
}

impl Default for DriftAlerts {
    fn default() -> Self {
        Self {
            query: None,
            window: Duration::from_secs(86_400),
            history: Duration::from_secs(28 * 86_400),
            factor: 3.0,
            min_alerts: 3.0,
        }
    }
}

/// A monitor's labelled history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftBacktest {
    /// The labels file.
    pub labels: String,
    /// The history location (default: the prediction logs).
    pub history: String,
    /// `change` or `regime`.
    pub labels_mark: String,
    /// Scheduled backtest interval.
    #[serde(serialize_with = "warden_core::duration::serde_text::option::serialize")]
    pub every: Option<Duration>,
    /// Precision target.
    pub precision: f64,
    /// Recall target.
    pub recall: f64,
}

/// The automatic retraining a monitor's alerts start.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RetrainingTrigger {
    /// An Airflow DAG, paused and unpaused.
    AirflowDag {
        /// The DAG id.
        dag: String,
    },
    /// A KFP recurring run, disabled and enabled.
    KfpRecurringRun {
        /// Its id.
        id: String,
    },
    /// A webhook told to disable or enable retraining.
    Webhook {
        /// The URL.
        url: Url,
    },
}

impl RetrainingTrigger {
    /// How results name it.
    pub fn describe(&self) -> String {
        match self {
            Self::AirflowDag { dag } => format!("Airflow DAG {dag}"),
            Self::KfpRecurringRun { id } => format!("KFP recurring run {id}"),
            Self::Webhook { url } => format!("retraining webhook {url}"),
        }
    }
}

/// One drift monitor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftMonitorConfig {
    /// Its name; incidents' target.
    pub name: String,
    /// Prediction logs.
    pub predictions: String,
    /// The reference.
    pub reference: DriftReference,
    /// The current window.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub window: Duration,
    /// Warden's own run interval.
    #[serde(serialize_with = "warden_core::duration::serde_text::option::serialize")]
    pub check_every: Option<Duration>,
    /// The timestamp column.
    pub timestamp: Option<String>,
    /// `day-of-week` or `hour-of-week`.
    pub seasonal: Option<String>,
    /// Segment columns.
    pub segments: Vec<String>,
    /// Column roles file.
    pub schema: Option<String>,
    /// Thresholds file.
    pub thresholds: Option<String>,
    /// Oldest representative reference.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub max_reference_age: Duration,
    /// Alert history.
    pub alerts: DriftAlerts,
    /// Labelled history.
    pub backtest: Option<DriftBacktest>,
    /// Retraining trigger.
    pub retraining: Option<RetrainingTrigger>,
    /// Whether the retraining Warden's own runs start waits for a person's yes (a review).
    pub review_retraining: bool,
}

/// The seasons `seasonal:` accepts.
pub const SEASONS: &[&str] = &["day-of-week", "hour-of-week"];
