//! Runbook 4's ML impact, from the Feast registry: for each online feature view, how long its
//! online features were older than the freshness SLA while the incident was open, and the
//! longest lag — reconstructed from the materialization intervals the registry records, each
//! taken as done at the end of its interval (Feast materializes up to "now") — and, with
//! `connectors.feast.requests_query`, the predictions served in those stale stretches, from
//! Prometheus.

use std::time::Duration;

use chrono::{DateTime, Utc};
use warden_connect::PrometheusClient;
use warden_core::{Incident, format_duration};
use warden_engine::executor::BoxFuture;
use warden_engine::impact::{Figure, ImpactEstimator, ImpactWindow, count};
use warden_feast::registry::Interval;
use warden_feast::status::FeastSources;

/// Measures how stale the online features were over an incident.
pub struct FeastImpact {
    /// The registry (and the rest of Feast).
    pub sources: FeastSources,
    /// The freshness SLA.
    pub sla: Duration,
    /// Prometheus and the request rate of the traffic reading the features, if configured.
    pub requests: Option<(PrometheusClient, String)>,
}

/// A stretch of time, `[start, end)`.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// How long features were older than `sla` within `window`, and the longest lag there, for a
/// view materialized over `intervals`; `None` when never materialized before the window ended.
pub fn staleness(
    intervals: &[Interval],
    window: ImpactWindow,
    sla: Duration,
) -> Option<(chrono::Duration, chrono::Duration)> {
    let (spans, worst) = stale_spans(intervals, window, sla)?;
    let over = spans
        .iter()
        .fold(chrono::Duration::zero(), |sum, (start, end)| {
            sum + (*end - *start)
        });
    Some((over, worst))
}

/// The stretches of `window` in which a view materialized over `intervals` was older than
/// `sla`, and the longest lag there; `None` when never materialized before the window ended.
pub fn stale_spans(
    intervals: &[Interval],
    window: ImpactWindow,
    sla: Duration,
) -> Option<(Vec<Span>, chrono::Duration)> {
    let sla = chrono::Duration::from_std(sla).unwrap_or(chrono::Duration::MAX);
    let mut ends: Vec<DateTime<Utc>> = intervals.iter().map(|i| i.end).collect();
    ends.sort_unstable();
    ends.dedup();
    // The freshest data at the window's start, then each materialization inside it.
    let mut current = *ends.iter().rev().find(|end| **end <= window.from)?;
    let mut spans: Vec<Span> = Vec::new();
    let mut worst = chrono::Duration::zero();
    let mut segment_start = window.from;
    for end in ends
        .iter()
        .copied()
        .filter(|end| *end > window.from && *end <= window.to)
        .chain(std::iter::once(window.to))
    {
        worst = worst.max(end - current);
        let stale_from = (current + sla).max(segment_start);
        if end > stale_from {
            match spans.last_mut() {
                Some(last) if last.1 == stale_from => last.1 = end,
                _ => spans.push((stale_from, end)),
            }
        }
        current = current.max(end.min(window.to));
        segment_start = end;
    }
    Some((spans, worst))
}

/// Requests served in `spans`: the rate's points (per second, each standing for the `step`
/// seconds that end at it) summed over the points inside a span.
pub fn requests_in(points: &[(DateTime<Utc>, f64)], spans: &[Span], step: i64) -> f64 {
    points
        .iter()
        .filter(|(at, rate)| {
            rate.is_finite() && spans.iter().any(|(start, end)| at > start && at <= end)
        })
        .map(|(_, rate)| rate * step as f64)
        .sum()
}

fn minutes(duration: chrono::Duration) -> String {
    format_duration(duration.to_std().unwrap_or_default())
}

impl ImpactEstimator for FeastImpact {
    fn source(&self) -> String {
        "the Feast registry".into()
    }

