//! The SLO check of one service (R2.1). Plain mode is the runbook's: p95 latency over the
//! SLA or the error rate over its limit, sustained for `for`. Burn-rate mode is the SRE
//! workbook's multi-window multi-burn-rate alert: for each window pair, the error budget
//! (errors, and requests slower than the SLA) must be burning faster than `factor` over both
//! the long and the short window — the long window proves it matters, the short one that it
//! is still happening — so one slow minute does not page and a recovered service stops
//! paging within the short window.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use warden_config::{BurnWindow, ServiceConfig};
use warden_connect::PrometheusClient;

use crate::queries::{SloQueries, promql_duration};

/// The rate window of plain mode: long enough to hold several scrapes, short enough to see a
/// spike within a minute.
pub const PLAIN_WINDOW: Duration = Duration::from_secs(60);

/// One burn-rate window pair, evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BurnReading {
    /// `errors` or `latency`.
    pub sli: &'static str,
    /// The long window, e.g. `1h`.
    pub long: String,
    /// The short window, e.g. `5m`.
    pub short: String,
    /// The factor both must exceed.
    pub factor: f64,
    /// Burn rate over the long window (bad share / budget).
    pub long_burn: Option<f64>,
    /// Burn rate over the short window.
    pub short_burn: Option<f64>,
    /// Both above the factor.
    pub firing: bool,
}

/// What one check saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloReading {
    /// When.
    pub at: DateTime<Utc>,
    /// p95 latency, ms, over [`PLAIN_WINDOW`] (`None`: no traffic).
    pub latency_p95_ms: Option<f64>,
    /// Error share over [`PLAIN_WINDOW`].
    pub error_rate: Option<f64>,
    /// Burn-rate pairs (burn-rate mode only).
    pub burn: Vec<BurnReading>,
    /// Why this reading is over the SLO (`None`: within it).
    pub breach: Option<String>,
}

impl SloReading {
    /// The numbers a finding carries.
    pub fn measurements(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        if let Some(p95) = self.latency_p95_ms {
            out.insert("latency_p95_ms".into(), p95);
        }
        if let Some(rate) = self.error_rate {
            out.insert("error_rate".into(), rate);
        }
        for burn in self.burn.iter().filter(|b| b.firing) {
            if let Some(value) = burn.long_burn {
                out.insert(format!("burn_{}_{}", burn.sli, burn.long), value);
            }
        }
        out
    }
}

/// The value of an instant query (at `at`, or now): its first series' latest finite value;
/// `None` for no data or NaN (a rate over no requests).
///
/// # Errors
/// Prometheus unreachable or the query refused.
pub async fn scalar(
    client: &PrometheusClient,
    query: &str,
    at: Option<DateTime<Utc>>,
) -> Result<Option<f64>, warden_connect::ConnectError> {
    Ok(client
        .query(query, at)
        .await?
        .iter()
        .filter_map(|s| s.points.last().map(|(_, v)| *v))
        .find(|v| v.is_finite()))
}

