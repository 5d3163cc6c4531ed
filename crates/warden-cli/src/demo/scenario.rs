//! The demo's week: the series of a demand-forecast service, generated from a seed — the
//! predictor's latency, errors and traffic (the Tuesday spike; the simulated Prometheus serves
//! them), when the feature materialization job fails (Friday afternoon) and the freshness lag
//! that follows — plus the ground truth the scripted responder falls back on (which causes
//! are real) where Warden leaves a cause open.
//! The pipeline's, the drift monitor's and the model's incidents come from the simulated
//! systems themselves (`world`). Deterministic: the same seed gives the same week.

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use warden_core::Timestamp;
use warden_core::rng::SplitMix;
use warden_detect::Sample;

/// Minutes between samples.
pub const TICK_MINUTES: i64 = 5;

/// Ticks in the replayed week.
pub const TICKS: i64 = 7 * 24 * 60 / TICK_MINUTES;

/// The generated week.
pub struct Week {
    /// Monday 00:00 UTC.
    pub start: Timestamp,
    /// Metric name → samples, one per tick (hourly metrics repeat within the hour).
    pub series: BTreeMap<&'static str, Vec<Sample>>,
    /// Runbook id → the cause names that are true in this week.
    pub true_causes: BTreeMap<&'static str, Vec<&'static str>>,
}

fn between(at: Timestamp, start: Timestamp, day: i64, from: (u32, u32), to: (u32, u32)) -> bool {
    let day_start = start + Duration::days(day);
    let begin =
        day_start + Duration::hours(i64::from(from.0)) + Duration::minutes(i64::from(from.1));
    let end = day_start + Duration::hours(i64::from(to.0)) + Duration::minutes(i64::from(to.1));
    at >= begin && at < end
}

/// Whether the feature materialization job fails at `at` (Friday 14:00–16:30: its source is
/// unreadable until the on-call fixes it) in the week starting `start`.
pub fn materialization_down(start: Timestamp, at: Timestamp) -> bool {
    between(at, start, 4, (14, 0), (16, 30))
}

/// Generates the week from `seed`.
pub fn generate(seed: u64) -> Week {
    let start = Utc
        .with_ymd_and_hms(2026, 11, 16, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut rng = SplitMix(seed);
    let mut series: BTreeMap<&'static str, Vec<Sample>> = BTreeMap::new();
    for tick in 0..TICKS {
        let at = start + Duration::minutes(tick * TICK_MINUTES);
        // Tuesday 10:00-11:10: a deployment makes the predictor slow and failing.
        let spike = between(at, start, 1, (10, 0), (11, 10));
        let p95 = if spike {
            420.0 + 40.0 * rng.noise()
        } else {
            115.0 + 20.0 * rng.noise()
        };
        let errors = if spike {
            0.03 + 0.01 * rng.noise()
        } else {
            0.002 + 0.001 * rng.noise()
        };
        // Friday 14:00-16:30: materialization stops; freshness lag grows until it restarts.
        let stale_since = start + Duration::days(4) + Duration::hours(14);
        let freshness = if materialization_down(start, at) {
            ((at - stale_since).num_minutes() as f64) + 8.0
        } else {
            (tick % 2) as f64 * 5.0 + 3.0 + rng.uniform()
        };
        // Requests to the predictor: a daily cycle between 300 and 900 a minute (no noise, so
        // the other series draw the same random numbers as before it existed).
        let hour = (at - start).num_minutes() as f64 / 60.0;
        let requests = 600.0 - 300.0 * (std::f64::consts::TAU * (hour - 4.0) / 24.0).cos();
        for (name, value) in [
            ("requests_per_minute", requests),
            ("latency_p95_ms", p95),
            ("error_rate", errors.max(0.0)),
            ("feature_freshness_minutes", freshness),
        ] {
            series.entry(name).or_default().push(Sample::new(at, value));
        }
    }
    let true_causes = BTreeMap::from([
        (
            "serving-latency",
            vec!["recent_deployment", "model_load_time"],
        ),
        ("pipeline-failure", vec!["missing_expired_secret"]),
        (
            "drift-detector",
            vec!["unrepresentative_reference", "false_positive_churn"],
        ),
        ("feature-store", vec!["materialization_failed"]),
        ("model-regression", vec!["overfitting"]),
    ]);
    Week {
        start,
        series,
        true_causes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_week_and_each_incident_is_in_it() {
        let (a, b) = (generate(7), generate(7));
        assert_eq!(a.series["latency_p95_ms"], b.series["latency_p95_ms"]);
        let over = |name: &str, threshold: f64| {
            a.series[name]
                .iter()
                .filter(|sample| sample.value > threshold)
                .count()
        };
        assert!(over("latency_p95_ms", 200.0) >= 12, "the Tuesday spike");
        assert!(
            over("feature_freshness_minutes", 15.0) >= 20,
            "the Friday staleness"
        );
        assert_eq!(a.series["latency_p95_ms"].len() as i64, TICKS);
    }
}
