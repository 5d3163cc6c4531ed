//! `warden feast status|check-schema` and `warden feature-proxy`: runbook 4's detection,
//! diagnostics and schema check from the command line, and the fallback proxy that contains
//! a feature-store outage.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use warden_config::{Config, HttpEndpoint, Secret};
use warden_feast::FeatureServerClient;
use warden_feast::freshness::FreshnessStatus;
use warden_feast::proxy::{FeatureProxy, ProxyMode, ProxySettings};
use warden_feast::redis_layout::EntityValue;
use warden_feast::schema::{self, SchemaCheck};
use warden_feast::status::{self, FeastSources, FeastStatus, StatusOptions};

use crate::exit::{Code, Failure};
use crate::output::{self, Format};

/// `warden feast …`
#[derive(Debug, Subcommand)]
pub enum FeastCommand {
    /// Freshness per feature view against the SLA, missing values over sampled entities, the
    /// online store's and feature server's health, and the ranked causes. Exit 1 when any of
    /// them is not fine.
    #[command(
        after_help = "Exit codes: 0 all fresh and healthy, 1 a problem found, 2 bad \
                            configuration, 3 registry unreadable.\n\nExamples:\n  \
                            warden feast status --config warden.yaml\n  \
                            warden feast status --sla 30m --entity store_id=1 --entity store_id=2 --format json"
    )]
    Status(StatusArgs),
    /// Compare every feature view's registry schema with its offline source's columns and
    /// with sampled online values; exit 1 on any mismatch (for CI).
    #[command(
        after_help = "Exit codes: 0 schemas agree, 1 a mismatch, 2 bad input, 3 registry \
                            unreadable.\n\nExample:\n  warden feast check-schema --config warden.yaml --repo feature_repo/"
    )]
    CheckSchema(CheckSchemaArgs),
    /// Runbook 4's closure gates: freshness within the SLA, sampled online values equal to
    /// the latest offline values, materialization on schedule over the window. Exit 1 until
    /// all pass.
    #[command(
        after_help = "Exit codes: 0 all gates pass, 1 a gate fails, 2 bad input, 3 registry \
                            unreadable.\n\nExample:\n  warden feast closure --config warden.yaml --repo feature_repo/ --window 24h"
    )]
    Closure(ClosureArgs),
}

/// `warden feast closure`
#[derive(Debug, Args)]
pub struct ClosureArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// The Feast repository directory: relative offline source paths are read from here.
    #[arg(long, value_name = "DIR", default_value = ".")]
    repo: PathBuf,
    /// Freshness SLA, also the longest allowed gap between materialization runs.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = crate::cli::parse_duration_arg)]
    sla: Duration,
    /// How long materialization must have run on schedule.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = crate::cli::parse_duration_arg)]
    window: Duration,
}

/// Where Feast is and what to sample.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// The configuration file (`connectors.feast`).
    #[arg(long, value_name = "FILE", default_value = "warden.yaml")]
    config: PathBuf,
    /// Sample this entity (`key=value[,key=value]`, repeatable); default: entities found in
    /// Redis.
    #[arg(long = "entity", value_name = "KEY=VALUE")]
    entities: Vec<String>,
    /// Entities to sample when none are given.
    #[arg(long, default_value_t = 100)]
    sample: usize,
}

/// `warden feast status`
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Freshness SLA: materialized data at most this far behind now.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = crate::cli::parse_duration_arg)]
    sla: Duration,
    /// Share of missing sampled values that makes a view `missing`.
    #[arg(long, default_value_t = warden_feast::freshness::DEFAULT_MISSING_RATE)]
    missing_rate: f64,
}

/// `warden feast check-schema`
#[derive(Debug, Args)]
pub struct CheckSchemaArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// The Feast repository directory: relative offline source paths are read from here.
    #[arg(long, value_name = "DIR", default_value = ".")]
    repo: PathBuf,
}

/// How `warden feature-proxy` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Ask Feast; fill failures and bad values from the cache.
    Auto,
    /// Answer from the cache only.
    Fallback,
}

/// `warden feature-proxy`
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The Feast feature server to stand in front of.
    #[arg(long, value_name = "URL")]
    feature_server: url::Url,
    /// Where to listen (loopback by default).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:6567")]
    listen: SocketAddr,
    /// Starting mode.
    #[arg(long, value_enum, default_value = "auto")]
    mode: ModeArg,
    /// How long Feast may take before the cache answers.
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = crate::cli::parse_duration_arg)]
    timeout: Duration,
    /// Treat values whose event time is older than this as stale (default: only missing
    /// values are replaced).
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::parse_duration_arg)]
    max_age: Option<Duration>,
    /// How long a cached value may be served.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = crate::cli::parse_duration_arg)]
    cache_ttl: Duration,
    /// Most values cached.
    #[arg(long, default_value_t = 1_000_000)]
    max_entries: usize,
    /// A file holding the bearer token required by `POST /warden/mode`.
    #[arg(long, value_name = "FILE")]
    control_token_file: Option<PathBuf>,
}

