//! Runbook 2's causes, each judged from the evidence the daemon captured (R2.2–R2.6). The
//! evidence shapes are defined here, so the collectors that write them and the judges that
//! read them cannot drift apart. Every verdict says which numbers decided; a confirmed cause
//! carries the fix it points to ([`crate::fixes`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fixes;

/// One change to what is served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentChange {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// `kserve` (a revision) or `mlflow` (a model version).
    pub source: String,
    /// What changed, e.g. `revision demand-forecast-predictor-00002`.
    pub what: String,
    /// Details (storage URI, traffic share, alias).
    pub detail: String,
}

/// `deployment_history` evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentHistory {
    /// The correlation window, seconds.
    pub window_seconds: u64,
    /// Changes, oldest first.
    pub changes: Vec<DeploymentChange>,
    /// What could not be read (a source down is said, not hidden).
    #[serde(default)]
    pub unavailable: Vec<String>,
}

/// `traffic_rate` evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficRate {
    /// Requests per second now (short window).
    pub current_rps: Option<f64>,
    /// Requests per second over the window before.
    pub baseline_rps: Option<f64>,
    /// The queries used.
    pub queries: Vec<String>,
}

impl TrafficRate {
    /// Current over baseline.
    pub fn ratio(&self) -> Option<f64> {
        match (self.current_rps, self.baseline_rps) {
            (Some(now), Some(before)) if before > 0.0 => Some(now / before),
            _ => None,
        }
    }
}

/// `feature_store_latency` evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureLatency {
    /// p95 of online feature retrieval, ms.
    pub p95_ms: Option<f64>,
    /// Where it came from (a PromQL query, or timed Feast requests).
    pub source: String,
}

/// A verdict (the engine's judgement).
pub use warden_core::Judgement as Verdict;

/// A confirmed cause; its score never rounds to nothing, so it still ranks.
fn confirmed(score: f64, explanation: String) -> Verdict {
    Verdict::confirmed(score.max(0.05), explanation)
}

fn refuted(explanation: String) -> Verdict {
    Verdict::refuted(explanation)
}

fn minutes(duration: chrono::Duration) -> String {
    let seconds = duration.num_seconds().max(0);
    if seconds < 120 {
        format!("{seconds} s")
    } else if seconds < 7200 {
        format!("{} min", seconds / 60)
    } else {
        format!("{:.1} h", seconds as f64 / 3600.0)
    }
}

/// How long after a deployment a spike may start and still be blamed on it, when the clock
/// of the detector and the cluster disagree a little.
const CLOCK_SLACK: chrono::Duration = chrono::Duration::seconds(60);

/// `recent_deployment`: the latest change before the spike, within the window.
pub fn recent_deployment(history: &DeploymentHistory, spike_at: DateTime<Utc>) -> Verdict {
    let window = chrono::Duration::seconds(i64::try_from(history.window_seconds).unwrap_or(3600));
    let latest = history
        .changes
        .iter()
        .filter(|change| change.at <= spike_at + CLOCK_SLACK)
        .max_by_key(|change| change.at);
    match latest {
        Some(change) if spike_at - change.at <= window => {
            let gap = spike_at - change.at;
            let score = 1.0 - gap.num_seconds().max(0) as f64 / window.num_seconds().max(1) as f64;
            confirmed(
                score.max(0.3),
                format!(
                    "{} ({}, {}) {} before the spike, within the {} window; {}",
                    change.what,
                    change.source,
                    change.detail,
                    minutes(gap),
                    minutes(window),
                    fixes::for_cause("recent_deployment").map_or(String::new(), |f| f.line())
                ),
            )
        }
        Some(change) => refuted(format!(
            "no deployment in the {} before the spike; the last was {} ({}) {} before",
            minutes(window),
            change.what,
            change.source,
            minutes(spike_at - change.at)
        )),
        None if history.changes.is_empty() && !history.unavailable.is_empty() => refuted(format!(
            "no deployment found; could not read: {}",
            history.unavailable.join("; ")
        )),
        None => refuted(format!(
            "no deployment in the {} before the spike",
            minutes(window)
        )),
    }
}

fn int(value: &Value, key: &str) -> i64 {
    value[key].as_i64().unwrap_or(0)
}

fn at_max_since(hpa: &Value) -> Option<Option<DateTime<Utc>>> {
    let current = int(hpa, "current_replicas");
    let max = int(hpa, "max_replicas");
    let limited = hpa["conditions"].as_array().and_then(|conditions| {
        conditions.iter().find(|c| {
            c["type"] == "ScalingLimited"
                && c["status"] == "True"
                && c["reason"] == "TooManyReplicas"
        })
    });
    (max > 0 && current >= max).then(|| {
        limited
            .and_then(|c| c["since"].as_str())
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
    })
}

