//! `warden compare --before --after` (runbook 5's `compare_predictions.py`): the prediction
//! and feature distributions before vs after a deployment through the drift engine (its tests,
//! effect sizes, multiple-testing correction and segments), the series whose predictions moved
//! most, and — for keys predicted on both sides — the paired change.

use std::collections::HashMap;

use serde::Serialize;
use warden_data::{ColumnKind, ColumnValues, Dataset, NULL_CODE};
use warden_drift::DriftOptions;
use warden_drift::engine::{Reference, Rows, Side};
use warden_drift::options::Roles;
use warden_drift::report::DriftReport;

use crate::table::{NULL_KEY, key_hashes, series_keys};
use crate::{ColumnMap, EvalError};

/// A series whose mean prediction moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mover {
    /// The series, e.g. `store_id=3,item_id=17`.
    pub series: String,
    /// Mean prediction before.
    pub before: f64,
    /// Mean prediction after.
    pub after: f64,
    /// `after − before`.
    pub change: f64,
    /// Predictions before.
    pub n_before: usize,
    /// Predictions after.
    pub n_after: usize,
}

/// The change of predictions for keys predicted on both sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedChange {
    /// Keys predicted before and after.
    pub keys: usize,
    /// Mean of `after − before`.
    pub mean_change: f64,
    /// Mean of `|after − before|`.
    pub mean_abs_change: f64,
    /// Share of keys whose prediction moved by more than 1%.
    pub moved_share: f64,
    /// Paired t statistic of the mean change.
    pub t_statistic: f64,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Mean prediction before.
    pub prediction_mean_before: f64,
    /// Mean prediction after.
    pub prediction_mean_after: f64,
    /// The drift engine's report on the prediction and the features (and per segment).
    pub drift: DriftReport,
    /// The series that moved most, largest first.
    pub movers: Vec<Mover>,
    /// The paired change on overlapping keys, when there are any.
    pub paired: Option<PairedChange>,
}

fn pick<T: Copy>(values: &[T], rows: &[u32]) -> Vec<T> {
    rows.iter().map(|&r| values[r as usize]).collect()
}

fn text(dataset: &Dataset, name: &str) -> Result<(Vec<u32>, Vec<String>), EvalError> {
    match dataset.read_column(name, ColumnKind::Categorical)?.values {
        ColumnValues::Categorical { codes, levels } => Ok((codes, levels)),
        _ => Err(EvalError::Invalid(format!("{name}: not read as text"))),
    }
}

/// The side's predictions and key hashes over `columns`, in the side's row order (read
/// whole and kept as they are for a side of all rows: no copies of 10M-row columns).
fn side_values(
    side: &Side,
    map: &ColumnMap,
    columns: &[String],
) -> Result<(Vec<f64>, Vec<u64>), EvalError> {
    let select = |values: Vec<f64>| match &side.rows {
        Rows::All => values,
        Rows::Some(rows) => pick(&values, rows),
    };
    let predictions = match side
        .dataset
        .read_column(&map.prediction, ColumnKind::Numeric)?
        .values
    {
        ColumnValues::Numeric(values) => select(values),
        _ => {
            return Err(EvalError::Invalid(format!(
                "{}: not numeric",
                map.prediction
            )));
        }
    };
    let hashes = if columns.is_empty() {
        Vec::new()
    } else {
        let all = key_hashes(&side.dataset, columns)?;
        match &side.rows {
            Rows::All => all,
            Rows::Some(rows) => pick(&all, rows),
        }
    };
    Ok((predictions, hashes))
}

fn mean(values: &[f64]) -> f64 {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    finite.iter().sum::<f64>() / finite.len().max(1) as f64
}

/// Per series: (sum, count, a row that names it).
fn per_series(hashes: &[u64], values: &[f64]) -> HashMap<u64, (f64, usize, usize)> {
    let mut map: HashMap<u64, (f64, usize, usize)> = HashMap::new();
    for (row, (hash, value)) in hashes.iter().zip(values).enumerate() {
        if *hash == NULL_KEY || !value.is_finite() {
            continue;
        }
        let entry = map.entry(*hash).or_insert((0.0, 0, row));
        entry.0 += value;
        entry.1 += 1;
    }
    map
}

fn label(side: &Side, columns: &[String], row: usize) -> Result<String, EvalError> {
    let row = match &side.rows {
        Rows::All => row,
        Rows::Some(rows) => rows[row] as usize,
    };
    let dataset = &side.dataset;
    let mut parts = Vec::new();
    for column in columns {
        let (codes, levels) = text(dataset, column)?;
        let code = codes[row];
        parts.push(format!(
            "{column}={}",
            if code == NULL_CODE {
                "null"
            } else {
                levels[code as usize].as_str()
            }
        ));
    }
    Ok(parts.join(","))
}

