//! One column, reference vs current: the statistics, the effect, the threshold (a floor, or
//! calibrated leave-one-out on reference chunks the size of the current window), the
//! encoding-change hints, and the distributions a report draws. The decision itself waits for
//! the run's multiple-testing adjustment ([`crate::report::decide`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use warden_data::NULL_CODE;
use warden_stats::categorical::{bucket_rare, chi_square_homogeneity, jensen_shannon_distance};
use warden_stats::describe::{mean_std, quantile_sorted, sum_of};
use warden_stats::sort::{sort_f64, sorted_finite};
use warden_stats::two_sample::{PSI_BINS, distances, distances_leave_one_out, ks_p_value, psi};

use crate::options::{MAX_CALIBRATION_CHUNKS, MIN_CALIBRATION_CHUNKS};
use crate::report::{CategoryCount, ColumnReport, Distribution, Status};

/// Effects are capped here so a constant reference never produces an infinite effect.
const MAX_EFFECT: f64 = 1e12;
/// Bins of the histograms drawn in reports.
const HISTOGRAM_BINS: usize = 40;
/// Categories drawn in reports; the rest are summed as "(other)".
const CHART_CATEGORIES: usize = 12;
/// New or vanished categories listed per column.
const LISTED_CATEGORIES: usize = 10;
/// A change of the missing share this large is reported as a hint.
const NULL_SHARE_HINT: f64 = 0.05;

/// One side of a numeric comparison: sorted values (all of them, or a stored quantile grid),
/// how many values they stand for, and summary moments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericSide {
    /// Sorted values (or grid points).
    pub sorted: Vec<f64>,
    /// Non-missing values represented.
    pub count: usize,
    /// Missing values.
    pub nulls: usize,
    /// Mean.
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
    /// Mean of absolute values (for scale-jump hints).
    pub mean_abs: f64,
}

impl NumericSide {
    /// From raw values (NaN = missing).
    pub fn from_values(values: &[f64]) -> Self {
        let sorted = sorted_finite(values);
        Self::from_sorted(sorted, values.len())
    }

    /// From values already sorted and NaN-free; `total` counts the missing ones too.
    pub fn from_sorted(sorted: Vec<f64>, total: usize) -> Self {
        let (mean, std) = mean_std(&sorted);
        let mean_abs = if sorted.is_empty() {
            f64::NAN
        } else {
            sum_of(&sorted, f64::abs) / sorted.len() as f64
        };
        Self {
            count: sorted.len(),
            nulls: total - sorted.len(),
            sorted,
            mean,
            std,
            mean_abs,
        }
    }

    fn null_share(&self) -> f64 {
        share(self.nulls, self.count + self.nulls)
    }
}

/// One side of a categorical comparison: counts per label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalSide {
    /// Labels.
    pub levels: Vec<String>,
    /// Count per label.
    pub counts: Vec<u64>,
    /// Missing values.
    pub nulls: usize,
}

impl CategoricalSide {
    /// Counts codes (NULL_CODE = missing).
    pub fn from_codes(codes: &[u32], levels: &[String]) -> Self {
        let mut counts = vec![0u64; levels.len()];
        let mut nulls = 0;
        for code in codes {
            if *code == NULL_CODE {
                nulls += 1;
            } else {
                counts[*code as usize] += 1;
            }
        }
        Self {
            levels: levels.to_vec(),
            counts,
            nulls,
        }
    }

    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn null_share(&self) -> f64 {
        share(self.nulls, self.total() as usize + self.nulls)
    }
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Chunks whose effect lies beyond the median by more than this many robust standard
/// deviations (1.4826 × MAD) are outliers: periods of the reference unlike the rest.
const OUTLIER_MADS: f64 = 5.0;

/// A threshold learned from the reference at the current window's size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibrated {
    /// Mean + 3 standard deviations of the effects of the chunks that are not outliers.
    pub threshold: f64,
    /// Chunks used (outliers left out).
    pub chunks: usize,
    /// Rows per chunk.
    pub window: usize,
    /// Chunks left out as outliers.
    #[serde(default)]
    pub outliers: usize,
    /// When the reference's most recent chunks are all outliers: where that run starts, as a
    /// share of the reference's rows in time order (0.88: the last 12% differ from the rest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shifted_from: Option<f64>,
}

