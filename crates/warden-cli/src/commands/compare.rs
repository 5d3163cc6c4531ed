//! `warden compare --before --after` (runbook 5's `compare_predictions.py`, R5.3): prediction
//! and feature distributions before vs after a deployment through the drift engine, per
//! segment, the series whose predictions moved most, and the paired change on keys predicted
//! on both sides. Exit 1 when the prediction or a feature drifted.

use clap::Args;
use warden_eval::compare::{Comparison, compare};

use super::evaluate::{MapArgs, blocking, eval_failure, open};
use crate::exit::{Code, Failure};
use crate::output::{self, Format};

/// `warden compare` arguments.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Prediction logs before the deployment (file, directory, glob, s3:// prefix).
    #[arg(long, value_name = "PATH")]
    pub before: String,
    /// Prediction logs after it.
    #[arg(long, value_name = "PATH")]
    pub after: String,
    /// Also per value of this column (repeatable).
    #[arg(long = "segment", value_name = "COL")]
    pub segments: Vec<String>,
    /// How many of the series that moved most to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Column mapping (keys name the series and pair the rows).
    #[command(flatten)]
    pub map: MapArgs,
}

fn print_text(c: &Comparison) {
    println!(
        "mean prediction {:.3} before → {:.3} after ({:+.1}%)",
        c.prediction_mean_before,
        c.prediction_mean_after,
        100.0 * (c.prediction_mean_after / c.prediction_mean_before - 1.0)
    );
    print!("{}", c.drift.to_text());
    if let Some(p) = &c.paired {
        println!(
            "paired on {} keys predicted before and after: mean change {:+.3}, mean |change| {:.3}, {:.1}% moved > 1%, t = {:.1}",
            p.keys,
            p.mean_change,
            p.mean_abs_change,
            100.0 * p.moved_share,
            p.t_statistic
        );
    }
    if !c.movers.is_empty() {
        println!("series that moved most (mean prediction before → after):");
        for m in &c.movers {
            println!(
                "  {:<40} {:>10.3} → {:>10.3} ({:+.3}; n {} / {})",
                m.series, m.before, m.after, m.change, m.n_before, m.n_after
            );
        }
    }
}

/// Runs `warden compare`.
pub async fn run(format: Format, args: CompareArgs) -> Result<Code, Failure> {
    let map = args.map.resolve()?;
    let comparison = blocking(move || {
        let before = open(&args.before)?;
        let after = open(&args.after)?;
        output::progress("warden: comparing …");
        compare(
            warden_drift::Side::all(before),
            warden_drift::Side::all(after),
            &map,
            &args.segments,
            args.top,
        )
        .map_err(eval_failure)
    })
    .await?;
    match format {
        Format::Json => output::print_json(&comparison)?,
        Format::Text => print_text(&comparison),
    }
    Ok(if comparison.drift.columns.iter().any(|c| c.drifted) {
        Code::Detected
    } else {
        Code::Ok
    })
}
