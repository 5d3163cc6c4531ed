//! Secrets are references in the configuration (an environment variable or a file), resolved
//! only when a command needs them, and never printed: [`Secret`]'s `Debug` and `Display` are
//! redacted, and serializing a [`SecretRef`] shows where the secret lives, not what it is.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

/// Where a secret lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretRef {
    /// An environment variable's value.
    Env(String),
    /// A file's content, without one trailing newline.
    File(PathBuf),
}

/// A resolved secret value. It can be used, not shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value obtained elsewhere (e.g. a token issued by a server).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that sends it (an `Authorization` header, a connection).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A secret reference that could not be resolved; names the variable or file, never a value.
#[derive(Debug, Error)]
pub enum SecretError {
    /// The environment variable is not set (or not valid UTF-8).
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// The environment variable is set but empty.
    #[error("environment variable {0} is empty")]
    EmptyEnv(String),
    /// The file cannot be read.
    #[error("cannot read secret file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("secret file {0} is empty")]
    EmptyFile(PathBuf),
}

impl SecretRef {
    /// Reads the secret.
    ///
    /// # Errors
    /// [`SecretError`] when the variable is unset or empty, or the file unreadable or empty.
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        match self {
            SecretRef::Env(name) => {
                let value =
                    std::env::var(name).map_err(|_| SecretError::MissingEnv(name.clone()))?;
                if value.is_empty() {
                    return Err(SecretError::EmptyEnv(name.clone()));
                }
                Ok(Secret(value))
            }
            SecretRef::File(path) => {
                let value = std::fs::read_to_string(path).map_err(|source| SecretError::File {
                    path: path.clone(),
                    source,
                })?;
                let value = value.strip_suffix('\n').unwrap_or(&value);
                let value = value.strip_suffix('\r').unwrap_or(value);
                if value.is_empty() {
                    return Err(SecretError::EmptyFile(path.clone()));
                }
                Ok(Secret(value.to_string()))
            }
        }
    }

    /// Where the secret lives, for messages: `env:NAME` or `file:PATH`.
    pub fn describe(&self) -> String {
        match self {
            SecretRef::Env(name) => format!("env:{name}"),
            SecretRef::File(path) => format!("file:{}", path.display()),
        }
    }

    /// A file reference relative to `base` (the configuration file's directory).
    pub(crate) fn file_relative_to(base: &Path, path: &str) -> Self {
        SecretRef::File(base.join(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn never_shows_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(secret.to_string(), "***");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn resolves_files_without_the_trailing_newline() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "s3cr3t").unwrap();
        let secret = SecretRef::File(file.path().to_path_buf())
            .resolve()
            .unwrap();
        assert_eq!(secret.expose(), "s3cr3t");
    }

    #[test]
    fn unresolvable_references_name_the_source_only() {
        let missing = SecretRef::Env("WARDEN_TEST_SURELY_UNSET_VARIABLE".into()).resolve();
        let message = missing.unwrap_err().to_string();
        assert_eq!(
            message,
            "environment variable WARDEN_TEST_SURELY_UNSET_VARIABLE is not set"
        );
        let empty = tempfile::NamedTempFile::new().unwrap();
        let error = SecretRef::File(empty.path().to_path_buf())
            .resolve()
            .unwrap_err();
        assert!(matches!(error, SecretError::EmptyFile(_)));
    }
}
