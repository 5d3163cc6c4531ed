//! The simulated systems of the demo's week that the real runbook modules act on, and the
//! configuration pointing `warden up`'s assembly at them: an MLflow registry (versions 7 and
//! 8 of demand-forecast with their training runs) and the forecast service that serves the
//! version its `champion` alias names, logging predictions and, an hour later, actuals.
//! Saturday 08:00 the scenario deploys version 8 (it overfitted: a training error far below
//! what it does live); runbook 5's detector finds it in the logs, and when Warden rolls the
//! alias back the service serves version 7 again from the next hour.

use std::path::{Path, PathBuf};

use chrono::Timelike;
use warden_core::Timestamp;
use warden_sim::demand::{DemandService, layout};
use warden_sim::mlflow::{MlflowSim, NewVersion};

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
    root: PathBuf,
    deploy_at: Timestamp,
    deployed: bool,
}

impl World {
    /// Starts the simulators under `root` for the week starting `start`.
    ///
    /// # Errors
    /// A simulator that cannot start or a file that cannot be written, named.
    pub async fn start(root: &Path, start: Timestamp, seed: u64) -> Result<Self, String> {
        let mlflow = MlflowSim::start().await.map_err(|e| e.to_string())?;
        let deploy_at = start + chrono::Duration::days(5) + chrono::Duration::hours(8);
        for (version, created, val_mape) in [
            (GOOD, start - chrono::Duration::days(10), 0.075),
            (OVERFIT, deploy_at - chrono::Duration::minutes(30), 0.035),
        ] {
            mlflow.register(&NewVersion {
                model: MODEL,
                version,
                created_ms: created.timestamp_millis(),
                run_id: &format!("train-{MODEL}-v{version}"),
                metrics: &[("val_mape", val_mape), ("train_mape", val_mape * 0.8)],
            });
        }
        mlflow.set_alias(MODEL, ALIAS, GOOD);
        // Version 7 errs by 10% (MAPE ≈ 0.08), the overfitted version 8 by 20%.
        let demand = DemandService::new(root, STORES, seed, &[(GOOD, 0.10), (OVERFIT, 0.20)])?;
        let hours = || (0..7 * 24).map(move |h| start + chrono::Duration::hours(h));
        for version in [GOOD, OVERFIT] {
            demand.write_training(version, hours())?;
        }
        Ok(Self {
            mlflow,
            demand,
            root: root.to_path_buf(),
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
            logs = at(layout::LOGS),
            actuals = at(layout::ACTUALS),
            training = at(layout::TRAINING),
        )
    }
}
