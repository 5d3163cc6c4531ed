//! `warden evaluate`, `compare`, `validate` and `rollout gate` as users run them (R5.3, R5.5):
//! generated Parquet logs whose regression is known, the JSON contracts, the exit codes, and
//! bad input named precisely; and `evaluate --endpoint` scoring through the harness's real
//! MLServer.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use warden_data::write::write_parquet;
use warden_eval::synthetic::{LogSpec, generate};

/// 2026-11-01 00:00 UTC.
const NOV_1: i64 = 1_793_491_200_000;

fn warden(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// 28 days × 300 series: version 1 (error sd 3) for 14 days, then version 2 (sd `second`).
fn logs(dir: &Path, second: f64) {
    let spec = LogSpec {
        series: 300,
        days: 28,
        start_ms: NOV_1,
        versions: vec![("1".into(), 3.0), ("2".into(), second)],
        seed: 5,
    };
    let before = generate(&spec, 0, 14);
    let after = generate(&spec, 14, 14);
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    write_parquet(&dir.join("logs/part-0.parquet"), &before.predictions).unwrap();
    write_parquet(&dir.join("logs/part-1.parquet"), &after.predictions).unwrap();
    write_parquet(&dir.join("before.parquet"), &before.predictions).unwrap();
    write_parquet(&dir.join("after.parquet"), &after.predictions).unwrap();
    let mut actuals = before.actuals;
    for (column, more) in actuals.iter_mut().zip(after.actuals) {
        *column = concat(column, &more);
    }
    write_parquet(&dir.join("actuals.parquet"), &actuals).unwrap();
}

fn concat(a: &warden_data::Column, b: &warden_data::Column) -> warden_data::Column {
    use warden_data::ColumnValues::{Categorical, Numeric};
    let values = match (&a.values, &b.values) {
        (Numeric(x), Numeric(y)) => Numeric(x.iter().chain(y).copied().collect()),
        (
            Categorical {
                codes: x,
                levels: lx,
            },
            Categorical {
                codes: y,
                levels: ly,
            },
        ) => {
            // Re-code b's levels into a's dictionary.
            let mut levels = lx.clone();
            let mut codes = x.clone();
            for code in y {
                let text = &ly[*code as usize];
                let position = levels.iter().position(|l| l == text).unwrap_or_else(|| {
                    levels.push(text.clone());
                    levels.len() - 1
                });
                codes.push(position as u32);
            }
            Categorical { codes, levels }
        }
        _ => panic!("kinds differ"),
    };
    warden_data::Column {
        name: a.name.clone(),
        values,
    }
}

const KEYS: &str = "store_id,item_id,date";

#[test]
fn evaluate_reports_each_version_with_intervals_and_the_regressed_one_is_worse() {
    let dir = tempfile::tempdir().unwrap();
    logs(dir.path(), 6.0);
    let out = warden(
        &[
            "evaluate",
            "--predictions",
            "logs/",
            "--actuals",
            "actuals.parquet",
            "--key",
            KEYS,
            "--by",
            "model_version",
            "--season",
            "7",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = json(&out);
    assert_eq!(result["predictions"], 8400);
    assert_eq!(result["evaluated"], 8400);
    let groups = result["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    let mae = |g: &serde_json::Value| g["accuracy"]["mae"]["value"].as_f64().unwrap();
    let (v1, v2) = (&groups[0], &groups[1]);
    assert_eq!(
        (v1["group"].as_str(), v2["group"].as_str()),
        (Some("1"), Some("2"))
    );
    // Errors are normal with sd 3 and 6: MAE = sd·√(2/π).
    assert!((mae(v1) - 3.0 * 0.7979).abs() < 0.15, "{v1}");
    assert!((mae(v2) - 6.0 * 0.7979).abs() < 0.3, "{v2}");
    assert!(
        v1["accuracy"]["mae"]["high"].as_f64().unwrap()
            < v2["accuracy"]["mae"]["low"].as_f64().unwrap()
    );
    for field in ["rmse", "mape", "smape", "wape", "bias", "mase"] {
        assert!(v2["accuracy"][field]["value"].is_number(), "{field}: {v2}");
    }

    // One version only, text output.
    let out = warden(
        &[
            "evaluate",
            "--predictions",
            "logs/",
            "--actuals",
            "actuals.parquet",
            "--key",
            KEYS,
            "--version",
            "1",
        ],
        dir.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("evaluated") && text.contains("wape"),
        "{text}"
    );
    assert!(text.contains("4200 evaluated"), "{text}");
}

#[test]
fn evaluate_names_the_missing_column_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    logs(dir.path(), 6.0);
    let out = warden(
        &[
            "evaluate",
            "--predictions",
            "logs/",
            "--actuals",
            "actuals.parquet",
            "--key",
            KEYS,
            "--actual",
            "units",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let message = json(&out)["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("actuals.parquet") && message.contains("units"),
        "{message}"
    );
    std::fs::write(dir.path().join("broken.parquet"), b"PAR1 not really").unwrap();
    let out = warden(&["evaluate", "--predictions", "broken.parquet"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.parquet"), "{stderr}");
}

#[test]
fn compare_lists_movers_tests_the_features_and_pairs_nothing_across_different_days() {
    let dir = tempfile::tempdir().unwrap();
    logs(dir.path(), 3.0);
    // Same model error on both sides: nothing drifts (exit 0), but the series still list their
    // movers, and no key is predicted on both sides (different dates), so nothing pairs.
    let out = warden(
        &[
            "compare",
            "--before",
            "before.parquet",
            "--after",
            "after.parquet",
            "--key",
            KEYS,
            "--feature",
            "price,promo",
            "--top",
            "5",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let result = json(&out);
    assert_eq!(out.status.code(), Some(0), "{result}");
    assert_eq!(result["movers"].as_array().unwrap().len(), 5);
    assert!(result["paired"].is_null(), "different dates never pair");
    let names: Vec<&str> = result["drift"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["price", "promo", "prediction"]);
}

#[test]
fn validate_passes_like_data_fails_broken_data_and_parity_finds_skew() {
    let dir = tempfile::tempdir().unwrap();
    logs(dir.path(), 3.0);
    let out = warden(
        &[
            "validate",
            "--data",
            "after.parquet",
            "--reference",
            "before.parquet",
            "--key",
            KEYS,
            "--ignore",
            "model_version",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let result = json(&out);
    assert_eq!(out.status.code(), Some(0), "{result}");
    assert_eq!(result["ok"], true);
    std::fs::write(
        dir.path().join("bad.csv"),
        "store_id,item_id,date,price,promo\ns1,i1,2026-11-20,4.0,0\ns1,i1,2026-11-20,400.0,0\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("schema.yaml"),
        "keys: [store_id, item_id, date]\ncolumns:\n  price: { type: numeric, min: 0, max: 50 }\n  region: {}\n",
    )
    .unwrap();
    let out = warden(
        &[
            "validate",
            "--data",
            "bad.csv",
            "--schema",
            "schema.yaml",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let result = json(&out);
    assert_eq!(out.status.code(), Some(1), "{result}");
    let failed: Vec<&str> = result["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["range", "column", "duplicate_keys"], "{result}");

    std::fs::write(
        dir.path().join("train.csv"),
        "store_id,date,price\ns1,2026-11-20,4.0\ns2,2026-11-20,5.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("serve.csv"),
        "store_id,date,price\ns1,2026-11-20,400.0\ns2,2026-11-20,5.0\n",
    )
    .unwrap();
    let out = warden(
        &[
            "validate",
            "parity",
            "--training",
            "train.csv",
            "--serving",
            "serve.csv",
            "--key",
            "store_id,date",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let result = json(&out);
    assert_eq!(out.status.code(), Some(1), "{result}");
    assert_eq!(result["features"][0]["mismatches"], 1);
    assert_eq!(
        result["features"][0]["examples"][0],
        "store_id=s1,date=2026-11-20: 4 vs 400"
    );
}

#[test]
fn rollout_gate_rolls_back_a_worse_challenger_and_promotes_an_equal_one() {
    let dir = tempfile::tempdir().unwrap();
    logs(dir.path(), 6.0);
    let gate = |dir: &Path| {
        warden(
            &[
                "rollout",
                "gate",
                "--champion",
                "before.parquet",
                "--challenger",
                "after.parquet",
                "--actuals",
                "actuals.parquet",
                "--key",
                KEYS,
                "--format",
                "json",
            ],
            dir,
        )
    };
    let out = gate(dir.path());
    let result = json(&out);
    assert_eq!(out.status.code(), Some(1), "{result}");
    assert_eq!(result["decision"], "rollback");
    assert_eq!(result["accuracy"]["verdict"], "worse");
    assert!(
        result["accuracy"]["relative_change"].as_f64().unwrap() > 0.8,
        "{result}"
    );

    let same = tempfile::tempdir().unwrap();
    logs(same.path(), 3.0);
    let out = gate(same.path());
    let result = json(&out);
    assert_eq!(out.status.code(), Some(0), "{result}");
    assert_eq!(result["decision"], "promote");

    // A handful of rows decides nothing: hold (exit 4).
    std::fs::write(
        same.path().join("c.csv"),
        "id,prediction,actual\n1,10,10\n2,11,12\n",
    )
    .unwrap();
    std::fs::write(
        same.path().join("s.csv"),
        "id,prediction,actual\n1,13,10\n2,15,12\n",
    )
    .unwrap();
    let out = warden(
        &[
            "rollout",
            "gate",
            "--champion",
            "c.csv",
            "--challenger",
            "s.csv",
            "--key",
            "id",
        ],
        same.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("HOLD"));
    // WAPE is an error: the line must not read like an accuracy that rose.
    assert!(
        text.contains("wape (an error: lower is better): champion"),
        "{text}"
    );

    // Validating with nothing to check is an input error, not "all checks passed".
    let nothing = warden(&["validate", "--data", "c.csv"], same.path());
    assert_eq!(nothing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&nothing.stderr).contains("c.csv: nothing to check"),
        "{}",
        String::from_utf8_lossy(&nothing.stderr)
    );
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

/// `warden evaluate` scoring [`actuals`] through `url`, then `more`.
fn scoring<'a>(url: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "evaluate",
        "--endpoint",
        url,
        "--model",
        "demand-forecast",
        "--actuals",
        "actuals.csv",
        "--feature",
        "lag_7,lag_28,promo",
        "--layout",
        "matrix",
    ];
    args.extend_from_slice(more);
    args
}

/// `warden evaluate --endpoint` on the harness's real MLServer (R5.3, "re-evaluate the model
/// on recent ground truth"). The harness serves `demand-forecast` (scikit-learn runtime,
/// version `v1`), a linear model fitted exactly: y = 0.6·lag_7 + 0.3·lag_28 + 5·promo + 2
/// (scripts/stack/mlserver_model.py); the actuals are that y plus a known error per region,
/// so every metric is known. A row the server refuses costs that row only, with the server's
/// reason; a version it does not have is one 404 naming the URL.
#[test]
fn the_served_model_is_evaluated_on_recent_ground_truth_row_errors_and_all() {
    let Some(url) = warden_testkit::stack::require("MLSERVER_URL") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    actuals(dir.path());
    let common = scoring(&url, &["--batch", "16", "--by", "region"]);

    let output = warden(
        &[&common[..], &["--version", "v1", "--format", "json"]].concat(),
        dir.path(),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json = json(&output);
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

/// A server that answers neither the request nor its liveness endpoint ends the run.
#[test]
fn a_model_server_that_does_not_answer_is_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    actuals(dir.path());
    let output = warden(&scoring(&url, &["--timeout", "2s"]), dir.path());
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&url), "{stderr}");
}
