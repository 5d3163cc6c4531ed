//! The retraining Warden's own drift monitor starts (runbook 3, R3.6): without a review, the
//! start of a drift episode tells the retraining webhook to retrain, once per episode; with
//! `retraining.review` (or the `require_retraining_review` fix), an episode opens one review
//! that counts the alerts after it, nothing is started until a person says yes, a yes starts
//! retraining once, and a no after a yes is refused. The webhook is a real HTTP server on
//! loopback that records what it is told.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use serde_json::Value;
use warden_core::{Finding, Incident, IncidentId, RunbookId, Severity, Timestamp};
use warden_data::write::write_parquet;
use warden_drift::synthetic::{Scenario, days, generate};
use warden_engine::detect::Detector;
use warden_engine::executor::ActionRequest;
use warden_engine::review::{ReviewDecision, ReviewError, ReviewState};
use warden_runbooks::drift_detector::{self, RUNBOOK, state::StateDir};

const MONDAY: i64 = 1_793_664_000_000; // 2026-11-02, a Monday

type Told = Arc<Mutex<Vec<Value>>>;

/// A retraining webhook that records every body it is sent.
async fn webhook() -> (String, Told) {
    let told: Told = Arc::default();
    let app = axum::Router::new()
        .route(
            "/retrain",
            axum::routing::post(
                |State(told): State<Told>, Json(body): Json<Value>| async move {
                    told.lock().unwrap().push(body);
                    "ok"
                },
            ),
        )
        .with_state(told.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/retrain", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app).into_future());
    (url, told)
}

fn config(dir: &Path, url: &str, review: bool) -> warden_config::Config {
    let text = format!(
        "data_dir: state\ndrift_monitors:\n  - name: demand\n    predictions: logs/\n    reference: reference.parquet\n    check_every: 1h\n    retraining: {{webhook: '{url}', review: {review}}}\n"
    );
    std::fs::write(dir.join("warden.yaml"), &text).unwrap();
    warden_config::load(&dir.join("warden.yaml")).unwrap()
}

fn reference(dir: &Path) {
    write_parquet(
        &dir.join("reference.parquet"),
        &generate(8_000, 1, MONDAY, days(14), Scenario::default()),
    )
    .unwrap();
}

/// The current logs: drifted (the three injected drifts) or like the reference.
fn logs(dir: &Path, drift: bool) {
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let scenario = Scenario {
        drift,
        ..Scenario::default()
    };
    write_parquet(
        &dir.join("logs/part-0.parquet"),
        &generate(4_000, 2, MONDAY + days(14), days(2), scenario),
    )
    .unwrap();
}

fn at(hours: i64) -> Timestamp {
    chrono::Utc::now() + chrono::Duration::hours(hours)
}

fn alert_rate(detectors: &mut [Box<dyn Detector>]) -> &mut Box<dyn Detector> {
    detectors
        .iter_mut()
        .find(|d| d.name() == "drift_alert_rate:demand")
        .unwrap()
}

#[tokio::test]
async fn drift_alerts_wait_for_a_yes_before_retraining_starts() {
    let dir = tempfile::tempdir().unwrap();
    let (url, told) = webhook().await;
    reference(dir.path());
    logs(dir.path(), true);
    let config = config(dir.path(), &url, true);
    let runbooks = warden_runbook::builtin::all().unwrap();
    let assembly = warden_runbooks::assemble(&config, &runbooks).unwrap();
    assert!(assembly.registries.has_reviews());
    let mut detectors = assembly.detectors;
    let detector = alert_rate(&mut detectors);

    // Two drifted runs: one review that counts both; nothing started.
    detector.check(at(0)).await.unwrap();
    detector.check(at(1)).await.unwrap();
    let reviews = assembly.registries.reviews().await.unwrap();
    assert_eq!(reviews.len(), 1, "{reviews:#?}");
    let review = &reviews[0];
    assert_eq!(
        (review.id.as_str(), review.state),
        ("demand-r1", ReviewState::Pending)
    );
    assert_eq!(review.detail["alerts"], 2);
    let columns = review.detail["columns"].as_array().unwrap();
    assert!(
        columns.iter().any(|c| c == "num_00"),
        "the drifted columns: {columns:?}"
    );
    assert!(told.lock().unwrap().is_empty(), "nothing before a yes");

    // A yes starts retraining once, naming the review and who approved it.
    let approved = assembly
        .registries
        .decide_review("demand-r1", ReviewDecision::Approve, "ana", "real shift")
        .await
        .unwrap();
    assert_eq!(approved.state, ReviewState::Approved);
    assert!(
        approved
            .outcome
            .as_deref()
            .unwrap()
            .contains("told to retrain"),
        "{approved:?}"
    );
    {
        let told = told.lock().unwrap();
        assert_eq!(told.len(), 1);
        assert_eq!(told[0]["monitor"], "demand");
        assert_eq!(told[0]["retrain"], true);
        assert_eq!(told[0]["reason"], "demand-r1");
        assert_eq!(told[0]["approved_by"], "ana");
    }
    let again = assembly
        .registries
        .decide_review("demand-r1", ReviewDecision::Approve, "bo", "")
        .await
        .unwrap();
    assert_eq!(again.decided_by.as_deref(), Some("ana"));
    assert_eq!(
        told.lock().unwrap().len(),
        1,
        "approved twice, started once"
    );
    let refused = assembly
        .registries
        .decide_review("demand-r1", ReviewDecision::Reject, "bo", "noise")
        .await
        .unwrap_err();
    assert!(matches!(refused, ReviewError::Conflict(_)), "{refused}");
    assert!(matches!(
        assembly
            .registries
            .decide_review("demand-r9", ReviewDecision::Approve, "bo", "")
            .await,
        Err(ReviewError::NotFound(_))
    ));

    // The drift goes on: the same episode asks nothing more. It ends and comes back: a new
    // review, which a no leaves without retraining; both decisions survive a restart.
    detector.check(at(2)).await.unwrap();
    logs(dir.path(), false);
    detector.check(at(3)).await.unwrap();
    logs(dir.path(), true);
    detector.check(at(4)).await.unwrap();
    let restarted = warden_runbooks::assemble(&config, &runbooks).unwrap();
    let reviews = restarted.registries.reviews().await.unwrap();
    assert_eq!(reviews.len(), 2, "{reviews:#?}");
    let rejected = restarted
        .registries
        .decide_review(
            "demand-r2",
            ReviewDecision::Reject,
            "ana",
            "holiday traffic",
        )
        .await
        .unwrap();
    assert_eq!(rejected.state, ReviewState::Rejected);
    assert_eq!(told.lock().unwrap().len(), 1, "a no starts nothing");
    let states = StateDir::new(&config.data_dir).load("demand").unwrap();
    assert_eq!(
        states
            .reviews
            .iter()
            .map(|r| (r.id.as_str(), r.state, r.decided_by.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("demand-r1", ReviewState::Approved, Some("ana")),
            ("demand-r2", ReviewState::Rejected, Some("ana"))
        ]
    );
}

#[tokio::test]
async fn without_a_review_each_episode_retrains_once_until_the_fix_puts_a_review_in_front() {
    let dir = tempfile::tempdir().unwrap();
    let (url, told) = webhook().await;
    reference(dir.path());
    logs(dir.path(), true);
    let config = config(dir.path(), &url, false);
    let runbooks = warden_runbook::builtin::all().unwrap();
    let assembly = warden_runbooks::assemble(&config, &runbooks).unwrap();
    let mut detectors = assembly.detectors;
    let detector = alert_rate(&mut detectors);
    detector.check(at(0)).await.unwrap();
    detector.check(at(1)).await.unwrap();
    {
        let told = told.lock().unwrap();
        assert_eq!(told.len(), 1, "one start per episode: {told:?}");
        assert_eq!(told[0]["approved_by"], "warden");
    }
    assert!(assembly.registries.reviews().await.unwrap().is_empty());

    // The runbook's fix: from now on an episode waits for a review.
    let fix = assembly
        .registries
        .for_runbook(RUNBOOK)
        .actions
        .get("require_retraining_review")
        .expect("registered: the monitor is Warden's own")
        .clone();
    let finding = Finding {
        runbook: RunbookId::new(RUNBOOK),
        target: warden_core::Target::new(warden_core::TargetKind::DriftMonitor, "demand"),
        detector: "drift_alert_rate".into(),
        severity: Severity::Medium,
        summary: "demand: 9 drift alerts".into(),
        detected_at: at(1),
        measurements: Default::default(),
        cause_key: Some(drift_detector::FALSE_POSITIVES.into()),
        alert: None,
    };
    let request = ActionRequest {
        incident: Incident::open(IncidentId("INC-8".into()), &finding, at(1)),
        step: "human-review".into(),
        params: Default::default(),
        idempotency_key: "INC-8/human-review".into(),
        earlier_results: Default::default(),
        approval: None,
        now: chrono::Utc::now(),
    };
    let plan = fix.plan(&request).await.unwrap();
    assert!(plan.starts_with("would make the retraining"), "{plan}");
    let done = fix.execute(&request).await.unwrap();
    assert!(done.contains("review: true"), "{done}");
    logs(dir.path(), false);
    detector.check(at(2)).await.unwrap();
    logs(dir.path(), true);
    detector.check(at(3)).await.unwrap();
    assert_eq!(told.lock().unwrap().len(), 1, "the new episode waits");
    let reviews = assembly.registries.reviews().await.unwrap();
    assert_eq!(
        reviews
            .iter()
            .map(|r| (r.id.as_str(), r.state))
            .collect::<Vec<_>>(),
        [("demand-r1", ReviewState::Pending)]
    );
}

#[tokio::test]
async fn an_external_detector_leaves_the_review_to_a_person_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("warden.yaml"),
        "data_dir: state\nconnectors:\n  prometheus: {url: 'http://127.0.0.1:9'}\ndrift_monitors:\n  - name: demand\n    predictions: logs/\n    reference: reference.parquet\n    alerts: {query: 'sum(drift_alerts)'}\n    retraining: {webhook: 'http://127.0.0.1:9/retrain'}\n",
    )
    .unwrap();
    let config = warden_config::load(&dir.path().join("warden.yaml")).unwrap();
    let runbooks = warden_runbook::builtin::all().unwrap();
    let assembly = warden_runbooks::assemble(&config, &runbooks).unwrap();
    assert!(
        !assembly
            .registries
            .for_runbook(RUNBOOK)
            .actions
            .contains_key("require_retraining_review")
    );
    let need = assembly
        .registries
        .need(
            RUNBOOK,
            warden_engine::registry::EntryKind::Action,
            "require_retraining_review",
        )
        .unwrap();
    assert!(need.contains("external detector"), "{need}");
}
