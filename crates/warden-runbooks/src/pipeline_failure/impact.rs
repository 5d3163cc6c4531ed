//! Runbook 1's ML impact, from the orchestrator's run history: the runs that failed from a day
//! before the incident to its end, the compute time they spent before failing, and how long
//! the pipeline went without a good run (the model it trains was that much staler).

use std::sync::Arc;

use chrono::Duration;
use warden_core::Incident;
use warden_engine::executor::BoxFuture;
use warden_engine::impact::{Figure, ImpactEstimator, ImpactWindow};

use super::Pipelines;
use super::source::{PipelineRun, RunState};

/// Runs read from the history, newest first.
const HISTORY: usize = 50;

/// Measures a failing pipeline's cost from its run history.
pub struct PipelineImpact {
    /// The module's shared state.
    pub pipelines: Arc<Pipelines>,
}

fn hours(duration: Duration) -> String {
    let minutes = duration.num_minutes().max(0);
    if minutes >= 60 {
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    } else {
        format!("{minutes} min")
    }
}

/// The figures for `runs` (newest first) over `window`; `incident_run` is the run the incident
/// opened for, which may have been rerun in place since (Airflow clears a run and runs it
/// again under the same id), so the history no longer shows it failed.
pub fn figures(
    runs: &[PipelineRun],
    window: ImpactWindow,
    source: &str,
    incident_run: Option<&str>,
) -> Vec<Figure> {
    let since = window.from - Duration::hours(24);
    let failed: Vec<&PipelineRun> = runs
        .iter()
        .filter(|run| run.state == RunState::Failed)
        .filter(|run| {
            run.ended
                .or(run.started)
                .is_some_and(|at| at >= since && at <= window.to)
        })
        .collect();
    let rerun_in_place = incident_run
        .and_then(|id| runs.iter().find(|run| run.id == id))
        .filter(|run| run.state != RunState::Failed);
    if failed.is_empty() && rerun_in_place.is_none() {
        return Vec::new();
    }
    let mut figures = vec![Figure::new(
        "runs failed (from 24 h before the incident to its end)",
        (failed.len() + usize::from(rerun_in_place.is_some())).to_string(),
        match rerun_in_place {
            Some(run) => format!("{source} (run {} failed, then was rerun in place)", run.id),
            None => source.to_string(),
        },
    )];
    if !failed.is_empty() {
        let spent = failed
            .iter()
            .filter_map(|run| Some(run.ended? - run.started?))
            .fold(Duration::zero(), |total, d| total + d);
        figures.push(Figure::new(
            "compute time the failed runs spent before failing",
            hours(spent),
            format!("{source}: start to end of each failed run"),
        ));
    }
    // The pipeline went without a good run from its first failure (or, for a run rerun in
    // place, from the incident's opening) to the next success.
    let first = failed
        .iter()
        .filter_map(|run| run.started)
        .min()
        .map_or(window.from, |start| start.min(window.from));
    let recovered = runs
        .iter()
        .filter(|run| run.state == RunState::Succeeded)
        .filter_map(|run| run.ended)
        .filter(|ended| *ended > first)
        .min();
    let (until, what) = match recovered {
        Some(ended) => (
            ended,
            "time without a good run (first failure to the next success)",
        ),
        None => (
            window.to,
            "time without a good run (first failure to now: none since)",
        ),
    };
    figures.push(Figure::new(
        what,
        hours(until - first),
        format!("{source}: run start and end times"),
    ));
    figures
}

/// The run an incident opened for, named in its title (`… run ID failed (tasks: …)`).
fn run_of(incident: &Incident, runs: &[PipelineRun]) -> Option<String> {
    runs.iter()
        .find(|run| incident.title.contains(&format!(" run {} ", run.id)))
        .map(|run| run.id.clone())
}

impl ImpactEstimator for PipelineImpact {
    fn source(&self) -> String {
        "the orchestrator's run history".into()
    }

    fn estimate<'a>(
        &'a self,
        incident: &'a Incident,
        window: ImpactWindow,
    ) -> BoxFuture<'a, Result<Vec<Figure>, String>> {
        Box::pin(async move {
            let Ok(pipeline) = self.pipelines.pipeline(&incident.target) else {
                return Ok(Vec::new());
            };
            let source = self
                .pipelines
                .source(pipeline)
                .await
                .map_err(|err| err.message)?;
            let runs = source
                .recent_runs(HISTORY)
                .await
                .map_err(|err| err.message)?;
            let incident_run = run_of(incident, &runs);
            Ok(figures(
                &runs,
                window,
                &format!("run history of {}", source.describe()),
                incident_run.as_deref(),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use warden_core::Timestamp;

    fn at(hour: u32, minute: u32) -> Timestamp {
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 18, hour, minute, 0)
            .unwrap()
    }

    fn run(id: &str, state: RunState, started: Timestamp, ended: Timestamp) -> PipelineRun {
        PipelineRun {
            id: id.into(),
            state,
            started: Some(started),
            ended: Some(ended),
            scheduled: true,
        }
    }

    #[test]
    fn failed_runs_their_time_and_the_gap_to_the_next_success_are_counted() {
        let runs = vec![
            run("rerun", RunState::Succeeded, at(6, 0), at(6, 40)),
            run("retry", RunState::Failed, at(3, 0), at(3, 10)),
            run("nightly", RunState::Failed, at(2, 0), at(2, 35)),
            run("old", RunState::Succeeded, at(1, 0), at(1, 30)),
        ];
        let window = ImpactWindow {
            from: at(2, 35),
            to: at(7, 0),
            contained: None,
        };
        let figures = figures(&runs, window, "run history of DAG train", None);
        let values: Vec<(&str, &str)> = figures
            .iter()
            .map(|f| (f.what.as_str(), f.value.as_str()))
            .collect();
        assert_eq!(
            values[0],
            (
                "runs failed (from 24 h before the incident to its end)",
                "2"
            )
        );
        assert_eq!(values[1].1, "45 min");
        assert_eq!(
            values[2],
            (
                "time without a good run (first failure to the next success)",
                "4 h 40 min"
            )
        );
        let nothing = super::figures(&runs[..1], window, "x", None);
        assert!(nothing.is_empty(), "no failure, nothing to say");
        // The incident's run was cleared and rerun under its id: still one failed run.
        let rerun = vec![run("nightly", RunState::Succeeded, at(6, 0), at(6, 40))];
        let figures = super::figures(&rerun, window, "run history of DAG train", Some("nightly"));
        assert_eq!(figures[0].value, "1");
        assert!(
            figures[0]
                .source
                .contains("run nightly failed, then was rerun in place")
        );
        assert_eq!(figures[1].value, "4 h 05 min");
    }
}
