//! The action handlers Warden has today, registered by catalogue name for the executor:
//! `notify`; `switch_feature_fallback` when a feature proxy is configured;
//! `pause_materialization` / `resume_materialization` on the materialization DAG in Airflow or
//! CronJob in Kubernetes; `scale_online_store` on the online store's workload; runbook 2's
//! `rollback_model` (also for the models under `models:`, runbook 5), `scale_replicas`,
//! `enable_rate_limit` / `disable_rate_limit` for the services under `serving:`; runbook 1's
//! schedule pause/resume and pipeline retry for `pipelines:`. Each sits behind its connector.

use std::sync::Arc;

use warden_config::{Config, NotificationConfig};
use warden_connect::notify::{self, Notification};
use warden_engine::executor::{
    ActionError, ActionHandler, ActionRegistry, ActionRequest, BoxFuture,
};

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
pub(crate) fn connect_error(error: warden_connect::ConnectError) -> ActionError {
    ActionError {
        retryable: error.is_retryable(),
        message: error.to_string(),
    }
}

/// `notify`: sends the incident to the channel named by the step's `channel` parameter.
struct Notify {
    channels: Vec<NotificationConfig>,
}

impl Notify {
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

/// Every handler that can run with `config`.
pub fn registry(config: &Config) -> ActionRegistry {
    let mut registry = ActionRegistry::new();
    let notify: Arc<dyn ActionHandler> = Arc::new(Notify {
        channels: config.notifications.clone(),
    });
    registry.insert("notify".to_string(), notify);
    if let Some(serving) = crate::serving::Serving::from_config(config) {
        crate::serving::actions::handlers(&serving, &mut registry);
    }
    // An unreadable rules file is reported by `warden up` at start; here it only means no handlers.
    if let Ok(Some(pipelines)) = crate::pipelines::Pipelines::from_config(config) {
        crate::pipelines::work::handlers(&pipelines, &mut registry);
    }
    if let Some(feast) = &config.connectors.feast
        && let Some(url) = &feast.proxy_url
    {
        // An unreadable token leaves the action to a responder rather than failing the daemon.
        let token = feast.proxy_token.as_ref().and_then(|t| t.resolve().ok());
        if let Ok(handler) =
            crate::feature_store::actions::SwitchFeatureFallback::new(url.clone(), token)
        {
            let handler: Arc<dyn ActionHandler> = Arc::new(handler);
            registry.insert("switch_feature_fallback".to_string(), handler);
        }
    }
    if let Some(feast) = &config.connectors.feast {
        let handlers = crate::feature_store::schedule_handlers(
            feast,
            config.connectors.airflow.as_ref(),
            config.connectors.kubernetes.as_ref(),
        )
        .into_iter()
        .chain(crate::feature_store::kubernetes_handlers(
            feast,
            config.connectors.kubernetes.as_ref(),
        ));
        for (name, handler) in handlers {
            registry.insert(name.to_string(), handler);
        }
    }
    registry
}
