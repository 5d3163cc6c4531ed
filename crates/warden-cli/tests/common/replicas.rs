//! Two or more `warden up` replicas on the harness's real PostgreSQL (a database of their own),
//! a runbook whose containment is an automatic `notify`, and a receiver that counts every
//! notification per incident at the target: what the leader-election tests share.

#![allow(clippy::unwrap_used, dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Stop;

pub const RUNBOOK: &str = "id: leader-test
title: Page once per incident
severity: high
symptoms: an alert that pages
triggers:
  - alertmanager: { alertname: LeaderTest }
phases:
  containment:
    - id: page
      title: Page the on-call
      action: notify
      params: { channel: sink }
      approval: auto
";

pub type Executions = Arc<Mutex<BTreeMap<String, u32>>>;

/// A webhook receiver counting notifications per incident id.
pub async fn receiver(executions: Executions) -> u16 {
    receiver_delaying(executions, Duration::ZERO).await
}

/// As [`receiver`], answering each notification only after `delay` (so actions are in flight
/// for that long: a process killed meanwhile leaves them running).
pub async fn receiver_delaying(executions: Executions, delay: Duration) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let executions = executions.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 8192];
                // Headers, then the body its Content-Length announces.
                loop {
                    let Ok(n) = socket.read(&mut buffer).await else {
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&request);
                if let Some(at) = text.find("INC-") {
                    let id: String = text[at..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect();
                    *executions.lock().unwrap().entry(id).or_default() += 1;
                }
                tokio::time::sleep(delay).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    port
}

/// A `warden up` replica named `name` (its `POD_NAME`, the lease holder), log `dir/name.log`.
pub fn replica(dir: &Path, name: &str, port: u16) -> Stop {
    super::warden_up(
        dir,
        &format!("{name}.log"),
        port,
        "500ms",
        &[("POD_NAME", name)],
    )
}

pub async fn role(http: &reqwest::Client, base: &str) -> String {
    match http.get(format!("{base}/readyz")).send().await {
        Ok(response) => response
            .json::<serde_json::Value>()
            .await
            .map(|v| v["role"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Posts one alert about `service` to the replica at `base`; the incident it opened.
pub async fn alert(http: &reqwest::Client, base: &str, service: &str) -> String {
    try_alert(http, base, service)
        .await
        .unwrap_or_else(|| panic!("{base} opened no incident for {service}"))
}

pub async fn executed(executions: &Executions, id: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while executions.lock().unwrap().get(id).copied().unwrap_or(0) == 0 {
        assert!(
            Instant::now() < deadline,
            "{id}: no execution within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A fresh PostgreSQL database and a configuration for replicas sharing it in `root`: the
/// runbook, the webhook secret, `lease_ttl` 3 s and the notification sink on `sink`.
pub fn write_setup(root: &Path, postgres_url: &str, sink: u16) {
    let database = format!(
        "warden_leader_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let created = Command::new("psql")
        .args([
            postgres_url,
            "-q",
            "-c",
            &format!("CREATE DATABASE {database}"),
        ])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let (base_url, _) = postgres_url.rsplit_once('/').unwrap();
    std::fs::create_dir_all(root.join("runbooks")).unwrap();
    std::fs::write(root.join("runbooks/leader-test.yaml"), RUNBOOK).unwrap();
    std::fs::write(root.join("hook.secret"), "hook-secret\n").unwrap();
    std::fs::write(root.join("pg-url"), format!("{base_url}/{database}\n")).unwrap();
    std::fs::write(
        root.join("warden.yaml"),
        format!(
            "store:\n  postgres:\n    url: {{file: pg-url}}\nserver:\n  lease_ttl: 3s\n\
             connectors:\n  alertmanager:\n    url: http://127.0.0.1:9\n    webhook_secret: {{file: hook.secret}}\n\
             notifications:\n  - {{name: sink, kind: webhook, url: 'http://127.0.0.1:{sink}/hook'}}\n\
             runbooks:\n  paths: [runbooks]\n"
        ),
    )
    .unwrap();
}

/// As [`alert`], but `None` when the replica does not answer (stopped, killed, restarting) or
/// opens nothing.
pub async fn try_alert(http: &reqwest::Client, base: &str, service: &str) -> Option<String> {
    let payload = serde_json::json!({
        "version": "4", "status": "firing", "receiver": "warden", "groupKey": service,
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "",
        "alerts": [{"status": "firing", "labels": {"alertname": "LeaderTest", "service": service},
                    "annotations": {}, "startsAt": "2026-12-06T05:00:00Z", "fingerprint": service}],
    });
    let answer: serde_json::Value = http
        .post(format!("{base}/api/v1/alerts/alertmanager"))
        .bearer_auth("hook-secret")
        .json(&payload)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    answer["opened"][0].as_str().map(str::to_string)
}

/// Waits until the replica at `base` says `want` (`leader` or `follower`).
pub async fn wait_role(http: &reqwest::Client, base: &str, want: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while role(http, base).await != want {
        assert!(
            Instant::now() < deadline,
            "{base} is not {want} within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
