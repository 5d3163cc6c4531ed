//! Validation of `pipelines:` (see [`crate::pipelines`]).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::Checker;
use crate::pipelines::{PipelineConfig, PipelineSource, RawPipeline};

impl Checker<'_> {
    pub(super) fn pipelines(
        &mut self,
        raw: &[Spanned<RawPipeline>],
        have_airflow: bool,
        have_kfp: bool,
    ) -> Vec<PipelineConfig> {
        let mut names = BTreeSet::new();
        let mut pipelines = Vec::new();
        for (index, spanned) in raw.iter().enumerate() {
            let pipeline = &spanned.value;
            let at = |field: &str| format!("pipelines[{index}].{field}");
            let name = self.text(&at("name"), &pipeline.name);
            if !names.insert(name.clone()) {
                self.error(
                    &pipeline.name,
                    &at("name"),
                    format!("{name:?} is listed twice"),
                );
            }
            let source = match (&pipeline.airflow_dag, &pipeline.kfp) {
                (Some(dag), None) => {
                    if !have_airflow {
                        self.error(dag, &at("airflow_dag"), "needs connectors.airflow");
                    }
                    PipelineSource::Airflow {
                        dag: self.text(&at("airflow_dag"), dag),
                    }
                }
                (None, Some(kfp)) => {
                    if !have_kfp {
                        self.error(kfp, &at("kfp"), "needs connectors.kfp");
                    }
                    let experiment_id = kfp
                        .value
                        .experiment_id
                        .as_ref()
                        .map(|id| self.text(&at("kfp.experiment_id"), id));
                    let recurring_run_id = kfp
                        .value
                        .recurring_run_id
                        .as_ref()
                        .map(|id| self.text(&at("kfp.recurring_run_id"), id));
                    if experiment_id.is_none() && recurring_run_id.is_none() {
                        self.error(
                            kfp,
                            &at("kfp"),
                            "name experiment_id or recurring_run_id (or both): which runs are this pipeline's",
                        );
                    }
                    PipelineSource::Kfp {
                        experiment_id,
                        recurring_run_id,
                    }
                }
                (Some(dag), Some(_)) => {
                    self.error(
                        dag,
                        &at("airflow_dag"),
                        "give airflow_dag or kfp, not both: a pipeline runs in one place",
                    );
                    PipelineSource::Airflow {
                        dag: dag.value.clone(),
                    }
                }
                (None, None) => {
                    self.error(
                        &pipeline.name,
                        &at("airflow_dag"),
                        "where does it run? give airflow_dag (an Airflow DAG) or kfp (Kubeflow Pipelines runs)",
                    );
                    PipelineSource::Airflow { dag: String::new() }
                }
            };
            let check_every = self.bounded_duration(
                &at("check_every"),
                pipeline.check_every.as_ref(),
                Duration::from_secs(86_400),
            );
            let stuck_factor = match &pipeline.stuck_factor {
                None => 3.0,
                Some(v) if v.value > 1.0 && v.value.is_finite() => v.value,
                Some(v) => {
                    self.error(v, &at("stuck_factor"), "must be a number above 1");
                    3.0
                }
            };
            let rules = pipeline
                .rules
                .iter()
                .enumerate()
                .map(|(i, file)| self.path(&at(&format!("rules[{i}]")), file))
                .collect();
            let artifact_store = pipeline.artifact_store.as_ref().map(|url| {
                let text = self.text(&at("artifact_store"), url);
                if !text.starts_with("s3://") {
                    self.error(url, &at("artifact_store"), "an s3://bucket/prefix URL");
                }
                text
            });
            pipelines.push(PipelineConfig {
                name,
                source,
                check_every,
                stuck_factor,
                rules,
                artifact_store,
            });
        }
        pipelines
    }
}
