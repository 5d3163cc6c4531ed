//! `warden loadtest`: open-loop load on a V2 (Open Inference Protocol) endpoint — requests
//! leave on a fixed schedule whatever the answers do, so a slow server cannot slow the load
//! down and hide its own queueing (a closed loop would measure the client, not the server).
//! Latency is measured from each request's send; the generator's own lag behind the schedule
//! is reported so an overloaded generator is visible. Bounded in rate, duration and count,
//! and only against loopback or hosts the caller allows explicitly: it is a capacity check
//! for test hosts, not a way to load production.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use url::Url;

/// The largest rate accepted.
pub const MAX_RPS: f64 = 2000.0;
/// The longest run accepted.
pub const MAX_DURATION: Duration = Duration::from_secs(600);
/// The most requests one run sends.
pub const MAX_REQUESTS: u64 = 200_000;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Base URL of the V2 server.
    pub endpoint: Url,
    /// Model name.
    pub model: String,
    /// Requests per second.
    pub rps: f64,
    /// How long.
    pub duration: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The inference request body.
    pub body: Value,
    /// Hosts besides loopback that may be loaded.
    pub allowed_hosts: Vec<String>,
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadReport {
    /// Requests sent.
    pub sent: u64,
    /// Answered 2xx.
    pub ok: u64,
    /// Non-2xx answers, timeouts and connection failures.
    pub errors: u64,
    /// errors / sent.
    pub error_rate: f64,
    /// The rate asked for.
    pub target_rps: f64,
    /// Completed requests per second of wall time.
    pub achieved_rps: f64,
    /// Latency percentiles of all answered requests, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Slowest, ms.
    pub max_ms: f64,
    /// The generator's largest lag behind its schedule, ms.
    pub max_schedule_lag_ms: f64,
    /// Outcomes by HTTP status, `timeout` or `connect`.
    pub outcomes: BTreeMap<String, u64>,
    /// Wall time, seconds.
    pub seconds: f64,
}

impl LoadReport {
    /// Whether the run met an SLO: p95 under `p95_ms` and errors under `error_rate`.
    pub fn within(&self, p95_ms: f64, error_rate: f64) -> bool {
        self.sent > 0 && self.p95_ms < p95_ms && self.error_rate < error_rate
    }
}

/// Why a plan was refused or could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// Checks the bounds and the host.
///
/// # Errors
/// A rate, duration or host outside the bounds, named.
pub fn validate(plan: &LoadPlan) -> Result<u64, LoadError> {
    let host = plan.endpoint.host_str().unwrap_or_default();
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1");
    if !loopback && !plan.allowed_hosts.iter().any(|allowed| allowed == host) {
        return Err(LoadError(format!(
            "{}: refusing to load a host that is not loopback; pass --allow-host {host} if it is a test host",
            plan.endpoint
        )));
    }
    if !(plan.rps > 0.0 && plan.rps <= MAX_RPS) {
        return Err(LoadError(format!(
            "--rps {}: must be above 0 and at most {MAX_RPS}",
            plan.rps
        )));
    }
    if plan.duration.is_zero() || plan.duration > MAX_DURATION {
        return Err(LoadError(format!(
            "--duration {}: must be above 0 and at most {}",
            warden_core::format_duration(plan.duration),
            warden_core::format_duration(MAX_DURATION)
        )));
    }
    let total = (plan.rps * plan.duration.as_secs_f64()).ceil() as u64;
    if total > MAX_REQUESTS {
        return Err(LoadError(format!(
            "{total} requests: at most {MAX_REQUESTS} per run (lower --rps or --duration)"
        )));
    }
    Ok(total.max(1))
}

