//! The mail outbox. Mail is queued in the transaction that records the event causing it
//! ([`queue_ticket_mail`], [`queue_staff_mail`]), exactly as webhook deliveries are, then
//! claimed under a lease by the mail worker of any node, so that no two nodes send one mail.

use super::sql::{insert_rows, placeholders, Bind, Cell};
use super::Operation;
use super::{col, corrupt, Leased, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use std::collections::HashMap;
use steward_domain::event::{Actor, EventData};
use steward_domain::ids::{MailId, StaffId, TicketId};
use steward_domain::mail::{message_id, MailAttempt, MailSettings, MailState, NotificationKind, OutboxMail, PlannedMail, Recipient};
use steward_domain::ticket::Ticket;
use steward_domain::time::Timestamp;
use steward_domain::training::StaffEventData;

/// Mail that may be sent now: due and not leased to a worker. Binds: `$1` and `$2` the time.
const DUE: &str = "mail_outbox m WHERE m.next_attempt_at <= $1 AND (m.locked_until IS NULL OR m.locked_until <= $2)";

/// A mail claimed by this node, with everything sending it takes.
#[derive(Debug, Clone)]
pub struct ClaimedMail {
    pub id: MailId,
    pub kind: NotificationKind,
    pub recipient: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    /// The thread's earlier Message-IDs, oldest first.
    pub references: Vec<String>,
    /// Attempts made before this one.
    pub attempts: u32,
    /// Proves the claim when the outcome is recorded.
    pub lock_token: String,
}

/// The outcome of an attempt and what follows it, recorded by the claim's holder.
pub struct FinishedMail<'a> {
    pub mail: &'a ClaimedMail,
    pub attempt: &'a MailAttempt,
    pub state: MailState,
    pub next_attempt_at: Option<Timestamp>,
}

/// Whether a ticket change's mail may answer earlier mail of the ticket, and so is worth the
/// threading lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Thread {
    /// An existing ticket, or a new one opened by a received message (its side write names the
    /// ticket first): look up what to answer.
    LookUp,
    /// A ticket created in this transaction, not by mail: nothing can be in its thread yet.
    None,
}

/// Queues the mail a ticket change sends, inside the transaction that records its events.
pub(super) async fn queue_ticket_mail(
    tx: &mut Transaction<'static, Any>,
    settings: Option<&MailSettings>,
    ticket: &Ticket,
    actor: &Actor,
    events: &[EventData],
    at: Timestamp,
    thread: Thread,
) -> Result<(), StoreError> {
    let Some(settings) = settings else { return Ok(()) };
    let planned = settings.plan_ticket(ticket, actor, events);
    queue(tx, settings, planned, at, thread).await
}

/// Queues the mail a staff event sends, inside the transaction that records it.
pub(super) async fn queue_staff_mail(
    tx: &mut Transaction<'static, Any>,
    settings: Option<&MailSettings>,
    staff: StaffId,
    event: &StaffEventData,
    at: Timestamp,
) -> Result<(), StoreError> {
    let Some(settings) = settings else { return Ok(()) };
    queue(tx, settings, settings.plan_staff(staff, event), at, Thread::None).await
}

const OUTBOX_INSERT_COLUMNS: &str = "id, ticket_id, kind, recipient, subject, text_body, html_body, message_id, in_reply_to, \
     references_ids, state, attempts, created_at, next_attempt_at";

/// A mail's `References` names at most this many earlier messages.
const MAX_REFERENCES: usize = 20;

/// Resolves and threads every planned mail, then writes the outbox rows in one statement.
async fn queue(
    tx: &mut Transaction<'static, Any>,
    settings: &MailSettings,
    planned: Vec<PlannedMail>,
    at: Timestamp,
    thread_lookup: Thread,
) -> Result<(), StoreError> {
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    // The rows are inserted together at the end, so a later mail of this change (a breach after
    // its warning) threads on the earlier ones from here rather than from the table.
    let mut planned_here: Vec<(TicketId, String, String)> = Vec::new();
    for mail in planned {
        for recipient in addresses(tx, &mail.recipient).await? {
            let mut references = match (mail.ticket_id, thread_lookup) {
                (Some(ticket), Thread::LookUp) => thread(tx, ticket, &recipient).await?,
                _ => Vec::new(),
            };
            let earlier = planned_here.iter().filter(|(t, r, _)| Some(*t) == mail.ticket_id && *r == recipient);
            references.extend(earlier.map(|(_, _, message_id)| message_id.clone()));
            references.drain(..references.len().saturating_sub(MAX_REFERENCES));
            let in_reply_to = references.last().cloned();
            let id = MailId::new_at(at);
            let message_id = message_id(mail.ticket_id, id.as_uuid(), settings.domain());
            if let Some(ticket) = mail.ticket_id {
                planned_here.push((ticket, recipient.clone(), message_id.clone()));
            }
            rows.push(vec![
                id.to_string().into(),
                mail.ticket_id.map(|t| t.to_string()).into(),
                mail.kind.as_str().into(),
                recipient.into(),
                mail.subject.clone().into(),
                mail.text.clone().into(),
                mail.html.clone().into(),
                message_id.into(),
                in_reply_to.into(),
                Some(references.join(" ")).filter(|r| !r.is_empty()).into(),
                MailState::Pending.as_str().into(),
                0i64.into(),
                at.as_millis().into(),
                Some(at.as_millis()).into(),
            ]);
        }
    }
    insert_rows(tx, "mail_outbox", OUTBOX_INSERT_COLUMNS, rows, "").await?;
    Ok(())
}

