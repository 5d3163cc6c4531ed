//! From what the user typed to local files: a file, a directory tree, a glob, or an
//! `s3://bucket/prefix` (optionally ending in a glob). S3 objects are downloaded into a
//! temporary directory so the Parquet reader can seek in them without holding them in memory.
//!
//! S3 settings are passed in ([`S3Settings`]), by default from the usual environment:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, and `AWS_ENDPOINT_URL` (or
//! `AWS_ENDPOINT`) for S3-compatible stores; `http://` endpoints are allowed.

use std::path::{Path, PathBuf};

use crate::DataError;

/// A file format Warden reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    JsonLines,
}

impl Format {
    /// The format a file name implies, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".parquet") || lower.ends_with(".pq") {
            Some(Self::Parquet)
        } else if lower.ends_with(".csv") {
            Some(Self::Csv)
        } else if lower.ends_with(".jsonl")
            || lower.ends_with(".ndjson")
            || lower.ends_with(".json")
        {
            Some(Self::JsonLines)
        } else {
            None
        }
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Parquet => "Parquet",
            Self::Csv => "CSV",
            Self::JsonLines => "JSON lines",
        }
    }
}

/// One input file.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFile {
    /// Where it is on this machine.
    pub path: PathBuf,
    /// How the user knows it: the path, or the `s3://` URL it was downloaded from.
    pub display: String,
    /// Its format.
    pub format: Format,
}

/// The files at a location, sorted by name so results never depend on directory order, and a
/// directory holding any downloads (deleted when dropped).
pub fn resolve(
    location: &str,
    s3: &S3Settings,
) -> Result<(Vec<DataFile>, Option<tempfile::TempDir>), DataError> {
    if let Some(rest) = location.strip_prefix("s3://") {
        let (files, downloads) = download_s3(location, rest, s3)?;
        return Ok((files, Some(downloads)));
    }
    let files = if location.contains(['*', '?', '[']) {
        let pattern = glob::glob(location).map_err(|error| DataError::Io {
            path: PathBuf::from(location),
            message: format!("invalid glob pattern: {error}"),
        })?;
        let mut paths = Vec::new();
        for entry in pattern {
            let path = entry.map_err(|error| DataError::Io {
                path: error.path().to_path_buf(),
                message: error.error().to_string(),
            })?;
            if path.is_dir() {
                walk(&path, &mut paths)?;
            } else {
                paths.push(path);
            }
        }
        paths
    } else {
        let path = PathBuf::from(location);
        let metadata = std::fs::metadata(&path).map_err(|error| DataError::Io {
            path: path.clone(),
            message: error.to_string(),
        })?;
        if metadata.is_dir() {
            let mut paths = Vec::new();
            walk(&path, &mut paths)?;
            paths
        } else {
            // A single file is taken at its word; unknown extensions are read as Parquet only
            // if they carry Parquet's magic bytes, else reported.
            let format = Format::from_name(location)
                .or_else(|| sniff(&path))
                .ok_or_else(|| DataError::Io {
                    path: path.clone(),
                    message: "unknown format: expected .parquet, .csv, .jsonl or .ndjson".into(),
                })?;
            return Ok((
                vec![DataFile {
                    display: location.to_string(),
                    path,
                    format,
                }],
                None,
            ));
        }
    };
    let mut files: Vec<DataFile> = files
        .into_iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_string();
            if name.starts_with('.') || name.starts_with('_') {
                return None; // _SUCCESS markers, .crc files, hidden files
            }
            let format = Format::from_name(&name)?;
            Some(DataFile {
                display: path.display().to_string(),
                path,
                format,
            })
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    if files.is_empty() {
        return Err(DataError::NoFiles {
            location: location.to_string(),
        });
    }
    Ok((files, None))
}

fn sniff(path: &Path) -> Option<Format> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .ok()?
        .read_exact(&mut magic)
        .ok()?;
    (&magic == b"PAR1").then_some(Format::Parquet)
}

fn walk(directory: &Path, out: &mut Vec<PathBuf>) -> Result<(), DataError> {
    let entries = std::fs::read_dir(directory).map_err(|error| DataError::Io {
        path: directory.to_path_buf(),
        message: error.to_string(),
    })?;
    for entry in entries {
        let entry = entry.map_err(|error| DataError::Io {
            path: directory.to_path_buf(),
            message: error.to_string(),
        })?;
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// How to reach S3 or an S3-compatible store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct S3Settings {
    /// Endpoint URL for S3-compatible stores (MinIO, moto, …); AWS when `None`.
    pub endpoint: Option<String>,
    /// Region; `us-east-1` when `None`.
    pub region: Option<String>,
    /// Access key id; else the usual AWS credential chain.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
}

impl S3Settings {
    /// Settings from `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT`), `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            endpoint: var("AWS_ENDPOINT_URL").or_else(|| var("AWS_ENDPOINT")),
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
        }
    }
}

