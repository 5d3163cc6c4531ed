//! The test command's RBAC check: every Kubernetes request the test suite made (the fake API
//! server's log) must be allowed by the shipped Role, and every shipped rule must have been
//! used by some test. Exit 1 with the list otherwise.
//!
//!   cargo run -p warden-testkit --example rbac_check -- deploy/kubernetes/warden.yaml REQUESTS

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [manifests, log] = args.as_slice() else {
        eprintln!("usage: rbac_check MANIFESTS REQUESTS_LOG");
        std::process::exit(2);
    };
    let read = |path: &str| {
        std::fs::read_to_string(path).unwrap_or_else(|err| {
            eprintln!("{path}: {err}");
            std::process::exit(2);
        })
    };
    let docs = warden_testkit::rbac::documents(&read(manifests)).unwrap_or_else(|err| {
        eprintln!("{manifests}: {err}");
        std::process::exit(2);
    });
    let log = read(log);
    let (refused, unused) = warden_testkit::rbac::check(&docs, &log);
    for (access, line) in &refused {
        eprintln!("rbac: {access} is not allowed by {manifests} (request: {line})");
    }
    for access in &unused {
        eprintln!("rbac: {access} is granted by {manifests} but no test exercised it");
    }
    let requests = log.lines().count();
    if refused.is_empty() && unused.is_empty() {
        println!(
            "rbac: {requests} Kubernetes requests of the test suite, every one allowed, every rule used"
        );
    } else {
        std::process::exit(1);
    }
}
