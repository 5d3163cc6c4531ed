//! Trains the failure classifier's shipped model from the corpus at build time, with the same
//! code the evaluation uses at run time (`src/learn.rs`), and writes it where `model.rs` embeds
//! it: the binary carries the model, and no run pays for training it.

#[allow(dead_code)]
#[path = "src/learn.rs"]
mod learn;

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=corpus/failures.jsonl");
    println!("cargo:rerun-if-changed=src/learn.rs");
    let corpus = std::fs::read_to_string("corpus/failures.jsonl")
        .unwrap_or_else(|err| panic!("corpus/failures.jsonl: {err}"));
    let mut failures: Vec<(Vec<String>, usize)> = Vec::new();
    for (index, line) in corpus.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("corpus/failures.jsonl line {}: {err}", index + 1));
        let field = |name: &str| entry.get(name).and_then(|v| v.as_str()).unwrap_or("");
        let cause = learn::cause_index(field("cause")).unwrap_or_else(|| {
            panic!(
                "corpus/failures.jsonl line {}: unknown cause {:?}",
                index + 1,
                field("cause")
            )
        });
        failures.push((learn::failure_terms(field("log"), field("events")), cause));
    }
    let weights = learn::learn(&failures, learn::LEARNER);
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&out).join("model.tsv"), learn::encode(&weights))
        .expect("OUT_DIR is writable");
}
