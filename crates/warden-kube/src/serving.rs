//! What runbook 2 reads and changes in the cluster: predictor pods (status, logs of the
//! current or previous container), events, the HPA's status, KServe InferenceServices (get,
//! merge patch) with their Knative revisions, and Istio EnvoyFilters (the rate limit). Custom
//! resources go through kube's dynamic API so no CRD types are compiled in.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, LogParams, Patch,
    PostParams,
};
use serde::Serialize;
use serde_json::Value;

use crate::{KubeClient, KubeError, KubeErrorKind, strict};

/// One container of a pod, as `kubectl describe` would summarize it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerSummary {
    /// Container name.
    pub name: String,
    /// Ready now.
    pub ready: bool,
    /// Restarts so far.
    pub restarts: i32,
    /// Why it is waiting, e.g. `CrashLoopBackOff`, `ImagePullBackOff`.
    pub waiting_reason: Option<String>,
    /// When the running container started (RFC 3339).
    pub started_at: Option<String>,
    /// Why the previous instance ended, e.g. `OOMKilled`, `Error`.
    pub last_terminated_reason: Option<String>,
    /// Its exit code.
    pub last_exit_code: Option<i32>,
}

/// A pod's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodSummary {
    /// Pod name.
    pub name: String,
    /// `Pending`, `Running`, …
    pub phase: String,
    /// The `Ready` condition.
    pub ready: bool,
    /// When the pod was created (RFC 3339).
    pub created: Option<String>,
    /// When the `Ready` condition last changed (RFC 3339).
    pub ready_since: Option<String>,
    /// Its containers.
    pub containers: Vec<ContainerSummary>,
}

/// One event about an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventSummary {
    /// `Normal` or `Warning`.
    pub kind: String,
    /// e.g. `FailedScheduling`, `BackOff`.
    pub reason: String,
    /// The message.
    pub message: String,
    /// How many times it was seen.
    pub count: i32,
    /// When it was last seen (RFC 3339).
    pub last_seen: Option<String>,
    /// `Kind/name` of the object.
    pub object: String,
}

/// One HPA condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HpaCondition {
    /// `AbleToScale`, `ScalingActive`, `ScalingLimited`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `True` / `False` / `Unknown`.
    pub status: String,
    /// e.g. `TooManyReplicas`.
    pub reason: String,
    /// The message.
    pub message: String,
    /// When the status last changed (RFC 3339).
    pub since: Option<String>,
}

/// An HPA's status (`autoscaling/v2`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HpaStatus {
    /// Its name.
    pub name: String,
    /// `minReplicas` (1 when unset).
    pub min_replicas: i32,
    /// `maxReplicas`.
    pub max_replicas: i32,
    /// Current replicas.
    pub current_replicas: i32,
    /// Desired replicas.
    pub desired_replicas: i32,
    /// When it last scaled (RFC 3339).
    pub last_scale_time: Option<String>,
    /// Its conditions, e.g. `ScalingLimited True TooManyReplicas`.
    pub conditions: Vec<HpaCondition>,
    /// The current metric values as the API gives them.
    pub current_metrics: Value,
}

pub(crate) fn rfc3339(time: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> String {
    time.0.to_string()
}

fn pod_summary(pod: Pod) -> PodSummary {
    let status = pod.status.unwrap_or_default();
    let ready_condition = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|condition| condition.type_ == "Ready");
    let containers = status
        .container_statuses
        .unwrap_or_default()
        .into_iter()
        .map(|container| {
            let state = container.state.unwrap_or_default();
            let last = container
                .last_state
                .and_then(|last| last.terminated)
                .map(|t| (t.reason, t.exit_code));
            ContainerSummary {
                name: container.name,
                ready: container.ready,
                restarts: container.restart_count,
                waiting_reason: state.waiting.and_then(|w| w.reason),
                started_at: state
                    .running
                    .and_then(|running| running.started_at.as_ref().map(rfc3339)),
                last_terminated_reason: last.as_ref().and_then(|(reason, _)| reason.clone()),
                last_exit_code: last.map(|(_, code)| code),
            }
        })
        .collect();
    PodSummary {
        name: pod.metadata.name.unwrap_or_default(),
        phase: status.phase.unwrap_or_default(),
        ready: ready_condition
            .as_ref()
            .is_some_and(|condition| condition.status == "True"),
        created: pod.metadata.creation_timestamp.as_ref().map(rfc3339),
        ready_since: ready_condition
            .and_then(|condition| condition.last_transition_time.as_ref().map(rfc3339)),
        containers,
    }
}

