//! `warden evaluate` (runbook 5's `evaluate.py`, R5.3): accuracy of prediction logs joined to
//! actuals — MAE, RMSE, MAPE, sMAPE, WAPE, bias, MASE with bootstrap intervals, overall and
//! per model version or any column — or of a model scored now through a V2 endpoint on the
//! actuals' features ("re-evaluate the model on recent ground truth").
//! Also the column-mapping flags every model-quality command shares.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;
use serde::Serialize;
use warden_connect::inference::{InferenceClient, Layout, RowError};
use warden_data::{ColumnKind, ColumnValues, Dataset};
use warden_eval::metrics::{Accuracy, Estimate, Metric, accuracy_overall_and_by, shown};
use warden_eval::{ColumnMap, EvalError, Scored, table};

use crate::exit::{Code, Failure};
use crate::output::{self, Format};

/// Which of the data's columns is which (flags override a `--map` file).
#[derive(Debug, Args, Clone, Default)]
pub struct MapArgs {
    /// A mapping file (YAML or JSON: timestamp, keys, series, model_name, model_version,
    /// prediction, actual, features).
    #[arg(long = "map", value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// The entity keys that join predictions to actuals (comma-separated or repeated).
    #[arg(long = "key", value_name = "COLS", value_delimiter = ',')]
    pub keys: Vec<String>,
    /// The timestamp column (default `timestamp`).
    #[arg(long, value_name = "COL")]
    pub timestamp: Option<String>,
    /// The prediction column (default `prediction`).
    #[arg(long, value_name = "COL")]
    pub prediction: Option<String>,
    /// The actual column (default `actual`).
    #[arg(long, value_name = "COL")]
    pub actual: Option<String>,
    /// The model-version column (default `model_version`).
    #[arg(long = "version-column", value_name = "COL")]
    pub version_column: Option<String>,
    /// Feature columns (comma-separated or repeated).
    #[arg(long = "feature", value_name = "COLS", value_delimiter = ',')]
    pub features: Vec<String>,
}

impl MapArgs {
    /// The mapping: the file's, then the flags.
    ///
    /// # Errors
    /// The mapping file is unreadable or invalid.
    pub fn resolve(&self) -> Result<ColumnMap, Failure> {
        let mut map = match &self.map {
            Some(path) => ColumnMap::from_file(path).map_err(|e| Failure::input(anyhow!(e)))?,
            None => ColumnMap::default(),
        };
        if !self.keys.is_empty() {
            map.keys = self.keys.clone();
        }
        if !self.features.is_empty() {
            map.features = self.features.clone();
        }
        for (flag, slot) in [
            (&self.timestamp, &mut map.timestamp),
            (&self.prediction, &mut map.prediction),
            (&self.actual, &mut map.actual),
            (&self.version_column, &mut map.model_version),
        ] {
            if let Some(value) = flag {
                *slot = value.clone();
            }
        }
        Ok(map)
    }
}

/// Bad data is an input error (exit 2); everything it says names the file and column.
pub fn eval_failure(error: EvalError) -> Failure {
    Failure::input(anyhow!(error))
}

/// Opens a data location (file, directory, glob, `s3://` prefix), saying so on a terminal.
///
/// # Errors
/// Nothing readable there.
pub fn open(location: &str) -> Result<Dataset, Failure> {
    output::progress(&format!("warden: reading {location} …"));
    Dataset::open(location).map_err(|e| eval_failure(EvalError::Data(e)))
}

/// Runs blocking data work off the async runtime (S3 reads block on their own runtime).
///
/// # Errors
/// The work's own failure, or the worker thread dying.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| Failure::runtime(anyhow!("worker failed: {err}")))?
}

