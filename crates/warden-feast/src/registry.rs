//! The Feast registry through its REST server (`feast serve_registry --rest-api`): feature
//! views with their entities, features, TTL, batch source and materialization intervals.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use warden_config::HttpEndpoint;
use warden_connect::{ConnectError, HttpClient};

/// One feature view as Warden uses it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureView {
    /// The view's name.
    pub name: String,
    /// Join keys with their Feast value types (`INT64`, `STRING`, …).
    pub entity_columns: Vec<Column>,
    /// Features with their Feast value types.
    pub features: Vec<Column>,
    /// How long an online value stays valid; `None` for "forever" (Feast's `0s`).
    #[serde(with = "optional_seconds")]
    pub ttl: Option<Duration>,
    /// The offline source's path or URI, for file sources.
    pub source_uri: Option<String>,
    /// The offline source's event-time column.
    pub source_timestamp_field: Option<String>,
    /// Materialization runs recorded in the registry, oldest first.
    pub materialization_intervals: Vec<Interval>,
    /// Whether the view is served online.
    pub online: bool,
}

/// A name and a Feast value type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Feast `ValueType` name (`INT64`, `DOUBLE`, `STRING`, …).
    pub value_type: String,
}

/// A time range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Interval {
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
}

impl FeatureView {
    /// The end of the latest materialization, if the view was ever materialized.
    pub fn materialized_until(&self) -> Option<DateTime<Utc>> {
        self.materialization_intervals.iter().map(|i| i.end).max()
    }

    /// `"<view>:<feature>"` references of all features, as the feature server takes them.
    pub fn feature_refs(&self) -> Vec<String> {
        self.features
            .iter()
            .map(|f| format!("{}:{}", self.name, f.name))
            .collect()
    }
}

mod optional_seconds {
    use std::time::Duration;

    use serde::Serializer;

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => s.serialize_some(&duration.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
}

/// Where the registry is read: the REST server, or the registry file itself.
#[derive(Debug, Clone)]
pub enum RegistrySource {
    /// `feast serve_registry --rest-api`.
    Rest(RegistryClient),
    /// The `registry:` file of `feature_store.yaml`.
    File(crate::registry_file::RegistryFile),
}

impl RegistrySource {
    /// The project's feature views.
    ///
    /// # Errors
    /// As [`RegistryClient::feature_views`] and
    /// [`crate::registry_file::RegistryFile::feature_views`].
    pub async fn feature_views(&self) -> Result<Vec<FeatureView>, ConnectError> {
        match self {
            Self::Rest(client) => client.feature_views().await,
            Self::File(file) => file.feature_views(),
        }
    }

