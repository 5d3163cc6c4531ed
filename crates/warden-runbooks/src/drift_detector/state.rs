//! What runbook 3 changes about a monitor, kept beside Warden's database so it survives a
//! restart: the fixes applied (a sliding reference, a season, tuned thresholds) and the
//! temporary threshold override with who set it, why and when it expires. The monitor's
//! effective settings are `warden.yaml` with these on top; expiry is decided from a given
//! `now`, so it is tested on any timeline.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use warden_core::Timestamp;

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
