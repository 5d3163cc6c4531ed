//! `warden drift`, `warden drift profile`, `warden drift backtest` (R3.1, R3.4–R3.7): the
//! drift engine on files, directories, globs or S3 prefixes, with the report as a table, JSON
//! or a self-contained HTML page.

use std::io::Write;
use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use warden_data::Dataset;
use warden_drift::backtest::{
    BacktestReference, LabelSemantics, backtest, decision_record, load_labels, thresholds_yaml,
    tune,
};
use warden_drift::engine::{Reference, Side, sliding_sides};
use warden_drift::options::{Roles, Thresholds};
use warden_drift::profile::DriftProfile;
use warden_drift::{DriftError, DriftOptions, Season, run as run_drift};
use warden_stats::multiple::Correction;

use crate::exit::{Code, Failure};
use crate::output::{OutputFormat, progress};

/// `warden drift …`
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Profile or backtest instead of comparing.
    #[command(subcommand)]
    pub action: Option<DriftAction>,
    /// The comparison.
    #[command(flatten)]
    pub compare: CompareArgs,
}

/// `warden drift profile|backtest`
#[derive(Debug, Subcommand)]
pub enum DriftAction {
    /// Precompute a reference profile once; monitor with `--profile` reading only current data.
    #[command(
        after_help = "Example:\n  warden drift profile --reference ref.parquet --out ref.profile.json"
    )]
    Profile(Box<ProfileArgs>),
    /// Run the detector over a labelled history: precision, recall, alert rate; tune thresholds
    /// to a target precision and write them with a decision record.
    #[command(
        after_help = "Example:\n  warden drift backtest --history prediction-logs/ --labels labels.csv \
                            --reference-window 28d --window 1d --target-precision 0.9\n\n\
                            labels.csv: `start,end,label` rows, label drift or no_drift, e.g.\n  \
                            2026-11-01,2026-11-20,no_drift"
    )]
    Backtest(Box<BacktestArgs>),
}

/// Which columns play which part.
#[derive(Debug, Args, Clone, Default)]
pub struct RoleArgs {
    /// The event-time column (default: the first timestamp-typed column).
    #[arg(long, value_name = "COL")]
    pub timestamp: Option<String>,
    /// Report per value of this column too (repeatable).
    #[arg(long = "segment", value_name = "COL")]
    pub segments: Vec<String>,
    /// Do not test this column (repeatable).
    #[arg(long = "ignore", value_name = "COL")]
    pub ignore: Vec<String>,
    /// Test this column as categorical, e.g. integer codes (repeatable).
    #[arg(long = "categorical", value_name = "COL")]
    pub categorical: Vec<String>,
    /// Test this column as numeric (repeatable).
    #[arg(long = "numeric", value_name = "COL")]
    pub numeric: Vec<String>,
    /// The model's prediction column (reported with role `prediction`).
    #[arg(long, value_name = "COL")]
    pub prediction: Option<String>,
    /// Test only these columns (comma-separated).
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub columns: Vec<String>,
    /// A YAML/JSON schema file with the same roles (timestamp, segments, ignore, categorical,
    /// numeric, prediction, columns); flags add to it.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
}

/// How decisions are made.
#[derive(Debug, Args, Clone, Default)]
pub struct DecisionArgs {
    /// Significance level after adjustment.
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Multiple-testing correction: bh (Benjamini–Hochberg), bonferroni, none.
    #[arg(long, value_name = "METHOD", default_value = "bh")]
    pub correction: String,
    /// Minimum numeric effect (Wasserstein distance / reference sd).
    #[arg(long, value_name = "X")]
    pub min_effect_numeric: Option<f64>,
    /// Minimum categorical effect (Jensen–Shannon distance).
    #[arg(long, value_name = "X")]
    pub min_effect_categorical: Option<f64>,
    /// A thresholds file written by `warden drift backtest`.
    #[arg(long, value_name = "FILE")]
    pub thresholds: Option<PathBuf>,
}

