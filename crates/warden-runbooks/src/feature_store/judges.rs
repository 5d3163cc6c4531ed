//! Runbook 4's cause judges: each finds its artifacts among its `evidence_from` steps by their
//! `kind` and applies the matching rule of `warden_feast::causes`. Evidence that cannot tell
//! (an unreachable store's memory, a schema check with nothing to check) leaves the cause to a
//! responder.

use warden_engine::judge::{JudgeRegistry, JudgeRequest};
use warden_feast::causes::{self, Verdict};

use crate::common::artifacts::of_kind;
use crate::common::judges::from_evidence;

/// Which cause.
#[derive(Clone, Copy)]
enum Cause {
    OnlineStoreCapacity,
    MaterializationLoad,
    MaterializationFailed,
    OnlineStoreThrottled,
    NetworkPartition,
    SchemaMismatch,
}

struct Judge {
    cause: Cause,
}

impl Judge {
    fn decide(&self, request: &JudgeRequest) -> Option<Verdict> {
        let health = of_kind(request, "online_store_health");
        let runs = of_kind(request, "materialization_status");
        match self.cause {
            Cause::OnlineStoreCapacity => causes::online_store_capacity(&health?),
            Cause::OnlineStoreThrottled => causes::online_store_throttled(&health?),
            Cause::NetworkPartition => causes::network_partition(&health?),
            Cause::SchemaMismatch => causes::schema_mismatch(&of_kind(request, "schema_check")?),
            Cause::MaterializationFailed => causes::materialization_failed(
                runs.as_ref(),
                of_kind(request, "feature_freshness").as_ref(),
            ),
            Cause::MaterializationLoad => {
                causes::materialization_load(runs.as_ref(), health.as_ref())
            }
        }
    }
}

/// The catalogue causes this module judges.
pub const NAMES: [&str; 6] = [
    "online_store_capacity",
    "materialization_load",
    "materialization_failed",
    "online_store_throttled",
    "network_partition",
    "schema_mismatch",
];

/// Runbook 4's judges by cause name.
pub fn judges() -> JudgeRegistry {
    let causes = [
        Cause::OnlineStoreCapacity,
        Cause::MaterializationLoad,
        Cause::MaterializationFailed,
        Cause::OnlineStoreThrottled,
        Cause::NetworkPartition,
        Cause::SchemaMismatch,
    ];
    from_evidence(
        NAMES.into_iter().zip(causes.map(|cause| Judge { cause })),
        Judge::decide,
    )
}
