//! What a runbook step may name: actions, evidence collectors, gate checks and detectors,
//! each with its parameters and whether Warden automates it yet. The linter checks steps
//! against this; the executor treats an entry that is not automated yet as a manual step
//! ("do this by hand") so a runbook can describe the target automation honestly today.

/// The type a parameter value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// Text.
    Text,
    /// A number.
    Number,
    /// A duration such as `30m`.
    Duration,
    /// `true` or `false`.
    Bool,
}

/// One parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub kind: ParamType,
    /// Whether a step must give it.
    pub required: bool,
}

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The name steps use.
    pub name: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Its parameters.
    pub params: &'static [Param],
    /// Whether Warden executes it today; otherwise it is shown as a manual step.
    pub automated: bool,
}

const fn p(name: &'static str, kind: ParamType) -> Param {
    Param {
        name,
        kind,
        required: false,
    }
}

const fn req(name: &'static str, kind: ParamType) -> Param {
    Param {
        name,
        kind,
        required: true,
    }
}

use ParamType::{Bool, Duration, Number, Text};

/// Mutating actions (dry-run plan, approval policy, idempotent, audited).
pub const ACTIONS: &[Entry] = &[
    Entry {
        name: "notify",
        summary: "send the incident to a notification channel (webhook, Slack, PagerDuty)",
        params: &[req("channel", Text), p("message", Text)],
        automated: true,
    },
    Entry {
        name: "pause_schedule",
        summary: "pause the pipeline's scheduled triggers (Airflow DAG pause today; KFP recurring run :disable: client only)",
        params: &[p("pipeline", Text)],
        automated: true,
    },
    Entry {
        name: "resume_schedule",
        summary: "undo pause_schedule at closure",
        params: &[p("pipeline", Text)],
        automated: true,
    },
    Entry {
        name: "retry_pipeline_run",
        summary: "rerun the failed run with the same inputs (Airflow clear today), transient causes only",
        params: &[p("max_attempts", Number)],
        automated: true,
    },
    Entry {
        name: "rollback_model",
        summary: "move the serving alias (or stage) back to the previous model version and reload the server",
        params: &[p("model", Text), p("alias", Text)],
        automated: true,
    },
    Entry {
        name: "scale_replicas",
        summary: "raise the predictor's minReplicas / replicas while the autoscaler lags",
        params: &[req("min_replicas", Number), p("max_replicas", Number)],
        automated: true,
    },
    Entry {
        name: "disable_rate_limit",
        summary: "undo enable_rate_limit at closure",
        params: &[],
        automated: true,
    },
    Entry {
        name: "enable_rate_limit",
        summary: "limit requests per second at the ingress during a traffic burst",
        params: &[p("rps", Number)],
        automated: true,
    },
    Entry {
        name: "set_drift_threshold",
        summary: "temporarily raise a drift monitor's thresholds, recorded with who, why and expiry",
        params: &[
            req("expires_in", Duration),
            p("factor", Number),
            p("column", Text),
            p("threshold", Number),
        ],
        automated: true,
    },
    Entry {
        name: "revert_drift_threshold",
        summary: "undo set_drift_threshold at closure (it also expires by itself)",
        params: &[],
        automated: true,
    },
    Entry {
        name: "disable_retraining_trigger",
        summary: "stop drift alerts from triggering automatic retraining (Airflow DAG pause, KFP recurring run disable, webhook)",
        params: &[],
        automated: true,
    },
    Entry {
        name: "enable_retraining_trigger",
        summary: "undo disable_retraining_trigger at closure, leaving the trigger as it was found",
        params: &[],
        automated: true,
    },
    Entry {
        name: "apply_sliding_reference",
        summary: "switch a drift monitor to a sliding reference of recent production data",
        params: &[p("window", Duration)],
        automated: true,
    },
    Entry {
        name: "tune_drift_thresholds",
        summary: "tune a drift monitor's thresholds on its labelled history and write its thresholds file",
        params: &[p("target_precision", Number)],
        automated: true,
    },
    Entry {
        name: "enable_seasonal_detection",
        summary: "compare a drift monitor's window with the same season of its reference",
        params: &[p("season", Text)],
        automated: true,
    },
    Entry {
        name: "require_retraining_review",
        summary: "make the retraining a drift monitor's own alerts start wait for a person's yes (warden reviews)",
        params: &[],
        automated: true,
    },
    Entry {
        name: "switch_feature_fallback",
        summary: "serve cached / fallback features through the feature proxy",
        params: &[req("enabled", Bool)],
        automated: true,
    },
    Entry {
        name: "scale_online_store",
        summary: "scale the online store (Redis / DynamoDB)",
        params: &[p("replicas", Number)],
        automated: true,
    },
    Entry {
        name: "pause_materialization",
        summary: "pause materialization jobs that add load",
        params: &[],
        automated: true,
    },
    Entry {
        name: "resume_materialization",
        summary: "undo pause_materialization at closure",
        params: &[],
        automated: true,
    },
];

