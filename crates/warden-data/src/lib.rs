//! Tabular input for the analysis commands: prediction logs, actuals and references in
//! Parquet, CSV or JSON lines — one file, a directory tree (date-partitioned logs such as
//! `prediction-logs/2026-11-24/`), a glob, or an S3 prefix — read one column at a time so a
//! 10M-row comparison never holds more than the columns being compared.
//!
//! - [`location`]: turning what the user typed into a list of local files (S3 objects are
//!   downloaded into a temporary directory that lives as long as the [`Dataset`]).
//! - [`dataset`]: the files' unified schema, type inference, and column reads.
//! - [`column`]: the column values the statistics work on.

pub mod column;
pub mod dataset;
pub mod location;
pub mod write;

pub use column::{Column, ColumnKind, ColumnValues, NULL_CODE, NULL_TIMESTAMP};
pub use dataset::{Dataset, FieldInfo};
pub use location::{DataFile, Format, S3Settings, probe_s3};

use std::path::PathBuf;

/// Everything that can go wrong reading input, each naming the file, column or URL.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The location matched no data file.
    #[error("{location}: no Parquet, CSV or JSON lines files found")]
    NoFiles {
        /// What the user gave.
        location: String,
    },
    /// A file could not be opened or read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A file is not valid in its format (corrupt Parquet, a broken CSV row, …).
    #[error("{file}: not a valid {format} file: {message}")]
    Corrupt {
        /// The file, as the user knows it (an `s3://` URL for downloaded objects).
        file: String,
        /// The format it was read as.
        format: &'static str,
        /// The reader's message.
        message: String,
    },
    /// A column the command needs is not in the data.
    #[error("{location}: no column `{column}` (columns: {available})")]
    MissingColumn {
        /// The data set.
        location: String,
        /// The column asked for.
        column: String,
        /// The columns that exist.
        available: String,
    },
    /// Files disagree on a column's type.
    #[error("column `{column}` is {first_kind} in {first_file} but {other_kind} in {other_file}")]
    TypeConflict {
        /// The column.
        column: String,
        /// One file and its type.
        first_file: String,
        /// Its kind there.
        first_kind: String,
        /// Another file.
        other_file: String,
        /// Its kind there.
        other_kind: String,
    },
    /// A column cannot be read as the kind asked for.
    #[error("{file}: column `{column}`: {message}")]
    BadValue {
        /// The file.
        file: String,
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// The object store failed (no such bucket, access denied, unreachable endpoint).
    #[error("{url}: {message}")]
    ObjectStore {
        /// The `s3://` URL.
        url: String,
        /// The store's message.
        message: String,
    },
}
