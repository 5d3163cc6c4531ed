//! The executor on a real SQLite store with test action handlers: approvals, retries with
//! backoff, timeouts, dry-run, `when` conditions, phase-driven lifecycle, and crash safety
//! (a step interrupted mid-action runs again; a completed one never does).

#![allow(clippy::unwrap_used)] // shared helpers outside #[test] functions

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use warden_config::StoreConfig;
use warden_core::{
    ActionStatus, Actor, Decision, Finding, IncidentId, IncidentState, ManualClock, RunbookId,
    Severity, Target, TargetKind,
};
use warden_engine::IncidentManager;
use warden_engine::executor::{
    ActionError, ActionHandler, ActionRequest, BoxFuture, Collected, EvidenceCollector, Executor,
    Mode, backoff,
};
use warden_engine::registry::Registry;
use warden_runbook::{Outcome, Retry, Runbook};
use warden_store::{IncidentStore, Store};

const RUNBOOK: &str = "\
id: test-runbook
title: Test runbook
severity: high
phases:
  containment:
    - id: pause
      title: Pause the schedule
      action: pause_schedule
      approval: auto
      retry: { attempts: 3, base: 10ms, cap: 20ms }
      timeout: 300ms
    - id: scale
      title: Scale up
      action: scale_replicas
      params: { min_replicas: 3 }
      approval: manual
    - id: logs
      title: Capture logs
      evidence: task_logs
  causes:
    - id: oom
      title: Out of memory
      cause: resource_limit
      evidence_from: [logs]
  fixes:
    - id: raise-limits
      title: Raise the memory limit
      manual: true
      when: [{ step: oom, is: confirmed }]
  validation:
    - id: rerun
      title: Rerun passes
      gate: { check: rerun_succeeded }
";

/// A handler whose behaviour per attempt is scripted: `Ok`, a retryable or fatal error, or a
/// long sleep.
struct Scripted {
    calls: AtomicU32,
    plans: AtomicU32,
    script: Vec<&'static str>,
}

impl Scripted {
    fn new(script: &[&'static str]) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicU32::new(0),
            plans: AtomicU32::new(0),
            script: script.to_vec(),
        })
    }
    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl ActionHandler for Scripted {
    fn plan<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        self.plans.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { Ok(format!("would act on {}", request.incident.target)) })
    }
    fn execute<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) as usize;
        let behaviour = self.script.get(call).copied().unwrap_or("ok");
        Box::pin(async move {
            match behaviour {
                "retryable" => Err(ActionError {
                    message: "HTTP 503".into(),
                    retryable: true,
                }),
                "fatal" => Err(ActionError {
                    message: "HTTP 403 forbidden".into(),
                    retryable: false,
                }),
                "hang" => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Ok("late".into())
                }
                _ => Ok(format!(
                    "done {} ({})",
                    request.step, request.idempotency_key
                )),
            }
        })
    }
}

struct Fixture {
    manager: IncidentManager<Store, Arc<ManualClock>>,
    runbook: Runbook,
    id: IncidentId,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig::Sqlite {
        path: dir.path().join("w.db"),
    })
    .await
    .unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap(),
    ));
    let manager = IncidentManager::new(store, clock);
    let runbook = warden_runbook::parse(Path::new("test.yaml"), RUNBOOK).unwrap();
    let finding = Finding {
        runbook: RunbookId::new("test-runbook"),
        target: Target::new(TargetKind::Pipeline, "train"),
        detector: "test".into(),
        severity: Severity::High,
        summary: "train failed".into(),
        detected_at: Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap(),
        measurements: BTreeMap::new(),
        cause_key: None,
        alert: None,
    };
    let id = manager.ingest(&finding).await.unwrap().incident().clone();
    Fixture {
        manager,
        runbook,
        id,
        _dir: dir,
    }
}

fn registry(pause: &Arc<Scripted>, scale: &Arc<Scripted>) -> Registry {
    let mut registry = Registry::default();
    registry
        .actions
        .insert("pause_schedule".into(), pause.clone());
    registry
        .actions
        .insert("scale_replicas".into(), scale.clone());
    registry
}

