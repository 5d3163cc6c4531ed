//! The responder's contract: what a person may do to an incident's steps, and when. Every
//! rule is checked here, once, so the API and the CLI refuse the same things with the same
//! reason ([`EngineError::Refused`], HTTP 409, exit 2):
//!
//! - nothing is decided, completed or retried on a resolved or closed incident;
//! - only an action whose approval is `manual` is approved or rejected, and only before it ran
//!   and while its `when` conditions can still hold; the same decision twice is a no-op, the
//!   opposite one is refused;
//! - a recorded outcome is changed only by a correction with a reason, and only for causes,
//!   gates and checklist items (an executed action is retried instead); the correction is its
//!   own audited event, and steps its old outcome had skipped run again;
//! - only a failed step is retried;
//! - resolving while closure gates have not passed needs an explicit override, and closes the
//!   steps still open as skipped with its reason.

use std::collections::HashMap;

use warden_core::{
    ActionRecord, ActionStatus, Actor, Clock, Decision, Incident, IncidentId, IncidentState,
};
use warden_runbook::{ApprovalPolicy, Outcome, Phase, Runbook, StepKind};
use warden_store::IncidentStore;

use crate::executor::{Gate, Progress};
use crate::{Engine, EngineError};

fn refused(incident: &IncidentId, reason: impl Into<String>) -> EngineError {
    EngineError::Refused {
        incident: incident.clone(),
        reason: reason.into(),
    }
}

impl<S: IncidentStore, C: Clock> Engine<S, C> {
    async fn active(&self, id: &IncidentId) -> Result<(Incident, &Runbook), EngineError> {
        let incident = self
            .manager()
            .store()
            .get_incident(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(id.clone()))?;
        if !incident.state.is_active() {
            return Err(refused(
                id,
                format!("{id} is {}: reopen it to change its steps", incident.state),
            ));
        }
        let runbook = self.runbook_of(&incident)?;
        Ok((incident, runbook))
    }

    async fn records(&self, id: &IncidentId) -> Result<HashMap<String, ActionRecord>, EngineError> {
        Ok(self
            .manager()
            .store()
            .actions_for(id)
            .await?
            .into_iter()
            .map(|record| (record.step.clone(), record))
            .collect())
    }

    fn unknown(id: &IncidentId, runbook: &Runbook, step: &str) -> EngineError {
        EngineError::UnknownStep {
            incident: id.clone(),
            runbook: runbook.id.to_string(),
            step: step.to_string(),
        }
    }

    /// A person approves or rejects a step; then the runbook advances, so an approved action
    /// runs now.
    ///
    /// # Errors
    /// [`EngineError::Refused`] outside the states where a decision makes sense (see the
    /// module's rules); unknown incident or step; store failures.
    pub async fn decide(
        &self,
        id: &IncidentId,
        step_id: &str,
        decision: Decision,
        actor: Actor,
        reason: &str,
    ) -> Result<(Incident, Progress), EngineError> {
        let (_, runbook) = self.active(id).await?;
        let step = runbook
            .step(step_id)
            .ok_or_else(|| Self::unknown(id, runbook, step_id))?;
        if !matches!(step.kind, StepKind::Action { .. }) {
            return Err(refused(
                id,
                format!(
                    "step {step_id} is not an action: nothing to approve (complete it instead)"
                ),
            ));
        }
        if step.approval != ApprovalPolicy::Manual {
            let policy = format!("{:?}", step.approval).to_lowercase();
            return Err(refused(
                id,
                format!("step {step_id} needs no approval (approval: {policy})"),
            ));
        }
        let approvals = self.manager().store().approvals_for(id).await?;
        if let Some(earlier) = approvals.iter().rev().find(|a| a.step == step_id) {
            if earlier.decision == decision {
                // The same decision again changes nothing.
                let progress = self.run(runbook, id, false).await?;
                return Ok((self.load_any(id).await?, progress));
            }
            return Err(refused(
                id,
                format!(
                    "step {step_id} was already {} by {}",
                    earlier.decision.as_str(),
                    earlier.actor.name()
                ),
            ));
        }
        let records = self.records(id).await?;
        if let Some(record) = records.get(step_id) {
            match record.status {
                ActionStatus::Running => {
                    return Err(refused(id, format!("step {step_id} is running")));
                }
                status if status.is_final() => {
                    return Err(refused(
                        id,
                        format!("step {step_id} is already {}", status.as_str()),
                    ));
                }
                _ => {}
            }
        }
        if let Gate::Skip(why) = self.executor(runbook).conditions(step, runbook, &records) {
            return Err(refused(id, format!("step {step_id} will not run: {why}")));
        }
        self.manager()
            .decide(id, runbook, step_id, decision, actor, reason)
            .await?;
        let progress = self.run(runbook, id, false).await?;
        Ok((self.load_any(id).await?, progress))
    }