/// The smallest share of the reference, at its end, that makes a change point inside it.
const MIN_SHIFT_SHARE: f64 = 0.1;

/// Median and robust standard deviation (1.4826 × the median absolute deviation).
fn median_mad(values: &[f64]) -> (f64, f64) {
    let median_of = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    let median = median_of(values.to_vec());
    let mad = median_of(values.iter().map(|v| (v - median).abs()).collect());
    (median, 1.4826 * mad)
}

impl Calibrated {
    /// From the chunks' effects in time order, with where each chunk starts as a share of the
    /// reference. The threshold is mean + 3 sd of the chunks whose effect is within
    /// [`OUTLIER_MADS`] robust deviations of the median: a minority of chunks from another
    /// regime (a reference refreshed with recent data that already shifted) cannot inflate it,
    /// because median and MAD do not move with them.
    fn from_effects(effects: &[(f64, f64)], window: usize) -> Option<Self> {
        let effects: Vec<(f64, f64)> = effects
            .iter()
            .copied()
            .filter(|(e, _)| e.is_finite())
            .collect();
        if effects.len() < MIN_CALIBRATION_CHUNKS {
            return None;
        }
        let values: Vec<f64> = effects.iter().map(|(e, _)| *e).collect();
        let (median, robust_sd) = median_mad(&values);
        // A floor on the spread: with identical chunks (MAD 0) nothing is an outlier by noise.
        let cut = median + OUTLIER_MADS * robust_sd.max(0.05 * median.abs()).max(1e-9);
        let inliers: Vec<f64> = values.iter().copied().filter(|e| *e <= cut).collect();
        let kept = if inliers.len() >= MIN_CALIBRATION_CHUNKS {
            inliers
        } else {
            values.clone()
        };
        let outliers = values.len() - kept.len();
        let trailing = effects.iter().rev().take_while(|(e, _)| *e > cut).count();
        // A change point has the new regime at the end: as many unlike chunks earlier
        // (weekends in a reference that ends on a Sunday) make a recurring pattern, not a
        // shift, and an unlike tenth or less at the end is as likely a blip as a regime.
        let earlier = outliers.saturating_sub(trailing);
        let shifted_from = (trailing > 0 && earlier < trailing && trailing < effects.len())
            .then(|| effects[effects.len() - trailing].1)
            .filter(|from| 1.0 - from >= MIN_SHIFT_SHARE);
        let (mean, std) = mean_std(&kept);
        Some(Self {
            threshold: mean + 3.0 * std,
            chunks: kept.len(),
            window,
            outliers,
            shifted_from,
        })
    }

    /// How the report states where a threshold came from.
    pub fn describe(&self) -> String {
        let outliers = if self.outliers > 0 {
            format!(", {} chunk(s) unlike the rest left out", self.outliers)
        } else {
            String::new()
        };
        format!(
            "calibrated: mean + 3 sd of the effect of {} leave-one-out reference chunks of {} rows{outliers}",
            self.chunks, self.window
        )
    }
}

/// Evenly spaced, non-overlapping chunk ranges of `window` rows out of `len`.
fn chunk_ranges(len: usize, window: usize) -> Vec<std::ops::Range<usize>> {
    if window == 0 || len / window < MIN_CALIBRATION_CHUNKS {
        return Vec::new();
    }
    let chunks = (len / window).min(MAX_CALIBRATION_CHUNKS);
    (0..chunks)
        .map(|i| {
            let start = if chunks == 1 {
                0
            } else {
                i * (len - window) / (chunks - 1)
            };
            start..start + window
        })
        .collect()
}

