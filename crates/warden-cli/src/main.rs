//! `warden`: the command-line entry point. Parses arguments, runs one command, prints its
//! result as text or JSON, and exits with a documented code (see [`exit`]).

mod cli;
mod commands;
mod demo;
mod exit;
mod output;

use clap::Parser;

/// mimalloc keeps freed memory for reuse: the drift engine allocates and frees column-sized
/// buffers (8 MB per million values) dozens of times per run, and with the system allocator
/// each one came back as fresh pages — a third of `warden drift`'s time went to page faults.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::cli::{AlertsCommand, Cli, Command, ConfigCommand, RunbooksCommand};
use crate::exit::Failure;

/// `warden … | head` closes stdout early; Rust's `println!` then panics. A closed pipe means
/// the reader has what it wanted, so exit quietly instead of printing a panic.
fn exit_quietly_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> std::process::ExitCode {
    exit_quietly_on_closed_pipe();
    let cli = Cli::parse();
    let format = cli.format.plain();
    let result = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(err) => Err(Failure::runtime(anyhow::anyhow!(
            "cannot start the async runtime: {err}"
        ))),
    };
    match result {
        Ok(code) => code.into(),
        Err(failure) => {
            output::print_failure(format, &failure);
            failure.code.into()
        }
    }
}

async fn run(cli: Cli) -> Result<exit::Code, Failure> {
    let requested = cli.format;
    if let Command::Drift(args) = cli.command {
        // The statistics run on their own threads; the async runtime only waits.
        return tokio::task::spawn_blocking(move || commands::drift::run(requested, args))
            .await
            .map_err(|err| Failure::runtime(anyhow::anyhow!("drift worker failed: {err}")))?;
    }
    if requested == output::OutputFormat::Html {
        return Err(Failure::input(anyhow::anyhow!(
            "--format html is only available for `warden drift`"
        )));
    }
    let format = requested.plain();
    match cli.command {
        Command::Drift(_) => Ok(exit::Code::Ok),
        Command::Up {
            config,
            listen,
            advance_every,
        } => commands::up::run(format, &config, listen, advance_every).await,
        Command::Demo {
            out,
            hour_ms,
            listen,
            seed,
        } => {
            let options = demo::DemoOptions {
                out,
                hour_ms,
                listen,
                seed,
            };
            demo::run(format, options).await
        }
        Command::Config { command } => match command {
            ConfigCommand::Check(args) => commands::config_check::run(format, args).await,
            ConfigCommand::Example => commands::config_example::run(format),
        },
        Command::Runbooks { command } => match command {
            RunbooksCommand::List(source) => commands::runbooks::list(format, &source),
            RunbooksCommand::Show { id, source } => commands::runbooks::show(format, &id, &source),
            RunbooksCommand::Lint { paths } => commands::runbooks::lint(format, &paths),
        },
        Command::Incidents { config, command } => {
            commands::incidents::run(format, &config, command).await
        }
        Command::Reviews { config, command } => {
            commands::reviews::run(format, &config, command).await
        }
        Command::Feast { command } => commands::feast::run(format, command).await,
        Command::FeatureProxy(args) => commands::feast::proxy(format, *args).await,
        Command::Loadtest(args) => commands::loadtest::run(format, *args).await,
        Command::Evaluate(args) => commands::evaluate::run(format, *args).await,
        Command::Compare(args) => commands::compare::run(format, *args).await,
        Command::Validate(args) => commands::validate::run(format, *args).await,
        Command::Rollout { command } => commands::rollout::run(format, command).await,
        Command::Pipelines { command } => commands::pipelines::run(format, command),
        Command::Alerts { config, command } => match command {
            AlertsCommand::Ingest { file } => {
                commands::alerts::ingest(format, &config, &file).await
            }
        },
    }
}
