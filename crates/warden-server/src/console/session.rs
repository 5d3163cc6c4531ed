//! Console sign-in: an API token from `server.tokens` exchanged for a session whose id lives
//! in an HttpOnly, SameSite=Strict cookie (the token itself never reaches the browser's
//! storage), and a per-session CSRF token every form carries. A mutating request must carry
//! it and, when the browser says where it comes from, come from this origin.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header};
use warden_config::Role;

/// The cookie's name.
pub const COOKIE: &str = "warden_session";
/// How long a session lasts without being used.
const IDLE: Duration = Duration::from_secs(12 * 3600);
/// Most sessions kept; the oldest go first.
const MAX_SESSIONS: usize = 10_000;

/// A signed-in person.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token's name: the actor recorded for what they do.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The token forms must carry.
    pub csrf: String,
    last_used: Instant,
}

/// The sessions of this process (a restart signs everyone out).
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes as hex, from the kernel.
fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    if let Ok(mut file) = std::fs::File::open("/dev/urandom") {
        let _ = file.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether two strings are equal, in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut difference = a.len() ^ b.len();
    for (index, byte) in b.iter().enumerate() {
        difference |= usize::from(a.get(index).copied().unwrap_or(0) ^ byte);
    }
    difference == 0
}

impl Sessions {
    /// A new session for `name` with `role`: its id and CSRF token.
    pub fn create(&self, name: &str, role: Role) -> (String, String) {
        let (id, csrf) = (random_hex(), random_hex());
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.retain(|_, s| s.last_used.elapsed() < IDLE);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| id.clone())
        {
            map.remove(&oldest);
        }
        map.insert(
            id.clone(),
            Session {
                name: name.to_string(),
                role,
                csrf: csrf.clone(),
                last_used: Instant::now(),
            },
        );
        (id, csrf)
    }

    /// The session the request's cookie names, if it is alive.
    pub fn get(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let id = cookie(headers)?;
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let session = map.get_mut(&id)?;
        if session.last_used.elapsed() >= IDLE {
            map.remove(&id);
            return None;
        }
        session.last_used = Instant::now();
        Some((id, session.clone()))
    }

    /// Ends a session.
    pub fn remove(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id);
    }
}

/// The session id the request's `Cookie` header carries.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then(|| value.to_string())
        })
}

/// The `Set-Cookie` value that signs the browser in (or, with an empty id, out).
pub fn set_cookie(id: &str) -> HeaderValue {
    let max_age = if id.is_empty() { 0 } else { IDLE.as_secs() };
    HeaderValue::from_str(&format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("warden_session=; Path=/; Max-Age=0"))
}

/// Why a mutating console request is refused, if it is.
pub fn forged(
    session: &Session,
    form_csrf: Option<&str>,
    headers: &HeaderMap,
) -> Option<&'static str> {
    if !form_csrf.is_some_and(|given| same(given, &session.csrf)) {
        return Some("the form's CSRF token is missing or wrong: reload the page and try again");
    }
    cross_origin(headers)
}

/// A request whose `Origin` (or `Referer`) names another host than the one it was sent to.
pub fn cross_origin(headers: &HeaderMap) -> Option<&'static str> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok())?;
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())?;
    let authority = source
        .split_once("://")
        .map_or(source, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    (authority != host).then_some("the request comes from another site")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn a_session_is_found_by_its_cookie_and_forms_need_its_csrf_token() {
        let sessions = Sessions::default();
        let (id, csrf) = sessions.create("ana", Role::Responder);
        assert_eq!(id.len(), 64);
        assert_ne!(id, csrf);
        let request = headers(&[
            (header::COOKIE, &format!("theme=dark; {COOKIE}={id}")),
            (header::HOST, "127.0.0.1:8181"),
            (header::ORIGIN, "http://127.0.0.1:8181"),
        ]);
        let (_, session) = sessions.get(&request).expect("signed in");
        assert_eq!(session.name, "ana");
        assert_eq!(forged(&session, Some(&csrf), &request), None);
        assert!(forged(&session, Some("guess"), &request).is_some());
        assert!(forged(&session, None, &request).is_some());
        let elsewhere = headers(&[
            (header::HOST, "127.0.0.1:8181"),
            (header::ORIGIN, "https://evil.example"),
        ]);
        assert!(forged(&session, Some(&csrf), &elsewhere).is_some());
        sessions.remove(&id);
        assert!(sessions.get(&request).is_none());
        let cookie = set_cookie(&id);
        let cookie = cookie.to_str().expect("ascii");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    }
}
