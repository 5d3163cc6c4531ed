//! Test support shared by the integration tests of every crate.
//!
//! [`stack`] finds the real components that `scripts/stack.sh up` started: first in the
//! process environment (`WARDEN_STACK_*`, as the README's test command exports them), then in
//! the env file the harness writes. When a component is missing, a test either fails loudly
//! (`WARDEN_REQUIRE_STACK=1`, which the README's test command and CI set, so a broken harness
//! can never look green) or, on a developer's machine without the stack, is skipped with a
//! message saying how to bring the stack up.
//!
//! [`fake_kube`] stands in for the Kubernetes API server and [`fake_kfp`] for Kubeflow
//! Pipelines — the components that cannot run here: realistic answers, every request
//! recorded; the KFP fake is held to the published API description ([`kfp_spec`]). Both fakes
//! live in `warden-sim` (the demo runs Warden against them too) and are re-exported here under
//! their test names, with the schemas the Kubernetes fake holds writes to ([`schema`]).

pub mod rbac;
pub mod stack;

pub use warden_sim::kfp as fake_kfp;
pub use warden_sim::kube as fake_kube;
pub use warden_sim::{kfp_spec, schema};
