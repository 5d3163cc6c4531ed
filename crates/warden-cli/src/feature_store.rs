//! Runbook 4 in the daemon: the scheduled feature-store check that opens incidents
//! (`feature_freshness`, `online_store_health`), the evidence collectors behind its
//! diagnostics (`feature_freshness`, `online_store_health`, `schema_check`), the
//! `switch_feature_fallback` action on the feature proxy, `pause_materialization` and
//! `resume_materialization` on the Airflow DAG that materializes (with its recent runs as
//! `materialization_status` evidence), and the closure gates judged from
//! Feast and Redis (`feature_freshness_minutes`, `online_matches_offline`,
//! `materialization_succeeded`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use warden_config::{AirflowConfig, FeastConfig, HttpEndpoint, Secret};
use warden_connect::{AirflowClient, HttpClient};
use warden_core::{Finding, Incident, RunbookId, Severity, Target, TargetKind};
use warden_engine::executor::{
    ActionError, ActionHandler, ActionRequest, BoxFuture, Collected, CollectorRegistry,
    EvidenceCollector, GateEvaluator, GateVerdict,
};
use warden_feast::freshness::FreshnessStatus;
use warden_feast::registry_file::RegistryFile;
use warden_feast::status::{self, FeastSources, FeastStatus, StatusOptions};
use warden_feast::{FeatureServerClient, RegistryClient, RegistrySource};
use warden_runbook::Gate;
use warden_server::AppState;

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
                    match state.manager.ingest(&finding).await {
                        Ok(ingested) => {
                            state.metrics.detector_findings("feature_store");
                            if let Err(err) = state.advance(ingested.incident()).await
                                && verbose
                            {
                                eprintln!(
                                    "warden: advancing {} failed: {err}",
                                    ingested.incident()
                                );
                            }
                        }
                        Err(err) if verbose => {
                            eprintln!("warden: feature-store finding not recorded: {err}");
                        }
                        Err(_) => {}
                    }
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

/// `switch_feature_fallback`: sets the feature proxy's mode (`enabled: true` → `fallback`,
/// `false` → `auto`) and reads it back.
pub struct SwitchFeatureFallback {
    proxy: HttpClient,
}

#[derive(Deserialize)]
struct ProxyState {
    mode: String,
    fallback_values: u64,
}

impl SwitchFeatureFallback {
    /// A handler for the proxy at `url`.
    pub fn new(url: url::Url, token: Option<Secret>) -> Result<Self, String> {
        let client = HttpClient::new(&HttpEndpoint {
            url,
            timeout: Duration::from_secs(5),
        })
        .map_err(|err| err.to_string())?;
        Ok(Self {
            proxy: match token {
                Some(token) => client.with_bearer(token),
                None => client,
            },
        })
    }

    fn wanted(request: &ActionRequest) -> Result<&'static str, ActionError> {
        match request
            .params
            .get("enabled")
            .and_then(serde_json::Value::as_bool)
        {
            Some(true) => Ok("fallback"),
            Some(false) => Ok("auto"),
            None => Err(ActionError {
                message: "switch_feature_fallback needs `enabled: true|false`".into(),
                retryable: false,
            }),
        }
    }

    async fn current(&self) -> Result<ProxyState, ActionError> {
        self.proxy
            .get_json("/warden/status", &[])
            .await
            .map_err(|err| ActionError {
                retryable: err.is_retryable(),
                message: format!("feature proxy: {err}"),
            })
    }
}

impl ActionHandler for SwitchFeatureFallback {
    fn plan<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            let wanted = Self::wanted(request)?;
            let now = self.current().await?;
            Ok(if now.mode == wanted {
                format!(
                    "feature proxy {} already in {wanted} mode: nothing to do",
                    self.proxy.base()
                )
            } else {
                format!(
                    "would switch feature proxy {} from {} to {wanted} mode",
                    self.proxy.base(),
                    now.mode
                )
            })
        })
    }

    fn execute<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            let wanted = Self::wanted(request)?;
            let before = self.current().await?;
            if before.mode != wanted {
                let _: serde_json::Value = self
                    .proxy
                    .send_body(
                        reqwest::Method::POST,
                        "/warden/mode",
                        &serde_json::json!({ "mode": wanted }),
                    )
                    .await
                    .map_err(|err| ActionError {
                        retryable: err.is_retryable(),
                        message: format!("feature proxy: {err}"),
                    })?;
            }
            let after = self.current().await?;
            if after.mode != wanted {
                return Err(ActionError {
                    message: format!(
                        "feature proxy reports {} mode after switching to {wanted}",
                        after.mode
                    ),
                    retryable: true,
                });
            }
            Ok(format!(
                "feature proxy {} in {wanted} mode (was {}; {} values served from cache so far)",
                self.proxy.base(),
                before.mode,
                after.fallback_values
            ))
        })
    }
}

