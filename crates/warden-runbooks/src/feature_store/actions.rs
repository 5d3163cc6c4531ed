//! Runbook 4's actions: `switch_feature_fallback` on the feature proxy,
//! `pause_materialization`/`resume_materialization` on whatever schedules materialization (an
//! Airflow DAG or a Kubernetes CronJob, one [`crate::common::schedule::Schedule`] each), and `scale_online_store` on the
//! online store's workload. Every change is read back; a schedule found paused before the
//! incident is left paused at closure.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use warden_config::{AirflowConfig, FeastConfig, HttpEndpoint, KubernetesConfig, Secret};
use warden_connect::HttpClient;
use warden_engine::executor::{ActionError, ActionHandler, ActionRequest, BoxFuture};

use crate::common::kube::{kube_client, kube_error};
#[cfg(test)]
use crate::common::schedule::FOUND_PAUSED;
use crate::common::schedule::{AirflowDag, CronJobSchedule, PauseResume};

/// The catalogue actions this module implements.
pub const NAMES: [&str; 4] = [
    "switch_feature_fallback",
    "pause_materialization",
    "resume_materialization",
    "scale_online_store",
];

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

/// The pause and resume handlers for whatever schedules materialization: a Kubernetes CronJob
/// when configured (with `connectors.kubernetes`), else an Airflow DAG (with
/// `connectors.airflow`).
pub fn schedule_handlers(
    feast: &FeastConfig,
    airflow: Option<&AirflowConfig>,
    kubernetes: Option<&KubernetesConfig>,
) -> Vec<(&'static str, Arc<dyn ActionHandler>)> {
    let pair = |make: &dyn Fn(bool) -> Arc<dyn ActionHandler>| {
        vec![
            ("pause_materialization", make(true)),
            ("resume_materialization", make(false)),
        ]
    };
    match (
        &feast.materialization_cronjob,
        kubernetes,
        &feast.materialization_dag,
        airflow,
    ) {
        (Some(name), Some(kubernetes), _, _) => pair(&|pause| {
            Arc::new(PauseResume {
                schedule: CronJobSchedule {
                    kubernetes: kubernetes.clone(),
                    name: name.clone(),
                },
                pause,
            })
        }),
        (_, _, Some(dag), Some(airflow)) => pair(&|pause| {
            Arc::new(PauseResume {
                schedule: AirflowDag {
                    airflow: airflow.clone(),
                    dag: dag.clone(),
                },
                pause,
            })
        }),
        _ => Vec::new(),
    }
}

/// `scale_online_store`: sets the online store's replicas (`replicas` parameter, default
/// twice the current count) through the workload's `scale` subresource, and reads them back.
pub struct ScaleOnlineStore {
    kubernetes: KubernetesConfig,
    workload: warden_kube::Workload,
}

impl ScaleOnlineStore {
    async fn target(
        &self,
        request: &ActionRequest,
    ) -> Result<(warden_kube::KubeClient, i32, i32), ActionError> {
        let client = kube_client(&self.kubernetes).await?;
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

/// `scale_online_store`, when the online store's workload and Kubernetes are configured.
pub fn kubernetes_handlers(
    feast: &FeastConfig,
    kubernetes: Option<&KubernetesConfig>,
) -> Vec<(&'static str, Arc<dyn ActionHandler>)> {
    let (Some(kubernetes), Some(workload)) = (
        kubernetes,
        feast
            .online_store_workload
            .as_deref()
            .and_then(|w| warden_kube::Workload::parse(w).ok()),
    ) else {
        return Vec::new();
    };
    vec![(
        "scale_online_store",
        Arc::new(ScaleOnlineStore {
            kubernetes: kubernetes.clone(),
            workload,
        }),
    )]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use super::*;
    use warden_config::SecretRef;
    use warden_core::{Finding, Incident, IncidentId, RunbookId, Severity, Target, TargetKind};
    use warden_engine::executor::EvidenceCollector;

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
            alert: None,
        };
        ActionRequest {
            incident: Incident::open(IncidentId("INC-T".into()), &finding, chrono::Utc::now()),
            step: "pause-materialization".into(),
            params: BTreeMap::new(),
            idempotency_key: "INC-T/pause-materialization".into(),
            earlier_results: earlier,
            approval: None,
            now: chrono::Utc::now(),
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
        let handler = |pause| PauseResume {
            schedule: AirflowDag {
                airflow: airflow.clone(),
                dag: dag.clone(),
            },
            pause,
        };
        let (pause, resume) = (handler(true), handler(false));
        let client = pause.schedule.client().await.unwrap();
        client.set_paused(&dag, false).await.unwrap();

        let paused = pause.execute(&request(BTreeMap::new())).await.unwrap();
        assert!(
            paused.contains("paused (read back: paused=true)"),
            "{paused}"
        );
        assert!(client.dag(&dag).await.unwrap().is_paused);
        let again = pause.execute(&request(BTreeMap::new())).await.unwrap();
        assert!(again.contains(FOUND_PAUSED), "idempotent: {again}");
        let earlier = BTreeMap::from([("pause-materialization".to_string(), paused)]);
        let resumed = resume.execute(&request(earlier)).await.unwrap();
        assert!(
            resumed.contains("resumed (read back: paused=false)"),
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

        let runs = crate::feature_store::evidence::MaterializationRuns {
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

    /// Against the fake Kubernetes API server: pause and resume a CronJob (one suspended
    /// before the incident stays suspended), scale the online store (default: twice
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
        let cronjob = |pause| PauseResume {
            schedule: CronJobSchedule {
                kubernetes: kubernetes.clone(),
                name: "feast-materialize".into(),
            },
            pause,
        };
        let (pause, resume) = (cronjob(true), cronjob(false));
        let paused = pause.execute(&request(BTreeMap::new())).await.unwrap();
        assert!(
            paused.starts_with("CronJob feast-materialize paused (read back: paused=true)"),
            "{paused}"
        );
        let earlier = BTreeMap::from([("pause-materialization".to_string(), paused)]);
        let resumed = resume.execute(&request(earlier)).await.unwrap();
        assert!(resumed.contains("resumed"), "{resumed}");
        assert!(!cluster.lock().unwrap().suspended);

        cluster.lock().unwrap().suspended = true;
        let found = pause.execute(&request(BTreeMap::new())).await.unwrap();
        assert!(found.contains(FOUND_PAUSED), "{found}");
        let earlier = BTreeMap::from([("pause-materialization".to_string(), found)]);
        let kept = resume.execute(&request(earlier)).await.unwrap();
        assert!(kept.contains("left paused"), "{kept}");
        assert!(cluster.lock().unwrap().suspended);

        let runs = crate::feature_store::evidence::CronJobRuns {
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
