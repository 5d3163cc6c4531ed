//! `warden validate`: data checks on actuals, prediction logs or training data — columns and
//! types, nulls, ranges, duplicate keys, category sets, timestamp freshness — against a schema
//! file or a schema learnt from a reference data set; and `warden validate parity`: the same
//! keys must yield the same features in training and in serving (training/serving skew).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use warden_data::{ColumnKind, ColumnValues, Dataset, NULL_CODE, NULL_TIMESTAMP};

use crate::EvalError;
use crate::table::{NULL_KEY, key_hashes};

/// What one column must look like.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ColumnRule {
    /// `numeric`, `categorical` or `timestamp`.
    #[serde(rename = "type")]
    pub kind: Option<ColumnKind>,
    /// Largest share of missing values (default 0 for keys, 1 otherwise: unchecked).
    pub max_null_rate: Option<f64>,
    /// Smallest allowed value (numeric).
    pub min: Option<f64>,
    /// Largest allowed value (numeric).
    pub max: Option<f64>,
    /// The allowed categories.
    pub categories: Option<Vec<String>>,
    /// Timestamps: the newest must be at most this old, e.g. `2d`.
    pub max_age: Option<String>,
}

/// A schema file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Schema {
    /// Rules per column; every listed column must exist.
    pub columns: BTreeMap<String, ColumnRule>,
    /// Columns whose values together must be unique.
    pub keys: Vec<String>,
    /// Share of values that may fall outside a range or category set (0 for a written
    /// schema; a learnt one allows 0.1%).
    pub tolerance: f64,
}

impl Schema {
    /// Reads a YAML or JSON schema file.
    ///
    /// # Errors
    /// Unreadable or invalid, naming the file.
    pub fn from_file(path: &Path) -> Result<Self, EvalError> {
        crate::read_yaml(path)
    }

    /// Learns a schema from reference data: its columns and types, null rates (plus one
    /// point), numeric ranges and category sets (not of the keys), with a 0.1% tolerance;
    /// `ignore`d columns (model version, request ids) get no rule.
    ///
    /// # Errors
    /// The reference cannot be read.
    pub fn learn(
        reference: &Dataset,
        keys: &[String],
        ignore: &[String],
    ) -> Result<Self, EvalError> {
        let mut columns = BTreeMap::new();
        for field in reference.fields() {
            let Some(kind) = field.kind else { continue };
            if ignore.contains(&field.name) {
                continue;
            }
            let column = reference.read_column(&field.name, kind)?;
            let rows = column.len().max(1) as f64;
            let mut rule = ColumnRule {
                kind: Some(kind),
                max_null_rate: Some((column.null_count() as f64 / rows + 0.01).min(1.0)),
                ..ColumnRule::default()
            };
            match &column.values {
                // Keys identify rows: new ids are expected, not out of range.
                _ if keys.contains(&field.name) => {}
                ColumnValues::Numeric(values) => {
                    let finite = values.iter().copied().filter(|v| v.is_finite());
                    let (lo, hi) = finite
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                            (lo.min(v), hi.max(v))
                        });
                    if lo <= hi {
                        // A reference is a sample: its extremes are not the population's, so
                        // the learnt range has a margin of a tenth of its span (of the value
                        // for a constant column) — and never crosses zero the reference kept.
                        let span = hi - lo;
                        let margin = if span > 0.0 {
                            0.1 * span
                        } else {
                            0.1 * lo.abs().max(1.0)
                        };
                        rule.min = Some(if lo >= 0.0 {
                            (lo - margin).max(0.0)
                        } else {
                            lo - margin
                        });
                        rule.max = Some(hi + margin);
                    }
                }
                ColumnValues::Categorical { levels, .. } if levels.len() <= 1000 => {
                    rule.categories = Some(levels.clone());
                }
                _ => {}
            }
            columns.insert(field.name.clone(), rule);
        }
        Ok(Self {
            columns,
            keys: keys.to_vec(),
            tolerance: 0.001,
        })
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// `column`, `type`, `nulls`, `range`, `categories`, `duplicate_keys`, `freshness`.
    pub check: &'static str,
    /// The column, for per-column checks.
    pub column: Option<String>,
    /// Passed.
    pub ok: bool,
    /// What was found, in words.
    pub detail: String,
}

