//! `warden up` as a process: it serves the API and the webhook, stops cleanly on SIGTERM, and
//! survives `kill -9` at random points without losing an incident it acknowledged
//! (crash safety, 50 trials).

#![allow(clippy::unwrap_used)] // shared helpers outside #[test] functions

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::{Stop, api_get, extend_config, free_port, start, wait_for, wait_ready, write_config};

const FIRING: &str = include_str!("data/alertmanager-webhook-payload.json");

fn alert_for(service: &str) -> String {
    FIRING
        .replace("DemandForecastHighErrorRate", "ServingErrorRateHigh")
        .replace(
            "\"service\": \"demand-forecast\"",
            &format!("\"service\": \"{service}\""),
        )
}

async fn post_alert(
    client: &reqwest::Client,
    base: &str,
    service: &str,
) -> Result<serde_json::Value, String> {
    let response = client
        .post(format!("{base}/api/v1/alerts/alertmanager"))
        .bearer_auth("hook-secret")
        .body(alert_for(service))
        .send()
        .await
        .map_err(|err| err.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    response.json().await.map_err(|err| err.to_string())
}

async fn incident_targets(client: &reqwest::Client, base: &str) -> Vec<String> {
    let list = api_get(client, &format!("{base}/api/v1/incidents?limit=1000")).await;
    list["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["target"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn up_serves_the_api_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Stop(start(dir.path(), port));
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;

    let ingested = post_alert(&client, &base, "demand-forecast").await.unwrap();
    assert_eq!(ingested["opened"], serde_json::json!(["INC-1"]));
    let approve = client
        .post(format!(
            "{base}/api/v1/incidents/INC-1/steps/rollback/approve"
        ))
        .bearer_auth("responder-token")
        .body("{\"reason\": \"v2 regressed\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(approve.status(), 200);
    assert_eq!(
        incident_targets(&client, &base).await,
        ["service/mlops/demand-forecast"]
    );

    Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "warden up did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "clean shutdown exits 0, got {status}");

    // The incident outlives the process.
    let output = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["incidents", "show", "INC-1", "--format", "json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["approvals"][0]["reason"], "v2 regressed");
}

/// Kill -9 the daemon at pseudo-random points while alerts stream in, 50 times, on one
/// database: every alert the daemon acknowledged with 200 has its incident afterwards, and no
/// target ever has two active incidents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_points_loses_no_acknowledged_incident() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut acknowledged: Vec<String> = Vec::new();
    let mut seed: u64 = 0x5eed_1234;
    let mut next_service = 0usize;
    for _trial in 0..50 {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut child = Stop(start(dir.path(), port));
        wait_ready(&client, &base).await;
        // xorshift: a reproducible "random" kill point between 5 and 80 ms.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kill_after = Duration::from_millis(5 + seed % 76);
        let sender = {
            let (client, base) = (client.clone(), base.clone());
            let first = next_service;
            tokio::spawn(async move {
                let mut acked = Vec::new();
                // Every service twice: a new incident, then an attach to it.
                for n in first..first + 40 {
                    let service = format!("svc-{}", n / 2);
                    match post_alert(&client, &base, &service).await {
                        Ok(_) => acked.push(service),
                        Err(_) => break,
                    }
                }
                acked
            })
        };
        tokio::time::sleep(kill_after).await;
        child.0.kill().unwrap(); // SIGKILL
        child.0.wait().unwrap();
        let acked = sender.await.unwrap();
        next_service += 40;
        acknowledged.extend(acked);
    }
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Stop(start(dir.path(), port));
    wait_ready(&client, &base).await;
    let targets = incident_targets(&client, &base).await;
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    assert!(
        acknowledged.len() > 50,
        "the trials acknowledged too few alerts to mean anything: {}",
        acknowledged.len()
    );
    for service in &acknowledged {
        let target = format!("service/mlops/{service}");
        assert!(
            targets.contains(&target),
            "acknowledged alert for {service} lost its incident"
        );
    }
    let mut unique = targets.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        targets.len(),
        "a target has two incidents: {targets:?}"
    );
}

/// A notification receiver that counts deliveries per idempotency key.
async fn counting_receiver() -> (String, Arc<Mutex<BTreeMap<String, u32>>>) {
    let counts: Arc<Mutex<BTreeMap<String, u32>>> = Arc::default();
    let recorded = counts.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let recorded = recorded.clone();
            async move {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("missing")
                    .to_string();
                *recorded.lock().unwrap().entry(key).or_default() += 1;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, counts)
}

async fn page_statuses(client: &reqwest::Client, base: &str) -> BTreeMap<String, String> {
    let list = api_get(client, &format!("{base}/api/v1/incidents?limit=1000")).await;
    let mut statuses = BTreeMap::new();
    for incident in list["incidents"].as_array().unwrap() {
        let id = incident["id"].as_str().unwrap();
        let detail = api_get(client, &format!("{base}/api/v1/incidents/{id}")).await;
        let status = detail["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|action| action["step"] == "page")
            .map(|action| action["status"].as_str().unwrap().to_string())
            .unwrap_or_else(|| "none".to_string());
        statuses.insert(id.to_string(), status);
    }
    statuses
}

/// Kill -9 the daemon at pseudo-random points while it opens incidents and runs their
/// `notify` action, 50 times: afterwards every incident has been notified, and a restart never
/// sends a notification whose action had completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_never_repeats_a_completed_action_and_drops_none() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let (hook_url, deliveries) = counting_receiver().await;
    std::fs::create_dir(dir.path().join("runbooks")).unwrap();
    std::fs::write(
        dir.path().join("runbooks/paging.yaml"),
        common::paging_runbook("{ attempts: 5, base: 50ms, cap: 200ms }"),
    )
    .unwrap();
    extend_config(
        dir.path(),
        None,
        &format!(
            "runbooks:\n  paths: [runbooks]\nnotifications:\n  - {{name: oncall, kind: webhook, url: \"{hook_url}\"}}\n"
        ),
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut seed: u64 = 0xdead_beef;
    let mut next = 0usize;
    for _trial in 0..50 {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut child = Stop(start(dir.path(), port));
        wait_ready(&client, &base).await;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let first = next;
        next += 10;
        let sender = {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                for n in first..first + 10 {
                    let body =
                        alert_for(&format!("svc-{n}")).replace("ServingErrorRateHigh", "PageMe");
                    let sent = client
                        .post(format!("{base}/api/v1/alerts/alertmanager"))
                        .bearer_auth("hook-secret")
                        .body(body)
                        .send()
                        .await;
                    if sent.is_err() {
                        break;
                    }
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(5 + seed % 76)).await;
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        let _ = sender.await;
    }

    // A surviving process finishes what was interrupted.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Stop(start(dir.path(), port));
    wait_ready(&client, &base).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let statuses = loop {
        let statuses = page_statuses(&client, &base).await;
        if statuses.values().all(|status| status == "succeeded") {
            break statuses;
        }
        assert!(
            Instant::now() < deadline,
            "actions did not all complete: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        statuses.len() > 20,
        "too few incidents to mean anything: {}",
        statuses.len()
    );
    let before = deliveries.lock().unwrap().clone();
    for id in statuses.keys() {
        let key = format!("{id}/page");
        assert!(
            before.get(&key).copied().unwrap_or(0) >= 1,
            "{id} was never notified"
        );
    }

    // Completed actions are never executed again, across another crash and restart.
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Stop(start(dir.path(), port));
    wait_ready(&client, &base).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = deliveries.lock().unwrap().clone();
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    assert_eq!(after, before, "a restart re-sent a completed notification");
    let repeated = before.values().filter(|count| **count > 1).count();
    eprintln!(
        "{} incidents notified; {repeated} notifications were re-sent because the process died mid-send",
        before.len()
    );
}

/// A scheduled PromQL detector against the harness's real Prometheus opens an incident; a
/// detector with a broken query is counted as failing and does not stop the daemon.
#[tokio::test]
async fn scheduled_promql_detectors_open_incidents_from_real_prometheus() {
    let Some(prometheus) = warden_testkit::stack::require("PROMETHEUS_URL") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    extend_config(
        dir.path(),
        Some(&prometheus),
        "detectors:\n  - {name: p95-high, kind: promql_threshold, runbook: serving-latency, \
             target: service/mlops/demand-forecast, query: \"vector(420)\", above: 200, for: 0s, every: 200ms, \
             severity: critical}\n  - {name: broken, kind: promql_threshold, runbook: serving-latency, \
             target: service/mlops/other, query: \"rate(\", above: 1, every: 200ms}\n",
    );
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Stop(start(dir.path(), port));
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let targets = loop {
        let targets = incident_targets(&client, &base).await;
        if !targets.is_empty() {
            break targets;
        }
        assert!(
            Instant::now() < deadline,
            "no incident from the detector within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(targets, ["service/mlops/demand-forecast"]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let count = |line_start: &str| -> u64 {
        metrics
            .lines()
            .find(|line| line.starts_with(line_start))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        count("warden_detector_runs_total{detector=\"p95-high\",result=\"ok\"}") >= 2,
        "{metrics}"
    );
    assert!(
        count("warden_detector_runs_total{detector=\"broken\",result=\"error\"}") >= 2,
        "{metrics}"
    );
    assert_eq!(
        count("warden_detector_findings_total{detector=\"p95-high\"}"),
        1,
        "a sustained breach pages once"
    );
    assert_eq!(
        count("warden_incidents{state=\"detected\"}"),
        1,
        "{metrics}"
    );
}

/// Closure gates judged from real Prometheus range queries: a condition that held for the
/// whole window passes (recorded as Warden), one that does not stays open.
#[tokio::test]
async fn closure_gates_are_judged_from_prometheus_range_queries() {
    let Some(prometheus) = warden_testkit::stack::require("PROMETHEUS_URL") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    // Constant series: p95 at 120 ms holds for any window; the error rate at 2% never does.
    // The built-in runbook with 3-second windows (a gate's window must lie after the incident
    // opened, so 30 minutes would take 30 minutes).
    std::fs::create_dir_all(dir.path().join("runbooks")).unwrap();
    std::fs::write(
        dir.path().join("runbooks/serving-latency.yaml"),
        include_str!("../../warden-runbook/runbooks/serving-latency.yaml")
            .replace("for: 30m }", "for: 3s }"),
    )
    .unwrap();
    extend_config(
        dir.path(),
        Some(&prometheus),
        "runbooks:\n  paths: [runbooks]\ngate_queries:\n  latency_p95_ms: \"vector(120)\"\n  error_rate: \"vector(0.02)\"\n",
    );
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Stop(start(dir.path(), port));
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;
    post_alert(&client, &base, "demand-forecast").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let actions = loop {
        let detail = api_get(&client, &format!("{base}/api/v1/incidents/INC-1")).await;
        let actions: BTreeMap<String, (String, String)> = detail["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["step"].as_str().unwrap().to_string(),
                    (
                        a["status"].as_str().unwrap().to_string(),
                        a["result"].as_str().unwrap_or("").to_string(),
                    ),
                )
            })
            .collect();
        if actions
            .get("p95-within-sla")
            .is_some_and(|(status, _)| status == "succeeded")
        {
            break actions;
        }
        assert!(
            Instant::now() < deadline,
            "the p95 gate was not judged: {actions:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let (_, p95) = &actions["p95-within-sla"];
    assert!(
        p95.starts_with("passed by warden: evaluated from the data: < 200 for"),
        "{p95}"
    );
    assert_eq!(
        actions["error-rate-low"].0, "pending",
        "2% errors never pass a < 0.5% gate"
    );
    assert_eq!(
        actions["autoscaler-stable"].0, "pending",
        "no query for it: a responder decides"
    );
}

/// A step Warden fails to do cannot be missed: the daemon says it on stderr with the command
/// that retries it, counts it in /metrics, and pages the configured channels once per step.
#[tokio::test]
async fn failed_steps_are_printed_counted_and_paged() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let (hook_url, deliveries) = counting_receiver().await;
    let config = std::fs::read_to_string(dir.path().join("warden.yaml"))
        .unwrap()
        .replace(
            "connectors:\n",
            "connectors:\n  kubernetes:\n    kubeconfig: no-such-kubeconfig\n    namespace: mlops\n",
        );
    std::fs::write(
        dir.path().join("warden.yaml"),
        format!(
            "{config}serving:\n  - name: demand-forecast\n    inference_service: demand-forecast\n\
             notifications:\n  - {{name: oncall, kind: webhook, url: \"{hook_url}\"}}\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _warden = common::start_logged(dir.path(), port, "1s");
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;
    post_alert(&client, &base, "demand-forecast").await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    let (paged, log) = loop {
        let paged: Vec<String> = deliveries
            .lock()
            .unwrap()
            .iter()
            .filter(|(key, _)| key.ends_with("/failed"))
            .map(|(key, count)| format!("{key}={count}"))
            .collect();
        let log = std::fs::read_to_string(dir.path().join("warden.log")).unwrap_or_default();
        if !paged.is_empty() && log.contains("FAILED") {
            break (paged, log);
        }
        assert!(Instant::now() < deadline, "paged {paged:?}; log:\n{log}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        paged
            .iter()
            .all(|p| p.starts_with("INC-1/") && p.ends_with("=1")),
        "once per failed step: {paged:?}"
    );
    let line = log.lines().find(|l| l.contains("FAILED")).unwrap();
    assert!(
        line.contains("no-such-kubeconfig") && line.contains("(warden incidents retry INC-1 "),
        "{line}"
    );
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let failures: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("warden_step_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(failures as usize >= paged.len(), "{metrics}");

    // An alert no runbook routes is said in the log, not dropped in silence.
    let unrouted = client
        .post(format!("{base}/api/v1/alerts/alertmanager"))
        .bearer_auth("hook-secret")
        .body(FIRING.replace("DemandForecastHighErrorRate", "DiskFull"))
        .send()
        .await
        .unwrap();
    assert!(unrouted.status().is_success());
    wait_for(
        "the unrouted alert in the log",
        Duration::from_secs(10),
        async || {
            std::fs::read_to_string(dir.path().join("warden.log"))
                .unwrap_or_default()
                .contains("1 alert(s) matched no runbook trigger (fingerprints 090708c0a7a7ad2c)")
        },
    )
    .await;
}
