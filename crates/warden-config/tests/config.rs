//! Black-box tests of `warden.yaml` loading: the example file is valid, and every kind of bad
//! input yields an error naming file, line, column and field.

use std::path::{Path, PathBuf};
use std::time::Duration;

use warden_config::{ConfigError, SecretRef, StoreConfig, parse};

fn errors(yaml: &str) -> Vec<ConfigError> {
    parse(Path::new("conf/warden.yaml"), yaml)
        .expect_err("configuration should be rejected")
        .0
}

fn only_error(yaml: &str) -> ConfigError {
    let mut errors = errors(yaml);
    assert_eq!(errors.len(), 1, "expected one error, got {errors:?}");
    errors.remove(0)
}

#[test]
fn the_example_file_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../warden.example.yaml");
    let config = warden_config::load(&path).unwrap_or_else(|errors| panic!("{errors}"));
    let base = path.parent().unwrap();
    assert_eq!(
        config.store,
        StoreConfig::Sqlite {
            path: base.join("warden-data").join("warden.db")
        }
    );
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8181");
    assert_eq!(
        config.connectors.configured(),
        [
            "prometheus",
            "alertmanager",
            "mlflow",
            "model_server",
            "feast",
            "airflow",
            "kfp",
            "kubernetes",
            "object_store"
        ]
    );
    let airflow = config.connectors.airflow.as_ref().unwrap();
    assert_eq!(
        airflow.password,
        SecretRef::Env("WARDEN_AIRFLOW_PASSWORD".into())
    );
    assert_eq!(airflow.endpoint.timeout, Duration::from_secs(10));
    let kubernetes = config.connectors.kubernetes.as_ref().unwrap();
    assert_eq!(kubernetes.kubeconfig, Some(PathBuf::from("~/.kube/config")));
    let service = &config.serving[0];
    assert_eq!(service.name, "demand-forecast");
    assert_eq!(
        service.hpa_name().as_deref(),
        Some("demand-forecast-predictor")
    );
    let burn = service.burn_rate.as_ref().unwrap();
    assert_eq!(
        (burn.objective, burn.windows.len()),
        (0.99, 2),
        "default objective and SRE pairs"
    );
}

#[test]
fn serving_entries_are_validated_with_their_line() {
    let kube = "connectors:\n  kubernetes: {kubeconfig: k}\n";
    let error = only_error(&format!(
        "{kube}serving:\n  - name: a\n    inference_service: a\n    error_rate: 1.5\n"
    ));
    assert_eq!(
        (error.line, error.field.as_str()),
        (6, "serving[0].error_rate")
    );
    assert!(error.message.contains("between 0 and 1"), "{error}");

    let error = only_error("serving:\n  - name: a\n    inference_service: a\n");
    assert_eq!(error.field, "serving[0].inference_service");
    assert!(error.message.contains("needs connectors.kubernetes"));

    let error = only_error(&format!(
        "{kube}serving:\n  - name: a\n    burn_rate:\n      windows:\n        - {{long: 5m, short: 1h, factor: 14.4}}\n"
    ));
    assert_eq!(error.field, "serving[0].burn_rate.windows[0]");
    assert!(error.message.contains("short < long"), "{error}");

    let error = only_error("serving:\n  - name: a\n    queries: {p99: 'x'}\n");
    assert_eq!(error.field, "serving[0].queries.p99");
    assert!(error.message.contains("latency_p95_ms"), "{error}");

    let error = only_error("serving:\n  - name: a\n  - name: a\n");
    assert_eq!((error.line, error.field.as_str()), (3, "serving[1].name"));
}

