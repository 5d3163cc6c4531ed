//! Findings: a detector's conclusion that something is wrong, with the numbers that decided it.
//! The incident manager folds findings into incidents by their dedup key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{RunbookId, Severity, Target, Timestamp};

/// "This target shows the symptoms of that runbook", decided by one detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The runbook whose symptoms were detected.
    pub runbook: RunbookId,
    /// What misbehaves.
    pub target: Target,
    /// The detector that decided, e.g. `slo-burn-rate`, `airflow-failed-runs`.
    pub detector: String,
    /// How urgent.
    pub severity: Severity,
    /// One line a human reads first, e.g. "p95 latency 412 ms > 200 ms SLA for 10 min".
    pub summary: String,
    /// When the detector decided (from the clock it was given).
    pub detected_at: Timestamp,
    /// The measurements behind the decision, by name (e.g. `p95_ms`, `threshold_ms`).
    #[serde(default)]
    pub measurements: BTreeMap<String, f64>,
    /// Further scoping of the cause inside the target (e.g. the failed task of a pipeline),
    /// part of the dedup key so that different causes of one target stay separate incidents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause_key: Option<String>,
    /// The alert it came from, when Alertmanager sent it: kept whole so a responder sees what
    /// the alert said and where it links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertSource>,
}

/// What an Alertmanager alert carried, kept on the finding and the incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSource {
    /// When the alert started firing at its source (`startsAt`), if it said.
    pub starts_at: Option<Timestamp>,
    /// Its labels, as sent (shown escaped: they are the sender's text).
    pub labels: BTreeMap<String, String>,
    /// Its annotations (summary, description, …).
    pub annotations: BTreeMap<String, String>,
    /// The `runbook_url` annotation, if any.
    pub runbook_url: Option<String>,
    /// The link to the expression that fired (`generatorURL`), if any.
    pub generator_url: Option<String>,
    /// Alertmanager's fingerprint of the label set.
    pub fingerprint: String,
}

impl Finding {
    /// The key under which findings fold into one incident: runbook, target and cause scope.
    pub fn dedup_key(&self) -> String {
        match &self.cause_key {
            Some(cause) => format!("{}:{}:{cause}", self.runbook, self.target),
            None => format!("{}:{}", self.runbook, self.target),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TargetKind;
    use chrono::{TimeZone, Utc};

    fn finding(cause_key: Option<&str>) -> Finding {
        Finding {
            runbook: RunbookId::new(RunbookId::PIPELINE_FAILURE),
            target: Target::new(TargetKind::Pipeline, "demand_forecast_training"),
            detector: "airflow-failed-runs".into(),
            severity: Severity::High,
            summary: "run failed".into(),
            detected_at: Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap(),
            measurements: BTreeMap::new(),
            cause_key: cause_key.map(str::to_string),
            alert: None,
        }
    }

    #[test]
    fn dedup_key_separates_causes_of_one_target() {
        assert_eq!(
            finding(None).dedup_key(),
            "pipeline-failure:pipeline/demand_forecast_training"
        );
        assert_ne!(
            finding(Some("task=validate")).dedup_key(),
            finding(Some("task=train")).dedup_key()
        );
    }
}
