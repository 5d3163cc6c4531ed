//! Runbook 5's ML impact, from the prediction logs joined to actuals: how many predictions the
//! regressed version made, its error against the version before it on the model's metric, and
//! for absolute errors the extra error its predictions carried in total — the same look at the
//! logs the detector and the judges take, so the numbers agree with the finding.

use std::sync::Arc;

use warden_core::Incident;
use warden_engine::executor::BoxFuture;
use warden_engine::impact::{Figure, ImpactEstimator, ImpactWindow, count};
use warden_eval::metrics::Metric;

use super::{Models, analyse_async};

/// Measures a regressed model's cost from its logs.
pub struct RegressionImpact {
    /// The module's shared state.
    pub models: Arc<Models>,
}

impl RegressionImpact {
    async fn figures(
        &self,
        incident: &Incident,
        window: ImpactWindow,
    ) -> Result<Vec<Figure>, String> {
        let Ok(model) = self.models.model(&incident.target) else {
            return Ok(Vec::new());
        };
        let analysis = analyse_async(&self.models, model, window.to).await?;
        let comparison = &analysis.comparison;
        let source = match &model.actuals {
            Some(actuals) => format!("{} joined to {actuals}", model.predictions),
            None => model.predictions.clone(),
        };
        let metric = comparison.metric.name();
        let mut figures = vec![
            Figure::new(
                format!("predictions by {} with actuals", analysis.candidate),
                count(comparison.candidate_rows as f64),
                source.clone(),
            ),
            Figure::new(
                format!(
                    "{metric} of {} vs {} before it",
                    analysis.candidate, analysis.baseline
                ),
                format!(
                    "{:.4} vs {:.4} ({:+.1}%, 95% interval {:+.1}% … {:+.1}%)",
                    comparison.candidate_value,
                    comparison.baseline_value,
                    comparison.relative_change * 100.0,
                    comparison.interval.0 * 100.0,
                    comparison.interval.1 * 100.0
                ),
                format!("{source}: {} test", comparison.method),
            ),
        ];
        if comparison.metric == Metric::Mae {
            let extra = (comparison.candidate_value - comparison.baseline_value)
                * comparison.candidate_rows as f64;
            figures.push(Figure::new(
                format!(
                    "extra absolute error carried by {}'s predictions (in the target's unit)",
                    analysis.candidate
                ),
                format!("{extra:.1}"),
                format!("{source}: (MAE difference) × predictions"),
            ));
        }
        if analysis.serving_now != analysis.candidate && !analysis.serving_now.is_empty() {
            figures.push(Figure::new(
                "version serving now",
                analysis.serving_now.clone(),
                format!("{}: the latest prediction", model.predictions),
            ));
        }
        Ok(figures)
    }
}

impl ImpactEstimator for RegressionImpact {
    fn source(&self) -> String {
        "the prediction logs and actuals".into()
    }

    fn estimate<'a>(
        &'a self,
        incident: &'a Incident,
        window: ImpactWindow,
    ) -> BoxFuture<'a, Result<Vec<Figure>, String>> {
        Box::pin(self.figures(incident, window))
    }
}