    async fn load_any(&self, id: &IncidentId) -> Result<Incident, EngineError> {
        self.manager()
            .store()
            .get_incident(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(id.clone()))
    }

    /// A person records the outcome of a step Warden cannot do itself, or corrects a recorded
    /// outcome (a cause Warden refuted that the responder knows is confirmed); then the runbook
    /// advances with what it unblocked.
    ///
    /// # Errors
    /// [`EngineError::Refused`] outside the states where it makes sense; an outcome the step
    /// cannot have; unknown incident or step; store failures.
    pub async fn complete_step(
        &self,
        id: &IncidentId,
        step_id: &str,
        outcome: Outcome,
        actor: Actor,
        note: &str,
    ) -> Result<(ActionRecord, Progress), EngineError> {
        let (_, runbook) = self.active(id).await?;
        let step = runbook
            .step(step_id)
            .ok_or_else(|| Self::unknown(id, runbook, step_id))?;
        let records = self.records(id).await?;
        let executor = self.executor(runbook);
        match records.get(step_id) {
            Some(record) if record.status == ActionStatus::Running => {
                return Err(refused(id, format!("step {step_id} is running")));
            }
            Some(record) if record.status.is_final() => {
                let now = crate::executor::outcome_of(step, record);
                if now == Some(outcome) {
                    let progress = self.run(runbook, id, false).await?;
                    return Ok((record.clone(), progress));
                }
                let record = self
                    .correct(id, runbook, step_id, record, outcome, actor, note)
                    .await?;
                let progress = self.run(runbook, id, false).await?;
                return Ok((record, progress));
            }
            _ => {}
        }
        let record = executor
            .complete_step(id, runbook, step_id, outcome, actor, note)
            .await?;
        let progress = self.run(runbook, id, false).await?;
        Ok((record, progress))
    }

    /// Changes a recorded outcome, audited as its own event, and lets the steps the old
    /// outcome had skipped be judged again.
    #[allow(clippy::too_many_arguments)] // one caller; the correction spelled out
    async fn correct(
        &self,
        id: &IncidentId,
        runbook: &Runbook,
        step_id: &str,
        record: &ActionRecord,
        outcome: Outcome,
        actor: Actor,
        note: &str,
    ) -> Result<ActionRecord, EngineError> {
        let step = runbook
            .step(step_id)
            .ok_or_else(|| Self::unknown(id, runbook, step_id))?;
        match step.kind {
            StepKind::Cause { .. } | StepKind::Gate(_) | StepKind::Manual => {}
            StepKind::Action { .. } | StepKind::Evidence { .. } => {
                return Err(refused(
                    id,
                    format!(
                        "step {step_id} was executed ({}): its outcome is not a decision to change; retry it if it failed",
                        record.status.as_str()
                    ),
                ));
            }
        }
        if note.trim().is_empty() {
            return Err(refused(
                id,
                format!("changing step {step_id}'s recorded outcome needs a reason (a note)"),
            ));
        }
        let fits = match step.kind {
            StepKind::Cause { .. } => matches!(outcome, Outcome::Confirmed | Outcome::Refuted),
            StepKind::Gate(_) => matches!(outcome, Outcome::Passed | Outcome::Failed),
            _ => matches!(outcome, Outcome::Succeeded | Outcome::Failed),
        };
        if !fits {
            return Err(EngineError::BadOutcome {
                step: step_id.to_string(),
                outcome: format!("{outcome:?}").to_lowercase(),
            });
        }
        let word = format!("{outcome:?}").to_lowercase();
        let was = record
            .result
            .clone()
            .unwrap_or_else(|| record.status.as_str().into());
        let result = format!("{word} by {}: {note}", actor.name());
        let mut changed = record.clone();
        changed.status = if outcome == Outcome::Failed {
            ActionStatus::Failed
        } else {
            ActionStatus::Succeeded
        };
        changed.result = Some(result.clone());
        changed.updated_at = self.manager().clock().now();
        let store = self.manager().store();
        store.update_action(&changed).await?;
        // Steps skipped because of the old outcome are judged again from the new one.
        let records = self.records(id).await?;
        for dependent in &runbook.steps {
            let depends = dependent.when.iter().any(|c| c.step == step_id);
            if let Some(skipped) = records
                .get(&dependent.id)
                .filter(|r| depends && r.status == ActionStatus::Skipped)
            {
                let mut reopened = skipped.clone();
                reopened.status = ActionStatus::Pending;
                reopened.result = None;
                reopened.updated_at = changed.updated_at;
                store.update_action(&reopened).await?;
            }
        }
        self.manager()
            .note(
                id,
                actor,
                &format!("step {step_id} changed from {was} to {result}"),
                &format!("correct:{step_id}"),
            )
            .await?;
        Ok(changed)
    }

