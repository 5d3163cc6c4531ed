//! `warden drift backtest`: run the detector over a labelled history, window by window, with
//! a sliding reference; report precision, recall and alert rate; tune per-column thresholds to
//! a target precision and write them (a thresholds file the detector loads) with a decision
//! record saying what changed and why (R3.6, R3.7).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use warden_data::{ColumnKind, ColumnValues, Dataset, NULL_TIMESTAMP};

use crate::DriftError;
use crate::engine::{Reference, Rows, Side, rfc3339, run, timestamp_column};
use crate::options::{DriftOptions, Thresholds};
use crate::report::Status;

/// A labelled period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Label {
    /// Start, epoch ms (inclusive).
    pub start_ms: i64,
    /// End, epoch ms (exclusive).
    pub end_ms: i64,
    /// Whether the period had real drift.
    pub drift: bool,
}

/// Reads labels: CSV with a header `start,end,label`, times as RFC 3339 or dates (a date as
/// `end` includes that whole day), labels `drift` or `no_drift`.
pub fn load_labels(path: &Path) -> Result<Vec<Label>, DriftError> {
    let error = |line: usize, message: String| DriftError::File {
        path: format!("{}:{line}", path.display()),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(0, e.to_string()))?;
    let mut labels = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (index == 0 && line.starts_with("start")) {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [start, end, label] = fields[..] else {
            return Err(error(
                number,
                format!("expected `start,end,label`, got `{line}`"),
            ));
        };
        let parse = |text: &str, is_end: bool| -> Result<i64, DriftError> {
            let time = warden_data::dataset::parse_timestamp(text).ok_or_else(|| {
                error(
                    number,
                    format!("`{text}` is not an RFC 3339 time or a date"),
                )
            })?;
            // A bare date as the end of a period means "through that day".
            Ok(if is_end && text.len() == 10 {
                time + 86_400_000
            } else {
                time
            })
        };
        let drift = match label {
            "drift" => true,
            "no_drift" | "no-drift" => false,
            other => {
                return Err(error(
                    number,
                    format!("label `{other}`: expected drift or no_drift"),
                ));
            }
        };
        let (start_ms, end_ms) = (parse(start, false)?, parse(end, true)?);
        if end_ms <= start_ms {
            return Err(error(number, "end is not after start".into()));
        }
        labels.push(Label {
            start_ms,
            end_ms,
            drift,
        });
    }
    if labels.is_empty() {
        return Err(error(0, "no labelled periods".into()));
    }
    Ok(labels)
}

/// One column's numbers in one window, kept so thresholds can be re-decided without rerunning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnOutcome {
    /// Column.
    pub name: String,
    /// Effect.
    pub effect: f64,
    /// Adjusted p-value.
    pub p_value_adjusted: f64,
    /// The calibrated threshold, when there was one.
    pub calibrated: Option<f64>,
    /// Whether the difference was seasonal.
    pub seasonal: bool,
    /// Categorical (for the default floor).
    pub categorical: bool,
}

/// One window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowOutcome {
    /// Window start, RFC 3339.
    pub start: String,
    /// Window end, RFC 3339.
    pub end: String,
    /// `drift`, `no_drift`, or `unlabelled`.
    pub label: &'static str,
    /// Rows in the window.
    pub rows: usize,
    /// Columns that drifted with the thresholds in use.
    pub drifted_columns: Vec<String>,
    /// Per-column numbers.
    #[serde(skip)]
    pub columns: Vec<ColumnOutcome>,
}

/// Precision, recall and alert rate of one set of thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    /// Alerts in drift windows.
    pub true_positives: usize,
    /// Alerts in no-drift windows.
    pub false_positives: usize,
    /// Drift windows without an alert.
    pub false_negatives: usize,
    /// No-drift windows without an alert.
    pub true_negatives: usize,
    /// TP / (TP + FP); 1 when there were no alerts.
    pub precision: f64,
    /// TP / (TP + FN); 1 when there was no drift.
    pub recall: f64,
    /// Alerting windows / labelled windows.
    pub alert_rate: f64,
    /// FP / no-drift windows.
    pub false_positive_rate: f64,
}

/// A threshold the tuning changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Column.
    pub column: String,
    /// Minimum effect before.
    pub before: f64,
    /// Minimum effect after.
    pub after: f64,
    /// Why.
    pub reason: String,
}

