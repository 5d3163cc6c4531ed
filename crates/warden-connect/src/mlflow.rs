//! MLflow model registry client (REST API 2.0, verified against MLflow 3.17; see
//! `shared/docs/STACK.md`). Covers what the runbooks need: registered models with their
//! aliases, versions, alias moves (the rollback primitive), legacy stages, version tags and
//! run metrics. Traps handled here: a missing alias answers 400 `INVALID_PARAMETER_VALUE`
//! (not 404), alias deletion needs a JSON body, and search results carry no aliases.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use warden_config::MlflowConfig;

use crate::{ConnectError, HttpClient};

const API: &str = "/api/2.0/mlflow";

/// A registered model.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RegisteredModel {
    /// Its name.
    pub name: String,
    /// Creation time, epoch milliseconds.
    #[serde(default)]
    pub creation_timestamp: Option<i64>,
    /// Last update, epoch milliseconds.
    #[serde(default)]
    pub last_updated_timestamp: Option<i64>,
    /// Latest version per stage.
    #[serde(default)]
    pub latest_versions: Vec<ModelVersion>,
    /// Aliases and the versions they point to.
    #[serde(default)]
    pub aliases: Vec<ModelAlias>,
}

impl RegisteredModel {
    /// The version `alias` points to, if the alias exists.
    pub fn alias_version(&self, alias: &str) -> Option<&str> {
        self.aliases
            .iter()
            .find(|entry| entry.alias == alias)
            .map(|entry| entry.version.as_str())
    }
}

/// An alias (e.g. `champion`) and the version it points to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ModelAlias {
    /// The alias.
    pub alias: String,
    /// The version, as MLflow spells it (a decimal string).
    pub version: String,
}

/// A key/value tag.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// One version of a registered model.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ModelVersion {
    /// The model's name.
    pub name: String,
    /// The version (a decimal string).
    pub version: String,
    /// Creation time, epoch milliseconds.
    #[serde(default)]
    pub creation_timestamp: Option<i64>,
    /// Last update, epoch milliseconds.
    #[serde(default)]
    pub last_updated_timestamp: Option<i64>,
    /// Legacy stage: `None`, `Staging`, `Production`, `Archived`.
    #[serde(default)]
    pub current_stage: Option<String>,
    /// Where the artifacts are (`models:/…`, `s3://…`, `runs:/…`).
    #[serde(default)]
    pub source: Option<String>,
    /// The training run.
    #[serde(default)]
    pub run_id: Option<String>,
    /// `READY`, `PENDING_REGISTRATION`, `FAILED_REGISTRATION`.
    #[serde(default)]
    pub status: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Aliases (only present on `get` and by-alias answers, never on search results).
    #[serde(default)]
    pub aliases: Vec<String>,
}

impl ModelVersion {
    /// The version as a number, for ordering ("10" after "9").
    pub fn number(&self) -> Option<u64> {
        self.version.parse().ok()
    }
}

/// A run's data: its latest metric values and parameters.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Run {
    /// Run metadata.
    pub info: RunInfo,
    /// Metrics and params.
    #[serde(default)]
    pub data: RunData,
}

/// Run metadata.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RunInfo {
    /// The run id.
    pub run_id: String,
    /// The experiment.
    #[serde(default)]
    pub experiment_id: Option<String>,
    /// `RUNNING`, `FINISHED`, `FAILED` …
    #[serde(default)]
    pub status: Option<String>,
}

/// Run metrics (latest value per key) and params.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct RunData {
    /// Latest value of each metric.
    #[serde(default)]
    pub metrics: Vec<Metric>,
    /// Parameters.
    #[serde(default)]
    pub params: Vec<Tag>,
}

impl RunData {
    /// Latest metric values by key.
    pub fn metric_map(&self) -> BTreeMap<String, f64> {
        self.metrics
            .iter()
            .map(|m| (m.key.clone(), m.value))
            .collect()
    }
}

/// One metric value.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Metric {
    /// Key.
    pub key: String,
    /// Value.
    pub value: f64,
    /// When it was logged, epoch milliseconds.
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// Training step.
    #[serde(default)]
    pub step: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct RegisteredModelEnvelope {
    registered_model: RegisteredModel,
}

#[derive(Debug, Deserialize)]
struct ModelVersionEnvelope {
    model_version: ModelVersion,
}

#[derive(Debug, Deserialize)]
struct ModelVersionsEnvelope {
    #[serde(default)]
    model_versions: Vec<ModelVersion>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RunEnvelope {
    run: Run,
}

#[derive(Debug, Deserialize)]
struct Empty {}

/// A client for one MLflow tracking server.
#[derive(Debug, Clone)]
pub struct MlflowClient {
    http: HttpClient,
}

/// Whether an error means "that model, version or alias does not exist".
pub fn is_not_found(error: &ConnectError) -> bool {
    match error.api_code() {
        Some("RESOURCE_DOES_NOT_EXIST") => true,
        // MLflow answers a missing alias with 400 INVALID_PARAMETER_VALUE "... alias ... not found".
        Some("INVALID_PARAMETER_VALUE") => error.to_string().contains("not found"),
        _ => error.status() == Some(404),
    }
}

impl MlflowClient {
    /// A client from the `connectors.mlflow` configuration.
    ///
    /// # Errors
    /// When the HTTP client cannot be built or the token cannot be resolved.
    pub fn from_config(config: &MlflowConfig) -> Result<Self, ConnectError> {
        let http = HttpClient::new(&config.endpoint)?
            .with_configured_bearer("connectors.mlflow.token", config.token.as_ref())?;
        Ok(Self { http })
    }

