//! The API driven through the router with `oneshot`, on a real SQLite store: auth and roles,
//! the webhook's secret and its refusal of garbage, incidents, decisions, metrics.

#![allow(clippy::unwrap_used)] // shared helpers outside #[test] functions

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{FIRING, state, state_with, tokens};
use tower::ServiceExt;
use warden_engine::registry::Registries;
use warden_server::{AppState, router};

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
    let (status, refused) = call(
        &state,
        "POST",
        "/api/v1/incidents/INC-1/resolve",
        Some("responder-token"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "conflict");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("closure gates have not passed: p95-within-sla"),
        "{refused}"
    );
    assert_eq!(
        call(
            &state,
            "POST",
            "/api/v1/incidents/INC-1/resolve",
            Some("responder-token"),
            r#"{"reason": "v1 back", "override": "gates judged by hand on the dashboard"}"#
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
            r#"{"override": "again"}"#
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
            "resolve-override",
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

/// `rollback_model` that fails (for good) until told to work.
struct Flaky(std::sync::atomic::AtomicBool);

impl warden_engine::executor::ActionHandler for Flaky {
    fn plan<'a>(
        &'a self,
        _: &'a warden_engine::executor::ActionRequest,
    ) -> warden_engine::executor::BoxFuture<'a, Result<String, warden_engine::executor::ActionError>>
    {
        Box::pin(async { Ok("would roll back".to_string()) })
    }
    fn execute<'a>(
        &'a self,
        _: &'a warden_engine::executor::ActionRequest,
    ) -> warden_engine::executor::BoxFuture<'a, Result<String, warden_engine::executor::ActionError>>
    {
        Box::pin(async move {
            if self.0.load(std::sync::atomic::Ordering::SeqCst) {
                Ok("rolled back".to_string())
            } else {
                Err(warden_engine::executor::ActionError {
                    message: "kubeconfig /etc/kube: unreadable".into(),
                    retryable: false,
                })
            }
        })
    }
}

fn step<'a>(detail: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    detail["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["step"] == id)
        .unwrap_or(&serde_json::Value::Null)
}

