//! Notifications (R6.6): a generic JSON webhook, a Slack incoming webhook, and PagerDuty
//! Events v2. Every send carries the action's idempotency key (`Idempotency-Key` header for
//! webhooks, PagerDuty's `dedup_key`), so a send repeated after a crash does not page twice
//! where the receiver honours it. Secrets (a Slack webhook URL is one) never reach messages.

use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use serde_json::json;
use url::Url;
use warden_config::{HttpEndpoint, NotificationConfig, NotificationTarget};

use crate::http::{RawResponse, status_error};
use crate::{ConnectError, HttpClient};

/// What is sent about an incident.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    /// The incident id.
    pub incident: String,
    /// Its title.
    pub title: String,
    /// Its severity (`info` … `critical`).
    pub severity: String,
    /// Its target, `kind/namespace/name`.
    pub target: String,
    /// Its runbook.
    pub runbook: String,
    /// Its dedup key (one per cause).
    pub dedup_key: String,
    /// What the step wants said.
    pub message: String,
    /// The action's idempotency key.
    pub idempotency_key: String,
}

fn pagerduty_severity(severity: &str) -> &'static str {
    match severity {
        "critical" => "critical",
        "high" => "error",
        "medium" | "low" => "warning",
        _ => "info",
    }
}

async fn post(
    url: &Url,
    timeout: Duration,
    bearer: Option<warden_config::Secret>,
    idempotency_key: &str,
    body: &serde_json::Value,
    shown_as: &str,
) -> Result<(), ConnectError> {
    let mut client = HttpClient::new(&HttpEndpoint {
        url: url.clone(),
        timeout,
    })?;
    if let Some(token) = bearer {
        client = client.with_bearer(token);
    }
    let hide = |error: ConnectError| -> ConnectError {
        // The reported URL may be secret (Slack): name the channel instead.
        match error {
            ConnectError::Unreachable { message, .. } => ConnectError::Unreachable {
                url: shown_as.to_string(),
                message: message.replace(url.as_str(), shown_as),
            },
            ConnectError::Timeout { after, .. } => ConnectError::Timeout {
                url: shown_as.to_string(),
                after,
            },
            other => other,
        }
    };
    let response: RawResponse = client
        .send_raw_with_headers(
            Method::POST,
            url.clone(),
            Some(body),
            &[("Idempotency-Key", idempotency_key)],
        )
        .await
        .map_err(hide)?;
    if (200..300).contains(&response.status) {
        Ok(())
    } else {
        let mut error = status_error(&response);
        if let ConnectError::Status { url, .. } = &mut error {
            *url = shown_as.to_string();
        }
        Err(error)
    }
}

/// Sends `notification` to `channel`; returns a sentence saying where it went.
///
/// # Errors
/// Secret resolution (as [`ConnectError::InvalidRequest`]), transport and status errors; the
/// channel is named, a secret URL never is.
pub async fn send(
    channel: &NotificationConfig,
    notification: &Notification,
) -> Result<String, ConnectError> {
    let resolve = |secret: &warden_config::SecretRef| {
        secret
            .resolve()
            .map_err(|err| ConnectError::InvalidRequest {
                url: format!("notification channel {}", channel.name),
                message: err.to_string(),
            })
    };
    match &channel.target {
        NotificationTarget::Webhook { url, token } => {
            let token = token.as_ref().map(resolve).transpose()?;
            let body = json!({ "event": "incident", "notification": notification });
            post(
                url,
                channel.timeout,
                token,
                &notification.idempotency_key,
                &body,
                url.as_str(),
            )
            .await?;
            Ok(format!("posted to webhook {} ({url})", channel.name))
        }
        NotificationTarget::Slack { webhook_url } => {
            let secret = resolve(webhook_url)?;
            let url = Url::parse(secret.expose()).map_err(|_| ConnectError::InvalidRequest {
                url: format!("notification channel {}", channel.name),
                message: "the Slack webhook secret is not a URL".into(),
            })?;
            let text = format!(
                "*[{}] {}* — {} on `{}` ({})\n{}",
                notification.severity.to_uppercase(),
                notification.title,
                notification.incident,
                notification.target,
                notification.runbook,
                notification.message
            );
            let shown = format!("slack channel {}", channel.name);
            post(
                &url,
                channel.timeout,
                None,
                &notification.idempotency_key,
                &json!({ "text": text }),
                &shown,
            )
            .await?;
            Ok(format!("posted to {shown}"))
        }
        NotificationTarget::Pagerduty { routing_key, url } => {
            let key = resolve(routing_key)?;
            let body = json!({
                "routing_key": key.expose(),
                "event_action": "trigger",
                "dedup_key": notification.dedup_key,
                "payload": {
                    "summary": format!("{}: {}", notification.incident, notification.title),
                    "source": notification.target,
                    "severity": pagerduty_severity(&notification.severity),
                    "custom_details": { "runbook": notification.runbook, "message": notification.message },
                },
            });
            let shown = format!("pagerduty channel {}", channel.name);
            post(
                url,
                channel.timeout,
                None,
                &notification.idempotency_key,
                &body,
                &shown,
            )
            .await?;
            Ok(format!(
                "triggered {shown} (dedup_key {})",
                notification.dedup_key
            ))
        }
    }
}