/// Registers a `task_logs` collector that counts its calls; the directory is for the evidence.
fn with_log_collector(actions: &mut Registry) -> (Arc<LogCollector>, tempfile::TempDir) {
    let collector = Arc::new(LogCollector {
        calls: AtomicU32::new(0),
    });
    actions
        .collectors
        .insert("task_logs".into(), collector.clone());
    (collector, tempfile::tempdir().unwrap())
}

async fn status(f: &Fixture, step: &str) -> (ActionStatus, u32, String) {
    let records = f.manager.store().actions_for(&f.id).await.unwrap();
    let record = records.iter().find(|record| record.step == step).unwrap();
    (
        record.status,
        record.attempts,
        record.result.clone().unwrap_or_default(),
    )
}

#[tokio::test]
async fn auto_actions_run_once_and_manual_ones_wait_for_approval() {
    let f = fixture().await;
    let (pause, scale) = (Scripted::new(&[]), Scripted::new(&[]));
    let actions = registry(&pause, &scale);
    let executor = Executor::new(&f.manager, &actions, Mode::Live);

    let progress = executor.advance(&f.id, &f.runbook).await.unwrap();
    assert_eq!(progress.executed, ["pause"]);
    let waiting: Vec<&str> = progress
        .waiting
        .iter()
        .map(|(step, _)| step.as_str())
        .collect();
    assert_eq!(waiting, ["scale", "logs", "oom", "raise-limits", "rerun"]);
    assert_eq!(progress.waiting[0].1, "awaiting approval");
    assert!(
        progress.waiting[1].1.contains("not automated yet"),
        "{}",
        progress.waiting[1].1
    );
    let (state, attempts, result) = status(&f, "pause").await;
    assert_eq!((state, attempts), (ActionStatus::Succeeded, 1));
    assert_eq!(result, format!("done pause ({}/pause)", f.id));

    executor.advance(&f.id, &f.runbook).await.unwrap();
    assert_eq!(
        pause.calls(),
        1,
        "a completed action is never executed again"
    );
    assert_eq!(scale.calls(), 0, "no approval, no execution");

    f.manager
        .decide(
            &f.id,
            &f.runbook,
            "scale",
            Decision::Approved,
            Actor::User("ana".into()),
            "HPA at max",
        )
        .await
        .unwrap();
    let progress = executor.advance(&f.id, &f.runbook).await.unwrap();
    assert_eq!(progress.executed, ["scale"]);
    assert_eq!(scale.calls(), 1);
}

/// Collects a fixed log excerpt and counts its calls. (Retries and timeouts are the actions'
/// path, tested with the action handlers.)
struct LogCollector {
    calls: AtomicU32,
}

impl EvidenceCollector for LogCollector {
    fn collect<'a>(
        &'a self,
        _request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<Collected, ActionError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(Collected {
                summary: "200 log lines, OOMKilled at 03:00".into(),
                name: "task-logs.txt".into(),
                media_type: "text/plain".into(),
                source: "k8s://train-pod".into(),
                bytes: b"Killed: OOMKilled\n".to_vec(),
            })
        })
    }
}

