//! Where the real components are: `WARDEN_STACK_<NAME>` variables, from the environment or
//! from the env file of `scripts/stack.sh` (`$WARDEN_STACK_ENV`, else
//! `${TMPDIR:-/tmp}/warden-stack-$UID/stack.env`).

use std::collections::BTreeMap;
use std::path::PathBuf;

fn env_file() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("WARDEN_STACK_ENV") {
        return Some(PathBuf::from(path));
    }
    let tmp = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".to_string());
    // The harness names its run directory after the numeric uid; /proc/self tells it without
    // a libc dependency.
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().next().map(str::to_string))
        })?;
    Some(
        PathBuf::from(tmp)
            .join(format!("warden-stack-{uid}"))
            .join("stack.env"),
    )
}

fn file_values() -> BTreeMap<String, String> {
    let Some(path) = env_file() else {
        return BTreeMap::new();
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeMap::new();
    };
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        .collect()
}

/// The value of `WARDEN_STACK_<key>` (e.g. `key = "MLFLOW_URL"`), if the stack provides it.
pub fn lookup(key: &str) -> Option<String> {
    let name = format!("WARDEN_STACK_{key}");
    std::env::var(&name)
        .ok()
        .filter(|value| !value.is_empty())
        .or_else(|| file_values().remove(&name))
}

/// Whether missing components must fail tests instead of skipping them.
pub fn required() -> bool {
    std::env::var("WARDEN_REQUIRE_STACK").is_ok_and(|value| value == "1")
}

/// The value of `WARDEN_STACK_<key>` for a test that needs a real component.
///
/// Returns `None` (after printing why) when the stack is not up and not required; the test
/// should then return early.
///
/// # Panics
/// When the value is missing and `WARDEN_REQUIRE_STACK=1`: a required integration test must
/// never pass without having run.
pub fn require(key: &str) -> Option<String> {
    match lookup(key) {
        Some(value) => Some(value),
        None if required() => panic!(
            "WARDEN_STACK_{key} is not set and WARDEN_REQUIRE_STACK=1: \
             the real-component stack is not up (scripts/stack.sh up)"
        ),
        None => {
            eprintln!(
                "skipped: WARDEN_STACK_{key} not set; run `scripts/stack.sh install && \
                 scripts/stack.sh up` to run this test against the real component"
            );
            None
        }
    }
}
