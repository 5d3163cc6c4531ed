//! What runbook 1 reads about a pipeline task's pod (a Kubeflow Pipelines executor pod): how
//! its containers ended (OOMKilled, exit codes), what they were given (image and the digest it
//! resolved to, memory and GPU limits), and which Kubernetes secrets it references — with
//! whether each exists and when it was created, read as metadata only so no secret value
//! ever crosses the wire.

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, Secret};
use kube::api::Api;
use serde::Serialize;

use crate::serving::rfc3339;
use crate::{KubeClient, KubeError};

/// One container of a task pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskContainer {
    /// Container name.
    pub name: String,
    /// The image as the spec names it.
    pub image: String,
    /// The image the node ran (`…@sha256:…` once pulled).
    pub image_id: Option<String>,
    /// `resources.limits.memory`, as written (e.g. `2Gi`).
    pub memory_limit: Option<String>,
    /// `resources.requests.memory`.
    pub memory_request: Option<String>,
    /// `resources.limits["nvidia.com/gpu"]`.
    pub gpu_limit: Option<String>,
    /// Why it (or its previous instance) terminated, e.g. `OOMKilled`, `Error`.
    pub terminated_reason: Option<String>,
    /// That termination's exit code.
    pub exit_code: Option<i32>,
    /// Why it is waiting, e.g. `ImagePullBackOff`, `CreateContainerConfigError`.
    pub waiting_reason: Option<String>,
    /// The waiting message (names the missing secret or image).
    pub waiting_message: Option<String>,
    /// Restarts.
    pub restarts: i32,
}

/// A secret a pod references, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretUse {
    /// The secret's name.
    pub name: String,
    /// How the pod uses it, e.g. `env AWS_ACCESS_KEY_ID of main`, `volume creds`.
    pub used_as: String,
    /// Whether the pod starts without it (`optional: true`).
    pub optional: bool,
}

/// A task pod's status and spec, as runbook 1 needs them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskPod {
    /// Pod name.
    pub name: String,
    /// `Failed`, `Succeeded`, …
    pub phase: String,
    /// The pod's own reason, e.g. `Evicted`.
    pub reason: Option<String>,
    /// The pod's own message (an eviction's names the memory used).
    pub message: Option<String>,
    /// Its service account.
    pub service_account: Option<String>,
    /// Its containers (init containers first).
    pub containers: Vec<TaskContainer>,
    /// The secrets it references.
    pub secrets: Vec<SecretUse>,
}

/// Whether a referenced secret exists, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretState {
    /// Its name.
    pub name: String,
    /// It exists.
    pub exists: bool,
    /// When it was created (RFC 3339): a rotation recreates or updates it.
    pub created: Option<String>,
}

fn quantity(container: &Container, limits: bool, name: &str) -> Option<String> {
    let resources = container.resources.as_ref()?;
    let map = if limits {
        resources.limits.as_ref()
    } else {
        resources.requests.as_ref()
    }?;
    map.get(name).map(|q| q.0.clone())
}

/// Every secret `spec` references: env `secretKeyRef`s, `envFrom` secret refs, secret volumes
/// and image pull secrets.
fn secret_uses(spec: &PodSpec) -> Vec<SecretUse> {
    let mut uses = Vec::new();
    for container in spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
    {
        for env in container.env.iter().flatten() {
            if let Some(key) = env
                .value_from
                .as_ref()
                .and_then(|v| v.secret_key_ref.as_ref())
            {
                uses.push(SecretUse {
                    name: key.name.clone(),
                    used_as: format!("env {} of {}", env.name, container.name),
                    optional: key.optional.unwrap_or(false),
                });
            }
        }
        for from in container.env_from.iter().flatten() {
            if let Some(secret) = &from.secret_ref {
                uses.push(SecretUse {
                    name: secret.name.clone(),
                    used_as: format!("envFrom of {}", container.name),
                    optional: secret.optional.unwrap_or(false),
                });
            }
        }
    }
    for volume in spec.volumes.iter().flatten() {
        if let Some(secret) = &volume.secret {
            uses.push(SecretUse {
                name: secret.secret_name.clone().unwrap_or_default(),
                used_as: format!("volume {}", volume.name),
                optional: secret.optional.unwrap_or(false),
            });
        }
    }
    for pull in spec.image_pull_secrets.iter().flatten() {
        uses.push(SecretUse {
            name: pull.name.clone(),
            used_as: "imagePullSecrets".into(),
            optional: false,
        });
    }
    uses.retain(|u| !u.name.is_empty());
    uses
}

