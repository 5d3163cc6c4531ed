//! The incident: one unit of response per cause, with the lifecycle of the runbooks
//! (detected → contained → diagnosing → mitigated → validating → resolved → closed, and
//! reopen on recurrence), its timeline and its evidence. Every change goes through a method
//! that checks the lifecycle rules and records a timeline event, so the timeline is complete.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{
    Actor, Evidence, Finding, RunbookId, Severity, Target, TimelineEvent, TimelineKind, Timestamp,
};

/// An incident's id, assigned by the store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IncidentId(pub String);

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an incident stands in its runbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    /// Opened; nothing done yet.
    Detected,
    /// Containment ran: the damage is stopped from spreading.
    Contained,
    /// Diagnostics and cause ranking are under way.
    Diagnosing,
    /// A fix or workaround is in place.
    Mitigated,
    /// Closure gates are being checked.
    Validating,
    /// Closure gates passed (or a responder resolved it).
    Resolved,
    /// Post-mortem done; nothing more to do.
    Closed,
}

impl IncidentState {
    /// The snake_case name used in JSON, the API and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::Detected => "detected",
            IncidentState::Contained => "contained",
            IncidentState::Diagnosing => "diagnosing",
            IncidentState::Mitigated => "mitigated",
            IncidentState::Validating => "validating",
            IncidentState::Resolved => "resolved",
            IncidentState::Closed => "closed",
        }
    }

    /// Every state, in lifecycle order.
    pub const ALL: [IncidentState; 7] = [
        IncidentState::Detected,
        IncidentState::Contained,
        IncidentState::Diagnosing,
        IncidentState::Mitigated,
        IncidentState::Validating,
        IncidentState::Resolved,
        IncidentState::Closed,
    ];

    /// Parses a state name.
    ///
    /// # Errors
    /// A message listing the known states.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|state| state.as_str() == text).ok_or_else(|| {
            format!(
                "unknown state {text:?} (detected, contained, diagnosing, mitigated, validating, resolved, closed)"
            )
        })
    }

    /// Whether the incident still needs work (not resolved or closed).
    pub fn is_active(self) -> bool {
        !matches!(self, IncidentState::Resolved | IncidentState::Closed)
    }

    /// Whether the lifecycle allows moving from `self` to `to`.
    ///
    /// Active states may move forward to any later active state (a runbook may have nothing to
    /// contain) and may be resolved at any time. Two steps back are allowed because real fixes
    /// fail: a failed closure gate sends `validating` back to `mitigated` or `diagnosing`, and
    /// a mitigation that did not hold sends `mitigated` back to `diagnosing`. `closed` follows
    /// only `resolved`; leaving `resolved` or `closed` is a reopen, not a transition.
    pub fn can_move_to(self, to: IncidentState) -> bool {
        use IncidentState::*;
        match (self, to) {
            (Resolved, Closed) => true,
            (Resolved | Closed, _) => false,
            (_, Closed) => false,
            (_, Resolved) => true,
            (Validating, Mitigated | Diagnosing) | (Mitigated, Diagnosing) => true,
            (from, to) => to > from,
        }
    }
}

impl fmt::Display for IncidentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change the lifecycle does not allow.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransitionError {
    /// The state machine has no edge from `from` to `to`.
    #[error("incident {id}: cannot move from {from} to {to}")]
    NotAllowed {
        /// The incident.
        id: IncidentId,
        /// Its current state.
        from: IncidentState,
        /// The requested state.
        to: IncidentState,
    },
    /// Only resolved or closed incidents can be reopened.
    #[error("incident {id}: cannot reopen while {state}")]
    NotReopenable {
        /// The incident.
        id: IncidentId,
        /// Its current state.
        state: IncidentState,
    },
    /// A finding with another dedup key cannot fold into this incident.
    #[error("incident {id}: finding {finding_key:?} does not match dedup key {incident_key:?}")]
    WrongDedupKey {
        /// The incident.
        id: IncidentId,
        /// The incident's dedup key.
        incident_key: String,
        /// The finding's dedup key.
        finding_key: String,
    },
}

