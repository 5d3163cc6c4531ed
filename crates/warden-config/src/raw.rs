//! The YAML as written: serde structs with `deny_unknown_fields`, strings where validation
//! needs to explain what is wrong, and [`Spanned`] wherever a validation error must point at
//! a line. Nothing here is checked beyond YAML syntax and shape; see [`crate::validate`].

use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::{ConfigError, ConfigErrors};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Schema version of the file; only `1` exists.
    pub version: Option<Spanned<u32>>,
    /// Where Warden keeps its database and evidence; relative to the file.
    pub data_dir: Option<Spanned<String>>,
    /// The incident store.
    pub store: Option<Spanned<RawStore>>,
    /// The HTTP API and webhook server.
    pub server: Option<RawServer>,
    /// The platform's systems Warden talks to.
    #[serde(default)]
    pub connectors: RawConnectors,
    /// Where runbooks come from.
    pub runbooks: Option<RawRunbooks>,
    /// Channels the `notify` action can send to.
    #[serde(default)]
    pub notifications: Vec<Spanned<RawNotification>>,
    /// Detectors the daemon runs on a schedule.
    #[serde(default)]
    pub detectors: Vec<Spanned<RawDetector>>,
    /// PromQL per closure-gate check (e.g. `latency_p95_ms: <query>`), for the daemon to judge
    /// gates from Prometheus.
    #[serde(default)]
    pub gate_queries: std::collections::BTreeMap<String, Spanned<String>>,
    /// Served models runbook 2 watches (`serving[]`).
    #[serde(default)]
    pub serving: Vec<Spanned<crate::serving::RawService>>,
    /// Registered models runbook 5 watches (`models[]`).
    #[serde(default)]
    pub models: Vec<Spanned<crate::models::RawModel>>,
    /// Pipelines runbook 1 watches (`pipelines[]`).
    #[serde(default)]
    pub pipelines: Vec<Spanned<crate::pipelines::RawPipeline>>,
    /// Drift monitors runbook 3 watches (`drift_monitors[]`).
    #[serde(default)]
    pub drift_monitors: Vec<Spanned<crate::drift::RawDriftMonitor>>,
}

/// `detectors[]`: one scheduled detector.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDetector {
    /// Unique name (metrics and findings carry it).
    pub name: Spanned<String>,
    /// `promql_threshold`.
    pub kind: Spanned<String>,
    /// The runbook its findings open.
    pub runbook: Spanned<String>,
    /// `kind/name` or `kind/namespace/name`, e.g. `service/mlops/demand-forecast`.
    pub target: Spanned<String>,
    /// The PromQL expression; the worst series of its result is the value.
    pub query: Spanned<String>,
    /// Breach when the value is above this.
    pub above: Option<f64>,
    /// Breach when the value is below this.
    pub below: Option<f64>,
    /// How long the breach must last before it is a finding.
    #[serde(rename = "for")]
    pub sustain: Option<Spanned<String>>,
    /// How often to evaluate.
    pub every: Option<Spanned<String>>,
    /// Severity of its findings.
    pub severity: Option<Spanned<String>>,
}

/// `notifications[]`: one channel.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotification {
    /// The name runbook steps use (`params: {channel: NAME}`).
    pub name: Spanned<String>,
    /// `webhook`, `slack` or `pagerduty`.
    pub kind: Spanned<String>,
    /// Generic webhook: the URL to POST to.
    pub url: Option<Spanned<String>>,
    /// Generic webhook: a bearer token; Slack: the incoming-webhook URL (it is a secret);
    /// PagerDuty: the Events v2 routing key.
    pub secret: Option<Spanned<RawSecret>>,
    /// Request timeout.
    pub timeout: Option<Spanned<String>>,
}

/// `store:` — exactly one of `sqlite` or `postgres`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// SQLite, the zero-set-up default.
    pub sqlite: Option<RawSqlite>,
    /// PostgreSQL, for production.
    pub postgres: Option<RawPostgres>,
}

/// `store.sqlite:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSqlite {
    /// Database file, relative to `data_dir`.
    pub path: Option<Spanned<String>>,
}

/// `store.postgres:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPostgres {
    /// The connection URL; it may hold a password, so it is a secret reference.
    pub url: Spanned<RawSecret>,
    /// Largest connection pool size.
    pub max_connections: Option<Spanned<u32>>,
}

/// A secret reference: exactly one of `env` or `file`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecret {
    /// Name of an environment variable holding the secret.
    pub env: Option<String>,
    /// Path of a file holding the secret (trailing newline ignored), relative to the config.
    pub file: Option<String>,
}

