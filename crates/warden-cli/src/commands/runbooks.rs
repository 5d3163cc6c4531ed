//! `warden runbooks list|show|lint`: what runbooks are in effect, what one will do step by
//! step (and which steps are still done by hand), and lint for runbook files in CI.

use std::path::PathBuf;

use anyhow::anyhow;
use serde::Serialize;
use warden_engine::registry::Registries;
use warden_runbook::{LintError, Phase, Runbook, Step, StepKind};
use warden_runbooks::status::{self, StepStatus};

use crate::cli::RunbookSource;
use crate::exit::{Code, Failure};
use crate::output::{self, Format};

/// The runbooks in effect — built-ins, adjusted by the configuration if one is given — and,
/// with a configuration, the registries assembled from it (what will actually run).
fn runbooks_in_effect(
    source: &RunbookSource,
) -> Result<(Vec<Runbook>, Option<Registries>), Failure> {
    match &source.config {
        Some(file) => {
            let config = warden_config::load(file).map_err(Failure::input)?;
            let runbooks = super::context::runbooks_for(Some(&config))?;
            let assembly = warden_runbooks::assemble(&config, &runbooks).map_err(Failure::input)?;
            Ok((runbooks, Some(assembly.registries)))
        }
        None => Ok((super::context::runbooks_for(None)?, None)),
    }
}

/// Who does `step`: under a configuration, what its registries say; without one, whether
/// Warden implements it at all (given the connectors it needs).
fn status_of(registries: Option<&Registries>, runbook: &Runbook, step: &Step) -> StepStatus {
    match registries {
        Some(registries) => status::step_status(registries, runbook, step),
        None => match status::entry_of(step) {
            None => StepStatus::Manual,
            Some((kind, name)) if status::implemented(kind, name) => StepStatus::Needs {
                need: "warden, when configured (runbooks show --config FILE)".into(),
            },
            Some(_) => StepStatus::NotAutomated,
        },
    }
}

#[derive(Serialize)]
struct RunbookSummary<'a> {
    id: &'a str,
    title: &'a str,
    severity: &'a str,
    source: String,
    built_in: bool,
    triggers: usize,
    steps: usize,
    /// Steps that will run under the configuration (`null` without `--config`).
    automated_steps: Option<usize>,
    /// Steps Warden implements, given the connectors they need.
    automatable_steps: usize,
}

/// `warden runbooks list`.
pub fn list(format: Format, source: &RunbookSource) -> Result<Code, Failure> {
    let (runbooks, registries) = runbooks_in_effect(source)?;
    let summaries: Vec<RunbookSummary<'_>> = runbooks
        .iter()
        .map(|runbook| RunbookSummary {
            id: runbook.id.as_str(),
            title: &runbook.title,
            severity: runbook.severity.as_str(),
            source: runbook.source.display().to_string(),
            built_in: runbook.is_built_in(),
            triggers: runbook.triggers.len(),
            steps: runbook.steps.len(),
            automated_steps: registries
                .as_ref()
                .map(|registries| status::automated_steps(registries, runbook)),
            automatable_steps: status::automatable_steps(runbook),
        })
        .collect();
    match format {
        Format::Json => output::print_json(&serde_json::json!({ "runbooks": summaries }))?,
        Format::Text => {
            println!(
                "{:<18} {:<9} {:>5} {:>9} {:>11}  TITLE",
                "ID", "SEVERITY", "STEPS", "AUTOMATED", "AUTOMATABLE"
            );
            for summary in &summaries {
                println!(
                    "{:<18} {:<9} {:>5} {:>9} {:>11}  {}{}",
                    summary.id,
                    summary.severity,
                    summary.steps,
                    summary
                        .automated_steps
                        .map_or_else(|| "-".to_string(), |n| n.to_string()),
                    summary.automatable_steps,
                    summary.title,
                    if summary.built_in {
                        String::new()
                    } else {
                        format!(" ({})", summary.source)
                    }
                );
            }
        }
    }
    Ok(Code::Ok)
}

#[derive(Serialize)]
struct StepView<'a> {
    #[serde(flatten)]
    step: &'a Step,
    automated: bool,
    automation: StepStatus,
}

