//! Runbook 2 ("Serving latency or error spike") as a module: the scheduled SLO check that
//! opens incidents ([`detector`]: `serving_slo`, plain thresholds or burn rates), the evidence
//! collectors ([`evidence`]), the cause judges ([`judges`]), the containment actions
//! ([`actions`]: scale, rate limit; `rollback_model` from [`crate::common::rollback`]), the
//! closure gates ([`gates`]), the fixes ([`fixes`]) and the ML impact ([`impact`]: requests
//! failed and slower than the SLA, from Prometheus), for every service listed under
//! `serving:` in warden.yaml. The statistics live in `warden-serving`; this module connects
//! them to Prometheus, Kubernetes, MLflow and the engine.

pub mod actions;
pub mod detector;
pub mod evidence;
pub mod fixes;
pub mod gates;
pub mod impact;
pub mod judges;

use std::sync::Arc;

use warden_config::{Config, ServiceConfig};
use warden_connect::PrometheusClient;
use warden_core::{Target, TargetKind};
use warden_engine::detect::Detector;
use warden_engine::executor::{ActionError, ActionHandler, GateEvaluator};
use warden_engine::registry::{EntryKind, Registrar};

use crate::common::{self, rollback::RollbackModel};
use crate::{AssemblyError, RunbookModule};

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
    /// From the configuration; `None` when no service is listed under `serving:`.
    ///
    /// # Errors
    /// `connectors.prometheus` cannot make a client.
    pub fn from_config(config: &Config) -> Result<Option<Arc<Self>>, AssemblyError> {
        if config.serving.is_empty() {
            return Ok(None);
        }
        Ok(Some(Arc::new(Self {
            services: config.serving.clone(),
            prometheus: crate::common::prometheus(config)?,
            config: config.clone(),
        })))
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
        crate::common::kube::kube_client(kubernetes).await
    }
}

/// The incident target of a service.
pub fn target(service: &ServiceConfig) -> Target {
    let target = Target::new(TargetKind::Service, service.name.clone());
    match &service.namespace {
        Some(namespace) => target.in_namespace(namespace.clone()),
        None => target,
    }
}

/// Collectors that read Kubernetes (the rest read Prometheus or MLflow).
const KUBE_COLLECTORS: [&str; 3] = ["hpa_status", "predictor_pods", "traffic_split"];
/// Collectors that read Prometheus.
const PROMETHEUS_COLLECTORS: [&str; 2] = ["traffic_rate", "feature_store_latency"];
/// Actions that change Kubernetes objects.
const KUBE_ACTIONS: [&str; 3] = ["scale_replicas", "enable_rate_limit", "disable_rate_limit"];
/// Every gate check this module judges.
const GATES: [&str; 4] = [
    "latency_p95_ms",
    "error_rate",
    "autoscaler_stable",
    "load_test_headroom",
];

/// Runbook 2's module.
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
        let Some(serving) = Serving::from_config(config)? else {
            let need = "needs a service listed under serving";
            common::needs_all(registrar, EntryKind::Action, &["rollback_model"], need);
            common::needs_all(registrar, EntryKind::Action, &KUBE_ACTIONS, need);
            common::needs_all(registrar, EntryKind::Evidence, &evidence::NAMES, need);
            common::needs_all(registrar, EntryKind::Cause, &judges::NAMES, need);
            common::needs_all(registrar, EntryKind::Gate, &GATES, need);
            return Ok(Vec::new());
        };
        let kube = config.connectors.kubernetes.is_some();
        let prometheus = serving.prometheus.is_some();
        common::register_collectors(
            registrar,
            evidence::collectors(&serving)
                .into_iter()
                .filter(|(name, _)| {
                    (kube || !KUBE_COLLECTORS.contains(&name.as_str()))
                        && (prometheus || !PROMETHEUS_COLLECTORS.contains(&name.as_str()))
                }),
        )?;
        common::needs_all(
            registrar,
            EntryKind::Evidence,
            &KUBE_COLLECTORS,
            "needs connectors.kubernetes",
        );
        common::needs_all(
            registrar,
            EntryKind::Evidence,
            &PROMETHEUS_COLLECTORS,
            "needs connectors.prometheus",
        );
        common::register_judges(registrar, judges::judges(&serving))?;
        let rollback: Arc<dyn ActionHandler> = Arc::new(RollbackModel {
            config: Arc::new(config.clone()),
        });
        registrar.action("rollback_model", rollback)?;
        if kube {
            let mut handlers = std::collections::HashMap::new();
            actions::handlers(&serving, &mut handlers);
            common::register_actions(registrar, handlers)?;
        } else {
            common::needs_all(
                registrar,
                EntryKind::Action,
                &KUBE_ACTIONS,
                "needs connectors.kubernetes",
            );
        }
        let gates: Arc<dyn GateEvaluator> = Arc::new(gates::ServingGates::new(serving.clone()));
        common::register_gates(registrar, &GATES, &gates)?;
        if prometheus {
            registrar.impact(Arc::new(impact::ServingImpact {
                serving: serving.clone(),
            }));
        }
        Ok(detector::detectors(&serving))
    }
}
