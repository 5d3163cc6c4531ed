//! Reading real files: Parquet written by Arrow, CSV and JSON lines with inferred types,
//! date-partitioned directories, and every kind of bad input named precisely.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use warden_data::write::write_parquet;
use warden_data::{Column, ColumnKind, ColumnValues, DataError, Dataset, S3Settings};

fn sample_columns(offset: f64) -> Vec<Column> {
    vec![
        Column {
            name: "amount".into(),
            values: ColumnValues::Numeric(vec![1.0 + offset, f64::NAN, 3.0 + offset]),
        },
        Column {
            name: "region".into(),
            values: ColumnValues::Categorical {
                codes: vec![0, 1, 0],
                levels: vec!["north".into(), "south".into()],
            },
        },
        Column {
            name: "ts".into(),
            values: ColumnValues::Timestamp(vec![0, 86_400_000, 172_800_000]),
        },
    ]
}

fn write_partitions(root: &Path) {
    for (day, offset) in [("2026-11-23", 0.0), ("2026-11-24", 10.0)] {
        std::fs::create_dir_all(root.join(day)).unwrap();
        write_parquet(
            &root.join(day).join("part-0.parquet"),
            &sample_columns(offset),
        )
        .unwrap();
    }
}

#[test]
fn parquet_partitions_read_back_row_aligned() {
    let root = tempfile::tempdir().unwrap();
    write_partitions(root.path());
    let dataset = Dataset::open(root.path().to_str().unwrap()).unwrap();
    assert_eq!(dataset.rows(), 6);
    assert_eq!(dataset.files().len(), 2);
    let kinds: Vec<_> = dataset
        .fields()
        .iter()
        .map(|f| (f.name.as_str(), f.kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("amount", Some(ColumnKind::Numeric)),
            ("region", Some(ColumnKind::Categorical)),
            ("ts", Some(ColumnKind::Timestamp))
        ]
    );
    let amount = dataset.read_column("amount", ColumnKind::Numeric).unwrap();
    let ColumnValues::Numeric(values) = &amount.values else {
        panic!("numeric")
    };
    assert_eq!(values[0], 1.0);
    assert!(values[1].is_nan());
    assert_eq!(values[5], 13.0);
    let region = dataset
        .read_column("region", ColumnKind::Categorical)
        .unwrap();
    let ColumnValues::Categorical { codes, levels } = &region.values else {
        panic!("categorical")
    };
    assert_eq!(levels, &vec!["north".to_string(), "south".to_string()]);
    assert_eq!(codes, &vec![0, 1, 0, 0, 1, 0]);
    let ts = dataset.read_column("ts", ColumnKind::Timestamp).unwrap();
    assert_eq!(
        ts.values,
        ColumnValues::Timestamp(vec![0, 86_400_000, 172_800_000, 0, 86_400_000, 172_800_000])
    );
}

#[test]
fn csv_and_json_lines_infer_types_and_parse_times() {
    let root = tempfile::tempdir().unwrap();
    let csv = root.path().join("logs.csv");
    std::fs::write(&csv, "ts,store_id,prediction,model_version\n2026-11-24T10:00:00Z,7,12.5,v1\n2026-11-24T11:00:00Z,8,,v2\n")
        .unwrap();
    let dataset = Dataset::open(csv.to_str().unwrap()).unwrap();
    let field = |name: &str| dataset.field(name).unwrap().kind;
    assert_eq!(field("prediction"), Some(ColumnKind::Numeric));
    assert_eq!(field("model_version"), Some(ColumnKind::Categorical));
    assert_eq!(field("ts"), Some(ColumnKind::Timestamp));
    // An integer id read as categorical on request (the --categorical override).
    let stores = dataset
        .read_column("store_id", ColumnKind::Categorical)
        .unwrap();
    assert_eq!(
        stores.values,
        ColumnValues::Categorical {
            codes: vec![0, 1],
            levels: vec!["7".into(), "8".into()]
        }
    );

    let jsonl = root.path().join("logs.jsonl");
    std::fs::write(&jsonl, "{\"ts\": \"2026-11-24T10:00:00Z\", \"y\": 1.5}\n{\"ts\": \"2026-11-24 12:00:00\", \"y\": 2}\n")
        .unwrap();
    let dataset = Dataset::open(jsonl.to_str().unwrap()).unwrap();
    assert_eq!(dataset.rows(), 2);
    let ts = dataset.read_column("ts", ColumnKind::Timestamp).unwrap();
    let ColumnValues::Timestamp(values) = ts.values else {
        panic!("timestamps")
    };
    assert_eq!(values[1] - values[0], 2 * 3_600_000);
}

/// A log part written before any row arrived (a header only) still names its columns, alone
/// or before parts with rows: reading it is not "no column".
#[test]
fn a_header_only_csv_part_keeps_its_columns() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("part-0.csv"), "store_id,actual\n").unwrap();
    let alone = Dataset::open(root.path().to_str().unwrap()).unwrap();
    assert_eq!(alone.rows(), 0);
    assert!(alone.field("actual").is_ok(), "the header's columns");
    std::fs::write(root.path().join("part-1.csv"), "store_id,actual\n7,12.5\n").unwrap();
    let both = Dataset::open(root.path().to_str().unwrap()).unwrap();
    assert_eq!(both.rows(), 1);
    assert_eq!(
        both.field("actual").unwrap().kind,
        Some(ColumnKind::Numeric)
    );
    let actual = both.read_column("actual", ColumnKind::Numeric).unwrap();
    assert_eq!(actual.values, ColumnValues::Numeric(vec![12.5]));
}

