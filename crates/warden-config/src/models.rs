//! `models:` — the registered models runbook 5 watches for regressions after a deployment:
//! where their prediction logs and actuals are and which columns are which, how a regression
//! is decided (metric, significance, minimum effect), what diagnosis can use (training data per
//! version for parity, a reference for data checks, the run metric to compare with live
//! accuracy) and the serving side a rollback moves (MLflow alias, MLServer, KServe).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

/// `models[]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    /// The registered model's name in MLflow, and the target of its incidents.
    pub name: Spanned<String>,
    /// The serving alias (default `champion`).
    pub alias: Option<Spanned<String>>,
    /// Or, for stage-based registries, the serving stage (e.g. `Production`).
    pub stage: Option<Spanned<String>>,
    /// Prediction logs: a file, directory, glob or `s3://` prefix.
    pub predictions: Spanned<String>,
    /// Actuals joined on `columns.keys` (default: the logs carry an actual column).
    pub actuals: Option<Spanned<String>>,
    /// Which column is which (canonical names by default).
    #[serde(default)]
    pub columns: RawColumns,
    /// `mae`, `rmse`, `mape`, `smape`, `wape` (default) or `bias`.
    pub metric: Option<Spanned<String>>,
    /// Smallest relative worsening that opens an incident (default 0.1).
    pub min_effect: Option<Spanned<f64>>,
    /// Significance level (default 0.05).
    pub alpha: Option<Spanned<f64>>,
    /// Fewest evaluated rows per version before deciding (default 30).
    pub min_rows: Option<Spanned<u64>>,
    /// How often the detector runs (unset: alerts only).
    pub check_every: Option<Spanned<String>>,
    /// Closure: the metric must be within this share of the pre-deployment baseline (0.1).
    pub tolerance: Option<Spanned<f64>>,
    /// Training data per version for the parity check; `{version}` is replaced.
    pub training_data: Option<Spanned<String>>,
    /// Reference data the recent actuals are validated against (a schema is learnt from it).
    pub reference: Option<Spanned<String>>,
    /// The MLflow run metric that is the live metric's training counterpart (e.g. `val_wape`).
    pub training_metric: Option<Spanned<String>>,
    /// KServe InferenceService serving the model (rolled back with the alias).
    pub inference_service: Option<Spanned<String>>,
    /// Its namespace.
    pub namespace: Option<Spanned<String>>,
    /// A business metric tested like accuracy: before vs since the deployment.
    pub business: Option<Spanned<RawBusiness>>,
}

/// `models[].business` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBusiness {
    /// PromQL for the metric (needs `connectors.prometheus`).
    pub query: Option<String>,
    /// Or a data location with a timestamp column and the value column.
    pub data: Option<String>,
    /// The value column of `data` (default `value`).
    pub column: Option<String>,
    /// The timestamp column of `data` (default `timestamp`).
    pub timestamp: Option<String>,
    /// Higher is better (conversion, revenue); default false (lower is better).
    #[serde(default)]
    pub higher_is_better: bool,
}

/// Where a business metric comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BusinessSource {
    /// A PromQL expression, read with range queries.
    Query(String),
    /// A data location: timestamp and value columns.
    Data {
        /// The location.
        location: String,
        /// The timestamp column.
        timestamp: String,
        /// The value column.
        column: String,
    },
}

/// A business metric of a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BusinessMetric {
    /// Where it comes from.
    pub source: BusinessSource,
    /// Higher is better.
    pub higher_is_better: bool,
}

/// `models[].columns` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawColumns {
    /// Timestamp column.
    pub timestamp: Option<String>,
    /// Join keys.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Series keys.
    pub series: Option<Vec<String>>,
    /// Model-version column.
    pub model_version: Option<String>,
    /// Prediction column.
    pub prediction: Option<String>,
    /// Actual column.
    pub actual: Option<String>,
    /// Feature columns.
    #[serde(default)]
    pub features: Vec<String>,
}

/// The column mapping (canonical names where not given).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelColumns {
    /// Timestamp column.
    pub timestamp: String,
    /// Join keys.
    pub keys: Vec<String>,
    /// Series keys (default: keys that are not dates).
    pub series: Option<Vec<String>>,
    /// Model-version column.
    pub model_version: String,
    /// Prediction column.
    pub prediction: String,
    /// Actual column.
    pub actual: String,
    /// Feature columns.
    pub features: Vec<String>,
}

/// One watched model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelConfig {
    /// Registered model name; incidents' target.
    pub name: String,
    /// Serving alias (unused with `stage`).
    pub alias: String,
    /// Serving stage, for stage-based registries.
    pub stage: Option<String>,
    /// Prediction logs location.
    pub predictions: String,
    /// Actuals location.
    pub actuals: Option<String>,
    /// Columns.
    pub columns: ModelColumns,
    /// Metric name (validated).
    pub metric: String,
    /// Minimum relative effect.
    pub min_effect: f64,
    /// Significance level.
    pub alpha: f64,
    /// Fewest rows per version.
    pub min_rows: usize,
    /// Detector interval.
    pub check_every: Option<Duration>,
    /// Closure tolerance.
    pub tolerance: f64,
    /// Training data template (`{version}`).
    pub training_data: Option<String>,
    /// Reference data for validation.
    pub reference: Option<String>,
    /// MLflow run metric for the overfitting check.
    pub training_metric: Option<String>,
    /// KServe InferenceService.
    pub inference_service: Option<String>,
    /// Its namespace.
    pub namespace: Option<String>,
    /// A business metric tested before vs since the deployment.
    pub business: Option<BusinessMetric>,
}

impl ModelConfig {
    /// The training data of `version`, if configured.
    pub fn training_data_of(&self, version: &str) -> Option<String> {
        self.training_data
            .as_ref()
            .map(|template| template.replace("{version}", version))
    }
}

/// The metrics `models[].metric` accepts.
pub const METRICS: &[&str] = &["mae", "rmse", "mape", "smape", "wape", "bias"];
