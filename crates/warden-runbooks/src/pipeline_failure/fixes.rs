//! Fixes with the cluster's own values (R1.8): a memory limit sized from the limit a container
//! was OOM-killed at, a memory request from what an evicted container was using, the image
//! digest a tag resolved to (to pin it), and which referenced secret to create or rotate.
//! The classifier's fixes come from log lines; these come from the pods themselves.

use warden_kube::pipelines::{SecretState, SecretUse, TaskPod};

/// Memory is suggested in whole steps of this many MiB.
const STEP_MIB: u64 = 256;

/// Bytes in a Kubernetes quantity such as `2Gi`, `1500M`, `512Mi` or `1073741824`.
pub fn quantity_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let value: f64 = number.parse().ok()?;
    let scale: f64 = match unit {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((value * scale) as u64)
}

/// `bytes` rounded up to whole [`STEP_MIB`] steps, written as `Gi` when whole, else `Mi`.
pub fn memory_text(bytes: u64) -> String {
    let mib = bytes.div_ceil(1024 * 1024).div_ceil(STEP_MIB) * STEP_MIB;
    if mib.is_multiple_of(1024) {
        format!("{}Gi", mib / 1024)
    } else {
        format!("{mib}Mi")
    }
}

/// What an eviction message says a container was using: `(container, bytes)`.
fn eviction_usage(message: &str) -> Vec<(String, u64)> {
    let mut found = Vec::new();
    let mut rest = message;
    while let Some(at) = rest.find("Container ") {
        rest = &rest[at + "Container ".len()..];
        let Some((name, after)) = rest.split_once(" was using ") else {
            continue;
        };
        let amount: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        if let Some(bytes) = quantity_bytes(&amount) {
            found.push((name.to_string(), bytes));
        }
    }
    found
}

/// The repository part of an image reference (`registry/repo:tag` → `registry/repo`).
fn repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        // A colon after the last slash is a tag, before it a registry port.
        Some(colon) if image[colon..].find('/').is_none() => &image[..colon],
        _ => image,
    }
}

/// Fixes for `resource_limit` read off the pod: OOM kills and evictions.
pub fn resource_fixes(pod: &TaskPod) -> Vec<String> {
    let mut fixes = Vec::new();
    for container in &pod.containers {
        if container.terminated_reason.as_deref() != Some("OOMKilled") {
            continue;
        }
        match container.memory_limit.as_deref().and_then(|l| Some((l, quantity_bytes(l)?))) {
            Some((limit, bytes)) => fixes.push(format!(
                "raise the memory limit of container {} in pod {} from {limit} to {} (it was OOM-killed at its limit; 1.5×, rounded up)",
                container.name,
                pod.name,
                memory_text(bytes.saturating_mul(3) / 2)
            )),
            None => fixes.push(format!(
                "give container {} in pod {} a memory request and limit sized to its peak: it was OOM-killed with no limit (the node ran out)",
                container.name, pod.name
            )),
        }
    }
    if pod.reason.as_deref() == Some("Evicted") {
        for (name, used) in eviction_usage(pod.message.as_deref().unwrap_or_default()) {
            fixes.push(format!(
                "set the memory request of container {name} in pod {} to at least {} (it was using {} when the node evicted it)",
                pod.name,
                memory_text(used.saturating_mul(6) / 5),
                memory_text(used)
            ));
        }
    }
    fixes
}

/// Fixes for `incompatible_version_missing_dependency`: pin each image run by tag to the
/// digest the node resolved it to.
pub fn image_fixes(pod: &TaskPod) -> Vec<String> {
    pod.containers
        .iter()
        .filter(|c| !c.image.contains("@sha256:"))
        .filter_map(|c| {
            let id = c.image_id.as_deref()?;
            let digest = &id[id.find("@sha256:")?..];
            Some(format!(
                "pin image {} of container {} by digest: {}{digest} (what the failed run ran)",
                c.image,
                c.name,
                repository(&c.image)
            ))
        })
        .collect()
}

/// How many whole days ago the secret was created, if it exists and says.
pub fn age_days(state: &SecretState, now: chrono::DateTime<chrono::Utc>) -> Option<i64> {
    let created = chrono::DateTime::parse_from_rfc3339(state.created.as_deref()?).ok()?;
    Some((now - created.with_timezone(&chrono::Utc)).num_days())
}