/// `server:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// `host:port` to listen on.
    pub listen: Option<Spanned<String>>,
    /// API tokens and their roles.
    #[serde(default)]
    pub tokens: Vec<Spanned<RawToken>>,
    /// How long the leader lease lasts unless renewed (replicas sharing one store).
    pub lease_ttl: Option<Spanned<String>>,
}

/// `server.tokens[]`: one API token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToken {
    /// Who holds it; recorded as the actor of what they do.
    pub name: Spanned<String>,
    /// `viewer`, `responder` or `admin`.
    pub role: Spanned<String>,
    /// The token itself.
    pub token: Spanned<RawSecret>,
}

/// `connectors.prometheus:`. Each connector repeats `url` and `timeout` instead of flattening
/// a shared struct, because `#[serde(flatten)]` would lose the spans that errors point with.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrometheus {
    /// Base URL.
    pub url: Spanned<String>,
    /// Request timeout, e.g. `10s`.
    pub timeout: Option<Spanned<String>>,
}

/// `connectors.alertmanager:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlertmanager {
    /// Base URL of the Alertmanager API (for silences).
    pub url: Spanned<String>,
    /// Request timeout.
    pub timeout: Option<Spanned<String>>,
    /// Shared secret the webhook receiver requires (bearer token).
    pub webhook_secret: Option<Spanned<RawSecret>>,
}

/// `connectors.mlflow:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMlflow {
    /// Base URL of the tracking server.
    pub url: Spanned<String>,
    /// Request timeout.
    pub timeout: Option<Spanned<String>>,
    /// Bearer token, when the server requires one.
    pub token: Option<Spanned<RawSecret>>,
}

/// `connectors.model_server:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModelServer {
    /// Base URL of the V2 (Open Inference Protocol) server.
    pub url: Spanned<String>,
    /// Request timeout.
    pub timeout: Option<Spanned<String>>,
    /// The model name served, e.g. `demand-forecast`.
    pub model: Spanned<String>,
    /// Where its Prometheus metrics are exposed, if not on `url`.
    pub metrics_url: Option<Spanned<String>>,
}

/// `connectors.feast:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeast {
    /// Feature server URL (`feast serve`).
    pub url: Spanned<String>,
    /// Registry REST server URL (`feast serve_registry --rest-api`).
    pub registry_url: Option<Spanned<String>>,
    /// Or the registry file itself (`registry:` of `feature_store.yaml`).
    pub registry_path: Option<Spanned<String>>,
    /// Feast project name.
    pub project: Spanned<String>,
    /// Request timeout.
    pub timeout: Option<Spanned<String>>,
    /// The Redis online store, `redis://host:port[/db]`.
    pub redis_url: Option<Spanned<String>>,
    /// The Redis password, if any.
    pub redis_password: Option<Spanned<RawSecret>>,
    /// The feature proxy's URL (`warden feature-proxy`), which containment switches.
    pub proxy_url: Option<Spanned<String>>,
    /// The proxy's control token, if it requires one.
    pub proxy_token: Option<Spanned<RawSecret>>,
    /// The Feast repository directory (offline file sources are relative to it).
    pub repo: Option<Spanned<String>>,
    /// Freshness SLA (default 15m).
    pub sla: Option<Spanned<String>>,
    /// How often the daemon checks freshness and store health; unset: not scheduled.
    pub check_every: Option<Spanned<String>>,
    /// The Airflow DAG that materializes (paused and resumed by runbook 4; needs
    /// `connectors.airflow`).
    pub materialization_dag: Option<Spanned<String>>,
    /// Or the Kubernetes CronJob that materializes (suspended and resumed; needs
    /// `connectors.kubernetes`).
    pub materialization_cronjob: Option<Spanned<String>>,
    /// The online store's workload, `statefulset/NAME` or `deployment/NAME` (scaled by
    /// runbook 4; needs `connectors.kubernetes`).
    pub online_store_workload: Option<Spanned<String>>,
    /// PromQL of the request rate (per second) of the serving traffic that reads these
    /// features, for the predictions served with stale features (needs
    /// `connectors.prometheus`).
    pub requests_query: Option<Spanned<String>>,
}

/// `connectors.airflow:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAirflow {
    /// Base URL of the Airflow 3 API server.
    pub url: Spanned<String>,
    /// Request timeout.
    pub timeout: Option<Spanned<String>>,
    /// User to request a token as.
    pub username: Spanned<String>,
    /// That user's password.
    pub password: Spanned<RawSecret>,
}

/// `connectors.kfp:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKfp {
    /// Base URL of the Kubeflow Pipelines API.
    pub url: Spanned<String>,
    /// Request timeout.
    pub timeout: Option<Spanned<String>>,
    /// Kubernetes namespace of the pipelines.
    pub namespace: Option<Spanned<String>>,
    /// Bearer token, when required.
    pub token: Option<Spanned<RawSecret>>,
}