fn s3_store(
    bucket: &str,
    s3: &S3Settings,
    timeout: Option<std::time::Duration>,
) -> Result<object_store::aws::AmazonS3, object_store::Error> {
    use object_store::aws::AmazonS3Builder;
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_region(s3.region.clone().unwrap_or_else(|| "us-east-1".into()));
    // One set of client options: setting them replaces any set before (HTTP allowed included).
    let mut options = object_store::ClientOptions::new();
    if let Some(endpoint) = &s3.endpoint {
        builder = builder.with_endpoint(endpoint);
        options = options.with_allow_http(endpoint.starts_with("http://"));
    }
    if let (Some(key), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
        builder = builder
            .with_access_key_id(key)
            .with_secret_access_key(secret);
    }
    if let Some(timeout) = timeout {
        options = options.with_timeout(timeout);
        builder = builder.with_retry(object_store::RetryConfig {
            max_retries: 0,
            retry_timeout: timeout,
            ..Default::default()
        });
    }
    builder = builder.with_client_options(options);
    builder.build()
}

/// Lists up to `limit` keys under an `s3://bucket/prefix` with these settings — the pipeline
/// runbook's artifact-storage check: the number found, or the exact failure (no such bucket,
/// access denied, not authenticated, unreachable, timeout) naming the URL.
///
/// # Errors
/// The listing failed.
pub fn probe_s3(
    url: &str,
    s3: &S3Settings,
    timeout: std::time::Duration,
    limit: usize,
) -> Result<usize, DataError> {
    use futures::StreamExt;
    use object_store::ObjectStore;

    let store_error = |message: String| DataError::ObjectStore {
        url: url.to_string(),
        message,
    };
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| store_error("not an s3:// URL".into()))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let store = s3_store(bucket, s3, Some(timeout)).map_err(|e| store_error(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| store_error(format!("runtime: {error}")))?;
    runtime.block_on(async {
        let prefix = object_store::path::Path::from(prefix.trim_end_matches('/'));
        let mut listing = store.list(Some(&prefix)).take(limit);
        let mut found = 0;
        let listed = tokio::time::timeout(timeout, async {
            while let Some(item) = listing.next().await {
                item.map_err(|error| store_error(describe_store_error(&error)))?;
                found += 1;
            }
            Ok::<_, DataError>(())
        })
        .await;
        match listed {
            Ok(result) => result.map(|()| found),
            Err(_) => Err(store_error(format!("timed out after {timeout:?}"))),
        }
    })
}

