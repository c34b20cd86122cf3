//! Surveys, quality reviews, and events written on another ticket in the same transaction.

use super::sql::{insert_rows, Cell};
use super::Operation;
use super::{col, corrupt, Backend, Store, StoreError};
use sqlx::{Any, Transaction};
use steward_domain::event::Actor;
use steward_domain::feedback::{Review, Survey};
use steward_domain::ids::TicketId;
use steward_domain::ticket::SideWrite;
use steward_domain::time::Timestamp;

impl Store {
    pub async fn find_survey(&self, token: &str) -> Result<Option<Survey>, StoreError> {
        Operation("find_survey")
            .run(async {
                let row = sqlx::query(
                    "SELECT token, ticket_id, issued_at, expires_at, answered_at, score, comment FROM surveys WHERE token = $1",
                )
                .bind(token)
                .fetch_optional(self.pool())
                .await?;
                row.map(|row| {
                    let ticket: String = col(&row, "ticket_id")?;
                    Ok(Survey {
                        token: col(&row, "token")?,
                        ticket_id: TicketId::parse("ticket_id", &ticket).map_err(corrupt)?,
                        issued_at: Timestamp::from_millis(col(&row, "issued_at")?),
                        expires_at: Timestamp::from_millis(col(&row, "expires_at")?),
                        answered_at: col::<Option<i64>>(&row, "answered_at")?.map(Timestamp::from_millis),
                        score: col::<Option<i64>>(&row, "score")?.map(|s| u8::try_from(s).map_err(corrupt)).transpose()?,
                        comment: col(&row, "comment")?,
                    })
                })
                .transpose()
            })
            .await
    }
}

/// Writes the records that go with a ticket change.
pub(super) async fn write_side(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    side: &[SideWrite],
    actor: &Actor,
    at: Timestamp,
) -> Result<(), StoreError> {
    for write in side {
        match write {
            SideWrite::IssueSurvey(s) => {
                insert_rows(tx, "surveys", SURVEY_COLUMNS, vec![survey_row(s)], "").await?;
            }
            SideWrite::AnswerSurvey { token, score, comment, at } => {
                // Only an unanswered survey takes the answer: a second answer racing this one
                // finds none and the whole change rolls back.
                let done =
                    sqlx::query("UPDATE surveys SET answered_at = $2, score = $3, comment = $4 WHERE token = $1 AND answered_at IS NULL")
                        .bind(token)
                        .bind(at.as_millis())
                        .bind(i64::from(*score))
                        .bind(comment)
                        .execute(&mut **tx)
                        .await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::AlreadyDone("the survey was already answered"));
                }
            }
            SideWrite::RecordReview(r) => insert_review(tx, r).await?,
            SideWrite::EventOnTicket(ticket, event) => {
                let (condition, bind) = super::tickets::ticket_condition(steward_domain::ids::TicketRef::Id(*ticket));
                // Lock the other ticket so its timeline numbering stays gapless.
                let sql = format!("SELECT id FROM tickets WHERE {condition}{}", backend.lock_rows());
                super::tickets::bind_one(sqlx::query(&sql), bind).fetch_one(&mut **tx).await?;
                let last_seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM ticket_events WHERE ticket_id = $1")
                    .bind(ticket.to_string())
                    .fetch_one(&mut **tx)
                    .await?;
                super::tickets::insert_events(tx, *ticket, last_seq, at, actor, std::slice::from_ref(event)).await?;
            }
            SideWrite::Delegate(d) => super::partners::insert_delegation(tx, d).await?,
            SideWrite::WithdrawDelegation { ticket_id, at } => super::partners::withdraw_delegation(tx, *ticket_id, *at).await?,
            SideWrite::MailImported { mail, ticket, attachments_owed } => {
                super::mail_inbound::mark_imported(tx, *mail, *ticket, *attachments_owed, at).await?
            }
        }
    }
    Ok(())
}

pub(super) const REVIEW_COLUMNS: &str = "id, ticket_id, stage, outcome, score, checklist, notes, reviewer, at";

pub(super) fn review_row(r: &Review) -> Vec<Cell> {
    let checklist: Vec<serde_json::Value> = r.checklist.iter().map(|c| serde_json::json!({"item": c.item, "passed": c.passed})).collect();
    vec![
        r.id.to_string().into(),
        r.ticket_id.to_string().into(),
        r.stage.as_str().into(),
        r.outcome.as_str().into(),
        i64::from(r.score).into(),
        serde_json::Value::Array(checklist).to_string().into(),
        r.notes.clone().into(),
        r.reviewer.as_str().into(),
        r.at.as_millis().into(),
    ]
}

pub(super) const SURVEY_COLUMNS: &str = "token, ticket_id, issued_at, expires_at, answered_at, score, comment";

pub(super) fn survey_row(s: &Survey) -> Vec<Cell> {
    vec![
        s.token.as_str().into(),
        s.ticket_id.to_string().into(),
        s.issued_at.as_millis().into(),
        s.expires_at.as_millis().into(),
        s.answered_at.map(Timestamp::as_millis).into(),
        s.score.map(i64::from).into(),
        s.comment.clone().into(),
    ]
}

async fn insert_review(tx: &mut Transaction<'static, Any>, r: &Review) -> Result<(), StoreError> {
    insert_rows(tx, "ticket_reviews", REVIEW_COLUMNS, vec![review_row(r)], "").await?;
    Ok(())
}
