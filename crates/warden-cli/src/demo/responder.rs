//! The demo's scripted on-call engineer.
//!
//! The responder (actor `demo-responder`) does what a person would: approves waiting actions,
//! does the steps Warden does not automate yet, decides causes from the week's ground truth
//! where Warden's judges leave them open, and checks the closure criteria Warden cannot judge
//! once the incident's problem is over. Gates judged from data (p95, error rate, freshness,
//! accuracy) are not the responder's: Warden evaluates them and records them as itself.

use std::sync::Arc;

use chrono::Duration as ChronoDuration;
use warden_core::{Actor, Clock, Decision, Incident, Timestamp};
use warden_engine::executor::{Executor, Progress};
use warden_runbook::{Outcome, Phase, Runbook, StepKind};

use super::Manager;
use super::scenario::Week;
use crate::exit::Failure;

/// The scripted person's name in timelines and audit logs.
pub const PERSON: &str = "demo-responder";

/// How long the responder takes to react to a new incident.
const RESPONSE_TIME: ChronoDuration = ChronoDuration::minutes(10);

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
            // Gates Warden evaluates (a module's) are Warden's; the responder checks only
            // those it is asked to record.
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
