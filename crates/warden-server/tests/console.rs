//! The console through the router, on a real SQLite store: sign-in exchanges a token for an
//! HttpOnly SameSite cookie; pages escape what alerts carry; a viewer gets no buttons and the
//! server refuses their POSTs; a POST without the session's CSRF token, or from another site,
//! changes nothing; evidence is served only by an incident's own content hashes; the
//! post-mortem and a runbook's detail have endpoints.

#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{FIRING, state, state_with, tokens};
use tower::ServiceExt;
use warden_core::IncidentId;
use warden_server::{AppState, router};
use warden_store::IncidentStore;

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn send(state: &AppState, request: Request<Body>) -> Answer {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(state: &AppState, uri: &str, cookie: Option<&str>) -> Answer {
    let mut request = Request::get(uri).header(header::HOST, "warden.test");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    send(state, request.body(Body::empty()).unwrap()).await
}

async fn post_form(
    state: &AppState,
    uri: &str,
    cookie: Option<&str>,
    origin: &str,
    form: &str,
) -> Answer {
    let mut request = Request::post(uri)
        .header(header::HOST, "warden.test")
        .header(header::ORIGIN, origin)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    send(state, request.body(Body::from(form.to_string())).unwrap()).await
}

/// Signs in with `token`: the session cookie and the page's CSRF token.
async fn sign_in(state: &AppState, token: &str) -> (String, String) {
    let answer = post_form(
        state,
        "/ui/login",
        None,
        "http://warden.test",
        &format!("token={token}"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let set_cookie = answer.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let page = get(state, "/ui", Some(&cookie)).await;
    let csrf = page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    (cookie, csrf)
}

/// One incident from a webhook whose labels carry markup and terminal control characters.
async fn hostile_incident(state: &AppState) -> String {
    let payload = FIRING.replace("DemandForecastHighErrorRate", "ServingErrorRateHigh").replace(
        "\"namespace\": \"mlops\"",
        "\"namespace\": \"mlops\", \"team\": \"<script>alert(1)</script>\\u001b]0;pwned\\u0007\"",
    );
    let answer = send(
        state,
        Request::post("/api/v1/alerts/alertmanager")
            .header(header::AUTHORIZATION, "Bearer hook-secret")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(payload))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let value: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    value["opened"][0].as_str().unwrap().to_string()
}

#[tokio::test]
async fn signing_in_sets_a_strict_cookie_and_pages_escape_what_alerts_carry() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir, tokens()).await;
    let id = hostile_incident(&state).await;

    // Not signed in: to the sign-in page; a wrong token stays there.
    let answer = get(&state, "/ui", None).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.headers[header::LOCATION], "/ui/login");
    let wrong = post_form(
        &state,
        "/ui/login",
        None,
        "http://warden.test",
        "token=nope",
    )
    .await;
    assert!(
        wrong.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .contains("error=")
    );
    assert!(!wrong.headers.contains_key(header::SET_COOKIE));
    let elsewhere = post_form(
        &state,
        "/ui/login",
        None,
        "https://evil.example",
        "token=responder-token",
    )
    .await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);

    let (cookie, _) = sign_in(&state, "responder-token").await;
    let list = get(&state, "/ui", Some(&cookie)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert!(
        list.body.contains(&format!("href=\"/ui/incidents/{id}\"")),
        "{}",
        list.body
    );
    let page = get(&state, &format!("/ui/incidents/{id}"), Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("team=<b>&lt;script&gt;alert(1)&lt;/script&gt;\u{FFFD}]0;pwned\u{FFFD}</b>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<script>alert"));
    assert!(!page.body.contains('\u{1b}') && !page.body.contains('\u{7}'));
    // The responder gets the buttons, and the runbook link of the alert.
    assert!(
        page.body.contains("Acknowledge")
            && page
                .body
                .contains("https://runbooks.example/demand-forecast#errors")
    );

    // Filters and search.
    let filtered = get(&state, "/ui?state=resolved", Some(&cookie)).await;
    assert!(
        !filtered
            .body
            .contains(&format!("href=\"/ui/incidents/{id}\">")),
        "a detected incident listed as resolved"
    );
    let searched = get(&state, "/ui?q=demand-forecast", Some(&cookie)).await;
    assert!(
        searched
            .body
            .contains(&format!("href=\"/ui/incidents/{id}\">"))
    );
}

