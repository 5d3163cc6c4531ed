//! A gate's series as an inline SVG chart: the values over time, the threshold as a dashed
//! line, the gate's window shaded — drawn on the server, so the page needs no chart library.

use std::fmt::Write;

use warden_engine::executor::GateSeries;

use super::html::esc;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 150.0;
const PAD: f64 = 6.0;

/// The chart, or a sentence when there is nothing to draw.
pub fn svg(series: &GateSeries) -> String {
    let points: Vec<(i64, f64)> = series
        .points
        .iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(t, v)| (t.timestamp_millis(), *v))
        .collect();
    if points.len() < 2 {
        return format!(
            "<p class=\"muted\">no data yet for <code>{}</code></p>",
            esc(&series.label)
        );
    }
    let (t0, t1) = (points[0].0, points[points.len() - 1].0.max(points[0].0 + 1));
    let mut low = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let mut high = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    if let Some(threshold) = series.threshold {
        low = low.min(threshold);
        high = high.max(threshold);
    }
    if (high - low).abs() < f64::EPSILON {
        high = low + 1.0;
    }
    let x = |t: i64| PAD + (WIDTH - 2.0 * PAD) * (t - t0) as f64 / (t1 - t0) as f64;
    let y = |v: f64| HEIGHT - PAD - (HEIGHT - 2.0 * PAD) * (v - low) / (high - low);
    let mut out = format!(
        "<figure class=\"chart\"><svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">",
        esc(&series.label)
    );
    let (w0, w1) = (
        series.window.0.timestamp_millis().clamp(t0, t1),
        series.window.1.timestamp_millis().clamp(t0, t1),
    );
    if w1 > w0 {
        let _ = write!(
            out,
            "<rect class=\"window\" x=\"{:.1}\" y=\"0\" width=\"{:.1}\" height=\"{HEIGHT}\"><title>the gate's window</title></rect>",
            x(w0),
            x(w1) - x(w0)
        );
    }
    if let Some(threshold) = series.threshold {
        let _ = write!(
            out,
            "<line class=\"threshold\" x1=\"{PAD}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"><title>threshold {threshold}</title></line>",
            WIDTH - PAD,
            y(threshold),
            y(threshold)
        );
    }
    let line: Vec<String> = points
        .iter()
        .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
        .collect();
    let _ = write!(
        out,
        "<polyline class=\"series\" points=\"{}\"/></svg><figcaption>{} · last {:.4}{}</figcaption></figure>",
        line.join(" "),
        esc(&series.label),
        points[points.len() - 1].1,
        series.threshold.map_or(String::new(), |t| format!(
            " · must stay {} {t} in the shaded window",
            if series.below { "below" } else { "above" }
        ))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_draws_the_series_the_threshold_and_the_window() {
        let at = |m: i64| {
            chrono::DateTime::from_timestamp(1_790_000_000 + m * 60, 0).unwrap_or_default()
        };
        let series = GateSeries {
            label: "p95 <ms>".into(),
            points: (0..10).map(|m| (at(m), 100.0 + m as f64 * 20.0)).collect(),
            threshold: Some(200.0),
            below: true,
            window: (at(5), at(9)),
        };
        let drawn = svg(&series);
        assert!(drawn.contains("<polyline class=\"series\""));
        assert!(drawn.contains("<line class=\"threshold\"") && drawn.contains("threshold 200"));
        assert!(drawn.contains("<rect class=\"window\""));
        assert!(drawn.contains("p95 &lt;ms&gt;") && drawn.contains("must stay below 200"));
        let empty = GateSeries {
            points: vec![],
            ..series
        };
        assert!(svg_is_sentence(&svg(&empty)));
    }

    fn svg_is_sentence(html: &str) -> bool {
        html.starts_with("<p class=\"muted\">no data yet")
    }
}
