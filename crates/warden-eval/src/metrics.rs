//! Forecast accuracy (docs/EVALUATION.md has the definitions): with the error
//! `e = prediction − actual`,
//! MAE = mean |e|; RMSE = √mean e²; MAPE = mean |e|/|y| over the rows whose actual is not
//! zero (those rows are counted in `zero_actuals`, never divided by); sMAPE = mean
//! 2|e|/(|y|+|ŷ|), a row where both are zero counting as no error; WAPE = Σ|e|/Σ|y|;
//! bias = mean e (positive: over-forecasting); MASE = MAE over the mean absolute error of the
//! seasonal naive forecast `y[t−m]` along each series.
//!
//! Confidence intervals come from a bootstrap over buckets: rows are spread over
//! [`BUCKETS`] buckets by a hash of their position, each bucket keeps the sums the metrics
//! need, and each of [`RESAMPLES`] resamples draws buckets with replacement. That is the same
//! estimator as resampling rows when rows are independent, costs O(rows) once plus
//! O(buckets × resamples), and so stays fast on 10M rows.

use serde::Serialize;

use crate::Scored;

/// Buckets the bootstrap resamples.
pub const BUCKETS: usize = 256;
/// Bootstrap resamples.
pub const RESAMPLES: usize = 1000;

/// One accuracy metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Mean absolute error.
    Mae,
    /// Root mean squared error.
    Rmse,
    /// Mean absolute percentage error (zero actuals excluded).
    Mape,
    /// Symmetric MAPE.
    Smape,
    /// Weighted absolute percentage error.
    Wape,
    /// Mean error; compared by its size.
    Bias,
}

impl Metric {
    /// Every metric, in report order.
    pub const ALL: [Metric; 6] = [
        Self::Mae,
        Self::Rmse,
        Self::Mape,
        Self::Smape,
        Self::Wape,
        Self::Bias,
    ];

    /// Its name in flags, config and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mae => "mae",
            Self::Rmse => "rmse",
            Self::Mape => "mape",
            Self::Smape => "smape",
            Self::Wape => "wape",
            Self::Bias => "bias",
        }
    }

    /// From its name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == text)
    }

    /// Whether it is a share (shown as a percentage).
    pub fn is_share(self) -> bool {
        matches!(self, Self::Mape | Self::Smape | Self::Wape)
    }
}

/// The sums every metric is computed from; they add up across rows and buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    /// Rows.
    pub n: f64,
    /// Σ|e|.
    pub abs_error: f64,
    /// Σe².
    pub squared_error: f64,
    /// Σe.
    pub error: f64,
    /// Σ|y|.
    pub abs_actual: f64,
    /// Σ|e|/|y| over non-zero actuals.
    pub ape: f64,
    /// Rows with a non-zero actual.
    pub ape_rows: f64,
    /// Σ 2|e|/(|y|+|ŷ|).
    pub sape: f64,
}

impl Sums {
    /// Adds one row.
    pub fn add(&mut self, prediction: f64, actual: f64) {
        let error = prediction - actual;
        let abs = error.abs();
        self.n += 1.0;
        self.abs_error += abs;
        self.squared_error += error * error;
        self.error += error;
        self.abs_actual += actual.abs();
        if actual != 0.0 {
            self.ape += abs / actual.abs();
            self.ape_rows += 1.0;
        }
        let scale = actual.abs() + prediction.abs();
        if scale > 0.0 {
            self.sape += 2.0 * abs / scale;
        }
    }

    /// Adds another set of sums.
    pub fn merge(&mut self, other: &Sums) {
        self.n += other.n;
        self.abs_error += other.abs_error;
        self.squared_error += other.squared_error;
        self.error += other.error;
        self.abs_actual += other.abs_actual;
        self.ape += other.ape;
        self.ape_rows += other.ape_rows;
        self.sape += other.sape;
    }

    /// One metric's value (NaN when undefined: no rows, all actuals zero).
    pub fn value(&self, metric: Metric) -> f64 {
        let per = |sum: f64, n: f64| if n > 0.0 { sum / n } else { f64::NAN };
        match metric {
            Metric::Mae => per(self.abs_error, self.n),
            Metric::Rmse => per(self.squared_error, self.n).sqrt(),
            Metric::Mape => per(self.ape, self.ape_rows),
            Metric::Smape => per(self.sape, self.n),
            Metric::Wape => per(self.abs_error, self.abs_actual),
            Metric::Bias => per(self.error, self.n),
        }
    }
}

/// A metric with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// The value on all rows.
    pub value: f64,
    /// The 2.5% bootstrap quantile.
    pub low: f64,
    /// The 97.5% bootstrap quantile.
    pub high: f64,
}

/// The accuracy of one group of rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accuracy {
    /// Rows evaluated.
    pub n: usize,
    /// Rows whose actual is zero (excluded from MAPE only).
    pub zero_actuals: usize,
    /// Mean absolute error.
    pub mae: Estimate,
    /// Root mean squared error.
    pub rmse: Estimate,
    /// MAPE as a share (0.12 = 12%).
    pub mape: Estimate,
    /// sMAPE as a share.
    pub smape: Estimate,
    /// WAPE as a share.
    pub wape: Estimate,
    /// Mean error (prediction − actual).
    pub bias: Estimate,
    /// MASE against the seasonal naive forecast, when the rows have times and a season fits.
    pub mase: Option<Estimate>,
    /// The season MASE used.
    pub season: usize,
}