/// `warden drift --reference … --current …`
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The reference data: file, directory, glob or s3:// prefix.
    #[arg(long, value_name = "PATH")]
    pub reference: Option<String>,
    /// A profile from `warden drift profile`, instead of --reference.
    #[arg(long, value_name = "FILE", conflicts_with = "reference")]
    pub profile: Option<PathBuf>,
    /// The current data: file, directory (e.g. prediction-logs/2026-11-24/), glob or s3://.
    #[arg(long, value_name = "PATH")]
    pub current: Option<String>,
    /// Compare with the same day-of-week or hour-of-week slices of the reference.
    #[arg(long, value_name = "SEASON", value_parser = ["day-of-week", "hour-of-week"])]
    pub seasonal: Option<String>,
    /// Without --reference: build the reference from the current logs, this long before the window.
    #[arg(long, value_name = "DURATION")]
    pub reference_window: Option<String>,
    /// With --reference-window: the current window, ending at the latest timestamp.
    #[arg(long, value_name = "DURATION", default_value = "1d")]
    pub window: String,
    /// Write the report here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Column roles.
    #[command(flatten)]
    pub roles: RoleArgs,
    /// Decision settings.
    #[command(flatten)]
    pub decision: DecisionArgs,
}

/// `warden drift profile`
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The reference data.
    #[arg(long, value_name = "PATH")]
    pub reference: String,
    /// Where to write the profile (JSON).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Column roles.
    #[command(flatten)]
    pub roles: RoleArgs,
}

/// `warden drift backtest`
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// The labelled history (logs with a timestamp column).
    #[arg(long, value_name = "PATH")]
    pub history: String,
    /// Labelled periods: CSV `start,end,label` (drift | no_drift).
    #[arg(long, value_name = "FILE")]
    pub labels: PathBuf,
    /// Window length.
    #[arg(long, value_name = "DURATION", default_value = "1d")]
    pub window: String,
    /// Sliding reference length before each window.
    #[arg(long, value_name = "DURATION", default_value = "28d")]
    pub reference_window: String,
    /// Compare every window with this fixed reference (the one the monitor runs with) instead
    /// of a sliding one.
    #[arg(long, value_name = "PATH", conflicts_with = "profile")]
    pub reference: Option<String>,
    /// Compare every window with this reference profile instead of a sliding reference.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// What the labels mark: `change` (the periods where the data changed; default with a
    /// sliding reference) or `regime` (every period of a shifted regime; default with a fixed
    /// reference).
    #[arg(long, value_name = "change|regime")]
    pub labels_mark: Option<String>,
    /// Tune per-column thresholds until precision reaches this.
    #[arg(long, value_name = "P")]
    pub target_precision: Option<f64>,
    /// Where the tuned thresholds go.
    #[arg(long, value_name = "FILE", default_value = "drift-thresholds.yaml")]
    pub thresholds_out: PathBuf,
    /// Where the decision record goes.
    #[arg(long, value_name = "FILE", default_value = "drift-decision.md")]
    pub decision_record: PathBuf,
    /// Column roles.
    #[command(flatten)]
    pub roles: RoleArgs,
    /// Decision settings.
    #[command(flatten)]
    pub decision: DecisionArgs,
}

fn input(error: impl std::fmt::Display) -> Failure {
    Failure::input(anyhow!("{error}"))
}

fn drift_failure(error: DriftError) -> Failure {
    match &error {
        DriftError::Data(warden_data::DataError::ObjectStore { .. }) => {
            Failure::runtime(anyhow!("{error}"))
        }
        _ => input(error),
    }
}

fn duration_ms(flag: &str, text: &str) -> Result<i64, Failure> {
    let duration =
        warden_core::parse_duration(text).map_err(|e| input(format!("--{flag} {text}: {e}")))?;
    i64::try_from(duration.as_millis())
        .ok()
        .filter(|ms| *ms > 0)
        .ok_or_else(|| input(format!("--{flag} {text}: must be positive")))
}