/// Compares `before` with `after` (data sets or rows of them); `top` movers at most.
///
/// # Errors
/// Unreadable data, a mapped column missing, or the drift engine's refusal.
pub fn compare(
    before: Side,
    after: Side,
    map: &ColumnMap,
    segments: &[String],
    top: usize,
) -> Result<Comparison, EvalError> {
    let series = series_keys(&after.dataset, map);
    let (before_predictions, before_series_hashes) = side_values(&before, map, &series)?;
    let (after_predictions, after_series_hashes) = side_values(&after, map, &series)?;
    let movers = if series.is_empty() {
        Vec::new()
    } else {
        let before_series = per_series(&before_series_hashes, &before_predictions);
        let after_series = per_series(&after_series_hashes, &after_predictions);
        let mut moved: Vec<(f64, u64)> = after_series
            .iter()
            .filter_map(|(hash, (sum, n, _))| {
                let (b_sum, b_n, _) = before_series.get(hash)?;
                Some(((sum / *n as f64 - b_sum / *b_n as f64).abs(), *hash))
            })
            .collect();
        moved.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut movers = Vec::new();
        for (_, hash) in moved.into_iter().take(top) {
            let (a_sum, a_n, row) = after_series[&hash];
            let (b_sum, b_n, _) = before_series[&hash];
            let (before_mean, after_mean) = (b_sum / b_n as f64, a_sum / a_n as f64);
            movers.push(Mover {
                series: label(&after, &series, row)?,
                before: before_mean,
                after: after_mean,
                change: after_mean - before_mean,
                n_before: b_n,
                n_after: a_n,
            });
        }
        movers
    };
    let paired = if map.keys.is_empty() {
        None
    } else {
        let (_, before_keys) = side_values(&before, map, &map.keys)?;
        let (_, after_keys) = side_values(&after, map, &map.keys)?;
        let mut index: Vec<(u64, u32)> = before_keys
            .into_iter()
            .enumerate()
            .filter(|(_, h)| *h != NULL_KEY)
            .map(|(row, h)| (h, row as u32))
            .collect();
        index.sort_by_key(|(h, _)| *h);
        let changes: Vec<(f64, f64)> = after_keys
            .iter()
            .enumerate()
            .filter_map(|(row, h)| {
                let i = index.binary_search_by_key(h, |(k, _)| *k).ok()?;
                let b = before_predictions[index[i].1 as usize];
                let a = after_predictions[row];
                (a.is_finite() && b.is_finite()).then_some((a - b, b))
            })
            .collect();
        (!changes.is_empty()).then(|| {
            let n = changes.len() as f64;
            let mean_change = changes.iter().map(|c| c.0).sum::<f64>() / n;
            let variance = changes
                .iter()
                .map(|c| (c.0 - mean_change).powi(2))
                .sum::<f64>()
                / (n - 1.0).max(1.0);
            PairedChange {
                keys: changes.len(),
                mean_change,
                mean_abs_change: changes.iter().map(|c| c.0.abs()).sum::<f64>() / n,
                moved_share: changes
                    .iter()
                    .filter(|(d, b)| d.abs() > 0.01 * b.abs().max(1e-9))
                    .count() as f64
                    / n,
                t_statistic: mean_change / (variance / n).sqrt(),
            }
        })
    };
    let has = |d: &Dataset, name: &str| d.fields().iter().any(|f| f.name == name);
    let after_dataset = after.dataset.clone();
    let mut roles = Roles {
        prediction: Some(map.prediction.clone()),
        segments: segments.to_vec(),
        ..Roles::default()
    };
    if has(&after_dataset, &map.timestamp) {
        roles.timestamp = Some(map.timestamp.clone());
    }
    for reserved in [&map.model_name, &map.model_version, &map.actual]
        .into_iter()
        .chain(&map.keys)
    {
        if has(&after_dataset, reserved) && !segments.contains(reserved) {
            roles.ignore.push(reserved.clone());
        }
    }
    if !map.features.is_empty() {
        roles.columns = std::iter::once(map.prediction.clone())
            .chain(map.features.iter().cloned())
            .collect();
    }
    let options = DriftOptions {
        roles,
        ..DriftOptions::default()
    };
    let drift = warden_drift::run(&Reference::Data(before), &after, &options)?;
    Ok(Comparison {
        prediction_mean_before: mean(&before_predictions),
        prediction_mean_after: mean(&after_predictions),
        drift,
        movers,
        paired,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &std::path::Path, name: &str, rows: impl Iterator<Item = String>) -> Dataset {
        let path = dir.join(name);
        let text: String = std::iter::once("store_id,date,price,prediction\n".to_string())
            .chain(rows)
            .collect();
        std::fs::write(&path, text).expect("write");
        Dataset::open(path.to_str().expect("utf-8")).expect("open")
    }

    #[test]
    fn a_shift_in_one_store_shows_in_the_drift_report_the_movers_and_the_pairs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let row = |store: usize, day: usize, shift: f64| {
            let base = 50.0 + (store * 7 + day * 13) as f64 % 20.0;
            format!(
                "{store},2026-11-{:02},{:.1},{:.3}\n",
                day + 1,
                5.0 + (day % 3) as f64,
                base + shift
            )
        };
        let before = write(
            dir.path(),
            "before.csv",
            (0..20).flat_map(|d| (0..50).map(move |s| row(s, d, 0.0))),
        );
        // After: the same days re-predicted; store 7's predictions are 30 higher.
        let after = write(
            dir.path(),
            "after.csv",
            (0..20).flat_map(|d| (0..50).map(move |s| row(s, d, if s == 7 { 30.0 } else { 0.0 }))),
        );
        let map = ColumnMap {
            keys: vec!["store_id".into(), "date".into()],
            ..ColumnMap::default()
        };
        let c = compare(Side::all(before), Side::all(after), &map, &[], 3).expect("compares");
        assert_eq!(c.movers[0].series, "store_id=7");
        assert!((c.movers[0].change - 30.0).abs() < 1e-9, "{:?}", c.movers);
        assert_eq!(c.movers[1].change, 0.0);
        let paired = c.paired.expect("same keys on both sides");
        assert_eq!(paired.keys, 1000);
        assert!((paired.moved_share - 0.02).abs() < 1e-12, "{paired:?}");
        let prediction = c
            .drift
            .columns
            .iter()
            .find(|col| col.name == "prediction")
            .expect("prediction tested");
        assert_eq!(prediction.role, "prediction");
        assert!(
            c.drift.columns.iter().all(|col| col.name != "store_id"),
            "keys are not tested"
        );
    }
}
