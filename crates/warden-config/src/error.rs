//! Configuration errors that point at the exact place: `file:line:column: field: message`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigError {
    /// The configuration file.
    pub file: PathBuf,
    /// 1-based line; 0 when the problem has no place in the file (e.g. it cannot be read).
    pub line: u64,
    /// 1-based column; 0 when unknown.
    pub column: u64,
    /// The dotted path of the field, e.g. `connectors.mlflow.url`; empty for the whole file.
    pub field: String,
    /// What is wrong, in lowercase, without a trailing period.
    pub message: String,
}

impl ConfigError {
    /// An error at a known place.
    pub fn at(
        file: &Path,
        (line, column): (u64, u64),
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            column,
            field: field.into(),
            message: message.into(),
        }
    }

    /// An error about the file as a whole or a field whose place is unknown.
    pub fn unlocated(file: &Path, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::at(file, (0, 0), field, message)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in one configuration file, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The individual errors.
    pub fn iter(&self) -> impl Iterator<Item = &ConfigError> {
        self.0.iter()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        Self(vec![error])
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_line_column_field_message() {
        let error = ConfigError::at(
            Path::new("warden.yaml"),
            (12, 5),
            "connectors.mlflow.url",
            "invalid url",
        );
        assert_eq!(
            error.to_string(),
            "warden.yaml:12:5: connectors.mlflow.url: invalid url"
        );
        let unlocated = ConfigError::unlocated(Path::new("w.yaml"), "", "cannot read file");
        assert_eq!(unlocated.to_string(), "w.yaml: cannot read file");
    }
}
