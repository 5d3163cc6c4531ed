//! The routes and their handlers. Handlers are named `resource_verb`; each authenticates
//! first, then calls the incident manager, so API changes land on timelines and in the audit
//! log exactly like CLI changes.

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use warden_config::Role;
use warden_core::{Decision, IncidentId, IncidentState};
use warden_engine::IncidentSummary;
use warden_engine::alerts::{self, MAX_PAYLOAD_BYTES, PayloadError};
use warden_engine::review::{Review, ReviewDecision, ReviewError, ReviewState};
use warden_runbook::Outcome;
use warden_store::{IncidentFilter, IncidentStore};

use crate::AppState;
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::metrics::WebhookOutcome;

/// The whole API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health_get))
        .route("/readyz", get(ready_get))
        .route("/metrics", get(metrics_get))
        .route("/api/v1/incidents", get(incidents_list))
        .route("/api/v1/incidents/{id}", get(incident_get))
        .route("/api/v1/incidents/{id}/ack", post(incident_ack))
        .route("/api/v1/incidents/{id}/resolve", post(incident_resolve))
        .route(
            "/api/v1/incidents/{id}/steps/{step}/approve",
            post(step_approve),
        )
        .route(
            "/api/v1/incidents/{id}/steps/{step}/reject",
            post(step_reject),
        )
        .route(
            "/api/v1/incidents/{id}/steps/{step}/complete",
            post(step_complete),
        )
        .route(
            "/api/v1/incidents/{id}/steps/{step}/retry",
            post(step_retry),
        )
        .route(
            "/api/v1/incidents/{id}/postmortem",
            get(incident_postmortem),
        )
        .route(
            "/api/v1/incidents/{id}/evidence/{hash}",
            get(incident_evidence),
        )
        .route("/api/v1/reviews", get(reviews_list))
        .route("/api/v1/reviews/{id}/approve", post(review_approve))
        .route("/api/v1/reviews/{id}/reject", post(review_reject))
        .route("/api/v1/runbooks", get(runbooks_list))
        .route("/api/v1/runbooks/{id}", get(runbook_get))
        .route(
            "/api/v1/alerts/alertmanager",
            // The secret is checked before a byte of the body is read; one byte over the
            // limit still reaches the handler, which answers 413 itself.
            post(alertmanager_webhook)
                .layer(DefaultBodyLimit::max(MAX_PAYLOAD_BYTES + 1))
                .layer(middleware::from_fn_with_state(state.clone(), webhook_guard)),
        )
        .merge(crate::console::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::map_response(crate::error::json_errors))
        .layer(middleware::from_fn(crate::error::request_limits))
        .with_state(state)
}

/// The webhook's secret, checked before the body is read: a large post with a wrong secret is
/// refused with 401, not read.
async fn webhook_guard(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    if let Err(error) = auth::require_webhook(&state, request.headers()) {
        state.metrics.webhook(WebhookOutcome::Unauthorized);
        return error.into_response();
    }
    next.run(request).await
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

fn authorize(state: &AppState, headers: &HeaderMap, needed: Role) -> Result<Caller, ApiError> {
    // A console session reads through the API too (the evidence frame, the Markdown
    // download); changing anything needs a bearer token, so a cookie alone cannot be abused
    // by another site.
    if needed == Role::Viewer
        && auth::bearer(headers).is_none()
        && let Some((_, session)) = state.sessions.get(headers)
    {
        return Ok(Caller {
            actor: warden_core::Actor::User(session.name),
            role: session.role,
        });
    }
    auth::require(state, headers, needed).inspect_err(|_| state.metrics.refused())
}

async fn health_get() -> &'static str {
    "ok\n"
}

/// Ready when the store answers; says whether this replica leads.
async fn ready_get(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    state.manager().store().count_by_state().await?;
    let role = match state.engine.leadership() {
        None => "single",
        Some(_) if state.leads() => "leader",
        Some(_) => "follower",
    };
    Ok(Json(serde_json::json!({ "ready": true, "role": role })))
}

