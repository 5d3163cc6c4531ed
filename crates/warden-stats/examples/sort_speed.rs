//! Times `sort_f64` against the standard library's sort on 1M values, and the merged CDF walk, with the same allocator
//! as the `warden` binary (a tool for tuning the radix sort, not a test):
//! `cargo run --release -p warden-stats --example sort_speed`.

use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut state = 42u64;
    let values: Vec<f64> = (0..1_000_000)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            10.0 + ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 4.0
        })
        .collect();
    for _ in 0..5 {
        let mut radix = values.clone();
        let start = Instant::now();
        warden_stats::sort::sort_f64(&mut radix);
        let radix_time = start.elapsed();
        let mut standard = values.clone();
        let start = Instant::now();
        standard.sort_unstable_by(f64::total_cmp);
        let standard_time = start.elapsed();
        assert_eq!(radix, standard);
        println!("radix {radix_time:?}  sort_unstable_by {standard_time:?}");
    }
    // The merged CDF walk of two interleaved sorted samples (the other hot loop of a drift run).
    let mut shifted: Vec<f64> = values.iter().map(|v| v + 0.1).collect();
    let mut sorted = values.clone();
    warden_stats::sort::sort_f64(&mut sorted);
    warden_stats::sort::sort_f64(&mut shifted);
    for _ in 0..3 {
        let start = Instant::now();
        let found = warden_stats::two_sample::distances(&sorted, &shifted);
        println!("walk {:?} (ks {:.4})", start.elapsed(), found.ks);
    }
}
