//! Runbook 1's evidence collectors (R1.2–R1.6, R1.8), for Airflow and KFP pipelines alike:
//! - `task_logs`: every failed task of the failed run (every running task of a stuck run) —
//!   the orchestrator's log (Airflow) or error message (KFP) and, for KFP, each task pod's
//!   container logs including the previous (crashed) instance and its events — captured at
//!   detection, before garbage collection;
//! - `pod_events` (KFP with `connectors.kubernetes`): each failed task pod's status (OOM kills,
//!   evictions, image pulls), its events, and fixes read off it (memory, image digest);
//! - `secrets_check` (KFP with `connectors.kubernetes`): every secret the pods reference,
//!   whether it exists and how old it is — metadata only;
//! - `pipeline_run_details`, `run_isolation` (one run, recurring, systemic — and whether one
//!   component fails across runs), `failure_classification` (logs and events through the
//!   classifier with the pipeline's rules), `artifact_storage_probe` (the configured bucket
//!   listed with the configured credentials).
//!
//! A collector that cannot apply to a pipeline (pods of an Airflow DAG) leaves its step to a
//! responder rather than claiming a check it did not make.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use warden_config::{PipelineConfig, PipelineSource};
use warden_core::Incident;
use warden_detect::classify::classify;
use warden_engine::executor::{
    ActionError, ActionRequest, BoxFuture, Collected, CollectorRegistry, EvidenceCollector,
};
use warden_kube::KubeClient;
use warden_kube::pipelines::TaskPod;
use warden_kube::serving::EventSummary;

use super::source::{PipelineRun, RunState, RunTask, Source};
use super::{Pipelines, fixes, incident_run, is_stuck_incident, newest_finished};
use crate::common::artifacts::artifact;
use crate::common::kube::{kube_client, kube_error};

/// Log lines kept per task or container (the end of the log, where failures are).
const LOG_LINES: usize = 400;

/// A secret older than this many days is worth rotating when credentials fail.
const OLD_SECRET_DAYS: i64 = 90;

/// Argo's sidecar: its log says nothing about the task.
const ARGO_WAIT_CONTAINER: &str = "wait";

pub(crate) fn failed(message: String) -> ActionError {
    ActionError {
        message,
        retryable: false,
    }
}

/// One container log of a task pod.
#[derive(serde::Serialize)]
struct PodLog {
    pod: String,
    container: String,
    previous: bool,
    log: String,
}

/// What was captured of one failed task.
#[derive(serde::Serialize)]
struct TaskCapture {
    task: RunTask,
    /// The orchestrator's own log (Airflow).
    log: Option<String>,
    pod_logs: Vec<PodLog>,
    pods: Vec<TaskPod>,
    events: Vec<EventSummary>,
    /// What could not be read, and why (a pod already gone, no Kubernetes connector).
    unread: Vec<String>,
}

impl TaskCapture {
    /// Everything the task logged, for the classifier.
    fn log_text(&self) -> String {
        let mut text: Vec<&str> = Vec::new();
        text.extend(self.task.error.as_deref());
        text.extend(self.log.as_deref());
        text.extend(self.pod_logs.iter().map(|l| l.log.as_str()));
        text.join("\n")
    }

    /// What Kubernetes said about the pods, for the classifier's events input.
    fn events_text(&self) -> String {
        let mut lines = Vec::new();
        for pod in &self.pods {
            if let Some(reason) = &pod.reason {
                lines.push(format!(
                    "{}: {reason}: {}",
                    pod.name,
                    pod.message.as_deref().unwrap_or("")
                ));
            }
            for c in &pod.containers {
                if let Some(reason) = &c.terminated_reason {
                    lines.push(format!(
                        "container {} terminated: Reason: {reason} (exit code {})",
                        c.name,
                        c.exit_code.unwrap_or_default()
                    ));
                }
                if let Some(reason) = &c.waiting_reason {
                    lines.push(format!(
                        "container {} waiting: {reason}: {}",
                        c.name,
                        c.waiting_message.as_deref().unwrap_or("")
                    ));
                }
            }
        }
        lines.extend(
            self.events
                .iter()
                .map(|e| format!("{} {} {}: {}", e.kind, e.reason, e.object, e.message)),
        );
        lines.join("\n")
    }
}

/// The failed run and what was captured of its failed tasks.
struct Captured {
    source: String,
    run: PipelineRun,
    tasks: Vec<TaskCapture>,
    /// The Kubernetes client the pods were read with (KFP with `connectors.kubernetes`).
    kube: Option<KubeClient>,
}

