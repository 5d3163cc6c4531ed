//! Runbook 1's evidence, judges, actions and gates for Airflow DAGs (R1.2–R1.9):
//! - evidence `task_logs` (every failed task's log of the failed run, captured at detection),
//!   `pipeline_run_details` (the run and its task instances), `run_isolation` (how many of the
//!   recent runs failed, and which tasks), `failure_classification` (the classifier on the
//!   captured logs, with the pipeline's own rules);
//! - judges for the five cause steps from the classification (a transient classification
//!   confirms `transient_failure` and refutes the rest);
//! - `pause_schedule` / `resume_schedule` (the DAG's pause, left as found: runbook 4's rule),
//!   `retry_pipeline_run` (clears the failed tasks of the failed run: same inputs; reached only
//!   when the transient cause is confirmed);
//! - gates `rerun_succeeded` (the newest finished run succeeded, after the incident opened) and
//!   `next_scheduled_run_succeeded` (a scheduled run succeeded after that; a DAG without
//!   scheduled runs is left to a responder).

use std::sync::Arc;

use serde_json::{Value, json};
use warden_connect::AirflowClient;
use warden_core::Incident;
use warden_detect::classify::classify;
use warden_engine::executor::{
    ActionError, ActionHandler, ActionRegistry, ActionRequest, BoxFuture, Collected,
    CollectorRegistry, EvidenceCollector, GateEvaluator, GateVerdict,
};
use warden_engine::judge::{CauseJudge, JudgeRegistry, JudgeRequest, Judgement};
use warden_runbook::Gate;

use super::{Pipelines, newest_finished};
use crate::feature_store::actions::{AirflowDag, PauseMaterialization, airflow_error};
use crate::serving::evidence::artifact;
use crate::serving::judges::of_kind;

/// Log lines kept per task (the end of the log, where failures are).
const LOG_LINES: usize = 400;

fn failed(message: String) -> ActionError {
    ActionError {
        message,
        retryable: false,
    }
}

/// The newest failed run and its failed tasks' logs: `(run id, [(task, try, log)])`.
async fn failed_run_logs(
    client: &AirflowClient,
    dag: &str,
    tail: usize,
) -> Result<Option<(String, Vec<(String, u32, String)>)>, ActionError> {
    let runs = client.recent_runs(dag, 10).await.map_err(airflow_error)?;
    let Some(run) = newest_finished(&runs).filter(|r| r.state == "failed") else {
        return Ok(None);
    };
    let mut logs = Vec::new();
    for task in client
        .task_instances(dag, &run.dag_run_id)
        .await
        .map_err(airflow_error)?
        .into_iter()
        .filter(|t| t.state.as_deref() == Some("failed"))
    {
        let text = client
            .task_log(dag, &run.dag_run_id, &task.task_id, task.try_number.max(1))
            .await
            .map_err(airflow_error)?;
        let lines: Vec<&str> = text.lines().collect();
        let kept = lines[lines.len().saturating_sub(tail)..].join("\n");
        logs.push((task.task_id, task.try_number, kept));
    }
    Ok(Some((run.dag_run_id.clone(), logs)))
}