/// The tuning result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tuning {
    /// The precision asked for.
    pub target_precision: f64,
    /// The recall asked for, when thresholds were also lowered for it.
    pub target_recall: Option<f64>,
    /// Whether it was reached.
    pub reached: bool,
    /// Scores with the tuned thresholds.
    pub after: Scores,
    /// What changed.
    pub changes: Vec<Change>,
    /// The thresholds to load with `--thresholds`.
    pub thresholds: Thresholds,
}

/// The backtest report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestReport {
    /// The history.
    pub history: String,
    /// Window length, e.g. `1d`.
    pub window: String,
    /// The reference each window was compared with: `sliding 28d`, or `fixed <location>`.
    pub reference_window: String,
    /// What the labels mark: `change` (only the periods where the data changed — right for a
    /// sliding reference, which absorbs a lasting shift) or `regime` (every period of a shifted
    /// regime — right for a fixed reference, which keeps seeing it).
    pub label_semantics: &'static str,
    /// Windows evaluated.
    pub windows: Vec<WindowOutcome>,
    /// Scores with the thresholds in use.
    pub scores: Scores,
    /// The tuning, with `--target-precision`.
    pub tuning: Option<Tuning>,
}

/// What the windows of a backtest are compared with.
pub enum BacktestReference<'a> {
    /// The `options.reference_window_ms` before each window.
    Sliding,
    /// One reference for every window — the one the monitor runs with.
    Fixed(&'a Reference),
}

/// What the labels of a backtest mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelSemantics {
    /// Only the periods where the data changed.
    Change,
    /// Every period of a shifted regime.
    Regime,
}

impl LabelSemantics {
    /// Parses `change` or `regime`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "change" => Some(Self::Change),
            "regime" => Some(Self::Regime),
            _ => None,
        }
    }

    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Change => "change",
            Self::Regime => "regime",
        }
    }
}

