//! Runbook 2's permanent fixes (R2.7): one concrete merge patch per cause, kept with the
//! statistics in `warden-serving` because the cause judges cite them in their verdicts. They
//! are proposals for review: Warden never applies a permanent fix to a service itself.

pub use warden_serving::fixes::{Fix, all, for_cause};
