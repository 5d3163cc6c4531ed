//! `warden loadtest`: the runbook's capacity-headroom check — open-loop load on a V2
//! inference endpoint at a fixed rate for a fixed time, reporting p50/p95/p99, the error
//! rate and the rate achieved; exit 1 when the run misses the SLO given. Loopback and
//! explicitly allowed test hosts only.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;
use warden_serving::loadtest::{self, LoadPlan, LoadReport};

use crate::exit::{Code, Failure};
use crate::output::{self, Format};

/// `warden loadtest` arguments.
#[derive(Debug, Args)]
pub struct LoadtestArgs {
    /// Base URL of the V2 server, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    pub endpoint: url::Url,
    /// The model name.
    #[arg(long, value_name = "NAME")]
    pub model: String,
    /// Requests per second (at most 2000).
    #[arg(long, value_name = "N")]
    pub rps: f64,
    /// How long (at most 10m).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::cli::parse_duration_arg)]
    pub duration: Duration,
    /// The inference request (JSON); default: zeros for the inputs the model's metadata declares.
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
    /// Per-request timeout.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = crate::cli::parse_duration_arg)]
    pub timeout: Duration,
    /// The SLO's p95 in milliseconds: exit 1 when the run's p95 is not below it.
    #[arg(long, value_name = "MS", default_value_t = 200.0)]
    pub p95_ms: f64,
    /// The SLO's error rate: exit 1 when the run's is not below it.
    #[arg(long, value_name = "SHARE", default_value_t = 0.005)]
    pub max_error_rate: f64,
    /// A non-loopback host that may be loaded (a test host); repeatable.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
}

async fn request_body(args: &LoadtestArgs, plan: &LoadPlan) -> Result<serde_json::Value, Failure> {
    if let Some(path) = &args.body {
        let text = std::fs::read_to_string(path)
            .map_err(|err| Failure::input(anyhow!("{}: {err}", path.display())))?;
        return serde_json::from_str(&text)
            .map_err(|err| Failure::input(anyhow!("{}: not JSON: {err}", path.display())));
    }
    let url = plan
        .endpoint
        .join(&format!("v2/models/{}", plan.model))
        .map_err(|err| Failure::input(anyhow!("{}: {err}", plan.endpoint)))?;
    let response = reqwest::Client::new()
        .get(url.clone())
        .timeout(plan.timeout)
        .send()
        .await
        .map_err(|err| Failure::runtime(anyhow!("{url}: {err}")))?;
    if !response.status().is_success() {
        return Err(Failure::runtime(anyhow!(
            "{url} answered {}",
            response.status()
        )));
    }
    let metadata: serde_json::Value = response
        .json()
        .await
        .map_err(|err| Failure::runtime(anyhow!("{url}: {err}")))?;
    loadtest::body_from_metadata(&metadata).map_err(|err| Failure::input(anyhow!(err.0)))
}

fn print_text(report: &LoadReport, within: bool, args: &LoadtestArgs) {
    println!(
        "{} requests in {:.1} s: {:.1} req/s achieved of {:.1} asked",
        report.sent, report.seconds, report.achieved_rps, report.target_rps
    );
    println!(
        "latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        report.p50_ms, report.p95_ms, report.p99_ms, report.max_ms
    );
    let outcomes: Vec<String> = report
        .outcomes
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    println!(
        "errors {:.2}% ({})",
        report.error_rate * 100.0,
        outcomes.join(", ")
    );
    if report.max_schedule_lag_ms > 50.0 {
        println!(
            "note: the generator fell {:.0} ms behind its schedule; the machine running it is the limit",
            report.max_schedule_lag_ms
        );
    }
    println!(
        "{}: p95 < {} ms and errors < {:.2}%",
        if within {
            "within the SLO"
        } else {
            "OUTSIDE the SLO"
        },
        args.p95_ms,
        args.max_error_rate * 100.0
    );
}

/// Runs the load test.
pub async fn run(format: Format, args: LoadtestArgs) -> Result<Code, Failure> {
    let plan = LoadPlan {
        endpoint: args.endpoint.clone(),
        model: args.model.clone(),
        rps: args.rps,
        duration: args.duration,
        timeout: args.timeout,
        body: serde_json::Value::Null,
        allowed_hosts: args.allow_hosts.clone(),
    };
    let total = loadtest::validate(&plan).map_err(|err| Failure::input(anyhow!(err.0)))?;
    let body = request_body(&args, &plan).await?;
    let plan = LoadPlan { body, ..plan };
    output::progress(&format!(
        "warden: {total} requests at {} req/s to {}v2/models/{}/infer",
        plan.rps, plan.endpoint, plan.model
    ));
    let report = loadtest::run(&plan, |sent, total| {
        output::progress(&format!("warden: {sent}/{total} sent"));
    })
    .await
    .map_err(|err| Failure::runtime(anyhow!(err.0)))?;
    let within = report.within(args.p95_ms, args.max_error_rate);
    match format {
        Format::Json => {
            output::print_json(&serde_json::json!({"report": report, "within_slo": within}))?
        }
        Format::Text => print_text(&report, within, &args),
    }
    Ok(if within { Code::Ok } else { Code::Detected })
}
