//! Runbook 5's cause judges: each finds its artifacts among its `evidence_from` steps by
//! their `kind` and applies the rule of `warden_eval::causes`. Missing evidence (a collector
//! failed, no training data configured) leaves the cause to a responder.

use warden_engine::executor::BoxFuture;
use warden_engine::judge::{CauseJudge, JudgeRegistry, JudgeRequest, Judgement};
use warden_eval::causes::{self, Verdict};

use crate::common::artifacts::of_kind;

/// Which cause.
#[derive(Clone, Copy)]
enum Cause {
    TrainingServingSkew,
    Overfitting,
    ConceptDrift,
    DataQuality,
}

struct Judge {
    cause: Cause,
}

impl Judge {
    fn decide(&self, request: &JudgeRequest) -> Option<Verdict> {
        let validate = of_kind(request, "validate_data");
        match self.cause {
            Cause::TrainingServingSkew => causes::training_serving_skew(validate.as_ref()?),
            Cause::DataQuality => causes::data_quality(validate.as_ref()?),
            Cause::Overfitting => causes::overfitting(
                &of_kind(request, "registry_metadata")?,
                &of_kind(request, "evaluate_model")?,
                validate.as_ref(),
            ),
            Cause::ConceptDrift => causes::concept_drift(
                &of_kind(request, "compare_predictions")?,
                &of_kind(request, "evaluate_model")?,
                validate.as_ref(),
                of_kind(request, "registry_metadata").as_ref(),
            ),
        }
    }
}

impl CauseJudge for Judge {
    fn judge<'a>(
        &'a self,
        request: &'a JudgeRequest,
    ) -> BoxFuture<'a, Result<Option<Judgement>, String>> {
        Box::pin(async move { Ok(self.decide(request)) })
    }
}

/// The catalogue causes this module judges.
pub const NAMES: [&str; 4] = [
    "training_serving_skew",
    "overfitting",
    "concept_drift",
    "data_quality",
];

/// Runbook 5's judges by cause name.
pub fn judges() -> JudgeRegistry {
    let mut registry = JudgeRegistry::new();
    for (name, cause) in [
        ("training_serving_skew", Cause::TrainingServingSkew),
        ("overfitting", Cause::Overfitting),
        ("concept_drift", Cause::ConceptDrift),
        ("data_quality", Cause::DataQuality),
    ] {
        let judge: std::sync::Arc<dyn CauseJudge> = std::sync::Arc::new(Judge { cause });
        registry.insert(name.to_string(), judge);
    }
    registry
}
