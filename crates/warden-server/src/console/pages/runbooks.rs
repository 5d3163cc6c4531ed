//! `GET /ui/runbooks[/{id}]`: the runbooks, and who does each step under this configuration.

use super::*;

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
