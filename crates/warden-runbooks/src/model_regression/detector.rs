//! Runbook 5's detector: every model with `check_every`, its logs joined to the actuals and
//! the newest version tested against the one before it (significant *and* at least
//! `min_effect` worse), one finding while the newest version still serves.

use std::sync::Arc;
use std::time::Duration;

use warden_config::ModelConfig;
use warden_core::{Finding, Timestamp};
use warden_engine::detect::{DetectError, Detector};
use warden_engine::executor::BoxFuture;

use super::{Models, analyse_async, finding};

/// One model's regression check.
pub struct RegressionDetector {
    name: String,
    models: Arc<Models>,
    model: ModelConfig,
    every: Duration,
}

/// A detector for every model with `check_every`.
pub fn detectors(models: &Arc<Models>) -> Vec<Box<dyn Detector>> {
    models
        .models
        .iter()
        .filter_map(|model| {
            let detector: Box<dyn Detector> = Box::new(RegressionDetector {
                name: format!("model_regression:{}", model.name),
                models: models.clone(),
                model: model.clone(),
                every: model.check_every?,
            });
            Some(detector)
        })
        .collect()
}

impl Detector for RegressionDetector {
    fn name(&self) -> &str {
        &self.name
    }

    fn every(&self) -> Duration {
        self.every
    }

    fn check<'a>(&'a mut self, now: Timestamp) -> BoxFuture<'a, Result<Vec<Finding>, DetectError>> {
        Box::pin(async move {
            let analysis = analyse_async(&self.models, &self.model, now)
                .await
                .map_err(DetectError::Invalid)?;
            Ok(finding(&self.model, &analysis, now).into_iter().collect())
        })
    }
}
