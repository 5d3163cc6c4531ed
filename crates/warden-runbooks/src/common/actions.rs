//! What every runbook's actions share: the `notify` handler (registered for every runbook),
//! the [`work_handler!`] macro that gives plan and execution one code path, and the mapping
//! of connector errors to action errors (retryable when the connector's typed error says so).

use warden_config::NotificationConfig;
use warden_connect::notify::{self, Notification};
use warden_engine::executor::{ActionError, ActionHandler, ActionRequest, BoxFuture};

/// Implements `ActionHandler` for a type whose `work(request, execute)` does both: `plan`
/// calls it with `execute: false`, `execute` with `true` — one code path, so the plan shows
/// exactly what the execution would do.
macro_rules! work_handler {
    ($type:ty) => {
        impl warden_engine::executor::ActionHandler for $type {
            fn plan<'a>(
                &'a self,
                request: &'a warden_engine::executor::ActionRequest,
            ) -> warden_engine::executor::BoxFuture<
                'a,
                Result<String, warden_engine::executor::ActionError>,
            > {
                Box::pin(self.work(request, false))
            }
            fn execute<'a>(
                &'a self,
                request: &'a warden_engine::executor::ActionRequest,
            ) -> warden_engine::executor::BoxFuture<
                'a,
                Result<String, warden_engine::executor::ActionError>,
            > {
                Box::pin(self.work(request, true))
            }
        }
    };
}
pub(crate) use work_handler;

/// A connector's error as an action's: retryable when the connector says so (timeouts,
/// throttling, 5xx).
pub fn connect_error(error: warden_connect::ConnectError) -> ActionError {
    ActionError {
        retryable: error.is_retryable(),
        message: error.to_string(),
    }
}

/// A problem found in what was read (a value that did not stick, a missing setting):
/// retrying the same request would find the same.
pub fn refused(message: String) -> ActionError {
    ActionError {
        retryable: false,
        message,
    }
}

/// A step's text parameter.
pub fn text_param<'a>(request: &'a ActionRequest, name: &str) -> Option<&'a str> {
    request.params.get(name).and_then(serde_json::Value::as_str)
}

/// `notify`: sends the incident to the channel named by the step's `channel` parameter.
pub struct Notify {
    channels: Vec<NotificationConfig>,
}

impl Notify {
    /// Over the configured channels (`notifications:`).
    pub fn new(channels: Vec<NotificationConfig>) -> Self {
        Self { channels }
    }

    fn channel(&self, request: &ActionRequest) -> Result<&NotificationConfig, ActionError> {
        let name = request
            .params
            .get("channel")
            .and_then(|value| value.as_str())
            .unwrap_or_default();
        self.channels
            .iter()
            .find(|channel| channel.name == name)
            .ok_or_else(|| ActionError {
                message: format!(
                    "no notification channel {name:?} in warden.yaml (notifications:)"
                ),
                retryable: false,
            })
    }
}

fn notification(request: &ActionRequest) -> Notification {
    let incident = &request.incident;
    Notification {
        incident: incident.id.0.clone(),
        title: incident.title.clone(),
        severity: incident.severity.to_string(),
        target: incident.target.to_string(),
        runbook: incident.runbook.to_string(),
        dedup_key: incident.dedup_key.clone(),
        message: request
            .params
            .get("message")
            .and_then(|value| value.as_str())
            .unwrap_or("incident opened")
            .to_string(),
        idempotency_key: request.idempotency_key.clone(),
    }
}

impl ActionHandler for Notify {
    fn plan<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            let channel = self.channel(request)?;
            Ok(format!(
                "would notify {} about {}",
                channel.name, request.incident.id
            ))
        })
    }

    fn execute<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            let channel = self.channel(request)?;
            notify::send(channel, &notification(request))
                .await
                .map_err(connect_error)
        })
    }
}

/// Pages every configured channel when a step fails for good, so what Warden failed to do
/// reaches a person without anyone looking.
pub struct FailureNotifier {
    channels: Vec<NotificationConfig>,
}

impl FailureNotifier {
    /// Over the configured channels (`notifications:`).
    pub fn new(channels: Vec<NotificationConfig>) -> Self {
        Self { channels }
    }
}

impl warden_engine::StepFailureSink for FailureNotifier {
    fn step_failed<'a>(
        &'a self,
        incident: &'a warden_core::Incident,
        step: &'a str,
        error: &'a str,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let notification = Notification {
                incident: incident.id.0.clone(),
                title: incident.title.clone(),
                severity: incident.severity.to_string(),
                target: incident.target.to_string(),
                runbook: incident.runbook.to_string(),
                dedup_key: incident.dedup_key.clone(),
                message: format!("step {step} failed: {error}"),
                idempotency_key: format!("{}/{step}/failed", incident.id),
            };
            for channel in &self.channels {
                // A channel that cannot be reached must not stop the others, nor the runbook.
                if let Err(err) = notify::send(channel, &notification).await {
                    eprintln!(
                        "warden: paging {} about {} step {step} failed: {err}",
                        channel.name, incident.id
                    );
                }
            }
        })
    }
}
