//! A simulated MLflow model registry (REST API 2.0 as MLflow 3.17 answers it): registered
//! models with versions, aliases and the training run behind each version with its metrics.
//! It answers what Warden's MLflow client asks — a model, a version, a version by alias
//! (a missing alias is MLflow's 400 `INVALID_PARAMETER_VALUE` "… not found", not a 404), the
//! version search, alias moves and runs — and refuses anything else with MLflow's
//! `ENDPOINT_NOT_FOUND`. The scenario registers versions, deploys by moving an alias, and
//! reads the alias back to know which version serves; every alias move is kept with the
//! request that made it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::StartError;

const API: &str = "/api/2.0/mlflow";

/// One registered version.
#[derive(Debug, Clone)]
struct Version {
    created_ms: i64,
    run_id: String,
}

/// One training run: its metrics.
#[derive(Debug, Clone)]
struct Run {
    name: String,
    start_ms: i64,
    metrics: Vec<(String, f64)>,
}

#[derive(Debug, Default)]
struct Registry {
    /// Model → version number → version.
    models: BTreeMap<String, BTreeMap<u64, Version>>,
    /// Model → alias → version number.
    aliases: BTreeMap<String, BTreeMap<String, u64>>,
    runs: HashMap<String, Run>,
    moves: Vec<AliasMove>,
}

/// An alias move the registry accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasMove {
    /// The model.
    pub model: String,
    /// The alias.
    pub alias: String,
    /// The version it pointed to before, if any.
    pub from: Option<u64>,
    /// The version it points to now.
    pub to: u64,
    /// Whether the move came through the REST API (Warden) rather than the scenario.
    pub through_api: bool,
}

/// The simulated registry, shared between its server and the scenario.
#[derive(Debug, Clone)]
pub struct MlflowSim {
    url: String,
    registry: Arc<Mutex<Registry>>,
}

/// What a new version is trained and registered with.
#[derive(Debug, Clone)]
pub struct NewVersion<'a> {
    /// The registered model.
    pub model: &'a str,
    /// Its version number.
    pub version: u64,
    /// When it was registered (ms since the epoch).
    pub created_ms: i64,
    /// The training run's id.
    pub run_id: &'a str,
    /// The training run's metrics (`val_mape` …).
    pub metrics: &'a [(&'a str, f64)],
}

impl MlflowSim {
    /// Starts the registry's server on loopback, on `port` when it is free.
    ///
    /// # Errors
    /// No port to bind.
    pub async fn start(port: Option<u16>) -> Result<Self, StartError> {
        let registry = Arc::new(Mutex::new(Registry::default()));
        let app = Router::new().fallback(answer).with_state(registry.clone());
        let url = crate::serve(app, port).await?;
        Ok(Self { url, registry })
    }

    /// The base URL (`connectors.mlflow.url`).
    pub fn url(&self) -> &str {
        &self.url
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a version and its training run.
    pub fn register(&self, new: &NewVersion<'_>) {
        let mut registry = self.lock();
        registry.runs.insert(
            new.run_id.to_string(),
            Run {
                name: format!("train-v{}", new.version),
                start_ms: new.created_ms,
                metrics: new
                    .metrics
                    .iter()
                    .map(|(key, value)| ((*key).to_string(), *value))
                    .collect(),
            },
        );
        registry
            .models
            .entry(new.model.to_string())
            .or_default()
            .insert(
                new.version,
                Version {
                    created_ms: new.created_ms,
                    run_id: new.run_id.to_string(),
                },
            );
    }

    /// Points `alias` of `model` at `version` (the scenario's deployment); `false` when the
    /// version is not registered.
    pub fn set_alias(&self, model: &str, alias: &str, version: u64) -> bool {
        self.lock().set_alias(model, alias, version, false)
    }

    /// The version `alias` of `model` points to.
    pub fn alias(&self, model: &str, alias: &str) -> Option<u64> {
        self.lock()
            .aliases
            .get(model)
            .and_then(|aliases| aliases.get(alias))
            .copied()
    }

    /// Every alias move so far, oldest first.
    pub fn moves(&self) -> Vec<AliasMove> {
        self.lock().moves.clone()
    }
}

impl Registry {
    fn set_alias(&mut self, model: &str, alias: &str, version: u64, through_api: bool) -> bool {
        if !self
            .models
            .get(model)
            .is_some_and(|versions| versions.contains_key(&version))
        {
            return false;
        }
        let from = self
            .aliases
            .entry(model.to_string())
            .or_default()
            .insert(alias.to_string(), version);
        self.moves.push(AliasMove {
            model: model.to_string(),
            alias: alias.to_string(),
            from,
            to: version,
            through_api,
        });
        true
    }

