//! Runbook 5's closure gates (R5.6), judged from the systems themselves:
//! - `previous_version_serving`: MLflow's serving alias names the version before the one that
//!   regressed, and the model server really serves it — a replay of that version's logged
//!   requests (its features) through the server must give back the predictions it logged.
//! - `metrics_recovered`: predictions made within the gate's window (which the executor starts
//!   only after the rollback) are back within `tolerance` of the previous version's accuracy
//!   before the deployment, on at least `min_rows` rows.

use std::sync::Arc;

use warden_config::ModelConfig;
use warden_connect::inference::{InferenceClient, Layout};
use warden_core::Incident;
use warden_data::{ColumnKind, ColumnValues, Dataset, NULL_TIMESTAMP};
use warden_engine::executor::{BoxFuture, GateEvaluator, GateVerdict};
use warden_eval::metrics::accuracy;
use warden_runbook::Gate;

use super::{Analysis, Models};
use warden_eval::metrics::shown;

/// Requests replayed to tell which version the server serves.
const REPLAYED: usize = 20;

/// The gate checks [`ModelGates`] judges.
pub const CHECKS: [&str; 2] = ["previous_version_serving", "metrics_recovered"];

/// Evaluates runbook 5's gates for the models under `models:`.
pub struct ModelGates {
    models: Arc<Models>,
}

impl ModelGates {
    /// Gates for every configured model.
    pub fn new(models: Arc<Models>) -> Self {
        Self { models }
    }

    async fn previous_version_serving(
        &self,
        model: &ModelConfig,
        now: warden_core::Timestamp,
    ) -> Result<Option<GateVerdict>, String> {
        let Some(client) = self.models.mlflow() else {
            return Ok(None);
        };
        let analysis = super::analyse_async(&self.models, model, now).await?;
        let serving = Models::registry_serving_version(&client, model)
            .await
            .map_err(|e| e.to_string())?;
        let on_previous = serving.as_deref() == Some(analysis.baseline.as_str());
        let mut said = vec![format!(
            "MLflow {} = {} (the version before {} is {})",
            Models::serving_name(model),
            serving.as_deref().unwrap_or("unset"),
            analysis.candidate,
            analysis.baseline
        )];
        let served = match self.replay(model, &analysis).await? {
            Some((matched, replayed)) => {
                said.push(format!(
                    "the model server gave {matched} of {replayed} logged predictions of version {} back",
                    analysis.baseline
                ));
                matched == replayed
            }
            None => {
                said.push("the model server was not checked (connectors.model_server for this model and columns.features needed)".into());
                true
            }
        };
        Ok(Some(GateVerdict {
            passed: on_previous && served,
            explanation: said.join("; "),
        }))
    }

    /// Replays the previous version's logged requests: `(matched, replayed)`.
    async fn replay(
        &self,
        model: &ModelConfig,
        analysis: &Analysis,
    ) -> Result<Option<(usize, usize)>, String> {
        let Some(server) = self
            .models
            .config
            .connectors
            .model_server
            .as_ref()
            .filter(|s| s.model == model.name)
        else {
            return Ok(None);
        };
        if model.columns.features.is_empty() {
            return Ok(None);
        }
        let config = model.clone();
        let baseline = analysis.baseline.clone();
        let (features, logged) =
            tokio::task::spawn_blocking(move || replay_rows(&config, &baseline))
                .await
                .map_err(|e| e.to_string())??;
        if logged.is_empty() {
            return Ok(None);
        }
        let http = warden_connect::HttpClient::new(&server.endpoint).map_err(|e| e.to_string())?;
        let client = InferenceClient::new(http, &server.model, None, Layout::Columns);
        let scores = client
            .score(&model.columns.features, &features, REPLAYED, |_, _| {})
            .await
            .map_err(|e| e.to_string())?;
        let matched = scores
            .predictions
            .iter()
            .zip(&logged)
            .filter(|(served, logged)| (*served - *logged).abs() <= 1e-6 * logged.abs().max(1.0))
            .count();
        Ok(Some((matched, logged.len())))
    }

