//! A Feast deployment in process, for `warden demo` and tests: on one port the registry's REST
//! server (`feast serve_registry --rest-api`: the feature view with the materialization
//! intervals it has recorded) and the feature server (`/health`, `/get-online-features`); on
//! another the Redis online store in Feast's own layout ([`redis`]). Materialization is the
//! caller's: [`FeastSim::materialize`] writes every entity's row and records the interval, as
//! `feast materialize-incremental` does, so freshness follows whatever runs the job — or fails
//! to.

pub mod redis;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use warden_core::Timestamp;
use warden_feast::redis_layout::{self, EntityValue};

use crate::StartError;

/// The one feature view the simulated project holds.
#[derive(Debug, Clone)]
pub struct ViewSpec {
    /// Feast project.
    pub project: String,
    /// The view's name.
    pub name: String,
    /// Its `INT64` join key.
    pub entity: String,
    /// Features with their Feast value types (`DOUBLE`, `INT64`, `STRING`, …).
    pub features: Vec<(String, String)>,
    /// Time to live of an online value, seconds (0: forever).
    pub ttl_seconds: u64,
    /// The offline file source, relative to the Feast repository.
    pub source_uri: String,
    /// The source's event-time column.
    pub timestamp_field: String,
}

/// One entity's row as the offline source has it: join key value, event time, one value per
/// feature in [`ViewSpec::features`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The join key's value.
    pub entity: i64,
    /// The row's event time.
    pub event_time: Timestamp,
    /// The feature values.
    pub values: Vec<Value>,
}

/// What the simulated Feast holds.
pub(crate) struct Online {
    pub(crate) view: ViewSpec,
    /// Materialization intervals, oldest first.
    intervals: Vec<(Timestamp, Timestamp)>,
    /// The online rows by entity, as the feature server answers them.
    rows: BTreeMap<i64, Row>,
    /// Redis: key → field → bytes.
    pub(crate) hashes: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>,
}

type Shared = Arc<Mutex<Online>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Online> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running simulator.
pub struct FeastSim {
    online: Shared,
    url: String,
    redis_url: String,
}

impl FeastSim {
    /// Starts the registry and feature server (on `ports.0`, any free port when taken or
    /// `None`) and the Redis store (on `ports.1`) for `view`, never materialized.
    ///
    /// # Errors
    /// No loopback port could be bound.
    pub async fn start(view: ViewSpec, ports: Option<(u16, u16)>) -> Result<Self, StartError> {
        let online: Shared = Arc::new(Mutex::new(Online {
            view,
            intervals: Vec::new(),
            rows: BTreeMap::new(),
            hashes: BTreeMap::new(),
        }));
        let router = Router::new()
            .route("/api/v1/feature_views", get(list_views))
            .route("/api/v1/feature_views/{name}", get(one_view))
            .route("/health", get(|| async { "" }))
            .route("/get-online-features", post(online_features))
            .with_state(online.clone());
        let url = crate::serve(router, ports.map(|p| p.0)).await?;
        let redis_listener = crate::bind(ports.map(|p| p.1)).await?;
        let redis_url = format!(
            "redis://{}",
            redis_listener.local_addr().map_err(StartError)?
        );
        tokio::spawn(redis::serve(redis_listener, online.clone()));
        Ok(Self {
            online,
            url,
            redis_url,
        })
    }

    /// The feature server's and the registry's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The online store, `redis://127.0.0.1:PORT`.
    pub fn redis_url(&self) -> &str {
        &self.redis_url
    }

    /// Materializes `[start, end)`: writes every row to the online store in Feast's layout
    /// and records the interval in the registry.
    ///
    /// # Errors
    /// A value that does not fit its feature's type, named; nothing is written then.
    pub fn materialize(
        &self,
        start: Timestamp,
        end: Timestamp,
        rows: &[Row],
    ) -> Result<(), String> {
        let mut online = lock(&self.online);
        let view = online.view.clone();
        let mut written = Vec::new();
        for row in rows {
            let key = redis_layout::entity_key(
                &[(view.entity.clone(), EntityValue::Int64(row.entity))],
                &view.project,
            );
            let mut fields = BTreeMap::new();
            fields.insert(
                redis_layout::timestamp_field(&view.name).into_bytes(),
                redis_layout::encode_timestamp(row.event_time),
            );
            for ((feature, value_type), value) in view.features.iter().zip(&row.values) {
                let bytes = redis_layout::encode_value(value, value_type).map_err(|err| {
                    format!(
                        "{} {}={} {feature}: {err}",
                        view.name, view.entity, row.entity
                    )
                })?;
                fields.insert(
                    redis_layout::feature_field(&view.name, feature).to_vec(),
                    bytes,
                );
            }
            written.push((key, fields, row.clone()));
        }
        for (key, fields, row) in written {
            online.hashes.entry(key).or_default().extend(fields);
            online.rows.insert(row.entity, row);
        }
        online.intervals.push((start, end));
        Ok(())
    }

