//! The store conformance suite (R6.9): one set of behaviours, run against SQLite and against
//! the harness's real PostgreSQL. Each test gets a fresh database.

// The scenarios are plain async functions shared by both backends' #[test]s, which clippy's
// allow-unwrap-in-tests does not see as tests.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use warden_config::StoreConfig;
use warden_core::{
    ActionStatus, Actor, Approval, AuditEntry, Decision, Finding, Incident, IncidentId,
    IncidentState, RunbookId, Severity, Target, TargetKind, Timestamp,
};
use warden_store::{IncidentFilter, IncidentStore, Store, StoreError};
use warden_testkit::stack;

fn at(minute: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap() + Duration::minutes(minute)
}

fn finding(target: &str) -> Finding {
    Finding {
        runbook: RunbookId::new(RunbookId::SERVING_LATENCY),
        target: Target::new(TargetKind::Service, target).in_namespace("mlops"),
        detector: "slo".into(),
        severity: Severity::High,
        summary: format!("p95 over SLA on {target}"),
        detected_at: at(0),
        measurements: BTreeMap::from([("p95_ms".to_string(), 412.0)]),
        cause_key: None,
        alert: None,
    }
}

async fn open(store: &Store, target: &str, minute: i64) -> Result<Incident, StoreError> {
    let id = store.next_incident_id().await?;
    let incident = Incident::open(id, &finding(target), at(minute));
    store.insert_incident(&incident).await?;
    Ok(incident)
}

async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::Sqlite {
        path: dir.path().join("warden.db"),
    };
    (Store::open(&config).await.unwrap(), dir)
}

async fn postgres() -> Option<Store> {
    let url = stack::require("POSTGRES_URL")?;
    let admin = Store::open_postgres(&url, 1).await.unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("warden_conformance_{}_{nanos}", std::process::id());
    let Store::Postgres { pool, .. } = &admin else {
        unreachable!()
    };
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(pool)
        .await
        .unwrap();
    admin.close().await;
    let (base, _) = url.rsplit_once('/').unwrap();
    let store = Store::open_postgres(&format!("{base}/{name}"), 4)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    Some(store)
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _dir) = super::sqlite().await;
                    super::$name(&store).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(store) = super::postgres().await else { return };
                    super::$name(&store).await;
                }
            )*
        }
    };
}

conformance!(
    every_active_incident_is_listed_for_recovery,
    ids_are_sequential_and_never_reused,
    incidents_round_trip_whole,
    one_active_incident_per_dedup_key,
    concurrent_opens_of_one_key_yield_one_incident,
    reopening_cannot_create_a_second_active_incident,
    listing_filters_and_orders_newest_first,
    actions_are_claimed_once_and_keep_their_outcome,
    approvals_and_audit_keep_their_order,
    migrations_are_idempotent,
    a_stale_save_is_refused_and_nothing_is_lost,
    one_replica_leads_and_a_new_leader_gets_a_higher_epoch,
    a_stale_leader_cannot_start_an_action,
    many_incidents_open_in_one_transaction_or_none_do,
);

/// The lease: taken when free, renewed by its holder, refused to others while it lasts, taken
/// over with a higher epoch once it lapsed or was released.
async fn one_replica_leads_and_a_new_leader_gets_a_higher_epoch(store: &Store) {
    let ttl = Duration::seconds(15);
    let a = store
        .acquire_lease("leader", "a", at(0), at(0) + ttl)
        .await
        .unwrap();
    assert_eq!((a.holder.as_str(), a.epoch), ("a", 1));
    let b = store
        .acquire_lease(
            "leader",
            "b",
            at(0) + Duration::seconds(5),
            at(0) + Duration::seconds(20),
        )
        .await
        .unwrap();
    assert_eq!(
        (b.holder.as_str(), b.epoch),
        ("a", 1),
        "b must not take a live lease"
    );
    let renewed = store
        .acquire_lease(
            "leader",
            "a",
            at(0) + Duration::seconds(10),
            at(0) + Duration::seconds(25),
        )
        .await
        .unwrap();
    assert_eq!(
        (renewed.epoch, renewed.expires_at),
        (1, at(0) + Duration::seconds(25)),
        "renewing keeps the epoch"
    );
    // a stalls: its lease lapses and b takes over with epoch 2.
    let b = store
        .acquire_lease(
            "leader",
            "b",
            at(0) + Duration::seconds(26),
            at(0) + Duration::seconds(41),
        )
        .await
        .unwrap();
    assert_eq!((b.holder.as_str(), b.epoch), ("b", 2));
    // a wakes up and tries to renew: refused.
    let a = store
        .acquire_lease(
            "leader",
            "a",
            at(0) + Duration::seconds(27),
            at(0) + Duration::seconds(42),
        )
        .await
        .unwrap();
    assert_eq!((a.holder.as_str(), a.epoch), ("b", 2));
    // A clean shutdown releases: the next replica takes over at once.
    store
        .release_lease("leader", "b", at(0) + Duration::seconds(30))
        .await
        .unwrap();
    let c = store
        .acquire_lease(
            "leader",
            "c",
            at(0) + Duration::seconds(31),
            at(0) + Duration::seconds(46),
        )
        .await
        .unwrap();
    assert_eq!((c.holder.as_str(), c.epoch), ("c", 3));
}

