//! Runbook 1 ("Pipeline component failure") as a module, for the pipelines under
//! `pipelines:` — Airflow DAGs and Kubeflow Pipelines runs alike, through [`source`]: the
//! failed-run and stuck-run detector ([`detector`]), the evidence collectors ([`evidence`]:
//! task and pod logs captured at detection, before garbage collection; pod events; referenced
//! secrets; run details; isolation across runs; the artifact-storage probe; the
//! classification), the cause judges ([`judges`]), the actions ([`actions`]), the closure
//! gates ([`gates`]), the fixes with the cluster's values ([`fixes`]) and the ML impact from
//! the run history ([`impact`]).

pub mod actions;
pub mod detector;
pub mod evidence;
pub mod fixes;
pub mod gates;
pub mod impact;
pub mod judges;
pub mod source;

use std::sync::Arc;

use warden_config::{AirflowConfig, Config, KfpConfig, KubernetesConfig, PipelineConfig};
use warden_core::{Target, TargetKind};
use warden_detect::classify::Rules;
use warden_engine::detect::Detector;
use warden_engine::executor::{ActionError, GateEvaluator};
use warden_engine::registry::{EntryKind, Registrar};

use crate::common;
use crate::{AssemblyError, RunbookModule};

use source::{PipelineRun, RunState, Source};

/// The built-in runbook pipeline failures open.
pub const RUNBOOK: &str = "pipeline-failure";

/// What runbook 1's handlers share.
pub struct Pipelines {
    /// The configured pipelines.
    pub pipelines: Vec<PipelineConfig>,
    /// `connectors.airflow`, for Airflow DAGs.
    pub airflow: Option<AirflowConfig>,
    /// `connectors.kfp`, for Kubeflow Pipelines runs.
    pub kfp: Option<KfpConfig>,
    /// `connectors.kubernetes`, for KFP task pods (logs, events, secrets).
    pub kubernetes: Option<KubernetesConfig>,
    /// The built-in classification rules and every pipeline's own (by pipeline name).
    pub rules: std::collections::HashMap<String, Rules>,
    /// `connectors.object_store`, for the artifact-storage probe.
    pub object_store: Option<warden_config::model::ObjectStoreConfig>,
}

impl Pipelines {
    /// From the configuration; `None` without pipelines.
    ///
    /// # Errors
    /// A pipeline's rules file is unreadable or invalid (named with its key).
    pub fn from_config(config: &Config) -> Result<Option<Arc<Self>>, AssemblyError> {
        if config.pipelines.is_empty() {
            return Ok(None);
        }
        let mut rules = std::collections::HashMap::new();
        for (index, pipeline) in config.pipelines.iter().enumerate() {
            let key = format!("pipelines[{index}].rules");
            let mut set = Rules::builtin().map_err(|e| {
                AssemblyError::config("built-in classification rules", e.to_string())
            })?;
            for file in &pipeline.rules {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| AssemblyError::config(&key, format!("{}: {e}", file.display())))?;
                let more = Rules::parse(&file.display().to_string(), &text)
                    .map_err(|e| AssemblyError::config(&key, e.to_string()))?;
                set = set
                    .extended(more)
                    .map_err(|e| AssemblyError::config(&key, e.to_string()))?;
            }
            rules.insert(pipeline.name.clone(), set);
        }
        Ok(Some(Arc::new(Self {
            pipelines: config.pipelines.clone(),
            airflow: config.connectors.airflow.clone(),
            kfp: config.connectors.kfp.clone(),
            kubernetes: config.connectors.kubernetes.clone(),
            rules,
            object_store: config.connectors.object_store.clone(),
        })))
    }

    /// The pipeline an incident is about.
    ///
    /// # Errors
    /// No `pipelines:` entry has the target's name.
    pub fn pipeline(&self, target: &Target) -> Result<&PipelineConfig, ActionError> {
        self.pipelines
            .iter()
            .find(|p| p.name == target.name)
            .ok_or_else(|| ActionError {
                message: format!(
                    "no pipelines entry named {:?} in warden.yaml (pipelines:)",
                    target.name
                ),
                retryable: false,
            })
    }

    /// The connected source of `pipeline`'s runs.
    ///
    /// # Errors
    /// Its connector is missing or refuses the credentials.
    pub async fn source(&self, pipeline: &PipelineConfig) -> Result<Source, ActionError> {
        Source::connect(self, pipeline).await
    }

    /// The namespace KFP task pods run in (`connectors.kfp.namespace`).
    pub fn pod_namespace(&self) -> Option<&str> {
        self.kfp.as_ref().map(|k| k.namespace.as_str())
    }
}

/// The incident target of a pipeline.
pub fn target(pipeline: &PipelineConfig) -> Target {
    Target::new(TargetKind::Pipeline, pipeline.name.clone())
}

/// The newest run that has finished (succeeded or failed), among `runs` (newest first).
pub fn newest_finished(runs: &[PipelineRun]) -> Option<&PipelineRun> {
    runs.iter().find(|r| r.finished())
}

/// Whether an incident is about a stuck run (its finding's cause key), not a failed one.
pub fn is_stuck_incident(incident: &warden_core::Incident) -> bool {
    incident.dedup_key.ends_with(":stuck")
}

