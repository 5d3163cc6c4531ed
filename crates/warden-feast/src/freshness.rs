//! The detection half of runbook 4 (R4.1, R4.4), as pure functions of what was read:
//! freshness of each feature view against its SLA (from the registry's materialization
//! intervals and sampled per-entity event times), the missing-feature rate over a sample of
//! entities, the online store's health, and the causes ranked from that evidence.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use warden_connect::redis_store::RedisInfo;

use crate::registry::FeatureView;

/// Default freshness SLA: materialized data at most this far behind now.
pub const DEFAULT_SLA: Duration = Duration::from_secs(15 * 60);
/// Missing-feature rate above which a view is reported.
pub const DEFAULT_MISSING_RATE: f64 = 0.05;
/// Memory use against `maxmemory` above which the store is "near capacity".
pub const MEMORY_PRESSURE: f64 = 0.9;
/// A `PING` slower than this is reported as store latency.
pub const SLOW_PING: Duration = Duration::from_millis(50);

/// One sampled entity of one view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntitySample {
    /// The entity, as `key=value[,key=value]`.
    pub entity: String,
    /// Its event time for the view; `None` when it has no row (or Feast's 1970 placeholder).
    pub event_time: Option<DateTime<Utc>>,
    /// Features whose value is null.
    pub null_features: usize,
    /// Features read.
    pub features: usize,
}

/// The verdict on one view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FreshnessStatus {
    /// Within the SLA, few values missing.
    Fresh,
    /// Materialization is behind the SLA, never ran, or values are past their TTL.
    Stale,
    /// Too many sampled values are missing.
    Missing,
}

/// Freshness of one feature view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViewFreshness {
    /// The view.
    pub view: String,
    /// Its TTL in seconds (`null`: no expiry).
    pub ttl_seconds: Option<f64>,
    /// The SLA in seconds.
    pub sla_seconds: f64,
    /// End of the latest materialization (registry).
    pub materialized_until: Option<DateTime<Utc>>,
    /// `now − materialized_until` in seconds.
    pub materialization_lag_seconds: Option<f64>,
    /// Entities sampled.
    pub sampled_entities: usize,
    /// Newest sampled event time.
    pub newest_event_time: Option<DateTime<Utc>>,
    /// `now − newest_event_time` in seconds.
    pub event_age_seconds: Option<f64>,
    /// Share of sampled entity×feature values that are missing (no row, 1970, or null).
    pub missing_rate: f64,
    /// Share of sampled entities whose value is older than the TTL (Feast still says
    /// `PRESENT` for them).
    pub expired_rate: f64,
    /// Verdict.
    pub status: FreshnessStatus,
    /// Why, one line per problem (empty when fresh).
    pub problems: Vec<String>,
}

/// Judges one view at `now`.
pub fn assess_view(
    view: &FeatureView,
    samples: &[EntitySample],
    now: DateTime<Utc>,
    sla: Duration,
    missing_threshold: f64,
) -> ViewFreshness {
    let seconds = |from: DateTime<Utc>| (now - from).num_milliseconds() as f64 / 1000.0;
    let materialized_until = view.materialized_until();
    let materialization_lag_seconds = materialized_until.map(seconds);
    let newest_event_time = samples.iter().filter_map(|s| s.event_time).max();
    let cells: usize = samples.iter().map(|s| s.features.max(1)).sum();
    let missing: usize = samples
        .iter()
        .map(|s| {
            if s.event_time.is_none() {
                s.features.max(1)
            } else {
                s.null_features
            }
        })
        .sum();
    let missing_rate = if cells == 0 {
        0.0
    } else {
        missing as f64 / cells as f64
    };
    let expired = view.ttl.map_or(0, |ttl| {
        samples
            .iter()
            .filter(|s| s.event_time.is_some_and(|t| seconds(t) > ttl.as_secs_f64()))
            .count()
    });
    let expired_rate = if samples.is_empty() {
        0.0
    } else {
        expired as f64 / samples.len() as f64
    };
    let mut problems = Vec::new();
    let mut status = FreshnessStatus::Fresh;
    match materialization_lag_seconds {
        None => {
            problems
                .push("never materialized (no materialization interval in the registry)".into());
            status = FreshnessStatus::Stale;
        }
        Some(lag) if lag > sla.as_secs_f64() => {
            problems.push(format!(
                "materialized until {} — {} behind, SLA {}",
                materialized_until
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
                warden_core::format_duration(Duration::from_secs(lag.max(0.0) as u64)),
                warden_core::format_duration(sla)
            ));
            status = FreshnessStatus::Stale;
        }
        Some(_) => {}
    }
    if expired > 0 {
        problems.push(format!(
            "{expired} of {} sampled entities hold values older than the TTL {} (Feast still reports them PRESENT)",
            samples.len(),
            view.ttl.map(warden_core::format_duration).unwrap_or_default()
        ));
        status = FreshnessStatus::Stale;
    }
    if missing_rate > missing_threshold {
        problems.push(format!(
            "{:.1}% of sampled values missing (no row, 1970 timestamp or null) over {} entities",
            missing_rate * 100.0,
            samples.len()
        ));
        status = FreshnessStatus::Missing;
    }
    ViewFreshness {
        view: view.name.clone(),
        ttl_seconds: view.ttl.map(|t| t.as_secs_f64()),
        sla_seconds: sla.as_secs_f64(),
        materialized_until,
        materialization_lag_seconds,
        sampled_entities: samples.len(),
        newest_event_time,
        event_age_seconds: newest_event_time.map(seconds),
        missing_rate,
        expired_rate,
        status,
        problems,
    }
}

