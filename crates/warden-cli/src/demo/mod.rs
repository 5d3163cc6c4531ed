//! `warden demo`: a week of a demand-forecast service replayed on an accelerated clock. Each
//! of the five incident types happens once, on systems the demo simulates in process
//! ([`world`]: Kubernetes with KServe, Kubeflow Pipelines, Prometheus, MLflow, Feast with its
//! Redis, the service's prediction logs and actuals). `warden up`'s own runbook modules are
//! assembled on them from a configuration: their detectors open the incidents, their
//! collectors, judges, actions and gates work them, and actions really change the simulators.
//! A scripted on-call responder (recorded as `demo-responder`) does what is a person's:
//! approvals, fixes by hand, and the causes and checks Warden leaves open. Post-mortems are
//! drafted at the end.

mod pipeline;
mod responder;
mod scenario;
mod world;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use serde::Serialize;
use warden_config::StoreConfig;
use warden_core::{Clock, Incident, IncidentId, IncidentState, ManualClock};
use warden_engine::executor::Mode;
use warden_engine::postmortem;
use warden_engine::registry::Registries;
use warden_engine::{Engine, EngineParts, IncidentManager};
use warden_runbook::Runbook;
use warden_store::{EvidenceStore, IncidentFilter, IncidentStore, Store};

use crate::exit::{Code, Failure};
use crate::output::{self, Format};

use self::scenario::{TICK_MINUTES, TICKS, Week};

type Manager = IncidentManager<Store, Arc<dyn Clock>>;
type DemoEngine = Engine<Store, Arc<dyn Clock>>;

/// How the demo runs.
pub struct DemoOptions {
    /// Where the store, evidence and post-mortems go.
    pub out: PathBuf,
    /// Real milliseconds per simulated hour.
    pub hour_ms: u64,
    /// Also serve the API here while replaying.
    pub listen: Option<std::net::SocketAddr>,
    /// The generator's seed.
    pub seed: u64,
}

fn day_time(at: warden_core::Timestamp) -> String {
    at.format("%a %H:%M").to_string()
}

#[derive(Debug, Serialize)]
struct DemoIncident {
    id: String,
    runbook: String,
    target: String,
    state: IncidentState,
    opened_at: warden_core::Timestamp,
    resolved_at: Option<warden_core::Timestamp>,
    postmortem: String,
    /// Who did the incident's steps.
    done_by: Tally,
}

/// Who did an incident's steps: Warden (collectors, judges, actions and their plans, gates
/// judged from data) or the scripted person (steps ticked by hand, decisions, approvals).
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
struct Tally {
    warden_steps: usize,
    warden_causes: usize,
    person_steps: usize,
    person_causes: usize,
    approvals: usize,
}

impl Tally {
    fn of(
        runbook: Option<&Runbook>,
        records: &[warden_core::ActionRecord],
        approvals: usize,
    ) -> Self {
        let mut tally = Tally {
            approvals,
            ..Tally::default()
        };
        let by_person = format!(" by {}", responder::PERSON);
        for record in records {
            if !matches!(
                record.status,
                warden_core::ActionStatus::Succeeded | warden_core::ActionStatus::Failed
            ) {
                continue;
            }
            let is_cause = runbook
                .and_then(|r| r.step(&record.step))
                .is_some_and(|step| matches!(step.kind, warden_runbook::StepKind::Cause { .. }));
            let person = record
                .result
                .as_deref()
                .is_some_and(|result| result.contains(&by_person));
            match (person, is_cause) {
                (true, true) => tally.person_causes += 1,
                (true, false) => tally.person_steps += 1,
                (false, true) => tally.warden_causes += 1,
                (false, false) => tally.warden_steps += 1,
            }
        }
        tally
    }

    /// The tally of `incident` from the store's action records and approvals.
    async fn read(
        store: &Store,
        runbook: Option<&Runbook>,
        incident: &IncidentId,
    ) -> Result<Self, Failure> {
        let records = store
            .actions_for(incident)
            .await
            .map_err(Failure::runtime)?;
        let approvals = store
            .approvals_for(incident)
            .await
            .map_err(Failure::runtime)?
            .len();
        Ok(Self::of(runbook, &records, approvals))
    }

    fn line(&self) -> String {
        format!(
            "done by Warden: {} steps ({} causes decided); by the scripted person: {} steps ({} causes decided), approvals: {}",
            self.warden_steps + self.warden_causes,
            self.warden_causes,
            self.person_steps + self.person_causes,
            self.person_causes,
            self.approvals
        )
    }
}

