//! A stateful fake of the Kubeflow Pipelines v2beta1 API, for end-to-end tests of the daemon
//! and the demo's training pipeline:
//! runs (listed newest first, filtered by experiment), one run with its task details,
//! recurring runs (read, `:disable`, `:enable`) and `:retry`, which moves the run to the state
//! the test chose. Every request must be an operation the API description declares, with
//! declared query parameters only, and every answer is checked against the description's
//! schemas — a request or fixture that strays is answered with an error naming why and
//! recorded as such, so tests can assert none did.

#![allow(clippy::unwrap_used)] // test support: a poisoned lock or a bad bind is a test failure

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::kfp_spec::{conforms_to, operation, spec};

/// One request: method, path, query and the operation it matched (`NONE` when it matched
/// none, `UNDECLARED` when a query parameter was not declared, `NONCONFORMING` when the
/// fixture answering it broke the schema).
#[derive(Debug, Clone)]
pub struct Call {
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string.
    pub query: String,
    /// Operation id, or why none.
    pub operation: String,
}

/// The fake's state; tests change it freely.
#[derive(Default)]
pub struct Kfp {
    /// `v2beta1Run` objects (with `run_details` for `GET runs/{id}`), newest first.
    pub runs: Vec<Value>,
    /// Recurring runs by id: disabled or not.
    pub recurring_runs: BTreeMap<String, bool>,
    /// The state a run takes on `:retry` (`RUNNING` when unset).
    pub retry_outcome: Option<String>,
    /// Every request.
    pub calls: Vec<Call>,
}

impl Kfp {
    /// The operations called so far, in order.
    pub fn operations(&self) -> Vec<String> {
        self.calls.iter().map(|c| c.operation.clone()).collect()
    }
}

/// The fake, shared with its server.
pub type Shared = Arc<Mutex<Kfp>>;

/// A `v2beta1Run` with one task in the run's own state (failed with `error`, or still
/// running), or none: `(task, error, pod)`.
pub fn run(
    id: &str,
    state: &str,
    created: chrono::DateTime<chrono::Utc>,
    finished: Option<chrono::DateTime<chrono::Utc>>,
    recurring_run_id: Option<&str>,
    task: Option<(&str, &str, &str)>,
) -> Value {
    // Fractional seconds, as protobuf timestamps allow: tests act within one second.
    let time =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut run = json!({
        "run_id": id, "display_name": format!("training {id}"), "experiment_id": "exp-1",
        "state": state, "created_at": time(created), "storage_state": "AVAILABLE",
        "finished_at": finished.map_or("1970-01-01T00:00:00Z".to_string(), time),
    });
    if let Some(recurring) = recurring_run_id {
        run["recurring_run_id"] = json!(recurring);
    }
    let mut tasks = vec![
        json!({"run_id": id, "task_id": format!("{id}-prep"), "display_name": "prepare",
        "state": "SUCCEEDED", "start_time": time(created), "end_time": time(created)}),
    ];
    if let Some((task, error, pod)) = task {
        let mut detail = json!({"run_id": id, "task_id": format!("{id}-{task}"), "display_name": task,
            "state": state, "start_time": time(created),
            "end_time": finished.map_or("1970-01-01T00:00:00Z".to_string(), time),
            "pod_name": pod,
            "child_tasks": [{"task_id": format!("{id}-{task}-driver"), "pod_name": format!("{pod}-driver")}]});
        if state == "FAILED" {
            run["error"] = json!({"code": 2, "message": format!("task '{task}' failed")});
            detail["error"] = json!({"code": 2, "message": error});
        }
        tasks.push(detail);
    }
    run["run_details"] = json!({"task_details": tasks});
    run
}

fn rpc_error(status: StatusCode, message: String) -> Response {
    (
        status,
        axum::Json(json!({"code": status.as_u16(), "message": message})),
    )
        .into_response()
}

fn record(fake: &Shared, method: &Method, path: &str, query: &str, operation: &str) {
    fake.lock().unwrap().calls.push(Call {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        operation: operation.to_string(),
    });
}

fn query_value<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
}

/// The object after the last `/`, without a custom verb (`r-1:retry` → `r-1`).
fn object_id(path: &str) -> String {
    let last = path.rsplit('/').next().unwrap_or_default();
    last.split(':').next().unwrap_or_default().to_string()
}

