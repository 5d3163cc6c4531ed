//! The validated runbook: typed steps in phase order, every reference checked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use warden_core::{RunbookId, Severity};

/// The five phases of every runbook, in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Stop the damage from spreading.
    Containment,
    /// Collect what explains it.
    Diagnostics,
    /// Rank the hypotheses against the evidence.
    Causes,
    /// Make it not happen again.
    Fixes,
    /// Prove it is over.
    Validation,
}

impl Phase {
    /// All phases in order.
    pub const ALL: [Phase; 5] = [
        Phase::Containment,
        Phase::Diagnostics,
        Phase::Causes,
        Phase::Fixes,
        Phase::Validation,
    ];

    /// The YAML key.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Containment => "containment",
            Phase::Diagnostics => "diagnostics",
            Phase::Causes => "causes",
            Phase::Fixes => "fixes",
            Phase::Validation => "validation",
        }
    }
}

/// Who must agree before an action runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalPolicy {
    /// Runs without asking (containment that is safe and reversible).
    Auto,
    /// Waits for a responder to approve.
    Manual,
    /// Never executed by Warden; shown as a plan only.
    Never,
}

/// Retries with exponential backoff and jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Retry {
    /// Attempts in total, the first included (1 = no retry).
    pub attempts: u32,
    /// Delay before the second attempt; doubles each time.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub base: Duration,
    /// Longest delay between attempts.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub cap: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 1,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        }
    }
}

/// What a step produced, as a `when` condition can test it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// An action or evidence collection completed.
    Succeeded,
    /// It failed.
    Failed,
    /// A cause hypothesis was supported by its evidence.
    Confirmed,
    /// A cause hypothesis was contradicted.
    Refuted,
    /// A gate held.
    Passed,
}

impl Outcome {
    /// The lowercase name used in YAML, the CLI and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Confirmed => "confirmed",
            Outcome::Refuted => "refuted",
            Outcome::Passed => "passed",
        }
    }

    /// Parses an outcome name.
    ///
    /// # Errors
    /// A message listing the known outcomes.
    pub fn parse(text: &str) -> Result<Self, String> {
        [
            Outcome::Succeeded,
            Outcome::Failed,
            Outcome::Confirmed,
            Outcome::Refuted,
            Outcome::Passed,
        ]
        .into_iter()
        .find(|outcome| outcome.as_str() == text)
        .ok_or_else(|| {
            format!("unknown outcome {text:?} (succeeded, failed, confirmed, refuted, passed)")
        })
    }
}

/// "Only if that earlier step had this outcome".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    /// The earlier step's id.
    pub step: String,
    /// The outcome required.
    pub is: Outcome,
}

/// A closure gate: a check that must hold, optionally against a threshold, for a duration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gate {
    /// The check, from the catalogue (e.g. `latency_p95_ms`, `rerun_succeeded`).
    pub check: String,
    /// Holds while the value is below this.
    pub below: Option<f64>,
    /// Holds while the value is above this.
    pub above: Option<f64>,
    /// How long it must hold continuously (zero: once).
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub hold_for: Duration,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepKind {
    /// An automated action from the catalogue.
    Action {
        /// The action's name.
        name: String,
    },
    /// Capture evidence.
    Evidence {
        /// The collector's name.
        name: String,
    },
    /// A cause hypothesis and the evidence steps that decide it.
    Cause {
        /// The cause's name, e.g. `cold_start`.
        name: String,
        /// Evidence step ids that confirm or refute it.
        evidence_from: Vec<String>,
    },
    /// A closure gate.
    Gate(Gate),
    /// A checklist item a person ticks.
    Manual,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Unique within the runbook.
    pub id: String,
    /// What a person reads.
    pub title: String,
    /// The phase it belongs to.
    pub phase: Phase,
    /// What it does.
    pub kind: StepKind,
    /// Parameters for the action, collector or check.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Who must agree before it runs.
    pub approval: ApprovalPolicy,
    /// Conditions on earlier steps; all must hold.
    pub when: Vec<Condition>,
    /// Earlier phases that must be over (every step final) before this step runs.
    pub after: Vec<Phase>,
    /// Retry policy for actions and collectors.
    pub retry: Retry,
    /// Longest a single attempt may take.
    #[serde(serialize_with = "warden_core::duration::serde_text::serialize")]
    pub timeout: Duration,
    /// A note for responders (why, caveats, which work automates it).
    pub note: Option<String>,
}

/// A trigger: what opens an incident with this runbook.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    /// A detector from the catalogue, with its parameters.
    Detector {
        /// The detector's name.
        name: String,
        /// Its parameters.
        params: BTreeMap<String, serde_json::Value>,
    },
    /// An Alertmanager alert whose labels match all of these.
    Alertmanager(AlertMatcher),
}

/// Exact-match label matchers for Alertmanager alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertMatcher {
    /// Label name → required value.
    pub labels: BTreeMap<String, String>,
}

impl AlertMatcher {
    /// Whether an alert with `labels` matches.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels
            .iter()
            .all(|(name, value)| labels.get(name) == Some(value))
    }
}

/// A parsed, linted runbook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Runbook {
    /// Its id.
    pub id: RunbookId,
    /// Its title.
    pub title: String,
    /// Severity of the incidents it opens.
    pub severity: Severity,
    /// The symptoms, as the spec states them.
    pub symptoms: String,
    /// What opens incidents with it.
    pub triggers: Vec<Trigger>,
    /// Steps in execution order (phase, then position).
    pub steps: Vec<Step>,
    /// The file it came from (`builtin:<id>` for built-in runbooks).
    pub source: PathBuf,
}

impl Runbook {
    /// The steps of one phase, in order.
    pub fn phase(&self, phase: Phase) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(move |step| step.phase == phase)
    }

    /// Whether this is one of the embedded runbooks (not replaced by a user file).
    pub fn is_built_in(&self) -> bool {
        self.source.to_string_lossy().starts_with("builtin:")
    }

    /// A step by id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|step| step.id == id)
    }
}
