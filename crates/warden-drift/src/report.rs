//! The drift report: its stable JSON shape (documented in docs/CLI.md), the decision rule,
//! and the terminal table. Same input, same bytes: no clock, no hash-map order, fixed rounding
//! of chart data.

use serde::{Deserialize, Serialize};

/// What was decided for a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Significant and above the threshold.
    Drift,
    /// Not significant, or below the threshold.
    NoDrift,
    /// Differs from the whole reference but not from the same season of it.
    Seasonal,
    /// Not tested (reason given).
    Skipped,
}

impl Status {
    /// The word used in tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Drift => "DRIFT",
            Self::NoDrift => "ok",
            Self::Seasonal => "seasonal",
            Self::Skipped => "skipped",
        }
    }
}

/// A category and its counts on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryCount {
    /// The label.
    pub value: String,
    /// Count in the reference.
    pub reference: u64,
    /// Count in the current data.
    pub current: u64,
}

/// What a report draws for a column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Distribution {
    /// Histogram shares over shared bin edges (the 0.5% and 99.5% quantiles of both sides);
    /// values outside the edges are counted apart so a long tail does not look like a spike
    /// in the first or last bin.
    Numeric {
        /// `bins + 1` edges.
        edges: Vec<f64>,
        /// Reference share per bin.
        reference: Vec<f64>,
        /// Current share per bin.
        current: Vec<f64>,
        /// Reference shares below the first and above the last edge.
        reference_tails: [f64; 2],
        /// Current shares below the first and above the last edge.
        current_tails: [f64; 2],
    },
    /// Shares of the most common labels (the rest as "(other)").
    Categorical {
        /// Labels.
        labels: Vec<String>,
        /// Reference share per label.
        reference: Vec<f64>,
        /// Current share per label.
        current: Vec<f64>,
    },
}

/// The same column compared with the matching season of the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonalCheck {
    /// `day-of-week` or `hour-of-week`.
    pub season: String,
    /// Reference rows in the matching seasons.
    pub n_ref: usize,
    /// Effect against that slice.
    pub effect: Option<f64>,
    /// p-value against that slice (unadjusted).
    pub p_value: Option<f64>,
    /// Threshold against that slice.
    pub threshold: Option<f64>,
    /// Whether the column still drifts against the slice.
    pub drifted: bool,
}

/// One column's result. Field names are a stable interface.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnReport {
    /// Column name.
    pub name: String,
    /// `numeric` or `categorical`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `feature` or `prediction`.
    pub role: &'static str,
    /// The test and effect measure: `ks+wasserstein` or `chi2+jensen_shannon`.
    pub method: &'static str,
    /// The test statistic (KS D, or chi-square).
    pub statistic: Option<f64>,
    /// The effect size the threshold applies to.
    pub effect: Option<f64>,
    /// What `effect` measures: `wasserstein/sd` or `jensen_shannon`.
    pub effect_measure: &'static str,
    /// The test's p-value.
    pub p_value: Option<f64>,
    /// The p-value after multiple-testing adjustment.
    pub p_value_adjusted: Option<f64>,
    /// The minimum effect for drift.
    pub threshold: Option<f64>,
    /// Where the threshold came from.
    pub threshold_source: String,
    /// The minimum effect (default, or tuned) before any calibration raised it.
    pub min_effect: Option<f64>,
    /// Non-missing reference values.
    pub n_ref: usize,
    /// Non-missing current values.
    pub n_cur: usize,
    /// Share of missing values in the reference.
    pub null_share_ref: f64,
    /// Share of missing values in the current data.
    pub null_share_cur: f64,
    /// The decision.
    pub drifted: bool,
    /// The decision, with `seasonal` and `skipped` told apart.
    pub status: Status,
    /// One line saying why.
    pub reason: String,
    /// KS statistic (numeric).
    pub ks: Option<f64>,
    /// Wasserstein-1 distance in the column's units (numeric).
    pub wasserstein: Option<f64>,
    /// Population stability index over reference deciles (numeric).
    pub psi: Option<f64>,
    /// Labels only the current data has (categorical).
    pub new_categories: Vec<CategoryCount>,
    /// Labels only the reference has (categorical).
    pub vanished_categories: Vec<CategoryCount>,
    /// Encoding-change and data-quality hints.
    pub hints: Vec<String>,
    /// The comparison with the same season of the reference, when one was made.
    pub seasonal_check: Option<SeasonalCheck>,
    /// Chart data for reports.
    pub distribution: Option<Distribution>,
    /// When the reference's own most recent period differs from the rest of it by more than
    /// the drift threshold: where that period starts, as a share of the reference's rows in
    /// time order (the reference is not stationary for this column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_shifted_from: Option<f64>,
}