/// Evidence collectors (read-only; captured into the content-addressed evidence store).
pub const EVIDENCE: &[Entry] = &[
    Entry {
        name: "run_isolation",
        summary: "is the failure one run, all recent runs, or one component across runs",
        params: &[p("window", Duration)],
        automated: true,
    },
    Entry {
        name: "pipeline_run_details",
        summary: "run and task details with error messages",
        params: &[],
        automated: true,
    },
    Entry {
        name: "task_logs",
        summary: "failed task logs (Airflow) and task pod logs incl. the previous container (KFP), captured at detection",
        params: &[p("tail_lines", Number)],
        automated: true,
    },
    Entry {
        name: "pod_events",
        summary: "failed task pods' status and events, with fixes read off them (KFP, with connectors.kubernetes)",
        params: &[],
        automated: true,
    },
    Entry {
        name: "secrets_check",
        summary: "secrets the failed task pods reference: present, and their age (KFP, with connectors.kubernetes)",
        params: &[],
        automated: true,
    },
    Entry {
        name: "artifact_storage_probe",
        summary: "list the artifact bucket/prefix with the pipeline's credentials",
        params: &[],
        automated: true,
    },
    Entry {
        name: "failure_classification",
        summary: "classify the failure cause from logs and events",
        params: &[],
        automated: true,
    },
    Entry {
        name: "deployment_history",
        summary: "model version and KServe revision changes before the spike",
        params: &[p("window", Duration)],
        automated: true,
    },
    Entry {
        name: "traffic_rate",
        summary: "requests per second against the baseline",
        params: &[p("window", Duration)],
        automated: true,
    },
    Entry {
        name: "predictor_pods",
        summary: "predictor pod status and the last log lines",
        params: &[p("tail_lines", Number)],
        automated: true,
    },
    Entry {
        name: "hpa_status",
        summary: "autoscaler desired/current/max replicas over time",
        params: &[],
        automated: true,
    },
    Entry {
        name: "feature_store_latency",
        summary: "online feature retrieval latency",
        params: &[],
        automated: true,
    },
    Entry {
        name: "traffic_split",
        summary: "traffic split between revisions",
        params: &[],
        automated: true,
    },
    Entry {
        name: "alert_history",
        summary: "recent drift alerts against the detector's historical alert rate",
        params: &[p("window", Duration)],
        automated: true,
    },
    Entry {
        name: "distribution_review",
        summary: "side-by-side reference vs current distributions per feature (the HTML drift report)",
        params: &[],
        automated: true,
    },
    Entry {
        name: "drift_report",
        summary: "warden drift on the prediction logs, as configured and against the same season",
        params: &[],
        automated: true,
    },
    Entry {
        name: "transformation_consistency",
        summary: "feature encodings of the reference and current data agree (categories, scale, types, missing values)",
        params: &[],
        automated: true,
    },
    Entry {
        name: "decision_record",
        summary: "the decision record (Markdown) of a drift incident: causes, changes, backtest",
        params: &[],
        automated: true,
    },
    Entry {
        name: "online_store_health",
        summary: "Redis latency, memory against maxmemory, evictions, rejected connections",
        params: &[],
        automated: true,
    },
    Entry {
        name: "materialization_status",
        summary: "materialization job runs and their outcome",
        params: &[p("window", Duration)],
        automated: true,
    },
    Entry {
        name: "feature_freshness",
        summary: "freshness lag per feature view from materialization intervals and event timestamps",
        params: &[],
        automated: true,
    },
    Entry {
        name: "schema_check",
        summary: "offline source, registry and online values agree on the schema",
        params: &[],
        automated: true,
    },
    Entry {
        name: "prediction_sample",
        summary: "prediction samples of the newest version from the degraded period",
        params: &[p("rows", Number)],
        automated: true,
    },
    Entry {
        name: "compare_predictions",
        summary: "predictions and features of the newest version vs the one before (warden compare)",
        params: &[],
        automated: true,
    },
    Entry {
        name: "evaluate_model",
        summary: "both versions' accuracy on actuals and the regression test (warden evaluate)",
        params: &[p("season", Number)],
        automated: true,
    },
    Entry {
        name: "validate_data",
        summary: "data checks on recent actuals and training data, training/serving parity (warden validate)",
        params: &[],
        automated: true,
    },
    Entry {
        name: "registry_metadata",
        summary: "both versions' registry metadata and training-run metrics (MLflow)",
        params: &[],
        automated: true,
    },
];

