//! Notifications against a local receiver: the body each channel kind sends, the idempotency
//! key, and errors that name the channel without leaking a secret URL.

#![allow(clippy::unwrap_used)] // shared helpers outside #[test] functions

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use url::Url;
use warden_config::{NotificationConfig, NotificationTarget, SecretRef};
use warden_connect::notify::{Notification, send};

type Received = Arc<Mutex<Vec<(HeaderMap, serde_json::Value)>>>;

async fn receiver(status: StatusCode) -> (String, Received) {
    let received: Received = Arc::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/{*path}",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let store = store.clone();
            async move {
                store
                    .lock()
                    .unwrap()
                    .push((headers, serde_json::from_slice(&body).unwrap()));
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, received)
}

fn notification() -> Notification {
    Notification {
        incident: "INC-7".into(),
        title: "p95 412 ms > 200 ms".into(),
        severity: "critical".into(),
        target: "service/mlops/demand-forecast".into(),
        runbook: "serving-latency".into(),
        dedup_key: "serving-latency:service/mlops/demand-forecast".into(),
        message: "incident opened".into(),
        idempotency_key: "INC-7/page".into(),
    }
}

fn secret_file(value: &str) -> (tempfile::NamedTempFile, SecretRef) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), value).unwrap();
    let reference = SecretRef::File(file.path().to_path_buf());
    (file, reference)
}

fn channel(name: &str, target: NotificationTarget) -> NotificationConfig {
    NotificationConfig {
        name: name.into(),
        target,
        timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn webhook_carries_the_incident_and_the_idempotency_key() {
    let (base, received) = receiver(StatusCode::OK).await;
    let (_file, token) = secret_file("hook-token");
    let webhook = channel(
        "ops",
        NotificationTarget::Webhook {
            url: Url::parse(&format!("{base}/hook")).unwrap(),
            token: Some(token),
        },
    );
    let said = send(&webhook, &notification()).await.unwrap();
    assert!(said.contains("webhook ops"), "{said}");
    let (headers, body) = received.lock().unwrap()[0].clone();
    assert_eq!(headers["idempotency-key"], "INC-7/page");
    assert_eq!(headers["authorization"], "Bearer hook-token");
    assert_eq!(body["notification"]["incident"], "INC-7");
    assert_eq!(body["notification"]["severity"], "critical");
}

#[tokio::test]
async fn slack_gets_text_and_its_secret_url_never_reaches_errors() {
    let (base, received) = receiver(StatusCode::OK).await;
    let (_file, url) = secret_file(&format!("{base}/services/T000/B000/XXXXSECRET"));
    let slack = channel(
        "oncall-slack",
        NotificationTarget::Slack { webhook_url: url },
    );
    send(&slack, &notification()).await.unwrap();
    let text = received.lock().unwrap()[0].1["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.starts_with("*[CRITICAL] p95 412 ms > 200 ms*"),
        "{text}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_file, dead) = secret_file(&format!(
        "http://127.0.0.1:{port}/services/T000/B000/XXXXSECRET"
    ));
    let error = send(
        &channel(
            "oncall-slack",
            NotificationTarget::Slack { webhook_url: dead },
        ),
        &notification(),
    )
    .await
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("slack channel oncall-slack"),
        "{message}"
    );
    assert!(
        !message.contains("XXXXSECRET"),
        "the webhook URL is a secret: {message}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn pagerduty_dedups_by_incident_and_reports_refusals() {
    let (base, received) = receiver(StatusCode::ACCEPTED).await;
    let (_file, key) = secret_file("R0UT1NGKEY");
    let pagerduty = channel(
        "pd",
        NotificationTarget::Pagerduty {
            routing_key: key,
            url: Url::parse(&format!("{base}/v2/enqueue")).unwrap(),
        },
    );
    send(&pagerduty, &notification()).await.unwrap();
    let body = received.lock().unwrap()[0].1.clone();
    assert_eq!(body["routing_key"], "R0UT1NGKEY");
    assert_eq!(body["event_action"], "trigger");
    assert_eq!(
        body["dedup_key"],
        "serving-latency:service/mlops/demand-forecast"
    );
    assert_eq!(body["payload"]["severity"], "critical");

    let (refusing, _) = receiver(StatusCode::BAD_REQUEST).await;
    let (_file, key) = secret_file("R0UT1NGKEY");
    let bad = channel(
        "pd",
        NotificationTarget::Pagerduty {
            routing_key: key,
            url: Url::parse(&format!("{refusing}/v2/enqueue")).unwrap(),
        },
    );
    let error = send(&bad, &notification()).await.unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert!(
        !error.is_retryable(),
        "a refused event is not retried blindly"
    );
}
