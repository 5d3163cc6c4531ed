//! The pipeline-failure classifier (runbook 1, R1.6): which of the runbook's causes a failed
//! task's log and its pod's events point to — a missing or expired secret, unreachable artifact
//! storage, a resource limit, an incompatible version or missing dependency, or something else —
//! with the lines that decided, a confidence, whether a retry can cure it (R1.7: timeouts,
//! throttling, spot eviction), and the concrete fix (R1.8).
//!
//! The rules are data (`rules/pipeline-failures.yaml`, built in; users add or replace rules
//! with their own file). Every rule that matches any line adds its weight to its cause once;
//! the cause with the highest score wins. A failure that matches no rule is `other` and is
//! flagged as a new failure mode with a suggested pattern for the rules file (R1.9).

use std::collections::BTreeMap;

use regex::{Regex, RegexSet};
use serde::{Deserialize, Serialize};

/// The built-in rules file.
pub const BUILTIN_RULES: &str = include_str!("../rules/pipeline-failures.yaml");

/// The causes the runbook names.
pub use crate::learn::CAUSES;

/// How many of the last lines of a log (and of the events) the model reads.
const MODEL_LINES: usize = 200;

/// The last `lines` lines of `text`, and how many lines come before them.
fn tail(text: &str, lines: usize) -> (&str, usize) {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut newlines = 0;
    for (index, byte) in body.bytes().enumerate().rev() {
        if byte == b'\n' {
            newlines += 1;
            if newlines == lines {
                let start = index + 1;
                return (&text[start..], text[..start].lines().count());
            }
        }
    }
    (text, 0)
}

/// Most evidence lines reported.
const MAX_EVIDENCE: usize = 8;

/// A rule as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Unique id (a later file's rule with the same id replaces it).
    pub id: String,
    /// One of [`CAUSES`].
    pub cause: String,
    /// The regular expression.
    pub pattern: String,
    /// Its weight (default 1).
    #[serde(default = "one")]
    pub weight: f64,
    /// A retry can cure it.
    #[serde(default)]
    pub transient: bool,
    /// The fix, with `{1}`, `{2}` for the first and second captured values.
    #[serde(default)]
    pub fix: String,
    /// Where the message format comes from.
    #[serde(default)]
    pub source: String,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rules: Vec<RawRule>,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// As written.
    pub raw: RawRule,
    regex: Regex,
}

/// Why a rules file was refused, naming the file and the rule.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RulesError(pub String);

/// The rule set: the built-in rules, then each user file's (same id: replaced).
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    /// Every rule's pattern in one automaton: a line is scanned once to learn which rules match
    /// it, and only those are run for their captures (a 200 MB log has millions of lines).
    any: RegexSet,
}

impl Rules {
    /// The built-in rules.
    ///
    /// # Errors
    /// Never for the shipped file (a test checks it); the signature is shared with [`Rules::parse`].
    pub fn builtin() -> Result<Self, RulesError> {
        Self::parse("built-in rules", BUILTIN_RULES)
    }

    /// Rules from YAML text; `name` names the file in errors.
    ///
    /// # Errors
    /// Invalid YAML, an unknown cause, a pattern that does not compile, a duplicate id.
    pub fn parse(name: &str, text: &str) -> Result<Self, RulesError> {
        let file: RulesFile =
            serde_saphyr::from_str(text).map_err(|e| RulesError(format!("{name}: {e}")))?;
        let mut rules: Vec<Rule> = Vec::new();
        for raw in file.rules {
            if !CAUSES.contains(&raw.cause.as_str()) {
                return Err(RulesError(format!(
                    "{name}: rule {}: unknown cause {:?} (one of {})",
                    raw.id,
                    raw.cause,
                    CAUSES.join(", ")
                )));
            }
            if rules.iter().any(|r| r.raw.id == raw.id) {
                return Err(RulesError(format!(
                    "{name}: rule {} is listed twice",
                    raw.id
                )));
            }
            let regex = Regex::new(&raw.pattern)
                .map_err(|e| RulesError(format!("{name}: rule {}: pattern: {e}", raw.id)))?;
            rules.push(Rule { raw, regex });
        }
        Self::new(rules).map_err(|e| RulesError(format!("{name}: {e}")))
    }

