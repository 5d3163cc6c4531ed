//! Runbook 5 end to end on a real MLflow and a real MLServer serving
//! `models:/demand-forecast@champion` through the MLflow runtime. Version 1 of the model is
//! trained on prices in dollars; version 2 on prices in cents (a training/serving skew) and
//! predicts badly when served dollars. The test plays the serving platform: it serves two
//! weeks with version 1 and a week with version 2 as champion, logging every prediction the
//! server made and, later, the actuals. Warden's detector finds the regression in the logs,
//! opens one incident, captures the evidence, rolls the alias back to version 1 and reloads
//! the server (auto-approved by the team's runbook), judges the causes (the skew first), and —
//! while the test keeps serving and logging — checks that the server really serves version 1
//! again and that accuracy is back before the incident resolves. A responder records only
//! the steps that are a person's: the permanent fixes and the post-mortem's sign-offs.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    Stop, api_get, complete, free_port, spawn_group, start_logged, step_result, wait_http,
    wait_ready,
};
use serde_json::{Value, json};

const MODEL: &str = "demand-forecast";
const STORES: usize = 20;
const DAY_MS: i64 = 86_400_000;

/// A small deterministic generator for prices, promotions and noise.
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-12), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// One store's request for one target date.
struct Request {
    store: usize,
    date: String,
    price: f64,
    promo: f64,
    day_of_week: f64,
}

fn requests(rng: &mut Lcg, day: i64) -> Vec<Request> {
    // Target dates count from 2026-09-01 (a Tuesday).
    let date = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).unwrap() + chrono::Duration::days(day);
    let weekday = f64::from(chrono::Datelike::weekday(&date).num_days_from_monday());
    (1..=STORES)
        .map(|store| Request {
            store,
            date: date.format("%Y-%m-%d").to_string(),
            price: ((2.0 + 10.0 * rng.uniform()) * 100.0).round() / 100.0,
            promo: f64::from(rng.uniform() < 0.3),
            day_of_week: weekday,
        })
        .collect()
}

fn demand(r: &Request) -> f64 {
    80.0 - 4.0 * r.price + 12.0 * r.promo + 2.0 * r.day_of_week
}

/// What the platform under test does: MLflow, MLServer, and the log files.
struct Platform {
    client: reqwest::Client,
    mlflow: String,
    mlserver: String,
    root: std::path::PathBuf,
    parts: usize,
}

