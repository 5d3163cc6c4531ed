//! Is the candidate (a new model version, a challenger) worse than the baseline (the version
//! before it, the champion)? — significantly and by at least a minimum effect, so noise never
//! opens an incident (R5.1) and a rollout gate never promotes on luck (R5.5).
//!
//! - Rows scored by **both** (shadow traffic, or the same keys before and after): a
//!   Diebold–Mariano test on the per-row loss differential, in time order, with a Newey–West
//!   variance so autocorrelated errors do not inflate significance.
//! - Otherwise the two groups are independent samples: the bucket bootstrap of
//!   [`crate::metrics`] on each side, and the share of resampled differences on the other side
//!   of zero as the one-sided p-value.
//!
//! A relative change of the metric (`candidate / baseline − 1`, for bias the change in its
//! size) decides with the p-value: `worse` needs p < α *and* a change ≥ `min_effect`;
//! `equivalent` needs the whole interval within ±`min_effect`.

use serde::Serialize;
use warden_stats::special::normal_cdf;

use crate::Scored;
use crate::metrics::{Metric, SplitMix, Sums, bucket_sums, quantile, resample};

/// How the comparison is decided.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Options {
    /// The metric compared.
    pub metric: Metric,
    /// Significance level (one-sided).
    pub alpha: f64,
    /// Smallest relative change that counts, e.g. 0.1 = 10% worse.
    pub min_effect: f64,
    /// Fewest rows per side for a decision.
    pub min_rows: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            metric: Metric::Wape,
            alpha: 0.05,
            min_effect: 0.1,
            min_rows: 30,
        }
    }
}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significantly worse by at least the minimum effect.
    Worse,
    /// Significantly better by at least the minimum effect.
    Better,
    /// The interval lies within ±min_effect: no change that matters.
    Equivalent,
    /// Not enough evidence either way (too few rows, or a wide interval).
    Inconclusive,
}

impl Verdict {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Worse => "worse",
            Self::Better => "better",
            Self::Equivalent => "equivalent",
            Self::Inconclusive => "inconclusive",
        }
    }
}

/// The statistics that decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// `diebold_mariano` (paired rows) or `bootstrap` (independent groups).
    pub method: &'static str,
    /// The metric.
    pub metric: Metric,
    /// Baseline label (version, champion, before).
    pub baseline: String,
    /// Candidate label.
    pub candidate: String,
    /// The metric on the baseline rows.
    pub baseline_value: f64,
    /// The metric on the candidate rows.
    pub candidate_value: f64,
    /// Rows on each side.
    pub baseline_rows: usize,
    /// Rows on the candidate side.
    pub candidate_rows: usize,
    /// `candidate / baseline − 1` (for bias: of its size).
    pub relative_change: f64,
    /// 95% interval of the relative change.
    pub interval: (f64, f64),
    /// One-sided p-value that the candidate is worse.
    pub p_worse: f64,
    /// One-sided p-value that the candidate is better.
    pub p_better: f64,
    /// The decision.
    pub verdict: Verdict,
    /// How the rows were chosen, in words.
    pub note: String,
}

fn size(metric: Metric, value: f64) -> f64 {
    if metric == Metric::Bias {
        value.abs()
    } else {
        value
    }
}

fn decide(options: &Options, c: &mut Comparison) {
    let enough = c.baseline_rows >= options.min_rows && c.candidate_rows >= options.min_rows;
    c.verdict = if !enough || !c.relative_change.is_finite() {
        Verdict::Inconclusive
    } else if c.p_worse < options.alpha && c.relative_change >= options.min_effect {
        Verdict::Worse
    } else if c.p_better < options.alpha && c.relative_change <= -options.min_effect {
        Verdict::Better
    } else if c.interval.0 > -options.min_effect && c.interval.1 < options.min_effect {
        Verdict::Equivalent
    } else {
        Verdict::Inconclusive
    };
}

/// Compares two groups of rows of `scored`; paired when at least `min_rows` keys appear in
/// both.
pub fn compare_rows(
    scored: &Scored,
    baseline: (&str, &[u32]),
    candidate: (&str, &[u32]),
    options: &Options,
    note: String,
) -> Comparison {
    let pairs = paired_rows(scored, baseline.1, candidate.1);
    let mut comparison = if pairs.len() >= options.min_rows.max(2) {
        diebold_mariano(scored, &pairs, options.metric)
    } else {
        bootstrap(scored, baseline.1, candidate.1, options.metric)
    };
    comparison.baseline = baseline.0.to_string();
    comparison.candidate = candidate.0.to_string();
    comparison.note = note;
    decide(options, &mut comparison);
    comparison
}

