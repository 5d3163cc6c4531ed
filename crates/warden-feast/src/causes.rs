//! Runbook 4's cause rules (R4.4), decided from the evidence artifacts its collectors capture:
//! the online store's health (`online_store_health`: reachability, PING, memory against
//! `maxmemory`, evictions, rejected connections), the freshness table (`feature_freshness`:
//! per view, and the ranking of [`crate::freshness::rank_causes`]), the schema check
//! (`schema_check`) and the materialization schedule's recent runs (`materialization_status`:
//! Airflow DAG runs or a CronJob's state). Each rule confirms with a score and the facts, or
//! refutes with the facts against it; `None` when its evidence cannot tell (the store was not
//! reachable to look at its memory), which leaves the cause to a person.

use serde_json::Value;

use crate::freshness::MEMORY_PRESSURE;

/// A rule's decision (the engine's judgement).
pub use warden_core::Judgement as Verdict;

fn confirmed(score: f64, explanation: String) -> Option<Verdict> {
    Some(Verdict::confirmed(score, explanation))
}

fn refuted(explanation: String) -> Option<Verdict> {
    Some(Verdict::refuted(explanation))
}

/// The store's health of an `online_store_health` artifact, when one was configured.
fn store(health: &Value) -> Option<&Value> {
    health.get("store").filter(|s| s.is_object())
}

fn reachable(store: &Value) -> bool {
    store["reachable"].as_bool() == Some(true)
}

fn ping(store: &Value) -> String {
    store["ping_ms"]
        .as_f64()
        .map_or_else(|| "?".into(), |ms| format!("{ms:.1} ms"))
}

/// `online_store_capacity`: memory at or near `maxmemory`, or keys evicted.
pub fn online_store_capacity(health: &Value) -> Option<Verdict> {
    let store = store(health)?;
    if !reachable(store) {
        return None;
    }
    let memory = store["memory_utilization"].as_f64();
    let evicted = store["evicted_keys"].as_u64().unwrap_or(0);
    let mut facts = Vec::new();
    if let Some(share) = memory.filter(|share| *share >= MEMORY_PRESSURE) {
        facts.push(format!("memory at {:.0}% of maxmemory", share * 100.0));
    }
    if evicted > 0 {
        facts.push(format!("{evicted} keys evicted since start"));
    }
    if facts.is_empty() {
        return refuted(format!(
            "the online store has room: memory {}, no keys evicted",
            memory.map_or_else(
                || "without a maxmemory limit".to_string(),
                |share| format!("at {:.0}% of maxmemory", share * 100.0)
            )
        ));
    }
    let score = if facts.len() == 2 { 0.9 } else { 0.75 };
    confirmed(
        score,
        format!(
            "the online store is out of capacity: {} — fix: scale it (more memory or shards) and alert on memory before eviction",
            facts.join(", ")
        ),
    )
}

