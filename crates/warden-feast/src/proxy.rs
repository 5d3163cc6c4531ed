//! `warden feature-proxy`: a Feast-compatible `/get-online-features` endpoint the predictor
//! calls instead of Feast (R4.2, the runbook's "feature caching in predictor"). It remembers
//! the last known-good value per entity and feature; when Feast errors, times out, or answers
//! a value that is missing (null, 1970) or older than `max_age`, the cached value is served
//! instead and marked. In `fallback` mode Feast is not called at all — the containment action
//! switches that on, closure switches it off.
//!
//! Answers keep Feast's shape; the extra top-level `warden` object says which values came
//! from the cache (`fallback[column][entity]`) and why, so clients that ignore unknown fields
//! work unchanged.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use warden_config::Secret;

use crate::online::{
    AnswerMetadata, FeatureServerClient, OnlineAnswer, OnlineColumn, OnlineRequest,
    is_missing_timestamp,
};

/// How the proxy answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyMode {
    /// Ask Feast; fill failures and bad values from the cache.
    Auto,
    /// Answer from the cache only (Feast is known to be down or stale).
    Fallback,
}

/// Settings of one proxy.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// How long a cached value may be served.
    pub cache_ttl: Duration,
    /// Values whose event time is older than this are treated as stale (`None`: never).
    pub max_age: Option<Duration>,
    /// Most values kept; the oldest are dropped beyond it.
    pub max_entries: usize,
    /// Bearer token required to change the mode (`None`: anyone who can reach the port).
    pub control_token: Option<Secret>,
}

impl Default for ProxySettings {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(24 * 3600),
            max_age: None,
            max_entries: 1_000_000,
            control_token: None,
        }
    }
}

#[derive(Debug, Clone)]
struct Cached {
    value: Value,
    event_timestamp: String,
    stored: Instant,
}

/// Counters, for `/warden/status` and `/metrics`.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    upstream_errors: AtomicU64,
    fallback_values: AtomicU64,
    missing_values: AtomicU64,
    overhead: Histogram,
}

/// Upper bounds (seconds) of the overhead histogram's buckets.
const OVERHEAD_BUCKETS: [f64; 10] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.1,
];

/// A Prometheus histogram of the time the proxy itself adds to an answer: from the request
/// body in hand to the answer encoded, minus the time spent waiting for Feast. This is the
/// latency the proxy adds, measured where no client or machine stall can blur it.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; OVERHEAD_BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, value: Duration) {
        let seconds = value.as_secs_f64();
        for (bound, bucket) in OVERHEAD_BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(value.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn render(&self, name: &str) -> String {
        let mut out = format!("# TYPE {name} histogram\n");
        for (bound, bucket) in OVERHEAD_BUCKETS.iter().zip(&self.buckets) {
            out.push_str(&format!(
                "{name}_bucket{{le=\"{bound}\"}} {}\n",
                bucket.load(Ordering::Relaxed)
            ));
        }
        let count = self.count.load(Ordering::Relaxed);
        out.push_str(&format!("{name}_bucket{{le=\"+Inf\"}} {count}\n"));
        out.push_str(&format!(
            "{name}_sum {}\n{name}_count {count}\n",
            self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
        ));
        out
    }
}

/// An answer and how long of it was spent waiting for Feast.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    /// The body (Feast's shape plus `warden`).
    pub body: Value,
    /// Time spent waiting for the feature server (zero in fallback mode).
    pub upstream: Duration,
}

/// The proxy's shared state.
#[derive(Debug)]
pub struct FeatureProxy {
    upstream: FeatureServerClient,
    settings: ProxySettings,
    mode: Mutex<ProxyMode>,
    cache: Mutex<HashMap<(String, String), Cached>>,
    counters: Counters,
}

/// What `/warden/status` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyStatus {
    /// Current mode.
    pub mode: ProxyMode,
    /// The Feast feature server behind the proxy.
    pub upstream: String,
    /// Values cached.
    pub cached_values: usize,
    /// Requests answered.
    pub requests: u64,
    /// Times Feast failed or timed out.
    pub upstream_errors: u64,
    /// Values served from the cache.
    pub fallback_values: u64,
    /// Values neither Feast nor the cache could give.
    pub missing_values: u64,
}

