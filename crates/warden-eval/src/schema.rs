//! The canonical prediction-log schema (docs/EVALUATION.md): every prediction log Warden
//! reads is seen through a [`ColumnMap`] that says which of the user's columns is the
//! timestamp, the entity keys, the model name and version, the prediction, the actual and the
//! features. Defaults are the canonical names, so logs written that way need no mapping.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::EvalError;

/// Which of the user's columns plays which canonical part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ColumnMap {
    /// When the prediction was made (default `timestamp`; optional in the data).
    pub timestamp: String,
    /// The entity keys that join predictions to actuals, e.g. `[store_id, item_id, date]`.
    pub keys: Vec<String>,
    /// The keys that name one series (default: the keys that are not dates or times); MASE's
    /// seasonal naive forecast runs along each series.
    pub series: Option<Vec<String>>,
    /// The registered model's name (default `model_name`; optional in the data).
    pub model_name: String,
    /// The model version that made the prediction (default `model_version`; optional).
    pub model_version: String,
    /// The model's output (default `prediction`).
    pub prediction: String,
    /// The observed value (default `actual`), in the actuals file or in the log itself.
    pub actual: String,
    /// Feature columns (default: every other column).
    pub features: Vec<String>,
}

impl Default for ColumnMap {
    fn default() -> Self {
        Self {
            timestamp: "timestamp".into(),
            keys: Vec::new(),
            series: None,
            model_name: "model_name".into(),
            model_version: "model_version".into(),
            prediction: "prediction".into(),
            actual: "actual".into(),
            features: Vec::new(),
        }
    }
}

impl ColumnMap {
    /// Reads a mapping file (YAML or JSON with the fields of [`ColumnMap`]).
    ///
    /// # Errors
    /// Unreadable or invalid, naming the file and the field.
    pub fn from_file(path: &Path) -> Result<Self, EvalError> {
        crate::read_yaml(path)
    }

    /// The columns that are not features: timestamp, keys, name, version, prediction, actual.
    pub fn is_reserved(&self, column: &str) -> bool {
        column == self.timestamp
            || column == self.model_name
            || column == self.model_version
            || column == self.prediction
            || column == self.actual
            || self.keys.iter().any(|k| k == column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_file_overrides_only_what_it_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("map.yaml");
        std::fs::write(&path, "prediction: yhat\nkeys: [store_id, date]\n").expect("write");
        let map = ColumnMap::from_file(&path).expect("valid");
        assert_eq!(map.prediction, "yhat");
        assert_eq!(map.keys, ["store_id", "date"]);
        assert_eq!(map.actual, "actual");
        assert!(map.is_reserved("date"));
        assert!(!map.is_reserved("price"));
    }

    #[test]
    fn an_unknown_field_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("map.yaml");
        std::fs::write(&path, "predicton: yhat\n").expect("write");
        let error = ColumnMap::from_file(&path).expect_err("typo").to_string();
        assert!(
            error.contains("map.yaml") && error.contains("predicton"),
            "{error}"
        );
    }
}
