//! The runbook executor: walks an incident's runbook and does what each step says, as far as
//! it can today, persisting every action's state before and after it runs.
//!
//! Rules, per step, in runbook order:
//! - a step whose `when` conditions are not decided yet waits; one whose conditions are false
//!   is skipped;
//! - an action with a registered handler runs when its approval policy allows (`auto`, or
//!   `manual` with an approval; a rejection skips it; `never` records the plan only), with
//!   retries (exponential backoff, jitter, bounded attempts, retryable errors only) and a
//!   timeout per attempt; in dry-run mode only its plan is recorded;
//! - an evidence step with a registered [`EvidenceCollector`] that applies to the incident
//!   runs like an automatic action (same retries, timeout and crash safety); what it collects
//!   goes into the evidence store, linked from the incident's timeline, and the step's result
//!   names it;
//! - a cause step with a registered [`crate::judge::CauseJudge`] is decided by it once its
//!   `evidence_from` steps are done (confirmed or refuted, with a score and the reason); a
//!   gate with an evaluator that has data for it is judged from that data, once its window
//!   lies after the incident opened and after the last containment action, and once every
//!   fix action is decided and done (a gate verifies the fixes);
//! - everything else (manual items, undecided causes and gates, and actions or collectors that
//!   Warden does not automate yet) waits for a person to record its outcome with
//!   [`Executor::complete_step`].
//!
//! Crash safety: an action is marked `running` (and its attempt counted) in the store before
//! it executes and `succeeded`/`failed` after; the mark is a compare-and-set, so two executors
//! never run one step at once. A step found `running` when the acting process starts ran into
//! a crash; actions are idempotent, so [`Executor::recovering`] executes it again. A
//! `succeeded` step is never executed again: the store's record keyed by incident and step is
//! the proof.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use serde::Serialize;
use warden_core::{
    ActionRecord, ActionStatus, Actor, Clock, Decision, Incident, IncidentId, IncidentState,
};
use warden_runbook::{ApprovalPolicy, Condition, Outcome, Phase, Retry, Runbook, Step, StepKind};
use warden_store::{EvidenceStore, IncidentStore};

use crate::handlers::CaptureEvidence;
pub use crate::handlers::{
    ActionError, ActionHandler, ActionRegistry, ActionRequest, BoxFuture, Collected,
    CollectorRegistry, EvidenceCollector, GateEvaluator, GateSeries, GateVerdict, evidence_hash_in,
};
use crate::judge::JudgeRequest;
use crate::registry::{EntryKind, Registry};
use crate::{EngineError, IncidentManager};

/// Whether actions change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Execute actions.
    Live,
    /// Record plans only.
    DryRun,
}

/// What one [`Executor::advance`] did and what is left.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Steps executed (or planned, in dry-run) by this call.
    pub executed: Vec<String>,
    /// Steps skipped by this call, with why.
    pub skipped: Vec<(String, String)>,
    /// Steps that failed for good in this call, with the error.
    pub newly_failed: Vec<(String, String)>,
    /// Every step of the incident that is failed now (this call's and earlier ones), with the
    /// error: what a responder must look at (`warden incidents retry` runs one again).
    pub failed: Vec<(String, String)>,
    /// Steps waiting, with what they wait for.
    pub waiting: Vec<(String, String)>,
    /// The incident's state afterwards.
    pub state: Option<IncidentState>,
}

/// The outcome a step's record stands for, as `when` conditions see it.
pub fn outcome_of(step: &Step, record: &ActionRecord) -> Option<Outcome> {
    match record.status {
        ActionStatus::Succeeded => Some(match &step.kind {
            StepKind::Cause { .. } => {
                if record
                    .result
                    .as_deref()
                    .is_some_and(|result| result.starts_with("refuted"))
                {
                    Outcome::Refuted
                } else {
                    Outcome::Confirmed
                }
            }
            StepKind::Gate(_) => Outcome::Passed,
            _ => Outcome::Succeeded,
        }),
        ActionStatus::Failed => Some(Outcome::Failed),
        ActionStatus::Skipped | ActionStatus::Pending | ActionStatus::Running => None,
    }
}

