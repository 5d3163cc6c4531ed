//! `warden reviews list|approve|reject`: the yes/no questions runbook modules put to a person
//! outside incidents — runbook 3's "this drift alert would start retraining: go ahead?" — as
//! `GET /api/v1/reviews` and its approve/reject endpoints do. An approval starts what the
//! review held back (the retraining trigger) at once; its outcome or error is printed.

use std::path::Path;

use anyhow::anyhow;
use warden_core::text::terminal_safe;
use warden_engine::review::{Review, ReviewDecision, ReviewError, ReviewState};

use super::context;
use crate::cli::ReviewsCommand;
use crate::exit::{Code, Failure};
use crate::output::{self, Format};

fn failure(error: ReviewError) -> Failure {
    match error {
        ReviewError::NotFound(_) | ReviewError::Conflict(_) => Failure::input(error),
        ReviewError::Store(_) => Failure::runtime(error),
    }
}

fn print_review(review: &Review) {
    println!(
        "{}  {}  {}",
        terminal_safe(&review.id),
        review.state.as_str(),
        terminal_safe(&review.summary)
    );
    if let Some(by) = &review.decided_by {
        println!(
            "    {} by {}{}",
            review.state.as_str(),
            terminal_safe(by),
            review
                .reason
                .as_deref()
                .filter(|r| !r.is_empty())
                .map(|r| format!(": {}", terminal_safe(r)))
                .unwrap_or_default()
        );
    }
    if let Some(outcome) = &review.outcome {
        println!("    {}", terminal_safe(outcome));
    }
    if let Some(error) = &review.error {
        println!("    FAILED: {}", terminal_safe(error));
    }
}

/// Runs `warden reviews …`. Exit codes: 0 done (for `approve`, retraining started), 1 an
/// approval recorded whose start failed (approve again to retry), 2 no such review, a
/// conflicting decision or bad configuration, 3 the state cannot be read or written.
pub async fn run(format: Format, config: &Path, command: ReviewsCommand) -> Result<Code, Failure> {
    let context = context::open(config).await?;
    let registries = context.engine.registries();
    if !registries.has_reviews() {
        return Err(Failure::input(anyhow!(
            "{}: no module keeps reviews under this configuration (runbook 3's come from drift_monitors with a retraining trigger)",
            config.display()
        )));
    }
    let (id, decision, reason, by) = match command {
        ReviewsCommand::List { pending } => {
            let reviews: Vec<Review> = registries
                .reviews()
                .await
                .map_err(failure)?
                .into_iter()
                .filter(|r| !pending || r.state == ReviewState::Pending)
                .collect();
            match format {
                Format::Json => output::print_json(&serde_json::json!({ "reviews": reviews }))?,
                _ if reviews.is_empty() => println!("no reviews"),
                _ => reviews.iter().for_each(print_review),
            }
            return Ok(Code::Ok);
        }
        ReviewsCommand::Approve { id, reason, actor } => {
            (id, ReviewDecision::Approve, reason, actor.name)
        }
        ReviewsCommand::Reject { id, reason, actor } => {
            (id, ReviewDecision::Reject, reason, actor.name)
        }
    };
    let review = registries
        .decide_review(&id, decision, &by, &reason)
        .await
        .map_err(failure)?;
    match format {
        Format::Json => output::print_json(&serde_json::json!({ "review": review }))?,
        _ => print_review(&review),
    }
    Ok(if review.error.is_some() {
        Code::Detected
    } else {
        Code::Ok
    })
}
