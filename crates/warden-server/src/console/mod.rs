//! The Warden console (R6.7): server-rendered pages for the on-call engineer, served by the
//! daemon itself under `/ui` — the incident list with what waits on a person and what failed,
//! an incident with its steps by phase and the buttons its role may press, the evidence
//! rendered by kind, the post-mortem, the runbooks — updated live through server-sent
//! events. It calls the same engine as the API, so its refusals are the API's; every outside
//! text is escaped ([`html::esc`]). Sign-in exchanges an API token for a session cookie
//! ([`session`]); with no tokens configured it is read-only, as the API is.

pub mod chart;
pub mod html;
pub mod markdown;
pub mod pages;
pub mod session;

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use warden_config::Role;
use warden_core::{Actor, Decision, IncidentId};
use warden_engine::review::ReviewDecision;
use warden_runbook::Outcome;

use crate::AppState;
use crate::auth::same_secret;
use html::{Viewer, esc};
use session::Session;

/// The console's routes (merged into the API's router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui") }))
        .route("/ui", get(pages::incidents))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/runbooks", get(pages::runbooks))
        .route("/ui/runbooks/{id}", get(pages::runbook))
        .route("/ui/incidents/{id}", get(pages::incident))
        .route("/ui/incidents/{id}/postmortem", get(pages::postmortem))
        .route("/ui/incidents/{id}/evidence/{hash}", get(pages::evidence))
        .route("/ui/incidents/{id}/{verb}", post(incident_action))
        .route("/ui/incidents/{id}/steps/{step}/{verb}", post(step_action))
        .route("/ui/reviews/{id}/{verb}", post(review_action))
        .route("/ui/events", get(pages::events))
        .route("/ui/assets/console.css", get(css))
        .route("/ui/assets/console.js", get(js))
}

/// A page answered instead (boxed: a response is large, and this is the rare path).
pub type Refusal = Box<Response>;

/// Who is looking at a page.
pub struct Caller {
    /// Their session, when signed in.
    pub session: Option<Session>,
    /// What they may do.
    pub role: Role,
}

impl Caller {
    /// The frame's view of them.
    pub fn viewer<'a>(&'a self, state: &AppState) -> Viewer<'a> {
        Viewer {
            name: self.session.as_ref().map(|s| s.name.as_str()),
            role: role_name(self.role),
            csrf: self.session.as_ref().map(|s| s.csrf.as_str()),
            sign_in_possible: !state.tokens.is_empty(),
        }
    }

    /// The CSRF token for forms, when the caller may press buttons.
    pub fn csrf_if_responder(&self) -> Option<&str> {
        (self.role >= Role::Responder)
            .then(|| self.session.as_ref().map(|s| s.csrf.as_str()))
            .flatten()
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Viewer => "viewer",
        Role::Responder => "responder",
        Role::Admin => "admin",
    }
}

/// The caller of a page: their session, or anonymous read-only access when no tokens are
/// configured; `Err` sends them to sign in.
pub fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, Refusal> {
    if let Some((_, session)) = state.sessions.get(headers) {
        return Ok(Caller {
            role: session.role,
            session: Some(session),
        });
    }
    if state.tokens.is_empty() {
        return Ok(Caller {
            session: None,
            role: Role::Viewer,
        });
    }
    Err(Box::new(Redirect::to("/ui/login").into_response()))
}

/// A message page (a refusal, an unknown incident).
pub fn message(
    state: &AppState,
    caller: &Caller,
    status: StatusCode,
    title: &str,
    text: &str,
) -> Response {
    html::page(
        status,
        title,
        &caller.viewer(state),
        None,
        &format!(
            "<section class=\"card\"><h1>{}</h1><p>{}</p><p><a href=\"/ui\">Back to the incidents</a></p></section>",
            esc(title),
            esc(text)
        ),
    )
}

#[derive(Debug, Default, Deserialize)]
struct LoginQuery {
    error: Option<String>,
}

async fn login_page(State(state): State<AppState>, Query(query): Query<LoginQuery>) -> Response {
    let anonymous = Caller {
        session: None,
        role: Role::Viewer,
    };
    let note = if state.tokens.is_empty() {
        "<p class=\"notice\">No API tokens are configured (server.tokens in warden.yaml): the console is read-only for everyone, no sign-in needed.</p>"
            .to_string()
    } else {
        String::new()
    };
    let error = query.error.map_or(String::new(), |e| {
        format!("<p class=\"error\">{}</p>", esc(&e))
    });
    html::page(
        StatusCode::OK,
        "Sign in",
        &anonymous.viewer(&state),
        None,
        &format!(
            "<section class=\"card narrow\"><h1>Sign in</h1>{note}{error}\
             <form method=\"post\" action=\"/ui/login\"><label for=\"token\">API token</label>\
             <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
             <button class=\"primary\">Sign in</button></form>\
             <p class=\"muted\">The token is exchanged for a session cookie; it is not stored in the browser.</p></section>"
        ),
    )
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if session::cross_origin(&headers).is_some() {
        return (StatusCode::FORBIDDEN, "sign-in from another site refused").into_response();
    }
    // Every token is compared, so the time taken does not reveal which one matched.
    let found = state.tokens.iter().fold(None, |found, token| {
        if same_secret(form.token.trim(), &token.secret) {
            Some(token)
        } else {
            found
        }
    });
    let Some(token) = found else {
        state.metrics.refused();
        return Redirect::to("/ui/login?error=unknown%20token").into_response();
    };
    let (id, _) = state.sessions.create(&token.name, token.role);
    let mut response = Redirect::to("/ui").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::set_cookie(&id));
    response
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some((id, session)) = state.sessions.get(&headers) {
        if session::forged(&session, form.csrf.as_deref(), &headers).is_some() {
            return (
                StatusCode::FORBIDDEN,
                "sign-out refused: missing CSRF token",
            )
                .into_response();
        }
        state.sessions.remove(&id);
    }
    let mut response = Redirect::to("/ui/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::set_cookie(""));
    response
}

