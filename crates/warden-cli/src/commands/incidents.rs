//! `warden incidents list|show|ack|approve|reject|resolve|postmortem`: the incident store from
//! the command line, mirroring the HTTP API. Every change is made through the incident
//! manager, so it lands on the timeline and in the audit log with the `--as` name.

use std::path::Path;

use anyhow::anyhow;
use warden_core::text::terminal_safe;
use warden_core::{ActionRecord, Actor, Decision, Incident, IncidentId, IncidentState};
use warden_engine::IncidentSummary;
use warden_engine::executor::Progress;
use warden_engine::postmortem;
use warden_engine::steps::{StepGroup, StepView, step_views};
use warden_runbook::Outcome;
use warden_store::{IncidentFilter, IncidentStore};

use super::context::{self, Context, engine_failure};
use crate::cli::IncidentsCommand;
use crate::exit::{Code, Failure};
use crate::output::{self, Format};

fn parse_state(text: &str) -> Result<IncidentState, Failure> {
    IncidentState::parse(text).map_err(|message| Failure::input(anyhow!(message)))
}

async fn load(context: &Context, id: &str) -> Result<Incident, Failure> {
    context
        .manager()
        .store()
        .get_incident(&IncidentId(id.to_string()))
        .await
        .map_err(Failure::runtime)?
        .ok_or_else(|| Failure::input(anyhow!("no incident {id}")))
}

fn parse_outcome(text: &str) -> Result<Outcome, Failure> {
    Outcome::parse(text).map_err(|message| Failure::input(anyhow!(message)))
}

fn print_progress(id: &IncidentId, progress: &Progress, completed: Option<&ActionRecord>) {
    if let Some(record) = completed {
        println!(
            "{id} step {}: {}",
            record.step,
            terminal_safe(record.result.as_deref().unwrap_or_default())
        );
    }
    for step in &progress.executed {
        println!("  ran      {step}");
    }
    for (step, why) in &progress.skipped {
        println!("  skipped  {step}: {}", terminal_safe(why));
    }
    for (step, why) in &progress.failed {
        println!("  FAILED   {step}: {}", terminal_safe(why));
    }
    for (step, why) in &progress.waiting {
        println!("  waiting  {step}: {}", terminal_safe(why));
    }
    if let Some(state) = progress.state {
        println!("{id} is {state}");
    }
}

/// Approves or rejects a step, then advances the runbook so an approved action runs now.
async fn decide(
    format: Format,
    context: &Context,
    id: &str,
    step: &str,
    decision: Decision,
    reason: &str,
    actor: String,
) -> Result<(), Failure> {
    let (incident, _) = context
        .engine
        .decide(
            &IncidentId(id.to_string()),
            step,
            decision,
            Actor::User(actor),
            reason,
        )
        .await
        .map_err(engine_failure)?;
    print_changed(
        format,
        &incident,
        &format!("step {step} {}", decision.as_str()),
    )
}

fn print_changed(format: Format, incident: &Incident, what: &str) -> Result<(), Failure> {
    match format {
        Format::Json => {
            output::print_json(&serde_json::json!({ "incident": IncidentSummary::from(incident) }))
        }
        Format::Text => {
            println!(
                "{} {} ({})",
                incident.id,
                terminal_safe(what),
                incident.state
            );
            Ok(())
        }
    }
}

