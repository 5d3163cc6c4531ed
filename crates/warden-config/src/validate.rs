//! Raw → typed: every value checked, every problem collected (not just the first) with the
//! line and column of the value at fault. Pure: no file, network or environment access.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_saphyr::Spanned;
use url::Url;
use warden_core::{RunbookId, format_duration, parse_duration};

use crate::model::{
    DEFAULT_LEASE_TTL, DEFAULT_LISTEN, DEFAULT_TIMEOUT, DetectorConfig, NotificationConfig,
    NotificationTarget,
};
mod drift;
mod models;
mod pipelines;
mod serving;

use crate::raw::{self, RawConfig, RawSecret};
use crate::{
    AirflowConfig, AlertmanagerConfig, ApiToken, Config, ConfigError, ConfigErrors, Connectors,
    FeastConfig, HttpEndpoint, KfpConfig, KubernetesConfig, MlflowConfig, ModelServerConfig,
    ObjectStoreConfig, PrometheusConfig, Role, RunbooksConfig, SecretRef, ServerConfig,
    StoreConfig,
};

/// Parses `kind/name` or `kind/namespace/name`.
fn parse_target(text: &str) -> Result<warden_core::Target, String> {
    use warden_core::{Target, TargetKind};
    let parts: Vec<&str> = text.split('/').collect();
    let kind = match parts[0] {
        "pipeline" => TargetKind::Pipeline,
        "service" => TargetKind::Service,
        "feature_view" => TargetKind::FeatureView,
        "model" => TargetKind::Model,
        "drift_monitor" => TargetKind::DriftMonitor,
        other => {
            return Err(format!(
                "unknown target kind {other:?} (pipeline, service, feature_view, model, drift_monitor)"
            ));
        }
    };
    match parts[1..] {
        [name] if !name.is_empty() => Ok(Target::new(kind, name)),
        [namespace, name] if !namespace.is_empty() && !name.is_empty() => {
            Ok(Target::new(kind, name).in_namespace(namespace))
        }
        _ => Err(format!("{text:?} is not kind/name or kind/namespace/name")),
    }
}

/// The longest request timeout accepted: an on-call tool must not hang for longer.
const MAX_TIMEOUT: Duration = Duration::from_secs(600);

pub(super) const HTTP_SCHEMES: &[&str] = &["http", "https"];
const REDIS_SCHEMES: &[&str] = &["redis", "rediss"];

/// Validates `raw`, read from `file`, into a [`Config`].
///
/// # Errors
/// [`ConfigErrors`] listing every invalid value, in file order.
pub fn validate(file: &Path, raw: RawConfig) -> Result<Config, ConfigErrors> {
    let (config, errors) = validate_all(file, raw);
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Validates `raw` as far as it goes: the configuration with every invalid value left at its
/// default, and every problem in file order. For `warden config check`, which goes on to the
/// checks that need a configuration so it can report all problems at once.
pub fn validate_all(file: &Path, raw: RawConfig) -> (Config, Vec<ConfigError>) {
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut check = Checker {
        file,
        base: &base,
        errors: Vec::new(),
    };
    if let Some(version) = &raw.version
        && version.value != 1
    {
        check.error(
            version,
            "version",
            format!("unsupported version {}; only 1 exists", version.value),
        );
    }
    let data_dir = match &raw.data_dir {
        Some(dir) => check.path("data_dir", dir),
        None => base.join("warden-data"),
    };
    let store = check.store(raw.store.as_ref(), &data_dir);
    let server = check.server(raw.server.as_ref());
    let connectors = check.connectors(&raw.connectors);
    let runbooks = check.runbooks(raw.runbooks.as_ref());
    let notifications = check.notifications(&raw.notifications);
    let detectors = check.detectors(&raw.detectors, raw.connectors.prometheus.is_some());
    let serving = check.serving(&raw.serving, raw.connectors.kubernetes.is_some());
    let models = check.models(&raw.models, raw.connectors.prometheus.is_some());
    let pipelines = check.pipelines(
        &raw.pipelines,
        raw.connectors.airflow.is_some(),
        raw.connectors.kfp.is_some(),
    );
    let drift_monitors = check.drift_monitors(
        &raw.drift_monitors,
        &drift::DriftNeeds {
            have_prometheus: raw.connectors.prometheus.is_some(),
            have_airflow: raw.connectors.airflow.is_some(),
            have_kfp: raw.connectors.kfp.is_some(),
        },
    );
    let mut gate_queries = std::collections::BTreeMap::new();
    for (check_name, query) in &raw.gate_queries {
        let field = format!("gate_queries.{check_name}");
        if raw.connectors.prometheus.is_none() {
            check.error(query, &field, "gate queries need connectors.prometheus");
        }
        gate_queries.insert(check_name.clone(), check.text(&field, query));
    }
    check.errors.sort_by_key(|error| (error.line, error.column));
    let config = Config {
        source: file.to_path_buf(),
        data_dir,
        store,
        server,
        connectors,
        runbooks,
        notifications,
        detectors,
        gate_queries,
        serving,
        models,
        pipelines,
        drift_monitors,
    };
    (config, check.errors)
}

struct Checker<'a> {
    file: &'a Path,
    base: &'a Path,
    errors: Vec<ConfigError>,
}

