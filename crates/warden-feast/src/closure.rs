//! Runbook 4's closure criteria (R4.6), judged from data: freshness back within the SLA,
//! sampled online values equal to the latest offline values, and materialization running on
//! schedule over a window (24 h by default) — a single catch-up run after an outage covers
//! the missed hours but leaves a gap in the run times, so it does not pass until the window
//! has run cleanly.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use warden_data::{ColumnKind, ColumnValues, Dataset};

use crate::freshness::FreshnessStatus;
use crate::registry::FeatureView;
use crate::status::FeastStatus;

/// Default window over which materialization must have run on schedule.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// One closure gate's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    /// `freshness_within_sla`, `online_matches_offline`, `materialization_succeeded`.
    pub gate: &'static str,
    /// Whether it holds.
    pub passed: bool,
    /// Why, one line per fact.
    pub details: Vec<String>,
}

/// Every online view is fresh (from [`crate::status::collect`]).
pub fn freshness_within_sla(status: &FeastStatus) -> GateResult {
    let details: Vec<String> = status
        .views
        .iter()
        .map(|v| match v.status {
            FreshnessStatus::Fresh => format!(
                "{}: fresh (materialized {:.0} s ago)",
                v.view,
                v.materialization_lag_seconds.unwrap_or(f64::NAN)
            ),
            _ => format!("{}: {}", v.view, v.problems.join("; ")),
        })
        .collect();
    GateResult {
        gate: "freshness_within_sla",
        passed: !status.views.is_empty()
            && status
                .views
                .iter()
                .all(|v| v.status == FreshnessStatus::Fresh),
        details,
    }
}

/// Materialization ran at least every `sla` throughout the last `window` for every view.
pub fn materialization_succeeded(
    views: &[FeatureView],
    now: DateTime<Utc>,
    window: Duration,
    sla: Duration,
) -> GateResult {
    let window_start = now - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    let sla = chrono::Duration::from_std(sla).unwrap_or(chrono::Duration::MAX);
    let mut details = Vec::new();
    let mut passed = !views.is_empty();
    for view in views.iter().filter(|v| v.online) {
        let mut runs: Vec<DateTime<Utc>> = view
            .materialization_intervals
            .iter()
            .map(|i| i.end)
            .collect();
        runs.sort();
        // The run times that matter: the last one before the window (it covers its start)
        // and every one inside it, then now.
        let before = runs.iter().rev().find(|t| **t <= window_start).copied();
        let mut checkpoints: Vec<DateTime<Utc>> = before.into_iter().collect();
        checkpoints.extend(runs.iter().filter(|t| **t > window_start));
        let Some(first) = checkpoints.first().copied() else {
            passed = false;
            details.push(format!("{}: never materialized", view.name));
            continue;
        };
        let start_gap = (first - window_start).max(chrono::Duration::zero());
        let mut widest = start_gap;
        for pair in checkpoints.windows(2) {
            widest = widest.max(pair[1] - pair[0]);
        }
        if let Some(last) = checkpoints.last() {
            widest = widest.max(now - *last);
        }
        let ok = widest <= sla;
        passed &= ok;
        details.push(format!(
            "{}: {} run(s) in the window, longest gap {} s (allowed {} s)",
            view.name,
            runs.iter().filter(|t| **t > window_start).count(),
            widest.num_seconds(),
            sla.num_seconds()
        ));
    }
    GateResult {
        gate: "materialization_succeeded",
        passed,
        details,
    }
}