/// `autoscaler_lagging`: desired above current, or pinned at the maximum, for `lag`.
pub fn autoscaler_lagging(hpa: &Value, now: DateTime<Utc>, lag: Duration) -> Verdict {
    let (current, desired, max) = (
        int(hpa, "current_replicas"),
        int(hpa, "desired_replicas"),
        int(hpa, "max_replicas"),
    );
    let lag = chrono::Duration::from_std(lag).unwrap_or_default();
    let last_scale = hpa["last_scale_time"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc));
    let fix = fixes::for_cause("autoscaler_lagging").map_or(String::new(), |f| f.line());
    if desired > current {
        let waited = last_scale.map_or(lag, |t| now - t);
        if waited >= lag {
            return confirmed(
                0.8,
                format!(
                    "HPA wants {desired} replicas but has {current} for {} (≥ {}); {fix}",
                    minutes(waited),
                    minutes(lag)
                ),
            );
        }
        return refuted(format!(
            "HPA wants {desired} replicas, has {current}, but only for {} (< {})",
            minutes(waited),
            minutes(lag)
        ));
    }
    if let Some(since) = at_max_since(hpa) {
        let pinned = since.or(last_scale).map_or(lag, |t| now - t);
        if pinned >= lag {
            return confirmed(
                0.9,
                format!(
                    "HPA pinned at its maximum of {max} replicas for {} (ScalingLimited: TooManyReplicas); {fix}",
                    minutes(pinned)
                ),
            );
        }
        return refuted(format!(
            "HPA at its maximum of {max} for only {} (< {})",
            minutes(pinned),
            minutes(lag)
        ));
    }
    refuted(format!(
        "HPA keeps up: {current} current = {desired} desired, maximum {max}"
    ))
}

/// `traffic_spike`: requests per second above `factor` × baseline.
pub fn traffic_spike(traffic: &TrafficRate, factor: f64) -> Option<Verdict> {
    let ratio = traffic.ratio()?;
    let (now, before) = (
        traffic.current_rps.unwrap_or_default(),
        traffic.baseline_rps.unwrap_or_default(),
    );
    Some(if ratio > factor {
        confirmed(
            ((ratio - 1.0) / 4.0).min(1.0),
            format!(
                "{now:.1} req/s against a baseline of {before:.1} ({ratio:.1}x > {factor}x); rate limiting sheds the excess"
            ),
        )
    } else {
        refuted(format!(
            "{now:.1} req/s against a baseline of {before:.1} ({ratio:.1}x ≤ {factor}x)"
        ))
    })
}

fn pods(evidence: &Value) -> Vec<&Value> {
    evidence["pods"]
        .as_array()
        .map(|p| p.iter().collect())
        .unwrap_or_default()
}