/// Delay before attempt `attempt + 1` (attempt counts from 1): `base * 2^(attempt-1)`, capped,
/// with jitter drawn from the upper half so retries of many incidents do not align.
pub fn backoff(retry: &Retry, attempt: u32, jitter_seed: u64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    let full = retry.base.saturating_mul(1u32 << exponent).min(retry.cap);
    let half = full / 2;
    let spread = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
    let extra = if spread == 0 {
        0
    } else {
        jitter_seed % (spread + 1)
    };
    half + Duration::from_millis(extra)
}

fn jitter_seed(key: &str, attempt: u32) -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write(key.as_bytes());
    hasher.write_u32(attempt);
    hasher.finish()
}

/// What a step is run with besides the step itself.
struct StepInputs<'r> {
    approvals: &'r [warden_core::Approval],
    earlier_results: BTreeMap<String, String>,
    /// Where closure gates' windows may start ([`contained_at`]).
    contained_at: Option<warden_core::Timestamp>,
    /// A fix action not decided yet ([`open_fix`]): gates wait for it.
    open_fix: Option<String>,
}

/// Where a closure gate's window may start: after the incident opened and after the last
/// containment action that changed something (`None` while one is in flight). Containment
/// steps still waiting for a decision do not hold gates back: if the service recovers before
/// anyone decides, the data says so.
fn contained_at(
    incident: &Incident,
    runbook: &Runbook,
    records: &HashMap<String, ActionRecord>,
) -> Option<warden_core::Timestamp> {
    let mut latest = incident.opened_at;
    for step in runbook.phase(Phase::Containment) {
        if !matches!(step.kind, StepKind::Action { .. }) {
            continue;
        }
        match records.get(&step.id) {
            Some(record) if record.status == ActionStatus::Running => return None,
            Some(record) if record.status == ActionStatus::Succeeded => {
                latest = latest.max(record.updated_at);
            }
            _ => {}
        }
    }
    Some(latest)
}

/// The first fix action that is not final yet — waiting for its cause, for an approval, or
/// running. Closure gates verify the fixes, so they wait for it: judged earlier they would
/// test the system as it was before the fix (and pass or fail on the wrong settings).
fn open_fix(runbook: &Runbook, records: &HashMap<String, ActionRecord>) -> Option<String> {
    runbook
        .phase(Phase::Fixes)
        .filter(|step| matches!(step.kind, StepKind::Action { .. }))
        .find(|step| {
            records
                .get(&step.id)
                .is_none_or(|record| !record.status.is_final())
        })
        .map(|step| step.id.clone())
}

/// The failed steps among `records`, in runbook order, with their errors.
pub(crate) fn failed_steps(
    runbook: &Runbook,
    records: &HashMap<String, ActionRecord>,
) -> Vec<(String, String)> {
    runbook
        .steps
        .iter()
        .filter_map(|step| {
            let record = records.get(&step.id)?;
            (record.status == ActionStatus::Failed)
                .then(|| (step.id.clone(), record.result.clone().unwrap_or_default()))
        })
        .collect()
}

fn succeeded_results(records: &HashMap<String, ActionRecord>) -> BTreeMap<String, String> {
    records
        .iter()
        .filter(|(_, record)| record.status == ActionStatus::Succeeded)
        .filter_map(|(step, record)| Some((step.clone(), record.result.clone()?)))
        .collect()
}

/// Whether a step's `after` and `when` conditions let it run now.
pub(crate) enum Gate {
    Go,
    Skip(String),
    Wait(String),
}

/// An action this process executes, known to its leadership until it is done or given up.
struct InFlight<'a> {
    leadership: Option<&'a crate::Leadership>,
    key: String,
}

