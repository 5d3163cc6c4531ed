//! The acceptance scenarios of `../shared/docs/DRIFT.md` at 100k rows, through Parquet files
//! and the whole engine (R3.1, R3.5, R3.6): the three drifts found and nothing else; no drift;
//! negligible shifts; seasonal differences with and without a seasonal reference; profiles;
//! segments; determinism; bad input.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use warden_data::Dataset;
use warden_data::write::write_parquet;
use warden_drift::engine::{Reference, Rows, Side, sliding_sides};
use warden_drift::profile::DriftProfile;
use warden_drift::synthetic::{DRIFTED_COLUMNS, SEASONAL_COLUMNS, Scenario, days, generate};
use warden_drift::{DriftOptions, DriftReport, Season, Status, run};

const ROWS: usize = 100_000;
/// Monday 2026-10-26 00:00 UTC: four whole weeks end on Sunday 2026-11-22.
const MONDAY: i64 = 1_792_972_800_000;

fn write(
    dir: &Path,
    name: &str,
    rows: usize,
    seed: u64,
    start: i64,
    span: i64,
    scenario: Scenario,
) -> String {
    let path = dir.join(name);
    write_parquet(&path, &generate(rows, seed, start, span, scenario)).unwrap();
    path.display().to_string()
}

fn side(location: &str) -> Side {
    Side::all(Dataset::open(location).unwrap())
}

fn compare(reference: &str, current: &str, options: &DriftOptions) -> DriftReport {
    run(&Reference::Data(side(reference)), &side(current), options).unwrap()
}

fn drifted(report: &DriftReport) -> Vec<String> {
    report
        .columns
        .iter()
        .filter(|c| c.drifted)
        .map(|c| c.name.clone())
        .collect()
}

fn options() -> DriftOptions {
    DriftOptions {
        roles: warden_drift::options::Roles {
            ignore: vec!["region".into()],
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn the_three_drifts_are_found_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let reference = write(
        dir.path(),
        "ref.parquet",
        ROWS,
        1,
        MONDAY,
        days(28),
        Scenario::default(),
    );
    let current = write(
        dir.path(),
        "cur.parquet",
        ROWS,
        2,
        MONDAY,
        days(28),
        Scenario {
            drift: true,
            ..Default::default()
        },
    );
    let report = compare(&reference, &current, &options());
    assert_eq!(
        drifted(&report),
        DRIFTED_COLUMNS.to_vec(),
        "{}",
        report.to_text()
    );
    assert_eq!(report.summary.columns_tested, 25);
    assert!(report.summary.drifted);
    let num_00 = report.columns.iter().find(|c| c.name == "num_00").unwrap();
    assert!(num_00.reason.starts_with("drift:"), "{}", num_00.reason);
    assert_eq!((num_00.n_ref, num_00.n_cur), (ROWS, ROWS));
}

#[test]
fn no_drift_reports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let reference = write(
        dir.path(),
        "ref.parquet",
        ROWS,
        3,
        MONDAY,
        days(28),
        Scenario::default(),
    );
    let current = write(
        dir.path(),
        "cur.parquet",
        ROWS,
        4,
        MONDAY,
        days(28),
        Scenario::default(),
    );
    let report = compare(&reference, &current, &options());
    assert!(drifted(&report).is_empty(), "{}", report.to_text());
    assert!(!report.summary.drifted);
}

#[test]
fn negligible_shifts_are_not_drift() {
    let dir = tempfile::tempdir().unwrap();
    let reference = write(
        dir.path(),
        "ref.parquet",
        ROWS,
        5,
        MONDAY,
        days(28),
        Scenario::default(),
    );
    let current = write(
        dir.path(),
        "cur.parquet",
        ROWS,
        6,
        MONDAY,
        days(28),
        Scenario {
            negligible: true,
            ..Default::default()
        },
    );
    let report = compare(&reference, &current, &options());
    assert!(drifted(&report).is_empty(), "{}", report.to_text());
}

#[test]
fn seasonal_differences_vanish_against_a_seasonal_reference_and_are_named_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let seasonal = Scenario {
        weekend_effect: true,
        ..Default::default()
    };
    let reference = write(
        dir.path(),
        "ref.parquet",
        ROWS,
        7,
        MONDAY,
        days(28),
        seasonal,
    );
    // One Saturday (day 33 after the Monday start) of traffic.
    let current = write(
        dir.path(),
        "cur.parquet",
        20_000,
        8,
        MONDAY + days(33),
        days(1),
        seasonal,
    );

    let with_season = DriftOptions {
        seasonal: Some(Season::DayOfWeek),
        ..options()
    };
    let report = compare(&reference, &current, &with_season);
    assert!(drifted(&report).is_empty(), "{}", report.to_text());
    assert!(report.columns.iter().all(|c| c.status != Status::Seasonal));
    assert_eq!(report.summary.seasonal.as_deref(), Some("day-of-week"));

    let plain = compare(&reference, &current, &options());
    assert!(drifted(&plain).is_empty(), "{}", plain.to_text());
    let seasonal_columns: Vec<&str> = plain
        .columns
        .iter()
        .filter(|c| c.status == Status::Seasonal)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        seasonal_columns,
        SEASONAL_COLUMNS.to_vec(),
        "{}",
        plain.to_text()
    );
    let check = plain
        .columns
        .iter()
        .find(|c| c.name == "num_02")
        .unwrap()
        .seasonal_check
        .clone()
        .unwrap();
    assert_eq!(check.season, "day-of-week");
    assert!(!check.drifted);
}

