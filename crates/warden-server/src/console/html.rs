//! HTML building blocks of the console: escaping (every outside text — alert labels, logs,
//! step results — goes through [`esc`]), the page frame with its security headers, and small
//! components (badges, tables, forms with the CSRF token).

use std::fmt::Write;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `text` safe inside HTML text and double-quoted attributes; control characters (ESC, BEL,
/// NUL …) become U+FFFD so nothing a label carries reaches the page raw.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A path segment or query value, percent-encoded.
pub fn url_part(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Who is looking, as the frame shows it.
pub struct Viewer<'a> {
    /// The name their token carries (`None`: not signed in).
    pub name: Option<&'a str>,
    /// `viewer`, `responder` or `admin`.
    pub role: &'a str,
    /// The session's CSRF token, for the sign-out form.
    pub csrf: Option<&'a str>,
    /// Whether the configuration has tokens at all (else the console is read-only).
    pub sign_in_possible: bool,
}

/// The content security policy of every console page: nothing but Warden's own script and
/// style, no inline script, frames only from Warden (the sandboxed evidence view).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

/// A whole page: the frame around `body`, with the headers every console page carries.
pub fn page(
    status: StatusCode,
    title: &str,
    viewer: &Viewer<'_>,
    live: Option<&str>,
    body: &str,
) -> Response {
    let mut out = String::with_capacity(body.len() + 2048);
    let live_attr = live.map_or(String::new(), |url| format!(" data-live=\"{}\"", esc(url)));
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{} · Warden</title><link rel=\"icon\" href=\"data:,\"><link rel=\"stylesheet\" href=\"/ui/assets/console.css\">\
         <script src=\"/ui/assets/console.js\" defer></script></head><body{live_attr}>\
         <header class=\"top\"><a class=\"brand\" href=\"/ui\">Warden</a><nav>\
         <a href=\"/ui\">Incidents</a><a href=\"/ui/runbooks\">Runbooks</a></nav><div class=\"who\">",
        esc(title)
    );
    match (viewer.name, viewer.csrf) {
        (Some(name), Some(csrf)) => {
            let _ = write!(
                out,
                "<span>{} <span class=\"role\">{}</span></span>\
                 <form method=\"post\" action=\"/ui/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                 <button class=\"link\">Sign out</button></form>",
                esc(name),
                esc(viewer.role),
                esc(csrf)
            );
        }
        _ if viewer.sign_in_possible => out.push_str("<a href=\"/ui/login\">Sign in</a>"),
        _ => out.push_str("<span class=\"role\">read-only: no API tokens configured</span>"),
    }
    let _ = write!(
        out,
        "</div></header><main id=\"main\">{body}</main><footer><span id=\"live\" aria-live=\"polite\"></span></footer></body></html>"
    );
    let mut response = (status, out).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A coloured word: `class` picks the colour (`state-resolved`, `sev-critical`, `group-failed`).
pub fn badge(class: &str, text: &str) -> String {
    format!("<span class=\"badge {}\">{}</span>", esc(class), esc(text))
}

/// A hidden CSRF field.
pub fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(csrf)
    )
}

/// A one-button form posting to `action`, with optional extra fields.
pub fn button_form(action: &str, csrf: &str, label: &str, class: &str, fields: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\" class=\"inline\">{}{fields}<button class=\"{}\">{}</button></form>",
        esc(action),
        csrf_field(csrf),
        esc(class),
        esc(label)
    )
}

/// A time for people: `2026-12-06 05:40 UTC`.
pub fn time(at: &warden_core::Timestamp) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_cannot_open_tags_or_carry_control_characters() {
        assert_eq!(
            esc("<script>alert(\"x\")</script>&'"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        assert_eq!(
            esc("\u{1b}]0;title\u{7}ok\r\n"),
            "\u{FFFD}]0;title\u{FFFD}ok\u{FFFD}\n"
        );
        assert_eq!(url_part("INC-1/../x y"), "INC-1%2F..%2Fx%20y");
    }
}
