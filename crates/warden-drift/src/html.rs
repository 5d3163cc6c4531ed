//! The self-contained HTML report (`--format html`): a summary, the decision table, and one
//! card per column with reference-vs-current histograms (numeric) or share bars (categorical)
//! drawn as inline SVG — no scripts, no external assets, so it can be attached to an incident.

use std::fmt::Write;

use crate::report::{ColumnReport, Distribution, DriftReport, Status};

const CHART_WIDTH: f64 = 520.0;
const CHART_HEIGHT: f64 = 150.0;
const REFERENCE_COLOUR: &str = "#4c78a8";
const CURRENT_COLOUR: &str = "#f58518";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn badge(status: Status) -> &'static str {
    match status {
        Status::Drift => "<span class=\"badge drift\">DRIFT</span>",
        Status::NoDrift => "<span class=\"badge ok\">ok</span>",
        Status::Seasonal => "<span class=\"badge seasonal\">seasonal</span>",
        Status::Skipped => "<span class=\"badge skipped\">skipped</span>",
    }
}

/// Renders the report as one HTML document.
pub fn render(report: &DriftReport) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Drift report</title><style>{STYLE}</style></head><body>"
    );
    let verdict = if s.drifted {
        format!(
            "<p class=\"verdict drift\">Drift in {} of {} columns</p>",
            s.columns_drifted, s.columns_tested
        )
    } else {
        format!(
            "<p class=\"verdict ok\">No drift in {} columns</p>",
            s.columns_tested
        )
    };
    let _ = write!(
        out,
        "<h1>Drift report</h1>{verdict}<table class=\"meta\"><tr><th>reference</th><td>{}</td><td>{} rows</td></tr><tr><th>current</th><td>{}</td><td>{} rows</td></tr><tr><th>decision</th><td colspan=\"2\">significant at {} after {} and effect above the threshold; {} seasonal, {} skipped{}</td></tr></table>",
        escape(&s.reference.location),
        s.reference.rows,
        escape(&s.current.location),
        s.current.rows,
        s.alpha,
        escape(&s.correction),
        s.columns_seasonal,
        s.columns_skipped,
        s.seasonal
            .as_ref()
            .map(|x| format!("; reference restricted to the same {x}"))
            .unwrap_or_default()
    );
    let _ = write!(
        out,
        "<p class=\"legend\"><span style=\"background:{REFERENCE_COLOUR}\"></span>reference <span style=\"background:{CURRENT_COLOUR}\"></span>current</p>"
    );
    out.push_str("<table class=\"columns\"><tr><th>column</th><th>type</th><th>status</th><th>effect</th><th>threshold</th><th>adjusted p</th><th>n current</th></tr>");
    let number = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.4}"));
    for column in &report.columns {
        let _ = write!(
            out,
            "<tr><td><a href=\"#col-{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&column.name),
            escape(&column.name),
            column.kind,
            badge(column.status),
            number(column.effect),
            number(column.threshold),
            column
                .p_value_adjusted
                .map_or("–".to_string(), |p| format!("{p:.1e}")),
            column.n_cur
        );
    }
    out.push_str("</table>");
    // Drifted and seasonal columns first: they are what a reader opened the report for.
    let mut ordered: Vec<&ColumnReport> = report.columns.iter().collect();
    ordered.sort_by_key(|c| match c.status {
        Status::Drift => 0,
        Status::Seasonal => 1,
        Status::NoDrift => 2,
        Status::Skipped => 3,
    });
    out.push_str("<div class=\"cards\">");
    for column in ordered {
        card(&mut out, column);
    }
    out.push_str("</div>");
    for note in &s.notes {
        let _ = write!(out, "<p class=\"note\">{}</p>", escape(note));
    }
    out.push_str("</body></html>\n");
    out
}

fn card(out: &mut String, column: &ColumnReport) {
    let _ = write!(
        out,
        "<section class=\"card {}\" id=\"col-{}\"><h2>{} {}</h2><p class=\"reason\">{}</p>",
        match column.status {
            Status::Drift => "drift",
            Status::Seasonal => "seasonal",
            _ => "",
        },
        escape(&column.name),
        escape(&column.name),
        badge(column.status),
        escape(&column.reason)
    );
    match &column.distribution {
        Some(Distribution::Numeric {
            edges,
            reference,
            current,
            reference_tails,
            current_tails,
        }) => {
            numeric_chart(out, edges, reference, current);
            tails_note(out, *reference_tails, *current_tails);
        }
        Some(Distribution::Categorical {
            labels,
            reference,
            current,
        }) => category_chart(out, labels, reference, current),
        None => {}
    }
    let mut facts = Vec::new();
    if let Some(ks) = column.ks {
        facts.push(format!("KS {ks:.4}"));
    }
    if let Some(psi) = column.psi {
        facts.push(format!("PSI {psi:.4}"));
    }
    if let Some(statistic) = column.statistic.filter(|_| column.kind == "categorical") {
        facts.push(format!("χ² {statistic:.1}"));
    }
    facts.push(format!("n {} / {}", column.n_ref, column.n_cur));
    facts.push(format!("threshold: {}", column.threshold_source));
    let _ = write!(out, "<p class=\"facts\">{}</p>", escape(&facts.join(" · ")));
    for hint in &column.hints {
        let _ = write!(out, "<p class=\"hint\">⚠ {}</p>", escape(hint));
    }
    out.push_str("</section>");
}