/// Runs the detector over every window of `history` that has a full reference window before
/// it (sliding), or over every window of `history` against one fixed reference.
pub fn backtest(
    history: Dataset,
    labels: &[Label],
    options: &DriftOptions,
    reference: BacktestReference<'_>,
    semantics: LabelSemantics,
    progress: &dyn Fn(usize, usize),
) -> Result<BacktestReport, DriftError> {
    let reference_window = match reference {
        BacktestReference::Sliding => options.reference_window_ms.ok_or_else(|| {
            DriftError::Invalid("a sliding backtest needs --reference-window".into())
        })?,
        BacktestReference::Fixed(_) => 0,
    };
    let location = history.location().to_string();
    let history = Arc::new(history.with_column_cache());
    let timestamp = timestamp_column(&history, &options.roles.timestamp)?.ok_or_else(|| {
        DriftError::Invalid(format!(
            "{location}: a backtest needs a timestamp column (--timestamp)"
        ))
    })?;
    let ColumnValues::Timestamp(times) = history
        .read_column(&timestamp, ColumnKind::Timestamp)?
        .values
    else {
        return Err(DriftError::Invalid(format!(
            "column `{timestamp}` is not a timestamp"
        )));
    };
    let valid = times.iter().copied().filter(|t| *t != NULL_TIMESTAMP);
    let (Some(first), Some(last)) = (valid.clone().min(), valid.max()) else {
        return Err(DriftError::Invalid(format!(
            "{location}: no timestamps in `{timestamp}`"
        )));
    };
    let mut order: Vec<u32> = (0..times.len() as u32)
        .filter(|r| times[*r as usize] != NULL_TIMESTAMP)
        .collect();
    order.sort_by_key(|r| times[*r as usize]);
    let rows_between = |from: i64, to: i64| -> Vec<u32> {
        let start = order.partition_point(|r| times[*r as usize] < from);
        let end = order.partition_point(|r| times[*r as usize] < to);
        order[start..end].to_vec()
    };
    let mut starts = Vec::new();
    let mut start = first + reference_window;
    while start <= last {
        starts.push(start);
        start += options.window_ms;
    }
    if starts.is_empty() {
        return Err(DriftError::Invalid(format!(
            "{location}: the history ({} .. {}) is shorter than the reference window",
            rfc3339(first),
            rfc3339(last)
        )));
    }
    let mut windows = Vec::new();
    for (index, start) in starts.iter().enumerate() {
        progress(index, starts.len());
        let end = start + options.window_ms;
        let current_rows = rows_between(*start, end);
        let label = window_label(labels, *start, end);
        let side = |rows: Vec<u32>| Side {
            dataset: history.clone(),
            rows: Rows::Some(rows),
            label: location.clone(),
        };
        let report = match reference {
            BacktestReference::Sliding => {
                let reference_rows = rows_between(start - reference_window, *start);
                if current_rows.is_empty() || reference_rows.is_empty() {
                    continue;
                }
                run(
                    &Reference::Data(side(reference_rows)),
                    &side(current_rows.clone()),
                    options,
                )?
            }
            BacktestReference::Fixed(fixed) => {
                if current_rows.is_empty() {
                    continue;
                }
                run(fixed, &side(current_rows.clone()), options)?
            }
        };
        let columns = report
            .columns
            .iter()
            .filter(|c| c.status != Status::Skipped)
            .map(|c| ColumnOutcome {
                name: c.name.clone(),
                effect: c.effect.unwrap_or(0.0),
                p_value_adjusted: c.p_value_adjusted.unwrap_or(1.0),
                calibrated: c.threshold.filter(|t| Some(*t) != c.min_effect),
                seasonal: c.status == Status::Seasonal,
                categorical: c.kind == "categorical",
            })
            .collect();
        windows.push(WindowOutcome {
            start: rfc3339(*start),
            end: rfc3339(end),
            label: match label {
                Some(true) => "drift",
                Some(false) => "no_drift",
                None => "unlabelled",
            },
            rows: current_rows.len(),
            drifted_columns: report
                .columns
                .iter()
                .filter(|c| c.drifted)
                .map(|c| c.name.clone())
                .collect(),
            columns,
        });
    }
    let floors = Floors::from_options(options);
    let scores = score(&windows, &floors, options.alpha);
    Ok(BacktestReport {
        history: location,
        window: format_window(options.window_ms),
        reference_window: match reference {
            BacktestReference::Sliding => format!("sliding {}", format_window(reference_window)),
            BacktestReference::Fixed(Reference::Data(side)) => format!("fixed {}", side.label),
            BacktestReference::Fixed(Reference::Profile(profile)) => {
                format!("fixed profile of {}", profile.source)
            }
        },
        label_semantics: semantics.name(),
        windows,
        scores,
        tuning: None,
    })
}

fn format_window(ms: i64) -> String {
    warden_core::format_duration(std::time::Duration::from_millis(
        u64::try_from(ms).unwrap_or(0),
    ))
}

/// Drift if the window overlaps a drift period; no drift if it lies inside a no-drift period;
/// otherwise unlabelled (left out of the scores).
fn window_label(labels: &[Label], start: i64, end: i64) -> Option<bool> {
    if labels
        .iter()
        .any(|l| l.drift && l.start_ms < end && start < l.end_ms)
    {
        return Some(true);
    }
    labels
        .iter()
        .any(|l| !l.drift && l.start_ms <= start && end <= l.end_ms)
        .then_some(false)
}

/// Minimum effects per column.
#[derive(Debug, Clone)]
struct Floors {
    numeric: f64,
    categorical: f64,
    columns: BTreeMap<String, f64>,
}

impl Floors {
    fn from_options(options: &DriftOptions) -> Self {
        Self {
            numeric: options.numeric_min_effect,
            categorical: options.categorical_min_effect,
            columns: options.column_min_effects.clone(),
        }
    }

    fn of_name(&self, name: &str, categorical: bool) -> f64 {
        self.columns.get(name).copied().unwrap_or(if categorical {
            self.categorical
        } else {
            self.numeric
        })
    }

    fn of(&self, column: &ColumnOutcome) -> f64 {
        self.of_name(&column.name, column.categorical)
    }
}

/// The detector's rule re-applied with other minimum effects.
fn column_drifts(column: &ColumnOutcome, floors: &Floors, alpha: f64) -> bool {
    let threshold = floors.of(column).max(column.calibrated.unwrap_or(0.0));
    !column.seasonal && column.p_value_adjusted < alpha && column.effect > threshold
}

