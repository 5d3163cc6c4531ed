//! Online feature values, read two ways: through the feature server's
//! `/get-online-features` (what the predictor sees) and straight from Redis (what is stored,
//! and still readable when the feature server is the part that failed).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use warden_config::HttpEndpoint;
use warden_connect::{ConnectError, HttpClient, RedisClient};

use crate::redis_layout::{self, EntityValue};

/// The feature server's answer, in its own shape (`results[]` per requested column, entity
/// columns first, then features, each with `values`, `statuses`, `event_timestamps`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineAnswer {
    /// One entry per column.
    pub results: Vec<OnlineColumn>,
    /// `feature_names` in the order of `results`.
    pub metadata: AnswerMetadata,
}

/// One column of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineColumn {
    /// One value per entity (`null` when missing).
    pub values: Vec<Value>,
    /// Feast's statuses (not to be trusted with Redis in 0.67).
    #[serde(default)]
    pub statuses: Vec<String>,
    /// Event times, RFC 3339; 1970 when missing.
    #[serde(default)]
    pub event_timestamps: Vec<String>,
}

/// The answer's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerMetadata {
    /// Column names in the order of `results`.
    pub feature_names: Vec<String>,
}

/// A request to `/get-online-features`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineRequest {
    /// `"<view>:<feature>"` references.
    pub features: Vec<String>,
    /// Join key → one value per entity.
    pub entities: BTreeMap<String, Vec<Value>>,
    /// Whether names come back as `<view>__<feature>`.
    #[serde(default)]
    pub full_feature_names: bool,
}

/// Whether an event time means "no value" (Feast reports missing entities at the epoch).
pub fn is_missing_timestamp(timestamp: &str) -> bool {
    DateTime::parse_from_rfc3339(timestamp).map_or(true, |t| t.timestamp() <= 0)
}

/// A client of the feature server (`feast serve`).
#[derive(Debug, Clone)]
pub struct FeatureServerClient {
    http: HttpClient,
}

impl FeatureServerClient {
    /// A client for the feature server at `endpoint`.
    ///
    /// # Errors
    /// As [`HttpClient::new`].
    pub fn new(endpoint: &HttpEndpoint) -> Result<Self, ConnectError> {
        Ok(Self {
            http: HttpClient::new(endpoint)?,
        })
    }

    /// `POST /get-online-features`.
    ///
    /// # Errors
    /// Transport, timeout, status and decode errors naming the URL.
    pub async fn get_online_features(
        &self,
        request: &OnlineRequest,
    ) -> Result<OnlineAnswer, ConnectError> {
        self.http
            .send_body(Method::POST, "/get-online-features", request)
            .await
    }

    /// `GET /health`.
    ///
    /// # Errors
    /// Transport, timeout and status errors naming the URL.
    pub async fn health(&self) -> Result<(), ConnectError> {
        self.http.get_text("/health").await.map(|_| ())
    }

    /// The base URL.
    pub fn url(&self) -> String {
        self.http.base().to_string()
    }
}

/// One entity's stored row for one view, read from Redis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRow {
    /// The entity's event time for the view; `None` when the entity has no row.
    pub event_time: Option<DateTime<Utc>>,
    /// Feature name → value (`null` when absent).
    pub values: BTreeMap<String, Value>,
    /// Fields that could not be decoded, with why.
    pub undecoded: Vec<String>,
}

/// Reads `features` of `view` for one entity straight from Feast's Redis layout.
///
/// # Errors
/// Redis errors naming the URL.
pub async fn read_stored_row(
    redis: &RedisClient,
    project: &str,
    view: &str,
    join_keys: &[(String, EntityValue)],
    features: &[String],
) -> Result<StoredRow, ConnectError> {
    let mut rows = read_stored_rows(redis, project, view, &[join_keys], features).await?;
    Ok(rows.pop().unwrap_or(StoredRow {
        event_time: None,
        values: BTreeMap::new(),
        undecoded: Vec::new(),
    }))
}

/// [`read_stored_row`] for many entities in one round trip (the `HMGET`s pipelined), in the
/// order given.
///
/// # Errors
/// Redis errors naming the URL.
pub async fn read_stored_rows(
    redis: &RedisClient,
    project: &str,
    view: &str,
    entities: &[&[(String, EntityValue)]],
    features: &[String],
) -> Result<Vec<StoredRow>, ConnectError> {
    let commands = entities
        .iter()
        .map(|join_keys| {
            let mut command = redis::cmd("HMGET");
            command
                .arg(redis_layout::entity_key(join_keys, project))
                .arg(redis_layout::timestamp_field(view));
            for feature in features {
                command.arg(&redis_layout::feature_field(view, feature)[..]);
            }
            command
        })
        .collect();
    let replies: Vec<Vec<Option<Vec<u8>>>> = redis.query_pipelined(commands).await?;
    Ok(replies
        .into_iter()
        .map(|replies| decode_row(view, features, replies))
        .collect())
}

/// One `HMGET` reply (the event time, then each feature) as a row.
fn decode_row(view: &str, features: &[String], replies: Vec<Option<Vec<u8>>>) -> StoredRow {
    let mut replies = replies.into_iter();
    let event_time = replies
        .next()
        .flatten()
        .and_then(|bytes| redis_layout::decode_timestamp(&bytes));
    let mut values = BTreeMap::new();
    let mut undecoded = Vec::new();
    for (feature, reply) in features.iter().zip(replies) {
        let value = match reply {
            None => Value::Null,
            Some(bytes) => redis_layout::decode_value(&bytes).unwrap_or_else(|why| {
                undecoded.push(format!("{view}:{feature}: {why}"));
                Value::Null
            }),
        };
        values.insert(feature.clone(), value);
    }
    StoredRow {
        event_time,
        values,
        undecoded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_answer_decodes_and_missing_is_the_epoch() {
        let answer: OnlineAnswer =
            serde_json::from_str(include_str!("../tests/data/get_online_features.json"))
                .expect("capture decodes");
        assert_eq!(answer.metadata.feature_names.len(), answer.results.len());
        let sales = &answer.results[1];
        assert_eq!(sales.values[2], Value::Null);
        // Feast says PRESENT for the missing entity; the timestamp tells the truth.
        assert_eq!(sales.statuses[2], "PRESENT");
        assert!(is_missing_timestamp(&sales.event_timestamps[2]));
        assert!(!is_missing_timestamp(&sales.event_timestamps[0]));
    }
}
