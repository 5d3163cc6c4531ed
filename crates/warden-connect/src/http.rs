//! One HTTP client configuration for every connector: base URL, timeout, optional bearer
//! token, JSON in and out, and the mapping of every failure to a [`ConnectError`] that names
//! the URL. Connectors build on [`HttpClient`] rather than on reqwest directly, so timeouts and
//! error reporting behave the same everywhere. Clients with one timeout share one reqwest
//! client: building one loads the system's root certificates, which cost more than the call an
//! action or collector makes with it. The shared client keeps no idle connections, so none
//! outlives the runtime that opened it (tests run one runtime each; before sharing, every
//! client was new per call and kept none across calls either).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;
use warden_config::{HttpEndpoint, Secret};

use crate::ConnectError;

/// Longest error body excerpt kept in an error message.
const ERROR_EXCERPT_CHARS: usize = 300;

/// An HTTP client bound to one base URL.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    base: Url,
    timeout: Duration,
    bearer: Option<Secret>,
}

/// A raw answer: status and body, for callers that interpret non-2xx themselves.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The URL that answered.
    pub url: String,
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpClient {
    /// A client for `endpoint`.
    ///
    /// # Errors
    /// [`ConnectError::InvalidRequest`] if the HTTP client cannot be built (TLS set-up).
    pub fn new(endpoint: &HttpEndpoint) -> Result<Self, ConnectError> {
        static SHARED: OnceLock<Mutex<HashMap<Duration, reqwest::Client>>> = OnceLock::new();
        let shared = SHARED.get_or_init(|| Mutex::new(HashMap::new()));
        let cached = shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&endpoint.timeout)
            .cloned();
        let client = match cached {
            Some(client) => client,
            None => {
                let client = reqwest::Client::builder()
                    .timeout(endpoint.timeout)
                    .connect_timeout(endpoint.timeout.min(Duration::from_secs(5)))
                    .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
                    .pool_max_idle_per_host(0)
                    .build()
                    .map_err(|err| ConnectError::InvalidRequest {
                        url: endpoint.url.to_string(),
                        message: format!("cannot build HTTP client: {err}"),
                    })?;
                shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(endpoint.timeout, client.clone());
                client
            }
        };
        Ok(Self {
            client,
            base: endpoint.url.clone(),
            timeout: endpoint.timeout,
            bearer: None,
        })
    }

    /// The same client sending `Authorization: Bearer <token>`.
    pub fn with_bearer(mut self, token: Secret) -> Self {
        self.bearer = Some(token);
        self
    }

    /// The same client with the configured bearer token, if any (`field` names it in the
    /// error when it cannot be read).
    ///
    /// # Errors
    /// The token's environment variable or file cannot be read.
    pub fn with_configured_bearer(
        self,
        field: &str,
        token: Option<&warden_config::SecretRef>,
    ) -> Result<Self, ConnectError> {
        let Some(token) = token else {
            return Ok(self);
        };
        let token = token
            .resolve()
            .map_err(|err| ConnectError::InvalidRequest {
                url: self.base.to_string(),
                message: format!("{field}: {err}"),
            })?;
        Ok(self.with_bearer(token))
    }

    /// The base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `path` (starting with `/`) under the base URL, with `query` appended and encoded.
    ///
    /// # Errors
    /// [`ConnectError::InvalidRequest`] if the result is not a valid URL.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, ConnectError> {
        let joined = format!("{}{}", self.base.as_str().trim_end_matches('/'), path);
        let mut url = Url::parse(&joined).map_err(|err| ConnectError::InvalidRequest {
            url: joined.clone(),
            message: err.to_string(),
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends a request and returns status and body whatever the status.
    ///
    /// # Errors
    /// [`ConnectError::Unreachable`] or [`ConnectError::Timeout`] when no answer came.
    pub async fn send_raw(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<RawResponse, ConnectError> {
        self.send_raw_with_headers(method, url, body, &[]).await
    }

    /// [`HttpClient::send_raw`] with extra request headers.
    ///
    /// # Errors
    /// As [`HttpClient::send_raw`].
    pub async fn send_raw_with_headers(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> Result<RawResponse, ConnectError> {
        let url_text = url.to_string();
        let mut request = self
            .client
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token.expose());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|err| self.transport_error(&url_text, &err))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|err| self.transport_error(&url_text, &err))?
            .to_vec();
        Ok(RawResponse {
            url: url_text,
            status,
            body,
        })
    }

    /// Sends a request and decodes a 2xx JSON answer into `T`.
    ///
    /// # Errors
    /// [`ConnectError::Status`] for non-2xx (with the API's error code and message when it
    /// gave them), [`ConnectError::Decode`] for a body that is not a `T`, and transport errors.
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<T, ConnectError> {
        let response = self.send_raw(method, url, body).await?;
        decode_json(response)
    }

    /// `GET path?query` decoded as JSON.
    ///
    /// # Errors
    /// As [`HttpClient::send_json`].
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ConnectError> {
        let url = self.url(path, query)?;
        self.send_json(Method::GET, url, None).await
    }

    /// `method path` with a JSON body, answer decoded as JSON.
    ///
    /// # Errors
    /// As [`HttpClient::send_json`].
    pub async fn send_body<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ConnectError> {
        let url = self.url(path, &[])?;
        let body = serde_json::to_value(body).map_err(|err| ConnectError::InvalidRequest {
            url: url.to_string(),
            message: format!("cannot encode request body: {err}"),
        })?;
        self.send_json(method, url, Some(&body)).await
    }

    /// `GET path` expecting 2xx; returns the body as text.
    ///
    /// # Errors
    /// [`ConnectError::Status`] for non-2xx, and transport errors.
    pub async fn get_text(&self, path: &str) -> Result<String, ConnectError> {
        let url = self.url(path, &[])?;
        let response = self.send_raw(Method::GET, url, None).await?;
        if !(200..300).contains(&response.status) {
            return Err(status_error(&response));
        }
        Ok(String::from_utf8_lossy(&response.body).into_owned())
    }

    fn transport_error(&self, url: &str, err: &reqwest::Error) -> ConnectError {
        if err.is_timeout() {
            return ConnectError::Timeout {
                url: url.to_string(),
                after: self.timeout,
            };
        }
        // reqwest's top-level message is generic ("error sending request"); the cause chain
        // says what actually happened (connection refused, dns error …).
        let mut message = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        ConnectError::Unreachable {
            url: url.to_string(),
            message,
        }
    }
}

