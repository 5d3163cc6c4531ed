//! What runbook 3 changes about a monitor, kept beside Warden's database so it survives a
//! restart: the fixes applied (a sliding reference, a season, tuned thresholds) and the
//! temporary threshold override with who set it, why and when it expires. The monitor's
//! effective settings are `warden.yaml` with these on top; expiry is decided from a given
//! `now`, so it is tested on any timeline. It also holds the monitor's queue of retraining
//! reviews (R3.6): one review per drift episode of Warden's own runs, waiting for a person's
//! yes before the retraining trigger fires.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use warden_core::Timestamp;
use warden_engine::review::{Review, ReviewDecision, ReviewError, ReviewState};

/// A temporary threshold change (R3.3): minimum effects multiplied by `factor`, or one
/// column's threshold set, until `expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdOverride {
    /// Every minimum effect is multiplied by this (1 when only a column is set).
    pub factor: f64,
    /// One column's minimum effect, when the change is for one column.
    pub column: Option<(String, f64)>,
    /// Who approved it.
    pub set_by: String,
    /// Why.
    pub reason: String,
    /// The incident that set it.
    pub incident: String,
    /// When.
    pub set_at: Timestamp,
    /// When it reverts by itself.
    pub expires_at: Timestamp,
}

/// Fixes applied to a monitor by runbook 3 (R3.6), each with the incident that applied it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppliedFixes {
    /// A sliding reference of this many milliseconds replaces the configured reference.
    pub sliding_reference_ms: Option<i64>,
    /// Compare with the same season of the reference.
    pub seasonal: Option<String>,
    /// A tuned thresholds file replacing the configured one.
    pub thresholds: Option<String>,
    /// Retraining the monitor's runs start waits for a person's yes.
    #[serde(default)]
    pub review_retraining: bool,
    /// One line per fix: what, by which incident, when.
    pub history: Vec<String>,
}

/// One run of Warden's own monitor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorRun {
    /// When it ran.
    pub at: Timestamp,
    /// Whether it alerted.
    pub drifted: bool,
    /// The columns that drifted.
    pub columns: Vec<String>,
}

/// Runs kept per monitor: enough for a 28-day history at one run an hour, with room.
pub const MAX_RUNS: usize = 2_000;

/// Everything runbook 3 keeps about one monitor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorState {
    /// Fixes applied.
    #[serde(default)]
    pub fixes: AppliedFixes,
    /// The temporary override, if one is set.
    #[serde(default)]
    pub threshold_override: Option<ThresholdOverride>,
    /// Overrides that ended, newest last: `(how it ended, the override)`.
    #[serde(default)]
    pub ended_overrides: Vec<(String, ThresholdOverride)>,
    /// Warden's own runs of the monitor, oldest first (at most [`MAX_RUNS`]).
    #[serde(default)]
    pub runs: Vec<MonitorRun>,
    /// Whether a webhook retraining trigger was told to stop, and by which incident.
    #[serde(default)]
    pub retraining_disabled_by: Option<String>,
    /// Retraining reviews, oldest first (decided ones kept, at most [`MAX_REVIEWS`]).
    #[serde(default)]
    pub reviews: Vec<Review>,
    /// The number of the next review.
    #[serde(default)]
    pub next_review: u64,
}

/// Reviews kept per monitor; the oldest decided ones go first.
pub const MAX_REVIEWS: usize = 500;

/// What a drifted run of Warden's own monitor means for retraining.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetrainingStart {
    /// Nothing: the run did not drift, or its drift episode was already handled.
    Nothing,
    /// Start retraining now (no review asked for); the label names the episode.
    Start(String),
    /// A review was opened, or the pending one counted this run.
    Review(String),
}

impl MonitorState {
    /// The override in force at `now`.
    pub fn active_override(&self, now: Timestamp) -> Option<&ThresholdOverride> {
        self.threshold_override
            .as_ref()
            .filter(|o| now < o.expires_at)
    }

    /// Records a run, dropping the oldest beyond [`MAX_RUNS`].
    pub fn record_run(&mut self, run: MonitorRun) {
        self.runs.push(run);
        let excess = self.runs.len().saturating_sub(MAX_RUNS);
        self.runs.drain(..excess);
    }