impl<'a> InFlight<'a> {
    fn begin(leadership: Option<&'a crate::Leadership>, key: &str) -> Self {
        if let Some(leadership) = leadership {
            leadership.begin(key);
        }
        Self {
            leadership,
            key: key.to_string(),
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(leadership) = self.leadership {
            leadership.end(&self.key);
        }
    }
}

/// Walks runbooks for incidents.
pub struct Executor<'a, S, C> {
    manager: &'a IncidentManager<S, C>,
    registry: &'a Registry,
    mode: Mode,
    recover: bool,
    evidence: Option<&'a EvidenceStore>,
    leadership: Option<&'a crate::Leadership>,
}

impl<'a, S: IncidentStore, C: Clock> Executor<'a, S, C> {
    /// An executor using `manager` and the implementations in `registry` (one runbook's,
    /// see [`crate::registry::Registries::for_runbook`]).
    pub fn new(manager: &'a IncidentManager<S, C>, registry: &'a Registry, mode: Mode) -> Self {
        Self {
            manager,
            registry,
            mode,
            recover: false,
            evidence: None,
            leadership: None,
        }
    }

    /// The same executor, starting actions only while `leadership` leads, each start fenced
    /// by its epoch in the store (several replicas on one store).
    pub fn with_leadership(mut self, leadership: &'a crate::Leadership) -> Self {
        self.leadership = Some(leadership);
        self
    }

    /// The same executor, storing what collectors gather in `store` and reading it back for
    /// cause judges. Without a store, evidence steps wait for a responder.
    pub fn with_evidence(mut self, store: &'a EvidenceStore) -> Self {
        self.evidence = Some(store);
        self
    }

    /// The same executor in recovery mode: actions found `running` (in flight when a previous
    /// process died) are executed again. Only for the start of the one process that acts,
    /// before it does anything else; without recovery a `running` action belongs to another
    /// executor and is left alone.
    pub fn recovering(mut self) -> Self {
        self.recover = true;
        self
    }

    /// Whether a `running` action is this executor's to execute again (unless an executor of
    /// this process is executing it): in recovery; or when its start was fenced by an older
    /// epoch than this leader's — its leader is gone, and a start that committed after this
    /// leader's recovery pass (a stall inside the start statement) would otherwise stay
    /// `running` until a restart; or by this leader's own epoch while no executor of this
    /// process runs it — one that stopped when this leader briefly lost its lease. An epoch
    /// belongs to one holder, so no other replica can be running it.
    fn takes_over(&self, record: &ActionRecord) -> bool {
        self.recover
            || self
                .leadership
                .and_then(crate::Leadership::fence)
                .zip(record.started_epoch)
                .is_some_and(|(fence, started)| started <= fence.epoch)
    }

    /// Whether a `running` action is another executor's: in flight elsewhere unless this
    /// executor takes it over (recovering, or started by a leader that is gone), and then
    /// only when no executor of this process is running it (recovery runs beside this
    /// process's work). Without this, a second executor's compare-and-set from `running`
    /// would succeed while the first is mid-attempt, and both would act.
    fn in_flight_elsewhere(&self, record: &ActionRecord) -> bool {
        record.status == ActionStatus::Running
            && (!self.takes_over(record)
                || self
                    .leadership
                    .is_some_and(|l| l.executing(&record.idempotency_key)))
    }

    pub(crate) fn conditions(
        &self,
        step: &Step,
        runbook: &Runbook,
        records: &HashMap<String, ActionRecord>,
    ) -> Gate {
        // `after: [phase]`: every step of that phase is final (done, failed or skipped).
        for phase in &step.after {
            let open = runbook.steps.iter().find(|earlier| {
                earlier.phase == *phase
                    && !records.get(&earlier.id).is_some_and(|record| {
                        matches!(
                            record.status,
                            ActionStatus::Succeeded | ActionStatus::Failed | ActionStatus::Skipped
                        )
                    })
            });
            if let Some(earlier) = open {
                return Gate::Wait(format!(
                    "waiting for the {} phase ({} is not done)",
                    phase.as_str(),
                    earlier.id
                ));
            }
        }
        for Condition { step: id, is } in &step.when {
            let Some(source) = runbook.step(id) else {
                return Gate::Skip(format!("condition on unknown step {id}"));
            };
            match records.get(id) {
                Some(record) if record.status == ActionStatus::Skipped => {
                    return Gate::Skip(format!("{id} was skipped"));
                }
                Some(record) => match outcome_of(source, record) {
                    Some(outcome) if outcome == *is => {}
                    Some(outcome) => {
                        return Gate::Skip(
                            format!("{id} is {outcome:?}, not {is:?}").to_lowercase(),
                        );
                    }
                    None => return Gate::Wait(format!("waiting for {id}")),
                },
                None => return Gate::Wait(format!("waiting for {id}")),
            }
        }
        Gate::Go
    }