/// Runs the demo.
pub async fn run(format: Format, options: DemoOptions) -> Result<Code, Failure> {
    let week = scenario::generate(options.seed);
    let out = prepare(&options.out)?;
    let db = out.join("demo.db");
    let mut world = world::World::start(&out.join("world"), week.start, &week.series, options.seed)
        .await
        .map_err(|err| Failure::runtime(anyhow!(err)))?;
    // The configuration `warden up` would run with on these systems; the incident commands
    // read the demo's store through it afterwards.
    let config_path = out.join("warden.yaml");
    let config_text = world.config(&out);
    std::fs::write(&config_path, &config_text)
        .map_err(|err| Failure::runtime(anyhow!("{}: {err}", config_path.display())))?;
    let config = warden_config::parse(&config_path, &config_text)
        .map_err(|errors| Failure::runtime(anyhow!("{errors}")))?;
    let store = Store::open(&StoreConfig::Sqlite { path: db.clone() })
        .await
        .map_err(Failure::runtime)?;
    let clock = Arc::new(ManualClock::new(week.start));
    let shared_clock: Arc<dyn Clock> = clock.clone();
    let manager: Arc<Manager> = Arc::new(IncidentManager::new(store.clone(), shared_clock));
    let runbooks = warden_runbook::builtin::all()
        .map_err(|errors| Failure::runtime(anyhow!("{}", errors[0])))?;
    let evidence = Arc::new(EvidenceStore::new(
        config.data_dir.join("evidence"),
        warden_store::evidence::DEFAULT_MAX_BYTES,
    ));
    let mut registries = Registries::new();
    let mut detectors =
        warden_runbooks::register(&config, &runbooks, &mut registries).map_err(Failure::runtime)?;
    let engine = Arc::new(Engine::new(EngineParts {
        manager: manager.clone(),
        runbooks,
        registries: registries.sealed(),
        evidence: Some(evidence.clone()),
        mode: Mode::Live,
    }));
    let verbose = format == Format::Text;
    let metrics = Arc::new(warden_server::Metrics::default());
    if let Some(address) = options.listen {
        serve(address, engine.clone(), metrics.clone()).await?;
        if verbose {
            println!("API (read-only) on http://{address}/api/v1/incidents while the week replays");
        }
    }
    if verbose {
        println!(
            "replaying Mon 16 – Sun 22 Nov 2026 of demand-forecast: Kubernetes, Kubeflow Pipelines, Prometheus, MLflow, Feast with its Redis, the prediction logs and the retraining webhook simulated (Warden acts on them)\n"
        );
    }
    let mut states: BTreeMap<IncidentId, IncidentState> = BTreeMap::new();
    let mut due = vec![week.start; detectors.len()];
    for tick in 0..TICKS {
        let now = week.start + chrono::Duration::minutes(tick * TICK_MINUTES);
        clock.set(now);
        world
            .advance(now)
            .map_err(|err| Failure::runtime(anyhow!(err)))?;
        let mut findings = Vec::new();
        for (detector, due) in detectors.iter_mut().zip(&mut due) {
            if now >= *due {
                *due = now + chrono::Duration::from_std(detector.every()).unwrap_or_default();
                // As in the daemon: a failing beat (one version in the logs so far: nothing
                // to compare) is counted and tried again at the next.
                let found = detector.check(now).await;
                metrics.detector_run(detector.name(), found.is_ok());
                findings.extend(found.into_iter().flatten());
            }
        }
        for finding in findings {
            let ingested = manager.ingest(&finding).await.map_err(Failure::runtime)?;
            metrics.finding(&ingested);
        }
        step_incidents(&engine, &week, now, &mut states, verbose).await?;
        if options.hour_ms > 0 && (tick + 1) % (60 / TICK_MINUTES) == 0 {
            tokio::time::sleep(Duration::from_millis(options.hour_ms)).await;
        }
    }
    finish(format, &engine, &out, clock.now()).await
}

/// Creates `out` and clears what an earlier run left there (its store and simulated
/// systems), so one seed gives one week; the absolute path.
fn prepare(out: &Path) -> Result<PathBuf, Failure> {
    let cannot = |err: std::io::Error| {
        Failure::input(anyhow!("{}: cannot create directory: {err}", out.display()))
    };
    std::fs::create_dir_all(out).map_err(cannot)?;
    let out = out.canonicalize().map_err(cannot)?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", out.join("demo.db").display()));
    }
    for dir in ["world", "evidence", "drift-monitors"] {
        let _ = std::fs::remove_dir_all(out.join(dir));
    }
    Ok(out)
}