/// Where a recipient's mail goes: an address as it is; a staff member's or a role's active
/// people's addresses as they stand in this transaction.
async fn addresses(tx: &mut Transaction<'static, Any>, recipient: &Recipient) -> Result<Vec<String>, StoreError> {
    Ok(match recipient {
        Recipient::Address(address) => vec![address.clone()],
        Recipient::Staff(staff) => {
            sqlx::query_scalar("SELECT email FROM staff WHERE id = $1 AND active = $2")
                .bind(staff.to_string())
                .bind(true)
                .fetch_all(&mut **tx)
                .await?
        }
        Recipient::Role(role) => {
            sqlx::query_scalar("SELECT email FROM staff WHERE role = $1 AND active = $2 ORDER BY id")
                .bind(role)
                .bind(true)
                .fetch_all(&mut **tx)
                .await?
        }
    })
}

/// The earlier messages of a ticket's thread with `recipient`, for `In-Reply-To` (the last)
/// and `References` (all, oldest first, at most 20): the mail we sent them about the ticket and
/// the messages received from them for it (inbound, migration 0014), so their own mail client
/// threads our answer under what they wrote.
async fn thread(tx: &mut Transaction<'static, Any>, ticket: TicketId, recipient: &str) -> Result<Vec<String>, StoreError> {
    let sent: Vec<(String, i64)> =
        sqlx::query_as("SELECT message_id, created_at FROM mail_outbox WHERE ticket_id = $1 AND recipient = $2 ORDER BY id DESC LIMIT 20")
            .bind(ticket.to_string())
            .bind(recipient)
            .fetch_all(&mut **tx)
            .await?;
    // Stored without angle brackets; headers carry them.
    let received: Vec<(String, i64)> = sqlx::query_as(
        "SELECT message_id, received_at FROM mail_messages WHERE ticket_id = $1 AND sender = $2 AND state = 'imported' \
         AND message_id IS NOT NULL ORDER BY received_at DESC LIMIT 20",
    )
    .bind(ticket.to_string())
    .bind(recipient.to_lowercase())
    .fetch_all(&mut **tx)
    .await?;
    let mut thread: Vec<(i64, String)> =
        sent.into_iter().map(|(id, at)| (at, id)).chain(received.into_iter().map(|(id, at)| (at, format!("<{id}>")))).collect();
    thread.sort();
    Ok(thread.into_iter().rev().take(MAX_REFERENCES).rev().map(|(_, id)| id).collect())
}

fn count(row: &AnyRow, name: &str) -> Result<u32, StoreError> {
    u32::try_from(col::<i64>(row, name)?).map_err(corrupt)
}

const LIST_COLUMNS: &str = "id, ticket_id, kind, recipient, subject, message_id, in_reply_to, state, created_at, next_attempt_at, \
     sent_at, last_error";

fn outbox_from_row(row: &AnyRow) -> Result<OutboxMail, StoreError> {
    let ticket: Option<String> = col(row, "ticket_id")?;
    Ok(OutboxMail {
        id: MailId::parse("id", &col::<String>(row, "id")?).map_err(corrupt)?,
        ticket_id: ticket.map(|t| TicketId::parse("ticket_id", &t)).transpose().map_err(corrupt)?,
        kind: NotificationKind::parse("kind", &col::<String>(row, "kind")?).map_err(corrupt)?,
        recipient: col(row, "recipient")?,
        subject: col(row, "subject")?,
        message_id: col(row, "message_id")?,
        in_reply_to: col(row, "in_reply_to")?,
        state: MailState::parse("state", &col::<String>(row, "state")?).map_err(corrupt)?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        next_attempt_at: col::<Option<i64>>(row, "next_attempt_at")?.map(Timestamp::from_millis),
        sent_at: col::<Option<i64>>(row, "sent_at")?.map(Timestamp::from_millis),
        last_error: col(row, "last_error")?,
        attempts: Vec::new(),
    })
}

impl Store {
    pub(crate) fn mail_settings(&self) -> Option<&MailSettings> {
        self.mail.as_deref()
    }