    fn new(rules: Vec<Rule>) -> Result<Self, regex::Error> {
        let any = RegexSet::new(rules.iter().map(|r| r.raw.pattern.as_str()))?;
        Ok(Self { rules, any })
    }

    /// These rules with `other`'s added: a rule of `other` with an id already here replaces it.
    ///
    /// # Errors
    /// The rules together exceed the regex engine's size limit (each compiled on its own).
    pub fn extended(self, other: Rules) -> Result<Self, RulesError> {
        let mut rules = self.rules;
        for rule in other.rules {
            match rules.iter_mut().find(|r| r.raw.id == rule.raw.id) {
                Some(existing) => *existing = rule,
                None => rules.push(rule),
            }
        }
        Self::new(rules).map_err(|e| RulesError(format!("the rules together: {e}")))
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

/// One line that decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceLine {
    /// The rule that matched.
    pub rule: String,
    /// `log` or `events`.
    pub source: &'static str,
    /// 1-based line number in that source.
    pub line: usize,
    /// The line (trimmed, at most 300 characters).
    pub text: String,
}

/// The classifier's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    /// One of [`CAUSES`].
    pub cause: String,
    /// 0–1: the winner's share of the rules' and the model's combined support (for `other`,
    /// the model's probability that it is none of the named causes).
    pub confidence: f64,
    /// Whether a bounded retry with backoff may cure it (only transient rules matched).
    pub transient: bool,
    /// The lines that decided (the winning cause's, then transient ones).
    pub evidence: Vec<EvidenceLine>,
    /// In words.
    pub explanation: String,
    /// The concrete fixes of the winning cause's rules, values filled in.
    pub fixes: Vec<String>,
    /// Each cause's score.
    pub scores: BTreeMap<String, f64>,
    /// When nothing is likely: a pattern for the rules file, from the last error-looking line.
    pub new_failure_mode: Option<String>,
    /// The model's probability of each cause.
    pub model: BTreeMap<String, f64>,
}

struct Hit<'a> {
    rule: &'a Rule,
    source: &'static str,
    line: usize,
    text: String,
    fix: String,
}

fn fill(fix: &str, captures: &regex::Captures<'_>) -> String {
    let values: Vec<&str> = captures
        .iter()
        .skip(1)
        .flatten()
        .map(|m| m.as_str())
        .filter(|v| !v.is_empty())
        .collect();
    let mut out = fix.to_string();
    for (index, value) in values.iter().enumerate() {
        out = out.replace(&format!("{{{}}}", index + 1), value);
    }
    // Placeholders with nothing captured read as "it".
    for index in values.len() + 1..=4 {
        out = out.replace(&format!(" ({{{index}}})"), "");
        out = out.replace(&format!("{{{index}}}"), "it");
    }
    out
}

fn clip(text: &str) -> String {
    let trimmed = text.trim();
    match trimmed.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_string(),
    }
}

/// The fix of a cause when no rule with captured values decided it (R1.8).
fn general_fix(cause: &str) -> &'static str {
    match cause {
        "missing_expired_secret" => {
            "check the credential the task reads (the connection, Kubernetes secret, token or service account named in the lines shown): create it where it is missing, rotate it where it expired"
        }
        "artifact_storage_unreachable" => {
            "check the artifact store named in the lines shown from the task's network and identity: the endpoint answers, the bucket exists, the task's role may read and write it"
        }
        "resource_limit" => {
            "give the task the resource it ran out of (memory limit and request, GPU count, disk or shared memory), or make it need less (batch size, partitions)"
        }
        "incompatible_version_missing_dependency" => {
            "pin what the task runs with: install the missing package, align the versions the lines shown name, and pin the image by digest"
        }
        _ => "",
    }
}