#[derive(Clone, Copy)]
enum Kind {
    TaskLogs,
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
    async fn artifact_probe(
        &self,
        pipeline: &warden_config::PipelineConfig,
    ) -> Result<Collected, ActionError> {
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
        if matches!(self.kind, Kind::ArtifactProbe) {
            return self.artifact_probe(&pipeline).await;
        }
        let dag = pipeline.airflow_dag.clone();
        let client = self.pipelines.client().await?;
        let source = format!("Airflow DAG {dag}");
        match self.kind {
            Kind::TaskLogs | Kind::Classification => {
                let tail = request
                    .params
                    .get("tail_lines")
                    .and_then(Value::as_u64)
                    .map_or(LOG_LINES, |n| n as usize);
                let (run, logs) = failed_run_logs(&client, &dag, tail).await?.ok_or_else(|| {
                    failed(format!("{source}: no failed run among the recent ones"))
                })?;
                if matches!(self.kind, Kind::TaskLogs) {
                    return Ok(artifact(
                        "task_logs",
                        format!("{} failed task log(s) of run {run}", logs.len()),
                        source,
                        json!({"dag": dag, "run": run, "tasks": logs.iter().map(|(task, attempt, log)| json!({"task": task, "try": attempt, "log": log})).collect::<Vec<_>>()}),
                    ));
                }
                let rules = self
                    .pipelines
                    .rules
                    .get(&pipeline.name)
                    .ok_or_else(|| failed(format!("no rules for {}", pipeline.name)))?;
                let combined: String = logs
                    .iter()
                    .map(|(_, _, log)| log.as_str())
                    .collect::<Vec<_>>()
                    .join("\n");
                let c = classify(rules, &combined, "");
                Ok(artifact(
                    "failure_classification",
                    format!(
                        "{} (confidence {:.2}{}): {}",
                        c.cause,
                        c.confidence,
                        if c.transient { ", transient" } else { "" },
                        c.evidence
                            .first()
                            .map_or("no matching line", |e| e.text.as_str())
                    ),
                    source,
                    json!({"dag": dag, "run": run, "classification": c}),
                ))
            }
            Kind::RunDetails => {
                let runs = client.recent_runs(&dag, 10).await.map_err(airflow_error)?;
                let run = newest_finished(&runs)
                    .cloned()
                    .ok_or_else(|| failed(format!("{source}: no finished run")))?;
                let tasks = client
                    .task_instances(&dag, &run.dag_run_id)
                    .await
                    .map_err(airflow_error)?;
                Ok(artifact(
                    "pipeline_run_details",
                    format!(
                        "run {} {} with {} task(s)",
                        run.dag_run_id,
                        run.state,
                        tasks.len()
                    ),
                    source,
                    json!({"dag": dag, "run": run, "tasks": tasks}),
                ))
            }
            Kind::ArtifactProbe => unreachable!("answered above"),
            Kind::Isolation => {
                let runs = client.recent_runs(&dag, 20).await.map_err(airflow_error)?;
                let finished: Vec<_> = runs
                    .iter()
                    .filter(|r| r.state == "success" || r.state == "failed")
                    .collect();
                let failed_runs = finished.iter().filter(|r| r.state == "failed").count();
                let verdict = match (failed_runs, finished.len()) {
                    (0, _) => "no failed run",
                    (1, _) => "isolated: one failed run",
                    (f, n) if f == n => "systemic: every recent run failed",
                    _ => "recurring: several recent runs failed",
                };
                Ok(artifact(
                    "run_isolation",
                    format!(
                        "{verdict} ({failed_runs} of {} recent finished runs)",
                        finished.len()
                    ),
                    source,
                    json!({"dag": dag, "failed": failed_runs, "finished": finished.len(), "verdict": verdict, "runs": finished}),
                ))
            }
        }
    }
}

impl EvidenceCollector for Collector {
    fn collect<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<Collected, ActionError>> {
        Box::pin(self.collect(request))
    }
}

/// Runbook 1's collectors by catalogue name.
pub fn collectors(pipelines: &Arc<Pipelines>) -> CollectorRegistry {
    let mut registry = CollectorRegistry::new();
    for (name, kind) in [
        ("task_logs", Kind::TaskLogs),
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

/// Decides one cause from the `failure_classification` artifact.
struct Judge {
    cause: &'static str,
}

impl Judge {
    fn decide(&self, request: &JudgeRequest) -> Option<Judgement> {
        // The storage listing itself outranks what the logs suggest.
        if self.cause == "artifact_storage_unreachable"
            && let Some(probe) = of_kind(request, "artifact_storage_probe")
            && probe["ok"] == false
        {
            return Some(Judgement::confirmed(
                0.9,
                format!(
                    "listing the artifact store failed: {} — fix: restore access to it (bucket, endpoint, credentials)",
                    probe["detail"].as_str().unwrap_or("")
                ),
            ));
        }
        let c = of_kind(request, "failure_classification")?["classification"].clone();
        let said = c["cause"].as_str()?;
        let transient = c["transient"].as_bool().unwrap_or(false);
        let confidence = c["confidence"].as_f64().unwrap_or(0.0);
        let lines: Vec<String> = c["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["text"].as_str().map(str::to_string))
            .take(2)
            .collect();
        let fixes: Vec<String> = c["fixes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect();
        let matches = if self.cause == "transient_failure" {
            transient
        } else {
            said == self.cause && !transient
        };
        Some(if matches {
            Judgement::confirmed(
                confidence,
                format!(
                    "the logs say so: {} — fix: {}",
                    lines.join(" | "),
                    fixes.join("; ")
                ),
            )
        } else if self.cause == "transient_failure" {
            Judgement::refuted(format!(
                "not transient: classified {said}; a retry cannot cure it"
            ))
        } else {
            Judgement::refuted(format!(
                "the logs point to {said}{}",
                if transient { " (transient)" } else { "" }
            ))
        })
    }
}

impl CauseJudge for Judge {
    fn judge<'a>(
        &'a self,
        request: &'a JudgeRequest,
    ) -> BoxFuture<'a, Result<Option<Judgement>, String>> {
        Box::pin(async move { Ok(self.decide(request)) })
    }
}

/// Runbook 1's judges by cause name.
pub fn judges() -> JudgeRegistry {
    let mut registry = JudgeRegistry::new();
    for cause in [
        "missing_expired_secret",
        "artifact_storage_unreachable",
        "resource_limit",
        "incompatible_version_missing_dependency",
        "transient_failure",
    ] {
        let judge: Arc<dyn CauseJudge> = Arc::new(Judge { cause });
        registry.insert(cause.to_string(), judge);
    }
    registry
}

/// Pause or resume the incident's DAG through runbook 4's left-as-found handler.
struct PauseSchedule {
    pipelines: Arc<Pipelines>,
    pause: bool,
}

impl PauseSchedule {
    fn handler(
        &self,
        request: &ActionRequest,
    ) -> Result<PauseMaterialization<AirflowDag>, ActionError> {
        let pipeline = self.pipelines.pipeline(&request.incident.target)?;
        Ok(PauseMaterialization {
            schedule: AirflowDag {
                airflow: self.pipelines.airflow.clone(),
                dag: pipeline.airflow_dag.clone(),
            },
            pause: self.pause,
        })
    }
}

impl ActionHandler for PauseSchedule {
    fn plan<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move { self.handler(request)?.plan(request).await })
    }

    fn execute<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move { self.handler(request)?.execute(request).await })
    }
}

