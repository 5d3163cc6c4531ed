//! Runbook 3 ("Drift detector false positives / negatives") as a module: for every monitor
//! under `drift_monitors:`, the detectors that notice a misbehaving drift detector
//! ([`detector`], R3.2), the review, report and history collectors ([`evidence`]), the cause
//! judges ([`judges`], R3.5), the containment actions ([`actions`], R3.3), the fixes applied
//! to the monitor ([`fixes`], R3.6) and the backtest gates ([`gates`], R3.7). The statistics
//! live in `warden-drift`; [`analysis`] runs them with a monitor's effective settings,
//! [`state`] keeps what the runbook changed about a monitor across restarts, and
//! [`retraining`] starts the retraining a monitor's own alerts ask for, behind a review when
//! one is required; [`impact`] counts, for the post-mortem, the drift runs and held
//! retrainings an incident saw.

pub mod actions;
pub mod analysis;
pub mod detector;
pub mod evidence;
pub mod fixes;
pub mod gates;
pub mod impact;
pub mod judges;
pub mod retraining;
pub mod state;

use std::sync::Arc;

use warden_config::{Config, DriftMonitorConfig};
use warden_core::{Incident, Target, TargetKind};
use warden_engine::detect::Detector;
use warden_engine::executor::ActionError;
use warden_engine::registry::{EntryKind, Registrar};

use crate::common;
use crate::{AssemblyError, RunbookModule};

/// The built-in runbook drift-detector incidents open.
pub const RUNBOOK: &str = "drift-detector";

/// The finding's cause key of a detector that alerts too often.
pub const FALSE_POSITIVES: &str = "false positives";
/// The finding's cause key of a detector that misses known drift.
pub const FALSE_NEGATIVES: &str = "false negatives";

/// What runbook 3's detectors, collectors, judges, actions and gates share.
pub struct Monitors {
    /// The configured monitors.
    pub monitors: Vec<DriftMonitorConfig>,
    /// The whole configuration (connectors).
    pub config: Config,
    /// Where what the runbook changed about each monitor is kept.
    pub states: state::StateDir,
    /// `connectors.prometheus`, for alert histories.
    pub prometheus: Option<warden_connect::PrometheusClient>,
    /// One state change at a time: actions and the detector's expiry read-modify-write it.
    pub lock: tokio::sync::Mutex<()>,
}

impl Monitors {
    /// From the configuration; `None` when no monitor is listed.
    ///
    /// # Errors
    /// An unusable Prometheus URL.
    pub fn from_config(config: &Config) -> Result<Option<Arc<Self>>, AssemblyError> {
        if config.drift_monitors.is_empty() {
            return Ok(None);
        }
        Ok(Some(Arc::new(Self {
            monitors: config.drift_monitors.clone(),
            config: config.clone(),
            states: state::StateDir::new(&config.data_dir),
            prometheus: common::prometheus(config)?,
            lock: tokio::sync::Mutex::new(()),
        })))
    }

    /// The monitor an incident is about.
    ///
    /// # Errors
    /// No `drift_monitors:` entry has the target's name.
    pub fn monitor(&self, target: &Target) -> Result<&DriftMonitorConfig, ActionError> {
        self.monitors
            .iter()
            .find(|m| m.name == target.name)
            .ok_or_else(|| {
                common::actions::refused(format!(
                    "no drift_monitors entry named {:?} in warden.yaml",
                    target.name
                ))
            })
    }

    /// The monitor's state.
    ///
    /// # Errors
    /// A state file that cannot be read, named.
    pub fn state(&self, monitor: &str) -> Result<state::MonitorState, ActionError> {
        self.states
            .load(monitor)
            .map_err(|e| common::actions::refused(e.to_string()))
    }

    /// Saves the monitor's state.
    ///
    /// # Errors
    /// A state file that cannot be written, named.
    pub fn save(&self, monitor: &str, state: &state::MonitorState) -> Result<(), ActionError> {
        self.states.save(monitor, state).map_err(|e| ActionError {
            message: e.to_string(),
            retryable: true,
        })
    }
}

/// Whether an incident is about false negatives (known drift missed) rather than noise.
pub fn about_false_negatives(incident: &Incident) -> bool {
    incident.dedup_key.ends_with(FALSE_NEGATIVES)
}

/// The incident target of a monitor.
pub fn target(monitor: &DriftMonitorConfig) -> Target {
    Target::new(TargetKind::DriftMonitor, monitor.name.clone())
}

/// Runs blocking drift work off the async runtime.
///
/// # Errors
/// The work's own error, or the worker dying.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| format!("drift worker failed: {e}"))?
}

/// Runbook 3's module.
pub struct Module;

impl RunbookModule for Module {
    fn runbook(&self) -> &'static str {
        RUNBOOK
    }

    fn assemble(
        &self,
        config: &Config,
        registrar: &mut Registrar<'_>,
    ) -> Result<Vec<Box<dyn Detector>>, AssemblyError> {
        let Some(monitors) = Monitors::from_config(config)? else {
            let need = "needs a drift monitor listed under drift_monitors";
            common::needs_all(registrar, EntryKind::Evidence, &evidence::NAMES, need);
            common::needs_all(registrar, EntryKind::Cause, &judges::NAMES, need);
            common::needs_all(registrar, EntryKind::Action, &actions::NAMES, need);
            common::needs_all(registrar, EntryKind::Action, &fixes::NAMES, need);
            registrar.needs(EntryKind::Action, fixes::REVIEW, need);
            common::needs_all(registrar, EntryKind::Gate, &gates::CHECKS, need);
            return Ok(Vec::new());
        };
        for (index, monitor) in monitors.monitors.iter().enumerate() {
            if monitor.alerts.query.is_some() && monitors.prometheus.is_none() {
                return Err(AssemblyError::config(
                    format!("drift_monitors[{index}].alerts.query"),
                    "needs connectors.prometheus",
                ));
            }
        }
        common::register_collectors(registrar, evidence::collectors(&monitors))?;
        common::register_judges(registrar, judges::judges())?;
        common::register_actions(registrar, actions::handlers(&monitors))?;
        common::register_actions(registrar, fixes::handlers(&monitors))?;
        if monitors.monitors.iter().any(|m| m.alerts.query.is_none()) {
            registrar.action(fixes::REVIEW, fixes::review_handler(&monitors))?;
        } else {
            registrar.needs(
                EntryKind::Action,
                fixes::REVIEW,
                "a drift monitor Warden runs itself: an external detector (alerts.query) starts retraining without Warden, so a review goes in front of its trigger by hand",
            );
        }
        registrar.review_queue(Arc::new(retraining::DriftReviews::new(monitors.clone())));
        let gates: Arc<dyn warden_engine::executor::GateEvaluator> =
            Arc::new(gates::BacktestGates::new(monitors.clone()));
        common::register_gates(registrar, &gates::CHECKS, &gates)?;
        registrar.impact(Arc::new(impact::DriftImpact {
            monitors: monitors.clone(),
        }));
        Ok(detector::detectors(&monitors))
    }
}
