//! Incident severity, ordered so that `Critical > High > … > Info`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How urgent an incident is; drives paging and ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth recording, nobody needs to act.
    Info,
    /// Act during working hours.
    Low,
    /// Act today.
    Medium,
    /// Page the on-call engineer.
    High,
    /// Page now; users or money are affected.
    Critical,
}

impl Severity {
    /// Every severity, least urgent first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lowercase name used in configuration, JSON and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|severity| severity.as_str() == text)
            .ok_or_else(|| {
                format!("unknown severity {text:?} (expected info, low, medium, high or critical)")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_by_urgency_and_parsed_by_name() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Low > Severity::Info);
        for severity in Severity::ALL {
            assert_eq!(severity.as_str().parse::<Severity>(), Ok(severity));
        }
        assert!("sev1".parse::<Severity>().is_err());
    }
}