/// A pattern for a failure no rule knows: the last line that looks like an error, with its
/// variable parts (numbers, quoted values, hex ids, paths) generalised.
pub fn suggest_pattern(log: &str) -> Option<String> {
    let marker = Regex::new(r"(?i)(error|exception|fatal|failed|traceback)").ok()?;
    let line = log
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| marker.is_match(l))?;
    let mut pattern = regex::escape(line.chars().take(160).collect::<String>().as_str());
    for (find, replace) in [
        (r#""[^"]*""#, r#""[^"]*""#),
        (r"'[^']*'", r"'[^']*'"),
        (r"\b[0-9a-f]{8,}\b", r"[0-9a-f]+"),
        (r"\d+(\\\.\d+)*", r"\d+(\.\d+)*"),
    ] {
        if let Ok(regex) = Regex::new(find) {
            pattern = regex.replace_all(&pattern, replace).into_owned();
        }
    }
    Some(pattern)
}

/// How the rules and the model are combined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// A cause's share of the matched rules' weight is added, times this, to its posterior
    /// probability.
    pub rule_weight: f64,
    /// Below this share of the combined support the winner is not likely enough: `other`.
    pub likely: f64,
}

/// The shipped tuning, chosen by leave-projects-out cross-validation on the training projects
/// (`cargo run -p warden-detect --example classify_eval`), never on the held-out ones.
pub const TUNING: Tuning = Tuning {
    rule_weight: 2.0,
    likely: 0.4,
};

/// Classifies a task log and its pod events with the rules and the shipped model.
pub fn classify(rules: &Rules, log: &str, events: &str) -> Classification {
    classify_with(rules, crate::model::Model::shipped(), TUNING, log, events)
}

