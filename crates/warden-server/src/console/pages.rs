//! The console's pages: the incident list, an incident, its evidence and post-mortem, the
//! runbooks, and the server-sent event stream that keeps a page live.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::fmt::Write;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use warden_core::{Incident, IncidentId, IncidentState, Severity};
use warden_engine::registry::EntryKind;
use warden_engine::steps::{StepGroup, StepView, step_views};
use warden_runbook::{Phase, Runbook, StepKind};
use warden_store::{IncidentFilter, IncidentStore};

use super::html::{self, badge, button_form, esc, time, url_part};
use super::{Caller, caller, markdown, message};
use crate::AppState;

/// Most incidents the list shows.
const LIST_LIMIT: u32 = 1000;
/// Rows each of the "waiting" and "failed" panels lists (the rest are counted).
const PANEL_ROWS: usize = 50;
/// Largest evidence rendered in a page (the raw bytes are downloadable whole).
const RENDER_LIMIT: usize = 2 * 1024 * 1024;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    runbook: Option<String>,
    severity: Option<String>,
    target: Option<String>,
    q: Option<String>,
}

fn unavailable(state: &AppState, caller: &Caller, error: impl std::fmt::Display) -> Response {
    message(
        state,
        caller,
        StatusCode::SERVICE_UNAVAILABLE,
        "Store unavailable",
        &error.to_string(),
    )
}