    async fn metrics_recovered(
        &self,
        model: &ModelConfig,
        gate: &Gate,
        now: warden_core::Timestamp,
    ) -> Result<Option<GateVerdict>, String> {
        let analysis = super::analyse_async(&self.models, model, now).await?;
        let scored = &analysis.scored;
        let Some(times) = &scored.timestamp else {
            return Ok(None);
        };
        let candidate_rows = scored.rows_of_version(&analysis.candidate);
        let deployed = candidate_rows
            .iter()
            .map(|&r| times[r as usize])
            .filter(|t| *t != NULL_TIMESTAMP)
            .min()
            .unwrap_or(i64::MAX);
        // Without a window: every prediction of the restored version after the last one of
        // the version that regressed.
        let since = if gate.hold_for.is_zero() {
            candidate_rows
                .iter()
                .map(|&r| times[r as usize])
                .max()
                .map_or(i64::MAX, |t| t + 1)
        } else {
            now.timestamp_millis() - gate.hold_for.as_millis() as i64
        };
        let (mut before, mut recent) = (Vec::new(), Vec::new());
        for &row in &scored.rows_of_version(&analysis.baseline) {
            let t = times[row as usize];
            if t < deployed {
                before.push(row);
            } else if t >= since {
                recent.push(row);
            }
        }
        let metric = super::options(model).metric;
        let window = warden_core::format_duration(gate.hold_for);
        if recent.len() < model.min_rows || before.is_empty() {
            return Ok(Some(GateVerdict {
                passed: false,
                explanation: format!(
                    "{} predictions of version {} with actuals in the last {window} (needs {})",
                    recent.len(),
                    analysis.baseline,
                    model.min_rows
                ),
            }));
        }
        let baseline = accuracy(scored, Some(&before), 1).get(metric).value;
        let now = accuracy(scored, Some(&recent), 1).get(metric).value;
        let limit = baseline.abs() * (1.0 + model.tolerance);
        Ok(Some(GateVerdict {
            passed: now.abs() <= limit,
            explanation: format!(
                "{} of version {} over the last {window}: {} on {} rows; before the deployment: {} (needs ≤ {}, {:.0}% tolerance)",
                metric.name(),
                analysis.baseline,
                shown(metric, now),
                recent.len(),
                shown(metric, baseline),
                shown(metric, limit),
                100.0 * model.tolerance
            ),
        }))
    }
}

/// The last [`REPLAYED`] logged rows of `version` that have every feature: their features
/// (one vector per feature) and their logged predictions.
fn replay_rows(model: &ModelConfig, version: &str) -> Result<(Vec<Vec<f64>>, Vec<f64>), String> {
    let dataset = Dataset::open(&model.predictions).map_err(|e| e.to_string())?;
    let rows = warden_eval::table::rows_where(&dataset, &model.columns.model_version, version)
        .map_err(|e| e.to_string())?;
    let numeric = |name: &str| match dataset.read_column(name, ColumnKind::Numeric) {
        Ok(column) => match column.values {
            ColumnValues::Numeric(values) => Ok(values),
            _ => Err(format!("{name}: not numeric")),
        },
        Err(err) => Err(err.to_string()),
    };
    let all_features = model
        .columns
        .features
        .iter()
        .map(|f| numeric(f))
        .collect::<Result<Vec<_>, _>>()?;
    let predictions = numeric(&model.columns.prediction)?;
    let usable: Vec<usize> = rows
        .iter()
        .map(|&r| r as usize)
        .filter(|&r| predictions[r].is_finite() && all_features.iter().all(|f| f[r].is_finite()))
        .collect();
    let chosen = &usable[usable.len().saturating_sub(REPLAYED)..];
    Ok((
        all_features
            .iter()
            .map(|f| chosen.iter().map(|&r| f[r]).collect())
            .collect(),
        chosen.iter().map(|&r| predictions[r]).collect(),
    ))
}

impl GateEvaluator for ModelGates {
    fn evaluate<'a>(
        &'a self,
        incident: &'a Incident,
        gate: &'a Gate,
        now: warden_core::Timestamp,
    ) -> BoxFuture<'a, Result<Option<GateVerdict>, String>> {
        Box::pin(async move {
            let Ok(model) = self.models.model(&incident.target) else {
                return Ok(None);
            };
            match gate.check.as_str() {
                "previous_version_serving" => self.previous_version_serving(model, now).await,
                "metrics_recovered" => self.metrics_recovered(model, gate, now).await,
                _ => Ok(None),
            }
        })
    }
}
