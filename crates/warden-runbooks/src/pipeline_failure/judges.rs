//! Runbook 1's cause judges (R1.3, R1.5, R1.6) for the five cause steps, from the
//! classification (a transient one confirms `transient_failure` and refutes the rest), the
//! artifact-storage probe and the secrets check (a failed listing or a missing referenced
//! secret confirms its cause whatever the logs say); a confirmed cause's fix carries the values
//! read off the cluster ([`super::fixes`]).

use serde_json::Value;
use warden_engine::judge::{JudgeRegistry, JudgeRequest, Judgement};

use crate::common::artifacts::of_kind;
use crate::common::judges::from_evidence;

/// The catalogue causes this module judges.
pub const NAMES: [&str; 5] = [
    "missing_expired_secret",
    "artifact_storage_unreachable",
    "resource_limit",
    "incompatible_version_missing_dependency",
    "transient_failure",
];

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

/// Runbook 1's judges by cause name.
pub fn judges() -> JudgeRegistry {
    from_evidence(NAMES.map(|cause| (cause, Judge { cause })), Judge::decide)
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use serde_json::json;
    use warden_core::{Finding, Incident, IncidentId, RunbookId, Severity, Target, TargetKind};

    pub(in crate::pipeline_failure) fn request(evidence: &[(&str, Value)]) -> JudgeRequest {
        let finding = Finding {
            runbook: RunbookId::new("pipeline-failure"),
            target: Target::new(TargetKind::Pipeline, "training"),
            detector: "pipeline_failed_runs".into(),
            severity: Severity::High,
            summary: "failed".into(),
            detected_at: chrono::Utc::now(),
            measurements: BTreeMap::new(),
            cause_key: None,
            alert: None,
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
            now: chrono::Utc::now(),
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
}