fn inference_services() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("serving.kserve.io", "v1beta1", "InferenceService"),
        "inferenceservices",
    )
}

fn knative_revisions() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("serving.knative.dev", "v1", "Revision"),
        "revisions",
    )
}

fn envoy_filters() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("networking.istio.io", "v1alpha3", "EnvoyFilter"),
        "envoyfilters",
    )
}

fn to_json(object: DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

impl KubeClient {
    fn dynamic(&self, namespace: &str, resource: &ApiResource) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), namespace, resource)
    }

    /// Pods matching a label selector, with their container states.
    ///
    /// # Errors
    /// API errors, naming the selector.
    pub async fn pods(
        &self,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<PodSummary>, KubeError> {
        let namespace = self.namespace(namespace);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let pods = api
            .list(&ListParams::default().labels(selector))
            .await
            .map_err(|err| self.error(&format!("pods {selector:?} in {namespace}"), err))?;
        Ok(pods.items.into_iter().map(pod_summary).collect())
    }

    /// The last `tail` lines of a pod's log; `previous` reads the container instance that
    /// ended (after a crash or an OOM kill).
    ///
    /// # Errors
    /// API errors, naming the pod.
    pub async fn pod_logs(
        &self,
        namespace: Option<&str>,
        pod: &str,
        container: Option<&str>,
        tail: i64,
        previous: bool,
    ) -> Result<String, KubeError> {
        let namespace = self.namespace(namespace);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let params = LogParams {
            container: container.map(str::to_string),
            tail_lines: Some(tail),
            previous,
            ..LogParams::default()
        };
        api.logs(pod, &params)
            .await
            .map_err(|err| self.error(&format!("logs of pod {namespace}/{pod}"), err))
    }

    /// Events about the object named `name` (any kind), most recent last.
    ///
    /// # Errors
    /// API errors.
    pub async fn events_for(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Vec<EventSummary>, KubeError> {
        let namespace = self.namespace(namespace);
        let api: Api<Event> = Api::namespaced(self.client.clone(), namespace);
        let events = api
            .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
            .await
            .map_err(|err| self.error(&format!("events of {namespace}/{name}"), err))?;
        let mut summaries: Vec<EventSummary> = events
            .items
            .into_iter()
            .map(|event| EventSummary {
                kind: event.type_.unwrap_or_default(),
                reason: event.reason.unwrap_or_default(),
                message: event.message.unwrap_or_default(),
                count: event.count.unwrap_or(1),
                last_seen: event.last_timestamp.as_ref().map(rfc3339),
                object: format!(
                    "{}/{}",
                    event.involved_object.kind.unwrap_or_default(),
                    event.involved_object.name.unwrap_or_default()
                ),
            })
            .collect();
        summaries.sort_by(|a, b| a.last_seen.cmp(&b.last_seen));
        Ok(summaries)
    }

    /// The HPA's status.
    ///
    /// # Errors
    /// API errors (404 for a missing HPA), naming it.
    pub async fn hpa(&self, namespace: Option<&str>, name: &str) -> Result<HpaStatus, KubeError> {
        let namespace = self.namespace(namespace);
        let api: Api<HorizontalPodAutoscaler> = Api::namespaced(self.client.clone(), namespace);
        let hpa = api
            .get(name)
            .await
            .map_err(|err| self.error(&format!("hpa {namespace}/{name}"), err))?;
        let spec = hpa.spec;
        let status = hpa.status.unwrap_or_default();
        Ok(HpaStatus {
            name: name.to_string(),
            min_replicas: spec.min_replicas.unwrap_or(1),
            max_replicas: spec.max_replicas,
            current_replicas: status.current_replicas.unwrap_or(0),
            desired_replicas: status.desired_replicas,
            last_scale_time: status.last_scale_time.as_ref().map(rfc3339),
            conditions: status
                .conditions
                .unwrap_or_default()
                .into_iter()
                .map(|c| HpaCondition {
                    since: c.last_transition_time.as_ref().map(rfc3339),
                    kind: c.type_,
                    status: c.status,
                    reason: c.reason.unwrap_or_default(),
                    message: c.message.unwrap_or_default(),
                })
                .collect(),
            current_metrics: serde_json::to_value(status.current_metrics.unwrap_or_default())
                .unwrap_or(Value::Null),
        })
    }

    /// The KServe InferenceService as JSON (spec and status).
    ///
    /// # Errors
    /// API errors (404 for a missing one), naming it.
    pub async fn inference_service(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, KubeError> {
        let namespace = self.namespace(namespace);
        let object = self
            .dynamic(namespace, &inference_services())
            .get(name)
            .await
            .map_err(|err| self.error(&format!("inferenceservice {namespace}/{name}"), err))?;
        Ok(to_json(object))
    }

    /// Applies a JSON merge patch to the InferenceService; returns it as read back.
    ///
    /// # Errors
    /// As [`KubeClient::inference_service`].
    pub async fn patch_inference_service(
        &self,
        namespace: Option<&str>,
        name: &str,
        patch: &Value,
    ) -> Result<Value, KubeError> {
        let namespace = self.namespace(namespace);
        let object = self
            .dynamic(namespace, &inference_services())
            .patch(name, &strict(), &Patch::Merge(patch))
            .await
            .map_err(|err| self.error(&format!("inferenceservice {namespace}/{name}"), err))?;
        Ok(to_json(object))
    }

    /// The Knative revisions of an InferenceService (serverless mode), oldest first.
    ///
    /// # Errors
    /// API errors.
    pub async fn revisions(
        &self,
        namespace: Option<&str>,
        inference_service: &str,
    ) -> Result<Vec<Value>, KubeError> {
        let namespace = self.namespace(namespace);
        let selector = format!("serving.kserve.io/inferenceservice={inference_service}");
        let list = self
            .dynamic(namespace, &knative_revisions())
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|err| self.error(&format!("revisions {selector:?} in {namespace}"), err))?;
        let mut revisions: Vec<Value> = list.items.into_iter().map(to_json).collect();
        revisions.sort_by(|a, b| {
            let created = |v: &Value| {
                v["metadata"]["creationTimestamp"]
                    .as_str()
                    .map(str::to_string)
            };
            created(a).cmp(&created(b))
        });
        Ok(revisions)
    }

    /// Creates the EnvoyFilter, or replaces it if one of that name exists (so applying the
    /// same limit twice changes nothing); returns it as read back.
    ///
    /// # Errors
    /// API errors, naming it.
    pub async fn apply_envoy_filter(
        &self,
        namespace: Option<&str>,
        filter: &Value,
    ) -> Result<Value, KubeError> {
        let namespace = self.namespace(namespace);
        let name = filter["metadata"]["name"].as_str().unwrap_or_default();
        let what = format!("envoyfilter {namespace}/{name}");
        let object: DynamicObject = serde_json::from_value(filter.clone())
            .map_err(|err| KubeError::new(KubeErrorKind::Invalid, format!("{what}: {err}")))?;
        let api = self.dynamic(namespace, &envoy_filters());
        match api
            .get_opt(name)
            .await
            .map_err(|err| self.error(&what, err))?
        {
            Some(existing) => {
                let mut replacement = object;
                replacement.metadata.resource_version = existing.metadata.resource_version;
                api.replace(name, &PostParams::default(), &replacement)
                    .await
            }
            None => api.create(&PostParams::default(), &object).await,
        }
        .map(to_json)
        .map_err(|err| self.error(&what, err))
    }

    /// Deletes the EnvoyFilter; `false` when it did not exist (already removed).
    ///
    /// # Errors
    /// API errors other than not found.
    pub async fn delete_envoy_filter(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<bool, KubeError> {
        let namespace = self.namespace(namespace);
        match self
            .dynamic(namespace, &envoy_filters())
            .delete(name, &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
            Err(err) => Err(self.error(&format!("envoyfilter {namespace}/{name}"), err)),
        }
    }

    /// Whether the EnvoyFilter exists.
    ///
    /// # Errors
    /// API errors.
    pub async fn envoy_filter(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, KubeError> {
        let namespace = self.namespace(namespace);
        self.dynamic(namespace, &envoy_filters())
            .get_opt(name)
            .await
            .map(|found| found.map(to_json))
            .map_err(|err| self.error(&format!("envoyfilter {namespace}/{name}"), err))
    }
}
