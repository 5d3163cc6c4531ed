//! The KFP client against the v2beta1 API description (KFP cannot run here). A fake server
//! accepts only requests the description declares — method, path template (including the
//! `:retry` / `:disable` / `:enable` custom verbs) and query parameter names — and answers
//! with fixtures that are themselves checked against the description's schemas, so the
//! client and the fixtures cannot drift from the real API together.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use warden_connect::KfpClient;
use warden_connect::kfp::RuntimeState;
use warden_testkit::kfp_spec::{SPEC, conforms, operation};

#[derive(Default)]
struct Fake {
    /// (method, path, query, the operation it matched).
    seen: Vec<(String, String, String, String)>,
    disabled: bool,
}

type Shared = Arc<Mutex<Fake>>;

fn run(id: &str, state: &str, with_tasks: bool) -> Value {
    let mut run = json!({
        "run_id": id, "display_name": format!("demand-forecast-training {id}"),
        "experiment_id": "exp-1", "recurring_run_id": "rr-nightly", "state": state,
        "created_at": "2026-11-25T02:00:00Z", "finished_at": "2026-11-25T02:07:31Z",
        "storage_state": "AVAILABLE"
    });
    if state == "FAILED" {
        run["error"] = json!({"code": 2, "message": "task 'train' failed"});
    }
    if with_tasks {
        run["run_details"] = json!({"pipeline_context_id": "12", "pipeline_run_context_id": "13", "task_details": [
            {"run_id": id, "task_id": "t-validate", "display_name": "validate", "state": "SUCCEEDED",
             "start_time": "2026-11-25T02:00:10Z", "end_time": "2026-11-25T02:01:00Z",
             "child_tasks": [{"task_id": "t-validate-exec", "pod_name": "demand-forecast-training-abc-validate-1234"}]},
            {"run_id": id, "task_id": "t-train", "display_name": "train", "state": "FAILED",
             "start_time": "2026-11-25T02:01:05Z", "end_time": "2026-11-25T02:07:30Z",
             "error": {"code": 2, "message": "OOMKilled (exit code 137)"},
             "pod_name": "demand-forecast-training-abc-train-5678",
             "child_tasks": [{"task_id": "t-train-driver", "pod_name": "demand-forecast-training-abc-train-driver-9"}]}
        ]});
    }
    run
}

async fn answer(
    State(fake): State<Shared>,
    method: Method,
    uri: Uri,
    RawQuery(query): RawQuery,
    _body: Bytes,
) -> Response {
    let spec: Value = serde_json::from_str(SPEC).unwrap();
    let path = uri.path().to_string();
    let query = query.unwrap_or_default();
    let Some((op, params)) = operation(&spec, method.as_str(), &path) else {
        fake.lock()
            .unwrap()
            .seen
            .push((method.to_string(), path.clone(), query, "NONE".into()));
        return (
            StatusCode::NOT_FOUND,
            format!("{method} {path} is not in the API description"),
        )
            .into_response();
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let name = pair.split('=').next().unwrap_or_default();
        assert!(
            params.iter().any(|p| p == name),
            "{op}: query parameter {name} is not declared ({params:?})"
        );
    }
    fake.lock()
        .unwrap()
        .seen
        .push((method.to_string(), path.clone(), query.clone(), op.clone()));
    let (body, schema) = match op.as_str() {
        "RunService_ListRuns" => {
            let first_page = !query.contains("page_token");
            let body = if first_page {
                json!({"runs": [run("r-3", "FAILED", false), run("r-2", "SUCCEEDED", false)], "total_size": 3, "next_page_token": "p2"})
            } else {
                json!({"runs": [run("r-1", "SUCCEEDED", false)], "total_size": 3})
            };
            (body, "v2beta1ListRunsResponse")
        }
        "RunService_GetRun" => (
            run(path.rsplit('/').next().unwrap(), "FAILED", true),
            "v2beta1Run",
        ),
        "RunService_RetryRun"
        | "RecurringRunService_DisableRecurringRun"
        | "RecurringRunService_EnableRecurringRun" => {
            if op.ends_with("DisableRecurringRun") {
                fake.lock().unwrap().disabled = true;
            } else if op.ends_with("EnableRecurringRun") {
                fake.lock().unwrap().disabled = false;
            }
            return axum::Json(json!({})).into_response();
        }
        "RecurringRunService_GetRecurringRun" => {
            let disabled = fake.lock().unwrap().disabled;
            (
                json!({"recurring_run_id": "rr-nightly", "display_name": "nightly training",
                    "mode": if disabled {"DISABLE"} else {"ENABLE"},
                    "status": if disabled {"DISABLED"} else {"ENABLED"},
                    "max_concurrency": "1", "no_catchup": true, "namespace": "kubeflow"}),
                "v2beta1RecurringRun",
            )
        }
        other => panic!("the client called {other}, which this test does not expect"),
    };
    conforms(
        &spec,
        &json!({"$ref": format!("#/definitions/{schema}")}),
        &body,
        schema,
    )
    .unwrap_or_else(|err| panic!("fixture does not match the API description: {err}"));
    axum::Json(body).into_response()
}

