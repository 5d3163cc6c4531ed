//! What the daemon tests share: a free port, a minimal configuration (a responder token and
//! the webhook secret), starting `warden up`, waiting for it to answer, and reading its API.

#![allow(clippy::unwrap_used, dead_code)] // helpers; not every test file uses every one

pub mod drift;
pub mod replicas;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use warden_config::{HttpEndpoint, Secret};
use warden_connect::AirflowClient;

/// A child process killed (and reaped) when the test ends, passed or not.
pub struct Stop(pub Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn write_config(dir: &Path) {
    std::fs::write(dir.join("responder.token"), "responder-token\n").unwrap();
    std::fs::write(dir.join("hook.secret"), "hook-secret\n").unwrap();
    std::fs::write(
        dir.join("warden.yaml"),
        "server:\n  tokens:\n    - {name: ana, role: responder, token: {file: responder.token}}\n\
         connectors:\n  alertmanager:\n    url: http://127.0.0.1:9\n    webhook_secret: {file: hook.secret}\n",
    )
    .unwrap();
}

/// Adds a Prometheus connector (if given) and `extra` top-level YAML to the test config.
pub fn extend_config(dir: &Path, prometheus: Option<&str>, extra: &str) {
    let mut config = std::fs::read_to_string(dir.join("warden.yaml")).unwrap();
    if let Some(url) = prometheus {
        config = config.replace(
            "connectors:\n",
            &format!("connectors:\n  prometheus:\n    url: {url}\n"),
        );
    }
    std::fs::write(dir.join("warden.yaml"), format!("{config}{extra}")).unwrap();
}

pub fn start(dir: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args([
            "up",
            "--config",
            "warden.yaml",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

pub async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(response) = client.get(format!("{base}/healthz")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("warden up did not answer /healthz at {base} within 20 s");
}

/// The post-mortem draft of incident `id`, as the daemon's API serves it to the responder.
pub async fn postmortem(client: &reqwest::Client, base: &str, id: &str) -> String {
    client
        .get(format!("{base}/api/v1/incidents/{id}/postmortem"))
        .bearer_auth("responder-token")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The ML-impact figure of a post-mortem whose description starts with `what`: its value
/// (thousands separators removed) and its whole table row (for the source).
pub fn impact_figure(markdown: &str, what: &str) -> (String, String) {
    let impact = markdown
        .split("- ML impact, measured by Warden:")
        .nth(1)
        .unwrap_or_else(|| panic!("no measured ML impact in:\n{markdown}"));
    let row = impact
        .lines()
        .find(|l| l.starts_with(&format!("| {what}")))
        .unwrap_or_else(|| panic!("no {what:?} figure in:\n{impact}"));
    let value = row.split(" | ").nth(1).unwrap_or_default().replace(',', "");
    (value, row.to_string())
}

/// `GET url` on the daemon's API as the responder, decoded as JSON.
pub async fn api_get(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client
        .get(url)
        .bearer_auth("responder-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Starts `program` in `dir` with its output in `dir/log`; killed when dropped.
pub fn spawn(dir: &Path, log: &str, program: &str, args: &[&str]) -> Stop {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    Stop(
        Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("{program}: {err}")),
    )
}

/// Waits up to 90 s for `url` to answer 2xx; panics with the component's log otherwise.
pub async fn wait_http(client: &reqwest::Client, url: &str, what: &str, dir: &Path, log: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        if let Ok(response) = client.get(url).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
    panic!("{what} not ready at {url}; its log:\n{text}");
}

/// A server started in its own process group; the whole group is killed when the test ends,
/// passed or not (MLflow forks workers that would outlive a killed parent).
pub struct StopGroup(pub Child);

impl Drop for StopGroup {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

/// [`spawn`] in a process group of its own.
pub fn spawn_group(dir: &Path, log: &str, program: &str, args: &[&str]) -> StopGroup {
    use std::os::unix::process::CommandExt;
    let log = std::fs::File::create(dir.join(log)).unwrap();
    StopGroup(
        Command::new(program)
            .args(args)
            .current_dir(dir)
            .process_group(0)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("{program}: {err}")),
    )
}

/// `warden up` on `port` advancing every `advance_every` (e.g. `2s`), its log in
/// `dir/warden.log`; killed when dropped.
pub fn start_logged(dir: &Path, port: u16, advance_every: &str) -> Stop {
    warden_up(dir, "warden.log", port, advance_every, &[])
}

/// `warden up` in `dir` on `port` with `env` set, its standard error in `dir/log`; killed when
/// dropped.
pub fn warden_up(
    dir: &Path,
    log: &str,
    port: u16,
    advance_every: &str,
    env: &[(&str, &str)],
) -> Stop {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    Stop(
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .args([
                "up",
                "--config",
                "warden.yaml",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--advance-every",
                advance_every,
            ])
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// A team's runbook that pages the on-call through `notify` on a `PageMe` alert, retrying as
/// `retry` says (YAML, e.g. `{ attempts: 1 }`).
pub fn paging_runbook(retry: &str) -> String {
    format!(
        "id: paging\ntitle: Page the on-call\nseverity: high\ntriggers:\n  - alertmanager: {{ alertname: PageMe }}\n\
         phases:\n  containment:\n    - id: page\n      title: Notify the on-call\n      action: notify\n\
         \x20     params: {{ channel: oncall }}\n      approval: auto\n      retry: {retry}\n"
    )
}

/// Records `outcome` (e.g. `succeeded`, `refuted`) for a step as the responder.
pub async fn complete(
    client: &reqwest::Client,
    base: &str,
    id: &str,
    step: &str,
    outcome: &str,
    note: &str,
) {
    let response = client
        .post(format!(
            "{base}/api/v1/incidents/{id}/steps/{step}/complete"
        ))
        .bearer_auth("responder-token")
        .json(&serde_json::json!({"outcome": outcome, "note": note}))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "completing {step}: {}",
        response.status()
    );
}

/// A step's `(status, result)` in an incident's detail (`GET /api/v1/incidents/{id}`).
pub fn step_result(detail: &serde_json::Value, step: &str) -> (String, String) {
    detail["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["step"] == step)
        .map(|a| {
            (
                a["status"].as_str().unwrap_or_default().to_string(),
                a["result"].as_str().unwrap_or_default().to_string(),
            )
        })
        .unwrap_or_default()
}

/// A client of the harness's Airflow (a 30 s timeout: its one API worker answers slowly, never
/// wrongly, while other end-to-end tests run beside it on two cores).
pub async fn airflow() -> AirflowClient {
    let url = warden_testkit::stack::require("AIRFLOW_URL").unwrap();
    AirflowClient::connect(
        &HttpEndpoint {
            url: url.parse().unwrap(),
            // CI runs this beside the other end-to-end tests on two cores: Airflow's one API
            // worker (on SQLite) answers slowly then, never wrongly.
            timeout: Duration::from_secs(30),
        },
        &warden_testkit::stack::require("AIRFLOW_USER").unwrap(),
        &Secret::new(warden_testkit::stack::require("AIRFLOW_PASSWORD").unwrap()),
    )
    .await
    .unwrap()
}

/// Whether the DAG is paused; `None` while Airflow does not answer.
pub async fn paused(client: &AirflowClient, dag: &str) -> Option<bool> {
    match client.dag(dag).await {
        Ok(dag) => Some(dag.is_paused),
        Err(err) => {
            eprintln!("Airflow did not answer (polling again): {err}");
            None
        }
    }
}

pub async fn wait_for(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