/// The latest offline row per entity of a view's file source: entity (labelled as
/// [`crate::redis_layout::entity_label`] does) → feature → value.
///
/// # Errors
/// The source cannot be opened, or lacks the view's columns.
pub fn latest_offline_values(
    view: &FeatureView,
    location: &str,
) -> Result<BTreeMap<String, BTreeMap<String, Value>>, String> {
    let dataset = Dataset::open(location).map_err(|err| err.to_string())?;
    let timestamp_field = view
        .source_timestamp_field
        .as_deref()
        .ok_or_else(|| format!("{}: the source has no timestamp field", view.name))?;
    let times = match dataset
        .read_column(timestamp_field, ColumnKind::Timestamp)
        .map_err(|err| err.to_string())?
        .values
    {
        ColumnValues::Timestamp(values) => values,
        _ => return Err(format!("{timestamp_field}: not a timestamp")),
    };
    let mut keys: Vec<(String, Vec<String>)> = Vec::new();
    for column in &view.entity_columns {
        keys.push((column.name.clone(), entity_values(&dataset, &column.name)?));
    }
    // Labelled like `redis_layout::entity_label`: join keys sorted by name.
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    let mut features: Vec<(String, Vec<Value>)> = Vec::new();
    for feature in &view.features {
        features.push((feature.name.clone(), json_values(&dataset, &feature.name)?));
    }
    let mut latest: BTreeMap<String, (i64, usize)> = BTreeMap::new();
    for (row, time) in times.iter().enumerate() {
        let entity = keys
            .iter()
            .map(|(name, values)| format!("{name}={}", values[row]))
            .collect::<Vec<_>>()
            .join(",");
        let slot = latest.entry(entity).or_insert((*time, row));
        if *time >= slot.0 {
            *slot = (*time, row);
        }
    }
    Ok(latest
        .into_iter()
        .map(|(entity, (_, row))| {
            let values = features
                .iter()
                .map(|(name, values)| (name.clone(), values[row].clone()))
                .collect();
            (entity, values)
        })
        .collect())
}

/// A column read as the kind its storage type suggests (text when unknown).
fn read_values(dataset: &Dataset, name: &str) -> Result<ColumnValues, String> {
    let kind = dataset
        .field(name)
        .map_err(|err| err.to_string())?
        .kind
        .unwrap_or(ColumnKind::Categorical);
    Ok(dataset
        .read_column(name, kind)
        .map_err(|err| err.to_string())?
        .values)
}

/// A join key's values as the text `EntityValue::to_json` gives (integers without `.0`,
/// strings quoted).
fn entity_values(dataset: &Dataset, name: &str) -> Result<Vec<String>, String> {
    Ok(match read_values(dataset, name)? {
        ColumnValues::Numeric(values) => values
            .iter()
            .map(|v| {
                if v.fract() == 0.0 {
                    format!("{}", *v as i64)
                } else {
                    format!("{v}")
                }
            })
            .collect(),
        ColumnValues::Categorical { codes, levels } => codes
            .iter()
            .map(|c| {
                levels
                    .get(*c as usize)
                    .map(|l| Value::from(l.as_str()).to_string())
                    .unwrap_or_else(|| "null".into())
            })
            .collect(),
        ColumnValues::Timestamp(values) => values.iter().map(i64::to_string).collect(),
    })
}

fn json_values(dataset: &Dataset, name: &str) -> Result<Vec<Value>, String> {
    Ok(match read_values(dataset, name)? {
        ColumnValues::Numeric(values) => values
            .iter()
            .map(|v| serde_json::Number::from_f64(*v).map_or(Value::Null, Value::from))
            .collect(),
        ColumnValues::Categorical { codes, levels } => codes
            .iter()
            .map(|c| {
                levels
                    .get(*c as usize)
                    .map_or(Value::Null, |l| Value::from(l.as_str()))
            })
            .collect(),
        ColumnValues::Timestamp(values) => values.iter().map(|v| Value::from(*v)).collect(),
    })
}

fn same(online: &Value, offline: &Value) -> bool {
    match (online.as_f64(), offline.as_f64()) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
        _ => online == offline,
    }
}

/// Sampled online rows (entity label → feature → value) equal the latest offline values.
pub fn online_matches_offline(
    view: &str,
    online: &BTreeMap<String, BTreeMap<String, Value>>,
    offline: &BTreeMap<String, BTreeMap<String, Value>>,
) -> GateResult {
    let mut details = Vec::new();
    let mut compared = 0usize;
    for (entity, values) in online {
        let Some(expected) = offline.get(entity) else {
            details.push(format!(
                "{view} {entity}: online but not in the offline source"
            ));
            continue;
        };
        for (feature, value) in values {
            compared += 1;
            let want = expected.get(feature).unwrap_or(&Value::Null);
            if !same(value, want) {
                details.push(format!(
                    "{view} {entity} {feature}: online {value}, offline latest {want}"
                ));
            }
        }
    }
    let passed = compared > 0 && details.is_empty();
    if compared == 0 {
        details.push(format!("{view}: no online values sampled"));
    } else if passed {
        details.push(format!(
            "{view}: {compared} sampled values over {} entities equal the offline latest",
            online.len()
        ));
    }
    GateResult {
        gate: "online_matches_offline",
        passed,
        details,
    }
}

