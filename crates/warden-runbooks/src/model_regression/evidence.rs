//! Runbook 5's evidence (R5.2–R5.4), each a JSON artifact with a `kind` the judges look for:
//! a sample of the newest version's predictions from the degraded period; predictions and
//! features before vs after (`warden compare` on the two versions' rows); both versions'
//! accuracy and the regression test (`warden evaluate`); data checks on the recent actuals
//! and the training/serving parity of the newest version (`warden validate`); both versions'
//! registry metadata and training-run metrics (MLflow).

use std::sync::Arc;

use serde_json::{Value, json};
use warden_data::{ColumnKind, ColumnValues, Dataset};
use warden_drift::engine::{Rows, Side};
use warden_engine::executor::{
    ActionError, ActionRequest, BoxFuture, Collected, CollectorRegistry, EvidenceCollector,
};
use warden_eval::metrics::accuracy;
use warden_eval::validate::{Schema, parity, validate};

use super::{Analysis, Models, column_map};
use crate::common::actions::connect_error;
use crate::common::artifacts::artifact;

fn failed(message: String) -> ActionError {
    ActionError {
        message,
        retryable: false,
    }
}

/// Which collector.
#[derive(Clone, Copy)]
enum Kind {
    PredictionSample,
    ComparePredictions,
    EvaluateModel,
    ValidateData,
    RegistryMetadata,
}

struct Collector {
    models: Arc<Models>,
    kind: Kind,
}

