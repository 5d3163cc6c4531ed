//! A monitor's drift runs and backtests with its effective settings: `warden.yaml`'s
//! `drift_monitors[]` entry, the fixes runbook 3 applied, and (for the monitor's own runs)
//! the temporary threshold override in force. Blocking: callers run these off the async
//! runtime. Errors name the file, prefix or column, as `warden drift` does.

use std::time::Duration;

use warden_config::{DriftMonitorConfig, DriftReference};
use warden_core::Timestamp;
use warden_data::Dataset;
use warden_drift::backtest::{self, BacktestReference, BacktestReport, LabelSemantics};
use warden_drift::engine::{Reference, Side, sliding_sides};
use warden_drift::options::{Roles, Thresholds};
use warden_drift::profile::DriftProfile;
use warden_drift::{DriftOptions, DriftReport, Season};

use super::state::MonitorState;

/// What the current window is compared with, after fixes.
#[derive(Debug, Clone, PartialEq)]
pub enum ReferenceSpec {
    /// A data location.
    Data(String),
    /// A profile file.
    Profile(String),
    /// The logs right before the window, this many milliseconds.
    Sliding(i64),
}

/// A monitor's settings as they run now.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The prediction logs.
    pub predictions: String,
    /// The reference.
    pub reference: ReferenceSpec,
    /// How the comparison decides.
    pub options: DriftOptions,
    /// One line per setting that does not come from `warden.yaml` as written.
    pub changed: Vec<String>,
}

impl Settings {
    /// A short description for results and reports.
    pub fn describe(&self) -> String {
        let reference = match &self.reference {
            ReferenceSpec::Data(location) => format!("reference {location}"),
            ReferenceSpec::Profile(path) => format!("profile {path}"),
            ReferenceSpec::Sliding(ms) => format!("sliding reference {}", duration_text(*ms)),
        };
        let season = self
            .options
            .seasonal
            .map_or(String::new(), |s| format!(", seasonal {}", s.name()));
        format!(
            "{reference}, window {}{season}",
            duration_text(self.options.window_ms)
        )
    }
}

