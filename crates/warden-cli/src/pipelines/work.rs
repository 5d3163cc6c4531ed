//! Runbook 1's judges, actions and gates (R1.3, R1.5–R1.9), for Airflow and KFP pipelines:
//! - judges for the five cause steps, from the classification (a transient one confirms
//!   `transient_failure` and refutes the rest), the artifact-storage probe and the secrets
//!   check (a failed listing or a missing referenced secret confirms its cause whatever the
//!   logs say); a confirmed cause's fix carries the values read off the cluster
//!   ([`super::fixes`]);
//! - `pause_schedule` / `resume_schedule` (the Airflow DAG's pause or the KFP recurring run's
//!   `:disable` / `:enable`, left as found: runbook 4's rule), `retry_pipeline_run` (reached
//!   only when the transient cause is confirmed: reruns the failed run with the same inputs
//!   and looks at the outcome on each later attempt, so the step's retry policy is the
//!   bounded exponential backoff with jitter between reruns);
//! - gates `rerun_succeeded` (the incident's own run, as captured at detection, succeeded
//!   after the incident opened: its rerun), `next_scheduled_run_succeeded` (a run the schedule
//!   started after the incident opened succeeded; a pipeline without scheduled runs is left to
//!   a responder) and `known_failure_mode` (the classification
//!   matched a known cause; otherwise the incident says "new failure mode: update the
//!   runbook" with the suggested pattern until a responder records the update).

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use warden_core::Incident;
use warden_engine::executor::{
    ActionError, ActionHandler, ActionRegistry, ActionRequest, BoxFuture, GateEvaluator,
    GateVerdict,
};
use warden_engine::judge::{CauseJudge, JudgeRegistry, JudgeRequest, Judgement};
use warden_runbook::Gate;

use super::source::{RunState, schedule};
use super::{Pipelines, newest_finished};
use crate::feature_store::actions::{PauseMaterialization, Schedule};
use crate::serving::judges::of_kind;

