//! A seeded generator of prediction-log-like tables for the drift engine's tests and
//! benchmarks: 20 numeric and 5 categorical columns (3, 7, 12, 50 and 200 levels), a timestamp,
//! a region, and switches for the scenarios of `../shared/docs/DRIFT.md` — the three real
//! drifts, negligible shifts, and weekend-vs-weekday seasonality.

use warden_data::{Column, ColumnValues};

/// What differs from the base distribution.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Scenario {
    /// The three real drifts: `num_00` mean +0.25 sd, `num_01` lognormal sigma 0.8 -> 1.0,
    /// `cat_07` level `c7_5` share 0.08 -> 0.20.
    pub drift: bool,
    /// Negligible shifts: `num_04` and `num_08` mean +0.02 sd, `cat_12` level `c12_3` share
    /// +0.005.
    pub negligible: bool,
    /// Weekend rows (Saturday, Sunday UTC) differ: `num_02` mean +0.5 sd, `cat_03` shares
    /// 0.57/0.23/0.20 -> 0.40/0.35/0.25.
    pub weekend_effect: bool,
    /// Only rows of region `west` carry the three drifts (with `drift`).
    pub drift_only_in_west: bool,
    /// A harmless day-level wobble of `num_05`'s mean, in its standard deviations: the kind of
    /// variation that makes default thresholds alert on quiet days (backtests tune it away).
    pub num_05_offset: f64,
}

/// The columns drifted by [`Scenario::drift`].
pub const DRIFTED_COLUMNS: [&str; 3] = ["num_00", "num_01", "cat_07"];
/// The columns with a weekend effect.
pub const SEASONAL_COLUMNS: [&str; 2] = ["num_02", "cat_03"];

/// xoshiro256** — small, fast, and the same numbers on every platform.
pub struct Rng([u64; 4]);

impl Rng {
    /// Seeds by SplitMix64.
    pub fn new(seed: u64) -> Self {
        let mut state = seed;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self([next(), next(), next(), next()])
    }

    /// A uniform u64.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    fn pick(&mut self, cumulative: &[f64]) -> u32 {
        let u = self.uniform() * cumulative.last().copied().unwrap_or(1.0);
        cumulative
            .partition_point(|c| *c <= u)
            .min(cumulative.len() - 1) as u32
    }
}

fn cumulative(shares: &[f64]) -> Vec<f64> {
    let mut total = 0.0;
    shares
        .iter()
        .map(|s| {
            total += s;
            total
        })
        .collect()
}

fn zipf(levels: usize, exponent: f64) -> Vec<f64> {
    let raw: Vec<f64> = (1..=levels)
        .map(|k| 1.0 / (k as f64).powf(exponent))
        .collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|r| r / total).collect()
}

/// Moves `level`'s share to `share`, scaling the others to keep the total at 1.
fn with_share(shares: &[f64], level: usize, share: f64) -> Vec<f64> {
    let others = 1.0 - shares[level];
    shares
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if i == level {
                share
            } else {
                s * (1.0 - share) / others
            }
        })
        .collect()
}

const DAY_MS: i64 = 86_400_000;

fn is_weekend(epoch_ms: i64) -> bool {
    // 1970-01-01 was a Thursday (weekday 3 counting from Monday = 0).
    let weekday = (epoch_ms.div_euclid(DAY_MS) + 3).rem_euclid(7);
    weekday >= 5
}