#[test]
fn model_entries_are_validated_with_their_line_and_get_defaults() {
    let error = only_error(
        "models:\n  - name: demand-forecast\n    predictions: logs/\n    actuals: actuals.csv\n",
    );
    assert_eq!(
        (error.line, error.field.as_str()),
        (4, "models[0].columns.keys")
    );
    let error = only_error("models:\n  - name: m\n    predictions: logs/\n    metric: r2\n");
    assert_eq!((error.line, error.field.as_str()), (4, "models[0].metric"));
    assert!(error.message.contains("wape"), "{error}");
    let error = only_error("models:\n  - name: m\n    predictions: logs/\n    min_effect: -1\n");
    assert_eq!(error.field, "models[0].min_effect");
    let error = only_error(
        "models:\n  - name: m\n    predictions: logs/\n    business: {query: 'sum(rate(orders[5m]))'}\n",
    );
    assert_eq!(
        (error.line, error.field.as_str()),
        (4, "models[0].business")
    );
    assert!(error.message.contains("connectors.prometheus"), "{error}");
    let error = only_error(
        "models:\n  - name: m\n    predictions: logs/\n    business: {higher_is_better: true}\n",
    );
    assert!(error.message.contains("query (PromQL) or data"), "{error}");
    let error = only_error(
        "models:\n  - name: m\n    predictions: logs/\n    alias: champion\n    stage: Production\n",
    );
    assert_eq!(error.field, "models[0].stage");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warden.yaml");
    std::fs::write(
        &path,
        "models:\n  - name: m\n    predictions: s3://logs/m/\n    actuals: actuals.csv\n    training_data: train/v{version}.parquet\n    columns: {keys: [store_id, date]}\n",
    )
    .unwrap();
    let config = warden_config::load(&path).unwrap_or_else(|errors| panic!("{errors}"));
    let model = &config.models[0];
    assert_eq!(model.alias, "champion");
    assert_eq!(model.metric, "wape");
    assert_eq!(model.predictions, "s3://logs/m/");
    assert_eq!(
        model.actuals.as_deref(),
        Some(dir.path().join("actuals.csv").to_str().unwrap())
    );
    assert_eq!(
        model.training_data_of("2").as_deref(),
        Some(dir.path().join("train/v2.parquet").to_str().unwrap())
    );
    assert_eq!(model.columns.prediction, "prediction");
}

#[test]
fn pipeline_entries_need_airflow_and_are_named_with_their_line() {
    let error = only_error("pipelines:\n  - name: training\n    airflow_dag: training\n");
    assert_eq!(
        (error.line, error.field.as_str()),
        (3, "pipelines[0].airflow_dag")
    );
    assert!(error.message.contains("connectors.airflow"), "{error}");
    let airflow =
        "connectors:\n  airflow: {url: 'http://127.0.0.1:8080', username: a, password: {env: P}}\n";
    let error = only_error(&format!(
        "{airflow}pipelines:\n  - name: t\n    airflow_dag: t\n    check_every: 0s\n"
    ));
    assert_eq!(error.field, "pipelines[0].check_every");
}

#[test]
fn a_pipeline_runs_on_airflow_or_kfp_and_says_which_runs_are_its() {
    let error = only_error("pipelines:\n  - name: training\n    kfp: {recurring_run_id: rr-1}\n");
    assert_eq!((error.line, error.field.as_str()), (3, "pipelines[0].kfp"));
    assert!(error.message.contains("connectors.kfp"), "{error}");
    let kfp = "connectors:\n  kfp: {url: 'http://127.0.0.1:8888', namespace: kubeflow}\n";
    let error = only_error(&format!("{kfp}pipelines:\n  - name: t\n    kfp: {{}}\n"));
    assert_eq!(error.field, "pipelines[0].kfp");
    assert!(error.message.contains("recurring_run_id"), "{error}");
    let error = only_error(&format!("{kfp}pipelines:\n  - name: t\n"));
    assert!(error.message.contains("where does it run"), "{error}");
    let config = parse(
        Path::new("/etc/warden/warden.yaml"),
        &format!("{kfp}pipelines:\n  - name: t\n    kfp: {{experiment_id: e-1, recurring_run_id: rr-1}}\n"),
    )
    .unwrap();
    assert_eq!(
        config.pipelines[0].source,
        warden_config::PipelineSource::Kfp {
            experiment_id: Some("e-1".into()),
            recurring_run_id: Some("rr-1".into())
        }
    );
    assert_eq!(
        config.pipelines[0].source.describe(),
        "KFP recurring run rr-1"
    );
}

