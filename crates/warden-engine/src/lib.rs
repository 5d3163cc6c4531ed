//! Incident response logic on top of the store: the [`IncidentManager`] folds findings into
//! incidents (one per dedup key, reopened on recurrence within a cool-down) and records every
//! change on the timeline and in the audit log; [`alerts`] turns Alertmanager webhook payloads
//! into findings through runbook triggers; [`postmortem`] drafts the post-mortem.

pub mod alerts;
pub mod detect;
mod engine;
mod error;
pub mod executor;
mod handlers;
pub mod impact;
pub mod judge;
pub mod leadership;
mod lifecycle;
pub mod manager;
pub mod postmortem;
pub mod registry;
pub mod review;
pub mod steps;
pub mod summary;

pub use engine::{Engine, EngineParts, StepFailureSink};
pub use error::EngineError;
pub use leadership::Leadership;
pub use manager::{AlertsIngested, IncidentManager, Ingested};
pub use summary::IncidentSummary;
