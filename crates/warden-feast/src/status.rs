//! Reads everything runbook 4 judges from — registry, online store, feature server — and
//! turns it into one [`FeastStatus`]: freshness per view, the store's health, the feature
//! server's, the ranked causes. Each source failing is a finding, not an error: an outage is
//! exactly when some of them fail. Only an unreadable registry stops the assessment.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use url::Url;
use warden_config::Secret;
use warden_connect::{ConnectError, RedisClient};

use crate::freshness::{
    self, EntitySample, FreshnessStatus, RankedCause, StoreHealth, ViewFreshness,
};
use crate::online::{FeatureServerClient, OnlineRequest, is_missing_timestamp, read_stored_rows};
use crate::redis_layout::{self, EntityValue};
use crate::registry::{FeatureView, RegistrySource};

/// Where Feast lives.
#[derive(Debug, Clone)]
pub struct FeastSources {
    /// The registry (REST server or file).
    pub registry: RegistrySource,
    /// The feature server, if configured.
    pub feature_server: Option<FeatureServerClient>,
    /// The Redis online store, if configured.
    pub redis_url: Option<Url>,
    /// Its password.
    pub redis_password: Option<Secret>,
    /// Timeout for Redis.
    pub timeout: Duration,
}

/// What to judge against.
#[derive(Debug, Clone)]
pub struct StatusOptions {
    /// Freshness SLA.
    pub sla: Duration,
    /// Missing-value share that makes a view `missing`.
    pub missing_threshold: f64,
    /// Entities to sample when none are given (found by scanning Redis).
    pub sample_size: usize,
    /// Entities to sample; when empty they are found in Redis.
    pub entities: Vec<Vec<(String, EntityValue)>>,
}

impl Default for StatusOptions {
    fn default() -> Self {
        Self {
            sla: freshness::DEFAULT_SLA,
            missing_threshold: freshness::DEFAULT_MISSING_RATE,
            sample_size: 100,
            entities: Vec::new(),
        }
    }
}

/// The feature server's side of the story.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerHealth {
    /// Its URL.
    pub url: String,
    /// Whether it answered the sample request.
    pub ok: bool,
    /// The error, when it did not.
    pub error: Option<String>,
}

/// Everything runbook 4 needs to decide.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeastStatus {
    /// When it was read.
    pub checked_at: DateTime<Utc>,
    /// The Feast project.
    pub project: String,
    /// `true` when every view is fresh and both servers are healthy.
    pub ok: bool,
    /// Freshness per online view.
    pub views: Vec<ViewFreshness>,
    /// The online store.
    pub store: Option<StoreHealth>,
    /// The feature server.
    pub feature_server: Option<ServerHealth>,
    /// Causes, most likely first.
    pub causes: Vec<RankedCause>,
    /// Sampled online values per view (`view` → `feature` → values), for schema checks and
    /// evidence.
    #[serde(skip)]
    pub sampled_values: BTreeMap<String, Vec<(String, Value)>>,
    /// Sampled online rows per view: entity (`key=value,…`, keys sorted) → feature → value.
    #[serde(skip)]
    pub sampled_rows: BTreeMap<String, OnlineRows>,
}

/// Entity → feature → value.
pub type OnlineRows = BTreeMap<String, BTreeMap<String, Value>>;