/// Up to `limit` rows of `rows` of `dataset` as JSON objects: numbers as numbers.
fn sample_rows(dataset: &Dataset, rows: &[u32], limit: usize) -> Result<Vec<Value>, String> {
    let rows = &rows[rows.len().saturating_sub(limit)..];
    let mut objects: Vec<serde_json::Map<String, Value>> = vec![serde_json::Map::new(); rows.len()];
    for field in dataset.fields() {
        let Some(kind) = field.kind else { continue };
        // Numbers and times as themselves; anything else as text. (Reading a time zone'd
        // timestamp as text would need the time zone database; it is not needed.)
        let read_as = match kind {
            ColumnKind::Numeric | ColumnKind::Timestamp => kind,
            _ => ColumnKind::Categorical,
        };
        let column = dataset
            .read_column(&field.name, read_as)
            .map_err(|e| e.to_string())?;
        for (object, &row) in objects.iter_mut().zip(rows) {
            let value = match &column.values {
                ColumnValues::Numeric(v) => json!(v[row as usize]),
                ColumnValues::Categorical { codes, levels } => levels
                    .get(codes[row as usize] as usize)
                    .map_or(Value::Null, |l| json!(l)),
                ColumnValues::Timestamp(v) => {
                    match chrono::DateTime::from_timestamp_millis(v[row as usize]) {
                        Some(at) if v[row as usize] != warden_data::NULL_TIMESTAMP => {
                            json!(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                        }
                        _ => Value::Null,
                    }
                }
            };
            object.insert(field.name.clone(), value);
        }
    }
    Ok(objects.into_iter().map(Value::Object).collect())
}

impl Collector {
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, String> + Send + 'static,
    ) -> Result<T, ActionError> {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| failed(format!("evidence worker failed: {e}")))?
            .map_err(failed)
    }

    async fn analysis(
        &self,
        request: &ActionRequest,
    ) -> Result<(warden_config::ModelConfig, Arc<Analysis>), ActionError> {
        let model = self.models.model(&request.incident.target)?.clone();
        let analysis = super::analyse_async(&self.models, &model, request.now)
            .await
            .map_err(failed)?;
        Ok((model, analysis))
    }

    async fn prediction_sample(&self, request: &ActionRequest) -> Result<Collected, ActionError> {
        let (model, analysis) = self.analysis(request).await?;
        let limit = request
            .params
            .get("rows")
            .and_then(Value::as_u64)
            .unwrap_or(10_000) as usize;
        let candidate = analysis.candidate.clone();
        let location = model.predictions.clone();
        let version_column = model.columns.model_version.clone();
        let (total, sample) = self
            .blocking(move || {
                let dataset = Dataset::open(&location).map_err(|e| e.to_string())?;
                let rows = warden_eval::table::rows_where(&dataset, &version_column, &candidate)
                    .map_err(|e| e.to_string())?;
                Ok((rows.len(), sample_rows(&dataset, &rows, limit)?))
            })
            .await?;
        Ok(artifact(
            "prediction_sample",
            format!(
                "{} of {total} predictions of version {} (the latest)",
                sample.len(),
                analysis.candidate
            ),
            model.predictions.clone(),
            json!({"model": model.name, "version": analysis.candidate, "rows_total": total, "rows": sample}),
        ))
    }

    async fn compare_predictions(&self, request: &ActionRequest) -> Result<Collected, ActionError> {
        let (model, analysis) = self.analysis(request).await?;
        let (baseline, candidate) = (analysis.baseline.clone(), analysis.candidate.clone());
        let location = model.predictions.clone();
        let map = column_map(&model);
        let comparison = self
            .blocking(move || {
                let dataset = Arc::new(Dataset::open(&location).map_err(|e| e.to_string())?);
                let side = |version: &str| -> Result<Side, String> {
                    Ok(Side {
                        rows: Rows::Some(
                            warden_eval::table::rows_where(&dataset, &map.model_version, version)
                                .map_err(|e| e.to_string())?,
                        ),
                        dataset: dataset.clone(),
                        label: format!("version {version}"),
                    })
                };
                warden_eval::compare::compare(side(&baseline)?, side(&candidate)?, &map, &[], 10)
                    .map_err(|e| e.to_string())
            })
            .await?;
        let drifted: Vec<&str> = comparison
            .drift
            .columns
            .iter()
            .filter(|c| c.drifted)
            .map(|c| c.name.as_str())
            .collect();
        let features_drifted: Vec<&str> = comparison
            .drift
            .columns
            .iter()
            .filter(|c| c.drifted && c.role != "prediction")
            .map(|c| c.name.as_str())
            .collect();
        Ok(artifact(
            "compare_predictions",
            format!(
                "version {} vs {}: mean prediction {:.3} → {:.3}; drifted: {}",
                analysis.baseline,
                analysis.candidate,
                comparison.prediction_mean_before,
                comparison.prediction_mean_after,
                if drifted.is_empty() {
                    "nothing".to_string()
                } else {
                    drifted.join(", ")
                }
            ),
            model.predictions.clone(),
            json!({
                "model": model.name,
                "baseline": analysis.baseline,
                "candidate": analysis.candidate,
                "features_drifted": features_drifted,
                "comparison": comparison,
            }),
        ))
    }

    async fn evaluate_model(&self, request: &ActionRequest) -> Result<Collected, ActionError> {
        let (model, analysis) = self.analysis(request).await?;
        let scored = &analysis.scored;
        let season = request
            .params
            .get("season")
            .and_then(Value::as_u64)
            .unwrap_or(1) as usize;
        let baseline_rows = scored.rows_of_version(&analysis.baseline);
        let candidate_rows = scored.rows_of_version(&analysis.candidate);
        let baseline = accuracy(scored, Some(&baseline_rows), season);
        let candidate = accuracy(scored, Some(&candidate_rows), season);
        let c = &analysis.comparison;
        Ok(artifact(
            "evaluate_model",
            format!(
                "{}: version {} {} vs version {} {} ({:+.0}%, {} {})",
                c.metric.name(),
                c.candidate,
                warden_eval::metrics::shown(c.metric, c.candidate_value),
                c.baseline,
                warden_eval::metrics::shown(c.metric, c.baseline_value),
                100.0 * c.relative_change,
                c.method,
                c.verdict.name()
            ),
            model.predictions.clone(),
            json!({
                "model": model.name,
                "metric": c.metric.name(),
                "baseline": {"version": analysis.baseline, "accuracy": baseline},
                "candidate": {"version": analysis.candidate, "accuracy": candidate},
                "regression": c,
                "business": analysis.business,
            }),
        ))
    }

    async fn validate_data(&self, request: &ActionRequest) -> Result<Collected, ActionError> {
        let (model, analysis) = self.analysis(request).await?;
        let candidate = analysis.candidate.clone();
        let baseline = analysis.baseline.clone();
        let config = model.clone();
        let now_ms = request.now.timestamp_millis();
        let (checks, training_checks, parity_result) = self
            .blocking(move || {
                let checks = match &config.actuals {
                    Some(location) => {
                        let data = Dataset::open(location).map_err(|e| e.to_string())?;
                        let schema = match &config.reference {
                            Some(reference) => {
                                let reference =
                                    Dataset::open(reference).map_err(|e| e.to_string())?;
                                Schema::learn(&reference, &config.columns.keys, &[])
                                    .map_err(|e| e.to_string())?
                            }
                            None => Schema {
                                keys: config.columns.keys.clone(),
                                ..Schema::default()
                            },
                        };
                        Some(validate(&data, &schema, now_ms).map_err(|e| e.to_string())?)
                    }
                    None => None,
                };
                // The new version's training data against the previous version's: a changed
                // unit, a new category or a mislabelled batch shows here.
                let training_checks = match (
                    config.training_data_of(&baseline),
                    config.training_data_of(&candidate),
                ) {
                    (Some(before), Some(now)) => {
                        let before = Dataset::open(&before).map_err(|e| e.to_string())?;
                        let now = Dataset::open(&now).map_err(|e| e.to_string())?;
                        let schema = Schema::learn(&before, &config.columns.keys, &[])
                            .map_err(|e| e.to_string())?;
                        Some(validate(&now, &schema, now_ms).map_err(|e| e.to_string())?)
                    }
                    _ => None,
                };
                let parity_result = match config.training_data_of(&candidate) {
                    Some(location) => {
                        let training = Dataset::open(&location).map_err(|e| e.to_string())?;
                        let serving =
                            Dataset::open(&config.predictions).map_err(|e| e.to_string())?;
                        Some(
                            parity(
                                &training,
                                &serving,
                                &config.columns.keys,
                                &config.columns.features,
                                1e-6,
                                0.0,
                            )
                            .map_err(|e| e.to_string())?,
                        )
                    }
                    None => None,
                };
                Ok((checks, training_checks, parity_result))
            })
            .await?;
        let failed_checks: Vec<String> = checks
            .iter()
            .flat_map(|v| v.checks.iter().filter(|c| !c.ok))
            .map(|c| {
                format!(
                    "{} {}: {}",
                    c.check,
                    c.column.as_deref().unwrap_or(""),
                    c.detail
                )
            })
            .collect();
        let failed_training_checks: Vec<String> = training_checks
            .iter()
            .flat_map(|v| v.checks.iter().filter(|c| !c.ok))
            .map(|c| {
                format!(
                    "training data of version {}: {} {}: {}",
                    analysis.candidate,
                    c.check,
                    c.column.as_deref().unwrap_or(""),
                    c.detail
                )
            })
            .collect();
        let skewed: Vec<String> = parity_result
            .iter()
            .flat_map(|p| p.features.iter().filter(|f| f.mismatches > 0))
            .map(|f| format!("{} ({} of {} keys)", f.feature, f.mismatches, f.compared))
            .collect();
        let summary = format!(
            "data checks: {}; parity of version {}: {}",
            match (&checks, &training_checks) {
                (None, None) => "no actuals or training data configured".to_string(),
                _ if failed_checks.is_empty() && failed_training_checks.is_empty() =>
                    "all passed".to_string(),
                _ => format!(
                    "{} failed",
                    failed_checks.len() + failed_training_checks.len()
                ),
            },
            analysis.candidate,
            match &parity_result {
                None => "no training data configured".to_string(),
                Some(_) if skewed.is_empty() => "same features".to_string(),
                Some(_) => format!("differs on {}", skewed.join(", ")),
            }
        );
        Ok(artifact(
            "validate_data",
            summary,
            model
                .actuals
                .clone()
                .unwrap_or_else(|| model.predictions.clone()),
            json!({
                "model": model.name,
                "candidate": analysis.candidate,
                "checks": checks,
                "failed_checks": failed_checks,
                "training_checks": training_checks,
                "failed_training_checks": failed_training_checks,
                "parity": parity_result,
                "skewed_features": skewed,
            }),
        ))
    }

    async fn registry_metadata(&self, request: &ActionRequest) -> Result<Collected, ActionError> {
        let (model, analysis) = self.analysis(request).await?;
        let client = self
            .models
            .mlflow()
            .ok_or_else(|| failed("connectors.mlflow is not configured".into()))?;
        let alias = Models::registry_serving_version(&client, &model)
            .await
            .map_err(connect_error)?;
        let mut versions = Vec::new();
        for version in [&analysis.baseline, &analysis.candidate] {
            let found = client
                .get_model_version(&model.name, version)
                .await
                .map_err(connect_error)?;
            let metrics = match found.run_id.as_deref().filter(|r| !r.is_empty()) {
                Some(run_id) => client
                    .get_run(run_id)
                    .await
                    .map_err(connect_error)?
                    .data
                    .metric_map(),
                None => Default::default(),
            };
            versions.push(json!({"version": version, "registry": found, "run_metrics": metrics}));
        }
        Ok(artifact(
            "registry_metadata",
            format!(
                "MLflow {}: versions {} and {}, {} = {}",
                model.name,
                analysis.baseline,
                analysis.candidate,
                Models::serving_name(&model),
                alias.as_deref().unwrap_or("unset")
            ),
            format!("mlflow registered model {}", model.name),
            json!({
                "model": model.name,
                "serving": Models::serving_name(&model),
                "serving_version": alias,
                "training_metric": model.training_metric,
                "baseline": versions[0],
                "candidate": versions[1],
            }),
        ))
    }
}

