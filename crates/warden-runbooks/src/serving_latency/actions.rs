//! Runbook 2's containment (R2.2–R2.4), each idempotent, with a plan that shows before and
//! after and a result read back from the system it changed (`rollback_model`, shared with
//! runbook 5, is in [`crate::common::rollback`]):
//! - `scale_replicas` — raises the InferenceService's `minReplicas` (or the Deployment's
//!   replicas) to at least `min_replicas`; never lowers anything.
//! - `enable_rate_limit` / `disable_rate_limit` — an Istio EnvoyFilter with Envoy's local
//!   rate limit on the predictor pods' sidecars (HTTP 429 beyond the budget), created or
//!   removed. Why this mechanism: KServe has no rate limit of its own; `containerConcurrency`
//!   queues rather than sheds, and changing any InferenceService field rolls out a new
//!   revision in the middle of the incident, while an EnvoyFilter takes effect in seconds, on
//!   the mesh KServe already runs on, and is removed as cleanly as it was added.

use std::sync::Arc;

use serde_json::{Value, json};
use warden_engine::executor::{ActionError, ActionHandler, ActionRegistry, ActionRequest};
use warden_kube::{KubeClient, Workload};

use crate::common::actions::{connect_error, refused};
use crate::common::kube::kube_error;

use super::Serving;

struct ScaleReplicas {
    serving: Arc<Serving>,
}