/// `online_store_throttled`: connections refused or commands slow.
pub fn online_store_throttled(health: &Value) -> Option<Verdict> {
    let store = store(health)?;
    if !reachable(store) {
        return None;
    }
    let rejected = store["rejected_connections"].as_u64().unwrap_or(0);
    let slow: Vec<&str> = store["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|p| p.starts_with("PING took"))
        .collect();
    let mut facts = Vec::new();
    if rejected > 0 {
        facts.push(format!(
            "{rejected} connections rejected since start (maxclients)"
        ));
    }
    facts.extend(slow.iter().map(|s| (*s).to_string()));
    if facts.is_empty() {
        return refuted(format!(
            "the online store answers promptly: PING {}, no connection rejected",
            ping(store)
        ));
    }
    confirmed(
        if rejected > 0 { 0.8 } else { 0.6 },
        format!(
            "the online store is throttling: {} — fix: raise maxclients or scale out, and pool the clients' connections",
            facts.join(", ")
        ),
    )
}

/// `network_partition`: the online store could not be reached.
pub fn network_partition(health: &Value) -> Option<Verdict> {
    let store = store(health)?;
    if reachable(store) {
        return refuted(format!(
            "the online store answered PING in {} from here",
            ping(store)
        ));
    }
    let error = store["error"].as_str().unwrap_or("no answer");
    let timed_out = store["timed_out"].as_bool() == Some(true);
    confirmed(
        if timed_out { 0.8 } else { 0.7 },
        format!(
            "the online store at {} cannot be reached: {error}{} — fix: check the network path (NetworkPolicy, DNS, security groups) between the serving pods and the store",
            store["url"].as_str().unwrap_or("?"),
            if timed_out { " (timed out)" } else { "" }
        ),
    )
}

/// `schema_mismatch`: the schema check found offline, registry and online disagreeing.
pub fn schema_mismatch(schema: &Value) -> Option<Verdict> {
    let checks = schema["checks"].as_array().map_or(0, Vec::len);
    let problems: Vec<&str> = schema["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !problems.is_empty() {
        return confirmed(
            0.9,
            format!(
                "offline source, registry and online values disagree: {} — fix: `warden feast check-schema` in CI before a deployment",
                problems.join("; ")
            ),
        );
    }
    if checks == 0 {
        return None;
    }
    refuted(format!(
        "the {checks} schema checks agree (offline source, registry, online values)"
    ))
}

/// What the materialization schedule's artifact says: `(failed runs, running, last run,
/// paused)`; `None` when it is not one.
struct Runs {
    failed: Vec<String>,
    running: bool,
    last: Option<(String, String)>,
    paused: bool,
    described: String,
}

fn runs(materialization: &Value) -> Option<Runs> {
    if let Some(list) = materialization["runs"].as_array() {
        let dag = materialization["dag"]["dag_id"]
            .as_str()
            .unwrap_or("materialization DAG");
        let state = |r: &Value| r["state"].as_str().unwrap_or("").to_string();
        let id = |r: &Value| r["dag_run_id"].as_str().unwrap_or("?").to_string();
        return Some(Runs {
            failed: list
                .iter()
                .filter(|r| state(r) == "failed")
                .map(id)
                .collect(),
            running: list.iter().any(|r| state(r) == "running"),
            // Newest first, as the collector lists them.
            last: list.first().map(|r| (id(r), state(r))),
            paused: materialization["dag"]["is_paused"].as_bool() == Some(true),
            described: format!("Airflow DAG {dag}"),
        });
    }
    let schedule = materialization["schedule"].as_str()?;
    let last_scheduled = materialization["last_schedule"].as_str();
    let last_successful = materialization["last_successful"].as_str();
    // A Job scheduled after the last success that is no longer running did not succeed.
    let failed_since = match (last_scheduled, last_successful) {
        (Some(scheduled), Some(success)) => scheduled > success,
        (Some(_), None) => true,
        _ => false,
    };
    let running = materialization["active_jobs"].as_u64().unwrap_or(0) > 0;
    Some(Runs {
        failed: if failed_since && !running {
            vec![format!(
                "the Job scheduled {}",
                last_scheduled.unwrap_or("?")
            )]
        } else {
            Vec::new()
        },
        running,
        last: last_scheduled.map(|at| {
            (
                format!("Job of {at}"),
                if running {
                    "running".into()
                } else if failed_since {
                    "failed".into()
                } else {
                    "success".into()
                },
            )
        }),
        paused: materialization["suspended"].as_bool() == Some(true),
        described: format!("CronJob ({schedule})"),
    })
}

/// The views the freshness table calls stale, with their lag.
fn stale_views(freshness: &Value) -> Vec<String> {
    freshness["views"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["status"] == "stale")
        .map(|v| {
            let view = v["view"].as_str().unwrap_or("?");
            match v["materialization_lag_seconds"].as_f64() {
                Some(lag) => format!("{view} ({:.0} min behind)", lag / 60.0),
                None => format!("{view} (never materialized)"),
            }
        })
        .collect()
}

/// `materialization_failed`: views are stale and the job that writes them failed, stopped,
/// or (without its run history) the store is healthy, so nothing else explains it.
pub fn materialization_failed(
    materialization: Option<&Value>,
    freshness: Option<&Value>,
) -> Option<Verdict> {
    let stale = freshness.map(stale_views);
    let runs = materialization.and_then(runs);
    match (runs, stale) {
        (Some(runs), stale) => {
            let stale_text = match &stale {
                Some(views) if !views.is_empty() => format!("; stale: {}", views.join(", ")),
                _ => String::new(),
            };
            let last_failed = runs.last.as_ref().is_some_and(|(_, s)| s == "failed");
            if last_failed || (!runs.failed.is_empty() && !runs.running) {
                return confirmed(
                    if stale.as_ref().is_some_and(|v| !v.is_empty()) {
                        0.9
                    } else {
                        0.7
                    },
                    format!(
                        "{}: {} failed{stale_text} — fix: retries and alerting on the materialization job",
                        runs.described,
                        runs.failed.join(", ")
                    ),
                );
            }
            if runs.paused && stale.as_ref().is_some_and(|v| !v.is_empty()) {
                return confirmed(
                    0.6,
                    format!(
                        "{} is paused, so nothing materializes{stale_text}",
                        runs.described
                    ),
                );
            }
            refuted(format!(
                "{}: the last run {} and none failed in the window",
                runs.described,
                runs.last
                    .map_or_else(|| "is not known".into(), |(id, s)| format!("{id} {s}"))
            ))
        }
        (None, Some(stale)) if stale.is_empty() => {
            refuted("every feature view is within its freshness SLA".into())
        }
        (None, Some(stale)) => {
            // Without the run history, the ranking (which weighs the store's health) decides.
            let ranked = freshness
                .and_then(|f| f["causes"].as_array())
                .into_iter()
                .flatten()
                .find(|c| c["cause"] == "materialization_failed")?;
            let score = ranked["confidence"].as_f64().unwrap_or(0.4);
            if score < 0.5 {
                return None;
            }
            confirmed(
                score,
                format!(
                    "stale views while the online store is healthy: {} — the job that writes them stopped (its run history was not captured)",
                    stale.join(", ")
                ),
            )
        }
        (None, None) => None,
    }
}

/// `materialization_load`: a materialization run is writing while the store is under
/// pressure.
pub fn materialization_load(
    materialization: Option<&Value>,
    health: Option<&Value>,
) -> Option<Verdict> {
    let store = health.and_then(store);
    let pressure: Vec<&str> = store
        .filter(|s| reachable(s))
        .map(|s| {
            s["problems"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect()
        })
        .unwrap_or_default();
    if store.is_some_and(reachable) && pressure.is_empty() {
        return refuted(format!(
            "the online store shows no load: PING {}, memory and connections normal",
            ping(store?)
        ));
    }
    let runs = materialization.and_then(runs)?;
    if !runs.running {
        return refuted(format!(
            "no materialization run is writing now ({})",
            runs.described
        ));
    }
    if pressure.is_empty() {
        return None;
    }
    confirmed(
        0.7,
        format!(
            "a run of {} is writing while the online store is under pressure: {} — fix: materialize off-peak or in smaller batches",
            runs.described,
            pressure.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn health(
        reachable: bool,
        memory: f64,
        evicted: u64,
        rejected: u64,
        problems: &[&str],
    ) -> Value {
        json!({"kind": "online_store_health", "store": {
            "url": "redis://feast-redis:6379", "reachable": reachable, "ping_ms": 0.4,
            "memory_utilization": memory, "evicted_keys": evicted, "rejected_connections": rejected,
            "error": if reachable { Value::Null } else { json!("connection refused") },
            "timed_out": false, "problems": problems,
        }})
    }

    #[test]
    fn the_store_rules_follow_its_health() {
        let full = health(true, 0.97, 120, 0, &["memory 97% of maxmemory"]);
        let v = online_store_capacity(&full).unwrap();
        assert!(
            v.confirmed && v.score >= 0.9 && v.explanation.contains("97%"),
            "{v:?}"
        );
        assert!(!online_store_throttled(&full).unwrap().confirmed);
        assert!(!network_partition(&full).unwrap().confirmed);

        let busy = health(
            true,
            0.4,
            0,
            31,
            &["31 connections rejected since start (maxclients?)"],
        );
        let v = online_store_throttled(&busy).unwrap();
        assert!(
            v.confirmed && v.explanation.contains("31 connections"),
            "{v:?}"
        );
        assert!(!online_store_capacity(&busy).unwrap().confirmed);

        let gone = health(false, 0.0, 0, 0, &["online store unreachable"]);
        let v = network_partition(&gone).unwrap();
        assert!(
            v.confirmed && v.explanation.contains("connection refused"),
            "{v:?}"
        );
        assert_eq!(
            online_store_capacity(&gone),
            None,
            "an unreachable store's memory is unknown"
        );
        assert_eq!(online_store_throttled(&gone), None);
        assert_eq!(
            network_partition(&json!({"store": null})),
            None,
            "no store configured"
        );
    }

    #[test]
    fn schema_mismatch_needs_checks_and_follows_their_problems() {
        let bad = json!({"ok": false, "checks": [{}], "problems": ["store_daily_features.price: offline double, registry INT64"]});
        assert!(schema_mismatch(&bad).unwrap().explanation.contains("INT64"));
        let good = json!({"ok": true, "checks": [{}, {}], "problems": []});
        assert!(!schema_mismatch(&good).unwrap().confirmed);
        assert_eq!(
            schema_mismatch(&json!({"checks": [], "problems": []})),
            None
        );
    }

    fn freshness(stale: bool, ranked: f64) -> Value {
        json!({"views": [{"view": "store_daily_features", "status": if stale { "stale" } else { "fresh" },
                          "materialization_lag_seconds": 1680.0}],
               "causes": if stale { json!([{"cause": "materialization_failed", "confidence": ranked}]) } else { json!([]) }})
    }

    #[test]
    fn materialization_failed_reads_the_runs_or_else_the_ranking() {
        let runs = |last: &str| {
            json!({"dag": {"dag_id": "feast_materialize", "is_paused": false},
                   "runs": [{"dag_run_id": "scheduled__14:00", "state": last}, {"dag_run_id": "scheduled__13:00", "state": "success"}]})
        };
        let v = materialization_failed(Some(&runs("failed")), Some(&freshness(true, 0.8))).unwrap();
        assert!(v.confirmed && v.score >= 0.9, "{v:?}");
        assert!(
            v.explanation.contains("scheduled__14:00") && v.explanation.contains("28 min behind"),
            "{v:?}"
        );
        assert!(
            !materialization_failed(Some(&runs("success")), Some(&freshness(false, 0.0)))
                .unwrap()
                .confirmed
        );
        // No run history: the ranking decides when it is sure, else a person does.
        assert!(
            materialization_failed(None, Some(&freshness(true, 0.8)))
                .unwrap()
                .confirmed
        );
        assert_eq!(
            materialization_failed(None, Some(&freshness(true, 0.4))),
            None
        );
        assert!(
            !materialization_failed(None, Some(&freshness(false, 0.0)))
                .unwrap()
                .confirmed
        );
        // A CronJob whose last scheduled Job never succeeded.
        let cron = json!({"schedule": "*/10 * * * *", "suspended": false, "last_schedule": "2026-11-20T14:10:00Z",
                          "last_successful": "2026-11-20T13:50:00Z", "active_jobs": 0});
        assert!(
            materialization_failed(Some(&cron), Some(&freshness(true, 0.8)))
                .unwrap()
                .confirmed
        );
    }

    #[test]
    fn materialization_load_needs_a_running_job_and_a_loaded_store() {
        let running = json!({"dag": {"dag_id": "feast_materialize"}, "runs": [{"dag_run_id": "r", "state": "running"}]});
        let idle = json!({"dag": {"dag_id": "feast_materialize"}, "runs": [{"dag_run_id": "r", "state": "success"}]});
        let loaded = health(true, 0.95, 0, 0, &["memory 95% of maxmemory"]);
        let calm = health(true, 0.3, 0, 0, &[]);
        assert!(
            materialization_load(Some(&running), Some(&loaded))
                .unwrap()
                .confirmed
        );
        assert!(
            !materialization_load(Some(&idle), Some(&loaded))
                .unwrap()
                .confirmed
        );
        assert!(
            !materialization_load(Some(&running), Some(&calm))
                .unwrap()
                .confirmed
        );
        assert_eq!(materialization_load(None, Some(&loaded)), None);
    }
}
