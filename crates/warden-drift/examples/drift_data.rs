//! Writes the benchmark data set of `scripts/bench.sh drift`: a reference and a current
//! Parquet file of N rows each (20 numeric + 5 categorical columns, the three DRIFT.md drifts
//! in the current one), generated in slices so memory stays bounded at 10M rows.
//!
//! `cargo run --release -p warden-drift --example drift_data -- ROWS OUT_DIR`

use std::path::PathBuf;

use warden_data::write::write_parquet;
use warden_drift::synthetic::{Scenario, days, generate};

/// Monday 2026-10-26 00:00 UTC.
const MONDAY: i64 = 1_792_972_800_000;
const SLICE_ROWS: usize = 1_000_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rows: usize = args
        .next()
        .ok_or("usage: drift_data ROWS OUT_DIR")?
        .parse()?;
    let out = PathBuf::from(args.next().ok_or("usage: drift_data ROWS OUT_DIR")?);
    for (name, seed, scenario) in [
        ("reference", 1u64, Scenario::default()),
        (
            "current",
            2u64,
            Scenario {
                drift: true,
                ..Default::default()
            },
        ),
    ] {
        let dir = out.join(name);
        std::fs::create_dir_all(&dir)?;
        let slices = rows.div_ceil(SLICE_ROWS);
        for slice in 0..slices {
            let slice_rows = SLICE_ROWS.min(rows - slice * SLICE_ROWS);
            let span = days(28) / slices as i64;
            let columns = generate(
                slice_rows,
                seed * 1000 + slice as u64,
                MONDAY + span * slice as i64,
                span,
                scenario,
            );
            write_parquet(&dir.join(format!("part-{slice:03}.parquet")), &columns)?;
        }
        println!("{}: {rows} rows in {slices} files", dir.display());
    }
    Ok(())
}