fn select(name: &str, label: &str, current: Option<&str>, options: &[&str]) -> String {
    let mut out = format!(
        "<label>{} <select name=\"{}\"><option value=\"\">any</option>",
        esc(label),
        esc(name)
    );
    for option in options {
        let selected = if current == Some(*option) {
            " selected"
        } else {
            ""
        };
        let _ = write!(out, "<option{selected}>{}</option>", esc(option));
    }
    out.push_str("</select></label>");
    out
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

fn matches(incident: &Incident, query: &ListQuery) -> bool {
    if given(&query.state).is_some_and(|s| incident.state.as_str() != s)
        || given(&query.runbook).is_some_and(|r| incident.runbook.as_str() != r)
        || given(&query.severity).is_some_and(|s| incident.severity.as_str() != s)
        || given(&query.target).is_some_and(|t| {
            !incident
                .target
                .to_string()
                .to_lowercase()
                .contains(&t.to_lowercase())
        })
    {
        return false;
    }
    given(&query.q).is_none_or(|q| {
        let q = q.to_lowercase();
        incident.title.to_lowercase().contains(&q)
            || incident.id.0.to_lowercase() == q
            || incident
                .timeline
                .iter()
                .any(|e| e.message.to_lowercase().contains(&q))
    })
}

/// The steps of an incident and where they stand.
async fn views(
    state: &AppState,
    incident: &Incident,
) -> Option<(Vec<StepView>, Vec<warden_core::ActionRecord>)> {
    let runbook = state.engine.runbook_of(incident).ok()?;
    let store = state.manager().store();
    let records = store.actions_for(&incident.id).await.ok()?;
    let approvals = store.approvals_for(&incident.id).await.ok()?;
    let registry = state.engine.registries().for_runbook(runbook.id.as_str());
    Some((step_views(runbook, &records, &approvals, registry), records))
}

/// `GET /ui`: counts, what waits on a person, what failed, the incidents.
pub async fn incidents(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let caller = match caller(&state, &headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let store = state.manager().store();
    let counts = match store.count_by_state().await {
        Ok(counts) => counts,
        Err(error) => return unavailable(&state, &caller, error),
    };
    let all = match store
        .list_incidents(&IncidentFilter {
            states: Vec::new(),
            active_only: false,
            limit: LIST_LIMIT,
        })
        .await
    {
        Ok(all) => all,
        Err(error) => return unavailable(&state, &caller, error),
    };
    let mut body = String::from("<h1>Incidents</h1><div class=\"counts\">");
    for s in IncidentState::ALL {
        let n = counts
            .iter()
            .find(|(name, _)| name == s.as_str())
            .map_or(0, |(_, n)| *n);
        let _ = write!(
            body,
            "<a class=\"count state-{0}\" href=\"/ui?state={0}\"><b>{n}</b> {0}</a>",
            s.as_str()
        );
    }
    body.push_str("</div>");

    // What waits on a person, and what failed, across the active incidents.
    // Both panels list the newest PANEL_ROWS rows and count the rest.
    let (mut waiting, mut failed) = (Panel::default(), Panel::default());
    for incident in all.iter().filter(|i| i.state.is_active()) {
        let Some((steps, _)) = views(&state, incident).await else {
            continue;
        };
        for step in steps {
            let panel = match step.group {
                StepGroup::Failed => &mut failed,
                StepGroup::WaitingForApproval | StepGroup::WaitingForPerson => &mut waiting,
                _ => continue,
            };
            panel.count += 1;
            if panel.count > PANEL_ROWS {
                continue;
            }
            let _ = write!(
                panel.rows,
                "<tr><td><a href=\"/ui/incidents/{}#step-{}\">{}</a></td><td>{}</td><td>{}</td><td class=\"result\">{}</td></tr>",
                url_part(&incident.id.0),
                esc(&step.id),
                esc(&incident.id.0),
                esc(&step.title),
                badge(
                    &format!("group-{:?}", step.group).to_lowercase(),
                    step.group.heading()
                ),
                esc(step.result.as_deref().unwrap_or(""))
            );
        }
    }
    let _ = write!(
        body,
        "<div class=\"columns\"><section class=\"card\"><h2>Waiting on a person <span class=\"muted\">{}</span></h2>{}</section>\
         <section class=\"card\"><h2>Failed steps <span class=\"muted\">{}</span></h2>{}</section></div>",
        waiting.count,
        waiting.html("Nothing waits on anyone."),
        failed.count,
        failed.html("No step failed.")
    );

    let runbooks: Vec<&str> = state.runbooks().iter().map(|r| r.id.as_str()).collect();
    let states: Vec<&str> = IncidentState::ALL.iter().map(|s| s.as_str()).collect();
    let severities: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    let _ = write!(
        body,
        "<form class=\"filters\" method=\"get\" action=\"/ui\">{}{}{}\
         <label>target <input name=\"target\" value=\"{}\" placeholder=\"service/…\"></label>\
         <label>search <input name=\"q\" type=\"search\" value=\"{}\" placeholder=\"title, timeline, INC-7\"></label>\
         <button>Filter</button> <a href=\"/ui\">clear</a></form>",
        select("state", "state", query.state.as_deref(), &states),
        select("runbook", "runbook", query.runbook.as_deref(), &runbooks),
        select(
            "severity",
            "severity",
            query.severity.as_deref(),
            &severities
        ),
        esc(query.target.as_deref().unwrap_or("")),
        esc(query.q.as_deref().unwrap_or(""))
    );
    let shown: Vec<&Incident> = all.iter().filter(|i| matches(i, &query)).collect();
    let _ = write!(
        body,
        "<p class=\"muted\">{} of {} incidents, newest first.</p><div class=\"scroll\"><table class=\"incidents\">\
         <tr><th>id</th><th>severity</th><th>state</th><th>runbook</th><th>target</th><th>title</th><th>opened</th><th>updated</th></tr>",
        shown.len(),
        all.len()
    );
    for incident in shown {
        let _ = write!(
            body,
            "<tr><td><a href=\"/ui/incidents/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"title\">{}</td><td>{}</td><td>{}</td></tr>",
            url_part(&incident.id.0),
            esc(&incident.id.0),
            badge(
                &format!("sev-{}", incident.severity.as_str()),
                incident.severity.as_str()
            ),
            badge(
                &format!("state-{}", incident.state.as_str()),
                incident.state.as_str()
            ),
            esc(incident.runbook.as_str()),
            esc(&incident.target.to_string()),
            esc(&incident.title),
            time(&incident.opened_at),
            time(&incident.updated_at)
        );
    }
    body.push_str("</table></div>");
    html::page(
        StatusCode::OK,
        "Incidents",
        &caller.viewer(&state),
        Some("/ui/events"),
        &body,
    )
}

/// One of the list page's step panels.
#[derive(Default)]
struct Panel {
    rows: String,
    count: usize,
}

impl Panel {
    fn html(&self, empty: &str) -> String {
        if self.count == 0 {
            return format!("<p class=\"muted\">{empty}</p>");
        }
        let more = if self.count > PANEL_ROWS {
            format!(
                "<p class=\"muted\">and {} more (newest incidents first)</p>",
                self.count - PANEL_ROWS
            )
        } else {
            String::new()
        };
        format!(
            "<div class=\"scroll\"><table><tr><th>incident</th><th>step</th><th>state</th><th>result</th></tr>{}</table></div>{more}",
            self.rows
        )
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    notice: Option<String>,
    error: Option<String>,
}

fn step_buttons(id: &str, step: &StepView, kind: &StepKind, csrf: &str) -> String {
    let base = format!(
        "/ui/incidents/{}/steps/{}",
        url_part(id),
        url_part(&step.id)
    );
    let reason = "<input name=\"reason\" placeholder=\"why (recorded)\" aria-label=\"reason\">";
    match step.group {
        StepGroup::WaitingForApproval => format!(
            "{}{}",
            button_form(
                &format!("{base}/approve"),
                csrf,
                "Approve",
                "primary",
                reason
            ),
            button_form(&format!("{base}/reject"), csrf, "Reject", "danger", reason)
        ),
        StepGroup::Failed => button_form(&format!("{base}/retry"), csrf, "Retry", "primary", ""),
        StepGroup::WaitingForPerson | StepGroup::Done
            if !matches!(kind, StepKind::Action { .. })
                || step.group == StepGroup::WaitingForPerson =>
        {
            let outcomes: &[&str] = match kind {
                StepKind::Cause { .. } => &["confirmed", "refuted"],
                StepKind::Gate(_) => &["passed", "failed"],
                _ => &["succeeded", "failed"],
            };
            if step.group == StepGroup::Done && step.status == "skipped" {
                return String::new();
            }
            let options: String = outcomes
                .iter()
                .map(|o| format!("<option>{o}</option>"))
                .collect();
            let label = if step.group == StepGroup::Done {
                "Correct"
            } else {
                "Record"
            };
            button_form(
                &format!("{base}/complete"),
                csrf,
                label,
                if step.group == StepGroup::Done {
                    "subtle"
                } else {
                    "primary"
                },
                &format!(
                    "<select name=\"outcome\" aria-label=\"outcome\">{options}</select><input name=\"note\" placeholder=\"note (recorded)\" aria-label=\"note\">"
                ),
            )
        }
        _ => String::new(),
    }
}

fn alert_block(incident: &Incident) -> String {
    let Some(alert) = &incident.alert else {
        return String::new();
    };
    let mut out = String::from("<h3>Alert</h3><div class=\"labels\">");
    for (name, value) in &alert.labels {
        let _ = write!(
            out,
            "<span class=\"label\">{}=<b>{}</b></span>",
            esc(name),
            esc(value)
        );
    }
    out.push_str("</div>");
    for (name, value) in &alert.annotations {
        let _ = write!(
            out,
            "<p><span class=\"muted\">{}:</span> {}</p>",
            esc(name),
            esc(value)
        );
    }
    let link = |url: &Option<String>, text: &str| {
        url.as_deref()
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            .map_or(String::new(), |u| {
                format!(
                    "<a href=\"{}\" rel=\"noopener noreferrer\" target=\"_blank\">{text}</a> ",
                    esc(u)
                )
            })
    };
    out.push_str(&link(&alert.runbook_url, "runbook"));
    out.push_str(&link(&alert.generator_url, "source expression"));
    if let Some(at) = &alert.starts_at {
        let _ = write!(out, "<p class=\"muted\">firing since {}</p>", time(at));
    }
    out
}

/// `GET /ui/incidents/{id}`.
pub async fn incident(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(notice): Query<Notice>,
) -> Response {
    let caller = match caller(&state, &headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let store = state.manager().store();
    let incident = match store.get_incident(&IncidentId(id.clone())).await {
        Ok(Some(incident)) => incident,
        Ok(None) => {
            return message(
                &state,
                &caller,
                StatusCode::NOT_FOUND,
                "No such incident",
                &format!("There is no incident {id}."),
            );
        }
        Err(error) => return unavailable(&state, &caller, error),
    };
    let csrf = caller.csrf_if_responder().map(str::to_string);
    let mut body = String::new();
    if let Some(text) = &notice.notice {
        let _ = write!(body, "<p class=\"notice\">{}</p>", esc(text));
    }
    if let Some(text) = &notice.error {
        let _ = write!(body, "<p class=\"error\" role=\"alert\">{}</p>", esc(text));
    }
    let _ = write!(
        body,
        "<section class=\"card\"><h1><span class=\"id\">{}</span> {}</h1><p>{} {} <span class=\"muted\">{} · {}</span></p>\
         <dl class=\"facts\"><dt>opened</dt><dd>{}</dd><dt>updated</dt><dd>{}</dd>{}<dt>findings</dt><dd>{}{}</dd></dl>",
        esc(&incident.id.0),
        esc(&incident.title),
        badge(
            &format!("state-{}", incident.state.as_str()),
            incident.state.as_str()
        ),
        badge(
            &format!("sev-{}", incident.severity.as_str()),
            incident.severity.as_str()
        ),
        esc(&incident.target.to_string()),
        esc(incident.runbook.as_str()),
        time(&incident.opened_at),
        time(&incident.updated_at),
        incident.resolved_at.map_or(String::new(), |at| format!(
            "<dt>resolved</dt><dd>{}</dd>",
            time(&at)
        )),
        incident.finding_count,
        if incident.reopen_count > 0 {
            format!(" (reopened {} times)", incident.reopen_count)
        } else {
            String::new()
        }
    );
    body.push_str(&alert_block(&incident));
    if let (Some(csrf), true) = (&csrf, incident.state.is_active()) {
        let _ = write!(
            body,
            "<div class=\"actions\">{}{}</div>",
            button_form(
                &format!("/ui/incidents/{}/ack", url_part(&id)),
                csrf,
                "Acknowledge",
                "subtle",
                ""
            ),
            button_form(
                &format!("/ui/incidents/{}/resolve", url_part(&id)),
                csrf,
                "Resolve",
                "danger",
                "<input name=\"reason\" placeholder=\"why\" aria-label=\"reason\"><input name=\"override\" placeholder=\"override: why open gates do not matter\" aria-label=\"override\">"
            )
        );
    }
    let _ = write!(
        body,
        "<p><a href=\"/ui/incidents/{0}/postmortem\">Post-mortem draft</a> · <a href=\"/api/v1/incidents/{0}/postmortem\" download=\"{0}.md\">download Markdown</a></p></section>",
        url_part(&id)
    );

    if let (Some((steps, _)), Ok(runbook)) = (
        views(&state, &incident).await,
        state.engine.runbook_of(&incident),
    ) {
        for phase in Phase::ALL {
            let in_phase: Vec<(&StepView, &warden_runbook::Step)> = steps
                .iter()
                .filter(|s| s.phase == phase.as_str())
                .filter_map(|s| runbook.step(&s.id).map(|step| (s, step)))
                .collect();
            if in_phase.is_empty() {
                continue;
            }
            let _ = write!(
                body,
                "<section class=\"card\"><h2>{}</h2><div class=\"scroll\"><table class=\"steps\">",
                esc(phase.as_str())
            );
            let gates = &state
                .engine
                .registries()
                .for_runbook(runbook.id.as_str())
                .gates;
            for (view, step) in in_phase {
                let buttons = match (&csrf, incident.state.is_active()) {
                    // Only a responder on an active incident has a buttons column at all.
                    (Some(csrf), true) => format!(
                        "<td class=\"buttons\">{}</td>",
                        step_buttons(&id, view, &step.kind, csrf)
                    ),
                    _ => String::new(),
                };
                let _ = write!(
                    body,
                    "<tr id=\"step-{}\"><td class=\"step\"><b>{}</b><br><span class=\"muted\">{}</span></td><td>{}</td><td class=\"result\">{}</td>{}</tr>",
                    esc(&view.id),
                    esc(&view.title),
                    esc(&view.id),
                    badge(
                        &format!("group-{:?}", view.group).to_lowercase(),
                        view.group.heading()
                    ),
                    esc(view.result.as_deref().unwrap_or("")),
                    buttons
                );
                // The series behind a gate, as a chart with its threshold and window.
                if let warden_runbook::StepKind::Gate(gate) = &step.kind
                    && let Some(evaluator) = gates.get(&gate.check)
                    && let Ok(Ok(Some(series))) = tokio::time::timeout(
                        Duration::from_secs(3),
                        evaluator.series(&incident, gate),
                    )
                    .await
                {
                    let _ = write!(
                        body,
                        "<tr class=\"chart-row\"><td colspan=\"4\">{}</td></tr>",
                        super::chart::svg(&series)
                    );
                }
            }
            body.push_str("</table></div></section>");
        }
    }

    body.push_str("<section class=\"card\"><h2>Evidence</h2>");
    if incident.evidence.is_empty() {
        body.push_str("<p class=\"muted\">Nothing captured yet.</p>");
    } else {
        body.push_str("<div class=\"scroll\"><table><tr><th>name</th><th>source</th><th>captured</th><th>size</th></tr>");
        for evidence in &incident.evidence {
            let _ = write!(
                body,
                "<tr><td><a href=\"/ui/incidents/{}/evidence/{}\">{}</a></td><td>{}</td><td>{}</td><td>{} bytes{}</td></tr>",
                url_part(&id),
                evidence.hash.as_str(),
                esc(&evidence.name),
                esc(&evidence.source),
                time(&evidence.captured_at),
                evidence.size_bytes,
                if evidence.truncated {
                    " (truncated)"
                } else {
                    ""
                }
            );
        }
        body.push_str("</table></div>");
    }
    body.push_str("</section><section class=\"card\"><h2>Timeline</h2><ol class=\"timeline\">");
    for event in incident.timeline.iter().rev() {
        let who = match &event.actor {
            warden_core::Actor::System => "warden".to_string(),
            warden_core::Actor::User(name) => name.clone(),
        };
        let _ = write!(
            body,
            "<li><span class=\"muted\">{}</span> <b>{}</b> {}</li>",
            time(&event.at),
            esc(&who),
            esc(&event.message)
        );
    }
    body.push_str("</ol></section>");
    html::page(
        StatusCode::OK,
        &incident.id.0,
        &caller.viewer(&state),
        Some(&format!("/ui/events?incident={}", url_part(&id))),
        &body,
    )
}

/// The lines a failure classifier decided on, from the incident's JSON evidence.
fn deciding_lines(state: &AppState, incident: &Incident) -> BTreeSet<String> {
    let mut lines = BTreeSet::new();
    let Some(store) = state.engine.evidence_store() else {
        return lines;
    };
    for evidence in incident
        .evidence
        .iter()
        .filter(|e| e.media_type == "application/json")
    {
        let Ok(bytes) = store.get(&evidence.hash) else {
            continue;
        };
        let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        if let Some(found) = value["classification"]["evidence"].as_array() {
            lines.extend(
                found
                    .iter()
                    .filter_map(|l| l["text"].as_str())
                    .map(str::to_string),
            );
        }
    }
    lines
}

fn text_block(text: &str, deciding: &BTreeSet<String>) -> String {
    let mut out = String::from("<pre class=\"log\">");
    for line in text.lines() {
        let hit = !line.trim().is_empty()
            && deciding
                .iter()
                .any(|d| !d.is_empty() && line.contains(d.as_str()));
        if hit {
            let _ = writeln!(
                out,
                "<mark title=\"a line the classifier decided on\">{}</mark>",
                esc(line)
            );
        } else {
            let _ = writeln!(out, "{}", esc(line));
        }
    }
    out.push_str("</pre>");
    out
}

/// JSON as tables: objects as key/value rows, arrays of objects as one table, long text as a
/// log block.
fn json_html(value: &Value, depth: usize, deciding: &BTreeSet<String>) -> String {
    if depth > 6 {
        return format!("<code>{}</code>", esc(&value.to_string()));
    }
    match value {
        Value::Object(map) => {
            let mut out = String::from("<table class=\"kv\">");
            for (key, value) in map {
                let _ = write!(
                    out,
                    "<tr><th>{}</th><td>{}</td></tr>",
                    esc(key),
                    json_html(value, depth + 1, deciding)
                );
            }
            out.push_str("</table>");
            out
        }
        Value::Array(items) if items.is_empty() => "<span class=\"muted\">none</span>".into(),
        Value::Array(items) if items.iter().all(Value::is_object) && items.len() <= 500 => {
            let mut keys: Vec<&String> = Vec::new();
            for item in items {
                for key in item.as_object().into_iter().flat_map(|m| m.keys()) {
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
            }
            let mut out = String::from("<div class=\"scroll\"><table><tr>");
            for key in &keys {
                let _ = write!(out, "<th>{}</th>", esc(key));
            }
            out.push_str("</tr>");
            for item in items {
                out.push_str("<tr>");
                for key in &keys {
                    let _ = write!(
                        out,
                        "<td>{}</td>",
                        json_html(&item[key.as_str()], depth + 1, deciding)
                    );
                }
                out.push_str("</tr>");
            }
            out.push_str("</table></div>");
            out
        }
        Value::Array(items) => {
            let mut out = String::from("<ul class=\"plain\">");
            for item in items.iter().take(1000) {
                let _ = write!(out, "<li>{}</li>", json_html(item, depth + 1, deciding));
            }
            out.push_str("</ul>");
            out
        }
        Value::String(text) if text.contains('\n') => text_block(text, deciding),
        Value::String(text) => esc(text),
        Value::Null => "<span class=\"muted\">—</span>".into(),
        other => esc(&other.to_string()),
    }
}

/// `GET /ui/incidents/{id}/evidence/{hash}`: an artifact rendered by its kind.
pub async fn evidence(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, hash)): Path<(String, String)>,
) -> Response {
    let caller = match caller(&state, &headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let incident = match state
        .manager()
        .store()
        .get_incident(&IncidentId(id.clone()))
        .await
    {
        Ok(Some(incident)) => incident,
        Ok(None) => {
            return message(
                &state,
                &caller,
                StatusCode::NOT_FOUND,
                "No such incident",
                &id,
            );
        }
        Err(error) => return unavailable(&state, &caller, error),
    };
    // Only this incident's evidence, by its content address: nothing else can be named.
    let Some(evidence) = incident.evidence.iter().find(|e| e.hash.as_str() == hash) else {
        return message(
            &state,
            &caller,
            StatusCode::NOT_FOUND,
            "No such evidence",
            "This incident captured nothing with that hash.",
        );
    };
    let bytes = match state
        .engine
        .evidence_store()
        .map(|store| store.get(&evidence.hash))
    {
        Some(Ok(bytes)) => bytes,
        Some(Err(error)) => return unavailable(&state, &caller, error),
        None => {
            return message(
                &state,
                &caller,
                StatusCode::NOT_FOUND,
                "No evidence store",
                "This process keeps no evidence.",
            );
        }
    };
    let raw = format!(
        "/api/v1/incidents/{}/evidence/{}",
        url_part(&id),
        evidence.hash.as_str()
    );
    let mut body = format!(
        "<p><a href=\"/ui/incidents/{}\">← {}</a></p><section class=\"card\"><h1>{}</h1>\
         <p class=\"muted\">{} · {} · {} bytes · sha256 <code>{}</code> · <a href=\"{raw}\" download=\"{}\">download</a></p>",
        url_part(&id),
        esc(&id),
        esc(&evidence.name),
        esc(&evidence.source),
        time(&evidence.captured_at),
        evidence.size_bytes,
        evidence.hash.as_str(),
        esc(&evidence.name)
    );
    let shown = &bytes[..bytes.len().min(RENDER_LIMIT)];
    if evidence.media_type.starts_with("text/html") {
        // The drift report inline, in a sandbox: its scripts and links cannot reach the console.
        let _ = write!(
            body,
            "<iframe class=\"report\" sandbox=\"\" src=\"{raw}\" title=\"{}\"></iframe>",
            esc(&evidence.name)
        );
    } else if evidence.media_type == "application/json" {
        match serde_json::from_slice::<Value>(shown) {
            Ok(value) => body.push_str(&json_html(&value, 0, &deciding_lines(&state, &incident))),
            Err(_) => body.push_str(&text_block(
                &String::from_utf8_lossy(shown),
                &BTreeSet::new(),
            )),
        }
    } else if evidence.media_type == "text/markdown" {
        body.push_str(&format!(
            "<article class=\"markdown\">{}</article>",
            markdown::render(&String::from_utf8_lossy(shown))
        ));
    } else {
        body.push_str(&text_block(
            &String::from_utf8_lossy(shown),
            &deciding_lines(&state, &incident),
        ));
    }
    if bytes.len() > RENDER_LIMIT {
        let _ = write!(
            body,
            "<p class=\"muted\">Showing the first {RENDER_LIMIT} bytes; download the rest.</p>"
        );
    }
    body.push_str("</section>");
    html::page(
        StatusCode::OK,
        &evidence.name,
        &caller.viewer(&state),
        None,
        &body,
    )
}

/// `GET /ui/incidents/{id}/postmortem`.
pub async fn postmortem(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let caller = match caller(&state, &headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let markdown = match crate::api::postmortem_of(&state, &id).await {
        Ok(markdown) => markdown,
        Err(error) => {
            return message(
                &state,
                &caller,
                StatusCode::NOT_FOUND,
                "No post-mortem",
                &error,
            );
        }
    };
    html::page(
        StatusCode::OK,
        &format!("Post-mortem {id}"),
        &caller.viewer(&state),
        Some(&format!("/ui/events?incident={}", url_part(&id))),
        &format!(
            "<p><a href=\"/ui/incidents/{0}\">← {1}</a> · <a href=\"/api/v1/incidents/{0}/postmortem\" download=\"{1}.md\">download Markdown</a></p><article class=\"card markdown\">{2}</article>",
            url_part(&id),
            esc(&id),
            markdown::render(&markdown)
        ),
    )
}

/// `GET /ui/runbooks`.
pub async fn runbooks(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let caller = match caller(&state, &headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let mut body = String::from(
        "<h1>Runbooks</h1><div class=\"scroll\"><table><tr><th>id</th><th>severity</th><th>steps</th><th>done by Warden here</th><th>title</th></tr>",
    );
    for runbook in state.runbooks() {
        let automated = runbook
            .steps
            .iter()
            .filter(|s| status(&state, runbook, s).0)
            .count();
        let _ = write!(
            body,
            "<tr><td><a href=\"/ui/runbooks/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            url_part(runbook.id.as_str()),
            esc(runbook.id.as_str()),
            badge(
                &format!("sev-{}", runbook.severity.as_str()),
                runbook.severity.as_str()
            ),
            runbook.steps.len(),
            automated,
            esc(&runbook.title)
        );
    }
    body.push_str("</table></div>");
    html::page(
        StatusCode::OK,
        "Runbooks",
        &caller.viewer(&state),
        None,
        &body,
    )
}

/// Whether Warden does `step` under this configuration, and the phrase that says who does.
pub fn status(state: &AppState, runbook: &Runbook, step: &warden_runbook::Step) -> (bool, String) {
    let (kind, name) = match &step.kind {
        StepKind::Action { name } => (EntryKind::Action, name.as_str()),
        StepKind::Evidence { name } => (EntryKind::Evidence, name.as_str()),
        StepKind::Cause { name, .. } => (EntryKind::Cause, name.as_str()),
        StepKind::Gate(gate) => (EntryKind::Gate, gate.check.as_str()),
        StepKind::Manual => return (false, "by hand".into()),
    };
    let registries = state.engine.registries();
    if registries.for_runbook(runbook.id.as_str()).has(kind, name) {
        return (true, format!("warden ({kind} {name})"));
    }
    match registries.need(runbook.id.as_str(), kind, name) {
        Some(need) => (false, format!("{kind} {name} {need}")),
        None => (
            false,
            format!("{kind} {name}: not automated yet, done by hand"),
        ),
    }
}

/// `GET /ui/runbooks/{id}`.
pub async fn runbook(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let caller = match caller(&state, &headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let Some(runbook) = state.runbooks().iter().find(|r| r.id.as_str() == id) else {
        return message(
            &state,
            &caller,
            StatusCode::NOT_FOUND,
            "No such runbook",
            &id,
        );
    };
    let mut body = format!(
        "<p><a href=\"/ui/runbooks\">← runbooks</a></p><h1>{}</h1><p class=\"muted\">{} · {}</p>",
        esc(&runbook.title),
        esc(runbook.id.as_str()),
        esc(&runbook.symptoms)
    );
    for phase in Phase::ALL {
        let steps: Vec<&warden_runbook::Step> = runbook.phase(phase).collect();
        if steps.is_empty() {
            continue;
        }
        let _ = write!(
            body,
            "<section class=\"card\"><h2>{}</h2><table class=\"steps\">",
            esc(phase.as_str())
        );
        for step in steps {
            let (automated, phrase) = status(&state, runbook, step);
            let _ = write!(
                body,
                "<tr><td><b>{}</b><br><span class=\"muted\">{}</span></td><td>{}</td><td class=\"result\">{}</td></tr>",
                esc(&step.title),
                esc(&step.id),
                if automated {
                    badge("group-done", "warden")
                } else {
                    badge("group-waitingforperson", "a person")
                },
                esc(&phrase)
            );
        }
        body.push_str("</table></section>");
    }
    html::page(
        StatusCode::OK,
        &runbook.title,
        &caller.viewer(&state),
        None,
        &body,
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct EventsQuery {
    incident: Option<String>,
}

/// What a page shows changed: an incident's revision, or the newest change among all.
async fn fingerprint(state: &AppState, incident: Option<&str>) -> String {
    let store = state.manager().store();
    match incident {
        Some(id) => store
            .get_incident(&IncidentId(id.to_string()))
            .await
            .ok()
            .flatten()
            .map_or_else(String::new, |i| format!("{}:{}", i.revision, i.updated_at)),
        None => store
            .list_incidents(&IncidentFilter {
                states: Vec::new(),
                active_only: false,
                limit: 1,
            })
            .await
            .ok()
            .and_then(|list| list.into_iter().next())
            .map_or_else(String::new, |i| {
                format!("{}:{}:{}", i.id, i.revision, i.updated_at)
            }),
    }
}

/// `GET /ui/events`: a `changed` event whenever what the page shows changed (checked every
/// second), so the page refreshes itself without a reload.
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> Response {
    if let Err(response) = caller(&state, &headers) {
        return *response;
    }
    let stream = futures_stream(state, query.incident);
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn futures_stream(
    state: AppState,
    incident: Option<String>,
) -> impl futures_util::Stream<Item = Result<Event, Infallible>> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(4);
    tokio::spawn(async move {
        let mut last = fingerprint(&state, incident.as_deref()).await;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = fingerprint(&state, incident.as_deref()).await;
            if now != last {
                last = now;
                if sender
                    .send(Ok(Event::default().event("changed").data("1")))
                    .await
                    .is_err()
                {
                    return;
                }
            } else if sender.is_closed() {
                return;
            }
        }
    });
    tokio_stream_from(receiver)
}

/// A receiver as a stream.
fn tokio_stream_from<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}
