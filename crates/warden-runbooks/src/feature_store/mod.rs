//! Runbook 4 ("Feature store outage or staleness") as a module: the scheduled feature-store
//! check that opens incidents ([`detector`]: `feature_freshness`, `online_store_health`), its
//! evidence collectors ([`evidence`]), the cause judges ([`judges`]), action handlers
//! ([`actions`]), closure gates ([`gates`]) and the ML impact from the registry's
//! materialization history ([`impact`]), all reading Feast and Redis through `warden-feast`.

pub mod actions;
pub mod detector;
pub mod evidence;
pub mod gates;
pub mod impact;
pub mod judges;

use std::collections::BTreeMap;
use std::sync::Arc;

use warden_config::{Config, FeastConfig, HttpEndpoint};
use warden_core::{Finding, RunbookId, Severity, Target, TargetKind};
use warden_engine::detect::Detector;
use warden_engine::executor::{ActionHandler, GateEvaluator};
use warden_engine::registry::{EntryKind, Registrar};
use warden_feast::freshness::FreshnessStatus;
use warden_feast::registry_file::RegistryFile;
use warden_feast::status::{FeastSources, FeastStatus};
use warden_feast::{FeatureServerClient, RegistryClient, RegistrySource};

use crate::common;
use crate::{AssemblyError, RunbookModule};

pub use actions::{kubernetes_handlers, schedule_handlers};
pub use evidence::{collectors, offline_fields};
pub use gates::FeastGates;

/// The built-in runbook feature-store incidents open.
pub const RUNBOOK: &str = "feature-store";

/// The readers runbook 4 needs, built from `connectors.feast`.
pub fn sources(feast: &FeastConfig) -> Result<FeastSources, String> {
    let registry = match (&feast.registry_url, &feast.registry_path) {
        (Some(url), _) => RegistrySource::Rest(
            RegistryClient::new(
                &HttpEndpoint {
                    url: url.clone(),
                    timeout: feast.endpoint.timeout,
                },
                &feast.project,
            )
            .map_err(|err| err.to_string())?,
        ),
        (None, Some(path)) => RegistrySource::File(RegistryFile::new(path, &feast.project)),
        (None, None) => {
            return Err(
                "connectors.feast needs registry_url (feast serve_registry --rest-api) or registry_path (the registry file)"
                    .into(),
            );
        }
    };
    let redis_password = feast
        .redis_password
        .as_ref()
        .map(|secret| secret.resolve())
        .transpose()
        .map_err(|err| format!("connectors.feast.redis_password: {err}"))?;
    Ok(FeastSources {
        registry,
        feature_server: Some(
            FeatureServerClient::new(&feast.endpoint).map_err(|err| err.to_string())?,
        ),
        redis_url: feast.redis_url.clone(),
        redis_password,
        timeout: feast.endpoint.timeout,
    })
}

/// The finding a status stands for, if anything is wrong: one per project, so a stale view
/// and a dead store in the same minute are one incident (the runbook handles both).
pub fn finding(status: &FeastStatus, now: chrono::DateTime<chrono::Utc>) -> Option<Finding> {
    if status.ok {
        return None;
    }
    let store_down = status
        .store
        .as_ref()
        .is_some_and(|s| !s.reachable || !s.problems.is_empty());
    let detector = if store_down {
        "online_store_health"
    } else {
        "feature_freshness"
    };
    let mut problems: Vec<String> = status
        .views
        .iter()
        .filter(|v| v.status != FreshnessStatus::Fresh)
        .flat_map(|v| v.problems.iter().map(move |p| format!("{}: {p}", v.view)))
        .collect();
    if let Some(store) = &status.store {
        problems.extend(store.problems.iter().cloned());
    }
    if let Some(server) = status.feature_server.as_ref().filter(|s| !s.ok) {
        problems.push(format!(
            "feature server: {}",
            server.error.as_deref().unwrap_or("failing")
        ));
    }
    let worst_lag = status
        .views
        .iter()
        .filter_map(|v| v.materialization_lag_seconds)
        .fold(0.0f64, f64::max);
    let worst_missing = status
        .views
        .iter()
        .map(|v| v.missing_rate)
        .fold(0.0, f64::max);
    Some(Finding {
        runbook: RunbookId::new(RUNBOOK),
        target: Target {
            kind: TargetKind::FeatureView,
            namespace: status.project.clone(),
            name: "*".into(),
        },
        detector: detector.into(),
        severity: Severity::High,
        summary: problems.join("; "),
        detected_at: now,
        measurements: BTreeMap::from([
            ("materialization_lag_seconds".to_string(), worst_lag),
            ("missing_rate".to_string(), worst_missing),
        ]),
        cause_key: None,
        alert: None,
    })
}

