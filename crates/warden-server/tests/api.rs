//! The API driven through the router with `oneshot`, on a real SQLite store: auth and roles,
//! the webhook's secret and its refusal of garbage, incidents, decisions, metrics.

#![allow(clippy::unwrap_used)] // shared helpers outside #[test] functions

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use warden_config::{Role, Secret, StoreConfig};
use warden_core::{Clock, SystemClock};
use warden_engine::executor::Mode;
use warden_engine::registry::Registries;
use warden_engine::{Engine, EngineParts, IncidentManager};
use warden_server::{AppState, Metrics, Token, router};
use warden_store::Store;

const FIRING: &str = include_str!("data/alertmanager-webhook-payload.json");

async fn state(dir: &tempfile::TempDir, tokens: Vec<Token>) -> AppState {
    let store = Store::open(&StoreConfig::Sqlite {
        path: dir.path().join("warden.db"),
    })
    .await
    .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let engine = Engine::new(EngineParts {
        manager: Arc::new(IncidentManager::new(store, clock)),
        runbooks: warden_runbook::builtin::all().unwrap(),
        registries: Registries::new().sealed(),
        evidence: None,
        mode: Mode::Live,
    });
    AppState {
        engine: Arc::new(engine),
        tokens: Arc::new(tokens),
        webhook_secret: Some(Secret::new("hook-secret")),
        metrics: Arc::new(Metrics::default()),
    }
}

fn tokens() -> Vec<Token> {
    vec![
        Token {
            name: "val".into(),
            role: Role::Viewer,
            secret: Secret::new("viewer-token"),
        },
        Token {
            name: "ana".into(),
            role: Role::Responder,
            secret: Secret::new("responder-token"),
        },
    ]
}

async fn call(
    state: &AppState,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router(state.clone())
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
    });
    (status, value)
}

fn alert() -> String {
    FIRING.replace("DemandForecastHighErrorRate", "ServingErrorRateHigh")
}