    async fn save(&self, record: &ActionRecord) -> Result<(), EngineError> {
        self.manager.store().update_action(record).await?;
        Ok(())
    }

    async fn finish(
        &self,
        mut record: ActionRecord,
        status: ActionStatus,
        result: String,
    ) -> Result<ActionRecord, EngineError> {
        record.status = status;
        record.result = Some(result);
        record.updated_at = self.manager.clock().now();
        self.save(&record).await?;
        Ok(record)
    }

    /// Runs every step that can run now; returns what happened and what waits.
    ///
    /// # Errors
    /// Store failures (a failing action is recorded, not an error).
    pub async fn advance(
        &self,
        id: &IncidentId,
        runbook: &Runbook,
    ) -> Result<Progress, EngineError> {
        let store = self.manager.store();
        let incident = store
            .get_incident(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(id.clone()))?;
        let approvals = store.approvals_for(id).await?;
        let mut records: HashMap<String, ActionRecord> = store
            .actions_for(id)
            .await?
            .into_iter()
            .map(|record| (record.step.clone(), record))
            .collect();
        let mut progress = Progress::default();
        if !incident.state.is_active() {
            progress.state = Some(incident.state);
            progress.failed = failed_steps(runbook, &records);
            return Ok(progress);
        }
        for step in &runbook.steps {
            if records
                .get(&step.id)
                .is_some_and(|record| record.status.is_final())
            {
                continue;
            }
            let record = match records.get(&step.id) {
                Some(record) => record.clone(),
                // The claim returns the row as it is now: another executor may have claimed,
                // started or even finished the step since this pass read the records.
                None => {
                    store
                        .claim_action(id, &step.id, self.manager.clock().now())
                        .await?
                }
            };
            if record.status.is_final() {
                records.insert(step.id.clone(), record);
                continue;
            }
            if self.in_flight_elsewhere(&record) {
                progress.waiting.push((step.id.clone(), "in flight".into()));
                continue;
            }
            let record = match self.conditions(step, runbook, &records) {
                Gate::Skip(why) => {
                    progress.skipped.push((step.id.clone(), why.clone()));
                    self.finish(record, ActionStatus::Skipped, why).await?
                }
                Gate::Wait(why) => {
                    progress.waiting.push((step.id.clone(), why));
                    record
                }
                Gate::Go if self.judge_for(step).is_some() => {
                    self.judge_cause(&incident, runbook, step, record, &records, &mut progress)
                        .await?
                }
                Gate::Go => {
                    let inputs = StepInputs {
                        approvals: &approvals,
                        earlier_results: succeeded_results(&records),
                        contained_at: contained_at(&incident, runbook, &records),
                        open_fix: open_fix(runbook, &records),
                    };
                    self.run_step(&incident, runbook, step, record, inputs, &mut progress)
                        .await?
                }
            };
            records.insert(step.id.clone(), record);
        }
        let state = self.follow_phases(&incident, runbook, &records).await?;
        progress.state = Some(state);
        progress.failed = failed_steps(runbook, &records);
        Ok(progress)
    }

