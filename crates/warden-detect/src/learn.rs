//! How the failure classifier's model learns: the terms of a failure's text, and naive Bayes or
//! logistic regression over them. Only the standard library, so the build script trains the
//! shipped model with this same code (`build.rs` includes this file) and the evaluation
//! retrains it on a part of the corpus at run time.
//!
//! Features are present-or-absent terms: lower-cased words of two or more characters, digit
//! runs (status and exit codes matter: 137, 403, 401) and adjacent word pairs. The shipped
//! learner is multinomial logistic regression over them, each term valued by its inverse
//! document frequency and each failure scaled to unit length (TF-IDF); complement naive Bayes is
//! the other [`Learner`] the tuning compares it with (docs/PIPELINES.md).

use std::collections::{BTreeMap, HashMap, HashSet};

/// The causes the runbook names, in the order of every weight array.
pub const CAUSES: [&str; 5] = [
    "missing_expired_secret",
    "artifact_storage_unreachable",
    "resource_limit",
    "incompatible_version_missing_dependency",
    "other",
];

/// The position of `cause` in [`CAUSES`].
pub fn cause_index(cause: &str) -> Option<usize> {
    CAUSES.iter().position(|c| *c == cause)
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
    /// Multinomial logistic regression over present-or-absent terms valued by their inverse
    /// document frequency and scaled to unit length per failure (TF-IDF), L2 regularised, each cause weighted by the inverse of its share of the corpus (so the
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

/// In how many training failures a term must appear for logistic regression to learn it.
const MIN_DOCUMENTS: usize = 2;

/// The shipped learner, chosen by leave-projects-out cross-validation on the training
/// projects (`cargo run --release -p warden-detect --example classify_eval -- --tune`).
pub const LEARNER: Learner = Learner::Logistic {
    l2: 2e-5,
    steps: 1000,
};

/// What a learner produced: per term, its weight for each cause and its value in a failure that
/// has it; per cause, the score before any term.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// `(term, weight per cause in [`CAUSES`] order, value)`, sorted by term.
    pub terms: Vec<(String, [f64; 5], f64)>,
    /// Per cause, the score before any term.
    pub bias: [f64; 5],
    /// Whether a failure's term values are scaled to unit length (logistic regression).
    pub normalised: bool,
}

/// Learns from failures given as their sorted terms and the index of their cause.
pub fn learn(failures: &[(Vec<String>, usize)], learner: Learner) -> Weights {
    match learner {
        Learner::Bayes { smoothing } => bayes(failures, smoothing),
        Learner::Logistic { l2, steps } => logistic(failures, l2, steps),
    }
}

/// A failure's log and events as the sorted terms a model reads: the one form the build
/// script, training and classification all use.
pub fn failure_terms(log: &str, events: &str) -> Vec<String> {
    sorted_terms(&format!("{log}\n{events}"))
}

/// A text as the sorted terms a learner reads.
pub fn sorted_terms(text: &str) -> Vec<String> {
    let mut found: Vec<String> = terms(text).into_iter().collect();
    found.sort_unstable();
    found
}

fn bayes(failures: &[(Vec<String>, usize)], smoothing: f64) -> Weights {
    let mut counts: BTreeMap<String, [f64; 5]> = BTreeMap::new();
    let mut totals = [0.0f64; 5];
    for (found, c) in failures {
        for term in found {
            counts.entry(term.clone()).or_insert([0.0; 5])[*c] += 1.0;
            totals[*c] += 1.0;
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
                weight[c] = -((elsewhere + smoothing) / (complement + smoothing * vocabulary)).ln();
            }
            (term, weight, 1.0)
        })
        .collect();
    Weights {
        terms: weights,
        bias: [0.0; 5],
        normalised: false,
    }
}

fn logistic(failures: &[(Vec<String>, usize)], l2: f64, steps: usize) -> Weights {
    let mut documents: BTreeMap<&str, usize> = BTreeMap::new();
    for (found, _) in failures {
        for term in found {
            *documents.entry(term).or_default() += 1;
        }
    }
    // A term of one failure only (an id, a path, a rare word pair) teaches nothing another
    // failure can use; dropping them halves the work of training.
    let vocabulary: Vec<(&str, usize)> = documents
        .into_iter()
        .filter(|(_, d)| *d >= MIN_DOCUMENTS)
        .collect();
    let index: HashMap<&str, usize> = vocabulary
        .iter()
        .enumerate()
        .map(|(j, (term, _))| (*term, j))
        .collect();
    // Smoothed inverse document frequency, as the usual TF-IDF has it.
    let total = failures.len() as f64;
    let idf: Vec<f64> = vocabulary
        .iter()
        .map(|(_, d)| ((1.0 + total) / (1.0 + *d as f64)).ln() + 1.0)
        .collect();
    // Each failure as (term, value), its values scaled to unit length.
    let rows: Vec<(Vec<(usize, f64)>, usize)> = failures
        .iter()
        .map(|(found, c)| {
            let features: Vec<usize> = found
                .iter()
                .filter_map(|term| index.get(term.as_str()).copied())
                .collect();
            let norm = features
                .iter()
                .map(|j| idf[*j] * idf[*j])
                .sum::<f64>()
                .sqrt()
                .max(f64::MIN_POSITIVE);
            (
                features.into_iter().map(|j| (j, idf[j] / norm)).collect(),
                *c,
            )
        })
        .collect();
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
    // Full-batch gradient descent with momentum on the class-weighted mean log loss plus
    // the L2 penalty: deterministic, and fast enough to learn when first used.
    let terms = vocabulary.len();
    let mut w = vec![[0.0f64; 5]; terms];
    let mut b = [0.0f64; 5];
    let mut velocity_w = vec![[0.0f64; 5]; terms];
    let mut velocity_b = [0.0f64; 5];
    let mut grad_w = vec![[0.0f64; 5]; terms];
    let rate = 2.0;
    let momentum = 0.9;
    for _ in 0..steps {
        grad_w.fill([0.0; 5]);
        let mut grad_b = [0.0f64; 5];
        for (features, cause) in &rows {
            let mut scores = b;
            for (j, x) in features {
                for c in 0..5 {
                    scores[c] += w[*j][c] * x;
                }
            }
            let p = softmax(&scores);
            let weight = class_weight[*cause] / n;
            let mut g = [0.0f64; 5];
            for c in 0..5 {
                g[c] = weight * (p[c] - if c == *cause { 1.0 } else { 0.0 });
                grad_b[c] += g[c];
            }
            for (j, x) in features {
                for c in 0..5 {
                    grad_w[*j][c] += g[c] * x;
                }
            }
        }
        for j in 0..terms {
            for c in 0..5 {
                let g = grad_w[j][c] + l2 * w[j][c];
                velocity_w[j][c] = momentum * velocity_w[j][c] - rate * g;
                w[j][c] += velocity_w[j][c];
            }
        }
        for c in 0..5 {
            velocity_b[c] = momentum * velocity_b[c] - rate * grad_b[c];
            b[c] += velocity_b[c];
        }
    }
    let terms = vocabulary
        .iter()
        .zip(w)
        .zip(&idf)
        .map(|(((term, _), weight), value)| (term.to_string(), weight, *value))
        .collect();
    Weights {
        terms,
        bias: b,
        normalised: true,
    }
}

