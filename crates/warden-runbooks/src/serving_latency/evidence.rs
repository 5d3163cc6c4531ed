//! Runbook 2's evidence (R2.5), captured at detection time: deployment history (KServe
//! revisions, MLflow model versions), HPA status, request rate against its baseline,
//! predictor pods with their last log lines (previous container too) and events, feature-store
//! latency, and the traffic split between revisions. Every artifact is JSON with a `kind`
//! field, which is how the judges find it whatever the runbook calls its steps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use warden_engine::executor::{
    ActionError, ActionRequest, BoxFuture, Collected, CollectorRegistry, EvidenceCollector,
};
use warden_serving::causes::{DeploymentChange, DeploymentHistory, FeatureLatency, TrafficRate};
use warden_serving::queries::{SloQueries, promql_duration};
use warden_serving::slo::{PLAIN_WINDOW, scalar};

use super::Serving;
use crate::common::actions::connect_error;
use crate::common::artifacts::artifact;
use crate::common::kube::kube_error;

fn param_duration(request: &ActionRequest, name: &str) -> Option<Duration> {
    request
        .params
        .get(name)
        .and_then(Value::as_str)
        .and_then(|text| warden_core::parse_duration(text).ok())
}

fn param_number(request: &ActionRequest, name: &str) -> Option<f64> {
    request.params.get(name).and_then(Value::as_f64)
}

fn parse_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Which collector.
#[derive(Clone, Copy)]
enum Kind {
    DeploymentHistory,
    HpaStatus,
    TrafficRate,
    PredictorPods,
    FeatureStoreLatency,
    TrafficSplit,
}

struct Collector {
    serving: Arc<Serving>,
    kind: Kind,
}

impl EvidenceCollector for Collector {
    fn collect<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<Collected, ActionError>> {
        Box::pin(async move {
            match self.kind {
                Kind::DeploymentHistory => self.deployment_history(request).await,
                Kind::HpaStatus => self.hpa_status(request).await,
                Kind::TrafficRate => self.traffic_rate(request).await,
                Kind::PredictorPods => self.predictor_pods(request).await,
                Kind::FeatureStoreLatency => self.feature_latency(request).await,
                Kind::TrafficSplit => self.traffic_split(request).await,
            }
        })
    }
}