fn options(roles: &RoleArgs, decision: &DecisionArgs) -> Result<DriftOptions, Failure> {
    let mut options = DriftOptions::default();
    let mut merged = match &roles.schema {
        Some(path) => Roles::from_file(path).map_err(drift_failure)?,
        None => Roles::default(),
    };
    merged.merge(Roles {
        timestamp: roles.timestamp.clone(),
        segments: roles.segments.clone(),
        ignore: roles.ignore.clone(),
        categorical: roles.categorical.clone(),
        numeric: roles.numeric.clone(),
        prediction: roles.prediction.clone(),
        columns: roles.columns.clone(),
    });
    options.roles = merged;
    if let Some(path) = &decision.thresholds {
        let thresholds = Thresholds::from_file(path).map_err(drift_failure)?;
        options.apply_thresholds(thresholds, &path.display().to_string());
    }
    options.correction = Correction::parse(&decision.correction).ok_or_else(|| {
        input(format!(
            "--correction {}: expected bh, bonferroni or none",
            decision.correction
        ))
    })?;
    if let Some(alpha) = decision.alpha {
        if !(alpha > 0.0 && alpha < 1.0) {
            return Err(input(format!("--alpha {alpha}: must be between 0 and 1")));
        }
        options.alpha = alpha;
    }
    for (flag, value, slot) in [
        (
            "min-effect-numeric",
            decision.min_effect_numeric,
            &mut options.numeric_min_effect,
        ),
        (
            "min-effect-categorical",
            decision.min_effect_categorical,
            &mut options.categorical_min_effect,
        ),
    ] {
        if let Some(value) = value {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(input(format!(
                    "--{flag} {value}: must be a non-negative number"
                )));
            }
            *slot = value;
        }
    }
    Ok(options)
}

fn open(location: &str) -> Result<Dataset, Failure> {
    progress(&format!("reading {location} …"));
    Dataset::open(location).map_err(|e| drift_failure(DriftError::Data(e)))
}

fn emit(output: &Option<PathBuf>, text: &str) -> Result<(), Failure> {
    match output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| Failure::runtime(anyhow!("{}: {e}", path.display()))),
        None => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            Ok(())
        }
    }
}

/// Runs `warden drift …`.
pub fn run(format: OutputFormat, args: Box<DriftArgs>) -> Result<Code, Failure> {
    let args = *args;
    match args.action {
        Some(DriftAction::Profile(profile)) => run_profile(format, *profile),
        Some(DriftAction::Backtest(backtest)) => run_backtest(format, *backtest),
        None => run_compare(format, args.compare),
    }
}

fn run_compare(format: OutputFormat, args: CompareArgs) -> Result<Code, Failure> {
    let mut options = options(&args.roles, &args.decision)?;
    options.seasonal = args.seasonal.as_deref().and_then(Season::parse);
    options.window_ms = duration_ms("window", &args.window)?;
    let current_location = args
        .current
        .as_deref()
        .ok_or_else(|| input("--current is required"))?;
    let (reference, current) = match (&args.reference, &args.profile, &args.reference_window) {
        (Some(reference), None, None) => (
            Reference::Data(Side::all(open(reference)?)),
            Side::all(open(current_location)?),
        ),
        (None, Some(path), None) => {
            let profile = DriftProfile::load(path).map_err(drift_failure)?;
            (
                Reference::Profile(Box::new(profile)),
                Side::all(open(current_location)?),
            )
        }
        (None, None, Some(window)) => {
            options.reference_window_ms = Some(duration_ms("reference-window", window)?);
            let (reference, current) =
                sliding_sides(open(current_location)?, &options).map_err(drift_failure)?;
            (Reference::Data(reference), current)
        }
        (None, None, None) => {
            return Err(input("give --reference, --profile or --reference-window"));
        }
        _ => {
            return Err(input(
                "--reference, --profile and --reference-window are alternatives; give one",
            ));
        }
    };
    progress("comparing …");
    let report = run_drift(&reference, &current, &options).map_err(drift_failure)?;
    let text = match format {
        OutputFormat::Json => {
            let mut text = serde_json::to_string_pretty(&report)
                .map_err(|e| Failure::runtime(anyhow!("{e}")))?;
            text.push('\n');
            text
        }
        OutputFormat::Html => warden_drift::html::render(&report),
        OutputFormat::Text => report.to_text(),
    };
    emit(&args.output, &text)?;
    Ok(if report.summary.drifted {
        Code::Detected
    } else {
        Code::Ok
    })
}

fn run_profile(format: OutputFormat, args: ProfileArgs) -> Result<Code, Failure> {
    let options = options(
        &args.roles,
        &DecisionArgs {
            correction: "bh".into(),
            ..Default::default()
        },
    )?;
    let side = Side::all(open(&args.reference)?);
    progress("profiling (quantile grids and calibration ladders) …");
    let profile = DriftProfile::build(&side, &options).map_err(drift_failure)?;
    profile.save(&args.out).map_err(drift_failure)?;
    let summary = serde_json::json!({
        "profile": args.out.display().to_string(),
        "source": profile.source,
        "rows": profile.rows,
        "columns": profile.columns.iter().map(|c| serde_json::json!({
            "name": c.name, "type": c.kind.name(), "ladder_windows": c.ladder.len(),
        })).collect::<Vec<_>>(),
    });
    match format {
        OutputFormat::Json => crate::output::print_json(&summary)?,
        _ => println!(
            "wrote {} ({} columns, {} reference rows)",
            args.out.display(),
            profile.columns.len(),
            profile.rows
        ),
    }
    Ok(Code::Ok)
}