/// Decides a column once its adjusted p-value is known: drift needs both significance and an
/// effect above the threshold.
pub fn decide(report: &mut ColumnReport, p_adjusted: f64, alpha: f64) {
    if report.status == Status::Skipped {
        return;
    }
    report.p_value_adjusted = Some(p_adjusted);
    let (effect, threshold) = (
        report.effect.unwrap_or(0.0),
        report.threshold.unwrap_or(0.0),
    );
    let significant = p_adjusted < alpha;
    let large = effect > threshold;
    report.drifted = significant && large;
    report.status = if report.drifted {
        Status::Drift
    } else {
        Status::NoDrift
    };
    let measure = report.effect_measure;
    report.reason = match (significant, large) {
        (true, true) => format!(
            "drift: {measure} {effect:.4} > {threshold:.4} and adjusted p {p_adjusted:.2e} < {alpha}"
        ),
        (true, false) => format!(
            "no drift: significant (adjusted p {p_adjusted:.2e}) but {measure} {effect:.4} <= {threshold:.4}, too small to matter"
        ),
        (false, true) => format!(
            "no drift: {measure} {effect:.4} > {threshold:.4} but not significant (adjusted p {p_adjusted:.3})"
        ),
        (false, false) => {
            format!("no drift: {measure} {effect:.4} <= {threshold:.4}, adjusted p {p_adjusted:.3}")
        }
    };
}

/// A side's description in the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideSummary {
    /// What the user gave (or the profile file).
    pub location: String,
    /// Rows compared.
    pub rows: usize,
    /// Files read.
    pub files: usize,
    /// First and last timestamp, RFC 3339, when there is a timestamp column.
    pub time_range: Option<[String; 2]>,
}

/// How a column's type and role were decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inference {
    /// Column name.
    pub column: String,
    /// Storage type in the current data.
    pub source_type: String,
    /// `numeric`, `categorical`, `timestamp`, or `unsupported`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `feature`, `prediction`, `timestamp`, `segment` or `ignored`.
    pub role: String,
    /// Why: the storage type, a flag, or the schema file.
    pub decided_by: String,
}

/// The whole run's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Whether any column drifted.
    pub drifted: bool,
    /// Columns tested (not skipped).
    pub columns_tested: usize,
    /// Columns that drifted.
    pub columns_drifted: usize,
    /// Columns whose difference is seasonal.
    pub columns_seasonal: usize,
    /// Columns skipped.
    pub columns_skipped: usize,
    /// Significance level.
    pub alpha: f64,
    /// Multiple-testing correction.
    pub correction: String,
    /// `day-of-week` or `hour-of-week` when the reference was restricted to the current's
    /// seasons.
    pub seasonal: Option<String>,
    /// The reference.
    pub reference: SideSummary,
    /// The current data.
    pub current: SideSummary,
    /// What was inferred about each column.
    pub inference: Vec<Inference>,
    /// Anything else a reader should know (profile limits, season coverage, …).
    pub notes: Vec<String>,
    /// The reference itself moved: its most recent period differs from the rest of it by more
    /// than the drift threshold (for the columns named). The threshold calibration leaves that
    /// period out, but a reference refreshed "with recent production data" here already holds
    /// the new regime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_shift: Option<ReferenceShift>,
}