fn alerts(window: &WindowOutcome, floors: &Floors, alpha: f64) -> bool {
    window
        .columns
        .iter()
        .any(|c| column_drifts(c, floors, alpha))
}

fn score(windows: &[WindowOutcome], floors: &Floors, alpha: f64) -> Scores {
    let (mut tp, mut fp, mut fn_, mut tn) = (0, 0, 0, 0);
    for window in windows {
        let alert = alerts(window, floors, alpha);
        match (window.label, alert) {
            ("drift", true) => tp += 1,
            ("drift", false) => fn_ += 1,
            ("no_drift", true) => fp += 1,
            ("no_drift", false) => tn += 1,
            _ => {}
        }
    }
    let ratio = |a: usize, b: usize, empty: f64| if b == 0 { empty } else { a as f64 / b as f64 };
    Scores {
        true_positives: tp,
        false_positives: fp,
        false_negatives: fn_,
        true_negatives: tn,
        precision: ratio(tp, tp + fp, 1.0),
        recall: ratio(tp, tp + fn_, 1.0),
        alert_rate: ratio(tp + fp, tp + fp + fn_ + tn, 0.0),
        false_positive_rate: ratio(fp, fp + tn, 0.0),
    }
}

/// Raises per-column minimum effects until precision reaches `target`: each step raises the
/// one column whose false alarms cost most — to just above the largest effect it showed in a
/// no-drift window — keeping the step that loses the least recall.
pub fn tune(report: &mut BacktestReport, options: &DriftOptions, target: f64) {
    tune_to(report, options, target, None);
}

/// [`tune`], after first lowering per-column minimum effects until recall reaches
/// `target_recall` (when given): each step lowers the one column that recovers most missed
/// drift windows — to just below the smallest significant effect it showed in a missed one,
/// never below the largest effect it showed in a no-drift window (which would trade the
/// missed drift for false alarms).
pub fn tune_to(
    report: &mut BacktestReport,
    options: &DriftOptions,
    target: f64,
    target_recall: Option<f64>,
) {
    let mut floors = Floors::from_options(options);
    let mut changes: BTreeMap<String, Change> = BTreeMap::new();
    let alpha = options.alpha;
    if let Some(target_recall) = target_recall {
        lower_for_recall(
            &report.windows,
            &mut floors,
            alpha,
            target_recall,
            &mut changes,
        );
    }
    let columns: BTreeMap<String, bool> = report
        .windows
        .iter()
        .flat_map(|w| w.columns.iter().map(|c| (c.name.clone(), c.categorical)))
        .collect();
    let no_drift_windows = report
        .windows
        .iter()
        .filter(|w| w.label == "no_drift")
        .count();
    let mut current = score(&report.windows, &floors, alpha);
    while current.precision < target {
        // (scores after, column, new floor, quiet windows above the old floor, largest quiet effect)
        let mut best: Option<(Scores, &str, f64, usize, f64)> = None;
        for (name, categorical) in &columns {
            let quiet_effects: Vec<f64> = report
                .windows
                .iter()
                .filter(|w| w.label == "no_drift")
                .flat_map(|w| {
                    w.columns
                        .iter()
                        .filter(|c| &c.name == name && c.p_value_adjusted < alpha && !c.seasonal)
                })
                .map(|c| c.effect)
                .collect();
            let Some(max_quiet) = quiet_effects.iter().copied().reduce(f64::max) else {
                continue;
            };
            let floor_now = floors.of_name(name, *categorical);
            if max_quiet < floor_now {
                continue;
            }
            // Round up to 3 significant digits so the file reads well and stays above the max.
            let raised = round_up(max_quiet * 1.05);
            let mut trial = floors.clone();
            trial.columns.insert(name.clone(), raised);
            let trial_score = score(&report.windows, &trial, alpha);
            if trial_score.false_positives >= current.false_positives {
                continue;
            }
            let quiet_alerts = quiet_effects.iter().filter(|e| **e > floor_now).count();
            let better = best.as_ref().is_none_or(|(s, ..)| {
                (trial_score.recall, trial_score.precision) > (s.recall, s.precision)
            });
            if better {
                best = Some((trial_score, name, raised, quiet_alerts, max_quiet));
            }
        }
        let Some((scores, name, raised, quiet_alerts, max_quiet)) = best else {
            break;
        };
        let before = changes
            .get(name)
            .map_or_else(|| floors.of_name(name, columns[name]), |c| c.before);
        changes.insert(
            name.to_string(),
            Change {
                column: name.to_string(),
                before,
                after: raised,
                reason: format!(
                    "effect above {before} in {quiet_alerts} of {no_drift_windows} no-drift windows; the largest was {max_quiet:.4}"
                ),
            },
        );
        floors.columns.insert(name.to_string(), raised);
        current = scores;
    }
    let thresholds = Thresholds {
        alpha,
        numeric_min_effect: floors.numeric,
        categorical_min_effect: floors.categorical,
        columns: floors.columns.clone(),
    };
    for window in &mut report.windows {
        window.drifted_columns = window
            .columns
            .iter()
            .filter(|c| column_drifts(c, &floors, alpha))
            .map(|c| c.name.clone())
            .collect();
    }
    report.tuning = Some(Tuning {
        target_precision: target,
        target_recall,
        reached: current.precision >= target
            && target_recall.is_none_or(|recall| current.recall >= recall),
        after: current,
        changes: changes.into_values().collect(),
        thresholds,
    });
}

