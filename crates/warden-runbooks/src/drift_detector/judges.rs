//! Runbook 3's cause judges (R3.5), each a pure rule over the JSON evidence with the numbers
//! that decided it:
//! - `false_positive_churn`: the alerts start retraining runs (at least two in the window);
//! - `unrepresentative_reference`: the reference is old, small, moved inside itself, or lacks
//!   categories the window has;
//! - `threshold_too_sensitive`: most significant columns have negligible effects (noise a
//!   p-value test alerts on) — or, for missed drift, the drift was significant but under a
//!   threshold set too high;
//! - `seasonality`: the columns that drift against the whole reference do not against the same
//!   season of it;
//! - `feature_encoding_change`: new or vanished categories, scale jumps, missing-value jumps,
//!   re-encodings.
//!
//! Missing evidence leaves the cause to a responder.

use serde_json::Value;
// Below `warden drift`'s default minimum effects a difference is negligible.
use warden_drift::options::{DEFAULT_CATEGORICAL_MIN_EFFECT, DEFAULT_NUMERIC_MIN_EFFECT};
use warden_engine::judge::{JudgeRegistry, JudgeRequest, Judgement};

use crate::common::artifacts::of_kind;
use crate::common::judges::from_evidence;

/// The catalogue causes this module judges.
pub const NAMES: [&str; 5] = [
    "false_positive_churn",
    "unrepresentative_reference",
    "threshold_too_sensitive",
    "seasonality",
    "feature_encoding_change",
];

/// Significance a p-value-only detector alerts at (the runbook's "KS p < 0.05").
const NAIVE_ALPHA: f64 = 0.05;
/// A reference with fewer rows than this cannot calibrate thresholds (20 chunks of 50).
const MIN_REFERENCE_ROWS: f64 = 1_000.0;
/// Categories the reference lacks must carry at least this share of the window to count.
const NEW_CATEGORY_SHARE: f64 = 0.01;
/// At least this many retraining runs in the window is churn.
const CHURN_RUNS: f64 = 2.0;

#[derive(Clone, Copy)]
enum Cause {
    Churn,
    Reference,
    Threshold,
    Seasonality,
    Encoding,
}

struct Judge {
    cause: Cause,
}

fn number(value: &Value) -> Option<f64> {
    value.as_f64()
}

/// `retraining runs` in the alert window against the alert count.
pub fn churn(history: &Value) -> Option<Judgement> {
    let retraining = &history["retraining"];
    let Some(trigger) = retraining["trigger"].as_str() else {
        return Some(Judgement::refuted(
            "no retraining trigger is configured for this monitor: its alerts start no retraining",
        ));
    };
    let recent = number(&history["recent_alerts"]).unwrap_or(0.0);
    let window = retraining["since"].as_str().unwrap_or("window");
    match number(&retraining["runs_in_window"]) {
        Some(runs) if runs >= CHURN_RUNS => Some(Judgement::confirmed(
            (runs / 5.0).clamp(0.6, 1.0),
            format!(
                "{trigger} ran {runs} times in the last {window} while the detector raised {recent:.1} alerts in its recent window: retraining churn; disable the trigger until the detector is fixed"
            ),
        )),
        Some(runs) => Some(Judgement::refuted(format!(
            "{trigger} ran {runs} times in the last {window} (churn is {CHURN_RUNS} or more)"
        ))),
        // The trigger cannot say how often it ran: every alert starts it.
        None if recent >= CHURN_RUNS => Some(Judgement::confirmed(
            0.6,
            format!(
                "{recent:.1} drift alerts in the recent window, each starting {trigger}: retraining churn"
            ),
        )),
        None => Some(Judgement::refuted(format!(
            "{recent:.1} drift alerts in the recent window: too few to churn {trigger}"
        ))),
    }
}

