//! Runbook 4's detector: Feast and Redis checked every `connectors.feast.check_every`; a
//! stale view, a failing online store or a failing feature server is one finding per project.

use std::time::Duration;

use warden_config::FeastConfig;
use warden_core::{Finding, Timestamp};
use warden_engine::detect::{DetectError, Detector};
use warden_engine::executor::BoxFuture;
use warden_feast::status::{self, FeastSources, StatusOptions};

use super::{finding, sources};

/// The feature-store check.
pub struct FeastDetector {
    sources: FeastSources,
    options: StatusOptions,
    every: Duration,
}

/// The detector `feast` asks for (`check_every`), if any.
///
/// # Errors
/// The Feast sources cannot be built (no registry, a bad URL, an unreadable password).
pub fn detectors(feast: &FeastConfig) -> Result<Option<Box<dyn Detector>>, String> {
    let Some(every) = feast.check_every else {
        return Ok(None);
    };
    Ok(Some(Box::new(FeastDetector {
        sources: sources(feast)?,
        options: StatusOptions {
            sla: feast.sla,
            ..StatusOptions::default()
        },
        every,
    })))
}

impl Detector for FeastDetector {
    fn name(&self) -> &str {
        "feature_store"
    }

    fn every(&self) -> Duration {
        self.every
    }

    fn check<'a>(&'a mut self, now: Timestamp) -> BoxFuture<'a, Result<Vec<Finding>, DetectError>> {
        Box::pin(async move {
            let found = status::collect(&self.sources, &self.options, now)
                .await
                .map_err(|err| DetectError::Unavailable(err.to_string()))?;
            Ok(finding(&found, now).into_iter().collect())
        })
    }
}