fn download_s3(
    location: &str,
    rest: &str,
    s3: &S3Settings,
) -> Result<(Vec<DataFile>, tempfile::TempDir), DataError> {
    use futures::TryStreamExt;
    use object_store::ObjectStore;

    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let store_error = |message: String| DataError::ObjectStore {
        url: location.to_string(),
        message,
    };
    let store = s3_store(bucket, s3, None).map_err(|error| store_error(error.to_string()))?;
    let (prefix, pattern) = match key.rfind('/') {
        Some(slash) if key[slash..].contains(['*', '?', '[']) => {
            (&key[..slash], Some(&key[slash + 1..]))
        }
        None if key.contains(['*', '?', '[']) => ("", Some(key)),
        _ => (key, None),
    };
    let pattern = pattern
        .map(|p| {
            glob::Pattern::new(p)
                .map_err(|error| store_error(format!("invalid glob pattern: {error}")))
        })
        .transpose()?;
    let downloads = tempfile::tempdir()
        .map_err(|error| store_error(format!("temporary directory: {error}")))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| store_error(format!("runtime: {error}")))?;
    let files = runtime.block_on(async {
        let prefix_path = object_store::path::Path::from(prefix.trim_end_matches('/'));
        let mut listed: Vec<object_store::ObjectMeta> = store
            .list(Some(&prefix_path))
            .try_collect()
            .await
            .map_err(|error| store_error(describe_store_error(&error)))?;
        // A listing is of what lies under `prefix/`: a key naming one object lists nothing.
        if listed.is_empty() && pattern.is_none() && !key.is_empty() && !key.ends_with('/') {
            match store.head(&prefix_path).await {
                Ok(meta) => listed.push(meta),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(store_error(describe_store_error(&error))),
            }
        }
        let mut files = Vec::new();
        let mut keys: Vec<&object_store::ObjectMeta> = listed.iter().collect();
        keys.sort_by(|a, b| a.location.cmp(&b.location));
        for meta in keys {
            let key = meta.location.as_ref();
            let name = key.rsplit('/').next().unwrap_or(key);
            let Some(format) = Format::from_name(name) else {
                continue;
            };
            if name.starts_with(['.', '_']) || pattern.as_ref().is_some_and(|p| !p.matches(name)) {
                continue;
            }
            let local = downloads.path().join(key);
            if let Some(parent) = local.parent() {
                std::fs::create_dir_all(parent).map_err(|error| store_error(error.to_string()))?;
            }
            let url = format!("s3://{bucket}/{key}");
            let bytes = store
                .get(&meta.location)
                .await
                .map_err(|error| DataError::ObjectStore {
                    url: url.clone(),
                    message: describe_store_error(&error),
                })?
                .bytes()
                .await
                .map_err(|error| DataError::ObjectStore {
                    url: url.clone(),
                    message: describe_store_error(&error),
                })?;
            std::fs::write(&local, &bytes).map_err(|error| DataError::Io {
                path: local.clone(),
                message: error.to_string(),
            })?;
            files.push(DataFile {
                path: local,
                display: url,
                format,
            });
        }
        Ok::<_, DataError>(files)
    })?;
    if files.is_empty() {
        return Err(DataError::NoFiles {
            location: location.to_string(),
        });
    }
    Ok((files, downloads))
}

/// object_store's messages nest the whole error chain; the first line names the cause.
fn describe_store_error(error: &object_store::Error) -> String {
    match error {
        object_store::Error::NotFound { .. } => "not found (no such bucket or key)".to_string(),
        object_store::Error::PermissionDenied { .. } => "access denied".to_string(),
        object_store::Error::Unauthenticated { .. } => {
            "not authenticated (check AWS credentials)".to_string()
        }
        other => {
            // S3-compatible stores answer with an XML error code object_store passes through.
            let text = other.to_string();
            let known = [
                ("NoSuchBucket", "no such bucket"),
                ("AccessDenied", "access denied"),
                (
                    "InvalidAccessKeyId",
                    "credentials rejected (unknown access key)",
                ),
                (
                    "SignatureDoesNotMatch",
                    "credentials rejected (wrong secret key)",
                ),
                ("ExpiredToken", "credentials expired"),
                ("error sending request", "unreachable"),
                ("Connection refused", "unreachable (connection refused)"),
                ("timed out", "timed out"),
            ];
            match known.iter().find(|(needle, _)| text.contains(needle)) {
                Some((_, said)) => {
                    format!("{said}: {}", text.chars().take(300).collect::<String>())
                }
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_file_names() {
        assert_eq!(Format::from_name("part-0.parquet"), Some(Format::Parquet));
        assert_eq!(Format::from_name("LOGS.CSV"), Some(Format::Csv));
        assert_eq!(Format::from_name("x.ndjson"), Some(Format::JsonLines));
        assert_eq!(Format::from_name("_SUCCESS"), None);
    }

    #[test]
    fn a_directory_tree_is_walked_in_name_order() {
        let root = tempfile::tempdir().unwrap();
        for day in ["2026-11-24", "2026-11-23"] {
            std::fs::create_dir(root.path().join(day)).unwrap();
            std::fs::write(root.path().join(day).join("part-0.csv"), "a\n1\n").unwrap();
            std::fs::write(root.path().join(day).join("_SUCCESS"), "").unwrap();
        }
        let (files, downloads) =
            resolve(root.path().to_str().unwrap(), &S3Settings::default()).unwrap();
        assert!(downloads.is_none());
        assert_eq!(files.len(), 2);
        assert!(files[0].display.contains("2026-11-23"), "{files:?}");
    }

    #[test]
    fn an_empty_directory_is_an_error_naming_it() {
        let root = tempfile::tempdir().unwrap();
        let error = resolve(root.path().to_str().unwrap(), &S3Settings::default())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(root.path().to_str().unwrap()) && error.contains("no Parquet"),
            "{error}"
        );
    }
}
