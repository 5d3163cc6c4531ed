//! Runbook 3's ML impact, from the state of a monitor Warden runs itself: how many of its runs
//! raised drift while the incident was open (each a drift alert a team would have chased, and
//! a retraining its trigger would have started) and the retraining runs held for a person's
//! review. A team's own detector (`alerts.query`) keeps no such history here: nothing to say.

use std::sync::Arc;

use warden_core::Incident;
use warden_engine::executor::BoxFuture;
use warden_engine::impact::{Figure, ImpactEstimator, ImpactWindow};
use warden_engine::review::ReviewState;

use super::Monitors;

/// Counts a drift monitor's alerts and held retrainings over an incident.
pub struct DriftImpact {
    /// The module's shared state.
    pub monitors: Arc<Monitors>,
}

impl DriftImpact {
    fn figures(&self, incident: &Incident, window: ImpactWindow) -> Result<Vec<Figure>, String> {
        let Ok(monitor) = self.monitors.monitor(&incident.target) else {
            return Ok(Vec::new());
        };
        let state = self
            .monitors
            .states
            .load(&monitor.name)
            .map_err(|err| err.to_string())?;
        let source = format!(
            "runs of monitor {} kept in the data directory",
            monitor.name
        );
        let runs: Vec<_> = state
            .runs
            .iter()
            .filter(|run| run.at >= window.from && run.at <= window.to)
            .collect();
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let drifted = runs.iter().filter(|run| run.drifted).count();
        let mut figures = vec![Figure::new(
            "monitor runs that raised drift while the incident was open",
            format!("{drifted} of {}", runs.len()),
            source.clone(),
        )];
        let reviews: Vec<_> = state
            .reviews
            .iter()
            .filter(|review| review.opened_at >= window.from && review.opened_at <= window.to)
            .collect();
        if !reviews.is_empty() {
            let held = |wanted: ReviewState| reviews.iter().filter(|r| r.state == wanted).count();
            figures.push(Figure::new(
                "retraining runs held for review (pending, approved, rejected)",
                format!(
                    "{} ({}, {}, {})",
                    reviews.len(),
                    held(ReviewState::Pending),
                    held(ReviewState::Approved),
                    held(ReviewState::Rejected)
                ),
                format!("retraining reviews of monitor {}", monitor.name),
            ));
        }
        Ok(figures)
    }
}

impl ImpactEstimator for DriftImpact {
    fn source(&self) -> String {
        "the drift monitor's state".into()
    }

    fn estimate<'a>(
        &'a self,
        incident: &'a Incident,
        window: ImpactWindow,
    ) -> BoxFuture<'a, Result<Vec<Figure>, String>> {
        Box::pin(async move { self.figures(incident, window) })
    }
}
