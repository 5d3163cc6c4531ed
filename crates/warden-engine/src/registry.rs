//! The registries the executor looks implementations up in, keyed by runbook and catalogue
//! name: action handlers, evidence collectors, cause judges and gate evaluators (a gate by its
//! check name — exactly one evaluator decides a check, none are tried in turn).
//!
//! Runbook modules fill them through a [`Registrar`] while the daemon, the CLI or the demo is
//! assembled. There are two layers: a common one (`notify`, gates backed by `gate_queries:`)
//! that every runbook sees, and one per runbook. An entry of a runbook's own layer stands in
//! for a common entry of the same name for that runbook only; registering one name twice in
//! the same layer is an error, because the second would silently replace the first.
//!
//! A module that could implement a step but cannot under the configuration at hand records
//! what it needs ([`Registrar::needs`]), so `warden runbooks list --config` can say
//! "needs connectors.kubernetes" instead of "not automated".

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use crate::handlers::{ActionHandler, EvidenceCollector, GateEvaluator};
use crate::impact::ImpactEstimator;
use crate::judge::CauseJudge;
use crate::review::{Review, ReviewDecision, ReviewError, ReviewQueue};

/// Gate evaluators by gate check name.
pub type GateRegistry = HashMap<String, Arc<dyn GateEvaluator>>;

/// The kind of catalogue entry a step names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// `action:` — an [`ActionHandler`].
    Action,
    /// `evidence:` — an [`EvidenceCollector`].
    Evidence,
    /// `cause:` — a [`CauseJudge`].
    Cause,
    /// `gate:` — a [`GateEvaluator`], by its check name.
    Gate,
}

impl EntryKind {
    /// The word runbooks and messages use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Action => "action",
            Self::Evidence => "evidence",
            Self::Cause => "cause",
            Self::Gate => "gate",
        }
    }
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name registered twice in one layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {name:?} is registered twice for {layer}")]
pub struct DuplicateEntry {
    /// `runbook ID` or `every runbook` (the common layer).
    pub layer: String,
    /// What kind of entry.
    pub kind: EntryKind,
    /// Its catalogue name.
    pub name: String,
}

/// One runbook's implementations (the common layer merged in).
#[derive(Clone, Default)]
pub struct Registry {
    /// Action handlers by catalogue action name.
    pub actions: HashMap<String, Arc<dyn ActionHandler>>,
    /// Evidence collectors by catalogue evidence name.
    pub collectors: HashMap<String, Arc<dyn EvidenceCollector>>,
    /// Cause judges by catalogue cause name.
    pub judges: HashMap<String, Arc<dyn CauseJudge>>,
    /// Gate evaluators by gate check name.
    pub gates: GateRegistry,
    /// What the unregistered entries a module implements would need under this
    /// configuration (`needs connectors.kubernetes`), for the message a waiting step shows.
    pub needs: HashMap<(EntryKind, String), String>,
    /// What measures the ML impact of this runbook's incidents, for their post-mortems.
    pub impact: Vec<Arc<dyn ImpactEstimator>>,
}

impl Registry {
    /// Whether an implementation of `kind` named `name` is registered.
    pub fn has(&self, kind: EntryKind, name: &str) -> bool {
        match kind {
            EntryKind::Action => self.actions.contains_key(name),
            EntryKind::Evidence => self.collectors.contains_key(name),
            EntryKind::Cause => self.judges.contains_key(name),
            EntryKind::Gate => self.gates.contains_key(name),
        }
    }

    fn names(&self, kind: EntryKind) -> Vec<&str> {
        let mut names: Vec<&str> = match kind {
            EntryKind::Action => self.actions.keys().map(String::as_str).collect(),
            EntryKind::Evidence => self.collectors.keys().map(String::as_str).collect(),
            EntryKind::Cause => self.judges.keys().map(String::as_str).collect(),
            EntryKind::Gate => self.gates.keys().map(String::as_str).collect(),
        };
        names.sort_unstable();
        names
    }

    /// The common layer's entries this registry does not define itself.
    fn fill_from(&mut self, common: &Registry) {
        for (name, handler) in &common.actions {
            self.actions
                .entry(name.clone())
                .or_insert_with(|| handler.clone());
        }
        for (name, collector) in &common.collectors {
            self.collectors
                .entry(name.clone())
                .or_insert_with(|| collector.clone());
        }
        for (name, judge) in &common.judges {
            self.judges
                .entry(name.clone())
                .or_insert_with(|| judge.clone());
        }
        for (name, gate) in &common.gates {
            self.gates
                .entry(name.clone())
                .or_insert_with(|| gate.clone());
        }
        for (key, need) in &common.needs {
            if !self.has(key.0, &key.1) {
                self.needs
                    .entry(key.clone())
                    .or_insert_with(|| need.clone());
            }
        }
        for estimator in &common.impact {
            if !self.impact.iter().any(|own| Arc::ptr_eq(own, estimator)) {
                self.impact.push(estimator.clone());
            }
        }
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("actions", &self.names(EntryKind::Action))
            .field("collectors", &self.names(EntryKind::Evidence))
            .field("judges", &self.names(EntryKind::Cause))
            .field("gates", &self.names(EntryKind::Gate))
            .field("impact", &self.impact.len())
            .finish()
    }
}

