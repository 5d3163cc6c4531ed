//! `warden pipelines classify` (runbook 1, R1.6): which cause a failed task's log and its
//! pod's events point to — with the lines that decided, a confidence, whether a retry can cure
//! it, and the concrete fix — from the built-in rules plus any `--rules` files.

use std::io::Read;
use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use warden_detect::classify::{Classification, Rules, classify};

use crate::exit::{Code, Failure};
use crate::output::{self, Format};

/// `warden pipelines …`
#[derive(Debug, Subcommand)]
pub enum PipelinesCommand {
    /// Classify a failed task from its log (and its pod's events).
    #[command(
        after_help = "Causes: missing_expired_secret, artifact_storage_unreachable, resource_limit,\n\
                      incompatible_version_missing_dependency, other.\n\
                      Exit codes: 0 classified, 2 unreadable input or rules.\n\n\
                      Examples:\n  warden pipelines classify --log task.log --events events.txt --format json\n  \
                      kubectl logs POD -c main | warden pipelines classify --log - --rules team-rules.yaml"
    )]
    Classify(ClassifyArgs),
}

/// `warden pipelines classify` arguments.
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// The task's log (`-` reads standard input).
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
    /// The pod's events (`kubectl describe pod` / `kubectl get events` output).
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// More rules (same format as the built-in file; a rule with a built-in id replaces it).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
}

fn read(path: &PathBuf) -> Result<String, Failure> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|err| Failure::input(anyhow!("standard input: {err}")))?;
        return Ok(text);
    }
    let bytes =
        std::fs::read(path).map_err(|err| Failure::input(anyhow!("{}: {err}", path.display())))?;
    // Logs carry binary noise now and then; classify what is text.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The built-in rules extended by `files`.
///
/// # Errors
/// A file is unreadable or invalid (named, with the rule).
pub fn rules(files: &[PathBuf]) -> Result<Rules, Failure> {
    let mut rules = Rules::builtin().map_err(|e| Failure::runtime(anyhow!(e)))?;
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|err| Failure::input(anyhow!("{}: {err}", file.display())))?;
        let more = Rules::parse(&file.display().to_string(), &text)
            .map_err(|e| Failure::input(anyhow!(e)))?;
        rules = rules
            .extended(more)
            .map_err(|e| Failure::input(anyhow!(e)))?;
    }
    Ok(rules)
}

fn print_text(c: &Classification) {
    println!(
        "{} (confidence {:.2}){}",
        c.cause,
        c.confidence,
        if c.transient {
            ", transient: retry with backoff"
        } else {
            ""
        }
    );
    println!("{}", c.explanation);
    for line in &c.evidence {
        println!(
            "  {}:{} [{}] {}",
            line.source, line.line, line.rule, line.text
        );
    }
    for fix in &c.fixes {
        println!("fix: {fix}");
    }
    if let Some(pattern) = &c.new_failure_mode {
        println!("new failure mode: update the runbook — suggested rule pattern:\n  {pattern}");
    }
}

/// Runs `warden pipelines …`.
pub fn run(format: Format, command: PipelinesCommand) -> Result<Code, Failure> {
    let PipelinesCommand::Classify(args) = command;
    let rules = rules(&args.rules)?;
    let log = read(&args.log)?;
    let events = match &args.events {
        Some(path) => read(path)?,
        None => String::new(),
    };
    let classification = classify(&rules, &log, &events);
    match format {
        Format::Json => output::print_json(&classification)?,
        Format::Text => print_text(&classification),
    }
    Ok(Code::Ok)
}
