//! The KServe half of `rollback_model` (runbooks 2 and 5): what a rollback of an
//! InferenceService would change, and the change itself, read back.
//!
//! - A canary in progress (`canaryTrafficPercent` below 100 and the newest ready revision not
//!   the rolled-out one) gets `canaryTrafficPercent: 0` — KServe's own rollback: all traffic
//!   back on the rolled-out revision.
//! - A fully rolled-out bad revision gets the previous revision's `storageUri` back (read from
//!   the revisions' `storage-initializer-sourceuri` annotation). That patch makes Knative
//!   create a *new* revision serving the old URI, after which "the newest revision with a
//!   different URI" is the bad one again: a second run (a retry after a later part of the
//!   rollback failed) would roll forward to it. So the patch also leaves
//!   [`ROLLED_BACK_ANNOTATION`] (`from -> to`) on the InferenceService, and a rollback that
//!   finds the storage URI equal to that annotation's `to` has nothing to do. A later
//!   deployment (another URI) is rolled back normally.

use serde_json::{Value, json};
use warden_engine::executor::ActionError;
use warden_kube::KubeClient;

use super::actions::refused;
use super::kube::kube_error;

/// Annotation left on an InferenceService whose `storageUri` Warden rolled back:
/// `"<from> -> <to>"`.
pub const ROLLED_BACK_ANNOTATION: &str = "warden.dev/storage-uri-rolled-back";

/// The revision annotation KServe writes with the URI a revision's storage initializer loads.
const SOURCE_URI_ANNOTATION: &str = "internal.serving.kserve.io/storage-initializer-sourceuri";

/// What a KServe rollback would change.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    Canary {
        percent: i64,
        back_to: String,
    },
    Storage {
        from: String,
        to: String,
    },
    /// Nothing to do, and why.
    Nothing(String),
}

