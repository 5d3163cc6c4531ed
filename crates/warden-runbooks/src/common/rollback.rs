//! `rollback_model`, shared by runbook 2 (a service under `serving:`) and runbook 5 (a model
//! under `models:`), each idempotent with a plan that shows before and after and a result read
//! back: KServe ([`super::kserve_rollback`]) — a canary in progress gets
//! `canaryTrafficPercent: 0`, a fully rolled-out bad revision gets the previous `storageUri`
//! back; MLflow — the serving alias (default `champion`) moves from the newest version to the
//! one before it, or for stage-based registries the previous version goes back to the stage;
//! MLServer — the model is reloaded so a `models:/…@alias` URI resolves again.

use std::sync::Arc;

use serde_json::json;
use warden_config::Config;
use warden_core::Target;
use warden_engine::executor::{ActionError, ActionRequest};

use super::actions::{connect_error, refused, text_param};
use super::kube::kube_client;

/// What a rollback moves.
pub struct RollbackTarget {
    /// The `serving:` or `models:` entry's name.
    pub name: String,
    /// The registered model.
    pub model: String,
    /// Its serving alias (a step's `alias` parameter wins).
    pub alias: String,
    /// Or its serving stage (stage-based registries).
    pub stage: Option<String>,
    /// Kubernetes namespace.
    pub namespace: Option<String>,
    /// KServe InferenceService.
    pub inference_service: Option<String>,
}

/// What `rollback_model` moves for an incident: the `serving:` service or the `models:` model
/// named by its target.
///
/// # Errors
/// Neither has the target's name.
pub fn rollback_target(config: &Config, target: &Target) -> Result<RollbackTarget, ActionError> {
    if let Some(service) = config.serving.iter().find(|s| s.name == target.name) {
        return Ok(RollbackTarget {
            name: service.name.clone(),
            model: service.model.clone(),
            alias: "champion".into(),
            stage: None,
            namespace: service.namespace.clone(),
            inference_service: service.inference_service.clone(),
        });
    }
    let model = config
        .models
        .iter()
        .find(|m| m.name == target.name)
        .ok_or_else(|| {
            refused(format!(
                "no serving or models entry named {:?} in warden.yaml",
                target.name
            ))
        })?;
    Ok(RollbackTarget {
        name: model.name.clone(),
        model: model.name.clone(),
        alias: model.alias.clone(),
        stage: model.stage.clone(),
        namespace: model.namespace.clone(),
        inference_service: model.inference_service.clone(),
    })
}

/// A Kubernetes client from `connectors.kubernetes`.
///
/// # Errors
/// Not configured, or the kubeconfig cannot be loaded.
pub async fn kube_for(config: &Config) -> Result<warden_kube::KubeClient, ActionError> {
    let kubernetes = config
        .connectors
        .kubernetes
        .as_ref()
        .ok_or_else(|| refused("connectors.kubernetes is not configured".into()))?;
    kube_client(kubernetes).await
}

/// The newest registered version of `model` and the one before it.
async fn newest_two(
    client: &warden_connect::MlflowClient,
    model: &str,
) -> Result<Option<(u64, u64)>, ActionError> {
    let mut versions: Vec<u64> = client
        .search_model_versions(model)
        .await
        .map_err(connect_error)?
        .iter()
        .filter_map(|v| v.number())
        .collect();
    versions.sort_unstable();
    Ok(versions
        .last()
        .copied()
        .zip(versions.iter().rev().nth(1).copied()))
}

/// What an MLflow rollback would change: `(model, alias, from, to)` or why not.
async fn mlflow_rollback(
    config: &Config,
    model: &str,
    alias: &str,
) -> Result<Result<(String, String), String>, ActionError> {
    let Some(config) = &config.connectors.mlflow else {
        return Ok(Err("MLflow not configured".into()));
    };
    let client = warden_connect::MlflowClient::from_config(config).map_err(connect_error)?;
    let Some((newest, previous)) = newest_two(&client, model).await? else {
        return Ok(Err(format!(
            "model {model} has no version before its newest"
        )));
    };
    let current = client
        .get_model_version_by_alias(model, alias)
        .await
        .map_err(connect_error)?
        .and_then(|v| v.number());
    Ok(match current {
        Some(v) if v == previous => Err(format!("{model}@{alias} already on version {previous}")),
        Some(v) if v == newest => Ok((newest.to_string(), previous.to_string())),
        Some(v) => Err(format!(
            "{model}@{alias} is on version {v}, not the newest ({newest}): left alone"
        )),
        None => Err(format!("{model} has no alias {alias}")),
    })
}

/// `rollback_model` for runbook 2's services and runbook 5's models.
pub struct RollbackModel {
    /// The configuration (services, models, connectors).
    pub config: Arc<Config>,
}