/// `warden evaluate` arguments.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Prediction logs (file, directory, glob or s3:// prefix).
    #[arg(long, value_name = "PATH", required_unless_present = "endpoint")]
    pub predictions: Option<String>,
    /// Actuals, joined to the predictions on --key (default: the logs' own actual column).
    #[arg(long, value_name = "PATH")]
    pub actuals: Option<String>,
    /// Also per value of this column (e.g. model_version, store_id).
    #[arg(long, value_name = "COL")]
    pub by: Option<String>,
    /// Season of MASE's naive forecast, in rows of one series (7 for daily data, weekly).
    #[arg(long, default_value_t = 1)]
    pub season: usize,
    /// Score the actuals' features through this V2 server instead of reading logs.
    #[arg(long, value_name = "URL", requires = "model")]
    pub endpoint: Option<url::Url>,
    /// The model name on the server.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// The model version on the server (default: whatever it serves), or with logs: only
    /// this version's predictions.
    #[arg(long, value_name = "V")]
    pub version: Option<String>,
    /// Rows per inference request.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Per-request timeout.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::cli::parse_duration_arg)]
    pub timeout: Duration,
    /// `columns` (one input per feature, MLflow runtime) or `matrix` (one tensor, sklearn).
    #[arg(long, default_value = "columns", value_parser = ["columns", "matrix"])]
    pub layout: String,
    /// Column mapping.
    #[command(flatten)]
    pub map: MapArgs,
}

/// What `warden evaluate --format json` prints.
#[derive(Debug, Serialize)]
pub struct Evaluation {
    /// Where the predictions came from (a path, or the endpoint).
    pub source: String,
    /// Predictions read (or rows scored).
    pub predictions: usize,
    /// Predictions evaluated (with an actual and finite values).
    pub evaluated: usize,
    /// Predictions without an actual.
    pub without_actual: usize,
    /// Predictions or actuals missing or not finite.
    pub missing_values: usize,
    /// Actual rows that repeated a key (the last one counted).
    pub duplicate_actuals: usize,
    /// All rows.
    pub overall: Accuracy,
    /// The `--by` column, if any.
    pub by: Option<String>,
    /// Per value of `by`.
    pub groups: Vec<Group>,
    /// Rows the server would not score (endpoint mode), at most 20.
    pub errors: Vec<RowError>,
    /// Rows the server would not score, in all.
    pub error_count: usize,
}

/// One group's accuracy.
#[derive(Debug, Serialize)]
pub struct Group {
    /// The value of the `by` column.
    pub group: String,
    /// Its accuracy.
    pub accuracy: Accuracy,
}

fn evaluation(source: String, scored: &Scored, by: Option<String>, season: usize) -> Evaluation {
    let codes = match (&by, &scored.segment) {
        (Some(_), Some((codes, names))) => Some((codes.as_slice(), names.as_slice())),
        (Some(_), None) => Some((scored.version.as_slice(), scored.versions.as_slice())),
        _ => None,
    };
    let (overall, groups) = accuracy_overall_and_by(scored, codes, season);
    Evaluation {
        source,
        predictions: scored.predictions_read,
        evaluated: scored.len(),
        without_actual: scored.unmatched,
        missing_values: scored.missing_values,
        duplicate_actuals: scored.duplicate_actuals,
        overall,
        by,
        groups: groups
            .into_iter()
            .map(|(group, accuracy)| Group { group, accuracy })
            .collect(),
        errors: Vec::new(),
        error_count: 0,
    }
}

fn from_logs(args: &EvaluateArgs, map: &ColumnMap) -> Result<Evaluation, Failure> {
    let location = args.predictions.clone().unwrap_or_default();
    let predictions = open(&location)?;
    let actuals = args.actuals.as_deref().map(open).transpose()?;
    // `--by model_version` groups by the mapped version column itself.
    let segment = args.by.as_deref().filter(|by| *by != map.model_version);
    let mut scored =
        table::load(&predictions, actuals.as_ref(), map, segment).map_err(eval_failure)?;
    if let Some(version) = &args.version {
        let rows = scored.rows_of_version(version);
        if rows.is_empty() {
            return Err(Failure::input(anyhow!(
                "{location}: no evaluated prediction of version {version} (versions: {})",
                scored.versions.join(", ")
            )));
        }
        scored = select(&scored, &rows);
    }
    Ok(evaluation(location, &scored, args.by.clone(), args.season))
}

