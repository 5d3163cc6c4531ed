//! Warden's HTTP API (R6.7, R6.8): incidents and runbooks for people and scripts, the
//! Alertmanager webhook for alerts, `/healthz` and `/metrics` for the platform.
//!
//! - `GET /healthz`, `GET /metrics` — open.
//! - `GET /api/v1/incidents`, `GET /api/v1/incidents/{id}`, `GET /api/v1/runbooks` — viewer.
//! - `POST /api/v1/incidents/{id}/ack|resolve`,
//!   `POST /api/v1/incidents/{id}/steps/{step}/approve|reject|complete` — responder.
//! - `POST /api/v1/alerts/alertmanager` — the webhook's shared secret.
//!
//! Tokens are bearer tokens from `server.tokens`; with none configured the API is read-only
//! (viewer for everyone, mutations refused), which is the safe default of a loopback listener.

mod api;
mod auth;
mod error;
mod metrics;

use std::sync::Arc;

use warden_config::{Role, Secret};
use warden_core::Clock;
use warden_engine::IncidentManager;
use warden_engine::executor::{ActionRegistry, CollectorRegistry, Executor, GateEvaluator, Mode};
use warden_engine::judge::JudgeRegistry;
use warden_runbook::Runbook;
use warden_store::{EvidenceStore, IncidentStore, Store};

pub use api::router;
pub use metrics::Metrics;

/// A resolved API token.
#[derive(Debug, Clone)]
pub struct Token {
    /// Who holds it (the actor recorded for what they do).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The value a request must present.
    pub secret: Secret,
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The incident manager.
    pub manager: Arc<IncidentManager<Store, Arc<dyn Clock>>>,
    /// The runbooks in effect.
    pub runbooks: Arc<Vec<Runbook>>,
    /// API tokens.
    pub tokens: Arc<Vec<Token>>,
    /// The bearer token Alertmanager's webhook must present; `None` refuses the webhook.
    pub webhook_secret: Option<Secret>,
    /// Warden's own counters.
    pub metrics: Arc<Metrics>,
    /// Handlers of automated actions (empty until the runbook issues add them).
    pub actions: Arc<ActionRegistry>,
    /// Whether actions execute or only record their plans.
    pub mode: Mode,
    /// Judges closure gates from data, where it has a source for them.
    pub gates: Option<Arc<dyn GateEvaluator>>,
    /// Collectors of automated evidence steps, and where their artifacts go (`None`: evidence
    /// steps wait for a responder).
    pub evidence: Option<(Arc<CollectorRegistry>, Arc<EvidenceStore>)>,
    /// Judges of cause steps, by cause name (empty: causes wait for a responder).
    pub judges: Arc<JudgeRegistry>,
}

impl AppState {
    /// Advances an incident's runbook as far as it can go now.
    ///
    /// # Errors
    /// Store failures.
    pub async fn advance(
        &self,
        id: &warden_core::IncidentId,
    ) -> Result<(), warden_engine::EngineError> {
        self.advance_as(id, false).await
    }

    /// Like [`Self::advance`], re-executing actions a previous process left in flight; only
    /// for the start of the one process that acts (see `Executor::recovering`).
    ///
    /// # Errors
    /// Store failures.
    pub async fn recover(
        &self,
        id: &warden_core::IncidentId,
    ) -> Result<(), warden_engine::EngineError> {
        self.advance_as(id, true).await
    }

    async fn advance_as(
        &self,
        id: &warden_core::IncidentId,
        recovering: bool,
    ) -> Result<(), warden_engine::EngineError> {
        let Some(incident) = self.manager.store().get_incident(id).await? else {
            return Ok(());
        };
        if let Some(runbook) = self
            .runbooks
            .iter()
            .find(|runbook| runbook.id == incident.runbook)
        {
            let mut executor = Executor::new(&self.manager, &self.actions, self.mode);
            if recovering {
                executor = executor.recovering();
            }
            if let Some(gates) = &self.gates {
                executor = executor.with_gates(gates.as_ref());
            }
            if let Some((collectors, store)) = &self.evidence {
                executor = executor.with_evidence(collectors, store);
            }
            executor = executor.with_judges(&self.judges);
            executor.advance(id, runbook).await?;
        }
        Ok(())
    }
}