/// What to read about the failed tasks' pods besides their status (always read).
#[derive(Clone, Copy)]
struct Want {
    logs: bool,
    events: bool,
}

/// Logs and events: what the first capture keeps, and what the classifier reads.
const LOGS_AND_EVENTS: Want = Want {
    logs: true,
    events: true,
};
/// Events, for the pod-events step.
const EVENTS: Want = Want {
    logs: false,
    events: true,
};
/// The pods' status and spec only (the secrets they reference).
const STATUS: Want = Want {
    logs: false,
    events: false,
};

async fn read_pods(
    kube: &KubeClient,
    namespace: Option<&str>,
    capture: &mut TaskCapture,
    want: Want,
    tail: usize,
) {
    for pod_name in capture.task.pods.clone() {
        let pod = match kube.task_pod(namespace, &pod_name).await {
            Ok(pod) => pod,
            Err(err) => {
                capture
                    .unread
                    .push(format!("pod {pod_name}: {err} (garbage-collected?)"));
                continue;
            }
        };
        if want.logs {
            for container in pod
                .containers
                .iter()
                .filter(|c| c.name != ARGO_WAIT_CONTAINER)
            {
                let ended = container.restarts > 0;
                for previous in [false, true] {
                    if previous && !ended {
                        continue;
                    }
                    match kube
                        .pod_logs(
                            namespace,
                            &pod_name,
                            Some(&container.name),
                            tail as i64,
                            previous,
                        )
                        .await
                    {
                        Ok(log) => capture.pod_logs.push(PodLog {
                            pod: pod_name.clone(),
                            container: container.name.clone(),
                            previous,
                            log,
                        }),
                        Err(err) => capture.unread.push(format!(
                            "log of {pod_name}/{}{}: {err}",
                            container.name,
                            if previous { " (previous)" } else { "" }
                        )),
                    }
                }
            }
        }
        if want.events {
            match kube.events_for(namespace, &pod_name).await {
                Ok(events) => capture.events.extend(events),
                Err(err) => capture.unread.push(format!("events of {pod_name}: {err}")),
            }
        }
        capture.pods.push(pod);
    }
}

/// Captures the incident's run — the failed one, or for a stuck-run incident the run still
/// going — and its failed (or running) tasks.
async fn capture(
    pipelines: &Pipelines,
    source: &Source,
    incident: &Incident,
    want: Want,
    tail: usize,
) -> Result<Captured, ActionError> {
    let described = source.describe();
    let stuck = is_stuck_incident(incident);
    let runs = source.recent_runs(10).await?;
    let run = incident_run(&runs, stuck).cloned().ok_or_else(|| {
        failed(format!(
            "{described}: no {} run among the recent ones",
            if stuck { "running" } else { "failed" }
        ))
    })?;
    let state = if stuck {
        RunState::Running
    } else {
        RunState::Failed
    };
    let kube = match (&pipelines.kubernetes, matches!(source, Source::Kfp { .. })) {
        (Some(kubernetes), true) => Some(kube_client(kubernetes).await?),
        _ => None,
    };
    let mut tasks = Vec::new();
    for task in source.tasks(&run.id, state).await? {
        let log = source.task_log(&run.id, &task).await?.map(|text| {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(tail)..].join("\n")
        });
        let mut capture = TaskCapture {
            task,
            log,
            pod_logs: Vec::new(),
            pods: Vec::new(),
            events: Vec::new(),
            unread: Vec::new(),
        };
        match &kube {
            Some(kube) => {
                read_pods(kube, pipelines.pod_namespace(), &mut capture, want, tail).await;
            }
            None if !capture.task.pods.is_empty() => capture.unread.push(
                "connectors.kubernetes is not configured: the task pods were not read".into(),
            ),
            None => {}
        }
        tasks.push(capture);
    }
    Ok(Captured {
        source: described,
        run,
        tasks,
        kube,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    TaskLogs,
    PodEvents,
    Secrets,
    RunDetails,
    Isolation,
    Classification,
    ArtifactProbe,
}

struct Collector {
    pipelines: Arc<Pipelines>,
    kind: Kind,
}

/// S3 settings from `connectors.object_store` (secrets resolved).
fn s3_settings(
    store: &warden_config::model::ObjectStoreConfig,
) -> Result<warden_data::S3Settings, ActionError> {
    let secret = |field: &str, value: &Option<warden_config::SecretRef>| {
        value
            .as_ref()
            .map(|s| s.resolve().map(|v| v.expose().to_string()))
            .transpose()
            .map_err(|err| failed(format!("connectors.object_store.{field}: {err}")))
    };
    Ok(warden_data::S3Settings {
        endpoint: store
            .endpoint
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_string()),
        region: Some(store.region.clone()),
        access_key_id: secret("access_key_id", &store.access_key_id)?,
        secret_access_key: secret("secret_access_key", &store.secret_access_key)?,
    })
}