/// Calibrates the numeric effect: each chunk of `window` consecutive reference values (in time
/// order) against the rest of the reference, never against data that contains it.
pub fn calibrate_numeric(
    time_ordered: &[f64],
    sorted: &[f64],
    std: f64,
    window: usize,
) -> Option<Calibrated> {
    let len = time_ordered.len();
    let effects: Vec<(f64, f64)> = chunk_ranges(len, window)
        .into_iter()
        .map(|range| {
            let from = range.start as f64 / len as f64;
            let mut chunk = time_ordered[range].to_vec();
            sort_f64(&mut chunk);
            (
                normalized(distances_leave_one_out(sorted, &chunk).wasserstein, std),
                from,
            )
        })
        .collect();
    Calibrated::from_effects(&effects, window)
}

/// Calibrates the categorical effect the same way, on label counts.
pub fn calibrate_categorical(
    time_ordered_codes: &[u32],
    counts: &[u64],
    window: usize,
) -> Option<Calibrated> {
    let len = time_ordered_codes.len();
    let effects: Vec<(f64, f64)> = chunk_ranges(len, window)
        .into_iter()
        .map(|range| {
            let from = range.start as f64 / len as f64;
            let mut chunk = vec![0f64; counts.len()];
            for code in &time_ordered_codes[range] {
                chunk[*code as usize] += 1.0;
            }
            let rest: Vec<f64> = counts
                .iter()
                .zip(&chunk)
                .map(|(total, c)| *total as f64 - c)
                .collect();
            let bucketed = bucket_rare(&rest, &chunk);
            (
                jensen_shannon_distance(&bucketed.reference, &bucketed.current),
                from,
            )
        })
        .collect();
    Calibrated::from_effects(&effects, window)
}

fn normalized(wasserstein: f64, std: f64) -> f64 {
    if wasserstein == 0.0 {
        return 0.0;
    }
    (wasserstein / std.max(f64::MIN_POSITIVE)).min(MAX_EFFECT)
}

/// The floor and optional calibration that make a column's threshold.
#[derive(Debug, Clone)]
pub struct ThresholdInputs {
    /// Minimum effect (default or tuned).
    pub floor: f64,
    /// Where the floor came from.
    pub floor_source: String,
    /// Calibrated threshold, when the reference is big enough.
    pub calibrated: Option<Calibrated>,
}

impl ThresholdInputs {
    fn resolve(&self) -> (f64, String) {
        match self.calibrated {
            Some(calibrated) if calibrated.threshold > self.floor => {
                (calibrated.threshold, calibrated.describe())
            }
            Some(calibrated) => (
                self.floor,
                format!(
                    "{} (above the calibrated {:.4} from {} chunks)",
                    self.floor_source, calibrated.threshold, calibrated.chunks
                ),
            ),
            None => (
                self.floor,
                format!(
                    "{} (reference too small to calibrate at this window size)",
                    self.floor_source
                ),
            ),
        }
    }
}

/// A column report with its statistics filled in and the decision pending.
fn pending(name: &str, kind: &'static str, role: &'static str) -> ColumnReport {
    ColumnReport {
        name: name.to_string(),
        kind,
        role,
        method: "",
        statistic: None,
        effect: None,
        effect_measure: "",
        p_value: None,
        p_value_adjusted: None,
        threshold: None,
        threshold_source: String::new(),
        min_effect: None,
        n_ref: 0,
        n_cur: 0,
        null_share_ref: 0.0,
        null_share_cur: 0.0,
        drifted: false,
        status: Status::NoDrift,
        reason: String::new(),
        ks: None,
        wasserstein: None,
        psi: None,
        new_categories: Vec::new(),
        vanished_categories: Vec::new(),
        hints: Vec::new(),
        seasonal_check: None,
        distribution: None,
        reference_shifted_from: None,
    }
}

/// A column that is reported but not tested.
pub fn skipped(name: &str, kind: &'static str, role: &'static str, reason: String) -> ColumnReport {
    mark_skipped(pending(name, kind, role), reason)
}

fn mark_skipped(mut report: ColumnReport, reason: String) -> ColumnReport {
    report.status = Status::Skipped;
    report.reason = format!("skipped: {reason}");
    report
}

