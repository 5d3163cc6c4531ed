//! `pipelines:` — the pipelines runbook 1 watches: where they run (an Airflow DAG today;
//! Kubeflow Pipelines is client-only so far), how often Warden checks their runs, and the
//! team's own failure-classification rules.

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
    pub airflow_dag: Spanned<String>,
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

/// One watched pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineConfig {
    /// Its name.
    pub name: String,
    /// Its Airflow DAG.
    pub airflow_dag: String,
    /// Detector interval.
    pub check_every: Option<Duration>,
    /// Stuck-run bound, in multiples of the recent successful runs' p95 duration.
    pub stuck_factor: f64,
    /// Team rule files.
    pub rules: Vec<PathBuf>,
    /// The artifact store to probe.
    pub artifact_store: Option<String>,
}