    fn estimate<'a>(
        &'a self,
        _incident: &'a Incident,
        window: ImpactWindow,
    ) -> BoxFuture<'a, Result<Vec<Figure>, String>> {
        Box::pin(async move {
            let views = self
                .sources
                .registry
                .feature_views()
                .await
                .map_err(|err| err.to_string())?;
            let project = self.sources.registry.project();
            let mut figures = Vec::new();
            let mut all_spans: Vec<Span> = Vec::new();
            for view in views.iter().filter(|view| view.online) {
                let Some((spans, worst)) =
                    stale_spans(&view.materialization_intervals, window, self.sla)
                else {
                    continue;
                };
                let over = spans
                    .iter()
                    .fold(chrono::Duration::zero(), |sum, (start, end)| {
                        sum + (*end - *start)
                    });
                if over <= chrono::Duration::zero() {
                    continue;
                }
                all_spans.extend(spans);
                figures.push(Figure::new(
                    format!(
                        "time {}'s online features were older than the {} SLA (longest lag)",
                        view.name,
                        format_duration(self.sla)
                    ),
                    format!("{} ({})", minutes(over), minutes(worst)),
                    format!(
                        "Feast registry of project {project}: materialization intervals of {}, each taken as done at its end",
                        view.name
                    ),
                ));
            }
            if let (Some((prometheus, query)), false) = (&self.requests, all_spans.is_empty()) {
                // A request is served stale when any view it reads is: the union of the spans.
                all_spans.sort_unstable();
                let step = ((window.to - window.from).num_seconds() / 1000).max(15);
                let series = prometheus
                    .query_range(query, window.from, window.to, step as u32)
                    .await
                    .map_err(|err| format!("requests_query: {err}"))?;
                let served: f64 = series
                    .iter()
                    .map(|s| requests_in(&s.points, &all_spans, step))
                    .sum();
                figures.push(Figure::new(
                    format!(
                        "predictions served with features older than the {} SLA",
                        format_duration(self.sla)
                    ),
                    count(served),
                    format!("{query} (Prometheus, step {step}s), summed over the stale stretches"),
                ));
            }
            Ok(figures)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, hour, minute, 0).unwrap()
    }

    fn materialized(ends: &[(u32, u32)]) -> Vec<Interval> {
        ends.iter()
            .map(|(h, m)| Interval {
                start: at(*h, *m) - chrono::Duration::minutes(10),
                end: at(*h, *m),
            })
            .collect()
    }

    /// Materialized every 10 minutes until 14:00, then nothing until 16:30; the incident
    /// 14:20–16:40.
    fn outage() -> (Vec<Interval>, ImpactWindow) {
        let intervals = materialized(&[(13, 40), (13, 50), (14, 0), (16, 30)]);
        let window = ImpactWindow {
            from: at(14, 20),
            to: at(16, 40),
            contained: None,
        };
        (intervals, window)
    }

    #[test]
    fn requests_count_only_inside_the_stale_stretches() {
        let (intervals, window) = outage();
        let (spans, _) = stale_spans(&intervals, window, Duration::from_secs(15 * 60)).unwrap();
        assert_eq!(spans, vec![(at(14, 20), at(16, 30))]);
        // 10 requests a second, a point a minute, from 14:00 to 17:00.
        let points: Vec<(DateTime<Utc>, f64)> = (0..=180)
            .map(|m| (at(14, 0) + chrono::Duration::minutes(m), 10.0))
            .collect();
        // The points after 14:20 up to 16:30: 130 minutes of 600 requests.
        assert_eq!(requests_in(&points, &spans, 60), 130.0 * 600.0);
        assert_eq!(requests_in(&points, &[], 60), 0.0);
    }

    #[test]
    fn stale_time_and_the_longest_lag_come_from_the_materialization_history() {
        let (intervals, window) = outage();
        let (over, worst) = staleness(&intervals, window, Duration::from_secs(15 * 60)).unwrap();
        // Older than 15 min from 14:20 (lag 20 min already) to 16:30: 130 min.
        assert_eq!(over.num_minutes(), 130);
        assert_eq!(worst.num_minutes(), 150, "14:00 → 16:30");
        // A view never materialized before the incident: nothing to measure.
        assert!(staleness(&materialized(&[(16, 30)]), window, Duration::from_secs(900)).is_none());
        // Fresh all along: no time over the SLA.
        let fresh = materialized(&[(14, 10), (14, 20), (14, 30), (14, 40)]);
        let short = ImpactWindow {
            from: at(14, 15),
            to: at(14, 45),
            contained: None,
        };
        let (over, _) = staleness(&fresh, short, Duration::from_secs(900)).unwrap();
        assert_eq!(over.num_minutes(), 0);
    }
}