/// The rows `rows` of `scored`.
pub fn select(scored: &Scored, rows: &[u32]) -> Scored {
    let pick = |v: &[f64]| rows.iter().map(|&r| v[r as usize]).collect();
    let pick64 = |v: &[u64]| rows.iter().map(|&r| v[r as usize]).collect();
    Scored {
        prediction: pick(&scored.prediction),
        actual: pick(&scored.actual),
        version: rows.iter().map(|&r| scored.version[r as usize]).collect(),
        versions: scored.versions.clone(),
        timestamp: scored
            .timestamp
            .as_ref()
            .map(|t| rows.iter().map(|&r| t[r as usize]).collect()),
        series: pick64(&scored.series),
        key: pick64(&scored.key),
        segment: scored.segment.as_ref().map(|(codes, names)| {
            (
                rows.iter().map(|&r| codes[r as usize]).collect(),
                names.clone(),
            )
        }),
        predictions_read: scored.predictions_read,
        unmatched: scored.unmatched,
        missing_values: scored.missing_values,
        duplicate_actuals: scored.duplicate_actuals,
    }
}

/// The features of `actuals` as numbers, in `features` order.
fn feature_columns(actuals: &Dataset, features: &[String]) -> Result<Vec<Vec<f64>>, Failure> {
    features
        .iter()
        .map(
            |name| match actuals.read_column(name, ColumnKind::Numeric) {
                Ok(column) => match column.values {
                    ColumnValues::Numeric(values) => Ok(values),
                    _ => Err(Failure::input(anyhow!("{name}: not numeric"))),
                },
                Err(err) => Err(eval_failure(EvalError::Data(err))),
            },
        )
        .collect()
}

async fn from_endpoint(args: &EvaluateArgs, map: &ColumnMap) -> Result<Evaluation, Failure> {
    let (Some(endpoint), Some(model)) = (args.endpoint.clone(), args.model.clone()) else {
        return Err(Failure::input(anyhow!("--endpoint needs --model")));
    };
    let Some(location) = args.actuals.clone() else {
        return Err(Failure::input(anyhow!(
            "--endpoint scores the actuals' features: give --actuals"
        )));
    };
    if map.features.is_empty() {
        return Err(Failure::input(anyhow!(
            "--endpoint needs the feature columns the model takes (--feature a,b,c or features: in --map)"
        )));
    }
    let features = map.features.clone();
    let actual_column = map.actual.clone();
    let by = args.by.clone();
    let (feature_values, actual_values, segment) = blocking(move || {
        let actuals = open(&location)?;
        let columns = feature_columns(&actuals, &features)?;
        let actual = feature_columns(&actuals, std::slice::from_ref(&actual_column))?
            .pop()
            .unwrap_or_default();
        let segment = by
            .map(
                |column| match actuals.read_column(&column, ColumnKind::Categorical) {
                    Ok(c) => match c.values {
                        ColumnValues::Categorical { codes, levels } => Ok((codes, levels)),
                        _ => Err(Failure::input(anyhow!("{column}: not read as text"))),
                    },
                    Err(err) => Err(eval_failure(EvalError::Data(err))),
                },
            )
            .transpose()?;
        Ok((columns, actual, segment))
    })
    .await?;
    let http = warden_connect::HttpClient::new(&warden_config::HttpEndpoint {
        url: endpoint.clone(),
        timeout: args.timeout,
    })
    .map_err(|err| Failure::input(anyhow!(err)))?;
    let layout = if args.layout == "matrix" {
        Layout::Matrix
    } else {
        Layout::Columns
    };
    let client = InferenceClient::new(http, &model, args.version.as_deref(), layout);
    let scores = client
        .score(&map.features, &feature_values, args.batch, |done, total| {
            output::progress(&format!("warden: scored {done}/{total}"));
        })
        .await
        .map_err(|err| Failure::runtime(anyhow!(err)))?;
    let rows = actual_values.len();
    let keep: Vec<usize> = (0..rows)
        .filter(|&r| scores.predictions[r].is_finite() && actual_values[r].is_finite())
        .collect();
    if keep.is_empty() {
        return Err(Failure::runtime(anyhow!(
            "{endpoint}: no row was scored ({} errors; first: {})",
            scores.errors.len(),
            scores.errors.first().map_or("none", |e| e.message.as_str())
        )));
    }
    let scored = Scored {
        prediction: keep.iter().map(|&r| scores.predictions[r]).collect(),
        actual: keep.iter().map(|&r| actual_values[r]).collect(),
        version: vec![0; keep.len()],
        versions: vec![args.version.clone().unwrap_or_else(|| "served".into())],
        series: vec![1; keep.len()],
        key: vec![table::NULL_KEY; keep.len()],
        segment: segment.map(|(codes, levels)| (keep.iter().map(|&r| codes[r]).collect(), levels)),
        predictions_read: rows,
        missing_values: rows - keep.len() - scores.errors.len(),
        ..Scored::default()
    };
    let mut result = evaluation(
        format!("{endpoint} model {model}"),
        &scored,
        args.by.clone(),
        args.season,
    );
    result.error_count = scores.errors.len();
    result.errors = scores.errors.into_iter().take(20).collect();
    Ok(result)
}

