//! Kubeflow Pipelines v2beta1 REST (the API description is
//! `../shared/reference/specs/kfp-v2beta1.swagger.json`): runs (listed newest first, paged),
//! one run with its task details (state, error, pod names), recurring runs (read, `:disable`,
//! `:enable`) and `:retry`. Runbook 1 reads failures from here and pauses schedules; the
//! client is checked against the API description by a contract test, since KFP cannot run on
//! this machine.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use warden_config::KfpConfig;

use crate::{ConnectError, HttpClient};

const API: &str = "/apis/v2beta1";

/// A run's or task's state (`v2beta1RuntimeState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RuntimeState {
    /// Waiting.
    Pending,
    /// Running.
    Running,
    /// Done.
    Succeeded,
    /// Skipped.
    Skipped,
    /// Failed.
    Failed,
    /// Being cancelled.
    Canceling,
    /// Cancelled.
    Canceled,
    /// Paused.
    Paused,
    /// Unspecified, or a state this client does not know.
    #[serde(other)]
    RuntimeStateUnspecified,
}

/// `googleRpcStatus`: an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RpcStatus {
    /// gRPC code.
    #[serde(default)]
    pub code: i32,
    /// The message.
    #[serde(default)]
    pub message: String,
}

/// A child task and its pod.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChildTask {
    /// Task id.
    #[serde(default)]
    pub task_id: Option<String>,
    /// Its pod.
    #[serde(default)]
    pub pod_name: Option<String>,
}

/// One task of a run (`v2beta1PipelineTaskDetail`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TaskDetail {
    /// Task id.
    #[serde(default)]
    pub task_id: String,
    /// Its name in the pipeline.
    #[serde(default)]
    pub display_name: String,
    /// Its state.
    pub state: Option<RuntimeState>,
    /// Why it failed.
    pub error: Option<RpcStatus>,
    /// Its pod (executor tasks).
    pub pod_name: Option<String>,
    /// Started (RFC 3339).
    pub start_time: Option<String>,
    /// Ended (RFC 3339).
    pub end_time: Option<String>,
    /// Child tasks (driver/executor pods).
    #[serde(default)]
    pub child_tasks: Vec<ChildTask>,
}

impl TaskDetail {
    /// Every pod the task ran in (its own and its children's).
    pub fn pods(&self) -> Vec<String> {
        self.pod_name
            .iter()
            .cloned()
            .chain(self.child_tasks.iter().filter_map(|c| c.pod_name.clone()))
            .filter(|pod| !pod.is_empty())
            .collect()
    }
}

/// `v2beta1RunDetails`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RunDetails {
    /// The tasks.
    #[serde(default)]
    pub task_details: Vec<TaskDetail>,
}

/// A run (`v2beta1Run`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Run {
    /// Run id.
    pub run_id: String,
    /// Its name.
    #[serde(default)]
    pub display_name: String,
    /// Its experiment.
    pub experiment_id: Option<String>,
    /// The recurring run that started it, if any.
    pub recurring_run_id: Option<String>,
    /// Its state.
    pub state: Option<RuntimeState>,
    /// Created (RFC 3339).
    pub created_at: Option<String>,
    /// Finished (RFC 3339).
    pub finished_at: Option<String>,
    /// Why it failed.
    pub error: Option<RpcStatus>,
    /// Task details (in `GET runs/{id}`).
    #[serde(default)]
    pub run_details: Option<RunDetails>,
}

impl Run {
    /// The tasks that failed.
    pub fn failed_tasks(&self) -> Vec<&TaskDetail> {
        self.run_details
            .iter()
            .flat_map(|d| &d.task_details)
            .filter(|t| t.state == Some(RuntimeState::Failed))
            .collect()
    }
}

#[derive(Deserialize)]
struct ListRuns {
    #[serde(default)]
    runs: Vec<Run>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// A recurring run (`v2beta1RecurringRun`): its schedule's on/off state.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecurringRun {
    /// Its id.
    pub recurring_run_id: String,
    /// Its name.
    #[serde(default)]
    pub display_name: String,
    /// `ENABLE` or `DISABLE`.
    pub mode: Option<String>,
    /// `ENABLED` or `DISABLED`.
    pub status: Option<String>,
}

impl RecurringRun {
    /// Whether its schedule is off.
    pub fn disabled(&self) -> bool {
        self.status.as_deref() == Some("DISABLED") || self.mode.as_deref() == Some("DISABLE")
    }
}

/// The KFP API client.
#[derive(Debug, Clone)]
pub struct KfpClient {
    http: HttpClient,
    namespace: String,
}

impl KfpClient {
    /// A client for `config` (bearer token resolved here).
    ///
    /// # Errors
    /// A bad URL, or an unreadable token.
    pub fn from_config(config: &KfpConfig) -> Result<Self, ConnectError> {
        let http = HttpClient::new(&config.endpoint)?
            .with_configured_bearer("connectors.kfp.token", config.token.as_ref())?;
        Ok(Self {
            http,
            namespace: config.namespace.clone(),
        })
    }

    /// Runs newest first, up to `limit`, optionally of one experiment.
    ///
    /// # Errors
    /// Transport and API errors.
    pub async fn list_runs(
        &self,
        experiment_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Run>, ConnectError> {
        let mut runs = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page_size = limit.saturating_sub(runs.len()).clamp(1, 100).to_string();
            let mut query = vec![
                ("namespace", self.namespace.as_str()),
                ("sort_by", "created_at desc"),
                ("page_size", page_size.as_str()),
            ];
            if let Some(experiment) = experiment_id {
                query.push(("experiment_id", experiment));
            }
            if let Some(token) = &token {
                query.push(("page_token", token.as_str()));
            }
            let page: ListRuns = self.http.get_json(&format!("{API}/runs"), &query).await?;
            runs.extend(page.runs);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) if runs.len() < limit => token = Some(next),
                _ => break,
            }
        }
        runs.truncate(limit);
        Ok(runs)
    }

    /// One run with its task details.
    ///
    /// # Errors
    /// Transport and API errors (404 for an unknown run).
    pub async fn get_run(&self, run_id: &str) -> Result<Run, ConnectError> {
        self.http
            .get_json(&format!("{API}/runs/{run_id}"), &[])
            .await
    }

    /// Reruns a failed run with the same inputs (`:retry`).
    ///
    /// # Errors
    /// Transport and API errors.
    pub async fn retry_run(&self, run_id: &str) -> Result<(), ConnectError> {
        let _: serde_json::Value = self
            .http
            .send_body(
                Method::POST,
                &format!("{API}/runs/{run_id}:retry"),
                &json!({}),
            )
            .await?;
        Ok(())
    }

    /// One recurring run.
    ///
    /// # Errors
    /// Transport and API errors.
    pub async fn get_recurring_run(&self, id: &str) -> Result<RecurringRun, ConnectError> {
        self.http
            .get_json(&format!("{API}/recurringruns/{id}"), &[])
            .await
    }

    /// Turns the recurring run's schedule off (`disable: true`) or on; returns it read back.
    ///
    /// # Errors
    /// Transport and API errors.
    pub async fn set_recurring_run_disabled(
        &self,
        id: &str,
        disable: bool,
    ) -> Result<RecurringRun, ConnectError> {
        let verb = if disable { "disable" } else { "enable" };
        let _: serde_json::Value = self
            .http
            .send_body(
                Method::POST,
                &format!("{API}/recurringruns/{id}:{verb}"),
                &json!({}),
            )
            .await?;
        self.get_recurring_run(id).await
    }
}
