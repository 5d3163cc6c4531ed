//! The command-line grammar (clap derive). Every command's `--help` ends with a real example.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::Format;

/// Warden: MLOps incident runbooks, made executable.
#[derive(Debug, Parser)]
#[command(name = "warden", version)]
#[command(
    after_help = "Exit codes: 0 ok, 1 something detected or a check failed, \
                        2 usage or input error, 3 runtime or connectivity error.\n\n\
                        Example:\n  warden config check warden.yaml --connect"
)]
pub struct Cli {
    /// Output format: `text` for people, `json` for scripts (stable fields, see docs/CLI.md).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub format: Format,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check and explore warden.yaml.
    #[command(after_help = "Example:\n  warden config check warden.yaml")]
    Config {
        /// What to do with the configuration.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// List, show and lint runbooks.
    #[command(after_help = "Example:\n  warden runbooks show serving-latency")]
    Runbooks {
        /// What to do with the runbooks.
        #[command(subcommand)]
        command: RunbooksCommand,
    },
}

/// `warden runbooks …`
#[derive(Debug, Subcommand)]
pub enum RunbooksCommand {
    /// List the runbooks in effect: the five built-in ones plus those the configuration adds.
    #[command(after_help = "Examples:\n  warden runbooks list\n  \
                            warden runbooks list --config warden.yaml --format json")]
    List(RunbookSource),
    /// Show one runbook's triggers and steps, phase by phase.
    #[command(after_help = "Example:\n  warden runbooks show model-regression")]
    Show {
        /// The runbook id.
        id: String,
        /// Where runbooks come from.
        #[command(flatten)]
        source: RunbookSource,
    },
    /// Lint runbook files or directories: every problem as file:line:column: field: message.
    #[command(after_help = "Example:\n  warden runbooks lint runbooks/")]
    Lint {
        /// Runbook files, or directories of *.yaml / *.yml files.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

/// Which runbooks are in effect.
#[derive(Debug, Args)]
pub struct RunbookSource {
    /// A warden.yaml whose `runbooks:` section adds, replaces or disables runbooks.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `warden config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file; with --connect, also probe every configured system.
    #[command(after_help = "Examples:\n  warden config check warden.yaml\n  \
                            warden config check warden.yaml --connect --format json")]
    Check(CheckArgs),
    /// Print a commented example configuration to start from.
    #[command(after_help = "Example:\n  warden config example > warden.yaml")]
    Example,
}

/// Arguments of `warden config check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file.
    #[arg(value_name = "FILE", default_value = "warden.yaml")]
    pub file: PathBuf,

    /// Also connect to the store and every configured connector (resolves secrets).
    #[arg(long)]
    pub connect: bool,
}
