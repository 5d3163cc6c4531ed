//! What the router tests share: a state on a real SQLite store with an evidence store, and
//! a viewer's and a responder's tokens.

#![allow(clippy::unwrap_used, dead_code)] // helpers; not every test file uses every one

use std::sync::Arc;

use warden_config::{Role, Secret, StoreConfig};
use warden_core::{Clock, SystemClock};
use warden_engine::executor::Mode;
use warden_engine::registry::Registries;
use warden_engine::{Engine, EngineParts, IncidentManager};
use warden_server::{AppState, Metrics, Token};
use warden_store::{EvidenceStore, Store};

pub const FIRING: &str = include_str!("../data/alertmanager-webhook-payload.json");

pub async fn state(dir: &tempfile::TempDir, tokens: Vec<Token>) -> AppState {
    state_with(dir, tokens, Registries::new()).await
}

/// A state whose engine has `registries` (sealed here) and counts failed steps in its metrics.
pub async fn state_with(
    dir: &tempfile::TempDir,
    tokens: Vec<Token>,
    registries: Registries,
) -> AppState {
    let store = Store::open(&StoreConfig::Sqlite {
        path: dir.path().join("warden.db"),
    })
    .await
    .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let metrics = Arc::new(Metrics::default());
    let engine = Engine::new(EngineParts {
        manager: Arc::new(IncidentManager::new(store, clock)),
        runbooks: warden_runbook::builtin::all().unwrap(),
        registries: registries.sealed(),
        evidence: Some(Arc::new(EvidenceStore::new(
            dir.path().join("evidence"),
            warden_store::evidence::DEFAULT_MAX_BYTES,
        ))),
        mode: Mode::Live,
    })
    .with_failure_sink(Arc::new(warden_server::FailureLog::new(
        metrics.clone(),
        false,
    )));
    AppState::new(
        Arc::new(engine),
        tokens,
        Some(Secret::new("hook-secret")),
        metrics,
    )
}

pub fn tokens() -> Vec<Token> {
    vec![
        Token {
            name: "val".into(),
            role: Role::Viewer,
            secret: Secret::new("viewer-token"),
        },
        Token {
            name: "ana".into(),
            role: Role::Responder,
            secret: Secret::new("responder-token"),
        },
    ]
}
