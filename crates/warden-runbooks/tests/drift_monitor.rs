//! Runbook 3's module on local data, without a daemon: a temporary threshold override is
//! recorded with who and why, survives a restart (a new assembly over the same data
//! directory), and ends by itself when the monitor's detector beats past its expiry (the
//! clock is the `now` the detector is given); bad input — a log prefix that does not exist,
//! logs without rows, a reference missing a column — is a clear error or finding naming the
//! path or column.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use warden_core::Timestamp;
use warden_core::{Actor, Finding, Incident, IncidentId, RunbookId, Severity};
use warden_data::write::write_parquet;
use warden_drift::synthetic::{Scenario, days, generate};
use warden_engine::executor::ActionRequest;
use warden_runbooks::drift_detector::{self, RUNBOOK, state::StateDir};

const MONDAY: i64 = 1_793_664_000_000; // 2026-11-02, a Monday

fn monitor_config(dir: &Path, predictions: &str, reference: &str) -> warden_config::Config {
    let text = format!(
        "data_dir: state\ndrift_monitors:\n  - name: demand\n    predictions: {predictions}\n    reference: {reference}\n    check_every: 1h\n"
    );
    std::fs::write(dir.join("warden.yaml"), &text).unwrap();
    warden_config::load(&dir.join("warden.yaml")).unwrap()
}

