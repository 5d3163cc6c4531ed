//! `warden up`: the daemon. Loads the configuration and runbooks, resolves the API tokens and
//! the webhook secret, assembles the runbook modules into the engine (`warden_runbooks`),
//! opens the store, resumes actions a previous process left in flight, schedules every
//! module's detectors in one loop and runs the runbook beat, and serves the HTTP API until
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
use warden_store::{IncidentStore, Store};

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
    let mut tokens: Vec<Token> = Vec::new();
    for (index, token) in config.server.tokens.iter().enumerate() {
        let secret = resolve(&format!("server.tokens[{index}].token"), &token.token)?;
        if let Some(same) = tokens.iter().find(|t| t.secret == secret) {
            return Err(Failure::input(anyhow!(
                "server.tokens[{index}].token: {:?} has the same value as {:?}: one token must have one role",
                token.name,
                same.name
            )));
        }
        tokens.push(Token {
            name: token.name.clone(),
            role: token.role,
            secret,
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
    let assembly = warden_runbooks::assemble(&config, &runbooks).map_err(Failure::input)?;
    let store = Store::open(&config.store).await.map_err(Failure::runtime)?;
    let address = listen.unwrap_or(config.server.listen);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|err| Failure::runtime(anyhow!("cannot listen on {address}: {err}")))?;
    let address = listener.local_addr().map_err(Failure::runtime)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let manager = Arc::new(IncidentManager::new(store.clone(), clock));
    let (engine, detectors) = assembly.into_engine(manager, runbooks, Mode::Live);
    let metrics = Arc::new(Metrics::default());
    // Replicas on one store share it: only the lease holder acts (warden_server::leader).
    let leadership = Arc::new(warden_engine::Leadership::default());
    let engine = engine
        .with_failure_sink(Arc::new(warden_server::FailureLog::new(
            metrics.clone(),
            format == Format::Text,
        )))
        .with_leadership(leadership.clone());
    // The work loop: the webhook and the detectors hand incidents over and answer; this
    // replica advances them here at once when it leads (the beat catches up on the rest).
    let (work, mut queue) = tokio::sync::mpsc::unbounded_channel::<warden_core::IncidentId>();
    let state =
        AppState::new(Arc::new(engine), tokens, webhook_secret, metrics).with_work_queue(work);
    match format {
        Format::Json => output::print_json(&serde_json::json!({
            "listening": format!("http://{address}"),
            "store": store.target(),
            "runbooks": state.runbooks().len(),
            "tokens": state.tokens.len(),
            "webhook": state.webhook_secret.is_some(),
            "detectors": detectors.len(),
        }))?,
        Format::Text => {
            eprintln!(
                "warden: listening on http://{address} (store {}, {} runbooks, {} API tokens)",
                store.target(),
                state.runbooks().len(),
                state.tokens.len()
            );
            if state.webhook_secret.is_none() {
                eprintln!(
                    "warden: the Alertmanager webhook is off: set connectors.alertmanager.webhook_secret"
                );
            }
            eprintln!(
                "warden: {} scheduled detector(s); incidents also come from the Alertmanager webhook",
                detectors.len()
            );
        }
    }
    // The first lease round before serving: a lone replica leads (and recovers what was in
    // flight) before the first alert arrives; a second one says who leads.
    let holder = warden_server::leader::holder_name();
    let ttl = config.server.lease_ttl;
    match warden_server::leader::round(&state, &leadership, &holder, ttl).await {
        Ok(lease) if lease.holder == holder => {
            warden_server::leader::recover_all(&state)
                .await
                .map_err(Failure::runtime)?;
        }
        Ok(lease) if format == Format::Text => eprintln!(
            "warden: {} leads the store (epoch {}); this replica ({holder}) serves the API and ingests alerts, and does not act until it takes over",
            warden_core::text::terminal_safe(&lease.holder),
            lease.epoch
        ),
        Ok(_) => {}
        Err(err) => return Err(Failure::runtime(err)),
    }
    let worker = {
        let state = state.clone();
        let verbose = format == Format::Text;
        tokio::spawn(async move {
            while let Some(id) = queue.recv().await {
                if let Err(err) = state.advance_now(&id).await
                    && verbose
                {
                    eprintln!("warden: advancing {id} failed: {err}");
                }
            }
        })
    };
    let leading = tokio::spawn(warden_server::leader::run(
        state.clone(),
        leadership.clone(),
        holder.clone(),
        ttl,
        format == Format::Text,
    ));
    let detector_tasks: Vec<_> = detectors
        .into_iter()
        .map(|detector| {
            tokio::spawn(warden_server::schedule::run_detector(
                detector,
                state.clone(),
                format == Format::Text,
            ))
        })
        .collect();
    // Runbooks advance on every event and also on this beat: it resumes actions that were in
    // flight when a previous process died, and moves steps whose approvals arrived elsewhere.
    let beat = tokio::spawn(advance_loop(
        state.clone(),
        advance_every,
        format == Format::Text,
    ));
    let served = axum::serve(listener, warden_server::router(state.clone()))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    beat.abort();
    worker.abort();
    leading.abort();
    for task in detector_tasks {
        task.abort();
    }
    warden_server::leader::release(&state, &leadership, &holder).await;
    served.map_err(|err| Failure::runtime(anyhow!("server on {address} failed: {err}")))?;
    store.close().await;
    if format == Format::Text {
        eprintln!("warden: stopped");
    }
    Ok(Code::Ok)
}

/// Advances every active incident on each beat.
async fn advance_loop(state: AppState, every: std::time::Duration, verbose: bool) {
    loop {
        match state.manager().store().active_incident_ids().await {
            Ok(ids) => {
                for id in ids {
                    if let Err(err) = state.advance_now(&id).await
                        && verbose
                    {
                        eprintln!("warden: advancing {id} failed: {err}");
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