/// Closure gate checks; `threshold` says whether `below`/`above` applies.
pub const GATE_CHECKS: &[(&str, &str, bool)] = &[
    (
        "rerun_succeeded",
        "a rerun with the same inputs succeeded",
        false,
    ),
    (
        "next_scheduled_run_succeeded",
        "the next scheduled run completed",
        false,
    ),
    (
        "known_failure_mode",
        "the failure matched a known cause; otherwise: new failure mode, update the runbook",
        false,
    ),
    ("latency_p95_ms", "p95 latency in milliseconds", true),
    ("error_rate", "share of failed requests", true),
    (
        "autoscaler_stable",
        "no scaling oscillation and desired = current replicas",
        false,
    ),
    (
        "load_test_headroom",
        "a load test at the target rate passes the SLO (warden loadtest)",
        true,
    ),
    (
        "backtest_precision",
        "drift alert precision on labelled history",
        true,
    ),
    (
        "backtest_recall",
        "drift alert recall on labelled history",
        true,
    ),
    (
        "feature_freshness_minutes",
        "worst feature view freshness lag in minutes",
        true,
    ),
    (
        "online_matches_offline",
        "sampled online values equal the latest offline values",
        false,
    ),
    (
        "materialization_succeeded",
        "every materialization run in the window succeeded",
        false,
    ),
    (
        "previous_version_serving",
        "the alias points to the previous version and the server serves it",
        false,
    ),
    (
        "metrics_recovered",
        "accuracy back within tolerance of the pre-deployment baseline",
        false,
    ),
];

/// Causes Warden decides itself from their evidence (a judge per name; others wait for a
/// responder).
pub const JUDGED_CAUSES: &[&str] = &[
    "recent_deployment",
    "autoscaler_lagging",
    "traffic_spike",
    "cold_start",
    "feature_store_latency",
    "model_load_time",
    "downstream_timeout",
    "traffic_beyond_capacity",
    "training_serving_skew",
    "overfitting",
    "concept_drift",
    "data_quality",
    "missing_expired_secret",
    "artifact_storage_unreachable",
    "resource_limit",
    "incompatible_version_missing_dependency",
    "transient_failure",
    "false_positive_churn",
    "unrepresentative_reference",
    "threshold_too_sensitive",
    "seasonality",
    "feature_encoding_change",
    "online_store_capacity",
    "materialization_load",
    "materialization_failed",
    "online_store_throttled",
    "network_partition",
    "schema_mismatch",
];

/// Gate checks Warden judges from data when their connector is configured (any check with a
/// query in `gate_queries:` is judged too).
pub const JUDGED_GATES: &[&str] = &[
    "latency_p95_ms",
    "error_rate",
    "autoscaler_stable",
    "load_test_headroom",
    "feature_freshness_minutes",
    "online_matches_offline",
    "materialization_succeeded",
    "previous_version_serving",
    "metrics_recovered",
    "rerun_succeeded",
    "next_scheduled_run_succeeded",
    "known_failure_mode",
    "backtest_precision",
    "backtest_recall",
];

/// Detectors a trigger may name.
pub const DETECTORS: &[(&str, &str)] = &[
    ("pipeline_failed_runs", "failed KFP / Airflow runs (R1.1)"),
    (
        "pipeline_stuck_runs",
        "runs longer than 3x the p95 of recent successful runs (R1.1)",
    ),
    (
        "serving_slo",
        "p95 latency or error rate over the SLA, multi-window burn rate (R2.1)",
    ),
    (
        "drift_alert_rate",
        "drift alert rate far above its historical rate (R3.2)",
    ),
    ("drift_backtest", "known drift missed in a backtest (R3.2)"),
    (
        "feature_freshness",
        "freshness lag over the SLA per feature view (R4.1)",
    ),
    (
        "online_store_health",
        "online store unhealthy or features missing in serving (R4.1)",
    ),
    (
        "model_regression",
        "accuracy or business metric degraded after a deployment (R5.1)",
    ),
];

/// The action named `name`.
pub fn action(name: &str) -> Option<&'static Entry> {
    ACTIONS.iter().find(|entry| entry.name == name)
}

/// The evidence collector named `name`.
pub fn evidence(name: &str) -> Option<&'static Entry> {
    EVIDENCE.iter().find(|entry| entry.name == name)
}

/// The gate check named `name`: whether it takes a threshold.
pub fn gate_check(name: &str) -> Option<bool> {
    GATE_CHECKS
        .iter()
        .find(|(check, _, _)| *check == name)
        .map(|(_, _, threshold)| *threshold)
}

/// Whether `name` is a known detector.
pub fn is_detector(name: &str) -> bool {
    DETECTORS.iter().any(|(detector, _)| *detector == name)
}

fn names(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|entry| entry.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The known action names, for error messages.
pub fn action_names() -> String {
    names(ACTIONS)
}

/// The known evidence names, for error messages.
pub fn evidence_names() -> String {
    names(EVIDENCE)
}
