//! Descriptive statistics used by the tests and reports.

/// Mean and (population) standard deviation of NaN-free values, by a two-pass sum.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = values.len() as f64;
    let mean = sum_of(values, |v| v) / n;
    let variance = sum_of(values, |v| (v - mean) * (v - mean)) / n;
    (mean, variance.sqrt())
}

/// `Σ term(v)` over four interleaved partial sums: one running sum waits on the latency of
/// every addition, four let the additions overlap (a drift run sums 20 columns of a million
/// values several times). The order is fixed, so the result is the same on every run.
pub fn sum_of(values: &[f64], term: impl Fn(f64) -> f64) -> f64 {
    let mut lanes = [0.0f64; 4];
    let mut chunks = values.chunks_exact(4);
    for chunk in &mut chunks {
        for (lane, value) in lanes.iter_mut().zip(chunk) {
            *lane += term(*value);
        }
    }
    let tail: f64 = chunks.remainder().iter().map(|v| term(*v)).sum();
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail
}

/// The `q` quantile of sorted values with linear interpolation (NumPy's default).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    let weight = position - lower as f64;
    sorted[lower] * (1.0 - weight) + sorted[upper] * weight
}

/// `points` values at evenly spaced ranks of sorted data — a quantile grid whose empirical
/// CDF is within `1/points` of the data's, used as a compact stored reference.
pub fn quantile_grid(sorted: &[f64], points: usize) -> Vec<f64> {
    if sorted.len() <= points {
        return sorted.to_vec();
    }
    (0..points)
        .map(|k| {
            let rank = ((2 * k + 1) * sorted.len()) / (2 * points);
            sorted[rank.min(sorted.len() - 1)]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let sorted = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&sorted, 0.5), 2.5);
        assert_eq!(quantile_sorted(&sorted, 1.0), 4.0);
        let (mean, std) = mean_std(&sorted);
        assert_eq!(mean, 2.5);
        assert!((std - 1.25f64.sqrt()).abs() < 1e-12);
        assert_eq!(
            quantile_grid(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3),
            vec![2.0, 4.0, 6.0]
        );
    }
}
