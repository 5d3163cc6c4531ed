//! Reviews: yes/no questions a runbook module puts to a person outside any incident, such as
//! runbook 3's "this drift alert would start retraining: go ahead?" (R3.6). A module keeps its
//! own queue and registers it ([`crate::registry::Registrar::review_queue`]); the API and the
//! CLI list and decide reviews through [`crate::registry::Registries`] without knowing which
//! runbook asked.
//!
//! A decision is recorded once: deciding a review again the same way is answered with the
//! review as it stands (an approval whose effect failed tries the effect again), deciding it
//! the other way is a conflict.

use serde::Serialize;
use warden_core::Timestamp;

use crate::handlers::BoxFuture;

/// Where a review stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// Waiting for a person.
    Pending,
    /// Said yes to: the effect was started (see `outcome` and `error`).
    Approved,
    /// Said no to: nothing was started.
    Rejected,
}

impl ReviewState {
    /// Its name in JSON and text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

/// A person's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewDecision {
    /// Yes: start what the review holds back.
    Approve,
    /// No.
    Reject,
}

impl ReviewDecision {
    /// The state the decision leads to.
    pub fn state(self) -> ReviewState {
        match self {
            Self::Approve => ReviewState::Approved,
            Self::Reject => ReviewState::Rejected,
        }
    }
}

/// One review as the API and the CLI show it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Review {
    /// Unique across queues (`demand-forecast-r3`).
    pub id: String,
    /// The runbook that asks (`drift-detector`).
    pub runbook: String,
    /// What it is about (the drift monitor's name).
    pub subject: String,
    /// The question, in one sentence.
    pub summary: String,
    /// What decided it must be asked (the runbook's figures).
    pub detail: serde_json::Value,
    /// When it was opened.
    pub opened_at: Timestamp,
    /// When it last changed (a new alert counted into it, a decision).
    pub updated_at: Timestamp,
    /// Where it stands.
    pub state: ReviewState,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// When.
    pub decided_at: Option<Timestamp>,
    /// What the approval started (`Airflow DAG retrain: run warden-… queued`).
    pub outcome: Option<String>,
    /// Why the approval's effect failed, when it did (approving again retries it).
    pub error: Option<String>,
}

/// Why a review cannot be listed or decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// No queue holds a review of that id.
    #[error("no review {0}")]
    NotFound(String),
    /// It was decided the other way already.
    #[error("{0}")]
    Conflict(String),
    /// The queue's state cannot be read or written, naming the file.
    #[error("{0}")]
    Store(String),
}

/// A module's queue of reviews.
pub trait ReviewQueue: Send + Sync {
    /// Every review it holds, pending and decided, oldest first.
    fn list(&self) -> BoxFuture<'_, Result<Vec<Review>, ReviewError>>;

    /// Records `decision` by `by` for `reason` and, on approval, starts what the review held
    /// back. `NotFound` when the review is not this queue's.
    fn decide<'a>(
        &'a self,
        id: &'a str,
        decision: ReviewDecision,
        by: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<Review, ReviewError>>;
}
