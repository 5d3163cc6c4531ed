//! Runbook 2 end to end on real Prometheus, Alertmanager and MLServer, with Kubernetes and
//! KServe played by the fake API server (the InferenceService is mid-canary: revision 00002
//! took 10% of traffic four minutes ago). A test-controlled MLServer model turns slow;
//! Prometheus scrapes it and fires `ServingLatencyHigh`; Alertmanager calls Warden's
//! webhook. Warden opens one incident, captures PromQL and server evidence, judges the
//! causes (the canary is the recent deployment; the HPA is pinned at its maximum), rolls the
//! canary back and scales through the Kubernetes API (requests asserted), and once the
//! rollback takes effect (the test ends the slowness, as the traffic shift would) the closure
//! gates pass on real Prometheus data — including a real load test — and the incident
//! resolves. A responder records only what the machine cannot: the permanent fixes of the
//! confirmed causes, and the feature-store cause (no Feast in this deployment).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{
    Stop, api_get, complete, free_port, spawn, start_logged, step_result, wait_http, wait_ready,
};
use serde_json::{Value, json};
use warden_testkit::fake_kube;

fn control(dir: &Path, delay_ms: u64, error_rate: f64) {
    let path = dir.join("control.json");
    std::fs::write(
        dir.join("control.tmp"),
        json!({"delay_ms": delay_ms, "error_rate": error_rate}).to_string(),
    )
    .unwrap();
    std::fs::rename(dir.join("control.tmp"), path).unwrap();
}

/// The built-in runbook as a team would tune it: containment auto-approved, closure windows
/// short enough for a test, and a traffic baseline that fits in the test's warm-up.
fn tuned_runbook() -> String {
    let builtin = include_str!("../../warden-runbook/runbooks/serving-latency.yaml");
    builtin
        .replace(
            "      action: rollback_model\n      approval: manual",
            "      action: rollback_model\n      approval: auto",
        )
        .replace(
            "      params: { min_replicas: 5 }\n      approval: manual",
            "      params: { min_replicas: 5 }\n      approval: auto",
        )
        .replace("for: 30m }", "for: 20s }")
        .replace(
            "      evidence: traffic_rate\n      params: { window: 1h }",
            "      evidence: traffic_rate\n      params: { window: 1m }",
        )
}

