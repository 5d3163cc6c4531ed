//! Two `warden up` replicas on the harness's real PostgreSQL, with a runbook whose containment
//! is an automatic `notify` to a receiver that records every execution at the target. Both
//! replicas ingest and serve; one leads and acts. The follower's webhook opens the incident and
//! the leader acts on it; the leader is paused (SIGSTOP) past its lease, the follower takes
//! over with a higher epoch and acts on the next alert; the old leader is resumed and acts on
//! nothing, not even the alert it receives itself. Every action executes exactly once.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::replicas::{Executions, alert, executed, receiver, replica, role, write_setup};
use common::{free_port, wait_ready};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_acts_and_a_stalled_leader_acts_on_nothing_after_the_takeover() {
    let Some(url) = warden_testkit::stack::require("POSTGRES_URL") else {
        return;
    };
    let executions: Executions = Executions::default();
    let sink = receiver(executions.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_setup(root, &url, sink);
    let http = reqwest::Client::new();
    let (port_a, port_b) = (free_port(), free_port());
    let (a, b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    let first = replica(root, "replica-a", port_a);
    wait_ready(&http, &a).await;
    let _second = replica(root, "replica-b", port_b);
    wait_ready(&http, &b).await;
    assert_eq!(
        (role(&http, &a).await, role(&http, &b).await),
        ("leader".into(), "follower".into())
    );

    // The follower ingests; the leader acts.
    let one = alert(&http, &b, "svc-1").await;
    executed(&executions, &one, Duration::from_secs(10)).await;

    // The leader stalls past its lease; the follower takes over.
    let status = Command::new("kill")
        .args(["-STOP", &first.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    while role(&http, &b).await != "leader" {
        assert!(Instant::now() < deadline, "replica-b did not take over");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let two = alert(&http, &b, "svc-2").await;
    executed(&executions, &two, Duration::from_secs(10)).await;

    // The old leader wakes up: it acts on nothing, not even an alert sent to it.
    let status = Command::new("kill")
        .args(["-CONT", &first.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let three = alert(&http, &a, "svc-3").await;
    executed(&executions, &three, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(role(&http, &a).await, "follower");
    let counts = executions.lock().unwrap().clone();
    assert_eq!(
        counts,
        BTreeMap::from([(one, 1), (two, 1), (three, 1)]),
        "every action exactly once; replica-a's log:\n{}",
        std::fs::read_to_string(root.join("replica-a.log")).unwrap_or_default()
    );
    let metrics = http
        .get(format!("{b}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("warden_leader 1") && metrics.contains("warden_lease_epoch 2"),
        "{metrics}"
    );
    let log = std::fs::read_to_string(root.join("replica-b.log")).unwrap();
    assert!(
        log.contains("replica-a leads") && log.contains("does not act"),
        "{log}"
    );
}
