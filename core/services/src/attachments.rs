//! Attachments: files on a ticket or on one of its comments, from the API, the console or mail.
//! Each use case takes the caller's `Principal` and checks it as comments are checked (a partner
//! only on its delegated tickets, never what belongs to an internal comment). Adding knows
//! nothing of HTTP, so inbound mail calls the same [`Services::add_attachments`].

use super::blobs::BlobError;
use super::{ServiceError, Services};
use bytes::Bytes;
use std::collections::HashMap;
use steward_domain::attachment::{Attachment, ContentDigest, FileName, UploadRefused};
use steward_domain::auth::{Permission, Principal};
use steward_domain::ids::{AttachmentId, PartnerId, TicketRef};
use steward_domain::ticket::{Ticket, Visibility};
use steward_domain::time::Timestamp;
use steward_domain::ValidationError;

steward_domain::string_enum! {
    /// Where an attachment came from (a metrics label).
    pub enum AttachmentSource {
        Api => "api",
        Console => "console",
        Mail => "mail",
    }
}

/// One file to attach: its name (parsed strictly by a client's caller, sanitised by mail's) and
/// its bytes.
pub struct NewFile {
    pub name: FileName,
    pub bytes: Bytes,
}

/// A page of a ticket's attachments and, when more may follow, the id to continue after.
pub struct AttachmentPage {
    pub attachments: Vec<Attachment>,
    pub next: Option<AttachmentId>,
}

/// The field a refusal about the `index`th file names: `file` for the first (or only) one,
/// `file[i]` after it, as an upload's parts are counted.
pub fn file_field(index: usize) -> String {
    match index {
        0 => "file".into(),
        i => format!("file[{i}]"),
    }
}

fn blob_failure(e: BlobError) -> ServiceError {
    ServiceError::Internal { operation: "the attachment store", cause: e.to_string() }
}

impl Services {
    /// The ticket as `principal` may see it, and the partner its access is scoped to.
    async fn attachment_ticket(
        &self,
        principal: &Principal,
        reference: TicketRef,
        staff: Permission,
        partner: Permission,
    ) -> Result<(Ticket, Option<PartnerId>), ServiceError> {
        let scope = principal.require_ticket_access(staff, partner)?;
        Ok((self.ticket_for(reference, scope).await?, scope))
    }

    /// The visibility of comment `seq` of `ticket`, or a field error naming `comment` when it is
    /// not a comment the caller may see.
    pub(crate) async fn comment_visibility(
        &self,
        ticket: &Ticket,
        seq: i64,
        partner: Option<PartnerId>,
    ) -> Result<Visibility, ServiceError> {
        let missing = || ServiceError::Missing { field: "comment", message: format!("ticket {} has no comment {seq}", ticket.number) };
        if seq < 1 {
            return Err(missing());
        }
        let event = self.store.list_events(ticket.id, seq - 1, 1).await?.into_iter().next().filter(|e| e.kind == "comment_added");
        let visibility = event
            .and_then(|e| e.data.get("visibility").cloned())
            .and_then(|v| serde_json::from_value::<Visibility>(v).ok())
            .ok_or_else(missing)?;
        if partner.is_some() && visibility == Visibility::Internal {
            return Err(missing());
        }
        Ok(visibility)
    }

    /// Attaches `files` to a ticket (or to its comment `comment`, by the comment event's seq):
    /// all of them or none. The caps come from `[attachments]`: each file alone, then the
    /// ticket's live attachments with these, counted under the ticket's row lock so concurrent
    /// uploads cannot pass the cap together. Each distinct content is stored before the rows
    /// commit, once however often it is attached.
    pub async fn add_attachments(
        &self,
        principal: &Principal,
        reference: TicketRef,
        comment: Option<i64>,
        files: Vec<NewFile>,
        source: AttachmentSource,
    ) -> Result<Vec<Attachment>, ServiceError> {
        let (ticket, partner) =
            self.attachment_ticket(principal, reference, Permission::CommentOnTickets, Permission::WorkDelegatedTickets).await?;
        if files.is_empty() {
            return Err(ValidationError::field("file", "send at least one file").into());
        }
        let comment = match comment {
            Some(seq) => Some((seq, self.comment_visibility(&ticket, seq, partner).await?)),
            None => None,
        };
        self.attach_files(&ticket, comment, files, principal.actor(), source, None).await
    }

    /// Attaches `files` for `actor` once the caller's right to has been settled: the API's and
    /// console's uploads above, and inbound mail, whose files come from the customer and are
    /// the message's owed parts (`from_mail`: attached once, however often tried).
    pub(crate) async fn attach_files(
        &self,
        ticket: &Ticket,
        comment: Option<(i64, Visibility)>,
        files: Vec<NewFile>,
        actor: steward_domain::event::Actor,
        source: AttachmentSource,
        from_mail: Option<steward_storage::attachments::FromMail<'_>>,
    ) -> Result<Vec<Attachment>, ServiceError> {
        let sizes: Vec<u64> = files.iter().map(|f| f.bytes.len() as u64).collect();
        // Checked once before touching the database, so an oversized upload costs no lock.
        self.attachment_limits.check(0, &sizes).map_err(|(i, refusal)| upload_refused(file_field(i.unwrap_or(0)), refusal))?;
        let now = Timestamp::now();
        let mut contents: HashMap<ContentDigest, Bytes> = HashMap::new();
        let mut planned: Vec<Attachment> = files
            .into_iter()
            .map(|f| {
                let a = Attachment::new(ticket.id, comment, f.name, &f.bytes, actor.clone(), now);
                contents.insert(a.sha256.clone(), f.bytes);
                a
            })
            .collect();
        // Ids of one instant differ in their random part: sorted, they list the files in the
        // order they were sent.
        let mut ids: Vec<AttachmentId> = planned.iter().map(|a| a.id).collect();
        ids.sort();
        for (a, id) in planned.iter_mut().zip(ids) {
            a.id = id;
        }
        let limits = self.attachment_limits;
        let blobs = self.blobs.clone();
        let contents = &contents;
        let outcome = self
            .store
            .add_attachments(
                ticket.id,
                &actor,
                from_mail,
                |used| {
                    limits.check(used, &sizes).map(|()| planned).map_err(|(i, refusal)| upload_refused(file_field(i.unwrap_or(0)), refusal))
                },
                |digest| {
                    let blobs = blobs.clone();
                    let bytes = contents.get(&digest).cloned().unwrap_or_default();
                    async move { blobs.store(&digest, bytes).await.map_err(blob_failure) }
                },
            )
            .await?;
        let added = outcome.ok_or(ServiceError::NotFound { what: "ticket" })??;
        self.changes_committed();
        self.metrics.observe_attachments(source, added.iter().map(|a| a.size));
        let events: Vec<_> = added.iter().map(Attachment::added_event).collect();
        self.notify_plugins(ticket.id, &events, &actor, now);
        Ok(added)
    }

