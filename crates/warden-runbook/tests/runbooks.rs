//! The built-in runbooks cover the spec item by item, and the linter reports every kind of
//! mistake with its file, line and field.

use std::path::Path;

use warden_runbook::{ApprovalPolicy, LintError, Phase, StepKind, builtin, parse};

/// The spec, copied from `shared/spec/incident-runbooks.md`.
const SPEC: &str = include_str!("data/incident-runbooks.md");

fn normalize(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '%' || c == '.' {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The checklist items, common causes, fixes and closure criteria of each spec section.
fn spec_items() -> Vec<(usize, String)> {
    let mut items = Vec::new();
    let mut section = 0;
    let mut in_list = false;
    for line in SPEC.lines() {
        if let Some(rest) = line.strip_prefix("## ") {
            section = rest
                .split(')')
                .next()
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0);
        }
        if line.starts_with("**") {
            let heading = line.to_lowercase();
            in_list = [
                "containment",
                "common causes",
                "permanent fixes",
                "validation",
            ]
            .iter()
            .any(|name| heading.contains(name));
        }
        let item = line
            .strip_prefix("- [ ] ")
            .or_else(|| line.strip_prefix("- "));
        if let (true, Some(item)) = (in_list, item) {
            let item = item.trim_end_matches(':');
            items.push((section, item.to_string()));
        }
    }
    items
}

#[test]
fn the_five_built_in_runbooks_lint_clean() {
    let runbooks = builtin::all().unwrap_or_else(|errors| panic!("{errors:#?}"));
    let ids: Vec<&str> = runbooks.iter().map(|runbook| runbook.id.as_str()).collect();
    assert_eq!(ids, warden_core::RunbookId::BUILT_IN);
    for runbook in &runbooks {
        for phase in Phase::ALL {
            assert!(
                runbook.phase(phase).next().is_some(),
                "{} has no {} step",
                runbook.id,
                phase.as_str()
            );
        }
        assert!(
            !runbook.triggers.is_empty(),
            "{} has no trigger",
            runbook.id
        );
        assert!(
            runbook
                .phase(Phase::Validation)
                .any(|step| matches!(step.kind, StepKind::Gate(_))),
            "{} closes on no machine-checked gate",
            runbook.id
        );
    }
}

#[test]
fn every_item_of_the_spec_is_a_step() {
    let runbooks = builtin::all().unwrap();
    let items = spec_items();
    assert!(
        items.len() > 60,
        "the spec parser found only {} items",
        items.len()
    );
    let mut missing = Vec::new();
    for (section, item) in &items {
        let runbook = &runbooks[section - 1];
        let wanted = normalize(item);
        let covered = runbook.steps.iter().any(|step| {
            let title = normalize(&step.title);
            title.contains(&wanted) || wanted.contains(&title)
        });
        if !covered {
            missing.push(format!("{}: {item}", runbook.id));
        }
    }
    assert!(
        missing.is_empty(),
        "spec items without a step:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_spec_thresholds_are_the_gates() {
    let runbooks = builtin::all().unwrap();
    let serving = &runbooks[1];
    let p95 = serving.step("p95-within-sla").unwrap();
    let StepKind::Gate(gate) = &p95.kind else {
        panic!("p95 is a gate")
    };
    assert_eq!(
        (gate.check.as_str(), gate.below),
        ("latency_p95_ms", Some(200.0))
    );
    assert_eq!(gate.hold_for, std::time::Duration::from_secs(30 * 60));
    let rollback = serving.step("rollback").unwrap();
    assert_eq!(
        rollback.approval,
        ApprovalPolicy::Manual,
        "mutations default to asking"
    );
}

fn lint(yaml: &str) -> Vec<LintError> {
    parse(Path::new("rb.yaml"), yaml).expect_err("should not lint clean")
}

fn runbook_with(steps: &str) -> String {
    format!(
        "id: custom\ntitle: Custom\nseverity: high\ntriggers:\n  - alertmanager: {{alertname: X}}\n\
         phases:\n{steps}"
    )
}

#[test]
fn unknown_step_kind_is_located() {
    let errors = lint(&runbook_with(
        "  containment:\n    - id: a\n      title: A\n      script: rm -rf /\n",
    ));
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].line, errors[0].column), (10, 7));
    assert!(
        errors[0].message.contains("unknown field `script`"),
        "{}",
        errors[0].message
    );
    let none = lint(&runbook_with(
        "  containment:\n    - id: a\n      title: A\n",
    ));
    assert!(
        none[0].message.contains("exactly one of"),
        "{}",
        none[0].message
    );
    assert_eq!(none[0].line, 8);
}

