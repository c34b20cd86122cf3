//! Attachment metadata and the blob rows that say which contents are stored.
//!
//! The bytes live outside the database, content-addressed; the caller stores and removes them
//! through the callbacks these methods take, inside the write transaction, while the content's
//! `attachment_blobs` row is locked. An upload therefore knows its bytes are stored before its
//! rows commit, and a delete removing the last reference cannot interleave with an upload of
//! the same content (one of them waits for the other's row lock).

use super::sql::{insert_rows, Cell};
use super::tickets::insert_events;
use super::Operation;
use super::{col, corrupt, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use std::future::Future;
use steward_domain::attachment::{Attachment, ContentDigest};
use steward_domain::event::Actor;
use steward_domain::ids::{AttachmentId, InboundMailId, TicketId};
use steward_domain::ticket::Visibility;
use steward_domain::time::Timestamp;

const COLUMNS: &str = "id, ticket_id, comment_seq, file_name, content_type, size, sha256, visibility, added_by, added_at, deleted_at";

fn attachment_from_row(row: &AnyRow) -> Result<Attachment, StoreError> {
    let text = |name: &str| col::<String>(row, name);
    let added_by: String = text("added_by")?;
    Ok(Attachment {
        id: AttachmentId::parse("id", &text("id")?).map_err(corrupt)?,
        ticket_id: TicketId::parse("ticket_id", &text("ticket_id")?).map_err(corrupt)?,
        comment_seq: col(row, "comment_seq")?,
        file_name: text("file_name")?,
        content_type: text("content_type")?,
        size: u64::try_from(col::<i64>(row, "size")?).map_err(corrupt)?,
        sha256: ContentDigest::parse("sha256", &text("sha256")?).map_err(corrupt)?,
        visibility: Visibility::parse("visibility", &text("visibility")?).map_err(corrupt)?,
        added_by: serde_json::from_str(&added_by).map_err(corrupt)?,
        added_at: Timestamp::from_millis(col(row, "added_at")?),
        deleted_at: col::<Option<i64>>(row, "deleted_at")?.map(Timestamp::from_millis),
    })
}

fn attachment_row(a: &Attachment) -> Vec<Cell> {
    vec![
        a.id.to_string().into(),
        a.ticket_id.to_string().into(),
        a.comment_seq.into(),
        a.file_name.as_str().into(),
        a.content_type.as_str().into(),
        i64::try_from(a.size).unwrap_or(i64::MAX).into(),
        a.sha256.as_str().into(),
        a.visibility.as_str().into(),
        serde_json::to_string(&a.added_by).expect("plain data serialises").into(),
        a.added_at.as_millis().into(),
        a.deleted_at.map(Timestamp::as_millis).into(),
    ]
}

/// Attachments that are the files of an inbound message: the message, and each row's MIME part
/// (in the order of the rows). Unique per message and part, and attached only while the
/// message owes them, so however often that is tried they are attached once.
#[derive(Debug, Clone, Copy)]
pub struct FromMail<'a> {
    pub mail: InboundMailId,
    pub parts: &'a [i64],
}

impl Store {
    /// Locks the ticket row (every ticket writer's first lock); false when there is no such ticket.
    async fn lock_ticket(&self, tx: &mut Transaction<'static, Any>, ticket: TicketId) -> Result<bool, StoreError> {
        let sql = format!("SELECT id FROM tickets WHERE id = $1{}", self.backend.lock_rows());
        Ok(sqlx::query(&sql).bind(ticket.to_string()).fetch_optional(&mut **tx).await?.is_some())
    }

    /// Locks the blob row of `digest` (SQLite: held by `BEGIN IMMEDIATE` already).
    async fn lock_blob(&self, tx: &mut Transaction<'static, Any>, digest: &ContentDigest) -> Result<(), StoreError> {
        let sql = format!("SELECT sha256 FROM attachment_blobs WHERE sha256 = $1{}", self.backend.lock_rows());
        sqlx::query(&sql).bind(digest.as_str()).fetch_optional(&mut **tx).await?;
        Ok(())
    }

