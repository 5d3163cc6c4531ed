//! The [`Engine`]: the incident manager, the runbooks in effect and their filled registries
//! in one value, and the one place that advances an incident. The daemon, every `warden
//! incidents …` command and the demo hold an `Engine`, so a step completed from the CLI is
//! judged, collected and gated exactly as the daemon would.

use std::sync::Arc;

use warden_core::{ActionRecord, Actor, Clock, Decision, Incident, IncidentId};
use warden_runbook::{Outcome, Runbook};
use warden_store::{EvidenceStore, IncidentStore};

use crate::executor::{Executor, Mode, Progress};
use crate::registry::Registries;
use crate::{EngineError, IncidentManager};

/// What an engine is built from.
pub struct EngineParts<S, C> {
    /// The incident manager over the store.
    pub manager: Arc<IncidentManager<S, C>>,
    /// The runbooks in effect.
    pub runbooks: Vec<Runbook>,
    /// Implementations by runbook and catalogue name, sealed.
    pub registries: Registries,
    /// Where collected evidence goes (`None`: evidence steps wait for a responder).
    pub evidence: Option<Arc<EvidenceStore>>,
    /// Whether actions execute or only record their plans.
    pub mode: Mode,
}

/// Runs runbooks for incidents.
pub struct Engine<S, C> {
    manager: Arc<IncidentManager<S, C>>,
    runbooks: Vec<Runbook>,
    registries: Registries,
    evidence: Option<Arc<EvidenceStore>>,
    mode: Mode,
}

impl<S: IncidentStore, C: Clock> Engine<S, C> {
    /// An engine from its parts.
    pub fn new(parts: EngineParts<S, C>) -> Self {
        Self {
            manager: parts.manager,
            runbooks: parts.runbooks,
            registries: parts.registries,
            evidence: parts.evidence,
            mode: parts.mode,
        }
    }

    /// The incident manager.
    pub fn manager(&self) -> &Arc<IncidentManager<S, C>> {
        &self.manager
    }

    /// The runbooks in effect.
    pub fn runbooks(&self) -> &[Runbook] {
        &self.runbooks
    }

    /// The registries.
    pub fn registries(&self) -> &Registries {
        &self.registries
    }

    /// The evidence store, if evidence is collected.
    pub fn evidence_store(&self) -> Option<&Arc<EvidenceStore>> {
        self.evidence.as_ref()
    }

    /// Whether actions execute.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The runbook `incident` follows.
    ///
    /// # Errors
    /// [`EngineError::RunbookNotInEffect`].
    pub fn runbook_of(&self, incident: &Incident) -> Result<&Runbook, EngineError> {
        self.runbooks
            .iter()
            .find(|runbook| runbook.id == incident.runbook)
            .ok_or_else(|| EngineError::RunbookNotInEffect {
                incident: incident.id.clone(),
                runbook: incident.runbook.to_string(),
            })
    }

    /// An executor for `runbook`'s incidents with everything registered for it.
    pub fn executor(&self, runbook: &Runbook) -> Executor<'_, S, C> {
        let executor = Executor::new(
            &self.manager,
            self.registries.for_runbook(runbook.id.as_str()),
            self.mode,
        );
        match &self.evidence {
            Some(store) => executor.with_evidence(store),
            None => executor,
        }
    }

    async fn load(&self, id: &IncidentId) -> Result<Incident, EngineError> {
        self.manager
            .store()
            .get_incident(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(id.clone()))
    }

    /// Advances the incident's runbook as far as it can go now.
    ///
    /// # Errors
    /// No such incident, its runbook is not in effect, store failures.
    pub async fn advance(&self, id: &IncidentId) -> Result<Progress, EngineError> {
        let incident = self.load(id).await?;
        let runbook = self.runbook_of(&incident)?;
        self.executor(runbook).advance(id, runbook).await
    }

    /// Like [`Self::advance`], re-executing actions a previous process left in flight; only
    /// for the start of the one process that acts (see [`Executor::recovering`]).
    ///
    /// # Errors
    /// As [`Self::advance`].
    pub async fn recover(&self, id: &IncidentId) -> Result<Progress, EngineError> {
        let incident = self.load(id).await?;
        let runbook = self.runbook_of(&incident)?;
        self.executor(runbook)
            .recovering()
            .advance(id, runbook)
            .await
    }

    /// A person records a step's outcome; then the runbook advances with what it unblocked.
    ///
    /// # Errors
    /// As [`Executor::complete_step`] and [`Self::advance`].
    pub async fn complete_step(
        &self,
        id: &IncidentId,
        step: &str,
        outcome: Outcome,
        actor: Actor,
        note: &str,
    ) -> Result<(ActionRecord, Progress), EngineError> {
        let incident = self.load(id).await?;
        let runbook = self.runbook_of(&incident)?;
        let executor = self.executor(runbook);
        let record = executor
            .complete_step(id, runbook, step, outcome, actor, note)
            .await?;
        let progress = executor.advance(id, runbook).await?;
        Ok((record, progress))
    }

    /// A person approves or rejects a step; then the runbook advances, so an approved action
    /// runs now.
    ///
    /// # Errors
    /// As [`IncidentManager::decide`] and [`Self::advance`].
    pub async fn decide(
        &self,
        id: &IncidentId,
        step: &str,
        decision: Decision,
        actor: Actor,
        reason: &str,
    ) -> Result<(Incident, Progress), EngineError> {
        let incident = self.load(id).await?;
        let runbook = self.runbook_of(&incident)?;
        self.manager
            .decide(id, runbook, step, decision, actor, reason)
            .await?;
        let progress = self.executor(runbook).advance(id, runbook).await?;
        Ok((self.load(id).await?, progress))
    }
}