#[derive(Debug, Deserialize)]
struct ModeChange {
    mode: ProxyMode,
}

/// One answered value, before it goes into Feast's column shape.
struct Cell {
    value: Value,
    status: &'static str,
    event_timestamp: String,
    from_cache: bool,
}

impl FeatureProxy {
    /// A proxy in front of `upstream`.
    pub fn new(upstream: FeatureServerClient, settings: ProxySettings, mode: ProxyMode) -> Self {
        Self {
            upstream,
            settings,
            mode: Mutex::new(mode),
            cache: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        }
    }

    /// The current mode.
    pub fn mode(&self) -> ProxyMode {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the mode; returns the previous one.
    pub fn set_mode(&self, mode: ProxyMode) -> ProxyMode {
        std::mem::replace(
            &mut self.mode.lock().unwrap_or_else(PoisonError::into_inner),
            mode,
        )
    }

    /// Counters and mode.
    pub fn status(&self) -> ProxyStatus {
        ProxyStatus {
            mode: self.mode(),
            upstream: self.upstream.url(),
            cached_values: self
                .cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len(),
            requests: self.counters.requests.load(Ordering::Relaxed),
            upstream_errors: self.counters.upstream_errors.load(Ordering::Relaxed),
            fallback_values: self.counters.fallback_values.load(Ordering::Relaxed),
            missing_values: self.counters.missing_values.load(Ordering::Relaxed),
        }
    }

    /// The HTTP routes: `POST /get-online-features`, `GET /health`, `GET /warden/status`,
    /// `POST /warden/mode`, `GET /metrics`.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/get-online-features", post(get_online_features))
            .route("/health", get(|| async { "ok" }))
            .route("/warden/status", get(status))
            .route("/warden/mode", post(change_mode))
            .route("/metrics", get(metrics))
            .with_state(self)
    }

