//! The feature proxy's edges without Feast: an unreachable feature server with nothing cached
//! gives honest `NOT_FOUND`s (never invented values), garbage requests get a 422 naming the
//! problem, mode changes need the control token when one is set, and /metrics counts it all.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use warden_config::{HttpEndpoint, Secret};
use warden_feast::FeatureServerClient;
use warden_feast::proxy::{FeatureProxy, ProxyMode, ProxySettings};

async fn serve(proxy: Arc<FeatureProxy>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, proxy.router()).into_future());
    url
}

#[tokio::test]
async fn without_feast_and_cache_the_proxy_says_not_found_and_guards_its_mode() {
    let upstream = FeatureServerClient::new(&HttpEndpoint {
        url: "http://127.0.0.1:9".parse().unwrap(),
        timeout: Duration::from_millis(500),
    })
    .unwrap();
    let settings = ProxySettings {
        control_token: Some(Secret::new("let-me-in")),
        ..ProxySettings::default()
    };
    let proxy = Arc::new(FeatureProxy::new(upstream, settings, ProxyMode::Auto));
    let url = serve(proxy.clone()).await;
    let client = reqwest::Client::new();

    let answer: Value = client
        .post(format!("{url}/get-online-features"))
        .json(&json!({"features": ["v:f"], "entities": {"id": [1, 2]}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["results"][1]["values"], json!([null, null]));
    assert_eq!(
        answer["results"][1]["statuses"],
        json!(["NOT_FOUND", "NOT_FOUND"])
    );
    assert_eq!(answer["metadata"]["feature_names"], json!(["id", "f"]));
    assert!(
        answer["warden"]["reason"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:9"),
        "{answer}"
    );

    let garbage = client
        .post(format!("{url}/get-online-features"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 422);
    assert!(garbage.text().await.unwrap().contains("request body"));

    let refused = client
        .post(format!("{url}/warden/mode"))
        .json(&json!({"mode": "fallback"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(proxy.mode(), ProxyMode::Auto);
    let accepted = client
        .post(format!("{url}/warden/mode"))
        .bearer_auth("let-me-in")
        .json(&json!({"mode": "fallback"}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    assert_eq!(proxy.mode(), ProxyMode::Fallback);

    let metrics = client
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("# TYPE warden_feature_proxy_requests_total counter"));
    assert!(
        metrics.contains("warden_feature_proxy_upstream_errors_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("warden_feature_proxy_missing_values_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("warden_feature_proxy_fallback_mode 1"),
        "{metrics}"
    );
}
