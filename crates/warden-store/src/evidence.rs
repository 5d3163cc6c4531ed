//! The evidence store (R6.4): captured artifacts as files named by the SHA-256 of their
//! content under `<dir>/sha256/<first two hex digits>/<digest>`. Identical content is stored
//! once; a write goes to a temporary file renamed into place, so a crash never leaves a
//! partial artifact under a valid name; content above the size limit is cut and the cut is
//! recorded on the [`Evidence`].

use std::io::Write;
use std::path::{Path, PathBuf};

use warden_core::{ContentHash, Evidence, Timestamp};

use crate::StoreError;

/// Default largest artifact kept: 8 MiB (a pod log tail, a PromQL range, a prediction sample).
pub const DEFAULT_MAX_BYTES: usize = 8 * 1024 * 1024;

/// A directory of content-addressed artifacts.
#[derive(Debug, Clone)]
pub struct EvidenceStore {
    root: PathBuf,
    max_bytes: usize,
}

/// What [`EvidenceStore::put`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvidence {
    /// The artifact's metadata, to attach to the incident.
    pub evidence: Evidence,
    /// Whether the bytes were new (false: identical content was already stored).
    pub newly_written: bool,
}

impl EvidenceStore {
    /// A store under `root` keeping at most `max_bytes` per artifact.
    pub fn new(root: impl Into<PathBuf>, max_bytes: usize) -> Self {
        Self {
            root: root.into(),
            max_bytes,
        }
    }

    /// The file an artifact with `hash` lives in.
    pub fn path_of(&self, hash: &ContentHash) -> PathBuf {
        let hex = hash.as_str();
        self.root.join("sha256").join(&hex[..2]).join(hex)
    }

    /// Stores `bytes` (cut to the size limit) and describes them.
    ///
    /// # Errors
    /// [`StoreError::Evidence`] naming the file that could not be written.
    pub fn put(
        &self,
        name: &str,
        media_type: &str,
        source: &str,
        captured_at: Timestamp,
        bytes: &[u8],
    ) -> Result<StoredEvidence, StoreError> {
        let truncated = bytes.len() > self.max_bytes;
        let kept = &bytes[..bytes.len().min(self.max_bytes)];
        let evidence = Evidence::describe(name, media_type, source, captured_at, kept, truncated);
        let path = self.path_of(&evidence.hash);
        if path.exists() {
            return Ok(StoredEvidence {
                evidence,
                newly_written: false,
            });
        }
        let dir = path.parent().unwrap_or(&self.root);
        let fail = |at: &Path, err: std::io::Error| StoreError::Evidence {
            path: at.display().to_string(),
            message: err.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|err| fail(dir, err))?;
        // Unique per write: two writers of the same content (two tasks, two processes) each
        // write their own file, and whichever renames last replaces identical bytes.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let temporary = dir.join(format!(
            ".{}.{}.{}.tmp",
            evidence.hash.as_str(),
            std::process::id(),
            WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let mut file = std::fs::File::create(&temporary).map_err(|err| fail(&temporary, err))?;
        file.write_all(kept).map_err(|err| fail(&temporary, err))?;
        file.sync_all().map_err(|err| fail(&temporary, err))?;
        std::fs::rename(&temporary, &path).map_err(|err| fail(&path, err))?;
        Ok(StoredEvidence {
            evidence,
            newly_written: true,
        })
    }

    /// Reads an artifact back and verifies its content against its hash.
    ///
    /// # Errors
    /// [`StoreError::Evidence`] when it is missing, unreadable or its content does not match.
    pub fn get(&self, hash: &ContentHash) -> Result<Vec<u8>, StoreError> {
        let path = self.path_of(hash);
        let bytes = std::fs::read(&path).map_err(|err| StoreError::Evidence {
            path: path.display().to_string(),
            message: err.to_string(),
        })?;
        if ContentHash::of(&bytes) != *hash {
            return Err(StoreError::Evidence {
                path: path.display().to_string(),
                message: format!("content does not match {hash}: the file was altered"),
            });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn at() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap()
    }

    #[test]
    fn stores_by_content_once_and_reads_back_verified() {
        let dir = tempfile::tempdir().unwrap();
        let store = EvidenceStore::new(dir.path(), DEFAULT_MAX_BYTES);
        let first = store
            .put("a.log", "text/plain", "pod/x", at(), b"OOMKilled")
            .unwrap();
        assert!(first.newly_written);
        let again = store
            .put("b.log", "text/plain", "pod/y", at(), b"OOMKilled")
            .unwrap();
        assert!(!again.newly_written, "identical content is stored once");
        assert_eq!(first.evidence.hash, again.evidence.hash);
        let path = store.path_of(&first.evidence.hash);
        assert!(path.starts_with(dir.path().join("sha256")));
        assert_eq!(store.get(&first.evidence.hash).unwrap(), b"OOMKilled");
    }

    #[test]
    fn oversized_content_is_cut_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let store = EvidenceStore::new(dir.path(), 4);
        let stored = store
            .put("big.log", "text/plain", "pod/x", at(), b"0123456789")
            .unwrap();
        assert!(stored.evidence.truncated);
        assert_eq!(stored.evidence.size_bytes, 4);
        assert_eq!(store.get(&stored.evidence.hash).unwrap(), b"0123");
    }

    #[test]
    fn altered_files_are_detected() {
        let dir = tempfile::tempdir().unwrap();
        let store = EvidenceStore::new(dir.path(), DEFAULT_MAX_BYTES);
        let stored = store
            .put("a.log", "text/plain", "pod/x", at(), b"original")
            .unwrap();
        std::fs::write(store.path_of(&stored.evidence.hash), b"tampered").unwrap();
        let error = store.get(&stored.evidence.hash).unwrap_err();
        assert!(error.to_string().contains("does not match"), "{error}");
    }
}
