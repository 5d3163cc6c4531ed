//! `warden rollout gate` (R5.5): for shadow or canary traffic, promote, hold or roll back the
//! challenger, with the statistics that decided — its accuracy against the champion's (paired
//! on keys both scored, as shadow traffic gives; independent groups otherwise) and, when
//! given, a business metric per arm. Exit 0 promote, 1 roll back, 4 hold.

use anyhow::anyhow;
use clap::{Args, Subcommand};
use serde::Serialize;
use warden_data::{ColumnKind, ColumnValues};
use warden_eval::metrics::{Metric, shown};
use warden_eval::regression::{self, Comparison, GateDecision, Options};
use warden_eval::table;

use super::evaluate::{MapArgs, blocking, eval_failure, open};
use crate::exit::{Code, Failure};
use crate::output::{self, Format};

/// `warden rollout …`
#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Promote, hold or roll back a challenger from its predictions (and a business metric).
    #[command(
        after_help = "Exit codes: 0 promote, 1 roll back, 4 hold (not enough evidence yet), 2 bad input.\n\n\
                      Examples:\n  warden rollout gate --champion logs/champion/ --challenger logs/shadow/ --actuals actuals.csv --key store_id,date\n  \
                      warden rollout gate --champion c.parquet --challenger s.parquet --actuals a.csv --key id \
                      --business-champion conv-a.csv --business-challenger conv-b.csv --higher-is-better"
    )]
    Gate(Box<GateArgs>),
}

/// `warden rollout gate` arguments.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// The champion's prediction logs.
    #[arg(long, value_name = "PATH")]
    pub champion: String,
    /// The challenger's (shadow or canary) prediction logs.
    #[arg(long, value_name = "PATH")]
    pub challenger: String,
    /// Actuals, joined on --key (default: the logs' own actual column).
    #[arg(long, value_name = "PATH")]
    pub actuals: Option<String>,
    /// The metric compared: mae, rmse, mape, smape, wape, bias.
    #[arg(long, default_value = "wape")]
    pub metric: String,
    /// The smallest relative change that counts (0.1 = 10%).
    #[arg(long, default_value_t = 0.1)]
    pub min_effect: f64,
    /// Significance level (one-sided).
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Fewest rows per arm for a decision.
    #[arg(long, default_value_t = 30)]
    pub min_rows: usize,
    /// A business metric's values under the champion (a column of a data file).
    #[arg(long, value_name = "PATH", requires = "business_challenger")]
    pub business_champion: Option<String>,
    /// The same metric under the challenger.
    #[arg(long, value_name = "PATH")]
    pub business_challenger: Option<String>,
    /// The business metric's column.
    #[arg(long, default_value = "value")]
    pub business_column: String,
    /// Higher business values are better (conversion, revenue); default: lower is better.
    #[arg(long)]
    pub higher_is_better: bool,
    /// Column mapping.
    #[command(flatten)]
    pub map: MapArgs,
}

/// What `warden rollout gate --format json` prints.
#[derive(Debug, Serialize)]
pub struct GateResult {
    /// `promote`, `hold` or `rollback`.
    pub decision: GateDecision,
    /// The accuracy comparison, challenger against champion.
    pub accuracy: Comparison,
    /// The business-metric comparison, when given.
    pub business: Option<Comparison>,
}

fn values(location: &str, column: &str) -> Result<Vec<f64>, Failure> {
    let data = open(location)?;
    match data
        .read_column(column, ColumnKind::Numeric)
        .map_err(|e| eval_failure(e.into()))?
        .values
    {
        ColumnValues::Numeric(v) => Ok(v.into_iter().filter(|x| x.is_finite()).collect()),
        _ => Err(Failure::input(anyhow!(
            "{location}: {column} is not numeric"
        ))),
    }
}

/// One comparison's lines for people.
pub fn comparison_lines(c: &Comparison, what: &str) -> Vec<String> {
    vec![
        format!(
            "{what}: {} {} → {} {} ({:+.1}%, 95% interval {:+.1}% to {:+.1}%)",
            c.baseline,
            shown(c.metric, c.baseline_value),
            c.candidate,
            shown(c.metric, c.candidate_value),
            100.0 * c.relative_change,
            100.0 * c.interval.0,
            100.0 * c.interval.1
        ),
        format!(
            "  {} on {} / {} rows: p(worse) = {:.4}, p(better) = {:.4} → {}",
            c.method,
            c.baseline_rows,
            c.candidate_rows,
            c.p_worse,
            c.p_better,
            c.verdict.name()
        ),
    ]
}

fn gate(args: GateArgs) -> Result<GateResult, Failure> {
    let map = args.map.resolve()?;
    let metric = Metric::parse(&args.metric).ok_or_else(|| {
        Failure::input(anyhow!(
            "--metric {}: one of mae, rmse, mape, smape, wape, bias",
            args.metric
        ))
    })?;
    let options = Options {
        metric,
        alpha: args.alpha,
        min_effect: args.min_effect,
        min_rows: args.min_rows,
    };
    let actuals = args.actuals.as_deref().map(open).transpose()?;
    let champion =
        table::load(&open(&args.champion)?, actuals.as_ref(), &map, None).map_err(eval_failure)?;
    let challenger = table::load(&open(&args.challenger)?, actuals.as_ref(), &map, None)
        .map_err(eval_failure)?;
    let (both, champion_rows, challenger_rows) =
        table::two_arms(champion, challenger, ["champion", "challenger"]);
    let accuracy = regression::compare_rows(
        &both,
        ("champion", &champion_rows),
        ("challenger", &challenger_rows),
        &options,
        "challenger against champion".into(),
    );
    let business = match (&args.business_champion, &args.business_challenger) {
        (Some(a), Some(b)) => Some(regression::business_series(
            &values(a, &args.business_column)?,
            &values(b, &args.business_column)?,
            args.higher_is_better,
            &options,
        )),
        _ => None,
    };
    Ok(GateResult {
        decision: regression::gate(&accuracy, business.as_ref()),
        accuracy,
        business,
    })
}

/// Runs `warden rollout …`.
pub async fn run(format: Format, command: RolloutCommand) -> Result<Code, Failure> {
    let RolloutCommand::Gate(args) = command;
    let result = blocking(move || gate(*args)).await?;
    match format {
        Format::Json => output::print_json(&result)?,
        Format::Text => {
            let label = format!(
                "{} (an error: lower is better)",
                result.accuracy.metric.name()
            );
            for line in comparison_lines(&result.accuracy, &label) {
                println!("{line}");
            }
            if let Some(business) = &result.business {
                for line in comparison_lines(business, "business metric") {
                    println!("{line}");
                }
            }
            println!(
                "decision: {}",
                match result.decision {
                    GateDecision::Promote => "PROMOTE the challenger",
                    GateDecision::Hold => "HOLD: not enough evidence yet, keep the split",
                    GateDecision::Rollback => "ROLL BACK the challenger",
                }
            );
        }
    }
    Ok(match result.decision {
        GateDecision::Promote => Code::Ok,
        GateDecision::Rollback => Code::Detected,
        GateDecision::Hold => Code::Hold,
    })
}