/// Compares a numeric column.
pub fn numeric(
    name: &str,
    role: &'static str,
    reference: &NumericSide,
    current: &NumericSide,
    threshold: &ThresholdInputs,
    min_rows: usize,
) -> ColumnReport {
    let mut report = pending(name, "numeric", role);
    report.method = "ks+wasserstein";
    report.effect_measure = "wasserstein/sd";
    report.n_ref = reference.count;
    report.n_cur = current.count;
    report.null_share_ref = reference.null_share();
    report.null_share_cur = current.null_share();
    null_hint(&mut report);
    if let Some(reason) = too_few(reference.count, current.count, min_rows) {
        return mark_skipped(report, reason);
    }
    let found = distances(&reference.sorted, &current.sorted);
    let effect = normalized(found.wasserstein, reference.std);
    let p_value = ks_p_value(found.ks, reference.count, current.count);
    let (value, source) = threshold.resolve();
    report.reference_shifted_from = threshold.calibrated.and_then(|c| c.shifted_from);
    report.statistic = Some(found.ks);
    report.ks = Some(found.ks);
    report.wasserstein = Some(found.wasserstein);
    report.psi = Some(psi(&reference.sorted, &current.sorted, PSI_BINS));
    report.effect = Some(effect);
    report.p_value = Some(p_value);
    report.threshold = Some(value);
    report.threshold_source = source;
    report.min_effect = Some(threshold.floor);
    scale_hint(&mut report, reference, current);
    report.distribution = Some(histogram(reference, current));
    report
}

fn too_few(n_ref: usize, n_cur: usize, min_rows: usize) -> Option<String> {
    if n_cur == 0 {
        Some("all values missing in the current data".into())
    } else if n_ref == 0 {
        Some("all values missing in the reference".into())
    } else if n_cur < min_rows || n_ref < min_rows {
        Some(format!(
            "too few values to test (reference {n_ref}, current {n_cur}; at least {min_rows} each)"
        ))
    } else {
        None
    }
}

fn null_hint(report: &mut ColumnReport) {
    if (report.null_share_cur - report.null_share_ref).abs() >= NULL_SHARE_HINT {
        report.hints.push(format!(
            "missing values {:.1}% -> {:.1}% (upstream join or encoding change?)",
            report.null_share_ref * 100.0,
            report.null_share_cur * 100.0
        ));
    }
}

fn scale_hint(report: &mut ColumnReport, reference: &NumericSide, current: &NumericSide) {
    if !(reference.mean_abs > 0.0 && current.mean_abs > 0.0) {
        return;
    }
    let ratio = current.mean_abs / reference.mean_abs;
    for factor in [10.0, 100.0, 1000.0] {
        if (ratio / factor - 1.0).abs() < 0.15 {
            report.hints.push(format!(
                "values look multiplied by {factor} (unit or encoding change?)"
            ));
        } else if (ratio * factor - 1.0).abs() < 0.15 {
            report.hints.push(format!(
                "values look divided by {factor} (unit or encoding change?)"
            ));
        }
    }
}

fn histogram(reference: &NumericSide, current: &NumericSide) -> Distribution {
    let low =
        quantile_sorted(&reference.sorted, 0.005).min(quantile_sorted(&current.sorted, 0.005));
    let high =
        quantile_sorted(&reference.sorted, 0.995).max(quantile_sorted(&current.sorted, 0.995));
    let width = if high > low {
        (high - low) / HISTOGRAM_BINS as f64
    } else {
        1.0
    };
    let edges: Vec<f64> = (0..=HISTOGRAM_BINS)
        .map(|i| low + width * i as f64)
        .collect();
    // Bins hold the values from the first edge up to the last; what lies outside is a tail.
    let shares = |sorted: &[f64]| -> (Vec<f64>, [f64; 2]) {
        let start = sorted.partition_point(|v| *v < low);
        let end = sorted.partition_point(|v| *v <= high);
        let mut below = start;
        let mut out = Vec::with_capacity(HISTOGRAM_BINS);
        for (i, edge) in edges.iter().enumerate().skip(1) {
            let upto = if i == HISTOGRAM_BINS {
                end
            } else {
                sorted.partition_point(|v| v < edge).clamp(start, end)
            };
            out.push(round6(share(upto - below, sorted.len())));
            below = upto;
        }
        let tails = [
            round6(share(start, sorted.len())),
            round6(share(sorted.len() - end, sorted.len())),
        ];
        (out, tails)
    };
    let (reference, reference_tails) = shares(&reference.sorted);
    let (current, current_tails) = shares(&current.sorted);
    Distribution::Numeric {
        edges: edges.iter().map(|e| round6(*e)).collect(),
        reference,
        current,
        reference_tails,
        current_tails,
    }
}