/// The recall half of [`tune_to`].
fn lower_for_recall(
    windows: &[WindowOutcome],
    floors: &mut Floors,
    alpha: f64,
    target: f64,
    changes: &mut BTreeMap<String, Change>,
) {
    let drift_windows = windows.iter().filter(|w| w.label == "drift").count();
    let mut current = score(windows, floors, alpha);
    while current.recall < target {
        let mut best: Option<(Scores, String, f64, f64)> = None;
        let missed: Vec<&WindowOutcome> = windows
            .iter()
            .filter(|w| w.label == "drift" && !alerts(w, floors, alpha))
            .collect();
        let names: std::collections::BTreeSet<(&str, bool)> = missed
            .iter()
            .flat_map(|w| w.columns.iter().map(|c| (c.name.as_str(), c.categorical)))
            .collect();
        for (name, categorical) in names {
            let significant = |w: &&WindowOutcome| {
                w.columns
                    .iter()
                    .filter(move |c| c.name == name && c.p_value_adjusted < alpha && !c.seasonal)
                    .map(|c| c.effect)
                    .collect::<Vec<_>>()
            };
            let Some(smallest_missed) = missed.iter().flat_map(significant).reduce(f64::min) else {
                continue;
            };
            let largest_quiet = windows
                .iter()
                .filter(|w| w.label == "no_drift")
                .flat_map(|w| significant(&w))
                .reduce(f64::max)
                .unwrap_or(0.0);
            let lowered = round_down(smallest_missed * 0.95);
            if lowered <= largest_quiet || lowered >= floors.of_name(name, categorical) {
                continue;
            }
            let mut trial = floors.clone();
            trial.columns.insert(name.to_string(), lowered);
            let trial_score = score(windows, &trial, alpha);
            if trial_score.recall <= current.recall {
                continue;
            }
            if best.as_ref().is_none_or(|(s, ..)| {
                (trial_score.recall, trial_score.precision) > (s.recall, s.precision)
            }) {
                best = Some((trial_score, name.to_string(), lowered, smallest_missed));
            }
        }
        let Some((scores, name, lowered, smallest)) = best else {
            break;
        };
        let categorical = windows
            .iter()
            .flat_map(|w| &w.columns)
            .any(|c| c.name == name && c.categorical);
        let before = changes
            .get(&name)
            .map_or_else(|| floors.of_name(&name, categorical), |c| c.before);
        let missed_now = drift_windows - current.true_positives;
        changes.insert(
            name.clone(),
            Change {
                column: name.clone(),
                before,
                after: lowered,
                reason: format!(
                    "{missed_now} of {drift_windows} drift windows missed; the smallest significant effect there was {smallest:.4}"
                ),
            },
        );
        floors.columns.insert(name, lowered);
        current = scores;
    }
}

fn round_down(value: f64) -> f64 {
    if value <= 0.0 {
        return value;
    }
    let scale = 10f64.powi(2 - value.log10().floor() as i32);
    (value * scale).floor() / scale
}

fn round_up(value: f64) -> f64 {
    if value <= 0.0 {
        return value;
    }
    let scale = 10f64.powi(2 - value.log10().floor() as i32);
    (value * scale).ceil() / scale
}

