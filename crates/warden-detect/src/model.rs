//! The statistical half of the failure classifier: a naive Bayes model over the words, numbers
//! and word pairs of a failure's log and events, learnt from the corpus of real failures that
//! ships in the crate (`corpus/failures.jsonl`, each with its public source and the reason for
//! its label). Rules know message formats exactly and show the line that matched; the model
//! carries what the corpus taught about phrasings no rule was written for (`exit code 137` in
//! a dozen wordings, every object-store client's way of saying 403). Its deciding lines are the
//! ones whose terms weigh most for the cause it chose.
//!
//! Features are present-or-absent terms: lower-cased words of two or more characters, digit
//! runs (status and exit codes matter: 137, 403, 401) and adjacent word pairs. The shipped
//! learner is complement naive Bayes, its term likelihoods smoothed with an additive constant
//! so one unseen term cannot veto a cause; multinomial logistic regression is the other
//! [`Learner`] the tuning compares it with (docs/PIPELINES.md).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use serde::Deserialize;

use crate::classify::CAUSES;

/// The shipped corpus.
pub const CORPUS: &str = include_str!("../corpus/failures.jsonl");

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

/// `text` with its identifiers split at case changes (`NoSuchBucket` → `No Such Bucket`,
/// `OOMKilled` → `OOM Killed`), the whole identifier kept too: exception and reason names carry
/// most of a failure's meaning, and their parts recur across libraries.
fn split_identifiers(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for token in text.split_inclusive(|c: char| !c.is_alphanumeric()) {
        let word: &str = token.trim_end_matches(|c: char| !c.is_alphanumeric());
        let chars: Vec<char> = word.chars().collect();
        let mut parts = String::new();
        let mut split = false;
        for (i, c) in chars.iter().enumerate() {
            let boundary = i > 0
                && c.is_uppercase()
                && (chars[i - 1].is_lowercase()
                    || chars.get(i + 1).is_some_and(|next| next.is_lowercase())
                        && chars[i - 1].is_uppercase());
            if boundary {
                parts.push(' ');
                split = true;
            }
            parts.push(*c);
        }
        out.push_str(token);
        if split {
            out.push(' ');
            out.push_str(&parts);
            out.push(' ');
        }
    }
    out
}

/// The terms of a text: words (identifiers also split at case changes), digit runs and
/// adjacent pairs, each once.
pub fn terms(text: &str) -> HashSet<String> {
    let lower = split_identifiers(text).to_lowercase();
    let mut words: Vec<&str> = Vec::new();
    let bytes = lower.as_bytes();
    let mut start = None;
    let kind = |b: u8| {
        if b.is_ascii_digit() {
            1
        } else if b.is_ascii_alphabetic() || b == b'_' {
            2
        } else {
            0
        }
    };
    let mut current = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let k = kind(byte);
        // Letters may be followed by digits inside one word (`s3`, `http2`); a digit run is a
        // word of its own.
        let continues = matches!((current, k), (2, 1 | 2) | (1, 1));
        if !continues {
            if let Some(s) = start {
                words.push(&lower[s..index]);
            }
            start = (k != 0).then_some(index);
            current = k;
        }
    }
    if let Some(s) = start {
        words.push(&lower[s..]);
    }
    let words: Vec<&str> = words
        .into_iter()
        .filter(|w| w.len() > 1 || w.as_bytes()[0].is_ascii_digit())
        .collect();
    let mut out: HashSet<String> = words.iter().map(|w| (*w).to_string()).collect();
    for pair in words.windows(2) {
        out.insert(format!("{} {}", pair[0], pair[1]));
    }
    out
}