/// One incident: what, since when, how far along, and everything that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Its id.
    pub id: IncidentId,
    /// The runbook it follows.
    pub runbook: RunbookId,
    /// What misbehaves.
    pub target: Target,
    /// Findings with this key fold into this incident.
    pub dedup_key: String,
    /// The summary of the finding that opened it.
    pub title: String,
    /// The highest severity of its findings.
    pub severity: Severity,
    /// Where it stands.
    pub state: IncidentState,
    /// When it was opened (first detection).
    pub opened_at: Timestamp,
    /// When anything about it last changed.
    pub updated_at: Timestamp,
    /// When it was last resolved, if it is resolved or closed.
    pub resolved_at: Option<Timestamp>,
    /// How often it recurred after being resolved.
    pub reopen_count: u32,
    /// How many findings folded into it.
    pub finding_count: u32,
    /// Everything that happened, oldest first.
    pub timeline: Vec<TimelineEvent>,
    /// Captured artifacts, each once.
    pub evidence: Vec<Evidence>,
    /// Storage revision, managed by the store: a save made from an older revision is refused,
    /// so two writers (the daemon and a CLI, say) never silently overwrite each other.
    #[serde(default)]
    pub revision: u64,
    /// The Alertmanager alert that opened it, when one did: start time, labels, annotations
    /// and links as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<crate::AlertSource>,
}

impl Incident {
    /// Opens an incident from the finding that first detected it.
    pub fn open(id: IncidentId, finding: &Finding, now: Timestamp) -> Self {
        Self {
            id,
            runbook: finding.runbook.clone(),
            target: finding.target.clone(),
            dedup_key: finding.dedup_key(),
            title: finding.summary.clone(),
            severity: finding.severity,
            state: IncidentState::Detected,
            opened_at: now,
            updated_at: now,
            resolved_at: None,
            reopen_count: 0,
            finding_count: 1,
            timeline: vec![TimelineEvent {
                at: now,
                actor: Actor::System,
                kind: TimelineKind::Opened {
                    detector: finding.detector.clone(),
                },
                message: finding.summary.clone(),
            }],
            evidence: Vec::new(),
            revision: 0,
            alert: finding.alert.clone(),
        }
    }

    fn check_key(&self, finding: &Finding) -> Result<(), TransitionError> {
        let finding_key = finding.dedup_key();
        if finding_key == self.dedup_key {
            Ok(())
        } else {
            Err(TransitionError::WrongDedupKey {
                id: self.id.clone(),
                incident_key: self.dedup_key.clone(),
                finding_key,
            })
        }
    }

    fn record(&mut self, at: Timestamp, actor: Actor, kind: TimelineKind, message: String) {
        self.updated_at = at;
        self.timeline.push(TimelineEvent {
            at,
            actor,
            kind,
            message,
        });
    }

    /// Folds another finding about the same cause into this active incident; the severity
    /// rises to the finding's if that is higher.
    ///
    /// # Errors
    /// [`TransitionError::WrongDedupKey`] for a finding about another cause, and
    /// [`TransitionError::NotAllowed`] when the incident is resolved or closed (use
    /// [`Incident::reopen`]).
    pub fn attach(&mut self, finding: &Finding, now: Timestamp) -> Result<(), TransitionError> {
        self.check_key(finding)?;
        if !self.state.is_active() {
            return Err(TransitionError::NotAllowed {
                id: self.id.clone(),
                from: self.state,
                to: IncidentState::Detected,
            });
        }
        let escalated = finding.severity > self.severity;
        self.severity = self.severity.max(finding.severity);
        self.finding_count += 1;
        self.updated_at = now;
        // An alert storm repeats the same finding thousands of times: the count records each,
        // the timeline only what is new (another detector or message, or a higher severity),
        // so an incident's size stays bounded however loud the storm.
        let repeat = self.timeline.iter().rev().any(|event| {
            matches!(&event.kind,
                TimelineKind::Opened { detector } | TimelineKind::FindingAttached { detector }
                    if *detector == finding.detector && event.message == finding.summary)
        });
        if escalated || !repeat {
            self.record(
                now,
                Actor::System,
                TimelineKind::FindingAttached {
                    detector: finding.detector.clone(),
                },
                finding.summary.clone(),
            );
        }
        Ok(())
    }

