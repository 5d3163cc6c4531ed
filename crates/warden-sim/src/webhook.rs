//! A simulated webhook endpoint (a retraining trigger's, say): it answers every `POST` with
//! `200 {"ok": true}` and keeps each JSON body it received, so a scenario can tell what Warden
//! asked of it (stop retraining, start it again, retrain now).

use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::StartError;

/// The endpoint, shared between its server and the scenario.
#[derive(Debug, Clone)]
pub struct WebhookSim {
    url: String,
    received: Arc<Mutex<Vec<Value>>>,
}

impl WebhookSim {
    /// Starts the endpoint on loopback, on `port` when it is free.
    ///
    /// # Errors
    /// No port to bind.
    pub async fn start(port: Option<u16>) -> Result<Self, StartError> {
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(answer).with_state(received.clone());
        let url = crate::serve(app, port).await?;
        Ok(Self { url, received })
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every body received, oldest first.
    pub fn received(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn answer(
    State(received): State<Arc<Mutex<Vec<Value>>>>,
    method: Method,
    body: axum::body::Bytes,
) -> Response {
    if method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, "POST only\n").into_response();
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "not JSON"}))).into_response();
    };
    received
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(body);
    Json(json!({"ok": true})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn posts_are_kept_and_answered() {
        let hook = WebhookSim::start(None).await.unwrap();
        let client = reqwest::Client::new();
        let ok = client
            .post(hook.url())
            .json(&json!({"monitor": "m", "enabled": false}))
            .send()
            .await
            .unwrap();
        assert!(ok.status().is_success());
        let bad = client.post(hook.url()).body("x").send().await.unwrap();
        assert_eq!(bad.status(), 400);
        assert_eq!(hook.received(), [json!({"monitor": "m", "enabled": false})]);
    }
}
