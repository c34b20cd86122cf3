//! Inbound mail: the stored raw messages, their states, and the contacts that bounce.
//!
//! A message is stored in its own committed transaction before anything reads it; its import
//! marks it `imported` inside the import's transaction ([`mark_imported`], a side write), so a
//! message is imported exactly once however often it is retried.

use super::{col, corrupt, Operation, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use steward_domain::ids::{InboundMailId, TicketId};
use steward_domain::mail_inbound::{Bounce, InboundMailState, MailAttachments, MailReason, NewMail, StoredMail};
use steward_domain::time::Timestamp;

const MAIL_COLUMNS: &str = "id, message_id, source, received_at, size, sender, subject, state, reason, detail, ticket_id, event_seq, \
                            attachments, attempts, updated_at";

fn mail_from_row(row: &AnyRow) -> Result<StoredMail, StoreError> {
    let id: String = col(row, "id")?;
    let state: String = col(row, "state")?;
    let reason: Option<String> = col(row, "reason")?;
    let ticket: Option<String> = col(row, "ticket_id")?;
    let attachments: Option<String> = col(row, "attachments")?;
    Ok(StoredMail {
        id: InboundMailId::parse("id", &id).map_err(corrupt)?,
        message_id: col(row, "message_id")?,
        source: col(row, "source")?,
        received_at: Timestamp::from_millis(col(row, "received_at")?),
        size: u64::try_from(col::<i64>(row, "size")?).map_err(corrupt)?,
        sender: col(row, "sender")?,
        subject: col(row, "subject")?,
        state: InboundMailState::parse("state", &state).map_err(corrupt)?,
        reason: reason.map(|r| MailReason::parse("reason", &r)).transpose().map_err(corrupt)?,
        detail: col(row, "detail")?,
        ticket_id: ticket.map(|t| TicketId::parse("ticket_id", &t)).transpose().map_err(corrupt)?,
        event_seq: col(row, "event_seq")?,
        attachments: attachments.map(|a| MailAttachments::parse("attachments", &a)).transpose().map_err(corrupt)?,
        attempts: u32::try_from(col::<i64>(row, "attempts")?).map_err(corrupt)?,
        updated_at: Timestamp::from_millis(col(row, "updated_at")?),
    })
}

impl Store {
    /// Stores a message raw, committed before this returns. A message whose Message-ID is
    /// already stored is not stored again: the stored row comes back, with `false`.
    pub async fn store_mail(&self, new: &NewMail) -> Result<(StoredMail, bool), StoreError> {
        Operation("store_mail")
            .run(async {
                let mut tx = self.begin_write().await?;
                let inserted = sqlx::query(
                    "INSERT INTO mail_messages (id, message_id, source, received_at, size, raw, sender, subject, state, attempts, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'received', 0, $4) ON CONFLICT (message_id) DO NOTHING",
                )
                .bind(new.id.to_string())
                .bind(new.message_id.clone())
                .bind(new.source.clone())
                .bind(new.received_at.as_millis())
                .bind(i64::try_from(new.raw.len()).unwrap_or(i64::MAX))
                .bind(new.raw.clone())
                .bind(new.sender.clone())
                .bind(new.subject.clone())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                let row = if inserted {
                    sqlx::query(&format!("SELECT {MAIL_COLUMNS} FROM mail_messages WHERE id = $1"))
                        .bind(new.id.to_string())
                        .fetch_one(&mut *tx)
                        .await?
                } else {
                    sqlx::query(&format!("SELECT {MAIL_COLUMNS} FROM mail_messages WHERE message_id = $1"))
                        .bind(new.message_id.clone())
                        .fetch_one(&mut *tx)
                        .await?
                };
                let stored = mail_from_row(&row)?;
                tx.commit().await?;
                Ok((stored, inserted))
            })
            .await
    }

    pub async fn get_inbound_mail(&self, id: InboundMailId) -> Result<Option<StoredMail>, StoreError> {
        Operation("get_inbound_mail")
            .run(async {
                let row = sqlx::query(&format!("SELECT {MAIL_COLUMNS} FROM mail_messages WHERE id = $1"))
                    .bind(id.to_string())
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(mail_from_row).transpose()
            })
            .await
    }

    /// The message's bytes exactly as received.
    pub async fn mail_raw(&self, id: InboundMailId) -> Result<Option<Vec<u8>>, StoreError> {
        Operation("mail_raw")
            .run(async {
                Ok(sqlx::query_scalar("SELECT raw FROM mail_messages WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(self.pool())
                    .await?)
            })
            .await
    }

    /// Records that a message was quarantined or ignored, unless it was imported meanwhile
    /// (then nothing changes and `false` comes back).
    pub async fn settle_mail(
        &self,
        id: InboundMailId,
        state: InboundMailState,
        reason: MailReason,
        detail: Option<&str>,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        Operation("settle_mail")
            .run(async {
                let done = sqlx::query(
                    "UPDATE mail_messages SET state = $2, reason = $3, detail = $4, attempts = attempts + 1, updated_at = $5 \
                     WHERE id = $1 AND state <> 'imported'",
                )
                .bind(id.to_string())
                .bind(state.as_str())
                .bind(reason.as_str())
                .bind(detail)
                .bind(at.as_millis())
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }

    /// Marks the contacts a delivery report names as bouncing and the report itself ignored,
    /// in one transaction.
    pub async fn record_bounces(&self, mail: InboundMailId, contacts: &[String], at: Timestamp) -> Result<(), StoreError> {
        Operation("record_bounces")
            .run(async {
                let mut tx = self.begin_write().await?;
                for contact in contacts {
                    sqlx::query(
                        "INSERT INTO mail_bounces (contact, bounced_at, bounces, mail_id) VALUES ($1, $2, 1, $3) \
                         ON CONFLICT (contact) DO UPDATE SET bounced_at = excluded.bounced_at, bounces = mail_bounces.bounces + 1, \
                         mail_id = excluded.mail_id",
                    )
                    .bind(contact)
                    .bind(at.as_millis())
                    .bind(mail.to_string())
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(
                    "UPDATE mail_messages SET state = 'ignored', reason = 'delivery_report', detail = $2, attempts = attempts + 1, \
                     updated_at = $3 WHERE id = $1 AND state <> 'imported'",
                )
                .bind(mail.to_string())
                .bind(format!("undeliverable: {}", contacts.join(", ")))
                .bind(at.as_millis())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            })
            .await
    }

    /// The bounce recorded for a contact (compared lowercased), if any.
    pub async fn contact_bounce(&self, contact: &str) -> Result<Option<Bounce>, StoreError> {
        Operation("contact_bounce")
            .run(async {
                let row = sqlx::query("SELECT contact, bounced_at, bounces, mail_id FROM mail_bounces WHERE contact = $1")
                    .bind(contact.trim().to_lowercase())
                    .fetch_optional(self.pool())
                    .await?;
                row.map(|row| {
                    let mail: String = col(&row, "mail_id")?;
                    Ok(Bounce {
                        contact: col(&row, "contact")?,
                        bounced_at: Timestamp::from_millis(col(&row, "bounced_at")?),
                        bounces: u64::try_from(col::<i64>(&row, "bounces")?).map_err(corrupt)?,
                        mail_id: InboundMailId::parse("mail_id", &mail).map_err(corrupt)?,
                    })
                })
                .transpose()
            })
            .await
    }

    /// The ticket of the first of these Message-IDs that an imported message carried.
    pub async fn ticket_of_message_ids(&self, ids: &[String]) -> Result<Option<TicketId>, StoreError> {
        if ids.is_empty() {
            return Ok(None);
        }
        Operation("ticket_of_message_ids")
            .run(async {
                let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "SELECT message_id, ticket_id FROM mail_messages WHERE ticket_id IS NOT NULL AND message_id IN ({})",
                    placeholders.join(", ")
                );
                let mut query = sqlx::query(&sql);
                for id in ids {
                    query = query.bind(id.clone());
                }
                let rows = query.fetch_all(self.pool()).await?;
                let mut found = Vec::with_capacity(rows.len());
                for row in &rows {
                    let ticket: String = col(row, "ticket_id")?;
                    found.push((col::<String>(row, "message_id")?, TicketId::parse("ticket_id", &ticket).map_err(corrupt)?));
                }
                Ok(ids.iter().find_map(|id| found.iter().find(|(m, _)| m == id).map(|(_, t)| *t)))
            })
            .await
    }

    /// How many messages from `sender` were received at or after `since`, other than `except`.
    pub async fn count_mail_from(&self, sender: &str, since: Timestamp, except: InboundMailId) -> Result<u64, StoreError> {
        Operation("count_mail_from")
            .run(async {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_messages WHERE sender = $1 AND received_at >= $2 AND id <> $3")
                    .bind(sender)
                    .bind(since.as_millis())
                    .bind(except.to_string())
                    .fetch_one(self.pool())
                    .await?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
    }

    /// One page of messages in `state`, oldest first, after `after`.
    pub async fn list_inbound_mail(
        &self,
        state: InboundMailState,
        after: Option<InboundMailId>,
        limit: u32,
    ) -> Result<Vec<StoredMail>, StoreError> {
        Operation("list_inbound_mail")
            .run(async {
                let rows =
                    sqlx::query(&format!("SELECT {MAIL_COLUMNS} FROM mail_messages WHERE state = $1 AND id > $2 ORDER BY id LIMIT $3"))
                        .bind(state.as_str())
                        .bind(after.map(|a| a.to_string()).unwrap_or_default())
                        .bind(i64::from(limit))
                        .fetch_all(self.pool())
                        .await?;
                rows.iter().map(mail_from_row).collect()
            })
            .await
    }

    /// The last event seq each message imported into `ticket` wrote, in order (the ticket's
    /// index serves it).
    pub async fn mail_event_seqs(&self, ticket: TicketId) -> Result<Vec<i64>, StoreError> {
        Operation("mail_event_seqs")
            .run(async {
                Ok(sqlx::query_scalar(
                    "SELECT event_seq FROM mail_messages WHERE ticket_id = $1 AND event_seq IS NOT NULL ORDER BY event_seq",
                )
                .bind(ticket.to_string())
                .fetch_all(self.pool())
                .await?)
            })
            .await
    }

    /// Imported messages whose files are still owed and that were last written before
    /// `before` (an attempt of their own import has had its chance), oldest first.
    pub async fn list_owed_attachments(&self, before: Timestamp, limit: u32) -> Result<Vec<StoredMail>, StoreError> {
        Operation("list_owed_attachments")
            .run(async {
                let rows = sqlx::query(&format!(
                    "SELECT {MAIL_COLUMNS} FROM mail_messages WHERE attachments = 'owed' AND updated_at <= $1 ORDER BY id LIMIT $2"
                ))
                .bind(before.as_millis())
                .bind(i64::from(limit))
                .fetch_all(self.pool())
                .await?;
                rows.iter().map(mail_from_row).collect()
            })
            .await
    }

    /// Records that a message's owed files were refused (over a cap), with why; `false` when
    /// they were not owed (settled meanwhile).
    pub async fn refuse_mail_attachments(&self, id: InboundMailId, detail: &str, at: Timestamp) -> Result<bool, StoreError> {
        Operation("refuse_mail_attachments")
            .run(async {
                let done = sqlx::query(
                    "UPDATE mail_messages SET attachments = 'refused', detail = $2, updated_at = $3 WHERE id = $1 AND attachments = 'owed'",
                )
                .bind(id.to_string())
                .bind(detail)
                .bind(at.as_millis())
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }

    pub async fn count_inbound_mail(&self, state: InboundMailState) -> Result<u64, StoreError> {
        Operation("count_inbound_mail")
            .run(async {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_messages WHERE state = $1")
                    .bind(state.as_str())
                    .fetch_one(self.pool())
                    .await?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
    }
}

/// The side write of an import: the message is marked imported with the ticket and the last
/// event written (and its files owed, when it has any), in the ticket change's transaction. A message imported meanwhile (a retry
/// racing another) fails the whole change.
pub(super) async fn mark_imported(
    tx: &mut Transaction<'static, Any>,
    mail: InboundMailId,
    ticket: TicketId,
    attachments_owed: bool,
    at: Timestamp,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE mail_messages SET state = 'imported', ticket_id = $2, reason = NULL, detail = NULL, attempts = attempts + 1, \
         updated_at = $3, event_seq = (SELECT MAX(seq) FROM ticket_events WHERE ticket_id = $2), attachments = $4 \
         WHERE id = $1 AND state <> 'imported'",
    )
    .bind(mail.to_string())
    .bind(ticket.to_string())
    .bind(at.as_millis())
    .bind(attachments_owed.then_some(MailAttachments::Owed.as_str()))
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::AlreadyDone("the message was already imported"));
    }
    Ok(())
}

/// Marks a message's owed files attached, in the transaction that attaches them (after the
/// ticket's lock, the one lock order). Not owed any more (another attempt attached them
/// meanwhile) fails that transaction, so they are attached once.
pub(super) async fn settle_owed_attachments(
    tx: &mut Transaction<'static, Any>,
    mail: InboundMailId,
    at: Timestamp,
) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE mail_messages SET attachments = 'attached', updated_at = $2 WHERE id = $1 AND attachments = 'owed'")
        .bind(mail.to_string())
        .bind(at.as_millis())
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::AlreadyDone("the message's files were already attached"));
    }
    Ok(())
}
