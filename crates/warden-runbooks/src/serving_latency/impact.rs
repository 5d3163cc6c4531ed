//! Runbook 2's ML impact, from Prometheus: over the incident's window, the requests the
//! service answered, those that failed (5xx) and those slower than its latency SLA — each from
//! the service's own counters and histogram (the queries the SLO check uses, evaluated over the
//! whole window at its end), so the numbers are counted, not estimated from a p95.

use std::sync::Arc;
use std::time::Duration;

use warden_connect::PrometheusClient;
use warden_core::Incident;
use warden_engine::executor::BoxFuture;
use warden_engine::impact::{Figure, ImpactEstimator, ImpactWindow, count};
use warden_serving::queries::SloQueries;

use super::Serving;

/// Counts a service's requests, failures and slow requests over an incident.
pub struct ServingImpact {
    /// The module's shared state.
    pub serving: Arc<Serving>,
}

/// The single value of an instant query (the sum over the service's series).
async fn scalar(
    prometheus: &PrometheusClient,
    query: &str,
    at: warden_core::Timestamp,
) -> Result<Option<f64>, String> {
    let series = prometheus
        .query(query, Some(at))
        .await
        .map_err(|err| format!("{query}: {err}"))?;
    Ok(series
        .iter()
        .filter_map(|s| s.points.last().map(|(_, v)| *v))
        .find(|v| v.is_finite()))
}

impl ServingImpact {
    async fn figures(
        &self,
        incident: &Incident,
        window: ImpactWindow,
    ) -> Result<Vec<Figure>, String> {
        let Ok(service) = self.serving.service(&incident.target) else {
            return Ok(Vec::new());
        };
        let prometheus = self.serving.prometheus().map_err(|err| err.message)?;
        let seconds = (window.to - window.from).num_seconds();
        if seconds < 60 {
            return Ok(Vec::new());
        }
        let span = Duration::from_secs(u64::try_from(seconds).unwrap_or(60));
        let queries = SloQueries::new(service);
        let at = window.to;
        let rate_query = queries.request_rate(span);
        let Some(rate) = scalar(prometheus, &rate_query, at).await? else {
            return Ok(Vec::new());
        };
        let requests = rate * seconds as f64;
        let over = |query: &str| format!("{query} × {seconds} s, at {}", at.to_rfc3339());
        let mut figures = vec![Figure::new(
            "requests answered while the incident was open",
            count(requests),
            over(&rate_query),
        )];
        let error_query = queries.error_rate(span);
        if let Some(share) = scalar(prometheus, &error_query, at).await? {
            figures.push(Figure::new(
                "requests failed (5xx)",
                format!("{} ({:.1}%)", count(requests * share), share * 100.0),
                over(&format!("({rate_query}) * ({error_query})")),
            ));
        }
        let slow_query = queries.slow_ratio(span);
        let (_, bound_ms) = queries.slow_bound();
        if let Some(share) = scalar(prometheus, &slow_query, at).await? {
            figures.push(Figure::new(
                format!("requests slower than {bound_ms:.0} ms (the SLA's histogram bucket)"),
                format!("{} ({:.1}%)", count(requests * share), share * 100.0),
                over(&format!("({rate_query}) * ({slow_query})")),
            ));
        }
        Ok(figures)
    }
}

impl ImpactEstimator for ServingImpact {
    fn source(&self) -> String {
        "Prometheus".into()
    }

    fn estimate<'a>(
        &'a self,
        incident: &'a Incident,
        window: ImpactWindow,
    ) -> BoxFuture<'a, Result<Vec<Figure>, String>> {
        Box::pin(self.figures(incident, window))
    }
}
