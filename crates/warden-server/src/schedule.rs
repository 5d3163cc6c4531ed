//! The daemon's one scheduling loop for every runbook module's detectors: each detector runs
//! on its own beat with the engine's clock, its findings open, attach to or reopen incidents
//! through the incident manager and advance their runbooks, and every run and finding is
//! counted in `/metrics`. A failing beat (a source down, a bad query) is counted and retried
//! on the next one; it never stops the daemon.

use warden_core::Finding;
use warden_engine::detect::Detector;

use crate::AppState;

/// Runs `detector` until the task is aborted.
pub async fn run_detector(mut detector: Box<dyn Detector>, state: AppState, verbose: bool) {
    loop {
        beat(detector.as_mut(), &state, verbose).await;
        tokio::time::sleep(detector.every()).await;
    }
}

/// One beat of `detector` at the engine clock's now (only on the leader replica).
pub async fn beat(detector: &mut dyn Detector, state: &AppState, verbose: bool) {
    if !state.leads() {
        return;
    }
    let now = state.manager().clock().now();
    match detector.check(now).await {
        Ok(findings) => {
            state.metrics.detector_run(detector.name(), true);
            for finding in findings {
                report(state, detector.name(), &finding, verbose).await;
            }
        }
        Err(err) => {
            state.metrics.detector_run(detector.name(), false);
            if verbose {
                eprintln!("warden: detector {} failed: {err}", detector.name());
            }
        }
    }
}

/// Records a detector's finding (opening, attaching to or reopening its incident) and
/// advances the incident's runbook; failures are counted out and, in text mode, said.
pub async fn report(state: &AppState, detector: &str, finding: &Finding, verbose: bool) {
    match state.manager().ingest(finding).await {
        Ok(ingested) => {
            state.metrics.detector_findings(detector);
            state.metrics.finding(&ingested);
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