impl Accuracy {
    /// One metric's estimate.
    pub fn get(&self, metric: Metric) -> Estimate {
        match metric {
            Metric::Mae => self.mae,
            Metric::Rmse => self.rmse,
            Metric::Mape => self.mape,
            Metric::Smape => self.smape,
            Metric::Wape => self.wape,
            Metric::Bias => self.bias,
        }
    }
}

/// Which bucket row `row` falls in (a hash of its position, so buckets mix time and series).
pub fn bucket_of(row: usize) -> usize {
    let mut x = (row as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((x ^ (x >> 31)) % BUCKETS as u64) as usize
}

/// Per-bucket sums of `rows` of `scored`.
pub fn bucket_sums(scored: &Scored, rows: &[u32]) -> Vec<Sums> {
    let mut buckets = vec![Sums::default(); BUCKETS];
    for &row in rows {
        let row = row as usize;
        buckets[bucket_of(row)].add(scored.prediction[row], scored.actual[row]);
    }
    buckets
}

/// The seedable generator: every run of the same data gives the same intervals.
pub use warden_core::rng::SplitMix;

/// `RESAMPLES` bootstrap resamples of the non-empty buckets.
pub fn resample(buckets: &[Sums], rng: &mut SplitMix) -> Vec<Sums> {
    let filled: Vec<&Sums> = buckets.iter().filter(|b| b.n > 0.0).collect();
    (0..RESAMPLES)
        .map(|_| {
            let mut total = Sums::default();
            for _ in 0..filled.len() {
                total.merge(filled[rng.below(filled.len())]);
            }
            total
        })
        .collect()
}

/// The `q` quantile of finite values (NaN if none).
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return f64::NAN;
    }
    finite.sort_by(f64::total_cmp);
    let position = q * (finite.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    finite[below] + (finite[above] - finite[below]) * (position - below as f64)
}

fn estimate(total: &Sums, resamples: &[Sums], metric: Metric, scale: f64) -> Estimate {
    let mut values: Vec<f64> = resamples.iter().map(|s| s.value(metric) / scale).collect();
    Estimate {
        value: total.value(metric) / scale,
        low: quantile(&mut values, 0.025),
        high: quantile(&mut values, 0.975),
    }
}

/// Row numbers sorted by (series, time) — 4 bytes a row rather than a copy of the values;
/// `None` without timestamps. Sorted once and shared by every group of an evaluation.
pub fn series_order(scored: &Scored, rows: &[u32]) -> Option<Vec<u32>> {
    let times = scored.timestamp.as_ref()?;
    let mut ordered: Vec<u32> = rows.to_vec();
    ordered.sort_unstable_by_key(|&r| (scored.series[r as usize], times[r as usize]));
    Some(ordered)
}

/// The mean absolute error of the seasonal naive forecast along each series: rows of one
/// series `season` steps apart in `ordered` (a [`series_order`], possibly filtered).
pub fn naive_scale(scored: &Scored, ordered: &[u32], season: usize) -> Option<f64> {
    let season = season.max(1);
    let (mut sum, mut n) = (0.0, 0.0);
    for i in season..ordered.len() {
        let (now, earlier) = (ordered[i] as usize, ordered[i - season] as usize);
        if scored.series[now] == scored.series[earlier] {
            sum += (scored.actual[now] - scored.actual[earlier]).abs();
            n += 1.0;
        }
    }
    (n > 0.0 && sum > 0.0).then(|| sum / n)
}

/// The accuracy of `rows` of `scored` (all rows when `None`), MASE with season `season`.
pub fn accuracy(scored: &Scored, rows: Option<&[u32]>, season: usize) -> Accuracy {
    let all: Vec<u32>;
    let rows = match rows {
        Some(rows) => rows,
        None => {
            all = (0..scored.len() as u32).collect();
            &all
        }
    };
    let order = series_order(scored, rows);
    accuracy_ordered(scored, rows, order.as_deref(), season)
}

fn accuracy_ordered(
    scored: &Scored,
    rows: &[u32],
    order: Option<&[u32]>,
    season: usize,
) -> Accuracy {
    let buckets = bucket_sums(scored, rows);
    let mut total = Sums::default();
    for bucket in &buckets {
        total.merge(bucket);
    }
    let resamples = resample(&buckets, &mut SplitMix(0x5eed));
    let scale = order.and_then(|order| naive_scale(scored, order, season));
    Accuracy {
        n: rows.len(),
        zero_actuals: (total.n - total.ape_rows) as usize,
        mae: estimate(&total, &resamples, Metric::Mae, 1.0),
        rmse: estimate(&total, &resamples, Metric::Rmse, 1.0),
        mape: estimate(&total, &resamples, Metric::Mape, 1.0),
        smape: estimate(&total, &resamples, Metric::Smape, 1.0),
        wape: estimate(&total, &resamples, Metric::Wape, 1.0),
        bias: estimate(&total, &resamples, Metric::Bias, 1.0),
        mase: scale.map(|s| estimate(&total, &resamples, Metric::Mae, s)),
        season: season.max(1),
    }
}

