//! `warden evaluate --endpoint` on the harness's real MLServer (R5.3, "re-evaluate the model
//! on recent ground truth"): the actuals' features are scored in batches through the V2
//! protocol, a row the server refuses costs that row only (and is reported with the server's
//! reason), the metrics are the server's predictions against the actuals, and a version the
//! server does not have or a server that does not answer is an error naming the URL.
//!
//! The harness serves `demand-forecast` (scikit-learn runtime, version `v1`), a linear model
//! fitted exactly: y = 0.6·lag_7 + 0.3·lag_28 + 5·promo + 2 (scripts/stack/mlserver_model.py).
//! The actuals here are that y plus a known error per region, so every metric is known.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn warden(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The row whose `lag_7` is missing: the server cannot score it.
const BROKEN_ROW: usize = 17;

/// 30 rows in `north` whose actual is 1 above the model (error −1) and 30 in `south` 3 below
/// it (error +3); row [`BROKEN_ROW`] (north) has no `lag_7`.
fn actuals(dir: &Path) {
    let mut text = String::from("store_id,date,region,lag_7,lag_28,promo,actual\n");
    for row in 0..60 {
        let lag_7 = 10.0 + f64::from(row) * 1.5;
        let lag_28 = 40.0 + f64::from(row % 7) * 3.0;
        let promo = f64::from(row % 2);
        let model = 0.6 * lag_7 + 0.3 * lag_28 + 5.0 * promo + 2.0;
        let (region, actual) = if row < 30 {
            ("north", model + 1.0)
        } else {
            ("south", model - 3.0)
        };
        let lag_7 = if row as usize == BROKEN_ROW {
            String::new()
        } else {
            lag_7.to_string()
        };
        text.push_str(&format!(
            "{},2026-11-{:02},{region},{lag_7},{lag_28},{promo},{actual}\n",
            row % 10,
            1 + row / 10
        ));
    }
    std::fs::write(dir.join("actuals.csv"), text).unwrap();
}

fn estimate(value: &serde_json::Value) -> f64 {
    value["value"].as_f64().unwrap_or_else(|| panic!("{value}"))
}

#[test]
fn the_served_model_is_evaluated_on_recent_ground_truth_row_errors_and_all() {
    let Some(url) = warden_testkit::stack::require("MLSERVER_URL") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    actuals(dir.path());
    let common = [
        "evaluate",
        "--endpoint",
        &url,
        "--model",
        "demand-forecast",
        "--actuals",
        "actuals.csv",
        "--feature",
        "lag_7,lag_28,promo",
        "--layout",
        "matrix",
        "--batch",
        "16",
        "--by",
        "region",
    ];

    let output = warden(
        &[&common[..], &["--version", "v1", "--format", "json"]].concat(),
        dir.path(),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["predictions"], 60);
    assert_eq!(json["evaluated"], 59);
    assert_eq!(json["error_count"], 1);
    assert_eq!(json["errors"][0]["row"], BROKEN_ROW);
    let reason = json["errors"][0]["message"].as_str().unwrap();
    assert!(
        reason.contains("/v2/models/demand-forecast/versions/v1/infer"),
        "{reason}"
    );
    let overall = &json["overall"];
    assert_eq!(overall["n"], 59);
    let expected_mae = (29.0 * 1.0 + 30.0 * 3.0) / 59.0;
    assert!(
        (estimate(&overall["mae"]) - expected_mae).abs() < 1e-6,
        "{overall}"
    );
    let group = |name: &str| {
        json["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["group"] == name)
            .unwrap_or_else(|| panic!("no group {name}: {json}"))["accuracy"]
            .clone()
    };
    let (north, south) = (group("north"), group("south"));
    assert_eq!(north["n"], 29);
    assert!((estimate(&north["bias"]) + 1.0).abs() < 1e-6, "{north}");
    assert!((estimate(&south["mae"]) - 3.0).abs() < 1e-6, "{south}");
    assert!((estimate(&south["rmse"]) - 3.0).abs() < 1e-6, "{south}");
    // Every row had the same error in a region: the interval has no width.
    assert!((south["bias"]["low"].as_f64().unwrap() - 3.0).abs() < 1e-6);

    // Human output says which row failed.
    let text = warden(&common, dir.path());
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(text.status.success());
    assert!(stdout.contains("1 row was not scored"), "{stdout}");
    assert!(
        stdout.contains("answered 500: ValueError: Input X contains NaN."),
        "the server's reason, not its traceback: {stdout}"
    );
    assert!(stdout.contains(&format!("row {BROKEN_ROW}:")), "{stdout}");

    // A version the server does not have: one request, an error naming the URL and the
    // server's reason (not sixty row-by-row retries of the same 404).
    let missing = warden(&[&common[..], &["--version", "v9"]].concat(), dir.path());
    assert_eq!(missing.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("/versions/v9/infer: HTTP 404"), "{stderr}");
    assert!(stderr.contains("v9 not found"), "{stderr}");
}

#[test]
fn a_server_that_does_not_answer_is_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    actuals(dir.path());
    let output = warden(
        &[
            "evaluate",
            "--endpoint",
            &url,
            "--model",
            "demand-forecast",
            "--actuals",
            "actuals.csv",
            "--feature",
            "lag_7,lag_28,promo",
            "--timeout",
            "2s",
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&url), "{stderr}");
}