fn numeric_chart(out: &mut String, edges: &[f64], reference: &[f64], current: &[f64]) {
    let bins = reference.len().max(1);
    let top = reference
        .iter()
        .chain(current)
        .copied()
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let bar = CHART_WIDTH / bins as f64;
    let y = |share: f64| CHART_HEIGHT - share / top * (CHART_HEIGHT - 8.0);
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {CHART_WIDTH} {}\" class=\"chart\" role=\"img\">",
        CHART_HEIGHT + 18.0
    );
    for (i, share) in reference.iter().enumerate() {
        let _ = write!(
            out,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{REFERENCE_COLOUR}\" fill-opacity=\"0.55\"/>",
            i as f64 * bar,
            y(*share),
            (bar - 0.5).max(0.5),
            CHART_HEIGHT - y(*share)
        );
    }
    let mut path = String::new();
    for (i, share) in current.iter().enumerate() {
        let _ = write!(
            path,
            "{}{:.1},{:.1} H{:.1} ",
            if i == 0 { "M" } else { "L" },
            i as f64 * bar,
            y(*share),
            (i + 1) as f64 * bar
        );
    }
    let _ = write!(
        out,
        "<path d=\"{path}\" fill=\"none\" stroke=\"{CURRENT_COLOUR}\" stroke-width=\"2.2\"/>"
    );
    let _ = write!(
        out,
        "<line x1=\"0\" y1=\"{CHART_HEIGHT}\" x2=\"{CHART_WIDTH}\" y2=\"{CHART_HEIGHT}\" stroke=\"#999\"/><text x=\"0\" y=\"{}\" class=\"axis\">{}</text><text x=\"{CHART_WIDTH}\" y=\"{}\" class=\"axis\" text-anchor=\"end\">{}</text></svg>",
        CHART_HEIGHT + 14.0,
        format_edge(edges.first().copied().unwrap_or(0.0)),
        CHART_HEIGHT + 14.0,
        format_edge(edges.last().copied().unwrap_or(0.0))
    );
}

/// The shares left out of the histogram at either end, said in words under the chart.
fn tails_note(out: &mut String, reference: [f64; 2], current: [f64; 2]) {
    let percent = |share: f64| format!("{:.1}%", share * 100.0);
    let _ = write!(
        out,
        "<p class=\"tails\"><span>◂ below: reference {}, current {}</span><span>above: reference {}, current {} ▸</span></p>",
        percent(reference[0]),
        percent(current[0]),
        percent(reference[1]),
        percent(current[1])
    );
}

fn format_edge(value: f64) -> String {
    if value.abs() >= 1e5 || (value != 0.0 && value.abs() < 1e-3) {
        format!("{value:.2e}")
    } else {
        format!("{value:.3}")
    }
}

fn category_chart(out: &mut String, labels: &[String], reference: &[f64], current: &[f64]) {
    let row = 18.0;
    let label_width = 130.0;
    let height = row * labels.len() as f64 + 4.0;
    let top = reference
        .iter()
        .chain(current)
        .copied()
        .fold(0.0f64, f64::max)
        .max(1e-12);
    // Room on the right for the "30.0% → 26.1%" label of the longest bar.
    let scale = (CHART_WIDTH - label_width - 110.0) / top;
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {CHART_WIDTH} {height}\" class=\"chart\" role=\"img\">"
    );
    for (i, label) in labels.iter().enumerate() {
        let y0 = i as f64 * row;
        let short: String = label.chars().take(18).collect();
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"end\">{}</text><rect x=\"{label_width}\" y=\"{:.1}\" width=\"{:.1}\" height=\"7\" fill=\"{REFERENCE_COLOUR}\"/><rect x=\"{label_width}\" y=\"{:.1}\" width=\"{:.1}\" height=\"7\" fill=\"{CURRENT_COLOUR}\"/><text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\">{:.1}% → {:.1}%</text>",
            label_width - 6.0,
            y0 + 12.0,
            escape(&short),
            y0 + 2.0,
            reference[i] * scale,
            y0 + 9.0,
            current[i] * scale,
            label_width + reference[i].max(current[i]) * scale + 6.0,
            y0 + 12.0,
            reference[i] * 100.0,
            current[i] * 100.0
        );
    }
    out.push_str("</svg>");
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1180px}\
h1{margin:0 0 8px}h2{font-size:16px;margin:0 0 4px}\
.verdict{font-size:18px;font-weight:600;margin:4px 0 12px}.verdict.drift{color:#c0392b}.verdict.ok{color:#2e7d32}\
table{border-collapse:collapse;margin:8px 0 16px}td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #eee;font-size:13px}\
table.columns td:nth-child(n+4){text-align:right;font-variant-numeric:tabular-nums}\
.badge{padding:1px 7px;border-radius:9px;font-size:12px;font-weight:600}.badge.drift{background:#fdecea;color:#c0392b}\
.badge.ok{background:#e8f5e9;color:#2e7d32}.badge.seasonal{background:#fff4e0;color:#b26a00}.badge.skipped{background:#eee;color:#666}\
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}\
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:14px}\
.card{border:1px solid #ddd;border-radius:8px;padding:10px 12px}.card.drift{border-color:#c0392b;box-shadow:0 0 0 1px #c0392b33}\
.card.seasonal{border-color:#e0a030}.reason{font-size:13px;margin:2px 0 6px;color:#444}\
.facts{font-size:12px;color:#666;margin:4px 0}.tails{display:flex;justify-content:space-between;font-size:11px;color:#888;margin:0}.hint{font-size:12px;color:#b26a00;margin:2px 0}\
.chart{width:100%;height:auto}.axis{font-size:10px;fill:#555}.note{font-size:12px;color:#666}";
