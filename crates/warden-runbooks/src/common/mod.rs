//! What runbook modules share, and the common registry layer every runbook sees.
//!
//! - [`actions`]: `notify`, the plan-equals-execution macro, connector error mapping;
//! - [`artifacts`]: the JSON evidence artifact convention judges read;
//! - [`judges`]: the registry of judges that decide from evidence alone;
//! - [`kube`]: the Kubernetes client for actions and collectors, typed errors;
//! - [`schedule`]: pausing and resuming an Airflow DAG or a CronJob, left as found;
//! - [`prometheus_gates`]: gates judged from `gate_queries:` range queries;
//! - [`promql_detector`]: the `detectors:` entries;
//! - [`rollback`] and [`kserve_rollback`]: `rollback_model` for services and models.

pub mod actions;
pub mod artifacts;
pub mod judges;
pub mod kserve_rollback;
pub mod kube;
pub mod prometheus_gates;
pub mod promql_detector;
pub mod rollback;
pub mod schedule;

use std::sync::Arc;

use warden_config::Config;
use warden_connect::PrometheusClient;
use warden_engine::detect::Detector;
use warden_engine::registry::{EntryKind, Registrar};
use warden_runbook::Runbook;

use crate::AssemblyError;

/// The Prometheus client of `connectors.prometheus`, if configured.
///
/// # Errors
/// Its URL cannot make a client.
pub fn prometheus(config: &Config) -> Result<Option<PrometheusClient>, AssemblyError> {
    config
        .connectors
        .prometheus
        .as_ref()
        .map(|prometheus| {
            PrometheusClient::from_config(prometheus)
                .map_err(|err| AssemblyError::config("connectors.prometheus", err.to_string()))
        })
        .transpose()
}

/// The common layer: `notify`, the `gate_queries:` gates and the `detectors:` entries.
///
/// # Errors
/// A detector for a runbook not in effect, an unusable Prometheus URL, a duplicate name.
pub fn assemble(
    config: &Config,
    runbooks: &[Runbook],
    registrar: &mut Registrar<'_>,
) -> Result<Vec<Box<dyn Detector>>, AssemblyError> {
    registrar.action(
        "notify",
        Arc::new(actions::Notify::new(config.notifications.clone())),
    )?;
    let client = prometheus(config)?;
    match &client {
        Some(client) if !config.gate_queries.is_empty() => {
            let gates = Arc::new(prometheus_gates::PrometheusGates::new(
                client.clone(),
                config.gate_queries.clone(),
            ));
            for check in config.gate_queries.keys() {
                registrar.gate(check, gates.clone())?;
            }
        }
        _ => {
            for check in config.gate_queries.keys() {
                registrar.needs(EntryKind::Gate, check, "needs connectors.prometheus");
            }
        }
    }
    if let Some(problem) = detector_problems(config, runbooks).into_iter().next() {
        return Err(problem);
    }
    let mut detectors: Vec<Box<dyn Detector>> = Vec::new();
    if let Some(client) = &client {
        for detector in &config.detectors {
            detectors.push(Box::new(promql_detector::PromqlDetector::new(
                detector.clone(),
                client.clone(),
            )));
        }
    }
    Ok(detectors)
}

/// Every `detectors:` entry that cannot run: its runbook is not in effect, or there is no
/// Prometheus to query.
pub fn detector_problems(config: &Config, runbooks: &[Runbook]) -> Vec<AssemblyError> {
    let mut problems = Vec::new();
    for (index, detector) in config.detectors.iter().enumerate() {
        if !runbooks.iter().any(|r| r.id.as_str() == detector.runbook) {
            let known: Vec<&str> = runbooks.iter().map(|r| r.id.as_str()).collect();
            problems.push(AssemblyError::config(
                format!("detectors[{index}].runbook"),
                format!(
                    "detector {}: runbook {:?} is not in effect (in effect: {})",
                    detector.name,
                    detector.runbook,
                    known.join(", ")
                ),
            ));
        }
        if config.connectors.prometheus.is_none() {
            problems.push(AssemblyError::config(
                format!("detectors[{index}]"),
                format!(
                    "detector {} needs connectors.prometheus to query",
                    detector.name
                ),
            ));
        }
    }
    problems
}

/// Registers every action of `entries` (a module's handler table).
///
/// # Errors
/// A name registered twice.
pub fn register_actions(
    registrar: &mut Registrar<'_>,
    entries: impl IntoIterator<Item = (String, Arc<dyn warden_engine::executor::ActionHandler>)>,
) -> Result<(), AssemblyError> {
    for (name, handler) in entries {
        registrar.action(&name, handler)?;
    }
    Ok(())
}

/// Registers every collector of `entries`.
///
/// # Errors
/// A name registered twice.
pub fn register_collectors(
    registrar: &mut Registrar<'_>,
    entries: impl IntoIterator<Item = (String, Arc<dyn warden_engine::executor::EvidenceCollector>)>,
) -> Result<(), AssemblyError> {
    for (name, collector) in entries {
        registrar.collector(&name, collector)?;
    }
    Ok(())
}

/// Registers every judge of `entries`.
///
/// # Errors
/// A name registered twice.
pub fn register_judges(
    registrar: &mut Registrar<'_>,
    entries: impl IntoIterator<Item = (String, Arc<dyn warden_engine::judge::CauseJudge>)>,
) -> Result<(), AssemblyError> {
    for (name, judge) in entries {
        registrar.judge(&name, judge)?;
    }
    Ok(())
}

/// Registers `evaluator` for each gate check of `checks`.
///
/// # Errors
/// A check registered twice.
pub fn register_gates(
    registrar: &mut Registrar<'_>,
    checks: &[&str],
    evaluator: &Arc<dyn warden_engine::executor::GateEvaluator>,
) -> Result<(), AssemblyError> {
    for check in checks {
        registrar.gate(check, evaluator.clone())?;
    }
    Ok(())
}

/// Records `need` for every name of `kind` in `names`.
pub fn needs_all(registrar: &mut Registrar<'_>, kind: EntryKind, names: &[&str], need: &str) {
    for name in names {
        registrar.needs(kind, name, need);
    }
}
