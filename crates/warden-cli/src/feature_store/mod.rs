//! Runbook 4 in the daemon: the scheduled feature-store check that opens incidents
//! (`feature_freshness`, `online_store_health`), its action handlers ([`actions`]), evidence
//! collectors ([`evidence`]) and closure gates ([`gates`]), all reading Feast and Redis
//! through `warden-feast`.

pub mod actions;
pub mod evidence;
pub mod gates;

use std::collections::BTreeMap;
use std::time::Duration;

use warden_config::{FeastConfig, HttpEndpoint};
use warden_core::{Finding, RunbookId, Severity, Target, TargetKind};
use warden_feast::freshness::FreshnessStatus;
use warden_feast::registry_file::RegistryFile;
use warden_feast::status::{self, FeastSources, FeastStatus, StatusOptions};
use warden_feast::{FeatureServerClient, RegistryClient, RegistrySource};
use warden_server::AppState;

pub use actions::{kubernetes_handlers, schedule_handlers};
pub use evidence::{collectors, offline_fields};
pub use gates::{FeastGates, GateChain};

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
        runbook: RunbookId::new("feature-store"),
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
    })
}

/// Checks Feast every `every` and opens (or updates) the runbook-4 incident on a problem.
pub async fn run_detector(feast: FeastConfig, every: Duration, state: AppState, verbose: bool) {
    let sources = match sources(&feast) {
        Ok(sources) => sources,
        Err(err) => {
            eprintln!("warden: feature-store check disabled: {err}");
            return;
        }
    };
    let options = StatusOptions {
        sla: feast.sla,
        ..StatusOptions::default()
    };
    loop {
        let now = state.manager.clock().now();
        match status::collect(&sources, &options).await {
            Ok(found) => {
                state.metrics.detector_run("feature_store", true);
                if let Some(finding) = finding(&found, now) {
                    crate::detectors::report(&state, "feature_store", &finding, verbose).await;
                }
            }
            Err(err) => {
                state.metrics.detector_run("feature_store", false);
                if verbose {
                    eprintln!("warden: feature-store check failed: {err}");
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}
