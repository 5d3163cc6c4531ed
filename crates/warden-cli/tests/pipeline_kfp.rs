//! Runbook 1 end to end on Kubeflow Pipelines, which cannot run here: the daemon talks to a
//! fake KFP held to the published v2beta1 API description (every request a declared
//! operation with declared query parameters, every answer checked against the schemas) and
//! to the fake Kubernetes API server for the task pods, their logs, events and secrets.
//!
//! - An OOM-killed training task: Warden opens one incident, disables the recurring run,
//!   captures the pod's logs (the crashed instance's too), events and referenced secrets,
//!   confirms the resource limit with a memory limit sized from the pod's own (2Gi → 3Gi),
//!   refutes the rest, does not retry; after the responder's fix and rerun it re-enables the
//!   schedule, and closes on the rerun and the next scheduled run.
//! - A task lost with its node (spot shutdown): transient, so Warden reruns it with `:retry`
//!   under the step's backoff, reads the outcome on the next attempt, and closes.
//! - A run going three times longer than the recent ones: a stuck-run incident of its own,
//!   the schedule disabled, the running task's pod logs captured.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Stop, api_get, complete, free_port, start, step_result, wait_ready, write_config};
use serde_json::{Value, json};
use warden_testkit::{fake_kfp, fake_kube};

const POD_OOM: &str = "training-r3-train-5678";
const POD_SPOT: &str = "training-r9-train-1111";

fn ago(minutes: i64) -> String {
    (Utc::now() - chrono::Duration::minutes(minutes))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A KFP executor pod: `main` (the component, 2Gi limit, the artifact secret in its env)
/// beside Argo's `wait` sidecar.
fn task_pod(name: &str, main_state: Value, restarts: i32, reason: Option<(&str, &str)>) -> Value {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "kubeflow", "creationTimestamp": ago(12),
                     "labels": {"pipelines.kubeflow.org/v2_component": "true"}},
        "spec": {"serviceAccountName": "pipeline-runner", "containers": [
            {"name": "main", "image": "registry.local:5000/ml/trainer:1.4",
             "resources": {"limits": {"memory": "2Gi"}, "requests": {"memory": "1Gi"}},
             "env": [{"name": "AWS_ACCESS_KEY_ID",
                      "valueFrom": {"secretKeyRef": {"name": "mlpipeline-minio-artifact", "key": "accesskey"}}}]},
            {"name": "wait", "image": "gcr.io/ml-pipeline/argoexec:v3.4.17"}]},
        "status": {"phase": "Failed", "containerStatuses": [
            {"name": "main", "ready": false, "restartCount": restarts,
             "image": "registry.local:5000/ml/trainer:1.4",
             "imageID": "registry.local:5000/ml/trainer@sha256:9f2e4c1b7a",
             "state": main_state},
            {"name": "wait", "ready": false, "restartCount": 0,
             "image": "gcr.io/ml-pipeline/argoexec:v3.4.17", "imageID": "gcr.io/ml-pipeline/argoexec@sha256:01",
             "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
    });
    if let Some((reason, message)) = reason {
        pod["status"]["reason"] = json!(reason);
        pod["status"]["message"] = json!(message);
    }
    pod
}

fn event(pod: &str, reason: &str, message: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{pod}.{reason}"), "namespace": "kubeflow"},
        "involvedObject": {"kind": "Pod", "name": pod},
        "type": "Warning", "reason": reason, "count": 1, "message": message,
        "lastTimestamp": ago(2)
    })
}

struct Harness {
    dir: tempfile::TempDir,
    kfp: fake_kfp::Shared,
    kfp_url: String,
    base: String,
    http: reqwest::Client,
    _warden: Stop,
}