impl Collector {
    /// Lists the pipeline's artifact store with the configured credentials.
    async fn artifact_probe(&self, pipeline: &PipelineConfig) -> Result<Collected, ActionError> {
        let url = pipeline.artifact_store.clone().ok_or_else(|| {
            failed(format!(
                "pipelines {}: no artifact_store configured",
                pipeline.name
            ))
        })?;
        let settings = match &self.pipelines.object_store {
            Some(store) => s3_settings(store)?,
            None => warden_data::S3Settings::from_env(),
        };
        let target = url.clone();
        let listed = tokio::task::spawn_blocking(move || {
            warden_data::probe_s3(&target, &settings, std::time::Duration::from_secs(10), 100)
        })
        .await
        .map_err(|e| failed(format!("probe worker failed: {e}")))?;
        let (ok, said) = match &listed {
            Ok(found) => (true, format!("{url}: reachable, {found} object(s) listed")),
            Err(err) => (false, err.to_string()),
        };
        Ok(artifact(
            "artifact_storage_probe",
            said.clone(),
            url.clone(),
            json!({"url": url, "ok": ok, "detail": said}),
        ))
    }

    async fn collect(&self, request: &ActionRequest) -> Result<Collected, ActionError> {
        let pipeline = self.pipelines.pipeline(&request.incident.target)?.clone();
        if self.kind == Kind::ArtifactProbe {
            return self.artifact_probe(&pipeline).await;
        }
        let source = self.pipelines.source(&pipeline).await?;
        let described = source.describe();
        let tail = request
            .params
            .get("tail_lines")
            .and_then(Value::as_u64)
            .map_or(LOG_LINES, |n| n as usize);
        match self.kind {
            Kind::TaskLogs => {
                let got = capture(
                    &self.pipelines,
                    &source,
                    &request.incident,
                    LOGS_AND_EVENTS,
                    tail,
                )
                .await?;
                // Events go with the logs: both are gone once the pods are collected.
                let pod_logs: usize = got.tasks.iter().map(|t| t.pod_logs.len()).sum();
                let events: usize = got.tasks.iter().map(|t| t.events.len()).sum();
                Ok(artifact(
                    "task_logs",
                    format!(
                        "{} {} task(s) of run {}: {} orchestrator log(s), {pod_logs} pod log(s), {events} pod event(s)",
                        got.tasks.len(),
                        if got.run.state == RunState::Running {
                            "running"
                        } else {
                            "failed"
                        },
                        got.run.id,
                        got.tasks.iter().filter(|t| t.log.is_some()).count()
                    ),
                    got.source,
                    json!({"run": got.run, "tasks": got.tasks}),
                ))
            }
            Kind::PodEvents => {
                let got =
                    capture(&self.pipelines, &source, &request.incident, EVENTS, tail).await?;
                let pods: Vec<&TaskPod> = got.tasks.iter().flat_map(|t| &t.pods).collect();
                let warnings = got
                    .tasks
                    .iter()
                    .flat_map(|t| &t.events)
                    .filter(|e| e.kind == "Warning")
                    .count();
                let resource: Vec<String> =
                    pods.iter().flat_map(|p| fixes::resource_fixes(p)).collect();
                let images: Vec<String> = pods.iter().flat_map(|p| fixes::image_fixes(p)).collect();
                let terminated: Vec<String> = pods
                    .iter()
                    .flat_map(|p| {
                        p.containers.iter().filter_map(|c| {
                            Some(format!(
                                "{}/{}: {}",
                                p.name,
                                c.name,
                                c.terminated_reason.as_ref()?
                            ))
                        })
                    })
                    .collect();
                Ok(artifact(
                    "pod_events",
                    format!(
                        "{} pod(s), {warnings} warning event(s){}",
                        pods.len(),
                        if terminated.is_empty() {
                            String::new()
                        } else {
                            format!("; terminated: {}", terminated.join(", "))
                        }
                    ),
                    got.source,
                    json!({"run": got.run.id, "tasks": got.tasks, "fixes": {
                        "resource_limit": resource,
                        "incompatible_version_missing_dependency": images}}),
                ))
            }
            Kind::Secrets => self.secrets(&source, request, tail).await,
            Kind::Classification => {
                let got = capture(
                    &self.pipelines,
                    &source,
                    &request.incident,
                    LOGS_AND_EVENTS,
                    tail,
                )
                .await?;
                let rules = self
                    .pipelines
                    .rules
                    .get(&pipeline.name)
                    .ok_or_else(|| failed(format!("no rules for {}", pipeline.name)))?;
                let logs: Vec<String> = got.tasks.iter().map(TaskCapture::log_text).collect();
                let events: Vec<String> = got.tasks.iter().map(TaskCapture::events_text).collect();
                let c = classify(rules, &logs.join("\n"), &events.join("\n"));
                Ok(classification_artifact(&c, got.source, Some(&got.run.id)))
            }
            Kind::RunDetails => {
                let runs = source.recent_runs(10).await?;
                let run = incident_run(&runs, is_stuck_incident(&request.incident))
                    .or_else(|| newest_finished(&runs))
                    .cloned()
                    .ok_or_else(|| failed(format!("{described}: no finished run")))?;
                let details = source.run_details(&run.id).await?;
                let tasks = details["tasks"].as_array().map_or(0, Vec::len);
                Ok(artifact(
                    "pipeline_run_details",
                    format!("run {} {:?} with {tasks} task(s)", run.id, run.state).to_lowercase(),
                    described,
                    json!({"run": run, "details": details}),
                ))
            }
            Kind::Isolation => isolation(&source).await,
            Kind::ArtifactProbe => unreachable!("answered above"),
        }
    }