/// Reads and judges at `now` (the caller's clock: the daemon's, or a replay's).
///
/// # Errors
/// Only when the registry cannot be read (nothing can be judged without the views).
pub async fn collect(
    sources: &FeastSources,
    options: &StatusOptions,
    now: DateTime<Utc>,
) -> Result<FeastStatus, ConnectError> {
    let views = sources.registry.feature_views().await?;
    let project = sources.registry.project().to_string();
    let (store, redis) = match &sources.redis_url {
        None => (None, None),
        Some(url) => match connect_and_check(url, sources).await {
            Ok((health, client)) => (Some(health), Some(client)),
            Err(err) => (Some(StoreHealth::unreachable(&display(url), &err)), None),
        },
    };
    let entities = if options.entities.is_empty() {
        match &redis {
            Some(redis) => scan_entities(redis, &project, options.sample_size)
                .await
                .unwrap_or_default(),
            None => Vec::new(),
        }
    } else {
        options.entities.clone()
    };
    let mut assessed = Vec::new();
    let mut sampled_values = BTreeMap::new();
    let mut sampled_rows = BTreeMap::new();
    let mut feature_server: Option<ServerHealth> = None;
    for view in views.iter().filter(|v| v.online) {
        let mine: Vec<&Vec<(String, EntityValue)>> = entities
            .iter()
            .filter(|entity| {
                entity.len() == view.entity_columns.len()
                    && view
                        .entity_columns
                        .iter()
                        .all(|c| entity.iter().any(|(name, _)| *name == c.name))
            })
            .collect();
        let mut values = Vec::new();
        let mut rows = OnlineRows::new();
        let samples = match &redis {
            Some(redis) => {
                sample_from_redis(redis, &project, view, &mine, &mut values, &mut rows).await
            }
            None => Vec::new(),
        };
        let samples = if samples.is_empty() && !mine.is_empty() {
            match &sources.feature_server {
                Some(server) => {
                    let (samples, health) =
                        sample_from_server(server, view, &mine, &mut values).await;
                    feature_server = Some(health);
                    samples
                }
                None => samples,
            }
        } else {
            if let (Some(server), None) = (&sources.feature_server, &feature_server) {
                // With entities, ask for their features (what the predictor does); without
                // any (Redis could not be scanned) Feast would reject the empty request, so
                // only its health endpoint can be asked.
                feature_server = Some(if mine.is_empty() {
                    server_health(server).await
                } else {
                    let mut ignored = Vec::new();
                    sample_from_server(server, view, &mine, &mut ignored)
                        .await
                        .1
                });
            }
            samples
        };
        sampled_values.insert(view.name.clone(), values);
        sampled_rows.insert(view.name.clone(), rows);
        assessed.push(freshness::assess_view(
            view,
            &samples,
            now,
            options.sla,
            options.missing_threshold,
        ));
    }
    let no_store = StoreHealth {
        url: String::new(),
        reachable: true,
        ping_ms: None,
        memory_utilization: None,
        evicted_keys: None,
        rejected_connections: None,
        error: None,
        timed_out: false,
        problems: Vec::new(),
        info: BTreeMap::new(),
    };
    let causes = freshness::rank_causes(
        &assessed,
        store.as_ref().unwrap_or(&no_store),
        feature_server.as_ref().and_then(|s| s.error.as_deref()),
        &[],
    );
    let ok = assessed.iter().all(|v| v.status == FreshnessStatus::Fresh)
        && store
            .as_ref()
            .is_none_or(|s| s.reachable && s.problems.is_empty())
        && feature_server.as_ref().is_none_or(|s| s.ok);
    Ok(FeastStatus {
        checked_at: now,
        project,
        ok,
        views: assessed,
        store,
        feature_server,
        causes,
        sampled_values,
        sampled_rows,
    })
}

fn display(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

async fn connect_and_check(
    url: &Url,
    sources: &FeastSources,
) -> Result<(StoreHealth, RedisClient), ConnectError> {
    let client =
        RedisClient::connect(url, sources.redis_password.as_ref(), sources.timeout).await?;
    let started = Instant::now();
    client.ping().await?;
    let ping = started.elapsed();
    let info = client.info().await?;
    Ok((StoreHealth::from_info(client.url(), ping, &info), client))
}

/// Up to `limit` entities of `project`, found with `SCAN` (bounded: at most 50 rounds).
async fn scan_entities(
    redis: &RedisClient,
    project: &str,
    limit: usize,
) -> Result<Vec<Vec<(String, EntityValue)>>, ConnectError> {
    let pattern = format!("*{}", glob_escape(project));
    let mut cursor = 0u64;
    let mut found = Vec::new();
    for _ in 0..50 {
        let mut command = redis::cmd("SCAN");
        command
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(500);
        let (next, keys): (u64, Vec<Vec<u8>>) = redis.query(&command).await?;
        found.extend(
            keys.iter()
                .filter_map(|key| redis_layout::decode_entity_key(key, project)),
        );
        cursor = next;
        if cursor == 0 || found.len() >= limit {
            break;
        }
    }
    found.truncate(limit);
    Ok(found)
}

fn glob_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '*' | '?' | '[' | ']' | '\\' => vec!['\\', c],
            _ => vec![c],
        })
        .collect()
}