/// An action start carries the starter's fence: after another replica took the lease, the
/// old leader's start is refused and the action stays pending for the new one.
async fn a_stale_leader_cannot_start_an_action(store: &Store) {
    let incident = open(store, "demand-forecast", 0).await.unwrap();
    let old = store
        .acquire_lease("leader", "old", at(0), at(1))
        .await
        .unwrap();
    let new = store
        .acquire_lease("leader", "new", at(2), at(3))
        .await
        .unwrap();
    assert_eq!(new.epoch, old.epoch + 1);
    let mut record = store
        .claim_action(&incident.id, "rollback", at(2))
        .await
        .unwrap();
    record.updated_at = at(2);
    let stale = warden_store::Fence {
        holder: "old".into(),
        epoch: old.epoch,
    };
    assert!(
        !store
            .start_action_fenced(&record, ActionStatus::Pending, 0, &stale)
            .await
            .unwrap()
    );
    let stored = store
        .claim_action(&incident.id, "rollback", at(2))
        .await
        .unwrap();
    assert_eq!((stored.status, stored.attempts), (ActionStatus::Pending, 0));
    let current = warden_store::Fence {
        holder: "new".into(),
        epoch: new.epoch,
    };
    assert!(
        store
            .start_action_fenced(&record, ActionStatus::Pending, 0, &current)
            .await
            .unwrap()
    );
    let started = store.actions_for(&incident.id).await.unwrap();
    assert_eq!(
        (started[0].status, started[0].started_epoch),
        (ActionStatus::Running, Some(new.epoch)),
        "the start records the epoch that fenced it"
    );
    assert!(
        !store
            .start_action_fenced(&record, ActionStatus::Pending, 0, &current)
            .await
            .unwrap(),
        "started once only"
    );
}

/// Recovery and the periodic advance must see every active incident: 1,050 of them, more than
/// any listing page, oldest first, resolved ones left out.
async fn every_active_incident_is_listed_for_recovery(store: &Store) {
    let mut resolved = None;
    for n in 0..1050 {
        let incident = open(store, &format!("svc-{n}"), n).await.unwrap();
        if n == 7 {
            resolved = Some(incident);
        }
    }
    let mut incident = resolved.unwrap();
    incident
        .transition(IncidentState::Resolved, Actor::System, at(2000), "fixed")
        .unwrap();
    store.save_incident(&mut incident).await.unwrap();
    let ids = store.active_incident_ids().await.unwrap();
    assert_eq!(ids.len(), 1049);
    assert_eq!(ids[0].0, "INC-1");
    assert_eq!(ids.last().unwrap().0, "INC-1050");
    assert!(!ids.contains(&incident.id));
}

fn opening(target: &str) -> (Incident, AuditEntry) {
    let incident = Incident::open(IncidentId(String::new()), &finding(target), at(0));
    let audit = AuditEntry {
        at: at(0),
        actor: Actor::System,
        action: "open".into(),
        incident_id: None,
        target: target.into(),
        result: "ok".into(),
    };
    (incident, audit)
}

/// A payload's new incidents: ids allocated in order after the ones before, each incident and
/// its audit entry written; one key already active spoils the batch and writes nothing.
async fn many_incidents_open_in_one_transaction_or_none_do(store: &Store) {
    let first = open(store, "svc-0", 0).await.unwrap();
    assert_eq!(first.id.0, "INC-1");
    let ids = store
        .open_incidents(vec![opening("svc-1"), opening("svc-2"), opening("svc-3")])
        .await
        .unwrap();
    let ids: Vec<&str> = ids.iter().map(|id| id.0.as_str()).collect();
    assert_eq!(ids, ["INC-2", "INC-3", "INC-4"]);
    let third = store
        .get_incident(&IncidentId("INC-3".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (third.id.0.as_str(), third.target.name.as_str()),
        ("INC-3", "svc-2")
    );
    let audit = store.audit_for(&third.id).await.unwrap();
    assert_eq!(
        audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
        ["open"]
    );
    assert_eq!(audit[0].incident_id, Some(third.id.clone()));

    let err = store
        .open_incidents(vec![opening("svc-4"), opening("svc-1")])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DuplicateActive(_)), "{err}");
    assert!(
        store
            .latest_incident_for(&finding("svc-4").dedup_key())
            .await
            .unwrap()
            .is_none(),
        "nothing of the refused batch was written"
    );
    assert_eq!(
        store.next_incident_id().await.unwrap().0,
        "INC-5",
        "the refused batch took no ids"
    );
}