    /// Answers one request (the body of `POST /get-online-features`).
    pub async fn answer(&self, request: &OnlineRequest) -> Result<Answered, String> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let entities = entity_rows(request)?;
        let mode = self.mode();
        let waited = Instant::now();
        let (upstream, reason) = match mode {
            ProxyMode::Fallback => (None, Some("fallback mode".to_string())),
            ProxyMode::Auto => match self.upstream.get_online_features(request).await {
                Ok(answer) => (Some(answer), None),
                Err(err) => {
                    self.counters
                        .upstream_errors
                        .fetch_add(1, Ordering::Relaxed);
                    (None, Some(format!("feature server: {err}")))
                }
            },
        };
        let upstream_time = match mode {
            ProxyMode::Fallback => Duration::ZERO,
            ProxyMode::Auto => waited.elapsed(),
        };
        let join_keys: Vec<&String> = request.entities.keys().collect();
        let mut results = Vec::with_capacity(join_keys.len() + request.features.len());
        let mut names = Vec::with_capacity(results.capacity());
        let mut fallback = Vec::with_capacity(results.capacity());
        for key in &join_keys {
            names.push((*key).clone());
            results.push(OnlineColumn {
                values: request.entities[*key].clone(),
                statuses: vec!["PRESENT".into(); entities.len()],
                event_timestamps: vec![EPOCH.into(); entities.len()],
            });
            fallback.push(vec![false; entities.len()]);
        }
        let now = Utc::now();
        let mut served_from_cache = 0u64;
        let mut missing = 0u64;
        for feature in &request.features {
            let fresh = upstream
                .as_ref()
                .and_then(|answer| upstream_column(answer, feature, request.full_feature_names));
            let mut column = OnlineColumn {
                values: Vec::with_capacity(entities.len()),
                statuses: Vec::with_capacity(entities.len()),
                event_timestamps: Vec::with_capacity(entities.len()),
            };
            let mut marks = Vec::with_capacity(entities.len());
            {
                let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
                for (i, entity) in entities.iter().enumerate() {
                    let cache_key = (feature.clone(), entity.clone());
                    let good = fresh
                        .and_then(|c| Some((c.values.get(i)?, c.event_timestamps.get(i)?)))
                        .filter(|(value, ts)| self.is_good(value, ts, now));
                    let cell = if let Some((value, ts)) = good {
                        if cache.len() < self.settings.max_entries || cache.contains_key(&cache_key)
                        {
                            cache.insert(
                                cache_key,
                                Cached {
                                    value: value.clone(),
                                    event_timestamp: ts.clone(),
                                    stored: Instant::now(),
                                },
                            );
                        }
                        Cell {
                            value: value.clone(),
                            status: "PRESENT",
                            event_timestamp: ts.clone(),
                            from_cache: false,
                        }
                    } else if let Some(hit) = cache
                        .get(&cache_key)
                        .filter(|hit| hit.stored.elapsed() <= self.settings.cache_ttl)
                    {
                        served_from_cache += 1;
                        Cell {
                            value: hit.value.clone(),
                            status: "PRESENT",
                            event_timestamp: hit.event_timestamp.clone(),
                            from_cache: true,
                        }
                    } else {
                        missing += 1;
                        // Feast's own answer when it had one (honest about what is there),
                        // else nothing.
                        let value = fresh
                            .and_then(|c| c.values.get(i).cloned())
                            .unwrap_or(Value::Null);
                        Cell {
                            value,
                            status: "NOT_FOUND",
                            event_timestamp: fresh
                                .and_then(|c| c.event_timestamps.get(i).cloned())
                                .unwrap_or_else(|| EPOCH.into()),
                            from_cache: false,
                        }
                    };
                    column.values.push(cell.value);
                    column.statuses.push(cell.status.into());
                    column.event_timestamps.push(cell.event_timestamp);
                    marks.push(cell.from_cache);
                }
            }
            names.push(answer_name(feature, request.full_feature_names));
            results.push(column);
            fallback.push(marks);
        }
        self.counters
            .fallback_values
            .fetch_add(served_from_cache, Ordering::Relaxed);
        self.counters
            .missing_values
            .fetch_add(missing, Ordering::Relaxed);
        let answer = OnlineAnswer {
            results,
            metadata: AnswerMetadata {
                feature_names: names,
            },
        };
        let mut body = serde_json::to_value(answer).map_err(|err| err.to_string())?;
        if let Value::Object(map) = &mut body {
            map.insert(
                "warden".into(),
                json!({
                    "mode": mode,
                    "fallback": fallback,
                    "fallback_values": served_from_cache,
                    "missing_values": missing,
                    "reason": reason,
                }),
            );
        }
        Ok(Answered {
            body,
            upstream: upstream_time,
        })
    }

    fn is_good(&self, value: &Value, timestamp: &str, now: DateTime<Utc>) -> bool {
        if value.is_null() || is_missing_timestamp(timestamp) {
            return false;
        }
        match (
            self.settings.max_age,
            DateTime::parse_from_rfc3339(timestamp),
        ) {
            (Some(max_age), Ok(at)) => {
                (now - at.with_timezone(&Utc)).num_milliseconds() as f64 / 1000.0
                    <= max_age.as_secs_f64()
            }
            _ => true,
        }
    }
}

const EPOCH: &str = "1970-01-01T00:00:00Z";

/// The name a feature gets in an answer: `view__feature` with full names, else `feature`.
fn answer_name(feature: &str, full_feature_names: bool) -> String {
    match feature.split_once(':') {
        Some((view, name)) if full_feature_names => format!("{view}__{name}"),
        Some((_, name)) => name.to_string(),
        None => feature.to_string(),
    }
}

fn upstream_column<'a>(
    answer: &'a OnlineAnswer,
    feature: &str,
    full_feature_names: bool,
) -> Option<&'a OnlineColumn> {
    let name = answer_name(feature, full_feature_names);
    let index = answer
        .metadata
        .feature_names
        .iter()
        .position(|n| *n == name)?;
    answer.results.get(index)
}

