//! The fake cluster's answers for pipeline task pods: one pod by name (any pod tests put in
//! [`super::serving::Serving::pods`]) and secrets' metadata — the `PartialObjectMetadata` a
//! metadata-only read asks for, so no secret value exists here to leak. Missing objects are
//! `Status` 404s, as the real API server answers.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::{Shared, not_found};

async fn pod(State(cluster): State<Shared>, Path((_, name)): Path<(String, String)>) -> Response {
    let state = cluster.lock().unwrap();
    match state
        .serving
        .pods
        .iter()
        .find(|p| p["metadata"]["name"] == name.as_str())
    {
        Some(pod) => axum::Json(pod.clone()).into_response(),
        None => not_found(&format!("pods \"{name}\"")),
    }
}

async fn secret(
    State(cluster): State<Shared>,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let state = cluster.lock().unwrap();
    match state.secrets.get(&name) {
        Some(created) => axum::Json(json!({
            "apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created,
                         "resourceVersion": "77"}
        }))
        .into_response(),
        None => not_found(&format!("secrets \"{name}\"")),
    }
}

/// The pipeline routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/namespaces/{namespace}/pods/{name}", get(pod))
        .route("/api/v1/namespaces/{namespace}/secrets/{name}", get(secret))
}
