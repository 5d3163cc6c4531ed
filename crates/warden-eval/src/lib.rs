//! Model evaluation for runbook 5 ("Model regression after deployment"): the statistics behind
//! `warden evaluate`, `warden compare`, `warden validate` and `warden rollout gate`, and the
//! regression detector the daemon runs (R5.1, R5.3–R5.5).
//!
//! - [`schema`]: the canonical prediction-log schema and how the user's columns map onto it.
//! - [`table`]: predictions joined to actuals on their keys, one row per scored entity.
//! - [`metrics`]: MAE, RMSE, MAPE, sMAPE, WAPE, bias and MASE with bootstrap intervals.
//! - [`regression`]: is a new version worse than the old one (or a challenger than the
//!   champion), significantly and by at least a minimum effect; business-metric series too.
//! - [`validate`]: data checks (columns, types, nulls, ranges, duplicate keys, categories,
//!   freshness) and training/serving parity.
//! - [`causes`]: runbook 5's causes decided from the evidence artifacts.
//! - [`compare`]: prediction and feature distributions before vs after, per segment, the
//!   entities that moved most, and the paired change on overlapping keys.
//! - [`synthetic`]: seeded prediction logs and actuals for tests and benchmarks.

pub mod causes;
pub mod compare;
pub mod metrics;
pub mod regression;
pub mod schema;
pub mod synthetic;
pub mod table;
pub mod validate;

pub use metrics::{Accuracy, Metric};
pub use schema::ColumnMap;
pub use table::Scored;

/// Everything that can go wrong, each naming the file, column or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Reading the data failed.
    #[error(transparent)]
    Data(#[from] warden_data::DataError),
    /// The drift engine refused the comparison.
    #[error(transparent)]
    Drift(#[from] warden_drift::DriftError),
    /// A schema or mapping file is unreadable or invalid.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The request cannot be answered from this data (no rows joined, no key columns, …).
    #[error("{0}")]
    Invalid(String),
}

/// Reads a YAML or JSON file into `T`; errors name the file (and serde's field and line).
///
/// # Errors
/// Unreadable or invalid.
pub fn read_yaml<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|error| EvalError::File {
        path: path.display().to_string(),
        message: error.to_string(),
    })?;
    serde_saphyr::from_str(&text).map_err(|error| EvalError::File {
        path: path.display().to_string(),
        message: error.to_string(),
    })
}