fn with_interval(metric: Metric, estimate: &Estimate) -> String {
    format!(
        "{} [{}, {}]",
        shown(metric, estimate.value),
        shown(metric, estimate.low),
        shown(metric, estimate.high)
    )
}

/// The accuracy of one group as indented lines.
pub fn accuracy_lines(accuracy: &Accuracy) -> Vec<String> {
    let mut lines: Vec<String> = Metric::ALL
        .iter()
        .map(|m| format!("{:<6} {}", m.name(), with_interval(*m, &accuracy.get(*m))))
        .collect();
    if let Some(mase) = &accuracy.mase {
        lines.push(format!(
            "mase   {:.3} [{:.3}, {:.3}] (season {})",
            mase.value, mase.low, mase.high, accuracy.season
        ));
    }
    if accuracy.zero_actuals > 0 {
        lines.push(format!(
            "({} rows with a zero actual are left out of MAPE)",
            accuracy.zero_actuals
        ));
    }
    lines
}

fn print_text(result: &Evaluation) {
    println!(
        "{}: {} predictions, {} evaluated ({} without an actual, {} missing values, {} duplicate actuals)",
        result.source,
        result.predictions,
        result.evaluated,
        result.without_actual,
        result.missing_values,
        result.duplicate_actuals
    );
    println!(
        "all rows (n = {}), 95% bootstrap intervals:",
        result.overall.n
    );
    for line in accuracy_lines(&result.overall) {
        println!("  {line}");
    }
    for group in &result.groups {
        println!(
            "{} = {} (n = {}):",
            result.by.as_deref().unwrap_or(""),
            group.group,
            group.accuracy.n
        );
        for line in accuracy_lines(&group.accuracy) {
            println!("  {line}");
        }
    }
    if result.error_count > 0 {
        let rows = if result.error_count == 1 {
            "row was"
        } else {
            "rows were"
        };
        println!("{} {rows} not scored; first:", result.error_count);
        for error in &result.errors {
            println!("  row {}: {}", error.row, error.message);
        }
    }
}

/// Runs `warden evaluate`.
pub async fn run(format: Format, args: EvaluateArgs) -> Result<Code, Failure> {
    let map = args.map.resolve()?;
    let result = if args.endpoint.is_some() {
        from_endpoint(&args, &map).await?
    } else {
        blocking(move || from_logs(&args, &map)).await?
    };
    match format {
        Format::Json => output::print_json(&result)?,
        Format::Text => print_text(&result),
    }
    Ok(Code::Ok)
}