/// The layer name of the common registrar.
const COMMON: &str = "*";

/// Every runbook's registry, what the unregistered entries would need, and the modules'
/// review queues.
#[derive(Debug, Clone, Default)]
pub struct Registries {
    common: Registry,
    runbooks: BTreeMap<String, Registry>,
    needs: BTreeMap<(String, EntryKind, String), String>,
    reviews: ReviewQueues,
    /// What a runbook without a layer of its own (a team's runbook with a new id) sees, built
    /// by [`Registries::sealed`].
    custom: Registry,
    /// The runbook layers in the order they were opened (the catalogue's).
    order: Vec<String>,
}

/// The review queues modules registered.
#[derive(Clone, Default)]
struct ReviewQueues(Vec<Arc<dyn ReviewQueue>>);

impl std::fmt::Debug for ReviewQueues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} review queue(s)", self.0.len())
    }
}

impl Registries {
    /// Empty registries: every step waits for a person.
    pub fn new() -> Self {
        Self::default()
    }

    /// The registrar of the layer every runbook sees.
    pub fn common(&mut self) -> Registrar<'_> {
        Registrar {
            layer: COMMON.to_string(),
            registries: self,
        }
    }

    /// The registrar of runbook `runbook`'s own layer.
    pub fn runbook(&mut self, runbook: &str) -> Registrar<'_> {
        if !self.order.iter().any(|known| known == runbook) {
            self.order.push(runbook.to_string());
        }
        self.runbooks.entry(runbook.to_string()).or_default();
        Registrar {
            layer: runbook.to_string(),
            registries: self,
        }
    }

    /// Merges the common layer into each runbook's and files every need with its registry;
    /// call once every module has registered. Runbooks without a layer of their own (a team's
    /// runbook with a new id) see the common layer and every runbook's entries by name, the
    /// first runbook's in catalogue order where several implement one name.
    #[must_use]
    pub fn sealed(mut self) -> Self {
        for ((layer, kind, name), need) in &self.needs {
            let registry = if layer == COMMON {
                &mut self.common
            } else {
                self.runbooks.entry(layer.clone()).or_default()
            };
            if !registry.has(*kind, name) {
                registry.needs.insert((*kind, name.clone()), need.clone());
            }
        }
        let common = self.common.clone();
        for registry in self.runbooks.values_mut() {
            registry.fill_from(&common);
        }
        // A team's runbook with an id of its own uses the catalogue's actions, collectors,
        // judges and gates by name like any other: each name from the first runbook, in
        // catalogue order, that implements it (the common layer's first of all).
        let mut custom = common;
        for layer in &self.order {
            if let Some(registry) = self.runbooks.get(layer) {
                custom.fill_from(registry);
            }
        }
        self.custom = custom;
        self
    }

    /// What the executor uses for incidents of `runbook`.
    pub fn for_runbook(&self, runbook: &str) -> &Registry {
        self.runbooks.get(runbook).unwrap_or(&self.custom)
    }

    /// Whether any module keeps a review queue under this configuration.
    pub fn has_reviews(&self) -> bool {
        !self.reviews.0.is_empty()
    }

    /// Every review of every queue, oldest first.
    ///
    /// # Errors
    /// The first queue whose state cannot be read.
    pub async fn reviews(&self) -> Result<Vec<Review>, ReviewError> {
        let mut all = Vec::new();
        for queue in &self.reviews.0 {
            all.extend(queue.list().await?);
        }
        all.sort_by(|a, b| a.opened_at.cmp(&b.opened_at).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    /// Decides review `id` in the queue that holds it.
    ///
    /// # Errors
    /// No queue holds it, it was decided the other way, or its queue's state fails.
    pub async fn decide_review(
        &self,
        id: &str,
        decision: ReviewDecision,
        by: &str,
        reason: &str,
    ) -> Result<Review, ReviewError> {
        for queue in &self.reviews.0 {
            match queue.decide(id, decision, by, reason).await {
                Err(ReviewError::NotFound(_)) => {}
                done => return done,
            }
        }
        Err(ReviewError::NotFound(id.to_string()))
    }

    /// What a step of `runbook` would need to be automated under this configuration, when a
    /// module said so (`None`: no module implements it, or it is registered).
    pub fn need(&self, runbook: &str, kind: EntryKind, name: &str) -> Option<&str> {
        if !self.runbooks.contains_key(runbook) {
            if self.custom.has(kind, name) {
                return None;
            }
            return self
                .custom
                .needs
                .get(&(kind, name.to_string()))
                .map(String::as_str);
        }
        self.needs
            .get(&(runbook.to_string(), kind, name.to_string()))
            .or_else(|| {
                self.needs
                    .get(&(COMMON.to_string(), kind, name.to_string()))
            })
            .map(String::as_str)
    }
}

/// Registers one layer's implementations.
pub struct Registrar<'a> {
    layer: String,
    registries: &'a mut Registries,
}