/// Age, size, internal shift and category coverage of the reference.
pub fn reference(report: &Value) -> Option<Judgement> {
    let reference = &report["reference"];
    let rows = number(&reference["rows"])?;
    let mut problems = Vec::new();
    let mut facts = Vec::new();
    let max_age = number(&reference["max_age_days"]).unwrap_or(90.0);
    match number(&reference["age_days"]) {
        Some(age) if age > max_age => problems.push(format!(
            "its newest row is {age:.0} days old (over {max_age:.0})"
        )),
        Some(age) => facts.push(format!("{age:.0} days old (limit {max_age:.0})")),
        None => facts.push("age unknown (no timestamps)".into()),
    }
    if rows < MIN_REFERENCE_ROWS {
        problems.push(format!(
            "{rows} rows, too few to calibrate thresholds (at least {MIN_REFERENCE_ROWS})"
        ));
    } else {
        facts.push(format!("{rows} rows"));
    }
    if let Some(shift) = reference["shift"].as_object() {
        problems.push(format!(
            "it is not stationary{}: columns {} moved inside it",
            shift
                .get("since")
                .and_then(Value::as_str)
                .map_or(String::new(), |s| format!(" since {s}")),
            shift
                .get("columns")
                .and_then(Value::as_array)
                .map(|c| c
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        ));
    } else {
        facts.push("stationary".into());
    }
    let mut uncovered = Vec::new();
    for column in report["configured"]["columns"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let n_cur = number(&column["n_cur"]).unwrap_or(0.0).max(1.0);
        let new: f64 = column["new_categories"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| number(&c["current"]))
            .sum();
        if new / n_cur >= NEW_CATEGORY_SHARE {
            uncovered.push(format!(
                "{} ({:.1}% of the window in categories it lacks)",
                column["name"].as_str().unwrap_or_default(),
                100.0 * new / n_cur
            ));
        }
    }
    if uncovered.is_empty() {
        facts.push("covers every category of the window".into());
    } else {
        problems.push(format!("it does not cover {}", uncovered.join(", ")));
    }
    Some(if problems.is_empty() {
        Judgement::refuted(format!(
            "the reference is representative: {}",
            facts.join(", ")
        ))
    } else {
        Judgement::confirmed(
            (0.5 + 0.2 * problems.len() as f64).min(1.0),
            format!(
                "the reference is not representative: {}; use a sliding reference of recent, stable production data",
                problems.join("; ")
            ),
        )
    })
}

/// Significant-but-negligible columns (noise), or missed drift under a high threshold.
pub fn threshold(report: Option<&Value>, history: Option<&Value>) -> Option<Judgement> {
    if let Some(backtest) = history.map(|h| &h["backtest"]).filter(|b| b.is_object()) {
        let missed = backtest["missed"].as_array()?;
        let mut under = Vec::new();
        let mut windows_under = 0;
        for window in missed {
            let before = under.len();
            for column in window["significant_columns"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let (effect, threshold) = (
                    number(&column["effect"]).unwrap_or(0.0),
                    number(&column["threshold"]).unwrap_or(0.0),
                );
                if effect <= threshold {
                    under.push(format!(
                        "{} {} effect {effect:.3} ≤ threshold {threshold:.3}",
                        window["start"].as_str().unwrap_or_default(),
                        column["name"].as_str().unwrap_or_default()
                    ));
                }
            }
            if under.len() > before {
                windows_under += 1;
            }
        }
        let recall = number(&backtest["recall"]).unwrap_or(1.0);
        return Some(if under.is_empty() {
            Judgement::refuted(format!(
                "recall {recall:.2}, but no missed drift window had a significant effect under its threshold: the thresholds did not hide it"
            ))
        } else {
            Judgement::confirmed(
                0.8,
                format!(
                    "thresholds set too high: {windows_under} of {} missed drift windows were significant with effects under the threshold ({}); tune the thresholds on the labelled history",
                    missed.len(),
                    under.iter().take(4).cloned().collect::<Vec<_>>().join("; ")
                ),
            )
        });
    }
    let columns = report?["configured"]["columns"].as_array()?;
    let (mut significant, mut substantial) = (0, 0);
    let (mut negligible, mut too_low) = (Vec::new(), Vec::new());
    for column in columns {
        let (Some(p), Some(effect)) = (number(&column["p_value"]), number(&column["effect"]))
        else {
            continue;
        };
        let floor = if column["type"] == "categorical" {
            DEFAULT_CATEGORICAL_MIN_EFFECT
        } else {
            DEFAULT_NUMERIC_MIN_EFFECT
        };
        let name = column["name"].as_str().unwrap_or_default();
        if column["drifted"].as_bool() == Some(true) && effect < floor {
            too_low.push(format!(
                "{name} drifts with effect {effect:.3}, under the negligible level {floor}"
            ));
        }
        if p < NAIVE_ALPHA {
            significant += 1;
            if effect < floor {
                negligible.push(format!(
                    "{name} (p = {p:.1e}, effect {effect:.3} < {floor})"
                ));
            } else {
                substantial += 1;
            }
        }
    }
    Some(if !too_low.is_empty() {
        Judgement::confirmed(
            0.9,
            format!(
                "the thresholds are below what matters: {} — raise them (tuned thresholds)",
                too_low.join("; ")
            ),
        )
    } else if !negligible.is_empty() && substantial == 0 {
        Judgement::confirmed(
            0.7,
            format!(
                "every column with p < {NAIVE_ALPHA} has a negligible effect: {} — a p-value threshold alone alerts on these; require an effect size (tuned thresholds)",
                negligible.join(", ")
            ),
        )
    } else {
        Judgement::refuted(format!(
            "{substantial} of {significant} columns with p < {NAIVE_ALPHA} have effects above the negligible level and {} of them drift; the thresholds are not what alerts",
            columns
                .iter()
                .filter(|c| c["drifted"].as_bool() == Some(true))
                .count()
        ))
    })
}

/// Drift against the whole reference that vanishes against the same season: columns the
/// engine itself found seasonal, or that drift as configured but not against the same season.
pub fn seasonality(report: &Value) -> Option<Judgement> {
    let configured: Vec<&Value> = report["configured"]["columns"]
        .as_array()?
        .iter()
        .filter(|c| c["drifted"].as_bool() == Some(true) || c["status"] == "seasonal")
        .collect();
    let same = &report["same_season"];
    let season = same["season"].as_str().unwrap_or("season");
    if let Some(error) = same["error"].as_str() {
        return Some(Judgement::refuted(format!(
            "no same-{season} comparison could be made: {error}"
        )));
    }
    let still: Vec<&str> = same["drifted"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if configured.is_empty() {
        return Some(Judgement::refuted(
            "no column differs from the reference as configured: there is no difference for a season to explain",
        ));
    }
    let mut explained = Vec::new();
    for column in &configured {
        let name = column["name"].as_str().unwrap_or_default();
        if still.contains(&name) && column["status"] != "seasonal" {
            continue;
        }
        let season_effect = same["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == name)
            .and_then(|c| number(&c["seasonal_check"]["effect"]).or(number(&c["effect"])));
        explained.push(format!(
            "{name}: effect {:.3} against the whole reference, {} against the same {season}",
            number(&column["effect"]).unwrap_or(0.0),
            season_effect.map_or("none".into(), |e| format!("{e:.3}"))
        ));
    }
    let share = explained.len() as f64 / configured.len() as f64;
    Some(if share >= 0.5 {
        Judgement::confirmed(
            share,
            format!(
                "{} of {} columns that differ from the whole reference do not against the same {season}: {} — compare with the same season (seasonal detection)",
                explained.len(),
                configured.len(),
                explained.join("; ")
            ),
        )
    } else {
        Judgement::refuted(format!(
            "{} of {} columns that differ from the whole reference still do against the same {season} ({}): not seasonal",
            still.len(),
            configured.len(),
            still.join(", ")
        ))
    })
}

/// Expected occurrences under which a category's absence on one side is sampling, not a
/// change: a category the reference holds at share p is missing from n window rows by chance
/// with probability about e^(-n·p), under 1% from 5 expected on.
const EXPECTED_OCCURRENCES: f64 = 5.0;

/// What in one column (a drift report's column as JSON) says its encoding changed: scale
/// jumps, missing-value jumps, and categories on one side that the other side's size makes
/// unlikely to be missing by chance.
pub fn encoding_findings(column: &Value) -> Vec<String> {
    let mut found: Vec<String> = column["hints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|h| {
            h.contains("multiplied") || h.contains("divided") || h.contains("missing values")
        })
        .map(str::to_string)
        .collect();
    let n_ref = number(&column["n_ref"]).unwrap_or(0.0).max(1.0);
    let n_cur = number(&column["n_cur"]).unwrap_or(0.0).max(1.0);
    let labels = |key: &str, expected: &dyn Fn(&Value) -> f64| -> Vec<String> {
        column[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| expected(c) >= EXPECTED_OCCURRENCES)
            .filter_map(|c| c["value"].as_str().map(|v| format!("'{v}'")))
            .collect()
    };
    let new = labels("new_categories", &|c| {
        n_ref * number(&c["current"]).unwrap_or(0.0) / n_cur
    });
    let vanished = labels("vanished_categories", &|c| {
        n_cur * number(&c["reference"]).unwrap_or(0.0) / n_ref
    });
    if !new.is_empty() {
        found.push(format!(
            "{} new categories the reference would have shown ({})",
            new.len(),
            new.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if !vanished.is_empty() {
        found.push(format!(
            "{} categories vanished that the window would have shown ({})",
            vanished.len(),
            vanished
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !new.is_empty() && !vanished.is_empty() {
        found.push("labels renamed or remapped: a re-encoding".into());
    }
    found
}

/// Encoding changes in the configured report.
pub fn encoding(report: &Value) -> Option<Judgement> {
    let columns = report["configured"]["columns"].as_array()?;
    let mut found = Vec::new();
    for column in columns {
        let findings = encoding_findings(column);
        if !findings.is_empty() {
            found.push(format!(
                "{}: {}",
                column["name"].as_str().unwrap_or_default(),
                findings.join(", ")
            ));
        }
    }
    for inference in report["configured"]["summary"]["inference"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if inference["kind"] == "unsupported" {
            found.push(format!(
                "{}: storage type {} cannot be compared",
                inference["column"].as_str().unwrap_or_default(),
                inference["source_type"].as_str().unwrap_or_default()
            ));
        }
    }
    Some(if found.is_empty() {
        Judgement::refuted(format!(
            "no encoding change in {} columns: no new or vanished categories, scale jumps or missing-value jumps",
            columns.len()
        ))
    } else {
        Judgement::confirmed(
            (0.6 + 0.1 * found.len() as f64).min(1.0),
            format!(
                "encoding changed: {} — version the feature transformations and check them for consistency",
                found.join("; ")
            ),
        )
    })
}

impl Judge {
    fn decide(&self, request: &JudgeRequest) -> Option<Judgement> {
        let report = of_kind(request, "drift_report");
        let history = of_kind(request, "alert_history");
        match self.cause {
            Cause::Churn => history.as_ref().and_then(churn),
            Cause::Reference => report.as_ref().and_then(reference),
            Cause::Threshold => threshold(report.as_ref(), history.as_ref()),
            Cause::Seasonality => report.as_ref().and_then(seasonality),
            Cause::Encoding => report.as_ref().and_then(encoding),
        }
    }
}

/// Runbook 3's judges by cause name.
pub fn judges() -> JudgeRegistry {
    let causes = [
        Cause::Churn,
        Cause::Reference,
        Cause::Threshold,
        Cause::Seasonality,
        Cause::Encoding,
    ];
    from_evidence(
        NAMES.into_iter().zip(causes.map(|cause| Judge { cause })),
        Judge::decide,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn column(name: &str, effect: f64, p: f64, drifted: bool) -> Value {
        json!({"name": name, "effect": effect, "p_value": p, "min_effect": 0.1, "drifted": drifted,
               "n_cur": 1000, "new_categories": [], "hints": []})
    }

    fn report(columns: Vec<Value>, same_drifted: Vec<&str>) -> Value {
        json!({
            "reference": {"rows": 20000, "age_days": 10.0, "max_age_days": 90.0, "shift": null},
            "configured": {"columns": columns, "summary": {"inference": []}},
            "same_season": {"season": "day-of-week", "drifted": same_drifted,
                            "columns": [{"name": "basket", "effect": 0.02}]},
        })
    }

    #[test]
    fn seasonal_only_differences_confirm_seasonality_and_refute_the_rest() {
        let report = report(
            vec![
                column("basket", 0.62, 1e-30, true),
                column("price", 0.01, 0.4, false),
            ],
            vec![],
        );
        let season = seasonality(&report).expect("decided");
        assert!(season.confirmed, "{}", season.explanation);
        assert!(
            season
                .explanation
                .contains("basket: effect 0.620 against the whole reference, 0.020")
        );
        assert!(!reference(&report).expect("decided").confirmed);
        assert!(!threshold(Some(&report), None).expect("decided").confirmed);
        assert!(!encoding(&report).expect("decided").confirmed);
    }

    #[test]
    fn drift_that_stays_against_the_same_season_is_not_seasonal() {
        let report = report(vec![column("basket", 0.62, 1e-30, true)], vec!["basket"]);
        assert!(!seasonality(&report).expect("decided").confirmed);
    }

    #[test]
    fn columns_the_engine_found_seasonal_count_as_seasonal() {
        let mut seasonal = column("basket", 0.34, 1e-20, false);
        seasonal["status"] = json!("seasonal");
        let report = report(vec![seasonal], vec![]);
        let verdict = seasonality(&report).expect("decided");
        assert!(verdict.confirmed, "{}", verdict.explanation);
        assert!(
            verdict
                .explanation
                .contains("basket: effect 0.340 against the whole reference, 0.020")
        );
    }

    #[test]
    fn negligible_significant_effects_mean_a_threshold_too_sensitive() {
        let noise = report(
            vec![
                column("a", 0.03, 1e-6, false),
                column("b", 0.02, 1e-4, false),
                column("c", 0.5, 0.3, false),
            ],
            vec![],
        );
        let verdict = threshold(Some(&noise), None).expect("decided");
        assert!(verdict.confirmed, "{}", verdict.explanation);
        assert!(
            verdict
                .explanation
                .contains("a (p = 1.0e-6, effect 0.030 < 0.1)")
        );
        // A real difference beside the noise: the thresholds are not what alerts.
        let mixed = report(
            vec![column("a", 0.03, 1e-6, false), column("c", 0.5, 1e-9, true)],
            vec![],
        );
        assert!(!threshold(Some(&mixed), None).expect("decided").confirmed);
        // A thresholds file set below the negligible level.
        let low = report(vec![column("a", 0.03, 1e-6, true)], vec![]);
        let verdict = threshold(Some(&low), None).expect("decided");
        assert!(verdict.confirmed && verdict.explanation.contains("below what matters"));
    }

    #[test]
    fn missed_drift_under_a_high_threshold_is_a_threshold_problem() {
        let history = json!({"backtest": {"recall": 0.33, "missed": [
            {"start": "2026-11-20T00:00:00Z", "significant_columns": [{"name": "price", "effect": 0.4, "threshold": 2.0}]}
        ]}});
        let verdict = threshold(None, Some(&history)).expect("decided");
        assert!(verdict.confirmed);
        assert!(
            verdict
                .explanation
                .contains("price effect 0.400 ≤ threshold 2.000")
        );
    }

    #[test]
    fn an_old_small_or_uncovering_reference_is_unrepresentative() {
        let mut report = report(vec![column("store", 0.2, 1e-5, true)], vec![]);
        report["reference"]["age_days"] = json!(200.0);
        report["configured"]["columns"][0]["new_categories"] =
            json!([{"value": "S9", "reference": 0, "current": 80}]);
        let verdict = reference(&report).expect("decided");
        assert!(verdict.confirmed);
        assert!(verdict.explanation.contains("200 days old"));
        assert!(verdict.explanation.contains("store (8.0% of the window"));
    }

    #[test]
    fn churn_needs_retraining_runs() {
        let none = json!({"recent_alerts": 9, "window": "1d", "retraining": {"trigger": null}});
        assert!(!churn(&none).expect("decided").confirmed);
        let runs = json!({"recent_alerts": 9, "window": "1d",
                          "retraining": {"trigger": "Airflow DAG retrain", "runs_in_window": 4}});
        let verdict = churn(&runs).expect("decided");
        assert!(verdict.confirmed && verdict.explanation.contains("ran 4 times"));
    }

    #[test]
    fn rare_categories_missing_from_a_small_window_are_sampling_not_encoding() {
        let mut report = report(vec![column("store", 0.02, 0.5, false)], vec![]);
        report["configured"]["columns"][0]["n_ref"] = json!(30000);
        // 12 of 30,000 reference rows: 0.4 expected in 1,000 window rows.
        report["configured"]["columns"][0]["vanished_categories"] =
            json!([{"value": "S77", "reference": 12, "current": 0}]);
        assert!(!encoding(&report).expect("decided").confirmed);
        // 600 of 30,000: 20 expected, none seen — and a label the reference never had.
        report["configured"]["columns"][0]["vanished_categories"] =
            json!([{"value": "S1", "reference": 600, "current": 0}]);
        report["configured"]["columns"][0]["new_categories"] =
            json!([{"value": "store-1", "reference": 0, "current": 20}]);
        let verdict = encoding(&report).expect("decided");
        assert!(
            verdict.confirmed && verdict.explanation.contains("re-encoding"),
            "{}",
            verdict.explanation
        );
    }

    #[test]
    fn scale_jumps_and_new_categories_are_encoding_changes() {
        let mut report = report(vec![column("price", 3.0, 1e-30, true)], vec![]);
        report["configured"]["columns"][0]["hints"] =
            json!(["values look multiplied by 100 (unit or encoding change?)"]);
        let verdict = encoding(&report).expect("decided");
        assert!(
            verdict.confirmed
                && verdict
                    .explanation
                    .contains("price: values look multiplied by 100")
        );
    }
}