fn run_backtest(format: OutputFormat, args: BacktestArgs) -> Result<Code, Failure> {
    let mut options = options(&args.roles, &args.decision)?;
    options.window_ms = duration_ms("window", &args.window)?;
    options.reference_window_ms = Some(duration_ms("reference-window", &args.reference_window)?);
    if let Some(target) = args.target_precision
        && !(target > 0.0 && target <= 1.0)
    {
        return Err(input(format!(
            "--target-precision {target}: must be in (0, 1]"
        )));
    }
    let labels = load_labels(&args.labels).map_err(drift_failure)?;
    let fixed = match (&args.reference, &args.profile) {
        (Some(reference), _) => Some(Reference::Data(Side::all(open(reference)?))),
        (None, Some(path)) => Some(Reference::Profile(Box::new(
            DriftProfile::load(path).map_err(drift_failure)?,
        ))),
        (None, None) => None,
    };
    let semantics = match &args.labels_mark {
        Some(text) => LabelSemantics::parse(text)
            .ok_or_else(|| input(format!("--labels-mark {text}: change or regime")))?,
        None if fixed.is_some() => LabelSemantics::Regime,
        None => LabelSemantics::Change,
    };
    let reference = match &fixed {
        Some(fixed) => BacktestReference::Fixed(fixed),
        None => BacktestReference::Sliding,
    };
    let history = open(&args.history)?;
    let mut report = backtest(
        history,
        &labels,
        &options,
        reference,
        semantics,
        &|done, total| progress(&format!("window {} of {total}", done + 1)),
    )
    .map_err(drift_failure)?;
    if let Some(target) = args.target_precision {
        tune(&mut report, &options, target);
        if let Some(tuning) = &report.tuning {
            let write = |path: &PathBuf, text: String| {
                std::fs::write(path, text)
                    .map_err(|e| Failure::runtime(anyhow!("{}: {e}", path.display())))
            };
            write(
                &args.thresholds_out,
                thresholds_yaml(tuning, &report.history),
            )?;
            write(
                &args.decision_record,
                decision_record(&report, tuning, &args.thresholds_out.display().to_string()),
            )?;
        }
    }
    match format {
        OutputFormat::Json => crate::output::print_json(&report)?,
        _ => {
            let s = &report.scores;
            println!(
                "history: {} ({} windows of {}, {} reference; labels mark the {})",
                report.history,
                report.windows.len(),
                report.window,
                report.reference_window,
                report.label_semantics
            );
            for window in &report.windows {
                println!(
                    "  {}  {:<10} {}",
                    window.start,
                    window.label,
                    if window.drifted_columns.is_empty() {
                        "-".to_string()
                    } else {
                        window.drifted_columns.join(", ")
                    }
                );
            }
            println!(
                "precision {:.3}  recall {:.3}  alert rate {:.3}  false-positive rate {:.3}  (TP {} FP {} FN {} TN {})",
                s.precision,
                s.recall,
                s.alert_rate,
                s.false_positive_rate,
                s.true_positives,
                s.false_positives,
                s.false_negatives,
                s.true_negatives
            );
            if let Some(tuning) = &report.tuning {
                let a = &tuning.after;
                println!(
                    "tuned to target precision {}: precision {:.3}  recall {:.3}  false-positive rate {:.3}{}",
                    tuning.target_precision,
                    a.precision,
                    a.recall,
                    a.false_positive_rate,
                    if tuning.reached {
                        ""
                    } else {
                        "  (target NOT reached)"
                    }
                );
                for change in &tuning.changes {
                    println!(
                        "  {}: {} -> {} ({})",
                        change.column, change.before, change.after, change.reason
                    );
                }
                println!(
                    "wrote {} and {}",
                    args.thresholds_out.display(),
                    args.decision_record.display()
                );
            }
        }
    }
    Ok(Code::Ok)
}
