//! The reference profile (`warden drift profile`): everything monitoring needs from the
//! reference, computed once — per numeric column a quantile grid (its CDF within 1/16384 of the
//! data's) with moments, per categorical column the label counts, and for both a ladder of
//! calibrated thresholds at window sizes from 100 rows up. Monitoring then reads only the
//! current data; decisions match those from the raw reference.

use std::path::Path;

use serde::{Deserialize, Serialize};
use warden_data::{Column, ColumnKind, ColumnValues};
use warden_stats::describe::quantile_grid;

use crate::DriftError;
use crate::analyze::{self, CategoricalSide, NumericSide, ThresholdInputs};
use crate::engine::{Rows, Side, timestamp_column};
use crate::options::{DriftOptions, MIN_CALIBRATION_CHUNKS};
use crate::report::ColumnReport;

/// Profile file format version.
pub const PROFILE_FORMAT: u32 = 1;
/// Points of the stored quantile grid.
pub const GRID_POINTS: usize = 16_384;
/// Window sizes the calibration ladder is computed at.
const LADDER: [usize; 15] = [
    100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000,
    1_000_000, 2_000_000, 5_000_000,
];

/// A calibrated threshold at one window size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LadderPoint {
    /// Window size in rows.
    pub window: usize,
    /// Threshold at that size.
    pub threshold: f64,
    /// Chunks it came from.
    pub chunks: usize,
}

/// One column of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// Column name.
    pub name: String,
    /// Storage type in the reference.
    pub source_type: String,
    /// How it is analysed.
    pub kind: ColumnKind,
    /// Numeric summary (grid in `sorted`).
    pub numeric: Option<NumericSide>,
    /// Categorical counts.
    pub categorical: Option<CategoricalSide>,
    /// Calibrated thresholds by window size.
    pub ladder: Vec<LadderPoint>,
}

/// A stored reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftProfile {
    /// File format version.
    pub format: u32,
    /// Where the reference came from.
    pub source: String,
    /// Reference rows.
    pub rows: usize,
    /// Files read.
    pub files: usize,
    /// First and last timestamp.
    pub time_range: Option<[String; 2]>,
    /// Columns.
    pub columns: Vec<ColumnProfile>,
}

impl DriftProfile {
    /// Profiles every numeric and categorical column of `side` (minus ignored, timestamp and
    /// segment columns), in time order when there is a timestamp.
    pub fn build(side: &Side, options: &DriftOptions) -> Result<Self, DriftError> {
        let roles = &options.roles;
        let timestamp = timestamp_column(&side.dataset, &roles.timestamp)?;
        let ordered = match &timestamp {
            Some(name) => {
                let ColumnValues::Timestamp(times) = side
                    .dataset
                    .read_column(name, ColumnKind::Timestamp)?
                    .values
                else {
                    return Err(DriftError::Invalid(format!(
                        "column `{name}` is not a timestamp"
                    )));
                };
                let mut rows: Vec<u32> = match &side.rows {
                    Rows::All => (0..side.dataset.rows() as u32).collect(),
                    Rows::Some(rows) => rows.clone(),
                };
                rows.sort_by_key(|r| times[*r as usize]);
                Rows::Some(rows)
            }
            None => side.rows.clone(),
        };
        let mut columns = Vec::new();
        for field in side.dataset.fields() {
            let name = &field.name;
            if Some(name) == timestamp.as_ref()
                || roles.ignore.contains(name)
                || roles.segments.contains(name)
            {
                continue;
            }
            let kind = if roles.categorical.contains(name) {
                Some(ColumnKind::Categorical)
            } else if roles.numeric.contains(name) {
                Some(ColumnKind::Numeric)
            } else {
                field.kind
            };
            let Some(kind) = kind.filter(|k| *k != ColumnKind::Timestamp) else {
                continue;
            };
            let column = ordered.apply(side.dataset.read_column(name, kind)?);
            columns.push(profile_column(column, &field.source_type, kind));
        }
        let summary = crate::engine::summarize_side(side, timestamp.as_deref())?;
        Ok(Self {
            format: PROFILE_FORMAT,
            source: side.label.clone(),
            rows: summary.rows,
            files: summary.files,
            time_range: summary.time_range,
            columns,
        })
    }

    /// Writes the profile as JSON.
    pub fn save(&self, path: &Path) -> Result<(), DriftError> {
        let file_error = |message: String| DriftError::File {
            path: path.display().to_string(),
            message,
        };
        let text = serde_json::to_string(self).map_err(|e| file_error(e.to_string()))?;
        std::fs::write(path, text).map_err(|e| file_error(e.to_string()))
    }