fn parse_time(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// `cold_start`: the predictor may scale to zero and a pod started just before the spike.
pub fn cold_start(pods_evidence: &Value, spike_at: DateTime<Utc>) -> Verdict {
    let min_replicas = pods_evidence["min_replicas"].as_i64();
    let window = chrono::Duration::minutes(10);
    let fresh: Vec<String> = pods(pods_evidence)
        .into_iter()
        .filter(|pod| {
            parse_time(&pod["created"]).is_some_and(|created| {
                created <= spike_at + CLOCK_SLACK && spike_at - created <= window
            })
        })
        .filter_map(|pod| pod["name"].as_str().map(str::to_string))
        .collect();
    match min_replicas {
        Some(0) if !fresh.is_empty() => confirmed(
            0.8,
            format!(
                "minReplicas is 0 (scale to zero) and {} started within 10 min before the spike; {}",
                fresh.join(", "),
                fixes::for_cause("cold_start").map_or(String::new(), |f| f.line())
            ),
        ),
        Some(0) => {
            refuted("minReplicas is 0, but no pod started within 10 min before the spike".into())
        }
        Some(n) => refuted(format!(
            "minReplicas is {n}: the predictor never scales to zero"
        )),
        None if fresh.is_empty() => {
            refuted("no predictor pod started within 10 min before the spike".into())
        }
        None => confirmed(
            0.4,
            format!(
                "{} started within 10 min before the spike (minReplicas unknown)",
                fresh.join(", ")
            ),
        ),
    }
}

/// `feature_store_latency`: online feature retrieval slower than `limit_ms` (p95).
pub fn feature_store_latency(latency: &FeatureLatency, limit_ms: f64) -> Option<Verdict> {
    let p95 = latency.p95_ms?;
    Some(if p95 > limit_ms {
        confirmed(
            (p95 / (limit_ms * 4.0)).min(1.0),
            format!(
                "feature retrieval p95 {p95:.0} ms > {limit_ms:.0} ms ({}); {}",
                latency.source,
                fixes::for_cause("feature_store_latency").map_or(String::new(), |f| f.line())
            ),
        )
    } else {
        refuted(format!(
            "feature retrieval p95 {p95:.0} ms ≤ {limit_ms:.0} ms ({})",
            latency.source
        ))
    })
}

/// `model_load_time`: predictor containers killed for memory, or slow to become ready.
pub fn model_load_time(pods_evidence: &Value) -> Verdict {
    let mut signs = Vec::new();
    let mut score: f64 = 0.0;
    for pod in pods(pods_evidence) {
        let name = pod["name"].as_str().unwrap_or_default();
        for container in pod["containers"].as_array().into_iter().flatten() {
            if container["last_terminated_reason"] == "OOMKilled" {
                signs.push(format!(
                    "{name}/{} was OOMKilled (exit {}), restarted {} time(s)",
                    container["name"].as_str().unwrap_or_default(),
                    container["last_exit_code"],
                    container["restarts"]
                ));
                score = score.max(0.8);
            }
        }
        if let (Some(created), Some(ready)) =
            (parse_time(&pod["created"]), parse_time(&pod["ready_since"]))
            && pod["ready"] == true
            && ready - created > chrono::Duration::seconds(60)
        {
            signs.push(format!(
                "{name} took {} to become ready",
                minutes(ready - created)
            ));
            score = score.max(0.6);
        }
    }
    if signs.is_empty() {
        refuted(
            "no predictor container was OOMKilled and every pod became ready within 60 s".into(),
        )
    } else {
        confirmed(
            score,
            format!(
                "{}; {}",
                signs.join("; "),
                fixes::for_cause("model_load_time").map_or(String::new(), |f| f.line())
            ),
        )
    }
}

/// Log lines that say a dependency timed out or refused (Python, gRPC, HTTP clients).
const TIMEOUT_MARKERS: &[&str] = &[
    "timed out",
    "timeouterror",
    "readtimeout",
    "connecttimeout",
    "deadline exceeded",
    "deadline_exceeded",
    "connection refused",
    "connection reset",
    "504 gateway",
    "upstream request timeout",
];

/// `downstream_timeout`: predictor logs show calls to a dependency timing out.
pub fn downstream_timeout(pods_evidence: &Value) -> Verdict {
    let mut lines: Vec<String> = Vec::new();
    for field in ["logs", "previous_logs"] {
        let Some(logs) = pods_evidence[field].as_object() else {
            continue;
        };
        for (pod, text) in logs {
            for line in text.as_str().unwrap_or_default().lines() {
                let lower = line.to_lowercase();
                if TIMEOUT_MARKERS.iter().any(|marker| lower.contains(marker)) {
                    lines.push(format!("{pod}: {}", line.trim()));
                }
            }
        }
    }
    if lines.is_empty() {
        return refuted("no timeout or refused connection in the predictor logs".into());
    }
    let count = lines.len();
    lines.truncate(3);
    confirmed(
        (0.4 + 0.1 * count as f64).min(0.9),
        format!(
            "{count} log line(s) show a dependency timing out, e.g. {}; {}",
            lines.join(" | "),
            fixes::for_cause("downstream_timeout").map_or(String::new(), |f| f.line())
        ),
    )
}

/// `traffic_beyond_capacity`: a traffic surge while the autoscaler is at its maximum.
pub fn traffic_beyond_capacity(traffic: &TrafficRate, hpa: &Value) -> Option<Verdict> {
    let ratio = traffic.ratio()?;
    let at_max = at_max_since(hpa).is_some();
    let max = int(hpa, "max_replicas");
    Some(if ratio > 1.5 && at_max {
        confirmed(
            ((ratio - 1.0) / 3.0).min(1.0),
            format!(
                "traffic {ratio:.1}x its baseline while the HPA is at its maximum of {max}; {}",
                fixes::for_cause("traffic_beyond_capacity").map_or(String::new(), |f| f.line())
            ),
        )
    } else if at_max {
        refuted(format!(
            "HPA at its maximum of {max}, but traffic is only {ratio:.1}x its baseline"
        ))
    } else {
        refuted(format!(
            "traffic {ratio:.1}x its baseline and the HPA below its maximum of {max}"
        ))
    })
}
