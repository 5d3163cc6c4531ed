//! The daemon's scheduled detectors: each evaluates its PromQL expression every `every`,
//! feeds the worst value of the result to a sustained-threshold detector, and turns a breach
//! into a finding for the incident manager. Failures (Prometheus down, a bad query) are
//! counted and retried on the next beat; they never stop the daemon.

use std::collections::BTreeMap;
use std::sync::Arc;

use warden_config::DetectorConfig;
use warden_connect::PrometheusClient;
use warden_core::{Clock, Finding, RunbookId};
use warden_detect::threshold::SustainedThreshold;
use warden_detect::{Direction, Sample};
use warden_server::AppState;

/// The value a result stands for: its worst series (highest for `above`, lowest for `below`).
fn worst(series: &[warden_connect::prometheus::Series], above: bool) -> Option<f64> {
    series
        .iter()
        .filter_map(|series| series.points.last().map(|(_, value)| *value))
        .filter(|value| value.is_finite())
        .reduce(|a, b| if above == (b > a) { b } else { a })
}

/// Runs one detector until the daemon stops.
pub async fn run(
    detector: DetectorConfig,
    client: PrometheusClient,
    state: AppState,
    verbose: bool,
) {
    let direction = if detector.above {
        Direction::Above
    } else {
        Direction::Below
    };
    let mut threshold = SustainedThreshold::new(direction, detector.threshold, detector.sustain);
    let clock: Arc<dyn Clock> = state.manager.clock().clone();
    loop {
        let now = clock.now();
        match client.query(&detector.query, Some(now)).await {
            Ok(series) => {
                state.metrics.detector_run(&detector.name, true);
                if let Some(value) = worst(&series, detector.above)
                    && let Some(breach) = threshold.observe(Sample::new(now, value))
                {
                    let side = if detector.above { ">" } else { "<" };
                    let finding = Finding {
                        runbook: RunbookId::new(detector.runbook.clone()),
                        target: detector.target.clone(),
                        detector: detector.name.clone(),
                        severity: detector.severity,
                        summary: format!(
                            "{}: {:.4} {side} {} since {}",
                            detector.name,
                            breach.latest,
                            detector.threshold,
                            breach.since.format("%H:%M:%S UTC")
                        ),
                        detected_at: now,
                        measurements: BTreeMap::from([
                            ("value".to_string(), breach.latest),
                            ("worst".to_string(), breach.worst),
                            ("threshold".to_string(), detector.threshold),
                        ]),
                        cause_key: None,
                    };
                    report(&state, &detector.name, &finding, verbose).await;
                }
            }
            Err(err) => {
                state.metrics.detector_run(&detector.name, false);
                if verbose {
                    eprintln!("warden: detector {} failed: {err}", detector.name);
                }
            }
        }
        tokio::time::sleep(detector.every).await;
    }
}

/// Records a detector's finding (opening, attaching to or reopening its incident) and
/// advances the incident's runbook; failures are counted out and, in text mode, said.
pub async fn report(state: &AppState, detector: &str, finding: &Finding, verbose: bool) {
    match state.manager.ingest(finding).await {
        Ok(ingested) => {
            state.metrics.detector_findings(detector);
            if let Err(err) = state.advance(ingested.incident()).await
                && verbose
            {
                eprintln!("warden: advancing {} failed: {err}", ingested.incident());
            }
        }
        Err(err) if verbose => {
            eprintln!("warden: detector {detector} could not record its finding: {err}");
        }
        Err(_) => {}
    }
}