#[tokio::test]
async fn evidence_steps_with_a_collector_are_captured_once() {
    let f = fixture().await;
    let (pause, scale) = (Scripted::new(&[]), Scripted::new(&[]));
    let mut actions = registry(&pause, &scale);
    let (collector, dir) = with_log_collector(&mut actions);
    let evidence = warden_store::EvidenceStore::new(dir.path(), 1 << 20);
    let executor = Executor::new(&f.manager, &actions, Mode::Live).with_evidence(&evidence);

    let progress = executor.advance(&f.id, &f.runbook).await.unwrap();
    assert!(
        progress.executed.contains(&"logs".to_string()),
        "{progress:?}"
    );
    let (state, attempts, result) = status(&f, "logs").await;
    assert_eq!((state, attempts), (ActionStatus::Succeeded, 1), "{result}");
    assert!(
        result.starts_with("200 log lines, OOMKilled at 03:00 (evidence task-logs.txt sha256:"),
        "{result}"
    );
    let incident = f
        .manager
        .store()
        .get_incident(&f.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(incident.evidence.len(), 1);
    assert_eq!(incident.evidence[0].name, "task-logs.txt");

    executor.advance(&f.id, &f.runbook).await.unwrap();
    assert_eq!(collector.calls.load(Ordering::SeqCst), 1, "collected once");
}

#[tokio::test]
async fn rejected_steps_are_skipped_with_who() {
    let f = fixture().await;
    let (pause, scale) = (Scripted::new(&[]), Scripted::new(&[]));
    let actions = registry(&pause, &scale);
    f.manager
        .decide(
            &f.id,
            &f.runbook,
            "scale",
            Decision::Rejected,
            Actor::User("ana".into()),
            "not needed",
        )
        .await
        .unwrap();
    Executor::new(&f.manager, &actions, Mode::Live)
        .advance(&f.id, &f.runbook)
        .await
        .unwrap();
    let (state, _, result) = status(&f, "scale").await;
    assert_eq!(state, ActionStatus::Skipped);
    assert!(
        result.contains("rejected by") && result.contains("ana"),
        "{result}"
    );
    assert_eq!(scale.calls(), 0);
}

#[tokio::test]
async fn retryable_failures_back_off_and_fatal_ones_are_never_retried() {
    let f = fixture().await;
    let (pause, scale) = (
        Scripted::new(&["retryable", "retryable"]),
        Scripted::new(&[]),
    );
    let actions = registry(&pause, &scale);
    Executor::new(&f.manager, &actions, Mode::Live)
        .advance(&f.id, &f.runbook)
        .await
        .unwrap();
    assert_eq!(status(&f, "pause").await.0, ActionStatus::Succeeded);
    assert_eq!((pause.calls(), status(&f, "pause").await.1), (3, 3));

    let g = fixture().await;
    let fatal = Scripted::new(&["fatal"]);
    let actions = registry(&fatal, &scale);
    let progress = Executor::new(&g.manager, &actions, Mode::Live)
        .advance(&g.id, &g.runbook)
        .await
        .unwrap();
    assert_eq!(fatal.calls(), 1, "a non-retryable failure is not retried");
    let (state, attempts, result) = status(&g, "pause").await;
    assert_eq!((state, attempts), (ActionStatus::Failed, 1));
    assert_eq!(result, "failed, not retryable: HTTP 403 forbidden");
    assert_eq!(progress.newly_failed[0].0, "pause");
    assert_eq!(progress.failed[0].0, "pause", "failed steps stay listed");
}

#[tokio::test]
async fn attempts_time_out_and_retries_are_bounded() {
    let f = fixture().await;
    let (pause, scale) = (
        Scripted::new(&["hang", "hang", "hang", "hang"]),
        Scripted::new(&[]),
    );
    let actions = registry(&pause, &scale);
    Executor::new(&f.manager, &actions, Mode::Live)
        .advance(&f.id, &f.runbook)
        .await
        .unwrap();
    let (state, attempts, result) = status(&f, "pause").await;
    assert_eq!(
        (state, attempts),
        (ActionStatus::Failed, 3),
        "three attempts, as the step allows"
    );
    assert_eq!(result, "failed after 3 attempts: timed out after 300ms");
}

#[tokio::test]
async fn a_crash_mid_action_reruns_it_and_a_completed_action_never_reruns() {
    let f = fixture().await;
    let scale = Scripted::new(&[]);
    let hanging = Scripted::new(&["hang"]);
    let actions = registry(&hanging, &scale);
    // The "crash": the executor is dropped while the action is in flight.
    let crashed = tokio::time::timeout(
        Duration::from_millis(100),
        Executor::new(&f.manager, &actions, Mode::Live).advance(&f.id, &f.runbook),
    )
    .await;
    assert!(
        crashed.is_err(),
        "the action was still running when the process died"
    );
    assert_eq!(
        status(&f, "pause").await.0,
        ActionStatus::Running,
        "recorded as in flight"
    );

    let healthy = Scripted::new(&[]);
    let actions = registry(&healthy, &scale);
    let executor = Executor::new(&f.manager, &actions, Mode::Live);
    let progress = executor.advance(&f.id, &f.runbook).await.unwrap();
    assert!(
        progress
            .waiting
            .contains(&("pause".to_string(), "in flight".to_string()))
    );
    assert_eq!(
        healthy.calls(),
        0,
        "without recovery, a running action belongs to someone else"
    );
    Executor::new(&f.manager, &actions, Mode::Live)
        .recovering()
        .advance(&f.id, &f.runbook)
        .await
        .unwrap();
    let (state, attempts, _) = status(&f, "pause").await;
    assert_eq!(
        (state, attempts),
        (ActionStatus::Succeeded, 2),
        "the interrupted step ran again"
    );
    executor.advance(&f.id, &f.runbook).await.unwrap();
    executor.advance(&f.id, &f.runbook).await.unwrap();
    assert_eq!(healthy.calls(), 1, "and never once more after it succeeded");
}

/// The race a stall inside the start statement leaves: an old leader's fenced start commits
/// after the new leader's recovery pass. The action is `running` under the old epoch; the new
/// leader's ordinary advance (no recovery) takes it over, once, and a running action of its own
/// epoch stays another executor's.
#[tokio::test]
async fn a_leader_takes_over_an_action_no_executor_of_its_own_runs() {
    let f = fixture().await;
    let store = f.manager.store();
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap();
    let old = store
        .acquire_lease("leader", "old", now, now + chrono::Duration::seconds(10))
        .await
        .unwrap();
    let mut record = store.claim_action(&f.id, "pause", now).await.unwrap();
    record.updated_at = now;
    let old_fence = warden_store::Fence {
        holder: "old".into(),
        epoch: old.epoch,
    };
    assert!(
        store
            .start_action_fenced(&record, ActionStatus::Pending, 0, &old_fence)
            .await
            .unwrap()
    );
    let later = now + chrono::Duration::seconds(20);
    let new = store
        .acquire_lease(
            "leader",
            "new",
            later,
            later + chrono::Duration::seconds(10),
        )
        .await
        .unwrap();
    assert_eq!(new.epoch, old.epoch + 1);

    let leadership = warden_engine::Leadership::default();
    let scale = Scripted::new(&[]);
    let pause = Scripted::new(&[]);
    let actions = registry(&pause, &scale);
    // Before this replica leads, the running action is someone else's.
    let follower = Executor::new(&f.manager, &actions, Mode::Live).with_leadership(&leadership);
    follower.advance(&f.id, &f.runbook).await.unwrap();
    assert_eq!(pause.calls(), 0);

    leadership.lead(
        warden_store::Fence {
            holder: "new".into(),
            epoch: new.epoch,
        },
        std::time::Instant::now() + Duration::from_secs(60),
    );
    let leader = Executor::new(&f.manager, &actions, Mode::Live).with_leadership(&leadership);
    leader.advance(&f.id, &f.runbook).await.unwrap();
    let (state, attempts, _) = status(&f, "pause").await;
    assert_eq!((state, attempts), (ActionStatus::Succeeded, 2));
    assert_eq!(pause.calls(), 1, "taken over by the new leader");
    let records = store.actions_for(&f.id).await.unwrap();
    let pause_record = records.iter().find(|r| r.step == "pause").unwrap();
    assert_eq!(pause_record.started_epoch, Some(new.epoch));

    // A running action started under the leader's own epoch that an executor of this
    // process runs is left alone; once none does (it stopped when the lease was briefly
    // lost), the leader takes it over.
    let mut scale_record = store.claim_action(&f.id, "scale", later).await.unwrap();
    scale_record.updated_at = later;
    let own = leadership.fence().unwrap();
    assert!(
        store
            .start_action_fenced(&scale_record, ActionStatus::Pending, 0, &own)
            .await
            .unwrap()
    );
    f.manager
        .decide(
            &f.id,
            &f.runbook,
            "scale",
            warden_core::Decision::Approved,
            warden_core::Actor::User("ana".into()),
            "",
        )
        .await
        .unwrap();
    leadership.begin(&scale_record.idempotency_key);
    let progress = leader.advance(&f.id, &f.runbook).await.unwrap();
    assert!(
        progress
            .waiting
            .contains(&("scale".to_string(), "in flight".to_string())),
        "{progress:?}"
    );
    assert_eq!(scale.calls(), 0);
    leadership.end(&scale_record.idempotency_key);
    leader.advance(&f.id, &f.runbook).await.unwrap();
    assert_eq!(scale.calls(), 1, "taken over once nothing here runs it");
    leader.advance(&f.id, &f.runbook).await.unwrap();
    assert_eq!(scale.calls(), 1, "and never again");
}

/// A handler whose first execution waits until released (saying when it started); later
/// executions return at once. Counts its executions.
#[derive(Default)]
struct Held {
    calls: AtomicU32,
    started: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

impl ActionHandler for Held {
    fn plan<'a>(
        &'a self,
        _request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async { Ok("would act".into()) })
    }
    fn execute<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        let first = self.calls.fetch_add(1, Ordering::SeqCst) == 0;
        Box::pin(async move {
            if first {
                self.started.notify_one();
                self.release.notified().await;
            }
            Ok(format!("done {}", request.step))
        })
    }
}

