//! PromQL for a service's SLIs. MLServer exports `rest_server_request_duration_seconds`
//! (seconds; buckets 5 ms … 10 s) and `rest_server_requests_total{status_code}` per REST
//! route — per server, not per model, so one MLServer per predictor is assumed, as KServe
//! runs it. KServe in serverless mode is measured by Knative's queue-proxy:
//! `revision_app_request_latencies` (milliseconds) and `revision_app_request_count`
//! `{response_code_class}`, labelled by namespace and configuration. Any query can be
//! replaced in `serving[].queries`; `{window}` in an override is replaced by the window.

use std::time::Duration;

use warden_config::{MetricsFlavor, ServiceConfig};

/// MLServer's histogram buckets, in seconds.
const MLSERVER_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Knative's request-latency buckets, in milliseconds.
const KNATIVE_BUCKETS_MS: &[f64] = &[
    5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
];

/// PromQL window syntax: `90s` → `90s`, `300s` → `5m`.
pub fn promql_duration(window: Duration) -> String {
    let seconds = window.as_secs().max(1);
    if seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// The queries of one service.
#[derive(Debug, Clone)]
pub struct SloQueries<'a> {
    service: &'a ServiceConfig,
}

impl<'a> SloQueries<'a> {
    /// The queries for `service`.
    pub fn new(service: &'a ServiceConfig) -> Self {
        Self { service }
    }

    fn overridden(&self, name: &str, window: Duration) -> Option<String> {
        self.service
            .queries
            .get(name)
            .map(|query| query.replace("{window}", &promql_duration(window)))
    }

    fn knative_selector(&self) -> String {
        let configuration = self
            .service
            .inference_service
            .as_ref()
            .map(|isvc| format!("{isvc}-predictor"))
            .unwrap_or_else(|| self.service.name.clone());
        match &self.service.namespace {
            Some(namespace) => {
                format!("namespace_name=\"{namespace}\",configuration_name=\"{configuration}\"")
            }
            None => format!("configuration_name=\"{configuration}\""),
        }
    }

    /// p95 latency in milliseconds over `window`.
    pub fn latency_p95_ms(&self, window: Duration) -> String {
        if let Some(query) = self.overridden("latency_p95_ms", window) {
            return query;
        }
        let w = promql_duration(window);
        match self.service.metrics {
            MetricsFlavor::Mlserver => format!(
                "1000 * histogram_quantile(0.95, sum by (le) (rate(rest_server_request_duration_seconds_bucket{{path=\"{INFER}\"}}[{w}])))"
            ),
            MetricsFlavor::Kserve => format!(
                "histogram_quantile(0.95, sum by (le) (rate(revision_app_request_latencies_bucket{{{}}}[{w}])))",
                self.knative_selector()
            ),
        }
    }

    /// Share of requests answered with a server error (5xx) over `window`. Without any 5xx
    /// yet there is no 5xx series at all, so the numerator falls back to `vector(0)`: an
    /// error rate of 0, not "no data" (which would keep a closure gate from ever passing).
    pub fn error_rate(&self, window: Duration) -> String {
        if let Some(query) = self.overridden("error_rate", window) {
            return query;
        }
        let w = promql_duration(window);
        match self.service.metrics {
            MetricsFlavor::Mlserver => format!(
                "(sum(rate(rest_server_requests_total{{path=\"{INFER}\",status_code=~\"5..\"}}[{w}])) or vector(0)) / sum(rate(rest_server_requests_total{{path=\"{INFER}\"}}[{w}]))"
            ),
            MetricsFlavor::Kserve => {
                let s = self.knative_selector();
                format!(
                    "(sum(rate(revision_app_request_count{{{s},response_code_class=\"5xx\"}}[{w}])) or vector(0)) / sum(rate(revision_app_request_count{{{s}}}[{w}]))"
                )
            }
        }
    }

    /// Requests per second over `window`.
    pub fn request_rate(&self, window: Duration) -> String {
        if let Some(query) = self.overridden("request_rate", window) {
            return query;
        }
        let w = promql_duration(window);
        match self.service.metrics {
            MetricsFlavor::Mlserver => {
                format!("sum(rate(rest_server_requests_total{{path=\"{INFER}\"}}[{w}]))")
            }
            MetricsFlavor::Kserve => format!(
                "sum(rate(revision_app_request_count{{{}}}[{w}]))",
                self.knative_selector()
            ),
        }
    }

