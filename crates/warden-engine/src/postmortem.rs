//! The post-mortem draft (R6.5): Markdown a responder only has to edit — summary, impact,
//! timeline, evidence, cause analysis, the runbook checklist with each step's state, action
//! items and the audit log, all from what Warden recorded.

use std::fmt::Write;

use warden_core::{
    ActionRecord, ActionStatus, Approval, AuditEntry, Incident, TimelineEvent, TimelineKind,
    Timestamp,
};
use warden_runbook::{Phase, Runbook, StepKind};

use crate::impact::Impact;

/// Everything the draft is written from.
#[derive(Debug, Clone, Copy)]
pub struct PostmortemInput<'a> {
    /// The incident.
    pub incident: &'a Incident,
    /// Its runbook, if it is still in effect.
    pub runbook: Option<&'a Runbook>,
    /// Its action records.
    pub actions: &'a [ActionRecord],
    /// Its approvals and rejections.
    pub approvals: &'a [Approval],
    /// Its audit log.
    pub audit: &'a [AuditEntry],
    /// When the draft is written (for the header and an open incident's duration).
    pub now: Timestamp,
    /// Its ML impact, as the runbook's estimators measured it.
    pub impact: &'a Impact,
}

/// The ML-impact part of the Impact section: a table of figures with their sources, what could
/// not be measured, or why nothing was.
fn write_impact(out: &mut String, impact: &Impact) {
    if !impact.estimated {
        let _ = writeln!(
            out,
            "- ML impact: _not measured: no source for it is configured for this runbook's systems (prediction logs, metrics or run history); fill in from the prediction logs._\n"
        );
        return;
    }
    if impact.figures.is_empty() && impact.problems.is_empty() {
        let _ = writeln!(
            out,
            "- ML impact: _nothing measurable for this target in the configured sources._\n"
        );
        return;
    }
    let _ = writeln!(out, "- ML impact, measured by Warden:\n");
    if !impact.figures.is_empty() {
        let _ = writeln!(out, "| what | value | source |\n|---|---|---|");
        for figure in &impact.figures {
            let _ = writeln!(
                out,
                "| {} | {} | `{}` |",
                cell(&figure.what),
                cell(&figure.value),
                cell(&figure.source).replace('`', "'")
            );
        }
        out.push('\n');
    }
    for problem in &impact.problems {
        let _ = writeln!(out, "- Not measured: {}", one_line(problem));
    }
    if !impact.problems.is_empty() {
        out.push('\n');
    }
}

fn time(at: &Timestamp) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn minutes(from: Timestamp, to: Timestamp) -> i64 {
    (to - from).num_minutes()
}

/// Cells must not break the table: pipes escaped, newlines folded.
/// Outside text on one line: line breaks become spaces and every other control character a
/// visible escape, so no alert can forge a line or a heading of the draft, nor reach a
/// terminal that prints it.
fn one_line(text: &str) -> String {
    warden_core::text::terminal_safe(&text.replace('\n', " ")).into_owned()
}

fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

/// Runs of at least this many findings from one detector, one after another, are shown as
/// their first and a summary row.
const FOLDED_RUN: usize = 3;

/// The timeline's rows (time, who, what). A detector that keeps finding the same problem
/// every few minutes attaches a finding each time; a run of them is shown as its first and
/// one row at the last's time that counts the rest and quotes the last, so the actions
/// stay readable between them (the store, and `incidents show`, keep every one).
fn timeline_rows(timeline: &[TimelineEvent]) -> Vec<(Timestamp, String, String)> {
    let attached = |event: &TimelineEvent| match &event.kind {
        TimelineKind::FindingAttached { detector } => Some(detector.clone()),
        _ => None,
    };
    let mut rows = Vec::new();
    let mut index = 0;
    while index < timeline.len() {
        let event = &timeline[index];
        if let Some(detector) = attached(event) {
            let run = timeline[index..]
                .iter()
                .take_while(|next| attached(next).as_ref() == Some(&detector))
                .count();
            if run >= FOLDED_RUN {
                let last = &timeline[index + run - 1];
                rows.push((
                    event.at,
                    event.actor.name().to_string(),
                    event.message.clone(),
                ));
                rows.push((
                    last.at,
                    last.actor.name().to_string(),
                    format!(
                        "… {} more findings from {detector} since {}; the last: {}",
                        run - 1,
                        event.at.format("%H:%M"),
                        last.message
                    ),
                ));
                index += run;
                continue;
            }
        }
        let what = match &event.kind {
            TimelineKind::StateChanged { from, to } => format!("{from} → {to}: {}", event.message),
            TimelineKind::EvidenceCaptured { hash, .. } => {
                format!("{} (`{}`)", event.message, &hash.as_str()[..12])
            }
            TimelineKind::Reopened { count } => format!("reopened (#{count}): {}", event.message),
            _ => event.message.clone(),
        };
        rows.push((event.at, event.actor.name().to_string(), what));
        index += 1;
    }
    rows
}

