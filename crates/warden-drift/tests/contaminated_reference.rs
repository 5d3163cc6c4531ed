//! A reference that already holds part of a new regime (issue 25): "update the reference with
//! recent production data" after a lasting shift. Two regimes — the newer one (the three
//! drifts of the scenarios) is the reference's most recent 0% to 30% — against a current window
//! from each regime: the calibration must not let the newer chunks inflate the thresholds, so
//! a window of the newer regime still flags exactly the columns that moved, and a window of the
//! older one flags nothing the contamination does not imply; the reference's own change point
//! is reported.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use warden_data::Dataset;
use warden_data::write::write_parquet;
use warden_drift::engine::{Reference, Side};
use warden_drift::synthetic::{DRIFTED_COLUMNS, Scenario, days, generate};
use warden_drift::{DriftOptions, DriftReport, run};

const REFERENCE_ROWS: usize = 100_000;
const WINDOW_ROWS: usize = 20_000;
/// Monday 2026-10-26 00:00 UTC.
const MONDAY: i64 = 1_792_972_800_000;

fn drifted() -> Scenario {
    Scenario {
        drift: true,
        ..Default::default()
    }
}

/// A 28-day reference whose last `newer` share of rows (and days) is the newer regime.
fn reference(dir: &Path, newer: f64) -> String {
    let root = dir.join(format!("reference-{}", (newer * 100.0) as u32));
    std::fs::create_dir_all(&root).unwrap();
    let span = days(28);
    let older_span = ((1.0 - newer) * span as f64) as i64;
    let older_rows = ((1.0 - newer) * REFERENCE_ROWS as f64) as usize;
    write_parquet(
        &root.join("part-0.parquet"),
        &generate(older_rows, 1, MONDAY, older_span, Scenario::default()),
    )
    .unwrap();
    if newer > 0.0 {
        write_parquet(
            &root.join("part-1.parquet"),
            &generate(
                REFERENCE_ROWS - older_rows,
                2,
                MONDAY + older_span,
                span - older_span,
                drifted(),
            ),
        )
        .unwrap();
    }
    root.display().to_string()
}

fn window(dir: &Path, name: &str, scenario: Scenario) -> String {
    let path = dir.join(name);
    write_parquet(
        &path,
        &generate(WINDOW_ROWS, 9, MONDAY + days(28), days(7), scenario),
    )
    .unwrap();
    path.display().to_string()
}

fn compare(reference: &str, current: &str) -> DriftReport {
    let options = DriftOptions {
        roles: warden_drift::options::Roles {
            ignore: vec!["region".into()],
            ..Default::default()
        },
        ..Default::default()
    };
    let side = |location: &str| Side::all(Dataset::open(location).unwrap());
    run(&Reference::Data(side(reference)), &side(current), &options).unwrap()
}

fn flagged(report: &DriftReport) -> Vec<String> {
    report
        .columns
        .iter()
        .filter(|c| c.drifted)
        .map(|c| c.name.clone())
        .collect()
}

#[test]
fn a_reference_holding_part_of_a_new_regime_still_finds_what_moved() {
    let dir = tempfile::tempdir().unwrap();
    let newer_window = window(dir.path(), "newer.parquet", drifted());
    let older_window = window(dir.path(), "older.parquet", Scenario::default());
    for newer in [0.0, 0.1, 0.2, 0.3] {
        let reference = reference(dir.path(), newer);

        let report = compare(&reference, &newer_window);
        let mut found = flagged(&report);
        found.sort();
        let mut moved: Vec<String> = DRIFTED_COLUMNS.iter().map(|c| c.to_string()).collect();
        moved.sort();
        assert_eq!(
            found, moved,
            "newer share {newer}: the newer regime's window must flag exactly what moved"
        );

        let report = compare(&reference, &older_window);
        let found = flagged(&report);
        assert!(
            found.iter().all(|c| DRIFTED_COLUMNS.contains(&c.as_str())),
            "newer share {newer}: only columns the contamination moved may be flagged: {found:?}"
        );
        if newer <= 0.1 {
            assert!(found.is_empty(), "newer share {newer}: {found:?}");
        }

        // The reference's own change point is a finding once it holds a few chunks.
        match (&report.summary.reference_shift, newer) {
            (None, 0.0) => {}
            (Some(shift), share) if share >= 0.2 => {
                assert!(
                    shift.columns.iter().any(|c| c == "num_00"),
                    "newer share {newer}: {shift:?}"
                );
                // Never before the change; inside the newer regime (its first chunks may not
                // stand out yet when the newer regime is a large part of the reference).
                assert!(
                    shift.from_share >= 1.0 - share - 0.05 && shift.from_share <= 0.95,
                    "newer share {newer}: change point at {:.2}",
                    shift.from_share
                );
                let since = shift.since.as_deref().unwrap();
                assert!(since.starts_with("2026-11-"), "{since}");
                assert!(
                    report
                        .summary
                        .notes
                        .iter()
                        .any(|n| n.starts_with("reference not stationary since 2026-11-")),
                    "{:?}",
                    report.summary.notes
                );
            }
            (Some(shift), share) if share > 0.0 => {
                assert!(
                    shift
                        .columns
                        .iter()
                        .all(|c| DRIFTED_COLUMNS.contains(&c.as_str()))
                );
            }
            (None, share) if share < 0.2 => {}
            (shift, share) => panic!("newer share {share}: reference shift {shift:?}"),
        }
    }
}
