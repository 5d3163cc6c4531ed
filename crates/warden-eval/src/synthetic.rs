//! A seeded generator of demand-forecast prediction logs and their actuals for the tests and
//! the 10M-row benchmark: `series` store/item pairs predicted once a day for `days` days by a
//! sequence of model versions (each taking an equal share of the days, in order), each with
//! its own error scale — so a version that regressed is known by construction.

use warden_data::{Column, ColumnValues};
use warden_drift::synthetic::Rng;

const DAY_MS: i64 = 86_400_000;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSpec {
    /// Store/item pairs.
    pub series: usize,
    /// Days, from `start_ms`.
    pub days: i64,
    /// The first day (epoch ms, midnight UTC).
    pub start_ms: i64,
    /// Model versions in deployment order with the standard deviation of their errors.
    pub versions: Vec<(String, f64)>,
    /// Seed.
    pub seed: u64,
}

/// The generated tables, row aligned with each other.
pub struct Logs {
    /// timestamp, store_id, item_id, date, model_version, price, promo, region, prediction.
    pub predictions: Vec<Column>,
    /// store_id, item_id, date, actual.
    pub actuals: Vec<Column>,
}

fn categorical(name: &str, codes: Vec<u32>, levels: Vec<String>) -> Column {
    Column {
        name: name.into(),
        values: ColumnValues::Categorical { codes, levels },
    }
}

fn numeric(name: &str, values: Vec<f64>) -> Column {
    Column {
        name: name.into(),
        values: ColumnValues::Numeric(values),
    }
}

/// Days `first_day..first_day + days` of the logs `spec` describes (generate a long history
/// in slices to bound memory; every slice of the same spec agrees on the series).
pub fn generate(spec: &LogSpec, first_day: i64, days: i64) -> Logs {
    let rows = spec.series * days.max(0) as usize;
    let stores = spec.series.div_ceil(100).max(1);
    let mut rng = Rng::new(spec.seed ^ (first_day as u64).wrapping_mul(0x9E37_79B9));
    let mut cols = (
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
    );
    let versions = spec.versions.len().max(1);
    let dates: Vec<String> = (first_day..first_day + days)
        .map(|d| {
            chrono::DateTime::from_timestamp_millis(spec.start_ms + d * DAY_MS)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        })
        .collect();
    for (offset, day) in (first_day..first_day + days).enumerate() {
        let version =
            ((day * versions as i64) / spec.days.max(1)).clamp(0, versions as i64 - 1) as usize;
        let sd = spec.versions.get(version).map_or(1.0, |v| v.1);
        let weekday = ((day + 4) % 7) as f64; // 1970-01-01 was a Thursday
        for series in 0..spec.series {
            let level = 50.0 + (series % 37) as f64;
            let price = 2.0 + 10.0 * rng.uniform();
            let promo = f64::from(rng.uniform() < 0.2);
            let actual =
                level - 3.0 * price + 15.0 * promo + 4.0 * (weekday / 6.0) + 3.0 * rng.normal();
            cols.0.push(spec.start_ms + day * DAY_MS + 6 * 3_600_000);
            cols.1.push((series % stores) as u32);
            cols.2.push((series / stores) as u32);
            cols.3.push(offset as u32);
            cols.4.push(version as u32);
            cols.5.push(price);
            cols.6.push(promo);
            cols.7.push((series % 4) as u32);
            cols.8.push(actual + sd * rng.normal());
            cols.9.push(actual);
        }
    }
    let store_levels: Vec<String> = (0..stores).map(|s| format!("s{s}")).collect();
    let item_levels: Vec<String> = (0..spec.series.div_ceil(stores))
        .map(|i| format!("i{i}"))
        .collect();
    let version_levels: Vec<String> = spec.versions.iter().map(|v| v.0.clone()).collect();
    let regions: Vec<String> = ["north", "south", "east", "west"]
        .map(String::from)
        .to_vec();
    Logs {
        predictions: vec![
            Column {
                name: "timestamp".into(),
                values: ColumnValues::Timestamp(cols.0),
            },
            categorical("store_id", cols.1.clone(), store_levels.clone()),
            categorical("item_id", cols.2.clone(), item_levels.clone()),
            categorical("date", cols.3.clone(), dates.clone()),
            categorical("model_version", cols.4, version_levels),
            numeric("price", cols.5),
            numeric("promo", cols.6),
            categorical("region", cols.7, regions),
            numeric("prediction", cols.8),
        ],
        actuals: vec![
            categorical("store_id", cols.1, store_levels),
            categorical("item_id", cols.2, item_levels),
            categorical("date", cols.3, dates),
            numeric("actual", cols.9),
        ],
    }
}
