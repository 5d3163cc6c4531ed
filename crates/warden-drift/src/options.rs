//! What a drift run compares and how it decides: column roles (from flags or a schema file),
//! the significance level and correction, the minimum effects, seasons, windows and tuned
//! thresholds (from a file written by `warden drift backtest`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use warden_stats::multiple::Correction;

use crate::DriftError;

/// Default significance level (after multiple-testing adjustment).
pub const DEFAULT_ALPHA: f64 = 0.05;
/// Default minimum numeric effect: Wasserstein-1 distance over the reference standard deviation
/// — a tenth of a standard deviation of movement in the bulk of the distribution.
pub const DEFAULT_NUMERIC_MIN_EFFECT: f64 = 0.1;
/// Default minimum categorical effect: Jensen–Shannon distance 0.035, which for small shifts
/// equals Cohen's w = 0.1 (a "small" effect): JS ≈ w / (2·√2).
pub const DEFAULT_CATEGORICAL_MIN_EFFECT: f64 = 0.035;
/// At most this many leave-one-out reference chunks calibrate a threshold.
pub const MAX_CALIBRATION_CHUNKS: usize = 20;
/// Fewer chunks than this give no calibrated threshold (the floor applies alone).
pub const MIN_CALIBRATION_CHUNKS: usize = 3;
/// A side with fewer non-missing values than this is not tested.
pub const DEFAULT_MIN_ROWS: usize = 50;

/// A seasonal key of a timestamp (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Season {
    /// Monday … Sunday.
    DayOfWeek,
    /// Monday 00h … Sunday 23h.
    HourOfWeek,
}

impl Season {
    /// Parses `day-of-week` or `hour-of-week`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "day-of-week" => Some(Self::DayOfWeek),
            "hour-of-week" => Some(Self::HourOfWeek),
            _ => None,
        }
    }

    /// The flag value.
    pub fn name(self) -> &'static str {
        match self {
            Self::DayOfWeek => "day-of-week",
            Self::HourOfWeek => "hour-of-week",
        }
    }

    /// The season of an epoch-millisecond timestamp: 0 = Monday (00h).
    pub fn key(self, epoch_ms: i64) -> u16 {
        const HOUR_MS: i64 = 3_600_000;
        let hours = epoch_ms.div_euclid(HOUR_MS);
        // 1970-01-01 was a Thursday: day 0 is weekday 3 counting from Monday.
        let hour_of_week = (hours + 3 * 24).rem_euclid(7 * 24) as u16;
        match self {
            Self::DayOfWeek => hour_of_week / 24,
            Self::HourOfWeek => hour_of_week,
        }
    }
}

/// Which columns play which part. Columns not named are inferred from their storage type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Roles {
    /// The event-time column (seasons, sliding windows, calibration order).
    pub timestamp: Option<String>,
    /// Columns whose values define segments (per store, per region, …).
    pub segments: Vec<String>,
    /// Columns not tested (ids, free text).
    pub ignore: Vec<String>,
    /// Columns tested as categorical whatever their storage type (integer codes).
    pub categorical: Vec<String>,
    /// Columns tested as numeric whatever their storage type.
    pub numeric: Vec<String>,
    /// The model's output column; tested like any other, reported with role `prediction`.
    pub prediction: Option<String>,
    /// When not empty, only these columns are tested.
    pub columns: Vec<String>,
}

impl Roles {
    /// Reads a schema file (YAML or JSON, the same fields as [`Roles`]).
    pub fn from_file(path: &Path) -> Result<Self, DriftError> {
        let text = std::fs::read_to_string(path).map_err(|error| DriftError::File {
            path: path.display().to_string(),
            message: error.to_string(),
        })?;
        serde_saphyr::from_str(&text).map_err(|error| DriftError::File {
            path: path.display().to_string(),
            message: error.to_string(),
        })
    }

    /// Adds the roles given on the command line to these (flags add to the file).
    pub fn merge(&mut self, other: Roles) {
        if other.timestamp.is_some() {
            self.timestamp = other.timestamp;
        }
        if other.prediction.is_some() {
            self.prediction = other.prediction;
        }
        self.segments.extend(other.segments);
        self.ignore.extend(other.ignore);
        self.categorical.extend(other.categorical);
        self.numeric.extend(other.numeric);
        self.columns.extend(other.columns);
    }
}

/// Per-column thresholds tuned by a backtest, as written to and read from a thresholds file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Significance level.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Minimum numeric effect for columns not listed.
    #[serde(default = "default_numeric")]
    pub numeric_min_effect: f64,
    /// Minimum categorical effect for columns not listed.
    #[serde(default = "default_categorical")]
    pub categorical_min_effect: f64,
    /// Minimum effect per column.
    #[serde(default)]
    pub columns: BTreeMap<String, f64>,
}

