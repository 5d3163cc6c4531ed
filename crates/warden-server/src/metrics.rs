//! Warden's own metrics in the Prometheus text format: incidents by state and runbook steps
//! by status (read from the store at scrape time, so they survive restarts), webhook requests by outcome, findings by
//! what they did to incidents, API requests refused by auth.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Process-lifetime counters.
#[derive(Debug, Default)]
pub struct Metrics {
    webhook_accepted: AtomicU64,
    webhook_unauthorized: AtomicU64,
    webhook_malformed: AtomicU64,
    webhook_too_large: AtomicU64,
    findings_opened: AtomicU64,
    findings_attached: AtomicU64,
    findings_reopened: AtomicU64,
    api_refused: AtomicU64,
    alerts_unmatched: AtomicU64,
    alerts_ignored: AtomicU64,
    steps_failed: AtomicU64,
    // 1 while this replica leads; the lease's epoch as last seen.
    leader: AtomicU64,
    lease_epoch: AtomicU64,
    // Per detector: runs that succeeded, runs that failed, findings.
    detectors: Mutex<BTreeMap<String, [u64; 3]>>,
}

/// Outcome of one webhook request.
#[derive(Debug, Clone, Copy)]
pub enum WebhookOutcome {
    /// Parsed and recorded.
    Accepted,
    /// Missing or wrong secret.
    Unauthorized,
    /// Not a version-4 payload.
    Malformed,
    /// Over the size limit.
    TooLarge,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl Metrics {
    /// Counts a webhook request.
    pub fn webhook(&self, outcome: WebhookOutcome) {
        bump(
            match outcome {
                WebhookOutcome::Accepted => &self.webhook_accepted,
                WebhookOutcome::Unauthorized => &self.webhook_unauthorized,
                WebhookOutcome::Malformed => &self.webhook_malformed,
                WebhookOutcome::TooLarge => &self.webhook_too_large,
            },
            1,
        );
    }

    /// Counts what a batch of findings did.
    pub fn findings(&self, ingested: &warden_engine::AlertsIngested) {
        bump(&self.findings_opened, ingested.opened.len() as u64);
        bump(&self.findings_attached, ingested.attached.len() as u64);
        bump(&self.findings_reopened, ingested.reopened.len() as u64);
        bump(&self.alerts_unmatched, ingested.unmatched.len() as u64);
        bump(&self.alerts_ignored, ingested.ignored.len() as u64);
    }

    /// Counts what one detector finding did (the webhook's batches are counted by
    /// [`Metrics::findings`]).
    pub fn finding(&self, ingested: &warden_engine::Ingested) {
        bump(
            match ingested {
                warden_engine::Ingested::Opened(_) => &self.findings_opened,
                warden_engine::Ingested::Attached(_) => &self.findings_attached,
                warden_engine::Ingested::Reopened(_) => &self.findings_reopened,
            },
            1,
        );
    }

    /// Records this replica's role and the lease's epoch.
    pub fn leader(&self, leads: bool, epoch: i64) {
        self.leader.store(u64::from(leads), Ordering::Relaxed);
        self.lease_epoch
            .store(u64::try_from(epoch).unwrap_or(0), Ordering::Relaxed);
    }

    /// Whether this replica led at the last lease round.
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed) == 1
    }

    /// Counts steps that failed for good.
    pub fn steps_failed(&self, count: usize) {
        bump(&self.steps_failed, count as u64);
    }

    /// Counts one run of a detector.
    pub fn detector_run(&self, name: &str, ok: bool) {
        let mut detectors = self
            .detectors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        detectors.entry(name.to_string()).or_default()[usize::from(!ok)] += 1;
    }

    /// Counts a finding of a detector.
    pub fn detector_findings(&self, name: &str) {
        let mut detectors = self
            .detectors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        detectors.entry(name.to_string()).or_default()[2] += 1;
    }

    /// Counts an API request refused by authentication or authorization.
    pub fn refused(&self) {
        bump(&self.api_refused, 1);
    }

    /// The exposition text, with `incidents_by_state` and `actions_by_status` from the store.
    pub fn render(
        &self,
        incidents_by_state: &[(String, u64)],
        actions_by_status: &[(String, u64)],
    ) -> String {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP warden_incidents Incidents in the store by lifecycle state."
        );
        let _ = writeln!(out, "# TYPE warden_incidents gauge");
        for (state, count) in incidents_by_state {
            let _ = writeln!(out, "warden_incidents{{state=\"{state}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "# HELP warden_actions Runbook steps by status (pending, running, succeeded, failed, skipped)."
        );
        let _ = writeln!(out, "# TYPE warden_actions gauge");
        for (status, count) in actions_by_status {
            let _ = writeln!(out, "warden_actions{{status=\"{status}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "# HELP warden_leader 1 while this replica holds the leader lease (runs detectors, acts).\n# TYPE warden_leader gauge\nwarden_leader {}",
            load(&self.leader)
        );
        let _ = writeln!(
            out,
            "# HELP warden_lease_epoch The leader lease's epoch as this replica last saw it.\n# TYPE warden_lease_epoch gauge\nwarden_lease_epoch {}",
            load(&self.lease_epoch)
        );
        let _ = writeln!(
            out,
            "# HELP warden_webhook_requests_total Alertmanager webhook requests by outcome."
        );
        let _ = writeln!(out, "# TYPE warden_webhook_requests_total counter");
        for (outcome, counter) in [
            ("accepted", &self.webhook_accepted),
            ("unauthorized", &self.webhook_unauthorized),
            ("malformed", &self.webhook_malformed),
            ("too_large", &self.webhook_too_large),
        ] {
            let _ = writeln!(
                out,
                "warden_webhook_requests_total{{outcome=\"{outcome}\"}} {}",
                load(counter)
            );
        }
        let _ = writeln!(
            out,
            "# HELP warden_findings_total Findings by what they did to incidents."
        );
        let _ = writeln!(out, "# TYPE warden_findings_total counter");
        for (result, counter) in [
            ("opened", &self.findings_opened),
            ("attached", &self.findings_attached),
            ("reopened", &self.findings_reopened),
        ] {
            let _ = writeln!(
                out,
                "warden_findings_total{{result=\"{result}\"}} {}",
                load(counter)
            );
        }
        let _ = writeln!(
            out,
            "# HELP warden_alerts_unrouted_total Alerts that opened nothing: no runbook trigger matched (unmatched), or a status other than firing/resolved (ignored)."
        );
        let _ = writeln!(out, "# TYPE warden_alerts_unrouted_total counter");
        for (reason, counter) in [
            ("unmatched", &self.alerts_unmatched),
            ("ignored", &self.alerts_ignored),
        ] {
            let _ = writeln!(
                out,
                "warden_alerts_unrouted_total{{reason=\"{reason}\"}} {}",
                load(counter)
            );
        }
        let _ = writeln!(
            out,
            "# HELP warden_step_failures_total Runbook steps that failed for good (see warden_actions{{status=\"failed\"}} for those still failed)."
        );
        let _ = writeln!(out, "# TYPE warden_step_failures_total counter");
        let _ = writeln!(
            out,
            "warden_step_failures_total {}",
            load(&self.steps_failed)
        );
        let _ = writeln!(
            out,
            "# HELP warden_api_refused_total API requests refused by authentication or role."
        );
        let _ = writeln!(out, "# TYPE warden_api_refused_total counter");
        let _ = writeln!(out, "warden_api_refused_total {}", load(&self.api_refused));
        let detectors = self
            .detectors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = writeln!(
            out,
            "# HELP warden_detector_runs_total Scheduled detector runs by result."
        );
        let _ = writeln!(out, "# TYPE warden_detector_runs_total counter");
        for (name, [ok, failed, _]) in detectors.iter() {
            let _ = writeln!(
                out,
                "warden_detector_runs_total{{detector=\"{name}\",result=\"ok\"}} {ok}"
            );
            let _ = writeln!(
                out,
                "warden_detector_runs_total{{detector=\"{name}\",result=\"error\"}} {failed}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP warden_detector_findings_total Findings by scheduled detector."
        );
        let _ = writeln!(out, "# TYPE warden_detector_findings_total counter");
        for (name, [_, _, findings]) in detectors.iter() {
            let _ = writeln!(
                out,
                "warden_detector_findings_total{{detector=\"{name}\"}} {findings}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_core::IncidentId;
    use warden_engine::Ingested;

    /// A detector's findings count in `warden_findings_total` as the webhook's do (the demo
    /// and the daemon's schedules said 0 opened while opening incidents).
    #[test]
    fn detector_findings_count_by_what_they_did() {
        let metrics = Metrics::default();
        metrics.finding(&Ingested::Opened(IncidentId("INC-1".into())));
        metrics.finding(&Ingested::Attached(IncidentId("INC-1".into())));
        metrics.finding(&Ingested::Attached(IncidentId("INC-1".into())));
        metrics.finding(&Ingested::Reopened(IncidentId("INC-1".into())));
        let text = metrics.render(&[], &[]);
        for line in [
            "warden_findings_total{result=\"opened\"} 1",
            "warden_findings_total{result=\"attached\"} 2",
            "warden_findings_total{result=\"reopened\"} 1",
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
    }
}
