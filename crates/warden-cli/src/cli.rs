//! The command-line grammar (clap derive). Every command's `--help` ends with a real example.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::OutputFormat;

/// Warden: MLOps incident runbooks, made executable.
#[derive(Debug, Parser)]
#[command(name = "warden", version)]
#[command(
    after_help = "Exit codes: 0 ok, 1 something detected or a check failed, \
                        2 usage or input error, 3 runtime or connectivity error.\n\n\
                        Example:\n  warden config check warden.yaml --connect"
)]
pub struct Cli {
    /// Output format: `text` for people, `json` for scripts (stable fields, see docs/CLI.md),
    /// `html` for the drift report.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub format: OutputFormat,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: the HTTP API, the Alertmanager webhook and /metrics.
    #[command(after_help = "Example:\n  warden up --config warden.yaml")]
    Up {
        /// The configuration file.
        #[arg(long, value_name = "FILE", default_value = "warden.yaml")]
        config: PathBuf,
        /// Listen here instead of server.listen.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// How often every active incident's runbook is advanced, besides on each event.
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration_arg)]
        advance_every: std::time::Duration,
    },
    /// Replay a week of a demand-forecast service in which each of the five incident types
    /// happens once, on simulated systems Warden really acts on: incidents open, runbooks run,
    /// post-mortems drafted.
    #[command(
        after_help = "Examples:\n  warden demo\n  warden demo --hour-ms 0 --out /tmp/warden-demo\n  \
                            warden demo --listen 127.0.0.1:8181"
    )]
    Demo {
        /// Where the demo's store, evidence and post-mortems go.
        #[arg(long, value_name = "DIR", default_value = "warden-demo")]
        out: PathBuf,
        /// Real milliseconds per simulated hour (0: as fast as possible).
        #[arg(long, default_value_t = 300)]
        hour_ms: u64,
        /// Also serve the API (read-only) here while the week replays.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// Seed of the generated week.
        #[arg(long, default_value_t = 20261116)]
        seed: u64,
    },
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
    /// List, inspect and act on incidents in the store.
    #[command(after_help = "Example:\n  warden incidents list --active")]
    Incidents {
        /// The configuration file (store location).
        #[arg(
            long,
            global = true,
            value_name = "FILE",
            default_value = "warden.yaml"
        )]
        config: PathBuf,
        /// What to do.
        #[command(subcommand)]
        command: IncidentsCommand,
    },
    /// Yes/no questions Warden waits on outside incidents: a drift alert that would start
    /// retraining, when the monitor's retraining needs a review.
    #[command(
        after_help = "Exit codes: 0 done, 1 approved but the retraining could not be started \
                            (approve again to retry), 2 no such review or decided the other way, \
                            3 the state cannot be read.\n\nExamples:\n  warden reviews list --pending\n  \
                            warden reviews approve demand-forecast-r3 --as ana --reason \"real shift in prices\"\n  \
                            warden reviews reject demand-forecast-r4 --as ana --reason \"holiday traffic\""
    )]
    Reviews {
        /// The configuration file (drift monitors, store).
        #[arg(
            long,
            global = true,
            value_name = "FILE",
            default_value = "warden.yaml"
        )]
        config: PathBuf,
        /// What to do.
        #[command(subcommand)]
        command: ReviewsCommand,
    },
    /// Compare data with a reference: per-column drift decisions that need significance and
    /// an effect above a calibrated threshold; profiles and backtests.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Exit codes: 0 no drift, 1 drift found, 2 bad input.\n\nExamples:\n  \
                      warden drift --reference ref.parquet --current prediction-logs/\n  \
                      warden drift --reference ref.parquet --current logs/2026-11-21/ --seasonal day-of-week\n  \
                      warden drift --current prediction-logs/ --reference-window 28d --window 1d --format html > drift.html\n  \
                      warden drift --reference s3://ml-logs/ref/ --current s3://ml-logs/prediction-logs/2026-11-24/ --segment store_id"
    )]
    Drift(Box<crate::commands::drift::DriftArgs>),
    /// Feast feature store: freshness, online-store health and causes; schema check for CI.
    #[command(
        after_help = "Examples:\n  warden feast status --config warden.yaml\n  \
                            warden feast check-schema --config warden.yaml --repo feature_repo/"
    )]
    Feast {
        /// What to check.
        #[command(subcommand)]
        command: crate::commands::feast::FeastCommand,
    },
    /// Serve a Feast-compatible /get-online-features that caches last-known-good values and
    /// answers from them when Feast fails, times out, or returns missing or stale values.
    #[command(
        after_help = "Control: GET /warden/status, POST /warden/mode {\"mode\": \"fallback\"|\"auto\"}, GET /metrics.\n\n\
                      Examples:\n  warden feature-proxy --feature-server http://127.0.0.1:6566 --listen 127.0.0.1:6567\n  \
                      warden feature-proxy --feature-server http://feast:6566 --max-age 2h --control-token-file proxy.token"
    )]
    FeatureProxy(Box<crate::commands::feast::ProxyArgs>),
    /// Open-loop load on a V2 inference endpoint: p50/p95/p99, error rate, achieved rate
    /// (the runbook's capacity-headroom check). Loopback and --allow-host hosts only.
    #[command(
        after_help = "Exit codes: 0 within the SLO, 1 outside it, 2 bad arguments, 3 endpoint unreachable.\n\n\
                      Examples:\n  warden loadtest --endpoint http://127.0.0.1:8080 --model demand-forecast --rps 50 --duration 30s\n  \
                      warden loadtest --endpoint http://10.0.0.7:8080 --allow-host 10.0.0.7 --model m --rps 200 --duration 1m --body request.json --format json"
    )]
    Loadtest(Box<crate::commands::loadtest::LoadtestArgs>),
    /// Model accuracy on prediction logs joined to actuals (MAE, RMSE, MAPE, sMAPE, WAPE,
    /// bias, MASE with bootstrap intervals), or of a model scored through a V2 endpoint.
    #[command(
        after_help = "Exit codes: 0 evaluated, 2 bad input, 3 endpoint unreachable.\n\n\
                      Examples:\n  warden evaluate --predictions prediction-logs/ --actuals actuals.csv --key store_id,item_id,date --by model_version\n  \
                      warden evaluate --actuals recent_actuals.csv --endpoint http://127.0.0.1:8080 --model demand-forecast --feature price,promo,day_of_week --actual units"
    )]
    Evaluate(Box<crate::commands::evaluate::EvaluateArgs>),
    /// Predictions (and features) before vs after a deployment: distributions through the
    /// drift engine, per segment, the series that moved most, the paired change.
    #[command(
        after_help = "Exit codes: 0 no drift, 1 the prediction or a feature drifted, 2 bad input.\n\n\
                      Example:\n  warden compare --before prediction-logs/2026-11-20/ --after prediction-logs/2026-11-24/ --key store_id,item_id,date"
    )]
    Compare(Box<crate::commands::compare::CompareArgs>),
    /// Data checks against a schema or a reference; `parity`: training/serving skew.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Exit codes: 0 all checks pass, 1 a check failed, 2 bad input.\n\n\
                      Examples:\n  warden validate --data recent_actuals.csv --schema actuals.schema.yaml\n  \
                      warden validate --data recent_actuals.csv --reference last_month.parquet --key store_id,date\n  \
                      warden validate parity --training train.parquet --serving prediction-logs/ --key store_id,date"
    )]
    Validate(Box<crate::commands::validate::ValidateArgs>),
    /// Rollout gates for shadow or canary traffic.
    #[command(
        after_help = "Example:\n  warden rollout gate --champion logs/champion/ --challenger logs/shadow/ --actuals actuals.csv --key store_id,date"
    )]
    Rollout {
        /// Which gate.
        #[command(subcommand)]
        command: crate::commands::rollout::RolloutCommand,
    },
    /// Pipeline failures (runbook 1): classify a failed task's cause from its log and events.
    #[command(
        after_help = "Example:\n  warden pipelines classify --log task.log --events events.txt --format json"
    )]
    Pipelines {
        /// What to do.
        #[command(subcommand)]
        command: crate::commands::pipelines::PipelinesCommand,
    },
    /// Feed alerts to Warden without the daemon.
    #[command(after_help = "Example:\n  warden alerts ingest alert.json --config warden.yaml")]
    Alerts {
        /// The configuration file (store and runbooks).
        #[arg(
            long,
            global = true,
            value_name = "FILE",
            default_value = "warden.yaml"
        )]
        config: PathBuf,
        /// What to do.
        #[command(subcommand)]
        command: AlertsCommand,
    },
}

