//! `warden alerts ingest FILE`: an Alertmanager webhook payload from a file (or stdin) goes
//! through the same routing and incident manager as the daemon's webhook.

use std::io::Read;
use std::path::Path;

use anyhow::anyhow;
use warden_core::text::terminal_safe;
use warden_engine::alerts;

use super::context::{self, engine_failure};
use crate::exit::{Code, Failure};
use crate::output::{self, Format};

/// Runs the ingestion.
pub async fn ingest(format: Format, config: &Path, file: &Path) -> Result<Code, Failure> {
    let mut body = Vec::new();
    let read = if file == Path::new("-") {
        std::io::stdin().read_to_end(&mut body).map(|_| ())
    } else {
        std::fs::read(file).map(|bytes| body = bytes)
    };
    read.map_err(|err| Failure::input(anyhow!("{}: cannot read file: {err}", file.display())))?;
    let payload = alerts::parse_payload(&body)
        .map_err(|err| Failure::input(anyhow!("{}: {err}", file.display())))?;
    let context = context::open(config).await?;
    let report = context
        .manager()
        .ingest_alerts(&payload, context.engine.runbooks())
        .await
        .map_err(engine_failure)?;
    match format {
        Format::Json => output::print_json(&report)?,
        Format::Text => {
            for (label, ids) in [
                ("opened", &report.opened),
                ("attached to", &report.attached),
                ("reopened", &report.reopened),
                ("alert resolved on", &report.resolved_noted),
            ] {
                if !ids.is_empty() {
                    let ids: Vec<&str> = ids.iter().map(|id| id.0.as_str()).collect();
                    println!("{label}: {}", ids.join(", "));
                }
            }
            if !report.unmatched.is_empty() {
                println!(
                    "{} alert(s) matched no runbook trigger (fingerprints {}); label them warden_runbook=<id> or add an alertmanager trigger",
                    report.unmatched.len(),
                    terminal_safe(&report.unmatched.join(", "))
                );
            }
            if !report.ignored.is_empty() {
                let ignored: Vec<String> = report
                    .ignored
                    .iter()
                    .map(|(fingerprint, status)| format!("{fingerprint} ({status})"))
                    .collect();
                println!(
                    "{} alert(s) ignored: their status is neither firing nor resolved: {}",
                    report.ignored.len(),
                    terminal_safe(&ignored.join(", "))
                );
            }
        }
    }
    Ok(Code::Ok)
}