impl Platform {
    async fn set_champion(&self, version: &str) {
        let response = self
            .client
            .post(format!(
                "{}/api/2.0/mlflow/registered-models/alias",
                self.mlflow
            ))
            .json(&json!({"name": MODEL, "alias": "champion", "version": version}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        self.reload().await;
    }

    async fn reload(&self) {
        let response = self
            .client
            .post(format!(
                "{}/v2/repository/models/{MODEL}/load",
                self.mlserver
            ))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "load: {}",
            response.status()
        );
    }

    async fn champion(&self) -> String {
        let body: Value = self
            .client
            .get(format!(
                "{}/api/2.0/mlflow/registered-models/alias?name={MODEL}&alias=champion",
                self.mlflow
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["model_version"]["version"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn predict(&self, batch: &[Request]) -> Vec<f64> {
        let column = |f: &dyn Fn(&Request) -> f64| batch.iter().map(f).collect::<Vec<_>>();
        let n = batch.len();
        let body = json!({
            "parameters": {"content_type": "pd"},
            "inputs": [
                {"name": "price", "shape": [n], "datatype": "FP64", "data": column(&|r| r.price)},
                {"name": "promo", "shape": [n], "datatype": "FP64", "data": column(&|r| r.promo)},
                {"name": "day_of_week", "shape": [n], "datatype": "FP64", "data": column(&|r| r.day_of_week)},
            ]
        });
        let answer: Value = self
            .client
            .post(format!("{}/v2/models/{MODEL}/infer", self.mlserver))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let data = answer["outputs"][0]["data"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"));
        data.iter()
            .map(|v| v.as_f64().or_else(|| v[0].as_f64()).unwrap())
            .collect()
    }

    /// Serves `batch` now, logging the predictions with the champion's version at `at_ms`, and
    /// (as if they had been observed since) their actuals.
    async fn serve(&mut self, batch: &[Request], at_ms: i64, rng: &mut Lcg) -> Vec<f64> {
        let version = self.champion().await;
        let predictions = self.predict(batch).await;
        let at = chrono::DateTime::from_timestamp_millis(at_ms)
            .unwrap()
            .to_rfc3339();
        let mut log = String::from(
            "timestamp,store_id,date,model_version,price,promo,day_of_week,prediction\n",
        );
        let mut actuals = String::from("store_id,date,actual\n");
        for (r, p) in batch.iter().zip(&predictions) {
            log.push_str(&format!(
                "{at},{},{},{version},{},{},{},{p}\n",
                r.store, r.date, r.price, r.promo, r.day_of_week
            ));
            actuals.push_str(&format!(
                "{},{},{}\n",
                r.store,
                r.date,
                demand(r) + 2.0 * rng.normal()
            ));
        }
        // Written whole, then renamed, so Warden never reads half a file.
        for (dir, text) in [("logs", log), ("actuals", actuals)] {
            let temporary = self
                .root
                .join(dir)
                .join(format!(".part-{}.tmp", self.parts));
            std::fs::write(&temporary, text).unwrap();
            std::fs::rename(
                &temporary,
                self.root
                    .join(dir)
                    .join(format!("part-{:04}.csv", self.parts)),
            )
            .unwrap();
        }
        self.parts += 1;
        predictions
    }
}

/// Features as each version's training pipeline computes them for the served keys (version
/// 2's in cents): what `training_data` points Warden's parity check at.
fn training_features(root: &Path, version: &str, rows: &[Request], scale: f64) {
    let mut text = String::from("store_id,date,price,promo,day_of_week\n");
    for r in rows {
        text.push_str(&format!(
            "{},{},{},{},{}\n",
            r.store,
            r.date,
            r.price * scale,
            r.promo,
            r.day_of_week
        ));
    }
    std::fs::write(root.join(format!("training/v{version}.csv")), text).unwrap();
}

/// The built-in runbook as a team would tune it: rollback auto-approved, and a recovery
/// window a test can wait for.
fn tuned_runbook() -> String {
    let builtin = include_str!("../../warden-runbook/runbooks/model-regression.yaml");
    let tuned = builtin
        .replace(
            "      action: rollback_model\n      approval: manual",
            "      action: rollback_model\n      approval: auto",
        )
        .replace(
            "gate: { check: metrics_recovered, for: 24h }",
            "gate: { check: metrics_recovered, for: 20s }",
        );
    assert_ne!(tuned, builtin);
    tuned
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regressed_model_is_rolled_back_diagnosed_and_closed_on_real_mlflow_and_mlserver() {
    let Some(mlflow_python) = warden_testkit::stack::require("MLFLOW_PYTHON") else {
        return;
    };
    let Some(mlserver_bin) = warden_testkit::stack::require("MLSERVER_BIN") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let client = reqwest::Client::new();
    for sub in [
        "logs",
        "actuals",
        "training",
        "runbooks",
        "models/demand-forecast",
    ] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }

    // MLflow, its own for this test, with versions 1 and 2 (champion = 2).
    let mlflow_port = free_port();
    let mlflow_url = format!("http://127.0.0.1:{mlflow_port}");
    let mlflow_bin = Path::new(&mlflow_python).parent().unwrap().join("mlflow");
    let _mlflow = spawn_group(
        root,
        "mlflow.log",
        mlflow_bin.to_str().unwrap(),
        &[
            "server",
            "--backend-store-uri",
            &format!("sqlite:///{}", root.join("mlflow.db").display()),
            "--artifacts-destination",
            root.join("artifacts").to_str().unwrap(),
            "--host",
            "127.0.0.1",
            "--port",
            &mlflow_port.to_string(),
            "--workers",
            "1",
        ],
    );
    wait_http(
        &client,
        &format!("{mlflow_url}/health"),
        "MLflow",
        root,
        "mlflow.log",
    )
    .await;
    std::fs::write(
        root.join("regression_models.py"),
        include_str!("data/regression_models.py"),
    )
    .unwrap();
    let registered = Command::new(&mlflow_python)
        .args(["regression_models.py", &mlflow_url, root.to_str().unwrap()])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        registered.status.success(),
        "registering the model failed:\n{}",
        String::from_utf8_lossy(&registered.stderr)
    );

    // MLServer serving models:/demand-forecast@champion.
    let (http, grpc, metrics) = (free_port(), free_port(), free_port());
    std::fs::write(
        root.join("models/settings.json"),
        json!({"host": "127.0.0.1", "http_port": http, "grpc_port": grpc,
               "metrics_port": metrics, "parallel_workers": 0})
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        root.join("models/demand-forecast/model-settings.json"),
        json!({"name": MODEL, "implementation": "mlserver_mlflow.MLflowRuntime",
               "parameters": {"uri": "models:/demand-forecast@champion"}})
        .to_string(),
    )
    .unwrap();
    let mlserver = {
        let log = std::fs::File::create(root.join("mlserver.log")).unwrap();
        Stop(
            Command::new(format!("{mlserver_bin}/mlserver"))
                .args(["start", root.join("models").to_str().unwrap()])
                .env(
                    "PATH",
                    format!(
                        "{mlserver_bin}:{}",
                        std::env::var("PATH").unwrap_or_default()
                    ),
                )
                .env("MLFLOW_TRACKING_URI", &mlflow_url)
                .current_dir(root)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    };
    let mlserver_url = format!("http://127.0.0.1:{http}");
    wait_http(
        &client,
        &format!("{mlserver_url}/v2/models/{MODEL}/ready"),
        "MLServer",
        root,
        "mlserver.log",
    )
    .await;

    // Three weeks of serving: two with version 1, then version 2 (champion and served).
    let mut platform = Platform {
        client: client.clone(),
        mlflow: mlflow_url.clone(),
        mlserver: mlserver_url.clone(),
        root: root.to_path_buf(),
        parts: 0,
    };
    let mut rng = Lcg(7);
    let now = chrono::Utc::now().timestamp_millis();
    let start = now - 22 * DAY_MS;
    platform.set_champion("1").await;
    let mut version_1_rows = Vec::new();
    let mut version_1_logged = Vec::new();
    for day in 0..14 {
        let batch = requests(&mut rng, day);
        version_1_logged.extend(platform.serve(&batch, start + day * DAY_MS, &mut rng).await);
        version_1_rows.extend(batch);
    }
    platform.set_champion("2").await;
    let mut version_2_rows = Vec::new();
    for day in 14..21 {
        let batch = requests(&mut rng, day);
        platform.serve(&batch, start + day * DAY_MS, &mut rng).await;
        version_2_rows.extend(batch);
    }
    assert_eq!(platform.champion().await, "2");
    training_features(root, "1", &version_1_rows, 1.0);
    training_features(root, "2", &version_2_rows, 100.0);

    // Warden.
    let warden_port = free_port();
    let base = format!("http://127.0.0.1:{warden_port}");
    std::fs::write(root.join("runbooks/model-regression.yaml"), tuned_runbook()).unwrap();
    std::fs::write(root.join("responder.token"), "responder-token\n").unwrap();
    std::fs::write(
        root.join("warden.yaml"),
        format!(
            "server:\n  tokens:\n    - {{name: ana, role: responder, token: {{file: responder.token}}}}\n\
             connectors:\n  mlflow:\n    url: {mlflow_url}\n  model_server:\n    url: {mlserver_url}\n    model: {MODEL}\n\
             runbooks:\n  paths: [runbooks]\n\
             models:\n  - name: {MODEL}\n    predictions: logs\n    actuals: actuals\n\
             \x20   columns: {{keys: [store_id, date], features: [price, promo, day_of_week]}}\n\
             \x20   training_data: training/v{{version}}.csv\n    training_metric: val_wape\n\
             \x20   check_every: 2s\n    tolerance: 0.5\n"
        ),
    )
    .unwrap();
    let warden = start_logged(root, warden_port, "2s");
    wait_ready(&client, &base).await;

    // The detector opens the incident and the rollback moves the alias back to version 1.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(90);
    while platform.champion().await != "1" {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(root.join("warden.log")).unwrap_or_default();
            let incidents = api_get(&client, &format!("{base}/api/v1/incidents")).await;
            panic!("no rollback within 90 s; incidents: {incidents:#}\nwarden log:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "alias rolled back {:.1} s after Warden started",
        started.elapsed().as_secs_f64()
    );
    let incidents =
        api_get(&client, &format!("{base}/api/v1/incidents")).await["incidents"].clone();
    assert_eq!(incidents.as_array().unwrap().len(), 1, "{incidents:#}");
    let id = incidents[0]["id"].as_str().unwrap().to_string();
    assert_eq!(incidents[0]["runbook"], "model-regression");

    // MLServer serves version 1's predictions again: the same requests, the same answers.
    let replay = &version_1_rows[version_1_rows.len() - STORES..];
    let served = platform.predict(replay).await;
    for (served, logged) in served
        .iter()
        .zip(&version_1_logged[version_1_logged.len() - STORES..])
    {
        assert!(
            (served - logged).abs() < 1e-9,
            "served {served}, version 1 logged {logged}"
        );
    }

    // Keep serving (now version 1) and logging, and answer a person's steps, until closure.
    let manual = [
        ("parity-tests", "parity test added to the training CI"),
        (
            "expand-validation",
            "validation set extended to recent months",
        ),
        ("shadow-mode", "shadow deployment added to the rollout"),
        ("drift-detection", "target-relationship drift check added"),
        ("longer-canary", "canary with warden rollout gate"),
        ("root-cause", "post-mortem written"),
        (
            "retrained-model",
            "version 3 retrained on dollars, passes evaluation",
        ),
        ("rollout-playbook", "rollout playbook updated"),
    ];
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut day = 21;
    let detail = loop {
        let batch = requests(&mut rng, day);
        platform
            .serve(&batch, chrono::Utc::now().timestamp_millis(), &mut rng)
            .await;
        day += 1;
        let detail = api_get(&client, &format!("{base}/api/v1/incidents/{id}")).await;
        if detail["incident"]["state"] == "resolved" {
            break detail;
        }
        let pending = manual.iter().find(|(step, _)| {
            detail["actions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["step"] == *step && a["status"] == "pending")
        });
        if let Some((step, note)) = pending {
            complete(&client, &base, &id, step, "succeeded", note).await;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(root.join("warden.log")).unwrap_or_default();
            panic!("not resolved within 150 s: {detail:#}\nwarden log:\n{log}");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };

    for action in detail["actions"].as_array().unwrap() {
        eprintln!(
            "{} {}: {}",
            action["step"], action["status"], action["result"]
        );
    }
    let result = |step: &str| step_result(&detail, step);
    let (status, why) = result("rollback");
    assert_eq!(status, "succeeded", "{why}");
    assert!(
        why.contains("MLflow demand-forecast@champion: version 2 → 1 (read back)"),
        "{why}"
    );
    assert!(
        why.contains("model server reloaded demand-forecast"),
        "{why}"
    );
    // Causes, decided by Warden from the evidence and ranked: the skew first.
    let (_, skew) = result("training-serving-skew");
    assert!(
        skew.starts_with("confirmed by warden: score 0.90") && skew.contains("price"),
        "{skew}"
    );
    let (_, quality) = result("data-quality");
    assert!(
        quality.starts_with("confirmed by warden")
            && quality.contains("training data of version 2"),
        "{quality}"
    );
    let (_, overfit) = result("overfitting");
    assert!(
        overfit.starts_with("confirmed by warden: score 0.30") && overfit.contains("val_wape"),
        "{overfit}"
    );
    let (_, drift) = result("concept-drift");
    assert!(
        drift.starts_with("refuted by warden") && drift.contains("skew"),
        "{drift}"
    );
    // Closure from the systems: the alias and the server, then accuracy on new predictions.
    let (status, why) = result("previous-version-serving");
    assert_eq!(status, "succeeded", "{why}");
    assert!(
        why.contains("gave 20 of 20 logged predictions of version 1 back"),
        "{why}"
    );
    let (status, why) = result("metrics-recovered");
    assert_eq!(status, "succeeded", "{why}");
    assert!(
        why.starts_with("passed by warden") && why.contains("wape of version 1"),
        "{why}"
    );
    let evidence: Vec<&str> = detail["incident"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for name in [
        "prediction-sample.json",
        "compare-predictions.json",
        "evaluate-model.json",
        "validate-data.json",
        "registry-metadata.json",
    ] {
        assert!(evidence.contains(&name), "{name} missing from {evidence:?}");
    }
    // Still one incident: the detector is quiet once version 1 serves.
    let incidents = api_get(&client, &format!("{base}/api/v1/incidents")).await;
    assert_eq!(
        incidents["incidents"].as_array().unwrap().len(),
        1,
        "{incidents:#}"
    );
    drop(warden);

    // The post-mortem is drafted, causes ranked.
    let postmortem = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["incidents", "postmortem", &id, "--config", "warden.yaml"])
        .current_dir(root)
        .output()
        .unwrap();
    let markdown = String::from_utf8_lossy(&postmortem.stdout);
    assert!(
        postmortem.status.success(),
        "{}",
        String::from_utf8_lossy(&postmortem.stderr)
    );
    let skew_at = markdown
        .find("Training/serving skew")
        .unwrap_or_else(|| panic!("{markdown}"));
    let overfit_at = markdown
        .find("Overfitting")
        .unwrap_or_else(|| panic!("{markdown}"));
    assert!(skew_at < overfit_at, "causes ranked by score:\n{markdown}");
    // The ML impact, from the prediction logs joined to actuals: what the regressed version
    // served and how much worse it was, each with its source.
    let (count, served) = common::impact_figure(&markdown, "predictions by ");
    assert!(served.contains("logs joined to actuals"), "{served}");
    let count: f64 = count.parse().unwrap();
    assert!(count > 0.0, "{served}");
    let (comparison, _) = common::impact_figure(&markdown, "wape of ");
    assert!(comparison.contains("95% interval"), "{comparison}");
    drop(mlserver);
}
