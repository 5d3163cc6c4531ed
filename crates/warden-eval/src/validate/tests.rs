//! Validation and parity on small files whose faults are known.

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> Dataset {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    Dataset::open(path.to_str().expect("utf-8")).expect("open")
}

const DAY: i64 = 86_400_000;

#[test]
fn a_schema_file_catches_each_kind_of_fault() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = write(
        dir.path(),
        "actuals.csv",
        "store_id,date,region,units,ts\n1,2026-11-01,north,10,2026-11-01T00:00:00Z\n1,2026-11-01,west,-3,2026-11-01T00:00:00Z\n2,2026-11-01,south,,2026-11-02T00:00:00Z\n",
    );
    let schema_path = dir.path().join("schema.yaml");
    std::fs::write(
        &schema_path,
        "keys: [store_id, date]\ncolumns:\n  units: { type: numeric, min: 0, max_null_rate: 0 }\n  region: { categories: [north, south] }\n  ts: { type: timestamp, max_age: 1d }\n  price: {}\n",
    )
    .expect("write");
    let schema = Schema::from_file(&schema_path).expect("schema");
    let now = 1_793_577_600_000 + 3 * DAY; // 2026-11-02 + 3 days, near enough
    let v = validate(&data, &schema, now).expect("validates");
    assert!(!v.ok);
    let failed: Vec<(&str, Option<&str>)> = v
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| (c.check, c.column.as_deref()))
        .collect();
    for expected in [
        ("column", Some("price")),
        ("nulls", Some("units")),
        ("range", Some("units")),
        ("categories", Some("region")),
        ("freshness", Some("ts")),
        ("duplicate_keys", Some("store_id,date")),
    ] {
        assert!(failed.contains(&expected), "{expected:?} not in {failed:?}");
    }
    let range = v.checks.iter().find(|c| c.check == "range").expect("range");
    assert!(range.detail.contains("-3"), "{}", range.detail);
}

#[test]
fn data_like_its_reference_passes_and_a_shifted_encoding_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reference = write(
        dir.path(),
        "ref.csv",
        "id,price,channel\n1,10.5,web\n2,12.0,store\n3,9.0,web\n",
    );
    let same = write(
        dir.path(),
        "same.csv",
        "id,price,channel\n4,11.0,store\n5,10.0,web\n",
    );
    let schema = Schema::learn(&reference, &["id".into()], &[]).expect("learns");
    assert!(validate(&same, &schema, 0).expect("runs").ok);
    // Prices in cents and an upper-cased channel: an encoding change.
    let shifted = write(
        dir.path(),
        "shifted.csv",
        "id,price,channel\n4,1100,STORE\n5,1000,WEB\n",
    );
    let v = validate(&shifted, &schema, 0).expect("runs");
    let failed: Vec<&str> = v.checks.iter().filter(|c| !c.ok).map(|c| c.check).collect();
    assert_eq!(failed, ["categories", "range"], "{v:?}");
}

#[test]
fn a_learnt_range_admits_clean_data_just_past_the_references_extremes() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Prices 9.0 to 12.0 in the reference: a span of 3, so 0.3 of margin each side.
    let reference = write(
        dir.path(),
        "ref.csv",
        "id,price,units\n1,10.5,0\n2,12.0,4\n3,9.0,2\n",
    );
    let schema = Schema::learn(&reference, &["id".into()], &[]).expect("learns");
    let clean = write(
        dir.path(),
        "clean.csv",
        "id,price,units\n4,12.2,0\n5,8.8,4\n",
    );
    let v = validate(&clean, &schema, 0).expect("runs");
    assert!(v.ok, "clean data just past the sample's extremes: {v:?}");
    let units = &schema.columns["units"];
    assert_eq!(units.min, Some(0.0), "a count never below zero stays so");
    let far = write(dir.path(), "far.csv", "id,price,units\n6,12.5,1\n");
    let v = validate(&far, &schema, 0).expect("runs");
    assert!(!v.ok, "well past the margin still fails: {v:?}");
}

#[test]
fn parity_finds_the_feature_encoded_differently_for_the_same_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let training = write(
        dir.path(),
        "train.csv",
        "store_id,date,price,promo\n1,2026-11-01,10.0,yes\n2,2026-11-01,12.0,no\n3,2026-11-01,8.0,no\n",
    );
    let serving = write(
        dir.path(),
        "serve.csv",
        "date,store_id,price,promo\n2026-11-01,2,12.0000001,no\n2026-11-01,1,10.0,1\n2026-11-02,9,1.0,no\n",
    );
    let keys = vec!["store_id".to_string(), "date".to_string()];
    let p = parity(&training, &serving, &keys, &[], 1e-6, 0.0).expect("runs");
    assert!(!p.ok);
    assert_eq!(p.matched_keys, 2);
    assert_eq!(p.training_only, 1);
    let price = p
        .features
        .iter()
        .find(|f| f.feature == "price")
        .expect("price");
    assert_eq!(price.mismatches, 0, "{price:?}");
    let promo = p
        .features
        .iter()
        .find(|f| f.feature == "promo")
        .expect("promo");
    assert_eq!(promo.mismatches, 1);
    assert_eq!(promo.examples, ["store_id=1,date=2026-11-01: yes vs 1"]);
}

#[test]
fn parity_without_a_shared_key_is_an_error_not_a_skew() {
    let dir = tempfile::tempdir().expect("tempdir");
    let training = write(dir.path(), "train.csv", "id,price\n1,10\n");
    let serving = write(dir.path(), "serve.csv", "id,price\n2,10\n");
    let error = parity(&training, &serving, &["id".into()], &[], 1e-6, 0.0)
        .expect_err("nothing in common")
        .to_string();
    assert!(
        error.contains("train.csv") && error.contains("serve.csv"),
        "{error}"
    );
}