/// Runbook 4's closure gates, judged from Feast and Redis.
pub struct FeastGates {
    sources: FeastSources,
    sla: Duration,
    repo: std::path::PathBuf,
}

impl FeastGates {
    /// Gates over `feast`'s sources.
    pub fn new(feast: &FeastConfig) -> Result<Self, String> {
        Ok(Self {
            sources: sources(feast)?,
            sla: feast.sla,
            repo: feast.repo.clone().unwrap_or_else(|| ".".into()),
        })
    }
}

impl GateEvaluator for FeastGates {
    fn evaluate<'a>(
        &'a self,
        _incident: &'a Incident,
        gate: &'a Gate,
    ) -> BoxFuture<'a, Result<Option<GateVerdict>, String>> {
        Box::pin(async move {
            let check = gate.check.as_str();
            if !matches!(
                check,
                "feature_freshness_minutes"
                    | "online_matches_offline"
                    | "materialization_succeeded"
            ) {
                return Ok(None);
            }
            // The stricter of the runbook's threshold and the configured SLA: a gate must not
            // pass while the detector, judging by the SLA, still sees the views as stale.
            let sla = match (check, gate.below) {
                ("feature_freshness_minutes", Some(minutes)) => {
                    Duration::from_secs_f64((minutes * 60.0).max(1.0)).min(self.sla)
                }
                _ => self.sla,
            };
            let options = StatusOptions {
                sla,
                ..StatusOptions::default()
            };
            let found = status::collect(&self.sources, &options)
                .await
                .map_err(|err| err.to_string())?;
            let views = self
                .sources
                .registry
                .feature_views()
                .await
                .map_err(|err| err.to_string())?;
            let window = if gate.hold_for.is_zero() {
                warden_feast::closure::DEFAULT_WINDOW
            } else {
                gate.hold_for
            };
            let gates =
                warden_feast::closure::evaluate(&found, &views, &self.repo, window, self.sla);
            let wanted = match check {
                "feature_freshness_minutes" => "freshness_within_sla",
                other => other,
            };
            Ok(gates
                .into_iter()
                .find(|g| g.gate == wanted)
                .map(|g| GateVerdict {
                    passed: g.passed,
                    explanation: g.details.join("; "),
                }))
        })
    }
}

/// The marker a pause leaves when the DAG was paused before Warden touched it, so the
/// resume at closure leaves it as it was found.
const FOUND_PAUSED: &str = "was already paused: left as found";

/// `pause_materialization` / `resume_materialization` on the materialization DAG.
pub struct MaterializationSchedule {
    airflow: AirflowConfig,
    dag: String,
    pause: bool,
}

impl MaterializationSchedule {
    async fn client(&self) -> Result<AirflowClient, ActionError> {
        let password = self.airflow.password.resolve().map_err(|err| ActionError {
            message: format!("connectors.airflow.password: {err}"),
            retryable: false,
        })?;
        AirflowClient::connect(&self.airflow.endpoint, &self.airflow.username, &password)
            .await
            .map_err(airflow_error)
    }

    /// The pause step this resume undoes, if it found the DAG already paused.
    fn paused_before_warden(request: &ActionRequest) -> bool {
        request
            .earlier_results
            .values()
            .any(|result| result.contains(FOUND_PAUSED) && result.contains("Airflow DAG"))
    }
}

fn airflow_error(err: warden_connect::ConnectError) -> ActionError {
    ActionError {
        retryable: err.is_retryable(),
        message: format!("Airflow: {err}"),
    }
}