fn default_alpha() -> f64 {
    DEFAULT_ALPHA
}
fn default_numeric() -> f64 {
    DEFAULT_NUMERIC_MIN_EFFECT
}
fn default_categorical() -> f64 {
    DEFAULT_CATEGORICAL_MIN_EFFECT
}

impl Thresholds {
    /// Reads a thresholds file (YAML or JSON).
    pub fn from_file(path: &Path) -> Result<Self, DriftError> {
        let text = std::fs::read_to_string(path).map_err(|error| DriftError::File {
            path: path.display().to_string(),
            message: error.to_string(),
        })?;
        let thresholds: Thresholds =
            serde_saphyr::from_str(&text).map_err(|error| DriftError::File {
                path: path.display().to_string(),
                message: error.to_string(),
            })?;
        let invalid = |field: &str| DriftError::File {
            path: path.display().to_string(),
            message: format!("{field}: must be a positive number"),
        };
        if !(thresholds.alpha > 0.0 && thresholds.alpha < 1.0) {
            return Err(invalid("alpha"));
        }
        for (name, value) in [
            ("numeric_min_effect", thresholds.numeric_min_effect),
            ("categorical_min_effect", thresholds.categorical_min_effect),
        ] {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(invalid(name));
            }
        }
        for (column, value) in &thresholds.columns {
            if !(*value >= 0.0 && value.is_finite()) {
                return Err(invalid(&format!("columns.{column}")));
            }
        }
        Ok(thresholds)
    }
}

/// Everything that shapes one run.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftOptions {
    /// Column roles.
    pub roles: Roles,
    /// Significance level after adjustment.
    pub alpha: f64,
    /// Multiple-testing correction across columns (and segments).
    pub correction: Correction,
    /// Minimum numeric effect (normalized Wasserstein) unless a column has its own.
    pub numeric_min_effect: f64,
    /// Minimum categorical effect (Jensen–Shannon distance) unless a column has its own.
    pub categorical_min_effect: f64,
    /// Per-column minimum effects from a thresholds file.
    pub column_min_effects: BTreeMap<String, f64>,
    /// Where the per-column thresholds came from, for the report.
    pub thresholds_source: Option<String>,
    /// Compare with the same season of the reference only.
    pub seasonal: Option<Season>,
    /// With `reference_window`: the current window is this long, ending at the last timestamp.
    pub window_ms: i64,
    /// Build the reference from the logs themselves: this long, right before the window.
    pub reference_window_ms: Option<i64>,
    /// Smallest side that is tested.
    pub min_rows: usize,
    /// Worker threads for columns.
    pub threads: usize,
}

impl Default for DriftOptions {
    fn default() -> Self {
        Self {
            roles: Roles::default(),
            alpha: DEFAULT_ALPHA,
            correction: Correction::BenjaminiHochberg,
            numeric_min_effect: DEFAULT_NUMERIC_MIN_EFFECT,
            categorical_min_effect: DEFAULT_CATEGORICAL_MIN_EFFECT,
            column_min_effects: BTreeMap::new(),
            thresholds_source: None,
            seasonal: None,
            window_ms: 86_400_000,
            reference_window_ms: None,
            min_rows: DEFAULT_MIN_ROWS,
            threads: std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .min(8),
        }
    }
}

impl DriftOptions {
    /// Applies a thresholds file.
    pub fn apply_thresholds(&mut self, thresholds: Thresholds, source: &str) {
        self.alpha = thresholds.alpha;
        self.numeric_min_effect = thresholds.numeric_min_effect;
        self.categorical_min_effect = thresholds.categorical_min_effect;
        self.column_min_effects = thresholds.columns;
        self.thresholds_source = Some(source.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seasons_of_known_dates() {
        // 2026-11-21 was a Saturday; 12:00 UTC.
        let saturday_noon = 1_795_262_400_000;
        assert_eq!(Season::DayOfWeek.key(saturday_noon), 5);
        assert_eq!(Season::HourOfWeek.key(saturday_noon), 5 * 24 + 12);
        assert_eq!(Season::DayOfWeek.key(0), 3, "1970-01-01 was a Thursday");
    }

    #[test]
    fn thresholds_files_are_validated() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("t.yaml");
        std::fs::write(&path, "alpha: 0.01\ncolumns:\n  price: 0.2\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let thresholds = Thresholds::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(thresholds.columns["price"], 0.2);
        assert_eq!(thresholds.numeric_min_effect, DEFAULT_NUMERIC_MIN_EFFECT);
        std::fs::write(&path, "alpha: 0.01\ncolums: {}\n").unwrap_or_else(|e| panic!("{e}"));
        let message = Thresholds::from_file(&path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.contains("t.yaml") && message.contains("colums"),
            "{message}"
        );
    }
}