/// All three gates for the views in `status`, reading offline sources relative to `repo`.
pub fn evaluate(
    status: &FeastStatus,
    views: &[FeatureView],
    repo: &std::path::Path,
    window: Duration,
    sla: Duration,
) -> Vec<GateResult> {
    let mut gates = vec![
        freshness_within_sla(status),
        materialization_succeeded(views, status.checked_at, window, sla),
    ];
    let mut matches = GateResult {
        gate: "online_matches_offline",
        passed: true,
        details: Vec::new(),
    };
    for view in views.iter().filter(|v| v.online) {
        let Some(uri) = &view.source_uri else {
            matches
                .details
                .push(format!("{}: no file source to compare with", view.name));
            continue;
        };
        let location = if uri.contains("://") || std::path::Path::new(uri).is_absolute() {
            uri.clone()
        } else {
            repo.join(uri).to_string_lossy().into_owned()
        };
        let online = status
            .sampled_rows
            .get(&view.name)
            .cloned()
            .unwrap_or_default();
        match latest_offline_values(view, &location) {
            Ok(offline) => {
                let result = online_matches_offline(&view.name, &online, &offline);
                matches.passed &= result.passed;
                matches.details.extend(result.details);
            }
            Err(err) => {
                matches.passed = false;
                matches
                    .details
                    .push(format!("{}: offline source {location}: {err}", view.name));
            }
        }
    }
    gates.push(matches);
    gates
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Interval;

    fn view_with_runs(now: DateTime<Utc>, minutes_ago: &[i64]) -> FeatureView {
        FeatureView {
            name: "v".into(),
            entity_columns: vec![],
            features: vec![],
            ttl: None,
            source_uri: None,
            source_timestamp_field: None,
            materialization_intervals: minutes_ago
                .iter()
                .map(|m| Interval {
                    start: now - chrono::Duration::minutes(m + 10),
                    end: now - chrono::Duration::minutes(*m),
                })
                .collect(),
            online: true,
        }
    }

    #[test]
    fn a_catch_up_run_does_not_pass_until_the_window_ran_cleanly() {
        let now = Utc::now();
        let window = Duration::from_secs(3600);
        let sla = Duration::from_secs(15 * 60);
        // Every 10 minutes for the last 70 minutes: passes.
        let steady = view_with_runs(now, &[1, 11, 21, 31, 41, 51, 61, 71]);
        assert!(materialization_succeeded(&[steady], now, window, sla).passed);
        // Nothing for 50 minutes, then one catch-up run a minute ago: fails.
        let caught_up = view_with_runs(now, &[1, 51, 61, 71]);
        let result = materialization_succeeded(&[caught_up], now, window, sla);
        assert!(!result.passed, "{:?}", result.details);
        assert!(
            result.details[0].contains("longest gap 3000 s"),
            "{:?}",
            result.details
        );
        // Last run 20 minutes ago: fails (behind now).
        let stopped = view_with_runs(now, &[20, 30, 40, 50, 60]);
        assert!(!materialization_succeeded(&[stopped], now, window, sla).passed);
        assert!(!materialization_succeeded(&[view_with_runs(now, &[])], now, window, sla).passed);
    }

    #[test]
    fn online_values_must_equal_the_offline_latest() {
        let row = |a: f64, b: i64| {
            BTreeMap::from([
                ("sales".to_string(), Value::from(a)),
                ("promo".to_string(), Value::from(b)),
            ])
        };
        let offline = BTreeMap::from([
            ("store_id=1".to_string(), row(10.0, 1)),
            ("store_id=2".to_string(), row(20.0, 0)),
        ]);
        let online = BTreeMap::from([
            ("store_id=1".to_string(), row(10.0, 1)),
            ("store_id=2".to_string(), row(20.0, 0)),
        ]);
        assert!(online_matches_offline("v", &online, &offline).passed);
        let stale = BTreeMap::from([("store_id=2".to_string(), row(19.0, 0))]);
        let result = online_matches_offline("v", &stale, &offline);
        assert!(!result.passed);
        assert!(result.details[0].contains("store_id=2 sales: online 19.0, offline latest 20.0"));
        assert!(!online_matches_offline("v", &BTreeMap::new(), &offline).passed);
    }
}