/// `warden reviews …`
#[derive(Debug, Subcommand)]
pub enum ReviewsCommand {
    /// Every review, oldest first.
    List {
        /// Only those that wait for a decision.
        #[arg(long)]
        pending: bool,
    },
    /// Say yes: start what the review holds back (the retraining trigger).
    Approve {
        /// The review id.
        id: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        /// Who you are, for the record.
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Say no: nothing is started.
    Reject {
        /// The review id.
        id: String,
        /// Why (required: a rejection must be explainable later).
        #[arg(long)]
        reason: String,
        /// Who you are, for the record.
        #[command(flatten)]
        actor: ActorArg,
    },
}

/// `warden incidents …`
#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// List incidents, newest first.
    #[command(after_help = "Examples:\n  warden incidents list\n  \
                            warden incidents list --state detected --state contained --format json")]
    List {
        /// Only active incidents (not resolved or closed).
        #[arg(long)]
        active: bool,
        /// Only these states (repeatable): detected, contained, diagnosing, mitigated,
        /// validating, resolved, closed.
        #[arg(long = "state", value_name = "STATE")]
        states: Vec<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one incident: timeline, evidence, steps, approvals, audit log.
    #[command(after_help = "Example:\n  warden incidents show INC-3")]
    Show {
        /// The incident id.
        id: String,
    },
    /// Take the incident: recorded on its timeline and in the audit log.
    #[command(after_help = "Example:\n  warden incidents ack INC-3 --as ana")]
    Ack {
        /// The incident id.
        id: String,
        /// Who you are, for the audit log.
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Approve a runbook step that waits for approval.
    #[command(
        after_help = "Example:\n  warden incidents approve INC-3 rollback --as ana --reason \"v2 regressed\""
    )]
    Approve {
        /// The incident id.
        id: String,
        /// The step id.
        step: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        /// Who you are, for the audit log.
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Reject a runbook step: it will not be executed.
    #[command(
        after_help = "Example:\n  warden incidents reject INC-3 scale --as ana --reason \"HPA caught up\""
    )]
    Reject {
        /// The incident id.
        id: String,
        /// The step id.
        step: String,
        /// Why (required: a rejection must be explainable later).
        #[arg(long)]
        reason: String,
        /// Who you are, for the audit log.
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Record the outcome of a step Warden does not perform itself: a checklist item, a cause,
    /// a gate, or an action done by hand. On a cause, gate or checklist item already decided
    /// (by Warden or a person), a different outcome is a correction: it needs --note, is
    /// audited as a change, and steps the old outcome skipped run again.
    #[command(
        after_help = "Examples:\n  warden incidents complete INC-3 capture-logs --outcome succeeded --as ana\n  \
                            warden incidents complete INC-3 missing-secret --outcome confirmed --note \"token expired\"\n  \
                            warden incidents complete INC-1 autoscaler-lagging --outcome confirmed --note \"HPA max was 3\""
    )]
    Complete {
        /// The incident id.
        id: String,
        /// The step id.
        step: String,
        /// succeeded or failed (items, actions, evidence), confirmed or refuted (causes),
        /// passed or failed (gates).
        #[arg(long)]
        outcome: String,
        /// What was seen or done.
        #[arg(long, default_value = "")]
        note: String,
        /// Who you are, for the audit log.
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Walk the incident's runbook as far as it can go now and show what waits.
    #[command(after_help = "Example:\n  warden incidents advance INC-3")]
    Advance {
        /// The incident id.
        id: String,
    },
    /// Run a failed step again (its attempts start over).
    #[command(after_help = "Example:\n  warden incidents retry INC-3 hpa --as ana")]
    Retry {
        /// The incident id.
        id: String,
        /// The failed step's id.
        step: String,
        /// Who you are, for the audit log.
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Mark an incident resolved. While closure gates have not passed, --override must say
    /// why; the steps still open are then closed as skipped with that reason.
    #[command(
        after_help = "Examples:\n  warden incidents resolve INC-3 --as ana --reason \"p95 back under SLA\"\n  \
                            warden incidents resolve INC-4 --override \"duplicate of INC-3\""
    )]
    Resolve {
        /// The incident id.
        id: String,
        /// Why.
        #[arg(long, default_value = "resolved by a responder")]
        reason: String,
        /// Resolve although closure gates have not passed, for this reason.
        #[arg(long = "override", value_name = "REASON")]
        override_reason: Option<String>,
        /// Who you are, for the audit log.
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Draft the post-mortem in Markdown.
    #[command(after_help = "Example:\n  warden incidents postmortem INC-3 > INC-3.md")]
    Postmortem {
        /// The incident id.
        id: String,
    },
}

/// Who acts.
#[derive(Debug, Args)]
pub struct ActorArg {
    /// Your name as it should appear in the audit log (default: $USER).
    #[arg(
        long = "as",
        value_name = "NAME",
        env = "USER",
        default_value = "unknown"
    )]
    pub name: String,
}

/// `warden alerts …`
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Route an Alertmanager webhook payload (JSON, version 4) through the runbooks' triggers
    /// and open, attach to or reopen incidents — what the daemon's webhook does.
    #[command(after_help = "Example:\n  warden alerts ingest payload.json --config warden.yaml")]
    Ingest {
        /// The payload file; `-` reads standard input.
        file: PathBuf,
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

pub fn parse_duration_arg(text: &str) -> Result<std::time::Duration, String> {
    match warden_core::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("must be greater than zero".to_string()),
        Ok(duration) => Ok(duration),
        Err(err) => Err(err.to_string()),
    }
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
