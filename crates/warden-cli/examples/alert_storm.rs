//! Benchmark of the alert-storm target (PRODUCT.md): 10,000 duplicate Alertmanager alerts in
//! two groups sent to a running `warden up` → the right small number of incidents. Prints the
//! whole send time, the throughput, the incidents that resulted and the daemon's peak RSS.
//!
//! Run by `scripts/bench.sh alert-storm`, which builds the release binary and starts it.
//! Usage: `alert_storm BASE_URL DAEMON_PID [ALERTS] [CONCURRENCY]`.

#![allow(clippy::unwrap_used)] // a benchmark script: any failure should stop it loudly

use std::time::Instant;

const FIRING: &str = include_str!("../tests/data/alertmanager-webhook-payload.json");

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).expect("BASE_URL").clone();
    let pid = args.get(2).expect("DAEMON_PID").clone();
    let alerts: usize = args.get(3).map_or(10_000, |n| n.parse().unwrap());
    let concurrency: usize = args.get(4).map_or(16, |n| n.parse().unwrap());
    let bodies = [
        FIRING.replace("DemandForecastHighErrorRate", "ServingLatencyHigh"),
        FIRING
            .replace("DemandForecastHighErrorRate", "ServingLatencyHigh")
            .replace("\"service\": \"demand-forecast\"", "\"service\": \"churn\""),
    ];
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let (client, base, bodies) = (client.clone(), base.clone(), bodies.clone());
        workers.push(tokio::spawn(async move {
            let mut failures = 0usize;
            for n in (worker..alerts).step_by(concurrency) {
                let response = client
                    .post(format!("{base}/api/v1/alerts/alertmanager"))
                    .bearer_auth("hook-secret")
                    .body(bodies[n % 2].clone())
                    .send()
                    .await;
                if !response.is_ok_and(|r| r.status().is_success()) {
                    failures += 1;
                }
            }
            failures
        }));
    }
    let mut failures = 0;
    for worker in workers {
        failures += worker.await.unwrap();
    }
    let elapsed = started.elapsed();
    let list: serde_json::Value = client
        .get(format!("{base}/api/v1/incidents?limit=1000"))
        .bearer_auth("responder-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let incidents = list["incidents"].as_array().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak = status
        .lines()
        .find(|line| line.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?");
    println!("alerts sent:       {alerts} ({failures} failed), concurrency {concurrency}");
    println!(
        "whole send time:   {:.2} s ({:.0} alerts/s)",
        elapsed.as_secs_f64(),
        alerts as f64 / elapsed.as_secs_f64()
    );
    println!("incidents:         {}", incidents.len());
    for incident in incidents {
        println!(
            "  {} {} findings={}",
            incident["id"], incident["target"], incident["finding_count"]
        );
    }
    println!(
        "daemon peak RSS:   {}",
        peak.trim_start_matches("VmHWM:").trim()
    );
}