impl ActionHandler for MaterializationSchedule {
    fn plan<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            let dag = self
                .client()
                .await?
                .dag(&self.dag)
                .await
                .map_err(airflow_error)?;
            Ok(match (self.pause, dag.is_paused) {
                (true, true) => {
                    format!("Airflow DAG {} is already paused: nothing to do", self.dag)
                }
                (true, false) => format!("would pause Airflow DAG {}", self.dag),
                (false, true) if Self::paused_before_warden(request) => format!(
                    "Airflow DAG {} was paused before the incident: would leave it paused",
                    self.dag
                ),
                (false, true) => format!("would unpause Airflow DAG {}", self.dag),
                (false, false) => format!("Airflow DAG {} is not paused: nothing to do", self.dag),
            })
        })
    }

    fn execute<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            let client = self.client().await?;
            let before = client.dag(&self.dag).await.map_err(airflow_error)?;
            if self.pause && before.is_paused {
                return Ok(format!("Airflow DAG {} {FOUND_PAUSED}", self.dag));
            }
            if !self.pause && before.is_paused && Self::paused_before_warden(request) {
                return Ok(format!(
                    "Airflow DAG {} left paused: it was paused before the incident",
                    self.dag
                ));
            }
            if before.is_paused != self.pause {
                client
                    .set_paused(&self.dag, self.pause)
                    .await
                    .map_err(airflow_error)?;
            }
            let after = client.dag(&self.dag).await.map_err(airflow_error)?;
            if after.is_paused != self.pause {
                return Err(ActionError {
                    message: format!(
                        "Airflow DAG {} reports is_paused={} after the change",
                        self.dag, after.is_paused
                    ),
                    retryable: true,
                });
            }
            Ok(format!(
                "Airflow DAG {} {} (read back: is_paused={})",
                self.dag,
                if self.pause { "paused" } else { "unpaused" },
                after.is_paused
            ))
        })
    }
}

/// `materialization_status`: the materialization DAG's recent runs.
struct MaterializationRuns {
    airflow: AirflowConfig,
    dag: String,
}

impl EvidenceCollector for MaterializationRuns {
    fn collect<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<Collected, ActionError>> {
        Box::pin(async move {
            let window = request
                .params
                .get("window")
                .and_then(serde_json::Value::as_str)
                .and_then(|text| warden_core::parse_duration(text).ok())
                .unwrap_or(Duration::from_secs(24 * 3600));
            let since = chrono::Utc::now()
                - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::days(1));
            let schedule = MaterializationSchedule {
                airflow: self.airflow.clone(),
                dag: self.dag.clone(),
                pause: true,
            };
            let client = schedule.client().await?;
            let dag = client.dag(&self.dag).await.map_err(airflow_error)?;
            let mut runs = client
                .recent_runs(&self.dag, 100)
                .await
                .map_err(airflow_error)?;
            runs.retain(|run| run.start_date.is_none_or(|start| start >= since));
            let failed = runs.iter().filter(|r| r.state == "failed").count();
            let last = runs.first().map_or("no runs".to_string(), |r| {
                format!("last run {} {}", r.dag_run_id, r.state)
            });
            Ok(Collected {
                summary: format!(
                    "Airflow DAG {}: {last}; {failed} of {} runs in the last {} failed{}",
                    self.dag,
                    runs.len(),
                    warden_core::format_duration(window),
                    if dag.is_paused { "; paused" } else { "" }
                ),
                name: "materialization-runs.json".into(),
                media_type: "application/json".into(),
                source: self.airflow.endpoint.url.to_string(),
                bytes: serde_json::to_vec_pretty(&serde_json::json!({ "dag": dag, "runs": runs }))
                    .unwrap_or_default(),
            })
        })
    }
}

/// The pause and resume handlers, when a materialization DAG and Airflow are configured.
pub fn schedule_handlers(
    feast: &FeastConfig,
    airflow: Option<&AirflowConfig>,
) -> Vec<(&'static str, Arc<dyn ActionHandler>)> {
    let (Some(dag), Some(airflow)) = (&feast.materialization_dag, airflow) else {
        return Vec::new();
    };
    [
        ("pause_materialization", true),
        ("resume_materialization", false),
    ]
    .into_iter()
    .map(|(name, pause)| {
        let handler: Arc<dyn ActionHandler> = Arc::new(MaterializationSchedule {
            airflow: airflow.clone(),
            dag: dag.clone(),
            pause,
        });
        (name, handler)
    })
    .collect()
}

