//! The shipped Kubernetes manifests (`deploy/kubernetes/warden.yaml`) say what Warden needs:
//! the configuration they mount is a valid `warden.yaml` on PostgreSQL; two replicas that
//! know their pod name (the leader lease's holder); non-root on a read-only root filesystem;
//! probes on `/healthz` and `/readyz`, which the daemon serves; a disruption budget. Schema
//! validation (`kubernetes-validate --strict`) and the RBAC check against the requests of the
//! whole suite run in the test command after the tests.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use serde_json::Value;

fn manifests() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/kubernetes/warden.yaml");
    warden_testkit::rbac::documents(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn the_manifests_run_two_fenced_replicas_safely() {
    let docs = manifests();
    let config = kind(&docs, "ConfigMap")["data"]["warden.yaml"]
        .as_str()
        .unwrap();
    let parsed = warden_config::parse(Path::new("/etc/warden/warden.yaml"), config)
        .unwrap_or_else(|errors| panic!("{errors}"));
    assert!(
        matches!(parsed.store, warden_config::StoreConfig::Postgres { .. }),
        "replicas share PostgreSQL"
    );
    assert_eq!(parsed.server.listen.port(), 8181);

    let deployment = kind(&docs, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let container = &pod["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    let pod_name = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "POD_NAME")
        .unwrap();
    assert_eq!(
        pod_name["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    // data_dir (evidence, drift-monitor state) is one volume both replicas share.
    let data = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "data")
        .unwrap();
    let claim = data["persistentVolumeClaim"]["claimName"].as_str().unwrap();
    let pvc = kind(&docs, "PersistentVolumeClaim");
    assert_eq!(pvc["metadata"]["name"], claim);
    assert_eq!(pvc["spec"]["accessModes"][0], "ReadWriteMany");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(container["resources"]["requests"]["memory"].is_string());
    // Every secret the configuration reads comes from the Secret, none is in the ConfigMap.
    for variable in [
        "WARDEN_DATABASE_URL",
        "WARDEN_RESPONDER_TOKEN",
        "WARDEN_WEBHOOK_SECRET",
    ] {
        assert!(config.contains(variable));
        let env = container["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == variable)
            .unwrap();
        assert!(env["valueFrom"]["secretKeyRef"].is_object(), "{variable}");
    }
    assert_eq!(
        kind(&docs, "PodDisruptionBudget")["spec"]["minAvailable"],
        1
    );
    // The Role grants no wildcard and nothing cluster-wide.
    let role = kind(&docs, "Role");
    for rule in role["rules"].as_array().unwrap() {
        for key in ["apiGroups", "resources", "verbs"] {
            assert!(
                !rule[key].as_array().unwrap().iter().any(|v| v == "*"),
                "{rule}"
            );
        }
    }
    assert!(!docs.iter().any(|d| d["kind"] == "ClusterRole"));
}
