//! Alertmanager webhook payloads (version 4) → findings. An alert is routed to a runbook by
//! its `warden_runbook` label when it has one, else by the first runbook whose Alertmanager
//! trigger matches its labels; the target comes from the usual labels (`service`, `model`,
//! `pipeline`, `feature_view`, `namespace`). Alerts of one group about one target become one
//! dedup key, so Alertmanager's repeats and group updates fold into one incident.

use std::collections::BTreeMap;

use serde::Deserialize;
use thiserror::Error;
use warden_core::{AlertSource, Finding, RunbookId, Severity, Target, TargetKind, Timestamp};
use warden_runbook::{Runbook, Trigger};

/// Largest webhook body accepted. Alertmanager sends every alert of a group in one post unless
/// `max_alerts` is set (it is not by default), and re-sends a post that is refused: a group of
/// 10,000 alerts is about 5 MiB, so the limit leaves room for several times that while still
/// bounding what one request can make the daemon hold.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

/// One alert of a webhook payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// `firing` or `resolved`.
    pub status: String,
    /// Identifying labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations (summary, description, runbook_url).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When the alert started firing.
    pub starts_at: Option<String>,
    /// The link to the expression that fired.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: Option<String>,
    /// Alertmanager's hash of the label set.
    #[serde(default)]
    pub fingerprint: String,
}

impl Alert {
    /// What the alert carried, for the finding and the incident.
    pub fn source(&self) -> AlertSource {
        AlertSource {
            starts_at: self
                .starts_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono::Utc)),
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            runbook_url: self.annotations.get("runbook_url").cloned(),
            generator_url: self.generator_url.clone().filter(|u| !u.is_empty()),
            fingerprint: self.fingerprint.clone(),
        }
    }
}

/// The body Alertmanager POSTs to a webhook receiver.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    /// Payload format version; Warden reads version 4.
    pub version: String,
    /// The group these alerts belong to.
    pub group_key: String,
    /// `firing` or `resolved` for the group as a whole.
    pub status: String,
    /// The alerts (possibly truncated).
    pub alerts: Vec<Alert>,
    /// Alerts left out by `max_alerts`.
    #[serde(default)]
    pub truncated_alerts: u64,
}

/// A webhook body Warden cannot use.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PayloadError {
    /// Larger than [`MAX_PAYLOAD_BYTES`].
    #[error("payload of {0} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit")]
    TooLarge(usize),
    /// Not JSON of the webhook shape.
    #[error("not an Alertmanager webhook payload: {0}")]
    Malformed(String),
    /// A version other than 4.
    #[error("unsupported Alertmanager webhook version {0:?} (expected \"4\")")]
    Version(String),
}

/// Parses and checks a webhook body.
///
/// # Errors
/// [`PayloadError`] for oversized, malformed or wrong-version bodies.
pub fn parse_payload(body: &[u8]) -> Result<WebhookPayload, PayloadError> {
    if body.len() > MAX_PAYLOAD_BYTES {
        return Err(PayloadError::TooLarge(body.len()));
    }
    let payload: WebhookPayload =
        serde_json::from_slice(body).map_err(|err| PayloadError::Malformed(err.to_string()))?;
    if payload.version != "4" {
        return Err(PayloadError::Version(payload.version));
    }
    Ok(payload)
}

/// What a payload means for incidents.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Routed {
    /// Findings of firing alerts that a runbook claims.
    pub findings: Vec<Finding>,
    /// Dedup keys of resolved alerts that a runbook claims (recorded on their incidents).
    pub resolved: Vec<String>,
    /// Fingerprints of alerts no runbook claims.
    pub unmatched: Vec<String>,
    /// Alerts whose status is neither `firing` nor `resolved` (any case): `(fingerprint,
    /// status)`. They change nothing.
    pub ignored: Vec<(String, String)>,
}

fn runbook_for<'a>(alert: &Alert, runbooks: &'a [Runbook]) -> Option<&'a Runbook> {
    if let Some(id) = alert.labels.get("warden_runbook") {
        return runbooks.iter().find(|runbook| runbook.id.as_str() == id);
    }
    runbooks.iter().find(|runbook| {
        runbook.triggers.iter().any(|trigger| match trigger {
            Trigger::Alertmanager(matcher) => matcher.matches(&alert.labels),
            Trigger::Detector { .. } => false,
        })
    })
}

fn target_for(alert: &Alert, runbook: &RunbookId) -> Target {
    let label = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| alert.labels.get(*name))
            .cloned()
    };
    let (kind, name) = match runbook.as_str() {
        RunbookId::PIPELINE_FAILURE => (
            TargetKind::Pipeline,
            label(&["pipeline", "dag_id", "pipeline_name"]),
        ),
        RunbookId::FEATURE_STORE => (TargetKind::FeatureView, label(&["feature_view", "service"])),
        RunbookId::MODEL_REGRESSION => (
            TargetKind::Model,
            label(&["model", "model_name", "service"]),
        ),
        RunbookId::DRIFT_DETECTOR => (
            TargetKind::DriftMonitor,
            label(&["monitor", "model", "service"]),
        ),
        _ => (
            TargetKind::Service,
            label(&["service", "inferenceservice", "model", "job"]),
        ),
    };
    let name = name
        .or_else(|| alert.labels.get("alertname").cloned())
        .unwrap_or_else(|| "unknown".to_string());
    let target = Target::new(kind, name);
    match alert.labels.get("namespace") {
        Some(namespace) => target.in_namespace(namespace.clone()),
        None => target,
    }
}

fn severity_for(alert: &Alert, default: Severity) -> Severity {
    match alert.labels.get("severity").map(String::as_str) {
        Some("page" | "critical") => Severity::Critical,
        Some("high" | "error") => Severity::High,
        Some("warning" | "warn" | "medium") => Severity::Medium,
        Some("low") => Severity::Low,
        Some("info" | "none") => Severity::Info,
        _ => default,
    }
}

/// Routes every alert of `payload` through the runbooks' triggers.
pub fn route(payload: &WebhookPayload, runbooks: &[Runbook], received_at: Timestamp) -> Routed {
    let mut routed = Routed::default();
    for alert in &payload.alerts {
        let firing = alert.status.eq_ignore_ascii_case("firing");
        let resolved = alert.status.eq_ignore_ascii_case("resolved");
        if !firing && !resolved {
            routed
                .ignored
                .push((alert.fingerprint.clone(), alert.status.clone()));
            continue;
        }
        let Some(runbook) = runbook_for(alert, runbooks) else {
            routed.unmatched.push(alert.fingerprint.clone());
            continue;
        };
        let alertname = alert.labels.get("alertname").cloned().unwrap_or_default();
        let summary = alert
            .annotations
            .get("summary")
            .cloned()
            .unwrap_or_else(|| format!("alert {alertname} firing"));
        let finding = Finding {
            runbook: runbook.id.clone(),
            target: target_for(alert, &runbook.id),
            detector: format!("alertmanager:{alertname}"),
            severity: severity_for(alert, runbook.severity),
            summary,
            detected_at: received_at,
            measurements: BTreeMap::new(),
            cause_key: None,
            alert: Some(alert.source()),
        };
        if resolved {
            routed.resolved.push(finding.dedup_key());
        } else {
            routed.findings.push(finding);
        }
    }
    routed
}
