//! Warden's persistence (R6.4, R6.9): incidents, actions, approvals and the audit log in an
//! embedded SQLite file by default (zero set-up, WAL journal) or in PostgreSQL for production,
//! with one behaviour checked by one conformance suite (`tests/conformance.rs`) on both; and
//! the content-addressed evidence directory.
//!
//! sqlx lives here and only here, so changing another crate never recompiles it.

pub mod evidence;
pub mod incidents;
pub mod lease;
mod migrate;
pub mod pool;

pub use evidence::{EvidenceStore, StoredEvidence};
pub use incidents::{IncidentFilter, IncidentStore};
pub use lease::{Fence, Lease};
pub use pool::{Store, StoreError, StoreInfo, redact_url};
