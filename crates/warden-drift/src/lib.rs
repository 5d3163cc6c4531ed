//! The drift engine behind `warden drift`: per-column reference-vs-current decisions that need
//! both significance and an effect above a threshold calibrated on the reference at the
//! current window's size, with multiple-testing control, seasonal and segmented comparisons,
//! encoding-change hints, stored reference profiles, reports and backtests.
//!
//! - [`options`]: what a run compares and how it decides (flags or a schema file).
//! - [`analyze`]: one column, reference vs current — statistics, calibration, hints.
//! - [`engine`]: a whole run: sides, seasons, segments, parallel columns, the report.
//! - [`report`]: the report's stable JSON shape and the terminal table.
//! - [`html`]: the self-contained HTML report.
//! - [`profile`]: the precomputed reference profile.
//! - [`synthetic`]: the seeded data generator behind the tests and benchmarks.
//! - [`backtest`]: precision/recall over labelled history, threshold tuning, decision record.

pub mod analyze;
pub mod backtest;
pub mod engine;
pub mod html;
pub mod options;
pub mod profile;
pub mod report;
pub mod synthetic;

pub use engine::{Side, run};
pub use options::{DriftOptions, Season};
pub use report::{ColumnReport, DriftReport, Status};

/// Why a run could not produce a report.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// Reading input failed.
    #[error(transparent)]
    Data(#[from] warden_data::DataError),
    /// The options do not fit the data (no timestamp for a seasonal run, an empty window, …).
    #[error("{0}")]
    Invalid(String),
    /// A schema, profile or thresholds file is malformed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong, with line and column where known.
        message: String,
    },
}