    /// Claims up to `limit` mails due at `now` until `lease_until`: no other worker takes them
    /// before then (see `Store::lease_due`).
    pub async fn claim_due_mail(&self, now: Timestamp, lease_until: Timestamp, limit: u32) -> Result<Vec<ClaimedMail>, StoreError> {
        Operation("claim_due_mail")
            .run(async {
                let due = vec![Bind::Int(now.as_millis()), Bind::Int(now.as_millis())];
                let Some(Leased { ids, token: lock_token, mut tx }) =
                    self.lease_due("mail_outbox", "m", DUE, due, lease_until, limit).await?
                else {
                    return Ok(Vec::new());
                };
                let details = format!(
                    "SELECT id, kind, recipient, subject, text_body, html_body, message_id, in_reply_to, references_ids, attempts \
                     FROM mail_outbox WHERE id IN ({}) ORDER BY next_attempt_at",
                    placeholders(1, ids.len())
                );
                let rows = ids.iter().fold(sqlx::query(&details), |q, id| q.bind(id)).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                rows.iter()
                    .map(|row| {
                        let references: Option<String> = col(row, "references_ids")?;
                        Ok(ClaimedMail {
                            id: MailId::parse("id", &col::<String>(row, "id")?).map_err(corrupt)?,
                            kind: NotificationKind::parse("kind", &col::<String>(row, "kind")?).map_err(corrupt)?,
                            recipient: col(row, "recipient")?,
                            subject: col(row, "subject")?,
                            text: col(row, "text_body")?,
                            html: col(row, "html_body")?,
                            message_id: col(row, "message_id")?,
                            in_reply_to: col(row, "in_reply_to")?,
                            references: references.unwrap_or_default().split_whitespace().map(str::to_owned).collect(),
                            attempts: count(row, "attempts")?,
                            lock_token: lock_token.clone(),
                        })
                    })
                    .collect()
            })
            .await
    }

