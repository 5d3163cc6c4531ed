//! Runbook identifiers. The five runbooks of the spec are built in; users can add their own,
//! so an id is an open string with constants for the built-in ones.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The id of a runbook, e.g. `serving-latency`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunbookId(pub String);

impl RunbookId {
    /// Runbook 1: pipeline component failure.
    pub const PIPELINE_FAILURE: &'static str = "pipeline-failure";
    /// Runbook 2: serving latency or error spike.
    pub const SERVING_LATENCY: &'static str = "serving-latency";
    /// Runbook 3: drift detector false positives / negatives.
    pub const DRIFT_DETECTOR: &'static str = "drift-detector";
    /// Runbook 4: feature store outage or staleness.
    pub const FEATURE_STORE: &'static str = "feature-store";
    /// Runbook 5: model regression after deployment.
    pub const MODEL_REGRESSION: &'static str = "model-regression";

    /// The ids of the five built-in runbooks, in the order of the spec.
    pub const BUILT_IN: [&'static str; 5] = [
        Self::PIPELINE_FAILURE,
        Self::SERVING_LATENCY,
        Self::DRIFT_DETECTOR,
        Self::FEATURE_STORE,
        Self::MODEL_REGRESSION,
    ];

    /// A runbook id from any string.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is one of the five runbooks that ship with Warden.
    pub fn is_built_in(&self) -> bool {
        Self::BUILT_IN.contains(&self.0.as_str())
    }
}

impl fmt::Display for RunbookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_five_built_in_runbooks() {
        assert!(RunbookId::new("serving-latency").is_built_in());
        assert!(RunbookId::new(RunbookId::MODEL_REGRESSION).is_built_in());
        assert!(!RunbookId::new("my-custom-runbook").is_built_in());
    }
}