fn location<T>(value: &Spanned<T>) -> (u64, u64) {
    (value.referenced.line(), value.referenced.column())
}

impl Checker<'_> {
    fn error<T>(&mut self, at: &Spanned<T>, field: &str, message: impl Into<String>) {
        self.errors
            .push(ConfigError::at(self.file, location(at), field, message));
    }

    fn path(&mut self, field: &str, value: &Spanned<String>) -> PathBuf {
        if value.value.trim().is_empty() {
            self.error(value, field, "must not be empty");
        }
        // `~/` is kept as written and expanded where the file is opened: expanding it here
        // would read the environment, and validation is pure.
        if value.value.starts_with("~/") {
            return PathBuf::from(&value.value);
        }
        self.base.join(&value.value)
    }

    fn text(&mut self, field: &str, value: &Spanned<String>) -> String {
        let text = value.value.trim();
        if text.is_empty() {
            self.error(value, field, "must not be empty");
        }
        text.to_string()
    }

    fn url(&mut self, field: &str, value: &Spanned<String>, schemes: &[&str]) -> Option<Url> {
        let parsed = match Url::parse(value.value.trim()) {
            Ok(url) => url,
            Err(err) => {
                self.error(
                    value,
                    field,
                    format!("invalid URL {:?}: {err}", value.value),
                );
                return None;
            }
        };
        if !schemes.contains(&parsed.scheme()) {
            self.error(
                value,
                field,
                format!(
                    "URL {:?} has scheme {:?}; expected {}",
                    value.value,
                    parsed.scheme(),
                    schemes.join(" or ")
                ),
            );
            return None;
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            self.error(value, field, format!("URL {:?} has no host", value.value));
            return None;
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            self.error(
                value,
                field,
                "URL carries credentials; put them in a secret reference ({env: …} or {file: …})",
            );
            return None;
        }
        Some(parsed)
    }

    /// An optional duration in `(0, max]`.
    fn bounded_duration(
        &mut self,
        field: &str,
        value: Option<&Spanned<String>>,
        max: Duration,
    ) -> Option<Duration> {
        let value = value?;
        match parse_duration(&value.value) {
            Ok(duration) if !duration.is_zero() && duration <= max => Some(duration),
            Ok(_) => {
                self.error(
                    value,
                    field,
                    format!(
                        "must be greater than zero and at most {}",
                        format_duration(max)
                    ),
                );
                None
            }
            Err(err) => {
                self.error(value, field, err.to_string());
                None
            }
        }
    }

    fn timeout(&mut self, field: &str, value: Option<&Spanned<String>>) -> Duration {
        let Some(value) = value else {
            return DEFAULT_TIMEOUT;
        };
        match parse_duration(&value.value) {
            Ok(duration) if duration.is_zero() => {
                self.error(value, field, "must be greater than zero");
                DEFAULT_TIMEOUT
            }
            Ok(duration) if duration > MAX_TIMEOUT => {
                self.error(
                    value,
                    field,
                    format!("{} is longer than the 10m limit", value.value),
                );
                DEFAULT_TIMEOUT
            }
            Ok(duration) => duration,
            Err(err) => {
                self.error(value, field, err.to_string());
                DEFAULT_TIMEOUT
            }
        }
    }

    fn endpoint(
        &mut self,
        prefix: &str,
        url: &Spanned<String>,
        timeout: Option<&Spanned<String>>,
    ) -> Option<HttpEndpoint> {
        let timeout = self.timeout(&format!("{prefix}.timeout"), timeout);
        let url = self.url(&format!("{prefix}.url"), url, HTTP_SCHEMES)?;
        Some(HttpEndpoint { url, timeout })
    }

    fn secret(&mut self, field: &str, value: &Spanned<RawSecret>) -> Option<SecretRef> {
        match (&value.value.env, &value.value.file) {
            (Some(name), None) => {
                let valid = name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if valid {
                    Some(SecretRef::Env(name.clone()))
                } else {
                    self.error(
                        value,
                        &format!("{field}.env"),
                        format!("{name:?} is not a valid environment variable name"),
                    );
                    None
                }
            }
            (None, Some(path)) if !path.trim().is_empty() => {
                Some(SecretRef::file_relative_to(self.base, path))
            }
            (None, Some(_)) => {
                self.error(value, &format!("{field}.file"), "must not be empty");
                None
            }
            _ => {
                self.error(
                    value,
                    field,
                    "a secret reference needs exactly one of `env: VARIABLE` or `file: PATH`",
                );
                None
            }
        }
    }

    fn optional_secret(
        &mut self,
        field: &str,
        value: Option<&Spanned<RawSecret>>,
    ) -> Option<SecretRef> {
        value.and_then(|value| self.secret(field, value))
    }

    fn store(&mut self, store: Option<&Spanned<raw::RawStore>>, data_dir: &Path) -> StoreConfig {
        let default = StoreConfig::Sqlite {
            path: data_dir.join("warden.db"),
        };
        let Some(store) = store else {
            return default;
        };
        match (&store.value.sqlite, &store.value.postgres) {
            (Some(sqlite), None) => match &sqlite.path {
                Some(path) => {
                    if path.value.trim().is_empty() {
                        self.error(path, "store.sqlite.path", "must not be empty");
                    }
                    StoreConfig::Sqlite {
                        path: data_dir.join(&path.value),
                    }
                }
                None => default,
            },
            (None, Some(postgres)) => {
                let url = self.secret("store.postgres.url", &postgres.url);
                let max_connections = match &postgres.max_connections {
                    Some(max) if max.value == 0 || max.value > 1000 => {
                        self.error(
                            max,
                            "store.postgres.max_connections",
                            "must be between 1 and 1000",
                        );
                        10
                    }
                    Some(max) => max.value,
                    None => 10,
                };
                match url {
                    Some(url) => StoreConfig::Postgres {
                        url,
                        max_connections,
                    },
                    None => default,
                }
            }
            _ => {
                self.error(
                    store,
                    "store",
                    "choose exactly one backend: `sqlite:` or `postgres:`",
                );
                default
            }
        }
    }

    fn server(&mut self, server: Option<&raw::RawServer>) -> ServerConfig {
        let default: SocketAddr = DEFAULT_LISTEN
            .parse()
            .unwrap_or_else(|_| unreachable!("constant address parses"));
        let listen = match server.and_then(|server| server.listen.as_ref()) {
            Some(listen) => match listen.value.trim().parse::<SocketAddr>() {
                Ok(address) => address,
                Err(_) => {
                    self.error(
                        listen,
                        "server.listen",
                        format!("{:?} is not an address like 127.0.0.1:8181", listen.value),
                    );
                    default
                }
            },
            None => default,
        };
        let mut tokens: Vec<ApiToken> = Vec::new();
        for (index, raw) in server
            .map(|server| server.tokens.as_slice())
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let field = format!("server.tokens[{index}]");
            let name = self.text(&format!("{field}.name"), &raw.value.name);
            if tokens.iter().any(|token| token.name == name) {
                self.error(
                    &raw.value.name,
                    &format!("{field}.name"),
                    format!("duplicate token name {name:?}"),
                );
            }
            let role = match raw.value.role.value.as_str() {
                "viewer" => Role::Viewer,
                "responder" => Role::Responder,
                "admin" => Role::Admin,
                other => {
                    self.error(
                        &raw.value.role,
                        &format!("{field}.role"),
                        format!("unknown role {other:?} (viewer, responder or admin)"),
                    );
                    Role::Viewer
                }
            };
            if let Some(token) = self.secret(&format!("{field}.token"), &raw.value.token) {
                if let Some(same) = tokens.iter().find(|t| t.token == token) {
                    // One credential with two roles: whichever entry won would decide what it
                    // may do, silently.
                    self.error(
                        &raw.value.name,
                        &format!("{field}.token"),
                        format!(
                            "the same token as {:?}: one token must have one role",
                            same.name
                        ),
                    );
                }
                tokens.push(ApiToken { name, role, token });
            }
        }
        let lease_ttl = match server.and_then(|s| s.lease_ttl.as_ref()) {
            None => DEFAULT_LEASE_TTL,
            Some(value) => match parse_duration(&value.value) {
                Ok(ttl) if ttl >= Duration::from_secs(3) && ttl <= Duration::from_secs(600) => ttl,
                Ok(_) => {
                    self.error(value, "server.lease_ttl", "must be between 3s and 10m");
                    DEFAULT_LEASE_TTL
                }
                Err(err) => {
                    self.error(value, "server.lease_ttl", err.to_string());
                    DEFAULT_LEASE_TTL
                }
            },
        };
        ServerConfig {
            listen,
            tokens,
            lease_ttl,
        }
    }

    fn connectors(&mut self, raw: &raw::RawConnectors) -> Connectors {
        let mut connectors = Connectors::default();
        if let Some(prometheus) = &raw.prometheus {
            connectors.prometheus = self
                .endpoint(
                    "connectors.prometheus",
                    &prometheus.url,
                    prometheus.timeout.as_ref(),
                )
                .map(|endpoint| PrometheusConfig { endpoint });
        }
        if let Some(alertmanager) = &raw.alertmanager {
            let endpoint = self.endpoint(
                "connectors.alertmanager",
                &alertmanager.url,
                alertmanager.timeout.as_ref(),
            );
            let webhook_secret = self.optional_secret(
                "connectors.alertmanager.webhook_secret",
                alertmanager.webhook_secret.as_ref(),
            );
            connectors.alertmanager = endpoint.map(|endpoint| AlertmanagerConfig {
                endpoint,
                webhook_secret,
            });
        }
        if let Some(mlflow) = &raw.mlflow {
            let endpoint = self.endpoint("connectors.mlflow", &mlflow.url, mlflow.timeout.as_ref());
            let token = self.optional_secret("connectors.mlflow.token", mlflow.token.as_ref());
            connectors.mlflow = endpoint.map(|endpoint| MlflowConfig { endpoint, token });
        }
        if let Some(server) = &raw.model_server {
            let endpoint = self.endpoint(
                "connectors.model_server",
                &server.url,
                server.timeout.as_ref(),
            );
            let model = self.text("connectors.model_server.model", &server.model);
            let metrics_url = server
                .metrics_url
                .as_ref()
                .and_then(|url| self.url("connectors.model_server.metrics_url", url, HTTP_SCHEMES));
            connectors.model_server = endpoint.map(|endpoint| ModelServerConfig {
                endpoint,
                model,
                metrics_url,
            });
        }
        if let Some(feast) = &raw.feast {
            let endpoint = self.endpoint("connectors.feast", &feast.url, feast.timeout.as_ref());
            let registry_url = feast
                .registry_url
                .as_ref()
                .and_then(|url| self.url("connectors.feast.registry_url", url, HTTP_SCHEMES));
            let registry_path = feast
                .registry_path
                .as_ref()
                .map(|path| self.path("connectors.feast.registry_path", path));
            if let (Some(_), Some(path)) = (&feast.registry_url, &feast.registry_path) {
                self.error(
                    path,
                    "connectors.feast.registry_path",
                    "give either registry_url or registry_path, not both",
                );
            }
            let project = self.text("connectors.feast.project", &feast.project);
            let redis_url = feast
                .redis_url
                .as_ref()
                .and_then(|url| self.url("connectors.feast.redis_url", url, REDIS_SCHEMES));
            let redis_password = self.optional_secret(
                "connectors.feast.redis_password",
                feast.redis_password.as_ref(),
            );
            let proxy_url = feast
                .proxy_url
                .as_ref()
                .and_then(|url| self.url("connectors.feast.proxy_url", url, HTTP_SCHEMES));
            let proxy_token =
                self.optional_secret("connectors.feast.proxy_token", feast.proxy_token.as_ref());
            let repo = feast
                .repo
                .as_ref()
                .map(|path| self.path("connectors.feast.repo", path));
            let day = Duration::from_secs(86_400);
            let sla = self
                .bounded_duration("connectors.feast.sla", feast.sla.as_ref(), day)
                .unwrap_or(Duration::from_secs(15 * 60));
            let check_every = self.bounded_duration(
                "connectors.feast.check_every",
                feast.check_every.as_ref(),
                Duration::from_secs(3600),
            );
            let materialization_dag = feast
                .materialization_dag
                .as_ref()
                .map(|dag| self.text("connectors.feast.materialization_dag", dag));
            if let Some(dag) = &feast.materialization_dag
                && raw.airflow.is_none()
            {
                self.error(
                    dag,
                    "connectors.feast.materialization_dag",
                    "needs connectors.airflow to pause and resume it",
                );
            }
            let materialization_cronjob = feast
                .materialization_cronjob
                .as_ref()
                .map(|name| self.text("connectors.feast.materialization_cronjob", name));
            let online_store_workload = feast.online_store_workload.as_ref().map(|workload| {
                let text = self.text("connectors.feast.online_store_workload", workload);
                let valid = text.split_once('/').is_some_and(|(kind, name)| {
                    matches!(kind, "statefulset" | "deployment") && !name.is_empty()
                });
                if !valid {
                    self.error(
                        workload,
                        "connectors.feast.online_store_workload",
                        "expected statefulset/NAME or deployment/NAME",
                    );
                }
                text
            });
            for (field, value) in [
                (
                    "connectors.feast.materialization_cronjob",
                    &feast.materialization_cronjob,
                ),
                (
                    "connectors.feast.online_store_workload",
                    &feast.online_store_workload,
                ),
            ] {
                if let Some(value) = value
                    && raw.kubernetes.is_none()
                {
                    self.error(value, field, "needs connectors.kubernetes");
                }
            }
            let requests_query = feast.requests_query.as_ref().map(|query| {
                if raw.prometheus.is_none() {
                    self.error(
                        query,
                        "connectors.feast.requests_query",
                        "needs connectors.prometheus",
                    );
                }
                self.text("connectors.feast.requests_query", query)
            });
            connectors.feast = endpoint.map(|endpoint| FeastConfig {
                endpoint,
                registry_url,
                registry_path,
                project,
                redis_url,
                redis_password,
                proxy_url,
                proxy_token,
                repo,
                sla,
                check_every,
                materialization_dag,
                materialization_cronjob,
                online_store_workload,
                requests_query,
            });
        }
        if let Some(airflow) = &raw.airflow {
            let endpoint =
                self.endpoint("connectors.airflow", &airflow.url, airflow.timeout.as_ref());
            let username = self.text("connectors.airflow.username", &airflow.username);
            let password = self.secret("connectors.airflow.password", &airflow.password);
            if let (Some(endpoint), Some(password)) = (endpoint, password) {
                connectors.airflow = Some(AirflowConfig {
                    endpoint,
                    username,
                    password,
                });
            }
        }
        if let Some(kfp) = &raw.kfp {
            let endpoint = self.endpoint("connectors.kfp", &kfp.url, kfp.timeout.as_ref());
            let namespace = match &kfp.namespace {
                Some(namespace) => self.text("connectors.kfp.namespace", namespace),
                None => "kubeflow".to_string(),
            };
            let token = self.optional_secret("connectors.kfp.token", kfp.token.as_ref());
            connectors.kfp = endpoint.map(|endpoint| KfpConfig {
                endpoint,
                namespace,
                token,
            });
        }
        if let Some(kubernetes) = &raw.kubernetes {
            let in_cluster = kubernetes.in_cluster.unwrap_or(false);
            let kubeconfig = kubernetes
                .kubeconfig
                .as_ref()
                .map(|path| self.path("connectors.kubernetes.kubeconfig", path));
            if let (true, Some(path)) = (in_cluster, &kubernetes.kubeconfig) {
                self.error(
                    path,
                    "connectors.kubernetes.kubeconfig",
                    "set either `in_cluster: true` or `kubeconfig`, not both",
                );
            }
            let namespace = match &kubernetes.namespace {
                Some(namespace) => self.text("connectors.kubernetes.namespace", namespace),
                None => "default".to_string(),
            };
            connectors.kubernetes = Some(KubernetesConfig {
                in_cluster,
                kubeconfig,
                context: kubernetes.context.clone(),
                namespace,
            });
        }
        if let Some(store) = &raw.object_store {
            let endpoint = store
                .endpoint
                .as_ref()
                .and_then(|url| self.url("connectors.object_store.endpoint", url, HTTP_SCHEMES));
            let access_key_id = self.optional_secret(
                "connectors.object_store.access_key_id",
                store.access_key_id.as_ref(),
            );
            let secret_access_key = self.optional_secret(
                "connectors.object_store.secret_access_key",
                store.secret_access_key.as_ref(),
            );
            connectors.object_store = Some(ObjectStoreConfig {
                endpoint,
                region: store
                    .region
                    .clone()
                    .unwrap_or_else(|| "us-east-1".to_string()),
                access_key_id,
                secret_access_key,
            });
        }
        connectors
    }

    fn notifications(&mut self, raw: &[Spanned<raw::RawNotification>]) -> Vec<NotificationConfig> {
        let mut channels: Vec<NotificationConfig> = Vec::new();
        for (index, entry) in raw.iter().enumerate() {
            let field = format!("notifications[{index}]");
            let value = &entry.value;
            let name = self.text(&format!("{field}.name"), &value.name);
            if channels.iter().any(|channel| channel.name == name) {
                self.error(
                    &value.name,
                    &format!("{field}.name"),
                    format!("duplicate channel name {name:?}"),
                );
            }
            let timeout = self.timeout(&format!("{field}.timeout"), value.timeout.as_ref());
            let secret = value
                .secret
                .as_ref()
                .and_then(|secret| self.secret(&format!("{field}.secret"), secret));
            let url = value
                .url
                .as_ref()
                .and_then(|url| self.url(&format!("{field}.url"), url, HTTP_SCHEMES));
            let target = match value.kind.value.as_str() {
                "webhook" => match url {
                    Some(url) => Some(NotificationTarget::Webhook { url, token: secret }),
                    None => {
                        if value.url.is_none() {
                            self.error(entry, &field, "a webhook channel needs `url`");
                        }
                        None
                    }
                },
                "slack" => match secret {
                    Some(webhook_url) => Some(NotificationTarget::Slack { webhook_url }),
                    None => {
                        if value.secret.is_none() {
                            self.error(
                                entry,
                                &field,
                                "a slack channel needs `secret` (the incoming-webhook URL)",
                            );
                        }
                        None
                    }
                },
                "pagerduty" => {
                    let default = Url::parse("https://events.pagerduty.com/v2/enqueue").ok();
                    match (secret, url.or(default)) {
                        (Some(routing_key), Some(url)) => {
                            Some(NotificationTarget::Pagerduty { routing_key, url })
                        }
                        (None, _) if value.secret.is_none() => {
                            self.error(
                                entry,
                                &field,
                                "a pagerduty channel needs `secret` (the routing key)",
                            );
                            None
                        }
                        _ => None,
                    }
                }
                other => {
                    self.error(
                        &value.kind,
                        &format!("{field}.kind"),
                        format!("unknown kind {other:?} (webhook, slack or pagerduty)"),
                    );
                    None
                }
            };
            if let Some(target) = target {
                channels.push(NotificationConfig {
                    name,
                    target,
                    timeout,
                });
            }
        }
        channels
    }

    fn detectors(
        &mut self,
        raw: &[Spanned<raw::RawDetector>],
        have_prometheus: bool,
    ) -> Vec<DetectorConfig> {
        let mut detectors: Vec<DetectorConfig> = Vec::new();
        for (index, entry) in raw.iter().enumerate() {
            let field = format!("detectors[{index}]");
            let value = &entry.value;
            let name = self.text(&format!("{field}.name"), &value.name);
            if detectors.iter().any(|detector| detector.name == name) {
                self.error(
                    &value.name,
                    &format!("{field}.name"),
                    format!("duplicate detector name {name:?}"),
                );
            }
            if value.kind.value != "promql_threshold" {
                self.error(
                    &value.kind,
                    &format!("{field}.kind"),
                    format!("unknown kind {:?} (promql_threshold)", value.kind.value),
                );
                continue;
            }
            if !have_prometheus {
                self.error(
                    &value.kind,
                    &format!("{field}.kind"),
                    "promql_threshold needs connectors.prometheus",
                );
            }
            let runbook = self.text(&format!("{field}.runbook"), &value.runbook);
            let query = self.text(&format!("{field}.query"), &value.query);
            let target = match parse_target(&value.target.value) {
                Ok(target) => Some(target),
                Err(message) => {
                    self.error(&value.target, &format!("{field}.target"), message);
                    None
                }
            };
            let (above, threshold) = match (value.above, value.below) {
                (Some(above), None) => (true, above),
                (None, Some(below)) => (false, below),
                _ => {
                    self.error(
                        entry,
                        &field,
                        "a threshold detector needs exactly one of `above` or `below`",
                    );
                    (true, 0.0)
                }
            };
            let week = Duration::from_secs(7 * 86_400);
            let sustain = match &value.sustain {
                Some(text) => match parse_duration(&text.value) {
                    Ok(duration) if duration <= week => duration,
                    Ok(_) => {
                        self.error(text, &format!("{field}.for"), "must be at most 7d");
                        Duration::ZERO
                    }
                    Err(err) => {
                        self.error(text, &format!("{field}.for"), err.to_string());
                        Duration::ZERO
                    }
                },
                None => Duration::ZERO,
            };
            let every = match &value.every {
                Some(text) => match parse_duration(&text.value) {
                    Ok(duration)
                        if !duration.is_zero() && duration <= Duration::from_secs(3600) =>
                    {
                        duration
                    }
                    Ok(_) => {
                        self.error(
                            text,
                            &format!("{field}.every"),
                            "must be between 1ms and 1h",
                        );
                        Duration::from_secs(30)
                    }
                    Err(err) => {
                        self.error(text, &format!("{field}.every"), err.to_string());
                        Duration::from_secs(30)
                    }
                },
                None => Duration::from_secs(30),
            };
            let severity = match &value.severity {
                Some(text) => text.value.parse().unwrap_or_else(|message| {
                    self.error(text, &format!("{field}.severity"), message);
                    warden_core::Severity::High
                }),
                None => warden_core::Severity::High,
            };
            if let Some(target) = target {
                detectors.push(DetectorConfig {
                    name,
                    runbook,
                    target,
                    query,
                    above,
                    threshold,
                    sustain,
                    every,
                    severity,
                });
            }
        }
        detectors
    }

    fn runbooks(&mut self, raw: Option<&raw::RawRunbooks>) -> RunbooksConfig {
        let Some(raw) = raw else {
            return RunbooksConfig::default();
        };
        let paths = raw
            .paths
            .iter()
            .map(|path| self.path("runbooks.paths", path))
            .collect();
        let mut disabled = Vec::new();
        for id in &raw.disabled {
            if RunbookId::new(id.value.as_str()).is_built_in() {
                disabled.push(id.value.clone());
            } else {
                self.error(
                    id,
                    "runbooks.disabled",
                    format!(
                        "{:?} is not a built-in runbook (built-in: {})",
                        id.value,
                        RunbookId::BUILT_IN.join(", ")
                    ),
                );
            }
        }
        RunbooksConfig { paths, disabled }
    }
}
