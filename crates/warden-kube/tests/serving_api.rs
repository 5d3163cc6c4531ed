//! Runbook 2's Kubernetes operations against the fake API server: the requests kube-rs sends
//! (paths, query strings, verbs, merge-patch content type, bodies) and how the answers are
//! read (pod and container states, previous-container logs, events, HPA status,
//! InferenceService and its revisions, EnvoyFilter create / replace / delete).

#![allow(clippy::unwrap_used)]

use serde_json::json;
use warden_config::KubernetesConfig;
use warden_kube::{KubeClient, Workload};
use warden_testkit::fake_kube;

async fn client() -> (KubeClient, fake_kube::Shared, tempfile::TempDir) {
    let (server, cluster) = fake_kube::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = KubernetesConfig {
        in_cluster: false,
        kubeconfig: Some(fake_kube::kubeconfig(dir.path(), &server)),
        context: Some("test".into()),
        namespace: "mlops".into(),
    };
    (KubeClient::connect(&config).await.unwrap(), cluster, dir)
}

#[tokio::test]
async fn pods_logs_events_and_hpa_are_read_like_kubectl_shows_them() {
    let (client, cluster, _dir) = client().await;
    let pods = client
        .pods(None, "serving.kserve.io/inferenceservice=demand-forecast")
        .await
        .unwrap();
    assert_eq!(pods.len(), 2);
    let canary = &pods[1];
    assert!(canary.name.contains("00002"));
    assert!(canary.ready);
    assert_eq!(canary.containers[0].restarts, 1);
    assert_eq!(
        canary.containers[0].last_terminated_reason.as_deref(),
        Some("OOMKilled")
    );
    assert_eq!(canary.containers[0].last_exit_code, Some(137));
    assert!(
        client
            .pods(None, "serving.kserve.io/inferenceservice=other")
            .await
            .unwrap()
            .is_empty()
    );

    let log = client
        .pod_logs(None, &canary.name, Some("kserve-container"), 200, false)
        .await
        .unwrap();
    assert!(log.contains("Loaded model"), "{log}");
    let previous = client
        .pod_logs(None, &canary.name, None, 1, true)
        .await
        .unwrap();
    assert_eq!(
        previous.trim(),
        "2026-11-25 02:58:11,001 [mlserver] INFO - Loading model 'demand-forecast'"
    );
    let no_previous = client
        .pod_logs(None, &pods[0].name, None, 200, true)
        .await
        .unwrap_err();
    assert!(
        no_previous
            .message
            .contains("previous terminated container"),
        "{no_previous}"
    );

    let events = client.events_for(None, &canary.name).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].reason, "BackOff");
    assert_eq!(events[0].kind, "Warning");

    let hpa = client.hpa(None, "demand-forecast-predictor").await.unwrap();
    assert_eq!(
        (hpa.current_replicas, hpa.desired_replicas, hpa.max_replicas),
        (3, 3, 3)
    );
    assert!(hpa.conditions.iter().any(|c| c.kind == "ScalingLimited"
        && c.status == "True"
        && c.reason == "TooManyReplicas"
        && c.since.is_some()));
    let missing = client.hpa(None, "nope").await.unwrap_err();
    assert!(
        missing.message.contains("hpa mlops/nope") && missing.message.contains("not found"),
        "{missing}"
    );
    // A 404 is typed: no retry can help.
    assert_eq!(missing.kind, warden_kube::KubeErrorKind::NotFound);
    assert!(!missing.is_retryable());

    let seen = cluster.lock().unwrap().seen.clone();
    let paths: Vec<(String, String)> = seen
        .iter()
        .map(|s| (s.path.clone(), s.query.clone()))
        .collect();
    assert!(
        paths
            .iter()
            .any(|(p, q)| p == "/api/v1/namespaces/mlops/pods"
                && q.contains(
                    "labelSelector=serving.kserve.io%2Finferenceservice%3Ddemand-forecast"
                )),
        "{paths:?}"
    );
    let log_query = &paths
        .iter()
        .find(|(p, q)| p.ends_with("/log") && q.contains("previous=true"))
        .unwrap()
        .1;
    assert!(log_query.contains("tailLines=1"), "{log_query}");
    assert!(
        paths
            .iter()
            .any(|(p, q)| p == "/api/v1/namespaces/mlops/events"
                && q.contains(
                    "fieldSelector=involvedObject.name%3Ddemand-forecast-predictor-00002"
                )),
        "{paths:?}"
    );
    assert!(
        seen.iter()
            .all(|s| s.authorization == "Bearer warden-sa-token")
    );
}