/// All checks of one data set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Validation {
    /// Every check passed.
    pub ok: bool,
    /// The data set.
    pub data: String,
    /// Its rows.
    pub rows: usize,
    /// The checks, in order.
    pub checks: Vec<Check>,
}

fn check(check: &'static str, column: &str, ok: bool, detail: String) -> Check {
    Check {
        check,
        column: Some(column.to_string()),
        ok,
        detail,
    }
}

fn share(count: usize, rows: usize) -> f64 {
    if rows == 0 {
        0.0
    } else {
        count as f64 / rows as f64
    }
}

/// Checks `data` against `schema`; `now_ms` is the moment freshness is measured from.
///
/// # Errors
/// The data cannot be read (a rule's failure is a failed check, not an error).
pub fn validate(data: &Dataset, schema: &Schema, now_ms: i64) -> Result<Validation, EvalError> {
    let rows = data.rows();
    let mut checks = Vec::new();
    for (name, rule) in &schema.columns {
        let Some(field) = data.fields().iter().find(|f| &f.name == name) else {
            checks.push(check("column", name, false, "missing".into()));
            continue;
        };
        let Some(found) = field.kind else {
            checks.push(check(
                "type",
                name,
                false,
                format!("{} is not a column type Warden reads", field.source_type),
            ));
            continue;
        };
        let kind = rule.kind.unwrap_or(found);
        // Any column reads as text, so a `categorical` rule accepts every stored type.
        if kind != found && kind != ColumnKind::Categorical {
            checks.push(check(
                "type",
                name,
                false,
                format!(
                    "{} ({}), expected {}",
                    found.name(),
                    field.source_type,
                    kind.name()
                ),
            ));
            continue;
        }
        let column = data.read_column(name, kind)?;
        let nulls = column.null_count();
        let is_key = schema.keys.contains(name);
        let max_null = rule.max_null_rate.unwrap_or(if is_key { 0.0 } else { 1.0 });
        if rule.max_null_rate.is_some() || is_key {
            checks.push(check(
                "nulls",
                name,
                share(nulls, rows) <= max_null,
                format!(
                    "{nulls} missing of {rows} ({:.2}%, at most {:.2}%)",
                    100.0 * share(nulls, rows),
                    100.0 * max_null
                ),
            ));
        }
        match &column.values {
            ColumnValues::Numeric(values) if rule.min.is_some() || rule.max.is_some() => {
                let lo = rule.min.unwrap_or(f64::NEG_INFINITY);
                let hi = rule.max.unwrap_or(f64::INFINITY);
                let outside: Vec<f64> = values
                    .iter()
                    .copied()
                    .filter(|v| !v.is_nan() && (*v < lo || *v > hi))
                    .collect();
                let example = outside
                    .iter()
                    .take(3)
                    .map(|v| format!("{v}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                checks.push(check(
                    "range",
                    name,
                    share(outside.len(), rows) <= schema.tolerance,
                    if outside.is_empty() {
                        format!("all within [{lo}, {hi}]")
                    } else {
                        format!("{} outside [{lo}, {hi}], e.g. {example}", outside.len())
                    },
                ));
            }
            ColumnValues::Categorical { codes, levels } => {
                if let Some(allowed) = &rule.categories {
                    let unknown: Vec<bool> = levels.iter().map(|l| !allowed.contains(l)).collect();
                    let count = codes
                        .iter()
                        .filter(|c| **c != NULL_CODE && unknown[**c as usize])
                        .count();
                    let names: Vec<&str> = levels
                        .iter()
                        .zip(&unknown)
                        .filter(|(_, u)| **u)
                        .map(|(l, _)| l.as_str())
                        .take(5)
                        .collect();
                    checks.push(check(
                        "categories",
                        name,
                        share(count, rows) <= schema.tolerance,
                        if count == 0 {
                            format!("all in the {} known categories", allowed.len())
                        } else {
                            format!("{count} rows with unknown categories: {}", names.join(", "))
                        },
                    ));
                }
            }
            ColumnValues::Timestamp(values) => {
                if let Some(age) = &rule.max_age {
                    let limit = warden_core::duration::parse_duration(age)
                        .map_err(|e| EvalError::Invalid(format!("columns.{name}.max_age: {e}")))?;
                    let newest = values
                        .iter()
                        .copied()
                        .filter(|t| *t != NULL_TIMESTAMP)
                        .max();
                    let (ok, detail) = match newest {
                        None => (false, "no timestamps".to_string()),
                        Some(t) => {
                            let age_ms = now_ms - t;
                            (
                                age_ms <= limit.as_millis() as i64,
                                format!(
                                    "newest is {} old (at most {age})",
                                    warden_core::duration::format_duration(
                                        std::time::Duration::from_millis(age_ms.max(0) as u64)
                                    )
                                ),
                            )
                        }
                    };
                    checks.push(check("freshness", name, ok, detail));
                }
            }
            _ => {}
        }
    }
    if !schema.keys.is_empty() {
        let missing: Vec<&String> = schema
            .keys
            .iter()
            .filter(|k| !data.fields().iter().any(|f| &f.name == *k))
            .collect();
        if missing.is_empty() {
            let mut hashes: Vec<u64> = key_hashes(data, &schema.keys)?
                .into_iter()
                .filter(|h| *h != NULL_KEY)
                .collect();
            hashes.sort_unstable();
            let total = hashes.len();
            hashes.dedup();
            let duplicates = total - hashes.len();
            checks.push(Check {
                check: "duplicate_keys",
                column: Some(schema.keys.join(",")),
                ok: duplicates == 0,
                detail: format!(
                    "{duplicates} rows repeat a key of ({})",
                    schema.keys.join(", ")
                ),
            });
        } else {
            checks.push(Check {
                check: "duplicate_keys",
                column: Some(schema.keys.join(",")),
                ok: false,
                detail: format!("key columns missing: {missing:?}"),
            });
        }
    }
    Ok(Validation {
        ok: checks.iter().all(|c| c.ok),
        data: data.location().to_string(),
        rows,
        checks,
    })
}

