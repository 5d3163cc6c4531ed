//! One error type for every connector, carrying the URL that failed and a classification the
//! executor uses to decide whether a retry can help.

use std::time::Duration;

use thiserror::Error;

/// What went wrong talking to an external system.
#[derive(Debug, Error)]
pub enum ConnectError {
    /// No connection could be made (refused, DNS, TLS, reset).
    #[error("{url}: unreachable: {message}")]
    Unreachable {
        /// The URL requested.
        url: String,
        /// The transport's explanation.
        message: String,
    },
    /// The server did not answer within the timeout.
    #[error("{url}: no answer within {}", warden_core::format_duration(*.after))]
    Timeout {
        /// The URL requested.
        url: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The server answered with an error status.
    #[error("{url}: HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The API's own error code (e.g. MLflow's `RESOURCE_DOES_NOT_EXIST`), if it gave one.
        code: Option<String>,
        /// The API's message, or the start of the body.
        message: String,
    },
    /// The server answered 2xx with a body that is not what its API promises.
    #[error("{url}: unexpected response: {message}")]
    Decode {
        /// The URL requested.
        url: String,
        /// What did not match.
        message: String,
    },
    /// The request itself was invalid before sending (bad URL join, bad parameter).
    #[error("{url}: invalid request: {message}")]
    InvalidRequest {
        /// The URL or base URL involved.
        url: String,
        /// What is wrong.
        message: String,
    },
}

impl ConnectError {
    /// Whether retrying the same request later may succeed: transport failures, timeouts,
    /// throttling and server-side errors. Client errors (4xx other than 408/429) will not
    /// change by retrying.
    pub fn is_retryable(&self) -> bool {
        match self {
            ConnectError::Unreachable { .. } | ConnectError::Timeout { .. } => true,
            ConnectError::Status { status, .. } => {
                matches!(status, 408 | 429) || (500..=599).contains(status)
            }
            ConnectError::Decode { .. } | ConnectError::InvalidRequest { .. } => false,
        }
    }

    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ConnectError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The API's own error code, if the server gave one.
    pub fn api_code(&self) -> Option<&str> {
        match self {
            ConnectError::Status { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> ConnectError {
        ConnectError::Status {
            url: "http://x".into(),
            status: code,
            code: None,
            message: String::new(),
        }
    }

    #[test]
    fn retryable_only_when_a_retry_can_help() {
        assert!(status(503).is_retryable());
        assert!(status(429).is_retryable());
        assert!(!status(404).is_retryable());
        assert!(!status(400).is_retryable());
        assert!(
            ConnectError::Timeout {
                url: "u".into(),
                after: Duration::from_secs(1)
            }
            .is_retryable()
        );
    }

    #[test]
    fn messages_name_the_url_and_api_code() {
        let error = ConnectError::Status {
            url: "http://mlflow/api/2.0/mlflow/registered-models/get?name=nope".into(),
            status: 404,
            code: Some("RESOURCE_DOES_NOT_EXIST".into()),
            message: "Registered Model with name=nope not found".into(),
        };
        assert_eq!(
            error.to_string(),
            "http://mlflow/api/2.0/mlflow/registered-models/get?name=nope: HTTP 404 \
             RESOURCE_DOES_NOT_EXIST: Registered Model with name=nope not found"
        );
        let timeout = ConnectError::Timeout {
            url: "http://p/-/ready".into(),
            after: Duration::from_secs(10),
        };
        assert_eq!(
            timeout.to_string(),
            "http://p/-/ready: no answer within 10s"
        );
    }
}