/// Fake KFP with `runs`, the fake cluster with `pods` (logs, events, one secret `age_days`
/// old), and Warden watching recurring run `rr-nightly`; `runbook` replaces the built-in.
async fn harness(
    runs: Vec<Value>,
    pods: Vec<Value>,
    logs: &[(&str, &str)],
    events: Vec<Value>,
    secret_age_days: i64,
    runbook: Option<String>,
) -> Harness {
    let (kfp_url, kfp) = fake_kfp::start().await;
    {
        let mut state = kfp.lock().unwrap();
        state.runs = runs;
        state.recurring_runs.insert("rr-nightly".into(), false);
        state.retry_outcome = Some("SUCCEEDED".into());
    }
    let (kube_url, cluster) = fake_kube::start().await;
    {
        let mut state = cluster.lock().unwrap();
        state.serving.pods.extend(pods);
        for (key, text) in logs {
            state.serving.logs.insert((*key).into(), (*text).into());
        }
        state.serving.events.extend(events);
        state.secrets.insert(
            "mlpipeline-minio-artifact".into(),
            (Utc::now() - chrono::Duration::days(secret_age_days)).to_rfc3339(),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    fake_kube::kubeconfig(dir.path(), &kube_url);
    let config = std::fs::read_to_string(dir.path().join("warden.yaml"))
        .unwrap()
        .replace(
            "connectors:\n",
            &format!(
                "connectors:\n  kfp:\n    url: {kfp_url}\n    namespace: kubeflow\n\
                 \x20 kubernetes:\n    kubeconfig: kubeconfig\n    context: test\n    namespace: kubeflow\n"
            ),
        );
    let runbooks = if let Some(text) = runbook {
        std::fs::create_dir_all(dir.path().join("runbooks")).unwrap();
        std::fs::write(dir.path().join("runbooks/pipeline-failure.yaml"), text).unwrap();
        "runbooks:\n  paths: [runbooks]\n"
    } else {
        ""
    };
    std::fs::write(
        dir.path().join("warden.yaml"),
        format!(
            "{config}{runbooks}pipelines:\n  - name: training\n    kfp: {{recurring_run_id: rr-nightly}}\n    check_every: 1s\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let warden = Stop(start(dir.path(), port));
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await;
    Harness {
        dir,
        kfp,
        kfp_url,
        base,
        http,
        _warden: warden,
    }
}

impl Harness {
    async fn incident(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let list = api_get(&self.http, &format!("{}/api/v1/incidents", self.base)).await;
            if let Some(id) = list["incidents"][0]["id"].as_str() {
                return id.to_string();
            }
            assert!(Instant::now() < deadline, "no incident");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn detail(&self, id: &str) -> Value {
        api_get(&self.http, &format!("{}/api/v1/incidents/{id}", self.base)).await
    }

    /// Waits until `done` holds for the incident, completing `manual` steps as they turn
    /// pending (`(step, outcome, note)`) — and always the storage check, which is the
    /// responder's here (no `artifact_store` is configured, so Warden declines it).
    async fn drive(
        &self,
        id: &str,
        what: &str,
        manual: &[(&str, &str, &str)],
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let detail = self.detail(id).await;
            if done(&detail) {
                return detail;
            }
            if let Some((step, outcome, note)) = manual
                .iter()
                .chain(&[("artifacts", "succeeded", "no artifact store involved")])
                .find(|(step, _, _)| step_result(&detail, step).0 == "pending")
            {
                complete(&self.http, &self.base, id, step, outcome, note).await;
            }
            assert!(Instant::now() < deadline, "{what}: {detail:#}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// A captured artifact of the incident, read from the evidence store on disk.
    fn artifact(&self, detail: &Value, name: &str) -> Value {
        let hash = detail["incident"]["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} not captured: {detail:#}"))["hash"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_string();
        let path = self
            .dir
            .path()
            .join("warden-data/evidence/sha256")
            .join(&hash[..2])
            .join(&hash);
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }

    fn disabled(&self) -> bool {
        self.kfp.lock().unwrap().recurring_runs["rr-nightly"]
    }

    /// The schedule, re-enabled, starts its next run; it succeeds.
    fn next_scheduled_run(&self, id: &str) {
        let now = Utc::now();
        self.kfp.lock().unwrap().runs.insert(
            0,
            fake_kfp::run(id, "SUCCEEDED", now, Some(now), Some("rr-nightly"), None),
        );
    }

    /// How many times anyone called `:retry`.
    fn retries(&self) -> usize {
        self.kfp
            .lock()
            .unwrap()
            .operations()
            .iter()
            .filter(|o| *o == "RunService_RetryRun")
            .count()
    }

    fn assert_every_call_declared(&self) {
        let operations = self.kfp.lock().unwrap().operations();
        for bad in ["NONE", "UNDECLARED", "NONCONFORMING"] {
            assert!(!operations.iter().any(|o| o == bad), "{operations:?}");
        }
    }
}

/// A scheduled run whose `train` task failed with `error` in `pod`, ten minutes of it.
fn failed_run(id: &str, error: &str, pod: &str) -> Value {
    let now = Utc::now();
    fake_kfp::run(
        id,
        "FAILED",
        now - chrono::Duration::minutes(12),
        Some(now - chrono::Duration::minutes(2)),
        Some("rr-nightly"),
        Some(("train", error, pod)),
    )
}

fn runs_with(failed: Value) -> Vec<Value> {
    let day = chrono::Duration::days(1);
    let now = Utc::now();
    let ok = |id: &str, back: chrono::Duration| {
        let start = now - back;
        fake_kfp::run(
            id,
            "SUCCEEDED",
            start,
            Some(start + chrono::Duration::minutes(9)),
            Some("rr-nightly"),
            None,
        )
    };
    vec![failed, ok("r-2", day), ok("r-1", day * 2)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oom_killed_kfp_task_is_contained_sized_from_the_pod_and_closed_after_the_fix() {
    let failed = failed_run("r-3", "OOMKilled (exit code 137)", POD_OOM);
    let oom = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled"}});
    let h = harness(
        runs_with(failed),
        vec![task_pod(POD_OOM, oom, 1, None)],
        &[
            (POD_OOM, "epoch 3/10\nloading shard 7 of 12 into memory\n"),
            (
                &format!("{POD_OOM}/previous"),
                "attempt 1: epoch 3/10\nattempt 1: loading shard 7 of 12 into memory\n",
            ),
        ],
        vec![event(
            POD_OOM,
            "BackOff",
            "Back-off restarting failed container main",
        )],
        400,
        None,
    )
    .await;
    let id = h.incident().await;

    // Contained and diagnosed by Warden.
    let detail = h
        .drive(&id, "causes judged", &[], |d| {
            step_result(d, "resource-limits")
                .1
                .starts_with("confirmed by warden")
                && step_result(d, "retry-transient").0 == "skipped"
                && step_result(d, "incompatible-versions").0 != "pending"
        })
        .await;
    assert!(h.disabled(), "the recurring run is disabled");
    let (_, why) = step_result(&detail, "resource-limits");
    assert!(
        why.contains("container main") && why.contains("from 2Gi to 3Gi"),
        "{why}"
    );
    for (step, prefix) in [
        ("missing-secret", "refuted by warden"),
        ("incompatible-versions", "refuted by warden"),
        ("transient", "refuted by warden: not transient"),
    ] {
        assert!(
            step_result(&detail, step).1.starts_with(prefix),
            "{step}: {detail:#}"
        );
    }
    let logs = h.artifact(&detail, "task-logs.json");
    let pod_logs = logs["tasks"][0]["pod_logs"].as_array().unwrap();
    assert!(
        pod_logs.iter().any(|l| l["previous"] == true
            && l["container"] == "main"
            && l["log"]
                .as_str()
                .unwrap()
                .contains("attempt 1: loading shard")),
        "{logs:#}"
    );
    assert!(
        pod_logs.iter().all(|l| l["container"] != "wait"),
        "{logs:#}"
    );
    assert_eq!(
        logs["tasks"][0]["events"][0]["reason"], "BackOff",
        "events captured with the logs, at detection"
    );
    let pods = h.artifact(&detail, "pod-events.json");
    assert_eq!(pods["tasks"][0]["events"][0]["reason"], "BackOff");
    assert!(
        pods["fixes"]["incompatible_version_missing_dependency"][0]
            .as_str()
            .unwrap()
            .contains("registry.local:5000/ml/trainer@sha256:9f2e4c1b7a"),
        "{pods:#}"
    );
    let secrets = h.artifact(&detail, "secrets-check.json");
    assert_eq!(secrets["secrets"][0]["name"], "mlpipeline-minio-artifact");
    assert_eq!(secrets["secrets"][0]["exists"], true);
    assert!(secrets["secrets"][0]["age_days"].as_i64().unwrap() >= 399);
    assert!(
        secrets["fixes"]["missing_expired_secret"][0]
            .as_str()
            .unwrap()
            .starts_with("rotate secret mlpipeline-minio-artifact"),
        "{secrets:#}"
    );
    let isolation = h.artifact(&detail, "run-isolation.json");
    assert_eq!(isolation["verdict"], "isolated: one failed run");
    assert_eq!(isolation["components"]["train"], 1);

    // The responder raises the limit and reruns the failed run (same inputs).
    let detail = h
        .drive(
            &id,
            "schedule re-enabled",
            &[("raise-resources", "succeeded", "memory limit 3Gi")],
            |d| step_result(d, "resume-schedule").0 == "succeeded",
        )
        .await;
    assert!(
        !h.disabled(),
        "re-enabled once the fixes are in: {detail:#}"
    );
    // The schedule's next run succeeds first: that is the next-run gate, not the rerun — the
    // incident's own run r-3 still failed.
    h.next_scheduled_run("r-4");
    let detail = h
        .drive(&id, "the next run judged", &[], |d| {
            step_result(d, "next-run").0 == "succeeded"
        })
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let detail_later = h.detail(&id).await;
    assert_eq!(
        step_result(&detail_later, "rerun").0,
        "pending",
        "a later run is not the rerun: {detail:#}"
    );
    warden_connect::KfpClient::from_config(&warden_config::KfpConfig {
        endpoint: warden_config::HttpEndpoint {
            url: h.kfp_url.parse().unwrap(),
            timeout: Duration::from_secs(5),
        },
        namespace: "kubeflow".into(),
        token: None,
    })
    .unwrap()
    .retry_run("r-3")
    .await
    .unwrap();
    let detail = h
        .drive(&id, "resolved", &[], |d| {
            d["incident"]["state"] == "resolved"
        })
        .await;
    for (step, words) in [
        ("rerun", "the incident's run r-3 succeeded"),
        ("next-run", "r-4"),
        ("update-runbook", "known failure mode"),
    ] {
        let (status, why) = step_result(&detail, step);
        assert_eq!(status, "succeeded", "{step}: {why}");
        assert!(
            why.contains("by warden") && why.contains(words),
            "{step}: {why}"
        );
    }
    assert_eq!(
        h.retries(),
        1,
        "only the responder's rerun: a resource limit is never retried"
    );
    h.assert_every_call_declared();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kfp_task_lost_with_its_node_is_retried_with_backoff_and_closed() {
    let failed = failed_run("r-9", "task 'train' failed", POD_SPOT);
    let shutdown = "Pod was terminated in response to imminent node shutdown.";
    let lost = json!({"terminated": {"exitCode": 143, "reason": "Error"}});
    // The built-in runbook with a test-sized backoff (a team edits the built-ins this way).
    let runbook = include_str!("../../warden-runbook/runbooks/pipeline-failure.yaml").replace(
        "retry: { attempts: 6, base: 30s, cap: 10m }",
        "retry: { attempts: 6, base: 1s, cap: 4s }",
    );
    assert!(runbook.contains("base: 1s"), "the retry policy moved");
    let h = harness(
        runs_with(failed),
        vec![task_pod(POD_SPOT, lost, 0, Some(("Terminated", shutdown)))],
        &[(POD_SPOT, "epoch 5/10\n")],
        vec![event(POD_SPOT, "NodeShutdown", shutdown)],
        10,
        Some(runbook),
    )
    .await;
    let id = h.incident().await;
    let detail = h
        .drive(&id, "retried", &[], |d| {
            step_result(d, "retry-transient").0 == "succeeded"
        })
        .await;
    assert!(
        step_result(&detail, "transient")
            .1
            .starts_with("confirmed by warden"),
        "{detail:#}"
    );
    let (_, why) = step_result(&detail, "retry-transient");
    assert!(why.contains("r-9 succeeded after the retry"), "{why}");
    assert!(
        step_result(&detail, "resource-limits")
            .1
            .starts_with("refuted by warden"),
        "{detail:#}"
    );
    let detail = h
        .drive(
            &id,
            "schedule re-enabled",
            &[(
                "add-retry-policy",
                "succeeded",
                "retries: 3 on the train step",
            )],
            |d| step_result(d, "resume-schedule").0 == "succeeded",
        )
        .await;
    assert!(!h.disabled(), "{detail:#}");
    h.next_scheduled_run("r-10");
    let detail = h
        .drive(&id, "resolved", &[], |d| {
            d["incident"]["state"] == "resolved"
        })
        .await;
    assert_eq!(step_result(&detail, "rerun").0, "succeeded");
    assert_eq!(h.retries(), 1, "one rerun, then its outcome read");
    let operations = h.kfp.lock().unwrap().operations();
    for op in [
        "RecurringRunService_DisableRecurringRun",
        "RecurringRunService_EnableRecurringRun",
        "RunService_GetRun",
    ] {
        assert!(operations.iter().any(|o| o == op), "{op}: {operations:?}");
    }
    h.assert_every_call_declared();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kfp_run_past_three_times_its_usual_duration_is_stuck_and_its_running_task_captured() {
    const POD_STUCK: &str = "training-r5-train-2222";
    let running = fake_kfp::run(
        "r-5",
        "RUNNING",
        Utc::now() - chrono::Duration::minutes(40),
        None,
        Some("rr-nightly"),
        Some(("train", "", POD_STUCK)),
    );
    let mut runs = vec![running];
    let day = chrono::Duration::days(1);
    for (i, id) in ["r-4", "r-3", "r-2"].iter().enumerate() {
        let start = Utc::now() - day * (i as i32 + 1);
        runs.push(fake_kfp::run(
            id,
            "SUCCEEDED",
            start,
            Some(start + chrono::Duration::minutes(9)),
            Some("rr-nightly"),
            None,
        ));
    }
    let waiting = json!({"running": {"startedAt": ago(39)}});
    let h = harness(
        runs,
        vec![task_pod(POD_STUCK, waiting, 0, None)],
        &[(POD_STUCK, "waiting for lock on s3://ml/tmp/train.lock\n")],
        Vec::new(),
        10,
        None,
    )
    .await;
    let id = h.incident().await;
    let detail = h
        .drive(&id, "logs captured", &[], |d| {
            step_result(d, "capture-logs").0 == "succeeded"
                && step_result(d, "pause-schedule").0 == "succeeded"
        })
        .await;
    assert!(
        detail["incident"]["dedup_key"]
            .as_str()
            .unwrap()
            .ends_with(":stuck"),
        "{detail:#}"
    );
    assert!(h.disabled(), "{:?}", step_result(&detail, "pause-schedule"));
    let (_, why) = step_result(&detail, "capture-logs");
    assert!(why.contains("1 running task(s) of run r-5"), "{why}");
    let logs = h.artifact(&detail, "task-logs.json");
    assert!(
        logs["tasks"][0]["pod_logs"][0]["log"]
            .as_str()
            .unwrap()
            .contains("waiting for lock"),
        "{logs:#}"
    );
    h.assert_every_call_declared();
}
