//! Issue 9's done-when, on real Feast 0.67 + Redis: materialize; stop materializing →
//! staleness detected; stop Redis → outage detected and the proxy serves fallback values;
//! restart and materialize → the closure gates pass (the materialization gate only once the
//! window has run cleanly) and the proxy leaves fallback mode.
//!
//! The test owns its Redis and its Feast servers (it has to stop and restart them), built from
//! the harness's Feast repository; it needs `scripts/stack.sh up redis feast` for the Feast
//! CLI and the repository files.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use warden_config::HttpEndpoint;
use warden_feast::closure;
use warden_feast::freshness::FreshnessStatus;
use warden_feast::proxy::{FeatureProxy, ProxyMode, ProxySettings, ProxyStatus};
use warden_feast::status::{self, FeastSources, StatusOptions};
use warden_feast::{FeatureServerClient, RegistryClient, RegistrySource};

const SLA: Duration = Duration::from_secs(20);
const WINDOW: Duration = Duration::from_secs(10);

/// A child process group, stopped on drop.
struct Server {
    child: Child,
    name: &'static str,
}

impl Server {
    fn spawn(name: &'static str, command: &mut Command, log: &Path) -> Self {
        let log = std::fs::File::create(log).unwrap();
        let child = command
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {name}: {err}"));
        Self { child, name }
    }

    fn stop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
        eprintln!("{} needed SIGKILL", self.name);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_redis(port: u16, dir: &Path) -> Server {
    let server = Server::spawn(
        "redis",
        Command::new("redis-server").args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            dir.to_str().unwrap(),
        ]),
        &dir.join("redis.log"),
    );
    wait_until("redis", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    server
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} not ready within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn feast(bin: &Path, repo: &Path, args: &[&str]) {
    let output = Command::new(bin.join("feast"))
        .args(args)
        .current_dir(repo)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("FEAST_USAGE", "False")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "feast {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn materialize(bin: &Path, repo: &Path) {
    let end = Utc::now();
    let start = end - chrono::Duration::days(1);
    let format = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    feast(bin, repo, &["materialize", &format(start), &format(end)]);
}

fn endpoint(url: &str) -> HttpEndpoint {
    HttpEndpoint {
        url: url.parse().unwrap(),
        timeout: Duration::from_secs(5),
    }
}