fn parse_entity(text: &str) -> Result<Vec<(String, EntityValue)>, Failure> {
    text.split(',')
        .map(|pair| {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                Failure::input(anyhow!("--entity {text:?}: expected key=value[,key=value]"))
            })?;
            let value = match value.parse::<i64>() {
                Ok(number) => EntityValue::Int64(number),
                Err(_) => EntityValue::String(value.to_string()),
            };
            Ok((key.trim().to_string(), value))
        })
        .collect()
}

fn sources(config: &Config, path: &Path) -> Result<FeastSources, Failure> {
    let feast = config.connectors.feast.as_ref().ok_or_else(|| {
        Failure::input(anyhow!(
            "{}: connectors.feast is not configured",
            path.display()
        ))
    })?;
    warden_runbooks::feature_store::sources(feast)
        .map_err(|err| Failure::input(anyhow!("{}: {err}", path.display())))
}

async fn collect(source: &SourceArgs, options: StatusOptions) -> Result<FeastStatus, Failure> {
    let config = warden_config::load(&source.config).map_err(Failure::input)?;
    let sources = sources(&config, &source.config)?;
    let entities = source
        .entities
        .iter()
        .map(|text| parse_entity(text))
        .collect::<Result<Vec<_>, _>>()?;
    output::progress("reading the registry, the online store and the feature server…");
    status::collect(
        &sources,
        &StatusOptions {
            entities,
            sample_size: source.sample,
            ..options
        },
        chrono::Utc::now(),
    )
    .await
    .map_err(|err| Failure::runtime(anyhow!("cannot read the Feast registry: {err}")))
}

/// `warden feast …`
pub async fn run(format: Format, command: FeastCommand) -> Result<Code, Failure> {
    match command {
        FeastCommand::Status(args) => {
            let options = StatusOptions {
                sla: args.sla,
                missing_threshold: args.missing_rate,
                ..StatusOptions::default()
            };
            let found = collect(&args.source, options).await?;
            match format {
                Format::Json => output::print_json(&found)?,
                Format::Text => print_status(&found),
            }
            Ok(if found.ok { Code::Ok } else { Code::Detected })
        }
        FeastCommand::Closure(args) => {
            let options = StatusOptions {
                sla: args.sla,
                ..StatusOptions::default()
            };
            let found = collect(&args.source, options).await?;
            let config = warden_config::load(&args.source.config).map_err(Failure::input)?;
            let views = sources(&config, &args.source.config)?
                .registry
                .feature_views()
                .await
                .map_err(|err| {
                    Failure::runtime(anyhow!("cannot read the Feast registry: {err}"))
                })?;
            let gates =
                warden_feast::closure::evaluate(&found, &views, &args.repo, args.window, args.sla);
            let passed = gates.iter().all(|g| g.passed);
            match format {
                Format::Json => output::print_json(&serde_json::json!({
                    "passed": passed,
                    "gates": gates,
                }))?,
                Format::Text => {
                    for gate in &gates {
                        println!(
                            "{} {}",
                            if gate.passed { "PASS" } else { "FAIL" },
                            gate.gate
                        );
                        for line in &gate.details {
                            println!("     {line}");
                        }
                    }
                }
            }
            Ok(if passed { Code::Ok } else { Code::Detected })
        }
        FeastCommand::CheckSchema(args) => {
            let found = collect(&args.source, StatusOptions::default()).await?;
            let config = warden_config::load(&args.source.config).map_err(Failure::input)?;
            let registry = sources(&config, &args.source.config)?.registry;
            let views = registry.feature_views().await.map_err(|err| {
                Failure::runtime(anyhow!("cannot read the Feast registry: {err}"))
            })?;
            let mut checks: Vec<SchemaCheck> = Vec::new();
            for view in &views {
                let offline = match &view.source_uri {
                    Some(uri) => Some(
                        warden_runbooks::feature_store::offline_fields(&args.repo, uri)
                            .map_err(|err| Failure::input(anyhow!(err)))?,
                    ),
                    None => None,
                };
                let online = found
                    .sampled_values
                    .get(&view.name)
                    .cloned()
                    .unwrap_or_default();
                checks.extend(schema::check_view(view, offline.as_deref(), &online));
            }
            let problems = schema::problems(&checks);
            let ok = problems.is_empty();
            match format {
                Format::Json => output::print_json(&SchemaReport {
                    ok,
                    checks: &checks,
                    problems: &problems,
                })?,
                Format::Text => {
                    for check in &checks {
                        println!(
                            "{:<4} {}.{:<20} registry {:<8} {:<8} {}",
                            if check.ok { "ok" } else { "FAIL" },
                            check.view,
                            check.column,
                            check.registry_type,
                            check.against,
                            check.found
                        );
                    }
                    println!(
                        "{}",
                        if ok {
                            "schemas agree".to_string()
                        } else {
                            format!("{} mismatch(es)", problems.len())
                        }
                    );
                }
            }
            Ok(if ok { Code::Ok } else { Code::Detected })
        }
    }
}

