//! Runbooks as code (R6.1). A runbook is a YAML file: an id, a title, a severity, triggers
//! (detectors or Alertmanager label matchers) and steps in five phases — containment,
//! diagnostics, causes, fixes, validation. Each step is exactly one of an automated action, an
//! evidence collection, a cause hypothesis, a closure gate or a manual checklist item, with an
//! approval policy, `when` conditions, retries and a timeout.
//!
//! - [`parse`] reads and lints one file into a [`Runbook`]; every problem is a
//!   `file:line:column: field: message` [`LintError`].
//! - [`catalog`] lists the actions, evidence collectors, gate checks and detectors a step may
//!   name, with their parameters, and whether Warden automates them yet.
//! - [`builtin`] embeds the five runbooks of the spec.
//!
//! The format is documented in `docs/RUNBOOKS.md`.

pub mod builtin;
pub mod catalog;
mod lint;
pub mod model;
mod raw;

use std::path::Path;

pub use model::{
    AlertMatcher, ApprovalPolicy, Condition, Gate, Outcome, Phase, Retry, Runbook, Step, StepKind,
    Trigger,
};

/// A located problem in a runbook file (the same shape as configuration errors).
pub type LintError = warden_config::ConfigError;

/// Parses and lints runbook `text` read from `file`.
///
/// # Errors
/// Every problem found, in file order.
pub fn parse(file: &Path, text: &str) -> Result<Runbook, Vec<LintError>> {
    let raw = raw::parse(file, text).map_err(|error| vec![error])?;
    lint::lint(file, raw)
}

/// Reads, parses and lints the runbook file at `path`.
///
/// # Errors
/// As [`parse`], or one error when the file cannot be read.
pub fn load(path: &Path) -> Result<Runbook, Vec<LintError>> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        vec![LintError::unlocated(
            path,
            "",
            format!("cannot read file: {err}"),
        )]
    })?;
    parse(path, &text)
}
