//! Runbook 2 ("Serving latency or error spike") as logic the daemon and the CLI share:
//! - [`queries`] — the PromQL for p95 latency, error rate, request rate and the slow-request
//!   ratio of a service, with defaults for MLServer's and KServe/Knative's metric names;
//! - [`slo`] — the SLO check: the runbook's plain thresholds, or multi-window multi-burn-rate
//!   alerting (R2.1);
//! - [`causes`] — each common cause judged from the captured evidence, with a score and the
//!   evidence that decided (R2.2–R2.6);
//! - [`fixes`] — the permanent fix each cause points to, as a merge patch with its rationale
//!   (R2.7);
//! - [`loadtest`] — open-loop load on a V2 endpoint for the capacity-headroom check.

pub mod causes;
pub mod fixes;
pub mod loadtest;
pub mod queries;
pub mod slo;
