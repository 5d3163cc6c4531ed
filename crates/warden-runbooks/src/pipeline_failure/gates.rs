//! Runbook 1's closure gates (R1.8, R1.9): `rerun_succeeded` (the incident's own run, as
//! captured at detection, succeeded after the incident opened: its rerun),
//! `next_scheduled_run_succeeded` (a run the schedule started after the incident opened
//! succeeded; a pipeline without scheduled runs is left to a responder) and
//! `known_failure_mode` (the classification matched a known cause; otherwise the incident says
//! "new failure mode: update the runbook" with the suggested pattern until a responder records
//! the update).

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use warden_core::Incident;
use warden_engine::executor::{BoxFuture, GateEvaluator, GateVerdict};
use warden_runbook::Gate;

use super::source::RunState;
use super::{Pipelines, newest_finished};

/// The gate checks [`PipelineGates`] judges.
pub const CHECKS: [&str; 3] = [
    "rerun_succeeded",
    "next_scheduled_run_succeeded",
    "known_failure_mode",
];

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
        _now: warden_core::Timestamp,
    ) -> BoxFuture<'a, Result<Option<GateVerdict>, String>> {
        Box::pin(self.judge(incident, gate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline_failure::judges::tests::request;
    use serde_json::json;

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
