//! Simulated systems for `warden demo`, served in process on loopback: what the demo's
//! scenario runs the real runbook modules against (the same clients, collectors, judges,
//! actions and gates as `warden up`). Each simulator answers its system's real API in the
//! shapes recorded from the real component (the clients' contract tests decode the same
//! recordings), keeps its state in memory, and lets the scenario read what Warden changed —
//! an alias Warden moved is the version the scenario serves next.
//!
//! - [`mlflow`]: an MLflow model registry (versions, aliases, training runs and their
//!   metrics);
//! - [`prometheus`]: a Prometheus answering instant and range queries from the scenario's
//!   series (the small PromQL subset query overrides use);
//! - [`demand`]: a demand-forecast service serving the version the registry names, writing
//!   prediction logs and, later, the actuals;
//! - [`kfp`]: Kubeflow Pipelines (runs with their tasks and pods, recurring runs, `:retry`),
//!   every request and answer held to the published API description ([`kfp_spec`]);
//! - [`kube`]: a Kubernetes API server (a KServe predictor with its revisions, pods, logs,
//!   events and HPA; CronJobs, StatefulSets, pipeline pods), every write held to the real
//!   schemas ([`schema`]) — also the integration tests' fake;
//! - [`feast`]: a Feast registry, feature server and Redis online store in Feast's layout,
//!   materialized by the scenario;
//! - [`webhook`]: an endpoint that keeps what it was told (a retraining trigger).

pub mod demand;
pub mod feast;
pub mod kfp;
pub mod kfp_spec;
pub mod kube;
pub mod mlflow;
pub mod prometheus;
pub mod schema;
pub mod webhook;

/// A simulator's server could not start.
#[derive(Debug)]
pub struct StartError(pub std::io::Error);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot start a simulator on 127.0.0.1: {}", self.0)
    }
}

impl std::error::Error for StartError {}

/// Serves `app` on loopback for the life of the process — on `port` when it is free (a
/// scenario that names its systems' URLs in what it writes stays byte-identical run after
/// run), else on any free port; its base URL.
///
/// # Errors
/// No port to bind.
pub async fn serve(app: axum::Router, port: Option<u16>) -> Result<String, StartError> {
    let listener = bind(port).await?;
    let url = format!("http://{}", listener.local_addr().map_err(StartError)?);
    tokio::spawn(axum::serve(listener, app).into_future());
    Ok(url)
}

/// A loopback listener on `port` when it is free, else on any free port.
///
/// # Errors
/// No port to bind.
pub(crate) async fn bind(port: Option<u16>) -> Result<tokio::net::TcpListener, StartError> {
    let preferred = match port {
        Some(port) => tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .ok(),
        None => None,
    };
    match preferred {
        Some(listener) => Ok(listener),
        None => tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(StartError),
    }
}
