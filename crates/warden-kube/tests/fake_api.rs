//! The client against the local fake Kubernetes API server (`warden_testkit::fake_kube`), which
//! answers the way the real one does and records every request: the test asserts the exact paths, verbs, patch content type and bodies kube-rs sends, and
//! that the bearer token from the kubeconfig is presented.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use warden_config::KubernetesConfig;
use warden_kube::{KubeClient, Workload};
use warden_testkit::fake_kube;

fn config(dir: &std::path::Path, server: &str) -> KubernetesConfig {
    KubernetesConfig {
        in_cluster: false,
        kubeconfig: Some(fake_kube::kubeconfig(dir, server)),
        context: Some("test".into()),
        namespace: "ml".into(),
    }
}

#[tokio::test]
async fn cronjob_suspend_and_statefulset_scale_send_the_right_requests() {
    let (server, cluster) = fake_kube::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = KubeClient::connect(&config(dir.path(), &server))
        .await
        .unwrap();
    assert!(
        client.server().starts_with(&server),
        "the context chose {}",
        client.server()
    );

    assert!(
        !client
            .cronjob_suspended(None, "feast-materialize")
            .await
            .unwrap()
    );
    let state = client
        .cronjob_state(None, "feast-materialize")
        .await
        .unwrap();
    assert_eq!(state.schedule, "*/10 * * * *");
    assert_eq!(
        state.last_successful.as_deref(),
        Some("2026-11-25T09:50:12Z")
    );
    assert!(
        client
            .set_cronjob_suspended(None, "feast-materialize", true)
            .await
            .unwrap()
    );
    let redis = Workload::StatefulSet("redis".into());
    assert_eq!(client.replicas(None, &redis).await.unwrap(), 1);
    assert_eq!(client.scale(None, &redis, 3).await.unwrap(), 3);

    let missing = client
        .cronjob_suspended(Some("other"), "nope")
        .await
        .unwrap_err();
    assert!(missing.message.contains("cronjob other/nope"), "{missing}");
    assert!(missing.message.contains("not found"), "{missing}");
    assert_eq!(missing.kind, warden_kube::KubeErrorKind::NotFound);
    assert!(!missing.is_retryable(), "a 404 does not heal by retrying");

    let seen = cluster.lock().unwrap().seen.clone();
    let calls: Vec<(String, String)> = seen
        .iter()
        .map(|s| (s.method.clone(), s.path.clone()))
        .collect();
    assert_eq!(
        calls,
        [
            (
                "GET",
                "/apis/batch/v1/namespaces/ml/cronjobs/feast-materialize"
            ),
            (
                "GET",
                "/apis/batch/v1/namespaces/ml/cronjobs/feast-materialize"
            ),
            (
                "PATCH",
                "/apis/batch/v1/namespaces/ml/cronjobs/feast-materialize"
            ),
            (
                "GET",
                "/apis/apps/v1/namespaces/ml/statefulsets/redis/scale"
            ),
            (
                "PATCH",
                "/apis/apps/v1/namespaces/ml/statefulsets/redis/scale"
            ),
            ("GET", "/apis/batch/v1/namespaces/other/cronjobs/nope"),
        ]
        .map(|(m, p)| (m.to_string(), p.to_string()))
    );
    assert!(
        seen.iter()
            .all(|s| s.authorization == "Bearer warden-sa-token"),
        "{seen:?}"
    );
    assert_eq!(seen[2].content_type, "application/merge-patch+json");
    assert_eq!(seen[2].body, json!({"spec": {"suspend": true}}));
    assert_eq!(seen[4].content_type, "application/merge-patch+json");
    assert_eq!(seen[4].body, json!({"spec": {"replicas": 3}}));
    // Writes ask the API server to refuse unknown fields rather than drop them silently.
    assert!(
        seen[2]
            .query
            .split('&')
            .any(|p| p == "fieldValidation=Strict")
    );
    assert!(
        seen[4]
            .query
            .split('&')
            .any(|p| p == "fieldValidation=Strict")
    );
}

#[tokio::test]
async fn a_missing_kubeconfig_is_named() {
    let config = KubernetesConfig {
        in_cluster: false,
        kubeconfig: Some("/nonexistent/kubeconfig".into()),
        context: None,
        namespace: "ml".into(),
    };
    let err = KubeClient::connect(&config).await.unwrap_err();
    assert!(
        err.message.contains("kubeconfig /nonexistent/kubeconfig"),
        "{err}"
    );
    assert_eq!(err.kind, warden_kube::KubeErrorKind::Config);
    assert!(!err.is_retryable());
}

/// The probe of `config check --connect` reads the API server's version; a server that is
/// not there is `Unreachable`, which a retry may cure.
#[tokio::test]
async fn the_version_probe_answers_and_an_absent_server_is_unreachable() {
    let (server, _cluster) = warden_testkit::fake_kube::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = KubernetesConfig {
        in_cluster: false,
        kubeconfig: Some(warden_testkit::fake_kube::kubeconfig(dir.path(), &server)),
        context: Some("test".into()),
        namespace: "ml".into(),
    };
    let client = KubeClient::connect(&config).await.unwrap();
    assert_eq!(client.server_version().await.unwrap(), "v1.31.0");

    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let absent = KubernetesConfig {
        kubeconfig: Some(warden_testkit::fake_kube::kubeconfig(
            dir.path(),
            &format!("http://127.0.0.1:{port}"),
        )),
        ..config
    };
    let client = KubeClient::connect(&absent).await.unwrap();
    let err = client.server_version().await.unwrap_err();
    assert_eq!(err.kind, warden_kube::KubeErrorKind::Unreachable, "{err}");
    assert!(err.is_retryable());
}