    async fn secrets(
        &self,
        source: &Source,
        request: &ActionRequest,
        tail: usize,
    ) -> Result<Collected, ActionError> {
        let got = capture(&self.pipelines, source, &request.incident, STATUS, tail).await?;
        let kube = got
            .kube
            .as_ref()
            .ok_or_else(|| failed("connectors.kubernetes is not configured".into()))?;
        let namespace = self.pipelines.pod_namespace();
        let uses: Vec<_> = got
            .tasks
            .iter()
            .flat_map(|t| &t.pods)
            .flat_map(|p| p.secrets.clone())
            .collect();
        if uses.is_empty() && got.tasks.iter().all(|t| t.pods.is_empty()) {
            let unread: Vec<&String> = got.tasks.iter().flat_map(|t| &t.unread).collect();
            return Err(failed(format!(
                "{}: no task pod of run {} could be read: {unread:?}",
                got.source, got.run.id
            )));
        }
        let mut names: Vec<&str> = uses.iter().map(|u| u.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let mut states = Vec::new();
        for name in names {
            states.push(
                kube.secret_state(namespace, name)
                    .await
                    .map_err(kube_error)?,
            );
        }
        let now = request.now;
        let namespace_name = namespace.unwrap_or_default();
        let fixes = fixes::secret_fixes(namespace_name, &uses, &states, now, OLD_SECRET_DAYS);
        let missing: Vec<&str> = states
            .iter()
            .filter(|s| !s.exists)
            .filter(|s| uses.iter().any(|u| u.name == s.name && !u.optional))
            .map(|s| s.name.as_str())
            .collect();
        let listed: Vec<Value> = states
            .iter()
            .map(|s| {
                let age_days = fixes::age_days(s, now);
                let used_as: Vec<&str> = uses
                    .iter()
                    .filter(|u| u.name == s.name)
                    .map(|u| u.used_as.as_str())
                    .collect();
                json!({"name": s.name, "exists": s.exists, "created": s.created, "age_days": age_days, "used_as": used_as})
            })
            .collect();
        Ok(artifact(
            "secrets_check",
            if missing.is_empty() {
                format!("{} referenced secret(s), all present", states.len())
            } else {
                format!(
                    "{} referenced secret(s); missing: {}",
                    states.len(),
                    missing.join(", ")
                )
            },
            got.source,
            json!({"run": got.run.id, "namespace": namespace, "secrets": listed, "missing": missing,
                   "fixes": {"missing_expired_secret": fixes}}),
        ))
    }
}

/// How isolated the failure is: one run, several, every one — and which components failed
/// in how many of the recent failed runs.
async fn isolation(source: &Source) -> Result<Collected, ActionError> {
    let runs = source.recent_runs(20).await?;
    let finished: Vec<&PipelineRun> = runs.iter().filter(|r| r.finished()).collect();
    let failed_runs: Vec<&PipelineRun> = finished
        .iter()
        .copied()
        .filter(|r| r.state == RunState::Failed)
        .collect();
    let verdict = match (failed_runs.len(), finished.len()) {
        (0, _) => "no failed run",
        (1, _) => "isolated: one failed run",
        (f, n) if f == n => "systemic: every recent run failed",
        _ => "recurring: several recent runs failed",
    };
    let mut components: BTreeMap<String, usize> = BTreeMap::new();
    let looked: Vec<&&PipelineRun> = failed_runs.iter().take(5).collect();
    for run in &looked {
        for task in source.failed_tasks(&run.id).await? {
            *components.entry(task.name).or_default() += 1;
        }
    }
    let same_component = components
        .iter()
        .filter(|(_, count)| **count == looked.len() && looked.len() > 1)
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>();
    let summary = format!(
        "{verdict} ({} of {} recent finished runs){}",
        failed_runs.len(),
        finished.len(),
        if same_component.is_empty() {
            String::new()
        } else {
            format!(
                "; component {} failed in each of the last {} failed runs",
                same_component.join(", "),
                looked.len()
            )
        }
    );
    Ok(artifact(
        "run_isolation",
        summary,
        source.describe(),
        json!({"failed": failed_runs.len(), "finished": finished.len(), "verdict": verdict,
               "components": components, "failed_runs_examined": looked.len(),
               "same_component": same_component, "runs": finished}),
    ))
}

impl EvidenceCollector for Collector {
    fn collect<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<Collected, ActionError>> {
        Box::pin(self.collect(request))
    }

