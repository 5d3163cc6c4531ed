//! The fake cluster's serving objects, shaped like a KServe (serverless) predictor in the
//! middle of a canary rollout: InferenceService `demand-forecast` with revision `…-00001`
//! (the rolled-out one) and `…-00002` (created minutes ago, 10% of traffic), two predictor
//! pods, their logs and events, the `demand-forecast-predictor` HPA at its maximum, a
//! Deployment `demand-forecast-predictor-00002-deployment`, and any EnvoyFilters created.
//!
//! It reacts like the controllers would where tests look: a merge patch setting
//! `canaryTrafficPercent: 0` sends all traffic back to the rolled-out revision; a new
//! `storageUri` creates the next revision (rolled out at once without a canary percentage);
//! raising `minReplicas` lifts the HPA's desired and current replicas.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Shared, invalid, merge_patch, not_found, patched, scale_object};

/// The serving objects; tests may change any of them.
#[derive(Debug, Clone, Default)]
pub struct Serving {
    /// The InferenceService (spec and status).
    pub inference_service: Value,
    /// Its Knative revisions.
    pub revisions: Vec<Value>,
    /// Predictor pods.
    pub pods: Vec<Value>,
    /// Log text by `pod` (current container) or `pod/previous`.
    pub logs: BTreeMap<String, String>,
    /// Events.
    pub events: Vec<Value>,
    /// The HPA.
    pub hpa: Value,
    /// The predictor Deployment's replicas.
    pub deployment_replicas: i64,
    /// EnvoyFilters by name.
    pub envoy_filters: BTreeMap<String, Value>,
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Revision `n` of the predictor, created at `created`, loading `uri`.
pub fn revision(n: usize, created: String, uri: &str) -> Value {
    json!({
        "apiVersion": "serving.knative.dev/v1", "kind": "Revision",
        "metadata": {
            "name": format!("demand-forecast-predictor-{n:05}"),
            "namespace": "mlops",
            "creationTimestamp": created,
            "labels": {
                "serving.kserve.io/inferenceservice": "demand-forecast",
                "serving.knative.dev/configurationGeneration": n.to_string()
            },
            "annotations": {"internal.serving.kserve.io/storage-initializer-sourceuri": uri}
        },
        "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": created}]}
    })
}