#[tokio::test]
async fn inference_service_merge_patch_and_revisions() {
    let (client, cluster, _dir) = client().await;
    let isvc = client
        .inference_service(None, "demand-forecast")
        .await
        .unwrap();
    assert_eq!(isvc["spec"]["predictor"]["canaryTrafficPercent"], 10);
    let revisions = client.revisions(None, "demand-forecast").await.unwrap();
    assert_eq!(revisions.len(), 2);
    assert_eq!(
        revisions[1]["metadata"]["name"],
        "demand-forecast-predictor-00002"
    );

    let patched = client
        .patch_inference_service(
            None,
            "demand-forecast",
            &json!({"spec": {"predictor": {"canaryTrafficPercent": 0}}}),
        )
        .await
        .unwrap();
    let traffic = &patched["status"]["components"]["predictor"]["traffic"];
    assert_eq!(
        traffic[0]["revisionName"],
        "demand-forecast-predictor-00001"
    );
    assert_eq!(traffic[0]["percent"], 100);

    let missing = client
        .patch_inference_service(None, "nope", &json!({}))
        .await
        .unwrap_err();
    assert!(
        missing.message.contains("inferenceservice mlops/nope"),
        "{missing}"
    );
    assert_eq!(missing.kind, warden_kube::KubeErrorKind::NotFound);

    let deployment = Workload::Deployment("demand-forecast-predictor-00002-deployment".into());
    assert_eq!(client.scale(None, &deployment, 5).await.unwrap(), 5);
    // scale_replicas reads the Deployment's replicas before it raises them.
    assert_eq!(client.replicas(None, &deployment).await.unwrap(), 5);

    let seen = cluster.lock().unwrap().seen.clone();
    let patch = seen
        .iter()
        .find(|s| s.method == "PATCH" && s.path.ends_with("/inferenceservices/demand-forecast"))
        .unwrap();
    assert_eq!(patch.content_type, "application/merge-patch+json");
    assert!(
        patch
            .query
            .split('&')
            .any(|p| p == "fieldValidation=Strict")
    );
    assert_eq!(
        patch.body,
        json!({"spec": {"predictor": {"canaryTrafficPercent": 0}}})
    );
    assert!(seen.iter().any(|s| {
        s.path == "/apis/serving.knative.dev/v1/namespaces/mlops/revisions"
            && s.query
                .contains("labelSelector=serving.kserve.io%2Finferenceservice%3Ddemand-forecast")
    }));
}

#[tokio::test]
async fn envoy_filters_are_created_replaced_and_deleted_idempotently() {
    let (client, cluster, _dir) = client().await;
    let filter = json!({
        "apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
        "metadata": {"name": "warden-rate-limit-demand-forecast", "namespace": "mlops"},
        "spec": {"workloadSelector": {"labels": {"serving.kserve.io/inferenceservice": "demand-forecast"}}}
    });
    client.apply_envoy_filter(None, &filter).await.unwrap();
    client.apply_envoy_filter(None, &filter).await.unwrap();
    assert!(
        client
            .envoy_filter(None, "warden-rate-limit-demand-forecast")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        client
            .delete_envoy_filter(None, "warden-rate-limit-demand-forecast")
            .await
            .unwrap()
    );
    assert!(
        !client
            .delete_envoy_filter(None, "warden-rate-limit-demand-forecast")
            .await
            .unwrap()
    );
    assert!(
        client
            .envoy_filter(None, "warden-rate-limit-demand-forecast")
            .await
            .unwrap()
            .is_none()
    );

    let verbs: Vec<String> = cluster
        .lock()
        .unwrap()
        .seen
        .iter()
        .filter(|s| s.path.contains("envoyfilters"))
        .map(|s| s.method.clone())
        .collect();
    assert_eq!(
        verbs,
        [
            "GET", "POST", "GET", "PUT", "GET", "DELETE", "DELETE", "GET"
        ]
    );
}