fn bootstrap(scored: &Scored, baseline: &[u32], candidate: &[u32], metric: Metric) -> Comparison {
    let total = |buckets: &[Sums]| {
        let mut sum = Sums::default();
        buckets.iter().for_each(|b| sum.merge(b));
        sum
    };
    let base_buckets = bucket_sums(scored, baseline);
    let cand_buckets = bucket_sums(scored, candidate);
    let base = size(metric, total(&base_buckets).value(metric));
    let cand = size(metric, total(&cand_buckets).value(metric));
    let mut rng = SplitMix(0xdec1de);
    let base_resamples = resample(&base_buckets, &mut rng);
    let cand_resamples = resample(&cand_buckets, &mut rng);
    let mut changes: Vec<f64> = base_resamples
        .iter()
        .zip(&cand_resamples)
        .map(|(b, c)| size(metric, c.value(metric)) / size(metric, b.value(metric)) - 1.0)
        .collect();
    let (p_worse, p_better) = one_sided(&changes);
    Comparison {
        method: "bootstrap",
        metric,
        baseline: String::new(),
        candidate: String::new(),
        baseline_value: base,
        candidate_value: cand,
        baseline_rows: baseline.len(),
        candidate_rows: candidate.len(),
        relative_change: cand / base - 1.0,
        interval: (quantile(&mut changes, 0.025), quantile(&mut changes, 0.975)),
        p_worse,
        p_better,
        verdict: Verdict::Inconclusive,
        note: String::new(),
    }
}

/// One-sided bootstrap p-values from resampled relative changes: `(worse, better)` — the
/// share of changes on the other side of zero, plus one in numerator and denominator.
fn one_sided(changes: &[f64]) -> (f64, f64) {
    let finite = changes.iter().filter(|c| c.is_finite()).count() as f64;
    let not_worse = changes
        .iter()
        .filter(|c| c.is_finite() && **c <= 0.0)
        .count() as f64;
    let not_better = changes
        .iter()
        .filter(|c| c.is_finite() && **c >= 0.0)
        .count() as f64;
    (
        (not_worse + 1.0) / (finite + 1.0),
        (not_better + 1.0) / (finite + 1.0),
    )
}

/// `(baseline row, candidate row)` for keys both sides scored, in the candidate's time order.
pub fn paired_rows(scored: &Scored, baseline: &[u32], candidate: &[u32]) -> Vec<(u32, u32)> {
    let mut base: Vec<(u64, u32)> = baseline
        .iter()
        .map(|&r| (scored.key[r as usize], r))
        .filter(|(k, _)| *k != crate::table::NULL_KEY)
        .collect();
    if base.is_empty() {
        return Vec::new();
    }
    base.sort_unstable();
    let mut pairs: Vec<(u32, u32)> = candidate
        .iter()
        .filter_map(|&c| {
            let key = scored.key[c as usize];
            base.binary_search_by_key(&key, |(k, _)| *k)
                .ok()
                .map(|i| (base[i].1, c))
        })
        .collect();
    if let Some(times) = &scored.timestamp {
        pairs.sort_by_key(|(_, c)| times[*c as usize]);
    }
    pairs
}

fn loss(metric: Metric, prediction: f64, actual: f64) -> f64 {
    let error = prediction - actual;
    match metric {
        Metric::Rmse => error * error,
        Metric::Mape if actual != 0.0 => error.abs() / actual.abs(),
        Metric::Mape => f64::NAN,
        Metric::Smape => {
            let scale = prediction.abs() + actual.abs();
            if scale > 0.0 {
                2.0 * error.abs() / scale
            } else {
                0.0
            }
        }
        Metric::Bias => error,
        Metric::Mae | Metric::Wape => error.abs(),
    }
}

