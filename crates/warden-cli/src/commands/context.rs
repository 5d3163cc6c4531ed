//! What the incident commands share: the opened store (schema migrated), the runbooks in
//! effect, and an incident manager on the wall clock.

use std::path::Path;

use anyhow::anyhow;
use warden_config::Config;
use warden_core::SystemClock;
use warden_engine::executor::ActionRegistry;
use warden_engine::{EngineError, IncidentManager};
use warden_runbook::Runbook;
use warden_store::Store;

use crate::exit::Failure;

/// Everything a command that reads or changes incidents needs.
pub struct Context {
    /// The runbooks in effect.
    pub runbooks: Vec<Runbook>,
    /// The incident manager over the configured store.
    pub manager: IncidentManager<Store, SystemClock>,
    /// Handlers of automated actions (`notify` today); other action steps wait for a
    /// responder.
    pub actions: ActionRegistry,
}

/// The runbooks in effect: built-ins, adjusted by a configuration's `runbooks:` section.
pub fn runbooks_for(config: Option<&Config>) -> Result<Vec<Runbook>, Failure> {
    let (paths, disabled) = match config {
        Some(config) => (
            config.runbooks.paths.as_slice(),
            config.runbooks.disabled.as_slice(),
        ),
        None => (&[][..], &[][..]),
    };
    warden_runbook::builtin::load_all(paths, disabled).map_err(|errors| {
        Failure::input(anyhow!(
            "{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ))
    })
}

/// Loads the configuration at `path`, opens its store and the runbooks.
pub async fn open(path: &Path) -> Result<Context, Failure> {
    let config = warden_config::load(path).map_err(Failure::input)?;
    let runbooks = runbooks_for(Some(&config))?;
    let store = Store::open(&config.store).await.map_err(Failure::runtime)?;
    Ok(Context {
        runbooks,
        manager: IncidentManager::new(store, SystemClock),
        actions: crate::actions::registry(&config),
    })
}

/// The exit code an engine error means: a missing incident or step, or a refused lifecycle
/// change, is the user's input; anything else is a runtime failure.
pub fn engine_failure(error: EngineError) -> Failure {
    match error {
        EngineError::NotFound(_)
        | EngineError::UnknownStep { .. }
        | EngineError::Transition(_)
        | EngineError::BadOutcome { .. } => Failure::input(error),
        EngineError::Store(_) | EngineError::Contended(_) => Failure::runtime(error),
    }
}
