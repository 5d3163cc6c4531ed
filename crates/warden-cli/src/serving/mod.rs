//! Runbook 2 ("Serving latency or error spike") in the daemon: the scheduled SLO check that
//! opens incidents (`serving_slo`, plain thresholds or burn rates), the evidence collectors
//! ([`evidence`]), the cause judges ([`judges`]), the containment actions ([`actions`]:
//! rollback, scale, rate limit) and the closure gates ([`gates`]), for every service listed
//! under `serving:` in warden.yaml. The logic lives in `warden-serving`; this module connects
//! it to Prometheus, Kubernetes, MLflow and the engine.

pub mod actions;
pub mod evidence;
pub mod gates;
pub mod judges;
pub mod kserve_rollback;

use std::sync::Arc;

use warden_config::{Config, ServiceConfig};
use warden_connect::PrometheusClient;
use warden_core::{Finding, RunbookId, Severity, Target, TargetKind};
use warden_engine::executor::ActionError;
use warden_server::AppState;
use warden_serving::slo;

/// The built-in runbook serving incidents open.
pub const RUNBOOK: &str = "serving-latency";

/// What runbook 2's handlers share.
pub struct Serving {
    /// The configured services.
    pub services: Vec<ServiceConfig>,
    /// Prometheus, if configured.
    pub prometheus: Option<PrometheusClient>,
    /// The whole configuration (Kubernetes, MLflow, the model server).
    pub config: Config,
}

impl Serving {
    /// From the configuration; `None` when no service is listed (nor a model under
    /// `models:`, whose rollback is this module's `rollback_model`).
    pub fn from_config(config: &Config) -> Option<Arc<Self>> {
        if config.serving.is_empty() && config.models.is_empty() {
            return None;
        }
        let prometheus = config
            .connectors
            .prometheus
            .as_ref()
            .and_then(|p| PrometheusClient::from_config(p).ok());
        Some(Arc::new(Self {
            services: config.serving.clone(),
            prometheus,
            config: config.clone(),
        }))
    }

    /// The service an incident is about (its target's name).
    ///
    /// # Errors
    /// No `serving:` entry has that name.
    pub fn service(&self, target: &Target) -> Result<&ServiceConfig, ActionError> {
        self.services
            .iter()
            .find(|service| service.name == target.name)
            .ok_or_else(|| ActionError {
                message: format!(
                    "no serving entry named {:?} in warden.yaml (serving:)",
                    target.name
                ),
                retryable: false,
            })
    }

    /// What `rollback_model` moves for an incident: a `serving:` service, or a model under
    /// `models:` (runbook 5).
    ///
    /// # Errors
    /// Neither has the target's name.
    pub fn rollback_target(&self, target: &Target) -> Result<RollbackTarget, ActionError> {
        if let Ok(service) = self.service(target) {
            return Ok(RollbackTarget {
                name: service.name.clone(),
                model: service.model.clone(),
                alias: "champion".into(),
                stage: None,
                namespace: service.namespace.clone(),
                inference_service: service.inference_service.clone(),
            });
        }
        let model = self
            .config
            .models
            .iter()
            .find(|m| m.name == target.name)
            .ok_or_else(|| ActionError {
                message: format!(
                    "no serving or models entry named {:?} in warden.yaml",
                    target.name
                ),
                retryable: false,
            })?;
        Ok(RollbackTarget {
            name: model.name.clone(),
            model: model.name.clone(),
            alias: model.alias.clone(),
            stage: model.stage.clone(),
            namespace: model.namespace.clone(),
            inference_service: model.inference_service.clone(),
        })
    }

    /// The Prometheus client.
    ///
    /// # Errors
    /// Not configured.
    pub fn prometheus(&self) -> Result<&PrometheusClient, ActionError> {
        self.prometheus.as_ref().ok_or_else(|| ActionError {
            message: "connectors.prometheus is not configured".into(),
            retryable: false,
        })
    }

    /// A Kubernetes client.
    ///
    /// # Errors
    /// Not configured, or the kubeconfig cannot be loaded.
    pub async fn kube(&self) -> Result<warden_kube::KubeClient, ActionError> {
        let kubernetes = self
            .config
            .connectors
            .kubernetes
            .as_ref()
            .ok_or_else(|| ActionError {
                message: "connectors.kubernetes is not configured".into(),
                retryable: false,
            })?;
        crate::feature_store::actions::kube_client(kubernetes).await
    }
}

/// What a rollback moves.
pub struct RollbackTarget {
    /// The `serving:` or `models:` entry's name.
    pub name: String,
    /// The registered model.
    pub model: String,
    /// Its serving alias (a step's `alias` parameter wins).
    pub alias: String,
    /// Or its serving stage (stage-based registries).
    pub stage: Option<String>,
    /// Kubernetes namespace.
    pub namespace: Option<String>,
    /// KServe InferenceService.
    pub inference_service: Option<String>,
}

/// The incident target of a service.
pub fn target(service: &ServiceConfig) -> Target {
    let target = Target::new(TargetKind::Service, service.name.clone());
    match &service.namespace {
        Some(namespace) => target.in_namespace(namespace.clone()),
        None => target,
    }
}

/// Checks `service`'s SLO every `check_every` until the daemon stops; a sustained breach (or
/// a firing burn-rate pair) is a `serving_slo` finding. Prometheus failures are counted and
/// retried on the next beat.
pub async fn run_detector(
    service: ServiceConfig,
    every: std::time::Duration,
    prometheus: PrometheusClient,
    state: AppState,
    verbose: bool,
) {
    let mut sustain = slo::Sustain::default();
    let name = format!("serving_slo:{}", service.name);
    loop {
        let now = state.manager.clock().now();
        match slo::check(&prometheus, &service, now).await {
            Ok(reading) => {
                state.metrics.detector_run(&name, true);
                if let Some(breach) = sustain.observe(&service, &reading) {
                    let finding = Finding {
                        runbook: RunbookId::new(RUNBOOK),
                        target: target(&service),
                        detector: "serving_slo".into(),
                        severity: Severity::Critical,
                        summary: format!("{}: {breach}", service.name),
                        detected_at: now,
                        measurements: reading.measurements(),
                        cause_key: None,
                    };
                    crate::detectors::report(&state, &name, &finding, verbose).await;
                }
            }
            Err(err) => {
                state.metrics.detector_run(&name, false);
                if verbose {
                    eprintln!("warden: {name} failed: {err}");
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}
