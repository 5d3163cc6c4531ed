//! Runbook 5's cause judges: each finds its artifacts among its `evidence_from` steps by
//! their `kind` and applies the rule of `warden_eval::causes`. Missing evidence (a collector
//! failed, no training data configured) leaves the cause to a responder.

use warden_engine::judge::{JudgeRegistry, JudgeRequest};
use warden_eval::causes::{self, Verdict};

use crate::common::artifacts::of_kind;
use crate::common::judges::from_evidence;

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

/// The catalogue causes this module judges.
pub const NAMES: [&str; 4] = [
    "training_serving_skew",
    "overfitting",
    "concept_drift",
    "data_quality",
];

/// Runbook 5's judges by cause name.
pub fn judges() -> JudgeRegistry {
    let causes = [
        Cause::TrainingServingSkew,
        Cause::Overfitting,
        Cause::ConceptDrift,
        Cause::DataQuality,
    ];
    from_evidence(
        NAMES.into_iter().zip(causes.map(|cause| Judge { cause })),
        Judge::decide,
    )
}