/// [`Weights`] as text, one line per term (`term<TAB>w0 w1 w2 w3 w4<TAB>value`) after a header
/// line with the bias and whether values are normalised; floats are written in Rust's shortest
/// round-trip form, so [`decode`] gives back exactly what [`learn`] produced.
pub fn encode(weights: &Weights) -> String {
    let floats = |values: &[f64]| {
        values
            .iter()
            .map(|v| format!("{v:?}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = format!(
        "{}\t{}\n",
        floats(&weights.bias),
        if weights.normalised {
            "normalised"
        } else {
            "counts"
        }
    );
    for (term, weight, value) in &weights.terms {
        out.push_str(&format!("{term}\t{}\t{value:?}\n", floats(weight)));
    }
    out
}

/// Reads what [`encode`] wrote.
///
/// # Errors
/// A line that is not in [`encode`]'s format, named by its number.
pub fn decode(text: &str) -> Result<Weights, String> {
    let five = |field: &str, line: usize| -> Result<[f64; 5], String> {
        let values: Vec<f64> = field
            .split(' ')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|err| format!("model line {line}: {err}"))?;
        values
            .try_into()
            .map_err(|_| format!("model line {line}: not five weights"))
    };
    let mut lines = text.lines();
    let header = lines.next().ok_or("model: empty")?;
    let (bias, kind) = header.split_once('\t').ok_or("model line 1: no kind")?;
    let mut weights = Weights {
        terms: Vec::new(),
        bias: five(bias, 1)?,
        normalised: kind == "normalised",
    };
    for (index, line) in lines.enumerate() {
        let number = index + 2;
        let mut fields = line.split('\t');
        let (Some(term), Some(weight), Some(value), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(format!("model line {number}: not three fields"));
        };
        let value = value
            .parse()
            .map_err(|err| format!("model line {number}: {err}"))?;
        weights
            .terms
            .push((term.to_string(), five(weight, number)?, value));
    }
    Ok(weights)
}

/// The probabilities the scores of the five causes stand for.
pub fn softmax(scores: &[f64; 5]) -> [f64; 5] {
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

    fn failures() -> Vec<(Vec<String>, usize)> {
        [
            ("container OOMKilled exit code 137", 2),
            ("pod evicted memory pressure exit code 137", 2),
            ("NoSuchBucket the specified bucket does not exist", 1),
            ("AccessDenied on bucket models", 1),
            ("ModuleNotFoundError no module named torch", 3),
            ("password authentication failed for user airflow", 0),
            ("KeyError column price", 4),
        ]
        .into_iter()
        .map(|(text, cause)| (sorted_terms(text), cause))
        .collect()
    }

    #[test]
    fn encoded_weights_decode_to_exactly_what_was_learnt() {
        for learner in [
            Learner::Bayes { smoothing: 1.0 },
            Learner::Logistic {
                l2: 1e-4,
                steps: 50,
            },
        ] {
            let weights = learn(&failures(), learner);
            assert!(!weights.terms.is_empty());
            assert_eq!(decode(&encode(&weights)), Ok(weights));
        }
    }

    #[test]
    fn logistic_regression_keeps_only_terms_of_two_failures_or_more() {
        let weights = learn(
            &failures(),
            Learner::Logistic {
                l2: 1e-4,
                steps: 50,
            },
        );
        let terms: Vec<&str> = weights.terms.iter().map(|(t, _, _)| t.as_str()).collect();
        assert!(
            terms.contains(&"137") && terms.contains(&"bucket"),
            "{terms:?}"
        );
        assert!(!terms.contains(&"torch"), "{terms:?}");
        // A term in every other failure is worth less than a rarer one.
        let value = |term: &str| weights.terms.iter().find(|t| t.0 == term).map(|t| t.2);
        assert!(value("137") > Some(1.0));
    }

    #[test]
    fn a_damaged_model_names_its_line() {
        let text = encode(&learn(&failures(), Learner::Bayes { smoothing: 1.0 }));
        let damaged = text.replacen("\t", " ", 2);
        let err = decode(&damaged).expect_err("damaged");
        assert!(err.starts_with("model line "), "{err}");
        assert!(decode("").is_err());
    }
}
