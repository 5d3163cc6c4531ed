//! Raw runbook → [`Runbook`], collecting every problem with its place: unknown step kinds,
//! actions, collectors, checks and parameters; bad durations; duplicate ids; and steps that
//! can never run because their `when` points at a missing, later or never-executed step.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use serde_saphyr::Spanned;
use warden_core::{RunbookId, Severity, parse_duration};

use crate::LintError;
use crate::catalog::{self, Entry, ParamType};
use crate::model::{
    AlertMatcher, ApprovalPolicy, Condition, Gate, Outcome, Phase, Retry, Runbook, Step, StepKind,
    Trigger,
};
use crate::raw::{RawRunbook, RawStep};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

struct Linter<'a> {
    file: &'a Path,
    errors: Vec<LintError>,
}

fn at<T>(value: &Spanned<T>) -> (u64, u64) {
    (value.referenced.line(), value.referenced.column())
}

fn is_identifier(text: &str, separator: char) -> bool {
    !text.is_empty()
        && text.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == separator)
}

impl Linter<'_> {
    fn error(&mut self, place: (u64, u64), field: impl Into<String>, message: impl Into<String>) {
        self.errors
            .push(LintError::at(self.file, place, field, message));
    }

    fn duration(
        &mut self,
        value: &Spanned<String>,
        field: &str,
        max: Duration,
    ) -> Option<Duration> {
        match parse_duration(&value.value) {
            Ok(duration) if duration > max => {
                let limit = warden_core::format_duration(max);
                self.error(
                    at(value),
                    field,
                    format!("{} is longer than the {limit} limit", value.value),
                );
                None
            }
            Ok(duration) => Some(duration),
            Err(err) => {
                self.error(at(value), field, err.to_string());
                None
            }
        }
    }

    fn params(
        &mut self,
        step: &RawStep,
        field: &str,
        entry: Option<&Entry>,
    ) -> BTreeMap<String, serde_json::Value> {
        let given = step
            .params
            .as_ref()
            .map(|params| params.value.clone())
            .unwrap_or_default();
        let place = step.params.as_ref().map_or(at(&step.id), at);
        let Some(entry) = entry else {
            if !given.is_empty() {
                self.error(place, field, "only actions and evidence steps take params");
            }
            return given;
        };
        for (name, value) in &given {
            let Some(param) = entry.params.iter().find(|param| param.name == name) else {
                let known: Vec<&str> = entry.params.iter().map(|param| param.name).collect();
                let known = if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                };
                self.error(
                    place,
                    format!("{field}.{name}"),
                    format!(
                        "unknown parameter {name:?} for {} (known: {known})",
                        entry.name
                    ),
                );
                continue;
            };
            let fits = match param.kind {
                ParamType::Text => value.is_string(),
                ParamType::Number => value.is_number(),
                ParamType::Bool => value.is_boolean(),
                ParamType::Duration => value
                    .as_str()
                    .is_some_and(|text| parse_duration(text).is_ok()),
            };
            if !fits {
                self.error(
                    place,
                    format!("{field}.{name}"),
                    format!("expected a {:?} value, got {value}", param.kind).to_lowercase(),
                );
            }
        }
        for param in entry.params.iter().filter(|param| param.required) {
            if !given.contains_key(param.name) {
                self.error(
                    place,
                    field,
                    format!(
                        "missing required parameter {:?} for {}",
                        param.name, entry.name
                    ),
                );
            }
        }
        given
    }

    fn step_kind(
        &mut self,
        step: &RawStep,
        prefix: &str,
    ) -> Option<(StepKind, Option<&'static Entry>)> {
        let kinds = [
            step.action.is_some(),
            step.evidence.is_some(),
            step.cause.is_some(),
            step.gate.is_some(),
            step.manual.as_ref().is_some_and(|manual| manual.value),
        ];
        if kinds.iter().filter(|present| **present).count() != 1 {
            self.error(
                at(&step.id),
                prefix,
                "a step needs exactly one of `action`, `evidence`, `cause`, `gate` or `manual: true`",
            );
            return None;
        }
        if step.evidence_from.is_some() && step.cause.is_none() {
            self.error(
                at(&step.id),
                format!("{prefix}.evidence_from"),
                "only cause steps take evidence_from",
            );
        }
        if let Some(name) = &step.action {
            return match catalog::action(&name.value) {
                Some(entry) => Some((
                    StepKind::Action {
                        name: name.value.clone(),
                    },
                    Some(entry),
                )),
                None => {
                    self.error(
                        at(name),
                        format!("{prefix}.action"),
                        format!(
                            "unknown action {:?} (known: {})",
                            name.value,
                            catalog::action_names()
                        ),
                    );
                    None
                }
            };
        }
        if let Some(name) = &step.evidence {
            return match catalog::evidence(&name.value) {
                Some(entry) => Some((
                    StepKind::Evidence {
                        name: name.value.clone(),
                    },
                    Some(entry),
                )),
                None => {
                    self.error(
                        at(name),
                        format!("{prefix}.evidence"),
                        format!(
                            "unknown evidence collector {:?} (known: {})",
                            name.value,
                            catalog::evidence_names()
                        ),
                    );
                    None
                }
            };
        }
        if let Some(name) = &step.cause {
            if !is_identifier(&name.value, '_') {
                self.error(
                    at(name),
                    format!("{prefix}.cause"),
                    "a cause name is snake_case, e.g. cold_start",
                );
            }
            let evidence_from = step
                .evidence_from
                .iter()
                .flatten()
                .map(|id| id.value.clone())
                .collect();
            return Some((
                StepKind::Cause {
                    name: name.value.clone(),
                    evidence_from,
                },
                None,
            ));
        }
        if let Some(gate) = &step.gate {
            let field = format!("{prefix}.gate");
            let Some(takes_threshold) = catalog::gate_check(&gate.value.check.value) else {
                let known: Vec<&str> = catalog::GATE_CHECKS
                    .iter()
                    .map(|(name, _, _)| *name)
                    .collect();
                self.error(
                    at(&gate.value.check),
                    format!("{field}.check"),
                    format!(
                        "unknown gate check {:?} (known: {})",
                        gate.value.check.value,
                        known.join(", ")
                    ),
                );
                return None;
            };
            let thresholds =
                usize::from(gate.value.below.is_some()) + usize::from(gate.value.above.is_some());
            if takes_threshold && thresholds != 1 {
                self.error(
                    at(gate),
                    &field,
                    format!(
                        "{} needs exactly one of `below` or `above`",
                        gate.value.check.value
                    ),
                );
            }
            if !takes_threshold && thresholds != 0 {
                self.error(
                    at(gate),
                    &field,
                    format!(
                        "{} is a yes/no check and takes no threshold",
                        gate.value.check.value
                    ),
                );
            }
            let hold_for = match &gate.value.hold_for {
                Some(text) => self
                    .duration(
                        text,
                        &format!("{field}.for"),
                        Duration::from_secs(7 * 86_400),
                    )
                    .unwrap_or_default(),
                None => Duration::ZERO,
            };
            return Some((
                StepKind::Gate(Gate {
                    check: gate.value.check.value.clone(),
                    below: gate.value.below,
                    above: gate.value.above,
                    hold_for,
                }),
                None,
            ));
        }
        Some((StepKind::Manual, None))
    }

    fn step(&mut self, phase: Phase, index: usize, raw: &Spanned<RawStep>) -> Option<Step> {
        let step = &raw.value;
        let prefix = format!("phases.{}[{index}]", phase.as_str());
        if !is_identifier(&step.id.value, '-') {
            self.error(
                at(&step.id),
                format!("{prefix}.id"),
                format!(
                    "{:?} is not a step id (lowercase, digits and -)",
                    step.id.value
                ),
            );
        }
        if step.title.value.trim().is_empty() {
            self.error(
                at(&step.title),
                format!("{prefix}.title"),
                "must not be empty",
            );
        }
        let kind = self.step_kind(step, &prefix);
        let entry = kind.as_ref().and_then(|(_, entry)| *entry);
        let params = self.params(step, &format!("{prefix}.params"), entry);
        let executes = matches!(
            kind,
            Some((StepKind::Action { .. } | StepKind::Evidence { .. }, _))
        );
        let approval = match &step.approval {
            Some(policy) if !executes => {
                self.error(
                    at(policy),
                    format!("{prefix}.approval"),
                    "only action and evidence steps have an approval policy",
                );
                ApprovalPolicy::Auto
            }
            Some(policy) => match policy.value.as_str() {
                "auto" => ApprovalPolicy::Auto,
                "manual" => ApprovalPolicy::Manual,
                "never" => ApprovalPolicy::Never,
                other => {
                    self.error(
                        at(policy),
                        format!("{prefix}.approval"),
                        format!("unknown approval policy {other:?} (auto, manual or never)"),
                    );
                    ApprovalPolicy::Manual
                }
            },
            // Mutations wait for a person unless the runbook says otherwise; reads do not.
            None if matches!(kind, Some((StepKind::Action { .. }, _))) => ApprovalPolicy::Manual,
            None => ApprovalPolicy::Auto,
        };
        let retry = match &step.retry {
            Some(retry) => self.retry(retry, &format!("{prefix}.retry")),
            None => Retry::default(),
        };
        let timeout = match &step.timeout {
            Some(text) => match self.duration(text, &format!("{prefix}.timeout"), MAX_TIMEOUT) {
                Some(duration) if duration.is_zero() => {
                    self.error(
                        at(text),
                        format!("{prefix}.timeout"),
                        "must be greater than zero",
                    );
                    DEFAULT_TIMEOUT
                }
                Some(duration) => duration,
                None => DEFAULT_TIMEOUT,
            },
            None => DEFAULT_TIMEOUT,
        };
        let mut when = Vec::new();
        for condition in &step.when {
            let is = match Outcome::parse(&condition.value.is.value) {
                Ok(outcome) => outcome,
                Err(message) => {
                    self.error(
                        at(&condition.value.is),
                        format!("{prefix}.when.is"),
                        message,
                    );
                    continue;
                }
            };
            when.push(Condition {
                step: condition.value.step.value.clone(),
                is,
            });
        }
        let mut after = Vec::new();
        for name in &step.after {
            match Phase::ALL.iter().find(|p| p.as_str() == name.value.trim()) {
                Some(earlier) if *earlier < phase => after.push(*earlier),
                Some(_) => self.error(
                    at(name),
                    format!("{prefix}.after"),
                    format!(
                        "unreachable: phase {:?} is not before {}",
                        name.value,
                        phase.as_str()
                    ),
                ),
                None => self.error(
                    at(name),
                    format!("{prefix}.after"),
                    format!(
                        "unknown phase {:?} (one of {})",
                        name.value,
                        Phase::ALL.map(Phase::as_str).join(", ")
                    ),
                ),
            }
        }
        let (kind, _) = kind?;
        Some(Step {
            id: step.id.value.clone(),
            title: step.title.value.trim().to_string(),
            phase,
            kind,
            params,
            approval,
            when,
            after,
            retry,
            timeout,
            note: step.note.clone(),
        })
    }

    fn retry(&mut self, retry: &Spanned<crate::raw::RawRetry>, field: &str) -> Retry {
        let mut policy = Retry::default();
        let attempts = &retry.value.attempts;
        if (1..=10).contains(&attempts.value) {
            policy.attempts = attempts.value;
        } else {
            self.error(
                at(attempts),
                format!("{field}.attempts"),
                "must be between 1 and 10",
            );
        }
        let day = Duration::from_secs(86_400);
        if let Some(base) = &retry.value.base {
            policy.base = self
                .duration(base, &format!("{field}.base"), day)
                .unwrap_or(policy.base);
        }
        if let Some(cap) = &retry.value.cap {
            policy.cap = self
                .duration(cap, &format!("{field}.cap"), day)
                .unwrap_or(policy.cap);
        }
        if policy.cap < policy.base {
            self.error(
                at(retry),
                format!("{field}.cap"),
                "cap must not be shorter than base",
            );
        }
        policy
    }

    /// `when` and `evidence_from` must point at earlier steps that can produce the outcome;
    /// anything else makes the step unreachable.
    fn references(&mut self, steps: &[Step], places: &HashMap<String, (u64, u64)>) {
        let position: HashMap<&str, usize> = steps
            .iter()
            .enumerate()
            .map(|(index, step)| (step.id.as_str(), index))
            .collect();
        for (index, step) in steps.iter().enumerate() {
            let place = places.get(&step.id).copied().unwrap_or((0, 0));
            let field = format!("phases.{}.{}", step.phase.as_str(), step.id);
            for condition in &step.when {
                let Some(&target_index) = position.get(condition.step.as_str()) else {
                    self.error(
                        place,
                        format!("{field}.when"),
                        format!("unreachable: depends on unknown step {:?}", condition.step),
                    );
                    continue;
                };
                if target_index >= index {
                    self.error(
                        place,
                        format!("{field}.when"),
                        format!(
                            "unreachable: depends on step {:?}, which runs later",
                            condition.step
                        ),
                    );
                    continue;
                }
                let target = &steps[target_index];
                let possible = match target.kind {
                    StepKind::Action { .. } | StepKind::Evidence { .. } => {
                        matches!(condition.is, Outcome::Succeeded | Outcome::Failed)
                    }
                    StepKind::Cause { .. } => {
                        matches!(condition.is, Outcome::Confirmed | Outcome::Refuted)
                    }
                    StepKind::Gate(_) => condition.is == Outcome::Passed,
                    StepKind::Manual => condition.is == Outcome::Succeeded,
                };
                if !possible {
                    self.error(
                        place,
                        format!("{field}.when"),
                        format!(
                            "unreachable: step {:?} can never be {:?}",
                            condition.step, condition.is
                        )
                        .to_lowercase(),
                    );
                } else if target.approval == ApprovalPolicy::Never
                    && condition.is == Outcome::Succeeded
                {
                    self.error(
                        place,
                        format!("{field}.when"),
                        format!(
                            "unreachable: step {:?} has approval: never and never succeeds",
                            condition.step
                        ),
                    );
                }
            }
            if let StepKind::Cause { evidence_from, .. } = &step.kind {
                for id in evidence_from {
                    match position.get(id.as_str()).map(|&i| &steps[i]) {
                        Some(source)
                            if matches!(source.kind, StepKind::Evidence { .. })
                                && position[id.as_str()] < index => {}
                        Some(_) => self.error(
                            place,
                            format!("{field}.evidence_from"),
                            format!("{id:?} is not an earlier evidence step"),
                        ),
                        None => self.error(
                            place,
                            format!("{field}.evidence_from"),
                            format!("unknown step {id:?}"),
                        ),
                    }
                }
            }
        }
    }
}

