//! Predictions joined to actuals: [`Scored`] holds, for every prediction that has an actual,
//! the prediction, the actual, the model version, the time, the series and the join key, row
//! aligned. Columns are read one at a time (warden-data); the actuals are indexed by a 64-bit
//! hash of their key values compared as text (so a `date` stored as a Parquet date and one
//! written as `2026-11-20` in CSV match), sorted, and looked up by binary search — no hash
//! map of 10M entries.

use warden_data::{Column, ColumnKind, ColumnValues, Dataset, NULL_CODE, NULL_TIMESTAMP};

use crate::{ColumnMap, EvalError};

/// The hash of a row whose key has a missing value: such rows never join.
pub const NULL_KEY: u64 = 0;

/// Scored predictions, row aligned.
#[derive(Debug, Clone, Default)]
pub struct Scored {
    /// The model's outputs.
    pub prediction: Vec<f64>,
    /// The observed values.
    pub actual: Vec<f64>,
    /// Index into `versions` per row.
    pub version: Vec<u32>,
    /// The model versions seen (`all` when the log has no version column).
    pub versions: Vec<String>,
    /// Epoch milliseconds per row, when the log has the timestamp column.
    pub timestamp: Option<Vec<i64>>,
    /// Hash of the series keys per row (one series when there are no keys).
    pub series: Vec<u64>,
    /// Hash of all join keys per row ([`NULL_KEY`] without keys).
    pub key: Vec<u64>,
    /// Index into `segments` per row, with `--by COLUMN`.
    pub segment: Option<(Vec<u32>, Vec<String>)>,
    /// Predictions read.
    pub predictions_read: usize,
    /// Predictions with no actual (not yet observed, or keys that never match).
    pub unmatched: usize,
    /// Predictions whose prediction or actual is missing or not finite.
    pub missing_values: usize,
    /// Actual rows sharing a key with another (the last one wins).
    pub duplicate_actuals: usize,
}

impl Scored {
    /// Rows.
    pub fn len(&self) -> usize {
        self.prediction.len()
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.prediction.is_empty()
    }

    /// The rows of one version.
    pub fn rows_of_version(&self, version: &str) -> Vec<u32> {
        let Some(code) = self.versions.iter().position(|v| v == version) else {
            return Vec::new();
        };
        (0..self.len() as u32)
            .filter(|&row| self.version[row as usize] == code as u32)
            .collect()
    }

    /// The first time each version appears, oldest first (versions without times last, in
    /// the order they appear).
    pub fn versions_by_first_seen(&self) -> Vec<(String, Option<i64>)> {
        let mut first: Vec<Option<i64>> = vec![None; self.versions.len()];
        let mut order: Vec<usize> = Vec::new();
        for row in 0..self.len() {
            let v = self.version[row] as usize;
            if !order.contains(&v) {
                order.push(v);
            }
            if let Some(times) = &self.timestamp {
                let t = times[row];
                if t != NULL_TIMESTAMP {
                    first[v] = Some(first[v].map_or(t, |f: i64| f.min(t)));
                }
            }
        }
        let mut seen: Vec<(String, Option<i64>)> = order
            .into_iter()
            .map(|v| (self.versions[v].clone(), first[v]))
            .collect();
        seen.sort_by_key(|(_, t)| t.unwrap_or(i64::MAX));
        seen
    }
}

/// Two scored groups as one, versions renamed to `labels`: for comparing a champion's log
/// with a challenger's. Returns the combined rows and each side's rows in it.
pub fn two_arms(first: Scored, second: Scored, labels: [&str; 2]) -> (Scored, Vec<u32>, Vec<u32>) {
    let n_first = first.len();
    let n_second = second.len();
    // Extended in place: the first side's buffers grow, the second's are freed as they go.
    fn join<T>(mut a: Vec<T>, b: Vec<T>) -> Vec<T> {
        a.extend(b);
        a
    }
    let timestamp = match (first.timestamp, second.timestamp) {
        (Some(a), Some(b)) => Some(join(a, b)),
        _ => None,
    };
    let combined = Scored {
        prediction: join(first.prediction, second.prediction),
        actual: join(first.actual, second.actual),
        version: std::iter::repeat_n(0, n_first)
            .chain(std::iter::repeat_n(1, n_second))
            .collect(),
        versions: labels.iter().map(|l| (*l).to_string()).collect(),
        timestamp,
        series: join(first.series, second.series),
        key: join(first.key, second.key),
        segment: None,
        predictions_read: first.predictions_read + second.predictions_read,
        unmatched: first.unmatched + second.unmatched,
        missing_values: first.missing_values + second.missing_values,
        duplicate_actuals: first.duplicate_actuals.max(second.duplicate_actuals),
    };
    let first_rows = (0..n_first as u32).collect();
    let second_rows = (n_first as u32..(n_first + n_second) as u32).collect();
    (combined, first_rows, second_rows)
}