/// The run an incident is about, among `runs` (newest first): for a stuck-run incident the
/// longest-running run, otherwise the newest finished run if it failed.
pub fn incident_run(runs: &[PipelineRun], stuck: bool) -> Option<&PipelineRun> {
    if stuck {
        runs.iter().rev().find(|r| r.state == RunState::Running)
    } else {
        newest_finished(runs).filter(|r| r.state == RunState::Failed)
    }
}

/// A run still going past `factor` × the p95 duration of the recent successful runs (at least
/// three of them, so one fast run does not set the bound): `(run, running for, bound)`.
pub fn stuck_run(
    runs: &[PipelineRun],
    now: chrono::DateTime<chrono::Utc>,
    factor: f64,
) -> Option<(&PipelineRun, std::time::Duration, std::time::Duration)> {
    let mut durations: Vec<std::time::Duration> = runs
        .iter()
        .filter(|r| r.state == RunState::Succeeded)
        .filter_map(|r| (r.ended? - r.started?).to_std().ok())
        .collect();
    if durations.len() < 3 {
        return None;
    }
    durations.sort_unstable();
    let rank = ((durations.len() as f64) * 0.95).ceil() as usize;
    let p95 = durations[rank.clamp(1, durations.len()) - 1];
    let bound = p95.mul_f64(factor);
    runs.iter()
        .filter(|r| r.state == RunState::Running)
        .filter_map(|r| Some((r, (now - r.started?).to_std().ok()?)))
        .find(|(_, running)| *running > bound)
        .map(|(run, running)| (run, running, bound))
}

/// Runbook 1's module.
pub struct Module;

impl RunbookModule for Module {
    fn runbook(&self) -> &'static str {
        RUNBOOK
    }

    fn assemble(
        &self,
        config: &Config,
        registrar: &mut Registrar<'_>,
    ) -> Result<Vec<Box<dyn Detector>>, AssemblyError> {
        let Some(pipelines) = Pipelines::from_config(config)? else {
            let need = "needs a pipeline listed under pipelines";
            common::needs_all(registrar, EntryKind::Evidence, &evidence::NAMES, need);
            common::needs_all(registrar, EntryKind::Cause, &judges::NAMES, need);
            common::needs_all(registrar, EntryKind::Action, &actions::NAMES, need);
            common::needs_all(registrar, EntryKind::Gate, &gates::CHECKS, need);
            return Ok(Vec::new());
        };
        common::register_collectors(registrar, evidence::collectors(&pipelines))?;
        common::register_judges(registrar, judges::judges())?;
        let mut handlers = std::collections::HashMap::new();
        actions::handlers(&pipelines, &mut handlers);
        common::register_actions(registrar, handlers)?;
        let gates: Arc<dyn GateEvaluator> = Arc::new(gates::PipelineGates::new(
            pipelines.clone(),
            config.data_dir.join("evidence"),
        ));
        common::register_gates(registrar, &gates::CHECKS, &gates)?;
        registrar.impact(Arc::new(impact::PipelineImpact {
            pipelines: pipelines.clone(),
        }));
        Ok(detector::detectors(&pipelines))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn run(id: &str, state: RunState, start_minute: i64, minutes: Option<i64>) -> PipelineRun {
        let start =
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + Duration::minutes(start_minute);
        PipelineRun {
            id: id.into(),
            state,
            started: Some(start),
            ended: minutes.map(|m| start + Duration::minutes(m)),
            scheduled: true,
        }
    }

    #[test]
    fn a_stuck_incident_is_about_the_longest_running_run_a_failed_one_about_the_failure() {
        let runs = vec![
            run("newest", RunState::Running, 300, None),
            run("oldest-running", RunState::Running, 200, None),
            run("failed", RunState::Failed, 100, Some(10)),
            run("ok", RunState::Succeeded, 0, Some(10)),
        ];
        assert_eq!(
            incident_run(&runs, true).map(|r| r.id.as_str()),
            Some("oldest-running")
        );
        assert_eq!(
            incident_run(&runs, false).map(|r| r.id.as_str()),
            Some("failed")
        );
        let recovered = [
            run("ok-again", RunState::Succeeded, 400, Some(5)),
            runs[2].clone(),
        ];
        assert!(
            incident_run(&recovered, false).is_none(),
            "the newest finished run succeeded: nothing failed to look at"
        );
    }

    #[test]
    fn a_run_past_three_times_the_recent_p95_is_stuck() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + Duration::minutes(1000);
        let mut runs = vec![run("now", RunState::Running, 1000 - 31, None)];
        for (i, minutes) in [8, 9, 10, 9, 8].iter().enumerate() {
            runs.push(run(
                &format!("ok-{i}"),
                RunState::Succeeded,
                i as i64 * 60,
                Some(*minutes),
            ));
        }
        let (stuck, running, bound) = stuck_run(&runs, now, 3.0).expect("31 min > 3 × 10 min");
        assert_eq!(stuck.id, "now");
        assert_eq!(running.as_secs(), 31 * 60);
        assert_eq!(bound.as_secs(), 30 * 60);
        runs[0] = run("now", RunState::Running, 1000 - 29, None);
        assert!(
            stuck_run(&runs, now, 3.0).is_none(),
            "29 min is within the bound"
        );
        // Two successful runs are too few to bound anything.
        runs.truncate(3);
        runs[0] = run("now", RunState::Running, 0, None);
        assert!(stuck_run(&runs, now, 3.0).is_none());
    }
}
