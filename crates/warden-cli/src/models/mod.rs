//! Runbook 5 ("Model regression after deployment") in the daemon: the scheduled regression
//! detector for every model under `models:` (R5.1), the evidence collectors ([`evidence`]),
//! the cause judges ([`judges`]) and the closure gates ([`gates`]). Rollback is runbook 2's
//! shared `rollback_model` action, which finds its target here too. The statistics live in
//! `warden-eval`; this module connects them to the logs, MLflow and the model server.

pub mod evidence;
pub mod gates;
pub mod judges;

use std::sync::Arc;

use warden_config::{Config, ModelConfig};
use warden_core::{Finding, RunbookId, Severity, Target, TargetKind};
use warden_data::NULL_TIMESTAMP;
use warden_engine::executor::ActionError;
use warden_eval::metrics::Metric;
use warden_eval::regression::{self, Comparison, Options, Verdict};
use warden_eval::{ColumnMap, Scored, table};
use warden_server::AppState;

/// The built-in runbook model regressions open.
pub const RUNBOOK: &str = "model-regression";

/// What runbook 5's collectors, judges and gates share.
pub struct Models {
    /// The configured models.
    pub models: Vec<ModelConfig>,
    /// The whole configuration (MLflow, the model server).
    pub config: Config,
}

/// One look at a model's logs: the versions compared and the test's outcome.
pub struct Analysis {
    /// Predictions joined to actuals.
    pub scored: Scored,
    /// The version before the newest (by first prediction).
    pub baseline: String,
    /// The newest version.
    pub candidate: String,
    /// The version of the latest prediction: the one serving now.
    pub serving_now: String,
    /// Candidate against baseline.
    pub comparison: Comparison,
}

impl Models {
    /// From the configuration; `None` when no model is listed.
    pub fn from_config(config: &Config) -> Option<Arc<Self>> {
        (!config.models.is_empty()).then(|| {
            Arc::new(Self {
                models: config.models.clone(),
                config: config.clone(),
            })
        })
    }

    /// The model an incident is about.
    ///
    /// # Errors
    /// No `models:` entry has the target's name.
    pub fn model(&self, target: &Target) -> Result<&ModelConfig, ActionError> {
        self.models
            .iter()
            .find(|m| m.name == target.name)
            .ok_or_else(|| ActionError {
                message: format!(
                    "no models entry named {:?} in warden.yaml (models:)",
                    target.name
                ),
                retryable: false,
            })
    }

    /// An MLflow client, if configured.
    pub fn mlflow(&self) -> Option<warden_connect::MlflowClient> {
        self.config
            .connectors
            .mlflow
            .as_ref()
            .and_then(|c| warden_connect::MlflowClient::from_config(c).ok())
    }
}

/// The column mapping of a model.
pub fn column_map(model: &ModelConfig) -> ColumnMap {
    let c = &model.columns;
    ColumnMap {
        timestamp: c.timestamp.clone(),
        keys: c.keys.clone(),
        series: c.series.clone(),
        model_name: "model_name".into(),
        model_version: c.model_version.clone(),
        prediction: c.prediction.clone(),
        actual: c.actual.clone(),
        features: c.features.clone(),
    }
}

/// The regression test's options of a model.
pub fn options(model: &ModelConfig) -> Options {
    Options {
        metric: Metric::parse(&model.metric).unwrap_or(Metric::Wape),
        alpha: model.alpha,
        min_effect: model.min_effect,
        min_rows: model.min_rows,
    }
}

/// Reads the logs (and actuals) and joins them. Blocking.
///
/// # Errors
/// Unreadable data, named.
pub fn load(model: &ModelConfig) -> Result<Scored, String> {
    let predictions = warden_data::Dataset::open(&model.predictions).map_err(|e| e.to_string())?;
    let actuals = model
        .actuals
        .as_deref()
        .map(warden_data::Dataset::open)
        .transpose()
        .map_err(|e| e.to_string())?;
    table::load(&predictions, actuals.as_ref(), &column_map(model), None).map_err(|e| e.to_string())
}

