//! The validated configuration: typed values only, every one already checked, relative paths
//! already resolved against the configuration file's directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use url::Url;

use crate::SecretRef;

/// Default request timeout for every HTTP connector.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time to live of the leader lease.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15);

/// Default address of the HTTP API: loopback only, so nothing is exposed by accident.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8181";

/// Everything `warden.yaml` says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// The file it came from.
    pub source: PathBuf,
    /// Where Warden keeps its database and evidence.
    pub data_dir: PathBuf,
    /// The incident store.
    pub store: StoreConfig,
    /// The HTTP server.
    pub server: ServerConfig,
    /// The systems Warden talks to.
    pub connectors: Connectors,
    /// Where runbooks come from.
    pub runbooks: RunbooksConfig,
    /// Notification channels (R6.6).
    pub notifications: Vec<NotificationConfig>,
    /// Scheduled detectors.
    pub detectors: Vec<DetectorConfig>,
    /// PromQL per closure-gate check.
    pub gate_queries: std::collections::BTreeMap<String, String>,
    /// Served models runbook 2 watches and acts on.
    pub serving: Vec<crate::serving::ServiceConfig>,
    /// Registered models runbook 5 watches.
    pub models: Vec<crate::models::ModelConfig>,
    /// Pipelines runbook 1 watches.
    pub pipelines: Vec<crate::pipelines::PipelineConfig>,
    /// Drift monitors runbook 3 watches.
    pub drift_monitors: Vec<crate::drift::DriftMonitorConfig>,
}

/// A scheduled detector: a PromQL expression against a threshold, sustained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectorConfig {
    /// Its name.
    pub name: String,
    /// The runbook its findings open.
    pub runbook: String,
    /// What its findings are about.
    pub target: warden_core::Target,
    /// The PromQL expression.
    pub query: String,
    /// `true`: breach above `threshold`; `false`: below.
    pub above: bool,
    /// The threshold.
    pub threshold: f64,
    /// How long a breach must last.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub sustain: Duration,
    /// Evaluation interval.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub every: Duration,
    /// Severity of its findings.
    pub severity: warden_core::Severity,
}

/// Where a notification goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotificationTarget {
    /// POST the incident as JSON, with an optional bearer token.
    Webhook {
        /// The URL.
        url: Url,
        /// The bearer token.
        token: Option<SecretRef>,
    },
    /// A Slack incoming webhook (its URL is the secret).
    Slack {
        /// The webhook URL.
        webhook_url: SecretRef,
    },
    /// PagerDuty Events API v2.
    Pagerduty {
        /// The routing (integration) key.
        routing_key: SecretRef,
        /// The events endpoint (PagerDuty's by default).
        url: Url,
    },
}

/// One notification channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotificationConfig {
    /// Its name.
    pub name: String,
    /// Where it sends.
    pub target: NotificationTarget,
    /// Request timeout.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub timeout: Duration,
}

/// The incident store.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "backend", rename_all = "snake_case")]
pub enum StoreConfig {
    /// An embedded SQLite database file.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A PostgreSQL server.
    Postgres {
        /// The connection URL (a secret: it may carry a password).
        url: SecretRef,
        /// Largest connection pool size.
        max_connections: u32,
    },
}

/// The HTTP API and webhook server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// API tokens (R6.8).
    pub tokens: Vec<ApiToken>,
    /// How long the leader lease lasts unless renewed; the leader renews it every third and
    /// stops acting after two thirds without a renewal.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub lease_ttl: Duration,
}

/// What an API token may do; each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read incidents, runbooks and metrics.
    Viewer,
    /// Also approve, reject, acknowledge and resolve.
    Responder,
    /// Everything.
    Admin,
}

/// One API token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiToken {
    /// Who holds it.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Where the token value lives.
    pub token: SecretRef,
}

/// A base URL and a request timeout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpEndpoint {
    /// Base URL, without a trailing slash in its path.
    pub url: Url,
    /// Request timeout.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub timeout: Duration,
}

/// Prometheus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrometheusConfig {
    /// Its HTTP API.
    pub endpoint: HttpEndpoint,
}

/// Alertmanager.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertmanagerConfig {
    /// Its HTTP API.
    pub endpoint: HttpEndpoint,
    /// The bearer token its webhook calls must carry.
    pub webhook_secret: Option<SecretRef>,
}

