//! Drift monitor data for the daemon tests: a four-week reference and 34 days of prediction
//! logs (Parquet) from the seeded generator, real drift on days 16–18 only, and the labels
//! that say so.

#![allow(clippy::unwrap_used, dead_code)]

use std::path::{Path, PathBuf};

use warden_data::write::write_parquet;
use warden_drift::synthetic::{Scenario, days, generate};

const ROWS_PER_DAY: usize = 1_200;

/// Monday 00:00 UTC at least 34 days ago: 34 days of logs end on a Saturday before today.
fn monday_34_days_ago() -> i64 {
    let now = chrono::Utc::now().timestamp_millis() - days(34);
    let day = now.div_euclid(days(1));
    // 1970-01-01 was a Thursday: day 0 is weekday 3 counting from Monday.
    let weekday = (day + 3).rem_euclid(7);
    (day - weekday) * days(1)
}

fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

/// The reference (4 weeks), the logs (34 days; drift on days 16–18 only) and their labels.
/// Returns the parquet files to place: `(name, path)`.
pub fn write_data(dir: &Path, weekend_effect: bool) -> Vec<(String, PathBuf)> {
    let start = monday_34_days_ago();
    let quiet = Scenario {
        weekend_effect,
        ..Scenario::default()
    };
    let drifted = Scenario {
        drift: true,
        ..quiet
    };
    let rows = |n: i64| ROWS_PER_DAY * n as usize;
    let files = [
        (
            "reference.parquet",
            generate(rows(28), 11, start - days(28), days(28), quiet),
        ),
        (
            "logs/part-0.parquet",
            generate(rows(16), 12, start, days(16), quiet),
        ),
        (
            "logs/part-1.parquet",
            generate(rows(3), 13, start + days(16), days(3), drifted),
        ),
        (
            "logs/part-2.parquet",
            generate(rows(15), 14, start + days(19), days(15), quiet),
        ),
    ];
    let mut written = Vec::new();
    for (name, columns) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_parquet(&path, &columns).unwrap();
        written.push((name.to_string(), path));
    }
    std::fs::write(
        dir.join("labels.csv"),
        format!(
            "start,end,label\n{},{},no_drift\n{},{},drift\n{},{},no_drift\n",
            date(start),
            date(start + days(15)),
            date(start + days(16)),
            date(start + days(18)),
            date(start + days(19)),
            date(start + days(33)),
        ),
    )
    .unwrap();
    written
}

/// An Airflow DAG that stands for retraining: unpaused when created, one task that succeeds.
pub const RETRAIN_DAG: &str = r#"
from datetime import datetime

from airflow.sdk import dag, task


@dag(dag_id="DAG_ID", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     is_paused_upon_creation=False, tags=["warden-test"])
def retrain():
    @task
    def fit():
        return "retrained"

    fit()


retrain()
"#;
