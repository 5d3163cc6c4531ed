//! The `warden` binary, driven as a user drives it: exit codes, text and JSON output, and
//! `config check --connect` against the real components of the harness.

#![allow(clippy::unwrap_used)] // shared helpers outside #[test] functions

mod common;

use std::path::Path;
use std::process::{Command, Output};

use warden_testkit::stack;

fn warden(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .current_dir(dir)
        .env_remove("WARDEN_TEST_SECRET")
        .output()
        .expect("the warden binary runs")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("stdout is not JSON ({err}): {}", stdout(output)))
}

#[test]
fn malformed_config_is_reported_with_file_line_column_and_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("warden.yaml"),
        "connectors:\n  mlflow:\n    url: http://127.0.0.1:5000\n    timout: 5s\n",
    )
    .unwrap();

    let text = warden(&["config", "check", "warden.yaml"], dir.path());
    assert_eq!(code(&text), 1, "an invalid config is a failed check");
    let message = stderr(&text);
    assert!(
        message.contains("warden.yaml:4:5: connectors.mlflow.timout: unknown field `timout`"),
        "{message}"
    );
    assert!(
        message.contains("4 |     timout: 5s"),
        "shows the line: {message}"
    );

    let as_json = warden(
        &["config", "check", "warden.yaml", "--format", "json"],
        dir.path(),
    );
    assert_eq!(code(&as_json), 1);
    let report = json(&as_json);
    assert_eq!(report["valid"], false);
    let error = &report["errors"][0];
    assert_eq!(error["file"], "warden.yaml");
    assert_eq!(error["line"], 4);
    assert_eq!(error["column"], 5);
    assert_eq!(error["field"], "connectors.mlflow.timout");
}

#[test]
fn invalid_values_are_all_listed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("w.yaml"),
        "server:\n  listen: everywhere\nconnectors:\n  prometheus:\n    url: prometheus:9090\n",
    )
    .unwrap();
    let output = warden(
        &["config", "check", "w.yaml", "--format", "json"],
        dir.path(),
    );
    assert_eq!(code(&output), 1);
    let fields: Vec<String> = json(&output)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| format!("{}:{}", error["line"], error["field"].as_str().unwrap()))
        .collect();
    assert_eq!(fields, ["2:server.listen", "5:connectors.prometheus.url"]);
}

#[test]
fn missing_file_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = warden(&["config", "check", "absent.yaml"], dir.path());
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("absent.yaml: cannot read file"),
        "{}",
        stderr(&output)
    );
    let as_json = warden(
        &["config", "check", "absent.yaml", "--format", "json"],
        dir.path(),
    );
    assert_eq!(code(&as_json), 2);
    assert_eq!(json(&as_json)["error"]["exit_code"], 2);
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&warden(&["config", "frobnicate"], dir.path())), 2);
    assert_eq!(
        code(&warden(
            &["--format", "yaml", "config", "example"],
            dir.path()
        )),
        2
    );
}

#[test]
fn the_example_config_is_valid_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let example = warden(&["config", "example"], dir.path());
    assert_eq!(code(&example), 0);
    std::fs::write(dir.path().join("warden.yaml"), example.stdout).unwrap();
    let check = warden(&["config", "check", "--format", "json"], dir.path());
    assert_eq!(code(&check), 0, "{}", stdout(&check));
    let report = json(&check);
    assert_eq!(report["valid"], true);
    assert_eq!(report["config"]["store"]["backend"], "sqlite");
    assert_eq!(report["config"]["server"]["listen"], "127.0.0.1:8181");
    assert_eq!(
        report["probes"],
        serde_json::json!([]),
        "no probes without --connect"
    );
}

#[test]
fn every_command_help_has_an_example() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["config", "--help"],
        vec!["config", "check", "--help"],
        vec!["config", "example", "--help"],
        vec!["runbooks", "--help"],
        vec!["runbooks", "list", "--help"],
        vec!["runbooks", "show", "--help"],
        vec!["runbooks", "lint", "--help"],
        vec!["incidents", "--help"],
        vec!["incidents", "list", "--help"],
        vec!["incidents", "show", "--help"],
        vec!["incidents", "ack", "--help"],
        vec!["incidents", "approve", "--help"],
        vec!["incidents", "reject", "--help"],
        vec!["incidents", "resolve", "--help"],
        vec!["incidents", "postmortem", "--help"],
        vec!["incidents", "complete", "--help"],
        vec!["incidents", "advance", "--help"],
        vec!["up", "--help"],
        vec!["demo", "--help"],
        vec!["alerts", "--help"],
        vec!["alerts", "ingest", "--help"],
    ] {
        let output = warden(&args, dir.path());
        assert_eq!(code(&output), 0);
        assert!(
            stdout(&output).contains("Example"),
            "{args:?} help lacks an example"
        );
    }
}

