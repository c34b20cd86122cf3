//! Customer feedback and quality control: satisfaction surveys issued on resolution, and the
//! quality review a designated person makes when work in a stage completes.

use super::error::Errors;
use super::ids::{ReviewId, TicketId};
use super::string_enum;
use super::time::Timestamp;
use super::{FieldError, ValidationError};
use base64::Engine;

string_enum! {
    pub enum ReviewOutcome {
        Pass => "pass",
        Fail => "fail",
    }
}

/// A survey issued to the customer: one answer, before it expires.
#[derive(Debug, Clone, PartialEq)]
pub struct Survey {
    pub token: String,
    pub ticket_id: TicketId,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub answered_at: Option<Timestamp>,
    pub score: Option<u8>,
    pub comment: Option<String>,
}

impl Survey {
    pub fn issue(ticket_id: TicketId, now: Timestamp, valid_ms: i64) -> Survey {
        let bytes: [u8; 24] = rand::random();
        Survey {
            token: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
            ticket_id,
            issued_at: now,
            expires_at: now.plus_millis(valid_ms),
            answered_at: None,
            score: None,
            comment: None,
        }
    }

    pub fn url(&self) -> String {
        format!("/api/v1/surveys/{}", self.token)
    }

    /// Checks whether an answer can still be given.
    pub fn check_open(&self, now: Timestamp) -> Result<(), SurveyClosed> {
        if self.answered_at.is_some() {
            Err(SurveyClosed::Answered)
        } else if now >= self.expires_at {
            Err(SurveyClosed::Expired)
        } else {
            Ok(())
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SurveyClosed {
    #[error("this survey was already answered")]
    Answered,
    #[error("this survey has expired")]
    Expired,
}

/// A customer's answer: a score from 1 to 5 and an optional comment.
/// The longest survey comment, in characters as sent.
pub const MAX_SURVEY_COMMENT_CHARS: usize = 4096;
/// The longest checklist item of a review, in characters as sent.
pub const MAX_CHECKLIST_ITEM_CHARS: usize = 200;
/// The longest notes of a review, in characters.
pub const MAX_REVIEW_NOTES_CHARS: usize = 8192;

pub fn validate_answer(score: i64, comment: Option<&str>) -> Result<(u8, Option<String>), ValidationError> {
    let mut errors = Errors::default();
    let score = errors.take(
        u8::try_from(score)
            .ok()
            .filter(|s| (1..=5).contains(s))
            .ok_or_else(|| FieldError::new("score", "must be a whole number from 1 to 5")),
    );
    let comment = match comment {
        Some(c) if c.chars().count() > MAX_SURVEY_COMMENT_CHARS => {
            errors.push(FieldError::new("comment", format!("must be at most {MAX_SURVEY_COMMENT_CHARS} characters")));
            None
        }
        Some(c) if !c.trim().is_empty() => Some(c.trim().to_owned()),
        _ => None,
    };
    errors.finish()?;
    Ok((score.expect("validated"), comment))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecklistItem {
    pub item: String,
    pub passed: bool,
}

/// A quality review of the work done in one stage of a ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub id: ReviewId,
    pub ticket_id: TicketId,
    pub stage: String,
    pub outcome: ReviewOutcome,
    pub score: u8,
    pub checklist: Vec<ChecklistItem>,
    pub notes: Option<String>,
    pub reviewer: String,
    pub at: Timestamp,
}

impl Review {
    /// Checks the reviewer's input. A pass with a failed checklist item is contradictory and
    /// refused, so a "pass" always means every listed check passed.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ticket_id: TicketId,
        stage: &str,
        outcome: ReviewOutcome,
        score: i64,
        checklist: Vec<ChecklistItem>,
        notes: Option<String>,
        reviewer: &str,
        now: Timestamp,
    ) -> Result<Review, ValidationError> {
        let mut errors = Errors::default();
        let score = errors.take(
            u8::try_from(score).ok().filter(|s| *s <= 100).ok_or_else(|| FieldError::new("score", "must be a whole number from 0 to 100")),
        );
        for (i, item) in checklist.iter().enumerate() {
            if item.item.trim().is_empty() || item.item.chars().count() > MAX_CHECKLIST_ITEM_CHARS {
                errors
                    .push(FieldError::new(format!("checklist[{i}].item"), format!("must have 1 to {MAX_CHECKLIST_ITEM_CHARS} characters")));
            }
        }
        if outcome == ReviewOutcome::Pass && checklist.iter().any(|c| !c.passed) {
            errors.push(FieldError::new("outcome", "a review with a failed checklist item cannot pass"));
        }
        if notes.as_ref().is_some_and(|n| n.chars().count() > MAX_REVIEW_NOTES_CHARS) {
            errors.push(FieldError::new("notes", format!("must be at most {MAX_REVIEW_NOTES_CHARS} characters")));
        }
        errors.finish()?;
        Ok(Review {
            id: ReviewId::new_at(now),
            ticket_id,
            stage: stage.to_owned(),
            outcome,
            score: score.expect("validated"),
            checklist,
            notes: notes.filter(|n| !n.trim().is_empty()),
            reviewer: reviewer.to_owned(),
            at: now,
        })
    }

    pub fn failed_items(&self) -> Vec<String> {
        self.checklist.iter().filter(|c| !c.passed).map(|c| c.item.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surveys_take_one_answer_before_they_expire() {
        let now = Timestamp::from_millis(1_000);
        let mut s = Survey::issue(TicketId::new_at(now), now, 10_000);
        assert_eq!(s.token.len(), 32);
        assert!(s.check_open(now.plus_millis(9_999)).is_ok());
        assert_eq!(s.check_open(now.plus_millis(10_000)), Err(SurveyClosed::Expired));
        s.answered_at = Some(now);
        assert_eq!(s.check_open(now), Err(SurveyClosed::Answered));
    }

    #[test]
    fn answers_are_scores_from_one_to_five() {
        assert_eq!(validate_answer(5, Some("  great ")).unwrap(), (5, Some("great".into())));
        for bad in [0, 6, -1, 300] {
            assert_eq!(validate_answer(bad, None).unwrap_err().errors[0].field, "score");
        }
    }

    #[test]
    fn a_pass_cannot_hide_a_failed_check() {
        let now = Timestamp::from_millis(0);
        let items = vec![ChecklistItem { item: "parts logged".into(), passed: false }];
        let e = Review::new(TicketId::new_at(now), "delivery", ReviewOutcome::Pass, 90, items.clone(), None, "qa", now).unwrap_err();
        assert_eq!(e.errors[0].field, "outcome");
        let r = Review::new(TicketId::new_at(now), "delivery", ReviewOutcome::Fail, 40, items, None, "qa", now).unwrap();
        assert_eq!(r.failed_items(), ["parts logged"]);
        assert_eq!(
            Review::new(TicketId::new_at(now), "d", ReviewOutcome::Fail, 101, vec![], None, "qa", now).unwrap_err().errors[0].field,
            "score"
        );
    }
}