/// MLflow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MlflowConfig {
    /// The tracking server.
    pub endpoint: HttpEndpoint,
    /// Bearer token.
    pub token: Option<SecretRef>,
}

/// A V2 inference server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelServerConfig {
    /// The inference endpoint.
    pub endpoint: HttpEndpoint,
    /// The model name.
    pub model: String,
    /// Where its metrics are scraped, if elsewhere.
    pub metrics_url: Option<Url>,
}

/// Feast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeastConfig {
    /// The feature server.
    pub endpoint: HttpEndpoint,
    /// The registry REST server.
    pub registry_url: Option<Url>,
    /// Or the registry file.
    pub registry_path: Option<PathBuf>,
    /// The project.
    pub project: String,
    /// The Redis online store.
    pub redis_url: Option<Url>,
    /// Its password.
    pub redis_password: Option<SecretRef>,
    /// The feature proxy containment switches.
    pub proxy_url: Option<Url>,
    /// The proxy's control token.
    pub proxy_token: Option<SecretRef>,
    /// The Feast repository directory.
    pub repo: Option<PathBuf>,
    /// Freshness SLA.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub sla: Duration,
    /// How often the daemon checks (`None`: not scheduled).
    pub check_every: Option<Duration>,
    /// The Airflow DAG that materializes.
    pub materialization_dag: Option<String>,
    /// The Kubernetes CronJob that materializes.
    pub materialization_cronjob: Option<String>,
    /// The online store's workload (`statefulset/NAME` or `deployment/NAME`).
    pub online_store_workload: Option<String>,
    /// PromQL of the request rate (per second) of the traffic that reads these features.
    pub requests_query: Option<String>,
}

/// Airflow 3.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AirflowConfig {
    /// The API server.
    pub endpoint: HttpEndpoint,
    /// User name.
    pub username: String,
    /// Password.
    pub password: SecretRef,
}

/// Kubeflow Pipelines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KfpConfig {
    /// The API.
    pub endpoint: HttpEndpoint,
    /// Namespace of the pipelines.
    pub namespace: String,
    /// Bearer token.
    pub token: Option<SecretRef>,
}

/// The Kubernetes API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KubernetesConfig {
    /// Use the in-cluster service account.
    pub in_cluster: bool,
    /// Kubeconfig file (when not in the cluster).
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    pub context: Option<String>,
    /// Default namespace.
    pub namespace: String,
}

/// S3-compatible object storage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectStoreConfig {
    /// Endpoint for S3-compatible stores; `None` means AWS.
    pub endpoint: Option<Url>,
    /// Region.
    pub region: String,
    /// Access key id.
    pub access_key_id: Option<SecretRef>,
    /// Secret access key.
    pub secret_access_key: Option<SecretRef>,
}

/// The configured connectors; `None` means not configured.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Connectors {
    /// Prometheus.
    pub prometheus: Option<PrometheusConfig>,
    /// Alertmanager.
    pub alertmanager: Option<AlertmanagerConfig>,
    /// MLflow.
    pub mlflow: Option<MlflowConfig>,
    /// The V2 model server.
    pub model_server: Option<ModelServerConfig>,
    /// Feast.
    pub feast: Option<FeastConfig>,
    /// Airflow.
    pub airflow: Option<AirflowConfig>,
    /// Kubeflow Pipelines.
    pub kfp: Option<KfpConfig>,
    /// Kubernetes.
    pub kubernetes: Option<KubernetesConfig>,
    /// Object storage.
    pub object_store: Option<ObjectStoreConfig>,
}

impl Connectors {
    /// The names of the configured connectors, in a fixed order.
    pub fn configured(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        let mut add = |present: bool, name| {
            if present {
                names.push(name);
            }
        };
        add(self.prometheus.is_some(), "prometheus");
        add(self.alertmanager.is_some(), "alertmanager");
        add(self.mlflow.is_some(), "mlflow");
        add(self.model_server.is_some(), "model_server");
        add(self.feast.is_some(), "feast");
        add(self.airflow.is_some(), "airflow");
        add(self.kfp.is_some(), "kfp");
        add(self.kubernetes.is_some(), "kubernetes");
        add(self.object_store.is_some(), "object_store");
        names
    }
}

/// Runbook sources.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunbooksConfig {
    /// Files or directories of user runbooks.
    pub paths: Vec<PathBuf>,
    /// Built-in runbooks turned off.
    pub disabled: Vec<String>,
}