/// Reads the incident's actions, approvals and audit log from `store` and renders the draft.
///
/// # Errors
/// Store failures.
pub async fn draft<S: warden_store::IncidentStore>(
    store: &S,
    incident: &Incident,
    runbook: Option<&Runbook>,
    impact: &Impact,
    now: Timestamp,
) -> Result<String, warden_store::StoreError> {
    let actions = store.actions_for(&incident.id).await?;
    let approvals = store.approvals_for(&incident.id).await?;
    let audit = store.audit_for(&incident.id).await?;
    Ok(render(&PostmortemInput {
        incident,
        runbook,
        actions: &actions,
        approvals: &approvals,
        audit: &audit,
        now,
        impact,
    }))
}

/// Renders the draft.
pub fn render(input: &PostmortemInput<'_>) -> String {
    let incident = input.incident;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Post-mortem: {} — {}\n",
        incident.id,
        one_line(&incident.title)
    );
    let _ = writeln!(
        out,
        "_Draft written by Warden at {}. Edit freely._\n",
        time(&input.now)
    );
    let runbook_title = input
        .runbook
        .map(|runbook| runbook.title.as_str())
        .unwrap_or("(runbook no longer in effect)");
    let end = incident.resolved_at.unwrap_or(input.now);
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(
        out,
        "| Runbook | `{}` — {} |",
        incident.runbook, runbook_title
    );
    let _ = writeln!(out, "| Target | `{}` |", incident.target);
    let _ = writeln!(out, "| Severity | {} |", incident.severity);
    let _ = writeln!(out, "| State | {} |", incident.state);
    let _ = writeln!(out, "| Opened | {} |", time(&incident.opened_at));
    match incident.resolved_at {
        Some(resolved) => {
            let _ = writeln!(
                out,
                "| Resolved | {} ({} min after opening) |",
                time(&resolved),
                minutes(incident.opened_at, resolved)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "| Resolved | not yet ({} min open) |",
                minutes(incident.opened_at, input.now)
            );
        }
    }
    let _ = writeln!(
        out,
        "| Findings | {} (reopened {} times) |\n",
        incident.finding_count, incident.reopen_count
    );

    let _ = writeln!(
        out,
        "## Summary\n\n{}\n\n_What happened, who was affected, how it was stopped: two or three sentences._\n",
        one_line(&incident.title)
    );
    let _ = writeln!(out, "## Impact\n");
    let _ = writeln!(
        out,
        "- Duration: {} min from detection to {}.",
        minutes(incident.opened_at, end),
        if incident.resolved_at.is_some() {
            "resolution"
        } else {
            "now"
        }
    );
    write_impact(&mut out, input.impact);

    let _ = writeln!(out, "## Timeline\n\n| time | who | what |\n|---|---|---|");
    for (at, who, what) in timeline_rows(&incident.timeline) {
        let _ = writeln!(out, "| {} | {who} | {} |", time(&at), cell(&what));
    }

    let _ = writeln!(out, "\n## Evidence\n");
    if incident.evidence.is_empty() {
        let _ = writeln!(out, "None captured.");
    } else {
        let _ = writeln!(
            out,
            "| name | source | captured | bytes | sha256 |\n|---|---|---|---|---|"
        );
        for evidence in &incident.evidence {
            let truncated = if evidence.truncated {
                " (truncated)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {}{truncated} | `{}` |",
                cell(&evidence.name),
                cell(&evidence.source),
                time(&evidence.captured_at),
                evidence.size_bytes,
                evidence.hash.as_str()
            );
        }
    }

    let status_of = |step: &str| input.actions.iter().find(|record| record.step == step);
    if let Some(runbook) = input.runbook {
        // Every cause step, wherever the runbook puts it: confirmed ones first, by the
        // score their judge gave (a responder's confirmation counts as certain).
        let _ = writeln!(out, "\n## Cause analysis\n");
        let mut causes: Vec<(f64, &str, String)> = runbook
            .steps
            .iter()
            .filter(|step| matches!(step.kind, warden_runbook::StepKind::Cause { .. }))
            .map(|step| {
                let verdict = status_of(&step.id)
                    .and_then(|record| record.result.clone())
                    .unwrap_or_else(|| "not evaluated".to_string());
                let rank = if verdict.starts_with("confirmed") {
                    1.0 + crate::judge::score_in(&verdict).unwrap_or(1.0)
                } else if verdict.starts_with("refuted") {
                    0.0
                } else {
                    0.5
                };
                (rank, step.title.as_str(), verdict)
            })
            .collect();
        causes.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (_, title, verdict) in causes {
            let _ = writeln!(out, "- **{title}** — {verdict}");
        }
        let _ = writeln!(out, "\n## Checklist\n");
        for phase in Phase::ALL {
            let _ = writeln!(out, "### {}\n", phase.as_str());
            for step in runbook.phase(phase) {
                let (mark, state) = match status_of(&step.id).map(|record| record.status) {
                    Some(ActionStatus::Succeeded) => ("x", "done"),
                    Some(ActionStatus::Skipped) => ("-", "skipped"),
                    Some(ActionStatus::Failed) => (" ", "failed"),
                    Some(ActionStatus::Running) => (" ", "running"),
                    Some(ActionStatus::Pending) => (" ", "pending"),
                    None => (" ", "not started"),
                };
                match status_of(&step.id).and_then(|record| record.result.as_deref()) {
                    Some(result) => {
                        let _ =
                            writeln!(out, "- [{mark}] {} — {state}: {}", step.title, cell(result));
                    }
                    None => {
                        let _ = writeln!(out, "- [{mark}] {} — {state}", step.title);
                    }
                }
                for approval in input
                    .approvals
                    .iter()
                    .filter(|approval| approval.step == step.id)
                {
                    let _ = writeln!(
                        out,
                        "  - {} by {} at {}: {}",
                        approval.decision.as_str(),
                        approval.actor.name(),
                        time(&approval.at),
                        cell(&approval.reason)
                    );
                }
            }
            let _ = writeln!(out);
        }
        // Follow-ups: the fixes still open, and those applied (to keep); a fix skipped
        // because its cause was refuted or it was rejected is no action item.
        let _ = writeln!(out, "## Action items\n");
        let mut left_out = 0;
        for step in runbook.phase(Phase::Fixes) {
            let record = status_of(&step.id);
            match record.map(|record| record.status) {
                Some(ActionStatus::Skipped) => left_out += 1,
                Some(ActionStatus::Succeeded) => {
                    let result = record.and_then(|r| r.result.as_deref()).unwrap_or("done");
                    let _ = writeln!(out, "- [x] {} — {}", step.title, cell(result));
                }
                _ => {
                    let kind = if matches!(step.kind, StepKind::Manual) {
                        ""
                    } else {
                        " (automated step)"
                    };
                    let _ = writeln!(out, "- [ ] {}{kind}", step.title);
                }
            }
        }
        if left_out > 0 {
            let _ = writeln!(
                out,
                "\n_{left_out} fix(es) left out: their cause was refuted or they were rejected (see the checklist)._"
            );
        }
    }

    let _ = writeln!(
        out,
        "\n## Audit log\n\n| time | who | action | target | result |\n|---|---|---|---|---|"
    );
    for entry in input.audit {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            time(&entry.at),
            entry.actor.name(),
            cell(&entry.action),
            cell(&entry.target),
            cell(&entry.result)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use warden_core::Actor;

    fn event(minute: u32, kind: TimelineKind, message: &str) -> TimelineEvent {
        TimelineEvent {
            at: chrono::Utc
                .with_ymd_and_hms(2026, 11, 20, 14, minute, 0)
                .single()
                .unwrap_or_default(),
            actor: Actor::System,
            kind,
            message: message.into(),
        }
    }

    fn finding(minute: u32, detector: &str) -> TimelineEvent {
        event(
            minute,
            TimelineKind::FindingAttached {
                detector: detector.into(),
            },
            &format!("{minute} min behind"),
        )
    }

    #[test]
    fn a_run_of_one_detectors_findings_is_folded_and_other_events_are_kept() {
        let note = event(12, TimelineKind::Note, "paged the on-call");
        let timeline = vec![
            finding(5, "feature_store"),
            finding(10, "feature_store"),
            note,
            finding(15, "feature_store"),
            finding(20, "feature_store"),
            finding(25, "feature_store"),
            finding(30, "feature_store"),
            finding(35, "other"),
        ];
        let rows: Vec<String> = timeline_rows(&timeline)
            .into_iter()
            .map(|(at, who, what)| format!("{} {who} {what}", at.format("%H:%M")))
            .collect();
        assert_eq!(
            rows,
            [
                "14:05 warden 5 min behind",
                "14:10 warden 10 min behind",
                "14:12 warden paged the on-call",
                "14:15 warden 15 min behind",
                "14:30 warden … 3 more findings from feature_store since 14:15; the last: 30 min behind",
                "14:35 warden 35 min behind",
            ]
        );
    }
}