    /// Moves the incident to `to`, recording who did it and why.
    ///
    /// # Errors
    /// [`TransitionError::NotAllowed`] when the lifecycle has no such edge
    /// (see [`IncidentState::can_move_to`]).
    pub fn transition(
        &mut self,
        to: IncidentState,
        actor: Actor,
        now: Timestamp,
        reason: impl Into<String>,
    ) -> Result<(), TransitionError> {
        let from = self.state;
        if !from.can_move_to(to) {
            return Err(TransitionError::NotAllowed {
                id: self.id.clone(),
                from,
                to,
            });
        }
        self.state = to;
        if to == IncidentState::Resolved {
            self.resolved_at = Some(now);
        }
        self.record(
            now,
            actor,
            TimelineKind::StateChanged { from, to },
            reason.into(),
        );
        Ok(())
    }

    /// Reopens a resolved or closed incident because its cause recurred; whether the
    /// recurrence falls within the cool-down is the incident manager's decision.
    ///
    /// # Errors
    /// [`TransitionError::NotReopenable`] while the incident is still active, and
    /// [`TransitionError::WrongDedupKey`] for a finding about another cause.
    pub fn reopen(&mut self, finding: &Finding, now: Timestamp) -> Result<(), TransitionError> {
        self.check_key(finding)?;
        if self.state.is_active() {
            return Err(TransitionError::NotReopenable {
                id: self.id.clone(),
                state: self.state,
            });
        }
        let from = self.state;
        self.state = IncidentState::Detected;
        self.resolved_at = None;
        self.reopen_count += 1;
        self.finding_count += 1;
        self.severity = self.severity.max(finding.severity);
        let count = self.reopen_count;
        self.record(
            now,
            Actor::System,
            TimelineKind::Reopened { count },
            finding.summary.clone(),
        );
        self.record(
            now,
            Actor::System,
            TimelineKind::StateChanged {
                from,
                to: IncidentState::Detected,
            },
            "recurred".to_string(),
        );
        Ok(())
    }

