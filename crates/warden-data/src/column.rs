//! Column values as the statistics need them: numbers as `f64` (NaN is missing), categories as
//! dictionary codes, timestamps as epoch milliseconds. Rows stay aligned across the columns of
//! one data set so segments and seasons can select the same rows everywhere.

use serde::{Deserialize, Serialize};

/// The code of a missing categorical value.
pub const NULL_CODE: u32 = u32::MAX;
/// A missing timestamp.
pub const NULL_TIMESTAMP: i64 = i64::MIN;

/// How a column is analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Continuous or count data: KS, Wasserstein, PSI.
    Numeric,
    /// Labels: chi-square, Jensen–Shannon.
    Categorical,
    /// Event time: windows and seasons, never tested for drift.
    Timestamp,
}

impl ColumnKind {
    /// The name used in output.
    pub fn name(self) -> &'static str {
        match self {
            Self::Numeric => "numeric",
            Self::Categorical => "categorical",
            Self::Timestamp => "timestamp",
        }
    }
}

/// The values of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    /// NaN marks a missing value.
    Numeric(Vec<f64>),
    /// Codes into `levels`; [`NULL_CODE`] marks a missing value.
    Categorical {
        /// One code per row.
        codes: Vec<u32>,
        /// The distinct labels, in order of first appearance.
        levels: Vec<String>,
    },
    /// Epoch milliseconds; [`NULL_TIMESTAMP`] marks a missing value.
    Timestamp(Vec<i64>),
}

/// A named column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The column name.
    pub name: String,
    /// Its values.
    pub values: ColumnValues,
}

impl Column {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match &self.values {
            ColumnValues::Numeric(values) => values.len(),
            ColumnValues::Categorical { codes, .. } => codes.len(),
            ColumnValues::Timestamp(values) => values.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many values are missing.
    pub fn null_count(&self) -> usize {
        match &self.values {
            ColumnValues::Numeric(values) => values.iter().filter(|v| v.is_nan()).count(),
            ColumnValues::Categorical { codes, .. } => {
                codes.iter().filter(|c| **c == NULL_CODE).count()
            }
            ColumnValues::Timestamp(values) => {
                values.iter().filter(|v| **v == NULL_TIMESTAMP).count()
            }
        }
    }

    /// The kind of the values.
    pub fn kind(&self) -> ColumnKind {
        match &self.values {
            ColumnValues::Numeric(_) => ColumnKind::Numeric,
            ColumnValues::Categorical { .. } => ColumnKind::Categorical,
            ColumnValues::Timestamp(_) => ColumnKind::Timestamp,
        }
    }

    /// The rows at `rows`, in that order.
    pub fn select(&self, rows: &[u32]) -> Column {
        let values = match &self.values {
            ColumnValues::Numeric(values) => {
                ColumnValues::Numeric(rows.iter().map(|r| values[*r as usize]).collect())
            }
            ColumnValues::Categorical { codes, levels } => ColumnValues::Categorical {
                codes: rows.iter().map(|r| codes[*r as usize]).collect(),
                levels: levels.clone(),
            },
            ColumnValues::Timestamp(values) => {
                ColumnValues::Timestamp(rows.iter().map(|r| values[*r as usize]).collect())
            }
        };
        Column {
            name: self.name.clone(),
            values,
        }
    }
}
