//! Runbook 2's detector: each service's SLO (`serving_slo`), checked every `check_every` on
//! Prometheus — a plain threshold sustained, or a firing burn-rate pair.

use std::sync::Arc;
use std::time::Duration;

use warden_config::ServiceConfig;
use warden_connect::PrometheusClient;
use warden_core::{Finding, RunbookId, Severity, Timestamp};
use warden_engine::detect::{DetectError, Detector};
use warden_engine::executor::BoxFuture;
use warden_serving::slo;

use super::{RUNBOOK, Serving, target};

/// One service's SLO check.
pub struct SloDetector {
    name: String,
    service: ServiceConfig,
    every: Duration,
    prometheus: PrometheusClient,
    sustain: slo::Sustain,
}

/// A detector for every service with `check_every` (and Prometheus configured).
pub fn detectors(serving: &Arc<Serving>) -> Vec<Box<dyn Detector>> {
    let Some(prometheus) = &serving.prometheus else {
        return Vec::new();
    };
    serving
        .services
        .iter()
        .filter_map(|service| {
            let every = service.check_every?;
            let detector: Box<dyn Detector> = Box::new(SloDetector {
                name: format!("serving_slo:{}", service.name),
                service: service.clone(),
                every,
                prometheus: prometheus.clone(),
                sustain: slo::Sustain::default(),
            });
            Some(detector)
        })
        .collect()
}

impl Detector for SloDetector {
    fn name(&self) -> &str {
        &self.name
    }

    fn every(&self) -> Duration {
        self.every
    }

    fn check<'a>(&'a mut self, now: Timestamp) -> BoxFuture<'a, Result<Vec<Finding>, DetectError>> {
        Box::pin(async move {
            let reading = slo::check(&self.prometheus, &self.service, now)
                .await
                .map_err(|err| DetectError::Unavailable(err.to_string()))?;
            let Some(breach) = self.sustain.observe(&self.service, &reading) else {
                return Ok(Vec::new());
            };
            Ok(vec![Finding {
                runbook: RunbookId::new(RUNBOOK),
                target: target(&self.service),
                detector: "serving_slo".into(),
                severity: Severity::Critical,
                summary: format!("{}: {breach}", self.service.name),
                detected_at: now,
                measurements: reading.measurements(),
                cause_key: None,
                alert: None,
            }])
        })
    }
}
