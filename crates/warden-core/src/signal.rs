//! Signals: typed observations that connectors turn the outside world into. A signal says
//! what was seen, where and when; it does not judge. Detectors turn signals into findings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Target, Timestamp};

/// Whether an alert is firing or has resolved (Alertmanager's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// The alert condition holds.
    Firing,
    /// The alert condition no longer holds.
    Resolved,
}

/// What was observed. One variant per kind of source; a new connector adds a variant and the
/// compiler lists every place that must handle it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SignalPayload {
    /// An alert from Alertmanager (webhook) or Prometheus.
    Alert {
        /// The `alertname` label.
        name: String,
        /// Firing or resolved.
        status: AlertStatus,
        /// Alertmanager's fingerprint of the label set; stable across repeats of one alert.
        fingerprint: String,
        /// Annotations (summary, description, runbook_url …).
        annotations: BTreeMap<String, String>,
    },
    /// One sample of a metric (a PromQL result, a Redis INFO field, a freshness lag).
    Metric {
        /// The metric or query name.
        name: String,
        /// The sampled value.
        value: f64,
    },
    /// The state of one pipeline run (KFP run, Airflow DAG run).
    PipelineRun {
        /// The run's id in its orchestrator.
        run_id: String,
        /// The orchestrator's state name, e.g. `FAILED`, `failed`, `RUNNING`.
        state: String,
        /// When the run started, if it has.
        started_at: Option<Timestamp>,
        /// When the run ended, if it has.
        ended_at: Option<Timestamp>,
    },
    /// A model version change in the registry or on the serving side.
    ModelVersionChange {
        /// The registered model's name.
        model: String,
        /// The version served or aliased before the change.
        from_version: Option<String>,
        /// The version after the change.
        to_version: String,
    },
}

/// One observation from one source about one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// The connector that produced it, e.g. `alertmanager`, `prometheus`, `airflow`.
    pub source: String,
    /// What the observation is about.
    pub target: Target,
    /// When the source observed it (not when Warden received it).
    pub observed_at: Timestamp,
    /// Labels that scope it (Prometheus labels, Airflow DAG tags).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The observation itself.
    pub payload: SignalPayload,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TargetKind;
    use chrono::{TimeZone, Utc};

    #[test]
    fn serializes_with_a_type_tag() {
        let signal = Signal {
            source: "alertmanager".into(),
            target: Target::new(TargetKind::Service, "demand-forecast"),
            observed_at: Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap(),
            labels: BTreeMap::new(),
            payload: SignalPayload::Alert {
                name: "ServingLatencyHigh".into(),
                status: AlertStatus::Firing,
                fingerprint: "a1b2".into(),
                annotations: BTreeMap::new(),
            },
        };
        let json = serde_json::to_value(&signal).unwrap();
        assert_eq!(json["payload"]["type"], "alert");
        assert_eq!(json["payload"]["status"], "firing");
        let back: Signal = serde_json::from_value(json).unwrap();
        assert_eq!(back, signal);
    }
}
