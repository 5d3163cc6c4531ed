//! Runbook YAML as written; every key checked by `deny_unknown_fields`, every value that the
//! linter judges kept with its location.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::LintError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRunbook {
    pub id: Spanned<String>,
    pub title: Spanned<String>,
    pub severity: Spanned<String>,
    #[serde(default)]
    pub symptoms: Option<String>,
    #[serde(default)]
    pub triggers: Vec<Spanned<RawTrigger>>,
    pub phases: RawPhases,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrigger {
    pub detector: Option<Spanned<String>>,
    pub params: Option<BTreeMap<String, serde_json::Value>>,
    pub alertmanager: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhases {
    #[serde(default)]
    pub containment: Vec<Spanned<RawStep>>,
    #[serde(default)]
    pub diagnostics: Vec<Spanned<RawStep>>,
    #[serde(default)]
    pub causes: Vec<Spanned<RawStep>>,
    #[serde(default)]
    pub fixes: Vec<Spanned<RawStep>>,
    #[serde(default)]
    pub validation: Vec<Spanned<RawStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub id: Spanned<String>,
    pub title: Spanned<String>,
    pub action: Option<Spanned<String>>,
    pub evidence: Option<Spanned<String>>,
    pub cause: Option<Spanned<String>>,
    pub evidence_from: Option<Vec<Spanned<String>>>,
    pub gate: Option<Spanned<RawGate>>,
    pub manual: Option<Spanned<bool>>,
    pub params: Option<Spanned<BTreeMap<String, serde_json::Value>>>,
    pub approval: Option<Spanned<String>>,
    #[serde(default)]
    pub when: Vec<Spanned<RawCondition>>,
    #[serde(default)]
    pub after: Vec<Spanned<String>>,
    pub retry: Option<Spanned<RawRetry>>,
    pub timeout: Option<Spanned<String>>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGate {
    pub check: Spanned<String>,
    pub below: Option<f64>,
    pub above: Option<f64>,
    #[serde(rename = "for")]
    pub hold_for: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCondition {
    pub step: Spanned<String>,
    pub is: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    pub attempts: Spanned<u32>,
    pub base: Option<Spanned<String>>,
    pub cap: Option<Spanned<String>>,
}

/// Parses YAML into the raw structs; the one error names line, column and field path.
pub fn parse(file: &Path, text: &str) -> Result<RawRunbook, LintError> {
    if text.trim().is_empty() {
        return Err(LintError::at(file, (1, 1), "", "the file is empty"));
    }
    warden_config::raw::parse_yaml(file, text)
}