async fn metrics_get(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let counts = state.manager().store().count_by_state().await?;
    let actions = state.manager().store().count_actions_by_status().await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&counts, &actions),
    ))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    active: bool,
    state: Option<String>,
    limit: Option<u32>,
}

async fn incidents_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, Role::Viewer)?;
    let states = match &query.state {
        Some(list) => list
            .split(',')
            .map(IncidentState::parse)
            .collect::<Result<_, _>>()
            .map_err(ApiError::bad_request)?,
        None => Vec::new(),
    };
    let filter = IncidentFilter {
        states,
        active_only: query.active,
        limit: query.limit.unwrap_or(100).min(1000),
    };
    let incidents = state.manager().store().list_incidents(&filter).await?;
    let rows: Vec<IncidentSummary> = incidents.iter().map(IncidentSummary::from).collect();
    Ok(Json(serde_json::json!({ "incidents": rows })))
}

async fn incident_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, Role::Viewer)?;
    let store = state.manager().store();
    let id = IncidentId(id);
    let incident = store
        .get_incident(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no incident {id}")))?;
    let actions = store.actions_for(&id).await?;
    let approvals = store.approvals_for(&id).await?;
    let audit = store.audit_for(&id).await?;
    Ok(Json(serde_json::json!({
        "incident": incident, "actions": actions, "approvals": approvals, "audit": audit,
    })))
}

#[derive(Debug, Default, Deserialize)]
struct ReasonBody {
    #[serde(default)]
    reason: String,
}

/// An optional JSON body `{"reason": "..."}`; an empty body means no reason.
fn reason(body: &[u8]) -> Result<String, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(String::new());
    }
    serde_json::from_slice::<ReasonBody>(body)
        .map(|body| body.reason)
        .map_err(|err| ApiError::bad_request(format!("expected {{\"reason\": \"...\"}}: {err}")))
}

fn summary(incident: &warden_core::Incident) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "incident": IncidentSummary::from(incident) }))
}

async fn incident_ack(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let caller = authorize(&state, &headers, Role::Responder)?;
    let incident = state
        .manager()
        .acknowledge(&IncidentId(id), caller.actor)
        .await?;
    Ok(summary(&incident))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    #[serde(default)]
    reason: String,
    /// Why the incident is resolved although closure gates have not passed.
    #[serde(default, rename = "override")]
    override_reason: Option<String>,
}

async fn incident_resolve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let caller = authorize(&state, &headers, Role::Responder)?;
    let body: ResolveBody = if body.iter().all(u8::is_ascii_whitespace) {
        ResolveBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|err| {
            ApiError::bad_request(format!(
                "expected {{\"reason\": \"...\", \"override\": \"why the open gates do not matter\"}}: {err}"
            ))
        })?
    };
    let incident = state
        .engine
        .resolve(
            &IncidentId(id),
            caller.actor,
            &body.reason,
            body.override_reason.as_deref(),
        )
        .await?;
    Ok(summary(&incident))
}

async fn step_retry(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, step)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let caller = authorize(&state, &headers, Role::Responder)?;
    let (record, progress) = state
        .engine
        .retry_step(&IncidentId(id), &step, caller.actor)
        .await?;
    Ok(Json(
        serde_json::json!({ "step": record, "progress": progress }),
    ))
}

async fn decide(
    state: AppState,
    headers: HeaderMap,
    id: String,
    step: String,
    body: &[u8],
    decision: Decision,
) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = authorize(&state, &headers, Role::Responder)?;
    let why = reason(body)?;
    let id = IncidentId(id);
    let (incident, _) = state
        .engine
        .decide(&id, &step, decision, caller.actor, &why)
        .await?;
    Ok(summary(&incident))
}

#[derive(Debug, Deserialize)]
struct CompleteBody {
    outcome: String,
    #[serde(default)]
    note: String,
}

async fn step_complete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, step)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let caller = authorize(&state, &headers, Role::Responder)?;
    let body: CompleteBody = serde_json::from_slice(&body).map_err(|err| {
        ApiError::bad_request(format!(
            "expected {{\"outcome\": \"succeeded|failed|confirmed|refuted|passed\", \"note\": \"...\"}}: {err}"
        ))
    })?;
    let outcome = Outcome::parse(&body.outcome).map_err(ApiError::bad_request)?;
    let id = IncidentId(id);
    let (record, _) = state
        .engine
        .complete_step(&id, &step, outcome, caller.actor, &body.note)
        .await?;
    Ok(Json(serde_json::json!({ "step": record })))
}