    /// Runs a failed step again: its record goes back to pending with no attempts (audited),
    /// and the runbook advances.
    ///
    /// # Errors
    /// [`EngineError::Refused`] unless the step failed and the incident is active; unknown
    /// incident or step; store failures.
    pub async fn retry_step(
        &self,
        id: &IncidentId,
        step_id: &str,
        actor: Actor,
    ) -> Result<(ActionRecord, Progress), EngineError> {
        let (_, runbook) = self.active(id).await?;
        runbook
            .step(step_id)
            .ok_or_else(|| Self::unknown(id, runbook, step_id))?;
        let records = self.records(id).await?;
        let Some(record) = records
            .get(step_id)
            .filter(|r| r.status == ActionStatus::Failed)
        else {
            let status = records
                .get(step_id)
                .map_or("not started", |r| r.status.as_str());
            return Err(refused(
                id,
                format!("step {step_id} is {status}: only a failed step is retried"),
            ));
        };
        let mut again = record.clone();
        again.status = ActionStatus::Pending;
        again.attempts = 0;
        again.result = None;
        again.updated_at = self.manager().clock().now();
        self.manager().store().update_action(&again).await?;
        let was = record.result.clone().unwrap_or_default();
        self.manager()
            .note(
                id,
                actor,
                &format!("step {step_id} retried (it had failed: {was})"),
                &format!("retry:{step_id}"),
            )
            .await?;
        let progress = self.run(runbook, id, false).await?;
        let record = self.records(id).await?.remove(step_id).unwrap_or(again);
        Ok((record, progress))
    }

    /// Resolves the incident. While closure gates have not passed, `override_reason` must say
    /// why it is resolved anyway; every step still open is then closed as skipped with it.
    ///
    /// # Errors
    /// [`EngineError::Refused`] for pending gates without an override; a lifecycle change
    /// the incident's state does not allow; store failures.
    pub async fn resolve(
        &self,
        id: &IncidentId,
        actor: Actor,
        reason: &str,
        override_reason: Option<&str>,
    ) -> Result<Incident, EngineError> {
        let (_, runbook) = self.active(id).await?;
        let records = self.records(id).await?;
        let open_gates: Vec<&str> = runbook
            .phase(Phase::Validation)
            .filter(|step| matches!(step.kind, StepKind::Gate(_)))
            .filter(|step| {
                !records
                    .get(&step.id)
                    .is_some_and(|r| r.status == ActionStatus::Succeeded)
            })
            .map(|step| step.id.as_str())
            .collect();
        let overriding = override_reason.map(str::trim).filter(|r| !r.is_empty());
        if !open_gates.is_empty() && overriding.is_none() {
            return Err(refused(
                id,
                format!(
                    "closure gates have not passed: {}; resolve with an override reason to close them as skipped",
                    open_gates.join(", ")
                ),
            ));
        }
        if let Some(why) = overriding {
            let now = self.manager().clock().now();
            let who = actor.name();
            for step in &runbook.steps {
                let open = records.get(&step.id).is_none_or(|r| !r.status.is_final());
                if !open {
                    continue;
                }
                if records
                    .get(&step.id)
                    .is_some_and(|r| r.status == ActionStatus::Running)
                {
                    return Err(refused(
                        id,
                        format!("step {} is running: resolve once it is done", step.id),
                    ));
                }
                let mut record = match records.get(&step.id) {
                    Some(record) => record.clone(),
                    None => {
                        self.manager()
                            .store()
                            .claim_action(id, &step.id, now)
                            .await?
                    }
                };
                record.status = ActionStatus::Skipped;
                record.result = Some(format!("skipped: resolved by {who} over open steps: {why}"));
                record.updated_at = now;
                self.manager().store().update_action(&record).await?;
            }
            self.manager()
                .note(
                    id,
                    actor.clone(),
                    &format!(
                        "resolved over closure gates that had not passed ({}): {why}",
                        if open_gates.is_empty() {
                            "none".to_string()
                        } else {
                            open_gates.join(", ")
                        }
                    ),
                    "resolve-override",
                )
                .await?;
        }
        let reason = if reason.trim().is_empty() {
            "resolved by a responder"
        } else {
            reason
        };
        self.manager()
            .transition(id, IncidentState::Resolved, actor, reason)
            .await
    }
}
