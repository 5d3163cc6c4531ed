//! Writes generated prediction logs and actuals for `scripts/bench.sh model-quality`:
//! `model_logs ROWS DIR` → `DIR/logs/part-NNN.parquet` and `DIR/actuals/part-NNN.parquet`,
//! 100 daily predictions per series, versions 1 (first half of the days) and 2 (second half,
//! errors a third larger), written ten days per file so memory stays flat.

use std::path::Path;

use warden_data::write::write_parquet;
use warden_eval::synthetic::{LogSpec, generate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rows: usize = args.next().ok_or("usage: model_logs ROWS DIR")?.parse()?;
    let dir = args.next().ok_or("usage: model_logs ROWS DIR")?;
    let days = 100;
    let spec = LogSpec {
        series: (rows / days as usize).max(1),
        days,
        start_ms: 1_788_220_800_000, // 2026-09-01
        versions: vec![("1".into(), 3.0), ("2".into(), 4.0)],
        seed: 2026,
    };
    for sub in ["logs", "actuals"] {
        std::fs::create_dir_all(Path::new(&dir).join(sub))?;
    }
    for (part, first) in (0..days).step_by(10).enumerate() {
        let logs = generate(&spec, first, 10.min(days - first));
        write_parquet(
            &Path::new(&dir).join(format!("logs/part-{part:03}.parquet")),
            &logs.predictions,
        )?;
        write_parquet(
            &Path::new(&dir).join(format!("actuals/part-{part:03}.parquet")),
            &logs.actuals,
        )?;
        eprintln!("wrote days {first}..{}", first + 10);
    }
    Ok(())
}
