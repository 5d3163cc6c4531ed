//! The client against a local fake Kubernetes API server that answers the way the real one
//! does (object JSON, the `scale` subresource, `Status` errors) and records every request:
//! the test asserts the exact paths, verbs, patch content type and bodies kube-rs sends, and
//! that the bearer token from the kubeconfig is presented.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use warden_config::KubernetesConfig;
use warden_kube::{KubeClient, Workload};

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    content_type: String,
    authorization: String,
    body: Value,
}

#[derive(Default)]
struct Cluster {
    suspended: bool,
    replicas: i64,
    seen: Vec<Seen>,
}

type Shared = Arc<Mutex<Cluster>>;

fn record(cluster: &Shared, method: &Method, path: String, headers: &HeaderMap, body: &Bytes) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    cluster.lock().unwrap().seen.push(Seen {
        method: method.to_string(),
        path,
        content_type: header("content-type"),
        authorization: header("authorization"),
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
    });
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("{what} not found"), "reason": "NotFound", "code": 404
        })),
    )
        .into_response()
}

async fn cronjob(
    State(cluster): State<Shared>,
    Path((namespace, name)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(
        &cluster,
        &method,
        format!("/apis/batch/v1/namespaces/{namespace}/cronjobs/{name}"),
        &headers,
        &body,
    );
    if name != "feast-materialize" {
        return not_found(&format!("cronjobs.batch \"{name}\""));
    }
    let mut state = cluster.lock().unwrap();
    if method == Method::PATCH {
        let patch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if let Some(suspend) = patch["spec"]["suspend"].as_bool() {
            state.suspended = suspend;
        }
    }
    axum::Json(json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": "42"},
        "spec": {
            "schedule": "*/10 * * * *", "suspend": state.suspended,
            "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure",
                "containers": [{"name": "materialize", "image": "feastdev/feature-server:0.67.0"}]
            }}}}
        },
        "status": {}
    }))
    .into_response()
}

async fn scale(
    State(cluster): State<Shared>,
    Path((namespace, name)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(
        &cluster,
        &method,
        format!("/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale"),
        &headers,
        &body,
    );
    let mut state = cluster.lock().unwrap();
    if method == Method::PATCH {
        let patch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if let Some(replicas) = patch["spec"]["replicas"].as_i64() {
            state.replicas = replicas;
        }
    }
    axum::Json(json!({
        "apiVersion": "autoscaling/v1", "kind": "Scale",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": state.replicas},
        "status": {"replicas": state.replicas, "selector": "app=redis"}
    }))
    .into_response()
}

async fn fake_cluster() -> (String, Shared) {
    let cluster: Shared = Arc::new(Mutex::new(Cluster {
        suspended: false,
        replicas: 1,
        seen: Vec::new(),
    }));
    let app = Router::new()
        .route(
            "/apis/batch/v1/namespaces/{namespace}/cronjobs/{name}",
            get(cronjob).patch(cronjob),
        )
        .route(
            "/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale",
            get(scale).patch(scale),
        )
        .with_state(cluster.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app).into_future());
    (url, cluster)
}

fn kubeconfig(dir: &std::path::Path, server: &str) -> KubernetesConfig {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: other\n\
             clusters:\n- name: test\n  cluster:\n    server: {server}\n\
             - name: elsewhere\n  cluster:\n    server: http://127.0.0.1:9\n\
             users:\n- name: warden\n  user:\n    token: warden-sa-token\n\
             contexts:\n- name: test\n  context:\n    cluster: test\n    user: warden\n\
             - name: other\n  context:\n    cluster: elsewhere\n    user: warden\n"
        ),
    )
    .unwrap();
    KubernetesConfig {
        in_cluster: false,
        kubeconfig: Some(path),
        context: Some("test".into()),
        namespace: "ml".into(),
    }
}

#[tokio::test]
async fn cronjob_suspend_and_statefulset_scale_send_the_right_requests() {
    let (server, cluster) = fake_cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let client = KubeClient::connect(&kubeconfig(dir.path(), &server))
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
    assert!(missing.contains("cronjob other/nope"), "{missing}");
    assert!(missing.contains("not found"), "{missing}");

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
    assert_eq!(seen[1].content_type, "application/merge-patch+json");
    assert_eq!(seen[1].body, json!({"spec": {"suspend": true}}));
    assert_eq!(seen[3].content_type, "application/merge-patch+json");
    assert_eq!(seen[3].body, json!({"spec": {"replicas": 3}}));
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
    assert!(err.contains("kubeconfig /nonexistent/kubeconfig"), "{err}");
}
