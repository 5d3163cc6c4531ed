//! The regression test's decisions on data whose truth is known.

use super::*;
use crate::metrics::SplitMix;

/// `days` days × `series` series per version; version 1 first, then version 2 with its errors
/// scaled by `worse`. Noise ±10 around an actual of ~100.
fn two_versions(days: i64, series: u64, worse: f64, shadow: bool) -> Scored {
    let mut rng = SplitMix(11);
    let mut s = Scored {
        versions: vec!["1".into(), "2".into()],
        timestamp: Some(Vec::new()),
        ..Scored::default()
    };
    let push = |s: &mut Scored, version: u32, day: i64, id: u64, scale: f64, rng: &mut SplitMix| {
        let actual = 100.0 + (id % 7) as f64;
        let noise = rng.below(21) as f64 - 10.0;
        s.prediction.push(actual + noise * scale);
        s.actual.push(actual);
        s.version.push(version);
        s.series.push(id + 1);
        s.key.push(((day as u64) << 20) | (id + 1));
        if let Some(t) = s.timestamp.as_mut() {
            t.push(day * 86_400_000);
        }
    };
    for day in 0..days {
        for id in 0..series {
            push(&mut s, 0, day, id, 1.0, &mut rng);
        }
    }
    let first_after = if shadow { 0 } else { days };
    for day in first_after..first_after + days {
        for id in 0..series {
            push(&mut s, 1, day, id, worse, &mut rng);
        }
    }
    s
}

#[test]
fn a_version_a_third_worse_is_worse_and_significant() {
    let scored = two_versions(14, 20, 1.33, false);
    let c = newest_against_previous(&scored, &Options::default()).expect("two versions");
    assert_eq!(c.method, "bootstrap");
    assert_eq!((c.baseline.as_str(), c.candidate.as_str()), ("1", "2"));
    assert!(
        c.relative_change > 0.25 && c.relative_change < 0.45,
        "{c:?}"
    );
    assert!(c.p_worse < 0.01, "{c:?}");
    assert_eq!(c.verdict, Verdict::Worse);
}

#[test]
fn the_same_model_under_a_new_version_number_is_not_a_regression() {
    let scored = two_versions(30, 50, 1.0, false);
    let c = newest_against_previous(&scored, &Options::default()).expect("two versions");
    assert_ne!(c.verdict, Verdict::Worse, "{c:?}");
    assert_eq!(c.verdict, Verdict::Equivalent, "{c:?}");
}

#[test]
fn a_significant_but_tiny_change_is_not_worse() {
    // 3% worse on many rows: significant, below the 10% minimum effect.
    let scored = two_versions(60, 200, 1.03, false);
    let c = newest_against_previous(&scored, &Options::default()).expect("two versions");
    assert!(c.p_worse < 0.05, "{c:?}");
    assert_ne!(c.verdict, Verdict::Worse, "{c:?}");
}

#[test]
fn too_few_rows_are_inconclusive_whatever_the_change() {
    let scored = two_versions(1, 5, 3.0, false);
    let c = newest_against_previous(&scored, &Options::default()).expect("two versions");
    assert_eq!(c.verdict, Verdict::Inconclusive, "{c:?}");
}

#[test]
fn shadow_rows_on_the_same_keys_are_compared_pairwise() {
    let scored = two_versions(14, 20, 1.5, true);
    let c = newest_against_previous(&scored, &Options::default()).expect("two versions");
    assert_eq!(c.method, "diebold_mariano");
    assert_eq!(c.baseline_rows, 280);
    assert_eq!(c.verdict, Verdict::Worse, "{c:?}");
    assert_eq!(gate(&c, None), GateDecision::Rollback);
}

#[test]
fn a_better_challenger_is_promoted_and_an_unclear_one_held() {
    let better = two_versions(14, 20, 0.5, true);
    let c = newest_against_previous(&better, &Options::default()).expect("two versions");
    assert_eq!(c.verdict, Verdict::Better, "{c:?}");
    assert_eq!(gate(&c, None), GateDecision::Promote);
    let few = two_versions(1, 8, 1.2, true);
    let c = newest_against_previous(&few, &Options::default()).expect("two versions");
    assert_eq!(gate(&c, None), GateDecision::Hold, "{c:?}");
}

#[test]
fn the_baseline_is_the_period_right_before_on_the_same_series() {
    let scored = two_versions(14, 20, 1.0, false);
    let candidate = scored.rows_of_version("2");
    let baseline = scored.rows_of_version("1");
    let (rows, note) = comparable_baseline(&scored, &baseline, &candidate, 30);
    // The candidate spans 13 days, so the 13 days before it: days 1..=13 of version 1.
    assert_eq!(rows.len(), 13 * 20, "{note}");
    assert!(note.contains("days before"), "{note}");
}

#[test]
fn a_business_metric_drop_is_worse_when_higher_is_better() {
    let before: Vec<f64> = (0..48).map(|i| 0.050 + (i % 5) as f64 * 0.001).collect();
    let after: Vec<f64> = (0..48).map(|i| 0.040 + (i % 5) as f64 * 0.001).collect();
    let c = business_series(&before, &after, true, &Options::default());
    assert_eq!(c.verdict, Verdict::Worse, "{c:?}");
    let c = business_series(&before, &after, false, &Options::default());
    assert_eq!(c.verdict, Verdict::Better, "{c:?}");
}

#[test]
fn newey_west_widens_the_variance_of_autocorrelated_losses() {
    let independent: Vec<f64> = (0..400)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let persistent: Vec<f64> = (0..400)
        .map(|i| if (i / 20) % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    assert!(long_run_variance(&persistent) > 3.0 * long_run_variance(&independent));
}