/// The marker a suspend leaves when the CronJob was suspended before Warden touched it.
const FOUND_SUSPENDED: &str = "was already suspended: left as found";

/// `pause_materialization` / `resume_materialization` on a Kubernetes CronJob.
pub struct MaterializationCronJob {
    kubernetes: warden_config::KubernetesConfig,
    name: String,
    suspend: bool,
}

fn kube_error(message: String) -> ActionError {
    ActionError {
        // API errors from a reachable server (not found, forbidden) will not heal by retrying;
        // connection failures might.
        retryable: !(message.contains("not found") || message.contains("forbidden")),
        message,
    }
}

impl MaterializationCronJob {
    async fn client(&self) -> Result<warden_kube::KubeClient, ActionError> {
        warden_kube::KubeClient::connect(&self.kubernetes)
            .await
            .map_err(kube_error)
    }

    fn suspended_before_warden(request: &ActionRequest) -> bool {
        request
            .earlier_results
            .values()
            .any(|result| result.contains(FOUND_SUSPENDED) && result.contains("CronJob"))
    }
}

impl ActionHandler for MaterializationCronJob {
    fn plan<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            let suspended = self
                .client()
                .await?
                .cronjob_suspended(None, &self.name)
                .await
                .map_err(kube_error)?;
            Ok(match (self.suspend, suspended) {
                (true, true) => {
                    format!("CronJob {} is already suspended: nothing to do", self.name)
                }
                (true, false) => format!("would suspend CronJob {}", self.name),
                (false, true) if Self::suspended_before_warden(request) => format!(
                    "CronJob {} was suspended before the incident: would leave it suspended",
                    self.name
                ),
                (false, true) => format!("would resume CronJob {}", self.name),
                (false, false) => format!("CronJob {} is not suspended: nothing to do", self.name),
            })
        })
    }

    fn execute<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            let client = self.client().await?;
            let before = client
                .cronjob_suspended(None, &self.name)
                .await
                .map_err(kube_error)?;
            if self.suspend && before {
                return Ok(format!("CronJob {} {FOUND_SUSPENDED}", self.name));
            }
            if !self.suspend && before && Self::suspended_before_warden(request) {
                return Ok(format!(
                    "CronJob {} left suspended: it was suspended before the incident",
                    self.name
                ));
            }
            let after = client
                .set_cronjob_suspended(None, &self.name, self.suspend)
                .await
                .map_err(kube_error)?;
            if after != self.suspend {
                return Err(ActionError {
                    message: format!(
                        "CronJob {} reports suspend={after} after the change",
                        self.name
                    ),
                    retryable: true,
                });
            }
            Ok(format!(
                "CronJob {} {} on {} (read back: suspend={after})",
                self.name,
                if self.suspend { "suspended" } else { "resumed" },
                client.server()
            ))
        })
    }
}

/// `scale_online_store`: sets the online store's replicas (`replicas` parameter, default
/// twice the current count) through the workload's `scale` subresource, and reads them back.
pub struct ScaleOnlineStore {
    kubernetes: warden_config::KubernetesConfig,
    workload: warden_kube::Workload,
}

impl ScaleOnlineStore {
    async fn target(
        &self,
        request: &ActionRequest,
    ) -> Result<(warden_kube::KubeClient, i32, i32), ActionError> {
        let client = warden_kube::KubeClient::connect(&self.kubernetes)
            .await
            .map_err(kube_error)?;
        let current = client
            .replicas(None, &self.workload)
            .await
            .map_err(kube_error)?;
        let wanted = match request
            .params
            .get("replicas")
            .and_then(serde_json::Value::as_i64)
        {
            Some(replicas) if replicas >= 1 => i32::try_from(replicas).unwrap_or(i32::MAX),
            Some(replicas) => {
                return Err(ActionError {
                    message: format!("scale_online_store: replicas {replicas} must be at least 1"),
                    retryable: false,
                });
            }
            None => current.saturating_mul(2).max(current + 1),
        };
        Ok((client, current, wanted))
    }
}

