//! What else tells a deployment apart besides the logs' version column: the registry (for
//! logs that carry no version, the newest registered version's registry time splits them)
//! and a business metric (PromQL or a data file) tested before vs since the deployment with
//! the same statistics as accuracy.

use chrono::DateTime;
use warden_config::{BusinessSource, ModelConfig};
use warden_data::{ColumnKind, ColumnValues, Dataset, NULL_TIMESTAMP};
use warden_eval::Scored;
use warden_eval::regression::{self, Comparison};

use super::Models;

/// The registry's view of the latest deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryDeployment {
    /// The newest registered version.
    pub candidate: String,
    /// The one before it.
    pub baseline: String,
    /// When the newest version was last changed in the registry (created, or moved to a
    /// stage): the deployment, as far as the registry can tell.
    pub deployed_ms: i64,
    /// The version the alias (or stage) names now.
    pub serving: Option<String>,
}

/// The registry's latest deployment, if MLflow is configured and has two versions.
pub async fn from_registry(models: &Models, model: &ModelConfig) -> Option<RegistryDeployment> {
    let client = models.mlflow()?;
    let mut versions = client.search_model_versions(&model.name).await.ok()?;
    versions.sort_by_key(|v| v.number());
    let newest = versions.last()?;
    let previous = versions.iter().rev().nth(1)?;
    let serving = Models::registry_serving_version(&client, model)
        .await
        .ok()
        .flatten();
    Some(RegistryDeployment {
        candidate: newest.version.clone(),
        baseline: previous.version.clone(),
        deployed_ms: newest
            .last_updated_timestamp
            .or(newest.creation_timestamp)?,
        serving,
    })
}

/// Logs without a version column (one version `all`): rows before the deployment become the
/// baseline version's, rows since the candidate's. Anything else is left as it is.
pub fn label_by_registry(scored: &mut Scored, deployment: &RegistryDeployment) -> bool {
    let Some(times) = &scored.timestamp else {
        return false;
    };
    if scored.versions != ["all"] {
        return false;
    }
    scored.versions = vec![deployment.baseline.clone(), deployment.candidate.clone()];
    for (version, time) in scored.version.iter_mut().zip(times) {
        *version = u32::from(*time != NULL_TIMESTAMP && *time >= deployment.deployed_ms);
    }
    true
}

fn split(points: impl Iterator<Item = (i64, f64)>, deployed_ms: i64) -> (Vec<f64>, Vec<f64>) {
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for (at, value) in points.filter(|(_, v)| v.is_finite()) {
        if at < deployed_ms {
            before.push(value);
        } else {
            after.push(value);
        }
    }
    (before, after)
}