/// The responder behind a mutating form, or the refusal page.
fn responder(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(Actor, Caller), Refusal> {
    let caller = caller(state, headers)?;
    let Some(session) = &caller.session else {
        let response = message(
            state,
            &caller,
            StatusCode::FORBIDDEN,
            "Read-only",
            "Sign in with a responder's API token to change an incident.",
        );
        return Err(Box::new(response));
    };
    if let Some(why) = session::forged(session, form.get("csrf").map(String::as_str), headers) {
        state.metrics.refused();
        return Err(Box::new(message(
            state,
            &caller,
            StatusCode::FORBIDDEN,
            "Refused",
            why,
        )));
    }
    if caller.role < Role::Responder {
        state.metrics.refused();
        return Err(Box::new(message(
            state,
            &caller,
            StatusCode::FORBIDDEN,
            "Refused",
            "This needs the responder role.",
        )));
    }
    Ok((Actor::User(session.name.clone()), caller))
}

/// Back to the incident, with what happened.
fn back(id: &str, result: Result<String, String>) -> Response {
    back_to(&format!("/ui/incidents/{}", html::url_part(id)), result)
}

/// Back to `page` after a form post, saying what it did or why it was refused.
fn back_to(page: &str, result: Result<String, String>) -> Response {
    let (key, text) = match result {
        Ok(text) => ("notice", text),
        Err(text) => ("error", text),
    };
    Redirect::to(&format!("{page}?{key}={}", html::url_part(&text))).into_response()
}

async fn incident_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, verb)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (actor, _) = match responder(&state, &headers, &form) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let incident = IncidentId(id.clone());
    let field = |name: &str| {
        form.get(name)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let result = match verb.as_str() {
        "ack" => state
            .manager()
            .acknowledge(&incident, actor)
            .await
            .map(|_| "acknowledged".to_string()),
        "resolve" => {
            let override_reason = field("override");
            state
                .engine
                .resolve(
                    &incident,
                    actor,
                    &field("reason"),
                    (!override_reason.is_empty()).then_some(override_reason.as_str()),
                )
                .await
                .map(|_| "resolved".to_string())
        }
        _ => return (StatusCode::NOT_FOUND, "no such action").into_response(),
    };
    back(&id, result.map_err(|e| e.to_string()))
}

async fn step_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, step, verb)): Path<(String, String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (actor, _) = match responder(&state, &headers, &form) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let incident = IncidentId(id.clone());
    let field = |name: &str| {
        form.get(name)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let result = match verb.as_str() {
        "approve" | "reject" => {
            let decision = if verb == "approve" {
                Decision::Approved
            } else {
                Decision::Rejected
            };
            state
                .engine
                .decide(&incident, &step, decision, actor, &field("reason"))
                .await
                .map(|_| format!("{} {step}", decision.as_str()))
                .map_err(|e| e.to_string())
        }
        "complete" => match Outcome::parse(&field("outcome")) {
            Ok(outcome) => state
                .engine
                .complete_step(&incident, &step, outcome, actor, &field("note"))
                .await
                .map(|_| format!("recorded {step}"))
                .map_err(|e| e.to_string()),
            Err(error) => Err(error),
        },
        "retry" => state
            .engine
            .retry_step(&incident, &step, actor)
            .await
            .map(|(record, _)| format!("retried {step}: {}", record.status.as_str()))
            .map_err(|e| e.to_string()),
        _ => return (StatusCode::NOT_FOUND, "no such step action").into_response(),
    };
    back(&id, result)
}

/// `POST /ui/reviews/{id}/approve|reject`: a review's yes or no from the list page (a
/// responder, with the form's CSRF token), back to the list with what it did.
async fn review_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, verb)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (actor, _) = match responder(&state, &headers, &form) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let decision = match verb.as_str() {
        "approve" => ReviewDecision::Approve,
        "reject" => ReviewDecision::Reject,
        _ => return (StatusCode::NOT_FOUND, "no such review action").into_response(),
    };
    let reason = form.get("reason").map(|r| r.trim()).unwrap_or_default();
    let result = match state
        .engine
        .registries()
        .decide_review(&id, decision, actor.name(), reason)
        .await
    {
        Ok(review) => match (&review.outcome, &review.error) {
            (_, Some(error)) => Err(format!("{id} {}: {error}", review.state.as_str())),
            (Some(outcome), None) => Ok(format!("{id} {}: {outcome}", review.state.as_str())),
            (None, None) => Ok(format!("{id} {}", review.state.as_str())),
        },
        Err(error) => Err(error.to_string()),
    };
    back_to("/ui", result)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", include_str!("console.css"))
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("console.js"))
}