impl ActionHandler for ScaleOnlineStore {
    fn plan<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            let (_, current, wanted) = self.target(request).await?;
            Ok(if current == wanted {
                format!(
                    "{} already has {wanted} replicas: nothing to do",
                    self.workload
                )
            } else {
                format!(
                    "would scale {} from {current} to {wanted} replicas",
                    self.workload
                )
            })
        })
    }

    fn execute<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            let (client, current, wanted) = self.target(request).await?;
            let after = if current == wanted {
                current
            } else {
                client
                    .scale(None, &self.workload, wanted)
                    .await
                    .map_err(kube_error)?
            };
            if after != wanted {
                return Err(ActionError {
                    message: format!(
                        "{} reports {after} replicas after scaling to {wanted}",
                        self.workload
                    ),
                    retryable: true,
                });
            }
            Ok(format!(
                "{} scaled from {current} to {after} replicas on {}",
                self.workload,
                client.server()
            ))
        })
    }
}

/// `materialization_status` from the CronJob: its schedule, suspension and last runs.
struct CronJobRuns {
    kubernetes: warden_config::KubernetesConfig,
    name: String,
}

impl EvidenceCollector for CronJobRuns {
    fn collect<'a>(
        &'a self,
        _request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<Collected, ActionError>> {
        Box::pin(async move {
            let client = warden_kube::KubeClient::connect(&self.kubernetes)
                .await
                .map_err(kube_error)?;
            let state = client
                .cronjob_state(None, &self.name)
                .await
                .map_err(kube_error)?;
            Ok(Collected {
                summary: format!(
                    "CronJob {} ({}): last scheduled {}, last succeeded {}{}",
                    self.name,
                    state.schedule,
                    state.last_schedule.as_deref().unwrap_or("never"),
                    state.last_successful.as_deref().unwrap_or("never"),
                    if state.suspended { "; suspended" } else { "" }
                ),
                name: "materialization-cronjob.json".into(),
                media_type: "application/json".into(),
                source: client.server().to_string(),
                bytes: serde_json::to_vec_pretty(&state).unwrap_or_default(),
            })
        })
    }
}

