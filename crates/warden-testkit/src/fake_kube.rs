//! A fake Kubernetes API server for contract tests: it answers like the real one (object JSON,
//! the `scale` subresource, `Status` errors with `reason: NotFound`) for a CronJob and a
//! StatefulSet, and — in [`serving`] — for a KServe predictor (InferenceService with its
//! Knative revisions, pods, logs, events, HPA, Deployment scale, EnvoyFilters) and — in
//! [`pipelines`] — for pipeline task pods and secrets' metadata. It records
//! every request (method, path, query, content type, authorization, body) so tests can
//! assert exactly what a client sent.

#![allow(clippy::unwrap_used)] // test support: a poisoned lock or a bad bind is a test failure

pub mod pipelines;
pub mod serving;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Seen {
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Query string (empty when none).
    pub query: String,
    /// `Content-Type`.
    pub content_type: String,
    /// `Authorization`.
    pub authorization: String,
    /// The JSON body (`null` when none).
    pub body: Value,
    /// When it arrived.
    pub at: std::time::Instant,
}

/// The fake cluster's state: one CronJob `feast-materialize` and one StatefulSet `redis`
/// (any namespace), and every request seen.
#[derive(Default)]
pub struct Cluster {
    /// The CronJob's `spec.suspend`.
    pub suspended: bool,
    /// The StatefulSet's replicas.
    pub replicas: i64,
    /// Requests, in order.
    pub seen: Vec<Seen>,
    /// The serving objects (and any pod a test adds).
    pub serving: serving::Serving,
    /// Secrets by name: when each was created (RFC 3339); values are never held.
    pub secrets: std::collections::BTreeMap<String, String>,
}

/// The cluster, shared with the server.
pub type Shared = Arc<Mutex<Cluster>>;

pub(crate) fn record(
    cluster: &Shared,
    method: &Method,
    path: String,
    headers: &HeaderMap,
    body: &Bytes,
) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (path, query) = match path.split_once('?') {
        Some((path, query)) => (path.to_string(), query.to_string()),
        None => (path, String::new()),
    };
    crate::rbac::log_request(method.as_str(), &path, &query);
    cluster.lock().unwrap().seen.push(Seen {
        method: method.to_string(),
        path,
        query,
        content_type: header("content-type"),
        authorization: header("authorization"),
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
        at: std::time::Instant::now(),
    });
}

pub(crate) fn not_found(what: &str) -> Response {
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
        "status": {
            "lastScheduleTime": "2026-11-25T10:00:00Z",
            "lastSuccessfulTime": "2026-11-25T09:50:12Z"
        }
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

/// `GET /version`: the API server's build, as a real one answers it (the probe's request).
async fn version(State(cluster): State<Shared>, method: Method, headers: HeaderMap) -> Response {
    record(
        &cluster,
        &method,
        "/version".into(),
        &headers,
        &Bytes::new(),
    );
    axum::Json(json!({
        "major": "1", "minor": "31", "gitVersion": "v1.31.0", "gitCommit": "fake",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.22.0",
        "compiler": "gc", "platform": "linux/amd64"
    }))
    .into_response()
}

/// Starts the fake API server on a free loopback port; returns its URL and its state.
pub async fn start() -> (String, Shared) {
    let cluster: Shared = Arc::new(Mutex::new(Cluster {
        suspended: false,
        replicas: 1,
        seen: Vec::new(),
        serving: serving::Serving::fixture(chrono::Utc::now()),
        secrets: std::collections::BTreeMap::new(),
    }));
    let app = Router::new()
        .route("/version", get(version))
        .route(
            "/apis/batch/v1/namespaces/{namespace}/cronjobs/{name}",
            get(cronjob).patch(cronjob),
        )
        .route(
            "/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale",
            get(scale).patch(scale),
        )
        .merge(serving::routes())
        .merge(pipelines::routes())
        .with_state(cluster.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app).into_future());
    (url, cluster)
}

/// Writes a kubeconfig whose context `test` points at `server` with the bearer token
/// `warden-sa-token` (its current context points elsewhere, so the context must be chosen),
/// and returns its path.
pub fn kubeconfig(dir: &std::path::Path, server: &str) -> std::path::PathBuf {
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
    path
}
