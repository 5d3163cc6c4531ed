//! The Kubernetes client Warden acts through, on kube-rs: authentication in the cluster (the
//! service account) or from a kubeconfig (file and context), and the operations the runbooks
//! need: runbook 4's — suspend or resume a CronJob (materialization), read and set the
//! replicas of a Deployment or StatefulSet (the online store); runbook 2's in [`serving`];
//! runbook 1's in [`pipelines`] (task pods, referenced secrets). Every error names the object
//! and the API server. Kept in its own crate so kube's dependencies rebuild nothing else.

mod error;
pub mod pipelines;
pub mod serving;

pub use error::{KubeError, KubeErrorKind};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::CronJob;
use kube::api::{Api, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;
use warden_config::KubernetesConfig;

/// A workload whose replicas can be scaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workload {
    /// `apps/v1` Deployment.
    Deployment(String),
    /// `apps/v1` StatefulSet.
    StatefulSet(String),
}

impl Workload {
    /// Parses `deployment/NAME` or `statefulset/NAME`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_once('/') {
            Some(("deployment" | "deployments" | "deploy", name)) if !name.is_empty() => {
                Ok(Self::Deployment(name.to_string()))
            }
            Some(("statefulset" | "statefulsets" | "sts", name)) if !name.is_empty() => {
                Ok(Self::StatefulSet(name.to_string()))
            }
            _ => Err(format!(
                "{text:?}: expected deployment/NAME or statefulset/NAME"
            )),
        }
    }
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Deployment(name) => write!(f, "deployment/{name}"),
            Self::StatefulSet(name) => write!(f, "statefulset/{name}"),
        }
    }
}

/// A CronJob's schedule and its last runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CronJobState {
    /// Its cron schedule.
    pub schedule: String,
    /// Whether it is suspended.
    pub suspended: bool,
    /// When a Job was last scheduled (RFC 3339).
    pub last_schedule: Option<String>,
    /// When a Job last completed successfully (RFC 3339).
    pub last_successful: Option<String>,
    /// Jobs running now.
    pub active_jobs: usize,
}

/// A connected client with a default namespace.
#[derive(Clone)]
pub struct KubeClient {
    client: kube::Client,
    namespace: String,
    server: String,
}

impl std::fmt::Debug for KubeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeClient")
            .field("server", &self.server)
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// Patch parameters for every write: `fieldValidation=Strict`, so an API server refuses a field
/// its schema does not know instead of dropping it silently — a rollback or pause whose field
/// was dropped would report success and change nothing.
pub(crate) fn strict() -> PatchParams {
    PatchParams::default().validation_strict()
}

impl KubeClient {
    /// Connects as `config` says: the in-cluster service account, or a kubeconfig file with
    /// an optional context.
    ///
    /// # Errors
    /// The configuration cannot be loaded or the client built (naming the file or mode).
    pub async fn connect(config: &KubernetesConfig) -> Result<Self, KubeError> {
        let kube_config = if config.in_cluster {
            kube::Config::incluster().map_err(|err| {
                config_error(format!("in-cluster Kubernetes configuration: {err}"))
            })?
        } else {
            let path = config.kubeconfig.clone().ok_or_else(|| {
                config_error(
                    "connectors.kubernetes needs in_cluster: true or a kubeconfig file".into(),
                )
            })?;
            let path = expand_home(&path);
            let kubeconfig = Kubeconfig::read_from(&path)
                .map_err(|err| config_error(format!("kubeconfig {}: {err}", path.display())))?;
            let options = KubeConfigOptions {
                context: config.context.clone(),
                ..KubeConfigOptions::default()
            };
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|err| config_error(format!("kubeconfig {}: {err}", path.display())))?
        };
        let server = kube_config.cluster_url.to_string();
        let client = kube::Client::try_from(kube_config)
            .map_err(|err| config_error(format!("Kubernetes client for {server}: {err}")))?;
        Ok(Self {
            client,
            namespace: config.namespace.clone(),
            server,
        })
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The API server's version (`GET /version`), e.g. `v1.31.0`: the connectivity probe of
    /// `warden config check --connect`.
    ///
    /// # Errors
    /// The API server cannot be reached or refuses the credentials.
    pub async fn server_version(&self) -> Result<String, KubeError> {
        self.client
            .apiserver_version()
            .await
            .map(|info| info.git_version)
            .map_err(|err| self.error("version", err))
    }

    fn namespace<'a>(&'a self, namespace: Option<&'a str>) -> &'a str {
        namespace.unwrap_or(&self.namespace)
    }

    fn error(&self, what: &str, err: kube::Error) -> KubeError {
        KubeError::from_kube(what, &self.server, &err)
    }