#[test]
fn corrupt_parquet_names_the_file() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("broken.parquet");
    std::fs::write(&path, b"PAR1 this is not really parquet").unwrap();
    let error = Dataset::open(path.to_str().unwrap()).unwrap_err();
    assert!(matches!(error, DataError::Corrupt { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("broken.parquet") && message.contains("not a valid Parquet file"),
        "{message}"
    );
}

#[test]
fn a_missing_column_lists_the_columns_that_exist() {
    let root = tempfile::tempdir().unwrap();
    write_partitions(root.path());
    let dataset = Dataset::open(root.path().to_str().unwrap()).unwrap();
    let message = dataset
        .read_column("price", ColumnKind::Numeric)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("no column `price`") && message.contains("amount, region, ts"),
        "{message}"
    );
}

#[test]
fn text_that_is_not_numeric_is_a_named_error() {
    let root = tempfile::tempdir().unwrap();
    let csv = root.path().join("mixed.csv");
    std::fs::write(&csv, "amount\nabc\n").unwrap();
    let dataset = Dataset::open(csv.to_str().unwrap()).unwrap();
    let message = dataset
        .read_column("amount", ColumnKind::Numeric)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("mixed.csv")
            && message.contains("`amount`")
            && message.contains("not numeric"),
        "{message}"
    );
}

#[test]
fn files_disagreeing_on_a_type_are_named() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("a.csv"), "x\n1\n2\n").unwrap();
    std::fs::write(root.path().join("b.csv"), "x\nred\nblue\n").unwrap();
    let message = Dataset::open(root.path().to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("a.csv") && message.contains("b.csv") && message.contains("`x`"),
        "{message}"
    );
}

#[test]
fn a_glob_selects_files() {
    let root = tempfile::tempdir().unwrap();
    write_partitions(root.path());
    let pattern = format!("{}/2026-11-24/*.parquet", root.path().display());
    let dataset = Dataset::open(&pattern).unwrap();
    assert_eq!(dataset.files().len(), 1);
    assert_eq!(dataset.rows(), 3);
}

fn moto_settings(url: &str) -> S3Settings {
    S3Settings {
        endpoint: Some(url.to_string()),
        region: Some("us-east-1".into()),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_prefixes_read_like_directories() {
    let Some(url) = warden_testkit::stack::require("S3_URL") else {
        return;
    };
    let bucket = format!("warden-data-{}", std::process::id());
    let client = reqwest::Client::new();
    let created = client.put(format!("{url}/{bucket}")).send().await.unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    let root = tempfile::tempdir().unwrap();
    write_partitions(root.path());
    for day in ["2026-11-23", "2026-11-24"] {
        let body = std::fs::read(root.path().join(day).join("part-0.parquet")).unwrap();
        let put = client
            .put(format!("{url}/{bucket}/logs/{day}/part-0.parquet"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "{}", put.status());
    }
    let settings = moto_settings(&url);
    let location = format!("s3://{bucket}/logs/");
    let dataset = tokio::task::spawn_blocking(move || Dataset::open_with(&location, &settings))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dataset.rows(), 6);
    assert_eq!(
        dataset.files()[1].display,
        format!("s3://{bucket}/logs/2026-11-24/part-0.parquet")
    );
    let amount = dataset.read_column("amount", ColumnKind::Numeric).unwrap();
    assert_eq!(amount.len(), 6);

    // A key naming one object reads that object.
    let settings = moto_settings(&url);
    let location = format!("s3://{bucket}/logs/2026-11-23/part-0.parquet");
    let dataset = tokio::task::spawn_blocking(move || Dataset::open_with(&location, &settings))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dataset.rows(), 3);

    let settings = moto_settings(&url);
    let missing = "s3://no-such-bucket-warden/logs/".to_string();
    let error = tokio::task::spawn_blocking(move || Dataset::open_with(&missing, &settings))
        .await
        .unwrap()
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("s3://no-such-bucket-warden/logs/"),
        "{message}"
    );
}

/// The pipeline runbook's artifact-storage check on the real S3 stand-in: a bucket that exists
/// lists, one that does not is named as missing, an endpoint nobody listens on is unreachable.
#[tokio::test(flavor = "multi_thread")]
async fn the_artifact_storage_probe_names_each_failure() {
    let Some(url) = warden_testkit::stack::require("S3_URL") else {
        return;
    };
    let bucket = format!("warden-probe-{}", std::process::id());
    let client = reqwest::Client::new();
    assert!(
        client
            .put(format!("{url}/{bucket}"))
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    for key in ["artifacts/a.bin", "artifacts/b.bin"] {
        let put = client
            .put(format!("{url}/{bucket}/{key}"))
            .body("x")
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success());
    }
    let timeout = std::time::Duration::from_secs(5);
    let (settings, target) = (moto_settings(&url), format!("s3://{bucket}/artifacts/"));
    let found =
        tokio::task::spawn_blocking(move || warden_data::probe_s3(&target, &settings, timeout, 10))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(found, 2);
    let (settings, missing) = (
        moto_settings(&url),
        "s3://no-such-bucket-here/artifacts/".to_string(),
    );
    let error = tokio::task::spawn_blocking(move || {
        warden_data::probe_s3(&missing, &settings, timeout, 10)
    })
    .await
    .unwrap()
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("s3://no-such-bucket-here/artifacts/") && error.contains("no such bucket"),
        "{error}"
    );
    let dead = moto_settings("http://127.0.0.1:9");
    let error =
        tokio::task::spawn_blocking(move || warden_data::probe_s3("s3://x/y", &dead, timeout, 10))
            .await
            .unwrap()
            .unwrap_err()
            .to_string();
    assert!(error.starts_with("s3://x/y: "), "{error}");
}
