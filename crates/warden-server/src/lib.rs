//! Warden's HTTP API (R6.7, R6.8): incidents and runbooks for people and scripts, the
//! Alertmanager webhook for alerts, `/healthz` and `/metrics` for the platform.
//!
//! - `GET /healthz`, `GET /metrics` — open.
//! - `GET /api/v1/incidents`, `GET /api/v1/incidents/{id}`, `GET /api/v1/runbooks` — viewer.
//! - `POST /api/v1/incidents/{id}/ack|resolve`,
//!   `POST /api/v1/incidents/{id}/steps/{step}/approve|reject|complete` — responder.
//! - `POST /api/v1/alerts/alertmanager` — the webhook's shared secret.
//! - `/ui…` — the console ([`console`]): pages for people, signed in with a token-backed
//!   session cookie.
//!
//! Tokens are bearer tokens from `server.tokens`; with none configured the API is read-only
//! (viewer for everyone, mutations refused), which is the safe default of a loopback listener.

mod api;
mod auth;
pub mod console;
mod error;
pub mod leader;
mod metrics;
pub mod schedule;

use std::sync::Arc;

use warden_config::{Role, Secret};
use warden_core::Clock;
use warden_engine::{Engine, IncidentManager};
use warden_runbook::Runbook;
use warden_store::Store;

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

/// Counts every step that fails for good in `/metrics` and, for a daemon printing text, says
/// it on stderr (escaped: the error may carry a remote system's text).
pub struct FailureLog {
    metrics: Arc<Metrics>,
    verbose: bool,
}

impl FailureLog {
    /// Counting into `metrics`; printing when `verbose`.
    pub fn new(metrics: Arc<Metrics>, verbose: bool) -> Self {
        Self { metrics, verbose }
    }
}

impl warden_engine::StepFailureSink for FailureLog {
    fn step_failed<'a>(
        &'a self,
        incident: &'a warden_core::Incident,
        step: &'a str,
        error: &'a str,
    ) -> warden_engine::executor::BoxFuture<'a, ()> {
        Box::pin(async move {
            self.metrics.steps_failed(1);
            if self.verbose {
                eprintln!(
                    "warden: {} step {step} FAILED: {} (warden incidents retry {} {step})",
                    incident.id,
                    warden_core::text::terminal_safe(error),
                    incident.id
                );
            }
        })
    }
}

/// The engine the daemon runs on.
pub type DaemonEngine = Engine<Store, Arc<dyn Clock>>;

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The engine: incident manager, runbooks and their registries.
    pub engine: Arc<DaemonEngine>,
    /// API tokens.
    pub tokens: Arc<Vec<Token>>,
    /// The bearer token Alertmanager's webhook must present; `None` refuses the webhook.
    pub webhook_secret: Option<Secret>,
    /// Warden's own counters.
    pub metrics: Arc<Metrics>,
    /// The console's signed-in sessions.
    pub sessions: Arc<console::session::Sessions>,
    /// Where incidents to advance go when the daemon runs a work loop ([`AppState::with_work_queue`]):
    /// the webhook answers once alerts are recorded, and the loop acts.
    work: Option<tokio::sync::mpsc::UnboundedSender<warden_core::IncidentId>>,
}

impl AppState {
    /// The state of a daemon (or demo) serving `engine`.
    pub fn new(
        engine: Arc<DaemonEngine>,
        tokens: Vec<Token>,
        webhook_secret: Option<Secret>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            engine,
            tokens: Arc::new(tokens),
            webhook_secret,
            metrics,
            sessions: Arc::default(),
            work: None,
        }
    }

    /// The same state handing incidents to advance to `work` (the daemon's work loop, which
    /// calls [`AppState::advance_now`]) instead of advancing them inline.
    #[must_use]
    pub fn with_work_queue(
        mut self,
        work: tokio::sync::mpsc::UnboundedSender<warden_core::IncidentId>,
    ) -> Self {
        self.work = Some(work);
        self
    }

    /// The incident manager.
    pub fn manager(&self) -> &IncidentManager<Store, Arc<dyn Clock>> {
        self.engine.manager()
    }

    /// The runbooks in effect.
    pub fn runbooks(&self) -> &[Runbook] {
        self.engine.runbooks()
    }

    /// Whether this replica acts: it leads, or it shares its store with no other replica.
    pub fn leads(&self) -> bool {
        self.engine
            .leadership()
            .is_none_or(|leadership| leadership.leads())
    }

    /// Has an incident advanced: handed to the work loop when there is one, else at once.
    ///
    /// # Errors
    /// Store failures (inline only).
    pub async fn advance(
        &self,
        id: &warden_core::IncidentId,
    ) -> Result<(), warden_engine::EngineError> {
        if let Some(work) = &self.work
            && work.send(id.clone()).is_ok()
        {
            return Ok(());
        }
        self.advance_now(id).await
    }

    /// Advances an incident's runbook as far as it can go now; an incident whose runbook was
    /// taken out of effect stays as it is. A follower replica leaves it to the leader.
    ///
    /// # Errors
    /// Store failures.
    pub async fn advance_now(
        &self,
        id: &warden_core::IncidentId,
    ) -> Result<(), warden_engine::EngineError> {
        if !self.leads() {
            return Ok(());
        }
        match self.engine.advance(id).await {
            Ok(_) | Err(warden_engine::EngineError::RunbookNotInEffect { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }
}