/// Fixes for `cause` that collectors read off the cluster (`fixes.<cause>` of any artifact).
fn cluster_fixes(request: &JudgeRequest, cause: &str) -> Vec<String> {
    request
        .all_json()
        .iter()
        .flat_map(|artifact| {
            artifact["fixes"][cause]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|fix| fix.as_str().map(str::to_string))
        .collect()
}

/// Decides one cause from the `failure_classification` artifact.
struct Judge {
    cause: &'static str,
}

impl Judge {
    fn decide(&self, request: &JudgeRequest) -> Option<Judgement> {
        // The storage listing itself outranks what the logs suggest.
        if self.cause == "artifact_storage_unreachable"
            && let Some(probe) = of_kind(request, "artifact_storage_probe")
            && probe["ok"] == false
        {
            return Some(Judgement::confirmed(
                0.9,
                format!(
                    "listing the artifact store failed: {} — fix: restore access to it (bucket, endpoint, credentials)",
                    probe["detail"].as_str().unwrap_or("")
                ),
            ));
        }
        if self.cause == "missing_expired_secret"
            && let Some(check) = of_kind(request, "secrets_check")
            && let Some(missing) = check["missing"].as_array().filter(|m| !m.is_empty())
        {
            let names: Vec<&str> = missing.iter().filter_map(Value::as_str).collect();
            return Some(Judgement::confirmed(
                0.9,
                format!(
                    "referenced secret(s) missing from the cluster: {} — fix: {}",
                    names.join(", "),
                    cluster_fixes(request, self.cause).join("; ")
                ),
            ));
        }
        let c = of_kind(request, "failure_classification")?["classification"].clone();
        let said = c["cause"].as_str()?;
        let transient = c["transient"].as_bool().unwrap_or(false);
        let confidence = c["confidence"].as_f64().unwrap_or(0.0);
        let lines: Vec<String> = c["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["text"].as_str().map(str::to_string))
            .take(2)
            .collect();
        // The cluster's values first: they are what the failed run actually had.
        let mut fixes = cluster_fixes(request, self.cause);
        fixes.extend(
            c["fixes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str().map(str::to_string)),
        );
        if said == "other" && !transient {
            // No rule matched: that is no evidence against any cause, and refuting them all
            // would skip every fix and undo the containment before anyone understood it.
            return None;
        }
        let matches = if self.cause == "transient_failure" {
            transient
        } else {
            said == self.cause && !transient
        };
        Some(if matches {
            Judgement::confirmed(
                confidence,
                format!(
                    "the logs say so: {} — fix: {}",
                    lines.join(" | "),
                    fixes.join("; ")
                ),
            )
        } else if self.cause == "transient_failure" {
            Judgement::refuted(format!(
                "not transient: classified {said}; a retry cannot cure it"
            ))
        } else {
            Judgement::refuted(format!(
                "the logs point to {said}{}",
                if transient { " (transient)" } else { "" }
            ))
        })
    }
}

impl CauseJudge for Judge {
    fn judge<'a>(
        &'a self,
        request: &'a JudgeRequest,
    ) -> BoxFuture<'a, Result<Option<Judgement>, String>> {
        Box::pin(async move { Ok(self.decide(request)) })
    }
}

/// Runbook 1's judges by cause name.
pub fn judges() -> JudgeRegistry {
    let mut registry = JudgeRegistry::new();
    for cause in [
        "missing_expired_secret",
        "artifact_storage_unreachable",
        "resource_limit",
        "incompatible_version_missing_dependency",
        "transient_failure",
    ] {
        let judge: Arc<dyn CauseJudge> = Arc::new(Judge { cause });
        registry.insert(cause.to_string(), judge);
    }
    registry
}

/// Pause or resume the incident's schedule through runbook 4's left-as-found handler.
struct PauseSchedule {
    pipelines: Arc<Pipelines>,
    pause: bool,
}

impl PauseSchedule {
    fn handler(
        &self,
        request: &ActionRequest,
    ) -> Result<Option<PauseMaterialization<Box<dyn Schedule>>>, ActionError> {
        let pipeline = self.pipelines.pipeline(&request.incident.target)?;
        Ok(
            schedule(&self.pipelines, pipeline).map(|schedule| PauseMaterialization {
                schedule,
                pause: self.pause,
            }),
        )
    }

    fn nothing(&self, request: &ActionRequest) -> Result<String, ActionError> {
        let pipeline = self.pipelines.pipeline(&request.incident.target)?;
        Ok(format!(
            "{}: no schedule to {} (no recurring_run_id configured)",
            pipeline.source.describe(),
            if self.pause { "pause" } else { "resume" }
        ))
    }
}

impl ActionHandler for PauseSchedule {
    fn plan<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            match self.handler(request)? {
                Some(handler) => handler.plan(request).await,
                None => self.nothing(request),
            }
        })
    }

    fn execute<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            match self.handler(request)? {
                Some(handler) => handler.execute(request).await,
                None => self.nothing(request),
            }
        })
    }
}

/// Reruns the failed run with the same inputs, then — on each later attempt the step's retry
/// policy allows — looks at the outcome: still running or failed again (rerun once more) is a
/// retryable error, so the executor backs off exponentially with jitter, within its bound.
struct RetryRun {
    pipelines: Arc<Pipelines>,
}

impl RetryRun {
    async fn work(&self, request: &ActionRequest, execute: bool) -> Result<String, ActionError> {
        let pipeline = self.pipelines.pipeline(&request.incident.target)?;
        let source = self.pipelines.source(pipeline).await?;
        let described = source.describe();
        let runs = source.recent_runs(10).await?;
        let opened = request.incident.opened_at;
        if super::is_stuck_incident(&request.incident)
            && let Some(stuck) = super::incident_run(&runs, true)
        {
            // Warden does not stop runs: a second copy beside a stuck one helps nobody.
            return Err(ActionError {
                message: format!(
                    "{described}: run {} is stuck, not failed; stop it first (Airflow: mark it failed; KFP: terminate it), then the failed run is rerun",
                    stuck.id
                ),
                retryable: false,
            });
        }
        if let Some(running) = runs.iter().find(|r| r.state == RunState::Running) {
            return Err(ActionError {
                message: format!(
                    "{described}: run {} is still running; its outcome is read at the next attempt",
                    running.id
                ),
                retryable: true,
            });
        }
        let Some(newest) = newest_finished(&runs).cloned() else {
            return Ok(format!("{described}: no finished run to retry"));
        };
        if newest.state == RunState::Succeeded {
            return Ok(if newest.ended.is_some_and(|end| end > opened) {
                format!("{described}: run {} succeeded after the retry", newest.id)
            } else {
                format!("{described}: no failed run to retry")
            });
        }
        if !execute {
            return Ok(format!(
                "would rerun run {} of {described} with the same inputs",
                newest.id
            ));
        }
        let did = source.rerun(&newest.id).await?;
        if let Some(schedule) = schedule(&self.pipelines, pipeline)
            && matches!(source, super::source::Source::Airflow { .. })
            && schedule.paused().await?
        {
            // Airflow runs no task of a paused DAG, cleared or not: the rerun starts when the
            // schedule resumes after the fixes, and the rerun gate judges it then.
            return Ok(format!(
                "{did}; {described} is paused, so the rerun starts when the schedule resumes"
            ));
        }
        Err(ActionError {
            message: format!("{did}; its outcome is read at the next attempt"),
            retryable: true,
        })
    }
}