/// Lints `raw` (read from `file`) into a [`Runbook`].
pub fn lint(file: &Path, raw: RawRunbook) -> Result<Runbook, Vec<LintError>> {
    let mut linter = Linter {
        file,
        errors: Vec::new(),
    };
    if !is_identifier(&raw.id.value, '-') {
        linter.error(
            at(&raw.id),
            "id",
            format!(
                "{:?} is not a runbook id (lowercase, digits and -)",
                raw.id.value
            ),
        );
    }
    if raw.title.value.trim().is_empty() {
        linter.error(at(&raw.title), "title", "must not be empty");
    }
    let severity = raw
        .severity
        .value
        .parse::<Severity>()
        .unwrap_or_else(|message| {
            linter.error(at(&raw.severity), "severity", message);
            Severity::High
        });
    let mut triggers = Vec::new();
    for (index, trigger) in raw.triggers.iter().enumerate() {
        let field = format!("triggers[{index}]");
        match (&trigger.value.detector, &trigger.value.alertmanager) {
            (Some(detector), None) => {
                if !catalog::is_detector(&detector.value) {
                    let known: Vec<&str> = catalog::DETECTORS.iter().map(|(name, _)| *name).collect();
                    linter.error(at(detector), format!("{field}.detector"), format!("unknown detector {:?} (known: {})", detector.value, known.join(", ")));
                }
                triggers.push(Trigger::Detector {
                    name: detector.value.clone(),
                    params: trigger.value.params.clone().unwrap_or_default(),
                });
            }
            (None, Some(labels)) if !labels.is_empty() && trigger.value.params.is_none() => {
                triggers.push(Trigger::Alertmanager(AlertMatcher { labels: labels.clone() }));
            }
            _ => linter.error(
                at(trigger),
                field,
                "a trigger is either `detector: NAME` (with optional params) or `alertmanager: {label: value}`",
            ),
        }
    }
    let mut steps = Vec::new();
    let mut places: HashMap<String, (u64, u64)> = HashMap::new();
    let phases = [
        (Phase::Containment, &raw.phases.containment),
        (Phase::Diagnostics, &raw.phases.diagnostics),
        (Phase::Causes, &raw.phases.causes),
        (Phase::Fixes, &raw.phases.fixes),
        (Phase::Validation, &raw.phases.validation),
    ];
    for (phase, raw_steps) in phases {
        for (index, raw_step) in raw_steps.iter().enumerate() {
            let id = &raw_step.value.id;
            if places.insert(id.value.clone(), at(id)).is_some() {
                linter.error(
                    at(id),
                    format!("phases.{}[{index}].id", phase.as_str()),
                    format!("duplicate step id {:?}", id.value),
                );
                continue;
            }
            if let Some(step) = linter.step(phase, index, raw_step) {
                steps.push(step);
            }
        }
    }
    if places.is_empty() {
        linter.error((1, 1), "phases", "a runbook needs at least one step");
    }
    linter.references(&steps, &places);
    if linter.errors.is_empty() {
        Ok(Runbook {
            id: RunbookId::new(raw.id.value),
            title: raw.title.value.trim().to_string(),
            severity,
            symptoms: raw.symptoms.unwrap_or_default().trim().to_string(),
            triggers,
            steps,
            source: file.to_path_buf(),
        })
    } else {
        linter
            .errors
            .sort_by_key(|error| (error.line, error.column));
        Err(linter.errors)
    }
}
