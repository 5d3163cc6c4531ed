//! The simulated Feast read by Warden's own Feast clients (registry REST, feature server,
//! Redis through the `redis` crate): a view is never materialized, then fresh, then stale as
//! the clock passes the SLA, and the online rows read from Redis are the ones written.
#![allow(clippy::unwrap_used)] // a shared helper outside the #[test] function

use std::time::Duration;

use chrono::TimeZone;
use serde_json::json;
use warden_config::HttpEndpoint;
use warden_feast::freshness::FreshnessStatus;
use warden_feast::status::{self, FeastSources, StatusOptions};
use warden_feast::{FeatureServerClient, RegistryClient, RegistrySource};
use warden_sim::feast::{FeastSim, Row, ViewSpec};

fn view() -> ViewSpec {
    ViewSpec {
        project: "demand".into(),
        name: "store_daily_features".into(),
        entity: "store_id".into(),
        features: vec![
            ("price".into(), "DOUBLE".into()),
            ("promo".into(), "INT64".into()),
        ],
        ttl_seconds: 8 * 24 * 3600,
        source_uri: "data/store_daily_features.csv".into(),
        timestamp_field: "event_timestamp".into(),
    }
}

fn sources(sim: &FeastSim) -> FeastSources {
    let endpoint = HttpEndpoint {
        url: sim.url().parse().unwrap(),
        timeout: Duration::from_secs(5),
    };
    FeastSources {
        registry: RegistrySource::Rest(RegistryClient::new(&endpoint, "demand").unwrap()),
        feature_server: Some(FeatureServerClient::new(&endpoint).unwrap()),
        redis_url: Some(sim.redis_url().parse().unwrap()),
        redis_password: None,
        timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn warden_reads_freshness_store_health_and_rows_from_the_simulated_feast() {
    let sim = FeastSim::start(view(), None).await.unwrap();
    let sources = sources(&sim);
    let options = StatusOptions {
        sla: Duration::from_secs(15 * 60),
        ..StatusOptions::default()
    };
    let at = |h: u32, m: u32| chrono::Utc.with_ymd_and_hms(2026, 11, 20, h, m, 0).unwrap();

    let never = status::collect(&sources, &options, at(9, 0)).await.unwrap();
    assert!(!never.ok);
    assert_eq!(never.views[0].status, FreshnessStatus::Stale);
    let store = never.store.as_ref().expect("Redis was read");
    assert!(store.reachable && store.problems.is_empty(), "{store:?}");

    let monday = at(0, 0) - chrono::Duration::days(4);
    let rows: Vec<Row> = (1..=3)
        .map(|id| Row {
            entity: id,
            event_time: monday,
            values: vec![json!(4.5 + id as f64), json!(id % 2)],
        })
        .collect();
    sim.materialize(at(9, 50), at(10, 0), &rows).unwrap();
    assert_eq!(sim.materialized_until(), Some(at(10, 0)));

    let fresh = status::collect(&sources, &options, at(10, 5))
        .await
        .unwrap();
    assert!(fresh.ok, "{:?}", fresh.views);
    assert_eq!(fresh.views[0].sampled_entities, 3, "entities found by SCAN");
    assert_eq!(fresh.views[0].newest_event_time, Some(monday));
    let stored = &fresh.sampled_rows["store_daily_features"]["store_id=2"];
    assert_eq!(stored["price"], json!(6.5));
    assert_eq!(stored["promo"], json!(0));
    assert!(fresh.feature_server.as_ref().is_some_and(|s| s.ok));

    let stale = status::collect(&sources, &options, at(10, 30))
        .await
        .unwrap();
    assert!(!stale.ok);
    assert_eq!(stale.views[0].status, FreshnessStatus::Stale);
    assert!(
        stale.views[0].problems[0].contains("30m behind"),
        "{:?}",
        stale.views[0].problems
    );

    // The feature server answers what the predictor would get, in Feast's column shape.
    let server = FeatureServerClient::new(&HttpEndpoint {
        url: sim.url().parse().unwrap(),
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let answer = server
        .get_online_features(&warden_feast::online::OnlineRequest {
            features: vec!["store_daily_features:price".into()],
            entities: [("store_id".to_string(), vec![json!(3), json!(99)])].into(),
            full_feature_names: false,
        })
        .await
        .unwrap();
    assert_eq!(answer.results[1].values, vec![json!(7.5), json!(null)]);
    assert_eq!(
        answer.results[1].event_timestamps[1], "1970-01-01T00:00:00Z",
        "a missing entity is reported at the epoch"
    );
    // A value that does not fit its type is refused and nothing is written.
    let bad = Row {
        entity: 9,
        event_time: monday,
        values: vec![json!("cheap"), json!(1)],
    };
    let err = sim.materialize(at(10, 0), at(10, 10), &[bad]).unwrap_err();
    assert!(err.contains("store_id=9 price"), "{err}");
    assert_eq!(sim.materialized_until(), Some(at(10, 0)));
}
