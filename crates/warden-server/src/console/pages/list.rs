//! `GET /ui`: the incident list — counts per state, what waits on a person and what failed
//! across incidents, filters and search.

use super::*;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    runbook: Option<String>,
    severity: Option<String>,
    target: Option<String>,
    q: Option<String>,
    /// What the last review decision did (the redirect after a form post).
    notice: Option<String>,
    /// Why it was refused.
    error: Option<String>,
}

pub(super) fn unavailable(
    state: &AppState,
    caller: &Caller,
    error: impl std::fmt::Display,
) -> Response {
    message(
        state,
        caller,
        StatusCode::SERVICE_UNAVAILABLE,
        "Store unavailable",
        &error.to_string(),
    )
}

pub(super) fn select(name: &str, label: &str, current: Option<&str>, options: &[&str]) -> String {
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

pub(super) fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

pub(super) fn matches(incident: &Incident, query: &ListQuery) -> bool {
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
pub(super) async fn views(
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
    let mut body = String::from("<h1>Incidents</h1>");
    if let Some(text) = &query.notice {
        let _ = write!(body, "<p class=\"notice\">{}</p>", esc(text));
    }
    if let Some(text) = &query.error {
        let _ = write!(body, "<p class=\"error\" role=\"alert\">{}</p>", esc(text));
    }
    body.push_str("<div class=\"counts\">");
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

    body.push_str(&reviews_card(&state, &caller).await);

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
pub(super) struct Panel {
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

/// The reviews that wait for a yes or no (runbook 3: a drift alert that would start
/// retraining), with the buttons a responder may press; nothing when no module keeps reviews.
async fn reviews_card(state: &AppState, caller: &Caller) -> String {
    let registries = state.engine.registries();
    if !registries.has_reviews() {
        return String::new();
    }
    let reviews = match registries.reviews().await {
        Ok(reviews) => reviews,
        Err(error) => {
            return format!(
                "<section class=\"card\"><h2>Reviews</h2><p class=\"error\">{}</p></section>",
                esc(&error.to_string())
            );
        }
    };
    let pending: Vec<_> = reviews
        .iter()
        .filter(|r| r.state == warden_engine::review::ReviewState::Pending)
        .collect();
    let mut card = format!(
        "<section class=\"card reviews\"><h2>Reviews waiting for a yes or no <span class=\"muted\">{}</span></h2>",
        pending.len()
    );
    if pending.is_empty() {
        card.push_str("<p class=\"muted\">No review waits.</p>");
    }
    for review in pending {
        let _ = write!(
            card,
            "<div class=\"review\" id=\"review-{}\"><p><strong>{}</strong> {} <span class=\"muted\">{} alert(s), opened {}</span></p>",
            esc(&review.id),
            esc(&review.id),
            esc(&review.summary),
            review.detail["alerts"].as_u64().unwrap_or(1),
            time(&review.opened_at)
        );
        if let Some(csrf) = caller.csrf_if_responder() {
            let action = |verb: &str| format!("/ui/reviews/{}/{verb}", url_part(&review.id));
            let reason = "<input name=\"reason\" placeholder=\"why\" required>";
            card.push_str(&button_form(
                &action("approve"),
                csrf,
                "Yes: start it",
                "primary",
                reason,
            ));
            card.push_str(&button_form(&action("reject"), csrf, "No", "", reason));
        }
        card.push_str("</div>");
    }
    card.push_str("</section>");
    card
}
