//! Prints the classifier's held-out evaluation (docs/PIPELINES.md): the corpus split by source
//! project, a model trained on the training projects, accuracy, per-cause precision and recall,
//! and the confusion matrix on the held-out projects.
//!
//! `cargo run -p warden-detect --example classify_eval` (add `-- --tune` for the
//! cross-validation on the training projects that chose the tuning).

use warden_detect::classify::{CAUSES, Rules, TUNING, Tuning};
use warden_detect::evaluate::{cross_validate, cross_validate_misses, evaluate};
use warden_detect::model::{CORPUS, LEARNER, Learner, parse_corpus};

fn main() -> Result<(), String> {
    let rules = Rules::builtin().map_err(|e| e.0)?;
    let corpus = parse_corpus(CORPUS)?;
    if std::env::args().any(|a| a == "--cv-misses") {
        let (right, total, misses) = cross_validate_misses(&rules, &corpus, LEARNER, TUNING);
        println!("cross-validation on the training projects: {right} of {total}");
        for (source, actual, predicted) in misses {
            println!("  {source}: {actual} → {predicted}");
        }
        return Ok(());
    }
    if std::env::args().any(|a| a == "--tune") {
        // Leave-projects-out cross-validation on the training projects only.
        let mut learners: Vec<Learner> = [0.1, 0.5, 1.0]
            .map(|smoothing| Learner::Bayes { smoothing })
            .to_vec();
        for l2 in [2e-5, 5e-5, 1e-4] {
            learners.push(Learner::Logistic { l2, steps: 1000 });
        }
        for learner in learners {
            for rule_weight in [0.5, 1.0, 2.0] {
                for likely in [0.3, 0.4, 0.5] {
                    let tuning = Tuning {
                        rule_weight,
                        likely,
                    };
                    let accuracy = cross_validate(&rules, &corpus, learner, tuning);
                    println!(
                        "{learner:?} rule_weight {rule_weight:<4} likely {likely:<4} cv accuracy {:.1}%",
                        100.0 * accuracy
                    );
                }
            }
        }
        return Ok(());
    }
    let e = evaluate(&rules, &corpus);
    println!(
        "training: {} failures from {} projects; held out: {} failures from {} projects",
        e.training.0, e.training.1, e.held_out.0, e.held_out.1
    );
    println!("held-out accuracy: {:.1}%\n", 100.0 * e.accuracy);
    println!(
        "{:<42} {:>7} {:>9} {:>7}",
        "cause", "support", "precision", "recall"
    );
    for (cause, p) in &e.per_cause {
        println!(
            "{cause:<42} {:>7} {:>8.1}% {:>6.1}%",
            p.support,
            100.0 * p.precision,
            100.0 * p.recall
        );
    }
    println!("\nconfusion (rows: actual, columns: predicted, in the order above)");
    for actual in CAUSES {
        let row: Vec<String> = CAUSES
            .iter()
            .map(|p| format!("{:>4}", e.confusion[actual][*p]))
            .collect();
        println!("{actual:<42} {}", row.join(""));
    }
    println!("\nmisses:");
    for (source, actual, predicted) in &e.misses {
        println!("  {source}: {actual} → {predicted}");
    }
    Ok(())
}
