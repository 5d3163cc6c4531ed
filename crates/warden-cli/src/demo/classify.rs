//! Runbook 1's diagnosis in the demo is Warden's own: the failed task's log captured at
//! detection is classified by the failure classifier (the built-in rules and the corpus model,
//! as `warden pipelines classify` and the daemon's collector do), and runbook 1's own cause
//! judges decide the five causes from that classification — the same judges the daemon runs.

use std::sync::Arc;

use warden_detect::classify::{Rules, classify};
use warden_engine::executor::{
    ActionError, ActionRequest, BoxFuture, Collected, EvidenceCollector,
};
use warden_engine::registry::{DuplicateEntry, Registries};
use warden_runbooks::pipeline_failure::evidence::classification_artifact;
use warden_store::EvidenceStore;

/// Registers the classification collector and runbook 1's judges for the demo.
///
/// # Errors
/// A name registered twice.
pub fn register(
    registries: &mut Registries,
    evidence: &Arc<EvidenceStore>,
) -> Result<(), DuplicateEntry> {
    let mut layer = registries.runbook(warden_core::RunbookId::PIPELINE_FAILURE);
    layer.collector(
        "failure_classification",
        Arc::new(CapturedLogClassification {
            evidence: evidence.clone(),
        }),
    )?;
    for (name, judge) in warden_runbooks::pipeline_failure::judges::judges() {
        layer.judge(&name, judge)?;
    }
    Ok(())
}

/// Classifies the task logs captured for the incident.
struct CapturedLogClassification {
    evidence: Arc<EvidenceStore>,
}

fn failed(message: String) -> ActionError {
    ActionError {
        message,
        retryable: false,
    }
}

impl EvidenceCollector for CapturedLogClassification {
    fn collect<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<Collected, ActionError>> {
        Box::pin(async move {
            let logs: Vec<&warden_core::Evidence> = request
                .incident
                .evidence
                .iter()
                .filter(|e| e.name.ends_with(".log"))
                .collect();
            if logs.is_empty() {
                return Err(failed(format!(
                    "{}: no task log was captured",
                    request.incident.id
                )));
            }
            let mut text = String::new();
            for log in &logs {
                let bytes = self
                    .evidence
                    .get(&log.hash)
                    .map_err(|err| failed(format!("{}: {err}", log.name)))?;
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
            let rules = Rules::builtin().map_err(|err| failed(err.0))?;
            let c = classify(&rules, &text, "");
            let names: Vec<&str> = logs.iter().map(|l| l.name.as_str()).collect();
            Ok(classification_artifact(
                &c,
                format!("captured task log {}", names.join(", ")),
                None,
            ))
        })
    }
}
