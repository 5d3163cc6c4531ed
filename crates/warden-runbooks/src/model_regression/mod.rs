//! Runbook 5 ("Model regression after deployment") as a module: the scheduled regression
//! detector for every model under `models:` ([`detector`], R5.1), the evidence collectors
//! ([`evidence`]), the cause judges ([`judges`]), the closure gates ([`gates`]), the ML impact
//! from the logs ([`impact`]) and the registry's view of deployments ([`deployment`]). Its action is the shared
//! `rollback_model` ([`crate::common::rollback`]). The statistics live in `warden-eval`; this
//! module connects them to the logs, MLflow and the model server.

pub mod deployment;
pub mod detector;
pub mod evidence;
pub mod gates;
pub mod impact;
pub mod judges;

use std::sync::Arc;

use warden_config::{Config, ModelConfig};
use warden_core::{Finding, RunbookId, Severity, Target, TargetKind, Timestamp};
use warden_data::NULL_TIMESTAMP;
use warden_engine::detect::Detector;
use warden_engine::executor::{ActionError, ActionHandler, GateEvaluator};
use warden_engine::registry::{EntryKind, Registrar};
use warden_eval::metrics::Metric;
use warden_eval::regression::{self, Comparison, Options, Verdict};
use warden_eval::{ColumnMap, Scored, table};

use crate::common::{self, rollback::RollbackModel};
use crate::{AssemblyError, RunbookModule};

/// The built-in runbook model regressions open.
pub const RUNBOOK: &str = "model-regression";

/// What runbook 5's collectors, judges and gates share.
pub struct Models {
    /// The configured models.
    pub models: Vec<ModelConfig>,
    /// The whole configuration (MLflow, the model server).
    pub config: Config,
    /// The latest look at each model's logs, by model name.
    looks: std::collections::HashMap<String, tokio::sync::Mutex<Option<Look>>>,
}

/// One look at a model's logs, when it was taken and at which engine time (a replay's clock
/// runs faster than the wall's: a look is reused only while both are close).
type Look = (std::time::Instant, Timestamp, Arc<Analysis>);

/// Longest a look is reused: the detector, five collectors and two gates ask within seconds of
/// each other, and every look reads every log row (seconds at 10M rows).
const LOOK_REUSE: std::time::Duration = std::time::Duration::from_secs(30);

/// One look at a model's logs: the versions compared and the test's outcome.
pub struct Analysis {
    /// Predictions joined to actuals.
    pub scored: Scored,
    /// The version before the newest (by first prediction).
    pub baseline: String,
    /// The newest version.
    pub candidate: String,
    /// The version of the latest prediction: the one serving now.
    pub serving_now: String,
    /// Candidate against baseline.
    pub comparison: Comparison,
    /// The business metric before vs since the candidate, when configured.
    pub business: Option<Comparison>,
}

impl Models {
    /// From the configuration; `None` when no model is listed.
    pub fn from_config(config: &Config) -> Option<Arc<Self>> {
        (!config.models.is_empty()).then(|| {
            Arc::new(Self {
                models: config.models.clone(),
                config: config.clone(),
                looks: config
                    .models
                    .iter()
                    .map(|m| (m.name.clone(), tokio::sync::Mutex::new(None)))
                    .collect(),
            })
        })
    }

    /// The model an incident is about.
    ///
    /// # Errors
    /// No `models:` entry has the target's name.
    pub fn model(&self, target: &Target) -> Result<&ModelConfig, ActionError> {
        self.models
            .iter()
            .find(|m| m.name == target.name)
            .ok_or_else(|| ActionError {
                message: format!(
                    "no models entry named {:?} in warden.yaml (models:)",
                    target.name
                ),
                retryable: false,
            })
    }

    /// The version the registry says serves: the alias's, or the newest in the stage.
    ///
    /// # Errors
    /// MLflow unreachable or answering an error.
    pub async fn registry_serving_version(
        client: &warden_connect::MlflowClient,
        model: &ModelConfig,
    ) -> Result<Option<String>, warden_connect::ConnectError> {
        match &model.stage {
            Some(stage) => Ok(client
                .latest_versions(&model.name, &[stage.as_str()])
                .await?
                .into_iter()
                .next()
                .map(|v| v.version)),
            None => Ok(client
                .get_model_version_by_alias(&model.name, &model.alias)
                .await?
                .map(|v| v.version)),
        }
    }

