//! The incident manager: findings in, incidents out. One incident per dedup key (runbook +
//! target + cause scope): a finding for an active incident is attached to it; one that recurs
//! within the cool-down after resolution reopens it; anything else opens a new incident. The
//! store's unique index on active dedup keys is the final arbiter, so even two processes
//! racing on an alert storm end with one incident.

use std::time::Duration;

use warden_core::{
    Actor, Approval, AuditEntry, Clock, Decision, Finding, Incident, IncidentId, IncidentState,
    TimelineKind,
};
use warden_runbook::Runbook;
use warden_store::{EvidenceStore, IncidentStore, StoreError};

use crate::EngineError;
use crate::alerts::{self, WebhookPayload};

/// Default cool-down: a cause that recurs within a day of resolution reopens its incident.
pub const DEFAULT_REOPEN_COOLDOWN: Duration = Duration::from_secs(24 * 3600);

/// How often a write that lost to another writer is retried before giving up.
const MAX_WRITE_ATTEMPTS: u32 = 50;

/// A short random pause (1–8 ms, growing with the attempt) after losing a write race.
fn conflict_pause(attempt: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    let spread = u64::from(attempt.min(7)) + 1;
    Duration::from_millis(1 + hasher.finish() % spread)
}

/// What happened to a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// A new incident was opened.
    Opened(IncidentId),
    /// The finding joined this active incident.
    Attached(IncidentId),
    /// This resolved incident recurred and was reopened.
    Reopened(IncidentId),
}

impl Ingested {
    /// The incident concerned.
    pub fn incident(&self) -> &IncidentId {
        match self {
            Ingested::Opened(id) | Ingested::Attached(id) | Ingested::Reopened(id) => id,
        }
    }
}

/// What one Alertmanager payload did (`warden alerts ingest --format json`, and the webhook's
/// answer).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AlertsIngested {
    /// Incidents opened.
    pub opened: Vec<IncidentId>,
    /// Incidents the alerts were attached to.
    pub attached: Vec<IncidentId>,
    /// Incidents reopened.
    pub reopened: Vec<IncidentId>,
    /// Incidents whose alert resolved at the source.
    pub resolved_noted: Vec<IncidentId>,
    /// Fingerprints of alerts no runbook claimed.
    pub unmatched: Vec<String>,
    /// Alerts with a status other than `firing` or `resolved`: `(fingerprint, status)`.
    pub ignored: Vec<(String, String)>,
}

/// Folds findings into incidents and applies people's decisions, keeping timeline and audit.
pub struct IncidentManager<S, C> {
    store: S,
    clock: C,
    reopen_cooldown: Duration,
    // One writer per process: attaching is read-modify-write on the incident document.
    write_lock: tokio::sync::Mutex<()>,
}

