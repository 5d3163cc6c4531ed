//! One engine for the daemon and the CLI: the same incident, worked once through `warden up`
//! (webhook, then a responder's completion over the API) and once through `warden alerts
//! ingest` and `warden incidents complete` with no daemon anywhere, ends with the same steps
//! in the same states and the causes decided by Warden with the same scores and reasons —
//! the collectors, judges and gates the daemon runs also run behind the CLI.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Stop, api_get, complete, free_port, start, wait_ready, write_config};
use warden_data::write::write_parquet;
use warden_eval::synthetic::{LogSpec, generate};

const FIRING: &str = include_str!("data/alertmanager-webhook-payload.json");
/// 2026-11-01 00:00 UTC.
const NOV_1: i64 = 1_793_491_200_000;

/// A model whose version 2 (errors with sd 30 against version 1's 3) regressed, its logs and
/// actuals on disk, the configuration that lists it, and the alert that pages about it.
fn scenario(dir: &Path) {
    let spec = LogSpec {
        series: 200,
        days: 28,
        start_ms: NOV_1,
        versions: vec![("1".into(), 3.0), ("2".into(), 30.0)],
        seed: 11,
    };
    let logs = generate(&spec, 0, 28);
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    write_parquet(&dir.join("logs/part-0.parquet"), &logs.predictions).unwrap();
    write_parquet(&dir.join("actuals.parquet"), &logs.actuals).unwrap();
    write_config(dir);
    let config = std::fs::read_to_string(dir.join("warden.yaml")).unwrap();
    std::fs::write(
        dir.join("warden.yaml"),
        format!(
            "{config}models:\n  - name: demand-forecast\n    predictions: logs\n\
             \x20   actuals: actuals.parquet\n\
             \x20   columns: {{keys: [store_id, item_id, date], features: [price, promo]}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("alert.json"),
        FIRING.replace("DemandForecastHighErrorRate", "ModelAccuracyDegraded"),
    )
    .unwrap();
}

fn warden(args: &[&str], dir: &Path) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .args(["--config", "warden.yaml", "--format", "json"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "warden {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Every step's status, and the result of each cause step (evidence results name content
/// hashes of artifacts stamped with the time they were taken, so they differ by design).
fn outcomes(detail: &serde_json::Value) -> BTreeMap<String, (String, String)> {
    detail["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| {
            let step = action["step"].as_str().unwrap().to_string();
            let status = action["status"].as_str().unwrap_or_default().to_string();
            let result = action["result"].as_str().unwrap_or_default();
            let result = if result.starts_with("confirmed")
                || result.starts_with("refuted")
                || status == "failed"
            {
                result.to_string()
            } else {
                String::new()
            };
            (step, (status, result))
        })
        .collect()
}

#[tokio::test]
async fn completing_a_step_from_the_cli_decides_the_incident_as_the_daemon_does() {
    // Through the daemon.
    let daemon_dir = tempfile::tempdir().unwrap();
    scenario(daemon_dir.path());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _daemon = Stop(start(daemon_dir.path(), port));
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;
    let posted = client
        .post(format!("{base}/api/v1/alerts/alertmanager"))
        .bearer_auth("hook-secret")
        .body(std::fs::read_to_string(daemon_dir.path().join("alert.json")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    complete(
        &client,
        &base,
        "INC-1",
        "registry-metadata",
        "succeeded",
        "read by hand: no registry connected",
    )
    .await;
    // Through the CLI alone.
    let cli_dir = tempfile::tempdir().unwrap();
    scenario(cli_dir.path());
    let opened = warden(&["alerts", "ingest", "alert.json"], cli_dir.path());
    assert_eq!(opened["opened"], serde_json::json!(["INC-1"]));
    let completed = warden(
        &[
            "incidents",
            "complete",
            "INC-1",
            "registry-metadata",
            "--outcome",
            "succeeded",
            "--note",
            "read by hand: no registry connected",
            "--as",
            "ana",
        ],
        cli_dir.path(),
    );
    let executed: Vec<&str> = completed["progress"]["executed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for step in ["validate-data", "concept-drift", "data-quality"] {
        assert!(
            executed.contains(&step),
            "{step} not run by the CLI: {executed:?}"
        );
    }
    let by_cli = outcomes(&warden(&["incidents", "show", "INC-1"], cli_dir.path()));

    let decided: Vec<&String> = by_cli
        .iter()
        .filter(|(_, (_, result))| result.contains(" by warden"))
        .map(|(step, _)| step)
        .collect();
    assert_eq!(
        decided,
        ["concept-drift", "data-quality"],
        "what Warden decides behind the CLI: {by_cli:#?}"
    );
    // The webhook answers once the alerts are recorded and the daemon's work loop advances
    // the incident beside the completion, one step after another: read its decisions until
    // they are the CLI's or the daemon has had ample time (no step running is not enough —
    // a judge runs no action, so between two judged causes nothing is "running").
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let by_daemon = loop {
        let now = outcomes(&api_get(&client, &format!("{base}/api/v1/incidents/INC-1")).await);
        let settled = now.values().all(|(status, _)| status != "running");
        if (settled && now == by_cli) || std::time::Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        by_cli, by_daemon,
        "the CLI and the daemon decided differently"
    );

    // A responder who knows better corrects what Warden refuted: recorded with the note, and
    // the timeline says what it changed from.
    let corrected = warden(
        &[
            "incidents",
            "complete",
            "INC-1",
            "data-quality",
            "--outcome",
            "confirmed",
            "--note",
            "a backfill wrote zeros",
            "--as",
            "ana",
        ],
        cli_dir.path(),
    );
    assert_eq!(
        corrected["step"]["result"], "confirmed by ana: a backfill wrote zeros",
        "{corrected:#}"
    );
    let shown = warden(&["incidents", "show", "INC-1"], cli_dir.path());
    let timeline = shown["incident"]["timeline"].to_string();
    assert!(
        timeline.contains("step data-quality changed from refuted by warden"),
        "{timeline}"
    );
    assert!(
        timeline.contains("to confirmed by ana: a backfill wrote zeros"),
        "{timeline}"
    );
}
