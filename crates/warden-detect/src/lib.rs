//! Pure detection logic: no I/O, no clock reads — samples and times are parameters, so every
//! detector replays exactly on recorded or generated data.
//!
//! - [`threshold`]: "this value stayed beyond that threshold for this long" — the runbooks'
//!   plain thresholds (p95 > 200 ms, freshness lag > 15 min, …) without paging on one bad
//!   sample.
//! - [`gate`]: closure gates evaluated on a series ("p95 < 200 ms for 30 consecutive
//!   minutes"), instead of a person watching a dashboard.
//! - [`classify`]: which cause a failed pipeline task's log and events point to (rules as data).

pub mod classify;
pub mod evaluate;
pub mod gate;
pub mod learn;
pub mod model;
pub mod threshold;

use warden_core::Timestamp;

/// One observation of a metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When it was observed.
    pub at: Timestamp,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// A sample.
    pub fn new(at: Timestamp, value: f64) -> Self {
        Self { at, value }
    }
}

/// Which side of the threshold is bad (for detectors) or good (for gates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Values above the threshold.
    Above,
    /// Values below the threshold.
    Below,
}

impl Direction {
    /// Whether `value` is on this side of `threshold` (strictly).
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Direction::Above => value > threshold,
            Direction::Below => value < threshold,
        }
    }
}