impl ScaleReplicas {
    async fn work(&self, request: &ActionRequest, execute: bool) -> Result<String, ActionError> {
        let service = self.serving.service(&request.incident.target)?;
        let wanted = request
            .params
            .get("min_replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let max_param = request.params.get("max_replicas").and_then(Value::as_i64);
        let namespace = service.namespace.as_deref();
        let kube = self.serving.kube().await?;
        if let Some(isvc) = &service.inference_service {
            let object = kube
                .inference_service(namespace, isvc)
                .await
                .map_err(kube_error)?;
            let predictor = &object["spec"]["predictor"];
            let min = predictor["minReplicas"].as_i64().unwrap_or(1);
            let max = predictor["maxReplicas"].as_i64().unwrap_or(0);
            if min >= wanted {
                return Ok(format!(
                    "inferenceservice {isvc}: minReplicas already {min} (≥ {wanted})"
                ));
            }
            let new_max = max_param.unwrap_or(max).max(wanted).max(max);
            let patch =
                json!({"spec": {"predictor": {"minReplicas": wanted, "maxReplicas": new_max}}});
            if !execute {
                return Ok(format!(
                    "would set inferenceservice {isvc} minReplicas {min} → {wanted}, maxReplicas {max} → {new_max}"
                ));
            }
            let after = kube
                .patch_inference_service(namespace, isvc, &patch)
                .await
                .map_err(kube_error)?;
            let read_back = after["spec"]["predictor"]["minReplicas"].as_i64();
            if read_back != Some(wanted) {
                return Err(refused(format!(
                    "inferenceservice {isvc}: minReplicas reads {read_back:?} after the patch"
                )));
            }
            return Ok(format!(
                "inferenceservice {isvc}: minReplicas {min} → {wanted}, maxReplicas {max} → {new_max} (read back)"
            ));
        }
        let deployment = service.deployment.clone().ok_or_else(|| {
            refused(format!(
                "serving {:?}: scaling needs inference_service or deployment",
                service.name
            ))
        })?;
        let workload = Workload::Deployment(deployment);
        let current = kube
            .replicas(namespace, &workload)
            .await
            .map_err(kube_error)?;
        let wanted = i32::try_from(wanted).unwrap_or(i32::MAX);
        if current >= wanted {
            return Ok(format!(
                "{workload}: already {current} replicas (≥ {wanted})"
            ));
        }
        if !execute {
            return Ok(format!(
                "would scale {workload} from {current} to {wanted} replicas"
            ));
        }
        let now = kube
            .scale(namespace, &workload, wanted)
            .await
            .map_err(kube_error)?;
        Ok(format!(
            "{workload}: {current} → {now} replicas (read back)"
        ))
    }
}

/// The EnvoyFilter's name for a service.
pub fn rate_limit_name(service: &str) -> String {
    format!("warden-rate-limit-{service}")
}

/// Envoy's local rate limit (token bucket per sidecar) on the predictor pods, as Istio
/// documents it for EnvoyFilter.
pub fn rate_limit_filter(
    service: &str,
    namespace: Option<&str>,
    isvc: &str,
    rps_per_pod: u64,
    incident: &str,
) -> Value {
    let mut metadata = json!({
        "name": rate_limit_name(service),
        "labels": {"app.kubernetes.io/managed-by": "warden"},
        "annotations": {"warden.dev/incident": incident}
    });
    if let Some(namespace) = namespace {
        metadata["namespace"] = json!(namespace);
    }
    json!({
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "EnvoyFilter",
        "metadata": metadata,
        "spec": {
            "workloadSelector": {"labels": {"serving.kserve.io/inferenceservice": isvc}},
            "configPatches": [{
                "applyTo": "HTTP_FILTER",
                "match": {"context": "SIDECAR_INBOUND", "listener": {"filterChain": {"filter": {"name": "envoy.filters.network.http_connection_manager"}}}},
                "patch": {"operation": "INSERT_BEFORE", "value": {
                    "name": "envoy.filters.http.local_ratelimit",
                    "typed_config": {
                        "@type": "type.googleapis.com/udpa.type.v1.TypedStruct",
                        "type_url": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
                        "value": {
                            "stat_prefix": "http_local_rate_limiter",
                            "token_bucket": {"max_tokens": rps_per_pod, "tokens_per_fill": rps_per_pod, "fill_interval": "1s"},
                            "filter_enabled": {"runtime_key": "local_rate_limit_enabled", "default_value": {"numerator": 100, "denominator": "HUNDRED"}},
                            "filter_enforced": {"runtime_key": "local_rate_limit_enforced", "default_value": {"numerator": 100, "denominator": "HUNDRED"}},
                            "response_headers_to_add": [{"append_action": "OVERWRITE_IF_EXISTS_OR_ADD", "header": {"key": "x-local-rate-limit", "value": "true"}}]
                        }
                    }
                }}
            }]
        }
    })
}

struct RateLimit {
    serving: Arc<Serving>,
    enable: bool,
}

impl RateLimit {
    /// The limit per pod: `rps` if given, else 1.2 × the baseline rate (what the service
    /// handled before the burst, with headroom), split over the ready pods.
    async fn per_pod(
        &self,
        request: &ActionRequest,
        kube: &KubeClient,
    ) -> Result<(u64, String), ActionError> {
        let service = self.serving.service(&request.incident.target)?;
        let total = match request.params.get("rps").and_then(Value::as_f64) {
            Some(rps) => (rps, "given".to_string()),
            None => {
                let prometheus = self.serving.prometheus()?;
                let query = format!(
                    "avg_over_time(({})[1h:15s] offset 1m)",
                    warden_serving::queries::SloQueries::new(service)
                        .request_rate(warden_serving::slo::PLAIN_WINDOW)
                );
                let baseline = warden_serving::slo::scalar(prometheus, &query, None)
                    .await
                    .map_err(connect_error)?
                    .filter(|v| *v > 0.0)
                    .ok_or_else(|| {
                        refused(format!(
                            "no baseline request rate ({query}): give the step params: {{rps: N}}"
                        ))
                    })?;
                (
                    baseline * 1.2,
                    format!("1.2 × baseline {baseline:.1} req/s"),
                )
            }
        };
        let pods = match service.selector() {
            Some(selector) => kube
                .pods(service.namespace.as_deref(), &selector)
                .await
                .map_err(kube_error)?
                .iter()
                .filter(|p| p.ready)
                .count()
                .max(1),
            None => 1,
        };
        let per_pod = (total.0 / pods as f64).ceil().max(1.0) as u64;
        Ok((
            per_pod,
            format!(
                "{:.0} req/s in all ({}) over {pods} pod(s)",
                total.0, total.1
            ),
        ))
    }