async fn ask(proxy_url: &str, body: &Value) -> Value {
    reqwest::Client::new()
        .post(format!("{proxy_url}/get-online-features"))
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn proxy_status(proxy_url: &str) -> ProxyStatus {
    reqwest::get(format!("{proxy_url}/warden/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn set_mode(proxy_url: &str, mode: &str) {
    let answer = reqwest::Client::new()
        .post(format!("{proxy_url}/warden/mode"))
        .json(&json!({ "mode": mode }))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
}

fn copy_repo(template: &Path, repo: &Path, redis_port: u16) {
    std::fs::create_dir_all(repo.join("data")).unwrap();
    for entry in std::fs::read_dir(template).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "py") {
            std::fs::copy(&path, repo.join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(
        repo.join("feature_store.yaml"),
        format!(
            "project: warden_outage\nregistry: data/registry.db\nprovider: local\n\
             online_store:\n  type: redis\n  connection_string: \"127.0.0.1:{redis_port}\"\n\
             offline_store:\n  type: file\nentity_key_serialization_version: 3\n"
        ),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staleness_then_outage_then_recovery_on_real_feast_and_redis() {
    let Some(bin) = warden_testkit::stack::require("FEAST_BIN") else {
        return;
    };
    let template = PathBuf::from(warden_testkit::stack::require("FEAST_REPO_TEMPLATE").unwrap());
    let bin = PathBuf::from(bin);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let redis_port = free_port();
    let mut redis = start_redis(redis_port, dir.path());
    copy_repo(&template, &repo, redis_port);
    let python = bin.join("python");
    let made = Command::new(&python)
        .args(["make_data.py", "data/store_daily.parquet"])
        .current_dir(&repo)
        .status()
        .unwrap();
    assert!(made.success());
    feast(&bin, &repo, &["apply"]);

    let (server_port, registry_port) = (free_port(), free_port());
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let _feature_server = Server::spawn(
        "feast serve",
        Command::new(bin.join("feast"))
            .args(["serve", "-h", "127.0.0.1", "-p", &server_port.to_string()])
            .current_dir(&repo)
            .env("PATH", &path)
            .env("FEAST_USAGE", "False"),
        &dir.path().join("serve.log"),
    );
    let _registry_server = Server::spawn(
        "feast serve_registry",
        Command::new(bin.join("feast"))
            .args([
                "serve_registry",
                "--rest-api",
                "--no-grpc",
                "-h",
                "127.0.0.1",
            ])
            .args(["--rest-port", &registry_port.to_string()])
            .current_dir(&repo)
            .env("PATH", &path)
            .env("FEAST_USAGE", "False"),
        &dir.path().join("registry.log"),
    );
    let server_url = format!("http://127.0.0.1:{server_port}");
    let registry_url = format!("http://127.0.0.1:{registry_port}");
    for url in [
        format!("{server_url}/health"),
        format!("{registry_url}/api/v1/projects"),
    ] {
        let mut ok = false;
        for _ in 0..300 {
            if reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(ok, "{url} did not come up: see {}", dir.path().display());
    }

    let sources = FeastSources {
        registry: RegistrySource::Rest(
            RegistryClient::new(&endpoint(&registry_url), "warden_outage").unwrap(),
        ),
        feature_server: Some(FeatureServerClient::new(&endpoint(&server_url)).unwrap()),
        redis_url: Some(format!("redis://127.0.0.1:{redis_port}").parse().unwrap()),
        redis_password: None,
        timeout: Duration::from_secs(2),
    };
    let options = StatusOptions {
        sla: SLA,
        ..StatusOptions::default()
    };

    // The proxy the predictor would call, in front of the real feature server.
    let upstream = FeatureServerClient::new(&HttpEndpoint {
        url: server_url.parse().unwrap(),
        timeout: Duration::from_secs(2),
    })
    .unwrap();
    let proxy = Arc::new(FeatureProxy::new(
        upstream,
        ProxySettings::default(),
        ProxyMode::Auto,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, proxy.clone().router()).into_future());
    let request = json!({
        "features": ["store_daily_features:sales_lag_7", "store_daily_features:promo"],
        "entities": {"store_id": [1, 2, 3]},
        "full_feature_names": true,
    });

    // 1. Materialized: fresh, healthy, and the proxy passes Feast's values through.
    materialize(&bin, &repo);
    let fresh = status::collect(&sources, &options, Utc::now())
        .await
        .unwrap();
    assert!(fresh.ok, "{fresh:#?}");
    assert_eq!(
        fresh.views[0].sampled_entities, 10,
        "entities found by scanning Redis"
    );
    assert_eq!(fresh.views[0].missing_rate, 0.0);
    let answer = ask(&proxy_url, &request).await;
    assert_eq!(answer["results"][1]["values"], json!([10.0, 20.0, 30.0]));
    assert_eq!(answer["warden"]["fallback_values"], json!(0));

    // 2. No materialization for longer than the SLA: stale, and the job is the suspect.
    let materialized = fresh.views[0].materialized_until.unwrap();
    let due = materialized + chrono::Duration::from_std(SLA + Duration::from_secs(1)).unwrap();
    if let Ok(wait) = (due - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
    let stale = status::collect(&sources, &options, Utc::now())
        .await
        .unwrap();
    assert!(!stale.ok);
    assert_eq!(
        stale.views[0].status,
        FreshnessStatus::Stale,
        "{:?}",
        stale.views[0]
    );
    assert_eq!(
        stale.causes[0].cause, "materialization_failed",
        "{:?}",
        stale.causes
    );

    // 3. Redis goes away: an outage, the network is the suspect, and the proxy answers from
    //    its cache — first automatically, then in fallback mode (the containment action).
    redis.stop();
    let outage = status::collect(&sources, &options, Utc::now())
        .await
        .unwrap();
    let store = outage.store.as_ref().unwrap();
    assert!(!store.reachable, "{store:?}");
    assert_eq!(
        outage.causes[0].cause, "network_partition",
        "{:?}",
        outage.causes
    );
    let answer = ask(&proxy_url, &request).await;
    assert_eq!(answer["results"][1]["values"], json!([10.0, 20.0, 30.0]));
    assert_eq!(answer["warden"]["fallback"][1], json!([true, true, true]));
    assert!(
        answer["warden"]["reason"]
            .as_str()
            .unwrap()
            .contains("feature server")
    );
    set_mode(&proxy_url, "fallback").await;
    let errors_before = proxy_status(&proxy_url).await.upstream_errors;
    let answer = ask(&proxy_url, &request).await;
    assert_eq!(answer["results"][2]["values"], json!([1, 0, 1]));
    assert_eq!(answer["warden"]["mode"], json!("fallback"));
    assert_eq!(
        proxy_status(&proxy_url).await.upstream_errors,
        errors_before,
        "fallback mode must not call Feast"
    );

    // 4. Redis back (empty: no persistence) and materialized again.
    let _redis = start_redis(redis_port, dir.path());
    materialize(&bin, &repo);
    let views = sources.registry.feature_views().await.unwrap();
    let recovered = status::collect(&sources, &options, Utc::now())
        .await
        .unwrap();
    let gates = closure::evaluate(&recovered, &views, &repo, WINDOW, SLA);
    let by_name: BTreeMap<&str, &closure::GateResult> = gates.iter().map(|g| (g.gate, g)).collect();
    assert!(by_name["freshness_within_sla"].passed, "{gates:#?}");
    assert!(by_name["online_matches_offline"].passed, "{gates:#?}");
    // One catch-up run does not make a clean window yet.
    assert!(!by_name["materialization_succeeded"].passed, "{gates:#?}");

    // 5. Once the window has passed with materialization on schedule, every gate passes.
    let last_run = recovered.views[0].materialized_until.unwrap();
    let clean = last_run + chrono::Duration::from_std(WINDOW + Duration::from_secs(1)).unwrap();
    if let Ok(wait) = (clean - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
    let views = sources.registry.feature_views().await.unwrap();
    let closing = status::collect(&sources, &options, Utc::now())
        .await
        .unwrap();
    let gates = closure::evaluate(&closing, &views, &repo, WINDOW, SLA);
    assert!(gates.iter().all(|g| g.passed), "{gates:#?}");

    // 6. Closure switches the proxy back: Feast's own values again, nothing from the cache.
    set_mode(&proxy_url, "auto").await;
    let answer = ask(&proxy_url, &request).await;
    assert_eq!(answer["warden"]["mode"], json!("auto"));
    assert_eq!(answer["warden"]["fallback_values"], json!(0));
    assert_eq!(answer["results"][1]["values"], json!([10.0, 20.0, 30.0]));
}