/// Two passes over one incident: one read the records before the other claimed and started a
/// step. Its claim returns that step running, mid-attempt; it must leave it alone (a
/// compare-and-set from `running` would let it execute the step a second time beside the
/// first — found in CI as a KFP run retried twice).
#[tokio::test]
async fn a_pass_with_an_old_view_leaves_a_step_another_pass_started_alone() {
    let f = fixture().await;
    f.manager
        .decide(
            &f.id,
            &f.runbook,
            "scale",
            Decision::Approved,
            Actor::User("ana".into()),
            "",
        )
        .await
        .unwrap();
    let (pause, scale) = (Arc::new(Held::default()), Arc::new(Held::default()));
    let mut actions = Registry::default();
    actions
        .actions
        .insert("pause_schedule".into(), pause.clone());
    actions
        .actions
        .insert("scale_replicas".into(), scale.clone());
    let early = Executor::new(&f.manager, &actions, Mode::Live);
    let late = Executor::new(&f.manager, &actions, Mode::Live);
    let early_done = tokio::sync::Notify::new();
    // `early` reads no records, then holds in `pause`; `late` skips the running `pause`
    // and holds in `scale`; then `early` goes on to `scale` with its old view.
    let early_pass = async {
        let progress = early.advance(&f.id, &f.runbook).await.unwrap();
        early_done.notify_one();
        progress
    };
    let late_pass = async {
        pause.started.notified().await;
        late.advance(&f.id, &f.runbook).await.unwrap()
    };
    let conductor = async {
        scale.started.notified().await;
        pause.release.notify_one();
        early_done.notified().await;
        scale.release.notify_one();
    };
    let (early_progress, late_progress, ()) = tokio::join!(early_pass, late_pass, conductor);
    assert_eq!(
        scale.calls.load(Ordering::SeqCst),
        1,
        "scale executed twice"
    );
    assert!(
        early_progress
            .waiting
            .contains(&("scale".to_string(), "in flight".to_string())),
        "{early_progress:?}"
    );
    assert_eq!(early_progress.executed, ["pause"]);
    assert_eq!(late_progress.executed, ["scale"]);
    let (state, attempts, _) = status(&f, "scale").await;
    assert_eq!((state, attempts), (ActionStatus::Succeeded, 1));
}