    /// How the registry names what serves: `name@alias` or `name/Stage`.
    pub fn serving_name(model: &ModelConfig) -> String {
        match &model.stage {
            Some(stage) => format!("{}/{stage}", model.name),
            None => format!("{}@{}", model.name, model.alias),
        }
    }

    /// An MLflow client, if configured.
    pub fn mlflow(&self) -> Option<warden_connect::MlflowClient> {
        self.config
            .connectors
            .mlflow
            .as_ref()
            .and_then(|c| warden_connect::MlflowClient::from_config(c).ok())
    }
}

/// The column mapping of a model.
pub fn column_map(model: &ModelConfig) -> ColumnMap {
    let c = &model.columns;
    ColumnMap {
        timestamp: c.timestamp.clone(),
        keys: c.keys.clone(),
        series: c.series.clone(),
        model_name: "model_name".into(),
        model_version: c.model_version.clone(),
        prediction: c.prediction.clone(),
        actual: c.actual.clone(),
        features: c.features.clone(),
    }
}

/// The regression test's options of a model.
pub fn options(model: &ModelConfig) -> Options {
    Options {
        metric: Metric::parse(&model.metric).unwrap_or(Metric::Wape),
        alpha: model.alpha,
        min_effect: model.min_effect,
        min_rows: model.min_rows,
    }
}

/// Reads the logs (and actuals) and joins them. Blocking.
///
/// # Errors
/// Unreadable data, named.
pub fn load(model: &ModelConfig) -> Result<Scored, String> {
    let predictions = warden_data::Dataset::open(&model.predictions).map_err(|e| e.to_string())?;
    let actuals = model
        .actuals
        .as_deref()
        .map(warden_data::Dataset::open)
        .transpose()
        .map_err(|e| e.to_string())?;
    table::load(&predictions, actuals.as_ref(), &column_map(model), None).map_err(|e| e.to_string())
}

/// The version of the latest prediction.
pub fn serving_now(scored: &Scored) -> Option<String> {
    let row = match &scored.timestamp {
        Some(times) => (0..scored.len())
            .filter(|&r| times[r] != NULL_TIMESTAMP)
            .max_by_key(|&r| times[r])?,
        None => scored.len().checked_sub(1)?,
    };
    Some(scored.versions[scored.version[row] as usize].clone())
}

/// Tests the newest version in the loaded logs against the one before it; logs without a
/// version column are split by the registry's deployment, when there is one.
///
/// # Errors
/// Fewer than two versions in the logs.
pub fn analyse(
    model: &ModelConfig,
    mut scored: Scored,
    registry: Option<&deployment::RegistryDeployment>,
) -> Result<Analysis, String> {
    let mut serving = serving_now(&scored).unwrap_or_default();
    if let Some(registry) = registry
        && deployment::label_by_registry(&mut scored, registry)
    {
        serving = registry.serving.clone().unwrap_or_default();
    }
    let order = scored.versions_by_first_seen();
    let (Some((candidate, _)), Some((baseline, _))) = (order.last(), order.iter().rev().nth(1))
    else {
        return Err(format!(
            "{}: one model version in the logs ({}); nothing to compare",
            model.predictions,
            order.first().map_or("none", |(v, _)| v.as_str())
        ));
    };
    let comparison = regression::versions(&scored, baseline, candidate, &options(model));
    Ok(Analysis {
        serving_now: serving,
        baseline: baseline.clone(),
        candidate: candidate.clone(),
        comparison,
        business: None,
        scored,
    })
}

/// [`look`] shared: a look younger than the model's `check_every` (at most [`LOOK_REUSE`]),
/// on the wall clock and on the engine's (`now`), is reused, and callers asking while one is
/// being taken wait for it instead of reading the logs again.
///
/// # Errors
/// As [`look`].
pub async fn analyse_async(
    models: &Models,
    model: &ModelConfig,
    now: Timestamp,
) -> Result<Arc<Analysis>, String> {
    let reuse = model.check_every.unwrap_or(LOOK_REUSE).min(LOOK_REUSE);
    let Some(slot) = models.looks.get(&model.name) else {
        return look(models, model, now).await.map(Arc::new);
    };
    let mut slot = slot.lock().await;
    if let Some((taken, taken_at, analysis)) = slot.as_ref()
        && taken.elapsed() < reuse
        && (now - *taken_at)
            .abs()
            .to_std()
            .is_ok_and(|apart| apart < reuse)
    {
        return Ok(analysis.clone());
    }
    let analysis = Arc::new(look(models, model, now).await?);
    *slot = Some((std::time::Instant::now(), now, analysis.clone()));
    Ok(analysis)
}