/// The Newey–West long-run variance of `d` with the usual automatic lag.
pub fn long_run_variance(d: &[f64]) -> f64 {
    let n = d.len();
    if n < 2 {
        return f64::NAN;
    }
    let mean = d.iter().sum::<f64>() / n as f64;
    let lags = (4.0 * (n as f64 / 100.0).powf(2.0 / 9.0)).floor() as usize;
    let gamma = |lag: usize| {
        (lag..n)
            .map(|t| (d[t] - mean) * (d[t - lag] - mean))
            .sum::<f64>()
            / n as f64
    };
    let mut variance = gamma(0);
    for lag in 1..=lags.min(n - 1) {
        let weight = 1.0 - lag as f64 / (lags as f64 + 1.0);
        variance += 2.0 * weight * gamma(lag);
    }
    variance.max(0.0)
}

fn diebold_mariano(scored: &Scored, pairs: &[(u32, u32)], metric: Metric) -> Comparison {
    // Bias is compared by its size: signed errors oriented by the candidate's bias, so a
    // positive differential means "further from zero than the baseline".
    let orientation = if metric == Metric::Bias {
        let total: f64 = pairs
            .iter()
            .map(|&(_, c)| scored.prediction[c as usize] - scored.actual[c as usize])
            .sum();
        if total >= 0.0 { 1.0 } else { -1.0 }
    } else {
        1.0
    };
    let mut base_sums = Sums::default();
    let mut cand_sums = Sums::default();
    let mut differential = Vec::with_capacity(pairs.len());
    let mut base_loss = 0.0;
    for &(b, c) in pairs {
        let (b, c) = (b as usize, c as usize);
        base_sums.add(scored.prediction[b], scored.actual[b]);
        cand_sums.add(scored.prediction[c], scored.actual[c]);
        let lb = orientation * loss(metric, scored.prediction[b], scored.actual[b]);
        let lc = orientation * loss(metric, scored.prediction[c], scored.actual[c]);
        if lb.is_finite() && lc.is_finite() {
            differential.push(lc - lb);
            base_loss += lb;
        }
    }
    let n = differential.len() as f64;
    let mean = differential.iter().sum::<f64>() / n;
    let se = (long_run_variance(&differential) / n).sqrt();
    let statistic = if se > 0.0 {
        mean / se
    } else if mean > 0.0 {
        f64::INFINITY
    } else if mean < 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    let base_mean = base_loss / n;
    let base = size(metric, base_sums.value(metric));
    let cand = size(metric, cand_sums.value(metric));
    Comparison {
        method: "diebold_mariano",
        metric,
        baseline: String::new(),
        candidate: String::new(),
        baseline_value: base,
        candidate_value: cand,
        baseline_rows: pairs.len(),
        candidate_rows: pairs.len(),
        relative_change: cand / base - 1.0,
        interval: (
            (mean - 1.96 * se) / base_mean.abs(),
            (mean + 1.96 * se) / base_mean.abs(),
        ),
        p_worse: 1.0 - normal_cdf(statistic),
        p_better: normal_cdf(statistic),
        verdict: Verdict::Inconclusive,
        note: String::new(),
    }
}

/// The baseline version's rows comparable with the candidate's: the same series, over the
/// period of the candidate's length right before the candidate started (all of the
/// baseline's rows on those series when that period holds fewer than `min_rows`).
pub fn comparable_baseline(
    scored: &Scored,
    baseline: &[u32],
    candidate: &[u32],
    min_rows: usize,
) -> (Vec<u32>, String) {
    let mut series: Vec<u64> = candidate
        .iter()
        .map(|&r| scored.series[r as usize])
        .collect();
    series.sort_unstable();
    series.dedup();
    let same_series: Vec<u32> = baseline
        .iter()
        .copied()
        .filter(|&r| series.binary_search(&scored.series[r as usize]).is_ok())
        .collect();
    let Some(times) = &scored.timestamp else {
        return (
            same_series,
            "baseline: the previous version's rows on the same series (no timestamps)".into(),
        );
    };
    let span = |rows: &[u32]| {
        let mut lo = i64::MAX;
        let mut hi = i64::MIN;
        for &r in rows {
            let t = times[r as usize];
            if t != warden_data::NULL_TIMESTAMP {
                lo = lo.min(t);
                hi = hi.max(t);
            }
        }
        (lo, hi)
    };
    let (start, end) = span(candidate);
    if start > end {
        return (
            same_series,
            "baseline: the previous version's rows on the same series".into(),
        );
    }
    let length = (end - start).max(1);
    let window: Vec<u32> = same_series
        .iter()
        .copied()
        .filter(|&r| {
            let t = times[r as usize];
            t >= start - length && t < start
        })
        .collect();
    if window.len() >= min_rows {
        let days = length as f64 / 86_400_000.0;
        (
            window,
            format!(
                "baseline: the previous version on the same series over the {days:.1} days before the candidate's first prediction"
            ),
        )
    } else {
        (same_series, "baseline: all of the previous version's rows on the same series (the period right before had too few)".into())
    }
}