#[tokio::test]
async fn dry_run_records_plans_and_changes_nothing() {
    let f = fixture().await;
    let (pause, scale) = (Scripted::new(&[]), Scripted::new(&[]));
    let actions = registry(&pause, &scale);
    f.manager
        .decide(
            &f.id,
            &f.runbook,
            "scale",
            Decision::Approved,
            Actor::User("ana".into()),
            "",
        )
        .await
        .unwrap();
    let mut actions = actions;
    let (collector, dir) = with_log_collector(&mut actions);
    let evidence = warden_store::EvidenceStore::new(dir.path(), 1 << 20);
    Executor::new(&f.manager, &actions, Mode::DryRun)
        .with_evidence(&evidence)
        .advance(&f.id, &f.runbook)
        .await
        .unwrap();
    assert_eq!((pause.calls(), scale.calls()), (0, 0));
    assert_eq!(
        status(&f, "pause").await.2,
        "dry-run: would act on pipeline/train"
    );
    // Collectors only read: a dry run still gathers the evidence the judges need.
    assert_eq!(collector.calls.load(Ordering::SeqCst), 1);
    assert!(
        status(&f, "logs").await.2.starts_with("200 log lines"),
        "{:?}",
        status(&f, "logs").await
    );
    let audit = f.manager.store().audit_for(&f.id).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|entry| entry.action == "pause" && entry.result == "dry_run")
    );
}

