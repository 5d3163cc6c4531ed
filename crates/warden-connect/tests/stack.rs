//! Integration tests against the real components started by `scripts/stack.sh up`: MLflow's
//! registry (alias moves are the rollback primitive), Redis (Feast's online store), and a
//! connectivity probe of every component of the harness.

use std::time::Duration;

use url::Url;
use warden_config::{
    AirflowConfig, AlertmanagerConfig, Connectors, FeastConfig, HttpEndpoint, MlflowConfig,
    ModelServerConfig, ObjectStoreConfig, PrometheusConfig, SecretRef,
};
use warden_connect::mlflow::is_not_found;
use warden_connect::{MlflowClient, ProbeStatus, RedisClient, probe_connectors};
use warden_testkit::stack;

fn endpoint(url: &str) -> HttpEndpoint {
    HttpEndpoint {
        url: Url::parse(url).expect("stack URLs are valid"),
        timeout: Duration::from_secs(10),
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

#[tokio::test]
async fn mlflow_registry_alias_rollback_round_trip() {
    let Some(url) = stack::require("MLFLOW_URL") else {
        return;
    };
    let client = MlflowClient::from_config(&MlflowConfig {
        endpoint: endpoint(&url),
        token: None,
    })
    .unwrap();
    client.health().await.unwrap();

    let name = unique("demand-forecast");
    client.create_registered_model(&name).await.unwrap();
    let v1 = client
        .create_model_version(&name, "s3://models/demand/v1", None)
        .await
        .unwrap();
    let v2 = client
        .create_model_version(&name, "s3://models/demand/v2", None)
        .await
        .unwrap();
    assert_eq!((v1.version.as_str(), v2.version.as_str()), ("1", "2"));

    // Deploy v2 as champion, then roll back to v1 by moving the alias.
    client.set_alias(&name, "champion", "2").await.unwrap();
    let champion = client
        .get_model_version_by_alias(&name, "champion")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(champion.version, "2");
    client.set_alias(&name, "champion", "1").await.unwrap();
    let model = client.get_registered_model(&name).await.unwrap();
    assert_eq!(model.alias_version("champion"), Some("1"));

    let versions = client.search_model_versions(&name).await.unwrap();
    let numbers: Vec<_> = versions.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(numbers, ["2", "1"], "newest first");

    // Deleting an alias is idempotent, and a missing alias reads as None (MLflow says 400).
    client.delete_alias(&name, "champion").await.unwrap();
    client.delete_alias(&name, "champion").await.unwrap();
    assert_eq!(
        client
            .get_model_version_by_alias(&name, "champion")
            .await
            .unwrap(),
        None
    );

    let missing = client
        .get_registered_model(&unique("no-such-model"))
        .await
        .unwrap_err();
    assert!(is_not_found(&missing), "{missing}");
    assert_eq!(missing.status(), Some(404));
    assert!(
        missing
            .to_string()
            .contains("/api/2.0/mlflow/registered-models/get"),
        "{missing}"
    );
}

#[tokio::test]
async fn redis_round_trip_and_health_info() {
    let Some(url) = stack::require("REDIS_URL") else {
        return;
    };
    let client = RedisClient::connect(&Url::parse(&url).unwrap(), None, Duration::from_secs(5))
        .await
        .unwrap();
    client.ping().await.unwrap();
    let key = unique("warden-test");
    let () = client
        .query(redis::cmd("SET").arg(&key).arg("fresh"))
        .await
        .unwrap();
    let value: String = client.query(redis::cmd("GET").arg(&key)).await.unwrap();
    assert_eq!(value, "fresh");
    let info = client.info().await.unwrap();
    assert!(info.version.starts_with('7'), "redis {}", info.version);
    assert!(info.used_memory_bytes > 0);
    assert!(info.connected_clients >= 1);
}

#[tokio::test]
async fn unreachable_redis_names_its_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = Url::parse(&format!("redis://127.0.0.1:{port}")).unwrap();
    let error = RedisClient::connect(&url, None, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with(&format!("redis://127.0.0.1:{port}")),
        "{error}"
    );
    assert!(error.is_retryable(), "{error:?}");
}

/// Every component of the harness answers Warden's probe: proves both the harness and the
/// probes against the real servers.
#[tokio::test]
async fn every_stack_component_passes_its_probe() {
    let urls: Option<Vec<String>> = [
        "PROMETHEUS_URL",
        "ALERTMANAGER_URL",
        "MLFLOW_URL",
        "MLSERVER_URL",
        "FEAST_URL",
        "FEAST_REGISTRY_URL",
        "REDIS_URL",
        "AIRFLOW_URL",
        "S3_URL",
    ]
    .into_iter()
    .map(stack::require)
    .collect();
    let Some(urls) = urls else { return };
    let password_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        password_file.path(),
        stack::require("AIRFLOW_PASSWORD").unwrap(),
    )
    .unwrap();
    let mut connectors = Connectors {
        prometheus: Some(PrometheusConfig {
            endpoint: endpoint(&urls[0]),
        }),
        alertmanager: Some(AlertmanagerConfig {
            endpoint: endpoint(&urls[1]),
            webhook_secret: None,
        }),
        mlflow: Some(MlflowConfig {
            endpoint: endpoint(&urls[2]),
            token: None,
        }),
        model_server: Some(ModelServerConfig {
            endpoint: endpoint(&urls[3]),
            model: "demand-forecast".into(),
            metrics_url: None,
        }),
        feast: Some(FeastConfig {
            endpoint: endpoint(&urls[4]),
            registry_url: Some(Url::parse(&urls[5]).unwrap()),
            registry_path: None,
            project: "warden_demo".into(),
            redis_url: Some(Url::parse(&urls[6]).unwrap()),
            redis_password: None,
            proxy_url: None,
            proxy_token: None,
            repo: None,
            sla: std::time::Duration::from_secs(900),
            check_every: None,
            materialization_dag: None,
            materialization_cronjob: None,
            online_store_workload: None,
            requests_query: None,
        }),
        airflow: Some(AirflowConfig {
            endpoint: endpoint(&urls[7]),
            username: stack::require("AIRFLOW_USER").unwrap(),
            password: SecretRef::File(password_file.path().to_path_buf()),
        }),
        object_store: Some(ObjectStoreConfig {
            endpoint: Some(Url::parse(&urls[8]).unwrap()),
            region: "us-east-1".into(),
            access_key_id: None,
            secret_access_key: None,
        }),
        ..Connectors::default()
    };
    let reports = probe_connectors(&connectors).await;
    let components: Vec<&str> = reports.iter().map(|r| r.component.as_str()).collect();
    assert_eq!(
        components,
        [
            "prometheus",
            "alertmanager",
            "mlflow",
            "model_server",
            "feast",
            "feast.registry",
            "feast.redis",
            "airflow",
            "object_store"
        ]
    );
    for report in &reports {
        assert_eq!(report.status, ProbeStatus::Ok, "{report:?}");
    }
    let airflow = reports.iter().find(|r| r.component == "airflow").unwrap();
    assert!(
        airflow.detail.contains("authenticated as admin"),
        "{}",
        airflow.detail
    );

    // A wrong password is a failed probe that says so, and does not show the password.
    std::fs::write(password_file.path(), "wrong-password-123").unwrap();
    connectors.airflow.as_mut().unwrap().password =
        SecretRef::File(password_file.path().to_path_buf());
    let only_airflow = Connectors {
        airflow: connectors.airflow.clone(),
        ..Connectors::default()
    };
    let reports = probe_connectors(&only_airflow).await;
    assert_eq!(reports[0].status, ProbeStatus::Failed);
    assert!(
        reports[0].detail.contains("authentication as admin failed"),
        "{}",
        reports[0].detail
    );
    assert!(!reports[0].detail.contains("wrong-password-123"));
}