async fn ids_are_sequential_and_never_reused(store: &Store) {
    let first = store.next_incident_id().await.unwrap();
    let second = store.next_incident_id().await.unwrap();
    assert_eq!(first, IncidentId("INC-1".into()));
    assert_eq!(
        second,
        IncidentId("INC-2".into()),
        "a burned id is not handed out again"
    );
}

async fn incidents_round_trip_whole(store: &Store) {
    let mut incident = open(store, "demand-forecast", 0).await.unwrap();
    incident
        .transition(
            IncidentState::Contained,
            Actor::System,
            at(1),
            "rolled back",
        )
        .unwrap();
    store.save_incident(&mut incident).await.unwrap();
    let loaded = store.get_incident(&incident.id).await.unwrap().unwrap();
    assert_eq!(
        loaded, incident,
        "timeline, evidence and measurements survive"
    );
    assert_eq!(
        store
            .get_incident(&IncidentId("INC-999".into()))
            .await
            .unwrap(),
        None
    );
}

async fn one_active_incident_per_dedup_key(store: &Store) {
    let mut first = open(store, "demand-forecast", 0).await.unwrap();
    let duplicate = open(store, "demand-forecast", 1).await.unwrap_err();
    assert!(
        matches!(duplicate, StoreError::DuplicateActive(_)),
        "{duplicate}"
    );
    open(store, "churn-model", 1)
        .await
        .expect("another target is another incident");

    first
        .transition(IncidentState::Resolved, Actor::System, at(5), "ok")
        .unwrap();
    store.save_incident(&mut first).await.unwrap();
    let next = open(store, "demand-forecast", 30)
        .await
        .expect("resolved incidents free the key");
    let latest = store
        .latest_incident_for(&first.dedup_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.id, next.id);
}

async fn concurrent_opens_of_one_key_yield_one_incident(store: &Store) {
    let mut tasks = Vec::new();
    for minute in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(
            async move { open(&store, "storm", minute).await },
        ));
    }
    let mut opened = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => opened += 1,
            Err(StoreError::DuplicateActive(_)) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(opened, 1, "the database admits one active incident per key");
    let listed = store
        .list_incidents(&IncidentFilter::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
}

async fn reopening_cannot_create_a_second_active_incident(store: &Store) {
    let mut old = open(store, "demand-forecast", 0).await.unwrap();
    old.transition(IncidentState::Resolved, Actor::System, at(5), "ok")
        .unwrap();
    store.save_incident(&mut old).await.unwrap();
    open(store, "demand-forecast", 10).await.unwrap();
    old.reopen(&finding("demand-forecast"), at(11)).unwrap();
    let error = store.save_incident(&mut old).await.unwrap_err();
    assert!(matches!(error, StoreError::DuplicateActive(_)), "{error}");
}

async fn listing_filters_and_orders_newest_first(store: &Store) {
    let mut a = open(store, "a", 0).await.unwrap();
    let b = open(store, "b", 1).await.unwrap();
    let c = open(store, "c", 2).await.unwrap();
    a.transition(IncidentState::Resolved, Actor::System, at(3), "ok")
        .unwrap();
    store.save_incident(&mut a).await.unwrap();

    let ids = |incidents: Vec<Incident>| incidents.into_iter().map(|i| i.id.0).collect::<Vec<_>>();
    let all = store
        .list_incidents(&IncidentFilter::default())
        .await
        .unwrap();
    assert_eq!(ids(all), [c.id.0.clone(), b.id.0.clone(), a.id.0.clone()]);
    let active = IncidentFilter {
        active_only: true,
        ..IncidentFilter::default()
    };
    assert_eq!(
        ids(store.list_incidents(&active).await.unwrap()),
        [c.id.0.clone(), b.id.0.clone()]
    );
    let resolved = IncidentFilter {
        states: vec![IncidentState::Resolved, IncidentState::Closed],
        ..IncidentFilter::default()
    };
    assert_eq!(
        ids(store.list_incidents(&resolved).await.unwrap()),
        [a.id.0.clone()]
    );
    let counts = store.count_by_state().await.unwrap();
    assert_eq!(
        counts,
        [("detected".to_string(), 2), ("resolved".to_string(), 1)]
    );
    let one = IncidentFilter {
        limit: 1,
        ..IncidentFilter::default()
    };
    assert_eq!(ids(store.list_incidents(&one).await.unwrap()), [c.id.0]);
}

