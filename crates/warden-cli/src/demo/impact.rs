//! The demo's ML-impact estimators for the incidents whose systems it replays as series (the
//! model regression is measured by runbook 5's own estimator on the simulated prediction
//! logs): what each cost, measured on the week's own data — requests and their errors and
//! latency, feature freshness, the training runs — through the same estimator interface the
//! daemon's modules use on Prometheus, prediction logs and run history. Every figure names the
//! replayed series or runs it came from.

use std::collections::BTreeMap;
use std::sync::Arc;

use warden_core::{Incident, RunbookId, Timestamp};
use warden_detect::Sample;
use warden_engine::executor::BoxFuture;
use warden_engine::impact::{Figure, ImpactEstimator, ImpactWindow, count};
use warden_engine::registry::Registries;

use super::scenario::{PipelineRun, TICK_MINUTES, Week};

/// The freshness SLA of the demo's feature view.
const FRESHNESS_SLA_MINUTES: f64 = 15.0;

/// Registers one estimator per replayed runbook, each reading the replayed week.
pub fn register(registries: &mut Registries, week: &Week) {
    let data = Arc::new(Replayed {
        series: week.series.clone(),
        runs: week.runs.clone(),
    });
    for runbook in [RunbookId::PIPELINE_FAILURE, RunbookId::FEATURE_STORE] {
        registries.runbook(runbook).impact(Arc::new(ReplayedImpact {
            runbook,
            data: data.clone(),
        }));
    }
}

struct Replayed {
    series: BTreeMap<&'static str, Vec<Sample>>,
    runs: Vec<PipelineRun>,
}

impl Replayed {
    /// The samples of `name` in `[from, to)`.
    fn within(&self, name: &str, from: Timestamp, to: Timestamp) -> Vec<&Sample> {
        self.series
            .get(name)
            .map(|samples| {
                samples
                    .iter()
                    .filter(|s| s.at >= from && s.at < to)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Requests served in each tick of `[from, to)`, with the tick's time.
    fn requests(&self, from: Timestamp, to: Timestamp) -> Vec<(Timestamp, f64)> {
        self.within("requests_per_minute", from, to)
            .into_iter()
            .map(|s| (s.at, s.value * TICK_MINUTES as f64))
            .collect()
    }

    /// The value of series `name` at `at` (the tick's sample).
    fn at(&self, name: &str, at: Timestamp) -> Option<f64> {
        self.series
            .get(name)?
            .iter()
            .find(|s| s.at == at)
            .map(|s| s.value)
    }
}

struct ReplayedImpact {
    runbook: &'static str,
    data: Arc<Replayed>,
}

fn minutes(from: Timestamp, to: Timestamp) -> String {
    let total = (to - from).num_minutes().max(0);
    if total >= 60 {
        format!("{} h {:02} min", total / 60, total % 60)
    } else {
        format!("{total} min")
    }
}

impl ReplayedImpact {
    fn figures(&self, window: ImpactWindow) -> Vec<Figure> {
        let data = &self.data;
        let (from, to) = (window.from, window.to);
        let requests = data.requests(from, to);
        let during = |name: &str| format!("replayed series {name}, {} – {}", day(from), day(to));
        match self.runbook {
            RunbookId::FEATURE_STORE => {
                let stale: f64 = requests
                    .iter()
                    .filter(|(at, _)| {
                        data.at("feature_freshness_minutes", *at).unwrap_or(0.0)
                            > FRESHNESS_SLA_MINUTES
                    })
                    .map(|(_, n)| n)
                    .sum();
                let worst = data
                    .within("feature_freshness_minutes", from, to)
                    .iter()
                    .map(|s| s.value)
                    .fold(0.0, f64::max);
                vec![
                    Figure::new(
                        "predictions served with features older than the 15 min SLA",
                        count(stale),
                        during("requests_per_minute where feature_freshness_minutes > 15"),
                    ),
                    Figure::new(
                        "oldest features served",
                        format!("{worst:.0} min"),
                        during("feature_freshness_minutes"),
                    ),
                ]
            }
            _ => self.pipeline(window),
        }
    }

    /// Runs that failed in the day before the incident closed, the training time they lost
    /// and how late the next good model came.
    fn pipeline(&self, window: ImpactWindow) -> Vec<Figure> {
        let failed: Vec<&PipelineRun> = self
            .data
            .runs
            .iter()
            .filter(|run| run.error.is_some())
            .filter(|run| {
                run.at <= window.to && run.at >= window.from - chrono::Duration::hours(24)
            })
            .collect();
        let lost: i64 = failed
            .iter()
            .filter_map(|run| scheduled(&run.run_id).map(|start| (run.at - start).num_minutes()))
            .sum();
        let mut figures = vec![
            Figure::new(
                "training runs failed",
                failed.len().to_string(),
                "replayed run history (demand_forecast_training)",
            ),
            Figure::new(
                "training time lost (scheduled start to failure)",
                minutes(window.from, window.from + chrono::Duration::minutes(lost)),
                "replayed run history: run ids' scheduled times and failure times",
            ),
        ];
        if let Some(first) = failed.first()
            && let Some(rerun) = self
                .data
                .runs
                .iter()
                .find(|run| run.error.is_none() && run.at > first.at)
        {
            figures.push(Figure::new(
                "delay of the day's model (failure to the next good run)",
                minutes(first.at, rerun.at),
                format!("replayed run history: {} → {}", first.run_id, rerun.run_id),
            ));
        }
        figures
    }
}

/// The scheduled start in an Airflow run id (`scheduled__2026-11-18T02:00:00`).
fn scheduled(run_id: &str) -> Option<Timestamp> {
    let stamp = run_id.split("__").nth(1)?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|naive| naive.and_utc())
}

fn day(at: Timestamp) -> String {
    at.format("%a %H:%M").to_string()
}

impl ImpactEstimator for ReplayedImpact {
    fn source(&self) -> String {
        "the replayed week".into()
    }

    fn estimate<'a>(
        &'a self,
        _incident: &'a Incident,
        window: ImpactWindow,
    ) -> BoxFuture<'a, Result<Vec<Figure>, String>> {
        Box::pin(async move { Ok(self.figures(window)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_give_their_schedule() {
        assert_eq!(
            scheduled("scheduled__2026-11-18T02:00:00").map(|t| t.to_rfc3339()),
            Some("2026-11-18T02:00:00+00:00".to_string())
        );
        assert_eq!(scheduled("manual"), None);
    }
}