impl Serving {
    /// The canary-in-progress fixture, with timestamps relative to `now`.
    pub fn fixture(now: DateTime<Utc>) -> Self {
        let ago = |minutes: i64| time(now - chrono::Duration::minutes(minutes));
        let pod = |name: &str, revision: &str, created: String, restarts: i32| {
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {
                    "name": name, "namespace": "mlops", "creationTimestamp": created,
                    "labels": {
                        "serving.kserve.io/inferenceservice": "demand-forecast",
                        "serving.knative.dev/revision": revision
                    }
                },
                "spec": {"containers": [{"name": "kserve-container", "image": "docker.io/seldonio/mlserver:1.7.1"}]},
                "status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": created}],
                    "containerStatuses": [{
                        "name": "kserve-container", "ready": true, "restartCount": restarts,
                        "image": "docker.io/seldonio/mlserver:1.7.1", "imageID": "", "started": true,
                        "state": {"running": {"startedAt": created}},
                        "lastState": if restarts > 0 {
                            json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": ago(3)}})
                        } else { json!({}) }
                    }]
                }
            })
        };
        Self {
            inference_service: json!({
                "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                "metadata": {"name": "demand-forecast", "namespace": "mlops", "generation": 2,
                             "resourceVersion": "1001"},
                "spec": {"predictor": {
                    "minReplicas": 0, "maxReplicas": 3, "canaryTrafficPercent": 10,
                    "model": {"modelFormat": {"name": "mlflow"},
                              "storageUri": "s3://models/demand-forecast/2"}
                }},
                "status": {
                    "url": "http://demand-forecast.mlops.example.com",
                    "components": {"predictor": {
                        "latestCreatedRevision": "demand-forecast-predictor-00002",
                        "latestReadyRevision": "demand-forecast-predictor-00002",
                        "latestRolledoutRevision": "demand-forecast-predictor-00001",
                        "traffic": [
                            {"revisionName": "demand-forecast-predictor-00001", "percent": 90, "tag": "prev", "latestRevision": false},
                            {"revisionName": "demand-forecast-predictor-00002", "percent": 10, "tag": "latest", "latestRevision": true}
                        ]
                    }},
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": ago(4)}]
                }
            }),
            revisions: vec![
                revision(1, ago(60 * 24 * 6), "s3://models/demand-forecast/1"),
                revision(2, ago(4), "s3://models/demand-forecast/2"),
            ],
            pods: vec![
                pod("demand-forecast-predictor-00001-deployment-7d9f8-abcde", "demand-forecast-predictor-00001", ago(60 * 24 * 6), 0),
                pod("demand-forecast-predictor-00002-deployment-5c6b7-fghij", "demand-forecast-predictor-00002", ago(4), 1),
            ],
            logs: BTreeMap::from([
                (
                    "demand-forecast-predictor-00002-deployment-5c6b7-fghij".to_string(),
                    "2026-11-25 03:01:02,123 [mlserver] INFO - Loaded model 'demand-forecast' succesfully.\n\
                     2026-11-25 03:01:40,456 [mlserver.rest] INFO - 127.0.0.1:50312 - \"POST /v2/models/demand-forecast/infer HTTP/1.1\" 200\n"
                        .to_string(),
                ),
                (
                    "demand-forecast-predictor-00002-deployment-5c6b7-fghij/previous".to_string(),
                    "2026-11-25 02:58:11,001 [mlserver] INFO - Loading model 'demand-forecast'\n".to_string(),
                ),
            ]),
            events: vec![json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": "demand-forecast-predictor-00002.1", "namespace": "mlops"},
                "involvedObject": {"kind": "Pod", "name": "demand-forecast-predictor-00002-deployment-5c6b7-fghij"},
                "type": "Warning", "reason": "BackOff", "count": 1,
                "message": "Back-off restarting failed container kserve-container in pod demand-forecast-predictor-00002-deployment-5c6b7-fghij",
                "lastTimestamp": ago(3)
            })],
            hpa: json!({
                "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "demand-forecast-predictor", "namespace": "mlops"},
                "spec": {"minReplicas": 1, "maxReplicas": 3,
                         "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "demand-forecast-predictor-00002-deployment"},
                         "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]},
                "status": {
                    "currentReplicas": 3, "desiredReplicas": 3, "lastScaleTime": ago(6),
                    "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 97, "averageValue": "970m"}}}],
                    "conditions": [
                        {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "recommended size matches current size"},
                        {"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas", "lastTransitionTime": ago(6), "message": "the desired replica count is more than the maximum replica count"}
                    ]
                }
            }),
            deployment_replicas: 3,
            envoy_filters: BTreeMap::new(),
        }
    }
}

/// What KServe's, Knative's and the HPA's controllers would do after a spec change: a new
/// `storageUri` is a new revision (rolled out at once without a canary percentage).
fn reconcile(serving: &mut Serving, storage_before: &Value) {
    let predictor = serving.inference_service["spec"]["predictor"].clone();
    let storage = &predictor["model"]["storageUri"];
    if storage != storage_before {
        let n = serving.revisions.len() + 1;
        let created = time(chrono::Utc::now() + chrono::Duration::seconds(1));
        serving
            .revisions
            .push(revision(n, created, storage.as_str().unwrap_or_default()));
        let name = format!("demand-forecast-predictor-{n:05}");
        let status = &mut serving.inference_service["status"]["components"]["predictor"];
        status["latestCreatedRevision"] = json!(name);
        status["latestReadyRevision"] = json!(name);
        if predictor["canaryTrafficPercent"].is_null() {
            status["latestRolledoutRevision"] = json!(name);
            status["traffic"] =
                json!([{"revisionName": name, "percent": 100, "latestRevision": true}]);
        }
    }
    let status = &mut serving.inference_service["status"]["components"]["predictor"];
    if predictor["canaryTrafficPercent"].as_i64() == Some(0) {
        let rolled_out = status["latestRolledoutRevision"].clone();
        let latest = status["latestReadyRevision"].clone();
        status["traffic"] = json!([
            {"revisionName": rolled_out, "percent": 100, "tag": "prev", "latestRevision": false},
            {"revisionName": latest, "percent": 0, "tag": "latest", "latestRevision": true}
        ]);
    }
    if let Some(min) = predictor["minReplicas"].as_i64() {
        let hpa = &mut serving.hpa;
        hpa["spec"]["minReplicas"] = json!(min.max(1));
        let desired = hpa["status"]["desiredReplicas"]
            .as_i64()
            .unwrap_or(0)
            .max(min);
        hpa["status"]["desiredReplicas"] = json!(desired);
        hpa["status"]["currentReplicas"] = json!(desired);
    }
    if let Some(max) = predictor["maxReplicas"].as_i64() {
        serving.hpa["spec"]["maxReplicas"] = json!(max);
    }
}