    /// Adds attachments to a ticket with their `attachment_added` events, in one transaction
    /// under the ticket's row lock. `plan` is given the bytes the ticket's live attachments
    /// hold and returns the rows to write (or refuses); `store_blob` is called once per distinct
    /// content, with its blob row locked, and must leave the bytes stored (they may be there
    /// already). `from_mail`: the rows are that message's owed files, marked attached with
    /// them. `Ok(None)`: no such ticket. A refusal or a failed store rolls back.
    pub async fn add_attachments<E, F, Fut>(
        &self,
        ticket: TicketId,
        actor: &Actor,
        from_mail: Option<FromMail<'_>>,
        plan: impl FnOnce(u64) -> Result<Vec<Attachment>, E>,
        mut store_blob: F,
    ) -> Result<Option<Result<Vec<Attachment>, E>>, StoreError>
    where
        F: FnMut(ContentDigest) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        Operation("add_attachments")
            .run(async {
                let mut tx = self.begin_write().await?;
                if !self.lock_ticket(&mut tx, ticket).await? {
                    return Ok(None);
                }
                let used: i64 = sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM attachments WHERE ticket_id = $1 AND deleted_at IS NULL",
                )
                .bind(ticket.to_string())
                .fetch_one(&mut *tx)
                .await?;
                let rows = match plan(u64::try_from(used).unwrap_or(0)) {
                    Ok(rows) if !rows.is_empty() => rows,
                    Ok(rows) => return Ok(Some(Ok(rows))),
                    Err(e) => return Ok(Some(Err(e))),
                };
                // Sorted, so two uploads sharing contents lock their blob rows in one order.
                let mut contents: Vec<(&ContentDigest, u64)> = rows.iter().map(|a| (&a.sha256, a.size)).collect();
                contents.sort();
                contents.dedup();
                let at = rows[0].added_at;
                if let Some(from) = from_mail {
                    super::mail_inbound::settle_owed_attachments(&mut tx, from.mail, at).await?;
                }
                for (digest, size) in contents {
                    sqlx::query(
                        "INSERT INTO attachment_blobs (sha256, size, stored_at) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING",
                    )
                    .bind(digest.as_str())
                    .bind(i64::try_from(size).unwrap_or(i64::MAX))
                    .bind(at.as_millis())
                    .execute(&mut *tx)
                    .await?;
                    self.lock_blob(&mut tx, digest).await?;
                    if let Err(e) = store_blob(digest.clone()).await {
                        return Ok(Some(Err(e)));
                    }
                }
                let cells = rows.iter().enumerate().map(|(i, a)| {
                    let mut cells = attachment_row(a);
                    cells.push(from_mail.map(|f| f.mail.to_string()).into());
                    cells.push(from_mail.and_then(|f| f.parts.get(i).copied()).into());
                    cells
                });
                insert_rows(&mut tx, "attachments", &format!("{COLUMNS}, mail_id, mail_part"), cells.collect(), "").await?;
                let last_seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM ticket_events WHERE ticket_id = $1")
                    .bind(ticket.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
                let events: Vec<_> = rows.iter().map(Attachment::added_event).collect();
                insert_events(&mut tx, ticket, last_seq, at, actor, &events).await?;
                tx.commit().await?;
                Ok(Some(Ok(rows)))
            })
            .await
    }

    /// Deletes one live attachment of a ticket with its `attachment_deleted` event, under the
    /// ticket's row lock. `check` may refuse (a permission the row decides). When no live
    /// attachment holds its content any more, `remove_blob` is called with the blob row locked
    /// and the row goes too. `Ok(None)`: no such live attachment on that ticket.
    pub async fn delete_attachment<E, Fut>(
        &self,
        ticket: TicketId,
        id: AttachmentId,
        actor: &Actor,
        at: Timestamp,
        check: impl FnOnce(&Attachment) -> Result<(), E>,
        remove_blob: impl FnOnce(ContentDigest) -> Fut,
    ) -> Result<Option<Result<Attachment, E>>, StoreError>
    where
        Fut: Future<Output = Result<(), E>>,
    {
        Operation("delete_attachment")
            .run(async {
                let mut tx = self.begin_write().await?;
                if !self.lock_ticket(&mut tx, ticket).await? {
                    return Ok(None);
                }
                let sql = format!("SELECT {COLUMNS} FROM attachments WHERE id = $1 AND ticket_id = $2 AND deleted_at IS NULL");
                let row = sqlx::query(&sql).bind(id.to_string()).bind(ticket.to_string()).fetch_optional(&mut *tx).await?;
                let Some(mut attachment) = row.as_ref().map(attachment_from_row).transpose()? else {
                    return Ok(None);
                };
                if let Err(e) = check(&attachment) {
                    return Ok(Some(Err(e)));
                }
                sqlx::query("UPDATE attachments SET deleted_at = $1 WHERE id = $2")
                    .bind(at.as_millis())
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
                attachment.deleted_at = Some(at);
                let last_seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM ticket_events WHERE ticket_id = $1")
                    .bind(ticket.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
                insert_events(&mut tx, ticket, last_seq, at, actor, &[attachment.deleted_event()]).await?;
                self.lock_blob(&mut tx, &attachment.sha256).await?;
                let holders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attachments WHERE sha256 = $1 AND deleted_at IS NULL")
                    .bind(attachment.sha256.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                if holders == 0 {
                    if let Err(e) = remove_blob(attachment.sha256.clone()).await {
                        return Ok(Some(Err(e)));
                    }
                    sqlx::query("DELETE FROM attachment_blobs WHERE sha256 = $1")
                        .bind(attachment.sha256.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(Some(Ok(attachment)))
            })
            .await
    }

    /// A ticket's live attachments in upload order, after `after`, at most `limit`.
    pub async fn list_attachments(&self, ticket: TicketId, after: Option<AttachmentId>, limit: u32) -> Result<Vec<Attachment>, StoreError> {
        Operation("list_attachments")
            .run(async {
                let sql = format!(
                    "SELECT {COLUMNS} FROM attachments WHERE ticket_id = $1 AND id > $2 AND deleted_at IS NULL ORDER BY id LIMIT $3"
                );
                let rows = sqlx::query(&sql)
                    .bind(ticket.to_string())
                    .bind(after.map(|a| a.to_string()).unwrap_or_default())
                    .bind(i64::from(limit))
                    .fetch_all(self.pool())
                    .await?;
                rows.iter().map(attachment_from_row).collect()
            })
            .await
    }

    /// One live attachment of a ticket.
    pub async fn get_attachment(&self, ticket: TicketId, id: AttachmentId) -> Result<Option<Attachment>, StoreError> {
        Operation("get_attachment")
            .run(async {
                let sql = format!("SELECT {COLUMNS} FROM attachments WHERE id = $1 AND ticket_id = $2 AND deleted_at IS NULL");
                let row = sqlx::query(&sql).bind(id.to_string()).bind(ticket.to_string()).fetch_optional(self.pool()).await?;
                row.as_ref().map(attachment_from_row).transpose()
            })
            .await
    }

    /// The contents stored, as digests with their sizes (each once, however many attachments
    /// share it).
    pub async fn stored_blobs(&self) -> Result<Vec<(ContentDigest, u64)>, StoreError> {
        Operation("stored_blobs")
            .run(async {
                let rows = sqlx::query("SELECT sha256, size FROM attachment_blobs ORDER BY sha256").fetch_all(self.pool()).await?;
                rows.iter()
                    .map(|row| {
                        let digest = ContentDigest::parse("sha256", &col::<String>(row, "sha256")?).map_err(corrupt)?;
                        Ok((digest, u64::try_from(col::<i64>(row, "size")?).map_err(corrupt)?))
                    })
                    .collect()
            })
            .await
    }
}