/// One feature's parity between training and serving.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureParity {
    /// The feature.
    pub feature: String,
    /// Keys compared.
    pub compared: usize,
    /// Keys whose values differ (beyond the tolerance for numbers; a value on one side and
    /// none on the other counts).
    pub mismatches: usize,
    /// Up to five examples: `key: training vs serving`.
    pub examples: Vec<String>,
}

/// Training/serving parity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parity {
    /// No feature differs beyond `max_mismatch_rate`.
    pub ok: bool,
    /// Keys in both.
    pub matched_keys: usize,
    /// Training rows whose key serving never saw.
    pub training_only: usize,
    /// Per feature.
    pub features: Vec<FeatureParity>,
    /// The share of mismatching keys a feature may have.
    pub max_mismatch_rate: f64,
}

fn key_text(levels: &[(String, Vec<u32>, Vec<String>)], row: usize) -> String {
    levels
        .iter()
        .map(|(name, codes, levels)| {
            let code = codes[row];
            let value = if code == NULL_CODE {
                "null"
            } else {
                levels[code as usize].as_str()
            };
            format!("{name}={value}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn as_text(dataset: &Dataset, name: &str) -> Result<(Vec<u32>, Vec<String>), EvalError> {
    match dataset.read_column(name, ColumnKind::Categorical)?.values {
        ColumnValues::Categorical { codes, levels } => Ok((codes, levels)),
        _ => Err(EvalError::Invalid(format!("{name}: not read as text"))),
    }
}

/// Compares the features of the same keys in `training` and `serving`; numbers are equal
/// within `tolerance` relative (absolute below 1).
///
/// # Errors
/// No keys, a key missing from either side, unreadable data.
pub fn parity(
    training: &Dataset,
    serving: &Dataset,
    keys: &[String],
    features: &[String],
    tolerance: f64,
    max_mismatch_rate: f64,
) -> Result<Parity, EvalError> {
    if keys.is_empty() {
        return Err(EvalError::Invalid(
            "parity needs the key columns (--key)".into(),
        ));
    }
    let features: Vec<String> = if features.is_empty() {
        training
            .fields()
            .iter()
            .filter(|f| f.kind.is_some() && !keys.contains(&f.name))
            .filter(|f| serving.fields().iter().any(|s| s.name == f.name))
            .map(|f| f.name.clone())
            .collect()
    } else {
        features.to_vec()
    };
    let mut serving_index: Vec<(u64, u32)> = key_hashes(serving, keys)?
        .into_iter()
        .enumerate()
        .filter(|(_, h)| *h != NULL_KEY)
        .map(|(row, h)| (h, row as u32))
        .collect();
    serving_index.sort_by_key(|(h, _)| *h);
    let training_keys = key_hashes(training, keys)?;
    let pairs: Vec<(usize, usize)> = training_keys
        .iter()
        .enumerate()
        .filter(|(_, h)| **h != NULL_KEY)
        .filter_map(|(row, h)| {
            serving_index
                .binary_search_by_key(h, |(k, _)| *k)
                .ok()
                .map(|i| (row, serving_index[i].1 as usize))
        })
        .collect();
    if pairs.is_empty() {
        return Err(EvalError::Invalid(format!(
            "no key ({}) of {} is in {}: nothing to compare",
            keys.join(", "),
            training.location(),
            serving.location()
        )));
    }
    let training_only = training_keys.iter().filter(|h| **h != NULL_KEY).count() - pairs.len();
    let key_columns: Vec<(String, Vec<u32>, Vec<String>)> = keys
        .iter()
        .map(|k| as_text(training, k).map(|(c, l)| (k.clone(), c, l)))
        .collect::<Result<_, _>>()?;
    let mut report = Vec::new();
    for feature in &features {
        let numeric = [training, serving].iter().all(|d| {
            d.field(feature)
                .map(|f| f.kind == Some(ColumnKind::Numeric))
                .unwrap_or(false)
        });
        let mut mismatches = 0;
        let mut examples = Vec::new();
        let mut record = |t: usize, shown: String| {
            mismatches += 1;
            if examples.len() < 5 {
                examples.push(format!("{}: {shown}", key_text(&key_columns, t)));
            }
        };
        if numeric {
            let t = crate::table::read_numeric(training, feature)?;
            let s = crate::table::read_numeric(serving, feature)?;
            let (ColumnValues::Numeric(t), ColumnValues::Numeric(s)) = (&t.values, &s.values)
            else {
                continue;
            };
            for &(tr, sr) in &pairs {
                let (a, b) = (t[tr], s[sr]);
                let same = (a.is_nan() && b.is_nan())
                    || (a - b).abs() <= tolerance * a.abs().max(b.abs()).max(1.0);
                if !same {
                    record(tr, format!("{a} vs {b}"));
                }
            }
        } else {
            let (tc, tl) = as_text(training, feature)?;
            let (sc, sl) = as_text(serving, feature)?;
            let text = |codes: &[u32], levels: &[String], row: usize| {
                let code = codes[row];
                if code == NULL_CODE {
                    "null".to_string()
                } else {
                    levels[code as usize].clone()
                }
            };
            for &(tr, sr) in &pairs {
                let (a, b) = (text(&tc, &tl, tr), text(&sc, &sl, sr));
                if a != b {
                    record(tr, format!("{a} vs {b}"));
                }
            }
        }
        report.push(FeatureParity {
            feature: feature.clone(),
            compared: pairs.len(),
            mismatches,
            examples,
        });
    }
    let ok = report
        .iter()
        .all(|f| share(f.mismatches, f.compared) <= max_mismatch_rate);
    Ok(Parity {
        ok,
        matched_keys: pairs.len(),
        training_only,
        features: report,
        max_mismatch_rate,
    })
}

#[cfg(test)]
mod tests;
