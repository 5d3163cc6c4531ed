//! Prometheus HTTP API client: instant and range queries, decoded into samples. Values arrive
//! as strings (`"NaN"`, `"+Inf"` included) and timestamps as float seconds; both are decoded
//! here once. Errors carry the query URL and Prometheus's own `errorType`/`error`.

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;
use warden_config::PrometheusConfig;

use crate::{ConnectError, HttpClient};

/// One series of a result: its labels and its points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `(time, value)` points, oldest first (one for an instant query).
    pub points: Vec<(DateTime<Utc>, f64)>,
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct RawSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    value: Option<(f64, String)>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

fn point(url: &str, (time, value): &(f64, String)) -> Result<(DateTime<Utc>, f64), ConnectError> {
    let parsed = match value.as_str() {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().map_err(|_| ConnectError::Decode {
            url: url.to_string(),
            message: format!("sample value {other:?} is not a number"),
        })?,
    };
    let millis = (time * 1000.0).round() as i64;
    let at = Utc
        .timestamp_millis_opt(millis)
        .single()
        .ok_or_else(|| ConnectError::Decode {
            url: url.to_string(),
            message: format!("sample time {time} is out of range"),
        })?;
    Ok((at, parsed))
}

/// Decodes a query response body (instant or range) into series.
///
/// # Errors
/// [`ConnectError::Decode`] for a body that is not a Prometheus answer;
/// [`ConnectError::Status`] for `status: error` answers.
pub fn decode(url: &str, body: &[u8]) -> Result<Vec<Series>, ConnectError> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|err| ConnectError::Decode {
        url: url.to_string(),
        message: err.to_string(),
    })?;
    if envelope.status != "success" {
        return Err(ConnectError::Status {
            url: url.to_string(),
            status: 200,
            code: envelope.error_type,
            message: envelope.error.unwrap_or_else(|| "query failed".into()),
        });
    }
    let data = envelope.data.ok_or_else(|| ConnectError::Decode {
        url: url.to_string(),
        message: "success without data".into(),
    })?;
    match data.result_type.as_str() {
        "vector" | "matrix" => {
            let raw: Vec<RawSeries> =
                serde_json::from_value(data.result).map_err(|err| ConnectError::Decode {
                    url: url.to_string(),
                    message: err.to_string(),
                })?;
            raw.into_iter()
                .map(|series| {
                    let points = series
                        .value
                        .iter()
                        .chain(series.values.iter())
                        .map(|raw| point(url, raw))
                        .collect::<Result<_, _>>()?;
                    Ok(Series {
                        labels: series.metric,
                        points,
                    })
                })
                .collect()
        }
        "scalar" => {
            let raw: (f64, String) =
                serde_json::from_value(data.result).map_err(|err| ConnectError::Decode {
                    url: url.to_string(),
                    message: err.to_string(),
                })?;
            Ok(vec![Series {
                labels: BTreeMap::new(),
                points: vec![point(url, &raw)?],
            }])
        }
        other => Err(ConnectError::Decode {
            url: url.to_string(),
            message: format!("unsupported result type {other:?}"),
        }),
    }
}

/// A client for one Prometheus server.
#[derive(Debug, Clone)]
pub struct PrometheusClient {
    http: HttpClient,
}

impl PrometheusClient {
    /// A client from `connectors.prometheus`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn from_config(config: &PrometheusConfig) -> Result<Self, ConnectError> {
        Ok(Self {
            http: HttpClient::new(&config.endpoint)?,
        })
    }

    /// Evaluates `query` at `at` (now when `None`).
    ///
    /// # Errors
    /// Transport errors, bad queries (`bad_data` with Prometheus's message), undecodable
    /// answers.
    pub async fn query(
        &self,
        query: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<Vec<Series>, ConnectError> {
        let time = at.map(|at| format!("{:.3}", at.timestamp_millis() as f64 / 1000.0));
        let mut params = vec![("query", query)];
        if let Some(time) = &time {
            params.push(("time", time.as_str()));
        }
        self.fetch("/api/v1/query", &params).await
    }

    /// Evaluates `query` over `[start, end]` every `step_seconds`.
    ///
    /// # Errors
    /// As [`PrometheusClient::query`].
    pub async fn query_range(
        &self,
        query: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step_seconds: u32,
    ) -> Result<Vec<Series>, ConnectError> {
        let (start, end, step) = (
            format!("{:.3}", start.timestamp_millis() as f64 / 1000.0),
            format!("{:.3}", end.timestamp_millis() as f64 / 1000.0),
            step_seconds.max(1).to_string(),
        );
        self.fetch(
            "/api/v1/query_range",
            &[
                ("query", query),
                ("start", &start),
                ("end", &end),
                ("step", &step),
            ],
        )
        .await
    }

    async fn fetch(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<Series>, ConnectError> {
        let url = self.http.url(path, params)?;
        let response = self.http.send_raw(reqwest::Method::GET, url, None).await?;
        // Prometheus answers bad queries with 400 and a JSON body that names the problem.
        if response.status == 400 || response.status == 422 || (200..300).contains(&response.status)
        {
            return decode(&response.url, &response.body);
        }
        Err(crate::http::status_error(&response))
    }
}

#[cfg(test)]
mod tests {
    //! Contract tests on responses recorded from a real Prometheus 2.42.

    use super::*;

    #[test]
    fn decodes_instant_vectors_with_labels() {
        let body = include_bytes!("../tests/data/prometheus/query_by_status.json");
        let series = decode("http://p/api/v1/query", body).unwrap();
        assert_eq!(series.len(), 3);
        assert_eq!(series[2].labels["status_code"], "500");
        assert!((series[2].points[0].1 - 95.618_176).abs() < 1e-3);
    }

    #[test]
    fn decodes_range_matrices() {
        let body = include_bytes!("../tests/data/prometheus/query_range_p95.json");
        let series = decode("http://p/api/v1/query_range", body).unwrap();
        assert_eq!(series[0].points.len(), 3);
        assert!(series[0].points[0].0 < series[0].points[2].0);
        assert!((series[0].points[0].1 - 0.00475).abs() < 1e-9);
    }

    #[test]
    fn errors_name_the_query_and_prometheus_reason() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#;
        let error = decode("http://p/api/v1/query?query=rate(", body).unwrap_err();
        assert_eq!(error.api_code(), Some("bad_data"));
        assert!(error.to_string().contains("parse error at char 5"));
        let special =
            br#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"NaN"]}}"#;
        assert!(decode("u", special).unwrap()[0].points[0].1.is_nan());
    }
}
