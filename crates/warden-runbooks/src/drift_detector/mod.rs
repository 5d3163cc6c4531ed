//! Runbook 3 ("Drift detector false positives / negatives") as a module. It registers nothing
//! yet: the drift engine runs as commands (`warden drift`, `drift profile`, `drift backtest`),
//! but no detector, collector, judge, action or gate of runbook 3 runs in the daemon, so every
//! step of its incidents waits for a responder and `warden runbooks list` says so.

use warden_config::Config;
use warden_engine::detect::Detector;
use warden_engine::registry::Registrar;

use crate::{AssemblyError, RunbookModule};

/// The built-in runbook drift-detector incidents open.
pub const RUNBOOK: &str = "drift-detector";

/// Runbook 3's module.
pub struct Module;

impl RunbookModule for Module {
    fn runbook(&self) -> &'static str {
        RUNBOOK
    }

    fn assemble(
        &self,
        _config: &Config,
        _registrar: &mut Registrar<'_>,
    ) -> Result<Vec<Box<dyn Detector>>, AssemblyError> {
        Ok(Vec::new())
    }
}
