//! The statistical half of the failure classifier: a model over the words, numbers and word
//! pairs of a failure's log and events, learnt from the corpus of real failures that ships in
//! the crate (`corpus/failures.jsonl`, each with its public source and the reason for its
//! label). Rules know message formats exactly and show the line that matched; the model
//! carries what the corpus taught about phrasings no rule was written for (`exit code 137` in
//! a dozen wordings, every object-store client's way of saying 403). Its deciding lines are the
//! ones whose terms weigh most for the cause it chose.
//!
//! The shipped model is trained by the build script from the corpus (`build.rs`, with
//! [`crate::learn`]) and embedded in the binary; the evaluation trains others on parts of the
//! corpus with the same code.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde::Deserialize;

use crate::classify::CAUSES;
pub use crate::learn::{LEARNER, Learner, terms};
use crate::learn::{Weights, cause_index, decode, failure_terms, softmax, sorted_terms};

/// The shipped corpus.
pub const CORPUS: &str = include_str!("../corpus/failures.jsonl");

/// The model the build script learnt from [`CORPUS`] with [`LEARNER`], as [`crate::learn::encode`]
/// wrote it.
const SHIPPED: &str = include_str!(concat!(env!("OUT_DIR"), "/model.tsv"));

/// One labelled failure of the corpus.
#[derive(Debug, Clone, Deserialize)]
pub struct Example {
    /// The public issue or pull request it was taken from.
    pub source: String,
    /// The repository it was filed in: the unit of the held-out split.
    pub project: String,
    /// One of [`CAUSES`].
    pub cause: String,
    /// Whether a retry could cure it.
    pub transient: bool,
    /// Why the label, in one line.
    pub reason: String,
    /// The failing task's log excerpt.
    #[serde(default)]
    pub log: String,
    /// Kubernetes events or container statuses, if any.
    #[serde(default)]
    pub events: String,
}

/// Reads a corpus in JSON lines, naming the line of a malformed entry.
///
/// # Errors
/// A line that is not an [`Example`], or a cause that is not one of [`CAUSES`].
pub fn parse_corpus(text: &str) -> Result<Vec<Example>, String> {
    let mut examples = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let example: Example = serde_json::from_str(line)
            .map_err(|err| format!("corpus line {}: {err}", index + 1))?;
        if !CAUSES.contains(&example.cause.as_str()) {
            return Err(format!(
                "corpus line {}: unknown cause {:?}",
                index + 1,
                example.cause
            ));
        }
        examples.push(example);
    }
    Ok(examples)
}

/// A trained model: per term, a weight for each cause and its value; a failure's score for a
/// cause is the cause's bias plus its terms' weights times their values (scaled to unit length
/// for logistic regression).
#[derive(Debug, Clone)]
pub struct Model {
    /// Per term, its weight for each cause (in [`CAUSES`] order) and its value.
    terms: HashMap<String, ([f64; 5], f64)>,
    /// Per cause, the score before any term.
    bias: [f64; 5],
    /// Whether a failure's term values are scaled to unit length.
    normalised: bool,
}

impl From<Weights> for Model {
    fn from(weights: Weights) -> Self {
        Self {
            terms: weights
                .terms
                .into_iter()
                .map(|(term, weight, value)| (term, (weight, value)))
                .collect(),
            bias: weights.bias,
            normalised: weights.normalised,
        }
    }
}

impl Model {
    /// Learns from `examples` with the shipped learner.
    pub fn train(examples: &[Example]) -> Self {
        Self::learn(examples, LEARNER)
    }

    /// Learns from `examples` with `learner`.
    pub fn learn(examples: &[Example], learner: Learner) -> Self {
        let failures: Vec<(Vec<String>, usize)> = examples
            .iter()
            .filter_map(|example| {
                let cause = cause_index(&example.cause)?;
                Some((failure_terms(&example.log, &example.events), cause))
            })
            .collect();
        crate::learn::learn(&failures, learner).into()
    }

