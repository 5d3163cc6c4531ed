//! Evidence: captured artifacts (logs, query results, registry metadata, prediction samples),
//! addressed by the SHA-256 of their content so a copy can be verified and never duplicated.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Timestamp;

/// The lowercase hex SHA-256 of an artifact's bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentHash(String);

impl ContentHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let digest = Sha256::digest(bytes);
        let mut hex = String::with_capacity(64);
        for byte in digest {
            hex.push_str(&format!("{byte:02x}"));
        }
        Self(hex)
    }

    /// Accepts an existing hex digest, e.g. read back from storage.
    ///
    /// # Errors
    /// When `hex` is not 64 lowercase hex digits.
    pub fn parse(hex: &str) -> Result<Self, String> {
        if hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(hex.to_string()))
        } else {
            Err(format!("not a sha256 hex digest: {hex:?}"))
        }
    }

    /// The hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

/// Metadata of one captured artifact; the bytes live in the evidence store under `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Content address of the stored bytes.
    pub hash: ContentHash,
    /// A short human name, e.g. `validate-attempt-1.log`.
    pub name: String,
    /// IANA media type, e.g. `text/plain`, `application/json`.
    pub media_type: String,
    /// Where it came from: a URL, a pod and container, a query.
    pub source: String,
    /// When it was captured.
    pub captured_at: Timestamp,
    /// Size of the stored bytes.
    pub size_bytes: u64,
    /// Whether the source had more than the store's size limit and the rest was cut off.
    pub truncated: bool,
}

impl Evidence {
    /// Describes `bytes` captured from `source`; `truncated` records that `bytes` is a prefix.
    pub fn describe(
        name: impl Into<String>,
        media_type: impl Into<String>,
        source: impl Into<String>,
        captured_at: Timestamp,
        bytes: &[u8],
        truncated: bool,
    ) -> Self {
        Self {
            hash: ContentHash::of(bytes),
            name: name.into(),
            media_type: media_type.into(),
            source: source.into(),
            captured_at,
            size_bytes: bytes.len() as u64,
            truncated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn hash_is_sha256_of_the_content() {
        // The SHA-256 of "abc" from FIPS 180-2, appendix B.1.
        assert_eq!(
            ContentHash::of(b"abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(ContentHash::of(b"abc"), ContentHash::of(b"abd"));
    }

    #[test]
    fn parse_accepts_only_hex_digests() {
        let hash = ContentHash::of(b"log line");
        assert_eq!(ContentHash::parse(hash.as_str()), Ok(hash.clone()));
        assert!(ContentHash::parse("xyz").is_err());
        assert!(ContentHash::parse(&hash.as_str().to_uppercase()).is_err());
    }

    #[test]
    fn describe_records_size_and_hash() {
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap();
        let evidence = Evidence::describe("a.log", "text/plain", "pod/x", at, b"hello", true);
        assert_eq!(evidence.size_bytes, 5);
        assert!(evidence.truncated);
        assert_eq!(evidence.hash, ContentHash::of(b"hello"));
    }
}