    /// Adds captured evidence; capturing the same bytes twice is a no-op (returns `false`).
    pub fn add_evidence(&mut self, evidence: Evidence, actor: Actor) -> bool {
        if self
            .evidence
            .iter()
            .any(|known| known.hash == evidence.hash)
        {
            return false;
        }
        let at = evidence.captured_at;
        let kind = TimelineKind::EvidenceCaptured {
            hash: evidence.hash.clone(),
            name: evidence.name.clone(),
        };
        let message = format!("captured {} from {}", evidence.name, evidence.source);
        self.evidence.push(evidence);
        self.record(at, actor, kind, message);
        true
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{Duration, TimeZone, Utc};

    use super::*;
    use crate::TargetKind;
    use IncidentState::*;

    fn t(minutes: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn finding(severity: Severity, cause: Option<&str>) -> Finding {
        Finding {
            runbook: RunbookId::new(RunbookId::SERVING_LATENCY),
            target: Target::new(TargetKind::Service, "demand-forecast").in_namespace("mlops"),
            detector: "slo-burn-rate".into(),
            severity,
            summary: "p95 412 ms > 200 ms".into(),
            detected_at: t(0),
            measurements: BTreeMap::new(),
            cause_key: cause.map(str::to_string),
            alert: None,
        }
    }

    fn incident() -> Incident {
        Incident::open(
            IncidentId("INC-1".into()),
            &finding(Severity::High, None),
            t(0),
        )
    }

    #[test]
    fn walks_the_runbook_lifecycle_and_records_each_step() {
        let mut incident = incident();
        for (minute, to) in [
            (1, Contained),
            (2, Diagnosing),
            (5, Mitigated),
            (6, Validating),
        ] {
            incident
                .transition(to, Actor::System, t(minute), "step")
                .unwrap();
        }
        incident
            .transition(Resolved, Actor::System, t(40), "gates passed")
            .unwrap();
        incident
            .transition(Closed, Actor::User("ana".into()), t(60), "post-mortem")
            .unwrap();
        assert_eq!(incident.state, Closed);
        assert_eq!(incident.resolved_at, Some(t(40)));
        assert_eq!(incident.updated_at, t(60));
        let changes = incident
            .timeline
            .iter()
            .filter(|event| matches!(event.kind, TimelineKind::StateChanged { .. }))
            .count();
        assert_eq!(changes, 6);
        assert_eq!(
            incident.timeline.last().unwrap().actor,
            Actor::User("ana".into())
        );
    }

    #[test]
    fn lifecycle_rules() {
        // Forward skips are allowed; arbitrary backward moves are not.
        assert!(Detected.can_move_to(Diagnosing));
        assert!(!Diagnosing.can_move_to(Contained));
        // A failed gate goes back; a mitigation that did not hold goes back.
        assert!(Validating.can_move_to(Mitigated));
        assert!(Mitigated.can_move_to(Diagnosing));
        // Resolve from anywhere active; close only after resolve.
        assert!(Detected.can_move_to(Resolved));
        assert!(!Validating.can_move_to(Closed));
        assert!(Resolved.can_move_to(Closed));
        // Nothing leaves resolved/closed except closing (or a reopen).
        assert!(!Closed.can_move_to(Detected));
        assert!(!Resolved.can_move_to(Diagnosing));
        assert!(!Detected.can_move_to(Detected));
    }

    #[test]
    fn refused_transition_changes_nothing() {
        let mut incident = incident();
        let before = incident.clone();
        let error = incident
            .transition(Closed, Actor::System, t(1), "x")
            .unwrap_err();
        assert!(matches!(
            error,
            TransitionError::NotAllowed {
                from: Detected,
                to: Closed,
                ..
            }
        ));
        assert_eq!(incident, before);
    }

    #[test]
    fn attach_escalates_severity_and_rejects_other_causes() {
        let mut incident = incident();
        incident
            .attach(&finding(Severity::Critical, None), t(1))
            .unwrap();
        assert_eq!(incident.severity, Severity::Critical);
        assert_eq!(incident.finding_count, 2);
        incident
            .attach(&finding(Severity::Low, None), t(2))
            .unwrap();
        assert_eq!(
            incident.severity,
            Severity::Critical,
            "severity never drops on attach"
        );
        let other = finding(Severity::High, Some("revision=00002"));
        assert!(matches!(
            incident.attach(&other, t(3)),
            Err(TransitionError::WrongDedupKey { .. })
        ));
    }

    #[test]
    fn repeated_findings_are_counted_without_growing_the_timeline() {
        let mut incident = incident();
        for minute in 1..=1000 {
            incident
                .attach(&finding(Severity::High, None), t(minute))
                .unwrap();
        }
        assert_eq!(incident.finding_count, 1001);
        assert_eq!(
            incident.timeline.len(),
            1,
            "identical repeats add no events"
        );
        assert_eq!(incident.updated_at, t(1000));
        let mut louder = finding(Severity::High, None);
        louder.summary = "p95 950 ms > 200 ms".into();
        incident.attach(&louder, t(1001)).unwrap();
        assert_eq!(incident.timeline.len(), 2, "a new message is recorded");
    }

    #[test]
    fn reopen_only_after_resolution() {
        let mut incident = incident();
        let recurrence = finding(Severity::High, None);
        assert!(matches!(
            incident.reopen(&recurrence, t(1)),
            Err(TransitionError::NotReopenable {
                state: Detected,
                ..
            })
        ));
        incident
            .transition(Resolved, Actor::System, t(10), "ok")
            .unwrap();
        assert!(
            incident.attach(&recurrence, t(11)).is_err(),
            "resolved incidents take no findings"
        );
        incident.reopen(&recurrence, t(12)).unwrap();
        assert_eq!(incident.state, Detected);
        assert_eq!(incident.reopen_count, 1);
        assert_eq!(incident.resolved_at, None);
        assert!(matches!(
            incident.timeline.iter().rev().nth(1).unwrap().kind,
            TimelineKind::Reopened { count: 1 }
        ));
    }

    #[test]
    fn evidence_is_kept_once_per_content() {
        let mut incident = incident();
        let log = Evidence::describe("pod.log", "text/plain", "pod/p", t(1), b"OOMKilled", false);
        assert!(incident.add_evidence(log.clone(), Actor::System));
        assert!(!incident.add_evidence(log, Actor::System));
        assert_eq!(incident.evidence.len(), 1);
        assert!(matches!(
            incident.timeline.last().unwrap().kind,
            TimelineKind::EvidenceCaptured { .. }
        ));
    }

    #[test]
    fn serializes_states_as_snake_case() {
        let json = serde_json::to_value(incident()).unwrap();
        assert_eq!(json["state"], "detected");
        assert_eq!(json["target"]["kind"], "service");
        assert_eq!(json["timeline"][0]["kind"]["type"], "opened");
    }
}
