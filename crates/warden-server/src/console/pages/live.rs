//! `GET /ui/events`: the server-sent event stream that keeps a page live.

use super::*;

#[derive(Debug, Default, Deserialize)]
pub struct EventsQuery {
    incident: Option<String>,
}

/// What a page shows changed: an incident's revision, or the newest change among all.
pub(super) async fn fingerprint(state: &AppState, incident: Option<&str>) -> String {
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

pub(super) fn futures_stream(
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
pub(super) fn tokio_stream_from<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}