#[tokio::test]
async fn conditions_and_responders_drive_the_lifecycle_to_resolution() {
    let f = fixture().await;
    let (pause, scale) = (Scripted::new(&[]), Scripted::new(&[]));
    let actions = registry(&pause, &scale);
    let executor = Executor::new(&f.manager, &actions, Mode::Live);
    let ana = || Actor::User("ana".into());
    f.manager
        .decide(&f.id, &f.runbook, "scale", Decision::Approved, ana(), "")
        .await
        .unwrap();
    let progress = executor.advance(&f.id, &f.runbook).await.unwrap();
    assert_eq!(
        progress.state,
        Some(IncidentState::Detected),
        "logs are still to be captured"
    );

    executor
        .complete_step(
            &f.id,
            &f.runbook,
            "logs",
            Outcome::Succeeded,
            ana(),
            "saved",
        )
        .await
        .unwrap();
    let wrong = executor
        .complete_step(&f.id, &f.runbook, "oom", Outcome::Passed, ana(), "")
        .await;
    assert!(
        wrong.is_err(),
        "a cause is confirmed or refuted, not passed"
    );
    executor
        .complete_step(
            &f.id,
            &f.runbook,
            "oom",
            Outcome::Refuted,
            ana(),
            "no OOMKilled",
        )
        .await
        .unwrap();
    let progress = executor.advance(&f.id, &f.runbook).await.unwrap();
    assert_eq!(
        progress.skipped[0].0, "raise-limits",
        "its condition (oom confirmed) is false"
    );
    assert_eq!(progress.state, Some(IncidentState::Mitigated));

    executor
        .complete_step(
            &f.id,
            &f.runbook,
            "rerun",
            Outcome::Passed,
            ana(),
            "run 42 ok",
        )
        .await
        .unwrap();
    let progress = executor.advance(&f.id, &f.runbook).await.unwrap();
    assert_eq!(progress.state, Some(IncidentState::Resolved));
    let incident = f
        .manager
        .store()
        .get_incident(&f.id)
        .await
        .unwrap()
        .unwrap();
    let states: Vec<String> = incident
        .timeline
        .iter()
        .filter_map(|event| match &event.kind {
            warden_core::TimelineKind::StateChanged { to, .. } => Some(to.as_str().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        [
            "contained",
            "diagnosing",
            "mitigated",
            "validating",
            "resolved"
        ]
    );
}

#[test]
fn backoff_doubles_is_capped_and_jittered_within_bounds() {
    let retry = Retry {
        attempts: 6,
        base: Duration::from_secs(1),
        cap: Duration::from_secs(10),
    };
    for (attempt, full) in [(1u32, 1u64), (2, 2), (3, 4), (4, 8), (5, 10), (30, 10)] {
        for seed in [0u64, 7, 12_345, u64::MAX] {
            let delay = backoff(&retry, attempt, seed);
            let full = Duration::from_secs(full);
            assert!(
                delay >= full / 2 && delay <= full,
                "attempt {attempt}: {delay:?} not in [{:?}, {full:?}]",
                full / 2
            );
        }
    }
}

/// Confirms `resource_limit` when the captured log says OOMKilled, refutes it otherwise.
struct OomJudge;

impl warden_engine::judge::CauseJudge for OomJudge {
    fn judge<'a>(
        &'a self,
        request: &'a warden_engine::judge::JudgeRequest,
    ) -> BoxFuture<'a, Result<Option<warden_engine::judge::Judgement>, String>> {
        Box::pin(async move {
            let Some(log) = request.evidence.get("logs") else {
                return Ok(None);
            };
            Ok(Some(
                if String::from_utf8_lossy(log).contains("OOMKilled") {
                    warden_engine::judge::Judgement::confirmed(0.9, "the log says OOMKilled")
                } else {
                    warden_engine::judge::Judgement::refuted("no OOMKilled in the log")
                },
            ))
        })
    }
}

