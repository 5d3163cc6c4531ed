//! Multiple-testing control across columns (and segments): with 25 columns tested at 5%,
//! about one false alarm per run would otherwise be expected.

use serde::{Deserialize, Serialize};

/// How p-values of one run are adjusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Correction {
    /// Benjamini–Hochberg: controls the false discovery rate.
    #[default]
    BenjaminiHochberg,
    /// Bonferroni: controls the family-wise error rate; stricter.
    Bonferroni,
    /// No adjustment.
    None,
}

impl Correction {
    /// Parses the names used on the command line.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "bh" | "benjamini-hochberg" => Some(Self::BenjaminiHochberg),
            "bonferroni" => Some(Self::Bonferroni),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Self::BenjaminiHochberg => "benjamini-hochberg",
            Self::Bonferroni => "bonferroni",
            Self::None => "none",
        }
    }

    /// Adjusted p-values, in the order given. NaN (a test that did not run) stays NaN and
    /// does not count as a test.
    pub fn adjust(self, p_values: &[f64]) -> Vec<f64> {
        match self {
            Self::BenjaminiHochberg => benjamini_hochberg(p_values),
            Self::Bonferroni => bonferroni(p_values),
            Self::None => p_values.to_vec(),
        }
    }
}

/// Benjamini–Hochberg adjusted p-values (the step-up "q-values" of R's `p.adjust(, "BH")`).
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p_values.len())
        .filter(|i| !p_values[*i].is_nan())
        .collect();
    order.sort_by(|a, b| p_values[*a].total_cmp(&p_values[*b]).then(a.cmp(b)));
    let tests = order.len() as f64;
    let mut adjusted = vec![f64::NAN; p_values.len()];
    let mut running_min = 1.0f64;
    for (rank, index) in order.iter().enumerate().rev() {
        let value = (p_values[*index] * tests / (rank + 1) as f64).min(1.0);
        running_min = running_min.min(value);
        adjusted[*index] = running_min;
    }
    adjusted
}

/// Bonferroni adjusted p-values.
pub fn bonferroni(p_values: &[f64]) -> Vec<f64> {
    let tests = p_values.iter().filter(|p| !p.is_nan()).count() as f64;
    p_values
        .iter()
        .map(|p| if p.is_nan() { *p } else { (p * tests).min(1.0) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benjamini_hochberg_matches_r() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH") = 0.02 0.04 0.04 0.02
        let adjusted = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.005]);
        let expected = [0.02, 0.04, 0.04, 0.02];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{adjusted:?}");
        }
    }

    #[test]
    fn nan_is_not_a_test() {
        let adjusted = bonferroni(&[0.01, f64::NAN]);
        assert_eq!(adjusted[0], 0.01);
        assert!(adjusted[1].is_nan());
    }
}