/// [`load`] and [`analyse`] off the async runtime, with the registry's deployment (only for
/// logs without versions) and the business metric's comparison.
///
/// # Errors
/// As [`analyse`], the worker dying, or the business metric unreadable.
async fn look(models: &Models, model: &ModelConfig, now: Timestamp) -> Result<Analysis, String> {
    let worker = |e: tokio::task::JoinError| format!("analysis worker failed: {e}");
    let config = model.clone();
    let scored = tokio::task::spawn_blocking(move || load(&config))
        .await
        .map_err(worker)??;
    // The registry is asked only when the logs cannot tell the versions apart themselves.
    let registry = if scored.versions == ["all"] {
        deployment::from_registry(models, model).await
    } else {
        None
    };
    let config = model.clone();
    let mut analysis =
        tokio::task::spawn_blocking(move || analyse(&config, scored, registry.as_ref()))
            .await
            .map_err(worker)??;
    if model.business.is_some() {
        let deployed = analysis.scored.timestamp.as_ref().and_then(|times| {
            analysis
                .scored
                .rows_of_version(&analysis.candidate)
                .iter()
                .map(|&r| times[r as usize])
                .filter(|t| *t != NULL_TIMESTAMP)
                .min()
        });
        if let Some(deployed) = deployed {
            analysis.business = deployment::business(models, model, deployed, now).await?;
        }
    }
    Ok(analysis)
}

/// The incident target of a model.
pub fn target(model: &ModelConfig) -> Target {
    let target = Target::new(TargetKind::Model, model.name.clone());
    match &model.namespace {
        Some(namespace) => target.in_namespace(namespace.clone()),
        None => target,
    }
}

/// The finding a regression makes — accuracy or the business metric significantly worse —
/// if the newest version is still the one serving.
pub fn finding(
    model: &ModelConfig,
    analysis: &Analysis,
    now: warden_core::Timestamp,
) -> Option<Finding> {
    // A rolled-back version stays worse in the history; only the one serving now counts.
    if analysis.serving_now != analysis.candidate {
        return None;
    }
    let c = &analysis.comparison;
    let business = analysis
        .business
        .as_ref()
        .filter(|b| b.verdict == Verdict::Worse);
    if c.verdict != Verdict::Worse && business.is_none() {
        return None;
    }
    let metric = c.metric.name();
    let mut summary = format!(
        "{}: version {} {metric} {} vs {} for version {} ({:+.0}%, p = {:.4}, {}: {})",
        model.name,
        c.candidate,
        warden_eval::metrics::shown(c.metric, c.candidate_value),
        warden_eval::metrics::shown(c.metric, c.baseline_value),
        c.baseline,
        100.0 * c.relative_change,
        c.p_worse,
        c.method,
        c.verdict.name()
    );
    let mut measurements: std::collections::BTreeMap<String, f64> = [
        (format!("{metric}_candidate"), c.candidate_value),
        (format!("{metric}_baseline"), c.baseline_value),
        ("relative_change".to_string(), c.relative_change),
        ("p_worse".to_string(), c.p_worse),
    ]
    .into_iter()
    .collect();
    if let Some(b) = business {
        summary.push_str(&format!(
            "; business metric {:.4} since the deployment vs {:.4} before ({:+.0}% worse, p = {:.4})",
            b.candidate_value,
            b.baseline_value,
            100.0 * b.relative_change,
            b.p_worse
        ));
        measurements.insert("business_before".into(), b.baseline_value);
        measurements.insert("business_after".into(), b.candidate_value);
    }
    Some(Finding {
        runbook: RunbookId::new(RUNBOOK),
        target: target(model),
        detector: "model_regression".into(),
        severity: Severity::High,
        summary,
        detected_at: now,
        measurements,
        cause_key: Some(format!("version {}", c.candidate)),
        alert: None,
    })
}