/// A post-mortem without the one thing a run measures on the machine: the online store's PING
/// round trip (runbook 4 reports it, and it is in the evidence its health and freshness
/// artifacts hash).
fn without_round_trips(draft: &[u8]) -> String {
    let text = String::from_utf8_lossy(draft);
    let mut out = String::new();
    for line in text.lines() {
        let measured =
            line.contains("online-store-health.json") || line.contains("feature-freshness.json");
        let mut rest = line;
        while let Some(at) = rest.find("PING ") {
            out.push_str(&rest[..at + 5]);
            rest = &rest[at + 5..];
            if let Some(after) = rest.strip_prefix("in ") {
                out.push_str("in ");
                rest = after;
            }
            let digits = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            out.push('#');
            rest = &rest[digits..];
        }
        if measured {
            // The evidence hashes and sizes of the artifacts holding the round trip.
            let mut run = String::new();
            for c in rest.chars().chain(std::iter::once(' ')) {
                if c.is_ascii_hexdigit() {
                    run.push(c);
                    continue;
                }
                out.push_str(if run.len() >= 3 { "HASH" } else { &run });
                run.clear();
                out.push(c);
            }
            out.pop();
        } else {
            out.push_str(rest);
        }
        out.push('\n');
    }
    out
}

/// The same seed gives byte-identical post-mortems: the demo's numbers are the scenario's, not
/// the machine's or the moment's (the simulators' ports, the wall clock) — save the online
/// store's measured round trip. Run twice into one directory, as a user reruns it: the second
/// run starts from a clean world.
#[test]
fn the_demo_gives_the_same_post_mortems_for_the_same_seed() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let output = warden(
            &["demo", "--hour-ms", "0", "--seed", "7", "--out", "demo"],
            dir.path(),
        );
        assert_eq!(code(&output), 0, "{}", stderr(&output));
        // Who did what is said as each incident resolves, not only in the summary.
        let text = stdout(&output);
        assert!(
            text.contains("INC-1 resolved\n           done by Warden: 18 steps (8 causes decided)"),
            "{text}"
        );
        let drafts: Vec<Vec<u8>> = (1..=5)
            .map(|n| {
                std::fs::read(dir.path().join(format!("demo/postmortems/INC-{n}.md"))).unwrap()
            })
            .collect();
        runs.push(drafts);
    }
    for (n, (first, second)) in runs[0].iter().zip(&runs[1]).enumerate() {
        assert!(
            without_round_trips(first) == without_round_trips(second),
            "INC-{} differs between two runs with seed 7",
            n + 1
        );
    }
    let store = without_round_trips(&runs[0][3]);
    assert!(
        store.contains("PING # ms") && store.contains("online-store-health.json shHASH:HASH)"),
        "the round trips are masked, nothing else: {store}"
    );
    assert!(store.contains("captured materialization-cronjob.json from http://127.0.0.1:"));
}

