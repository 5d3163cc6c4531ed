//! Output: every command prints either human text or one JSON document on stdout
//! (`--format json`, fields documented in docs/CLI.md). Failures go to stderr as text, or to
//! stdout as `{"error": {...}}` in JSON mode so scripts always get parseable output.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;
use serde::Serialize;

use crate::exit::Failure;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// One JSON document on stdout, stable fields.
    Json,
}

/// The `--format` flag: [`Format`] plus the HTML report of `warden drift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// One JSON document on stdout, stable fields.
    Json,
    /// A self-contained HTML report (`warden drift` only).
    Html,
}

impl OutputFormat {
    /// The format for commands without an HTML report (errors print as text).
    pub fn plain(self) -> Format {
        match self {
            Self::Json => Format::Json,
            Self::Text | Self::Html => Format::Text,
        }
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|err| Failure::runtime(anyhow::anyhow!("cannot encode JSON output: {err}")))?;
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = writeln!(stdout, "{text}");
    Ok(())
}

/// Prints a failure in the chosen format.
pub fn print_failure(format: Format, failure: &Failure) {
    let message = format!("{:#}", failure.error);
    match format {
        // Error messages carry text from outside (a label, a server's answer).
        Format::Text => eprintln!(
            "error: {}",
            warden_core::text::terminal_safe_lines(&message)
        ),
        Format::Json => {
            let body = serde_json::json!({
                "error": { "message": message, "exit_code": failure.code as u8 }
            });
            println!("{body}");
        }
    }
}

/// Writes a progress line to stderr when it is a terminal (never into pipes or logs).
pub fn progress(message: &str) {
    let stderr = std::io::stderr();
    if stderr.is_terminal() {
        let _ = writeln!(stderr.lock(), "{message}");
    }
}
