//! Simulated systems for `warden demo`, served in process on loopback: what the demo's
//! scenario runs the real runbook modules against (the same clients, collectors, judges,
//! actions and gates as `warden up`). Each simulator answers its system's real API in the
//! shapes recorded from the real component (the clients' contract tests decode the same
//! recordings), keeps its state in memory, and lets the scenario read what Warden changed —
//! an alias Warden moved is the version the scenario serves next.
//!
//! - [`mlflow`]: an MLflow model registry (versions, aliases, training runs and their
//!   metrics);
//! - [`demand`]: a demand-forecast service serving the version the registry names, writing
//!   prediction logs and, later, the actuals.

pub mod demand;
pub mod mlflow;

/// A simulator's server could not start.
#[derive(Debug)]
pub struct StartError(pub std::io::Error);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot start a simulator on 127.0.0.1: {}", self.0)
    }
}

impl std::error::Error for StartError {}

/// Serves `app` on a free loopback port for the life of the process; its base URL.
///
/// # Errors
/// No port to bind.
pub(crate) async fn serve(app: axum::Router) -> Result<String, StartError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(StartError)?;
    let url = format!("http://{}", listener.local_addr().map_err(StartError)?);
    tokio::spawn(axum::serve(listener, app).into_future());
    Ok(url)
}
