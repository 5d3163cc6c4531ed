//! The demo's training pipeline on the simulated Kubeflow Pipelines and Kubernetes: a
//! recurring run starts every night at 02:00 and takes 35 minutes — unless its schedule is
//! disabled (Warden's containment pauses it), then the night is skipped. Wednesday's run fails
//! in its `validate` task: the task pod's `AWS_*` variables come from a secret that does not
//! exist, and its log ends in botocore's `NoCredentialsError`. Runbook 1's detector, collectors
//! (run details, pod, events, the secrets check, the log), classifier and judges work on that;
//! the on-call creates the secret (a fix the runbook leaves to a person) and reruns the run at
//! 06:00, which succeeds half an hour later.

use serde_json::{Value, json};
use warden_core::Timestamp;
use warden_sim::kfp;
use warden_sim::kube::Shared as Cluster;

/// The recurring run Warden watches and pauses.
pub const RECURRING: &str = "rr-demand-forecast-training";
/// Where its pods run.
pub const NAMESPACE: &str = "kubeflow";
/// The secret the failing task reads its credentials from (missing all week).
const SECRET: &str = "demand-forecast-aws";
/// The failing night (Wednesday).
const FAILING_DAY: i64 = 2;
/// How long a run takes.
const RUN_MINUTES: i64 = 35;

/// The pipeline, as the scenario drives it.
pub struct Training {
    kfp: kfp::Shared,
    cluster: Cluster,
    start: Timestamp,
}

fn lock<T>(shared: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Training {
    /// The pipeline of the week starting `start`, its schedule enabled.
    pub fn new(kfp: kfp::Shared, cluster: Cluster, start: Timestamp) -> Self {
        lock(&kfp).recurring_runs.insert(RECURRING.into(), false);
        Self {
            kfp,
            cluster,
            start,
        }
    }

    fn day_start(&self, day: i64) -> Timestamp {
        self.start + chrono::Duration::days(day) + chrono::Duration::hours(2)
    }

    /// Advances the pipeline to `now`: starts, ends and reruns.
    pub fn advance(&self, now: Timestamp) {
        let day = (now - self.start).num_days();
        let started = self.day_start(day);
        let id = format!("run-{}", started.format("%Y-%m-%d"));
        let pod = format!(
            "demand-forecast-training-{}-validate-5f7c",
            started.format("%m%d")
        );
        let failing = day == FAILING_DAY;
        if now == started {
            let mut kfp = lock(&self.kfp);
            if kfp.recurring_runs.get(RECURRING) == Some(&true) {
                return; // Paused: the schedule starts nothing tonight.
            }
            let run = kfp::run(
                &id,
                "RUNNING",
                now,
                None,
                Some(RECURRING),
                Some(("validate", "", &pod)),
            );
            kfp.runs.insert(0, run);
            drop(kfp);
            if failing {
                let mut cluster = lock(&self.cluster);
                cluster.serving.pods.push(task_pod(&pod, now));
                cluster.serving.logs.insert(pod.clone(), task_log(now));
            }
        }
        let ended = started + chrono::Duration::minutes(RUN_MINUTES);
        if now == ended {
            let (state, error) = if failing {
                (
                    "FAILED",
                    "botocore.exceptions.NoCredentialsError: Unable to locate credentials",
                )
            } else {
                ("SUCCEEDED", "")
            };
            self.finish(&id, state, started, ended, ("validate", error, &pod));
        }
        // The on-call's rerun once the secret exists, and its success.
        let rerun = self.day_start(FAILING_DAY) + chrono::Duration::hours(4);
        let failed = format!("run-{}", self.day_start(FAILING_DAY).format("%Y-%m-%d"));
        let failed_pod = format!(
            "demand-forecast-training-{}-validate-5f7c",
            self.day_start(FAILING_DAY).format("%m%d")
        );
        if now == rerun {
            self.finish(
                &failed,
                "RUNNING",
                self.day_start(FAILING_DAY),
                None,
                ("validate", "", &failed_pod),
            );
        }
        if now == rerun + chrono::Duration::minutes(30) {
            self.finish(
                &failed,
                "SUCCEEDED",
                self.day_start(FAILING_DAY),
                Some(now),
                ("validate", "", &failed_pod),
            );
        }
    }

    /// Replaces run `id` (if the schedule started it) with its new state.
    fn finish(
        &self,
        id: &str,
        state: &str,
        started: Timestamp,
        ended: impl Into<Option<Timestamp>>,
        task: (&str, &str, &str),
    ) {
        let mut kfp = lock(&self.kfp);
        if let Some(run) = kfp.runs.iter_mut().find(|r| r["run_id"] == id) {
            *run = kfp::run(
                id,
                state,
                started,
                ended.into(),
                Some(RECURRING),
                Some(task),
            );
        }
    }
}

/// The failing task's pod: the component's `main` container, its AWS credentials from a
/// secret that does not exist, exited with an error.
fn task_pod(name: &str, started: Timestamp) -> Value {
    let at = started.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let key = |key: &str| json!({"secretKeyRef": {"name": SECRET, "key": key, "optional": true}});
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "creationTimestamp": at,
                     "labels": {"pipelines.kubeflow.org/v2_component": "true"}},
        "spec": {"serviceAccountName": "pipeline-runner", "containers": [
            {"name": "main", "image": "registry.local:5000/ml/demand-validate:2.3",
             "resources": {"limits": {"memory": "2Gi"}, "requests": {"memory": "1Gi"}},
             "env": [{"name": "AWS_ACCESS_KEY_ID", "valueFrom": key("access-key-id")},
                     {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": key("secret-access-key")}]},
            {"name": "wait", "image": "gcr.io/ml-pipeline/argoexec:v3.4.17"}]},
        "status": {"phase": "Failed", "containerStatuses": [
            {"name": "main", "ready": false, "restartCount": 0,
             "image": "registry.local:5000/ml/demand-validate:2.3",
             "imageID": "registry.local:5000/ml/demand-validate@sha256:4be1c07d",
             "state": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": at}}},
            {"name": "wait", "ready": false, "restartCount": 0,
             "image": "gcr.io/ml-pipeline/argoexec:v3.4.17", "imageID": "gcr.io/ml-pipeline/argoexec@sha256:01",
             "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
    })
}

/// The failing task's log, as the component printed it.
fn task_log(started: Timestamp) -> String {
    let at = |minutes: i64| {
        (started + chrono::Duration::minutes(minutes))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    format!(
        "{} INFO validate: reading s3://mlflow-artifacts/demand-forecast/features/\n\
         {} INFO botocore.credentials: no credentials in the environment, the shared file or instance metadata\n\
         Traceback (most recent call last):\n  File \"/app/validate.py\", line 12, in main\n    \
         s3.list_objects_v2(Bucket=\"mlflow-artifacts\")\n\
         botocore.exceptions.NoCredentialsError: Unable to locate credentials\n",
        at(1),
        at(34)
    )
}