    fn aliases_of(&self, model: &str, version: u64) -> Vec<String> {
        self.aliases
            .get(model)
            .into_iter()
            .flatten()
            .filter(|(_, v)| **v == version)
            .map(|(alias, _)| alias.clone())
            .collect()
    }

    /// A version as MLflow shows it; `aliases` only where MLflow includes them (not in
    /// search results).
    fn version_json(&self, model: &str, number: u64, with_aliases: bool) -> Option<Value> {
        let version = self.models.get(model)?.get(&number)?;
        let mut shown = json!({
            "name": model,
            "version": number.to_string(),
            "creation_timestamp": version.created_ms,
            "last_updated_timestamp": version.created_ms,
            "current_stage": "None",
            "description": "",
            "source": format!("models:/m-{model}-{number}"),
            "run_id": version.run_id,
            "status": "READY",
            "run_link": "",
        });
        if with_aliases {
            shown["aliases"] = json!(self.aliases_of(model, number));
        }
        Some(shown)
    }
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(json!({"error_code": code, "message": message, "error_class": code})),
    )
        .into_response()
}

fn missing_model(name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        format!("Registered Model with name={name} not found"),
    )
}

fn missing_parameter(name: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        format!("Missing value for required parameter '{name}'."),
    )
}

type Params = HashMap<String, String>;

async fn answer(
    State(registry): State<Arc<Mutex<Registry>>>,
    method: Method,
    uri: Uri,
    Query(query): Query<Params>,
    body: axum::body::Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut registry = registry.lock().unwrap_or_else(PoisonError::into_inner);
    let path = uri.path();
    if path == "/health" {
        return "OK".into_response();
    }
    let Some(endpoint) = path.strip_prefix(API) else {
        return not_found(path);
    };
    // GET reads its parameters from the query, POST from the JSON body, as MLflow does.
    let param = |name: &str| -> Option<String> {
        query
            .get(name)
            .cloned()
            .or_else(|| body[name].as_str().map(str::to_string))
            .or_else(|| body[name].as_u64().map(|n| n.to_string()))
    };
    match (method, endpoint) {
        (Method::GET, "/registered-models/get") => {
            let Some(name) = param("name") else {
                return missing_parameter("name");
            };
            let Some(versions) = registry.models.get(&name) else {
                return missing_model(&name);
            };
            let latest: Vec<Value> = versions
                .keys()
                .next_back()
                .and_then(|n| registry.version_json(&name, *n, false))
                .into_iter()
                .collect();
            let aliases: Vec<Value> = registry
                .aliases
                .get(&name)
                .into_iter()
                .flatten()
                .map(|(alias, v)| json!({"alias": alias, "version": v.to_string()}))
                .collect();
            Json(json!({"registered_model": {"name": name, "latest_versions": latest, "aliases": aliases}}))
                .into_response()
        }
        (Method::GET, "/registered-models/alias") => {
            let (Some(name), Some(alias)) = (param("name"), param("alias")) else {
                return missing_parameter("alias");
            };
            match registry.aliases.get(&name).and_then(|a| a.get(&alias)) {
                Some(version) => match registry.version_json(&name, *version, true) {
                    Some(shown) => Json(json!({"model_version": shown})).into_response(),
                    None => missing_model(&name),
                },
                None => error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_PARAMETER_VALUE",
                    format!("Registered model alias {alias} not found."),
                ),
            }
        }
        (Method::POST, "/registered-models/alias") => {
            let (Some(name), Some(alias), Some(version)) =
                (param("name"), param("alias"), param("version"))
            else {
                return missing_parameter("version");
            };
            let Ok(number) = version.parse::<u64>() else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_PARAMETER_VALUE",
                    format!("Model version must be an integer, got {version:?}"),
                );
            };
            if registry.set_alias(&name, &alias, number, true) {
                Json(json!({})).into_response()
            } else {
                error(
                    StatusCode::NOT_FOUND,
                    "RESOURCE_DOES_NOT_EXIST",
                    format!("Model Version (name={name}, version={version}) not found"),
                )
            }
        }
        (Method::GET, "/model-versions/get") => {
            let (Some(name), Some(version)) = (param("name"), param("version")) else {
                return missing_parameter("version");
            };
            match version
                .parse::<u64>()
                .ok()
                .and_then(|n| registry.version_json(&name, n, true))
            {
                Some(shown) => Json(json!({"model_version": shown})).into_response(),
                None => error(
                    StatusCode::NOT_FOUND,
                    "RESOURCE_DOES_NOT_EXIST",
                    format!("Model Version (name={name}, version={version}) not found"),
                ),
            }
        }
        (Method::GET, "/model-versions/search") => {
            // Only the filter Warden sends: name='…'.
            let filter = param("filter").unwrap_or_default();
            let name = filter
                .strip_prefix("name='")
                .and_then(|rest| rest.strip_suffix('\''))
                .unwrap_or_default()
                .replace("\\'", "'");
            let versions: Vec<Value> = registry
                .models
                .get(&name)
                .into_iter()
                .flat_map(|versions| versions.keys().rev())
                .filter_map(|n| registry.version_json(&name, *n, false))
                .collect();
            Json(json!({"model_versions": versions})).into_response()
        }
        (Method::GET, "/runs/get") => {
            let Some(run_id) = param("run_id") else {
                return missing_parameter("run_id");
            };
            let Some(run) = registry.runs.get(&run_id) else {
                return error(
                    StatusCode::NOT_FOUND,
                    "RESOURCE_DOES_NOT_EXIST",
                    format!("Run '{run_id}' not found"),
                );
            };
            let metrics: Vec<Value> = run
                .metrics
                .iter()
                .map(|(key, value)| json!({"key": key, "value": value, "timestamp": run.start_ms, "step": 0}))
                .collect();
            Json(json!({"run": {
                "info": {"run_id": run_id, "run_uuid": run_id, "run_name": run.name,
                         "experiment_id": "1", "status": "FINISHED", "start_time": run.start_ms,
                         "lifecycle_stage": "active"},
                "data": {"metrics": metrics, "params": []},
            }}))
            .into_response()
        }
        _ => not_found(path),
    }
}