/// Six significant decimals keep reports small and stable.
fn round6(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let scale = 10f64.powi(5 - value.abs().log10().floor() as i32);
    (value * scale).round() / scale
}

/// Compares a categorical column.
pub fn categorical(
    name: &str,
    role: &'static str,
    reference: &CategoricalSide,
    current: &CategoricalSide,
    threshold: &ThresholdInputs,
    min_rows: usize,
) -> ColumnReport {
    let mut report = pending(name, "categorical", role);
    report.method = "chi2+jensen_shannon";
    report.effect_measure = "jensen_shannon";
    let (n_ref, n_cur) = (reference.total() as usize, current.total() as usize);
    report.n_ref = n_ref;
    report.n_cur = n_cur;
    report.null_share_ref = reference.null_share();
    report.null_share_cur = current.null_share();
    null_hint(&mut report);

    // Align the two label sets: reference labels first, then labels only the current has.
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut labels: Vec<&str> = Vec::new();
    for label in reference.levels.iter().chain(&current.levels) {
        if !index.contains_key(label.as_str()) {
            index.insert(label, labels.len());
            labels.push(label);
        }
    }
    let mut ref_counts = vec![0f64; labels.len()];
    let mut cur_counts = vec![0f64; labels.len()];
    for (label, count) in reference.levels.iter().zip(&reference.counts) {
        ref_counts[index[label.as_str()]] += *count as f64;
    }
    for (label, count) in current.levels.iter().zip(&current.counts) {
        cur_counts[index[label.as_str()]] += *count as f64;
    }
    let listed =
        |only_in: &[f64], other: &[f64], min_share: f64, total: f64| -> Vec<CategoryCount> {
            let mut found: Vec<CategoryCount> = (0..labels.len())
                .filter(|i| {
                    other[*i] == 0.0 && only_in[*i] > 0.0 && only_in[*i] / total >= min_share
                })
                .map(|i| CategoryCount {
                    value: labels[i].to_string(),
                    reference: ref_counts[i] as u64,
                    current: cur_counts[i] as u64,
                })
                .collect();
            found.sort_by(|a, b| {
                (b.reference + b.current)
                    .cmp(&(a.reference + a.current))
                    .then(a.value.cmp(&b.value))
            });
            found
        };
    let mut new = listed(&cur_counts, &ref_counts, 0.0, n_cur.max(1) as f64);
    let mut vanished = listed(&ref_counts, &cur_counts, 0.0, n_ref.max(1) as f64);
    if !new.is_empty() {
        let examples: Vec<String> = new
            .iter()
            .take(3)
            .map(|c| format!("'{}'", c.value))
            .collect();
        report.hints.push(format!(
            "{} new categories (e.g. {})",
            new.len(),
            examples.join(", ")
        ));
    }
    if !vanished.is_empty() {
        let examples: Vec<String> = vanished
            .iter()
            .take(3)
            .map(|c| format!("'{}'", c.value))
            .collect();
        report.hints.push(format!(
            "{} categories vanished (e.g. {})",
            vanished.len(),
            examples.join(", ")
        ));
    }
    let present = labels.len().max(1);
    if new.len() + vanished.len() >= present.div_ceil(2) && !new.is_empty() && !vanished.is_empty()
    {
        report.hints.push(
            "most labels changed: looks like a re-encoding (renamed labels or a new mapping)"
                .into(),
        );
    }
    new.truncate(LISTED_CATEGORIES);
    vanished.truncate(LISTED_CATEGORIES);
    report.new_categories = new;
    report.vanished_categories = vanished;

    if let Some(reason) = too_few(n_ref, n_cur, min_rows) {
        return mark_skipped(report, reason);
    }
    let bucketed = bucket_rare(&ref_counts, &cur_counts);
    let test = chi_square_homogeneity(&bucketed.reference, &bucketed.current);
    let effect = jensen_shannon_distance(&bucketed.reference, &bucketed.current);
    let (value, source) = threshold.resolve();
    report.reference_shifted_from = threshold.calibrated.and_then(|c| c.shifted_from);
    report.statistic = Some(test.statistic);
    report.p_value = Some(test.p_value);
    report.effect = Some(effect);
    report.threshold = Some(value);
    report.threshold_source = source;
    report.min_effect = Some(threshold.floor);
    if bucketed.pooled > 0 {
        report.hints.push(format!(
            "{} rare categories pooled into one bucket for the test",
            bucketed.pooled
        ));
    }
    report.distribution = Some(category_chart(&labels, &ref_counts, &cur_counts));
    report
}

