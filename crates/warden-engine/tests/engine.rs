//! The incident manager on a real SQLite store: dedup, grouping, reopen within the cool-down,
//! decisions and evidence; Alertmanager payloads routed through the built-in runbooks; the
//! alert-storm target (10,000 duplicate alerts → one incident per group); the post-mortem.

#![allow(clippy::unwrap_used)] // shared helpers outside #[test] functions

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use warden_config::StoreConfig;
use warden_core::{
    Actor, Clock, Decision, Finding, IncidentState, ManualClock, RunbookId, Severity, Target,
    TargetKind, TimelineKind,
};
use warden_engine::alerts::{self, PayloadError};
use warden_engine::postmortem::{self, PostmortemInput};
use warden_engine::{EngineError, IncidentManager, Ingested};
use warden_store::{EvidenceStore, IncidentFilter, IncidentStore, Store};

const FIRING: &str = include_str!("data/alertmanager-webhook-payload.json");
const RESOLVED: &str = include_str!("data/alertmanager-webhook-resolved.json");

struct Fixture {
    manager: Arc<IncidentManager<Store, Arc<ManualClock>>>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
    dir_path: std::path::PathBuf,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig::Sqlite {
        path: dir.path().join("warden.db"),
    })
    .await
    .unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap(),
    ));
    let manager =
        IncidentManager::new(store, clock.clone()).with_reopen_cooldown(Duration::from_secs(3600));
    Fixture {
        manager: Arc::new(manager),
        clock,
        dir_path: dir.path().to_path_buf(),
        _dir: dir,
    }
}

fn finding(target: &str, cause: Option<&str>) -> Finding {
    Finding {
        runbook: RunbookId::new(RunbookId::PIPELINE_FAILURE),
        target: Target::new(TargetKind::Pipeline, target),
        detector: "airflow-failed-runs".into(),
        severity: Severity::High,
        summary: format!("{target} failed"),
        detected_at: Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap(),
        measurements: BTreeMap::new(),
        cause_key: cause.map(str::to_string),
        alert: None,
    }
}

#[tokio::test]
async fn findings_open_attach_and_separate_by_cause() {
    let f = fixture().await;
    let first = f
        .manager
        .ingest(&finding("train", Some("task=validate")))
        .await
        .unwrap();
    let again = f
        .manager
        .ingest(&finding("train", Some("task=validate")))
        .await
        .unwrap();
    let other = f
        .manager
        .ingest(&finding("train", Some("task=export")))
        .await
        .unwrap();
    assert!(matches!(first, Ingested::Opened(_)));
    assert_eq!(again, Ingested::Attached(first.incident().clone()));
    assert!(matches!(other, Ingested::Opened(ref id) if id != first.incident()));
    let incident = f
        .manager
        .store()
        .get_incident(first.incident())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(incident.finding_count, 2);
    let audit = f.manager.store().audit_for(first.incident()).await.unwrap();
    assert_eq!(audit[0].action, "open");
}

#[tokio::test]
async fn recurrence_reopens_within_the_cooldown_and_opens_anew_after() {
    let f = fixture().await;
    let id = f
        .manager
        .ingest(&finding("train", None))
        .await
        .unwrap()
        .incident()
        .clone();
    f.manager
        .transition(
            &id,
            IncidentState::Resolved,
            Actor::User("ana".into()),
            "rerun passed",
        )
        .await
        .unwrap();
    f.clock.advance(chrono::Duration::minutes(30));
    let recurred = f.manager.ingest(&finding("train", None)).await.unwrap();
    assert_eq!(recurred, Ingested::Reopened(id.clone()));
    let incident = f.manager.store().get_incident(&id).await.unwrap().unwrap();
    assert_eq!(
        (incident.state, incident.reopen_count),
        (IncidentState::Detected, 1)
    );

    f.manager
        .transition(&id, IncidentState::Resolved, Actor::System, "ok")
        .await
        .unwrap();
    f.clock.advance(chrono::Duration::hours(2));
    let later = f.manager.ingest(&finding("train", None)).await.unwrap();
    assert!(
        matches!(later, Ingested::Opened(ref new) if *new != id),
        "{later:?}"
    );
}

#[tokio::test]
async fn refused_transitions_change_nothing() {
    let f = fixture().await;
    let id = f
        .manager
        .ingest(&finding("train", None))
        .await
        .unwrap()
        .incident()
        .clone();
    let error = f
        .manager
        .transition(
            &id,
            IncidentState::Closed,
            Actor::User("ana".into()),
            "done",
        )
        .await
        .unwrap_err();
    assert!(matches!(error, EngineError::Transition(_)), "{error}");
    let incident = f.manager.store().get_incident(&id).await.unwrap().unwrap();
    assert_eq!(incident.state, IncidentState::Detected);
    let missing = f
        .manager
        .acknowledge(&warden_core::IncidentId("INC-999".into()), Actor::System)
        .await
        .unwrap_err();
    assert!(matches!(missing, EngineError::NotFound(_)));
}

