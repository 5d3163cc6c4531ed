//! Closure gates judged from Prometheus: for a gate whose check has a query in
//! `gate_queries:`, the query is evaluated over the gate's window and the worst series must
//! satisfy the condition for the whole window, with no gap in the data (R2.8: "p95 < 200 ms
//! for 30 consecutive minutes", checked by the machine).

use std::collections::BTreeMap;
use std::time::Duration;

use warden_connect::PrometheusClient;
use warden_core::{Clock, Incident, SystemClock};
use warden_detect::{Direction, Sample, gate};
use warden_engine::executor::{BoxFuture, GateEvaluator, GateSeries, GateVerdict};
use warden_runbook::Gate;

/// Resolution of the range query, and so the largest gap tolerated (three steps).
const STEP_SECONDS: u32 = 15;

/// Evaluates gates with PromQL range queries.
pub struct PrometheusGates {
    client: PrometheusClient,
    queries: BTreeMap<String, String>,
}

impl PrometheusGates {
    /// Gates over `client` with one query per gate check.
    pub fn new(client: PrometheusClient, queries: BTreeMap<String, String>) -> Self {
        Self { client, queries }
    }
}

impl PrometheusGates {
    /// The worst series of the gate's query over its window: for a `below` gate the highest
    /// value at each time, for an `above` gate the lowest.
    async fn worst_series(&self, gate_step: &Gate) -> Result<Option<GateSeries>, String> {
        let Some(query) = self.queries.get(&gate_step.check) else {
            return Ok(None);
        };
        // The console's chart of the gate, drawn now (the engine's clock is not passed here).
        let now = SystemClock.now();
        let step = Duration::from_secs(u64::from(STEP_SECONDS));
        // The gate's window, and as much again before it for context (at least 10 minutes).
        let window = chrono::Duration::from_std(gate_step.hold_for).unwrap_or_default();
        let shown = (window * 2).max(chrono::Duration::minutes(10))
            + chrono::Duration::from_std(step).unwrap_or_default();
        let series = self
            .client
            .query_range(query, now - shown, now, STEP_SECONDS)
            .await
            .map_err(|err| err.to_string())?;
        let below = gate_step.below.is_some() || gate_step.above.is_none();
        let mut merged: BTreeMap<warden_core::Timestamp, f64> = BTreeMap::new();
        for one in &series {
            for (at, value) in &one.points {
                merged
                    .entry(*at)
                    .and_modify(|v| *v = if below { v.max(*value) } else { v.min(*value) })
                    .or_insert(*value);
            }
        }
        Ok(Some(GateSeries {
            label: query.clone(),
            points: merged.into_iter().collect(),
            threshold: gate_step.below.or(gate_step.above),
            below: gate_step.below.is_some(),
            window: (now - window, now),
        }))
    }
}

impl GateEvaluator for PrometheusGates {
    fn series<'a>(
        &'a self,
        _incident: &'a Incident,
        gate_step: &'a Gate,
    ) -> BoxFuture<'a, Result<Option<GateSeries>, String>> {
        Box::pin(self.worst_series(gate_step))
    }

    fn evaluate<'a>(
        &'a self,
        _incident: &'a Incident,
        gate_step: &'a Gate,
        now: warden_core::Timestamp,
    ) -> BoxFuture<'a, Result<Option<GateVerdict>, String>> {
        Box::pin(async move {
            let Some(query) = self.queries.get(&gate_step.check) else {
                return Ok(None);
            };
            let (direction, threshold) = match (gate_step.below, gate_step.above) {
                (Some(below), _) => (Direction::Below, below),
                (_, Some(above)) => (Direction::Above, above),
                // A yes/no check: its query must be 1 (true) throughout.
                _ => (Direction::Above, 0.5),
            };
            // The engine's now: a replayed week's gate ends at the replayed moment.
            let step = Duration::from_secs(u64::from(STEP_SECONDS));
            let window =
                chrono::Duration::from_std(gate_step.hold_for + step * 2).unwrap_or_default();
            let series = self
                .client
                .query_range(query, now - window, now, STEP_SECONDS)
                .await
                .map_err(|err| err.to_string())?;
            // The worst series decides: every series must hold.
            let mut worst: Option<gate::Verdict> = None;
            for one in &series {
                let samples: Vec<Sample> = one
                    .points
                    .iter()
                    .map(|(at, value)| Sample::new(*at, *value))
                    .collect();
                let verdict = gate::evaluate(
                    &samples,
                    direction,
                    threshold,
                    gate_step.hold_for,
                    step * 3,
                    now,
                );
                if worst.as_ref().is_none_or(|w| {
                    verdict.held_for_seconds < w.held_for_seconds || !verdict.passed
                }) {
                    worst = Some(verdict);
                }
            }
            Ok(Some(match worst {
                Some(verdict) => GateVerdict {
                    passed: verdict.passed,
                    explanation: format!("{} ({query})", verdict.explanation),
                },
                None => GateVerdict {
                    passed: false,
                    explanation: format!("no data for {query}"),
                },
            }))
        })
    }
}
