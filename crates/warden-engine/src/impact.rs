//! What an incident cost in ML terms, for its post-mortem (R6.5): predictions served by a bad
//! model version or from stale features and the error they carried against actuals, requests
//! that failed or were slower than the SLO, training runs and hours lost. Runbook modules
//! register estimators that measure it from prediction logs, metrics and run history; every
//! figure names the query or file it came from, so a reader can check it.

use std::sync::Arc;

use serde::Serialize;
use warden_core::{Incident, IncidentState, TimelineKind, Timestamp};

use crate::handlers::BoxFuture;

/// The stretch of time an incident's impact is measured over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImpactWindow {
    /// When the incident opened.
    pub from: Timestamp,
    /// When it was resolved, or now.
    pub to: Timestamp,
    /// When its containment was done (the damage stopped growing), if it was.
    pub contained: Option<Timestamp>,
}

impl ImpactWindow {
    /// The window of `incident`: from its opening to its resolution (or `now`).
    pub fn of(incident: &Incident, now: Timestamp) -> Self {
        let contained = incident
            .timeline
            .iter()
            .find_map(|event| match &event.kind {
                TimelineKind::StateChanged { to, .. } if *to == IncidentState::Contained => {
                    Some(event.at)
                }
                _ => None,
            });
        Self {
            from: incident.opened_at,
            to: incident.resolved_at.unwrap_or(now).max(incident.opened_at),
            contained,
        }
    }

    /// Its length in hours.
    pub fn hours(&self) -> f64 {
        (self.to - self.from).num_seconds() as f64 / 3600.0
    }
}

/// One measured figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// What was measured (`requests failed`, `extra MAPE of model v8`).
    pub what: String,
    /// The value with its unit, as shown.
    pub value: String,
    /// The query, file or run history that produced it.
    pub source: String,
}

impl Figure {
    /// A figure.
    pub fn new(
        what: impl Into<String>,
        value: impl Into<String>,
        source: impl Into<String>,
    ) -> Self {
        Self {
            what: what.into(),
            value: value.into(),
            source: source.into(),
        }
    }
}

/// A count as figures show it: `1234567.8` → `1,234,568`.
pub fn count(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Measures the impact of incidents of one runbook.
pub trait ImpactEstimator: Send + Sync {
    /// The figures for `incident` over `window`; none when this estimator has nothing to say
    /// about that incident's target.
    ///
    /// # Errors
    /// A source that cannot be read, as a sentence naming it.
    fn estimate<'a>(
        &'a self,
        incident: &'a Incident,
        window: ImpactWindow,
    ) -> BoxFuture<'a, Result<Vec<Figure>, String>>;
}

/// What the estimators of an incident's runbook found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Impact {
    /// The figures, in the estimators' order.
    pub figures: Vec<Figure>,
    /// Sources that could not be read.
    pub problems: Vec<String>,
    /// Whether any estimator is registered for the runbook.
    pub estimated: bool,
}

/// Runs every estimator for `incident`; a failing one is reported, the others still count.
pub async fn measure(
    estimators: &[Arc<dyn ImpactEstimator>],
    incident: &Incident,
    now: Timestamp,
) -> Impact {
    let window = ImpactWindow::of(incident, now);
    let mut impact = Impact {
        estimated: !estimators.is_empty(),
        ..Impact::default()
    };
    for estimator in estimators {
        match estimator.estimate(incident, window).await {
            Ok(figures) => impact.figures.extend(figures),
            Err(problem) => impact.problems.push(problem),
        }
    }
    impact
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_grouped_in_thousands() {
        assert_eq!(super::count(1_234_567.8), "1,234,568");
        assert_eq!(super::count(999.0), "999");
        assert_eq!(super::count(-3.0), "0");
    }
}
