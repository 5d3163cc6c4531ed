//! Warden's domain model, shared by every other crate.
//!
//! Pure types and rules with no I/O: a [`Signal`] is something a connector observed, a
//! [`Finding`] is what a detector concluded from signals, an [`Incident`] folds findings about
//! one cause into one unit of response with a lifecycle, a timeline and evidence. Time only
//! enters through a [`Clock`], so everything here can be replayed on recorded data.

pub mod action;
pub mod clock;
pub mod duration;
pub mod evidence;
pub mod finding;
pub mod incident;
pub mod judgement;
pub mod rng;
pub mod runbook_kind;
pub mod severity;
pub mod signal;
pub mod target;
pub mod text;
pub mod timeline;

pub use action::{ActionRecord, ActionStatus, Approval, AuditEntry, Decision};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use duration::{ParseDurationError, format_duration, parse_duration};
pub use evidence::{ContentHash, Evidence};
pub use finding::{AlertSource, Finding};
pub use incident::{Incident, IncidentId, IncidentState, TransitionError};
pub use judgement::Judgement;
pub use runbook_kind::RunbookId;
pub use severity::Severity;
pub use signal::{AlertStatus, Signal, SignalPayload};
pub use target::{Target, TargetKind};
pub use timeline::{Actor, TimelineEvent, TimelineKind};