    /// Whether the newest run begins a drift episode (it drifted, the run before did not).
    pub fn episode_started(&self) -> bool {
        match self.runs.as_slice() {
            [.., before, last] => last.drifted && !before.drifted,
            [last] => last.drifted,
            [] => false,
        }
    }

    /// What the newest run means for retraining: with `review`, a drifted run is counted into
    /// the pending review or, when it begins an episode, opens one; without, the start of an
    /// episode starts retraining.
    pub fn retraining_after_run(
        &mut self,
        monitor: &str,
        review: bool,
        now: Timestamp,
    ) -> RetrainingStart {
        let Some(run) = self.runs.last().cloned() else {
            return RetrainingStart::Nothing;
        };
        if !run.drifted {
            return RetrainingStart::Nothing;
        }
        if !review {
            return if self.episode_started() {
                RetrainingStart::Start(format!("{}", run.at.format("%Y%m%dT%H%M%SZ")))
            } else {
                RetrainingStart::Nothing
            };
        }
        if let Some(pending) = self
            .reviews
            .iter_mut()
            .find(|r| r.state == ReviewState::Pending)
        {
            let alerts = pending.detail["alerts"].as_u64().unwrap_or(1) + 1;
            pending.detail["alerts"] = json!(alerts);
            pending.detail["last_alert_at"] = json!(run.at);
            let mut columns: Vec<String> =
                serde_json::from_value(pending.detail["columns"].clone()).unwrap_or_default();
            for column in &run.columns {
                if !columns.contains(column) {
                    columns.push(column.clone());
                }
            }
            pending.detail["columns"] = json!(columns);
            pending.updated_at = now;
            return RetrainingStart::Review(pending.id.clone());
        }
        if !self.episode_started() {
            return RetrainingStart::Nothing;
        }
        self.next_review += 1;
        let id = format!("{monitor}-r{}", self.next_review);
        let columns = if run.columns.is_empty() {
            "its columns".to_string()
        } else {
            run.columns.join(", ")
        };
        self.reviews.push(Review {
            id: id.clone(),
            runbook: super::RUNBOOK.to_string(),
            subject: monitor.to_string(),
            summary: format!(
                "drift monitor {monitor} alerted at {} ({columns}): start retraining?",
                run.at.format("%Y-%m-%d %H:%M UTC")
            ),
            detail: json!({"alerts": 1, "first_alert_at": run.at, "last_alert_at": run.at,
                "columns": run.columns}),
            opened_at: now,
            updated_at: now,
            state: ReviewState::Pending,
            decided_by: None,
            reason: None,
            decided_at: None,
            outcome: None,
            error: None,
        });
        // The oldest decided reviews go; a pending one is never dropped.
        let mut excess = self.reviews.len().saturating_sub(MAX_REVIEWS);
        self.reviews.retain(|r| {
            let drop = excess > 0 && r.state != ReviewState::Pending;
            excess -= usize::from(drop);
            !drop
        });
        RetrainingStart::Review(id)
    }

    /// Records `decision` on review `id`. Returns the review and whether the approval's
    /// effect (starting retraining) is still to be done: on the first approval, and again
    /// when an earlier attempt failed.
    ///
    /// # Errors
    /// No such review, or it was decided the other way.
    pub fn decide_review(
        &mut self,
        id: &str,
        decision: ReviewDecision,
        by: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<(Review, bool), ReviewError> {
        let review = self
            .reviews
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| ReviewError::NotFound(id.to_string()))?;
        let wanted = decision.state();
        match review.state {
            ReviewState::Pending => {
                review.state = wanted;
                review.decided_by = Some(by.to_string());
                review.reason = Some(reason.to_string());
                review.decided_at = Some(now);
                review.updated_at = now;
                Ok((review.clone(), wanted == ReviewState::Approved))
            }
            state if state == wanted => {
                let retry = state == ReviewState::Approved && review.outcome.is_none();
                Ok((review.clone(), retry))
            }
            state => Err(ReviewError::Conflict(format!(
                "review {id} was {} by {} at {}: it cannot be {} now",
                state.as_str(),
                review.decided_by.as_deref().unwrap_or("someone"),
                review
                    .decided_at
                    .map_or_else(|| "an earlier time".to_string(), |t| t.to_rfc3339()),
                wanted.as_str()
            ))),
        }
    }