/// Decodes a 2xx JSON body, or turns a non-2xx answer into [`ConnectError::Status`].
///
/// # Errors
/// As [`HttpClient::send_json`].
pub fn decode_json<T: DeserializeOwned>(response: RawResponse) -> Result<T, ConnectError> {
    if !(200..300).contains(&response.status) {
        return Err(status_error(&response));
    }
    serde_json::from_slice(&response.body).map_err(|err| ConnectError::Decode {
        url: response.url.clone(),
        message: format!("{err} in body {}", excerpt(&response.body)),
    })
}

/// The error for a non-2xx answer, with the API's own code and message when the body is one
/// of the common JSON error shapes (MLflow `error_code`/`message`, FastAPI `detail`, Airflow
/// `title`/`detail`, Kubernetes `reason`/`message`).
pub fn status_error(response: &RawResponse) -> ConnectError {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&response.body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|value| value.get(name))
            .map(|value| match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            })
    };
    let code = field("error_code").or_else(|| field("reason"));
    let message = field("message")
        .or_else(|| field("detail"))
        .or_else(|| field("title"))
        .unwrap_or_else(|| {
            let reason = StatusCode::from_u16(response.status)
                .ok()
                .and_then(|status| status.canonical_reason())
                .unwrap_or("error");
            if response.body.is_empty() {
                reason.to_string()
            } else {
                excerpt(&response.body)
            }
        });
    ConnectError::Status {
        url: response.url.clone(),
        status: response.status,
        code,
        message,
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.chars().count() > ERROR_EXCERPT_CHARS {
        let cut: String = text.chars().take(ERROR_EXCERPT_CHARS).collect();
        format!("{cut}…")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> HttpClient {
        HttpClient::new(&HttpEndpoint {
            url: Url::parse(base).unwrap(),
            timeout: Duration::from_secs(1),
        })
        .unwrap()
    }

    #[test]
    fn joins_paths_under_a_base_with_a_prefix_and_encodes_queries() {
        let url = client("http://host:5000/mlflow/")
            .url(
                "/api/2.0/mlflow/model-versions/search",
                &[("filter", "name='demand-forecast'")],
            )
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://host:5000/mlflow/api/2.0/mlflow/model-versions/search?filter=name%3D%27demand-forecast%27"
        );
    }

    #[test]
    fn status_errors_carry_the_api_code_and_message() {
        let response = RawResponse {
            url: "http://m/x".into(),
            status: 404,
            body: br#"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "not found"}"#.to_vec(),
        };
        let error = status_error(&response);
        assert_eq!(error.api_code(), Some("RESOURCE_DOES_NOT_EXIST"));
        assert_eq!(
            error.to_string(),
            "http://m/x: HTTP 404 RESOURCE_DOES_NOT_EXIST: not found"
        );
        let plain = status_error(&RawResponse {
            url: "http://m/y".into(),
            status: 500,
            body: b"Internal Server Error".to_vec(),
        });
        assert_eq!(
            plain.to_string(),
            "http://m/y: HTTP 500: Internal Server Error"
        );
    }

    #[test]
    fn garbage_bodies_are_decode_errors_with_an_excerpt() {
        let response = RawResponse {
            url: "http://m/z".into(),
            status: 200,
            body: b"<html>proxy login</html>".to_vec(),
        };
        let error = decode_json::<serde_json::Value>(response).unwrap_err();
        assert!(matches!(error, ConnectError::Decode { .. }));
        assert!(error.to_string().contains("<html>proxy login</html>"));
    }

    #[tokio::test]
    async fn unreachable_server_is_reported_with_its_url() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let base = format!("http://127.0.0.1:{port}");
        let error = client(&base).get_text("/health").await.unwrap_err();
        assert!(
            matches!(error, ConnectError::Unreachable { .. }),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with(&format!("{base}/health: unreachable"))
        );
        assert!(error.is_retryable());
    }

    #[tokio::test]
    async fn silent_server_is_a_timeout_not_a_hang() {
        // Accepts connections and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hold = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let client = HttpClient::new(&HttpEndpoint {
            url: Url::parse(&base).unwrap(),
            timeout: Duration::from_millis(300),
        })
        .unwrap();
        let error = client.get_text("/-/ready").await.unwrap_err();
        hold.abort();
        assert!(matches!(error, ConnectError::Timeout { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!("{base}/-/ready: no answer within 300ms")
        );
    }
}