#[test]
fn drift_monitors_are_validated_with_their_line_and_get_defaults() {
    let monitor = "drift_monitors:\n  - name: m\n    predictions: logs/\n";
    let error = only_error(monitor);
    assert_eq!(
        (error.line, error.field.as_str()),
        (2, "drift_monitors[0].reference")
    );
    assert!(error.message.contains("reference_window"), "{error}");
    let error = only_error(&format!(
        "{monitor}    reference: ref.parquet\n    profile: ref.profile.json\n"
    ));
    assert!(
        error.message.contains("one of reference, profile"),
        "{error}"
    );
    let error = only_error(&format!(
        "{monitor}    reference: ref.parquet\n    seasonal: weekly\n"
    ));
    assert_eq!(
        (error.line, error.field.as_str()),
        (5, "drift_monitors[0].seasonal")
    );
    let error = only_error(&format!(
        "{monitor}    reference: ref.parquet\n    alerts: {{query: 'sum(drift_alerts)'}}\n"
    ));
    assert_eq!(error.field, "drift_monitors[0].alerts.query");
    assert!(error.message.contains("connectors.prometheus"), "{error}");
    let error = only_error(&format!(
        "{monitor}    reference: ref.parquet\n    alerts: {{window: 7d, history: 1d}}\n"
    ));
    assert_eq!(error.field, "drift_monitors[0].alerts.history");
    let error = only_error(&format!(
        "{monitor}    reference: ref.parquet\n    backtest: {{labels: l.csv, recall: 1.5}}\n"
    ));
    assert_eq!(error.field, "drift_monitors[0].backtest.recall");
    let error = only_error(&format!(
        "{monitor}    reference: ref.parquet\n    retraining: {{airflow_dag: retrain, webhook: 'http://x'}}\n"
    ));
    assert_eq!(error.field, "drift_monitors[0].retraining");
    let error = only_error(&format!(
        "{monitor}    reference: ref.parquet\n    retraining: {{airflow_dag: retrain}}\n"
    ));
    assert!(error.message.contains("connectors.airflow"), "{error}");
    let error = only_error(&format!(
        "connectors:\n  prometheus: {{url: 'http://127.0.0.1:9'}}\n{monitor}    reference: ref.parquet\n    alerts: {{query: 'sum(drift_alerts)'}}\n    retraining: {{webhook: 'http://127.0.0.1:9/r', review: true}}\n"
    ));
    assert_eq!(error.field, "drift_monitors[0].retraining.review");
    assert!(error.message.contains("own runs"), "{error}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warden.yaml");
    std::fs::write(
        &path,
        "drift_monitors:\n  - name: m\n    predictions: s3://logs/m/\n    reference_window: 28d\n    backtest: {labels: labels.csv}\n    retraining: {webhook: 'http://127.0.0.1:9/retrain', review: true}\n",
    )
    .unwrap();
    let config = warden_config::load(&path).unwrap_or_else(|errors| panic!("{errors}"));
    let monitor = &config.drift_monitors[0];
    assert!(monitor.review_retraining);
    assert_eq!(
        monitor.reference,
        warden_config::DriftReference::Sliding {
            window: Duration::from_secs(28 * 86_400)
        }
    );
    assert_eq!(monitor.window, Duration::from_secs(86_400));
    assert_eq!(monitor.alerts.factor, 3.0);
    let backtest = monitor.backtest.as_ref().unwrap();
    assert_eq!((backtest.precision, backtest.recall), (0.8, 0.8));
    assert_eq!(backtest.history, "s3://logs/m/", "the logs by default");
    assert_eq!(
        backtest.labels,
        dir.path().join("labels.csv").display().to_string()
    );
}

#[test]
fn a_minimal_file_gets_safe_defaults() {
    let config = parse(Path::new("/etc/warden/warden.yaml"), "version: 1\n").unwrap();
    assert_eq!(
        config.store,
        StoreConfig::Sqlite {
            path: PathBuf::from("/etc/warden/warden-data/warden.db")
        }
    );
    assert!(
        config.server.listen.ip().is_loopback(),
        "never listen publicly by default"
    );
    assert!(config.connectors.configured().is_empty());
}

