//! Two-sample comparisons of numeric data on sorted samples: the Kolmogorov–Smirnov
//! statistic and p-value, Wasserstein-1 distance, and the population stability index.
//!
//! The samples only enter through their empirical CDFs, so a reference may also be a quantile
//! grid from a stored profile: the statistics are then those of the grid's CDF, and the sample
//! sizes for the p-value are passed separately.

use crate::special::kolmogorov_sf;

/// The KS statistic and the Wasserstein-1 distance of two samples, from one merged walk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Distances {
    /// sup |F_a - F_b|.
    pub ks: f64,
    /// ∫ |F_a - F_b| dx.
    pub wasserstein: f64,
}

/// KS statistic and Wasserstein-1 distance of two sorted, NaN-free samples.
///
/// The CDF difference is tracked as the integer `i·m − j·n` (over `n·m`): exact, and the walk —
/// the hot loop of a drift run — needs no division per value. The merge takes one value per
/// step and chooses the side without a branch: on interleaved data a branch on "which side is
/// smaller" is mispredicted half the time, and that cost was most of the walk.
pub fn distances(a: &[f64], b: &[f64]) -> Distances {
    if a.is_empty() || b.is_empty() {
        return Distances {
            ks: f64::NAN,
            wasserstein: f64::NAN,
        };
    }
    let (n, m) = (a.len() as i64, b.len() as i64);
    let mut walk = CdfWalk {
        previous: a[0].min(b[0]),
        gap: 0,
        largest_gap: 0,
        area: 0.0,
    };
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        let take_a = x <= y;
        walk.step(x.min(y), if take_a { m } else { -n });
        i += usize::from(take_a);
        j += usize::from(!take_a);
    }
    for &x in &a[i..] {
        walk.step(x, m);
    }
    for &y in &b[j..] {
        walk.step(y, -n);
    }
    let scale = (n * m) as f64;
    Distances {
        ks: walk.largest_gap as f64 / scale,
        wasserstein: walk.area / scale,
    }
}

/// The state of a merged walk over two sorted samples, one value at a time.
struct CdfWalk {
    previous: f64,
    /// The scaled CDF difference after every value taken so far.
    gap: i64,
    largest_gap: i64,
    area: f64,
}

impl CdfWalk {
    /// Takes `value` (not below any value taken before), which moves the gap by `change`.
    /// The gap held on `[previous, value)` is a real CDF difference only when `value` is
    /// past `previous`: between tied values it is a half-counted tie and must not count.
    #[inline(always)]
    fn step(&mut self, value: f64, change: i64) {
        let width = value - self.previous;
        let past = width > 0.0;
        let held = self.gap.abs();
        self.area += if past { held as f64 * width } else { 0.0 };
        self.largest_gap = self.largest_gap.max(if past { held } else { 0 });
        self.gap += change;
        self.previous = value;
    }
}

