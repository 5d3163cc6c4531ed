//! Sorting `f64` by radix: the bits of a float, with the sign handled, order like unsigned
//! integers, so counting passes over 8-bit digits sort them. 256 buckets keep the scatter's
//! write positions in L1; measured with `examples/sort_speed.rs` on the 2-core CI machine,
//! 8-bit digits beat 11-bit and 16-bit ones and `sort_unstable_by` (about 20–25 ms vs 30–45 ms
//! for 1M values), and an MSD-then-LSD hybrid was no faster. Passes whose digit is the same
//! for every value (the sign and exponent bytes of data in one range) are skipped.
//!
//! The two lowest bytes get no pass at all: after sorting on the top 48 bits, keys sharing
//! those bits sit next to each other, and one scan finds the (rare) out-of-order neighbours and
//! sorts just their group. A million continuous values almost never share 48 bits, so this
//! saves two of the seven or eight scatter passes; data that does share them (values a few
//! ulps apart) costs a comparison sort of each group, never a quadratic one.

/// Maps a float to a `u64` whose unsigned order is the float's total order.
#[inline]
fn to_key(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

#[inline]
fn from_key(key: u64) -> f64 {
    let bits = if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    };
    f64::from_bits(bits)
}

const RADIX_BITS: u32 = 8;
const BUCKETS: usize = 1 << RADIX_BITS;
const PASSES: usize = 8;
/// Low digits left to the fix-up scan instead of a scatter pass.
const UNSORTED_LOW_PASSES: usize = 2;
const UNSORTED_LOW_BITS: u32 = UNSORTED_LOW_PASSES as u32 * RADIX_BITS;
/// Below this a comparison sort wins: the histograms and scratch buffer cost more than they save.
const RADIX_MIN_LEN: usize = 4096;

/// Sorts values ascending in place. NaN must have been removed by the caller (NaN is
/// "missing" throughout Warden and never reaches a test); `-0.0` sorts before `0.0`.
pub fn sort_f64(values: &mut [f64]) {
    if values.len() < RADIX_MIN_LEN {
        values.sort_unstable_by(f64::total_cmp);
        return;
    }
    let keys = radix_sort(values.iter().map(|v| to_key(*v)).collect());
    for (value, key) in values.iter_mut().zip(&keys) {
        *value = from_key(*key);
    }
}

/// The values without NaN, sorted — filtering straight into the sort keys, so a million values
/// cost one pass fewer than filtering first and sorting the copy.
pub fn sorted_finite(values: &[f64]) -> Vec<f64> {
    let keys: Vec<u64> = values
        .iter()
        .filter(|v| !v.is_nan())
        .map(|v| to_key(*v))
        .collect();
    if keys.len() < RADIX_MIN_LEN {
        let mut kept: Vec<f64> = keys.into_iter().map(from_key).collect();
        kept.sort_unstable_by(f64::total_cmp);
        return kept;
    }
    radix_sort(keys).into_iter().map(from_key).collect()
}

fn radix_sort(mut keys: Vec<u64>) -> Vec<u64> {
    let mut histograms = vec![0usize; BUCKETS * PASSES];
    for key in &keys {
        for pass in UNSORTED_LOW_PASSES..PASSES {
            let digit = ((key >> (pass as u32 * RADIX_BITS)) as usize) & (BUCKETS - 1);
            histograms[pass * BUCKETS + digit] += 1;
        }
    }
    let mut scratch = vec![0u64; keys.len()];
    for pass in UNSORTED_LOW_PASSES..PASSES {
        let histogram = &mut histograms[pass * BUCKETS..(pass + 1) * BUCKETS];
        // A pass where every key has the same digit would only copy: skip it.
        if histogram.contains(&keys.len()) {
            continue;
        }
        let mut offset = 0;
        for count in histogram.iter_mut() {
            let here = *count;
            *count = offset;
            offset += here;
        }
        let shift = pass as u32 * RADIX_BITS;
        for key in &keys {
            let digit = ((key >> shift) as usize) & (BUCKETS - 1);
            scratch[histogram[digit]] = *key;
            histogram[digit] += 1;
        }
        std::mem::swap(&mut keys, &mut scratch);
    }
    sort_low_bits(&mut keys);
    keys
}

/// Finishes keys already sorted on all but their low `UNSORTED_LOW_BITS`: each run of keys
/// equal above those bits is sorted if (and only if) it is out of order.
fn sort_low_bits(keys: &mut [u64]) {
    let mut group_start = 0;
    let mut out_of_order = false;
    for i in 1..keys.len() {
        if keys[i] >> UNSORTED_LOW_BITS != keys[i - 1] >> UNSORTED_LOW_BITS {
            if out_of_order {
                keys[group_start..i].sort_unstable();
                out_of_order = false;
            }
            group_start = i;
        } else if keys[i] < keys[i - 1] {
            out_of_order = true;
        }
    }
    if out_of_order {
        keys[group_start..].sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 1e6
    }

    #[test]
    fn radix_sort_agrees_with_a_comparison_sort() {
        let mut seed = 7;
        let mut values: Vec<f64> = (0..50_000).map(|_| lcg(&mut seed)).collect();
        values.extend([0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, 1e-300, -1e-300]);
        let mut expected = values.clone();
        expected.sort_by(f64::total_cmp);
        sort_f64(&mut values);
        assert_eq!(
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            expected.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn values_sharing_their_high_bits_sort() {
        // Values a few ulps apart differ only in the bytes no scatter pass looks at.
        let mut seed = 3;
        let mut values: Vec<f64> = (0..30_000)
            .map(|_| {
                lcg(&mut seed);
                f64::from_bits(1.0f64.to_bits() + (seed >> 40) % 5000)
            })
            .collect();
        values.extend((0..10_000).map(|_| lcg(&mut seed)));
        let mut expected = values.clone();
        expected.sort_by(f64::total_cmp);
        sort_f64(&mut values);
        assert_eq!(values, expected);
    }

    #[test]
    fn constant_and_small_inputs_sort() {
        let mut constant = vec![3.5; 10_000];
        sort_f64(&mut constant);
        assert!(constant.iter().all(|v| *v == 3.5));
        let mut small = vec![2.0, -1.0, 0.5];
        sort_f64(&mut small);
        assert_eq!(small, vec![-1.0, 0.5, 2.0]);
        assert_eq!(sorted_finite(&[f64::NAN, 1.0, -1.0]), vec![-1.0, 1.0]);
        let mut seed = 11;
        let large: Vec<f64> = (0..20_000)
            .map(|i| if i % 7 == 0 { f64::NAN } else { lcg(&mut seed) })
            .collect();
        let mut expected: Vec<f64> = large.iter().copied().filter(|v| !v.is_nan()).collect();
        expected.sort_by(f64::total_cmp);
        assert_eq!(sorted_finite(&large), expected);
    }
}
