//! `warden up`: the daemon. Opens the store, loads the runbooks, resolves the API tokens, the
//! webhook secret and the notification channels, resumes actions a previous process left in
//! flight, starts the scheduled detectors and the runbook beat, and serves the HTTP API until
//! SIGINT or SIGTERM, finishing requests in flight.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use warden_config::SecretRef;
use warden_core::{Clock, SystemClock};
use warden_engine::IncidentManager;
use warden_engine::executor::Mode;
use warden_server::{AppState, Metrics, Token};
use warden_store::{IncidentFilter, IncidentStore, Store};

use super::context;
use crate::exit::{Code, Failure};
use crate::output::{self, Format};

fn resolve(field: &str, secret: &SecretRef) -> Result<warden_config::Secret, Failure> {
    secret
        .resolve()
        .map_err(|err| Failure::input(anyhow!("{field}: {err}")))
}

/// Runs the daemon until it is told to stop.
pub async fn run(
    format: Format,
    config_path: &Path,
    listen: Option<SocketAddr>,
    advance_every: std::time::Duration,
) -> Result<Code, Failure> {
    let config = warden_config::load(config_path).map_err(Failure::input)?;
    let runbooks = context::runbooks_for(Some(&config))?;
    let mut tokens = Vec::new();
    for (index, token) in config.server.tokens.iter().enumerate() {
        tokens.push(Token {
            name: token.name.clone(),
            role: token.role,
            secret: resolve(&format!("server.tokens[{index}].token"), &token.token)?,
        });
    }
    let webhook_secret = match config
        .connectors
        .alertmanager
        .as_ref()
        .and_then(|am| am.webhook_secret.as_ref())
    {
        Some(secret) => Some(resolve("connectors.alertmanager.webhook_secret", secret)?),
        None => None,
    };
    let store = Store::open(&config.store).await.map_err(Failure::runtime)?;
    let address = listen.unwrap_or(config.server.listen);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|err| Failure::runtime(anyhow!("cannot listen on {address}: {err}")))?;
    let address = listener.local_addr().map_err(Failure::runtime)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = AppState {
        manager: Arc::new(IncidentManager::new(store.clone(), clock)),
        runbooks: Arc::new(runbooks),
        tokens: Arc::new(tokens),
        webhook_secret,
        metrics: Arc::new(Metrics::default()),
        actions: Arc::new(crate::actions::registry(&config)),
        mode: Mode::Live,
        gates: gate_evaluators(&config)?,
        evidence: evidence_collectors(&config)?,
        judges: Arc::new(cause_judges(&config)),
    };
    match format {
        Format::Json => output::print_json(&serde_json::json!({
            "listening": format!("http://{address}"),
            "store": store.target(),
            "runbooks": state.runbooks.len(),
            "tokens": state.tokens.len(),
            "webhook": state.webhook_secret.is_some(),
            "detectors": config.detectors.len(),
        }))?,
        Format::Text => {
            eprintln!(
                "warden: listening on http://{address} (store {}, {} runbooks, {} API tokens)",
                store.target(),
                state.runbooks.len(),
                state.tokens.len()
            );
            if state.webhook_secret.is_none() {
                eprintln!(
                    "warden: the Alertmanager webhook is off: set connectors.alertmanager.webhook_secret"
                );
            }
            eprintln!(
                "warden: {} scheduled detector(s); incidents also come from the Alertmanager webhook",
                config.detectors.len()
            );
        }
    }
    recover(&state).await?;
    let mut detector_tasks = Vec::new();
    if let Some(prometheus) = &config.connectors.prometheus {
        let client =
            warden_connect::PrometheusClient::from_config(prometheus).map_err(Failure::runtime)?;
        for detector in &config.detectors {
            if !state
                .runbooks
                .iter()
                .any(|runbook| runbook.id.as_str() == detector.runbook)
            {
                return Err(Failure::input(anyhow!(
                    "detector {}: runbook {:?} is not in effect",
                    detector.name,
                    detector.runbook
                )));
            }
            detector_tasks.push(tokio::spawn(crate::detectors::run(
                detector.clone(),
                client.clone(),
                state.clone(),
                format == Format::Text,
            )));
        }
    }
    if let Some(feast) = &config.connectors.feast
        && let Some(every) = feast.check_every
    {
        detector_tasks.push(tokio::spawn(crate::feature_store::run_detector(
            feast.clone(),
            every,
            state.clone(),
            format == Format::Text,
        )));
    }
    for service in &config.serving {
        if let (Some(every), Some(prometheus)) =
            (service.check_every, &config.connectors.prometheus)
        {
            let client = warden_connect::PrometheusClient::from_config(prometheus)
                .map_err(Failure::runtime)?;
            detector_tasks.push(tokio::spawn(crate::serving::run_detector(
                service.clone(),
                every,
                client,
                state.clone(),
                format == Format::Text,
            )));
        }
    }
    let pipelines = crate::pipelines::Pipelines::from_config(&config)
        .map_err(|err| Failure::input(anyhow!("pipelines: {err}")))?;
    for pipeline in &config.pipelines {
        if let (Some(every), Some(pipelines)) = (pipeline.check_every, &pipelines) {
            detector_tasks.push(tokio::spawn(crate::pipelines::run_detector(
                pipelines.clone(),
                pipeline.clone(),
                every,
                state.clone(),
                format == Format::Text,
            )));
        }
    }
    let models = crate::models::Models::from_config(&config);
    for model in &config.models {
        if let (Some(every), Some(models)) = (model.check_every, &models) {
            detector_tasks.push(tokio::spawn(crate::models::run_detector(
                models.clone(),
                model.clone(),
                every,
                state.clone(),
                format == Format::Text,
            )));
        }
    }
    // Runbooks advance on every event and also on this beat: it resumes actions that were in
    // flight when a previous process died, and moves steps whose approvals arrived elsewhere.
    let beat = tokio::spawn(advance_loop(
        state.clone(),
        advance_every,
        format == Format::Text,
    ));
    let served = axum::serve(listener, warden_server::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    beat.abort();
    for task in detector_tasks {
        task.abort();
    }
    served.map_err(|err| Failure::runtime(anyhow!("server on {address} failed: {err}")))?;
    store.close().await;
    if format == Format::Text {
        eprintln!("warden: stopped");
    }
    Ok(Code::Ok)
}

