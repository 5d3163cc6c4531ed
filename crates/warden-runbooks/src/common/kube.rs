//! The Kubernetes client as actions and collectors get it: built from
//! `connectors.kubernetes` and shared for a few minutes (building one reads the kubeconfig and
//! the system's root certificates — most of the cost of a collector's call), its failures as
//! [`ActionError`]s whose retry decision comes from the typed [`warden_kube::KubeError`],
//! never from the words of a message.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use warden_config::KubernetesConfig;
use warden_engine::executor::ActionError;

/// How long a client is shared: short enough that a changed kubeconfig (a new context, a
/// rotated credential) is picked up soon; the client itself refreshes in-cluster tokens.
const SHARED_FOR: Duration = Duration::from_secs(300);

type Clients = Mutex<HashMap<String, (Instant, warden_kube::KubeClient)>>;

fn clients() -> &'static Clients {
    static CLIENTS: OnceLock<Clients> = OnceLock::new();
    CLIENTS.get_or_init(|| Mutex::new(HashMap::new()))
}

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
    let key = format!("{kubernetes:?}");
    if let Some((built, client)) = clients()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
        && built.elapsed() < SHARED_FOR
    {
        return Ok(client.clone());
    }
    let client = warden_kube::KubeClient::connect(kubernetes)
        .await
        .map_err(kube_error)?;
    clients()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key, (Instant::now(), client.clone()));
    Ok(client)
}
