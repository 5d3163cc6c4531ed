//! Prints the classifier's held-out evaluation (docs/PIPELINES.md): the corpus split by source
//! project, a model trained on the training projects, accuracy, per-cause precision and recall,
//! and the confusion matrix on the held-out projects.
//!
//! `cargo run -p warden-detect --example classify_eval` (add `-- --tune` for the
//! cross-validation on the training projects that chose the tuning).

use warden_detect::classify::{CAUSES, Rules, Tuning};
use warden_detect::evaluate::{cross_validate, evaluate};
use warden_detect::model::{CORPUS, parse_corpus};

fn main() -> Result<(), String> {
    let rules = Rules::builtin().map_err(|e| e.0)?;
    let corpus = parse_corpus(CORPUS)?;
    if std::env::args().any(|a| a == "--tune") {
        // Leave-projects-out cross-validation on the training projects only.
        for smoothing in [0.01, 0.1, 0.5] {
            for rule_weight in [0.0, 0.5, 1.0, 2.0] {
                for likely in [0.3, 0.4, 0.5] {
                    let tuning = Tuning {
                        rule_weight,
                        likely,
                    };
                    let accuracy = cross_validate(&rules, &corpus, smoothing, tuning);
                    println!(
                        "smoothing {smoothing:<5} rule_weight {rule_weight:<4} likely {likely:<4} cv accuracy {:.1}%",
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
