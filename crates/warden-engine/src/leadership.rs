//! Whether this process may act, and with which fence. With several replicas on one store,
//! exactly one holds the leader lease; it runs detectors, advances incidents and executes
//! actions, each action start checked in the store against its epoch. The daemon's leadership
//! loop renews the lease and says here until when this process may act: well before the lease
//! could lapse, so a replica that stalls stops acting before another can take over.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use warden_store::Fence;

/// This process's leadership, as the leadership loop last saw it, and the actions this
/// process has in flight (so recovery on election re-executes only what another process left
/// running, never what this one is executing right now).
#[derive(Debug, Default)]
pub struct Leadership {
    state: Mutex<Option<(Fence, Instant)>>,
    in_flight: Mutex<HashMap<String, usize>>,
}

impl Leadership {
    /// Leads with `fence` until `act_until` (unless renewed).
    pub fn lead(&self, fence: Fence, act_until: Instant) {
        *self.lock() = Some((fence, act_until));
    }

    /// Follows: acts no more.
    pub fn follow(&self) {
        *self.lock() = None;
    }

    /// The fence to act with, if this process leads now.
    pub fn fence(&self) -> Option<Fence> {
        self.lock()
            .as_ref()
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(fence, _)| fence.clone())
    }

    /// Whether this process may act now.
    pub fn leads(&self) -> bool {
        self.fence().is_some()
    }

    /// Marks the action with idempotency key `key` as executing in this process. Counted:
    /// several executors may try one action at once (only one wins its start), and the
    /// losers' ends must not unmark the winner's.
    pub fn begin(&self, key: &str) {
        *self.flights().entry(key.to_string()).or_insert(0) += 1;
    }

    /// Marks one executor's attempt at it done (or given up) in this process.
    pub fn end(&self, key: &str) {
        let mut flights = self.flights();
        if let Some(count) = flights.get_mut(key) {
            *count -= 1;
            if *count == 0 {
                flights.remove(key);
            }
        }
    }

    /// Whether an executor of this process is executing the action with idempotency key `key`.
    pub fn executing(&self, key: &str) -> bool {
        self.flights().contains_key(key)
    }

    fn flights(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Fence, Instant)>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Two executors try one action; the one that lost its start ends first: the action is
    /// still executing in this process until the winner ends too.
    #[test]
    fn an_action_stays_in_flight_until_every_attempt_at_it_ended() {
        let leadership = Leadership::default();
        leadership.begin("INC-1/pause");
        leadership.begin("INC-1/pause");
        leadership.end("INC-1/pause");
        assert!(leadership.executing("INC-1/pause"));
        leadership.end("INC-1/pause");
        assert!(!leadership.executing("INC-1/pause"));
        leadership.end("INC-1/pause");
        assert!(!leadership.executing("INC-1/pause"));
    }

    #[test]
    fn a_leader_stops_acting_when_its_time_is_up() {
        let leadership = Leadership::default();
        assert!(!leadership.leads());
        let fence = Fence {
            holder: "a".into(),
            epoch: 3,
        };
        leadership.lead(fence.clone(), Instant::now() + Duration::from_secs(60));
        assert_eq!(leadership.fence(), Some(fence.clone()));
        leadership.lead(fence, Instant::now() - Duration::from_millis(1));
        assert!(!leadership.leads(), "past its act-until it follows");
        leadership.follow();
        assert_eq!(leadership.fence(), None);
    }
}
