//! A sustained-threshold detector: it fires once when a metric has been beyond its threshold
//! for at least `sustain`, and re-arms when the metric comes back. One slow sample does not
//! page; a breach that lasts does, once.

use std::time::Duration;

use warden_core::Timestamp;

use crate::{Direction, Sample};

/// A breach that lasted long enough to report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Breach {
    /// When the metric first crossed the threshold.
    pub since: Timestamp,
    /// The worst value seen so far in the breach.
    pub worst: f64,
    /// The latest value.
    pub latest: f64,
}

/// Watches one metric.
#[derive(Debug, Clone)]
pub struct SustainedThreshold {
    direction: Direction,
    threshold: f64,
    sustain: Duration,
    since: Option<Timestamp>,
    worst: Option<f64>,
    reported: bool,
}

impl SustainedThreshold {
    /// Fires when the metric stays on the `direction` side of `threshold` for `sustain`.
    pub fn new(direction: Direction, threshold: f64, sustain: Duration) -> Self {
        Self {
            direction,
            threshold,
            sustain,
            since: None,
            worst: None,
            reported: false,
        }
    }

    /// Feeds one sample (in time order); returns the breach the first time it qualifies.
    pub fn observe(&mut self, sample: Sample) -> Option<Breach> {
        if !sample.value.is_finite() || !self.direction.holds(sample.value, self.threshold) {
            self.since = None;
            self.worst = None;
            self.reported = false;
            return None;
        }
        let since = *self.since.get_or_insert(sample.at);
        let worst = match self.worst {
            Some(worst) if !self.direction.holds(sample.value, worst) => worst,
            _ => sample.value,
        };
        self.worst = Some(worst);
        let lasted = (sample.at - since).to_std().unwrap_or_default();
        if !self.reported && lasted >= self.sustain {
            self.reported = true;
            return Some(Breach {
                since,
                worst,
                latest: sample.value,
            });
        }
        None
    }

    /// Whether the metric is in breach right now (reported or not).
    pub fn in_breach(&self) -> bool {
        self.since.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration as ChronoDuration, TimeZone, Utc};

    fn at(minute: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap() + ChronoDuration::minutes(minute)
    }

    #[test]
    fn one_slow_sample_does_not_fire_a_sustained_breach_fires_once() {
        let mut p95 = SustainedThreshold::new(Direction::Above, 200.0, Duration::from_secs(600));
        assert_eq!(p95.observe(Sample::new(at(0), 450.0)), None);
        assert_eq!(
            p95.observe(Sample::new(at(5), 120.0)),
            None,
            "back to normal: re-armed"
        );
        let mut fired = Vec::new();
        for (minute, value) in [
            (10, 300.0),
            (15, 420.0),
            (20, 380.0),
            (25, 390.0),
            (30, 150.0),
        ] {
            if let Some(breach) = p95.observe(Sample::new(at(minute), value)) {
                fired.push((minute, breach));
            }
        }
        assert_eq!(fired.len(), 1);
        let (minute, breach) = fired[0];
        assert_eq!(minute, 20, "fires once the breach has lasted 10 minutes");
        assert_eq!(breach.since, at(10));
        assert_eq!((breach.worst, breach.latest), (420.0, 380.0));
        assert!(!p95.in_breach());
    }

    #[test]
    fn below_direction_and_non_finite_values() {
        let mut accuracy = SustainedThreshold::new(Direction::Below, 0.9, Duration::ZERO);
        assert!(accuracy.observe(Sample::new(at(0), f64::NAN)).is_none());
        let breach = accuracy.observe(Sample::new(at(1), 0.7)).unwrap();
        assert_eq!(breach.worst, 0.7);
    }
}
