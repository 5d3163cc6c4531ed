//! Connectivity probes: for each configured connector, one cheap read that proves Warden can
//! reach the system and (where the API allows it) authenticate. Behind
//! `warden config check --connect`. Probes run concurrently, each bounded by its connector's
//! timeout, and never fail as a whole: every connector gets a report.

use std::time::Instant;

use serde::Serialize;
use warden_config::{Connectors, HttpEndpoint, SecretRef};

use crate::{ConnectError, HttpClient, MlflowClient, RedisClient};

/// The outcome of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeStatus {
    /// Reachable and answering as expected.
    Ok,
    /// Unreachable, timed out, refused the credentials or answered wrongly.
    Failed,
    /// Not probed (no client for it yet); the detail says why.
    Skipped,
}

/// One connector's probe result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeReport {
    /// The connector, e.g. `mlflow`, `feast.redis`.
    pub component: String,
    /// What was contacted (passwords hidden).
    pub url: String,
    /// The outcome.
    pub status: ProbeStatus,
    /// What was seen, or what went wrong.
    pub detail: String,
    /// How long the probe took.
    pub latency_ms: u64,
}

impl ProbeReport {
    /// A report for a probe of `component` at `url` that started at `started`: `Ok(detail)`
    /// is a success, `Err(detail)` a failure.
    pub fn finish(
        component: &str,
        url: String,
        started: Instant,
        outcome: Result<String, String>,
    ) -> Self {
        let (status, detail) = match outcome {
            Ok(detail) => (ProbeStatus::Ok, detail),
            Err(detail) => (ProbeStatus::Failed, detail),
        };
        Self {
            component: component.to_string(),
            url,
            status,
            detail,
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    fn skipped(component: &str, url: String, why: &str) -> Self {
        Self {
            component: component.to_string(),
            url,
            status: ProbeStatus::Skipped,
            detail: why.to_string(),
            latency_ms: 0,
        }
    }
}

type Probe = std::pin::Pin<Box<dyn std::future::Future<Output = ProbeReport> + Send>>;

/// Probes every configured connector concurrently; reports come back in configuration order.
pub async fn probe_connectors(connectors: &Connectors) -> Vec<ProbeReport> {
    let mut probes: Vec<Probe> = Vec::new();
    if let Some(prometheus) = &connectors.prometheus {
        probes.push(Box::pin(http_ready(
            "prometheus",
            prometheus.endpoint.clone(),
            "/-/ready",
        )));
    }
    if let Some(alertmanager) = &connectors.alertmanager {
        probes.push(Box::pin(http_ready(
            "alertmanager",
            alertmanager.endpoint.clone(),
            "/-/ready",
        )));
    }
    if let Some(mlflow) = &connectors.mlflow {
        let config = mlflow.clone();
        probes.push(Box::pin(async move {
            let started = Instant::now();
            let url = format!(
                "{}/health",
                config.endpoint.url.as_str().trim_end_matches('/')
            );
            let outcome = match MlflowClient::from_config(&config) {
                Ok(client) => client.health().await.map(|()| "health OK".to_string()),
                Err(err) => Err(err),
            };
            ProbeReport::finish(
                "mlflow",
                url,
                started,
                outcome.map_err(|err| err.to_string()),
            )
        }));
    }
    if let Some(server) = &connectors.model_server {
        let path = format!("/v2/models/{}/ready", server.model);
        probes.push(Box::pin(http_ready(
            "model_server",
            server.endpoint.clone(),
            path,
        )));
    }
    if let Some(feast) = &connectors.feast {
        probes.push(Box::pin(http_ready(
            "feast",
            feast.endpoint.clone(),
            "/health",
        )));
        if let Some(registry) = &feast.registry_url {
            let endpoint = HttpEndpoint {
                url: registry.clone(),
                timeout: feast.endpoint.timeout,
            };
            probes.push(Box::pin(http_ready(
                "feast.registry",
                endpoint,
                "/api/v1/projects",
            )));
        }
        if let Some(redis_url) = &feast.redis_url {
            let redis_url = redis_url.clone();
            let password = feast.redis_password.clone();
            let timeout = feast.endpoint.timeout;
            probes.push(Box::pin(async move {
                let started = Instant::now();
                let outcome = async {
                    let password = resolve("connectors.feast.redis_password", password.as_ref())?;
                    let client = RedisClient::connect(&redis_url, password.as_ref(), timeout)
                        .await
                        .map_err(|err| err.to_string())?;
                    client.ping().await.map_err(|err| err.to_string())?;
                    let info = client.info().await.map_err(|err| err.to_string())?;
                    Ok(format!("PONG; redis {}", info.version))
                }
                .await;
                ProbeReport::finish("feast.redis", redis_url.to_string(), started, outcome)
            }));
        }
    }
    if let Some(airflow) = &connectors.airflow {
        let config = airflow.clone();
        probes.push(Box::pin(async move {
            let started = Instant::now();
            let url = config.endpoint.url.to_string();
            let outcome = airflow_probe(&config.endpoint, &config.username, &config.password).await;
            ProbeReport::finish("airflow", url, started, outcome)
        }));
    }
    if let Some(kfp) = &connectors.kfp {
        probes.push(Box::pin(http_ready(
            "kfp",
            kfp.endpoint.clone(),
            "/apis/v2beta1/healthz",
        )));
    }
    if let Some(store) = &connectors.object_store {
        let endpoint = store.endpoint.clone();
        probes.push(Box::pin(async move {
            match endpoint {
                Some(url) => {
                    let started = Instant::now();
                    let endpoint = HttpEndpoint {
                        url: url.clone(),
                        timeout: std::time::Duration::from_secs(10),
                    };
                    let outcome = match HttpClient::new(&endpoint) {
                        Ok(client) => match client.url("/", &[]) {
                            Ok(root) => client
                                .send_raw(reqwest::Method::GET, root, None)
                                .await
                                .map(|response| {
                                    format!(
                                        "reachable (HTTP {}); credentials are checked when logs are read",
                                        response.status
                                    )
                                })
                                .map_err(|err| err.to_string()),
                            Err(err) => Err(err.to_string()),
                        },
                        Err(err) => Err(err.to_string()),
                    };
                    ProbeReport::finish("object_store", url.to_string(), started, outcome)
                }
                None => ProbeReport::skipped(
                    "object_store",
                    "aws".to_string(),
                    "AWS S3 itself is not probed without a bucket to list",
                ),
            }
        }));
    }
    let mut handles = Vec::with_capacity(probes.len());
    for probe in probes {
        handles.push(tokio::spawn(probe));
    }
    let mut reports = Vec::with_capacity(handles.len());
    for handle in handles {
        match handle.await {
            Ok(report) => reports.push(report),
            Err(err) => reports.push(ProbeReport {
                component: "probe".into(),
                url: String::new(),
                status: ProbeStatus::Failed,
                detail: format!("probe task failed: {err}"),
                latency_ms: 0,
            }),
        }
    }
    reports
}

fn resolve(
    field: &str,
    secret: Option<&SecretRef>,
) -> Result<Option<warden_config::Secret>, String> {
    secret
        .map(|secret| secret.resolve().map_err(|err| format!("{field}: {err}")))
        .transpose()
}

async fn http_ready(
    component: &'static str,
    endpoint: HttpEndpoint,
    path: impl AsRef<str>,
) -> ProbeReport {
    let path = path.as_ref();
    let started = Instant::now();
    let url = format!("{}{}", endpoint.url.as_str().trim_end_matches('/'), path);
    let outcome = match HttpClient::new(&endpoint) {
        Ok(client) => client
            .get_text(path)
            .await
            .map(|body| {
                let first_line = body.lines().next().unwrap_or_default().trim();
                let shown: String = first_line.chars().take(80).collect();
                if shown.is_empty() {
                    "ready".to_string()
                } else {
                    format!("ready: {shown}")
                }
            })
            .map_err(|err: ConnectError| err.to_string()),
        Err(err) => Err(err.to_string()),
    };
    ProbeReport::finish(component, url, started, outcome)
}

async fn airflow_probe(
    endpoint: &HttpEndpoint,
    username: &str,
    password: &SecretRef,
) -> Result<String, String> {
    let password = password
        .resolve()
        .map_err(|err| format!("connectors.airflow.password: {err}"))?;
    let client = HttpClient::new(endpoint).map_err(|err| err.to_string())?;
    let health: serde_json::Value = client
        .get_json("/api/v2/monitor/health", &[])
        .await
        .map_err(|err| err.to_string())?;
    let scheduler = health["scheduler"]["status"]
        .as_str()
        .unwrap_or("unknown")
        .to_string();
    let token: serde_json::Value = client
        .send_body(
            reqwest::Method::POST,
            "/auth/token",
            &serde_json::json!({ "username": username, "password": password.expose() }),
        )
        .await
        .map_err(|err| format!("authentication as {username} failed: {err}"))?;
    if token["access_token"].as_str().is_none_or(str::is_empty) {
        return Err(format!(
            "authentication as {username} returned no access_token"
        ));
    }
    Ok(format!(
        "healthy, scheduler {scheduler}, authenticated as {username}"
    ))
}
