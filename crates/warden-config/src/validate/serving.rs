//! Validation of `serving:` (see [`crate::serving`]).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_saphyr::Spanned;
use warden_core::parse_duration;

use super::Checker;
use crate::serving::{
    BurnRateConfig, BurnWindow, MetricsFlavor, QUERY_NAMES, RawService, ServiceConfig,
};

impl Checker<'_> {
    fn share(&mut self, field: &str, value: Option<&Spanned<f64>>, default: f64) -> f64 {
        let Some(value) = value else {
            return default;
        };
        if value.value > 0.0 && value.value < 1.0 {
            value.value
        } else {
            self.error(value, field, "must be a share between 0 and 1 (exclusive)");
            default
        }
    }

    pub(super) fn serving(
        &mut self,
        raw: &[Spanned<RawService>],
        have_kubernetes: bool,
    ) -> Vec<ServiceConfig> {
        let mut names = BTreeSet::new();
        let mut services = Vec::new();
        let day = Duration::from_secs(86_400);
        for (index, spanned) in raw.iter().enumerate() {
            let service = &spanned.value;
            let at = |field: &str| format!("serving[{index}].{field}");
            let name = self.text(&at("name"), &service.name);
            if !names.insert(name.clone()) {
                self.error(
                    &service.name,
                    &at("name"),
                    format!("{name:?} is listed twice"),
                );
            }
            let optional = |checker: &mut Self, field: &str, value: &Option<Spanned<String>>| {
                value.as_ref().map(|value| checker.text(&at(field), value))
            };
            let model = optional(self, "model", &service.model).unwrap_or_else(|| name.clone());
            let namespace = optional(self, "namespace", &service.namespace);
            let inference_service = optional(self, "inference_service", &service.inference_service);
            let deployment = optional(self, "deployment", &service.deployment);
            let hpa = optional(self, "hpa", &service.hpa);
            let pod_selector = optional(self, "pod_selector", &service.pod_selector);
            for (field, value) in [
                ("inference_service", &service.inference_service),
                ("deployment", &service.deployment),
                ("hpa", &service.hpa),
            ] {
                if let Some(value) = value
                    && !have_kubernetes
                {
                    self.error(value, &at(field), "needs connectors.kubernetes");
                }
            }
            let metrics = match service.metrics.as_ref().map(|m| m.value.trim()) {
                None | Some("mlserver") => MetricsFlavor::Mlserver,
                Some("kserve") => MetricsFlavor::Kserve,
                Some(other) => {
                    if let Some(value) = &service.metrics {
                        self.error(
                            value,
                            &at("metrics"),
                            format!("unknown metrics flavour {other:?} (mlserver or kserve)"),
                        );
                    }
                    MetricsFlavor::Mlserver
                }
            };
            let mut queries = std::collections::BTreeMap::new();
            for (query_name, query) in &service.queries {
                let field = at(&format!("queries.{query_name}"));
                if !QUERY_NAMES.contains(&query_name.as_str()) {
                    self.error(
                        query,
                        &field,
                        format!("unknown query (known: {})", QUERY_NAMES.join(", ")),
                    );
                }
                queries.insert(query_name.clone(), self.text(&field, query));
            }
            let latency_p95_ms = match &service.latency_p95_ms {
                Some(value) if value.value > 0.0 && value.value.is_finite() => value.value,
                Some(value) => {
                    self.error(value, &at("latency_p95_ms"), "must be a positive number");
                    200.0
                }
                None => 200.0,
            };
            let error_rate = self.share(&at("error_rate"), service.error_rate.as_ref(), 0.01);
            let sustain = self
                .bounded_duration(&at("for"), service.sustain.as_ref(), day)
                .unwrap_or(Duration::from_secs(120));
            let burn_rate = service.burn_rate.as_ref().map(|burn| {
                let objective = self.share(
                    &at("burn_rate.objective"),
                    burn.objective.as_ref(),
                    1.0 - error_rate,
                );
                let latency_objective = self.share(
                    &at("burn_rate.latency_objective"),
                    burn.latency_objective.as_ref(),
                    0.95,
                );
                let mut windows = Vec::new();
                for (i, window) in burn.windows.iter().enumerate() {
                    let field = at(&format!("burn_rate.windows[{i}]"));
                    let long = parse_duration(&window.value.long);
                    let short = parse_duration(&window.value.short);
                    match (long, short) {
                        (Ok(long), Ok(short))
                            if !short.is_zero()
                                && short < long
                                && long <= day * 31
                                && window.value.factor > 0.0 =>
                        {
                            windows.push(BurnWindow {
                                long,
                                short,
                                factor: window.value.factor,
                            });
                        }
                        (Err(err), _) | (_, Err(err)) => {
                            self.error(window, &field, err.to_string());
                        }
                        _ => self.error(
                            window,
                            &field,
                            "needs 0 < short < long ≤ 31d and a positive factor",
                        ),
                    }
                }
                if burn.windows.is_empty() {
                    windows = BurnRateConfig::default_windows();
                }
                BurnRateConfig {
                    objective,
                    latency_objective,
                    windows,
                }
            });
            let check_every = self.bounded_duration(
                &at("check_every"),
                service.check_every.as_ref(),
                Duration::from_secs(3600),
            );
            let deployment_window = self
                .bounded_duration(
                    &at("deployment_window"),
                    service.deployment_window.as_ref(),
                    day * 7,
                )
                .unwrap_or(Duration::from_secs(3600));
            let hpa_lag = self
                .bounded_duration(&at("hpa_lag"), service.hpa_lag.as_ref(), day)
                .unwrap_or(Duration::from_secs(300));
            services.push(ServiceConfig {
                name,
                model,
                namespace,
                inference_service,
                deployment,
                hpa,
                pod_selector,
                metrics,
                queries,
                latency_p95_ms,
                error_rate,
                sustain,
                burn_rate,
                check_every,
                deployment_window,
                hpa_lag,
            });
        }
        services
    }
}