/// The business metric before vs since `deployed_ms`, over equal spans (at most 7 days
/// each) ending at `now` (the engine's), if the model has one.
///
/// # Errors
/// Prometheus or the data unreadable.
pub async fn business(
    models: &Models,
    model: &ModelConfig,
    deployed_ms: i64,
    now: warden_core::Timestamp,
) -> Result<Option<Comparison>, String> {
    let Some(metric) = &model.business else {
        return Ok(None);
    };
    let now = now.timestamp_millis();
    let span = (now - deployed_ms).clamp(60_000, 7 * 86_400_000);
    let (before, after) = match &metric.source {
        BusinessSource::Query(query) => {
            let prometheus = models
                .config
                .connectors
                .prometheus
                .as_ref()
                .ok_or("connectors.prometheus is not configured")?;
            let client = warden_connect::PrometheusClient::from_config(prometheus)
                .map_err(|e| e.to_string())?;
            let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap_or_default();
            let step = ((2 * span / 1000) / 200).max(15) as u32;
            let series = client
                .query_range(query, at(deployed_ms - span), at(now), step)
                .await
                .map_err(|e| e.to_string())?;
            let points = series
                .into_iter()
                .next()
                .map(|s| s.points)
                .unwrap_or_default();
            split(
                points.into_iter().map(|(t, v)| (t.timestamp_millis(), v)),
                deployed_ms,
            )
        }
        BusinessSource::Data {
            location,
            timestamp,
            column,
        } => {
            let (location, timestamp, column) =
                (location.clone(), timestamp.clone(), column.clone());
            tokio::task::spawn_blocking(move || -> Result<(Vec<f64>, Vec<f64>), String> {
                let data = Dataset::open(&location).map_err(|e| e.to_string())?;
                let times = match data
                    .read_column(&timestamp, ColumnKind::Timestamp)
                    .map_err(|e| e.to_string())?
                    .values
                {
                    ColumnValues::Timestamp(t) => t,
                    _ => return Err(format!("{location}: {timestamp} is not a timestamp")),
                };
                let values = match data
                    .read_column(&column, ColumnKind::Numeric)
                    .map_err(|e| e.to_string())?
                    .values
                {
                    ColumnValues::Numeric(v) => v,
                    _ => return Err(format!("{location}: {column} is not numeric")),
                };
                Ok(split(
                    times
                        .into_iter()
                        .zip(values)
                        // Up to `now`: rows after it are a replayed moment's future.
                        .filter(|(t, _)| {
                            *t != NULL_TIMESTAMP && *t >= deployed_ms - span && *t <= now
                        }),
                    deployed_ms,
                ))
            })
            .await
            .map_err(|e| e.to_string())??
        }
    };
    if before.is_empty() || after.is_empty() {
        return Ok(None);
    }
    Ok(Some(regression::business_series(
        &before,
        &after,
        metric.higher_is_better,
        &super::options(model),
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use super::*;
    use chrono::Utc;
    use warden_eval::regression::Verdict;

    /// `Models` for one model whose business metric is `business` (YAML flow mapping).
    fn models_with(dir: &std::path::Path, connectors: &str, business: &str) -> Arc<Models> {
        let text = format!(
            "{connectors}models:\n  - name: demand-forecast\n    predictions: logs\n    business: {business}\n"
        );
        let config = warden_config::parse(&dir.join("warden.yaml"), &text).unwrap();
        Models::from_config(&config).unwrap()
    }

    /// The business comparison of `models`' model at `now` for a deployment at `deployed`,
    /// checked to have found `verdict` with means near `before` and `after`.
    async fn compared(
        models: &Models,
        (deployed, now): (i64, DateTime<Utc>),
        verdict: Verdict,
        before: f64,
        after: f64,
    ) {
        let comparison = super::business(models, &models.models[0], deployed, now)
            .await
            .unwrap()
            .expect("a comparison");
        assert_eq!(comparison.verdict, verdict, "{comparison:?}");
        let near = |value: f64, wanted: f64| (value - wanted).abs() < 0.001;
        assert!(near(comparison.baseline_value, before), "{comparison:?}");
        assert!(near(comparison.candidate_value, after), "{comparison:?}");
    }

    /// Conversion read from a data file: 5% for two days before the deployment, 4% since —
    /// judged at the engine's `now`, a replayed moment: what the file holds after it (the
    /// moment's future) is not counted.
    #[tokio::test]
    async fn a_business_metric_from_a_data_file_is_tested_before_vs_since_the_deployment() {
        let dir = tempfile::tempdir().unwrap();
        let moment = DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let now = moment.timestamp_millis();
        let deployed = now - 2 * 86_400_000;
        let mut text = String::from("hour,conversion\n");
        for hour in 0..96_i64 {
            let at = now - (96 - hour) * 3_600_000;
            let base = if at < deployed { 0.050 } else { 0.040 };
            let time = DateTime::from_timestamp_millis(at).unwrap().to_rfc3339();
            text.push_str(&format!("{time},{}\n", base + (hour % 5) as f64 * 0.001));
        }
        for hour in 1..=48_i64 {
            let time = DateTime::from_timestamp_millis(now + hour * 3_600_000)
                .unwrap()
                .to_rfc3339();
            text.push_str(&format!("{time},0.9\n"));
        }
        // An hour before the span and a row without a value are not counted.
        text.push_str("2020-01-01T00:00:00Z,0.9\n2026-11-30T00:00:00Z,\n");
        let data = dir.path().join("conversion.csv");
        std::fs::write(&data, text).unwrap();
        let business = format!(
            "{{data: {}, timestamp: hour, column: conversion, higher_is_better: true}}",
            data.display()
        );
        let models = models_with(dir.path(), "", &business);
        compared(&models, (deployed, moment), Verdict::Worse, 0.052, 0.042).await;

        // A misnamed column is an error naming it, not "no comparison".
        let business = format!(
            "{{data: {}, timestamp: hour, column: revenue}}",
            data.display()
        );
        let models = models_with(dir.path(), "", &business);
        let err = super::business(&models, &models.models[0], deployed, moment)
            .await
            .unwrap_err();
        assert!(err.contains("revenue"), "{err}");
    }

    /// The same on the harness's real Prometheus, with a PromQL expression of time itself
    /// (no history needed): 5% before the deployment, 4% since, read by range queries.
    #[tokio::test]
    async fn a_business_metric_from_real_prometheus_is_tested_before_vs_since_the_deployment() {
        let Some(url) = warden_testkit::stack::require("PROMETHEUS_URL") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let deployed = Utc::now().timestamp_millis() - 2 * 3_600_000;
        let query = format!(
            "0.05 - 0.01 * (vector(time()) > bool {}) + (vector(time()) % 300) / 300000",
            deployed / 1000
        );
        let connectors = format!("connectors:\n  prometheus:\n    url: {url}\n");
        let business = format!("{{query: '{query}', higher_is_better: true}}");
        let models = models_with(dir.path(), &connectors, &business);
        compared(
            &models,
            (deployed, Utc::now()),
            Verdict::Worse,
            0.0505,
            0.0405,
        )
        .await;
        // Lower is better (an error rate): the same drop is an improvement, not a finding.
        let business = format!("{{query: '{query}'}}");
        let models = models_with(dir.path(), &connectors, &business);
        compared(
            &models,
            (deployed, Utc::now()),
            Verdict::Better,
            0.0505,
            0.0405,
        )
        .await;
    }

    #[test]
    fn logs_without_versions_are_split_at_the_registry_time() {
        let mut scored = Scored {
            prediction: vec![1.0; 4],
            actual: vec![1.0; 4],
            version: vec![0; 4],
            versions: vec!["all".into()],
            timestamp: Some(vec![10, 20, 30, NULL_TIMESTAMP]),
            series: vec![1; 4],
            key: vec![0; 4],
            ..Scored::default()
        };
        let deployment = RegistryDeployment {
            candidate: "7".into(),
            baseline: "6".into(),
            deployed_ms: 20,
            serving: Some("7".into()),
        };
        assert!(label_by_registry(&mut scored, &deployment));
        assert_eq!(scored.versions, ["6", "7"]);
        assert_eq!(scored.version, [0, 1, 1, 0]);
        // Logs that carry versions are left alone.
        assert!(!label_by_registry(&mut scored, &deployment));
    }

    #[test]
    fn points_split_at_the_deployment() {
        let (before, after) = split(
            vec![(1, 1.0), (5, f64::NAN), (9, 2.0), (10, 3.0)].into_iter(),
            9,
        );
        assert_eq!((before, after), (vec![1.0], vec![2.0, 3.0]));
    }
}
