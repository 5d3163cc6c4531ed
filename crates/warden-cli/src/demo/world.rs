//! The simulated systems of the demo's week that the real runbook modules act on, and the
//! configuration pointing `warden up`'s assembly at them:
//! - an MLflow registry (versions 7 and 8 of demand-forecast with their training runs) and the
//!   forecast service that serves the version its `champion` alias names, logging predictions
//!   and, an hour later, actuals. Saturday 08:00 the scenario deploys version 8 (it overfitted:
//!   a training error far below what it does live); runbook 5's detector finds it in the logs,
//!   and when Warden rolls the alias back the service serves version 7 again from the next hour;
//! - the predictor on Kubernetes (KServe: a canary revision rolled out Tuesday 09:56 whose pod
//!   was OOM-killed while loading the model) and its metrics in Prometheus, from the week's
//!   series. Runbook 2's detector sees the p95 breach; when Warden's rollback sets the canary's
//!   traffic to 0, the latency and errors are back to normal from the next sample;
//! - the drift monitor of runbook 3, which Warden runs itself on the prediction logs' prices
//!   and promotions against a reference, and the webhook that starts retraining on its alerts.
//!   Thursday 08:00 a "refresh" replaces the reference with a July summer-sale snapshot
//!   (mid-range prices marked down, 126 days old), and the monitor alerts every hour;
//! - the nightly training pipeline on Kubeflow Pipelines and its task pods ([`super::pipeline`]):
//!   Wednesday's run fails for want of credentials;
//! - Feast: the registry, the feature server behind Warden's feature proxy, and the Redis
//!   online store of the `store_daily_features` view, materialized every 10 minutes by the
//!   CronJob `feast-materialize` — whose Jobs fail Friday 14:00–16:30, so the view goes stale
//!   (unless Warden suspended the CronJob, a Job runs and its outcome is in the CronJob's
//!   status).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Timelike;
use serde_json::json;
use warden_core::Timestamp;
use warden_detect::Sample;
use warden_sim::demand::{DemandService, layout};
use warden_sim::feast::{FeastSim, Row, ViewSpec};
use warden_sim::kube::Shared as Cluster;
use warden_sim::mlflow::{MlflowSim, NewVersion};
use warden_sim::prometheus::PrometheusSim;
use warden_sim::webhook::WebhookSim;

/// The registered model.
pub const MODEL: &str = "demand-forecast";
/// The alias the service serves.
const ALIAS: &str = "champion";
/// Stores the service forecasts for.
const STORES: usize = 20;
/// The version serving at the start of the week.
const GOOD: u64 = 7;
/// The version deployed on Saturday.
const OVERFIT: u64 = 8;

/// The systems, as the scenario advances them.
pub struct World {
    mlflow: MlflowSim,
    demand: DemandService,
    prometheus: PrometheusSim,
    cluster: Cluster,
    kubeconfig: PathBuf,
    retraining: WebhookSim,
    kfp_url: String,
    training: super::pipeline::Training,
    feast: FeastSim,
    proxy_url: String,
    /// The view's rows, as its offline source holds them.
    feature_rows: Vec<Row>,
    start: Timestamp,
    /// When the drift reference is replaced, and whether it was.
    refresh_at: Timestamp,
    refreshed: bool,
    /// The replayed series the predictor's metrics come from.
    series: BTreeMap<&'static str, Vec<Sample>>,
    root: PathBuf,
    /// Version 8: when it is registered, and when it is deployed.
    registered_at: Timestamp,
    registered: bool,
    deploy_at: Timestamp,
    deployed: bool,
}

/// Where the drift monitor's files are, under the world's root.
const DRIFT: &str = "drift";

/// The Feast repository, under the world's root.
const FEAST_REPO: &str = "feast";
/// The Feast project.
const FEAST_PROJECT: &str = "demand";
/// The offline source of the feature view, in the repository.
const FEATURE_SOURCE: &str = "data/store_daily_features.csv";
/// Minutes between materialization Jobs.
const MATERIALIZE_EVERY: u32 = 10;