    async fn work(&self, request: &ActionRequest, execute: bool) -> Result<String, ActionError> {
        let service = self.serving.service(&request.incident.target)?;
        let isvc = service.inference_service.clone().ok_or_else(|| {
            refused(format!(
                "serving {:?}: rate limiting selects the predictor pods by inference_service",
                service.name
            ))
        })?;
        let namespace = service.namespace.as_deref();
        let kube = self.serving.kube().await?;
        let name = rate_limit_name(&service.name);
        let existing = kube
            .envoy_filter(namespace, &name)
            .await
            .map_err(kube_error)?;
        if !self.enable {
            return match (existing, execute) {
                (None, _) => Ok(format!("envoyfilter {name}: not present (already removed)")),
                (Some(_), false) => Ok(format!("would delete envoyfilter {name}")),
                (Some(_), true) => {
                    kube.delete_envoy_filter(namespace, &name)
                        .await
                        .map_err(kube_error)?;
                    match kube
                        .envoy_filter(namespace, &name)
                        .await
                        .map_err(kube_error)?
                    {
                        None => Ok(format!(
                            "envoyfilter {name} deleted (read back: gone); the rate limit is off"
                        )),
                        Some(_) => Err(refused(format!(
                            "envoyfilter {name} still present after delete"
                        ))),
                    }
                }
            };
        }
        let (per_pod, how) = self.per_pod(request, &kube).await?;
        let filter = rate_limit_filter(
            &service.name,
            namespace,
            &isvc,
            per_pod,
            &request.incident.id.0,
        );
        let before = existing.as_ref().and_then(|f| {
            f["spec"]["configPatches"][0]["patch"]["value"]["typed_config"]["value"]["token_bucket"]
                ["max_tokens"]
                .as_u64()
        });
        if before == Some(per_pod) {
            return Ok(format!(
                "envoyfilter {name}: already {per_pod} req/s per pod"
            ));
        }
        if !execute {
            return Ok(format!(
                "would apply envoyfilter {name}: local rate limit {per_pod} req/s per pod ({how}), 429 beyond it (now: {})",
                before.map_or("no limit".to_string(), |b| format!("{b} req/s per pod"))
            ));
        }
        kube.apply_envoy_filter(namespace, &filter)
            .await
            .map_err(kube_error)?;
        match kube
            .envoy_filter(namespace, &name)
            .await
            .map_err(kube_error)?
        {
            Some(_) => Ok(format!(
                "envoyfilter {name} applied: {per_pod} req/s per pod ({how}), 429 beyond it (read back)"
            )),
            None => Err(refused(format!("envoyfilter {name} missing after apply"))),
        }
    }
}

crate::common::actions::work_handler!(ScaleReplicas);
crate::common::actions::work_handler!(RateLimit);

/// Runbook 2's handlers by catalogue name.
pub fn handlers(serving: &Arc<Serving>, registry: &mut ActionRegistry) {
    let entries: [(&str, Arc<dyn ActionHandler>); 3] = [
        (
            "scale_replicas",
            Arc::new(ScaleReplicas {
                serving: serving.clone(),
            }),
        ),
        (
            "enable_rate_limit",
            Arc::new(RateLimit {
                serving: serving.clone(),
                enable: true,
            }),
        ),
        (
            "disable_rate_limit",
            Arc::new(RateLimit {
                serving: serving.clone(),
                enable: false,
            }),
        ),
    ];
    for (name, handler) in entries {
        registry.insert(name.to_string(), handler);
    }
}
