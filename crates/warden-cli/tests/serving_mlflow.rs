//! Deployment correlation and the shared rollback on the harness's real MLflow (R2.2): a
//! model whose `champion` alias was just moved to a new version; an Alertmanager alert about
//! the service opens runbook 2; the deployment history (MLflow's versions) confirms the recent
//! deployment, and the auto-approved rollback moves the alias back to the previous version —
//! read back from MLflow.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Stop, api_get, free_port, start, wait_ready, write_config};
use warden_connect::MlflowClient;

const FIRING: &str = include_str!("data/alertmanager-webhook-payload.json");

#[tokio::test]
async fn a_recent_model_version_is_blamed_and_its_alias_rolled_back() {
    let Some(mlflow_url) = warden_testkit::stack::require("MLFLOW_URL") else {
        return;
    };
    let model = format!(
        "warden-serving-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let mlflow = MlflowClient::from_config(&warden_config::MlflowConfig {
        endpoint: warden_config::HttpEndpoint {
            url: url::Url::parse(&mlflow_url).unwrap(),
            timeout: Duration::from_secs(10),
        },
        token: None,
    })
    .unwrap();
    mlflow.create_registered_model(&model).await.unwrap();
    mlflow
        .create_model_version(&model, "s3://models/v1", None)
        .await
        .unwrap();
    mlflow
        .create_model_version(&model, "s3://models/v2", None)
        .await
        .unwrap();
    mlflow.set_alias(&model, "champion", "2").await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let config = std::fs::read_to_string(dir.path().join("warden.yaml")).unwrap();
    let config = config.replace(
        "connectors:\n",
        &format!("connectors:\n  mlflow:\n    url: {mlflow_url}\n"),
    );
    std::fs::write(
        dir.path().join("warden.yaml"),
        format!("{config}runbooks:\n  paths: [runbooks]\nserving:\n  - name: forecast-api\n    model: {model}\n"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("runbooks")).unwrap();
    std::fs::write(
        dir.path().join("runbooks/serving-latency.yaml"),
        include_str!("../../warden-runbook/runbooks/serving-latency.yaml").replace(
            "      action: rollback_model\n      approval: manual",
            "      action: rollback_model\n      approval: auto",
        ),
    )
    .unwrap();
    let port = free_port();
    let _warden = Stop(start(dir.path(), port));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;

    let alert = FIRING
        .replace("DemandForecastHighErrorRate", "ServingLatencyHigh")
        .replace(
            "\"service\": \"demand-forecast\"",
            "\"service\": \"forecast-api\"",
        );
    let response = client
        .post(format!("{base}/api/v1/alerts/alertmanager"))
        .bearer_auth("hook-secret")
        .body(alert)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());

    let deadline = Instant::now() + Duration::from_secs(30);
    let (history, rollback) = loop {
        let listed = api_get(&client, &format!("{base}/api/v1/incidents")).await;
        if let Some(id) = listed["incidents"][0]["id"].as_str() {
            let detail = api_get(&client, &format!("{base}/api/v1/incidents/{id}")).await;
            let result = |step: &str| {
                detail["actions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|a| a["step"] == step && a["status"] == "succeeded")
                    .and_then(|a| a["result"].as_str().map(str::to_string))
            };
            if let (Some(history), Some(rollback)) =
                (result("recent-deployment"), result("rollback"))
            {
                break (history, rollback);
            }
        }
        assert!(Instant::now() < deadline, "no rollback: {listed}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(history.starts_with("confirmed by warden"), "{history}");
    assert!(
        history.contains(&format!("model {model} version 2 (mlflow")),
        "{history}"
    );
    assert!(
        rollback.contains(&format!(
            "MLflow {model}@champion: version 2 → 1 (read back)"
        )),
        "{rollback}"
    );
    let champion = mlflow
        .get_model_version_by_alias(&model, "champion")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(champion.version, "1");
}