#[tokio::test]
async fn a_viewer_gets_no_buttons_and_forged_posts_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir, tokens()).await;
    let id = hostile_incident(&state).await;
    let ack = format!("/ui/incidents/{id}/ack");

    let (viewer, viewer_csrf) = sign_in(&state, "viewer-token").await;
    let page = get(&state, &format!("/ui/incidents/{id}"), Some(&viewer)).await;
    assert!(
        !page.body.contains(&format!("action=\"{ack}\"")),
        "a viewer sees no mutating button"
    );
    let refused = post_form(
        &state,
        &ack,
        Some(&viewer),
        "http://warden.test",
        &format!("csrf={viewer_csrf}"),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let (responder, csrf) = sign_in(&state, "responder-token").await;
    for (origin, form) in [
        ("http://warden.test", String::new()),
        ("http://warden.test", "csrf=guess".to_string()),
        ("https://evil.example", format!("csrf={csrf}")),
    ] {
        let answer = post_form(&state, &ack, Some(&responder), origin, &form).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{origin} {form}");
    }
    let incident = state
        .manager()
        .store()
        .get_incident(&IncidentId(id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !incident
            .timeline
            .iter()
            .any(|e| e.message.contains("acknowledged")),
        "a refused POST changed the incident"
    );

    // With the token, from this origin: done, recorded as the responder.
    let done = post_form(
        &state,
        &ack,
        Some(&responder),
        "http://warden.test",
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(
        done.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .contains("notice=acknowledged")
    );
    let incident = state
        .manager()
        .store()
        .get_incident(&IncidentId(id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert!(
        incident
            .timeline
            .iter()
            .any(|e| e.actor == warden_core::Actor::User("ana".into()))
    );

    // A refusal of the engine comes back as the page's error, not a crash.
    let unknown = post_form(
        &state,
        &format!("/ui/incidents/{id}/steps/no-such-step/approve"),
        Some(&responder),
        "http://warden.test",
        &format!("csrf={csrf}"),
    )
    .await;
    assert!(
        unknown.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .contains("error=")
    );

    // Signing out ends the session.
    let out = post_form(
        &state,
        "/ui/logout",
        Some(&responder),
        "http://warden.test",
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        get(&state, "/ui", Some(&responder)).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn evidence_postmortem_and_runbooks_have_pages_and_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir, tokens()).await;
    let id = hostile_incident(&state).await;
    let store = state.engine.evidence_store().unwrap().clone();
    let log = "step 1 ok\nPermissionError: [Errno 13] Permission denied: '/data'\nstep 3\n";
    let classification = serde_json::json!({
        "kind": "failure_classification",
        "classification": {"cause": "missing_expired_secret", "evidence": [{"text": "PermissionError: [Errno 13] Permission denied: '/data'"}]},
        "logs": log,
    });
    let incident = state
        .manager()
        .capture_evidence(
            &IncidentId(id.clone()),
            &store,
            "failure-classification.json",
            "application/json",
            "test",
            classification.to_string().as_bytes(),
        )
        .await
        .unwrap();
    state
        .manager()
        .capture_evidence(
            &IncidentId(id.clone()),
            &store,
            "report.html",
            "text/html",
            "test",
            b"<html><script>parent.x=1</script>report</html>",
        )
        .await
        .unwrap();
    let hash = incident.evidence[0].hash.as_str().to_string();
    let (cookie, _) = sign_in(&state, "viewer-token").await;

    let page = get(
        &state,
        &format!("/ui/incidents/{id}/evidence/{hash}"),
        Some(&cookie),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("<mark title=\"a line the classifier decided on\">PermissionError"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<th>cause</th><td>missing_expired_secret</td>"),
        "{}",
        page.body
    );

    // Raw bytes through the API (a console session may read), sandboxed.
    let incident = state
        .manager()
        .store()
        .get_incident(&IncidentId(id.clone()))
        .await
        .unwrap()
        .unwrap();
    let html = incident
        .evidence
        .iter()
        .find(|e| e.name == "report.html")
        .unwrap();
    let raw = get(
        &state,
        &format!("/api/v1/incidents/{id}/evidence/{}", html.hash.as_str()),
        Some(&cookie),
    )
    .await;
    assert_eq!(raw.status, StatusCode::OK);
    assert_eq!(raw.headers[header::CONTENT_TYPE], "text/html");
    assert!(
        raw.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );
    let report_page = get(
        &state,
        &format!("/ui/incidents/{id}/evidence/{}", html.hash.as_str()),
        Some(&cookie),
    )
    .await;
    assert!(
        report_page
            .body
            .contains("<iframe class=\"report\" sandbox=\"\""),
        "{}",
        report_page.body
    );
    // Nothing but the incident's own hashes: another hash, a path, another incident.
    for uri in [
        format!("/api/v1/incidents/{id}/evidence/{}", "0".repeat(64)),
        format!("/api/v1/incidents/{id}/evidence/..%2F..%2Fwarden.db"),
        format!("/api/v1/incidents/INC-999/evidence/{hash}"),
    ] {
        assert_eq!(
            get(&state, &uri, Some(&cookie)).await.status,
            StatusCode::NOT_FOUND,
            "{uri}"
        );
    }
    // Without a session or token: refused.
    assert_eq!(
        get(
            &state,
            &format!("/api/v1/incidents/{id}/evidence/{hash}"),
            None
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );

    let markdown = get(
        &state,
        &format!("/api/v1/incidents/{id}/postmortem"),
        Some(&cookie),
    )
    .await;
    assert_eq!(markdown.status, StatusCode::OK);
    assert!(
        markdown.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    assert!(
        markdown.body.starts_with(&format!("# Post-mortem: {id}")),
        "{}",
        markdown.body
    );
    let rendered = get(
        &state,
        &format!("/ui/incidents/{id}/postmortem"),
        Some(&cookie),
    )
    .await;
    assert!(
        rendered.body.contains(&format!("<h1>Post-mortem: {id}")),
        "{}",
        rendered.body
    );

    let runbook = send(
        &state,
        Request::get("/api/v1/runbooks/serving-latency")
            .header(header::AUTHORIZATION, "Bearer viewer-token")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let value: serde_json::Value = serde_json::from_str(&runbook.body).unwrap();
    assert_eq!(value["id"], "serving-latency");
    assert!(
        value["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["who"].is_string())
    );
    let page = get(&state, "/ui/runbooks/serving-latency", Some(&cookie)).await;
    assert!(page.body.contains("<h2>containment</h2>"), "{}", page.body);
}

#[tokio::test]
async fn without_tokens_the_console_is_read_only_for_everyone() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir, Vec::new()).await;
    let id = hostile_incident(&state).await;
    let page = get(&state, &format!("/ui/incidents/{id}"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("read-only: no API tokens configured"));
    assert!(
        !page
            .body
            .contains("<form method=\"post\" action=\"/ui/incidents/")
    );
    let refused = post_form(
        &state,
        &format!("/ui/incidents/{id}/ack"),
        None,
        "http://warden.test",
        "",
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

/// A gate evaluator whose data never passes, with a series to draw.
struct Rising;

impl warden_engine::executor::GateEvaluator for Rising {
    fn evaluate<'a>(
        &'a self,
        _incident: &'a warden_core::Incident,
        _gate: &'a warden_runbook::Gate,
        _now: warden_core::Timestamp,
    ) -> warden_engine::executor::BoxFuture<
        'a,
        Result<Option<warden_engine::executor::GateVerdict>, String>,
    > {
        Box::pin(async {
            Ok(Some(warden_engine::executor::GateVerdict {
                passed: false,
                explanation: "p95 380 ms over 200".into(),
            }))
        })
    }

    fn series<'a>(
        &'a self,
        _incident: &'a warden_core::Incident,
        gate: &'a warden_runbook::Gate,
    ) -> warden_engine::executor::BoxFuture<
        'a,
        Result<Option<warden_engine::executor::GateSeries>, String>,
    > {
        Box::pin(async move {
            let now = chrono::Utc::now();
            Ok(Some(warden_engine::executor::GateSeries {
                label: "p95 latency (ms)".into(),
                points: (0..20)
                    .map(|m| {
                        (
                            now - chrono::Duration::minutes(20 - m),
                            150.0 + 12.0 * m as f64,
                        )
                    })
                    .collect(),
                threshold: gate.below,
                below: true,
                window: (now - chrono::Duration::minutes(30), now),
            }))
        })
    }
}

#[tokio::test]
async fn a_gate_with_data_is_drawn_with_its_threshold_and_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut registries = warden_engine::registry::Registries::new();
    registries
        .runbook("serving-latency")
        .gate("latency_p95_ms", std::sync::Arc::new(Rising))
        .unwrap();
    let state = state_with(&dir, tokens(), registries).await;
    let id = hostile_incident(&state).await;
    let (cookie, _) = sign_in(&state, "viewer-token").await;
    let page = get(&state, &format!("/ui/incidents/{id}"), Some(&cookie)).await;
    let chart = page
        .body
        .split("<tr class=\"chart-row\">")
        .nth(1)
        .unwrap_or_else(|| panic!("no chart: {}", page.body));
    assert!(chart.contains("<polyline class=\"series\""), "{chart}");
    assert!(
        chart.contains("threshold 200") && chart.contains("must stay below 200"),
        "{chart}"
    );
    assert!(chart.contains("<rect class=\"window\""), "{chart}");
}

/// A review queue held in memory: what a runbook module registers, reduced to its contract.
struct Queue(std::sync::Mutex<Vec<warden_engine::review::Review>>);

impl warden_engine::review::ReviewQueue for Queue {
    fn list(
        &self,
    ) -> warden_engine::executor::BoxFuture<
        '_,
        Result<Vec<warden_engine::review::Review>, warden_engine::review::ReviewError>,
    > {
        Box::pin(async move { Ok(self.0.lock().unwrap().clone()) })
    }

    fn decide<'a>(
        &'a self,
        id: &'a str,
        decision: warden_engine::review::ReviewDecision,
        by: &'a str,
        reason: &'a str,
    ) -> warden_engine::executor::BoxFuture<
        'a,
        Result<warden_engine::review::Review, warden_engine::review::ReviewError>,
    > {
        use warden_engine::review::{ReviewError, ReviewState};
        Box::pin(async move {
            let mut reviews = self.0.lock().unwrap();
            let review = reviews
                .iter_mut()
                .find(|r| r.id == id)
                .ok_or_else(|| ReviewError::NotFound(id.to_string()))?;
            let wanted = decision.state();
            if review.state != ReviewState::Pending && review.state != wanted {
                return Err(ReviewError::Conflict(format!(
                    "review {id} was {} already",
                    review.state.as_str()
                )));
            }
            if review.state == ReviewState::Pending {
                review.state = wanted;
                review.decided_by = Some(by.to_string());
                review.reason = Some(reason.to_string());
                review.outcome = (wanted == ReviewState::Approved)
                    .then(|| "Airflow DAG retrain: run started".to_string());
            }
            Ok(review.clone())
        })
    }
}

#[tokio::test]
async fn reviews_wait_on_the_list_and_a_responder_answers_them_there() {
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now();
    let queue = std::sync::Arc::new(Queue(std::sync::Mutex::new(vec![
        warden_engine::review::Review {
            id: "demand-r1".into(),
            runbook: "drift-detector".into(),
            subject: "demand".into(),
            summary: "drift monitor demand alerted (<b>num_00</b>): start retraining?".into(),
            detail: serde_json::json!({"alerts": 3}),
            opened_at: now,
            updated_at: now,
            state: warden_engine::review::ReviewState::Pending,
            decided_by: None,
            reason: None,
            decided_at: None,
            outcome: None,
            error: None,
        },
    ])));
    let mut registries = warden_engine::registry::Registries::new();
    registries
        .runbook("drift-detector")
        .review_queue(queue.clone());
    let state = state_with(&dir, tokens(), registries).await;

    // A viewer sees what waits, escaped, and no buttons.
    let (viewer, _) = sign_in(&state, "viewer-token").await;
    let page = get(&state, "/ui", Some(&viewer)).await;
    assert!(
        page.body.contains("Reviews waiting for a yes or no")
            && page.body.contains("(&lt;b&gt;num_00&lt;/b&gt;)")
            && page.body.contains("3 alert(s)"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("/ui/reviews/demand-r1/approve"));

    // A forged post changes nothing; the responder's yes starts it and says so.
    let (cookie, csrf) = sign_in(&state, "responder-token").await;
    let forged = post_form(
        &state,
        "/ui/reviews/demand-r1/approve",
        Some(&cookie),
        "http://warden.test",
        "reason=x",
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        queue.0.lock().unwrap()[0].state,
        warden_engine::review::ReviewState::Pending
    );
    let page = get(&state, "/ui", Some(&cookie)).await;
    assert!(
        page.body.contains("/ui/reviews/demand-r1/approve"),
        "{}",
        page.body
    );
    let approved = post_form(
        &state,
        "/ui/reviews/demand-r1/approve",
        Some(&cookie),
        "http://warden.test",
        &format!("csrf={csrf}&reason=prices+moved"),
    )
    .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    let location = approved.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(location.starts_with("/ui?notice="), "{location}");
    {
        let reviews = queue.0.lock().unwrap();
        assert_eq!(reviews[0].decided_by.as_deref(), Some("ana"));
        assert_eq!(reviews[0].reason.as_deref(), Some("prices moved"));
    }
    let page = get(&state, &location, Some(&cookie)).await;
    assert!(
        page.body.contains("run started") && page.body.contains("No review waits."),
        "{}",
        page.body
    );
    let refused = post_form(
        &state,
        "/ui/reviews/demand-r1/reject",
        Some(&cookie),
        "http://warden.test",
        &format!("csrf={csrf}&reason=noise"),
    )
    .await;
    let location = refused.headers[header::LOCATION].to_str().unwrap();
    assert!(location.starts_with("/ui?error="), "{location}");
}