#[tokio::test]
async fn decisions_corrections_retries_and_resolve_follow_the_incidents_state() {
    let dir = tempfile::tempdir().unwrap();
    let flaky = Arc::new(Flaky(std::sync::atomic::AtomicBool::new(false)));
    let mut registries = Registries::new();
    registries
        .runbook("serving-latency")
        .action("rollback_model", flaky.clone())
        .unwrap();
    let state = state_with(&dir, tokens(), registries).await;
    let responder = Some("responder-token");
    let post = |uri: String, body: &'static str| {
        let state = state.clone();
        async move { call(&state, "POST", &uri, responder, body).await }
    };
    let steps = "/api/v1/incidents/INC-1/steps";
    call(
        &state,
        "POST",
        "/api/v1/alerts/alertmanager",
        Some("hook-secret"),
        &alert(),
    )
    .await;

    // Only a manual action is approved.
    let (status, body) = post(format!("{steps}/deployment-history/approve"), "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not an action")
    );
    let (status, body) = post(format!("{steps}/remove-rate-limit/approve"), "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("needs no approval (approval: auto)"),
        "{body}"
    );

    // A refuted cause skips the rollback; approving it is refused.
    let refute = r#"{"outcome": "refuted", "note": "no deploy in the window"}"#;
    assert_eq!(
        post(format!("{steps}/recent-deployment/complete"), refute)
            .await
            .0,
        StatusCode::OK
    );
    let (status, body) = post(format!("{steps}/rollback/approve"), "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // A correction needs a reason, is its own event, and un-skips what it unblocks.
    let bare = r#"{"outcome": "confirmed"}"#;
    let (status, body) = post(format!("{steps}/recent-deployment/complete"), bare).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let fixed = r#"{"outcome": "confirmed", "note": "v2 went out at 09:40 after all"}"#;
    let (status, body) = post(format!("{steps}/recent-deployment/complete"), fixed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["step"]["result"],
        "confirmed by ana: v2 went out at 09:40 after all"
    );
    let (_, detail) = call(&state, "GET", "/api/v1/incidents/INC-1", responder, "").await;
    assert_eq!(step(&detail, "rollback")["status"], "pending", "{detail:#}");
    let timeline = detail["incident"]["timeline"].to_string();
    assert!(
        timeline.contains("step recent-deployment changed from refuted by ana: no deploy in the window to confirmed by ana"),
        "{timeline}"
    );

    // Approve: the action fails for good, visibly, counted; the opposite decision is refused.
    let (status, _) = post(format!("{steps}/rollback/approve"), r#"{"reason": "go"}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        post(format!("{steps}/rollback/approve"), "").await.0,
        StatusCode::OK,
        "same decision: a no-op"
    );
    let (status, body) = post(format!("{steps}/rollback/reject"), r#"{"reason": "no"}"#).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, detail) = call(&state, "GET", "/api/v1/incidents/INC-1", responder, "").await;
    assert_eq!(step(&detail, "rollback")["status"], "failed", "{detail:#}");
    assert_eq!(detail["approvals"].as_array().unwrap().len(), 1);
    let (_, metrics) = call(&state, "GET", "/metrics", None, "").await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("warden_step_failures_total 1"),
        "{metrics}"
    );

    // Only a failed step is retried; the retry runs it again.
    let (status, _) = post(format!("{steps}/hpa/retry"), "").await;
    assert_eq!(status, StatusCode::CONFLICT);
    flaky.0.store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, body) = post(format!("{steps}/rollback/retry"), "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["step"]["status"], "succeeded", "{body}");
    assert_eq!(body["progress"]["failed"], serde_json::json!([]));

    // Resolving over open gates needs an override, and closes the open steps as skipped.
    assert_eq!(
        post("/api/v1/incidents/INC-1/resolve".into(), "").await.0,
        StatusCode::CONFLICT
    );
    let (status, _) = post(
        "/api/v1/incidents/INC-1/resolve".into(),
        r#"{"override": "dashboards show p95 back for an hour"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, metrics) = call(&state, "GET", "/metrics", None, "").await;
    assert!(
        !metrics
            .as_str()
            .unwrap()
            .contains("warden_actions{status=\"pending\"}"),
        "{metrics}"
    );
    let (_, detail) = call(&state, "GET", "/api/v1/incidents/INC-1", responder, "").await;
    assert!(
        step(&detail, "p95-within-sla")["result"]
            .as_str()
            .unwrap()
            .contains("dashboards show p95 back for an hour")
    );

    // Nothing is decided on a resolved incident.
    for (path, body) in [
        ("rollback/approve", ""),
        ("rollback/reject", r#"{"reason": "late"}"#),
        ("traffic/complete", r#"{"outcome": "succeeded"}"#),
        ("rollback/retry", ""),
    ] {
        let (status, body) = post(format!("{steps}/{path}"), body).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("INC-1 is resolved"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn every_error_is_json_and_the_webhook_checks_its_secret_first() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir, tokens()).await;
    let hook = "/api/v1/alerts/alertmanager";
    let long = format!("/api/v1/incidents/{}", "x".repeat(9000));
    for (method, uri, token, body, status) in [
        ("GET", "/nope", None, String::new(), StatusCode::NOT_FOUND),
        (
            "DELETE",
            "/api/v1/incidents",
            Some("viewer-token"),
            String::new(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            "GET",
            "/api/v1/incidents?limit=many",
            Some("viewer-token"),
            String::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            long.as_str(),
            Some("viewer-token"),
            String::new(),
            StatusCode::URI_TOO_LONG,
        ),
        // A big body with a wrong secret is refused for the secret, unread.
        (
            "POST",
            hook,
            Some("wrong"),
            " ".repeat(warden_engine::alerts::MAX_PAYLOAD_BYTES + (1 << 20)),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "POST",
            hook,
            Some("hook-secret"),
            " ".repeat(warden_engine::alerts::MAX_PAYLOAD_BYTES + (1 << 20)),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let (got, body) = call(&state, method, uri, token, &body).await;
        assert_eq!(got, status, "{method} {}", &uri[..uri.len().min(40)]);
        assert!(
            body["error"]["code"].is_string(),
            "{method}: not the JSON shape: {body}"
        );
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    // Headers over the limit, and a path that is not UTF-8 once decoded: JSON too.
    let mut big = Request::builder().method("GET").uri("/api/v1/incidents");
    for n in 0..40 {
        big = big.header(format!("x-filler-{n}"), "x".repeat(1000));
    }
    let response = router(state.clone())
        .oneshot(big.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"]["code"], "headers_too_large", "{body}");
    let (status, body) = call(
        &state,
        "GET",
        "/api/v1/incidents/%FF%FE",
        Some("viewer-token"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    // The bearer scheme is case-insensitive (RFC 7235).
    let request = Request::builder()
        .method("GET")
        .uri("/api/v1/incidents")
        .header("authorization", "bearer viewer-token")
        .body(Body::empty())
        .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_alert_is_kept_whole_and_unrouted_alerts_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir, tokens()).await;
    let hook = "/api/v1/alerts/alertmanager";
    let hostile = alert().replace(
        "\"severity\": \"page\"\n            },",
        "\"severity\": \"page\",\n                \"team\": \"ml\\u001b]0;owned\\u0007\\r\\nINC-9 resolved\"\n            },",
    );
    assert!(hostile.contains("owned"), "the fixture changed");
    let (status, body) = call(&state, "POST", hook, Some("hook-secret"), &hostile).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, detail) = call(
        &state,
        "GET",
        "/api/v1/incidents/INC-1",
        Some("viewer-token"),
        "",
    )
    .await;
    let kept = &detail["incident"]["alert"];
    assert_eq!(kept["starts_at"], "2026-11-24T09:51:13.848Z");
    assert_eq!(kept["labels"]["service"], "demand-forecast");
    assert_eq!(
        kept["labels"]["team"],
        "ml\u{1b}]0;owned\u{7}\r\nINC-9 resolved"
    );
    assert_eq!(
        kept["runbook_url"],
        "https://runbooks.example/demand-forecast#errors"
    );
    assert!(
        kept["generator_url"]
            .as_str()
            .unwrap()
            .starts_with("http://vm:9090/graph")
    );

    // A status other than firing/resolved changes nothing; "Resolved" is a resolution.
    let pending = alert()
        .replace(
            "\"status\": \"firing\",\n            \"labels\"",
            "\"status\": \"pending\",\n            \"labels\"",
        )
        .replace(
            "\"service\": \"demand-forecast\"",
            "\"service\": \"other-service\"",
        );
    let (_, body) = call(&state, "POST", hook, Some("hook-secret"), &pending).await;
    assert_eq!(body["opened"], serde_json::json!([]), "{body}");
    assert_eq!(body["ignored"][0][1], "pending");
    let resolved = alert().replace(
        "\"status\": \"firing\",\n            \"labels\"",
        "\"status\": \"Resolved\",\n            \"labels\"",
    );
    let (_, body) = call(&state, "POST", hook, Some("hook-secret"), &resolved).await;
    assert_eq!(
        body["resolved_noted"],
        serde_json::json!(["INC-1"]),
        "{body}"
    );
    assert_eq!(body["attached"], serde_json::json!([]), "{body}");

    let unmatched = alert().replace("ServingErrorRateHigh", "DiskFull");
    let (_, body) = call(&state, "POST", hook, Some("hook-secret"), &unmatched).await;
    assert_eq!(body["unmatched"], serde_json::json!(["090708c0a7a7ad2c"]));
    let (_, metrics) = call(&state, "GET", "/metrics", None, "").await;
    let text = metrics.as_str().unwrap();
    assert!(
        text.contains("warden_alerts_unrouted_total{reason=\"unmatched\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("warden_alerts_unrouted_total{reason=\"ignored\"} 1"),
        "{text}"
    );
}