    /// The bucket bound the slow-request ratio uses: the smallest bucket at or above the SLA
    /// (a histogram cannot count requests over a bound it does not have), in the metric's
    /// unit, with the bound in milliseconds.
    pub fn slow_bound(&self) -> (String, f64) {
        let sla_ms = self.service.latency_p95_ms;
        match self.service.metrics {
            MetricsFlavor::Mlserver => {
                let bound = MLSERVER_BUCKETS
                    .iter()
                    .copied()
                    .find(|b| b * 1000.0 >= sla_ms - 1e-9)
                    .unwrap_or(10.0);
                (bucket_label(bound), bound * 1000.0)
            }
            MetricsFlavor::Kserve => {
                let bound = KNATIVE_BUCKETS_MS
                    .iter()
                    .copied()
                    .find(|b| *b >= sla_ms - 1e-9)
                    .unwrap_or(10000.0);
                (bucket_label(bound), bound)
            }
        }
    }

    /// Share of requests slower than the SLA over `window` (the latency SLI of burn rates).
    pub fn slow_ratio(&self, window: Duration) -> String {
        if let Some(query) = self.overridden("slow_ratio", window) {
            return query;
        }
        let w = promql_duration(window);
        let (le, _) = self.slow_bound();
        let (metric, selector) = match self.service.metrics {
            MetricsFlavor::Mlserver => (
                "rest_server_request_duration_seconds",
                format!("path=\"{INFER}\""),
            ),
            MetricsFlavor::Kserve => ("revision_app_request_latencies", self.knative_selector()),
        };
        format!(
            "1 - sum(rate({metric}_bucket{{{selector},le=\"{le}\"}}[{w}])) / sum(rate({metric}_count{{{selector}}}[{w}]))"
        )
    }

    /// Feature-store p95 latency in milliseconds, if configured.
    pub fn feature_latency_p95_ms(&self, window: Duration) -> Option<String> {
        self.overridden("feature_latency_p95_ms", window)
    }
}

/// MLServer's route label for inference (a template, not the model's name).
const INFER: &str = "/v2/models/{model_name}/infer";

/// Prometheus prints bucket bounds like Go's `strconv.FormatFloat(b, 'f', -1, 64)`.
fn bucket_label(bound: f64) -> String {
    let text = format!("{bound}");
    if text.contains('.') || text.contains('e') {
        text
    } else {
        format!("{text}.0")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A service with the runbook's defaults, for the crate's unit tests.
    pub(crate) fn service(metrics: MetricsFlavor) -> ServiceConfig {
        ServiceConfig {
            name: "demand-forecast".into(),
            model: "demand-forecast".into(),
            namespace: Some("mlops".into()),
            inference_service: Some("demand-forecast".into()),
            deployment: None,
            hpa: None,
            pod_selector: None,
            metrics,
            queries: Default::default(),
            latency_p95_ms: 200.0,
            error_rate: 0.01,
            sustain: Duration::from_secs(120),
            burn_rate: None,
            check_every: None,
            deployment_window: Duration::from_secs(3600),
            hpa_lag: Duration::from_secs(300),
        }
    }

    #[test]
    fn default_queries_use_each_servers_metric_names() {
        let mlserver = service(MetricsFlavor::Mlserver);
        let q = SloQueries::new(&mlserver);
        assert_eq!(
            q.latency_p95_ms(Duration::from_secs(300)),
            "1000 * histogram_quantile(0.95, sum by (le) (rate(rest_server_request_duration_seconds_bucket{path=\"/v2/models/{model_name}/infer\"}[5m])))"
        );
        assert!(
            q.error_rate(Duration::from_secs(3600))
                .contains("status_code=~\"5..\"}[1h]")
        );
        assert_eq!(q.slow_bound(), ("0.25".to_string(), 250.0));
        assert!(
            q.slow_ratio(Duration::from_secs(30))
                .contains("le=\"0.25\"}[30s]")
        );

        let kserve = service(MetricsFlavor::Kserve);
        let q = SloQueries::new(&kserve);
        assert_eq!(q.slow_bound(), ("200.0".to_string(), 200.0));
        assert!(
            q.request_rate(Duration::from_secs(300)).contains(
                "revision_app_request_count{namespace_name=\"mlops\",configuration_name=\"demand-forecast-predictor\"}[5m]"
            )
        );
    }

    #[test]
    fn overrides_replace_defaults_and_take_the_window() {
        let mut s = service(MetricsFlavor::Mlserver);
        s.queries.insert(
            "error_rate".into(),
            "sum(rate(errors[{window}])) / sum(rate(requests[{window}]))".into(),
        );
        let q = SloQueries::new(&s);
        assert_eq!(
            q.error_rate(Duration::from_secs(21600)),
            "sum(rate(errors[6h])) / sum(rate(requests[6h]))"
        );
        assert_eq!(promql_duration(Duration::from_secs(90)), "90s");
        assert!(q.feature_latency_p95_ms(Duration::from_secs(60)).is_none());
    }
}