#[tokio::test]
async fn cause_steps_are_judged_from_their_evidence_once_it_is_captured() {
    let f = fixture().await;
    let (pause, scale) = (Scripted::new(&[]), Scripted::new(&[]));
    let mut actions = registry(&pause, &scale);
    actions
        .judges
        .insert("resource_limit".into(), Arc::new(OomJudge));
    let dir = tempfile::tempdir().unwrap();
    let evidence = warden_store::EvidenceStore::new(dir.path(), 1 << 20);

    // Without a collector the evidence step waits, and so does the judged cause.
    let executor = Executor::new(&f.manager, &actions, Mode::Live).with_evidence(&evidence);
    let progress = executor.advance(&f.id, &f.runbook).await.unwrap();
    let oom_wait = progress.waiting.iter().find(|(step, _)| step == "oom");
    assert_eq!(
        oom_wait.map(|(_, why)| why.as_str()),
        Some("waiting for evidence logs")
    );

    let mut with_collector = actions.clone();
    with_collector.collectors.insert(
        "task_logs".into(),
        Arc::new(LogCollector {
            calls: AtomicU32::new(0),
        }),
    );
    let executor = Executor::new(&f.manager, &with_collector, Mode::Live).with_evidence(&evidence);
    let progress = executor.advance(&f.id, &f.runbook).await.unwrap();
    assert!(
        progress.executed.contains(&"oom".to_string()),
        "{progress:?}"
    );
    let (state, _, result) = status(&f, "oom").await;
    assert_eq!(state, ActionStatus::Succeeded);
    assert_eq!(
        result,
        "confirmed by warden: score 0.90: the log says OOMKilled"
    );
    assert_eq!(warden_engine::judge::score_in(&result), Some(0.9));
    // The fix that waits on the confirmed cause is now a responder's item, not skipped.
    let waiting: Vec<&str> = progress.waiting.iter().map(|(s, _)| s.as_str()).collect();
    assert!(waiting.contains(&"raise-limits"), "{progress:?}");
}

/// Passes every gate it is asked about, counting the questions and keeping the time it was
/// asked at.
struct AlwaysPasses(AtomicU32, std::sync::Mutex<Option<warden_core::Timestamp>>);

impl warden_engine::executor::GateEvaluator for AlwaysPasses {
    fn evaluate<'a>(
        &'a self,
        _incident: &'a warden_core::Incident,
        _gate: &'a warden_runbook::Gate,
        now: warden_core::Timestamp,
    ) -> BoxFuture<'a, Result<Option<warden_engine::executor::GateVerdict>, String>> {
        Box::pin(async move {
            self.0.fetch_add(1, Ordering::SeqCst);
            *self.1.lock().unwrap() = Some(now);
            Ok(Some(warden_engine::executor::GateVerdict {
                passed: true,
                explanation: "fine".into(),
            }))
        })
    }
}

