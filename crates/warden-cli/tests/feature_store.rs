//! Runbook 4 in the daemon, on the harness's real Feast + Redis: the scheduled check finds
//! the views stale and opens one incident, containment switches a real `warden
//! feature-proxy` to fallback (read back from the proxy), and once Feast is materialized the
//! freshness gate passes from the data and the proxy is switched back — nobody in between.
//! The diagnostics (freshness table, Redis health and INFO, schema check) are evidence, and
//! the causes are judged from them.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Stop, api_get, free_port, start, wait_ready, write_config};

async fn proxy_mode(client: &reqwest::Client, proxy: &str) -> Option<String> {
    let status: serde_json::Value = client
        .get(format!("{proxy}/warden/status"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    status["mode"].as_str().map(str::to_string)
}

async fn wait_for_mode(client: &reqwest::Client, proxy: &str, wanted: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let mode = proxy_mode(client, proxy).await;
        if mode.as_deref() == Some(wanted) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "feature proxy still in {mode:?}, expected {wanted} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_contains_a_stale_feature_store_and_undoes_it_when_fresh() {
    let Some(feast_url) = warden_testkit::stack::require("FEAST_URL") else {
        return;
    };
    let registry_url = warden_testkit::stack::require("FEAST_REGISTRY_URL").unwrap();
    let redis_url = warden_testkit::stack::require("REDIS_URL").unwrap();
    let repo = warden_testkit::stack::require("FEAST_REPO").unwrap();
    let feast_bin = warden_testkit::stack::require("FEAST_BIN").unwrap();
    let client = reqwest::Client::new();

    let proxy_port = free_port();
    let proxy_url = format!("http://127.0.0.1:{proxy_port}");
    let _proxy = Stop(
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["feature-proxy", "--feature-server", &feast_url])
            .args(["--listen", &format!("127.0.0.1:{proxy_port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_mode(&client, &proxy_url, "auto", Duration::from_secs(20)).await;

    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let config = std::fs::read_to_string(dir.path().join("warden.yaml")).unwrap();
    // A 30 s SLA: the harness's Feast was never materialized (or long ago), so it is stale.
    let config = config.replace(
        "connectors:\n",
        &format!(
            "connectors:\n  feast:\n    url: {feast_url}\n    registry_url: {registry_url}\n    \
             project: warden_demo\n    redis_url: {redis_url}\n    proxy_url: {proxy_url}\n    \
             repo: {repo}\n    sla: 30s\n    check_every: 1s\n"
        ),
    );
    std::fs::write(dir.path().join("warden.yaml"), config).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _daemon = Stop(start(dir.path(), port));
    wait_ready(&client, &base).await;

    // Containment: the incident opens and the proxy is switched to fallback by Warden.
    wait_for_mode(&client, &proxy_url, "fallback", Duration::from_secs(60)).await;
    let list = api_get(&client, &format!("{base}/api/v1/incidents")).await;
    let incidents = list["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{list:#}");
    assert_eq!(incidents[0]["runbook"], "feature-store", "{list:#}");
    let id = incidents[0]["id"].as_str().unwrap().to_string();

    // The fix: materialize. The freshness gate passes from the data and the fallback is undone.
    let end = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let output = Command::new(format!("{feast_bin}/feast"))
        .args(["materialize-incremental", &end])
        .current_dir(&repo)
        .env(
            "PATH",
            format!("{feast_bin}:{}", std::env::var("PATH").unwrap()),
        )
        .env("FEAST_USAGE", "False")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    wait_for_mode(&client, &proxy_url, "auto", Duration::from_secs(60)).await;

    let incident = api_get(&client, &format!("{base}/api/v1/incidents/{id}")).await;
    let text = incident.to_string();
    assert!(text.contains("in fallback mode (was auto"), "{incident:#}");
    assert!(text.contains("evaluated from the data"), "{incident:#}");
    assert!(text.contains("in auto mode (was fallback"), "{incident:#}");
    // Diagnostics were captured as evidence at detection time (R4.3).
    let evidence: Vec<&str> = incident["incident"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    for name in [
        "feature-freshness.json",
        "online-store-health.json",
        "schema-check.json",
    ] {
        assert!(evidence.contains(&name), "{name} missing from {evidence:?}");
    }
    assert!(text.contains("schema checks agree"), "{incident:#}");
    // The store's causes are Warden's, from that evidence: Redis answered, has room and
    // throttles nothing; the schema checks agree. The materialization causes wait for the
    // materialization status, which is a person's here (no DAG or CronJob configured).
    let step = |id: &str| common::step_result(&incident, id).1;
    for refuted in [
        "network-partition",
        "store-throttled",
        "store-capacity",
        "schema-mismatch",
    ] {
        assert!(
            step(refuted).starts_with("refuted by warden: "),
            "{refuted}: {incident:#}"
        );
    }
    assert!(step("materialization-failed").is_empty(), "{incident:#}");
}