fn answer_operation(fake: &Shared, op: &str, path: &str, query: &str) -> (Value, &'static str) {
    let mut state = fake.lock().unwrap();
    match op {
        "RunService_ListRuns" => {
            let experiment = query_value(query, "experiment_id");
            let size = query_value(query, "page_size")
                .and_then(|n| n.parse().ok())
                .unwrap_or(20usize);
            let runs: Vec<Value> = state
                .runs
                .iter()
                .filter(|r| experiment.is_none_or(|e| r["experiment_id"] == e))
                .take(size)
                .map(|r| {
                    let mut listed = r.clone();
                    listed.as_object_mut().unwrap().remove("run_details");
                    listed
                })
                .collect();
            let total = runs.len();
            (
                json!({"runs": runs, "total_size": total}),
                "v2beta1ListRunsResponse",
            )
        }
        "RunService_GetRun" => {
            let id = object_id(path);
            match state.runs.iter().find(|r| r["run_id"] == id.as_str()) {
                Some(run) => (run.clone(), "v2beta1Run"),
                None => (Value::Null, "missing"),
            }
        }
        "RunService_RetryRun" => {
            let id = object_id(path);
            let outcome = state
                .retry_outcome
                .clone()
                .unwrap_or_else(|| "RUNNING".into());
            let Some(run) = state.runs.iter_mut().find(|r| r["run_id"] == id.as_str()) else {
                return (Value::Null, "missing");
            };
            run["state"] = json!(outcome);
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            if outcome == "SUCCEEDED" || outcome == "FAILED" {
                run["finished_at"] = json!(now);
            }
            if outcome == "SUCCEEDED" {
                run.as_object_mut().unwrap().remove("error");
                if let Some(tasks) = run["run_details"]["task_details"].as_array_mut() {
                    for task in tasks {
                        task["state"] = json!("SUCCEEDED");
                        task.as_object_mut().unwrap().remove("error");
                    }
                }
            }
            (json!({}), "empty")
        }
        "RecurringRunService_DisableRecurringRun" | "RecurringRunService_EnableRecurringRun" => {
            let id = object_id(path);
            let Some(disabled) = state.recurring_runs.get_mut(&id) else {
                return (Value::Null, "missing");
            };
            *disabled = op.ends_with("DisableRecurringRun");
            (json!({}), "empty")
        }
        "RecurringRunService_GetRecurringRun" => {
            let id = object_id(path);
            match state.recurring_runs.get(&id) {
                Some(disabled) => (
                    json!({"recurring_run_id": id, "display_name": "nightly training",
                        "mode": if *disabled {"DISABLE"} else {"ENABLE"},
                        "status": if *disabled {"DISABLED"} else {"ENABLED"},
                        "max_concurrency": "1", "no_catchup": true, "namespace": "kubeflow"}),
                    "v2beta1RecurringRun",
                ),
                None => (Value::Null, "missing"),
            }
        }
        _ => (Value::Null, "unexpected"),
    }
}

async fn answer(
    State(fake): State<Shared>,
    method: Method,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    let spec = spec();
    let path = uri.path().to_string();
    let query = query.unwrap_or_default();
    let Some((op, params)) = operation(spec, method.as_str(), &path) else {
        record(&fake, &method, &path, &query, "NONE");
        return rpc_error(
            StatusCode::NOT_FOUND,
            format!("{method} {path} is not in the API description"),
        );
    };
    if let Some(name) = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split('=').next().unwrap_or_default())
        .find(|name| !params.iter().any(|p| p == name))
    {
        record(&fake, &method, &path, &query, "UNDECLARED");
        return rpc_error(
            StatusCode::BAD_REQUEST,
            format!("{op}: query parameter {name} is not declared ({params:?})"),
        );
    }
    let (body, schema) = answer_operation(&fake, &op, &path, &query);
    match schema {
        "missing" => {
            record(&fake, &method, &path, &query, &op);
            return rpc_error(StatusCode::NOT_FOUND, format!("{path} not found"));
        }
        "unexpected" => {
            record(&fake, &method, &path, &query, &op);
            return rpc_error(
                StatusCode::NOT_IMPLEMENTED,
                format!("{op} is declared but this fake does not answer it"),
            );
        }
        "empty" => {}
        definition => {
            if let Err(err) = conforms_to(spec, definition, &body) {
                record(&fake, &method, &path, &query, "NONCONFORMING");
                return rpc_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("fixture does not match the API description: {err}"),
                );
            }
        }
    }
    record(&fake, &method, &path, &query, &op);
    axum::Json(body).into_response()
}

/// Starts the fake on a free loopback port; returns its URL and its state.
pub async fn start() -> (String, Shared) {
    start_on(None).await
}

/// [`start`] on `port` when it is free.
pub async fn start_on(port: Option<u16>) -> (String, Shared) {
    let fake: Shared = Arc::new(Mutex::new(Kfp::default()));
    let app = Router::new().fallback(answer).with_state(fake.clone());
    let url = crate::serve(app, port).await.unwrap();
    (url, fake)
}