    /// The end of the latest materialization.
    pub fn materialized_until(&self) -> Option<Timestamp> {
        lock(&self.online).intervals.last().map(|(_, end)| *end)
    }
}

fn rfc3339(at: Timestamp) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The view as the registry REST server answers it.
fn view_json(online: &Online) -> Value {
    let view = &online.view;
    json!({
        "type": "featureView",
        "spec": {
            "name": view.name,
            "entities": [view.entity.trim_end_matches("_id")],
            "features": view.features.iter()
                .map(|(name, value_type)| json!({"name": name, "valueType": value_type}))
                .collect::<Vec<_>>(),
            "ttl": format!("{}s", view.ttl_seconds),
            "batchSource": {
                "type": "BATCH_FILE",
                "timestampField": view.timestamp_field,
                "fileOptions": {"uri": view.source_uri},
                "dataSourceClassType": "feast.infra.offline_stores.file_source.FileSource",
                "name": view.source_uri,
            },
            "online": true,
            "entityColumns": [{"name": view.entity, "valueType": "INT64"}],
        },
        "meta": {
            "materializationIntervals": online.intervals.iter()
                .map(|(start, end)| json!({"startTime": rfc3339(*start), "endTime": rfc3339(*end)}))
                .collect::<Vec<_>>(),
            "state": "AVAILABLE_ONLINE",
        },
    })
}

async fn list_views(
    State(online): State<Shared>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Json<Value> {
    let online = lock(&online);
    let views = if query
        .get("project")
        .is_none_or(|project| *project == online.view.project)
    {
        vec![view_json(&online)]
    } else {
        Vec::new()
    };
    Json(json!({ "featureViews": views, "pagination": {} }))
}

async fn one_view(State(online): State<Shared>, Path(name): Path<String>) -> Response {
    let online = lock(&online);
    if name == online.view.name {
        Json(view_json(&online)).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"detail": format!("Feature view {name} does not exist")})),
        )
            .into_response()
    }
}

/// `POST /get-online-features` in the feature server's column shape: the join key first,
/// then each feature, with the epoch and `null` for entities that have no row.
async fn online_features(State(online): State<Shared>, Json(request): Json<Value>) -> Response {
    let online = lock(&online);
    let view = &online.view;
    let bad = |detail: String| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"detail": detail})),
        )
            .into_response()
    };
    let Some(entities) = request["entities"][&view.entity].as_array() else {
        return bad(format!("entities must hold {}", view.entity));
    };
    let mut names = vec![view.entity.clone()];
    let mut columns = vec![json!({
        "values": entities,
        "statuses": vec!["PRESENT"; entities.len()],
        "event_timestamps": vec!["1970-01-01T00:00:00Z"; entities.len()],
    })];
    for reference in request["features"].as_array().into_iter().flatten() {
        let reference = reference.as_str().unwrap_or_default();
        let Some(index) = reference
            .split_once(':')
            .filter(|(name, _)| *name == view.name)
            .and_then(|(_, feature)| view.features.iter().position(|(f, _)| f == feature))
        else {
            return bad(format!("feature {reference} is not in the registry"));
        };
        let cells: Vec<(Value, String)> = entities
            .iter()
            .map(
                |entity| match entity.as_i64().and_then(|id| online.rows.get(&id)) {
                    Some(row) => (row.values[index].clone(), rfc3339(row.event_time)),
                    None => (Value::Null, "1970-01-01T00:00:00Z".into()),
                },
            )
            .collect();
        names.push(reference.replace(':', "__"));
        columns.push(json!({
            "values": cells.iter().map(|c| c.0.clone()).collect::<Vec<_>>(),
            "statuses": vec!["PRESENT"; cells.len()],
            "event_timestamps": cells.iter().map(|c| c.1.clone()).collect::<Vec<_>>(),
        }));
    }
    Json(json!({ "results": columns, "metadata": {"feature_names": names} })).into_response()
}