/// One canonical string per requested entity (`key=value,…` over sorted join keys).
fn entity_rows(request: &OnlineRequest) -> Result<Vec<String>, String> {
    let mut lengths = request.entities.values().map(Vec::len);
    let Some(count) = lengths.next() else {
        return Err("entities: at least one join key is required".into());
    };
    if lengths.any(|len| len != count) {
        return Err("entities: every join key needs the same number of values".into());
    }
    Ok((0..count)
        .map(|i| {
            request
                .entities
                .iter()
                .map(|(key, values)| format!("{key}={}", values[i]))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect())
}

async fn get_online_features(
    State(proxy): State<Arc<FeatureProxy>>,
    body: axum::body::Bytes,
) -> Response {
    let started = Instant::now();
    let request: OnlineRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"error": format!("request body: {err}")})),
            )
                .into_response();
        }
    };
    match proxy.answer(&request).await {
        Ok(answered) => {
            let encoded = serde_json::to_vec(&answered.body).unwrap_or_default();
            proxy
                .counters
                .overhead
                .observe(started.elapsed().saturating_sub(answered.upstream));
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                encoded,
            )
                .into_response()
        }
        Err(message) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": message})),
        )
            .into_response(),
    }
}

async fn status(State(proxy): State<Arc<FeatureProxy>>) -> Json<ProxyStatus> {
    Json(proxy.status())
}

async fn change_mode(
    State(proxy): State<Arc<FeatureProxy>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(token) = &proxy.settings.control_token {
        let given = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.expose()) {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": "a valid bearer token is required to change the mode"})),
            )
                .into_response();
        }
    }
    let change: ModeChange = match serde_json::from_slice(&body) {
        Ok(change) => change,
        Err(err) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"error": format!("expected {{\"mode\": \"auto\"|\"fallback\"}}: {err}")})),
            )
                .into_response();
        }
    };
    let previous = proxy.set_mode(change.mode);
    Json(json!({"mode": change.mode, "previous": previous})).into_response()
}

async fn metrics(State(proxy): State<Arc<FeatureProxy>>) -> String {
    let status = proxy.status();
    let mut out = BTreeMap::new();
    out.insert("warden_feature_proxy_requests_total", status.requests);
    out.insert(
        "warden_feature_proxy_upstream_errors_total",
        status.upstream_errors,
    );
    out.insert(
        "warden_feature_proxy_fallback_values_total",
        status.fallback_values,
    );
    out.insert(
        "warden_feature_proxy_missing_values_total",
        status.missing_values,
    );
    out.insert(
        "warden_feature_proxy_cached_values",
        status.cached_values as u64,
    );
    out.insert(
        "warden_feature_proxy_fallback_mode",
        u64::from(status.mode == ProxyMode::Fallback),
    );
    let mut text: String = out
        .iter()
        .map(|(name, value)| {
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            format!("# TYPE {name} {kind}\n{name} {value}\n")
        })
        .collect();
    text.push_str(
        &proxy
            .counters
            .overhead
            .render("warden_feature_proxy_overhead_seconds"),
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_entity_rows_follow_feast() {
        assert_eq!(answer_name("v:f", true), "v__f");
        assert_eq!(answer_name("v:f", false), "f");
        let request = OnlineRequest {
            features: vec!["v:f".into()],
            entities: BTreeMap::from([
                ("store_id".into(), vec![json!(1), json!(2)]),
                ("item".into(), vec![json!("a"), json!("b")]),
            ]),
            full_feature_names: true,
        };
        assert_eq!(
            entity_rows(&request),
            Ok(vec![
                "item=\"a\",store_id=1".into(),
                "item=\"b\",store_id=2".into()
            ])
        );
        let uneven = OnlineRequest {
            entities: BTreeMap::from([
                ("a".into(), vec![json!(1)]),
                ("b".into(), vec![json!(1), json!(2)]),
            ]),
            ..request
        };
        assert!(entity_rows(&uneven).is_err());
    }
}
