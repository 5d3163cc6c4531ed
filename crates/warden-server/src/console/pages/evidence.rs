//! Evidence rendered by kind (logs with the deciding lines marked, JSON as tables, HTML
//! reports sandboxed) and the post-mortem page.

use super::*;

/// The lines a failure classifier decided on, from the incident's JSON evidence.
pub(super) fn deciding_lines(state: &AppState, incident: &Incident) -> BTreeSet<String> {
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

pub(super) fn text_block(text: &str, deciding: &BTreeSet<String>) -> String {
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
pub(super) fn json_html(value: &Value, depth: usize, deciding: &BTreeSet<String>) -> String {
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