    /// Reads a profile written by [`DriftProfile::save`].
    pub fn load(path: &Path) -> Result<Self, DriftError> {
        let file_error = |message: String| DriftError::File {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        let profile: Self = serde_json::from_str(&text)
            .map_err(|e| file_error(format!("not a drift profile: {e}")))?;
        if profile.format != PROFILE_FORMAT {
            return Err(file_error(format!(
                "profile format {} (this warden reads {PROFILE_FORMAT})",
                profile.format
            )));
        }
        Ok(profile)
    }

    /// Compares a current column with this profile.
    pub(crate) fn compare(
        &self,
        kind: ColumnKind,
        name: &str,
        role: &'static str,
        current: &Column,
        mut inputs: ThresholdInputs,
        options: &DriftOptions,
    ) -> ColumnReport {
        let Some(profile) = self.columns.iter().find(|c| c.name == name) else {
            return analyze::skipped(
                name,
                kind.name(),
                role,
                "not in the reference profile".into(),
            );
        };
        match (&current.values, &profile.numeric, &profile.categorical) {
            (ColumnValues::Numeric(values), Some(reference), _) => {
                let current_side = NumericSide::from_values(values);
                inputs.calibrated = interpolate(&profile.ladder, current_side.count);
                analyze::numeric(
                    name,
                    role,
                    reference,
                    &current_side,
                    &inputs,
                    options.min_rows,
                )
            }
            (ColumnValues::Categorical { codes, levels }, _, Some(reference)) => {
                let current_side = CategoricalSide::from_codes(codes, levels);
                inputs.calibrated = interpolate(
                    &profile.ladder,
                    current_side.counts.iter().sum::<u64>() as usize,
                );
                analyze::categorical(
                    name,
                    role,
                    reference,
                    &current_side,
                    &inputs,
                    options.min_rows,
                )
            }
            _ => analyze::skipped(
                name,
                kind.name(),
                role,
                "type differs from the profile's".into(),
            ),
        }
    }
}

fn profile_column(column: Column, source_type: &str, kind: ColumnKind) -> ColumnProfile {
    let total = column.len();
    let mut profile = ColumnProfile {
        name: column.name.clone(),
        source_type: source_type.to_string(),
        kind,
        numeric: None,
        categorical: None,
        ladder: Vec::new(),
    };
    match column.values {
        ColumnValues::Numeric(values) => {
            let time_ordered: Vec<f64> = values.into_iter().filter(|v| !v.is_nan()).collect();
            let mut sorted = time_ordered.clone();
            warden_stats::sort::sort_f64(&mut sorted);
            let full = NumericSide::from_sorted(sorted, total);
            profile.ladder = ladder_windows(full.count)
                .filter_map(|window| {
                    analyze::calibrate_numeric(&time_ordered, &full.sorted, full.std, window)
                })
                .map(|c| LadderPoint {
                    window: c.window,
                    threshold: c.threshold,
                    chunks: c.chunks,
                })
                .collect();
            profile.numeric = Some(NumericSide {
                sorted: quantile_grid(&full.sorted, GRID_POINTS),
                ..full
            });
        }
        ColumnValues::Categorical { codes, levels } => {
            let side = CategoricalSide::from_codes(&codes, &levels);
            let time_ordered: Vec<u32> = codes
                .into_iter()
                .filter(|c| *c != warden_data::NULL_CODE)
                .collect();
            profile.ladder = ladder_windows(time_ordered.len())
                .filter_map(|window| {
                    analyze::calibrate_categorical(&time_ordered, &side.counts, window)
                })
                .map(|c| LadderPoint {
                    window: c.window,
                    threshold: c.threshold,
                    chunks: c.chunks,
                })
                .collect();
            profile.categorical = Some(side);
        }
        ColumnValues::Timestamp(_) => {}
    }
    profile
}

fn ladder_windows(count: usize) -> impl Iterator<Item = usize> {
    LADDER
        .into_iter()
        .filter(move |w| count / w >= MIN_CALIBRATION_CHUNKS)
}

/// The calibrated threshold at `window` rows from the ladder. Null-distribution effects shrink
/// like 1/√n, so `threshold·√window` is interpolated (linearly in log window) between the
/// bracketing points, and extrapolated from the nearest point outside them.
pub fn interpolate(ladder: &[LadderPoint], window: usize) -> Option<analyze::Calibrated> {
    let (first, last) = (ladder.first()?, ladder.last()?);
    let scaled = |p: &LadderPoint| p.threshold * (p.window as f64).sqrt();
    let n = window.max(1) as f64;
    let (value, chunks) = if window <= first.window {
        (scaled(first), first.chunks)
    } else if window >= last.window {
        (scaled(last), last.chunks)
    } else {
        let upper = ladder.iter().position(|p| p.window >= window)?;
        let (a, b) = (&ladder[upper - 1], &ladder[upper]);
        let t =
            (n.ln() - (a.window as f64).ln()) / ((b.window as f64).ln() - (a.window as f64).ln());
        (
            scaled(a) * (1.0 - t) + scaled(b) * t,
            a.chunks.min(b.chunks),
        )
    };
    Some(analyze::Calibrated {
        threshold: value / n.sqrt(),
        chunks,
        window,
        outliers: 0,
        shifted_from: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_interpolates_on_the_square_root_scale() {
        let ladder = [
            LadderPoint {
                window: 100,
                threshold: 0.2,
                chunks: 20,
            },
            LadderPoint {
                window: 10_000,
                threshold: 0.02,
                chunks: 20,
            },
        ];
        let at = |w| {
            interpolate(&ladder, w)
                .map(|c| c.threshold)
                .unwrap_or(f64::NAN)
        };
        assert!((at(100) - 0.2).abs() < 1e-12);
        assert!((at(10_000) - 0.02).abs() < 1e-12);
        assert!(
            (at(1_000) - 0.2 * 0.1f64.sqrt()).abs() < 1e-9,
            "exact 1/sqrt(n) scaling stays exact"
        );
        assert!(
            (at(40_000) - 0.01).abs() < 1e-12,
            "extrapolates as 1/sqrt(n)"
        );
        assert!(interpolate(&[], 10).is_none());
    }
}