impl EvidenceCollector for Collector {
    fn collect<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<Collected, ActionError>> {
        Box::pin(async move {
            match self.kind {
                Kind::PredictionSample => self.prediction_sample(request).await,
                Kind::ComparePredictions => self.compare_predictions(request).await,
                Kind::EvaluateModel => self.evaluate_model(request).await,
                Kind::ValidateData => self.validate_data(request).await,
                Kind::RegistryMetadata => self.registry_metadata(request).await,
            }
        })
    }
}

/// The catalogue evidence names this module collects.
pub const NAMES: [&str; 5] = [
    "prediction_sample",
    "compare_predictions",
    "evaluate_model",
    "validate_data",
    "registry_metadata",
];

/// Runbook 5's collectors by catalogue name.
pub fn collectors(models: &Arc<Models>) -> CollectorRegistry {
    let mut registry = CollectorRegistry::new();
    for (name, kind) in [
        ("prediction_sample", Kind::PredictionSample),
        ("compare_predictions", Kind::ComparePredictions),
        ("evaluate_model", Kind::EvaluateModel),
        ("validate_data", Kind::ValidateData),
        ("registry_metadata", Kind::RegistryMetadata),
    ] {
        let collector: Arc<dyn EvidenceCollector> = Arc::new(Collector {
            models: models.clone(),
            kind,
        });
        registry.insert(name.to_string(), collector);
    }
    registry
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_data::Column;

    /// Parquet timestamps carry a time zone (`UTC`); a sample shows them as RFC 3339 times.
    #[test]
    fn a_sample_shows_times_numbers_and_labels() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("logs.parquet");
        warden_data::write::write_parquet(
            &path,
            &[
                Column {
                    name: "timestamp".into(),
                    values: ColumnValues::Timestamp(vec![1_795_262_400_000, 1_795_266_000_000]),
                },
                Column {
                    name: "prediction".into(),
                    values: ColumnValues::Numeric(vec![1.5, 2.5]),
                },
                Column {
                    name: "model_version".into(),
                    values: ColumnValues::Categorical {
                        codes: vec![0, 1],
                        levels: vec!["1".into(), "2".into()],
                    },
                },
            ],
        )
        .expect("written");
        let dataset = Dataset::open(path.to_str().expect("utf-8")).expect("read");
        let sample = sample_rows(&dataset, &[0, 1], 10).expect("sampled");
        assert_eq!(sample[1]["timestamp"], "2026-11-21T13:00:00.000Z");
        assert_eq!(sample[1]["prediction"], 2.5);
        assert_eq!(sample[1]["model_version"], "2");
    }
}