    fn applies(&self, incident: &Incident) -> bool {
        let Ok(pipeline) = self.pipelines.pipeline(&incident.target) else {
            return true; // collect() names the missing pipelines entry
        };
        match self.kind {
            // Pods and secrets are read for KFP tasks, through the Kubernetes connector.
            Kind::PodEvents | Kind::Secrets => {
                self.pipelines.kubernetes.is_some()
                    && matches!(pipeline.source, PipelineSource::Kfp { .. })
            }
            // No bucket configured: which one to list is a person's call.
            Kind::ArtifactProbe => pipeline.artifact_store.is_some(),
            _ => true,
        }
    }
}

/// The `failure_classification` artifact the cause judges read: the classifier's verdict on a
/// failed run's logs and events, with its deciding line and the new-failure-mode flag.
pub fn classification_artifact(
    c: &warden_detect::classify::Classification,
    source: String,
    run: Option<&str>,
) -> Collected {
    artifact(
        "failure_classification",
        format!(
            "{} (confidence {:.2}{}): {}{}",
            c.cause,
            c.confidence,
            if c.transient { ", transient" } else { "" },
            c.evidence
                .first()
                .map_or("no matching line", |e| e.text.as_str()),
            c.new_failure_mode
                .as_ref()
                .map_or(String::new(), |pattern| format!(
                    " — new failure mode: update the runbook (suggested pattern: {pattern})"
                ))
        ),
        source,
        json!({"run": run, "classification": c}),
    )
}

/// Runbook 1's collectors by catalogue name.
/// The catalogue evidence names this module collects.
pub const NAMES: [&str; 7] = [
    "task_logs",
    "pod_events",
    "secrets_check",
    "pipeline_run_details",
    "run_isolation",
    "failure_classification",
    "artifact_storage_probe",
];

pub fn collectors(pipelines: &Arc<Pipelines>) -> CollectorRegistry {
    let mut registry = CollectorRegistry::new();
    for (name, kind) in [
        ("task_logs", Kind::TaskLogs),
        ("pod_events", Kind::PodEvents),
        ("secrets_check", Kind::Secrets),
        ("pipeline_run_details", Kind::RunDetails),
        ("run_isolation", Kind::Isolation),
        ("failure_classification", Kind::Classification),
        ("artifact_storage_probe", Kind::ArtifactProbe),
    ] {
        let collector: Arc<dyn EvidenceCollector> = Arc::new(Collector {
            pipelines: pipelines.clone(),
            kind,
        });
        registry.insert(name.to_string(), collector);
    }
    registry
}