/// Plain-mode breach of one reading (before the `for` duration).
pub fn plain_breach(
    service: &ServiceConfig,
    p95: Option<f64>,
    errors: Option<f64>,
) -> Option<String> {
    let mut reasons = Vec::new();
    if let Some(p95) = p95.filter(|p| *p > service.latency_p95_ms) {
        reasons.push(format!(
            "p95 latency {p95:.0} ms > {:.0} ms",
            service.latency_p95_ms
        ));
    }
    if let Some(errors) = errors.filter(|e| *e > service.error_rate) {
        reasons.push(format!(
            "error rate {:.2}% > {:.2}%",
            errors * 100.0,
            service.error_rate * 100.0
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

/// A burn-rate pair fires when both windows burn faster than its factor.
pub fn burn_fires(window: &BurnWindow, long_burn: Option<f64>, short_burn: Option<f64>) -> bool {
    matches!((long_burn, short_burn), (Some(l), Some(s)) if l > window.factor && s > window.factor)
}

/// Checks `service` at `at`.
///
/// # Errors
/// Prometheus unreachable or a query refused (the message names the URL and query).
pub async fn check(
    client: &PrometheusClient,
    service: &ServiceConfig,
    at: DateTime<Utc>,
) -> Result<SloReading, String> {
    let queries = SloQueries::new(service);
    let latency_p95_ms = scalar(client, &queries.latency_p95_ms(PLAIN_WINDOW), Some(at))
        .await
        .map_err(|e| e.to_string())?;
    let error_rate = scalar(client, &queries.error_rate(PLAIN_WINDOW), Some(at))
        .await
        .map_err(|e| e.to_string())?;
    let mut reading = SloReading {
        at,
        latency_p95_ms,
        error_rate,
        burn: Vec::new(),
        breach: None,
    };
    let Some(burn) = &service.burn_rate else {
        reading.breach = plain_breach(service, latency_p95_ms, error_rate);
        return Ok(reading);
    };
    let error_budget = 1.0 - burn.objective;
    let latency_budget = 1.0 - burn.latency_objective;
    let mut firing = Vec::new();
    for window in &burn.windows {
        for (sli, budget) in [("errors", error_budget), ("latency", latency_budget)] {
            let query = |w| match sli {
                "errors" => queries.error_rate(w),
                _ => queries.slow_ratio(w),
            };
            let long = scalar(client, &query(window.long), Some(at))
                .await
                .map_err(|e| e.to_string())?
                .map(|v| v / budget);
            let short = scalar(client, &query(window.short), Some(at))
                .await
                .map_err(|e| e.to_string())?
                .map(|v| v / budget);
            let fires = burn_fires(window, long, short);
            let reading_pair = BurnReading {
                sli,
                long: promql_duration(window.long),
                short: promql_duration(window.short),
                factor: window.factor,
                long_burn: long,
                short_burn: short,
                firing: fires,
            };
            if fires {
                firing.push(format!(
                    "{sli} budget burning {:.1}x over {} and {:.1}x over {} (> {})",
                    long.unwrap_or_default(),
                    reading_pair.long,
                    short.unwrap_or_default(),
                    reading_pair.short,
                    window.factor
                ));
            }
            reading.burn.push(reading_pair);
        }
    }
    reading.breach = (!firing.is_empty()).then(|| firing.join("; "));
    Ok(reading)
}

/// Plain mode's `for`: a breach becomes a finding once it has lasted `sustain`; burn-rate
/// readings need no extra wait (their short window is the wait).
#[derive(Debug, Default)]
pub struct Sustain {
    since: Option<DateTime<Utc>>,
}

impl Sustain {
    /// Feeds one reading; returns the breach once it counts.
    pub fn observe(&mut self, service: &ServiceConfig, reading: &SloReading) -> Option<String> {
        let Some(breach) = &reading.breach else {
            self.since = None;
            return None;
        };
        if service.burn_rate.is_some() {
            return Some(breach.clone());
        }
        let since = *self.since.get_or_insert(reading.at);
        let lasted = (reading.at - since).to_std().unwrap_or_default();
        (lasted >= service.sustain).then(|| {
            format!(
                "{breach} for {}",
                warden_core::format_duration(lasted.max(Duration::from_secs(1)))
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_config::{BurnRateConfig, MetricsFlavor};

    fn service() -> ServiceConfig {
        crate::queries::tests::service(MetricsFlavor::Mlserver)
    }

    fn reading(at: i64, p95: f64) -> SloReading {
        let s = service();
        SloReading {
            at: DateTime::from_timestamp(at, 0).unwrap_or_default(),
            latency_p95_ms: Some(p95),
            error_rate: Some(0.0),
            burn: Vec::new(),
            breach: plain_breach(&s, Some(p95), Some(0.0)),
        }
    }

    #[test]
    fn plain_mode_needs_the_breach_to_last() {
        let s = service();
        let mut sustain = Sustain::default();
        assert_eq!(sustain.observe(&s, &reading(0, 350.0)), None);
        assert_eq!(sustain.observe(&s, &reading(60, 350.0)), None);
        let breach = sustain
            .observe(&s, &reading(120, 350.0))
            .unwrap_or_default();
        assert_eq!(breach, "p95 latency 350 ms > 200 ms for 2m");
        // One good reading resets it.
        assert_eq!(sustain.observe(&s, &reading(180, 90.0)), None);
        assert_eq!(sustain.observe(&s, &reading(240, 350.0)), None);
        assert_eq!(
            plain_breach(&s, Some(150.0), Some(0.02)).as_deref(),
            Some("error rate 2.00% > 1.00%")
        );
        assert_eq!(
            plain_breach(&s, None, None),
            None,
            "no traffic is no breach"
        );
    }

    #[test]
    fn a_pair_fires_only_when_both_windows_burn() {
        let window = &BurnRateConfig::default_windows()[0];
        assert!(burn_fires(window, Some(20.0), Some(15.0)));
        // One slow minute: the short window burns, the long one does not.
        assert!(!burn_fires(window, Some(2.0), Some(40.0)));
        // Recovered: the long window still burns, the short one stopped.
        assert!(!burn_fires(window, Some(20.0), Some(1.0)));
        assert!(!burn_fires(window, None, Some(40.0)));
    }
}