#[derive(Serialize)]
struct SchemaReport<'a> {
    ok: bool,
    checks: &'a [SchemaCheck],
    problems: &'a [String],
}

fn print_status(found: &FeastStatus) {
    println!(
        "{:<28} {:<8} {:>14} {:>10} {:>9} {:>8}",
        "view", "status", "materialized", "lag", "missing", "sampled"
    );
    for view in &found.views {
        println!(
            "{:<28} {:<8} {:>14} {:>10} {:>8.1}% {:>8}",
            view.view,
            match view.status {
                FreshnessStatus::Fresh => "fresh",
                FreshnessStatus::Stale => "STALE",
                FreshnessStatus::Missing => "MISSING",
            },
            view.materialized_until
                .map(|t| t.format("%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "never".into()),
            view.materialization_lag_seconds
                .map(|s| warden_core::format_duration(Duration::from_secs(s.max(0.0) as u64)))
                .unwrap_or_else(|| "-".into()),
            view.missing_rate * 100.0,
            view.sampled_entities
        );
        for problem in &view.problems {
            println!("  - {problem}");
        }
    }
    if let Some(store) = &found.store {
        match (store.reachable, store.ping_ms) {
            (true, Some(ping)) => println!(
                "online store {}: reachable, PING {ping:.1} ms, memory {}, evicted {}, rejected {}",
                store.url,
                store
                    .memory_utilization
                    .map(|m| format!("{:.0}% of maxmemory", m * 100.0))
                    .unwrap_or_else(|| "no limit".into()),
                store.evicted_keys.unwrap_or(0),
                store.rejected_connections.unwrap_or(0)
            ),
            _ => println!(
                "online store {}: UNREACHABLE ({})",
                store.url,
                store.error.as_deref().unwrap_or("")
            ),
        }
    }
    if let Some(server) = &found.feature_server {
        println!(
            "feature server {}: {}",
            server.url,
            server.error.as_deref().unwrap_or("answering")
        );
    }
    if found.causes.is_empty() {
        println!(
            "{}",
            if found.ok {
                "all fresh and healthy"
            } else {
                "problems found"
            }
        );
    } else {
        println!("likely causes:");
        for cause in &found.causes {
            println!("  {} ({:.0}%)", cause.cause, cause.confidence * 100.0);
            for line in &cause.evidence {
                println!("    · {line}");
            }
        }
    }
}

/// `warden feature-proxy`: serves until interrupted.
pub async fn proxy(format: Format, args: ProxyArgs) -> Result<Code, Failure> {
    let control_token = match &args.control_token_file {
        Some(path) => Some(Secret::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("--control-token-file {}", path.display()))
                .map_err(Failure::input)?
                .trim()
                .to_string(),
        )),
        None => None,
    };
    let upstream = FeatureServerClient::new(&HttpEndpoint {
        url: args.feature_server.clone(),
        timeout: args.timeout,
    })
    .map_err(Failure::runtime)?;
    let settings = ProxySettings {
        cache_ttl: args.cache_ttl,
        max_age: args.max_age,
        max_entries: args.max_entries,
        control_token,
    };
    let mode = match args.mode {
        ModeArg::Auto => ProxyMode::Auto,
        ModeArg::Fallback => ProxyMode::Fallback,
    };
    let proxy = Arc::new(FeatureProxy::new(upstream, settings, mode));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))
        .map_err(Failure::runtime)?;
    let address = listener
        .local_addr()
        .map_err(|err| Failure::runtime(anyhow!(err)))?;
    match format {
        Format::Json => output::print_json(&serde_json::json!({
            "listening": address.to_string(),
            "feature_server": args.feature_server.to_string(),
            "mode": mode,
        }))?,
        Format::Text => println!(
            "feature proxy on http://{address} in front of {} ({mode:?} mode)",
            args.feature_server
        ),
    }
    // Answers are small and latency is the point: no Nagle delay on them.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, proxy.router())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|err| Failure::runtime(anyhow!("feature proxy stopped: {err}")))?;
    Ok(Code::Ok)
}
