//! Runbook 4's diagnostics as evidence artifacts (R4.3): the freshness table per view with the
//! ranked causes, the online store's health with its whole `INFO`, the schema check, and the
//! materialization schedule's recent runs (Airflow DAG runs or the CronJob's last runs) — each
//! JSON with the `kind` its judges look for.

use std::sync::Arc;
use std::time::Duration;

use warden_config::{AirflowConfig, FeastConfig, KubernetesConfig};
use warden_engine::executor::{
    ActionError, ActionRequest, BoxFuture, Collected, CollectorRegistry, EvidenceCollector,
};
use warden_feast::freshness::FreshnessStatus;
use warden_feast::status::{self, FeastSources, StatusOptions};

use super::sources;
use crate::common::kube::{kube_client, kube_error};
use crate::common::schedule::{AirflowDag, airflow_error};

/// `materialization_status`: the materialization DAG's recent runs.
pub(crate) struct MaterializationRuns {
    pub(crate) airflow: AirflowConfig,
    pub(crate) dag: String,
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
            let since = request.now
                - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::days(1));
            let schedule = AirflowDag {
                airflow: self.airflow.clone(),
                dag: self.dag.clone(),
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
                bytes: serde_json::to_vec_pretty(&serde_json::json!({
                    "kind": "materialization_status", "dag": dag, "runs": runs,
                }))
                .unwrap_or_default(),
            })
        })
    }
}

/// `materialization_status` from the CronJob: its schedule, suspension and last runs.
pub(crate) struct CronJobRuns {
    pub(crate) kubernetes: KubernetesConfig,
    pub(crate) name: String,
}

impl EvidenceCollector for CronJobRuns {
    fn collect<'a>(
        &'a self,
        _request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<Collected, ActionError>> {
        Box::pin(async move {
            let client = kube_client(&self.kubernetes).await?;
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
                bytes: serde_json::to_vec_pretty(&{
                    let mut body = serde_json::to_value(&state).unwrap_or_default();
                    body["kind"] = serde_json::json!("materialization_status");
                    body
                })
                .unwrap_or_default(),
            })
        })
    }
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
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<Collected, ActionError>> {
        Box::pin(async move {
            let options = StatusOptions {
                sla: self.sla,
                ..StatusOptions::default()
            };
            let found = status::collect(&self.sources, &options, request.now)
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
                            "kind": "feature_freshness",
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
                            "kind": "online_store_health",
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
                        serde_json::json!({
                            "kind": "schema_check", "ok": problems.is_empty(), "checks": checks,
                            "problems": problems,
                        }),
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

/// The catalogue evidence names this module collects.
pub const NAMES: [&str; 4] = [
    "feature_freshness",
    "online_store_health",
    "schema_check",
    "materialization_status",
];

/// The collectors runbook 4 can use with `feast` (and, for `materialization_status`,
/// `airflow` or `kubernetes`) configured.
pub fn collectors(
    feast: &FeastConfig,
    airflow: Option<&AirflowConfig>,
    kubernetes: Option<&KubernetesConfig>,
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
