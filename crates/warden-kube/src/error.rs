//! The Kubernetes client's error: what went wrong, on which object and API server, and of
//! which [`KubeErrorKind`] — so a caller decides whether to retry from the kind, never from
//! the words of the message.

/// What kind of failure, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeErrorKind {
    /// 404: the object does not exist.
    NotFound,
    /// 401/403: the credentials or RBAC rules do not allow it.
    Forbidden,
    /// 409: another writer changed the object first; reading again and retrying may work.
    Conflict,
    /// 400/422 or an unreadable answer: the request or the object is malformed.
    Invalid,
    /// 429 or 5xx: the API server is overloaded or failing for now.
    Unavailable,
    /// The API server could not be reached (connection refused, TLS, DNS).
    Unreachable,
    /// The API server did not answer in time.
    Timeout,
    /// The client could not be configured (kubeconfig, in-cluster settings).
    Config,
}

impl KubeErrorKind {
    /// Whether trying the same request again may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::Conflict | Self::Unavailable | Self::Unreachable | Self::Timeout
        )
    }

    /// The kind of an HTTP status code from the API server.
    pub fn of_status(code: u16) -> Self {
        match code {
            404 | 410 => Self::NotFound,
            401 | 403 => Self::Forbidden,
            409 => Self::Conflict,
            408 | 504 => Self::Timeout,
            429 | 500..=599 => Self::Unavailable,
            _ => Self::Invalid,
        }
    }
}

/// A failed Kubernetes call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct KubeError {
    /// What kind of failure.
    pub kind: KubeErrorKind,
    /// What went wrong, naming the object and the API server.
    pub message: String,
}

impl KubeError {
    /// An error of `kind` saying `message`.
    pub fn new(kind: KubeErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Whether trying again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// kube-rs's error for `what` on `server`, classified.
    pub(crate) fn from_kube(what: &str, server: &str, error: &kube::Error) -> Self {
        let kind = match error {
            kube::Error::Api(status) => KubeErrorKind::of_status(status.code),
            kube::Error::HyperError(err) if err.is_timeout() => KubeErrorKind::Timeout,
            kube::Error::HyperError(_) => KubeErrorKind::Unreachable,
            kube::Error::Service(err) if timed_out(err.as_ref()) => KubeErrorKind::Timeout,
            kube::Error::Service(_) => KubeErrorKind::Unreachable,
            kube::Error::SerdeError(_)
            | kube::Error::FromUtf8(_)
            | kube::Error::BuildRequest(_) => KubeErrorKind::Invalid,
            kube::Error::InferConfig(_)
            | kube::Error::InferKubeconfig(_)
            | kube::Error::Auth(_)
            | kube::Error::TlsRequired => KubeErrorKind::Config,
            _ => KubeErrorKind::Unreachable,
        };
        Self::new(kind, format!("{what} on {server}: {error}"))
    }
}

/// Whether an I/O time-out is anywhere in `error`'s chain of sources.
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        next = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_say_whether_a_retry_can_help() {
        for (code, kind, retry) in [
            (404, KubeErrorKind::NotFound, false),
            (403, KubeErrorKind::Forbidden, false),
            (401, KubeErrorKind::Forbidden, false),
            (409, KubeErrorKind::Conflict, true),
            (422, KubeErrorKind::Invalid, false),
            (429, KubeErrorKind::Unavailable, true),
            (503, KubeErrorKind::Unavailable, true),
            (504, KubeErrorKind::Timeout, true),
        ] {
            assert_eq!(KubeErrorKind::of_status(code), kind, "{code}");
            assert_eq!(kind.is_retryable(), retry, "{code}");
        }
    }
}
