//! Judges that decide from the captured evidence alone, with no I/O: a module writes its
//! `decide(&self, request)` and [`from_evidence`] turns its judges into a registry, so no
//! module repeats the `CauseJudge` plumbing.

use std::sync::Arc;

use warden_engine::executor::BoxFuture;
use warden_engine::judge::{CauseJudge, JudgeRegistry, JudgeRequest, Judgement};

/// A module's judge and the function that decides with it.
struct EvidenceJudge<J> {
    judge: J,
    decide: fn(&J, &JudgeRequest) -> Option<Judgement>,
}

impl<J: Send + Sync> CauseJudge for EvidenceJudge<J> {
    fn judge<'a>(
        &'a self,
        request: &'a JudgeRequest,
    ) -> BoxFuture<'a, Result<Option<Judgement>, String>> {
        Box::pin(async move { Ok((self.decide)(&self.judge, request)) })
    }
}

/// The registry of `judges` by cause name, each deciding with `decide`.
pub fn from_evidence<J: Send + Sync + 'static>(
    judges: impl IntoIterator<Item = (&'static str, J)>,
    decide: fn(&J, &JudgeRequest) -> Option<Judgement>,
) -> JudgeRegistry {
    judges
        .into_iter()
        .map(|(name, judge)| {
            let judge: Arc<dyn CauseJudge> = Arc::new(EvidenceJudge { judge, decide });
            (name.to_string(), judge)
        })
        .collect()
}