#[test]
fn unknown_field_is_located_with_its_path() {
    let error =
        only_error("connectors:\n  mlflow:\n    url: http://127.0.0.1:5000\n    timout: 5s\n");
    assert_eq!((error.line, error.column), (4, 5));
    assert_eq!(error.field, "connectors.mlflow.timout");
    assert!(
        error.message.contains("unknown field `timout`"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("timeout"),
        "suggests the known fields: {}",
        error.message
    );
    assert_eq!(
        error.to_string(),
        format!(
            "conf/warden.yaml:4:5: connectors.mlflow.timout: {}",
            error.message
        )
    );
}

#[test]
fn unknown_connector_is_rejected() {
    let error = only_error("connectors:\n  grafana:\n    url: http://x\n");
    assert_eq!((error.line, error.column), (2, 3));
    assert_eq!(error.field, "connectors.grafana");
}

#[test]
fn wrong_type_is_located() {
    let error =
        only_error("store:\n  postgres:\n    url: {env: PG_URL}\n    max_connections: many\n");
    assert_eq!((error.line, error.column), (4, 22));
    assert_eq!(error.field, "store.postgres.max_connections");
}

#[test]
fn yaml_syntax_error_is_located() {
    let error = only_error("server:\n  listen: [127.0.0.1:8181\nconnectors: {}\n");
    assert!(error.line >= 2, "points into the file: {error}");
    assert!(error.column > 0);
}

#[test]
fn missing_required_field_names_the_parent() {
    let error = only_error("connectors:\n  feast:\n    url: http://127.0.0.1:6566\n");
    assert_eq!(error.field, "connectors.feast");
    assert!(
        error.message.contains("missing field `project`"),
        "{}",
        error.message
    );
    assert_eq!(error.line, 3);
}

#[test]
fn invalid_values_are_all_reported_at_their_lines() {
    let yaml = "\
server:
  listen: localhost
connectors:
  prometheus:
    url: htp//prometheus:9090
    timeout: 5 minutes
  mlflow:
    url: ftp://mlflow:5000
  airflow:
    url: http://airflow:8080
    username: admin
    password: {env: AIRFLOW PASSWORD}
";
    let errors = errors(yaml);
    let located: Vec<(u64, &str)> = errors
        .iter()
        .map(|error| (error.line, error.field.as_str()))
        .collect();
    assert_eq!(
        located,
        [
            (2, "server.listen"),
            (5, "connectors.prometheus.url"),
            (6, "connectors.prometheus.timeout"),
            (8, "connectors.mlflow.url"),
            (12, "connectors.airflow.password.env"),
        ]
    );
    assert!(
        errors[2].message.contains("unknown unit"),
        "{}",
        errors[2].message
    );
    assert!(
        errors[3].message.contains("expected http or https"),
        "{}",
        errors[3].message
    );
    assert_eq!(errors[1].column, 10, "points at the value, not the key");
}

#[test]
fn credentials_in_urls_are_refused() {
    let error = only_error("connectors:\n  mlflow:\n    url: http://admin:hunter2@mlflow:5000\n");
    assert_eq!(error.field, "connectors.mlflow.url");
    assert!(error.message.contains("secret reference"));
    assert!(
        !error.message.contains("hunter2"),
        "the message must not echo the password"
    );
}

#[test]
fn secret_reference_needs_exactly_one_source() {
    let both = only_error("store:\n  postgres:\n    url: {env: A, file: b}\n");
    assert_eq!(both.field, "store.postgres.url");
    assert_eq!(both.line, 3);
    let neither = only_error("store:\n  postgres:\n    url: {}\n");
    assert!(neither.message.contains("exactly one"));
}

#[test]
fn store_needs_exactly_one_backend() {
    let error = only_error("store:\n  sqlite: {path: a.db}\n  postgres: {url: {env: PG}}\n");
    assert_eq!(error.field, "store");
    assert_eq!(error.line, 2);
}

#[test]
fn timeouts_are_bounded() {
    let zero = only_error("connectors:\n  prometheus:\n    url: http://p:9090\n    timeout: 0s\n");
    assert!(zero.message.contains("greater than zero"));
    let huge = only_error("connectors:\n  prometheus:\n    url: http://p:9090\n    timeout: 2h\n");
    assert!(huge.message.contains("10m limit"));
}

#[test]
fn unknown_disabled_runbook_is_rejected() {
    let error = only_error("runbooks:\n  disabled: [serving-latency, servng-latency]\n");
    assert_eq!(error.field, "runbooks.disabled");
    assert_eq!((error.line, error.column), (2, 31));
}

#[test]
fn empty_file_and_unsupported_version() {
    let empty = only_error("  \n");
    assert_eq!((empty.line, empty.column), (1, 1));
    assert!(empty.message.contains("empty"));
    let version = only_error("version: 2\n");
    assert_eq!(version.field, "version");
}

#[test]
fn secrets_serialize_as_references_only() {
    let config = parse(
        Path::new("w.yaml"),
        "connectors:\n  airflow:\n    url: http://a:8080\n    username: admin\n    password: {env: AF_PASS}\n",
    )
    .unwrap();
    let json = serde_json::to_string(&config).unwrap();
    assert!(json.contains(r#""password":{"env":"AF_PASS"}"#), "{json}");
}

#[test]
fn unreadable_file_names_the_path() {
    let error = warden_config::load(Path::new("/nonexistent/warden.yaml")).unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("/nonexistent/warden.yaml: cannot read file"),
        "{text}"
    );
}

#[test]
fn api_tokens_have_roles_and_secret_references() {
    let config = parse(
        Path::new("w.yaml"),
        "server:\n  tokens:\n    - {name: ana, role: responder, token: {env: ANA_TOKEN}}\n    \
         - {name: ops, role: admin, token: {file: ops.token}}\n",
    )
    .unwrap();
    let tokens = &config.server.tokens;
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0].role, warden_config::Role::Responder);
    assert_eq!(tokens[1].token, SecretRef::File(PathBuf::from("ops.token")));
    assert!(warden_config::Role::Admin > warden_config::Role::Responder);

    let errors = errors(
        "server:\n  tokens:\n    - {name: ana, role: root, token: {env: A}}\n    \
         - {name: ana, role: viewer, token: {env: B}}\n",
    );
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["server.tokens[0].role", "server.tokens[1].name"]);
}