#[test]
fn connect_probes_the_real_stack_and_never_prints_secrets() {
    let (Some(postgres), Some(mlflow), Some(prometheus), Some(redis), Some(feast)) = (
        stack::require("POSTGRES_URL"),
        stack::require("MLFLOW_URL"),
        stack::require("PROMETHEUS_URL"),
        stack::require("REDIS_URL"),
        stack::require("FEAST_URL"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The harness's PostgreSQL trusts loopback, so any password is accepted: enough to prove
    // the password never reaches the output.
    let with_password = postgres.replacen("postgres://warden@", "postgres://warden:pw-Zq81x@", 1);
    assert_ne!(with_password, postgres, "URL shape changed: {postgres}");
    std::fs::write(dir.path().join("pg-url"), &with_password).unwrap();
    let config = format!(
        "store:\n  postgres:\n    url: {{file: pg-url}}\nconnectors:\n  mlflow:\n    url: {mlflow}\n  \
         prometheus:\n    url: {prometheus}\n  feast:\n    url: {feast}\n    project: warden_demo\n    \
         redis_url: {redis}\n"
    );
    std::fs::write(dir.path().join("warden.yaml"), config).unwrap();
    let output = warden(
        &["config", "check", "--connect", "--format", "json"],
        dir.path(),
    );
    assert_eq!(code(&output), 0, "{}", stdout(&output));
    let report = json(&output);
    let probes: Vec<(String, String)> = report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["component"].as_str().unwrap().into(),
                p["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = ["store", "prometheus", "mlflow", "feast", "feast.redis"]
        .map(|component| (component.to_string(), "ok".to_string()));
    assert_eq!(probes, expected);
    assert!(
        report["probes"][0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("postgres 15")
    );
    assert!(
        !stdout(&output).contains("pw-Zq81x"),
        "the store password must not be printed"
    );
    // Relative to the configuration file, which was given relative to the working directory.
    assert_eq!(report["config"]["store"]["url"]["file"], "pg-url");
}

#[test]
fn connect_with_an_unreachable_system_exits_3_and_names_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("warden.yaml"),
        format!("connectors:\n  prometheus:\n    url: http://127.0.0.1:{port}\n    timeout: 2s\n"),
    )
    .unwrap();
    let output = warden(&["config", "check", "--connect"], dir.path());
    assert_eq!(code(&output), 3, "{}", stdout(&output));
    let text = stdout(&output);
    assert!(text.contains("FAILED"), "{text}");
    assert!(
        text.contains(&format!("http://127.0.0.1:{port}/-/ready: unreachable")),
        "{text}"
    );
    assert!(
        text.contains("ok       store"),
        "the default SQLite store is created: {text}"
    );
}

#[test]
fn runbooks_list_shows_the_five_built_ins() {
    let dir = tempfile::tempdir().unwrap();
    let output = warden(&["runbooks", "list", "--format", "json"], dir.path());
    assert_eq!(code(&output), 0);
    let ids: Vec<String> = json(&output)["runbooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|runbook| runbook["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "pipeline-failure",
            "serving-latency",
            "drift-detector",
            "feature-store",
            "model-regression"
        ]
    );
}

#[test]
fn runbooks_from_the_config_replace_and_disable_built_ins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("runbooks")).unwrap();
    std::fs::write(
        dir.path().join("runbooks/extra.yaml"),
        "id: batch-scoring\ntitle: Batch scoring late\nseverity: low\nphases:\n  containment:\n    \
         - id: check\n      title: Check the scheduler\n      manual: true\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("warden.yaml"),
        "runbooks:\n  paths: [runbooks]\n  disabled: [drift-detector]\n",
    )
    .unwrap();
    let output = warden(
        &[
            "runbooks",
            "list",
            "--config",
            "warden.yaml",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let runbooks = json(&output)["runbooks"].as_array().unwrap().clone();
    let ids: Vec<&str> = runbooks.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "pipeline-failure",
            "serving-latency",
            "feature-store",
            "model-regression",
            "batch-scoring"
        ]
    );
    assert_eq!(runbooks[4]["built_in"], false);

    let show = warden(
        &[
            "runbooks",
            "show",
            "batch-scoring",
            "--config",
            "warden.yaml",
        ],
        dir.path(),
    );
    assert_eq!(code(&show), 0);
    assert!(stdout(&show).contains("check"), "{}", stdout(&show));
    let missing = warden(
        &[
            "runbooks",
            "show",
            "drift-detector",
            "--config",
            "warden.yaml",
        ],
        dir.path(),
    );
    assert_eq!(code(&missing), 2, "a disabled runbook is not shown");
}

#[test]
fn runbooks_show_marks_what_is_done_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let output = warden(
        &["runbooks", "show", "model-regression", "--format", "json"],
        dir.path(),
    );
    assert_eq!(code(&output), 0);
    let runbook = &json(&output)["runbook"];
    let step = |id: &str| {
        runbook["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|step| step["id"] == id)
            .unwrap()
            .clone()
    };
    let rollback = step("rollback");
    assert_eq!(rollback["phase"], "containment");
    assert_eq!(rollback["kind"]["type"], "action");
    assert_eq!(rollback["approval"], "manual");
    assert_eq!(
        rollback["automated"], true,
        "rollback_model is runbook 2's handler too"
    );
    let evaluate = step("evaluate");
    assert_eq!(evaluate["kind"]["type"], "evidence");
    assert_eq!(
        evaluate["automated"], true,
        "runbook 5's evaluate_model collector"
    );
    let root_cause = step("root-cause");
    assert_eq!(
        root_cause["automated"], false,
        "documenting the root cause is a person's step"
    );
}

#[test]
fn judged_causes_and_gates_show_as_done_by_warden() {
    let dir = tempfile::tempdir().unwrap();
    let output = warden(
        &["runbooks", "show", "serving-latency", "--format", "json"],
        dir.path(),
    );
    assert_eq!(code(&output), 0);
    let steps = json(&output)["runbook"]["steps"]
        .as_array()
        .unwrap()
        .clone();
    let automated = |id: &str| {
        steps
            .iter()
            .find(|step| step["id"] == id)
            .map(|step| step["automated"].clone())
            .unwrap()
    };
    assert_eq!(automated("recent-deployment"), true, "a cause with a judge");
    assert_eq!(automated("p95-within-sla"), true, "a gate Warden judges");
    assert_eq!(
        automated("min-replicas"),
        false,
        "a permanent fix is a person's"
    );
}