    /// A client over an existing HTTP client.
    pub fn new(http: HttpClient) -> Self {
        Self { http }
    }

    /// `GET /health`: `Ok` when the server answers `OK`.
    ///
    /// # Errors
    /// Transport errors, non-2xx, or a body other than `OK`.
    pub async fn health(&self) -> Result<(), ConnectError> {
        let body = self.http.get_text("/health").await?;
        if body.trim() == "OK" {
            Ok(())
        } else {
            Err(ConnectError::Decode {
                url: self.http.url("/health", &[])?.to_string(),
                message: format!("expected OK, got {:?}", body.trim()),
            })
        }
    }

    /// A registered model with its aliases.
    ///
    /// # Errors
    /// [`ConnectError::Status`] 404 `RESOURCE_DOES_NOT_EXIST` for an unknown model.
    pub async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel, ConnectError> {
        let envelope: RegisteredModelEnvelope = self
            .http
            .get_json(&format!("{API}/registered-models/get"), &[("name", name)])
            .await?;
        Ok(envelope.registered_model)
    }

    /// Registers a model name.
    ///
    /// # Errors
    /// `RESOURCE_ALREADY_EXISTS` when the name is taken.
    pub async fn create_registered_model(
        &self,
        name: &str,
    ) -> Result<RegisteredModel, ConnectError> {
        let envelope: RegisteredModelEnvelope = self
            .http
            .send_body(
                Method::POST,
                &format!("{API}/registered-models/create"),
                &json!({ "name": name }),
            )
            .await?;
        Ok(envelope.registered_model)
    }

    /// Creates a version of `name` from artifacts at `source`, optionally linked to a run.
    ///
    /// # Errors
    /// Transport and API errors.
    pub async fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
    ) -> Result<ModelVersion, ConnectError> {
        let mut body = json!({ "name": name, "source": source });
        if let Some(run_id) = run_id {
            body["run_id"] = json!(run_id);
        }
        let envelope: ModelVersionEnvelope = self
            .http
            .send_body(Method::POST, &format!("{API}/model-versions/create"), &body)
            .await?;
        Ok(envelope.model_version)
    }

    /// One version.
    ///
    /// # Errors
    /// 404 `RESOURCE_DOES_NOT_EXIST` for an unknown model or version.
    pub async fn get_model_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<ModelVersion, ConnectError> {
        let envelope: ModelVersionEnvelope = self
            .http
            .get_json(
                &format!("{API}/model-versions/get"),
                &[("name", name), ("version", version)],
            )
            .await?;
        Ok(envelope.model_version)
    }

