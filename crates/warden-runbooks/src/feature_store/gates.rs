//! Runbook 4's closure gates judged from Feast and Redis (`feature_freshness_minutes`,
//! `online_matches_offline`, `materialization_succeeded`).

use std::time::Duration;

use warden_config::FeastConfig;
use warden_core::Incident;
use warden_engine::executor::{BoxFuture, GateEvaluator, GateVerdict};
use warden_feast::status::{self, FeastSources, StatusOptions};
use warden_runbook::Gate;

use super::sources;

/// Runbook 4's closure gates, judged from Feast and Redis.
pub struct FeastGates {
    sources: FeastSources,
    sla: Duration,
    repo: std::path::PathBuf,
}

/// The gate checks [`FeastGates`] judges.
pub const CHECKS: [&str; 3] = [
    "feature_freshness_minutes",
    "online_matches_offline",
    "materialization_succeeded",
];

impl FeastGates {
    /// Gates over `feast`'s sources.
    pub fn new(feast: &FeastConfig) -> Result<Self, String> {
        Ok(Self {
            sources: sources(feast)?,
            sla: feast.sla,
            repo: feast.repo.clone().unwrap_or_else(|| ".".into()),
        })
    }
}

impl GateEvaluator for FeastGates {
    fn evaluate<'a>(
        &'a self,
        _incident: &'a Incident,
        gate: &'a Gate,
        now: warden_core::Timestamp,
    ) -> BoxFuture<'a, Result<Option<GateVerdict>, String>> {
        Box::pin(async move {
            let check = gate.check.as_str();
            if !matches!(
                check,
                "feature_freshness_minutes"
                    | "online_matches_offline"
                    | "materialization_succeeded"
            ) {
                return Ok(None);
            }
            // The stricter of the runbook's threshold and the configured SLA: a gate must not
            // pass while the detector, judging by the SLA, still sees the views as stale.
            let sla = match (check, gate.below) {
                ("feature_freshness_minutes", Some(minutes)) => {
                    Duration::from_secs_f64((minutes * 60.0).max(1.0)).min(self.sla)
                }
                _ => self.sla,
            };
            let options = StatusOptions {
                sla,
                ..StatusOptions::default()
            };
            let found = status::collect(&self.sources, &options, now)
                .await
                .map_err(|err| err.to_string())?;
            let views = self
                .sources
                .registry
                .feature_views()
                .await
                .map_err(|err| err.to_string())?;
            let window = if gate.hold_for.is_zero() {
                warden_feast::closure::DEFAULT_WINDOW
            } else {
                gate.hold_for
            };
            let gates =
                warden_feast::closure::evaluate(&found, &views, &self.repo, window, self.sla);
            let wanted = match check {
                "feature_freshness_minutes" => "freshness_within_sla",
                other => other,
            };
            Ok(gates
                .into_iter()
                .find(|g| g.gate == wanted)
                .map(|g| GateVerdict {
                    passed: g.passed,
                    explanation: g.details.join("; "),
                }))
        })
    }
}
