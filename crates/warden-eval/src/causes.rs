//! Runbook 5's causes decided from the evidence artifacts (R5.4), each rule citing what it
//! read: training/serving skew (the same keys give different features in training and
//! serving), overfitting (the live metric far above the training run's, more than the previous
//! version's gap), concept drift (inputs stable, error up, nothing else explaining it), data
//! quality (data checks failing on recent actuals or on the new version's training data).
//! `None` means the evidence cannot decide and a responder does.

use serde_json::Value;

/// A decision about one cause (the engine's judgement).
pub use warden_core::Judgement as Verdict;

fn confirmed(score: f64, explanation: String) -> Option<Verdict> {
    Some(Verdict::confirmed(score, explanation))
}

fn refuted(explanation: String) -> Option<Verdict> {
    Some(Verdict::refuted(explanation))
}

fn skewed(validate: &Value) -> Option<Vec<String>> {
    validate.get("parity").filter(|p| !p.is_null())?;
    Some(
        validate["skewed_features"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    )
}

/// Skew, from `validate_data`'s parity.
pub fn training_serving_skew(validate: &Value) -> Option<Verdict> {
    let skewed = skewed(validate)?;
    let version = validate["candidate"].as_str().unwrap_or("?");
    let keys = validate["parity"]["matched_keys"].as_u64().unwrap_or(0);
    if skewed.is_empty() {
        return refuted(format!(
            "version {version}: the same {keys} keys give the same features in training and serving"
        ));
    }
    let example = validate["parity"]["features"]
        .as_array()
        .and_then(|features| {
            features
                .iter()
                .find_map(|f| f["examples"].get(0).and_then(Value::as_str))
        })
        .unwrap_or("");
    confirmed(
        0.9,
        format!(
            "version {version}: training and serving features differ for the same keys: {} (e.g. {example}) — fix: a training/serving parity test in CI (`warden validate parity`)",
            skewed.join(", ")
        ),
    )
}

/// Data quality, from `validate_data`'s checks on recent actuals and on training data.
pub fn data_quality(validate: &Value) -> Option<Verdict> {
    let actuals = validate.get("checks").filter(|c| !c.is_null());
    let training = validate.get("training_checks").filter(|c| !c.is_null());
    if actuals.is_none() && training.is_none() {
        return None;
    }
    let failed: Vec<&str> = ["failed_checks", "failed_training_checks"]
        .iter()
        .flat_map(|field| validate[*field].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    if failed.is_empty() {
        return refuted(
            "every data check passed on the recent actuals and the training data".into(),
        );
    }
    confirmed(
        0.6,
        format!(
            "data checks failed: {} — fix: expand validation to cover these cases (`warden validate` in the training pipeline)",
            failed.join("; ")
        ),
    )
}

fn metric_value(evaluate: &Value, side: &str) -> Option<f64> {
    let metric = evaluate["metric"].as_str()?;
    evaluate[side]["accuracy"][metric]["value"].as_f64()
}

fn training_value(registry: &Value, side: &str, metric: &str) -> Option<(String, f64)> {
    let metrics = registry[side]["run_metrics"].as_object()?;
    let wanted = registry["training_metric"].as_str();
    metrics
        .iter()
        .find(|(key, _)| match wanted {
            Some(w) => key.as_str() == w,
            None => key.contains(metric),
        })
        .and_then(|(key, value)| Some((key.clone(), value.as_f64()?)))
}

/// Overfitting, from `registry_metadata`'s run metrics and `evaluate_model`'s live accuracy
/// (and `validate_data`, when given: skew explains a gap too).
/// The new version's generalisation gap (live error ÷ its training run's), stated with the
/// previous version's, and whether it is unusual: at least 2× and 1.5× the previous one's.
fn generalisation_gap(registry: &Value, evaluate: &Value) -> Option<(String, bool)> {
    let metric = evaluate["metric"].as_str()?;
    let (key, trained) = training_value(registry, "candidate", metric)?;
    let live = metric_value(evaluate, "candidate")?;
    if trained <= 0.0 {
        return None;
    }
    let version = evaluate["candidate"]["version"].as_str().unwrap_or("?");
    let gap = live / trained;
    let previous_gap = training_value(registry, "baseline", metric)
        .zip(metric_value(evaluate, "baseline"))
        .filter(|((_, t), _)| *t > 0.0)
        .map(|((_, t), l)| l / t);
    let stated = format!(
        "version {version}: live {metric} {live:.4} is {gap:.1}× its training run's {key} {trained:.4}{}",
        previous_gap.map_or(String::new(), |g| format!(
            " (the previous version's gap: {g:.1}×)"
        ))
    );
    let unusual = gap >= 2.0 && previous_gap.is_none_or(|previous| gap >= 1.5 * previous);
    Some((stated, unusual))
}

pub fn overfitting(
    registry: &Value,
    evaluate: &Value,
    validate: Option<&Value>,
) -> Option<Verdict> {
    let (stated, unusual) = generalisation_gap(registry, evaluate)?;
    if !unusual {
        return refuted(format!("{stated}: no unusual generalisation gap"));
    }
    match validate.and_then(skewed).filter(|s| !s.is_empty()) {
        Some(features) => confirmed(
            0.3,
            format!(
                "{stated}; training/serving skew ({}) explains at least part of it — fix: expand the validation set to recent, diverse periods",
                features.join(", ")
            ),
        ),
        None => confirmed(
            0.7,
            format!(
                "{stated} — fix: expand the validation set to recent, diverse periods and compare before promoting"
            ),
        ),
    }
}

/// Concept drift, from `compare_predictions` (inputs stable?), `evaluate_model` (error up?)
/// and, when given, `validate_data` (skew would explain the error instead) and
/// `registry_metadata` (the new version's own generalisation gap would: a relationship that
/// changed would have raised the previous version's error as much, not only the new one's).
pub fn concept_drift(
    compare: &Value,
    evaluate: &Value,
    validate: Option<&Value>,
    registry: Option<&Value>,
) -> Option<Verdict> {
    let drifted: Vec<&str> = compare["features_drifted"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let verdict = evaluate["regression"]["verdict"].as_str()?;
    let change = evaluate["regression"]["relative_change"]
        .as_f64()
        .unwrap_or(f64::NAN);
    if !drifted.is_empty() {
        return refuted(format!(
            "the inputs changed ({}): that is data drift, not concept drift",
            drifted.join(", ")
        ));
    }
    if verdict != "worse" {
        return refuted(format!(
            "the error did not rise significantly ({verdict}, {:+.0}%)",
            100.0 * change
        ));
    }
    if let Some(features) = validate.and_then(skewed).filter(|s| !s.is_empty()) {
        return refuted(format!(
            "inputs are stable and the error rose {:+.0}%, but training/serving skew ({}) explains it",
            100.0 * change,
            features.join(", ")
        ));
    }
    if let Some((stated, true)) = registry.and_then(|r| generalisation_gap(r, evaluate)) {
        return refuted(format!(
            "inputs are stable and the error rose {:+.0}%, but with the new version's own generalisation gap ({stated}): the version changed, not the relationship",
            100.0 * change
        ));
    }
    confirmed(
        0.5,
        format!(
            "inputs are stable (no feature drifted) while the error rose {:+.0}% — fix: drift detection on the target relationship, retrain on recent data",
            100.0 * change
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn validate(skewed: &[&str], failed: &[&str]) -> Value {
        json!({
            "candidate": "2",
            "checks": {"ok": failed.is_empty()},
            "failed_checks": failed,
            "parity": {"matched_keys": 280, "features": [{"feature": "price", "examples": ["store_id=1,date=2026-11-20: 500 vs 5"]}]},
            "skewed_features": skewed,
        })
    }

    fn evaluate(verdict: &str, live: f64, live_before: f64) -> Value {
        json!({
            "metric": "wape",
            "baseline": {"version": "1", "accuracy": {"wape": {"value": live_before}}},
            "candidate": {"version": "2", "accuracy": {"wape": {"value": live}}},
            "regression": {"verdict": verdict, "relative_change": live / live_before - 1.0},
        })
    }

    fn registry(trained: f64, trained_before: f64) -> Value {
        json!({
            "training_metric": null,
            "baseline": {"run_metrics": {"val_wape": trained_before}},
            "candidate": {"run_metrics": {"val_wape": trained, "val_rmse": 3.0}},
        })
    }

    #[test]
    fn skew_is_confirmed_by_differing_features_and_refuted_by_parity() {
        let v =
            training_serving_skew(&validate(&["price (280 of 280 keys)"], &[])).expect("decides");
        assert!(v.confirmed && v.score > 0.8, "{v:?}");
        assert!(
            v.explanation.contains("price") && v.explanation.contains("500 vs 5"),
            "{v:?}"
        );
        assert!(
            !training_serving_skew(&validate(&[], &[]))
                .expect("decides")
                .confirmed
        );
        assert_eq!(training_serving_skew(&json!({"parity": null})), None);
    }

    #[test]
    fn data_quality_follows_the_failed_checks() {
        let v =
            data_quality(&validate(&[], &["range units: 3 outside [0, 500]"])).expect("decides");
        assert!(
            v.confirmed && v.explanation.contains("range units"),
            "{v:?}"
        );
        assert!(
            !data_quality(&validate(&[], &[]))
                .expect("decides")
                .confirmed
        );
        assert_eq!(data_quality(&json!({"checks": null})), None);
    }

    #[test]
    fn overfitting_needs_a_gap_beyond_the_previous_versions() {
        // 0.03 in training, 0.40 live; the previous version: 0.03 and 0.035.
        let v = overfitting(&registry(0.03, 0.03), &evaluate("worse", 0.40, 0.035), None)
            .expect("decides");
        assert!(v.confirmed && v.score >= 0.7, "{v:?}");
        assert!(v.explanation.contains("val_wape"), "{v:?}");
        // Skew explains the gap: confirmed, ranked low.
        let skew = validate(&["price"], &[]);
        let v = overfitting(
            &registry(0.03, 0.03),
            &evaluate("worse", 0.40, 0.035),
            Some(&skew),
        )
        .expect("decides");
        assert!(v.confirmed && v.score < 0.5, "{v:?}");
        // Both versions generalise alike.
        let v = overfitting(&registry(0.03, 0.03), &evaluate("worse", 0.09, 0.08), None)
            .expect("decides");
        assert!(!v.confirmed, "{v:?}");
        // No training metric: a responder decides.
        assert_eq!(
            overfitting(
                &json!({"candidate": {"run_metrics": {}}}),
                &evaluate("worse", 0.4, 0.03),
                None
            ),
            None
        );
    }

    #[test]
    fn concept_drift_needs_stable_inputs_a_rising_error_and_no_skew() {
        let stable = json!({"features_drifted": []});
        let moved = json!({"features_drifted": ["price"]});
        assert!(
            concept_drift(&stable, &evaluate("worse", 0.2, 0.1), None, None)
                .expect("decides")
                .confirmed
        );
        assert!(
            !concept_drift(&moved, &evaluate("worse", 0.2, 0.1), None, None)
                .expect("decides")
                .confirmed
        );
        assert!(
            !concept_drift(&stable, &evaluate("equivalent", 0.1, 0.1), None, None)
                .expect("decides")
                .confirmed
        );
        let skew = validate(&["price"], &[]);
        assert!(
            !concept_drift(&stable, &evaluate("worse", 0.2, 0.1), Some(&skew), None)
                .expect("decides")
                .confirmed
        );
        // The new version's own generalisation gap explains the rise: overfitting, not drift.
        let overfit = registry(0.03, 0.09);
        let v = concept_drift(&stable, &evaluate("worse", 0.2, 0.1), None, Some(&overfit))
            .expect("decides");
        assert!(
            !v.confirmed && v.explanation.contains("generalisation gap"),
            "{v:?}"
        );
        // A usual gap leaves concept drift standing.
        let usual = registry(0.15, 0.09);
        assert!(
            concept_drift(&stable, &evaluate("worse", 0.2, 0.1), None, Some(&usual))
                .expect("decides")
                .confirmed
        );
    }
}