impl RollbackModel {
    async fn work(&self, request: &ActionRequest, execute: bool) -> Result<String, ActionError> {
        let service = rollback_target(&self.config, &request.incident.target)?;
        let model = text_param(request, "model")
            .unwrap_or(&service.model)
            .to_string();
        let alias = text_param(request, "alias")
            .unwrap_or(&service.alias)
            .to_string();
        let namespace = service.namespace.as_deref();
        let mut said = Vec::new();
        if let Some(isvc) = &service.inference_service {
            let kube = kube_for(&self.config).await?;
            said.push(super::kserve_rollback::rollback(&kube, namespace, isvc, execute).await?);
        }
        if let Some(stage) = &service.stage {
            said.push(self.stage_rollback(&model, stage, execute).await?);
        } else {
            self.alias_rollback(&model, &alias, execute, &mut said)
                .await?;
        }
        if let Some(server) = &self.config.connectors.model_server
            && server.model == model
        {
            if execute {
                let http =
                    warden_connect::HttpClient::new(&server.endpoint).map_err(connect_error)?;
                let url = http
                    .url(&format!("/v2/repository/models/{model}/load"), &[])
                    .map_err(connect_error)?;
                let response = http
                    .send_raw(reqwest::Method::POST, url, Some(&json!({})))
                    .await
                    .map_err(connect_error)?;
                if response.status >= 300 {
                    return Err(refused(format!(
                        "{} answered {} to the reload",
                        response.url, response.status
                    )));
                }
                said.push(format!("model server reloaded {model}"));
            } else {
                said.push(format!("would reload {model} on {}", server.endpoint.url));
            }
        }
        if said.is_empty() {
            return Err(refused(format!(
                "{:?}: nothing to roll back with (configure inference_service, connectors.mlflow or connectors.model_server)",
                service.name
            )));
        }
        Ok(said.join("; "))
    }
    async fn alias_rollback(
        &self,
        model: &str,
        alias: &str,
        execute: bool,
        said: &mut Vec<String>,
    ) -> Result<(), ActionError> {
        let (model, alias) = (model.to_string(), alias.to_string());
        match mlflow_rollback(&self.config, &model, &alias).await? {
            Ok((from, to)) if execute => {
                let config = self
                    .config
                    .connectors
                    .mlflow
                    .as_ref()
                    .ok_or_else(|| refused("MLflow not configured".into()))?;
                let client =
                    warden_connect::MlflowClient::from_config(config).map_err(connect_error)?;
                client
                    .set_alias(&model, &alias, &to)
                    .await
                    .map_err(connect_error)?;
                let now = client
                    .get_model_version_by_alias(&model, &alias)
                    .await
                    .map_err(connect_error)?
                    .map(|v| v.version);
                if now.as_deref() != Some(to.as_str()) {
                    return Err(refused(format!(
                        "{model}@{alias} reads {now:?} after moving it to {to}"
                    )));
                }
                said.push(format!(
                    "MLflow {model}@{alias}: version {from} → {to} (read back)"
                ));
            }
            Ok((from, to)) => said.push(format!(
                "would move MLflow {model}@{alias} from version {from} to {to}"
            )),
            Err(why) if self.config.connectors.mlflow.is_some() => said.push(why),
            Err(_) => {}
        }
        Ok(())
    }

    /// Stage-based registries: the version before the newest goes to `stage` and the
    /// versions there are archived (MLflow's `archive_existing_versions`), read back.
    async fn stage_rollback(
        &self,
        model: &str,
        stage: &str,
        execute: bool,
    ) -> Result<String, ActionError> {
        let config = self
            .config
            .connectors
            .mlflow
            .as_ref()
            .ok_or_else(|| refused("MLflow not configured".into()))?;
        let client = warden_connect::MlflowClient::from_config(config).map_err(connect_error)?;
        let Some((newest, previous)) = newest_two(&client, model).await? else {
            return Ok(format!("model {model} has no version before its newest"));
        };
        let in_stage = || async {
            client
                .latest_versions(model, &[stage])
                .await
                .map_err(connect_error)
                .map(|v| v.into_iter().next().and_then(|v| v.number()))
        };
        match in_stage().await? {
            Some(v) if v == previous => {
                return Ok(format!("{model}/{stage} already on version {previous}"));
            }
            Some(v) if v != newest => {
                return Ok(format!(
                    "{model}/{stage} is on version {v}, not the newest ({newest}): left alone"
                ));
            }
            None => return Ok(format!("{model} has no version in {stage}")),
            Some(_) => {}
        }
        if !execute {
            return Ok(format!(
                "would move MLflow {model} version {previous} to {stage}, archiving version {newest}"
            ));
        }
        client
            .transition_stage(model, &previous.to_string(), stage, true)
            .await
            .map_err(connect_error)?;
        match in_stage().await? {
            Some(v) if v == previous => Ok(format!(
                "MLflow {model}/{stage}: version {newest} → {previous} (read back; {newest} archived)"
            )),
            now => Err(refused(format!(
                "{model}/{stage} reads {now:?} after moving version {previous} there"
            ))),
        }
    }
}

super::actions::work_handler!(RollbackModel);