fn not_found(path: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
        format!("No API endpoint found for {path}"),
    )
}

#[cfg(test)]
mod tests {
    //! Held to Warden's MLflow client, whose types are held to recordings of the real
    //! MLflow: what the runbooks ask, the simulator answers in a shape the client decodes,
    //! including the traps (a missing alias, an unknown version).

    use super::*;
    use warden_connect::MlflowClient;

    async fn registry() -> (MlflowSim, MlflowClient) {
        let sim = MlflowSim::start(None).await.unwrap();
        for (version, run, val) in [(7, "run-7", 0.075), (8, "run-8", 0.04)] {
            sim.register(&NewVersion {
                model: "demand-forecast",
                version,
                created_ms: 1_795_000_000_000 + i64::try_from(version).unwrap(),
                run_id: run,
                metrics: &[("val_mape", val)],
            });
        }
        let config = warden_config::MlflowConfig {
            endpoint: warden_config::HttpEndpoint {
                url: sim.url().parse().unwrap(),
                timeout: std::time::Duration::from_secs(5),
            },
            token: None,
        };
        (sim, MlflowClient::from_config(&config).unwrap())
    }

    #[tokio::test]
    async fn the_client_reads_versions_runs_and_moves_aliases() {
        let (sim, client) = registry().await;
        assert_eq!(
            client
                .get_model_version_by_alias("demand-forecast", "champion")
                .await
                .unwrap(),
            None,
            "no alias yet: MLflow's 400 not-found is read as none"
        );
        assert!(sim.set_alias("demand-forecast", "champion", 8));
        let serving = client
            .get_model_version_by_alias("demand-forecast", "champion")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((serving.version.as_str(), serving.aliases.len()), ("8", 1));
        let versions = client
            .search_model_versions("demand-forecast")
            .await
            .unwrap();
        let numbers: Vec<_> = versions.iter().filter_map(|v| v.number()).collect();
        assert_eq!(numbers, [8, 7]);
        let run = client.get_run("run-8").await.unwrap();
        assert_eq!(run.data.metric_map()["val_mape"], 0.04);
        client
            .set_alias("demand-forecast", "champion", "7")
            .await
            .unwrap();
        assert_eq!(sim.alias("demand-forecast", "champion"), Some(7));
        let moves = sim.moves();
        assert_eq!(
            moves.last().map(|m| (m.from, m.to, m.through_api)),
            Some((Some(8), 7, true))
        );
        let unknown = client
            .set_alias("demand-forecast", "champion", "9")
            .await
            .unwrap_err();
        assert_eq!(unknown.api_code(), Some("RESOURCE_DOES_NOT_EXIST"));
        let model = client
            .get_registered_model("demand-forecast")
            .await
            .unwrap();
        assert_eq!(model.alias_version("champion"), Some("7"));
        let missing = client.get_registered_model("nope").await.unwrap_err();
        assert!(warden_connect::mlflow::is_not_found(&missing), "{missing}");
        assert!(client.health().await.is_ok());
    }
}
