//! Runbook 2's closure gates (R2.8), judged from the data: p95 latency and error rate from
//! Prometheus range queries over the gate's whole window (the service's own SLI queries,
//! so no `gate_queries:` are needed), the autoscaler's stability from the HPA (desired =
//! current and no scaling for the window), and the capacity headroom from a real load test
//! at `above` × the peak request rate of the last hour — run only against a model server on
//! loopback, the same rule as `warden loadtest`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use warden_core::Incident;
use warden_engine::executor::{BoxFuture, GateEvaluator, GateVerdict};
use warden_runbook::Gate;
use warden_serving::loadtest::{self, LoadPlan};
use warden_serving::queries::SloQueries;
use warden_serving::slo::PLAIN_WINDOW;

use super::Serving;
use crate::common::prometheus_gates::PrometheusGates;

/// Evaluates runbook 2's gates for the services under `serving:`.
pub struct ServingGates {
    serving: Arc<Serving>,
    prometheus: BTreeMap<String, PrometheusGates>,
}

impl ServingGates {
    /// Gates for every configured service.
    pub fn new(serving: Arc<Serving>) -> Self {
        let mut prometheus = BTreeMap::new();
        if let Some(client) = &serving.prometheus {
            for service in &serving.services {
                let queries = SloQueries::new(service);
                prometheus.insert(
                    service.name.clone(),
                    PrometheusGates::new(
                        client.clone(),
                        BTreeMap::from([
                            (
                                "latency_p95_ms".to_string(),
                                queries.latency_p95_ms(PLAIN_WINDOW),
                            ),
                            ("error_rate".to_string(), queries.error_rate(PLAIN_WINDOW)),
                        ]),
                    ),
                );
            }
        }
        Self {
            serving,
            prometheus,
        }
    }

    async fn autoscaler_stable(
        &self,
        incident: &Incident,
        gate: &Gate,
        now: warden_core::Timestamp,
    ) -> Result<Option<GateVerdict>, String> {
        let Ok(service) = self.serving.service(&incident.target) else {
            return Ok(None);
        };
        let Some(name) = service.hpa_name() else {
            return Ok(None);
        };
        let kube = self.serving.kube().await.map_err(|e| e.message)?;
        let hpa = kube
            .hpa(service.namespace.as_deref(), &name)
            .await
            .map_err(|e| e.to_string())?;
        let quiet_for = hpa
            .last_scale_time
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| {
                (now - t.with_timezone(&chrono::Utc))
                    .to_std()
                    .unwrap_or_default()
            });
        let settled = hpa.desired_replicas == hpa.current_replicas;
        let quiet = quiet_for.is_none_or(|quiet| quiet >= gate.hold_for);
        let since = quiet_for.map_or("never scaled".to_string(), |q| {
            format!(
                "last scaled {} ago",
                warden_core::format_duration(Duration::from_secs(q.as_secs()))
            )
        });
        Ok(Some(GateVerdict {
            passed: settled && quiet,
            explanation: format!(
                "HPA {name}: {} current, {} desired, {since} (needs desired = current and no scaling for {})",
                hpa.current_replicas,
                hpa.desired_replicas,
                warden_core::format_duration(gate.hold_for)
            ),
        }))
    }

    async fn load_test(
        &self,
        incident: &Incident,
        gate: &Gate,
    ) -> Result<Option<GateVerdict>, String> {
        let (Ok(service), Some(server), Some(prometheus)) = (
            self.serving.service(&incident.target),
            &self.serving.config.connectors.model_server,
            &self.serving.prometheus,
        ) else {
            return Ok(None);
        };
        let factor = gate.above.unwrap_or(1.5);
        let peak_query = format!(
            "max_over_time(({})[1h:1m])",
            SloQueries::new(service).request_rate(PLAIN_WINDOW)
        );
        let peak = warden_serving::slo::scalar(prometheus, &peak_query, None)
            .await
            .map_err(|e| e.to_string())?
            .unwrap_or(1.0)
            .max(1.0);
        let rps = (peak * factor).min(200.0);
        let plan = LoadPlan {
            endpoint: server.endpoint.url.clone(),
            model: server.model.clone(),
            rps,
            duration: Duration::from_secs(10),
            timeout: server.endpoint.timeout,
            body: serde_json::Value::Null,
            allowed_hosts: Vec::new(),
        };
        if loadtest::validate(&plan).is_err() {
            // Not a loopback server: a responder runs `warden loadtest` against a test host.
            return Ok(None);
        }
        let body = load_body(&plan).await?;
        let report = loadtest::run(&LoadPlan { body, ..plan }, |_, _| {})
            .await
            .map_err(|e| e.0)?;
        let passed = report.within(service.latency_p95_ms, 0.005);
        Ok(Some(GateVerdict {
            passed,
            explanation: format!(
                "load test at {rps:.1} req/s ({factor}x the 1h peak of {peak:.1}) for 10 s: p95 {:.0} ms, errors {:.2}%, {:.1} req/s achieved (needs p95 < {:.0} ms and errors < 0.5%)",
                report.p95_ms,
                report.error_rate * 100.0,
                report.achieved_rps,
                service.latency_p95_ms
            ),
        }))
    }
}

/// A request body from the model's V2 metadata.
async fn load_body(plan: &LoadPlan) -> Result<serde_json::Value, String> {
    let url = plan
        .endpoint
        .join(&format!("v2/models/{}", plan.model))
        .map_err(|e| e.to_string())?;
    let metadata: serde_json::Value = reqwest::Client::new()
        .get(url.clone())
        .timeout(plan.timeout)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    loadtest::body_from_metadata(&metadata).map_err(|e| e.0)
}

impl GateEvaluator for ServingGates {
    fn evaluate<'a>(
        &'a self,
        incident: &'a Incident,
        gate: &'a Gate,
        now: warden_core::Timestamp,
    ) -> BoxFuture<'a, Result<Option<GateVerdict>, String>> {
        Box::pin(async move {
            match gate.check.as_str() {
                "latency_p95_ms" | "error_rate" => match self.prometheus.get(&incident.target.name)
                {
                    Some(gates) => gates.evaluate(incident, gate, now).await,
                    None => Ok(None),
                },
                "autoscaler_stable" => self.autoscaler_stable(incident, gate, now).await,
                "load_test_headroom" => self.load_test(incident, gate).await,
                _ => Ok(None),
            }
        })
    }

    fn series<'a>(
        &'a self,
        incident: &'a Incident,
        gate: &'a Gate,
    ) -> BoxFuture<'a, Result<Option<warden_engine::executor::GateSeries>, String>> {
        Box::pin(async move {
            match (
                gate.check.as_str(),
                self.prometheus.get(&incident.target.name),
            ) {
                ("latency_p95_ms" | "error_rate", Some(gates)) => {
                    gates.series(incident, gate).await
                }
                _ => Ok(None),
            }
        })
    }
}
