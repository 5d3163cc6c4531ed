//! The incident timeline: every event, who caused it and when. It is the backbone of the
//! post-mortem, so events are typed rather than free text.

use serde::{Deserialize, Serialize};

use crate::{ContentHash, IncidentState, Timestamp};

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
pub enum Actor {
    /// Warden itself (a detector, the executor, a gate).
    System,
    /// A person, by the name their API token carries.
    User(String),
}

impl Actor {
    /// How records and pages name it: the person's name, or `warden`.
    pub fn name(&self) -> &str {
        match self {
            Self::System => "warden",
            Self::User(name) => name,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineKind {
    /// The incident was opened from a finding.
    Opened {
        /// The detector whose finding opened it.
        detector: String,
    },
    /// Another finding with the same dedup key was folded in.
    FindingAttached {
        /// The detector of the attached finding.
        detector: String,
    },
    /// The lifecycle state changed.
    StateChanged {
        /// The state before.
        from: IncidentState,
        /// The state after.
        to: IncidentState,
    },
    /// The incident recurred after it was resolved or closed.
    Reopened {
        /// How many times it has been reopened, this one included.
        count: u32,
    },
    /// An artifact was captured into the evidence store.
    EvidenceCaptured {
        /// The artifact's content address.
        hash: ContentHash,
        /// Its name.
        name: String,
    },
    /// A person or Warden wrote a note.
    Note,
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// When it happened.
    pub at: Timestamp,
    /// Who caused it.
    pub actor: Actor,
    /// What happened.
    pub kind: TimelineKind,
    /// A human sentence, e.g. "paused DAG demand_forecast_training".
    pub message: String,
}