/// Fixes for `missing_expired_secret` from the secrets a pod references and their state;
/// `old_days` is the age from which a secret is worth rotating.
pub fn secret_fixes(
    namespace: &str,
    uses: &[SecretUse],
    states: &[SecretState],
    now: chrono::DateTime<chrono::Utc>,
    old_days: i64,
) -> Vec<String> {
    let mut fixes = Vec::new();
    for state in states {
        let needed: Vec<&str> = uses
            .iter()
            .filter(|u| u.name == state.name && !u.optional)
            .map(|u| u.used_as.as_str())
            .collect();
        if !state.exists {
            // A pod starts without an optional secret: missing, it is no fix.
            if !needed.is_empty() {
                fixes.push(format!(
                    "create secret {} in namespace {namespace} (the pod uses it as {})",
                    state.name,
                    needed.join(", ")
                ));
            }
            continue;
        }
        if let Some(days) = age_days(state, now).filter(|d| *d >= old_days) {
            fixes.push(format!(
                "rotate secret {} in namespace {namespace}: created {days} days ago, its credential may have expired",
                state.name
            ));
        }
    }
    fixes
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_kube::pipelines::TaskContainer;

    fn container(name: &str, reason: Option<&str>, limit: Option<&str>) -> TaskContainer {
        TaskContainer {
            name: name.into(),
            image: "registry.local:5000/ml/trainer:1.4".into(),
            image_id: Some("docker-pullable://registry.local:5000/ml/trainer@sha256:9f2e".into()),
            memory_limit: limit.map(str::to_string),
            memory_request: None,
            gpu_limit: None,
            terminated_reason: reason.map(str::to_string),
            exit_code: Some(137),
            waiting_reason: None,
            waiting_message: None,
            restarts: 0,
        }
    }

    fn pod(containers: Vec<TaskContainer>) -> TaskPod {
        TaskPod {
            name: "train-pod".into(),
            phase: "Failed".into(),
            reason: None,
            message: None,
            service_account: None,
            containers,
            secrets: Vec::new(),
        }
    }

    #[test]
    fn quantities_read_and_write_like_kubernetes() {
        assert_eq!(quantity_bytes("2Gi"), Some(2 << 30));
        assert_eq!(quantity_bytes("512Mi"), Some(512 << 20));
        assert_eq!(quantity_bytes("1.5G"), Some(1_500_000_000));
        assert_eq!(quantity_bytes("48458972Ki"), Some(48_458_972 * 1024));
        assert_eq!(quantity_bytes("lots"), None);
        assert_eq!(memory_text(3 << 30), "3Gi");
        assert_eq!(memory_text((1 << 30) + 1), "1280Mi");
    }

    #[test]
    fn an_oom_kill_at_its_limit_suggests_half_again() {
        let fixes = resource_fixes(&pod(vec![
            container("main", Some("OOMKilled"), Some("2Gi")),
            container("wait", Some("Completed"), Some("1Gi")),
        ]));
        assert_eq!(fixes.len(), 1, "{fixes:?}");
        assert!(fixes[0].contains("from 2Gi to 3Gi"), "{fixes:?}");
        let unlimited = resource_fixes(&pod(vec![container("main", Some("OOMKilled"), None)]));
        assert!(unlimited[0].contains("no limit"), "{unlimited:?}");
    }

    #[test]
    fn an_eviction_suggests_a_request_above_what_was_used() {
        let mut evicted = pod(vec![container("main", None, None)]);
        evicted.reason = Some("Evicted".into());
        evicted.message = Some(
            "The node was low on resource: memory. Container main was using 2097152Ki, which exceeds its request of 0.".into(),
        );
        let fixes = resource_fixes(&evicted);
        assert_eq!(fixes.len(), 1, "{fixes:?}");
        assert!(
            fixes[0].contains("at least 2560Mi") && fixes[0].contains("using 2Gi"),
            "{fixes:?}"
        );
    }

    #[test]
    fn a_tagged_image_is_pinned_to_the_digest_it_ran() {
        let fixes = image_fixes(&pod(vec![container("main", None, None)]));
        assert_eq!(
            fixes,
            [
                "pin image registry.local:5000/ml/trainer:1.4 of container main by digest: registry.local:5000/ml/trainer@sha256:9f2e (what the failed run ran)"
            ]
        );
        let mut pinned = container("main", None, None);
        pinned.image = "trainer@sha256:9f2e".into();
        assert!(image_fixes(&pod(vec![pinned])).is_empty());
    }

    #[test]
    fn missing_secrets_are_created_and_old_ones_rotated() {
        let now = chrono::Utc::now();
        let uses = [
            SecretUse {
                name: "aws-creds".into(),
                used_as: "env AWS_ACCESS_KEY_ID of main".into(),
                optional: false,
            },
            SecretUse {
                name: "db".into(),
                used_as: "volume db".into(),
                optional: false,
            },
        ];
        let states = [
            SecretState {
                name: "aws-creds".into(),
                exists: false,
                created: None,
            },
            SecretState {
                name: "db".into(),
                exists: true,
                created: Some((now - chrono::Duration::days(400)).to_rfc3339()),
            },
        ];
        let fixes = secret_fixes("kubeflow", &uses, &states, now, 90);
        assert_eq!(fixes.len(), 2, "{fixes:?}");
        assert!(fixes[0].starts_with("create secret aws-creds in namespace kubeflow"));
        assert!(fixes[1].contains("created 400 days ago"), "{fixes:?}");
        // The same secret referenced only as optional: nothing to create.
        let optional: Vec<SecretUse> = uses
            .iter()
            .cloned()
            .map(|u| SecretUse {
                optional: true,
                ..u
            })
            .collect();
        let fixes = secret_fixes("kubeflow", &optional, &states, now, 90);
        assert_eq!(fixes.len(), 1, "{fixes:?}");
        assert!(fixes[0].starts_with("rotate secret db"), "{fixes:?}");
    }
}
