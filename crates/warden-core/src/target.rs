//! What an incident is about: the pipeline, model service, feature view, registered model or
//! drift monitor that misbehaves. Together with the runbook it forms the dedup key, so two
//! alerts about the same service and cause become one incident.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of thing a [`Target`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// A Kubeflow pipeline or an Airflow DAG.
    Pipeline,
    /// A model server endpoint (KServe InferenceService, MLServer model).
    Service,
    /// A Feast feature view.
    FeatureView,
    /// A registered model in the model registry.
    Model,
    /// A drift monitor over a prediction log.
    DriftMonitor,
}

impl TargetKind {
    /// The snake_case name used in keys and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Pipeline => "pipeline",
            TargetKind::Service => "service",
            TargetKind::FeatureView => "feature_view",
            TargetKind::Model => "model",
            TargetKind::DriftMonitor => "drift_monitor",
        }
    }
}

/// A named object of the platform, optionally in a namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Target {
    /// What kind of object this is.
    pub kind: TargetKind,
    /// The namespace (Kubernetes namespace, Feast project); empty when the platform has none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The object's name.
    pub name: String,
}

impl Target {
    /// A target with no namespace.
    pub fn new(kind: TargetKind, name: impl Into<String>) -> Self {
        Self {
            kind,
            namespace: String::new(),
            name: name.into(),
        }
    }

    /// The same target inside `namespace`.
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind.as_str(), self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind.as_str(), self.namespace, self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_kind_namespace_and_name() {
        let plain = Target::new(TargetKind::Model, "demand-forecast");
        assert_eq!(plain.to_string(), "model/demand-forecast");
        let namespaced = Target::new(TargetKind::Service, "demand-forecast").in_namespace("mlops");
        assert_eq!(namespaced.to_string(), "service/mlops/demand-forecast");
        assert_ne!(plain, namespaced);
    }
}