/// The thresholds file: YAML the detector reads with `--thresholds`.
pub fn thresholds_yaml(tuning: &Tuning, history: &str) -> String {
    let t = &tuning.thresholds;
    let mut out = format!(
        "# Drift thresholds tuned by `warden drift backtest` on {history}\n# to a target precision of {}.\nalpha: {}\nnumeric_min_effect: {}\ncategorical_min_effect: {}\ncolumns:\n",
        tuning.target_precision, t.alpha, t.numeric_min_effect, t.categorical_min_effect
    );
    if t.columns.is_empty() {
        out.push_str("  {}\n");
    }
    for (column, value) in &t.columns {
        out.push_str(&format!(
            "  {}: {value}\n",
            serde_json::to_string(column).unwrap_or_default()
        ));
    }
    out
}

/// The decision record (Markdown) for a tuning.
pub fn decision_record(report: &BacktestReport, tuning: &Tuning, thresholds_path: &str) -> String {
    let before = &report.scores;
    let after = &tuning.after;
    let mut out = String::new();
    out.push_str("# Decision record: drift thresholds tuned from a labelled backtest\n\n");
    out.push_str(&format!(
        "## Context\n\nThe drift detector was backtested on `{}` — {} windows of {} against the {} reference (labels mark the {}), {} labelled drift and {} labelled no-drift. With the thresholds in use it raised {} false alarms (false-positive rate {:.1}%), below the target precision of {:.0}%.\n\n",
        report.history,
        report.windows.len(),
        report.window,
        report.reference_window,
        report.label_semantics,
        before.true_positives + before.false_negatives,
        before.false_positives + before.true_negatives,
        before.false_positives,
        before.false_positive_rate * 100.0,
        tuning.target_precision * 100.0
    ));
    if let Some(recall) = tuning.target_recall {
        out.push_str(&format!(
            "Its recall was {:.1}% against a target of {:.0}%: labelled drift was missed.\n\n",
            before.recall * 100.0,
            recall * 100.0
        ));
        out.push_str("## Decision\n\nLower the minimum effect of the columns that showed significant effects in missed drift windows to just below the smallest such effect (never below what they showed in quiet windows); then raise")
    } else {
        out.push_str("## Decision\n\nRaise")
    }
    out.push_str(" the minimum effect of the columns that alerted on quiet windows to just above the largest effect they showed there; leave every other threshold, the significance level and the multiple-testing correction unchanged.\n\n| column | before | after | why |\n|---|---|---|---|\n");
    for change in &tuning.changes {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            change.column, change.before, change.after, change.reason
        ));
    }
    if tuning.changes.is_empty() {
        out.push_str("| — | | | no change was needed |\n");
    }
    out.push_str(&format!(
        "\n## Consequences\n\n| | before | after |\n|---|---|---|\n| precision | {:.3} | {:.3} |\n| recall | {:.3} | {:.3} |\n| false-positive rate | {:.3} | {:.3} |\n| alert rate | {:.3} | {:.3} |\n\n",
        before.precision, after.precision, before.recall, after.recall, before.false_positive_rate, after.false_positive_rate, before.alert_rate, after.alert_rate
    ));
    if !tuning.reached {
        out.push_str("The target precision was **not** reached: the remaining false alarms come from columns whose quiet-window effects overlap real drift, so raising them further would lose recall. Review the labels or add a seasonal reference.\n\n");
    }
    out.push_str(&format!(
        "Apply with `warden drift … --thresholds {thresholds_path}`; revert by dropping the flag. Re-run the backtest when the labelled history grows.\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_with_line_numbers_in_errors() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("labels.csv");
        std::fs::write(&path, "start,end,label\n2026-11-01,2026-11-02,drift\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let labels = load_labels(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            labels[0].end_ms - labels[0].start_ms,
            2 * 86_400_000,
            "a date end includes the day"
        );
        std::fs::write(&path, "start,end,label\n2026-11-01,2026-11-02,maybe\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let message = load_labels(&path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.contains("labels.csv:2") && message.contains("maybe"),
            "{message}"
        );
    }

    #[test]
    fn rounding_up_keeps_three_digits() {
        assert_eq!(round_up(0.123_41), 0.124);
        assert_eq!(round_up(1.5), 1.5);
    }
}