fn list(kind: &str, api_version: &str, items: Vec<Value>) -> Response {
    axum::Json(json!({
        "apiVersion": api_version, "kind": kind,
        "metadata": {"resourceVersion": "2000"}, "items": items
    }))
    .into_response()
}

fn query_value(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| v.replace("%3D", "=").replace("%2F", "/").replace('+', " "))
    })
}

async fn pods(State(cluster): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let selector = query_value(&query, "labelSelector").unwrap_or_default();
    let state = cluster.lock().unwrap();
    let items = state
        .serving
        .pods
        .iter()
        .filter(|pod| {
            selector.split(',').filter(|s| !s.is_empty()).all(|term| {
                term.split_once('=').is_some_and(|(key, value)| {
                    pod["metadata"]["labels"][key].as_str() == Some(value)
                })
            })
        })
        .cloned()
        .collect();
    list("PodList", "v1", items)
}

async fn logs(
    State(cluster): State<Shared>,
    Path((_, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let previous = query_value(&query, "previous").as_deref() == Some("true");
    let key = if previous {
        format!("{name}/previous")
    } else {
        name.clone()
    };
    let state = cluster.lock().unwrap();
    match state.serving.logs.get(&key) {
        Some(text) => {
            let tail = query_value(&query, "tailLines")
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(usize::MAX);
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(tail);
            let mut out = lines[start..].join("\n");
            out.push('\n');
            (StatusCode::OK, out).into_response()
        }
        None if previous => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "BadRequest", "code": 400,
                "message": format!("previous terminated container \"kserve-container\" in pod \"{name}\" not found")
            })),
        )
            .into_response(),
        None => not_found(&format!("pods \"{name}\"")),
    }
}

async fn events(State(cluster): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let wanted = query_value(&query, "fieldSelector")
        .and_then(|s| s.strip_prefix("involvedObject.name=").map(str::to_string));
    let state = cluster.lock().unwrap();
    let items = state
        .serving
        .events
        .iter()
        .filter(|e| {
            wanted
                .as_deref()
                .is_none_or(|name| e["involvedObject"]["name"].as_str() == Some(name))
        })
        .cloned()
        .collect();
    list("EventList", "v1", items)
}

async fn hpa(State(cluster): State<Shared>, Path((_, name)): Path<(String, String)>) -> Response {
    let state = cluster.lock().unwrap();
    if state.serving.hpa["metadata"]["name"].as_str() != Some(name.as_str()) {
        return not_found(&format!("horizontalpodautoscalers.autoscaling \"{name}\""));
    }
    axum::Json(state.serving.hpa.clone()).into_response()
}

async fn inference_service(
    State(cluster): State<Shared>,
    Path((_, name)): Path<(String, String)>,
    method: Method,
    body: Bytes,
) -> Response {
    let mut state = cluster.lock().unwrap();
    if state.serving.inference_service["metadata"]["name"].as_str() != Some(name.as_str()) {
        return not_found(&format!("inferenceservices.serving.kserve.io \"{name}\""));
    }
    if method == Method::PATCH {
        let what = format!("InferenceService.serving.kserve.io \"{name}\"");
        let Ok(patch) = serde_json::from_slice::<Value>(&body) else {
            return invalid(&mut state, &what, "the body is not JSON");
        };
        let mut object = state.serving.inference_service.clone();
        merge_patch(&mut object, &patch);
        if let Err(error) = crate::schema::check_inference_service(&object) {
            return invalid(&mut state, &what, &error);
        }
        let storage_before =
            state.serving.inference_service["spec"]["predictor"]["model"]["storageUri"].clone();
        state.serving.inference_service = object;
        let generation = state.serving.inference_service["metadata"]["generation"]
            .as_i64()
            .unwrap_or(1);
        state.serving.inference_service["metadata"]["generation"] = json!(generation + 1);
        reconcile(&mut state.serving, &storage_before);
    }
    axum::Json(state.serving.inference_service.clone()).into_response()
}