/// The distances between `chunk` and the rest of `reference` once `chunk` is taken out.
/// `chunk` must be a sorted sub-multiset of the sorted `reference`. This is the leave-one-out
/// comparison that calibrates thresholds: a chunk is never compared with data containing it.
pub fn distances_leave_one_out(reference: &[f64], chunk: &[f64]) -> Distances {
    let rest = reference.len().saturating_sub(chunk.len());
    if chunk.is_empty() || rest == 0 {
        return Distances {
            ks: f64::NAN,
            wasserstein: f64::NAN,
        };
    }
    let (c, r) = (chunk.len() as i64, rest as i64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut largest_gap = 0i64;
    let mut area = 0.0f64;
    let mut gap = 0i64;
    let mut previous: Option<f64> = None;
    while i < reference.len() {
        let x = reference[i];
        if let Some(previous) = previous {
            area += gap.unsigned_abs() as f64 * (x - previous);
        }
        while i < reference.len() && reference[i] == x {
            i += 1;
        }
        while j < chunk.len() && chunk[j] <= x {
            j += 1;
        }
        // F_chunk − F_rest = j/c − (i−j)/r, kept over c·r.
        gap = j as i64 * r - (i - j) as i64 * c;
        largest_gap = largest_gap.max(gap.abs());
        previous = Some(x);
    }
    let scale = (c * r) as f64;
    Distances {
        ks: largest_gap as f64 / scale,
        wasserstein: area / scale,
    }
}

/// The two-sided KS p-value for statistic `d` between samples of sizes `n1` and `n2`: the
/// Kolmogorov limit with Stephens' finite-sample correction of the scale,
/// `λ = (√en + 0.12 + 0.11/√en)·d`, `en = n1·n2/(n1+n2)`.
pub fn ks_p_value(d: f64, n1: usize, n2: usize) -> f64 {
    if n1 == 0 || n2 == 0 || d.is_nan() {
        return f64::NAN;
    }
    let en = (n1 as f64 * n2 as f64) / (n1 as f64 + n2 as f64);
    let root = en.sqrt();
    kolmogorov_sf((root + 0.12 + 0.11 / root) * d)
}

/// Bins used for the population stability index.
pub const PSI_BINS: usize = 10;
/// Share given to an empty bin so the index stays finite (the usual convention).
pub const PSI_EMPTY_SHARE: f64 = 1e-4;

/// The population stability index of `current` against `reference` (both sorted), over
/// `bins` quantile bins of the reference: Σ (c - r)·ln(c / r).
pub fn psi(reference: &[f64], current: &[f64], bins: usize) -> f64 {
    if reference.is_empty() || current.is_empty() || bins == 0 {
        return f64::NAN;
    }
    let mut edges: Vec<f64> = (1..bins)
        .map(|k| reference[(k * reference.len() / bins).min(reference.len() - 1)])
        .collect();
    edges.dedup();
    let shares = |sample: &[f64]| -> Vec<f64> {
        let mut below = 0usize;
        let mut out = Vec::with_capacity(edges.len() + 1);
        for edge in &edges {
            let upto = sample.partition_point(|v| v < edge);
            out.push((upto - below) as f64 / sample.len() as f64);
            below = upto;
        }
        out.push((sample.len() - below) as f64 / sample.len() as f64);
        out
    };
    let (r, c) = (shares(reference), shares(current));
    r.iter()
        .zip(&c)
        .map(|(r, c)| {
            let (r, c) = (r.max(PSI_EMPTY_SHARE), c.max(PSI_EMPTY_SHARE));
            (c - r) * (c / r).ln()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_have_zero_distance() {
        let a = [1.0, 2.0, 3.0, 4.0];
        let result = distances(&a, &a);
        assert_eq!(result.ks, 0.0);
        assert_eq!(result.wasserstein, 0.0);
        assert!(psi(&a, &a, 2).abs() < 1e-12);
    }

    #[test]
    fn shifted_samples_have_the_shift_as_wasserstein() {
        let a: Vec<f64> = (0..100).map(f64::from).collect();
        let b: Vec<f64> = a.iter().map(|v| v + 0.5).collect();
        let result = distances(&a, &b);
        assert!((result.wasserstein - 0.5).abs() < 1e-12);
        assert!((result.ks - 0.01).abs() < 1e-12);
    }

    #[test]
    fn leave_one_out_equals_comparing_with_the_rest() {
        let reference: Vec<f64> = (0..200).map(|i| ((i * 37) % 101) as f64).collect();
        let mut sorted = reference.clone();
        sorted.sort_by(f64::total_cmp);
        let mut chunk: Vec<f64> = reference[..50].to_vec();
        chunk.sort_by(f64::total_cmp);
        let mut rest: Vec<f64> = reference[50..].to_vec();
        rest.sort_by(f64::total_cmp);
        let loo = distances_leave_one_out(&sorted, &chunk);
        let direct = distances(&chunk, &rest);
        assert!((loo.ks - direct.ks).abs() < 1e-12);
        assert!((loo.wasserstein - direct.wasserstein).abs() < 1e-9);
    }

    #[test]
    fn p_value_falls_with_the_statistic() {
        assert!(ks_p_value(0.01, 1000, 1000) > 0.9);
        assert!(ks_p_value(0.2, 1000, 1000) < 1e-10);
        assert!(ks_p_value(0.05, 1000, 1000) > ks_p_value(0.06, 1000, 1000));
    }
}