crate::actions::work_handler!(RetryRun);

/// Runbook 1's handlers by catalogue name.
pub fn handlers(pipelines: &Arc<Pipelines>, registry: &mut ActionRegistry) {
    let entries: [(&str, Arc<dyn ActionHandler>); 3] = [
        (
            "pause_schedule",
            Arc::new(PauseSchedule {
                pipelines: pipelines.clone(),
                pause: true,
            }),
        ),
        (
            "resume_schedule",
            Arc::new(PauseSchedule {
                pipelines: pipelines.clone(),
                pause: false,
            }),
        ),
        (
            "retry_pipeline_run",
            Arc::new(RetryRun {
                pipelines: pipelines.clone(),
            }),
        ),
    ];
    for (name, handler) in entries {
        registry.insert(name.to_string(), handler);
    }
}

/// Runbook 1's gates.
pub struct PipelineGates {
    pipelines: Arc<Pipelines>,
    /// Where the collectors' artifacts are, for the classification.
    evidence: warden_store::EvidenceStore,
}

impl PipelineGates {
    /// Gates for the configured pipelines, reading artifacts from `evidence_dir`.
    pub fn new(pipelines: Arc<Pipelines>, evidence_dir: PathBuf) -> Self {
        Self {
            pipelines,
            evidence: warden_store::EvidenceStore::new(
                evidence_dir,
                warden_store::evidence::DEFAULT_MAX_BYTES,
            ),
        }
    }