#[tokio::test]
async fn webhook_needs_its_secret_and_refuses_garbage_without_changing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir, tokens()).await;
    let hook = "/api/v1/alerts/alertmanager";
    assert_eq!(
        call(&state, "POST", hook, None, &alert()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&state, "POST", hook, Some("responder-token"), &alert())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = call(
        &state,
        "POST",
        hook,
        Some("hook-secret"),
        "{\"garbage\": true}",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not an Alertmanager webhook payload")
    );
    let oversized = " ".repeat(warden_engine::alerts::MAX_PAYLOAD_BYTES + 1);
    assert_eq!(
        call(&state, "POST", hook, Some("hook-secret"), &oversized)
            .await
            .0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let (_, list) = call(&state, "GET", "/api/v1/incidents", Some("viewer-token"), "").await;
    assert_eq!(
        list["incidents"],
        serde_json::json!([]),
        "refused requests changed nothing"
    );

    let (status, body) = call(&state, "POST", hook, Some("hook-secret"), &alert()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["opened"], serde_json::json!(["INC-1"]));
    let (_, again) = call(&state, "POST", hook, Some("hook-secret"), &alert()).await;
    assert_eq!(again["attached"], serde_json::json!(["INC-1"]));

    let (_, metrics) = call(&state, "GET", "/metrics", None, "").await;
    let text = metrics.as_str().unwrap();
    for line in [
        "warden_incidents{state=\"detected\"} 1",
        "warden_actions{status=\"pending\"}",
        "warden_webhook_requests_total{outcome=\"accepted\"} 2",
        "warden_webhook_requests_total{outcome=\"unauthorized\"} 2",
        "warden_webhook_requests_total{outcome=\"malformed\"} 1",
        "warden_webhook_requests_total{outcome=\"too_large\"} 1",
        "warden_findings_total{result=\"opened\"} 1",
        "warden_findings_total{result=\"attached\"} 1",
    ] {
        assert!(text.contains(line), "missing {line}:\n{text}");
    }
}

#[tokio::test]
async fn roles_decide_who_may_change_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir, tokens()).await;
    call(
        &state,
        "POST",
        "/api/v1/alerts/alertmanager",
        Some("hook-secret"),
        &alert(),
    )
    .await;

    assert_eq!(
        call(&state, "GET", "/api/v1/incidents", None, "").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&state, "GET", "/api/v1/incidents", Some("wrong"), "")
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (status, list) = call(
        &state,
        "GET",
        "/api/v1/incidents?active=true",
        Some("viewer-token"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let first = &list["incidents"][0];
    for field in [
        "id",
        "runbook",
        "title",
        "state",
        "severity",
        "opened_at",
        "updated_at",
    ] {
        assert!(
            !first[field].is_null(),
            "incident list lacks {field}: {first}"
        );
    }

    let approve = "/api/v1/incidents/INC-1/steps/rollback/approve";
    assert_eq!(
        call(&state, "POST", approve, Some("viewer-token"), "")
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, _) = call(
        &state,
        "POST",
        approve,
        Some("responder-token"),
        "{\"reason\": \"bad deploy\"}",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let unknown_step = "/api/v1/incidents/INC-1/steps/reboot/approve";
    assert_eq!(
        call(&state, "POST", unknown_step, Some("responder-token"), "")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let bad_body = call(
        &state,
        "POST",
        "/api/v1/incidents/INC-1/steps/scale/reject",
        Some("responder-token"),
        "reason=x",
    )
    .await;
    assert_eq!(bad_body.0, StatusCode::BAD_REQUEST);

    let complete = "/api/v1/incidents/INC-1/steps/deployment-history/complete";
    let wrong = r#"{"outcome": "passed"}"#;
    assert_eq!(
        call(&state, "POST", complete, Some("responder-token"), wrong)
            .await
            .0,
        StatusCode::BAD_REQUEST,
        "evidence steps succeed or fail; they do not pass"
    );
    let body = r#"{"outcome": "succeeded", "note": "v2 went out at 09:40"}"#;
    let (status, done) = call(&state, "POST", complete, Some("responder-token"), body).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["step"]["status"], "succeeded");
    assert_eq!(
        call(
            &state,
            "POST",
            "/api/v1/incidents/INC-1/ack",
            Some("responder-token"),
            ""
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &state,
            "POST",
            "/api/v1/incidents/INC-1/resolve",
            Some("responder-token"),
            ""
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &state,
            "POST",
            "/api/v1/incidents/INC-1/resolve",
            Some("responder-token"),
            ""
        )
        .await
        .0,
        StatusCode::CONFLICT,
        "a resolved incident cannot be resolved again"
    );
    assert_eq!(
        call(
            &state,
            "GET",
            "/api/v1/incidents/INC-7",
            Some("viewer-token"),
            ""
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    let (_, detail) = call(
        &state,
        "GET",
        "/api/v1/incidents/INC-1",
        Some("viewer-token"),
        "",
    )
    .await;
    assert_eq!(detail["incident"]["state"], "resolved");
    assert_eq!(detail["approvals"][0]["actor"]["name"], "ana");
    assert_eq!(detail["approvals"][0]["reason"], "bad deploy");
    let audit: Vec<&str> = detail["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        audit,
        [
            "open",
            "approved",
            "complete:deployment-history",
            "acknowledge",
            "transition:resolved"
        ]
    );
    let (_, metrics) = call(&state, "GET", "/metrics", None, "").await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("warden_api_refused_total 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn without_tokens_the_api_is_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir, Vec::new()).await;
    assert_eq!(
        call(&state, "GET", "/healthz", None, "").await.0,
        StatusCode::OK
    );
    let (status, runbooks) = call(&state, "GET", "/api/v1/runbooks", None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(runbooks["runbooks"].as_array().unwrap().len(), 5);
    let (status, body) = call(&state, "POST", "/api/v1/incidents/INC-1/ack", None, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("server.tokens"),
        "{body}"
    );
}
