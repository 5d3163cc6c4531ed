//! `warden.yaml`: Warden's one configuration file.
//!
//! Loading happens in two pure steps and one explicit effectful one:
//! 1. [`raw`] — serde structs mirroring the YAML, `deny_unknown_fields` everywhere, so a typo
//!    is an error rather than a silently ignored key;
//! 2. [`validate`] — checks every value and produces the typed [`Config`], no I/O;
//! 3. [`SecretRef::resolve`] — reading secrets from the environment or files, only when a
//!    command needs them.
//!
//! Every error names the file, line, column and field ([`ConfigError`]), because the person
//! reading it is on call and should not have to hunt.
//!
//! YAML is read with `serde-saphyr`: `serde_yaml` is deprecated and unmaintained, its fork
//! `serde_yml` carries a soundness advisory, while serde-saphyr is maintained, panic-free on
//! malformed input (it is fuzzed), has no unsafe code, and reports locations for every error
//! and for [`serde_saphyr::Spanned`] values, which lets validation errors point at a line too.

pub mod drift;
pub mod error;
pub mod model;
pub mod models;
pub mod pipelines;
pub mod raw;
pub mod secret;
pub mod serving;
pub mod validate;

use std::path::Path;

pub use drift::{
    DriftAlerts, DriftBacktest, DriftMonitorConfig, DriftReference, RetrainingTrigger,
};
pub use error::{ConfigError, ConfigErrors};
pub use model::{
    AirflowConfig, AlertmanagerConfig, ApiToken, Config, Connectors, DetectorConfig, FeastConfig,
    HttpEndpoint, KfpConfig, KubernetesConfig, MlflowConfig, ModelServerConfig, NotificationConfig,
    NotificationTarget, ObjectStoreConfig, PrometheusConfig, Role, RunbooksConfig, ServerConfig,
    StoreConfig,
};
pub use models::{BusinessMetric, BusinessSource, ModelColumns, ModelConfig};
pub use pipelines::{PipelineConfig, PipelineSource};
pub use secret::{Secret, SecretError, SecretRef};
pub use serving::{BurnRateConfig, BurnWindow, MetricsFlavor, ServiceConfig};

/// Reads and validates the configuration file at `path`.
///
/// # Errors
/// [`ConfigErrors`] with one entry when the file cannot be read or parsed, and one entry per
/// invalid value otherwise; each names the file, line, column and field.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        ConfigErrors::from(ConfigError::unlocated(
            path,
            "",
            format!("cannot read file: {err}"),
        ))
    })?;
    parse(path, &text)
}

/// Parses and validates configuration `text` that was read from `path` (used for error
/// messages and to resolve relative paths; it is not read).
///
/// # Errors
/// As [`load`].
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    let raw = raw::parse(path, text)?;
    validate::validate(path, raw)
}

/// Parses `text` and validates it as far as it goes: the configuration with every invalid
/// value left at its default, and every validation problem (empty when it is valid). For
/// checks that report all problems at once; nothing should run on a configuration with
/// problems.
///
/// # Errors
/// Text that is not YAML of the configuration's shape: nothing to validate.
pub fn parse_all(path: &Path, text: &str) -> Result<(Config, Vec<ConfigError>), ConfigErrors> {
    let raw = raw::parse(path, text)?;
    Ok(validate::validate_all(path, raw))
}