fn category_chart(labels: &[&str], reference: &[f64], current: &[f64]) -> Distribution {
    let (total_ref, total_cur) = (
        reference.iter().sum::<f64>().max(1.0),
        current.iter().sum::<f64>().max(1.0),
    );
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|a, b| {
        let share = |i: usize| reference[i] / total_ref + current[i] / total_cur;
        share(*b)
            .total_cmp(&share(*a))
            .then(labels[*a].cmp(labels[*b]))
    });
    let mut chart_labels = Vec::new();
    let (mut ref_shares, mut cur_shares) = (Vec::new(), Vec::new());
    for i in order.iter().take(CHART_CATEGORIES) {
        chart_labels.push(labels[*i].to_string());
        ref_shares.push(round6(reference[*i] / total_ref));
        cur_shares.push(round6(current[*i] / total_cur));
    }
    if order.len() > CHART_CATEGORIES {
        let rest = &order[CHART_CATEGORIES..];
        chart_labels.push("(other)".into());
        ref_shares.push(round6(
            rest.iter().map(|i| reference[*i]).sum::<f64>() / total_ref,
        ));
        cur_shares.push(round6(
            rest.iter().map(|i| current[*i]).sum::<f64>() / total_cur,
        ));
    }
    Distribution::Categorical {
        labels: chart_labels,
        reference: ref_shares,
        current: cur_shares,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floor(value: f64) -> ThresholdInputs {
        ThresholdInputs {
            floor: value,
            floor_source: "default minimum effect".into(),
            calibrated: None,
        }
    }

    #[test]
    fn histogram_tails_are_counted_apart_from_the_edge_bins() {
        // 10,000 evenly spread values plus a far tail of 30 (0.3%, beyond the 99.5% edge).
        let mut values: Vec<f64> = (0..10_000).map(f64::from).collect();
        values.extend((0..30).map(|i| 1e6 + f64::from(i)));
        let side = NumericSide::from_values(&values);
        let Distribution::Numeric {
            reference,
            reference_tails,
            ..
        } = histogram(&side, &side)
        else {
            panic!("numeric distribution expected");
        };
        let total: f64 = reference.iter().sum::<f64>() + reference_tails.iter().sum::<f64>();
        assert!((total - 1.0).abs() < 1e-5, "shares add up to {total}");
        // Beyond the 0.5% / 99.5% quantiles: about half a percent at each end.
        assert!(
            (reference_tails[0] - 0.005).abs() < 0.001,
            "{reference_tails:?}"
        );
        assert!(
            (reference_tails[1] - 0.005).abs() < 0.001,
            "{reference_tails:?}"
        );
        // The edge bins are as full as the others, not spikes holding the tails.
        let typical = reference[reference.len() / 2];
        for edge_bin in [reference[0], *reference.last().unwrap()] {
            assert!(
                (edge_bin / typical - 1.0).abs() < 0.1,
                "{edge_bin} vs {typical}"
            );
        }
    }

    #[test]
    fn a_scale_jump_is_hinted() {
        let reference = NumericSide::from_values(&(1..=500).map(f64::from).collect::<Vec<_>>());
        let current =
            NumericSide::from_values(&(1..=500).map(|v| f64::from(v) * 100.0).collect::<Vec<_>>());
        let report = numeric("price", "feature", &reference, &current, &floor(0.1), 50);
        assert!(
            report.hints.iter().any(|h| h.contains("multiplied by 100")),
            "{:?}",
            report.hints
        );
        assert!(report.effect.unwrap_or(0.0) > 1.0);
    }

    #[test]
    fn new_and_vanished_categories_are_listed() {
        let levels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let reference = CategoricalSide {
            levels: levels.clone(),
            counts: vec![500, 300, 200],
            nulls: 0,
        };
        let current = CategoricalSide {
            levels: vec!["a".into(), "b".into(), "d".into()],
            counts: vec![450, 300, 250],
            nulls: 0,
        };
        let report = categorical("region", "feature", &reference, &current, &floor(0.035), 50);
        assert_eq!(
            report.new_categories,
            vec![CategoryCount {
                value: "d".into(),
                reference: 0,
                current: 250
            }]
        );
        assert_eq!(
            report.vanished_categories,
            vec![CategoryCount {
                value: "c".into(),
                reference: 200,
                current: 0
            }]
        );
        assert!(report.p_value.unwrap_or(1.0) < 1e-10);
    }

    #[test]
    fn calibration_uses_chunks_of_the_window_size() {
        let values: Vec<f64> = (0..10_000).map(|i| ((i * 7919) % 10_007) as f64).collect();
        let side = NumericSide::from_values(&values);
        let calibrated = calibrate_numeric(&values, &side.sorted, side.std, 500)
            .unwrap_or_else(|| panic!("calibrated"));
        assert_eq!(calibrated.chunks, MAX_CALIBRATION_CHUNKS);
        assert_eq!(calibrated.window, 500);
        assert!(
            calibrated.threshold > 0.0 && calibrated.threshold < 0.3,
            "{calibrated:?}"
        );
        assert!(
            calibrate_numeric(&values[..1000], &side.sorted[..1000], side.std, 500).is_none(),
            "two chunks are too few"
        );
    }

    #[test]
    fn a_recurring_pattern_is_not_a_shift_but_a_new_regime_at_the_end_is() {
        // 20 daily chunks; weekend chunks (days 5, 6, 12, 13, 19) differ.
        let weekly: Vec<(f64, f64)> = (0..20)
            .map(|day| {
                let effect = if day % 7 >= 5 {
                    0.5
                } else {
                    0.04 + 0.001 * f64::from(day)
                };
                (effect, f64::from(day) / 20.0)
            })
            .collect();
        let calibrated = Calibrated::from_effects(&weekly, 100).expect("calibrated");
        assert!(calibrated.outliers > 0);
        assert_eq!(
            calibrated.shifted_from, None,
            "weekends ending the reference"
        );
        // The same reference whose last three chunks come from a new regime.
        let shifted: Vec<(f64, f64)> = (0..20)
            .map(|day| {
                let effect = if day >= 17 {
                    0.5
                } else {
                    0.04 + 0.001 * f64::from(day)
                };
                (effect, f64::from(day) / 20.0)
            })
            .collect();
        let calibrated = Calibrated::from_effects(&shifted, 100).expect("calibrated");
        assert_eq!(calibrated.shifted_from, Some(0.85));
        // One unlike chunk at the end: a blip, left out of the threshold but no change point.
        let blip: Vec<(f64, f64)> = shifted
            .iter()
            .enumerate()
            .map(|(day, &(e, at))| (if (17..19).contains(&day) { 0.05 } else { e }, at))
            .collect();
        let calibrated = Calibrated::from_effects(&blip, 100).expect("calibrated");
        assert_eq!((calibrated.outliers, calibrated.shifted_from), (1, None));
    }
}