impl Collector {
    async fn deployment_history(&self, request: &ActionRequest) -> Result<Collected, ActionError> {
        let service = self.serving.service(&request.incident.target)?;
        let window = param_duration(request, "window").unwrap_or(service.deployment_window);
        let mut changes = Vec::new();
        let mut unavailable = Vec::new();
        let mut sources = Vec::new();
        if let Some(isvc) = &service.inference_service {
            let kube = self.serving.kube().await?;
            sources.push(kube.server().to_string());
            match kube.revisions(service.namespace.as_deref(), isvc).await {
                Ok(revisions) => {
                    let traffic = kube
                        .inference_service(service.namespace.as_deref(), isvc)
                        .await
                        .map(|object| {
                            object["status"]["components"]["predictor"]["traffic"].clone()
                        })
                        .unwrap_or(Value::Null);
                    for revision in revisions {
                        let name = revision["metadata"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string();
                        let Some(at) =
                            parse_time(revision["metadata"]["creationTimestamp"].as_str())
                        else {
                            continue;
                        };
                        let share = traffic
                            .as_array()
                            .and_then(|t| t.iter().find(|r| r["revisionName"] == name.as_str()))
                            .and_then(|r| r["percent"].as_i64());
                        let uri = revision["metadata"]["annotations"]
                            ["internal.serving.kserve.io/storage-initializer-sourceuri"]
                            .as_str()
                            .unwrap_or("storage URI not recorded");
                        changes.push(DeploymentChange {
                            at,
                            source: "kserve".into(),
                            what: format!("revision {name}"),
                            detail: match share {
                                Some(percent) => format!("{uri}, {percent}% of traffic"),
                                None => uri.to_string(),
                            },
                        });
                    }
                }
                Err(err) => unavailable.push(err.to_string()),
            }
        }
        if let Some(mlflow) = &self.serving.config.connectors.mlflow {
            sources.push(mlflow.endpoint.url.to_string());
            match warden_connect::MlflowClient::from_config(mlflow) {
                Ok(client) => match client.search_model_versions(&service.model).await {
                    Ok(versions) => {
                        for version in versions {
                            let Some(at) = version
                                .creation_timestamp
                                .and_then(DateTime::<Utc>::from_timestamp_millis)
                            else {
                                continue;
                            };
                            changes.push(DeploymentChange {
                                at,
                                source: "mlflow".into(),
                                what: format!(
                                    "model {} version {}",
                                    service.model, version.version
                                ),
                                detail: format!(
                                    "source {}",
                                    version.source.clone().unwrap_or_default()
                                ),
                            });
                        }
                    }
                    Err(err) => unavailable.push(format!("MLflow: {err}")),
                },
                Err(err) => unavailable.push(format!("MLflow: {err}")),
            }
        }
        changes.sort_by_key(|change| change.at);
        let recent = changes
            .iter()
            .filter(|c| {
                request.incident.opened_at - c.at
                    <= chrono::Duration::from_std(window).unwrap_or_default()
            })
            .count();
        let history = DeploymentHistory {
            window_seconds: window.as_secs(),
            changes,
            unavailable,
        };
        Ok(artifact(
            "deployment_history",
            format!(
                "{} deployment change(s), {recent} within {} before the incident",
                history.changes.len(),
                promql_duration(window)
            ),
            sources.join(", "),
            serde_json::to_value(&history).unwrap_or_default(),
        ))
    }

    async fn hpa_status(&self, request: &ActionRequest) -> Result<Collected, ActionError> {
        let service = self.serving.service(&request.incident.target)?;
        let name = service.hpa_name().ok_or_else(|| ActionError {
            message: format!(
                "serving {:?}: no hpa, inference_service or deployment configured",
                service.name
            ),
            retryable: false,
        })?;
        let kube = self.serving.kube().await?;
        let hpa = kube
            .hpa(service.namespace.as_deref(), &name)
            .await
            .map_err(kube_error)?;
        Ok(artifact(
            "hpa_status",
            format!(
                "HPA {name}: {} current, {} desired, {}–{} replicas",
                hpa.current_replicas, hpa.desired_replicas, hpa.min_replicas, hpa.max_replicas
            ),
            kube.server().to_string(),
            serde_json::to_value(&hpa).unwrap_or_default(),
        ))
    }

    async fn traffic_rate(&self, request: &ActionRequest) -> Result<Collected, ActionError> {
        let service = self.serving.service(&request.incident.target)?;
        let prometheus = self.serving.prometheus()?;
        let window = param_duration(request, "window").unwrap_or(Duration::from_secs(3600));
        let queries = SloQueries::new(service);
        // "Now" is the last minute (less for a short baseline window); the baseline is that
        // same rate averaged over the window before it, sampled every 15 s.
        let short = PLAIN_WINDOW.min(window / 4).max(Duration::from_secs(10));
        let current_query = queries.request_rate(short);
        let baseline_query = format!(
            "avg_over_time(({current_query})[{}:15s] offset {})",
            promql_duration(window),
            promql_duration(short)
        );
        let now = Some(request.now);
        let current_rps = scalar(prometheus, &current_query, now)
            .await
            .map_err(connect_error)?;
        let baseline_rps = scalar(prometheus, &baseline_query, now)
            .await
            .map_err(connect_error)?;
        let traffic = TrafficRate {
            current_rps,
            baseline_rps,
            queries: vec![current_query, baseline_query],
        };
        let summary = match (current_rps, baseline_rps) {
            (Some(now), Some(before)) => format!("{now:.1} req/s now, baseline {before:.1} req/s"),
            (Some(now), None) => format!("{now:.1} req/s now, no baseline"),
            _ => "no request rate in Prometheus".to_string(),
        };
        Ok(artifact(
            "traffic_rate",
            summary,
            self.serving
                .config
                .connectors
                .prometheus
                .as_ref()
                .map(|p| p.endpoint.url.to_string())
                .unwrap_or_default(),
            serde_json::to_value(&traffic).unwrap_or_default(),
        ))
    }

    async fn predictor_pods(&self, request: &ActionRequest) -> Result<Collected, ActionError> {
        let service = self.serving.service(&request.incident.target)?;
        let selector = service.selector().ok_or_else(|| ActionError {
            message: format!(
                "serving {:?}: no pod_selector, inference_service or deployment configured",
                service.name
            ),
            retryable: false,
        })?;
        let tail = param_number(request, "tail_lines").unwrap_or(200.0) as i64;
        let kube = self.serving.kube().await?;
        let namespace = service.namespace.as_deref();
        let pods = kube.pods(namespace, &selector).await.map_err(kube_error)?;
        let mut logs = BTreeMap::new();
        let mut previous_logs = BTreeMap::new();
        let mut events = Vec::new();
        for pod in &pods {
            match kube.pod_logs(namespace, &pod.name, None, tail, false).await {
                Ok(text) => logs.insert(pod.name.clone(), text),
                Err(err) => logs.insert(pod.name.clone(), format!("(log unavailable: {err})")),
            };
            if pod.containers.iter().any(|c| c.restarts > 0)
                && let Ok(text) = kube.pod_logs(namespace, &pod.name, None, tail, true).await
            {
                previous_logs.insert(pod.name.clone(), text);
            }
            if let Ok(found) = kube.events_for(namespace, &pod.name).await {
                events.extend(found);
            }
        }
        let min_replicas = match &service.inference_service {
            Some(isvc) => kube
                .inference_service(namespace, isvc)
                .await
                .ok()
                .map(|object| {
                    object["spec"]["predictor"]["minReplicas"]
                        .as_i64()
                        .unwrap_or(1)
                }),
            None => None,
        };
        let ready = pods.iter().filter(|p| p.ready).count();
        let restarts: i32 = pods
            .iter()
            .flat_map(|p| &p.containers)
            .map(|c| c.restarts)
            .sum();
        Ok(artifact(
            "predictor_pods",
            format!(
                "{} pod(s) {selector}: {ready} ready, {restarts} restart(s), {} warning event(s), last {tail} log lines each",
                pods.len(),
                events.iter().filter(|e| e.kind == "Warning").count()
            ),
            kube.server().to_string(),
            json!({
                "selector": selector, "min_replicas": min_replicas, "pods": pods,
                "logs": logs, "previous_logs": previous_logs, "events": events
            }),
        ))
    }

    async fn feature_latency(&self, request: &ActionRequest) -> Result<Collected, ActionError> {
        let service = self.serving.service(&request.incident.target)?;
        let query = SloQueries::new(service).feature_latency_p95_ms(Duration::from_secs(300));
        let latency = match (&query, self.serving.prometheus()) {
            (Some(query), Ok(prometheus)) => FeatureLatency {
                p95_ms: scalar(prometheus, query, None)
                    .await
                    .map_err(connect_error)?,
                source: query.clone(),
            },
            _ => FeatureLatency {
                p95_ms: None,
                source: "not measured: set serving[].queries.feature_latency_p95_ms".into(),
            },
        };
        let summary = match latency.p95_ms {
            Some(p95) => format!("feature retrieval p95 {p95:.0} ms"),
            None => format!("feature retrieval latency {}", latency.source),
        };
        Ok(artifact(
            "feature_store_latency",
            summary,
            latency.source.clone(),
            serde_json::to_value(&latency).unwrap_or_default(),
        ))
    }

    async fn traffic_split(&self, request: &ActionRequest) -> Result<Collected, ActionError> {
        let service = self.serving.service(&request.incident.target)?;
        let isvc = service
            .inference_service
            .as_ref()
            .ok_or_else(|| ActionError {
                message: format!(
                    "serving {:?}: traffic split needs inference_service",
                    service.name
                ),
                retryable: false,
            })?;
        let kube = self.serving.kube().await?;
        let object = kube
            .inference_service(service.namespace.as_deref(), isvc)
            .await
            .map_err(kube_error)?;
        let predictor = &object["status"]["components"]["predictor"];
        let split: Vec<String> = predictor["traffic"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                format!(
                    "{} {}%",
                    r["revisionName"].as_str().unwrap_or("?"),
                    r["percent"]
                )
            })
            .collect();
        Ok(artifact(
            "traffic_split",
            format!("traffic: {}", split.join(", ")),
            kube.server().to_string(),
            json!({
                "inference_service": isvc,
                "canary_traffic_percent": object["spec"]["predictor"]["canaryTrafficPercent"],
                "latest_ready": predictor["latestReadyRevision"],
                "latest_rolled_out": predictor["latestRolledoutRevision"],
                "traffic": predictor["traffic"],
            }),
        ))
    }
}

/// Runbook 2's collectors by catalogue name.
/// The catalogue evidence names this module collects.
pub const NAMES: [&str; 6] = [
    "deployment_history",
    "hpa_status",
    "traffic_rate",
    "predictor_pods",
    "feature_store_latency",
    "traffic_split",
];

pub fn collectors(serving: &Arc<Serving>) -> CollectorRegistry {
    let mut registry = CollectorRegistry::new();
    for (name, kind) in [
        ("deployment_history", Kind::DeploymentHistory),
        ("hpa_status", Kind::HpaStatus),
        ("traffic_rate", Kind::TrafficRate),
        ("predictor_pods", Kind::PredictorPods),
        ("feature_store_latency", Kind::FeatureStoreLatency),
        ("traffic_split", Kind::TrafficSplit),
    ] {
        let collector: Arc<dyn EvidenceCollector> = Arc::new(Collector {
            serving: serving.clone(),
            kind,
        });
        registry.insert(name.to_string(), collector);
    }
    registry
}
