//! Runbook 3 end to end in the daemon, on the harness's real components.
//!
//! False positives: prediction logs and the reference in the S3 stand-in, the retraining DAG
//! on real Airflow, the detector's alert counter scraped by a real Prometheus. The detector
//! starts alerting on a Saturday whose only difference is the weekend's → one incident opens;
//! Warden captures the alert history and the side-by-side review, pauses the retraining DAG
//! (it ran twice: churn), confirms seasonality and refutes the other causes with numbers; the
//! responder approves a temporary threshold change and the seasonal fix; the backtest gates
//! pass on the labelled history, the decision record is captured, the override is reverted,
//! the DAG unpaused, and the post-mortem says all of it.
//!
//! False negatives: a thresholds file set far too high makes the scheduled backtest miss the
//! labelled drift → an incident; Warden finds the drift was significant under the thresholds,
//! the responder approves the tuning, and the recall gate passes with the tuned thresholds.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::drift::{RETRAIN_DAG, write_data};
use common::{
    Stop, airflow, api_get, complete, free_port, paused, spawn, step_result, wait_for, wait_http,
    wait_ready,
};

/// `warden up` with the S3 stand-in's settings in its environment, its log in `warden.log`.
fn start_warden(dir: &Path, port: u16, s3_url: Option<&str>) -> Stop {
    let log = std::fs::File::create(dir.join("warden.log")).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    command
        .args([
            "up",
            "--config",
            "warden.yaml",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--advance-every",
            "1s",
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(log);
    if let Some(url) = s3_url {
        command
            .env("AWS_ENDPOINT_URL", url)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1");
    }
    Stop(command.spawn().unwrap())
}

/// A Prometheus exporter of one counter, `drift_alerts_total`, that the test raises.
async fn exporter(alerts: Arc<AtomicU64>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let alerts = alerts.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let body = format!(
                    "# TYPE drift_alerts_total counter\ndrift_alerts_total{{model=\"demand\"}} {}\n",
                    alerts.load(Ordering::Relaxed)
                );
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

async fn incident_of(http: &reqwest::Client, base: &str) -> Option<serde_json::Value> {
    let listed = api_get(http, &format!("{base}/api/v1/incidents")).await;
    listed["incidents"].as_array()?.first().cloned()
}

async fn approve(http: &reqwest::Client, base: &str, id: &str, step: &str, reason: &str) {
    let response = http
        .post(format!("{base}/api/v1/incidents/{id}/steps/{step}/approve"))
        .bearer_auth("responder-token")
        .json(&serde_json::json!({ "reason": reason }))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "approving {step}: {}",
        response.text().await.unwrap_or_default()
    );
}

fn base_config(dir: &Path) -> String {
    std::fs::write(dir.join("responder.token"), "responder-token\n").unwrap();
    "server:\n  tokens:\n    - {name: ana, role: responder, token: {file: responder.token}}\n"
        .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seasonal_false_positives_are_contained_diagnosed_fixed_and_closed() {
    let (Some(dags), Some(s3_url), Some(airflow_url)) = (
        warden_testkit::stack::require("AIRFLOW_DAGS"),
        warden_testkit::stack::require("S3_URL"),
        warden_testkit::stack::require("AIRFLOW_URL"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let nonce = chrono::Utc::now().timestamp_millis();
    let http = reqwest::Client::new();

    // The data: reference and logs in the S3 stand-in, labels beside the configuration.
    let bucket = format!("drift-{nonce}");
    let created = http.put(format!("{s3_url}/{bucket}")).send().await.unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    for (name, path) in write_data(&root.join("data"), true) {
        let put = http
            .put(format!("{s3_url}/{bucket}/{name}"))
            .body(std::fs::read(path).unwrap())
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "{name}: {}", put.status());
    }

    // The retraining DAG, which the detector's alerts started twice.
    let dag_id = format!("warden_retrain_{nonce}");
    std::fs::write(
        Path::new(&dags).join(format!("{dag_id}.py")),
        RETRAIN_DAG.replace("DAG_ID", &dag_id),
    )
    .unwrap();
    let airflow_client = airflow().await;
    wait_for(
        "the DAG to be parsed",
        Duration::from_secs(90),
        async || airflow_client.dag(&dag_id).await.is_ok(),
    )
    .await;
    for run in ["retrain-1", "retrain-2"] {
        airflow_client
            .trigger(&dag_id, run, serde_json::json!({}))
            .await
            .unwrap();
    }

    // The team's detector: an alert counter, scraped every second by a real Prometheus.
    let alerts = Arc::new(AtomicU64::new(0));
    let exporter_port = exporter(alerts.clone()).await;
    let prometheus_port = free_port();
    std::fs::write(
        root.join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n  - job_name: drift\n    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n"
        ),
    )
    .unwrap();
    let _prometheus = spawn(
        root,
        "prometheus.log",
        "prometheus",
        &[
            "--config.file=prometheus.yml",
            "--storage.tsdb.path=prom-data",
            &format!("--web.listen-address=127.0.0.1:{prometheus_port}"),
        ],
    );
    let prometheus_url = format!("http://127.0.0.1:{prometheus_port}");
    wait_http(
        &http,
        &format!("{prometheus_url}/-/ready"),
        "Prometheus",
        root,
        "prometheus.log",
    )
    .await;

    // Warden.
    std::fs::write(
        root.join("airflow.password"),
        warden_testkit::stack::require("AIRFLOW_PASSWORD").unwrap(),
    )
    .unwrap();
    std::fs::write(
        root.join("warden.yaml"),
        format!(
            "{}connectors:\n  prometheus:\n    url: {prometheus_url}\n  airflow:\n    url: {airflow_url}\n    timeout: 30s\n    username: {}\n    password: {{file: airflow.password}}\n\
             drift_monitors:\n  - name: demand-forecast\n    predictions: s3://{bucket}/logs/\n    reference: s3://{bucket}/reference.parquet\n    window: 1d\n\
             \x20   alerts:\n      query: sum(increase(drift_alerts_total[10s]))\n      window: 10s\n      history: 2m\n      factor: 3\n      min_alerts: 3\n\
             \x20   backtest:\n      labels: data/labels.csv\n    retraining: {{airflow_dag: {dag_id}}}\n    check_every: 1s\n",
            base_config(root),
            warden_testkit::stack::require("AIRFLOW_USER").unwrap()
        ),
    )
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _warden = start_warden(root, port, Some(&s3_url));
    wait_ready(&http, &base).await;

    // Quiet: no alerts, no incident.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(
        incident_of(&http, &base).await.is_none(),
        "an incident while the detector was quiet"
    );
    // The detector starts alerting on the Saturday: several alerts a second.
    let burst = {
        let alerts = alerts.clone();
        tokio::spawn(async move {
            loop {
                alerts.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    let mut id = String::new();
    wait_for(
        "the incident",
        Duration::from_secs(60),
        async || match incident_of(&http, &base).await {
            Some(incident) => {
                id = incident["id"].as_str().unwrap().to_string();
                true
            }
            None => false,
        },
    )
    .await;
    let detail = api_get(&http, &format!("{base}/api/v1/incidents/{id}")).await;
    assert_eq!(
        detail["incident"]["runbook"], "drift-detector",
        "{detail:#}"
    );
    assert!(
        detail["incident"]["title"]
            .as_str()
            .unwrap()
            .contains("drift alerts in the last 10s"),
        "{detail:#}"
    );

    // Contained and diagnosed by Warden.
    let deadline = Instant::now() + Duration::from_secs(90);
    while paused(&airflow_client, &dag_id).await != Some(true) {
        let detail = api_get(&http, &format!("{base}/api/v1/incidents/{id}")).await;
        assert!(Instant::now() < deadline, "the DAG not paused: {detail:#}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    let detail = loop {
        let detail = api_get(&http, &format!("{base}/api/v1/incidents/{id}")).await;
        let decided = [
            "seasonality",
            "unrepresentative-reference",
            "threshold-too-sensitive",
            "encoding-change",
        ]
        .iter()
        .all(|step| {
            let (_, result) = step_result(&detail, step);
            result.starts_with("confirmed by warden") || result.starts_with("refuted by warden")
        });
        if decided {
            break detail;
        }
        assert!(Instant::now() < deadline, "causes not judged: {detail:#}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let (_, seasonality) = step_result(&detail, "seasonality");
    assert!(
        seasonality.starts_with("confirmed by warden")
            && seasonality.contains("num_02: effect")
            && seasonality.contains("against the same day-of-week"),
        "{seasonality}"
    );
    for step in [
        "unrepresentative-reference",
        "threshold-too-sensitive",
        "encoding-change",
    ] {
        let (_, result) = step_result(&detail, step);
        assert!(result.starts_with("refuted by warden"), "{step}: {result}");
    }
    assert!(
        step_result(&detail, "unrepresentative-reference")
            .1
            .contains("rows"),
        "the refutation gives the numbers"
    );
    let (status, churn) = step_result(&detail, "retraining-churn");
    assert!(
        status == "succeeded" && churn.contains("ran 2 times"),
        "{status}: {churn}"
    );
    let (status, disabled) = step_result(&detail, "disable-retraining");
    assert_eq!(status, "succeeded", "{disabled}");
    let evidence: Vec<String> = detail["incident"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    for name in [
        "alert-history.json",
        "distribution-review.html",
        "drift-report.json",
    ] {
        assert!(evidence.contains(&name.to_string()), "{name}: {evidence:?}");
    }
    // The refuted causes' fixes are skipped; the gates wait for the fix (seasonal windows
    // still alert on the labelled history).
    assert_eq!(step_result(&detail, "sliding-reference").0, "skipped");
    assert_eq!(step_result(&detail, "tune-thresholds").0, "skipped");
    assert_ne!(step_result(&detail, "backtest-precision").0, "succeeded");

    // The responder: a temporary threshold change while they look, and the seasonal fix —
    // after the team's detector went quiet (else the incident would reopen on closing).
    burst.abort();
    tokio::time::sleep(Duration::from_secs(11)).await;
    approve(
        &http,
        &base,
        &id,
        "threshold-change",
        "weekend noise while we fix the detector",
    )
    .await;
    approve(
        &http,
        &base,
        &id,
        "seasonal-detection",
        "compare with the same weekday",
    )
    .await;
    let manual = [
        (
            "review-alerts",
            "weekend alerts reviewed against the report",
        ),
        (
            "human-review",
            "drift alerts reviewed before retraining from now on",
        ),
    ];
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let detail = api_get(&http, &format!("{base}/api/v1/incidents/{id}")).await;
        if detail["incident"]["state"] == "resolved" {
            break;
        }
        if let Some((step, note)) = manual
            .iter()
            .find(|(step, _)| step_result(&detail, step).0 == "pending")
        {
            complete(&http, &base, &id, step, "succeeded", note).await;
        }
        assert!(Instant::now() < deadline, "not resolved: {detail:#}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let detail = api_get(&http, &format!("{base}/api/v1/incidents/{id}")).await;
    let (status, set) = step_result(&detail, "threshold-change");
    assert!(
        status == "succeeded"
            && set.contains("by ana (weekend noise while we fix the detector)")
            && set.contains("until"),
        "{status}: {set}"
    );
    let (status, fix) = step_result(&detail, "seasonal-detection");
    assert!(
        status == "succeeded" && fix.contains("seasonal: day-of-week"),
        "{status}: {fix}"
    );
    for gate in ["backtest-precision", "backtest-recall"] {
        let (status, verdict) = step_result(&detail, gate);
        assert!(
            status == "succeeded" && verdict.contains("seasonal day-of-week"),
            "{gate}: {status} {verdict}"
        );
    }
    assert_eq!(step_result(&detail, "revert-threshold").0, "succeeded");
    assert_eq!(step_result(&detail, "enable-retraining").0, "succeeded");
    assert_eq!(
        paused(&airflow_client, &dag_id).await,
        Some(false),
        "disable: {:?}; enable: {:?}; audit: {:#}",
        step_result(&detail, "disable-retraining"),
        step_result(&detail, "enable-retraining"),
        detail["audit"]
    );
    let evidence: Vec<String> = detail["incident"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        evidence.contains(&"decision-record.md".to_string()),
        "{evidence:?}"
    );

    // The post-mortem says all of it.
    let postmortem = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["incidents", "postmortem", &id, "--config", "warden.yaml"])
        .current_dir(root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&postmortem.stdout);
    assert!(!text.contains("recurred"), "{text}");
    for needle in [
        "seasonal",
        "Airflow DAG",
        "backtest precision",
        "decision-record.md",
        "ana",
    ] {
        assert!(
            text.contains(needle),
            "post-mortem lacks {needle:?}:\n{text}"
        );
    }
    let _ = std::fs::remove_file(Path::new(&dags).join(format!("{dag_id}.py")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_drift_missed_by_high_thresholds_is_found_and_closed_after_tuning() {
    // Local files only; the stack is needed for nothing but its presence check.
    if warden_testkit::stack::require("PROMETHEUS_URL").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_data(&root.join("data"), false);
    std::fs::write(
        root.join("thresholds.yaml"),
        "alpha: 0.05\nnumeric_min_effect: 2.0\ncategorical_min_effect: 0.5\n",
    )
    .unwrap();
    std::fs::write(
        root.join("warden.yaml"),
        format!(
            "{}drift_monitors:\n  - name: churn-model\n    predictions: data/logs/\n    reference: data/reference.parquet\n    thresholds: thresholds.yaml\n\
             \x20   backtest:\n      labels: data/labels.csv\n      every: 2s\n",
            base_config(root)
        ),
    )
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let warden = start_warden(root, port, None);
    wait_ready(&http, &base).await;

    let mut id = String::new();
    wait_for(
        "the incident",
        Duration::from_secs(120),
        async || match incident_of(&http, &base).await {
            Some(incident) => {
                id = incident["id"].as_str().unwrap().to_string();
                true
            }
            None => false,
        },
    )
    .await;
    let detail = api_get(&http, &format!("{base}/api/v1/incidents/{id}")).await;
    let title = detail["incident"]["title"].as_str().unwrap().to_string();
    assert!(
        title.contains("missed 3 of 3 labelled drift windows"),
        "{title}"
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    let detail = loop {
        let detail = api_get(&http, &format!("{base}/api/v1/incidents/{id}")).await;
        if step_result(&detail, "threshold-too-sensitive")
            .1
            .contains("by warden")
        {
            break detail;
        }
        assert!(Instant::now() < deadline, "not judged: {detail:#}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let (_, verdict) = step_result(&detail, "threshold-too-sensitive");
    assert!(
        verdict.starts_with("confirmed by warden") && verdict.contains("thresholds set too high"),
        "{verdict}"
    );
    assert!(
        step_result(&detail, "seasonality")
            .1
            .starts_with("refuted by warden"),
        "{detail:#}"
    );
    // No retraining trigger: nothing to disable, and no churn.
    assert!(
        step_result(&detail, "retraining-churn")
            .1
            .contains("no retraining trigger"),
        "{detail:#}"
    );
    assert_ne!(step_result(&detail, "backtest-recall").0, "succeeded");

    approve(
        &http,
        &base,
        &id,
        "tune-thresholds",
        "tune on the labelled history",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(180);
    let detail = loop {
        let detail = api_get(&http, &format!("{base}/api/v1/incidents/{id}")).await;
        if step_result(&detail, "backtest-recall").0 == "succeeded"
            && step_result(&detail, "backtest-precision").0 == "succeeded"
        {
            break detail;
        }
        assert!(Instant::now() < deadline, "gates not passed: {detail:#}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let (_, tuned) = step_result(&detail, "tune-thresholds");
    assert!(
        tuned.contains("recall 0.00 → 1.00") && tuned.contains("thresholds:"),
        "{tuned}"
    );
    // The tuned thresholds survive a restart: Warden's state is on disk.
    drop(warden);
    let _warden = start_warden(root, port, None);
    wait_ready(&http, &base).await;
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("warden-data/drift-monitors/churn-model.json")).unwrap(),
    )
    .unwrap();
    assert!(
        state["fixes"]["thresholds"]
            .as_str()
            .unwrap()
            .ends_with("churn-model.thresholds.yaml"),
        "{state:#}"
    );
}
