//! The Open Inference Protocol (KServe V2) client that scores rows through a model server —
//! `warden evaluate --endpoint` ("re-evaluate the model on recent ground truth") and the
//! closure check that the server really serves the version the registry names. Rows go in
//! batches; a batch the server refuses is retried row by row so one bad row costs one
//! prediction, not the batch, and every failed row keeps its reason.
//!
//! "Refuses" includes a dropped connection: MLServer 1.7 answers a model that raises (e.g.
//! scikit-learn's "Input X contains NaN") with a 500 and closes the connection — at times
//! before the client has read the 500, and a request sent next on the pooled connection meets
//! the closed one. So a request that gets no answer, twice, counts as refused when the server's
//! liveness endpoint (`/v2/health/live`) still answers; only a server that does not answer
//! that either ends the scoring with an error.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{ConnectError, HttpClient};

/// How the features are laid out in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One input per feature, named after it, with `content_type: pd` (MLflow runtime,
    /// pandas-signature models).
    Columns,
    /// One `[rows, features]` FP64 tensor named `input-0` (scikit-learn runtime).
    Matrix,
}

/// One row the server would not score.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// Its position in the input.
    pub row: usize,
    /// Why.
    pub message: String,
}

/// Predictions, `NaN` where a row failed, and the failures.
#[derive(Debug, Clone, Default)]
pub struct Scores {
    /// One per input row.
    pub predictions: Vec<f64>,
    /// The rows that failed.
    pub errors: Vec<RowError>,
    /// Requests sent.
    pub requests: usize,
}

/// Scores rows through `/v2/models/{model}[/versions/{version}]/infer`.
pub struct InferenceClient {
    http: HttpClient,
    model: String,
    version: Option<String>,
    layout: Layout,
}

fn request(
    names: &[String],
    columns: &[Vec<f64>],
    rows: std::ops::Range<usize>,
    layout: Layout,
) -> Value {
    let n = rows.len();
    match layout {
        Layout::Columns => json!({
            "parameters": {"content_type": "pd"},
            "inputs": names.iter().zip(columns).map(|(name, values)| json!({
                "name": name,
                "shape": [n],
                "datatype": "FP64",
                "data": &values[rows.clone()],
            })).collect::<Vec<_>>(),
        }),
        Layout::Matrix => {
            let data: Vec<f64> = rows
                .clone()
                .flat_map(|row| columns.iter().map(move |c| c[row]))
                .collect();
            json!({"inputs": [{"name": "input-0", "shape": [n, columns.len()], "datatype": "FP64", "data": data}]})
        }
    }
}

/// Why the server refused, in at most 200 characters: the V2 error body's `error`, the
/// exception of a Python traceback (MLServer's answer when a model raises), or the body.
fn reason(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let reason = match serde_json::from_str::<Value>(&text) {
        Ok(json) if json["error"].is_string() => {
            json["error"].as_str().unwrap_or_default().to_string()
        }
        _ if text.starts_with("Traceback") => {
            let exception = |line: &&str| {
                line.split_once(": ").is_some_and(|(name, _)| {
                    !name.starts_with(' ')
                        && !name.contains(' ')
                        && (name.ends_with("Error") || name.ends_with("Exception"))
                })
            };
            let lines: Vec<&str> = text.lines().collect();
            match lines.iter().rposition(exception) {
                Some(at) => lines[at..].join(" "),
                None => text.to_string(),
            }
        }
        _ => text.to_string(),
    };
    reason.trim().chars().take(200).collect()
}

/// The first output's values, flattened.
fn outputs(body: &Value) -> Option<Vec<f64>> {
    let data = body["outputs"].get(0)?["data"].as_array()?;
    let mut values = Vec::with_capacity(data.len());
    fn flatten(value: &Value, into: &mut Vec<f64>) -> Option<()> {
        match value {
            Value::Array(items) => items.iter().try_for_each(|v| flatten(v, into)),
            other => {
                into.push(other.as_f64()?);
                Some(())
            }
        }
    }
    data.iter().try_for_each(|v| flatten(v, &mut values))?;
    Some(values)
}

impl InferenceClient {
    /// A client for one model (and version) on the server `http` points at.
    pub fn new(http: HttpClient, model: &str, version: Option<&str>, layout: Layout) -> Self {
        Self {
            http,
            model: model.to_string(),
            version: version.map(str::to_string),
            layout,
        }
    }

    fn path(&self) -> String {
        match &self.version {
            Some(version) => format!("/v2/models/{}/versions/{version}/infer", self.model),
            None => format!("/v2/models/{}/infer", self.model),
        }
    }