fn feature_view() -> ViewSpec {
    ViewSpec {
        project: FEAST_PROJECT.into(),
        name: "store_daily_features".into(),
        entity: "store_id".into(),
        features: vec![
            ("price".into(), "DOUBLE".into()),
            ("promo".into(), "INT64".into()),
        ],
        ttl_seconds: 8 * 24 * 3600,
        source_uri: FEATURE_SOURCE.into(),
        timestamp_field: "timestamp".into(),
    }
}

/// Writes the view's offline source (each store's prices and promotions as of the Sunday
/// before the week) and returns its rows, as materialization writes them online.
fn write_feature_source(
    demand: &DemandService,
    repo: &Path,
    start: Timestamp,
) -> Result<Vec<Row>, String> {
    let path = repo.join(FEATURE_SOURCE);
    demand.write_features(
        &path,
        std::iter::once(start - chrono::Duration::days(1)),
        |p| p,
    )?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .skip(1)
        .enumerate()
        .map(|(index, line)| {
            let bad = || format!("{}:{}: not a feature row", path.display(), index + 2);
            let fields: Vec<&str> = line.split(',').collect();
            let [stamp, store, price, promo] = fields[..] else {
                return Err(bad());
            };
            Ok(Row {
                entity: store.parse().map_err(|_| bad())?,
                event_time: chrono::DateTime::parse_from_rfc3339(stamp)
                    .map_err(|_| bad())?
                    .with_timezone(&chrono::Utc),
                values: vec![
                    json!(price.parse::<f64>().map_err(|_| bad())?),
                    json!(promo.parse::<i64>().map_err(|_| bad())?),
                ],
            })
        })
        .collect()
}

/// Serves Warden's feature proxy in front of the feature server, as a team would deploy it
/// (`warden feature-proxy`); its URL.
async fn start_proxy(upstream: &str, port: u16) -> Result<String, String> {
    let client = warden_feast::FeatureServerClient::new(&warden_config::HttpEndpoint {
        url: upstream.parse().map_err(|e| format!("{upstream}: {e}"))?,
        timeout: std::time::Duration::from_secs(5),
    })
    .map_err(|e| e.to_string())?;
    let proxy = std::sync::Arc::new(warden_feast::proxy::FeatureProxy::new(
        client,
        warden_feast::proxy::ProxySettings::default(),
        warden_feast::proxy::ProxyMode::Auto,
    ));
    warden_sim::serve(proxy.router(), Some(port))
        .await
        .map_err(|e| e.to_string())
}

