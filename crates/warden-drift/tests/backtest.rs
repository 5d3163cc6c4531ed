//! `warden drift backtest` on a labelled history (R3.7): precision and recall with default
//! thresholds, tuning to a target precision, and the written thresholds file taking effect.
#![allow(clippy::unwrap_used)]

use warden_data::Dataset;
use warden_data::write::write_parquet;
use warden_drift::DriftOptions;
use warden_drift::backtest::{backtest, decision_record, load_labels, thresholds_yaml, tune};
use warden_drift::options::{Roles, Thresholds};
use warden_drift::synthetic::{Scenario, days, generate};

/// Monday 2026-10-26 00:00 UTC.
const MONDAY: i64 = 1_792_972_800_000;
const DAYS: i64 = 42;
const ROWS_PER_DAY: usize = 1_500;
const WOBBLE_DAYS: [i64; 2] = [30, 33];
const DRIFT_DAYS: [i64; 3] = [38, 39, 40];

fn history(dir: &std::path::Path) -> String {
    let root = dir.join("history");
    for day in 0..DAYS {
        let scenario = Scenario {
            drift: DRIFT_DAYS.contains(&day),
            num_05_offset: if WOBBLE_DAYS.contains(&day) { 0.4 } else { 0.0 },
            ..Default::default()
        };
        let folder = root.join(format!("day-{day:02}"));
        std::fs::create_dir_all(&folder).unwrap();
        let columns = generate(
            ROWS_PER_DAY,
            100 + day as u64,
            MONDAY + days(day),
            days(1),
            scenario,
        );
        write_parquet(&folder.join("part-0.parquet"), &columns).unwrap();
    }
    root.display().to_string()
}

fn options() -> DriftOptions {
    DriftOptions {
        roles: Roles {
            ignore: vec!["region".into()],
            ..Default::default()
        },
        reference_window_ms: Some(days(28)),
        window_ms: days(1),
        ..Default::default()
    }
}

#[test]
fn backtest_scores_and_tunes_to_a_target_precision() {
    let dir = tempfile::tempdir().unwrap();
    let location = history(dir.path());
    let labels_path = dir.path().join("labels.csv");
    // Days 28.. are evaluated; 38–40 carry real drift.
    std::fs::write(&labels_path, "start,end,label\n2026-10-26,2026-11-22,no_drift\n2026-11-23,2026-12-06,no_drift\n2026-12-03,2026-12-05,drift\n")
        .unwrap();
    let labels = load_labels(&labels_path).unwrap();
    let mut report = backtest(
        Dataset::open(&location).unwrap(),
        &labels,
        &options(),
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(report.windows.len(), (DAYS - 28) as usize);
    let scores = report.scores;
    assert_eq!(
        (scores.true_positives, scores.false_negatives),
        (3, 0),
        "{:#?}",
        report.windows
    );
    assert_eq!(
        scores.false_positives, 2,
        "the two wobble days alarm with default thresholds: {:#?}",
        report.windows
    );
    assert!((scores.precision - 0.6).abs() < 1e-12);

    tune(&mut report, &options(), 0.9);
    let tuning = report.tuning.clone().unwrap();
    assert!(tuning.reached);
    assert_eq!(tuning.after.false_positives, 0);
    assert_eq!(tuning.after.recall, 1.0);
    let changed: Vec<&str> = tuning.changes.iter().map(|c| c.column.as_str()).collect();
    assert_eq!(changed, vec!["num_05"]);
    assert!(
        tuning.changes[0].after > 0.3 && tuning.changes[0].before == 0.1,
        "{:?}",
        tuning.changes
    );

    // The thresholds file round-trips and the detector honours it.
    let thresholds_path = dir.path().join("thresholds.yaml");
    std::fs::write(&thresholds_path, thresholds_yaml(&tuning, &location)).unwrap();
    let thresholds = Thresholds::from_file(&thresholds_path).unwrap();
    assert_eq!(thresholds, tuning.thresholds);
    let mut tuned = options();
    tuned.apply_thresholds(thresholds, "thresholds.yaml");
    let rerun = backtest(
        Dataset::open(&location).unwrap(),
        &labels,
        &tuned,
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(rerun.scores.false_positives, 0);
    assert_eq!(rerun.scores.true_positives, 3);

    let record = decision_record(&report, &tuning, "thresholds.yaml");
    assert!(record.contains("| `num_05` | 0.1 |"), "{record}");
    assert!(
        record.contains("false-positive rate | 0.182 | 0.000"),
        "{record}"
    );
}
