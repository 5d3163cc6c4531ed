//! What the executor calls out to, behind traits so connectors plug in by catalogue name:
//! [`ActionHandler`]s for mutating actions, [`EvidenceCollector`]s for evidence steps (run
//! through [`CaptureEvidence`] so they share the action path), [`GateEvaluator`]s for closure
//! gates, and the request each of them receives.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use warden_core::{Clock, Incident};
use warden_store::{EvidenceStore, IncidentStore};

use crate::IncidentManager;

/// A boxed future, so handlers can live in one registry.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an action handler is asked to do.
#[derive(Debug, Clone)]
pub struct ActionRequest {
    /// The incident (its target says what to act on).
    pub incident: Incident,
    /// The runbook step.
    pub step: String,
    /// The step's parameters.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Identical for every attempt of this step of this incident; handlers pass it on where
    /// the target system supports idempotency keys.
    pub idempotency_key: String,
    /// Results of this incident's steps that succeeded so far, by step id — so an undo at
    /// closure can see what its containment step actually changed.
    pub earlier_results: BTreeMap<String, String>,
    /// The person's decision that let this step run, when its policy asked for one: who
    /// approved and why, read with the approvals (a timeline note written after the approval
    /// may not be in `incident` yet).
    pub approval: Option<warden_core::Approval>,
    /// The engine's time: handlers and collectors ask it, not the wall clock, so a replayed
    /// incident (the demo's) is handled at its own moment.
    pub now: warden_core::Timestamp,
}

/// Why an action failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionError {
    /// What went wrong, naming the system and object.
    pub message: String,
    /// Whether a retry may succeed (timeouts, throttling, 5xx).
    pub retryable: bool,
}

/// One automated action. Both methods must be safe to call repeatedly.
pub trait ActionHandler: Send + Sync {
    /// What `execute` would change, without changing anything.
    fn plan<'a>(&'a self, request: &'a ActionRequest)
    -> BoxFuture<'a, Result<String, ActionError>>;
    /// Makes the change (idempotently) and says what was done.
    fn execute<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>>;
    /// Whether it changes nothing outside Warden (an evidence collector reads): a dry run
    /// executes it, so evidence and the judgements on it are there to look at.
    fn read_only(&self) -> bool {
        false
    }
}

/// Registered handlers by catalogue action name.
pub type ActionRegistry = HashMap<String, Arc<dyn ActionHandler>>;

/// What an evidence collector gathered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    /// One line for the timeline.
    pub summary: String,
    /// The artifact's name (e.g. `feature-freshness.json`).
    pub name: String,
    /// Its media type.
    pub media_type: String,
    /// Where it came from (a URL or system name).
    pub source: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

/// Gathers evidence for a runbook `evidence:` step. Must be read-only and safe to repeat.
pub trait EvidenceCollector: Send + Sync {
    /// Collects now.
    fn collect<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<Collected, ActionError>>;

    /// Whether it can collect for this incident at all. One that cannot (pods of a pipeline
    /// that runs none) leaves the step to a responder, as if it were not registered, instead
    /// of reporting a check it did not make.
    fn applies(&self, _incident: &warden_core::Incident) -> bool {
        true
    }
}

/// Registered collectors by catalogue evidence name.
pub type CollectorRegistry = HashMap<String, Arc<dyn EvidenceCollector>>;

/// Runs a collector and captures its artifact, so evidence steps share the action path
/// (retries, timeouts, the compare-and-set that makes a crash safe).
pub(crate) struct CaptureEvidence<'a, S, C> {
    pub(crate) manager: &'a IncidentManager<S, C>,
    pub(crate) store: &'a EvidenceStore,
    pub(crate) collector: &'a dyn EvidenceCollector,
}