    /// Records what an approval started, or why it could not.
    pub fn review_effect(&mut self, id: &str, result: Result<String, String>, now: Timestamp) {
        if let Some(review) = self.reviews.iter_mut().find(|r| r.id == id) {
            match result {
                Ok(outcome) => {
                    review.outcome = Some(outcome);
                    review.error = None;
                }
                Err(error) => review.error = Some(error),
            }
            review.updated_at = now;
        }
    }

    /// Ends an override that expired by `now`; returns it if one did.
    pub fn expire(&mut self, now: Timestamp) -> Option<ThresholdOverride> {
        if self
            .threshold_override
            .as_ref()
            .is_some_and(|o| now >= o.expires_at)
        {
            let ended = self.threshold_override.take()?;
            self.ended_overrides
                .push((format!("expired at {}", ended.expires_at), ended.clone()));
            return Some(ended);
        }
        None
    }
}

/// Where the monitors' states live: `<data_dir>/drift-monitors/<name>.json`.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

/// A state file that cannot be read or written, naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct StateError {
    /// The file.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

impl StateDir {
    /// Under `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("drift-monitors"),
        }
    }

    fn path(&self, monitor: &str) -> PathBuf {
        let safe: String = monitor
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.json"))
    }

    /// Where a monitor's tuned thresholds are written.
    pub fn thresholds_path(&self, monitor: &str) -> PathBuf {
        self.path(monitor).with_extension("thresholds.yaml")
    }

    /// The monitor's state (empty when none was saved).
    ///
    /// # Errors
    /// The file exists but cannot be read or parsed.
    pub fn load(&self, monitor: &str) -> Result<MonitorState, StateError> {
        let path = self.path(monitor);
        let error = |message: String| StateError {
            path: path.display().to_string(),
            message,
        };
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| error(e.to_string())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(MonitorState::default()),
            Err(err) => Err(error(err.to_string())),
        }
    }

    /// Saves the monitor's state atomically (write, then rename), so a crash leaves the old
    /// state or the new one.
    ///
    /// # Errors
    /// The directory or file cannot be written.
    pub fn save(&self, monitor: &str, state: &MonitorState) -> Result<(), StateError> {
        let path = self.path(monitor);
        let error = |message: String| StateError {
            path: path.display().to_string(),
            message,
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| error(e.to_string()))?;
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| error(e.to_string()))?;
        let partial = path.with_extension("json.partial");
        std::fs::write(&partial, bytes).map_err(|e| error(e.to_string()))?;
        std::fs::rename(&partial, &path).map_err(|e| error(e.to_string()))
    }
}