/// What was learned about the online store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreHealth {
    /// The store's URL (password hidden).
    pub url: String,
    /// Whether it answered.
    pub reachable: bool,
    /// `PING` round trip in milliseconds.
    pub ping_ms: Option<f64>,
    /// `used_memory / maxmemory` (`null`: no limit or unknown).
    pub memory_utilization: Option<f64>,
    /// `evicted_keys` since start.
    pub evicted_keys: Option<u64>,
    /// `rejected_connections` since start.
    pub rejected_connections: Option<u64>,
    /// The connection error, when unreachable.
    pub error: Option<String>,
    /// Whether the error was a timeout.
    pub timed_out: bool,
    /// Problems, one line each.
    pub problems: Vec<String>,
    /// Every `INFO` field, for evidence (left out of status output: it is long).
    #[serde(skip)]
    pub info: BTreeMap<String, String>,
}

impl StoreHealth {
    /// From a successful `PING` and `INFO`.
    pub fn from_info(url: &str, ping: Duration, info: &RedisInfo) -> Self {
        let mut problems = Vec::new();
        let utilization = info.memory_utilization();
        if let Some(share) = utilization.filter(|share| *share >= MEMORY_PRESSURE) {
            problems.push(format!(
                "memory {:.0}% of maxmemory ({} of {} bytes)",
                share * 100.0,
                info.used_memory_bytes,
                info.max_memory_bytes
            ));
        }
        if info.evicted_keys > 0 {
            problems.push(format!("{} keys evicted since start", info.evicted_keys));
        }
        if info.rejected_connections > 0 {
            problems.push(format!(
                "{} connections rejected since start (maxclients?)",
                info.rejected_connections
            ));
        }
        if ping > SLOW_PING {
            problems.push(format!("PING took {:.0} ms", ping.as_secs_f64() * 1000.0));
        }
        Self {
            url: url.to_string(),
            reachable: true,
            ping_ms: Some(ping.as_secs_f64() * 1000.0),
            memory_utilization: utilization,
            evicted_keys: Some(info.evicted_keys),
            rejected_connections: Some(info.rejected_connections),
            error: None,
            timed_out: false,
            problems,
            info: info.raw.clone(),
        }
    }

    /// From a failed connection or command.
    pub fn unreachable(url: &str, error: &warden_connect::ConnectError) -> Self {
        let timed_out = matches!(error, warden_connect::ConnectError::Timeout { .. });
        Self {
            url: url.to_string(),
            reachable: false,
            ping_ms: None,
            memory_utilization: None,
            evicted_keys: None,
            rejected_connections: None,
            error: Some(error.to_string()),
            timed_out,
            problems: vec![format!("online store unreachable: {error}")],
            info: BTreeMap::new(),
        }
    }
}

/// A cause of the incident with the evidence for it, most likely first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedCause {
    /// `materialization_failed`, `store_capacity`, `network_partition`, `schema_mismatch`.
    pub cause: &'static str,
    /// 0–1.
    pub confidence: f64,
    /// The facts that point at it.
    pub evidence: Vec<String>,
}