/// Where the reference stopped being stationary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceShift {
    /// When its last, different period starts (RFC 3339), when the reference has timestamps.
    pub since: Option<String>,
    /// That period's start as a share of the reference's rows in time order.
    pub from_share: f64,
    /// The columns whose recent reference differs.
    pub columns: Vec<String>,
}

impl ReferenceShift {
    /// One sentence for people.
    pub fn sentence(&self) -> String {
        let when = match &self.since {
            Some(since) => format!("since {since}"),
            None => format!(
                "in its last {:.0}% of rows",
                100.0 * (1.0 - self.from_share)
            ),
        };
        format!(
            "reference not stationary {when}: columns {} differ from the rest of the reference by more than the drift threshold — a reference that already holds a new regime hides it; use an older, stable reference (or split it at that point)",
            self.columns.join(", ")
        )
    }
}

/// One segment's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentReport {
    /// The segment column.
    pub column: String,
    /// Its value.
    pub value: String,
    /// Reference rows in the segment.
    pub rows_ref: usize,
    /// Current rows in the segment.
    pub rows_cur: usize,
    /// Names of drifted columns.
    pub drifted_columns: Vec<String>,
    /// Per-column results, adjusted together with every other segment's.
    pub columns: Vec<ColumnReport>,
}

/// The report of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    /// The summary.
    pub summary: Summary,
    /// One entry per column, in the data's column order.
    pub columns: Vec<ColumnReport>,
    /// Per-segment results when `--segment` was given.
    pub segments: Vec<SegmentReport>,
}

impl DriftReport {
    /// The terminal table.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let s = &self.summary;
        let _ = writeln!(
            out,
            "reference: {} ({} rows)",
            s.reference.location, s.reference.rows
        );
        let _ = writeln!(
            out,
            "current:   {} ({} rows)",
            s.current.location, s.current.rows
        );
        if let Some(season) = &s.seasonal {
            let _ = writeln!(
                out,
                "seasonal:  reference restricted to the current data's {season} slices"
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<24} {:<11} {:<9} {:>9} {:>9} {:>10} {:>10}",
            "COLUMN", "TYPE", "STATUS", "EFFECT", "THRESH", "P(ADJ)", "N_CUR"
        );
        for column in &self.columns {
            let number = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
            let p = column
                .p_value_adjusted
                .map_or("-".to_string(), |p| format!("{p:.1e}"));
            let _ = writeln!(
                out,
                "{:<24} {:<11} {:<9} {:>9} {:>9} {:>10} {:>10}",
                truncate(&column.name, 24),
                column.kind,
                column.status.name(),
                number(column.effect),
                number(column.threshold),
                p,
                column.n_cur
            );
            if column.status != Status::NoDrift {
                let _ = writeln!(out, "    {}", column.reason);
            }
            for hint in &column.hints {
                let _ = writeln!(out, "    hint: {hint}");
            }
        }
        for segment in &self.segments {
            if !segment.drifted_columns.is_empty() {
                let _ = writeln!(
                    out,
                    "segment {}={}: drift in {}",
                    segment.column,
                    segment.value,
                    segment.drifted_columns.join(", ")
                );
            }
        }
        for note in &s.notes {
            let _ = writeln!(out, "note: {note}");
        }
        let _ = writeln!(
            out,
            "\n{} of {} columns drifted ({} seasonal, {} skipped; {} at alpha {})",
            s.columns_drifted,
            s.columns_tested,
            s.columns_seasonal,
            s.columns_skipped,
            s.correction,
            s.alpha
        );
        out
    }
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut short: String = text.chars().take(width - 1).collect();
        short.push('…');
        short
    }
}
