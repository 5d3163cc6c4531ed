//! Benchmark of PRODUCT.md's "webhook received → containment action executed < 1 s"
//! (`scripts/bench.sh webhook-to-action`): a real `warden up` (the binary given), the fake
//! Kubernetes API in this process, and a runbook whose first containment step scales the
//! InferenceService with `approval: auto`. Each round posts one Alertmanager webhook for a
//! new service and measures from the moment the request is sent until the API server
//! receives the merge patch — the whole path: HTTP, routing, the incident's creation in the
//! store, the executor, the Kubernetes client. Loopback only.
//!
//! `webhook_to_action WARDEN_BINARY [ROUNDS]`

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use warden_testkit::fake_kube;

const RUNBOOK: &str = "\
id: bench-serving
title: Benchmark runbook
severity: critical
triggers:
  - alertmanager: { alertname: BenchLatencyHigh }
phases:
  containment:
    - id: scale
      title: Scale the predictor
      action: scale_replicas
      params: { min_replicas: 2 }
      approval: auto
";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(binary) = args.get(1) else {
        eprintln!("usage: webhook_to_action WARDEN_BINARY [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(30);
    let dir = tempfile::tempdir().expect("temp dir");
    let (kube_url, cluster) = fake_kube::start().await;
    fake_kube::kubeconfig(dir.path(), &kube_url);
    std::fs::create_dir_all(dir.path().join("runbooks")).expect("runbooks dir");
    std::fs::write(dir.path().join("runbooks/bench.yaml"), RUNBOOK).expect("runbook");
    std::fs::write(dir.path().join("hook.secret"), "hook-secret\n").expect("secret");
    let mut config = String::from(
        "connectors:\n  alertmanager:\n    url: http://127.0.0.1:9\n    webhook_secret: {file: hook.secret}\n\
         \x20 kubernetes:\n    kubeconfig: kubeconfig\n    context: test\n    namespace: mlops\n\
         runbooks:\n  paths: [runbooks]\nserving:\n",
    );
    for round in 0..rounds {
        config.push_str(&format!(
            "  - {{name: svc-{round}, namespace: mlops, inference_service: demand-forecast}}\n"
        ));
    }
    std::fs::write(dir.path().join("warden.yaml"), config).expect("config");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let mut warden = Command::new(binary)
        .args([
            "up",
            "--config",
            "warden.yaml",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("warden.log")).expect("log file"))
        .spawn()
        .expect("warden up");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let ready = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            ready.elapsed() < Duration::from_secs(20),
            "warden up did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut latencies = Vec::new();
    for round in 0..rounds {
        {
            let mut state = cluster.lock().expect("lock");
            state.serving.inference_service["spec"]["predictor"]["minReplicas"] = json!(0);
            state.seen.clear();
        }
        let alert = json!({
            "version": "4", "groupKey": format!("{{}}:{{service=\"svc-{round}\"}}"), "truncatedAlerts": 0,
            "status": "firing", "receiver": "warden", "groupLabels": {"service": format!("svc-{round}")},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://alertmanager",
            "alerts": [{
                "status": "firing",
                "labels": {"alertname": "BenchLatencyHigh", "service": format!("svc-{round}"), "namespace": "mlops", "severity": "critical"},
                "annotations": {"summary": "p95 over the SLA"},
                "startsAt": chrono::Utc::now().to_rfc3339(), "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus/graph", "fingerprint": format!("{round:016x}")
            }]
        });
        let sent = Instant::now();
        let response = client
            .post(format!("{base}/api/v1/alerts/alertmanager"))
            .bearer_auth("hook-secret")
            .json(&alert)
            .send()
            .await
            .expect("webhook");
        assert!(
            response.status().is_success(),
            "webhook answered {}",
            response.status()
        );
        let deadline = sent + Duration::from_secs(10);
        let patched = loop {
            let seen = cluster.lock().expect("lock").seen.clone();
            if let Some(patch) = seen.iter().find(|s| s.method == "PATCH") {
                break patch.at;
            }
            if Instant::now() >= deadline {
                // What the API server saw and where the incident stands say why.
                let seen: Vec<String> = seen
                    .iter()
                    .map(|s| format!("{} {}", s.method, s.path))
                    .collect();
                let detail = client
                    .get(format!("{base}/api/v1/incidents/INC-{}", round + 1))
                    .send()
                    .await
                    .expect("incident")
                    .text()
                    .await
                    .unwrap_or_default();
                panic!(
                    "round {round}: no scale patch within 10 s; the API server saw {seen:?}; the incident: {detail}; the daemon said:\n{}",
                    std::fs::read_to_string(dir.path().join("warden.log")).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        latencies.push(patched.duration_since(sent).as_secs_f64() * 1000.0);
    }
    let _ = warden.kill();
    let _ = warden.wait();
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| {
        latencies[((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    println!(
        "{rounds} webhooks → scale patch received: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms (targets: p99 ≤ 250 ms, all < 1000 ms)",
        at(0.5),
        at(0.95),
        at(0.99),
        latencies[latencies.len() - 1]
    );
    if latencies[latencies.len() - 1] >= 1000.0 {
        std::process::exit(1);
    }
}
