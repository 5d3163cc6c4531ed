//! The configured PromQL detectors (`detectors:` in warden.yaml), for any runbook: each
//! evaluates its expression on its beat, feeds the worst value of the result to a
//! sustained-threshold detector, and turns a breach into a finding for the incident manager.

use std::collections::BTreeMap;
use std::time::Duration;

use warden_config::DetectorConfig;
use warden_connect::PrometheusClient;
use warden_core::{Finding, RunbookId, Timestamp};
use warden_detect::threshold::SustainedThreshold;
use warden_detect::{Direction, Sample};
use warden_engine::detect::{DetectError, Detector};
use warden_engine::executor::BoxFuture;

/// The value a result stands for: its worst series (highest for `above`, lowest for `below`).
fn worst(series: &[warden_connect::prometheus::Series], above: bool) -> Option<f64> {
    series
        .iter()
        .filter_map(|series| series.points.last().map(|(_, value)| *value))
        .filter(|value| value.is_finite())
        .reduce(|a, b| if above == (b > a) { b } else { a })
}

/// One `detectors:` entry.
pub struct PromqlDetector {
    config: DetectorConfig,
    client: PrometheusClient,
    threshold: SustainedThreshold,
}

impl PromqlDetector {
    /// The detector `config` describes, querying `client`.
    pub fn new(config: DetectorConfig, client: PrometheusClient) -> Self {
        let direction = if config.above {
            Direction::Above
        } else {
            Direction::Below
        };
        let threshold = SustainedThreshold::new(direction, config.threshold, config.sustain);
        Self {
            config,
            client,
            threshold,
        }
    }

    /// The finding a value read at `now` makes, if the breach has lasted long enough.
    pub fn observe(&mut self, value: f64, now: Timestamp) -> Option<Finding> {
        let detector = &self.config;
        let breach = self.threshold.observe(Sample::new(now, value))?;
        let side = if detector.above { ">" } else { "<" };
        Some(Finding {
            runbook: RunbookId::new(detector.runbook.clone()),
            target: detector.target.clone(),
            detector: detector.name.clone(),
            severity: detector.severity,
            summary: format!(
                "{}: {:.4} {side} {} since {}",
                detector.name,
                breach.latest,
                detector.threshold,
                breach.since.format("%H:%M:%S UTC")
            ),
            detected_at: now,
            measurements: BTreeMap::from([
                ("value".to_string(), breach.latest),
                ("worst".to_string(), breach.worst),
                ("threshold".to_string(), detector.threshold),
            ]),
            cause_key: None,
            alert: None,
        })
    }
}

impl Detector for PromqlDetector {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn every(&self) -> Duration {
        self.config.every
    }

    fn check<'a>(&'a mut self, now: Timestamp) -> BoxFuture<'a, Result<Vec<Finding>, DetectError>> {
        Box::pin(async move {
            let series = self
                .client
                .query(&self.config.query, Some(now))
                .await
                .map_err(|err| {
                    if err.is_retryable() {
                        DetectError::Unavailable(err.to_string())
                    } else {
                        DetectError::Invalid(err.to_string())
                    }
                })?;
            Ok(worst(&series, self.config.above)
                .and_then(|value| self.observe(value, now))
                .into_iter()
                .collect())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_breach_becomes_a_finding_only_once_it_has_lasted() {
        let config = DetectorConfig {
            name: "p95".into(),
            runbook: "serving-latency".into(),
            target: warden_core::Target::new(warden_core::TargetKind::Service, "forecast"),
            query: "vector(300)".into(),
            above: true,
            threshold: 200.0,
            sustain: Duration::from_secs(600),
            every: Duration::from_secs(60),
            severity: warden_core::Severity::Critical,
        };
        let client = PrometheusClient::from_config(&warden_config::PrometheusConfig {
            endpoint: warden_config::HttpEndpoint {
                url: "http://127.0.0.1:9/".parse().expect("url"),
                timeout: Duration::from_secs(1),
            },
        })
        .expect("client");
        let mut detector = PromqlDetector::new(config, client);
        let start = chrono::Utc
            .with_ymd_and_hms(2026, 11, 17, 10, 0, 0)
            .unwrap();
        let minute = chrono::Duration::minutes(1);
        assert!(detector.observe(300.0, start).is_none());
        assert!(detector.observe(300.0, start + minute * 5).is_none());
        let finding = detector
            .observe(310.0, start + minute * 10)
            .expect("sustained for ten minutes");
        assert_eq!(finding.runbook.as_str(), "serving-latency");
        assert_eq!(finding.measurements["value"], 310.0);
        assert!(
            finding.summary.starts_with("p95: 310.0000 > 200"),
            "{}",
            finding.summary
        );
    }
}