/// The Kubernetes-backed handlers runbook 4 can use: CronJob suspend/resume and the online
/// store's scale, when configured.
pub fn kubernetes_handlers(
    feast: &FeastConfig,
    kubernetes: Option<&warden_config::KubernetesConfig>,
) -> Vec<(&'static str, Arc<dyn ActionHandler>)> {
    let Some(kubernetes) = kubernetes else {
        return Vec::new();
    };
    let mut handlers: Vec<(&'static str, Arc<dyn ActionHandler>)> = Vec::new();
    if let Some(name) = &feast.materialization_cronjob {
        for (action, suspend) in [
            ("pause_materialization", true),
            ("resume_materialization", false),
        ] {
            handlers.push((
                action,
                Arc::new(MaterializationCronJob {
                    kubernetes: kubernetes.clone(),
                    name: name.clone(),
                    suspend,
                }),
            ));
        }
    }
    if let Some(workload) = feast
        .online_store_workload
        .as_deref()
        .and_then(|w| warden_kube::Workload::parse(w).ok())
    {
        handlers.push((
            "scale_online_store",
            Arc::new(ScaleOnlineStore {
                kubernetes: kubernetes.clone(),
                workload,
            }),
        ));
    }
    handlers
}

/// What one collector gathers.
#[derive(Clone, Copy)]
enum EvidenceKind {
    Freshness,
    StoreHealth,
    Schema,
}

/// Runbook 4's diagnostics as evidence artifacts (R4.3): the freshness table per view with
/// the ranked causes, the online store's health with its whole `INFO`, and the schema check.
struct FeastEvidence {
    sources: Arc<FeastSources>,
    sla: Duration,
    repo: std::path::PathBuf,
    kind: EvidenceKind,
}

fn collect_error(err: impl std::fmt::Display) -> ActionError {
    ActionError {
        message: format!("Feast registry: {err}"),
        retryable: true,
    }
}

impl EvidenceCollector for FeastEvidence {
    fn collect<'a>(
        &'a self,
        _request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<Collected, ActionError>> {
        Box::pin(async move {
            let options = StatusOptions {
                sla: self.sla,
                ..StatusOptions::default()
            };
            let found = status::collect(&self.sources, &options)
                .await
                .map_err(collect_error)?;
            let source = self.sources.registry.project().to_string();
            let (name, summary, body) = match self.kind {
                EvidenceKind::Freshness => {
                    let stale = found
                        .views
                        .iter()
                        .filter(|v| v.status != FreshnessStatus::Fresh)
                        .count();
                    (
                        "feature-freshness.json",
                        format!(
                            "{} view(s), {stale} not fresh; top cause: {}",
                            found.views.len(),
                            found.causes.first().map_or("none", |c| c.cause)
                        ),
                        serde_json::json!({
                            "checked_at": found.checked_at,
                            "views": found.views,
                            "causes": found.causes,
                            "feature_server": found.feature_server,
                        }),
                    )
                }
                EvidenceKind::StoreHealth => {
                    let store = found.store.as_ref();
                    (
                        "online-store-health.json",
                        match store {
                            Some(s) if s.reachable => format!(
                                "Redis reachable, PING {:.1} ms, {} problem(s)",
                                s.ping_ms.unwrap_or(f64::NAN),
                                s.problems.len()
                            ),
                            Some(s) => {
                                format!("Redis unreachable: {}", s.error.as_deref().unwrap_or(""))
                            }
                            None => "no online store configured".into(),
                        },
                        serde_json::json!({
                            "checked_at": found.checked_at,
                            "store": store,
                            "info": store.map(|s| &s.info),
                        }),
                    )
                }
                EvidenceKind::Schema => {
                    let views = self
                        .sources
                        .registry
                        .feature_views()
                        .await
                        .map_err(collect_error)?;
                    let mut checks = Vec::new();
                    for view in &views {
                        let offline = match &view.source_uri {
                            Some(uri) => offline_fields(&self.repo, uri).ok(),
                            None => None,
                        };
                        let online = found
                            .sampled_values
                            .get(&view.name)
                            .cloned()
                            .unwrap_or_default();
                        checks.extend(warden_feast::schema::check_view(
                            view,
                            offline.as_deref(),
                            &online,
                        ));
                    }
                    let problems = warden_feast::schema::problems(&checks);
                    (
                        "schema-check.json",
                        if problems.is_empty() {
                            format!("{} schema checks agree", checks.len())
                        } else {
                            format!(
                                "{} schema mismatch(es): {}",
                                problems.len(),
                                problems.join("; ")
                            )
                        },
                        serde_json::json!({ "ok": problems.is_empty(), "checks": checks, "problems": problems }),
                    )
                }
            };
            Ok(Collected {
                summary,
                name: name.into(),
                media_type: "application/json".into(),
                source,
                bytes: serde_json::to_vec_pretty(&body).unwrap_or_default(),
            })
        })
    }
}

/// The offline source's columns (file sources relative to `repo`).
pub fn offline_fields(
    repo: &std::path::Path,
    uri: &str,
) -> Result<Vec<warden_feast::schema::OfflineField>, String> {
    let location = if uri.contains("://") || std::path::Path::new(uri).is_absolute() {
        uri.to_string()
    } else {
        repo.join(uri).to_string_lossy().into_owned()
    };
    let dataset = warden_data::Dataset::open(&location)
        .map_err(|err| format!("offline source {location}: {err}"))?;
    Ok(dataset
        .fields()
        .iter()
        .map(|field| warden_feast::schema::OfflineField {
            name: field.name.clone(),
            source_type: field.source_type.clone(),
        })
        .collect())
}

/// The collectors runbook 4 can use with `feast` (and, for `materialization_status`,
/// `airflow` or `kubernetes`) configured.
pub fn collectors(
    feast: &FeastConfig,
    airflow: Option<&AirflowConfig>,
    kubernetes: Option<&warden_config::KubernetesConfig>,
) -> Result<CollectorRegistry, String> {
    let sources = Arc::new(sources(feast)?);
    let repo = feast.repo.clone().unwrap_or_else(|| ".".into());
    let mut registry = CollectorRegistry::new();
    for (name, kind) in [
        ("feature_freshness", EvidenceKind::Freshness),
        ("online_store_health", EvidenceKind::StoreHealth),
        ("schema_check", EvidenceKind::Schema),
    ] {
        let collector: Arc<dyn EvidenceCollector> = Arc::new(FeastEvidence {
            sources: sources.clone(),
            sla: feast.sla,
            repo: repo.clone(),
            kind,
        });
        registry.insert(name.to_string(), collector);
    }
    if let (Some(dag), Some(airflow)) = (&feast.materialization_dag, airflow) {
        let collector: Arc<dyn EvidenceCollector> = Arc::new(MaterializationRuns {
            airflow: airflow.clone(),
            dag: dag.clone(),
        });
        registry.insert("materialization_status".to_string(), collector);
    }
    // A CronJob takes the place of the DAG, as for the pause and resume actions.
    if let (Some(name), Some(kubernetes)) = (&feast.materialization_cronjob, kubernetes) {
        let collector: Arc<dyn EvidenceCollector> = Arc::new(CronJobRuns {
            kubernetes: kubernetes.clone(),
            name: name.clone(),
        });
        registry.insert("materialization_status".to_string(), collector);
    }
    Ok(registry)
}

/// Several evaluators: the first that knows a check decides it.
pub struct GateChain(pub Vec<Arc<dyn GateEvaluator>>);

impl GateEvaluator for GateChain {
    fn evaluate<'a>(
        &'a self,
        incident: &'a Incident,
        gate: &'a Gate,
    ) -> BoxFuture<'a, Result<Option<GateVerdict>, String>> {
        Box::pin(async move {
            for evaluator in &self.0 {
                if let Some(verdict) = evaluator.evaluate(incident, gate).await? {
                    return Ok(Some(verdict));
                }
            }
            Ok(None)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use super::*;
    use warden_config::SecretRef;
    use warden_core::{Finding, IncidentId};

    fn request(earlier: BTreeMap<String, String>) -> ActionRequest {
        let finding = Finding {
            runbook: RunbookId::new("feature-store"),
            target: Target::new(TargetKind::FeatureView, "store_daily_features"),
            detector: "feature_freshness".into(),
            severity: Severity::High,
            summary: "stale".into(),
            detected_at: chrono::Utc::now(),
            measurements: BTreeMap::new(),
            cause_key: None,
        };
        ActionRequest {
            incident: Incident::open(IncidentId("INC-T".into()), &finding, chrono::Utc::now()),
            step: "pause-materialization".into(),
            params: BTreeMap::new(),
            idempotency_key: "INC-T/pause-materialization".into(),
            earlier_results: earlier,
        }
    }

    /// On real Airflow: pause and resume read back; a DAG a person had paused before the
    /// incident stays paused after the resume at closure.
    #[tokio::test]
    async fn pause_and_resume_materialization_on_real_airflow() {
        let Some(url) = warden_testkit::stack::require("AIRFLOW_URL") else {
            return;
        };
        let password = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            password.path(),
            warden_testkit::stack::require("AIRFLOW_PASSWORD").unwrap(),
        )
        .unwrap();
        let airflow = AirflowConfig {
            endpoint: HttpEndpoint {
                url: url.parse().unwrap(),
                timeout: Duration::from_secs(10),
            },
            username: warden_testkit::stack::require("AIRFLOW_USER").unwrap(),
            password: SecretRef::File(password.path().to_path_buf()),
        };
        let dag = "demand_forecast_training".to_string();
        let handler = |pause| MaterializationSchedule {
            airflow: airflow.clone(),
            dag: dag.clone(),
            pause,
        };
        let (pause, resume) = (handler(true), handler(false));
        let client = pause.client().await.unwrap();
        client.set_paused(&dag, false).await.unwrap();

        let paused = pause.execute(&request(BTreeMap::new())).await.unwrap();
        assert!(
            paused.contains("paused (read back: is_paused=true)"),
            "{paused}"
        );
        assert!(client.dag(&dag).await.unwrap().is_paused);
        let again = pause.execute(&request(BTreeMap::new())).await.unwrap();
        assert!(again.contains(FOUND_PAUSED), "idempotent: {again}");
        let earlier = BTreeMap::from([("pause-materialization".to_string(), paused)]);
        let resumed = resume.execute(&request(earlier)).await.unwrap();
        assert!(
            resumed.contains("unpaused (read back: is_paused=false)"),
            "{resumed}"
        );
        assert!(!client.dag(&dag).await.unwrap().is_paused);

        // Paused by a person before the incident: the pause records it, the resume keeps it.
        client.set_paused(&dag, true).await.unwrap();
        let found = pause.execute(&request(BTreeMap::new())).await.unwrap();
        let earlier = BTreeMap::from([("pause-materialization".to_string(), found)]);
        let plan = resume.plan(&request(earlier.clone())).await.unwrap();
        assert!(plan.contains("would leave it paused"), "{plan}");
        let kept = resume.execute(&request(earlier)).await.unwrap();
        assert!(kept.contains("left paused"), "{kept}");
        assert!(client.dag(&dag).await.unwrap().is_paused);
        client.set_paused(&dag, false).await.unwrap();

        let runs = MaterializationRuns {
            airflow: airflow.clone(),
            dag: dag.clone(),
        }
        .collect(&request(BTreeMap::new()))
        .await
        .unwrap();
        assert_eq!(runs.name, "materialization-runs.json");
        assert!(
            runs.summary
                .starts_with("Airflow DAG demand_forecast_training:"),
            "{}",
            runs.summary
        );
    }

    /// Against the fake Kubernetes API server: suspend and resume a CronJob (a CronJob
    /// suspended before the incident stays suspended), scale the online store (default: twice
    /// the replicas; `replicas` wins) — with the requests the server received.
    #[tokio::test]
    async fn cronjob_and_online_store_actions_on_the_fake_api_server() {
        let (server, cluster) = warden_testkit::fake_kube::start().await;
        let dir = tempfile::tempdir().unwrap();
        let kubernetes = warden_config::KubernetesConfig {
            in_cluster: false,
            kubeconfig: Some(warden_testkit::fake_kube::kubeconfig(dir.path(), &server)),
            context: Some("test".into()),
            namespace: "ml".into(),
        };
        let cronjob = |suspend| MaterializationCronJob {
            kubernetes: kubernetes.clone(),
            name: "feast-materialize".into(),
            suspend,
        };
        let (pause, resume) = (cronjob(true), cronjob(false));
        let paused = pause.execute(&request(BTreeMap::new())).await.unwrap();
        assert!(
            paused.contains("suspended on") && paused.contains("suspend=true"),
            "{paused}"
        );
        let earlier = BTreeMap::from([("pause-materialization".to_string(), paused)]);
        let resumed = resume.execute(&request(earlier)).await.unwrap();
        assert!(resumed.contains("resumed"), "{resumed}");
        assert!(!cluster.lock().unwrap().suspended);

        cluster.lock().unwrap().suspended = true;
        let found = pause.execute(&request(BTreeMap::new())).await.unwrap();
        assert!(found.contains(FOUND_SUSPENDED), "{found}");
        let earlier = BTreeMap::from([("pause-materialization".to_string(), found)]);
        let kept = resume.execute(&request(earlier)).await.unwrap();
        assert!(kept.contains("left suspended"), "{kept}");
        assert!(cluster.lock().unwrap().suspended);

        let runs = CronJobRuns {
            kubernetes: kubernetes.clone(),
            name: "feast-materialize".into(),
        }
        .collect(&request(BTreeMap::new()))
        .await
        .unwrap();
        assert!(
            runs.summary
                .contains("last succeeded 2026-11-25T09:50:12Z; suspended"),
            "{}",
            runs.summary
        );

        let scale = ScaleOnlineStore {
            kubernetes: kubernetes.clone(),
            workload: warden_kube::Workload::StatefulSet("redis".into()),
        };
        let plan = scale.plan(&request(BTreeMap::new())).await.unwrap();
        assert_eq!(plan, "would scale statefulset/redis from 1 to 2 replicas");
        let doubled = scale.execute(&request(BTreeMap::new())).await.unwrap();
        assert!(
            doubled.starts_with("statefulset/redis scaled from 1 to 2 replicas"),
            "{doubled}"
        );
        let mut explicit = request(BTreeMap::new());
        explicit
            .params
            .insert("replicas".into(), serde_json::json!(5));
        let five = scale.execute(&explicit).await.unwrap();
        assert!(
            five.starts_with("statefulset/redis scaled from 2 to 5"),
            "{five}"
        );
        let patches: Vec<serde_json::Value> = cluster
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.method == "PATCH")
            .map(|s| s.body.clone())
            .collect();
        assert_eq!(
            patches,
            [
                serde_json::json!({"spec": {"suspend": true}}),
                serde_json::json!({"spec": {"suspend": false}}),
                serde_json::json!({"spec": {"replicas": 2}}),
                serde_json::json!({"spec": {"replicas": 5}}),
            ],
            "no patch for the CronJob found suspended, none to keep it so"
        );
    }
}
