//! The runbook modules and their one assembly.
//!
//! Each runbook of the spec is one folder of one shape — `detector`, `evidence`, `judges`,
//! `actions`, `gates`, `fixes` and a `mod.rs` whose `Module` implements [`RunbookModule`] —
//! and registers its implementations by catalogue name into the engine's registries. No
//! runbook module imports another; what two runbooks share (Kubernetes client set-up,
//! schedule pause/resume, Prometheus gates, model rollback, error mapping) is in [`common`].
//!
//! [`assemble`] turns a validated configuration into the filled registries and the scheduled
//! detectors; `warden up`, every `warden incidents …` command and `warden demo` build their
//! engine with it, so an incident is decided the same way wherever it is advanced.

pub mod common;
pub mod drift_detector;
pub mod feature_store;
pub mod model_regression;
pub mod pipeline_failure;
pub mod serving_latency;
pub mod status;

use std::sync::Arc;

use warden_config::Config;
use warden_core::Clock;
use warden_engine::detect::Detector;
use warden_engine::executor::Mode;
use warden_engine::registry::{DuplicateEntry, Registrar, Registries};
use warden_engine::{Engine, EngineParts, IncidentManager};
use warden_runbook::Runbook;
use warden_store::{EvidenceStore, IncidentStore};

/// Why the configuration cannot be assembled into a working engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssemblyError {
    /// Two implementations claimed one catalogue name.
    #[error(transparent)]
    Duplicate(#[from] DuplicateEntry),
    /// A configured value cannot be used (a rules file that does not load, a detector for a
    /// runbook that is not in effect), naming the key.
    #[error("{key}: {message}")]
    Config {
        /// The configuration key, e.g. `pipelines[0].rules`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

impl AssemblyError {
    /// A problem with configuration key `key`.
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// One runbook of the catalogue, as code.
pub trait RunbookModule: Sync {
    /// The built-in runbook it implements (`serving-latency`).
    fn runbook(&self) -> &'static str;

    /// Registers what `config` allows into the runbook's layer (and records what the rest
    /// would need), and returns the scheduled detectors `config` asks for. Called once per
    /// assembly, so clients the module builds are built once.
    ///
    /// # Errors
    /// A configured value that cannot be used, or a name registered twice.
    fn assemble(
        &self,
        config: &Config,
        registrar: &mut Registrar<'_>,
    ) -> Result<Vec<Box<dyn Detector>>, AssemblyError>;
}

/// Every runbook module, in catalogue order.
pub fn modules() -> [&'static dyn RunbookModule; 5] {
    [
        &pipeline_failure::Module,
        &serving_latency::Module,
        &drift_detector::Module,
        &feature_store::Module,
        &model_regression::Module,
    ]
}

/// What [`assemble`] builds from a configuration.
pub struct Assembly {
    /// Every runbook's implementations, sealed.
    pub registries: Registries,
    /// The scheduled detectors, for the daemon's loop.
    pub detectors: Vec<Box<dyn Detector>>,
    /// Where evidence goes: `<data_dir>/evidence`.
    pub evidence: Arc<EvidenceStore>,
    /// The notification channels a failed step pages.
    pub channels: Vec<warden_config::NotificationConfig>,
}

impl Assembly {
    /// The engine over `manager` with these registries (a failed step pages the configured
    /// channels); the detectors are handed back for the caller that schedules them (the
    /// daemon) and may be dropped by one that does not.
    pub fn into_engine<S: IncidentStore, C: Clock>(
        self,
        manager: Arc<IncidentManager<S, C>>,
        runbooks: Vec<Runbook>,
        mode: Mode,
    ) -> (Engine<S, C>, Vec<Box<dyn Detector>>) {
        let mut engine = Engine::new(EngineParts {
            manager,
            runbooks,
            registries: self.registries,
            evidence: Some(self.evidence),
            mode,
        });
        if !self.channels.is_empty() {
            engine = engine.with_failure_sink(Arc::new(common::actions::FailureNotifier::new(
                self.channels,
            )));
        }
        (engine, self.detectors)
    }
}

/// Fills the registries from `config` for `runbooks` (the runbooks in effect) and builds the
/// scheduled detectors: the common layer first, then every module.
///
/// # Errors
/// The first configured value that cannot be used, or a name registered twice.
pub fn assemble(config: &Config, runbooks: &[Runbook]) -> Result<Assembly, AssemblyError> {
    let mut registries = Registries::new();
    let detectors = register(config, runbooks, &mut registries)?;
    let evidence = EvidenceStore::new(
        config.data_dir.join("evidence"),
        warden_store::evidence::DEFAULT_MAX_BYTES,
    );
    Ok(Assembly {
        registries: registries.sealed(),
        detectors,
        evidence: Arc::new(evidence),
        channels: config.notifications.clone(),
    })
}

/// What [`assemble`] registers, into registries the caller goes on filling before it seals
/// them (the demo adds stand-ins for what it does not simulate); the scheduled detectors.
///
/// # Errors
/// As [`assemble`].
pub fn register(
    config: &Config,
    runbooks: &[Runbook],
    registries: &mut Registries,
) -> Result<Vec<Box<dyn Detector>>, AssemblyError> {
    let mut detectors = common::assemble(config, runbooks, &mut registries.common())?;
    for module in modules() {
        detectors.extend(module.assemble(config, &mut registries.runbook(module.runbook()))?);
    }
    Ok(detectors)
}

/// Every problem [`assemble`] would stop at, all at once (for `warden config check`): each
/// `detectors:` entry that cannot run, and each module's first unusable value.
pub fn problems(config: &Config, runbooks: &[Runbook]) -> Vec<AssemblyError> {
    let mut problems = common::detector_problems(config, runbooks);
    let mut registries = Registries::new();
    // The common layer stops at its first problem, which is often a detector's already listed.
    if let Err(err) = common::assemble(config, runbooks, &mut registries.common())
        && !problems.contains(&err)
    {
        problems.push(err);
    }
    for module in modules() {
        if let Err(err) = module.assemble(config, &mut registries.runbook(module.runbook())) {
            problems.push(err);
        }
    }
    problems
}