/// Before anything else: actions that were in flight when the previous process died run
/// again (they are idempotent); completed ones are never touched.
async fn recover(state: &AppState) -> Result<(), Failure> {
    let active = IncidentFilter {
        active_only: true,
        limit: 1000,
        ..IncidentFilter::default()
    };
    let incidents = state
        .manager
        .store()
        .list_incidents(&active)
        .await
        .map_err(Failure::runtime)?;
    for incident in incidents {
        state
            .recover(&incident.id)
            .await
            .map_err(Failure::runtime)?;
    }
    Ok(())
}

async fn advance_loop(state: AppState, every: std::time::Duration, verbose: bool) {
    let active = IncidentFilter {
        active_only: true,
        limit: 1000,
        ..IncidentFilter::default()
    };
    loop {
        match state.manager.store().list_incidents(&active).await {
            Ok(incidents) => {
                for incident in incidents {
                    if let Err(err) = state.advance(&incident.id).await
                        && verbose
                    {
                        eprintln!("warden: advancing {} failed: {err}", incident.id);
                    }
                }
            }
            Err(err) if verbose => eprintln!("warden: listing active incidents failed: {err}"),
            Err(_) => {}
        }
        tokio::time::sleep(every).await;
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// The closure-gate evaluators the configuration allows: PromQL (`gate_queries:`) and
/// Feast (runbook 4's gates), chained; `None` when neither is configured.
fn gate_evaluators(
    config: &warden_config::Config,
) -> Result<Option<Arc<dyn warden_engine::executor::GateEvaluator>>, Failure> {
    let mut evaluators: Vec<Arc<dyn warden_engine::executor::GateEvaluator>> = Vec::new();
    if let (Some(prometheus), false) = (
        &config.connectors.prometheus,
        config.gate_queries.is_empty(),
    ) {
        let client =
            warden_connect::PrometheusClient::from_config(prometheus).map_err(Failure::runtime)?;
        evaluators.push(Arc::new(crate::gates::PrometheusGates::new(
            client,
            config.gate_queries.clone(),
        )));
    }
    if let Some(feast) = &config.connectors.feast
        && (feast.registry_url.is_some() || feast.registry_path.is_some())
    {
        let gates = crate::feature_store::FeastGates::new(feast)
            .map_err(|err| Failure::input(anyhow!("connectors.feast: {err}")))?;
        evaluators.push(Arc::new(gates));
    }
    if let Some(serving) = crate::serving::Serving::from_config(config) {
        evaluators.push(Arc::new(crate::serving::gates::ServingGates::new(serving)));
    }
    if let Some(models) = crate::models::Models::from_config(config) {
        evaluators.push(Arc::new(crate::models::gates::ModelGates::new(models)));
    }
    if let Ok(Some(pipelines)) = crate::pipelines::Pipelines::from_config(config) {
        evaluators.push(Arc::new(crate::pipelines::work::PipelineGates::new(
            pipelines,
            config.data_dir.join("evidence"),
        )));
    }
    Ok(match evaluators.len() {
        0 => None,
        1 => evaluators.pop(),
        _ => Some(Arc::new(crate::feature_store::GateChain(evaluators))),
    })
}

/// Collectors and the evidence store their artifacts go to.
type Evidence = (
    Arc<warden_engine::executor::CollectorRegistry>,
    Arc<warden_store::EvidenceStore>,
);

/// The evidence collectors the configuration allows (runbook 4's, with Feast configured),
/// writing into `<data_dir>/evidence`.
fn evidence_collectors(config: &warden_config::Config) -> Result<Option<Evidence>, Failure> {
    let mut collectors = warden_engine::executor::CollectorRegistry::new();
    if let Some(feast) = config
        .connectors
        .feast
        .as_ref()
        .filter(|feast| feast.registry_url.is_some() || feast.registry_path.is_some())
    {
        collectors.extend(
            crate::feature_store::collectors(
                feast,
                config.connectors.airflow.as_ref(),
                config.connectors.kubernetes.as_ref(),
            )
            .map_err(|err| Failure::input(anyhow!("connectors.feast: {err}")))?,
        );
    }
    if let Some(serving) = crate::serving::Serving::from_config(config) {
        collectors.extend(crate::serving::evidence::collectors(&serving));
    }
    if let Some(models) = crate::models::Models::from_config(config) {
        collectors.extend(crate::models::evidence::collectors(&models));
    }
    if let Ok(Some(pipelines)) = crate::pipelines::Pipelines::from_config(config) {
        collectors.extend(crate::pipelines::evidence::collectors(&pipelines));
    }
    if collectors.is_empty() {
        return Ok(None);
    }
    let store = warden_store::EvidenceStore::new(
        config.data_dir.join("evidence"),
        warden_store::evidence::DEFAULT_MAX_BYTES,
    );
    Ok(Some((Arc::new(collectors), Arc::new(store))))
}

/// The cause judges the configuration allows (runbook 2's, with services under `serving:`;
/// runbook 5's, with models under `models:`).
fn cause_judges(config: &warden_config::Config) -> warden_engine::judge::JudgeRegistry {
    let mut judges = crate::serving::Serving::from_config(config)
        .map(|serving| crate::serving::judges::judges(&serving))
        .unwrap_or_default();
    if !config.models.is_empty() {
        judges.extend(crate::models::judges::judges());
    }
    if !config.pipelines.is_empty() {
        judges.extend(crate::pipelines::work::judges());
    }
    judges
}
