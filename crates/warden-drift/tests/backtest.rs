//! `warden drift backtest` on a labelled history (R3.7): precision and recall with default
//! thresholds, tuning to a target precision, and the written thresholds file taking effect.
#![allow(clippy::unwrap_used)]

use warden_data::Dataset;
use warden_data::write::write_parquet;
use warden_drift::DriftOptions;
use warden_drift::backtest::{
    BacktestReference, LabelSemantics, backtest, decision_record, load_labels, thresholds_yaml,
    tune,
};
use warden_drift::engine::{Reference, Side};
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
        BacktestReference::Sliding,
        LabelSemantics::Change,
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
        BacktestReference::Sliding,
        LabelSemantics::Change,
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

/// A lasting shift from day 35 on, labelled as a regime: a sliding 7-day reference absorbs it
/// within days, so its backtest misses most of the regime; the monitor's fixed reference keeps
/// seeing it, and the backtest with that reference says so (issue 25).
#[test]
fn a_fixed_reference_backtest_sees_a_lasting_shift_a_sliding_one_absorbs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("history");
    for day in 0..DAYS {
        let scenario = Scenario {
            drift: day >= 35,
            ..Default::default()
        };
        let folder = root.join(format!("day-{day:02}"));
        std::fs::create_dir_all(&folder).unwrap();
        let columns = generate(
            ROWS_PER_DAY,
            300 + day as u64,
            MONDAY + days(day),
            days(1),
            scenario,
        );
        write_parquet(&folder.join("part-0.parquet"), &columns).unwrap();
    }
    let reference_path = dir.path().join("reference.parquet");
    write_parquet(
        &reference_path,
        &generate(
            28 * ROWS_PER_DAY,
            7,
            MONDAY - days(28),
            days(28),
            Scenario::default(),
        ),
    )
    .unwrap();
    let labels_path = dir.path().join("labels.csv");
    // Days 28..34 quiet, 35..41 the shifted regime.
    std::fs::write(
        &labels_path,
        "start,end,label\n2026-11-23,2026-11-29,no_drift\n2026-11-30,2026-12-06,drift\n",
    )
    .unwrap();
    let labels = load_labels(&labels_path).unwrap();
    let history = || Dataset::open(root.to_str().unwrap()).unwrap();
    let sliding_options = DriftOptions {
        reference_window_ms: Some(days(7)),
        ..options()
    };
    let sliding = backtest(
        history(),
        &labels,
        &sliding_options,
        BacktestReference::Sliding,
        LabelSemantics::Regime,
        &|_, _| {},
    )
    .unwrap();
    assert!(
        sliding.scores.recall < 0.5,
        "a sliding reference absorbs the regime: {:?}",
        sliding.scores
    );
    let fixed = Reference::Data(Side::all(
        Dataset::open(reference_path.to_str().unwrap()).unwrap(),
    ));
    let report = backtest(
        history(),
        &labels,
        &options(),
        BacktestReference::Fixed(&fixed),
        LabelSemantics::Regime,
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(report.label_semantics, "regime");
    assert!(
        report.reference_window.starts_with("fixed "),
        "{}",
        report.reference_window
    );
    assert_eq!(
        report.windows.len(),
        DAYS as usize,
        "every window of the history"
    );
    let drift_windows: Vec<&str> = report
        .windows
        .iter()
        .filter(|w| w.label == "drift")
        .map(|w| w.start.as_str())
        .collect();
    assert_eq!(drift_windows.len(), 7);
    assert_eq!(report.scores.recall, 1.0, "{:#?}", report.windows);
}
