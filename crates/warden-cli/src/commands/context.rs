//! What the incident commands share: the engine — the opened store (schema migrated), the
//! runbooks in effect and every runbook module's registries, assembled exactly as `warden up`
//! assembles them — on the wall clock, so a step completed here is judged, collected and
//! gated as the daemon would.

use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use warden_config::Config;
use warden_core::SystemClock;
use warden_engine::executor::Mode;
use warden_engine::{Engine, EngineError, IncidentManager};
use warden_runbook::Runbook;
use warden_store::Store;

use crate::exit::Failure;

/// Everything a command that reads or changes incidents needs.
pub struct Context {
    /// The engine over the configured store.
    pub engine: Engine<Store, SystemClock>,
}

impl Context {
    /// The incident manager.
    pub fn manager(&self) -> &IncidentManager<Store, SystemClock> {
        self.engine.manager()
    }
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

/// Loads the configuration at `path`, assembles the runbook modules and opens the store.
pub async fn open(path: &Path) -> Result<Context, Failure> {
    let config = warden_config::load(path).map_err(Failure::input)?;
    let runbooks = runbooks_for(Some(&config))?;
    let assembly = warden_runbooks::assemble(&config, &runbooks).map_err(Failure::input)?;
    let store = Store::open(&config.store).await.map_err(Failure::runtime)?;
    // A daemon that holds the leader lease carries out what a command unblocks: the command
    // records decisions and leaves the actions to it, so one process acts at a time.
    let leader = store
        .lease(warden_store::lease::LEADER)
        .await
        .map_err(Failure::runtime)?
        .filter(|lease| lease.expires_at > chrono::Utc::now());
    let manager = Arc::new(IncidentManager::new(store, SystemClock));
    let (engine, _detectors) = assembly.into_engine(manager, runbooks, Mode::Live);
    let engine = match leader {
        Some(lease) => {
            eprintln!(
                "warden: {} leads this store (warden up): it carries out the actions this unblocks",
                warden_core::text::terminal_safe(&lease.holder)
            );
            engine.with_leadership(Arc::new(warden_engine::Leadership::default()))
        }
        None => engine,
    };
    Ok(Context { engine })
}

/// The exit code an engine error means: a missing incident or step, or a refused lifecycle
/// change, is the user's input; anything else is a runtime failure.
pub fn engine_failure(error: EngineError) -> Failure {
    match error {
        EngineError::NotFound(_)
        | EngineError::UnknownStep { .. }
        | EngineError::RunbookNotInEffect { .. }
        | EngineError::Refused { .. }
        | EngineError::Transition(_)
        | EngineError::BadOutcome { .. } => Failure::input(error),
        EngineError::Store(_) | EngineError::Contended(_) => Failure::runtime(error),
    }
}