/// A request body for a model from its V2 metadata: one row of zeros per declared input.
///
/// # Errors
/// The metadata declares no inputs (then the caller must give a body).
pub fn body_from_metadata(metadata: &Value) -> Result<Value, LoadError> {
    let inputs = metadata["inputs"].as_array().filter(|inputs| !inputs.is_empty()).ok_or_else(|| {
        LoadError("the model's metadata declares no inputs: pass --body FILE with a V2 inference request".into())
    })?;
    let inputs: Vec<Value> = inputs
        .iter()
        .map(|input| {
            let shape: Vec<i64> = input["shape"]
                .as_array()
                .map(|dims| {
                    dims.iter()
                        .map(|d| d.as_i64().unwrap_or(1).max(1))
                        .collect()
                })
                .unwrap_or_else(|| vec![1]);
            let count: i64 = shape.iter().product();
            let datatype = input["datatype"].as_str().unwrap_or("FP64");
            let zero = if datatype == "BYTES" {
                json!("")
            } else {
                json!(0)
            };
            json!({
                "name": input["name"],
                "shape": shape,
                "datatype": datatype,
                "data": vec![zero; usize::try_from(count).unwrap_or(1)]
            })
        })
        .collect();
    Ok(json!({ "inputs": inputs }))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs the plan; `progress(sent, total)` is called about once a second.
///
/// # Errors
/// The plan is out of bounds, or the HTTP client cannot be built.
pub async fn run(
    plan: &LoadPlan,
    mut progress: impl FnMut(u64, u64),
) -> Result<LoadReport, LoadError> {
    let total = validate(plan)?;
    let client = reqwest::Client::builder()
        .timeout(plan.timeout)
        .pool_max_idle_per_host(256)
        .build()
        .map_err(|err| LoadError(format!("HTTP client: {err}")))?;
    let url = plan
        .endpoint
        .join(&format!("v2/models/{}/infer", plan.model))
        .map_err(|err| LoadError(format!("{}: {err}", plan.endpoint)))?;
    let body = Arc::new(serde_json::to_vec(&plan.body).unwrap_or_default());
    let gap = Duration::from_secs_f64(1.0 / plan.rps);
    let start = Instant::now();
    let mut handles = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    let mut max_lag = Duration::ZERO;
    let mut last_progress = Instant::now();
    for i in 0..total {
        let due = start + gap.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        max_lag = max_lag.max(Instant::now().saturating_duration_since(due));
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        handles.push(tokio::spawn(async move {
            let sent = Instant::now();
            let outcome = client
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_vec())
                .send()
                .await;
            let outcome = match outcome {
                Ok(response) => {
                    let status = response.status();
                    let _ = response.bytes().await;
                    (status.is_success(), status.as_u16().to_string())
                }
                Err(err) if err.is_timeout() => (false, "timeout".to_string()),
                Err(_) => (false, "connect".to_string()),
            };
            (sent.elapsed(), outcome)
        }));
        if last_progress.elapsed() >= Duration::from_secs(1) {
            progress(i + 1, total);
            last_progress = Instant::now();
        }
    }
    let mut latencies = Vec::with_capacity(handles.len());
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut ok = 0u64;
    for handle in handles {
        let Ok((elapsed, (success, label))) = handle.await else {
            *outcomes.entry("panicked".into()).or_default() += 1;
            continue;
        };
        if label != "timeout" && label != "connect" {
            latencies.push(elapsed.as_secs_f64() * 1000.0);
        }
        if success {
            ok += 1;
        }
        *outcomes.entry(label).or_default() += 1;
    }
    progress(total, total);
    let seconds = start.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let errors = total - ok;
    Ok(LoadReport {
        sent: total,
        ok,
        errors,
        error_rate: errors as f64 / total as f64,
        target_rps: plan.rps,
        achieved_rps: total as f64 / seconds.max(1e-9),
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: latencies.last().copied().unwrap_or(0.0),
        max_schedule_lag_ms: max_lag.as_secs_f64() * 1000.0,
        outcomes,
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(url: &str) -> LoadPlan {
        LoadPlan {
            endpoint: Url::parse(url).unwrap_or_else(|_| {
                Url::parse("http://127.0.0.1/").unwrap_or_else(|_| unreachable!())
            }),
            model: "m".into(),
            rps: 10.0,
            duration: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            body: json!({}),
            allowed_hosts: Vec::new(),
        }
    }

    #[test]
    fn only_loopback_or_allowed_hosts_within_bounds() {
        assert_eq!(validate(&plan("http://127.0.0.1:8080/")), Ok(10));
        let remote = validate(&plan("http://prod.example.com/")).unwrap_err();
        assert!(
            remote.0.contains("--allow-host prod.example.com"),
            "{remote}"
        );
        let mut allowed = plan("http://loadtest.internal/");
        allowed.allowed_hosts.push("loadtest.internal".into());
        assert!(validate(&allowed).is_ok());
        let mut fast = plan("http://127.0.0.1/");
        fast.rps = 5000.0;
        assert!(validate(&fast).unwrap_err().0.contains("--rps"));
        let mut long = plan("http://127.0.0.1/");
        long.duration = Duration::from_secs(3600);
        assert!(validate(&long).unwrap_err().0.contains("--duration"));
    }

    #[test]
    fn bodies_come_from_declared_inputs() {
        let metadata = json!({"inputs": [{"name": "x", "datatype": "FP64", "shape": [-1, 3]}]});
        let body = body_from_metadata(&metadata).unwrap_or_default();
        assert_eq!(body["inputs"][0]["shape"], json!([1, 3]));
        assert_eq!(body["inputs"][0]["data"], json!([0, 0, 0]));
        assert!(body_from_metadata(&json!({"inputs": []})).is_err());
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.99), 4.0);
    }
}
