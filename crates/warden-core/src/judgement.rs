//! A decision about one cause of an incident, as every runbook's cause rules make it: confirmed
//! with a score (causes of one incident are ranked by it) or refuted, and why, citing the
//! evidence. The rules live with each runbook's logic (`warden-serving`, `warden-eval`,
//! `warden-feast`, the modules); the engine records the decision on the cause's step.

use serde::Serialize;

/// A judge's decision about one cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    /// Whether the evidence supports the cause.
    pub confirmed: bool,
    /// How strongly, 0–1 — causes of one incident are ranked by it.
    pub score: f64,
    /// Why, citing the evidence (and, for a confirmed cause, the fix it points to).
    pub explanation: String,
}

impl Judgement {
    /// A confirmed cause.
    pub fn confirmed(score: f64, explanation: impl Into<String>) -> Self {
        Self {
            confirmed: true,
            score: score.clamp(0.0, 1.0),
            explanation: explanation.into(),
        }
    }

    /// A refuted cause.
    pub fn refuted(explanation: impl Into<String>) -> Self {
        Self {
            confirmed: false,
            score: 0.0,
            explanation: explanation.into(),
        }
    }

    /// The note recorded on the step (`score` first, so a reader can rank causes).
    pub fn note(&self) -> String {
        if self.confirmed {
            format!("score {:.2}: {}", self.score, self.explanation)
        } else {
            self.explanation.clone()
        }
    }
}