#[test]
fn a_real_drift_on_a_saturday_is_still_drift_with_a_seasonal_reference() {
    let dir = tempfile::tempdir().unwrap();
    let reference = write(
        dir.path(),
        "ref.parquet",
        ROWS,
        9,
        MONDAY,
        days(28),
        Scenario {
            weekend_effect: true,
            ..Default::default()
        },
    );
    let current = write(
        dir.path(),
        "cur.parquet",
        2_000,
        10,
        MONDAY + days(33),
        days(1),
        Scenario {
            weekend_effect: true,
            drift: true,
            ..Default::default()
        },
    );
    let report = compare(
        &reference,
        &current,
        &DriftOptions {
            seasonal: Some(Season::DayOfWeek),
            ..options()
        },
    );
    assert_eq!(
        drifted(&report),
        DRIFTED_COLUMNS.to_vec(),
        "{}",
        report.to_text()
    );
    let num_00 = report.columns.iter().find(|c| c.name == "num_00").unwrap();
    assert!(
        num_00.threshold_source.contains("calibrated"),
        "seven Saturday-sized chunks calibrate: {}",
        num_00.threshold_source
    );
}

#[test]
fn a_profile_gives_the_same_decisions_as_the_raw_reference() {
    let dir = tempfile::tempdir().unwrap();
    let reference = write(
        dir.path(),
        "ref.parquet",
        ROWS,
        11,
        MONDAY,
        days(28),
        Scenario::default(),
    );
    let path = dir.path().join("profile.json");
    DriftProfile::build(&side(&reference), &options())
        .unwrap()
        .save(&path)
        .unwrap();
    for (seed, scenario) in [
        (
            12,
            Scenario {
                drift: true,
                ..Default::default()
            },
        ),
        (
            13,
            Scenario {
                negligible: true,
                ..Default::default()
            },
        ),
    ] {
        for rows in [ROWS, 5_000] {
            let current = write(
                dir.path(),
                &format!("cur-{seed}-{rows}.parquet"),
                rows,
                seed,
                MONDAY,
                days(2),
                scenario,
            );
            let raw = compare(&reference, &current, &options());
            let loaded = DriftProfile::load(&path).unwrap();
            let from_profile = run(
                &Reference::Profile(Box::new(loaded)),
                &side(&current),
                &options(),
            )
            .unwrap();
            let decisions = |r: &DriftReport| {
                r.columns
                    .iter()
                    .map(|c| (c.name.clone(), c.status))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                decisions(&raw),
                decisions(&from_profile),
                "rows {rows}\nraw:\n{}\nprofile:\n{}",
                raw.to_text(),
                from_profile.to_text()
            );
        }
    }
}

#[test]
fn segments_localize_a_drift_to_one_region() {
    let dir = tempfile::tempdir().unwrap();
    let reference = write(
        dir.path(),
        "ref.parquet",
        ROWS,
        14,
        MONDAY,
        days(28),
        Scenario::default(),
    );
    let current = write(
        dir.path(),
        "cur.parquet",
        ROWS,
        15,
        MONDAY,
        days(28),
        Scenario {
            drift: true,
            drift_only_in_west: true,
            ..Default::default()
        },
    );
    let options = DriftOptions {
        roles: warden_drift::options::Roles {
            segments: vec!["region".into()],
            ..Default::default()
        },
        ..Default::default()
    };
    let report = compare(&reference, &current, &options);
    assert_eq!(report.segments.len(), 4);
    for segment in &report.segments {
        if segment.value == "west" {
            assert_eq!(
                segment.drifted_columns,
                DRIFTED_COLUMNS.to_vec(),
                "{segment:?}"
            );
        } else {
            assert!(
                segment.drifted_columns.is_empty(),
                "{}: {:?}",
                segment.value,
                segment.drifted_columns
            );
        }
        assert!(segment.rows_ref > 20_000 && segment.rows_cur > 20_000);
    }
}

#[test]
fn the_same_input_gives_byte_identical_json() {
    let dir = tempfile::tempdir().unwrap();
    let reference = write(
        dir.path(),
        "ref.parquet",
        20_000,
        16,
        MONDAY,
        days(28),
        Scenario::default(),
    );
    let current = write(
        dir.path(),
        "cur.parquet",
        20_000,
        17,
        MONDAY,
        days(28),
        Scenario {
            drift: true,
            ..Default::default()
        },
    );
    let first = serde_json::to_string(&compare(&reference, &current, &options())).unwrap();
    let second = serde_json::to_string(&compare(
        &reference,
        &current,
        &DriftOptions {
            threads: 1,
            ..options()
        },
    ))
    .unwrap();
    assert_eq!(first, second);
}

#[test]
fn a_sliding_reference_comes_from_the_logs_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    // 28 quiet days, then one drifted day, as two files of one log directory.
    write(
        &logs,
        "a.parquet",
        56_000,
        18,
        MONDAY,
        days(28),
        Scenario::default(),
    );
    write(
        &logs,
        "b.parquet",
        4_000,
        19,
        MONDAY + days(28),
        days(1),
        Scenario {
            drift: true,
            ..Default::default()
        },
    );
    let options = DriftOptions {
        reference_window_ms: Some(days(28)),
        window_ms: days(1),
        ..options()
    };
    let (reference, current) =
        sliding_sides(Dataset::open(logs.to_str().unwrap()).unwrap(), &options).unwrap();
    assert!(matches!(&current.rows, Rows::Some(rows) if rows.len() == 4_000));
    let report = run(&Reference::Data(reference), &current, &options).unwrap();
    assert_eq!(
        drifted(&report),
        DRIFTED_COLUMNS.to_vec(),
        "{}",
        report.to_text()
    );
    let num_00 = report.columns.iter().find(|c| c.name == "num_00").unwrap();
    assert!(
        num_00.threshold_source.starts_with("calibrated")
            || num_00.threshold_source.contains("above the calibrated")
    );
}