impl<S: IncidentStore, C: Clock> ActionHandler for CaptureEvidence<'_, S, C> {
    fn plan<'b>(
        &'b self,
        request: &'b ActionRequest,
    ) -> BoxFuture<'b, Result<String, ActionError>> {
        Box::pin(async move { Ok(format!("would collect evidence for step {}", request.step)) })
    }

    fn read_only(&self) -> bool {
        true
    }

    fn execute<'b>(
        &'b self,
        request: &'b ActionRequest,
    ) -> BoxFuture<'b, Result<String, ActionError>> {
        Box::pin(async move {
            let collected = self.collector.collect(request).await?;
            let incident = self
                .manager
                .capture_evidence(
                    &request.incident.id,
                    self.store,
                    &collected.name,
                    &collected.media_type,
                    &collected.source,
                    &collected.bytes,
                )
                .await
                .map_err(|err| ActionError {
                    message: format!("cannot store evidence {}: {err}", collected.name),
                    retryable: false,
                })?;
            let hash = incident
                .evidence
                .iter()
                .rev()
                .find(|e| e.name == collected.name)
                .map(|e| e.hash.to_string())
                .unwrap_or_default();
            Ok(format!(
                "{} ({EVIDENCE_MARK}{} {hash})",
                collected.summary, collected.name
            ))
        })
    }
}

/// A gate's verdict from the data.
#[derive(Debug, Clone, PartialEq)]
pub struct GateVerdict {
    /// Whether the condition held for the whole window.
    pub passed: bool,
    /// A sentence for the timeline.
    pub explanation: String,
}

/// The series behind a gate's verdict, for people to see (the console's chart).
#[derive(Debug, Clone, PartialEq)]
pub struct GateSeries {
    /// What the values are (the query).
    pub label: String,
    /// `(time, value)`, oldest first.
    pub points: Vec<(warden_core::Timestamp, f64)>,
    /// The gate's threshold, if it has one.
    pub threshold: Option<f64>,
    /// Whether the values must stay below the threshold (else above).
    pub below: bool,
    /// The window the gate judges.
    pub window: (warden_core::Timestamp, warden_core::Timestamp),
}

/// Evaluates closure gates from data (e.g. Prometheus range queries).
pub trait GateEvaluator: Send + Sync {
    /// The verdict for `gate` of `incident` at `now` (the engine's time, where the gate's
    /// window ends); `Ok(None)` when this evaluator has no data source for the gate's check (a
    /// responder records it instead).
    fn evaluate<'a>(
        &'a self,
        incident: &'a Incident,
        gate: &'a warden_runbook::Gate,
        now: warden_core::Timestamp,
    ) -> BoxFuture<'a, Result<Option<GateVerdict>, String>>;

    /// The series behind the verdict over the gate's window, when the evaluator reads one
    /// (a chart for people); `Ok(None)` otherwise.
    fn series<'a>(
        &'a self,
        incident: &'a Incident,
        gate: &'a warden_runbook::Gate,
    ) -> BoxFuture<'a, Result<Option<GateSeries>, String>> {
        let _ = (incident, gate);
        Box::pin(async { Ok(None) })
    }
}

/// How an evidence step's result names what it captured: `… (evidence NAME HASH)`.
const EVIDENCE_MARK: &str = "evidence ";

/// The content hash an evidence step's result names, if it names one.
pub fn evidence_hash_in(result: &str) -> Option<warden_core::ContentHash> {
    let start = result.rfind(&format!("({EVIDENCE_MARK}"))? + 1 + EVIDENCE_MARK.len();
    let inside = result[start..].strip_suffix(')')?;
    let (_, hash) = inside.rsplit_once(' ')?;
    warden_core::ContentHash::parse(hash.strip_prefix("sha256:").unwrap_or(hash)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_evidence_result_names_its_hash() {
        let hash = warden_core::ContentHash::of(b"x");
        let result = format!("3 pods (slow) ({EVIDENCE_MARK}pods.json {hash})");
        assert_eq!(evidence_hash_in(&result), Some(hash));
        assert_eq!(evidence_hash_in("succeeded by alice"), None);
        assert_eq!(evidence_hash_in("x (evidence pods.json nothex)"), None);
    }
}