async fn sample_from_redis(
    redis: &RedisClient,
    project: &str,
    view: &FeatureView,
    entities: &[&Vec<(String, EntityValue)>],
    values: &mut Vec<(String, Value)>,
    rows: &mut OnlineRows,
) -> Vec<EntitySample> {
    let features: Vec<String> = view.features.iter().map(|f| f.name.clone()).collect();
    let keys: Vec<&[(String, EntityValue)]> = entities.iter().map(|e| e.as_slice()).collect();
    // One round trip for the whole sample.
    let Ok(stored) = read_stored_rows(redis, project, &view.name, &keys, &features).await else {
        // A store that fails mid-sample is reported by its health check.
        return Vec::new();
    };
    let mut samples = Vec::new();
    for (entity, row) in entities.iter().zip(stored) {
        let nulls = row.values.values().filter(|v| v.is_null()).count();
        values.extend(row.values.clone());
        if row.event_time.is_some_and(|t| t.timestamp() > 0) {
            rows.insert(redis_layout::entity_label(entity), row.values);
        }
        samples.push(EntitySample {
            entity: redis_layout::entity_label(entity),
            event_time: row.event_time.filter(|t| t.timestamp() > 0),
            null_features: nulls,
            features: features.len(),
        });
    }
    samples
}

async fn server_health(server: &FeatureServerClient) -> ServerHealth {
    let error = server.health().await.err().map(|err| err.to_string());
    ServerHealth {
        url: server.url(),
        ok: error.is_none(),
        error,
    }
}

async fn sample_from_server(
    server: &FeatureServerClient,
    view: &FeatureView,
    entities: &[&Vec<(String, EntityValue)>],
    values: &mut Vec<(String, Value)>,
) -> (Vec<EntitySample>, ServerHealth) {
    let mut columns: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for entity in entities {
        for (name, value) in entity.iter() {
            columns
                .entry(name.clone())
                .or_default()
                .push(value.to_json());
        }
    }
    if columns.is_empty() {
        for column in &view.entity_columns {
            columns.insert(column.name.clone(), Vec::new());
        }
    }
    let request = OnlineRequest {
        features: view.feature_refs(),
        entities: columns,
        full_feature_names: true,
    };
    let answer = match server.get_online_features(&request).await {
        Ok(answer) => answer,
        Err(err) => {
            return (
                Vec::new(),
                ServerHealth {
                    url: server.url(),
                    ok: false,
                    error: Some(err.to_string()),
                },
            );
        }
    };
    let health = ServerHealth {
        url: server.url(),
        ok: true,
        error: None,
    };
    let feature_columns: Vec<(&str, &crate::online::OnlineColumn)> = view
        .features
        .iter()
        .filter_map(|f| {
            let name = format!("{}__{}", view.name, f.name);
            let index = answer
                .metadata
                .feature_names
                .iter()
                .position(|n| *n == name)?;
            Some((f.name.as_str(), answer.results.get(index)?))
        })
        .collect();
    let samples = entities
        .iter()
        .enumerate()
        .map(|(i, entity)| {
            let mut newest: Option<DateTime<Utc>> = None;
            let mut nulls = 0;
            for (name, column) in &feature_columns {
                let value = column.values.get(i).cloned().unwrap_or(Value::Null);
                let timestamp = column.event_timestamps.get(i).map_or("", String::as_str);
                if value.is_null() || is_missing_timestamp(timestamp) {
                    nulls += 1;
                } else if let Ok(at) = DateTime::parse_from_rfc3339(timestamp) {
                    let at = at.with_timezone(&Utc);
                    newest = Some(newest.map_or(at, |n| n.max(at)));
                }
                values.push(((*name).to_string(), value));
            }
            EntitySample {
                entity: redis_layout::entity_label(entity),
                event_time: newest,
                null_features: if newest.is_none() { 0 } else { nulls },
                features: feature_columns.len(),
            }
        })
        .collect();
    (samples, health)
}
