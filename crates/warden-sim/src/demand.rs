//! A simulated demand-forecast service's serving and its logs: every hour it answers one
//! request per store with the model version the registry's alias names, logs each prediction
//! with its features and version (one CSV part per day, rewritten whole each hour, as a
//! serving platform's log shipper writes them),
//! them), and an hour later logs the demand that really happened (the actuals). Each
//! version errs by its own relative spread, so a worse version shows in the logs only through
//! its predictions — which is all Warden reads. The offline features of each version's
//! training pipeline (for the training/serving parity check) are written for every key the
//! week serves, computed the same way as the online ones.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Timelike, Utc};
use warden_core::rng::SplitMix;

/// The CSV header of the prediction logs.
const LOG_HEADER: &str = "timestamp,store_id,hour,model_version,price,promo,day_of_week,prediction";

/// One store's request for one hour: its features.
struct Request {
    store: usize,
    hour: String,
    price: f64,
    promo: f64,
    day_of_week: f64,
}

impl Request {
    /// The features of `store` at `at`, the same online and offline.
    fn of(store: usize, at: DateTime<Utc>) -> Self {
        let mut rng = SplitMix(
            (store as u64)
                .wrapping_mul(1_000_003)
                .wrapping_add(at.timestamp().unsigned_abs()),
        );
        Self {
            store,
            hour: at.format("%Y-%m-%dT%H:00").to_string(),
            price: ((2.0 + 10.0 * rng.uniform()) * 100.0).round() / 100.0,
            promo: f64::from(rng.uniform() < 0.3),
            day_of_week: f64::from(at.weekday().num_days_from_monday()),
        }
    }

    /// What the demand really is, before noise.
    fn demand(&self) -> f64 {
        80.0 - 4.0 * self.price + 12.0 * self.promo + 2.0 * self.day_of_week
    }
}

/// The serving platform of one model and the files it writes.
#[derive(Debug)]
pub struct DemandService {
    root: PathBuf,
    stores: usize,
    rng: SplitMix,
    /// Version → relative spread of its errors.
    spreads: Vec<(u64, f64)>,
    /// The last hour's actuals, logged at the next hour.
    due: Vec<(usize, String, f64)>,
    /// The day being written and its rows so far: `(date, log, actuals)`.
    today: (String, String, String),
}

/// Where a [`DemandService`] writes, under its root.
pub mod layout {
    /// Prediction logs (CSV parts).
    pub const LOGS: &str = "prediction-logs";
    /// Actuals (CSV parts).
    pub const ACTUALS: &str = "actuals";
    /// Offline features per version: `training/v{version}.csv`.
    pub const TRAINING: &str = "training";
}