    fn judge_for(&self, step: &Step) -> Option<&'a dyn crate::judge::CauseJudge> {
        let StepKind::Cause { name, .. } = &step.kind else {
            return None;
        };
        self.registry.judges.get(name).map(|judge| judge.as_ref())
    }

    /// Decides a cause step with its judge once its evidence steps are done; records the
    /// verdict like a responder would (`confirmed by warden: score …: why`).
    async fn judge_cause(
        &self,
        incident: &Incident,
        runbook: &Runbook,
        step: &Step,
        record: ActionRecord,
        records: &HashMap<String, ActionRecord>,
        progress: &mut Progress,
    ) -> Result<ActionRecord, EngineError> {
        let (Some(judge), StepKind::Cause { evidence_from, .. }) =
            (self.judge_for(step), &step.kind)
        else {
            return Ok(record);
        };
        let mut evidence = BTreeMap::new();
        for id in evidence_from {
            let Some(source) = records.get(id).filter(|r| r.status.is_final()) else {
                progress
                    .waiting
                    .push((step.id.clone(), format!("waiting for evidence {id}")));
                return Ok(record);
            };
            let hash = source.result.as_deref().and_then(evidence_hash_in);
            if let (Some(hash), Some(store)) = (hash, self.evidence)
                && let Ok(bytes) = store.get(&hash)
            {
                evidence.insert(id.clone(), bytes);
            }
        }
        let request = JudgeRequest {
            incident: incident.clone(),
            step: step.id.clone(),
            params: step.params.clone(),
            evidence,
            now: self.manager.clock().now(),
        };
        let verdict = tokio::time::timeout(step.timeout, judge.judge(&request)).await;
        let judgement = match verdict {
            Ok(Ok(Some(judgement))) => judgement,
            Ok(Ok(None)) => {
                progress.waiting.push((
                    step.id.clone(),
                    "cause: the evidence does not decide it; a responder confirms or refutes it"
                        .into(),
                ));
                return Ok(record);
            }
            Ok(Err(error)) => {
                progress.waiting.push((
                    step.id.clone(),
                    format!("cause could not be judged: {error}"),
                ));
                return Ok(record);
            }
            Err(_) => {
                progress
                    .waiting
                    .push((step.id.clone(), "cause judge timed out".into()));
                return Ok(record);
            }
        };
        let outcome = if judgement.confirmed {
            Outcome::Confirmed
        } else {
            Outcome::Refuted
        };
        progress.executed.push(step.id.clone());
        self.complete_step(
            &incident.id,
            runbook,
            &step.id,
            outcome,
            Actor::System,
            &judgement.note(),
        )
        .await
    }

    async fn run_step(
        &self,
        incident: &Incident,
        runbook: &Runbook,
        step: &Step,
        record: ActionRecord,
        inputs: StepInputs<'_>,
        progress: &mut Progress,
    ) -> Result<ActionRecord, EngineError> {
        let StepInputs {
            approvals,
            earlier_results,
            contained_at,
            open_fix,
        } = inputs;
        let capture;
        let handler: Option<&dyn ActionHandler> = match &step.kind {
            StepKind::Action { name } => self.registry.actions.get(name).map(|h| h.as_ref()),
            StepKind::Evidence { name } => match self.evidence {
                Some(store) => match self.registry.collectors.get(name) {
                    Some(collector) if collector.applies(incident) => {
                        capture = CaptureEvidence {
                            manager: self.manager,
                            store,
                            collector: collector.as_ref(),
                        };
                        Some(&capture as &dyn ActionHandler)
                    }
                    _ => None,
                },
                None => None,
            },
            _ => None,
        };
        if let StepKind::Gate(gate) = &step.kind
            && let Some(evaluator) = self.registry.gates.get(&gate.check)
        {
            // A gate whose window reached back before the incident, or before the last
            // containment change, would pass on data from before the fix.
            if let Some(fix) = &open_fix {
                progress.waiting.push((
                    step.id.clone(),
                    format!("gate: judged once the fix {fix} is decided and done"),
                ));
                return Ok(record);
            }
            let Some(contained_at) = contained_at else {
                progress.waiting.push((
                    step.id.clone(),
                    "gate: judged once the containment action in flight is done".into(),
                ));
                return Ok(record);
            };
            let window = chrono::Duration::from_std(gate.hold_for).unwrap_or_default();
            if self.manager.clock().now() < contained_at + window {
                progress.waiting.push((
                    step.id.clone(),
                    format!(
                        "gate: judged from {}, when its window holds only data after the incident opened and containment acted",
                        (contained_at + window).format("%H:%M:%S UTC")
                    ),
                ));
                return Ok(record);
            }
            match evaluator
                .evaluate(incident, gate, self.manager.clock().now())
                .await
            {
                Ok(Some(verdict)) if verdict.passed => {
                    let note = format!("evaluated from the data: {}", verdict.explanation);
                    let done = self
                        .complete_step(
                            &incident.id,
                            runbook,
                            &step.id,
                            Outcome::Passed,
                            Actor::System,
                            &note,
                        )
                        .await?;
                    progress.executed.push(step.id.clone());
                    return Ok(done);
                }
                Ok(Some(verdict)) => {
                    progress.waiting.push((
                        step.id.clone(),
                        format!("gate not yet: {}", verdict.explanation),
                    ));
                    return Ok(record);
                }
                Ok(None) => {}
                Err(error) => {
                    progress.waiting.push((
                        step.id.clone(),
                        format!("gate could not be evaluated: {error}"),
                    ));
                    return Ok(record);
                }
            }
        }
        let Some(handler) = handler else {
            let need = |kind, name: &str| self.registry.needs.get(&(kind, name.to_string()));
            let why = match &step.kind {
                StepKind::Manual => "checklist item: a responder records it".to_string(),
                StepKind::Cause { name, .. } => match need(EntryKind::Cause, name) {
                    Some(need) => format!("cause: {need}; a responder confirms or refutes it"),
                    None => "cause: a responder confirms or refutes it".to_string(),
                },
                StepKind::Gate(gate) => match need(EntryKind::Gate, &gate.check) {
                    Some(need) => format!("gate: {need}; a responder records it"),
                    None => "gate: no evaluator yet, a responder records it".to_string(),
                },
                StepKind::Action { name } => match need(EntryKind::Action, name) {
                    Some(need) => format!("{name} {need} — done by hand"),
                    None => format!("{name} is not automated yet: done by hand"),
                },
                StepKind::Evidence { name } => match need(EntryKind::Evidence, name) {
                    Some(need) => format!("{name} {need} — done by hand"),
                    None => format!("{name} is not automated yet: done by hand"),
                },
            };
            progress.waiting.push((step.id.clone(), why));
            return Ok(record);
        };
        let decision = approvals
            .iter()
            .rev()
            .find(|approval| approval.step == step.id);
        match (step.approval, decision.map(|approval| approval.decision)) {
            (_, Some(Decision::Rejected)) => {
                let who = decision
                    .map(|approval| approval.actor.name().to_string())
                    .unwrap_or_default();
                progress.skipped.push((step.id.clone(), "rejected".into()));
                return self
                    .finish(record, ActionStatus::Skipped, format!("rejected by {who}"))
                    .await;
            }
            (ApprovalPolicy::Manual, None) => {
                progress
                    .waiting
                    .push((step.id.clone(), "awaiting approval".into()));
                return Ok(record);
            }
            _ => {}
        }
        let request = ActionRequest {
            incident: incident.clone(),
            step: step.id.clone(),
            params: step.params.clone(),
            idempotency_key: record.idempotency_key.clone(),
            earlier_results,
            approval: decision.cloned(),
            now: self.manager.clock().now(),
        };
        if (self.mode == Mode::DryRun && !handler.read_only())
            || step.approval == ApprovalPolicy::Never
        {
            let plan = match handler.plan(&request).await {
                Ok(plan) => plan,
                Err(error) => format!("plan failed: {}", error.message),
            };
            let (status, result, audit) = if step.approval == ApprovalPolicy::Never {
                (
                    ActionStatus::Skipped,
                    format!("plan only (approval: never): {plan}"),
                    "plan_only",
                )
            } else {
                (
                    ActionStatus::Succeeded,
                    format!("dry-run: {plan}"),
                    "dry_run",
                )
            };
            self.manager
                .audit(
                    &incident.id,
                    Actor::System,
                    &step.id,
                    &incident.target.to_string(),
                    audit,
                )
                .await?;
            progress.executed.push(step.id.clone());
            return self.finish(record, status, result).await;
        }
        self.execute_with_retries(incident, step, record, handler, &request, progress)
            .await
    }

    async fn execute_with_retries(
        &self,
        incident: &Incident,
        step: &Step,
        mut record: ActionRecord,
        handler: &dyn ActionHandler,
        request: &ActionRequest,
        progress: &mut Progress,
    ) -> Result<ActionRecord, EngineError> {
        let _flight = InFlight::begin(self.leadership, &record.idempotency_key);
        loop {
            record.updated_at = self.manager.clock().now();
            // Persisted before executing, as a compare-and-set: after a crash the step is known
            // to be in flight, and of two executors racing for it only one executes it.
            let store = self.manager.store();
            let started = match self.leadership.map(crate::Leadership::fence) {
                None => {
                    store
                        .start_action(&record, record.status, record.attempts)
                        .await?
                }
                Some(None) => {
                    progress
                        .waiting
                        .push((step.id.clone(), "this replica is not the leader".into()));
                    return Ok(record);
                }
                Some(Some(fence)) => {
                    store
                        .start_action_fenced(&record, record.status, record.attempts, &fence)
                        .await?
                }
            };
            if !started {
                progress.waiting.push((step.id.clone(), "in flight".into()));
                return Ok(record);
            }
            record.status = ActionStatus::Running;
            record.attempts += 1;
            // A leader that stalled between the start and here (paused, cut off) has been
            // replaced, and the new leader executes what it finds running: act no more.
            if self.leadership.is_some_and(|l| !l.leads()) {
                progress.waiting.push((
                    step.id.clone(),
                    "leadership lost before executing: the new leader executes it".into(),
                ));
                return Ok(record);
            }
            let outcome = match tokio::time::timeout(step.timeout, handler.execute(request)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(ActionError {
                    message: format!(
                        "timed out after {}",
                        warden_core::format_duration(step.timeout)
                    ),
                    retryable: true,
                }),
            };
            match outcome {
                Ok(result) => {
                    self.manager
                        .audit(
                            &incident.id,
                            Actor::System,
                            &step.id,
                            &incident.target.to_string(),
                            "ok",
                        )
                        .await?;
                    progress.executed.push(step.id.clone());
                    return self.finish(record, ActionStatus::Succeeded, result).await;
                }
                Err(error) if error.retryable && record.attempts < step.retry.attempts => {
                    let delay = backoff(
                        &step.retry,
                        record.attempts,
                        jitter_seed(&record.idempotency_key, record.attempts),
                    );
                    record.result = Some(format!(
                        "attempt {} failed: {}",
                        record.attempts, error.message
                    ));
                    tokio::time::sleep(delay).await;
                }
                Err(error) => {
                    let why = if error.retryable {
                        format!(
                            "failed after {} attempts: {}",
                            record.attempts, error.message
                        )
                    } else {
                        format!("failed, not retryable: {}", error.message)
                    };
                    self.manager
                        .audit(
                            &incident.id,
                            Actor::System,
                            &step.id,
                            &incident.target.to_string(),
                            &why,
                        )
                        .await?;
                    progress.newly_failed.push((step.id.clone(), why.clone()));
                    return self.finish(record, ActionStatus::Failed, why).await;
                }
            }
        }
    }

    /// Moves the incident forward as phases complete: containment done → contained;
    /// diagnostics and causes done → diagnosing finished into mitigation once fixes are done;
    /// validation underway → validating; every validation step passed → resolved.
    async fn follow_phases(
        &self,
        incident: &Incident,
        runbook: &Runbook,
        records: &HashMap<String, ActionRecord>,
    ) -> Result<IncidentState, EngineError> {
        // An action that failed for good leaves its phase open: a containment that did not
        // happen is not "contained", a fix that failed did not mitigate. It is retried, or the
        // incident resolved with an override. (A failed evidence step is listed as failed but
        // does not hold the phase: the judges decide from what was collected.)
        let done = |phase: Phase| {
            runbook.phase(phase).all(|step| {
                records.get(&step.id).is_some_and(|record| {
                    record.status.is_final()
                        && !(matches!(step.kind, StepKind::Action { .. })
                            && record.status == ActionStatus::Failed)
                })
            })
        };
        let passed = runbook.phase(Phase::Validation).all(|step| {
            records.get(&step.id).is_some_and(|record| {
                matches!(
                    record.status,
                    ActionStatus::Succeeded | ActionStatus::Skipped
                )
            })
        });
        let mut target = IncidentState::Detected;
        if done(Phase::Containment) {
            target = IncidentState::Contained;
            if done(Phase::Diagnostics) {
                target = IncidentState::Diagnosing;
                if done(Phase::Causes) && done(Phase::Fixes) {
                    target = IncidentState::Mitigated;
                    if runbook
                        .phase(Phase::Validation)
                        .any(|step| records.get(&step.id).is_some_and(|r| r.status.is_final()))
                    {
                        target = IncidentState::Validating;
                    }
                    if done(Phase::Validation) && passed {
                        target = IncidentState::Resolved;
                    }
                }
            }
        }
        let mut state = incident.state;
        for next in [
            IncidentState::Contained,
            IncidentState::Diagnosing,
            IncidentState::Mitigated,
            IncidentState::Validating,
            IncidentState::Resolved,
        ] {
            if next <= target && state < next && state.can_move_to(next) {
                let reason = match next {
                    IncidentState::Contained => "containment steps done",
                    IncidentState::Diagnosing => "diagnostics collected",
                    IncidentState::Mitigated => "causes decided and fixes done",
                    IncidentState::Validating => "closure gates being checked",
                    _ => "every closure gate passed",
                };
                match self
                    .manager
                    .transition(&incident.id, next, Actor::System, reason)
                    .await
                {
                    Ok(moved) => state = moved.state,
                    // Another executor (the daemon's beat, or the API answering a responder)
                    // moved the incident meanwhile: its state now is the one that counts.
                    Err(EngineError::Transition(_)) => {
                        return Ok(self
                            .manager
                            .store()
                            .get_incident(&incident.id)
                            .await?
                            .map_or(state, |current| current.state));
                    }
                    Err(other) => return Err(other),
                }
            }
        }
        Ok(state)
    }

    /// A responder records the outcome of a step Warden cannot do itself: a checklist item
    /// (`succeeded`), a cause (`confirmed`/`refuted`), a gate (`passed`), or a step done by
    /// hand (`succeeded`/`failed`). Recording it twice keeps the first outcome.
    ///
    /// # Errors
    /// [`EngineError::UnknownStep`], an outcome the step cannot have, store failures.
    pub async fn complete_step(
        &self,
        id: &IncidentId,
        runbook: &Runbook,
        step_id: &str,
        outcome: Outcome,
        actor: Actor,
        note: &str,
    ) -> Result<ActionRecord, EngineError> {
        let unknown = || EngineError::UnknownStep {
            incident: id.clone(),
            runbook: runbook.id.to_string(),
            step: step_id.to_string(),
        };
        let step = runbook.step(step_id).ok_or_else(unknown)?;
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
        let store = self.manager.store();
        let record = store
            .claim_action(id, step_id, self.manager.clock().now())
            .await?;
        if record.status.is_final() {
            return Ok(record);
        }
        let word = format!("{outcome:?}").to_lowercase();
        let who = actor.name();
        let result = if note.is_empty() {
            format!("{word} by {who}")
        } else {
            format!("{word} by {who}: {note}")
        };
        let status = if outcome == Outcome::Failed {
            ActionStatus::Failed
        } else {
            ActionStatus::Succeeded
        };
        let record = self.finish(record, status, result.clone()).await?;
        self.manager
            .note(
                id,
                actor,
                &format!("step {step_id} {result}"),
                &format!("complete:{step_id}"),
            )
            .await?;
        Ok(record)
    }
}