    async fn batch(
        &self,
        names: &[String],
        columns: &[Vec<f64>],
        rows: std::ops::Range<usize>,
    ) -> Result<Result<Vec<f64>, String>, ConnectError> {
        let url = self.http.url(&self.path(), &[])?;
        let body = request(names, columns, rows.clone(), self.layout);
        let response = self.http.send_raw(Method::POST, url, Some(&body)).await?;
        if response.status == 404 {
            // No such model or version: no row of any batch can be scored.
            return Err(ConnectError::Status {
                url: response.url,
                status: 404,
                code: None,
                message: reason(&response.body),
            });
        }
        if !(200..300).contains(&response.status) {
            return Ok(Err(format!(
                "{} answered {}: {}",
                response.url,
                response.status,
                reason(&response.body)
            )));
        }
        let decoded: Value = match serde_json::from_slice(&response.body) {
            Ok(value) => value,
            Err(err) => return Ok(Err(format!("{}: not JSON: {err}", response.url))),
        };
        Ok(match outputs(&decoded) {
            Some(values) if values.len() == rows.len() => Ok(values),
            Some(values) => Err(format!(
                "{}: {} outputs for {} rows",
                response.url,
                values.len(),
                rows.len()
            )),
            None => Err(format!("{}: no numeric outputs[0].data", response.url)),
        })
    }

    /// [`Self::batch`], with a request the server dropped or let time out turned into a
    /// refusal when the server itself is still live.
    async fn attempt(
        &self,
        names: &[String],
        columns: &[Vec<f64>],
        rows: std::ops::Range<usize>,
    ) -> Result<Result<Vec<f64>, String>, ConnectError> {
        let dropped = |err: &ConnectError| {
            matches!(
                err,
                ConnectError::Unreachable { .. } | ConnectError::Timeout { .. }
            )
        };
        match self.batch(names, columns, rows.clone()).await {
            Err(err) if dropped(&err) => {
                if !self.live().await {
                    return Err(err);
                }
                // The server closes a connection after a model raised; a request sent on the
                // pooled connection just then fails without reaching it. Once more, fresh.
                match self.batch(names, columns, rows).await {
                    Err(again) if dropped(&again) => Ok(Err(format!(
                        "{again} (the server is live: it dropped this request)"
                    ))),
                    other => other,
                }
            }
            other => other,
        }
    }

    /// Whether the server answers its liveness endpoint.
    async fn live(&self) -> bool {
        let Ok(url) = self.http.url("/v2/health/live", &[]) else {
            return false;
        };
        matches!(
            self.http.send_raw(Method::GET, url, None).await,
            Ok(response) if (200..300).contains(&response.status)
        )
    }

    /// Scores every row of `columns` (one vector per feature, named by `names`), `batch`
    /// rows per request; `progress(done, total)` after each request.
    ///
    /// # Errors
    /// The server is unreachable or times out and does not answer its liveness endpoint
    /// either, or has no such model or version (404); any other refusal is a per-row error.
    pub async fn score(
        &self,
        names: &[String],
        columns: &[Vec<f64>],
        batch: usize,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Scores, ConnectError> {
        let total = columns.first().map_or(0, Vec::len);
        let mut scores = Scores {
            predictions: vec![f64::NAN; total],
            ..Scores::default()
        };
        let mut start = 0;
        while start < total {
            let end = (start + batch.max(1)).min(total);
            scores.requests += 1;
            match self.attempt(names, columns, start..end).await? {
                Ok(values) => scores.predictions[start..end].copy_from_slice(&values),
                Err(_) if end - start > 1 => {
                    for row in start..end {
                        scores.requests += 1;
                        match self.attempt(names, columns, row..row + 1).await? {
                            Ok(values) => scores.predictions[row] = values[0],
                            Err(message) => scores.errors.push(RowError { row, message }),
                        }
                    }
                }
                Err(message) => scores.errors.push(RowError {
                    row: start,
                    message,
                }),
            }
            progress(end, total);
            start = end;
        }
        Ok(scores)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_shaped_for_each_layout() {
        let names = vec!["price".to_string(), "promo".to_string()];
        let columns = vec![vec![1.0, 2.0, 3.0], vec![0.0, 1.0, 0.0]];
        let by_column = request(&names, &columns, 1..3, Layout::Columns);
        assert_eq!(by_column["parameters"]["content_type"], "pd");
        assert_eq!(by_column["inputs"][0]["data"], json!([2.0, 3.0]));
        assert_eq!(by_column["inputs"][1]["name"], "promo");
        let matrix = request(&names, &columns, 0..2, Layout::Matrix);
        assert_eq!(matrix["inputs"][0]["shape"], json!([2, 2]));
        assert_eq!(matrix["inputs"][0]["data"], json!([1.0, 0.0, 2.0, 1.0]));
    }

    #[test]
    fn a_refusal_is_told_by_its_reason_not_its_traceback() {
        let traceback = b"Traceback (most recent call last):\n  File \"x.py\", line 1, in predict\n    raise ValueError(msg)\nValueError: Input X contains NaN.\nLinearRegression does not accept missing values.\n";
        assert_eq!(
            reason(traceback),
            "ValueError: Input X contains NaN. LinearRegression does not accept missing values."
        );
        assert_eq!(
            reason(br#"{"error": "Model demand-forecast with version v9 not found"}"#),
            "Model demand-forecast with version v9 not found"
        );
        assert_eq!(reason(&[b'x'; 300]).len(), 200);
    }

    #[test]
    fn outputs_are_flattened_whatever_their_shape() {
        let body =
            json!({"outputs": [{"name": "output-1", "shape": [2, 1], "data": [[97.6], [87.4]]}]});
        assert_eq!(outputs(&body), Some(vec![97.6, 87.4]));
        assert_eq!(outputs(&json!({"outputs": [{"data": ["a"]}]})), None);
    }
}