/// How a model learns from the corpus.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Learner {
    /// Complement naive Bayes (Rennie et al., 2003) with additive smoothing of term counts.
    Bayes {
        /// The additive smoothing.
        smoothing: f64,
    },
    /// Multinomial logistic regression over length-normalised present-or-absent terms, L2
    /// regularised, each cause weighted by the inverse of its share of the corpus (so the
    /// smallest cause is not drowned), fitted by full-batch gradient descent: deterministic,
    /// and it learns which terms separate causes that share vocabulary (a 403 from a store
    /// against a 403 for a missing identity) where naive Bayes only counts.
    Logistic {
        /// The L2 penalty.
        l2: f64,
        /// Gradient steps.
        steps: usize,
    },
}

/// The shipped learner, chosen by leave-projects-out cross-validation on the training
/// projects (`cargo run --release -p warden-detect --example classify_eval -- --tune`).
pub const LEARNER: Learner = Learner::Bayes { smoothing: 1.0 };

/// A trained model: per term, a weight for each cause; a failure's score for a cause is the
/// cause's bias plus its terms' weights (scaled by `1/sqrt(terms)` for logistic regression).
#[derive(Debug, Clone)]
pub struct Model {
    /// Per term, its weight for each cause, in [`CAUSES`] order.
    weights: HashMap<String, [f64; 5]>,
    /// Per cause, the score before any term.
    bias: [f64; 5],
    /// Whether a failure's term weights are scaled by one over the square root of its count.
    normalised: bool,
}

fn cause_index(cause: &str) -> Option<usize> {
    CAUSES.iter().position(|c| *c == cause)
}

fn example_terms(example: &Example) -> HashSet<String> {
    terms(&format!("{}\n{}", example.log, example.events))
}

impl Model {
    /// Learns from `examples` with the shipped learner.
    pub fn train(examples: &[Example]) -> Self {
        Self::learn(examples, LEARNER)
    }

    /// Learns from `examples` with `learner`.
    pub fn learn(examples: &[Example], learner: Learner) -> Self {
        match learner {
            Learner::Bayes { smoothing } => Self::bayes(examples, smoothing),
            Learner::Logistic { l2, steps } => Self::logistic(examples, l2, steps),
        }
    }

    fn bayes(examples: &[Example], smoothing: f64) -> Self {
        let mut counts: HashMap<String, [f64; 5]> = HashMap::new();
        let mut totals = [0.0f64; 5];
        for example in examples {
            let Some(c) = cause_index(&example.cause) else {
                continue;
            };
            for term in example_terms(example) {
                counts.entry(term).or_insert([0.0; 5])[c] += 1.0;
                totals[c] += 1.0;
            }
        }
        let vocabulary = counts.len() as f64;
        let all: f64 = totals.iter().sum();
        let weights = counts
            .into_iter()
            .map(|(term, count)| {
                let everywhere: f64 = count.iter().sum();
                let mut weight = [0.0; 5];
                for c in 0..5 {
                    let elsewhere = everywhere - count[c];
                    let complement = all - totals[c];
                    weight[c] =
                        -((elsewhere + smoothing) / (complement + smoothing * vocabulary)).ln();
                }
                (term, weight)
            })
            .collect();
        Self {
            weights,
            bias: [0.0; 5],
            normalised: false,
        }
    }

