//! Human durations as written in configuration and runbooks: `500ms`, `30s`, `15m`, `1h30m`,
//! `28d`, `2w`. One parser for the whole project so "30 minutes" means the same everywhere.

use std::time::Duration;

use thiserror::Error;

/// Why a duration string was rejected; the message names the offending text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseDurationError {
    /// The string was empty or only whitespace.
    #[error("empty duration (expected e.g. 30s, 15m, 1h30m, 28d)")]
    Empty,
    /// A number was not followed by a unit, or the text is not a number.
    #[error(
        "invalid duration {0:?}: expected a whole number followed by a unit (ms, s, m, h, d, w), e.g. 15m"
    )]
    Malformed(String),
    /// The unit is not one of ms, s, m, h, d, w.
    #[error("invalid duration {text:?}: unknown unit {unit:?} (use ms, s, m, h, d or w)")]
    UnknownUnit {
        /// The whole duration text.
        text: String,
        /// The unit that was not recognised.
        unit: String,
    },
    /// The value does not fit in a duration.
    #[error("duration {0:?} is too large")]
    Overflow(String),
}

/// Parses a duration such as `30s`, `15m`, `1h30m`, `28d` or `2w` (no fractions, no signs).
///
/// # Errors
/// [`ParseDurationError`] when the text is empty, malformed, uses an unknown unit or overflows.
pub fn parse_duration(text: &str) -> Result<Duration, ParseDurationError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ParseDurationError::Empty);
    }
    let malformed = || ParseDurationError::Malformed(text.to_string());
    let mut total_ms: u64 = 0;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 {
            return Err(malformed());
        }
        let number: u64 = rest[..digits_end]
            .parse()
            .map_err(|_| ParseDurationError::Overflow(text.to_string()))?;
        rest = &rest[digits_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let unit_ms: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "" => return Err(malformed()),
            other => {
                return Err(ParseDurationError::UnknownUnit {
                    text: text.to_string(),
                    unit: other.to_string(),
                });
            }
        };
        total_ms = number
            .checked_mul(unit_ms)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(|| ParseDurationError::Overflow(text.to_string()))?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Formats a duration in the largest units up to days that represent it exactly, e.g.
/// `1h30m`, `28d`, `250ms`; parsing the result gives the same duration back.
pub fn format_duration(duration: Duration) -> String {
    let mut ms = duration.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// `#[serde(serialize_with)]` helper: a duration as text in the form [`format_duration`]
/// writes, e.g. `"30m"`, so JSON shows durations the way configuration and runbooks write them.
pub mod serde_text {
    use std::time::Duration;

    /// Serializes `duration` as `"1h30m"`-style text.
    ///
    /// # Errors
    /// Those of the serializer.
    pub fn serialize<S: serde::Serializer>(
        duration: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_duration(*duration))
    }

    /// The same for an optional duration (`null` when unset).
    pub mod option {
        use std::time::Duration;

        /// Serializes `duration` as text, or `null`.
        ///
        /// # Errors
        /// Those of the serializer.
        pub fn serialize<S: serde::Serializer>(
            duration: &Option<Duration>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match duration {
                Some(duration) => {
                    serializer.serialize_str(&crate::duration::format_duration(*duration))
                }
                None => serializer.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_and_compound_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("28d"), Ok(Duration::from_secs(28 * 86_400)));
        assert_eq!(parse_duration(" 2w "), Ok(Duration::from_secs(14 * 86_400)));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        assert_eq!(parse_duration(""), Err(ParseDurationError::Empty));
        assert!(matches!(
            parse_duration("15"),
            Err(ParseDurationError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration("m15"),
            Err(ParseDurationError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration("1.5h"),
            Err(ParseDurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("3 minutes"),
            Err(ParseDurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("99999999999999999999s"),
            Err(ParseDurationError::Overflow(_))
        ));
    }

    #[test]
    fn format_round_trips() {
        for text in ["250ms", "30s", "15m", "1h30m", "28d", "1d2h3m4s5ms"] {
            let parsed = parse_duration(text).unwrap();
            assert_eq!(format_duration(parsed), text);
        }
        assert_eq!(format_duration(parse_duration("2w").unwrap()), "14d");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
