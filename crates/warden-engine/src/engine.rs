//! The [`Engine`]: the incident manager, the runbooks in effect and their filled registries
//! in one value, and the one place that advances an incident. The daemon, every `warden
//! incidents …` command and the demo hold an `Engine`, so a step completed from the CLI is
//! judged, collected and gated exactly as the daemon would.

use std::sync::Arc;

use warden_core::{Clock, Incident, IncidentId};
use warden_runbook::Runbook;
use warden_store::{EvidenceStore, IncidentStore};

use crate::executor::{BoxFuture, Executor, Mode, Progress};
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

/// Told about every step that fails for good, wherever the advance was started (the daemon's
/// beat, a webhook, a person's command): counted, printed, paged.
pub trait StepFailureSink: Send + Sync {
    /// Step `step` of `incident` failed with `error`.
    fn step_failed<'a>(
        &'a self,
        incident: &'a Incident,
        step: &'a str,
        error: &'a str,
    ) -> BoxFuture<'a, ()>;
}

/// Runs runbooks for incidents.
pub struct Engine<S, C> {
    manager: Arc<IncidentManager<S, C>>,
    runbooks: Vec<Runbook>,
    registries: Registries,
    evidence: Option<Arc<EvidenceStore>>,
    mode: Mode,
    failure_sinks: Vec<Arc<dyn StepFailureSink>>,
    leadership: Option<Arc<crate::Leadership>>,
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
            failure_sinks: Vec::new(),
            leadership: None,
        }
    }

    /// The same engine, acting only while `leadership` leads (one of several replicas).
    #[must_use]
    pub fn with_leadership(mut self, leadership: Arc<crate::Leadership>) -> Self {
        self.leadership = Some(leadership);
        self
    }

    /// The leadership this engine acts under, if it shares its store with other replicas.
    pub fn leadership(&self) -> Option<&Arc<crate::Leadership>> {
        self.leadership.as_ref()
    }

    /// The same engine, telling `sink` about every step that fails for good.
    #[must_use]
    pub fn with_failure_sink(mut self, sink: Arc<dyn StepFailureSink>) -> Self {
        self.failure_sinks.push(sink);
        self
    }

    /// Advances `id` with `runbook`'s executor and tells the sinks what failed in the call.
    pub(crate) async fn run(
        &self,
        runbook: &Runbook,
        id: &IncidentId,
        recovering: bool,
    ) -> Result<Progress, EngineError> {
        let executor = self.executor(runbook);
        let executor = if recovering {
            executor.recovering()
        } else {
            executor
        };
        let progress = executor.advance(id, runbook).await?;
        if !progress.newly_failed.is_empty() && !self.failure_sinks.is_empty() {
            let incident = self.load(id).await?;
            for (step, error) in &progress.newly_failed {
                for sink in &self.failure_sinks {
                    sink.step_failed(&incident, step, error).await;
                }
            }
        }
        Ok(progress)
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

    /// The ML impact of `incident` as the estimators registered for its runbook measure it
    /// (none registered: an empty [`crate::impact::Impact`] that says so).
    pub async fn impact(&self, incident: &Incident) -> crate::impact::Impact {
        let estimators = match self.runbook_of(incident) {
            Ok(runbook) => &self.registries.for_runbook(runbook.id.as_str()).impact,
            Err(_) => return crate::impact::Impact::default(),
        };
        crate::impact::measure(estimators, incident, self.manager.clock().now()).await
    }

    /// An executor for `runbook`'s incidents with everything registered for it.
    pub fn executor(&self, runbook: &Runbook) -> Executor<'_, S, C> {
        let executor = Executor::new(
            &self.manager,
            self.registries.for_runbook(runbook.id.as_str()),
            self.mode,
        );
        let executor = match &self.leadership {
            Some(leadership) => executor.with_leadership(leadership),
            None => executor,
        };
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
        self.run(runbook, id, false).await
    }

    /// Like [`Self::advance`], re-executing actions a previous process left in flight; only
    /// for the start of the one process that acts (see [`Executor::recovering`]).
    ///
    /// # Errors
    /// As [`Self::advance`].
    pub async fn recover(&self, id: &IncidentId) -> Result<Progress, EngineError> {
        let incident = self.load(id).await?;
        let runbook = self.runbook_of(&incident)?;
        self.run(runbook, id, true).await
    }
}