fn task_pod(pod: Pod) -> TaskPod {
    let spec = pod.spec.unwrap_or_default();
    let status = pod.status.unwrap_or_default();
    let statuses: Vec<_> = status
        .init_container_statuses
        .unwrap_or_default()
        .into_iter()
        .chain(status.container_statuses.unwrap_or_default())
        .collect();
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .map(|container| {
            let state = statuses.iter().find(|s| s.name == container.name);
            let current = state.and_then(|s| s.state.clone()).unwrap_or_default();
            let terminated = current.terminated.clone().or_else(|| {
                state
                    .and_then(|s| s.last_state.clone())
                    .and_then(|last| last.terminated)
            });
            TaskContainer {
                name: container.name.clone(),
                image: container.image.clone().unwrap_or_default(),
                image_id: state
                    .map(|s| s.image_id.clone())
                    .filter(|id| !id.is_empty()),
                memory_limit: quantity(container, true, "memory"),
                memory_request: quantity(container, false, "memory"),
                gpu_limit: quantity(container, true, "nvidia.com/gpu"),
                terminated_reason: terminated.as_ref().and_then(|t| t.reason.clone()),
                exit_code: terminated.map(|t| t.exit_code),
                waiting_reason: current.waiting.as_ref().and_then(|w| w.reason.clone()),
                waiting_message: current.waiting.and_then(|w| w.message),
                restarts: state.map_or(0, |s| s.restart_count),
            }
        })
        .collect();
    TaskPod {
        name: pod.metadata.name.unwrap_or_default(),
        phase: status.phase.unwrap_or_default(),
        reason: status.reason,
        message: status.message,
        service_account: spec.service_account_name.clone(),
        secrets: secret_uses(&spec),
        containers,
    }
}

impl KubeClient {
    /// A task pod's containers and referenced secrets.
    ///
    /// # Errors
    /// API errors; a pod already deleted (garbage-collected) is a 404 naming it.
    pub async fn task_pod(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<TaskPod, KubeError> {
        let namespace = self.namespace(namespace);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let pod = api
            .get(name)
            .await
            .map_err(|err| self.error(&format!("pod {namespace}/{name}"), err))?;
        Ok(task_pod(pod))
    }

    /// Whether the secret exists and when it was created — its metadata only.
    ///
    /// # Errors
    /// API errors other than not-found (e.g. forbidden), naming the secret.
    pub async fn secret_state(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<SecretState, KubeError> {
        let namespace = self.namespace(namespace);
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let meta = api
            .get_metadata_opt(name)
            .await
            .map_err(|err| self.error(&format!("secret {namespace}/{name}"), err))?;
        Ok(SecretState {
            name: name.to_string(),
            exists: meta.is_some(),
            created: meta.and_then(|m| m.metadata.creation_timestamp.as_ref().map(rfc3339)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_secret_reference_is_found() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "train-1"},
            "spec": {
                "imagePullSecrets": [{"name": "registry"}],
                "initContainers": [{"name": "init", "image": "busybox",
                    "envFrom": [{"secretRef": {"name": "init-env", "optional": true}}]}],
                "containers": [{"name": "main", "image": "trainer:1.4",
                    "resources": {"limits": {"memory": "2Gi", "nvidia.com/gpu": "1"}, "requests": {"memory": "1Gi"}},
                    "env": [{"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "aws-creds", "key": "id"}}},
                            {"name": "PLAIN", "value": "x"}]}],
                "volumes": [{"name": "gcp", "secret": {"secretName": "gcp-sa"}}]
            },
            "status": {"phase": "Failed", "containerStatuses": [{
                "name": "main", "ready": false, "restartCount": 1, "image": "trainer:1.4",
                "imageID": "docker.io/library/trainer@sha256:abc",
                "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}
        }))
        .expect("a pod");
        let pod = task_pod(pod);
        let names: Vec<(&str, &str, bool)> = pod
            .secrets
            .iter()
            .map(|s| (s.name.as_str(), s.used_as.as_str(), s.optional))
            .collect();
        assert_eq!(
            names,
            [
                ("init-env", "envFrom of init", true),
                ("aws-creds", "env AWS_ACCESS_KEY_ID of main", false),
                ("gcp-sa", "volume gcp", false),
                ("registry", "imagePullSecrets", false)
            ]
        );
        let main = &pod.containers[1];
        assert_eq!(main.memory_limit.as_deref(), Some("2Gi"));
        assert_eq!(main.memory_request.as_deref(), Some("1Gi"));
        assert_eq!(main.gpu_limit.as_deref(), Some("1"));
        assert_eq!(main.terminated_reason.as_deref(), Some("OOMKilled"));
        assert_eq!(main.exit_code, Some(137));
        assert_eq!(
            main.image_id.as_deref(),
            Some("docker.io/library/trainer@sha256:abc")
        );
        assert_eq!(pod.containers[0].image_id, None, "no status for init");
    }
}
