//! `pipelines:` — the pipelines runbook 1 watches: where they run (an Airflow DAG, or a
//! Kubeflow Pipelines experiment and/or recurring run), how often Warden checks their runs,
//! the artifact store they write to, and the team's own failure-classification rules.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

/// `pipelines[]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    /// The pipeline's name: the target of its incidents.
    pub name: Spanned<String>,
    /// The Airflow DAG that runs it (needs `connectors.airflow`).
    pub airflow_dag: Option<Spanned<String>>,
    /// Or the Kubeflow Pipelines runs that are it (needs `connectors.kfp`).
    pub kfp: Option<Spanned<RawKfpPipeline>>,
    /// How often the daemon looks at its runs (unset: alerts only).
    pub check_every: Option<Spanned<String>>,
    /// A run is stuck past this many times the p95 duration of recent successful runs (3).
    pub stuck_factor: Option<Spanned<f64>>,
    /// More classification rules (files in the built-in rules' format).
    #[serde(default)]
    pub rules: Vec<Spanned<String>>,
    /// The artifact store the pipeline writes to (`s3://bucket/prefix`), listed with
    /// `connectors.object_store`'s settings by the artifact-storage probe.
    pub artifact_store: Option<Spanned<String>>,
}

/// `pipelines[].kfp` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKfpPipeline {
    /// Runs of this experiment.
    pub experiment_id: Option<Spanned<String>>,
    /// Runs this recurring run started; it is the schedule Warden pauses.
    pub recurring_run_id: Option<Spanned<String>>,
}

/// Where a pipeline runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineSource {
    /// An Airflow DAG.
    Airflow {
        /// Its id.
        dag: String,
    },
    /// Kubeflow Pipelines runs, of an experiment and/or started by a recurring run.
    Kfp {
        /// The experiment.
        experiment_id: Option<String>,
        /// The recurring run (the schedule).
        recurring_run_id: Option<String>,
    },
}

impl PipelineSource {
    /// How messages name it, e.g. `Airflow DAG training` or `KFP recurring run rr-nightly`.
    pub fn describe(&self) -> String {
        match self {
            Self::Airflow { dag } => format!("Airflow DAG {dag}"),
            Self::Kfp {
                recurring_run_id: Some(id),
                ..
            } => format!("KFP recurring run {id}"),
            Self::Kfp {
                experiment_id: Some(id),
                ..
            } => format!("KFP experiment {id}"),
            Self::Kfp { .. } => "KFP runs".to_string(),
        }
    }
}

/// One watched pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineConfig {
    /// Its name.
    pub name: String,
    /// Where it runs.
    pub source: PipelineSource,
    /// Detector interval.
    pub check_every: Option<Duration>,
    /// Stuck-run bound, in multiples of the recent successful runs' p95 duration.
    pub stuck_factor: f64,
    /// Team rule files.
    pub rules: Vec<PathBuf>,
    /// The artifact store to probe.
    pub artifact_store: Option<String>,
}