    fn logistic(examples: &[Example], l2: f64, steps: usize) -> Self {
        // Terms in a fixed order, so training is the same sums in the same order every time.
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        let mut rows: Vec<(Vec<usize>, usize)> = Vec::new();
        for example in examples {
            let Some(c) = cause_index(&example.cause) else {
                continue;
            };
            let mut found: Vec<String> = example_terms(example).into_iter().collect();
            found.sort_unstable();
            let features = found
                .into_iter()
                .map(|term| {
                    let n = index.len();
                    *index.entry(term).or_insert(n)
                })
                .collect();
            rows.push((features, c));
        }
        let mut per_cause = [0usize; 5];
        for (_, c) in &rows {
            per_cause[*c] += 1;
        }
        let n = rows.len().max(1) as f64;
        let present = per_cause.iter().filter(|k| **k > 0).count().max(1) as f64;
        let class_weight: Vec<f64> = per_cause
            .iter()
            .map(|k| {
                if *k == 0 {
                    0.0
                } else {
                    n / (present * *k as f64)
                }
            })
            .collect();
        let mut w = vec![[0.0f64; 5]; index.len()];
        let mut b = [0.0f64; 5];
        let mut velocity_w = vec![[0.0f64; 5]; index.len()];
        let mut velocity_b = [0.0f64; 5];
        let rate = 2.0;
        let momentum = 0.9;
        for _ in 0..steps {
            let mut grad_w = vec![[0.0f64; 5]; index.len()];
            let mut grad_b = [0.0f64; 5];
            for (features, cause) in &rows {
                let x = 1.0 / (features.len().max(1) as f64).sqrt();
                let mut scores = b;
                for f in features {
                    for c in 0..5 {
                        scores[c] += w[*f][c] * x;
                    }
                }
                let p = softmax(&scores);
                let weight = class_weight[*cause] / n;
                for c in 0..5 {
                    let g = weight * (p[c] - if c == *cause { 1.0 } else { 0.0 });
                    grad_b[c] += g;
                    for f in features {
                        grad_w[*f][c] += g * x;
                    }
                }
            }
            for (j, grad) in grad_w.iter().enumerate() {
                for c in 0..5 {
                    let g = grad[c] + l2 * w[j][c];
                    velocity_w[j][c] = momentum * velocity_w[j][c] - rate * g;
                    w[j][c] += velocity_w[j][c];
                }
            }
            for c in 0..5 {
                velocity_b[c] = momentum * velocity_b[c] - rate * grad_b[c];
                b[c] += velocity_b[c];
            }
        }
        let weights = index.into_iter().map(|(term, j)| (term, w[j])).collect();
        Self {
            weights,
            bias: b,
            normalised: true,
        }
    }

    /// The model learnt from the shipped corpus, once per process.
    ///
    /// # Panics
    /// Never with the shipped corpus (a test parses it); a malformed one would leave the
    /// model empty instead.
    pub fn shipped() -> &'static Model {
        static MODEL: OnceLock<Model> = OnceLock::new();
        MODEL.get_or_init(|| Model::train(&parse_corpus(CORPUS).unwrap_or_default()))
    }

    /// The posterior probability of each cause for a log and its events.
    pub fn posterior(&self, log: &str, events: &str) -> BTreeMap<String, f64> {
        // Summed in a fixed order: floating-point sums depend on it, and the same failure must
        // get the same numbers every time (the demo's post-mortems are byte-identical).
        let mut found: Vec<String> = terms(&format!("{log}\n{events}")).into_iter().collect();
        found.sort_unstable();
        let scale = if self.normalised {
            1.0 / (found.len().max(1) as f64).sqrt()
        } else {
            1.0
        };
        let mut scores = self.bias;
        for term in &found {
            if let Some(weight) = self.weights.get(term) {
                for c in 0..5 {
                    scores[c] += weight[c] * scale;
                }
            }
        }
        let p = softmax(&scores);
        CAUSES
            .iter()
            .enumerate()
            .map(|(c, cause)| (cause.to_string(), p[c]))
            .collect()
    }

    /// How strongly a line speaks for `cause` against the other causes: the summed log
    /// likelihood ratio of its known terms.
    pub fn weight_of_line(&self, line: &str, cause: &str) -> f64 {
        let Some(c) = cause_index(cause) else {
            return 0.0;
        };
        let mut found: Vec<String> = terms(line).into_iter().collect();
        found.sort_unstable();
        found
            .iter()
            .filter_map(|term| self.weights.get(term))
            .map(|weight| {
                let others = (0..5)
                    .filter(|o| *o != c)
                    .map(|o| weight[o])
                    .fold(f64::NEG_INFINITY, f64::max);
                (weight[c] - others).max(0.0)
            })
            .sum()
    }
}

fn softmax(scores: &[f64; 5]) -> [f64; 5] {
    let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut p = scores.map(|s| (s - top).exp());
    let z: f64 = p.iter().sum();
    for value in &mut p {
        *value /= z;
    }
    p
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
