//! Runbook 3's review queue in front of retraining, end to end on real Airflow: a monitor that
//! Warden runs itself (`retraining: {airflow_dag, review: true}`) drifts; `warden up` opens
//! one review and starts nothing; the review is listed by the API and by `warden reviews`;
//! a yes through the API starts exactly one run of the retraining DAG, named after the
//! review; a second yes starts nothing more, a no after the yes is refused (409), an unknown
//! review is 404, and deciding needs a responder's token.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::drift::RETRAIN_DAG;
use common::{airflow, api_get, free_port, start_logged, wait_for, wait_ready};
use warden_data::write::write_parquet;
use warden_drift::synthetic::{Scenario, days, generate};

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    reason: &str,
) -> (u16, serde_json::Value) {
    let mut request = http
        .post(url)
        .json(&serde_json::json!({ "reason": reason }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drift_alert_starts_retraining_only_after_a_yes() {
    let (Some(dags), Some(airflow_url), Some(user), Some(password)) = (
        warden_testkit::stack::require("AIRFLOW_DAGS"),
        warden_testkit::stack::require("AIRFLOW_URL"),
        warden_testkit::stack::require("AIRFLOW_USER"),
        warden_testkit::stack::require("AIRFLOW_PASSWORD"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let nonce = chrono::Utc::now().timestamp_millis();

    // Logs of the last two days carry the three injected drifts.
    let now = nonce;
    write_parquet(
        &root.join("reference.parquet"),
        &generate(8_000, 1, now - days(16), days(14), Scenario::default()),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("logs")).unwrap();
    let drifted = Scenario {
        drift: true,
        ..Scenario::default()
    };
    write_parquet(
        &root.join("logs/part-0.parquet"),
        &generate(4_000, 2, now - days(2), days(2), drifted),
    )
    .unwrap();

    let dag_id = format!("warden_review_{nonce}");
    let dag_file = std::path::Path::new(&dags).join(format!("{dag_id}.py"));
    std::fs::write(&dag_file, RETRAIN_DAG.replace("DAG_ID", &dag_id)).unwrap();
    let airflow_client = airflow().await;
    wait_for(
        "the DAG to be parsed",
        Duration::from_secs(90),
        async || airflow_client.dag(&dag_id).await.is_ok(),
    )
    .await;

    std::fs::write(root.join("responder.token"), "responder-token\n").unwrap();
    std::fs::write(root.join("viewer.token"), "viewer-token\n").unwrap();
    std::fs::write(root.join("airflow.password"), &password).unwrap();
    // min_alerts out of reach: this test is about the review, not the noise incident.
    std::fs::write(
        root.join("warden.yaml"),
        format!(
            "server:\n  tokens:\n    - {{name: ana, role: responder, token: {{file: responder.token}}}}\n    - {{name: vic, role: viewer, token: {{file: viewer.token}}}}\n\
             connectors:\n  airflow:\n    url: {airflow_url}\n    timeout: 30s\n    username: {user}\n    password: {{file: airflow.password}}\n\
             drift_monitors:\n  - name: demand\n    predictions: logs/\n    reference: reference.parquet\n    check_every: 1s\n\
             \x20   alerts: {{window: 1h, history: 1d, min_alerts: 1000000}}\n\
             \x20   retraining: {{airflow_dag: {dag_id}, review: true}}\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _warden = start_logged(root, port, "1s");
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await;

    let mut reviews = serde_json::Value::Null;
    wait_for("a review to open", Duration::from_secs(60), async || {
        reviews = api_get(&http, &format!("{base}/api/v1/reviews?state=pending")).await;
        reviews["reviews"].as_array().is_some_and(|r| !r.is_empty())
    })
    .await;
    let review = &reviews["reviews"][0];
    let id = review["id"].as_str().unwrap().to_string();
    assert_eq!(id, "demand-r1");
    assert_eq!(review["runbook"], "drift-detector");
    assert!(
        review["summary"]
            .as_str()
            .unwrap()
            .contains("start retraining?"),
        "{review}"
    );
    // A few more beats: still one review, counting the alerts; nothing started.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = api_get(&http, &format!("{base}/api/v1/reviews")).await;
    assert_eq!(all["reviews"].as_array().unwrap().len(), 1, "{all}");
    assert!(all["reviews"][0]["detail"]["alerts"].as_u64().unwrap() >= 2);
    assert!(
        airflow_client
            .recent_runs(&dag_id, 10)
            .await
            .unwrap()
            .is_empty(),
        "no retraining before a yes"
    );

    // The CLI sees the same queue.
    let listed = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args([
            "reviews",
            "list",
            "--pending",
            "--config",
            "warden.yaml",
            "--format",
            "json",
        ])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["reviews"][0]["id"], "demand-r1");

    let approve = format!("{base}/api/v1/reviews/{id}/approve");
    assert_eq!(post(&http, &approve, None, "").await.0, 401);
    assert_eq!(post(&http, &approve, Some("viewer-token"), "").await.0, 403);
    let (status, body) = post(&http, &approve, Some("responder-token"), "prices moved").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["review"]["state"], "approved");
    assert_eq!(body["review"]["decided_by"], "ana");
    let run_id = format!("warden-demand-{id}");
    assert!(
        body["review"]["outcome"]
            .as_str()
            .unwrap()
            .contains(&format!("run {run_id} started")),
        "{body}"
    );
    let (status, again) = post(&http, &approve, Some("responder-token"), "").await;
    assert_eq!(
        (status, &again["review"]["decided_by"]),
        (200, &body["review"]["decided_by"])
    );
    let (status, conflict) = post(
        &http,
        &format!("{base}/api/v1/reviews/{id}/reject"),
        Some("responder-token"),
        "noise",
    )
    .await;
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(conflict["error"]["code"], "conflict");
    let (status, _) = post(
        &http,
        &format!("{base}/api/v1/reviews/demand-r9/approve"),
        Some("responder-token"),
        "",
    )
    .await;
    assert_eq!(status, 404);
    let runs = airflow_client.recent_runs(&dag_id, 10).await.unwrap();
    assert_eq!(
        runs.iter()
            .map(|r| r.dag_run_id.as_str())
            .collect::<Vec<_>>(),
        [run_id.as_str()],
        "one retraining run, named after the review"
    );
    let bad = http
        .get(format!("{base}/api/v1/reviews?state=maybe"))
        .bearer_auth("responder-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let log = std::fs::read_to_string(root.join("warden.log")).unwrap();
    assert!(
        log.contains("review demand-r1 waits for a yes"),
        "the daemon says a review waits: {log}"
    );
    let _ = std::fs::remove_file(dag_file);
}