    /// The project read.
    pub fn project(&self) -> &str {
        match self {
            Self::Rest(client) => client.project(),
            Self::File(file) => file.project(),
        }
    }
}

/// A client of the registry REST server for one project.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    http: HttpClient,
    project: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ViewList {
    #[serde(default)]
    feature_views: Vec<RawView>,
}

#[derive(Deserialize)]
struct RawView {
    spec: RawSpec,
    #[serde(default)]
    meta: RawMeta,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSpec {
    name: String,
    #[serde(default)]
    features: Vec<RawColumn>,
    #[serde(default)]
    entity_columns: Vec<RawColumn>,
    ttl: Option<String>,
    batch_source: Option<RawSource>,
    #[serde(default)]
    online: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawColumn {
    name: String,
    #[serde(default)]
    value_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSource {
    timestamp_field: Option<String>,
    file_options: Option<RawFileOptions>,
}

#[derive(Deserialize)]
struct RawFileOptions {
    uri: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawMeta {
    #[serde(default)]
    materialization_intervals: Vec<RawInterval>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawInterval {
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
}

/// Parses a protobuf JSON duration (`"7200s"`, `"1.5s"`); `0s` means no expiry in Feast.
pub fn parse_proto_duration(text: &str) -> Option<Option<Duration>> {
    let seconds: f64 = text.strip_suffix('s')?.parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Some((seconds > 0.0).then(|| Duration::from_secs_f64(seconds)))
}

impl RawView {
    fn into_view(self, url: &str) -> Result<FeatureView, ConnectError> {
        let ttl = match &self.spec.ttl {
            None => None,
            Some(text) => parse_proto_duration(text).ok_or_else(|| ConnectError::Decode {
                url: url.to_string(),
                message: format!(
                    "feature view {}: ttl {text:?} is not a duration",
                    self.spec.name
                ),
            })?,
        };
        let column = |raw: RawColumn| Column {
            name: raw.name,
            value_type: raw.value_type.unwrap_or_else(|| "UNKNOWN".into()),
        };
        let source = self.spec.batch_source;
        Ok(FeatureView {
            name: self.spec.name,
            entity_columns: self.spec.entity_columns.into_iter().map(column).collect(),
            features: self.spec.features.into_iter().map(column).collect(),
            ttl,
            source_uri: source
                .as_ref()
                .and_then(|s| s.file_options.as_ref())
                .and_then(|f| f.uri.clone()),
            source_timestamp_field: source.and_then(|s| s.timestamp_field),
            materialization_intervals: self
                .meta
                .materialization_intervals
                .into_iter()
                .map(|i| Interval {
                    start: i.start_time,
                    end: i.end_time,
                })
                .collect(),
            online: self.spec.online,
        })
    }
}

impl RegistryClient {
    /// A client for the registry at `endpoint`, reading `project`.
    ///
    /// # Errors
    /// As [`HttpClient::new`].
    pub fn new(endpoint: &HttpEndpoint, project: &str) -> Result<Self, ConnectError> {
        Ok(Self {
            http: HttpClient::new(endpoint)?,
            project: project.to_string(),
        })
    }

    /// Every feature view of the project, read past the server's cache.
    ///
    /// # Errors
    /// Transport and status errors naming the URL; a view that does not decode.
    pub async fn feature_views(&self) -> Result<Vec<FeatureView>, ConnectError> {
        let path = "/api/v1/feature_views";
        let query = [("project", self.project.as_str()), ("allow_cache", "false")];
        let url = self.http.url(path, &query)?.to_string();
        let list: ViewList = self.http.get_json(path, &query).await?;
        list.feature_views
            .into_iter()
            .map(|raw| raw.into_view(&url))
            .collect()
    }

    /// One feature view by name.
    ///
    /// # Errors
    /// As [`RegistryClient::feature_views`]; [`ConnectError::Status`] 404 for an unknown view.
    pub async fn feature_view(&self, name: &str) -> Result<FeatureView, ConnectError> {
        let path = format!("/api/v1/feature_views/{name}");
        let query = [("project", self.project.as_str()), ("allow_cache", "false")];
        let url = self.http.url(&path, &query)?.to_string();
        let raw: RawView = self.http.get_json(&path, &query).await?;
        raw.into_view(&url)
    }

    /// The project read.
    pub fn project(&self) -> &str {
        &self.project
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_registry_view_decodes() {
        let text = include_str!("../tests/data/registry_fv.json");
        let raw: RawView = serde_json::from_str(text).expect("capture decodes");
        let view = raw.into_view("http://registry").expect("valid view");
        assert_eq!(view.name, "store_sales");
        assert_eq!(view.ttl, Some(Duration::from_secs(172_800)));
        assert_eq!(view.entity_columns[0].name, "store_id");
        assert_eq!(view.entity_columns[0].value_type, "INT64");
        assert_eq!(view.features.len(), 2);
        assert_eq!(view.source_uri.as_deref(), Some("data/store_sales.parquet"));
        assert_eq!(
            view.materialized_until().map(|t| t.to_rfc3339()),
            Some("2026-11-24T09:46:22+00:00".into())
        );
        assert_eq!(
            view.feature_refs(),
            vec!["store_sales:sales_7d_avg", "store_sales:promo_active"]
        );
    }

    #[test]
    fn proto_durations_parse_and_zero_means_forever() {
        assert_eq!(
            parse_proto_duration("7200s"),
            Some(Some(Duration::from_secs(7200)))
        );
        assert_eq!(parse_proto_duration("0s"), Some(None));
        assert_eq!(parse_proto_duration("2h"), None);
        assert_eq!(parse_proto_duration("-1s"), None);
    }
}
