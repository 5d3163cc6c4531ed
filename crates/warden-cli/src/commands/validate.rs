//! `warden validate` (runbook 5's `validate_data.py`, R5.3): data checks against a schema
//! file or one learnt from reference data — `{"ok", "checks": [...]}`, exit 1 on a failed
//! check — and `warden validate parity`: the same keys must give the same features in
//! training and in serving (training/serving skew), exit 1 when they do not.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use warden_eval::validate::{Parity, Schema, Validation, parity, validate};

use super::evaluate::{blocking, eval_failure, open};
use crate::exit::{Code, Failure};
use crate::output::{self, Format};

/// `warden validate …`
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Parity instead of checks.
    #[command(subcommand)]
    pub action: Option<ValidateAction>,
    /// The checks.
    #[command(flatten)]
    pub checks: CheckArgs,
}

/// `warden validate parity`
#[derive(Debug, Subcommand)]
pub enum ValidateAction {
    /// The same keys must yield the same features in training and serving data.
    #[command(
        after_help = "Exit codes: 0 parity, 1 features differ, 2 bad input.\n\nExample:\n  \
                      warden validate parity --training train.parquet --serving prediction-logs/ --key store_id,date"
    )]
    Parity(ParityArgs),
}

/// `warden validate --data …`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The data to check (file, directory, glob, s3:// prefix).
    #[arg(long, value_name = "PATH")]
    pub data: Option<String>,
    /// A schema file (YAML/JSON: columns with type, max_null_rate, min, max, categories,
    /// max_age; keys; tolerance).
    #[arg(long, value_name = "FILE", conflicts_with = "reference")]
    pub schema: Option<PathBuf>,
    /// Learn the schema from this reference data instead.
    #[arg(long, value_name = "PATH")]
    pub reference: Option<String>,
    /// Columns that together must be unique (comma-separated; added to the schema's).
    #[arg(long = "key", value_name = "COLS", value_delimiter = ',')]
    pub keys: Vec<String>,
    /// Columns a learnt schema leaves alone (model version, request ids; comma-separated).
    #[arg(
        long = "ignore",
        value_name = "COLS",
        value_delimiter = ',',
        requires = "reference"
    )]
    pub ignore: Vec<String>,
    /// The timestamp column whose newest value must be at most --max-age old.
    #[arg(long, value_name = "COL", requires = "max_age")]
    pub timestamp: Option<String>,
    /// How old the newest timestamp may be, e.g. 2d.
    #[arg(long, value_name = "DURATION")]
    pub max_age: Option<String>,
}

/// `warden validate parity` arguments.
#[derive(Debug, Args)]
pub struct ParityArgs {
    /// The training data (features as the model was trained on them).
    #[arg(long, value_name = "PATH")]
    pub training: String,
    /// The serving data (prediction logs with the features the model was served).
    #[arg(long, value_name = "PATH")]
    pub serving: String,
    /// The keys that identify one row on both sides (comma-separated).
    #[arg(
        long = "key",
        value_name = "COLS",
        value_delimiter = ',',
        required = true
    )]
    pub keys: Vec<String>,
    /// Features to compare (default: every column both have).
    #[arg(long = "feature", value_name = "COLS", value_delimiter = ',')]
    pub features: Vec<String>,
    /// Numbers equal within this relative tolerance.
    #[arg(long, default_value_t = 1e-6)]
    pub tolerance: f64,
    /// The share of keys a feature may differ on.
    #[arg(long, default_value_t = 0.0)]
    pub max_mismatch_rate: f64,
}

fn print_checks(v: &Validation) {
    println!("{}: {} rows", v.data, v.rows);
    for check in &v.checks {
        println!(
            "  {} {:<15} {:<20} {}",
            if check.ok { "ok  " } else { "FAIL" },
            check.check,
            check.column.as_deref().unwrap_or(""),
            check.detail
        );
    }
    println!(
        "{}",
        if v.ok {
            "all checks passed"
        } else {
            "checks FAILED"
        }
    );
}

fn print_parity(p: &Parity) {
    println!(
        "{} keys in both ({} training rows without a serving row)",
        p.matched_keys, p.training_only
    );
    for f in &p.features {
        println!(
            "  {} {:<20} {} of {} differ",
            if f.mismatches as f64 <= p.max_mismatch_rate * f.compared as f64 {
                "ok  "
            } else {
                "FAIL"
            },
            f.feature,
            f.mismatches,
            f.compared
        );
        for example in &f.examples {
            println!("       {example}");
        }
    }
    println!(
        "{}",
        if p.ok {
            "training and serving agree"
        } else {
            "training/serving skew"
        }
    );
}

/// Runs `warden validate …`.
pub async fn run(format: Format, args: ValidateArgs) -> Result<Code, Failure> {
    if let Some(ValidateAction::Parity(parity_args)) = args.action {
        let result = blocking(move || {
            let training = open(&parity_args.training)?;
            let serving = open(&parity_args.serving)?;
            parity(
                &training,
                &serving,
                &parity_args.keys,
                &parity_args.features,
                parity_args.tolerance,
                parity_args.max_mismatch_rate,
            )
            .map_err(eval_failure)
        })
        .await?;
        match format {
            Format::Json => output::print_json(&result)?,
            Format::Text => print_parity(&result),
        }
        return Ok(if result.ok { Code::Ok } else { Code::Detected });
    }
    let checks = args.checks;
    let Some(location) = checks.data.clone() else {
        return Err(Failure::input(anyhow!(
            "give --data (and --schema or --reference), or `warden validate parity`"
        )));
    };
    if checks.schema.is_none()
        && checks.reference.is_none()
        && checks.keys.is_empty()
        && checks.max_age.is_none()
    {
        // "All checks passed" would be said of no check at all.
        return Err(Failure::input(anyhow!(
            "{location}: nothing to check: give --schema FILE or --reference DATA (or --key / --timestamp with --max-age)"
        )));
    }
    let result = blocking(move || {
        let data = open(&location)?;
        let mut schema = match (&checks.schema, &checks.reference) {
            (Some(path), _) => Schema::from_file(path).map_err(eval_failure)?,
            (None, Some(reference)) => {
                Schema::learn(&open(reference)?, &checks.keys, &checks.ignore)
                    .map_err(eval_failure)?
            }
            (None, None) => Schema::default(),
        };
        for key in &checks.keys {
            if !schema.keys.contains(key) {
                schema.keys.push(key.clone());
            }
        }
        if let (Some(column), Some(age)) = (&checks.timestamp, &checks.max_age) {
            schema.columns.entry(column.clone()).or_default().max_age = Some(age.clone());
        }
        let now = chrono::Utc::now().timestamp_millis();
        validate(&data, &schema, now).map_err(eval_failure)
    })
    .await?;
    match format {
        Format::Json => output::print_json(&result)?,
        Format::Text => print_checks(&result),
    }
    Ok(if result.ok { Code::Ok } else { Code::Detected })
}
