//! What will actually run: each runbook step's automation status under a configuration, from
//! the filled registries — registered (Warden does it), needs something the configuration
//! lacks (and what), by hand by design, or not automated by Warden at all.

use serde::Serialize;
use warden_engine::registry::{EntryKind, Registries};
use warden_runbook::{Runbook, Step, StepKind, catalog};

/// Who does a step under a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StepStatus {
    /// An implementation is registered: Warden does it.
    Automated,
    /// Warden implements it, but this configuration lacks what it needs.
    Needs {
        /// What to configure, e.g. `needs connectors.kubernetes`.
        need: String,
    },
    /// A checklist item a person does by design.
    Manual,
    /// Warden has no implementation of it yet: a responder does it.
    NotAutomated,
}

impl StepStatus {
    /// Whether Warden will do the step.
    pub fn is_automated(&self) -> bool {
        matches!(self, Self::Automated)
    }

    /// One phrase for a terminal: `warden`, `needs …`, `by hand`, `not automated yet`.
    pub fn phrase(&self) -> String {
        match self {
            Self::Automated => "warden".into(),
            Self::Needs { need } => need.clone(),
            Self::Manual => "by hand".into(),
            Self::NotAutomated => "not automated yet: done by hand".into(),
        }
    }
}

/// The catalogue entry a step names, if it names one.
pub fn entry_of(step: &Step) -> Option<(EntryKind, &str)> {
    match &step.kind {
        StepKind::Action { name } => Some((EntryKind::Action, name)),
        StepKind::Evidence { name } => Some((EntryKind::Evidence, name)),
        StepKind::Cause { name, .. } => Some((EntryKind::Cause, name)),
        StepKind::Gate(gate) => Some((EntryKind::Gate, &gate.check)),
        StepKind::Manual => None,
    }
}

/// Whether Warden implements the entry at all (with the right configuration), as the
/// catalogue records it.
pub fn implemented(kind: EntryKind, name: &str) -> bool {
    match kind {
        EntryKind::Action => catalog::action(name).is_some_and(|entry| entry.automated),
        EntryKind::Evidence => catalog::evidence(name).is_some_and(|entry| entry.automated),
        EntryKind::Cause => catalog::JUDGED_CAUSES.contains(&name),
        EntryKind::Gate => catalog::JUDGED_GATES.contains(&name),
    }
}

/// The status of `step` of `runbook` under the configuration `registries` were filled from.
pub fn step_status(registries: &Registries, runbook: &Runbook, step: &Step) -> StepStatus {
    let Some((kind, name)) = entry_of(step) else {
        return StepStatus::Manual;
    };
    let id = runbook.id.as_str();
    if registries.for_runbook(id).has(kind, name) {
        return StepStatus::Automated;
    }
    match registries.need(id, kind, name) {
        Some(need) => StepStatus::Needs {
            need: need.to_string(),
        },
        None => StepStatus::NotAutomated,
    }
}

/// How many of `runbook`'s steps Warden will do under this configuration.
pub fn automated_steps(registries: &Registries, runbook: &Runbook) -> usize {
    runbook
        .steps
        .iter()
        .filter(|step| step_status(registries, runbook, step).is_automated())
        .count()
}

/// How many of `runbook`'s steps Warden can do with every connector configured.
pub fn automatable_steps(runbook: &Runbook) -> usize {
    runbook
        .steps
        .iter()
        .filter(|step| entry_of(step).is_some_and(|(kind, name)| implemented(kind, name)))
        .count()
}