/// Clears the failed tasks of the failed run (a rerun with the same inputs).
struct RetryRun {
    pipelines: Arc<Pipelines>,
}

impl RetryRun {
    async fn work(&self, request: &ActionRequest, execute: bool) -> Result<String, ActionError> {
        let dag = self
            .pipelines
            .pipeline(&request.incident.target)?
            .airflow_dag
            .clone();
        let client = self.pipelines.client().await?;
        let runs = client.recent_runs(&dag, 10).await.map_err(airflow_error)?;
        let Some(run) = newest_finished(&runs)
            .filter(|r| r.state == "failed")
            .cloned()
        else {
            return Ok(format!("Airflow DAG {dag}: no failed run to retry"));
        };
        if !execute {
            return Ok(format!(
                "would clear the failed tasks of run {} of {dag}",
                run.dag_run_id
            ));
        }
        client
            .clear_failed(&dag, &run.dag_run_id)
            .await
            .map_err(airflow_error)?;
        Ok(format!(
            "cleared the failed tasks of run {} of {dag}: rerunning with the same inputs",
            run.dag_run_id
        ))
    }
}

impl ActionHandler for RetryRun {
    fn plan<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(self.work(request, false))
    }

    fn execute<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(self.work(request, true))
    }
}

/// Runbook 1's handlers by catalogue name.
pub fn handlers(pipelines: &Arc<Pipelines>, registry: &mut ActionRegistry) {
    let entries: [(&str, Arc<dyn ActionHandler>); 3] = [
        (
            "pause_schedule",
            Arc::new(PauseSchedule {
                pipelines: pipelines.clone(),
                pause: true,
            }),
        ),
        (
            "resume_schedule",
            Arc::new(PauseSchedule {
                pipelines: pipelines.clone(),
                pause: false,
            }),
        ),
        (
            "retry_pipeline_run",
            Arc::new(RetryRun {
                pipelines: pipelines.clone(),
            }),
        ),
    ];
    for (name, handler) in entries {
        registry.insert(name.to_string(), handler);
    }
}

/// Runbook 1's gates.
pub struct PipelineGates {
    pipelines: Arc<Pipelines>,
}

impl PipelineGates {
    /// Gates for the configured pipelines.
    pub fn new(pipelines: Arc<Pipelines>) -> Self {
        Self { pipelines }
    }

