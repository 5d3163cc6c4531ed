//! One error type for every handler, mapped to a status code and a JSON body
//! `{"error": {"code", "message"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use warden_engine::EngineError;

/// A failed API request.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// An error with this status, machine code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 401: no or unknown credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: known credentials, insufficient role.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        match &error {
            EngineError::NotFound(_)
            | EngineError::UnknownStep { .. }
            | EngineError::RunbookNotInEffect { .. } => {
                Self::new(StatusCode::NOT_FOUND, "not_found", error.to_string())
            }
            EngineError::Transition(_) | EngineError::Refused { .. } => {
                Self::new(StatusCode::CONFLICT, "conflict", error.to_string())
            }
            EngineError::BadOutcome { .. } => Self::bad_request(error.to_string()),
            EngineError::Store(_) | EngineError::Contended(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                error.to_string(),
            ),
        }
    }
}

impl From<warden_store::StoreError> for ApiError {
    fn from(error: warden_store::StoreError) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            error.to_string(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

/// The machine code of an error status, for responses made outside Warden's handlers.
fn code_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        431 => "headers_too_large",
        503 => "unavailable",
        _ if status.is_server_error() => "internal",
        _ => "error",
    }
}

/// Every error answer in the one JSON shape: a response the framework made (a query string
/// that does not parse, a path that does not decode, a body over its limit) comes as plain
/// text, and is rewritten here as `{"error": {"code", "message"}}` with its text as message.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (_, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_string()
    } else {
        text
    };
    ApiError::new(status, code_of(status), message).into_response()
}

/// Longest request target accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header bytes accepted.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Refuses an over-long URL (414) or oversized headers (431) with the JSON shape, before any
/// handler runs (the HTTP layer's own, larger limits answer without a body).
pub async fn request_limits(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let uri_bytes = request.uri().to_string().len();
    if uri_bytes > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the URL has {uri_bytes} bytes; at most {MAX_URI_BYTES} are accepted"),
        )
        .into_response();
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "the headers have {header_bytes} bytes; at most {MAX_HEADER_BYTES} are accepted"
            ),
        )
        .into_response();
    }
    next.run(request).await
}
