//! The scheduled detector interface: every runbook module's detectors implement [`Detector`],
//! and the daemon runs them all in one scheduling loop (one task per detector, each beat
//! `check(now)`, findings recorded and advanced by the engine, failures counted). Detectors
//! are given `now` rather than reading a clock, so their decisions are testable on any
//! timeline.

use std::time::Duration;

use warden_core::{Finding, Timestamp};

use crate::handlers::BoxFuture;

/// Why a detector's beat found nothing to judge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetectError {
    /// The source could not be read this beat (unreachable, timed out, 5xx): the next beat
    /// tries again.
    #[error("{0}")]
    Unavailable(String),
    /// The source answered with something that cannot be judged (bad query, missing column):
    /// it will not heal by itself.
    #[error("{0}")]
    Invalid(String),
}

/// One scheduled check that may turn into findings.
pub trait Detector: Send {
    /// The name it is counted and logged under (`serving_slo:demand-forecast`).
    fn name(&self) -> &str;

    /// How often it runs.
    fn every(&self) -> Duration;

    /// One beat at `now`: the findings it makes (usually none). State carried between beats
    /// (a threshold sustained for ten minutes) lives in the detector.
    fn check<'a>(&'a mut self, now: Timestamp) -> BoxFuture<'a, Result<Vec<Finding>, DetectError>>;
}