impl Registrar<'_> {
    fn layer_name(&self) -> String {
        if self.layer == COMMON {
            "every runbook".to_string()
        } else {
            format!("runbook {}", self.layer)
        }
    }

    fn registry(&mut self) -> &mut Registry {
        if self.layer == COMMON {
            &mut self.registries.common
        } else {
            self.registries
                .runbooks
                .entry(self.layer.clone())
                .or_default()
        }
    }

    fn check(&mut self, kind: EntryKind, name: &str) -> Result<(), DuplicateEntry> {
        if self.registry().has(kind, name) {
            return Err(DuplicateEntry {
                layer: self.layer_name(),
                kind,
                name: name.to_string(),
            });
        }
        let key = (self.layer.clone(), kind, name.to_string());
        self.registries.needs.remove(&key);
        Ok(())
    }

    /// Whether this layer already has an implementation of `name` of `kind`.
    pub fn has(&mut self, kind: EntryKind, name: &str) -> bool {
        self.registry().has(kind, name)
    }

    /// Registers the handler of action `name`.
    ///
    /// # Errors
    /// `name` is already registered in this layer.
    pub fn action(
        &mut self,
        name: &str,
        handler: Arc<dyn ActionHandler>,
    ) -> Result<(), DuplicateEntry> {
        self.check(EntryKind::Action, name)?;
        self.registry().actions.insert(name.to_string(), handler);
        Ok(())
    }

    /// Registers the collector of evidence `name`.
    ///
    /// # Errors
    /// `name` is already registered in this layer.
    pub fn collector(
        &mut self,
        name: &str,
        collector: Arc<dyn EvidenceCollector>,
    ) -> Result<(), DuplicateEntry> {
        self.check(EntryKind::Evidence, name)?;
        self.registry()
            .collectors
            .insert(name.to_string(), collector);
        Ok(())
    }

    /// Registers the judge of cause `name`.
    ///
    /// # Errors
    /// `name` is already registered in this layer.
    pub fn judge(&mut self, name: &str, judge: Arc<dyn CauseJudge>) -> Result<(), DuplicateEntry> {
        self.check(EntryKind::Cause, name)?;
        self.registry().judges.insert(name.to_string(), judge);
        Ok(())
    }

    /// Registers the evaluator of gate check `check`.
    ///
    /// # Errors
    /// `check` is already registered in this layer.
    pub fn gate(
        &mut self,
        check: &str,
        evaluator: Arc<dyn GateEvaluator>,
    ) -> Result<(), DuplicateEntry> {
        self.check(EntryKind::Gate, check)?;
        self.registry().gates.insert(check.to_string(), evaluator);
        Ok(())
    }

    /// Registers what measures the ML impact of this layer's incidents (post-mortems).
    pub fn impact(&mut self, estimator: Arc<dyn ImpactEstimator>) {
        self.registry().impact.push(estimator);
    }

    /// Registers a module's review queue (for the API's and the CLI's `reviews`).
    pub fn review_queue(&mut self, queue: Arc<dyn ReviewQueue>) {
        self.registries.reviews.0.push(queue);
    }

    /// Records that entry `name` would be automated with `what` (e.g. "connectors.kubernetes"),
    /// unless it is registered in this layer.
    pub fn needs(&mut self, kind: EntryKind, name: &str, what: impl Into<String>) {
        if self.registry().has(kind, name) {
            return;
        }
        self.registries
            .needs
            .entry((self.layer.clone(), kind, name.to_string()))
            .or_insert_with(|| what.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::{ActionError, ActionRequest, BoxFuture};

    struct Says(&'static str);

    impl ActionHandler for Says {
        fn plan<'a>(&'a self, _: &'a ActionRequest) -> BoxFuture<'a, Result<String, ActionError>> {
            Box::pin(async move { Ok(self.0.to_string()) })
        }
        fn execute<'a>(
            &'a self,
            _: &'a ActionRequest,
        ) -> BoxFuture<'a, Result<String, ActionError>> {
            Box::pin(async move { Ok(self.0.to_string()) })
        }
    }

    #[test]
    fn a_name_registered_twice_in_one_layer_is_an_error() {
        let mut registries = Registries::new();
        let mut common = registries.common();
        assert!(common.action("notify", Arc::new(Says("a"))).is_ok());
        let err = common
            .action("notify", Arc::new(Says("b")))
            .expect_err("second registration");
        assert_eq!(
            err.to_string(),
            "action \"notify\" is registered twice for every runbook"
        );
        let mut serving = registries.runbook("serving-latency");
        assert!(
            serving
                .action("rollback_model", Arc::new(Says("a")))
                .is_ok()
        );
        assert!(
            serving
                .action("rollback_model", Arc::new(Says("b")))
                .is_err()
        );
        // The same name in another runbook's layer is another entry.
        let mut models = registries.runbook("model-regression");
        assert!(models.action("rollback_model", Arc::new(Says("c"))).is_ok());
    }

    #[test]
    fn a_runbook_entry_stands_in_for_the_common_one_for_that_runbook_only() {
        let mut registries = Registries::new();
        registries
            .common()
            .gate_free_action("notify", "common")
            .expect("common");
        registries
            .runbook("serving-latency")
            .gate_free_action("notify", "own")
            .expect("own");
        registries.runbook("feature-store");
        let registries = registries.sealed();
        assert!(
            registries
                .for_runbook("feature-store")
                .has(EntryKind::Action, "notify")
        );
        assert!(
            registries
                .for_runbook("custom")
                .has(EntryKind::Action, "notify")
        );
        // A runbook of a team's own sees every runbook's entries by name, the first in
        // catalogue order where two implement one name.
        let custom = registries.for_runbook("custom");
        assert!(Arc::ptr_eq(
            &custom.actions["notify"],
            &registries.common.actions["notify"]
        ));
        assert!(!custom.has(EntryKind::Action, "scale"));
        let own = registries.for_runbook("serving-latency");
        assert!(Arc::ptr_eq(
            &own.actions["notify"],
            &registries.runbooks["serving-latency"].actions["notify"]
        ));
        assert!(!Arc::ptr_eq(
            &own.actions["notify"],
            &registries.common.actions["notify"]
        ));
    }

    #[test]
    fn a_teams_runbook_uses_every_runbooks_entries_by_name() {
        let mut registries = Registries::new();
        registries
            .runbook("serving-latency")
            .gate_free_action("rollback_model", "serving")
            .expect("serving");
        registries
            .runbook("serving-latency")
            .gate_free_action("scale_replicas", "scale")
            .expect("scale");
        registries
            .runbook("model-regression")
            .gate_free_action("rollback_model", "models")
            .expect("models");
        registries.runbook("pipeline-failure").needs(
            EntryKind::Action,
            "pause_schedule",
            "needs connectors.airflow",
        );
        let registries = registries.sealed();
        let custom = registries.for_runbook("bench-serving");
        assert!(custom.has(EntryKind::Action, "scale_replicas"));
        assert!(
            Arc::ptr_eq(
                &custom.actions["rollback_model"],
                &registries.runbooks["serving-latency"].actions["rollback_model"]
            ),
            "the first runbook to register a name, in catalogue order"
        );
        assert_eq!(
            registries.need("bench-serving", EntryKind::Action, "pause_schedule"),
            Some("needs connectors.airflow")
        );
        assert_eq!(
            registries.need("bench-serving", EntryKind::Action, "scale_replicas"),
            None
        );
    }

    #[test]
    fn needs_are_reported_until_the_entry_is_registered() {
        let mut registries = Registries::new();
        let mut serving = registries.runbook("serving-latency");
        serving.needs(
            EntryKind::Action,
            "scale_replicas",
            "needs connectors.kubernetes",
        );
        assert_eq!(
            registries.need("serving-latency", EntryKind::Action, "scale_replicas"),
            Some("needs connectors.kubernetes")
        );
        assert_eq!(
            registries.need("feature-store", EntryKind::Action, "scale_replicas"),
            None
        );
        registries
            .runbook("serving-latency")
            .gate_free_action("scale_replicas", "x")
            .expect("register");
        assert_eq!(
            registries.need("serving-latency", EntryKind::Action, "scale_replicas"),
            None
        );
    }

    impl Registrar<'_> {
        fn gate_free_action(
            &mut self,
            name: &str,
            says: &'static str,
        ) -> Result<(), DuplicateEntry> {
            self.action(name, Arc::new(Says(says)))
        }
    }
}
