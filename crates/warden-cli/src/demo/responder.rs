//! The demo's scripted on-call engineer, and the plan-only handlers of the actions the demo
//! has no simulator for.
//!
//! The responder (actor `demo-responder`) does what a person would: approves waiting actions,
//! does the steps Warden does not automate yet, decides causes from the week's ground truth,
//! and checks the closure criteria that have no series behind them once the incident's
//! problem is over. Gates that have a series (p95, error rate, freshness, accuracy) are not
//! the responder's: Warden evaluates them on the replayed data and records them as itself.

use std::sync::Arc;
use std::time::Duration;

/// The scripted person's name in timelines and audit logs.
pub const PERSON: &str = "demo-responder";

use chrono::Duration as ChronoDuration;
use warden_core::{Actor, Clock, Decision, Incident, Timestamp};
use warden_detect::{Direction, gate};
use warden_engine::executor::{
    ActionError, ActionHandler, ActionRequest, BoxFuture, Executor, GateEvaluator, GateVerdict,
    Progress,
};
use warden_engine::registry::{EntryKind, Registries};
use warden_runbook::{Outcome, Phase, Runbook, StepKind, catalog};

use super::Manager;
use super::scenario::Week;
use crate::exit::Failure;

/// How long the responder takes to react to a new incident.
const RESPONSE_TIME: ChronoDuration = ChronoDuration::minutes(10);

/// An action handler that can only plan: every catalogue action the demo has no simulator
/// for (executing it records the plan, saying so).
struct PlanOnly {
    summary: &'static str,
}

impl ActionHandler for PlanOnly {
    fn plan<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            let params = serde_json::to_string(&request.params).unwrap_or_default();
            Ok(format!(
                "would {} on {} with {params}",
                self.summary, request.incident.target
            ))
        })
    }

    fn execute<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            let plan = self.plan(request).await?;
            Ok(format!(
                "not simulated in the demo, so only planned: {}",
                plan.trim_start_matches("would ")
            ))
        })
    }
}

/// Fills in what the runbook modules (assembled on the simulated systems) leave open, through
/// the same registrar as the daemon's: plan-only handlers for the catalogue's actions in the
/// common layer (a module's own handler wins for its runbook), the replayed series behind the
/// gates that have one and the replayed week's impact estimator.
pub fn fill(
    registries: &mut Registries,
    gates: &Arc<dyn GateEvaluator>,
    week: &Week,
) -> Result<(), warden_engine::registry::DuplicateEntry> {
    let mut common = registries.common();
    for entry in catalog::ACTIONS {
        if common.has(EntryKind::Action, entry.name) {
            continue;
        }
        common.action(
            entry.name,
            Arc::new(PlanOnly {
                summary: entry.summary,
            }),
        )?;
    }
    for check in REPLAYED_CHECKS {
        common.gate(check, gates.clone())?;
    }
    super::impact::register(registries, week);
    Ok(())
}

/// When the incident's underlying problem ends in the generated week.
fn problem_over(week: &Week, runbook: &str) -> Timestamp {
    let at = |day: i64, hour: i64, minute: i64| {
        week.start
            + ChronoDuration::days(day)
            + ChronoDuration::hours(hour)
            + ChronoDuration::minutes(minute)
    };
    match runbook {
        "serving-latency" => at(1, 11, 10),
        "pipeline-failure" => at(2, 6, 0),
        "drift-detector" => at(3, 14, 0),
        "feature-store" => at(4, 16, 30),
        _ => at(5, 12, 0),
    }
}

/// Gates judged by Warden on the replayed week, through the executor's gate interface — the
/// same path the daemon takes with Prometheus.
pub struct ReplayedGates {
    /// The week's series.
    pub series: std::collections::BTreeMap<&'static str, Vec<warden_detect::Sample>>,
    /// The replay clock.
    pub clock: Arc<warden_core::ManualClock>,
}

impl GateEvaluator for ReplayedGates {
    fn evaluate<'a>(
        &'a self,
        _incident: &'a Incident,
        gate_step: &'a warden_runbook::Gate,
        _now: warden_core::Timestamp,
    ) -> BoxFuture<'a, Result<Option<GateVerdict>, String>> {
        Box::pin(async move {
            let Some(series) = series_for(&gate_step.check) else {
                return Ok(None);
            };
            let (direction, threshold) = match (gate_step.below, gate_step.above) {
                (Some(below), _) => (Direction::Below, below),
                (_, Some(above)) => (Direction::Above, above),
                _ => return Ok(None),
            };
            let verdict = gate::evaluate(
                &self.series[series],
                direction,
                threshold,
                gate_step.hold_for,
                Duration::from_secs(15 * 60),
                self.clock.now(),
            );
            Ok(Some(GateVerdict {
                passed: verdict.passed,
                explanation: format!("replayed {series} series: {}", verdict.explanation),
            }))
        })
    }
}

/// The gate checks with a replayed series behind them.
const REPLAYED_CHECKS: [&str; 1] = ["feature_freshness_minutes"];

/// The series behind a gate check.
fn series_for(check: &str) -> Option<&'static str> {
    match check {
        "feature_freshness_minutes" => Some("feature_freshness_minutes"),
        _ => None,
    }
}

/// Acts on what waits.
pub async fn respond(
    manager: &Manager,
    executor: &Executor<'_, warden_store::Store, Arc<dyn Clock>>,
    runbook: &Runbook,
    incident: &Incident,
    progress: &Progress,
    week: &Week,
    now: Timestamp,
) -> Result<(), Failure> {
    let person = Actor::User(PERSON.into());
    let over = now >= problem_over(week, runbook.id.as_str());
    let true_causes = week
        .true_causes
        .get(runbook.id.as_str())
        .cloned()
        .unwrap_or_default();
    for (step_id, why) in &progress.waiting {
        let Some(step) = runbook.step(step_id) else {
            continue;
        };
        if why.starts_with("waiting for") {
            continue;
        }
        if let StepKind::Gate(_) = &step.kind {
            // Gates Warden evaluates (a module's, or a replayed series) are Warden's; the
            // responder checks only those it is asked to record.
            if over && why.contains("a responder records it") {
                executor
                    .complete_step(
                        &incident.id,
                        runbook,
                        step_id,
                        Outcome::Passed,
                        person.clone(),
                        "verified once the problem was over",
                    )
                    .await
                    .map_err(Failure::runtime)?;
            }
            continue;
        }
        if now - incident.opened_at < RESPONSE_TIME || (step.phase == Phase::Validation && !over) {
            continue;
        }
        if why == "awaiting approval" {
            manager
                .decide(
                    &incident.id,
                    runbook,
                    step_id,
                    Decision::Approved,
                    person.clone(),
                    "approved by the on-call",
                )
                .await
                .map_err(Failure::runtime)?;
            continue;
        }
        let (outcome, note) = match &step.kind {
            StepKind::Cause { name, .. } if true_causes.contains(&name.as_str()) => {
                (Outcome::Confirmed, "the evidence supports it")
            }
            StepKind::Cause { .. } => (Outcome::Refuted, "the evidence contradicts it"),
            _ => (Outcome::Succeeded, "done by the on-call"),
        };
        executor
            .complete_step(
                &incident.id,
                runbook,
                step_id,
                outcome,
                person.clone(),
                note,
            )
            .await
            .map_err(Failure::runtime)?;
    }
    Ok(())
}
