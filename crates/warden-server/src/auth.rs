//! Bearer-token authentication with roles. Tokens are compared in constant time; a request
//! without a token is anonymous, which only counts as a viewer when no tokens are configured.

use axum::http::HeaderMap;
use warden_config::{Role, Secret};
use warden_core::Actor;

use crate::error::ApiError;
use crate::{AppState, Token};

/// Who made a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// As recorded in timelines and the audit log.
    pub actor: Actor,
    /// What they may do.
    pub role: Role,
}

/// Compares without leaking, through timing, how much of a guess was right.
pub fn same_secret(given: &str, expected: &Secret) -> bool {
    let (a, b) = (given.as_bytes(), expected.expose().as_bytes());
    let mut difference = a.len() ^ b.len();
    for (index, byte) in b.iter().enumerate() {
        difference |= usize::from(a.get(index).copied().unwrap_or(0) ^ byte);
    }
    difference == 0
}

/// The credentials of an `Authorization: Bearer …` header; the scheme is matched without
/// regard to case (RFC 7235, section 2.1).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim_start();
    let (scheme, credentials) = value.split_once(|c: char| c.is_ascii_whitespace())?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
        .filter(|credentials| !credentials.is_empty())
}

fn find<'a>(tokens: &'a [Token], given: &str) -> Option<&'a Token> {
    // Every token is compared, so the time taken does not reveal which one matched.
    tokens.iter().fold(None, |found, token| {
        if same_secret(given, &token.secret) {
            Some(token)
        } else {
            found
        }
    })
}

/// Authenticates the request and checks it has at least `needed`.
///
/// # Errors
/// 401 for a missing or unknown token, 403 for an insufficient role.
pub fn require(state: &AppState, headers: &HeaderMap, needed: Role) -> Result<Caller, ApiError> {
    let caller = match bearer(headers) {
        Some(given) => match find(&state.tokens, given) {
            Some(token) => Caller {
                actor: Actor::User(token.name.clone()),
                role: token.role,
            },
            None => return Err(ApiError::unauthorized("unknown API token")),
        },
        None if state.tokens.is_empty() => Caller {
            actor: Actor::User("anonymous".into()),
            role: Role::Viewer,
        },
        None => return Err(ApiError::unauthorized("missing bearer token")),
    };
    if caller.role < needed {
        let hint = if state.tokens.is_empty() {
            " (no API tokens are configured: add server.tokens to warden.yaml)"
        } else {
            ""
        };
        return Err(ApiError::forbidden(
            format!("this needs the {needed:?} role{hint}").to_lowercase(),
        ));
    }
    Ok(caller)
}

/// Checks the webhook's shared secret.
///
/// # Errors
/// 403 when no secret is configured, 401 when the request's does not match.
pub fn require_webhook(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(secret) = &state.webhook_secret else {
        return Err(ApiError::forbidden(
            "the webhook is disabled: set connectors.alertmanager.webhook_secret",
        ));
    };
    match bearer(headers) {
        Some(given) if same_secret(given, secret) => Ok(()),
        _ => Err(ApiError::unauthorized("missing or wrong webhook secret")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_exactly() {
        let secret = Secret::new("s3cret");
        assert!(same_secret("s3cret", &secret));
        assert!(!same_secret("s3cre", &secret));
        assert!(!same_secret("s3cret!", &secret));
        assert!(!same_secret("", &secret));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for header in ["Bearer tok", "bearer tok", "BEARER  tok ", "beArer\ttok"] {
            let mut headers = HeaderMap::new();
            headers.insert(
                axum::http::header::AUTHORIZATION,
                header.parse().expect("header"),
            );
            assert_eq!(bearer(&headers), Some("tok"), "{header:?}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::AUTHORIZATION,
            "Basic dG9r".parse().expect("header"),
        );
        assert_eq!(bearer(&headers), None);
    }
}