async fn step_incidents(
    engine: &DemoEngine,
    week: &Week,
    now: warden_core::Timestamp,
    states: &mut BTreeMap<IncidentId, IncidentState>,
    verbose: bool,
) -> Result<(), Failure> {
    let active = IncidentFilter {
        active_only: true,
        ..IncidentFilter::default()
    };
    let manager = engine.manager();
    let incidents = manager
        .store()
        .list_incidents(&active)
        .await
        .map_err(Failure::runtime)?;
    for incident in incidents {
        let Ok(runbook) = engine.runbook_of(&incident) else {
            continue;
        };
        let executor = engine.executor(runbook);
        if !states.contains_key(&incident.id) && verbose {
            println!(
                "{}  {:<6} opened ({}, {}): {}",
                day_time(now),
                incident.id,
                incident.runbook,
                incident.target,
                incident.title
            );
        }
        states.entry(incident.id.clone()).or_insert(incident.state);
        let progress = executor
            .advance(&incident.id, runbook)
            .await
            .map_err(Failure::runtime)?;
        responder::respond(manager, &executor, runbook, &incident, &progress, week, now).await?;
        let progress = executor
            .advance(&incident.id, runbook)
            .await
            .map_err(Failure::runtime)?;
        let state = progress.state.unwrap_or(incident.state);
        if states.get(&incident.id) != Some(&state) {
            if verbose {
                let after = manager
                    .store()
                    .get_incident(&incident.id)
                    .await
                    .map_err(Failure::runtime)?;
                let path: Vec<&str> = after
                    .iter()
                    .flat_map(|incident| &incident.timeline)
                    .filter(|event| event.at == now)
                    .filter_map(|event| match &event.kind {
                        warden_core::TimelineKind::StateChanged { to, .. } => Some(to.as_str()),
                        _ => None,
                    })
                    .collect();
                println!("{}  {:<6} {}", day_time(now), incident.id, path.join(" → "));
                if state == IncidentState::Resolved {
                    // Who did what, as soon as it is settled (the summary repeats it).
                    let tally = Tally::read(manager.store(), Some(runbook), &incident.id).await?;
                    println!("           {}", tally.line());
                }
            }
            states.insert(incident.id.clone(), state);
        }
    }
    Ok(())
}

async fn finish(
    format: Format,
    engine: &DemoEngine,
    out: &Path,
    now: warden_core::Timestamp,
) -> Result<Code, Failure> {
    let runbooks = engine.runbooks();
    let store = engine.manager().store();
    let incidents: Vec<Incident> = store
        .list_incidents(&IncidentFilter::default())
        .await
        .map_err(Failure::runtime)?;
    let directory = out.join("postmortems");
    std::fs::create_dir_all(&directory)
        .map_err(|err| Failure::runtime(anyhow!("{}: {err}", directory.display())))?;
    let mut summary = Vec::new();
    for incident in incidents.iter().rev() {
        let runbook = runbooks
            .iter()
            .find(|runbook| runbook.id == incident.runbook);
        let impact = engine.impact(incident).await;
        let markdown = postmortem::draft(store, incident, runbook, &impact, now)
            .await
            .map_err(Failure::runtime)?;
        let path = directory.join(format!("{}.md", incident.id));
        std::fs::write(&path, markdown)
            .map_err(|err| Failure::runtime(anyhow!("{}: {err}", path.display())))?;
        summary.push(DemoIncident {
            done_by: Tally::read(store, runbook, &incident.id).await?,
            id: incident.id.0.clone(),
            runbook: incident.runbook.to_string(),
            target: incident.target.to_string(),
            state: incident.state,
            opened_at: incident.opened_at,
            resolved_at: incident.resolved_at,
            postmortem: path.display().to_string(),
        });
    }
    // Written at the start: the configuration the demo's modules were assembled from.
    let config = out.join("warden.yaml");
    match format {
        Format::Json => output::print_json(&serde_json::json!({
            "incidents": summary, "store": out.join("demo.db"), "config": config,
        }))?,
        Format::Text => {
            println!("\n{} incidents; post-mortem drafts:", summary.len());
            for incident in &summary {
                println!(
                    "  {:<6} {:<17} {:<9} opened {} resolved {}  {}",
                    incident.id,
                    incident.runbook,
                    incident.state.as_str(),
                    day_time(incident.opened_at),
                    incident
                        .resolved_at
                        .map_or_else(|| "-".to_string(), day_time),
                    incident.postmortem
                );
                println!("         {}", incident.done_by.line());
            }
            println!(
                "\nexplore: warden incidents list --config {0}\n         warden incidents show INC-1 --config {0}",
                config.display()
            );
        }
    }
    Ok(Code::Ok)
}

async fn serve(
    address: std::net::SocketAddr,
    engine: Arc<DemoEngine>,
    metrics: Arc<warden_server::Metrics>,
) -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|err| Failure::runtime(anyhow!("cannot listen on {address}: {err}")))?;
    let state = warden_server::AppState::new(engine, Vec::new(), None, metrics);
    tokio::spawn(async move {
        let _ = axum::serve(listener, warden_server::router(state)).await;
    });
    Ok(())
}