    /// Attaches one file; see [`Services::add_attachments`].
    pub async fn add_attachment(
        &self,
        principal: &Principal,
        reference: TicketRef,
        comment: Option<i64>,
        file: NewFile,
        source: AttachmentSource,
    ) -> Result<Attachment, ServiceError> {
        let mut added = self.add_attachments(principal, reference, comment, vec![file], source).await?;
        Ok(added.remove(0))
    }

    /// A page of the ticket's live attachments in upload order (a partner's page leaves out
    /// those of internal comments).
    pub async fn list_attachments(
        &self,
        principal: &Principal,
        reference: TicketRef,
        after: Option<AttachmentId>,
        limit: u32,
    ) -> Result<AttachmentPage, ServiceError> {
        let (ticket, partner) =
            self.attachment_ticket(principal, reference, Permission::ReadTickets, Permission::ReadDelegatedTickets).await?;
        let mut attachments = self.store.list_attachments(ticket.id, after, limit + 1).await?;
        let next = if attachments.len() > limit as usize {
            attachments.truncate(limit as usize);
            attachments.last().map(|a| a.id)
        } else {
            None
        };
        if partner.is_some() {
            attachments.retain(|a| a.visibility == Visibility::Public);
        }
        Ok(AttachmentPage { attachments, next })
    }

    /// One live attachment's metadata.
    pub async fn get_attachment(&self, principal: &Principal, reference: TicketRef, id: AttachmentId) -> Result<Attachment, ServiceError> {
        let (ticket, partner) =
            self.attachment_ticket(principal, reference, Permission::ReadTickets, Permission::ReadDelegatedTickets).await?;
        match self.store.get_attachment(ticket.id, id).await? {
            Some(a) if partner.is_none() || a.visibility == Visibility::Public => Ok(a),
            _ => Err(ServiceError::NotFound { what: "attachment" }),
        }
    }

    /// One live attachment with its bytes.
    pub async fn open_attachment(
        &self,
        principal: &Principal,
        reference: TicketRef,
        id: AttachmentId,
    ) -> Result<(Attachment, Bytes), ServiceError> {
        let attachment = self.get_attachment(principal, reference, id).await?;
        let bytes = self.blobs.read(&attachment.sha256).await.map_err(blob_failure)?;
        Ok((attachment, bytes))
    }

    /// Deletes an attachment: an `attachment_deleted` event; its bytes go when no other live
    /// attachment shares them. Staff need to be allowed to change tickets; a partner may delete
    /// only what its own token attached, on its delegated tickets.
    pub async fn delete_attachment(
        &self,
        principal: &Principal,
        reference: TicketRef,
        id: AttachmentId,
    ) -> Result<Attachment, ServiceError> {
        let (ticket, partner) =
            self.attachment_ticket(principal, reference, Permission::WriteTickets, Permission::WorkDelegatedTickets).await?;
        let actor = principal.actor();
        let now = Timestamp::now();
        let blobs = self.blobs.clone();
        let outcome = self
            .store
            .delete_attachment(
                ticket.id,
                id,
                &actor,
                now,
                |a| match partner {
                    Some(_) if a.visibility == Visibility::Internal => Err(ServiceError::NotFound { what: "attachment" }),
                    Some(_) if a.added_by.token_id.is_none() || a.added_by.token_id != actor.token_id => {
                        Err(ServiceError::Forbidden(steward_domain::auth::Forbidden {
                            role: principal.role,
                            action: "delete an attachment another party added",
                        }))
                    }
                    _ => Ok(()),
                },
                |digest| async move { blobs.remove(&digest).await.map_err(blob_failure) },
            )
            .await?;
        let deleted = outcome.ok_or(ServiceError::NotFound { what: "attachment" })??;
        self.changes_committed();
        self.notify_plugins(ticket.id, &[deleted.deleted_event()], &actor, now);
        Ok(deleted)
    }

    /// The caps uploads are checked against.
    pub fn attachment_limits(&self) -> steward_domain::attachment::AttachmentLimits {
        self.attachment_limits
    }
}

fn upload_refused(field: String, refusal: UploadRefused) -> ServiceError {
    match refusal {
        UploadRefused::Empty => ValidationError::field(field, "the file is empty").into(),
        UploadRefused::FileTooLarge { limit, .. } => ServiceError::TooLarge { field, message: refusal.to_string(), limit },
        UploadRefused::TicketFull { limit, .. } => ServiceError::TooLarge { field, message: refusal.to_string(), limit },
    }
}