/// `incidents show` for a terminal: every text from outside (titles, labels, results, log
/// lines) escaped, and the steps grouped by where they stand, failures first.
/// The Alertmanager alert that opened the incident: when it started at its source, its links,
/// labels and annotations (the sender's text, escaped).
fn print_alert(alert: &warden_core::AlertSource) {
    let safe = terminal_safe;
    if let Some(starts_at) = alert.starts_at {
        println!(
            "  alert     firing since {}",
            starts_at.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    for (what, link) in [
        ("runbook", &alert.runbook_url),
        ("source", &alert.generator_url),
    ] {
        if let Some(link) = link {
            println!("  {what:<9} {}", safe(link));
        }
    }
    let pairs = |map: &std::collections::BTreeMap<String, String>| {
        map.iter()
            .map(|(k, v)| format!("{}={}", safe(k), safe(v)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if !alert.labels.is_empty() {
        println!("  labels    {}", pairs(&alert.labels));
    }
    for (name, value) in &alert.annotations {
        println!("  {:<9} {}", safe(name), safe(value));
    }
}

fn print_incident(incident: &Incident, steps: &[StepView]) {
    let safe = terminal_safe;
    println!("{} — {}", incident.id, safe(&incident.title));
    println!("  runbook   {}", incident.runbook);
    println!("  target    {}", safe(&incident.target.to_string()));
    println!(
        "  state     {} ({} findings, reopened {} times)",
        incident.state, incident.finding_count, incident.reopen_count
    );
    println!("  severity  {}", incident.severity);
    if let Some(alert) = &incident.alert {
        print_alert(alert);
    }
    for group in [
        StepGroup::Failed,
        StepGroup::WaitingForApproval,
        StepGroup::WaitingForPerson,
        StepGroup::Running,
        StepGroup::Pending,
        StepGroup::Done,
    ] {
        let members: Vec<&StepView> = steps.iter().filter(|s| s.group == group).collect();
        if members.is_empty() {
            continue;
        }
        let heading = group.heading();
        let heading = if group == StepGroup::Failed {
            heading.to_uppercase()
        } else {
            heading.to_string()
        };
        println!("\n{heading} ({}):", members.len());
        for step in members {
            match &step.result {
                Some(result) => println!("  {:<26} {:<9} {}", step.id, step.status, safe(result)),
                None => println!("  {:<26} {:<9} {}", step.id, step.phase, safe(&step.title)),
            }
        }
    }
    println!("\ntimeline:");
    for event in &incident.timeline {
        let who = event.actor.name();
        let what = match &event.kind {
            warden_core::TimelineKind::StateChanged { from, to } => {
                format!("{from} → {to}: {}", event.message)
            }
            _ => event.message.clone(),
        };
        println!(
            "  {}  {:<10} {}",
            event.at.format("%Y-%m-%d %H:%M:%S"),
            safe(who),
            safe(&what)
        );
    }
    if !incident.evidence.is_empty() {
        println!("\nevidence:");
        for evidence in &incident.evidence {
            println!(
                "  {}  {} ({} bytes) from {}",
                &evidence.hash.as_str()[..12],
                safe(&evidence.name),
                evidence.size_bytes,
                safe(&evidence.source)
            );
        }
    }
}

/// Runs one incidents subcommand.
pub async fn run(
    format: Format,
    config: &Path,
    command: IncidentsCommand,
) -> Result<Code, Failure> {
    let context = context::open(config).await?;
    let manager = context.manager();
    match command {
        IncidentsCommand::List {
            active,
            states,
            limit,
        } => {
            let filter = IncidentFilter {
                states: states
                    .iter()
                    .map(|state| parse_state(state))
                    .collect::<Result<_, _>>()?,
                active_only: active,
                limit,
            };
            let incidents = manager
                .store()
                .list_incidents(&filter)
                .await
                .map_err(Failure::runtime)?;
            match format {
                Format::Json => {
                    let rows: Vec<_> = incidents.iter().map(IncidentSummary::from).collect();
                    output::print_json(&serde_json::json!({ "incidents": rows }))?;
                }
                Format::Text => {
                    if incidents.is_empty() {
                        println!("no incidents");
                    }
                    for incident in &incidents {
                        println!(
                            "{:<8} {:<11} {:<8} {:<17} {:<40} {}",
                            incident.id.0,
                            incident.state.as_str(),
                            incident.severity.as_str(),
                            incident.runbook.as_str(),
                            terminal_safe(&incident.target.to_string()),
                            terminal_safe(&incident.title)
                        );
                    }
                }
            }
        }
        IncidentsCommand::Show { id } => {
            let incident = load(&context, &id).await?;
            let store = manager.store();
            let actions = store
                .actions_for(&incident.id)
                .await
                .map_err(Failure::runtime)?;
            let approvals = store
                .approvals_for(&incident.id)
                .await
                .map_err(Failure::runtime)?;
            let audit = store
                .audit_for(&incident.id)
                .await
                .map_err(Failure::runtime)?;
            let steps = match context.engine.runbook_of(&incident) {
                Ok(runbook) => step_views(
                    runbook,
                    &actions,
                    &approvals,
                    context.engine.registries().for_runbook(runbook.id.as_str()),
                ),
                Err(_) => Vec::new(),
            };
            match format {
                Format::Json => output::print_json(&serde_json::json!({
                    "incident": incident, "steps": steps, "actions": actions,
                    "approvals": approvals, "audit": audit,
                }))?,
                Format::Text => print_incident(&incident, &steps),
            }
        }
        IncidentsCommand::Ack { id, actor } => {
            let incident = manager
                .acknowledge(&IncidentId(id), Actor::User(actor.name))
                .await
                .map_err(engine_failure)?;
            print_changed(format, &incident, "acknowledged")?;
        }
        IncidentsCommand::Approve {
            id,
            step,
            reason,
            actor,
        } => {
            decide(
                format,
                &context,
                &id,
                &step,
                Decision::Approved,
                &reason,
                actor.name,
            )
            .await?
        }
        IncidentsCommand::Reject {
            id,
            step,
            reason,
            actor,
        } => {
            decide(
                format,
                &context,
                &id,
                &step,
                Decision::Rejected,
                &reason,
                actor.name,
            )
            .await?
        }
        IncidentsCommand::Complete {
            id,
            step,
            outcome,
            note,
            actor,
        } => {
            let incident = load(&context, &id).await?;
            let outcome = parse_outcome(&outcome)?;
            let (record, progress) = context
                .engine
                .complete_step(&incident.id, &step, outcome, Actor::User(actor.name), &note)
                .await
                .map_err(engine_failure)?;
            match format {
                Format::Json => output::print_json(
                    &serde_json::json!({ "step": record, "progress": progress }),
                )?,
                Format::Text => print_progress(&incident.id, &progress, Some(&record)),
            }
        }
        IncidentsCommand::Advance { id } => {
            let incident = load(&context, &id).await?;
            let progress = context
                .engine
                .advance(&incident.id)
                .await
                .map_err(engine_failure)?;
            match format {
                Format::Json => output::print_json(&serde_json::json!({ "progress": progress }))?,
                Format::Text => print_progress(&incident.id, &progress, None),
            }
        }
        IncidentsCommand::Retry { id, step, actor } => {
            let (record, progress) = context
                .engine
                .retry_step(&IncidentId(id.clone()), &step, Actor::User(actor.name))
                .await
                .map_err(engine_failure)?;
            match format {
                Format::Json => output::print_json(
                    &serde_json::json!({ "step": record, "progress": progress }),
                )?,
                Format::Text => print_progress(&IncidentId(id), &progress, Some(&record)),
            }
        }
        IncidentsCommand::Resolve {
            id,
            reason,
            override_reason,
            actor,
        } => {
            let incident = context
                .engine
                .resolve(
                    &IncidentId(id),
                    Actor::User(actor.name),
                    &reason,
                    override_reason.as_deref(),
                )
                .await
                .map_err(engine_failure)?;
            print_changed(format, &incident, "resolved")?;
        }
        IncidentsCommand::Postmortem { id } => {
            let incident = load(&context, &id).await?;
            let runbook = context.engine.runbook_of(&incident).ok();
            let now = warden_core::Clock::now(&warden_core::SystemClock);
            let impact = context.engine.impact(&incident).await;
            let markdown = postmortem::draft(manager.store(), &incident, runbook, &impact, now)
                .await
                .map_err(Failure::runtime)?;
            match format {
                Format::Json => output::print_json(&serde_json::json!({
                    "id": incident.id, "markdown": markdown, "impact": impact,
                }))?,
                // The draft quotes alert text (the title, labels, results): no control
                // character of it reaches the terminal.
                Format::Text => print!("{}", warden_core::text::terminal_safe_lines(&markdown)),
            }
        }
    }
    Ok(Code::Ok)
}
