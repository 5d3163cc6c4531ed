//! The console in a real browser: headless Chromium (Debian's `chromium`) driven by
//! playwright-core (`tests/browser/`, installed by the test command). `warden up` with two
//! incidents — one opened by a real Alertmanager webhook whose Kubernetes steps fail (the
//! kubeconfig does not exist), one opened by the drift monitor's own backtest — then the
//! browser signs in, retries a failed step, watches the page update live, reads the drift
//! report and a JSON artifact, approves a manual action and sees the daemon carry on, downloads
//! the post-mortem, and as a viewer finds no buttons and a forged POST refused. Last, the
//! console over the demo's store is photographed, light and dark, for the README.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::drift::write_data;
use common::{Stop, api_get, free_port, start_logged, step_result, wait_ready};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The browser and the driver, or why they are missing (a failure under
/// `WARDEN_REQUIRE_STACK=1`, where the test command installed them).
fn browser_ready() -> bool {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let driver = repo().join("tests/browser/node_modules/playwright-core");
    let missing: Vec<String> = [
        (!Path::new(&chromium).exists()).then(|| format!("{chromium} (apt-get install chromium)")),
        (!driver.exists()).then(|| "playwright-core (npm ci in tests/browser)".to_string()),
        Command::new("node")
            .arg("--version")
            .output()
            .is_err()
            .then(|| "node".to_string()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        !warden_testkit::stack::required(),
        "the browser tests need {}",
        missing.join(", ")
    );
    eprintln!("skipped: missing {}", missing.join(", "));
    false
}

fn node(args: &[&str]) {
    let output = Command::new("node")
        .arg(repo().join("tests/browser/console.mjs"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "node console.mjs {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn wait_until(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_a_real_browser() {
    if !browser_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_data(&root.join("data"), false);
    std::fs::write(root.join("responder.token"), "responder-token\n").unwrap();
    std::fs::write(root.join("viewer.token"), "viewer-token\n").unwrap();
    std::fs::write(root.join("hook.secret"), "hook-secret\n").unwrap();
    std::fs::write(
        root.join("thresholds.yaml"),
        "alpha: 0.05\nnumeric_min_effect: 2.0\ncategorical_min_effect: 0.5\n",
    )
    .unwrap();
    std::fs::write(
        root.join("warden.yaml"),
        "server:\n  tokens:\n    - {name: ana, role: responder, token: {file: responder.token}}\n    - {name: val, role: viewer, token: {file: viewer.token}}\n\
         connectors:\n  alertmanager:\n    url: http://127.0.0.1:9\n    webhook_secret: {file: hook.secret}\n\
         \x20 kubernetes:\n    kubeconfig: no-such-kubeconfig\n    namespace: mlops\n\
         serving:\n  - name: demand-forecast\n    inference_service: demand-forecast\n\
         drift_monitors:\n  - name: churn-model\n    predictions: data/logs/\n    reference: data/reference.parquet\n    thresholds: thresholds.yaml\n\
         \x20   backtest:\n      labels: data/labels.csv\n      every: 2s\n",
    )
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _warden = start_logged(root, port, "1s");
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await;

    // A real webhook: the serving incident, whose Kubernetes steps fail.
    let payload = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/alertmanager-webhook-payload.json"),
    )
    .unwrap()
    .replace("DemandForecastHighErrorRate", "ServingErrorRateHigh");
    let answer: serde_json::Value = http
        .post(format!("{base}/api/v1/alerts/alertmanager"))
        .bearer_auth("hook-secret")
        .header("content-type", "application/json")
        .body(payload)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let serving = answer["opened"][0].as_str().unwrap().to_string();
    let mut drift = String::new();
    wait_until(
        "the drift incident and a failed step",
        Duration::from_secs(120),
        async || {
            let listed = api_get(&http, &format!("{base}/api/v1/incidents")).await;
            if let Some(found) = listed["incidents"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|i| i["runbook"] == "drift-detector")
            {
                drift = found["id"].as_str().unwrap().to_string();
            }
            if drift.is_empty() {
                return false;
            }
            let detail = api_get(&http, &format!("{base}/api/v1/incidents/{drift}")).await;
            let serving_detail =
                api_get(&http, &format!("{base}/api/v1/incidents/{serving}")).await;
            step_result(&detail, "threshold-too-sensitive")
                .1
                .starts_with("confirmed")
                && step_result(&detail, "distribution-review").0 == "succeeded"
                && serving_detail["actions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["status"] == "failed")
        },
    )
    .await;
    node(&["flow", &base, &serving, &drift]);

    // The console over the demo's store, photographed.
    let demo = root.join("demo");
    let status = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["demo", "--hour-ms", "0", "--out", demo.to_str().unwrap()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let port = free_port();
    let demo_base = format!("http://127.0.0.1:{port}");
    let _demo = Stop(
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .args([
                "up",
                "--config",
                "warden.yaml",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .current_dir(&demo)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_ready(&http, &demo_base).await;
    let shots = std::env::var("WARDEN_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("shots"));
    std::fs::create_dir_all(&shots).unwrap();
    node(&["screenshots", &demo_base, "INC-2", shots.to_str().unwrap()]);
    for name in [
        "console-incidents-light.png",
        "console-incidents-dark.png",
        "console-incident-light.png",
        "console-incident-dark.png",
    ] {
        let bytes = std::fs::read(shots.join(name)).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{name}"
        );
    }
}