    /// The model learnt from the shipped corpus by the build script, decoded once per process.
    ///
    /// # Panics
    /// Never: the build script wrote it with the same code that reads it (a test decodes it
    /// and compares it with one learnt at run time).
    pub fn shipped() -> &'static Model {
        static MODEL: OnceLock<Model> = OnceLock::new();
        MODEL.get_or_init(|| {
            decode(SHIPPED)
                .map(Model::from)
                .expect("the build script's model decodes")
        })
    }

    /// The posterior probability of each cause for a log and its events.
    pub fn posterior(&self, log: &str, events: &str) -> BTreeMap<String, f64> {
        // Summed in a fixed order: floating-point sums depend on it, and the same failure must
        // get the same numbers every time (the demo's post-mortems are byte-identical).
        let found = failure_terms(log, events);
        let known: Vec<&([f64; 5], f64)> = found
            .iter()
            .filter_map(|term| self.terms.get(term))
            .collect();
        // Unit length over the terms the model knows, as in training.
        let scale = if self.normalised {
            let squares: f64 = known.iter().map(|(_, value)| value * value).sum();
            1.0 / squares.sqrt().max(f64::MIN_POSITIVE)
        } else {
            1.0
        };
        let mut scores = self.bias;
        for (weight, value) in known {
            for c in 0..5 {
                scores[c] += weight[c] * value * scale;
            }
        }
        let p = softmax(&scores);
        CAUSES
            .iter()
            .enumerate()
            .map(|(c, cause)| (cause.to_string(), p[c]))
            .collect()
    }

    /// How strongly a line speaks for `cause` against the other causes: the summed margin of its
    /// known terms' weights over the strongest other cause's, times their values.
    pub fn weight_of_line(&self, line: &str, cause: &str) -> f64 {
        let Some(c) = cause_index(cause) else {
            return 0.0;
        };
        sorted_terms(line)
            .iter()
            .filter_map(|term| self.terms.get(term))
            .map(|(weight, value)| {
                let others = (0..5)
                    .filter(|o| *o != c)
                    .map(|o| weight[o])
                    .fold(f64::NEG_INFINITY, f64::max);
                value * (weight[c] - others).max(0.0)
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_keep_codes_and_pairs() {
        let t = terms("Container OOMKilled (exit code 137) on s3://bucket");
        for expected in [
            "oomkilled",
            "oom",
            "killed",
            "137",
            "exit code",
            "code 137",
            "s3",
            "bucket",
        ] {
            assert!(t.contains(expected), "{expected} not in {t:?}");
        }
    }

    #[test]
    fn identifiers_are_split_at_case_changes() {
        let t = terms("botocore.errorfactory.NoSuchBucket: InvalidAccessKeyId");
        for expected in [
            "nosuchbucket",
            "no",
            "such",
            "bucket",
            "invalid",
            "access",
            "key",
            "id",
        ] {
            assert!(t.contains(expected), "{expected} not in {t:?}");
        }
    }

    #[test]
    fn the_shipped_corpus_parses_and_covers_every_cause() {
        let examples = parse_corpus(CORPUS).expect("the shipped corpus parses");
        assert!(examples.len() >= 300, "{} examples", examples.len());
        for cause in CAUSES {
            let n = examples.iter().filter(|e| e.cause == cause).count();
            assert!(n >= 20, "{cause}: {n} examples");
        }
        assert!(examples.iter().all(|e| e.source.starts_with("https://")));
        let bad = parse_corpus("{\"source\": 1}\n");
        assert!(bad.expect_err("malformed").starts_with("corpus line 1:"));
    }

    #[test]
    fn the_shipped_model_is_the_one_learnt_from_the_corpus() {
        // The build script trained it; the same code at run time must give the same weights.
        let learnt = Model::train(&parse_corpus(CORPUS).expect("corpus"));
        let shipped = Model::shipped();
        assert!(shipped.terms.len() > 1000, "{} terms", shipped.terms.len());
        assert_eq!(learnt.terms.len(), shipped.terms.len());
        for (term, weights) in &learnt.terms {
            assert_eq!(shipped.terms.get(term), Some(weights), "{term}");
        }
        assert_eq!(learnt.bias, shipped.bias);
        assert!(shipped.normalised);
    }

    #[test]
    fn a_phrasing_no_rule_knows_lands_on_its_cause() {
        let model = Model::shipped();
        let p = model.posterior(
            "Task exited with return code Negsignal.SIGKILL\nthe worker was killed: it used too much memory",
            "",
        );
        let best = p.iter().max_by(|a, b| a.1.total_cmp(b.1)).expect("causes");
        assert_eq!(best.0, "resource_limit", "{p:?}");
    }
}