/// The drift monitor's files: its reference (the 28 days before the week), a labelled history
/// to backtest on (35 days, no drift) and its schema (prices and promotions are what it
/// watches).
fn write_drift_files(demand: &DemandService, dir: &Path, start: Timestamp) -> Result<(), String> {
    let days_before = |days: i64| {
        let from = start - chrono::Duration::days(days);
        (0..days * 24).map(move |h| from + chrono::Duration::hours(h))
    };
    demand.write_features(&dir.join("reference.csv"), days_before(28), |p| p)?;
    demand.write_features(&dir.join("history.csv"), days_before(35), |p| p)?;
    let first = (start - chrono::Duration::days(35)).format("%Y-%m-%d");
    let last = (start - chrono::Duration::days(1)).format("%Y-%m-%d");
    for (name, text) in [
        (
            "labels.csv",
            format!("start,end,label\n{first},{last},no_drift\n"),
        ),
        (
            "schema.yaml",
            "timestamp: timestamp\ncolumns: [price, promo]\n".to_string(),
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// The first of the ports the simulators of the demo writing under `root` ask for: from a
/// hash of the path, in 21000–28999 — below the ephemeral ranges (Linux 32768–60999, macOS
/// and Windows from 49152), where outgoing connections, the demo's own included, would take
/// them.
fn preferred_ports(root: &Path) -> u16 {
    let hash = root
        .to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    21_000 + u16::try_from(hash % 1000).unwrap_or(0) * 8
}

/// Registers `version` of the model with its training run (version 8's validation error is
/// far below what it does live: it overfitted).
fn register(mlflow: &MlflowSim, version: u64, created: Timestamp) {
    let val_mape = if version == OVERFIT { 0.035 } else { 0.075 };
    mlflow.register(&NewVersion {
        model: MODEL,
        version,
        created_ms: created.timestamp_millis(),
        run_id: &format!("train-{MODEL}-v{version}"),
        metrics: &[("val_mape", val_mape), ("train_mape", val_mape * 0.8)],
    });
}

/// The demo's predictor scaled as it needs: two replicas of three, steady for an hour (the
/// fixture's is pinned at its maximum), one replica at least (no scale-to-zero).
fn settle_autoscaler(cluster: &Cluster, at: Timestamp) {
    let mut cluster = cluster
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let serving = &mut cluster.serving;
    serving.inference_service["spec"]["predictor"]["minReplicas"] = json!(1);
    let hour_ago = (at - chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    serving.hpa["status"] = json!({
        "currentReplicas": 2, "desiredReplicas": 2, "lastScaleTime": hour_ago,
        "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 64, "averageValue": "640m"}}}],
        "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "recommended size matches current size"}]
    });
    serving.deployment_replicas = 2;
}

impl World {
    /// Starts the simulators under `root` for the week starting `start`.
    ///
    /// # Errors
    /// A simulator that cannot start or a file that cannot be written, named.
    pub async fn start(
        root: &Path,
        start: Timestamp,
        series: &BTreeMap<&'static str, Vec<Sample>>,
        seed: u64,
    ) -> Result<Self, String> {
        // Ports of their own for each output directory, so the URLs the post-mortems name are
        // the same run after run (any free port when one is taken).
        let base = preferred_ports(root);
        let mlflow = MlflowSim::start(Some(base))
            .await
            .map_err(|e| e.to_string())?;
        let deploy_at = start + chrono::Duration::days(5) + chrono::Duration::hours(8);
        register(&mlflow, GOOD, start - chrono::Duration::days(10));
        mlflow.set_alias(MODEL, ALIAS, GOOD);
        let prometheus = PrometheusSim::start(Some(base + 1))
            .await
            .map_err(|e| e.to_string())?;
        // The predictor as it stands at Tuesday 10:00, its canary four minutes old.
        let spike = start + chrono::Duration::days(1) + chrono::Duration::hours(10);
        let (kube_url, cluster) = warden_sim::kube::start_at(spike, Some(base + 2)).await;
        settle_autoscaler(&cluster, spike);
        // Version 7 errs by 10% (MAPE ≈ 0.08), the overfitted version 8 by 20%.
        let demand = DemandService::new(root, STORES, seed, &[(GOOD, 0.10), (OVERFIT, 0.20)])?;
        let hours = || (0..7 * 24).map(move |h| start + chrono::Duration::hours(h));
        for version in [GOOD, OVERFIT] {
            demand.write_training(version, hours())?;
        }
        let kubeconfig = warden_sim::kube::kubeconfig(root, &kube_url);
        let retraining = WebhookSim::start(Some(base + 3))
            .await
            .map_err(|e| e.to_string())?;
        write_drift_files(&demand, &root.join(DRIFT), start)?;
        let (kfp_url, kfp) = warden_sim::kfp::start_on(Some(base + 4)).await;
        let training = super::pipeline::Training::new(kfp, cluster.clone(), start);
        let feast = FeastSim::start(feature_view(), Some((base + 5, base + 6)))
            .await
            .map_err(|e| e.to_string())?;
        let proxy_url = start_proxy(feast.url(), base + 7).await?;
        let feature_rows = write_feature_source(&demand, &root.join(FEAST_REPO), start)?;
        // The materializations of the day before the week.
        let mut at = start - chrono::Duration::days(1);
        while at < start {
            let next = at + chrono::Duration::minutes(i64::from(MATERIALIZE_EVERY));
            feast.materialize(at, next, &feature_rows)?;
            at = next;
        }
        Ok(Self {
            mlflow,
            demand,
            prometheus,
            cluster,
            kubeconfig,
            retraining,
            kfp_url,
            training,
            feast,
            proxy_url,
            feature_rows,
            start,
            refresh_at: start + chrono::Duration::days(3) + chrono::Duration::hours(8),
            refreshed: false,
            series: series.clone(),
            root: root.to_path_buf(),
            registered_at: deploy_at - chrono::Duration::minutes(30),
            registered: false,
            deploy_at,
            deployed: false,
        })
    }

    /// Advances the systems to `now`: the deployment when its time comes, and each hour's
    /// serving with whatever version the alias names then (Warden's rollback included).
    ///
    /// # Errors
    /// A log that cannot be written, named.
    pub fn advance(&mut self, now: Timestamp) -> Result<(), String> {
        self.scrape(now);
        self.training.advance(now);
        self.materialize(now)?;
        if !self.registered && now >= self.registered_at {
            register(&self.mlflow, OVERFIT, self.registered_at);
            self.registered = true;
        }
        if !self.refreshed && now >= self.refresh_at {
            // The reference "refresh": a three-day July sale snapshot, mid-range prices cut.
            let july = chrono::DateTime::parse_from_rfc3339("2026-07-14T00:00:00Z")
                .map_err(|e| e.to_string())?
                .with_timezone(&chrono::Utc);
            self.demand.write_features(
                &self.root.join(DRIFT).join("reference.csv"),
                (0..72).map(|h| july + chrono::Duration::hours(h)),
                |price| {
                    if (5.0..8.0).contains(&price) {
                        price - 2.0
                    } else {
                        price
                    }
                },
            )?;
            self.refreshed = true;
        }
        if !self.deployed && now >= self.deploy_at {
            self.mlflow.set_alias(MODEL, ALIAS, OVERFIT);
            self.deployed = true;
        }
        if now.minute() == 0 {
            let version = self.mlflow.alias(MODEL, ALIAS).unwrap_or(GOOD);
            self.demand.serve_hour(now, version)?;
        }
        Ok(())
    }

    /// The materialization CronJob's schedule: unless suspended, a Job every 10 minutes that
    /// materializes up to its start, or fails while the scenario's source is down; the
    /// CronJob's status says which, as Kubernetes would.
    fn materialize(&self, now: Timestamp) -> Result<(), String> {
        if !now.minute().is_multiple_of(MATERIALIZE_EVERY) {
            return Ok(());
        }
        let mut cluster = self
            .cluster
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cluster.suspended {
            return Ok(());
        }
        let stamp = |at: Timestamp| at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let runs = cluster.cronjob_runs.get_or_insert_with(Default::default);
        runs.last_schedule = Some(stamp(now));
        if super::scenario::materialization_down(self.start, now) {
            return Ok(());
        }
        let from = self.feast.materialized_until().unwrap_or(now);
        self.feast.materialize(from, now, &self.feature_rows)?;
        // The Job takes under a minute.
        runs.last_successful = Some(stamp(now + chrono::Duration::seconds(40)));
        Ok(())
    }

    /// Prometheus scrapes the predictor at `now`: the week's samples, unless Warden's rollback
    /// took the canary's traffic away (then the spike's latency and errors are gone).
    fn scrape(&self, now: Timestamp) {
        let tick = self.series["latency_p95_ms"]
            .iter()
            .position(|s| s.at == now);
        let Some(tick) = tick else {
            return;
        };
        let value = |name: &str| self.series[name][tick].value;
        let rolled_back = self
            .cluster
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .serving
            .inference_service["spec"]["predictor"]["canaryTrafficPercent"]
            == json!(0);
        let (mut p95, mut errors) = (value("latency_p95_ms"), value("error_rate"));
        if rolled_back && p95 > 200.0 {
            // The spike's own noise, scaled to the stable revision's level.
            p95 = 115.0 + (p95 - 420.0) / 2.0;
            errors = 0.002 + (errors - 0.03) / 10.0;
        }
        let at = now.timestamp();
        self.prometheus.set_now(at);
        for (name, sample) in [
            ("demo_latency_p95_ms", p95),
            ("demo_error_rate", errors.max(0.0)),
            (
                "demo_requests_per_second",
                value("requests_per_minute") / 60.0,
            ),
            ("demo_slow_ratio", if p95 > 200.0 { 0.32 } else { 0.01 }),
            ("demo_feature_latency_p95_ms", 8.0),
        ] {
            self.prometheus.record(name, at, sample);
        }
    }

    /// The configuration of the demo's Warden: its store and data under `out`, runbook 5's
    /// model on the simulated registry and logs.
    pub fn config(&self, out: &Path) -> String {
        let at = |sub: &str| self.root.join(sub).display().to_string();
        format!(
            "\
version: 1
data_dir: {out}
store:
  sqlite:
    path: {db}
connectors:
  mlflow:
    url: {mlflow}
  prometheus:
    url: {prometheus}
  kubernetes:
    kubeconfig: {kubeconfig}
    context: test
    namespace: mlops
  kfp:
    url: {kfp}
    namespace: {kfp_namespace}
  feast:
    url: {feast}
    registry_url: {feast}
    project: {FEAST_PROJECT}
    redis_url: {redis}
    proxy_url: {proxy}
    repo: {feast_repo}
    sla: 15m
    check_every: 5m
    materialization_cronjob: feast-materialize
    online_store_workload: statefulset/redis
    requests_query: demo_requests_per_second
pipelines:
  - name: demand_forecast_training
    kfp: {{recurring_run_id: {recurring}}}
    check_every: 5m
serving:
  - name: demand-forecast-api
    model: {MODEL}
    namespace: mlops
    inference_service: demand-forecast
    latency_p95_ms: 200
    error_rate: 0.01
    check_every: 5m
    for: 10m
    queries:
      latency_p95_ms: 'demo_latency_p95_ms[{{window}}]'
      error_rate: 'demo_error_rate[{{window}}]'
      request_rate: 'demo_requests_per_second[{{window}}]'
      slow_ratio: 'demo_slow_ratio[{{window}}]'
      feature_latency_p95_ms: 'demo_feature_latency_p95_ms[{{window}}]'
drift_monitors:
  - name: {MODEL}
    predictions: {logs}
    reference: {drift}/reference.csv
    timestamp: timestamp
    schema: {drift}/schema.yaml
    window: 2d
    check_every: 1h
    alerts: {{window: 3h, history: 7d, factor: 3, min_alerts: 3}}
    backtest:
      labels: {drift}/labels.csv
      history: {drift}/history.csv
    retraining: {{webhook: {webhook}}}
models:
  - name: {MODEL}
    alias: {ALIAS}
    predictions: {logs}
    actuals: {actuals}
    columns:
      keys: [store_id, hour]
      series: [store_id]
      features: [price, promo, day_of_week]
    metric: mape
    min_effect: 0.2
    min_rows: 40
    check_every: 30m
    tolerance: 0.15
    training_data: {training}/v{{version}}.csv
    training_metric: val_mape
",
            out = out.display(),
            db = out.join("demo.db").display(),
            mlflow = self.mlflow.url(),
            prometheus = self.prometheus.url(),
            kubeconfig = self.kubeconfig.display(),
            webhook = self.retraining.url(),
            kfp = self.kfp_url,
            kfp_namespace = super::pipeline::NAMESPACE,
            feast = self.feast.url(),
            redis = self.feast.redis_url(),
            proxy = self.proxy_url,
            feast_repo = at(FEAST_REPO),
            recurring = super::pipeline::RECURRING,
            drift = at(DRIFT),
            logs = at(layout::LOGS),
            actuals = at(layout::ACTUALS),
            training = at(layout::TRAINING),
        )
    }
}
