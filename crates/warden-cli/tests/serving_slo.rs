//! The daemon's own SLO check (R2.1) on the harness's real Prometheus, with the SLI queries
//! overridden by constant vectors so each service's numbers are known: burn-rate mode pages
//! when both windows burn the budget fast, plain mode only once the breach has lasted its
//! `for`, and a healthy service opens nothing.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Stop, api_get, extend_config, free_port, start, wait_ready, write_config};

#[tokio::test]
async fn the_slo_check_opens_incidents_for_burning_and_sustained_breaches_only() {
    let Some(prometheus) = warden_testkit::stack::require("PROMETHEUS_URL") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    extend_config(
        dir.path(),
        Some(&prometheus),
        "serving:\n\
         \x20 - name: burning\n    check_every: 1s\n    burn_rate: {objective: 0.99}\n\
         \x20   queries: {error_rate: 'vector(0.5)', slow_ratio: 'vector(0)', latency_p95_ms: 'vector(40)'}\n\
         \x20 - name: slow\n    check_every: 1s\n    for: 3s\n\
         \x20   queries: {latency_p95_ms: 'vector(350)', error_rate: 'vector(0)'}\n\
         \x20 - name: healthy\n    check_every: 1s\n    for: 1s\n\
         \x20   queries: {latency_p95_ms: 'vector(20)', error_rate: 'vector(0.001)'}\n",
    );
    let port = free_port();
    let _warden = Stop(start(dir.path(), port));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;
    let started = Instant::now();

    let deadline = Instant::now() + Duration::from_secs(30);
    let incidents = loop {
        let listed = api_get(&client, &format!("{base}/api/v1/incidents")).await;
        let incidents = listed["incidents"].as_array().cloned().unwrap_or_default();
        if incidents.len() >= 2 {
            break incidents;
        }
        assert!(
            Instant::now() < deadline,
            "expected two incidents: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Let the healthy service have its chances too.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let listed = api_get(&client, &format!("{base}/api/v1/incidents")).await;
    let targets: Vec<String> = listed["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["target"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(targets.len(), 2, "{listed}");
    assert!(
        !targets.iter().any(|t| t.contains("healthy")),
        "{targets:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "the plain breach had to last 3 s"
    );

    for incident in incidents {
        let id = incident["id"].as_str().unwrap();
        let detail = api_get(&client, &format!("{base}/api/v1/incidents/{id}")).await;
        assert_eq!(detail["incident"]["runbook"], "serving-latency");
        let timeline = detail["incident"]["timeline"].to_string();
        if detail["incident"]["target"]["name"] == "burning" {
            assert!(
                timeline.contains("errors budget burning 50.0x over 1h and 50.0x over 5m"),
                "{timeline}"
            );
        } else {
            assert!(
                timeline.contains("p95 latency 350 ms > 200 ms for"),
                "{timeline}"
            );
        }
    }
}