#[tokio::test]
async fn decisions_and_evidence_are_recorded_with_who_and_why() {
    let f = fixture().await;
    let runbooks = warden_runbook::builtin::all().unwrap();
    let id = f
        .manager
        .ingest(&finding("train", None))
        .await
        .unwrap()
        .incident()
        .clone();
    let ana = Actor::User("ana".into());
    f.manager
        .decide(
            &id,
            &runbooks[0],
            "pause-schedule",
            Decision::Approved,
            ana.clone(),
            "stop the cascade",
        )
        .await
        .unwrap();
    let unknown = f
        .manager
        .decide(
            &id,
            &runbooks[0],
            "reboot",
            Decision::Approved,
            ana.clone(),
            "",
        )
        .await
        .unwrap_err();
    assert!(matches!(unknown, EngineError::UnknownStep { .. }));
    let evidence = EvidenceStore::new(f.dir_path.join("evidence"), 1024);
    let incident = f
        .manager
        .capture_evidence(
            &id,
            &evidence,
            "validate.log",
            "text/plain",
            "airflow task validate",
            b"botocore.exceptions.NoCredentialsError",
        )
        .await
        .unwrap();
    assert_eq!(incident.evidence.len(), 1);
    assert_eq!(
        evidence.get(&incident.evidence[0].hash).unwrap(),
        b"botocore.exceptions.NoCredentialsError"
    );

    let approvals = f.manager.store().approvals_for(&id).await.unwrap();
    assert_eq!(
        (approvals[0].step.as_str(), approvals[0].actor.clone()),
        ("pause-schedule", ana)
    );
    let audit = f.manager.store().audit_for(&id).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|entry| entry.action.as_str()).collect();
    assert_eq!(actions, ["open", "approved"]);
}

#[test]
fn webhook_payloads_route_through_runbook_triggers() {
    let runbooks = warden_runbook::builtin::all().unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 24, 9, 52, 0).unwrap();
    let payload = alerts::parse_payload(FIRING.as_bytes()).unwrap();
    // The recorded alert has no runbook of its own: nothing claims it.
    let unclaimed = alerts::route(&payload, &runbooks, at);
    assert_eq!(unclaimed.unmatched, ["090708c0a7a7ad2c"]);
    // Labelled for a runbook, it becomes a finding about its service.
    let labelled = FIRING.replace(
        "\"severity\": \"page\"",
        "\"severity\": \"page\", \"warden_runbook\": \"serving-latency\"",
    );
    let routed = alerts::route(
        &alerts::parse_payload(labelled.as_bytes()).unwrap(),
        &runbooks,
        at,
    );
    assert_eq!(routed.findings.len(), 1);
    let finding = &routed.findings[0];
    assert_eq!(finding.target.to_string(), "service/mlops/demand-forecast");
    assert_eq!(finding.severity, Severity::Critical);
    assert_eq!(finding.summary, "demand-forecast 5xx ratio 17.42%");
    // A built-in trigger matches by alertname.
    let by_name = FIRING.replace("DemandForecastHighErrorRate", "ServingErrorRateHigh");
    let routed = alerts::route(
        &alerts::parse_payload(by_name.as_bytes()).unwrap(),
        &runbooks,
        at,
    );
    assert_eq!(routed.findings[0].runbook.as_str(), "serving-latency");

    let resolved = RESOLVED.replace("DemandForecastHighErrorRate", "ServingErrorRateHigh");
    let routed = alerts::route(
        &alerts::parse_payload(resolved.as_bytes()).unwrap(),
        &runbooks,
        at,
    );
    assert!(routed.findings.is_empty());
    assert_eq!(routed.resolved.len(), 1);
}

#[test]
fn garbage_webhook_bodies_are_refused() {
    assert!(matches!(
        alerts::parse_payload(b"not json"),
        Err(PayloadError::Malformed(_))
    ));
    assert!(matches!(
        alerts::parse_payload(b"{\"alerts\": 3}"),
        Err(PayloadError::Malformed(_))
    ));
    let v3 = FIRING.replace("\"version\": \"4\"", "\"version\": \"3\"");
    assert!(matches!(
        alerts::parse_payload(v3.as_bytes()),
        Err(PayloadError::Version(_))
    ));
    let huge = vec![b' '; alerts::MAX_PAYLOAD_BYTES + 1];
    assert!(matches!(
        alerts::parse_payload(&huge),
        Err(PayloadError::TooLarge(_))
    ));
}