/// The version of the latest prediction.
pub fn serving_now(scored: &Scored) -> Option<String> {
    let row = match &scored.timestamp {
        Some(times) => (0..scored.len())
            .filter(|&r| times[r] != NULL_TIMESTAMP)
            .max_by_key(|&r| times[r])?,
        None => scored.len().checked_sub(1)?,
    };
    Some(scored.versions[scored.version[row] as usize].clone())
}

/// Loads and tests the newest version against the one before it. Blocking.
///
/// # Errors
/// Unreadable data, or fewer than two versions in the logs.
pub fn analyse(model: &ModelConfig) -> Result<Analysis, String> {
    let scored = load(model)?;
    let order = scored.versions_by_first_seen();
    let (Some((candidate, _)), Some((baseline, _))) = (order.last(), order.iter().rev().nth(1))
    else {
        return Err(format!(
            "{}: one model version in the logs ({}); nothing to compare",
            model.predictions,
            order.first().map_or("none", |(v, _)| v.as_str())
        ));
    };
    let comparison = regression::versions(&scored, baseline, candidate, &options(model));
    Ok(Analysis {
        serving_now: serving_now(&scored).unwrap_or_default(),
        baseline: baseline.clone(),
        candidate: candidate.clone(),
        comparison,
        scored,
    })
}

/// Runs [`analyse`] off the async runtime.
///
/// # Errors
/// As [`analyse`], or the worker dying.
pub async fn analyse_async(model: &ModelConfig) -> Result<Analysis, String> {
    let model = model.clone();
    tokio::task::spawn_blocking(move || analyse(&model))
        .await
        .map_err(|e| format!("analysis worker failed: {e}"))?
}

/// The incident target of a model.
pub fn target(model: &ModelConfig) -> Target {
    let target = Target::new(TargetKind::Model, model.name.clone());
    match &model.namespace {
        Some(namespace) => target.in_namespace(namespace.clone()),
        None => target,
    }
}

/// The finding a regression makes, if the newest version is worse and still serving.
pub fn finding(
    model: &ModelConfig,
    analysis: &Analysis,
    now: warden_core::Timestamp,
) -> Option<Finding> {
    let c = &analysis.comparison;
    // A rolled-back version stays worse in the history; only the one serving now counts.
    if c.verdict != Verdict::Worse || analysis.serving_now != analysis.candidate {
        return None;
    }
    let metric = c.metric.name();
    Some(Finding {
        runbook: RunbookId::new(RUNBOOK),
        target: target(model),
        detector: "model_regression".into(),
        severity: Severity::High,
        summary: format!(
            "{}: version {} {metric} {} vs {} for version {} ({:+.0}%, p = {:.4}, {})",
            model.name,
            c.candidate,
            crate::commands::evaluate::shown(c.metric, c.candidate_value),
            crate::commands::evaluate::shown(c.metric, c.baseline_value),
            c.baseline,
            100.0 * c.relative_change,
            c.p_worse,
            c.method
        ),
        detected_at: now,
        measurements: [
            (format!("{metric}_candidate"), c.candidate_value),
            (format!("{metric}_baseline"), c.baseline_value),
            ("relative_change".to_string(), c.relative_change),
            ("p_worse".to_string(), c.p_worse),
        ]
        .into_iter()
        .collect(),
        cause_key: Some(format!("version {}", c.candidate)),
    })
}

/// Tests `model` every `every` until the daemon stops; a significant regression of the
/// version serving now is a `model_regression` finding. Unreadable logs are counted and
/// retried on the next beat.
pub async fn run_detector(
    model: ModelConfig,
    every: std::time::Duration,
    state: AppState,
    verbose: bool,
) {
    let name = format!("model_regression:{}", model.name);
    loop {
        match analyse_async(&model).await {
            Ok(analysis) => {
                state.metrics.detector_run(&name, true);
                if let Some(finding) = finding(&model, &analysis, state.manager.clock().now()) {
                    crate::detectors::report(&state, &name, &finding, verbose).await;
                }
            }
            Err(err) => {
                state.metrics.detector_run(&name, false);
                if verbose {
                    eprintln!("warden: {name}: {err}");
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}
