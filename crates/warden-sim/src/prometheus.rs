//! A simulated Prometheus answering the HTTP query API (`/api/v1/query`, `/api/v1/query_range`,
//! `/-/ready`) from series a scenario writes, in Prometheus's JSON shapes (instant vectors and
//! range matrices, values as strings, `bad_data` errors). It evaluates the small PromQL subset
//! a configuration's query overrides use, not PromQL at large:
//!
//! - `name` — the series' value at the evaluation time (its latest sample at or before it);
//! - `name[5m]` — the mean of its samples in the window ending at that time (the latest sample
//!   when the window holds none: a gauge held between scrapes);
//! - `avg_over_time((q)[1h:15s] offset 1m)`, `max_over_time(…)`, `min_over_time(…)` — the
//!   subquery `q` at each step of the range, aggregated;
//! - `vector(x)` and plain numbers.
//!
//! A query without a `time` is evaluated at the simulator's clock — the replay's now, which the
//! scenario sets — not at the wall clock, as a real Prometheus would use its own.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::StartError;

/// Seconds since the epoch → value, per series name.
type Series = BTreeMap<String, BTreeMap<i64, f64>>;

#[derive(Debug, Default)]
struct Store {
    series: Mutex<Series>,
    /// The clock queries without a time are evaluated at (seconds since the epoch).
    now: AtomicI64,
}

/// The simulated Prometheus, shared between its server and the scenario.
#[derive(Debug, Clone)]
pub struct PrometheusSim {
    url: String,
    store: Arc<Store>,
}

impl PrometheusSim {
    /// Starts the server on loopback, on `port` when it is free.
    ///
    /// # Errors
    /// No port to bind.
    pub async fn start(port: Option<u16>) -> Result<Self, StartError> {
        let store = Arc::new(Store::default());
        let app = Router::new().fallback(answer).with_state(store.clone());
        let url = crate::serve(app, port).await?;
        Ok(Self { url, store })
    }

    /// The base URL (`connectors.prometheus.url`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Records a sample of series `name` at `at` (seconds since the epoch).
    pub fn record(&self, name: &str, at: i64, value: f64) {
        self.store
            .series
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(name.to_string())
            .or_default()
            .insert(at, value);
    }

    /// Sets the clock of queries without a time (seconds since the epoch).
    pub fn set_now(&self, now: i64) {
        self.store.now.store(now, Ordering::SeqCst);
    }
}

/// Why a query cannot be evaluated, in Prometheus's words.
struct BadData(String);

/// A parsed expression of the subset.
#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Number(f64),
    Series {
        name: String,
        window: Option<i64>,
    },
    OverTime {
        function: Aggregate,
        inner: Box<Expr>,
        range: i64,
        step: i64,
        offset: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Aggregate {
    Avg,
    Max,
    Min,
}

/// `15s`, `5m`, `1h`, `1d` → seconds.
fn duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: i64 = number.parse().ok()?;
    Some(match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return None,
    })
}

fn parse(query: &str) -> Result<Expr, BadData> {
    let query = query.trim();
    let bad = || {
        BadData(format!(
            "unsupported expression for this simulator: {query:?}"
        ))
    };
    if let Ok(n) = query.parse::<f64>() {
        return Ok(Expr::Number(n));
    }
    if let Some(inner) = query
        .strip_prefix("vector(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return inner
            .trim()
            .parse::<f64>()
            .map(Expr::Number)
            .map_err(|_| bad());
    }
    for (prefix, function) in [
        ("avg_over_time(", Aggregate::Avg),
        ("max_over_time(", Aggregate::Max),
        ("min_over_time(", Aggregate::Min),
    ] {
        let Some(rest) = query.strip_prefix(prefix).and_then(|r| r.strip_suffix(')')) else {
            continue;
        };
        // `(q)[range:step]` and an optional `offset d`.
        let (subquery, offset) = match rest.rsplit_once(" offset ") {
            Some((subquery, offset)) => (subquery, duration(offset).ok_or_else(bad)?),
            None => (rest, 0),
        };
        let open = subquery.rfind('[').ok_or_else(bad)?;
        let (inner, range) = subquery.split_at(open);
        let (range, step) = range
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split_once(':')
            .ok_or_else(bad)?;
        let inner = inner
            .trim()
            .strip_prefix('(')
            .and_then(|i| i.strip_suffix(')'))
            .ok_or_else(bad)?;
        return Ok(Expr::OverTime {
            function,
            inner: Box::new(parse(inner)?),
            range: duration(range).ok_or_else(bad)?,
            step: duration(step).ok_or_else(bad)?.max(1),
            offset,
        });
    }
    let (name, window) = match query.split_once('[') {
        Some((name, window)) => (
            name,
            Some(duration(window.strip_suffix(']').ok_or_else(bad)?).ok_or_else(bad)?),
        ),
        None => (query, None),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return Err(bad());
    }
    Ok(Expr::Series {
        name: name.to_string(),
        window,
    })
}