#[tokio::test]
async fn gate_windows_start_after_the_last_containment_change() {
    let mut f = fixture().await;
    f.runbook = warden_runbook::parse(
        Path::new("test.yaml"),
        &RUNBOOK.replace(
            "{ check: rerun_succeeded }",
            "{ check: rerun_succeeded, for: 5m }",
        ),
    )
    .unwrap();
    let (pause, scale) = (Scripted::new(&[]), Scripted::new(&[]));
    let mut actions = registry(&pause, &scale);
    let gates = Arc::new(AlwaysPasses(AtomicU32::new(0), std::sync::Mutex::new(None)));
    actions
        .gates
        .insert("rerun_succeeded".into(), gates.clone());
    let executor = Executor::new(&f.manager, &actions, Mode::Live);

    // The pause runs now (auto); the gate's 5-minute window must lie after it.
    let progress = executor.advance(&f.id, &f.runbook).await.unwrap();
    let why = |progress: &warden_engine::executor::Progress| {
        progress
            .waiting
            .iter()
            .find(|(step, _)| step == "rerun")
            .map(|(_, why)| why.clone())
            .unwrap_or_default()
    };
    assert!(
        why(&progress).starts_with("gate: judged from 03:05:00 UTC"),
        "{progress:?}"
    );
    assert_eq!(gates.0.load(Ordering::SeqCst), 0, "not even asked");

    // Two minutes later the scale is approved and acts: the window moves past it.
    f.manager.clock().advance(chrono::Duration::minutes(2));
    f.manager
        .decide(
            &f.id,
            &f.runbook,
            "scale",
            Decision::Approved,
            Actor::User("ana".into()),
            "ok",
        )
        .await
        .unwrap();
    let progress = executor.advance(&f.id, &f.runbook).await.unwrap();
    assert!(
        why(&progress).starts_with("gate: judged from 03:07:00 UTC"),
        "{progress:?}"
    );
    f.manager.clock().advance(chrono::Duration::minutes(4));
    executor.advance(&f.id, &f.runbook).await.unwrap();
    assert_eq!(
        gates.0.load(Ordering::SeqCst),
        0,
        "03:06 is still inside the window"
    );

    f.manager.clock().advance(chrono::Duration::minutes(1));
    executor.advance(&f.id, &f.runbook).await.unwrap();
    assert_eq!(gates.0.load(Ordering::SeqCst), 1);
    // Asked at the engine's time (the manual clock), not the wall clock's.
    assert_eq!(
        *gates.1.lock().unwrap(),
        Some(warden_core::Clock::now(f.manager.clock()))
    );
    let (state, _, result) = status(&f, "rerun").await;
    assert_eq!(state, ActionStatus::Succeeded, "{result}");
}

/// `after: [fixes]`: a closure step waits until every step of the fixes phase is final, and
/// then runs — whatever else its conditions allow earlier (runbook 1's resume of a paused
/// Airflow DAG, which would otherwise run right after the pause).
#[tokio::test]
async fn a_step_after_a_phase_waits_for_every_step_of_it() {
    let f = fixture().await;
    let runbook = warden_runbook::parse(
        Path::new("after.yaml"),
        "id: test-runbook\ntitle: T\nseverity: high\nphases:\n  containment:\n    - id: pause\n      title: Pause\n      action: pause_schedule\n      approval: auto\n  fixes:\n    - id: fix\n      title: Fix it\n      manual: true\n  validation:\n    - id: resume\n      title: Resume\n      action: scale_replicas\n      params: { min_replicas: 3 }\n      approval: auto\n      when: [{ step: pause, is: succeeded }]\n      after: [fixes]\n",
    )
    .unwrap();
    let (pause, resume) = (Scripted::new(&[]), Scripted::new(&[]));
    let actions = registry(&pause, &resume);
    let executor = Executor::new(&f.manager, &actions, Mode::Live);
    let progress = executor.advance(&f.id, &runbook).await.unwrap();
    assert_eq!(pause.calls(), 1);
    assert_eq!(resume.calls(), 0, "the fix is not in yet");
    assert!(
        progress
            .waiting
            .iter()
            .any(|(step, why)| step == "resume" && why.contains("waiting for the fixes phase (fix")),
        "{progress:?}"
    );
    executor
        .complete_step(
            &f.id,
            &runbook,
            "fix",
            Outcome::Succeeded,
            Actor::User("ana".into()),
            "done",
        )
        .await
        .unwrap();
    executor.advance(&f.id, &runbook).await.unwrap();
    assert_eq!(resume.calls(), 1, "runs once the fixes phase is over");
}
