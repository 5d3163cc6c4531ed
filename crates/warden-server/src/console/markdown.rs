//! The Markdown Warden writes (post-mortems, decision records) as HTML: headings, paragraphs,
//! pipe tables, lists with check boxes, `code`, **bold** and _emphasis_. Everything is escaped
//! first; only these constructs become tags, so a label inside a table cell stays text.

use super::html::esc;

/// Inline markup of already-escaped text.
fn inline(text: &str) -> String {
    let escaped = esc(text);
    let mut out = String::with_capacity(escaped.len());
    let mut code = false;
    let mut bold = false;
    let mut chars = escaped.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' => {
                out.push_str(if code { "</code>" } else { "<code>" });
                code = !code;
            }
            '*' if !code && chars.peek() == Some(&'*') => {
                chars.next();
                out.push_str(if bold { "</strong>" } else { "<strong>" });
                bold = !bold;
            }
            c => out.push(c),
        }
    }
    if code {
        out.push_str("</code>");
    }
    if bold {
        out.push_str("</strong>");
    }
    out
}

/// A table row's cells (`| a | b \| c |`).
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = Vec::new();
    let mut current = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                current.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut current).trim().to_string()),
            c => current.push(c),
        }
    }
    cells.push(current.trim().to_string());
    cells
}

/// `markdown` as HTML.
pub fn render(markdown: &str) -> String {
    let mut out = String::new();
    let lines: Vec<&str> = markdown.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        if trimmed.is_empty() {
            i += 1;
        } else if let Some(level) =
            (1..=4).find(|n| trimmed.starts_with(&format!("{} ", "#".repeat(*n))))
        {
            out.push_str(&format!(
                "<h{level}>{}</h{level}>",
                inline(trimmed[level + 1..].trim())
            ));
            i += 1;
        } else if trimmed.starts_with('|') {
            out.push_str("<div class=\"scroll\"><table>");
            let mut first = true;
            while i < lines.len() && lines[i].trim().starts_with('|') {
                let row = lines[i];
                let is_rule = cells(row)
                    .iter()
                    .all(|c| !c.is_empty() && c.chars().all(|ch| ch == '-' || ch == ':'));
                if !is_rule {
                    let tag = if first { "th" } else { "td" };
                    out.push_str("<tr>");
                    for cell in cells(row) {
                        out.push_str(&format!("<{tag}>{}</{tag}>", inline(&cell)));
                    }
                    out.push_str("</tr>");
                    first = false;
                }
                i += 1;
            }
            out.push_str("</table></div>");
        } else if trimmed.starts_with("- ") || trimmed.starts_with("* ") {
            out.push_str("<ul>");
            while i < lines.len() {
                let item = lines[i].trim_start();
                let Some(text) = item.strip_prefix("- ").or_else(|| item.strip_prefix("* ")) else {
                    break;
                };
                let nested = lines[i].starts_with("  ");
                let class = if nested { " class=\"nested\"" } else { "" };
                let (mark, text) = if let Some(rest) = text.strip_prefix("[x] ") {
                    ("<span class=\"check done\">✓</span> ", rest)
                } else if let Some(rest) = text.strip_prefix("[-] ") {
                    ("<span class=\"check skipped\">–</span> ", rest)
                } else if let Some(rest) = text.strip_prefix("[ ] ") {
                    ("<span class=\"check open\">○</span> ", rest)
                } else {
                    ("", text)
                };
                out.push_str(&format!("<li{class}>{mark}{}</li>", inline(text)));
                i += 1;
            }
            out.push_str("</ul>");
        } else {
            let mut paragraph = Vec::new();
            while i < lines.len() {
                let t = lines[i].trim();
                if t.is_empty() || t.starts_with('#') || t.starts_with('|') || t.starts_with("- ") {
                    break;
                }
                paragraph.push(t);
                i += 1;
            }
            out.push_str(&format!("<p>{}</p>", inline(&paragraph.join(" "))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_lists_and_headings_render_and_text_stays_text() {
        let html = render(
            "# Post-mortem: INC-1 — <b>x</b>\n\n| a | b |\n|---|---|\n| `c` | d \\| e |\n\n- [x] done **now**\n  - approved by ana\n- [ ] open\n\nplain <script>\n",
        );
        assert!(
            html.contains("<h1>Post-mortem: INC-1 — &lt;b&gt;x&lt;/b&gt;</h1>"),
            "{html}"
        );
        assert!(
            html.contains(
                "<tr><th>a</th><th>b</th></tr><tr><td><code>c</code></td><td>d | e</td></tr>"
            ),
            "{html}"
        );
        assert!(
            html.contains("<li><span class=\"check done\">✓</span> done <strong>now</strong></li>"),
            "{html}"
        );
        assert!(
            html.contains("<li class=\"nested\">approved by ana</li>"),
            "{html}"
        );
        assert!(html.contains("<p>plain &lt;script&gt;</p>"), "{html}");
        assert!(!html.contains("<script>"));
    }
}