#[test]
fn runbooks_lint_reports_file_line_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "id: x\ntitle: X\nseverity: high\nphases:\n  containment:\n    - id: a\n      title: A\n      \
         action: reboot\n",
    )
    .unwrap();
    let output = warden(&["runbooks", "lint", "bad.yaml"], dir.path());
    assert_eq!(code(&output), 1);
    assert!(
        stdout(&output).starts_with("bad.yaml:8:15: phases.containment[0].action: unknown action"),
        "{}",
        stdout(&output)
    );
    let clean = warden(
        &["runbooks", "lint", "--format", "json", "bad.yaml"],
        dir.path(),
    );
    assert_eq!(json(&clean)["ok"], false);
    assert_eq!(
        code(&warden(&["runbooks", "lint", "nothing-here"], dir.path())),
        2
    );
}

const FIRING: &str = include_str!("data/alertmanager-webhook-payload.json");

fn incident_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("warden.yaml"), "version: 1\n").unwrap();
    std::fs::write(
        dir.path().join("alert.json"),
        FIRING.replace("DemandForecastHighErrorRate", "ServingErrorRateHigh"),
    )
    .unwrap();
    dir
}

#[test]
fn alerts_open_one_incident_and_responders_work_it() {
    let dir = incident_dir();
    let first = warden(
        &["alerts", "ingest", "alert.json", "--format", "json"],
        dir.path(),
    );
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert_eq!(json(&first)["opened"], serde_json::json!(["INC-1"]));
    let repeat = warden(
        &["alerts", "ingest", "alert.json", "--format", "json"],
        dir.path(),
    );
    assert_eq!(
        json(&repeat)["attached"],
        serde_json::json!(["INC-1"]),
        "a repeat is no new incident"
    );

    let list = warden(
        &["incidents", "list", "--active", "--format", "json"],
        dir.path(),
    );
    let incidents = json(&list)["incidents"].as_array().unwrap().clone();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0]["runbook"], "serving-latency");
    assert_eq!(incidents[0]["state"], "detected");
    assert_eq!(incidents[0]["finding_count"], 2);

    let approve = warden(
        &[
            "incidents",
            "approve",
            "INC-1",
            "rollback",
            "--as",
            "ana",
            "--reason",
            "bad deploy",
        ],
        dir.path(),
    );
    assert_eq!(code(&approve), 0, "{}", stderr(&approve));
    let unknown_step = warden(
        &["incidents", "approve", "INC-1", "reboot", "--as", "ana"],
        dir.path(),
    );
    assert_eq!(code(&unknown_step), 2);
    assert!(
        stderr(&unknown_step).contains("has no step \"reboot\""),
        "{}",
        stderr(&unknown_step)
    );
    assert_eq!(
        code(&warden(&["incidents", "show", "INC-9"], dir.path())),
        2
    );

    let open_gates = warden(
        &["incidents", "resolve", "INC-1", "--as", "ana"],
        dir.path(),
    );
    assert_eq!(code(&open_gates), 2, "closure gates have not passed");
    assert!(
        stderr(&open_gates).contains("closure gates have not passed"),
        "{}",
        stderr(&open_gates)
    );
    let resolve = warden(
        &[
            "incidents",
            "resolve",
            "INC-1",
            "--as",
            "ana",
            "--override",
            "checked by hand",
        ],
        dir.path(),
    );
    assert_eq!(code(&resolve), 0, "{}", stderr(&resolve));
    let closed_twice = warden(
        &[
            "incidents",
            "resolve",
            "INC-1",
            "--as",
            "ana",
            "--override",
            "again",
        ],
        dir.path(),
    );
    assert_eq!(
        code(&closed_twice),
        2,
        "resolving a resolved incident is refused"
    );

    let show = warden(
        &["incidents", "show", "INC-1", "--format", "json"],
        dir.path(),
    );
    let shown = json(&show);
    assert_eq!(shown["incident"]["state"], "resolved");
    assert_eq!(shown["approvals"][0]["actor"]["name"], "ana");
    let audit: Vec<&str> = shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        audit,
        [
            "open",
            "approved",
            "resolve-override",
            "transition:resolved"
        ]
    );

    let postmortem = warden(&["incidents", "postmortem", "INC-1"], dir.path());
    let markdown = stdout(&postmortem);
    assert!(markdown.starts_with("# Post-mortem: INC-1 — demand-forecast 5xx ratio 17.42%"));
    assert!(markdown.contains("approved by ana"), "{markdown}");
}

#[test]
fn garbage_alert_payloads_are_input_errors_and_change_nothing() {
    let dir = incident_dir();
    std::fs::write(
        dir.path().join("garbage.json"),
        "{\"version\": \"4\", \"alerts\": 12}",
    )
    .unwrap();
    let output = warden(&["alerts", "ingest", "garbage.json"], dir.path());
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("garbage.json: not an Alertmanager webhook payload"));
    let list = warden(&["incidents", "list", "--format", "json"], dir.path());
    assert_eq!(json(&list)["incidents"], serde_json::json!([]));
}

