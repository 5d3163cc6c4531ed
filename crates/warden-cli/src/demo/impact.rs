//! The demo's ML-impact estimator for the feature-store incident, next to runbook 4's own
//! (which measures from the Feast registry how long the view was older than its SLA): the
//! predictions the predictor served meanwhile, from the week's traffic series — a figure the
//! daemon's module cannot give yet, as its configuration does not tie a feature view to the
//! traffic that reads it. The figure names the series it came from.

use std::collections::BTreeMap;

use warden_core::{Incident, RunbookId, Timestamp};
use warden_detect::Sample;
use warden_engine::executor::BoxFuture;
use warden_engine::impact::{Figure, ImpactEstimator, ImpactWindow, count};
use warden_engine::registry::Registries;

use super::scenario::{TICK_MINUTES, Week};

/// The freshness SLA of the demo's feature view.
const FRESHNESS_SLA_MINUTES: f64 = 15.0;

/// Registers the estimator of the feature-store incident, reading the replayed week.
pub fn register(registries: &mut Registries, week: &Week) {
    registries
        .runbook(RunbookId::FEATURE_STORE)
        .impact(std::sync::Arc::new(ReplayedStaleness {
            series: week.series.clone(),
        }));
}

/// The replayed freshness and request series.
struct ReplayedStaleness {
    series: BTreeMap<&'static str, Vec<Sample>>,
}

impl ReplayedStaleness {
    /// The samples of `name` in `[from, to)`.
    fn within(&self, name: &str, from: Timestamp, to: Timestamp) -> Vec<&Sample> {
        self.series
            .get(name)
            .map(|samples| {
                samples
                    .iter()
                    .filter(|s| s.at >= from && s.at < to)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn figures(&self, window: ImpactWindow) -> Vec<Figure> {
        let (from, to) = (window.from, window.to);
        let freshness = self.within("feature_freshness_minutes", from, to);
        let stale_ticks: Vec<Timestamp> = freshness
            .iter()
            .filter(|s| s.value > FRESHNESS_SLA_MINUTES)
            .map(|s| s.at)
            .collect();
        let stale: f64 = self
            .within("requests_per_minute", from, to)
            .iter()
            .filter(|s| stale_ticks.contains(&s.at))
            .map(|s| s.value * TICK_MINUTES as f64)
            .sum();
        let during = |name: &str| format!("replayed series {name}, {} – {}", day(from), day(to));
        vec![Figure::new(
            "predictions served with features older than the 15 min SLA",
            count(stale),
            during("requests_per_minute where feature_freshness_minutes > 15"),
        )]
    }
}

fn day(at: Timestamp) -> String {
    at.format("%a %H:%M").to_string()
}

impl ImpactEstimator for ReplayedStaleness {
    fn source(&self) -> String {
        "the replayed week".into()
    }

    fn estimate<'a>(
        &'a self,
        _incident: &'a Incident,
        window: ImpactWindow,
    ) -> BoxFuture<'a, Result<Vec<Figure>, String>> {
        Box::pin(async move { Ok(self.figures(window)) })
    }
}
