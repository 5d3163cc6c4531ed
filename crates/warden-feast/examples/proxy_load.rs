//! Open-loop load on a `/get-online-features` endpoint, for the feature proxy's benchmark
//! (`scripts/bench.sh feature-proxy`): requests are sent on a fixed schedule whatever the
//! answers do, so a slow server cannot slow the load down and hide its queueing. Latency is
//! measured from the moment a request is sent (tokio's timer fires up to ~1 ms after the
//! scheduled time, which is the generator's lag, not the server's); the largest lag behind
//! the schedule is reported so a generator that could not keep up is visible. Loopback only;
//! bounded in count and time.
//!
//! `proxy_load URL RPS SECONDS BODY_JSON`

use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// One thread: the machine has two cores and the server under test needs one of them.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, rps, seconds, body] = args.as_slice() else {
        eprintln!("usage: proxy_load URL RPS SECONDS BODY_JSON");
        std::process::exit(2);
    };
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string));
    if !matches!(host.as_deref(), Some("127.0.0.1" | "localhost" | "[::1]")) {
        eprintln!("refusing to load anything but loopback: {url}");
        std::process::exit(2);
    }
    let rps: u64 = rps.parse().expect("RPS is a number");
    let seconds: u64 = seconds.parse().expect("SECONDS is a number");
    let total = (rps * seconds).min(100_000);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    let body: serde_json::Value = serde_json::from_str(body).expect("BODY_JSON is JSON");
    let gap = Duration::from_nanos(1_000_000_000 / rps.max(1));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = started + gap * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let ok = match client.post(&url).json(&body).send().await {
                Ok(answer) => answer.status().is_success() && answer.bytes().await.is_ok(),
                Err(_) => false,
            };
            (sent.elapsed(), sent - scheduled, ok)
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut errors = 0usize;
    let mut behind = Duration::ZERO;
    for task in tasks {
        let (latency, lag, ok) = task.await.expect("request task");
        behind = behind.max(lag);
        if !ok {
            errors += 1;
        }
        latencies.push(latency);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pick = |q: f64| {
        let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies[index].as_secs_f64() * 1000.0
    };
    println!(
        "{} requests in {:.2} s ({:.0}/s achieved), errors {}, latency ms p50 {:.3} p95 {:.3} p99 {:.3} max {:.3} (sent at most {:.1} ms behind schedule)",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        errors,
        pick(0.50),
        pick(0.95),
        pick(0.99),
        pick(1.0),
        behind.as_secs_f64() * 1000.0
    );
}