#[test]
fn unknown_actions_and_parameters_are_located() {
    let errors = lint(&runbook_with(
        "  containment:\n    - id: a\n      title: A\n      action: reboot_cluster\n\
         \x20   - id: b\n      title: B\n      action: scale_replicas\n      params: {replicas: 5}\n",
    ));
    let found: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        found,
        [
            (10, "phases.containment[0].action"),
            (14, "phases.containment[1].params.replicas"),
            (14, "phases.containment[1].params"),
        ]
    );
    assert!(
        errors[1]
            .message
            .contains("known: min_replicas, max_replicas")
    );
    assert!(
        errors[2]
            .message
            .contains("missing required parameter \"min_replicas\"")
    );
}

#[test]
fn bad_durations_are_located() {
    let errors = lint(&runbook_with(
        "  validation:\n    - id: g\n      title: G\n      gate: {check: error_rate, below: 0.01, for: 30 minutes}\n\
         \x20   - id: e\n      title: E\n      evidence: hpa_status\n      timeout: 2h\n      retry: {attempts: 3, base: 1m, cap: 10s}\n",
    ));
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "phases.validation[0].gate.for",
            "phases.validation[1].timeout",
            "phases.validation[1].retry.cap"
        ]
    );
    assert!(errors[1].message.contains("1h limit"));
}

#[test]
fn unreachable_steps_are_reported() {
    let errors = lint(&runbook_with(
        "  containment:\n    - id: first\n      title: First\n      manual: true\n      when: [{step: later, is: succeeded}]\n\
         \x20   - id: plan-only\n      title: Plan only\n      action: pause_schedule\n      approval: never\n\
         \x20   - id: after\n      title: After\n      manual: true\n      when: [{step: plan-only, is: succeeded}]\n\
         \x20   - id: ghost\n      title: Ghost\n      manual: true\n      when: [{step: nowhere, is: succeeded}]\n\
         \x20   - id: later\n      title: Later\n      manual: true\n",
    ));
    let messages: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.line, e.message))
        .collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert!(messages[0].starts_with("8: unreachable: depends on step \"later\", which runs later"));
    assert!(messages[1].starts_with("16: unreachable: step \"plan-only\" has approval: never"));
    assert!(messages[2].starts_with("20: unreachable: depends on unknown step \"nowhere\""));
}

#[test]
fn duplicate_ids_gates_and_policies() {
    let errors = lint(&runbook_with(
        "  containment:\n    - id: a\n      title: A\n      manual: true\n    - id: a\n      title: Again\n      manual: true\n\
         \x20 validation:\n    - id: g\n      title: G\n      gate: {check: rerun_succeeded, below: 3}\n\
         \x20   - id: h\n      title: H\n      gate: {check: latency_p95_ms}\n\
         \x20   - id: m\n      title: M\n      manual: true\n      approval: auto\n",
    ));
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "phases.containment[1].id",
            "phases.validation[0].gate",
            "phases.validation[1].gate",
            "phases.validation[2].approval"
        ]
    );
}

#[test]
fn triggers_and_header_are_checked() {
    let errors = lint(
        "id: Bad Id\ntitle: ''\nseverity: sev1\ntriggers:\n  - detector: magic\n  - {}\nphases:\n  fixes:\n    - id: a\n      title: A\n      manual: true\n",
    );
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "id",
            "title",
            "severity",
            "triggers[0].detector",
            "triggers[1]"
        ]
    );
}

#[test]
fn user_runbooks_extend_and_replace_the_built_ins() {
    let dir = tempfile::tempdir().unwrap();
    let custom = runbook_with("  containment:\n    - id: a\n      title: A\n      manual: true\n");
    std::fs::write(dir.path().join("custom.yaml"), &custom).unwrap();
    let edited = custom.replace("id: custom", "id: serving-latency");
    std::fs::write(dir.path().join("serving.yml"), edited).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a runbook").unwrap();

    let runbooks =
        builtin::load_all(&[dir.path().to_path_buf()], &["drift-detector".to_string()]).unwrap();
    let ids: Vec<&str> = runbooks.iter().map(|runbook| runbook.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "pipeline-failure",
            "serving-latency",
            "feature-store",
            "model-regression",
            "custom"
        ]
    );
    let serving = &runbooks[1];
    assert_eq!(
        serving.steps.len(),
        1,
        "the user's file replaced the built-in"
    );
    assert!(serving.source.ends_with("serving.yml"));

    std::fs::write(dir.path().join("broken.yaml"), "id: x\n").unwrap();
    let errors = builtin::load_all(&[dir.path().to_path_buf()], &[]).unwrap_err();
    assert!(errors[0].file.ends_with("broken.yaml"), "{errors:?}");
}

#[test]
fn after_names_an_earlier_phase() {
    let errors = lint(&runbook_with(
        "  containment:\n    - id: a\n      title: A\n      manual: true\n      after: [validation]\n    - id: b\n      title: B\n      manual: true\n      after: [later]\n",
    ));
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("phase \"validation\" is not before containment")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("unknown phase \"later\"")),
        "{messages:?}"
    );
    assert!(
        errors.iter().all(|e| e.field.ends_with(".after")),
        "{errors:?}"
    );
}