/// The value of `expr` at `at`; `None` when the series has no sample by then.
fn evaluate(expr: &Expr, series: &Series, at: i64) -> Option<f64> {
    match expr {
        Expr::Number(n) => Some(*n),
        Expr::Series { name, window } => {
            let samples = series.get(name)?;
            let latest = samples.range(..=at).next_back().map(|(_, v)| *v);
            match window {
                Some(window) => {
                    let inside: Vec<f64> = samples
                        .range(at - window + 1..=at)
                        .map(|(_, v)| *v)
                        .collect();
                    if inside.is_empty() {
                        latest
                    } else {
                        Some(inside.iter().sum::<f64>() / inside.len() as f64)
                    }
                }
                None => latest,
            }
        }
        Expr::OverTime {
            function,
            inner,
            range,
            step,
            offset,
        } => {
            let end = at - offset;
            let values: Vec<f64> = (0..=range / step)
                .map(|i| end - range + i * step)
                .filter_map(|t| evaluate(inner, series, t))
                .collect();
            if values.is_empty() {
                return None;
            }
            Some(match function {
                Aggregate::Avg => values.iter().sum::<f64>() / values.len() as f64,
                Aggregate::Max => values.iter().copied().fold(f64::MIN, f64::max),
                Aggregate::Min => values.iter().copied().fold(f64::MAX, f64::min),
            })
        }
    }
}

/// Prometheus's way of writing a sample value.
fn shown(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else {
        format!("{value}")
    }
}

fn time_param(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, BadData> {
    params
        .get(name)
        .map(|text| {
            text.parse::<f64>().map(|t| t.floor() as i64).map_err(|_| {
                BadData(format!(
                    "invalid parameter {name:?}: cannot parse {text:?} to a valid timestamp"
                ))
            })
        })
        .transpose()
}

async fn answer(
    State(store): State<Arc<Store>>,
    uri: Uri,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match uri.path() {
        "/-/ready" | "/-/healthy" => "Prometheus Server is Ready.\n".into_response(),
        "/api/v1/query" => respond(instant(&store, &params)),
        "/api/v1/query_range" => respond(range(&store, &params)),
        path => (
            StatusCode::NOT_FOUND,
            format!("404 page not found: {path}\n"),
        )
            .into_response(),
    }
}

fn respond(result: Result<Value, BadData>) -> Response {
    match result {
        Ok(data) => Json(json!({"status": "success", "data": data})).into_response(),
        Err(BadData(error)) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"status": "error", "errorType": "bad_data", "error": error})),
        )
            .into_response(),
    }
}

fn query_of(params: &HashMap<String, String>) -> Result<Expr, BadData> {
    parse(
        params
            .get("query")
            .ok_or_else(|| BadData("invalid parameter \"query\": unknown position".into()))?,
    )
}

fn instant(store: &Store, params: &HashMap<String, String>) -> Result<Value, BadData> {
    let expr = query_of(params)?;
    let at = time_param(params, "time")?.unwrap_or_else(|| store.now.load(Ordering::SeqCst));
    let series = store.series.lock().unwrap_or_else(PoisonError::into_inner);
    let result: Vec<Value> = evaluate(&expr, &series, at)
        .map(|v| json!({"metric": {}, "value": [at, shown(v)]}))
        .into_iter()
        .collect();
    Ok(json!({"resultType": "vector", "result": result}))
}