/// Ranks runbook 4's causes from the assessment (R4.4). `feature_server_error` is the
/// feature server's failure, if reading through it failed; `schema_problems` come from
/// [`crate::schema`].
pub fn rank_causes(
    views: &[ViewFreshness],
    store: &StoreHealth,
    feature_server_error: Option<&str>,
    schema_problems: &[String],
) -> Vec<RankedCause> {
    let mut causes = Vec::new();
    let mut partition = Vec::new();
    if !store.reachable {
        partition.extend(store.error.iter().map(|e| format!("Redis: {e}")));
    }
    if let Some(error) = feature_server_error {
        partition.push(format!("feature server: {error}"));
    }
    if !partition.is_empty() {
        causes.push(RankedCause {
            cause: "network_partition",
            confidence: if store.timed_out { 0.8 } else { 0.7 },
            evidence: partition,
        });
    }
    if store.reachable && !store.problems.is_empty() {
        causes.push(RankedCause {
            cause: "store_capacity",
            confidence: 0.7,
            evidence: store.problems.clone(),
        });
    }
    let behind: Vec<String> = views
        .iter()
        .filter(|v| v.status == FreshnessStatus::Stale)
        .flat_map(|v| v.problems.iter().map(move |p| format!("{}: {p}", v.view)))
        .collect();
    if !behind.is_empty() {
        causes.push(RankedCause {
            // With a healthy store, stale data points at the job that should have written it.
            cause: "materialization_failed",
            confidence: if store.reachable && store.problems.is_empty() {
                0.8
            } else {
                0.4
            },
            evidence: behind,
        });
    }
    if !schema_problems.is_empty() {
        causes.push(RankedCause {
            cause: "schema_mismatch",
            confidence: 0.9,
            evidence: schema_problems.to_vec(),
        });
    }
    causes.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Column, Interval};

    fn view(materialized_minutes_ago: Option<i64>, now: DateTime<Utc>) -> FeatureView {
        FeatureView {
            name: "store_daily_features".into(),
            entity_columns: vec![Column {
                name: "store_id".into(),
                value_type: "INT64".into(),
            }],
            features: vec![],
            ttl: Some(Duration::from_secs(7200)),
            source_uri: None,
            source_timestamp_field: None,
            materialization_intervals: materialized_minutes_ago
                .map(|m| Interval {
                    start: now - chrono::Duration::hours(2),
                    end: now - chrono::Duration::minutes(m),
                })
                .into_iter()
                .collect(),
            online: true,
        }
    }

    fn sample(minutes_ago: Option<i64>, nulls: usize, now: DateTime<Utc>) -> EntitySample {
        EntitySample {
            entity: "store_id=1".into(),
            event_time: minutes_ago.map(|m| now - chrono::Duration::minutes(m)),
            null_features: nulls,
            features: 3,
        }
    }

    #[test]
    fn fresh_stale_and_missing_are_told_apart() {
        let now = Utc::now();
        let fresh = assess_view(
            &view(Some(5), now),
            &[sample(Some(20), 0, now), sample(Some(20), 0, now)],
            now,
            DEFAULT_SLA,
            DEFAULT_MISSING_RATE,
        );
        assert_eq!(fresh.status, FreshnessStatus::Fresh, "{:?}", fresh.problems);
        let behind = assess_view(
            &view(Some(40), now),
            &[sample(Some(20), 0, now)],
            now,
            DEFAULT_SLA,
            DEFAULT_MISSING_RATE,
        );
        assert_eq!(behind.status, FreshnessStatus::Stale);
        assert!(
            behind.problems[0].contains("behind"),
            "{:?}",
            behind.problems
        );
        let never = assess_view(
            &view(None, now),
            &[],
            now,
            DEFAULT_SLA,
            DEFAULT_MISSING_RATE,
        );
        assert_eq!(never.status, FreshnessStatus::Stale);
        let expired = assess_view(
            &view(Some(1), now),
            &[sample(Some(180), 0, now)],
            now,
            DEFAULT_SLA,
            DEFAULT_MISSING_RATE,
        );
        assert_eq!(expired.status, FreshnessStatus::Stale);
        assert!((expired.expired_rate - 1.0).abs() < 1e-9);
        let missing = assess_view(
            &view(Some(1), now),
            &[
                sample(None, 0, now),
                sample(Some(1), 1, now),
                sample(Some(1), 0, now),
            ],
            now,
            DEFAULT_SLA,
            DEFAULT_MISSING_RATE,
        );
        assert_eq!(missing.status, FreshnessStatus::Missing);
        assert!((missing.missing_rate - 4.0 / 9.0).abs() < 1e-9);
    }

    #[test]
    fn causes_follow_the_evidence() {
        let now = Utc::now();
        let stale = assess_view(
            &view(Some(40), now),
            &[],
            now,
            DEFAULT_SLA,
            DEFAULT_MISSING_RATE,
        );
        let info = RedisInfo::parse("used_memory:10\r\nmaxmemory:0\r\nevicted_keys:0\r\n");
        let healthy = StoreHealth::from_info("redis://x", Duration::from_millis(1), &info);
        let causes = rank_causes(std::slice::from_ref(&stale), &healthy, None, &[]);
        assert_eq!(causes[0].cause, "materialization_failed");
        assert!(causes[0].confidence >= 0.8);

        let full = RedisInfo::parse("used_memory:95\r\nmaxmemory:100\r\nevicted_keys:12\r\n");
        let pressed = StoreHealth::from_info("redis://x", Duration::from_millis(1), &full);
        let causes = rank_causes(std::slice::from_ref(&stale), &pressed, None, &[]);
        assert_eq!(causes[0].cause, "store_capacity");
        assert_eq!(causes[0].evidence.len(), 2);

        let error = warden_connect::ConnectError::Unreachable {
            url: "redis://x".into(),
            message: "connection refused".into(),
        };
        let down = StoreHealth::unreachable("redis://x", &error);
        let causes = rank_causes(
            &[],
            &down,
            Some("HTTP 500"),
            &["promo: INT64 vs STRING".into()],
        );
        assert_eq!(causes[0].cause, "schema_mismatch");
        assert_eq!(causes[1].cause, "network_partition");
        assert_eq!(causes[1].evidence.len(), 2);
    }
}
