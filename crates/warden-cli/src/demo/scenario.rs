//! The demo's week: a demand-forecast service whose metrics, generated from a seed, contain
//! each of the five incident types of the runbooks once, plus the ground truth the scripted
//! responder uses (which causes are real). Deterministic: the same seed gives the same week.

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use warden_core::Timestamp;
use warden_detect::Sample;

/// Minutes between samples.
pub const TICK_MINUTES: i64 = 5;

/// Ticks in the replayed week.
pub const TICKS: i64 = 7 * 24 * 60 / TICK_MINUTES;

/// SplitMix64: a tiny, well-mixed generator, enough for plausible noise.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[-1, 1)`.
    fn noise(&mut self) -> f64 {
        self.next() * 2.0 - 1.0
    }
}

/// One pipeline run.
#[derive(Debug, Clone)]
pub struct PipelineRun {
    /// When it ended.
    pub at: Timestamp,
    /// Its id.
    pub run_id: String,
    /// The failed task and its error, if it failed.
    pub error: Option<(&'static str, &'static str)>,
}

/// The generated week.
pub struct Week {
    /// Monday 00:00 UTC.
    pub start: Timestamp,
    /// Metric name → samples, one per tick (hourly metrics repeat within the hour).
    pub series: BTreeMap<&'static str, Vec<Sample>>,
    /// The daily training runs.
    pub runs: Vec<PipelineRun>,
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

/// Generates the week from `seed`.
pub fn generate(seed: u64) -> Week {
    let start = Utc
        .with_ymd_and_hms(2026, 11, 16, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut rng = Rng(seed);
    let mut series: BTreeMap<&'static str, Vec<Sample>> = BTreeMap::new();
    let mut drift_alerts = 0.0;
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
        // Thursday 08:00-14:00: a reference refresh makes the drift detector fire all day.
        if tick % 12 == 0 {
            let noisy = between(at, start, 3, (8, 0), (14, 0));
            drift_alerts = if noisy {
                6.0 + rng.noise().abs() * 2.0
            } else {
                (rng.next() * 0.3).floor()
            };
        }
        // Friday 14:00-16:30: materialization stops; freshness lag grows until it restarts.
        let stale_since = start + Duration::days(4) + Duration::hours(14);
        let freshness = if between(at, start, 4, (14, 0), (16, 30)) {
            ((at - stale_since).num_minutes() as f64) + 8.0
        } else {
            (tick % 2) as f64 * 5.0 + 3.0 + rng.next()
        };
        // Requests to the predictor: a daily cycle between 300 and 900 a minute (no noise, so
        // the other series draw the same random numbers as before it existed).
        let hour = (at - start).num_minutes() as f64 / 60.0;
        let requests = 600.0 - 300.0 * (std::f64::consts::TAU * (hour - 4.0) / 24.0).cos();
        for (name, value) in [
            ("requests_per_minute", requests),
            ("latency_p95_ms", p95),
            ("error_rate", errors.max(0.0)),
            ("drift_alerts_per_hour", drift_alerts),
            ("feature_freshness_minutes", freshness),
        ] {
            series.entry(name).or_default().push(Sample::new(at, value));
        }
    }
    let mut runs = Vec::new();
    for day in 0..7 {
        let failed = day == 2;
        runs.push(PipelineRun {
            at: start + Duration::days(day) + Duration::hours(2) + Duration::minutes(35),
            run_id: format!("scheduled__2026-11-{:02}T02:00:00", 16 + day),
            error: failed.then_some((
                "validate",
                "botocore.exceptions.NoCredentialsError: Unable to locate credentials",
            )),
        });
    }
    // Wednesday 06:00: the rerun after the credentials were fixed.
    runs.push(PipelineRun {
        at: start + Duration::days(2) + Duration::hours(6),
        run_id: "manual__2026-11-18T06:00:00".into(),
        error: None,
    });
    runs.sort_by_key(|run| run.at);
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
        runs,
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
        assert!(
            over("drift_alerts_per_hour", 3.0) >= 60,
            "the Thursday alert storm"
        );
        assert_eq!(a.runs.iter().filter(|run| run.error.is_some()).count(), 1);
        assert_eq!(a.series["latency_p95_ms"].len() as i64, TICKS);
    }
}
