//! The registry file decoder against the real thing: the harness's `registry.db` decodes to
//! exactly what the registry REST server says about the same project.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use warden_config::HttpEndpoint;
use warden_feast::RegistryClient;
use warden_feast::registry_file::RegistryFile;

#[tokio::test]
async fn the_registry_file_says_what_the_rest_server_says() {
    let Some(repo) = warden_testkit::stack::require("FEAST_REPO") else {
        return;
    };
    let url = warden_testkit::stack::require("FEAST_REGISTRY_URL").unwrap();
    let project = warden_testkit::stack::require("FEAST_PROJECT").unwrap();
    let rest = RegistryClient::new(
        &HttpEndpoint {
            url: url.parse().unwrap(),
            timeout: Duration::from_secs(5),
        },
        &project,
    )
    .unwrap();
    let file = RegistryFile::new(&PathBuf::from(&repo).join("data/registry.db"), &project);
    // Another test may materialize between the two reads: agree on one snapshot.
    let mut last = None;
    for _ in 0..3 {
        let from_rest = rest.feature_views().await.unwrap();
        let from_file = file.feature_views().unwrap();
        if from_rest == from_file {
            assert!(!from_file.is_empty());
            assert_eq!(from_file[0].name, "store_daily_features");
            assert_eq!(from_file[0].features.len(), 3);
            assert_eq!(from_file[0].ttl, Some(Duration::from_secs(7200)));
            return;
        }
        last = Some((from_rest, from_file));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("registry file and REST server disagree: {last:#?}");
}

#[test]
fn garbage_is_not_a_registry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    std::fs::write(&path, b"\xff\xff\xff not protobuf").unwrap();
    let err = RegistryFile::new(&path, "p")
        .feature_views()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("registry.db: unexpected response: not a Feast registry file"),
        "{err}"
    );
    let missing = RegistryFile::new(&dir.path().join("nope.db"), "p")
        .feature_views()
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("nope.db: unreachable: cannot read the Feast registry"),
        "{missing}"
    );
}
