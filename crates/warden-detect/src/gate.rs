//! Closure gates on a series: does the metric satisfy the condition continuously for the last
//! `hold_for`, ending now? Gaps in the data do not count as holding: a gate needs evidence.

use std::time::Duration;

use serde::Serialize;
use warden_core::Timestamp;

use crate::{Direction, Sample};

/// The verdict of a gate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Whether the gate holds.
    pub passed: bool,
    /// How long the condition has held continuously up to now.
    pub held_for_seconds: i64,
    /// The worst value inside the window that counted.
    pub worst: Option<f64>,
    /// A sentence for the timeline.
    pub explanation: String,
}

/// Evaluates "`direction` `threshold` for `hold_for`" at `now` on `samples` (time order).
/// A sample older than `max_gap` before the next one (or before `now`) breaks continuity.
pub fn evaluate(
    samples: &[Sample],
    direction: Direction,
    threshold: f64,
    hold_for: Duration,
    max_gap: Duration,
    now: Timestamp,
) -> Verdict {
    let relevant: Vec<&Sample> = samples.iter().filter(|sample| sample.at <= now).collect();
    let gap = chrono::Duration::from_std(max_gap).unwrap_or(chrono::Duration::MAX);
    let mut start: Option<Timestamp> = None;
    let mut worst: Option<f64> = None;
    let mut previous: Option<Timestamp> = None;
    for sample in &relevant {
        let continuous = previous.is_none_or(|before| sample.at - before <= gap);
        if direction.holds(sample.value, threshold) && continuous {
            if start.is_none() {
                worst = None;
            }
            start.get_or_insert(sample.at);
            worst = Some(match (worst, direction) {
                (None, _) => sample.value,
                (Some(w), Direction::Below) => w.max(sample.value),
                (Some(w), Direction::Above) => w.min(sample.value),
            });
        } else if direction.holds(sample.value, threshold) {
            start = Some(sample.at);
            worst = Some(sample.value);
        } else {
            start = None;
            worst = None;
        }
        previous = Some(sample.at);
    }
    let stale = previous.is_none_or(|last| now - last > gap);
    let held = match (start, stale) {
        (Some(start), false) => (now - start).num_seconds().max(0),
        _ => 0,
    };
    let needed = i64::try_from(hold_for.as_secs()).unwrap_or(i64::MAX);
    let passed = held >= needed && start.is_some() && !stale;
    let side = match direction {
        Direction::Below => "<",
        Direction::Above => ">",
    };
    let latest = relevant.last().map_or(f64::NAN, |sample| sample.value);
    let explanation = if passed && needed == 0 {
        // No duration asked: the gate judges the latest sample, and says so rather than
        // "for 0 min".
        format!("{side} {threshold} at the latest sample ({latest:.3})")
    } else if passed {
        format!(
            "{side} {threshold} for {} min (worst {:.3})",
            held / 60,
            worst.unwrap_or(f64::NAN)
        )
    } else if stale {
        "no recent data: the gate cannot be judged".to_string()
    } else {
        format!(
            "{side} {threshold} for only {} of {} min",
            held / 60,
            needed / 60
        )
    };
    Verdict {
        passed,
        held_for_seconds: held,
        worst,
        explanation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration as ChronoDuration, TimeZone, Utc};

    fn at(minute: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap() + ChronoDuration::minutes(minute)
    }

    fn series(values: &[f64]) -> Vec<Sample> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Sample::new(at(i as i64 * 5), *v))
            .collect()
    }

    const THIRTY_MIN: Duration = Duration::from_secs(1800);
    const GAP: Duration = Duration::from_secs(600);

    #[test]
    fn passes_only_after_holding_for_the_whole_window() {
        // p95 in ms every 5 minutes: a spike, then recovery from minute 15.
        let samples = series(&[
            450.0, 380.0, 250.0, 150.0, 140.0, 160.0, 130.0, 120.0, 150.0, 140.0,
        ]);
        let early = evaluate(&samples, Direction::Below, 200.0, THIRTY_MIN, GAP, at(35));
        assert!(!early.passed);
        assert_eq!(early.held_for_seconds, 20 * 60);
        let later = evaluate(&samples, Direction::Below, 200.0, THIRTY_MIN, GAP, at(45));
        assert!(later.passed, "{later:?}");
        assert_eq!(later.worst, Some(160.0));
    }

    #[test]
    fn a_relapse_restarts_the_clock() {
        let samples = series(&[150.0, 150.0, 150.0, 150.0, 150.0, 150.0, 210.0, 150.0]);
        let verdict = evaluate(&samples, Direction::Below, 200.0, THIRTY_MIN, GAP, at(35));
        assert!(!verdict.passed);
        assert_eq!(verdict.held_for_seconds, 0);
    }

    #[test]
    fn missing_data_never_passes_a_gate() {
        let samples = series(&[150.0, 150.0]);
        let verdict = evaluate(
            &samples,
            Direction::Below,
            200.0,
            Duration::ZERO,
            GAP,
            at(60),
        );
        assert!(!verdict.passed);
        assert!(verdict.explanation.contains("no recent data"));
        assert!(!evaluate(&[], Direction::Below, 200.0, Duration::ZERO, GAP, at(0)).passed);
    }

    #[test]
    fn a_gate_without_a_duration_judges_the_latest_sample_and_says_so() {
        let samples = series(&[28.0, 20.0, 3.5]);
        let verdict = evaluate(
            &samples,
            Direction::Below,
            15.0,
            Duration::ZERO,
            GAP,
            at(10),
        );
        assert!(verdict.passed);
        assert_eq!(verdict.explanation, "< 15 at the latest sample (3.500)");
    }
}