impl<S: IncidentStore, C: Clock> IncidentManager<S, C> {
    /// A manager over `store`, telling time by `clock`.
    pub fn new(store: S, clock: C) -> Self {
        Self {
            store,
            clock,
            reopen_cooldown: DEFAULT_REOPEN_COOLDOWN,
            write_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Sets how long after resolution a recurrence reopens the incident instead of opening a
    /// new one.
    pub fn with_reopen_cooldown(mut self, cooldown: Duration) -> Self {
        self.reopen_cooldown = cooldown;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Records a finding: opens, attaches to, or reopens an incident.
    ///
    /// # Errors
    /// Store failures; [`EngineError::Contended`] if other writers kept winning.
    pub async fn ingest(&self, finding: &Finding) -> Result<Ingested, EngineError> {
        let _guard = self.write_lock.lock().await;
        let key = finding.dedup_key();
        for attempt in 0..MAX_WRITE_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(conflict_pause(attempt)).await;
            }
            let now = self.clock.now();
            match self.store.latest_incident_for(&key).await? {
                Some(mut incident) if incident.state.is_active() => {
                    incident.attach(finding, now)?;
                    match self.store.save_incident(&mut incident).await {
                        Ok(()) => return Ok(Ingested::Attached(incident.id)),
                        // Changed (or resolved) by another writer meanwhile: decide again.
                        Err(StoreError::Conflict(_)) => continue,
                        Err(err) => return Err(err.into()),
                    }
                }
                Some(mut incident) if self.within_cooldown(&incident, now) => {
                    incident.reopen(finding, now)?;
                    match self.store.save_incident(&mut incident).await {
                        Ok(()) => {
                            self.audit(
                                &incident.id,
                                Actor::System,
                                "reopen",
                                &incident.target.to_string(),
                                "ok",
                            )
                            .await?;
                            return Ok(Ingested::Reopened(incident.id));
                        }
                        // Another process opened a new incident for the key meanwhile, or
                        // changed this one.
                        Err(StoreError::DuplicateActive(_) | StoreError::Conflict(_)) => continue,
                        Err(err) => return Err(err.into()),
                    }
                }
                _ => {
                    let id = self.store.next_incident_id().await?;
                    let incident = Incident::open(id, finding, now);
                    match self.store.insert_incident(&incident).await {
                        Ok(()) => {
                            self.audit(
                                &incident.id,
                                Actor::System,
                                "open",
                                &incident.target.to_string(),
                                "ok",
                            )
                            .await?;
                            return Ok(Ingested::Opened(incident.id));
                        }
                        Err(StoreError::DuplicateActive(_)) => continue,
                        Err(err) => return Err(err.into()),
                    }
                }
            }
        }
        Err(EngineError::Contended(key))
    }

    fn within_cooldown(&self, incident: &Incident, now: warden_core::Timestamp) -> bool {
        let Some(resolved_at) = incident.resolved_at else {
            return false;
        };
        let cooldown =
            chrono::Duration::from_std(self.reopen_cooldown).unwrap_or(chrono::Duration::MAX);
        now - resolved_at <= cooldown
    }

    pub(crate) async fn audit(
        &self,
        incident: &IncidentId,
        actor: Actor,
        action: &str,
        target: &str,
        result: &str,
    ) -> Result<(), EngineError> {
        self.store
            .append_audit(&AuditEntry {
                at: self.clock.now(),
                actor,
                action: action.to_string(),
                incident_id: Some(incident.clone()),
                target: target.to_string(),
                result: result.to_string(),
            })
            .await?;
        Ok(())
    }

    /// Reads the incident, applies `change`, and saves it; when another writer saved first,
    /// reads it again and reapplies the change, so no writer's change is lost.
    async fn modify<T>(
        &self,
        id: &IncidentId,
        mut change: impl FnMut(&mut Incident) -> Result<T, EngineError>,
    ) -> Result<(Incident, T), EngineError> {
        for attempt in 0..MAX_WRITE_ATTEMPTS {
            let mut incident = self.load(id).await?;
            let outcome = change(&mut incident)?;
            match self.store.save_incident(&mut incident).await {
                Ok(()) => return Ok((incident, outcome)),
                // The other writer succeeded; back off a random moment so the two do not
                // collide in lockstep again.
                Err(StoreError::Conflict(_)) => tokio::time::sleep(conflict_pause(attempt)).await,
                Err(err) => return Err(err.into()),
            }
        }
        Err(EngineError::Contended(id.to_string()))
    }

    async fn load(&self, id: &IncidentId) -> Result<Incident, EngineError> {
        self.store
            .get_incident(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(id.clone()))
    }

    /// Moves an incident to `to` on behalf of `actor`.
    ///
    /// # Errors
    /// [`EngineError::NotFound`], lifecycle refusals, store failures.
    pub async fn transition(
        &self,
        id: &IncidentId,
        to: IncidentState,
        actor: Actor,
        reason: &str,
    ) -> Result<Incident, EngineError> {
        let _guard = self.write_lock.lock().await;
        let (incident, ()) = self
            .modify(id, |incident| {
                incident.transition(to, actor.clone(), self.clock.now(), reason)?;
                Ok(())
            })
            .await?;
        self.audit(
            id,
            actor,
            &format!("transition:{}", to.as_str()),
            &incident.target.to_string(),
            "ok",
        )
        .await?;
        Ok(incident)
    }

    /// A responder takes the incident: recorded on the timeline and in the audit log.
    ///
    /// # Errors
    /// [`EngineError::NotFound`], store failures.
    pub async fn acknowledge(
        &self,
        id: &IncidentId,
        actor: Actor,
    ) -> Result<Incident, EngineError> {
        self.note(id, actor, "acknowledged", "acknowledge").await
    }

    /// Adds a note to the timeline.
    ///
    /// # Errors
    /// [`EngineError::NotFound`], store failures.
    pub async fn note(
        &self,
        id: &IncidentId,
        actor: Actor,
        message: &str,
        audit_action: &str,
    ) -> Result<Incident, EngineError> {
        let _guard = self.write_lock.lock().await;
        let (incident, ()) = self
            .modify(id, |incident| {
                let now = self.clock.now();
                incident.updated_at = now;
                incident.timeline.push(warden_core::TimelineEvent {
                    at: now,
                    actor: actor.clone(),
                    kind: TimelineKind::Note,
                    message: message.to_string(),
                });
                Ok(())
            })
            .await?;
        self.audit(id, actor, audit_action, &incident.target.to_string(), "ok")
            .await?;
        Ok(incident)
    }

    /// Records an approval or rejection of a step of the incident's runbook.
    ///
    /// # Errors
    /// [`EngineError::UnknownStep`] for a step the runbook does not have; not found; store.
    pub async fn decide(
        &self,
        id: &IncidentId,
        runbook: &Runbook,
        step: &str,
        decision: Decision,
        actor: Actor,
        reason: &str,
    ) -> Result<Incident, EngineError> {
        if runbook.step(step).is_none() {
            return Err(EngineError::UnknownStep {
                incident: id.clone(),
                runbook: runbook.id.to_string(),
                step: step.to_string(),
            });
        }
        self.store
            .record_approval(&Approval {
                incident_id: id.clone(),
                step: step.to_string(),
                decision,
                actor: actor.clone(),
                reason: reason.to_string(),
                at: self.clock.now(),
            })
            .await?;
        let verb = match decision {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        };
        let message = if reason.is_empty() {
            format!("{verb} step {step}")
        } else {
            format!("{verb} step {step}: {reason}")
        };
        self.note(id, actor, &message, verb).await
    }

    /// Routes an Alertmanager payload through `runbooks` and records every alert: what the
    /// webhook and `warden alerts ingest` both do.
    ///
    /// # Errors
    /// Store failures (alerts recorded before the failure stay recorded).
    pub async fn ingest_alerts(
        &self,
        payload: &WebhookPayload,
        runbooks: &[Runbook],
    ) -> Result<AlertsIngested, EngineError> {
        let routed = alerts::route(payload, runbooks, self.clock.now());
        let mut report = AlertsIngested {
            unmatched: routed.unmatched,
            ignored: routed.ignored,
            ..AlertsIngested::default()
        };
        let rest = self.open_new_keys(&routed.findings, &mut report).await?;
        for finding in rest {
            match self.ingest(finding).await? {
                Ingested::Opened(id) => report.opened.push(id),
                Ingested::Attached(id) => report.attached.push(id),
                Ingested::Reopened(id) => report.reopened.push(id),
            }
        }
        for key in &routed.resolved {
            if let Some(id) = self.record_alert_resolved(key).await? {
                report.resolved_noted.push(id);
            }
        }
        Ok(report)
    }

    /// Opens, in one store transaction, an incident for the first finding of every key that
    /// has no incident to attach to or reopen; returns the findings left for
    /// [`IncidentManager::ingest`] one by one, in order (the rest of each key's findings attach
    /// to what was just opened). When another writer opened one of the keys meanwhile, nothing
    /// is opened here and every finding is left to the one-by-one path, which decides again.
    async fn open_new_keys<'a>(
        &self,
        findings: &'a [Finding],
        report: &mut AlertsIngested,
    ) -> Result<Vec<&'a Finding>, EngineError> {
        let _guard = self.write_lock.lock().await;
        let now = self.clock.now();
        let mut seen = std::collections::HashSet::new();
        let (mut new, mut rest) = (Vec::new(), Vec::new());
        for finding in findings {
            let key = finding.dedup_key();
            if !seen.insert(key.clone()) {
                rest.push(finding);
                continue;
            }
            match self.store.latest_incident_for(&key).await? {
                Some(incident)
                    if incident.state.is_active() || self.within_cooldown(&incident, now) =>
                {
                    rest.push(finding);
                }
                _ => new.push(finding),
            }
        }
        if new.len() < 2 {
            new.extend(rest);
            return Ok(new);
        }
        let opened = new
            .iter()
            .map(|finding| {
                let incident = Incident::open(IncidentId(String::new()), finding, now);
                let audit = AuditEntry {
                    at: now,
                    actor: Actor::System,
                    action: "open".to_string(),
                    incident_id: None,
                    target: incident.target.to_string(),
                    result: "ok".to_string(),
                };
                (incident, audit)
            })
            .collect();
        match self.store.open_incidents(opened).await {
            Ok(ids) => {
                report.opened.extend(ids);
                Ok(rest)
            }
            Err(StoreError::DuplicateActive(_)) => Ok(findings.iter().collect()),
            Err(err) => Err(err.into()),
        }
    }

    /// Notes on the active incident with `dedup_key` that its alert resolved at the source;
    /// returns the incident, or `None` when no active incident has that key. Resolution of the
    /// incident itself is left to its closure gates.
    ///
    /// # Errors
    /// Store failures.
    pub async fn record_alert_resolved(
        &self,
        dedup_key: &str,
    ) -> Result<Option<IncidentId>, EngineError> {
        let Some(incident) = self.store.latest_incident_for(dedup_key).await? else {
            return Ok(None);
        };
        if !incident.state.is_active() {
            return Ok(None);
        }
        self.note(
            &incident.id,
            Actor::System,
            "alert resolved at the source",
            "alert_resolved",
        )
        .await?;
        Ok(Some(incident.id))
    }

    /// Captures `bytes` into the evidence store and links them from the incident's timeline.
    ///
    /// # Errors
    /// Evidence write failures, not found, store failures.
    pub async fn capture_evidence(
        &self,
        id: &IncidentId,
        evidence_store: &EvidenceStore,
        name: &str,
        media_type: &str,
        source: &str,
        bytes: &[u8],
    ) -> Result<Incident, EngineError> {
        let stored = evidence_store.put(name, media_type, source, self.clock.now(), bytes)?;
        let _guard = self.write_lock.lock().await;
        let (incident, _) = self
            .modify(id, |incident| {
                Ok(incident.add_evidence(stored.evidence.clone(), Actor::System))
            })
            .await?;
        Ok(incident)
    }
}