#[test]
fn responders_complete_steps_and_the_runbook_advances() {
    let dir = incident_dir();
    warden(&["alerts", "ingest", "alert.json"], dir.path());
    let advance = warden(
        &["incidents", "advance", "INC-1", "--format", "json"],
        dir.path(),
    );
    assert_eq!(code(&advance), 0, "{}", stderr(&advance));
    let waiting: Vec<String> = json(&advance)["progress"]["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| pair[0].as_str().unwrap().to_string())
        .collect();
    assert!(
        waiting.contains(&"deployment-history".to_string()),
        "{waiting:?}"
    );

    let done = warden(
        &[
            "incidents",
            "complete",
            "INC-1",
            "deployment-history",
            "--outcome",
            "succeeded",
            "--as",
            "ana",
        ],
        dir.path(),
    );
    assert_eq!(code(&done), 0, "{}", stderr(&done));
    assert!(
        stdout(&done).contains("step deployment-history: succeeded by ana"),
        "{}",
        stdout(&done)
    );
    let refuted = warden(
        &[
            "incidents",
            "complete",
            "INC-1",
            "recent-deployment",
            "--outcome",
            "refuted",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let skipped: Vec<String> = json(&refuted)["progress"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| pair[0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(skipped, ["rollback"], "no deployment, no rollback");
    let wrong = warden(
        &[
            "incidents",
            "complete",
            "INC-1",
            "hpa",
            "--outcome",
            "confirmed",
        ],
        dir.path(),
    );
    assert_eq!(
        code(&wrong),
        2,
        "evidence is not confirmed: {}",
        stderr(&wrong)
    );
}

/// The README's "run it": the demo replays a week in which each incident type happens once,
/// and every incident ends resolved with a post-mortem.
#[test]
fn the_demo_opens_and_resolves_one_incident_of_each_type() {
    let dir = tempfile::tempdir().unwrap();
    let output = warden(
        &[
            "demo",
            "--hour-ms",
            "0",
            "--out",
            "demo",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let incidents = json(&output)["incidents"].as_array().unwrap().clone();
    let runbooks: Vec<&str> = incidents
        .iter()
        .map(|i| i["runbook"].as_str().unwrap())
        .collect();
    assert_eq!(
        runbooks,
        [
            "serving-latency",
            "pipeline-failure",
            "drift-detector",
            "feature-store",
            "model-regression"
        ]
    );
    for incident in &incidents {
        assert_eq!(incident["state"], "resolved", "{incident}");
        // Stable JSON: timestamps, not the text output's "Tue 10:10".
        let opened = incident["opened_at"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(opened).is_ok(),
            "{opened}"
        );
        let path = dir.path().join(incident["postmortem"].as_str().unwrap());
        let markdown = std::fs::read_to_string(&path).unwrap();
        assert!(markdown.contains("## Timeline") && markdown.contains("every closure gate passed"));
        // Who did what is counted from the store: every step decided once, by one of the two.
        let done_by = &incident["done_by"];
        let decided = markdown.matches(" — confirmed by ").count()
            + markdown.matches(" — refuted by ").count();
        let causes =
            done_by["warden_causes"].as_u64().unwrap() + done_by["person_causes"].as_u64().unwrap();
        assert_eq!(causes as usize, decided, "{done_by}");
        assert!(done_by["warden_steps"].as_u64().unwrap() >= 1, "{done_by}");
        // Every post-mortem measures the ML impact, each number with its source.
        let impact = markdown
            .split("- ML impact, measured by Warden:")
            .nth(1)
            .and_then(|rest| rest.split("## Timeline").next())
            .unwrap_or_else(|| panic!("no measured ML impact in {path:?}:\n{markdown}"));
        let rows: Vec<&str> = impact
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| what"))
            .collect();
        assert!(!rows.is_empty(), "{impact}");
        for row in rows {
            let cells: Vec<&str> = row.split(" | ").collect();
            assert!(cells[1].chars().any(|c| c.is_ascii_digit()), "{row}");
            // The file, query or system a module read.
            let source = cells[2].trim_end_matches(" |").trim();
            assert!(
                source.starts_with('`') && !source.contains("replayed"),
                "every figure names its source: {row}"
            );
        }
    }
    // Who decided the causes, per incident: Warden, everywhere — each module's judges on the
    // evidence its collectors captured from the simulated systems (runbook 1 on Kubeflow
    // Pipelines, 2 on Kubernetes and Prometheus, 3 on the monitor it runs on the logs, 4 on
    // Feast and its Redis, 5 on the registry and logs); the scripted person decides none.
    let decided: Vec<(String, u64, u64)> = incidents
        .iter()
        .map(|i| {
            (
                i["runbook"].as_str().unwrap().to_string(),
                i["done_by"]["warden_causes"].as_u64().unwrap(),
                i["done_by"]["person_causes"].as_u64().unwrap(),
            )
        })
        .collect();
    let by_runbook: Vec<(&str, u64, u64)> = decided
        .iter()
        .map(|(runbook, warden, person)| (runbook.as_str(), *warden, *person))
        .collect();
    assert_eq!(
        by_runbook,
        [
            ("serving-latency", 8, 0),
            ("pipeline-failure", 5, 0),
            ("drift-detector", 5, 0),
            ("feature-store", 6, 0),
            ("model-regression", 4, 0),
        ]
    );
    // Runbook 1's causes are Warden's: the captured log classified, the module's judges.
    let pipeline = &incidents[1]["done_by"];
    assert_eq!(
        (
            pipeline["warden_causes"].as_u64(),
            pipeline["person_causes"].as_u64()
        ),
        (Some(5), Some(0)),
        "{pipeline}"
    );
    // Runbook 1 ran on the simulated Kubeflow Pipelines and Kubernetes: its detector found the
    // failed run, its collectors read the task pod's log, the schedule was really paused and
    // resumed, and the rerun and the next night's run closed it.
    let inc2 = std::fs::read_to_string(dir.path().join("demo/postmortems/INC-2.md")).unwrap();
    // The classifier's confidence moves with its corpus; the cause must still be confirmed
    // with a high one, from the log line that says so.
    let (score, why) = inc2
        .split_once("— confirmed by warden: score ")
        .and_then(|(_, rest)| rest.split_once(':'))
        .unwrap_or_else(|| panic!("no confirmed cause with a score:\n{inc2}"));
    let score: f64 = score.parse().unwrap_or_else(|_| panic!("score {score:?}"));
    assert!(score >= 0.9, "confirmed at {score}:\n{inc2}");
    assert!(
        why.starts_with(" the logs say so: botocore.exceptions.NoCredentialsError"),
        "{why}"
    );
    for said in [
        "KFP recurring run rr-demand-forecast-training paused (read back: paused=true)",
        "KFP recurring run rr-demand-forecast-training resumed (read back: paused=false)",
        "step rerun passed by warden: evaluated from the data",
        "step next-run passed by warden: evaluated from the data",
    ] {
        assert!(inc2.contains(said), "{said}:\n{inc2}");
    }
    let serving_impact =
        std::fs::read_to_string(dir.path().join("demo/postmortems/INC-1.md")).unwrap();
    assert!(
        serving_impact.contains("| requests failed (5xx) | "),
        "{serving_impact}"
    );
    // Runbook 5 ran for real on the simulators: its detector found version 8 in the logs, the
    // rollback moved the MLflow alias (so version 7 served again and the metrics recovered),
    // its judges decided every cause with a score or a reason, and its impact came from the logs.
    let regression = std::fs::read_to_string(dir.path().join("demo/postmortems/INC-5.md")).unwrap();
    for said in [
        "MLflow demand-forecast@champion: version 8 → 7 (read back)",
        "Overfitting to recent training data; poor generalization** — confirmed by warden: score 0.70",
        "refuted by warden: version 8: the same",
        "the version changed, not the relationship",
        "step metrics-recovered passed by warden: evaluated from the data: mape of version 7",
        "| predictions by 8 with actuals |",
        "| mape of 8 vs 7 before it |",
    ] {
        assert!(regression.contains(said), "{said}:\n{regression}");
    }
    // Each incident has its runbook's severity (runbook 3 says medium). Runbook 3 ran the
    // monitor itself: the refreshed reference is judged unrepresentative, retraining was
    // stopped through its webhook and the fix validated by a backtest.
    let drift = std::fs::read_to_string(dir.path().join("demo/postmortems/INC-3.md")).unwrap();
    for said in [
        "| Severity | medium |",
        "step unrepresentative-reference confirmed by warden: score 0.70: the reference is not representative: its newest row is 125 days old",
        "step retraining-churn confirmed by warden",
        "step backtest-precision passed by warden",
    ] {
        assert!(drift.contains(said), "{said}:\n{drift}");
    }
    // Runbook 4 ran on the simulated Feast: its detector read the registry's materialization
    // intervals, the CronJob's status showed the failed Jobs, the feature proxy really switched
    // to fallback and back, and the gates judged freshness and 24 h of runs from the registry.
    let features = std::fs::read_to_string(dir.path().join("demo/postmortems/INC-4.md")).unwrap();
    for said in [
        "step materialization-failed confirmed by warden: score 0.90: CronJob (*/10 * * * *): the Job scheduled 2026-11-20T14:10:00Z failed",
        "step schema-mismatch refuted by warden: the 6 schema checks agree",
        "in fallback mode (was auto;",
        "in auto mode (was fallback;",
        "step freshness-within-sla passed by warden: evaluated from the data: store_daily_features: fresh",
        "step correct-values passed by warden: evaluated from the data: store_daily_features: 40 sampled values over 20 entities equal the offline latest",
        "step materialization-24h passed by warden: evaluated from the data",
        "| time store_daily_features's online features were older than the 15m SLA (longest lag) | 2h20m (2h40m) |",
        "| predictions served with features older than the 15m SLA | 124,158 | `demo_requests_per_second (Prometheus, step 94s), summed over the stale stretches` |",
    ] {
        assert!(features.contains(said), "{said}:\n{features}");
    }
    assert!(!features.contains("for 0 min"), "{features}");
    // Runbook 2 ran for real: the rollback set the canary's traffic to 0 on the simulated
    // Kubernetes, so the latency came back and the gates passed on Prometheus's series.
    let serving = std::fs::read_to_string(dir.path().join("demo/postmortems/INC-1.md")).unwrap();
    for said in [
        "canaryTrafficPercent 10 → 0 (read back)",
        "step model-load-time confirmed by warden: score 0.80",
        "step p95-within-sla passed by warden: evaluated from the data: < 200 for 30 min",
    ] {
        assert!(serving.contains(said), "{said}:\n{serving}");
    }
    // Every action ran against a simulator: none is only planned.
    for incident in &incidents {
        let path = dir.path().join(incident["postmortem"].as_str().unwrap());
        let markdown = std::fs::read_to_string(&path).unwrap();
        assert!(!markdown.contains("only planned"), "{markdown}");
    }

    // The demo's store is a normal store.
    let list = warden(
        &[
            "incidents",
            "list",
            "--config",
            "demo/warden.yaml",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(json(&list)["incidents"].as_array().unwrap().len(), 5);
}

#[test]
fn a_closed_pipe_is_not_a_panic() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["demo", "--hour-ms", "0", "--out", "demo"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe, as `warden demo | head -1` does.
    let mut first = [0u8; 64];
    let _ = child.stdout.as_mut().unwrap().read(&mut first).unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status.success(), "{status}");
}

#[test]
fn hostile_alert_text_is_escaped_and_steps_are_grouped_by_who_they_wait_for() {
    let dir = incident_dir();
    let hostile = FIRING
        .replace("DemandForecastHighErrorRate", "ServingErrorRateHigh")
        .replace(
            "\"summary\": \"demand-forecast 5xx ratio 17.42%\"\n            },",
            "\"summary\": \"5xx\\u001b]0;owned\\u0007\\r\\nINC-9 resolved\\u0000\"\n            },",
        );
    assert!(hostile.contains("owned"), "the fixture changed");
    std::fs::write(dir.path().join("alert.json"), hostile).unwrap();
    assert_eq!(
        code(&warden(&["alerts", "ingest", "alert.json"], dir.path())),
        0
    );
    for args in [
        &["incidents", "show", "INC-1"][..],
        &["incidents", "list"][..],
        &["incidents", "postmortem", "INC-1"][..],
    ] {
        let output = warden(args, dir.path());
        let text = stdout(&output);
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{args:?} printed a control character: {text:?}"
        );
        // Escaped on one line (the post-mortem makes the line break a space).
        assert!(
            text.contains("5xx\\x1b]0;owned\\x07\\r\\nINC-9 resolved\\x00")
                || text.contains("5xx\\x1b]0;owned\\x07\\r INC-9 resolved\\x00"),
            "{text}"
        );
        assert!(
            !text.lines().any(|l| l.starts_with("INC-9")),
            "a forged line: {text}"
        );
    }
    let shown = stdout(&warden(&["incidents", "show", "INC-1"], dir.path()));
    for kept in [
        "alert     firing since 2026-11-24 09:51:13 UTC",
        "runbook   https://runbooks.example/demand-forecast#errors",
        "source    http://vm:9090/graph?g0.expr=",
        "alertname=ServingErrorRateHigh",
    ] {
        assert!(shown.contains(kept), "{kept} not shown:\n{shown}");
    }
    let waiting_person = shown.find("waiting for a person (").expect(&shown);
    let timeline = shown.find("timeline:").expect(&shown);
    assert!(waiting_person < timeline, "{shown}");
    assert!(shown.contains("deployment-history"), "{shown}");

    let retry = warden(
        &[
            "incidents",
            "retry",
            "INC-1",
            "deployment-history",
            "--as",
            "ana",
        ],
        dir.path(),
    );
    assert_eq!(code(&retry), 2, "only a failed step is retried");
    assert!(
        stderr(&retry).contains("only a failed step is retried"),
        "{}",
        stderr(&retry)
    );
}

#[test]
fn config_check_reports_every_problem_up_would_stop_at_at_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.token"), "same\n").unwrap();
    std::fs::write(
        dir.path().join("warden.yaml"),
        "connectors:\n  prometheus: { url: \"http://127.0.0.1:9\" }\n\
         detectors:\n  - name: p95\n    kind: promql_threshold\n    runbook: no-such-runbook\n\
         \x20   target: service/x\n    query: vector(1)\n    above: 1\n\
         server:\n  tokens:\n    - {name: ana, role: responder, token: {file: a.token}}\n\
         \x20   - {name: val, role: viewer, token: {file: a.token}}\n\
         runbooks:\n  paths: [missing-runbooks/]\n",
    )
    .unwrap();
    // A value, a runbook path and a detector's runbook: three problems of three kinds, one run.
    let output = warden(&["config", "check", "warden.yaml"], dir.path());
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let text = stderr(&output);
    for problem in [
        "server.tokens[1].token: the same token as \"ana\"",
        "missing-runbooks",
        "detectors[0].runbook: detector p95: runbook \"no-such-runbook\" is not in effect",
    ] {
        assert!(text.contains(problem), "{problem} missing from:\n{text}");
    }
    let json = warden(
        &["config", "check", "warden.yaml", "--format", "json"],
        dir.path(),
    );
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["errors"].as_array().unwrap().len(), 3, "{report:#}");
}

#[test]
fn the_example_configuration_is_accepted_by_every_command_that_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let example = warden(&["config", "example"], dir.path());
    std::fs::write(dir.path().join("warden.yaml"), stdout(&example)).unwrap();
    let list = warden(
        &[
            "runbooks",
            "list",
            "--config",
            "warden.yaml",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(code(&list), 0, "{}", stderr(&list));
    let runbooks = json(&list)["runbooks"].as_array().unwrap().clone();
    let serving = runbooks
        .iter()
        .find(|r| r["id"] == "serving-latency")
        .unwrap();
    assert!(
        serving["automated_steps"].as_u64().unwrap() >= 15,
        "{serving}"
    );
    let check = warden(&["config", "check", "warden.yaml"], dir.path());
    assert_eq!(code(&check), 0, "{}", stderr(&check));
}

/// A step that failed stays listed by every later `advance` until it is retried, `show` puts
/// it first under FAILED, and `retry` runs it again once the channel answers.
#[test]
fn a_failed_step_stays_visible_until_a_retry_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::create_dir(dir.path().join("runbooks")).unwrap();
    std::fs::write(
        dir.path().join("runbooks/paging.yaml"),
        common::paging_runbook("{ attempts: 1 }"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("warden.yaml"),
        format!(
            "runbooks:\n  paths: [runbooks]\nnotifications:\n  - {{name: oncall, kind: webhook, url: \"http://127.0.0.1:{port}/hook\"}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("alert.json"),
        FIRING.replace("DemandForecastHighErrorRate", "PageMe"),
    )
    .unwrap();
    assert_eq!(
        code(&warden(&["alerts", "ingest", "alert.json"], dir.path())),
        0
    );
    let advance = || {
        let output = warden(
            &["incidents", "advance", "INC-1", "--format", "json"],
            dir.path(),
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let first = advance();
    let failed = |progress: &serde_json::Value, key: &str| -> Vec<String> {
        progress["progress"][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f[0].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(failed(&first, "failed"), ["page"], "{first:#}");
    let later = advance();
    assert_eq!(
        failed(&later, "failed"),
        ["page"],
        "still failed: {later:#}"
    );
    assert!(failed(&later, "newly_failed").is_empty(), "{later:#}");
    let shown = stdout(&warden(&["incidents", "show", "INC-1"], dir.path()));
    let failed_group = shown.find("FAILED (1):").expect(&shown);
    assert!(failed_group < shown.find("timeline:").unwrap(), "{shown}");
    assert!(shown[failed_group..].contains("page"), "{shown}");

    // The channel answers now: the retry delivers, once.
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let receiver = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        while !String::from_utf8_lossy(&request).contains("\r\n\r\n") {
            let n = stream.read(&mut buffer).unwrap();
            request.extend_from_slice(&buffer[..n]);
        }
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            .unwrap();
        String::from_utf8_lossy(&request).into_owned()
    });
    let retried = warden(
        &[
            "incidents",
            "retry",
            "INC-1",
            "page",
            "--as",
            "ana",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(
        code(&retried),
        0,
        "{} {}",
        stdout(&retried),
        stderr(&retried)
    );
    let retried: serde_json::Value = serde_json::from_slice(&retried.stdout).unwrap();
    assert_eq!(retried["step"]["status"], "succeeded", "{retried:#}");
    assert!(failed(&retried, "failed").is_empty(), "{retried:#}");
    let request = receiver.join().unwrap();
    assert!(request.starts_with("POST /hook"), "{request}");
}
