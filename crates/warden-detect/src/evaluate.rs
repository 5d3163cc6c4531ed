//! The honest measure of the failure classifier: the corpus split by source project — every
//! failure of a project is either all in training or all held out — a model trained on the
//! training projects only, and accuracy, per-cause precision and recall and the confusion matrix
//! on the held-out projects. The split is a hash of the project name, so it never moves when the
//! corpus grows and a project cannot change sides.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::classify::{CAUSES, Rules, TUNING, Tuning, classify_with};
use crate::model::{Example, LEARNER, Learner, Model};

/// Out of ten hash buckets, how many are held out.
const HELD_OUT_BUCKETS: u64 = 3;

/// FNV-1a of a project name: stable across platforms and releases, unlike the standard hasher.
fn project_hash(project: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in project.to_lowercase().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Whether `project` is held out of training.
pub fn held_out(project: &str) -> bool {
    project_hash(project) % 10 < HELD_OUT_BUCKETS
}

/// Accuracy of leave-projects-out cross-validation on the training projects only (five folds
/// by project), for choosing the smoothing and the tuning without looking at held-out data.
pub fn cross_validate(rules: &Rules, corpus: &[Example], learner: Learner, tuning: Tuning) -> f64 {
    let (right, total, _) = cross_validate_misses(rules, corpus, learner, tuning);
    right as f64 / total.max(1) as f64
}

/// [`cross_validate`]'s counts (right, of how many) and its misses: `(source, actual,
/// predicted)` — training projects only, for studying errors without looking at held-out data.
pub fn cross_validate_misses(
    rules: &Rules,
    corpus: &[Example],
    learner: Learner,
    tuning: Tuning,
) -> (usize, usize, Vec<(String, String, String)>) {
    let train: Vec<&Example> = corpus.iter().filter(|e| !held_out(&e.project)).collect();
    let fold = |e: &Example| (project_hash(&e.project) / 10) % 5;
    let mut right = 0usize;
    let mut misses = Vec::new();
    for k in 0..5 {
        let fit: Vec<Example> = train
            .iter()
            .filter(|e| fold(e) != k)
            .map(|e| (*e).clone())
            .collect();
        let model = Model::learn(&fit, learner);
        for example in train.iter().filter(|e| fold(e) == k) {
            let predicted =
                classify_with(rules, &model, tuning, &example.log, &example.events).cause;
            if predicted == example.cause {
                right += 1;
            } else {
                misses.push((example.source.clone(), example.cause.clone(), predicted));
            }
        }
    }
    (right, train.len(), misses)
}

/// Precision and recall of one cause.
#[derive(Debug, Clone, Serialize)]
pub struct PerCause {
    /// Held-out failures with this cause.
    pub support: usize,
    /// Of those classified as it, the share right.
    pub precision: f64,
    /// Of those that have it, the share found.
    pub recall: f64,
}

/// The held-out evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// Training failures and projects.
    pub training: (usize, usize),
    /// Held-out failures and projects.
    pub held_out: (usize, usize),
    /// Share of held-out failures classified right.
    pub accuracy: f64,
    /// Per cause.
    pub per_cause: BTreeMap<String, PerCause>,
    /// `confusion[actual][predicted]`.
    pub confusion: BTreeMap<String, BTreeMap<String, usize>>,
    /// The held-out failures classified wrong: `(source, actual, predicted)`.
    pub misses: Vec<(String, String, String)>,
}

fn projects(examples: &[&Example]) -> usize {
    let mut names: Vec<&str> = examples.iter().map(|e| e.project.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.len()
}

/// Trains on the training projects of `corpus` with the shipped learner and tuning and
/// measures on the held-out ones.
pub fn evaluate(rules: &Rules, corpus: &[Example]) -> Evaluation {
    evaluate_with(rules, corpus, LEARNER, TUNING)
}

/// [`evaluate`] with a given learner and tuning.
pub fn evaluate_with(
    rules: &Rules,
    corpus: &[Example],
    learner: Learner,
    tuning: Tuning,
) -> Evaluation {
    let (test, train): (Vec<&Example>, Vec<&Example>) =
        corpus.iter().partition(|e| held_out(&e.project));
    let owned: Vec<Example> = train.iter().map(|e| (*e).clone()).collect();
    let model = Model::learn(&owned, learner);
    let mut confusion: BTreeMap<String, BTreeMap<String, usize>> = CAUSES
        .iter()
        .map(|a| {
            (
                a.to_string(),
                CAUSES.iter().map(|p| (p.to_string(), 0)).collect(),
            )
        })
        .collect();
    let mut misses = Vec::new();
    for example in &test {
        let predicted = classify_with(rules, &model, tuning, &example.log, &example.events).cause;
        *confusion
            .entry(example.cause.clone())
            .or_default()
            .entry(predicted.clone())
            .or_default() += 1;
        if predicted != example.cause {
            misses.push((example.source.clone(), example.cause.clone(), predicted));
        }
    }
    let right: usize = CAUSES.iter().map(|c| confusion[*c][*c]).sum();
    let per_cause = CAUSES
        .iter()
        .map(|cause| {
            let support: usize = confusion[*cause].values().sum();
            let predicted: usize = CAUSES.iter().map(|a| confusion[*a][*cause]).sum();
            let hit = confusion[*cause][*cause] as f64;
            (
                cause.to_string(),
                PerCause {
                    support,
                    precision: if predicted == 0 {
                        0.0
                    } else {
                        hit / predicted as f64
                    },
                    recall: if support == 0 {
                        0.0
                    } else {
                        hit / support as f64
                    },
                },
            )
        })
        .collect();
    Evaluation {
        training: (train.len(), projects(&train)),
        held_out: (test.len(), projects(&test)),
        accuracy: right as f64 / test.len().max(1) as f64,
        per_cause,
        confusion,
        misses,
    }
}
