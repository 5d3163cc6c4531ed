//! `warden config check FILE [--connect]`: validates the configuration (exit 1 with every
//! problem located as `file:line:column: field: message`), and with `--connect` probes the
//! store and every configured connector (exit 3 when one is unreachable).

use std::time::Instant;

use anyhow::anyhow;
use serde::Serialize;
use warden_config::{Config, ConfigError};
use warden_connect::{ProbeReport, ProbeStatus, probe_connectors};
use warden_store::Store;

use crate::cli::CheckArgs;
use crate::exit::{Code, Failure};
use crate::output::{self, Format};

/// The JSON document of `warden config check --format json`.
#[derive(Debug, Serialize)]
struct CheckReport<'a> {
    /// The file checked.
    file: String,
    /// Whether it is a valid configuration.
    valid: bool,
    /// Every problem, in file order (empty when valid).
    errors: Vec<ConfigError>,
    /// The validated configuration with defaults filled in (secrets as references only).
    config: Option<&'a Config>,
    /// With `--connect`: one report per probed system, the store first.
    probes: Vec<ProbeReport>,
}

/// Runs the check.
pub async fn run(format: Format, args: CheckArgs) -> Result<Code, Failure> {
    let text = std::fs::read_to_string(&args.file).map_err(|err| {
        Failure::input(anyhow!("{}: cannot read file: {err}", args.file.display()))
    })?;
    let file = args.file.display().to_string();
    // Every check `warden up` makes short of connecting, all problems at once: the values,
    // then (on the configuration as far as it is valid) the runbooks that load, and whether
    // the runbook modules can use what the configuration gives them.
    let (config, mut errors) = match warden_config::parse_all(&args.file, &text) {
        Ok(checked) => checked,
        Err(errors) => {
            let report = CheckReport {
                file,
                valid: false,
                errors: errors.0,
                config: None,
                probes: Vec::new(),
            };
            match format {
                Format::Json => output::print_json(&report)?,
                Format::Text => print_errors(&report.errors, &text, &args.file),
            }
            return Ok(Code::Detected);
        }
    };
    let invalid_values = !errors.is_empty();
    let (runbooks, runbook_errors) = warden_runbook::builtin::load_all_lenient(
        &config.runbooks.paths,
        &config.runbooks.disabled,
    )
    .map_err(|errors| Failure::runtime(anyhow!("built-in runbooks: {errors:?}")))?;
    errors.extend(runbook_errors.into_iter().map(|mut error| {
        if error.field.is_empty() {
            error.field = "runbooks.paths".into();
        }
        error
    }));
    let module_problems: Vec<ConfigError> = warden_runbooks::problems(&config, &runbooks)
        .into_iter()
        .map(|problem| assembly_error(&args.file, problem))
        .filter(|problem| !(invalid_values && restates(problem, &errors)))
        .collect();
    errors.extend(module_problems);
    if !errors.is_empty() {
        let report = CheckReport {
            file,
            valid: false,
            errors,
            config: None,
            probes: Vec::new(),
        };
        match format {
            Format::Json => output::print_json(&report)?,
            Format::Text => print_errors(&report.errors, &text, &args.file),
        }
        return Ok(Code::Detected);
    }
    let probes = if args.connect {
        let count = config.connectors.configured().len() + 1;
        output::progress(&format!(
            "probing the store and {} connector(s)…",
            count - 1
        ));
        let mut probes = vec![probe_store(&config).await];
        probes.extend(probe_connectors(&config.connectors).await);
        if let Some(kubernetes) = &config.connectors.kubernetes {
            probes.push(probe_kubernetes(kubernetes).await);
        }
        probes
    } else {
        Vec::new()
    };
    let code = if probes
        .iter()
        .any(|probe| probe.status == ProbeStatus::Failed)
    {
        Code::Runtime
    } else {
        Code::Ok
    };
    let report = CheckReport {
        file,
        valid: true,
        errors: Vec::new(),
        config: Some(&config),
        probes,
    };
    match format {
        Format::Json => output::print_json(&report)?,
        Format::Text => print_summary(&config, &report),
    }
    Ok(code)
}

/// Whether a module's problem only restates a value already reported invalid: the same field
/// or one inside it, or a missing connector when a connector's value was the problem (an
/// invalid value is left at its default, so what needs it says it is missing).
fn restates(problem: &ConfigError, errors: &[ConfigError]) -> bool {
    let within = |a: &str, b: &str| {
        a == b || a.starts_with(&format!("{b}.")) || a.starts_with(&format!("{b}["))
    };
    errors.iter().any(|error| {
        within(&problem.field, &error.field)
            || within(&error.field, &problem.field)
            || (error.field.starts_with("connectors.")
                && problem.message.contains("needs connectors."))
    })
}

