//! `serving:` — the model endpoints runbook 2 watches and acts on: where their metrics are,
//! their SLO (the runbook's plain thresholds, or multi-window multi-burn-rate alerting), and
//! the Kubernetes objects behind them (KServe InferenceService or a plain Deployment, its
//! HPA, its pods).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

/// `serving[]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    /// The service's name: the `service` label of its alerts and the target of its incidents.
    pub name: Spanned<String>,
    /// The registered model in MLflow (default: `name`).
    pub model: Option<Spanned<String>>,
    /// Kubernetes namespace (default: `connectors.kubernetes.namespace`).
    pub namespace: Option<Spanned<String>>,
    /// KServe InferenceService name.
    pub inference_service: Option<Spanned<String>>,
    /// Or the predictor Deployment (raw deployment mode, or no KServe).
    pub deployment: Option<Spanned<String>>,
    /// The HPA (default: `<inference_service>-predictor`, else the deployment's name).
    pub hpa: Option<Spanned<String>>,
    /// Label selector of the predictor pods (default from the InferenceService or Deployment).
    pub pod_selector: Option<Spanned<String>>,
    /// `mlserver` or `kserve`: which metric names the default queries use.
    pub metrics: Option<Spanned<String>>,
    /// PromQL overrides: `latency_p95_ms`, `error_rate`, `request_rate`, `slow_ratio`,
    /// `feature_latency_p95_ms`.
    #[serde(default)]
    pub queries: BTreeMap<String, Spanned<String>>,
    /// p95 latency SLA in milliseconds (default 200).
    pub latency_p95_ms: Option<Spanned<f64>>,
    /// Error-rate SLA as a share (default 0.01).
    pub error_rate: Option<Spanned<f64>>,
    /// Plain-threshold mode: how long a breach must last (default 2m).
    #[serde(rename = "for")]
    pub sustain: Option<Spanned<String>>,
    /// Burn-rate mode instead of plain thresholds.
    pub burn_rate: Option<RawBurnRate>,
    /// How often the daemon evaluates the SLO; unset: no scheduled check (alerts only).
    pub check_every: Option<Spanned<String>>,
    /// How far back a deployment counts as the spike's cause (default 1h).
    pub deployment_window: Option<Spanned<String>>,
    /// How long the HPA may lag before scaling by hand is confirmed (default 5m).
    pub hpa_lag: Option<Spanned<String>>,
}

/// `serving[].burn_rate` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBurnRate {
    /// The availability objective, e.g. 0.99 (error budget 1%).
    pub objective: Option<Spanned<f64>>,
    /// The latency objective: share of requests within the SLA, e.g. 0.95.
    pub latency_objective: Option<Spanned<f64>>,
    /// Alerting windows (default: the SRE workbook's 1h/5m at 14.4 and 6h/30m at 6).
    #[serde(default)]
    pub windows: Vec<Spanned<RawBurnWindow>>,
}

/// One window pair as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBurnWindow {
    /// The long window, e.g. `1h`.
    pub long: String,
    /// The short window, e.g. `5m`.
    pub short: String,
    /// The burn-rate factor both windows must exceed, e.g. 14.4.
    pub factor: f64,
}

/// Which server's metric names the default queries use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricsFlavor {
    /// MLServer: `rest_server_request_duration_seconds`, `rest_server_requests_total`.
    Mlserver,
    /// KServe on Knative: `revision_app_request_latencies`, `revision_app_request_count`.
    Kserve,
}

/// One multi-window burn-rate alert: both windows must burn faster than `factor`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BurnWindow {
    /// The long window.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub long: Duration,
    /// The short window.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub short: Duration,
    /// The factor.
    pub factor: f64,
}

/// Burn-rate mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BurnRateConfig {
    /// Availability objective (error budget = 1 − objective).
    pub objective: f64,
    /// Latency objective (share of requests within the SLA).
    pub latency_objective: f64,
    /// The window pairs; any pair firing is a breach.
    pub windows: Vec<BurnWindow>,
}

impl BurnRateConfig {
    /// The SRE workbook's page-worthy pairs: 2% of a 30-day budget in 1 hour, 5% in 6 hours.
    pub fn default_windows() -> Vec<BurnWindow> {
        vec![
            BurnWindow {
                long: Duration::from_secs(3600),
                short: Duration::from_secs(300),
                factor: 14.4,
            },
            BurnWindow {
                long: Duration::from_secs(6 * 3600),
                short: Duration::from_secs(1800),
                factor: 6.0,
            },
        ]
    }
}

/// One served model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceConfig {
    /// Its name (alerts' `service` label, incidents' target).
    pub name: String,
    /// The registered model in MLflow.
    pub model: String,
    /// Its namespace, when not the Kubernetes connector's.
    pub namespace: Option<String>,
    /// KServe InferenceService.
    pub inference_service: Option<String>,
    /// Predictor Deployment.
    pub deployment: Option<String>,
    /// HPA name.
    pub hpa: Option<String>,
    /// Pod label selector.
    pub pod_selector: Option<String>,
    /// Metric names of the default queries.
    pub metrics: MetricsFlavor,
    /// PromQL overrides by name.
    pub queries: BTreeMap<String, String>,
    /// p95 SLA, milliseconds.
    pub latency_p95_ms: f64,
    /// Error-rate SLA, share.
    pub error_rate: f64,
    /// Plain-threshold breach duration.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub sustain: Duration,
    /// Burn-rate mode, if chosen.
    pub burn_rate: Option<BurnRateConfig>,
    /// Scheduled SLO check interval.
    pub check_every: Option<Duration>,
    /// Deployment correlation window.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub deployment_window: Duration,
    /// HPA lag before manual scaling.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub hpa_lag: Duration,
}

impl ServiceConfig {
    /// The HPA's name: configured, else KServe's `<isvc>-predictor`, else the deployment's.
    pub fn hpa_name(&self) -> Option<String> {
        self.hpa
            .clone()
            .or_else(|| {
                self.inference_service
                    .as_ref()
                    .map(|isvc| format!("{isvc}-predictor"))
            })
            .or_else(|| self.deployment.clone())
    }

    /// The predictor pods' selector: configured, else KServe's label, else `app=<deployment>`.
    pub fn selector(&self) -> Option<String> {
        self.pod_selector
            .clone()
            .or_else(|| {
                self.inference_service
                    .as_ref()
                    .map(|isvc| format!("serving.kserve.io/inferenceservice={isvc}"))
            })
            .or_else(|| self.deployment.as_ref().map(|name| format!("app={name}")))
    }
}

/// The query names `serving[].queries` accepts.
pub const QUERY_NAMES: &[&str] = &[
    "latency_p95_ms",
    "error_rate",
    "request_rate",
    "slow_ratio",
    "feature_latency_p95_ms",
];