    async fn judge(&self, incident: &Incident, gate: &Gate) -> Result<Option<GateVerdict>, String> {
        let Ok(pipeline) = self.pipelines.pipeline(&incident.target) else {
            return Ok(None);
        };
        let dag = &pipeline.airflow_dag;
        let client = self.pipelines.client().await.map_err(|e| e.message)?;
        let runs = client
            .recent_runs(dag, 20)
            .await
            .map_err(|e| e.to_string())?;
        let after_open = |r: &&warden_connect::airflow::DagRun| {
            r.end_date.is_some_and(|end| end > incident.opened_at)
        };
        match gate.check.as_str() {
            "rerun_succeeded" => {
                let newest = newest_finished(&runs);
                let passed = newest.is_some_and(|r| r.state == "success" && after_open(&r));
                Ok(Some(GateVerdict {
                    passed,
                    explanation: match newest {
                        Some(r) => format!(
                            "Airflow DAG {dag}: newest finished run {} is {}{}",
                            r.dag_run_id,
                            r.state,
                            if after_open(&r) {
                                " (after the incident opened)"
                            } else {
                                " (before the incident opened)"
                            }
                        ),
                        None => format!("Airflow DAG {dag}: no finished run"),
                    },
                }))
            }
            "next_scheduled_run_succeeded" => {
                if !runs
                    .iter()
                    .any(|r| r.run_type.as_deref() == Some("scheduled"))
                {
                    // No schedule to wait for: a person says whether the next run is fine.
                    return Ok(None);
                }
                let scheduled = runs
                    .iter()
                    .filter(|r| r.run_type.as_deref() == Some("scheduled"))
                    .find(|r| r.state == "success" || r.state == "failed");
                let passed = scheduled.is_some_and(|r| r.state == "success" && after_open(&r));
                Ok(Some(GateVerdict {
                    passed,
                    explanation: match scheduled {
                        Some(r) => format!(
                            "Airflow DAG {dag}: newest finished scheduled run {} is {}",
                            r.dag_run_id, r.state
                        ),
                        None => format!("Airflow DAG {dag}: waiting for a scheduled run"),
                    },
                }))
            }
            _ => Ok(None),
        }
    }
}

impl GateEvaluator for PipelineGates {
    fn evaluate<'a>(
        &'a self,
        incident: &'a Incident,
        gate: &'a Gate,
    ) -> BoxFuture<'a, Result<Option<GateVerdict>, String>> {
        Box::pin(self.judge(incident, gate))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use warden_core::{Finding, IncidentId, RunbookId, Severity, Target, TargetKind};

    fn request(evidence: &[(&str, Value)]) -> JudgeRequest {
        let finding = Finding {
            runbook: RunbookId::new("pipeline-failure"),
            target: Target::new(TargetKind::Pipeline, "training"),
            detector: "pipeline_failed_runs".into(),
            severity: Severity::High,
            summary: "failed".into(),
            detected_at: chrono::Utc::now(),
            measurements: BTreeMap::new(),
            cause_key: None,
        };
        JudgeRequest {
            incident: Incident::open(IncidentId("INC-P".into()), &finding, chrono::Utc::now()),
            step: "storage-unreachable".into(),
            params: BTreeMap::new(),
            evidence: evidence
                .iter()
                .map(|(step, body)| {
                    (
                        step.to_string(),
                        serde_json::to_vec(body).unwrap_or_default(),
                    )
                })
                .collect(),
        }
    }

    fn classification(cause: &str, transient: bool) -> Value {
        json!({"kind": "failure_classification", "classification": {
            "cause": cause, "transient": transient, "confidence": 0.78,
            "evidence": [{"text": "NoCredentialsError: Unable to locate credentials"}],
            "fixes": ["give the task AWS credentials"]}})
    }

    #[test]
    fn a_failed_listing_confirms_storage_whatever_the_logs_say() {
        let storage = Judge {
            cause: "artifact_storage_unreachable",
        };
        let probe = json!({"kind": "artifact_storage_probe", "ok": false, "detail": "s3://b/: no such bucket"});
        let verdict = storage
            .decide(&request(&[
                ("artifacts", probe),
                ("classify", classification("missing_expired_secret", false)),
            ]))
            .expect("decides");
        assert!(
            verdict.confirmed && verdict.explanation.contains("no such bucket"),
            "{verdict:?}"
        );
        let reachable =
            json!({"kind": "artifact_storage_probe", "ok": true, "detail": "reachable"});
        let verdict = storage
            .decide(&request(&[
                ("artifacts", reachable),
                ("classify", classification("missing_expired_secret", false)),
            ]))
            .expect("decides");
        assert!(!verdict.confirmed, "{verdict:?}");
    }

    #[test]
    fn only_a_transient_classification_confirms_the_transient_cause() {
        let transient = Judge {
            cause: "transient_failure",
        };
        let secret = Judge {
            cause: "missing_expired_secret",
        };
        let throttled = request(&[("classify", classification("other", true))]);
        assert!(transient.decide(&throttled).expect("decides").confirmed);
        assert!(!secret.decide(&throttled).expect("decides").confirmed);
        let missing = request(&[("classify", classification("missing_expired_secret", false))]);
        assert!(!transient.decide(&missing).expect("decides").confirmed);
        assert!(secret.decide(&missing).expect("decides").confirmed);
        assert!(
            transient.decide(&request(&[])).is_none(),
            "no classification: a responder decides"
        );
    }
}