async fn revisions(State(cluster): State<Shared>) -> Response {
    let state = cluster.lock().unwrap();
    list(
        "RevisionList",
        "serving.knative.dev/v1",
        state.serving.revisions.clone(),
    )
}

async fn deployment_scale(
    State(cluster): State<Shared>,
    Path((namespace, name)): Path<(String, String)>,
    method: Method,
    body: Bytes,
) -> Response {
    let mut state = cluster.lock().unwrap();
    let selector = "app=demand-forecast";
    let current = scale_object(
        &namespace,
        &name,
        state.serving.deployment_replicas,
        selector,
    );
    if method == Method::PATCH {
        let what = format!("Scale \"{name}\"");
        match patched("io.k8s.api.autoscaling.v1.Scale", &current, &body) {
            Ok(object) => {
                state.serving.deployment_replicas =
                    object["spec"]["replicas"].as_i64().unwrap_or(0);
            }
            Err(error) => return invalid(&mut state, &what, &error),
        }
    }
    let replicas = state.serving.deployment_replicas;
    axum::Json(scale_object(&namespace, &name, replicas, selector)).into_response()
}

async fn envoy_filters(State(cluster): State<Shared>, body: Bytes) -> Response {
    let mut object: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut state = cluster.lock().unwrap();
    if state.serving.envoy_filters.contains_key(&name) {
        return (
            StatusCode::CONFLICT,
            axum::Json(json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "AlreadyExists", "code": 409,
                              "message": format!("envoyfilters.networking.istio.io \"{name}\" already exists")})),
        )
            .into_response();
    }
    object["metadata"]["resourceVersion"] = json!("1");
    state.serving.envoy_filters.insert(name, object.clone());
    (StatusCode::CREATED, axum::Json(object)).into_response()
}

async fn envoy_filter(
    State(cluster): State<Shared>,
    Path((_, name)): Path<(String, String)>,
    method: Method,
    body: Bytes,
) -> Response {
    let mut state = cluster.lock().unwrap();
    let missing = || not_found(&format!("envoyfilters.networking.istio.io \"{name}\""));
    match method {
        Method::DELETE => match state.serving.envoy_filters.remove(&name) {
            Some(_) => {
                axum::Json(json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}))
                    .into_response()
            }
            None => missing(),
        },
        Method::PUT => {
            let mut object: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            object["metadata"]["resourceVersion"] = json!("2");
            state.serving.envoy_filters.insert(name, object.clone());
            axum::Json(object).into_response()
        }
        _ => match state.serving.envoy_filters.get(&name) {
            Some(object) => axum::Json(object.clone()).into_response(),
            None => missing(),
        },
    }
}

/// The serving routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/namespaces/{namespace}/pods", get(pods))
        .route("/api/v1/namespaces/{namespace}/pods/{name}/log", get(logs))
        .route("/api/v1/namespaces/{namespace}/events", get(events))
        .route(
            "/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{name}",
            get(hpa),
        )
        .route(
            "/apis/serving.kserve.io/v1beta1/namespaces/{namespace}/inferenceservices/{name}",
            get(inference_service).patch(inference_service),
        )
        .route(
            "/apis/serving.knative.dev/v1/namespaces/{namespace}/revisions",
            get(revisions),
        )
        .route(
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
            get(deployment_scale).patch(deployment_scale),
        )
        .route(
            "/apis/networking.istio.io/v1alpha3/namespaces/{namespace}/envoyfilters",
            axum::routing::post(envoy_filters),
        )
        .route(
            "/apis/networking.istio.io/v1alpha3/namespaces/{namespace}/envoyfilters/{name}",
            get(envoy_filter).put(envoy_filter).delete(envoy_filter),
        )
}
