//! Comparisons of categorical data: chi-square homogeneity (a two-sample test — the
//! reference's shares are estimates too, unlike a goodness-of-fit test against them) with rare
//! categories bucketed together, and the Jensen–Shannon distance.

use crate::special::chi2_sf;

/// Expected count below which a category is pooled into the "other" bucket: the usual
/// validity condition of the chi-square approximation.
pub const MIN_EXPECTED_COUNT: f64 = 5.0;

/// Counts after the rare categories were pooled.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucketed {
    /// Reference counts; the last entry is the pooled bucket when `pooled > 0`.
    pub reference: Vec<f64>,
    /// Current counts, aligned with `reference`.
    pub current: Vec<f64>,
    /// How many categories went into the pooled bucket.
    pub pooled: usize,
}

/// Pools every category whose expected count under homogeneity is below
/// [`MIN_EXPECTED_COUNT`] in either sample into one bucket.
pub fn bucket_rare(reference: &[f64], current: &[f64]) -> Bucketed {
    let (total_ref, total_cur) = (reference.iter().sum::<f64>(), current.iter().sum::<f64>());
    let total = total_ref + total_cur;
    let mut out = Bucketed {
        reference: Vec::new(),
        current: Vec::new(),
        pooled: 0,
    };
    let (mut pooled_ref, mut pooled_cur) = (0.0, 0.0);
    for (r, c) in reference.iter().zip(current) {
        let pooled_count = r + c;
        if pooled_count == 0.0 {
            continue;
        }
        let expected_min = pooled_count * total_ref.min(total_cur) / total;
        if expected_min < MIN_EXPECTED_COUNT {
            pooled_ref += r;
            pooled_cur += c;
            out.pooled += 1;
        } else {
            out.reference.push(*r);
            out.current.push(*c);
        }
    }
    if out.pooled > 0 {
        out.reference.push(pooled_ref);
        out.current.push(pooled_cur);
    }
    out
}

/// Result of a chi-square homogeneity test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChiSquare {
    /// Σ (observed - expected)² / expected over both samples.
    pub statistic: f64,
    /// Categories - 1.
    pub degrees_of_freedom: f64,
    /// Upper tail probability.
    pub p_value: f64,
}

/// Chi-square test that two count vectors come from one distribution (SciPy's
/// `chi2_contingency` on the 2×k table, without Yates' correction).
pub fn chi_square_homogeneity(reference: &[f64], current: &[f64]) -> ChiSquare {
    let (total_ref, total_cur) = (reference.iter().sum::<f64>(), current.iter().sum::<f64>());
    let total = total_ref + total_cur;
    let mut statistic = 0.0;
    let mut categories = 0usize;
    for (r, c) in reference.iter().zip(current) {
        let pooled = r + c;
        if pooled == 0.0 {
            continue;
        }
        categories += 1;
        let expected_ref = pooled * total_ref / total;
        let expected_cur = pooled * total_cur / total;
        statistic +=
            (r - expected_ref).powi(2) / expected_ref + (c - expected_cur).powi(2) / expected_cur;
    }
    if categories < 2 || total_ref == 0.0 || total_cur == 0.0 {
        return ChiSquare {
            statistic: 0.0,
            degrees_of_freedom: 0.0,
            p_value: 1.0,
        };
    }
    let degrees_of_freedom = (categories - 1) as f64;
    ChiSquare {
        statistic,
        degrees_of_freedom,
        p_value: chi2_sf(statistic, degrees_of_freedom),
    }
}

/// The Jensen–Shannon distance (natural logarithm, SciPy's `jensenshannon` default) between
/// two count vectors, each normalized to shares.
pub fn jensen_shannon_distance(p: &[f64], q: &[f64]) -> f64 {
    let (total_p, total_q) = (p.iter().sum::<f64>(), q.iter().sum::<f64>());
    if total_p == 0.0 || total_q == 0.0 {
        return f64::NAN;
    }
    let mut divergence = 0.0;
    for (p, q) in p.iter().zip(q) {
        let (p, q) = (p / total_p, q / total_q);
        let m = (p + q) / 2.0;
        if p > 0.0 {
            divergence += p * (p / m).ln() / 2.0;
        }
        if q > 0.0 {
            divergence += q * (q / m).ln() / 2.0;
        }
    }
    divergence.max(0.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_shares_are_homogeneous() {
        let result = chi_square_homogeneity(&[100.0, 200.0, 300.0], &[10.0, 20.0, 30.0]);
        assert!(result.statistic.abs() < 1e-12);
        assert_eq!(result.degrees_of_freedom, 2.0);
        assert!((result.p_value - 1.0).abs() < 1e-12);
        assert!(jensen_shannon_distance(&[1.0, 2.0], &[2.0, 4.0]).abs() < 1e-12);
    }

    #[test]
    fn disjoint_distributions_have_maximal_distance() {
        let distance = jensen_shannon_distance(&[1.0, 0.0], &[0.0, 1.0]);
        assert!((distance - std::f64::consts::LN_2.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn rare_categories_are_pooled() {
        let bucketed = bucket_rare(&[1000.0, 1000.0, 1.0, 2.0], &[1000.0, 1000.0, 0.0, 1.0]);
        assert_eq!(bucketed.pooled, 2);
        assert_eq!(bucketed.reference, vec![1000.0, 1000.0, 3.0]);
        assert_eq!(bucketed.current, vec![1000.0, 1000.0, 1.0]);
    }
}
