//! Each runbook-2 cause judged from evidence shaped like the daemon's collectors write it:
//! confirmed with the numbers and the fix when the evidence supports it, refuted with the
//! numbers when it does not (R2.2–R2.7).

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use warden_serving::causes::{
    self, DeploymentChange, DeploymentHistory, FeatureLatency, TrafficRate,
};

fn spike() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T03:10:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn history(minutes_before: i64) -> DeploymentHistory {
    DeploymentHistory {
        window_seconds: 3600,
        changes: vec![
            DeploymentChange {
                at: spike() - Duration::days(6),
                source: "kserve".into(),
                what: "revision demand-forecast-predictor-00001".into(),
                detail: "s3://models/demand-forecast/1".into(),
            },
            DeploymentChange {
                at: spike() - Duration::minutes(minutes_before),
                source: "kserve".into(),
                what: "revision demand-forecast-predictor-00002".into(),
                detail: "s3://models/demand-forecast/2, 10% of traffic".into(),
            },
        ],
        unavailable: vec![],
    }
}

#[test]
fn a_deployment_just_before_the_spike_is_blamed_and_an_old_one_is_not() {
    let recent = causes::recent_deployment(&history(4), spike());
    assert!(recent.confirmed);
    assert!(recent.score > 0.9, "{}", recent.score);
    assert!(
        recent.explanation.contains("00002") && recent.explanation.contains("4 min before"),
        "{}",
        recent.explanation
    );
    assert!(
        recent.explanation.contains("canaryTrafficPercent"),
        "the fix is named: {}",
        recent.explanation
    );

    let old = causes::recent_deployment(&history(90), spike());
    assert!(!old.confirmed);
    assert!(
        old.explanation.contains("90 min before"),
        "{}",
        old.explanation
    );

    // A deployment after the spike started did not cause it.
    let after = causes::recent_deployment(&history(-10), spike());
    assert!(!after.confirmed, "{}", after.explanation);
}

fn hpa(current: i64, desired: i64, max: i64, limited_minutes: Option<i64>) -> serde_json::Value {
    let mut conditions =
        vec![json!({"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"})];
    if let Some(minutes) = limited_minutes {
        conditions.push(
            json!({"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas",
                               "since": (spike() - Duration::minutes(minutes)).to_rfc3339()}),
        );
    }
    json!({"current_replicas": current, "desired_replicas": desired, "max_replicas": max,
           "min_replicas": 1, "last_scale_time": (spike() - Duration::minutes(20)).to_rfc3339(),
           "conditions": conditions})
}

#[test]
fn the_autoscaler_lags_when_pinned_at_max_or_behind_for_long_enough() {
    let lag = std::time::Duration::from_secs(300);
    let pinned = causes::autoscaler_lagging(&hpa(3, 3, 3, Some(8)), spike(), lag);
    assert!(
        pinned.confirmed && pinned.explanation.contains("maximum of 3"),
        "{}",
        pinned.explanation
    );
    let briefly = causes::autoscaler_lagging(&hpa(3, 3, 3, Some(2)), spike(), lag);
    assert!(!briefly.confirmed, "{}", briefly.explanation);
    let behind = causes::autoscaler_lagging(&hpa(2, 5, 10, None), spike(), lag);
    assert!(
        behind.confirmed && behind.explanation.contains("wants 5"),
        "{}",
        behind.explanation
    );
    let fine = causes::autoscaler_lagging(&hpa(2, 2, 10, None), spike(), lag);
    assert!(!fine.confirmed && fine.explanation.contains("keeps up"));
}

#[test]
fn traffic_spikes_and_capacity() {
    let surge = TrafficRate {
        current_rps: Some(120.0),
        baseline_rps: Some(30.0),
        queries: vec![],
    };
    let calm = TrafficRate {
        current_rps: Some(33.0),
        baseline_rps: Some(30.0),
        queries: vec![],
    };
    assert!(causes::traffic_spike(&surge, 2.0).unwrap().confirmed);
    assert!(!causes::traffic_spike(&calm, 2.0).unwrap().confirmed);
    let no_baseline = TrafficRate {
        current_rps: Some(5.0),
        baseline_rps: None,
        queries: vec![],
    };
    assert!(
        causes::traffic_spike(&no_baseline, 2.0).is_none(),
        "no baseline: undecided"
    );

    let over = causes::traffic_beyond_capacity(&surge, &hpa(3, 3, 3, Some(8))).unwrap();
    assert!(
        over.confirmed && over.explanation.contains("maxReplicas"),
        "{}",
        over.explanation
    );
    assert!(
        !causes::traffic_beyond_capacity(&surge, &hpa(2, 2, 10, None))
            .unwrap()
            .confirmed
    );
}

fn pods(min_replicas: i64, created_minutes: i64, oom: bool, log: &str) -> serde_json::Value {
    let created = spike() - Duration::minutes(created_minutes);
    json!({
        "min_replicas": min_replicas,
        "pods": [{
            "name": "demand-forecast-predictor-00002-x", "phase": "Running", "ready": true,
            "created": created.to_rfc3339(),
            "ready_since": (created + Duration::seconds(95)).to_rfc3339(),
            "containers": [{"name": "kserve-container", "ready": true, "restarts": if oom {1} else {0},
                            "last_terminated_reason": if oom {json!("OOMKilled")} else {json!(null)},
                            "last_exit_code": if oom {json!(137)} else {json!(null)}}]
        }],
        "logs": {"demand-forecast-predictor-00002-x": log},
        "previous_logs": {}
    })
}

#[test]
fn cold_starts_model_loading_and_downstream_timeouts_from_pods_and_logs() {
    let cold = causes::cold_start(&pods(0, 3, false, ""), spike());
    assert!(
        cold.confirmed && cold.explanation.contains("minReplicas"),
        "{}",
        cold.explanation
    );
    let warm = causes::cold_start(&pods(1, 3, false, ""), spike());
    assert!(!warm.confirmed && warm.explanation.contains("never scales to zero"));

    let oom = causes::model_load_time(&pods(1, 30, true, ""));
    assert!(
        oom.confirmed && oom.explanation.contains("OOMKilled"),
        "{}",
        oom.explanation
    );
    assert!(
        oom.explanation.contains("took 95 s to become ready"),
        "{}",
        oom.explanation
    );

    let log = "INFO predict\nERROR requests.exceptions.ReadTimeout: HTTPConnectionPool(host='pricing', port=80): Read timed out. (read timeout=2)\n";
    let timeout = causes::downstream_timeout(&pods(1, 30, false, log));
    assert!(
        timeout.confirmed && timeout.explanation.contains("ReadTimeout"),
        "{}",
        timeout.explanation
    );
    assert!(!causes::downstream_timeout(&pods(1, 30, false, "INFO all good\n")).confirmed);
}

#[test]
fn feature_store_latency_against_a_limit() {
    let slow = FeatureLatency {
        p95_ms: Some(180.0),
        source: "feast get-online-features, 20 requests".into(),
    };
    assert!(
        causes::feature_store_latency(&slow, 50.0)
            .unwrap()
            .confirmed
    );
    let fast = FeatureLatency {
        p95_ms: Some(12.0),
        source: "x".into(),
    };
    assert!(
        !causes::feature_store_latency(&fast, 50.0)
            .unwrap()
            .confirmed
    );
    let unknown = FeatureLatency {
        p95_ms: None,
        source: "not configured".into(),
    };
    assert!(causes::feature_store_latency(&unknown, 50.0).is_none());
}