async fn start() -> (String, Shared) {
    let fake: Shared = Arc::new(Mutex::new(Fake::default()));
    let app = Router::new().fallback(answer).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app).into_future());
    (url, fake)
}

fn client(url: &str) -> KfpClient {
    KfpClient::from_config(&warden_config::KfpConfig {
        endpoint: warden_config::HttpEndpoint {
            url: url::Url::parse(url).unwrap(),
            timeout: Duration::from_secs(5),
        },
        namespace: "kubeflow".into(),
        token: None,
    })
    .unwrap()
}

#[test]
fn the_fixtures_and_the_matcher_follow_the_description() {
    let spec: Value = serde_json::from_str(SPEC).unwrap();
    assert_eq!(
        operation(&spec, "POST", "/apis/v2beta1/runs/r-1:retry")
            .unwrap()
            .0,
        "RunService_RetryRun"
    );
    assert!(operation(&spec, "POST", "/apis/v2beta1/runs/r-1:rerun").is_none());
    assert!(operation(&spec, "PATCH", "/apis/v2beta1/runs/r-1").is_none());
    let bad = json!({"run_id": "r", "status": "FAILED"});
    assert!(
        conforms(
            &spec,
            &json!({"$ref": "#/definitions/v2beta1Run"}),
            &bad,
            "run"
        )
        .is_err()
    );
    let bad_state = json!({"run_id": "r", "state": "BROKEN"});
    assert!(
        conforms(
            &spec,
            &json!({"$ref": "#/definitions/v2beta1Run"}),
            &bad_state,
            "run"
        )
        .is_err()
    );
}

#[tokio::test]
async fn runs_task_details_recurring_runs_and_retry_follow_the_description() {
    let (url, fake) = start().await;
    let kfp = client(&url);

    let runs = kfp.list_runs(Some("exp-1"), 10).await.unwrap();
    let ids: Vec<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, ["r-3", "r-2", "r-1"], "both pages, newest first");
    assert_eq!(runs[0].state, Some(RuntimeState::Failed));
    assert_eq!(
        kfp.list_runs(None, 2).await.unwrap().len(),
        2,
        "stops at the limit"
    );

    let run = kfp.get_run("r-3").await.unwrap();
    let failed = run.failed_tasks();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].display_name, "train");
    assert_eq!(
        failed[0].error.as_ref().unwrap().message,
        "OOMKilled (exit code 137)"
    );
    assert_eq!(
        failed[0].pods(),
        [
            "demand-forecast-training-abc-train-5678",
            "demand-forecast-training-abc-train-driver-9"
        ]
    );

    assert!(
        !kfp.get_recurring_run("rr-nightly")
            .await
            .unwrap()
            .disabled()
    );
    assert!(
        kfp.set_recurring_run_disabled("rr-nightly", true)
            .await
            .unwrap()
            .disabled()
    );
    assert!(
        !kfp.set_recurring_run_disabled("rr-nightly", false)
            .await
            .unwrap()
            .disabled()
    );
    kfp.retry_run("r-3").await.unwrap();

    let seen = fake.lock().unwrap().seen.clone();
    assert!(seen.iter().all(|(_, _, _, op)| op != "NONE"), "{seen:?}");
    let ops: Vec<&str> = seen.iter().map(|(_, _, _, op)| op.as_str()).collect();
    for op in [
        "RunService_ListRuns",
        "RunService_GetRun",
        "RecurringRunService_DisableRecurringRun",
        "RecurringRunService_EnableRecurringRun",
        "RunService_RetryRun",
    ] {
        assert!(ops.contains(&op), "{op} not called: {ops:?}");
    }
    let list_query = &seen[0].2;
    assert!(
        list_query.contains("namespace=kubeflow") && list_query.contains("sort_by=created_at+desc"),
        "{list_query}"
    );
    assert!(seen[1].2.contains("page_token=p2"), "{:?}", seen[1]);
}

#[tokio::test]
async fn an_unknown_run_is_an_error_naming_the_url() {
    let (url, _) = start().await;
    // `runs/x/y` is no operation of the API: the fake answers 404 like an unknown route.
    let error = client(&url).get_run("x/y").await.unwrap_err().to_string();
    assert!(error.contains("/apis/v2beta1/runs/x/y"), "{error}");
}