/// Tests the newest version in `scored` (by first appearance) against the one before it.
/// `None` when there is only one version.
pub fn newest_against_previous(scored: &Scored, options: &Options) -> Option<Comparison> {
    let order = scored.versions_by_first_seen();
    let (candidate, _) = order.last()?;
    let (baseline, _) = order.iter().rev().nth(1)?;
    Some(versions(scored, baseline, candidate, options))
}

/// Tests version `candidate` against version `baseline` on comparable rows.
pub fn versions(scored: &Scored, baseline: &str, candidate: &str, options: &Options) -> Comparison {
    let candidate_rows = scored.rows_of_version(candidate);
    let all_baseline = scored.rows_of_version(baseline);
    let (baseline_rows, note) =
        comparable_baseline(scored, &all_baseline, &candidate_rows, options.min_rows);
    compare_rows(
        scored,
        (baseline, &baseline_rows),
        (candidate, &candidate_rows),
        options,
        note,
    )
}

/// A business metric (conversion rate, revenue per hour, …) before vs after a moment:
/// the relative change of its mean with a bootstrap interval. `higher_is_better` orients
/// "worse".
pub fn business_series(
    before: &[f64],
    after: &[f64],
    higher_is_better: bool,
    options: &Options,
) -> Comparison {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (b, a) = (mean(before), mean(after));
    let mut rng = SplitMix(0xb05);
    let mut draw = |v: &[f64]| {
        if v.is_empty() {
            return f64::NAN;
        }
        (0..v.len()).map(|_| v[rng.below(v.len())]).sum::<f64>() / v.len() as f64
    };
    // "Worse" is a rise of the loss; for a higher-is-better metric the loss is its drop.
    let change = |b: f64, a: f64| {
        if higher_is_better {
            b / a - 1.0
        } else {
            a / b - 1.0
        }
    };
    let mut changes: Vec<f64> = (0..crate::metrics::RESAMPLES)
        .map(|_| {
            let rb = draw(before);
            let ra = draw(after);
            change(rb, ra)
        })
        .collect();
    let (p_worse, p_better) = one_sided(&changes);
    let mut comparison = Comparison {
        method: "bootstrap",
        metric: Metric::Mae,
        baseline: "before".into(),
        candidate: "after".into(),
        baseline_value: b,
        candidate_value: a,
        baseline_rows: before.len(),
        candidate_rows: after.len(),
        relative_change: change(b, a),
        interval: (quantile(&mut changes, 0.025), quantile(&mut changes, 0.975)),
        p_worse,
        p_better,
        verdict: Verdict::Inconclusive,
        note: if higher_is_better {
            "business metric, higher is better: the change is how much lower it is".into()
        } else {
            "business metric, lower is better".into()
        },
    };
    decide(options, &mut comparison);
    comparison
}

/// What a rollout gate does with a challenger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateDecision {
    /// Not worse (better or equivalent) on enough rows: promote it.
    Promote,
    /// Not enough evidence yet: keep the traffic split and wait.
    Hold,
    /// Significantly worse: roll it back.
    Rollback,
}

/// The gate's decision from the accuracy comparison and, optionally, a business metric's.
pub fn gate(accuracy: &Comparison, business: Option<&Comparison>) -> GateDecision {
    let verdicts = std::iter::once(accuracy.verdict).chain(business.map(|b| b.verdict));
    let verdicts: Vec<Verdict> = verdicts.collect();
    if verdicts.contains(&Verdict::Worse) {
        GateDecision::Rollback
    } else if verdicts
        .iter()
        .all(|v| matches!(v, Verdict::Better | Verdict::Equivalent))
    {
        GateDecision::Promote
    } else {
        GateDecision::Hold
    }
}

#[cfg(test)]
mod tests;
