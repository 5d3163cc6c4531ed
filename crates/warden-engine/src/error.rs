//! Engine errors: the store's, and lifecycle rules that refused a change.

use thiserror::Error;
use warden_core::{IncidentId, TransitionError};
use warden_store::StoreError;

/// Why the engine could not do what was asked.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The lifecycle does not allow it.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// No such incident.
    #[error("no incident {0}")]
    NotFound(IncidentId),
    /// No such step in the incident's runbook.
    #[error("incident {incident}: runbook {runbook} has no step {step:?}")]
    UnknownStep {
        /// The incident.
        incident: IncidentId,
        /// Its runbook.
        runbook: String,
        /// The step asked for.
        step: String,
    },
    /// A step cannot have that outcome (a cause is confirmed or refuted, a gate passes).
    #[error("step {step} cannot be {outcome}")]
    BadOutcome {
        /// The step.
        step: String,
        /// The outcome asked for.
        outcome: String,
    },
    /// The incident's runbook is not among the runbooks in effect.
    #[error("runbook {runbook} of {incident} is not in effect")]
    RunbookNotInEffect {
        /// The incident.
        incident: IncidentId,
        /// Its runbook.
        runbook: String,
    },
    /// What a person asked for does not make sense in the incident's or step's state (a
    /// decision on a resolved incident, approving a step that needs no approval, retrying a
    /// step that did not fail): nothing changed.
    #[error("{reason}")]
    Refused {
        /// The incident.
        incident: IncidentId,
        /// Why, for the person who asked.
        reason: String,
    },
    /// Concurrent writers kept winning; the finding was not recorded.
    #[error("gave up recording a finding for {0} after repeated conflicts")]
    Contended(String),
}
