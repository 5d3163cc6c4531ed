//! Where each step of an incident stands, for a person: failed, waiting for their approval,
//! waiting for them to do it, running, done, or still Warden's to do — so what Warden failed
//! to do and what waits on a person cannot be missed (`warden incidents show`, the API).

use std::collections::HashMap;

use serde::Serialize;
use warden_core::{ActionRecord, ActionStatus, Approval};
use warden_runbook::{ApprovalPolicy, Runbook, StepKind};

use crate::registry::{EntryKind, Registry};

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepGroup {
    /// Failed for good: a person looks, then retries or does it by hand.
    Failed,
    /// A manual action nobody has approved or rejected yet.
    WaitingForApproval,
    /// Warden does not do it under this configuration: a person records it.
    WaitingForPerson,
    /// Being executed now.
    Running,
    /// Warden will do it once its conditions allow.
    Pending,
    /// Succeeded, passed, decided or skipped.
    Done,
}

impl StepGroup {
    /// The heading a terminal shows.
    pub fn heading(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::WaitingForApproval => "waiting for approval",
            Self::WaitingForPerson => "waiting for a person",
            Self::Running => "running",
            Self::Pending => "warden will do",
            Self::Done => "done",
        }
    }
}

/// One step and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepView {
    /// Step id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its phase.
    pub phase: &'static str,
    /// Where it stands.
    pub group: StepGroup,
    /// Its record's status (`pending` when it has none yet).
    pub status: &'static str,
    /// What was recorded: the result, the error, who decided and why.
    pub result: Option<String>,
}

fn implemented(registry: &Registry, kind: &StepKind) -> bool {
    match kind {
        StepKind::Action { name } => registry.has(EntryKind::Action, name),
        StepKind::Evidence { name } => registry.has(EntryKind::Evidence, name),
        StepKind::Cause { name, .. } => registry.has(EntryKind::Cause, name),
        StepKind::Gate(gate) => registry.has(EntryKind::Gate, &gate.check),
        StepKind::Manual => false,
    }
}

/// Every step of `runbook` with where it stands, in runbook order.
pub fn step_views(
    runbook: &Runbook,
    records: &[ActionRecord],
    approvals: &[Approval],
    registry: &Registry,
) -> Vec<StepView> {
    let records: HashMap<&str, &ActionRecord> =
        records.iter().map(|r| (r.step.as_str(), r)).collect();
    runbook
        .steps
        .iter()
        .map(|step| {
            let record = records.get(step.id.as_str());
            let status = record.map_or(ActionStatus::Pending, |r| r.status);
            let decided = approvals.iter().any(|a| a.step == step.id);
            let group = match status {
                ActionStatus::Failed => StepGroup::Failed,
                ActionStatus::Running => StepGroup::Running,
                ActionStatus::Succeeded | ActionStatus::Skipped => StepGroup::Done,
                ActionStatus::Pending => {
                    let action = matches!(step.kind, StepKind::Action { .. });
                    if action && step.approval == ApprovalPolicy::Manual && !decided {
                        StepGroup::WaitingForApproval
                    } else if implemented(registry, &step.kind) {
                        StepGroup::Pending
                    } else {
                        StepGroup::WaitingForPerson
                    }
                }
            };
            StepView {
                id: step.id.clone(),
                title: step.title.clone(),
                phase: step.phase.as_str(),
                group,
                status: status.as_str(),
                result: record.and_then(|r| r.result.clone()),
            }
        })
        .collect()
}