    /// The CronJob's schedule state: suspended, and when it last ran and last succeeded.
    ///
    /// # Errors
    /// API errors (404 for a missing CronJob), naming it.
    pub async fn cronjob_state(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<CronJobState, KubeError> {
        let namespace = self.namespace(namespace);
        let api: Api<CronJob> = Api::namespaced(self.client.clone(), namespace);
        let cronjob = api
            .get(name)
            .await
            .map_err(|err| self.error(&format!("cronjob {namespace}/{name}"), err))?;
        let status = cronjob.status.unwrap_or_default();
        Ok(CronJobState {
            schedule: cronjob.spec.schedule,
            suspended: cronjob.spec.suspend.unwrap_or(false),
            last_schedule: status.last_schedule_time.map(|t| t.0.to_string()),
            last_successful: status.last_successful_time.map(|t| t.0.to_string()),
            active_jobs: status.active.map_or(0, |jobs| jobs.len()),
        })
    }

    /// Whether the CronJob is suspended.
    ///
    /// # Errors
    /// API errors (404 for a missing CronJob), naming it.
    pub async fn cronjob_suspended(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<bool, KubeError> {
        let namespace = self.namespace(namespace);
        let api: Api<CronJob> = Api::namespaced(self.client.clone(), namespace);
        let cronjob = api
            .get(name)
            .await
            .map_err(|err| self.error(&format!("cronjob {namespace}/{name}"), err))?;
        Ok(cronjob.spec.suspend.unwrap_or(false))
    }

    /// Suspends (or resumes) the CronJob with a merge patch; returns the state read back.
    ///
    /// # Errors
    /// As [`KubeClient::cronjob_suspended`].
    pub async fn set_cronjob_suspended(
        &self,
        namespace: Option<&str>,
        name: &str,
        suspend: bool,
    ) -> Result<bool, KubeError> {
        let namespace = self.namespace(namespace);
        let api: Api<CronJob> = Api::namespaced(self.client.clone(), namespace);
        let patched = api
            .patch(
                name,
                &strict(),
                &Patch::Merge(json!({ "spec": { "suspend": suspend } })),
            )
            .await
            .map_err(|err| self.error(&format!("cronjob {namespace}/{name}"), err))?;
        Ok(patched.spec.suspend.unwrap_or(false))
    }

    /// The workload's desired replicas (its `scale` subresource).
    ///
    /// # Errors
    /// API errors, naming the workload.
    pub async fn replicas(
        &self,
        namespace: Option<&str>,
        workload: &Workload,
    ) -> Result<i32, KubeError> {
        let namespace = self.namespace(namespace);
        let what = format!("{workload} in {namespace}");
        let scale = match workload {
            Workload::Deployment(name) => {
                Api::<Deployment>::namespaced(self.client.clone(), namespace)
                    .get_scale(name)
                    .await
            }
            Workload::StatefulSet(name) => {
                Api::<StatefulSet>::namespaced(self.client.clone(), namespace)
                    .get_scale(name)
                    .await
            }
        }
        .map_err(|err| self.error(&what, err))?;
        Ok(scale.spec.and_then(|spec| spec.replicas).unwrap_or(0))
    }

    /// Sets the workload's replicas through its `scale` subresource; returns them read back.
    ///
    /// # Errors
    /// As [`KubeClient::replicas`].
    pub async fn scale(
        &self,
        namespace: Option<&str>,
        workload: &Workload,
        replicas: i32,
    ) -> Result<i32, KubeError> {
        let namespace = self.namespace(namespace);
        let what = format!("{workload} in {namespace}");
        let patch = Patch::Merge(json!({ "spec": { "replicas": replicas } }));
        let params = strict();
        let scale = match workload {
            Workload::Deployment(name) => {
                Api::<Deployment>::namespaced(self.client.clone(), namespace)
                    .patch_scale(name, &params, &patch)
                    .await
            }
            Workload::StatefulSet(name) => {
                Api::<StatefulSet>::namespaced(self.client.clone(), namespace)
                    .patch_scale(name, &params, &patch)
                    .await
            }
        }
        .map_err(|err| self.error(&what, err))?;
        Ok(scale.spec.and_then(|spec| spec.replicas).unwrap_or(0))
    }
}

fn config_error(message: String) -> KubeError {
    KubeError::new(KubeErrorKind::Config, message)
}

/// `~/` in a configured path, expanded here where the file is opened (configuration
/// validation keeps it as written).
fn expand_home(path: &std::path::Path) -> std::path::PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => std::path::PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_parse_and_print() {
        assert_eq!(
            Workload::parse("statefulset/redis"),
            Ok(Workload::StatefulSet("redis".into()))
        );
        assert_eq!(
            Workload::parse("deploy/feast-online").map(|w| w.to_string()),
            Ok("deployment/feast-online".into())
        );
        assert!(Workload::parse("pod/x").is_err());
        assert!(Workload::parse("statefulset/").is_err());
    }
}