    /// Every version of `name`, newest first (all pages).
    ///
    /// # Errors
    /// Transport and API errors.
    pub async fn search_model_versions(
        &self,
        name: &str,
    ) -> Result<Vec<ModelVersion>, ConnectError> {
        let filter = format!("name='{}'", name.replace('\'', "\\'"));
        let mut versions = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut query = vec![
                ("filter", filter.as_str()),
                ("order_by", "version_number DESC"),
                ("max_results", "1000"),
            ];
            if let Some(token) = &page_token {
                query.push(("page_token", token.as_str()));
            }
            let page: ModelVersionsEnvelope = self
                .http
                .get_json(&format!("{API}/model-versions/search"), &query)
                .await?;
            versions.extend(page.model_versions);
            match page.next_page_token {
                Some(token) if !token.is_empty() => page_token = Some(token),
                _ => break,
            }
        }
        versions.sort_by_key(|version| std::cmp::Reverse(version.number()));
        Ok(versions)
    }

    /// The version `alias` points to; `Ok(None)` when the alias does not exist.
    ///
    /// # Errors
    /// Transport and API errors other than "alias not found".
    pub async fn get_model_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<ModelVersion>, ConnectError> {
        let result: Result<ModelVersionEnvelope, ConnectError> = self
            .http
            .get_json(
                &format!("{API}/registered-models/alias"),
                &[("name", name), ("alias", alias)],
            )
            .await;
        match result {
            Ok(envelope) => Ok(Some(envelope.model_version)),
            Err(error) if is_not_found(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Points `alias` at `version` (creating or moving it): the rollback primitive.
    ///
    /// # Errors
    /// Transport and API errors (unknown model or version).
    pub async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<(), ConnectError> {
        let _: Empty = self
            .http
            .send_body(
                Method::POST,
                &format!("{API}/registered-models/alias"),
                &json!({ "name": name, "alias": alias, "version": version }),
            )
            .await?;
        Ok(())
    }

    /// Deletes `alias`; deleting an alias that does not exist is not an error (idempotent).
    ///
    /// # Errors
    /// Transport and API errors.
    pub async fn delete_alias(&self, name: &str, alias: &str) -> Result<(), ConnectError> {
        // MLflow reads the alias from a JSON body on DELETE; query parameters answer 400.
        let result: Result<Empty, ConnectError> = self
            .http
            .send_body(
                Method::DELETE,
                &format!("{API}/registered-models/alias"),
                &json!({ "name": name, "alias": alias }),
            )
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Moves `version` to a legacy registry stage (`Staging`, `Production`, `Archived`,
    /// `None`), archiving the versions already there when `archive_existing` — the stage-based
    /// setups' way to promote or roll back. Returns the version as MLflow now has it.
    ///
    /// # Errors
    /// Transport and API errors (an unknown version is a 404).
    pub async fn transition_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing: bool,
    ) -> Result<ModelVersion, ConnectError> {
        let envelope: ModelVersionEnvelope = self
            .http
            .send_body(
                Method::POST,
                &format!("{API}/model-versions/transition-stage"),
                &json!({
                    "name": name,
                    "version": version,
                    "stage": stage,
                    "archive_existing_versions": archive_existing,
                }),
            )
            .await?;
        Ok(envelope.model_version)
    }

    /// The newest version in each of `stages`.
    ///
    /// # Errors
    /// Transport and API errors.
    pub async fn latest_versions(
        &self,
        name: &str,
        stages: &[&str],
    ) -> Result<Vec<ModelVersion>, ConnectError> {
        let envelope: ModelVersionsEnvelope = self
            .http
            .send_body(
                Method::POST,
                &format!("{API}/registered-models/get-latest-versions"),
                &json!({ "name": name, "stages": stages }),
            )
            .await?;
        Ok(envelope.model_versions)
    }

    /// A run with its latest metrics and params.
    ///
    /// # Errors
    /// 404 for an unknown run.
    pub async fn get_run(&self, run_id: &str) -> Result<Run, ConnectError> {
        let envelope: RunEnvelope = self
            .http
            .get_json(&format!("{API}/runs/get"), &[("run_id", run_id)])
            .await?;
        Ok(envelope.run)
    }
}

#[cfg(test)]
mod tests {
    //! Contract tests: the types decode responses recorded from a real MLflow 3.17
    //! (copied from `shared/reference/captures/mlflow/` into `tests/data/mlflow/`).

    use super::*;
    use crate::http::{RawResponse, decode_json};

    fn capture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/data/mlflow/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
    }

    fn decode<T: serde::de::DeserializeOwned>(name: &str, status: u16) -> Result<T, ConnectError> {
        decode_json(RawResponse {
            url: format!("http://mlflow/{name}"),
            status,
            body: capture(name),
        })
    }

    #[test]
    fn registered_model_with_aliases() {
        let model = decode::<RegisteredModelEnvelope>("get_registered_model.json", 200)
            .unwrap()
            .registered_model;
        assert_eq!(model.name, "demand-forecast");
        assert_eq!(model.alias_version("champion"), Some("1"));
        assert_eq!(model.alias_version("challenger"), Some("2"));
        assert_eq!(model.alias_version("shadow"), None);
        assert_eq!(model.latest_versions[0].status.as_deref(), Some("READY"));
    }

    #[test]
    fn search_results_have_tags_but_no_aliases() {
        let page = decode::<ModelVersionsEnvelope>("search_versions.json", 200).unwrap();
        assert_eq!(page.model_versions.len(), 2);
        assert_eq!(page.model_versions[0].number(), Some(2));
        assert!(
            page.model_versions
                .iter()
                .all(|version| version.aliases.is_empty())
        );
        assert_eq!(page.model_versions[1].tags[0].key, "validation_status");
    }

    #[test]
    fn version_by_alias() {
        let version = decode::<ModelVersionEnvelope>("get_alias.json", 200)
            .unwrap()
            .model_version;
        assert_eq!(version.version, "1");
        assert_eq!(version.aliases, ["champion"]);
        assert_eq!(
            version.run_id.as_deref(),
            Some("eba882a3392a44a883b664e9908b2e90")
        );
    }

    #[test]
    fn missing_alias_400_and_missing_model_404_both_mean_not_found() {
        let alias = decode::<ModelVersionEnvelope>("get_alias_deleted.json", 400).unwrap_err();
        assert!(is_not_found(&alias), "{alias}");
        let model = decode::<RegisteredModelEnvelope>("missing_model.json", 404).unwrap_err();
        assert!(is_not_found(&model), "{model}");
        let bad_delete = decode::<Empty>("delete_alias_query.json", 400).unwrap_err();
        assert!(
            !is_not_found(&bad_delete),
            "a malformed request is not 'not found': {bad_delete}"
        );
    }

    #[test]
    fn run_metrics() {
        let run = decode::<RunEnvelope>("get_run.json", 200).unwrap().run;
        assert!(!run.info.run_id.is_empty());
        assert!(!run.data.metric_map().is_empty());
    }
}
