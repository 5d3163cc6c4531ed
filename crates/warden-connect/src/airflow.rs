//! Airflow 3's REST API (`/api/v2`): token authentication (`POST /auth/token`), DAGs (read,
//! pause, unpause), DAG runs (list, trigger), task instances, task logs (the structured log
//! events rendered back into text lines, exceptions included) and clearing failed tasks for a
//! rerun. Used by runbook 4 to pause and resume materialization, and by runbook 1 as a
//! pipeline source.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use warden_config::{HttpEndpoint, Secret};

use crate::{ConnectError, HttpClient};

/// An authenticated Airflow client.
#[derive(Debug, Clone)]
pub struct AirflowClient {
    http: HttpClient,
}

/// A DAG's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dag {
    /// Its id.
    pub dag_id: String,
    /// Whether its schedule is paused.
    pub is_paused: bool,
}

/// One DAG run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DagRun {
    /// Its id.
    pub dag_run_id: String,
    /// `queued`, `running`, `success`, `failed`.
    pub state: String,
    /// When it started.
    pub start_date: Option<DateTime<Utc>>,
    /// When it ended.
    pub end_date: Option<DateTime<Utc>>,
    /// `scheduled`, `manual`, `backfill`, `asset_triggered`.
    #[serde(default)]
    pub run_type: Option<String>,
}

/// One task instance of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInstance {
    /// The task.
    pub task_id: String,
    /// `success`, `failed`, `upstream_failed`, `running`, … (absent before scheduling).
    #[serde(default)]
    pub state: Option<String>,
    /// The attempt (1-based).
    #[serde(default)]
    pub try_number: u32,
    /// When it started.
    #[serde(default)]
    pub start_date: Option<DateTime<Utc>>,
    /// When it ended.
    #[serde(default)]
    pub end_date: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct TaskInstances {
    task_instances: Vec<TaskInstance>,
}

#[derive(Deserialize)]
struct LogContent {
    #[serde(default)]
    content: serde_json::Value,
}

/// A task log as Airflow 3 returns it (`content`: structured events, or plain lines for
/// older logs) rendered as text: one line per event — `timestamp level event` — and the
/// exceptions of `error_detail` as `Type: value` lines, the way a traceback ends.
pub fn render_log(content: &serde_json::Value) -> String {
    let mut lines = Vec::new();
    let events = match content {
        serde_json::Value::Array(events) => events.clone(),
        serde_json::Value::String(text) => return text.clone(),
        _ => Vec::new(),
    };
    for event in events {
        if let Some(text) = event.as_str() {
            lines.push(text.to_string());
            continue;
        }
        let field = |name: &str| {
            event
                .get(name)
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
        };
        let line = [field("timestamp"), field("level"), field("event")]
            .iter()
            .filter(|part| !part.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        lines.push(line);
        for error in event
            .get("error_detail")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            let kind = error
                .get("exc_type")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("Exception");
            let value = error
                .get("exc_value")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            lines.push(format!("{kind}: {value}"));
        }
    }
    lines.join("\n")
}

#[derive(Deserialize)]
struct Token {
    access_token: String,
}

#[derive(Deserialize)]
struct DagRuns {
    dag_runs: Vec<DagRun>,
}

impl AirflowClient {
    /// Authenticates as `username` and returns a client carrying the token.
    ///
    /// # Errors
    /// Transport errors, or an authentication failure naming the user.
    pub async fn connect(
        endpoint: &HttpEndpoint,
        username: &str,
        password: &Secret,
    ) -> Result<Self, ConnectError> {
        let http = HttpClient::new(endpoint)?;
        let token: Token = http
            .send_body(
                Method::POST,
                "/auth/token",
                &serde_json::json!({ "username": username, "password": password.expose() }),
            )
            .await?;
        Ok(Self {
            http: http.with_bearer(Secret::new(token.access_token)),
        })
    }

    /// One DAG.
    ///
    /// # Errors
    /// Transport and status errors (404 for an unknown DAG), naming the URL.
    pub async fn dag(&self, dag_id: &str) -> Result<Dag, ConnectError> {
        self.http
            .get_json(&format!("/api/v2/dags/{dag_id}"), &[])
            .await
    }

