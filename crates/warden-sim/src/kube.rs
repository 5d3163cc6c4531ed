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
    /// The CronJob's last scheduled and last successful Job, when a scenario runs it (`None`:
    /// the fixture's times).
    pub cronjob_runs: Option<CronJobRuns>,
    /// The StatefulSet's replicas.
    pub replicas: i64,
    /// Requests, in order.
    pub seen: Vec<Seen>,
    /// The serving objects (and any pod a test adds).
    pub serving: serving::Serving,
    /// Secrets by name: when each was created (RFC 3339); values are never held.
    pub secrets: std::collections::BTreeMap<String, String>,
    /// Writes refused because the object they would make breaks its schema (422 `Invalid`).
    pub invalid: Vec<String>,
}

/// When a CronJob last started a Job and when one last succeeded (RFC 3339), as its status
/// reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CronJobRuns {
    /// `status.lastScheduleTime`.
    pub last_schedule: Option<String>,
    /// `status.lastSuccessfulTime`.
    pub last_successful: Option<String>,
}

/// The cluster, shared with the server.
pub type Shared = Arc<Mutex<Cluster>>;

/// `path` with its query string, as [`record`] takes it.
fn with_query(path: String, query: Option<String>) -> String {
    match query {
        Some(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path,
    }
}

fn record(cluster: &Shared, method: &Method, path: String, headers: &HeaderMap, body: &Bytes) {
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
    log_request(method.as_str(), &path, &query);
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

/// Records every request as it arrived, before its handler answers it (the handlers need
/// not, and none can forget to).
async fn recorded(
    State(cluster): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 << 20).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body over 16 MiB").into_response();
    };
    let path = with_query(
        parts.uri.path().to_string(),
        parts.uri.query().map(str::to_string),
    );
    record(&cluster, &parts.method, path, &parts.headers, &bytes);
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

/// The API server's answer to an object its schema refuses (`fieldValidation=Strict`): 422
/// with a `Status` of reason `Invalid` naming the field. The refusal is kept in
/// [`Cluster::invalid`] too, so a test can say what was refused.
pub(crate) fn invalid(cluster: &mut Cluster, what: &str, error: &str) -> Response {
    let message = format!("{what} is invalid: {error}");
    cluster.invalid.push(message.clone());
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": "Invalid", "code": 422
        })),
    )
        .into_response()
}

/// `patch` applied to `target` as a JSON merge patch (RFC 7386: `null` removes a field).
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(fields) => {
            if !target.is_object() {
                *target = json!({});
            }
            if let Value::Object(object) = target {
                for (key, value) in fields {
                    if value.is_null() {
                        object.remove(key);
                    } else {
                        merge_patch(object.entry(key.clone()).or_insert(Value::Null), value);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// The object a merge patch would make of `current`, if Kubernetes' schema `definition`
/// holds it; what is wrong otherwise (for [`invalid`]).
pub(crate) fn patched(definition: &str, current: &Value, body: &Bytes) -> Result<Value, String> {
    let patch = serde_json::from_slice::<Value>(body)
        .map_err(|error| format!("the body is not JSON: {error}"))?;
    let mut object = current.clone();
    merge_patch(&mut object, &patch);
    crate::schema::check_kubernetes(definition, &object)?;
    Ok(object)
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

fn cronjob_object(
    namespace: &str,
    name: &str,
    suspended: bool,
    runs: Option<&CronJobRuns>,
) -> Value {
    let status = match runs {
        Some(runs) => {
            let mut status = serde_json::Map::new();
            if let Some(at) = &runs.last_schedule {
                status.insert("lastScheduleTime".into(), json!(at));
            }
            if let Some(at) = &runs.last_successful {
                status.insert("lastSuccessfulTime".into(), json!(at));
            }
            Value::Object(status)
        }
        None => json!({
            "lastScheduleTime": "2026-11-25T10:00:00Z",
            "lastSuccessfulTime": "2026-11-25T09:50:12Z"
        }),
    };
    json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": "42"},
        "spec": {
            "schedule": "*/10 * * * *", "suspend": suspended,
            "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure",
                "containers": [{"name": "materialize", "image": "feastdev/feature-server:0.67.0"}]
            }}}}
        },
        "status": status
    })
}

async fn cronjob(
    State(cluster): State<Shared>,
    Path((namespace, name)): Path<(String, String)>,
    method: Method,
    body: Bytes,
) -> Response {
    if name != "feast-materialize" {
        return not_found(&format!("cronjobs.batch \"{name}\""));
    }
    let mut state = cluster.lock().unwrap();
    let current = cronjob_object(
        &namespace,
        &name,
        state.suspended,
        state.cronjob_runs.as_ref(),
    );
    if method == Method::PATCH {
        let what = format!("CronJob.batch \"{name}\"");
        match patched("io.k8s.api.batch.v1.CronJob", &current, &body) {
            Ok(object) => {
                state.suspended = object["spec"]["suspend"].as_bool().unwrap_or(false);
                return axum::Json(object).into_response();
            }
            Err(error) => return invalid(&mut state, &what, &error),
        }
    }
    axum::Json(current).into_response()
}