/// Runbook 5's module.
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
        let Some(models) = Models::from_config(config) else {
            let need = "needs a model listed under models";
            common::needs_all(registrar, EntryKind::Evidence, &evidence::NAMES, need);
            common::needs_all(registrar, EntryKind::Cause, &judges::NAMES, need);
            common::needs_all(registrar, EntryKind::Action, &["rollback_model"], need);
            common::needs_all(registrar, EntryKind::Gate, &gates::CHECKS, need);
            return Ok(Vec::new());
        };
        let mlflow = config.connectors.mlflow.is_some();
        common::register_collectors(
            registrar,
            evidence::collectors(&models)
                .into_iter()
                .filter(|(name, _)| mlflow || name != "registry_metadata"),
        )?;
        registrar.needs(
            EntryKind::Evidence,
            "registry_metadata",
            "needs connectors.mlflow",
        );
        common::register_judges(registrar, judges::judges())?;
        let rollback: Arc<dyn ActionHandler> = Arc::new(RollbackModel {
            config: Arc::new(config.clone()),
        });
        registrar.action("rollback_model", rollback)?;
        let gates: Arc<dyn GateEvaluator> = Arc::new(gates::ModelGates::new(models.clone()));
        common::register_gates(registrar, &gates::CHECKS, &gates)?;
        registrar.impact(Arc::new(impact::RegressionImpact {
            models: models.clone(),
        }));
        Ok(detector::detectors(&models))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_eval::metrics::SplitMix;

    fn config() -> ModelConfig {
        ModelConfig {
            name: "demand-forecast".into(),
            alias: "champion".into(),
            stage: None,
            predictions: "logs/".into(),
            actuals: None,
            columns: warden_config::ModelColumns {
                timestamp: "timestamp".into(),
                keys: vec![],
                series: None,
                model_version: "model_version".into(),
                prediction: "prediction".into(),
                actual: "actual".into(),
                features: vec![],
            },
            metric: "wape".into(),
            min_effect: 0.1,
            alpha: 0.05,
            min_rows: 30,
            check_every: None,
            tolerance: 0.1,
            training_data: None,
            reference: None,
            training_metric: None,
            inference_service: None,
            namespace: None,
            business: None,
        }
    }

    /// Version 1 for 10 days, version 2 (errors × 3) for 5, then version 1 again for `after`.
    fn history(after: i64) -> Scored {
        let mut rng = SplitMix(3);
        let mut scored = Scored {
            versions: vec!["1".into(), "2".into()],
            timestamp: Some(Vec::new()),
            ..Scored::default()
        };
        let days = (0..10)
            .map(|d| (d, 0))
            .chain((10..15).map(|d| (d, 1)))
            .chain((15..15 + after).map(|d| (d, 0)));
        for (day, version) in days {
            for series in 0..20_u64 {
                let noise = rng.below(21) as f64 - 10.0;
                let scale = if version == 1 { 3.0 } else { 1.0 };
                scored.prediction.push(100.0 + noise * scale);
                scored.actual.push(100.0);
                scored.version.push(version);
                scored.series.push(series + 1);
                scored.key.push(table::NULL_KEY);
                if let Some(t) = scored.timestamp.as_mut() {
                    t.push(day * 86_400_000);
                }
            }
        }
        scored
    }

    fn analysis_of(scored: Scored) -> Analysis {
        let comparison = regression::versions(&scored, "1", "2", &options(&config()));
        Analysis {
            serving_now: serving_now(&scored).unwrap_or_default(),
            baseline: "1".into(),
            candidate: "2".into(),
            comparison,
            business: None,
            scored,
        }
    }

    #[test]
    fn a_regressed_version_still_serving_is_a_finding() {
        let analysis = analysis_of(history(0));
        assert_eq!(analysis.serving_now, "2");
        let finding =
            finding(&config(), &analysis, chrono::DateTime::UNIX_EPOCH).expect("regressed");
        assert_eq!(finding.runbook.as_str(), RUNBOOK);
        assert_eq!(finding.target.name, "demand-forecast");
        assert!(
            finding.summary.contains("version 2 wape") && finding.summary.contains("for version 1"),
            "{}",
            finding.summary
        );
        assert!(finding.measurements["relative_change"] > 1.0);
    }

    /// Stage-based registries on the harness's real MLflow: the rollback moves the version
    /// before the newest into Production (the newest archived), reads it back, and a second
    /// run changes nothing.
    #[tokio::test]
    async fn rollback_moves_the_production_stage_back_on_real_mlflow() {
        let Some(url) = warden_testkit::stack::require("MLFLOW_URL") else {
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let name = format!(
            "warden-stage-{}",
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        std::fs::write(
            dir.path().join("warden.yaml"),
            format!(
                "connectors:\n  mlflow:\n    url: {url}\nmodels:\n  - name: {name}\n    predictions: logs/\n    stage: Production\n"
            ),
        )
        .expect("write");
        let config = warden_config::load(&dir.path().join("warden.yaml")).expect("valid");
        let client = Models::from_config(&config)
            .expect("models")
            .mlflow()
            .expect("mlflow");
        client.create_registered_model(&name).await.expect("model");
        for source in ["s3://models/v1", "s3://models/v2"] {
            client
                .create_model_version(&name, source, None)
                .await
                .expect("version");
        }
        client
            .transition_stage(&name, "1", "Production", false)
            .await
            .expect("v1 live");
        // The deployment: version 2 to Production, version 1 archived.
        client
            .transition_stage(&name, "2", "Production", true)
            .await
            .expect("v2 live");

        let assembly = crate::assemble(&config, &warden_runbook::builtin::all().expect("runbooks"))
            .expect("assembled");
        let handler = assembly
            .registries
            .for_runbook(RUNBOOK)
            .actions
            .get("rollback_model")
            .expect("registered for models")
            .clone();
        let finding = Finding {
            runbook: RunbookId::new(RUNBOOK),
            target: target(&config.models[0]),
            detector: "model_regression".into(),
            severity: Severity::High,
            summary: "worse".into(),
            detected_at: chrono::Utc::now(),
            measurements: Default::default(),
            cause_key: None,
            alert: None,
        };
        let request = warden_engine::executor::ActionRequest {
            incident: warden_core::Incident::open(
                warden_core::IncidentId("INC-S".into()),
                &finding,
                chrono::Utc::now(),
            ),
            step: "rollback".into(),
            params: Default::default(),
            idempotency_key: "INC-S/rollback".into(),
            earlier_results: Default::default(),
            approval: None,
            now: chrono::Utc::now(),
        };
        let plan = handler.plan(&request).await.expect("plan");
        assert!(
            plan.contains("would move MLflow") && plan.contains("version 1 to Production"),
            "{plan}"
        );
        let done = handler.execute(&request).await.expect("rollback");
        assert!(
            done.contains(&format!(
                "MLflow {name}/Production: version 2 → 1 (read back; 2 archived)"
            )),
            "{done}"
        );
        let live = client
            .latest_versions(&name, &["Production"])
            .await
            .expect("read");
        assert_eq!(live.first().map(|v| v.version.as_str()), Some("1"));
        let archived = client.get_model_version(&name, "2").await.expect("read");
        assert_eq!(archived.current_stage.as_deref(), Some("Archived"));
        let again = handler.execute(&request).await.expect("idempotent");
        assert!(again.contains("already on version 1"), "{again}");
    }

    #[test]
    fn a_business_metric_drop_alone_is_a_finding_too() {
        let mut analysis = analysis_of(history(0));
        // Accuracy as good as before …
        let same = regression::versions(&analysis.scored, "1", "1", &options(&config()));
        analysis.comparison = Comparison {
            candidate: "2".into(),
            ..same
        };
        assert!(finding(&config(), &analysis, chrono::DateTime::UNIX_EPOCH).is_none());
        // … but conversion fell from 5% to 4%.
        let before: Vec<f64> = (0..48).map(|i| 0.050 + f64::from(i % 5) * 0.001).collect();
        let after: Vec<f64> = (0..48).map(|i| 0.040 + f64::from(i % 5) * 0.001).collect();
        analysis.business = Some(regression::business_series(
            &before,
            &after,
            true,
            &options(&config()),
        ));
        let finding =
            finding(&config(), &analysis, chrono::DateTime::UNIX_EPOCH).expect("business worse");
        assert!(
            finding
                .summary
                .contains("business metric 0.0419 since the deployment vs 0.0519 before"),
            "{}",
            finding.summary
        );
    }

    #[test]
    fn a_regressed_version_already_rolled_back_is_not() {
        let analysis = analysis_of(history(2));
        assert_eq!(analysis.serving_now, "1");
        assert_eq!(analysis.comparison.verdict, Verdict::Worse);
        assert!(finding(&config(), &analysis, chrono::DateTime::UNIX_EPOCH).is_none());
    }
}