fn describe(step: &Step) -> String {
    match &step.kind {
        StepKind::Action { name } => {
            format!("action {name}, approval {:?}", step.approval).to_lowercase()
        }
        StepKind::Evidence { name } => format!("evidence {name}"),
        StepKind::Cause {
            name,
            evidence_from,
        } => format!("cause {name} from {}", evidence_from.join(", ")),
        StepKind::Gate(gate) => {
            let mut text = format!("gate {}", gate.check);
            if let Some(below) = gate.below {
                text.push_str(&format!(" < {below}"));
            }
            if let Some(above) = gate.above {
                text.push_str(&format!(" > {above}"));
            }
            if !gate.hold_for.is_zero() {
                text.push_str(&format!(
                    " for {}",
                    warden_core::format_duration(gate.hold_for)
                ));
            }
            text
        }
        StepKind::Manual => "manual".to_string(),
    }
}

/// `warden runbooks show ID`.
pub fn show(format: Format, id: &str, source: &RunbookSource) -> Result<Code, Failure> {
    let (runbooks, registries) = runbooks_in_effect(source)?;
    let Some(runbook) = runbooks.iter().find(|runbook| runbook.id.as_str() == id) else {
        let known: Vec<&str> = runbooks.iter().map(|runbook| runbook.id.as_str()).collect();
        return Err(Failure::input(anyhow!(
            "no runbook {id:?} (known: {})",
            known.join(", ")
        )));
    };
    match format {
        Format::Json => {
            let steps: Vec<StepView<'_>> = runbook
                .steps
                .iter()
                .map(|step| {
                    let automation = status_of(registries.as_ref(), runbook, step);
                    // Without a configuration: whether Warden implements the step at all.
                    let automated = match registries {
                        Some(_) => automation.is_automated(),
                        None => status::entry_of(step)
                            .is_some_and(|(kind, name)| status::implemented(kind, name)),
                    };
                    StepView {
                        step,
                        automated,
                        automation,
                    }
                })
                .collect();
            let mut value = serde_json::to_value(runbook)
                .map_err(|err| Failure::runtime(anyhow!("cannot encode runbook: {err}")))?;
            value["steps"] = serde_json::to_value(steps)
                .map_err(|err| Failure::runtime(anyhow!("cannot encode steps: {err}")))?;
            output::print_json(&serde_json::json!({ "runbook": value }))?;
        }
        Format::Text => {
            println!("{} — {} ({})", runbook.id, runbook.title, runbook.severity);
            if !runbook.symptoms.is_empty() {
                println!("symptoms: {}", runbook.symptoms);
            }
            for trigger in &runbook.triggers {
                match trigger {
                    warden_runbook::Trigger::Detector { name, .. } => {
                        println!("trigger: detector {name}")
                    }
                    warden_runbook::Trigger::Alertmanager(matcher) => {
                        let labels: Vec<String> = matcher
                            .labels
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect();
                        println!("trigger: alert {}", labels.join(","));
                    }
                }
            }
            for phase in Phase::ALL {
                println!("\n{}", phase.as_str().to_uppercase());
                for step in runbook.phase(phase) {
                    let by = status_of(registries.as_ref(), runbook, step).phrase();
                    println!(
                        "  {:<24} {} [{}; {by}]",
                        step.id,
                        step.title,
                        describe(step)
                    );
                    for condition in &step.when {
                        println!(
                            "  {:<24}   when {} is {:?}",
                            "", condition.step, condition.is
                        );
                    }
                }
            }
        }
    }
    Ok(Code::Ok)
}

#[derive(Serialize)]
struct LintedFile {
    file: String,
    ok: bool,
    errors: Vec<LintError>,
}

/// `warden runbooks lint PATH…`.
pub fn lint(format: Format, paths: &[PathBuf]) -> Result<Code, Failure> {
    let mut unreadable = Vec::new();
    let files = warden_runbook::builtin::runbook_files(paths, &mut unreadable);
    if !unreadable.is_empty() {
        return Err(Failure::input(anyhow!("{}", unreadable[0])));
    }
    if files.is_empty() {
        return Err(Failure::input(anyhow!(
            "no *.yaml or *.yml runbook files found"
        )));
    }
    let results: Vec<LintedFile> = files
        .iter()
        .map(|file| {
            let errors = warden_runbook::load(file).err().unwrap_or_default();
            LintedFile {
                file: file.display().to_string(),
                ok: errors.is_empty(),
                errors,
            }
        })
        .collect();
    let ok = results.iter().all(|result| result.ok);
    match format {
        Format::Json => output::print_json(&serde_json::json!({ "ok": ok, "files": results }))?,
        Format::Text => {
            for result in &results {
                if result.ok {
                    println!("{}: ok", result.file);
                }
                for error in &result.errors {
                    println!("{error}");
                }
            }
        }
    }
    Ok(if ok { Code::Ok } else { Code::Detected })
}