/// Classifies with a given model and tuning (the evaluation trains one without the held-out
/// projects).
pub fn classify_with(
    rules: &Rules,
    model: &crate::model::Model,
    tuning: Tuning,
    log: &str,
    events: &str,
) -> Classification {
    let mut hits: Vec<Hit<'_>> = Vec::new();
    for (source, text) in [("log", log), ("events", events)] {
        for (number, line) in text.lines().enumerate() {
            for index in rules.any.matches(line).iter() {
                let rule = &rules.rules[index];
                if let Some(captures) = rule.regex.captures(line) {
                    hits.push(Hit {
                        rule,
                        source,
                        line: number + 1,
                        text: clip(line),
                        fix: fill(&rule.raw.fix, &captures),
                    });
                }
            }
        }
    }
    // Each rule counts once, however many lines repeat it.
    let mut scores: BTreeMap<String, f64> = CAUSES.iter().map(|c| (c.to_string(), 0.0)).collect();
    let mut counted: Vec<&str> = Vec::new();
    for hit in &hits {
        if !counted.contains(&hit.rule.raw.id.as_str()) {
            counted.push(&hit.rule.raw.id);
            *scores.entry(hit.rule.raw.cause.clone()).or_default() += hit.rule.raw.weight;
        }
    }
    // The rules' vote: each cause's share of the weight of the matched rules that name a cause
    // (a transient rule says a retry may help, not what the cause is; a team's own `other`
    // rule says "we know this one"). On one line, a heavier rule of another cause outweighs a
    // lighter one: the more specific reading of that line wins (`Anonymous caller does not
    // have storage.objects.list` is a missing identity, not a storage permission).
    let outweighed = |hit: &Hit<'_>| {
        hits.iter().any(|other| {
            other.source == hit.source
                && other.line == hit.line
                && !other.rule.raw.transient
                && other.rule.raw.cause != hit.rule.raw.cause
                && other.rule.raw.weight > hit.rule.raw.weight
        })
    };
    let mut votes: BTreeMap<&str, f64> = BTreeMap::new();
    let mut voted: Vec<&str> = Vec::new();
    for hit in &hits {
        if !hit.rule.raw.transient && !outweighed(hit) && !voted.contains(&hit.rule.raw.id.as_str())
        {
            voted.push(&hit.rule.raw.id);
            *votes.entry(hit.rule.raw.cause.as_str()).or_default() += hit.rule.raw.weight;
        }
    }
    let rule_total: f64 = votes.values().sum();
    // The model reads the end of the log, where a task reports why it failed: a long log's
    // other lines would bring every number and word in (a step counter passes 137 and 403)
    // and hold them all in memory.
    let (log_tail, log_skipped) = tail(log, MODEL_LINES);
    let (events_tail, events_skipped) = tail(events, MODEL_LINES);
    let posterior = model.posterior(log_tail, events_tail);
    let combined: BTreeMap<String, f64> = CAUSES
        .iter()
        .map(|cause| {
            let rule_share = if rule_total > 0.0 {
                votes.get(*cause).copied().unwrap_or(0.0) / rule_total
            } else {
                0.0
            };
            let p = posterior.get(*cause).copied().unwrap_or(0.0);
            (cause.to_string(), p + tuning.rule_weight * rule_share)
        })
        .collect();
    let combined_total: f64 = combined.values().sum();
    let (best, best_score) = combined
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(cause, score)| (cause.clone(), *score))
        .unwrap_or_else(|| ("other".to_string(), 0.0));
    let share = if combined_total > 0.0 {
        best_score / combined_total
    } else {
        0.0
    };
    // `other` only when nothing specific is likely.
    let specific = (best != "other" && share >= tuning.likely).then(|| best.clone());
    let cause = specific.clone().unwrap_or_else(|| "other".to_string());
    let confidence = if specific.is_some() {
        share
    } else {
        posterior.get("other").copied().unwrap_or(0.0)
    };
    let top = scores.get(&cause).copied().unwrap_or(0.0);
    let total: f64 = scores.values().sum();
    let decided: Vec<&Hit<'_>> = hits.iter().filter(|h| h.rule.raw.cause == cause).collect();
    let transient_hits: Vec<&Hit<'_>> = hits.iter().filter(|h| h.rule.raw.transient).collect();
    // A rule of the cause on the very line a transient rule matched only names what was
    // throttled or timed out (`SlowDown … when calling the PutObject operation`): still transient.
    let transient = !transient_hits.is_empty()
        && decided.iter().all(|h| {
            h.rule.raw.transient
                || transient_hits
                    .iter()
                    .any(|t| t.source == h.source && t.line == h.line)
        });
    let mut evidence: Vec<EvidenceLine> = Vec::new();
    for hit in decided.iter().chain(transient_hits.iter()) {
        if evidence.len() >= MAX_EVIDENCE {
            break;
        }
        if evidence
            .iter()
            .any(|e| e.source == hit.source && e.line == hit.line)
        {
            continue;
        }
        evidence.push(EvidenceLine {
            rule: hit.rule.raw.id.clone(),
            source: hit.source,
            line: hit.line,
            text: hit.text.clone(),
        });
    }
    if decided.is_empty()
        && let Some(cause) = &specific
    {
        // No rule of the cause matched: the lines whose terms weigh most for it decided.
        let mut weighed: Vec<(f64, &'static str, usize, &str)> = Vec::new();
        for (source, text, skipped) in [
            ("log", log_tail, log_skipped),
            ("events", events_tail, events_skipped),
        ] {
            for (number, line) in text.lines().enumerate() {
                let weight = model.weight_of_line(line, cause);
                if weight > 0.0 {
                    weighed.push((weight, source, skipped + number + 1, line));
                }
            }
        }
        weighed.sort_by(|a, b| b.0.total_cmp(&a.0));
        let lines: Vec<EvidenceLine> = weighed
            .into_iter()
            .take(3)
            .map(|(_, source, line, text)| EvidenceLine {
                rule: "model".into(),
                source,
                line,
                text: clip(text),
            })
            .collect();
        evidence.splice(0..0, lines);
    }
    let mut fixes: Vec<String> = Vec::new();
    for hit in &decided {
        if !hit.fix.is_empty() && !fixes.contains(&hit.fix) {
            fixes.push(hit.fix.clone());
        }
    }
    if fixes.is_empty()
        && let Some(cause) = &specific
    {
        // No rule with its captured values decided: the cause's general fix.
        fixes.push(general_fix(cause).to_string());
    }
    // A failure a (team) rule knows is not a new failure mode, even when its cause is `other`.
    let known = hits.iter().any(|h| !h.rule.raw.transient);
    let new_failure_mode = if specific.is_none() && !transient && !known {
        suggest_pattern(&format!("{events}\n{log}"))
    } else {
        None
    };
    let explanation = match (&specific, transient, hits.is_empty()) {
        (Some(cause), _, _) if decided.is_empty() => format!(
            "{cause} ({:.0}% likely) from the terms of the lines shown: no rule matched, the corpus of known failures did",
            100.0 * share
        ),
        (None, false, _) if !known => "nothing is likely: new failure mode — update the runbook's rules (a pattern is suggested)".to_string(),
        (None, false, _) => format!(
            "other, known from {}",
            decided
                .iter()
                .map(|h| h.rule.raw.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (None, true, _) => format!(
            "transient: {} — a bounded retry with backoff may cure it",
            decided.iter().map(|h| h.rule.raw.id.as_str()).collect::<Vec<_>>().join(", ")
        ),
        (Some(cause), _, _) => format!(
            "{cause} (score {top:.0} of {total:.0}) from {}; not retried: a retry cannot cure it",
            decided
                .iter()
                .map(|h| h.rule.raw.id.as_str())
                .fold(Vec::<&str>::new(), |mut ids, id| {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                    ids
                })
                .join(", ")
        ),
    };
    Classification {
        cause,
        confidence,
        transient,
        evidence,
        explanation,
        fixes,
        scores,
        new_failure_mode,
        model: posterior,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_model_reads_the_last_lines_and_knows_their_numbers() {
        assert_eq!(super::tail("a\nb\nc\n", 2), ("b\nc\n", 1));
        assert_eq!(super::tail("a\nb\nc", 2), ("b\nc", 1));
        assert_eq!(super::tail("a\nb", 5), ("a\nb", 0));
        assert_eq!(super::tail("", 5), ("", 0));
    }

    /// A long log's noise (a step counter passing 137, 401 and 403) does not outvote the
    /// failure at its end.
    #[test]
    fn a_long_log_is_decided_by_its_end() {
        let mut log: String = (0..5000)
            .map(|i| {
                format!(
                    "INFO step {i} loading batch {} from s3://bucket/key-{i}\n",
                    i * 3
                )
            })
            .collect();
        log.push_str("ModuleNotFoundError: No module named 'lightgbm'\n");
        let c = classify(&rules(), &log, "");
        assert_eq!(c.cause, "incompatible_version_missing_dependency", "{c:?}");
        assert_eq!(c.evidence[0].line, 5001);
    }

    use super::*;

    fn rules() -> Rules {
        Rules::builtin().expect("the shipped rules compile")
    }

    #[test]
    fn the_decisive_line_and_its_values_are_reported() {
        let events = "Warning  Failed  12s  kubelet  Error: secret \"s3-credentials\" not found";
        let c = classify(&rules(), "", events);
        assert_eq!(c.cause, "missing_expired_secret");
        assert!(!c.transient);
        assert_eq!(c.evidence[0].source, "events");
        assert_eq!(c.evidence[0].rule, "k8s-secret-not-found");
        assert!(c.fixes[0].contains("\"s3-credentials\""), "{:?}", c.fixes);
        assert!(c.confidence > 0.5, "{c:?}");
    }

    #[test]
    fn throttling_alone_is_transient_and_retryable() {
        let log = "botocore.exceptions.ClientError: An error occurred (SlowDown) when calling the PutObject operation (reached max retries: 4): Please reduce your request rate.";
        let c = classify(&rules(), log, "");
        // The store being throttled, not a fault to fix: a retry with backoff may cure it.
        assert!(
            ["other", "artifact_storage_unreachable"].contains(&c.cause.as_str()),
            "{c:?}"
        );
        assert!(c.transient, "{c:?}");
        assert!(c.new_failure_mode.is_none(), "{c:?}");
    }

    #[test]
    fn a_phrasing_no_rule_knows_is_decided_by_the_model_with_its_lines() {
        let log = "INFO starting epoch 3\nworker 2 was reaped by the kernel after it used more RAM than its container allows\nTraceback follows";
        let c = classify(&rules(), log, "");
        assert_eq!(c.cause, "resource_limit", "{c:?}");
        assert_eq!(c.evidence[0].rule, "model", "{c:?}");
        assert_eq!(c.evidence[0].line, 2, "the line that weighs most: {c:?}");
        assert!(!c.fixes.is_empty());
        assert!(c.new_failure_mode.is_none());
    }

    #[test]
    fn a_service_account_without_its_role_is_a_credential_fix_with_the_verb_and_resource() {
        let events = r#"Error creating: pods "train-1" is forbidden: User "system:serviceaccount:ml:runner" cannot create resource "pods" in API group "" in the namespace "ml""#;
        let c = classify(&rules(), "", events);
        assert_eq!(c.cause, "missing_expired_secret", "{c:?}");
        assert_eq!(c.evidence[0].rule, "k8s-rbac-forbidden", "{c:?}");
        assert!(
            c.fixes[0].contains("system:serviceaccount:ml:runner the right to create pods"),
            "{c:?}"
        );
        assert!(!c.transient);
    }

    #[test]
    fn an_image_for_another_platform_is_a_version_mismatch() {
        let c = classify(&rules(), "exec /usr/bin/python: exec format error", "");
        assert_eq!(c.cause, "incompatible_version_missing_dependency", "{c:?}");
        assert_eq!(c.evidence[0].rule, "wrong-platform", "{c:?}");
    }

    #[test]
    fn a_specific_cause_wins_over_a_timeout_and_is_not_retried() {
        let log = "urllib3.exceptions.ReadTimeoutError: Read timed out\nModuleNotFoundError: No module named 'lightgbm'";
        let c = classify(&rules(), log, "");
        assert_eq!(c.cause, "incompatible_version_missing_dependency");
        assert!(!c.transient);
        assert!(c.fixes[0].contains("lightgbm"), "{:?}", c.fixes);
    }

    #[test]
    fn an_unknown_failure_suggests_a_pattern() {
        let log = "step 3\nValueError: Found array with 0 sample(s) (shape=(0, 3)) while a minimum of 1 is required.\n";
        let c = classify(&rules(), log, "");
        assert_eq!(c.cause, "other");
        assert!(!c.transient);
        let pattern = c.new_failure_mode.expect("suggested");
        let regex = Regex::new(&pattern).expect("compiles");
        assert!(
            regex.is_match(
                "ValueError: Found array with 2 sample(s) (shape=(2, 7)) while a minimum of 5 is required."
            ),
            "{pattern}"
        );
    }

    #[test]
    fn user_rules_add_to_and_replace_the_built_in_ones() {
        let user = Rules::parse(
            "team.yaml",
            "rules:\n  - id: vault-sealed\n    cause: missing_expired_secret\n    pattern: 'Vault is sealed'\n    weight: 3\n  - id: exit-137\n    cause: other\n    pattern: 'never matches this'\n",
        )
        .expect("valid");
        let merged = rules().extended(user).expect("small sets");
        assert_eq!(
            classify(&merged, "Error: Vault is sealed", "").cause,
            "missing_expired_secret"
        );
        // The replaced rule no longer decides (the model may still know the phrasing).
        let replaced = classify(&merged, "exit code 137", "");
        assert!(
            !replaced.evidence.iter().any(|e| e.rule == "exit-137"),
            "{replaced:?}"
        );
        let builtin = classify(&rules(), "exit code 137", "");
        assert!(
            builtin.evidence.iter().any(|e| e.rule == "exit-137"),
            "{builtin:?}"
        );
        let bad = Rules::parse(
            "bad.yaml",
            "rules:\n  - id: x\n    cause: gremlins\n    pattern: 'a'\n",
        );
        assert!(
            bad.expect_err("unknown cause")
                .0
                .contains("bad.yaml: rule x: unknown cause")
        );
        let bad = Rules::parse(
            "bad.yaml",
            "rules:\n  - id: x\n    cause: other\n    pattern: '(unclosed'\n",
        );
        assert!(bad.expect_err("bad regex").0.contains("rule x: pattern"));
    }
}
