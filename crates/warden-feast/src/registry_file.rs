//! The Feast registry read from its file (`registry: data/registry.db` in
//! `feature_store.yaml`, a serialized `feast.core.Registry` protobuf) — for deployments that
//! do not run the registry REST server. Only what Warden uses is decoded: feature views with
//! their entity columns, features, TTL, file source and materialization intervals.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use warden_connect::ConnectError;

use crate::protobuf::{Field, fields, message, messages, text, varint_field};
use crate::registry::{Column, FeatureView, Interval};

// Field numbers of feast/core/Registry.proto, FeatureView.proto, Feature.proto,
// DataSource.proto (Feast 0.67).
const REGISTRY_FEATURE_VIEWS: u32 = 6;
const VIEW_SPEC: u32 = 1;
const VIEW_META: u32 = 2;
const SPEC_NAME: u32 = 1;
const SPEC_PROJECT: u32 = 2;
const SPEC_FEATURES: u32 = 4;
const SPEC_TTL: u32 = 6;
const SPEC_BATCH_SOURCE: u32 = 7;
const SPEC_ONLINE: u32 = 8;
const SPEC_ENTITY_COLUMNS: u32 = 12;
const FEATURE_NAME: u32 = 1;
const FEATURE_VALUE_TYPE: u32 = 2;
const SOURCE_TIMESTAMP_FIELD: u32 = 3;
const SOURCE_FILE_OPTIONS: u32 = 11;
const FILE_URI: u32 = 2;
const META_MATERIALIZATION_INTERVALS: u32 = 3;
const INTERVAL_START: u32 = 1;
const INTERVAL_END: u32 = 2;

/// A registry file for one project.
#[derive(Debug, Clone)]
pub struct RegistryFile {
    path: PathBuf,
    project: String,
}

impl RegistryFile {
    /// The registry at `path`, read for `project`.
    pub fn new(path: &Path, project: &str) -> Self {
        Self {
            path: path.to_path_buf(),
            project: project.to_string(),
        }
    }

    /// The project read.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The project's feature views, read from the file now.
    ///
    /// # Errors
    /// [`ConnectError::Unreachable`] when the file cannot be read, [`ConnectError::Decode`]
    /// when it is not a Feast registry; both name the path.
    pub fn feature_views(&self) -> Result<Vec<FeatureView>, ConnectError> {
        let shown = self.path.display().to_string();
        let bytes = std::fs::read(&self.path).map_err(|err| ConnectError::Unreachable {
            url: shown.clone(),
            message: format!("cannot read the Feast registry: {err}"),
        })?;
        decode_views(&bytes, &self.project).ok_or_else(|| ConnectError::Decode {
            url: shown,
            message: "not a Feast registry file".into(),
        })
    }
}

/// The feature views of `project` in a serialized `Registry`.
pub fn decode_views(bytes: &[u8], project: &str) -> Option<Vec<FeatureView>> {
    let registry = fields(bytes)?;
    let mut views = Vec::new();
    for view in messages(&registry, REGISTRY_FEATURE_VIEWS) {
        let view = fields(view)?;
        let spec = fields(message(&view, VIEW_SPEC)?)?;
        if text(&spec, SPEC_PROJECT)
            .as_deref()
            .is_some_and(|p| p != project)
        {
            continue;
        }
        let meta = match message(&view, VIEW_META) {
            Some(meta) => fields(meta)?,
            None => Vec::new(),
        };
        views.push(decode_view(&spec, &meta)?);
    }
    Some(views)
}

fn decode_view(spec: &[Field<'_>], meta: &[Field<'_>]) -> Option<FeatureView> {
    let columns = |number| -> Option<Vec<Column>> {
        messages(spec, number)
            .into_iter()
            .map(|feature| {
                let feature = fields(feature)?;
                Some(Column {
                    name: text(&feature, FEATURE_NAME)?,
                    value_type: value_type_name(
                        varint_field(&feature, FEATURE_VALUE_TYPE).unwrap_or(0),
                    ),
                })
            })
            .collect()
    };
    let ttl = match message(spec, SPEC_TTL) {
        Some(duration) => {
            let duration = fields(duration)?;
            let seconds = varint_field(&duration, 1).unwrap_or(0);
            let nanos = varint_field(&duration, 2).unwrap_or(0);
            let total = Duration::from_secs(seconds) + Duration::from_nanos(nanos);
            (!total.is_zero()).then_some(total)
        }
        None => None,
    };
    let source = match message(spec, SPEC_BATCH_SOURCE) {
        Some(source) => fields(source)?,
        None => Vec::new(),
    };
    let source_uri = message(&source, SOURCE_FILE_OPTIONS)
        .and_then(fields)
        .and_then(|options| text(&options, FILE_URI));
    let intervals = messages(meta, META_MATERIALIZATION_INTERVALS)
        .into_iter()
        .map(|interval| {
            let interval = fields(interval)?;
            Some(Interval {
                start: timestamp(message(&interval, INTERVAL_START)?)?,
                end: timestamp(message(&interval, INTERVAL_END)?)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(FeatureView {
        name: text(spec, SPEC_NAME)?,
        entity_columns: columns(SPEC_ENTITY_COLUMNS)?,
        features: columns(SPEC_FEATURES)?,
        ttl,
        source_uri,
        source_timestamp_field: text(&source, SOURCE_TIMESTAMP_FIELD),
        materialization_intervals: intervals,
        online: varint_field(spec, SPEC_ONLINE).is_some_and(|v| v != 0),
    })
}

fn timestamp(bytes: &[u8]) -> Option<DateTime<Utc>> {
    crate::redis_layout::decode_timestamp(bytes)
}

/// The name of a `feast.types.ValueType.Enum` number.
fn value_type_name(number: u64) -> String {
    match number {
        1 => "BYTES",
        2 => "STRING",
        3 => "INT32",
        4 => "INT64",
        5 => "DOUBLE",
        6 => "FLOAT",
        7 => "BOOL",
        8 => "UNIX_TIMESTAMP",
        11 => "BYTES_LIST",
        12 => "STRING_LIST",
        13 => "INT32_LIST",
        14 => "INT64_LIST",
        15 => "DOUBLE_LIST",
        16 => "FLOAT_LIST",
        17 => "BOOL_LIST",
        18 => "UNIX_TIMESTAMP_LIST",
        19 => "NULL",
        _ => "UNKNOWN",
    }
    .to_string()
}