/// Runbook 4's module.
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
        let Some(feast) = &config.connectors.feast else {
            let need = "needs connectors.feast";
            common::needs_all(registrar, EntryKind::Evidence, &evidence::NAMES, need);
            common::needs_all(registrar, EntryKind::Cause, &judges::NAMES, need);
            common::needs_all(registrar, EntryKind::Gate, &gates::CHECKS, need);
            common::needs_all(registrar, EntryKind::Action, &actions::NAMES, need);
            return Ok(Vec::new());
        };
        let key = |message: String| AssemblyError::config("connectors.feast", message);
        let airflow = config.connectors.airflow.as_ref();
        let kubernetes = config.connectors.kubernetes.as_ref();
        // An unreadable token leaves the switch to a responder (and `runbooks list` says
        // why) rather than stopping the daemon over one action.
        let token = feast.proxy_token.as_ref().map(|token| token.resolve());
        match (&feast.proxy_url, token) {
            (Some(_), Some(Err(err))) => registrar.needs(
                EntryKind::Action,
                "switch_feature_fallback",
                format!("needs a readable connectors.feast.proxy_token: {err}"),
            ),
            (Some(url), token) => {
                let handler: Arc<dyn ActionHandler> = Arc::new(
                    actions::SwitchFeatureFallback::new(url.clone(), token.and_then(Result::ok))
                        .map_err(|err| AssemblyError::config("connectors.feast.proxy_url", err))?,
                );
                registrar.action("switch_feature_fallback", handler)?;
            }
            (None, _) => registrar.needs(
                EntryKind::Action,
                "switch_feature_fallback",
                "needs connectors.feast.proxy_url (warden feature-proxy)",
            ),
        }
        common::register_actions(
            registrar,
            schedule_handlers(feast, airflow, kubernetes)
                .into_iter()
                .chain(kubernetes_handlers(feast, kubernetes))
                .map(|(name, handler)| (name.to_string(), handler)),
        )?;
        common::needs_all(
            registrar,
            EntryKind::Action,
            &["pause_materialization", "resume_materialization"],
            "needs connectors.feast.materialization_dag with connectors.airflow, or materialization_cronjob with connectors.kubernetes",
        );
        registrar.needs(
            EntryKind::Action,
            "scale_online_store",
            "needs connectors.feast.online_store_workload and connectors.kubernetes",
        );
        if feast.registry_url.is_none() && feast.registry_path.is_none() {
            let need = "needs connectors.feast.registry_url or registry_path";
            common::needs_all(registrar, EntryKind::Evidence, &evidence::NAMES, need);
            common::needs_all(registrar, EntryKind::Cause, &judges::NAMES, need);
            common::needs_all(registrar, EntryKind::Gate, &gates::CHECKS, need);
            return Ok(Vec::new());
        }
        common::register_collectors(
            registrar,
            collectors(feast, airflow, kubernetes).map_err(key)?,
        )?;
        common::register_judges(registrar, judges::judges())?;
        let gates: Arc<dyn GateEvaluator> = Arc::new(FeastGates::new(feast).map_err(key)?);
        common::register_gates(registrar, &gates::CHECKS, &gates)?;
        let requests = match (&feast.requests_query, common::prometheus(config)?) {
            (Some(query), Some(prometheus)) => Some((prometheus, query.clone())),
            _ => None,
        };
        registrar.impact(Arc::new(impact::FeastImpact {
            sources: sources(feast).map_err(key)?,
            sla: feast.sla,
            requests,
        }));
        Ok(detector::detectors(feast)
            .map_err(key)?
            .into_iter()
            .collect())
    }
}
