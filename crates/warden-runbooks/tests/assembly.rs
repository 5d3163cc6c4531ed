//! The one assembly, checked against the catalogue: with every connector configured, each
//! step the catalogue marks automated has an implementation registered for its runbook (and
//! nothing is registered that the catalogue calls manual); with a bare configuration, each
//! such step says what it needs; configuration problems are errors naming the key.

#![allow(clippy::unwrap_used)] // test helpers

use std::path::Path;

use warden_engine::registry::EntryKind;
use warden_runbooks::status::{self, StepStatus};
use warden_runbooks::{AssemblyError, assemble};

const EXAMPLE: &str = include_str!("../../../warden.example.yaml");

/// The example configuration (every connector, a service, a model, two pipelines) with one
/// `gate_queries:` entry added.
fn full_config(dir: &Path) -> warden_config::Config {
    let text = EXAMPLE
        .replace(
            "runbooks:\n",
            "gate_queries:\n  known_failure_mode_rate: \"vector(1)\"\nrunbooks:\n",
        )
        .replace(
            "data_dir: warden-data",
            &format!("data_dir: {}", dir.display()),
        );
    warden_config::parse(&dir.join("warden.yaml"), &text).unwrap()
}

fn bare_config(dir: &Path) -> warden_config::Config {
    warden_config::parse(
        &dir.join("warden.yaml"),
        &format!("data_dir: {}\n", dir.display()),
    )
    .unwrap()
}

#[test]
fn every_step_marked_automated_has_an_implementation_registered() {
    let dir = tempfile::tempdir().unwrap();
    let runbooks = warden_runbook::builtin::all().unwrap();
    let assembly = assemble(&full_config(dir.path()), &runbooks).unwrap();
    let mut missing = Vec::new();
    let mut automated = 0;
    for runbook in &runbooks {
        for step in &runbook.steps {
            let Some((kind, name)) = status::entry_of(step) else {
                continue;
            };
            if !status::implemented(kind, name) {
                continue;
            }
            automated += 1;
            if !assembly
                .registries
                .for_runbook(runbook.id.as_str())
                .has(kind, name)
            {
                missing.push(format!("{}: {kind} {name} (step {})", runbook.id, step.id));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "marked automated, not registered: {missing:#?}"
    );
    assert!(
        automated > 60,
        "only {automated} automated steps: the catalogue lost its marks"
    );
}

#[test]
fn nothing_is_registered_that_the_catalogue_calls_manual() {
    let dir = tempfile::tempdir().unwrap();
    let runbooks = warden_runbook::builtin::all().unwrap();
    let config = full_config(dir.path());
    let assembly = assemble(&config, &runbooks).unwrap();
    for runbook in &runbooks {
        let registry = assembly.registries.for_runbook(runbook.id.as_str());
        let names = [
            (
                EntryKind::Action,
                registry.actions.keys().collect::<Vec<_>>(),
            ),
            (EntryKind::Evidence, registry.collectors.keys().collect()),
            (EntryKind::Cause, registry.judges.keys().collect()),
            (EntryKind::Gate, registry.gates.keys().collect()),
        ];
        for (kind, names) in names {
            for name in names {
                let by_query = kind == EntryKind::Gate && config.gate_queries.contains_key(name);
                assert!(
                    by_query || status::implemented(kind, name),
                    "{}: {kind} {name} is registered but the catalogue says it is not automated",
                    runbook.id
                );
            }
        }
    }
}

#[test]
fn a_bare_configuration_says_what_each_step_needs() {
    let dir = tempfile::tempdir().unwrap();
    let runbooks = warden_runbook::builtin::all().unwrap();
    let assembly = assemble(&bare_config(dir.path()), &runbooks).unwrap();
    let serving = runbooks
        .iter()
        .find(|r| r.id.as_str() == "serving-latency")
        .unwrap();
    let rollback = serving.step("rollback").unwrap();
    assert_eq!(
        status::step_status(&assembly.registries, serving, rollback),
        StepStatus::Needs {
            need: "needs a service listed under serving".into()
        }
    );
    assert_eq!(status::automated_steps(&assembly.registries, serving), 0);
    assert!(status::automatable_steps(serving) >= 20);
    // `notify` needs nothing: it is registered for every runbook.
    for runbook in &runbooks {
        assert!(
            assembly
                .registries
                .for_runbook(runbook.id.as_str())
                .has(EntryKind::Action, "notify"),
            "{}",
            runbook.id
        );
    }
    assert!(assembly.detectors.is_empty());
}

#[test]
fn a_missing_connector_is_named_for_the_steps_that_need_it() {
    let dir = tempfile::tempdir().unwrap();
    let runbooks = warden_runbook::builtin::all().unwrap();
    let text = format!(
        "data_dir: {}\nserving:\n  - name: demand-forecast\n    latency_p95_ms: 200\n",
        dir.path().display()
    );
    let config = warden_config::parse(&dir.path().join("warden.yaml"), &text).unwrap();
    let assembly = assemble(&config, &runbooks).unwrap();
    let serving = runbooks
        .iter()
        .find(|r| r.id.as_str() == "serving-latency")
        .unwrap();
    let status_of = |step: &str| {
        status::step_status(&assembly.registries, serving, serving.step(step).unwrap())
    };
    assert_eq!(status_of("rollback"), StepStatus::Automated);
    assert_eq!(
        status_of("hpa"),
        StepStatus::Needs {
            need: "needs connectors.kubernetes".into()
        }
    );
}

#[test]
fn a_detector_for_a_runbook_not_in_effect_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "data_dir: {}\nconnectors:\n  prometheus: {{ url: \"http://127.0.0.1:9090\" }}\n\
         detectors:\n  - name: p95\n    kind: promql_threshold\n    runbook: serving-latency\n\
         \x20   target: service/x\n    query: vector(1)\n    above: 1\n",
        dir.path().display()
    );
    let config = warden_config::parse(&dir.path().join("warden.yaml"), &text).unwrap();
    let mut runbooks = warden_runbook::builtin::all().unwrap();
    let assembly = assemble(&config, &runbooks).unwrap();
    assert_eq!(assembly.detectors.len(), 1);
    assert_eq!(assembly.detectors[0].name(), "p95");
    runbooks.retain(|r| r.id.as_str() != "serving-latency");
    let Err(err) = assemble(&config, &runbooks) else {
        panic!("assembled a detector for a runbook not in effect");
    };
    assert!(
        matches!(&err, AssemblyError::Config { key, .. } if key == "detectors[0].runbook"),
        "{err}"
    );
}

#[test]
fn an_unreadable_rules_file_is_an_error_naming_the_pipeline_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "data_dir: {}\nconnectors:\n  airflow: {{ url: \"http://127.0.0.1:8280\", username: a, password: {{ env: X }} }}\n\
         pipelines:\n  - name: training\n    airflow_dag: training\n    rules: [{}/missing.yaml]\n",
        dir.path().display(),
        dir.path().display()
    );
    let config = warden_config::parse(&dir.path().join("warden.yaml"), &text);
    let Ok(config) = config else {
        // The configuration layer may already refuse the missing file, naming it.
        let errors = config.unwrap_err();
        assert!(errors.to_string().contains("missing.yaml"), "{errors}");
        return;
    };
    let runbooks = warden_runbook::builtin::all().unwrap();
    let Err(err) = assemble(&config, &runbooks) else {
        panic!("assembled with a missing rules file");
    };
    let text = err.to_string();
    assert!(
        text.starts_with("pipelines[0].rules: ") && text.contains("missing.yaml"),
        "{text}"
    );
}