fn plan(isvc: &str, object: &Value, revisions: &[Value]) -> Plan {
    let predictor = &object["spec"]["predictor"];
    let status = &object["status"]["components"]["predictor"];
    let rolled_out = status["latestRolledoutRevision"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let latest = status["latestReadyRevision"].as_str().unwrap_or_default();
    match predictor["canaryTrafficPercent"].as_i64() {
        Some(0) => {
            return Plan::Nothing(format!(
                "inferenceservice {isvc}: canaryTrafficPercent is already 0, traffic on {rolled_out}"
            ));
        }
        Some(percent) if percent < 100 && latest != rolled_out => {
            return Plan::Canary {
                percent,
                back_to: rolled_out,
            };
        }
        _ => {}
    }
    let current = predictor["model"]["storageUri"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if let Some((from, to)) = object["metadata"]["annotations"][ROLLED_BACK_ANNOTATION]
        .as_str()
        .and_then(|done| done.split_once(" -> "))
        && to == current
    {
        return Plan::Nothing(format!(
            "inferenceservice {isvc}: storageUri already rolled back from {from} to {to}"
        ));
    }
    let uri = |r: &Value| {
        r["metadata"]["annotations"][SOURCE_URI_ANNOTATION]
            .as_str()
            .map(str::to_string)
    };
    // The newest revision serving something other than what is deployed now.
    let previous = revisions
        .iter()
        .rev()
        .filter_map(uri)
        .find(|u| *u != current);
    match previous {
        Some(to) if revisions.last().and_then(uri).as_deref() == Some(current.as_str()) => {
            Plan::Storage { from: current, to }
        }
        _ => Plan::Nothing(format!(
            "inferenceservice {isvc}: storageUri {current} is not the newest revision's; nothing to roll back"
        )),
    }
}

/// Rolls InferenceService `isvc` back (or, without `execute`, says what it would change).
///
/// # Errors
/// The API server's errors (not-found and forbidden are not retried), or a patch that did
/// not read back.
pub async fn rollback(
    kube: &KubeClient,
    namespace: Option<&str>,
    isvc: &str,
    execute: bool,
) -> Result<String, ActionError> {
    let object = kube
        .inference_service(namespace, isvc)
        .await
        .map_err(kube_error)?;
    let revisions = kube.revisions(namespace, isvc).await.map_err(kube_error)?;
    match plan(isvc, &object, &revisions) {
        Plan::Nothing(why) => Ok(why),
        Plan::Canary { percent, back_to } if !execute => Ok(format!(
            "would set inferenceservice {isvc} canaryTrafficPercent {percent} → 0, sending all traffic to {back_to}"
        )),
        Plan::Storage { from, to } if !execute => Ok(format!(
            "would set inferenceservice {isvc} storageUri {from} → {to}"
        )),
        Plan::Canary { percent, back_to } => {
            let patch = json!({"spec": {"predictor": {"canaryTrafficPercent": 0}}});
            let after = kube
                .patch_inference_service(namespace, isvc, &patch)
                .await
                .map_err(kube_error)?;
            let read_back = after["spec"]["predictor"]["canaryTrafficPercent"].as_i64();
            if read_back != Some(0) {
                return Err(refused(format!(
                    "inferenceservice {isvc}: canaryTrafficPercent reads {read_back:?} after the patch"
                )));
            }
            Ok(format!(
                "inferenceservice {isvc}: canaryTrafficPercent {percent} → 0 (read back), traffic back on {back_to}"
            ))
        }
        Plan::Storage { from, to } => {
            let patch = json!({
                "metadata": {"annotations": {ROLLED_BACK_ANNOTATION: format!("{from} -> {to}")}},
                "spec": {"predictor": {"model": {"storageUri": to}}}
            });
            let after = kube
                .patch_inference_service(namespace, isvc, &patch)
                .await
                .map_err(kube_error)?;
            let read_back = after["spec"]["predictor"]["model"]["storageUri"]
                .as_str()
                .unwrap_or_default();
            if read_back != to {
                return Err(refused(format!(
                    "inferenceservice {isvc}: storageUri reads {read_back} after the patch"
                )));
            }
            Ok(format!(
                "inferenceservice {isvc}: storageUri {from} → {to} (read back)"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use warden_core::{Finding, Incident, IncidentId, RunbookId, Severity, Target, TargetKind};
    use warden_engine::executor::ActionRequest;

    /// Runbook 5's rollback of a `models:` entry through the registered `rollback_model`
    /// handler, against the fake API server.
    fn handler(
        dir: &std::path::Path,
        server: &str,
    ) -> Arc<dyn warden_engine::executor::ActionHandler> {
        let kubeconfig = warden_testkit::fake_kube::kubeconfig(dir, server);
        let file = dir.join("warden.yaml");
        let text = format!(
            "connectors:\n  kubernetes:\n    kubeconfig: {}\n    context: test\n\
             models:\n  - name: demand-forecast\n    predictions: logs\n\
             \x20   inference_service: demand-forecast\n    namespace: mlops\n",
            kubeconfig.display()
        );
        let config = warden_config::parse(&file, &text).unwrap();
        Arc::new(crate::common::rollback::RollbackModel {
            config: Arc::new(config),
        })
    }

    fn request() -> ActionRequest {
        let finding = Finding {
            runbook: RunbookId::new("model-regression"),
            target: Target::new(TargetKind::Model, "demand-forecast"),
            detector: "model_regression".into(),
            severity: Severity::High,
            summary: "wape +33%".into(),
            detected_at: chrono::Utc::now(),
            measurements: BTreeMap::new(),
            cause_key: None,
            alert: None,
        };
        ActionRequest {
            incident: Incident::open(IncidentId("INC-K".into()), &finding, chrono::Utc::now()),
            step: "rollback".into(),
            params: BTreeMap::new(),
            idempotency_key: "INC-K/rollback".into(),
            earlier_results: BTreeMap::new(),
            approval: None,
            now: chrono::Utc::now(),
        }
    }

    fn patches(cluster: &warden_testkit::fake_kube::Shared) -> Vec<Value> {
        let state = cluster.lock().unwrap();
        state
            .seen
            .iter()
            .filter(|seen| seen.method == "PATCH")
            .map(|seen| {
                assert_eq!(seen.content_type, "application/merge-patch+json");
                seen.body.clone()
            })
            .collect()
    }

    /// A canary in progress: traffic back on the rolled-out revision, once.
    #[tokio::test]
    async fn a_canary_of_the_regressed_model_gets_no_traffic_and_a_second_run_changes_nothing() {
        let (server, cluster) = warden_testkit::fake_kube::start().await;
        let dir = tempfile::tempdir().unwrap();
        let rollback = handler(dir.path(), &server);
        let planned = rollback.plan(&request()).await.unwrap();
        assert!(
            planned
                .contains("would set inferenceservice demand-forecast canaryTrafficPercent 10 → 0"),
            "{planned}"
        );
        assert!(patches(&cluster).is_empty(), "the plan changed something");
        let done = rollback.execute(&request()).await.unwrap();
        assert!(
            done.contains("canaryTrafficPercent 10 → 0 (read back), traffic back on demand-forecast-predictor-00001"),
            "{done}"
        );
        let again = rollback.execute(&request()).await.unwrap();
        assert!(again.contains("already 0"), "{again}");
        assert_eq!(
            patches(&cluster),
            vec![json!({"spec": {"predictor": {"canaryTrafficPercent": 0}}})]
        );
    }

    /// A fully rolled-out bad revision: the previous storageUri comes back in a new revision;
    /// a second run (a retry) does not roll forward to the bad one, and a later deployment is
    /// rolled back normally.
    #[tokio::test]
    async fn a_rolled_out_bad_revision_gets_the_previous_storage_uri_back_exactly_once() {
        let (server, cluster) = warden_testkit::fake_kube::start().await;
        {
            let mut state = cluster.lock().unwrap();
            let isvc = &mut state.serving.inference_service;
            isvc["spec"]["predictor"]
                .as_object_mut()
                .unwrap()
                .remove("canaryTrafficPercent");
            let status = &mut isvc["status"]["components"]["predictor"];
            status["latestRolledoutRevision"] = json!("demand-forecast-predictor-00002");
        }
        let dir = tempfile::tempdir().unwrap();
        let rollback = handler(dir.path(), &server);
        let planned = rollback.plan(&request()).await.unwrap();
        assert!(
            planned.contains("would set inferenceservice demand-forecast storageUri s3://models/demand-forecast/2 → s3://models/demand-forecast/1"),
            "{planned}"
        );
        let done = rollback.execute(&request()).await.unwrap();
        assert!(
            done.contains("storageUri s3://models/demand-forecast/2 → s3://models/demand-forecast/1 (read back)"),
            "{done}"
        );
        {
            let state = cluster.lock().unwrap();
            assert_eq!(state.serving.revisions.len(), 3, "Knative made revision 3");
            assert_eq!(
                state.serving.inference_service["status"]["components"]["predictor"]["latestRolledoutRevision"],
                "demand-forecast-predictor-00003"
            );
        }
        // Revision 3 serves /1 now; without the annotation "the newest other URI" is /2.
        let again = rollback.execute(&request()).await.unwrap();
        assert!(
            again.contains("already rolled back from s3://models/demand-forecast/2 to s3://models/demand-forecast/1"),
            "{again}"
        );
        assert_eq!(patches(&cluster).len(), 1, "the second run patched");
        assert_eq!(
            patches(&cluster)[0]["metadata"]["annotations"][ROLLED_BACK_ANNOTATION],
            "s3://models/demand-forecast/2 -> s3://models/demand-forecast/1"
        );

        // A later deployment of version 3 regresses too: rolled back to what served before it.
        cluster.lock().unwrap().serving.inference_service["spec"]["predictor"]["model"]["storageUri"] =
            json!("s3://models/demand-forecast/3");
        cluster.lock().unwrap().serving.revisions.push(
            warden_testkit::fake_kube::serving::revision(
                4,
                (chrono::Utc::now() + chrono::Duration::minutes(1))
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string(),
                "s3://models/demand-forecast/3",
            ),
        );
        let later = rollback.execute(&request()).await.unwrap();
        assert!(
            later.contains("storageUri s3://models/demand-forecast/3 → s3://models/demand-forecast/1 (read back)"),
            "{later}"
        );
    }
}