async fn scale(
    State(cluster): State<Shared>,
    Path((namespace, name)): Path<(String, String)>,
    method: Method,
    body: Bytes,
) -> Response {
    let mut state = cluster.lock().unwrap();
    let current = scale_object(&namespace, &name, state.replicas, "app=redis");
    if method == Method::PATCH {
        let what = format!("Scale \"{name}\"");
        match patched("io.k8s.api.autoscaling.v1.Scale", &current, &body) {
            Ok(object) => state.replicas = object["spec"]["replicas"].as_i64().unwrap_or(0),
            Err(error) => return invalid(&mut state, &what, &error),
        }
    }
    let replicas = state.replicas;
    axum::Json(scale_object(&namespace, &name, replicas, "app=redis")).into_response()
}

/// A `scale` subresource as the API server answers it.
pub(crate) fn scale_object(namespace: &str, name: &str, replicas: i64, selector: &str) -> Value {
    json!({
        "apiVersion": "autoscaling/v1", "kind": "Scale",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "selector": selector}
    })
}

/// `GET /version`: the API server's build, as a real one answers it (the probe's request).
async fn version() -> Response {
    axum::Json(json!({
        "major": "1", "minor": "31", "gitVersion": "v1.31.0", "gitCommit": "fake",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.22.0",
        "compiler": "gc", "platform": "linux/amd64"
    }))
    .into_response()
}

/// Appends one request to the suite-wide log when the test command asked for one
/// (`WARDEN_KUBE_REQUESTS`): the RBAC test checks every request Warden made against the
/// shipped rules.
pub(crate) fn log_request(method: &str, path: &str, query: &str) {
    let Ok(file) = std::env::var("WARDEN_KUBE_REQUESTS") else {
        return;
    };
    use std::io::Write;
    if let Ok(mut out) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        let _ = writeln!(out, "{method} {path} {query}");
    }
}

/// Starts the fake API server on a free loopback port; returns its URL and its state.
pub async fn start() -> (String, Shared) {
    start_at(chrono::Utc::now(), None).await
}

/// [`start`] with the serving fixture's times relative to `now` (a replayed week's moment),
/// on `port` when it is free.
pub async fn start_at(now: chrono::DateTime<chrono::Utc>, port: Option<u16>) -> (String, Shared) {
    let cluster: Shared = Arc::new(Mutex::new(Cluster {
        suspended: false,
        cronjob_runs: None,
        replicas: 1,
        seen: Vec::new(),
        serving: serving::Serving::fixture(now),
        secrets: std::collections::BTreeMap::new(),
        invalid: Vec::new(),
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
        .layer(axum::middleware::from_fn_with_state(
            cluster.clone(),
            recorded,
        ))
        .with_state(cluster.clone());
    let url = crate::serve(app, port).await.unwrap();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{check_inference_service, check_kubernetes};

    /// What the fake serves is what a real API server could serve: its fixtures are held to
    /// Kubernetes' schemas and KServe's CRD, so a client that reads them reads real shapes.
    #[test]
    fn the_fixtures_the_fake_serves_conform_to_the_real_schemas() {
        let serving = serving::Serving::fixture(chrono::Utc::now());
        check_inference_service(&serving.inference_service).unwrap();
        let list = |kind: &str, items: &[Value]| {
            json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "2000"},
                   "items": items})
        };
        check_kubernetes(
            "io.k8s.api.core.v1.PodList",
            &list("PodList", &serving.pods),
        )
        .unwrap();
        // The check reaches into the items: one misspelt status field deep in a pod fails.
        let mut pods = serving.pods.clone();
        pods[0]["status"]["containerStatuses"][0]["restartcount"] = json!(1);
        let error = check_kubernetes("io.k8s.api.core.v1.PodList", &list("PodList", &pods));
        assert_eq!(
            error.unwrap_err(),
            "PodList.items[0].status.containerStatuses[0].restartcount is not a field the \
             schema declares"
        );
        check_kubernetes(
            "io.k8s.api.core.v1.EventList",
            &list("EventList", &serving.events),
        )
        .unwrap();
        check_kubernetes(
            "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
            &serving.hpa,
        )
        .unwrap();
        check_kubernetes(
            "io.k8s.api.batch.v1.CronJob",
            &cronjob_object("feast", "feast-materialize", true, None),
        )
        .unwrap();
        check_kubernetes(
            "io.k8s.api.batch.v1.CronJob",
            &cronjob_object(
                "feast",
                "feast-materialize",
                false,
                Some(&CronJobRuns {
                    last_schedule: Some("2026-11-20T14:00:00Z".into()),
                    last_successful: None,
                }),
            ),
        )
        .unwrap();
        check_kubernetes(
            "io.k8s.api.autoscaling.v1.Scale",
            &scale_object("feast", "redis", 3, "app=redis"),
        )
        .unwrap();
    }

    #[test]
    fn a_patch_that_would_break_the_schema_is_refused_and_changes_nothing() {
        let scale = "io.k8s.api.autoscaling.v1.Scale";
        let current = scale_object("feast", "redis", 1, "app=redis");
        let error = patched(
            scale,
            &current,
            &Bytes::from_static(br#"{"spec":{"replicas":"3"}}"#),
        )
        .unwrap_err();
        assert_eq!(
            error,
            "Scale.spec.replicas is string, the schema wants integer or null"
        );
        let mut cluster = Cluster::default();
        let refused = invalid(&mut cluster, "Scale \"redis\"", &error);
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(cluster.invalid.len(), 1);
        assert!(patched(scale, &current, &Bytes::from_static(b"{")).is_err());
        let object = patched(
            scale,
            &current,
            &Bytes::from_static(br#"{"spec":{"replicas":3}}"#),
        )
        .unwrap();
        assert_eq!(object["spec"]["replicas"], 3);
        assert_eq!(current["spec"]["replicas"], 1);
    }
}
