//! The convention of Warden's JSON evidence artifacts: each carries a `kind` (how judges find
//! it among the artifacts of a cause's `evidence_from` steps) and is named after that kind.

use serde_json::{Value, json};
use warden_engine::executor::Collected;
use warden_engine::judge::JudgeRequest;

/// A JSON evidence artifact with its `kind` (how judges find it), named after the kind.
pub fn artifact(kind: &str, summary: String, source: String, mut body: Value) -> Collected {
    body["kind"] = json!(kind);
    Collected {
        summary,
        name: format!("{}.json", kind.replace('_', "-")),
        media_type: "application/json".into(),
        source,
        bytes: serde_json::to_vec_pretty(&body).unwrap_or_default(),
    }
}

/// The artifact of `kind` among a judge's evidence.
pub fn of_kind(request: &JudgeRequest, kind: &str) -> Option<Value> {
    request
        .all_json()
        .into_iter()
        .find(|artifact| artifact["kind"] == kind)
}
