//! Schedules Warden pauses during an incident and resumes at closure — an Airflow DAG, a
//! Kubernetes CronJob or a KFP recurring run — and the handler that pauses or resumes one
//! idempotently, reads the state back, and leaves a schedule that was paused before the
//! incident as it was found.
//! Shared by runbook 1 (the pipeline's schedule), runbook 3 (the retraining trigger) and
//! runbook 4 (materialization).

use warden_config::{AirflowConfig, KfpConfig, KubernetesConfig};
use warden_connect::{AirflowClient, KfpClient};
use warden_engine::executor::{ActionError, ActionHandler, ActionRequest, BoxFuture};

use super::actions::connect_error;
use super::kube::{kube_client, kube_error};

/// What a pause leaves in its result when the schedule was paused before Warden touched it,
/// so the resume at closure leaves it as it was found.
pub const FOUND_PAUSED: &str = "was already paused: left as found";

/// Something that schedules materialization and can be paused.
pub trait Schedule: Send + Sync {
    /// How results name it, e.g. `Airflow DAG feast_materialize`.
    fn describe(&self) -> String;
    /// Whether it is paused now.
    fn paused(&self) -> BoxFuture<'_, Result<bool, ActionError>>;
    /// Pauses or resumes it; returns the state read back.
    fn set_paused(&self, paused: bool) -> BoxFuture<'_, Result<bool, ActionError>>;
}

impl<S: Schedule + ?Sized> Schedule for Box<S> {
    fn describe(&self) -> String {
        (**self).describe()
    }

    fn paused(&self) -> BoxFuture<'_, Result<bool, ActionError>> {
        (**self).paused()
    }

    fn set_paused(&self, paused: bool) -> BoxFuture<'_, Result<bool, ActionError>> {
        (**self).set_paused(paused)
    }
}

/// An Airflow DAG's schedule.
pub struct AirflowDag {
    pub airflow: AirflowConfig,
    pub dag: String,
}

pub fn airflow_error(err: warden_connect::ConnectError) -> ActionError {
    ActionError {
        retryable: err.is_retryable(),
        message: format!("Airflow: {err}"),
    }
}

/// An authenticated client for `connectors.airflow`.
pub async fn airflow_client(airflow: &AirflowConfig) -> Result<AirflowClient, ActionError> {
    let password = airflow.password.resolve().map_err(|err| ActionError {
        message: format!("connectors.airflow.password: {err}"),
        retryable: false,
    })?;
    AirflowClient::connect(&airflow.endpoint, &airflow.username, &password)
        .await
        .map_err(airflow_error)
}

impl AirflowDag {
    pub async fn client(&self) -> Result<AirflowClient, ActionError> {
        airflow_client(&self.airflow).await
    }
}

impl Schedule for AirflowDag {
    fn describe(&self) -> String {
        format!("Airflow DAG {}", self.dag)
    }

    fn paused(&self) -> BoxFuture<'_, Result<bool, ActionError>> {
        Box::pin(async move {
            let dag = self
                .client()
                .await?
                .dag(&self.dag)
                .await
                .map_err(airflow_error)?;
            Ok(dag.is_paused)
        })
    }

    fn set_paused(&self, paused: bool) -> BoxFuture<'_, Result<bool, ActionError>> {
        Box::pin(async move {
            let client = self.client().await?;
            client
                .set_paused(&self.dag, paused)
                .await
                .map_err(airflow_error)?;
            Ok(client
                .dag(&self.dag)
                .await
                .map_err(airflow_error)?
                .is_paused)
        })
    }
}

/// A Kubernetes CronJob's schedule (`spec.suspend`).
pub struct CronJobSchedule {
    pub kubernetes: KubernetesConfig,
    pub name: String,
}

impl Schedule for CronJobSchedule {
    fn describe(&self) -> String {
        format!("CronJob {}", self.name)
    }

    fn paused(&self) -> BoxFuture<'_, Result<bool, ActionError>> {
        Box::pin(async move {
            kube_client(&self.kubernetes)
                .await?
                .cronjob_suspended(None, &self.name)
                .await
                .map_err(kube_error)
        })
    }

    fn set_paused(&self, paused: bool) -> BoxFuture<'_, Result<bool, ActionError>> {
        Box::pin(async move {
            kube_client(&self.kubernetes)
                .await?
                .set_cronjob_suspended(None, &self.name, paused)
                .await
                .map_err(kube_error)
        })
    }
}

/// A KFP recurring run's schedule: paused with `:disable`, resumed with `:enable`.
pub struct KfpRecurringRun {
    pub kfp: KfpConfig,
    pub id: String,
}

impl KfpRecurringRun {
    fn client(&self) -> Result<KfpClient, ActionError> {
        KfpClient::from_config(&self.kfp).map_err(connect_error)
    }
}

impl Schedule for KfpRecurringRun {
    fn describe(&self) -> String {
        format!("KFP recurring run {}", self.id)
    }

    fn paused(&self) -> BoxFuture<'_, Result<bool, ActionError>> {
        Box::pin(async move {
            Ok(self
                .client()?
                .get_recurring_run(&self.id)
                .await
                .map_err(connect_error)?
                .disabled())
        })
    }

    fn set_paused(&self, paused: bool) -> BoxFuture<'_, Result<bool, ActionError>> {
        Box::pin(async move {
            Ok(self
                .client()?
                .set_recurring_run_disabled(&self.id, paused)
                .await
                .map_err(connect_error)?
                .disabled())
        })
    }
}

/// Pauses (`pause: true`) or resumes a [`Schedule`], leaving one that was paused before the
/// incident as it was found: runbook 4's `pause_materialization`/`resume_materialization`,
/// runbook 1's `pause_schedule`/`resume_schedule`.
pub struct PauseResume<S> {
    pub schedule: S,
    pub pause: bool,
}

impl<S: Schedule> PauseResume<S> {
    /// Whether the pause this resume undoes found the schedule already paused.
    fn paused_before_warden(&self, request: &ActionRequest) -> bool {
        let name = self.schedule.describe();
        request
            .earlier_results
            .values()
            .any(|result| result.contains(FOUND_PAUSED) && result.contains(&name))
    }
}

impl<S: Schedule> ActionHandler for PauseResume<S> {
    fn plan<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            let name = self.schedule.describe();
            Ok(match (self.pause, self.schedule.paused().await?) {
                (true, true) => format!("{name} is already paused: nothing to do"),
                (true, false) => format!("would pause {name}"),
                (false, true) if self.paused_before_warden(request) => {
                    format!("{name} was paused before the incident: would leave it paused")
                }
                (false, true) => format!("would resume {name}"),
                (false, false) => format!("{name} is not paused: nothing to do"),
            })
        })
    }

    fn execute<'a>(
        &'a self,
        request: &'a ActionRequest,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            let name = self.schedule.describe();
            let before = self.schedule.paused().await?;
            if self.pause && before {
                return Ok(format!("{name} {FOUND_PAUSED}"));
            }
            if !self.pause && before && self.paused_before_warden(request) {
                return Ok(format!(
                    "{name} left paused: it was paused before the incident"
                ));
            }
            let after = if before == self.pause {
                before
            } else {
                self.schedule.set_paused(self.pause).await?
            };
            if after != self.pause {
                return Err(ActionError {
                    message: format!("{name} reports paused={after} after the change"),
                    retryable: true,
                });
            }
            Ok(format!(
                "{name} {} (read back: paused={after})",
                if self.pause { "paused" } else { "resumed" }
            ))
        })
    }
}