fn range(store: &Store, params: &HashMap<String, String>) -> Result<Value, BadData> {
    let expr = query_of(params)?;
    let (Some(start), Some(end)) = (time_param(params, "start")?, time_param(params, "end")?)
    else {
        return Err(BadData("invalid parameter \"start\": missing".into()));
    };
    let step = params
        .get("step")
        .and_then(|s| duration(s).or_else(|| s.parse().ok()))
        .unwrap_or(15)
        .max(1);
    if (end - start) / step > 11_000 {
        return Err(BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
        ));
    }
    let series = store.series.lock().unwrap_or_else(PoisonError::into_inner);
    let values: Vec<Value> = (0..=(end - start) / step)
        .map(|i| start + i * step)
        .filter_map(|t| evaluate(&expr, &series, t).map(|v| json!([t, shown(v)])))
        .collect();
    let result = if values.is_empty() {
        Vec::new()
    } else {
        vec![json!({"metric": {}, "values": values})]
    };
    Ok(json!({"resultType": "matrix", "result": result}))
}

#[cfg(test)]
mod tests {
    //! Held to Warden's Prometheus client, whose decoding is held to recordings of a real
    //! Prometheus: the subset evaluates as PromQL would on the same samples.

    use super::*;
    use chrono::TimeZone;
    use warden_connect::PrometheusClient;

    async fn prometheus() -> (PrometheusSim, PrometheusClient) {
        let sim = PrometheusSim::start(None).await.unwrap();
        // A gauge scraped every 5 minutes: 100 until 10:00, then 400.
        let ten = chrono::Utc
            .with_ymd_and_hms(2026, 11, 17, 10, 0, 0)
            .unwrap()
            .timestamp();
        for i in -24..=12 {
            let at = ten + i * 300;
            sim.record("demo_p95", at, if at < ten { 100.0 } else { 400.0 });
        }
        sim.set_now(ten + 3600);
        let config = warden_config::PrometheusConfig {
            endpoint: warden_config::HttpEndpoint {
                url: sim.url().parse().unwrap(),
                timeout: std::time::Duration::from_secs(5),
            },
        };
        (sim, PrometheusClient::from_config(&config).unwrap())
    }

    fn at(hour: u32, minute: u32) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 17, hour, minute, 0)
            .unwrap()
    }

    #[tokio::test]
    async fn instant_range_and_subqueries_evaluate_on_the_samples() {
        let (_sim, client) = prometheus().await;
        let value = |series: Vec<warden_connect::prometheus::Series>| series[0].points[0].1;
        assert_eq!(
            value(client.query("demo_p95", Some(at(9, 59))).await.unwrap()),
            100.0
        );
        assert_eq!(
            value(client.query("demo_p95[1m]", Some(at(10, 2))).await.unwrap()),
            400.0,
            "a window with no sample holds the latest"
        );
        assert_eq!(
            value(
                client
                    .query("demo_p95[10m]", Some(at(10, 5)))
                    .await
                    .unwrap()
            ),
            400.0
        );
        let mean = value(
            client
                .query(
                    "avg_over_time((demo_p95[1m])[1h:15s] offset 1m)",
                    Some(at(10, 31)),
                )
                .await
                .unwrap(),
        );
        assert!((mean - 250.0).abs() < 10.0, "half the hour at each: {mean}");
        assert_eq!(
            value(
                client
                    .query("max_over_time((demo_p95)[1h:1m])", None)
                    .await
                    .unwrap()
            ),
            400.0,
            "no time: the simulator's clock"
        );
        let range = client
            .query_range("demo_p95[1m]", at(9, 50), at(10, 10), 15)
            .await
            .unwrap();
        assert_eq!(range[0].points.len(), 81, "every step answered");
        assert!(
            client
                .query("demo_p95", Some(at(7, 0)))
                .await
                .unwrap()
                .is_empty()
        );
        let bad = client
            .query("histogram_quantile(0.95, rate(x[5m]))", None)
            .await
            .unwrap_err();
        assert_eq!(bad.api_code(), Some("bad_data"));
    }
}