    /// Records attempts and what follows each, in one write transaction (one commit, on SQLite
    /// one fsync, for a pass's chunk of outcomes): each row only if its claim still holds (the
    /// lease may have run out and passed to another worker). Returns, in order, whether each
    /// was recorded; a lapsed claim records nothing for its row and leaves the others be.
    pub async fn record_mail_attempts(&self, finished: &[FinishedMail<'_>]) -> Result<Vec<bool>, StoreError> {
        Operation("record_mail_attempts")
            .run(async {
                if finished.is_empty() {
                    return Ok(Vec::new());
                }
                let mut tx = self.begin_write().await?;
                let mut recorded = Vec::with_capacity(finished.len());
                let mut log: Vec<Vec<Cell>> = Vec::new();
                for f in finished {
                    let (mail, attempt) = (f.mail, f.attempt);
                    let number = i64::from(mail.attempts + 1);
                    let sent_at = (f.state == MailState::Sent).then(|| attempt.at.as_millis());
                    let holds = super::finish_leased(
                        &mut tx,
                        "mail_outbox",
                        &mail.id.to_string(),
                        &mail.lock_token,
                        "state = $3, attempts = $4, next_attempt_at = $5, sent_at = $6, last_error = COALESCE($7, last_error)",
                        vec![
                            f.state.as_str().into(),
                            number.into(),
                            f.next_attempt_at.map(Timestamp::as_millis).into(),
                            sent_at.into(),
                            attempt.error.clone().into(),
                        ],
                    )
                    .await?;
                    if holds {
                        log.push(vec![
                            mail.id.to_string().into(),
                            number.into(),
                            attempt.at.as_millis().into(),
                            attempt.duration_ms.into(),
                            attempt.error.clone().into(),
                        ]);
                    }
                    recorded.push(holds);
                }
                insert_rows(&mut tx, "mail_attempts", "mail_id, number, at, duration_ms, error", log, "").await?;
                tx.commit().await?;
                Ok(recorded)
            })
            .await
    }

    /// Queues a failed mail again, due at `now`, for one more attempt (its log stays). Returns
    /// the state it was in, or None when there is no such mail; pending or sent mail is left as
    /// it is.
    pub async fn retry_mail(&self, id: MailId, now: Timestamp) -> Result<Option<MailState>, StoreError> {
        Operation("retry_mail")
            .run(async {
                let mut tx = self.begin_write().await?;
                let state: Option<String> =
                    sqlx::query_scalar("SELECT state FROM mail_outbox WHERE id = $1").bind(id.to_string()).fetch_optional(&mut *tx).await?;
                let Some(state) = state else {
                    tx.commit().await?;
                    return Ok(None);
                };
                let state = MailState::parse("state", &state).map_err(corrupt)?;
                if state == MailState::Failed {
                    sqlx::query(
                        "UPDATE mail_outbox SET state = $2, next_attempt_at = $3, locked_until = NULL, lock_token = NULL \
                         WHERE id = $1",
                    )
                    .bind(id.to_string())
                    .bind(MailState::Pending.as_str())
                    .bind(now.as_millis())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(Some(state))
            })
            .await
    }

    /// Queues the one reminder of each survey issued before `issued_before`, unanswered and not
    /// expired at `now` (at most `limit` of them). Each is marked reminded in the transaction
    /// that queues its mail, so a survey is reminded once however many nodes run this. Returns
    /// how many were reminded.
    pub async fn remind_surveys(&self, issued_before: Timestamp, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        Operation("remind_surveys")
            .run(async {
                let Some(settings) = self.mail_settings() else { return Ok(0) };
                let due: Vec<String> = sqlx::query_scalar(
                    "SELECT token FROM surveys WHERE answered_at IS NULL AND reminded_at IS NULL AND issued_at <= $1 \
                     AND expires_at > $2 ORDER BY issued_at LIMIT $3",
                )
                .bind(issued_before.as_millis())
                .bind(now.as_millis())
                .bind(i64::from(limit))
                .fetch_all(self.pool())
                .await?;
                let mut reminded = 0;
                for token in due {
                    let mut tx = self.begin_write().await?;
                    let ticket: Option<String> = sqlx::query_scalar(
                        "UPDATE surveys SET reminded_at = $2 WHERE token = $1 AND reminded_at IS NULL AND answered_at IS NULL \
                         RETURNING ticket_id",
                    )
                    .bind(&token)
                    .bind(now.as_millis())
                    .fetch_optional(&mut *tx)
                    .await?;
                    // Another node reminded it, or the customer answered meanwhile.
                    let Some(ticket) = ticket else {
                        tx.commit().await?;
                        continue;
                    };
                    let sql = format!("SELECT {} FROM tickets WHERE id = $1", super::tickets::TICKET_COLUMNS);
                    let row = sqlx::query(&sql).bind(&ticket).fetch_one(&mut *tx).await?;
                    let ticket = super::tickets::ticket_from_row(&row)?;
                    queue(&mut tx, settings, settings.plan_survey_reminder(&ticket, &token), now, Thread::LookUp).await?;
                    tx.commit().await?;
                    reminded += 1;
                }
                Ok(reminded)
            })
            .await
    }

    /// Mail still to be sent (the outbox's depth), served by the partial index on pending rows.
    pub async fn mail_outbox_depth(&self) -> Result<u64, StoreError> {
        Operation("mail_outbox_depth")
            .run(async {
                let n: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM mail_outbox WHERE next_attempt_at IS NOT NULL").fetch_one(self.pool()).await?;
                u64::try_from(n).map_err(corrupt)
            })
            .await
    }

    /// One page of the outbox, newest first, below `before`, optionally in one state, each mail
    /// with its attempts.
    pub async fn list_mail(&self, state: Option<MailState>, before: Option<MailId>, limit: u32) -> Result<Vec<OutboxMail>, StoreError> {
        Operation("list_mail")
            .run(async {
                // The state is named as a literal (a closed set) so that the partial index on
                // failed mail serves its listing; the others walk the primary key.
                let mut conditions: Vec<String> = state.map(|state| format!("state = '{}'", state.as_str())).into_iter().collect();
                if before.is_some() {
                    conditions.push("id < $2".to_owned());
                }
                let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
                let sql = format!("SELECT {LIST_COLUMNS} FROM mail_outbox {filter} ORDER BY id DESC LIMIT $1");
                let mut query = sqlx::query(&sql).bind(i64::from(limit));
                if let Some(before) = before {
                    query = query.bind(before.to_string());
                }
                let rows = query.fetch_all(self.pool()).await?;
                let mut mails = rows.iter().map(outbox_from_row).collect::<Result<Vec<_>, StoreError>>()?;
                if mails.is_empty() {
                    return Ok(mails);
                }
                let sql = format!(
                    "SELECT mail_id, at, duration_ms, error FROM mail_attempts WHERE mail_id IN ({}) ORDER BY mail_id, number",
                    placeholders(1, mails.len())
                );
                let rows = mails.iter().fold(sqlx::query(&sql), |q, m| q.bind(m.id.to_string())).fetch_all(self.pool()).await?;
                let mut attempts: HashMap<String, Vec<MailAttempt>> = HashMap::new();
                for row in &rows {
                    attempts.entry(col(row, "mail_id")?).or_default().push(MailAttempt {
                        at: Timestamp::from_millis(col(row, "at")?),
                        duration_ms: col(row, "duration_ms")?,
                        error: col(row, "error")?,
                    });
                }
                for mail in &mut mails {
                    mail.attempts = attempts.remove(&mail.id.to_string()).unwrap_or_default();
                }
                Ok(mails)
            })
            .await
    }
}