fn duration_text(ms: i64) -> String {
    warden_core::format_duration(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Whether a run uses the temporary override (the monitor's own runs) or not (diagnosis
/// and closure judge the settings that stay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Override {
    /// Apply the override in force at this time.
    At(Timestamp),
    /// Leave it out.
    Without,
}

/// The effective settings of `monitor` with `state` on top.
///
/// # Errors
/// A schema or thresholds file that does not load, naming it.
pub fn settings(
    monitor: &DriftMonitorConfig,
    state: &MonitorState,
    with: Override,
) -> Result<Settings, String> {
    let mut options = DriftOptions::default();
    let mut changed = Vec::new();
    if let Some(schema) = &monitor.schema {
        options.roles =
            Roles::from_file(std::path::Path::new(schema)).map_err(|e| e.to_string())?;
    }
    if monitor.timestamp.is_some() {
        options.roles.timestamp = monitor.timestamp.clone();
    }
    options
        .roles
        .segments
        .extend(monitor.segments.iter().cloned());
    let thresholds = match &state.fixes.thresholds {
        Some(path) => {
            changed.push(format!("thresholds {path} (tuned by runbook 3)"));
            Some(path.clone())
        }
        None => monitor.thresholds.clone(),
    };
    if let Some(path) = thresholds {
        let loaded =
            Thresholds::from_file(std::path::Path::new(&path)).map_err(|e| e.to_string())?;
        options.apply_thresholds(loaded, &path);
    }
    let season = match &state.fixes.seasonal {
        Some(season) => {
            changed.push(format!("seasonal {season} (applied by runbook 3)"));
            Some(season.as_str())
        }
        None => monitor.seasonal.as_deref(),
    };
    options.seasonal = season.and_then(Season::parse);
    options.window_ms = millis(monitor.window);
    let reference = match (state.fixes.sliding_reference_ms, &monitor.reference) {
        (Some(ms), _) => {
            changed.push(format!(
                "sliding reference {} (applied by runbook 3)",
                duration_text(ms)
            ));
            ReferenceSpec::Sliding(ms)
        }
        (None, DriftReference::Data { location }) => ReferenceSpec::Data(location.clone()),
        (None, DriftReference::Profile { path }) => ReferenceSpec::Profile(path.clone()),
        (None, DriftReference::Sliding { window }) => ReferenceSpec::Sliding(millis(*window)),
    };
    if let ReferenceSpec::Sliding(ms) = reference {
        options.reference_window_ms = Some(ms);
    }
    if let Override::At(now) = with
        && let Some(active) = state.active_override(now)
    {
        options.numeric_min_effect *= active.factor;
        options.categorical_min_effect *= active.factor;
        for value in options.column_min_effects.values_mut() {
            *value *= active.factor;
        }
        if let Some((column, threshold)) = &active.column {
            options
                .column_min_effects
                .insert(column.clone(), *threshold);
        }
        changed.push(format!(
            "temporary override by {} until {} ({})",
            active.set_by, active.expires_at, active.reason
        ));
    }
    Ok(Settings {
        predictions: monitor.predictions.clone(),
        reference,
        options,
        changed,
    })
}

fn open(location: &str) -> Result<Dataset, String> {
    Dataset::open(location).map_err(|e| e.to_string())
}

fn fixed_reference(spec: &ReferenceSpec) -> Result<Option<Reference>, String> {
    Ok(match spec {
        ReferenceSpec::Data(location) => Some(Reference::Data(Side::all(open(location)?))),
        ReferenceSpec::Profile(path) => Some(Reference::Profile(Box::new(
            DriftProfile::load(std::path::Path::new(path)).map_err(|e| e.to_string())?,
        ))),
        ReferenceSpec::Sliding(_) => None,
    })
}

/// The newest window of the logs compared with the reference; `season` replaces the
/// settings' season when given (`Some(None)`: none).
///
/// # Errors
/// Unreadable logs or reference, an empty window, a timestamp column that is missing.
pub fn compare(settings: &Settings, season: Option<Option<Season>>) -> Result<DriftReport, String> {
    let mut options = settings.options.clone();
    if let Some(season) = season {
        options.seasonal = season;
    }
    let logs = open(&settings.predictions)?;
    let (reference, current) = match fixed_reference(&settings.reference)? {
        Some(reference) => {
            // The current window alone: a zero-length sliding reference before it.
            let mut window_only = options.clone();
            window_only.reference_window_ms = Some(0);
            let (_, current) = sliding_sides(logs, &window_only).map_err(|e| e.to_string())?;
            (reference, current)
        }
        None => {
            let (reference, current) = sliding_sides(logs, &options).map_err(|e| e.to_string())?;
            (Reference::Data(reference), current)
        }
    };
    warden_drift::run(&reference, &current, &options).map_err(|e| e.to_string())
}

/// The monitor's backtest on its labelled history with these settings.
///
/// # Errors
/// No labelled history configured, unreadable labels or history, a history too short.
pub fn backtest(
    monitor: &DriftMonitorConfig,
    settings: &Settings,
) -> Result<BacktestReport, String> {
    let Some(config) = &monitor.backtest else {
        return Err(format!(
            "drift monitor {}: no labelled history (drift_monitors[].backtest.labels)",
            monitor.name
        ));
    };
    let labels =
        backtest::load_labels(std::path::Path::new(&config.labels)).map_err(|e| e.to_string())?;
    let semantics = LabelSemantics::parse(&config.labels_mark).unwrap_or(LabelSemantics::Change);
    let fixed = fixed_reference(&settings.reference)?;
    let reference = match &fixed {
        Some(fixed) => BacktestReference::Fixed(fixed),
        None => BacktestReference::Sliding,
    };
    backtest::backtest(
        open(&config.history)?,
        &labels,
        &settings.options,
        reference,
        semantics,
        &|_, _| {},
    )
    .map_err(|e| e.to_string())
}