async fn step_approve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, step)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    decide(state, headers, id, step, &body, Decision::Approved).await
}

async fn step_reject(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, step)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    decide(state, headers, id, step, &body, Decision::Rejected).await
}

/// Every review the runbook modules keep (runbook 3's retraining reviews), oldest first;
/// `?state=pending` for those that wait.
async fn reviews_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ReviewsQuery>,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, Role::Viewer)?;
    let wanted = match query.state.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            serde_json::from_value::<ReviewState>(serde_json::json!(text)).map_err(|_| {
                ApiError::bad_request(format!("state {text:?}: pending, approved or rejected"))
            })?,
        ),
    };
    let reviews: Vec<Review> = state
        .engine
        .registries()
        .reviews()
        .await
        .map_err(review_error)?
        .into_iter()
        .filter(|r| wanted.is_none_or(|w| r.state == w))
        .collect();
    Ok(Json(serde_json::json!({ "reviews": reviews })))
}

#[derive(Debug, Deserialize)]
struct ReviewsQuery {
    state: Option<String>,
}

async fn review_approve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    decide_review(state, headers, id, &body, ReviewDecision::Approve).await
}

async fn review_reject(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    decide_review(state, headers, id, &body, ReviewDecision::Reject).await
}

async fn decide_review(
    state: AppState,
    headers: HeaderMap,
    id: String,
    body: &[u8],
    decision: ReviewDecision,
) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = authorize(&state, &headers, Role::Responder)?;
    let why = reason(body)?;
    let review = state
        .engine
        .registries()
        .decide_review(&id, decision, caller.actor.name(), &why)
        .await
        .map_err(review_error)?;
    Ok(Json(serde_json::json!({ "review": review })))
}

fn review_error(error: ReviewError) -> ApiError {
    match &error {
        ReviewError::NotFound(_) => ApiError::not_found(error.to_string()),
        ReviewError::Conflict(_) => {
            ApiError::new(StatusCode::CONFLICT, "conflict", error.to_string())
        }
        ReviewError::Store(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            error.to_string(),
        ),
    }
}

async fn runbooks_list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, Role::Viewer)?;
    let runbooks: Vec<_> = state
        .runbooks()
        .iter()
        .map(|runbook| {
            serde_json::json!({
                "id": runbook.id, "title": runbook.title, "severity": runbook.severity,
                "built_in": runbook.is_built_in(), "steps": runbook.steps.len(),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "runbooks": runbooks })))
}

/// The post-mortem draft of incident `id`, as the CLI writes it.
///
/// # Errors
/// No such incident, or the store failing, as a sentence.
pub(crate) async fn postmortem_of(state: &AppState, id: &str) -> Result<String, String> {
    let store = state.manager().store();
    let incident = store
        .get_incident(&IncidentId(id.to_string()))
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no incident {id}"))?;
    let runbook = state.engine.runbook_of(&incident).ok();
    let impact = state.engine.impact(&incident).await;
    warden_engine::postmortem::draft(store, &incident, runbook, &impact, chrono::Utc::now())
        .await
        .map_err(|e| e.to_string())
}

async fn incident_postmortem(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, Role::Viewer)?;
    let markdown = postmortem_of(&state, &id)
        .await
        .map_err(ApiError::not_found)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/markdown; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "inline; filename=\"{}-postmortem.md\"",
                    id.replace(['"', '\\', '/'], "_")
                ),
            ),
        ],
        markdown,
    ))
}

/// Largest artifact answered whole (the evidence store keeps at most its own limit anyway).
const MAX_EVIDENCE_BYTES: u64 = 64 * 1024 * 1024;