/// `now + duration`, saturating.
pub fn after(now: Timestamp, duration: Duration) -> Timestamp {
    now + chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_790_000_000 + seconds, 0).unwrap_or_default()
    }

    fn override_until(expires_at: Timestamp) -> ThresholdOverride {
        ThresholdOverride {
            factor: 2.0,
            column: None,
            set_by: "ana".into(),
            reason: "seasonal noise".into(),
            incident: "INC-1".into(),
            set_at: at(0),
            expires_at,
        }
    }

    #[test]
    fn an_override_is_in_force_until_it_expires_and_then_ends_by_itself() {
        let mut state = MonitorState {
            threshold_override: Some(override_until(at(3_600))),
            ..MonitorState::default()
        };
        assert!(state.active_override(at(3_599)).is_some());
        assert!(state.expire(at(3_599)).is_none(), "not yet");
        assert!(state.active_override(at(3_600)).is_none());
        let ended = state.expire(at(3_600)).expect("expired");
        assert_eq!(ended.set_by, "ana");
        assert!(state.threshold_override.is_none());
        assert!(state.ended_overrides[0].0.starts_with("expired at"));
    }

    fn run(minute: i64, drifted: bool, columns: &[&str]) -> MonitorRun {
        MonitorRun {
            at: at(minute * 60),
            drifted,
            columns: columns.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn one_review_per_drift_episode_counts_the_alerts_that_follow() {
        let mut state = MonitorState::default();
        state.record_run(run(0, false, &[]));
        assert_eq!(
            state.retraining_after_run("m", true, at(0)),
            RetrainingStart::Nothing
        );
        state.record_run(run(1, true, &["price"]));
        assert_eq!(
            state.retraining_after_run("m", true, at(60)),
            RetrainingStart::Review("m-r1".into())
        );
        state.record_run(run(2, true, &["qty"]));
        assert_eq!(
            state.retraining_after_run("m", true, at(120)),
            RetrainingStart::Review("m-r1".into()),
            "counted into the pending review, not a second one"
        );
        assert_eq!(state.reviews.len(), 1);
        assert_eq!(state.reviews[0].detail["alerts"], 2);
        assert_eq!(state.reviews[0].detail["columns"], json!(["price", "qty"]));
        assert!(state.reviews[0].summary.contains("start retraining?"));

        // Rejected, the same episode asks nothing more; a new episode asks again.
        let (review, effect) = state
            .decide_review(
                "m-r1",
                ReviewDecision::Reject,
                "ana",
                "weekend noise",
                at(130),
            )
            .expect("decided");
        assert_eq!((review.state, effect), (ReviewState::Rejected, false));
        state.record_run(run(3, true, &["qty"]));
        assert_eq!(
            state.retraining_after_run("m", true, at(180)),
            RetrainingStart::Nothing
        );
        state.record_run(run(4, false, &[]));
        state.record_run(run(5, true, &["price"]));
        assert_eq!(
            state.retraining_after_run("m", true, at(300)),
            RetrainingStart::Review("m-r2".into())
        );
    }

    #[test]
    fn without_review_an_episode_starts_retraining_once() {
        let mut state = MonitorState::default();
        state.record_run(run(1, true, &["price"]));
        assert!(matches!(
            state.retraining_after_run("m", false, at(60)),
            RetrainingStart::Start(_)
        ));
        state.record_run(run(2, true, &["price"]));
        assert_eq!(
            state.retraining_after_run("m", false, at(120)),
            RetrainingStart::Nothing
        );
        assert!(state.reviews.is_empty());
    }

    #[test]
    fn a_decision_is_recorded_once_and_a_failed_approval_is_tried_again() {
        let mut state = MonitorState::default();
        state.record_run(run(1, true, &[]));
        state.retraining_after_run("m", true, at(60));
        let (review, effect) = state
            .decide_review("m-r1", ReviewDecision::Approve, "ana", "real shift", at(70))
            .expect("approved");
        assert_eq!((review.state, effect), (ReviewState::Approved, true));
        state.review_effect("m-r1", Err("Airflow: unreachable".into()), at(71));
        let (review, effect) = state
            .decide_review("m-r1", ReviewDecision::Approve, "bo", "again", at(80))
            .expect("approved again");
        assert!(effect, "the failed start is tried again");
        assert_eq!(
            review.decided_by.as_deref(),
            Some("ana"),
            "the first decision stands"
        );
        state.review_effect("m-r1", Ok("run started".into()), at(81));
        let (_, effect) = state
            .decide_review("m-r1", ReviewDecision::Approve, "bo", "again", at(90))
            .expect("approved again");
        assert!(!effect, "started once");
        let err = state
            .decide_review("m-r1", ReviewDecision::Reject, "bo", "no", at(91))
            .expect_err("conflict");
        assert!(
            matches!(&err, ReviewError::Conflict(m) if m.contains("approved by ana")),
            "{err}"
        );
        assert_eq!(
            state.decide_review("m-r9", ReviewDecision::Reject, "bo", "no", at(92)),
            Err(ReviewError::NotFound("m-r9".into()))
        );
    }

    #[test]
    fn state_survives_a_restart_and_bad_files_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let states = StateDir::new(dir.path());
        assert_eq!(states.load("m").expect("empty"), MonitorState::default());
        let state = MonitorState {
            threshold_override: Some(override_until(at(60))),
            ..MonitorState::default()
        };
        states.save("m", &state).expect("saved");
        assert_eq!(StateDir::new(dir.path()).load("m").expect("read"), state);
        std::fs::write(dir.path().join("drift-monitors/m.json"), "{").expect("write");
        let err = states.load("m").expect_err("broken");
        assert!(err.to_string().contains("drift-monitors/m.json"), "{err}");
    }
}
