//! Runbook 2's cause judges: each finds the artifacts it needs among its `evidence_from`
//! steps by their `kind` and applies the matching rule of `warden_serving::causes`. A judge
//! missing its evidence (a collector failed, a source not configured) leaves the cause to a
//! responder rather than guessing.

use std::sync::Arc;

use serde_json::Value;
use warden_engine::judge::{JudgeRegistry, JudgeRequest};
use warden_serving::causes::{self, DeploymentHistory, FeatureLatency, TrafficRate, Verdict};

use super::Serving;
use crate::common::artifacts::of_kind;
use crate::common::judges::from_evidence;

/// Which cause.
#[derive(Clone, Copy)]
enum Cause {
    RecentDeployment,
    AutoscalerLagging,
    TrafficSpike,
    ColdStart,
    FeatureStoreLatency,
    ModelLoadTime,
    DownstreamTimeout,
    TrafficBeyondCapacity,
}

struct Judge {
    serving: Arc<Serving>,
    cause: Cause,
}

fn typed<T: serde::de::DeserializeOwned>(request: &JudgeRequest, kind: &str) -> Option<T> {
    serde_json::from_value(of_kind(request, kind)?).ok()
}

impl Judge {
    fn decide(&self, request: &JudgeRequest) -> Option<Verdict> {
        let spike_at = request.incident.opened_at;
        let service = self.serving.service(&request.incident.target).ok();
        let number = |name: &str| request.params.get(name).and_then(Value::as_f64);
        match self.cause {
            Cause::RecentDeployment => {
                let history: DeploymentHistory = typed(request, "deployment_history")?;
                Some(causes::recent_deployment(&history, spike_at))
            }
            Cause::AutoscalerLagging => {
                let hpa = of_kind(request, "hpa_status")?;
                let lag = service.map_or(std::time::Duration::from_secs(300), |s| s.hpa_lag);
                Some(causes::autoscaler_lagging(&hpa, request.now, lag))
            }
            Cause::TrafficSpike => {
                let traffic: TrafficRate = typed(request, "traffic_rate")?;
                causes::traffic_spike(&traffic, number("factor").unwrap_or(2.0))
            }
            Cause::ColdStart => Some(causes::cold_start(
                &of_kind(request, "predictor_pods")?,
                spike_at,
            )),
            Cause::FeatureStoreLatency => {
                let latency: FeatureLatency = typed(request, "feature_store_latency")?;
                // A quarter of the SLA spent fetching features leaves too little for the model.
                let limit = number("limit_ms")
                    .or_else(|| service.map(|s| s.latency_p95_ms / 4.0))
                    .unwrap_or(50.0);
                causes::feature_store_latency(&latency, limit)
            }
            Cause::ModelLoadTime => Some(causes::model_load_time(&of_kind(
                request,
                "predictor_pods",
            )?)),
            Cause::DownstreamTimeout => Some(causes::downstream_timeout(&of_kind(
                request,
                "predictor_pods",
            )?)),
            Cause::TrafficBeyondCapacity => {
                let traffic: TrafficRate = typed(request, "traffic_rate")?;
                causes::traffic_beyond_capacity(&traffic, &of_kind(request, "hpa_status")?)
            }
        }
    }
}

/// The catalogue causes this module judges.
pub const NAMES: [&str; 8] = [
    "recent_deployment",
    "autoscaler_lagging",
    "traffic_spike",
    "cold_start",
    "feature_store_latency",
    "model_load_time",
    "downstream_timeout",
    "traffic_beyond_capacity",
];

/// Runbook 2's judges by cause name.
pub fn judges(serving: &Arc<Serving>) -> JudgeRegistry {
    let causes = [
        Cause::RecentDeployment,
        Cause::AutoscalerLagging,
        Cause::TrafficSpike,
        Cause::ColdStart,
        Cause::FeatureStoreLatency,
        Cause::ModelLoadTime,
        Cause::DownstreamTimeout,
        Cause::TrafficBeyondCapacity,
    ];
    let judges = causes.map(|cause| Judge {
        serving: serving.clone(),
        cause,
    });
    from_evidence(NAMES.into_iter().zip(judges), Judge::decide)
}
