//! `warden drift` as users run it (R3.1, R3.4): real Parquet in, the JSON contract, the
//! HTML report, profiles, exit codes, and bad input named precisely.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use warden_data::write::write_parquet;
use warden_drift::synthetic::{DRIFTED_COLUMNS, Scenario, days, generate};

/// Monday 2026-10-26 00:00 UTC.
const MONDAY: i64 = 1_792_972_800_000;

fn warden(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn data(dir: &Path) {
    write_parquet(
        &dir.join("ref.parquet"),
        &generate(30_000, 1, MONDAY, days(28), Scenario::default()),
    )
    .unwrap();
    let drifted = Scenario {
        drift: true,
        ..Default::default()
    };
    write_parquet(
        &dir.join("cur.parquet"),
        &generate(30_000, 2, MONDAY, days(28), drifted),
    )
    .unwrap();
}

fn drifted(json: &serde_json::Value) -> Vec<String> {
    json["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["drifted"].as_bool().unwrap())
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn json_names_the_drifted_columns_exits_1_and_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    data(dir.path());
    let args = [
        "drift",
        "--reference",
        "ref.parquet",
        "--current",
        "cur.parquet",
        "--ignore",
        "region",
        "--format",
        "json",
    ];
    let first = warden(&args, dir.path());
    assert_eq!(
        first.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(drifted(&json), DRIFTED_COLUMNS.to_vec());
    let column = &json["columns"][0];
    for field in [
        "name",
        "type",
        "method",
        "statistic",
        "effect",
        "p_value",
        "threshold",
        "threshold_source",
        "n_ref",
        "n_cur",
        "drifted",
        "reason",
    ] {
        assert!(column.get(field).is_some(), "missing {field} in {column}");
    }
    assert_eq!(json["summary"]["columns_tested"], 25);
    assert!(
        json["summary"]["inference"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["column"] == "ts" && i["role"] == "timestamp")
    );
    let second = warden(&args, dir.path());
    assert_eq!(first.stdout, second.stdout, "same input, same bytes");
}

#[test]
fn the_html_report_draws_every_column() {
    let dir = tempfile::tempdir().unwrap();
    data(dir.path());
    let output = warden(
        &[
            "drift",
            "--reference",
            "ref.parquet",
            "--current",
            "cur.parquet",
            "--format",
            "html",
            "--output",
            "drift.html",
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    let html = std::fs::read_to_string(dir.path().join("drift.html")).unwrap();
    assert!(
        html.starts_with("<!doctype html>") && html.contains("Drift in 3 of"),
        "{}",
        &html[..300]
    );
    assert_eq!(
        html.matches("<svg").count(),
        26,
        "one chart per tested column (25 + region)"
    );
    assert!(
        !html.contains("<script") && !html.contains("http://") && !html.contains("https://"),
        "self-contained"
    );
}

#[test]
fn a_profile_monitors_like_the_raw_reference() {
    let dir = tempfile::tempdir().unwrap();
    data(dir.path());
    let profile = warden(
        &[
            "drift",
            "profile",
            "--reference",
            "ref.parquet",
            "--out",
            "ref.profile.json",
            "--ignore",
            "region",
        ],
        dir.path(),
    );
    assert_eq!(
        profile.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&profile.stderr)
    );
    let output = warden(
        &[
            "drift",
            "--profile",
            "ref.profile.json",
            "--current",
            "cur.parquet",
            "--ignore",
            "region",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(drifted(&json), DRIFTED_COLUMNS.to_vec());
}

#[test]
fn no_drift_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    data(dir.path());
    let output = warden(
        &[
            "drift",
            "--reference",
            "ref.parquet",
            "--current",
            "ref.parquet",
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("0 of 26 columns drifted"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn bad_input_is_named_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    data(dir.path());
    std::fs::write(dir.path().join("broken.parquet"), b"PAR1 garbage").unwrap();
    let corrupt = warden(
        &[
            "drift",
            "--reference",
            "ref.parquet",
            "--current",
            "broken.parquet",
        ],
        dir.path(),
    );
    assert_eq!(corrupt.status.code(), Some(2));
    let message = String::from_utf8_lossy(&corrupt.stderr);
    assert!(
        message.contains("broken.parquet") && message.contains("not a valid Parquet file"),
        "{message}"
    );

    let missing = warden(
        &[
            "drift",
            "--reference",
            "ref.parquet",
            "--current",
            "cur.parquet",
            "--segment",
            "store",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(missing.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&missing.stdout).unwrap();
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no column `store`"),
        "{json}"
    );

    let nothing = warden(
        &[
            "drift",
            "--reference",
            "ref.parquet",
            "--current",
            "does-not-exist/",
        ],
        dir.path(),
    );
    assert_eq!(nothing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("does-not-exist"));

    let html_elsewhere = warden(&["runbooks", "list", "--format", "html"], dir.path());
    assert_eq!(html_elsewhere.status.code(), Some(2));
}

/// Nothing compared is not "no drift": an empty reference or one with no column in common
/// with the current data is an input error naming it, not exit 0 with `columns_tested: 0`.
#[test]
fn a_reference_with_nothing_to_compare_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cur.csv"),
        "price,region\n1.0,north\n2.0,south\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("empty.csv"), "price,region\n").unwrap();
    std::fs::write(
        dir.path().join("other.csv"),
        "latency,status\n1.0,ok\n2.0,ok\n",
    )
    .unwrap();
    for (reference, expected) in [
        ("empty.csv", "the reference has no rows"),
        ("other.csv", "nothing to compare"),
    ] {
        let output = warden(
            &["drift", "--reference", reference, "--current", "cur.csv"],
            dir.path(),
        );
        let message = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{reference}: {message}");
        assert!(message.contains(expected), "{reference}: {message}");
    }
}
