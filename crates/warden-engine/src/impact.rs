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
    /// What it reads (`Prometheus`, `the run history`), for a message when that fails.
    fn source(&self) -> String;

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

/// Longest one estimator may take: a post-mortem (and the console page that shows it) must
/// not hang on a slow source.
pub const ESTIMATE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Runs every estimator for `incident`; a failing or slow one is reported, the others still
/// count.
pub async fn measure(
    estimators: &[Arc<dyn ImpactEstimator>],
    incident: &Incident,
    now: Timestamp,
) -> Impact {
    measure_within(estimators, incident, now, ESTIMATE_TIMEOUT).await
}

/// [`measure`] with a given time limit per estimator.
pub async fn measure_within(
    estimators: &[Arc<dyn ImpactEstimator>],
    incident: &Incident,
    now: Timestamp,
    limit: std::time::Duration,
) -> Impact {
    let window = ImpactWindow::of(incident, now);
    let mut impact = Impact {
        estimated: !estimators.is_empty(),
        ..Impact::default()
    };
    for estimator in estimators {
        match tokio::time::timeout(limit, estimator.estimate(incident, window)).await {
            Ok(Ok(figures)) => impact.figures.extend(figures),
            Ok(Err(problem)) => impact.problems.push(problem),
            Err(_) => impact.problems.push(format!(
                "{} did not answer within {} s",
                estimator.source(),
                limit.as_secs_f64()
            )),
        }
    }
    impact
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Slow;

    impl ImpactEstimator for Slow {
        fn source(&self) -> String {
            "the slow store".into()
        }
        fn estimate<'a>(
            &'a self,
            _incident: &'a Incident,
            _window: ImpactWindow,
        ) -> BoxFuture<'a, Result<Vec<Figure>, String>> {
            Box::pin(async {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                Ok(Vec::new())
            })
        }
    }

    struct Quick;

    impl ImpactEstimator for Quick {
        fn source(&self) -> String {
            "the quick store".into()
        }
        fn estimate<'a>(
            &'a self,
            _incident: &'a Incident,
            _window: ImpactWindow,
        ) -> BoxFuture<'a, Result<Vec<Figure>, String>> {
            Box::pin(async { Ok(vec![Figure::new("requests failed", "12", "a query")]) })
        }
    }

    /// A slow source is reported, the others still count, and the draft does not wait.
    #[tokio::test]
    async fn a_slow_source_is_reported_and_the_others_still_count() {
        let now = chrono::Utc::now();
        let finding = warden_core::Finding {
            runbook: warden_core::RunbookId::new("serving-latency"),
            target: warden_core::Target::new(warden_core::TargetKind::Service, "demand"),
            detector: "test".into(),
            severity: warden_core::Severity::High,
            summary: "slow".into(),
            detected_at: now,
            measurements: Default::default(),
            cause_key: None,
            alert: None,
        };
        let incident = Incident::open(warden_core::IncidentId("INC-1".into()), &finding, now);
        let estimators: Vec<Arc<dyn ImpactEstimator>> = vec![Arc::new(Slow), Arc::new(Quick)];
        let impact = measure_within(
            &estimators,
            &incident,
            now,
            std::time::Duration::from_millis(50),
        )
        .await;
        assert_eq!(impact.figures.len(), 1);
        assert_eq!(
            impact.problems,
            ["the slow store did not answer within 0.05 s"]
        );
        assert!(impact.estimated);
    }

    #[test]
    fn counts_are_grouped_in_thousands() {
        assert_eq!(super::count(1_234_567.8), "1,234,568");
        assert_eq!(super::count(999.0), "999");
        assert_eq!(super::count(-3.0), "0");
    }
}