/// `connectors.kubernetes:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKubernetes {
    /// Use the pod's service account (when Warden runs in the cluster).
    pub in_cluster: Option<bool>,
    /// Path of a kubeconfig file, relative to the config.
    pub kubeconfig: Option<Spanned<String>>,
    /// Kubeconfig context to use.
    pub context: Option<String>,
    /// Default namespace of the serving workloads.
    pub namespace: Option<Spanned<String>>,
}

/// `connectors.object_store:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawObjectStore {
    /// S3-compatible endpoint; omit for AWS itself.
    pub endpoint: Option<Spanned<String>>,
    /// Region.
    pub region: Option<String>,
    /// Access key id.
    pub access_key_id: Option<Spanned<RawSecret>>,
    /// Secret access key.
    pub secret_access_key: Option<Spanned<RawSecret>>,
}

/// `connectors:` — each connector at most once.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnectors {
    /// Prometheus (queries).
    pub prometheus: Option<RawPrometheus>,
    /// Alertmanager (webhook, silences).
    pub alertmanager: Option<RawAlertmanager>,
    /// MLflow model registry.
    pub mlflow: Option<RawMlflow>,
    /// V2 inference server.
    pub model_server: Option<RawModelServer>,
    /// Feast feature store.
    pub feast: Option<RawFeast>,
    /// Airflow.
    pub airflow: Option<RawAirflow>,
    /// Kubeflow Pipelines.
    pub kfp: Option<RawKfp>,
    /// Kubernetes API (KServe, pods, HPA).
    pub kubernetes: Option<RawKubernetes>,
    /// Object storage with prediction logs and artifacts.
    pub object_store: Option<RawObjectStore>,
}

/// `runbooks:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRunbooks {
    /// Files or directories with user runbooks, relative to the config.
    #[serde(default)]
    pub paths: Vec<Spanned<String>>,
    /// Built-in runbooks to turn off, by id.
    #[serde(default)]
    pub disabled: Vec<Spanned<String>>,
}

/// Parses `text` into the raw structs.
///
/// # Errors
/// One [`ConfigError`] with the line, column and dotted field path of the first problem.
pub fn parse(file: &Path, text: &str) -> Result<RawConfig, ConfigErrors> {
    if text.trim().is_empty() {
        return Err(ConfigError::at(
            file,
            (1, 1),
            "",
            "the file is empty (see warden.example.yaml for a starting point)",
        )
        .into());
    }
    parse_yaml(file, text).map_err(ConfigErrors::from)
}

/// Deserializes YAML `text` read from `file` into `T`, reporting the first problem with its
/// line, column and dotted field path. Shared by every YAML file Warden reads (configuration,
/// runbooks), so they all report errors the same way.
///
/// # Errors
/// One [`ConfigError`] for the first syntax or shape problem.
pub fn parse_yaml<T: serde::de::DeserializeOwned>(
    file: &Path,
    text: &str,
) -> Result<T, ConfigError> {
    let mut failed_path: Option<String> = None;
    let result = serde_saphyr::with_deserializer_from_str(text, |deserializer| {
        serde_path_to_error::deserialize::<_, T>(deserializer).map_err(|error| {
            failed_path = Some(error.path().to_string());
            error.into_inner()
        })
    });
    result.map_err(|error| {
        let (line, column) = error
            .location()
            .map_or((0, 0), |location| (location.line(), location.column()));
        let field = failed_path.as_deref().map(clean_path).unwrap_or_default();
        ConfigError::at(file, (line, column), field, bare_message(&error))
    })
}

/// `serde_path_to_error` shows the root as `.` and steps into `Spanned`'s inner `value`;
/// neither means anything to the person who wrote the file.
fn clean_path(path: &str) -> String {
    if path == "." {
        return String::new();
    }
    path.split('.')
        .filter(|segment| *segment != "value")
        .collect::<Vec<_>>()
        .join(".")
}

/// The parser's message without the snippet and the `line N column M:` prefix it adds, since
/// [`ConfigError`] carries the location itself.
fn bare_message(error: &serde_saphyr::Error) -> String {
    let text = error.without_snippet().to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    let text = match text.strip_prefix("line ") {
        Some(rest) => rest.split_once(": ").map_or(rest, |(_, message)| message),
        None => text,
    };
    let text = text.lines().next().unwrap_or_default();
    // "unexpected end of input at line 1, column 1": the location is reported separately.
    let text = text.split(" at line ").next().unwrap_or(text);
    text.trim_end_matches('.').to_string()
}
