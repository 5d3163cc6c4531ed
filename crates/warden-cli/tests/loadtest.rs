//! `warden loadtest` against the harness's real MLServer: the report counts every request and
//! its outcome, `--format json` has the documented fields, the exit code follows the SLO, and
//! hosts that are not loopback are refused before anything is sent.

#![allow(clippy::unwrap_used)]

use std::process::Command;

fn warden(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn load_on_a_real_model_server_is_measured_and_judged_against_the_slo() {
    let Some(url) = warden_testkit::stack::require("MLSERVER_URL") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("request.json");
    std::fs::write(
        &body,
        r#"{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP64","data":[10,20,1]}]}"#,
    )
    .unwrap();
    let body = body.to_str().unwrap();
    let common = [
        "loadtest",
        "--endpoint",
        &url,
        "--rps",
        "40",
        "--duration",
        "2s",
        "--body",
        body,
        "--format",
        "json",
    ];

    let (code, stdout, stderr) = warden(&[&common[..], &["--model", "demand-forecast"]].concat());
    assert_eq!(code, 0, "{stdout}{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let report = &json["report"];
    assert_eq!(report["sent"], 80);
    assert_eq!(report["ok"], 80);
    assert_eq!(report["outcomes"]["200"], 80);
    assert!(report["p95_ms"].as_f64().unwrap() > 0.0);
    assert!(report["p50_ms"].as_f64().unwrap() <= report["p99_ms"].as_f64().unwrap());
    assert_eq!(json["within_slo"], true);

    // An unknown model: every request is a 404, so the run is outside the SLO.
    let (code, stdout, _) = warden(&[&common[..], &["--model", "no-such-model"]].concat());
    assert_eq!(code, 1, "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["report"]["outcomes"]["404"], 80);
    assert_eq!(json["report"]["error_rate"], 1.0);
}

#[test]
fn remote_hosts_and_unbounded_runs_are_refused() {
    let (code, _, stderr) = warden(&[
        "loadtest",
        "--endpoint",
        "http://prod.example.com:8080",
        "--model",
        "m",
        "--rps",
        "5",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--allow-host prod.example.com"), "{stderr}");
    let (code, _, stderr) = warden(&[
        "loadtest",
        "--endpoint",
        "http://127.0.0.1:9",
        "--model",
        "m",
        "--rps",
        "100000",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--rps"), "{stderr}");
}
