//! The Kubernetes client as actions and collectors get it: built from
//! `connectors.kubernetes`, its failures as [`ActionError`]s whose retry decision comes from
//! the typed [`warden_kube::KubeError`], never from the words of a message.

use warden_config::KubernetesConfig;
use warden_engine::executor::ActionError;

/// A Kubernetes error as an action's: retryable when the error kind says a retry can help.
pub fn kube_error(error: warden_kube::KubeError) -> ActionError {
    ActionError {
        retryable: error.is_retryable(),
        message: error.to_string(),
    }
}

/// A Kubernetes client for an action or collector, its failure as an [`ActionError`].
pub async fn kube_client(
    kubernetes: &KubernetesConfig,
) -> Result<warden_kube::KubeClient, ActionError> {
    warden_kube::KubeClient::connect(kubernetes)
        .await
        .map_err(kube_error)
}