/// All rows' accuracy, and per group (`codes[row]` names the group among `names`): the
/// rows are put in series order once for every MASE.
pub fn accuracy_overall_and_by(
    scored: &Scored,
    codes: Option<(&[u32], &[String])>,
    season: usize,
) -> (Accuracy, Vec<(String, Accuracy)>) {
    let all: Vec<u32> = (0..scored.len() as u32).collect();
    let order = series_order(scored, &all);
    let overall = accuracy_ordered(scored, &all, order.as_deref(), season);
    drop(all);
    let Some((codes, names)) = codes else {
        return (overall, Vec::new());
    };
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); names.len()];
    for (row, code) in codes.iter().enumerate() {
        if let Some(group) = rows.get_mut(*code as usize) {
            group.push(row as u32);
        }
    }
    let groups = names
        .iter()
        .enumerate()
        .zip(rows)
        .filter(|(_, rows)| !rows.is_empty())
        .map(|((code, name), rows)| {
            // The shared order filtered to the group is still in (series, time) order.
            let group_order: Option<Vec<u32>> = order.as_ref().map(|order| {
                order
                    .iter()
                    .copied()
                    .filter(|&r| codes[r as usize] == code as u32)
                    .collect()
            });
            (
                name.clone(),
                accuracy_ordered(scored, &rows, group_order.as_deref(), season),
            )
        })
        .collect();
    (overall, groups)
}

/// A metric value for people: shares as percentages.
pub fn shown(metric: Metric, value: f64) -> String {
    if !value.is_finite() {
        return "—".into();
    }
    if metric.is_share() {
        format!("{:.2}%", value * 100.0)
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(prediction: Vec<f64>, actual: Vec<f64>) -> Scored {
        let n = prediction.len();
        Scored {
            prediction,
            actual,
            version: vec![0; n],
            versions: vec!["all".into()],
            series: vec![1; n],
            key: vec![0; n],
            timestamp: Some((0..n as i64).map(|t| t * 86_400_000).collect()),
            ..Scored::default()
        }
    }

    #[test]
    fn metrics_match_their_definitions_by_hand() {
        // errors: +1, −2, +3 (actual 0), 0
        let s = scored(vec![11.0, 18.0, 3.0, 5.0], vec![10.0, 20.0, 0.0, 5.0]);
        let a = accuracy(&s, None, 1);
        assert_eq!(a.n, 4);
        assert_eq!(a.zero_actuals, 1);
        assert!((a.mae.value - 1.5).abs() < 1e-12);
        assert!((a.rmse.value - (14.0_f64 / 4.0).sqrt()).abs() < 1e-12);
        // MAPE over the three non-zero actuals: (0.1 + 0.1 + 0) / 3
        assert!((a.mape.value - 0.2 / 3.0).abs() < 1e-12);
        // sMAPE: 2/21, 4/38, 2 (3 vs 0), 0 → mean
        let smape = (2.0 / 21.0 + 4.0 / 38.0 + 2.0 + 0.0) / 4.0;
        assert!((a.smape.value - smape).abs() < 1e-12);
        assert!((a.wape.value - 6.0 / 35.0).abs() < 1e-12);
        assert!((a.bias.value - 0.5).abs() < 1e-12);
        // naive (m=1) errors along the series: |20−10|, |0−20|, |5−0| → 35/3
        let mase = a.mase.expect("times present");
        assert!((mase.value - 1.5 / (35.0 / 3.0)).abs() < 1e-12);
    }

    #[test]
    fn intervals_cover_the_value_and_shrink_with_more_rows() {
        let noisy = |n: usize| {
            let mut rng = SplitMix(7);
            let actual: Vec<f64> = (0..n).map(|i| 100.0 + (i % 13) as f64).collect();
            let prediction = actual
                .iter()
                .map(|a| a + (rng.below(21) as f64 - 10.0))
                .collect();
            scored(prediction, actual)
        };
        let small = accuracy(&noisy(2_000), None, 7);
        let large = accuracy(&noisy(200_000), None, 7);
        for a in [&small, &large] {
            assert!(
                a.mae.low <= a.mae.value && a.mae.value <= a.mae.high,
                "{a:?}"
            );
        }
        let width = |a: &Accuracy| a.mae.high - a.mae.low;
        assert!(width(&large) < width(&small) / 5.0, "{small:?} {large:?}");
    }

    #[test]
    fn all_zero_actuals_leave_mape_undefined_not_infinite() {
        let a = accuracy(&scored(vec![1.0, 2.0], vec![0.0, 0.0]), None, 1);
        assert!(a.mape.value.is_nan());
        assert_eq!(a.zero_actuals, 2);
        assert!(a.wape.value.is_nan() || a.wape.value.is_infinite());
    }
}