fn mix(hash: u64, value: u64) -> u64 {
    (hash.rotate_left(23) ^ value).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn text_hash(text: &str) -> u64 {
    // FNV-1a, then a final avalanche: per level, not per row.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash ^= hash >> 33;
    hash.wrapping_mul(0xff51_afd7_ed55_8ccd)
}

/// Hash of `columns`' values per row, compared as text; [`NULL_KEY`] where any is missing.
/// Without columns every row gets the same non-null hash (one series).
///
/// # Errors
/// A column is missing or unreadable.
pub fn key_hashes(dataset: &Dataset, columns: &[String]) -> Result<Vec<u64>, EvalError> {
    let mut hashes = vec![1_u64; dataset.rows()];
    for name in columns {
        let column = dataset.read_column(name, ColumnKind::Categorical)?;
        let ColumnValues::Categorical { codes, levels } = &column.values else {
            return Err(EvalError::Invalid(format!("{name}: not read as text")));
        };
        let level_hashes: Vec<u64> = levels.iter().map(|l| text_hash(l)).collect();
        for (hash, code) in hashes.iter_mut().zip(codes) {
            if *hash == NULL_KEY {
                continue;
            }
            *hash = if *code == NULL_CODE {
                NULL_KEY
            } else {
                mix(*hash, level_hashes[*code as usize]) | 1
            };
        }
    }
    Ok(hashes)
}

fn numeric(dataset: &Dataset, name: &str) -> Result<Vec<f64>, EvalError> {
    match dataset.read_column(name, ColumnKind::Numeric)?.values {
        ColumnValues::Numeric(values) => Ok(values),
        _ => Err(EvalError::Invalid(format!("{name}: not read as numbers"))),
    }
}

fn categorical(dataset: &Dataset, name: &str) -> Result<(Vec<u32>, Vec<String>), EvalError> {
    match dataset.read_column(name, ColumnKind::Categorical)?.values {
        ColumnValues::Categorical { codes, levels } => Ok((codes, levels)),
        _ => Err(EvalError::Invalid(format!("{name}: not read as text"))),
    }
}

/// Whether a key column holds dates or times: typed so, or text that reads as one.
fn is_time_key(dataset: &Dataset, name: &str) -> bool {
    match dataset.field(name).map(|f| f.kind) {
        Ok(Some(ColumnKind::Timestamp)) => true,
        Ok(Some(ColumnKind::Categorical)) => {
            match dataset.read_column(name, ColumnKind::Categorical) {
                Ok(Column {
                    values: ColumnValues::Categorical { levels, .. },
                    ..
                }) => {
                    !levels.is_empty()
                        && levels
                            .iter()
                            .take(3)
                            .all(|l| warden_data::dataset::parse_timestamp(l).is_some())
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// The series keys: as mapped, or the keys that are not dates or times.
pub fn series_keys(dataset: &Dataset, map: &ColumnMap) -> Vec<String> {
    if let Some(series) = &map.series {
        return series.clone();
    }
    map.keys
        .iter()
        .filter(|key| key.as_str() != map.timestamp && !is_time_key(dataset, key))
        .cloned()
        .collect()
}

fn has(dataset: &Dataset, name: &str) -> bool {
    dataset.fields().iter().any(|f| f.name == name)
}

/// Joins `predictions` to `actuals` on the mapped keys; without `actuals`, the log's own
/// actual column is used. `by` adds a segment column read from the predictions.
///
/// # Errors
/// A mapped column is missing, actuals without keys to join on, or nothing joined.
pub fn load(
    predictions: &Dataset,
    actuals: Option<&Dataset>,
    map: &ColumnMap,
    by: Option<&str>,
) -> Result<Scored, EvalError> {
    let rows = predictions.rows();
    // Memory is what bounds a 10M-row evaluation: every per-row vector is read once, the
    // prediction keys are hashed once, the actuals' index carries its values (the actuals'
    // columns are dropped before the predictions' are read), and rows are compacted in place.
    let key = if map.keys.is_empty() {
        vec![NULL_KEY; rows]
    } else {
        key_hashes(predictions, &map.keys)?
    };
    let (mut actual, duplicate_actuals) = match actuals {
        None => (numeric(predictions, &map.actual)?, 0),
        Some(actuals) => {
            if map.keys.is_empty() {
                return Err(EvalError::Invalid(
                    "joining predictions to actuals needs the key columns (--key or keys: in the mapping)".into(),
                ));
            }
            let (index, duplicates) = actuals_index(actuals, map)?;
            let joined = key
                .iter()
                .map(|h| {
                    if *h == NULL_KEY {
                        return f64::NAN;
                    }
                    index
                        .binary_search_by_key(h, |(k, _)| *k)
                        .map_or(f64::NAN, |i| index[i].1)
                })
                .collect();
            (joined, duplicates)
        }
    };
    let mut prediction = numeric(predictions, &map.prediction)?;
    let unmatched = if actuals.is_some() {
        actual.iter().filter(|a| a.is_nan()).count()
    } else {
        0
    };
    let keep: Vec<u32> = (0..rows)
        .filter(|&row| prediction[row].is_finite() && actual[row].is_finite())
        .map(|row| row as u32)
        .collect();
    let missing_values = rows - keep.len() - unmatched;
    if keep.is_empty() {
        return Err(EvalError::Invalid(format!(
            "{}: no prediction has an actual ({rows} predictions, {unmatched} without an actual)",
            predictions.location()
        )));
    }
    compact(&mut prediction, &keep);
    compact(&mut actual, &keep);
    let mut key = key;
    compact(&mut key, &keep);
    let (version, versions) = if has(predictions, &map.model_version) {
        let (mut codes, levels) = categorical(predictions, &map.model_version)?;
        compact(&mut codes, &keep);
        renumber_versions(codes, &levels)
    } else {
        (vec![0; keep.len()], vec!["all".to_string()])
    };
    let timestamp = if has(predictions, &map.timestamp) {
        match predictions
            .read_column(&map.timestamp, ColumnKind::Timestamp)?
            .values
        {
            ColumnValues::Timestamp(mut values) => {
                compact(&mut values, &keep);
                Some(values)
            }
            _ => None,
        }
    } else {
        None
    };
    let mut series = key_hashes(predictions, &series_keys(predictions, map))?;
    compact(&mut series, &keep);
    let segment = match by {
        Some(column) => {
            let (mut codes, levels) = categorical(predictions, column)?;
            compact(&mut codes, &keep);
            Some((codes, levels))
        }
        None => None,
    };
    Ok(Scored {
        prediction,
        actual,
        version,
        versions,
        timestamp,
        series,
        key,
        segment,
        predictions_read: rows,
        unmatched,
        missing_values,
        duplicate_actuals,
    })
}

/// The actuals as `(key hash, actual)` sorted by hash, one per key (the last row of a
/// repeated key wins), and how many rows repeated a key.
fn actuals_index(
    actuals: &Dataset,
    map: &ColumnMap,
) -> Result<(Vec<(u64, f64)>, usize), EvalError> {
    let values = numeric(actuals, &map.actual)?;
    let mut index: Vec<(u64, f64)> = key_hashes(actuals, &map.keys)?
        .into_iter()
        .zip(values)
        .filter(|(h, _)| *h != NULL_KEY)
        .collect();
    // Stable: among equal keys the last row ends up last, and wins.
    index.sort_by_key(|(h, _)| *h);
    let mut duplicates = 0;
    index.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            duplicates += 1;
            *earlier = *later;
            true
        } else {
            false
        }
    });
    index.shrink_to_fit();
    Ok((index, duplicates))
}

/// Keeps the rows `keep` (increasing) of `values`, in place.
fn compact<T: Copy>(values: &mut Vec<T>, keep: &[u32]) {
    for (to, &from) in keep.iter().enumerate() {
        values[to] = values[from as usize];
    }
    values.truncate(keep.len());
    values.shrink_to_fit();
}

/// Version codes renumbered in order of appearance, versions never seen dropped, missing
/// versions named `unknown`.
fn renumber_versions(codes: Vec<u32>, levels: &[String]) -> (Vec<u32>, Vec<String>) {
    let mut renumber = vec![u32::MAX; levels.len() + 1];
    let mut versions = Vec::new();
    let mut version = codes;
    for code in &mut version {
        let slot = if *code == NULL_CODE {
            levels.len()
        } else {
            *code as usize
        };
        if renumber[slot] == u32::MAX {
            renumber[slot] = versions.len() as u32;
            versions.push(
                levels
                    .get(slot)
                    .cloned()
                    .unwrap_or_else(|| "unknown".to_string()),
            );
        }
        *code = renumber[slot];
    }
    (version, versions)
}

/// The rows of `dataset` whose `column` reads `value` as text.
///
/// # Errors
/// The column is missing or unreadable.
pub fn rows_where(dataset: &Dataset, column: &str, value: &str) -> Result<Vec<u32>, EvalError> {
    let (codes, levels) = categorical(dataset, column)?;
    let Some(code) = levels.iter().position(|l| l == value) else {
        return Ok(Vec::new());
    };
    Ok(codes
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == code as u32)
        .map(|(row, _)| row as u32)
        .collect())
}

/// A column read as numbers, for the feature comparisons.
///
/// # Errors
/// Missing or unreadable.
pub fn read_numeric(dataset: &Dataset, name: &str) -> Result<Column, EvalError> {
    Ok(dataset.read_column(name, ColumnKind::Numeric)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &std::path::Path, name: &str, text: &str) -> Dataset {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        Dataset::open(path.to_str().expect("utf-8")).expect("open")
    }

    #[test]
    fn predictions_join_actuals_on_their_keys_whatever_the_row_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let predictions = write(
            dir.path(),
            "p.csv",
            "store_id,date,model_version,prediction\n1,2026-11-01,1,10\n2,2026-11-01,1,20\n1,2026-11-02,2,30\n3,2026-11-02,2,40\n",
        );
        let actuals = write(
            dir.path(),
            "a.csv",
            "date,store_id,actual\n2026-11-02,1,33\n2026-11-01,2,18\n2026-11-01,1,11\n2026-11-01,1,12\n",
        );
        let map = ColumnMap {
            keys: vec!["store_id".into(), "date".into()],
            ..ColumnMap::default()
        };
        let scored = load(&predictions, Some(&actuals), &map, None).expect("joins");
        assert_eq!(scored.prediction, [10.0, 20.0, 30.0]);
        // The later duplicate of (1, 2026-11-01) wins.
        assert_eq!(scored.actual, [12.0, 18.0, 33.0]);
        assert_eq!(scored.duplicate_actuals, 1);
        assert_eq!(scored.unmatched, 1);
        assert_eq!(scored.versions, ["1", "2"]);
        assert_eq!(scored.version, [0, 0, 1]);
        // Series are the non-date keys: store 1 on both days is one series.
        assert_eq!(scored.series[0], scored.series[2]);
        assert_ne!(scored.series[0], scored.series[1]);
    }

    #[test]
    fn nothing_joined_is_an_error_that_names_the_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let predictions = write(dir.path(), "p.csv", "id,prediction\n1,10\n");
        let actuals = write(dir.path(), "a.csv", "id,actual\n2,11\n");
        let map = ColumnMap {
            keys: vec!["id".into()],
            ..ColumnMap::default()
        };
        let error = load(&predictions, Some(&actuals), &map, None)
            .expect_err("no overlap")
            .to_string();
        assert!(
            error.contains("p.csv") && error.contains("no prediction has an actual"),
            "{error}"
        );
    }

    #[test]
    fn actuals_without_keys_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let predictions = write(dir.path(), "p.csv", "id,prediction\n1,10\n");
        let actuals = write(dir.path(), "a.csv", "id,actual\n1,11\n");
        let error = load(&predictions, Some(&actuals), &ColumnMap::default(), None)
            .expect_err("no keys")
            .to_string();
        assert!(error.contains("key columns"), "{error}");
    }
}