#[test]
fn notification_channels_are_validated() {
    let config = parse(
        Path::new("w.yaml"),
        "notifications:\n  - {name: ops, kind: webhook, url: http://hooks:8080/x}\n  \
         - {name: chat, kind: slack, secret: {env: SLACK_URL}}\n  \
         - {name: pd, kind: pagerduty, secret: {env: PD_KEY}}\n",
    )
    .unwrap();
    let names: Vec<&str> = config
        .notifications
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["ops", "chat", "pd"]);
    assert!(matches!(
        &config.notifications[2].target,
        warden_config::NotificationTarget::Pagerduty { url, .. } if url.as_str() == "https://events.pagerduty.com/v2/enqueue"
    ));
    let errors = errors(
        "notifications:\n  - {name: a, kind: webhook}\n  - {name: b, kind: slack}\n  \
         - {name: c, kind: sms, url: http://x}\n",
    );
    let found: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        found,
        [
            (2, "notifications[0]"),
            (3, "notifications[1]"),
            (4, "notifications[2].kind")
        ]
    );
}

#[test]
fn detectors_need_prometheus_a_target_and_one_threshold() {
    let config = parse(
        Path::new("w.yaml"),
        "connectors:\n  prometheus: {url: http://p:9090}\ndetectors:\n  - name: p95\n    kind: promql_threshold\n    \
         runbook: serving-latency\n    target: service/mlops/demand-forecast\n    query: up\n    above: 200\n    for: 10m\n",
    )
    .unwrap();
    let detector = &config.detectors[0];
    assert_eq!(detector.target.to_string(), "service/mlops/demand-forecast");
    assert_eq!(detector.sustain, Duration::from_secs(600));
    assert_eq!(detector.every, Duration::from_secs(30), "default interval");
    assert!(detector.above);

    let errors = errors(
        "detectors:\n  - {name: a, kind: promql_threshold, runbook: r, target: svc/x, query: up, above: 1, below: 2}\n",
    );
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["detectors[0]", "detectors[0].kind", "detectors[0].target"]
    );
    assert!(errors[1].message.contains("needs connectors.prometheus"));
}

#[test]
fn gate_queries_need_prometheus() {
    let config = parse(
        Path::new("w.yaml"),
        "connectors:\n  prometheus: {url: http://p:9090}\ngate_queries:\n  latency_p95_ms: 'histogram_quantile(0.95, x)'\n",
    )
    .unwrap();
    assert_eq!(
        config.gate_queries["latency_p95_ms"],
        "histogram_quantile(0.95, x)"
    );
    let error = only_error("gate_queries:\n  error_rate: 'sum(rate(x[5m]))'\n");
    assert_eq!(
        (error.line, error.field.as_str()),
        (2, "gate_queries.error_rate")
    );
}

#[test]
fn feast_settings_are_checked_where_they_are_written() {
    let both = only_error(
        "connectors:\n  feast:\n    url: http://f:6566\n    project: p\n    registry_url: http://r:6572\n    registry_path: data/registry.db\n",
    );
    assert_eq!(both.field, "connectors.feast.registry_path");
    assert_eq!(both.line, 6);
    assert!(both.message.contains("not both"), "{}", both.message);

    let no_airflow = only_error(
        "connectors:\n  feast:\n    url: http://f:6566\n    project: p\n    materialization_dag: feast_materialize\n",
    );
    assert_eq!(no_airflow.field, "connectors.feast.materialization_dag");
    assert!(no_airflow.message.contains("connectors.airflow"));

    let sla =
        only_error("connectors:\n  feast:\n    url: http://f:6566\n    project: p\n    sla: 3d\n");
    assert_eq!((sla.field.as_str(), sla.line), ("connectors.feast.sla", 5));
    assert!(sla.message.contains("at most 1d"), "{}", sla.message);

    let no_prometheus = only_error(
        "connectors:\n  feast:\n    url: http://f:6566\n    project: p\n    requests_query: sum(rate(requests_total[5m]))\n",
    );
    assert_eq!(
        (no_prometheus.field.as_str(), no_prometheus.line),
        ("connectors.feast.requests_query", 5)
    );
    assert!(no_prometheus.message.contains("connectors.prometheus"));
}