/// The alert-storm target: 10,000 duplicate alerts (two alert groups) arriving concurrently
/// become exactly two incidents, each counting every alert, with a bounded timeline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_storm_of_ten_thousand_becomes_one_incident_per_group() {
    let f = fixture().await;
    let runbooks = Arc::new(warden_runbook::builtin::all().unwrap());
    let latency = FIRING.replace("DemandForecastHighErrorRate", "ServingLatencyHigh");
    let other_service =
        latency.replace("\"service\": \"demand-forecast\"", "\"service\": \"churn\"");
    let bodies = Arc::new([latency, other_service]);
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (manager, runbooks, bodies, clock) = (
            f.manager.clone(),
            runbooks.clone(),
            bodies.clone(),
            f.clock.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for n in 0..1250 {
                let body = &bodies[(worker + n) % 2];
                let payload = alerts::parse_payload(body.as_bytes()).unwrap();
                for finding in alerts::route(&payload, &runbooks, clock.now()).findings {
                    manager.ingest(&finding).await.unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let incidents = f
        .manager
        .store()
        .list_incidents(&IncidentFilter::default())
        .await
        .unwrap();
    assert_eq!(incidents.len(), 2, "one incident per alert group");
    for incident in &incidents {
        assert_eq!(incident.finding_count, 5000);
        assert!(
            incident.timeline.len() <= 2,
            "timeline stays bounded: {}",
            incident.timeline.len()
        );
    }
}

/// A payload whose alerts are about `services` (one alert each, in order).
fn payload_for(services: &[&str]) -> alerts::WebhookPayload {
    let alerts: Vec<serde_json::Value> = services
        .iter()
        .enumerate()
        .map(|(n, service)| {
            serde_json::json!({"status": "firing",
                "labels": {"alertname": "ServingLatencyHigh", "namespace": "mlops",
                           "service": service, "severity": "page"},
                "annotations": {"summary": format!("p95 over the SLA on {service}")},
                "startsAt": "2026-11-24T02:59:00Z", "fingerprint": format!("{n:016x}")})
        })
        .collect();
    let body = serde_json::json!({"version": "4", "status": "firing", "receiver": "warden",
        "groupKey": "g", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "", "alerts": alerts});
    alerts::parse_payload(body.to_string().as_bytes()).unwrap()
}

/// Many distinct alerts in one payload open their incidents together; duplicates in it and
/// alerts about an incident already open attach; two payloads racing over the same keys still
/// make one incident per key.
#[tokio::test]
async fn a_payload_of_many_alerts_opens_each_new_incident_once() {
    let f = fixture().await;
    let runbooks = warden_runbook::builtin::all().unwrap();
    let first = f
        .manager
        .ingest_alerts(&payload_for(&["svc-0"]), &runbooks)
        .await
        .unwrap();
    assert_eq!(first.opened.len(), 1);
    let services: Vec<String> = (0..40).map(|n| format!("svc-{}", n % 30)).collect();
    let services: Vec<&str> = services.iter().map(String::as_str).collect();
    let report = f
        .manager
        .ingest_alerts(&payload_for(&services), &runbooks)
        .await
        .unwrap();
    assert_eq!(report.opened.len(), 29, "svc-1 … svc-29 are new");
    assert_eq!(
        report.attached.len(),
        11,
        "svc-0 and the ten repeats attach"
    );
    let incidents = f
        .manager
        .store()
        .list_incidents(&IncidentFilter {
            limit: 1000,
            ..IncidentFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(incidents.len(), 30);
    for incident in &incidents {
        let audit = f.manager.store().audit_for(&incident.id).await.unwrap();
        assert_eq!(audit[0].action, "open", "{}", incident.id);
    }
    let svc_5 = incidents.iter().find(|i| i.target.name == "svc-5").unwrap();
    assert_eq!(svc_5.finding_count, 2, "the repeat in the payload attached");

    // Two payloads over the same new keys at once: one incident per key all the same.
    let keys: Vec<String> = (100..160).map(|n| format!("svc-{n}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let (one, other) = (payload_for(&keys), payload_for(&keys));
    let (a, b) = tokio::join!(
        f.manager.ingest_alerts(&one, &runbooks),
        f.manager.ingest_alerts(&other, &runbooks)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.opened.len() + b.opened.len(), 60);
    assert_eq!(a.attached.len() + b.attached.len(), 60);
}

#[tokio::test]
async fn postmortem_draft_has_every_section() {
    let f = fixture().await;
    let runbooks = warden_runbook::builtin::all().unwrap();
    let id = f
        .manager
        .ingest(&finding("train", None))
        .await
        .unwrap()
        .incident()
        .clone();
    let ana = Actor::User("ana".into());
    f.manager.acknowledge(&id, ana.clone()).await.unwrap();
    f.manager
        .decide(
            &id,
            &runbooks[0],
            "pause-schedule",
            Decision::Approved,
            ana.clone(),
            "cascade",
        )
        .await
        .unwrap();
    let evidence = EvidenceStore::new(f.dir_path.join("evidence"), 1024);
    f.manager
        .capture_evidence(
            &id,
            &evidence,
            "validate.log",
            "text/plain",
            "task validate",
            b"NoCredentialsError",
        )
        .await
        .unwrap();
    f.clock.advance(chrono::Duration::minutes(42));
    let incident = f
        .manager
        .transition(&id, IncidentState::Resolved, ana, "rerun passed")
        .await
        .unwrap();
    let store = f.manager.store();
    let (actions, approvals, audit) = (
        store.actions_for(&id).await.unwrap(),
        store.approvals_for(&id).await.unwrap(),
        store.audit_for(&id).await.unwrap(),
    );
    // Three judged causes: the post-mortem lists confirmed ones first, highest score first.
    let causes: Vec<&warden_runbook::Step> = runbooks[0]
        .steps
        .iter()
        .filter(|step| matches!(step.kind, warden_runbook::StepKind::Cause { .. }))
        .collect();
    let mut actions = actions;
    for (step, result) in causes.iter().zip([
        "refuted by warden: no such message",
        "confirmed by warden: score 0.40: weaker",
        "confirmed by warden: score 0.90: stronger",
    ]) {
        let mut record = warden_core::ActionRecord::pending(&id, &step.id, f.clock.now());
        record.status = warden_core::ActionStatus::Succeeded;
        record.result = Some(result.to_string());
        actions.push(record);
    }
    let impact = warden_engine::impact::Impact {
        figures: vec![warden_engine::impact::Figure::new(
            "requests failed | forged",
            "1,234",
            "sum(rate(http_errors[5m]))",
        )],
        problems: vec!["prometheus unreachable\n| forged | row |".into()],
        estimated: true,
    };
    let markdown = postmortem::render(&PostmortemInput {
        incident: &incident,
        runbook: Some(&runbooks[0]),
        actions: &actions,
        approvals: &approvals,
        audit: &audit,
        now: f.clock.now(),
        impact: &impact,
    });
    // The ML impact: each figure with its source, what could not be measured on one line.
    assert!(
        markdown.contains("| requests failed \\| forged | 1,234 | `sum(rate(http_errors[5m]))` |"),
        "{markdown}"
    );
    assert!(markdown.contains("- Not measured: prometheus unreachable"));
    assert!(!markdown.contains("\n| forged | row |"));
    for section in [
        "## Summary",
        "## Impact",
        "## Timeline",
        "## Evidence",
        "## Cause analysis",
        "## Checklist",
        "## Action items",
        "## Audit log",
    ] {
        assert!(markdown.contains(section), "missing {section}:\n{markdown}");
    }
    assert!(markdown.contains("(42 min after opening)"), "{markdown}");
    let position = |text: &str| markdown.find(text).unwrap_or(usize::MAX);
    assert!(
        position("score 0.90: stronger") < position("score 0.40: weaker")
            && position("score 0.40: weaker") < position("refuted by warden: no such message"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| validate.log | task validate |"),
        "{markdown}"
    );
    assert!(markdown.contains("approved by ana"), "{markdown}");
    assert!(
        markdown.contains("- [ ] Rotate/update secrets; verify IAM/service account permissions")
    );
    assert!(
        incident
            .timeline
            .iter()
            .any(|event| matches!(event.kind, TimelineKind::Note))
    );
}

/// Two processes (two stores on one database file, like the daemon and a CLI) changing one
/// incident at the same time: every change survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_never_lose_each_others_changes() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::Sqlite {
        path: dir.path().join("shared.db"),
    };
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap(),
    ));
    let daemon = Arc::new(IncidentManager::new(
        Store::open(&config).await.unwrap(),
        clock.clone(),
    ));
    let cli = Arc::new(IncidentManager::new(
        Store::open(&config).await.unwrap(),
        clock,
    ));
    let id = daemon
        .ingest(&finding("train", None))
        .await
        .unwrap()
        .incident()
        .clone();
    let mut tasks = Vec::new();
    for (name, manager) in [("daemon", daemon.clone()), ("cli", cli.clone())] {
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..20 {
                manager
                    .note(
                        &id,
                        Actor::User(name.into()),
                        &format!("{name} {n}"),
                        "note",
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let incident = daemon.store().get_incident(&id).await.unwrap().unwrap();
    let notes = incident
        .timeline
        .iter()
        .filter(|event| matches!(event.kind, TimelineKind::Note))
        .count();
    assert_eq!(
        notes, 40,
        "no writer's note was overwritten by the other's save"
    );
    assert_eq!(incident.revision, 40);
}