    /// The incident's newest artifact named `name`, parsed.
    fn captured(&self, incident: &Incident, name: &str) -> Option<Value> {
        let captured = incident.evidence.iter().rev().find(|e| e.name == name)?;
        let bytes = self.evidence.get(&captured.hash).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The incident's newest classification, if one was captured.
    fn classification(&self, incident: &Incident) -> Option<Value> {
        Some(self.captured(incident, "failure-classification.json")?["classification"].clone())
    }

    /// The run the incident is about, as captured at detection.
    fn incident_run_id(&self, incident: &Incident) -> Option<String> {
        self.captured(incident, "task-logs.json")?["run"]["id"]
            .as_str()
            .map(str::to_string)
    }

    fn known_failure_mode(&self, incident: &Incident) -> Option<GateVerdict> {
        let c = self.classification(incident)?;
        Some(match c["new_failure_mode"].as_str() {
            Some(pattern) => GateVerdict {
                passed: false,
                explanation: format!(
                    "new failure mode: update the runbook — no rule matched; suggested pattern for the rules file: {pattern}"
                ),
            },
            None => GateVerdict {
                passed: true,
                explanation: format!(
                    "known failure mode: classified {}{} by the rules",
                    c["cause"].as_str().unwrap_or("?"),
                    if c["transient"] == true {
                        " (transient)"
                    } else {
                        ""
                    }
                ),
            },
        })
    }

    async fn judge(&self, incident: &Incident, gate: &Gate) -> Result<Option<GateVerdict>, String> {
        let Ok(pipeline) = self.pipelines.pipeline(&incident.target) else {
            return Ok(None);
        };
        if gate.check == "known_failure_mode" {
            return Ok(self.known_failure_mode(incident));
        }
        if !matches!(
            gate.check.as_str(),
            "rerun_succeeded" | "next_scheduled_run_succeeded"
        ) {
            return Ok(None);
        }
        let source = self
            .pipelines
            .source(pipeline)
            .await
            .map_err(|e| e.message)?;
        let described = source.describe();
        let runs = source.recent_runs(20).await.map_err(|e| e.message)?;
        let after_open =
            |r: &super::source::PipelineRun| r.ended.is_some_and(|end| end > incident.opened_at);
        if gate.check == "rerun_succeeded" {
            // The rerun of the incident's own run (same id after an Airflow clear or a KFP
            // :retry) — not just any later run; the newest finished run when none was captured.
            let wanted = self.incident_run_id(incident);
            let (which, run) = match wanted
                .as_deref()
                .and_then(|id| runs.iter().find(|r| r.id == id))
            {
                Some(run) => ("the incident's run", Some(run)),
                None => ("newest finished run", newest_finished(&runs)),
            };
            let passed = run.is_some_and(|r| r.state == RunState::Succeeded && after_open(r));
            return Ok(Some(GateVerdict {
                passed,
                explanation: match run {
                    Some(r) if !r.finished() => {
                        format!("{described}: {which} {} is still running", r.id)
                    }
                    Some(r) => format!(
                        "{described}: {which} {} {}{}",
                        r.id,
                        if r.state == RunState::Succeeded {
                            "succeeded"
                        } else {
                            "failed"
                        },
                        if after_open(r) {
                            " (after the incident opened)"
                        } else {
                            " (before the incident opened)"
                        }
                    ),
                    None => format!("{described}: no finished run"),
                },
            }));
        }
        if !runs.iter().any(|r| r.scheduled) {
            // No schedule to wait for: a person says whether the next run is fine.
            return Ok(None);
        }
        // The next scheduled run is one the schedule started after the incident opened — not
        // the failed scheduled run rerun.
        let scheduled = runs
            .iter()
            .filter(|r| r.scheduled && r.started.is_some_and(|s| s > incident.opened_at))
            .find(|r| r.finished());
        let passed = scheduled.is_some_and(|r| r.state == RunState::Succeeded);
        Ok(Some(GateVerdict {
            passed,
            explanation: match scheduled {
                Some(r) => format!(
                    "{described}: newest finished scheduled run {} is {:?}",
                    r.id, r.state
                )
                .to_lowercase(),
                None => format!(
                    "{described}: waiting for a scheduled run started after the incident opened"
                ),
            },
        }))
    }
}

impl GateEvaluator for PipelineGates {
    fn evaluate<'a>(
        &'a self,
        incident: &'a Incident,
        gate: &'a Gate,
    ) -> BoxFuture<'a, Result<Option<GateVerdict>, String>> {
        Box::pin(self.judge(incident, gate))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use serde_json::json;
    use warden_core::{Finding, IncidentId, RunbookId, Severity, Target, TargetKind};

    fn request(evidence: &[(&str, Value)]) -> JudgeRequest {
        let finding = Finding {
            runbook: RunbookId::new("pipeline-failure"),
            target: Target::new(TargetKind::Pipeline, "training"),
            detector: "pipeline_failed_runs".into(),
            severity: Severity::High,
            summary: "failed".into(),
            detected_at: chrono::Utc::now(),
            measurements: BTreeMap::new(),
            cause_key: None,
        };
        JudgeRequest {
            incident: Incident::open(IncidentId("INC-P".into()), &finding, chrono::Utc::now()),
            step: "storage-unreachable".into(),
            params: BTreeMap::new(),
            evidence: evidence
                .iter()
                .map(|(step, body)| {
                    (
                        step.to_string(),
                        serde_json::to_vec(body).unwrap_or_default(),
                    )
                })
                .collect(),
        }
    }

    fn classification(cause: &str, transient: bool) -> Value {
        json!({"kind": "failure_classification", "classification": {
            "cause": cause, "transient": transient, "confidence": 0.78,
            "evidence": [{"text": "NoCredentialsError: Unable to locate credentials"}],
            "fixes": ["give the task AWS credentials"]}})
    }

    #[test]
    fn a_failed_listing_confirms_storage_whatever_the_logs_say() {
        let storage = Judge {
            cause: "artifact_storage_unreachable",
        };
        let probe = json!({"kind": "artifact_storage_probe", "ok": false, "detail": "s3://b/: no such bucket"});
        let verdict = storage
            .decide(&request(&[
                ("artifacts", probe),
                ("classify", classification("missing_expired_secret", false)),
            ]))
            .expect("decides");
        assert!(
            verdict.confirmed && verdict.explanation.contains("no such bucket"),
            "{verdict:?}"
        );
        let reachable =
            json!({"kind": "artifact_storage_probe", "ok": true, "detail": "reachable"});
        let verdict = storage
            .decide(&request(&[
                ("artifacts", reachable),
                ("classify", classification("missing_expired_secret", false)),
            ]))
            .expect("decides");
        assert!(!verdict.confirmed, "{verdict:?}");
    }

