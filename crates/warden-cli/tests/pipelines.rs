//! `warden pipelines classify` as users run it (R1.6): the JSON contract, standard input, a
//! team's own rules, and bad rules named with their file.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn warden(args: &[&str], dir: &Path, stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_log_and_its_events_are_classified_with_the_deciding_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("task.log"),
        "INFO starting\nbotocore.exceptions.NoCredentialsError: Unable to locate credentials\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("events.txt"),
        "Normal  Pulled  kubelet  Container image already present\n",
    )
    .unwrap();
    let out = warden(
        &[
            "pipelines",
            "classify",
            "--log",
            "task.log",
            "--events",
            "events.txt",
            "--format",
            "json",
        ],
        dir.path(),
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["cause"], "missing_expired_secret");
    assert_eq!(json["transient"], false);
    assert_eq!(json["evidence"][0]["source"], "log");
    assert_eq!(json["evidence"][0]["line"], 2);
    assert!(json["confidence"].as_f64().unwrap() > 0.5);
    assert!(
        json["fixes"][0]
            .as_str()
            .unwrap()
            .contains("AWS credentials"),
        "{json}"
    );
}

#[test]
fn standard_input_and_team_rules_work_and_bad_rules_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("team.yaml"),
        "rules:\n  - id: feature-store-sla\n    cause: other\n    pattern: 'FeatureViewNotFoundException: Feature view (\\S+)'\n    weight: 3\n    fix: 'register feature view {1}'\n",
    )
    .unwrap();
    let out = warden(
        &[
            "pipelines",
            "classify",
            "--log",
            "-",
            "--rules",
            "team.yaml",
            "--format",
            "json",
        ],
        dir.path(),
        Some(
            "feast.errors.FeatureViewNotFoundException: Feature view store_daily does not exist\n",
        ),
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["evidence"][0]["rule"], "feature-store-sla", "{json}");
    assert!(json["new_failure_mode"].is_null());

    std::fs::write(
        dir.path().join("bad.yaml"),
        "rules:\n  - id: x\n    cause: other\n    pattern: '(open'\n",
    )
    .unwrap();
    let out = warden(
        &["pipelines", "classify", "--log", "-", "--rules", "bad.yaml"],
        dir.path(),
        Some("x\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.yaml") && stderr.contains("rule x"),
        "{stderr}"
    );

    let out = warden(
        &["pipelines", "classify", "--log", "missing.log"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.log"));
}