    /// Pauses or unpauses a DAG's schedule and returns its state as Airflow reports it.
    ///
    /// # Errors
    /// As [`AirflowClient::dag`].
    pub async fn set_paused(&self, dag_id: &str, paused: bool) -> Result<Dag, ConnectError> {
        let url = self.http.url(
            &format!("/api/v2/dags/{dag_id}"),
            &[("update_mask", "is_paused")],
        )?;
        self.http
            .send_json(
                Method::PATCH,
                url,
                Some(&serde_json::json!({ "is_paused": paused })),
            )
            .await
    }

    /// The DAG's most recent runs, newest first.
    ///
    /// # Errors
    /// As [`AirflowClient::dag`].
    pub async fn recent_runs(&self, dag_id: &str, limit: u32) -> Result<Vec<DagRun>, ConnectError> {
        let limit = limit.to_string();
        let runs: DagRuns = self
            .http
            .get_json(
                &format!("/api/v2/dags/{dag_id}/dagRuns"),
                &[("order_by", "-start_date"), ("limit", limit.as_str())],
            )
            .await?;
        Ok(runs.dag_runs)
    }

    /// The task instances of one run.
    ///
    /// # Errors
    /// As [`AirflowClient::dag`].
    pub async fn task_instances(
        &self,
        dag_id: &str,
        run_id: &str,
    ) -> Result<Vec<TaskInstance>, ConnectError> {
        let instances: TaskInstances = self
            .http
            .get_json(
                &format!("/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"),
                &[],
            )
            .await?;
        Ok(instances.task_instances)
    }

    /// One attempt's whole log as text ([`render_log`]).
    ///
    /// # Errors
    /// As [`AirflowClient::dag`].
    pub async fn task_log(
        &self,
        dag_id: &str,
        run_id: &str,
        task_id: &str,
        try_number: u32,
    ) -> Result<String, ConnectError> {
        let url = self.http.url(
            &format!(
                "/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
            ),
            &[("full_content", "true")],
        )?;
        // Airflow answers 406 to text/plain; the JSON form carries the structured events.
        let log: LogContent = self.http.send_json(Method::GET, url, None).await?;
        Ok(render_log(&log.content))
    }

    /// Triggers a run now with `conf`; returns it.
    ///
    /// # Errors
    /// As [`AirflowClient::dag`] (a paused DAG still accepts a manual trigger).
    pub async fn trigger(
        &self,
        dag_id: &str,
        run_id: &str,
        conf: serde_json::Value,
    ) -> Result<DagRun, ConnectError> {
        self.http
            .send_body(
                Method::POST,
                &format!("/api/v2/dags/{dag_id}/dagRuns"),
                &serde_json::json!({ "dag_run_id": run_id, "logical_date": null, "conf": conf }),
            )
            .await
    }

    /// Clears the failed task instances of a run so the scheduler runs them again with the
    /// same inputs (and the run returns to `queued`).
    ///
    /// # Errors
    /// As [`AirflowClient::dag`].
    pub async fn clear_failed(&self, dag_id: &str, run_id: &str) -> Result<(), ConnectError> {
        let _: serde_json::Value = self
            .http
            .send_body(
                Method::POST,
                &format!("/api/v2/dags/{dag_id}/clearTaskInstances"),
                &serde_json::json!({
                    "dry_run": false,
                    "dag_run_id": run_id,
                    "only_failed": true,
                    "reset_dag_runs": true,
                }),
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_task_log_renders_with_its_exception() {
        let recorded: serde_json::Value =
            serde_json::from_str(include_str!("../tests/data/airflow/task_log_validate.json"))
                .expect("recorded JSON");
        let text = render_log(&recorded["content"]);
        assert!(text.contains("error Task failed with exception"), "{text}");
        assert!(
            text.contains("\nValueError: MAPE 0.31 above threshold 0.2"),
            "{text}"
        );
        assert!(text.lines().count() > 10);
        assert_eq!(
            render_log(&serde_json::json!("plain\nlines")),
            "plain\nlines"
        );
    }
}
