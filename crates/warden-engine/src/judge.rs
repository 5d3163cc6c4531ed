//! Cause judges: a runbook's `cause:` step is a hypothesis ("the spike follows a deployment")
//! decided by the evidence its `evidence_from` steps captured. A [`CauseJudge`] registered for
//! the cause's name reads those artifacts and confirms or refutes it with a score and the
//! reason, so containment that waits on a cause (`when: {step: …, is: confirmed}`) does not
//! wait for a person. A judge that cannot decide leaves the step to a responder.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use warden_core::Incident;

use crate::handlers::BoxFuture;

/// What a judge is given.
#[derive(Debug, Clone)]
pub struct JudgeRequest {
    /// The incident.
    pub incident: Incident,
    /// The cause step's id.
    pub step: String,
    /// The step's parameters.
    pub params: BTreeMap<String, serde_json::Value>,
    /// The artifacts the `evidence_from` steps captured, by step id (steps that captured
    /// nothing, e.g. failed ones, are absent).
    pub evidence: BTreeMap<String, Vec<u8>>,
    /// The engine's time: judges ask it, not the wall clock, so a replayed incident (the
    /// demo's) is judged at its own moment.
    pub now: warden_core::Timestamp,
}

impl JudgeRequest {
    /// The artifact of evidence step `step` parsed as JSON, if it was captured and is JSON.
    pub fn json(&self, step: &str) -> Option<serde_json::Value> {
        serde_json::from_slice(self.evidence.get(step)?).ok()
    }

    /// Every captured artifact parsed as JSON, in step order of `evidence_from`.
    pub fn all_json(&self) -> Vec<serde_json::Value> {
        self.evidence
            .values()
            .filter_map(|bytes| serde_json::from_slice(bytes).ok())
            .collect()
    }
}

pub use warden_core::Judgement;

/// Decides one kind of cause from evidence. Must be read-only.
pub trait CauseJudge: Send + Sync {
    /// The decision, or `Ok(None)` when the evidence cannot decide (a responder does).
    fn judge<'a>(
        &'a self,
        request: &'a JudgeRequest,
    ) -> BoxFuture<'a, Result<Option<Judgement>, String>>;
}

/// Registered judges by catalogue cause name.
pub type JudgeRegistry = HashMap<String, Arc<dyn CauseJudge>>;

/// The score a cause step's recorded result carries (`confirmed by warden: score 0.80: …`),
/// for ranking.
pub fn score_in(result: &str) -> Option<f64> {
    let rest = &result[result.find("score ")? + "score ".len()..];
    rest.split(':').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_carry_the_score_for_ranking() {
        let judgement = Judgement::confirmed(1.7, "v2 deployed 4 min before the spike");
        assert_eq!(judgement.score, 1.0);
        let result = format!("confirmed by warden: {}", judgement.note());
        assert_eq!(score_in(&result), Some(1.0));
        assert_eq!(score_in("refuted by warden: no deployment"), None);
    }
}