    #[test]
    fn only_a_transient_classification_confirms_the_transient_cause() {
        let transient = Judge {
            cause: "transient_failure",
        };
        let secret = Judge {
            cause: "missing_expired_secret",
        };
        let throttled = request(&[("classify", classification("other", true))]);
        assert!(transient.decide(&throttled).expect("decides").confirmed);
        assert!(!secret.decide(&throttled).expect("decides").confirmed);
        let missing = request(&[("classify", classification("missing_expired_secret", false))]);
        assert!(!transient.decide(&missing).expect("decides").confirmed);
        assert!(secret.decide(&missing).expect("decides").confirmed);
        assert!(
            transient.decide(&request(&[])).is_none(),
            "no classification: a responder decides"
        );
        let unknown = request(&[("classify", classification("other", false))]);
        assert!(
            transient.decide(&unknown).is_none() && secret.decide(&unknown).is_none(),
            "no rule matched: no evidence either way, a responder decides"
        );
    }

    #[test]
    fn a_missing_referenced_secret_confirms_with_the_cluster_fix_first() {
        let secret = Judge {
            cause: "missing_expired_secret",
        };
        let check = json!({"kind": "secrets_check", "missing": ["aws-creds"],
            "fixes": {"missing_expired_secret": ["create secret aws-creds in namespace kubeflow (the pod uses it as env AWS_ACCESS_KEY_ID of main)"]}});
        let verdict = secret
            .decide(&request(&[
                ("secrets", check),
                ("classify", classification("other", false)),
            ]))
            .expect("decides");
        assert!(verdict.confirmed, "{verdict:?}");
        assert!(
            verdict.explanation.contains("aws-creds")
                && verdict.explanation.contains("create secret aws-creds"),
            "{verdict:?}"
        );
        // Present secrets leave it to the logs.
        let present = json!({"kind": "secrets_check", "missing": [], "fixes": {"missing_expired_secret": []}});
        let verdict = secret
            .decide(&request(&[
                ("secrets", present),
                ("classify", classification("resource_limit", false)),
            ]))
            .expect("decides");
        assert!(!verdict.confirmed, "{verdict:?}");
    }

    #[test]
    fn a_confirmed_cause_names_the_cluster_values_before_the_log_fixes() {
        let resources = Judge {
            cause: "resource_limit",
        };
        let pods = json!({"kind": "pod_events", "fixes": {"resource_limit": [
            "raise the memory limit of container main in pod p from 2Gi to 3Gi"]}});
        let verdict = resources
            .decide(&request(&[
                ("pod-events", pods),
                ("classify", classification("resource_limit", false)),
            ]))
            .expect("decides");
        assert!(verdict.confirmed);
        let cluster = verdict
            .explanation
            .find("from 2Gi to 3Gi")
            .expect("cluster fix");
        let logs = verdict
            .explanation
            .find("give the task AWS credentials")
            .expect("log fix");
        assert!(cluster < logs, "{verdict:?}");
    }

    #[test]
    fn the_known_failure_mode_gate_reads_the_captured_classification() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pipelines = Arc::new(Pipelines {
            pipelines: Vec::new(),
            airflow: None,
            kfp: None,
            kubernetes: None,
            rules: std::collections::HashMap::new(),
            object_store: None,
        });
        let gates = PipelineGates::new(pipelines, dir.path().to_path_buf());
        let mut incident = request(&[]).incident;
        assert!(
            gates.known_failure_mode(&incident).is_none(),
            "nothing captured yet"
        );
        let store = warden_store::EvidenceStore::new(dir.path(), 1 << 20);
        let artifact = json!({"kind": "failure_classification", "classification": {
            "cause": "other", "transient": false, "new_failure_mode": "(?i)widget exploded"}});
        let stored = store
            .put(
                "failure-classification.json",
                "application/json",
                "test",
                chrono::Utc::now(),
                &serde_json::to_vec(&artifact).expect("json"),
            )
            .expect("stored");
        incident.evidence.push(stored.evidence);
        let verdict = gates.known_failure_mode(&incident).expect("judged");
        assert!(!verdict.passed);
        assert!(
            verdict
                .explanation
                .contains("new failure mode: update the runbook")
                && verdict.explanation.contains("widget exploded"),
            "{verdict:?}"
        );
    }
}
