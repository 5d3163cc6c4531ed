//! Two `warden up` replicas on the harness's real PostgreSQL, with a runbook whose containment
//! is an automatic `notify` to a receiver that records every execution at the target. Both
//! replicas ingest and serve; one leads and acts. The follower's webhook opens the incident and
//! the leader acts on it; the leader is paused (SIGSTOP) past its lease, the follower takes
//! over with a higher epoch and acts on the next alert; the old leader is resumed and acts on
//! nothing, not even the alert it receives itself. Every action executes exactly once.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Stop, free_port, wait_ready};

const RUNBOOK: &str = "id: leader-test
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

type Executions = Arc<Mutex<BTreeMap<String, u32>>>;

/// A webhook receiver counting notifications per incident id.
async fn receiver(executions: Executions) -> u16 {
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
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    port
}

fn replica(dir: &Path, name: &str, port: u16) -> Stop {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    Stop(
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .args([
                "up",
                "--config",
                "warden.yaml",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--advance-every",
                "500ms",
            ])
            .env("POD_NAME", name)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

async fn role(http: &reqwest::Client, base: &str) -> String {
    match http.get(format!("{base}/readyz")).send().await {
        Ok(response) => response
            .json::<serde_json::Value>()
            .await
            .map(|v| v["role"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn alert(http: &reqwest::Client, base: &str, service: &str) -> String {
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
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["opened"][0].as_str().unwrap().to_string()
}

async fn executed(executions: &Executions, id: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while executions.lock().unwrap().get(id).copied().unwrap_or(0) == 0 {
        assert!(
            Instant::now() < deadline,
            "{id}: no execution within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_acts_and_a_stalled_leader_acts_on_nothing_after_the_takeover() {
    let Some(url) = warden_testkit::stack::require("POSTGRES_URL") else {
        return;
    };
    let database = format!(
        "warden_leader_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    let created = Command::new("psql")
        .args([
            url.as_str(),
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
    let (base_url, _) = url.rsplit_once('/').unwrap();

    let executions: Executions = Arc::default();
    let sink = receiver(executions.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
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
    let http = reqwest::Client::new();
    let (port_a, port_b) = (free_port(), free_port());
    let (a, b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    let first = replica(root, "replica-a", port_a);
    wait_ready(&http, &a).await;
    let _second = replica(root, "replica-b", port_b);
    wait_ready(&http, &b).await;
    assert_eq!(
        (role(&http, &a).await, role(&http, &b).await),
        ("leader".into(), "follower".into())
    );

    // The follower ingests; the leader acts.
    let one = alert(&http, &b, "svc-1").await;
    executed(&executions, &one, Duration::from_secs(10)).await;

    // The leader stalls past its lease; the follower takes over.
    let status = Command::new("kill")
        .args(["-STOP", &first.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    while role(&http, &b).await != "leader" {
        assert!(Instant::now() < deadline, "replica-b did not take over");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let two = alert(&http, &b, "svc-2").await;
    executed(&executions, &two, Duration::from_secs(10)).await;

    // The old leader wakes up: it acts on nothing, not even an alert sent to it.
    let status = Command::new("kill")
        .args(["-CONT", &first.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let three = alert(&http, &a, "svc-3").await;
    executed(&executions, &three, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(role(&http, &a).await, "follower");
    let counts = executions.lock().unwrap().clone();
    assert_eq!(
        counts,
        BTreeMap::from([(one, 1), (two, 1), (three, 1)]),
        "every action exactly once; replica-a's log:\n{}",
        std::fs::read_to_string(root.join("replica-a.log")).unwrap_or_default()
    );
    let metrics = http
        .get(format!("{b}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("warden_leader 1") && metrics.contains("warden_lease_epoch 2"),
        "{metrics}"
    );
    let log = std::fs::read_to_string(root.join("replica-b.log")).unwrap();
    assert!(
        log.contains("replica-a leads") && log.contains("does not act"),
        "{log}"
    );
}
