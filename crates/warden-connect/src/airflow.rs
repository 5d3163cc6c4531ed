//! Airflow 3's REST API (`/api/v2`): token authentication (`POST /auth/token`), DAGs (read,
//! pause, unpause) and DAG runs. Used by runbook 4 to pause and resume materialization and to
//! report its recent runs, and the base of runbook 1's pipeline source.

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
}