impl DemandService {
    /// A service for `stores` stores writing under `root`, its versions erring by the
    /// relative `spreads` (`(version, spread)`), its noise drawn from `seed`.
    ///
    /// # Errors
    /// The directories cannot be created, named.
    pub fn new(
        root: &Path,
        stores: usize,
        seed: u64,
        spreads: &[(u64, f64)],
    ) -> Result<Self, String> {
        for dir in [layout::LOGS, layout::ACTUALS, layout::TRAINING] {
            let path = root.join(dir);
            std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            stores,
            rng: SplitMix(seed),
            spreads: spreads.to_vec(),
            due: Vec::new(),
            today: (String::new(), String::new(), String::new()),
        })
    }

    /// Writes `version`'s offline features for every store at every hour of `hours`.
    ///
    /// # Errors
    /// The file cannot be written, named.
    pub fn write_training(
        &self,
        version: u64,
        hours: impl Iterator<Item = DateTime<Utc>>,
    ) -> Result<(), String> {
        let mut text = String::from("store_id,hour,price,promo,day_of_week\n");
        for at in hours {
            for store in 1..=self.stores {
                let r = Request::of(store, at);
                let _ = writeln!(
                    text,
                    "{},{},{},{},{}",
                    r.store, r.hour, r.price, r.promo, r.day_of_week
                );
            }
        }
        let path = self
            .root
            .join(layout::TRAINING)
            .join(format!("v{version}.csv"));
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Writes the features (`timestamp,store_id,price,promo`) of every store at every hour of
    /// `hours` to `path` — a drift reference or history as a feature pipeline would snapshot
    /// them — with `price` applied to each price (a sale's markdown, say).
    ///
    /// # Errors
    /// The file cannot be written, named.
    pub fn write_features(
        &self,
        path: &Path,
        hours: impl Iterator<Item = DateTime<Utc>>,
        price: impl Fn(f64) -> f64,
    ) -> Result<(), String> {
        let mut text = String::from("timestamp,store_id,price,promo\n");
        for at in hours {
            let stamp = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            for store in 1..=self.stores {
                let r = Request::of(store, at);
                let _ = writeln!(
                    text,
                    "{stamp},{},{:.2},{}",
                    r.store,
                    price(r.price),
                    r.promo
                );
            }
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        // Written whole, then renamed: a monitor reading it mid-write sees the old or the new.
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, text)
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Serves the hour starting at `at` with `version`: logs its predictions, and the
    /// previous hour's actuals. Returns how many predictions it logged.
    ///
    /// # Errors
    /// A file cannot be written, named.
    pub fn serve_hour(&mut self, at: DateTime<Utc>, version: u64) -> Result<usize, String> {
        let at = at
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .unwrap_or(at);
        let spread = self
            .spreads
            .iter()
            .find(|(v, _)| *v == version)
            .map_or(0.1, |(_, s)| *s);
        let date = at.format("%Y-%m-%d").to_string();
        if self.today.0 != date {
            self.today = (
                date,
                format!("{LOG_HEADER}\n"),
                String::from("store_id,hour,actual\n"),
            );
        }
        let (date, log, actuals) = &mut self.today;
        for (store, hour, actual) in self.due.drain(..) {
            let _ = writeln!(actuals, "{store},{hour},{actual:.3}");
        }
        let stamp = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        for store in 1..=self.stores {
            let r = Request::of(store, at);
            let actual = r.demand() * (1.0 + 0.02 * self.rng.normal());
            let prediction = r.demand() * (1.0 + spread * self.rng.normal());
            let _ = writeln!(
                log,
                "{stamp},{},{},{version},{},{},{},{prediction:.3}",
                r.store, r.hour, r.price, r.promo, r.day_of_week
            );
            self.due.push((r.store, r.hour, actual));
        }
        write_part(&self.root.join(layout::LOGS), date, log)?;
        write_part(&self.root.join(layout::ACTUALS), date, actuals)?;
        Ok(self.stores)
    }
}

/// The day's part, written whole, then renamed, so a reader never sees half of it.
fn write_part(dir: &Path, date: &str, text: &str) -> Result<(), String> {
    let temporary = dir.join(format!(".part-{date}.tmp"));
    let path = dir.join(format!("part-{date}.csv"));
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, &path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn each_hour_logs_its_predictions_and_the_hour_befores_actuals() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let mut service = DemandService::new(dir, 3, 7, &[(7, 0.1), (8, 0.3)]).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 8, 0, 0).unwrap();
        service.serve_hour(at, 7).unwrap();
        service
            .serve_hour(at + chrono::Duration::hours(1), 8)
            .unwrap();
        let read =
            |sub: &str| std::fs::read_to_string(dir.join(sub).join("part-2026-11-21.csv")).unwrap();
        let logs = read(layout::LOGS);
        assert_eq!(logs.lines().count(), 7, "{logs}");
        assert!(
            logs.lines()
                .nth(1)
                .unwrap()
                .contains(",2026-11-21T08:00,7,")
        );
        assert!(
            logs.lines()
                .nth(4)
                .unwrap()
                .contains(",2026-11-21T09:00,8,")
        );
        let actuals = read(layout::ACTUALS);
        assert_eq!(
            actuals.lines().count(),
            4,
            "the 08:00 hour's, logged at 09:00: {actuals}"
        );
        assert!(actuals.contains(",2026-11-21T08:00,"));
        service
            .write_training(8, std::iter::once(at + chrono::Duration::hours(1)))
            .unwrap();
        let training = std::fs::read_to_string(dir.join("training/v8.csv")).unwrap();
        let logged: String = read(layout::LOGS)
            .lines()
            .skip(3)
            .collect::<Vec<_>>()
            .join("\n");
        let features = |line: &str| {
            line.split(',')
                .skip(1)
                .take(2)
                .chain(line.split(',').skip(4).take(3))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(
            features(logged.lines().nth(1).unwrap()),
            training.lines().nth(1).unwrap(),
            "online and offline features are computed alike"
        );
    }
}