async fn incidents(client: &reqwest::Client, base: &str) -> Vec<Value> {
    api_get(client, &format!("{base}/api/v1/incidents")).await["incidents"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_latency_spike_is_contained_diagnosed_and_closed_from_real_metrics() {
    let Some(mlserver_bin) = warden_testkit::stack::require("MLSERVER_BIN") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let client = reqwest::Client::new();

    // The model server, with the controlled model.
    let (http, grpc, metrics) = (free_port(), free_port(), free_port());
    let models = root.join("models");
    let model_dir = models.join("demand-forecast");
    std::fs::create_dir_all(&model_dir).unwrap();
    std::fs::write(
        model_dir.join("controlled_model.py"),
        include_str!("data/controlled_model.py"),
    )
    .unwrap();
    control(root, 20, 0.0);
    std::fs::write(
        models.join("settings.json"),
        json!({"host": "127.0.0.1", "http_port": http, "grpc_port": grpc,
               "metrics_port": metrics, "parallel_workers": 0})
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        model_dir.join("model-settings.json"),
        json!({"name": "demand-forecast", "implementation": "controlled_model.ControlledModel",
               "inputs": [{"name": "x", "datatype": "FP64", "shape": [-1, 3]}],
               "parameters": {"version": "v2", "extra": {"control": root.join("control.json")}}})
        .to_string(),
    )
    .unwrap();
    let path = format!(
        "{mlserver_bin}:{}",
        std::env::var("PATH").unwrap_or_default()
    );
    let mlserver = {
        let log = std::fs::File::create(root.join("mlserver.log")).unwrap();
        Stop(
            Command::new(format!("{mlserver_bin}/mlserver"))
                .args(["start", models.to_str().unwrap()])
                .env("PATH", &path)
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
        &format!("{mlserver_url}/v2/models/demand-forecast/ready"),
        "MLServer",
        root,
        "mlserver.log",
    )
    .await;

    // Warden's port first: Alertmanager's configuration names it.
    let warden_port = free_port();
    let base = format!("http://127.0.0.1:{warden_port}");
    let (prometheus_port, alertmanager_port) = (free_port(), free_port());
    std::fs::write(root.join("hook.secret"), "hook-secret\n").unwrap();
    std::fs::write(
        root.join("alertmanager.yml"),
        format!(
            "route:\n  receiver: warden\n  group_by: [alertname, service]\n  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 1h\n\
             receivers:\n  - name: warden\n    webhook_configs:\n      - url: {base}/api/v1/alerts/alertmanager\n        send_resolved: true\n\
             \x20       http_config:\n          authorization:\n            type: Bearer\n            credentials_file: {}\n",
            root.join("hook.secret").display()
        ),
    )
    .unwrap();
    let _alertmanager = spawn(
        root,
        "alertmanager.log",
        "prometheus-alertmanager",
        &[
            "--config.file=alertmanager.yml",
            "--storage.path=am-data",
            &format!("--web.listen-address=127.0.0.1:{alertmanager_port}"),
            "--cluster.listen-address=",
        ],
    );
    std::fs::write(
        root.join("rules.yml"),
        "groups:\n  - name: serving\n    interval: 1s\n    rules:\n      - alert: ServingLatencyHigh\n\
         \x20       expr: 1000 * histogram_quantile(0.95, sum by (le) (rate(rest_server_request_duration_seconds_bucket{path=\"/v2/models/{model_name}/infer\"}[15s]))) > 200\n\
         \x20       for: 3s\n        labels: {severity: critical, service: demand-forecast, namespace: mlops}\n\
         \x20       annotations: {summary: p95 latency over 200 ms}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [rules.yml]\n\
             alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{alertmanager_port}']\n\
             scrape_configs:\n  - job_name: mlserver\n    static_configs:\n      - targets: ['127.0.0.1:{metrics}']\n"
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
        &client,
        &format!("{prometheus_url}/-/ready"),
        "Prometheus",
        root,
        "prometheus.log",
    )
    .await;
    wait_http(
        &client,
        &format!("http://127.0.0.1:{alertmanager_port}/-/ready"),
        "Alertmanager",
        root,
        "alertmanager.log",
    )
    .await;

    // Steady traffic, loopback only, for the whole test (about 20 requests a second).
    let stop_load = Arc::new(AtomicBool::new(false));
    let load = {
        let (client, url, stop) = (
            client.clone(),
            format!("{mlserver_url}/v2/models/demand-forecast/infer"),
            stop_load.clone(),
        );
        tokio::spawn(async move {
            let body = json!({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [10.0, 20.0, 1.0]}]});
            while !stop.load(Ordering::Relaxed) {
                let (client, url, body) = (client.clone(), url.clone(), body.clone());
                tokio::spawn(async move {
                    let _ = client.post(url).json(&body).send().await;
                });
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    // Kubernetes and Warden.
    let (kube_url, cluster) = fake_kube::start().await;
    fake_kube::kubeconfig(root, &kube_url);
    std::fs::create_dir_all(root.join("runbooks")).unwrap();
    std::fs::write(root.join("runbooks/serving-latency.yaml"), tuned_runbook()).unwrap();
    std::fs::write(root.join("responder.token"), "responder-token\n").unwrap();
    std::fs::write(
        root.join("warden.yaml"),
        format!(
            "server:\n  tokens:\n    - {{name: ana, role: responder, token: {{file: responder.token}}}}\n\
             connectors:\n  prometheus:\n    url: {prometheus_url}\n  alertmanager:\n    url: http://127.0.0.1:{alertmanager_port}\n    webhook_secret: {{file: hook.secret}}\n\
             \x20 kubernetes:\n    kubeconfig: kubeconfig\n    context: test\n    namespace: mlops\n\
             \x20 model_server:\n    url: {mlserver_url}\n    model: demand-forecast\n\
             runbooks:\n  paths: [runbooks]\n\
             serving:\n  - name: demand-forecast\n    namespace: mlops\n    inference_service: demand-forecast\n    latency_p95_ms: 200\n"
        ),
    )
    .unwrap();
    let warden = start_logged(root, warden_port, "2s");
    wait_ready(&client, &base).await;

    // A baseline of normal traffic (the traffic judge compares with the minute before).
    tokio::time::sleep(Duration::from_secs(90)).await;
    assert!(
        incidents(&client, &base).await.is_empty(),
        "nothing is wrong yet"
    );

    // The spike: every prediction takes 400 ms.
    control(root, 400, 0.0);
    let spiked_at = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(90);
    let rollback = loop {
        let seen = cluster.lock().unwrap().seen.clone();
        if let Some(patch) = seen.iter().find(|s| {
            s.method == "PATCH"
                && s.path.ends_with("/inferenceservices/demand-forecast")
                && s.body["spec"]["predictor"]
                    .get("canaryTrafficPercent")
                    .is_some()
        }) {
            break patch.clone();
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(root.join("warden.log")).unwrap_or_default();
            panic!(
                "no rollback within 90 s of the spike; incidents: {:?}\nwarden log:\n{log}",
                incidents(&client, &base).await
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    eprintln!(
        "rollback {:.1} s after the spike began",
        spiked_at.elapsed().as_secs_f64()
    );
    assert_eq!(rollback.content_type, "application/merge-patch+json");
    assert_eq!(
        rollback.body,
        json!({"spec": {"predictor": {"canaryTrafficPercent": 0}}})
    );
    assert_eq!(
        rollback.path,
        "/apis/serving.kserve.io/v1beta1/namespaces/mlops/inferenceservices/demand-forecast"
    );
    assert_eq!(rollback.authorization, "Bearer warden-sa-token");
    // The rollback took effect: traffic is on the old revision, which is fast.
    control(root, 20, 0.0);

    let open = incidents(&client, &base).await;
    assert_eq!(open.len(), 1, "one incident: {open:?}");
    let id = open[0]["id"].as_str().unwrap().to_string();
    assert_eq!(open[0]["runbook"], "serving-latency");

    // Scaling went through the API too (the HPA was pinned at its maximum for 6 minutes).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let minimum =
            cluster.lock().unwrap().serving.inference_service["spec"]["predictor"]["minReplicas"]
                .clone();
        if minimum == json!(5) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no scale patch: minReplicas {minimum}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Run the incident to its end, recording only what a person must.
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut next_report = Instant::now();
    let detail = loop {
        let detail = api_get(&client, &format!("{base}/api/v1/incidents/{id}")).await;
        if detail["incident"]["state"] == "resolved" {
            break detail;
        }
        // A person's part, one step per look (each answer changes what is pending): the
        // permanent fix of a cause Warden confirmed, and the feature-store cause.
        let record = |step: &str| {
            detail["actions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["step"] == step)
                .cloned()
                .unwrap_or_default()
        };
        let fixes = [
            ("min-replicas", "cold-start"),
            ("feature-caching", "feature-store-slow"),
            ("predictor-resources", "model-load-time"),
            ("circuit-breakers", "downstream-timeout"),
            ("hpa-tuning", "over-capacity"),
        ];
        let due_fix = fixes.iter().find(|(fix, cause)| {
            record(fix)["status"] == "pending"
                && record(cause)["result"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("confirmed"))
        });
        if let Some((fix, _)) = due_fix {
            complete(
                &client,
                &base,
                &id,
                fix,
                "succeeded",
                "patch applied through review",
            )
            .await;
        } else if record("feature-store-slow")["status"] == "pending" {
            complete(
                &client,
                &base,
                &id,
                "feature-store-slow",
                "refuted",
                "no Feast in this deployment",
            )
            .await;
        }
        if Instant::now() > next_report {
            next_report = Instant::now() + Duration::from_secs(20);
            let pending: Vec<String> = detail["actions"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["status"] != "skipped")
                .map(|a| format!("{} {} {}", a["step"], a["status"], a["result"]))
                .collect();
            eprintln!("state {} pending {pending:#?}", detail["incident"]["state"]);
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(root.join("warden.log")).unwrap_or_default();
            panic!("not resolved within 240 s: {detail:#}\nwarden log:\n{log}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    stop_load.store(true, Ordering::Relaxed);
    load.abort();

    let result = |step: &str| step_result(&detail, step);
    // Causes judged by Warden from the evidence, not by the responder.
    let (status, why) = result("recent-deployment");
    assert_eq!(status, "succeeded");
    assert!(
        why.starts_with("confirmed by warden") && why.contains("demand-forecast-predictor-00002"),
        "{why}"
    );
    assert!(
        result("autoscaler-lagging")
            .1
            .starts_with("confirmed by warden"),
        "{:?}",
        result("autoscaler-lagging")
    );
    assert!(
        result("model-load-time").1.contains("OOMKilled"),
        "{:?}",
        result("model-load-time")
    );
    assert!(
        result("downstream-timeout")
            .1
            .starts_with("refuted by warden"),
        "{:?}",
        result("downstream-timeout")
    );
    let (status, why) = result("rollback");
    assert_eq!(status, "succeeded");
    assert!(why.contains("canaryTrafficPercent 10 → 0"), "{why}");
    // Every other cause was decided by Warden, not by the responder.
    for cause in [
        "recent-deployment",
        "autoscaler-lagging",
        "traffic-spike",
        "cold-start",
        "model-load-time",
        "downstream-timeout",
        "over-capacity",
    ] {
        let (_, why) = result(cause);
        assert!(why.contains("by warden"), "{cause}: {why}");
    }
    // Gates from the data.
    for gate in [
        "p95-within-sla",
        "error-rate-low",
        "autoscaler-stable",
        "load-test",
    ] {
        let (status, why) = result(gate);
        assert_eq!(status, "succeeded", "{gate}: {why}");
        assert!(
            why.starts_with("passed by warden: evaluated from the data"),
            "{gate}: {why}"
        );
    }
    assert!(
        result("load-test").1.contains("load test at"),
        "{:?}",
        result("load-test")
    );
    // Evidence: PromQL and the server side.
    let evidence: Vec<String> = detail["incident"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    for name in [
        "deployment-history.json",
        "hpa-status.json",
        "traffic-rate.json",
        "predictor-pods.json",
        "traffic-split.json",
    ] {
        assert!(
            evidence.contains(&name.to_string()),
            "{name} missing from {evidence:?}"
        );
    }
    // The post-mortem measures the ML impact from the service's own counters in Prometheus:
    // requests answered, failed and slower than the SLA while the incident was open.
    let postmortem = common::postmortem(&client, &base, &id).await;
    let (value, answered) =
        common::impact_figure(&postmortem, "requests answered while the incident was open");
    let value: f64 = value.parse().unwrap();
    assert!(value > 0.0, "{answered}");
    assert!(
        answered.contains("rest_server_request"),
        "the PromQL is the source: {answered}"
    );
    assert!(
        common::impact_figure(&postmortem, "requests failed (5xx)")
            .0
            .contains('%')
    );
    assert!(
        common::impact_figure(&postmortem, "requests slower than")
            .0
            .contains('%')
    );
    // Still exactly one incident, and the fake cluster saw logs read and the HPA checked.
    assert_eq!(incidents(&client, &base).await.len(), 1);
    let seen = cluster.lock().unwrap().seen.clone();
    assert!(
        seen.iter()
            .any(|s| s.path.ends_with("/log") && s.query.contains("tailLines=200"))
    );
    assert!(seen.iter().any(|s| {
        s.path
            .ends_with("/horizontalpodautoscalers/demand-forecast-predictor")
    }));
    drop(warden);
    drop(mlserver);
}
