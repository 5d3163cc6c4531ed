//! `GET /ui/incidents/{id}`: one incident — its alert, its steps by phase with who decided
//! and why, the buttons its caller may press, the timeline and the evidence.

use super::*;

/// What the last form post said, carried in the redirect's query.
#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    notice: Option<String>,
    error: Option<String>,
}

pub(super) fn step_buttons(id: &str, step: &StepView, kind: &StepKind, csrf: &str) -> String {
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

pub(super) fn alert_block(incident: &Incident) -> String {
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
                        crate::console::chart::svg(&series)
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
        let who = event.actor.name();
        let _ = write!(
            body,
            "<li><span class=\"muted\">{}</span> <b>{}</b> {}</li>",
            time(&event.at),
            esc(who),
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