async fn actions_are_claimed_once_and_keep_their_outcome(store: &Store) {
    let incident = open(store, "demand-forecast", 0).await.unwrap();
    let mut claimed = store
        .claim_action(&incident.id, "rollback", at(1))
        .await
        .unwrap();
    assert_eq!(claimed.status, ActionStatus::Pending);
    claimed.status = ActionStatus::Running;
    claimed.attempts = 1;
    claimed.updated_at = at(2);
    store.update_action(&claimed).await.unwrap();
    claimed.status = ActionStatus::Succeeded;
    claimed.result = Some("champion -> v1".into());
    store.update_action(&claimed).await.unwrap();

    let mut racer = store
        .claim_action(&incident.id, "notify", at(1))
        .await
        .unwrap();
    racer.updated_at = at(2);
    let first = store
        .start_action(&racer, ActionStatus::Pending, 0)
        .await
        .unwrap();
    let second = store
        .start_action(&racer, ActionStatus::Pending, 0)
        .await
        .unwrap();
    assert!(first && !second, "of two racing starts exactly one wins");
    let mut finished = store
        .claim_action(&incident.id, "rollback", at(9))
        .await
        .unwrap();
    assert_eq!(finished.status, ActionStatus::Succeeded);
    finished.updated_at = at(9);
    assert!(
        !store
            .start_action(&finished, ActionStatus::Succeeded, finished.attempts)
            .await
            .unwrap(),
        "a finished action is never started again"
    );
    let started = store
        .claim_action(&incident.id, "notify", at(3))
        .await
        .unwrap();
    assert_eq!(
        (started.status, started.attempts),
        (ActionStatus::Running, 1)
    );

    let again = store
        .claim_action(&incident.id, "rollback", at(9))
        .await
        .unwrap();
    assert_eq!(
        again, claimed,
        "a second claim returns the stored outcome, not a new action"
    );
    store
        .claim_action(&incident.id, "capture-logs", at(3))
        .await
        .unwrap();
    let steps: Vec<String> = store
        .actions_for(&incident.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.step)
        .collect();
    assert_eq!(steps, ["capture-logs", "notify", "rollback"]);
}

async fn approvals_and_audit_keep_their_order(store: &Store) {
    let incident = open(store, "demand-forecast", 0).await.unwrap();
    for (minute, decision) in [(1, Decision::Rejected), (2, Decision::Approved)] {
        store
            .record_approval(&Approval {
                incident_id: incident.id.clone(),
                step: "rollback".into(),
                decision,
                actor: Actor::User("ana".into()),
                reason: format!("decided at {minute}"),
                at: at(minute),
            })
            .await
            .unwrap();
        store
            .append_audit(&AuditEntry {
                at: at(minute),
                actor: Actor::User("ana".into()),
                action: decision.as_str().into(),
                incident_id: Some(incident.id.clone()),
                target: "step/rollback".into(),
                result: "ok".into(),
            })
            .await
            .unwrap();
    }
    let approvals = store.approvals_for(&incident.id).await.unwrap();
    let decisions: Vec<Decision> = approvals.iter().map(|a| a.decision).collect();
    assert_eq!(decisions, [Decision::Rejected, Decision::Approved]);
    let audit = store.audit_for(&incident.id).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["rejected", "approved"]);
    assert!(
        store
            .audit_for(&IncidentId("INC-404".into()))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn migrations_are_idempotent(store: &Store) {
    open(store, "demand-forecast", 0).await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(
        store
            .list_incidents(&IncidentFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn a_stale_save_is_refused_and_nothing_is_lost(store: &Store) {
    let opened = open(store, "demand-forecast", 0).await.unwrap();
    let (mut daemon, mut cli) = (opened.clone(), opened.clone());
    daemon
        .transition(IncidentState::Contained, Actor::System, at(1), "paused")
        .unwrap();
    store.save_incident(&mut daemon).await.unwrap();
    assert_eq!(daemon.revision, 1);
    cli.transition(
        IncidentState::Resolved,
        Actor::User("ana".into()),
        at(2),
        "done",
    )
    .unwrap();
    let error = store.save_incident(&mut cli).await.unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error}");
    let stored = store.get_incident(&opened.id).await.unwrap().unwrap();
    assert_eq!(stored, daemon, "the first writer's change stands, whole");
}
