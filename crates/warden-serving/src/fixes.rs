//! The permanent fixes of runbook 2 (R2.7), one per cause, each a concrete merge patch with
//! the reason it helps. The patches target KServe's InferenceService (`spec.predictor.*`,
//! which KServe turns into the Knative / HPA settings) except circuit breaking, which is an
//! Istio DestinationRule. Each is JSON, which is also YAML, and goes as is to `kubectl patch
//! --type merge -p '…'`. They are proposals: a fix changes the service for good and goes
//! through review, so Warden never applies them itself.

use serde::Serialize;
use serde_json::{Value, json};

/// One proposed fix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fix {
    /// The cause it addresses.
    pub cause: &'static str,
    /// What it does.
    pub title: &'static str,
    /// The kind of object it patches.
    pub kind: &'static str,
    /// The merge patch (or the object, for a new DestinationRule).
    pub patch: Value,
    /// Why it helps.
    pub rationale: &'static str,
}

impl Fix {
    /// One line for a cause's verdict.
    pub fn line(&self) -> String {
        format!(
            "fix: {} — {} merge patch {} ({})",
            self.title, self.kind, self.patch, self.rationale
        )
    }
}

/// Every fix, by cause.
pub fn all() -> Vec<Fix> {
    vec![
        Fix {
            cause: "cold_start",
            title: "keep one replica warm (minReplicas: 1)",
            kind: "InferenceService",
            patch: json!({"spec": {"predictor": {"minReplicas": 1}}}),
            rationale: "with minReplicas 0 the first request after idle waits for a pod to start and the model to load",
        },
        Fix {
            cause: "feature_store_latency",
            title: "cache online features in front of Feast",
            kind: "InferenceService",
            patch: json!({"spec": {"predictor": {"model": {"env": [
                {"name": "FEAST_FEATURE_SERVER_URL", "value": "http://warden-feature-proxy:6566"}
            ]}}}}),
            rationale: "the feature proxy (warden feature-proxy) answers repeated entities from its cache and batches lookups, so Redis latency stops adding to every prediction",
        },
        Fix {
            cause: "model_load_time",
            title: "give the predictor the memory and CPU the model needs",
            kind: "InferenceService",
            patch: json!({"spec": {"predictor": {"model": {"resources": {
                "requests": {"cpu": "2", "memory": "4Gi"},
                "limits": {"cpu": "4", "memory": "8Gi"}
            }}}}}),
            rationale: "an OOM-killed or throttled container reloads the model on every restart; size requests from the usage observed at the kill (double the limit it hit)",
        },
        Fix {
            cause: "downstream_timeout",
            title: "bound calls to dependencies (timeout + circuit breaker)",
            kind: "DestinationRule",
            patch: json!({
                "apiVersion": "networking.istio.io/v1",
                "kind": "DestinationRule",
                "spec": {"trafficPolicy": {
                    "connectionPool": {"http": {"http1MaxPendingRequests": 64, "maxRequestsPerConnection": 100}, "tcp": {"connectTimeout": "1s"}},
                    "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s", "maxEjectionPercent": 50}
                }}
            }),
            rationale: "a slow dependency then fails fast instead of holding every worker until the predictor's own timeout",
        },
        Fix {
            cause: "traffic_beyond_capacity",
            title: "raise the ceiling and scale on concurrency",
            kind: "InferenceService",
            patch: json!({"spec": {"predictor": {"maxReplicas": 10, "scaleMetric": "concurrency", "scaleTarget": 4}}}),
            rationale: "CPU lags request bursts; concurrency per pod scales with the traffic itself, and the old maximum was reached",
        },
        Fix {
            cause: "autoscaler_lagging",
            title: "tune the autoscaler (target and ceiling)",
            kind: "InferenceService",
            patch: json!({"spec": {"predictor": {"maxReplicas": 10, "scaleMetric": "concurrency", "scaleTarget": 4}}}),
            rationale: "the HPA stayed at its maximum or behind its desired count: a higher ceiling and a request-driven metric let it follow the load",
        },
        Fix {
            cause: "recent_deployment",
            title: "release the next version as a canary",
            kind: "InferenceService",
            patch: json!({"spec": {"predictor": {"canaryTrafficPercent": 10}}}),
            rationale: "10% of traffic on the new revision shows a regression before it reaches everyone, and rolling back is setting it to 0",
        },
    ]
}

/// The fix for `cause`.
pub fn for_cause(cause: &str) -> Option<Fix> {
    all().into_iter().find(|fix| fix.cause == cause)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_fix_is_a_merge_patch_named_in_one_line() {
        let fix = for_cause("cold_start").unwrap_or_else(|| all()[0].clone());
        assert!(
            fix.line()
                .contains(r#"{"spec":{"predictor":{"minReplicas":1}}}"#)
        );
        assert!(for_cause("unknown").is_none());
        assert_eq!(
            all().len(),
            7,
            "one per cause of the runbook plus the lag and the rollout"
        );
    }
}
