//! Validation of `models:` (see [`crate::models`]).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::Checker;
use crate::models::{BusinessMetric, BusinessSource, METRICS, ModelColumns, ModelConfig, RawModel};

impl Checker<'_> {
    /// A data location: URLs (`s3://…`) as written, paths relative to the config file.
    pub(super) fn location(&mut self, field: &str, value: &Spanned<String>) -> String {
        if value.value.contains("://") {
            return self.text(field, value);
        }
        self.path(field, value).display().to_string()
    }

    fn fraction(
        &mut self,
        field: &str,
        value: Option<&Spanned<f64>>,
        default: f64,
        max: f64,
    ) -> f64 {
        match value {
            None => default,
            Some(v) if v.value > 0.0 && v.value <= max => v.value,
            Some(v) => {
                self.error(
                    v,
                    field,
                    format!("must be greater than 0 and at most {max}"),
                );
                default
            }
        }
    }

    pub(super) fn models(
        &mut self,
        raw: &[Spanned<RawModel>],
        have_prometheus: bool,
    ) -> Vec<ModelConfig> {
        let mut names = BTreeSet::new();
        let mut models = Vec::new();
        for (index, spanned) in raw.iter().enumerate() {
            let model = &spanned.value;
            let at = |field: &str| format!("models[{index}].{field}");
            let name = self.text(&at("name"), &model.name);
            if !names.insert(name.clone()) {
                self.error(
                    &model.name,
                    &at("name"),
                    format!("{name:?} is listed twice"),
                );
            }
            let alias = model
                .alias
                .as_ref()
                .map_or_else(|| "champion".to_string(), |a| self.text(&at("alias"), a));
            let stage = model.stage.as_ref().map(|stage| {
                let text = self.text(&at("stage"), stage);
                if model.alias.is_some() {
                    self.error(stage, &at("stage"), "give alias or stage, not both");
                }
                if !["Staging", "Production"].contains(&text.as_str()) {
                    self.error(
                        stage,
                        &at("stage"),
                        "a serving stage is Staging or Production",
                    );
                }
                text
            });
            let predictions = self.location(&at("predictions"), &model.predictions);
            let actuals = model
                .actuals
                .as_ref()
                .map(|a| self.location(&at("actuals"), a));
            let training_data = model
                .training_data
                .as_ref()
                .map(|t| self.location(&at("training_data"), t));
            let reference = model
                .reference
                .as_ref()
                .map(|r| self.location(&at("reference"), r));
            let columns = &model.columns;
            if actuals.is_some() && columns.keys.is_empty() {
                self.error(
                    model.actuals.as_ref().unwrap_or(&model.predictions),
                    &at("columns.keys"),
                    "joining actuals needs the key columns (columns.keys)",
                );
            }
            if training_data.is_some() && columns.keys.is_empty() {
                self.error(
                    model.training_data.as_ref().unwrap_or(&model.predictions),
                    &at("columns.keys"),
                    "the parity check needs the key columns (columns.keys)",
                );
            }
            let metric = match &model.metric {
                None => "wape".to_string(),
                Some(m) if METRICS.contains(&m.value.trim()) => m.value.trim().to_string(),
                Some(m) => {
                    self.error(
                        m,
                        &at("metric"),
                        format!("unknown metric (known: {})", METRICS.join(", ")),
                    );
                    "wape".to_string()
                }
            };
            let min_effect = self.fraction(&at("min_effect"), model.min_effect.as_ref(), 0.1, 10.0);
            let alpha = self.fraction(&at("alpha"), model.alpha.as_ref(), 0.05, 0.5);
            let tolerance = self.fraction(&at("tolerance"), model.tolerance.as_ref(), 0.1, 10.0);
            let min_rows = match &model.min_rows {
                None => 30,
                Some(v) if v.value >= 2 => v.value as usize,
                Some(v) => {
                    self.error(v, &at("min_rows"), "must be at least 2");
                    30
                }
            };
            let check_every = self.bounded_duration(
                &at("check_every"),
                model.check_every.as_ref(),
                Duration::from_secs(86_400),
            );
            let business = model.business.as_ref().and_then(|spanned| {
                let b = &spanned.value;
                let field = at("business");
                let source = match (&b.query, &b.data) {
                    (Some(query), None) => {
                        if !have_prometheus {
                            self.error(
                                spanned,
                                &field,
                                "a business query needs connectors.prometheus",
                            );
                        }
                        BusinessSource::Query(query.trim().to_string())
                    }
                    (None, Some(data)) => BusinessSource::Data {
                        location: if data.contains("://") {
                            data.clone()
                        } else {
                            self.base.join(data).display().to_string()
                        },
                        timestamp: b.timestamp.clone().unwrap_or_else(|| "timestamp".into()),
                        column: b.column.clone().unwrap_or_else(|| "value".into()),
                    },
                    _ => {
                        self.error(
                            spanned,
                            &field,
                            "give query (PromQL) or data (a file), one of them",
                        );
                        return None;
                    }
                };
                Some(BusinessMetric {
                    source,
                    higher_is_better: b.higher_is_better,
                })
            });
            let optional = |checker: &mut Self, field: &str, value: &Option<Spanned<String>>| {
                value.as_ref().map(|value| checker.text(&at(field), value))
            };
            models.push(ModelConfig {
                name,
                alias,
                stage,
                predictions,
                actuals,
                columns: ModelColumns {
                    timestamp: columns
                        .timestamp
                        .clone()
                        .unwrap_or_else(|| "timestamp".into()),
                    keys: columns.keys.clone(),
                    series: columns.series.clone(),
                    model_version: columns
                        .model_version
                        .clone()
                        .unwrap_or_else(|| "model_version".into()),
                    prediction: columns
                        .prediction
                        .clone()
                        .unwrap_or_else(|| "prediction".into()),
                    actual: columns.actual.clone().unwrap_or_else(|| "actual".into()),
                    features: columns.features.clone(),
                },
                metric,
                min_effect,
                alpha,
                min_rows,
                check_every,
                tolerance,
                training_data,
                reference,
                training_metric: optional(self, "training_metric", &model.training_metric),
                inference_service: optional(self, "inference_service", &model.inference_service),
                namespace: optional(self, "namespace", &model.namespace),
                business,
            });
        }
        models
    }
}