/// `rows` rows with timestamps spread evenly over `[start_ms, start_ms + span_ms)`.
pub fn generate(
    rows: usize,
    seed: u64,
    start_ms: i64,
    span_ms: i64,
    scenario: Scenario,
) -> Vec<Column> {
    let mut rng = Rng::new(seed);
    let regions = ["north", "south", "east", "west"];
    let cat_03 = [0.57, 0.23, 0.20];
    let cat_03_weekend = [0.40, 0.35, 0.25];
    let cat_07 = [0.30, 0.20, 0.15, 0.12, 0.10, 0.08, 0.05];
    let cat_07_drift = with_share(&cat_07, 5, 0.20);
    let cat_12 = zipf(12, 0.8);
    let cat_12_negligible = with_share(&cat_12, 3, cat_12[3] + 0.005);
    let cat_50 = zipf(50, 1.0);
    let cat_200 = zipf(200, 1.2);
    let tables: Vec<[Vec<f64>; 4]> = vec![
        [
            cumulative(&cat_03),
            cumulative(&cat_03_weekend),
            Vec::new(),
            Vec::new(),
        ],
        [
            cumulative(&cat_07),
            Vec::new(),
            cumulative(&cat_07_drift),
            Vec::new(),
        ],
        [
            cumulative(&cat_12),
            Vec::new(),
            Vec::new(),
            cumulative(&cat_12_negligible),
        ],
        [cumulative(&cat_50), Vec::new(), Vec::new(), Vec::new()],
        [cumulative(&cat_200), Vec::new(), Vec::new(), Vec::new()],
    ];
    let levels = [3usize, 7, 12, 50, 200];

    let mut times = Vec::with_capacity(rows);
    let mut region_codes = Vec::with_capacity(rows);
    let mut numeric: Vec<Vec<f64>> = (0..20).map(|_| Vec::with_capacity(rows)).collect();
    let mut categorical: Vec<Vec<u32>> = (0..5).map(|_| Vec::with_capacity(rows)).collect();
    for row in 0..rows {
        let time = start_ms + (row as i128 * span_ms as i128 / rows.max(1) as i128) as i64;
        times.push(time);
        let region = (rng.next_u64() % 4) as u32;
        region_codes.push(region);
        let weekend = scenario.weekend_effect && is_weekend(time);
        let drift = scenario.drift && (!scenario.drift_only_in_west || region == 3);
        for (i, column) in numeric.iter_mut().enumerate() {
            let z = rng.normal();
            let value = match i {
                0 => 10.0 + 2.0 * (z + if drift { 0.25 } else { 0.0 }),
                1 => (z * if drift { 1.0 } else { 0.8 }).exp(),
                2 => 50.0 + 5.0 * (z + if weekend { 0.5 } else { 0.0 }),
                5 => 5.0 + 2.0 * (z + scenario.num_05_offset),
                4 | 8 => 100.0 + 10.0 * (z + if scenario.negligible { 0.02 } else { 0.0 }),
                i if i % 4 == 1 => (0.5 * z).exp() * i as f64,
                i if i % 4 == 2 => -(rng.uniform().max(f64::MIN_POSITIVE)).ln() * i as f64,
                i if i % 4 == 3 => rng.uniform() * 10.0 * i as f64,
                i => i as f64 + z * (1.0 + i as f64 / 10.0),
            };
            column.push(value);
        }
        for (i, column) in categorical.iter_mut().enumerate() {
            let [base, weekend_table, drift_table, negligible_table] = &tables[i];
            let table = if weekend && !weekend_table.is_empty() {
                weekend_table
            } else if drift && !drift_table.is_empty() {
                drift_table
            } else if scenario.negligible && !negligible_table.is_empty() {
                negligible_table
            } else {
                base
            };
            column.push(rng.pick(table));
        }
    }
    let mut columns = vec![
        Column {
            name: "ts".into(),
            values: ColumnValues::Timestamp(times),
        },
        Column {
            name: "region".into(),
            values: ColumnValues::Categorical {
                codes: region_codes,
                levels: regions.iter().map(|r| r.to_string()).collect(),
            },
        },
    ];
    for (i, values) in numeric.into_iter().enumerate() {
        columns.push(Column {
            name: format!("num_{i:02}"),
            values: ColumnValues::Numeric(values),
        });
    }
    for (i, codes) in categorical.into_iter().enumerate() {
        let names = (0..levels[i])
            .map(|l| format!("c{}_{l}", levels[i]))
            .collect();
        columns.push(Column {
            name: format!("cat_{:02}", levels[i]),
            values: ColumnValues::Categorical {
                codes,
                levels: names,
            },
        });
    }
    columns
}

/// Days in milliseconds, for spans.
pub fn days(n: i64) -> i64 {
    n * DAY_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic_and_shaped() {
        let a = generate(1000, 7, 0, days(1), Scenario::default());
        let b = generate(1000, 7, 0, days(1), Scenario::default());
        assert_eq!(a, b);
        assert_eq!(a.len(), 27);
        assert!(a.iter().all(|c| c.len() == 1000));
        assert!(is_weekend(days(2)), "1970-01-03 was a Saturday");
        assert!(!is_weekend(0));
    }
}
