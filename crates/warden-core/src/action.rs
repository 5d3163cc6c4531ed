//! The records that make mutating work safe: an [`ActionRecord`] per incident step (keyed by
//! an idempotency key, persisted before and after execution so a restart never repeats a
//! completed action), an [`Approval`] per human decision, and an append-only [`AuditEntry`]
//! per mutation (who, what, when, result) — R6.3.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Actor, IncidentId, Timestamp};

/// Where an action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Planned, not started (may be waiting for approval).
    Pending,
    /// Started; if Warden dies now the outcome is unknown and the (idempotent) action is
    /// executed again after restart.
    Running,
    /// Completed successfully; never executed again.
    Succeeded,
    /// Failed for good (not retryable, or attempts exhausted).
    Failed,
    /// Not executed: rejected by a person, or its `when` condition was false.
    Skipped,
}

impl ActionStatus {
    /// The snake_case name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Pending => "pending",
            ActionStatus::Running => "running",
            ActionStatus::Succeeded => "succeeded",
            ActionStatus::Failed => "failed",
            ActionStatus::Skipped => "skipped",
        }
    }

    /// Parses a stored name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn parse(text: &str) -> Result<Self, String> {
        [
            ActionStatus::Pending,
            ActionStatus::Running,
            ActionStatus::Succeeded,
            ActionStatus::Failed,
            ActionStatus::Skipped,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
        .ok_or_else(|| format!("unknown action status {text:?}"))
    }

    /// Whether the action is finished (succeeded, failed or skipped) and must not run again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ActionStatus::Succeeded | ActionStatus::Failed | ActionStatus::Skipped
        )
    }
}

impl fmt::Display for ActionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The persisted state of one step's action for one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// `<incident id>/<step id>`: the same step of the same incident is one action, however
    /// often the executor gets to it.
    pub idempotency_key: String,
    /// The incident.
    pub incident_id: IncidentId,
    /// The runbook step.
    pub step: String,
    /// Where it stands.
    pub status: ActionStatus,
    /// How many times execution started.
    pub attempts: u32,
    /// The outcome or error message, once there is one.
    pub result: Option<String>,
    /// Last change.
    pub updated_at: Timestamp,
    /// The leadership epoch its last start was fenced by (several replicas on one store);
    /// `None` for a start without leadership. A `running` action of an older epoch than the
    /// leader's was started by a leader that is gone: the leader takes it over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_epoch: Option<i64>,
}

impl ActionRecord {
    /// The idempotency key of `step` for `incident`.
    pub fn key(incident: &IncidentId, step: &str) -> String {
        format!("{incident}/{step}")
    }

    /// A new pending record.
    pub fn pending(incident: &IncidentId, step: &str, now: Timestamp) -> Self {
        Self {
            idempotency_key: Self::key(incident, step),
            incident_id: incident.clone(),
            step: step.to_string(),
            status: ActionStatus::Pending,
            attempts: 0,
            result: None,
            updated_at: now,
            started_epoch: None,
        }
    }
}

/// A person's decision on a step that needs approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Go ahead.
    Approved,
    /// Do not execute.
    Rejected,
}

impl Decision {
    /// The snake_case name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        }
    }
}

/// One approval or rejection, with who and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The incident.
    pub incident_id: IncidentId,
    /// The step decided on.
    pub step: String,
    /// The decision.
    pub decision: Decision,
    /// Who decided.
    pub actor: Actor,
    /// Why.
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

/// One line of the audit log: every mutation, by anyone, with its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: Actor,
    /// What was done, e.g. `rollback_model`, `approve`, `resolve`.
    pub action: String,
    /// The incident it belongs to, if any.
    pub incident_id: Option<IncidentId>,
    /// What it was done to, e.g. `model/demand-forecast`.
    pub target: String,
    /// `ok`, `dry_run`, or the error.
    pub result: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn status_names_round_trip_and_finality() {
        for status in [
            ActionStatus::Pending,
            ActionStatus::Running,
            ActionStatus::Succeeded,
            ActionStatus::Failed,
            ActionStatus::Skipped,
        ] {
            assert_eq!(ActionStatus::parse(status.as_str()), Ok(status));
        }
        assert!(ActionStatus::parse("done").is_err());
        assert!(ActionStatus::Succeeded.is_final());
        assert!(
            !ActionStatus::Running.is_final(),
            "a running action is retried after a crash"
        );
    }

    #[test]
    fn idempotency_key_is_incident_and_step() {
        let id = IncidentId("INC-7".into());
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap();
        let record = ActionRecord::pending(&id, "rollback", at);
        assert_eq!(record.idempotency_key, "INC-7/rollback");
        assert_eq!(record.status, ActionStatus::Pending);
    }
}