/// Kubernetes, probed here rather than with the other connectors so kube's dependencies stay
/// out of `warden-connect`: the client is built as actions build it and asks `GET /version`.
async fn probe_kubernetes(kubernetes: &warden_config::KubernetesConfig) -> ProbeReport {
    let started = Instant::now();
    match warden_kube::KubeClient::connect(kubernetes).await {
        Ok(client) => {
            let outcome = client
                .server_version()
                .await
                .map(|version| format!("API server {version}"))
                .map_err(|err| err.to_string());
            ProbeReport::finish("kubernetes", client.server().to_string(), started, outcome)
        }
        Err(err) => {
            let target = match &kubernetes.kubeconfig {
                Some(path) => format!("kubeconfig {}", path.display()),
                None => "in-cluster".to_string(),
            };
            ProbeReport::finish("kubernetes", target, started, Err(err.to_string()))
        }
    }
}

/// A runbook module's problem as a configuration error, located at its key.
fn assembly_error(file: &std::path::Path, problem: warden_runbooks::AssemblyError) -> ConfigError {
    match problem {
        warden_runbooks::AssemblyError::Config { key, message } => {
            ConfigError::unlocated(file, key, message)
        }
        other => ConfigError::unlocated(file, "", other.to_string()),
    }
}

async fn probe_store(config: &Config) -> ProbeReport {
    let started = Instant::now();
    let (target, outcome) = match Store::connect(&config.store).await {
        Ok(store) => {
            let target = store.target().to_string();
            let outcome = store
                .ping()
                .await
                .map(|info| format!("{} {}", info.backend, info.version))
                .map_err(|err| err.to_string());
            store.close().await;
            (target, outcome)
        }
        Err(err) => (String::new(), Err(err.to_string())),
    };
    ProbeReport::finish("store", target, started, outcome)
}

fn print_errors(errors: &[ConfigError], text: &str, file: &std::path::Path) {
    let lines: Vec<&str> = text.lines().collect();
    for error in errors {
        eprintln!("{}", warden_core::text::terminal_safe(&error.to_string()));
        // Only the configuration's own lines are shown (a runbook file's error names its file).
        if error.file != file {
            continue;
        }
        let Some(line) = usize::try_from(error.line)
            .ok()
            .and_then(|line| line.checked_sub(1))
            .and_then(|index| lines.get(index))
        else {
            continue;
        };
        let number = error.line.to_string();
        eprintln!("{} |", " ".repeat(number.len()));
        eprintln!("{number} | {line}");
        let caret_at = usize::try_from(error.column.saturating_sub(1)).unwrap_or(0);
        eprintln!("{} | {}^", " ".repeat(number.len()), " ".repeat(caret_at));
    }
    let noun = if errors.len() == 1 {
        "problem"
    } else {
        "problems"
    };
    eprintln!("{} {noun} found", errors.len());
}

fn print_summary(config: &Config, report: &CheckReport<'_>) {
    println!("{}: valid", report.file);
    let store = match &config.store {
        warden_config::StoreConfig::Sqlite { path } => format!("sqlite {}", path.display()),
        warden_config::StoreConfig::Postgres { url, .. } => {
            format!("postgres ({})", url.describe())
        }
    };
    println!("  store       {store}");
    println!("  server      {}", config.server.listen);
    let connectors = config.connectors.configured();
    println!(
        "  connectors  {}",
        if connectors.is_empty() {
            "none".to_string()
        } else {
            connectors.join(", ")
        }
    );
    if !report.probes.is_empty() {
        println!();
        for probe in &report.probes {
            let status = match probe.status {
                ProbeStatus::Ok => "ok",
                ProbeStatus::Failed => "FAILED",
                ProbeStatus::Skipped => "skipped",
            };
            println!(
                "  {status:<8} {:<15} {} ({} ms)\n           {}",
                probe.component, probe.url, probe.latency_ms, probe.detail
            );
        }
        let failed = report
            .probes
            .iter()
            .filter(|p| p.status == ProbeStatus::Failed)
            .count();
        if failed > 0 {
            println!(
                "\n{failed} of {} systems unreachable or failing",
                report.probes.len()
            );
        }
    }
}
