//! The classifier on real failure messages (R1.6 target: at least 90% accuracy): every file
//! under `tests/data/pipeline-failures/` holds the messages of one real failure as reported
//! in a public issue (its URL in the header) with the cause it turned out to have.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use warden_detect::classify::{Rules, classify};

struct Sample {
    name: String,
    cause: String,
    log: String,
    events: String,
}

fn corpus() -> Vec<Sample> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pipeline-failures");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let cause = text
                .lines()
                .find_map(|l| l.strip_prefix("# cause: "))
                .unwrap_or_else(|| panic!("{}: no cause", path.display()))
                .to_string();
            assert!(
                text.contains("# source: https://"),
                "{}: no source",
                path.display()
            );
            let log_start = text.find("--- log\n").unwrap() + "--- log\n".len();
            let events_start = text.find("--- events\n").unwrap();
            Sample {
                name: path.file_name().unwrap().to_string_lossy().into_owned(),
                cause,
                log: text[log_start..events_start].to_string(),
                events: text[events_start + "--- events\n".len()..].to_string(),
            }
        })
        .collect()
}

#[test]
fn at_least_ninety_percent_of_real_failures_are_classified_right() {
    let rules = Rules::builtin().unwrap();
    let samples = corpus();
    assert!(
        samples.len() >= 40,
        "the corpus has {} samples",
        samples.len()
    );
    let mut right = 0;
    let mut confusion: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for sample in &samples {
        let c = classify(&rules, &sample.log, &sample.events);
        if c.cause == sample.cause {
            right += 1;
        }
        confusion
            .entry((sample.cause.clone(), c.cause.clone()))
            .or_default()
            .push(sample.name.clone());
    }
    let accuracy = f64::from(right) / samples.len() as f64;
    let wrong: Vec<String> = confusion
        .iter()
        .filter(|((truth, said), _)| truth != said)
        .map(|((truth, said), names)| format!("{truth} classified {said}: {names:?}"))
        .collect();
    eprintln!(
        "accuracy {accuracy:.3} on {} samples; wrong: {wrong:#?}",
        samples.len()
    );
    assert!(accuracy >= 0.9, "accuracy {accuracy:.3}; wrong: {wrong:#?}");
    // Every cause is represented and mostly recognised.
    for cause in warden_detect::classify::CAUSES {
        let of_cause: Vec<&Sample> = samples.iter().filter(|s| s.cause == cause).collect();
        assert!(of_cause.len() >= 5, "{cause}: {} samples", of_cause.len());
        let recognised = of_cause
            .iter()
            .filter(|s| classify(&rules, &s.log, &s.events).cause == cause)
            .count();
        assert!(
            recognised * 10 >= of_cause.len() * 8,
            "{cause}: {recognised} of {}",
            of_cause.len()
        );
    }
}

#[test]
fn only_throttling_timeouts_and_lost_nodes_are_retried() {
    let rules = Rules::builtin().unwrap();
    for sample in corpus() {
        let c = classify(&rules, &sample.log, &sample.events);
        let transient_sample = ["throttling", "spot", "preemptible"]
            .iter()
            .any(|word| sample.name.contains(word));
        assert_eq!(c.transient, transient_sample, "{}: {c:?}", sample.name);
        if c.cause != "other" {
            assert!(
                !c.evidence.is_empty() && !c.fixes.is_empty(),
                "{}: {c:?}",
                sample.name
            );
        }
    }
}
