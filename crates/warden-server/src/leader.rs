//! The daemon's leadership loop (R6.10): every replica ingests webhooks and serves the API;
//! the one holding the store's leader lease runs detectors, advances incidents, executes
//! actions and recovers running steps. The loop takes or renews the lease every third of its
//! time to live and lets the engine act only until two thirds of it have passed since the
//! renewal began — so a replica that stalls (paused, partitioned, a slow store) stops acting
//! before its lease can lapse and another replica can take over with a higher epoch. On
//! becoming leader it recovers every active incident's running steps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use warden_engine::Leadership;
use warden_store::lease::LEADER;
use warden_store::{Fence, IncidentStore};

use crate::AppState;

/// This replica's name in the lease: the pod name (Kubernetes' downward API sets `POD_NAME`),
/// else the host name and process id.
pub fn holder_name() -> String {
    if let Ok(pod) = std::env::var("POD_NAME")
        && !pod.trim().is_empty()
    {
        return pod.trim().to_string();
    }
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "warden".into());
    format!("{host}/{}", std::process::id())
}

/// Whether `holder` names a process of this host that no longer runs (`host/pid` with no
/// `/proc/pid`): a replica restarted on the same host need not wait for its dead
/// predecessor's lease to lapse — a process that does not exist cannot act.
fn dead_on_this_host(holder: &str, me: &str) -> bool {
    let (Some((host, pid)), Some((my_host, _))) = (holder.rsplit_once('/'), me.rsplit_once('/'))
    else {
        return false;
    };
    host == my_host
        && pid.parse::<u32>().is_ok_and(|pid| {
            pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        })
}

/// One round: take or renew the lease and tell `leadership`; returns whether this replica
/// leads, and the lease as it stands.
///
/// # Errors
/// The store failing (the replica then stops acting: it cannot prove it leads).
pub async fn round(
    state: &AppState,
    leadership: &Leadership,
    holder: &str,
    ttl: Duration,
) -> Result<warden_store::Lease, warden_store::StoreError> {
    let started = Instant::now();
    let now = chrono::Utc::now();
    let store = state.manager().store();
    if let Ok(Some(current)) = store.lease(LEADER).await
        && current.holder != holder
        && dead_on_this_host(&current.holder, holder)
    {
        let _ = store.release_lease(LEADER, &current.holder, now).await;
    }
    let expires = now + chrono::Duration::from_std(ttl).unwrap_or_default();
    let lease = match state
        .manager()
        .store()
        .acquire_lease(LEADER, holder, now, expires)
        .await
    {
        Ok(lease) => lease,
        Err(err) => {
            leadership.follow();
            state.metrics.leader(false, 0);
            return Err(err);
        }
    };
    if lease.holder == holder {
        leadership.lead(
            Fence {
                holder: holder.to_string(),
                epoch: lease.epoch,
            },
            started + ttl * 2 / 3,
        );
        state.metrics.leader(true, lease.epoch);
    } else {
        leadership.follow();
        state.metrics.leader(false, lease.epoch);
    }
    Ok(lease)
}

/// Re-executes the steps found `running` of every active incident: the leader's first act.
///
/// # Errors
/// Store failures.
pub async fn recover_all(state: &AppState) -> Result<(), warden_engine::EngineError> {
    for id in state.manager().store().active_incident_ids().await? {
        match state.engine.recover(&id).await {
            Ok(_) | Err(warden_engine::EngineError::RunbookNotInEffect { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Runs the leadership loop until the task is aborted; says every change of role on stderr
/// when `verbose`.
pub async fn run(
    state: AppState,
    leadership: Arc<Leadership>,
    holder: String,
    ttl: Duration,
    verbose: bool,
) {
    let mut leading = false;
    let mut last_holder = String::new();
    loop {
        match round(&state, &leadership, &holder, ttl).await {
            Ok(lease) => {
                let now_leading = lease.holder == holder;
                if now_leading && !leading {
                    if verbose {
                        eprintln!(
                            "warden: {holder} leads (epoch {}): running detectors, advancing incidents, acting",
                            lease.epoch
                        );
                    }
                    if let Err(err) = recover_all(&state).await
                        && verbose
                    {
                        eprintln!("warden: recovering running steps failed: {err}");
                    }
                } else if !now_leading && (leading || lease.holder != last_holder) && verbose {
                    eprintln!(
                        "warden: {} leads (epoch {}); this replica ({holder}) serves the API and ingests alerts, and does not act",
                        warden_core::text::terminal_safe(&lease.holder),
                        lease.epoch
                    );
                }
                leading = now_leading;
                last_holder = lease.holder;
            }
            Err(err) => {
                if leading && verbose {
                    eprintln!("warden: cannot renew the leader lease ({err}): stopped acting");
                }
                leading = false;
            }
        }
        tokio::time::sleep(ttl / 3).await;
    }
}

/// Gives the lease up on a clean shutdown, so another replica takes over at once.
pub async fn release(state: &AppState, leadership: &Leadership, holder: &str) {
    leadership.follow();
    let _ = state
        .manager()
        .store()
        .release_lease(LEADER, holder, chrono::Utc::now())
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_missing_process_of_this_host_is_dead() {
        let me = format!("node-1/{}", std::process::id());
        assert!(dead_on_this_host("node-1/999999999", &me));
        assert!(!dead_on_this_host(&me, &me), "itself");
        assert!(!dead_on_this_host("node-1/1", &me), "pid 1 runs");
        assert!(!dead_on_this_host("node-2/999999999", &me), "another host");
        assert!(!dead_on_this_host("warden-0", "warden-1"), "pod names");
    }
}