fn data(dir: &Path) {
    write_parquet(
        &dir.join("reference.parquet"),
        &generate(8_000, 1, MONDAY, days(14), Scenario::default()),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    write_parquet(
        &dir.join("logs/part-0.parquet"),
        &generate(2_000, 2, MONDAY + days(14), days(2), Scenario::default()),
    )
    .unwrap();
}

fn incident(at: Timestamp) -> Incident {
    let finding = Finding {
        runbook: RunbookId::new(RUNBOOK),
        target: warden_core::Target::new(warden_core::TargetKind::DriftMonitor, "demand"),
        detector: "drift_alert_rate".into(),
        severity: Severity::Medium,
        summary: "demand: 9 drift alerts".into(),
        detected_at: at,
        measurements: Default::default(),
        cause_key: Some(drift_detector::FALSE_POSITIVES.into()),
        alert: None,
    };
    Incident::open(IncidentId("INC-7".into()), &finding, at)
}

/// The approval of the threshold change by `who` for `why`, as the executor reads it.
fn approved(who: &str, why: &str, at: Timestamp) -> Option<warden_core::Approval> {
    Some(warden_core::Approval {
        incident_id: IncidentId("INC-7".into()),
        step: "threshold-change".into(),
        decision: warden_core::Decision::Approved,
        actor: Actor::User(who.into()),
        reason: why.into(),
        at,
    })
}

/// A data directory with the week's logs and reference, the monitor's configuration over it,
/// and the modules assembled from it.
fn assembled() -> (
    tempfile::TempDir,
    warden_config::Config,
    warden_runbooks::Assembly,
) {
    let dir = tempfile::tempdir().unwrap();
    data(dir.path());
    let config = monitor_config(dir.path(), "logs/", "reference.parquet");
    let runbooks = warden_runbook::builtin::all().unwrap();
    let assembly = warden_runbooks::assemble(&config, &runbooks).unwrap();
    (dir, config, assembly)
}

/// Runbook 3's `set_drift_threshold` handler as assembled.
fn set_threshold(
    assembly: &warden_runbooks::Assembly,
) -> std::sync::Arc<dyn warden_engine::executor::ActionHandler> {
    assembly
        .registries
        .for_runbook(RUNBOOK)
        .actions
        .get("set_drift_threshold")
        .unwrap()
        .clone()
}

fn request(incident: Incident, step: &str, params: serde_json::Value) -> ActionRequest {
    ActionRequest {
        incident,
        step: step.into(),
        params: serde_json::from_value(params).unwrap(),
        idempotency_key: format!("INC-7/{step}"),
        earlier_results: Default::default(),
        approval: None,
        now: chrono::Utc::now(),
    }
}

#[tokio::test]
async fn a_threshold_override_survives_a_restart_and_expires_by_itself() {
    let (_dir, config, assembly) = assembled();
    let runbooks = warden_runbook::builtin::all().unwrap();
    let set = set_threshold(&assembly);
    let now = chrono::Utc::now();
    let mut request = request(
        incident(now),
        "threshold-change",
        serde_json::json!({"expires_in": "1h", "factor": 3}),
    );
    request.approval = approved("ana", "weekend noise", now);
    let plan = set.plan(&request).await.unwrap();
    assert!(
        plan.starts_with("would multiply every minimum effect by 3"),
        "{plan}"
    );
    let done = set.execute(&request).await.unwrap();
    assert!(done.contains("by ana (weekend noise)"), "{done}");
    let again = set.execute(&request).await.unwrap();
    assert!(again.contains("already in force"), "{again}");

    // A restart: a new assembly over the same data directory finds the override in force.
    drop(assembly);
    let assembly = warden_runbooks::assemble(&config, &runbooks).unwrap();
    let states = StateDir::new(&config.data_dir);
    let state = states.load("demand").unwrap();
    let active = state
        .active_override(now)
        .expect("in force after the restart");
    assert_eq!((active.factor, active.set_by.as_str()), (3.0, "ana"));

    // The monitor's own detector, beating after the expiry, ends it.
    let mut detectors = assembly.detectors;
    let detector = detectors
        .iter_mut()
        .find(|d| d.name() == "drift_alert_rate:demand")
        .unwrap();
    detector
        .check(now + chrono::Duration::minutes(30))
        .await
        .unwrap();
    assert!(states.load("demand").unwrap().threshold_override.is_some());
    detector
        .check(now + chrono::Duration::hours(2))
        .await
        .unwrap();
    let state = states.load("demand").unwrap();
    assert!(state.threshold_override.is_none());
    assert!(state.ended_overrides[0].0.starts_with("expired at"));
    assert_eq!(
        state.runs.len(),
        2,
        "each beat is one of the monitor's runs"
    );

    // Reverting at closure after it expired says so and changes nothing.
    let revert = warden_runbooks::assemble(&config, &runbooks)
        .unwrap()
        .registries
        .for_runbook(RUNBOOK)
        .actions
        .get("revert_drift_threshold")
        .unwrap()
        .clone();
    let result = revert
        .execute(&ActionRequest {
            step: "revert-threshold".into(),
            ..request
        })
        .await
        .unwrap();
    assert!(result.contains("already ended (expired at"), "{result}");
}

/// Without an approval (a policy of `auto`), the override is Warden's, for the incident.
#[tokio::test]
async fn an_override_without_an_approval_is_warden_s() {
    let (_dir, config, assembly) = assembled();
    let set = set_threshold(&assembly);
    let now = chrono::Utc::now();
    let request = request(
        incident(now),
        "threshold-change",
        serde_json::json!({"expires_in": "1h", "factor": 2}),
    );
    let done = set.execute(&request).await.unwrap();
    assert!(
        done.contains("by warden (demand: 9 drift alerts)"),
        "{done}"
    );
    let state = StateDir::new(&config.data_dir).load("demand").unwrap();
    assert_eq!(state.active_override(now).unwrap().set_by, "warden");
}

#[tokio::test]
async fn bad_input_is_named_never_a_silent_pass() {
    let dir = tempfile::tempdir().unwrap();
    data(dir.path());
    let runbooks = warden_runbook::builtin::all().unwrap();
    let now = chrono::Utc::now();

    // A log prefix that does not exist: the beat fails naming it.
    let config = monitor_config(dir.path(), "nowhere/", "reference.parquet");
    let mut detectors = warden_runbooks::assemble(&config, &runbooks)
        .unwrap()
        .detectors;
    let error = detectors[0].check(now).await.unwrap_err().to_string();
    assert!(error.contains("nowhere"), "{error}");

    // Logs without rows: an empty window, named.
    std::fs::write(dir.path().join("empty.csv"), "ts,num_00\n").unwrap();
    let config = monitor_config(dir.path(), "empty.csv", "reference.parquet");
    let mut detectors = warden_runbooks::assemble(&config, &runbooks)
        .unwrap()
        .detectors;
    let error = detectors[0].check(now).await.unwrap_err().to_string();
    assert!(error.contains("empty.csv"), "{error}");

    // A reference missing a column: the drift report says which column was not tested.
    let columns: Vec<_> = generate(8_000, 1, MONDAY, days(14), Scenario::default())
        .into_iter()
        .filter(|c| c.name != "num_00")
        .collect();
    write_parquet(&dir.path().join("partial.parquet"), &columns).unwrap();
    let config = monitor_config(dir.path(), "logs/", "partial.parquet");
    let assembly = warden_runbooks::assemble(&config, &runbooks).unwrap();
    let collector = assembly
        .registries
        .for_runbook(RUNBOOK)
        .collectors
        .get("drift_report")
        .unwrap()
        .clone();
    let collected = collector
        .collect(&request(
            incident(now),
            "drift-report",
            serde_json::json!({}),
        ))
        .await
        .unwrap();
    assert!(
        collected
            .summary
            .contains("not tested: num_00 (skipped: not in the reference)"),
        "{}",
        collected.summary
    );
}

/// The post-mortem's ML impact for a monitor Warden runs: its runs that raised drift while the
/// incident was open and the retrainings held for review, read from the monitor's state.
#[tokio::test]
async fn the_impact_counts_the_drift_runs_and_held_retrainings_of_the_incident() {
    let (_dir, config, assembly) = assembled();
    let estimators = &assembly.registries.for_runbook(RUNBOOK).impact;
    assert_eq!(estimators.len(), 1);
    let now = chrono::Utc::now();
    let states = StateDir::new(&config.data_dir);
    let mut state = states.load("demand").unwrap();
    for (hours_ago, drifted) in [(30, true), (3, true), (2, false), (1, true)] {
        state.runs.push(drift_detector::state::MonitorRun {
            at: now - chrono::Duration::hours(hours_ago),
            drifted,
            columns: vec!["price".into()],
        });
    }
    states.save("demand", &state).unwrap();
    let mut incident = incident(now - chrono::Duration::hours(4));
    incident.resolved_at = Some(now);
    let impact = warden_engine::impact::measure(estimators, &incident, now).await;
    assert!(impact.problems.is_empty(), "{impact:?}");
    assert_eq!(
        impact.figures[0].what,
        "monitor runs that raised drift while the incident was open"
    );
    assert_eq!(
        impact.figures[0].value, "2 of 3",
        "the run 30 h ago is outside"
    );
    assert!(impact.figures[0].source.contains("monitor demand"));
}

/// Collectors ask the engine's time, not the wall clock: an incident replayed at its own
/// moment (the demo's week) counts the monitor's alerts before that moment.
#[tokio::test]
async fn the_alert_history_is_taken_at_the_engines_time() {
    let (_dir, config, assembly) = assembled();
    let then = chrono::Utc::now() - chrono::Duration::days(20);
    let states = StateDir::new(&config.data_dir);
    let mut state = states.load("demand").unwrap();
    for minutes_ago in [50, 40, 30, 20, 10] {
        state.runs.push(drift_detector::state::MonitorRun {
            at: then - chrono::Duration::minutes(minutes_ago),
            drifted: true,
            columns: vec!["price".into()],
        });
    }
    states.save("demand", &state).unwrap();
    let collector = assembly
        .registries
        .for_runbook(RUNBOOK)
        .collectors
        .get("alert_history")
        .unwrap()
        .clone();
    let mut at_then = request(incident(then), "alert-history", serde_json::json!({}));
    at_then.now = then;
    let collected = collector.collect(&at_then).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&collected.bytes).unwrap();
    assert_eq!(body["recent_alerts"], 5.0, "{body:#}");
    // The same history asked at the wall clock's now: nothing recent.
    let collected = collector
        .collect(&request(
            incident(then),
            "alert-history",
            serde_json::json!({}),
        ))
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&collected.bytes).unwrap();
    assert_eq!(body["recent_alerts"], 0.0, "{body:#}");
}