async fn incident_evidence(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, hash)): Path<(String, String)>,
) -> Result<axum::response::Response, ApiError> {
    authorize(&state, &headers, Role::Viewer)?;
    let incident = state
        .manager()
        .store()
        .get_incident(&IncidentId(id.clone()))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no incident {id}")))?;
    // Only an artifact this incident captured, named by its content hash: a request cannot
    // name a path, so it cannot reach outside the evidence store.
    let evidence = incident
        .evidence
        .iter()
        .find(|e| e.hash.as_str() == hash)
        .ok_or_else(|| ApiError::not_found(format!("{id} captured no evidence {hash}")))?;
    if evidence.size_bytes > MAX_EVIDENCE_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "{} has {} bytes; at most {MAX_EVIDENCE_BYTES} are served",
                evidence.name, evidence.size_bytes
            ),
        ));
    }
    let store = state
        .engine
        .evidence_store()
        .ok_or_else(|| ApiError::not_found("this process keeps no evidence"))?;
    let bytes = store.get(&evidence.hash)?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    let media = axum::http::HeaderValue::from_str(&evidence.media_type)
        .unwrap_or_else(|_| axum::http::HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, media);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    // Served content runs in a sandbox of its own: an HTML report cannot script the console.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(
            "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:",
        ),
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&format!(
        "inline; filename=\"{}\"",
        evidence.name.replace(['"', '\\', '/', '\r', '\n'], "_")
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

async fn runbook_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, Role::Viewer)?;
    let runbook = state
        .runbooks()
        .iter()
        .find(|r| r.id.as_str() == id)
        .ok_or_else(|| ApiError::not_found(format!("no runbook {id} in effect")))?;
    let steps: Vec<serde_json::Value> = runbook
        .steps
        .iter()
        .map(|step| {
            let (automated, who) = crate::console::pages::status(&state, runbook, step);
            serde_json::json!({
                "id": step.id, "title": step.title, "phase": step.phase.as_str(),
                "kind": step.kind, "automated": automated, "who": who,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "id": runbook.id, "title": runbook.title, "severity": runbook.severity,
        "symptoms": runbook.symptoms, "built_in": runbook.is_built_in(),
        "automated": steps.iter().filter(|s| s["automated"] == true).count(),
        "steps": steps,
    })))
}

async fn alertmanager_webhook(
    State(state): State<AppState>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = body.map_err(|rejection| {
        let too_large = rejection.status() == StatusCode::PAYLOAD_TOO_LARGE;
        state.metrics.webhook(if too_large {
            WebhookOutcome::TooLarge
        } else {
            WebhookOutcome::Malformed
        });
        ApiError::new(
            rejection.status(),
            if too_large {
                "too_large"
            } else {
                "bad_request"
            },
            format!("webhook body: {}", rejection.body_text()),
        )
    })?;
    let payload = match alerts::parse_payload(&body) {
        Ok(payload) => payload,
        Err(error @ PayloadError::TooLarge(_)) => {
            state.metrics.webhook(WebhookOutcome::TooLarge);
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                error.to_string(),
            ));
        }
        Err(error) => {
            state.metrics.webhook(WebhookOutcome::Malformed);
            return Err(ApiError::bad_request(error.to_string()));
        }
    };
    let ingested = state
        .manager()
        .ingest_alerts(&payload, state.runbooks())
        .await?;
    for id in ingested
        .opened
        .iter()
        .chain(&ingested.attached)
        .chain(&ingested.reopened)
    {
        state.advance(id).await?;
    }
    state.metrics.webhook(WebhookOutcome::Accepted);
    state.metrics.findings(&ingested);
    if !ingested.unmatched.is_empty() || !ingested.ignored.is_empty() {
        // The daemon's stderr is its log: an alert nobody routes must not vanish silently.
        eprintln!(
            "warden: {} alert(s) matched no runbook trigger (fingerprints {}), {} ignored for their status ({})",
            ingested.unmatched.len(),
            warden_core::text::terminal_safe(&ingested.unmatched.join(", ")),
            ingested.ignored.len(),
            warden_core::text::terminal_safe(
                &ingested
                    .ignored
                    .iter()
                    .map(|(fingerprint, status)| format!("{fingerprint}: {status:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    Ok(Json(ingested))
}
