//! Inbound mail: a message is stored raw (committed) before it is parsed, then parsed, threaded
//! and imported — a new ticket, or a public comment from the customer — or ignored (loops,
//! delivery reports) or quarantined with its reason. The import marks the message imported in
//! its own transaction, so a retry after a crash imports it exactly once.

pub mod imap;
mod parse;

use super::attachments::{AttachmentSource, NewFile};
use super::{CreateTicket, ServiceError, Services};
use crate::config::MailTicketDefaults;
use steward_domain::attachment::FileName;
use steward_domain::auth::{Permission, Principal};
use steward_domain::event::{Actor, ActorKind};
use steward_domain::ids::{InboundMailId, TicketId, TicketRef};
use steward_domain::mail_inbound::{
    Bounce, Disposition, InboundMail, InboundMailState, InboundPolicy, MailFacts, MailImport, MailReason, NewMail, RateLimit, StoredMail,
};
use steward_domain::ticket::{Channel, Kind, Priority, Ticket, TicketDraft, Visibility};
use steward_domain::ValidationError;
use steward_storage::attachments::FromMail;

/// Where a message came from: stored with it, shown in the quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailSource {
    /// `POST /api/v1/mail/inbound` by any client.
    Http,
    /// `steward mailgate`, an MTA's pipe.
    Mailgate,
    /// An IMAP mailbox, by its configured name.
    Imap(String),
}

impl MailSource {
    pub fn parse(field: &str, text: &str) -> Result<MailSource, steward_domain::FieldError> {
        match text {
            "http" => Ok(MailSource::Http),
            "mailgate" => Ok(MailSource::Mailgate),
            _ => Err(steward_domain::FieldError::new(field, format!("`{text}` is not one of: http, mailgate"))),
        }
    }

    pub fn label(&self) -> String {
        match self {
            MailSource::Http => "http".into(),
            MailSource::Mailgate => "mailgate".into(),
            MailSource::Imap(name) => format!("imap:{name}"),
        }
    }
}

/// What receiving a message came to.
#[derive(Debug, Clone)]
pub struct MailReceipt {
    pub mail: StoredMail,
    /// The Message-ID was stored before: nothing new was imported.
    pub duplicate: bool,
}

/// What an admin may set when turning a quarantined message into a ticket by hand.
#[derive(Debug, Clone, Default)]
pub struct ManualTicket {
    pub title: Option<String>,
    pub customer_name: Option<String>,
    pub customer_contact: Option<String>,
    /// The process to open it in; the mailbox's (or the inbound) default when absent.
    pub process: Option<String>,
}

/// What an admin reads of a stored message to judge it: its header lines as received and its
/// plain text as far as it reads (HTML turned into text, never rendered).
#[derive(Debug, Clone)]
pub struct MailReading {
    pub mail: StoredMail,
    /// (name, value) in order; values unfolded, not decoded.
    pub headers: Vec<(String, String)>,
    pub text: String,
}

/// Header lines shown of one message at most; the raw download keeps them all.
const MAX_SHOWN_HEADERS: usize = 200;

impl Services {
    fn inbound_policy(&self) -> InboundPolicy {
        let inbound = &self.mail.inbound;
        InboundPolicy {
            our_domain: self.mail.domain().map(str::to_owned),
            max_parts: inbound.max_parts,
            rate_limit: RateLimit { max_messages: inbound.rate_limit_messages, window_minutes: inbound.rate_limit_window_minutes },
        }
    }

    /// The largest message accepted, in bytes.
    pub fn max_message_bytes(&self) -> usize {
        self.mail.inbound.max_message_bytes
    }

    /// Receives one message handed in over HTTP (the mailgate, or any client with the right).
    pub async fn receive_mail(&self, principal: &Principal, raw: Vec<u8>, source: MailSource) -> Result<MailReceipt, ServiceError> {
        principal.require(Permission::ReceiveMail)?;
        let defaults = self.mail.inbound.defaults.clone();
        self.accept_mail(raw, source, &defaults).await
    }

    /// Stores the message (committed), then imports it. A Message-ID stored before answers
    /// with the stored message, imported again only if its import never finished.
    pub(crate) async fn accept_mail(
        &self,
        raw: Vec<u8>,
        source: MailSource,
        defaults: &MailTicketDefaults,
    ) -> Result<MailReceipt, ServiceError> {
        let limit = self.mail.inbound.max_message_bytes;
        if raw.len() > limit {
            self.metrics.observe_mail("refused");
            tracing::warn!(size = raw.len(), limit, source = %source.label(), "inbound message refused: over mail.inbound.max_message_bytes");
            return Err(ServiceError::TooLarge {
                field: "message".into(),
                message: format!("the message has {} bytes; at most {limit} are accepted (mail.inbound.max_message_bytes)", raw.len()),
                limit: u64::try_from(limit).unwrap_or(u64::MAX),
            });
        }
        let peek = parse::peek(&raw);
        let now = self.now();
        let new = NewMail {
            id: InboundMailId::new_at(now),
            message_id: peek.message_id,
            source: source.label(),
            received_at: now,
            raw,
            sender: peek.sender,
            subject: peek.subject,
        };
        let (stored, fresh) = self.store.store_mail(&new).await?;
        if fresh {
            self.metrics.observe_mail("received");
        }
        if stored.state != InboundMailState::Received {
            return Ok(MailReceipt { mail: stored, duplicate: true });
        }
        let raw = if fresh { new.raw } else { self.stored_raw(stored.id).await? };
        let mail = self.import_stored(&stored, &raw, defaults, false).await?;
        Ok(MailReceipt { mail, duplicate: !fresh })
    }

    async fn stored_raw(&self, id: InboundMailId) -> Result<Vec<u8>, ServiceError> {
        self.store.mail_raw(id).await?.ok_or(ServiceError::NotFound { what: "mail message" })
    }

    /// Parses, threads and imports one stored message; returns it as it then stands.
    async fn import_stored(
        &self,
        stored: &StoredMail,
        raw: &[u8],
        defaults: &MailTicketDefaults,
        by_admin: bool,
    ) -> Result<StoredMail, ServiceError> {
        let Some(mail) = parse::parse(raw) else {
            return self
                .settle(stored.id, InboundMailState::Quarantined, MailReason::MalformedMime, "nothing of it reads as a message")
                .await;
        };
        let policy = self.inbound_policy();
        let facts = self.mail_facts(stored, &mail, &policy, by_admin).await?;
        let disposition = mail.decide(&policy, &facts);
        let on_comment = matches!(disposition, Disposition::Comment(_));
        let files = mail_files(&mail);
        let import = MailImport { mail: stored.id, attachments_owed: !files.is_empty() };
        let outcome = match disposition {
            Disposition::Ignore(reason) => return self.settle(stored.id, InboundMailState::Ignored, reason, "").await,
            Disposition::Quarantine { reason, detail } => {
                return self.settle(stored.id, InboundMailState::Quarantined, reason, &detail).await
            }
            Disposition::Bounce(contacts) => {
                self.store.record_bounces(stored.id, &contacts, self.now()).await?;
                self.metrics.observe_mail("ignored");
                tracing::info!(mail = %stored.id, contacts = ?contacts, "delivery report: contacts marked bouncing");
                return self.reread(stored.id).await;
            }
            Disposition::Comment(ticket) => {
                let body = comment_text(&mail);
                self.comment_importing(TicketRef::Id(ticket), &body, Visibility::Public, true, &customer_actor(&mail), Some(import))
                    .await
                    .map(|_| ())
            }
            Disposition::NewTicket => self.open_ticket_from_mail(import, &mail, defaults).await,
        };
        match outcome {
            Ok(()) => {
                self.metrics.observe_mail("imported");
                let imported = self.reread(stored.id).await?;
                if import.attachments_owed {
                    let comment = on_comment.then_some(imported.event_seq).flatten().map(|seq| (seq, Visibility::Public));
                    self.attach_mail_files(&imported, comment, files, &customer_actor(&mail)).await;
                    return self.reread(stored.id).await;
                }
                Ok(imported)
            }
            // Imported meanwhile by a concurrent attempt: the stored row says how.
            Err(ServiceError::AlreadyDone(_)) => self.reread(stored.id).await,
            // A rule refused what the message would write: an admin decides.
            Err(ServiceError::Invalid(e)) => {
                self.settle(stored.id, InboundMailState::Quarantined, MailReason::Refused, &e.to_string()).await
            }
            Err(e) => Err(e),
        }
    }

    async fn mail_facts(
        &self,
        stored: &StoredMail,
        mail: &InboundMail,
        policy: &InboundPolicy,
        by_admin: bool,
    ) -> Result<MailFacts, ServiceError> {
        let keys = mail.thread_keys(policy.our_domain.as_deref());
        let recorded_ticket = self.store.ticket_of_message_ids(&keys.referenced).await?;
        let mut our_ticket = None;
        for id in &keys.our_tickets {
            if self.store.get_ticket(TicketRef::Id(*id)).await?.is_some() {
                our_ticket = Some(*id);
                break;
            }
        }
        let subject_ticket = match keys.subject_number {
            Some(number) => self.store.get_ticket(TicketRef::Number(number)).await?.map(|t| t.id),
            None => None,
        };
        // An admin's retry has judged the sender: the rate limit does not hold it back again.
        let recent_from_sender = match (mail.sender_key(), by_admin) {
            (Some(sender), false) => {
                self.store.count_mail_from(&sender, stored.received_at.plus_millis(-policy.rate_limit.window_ms()), stored.id).await?
            }
            _ => 0,
        };
        Ok(MailFacts { recorded_ticket, our_ticket, subject_ticket, recent_from_sender })
    }

    async fn open_ticket_from_mail(
        &self,
        import: MailImport,
        mail: &InboundMail,
        defaults: &MailTicketDefaults,
    ) -> Result<(), ServiceError> {
        let contact = mail.from.as_ref().map(|f| f.address.clone());
        let draft = email_draft(mail.title(), mail.body_text(), mail.customer_name().unwrap_or_default(), contact, defaults)?;
        match self.create_ticket_importing(draft, None, &customer_actor(mail), None, Some(import)).await? {
            CreateTicket::Created(_) => Ok(()),
            _ => unreachable!("no idempotency key, no replay"),
        }
    }

    /// Attaches the files the imported message owes (its attachments and inline images) to its
    /// ticket, or to the comment (`seq`) it became, as `actor`, marking them attached in the
    /// same transaction. The import has committed by now: a failure (the attachment store)
    /// leaves them owed, for the pending-mail pass; a refusal (over a cap) is recorded on the
    /// message. Either way the raw message keeps them.
    async fn attach_mail_files(
        &self,
        imported: &StoredMail,
        comment: Option<(i64, Visibility)>,
        files: Vec<(i64, NewFile)>,
        actor: &Actor,
    ) -> AttachedFiles {
        let id = imported.id;
        let Some(ticket) = imported.ticket_id else { return AttachedFiles::Failed };
        let (parts, files): (Vec<i64>, Vec<NewFile>) = files.into_iter().unzip();
        let from_mail = FromMail { mail: id, parts: &parts };
        let attached = match self.store.get_ticket(TicketRef::Id(ticket)).await {
            Ok(Some(ticket)) => self.attach_files(&ticket, comment, files, actor.clone(), AttachmentSource::Mail, Some(from_mail)).await,
            Ok(None) => Err(ServiceError::NotFound { what: "ticket" }),
            Err(e) => Err(e.into()),
        };
        match attached {
            Ok(added) => {
                tracing::info!(mail = %id, ticket = %ticket, attachments = added.len(), "inbound attachments attached");
                AttachedFiles::Attached
            }
            Err(ServiceError::AlreadyDone(_)) => AttachedFiles::Unowed,
            Err(e @ (ServiceError::TooLarge { .. } | ServiceError::Invalid(_))) => {
                tracing::warn!(mail = %id, ticket = %ticket, error = %e, "inbound attachments refused; the raw message keeps them");
                match self.store.refuse_mail_attachments(id, &e.to_string(), self.now()).await {
                    Ok(_) => AttachedFiles::Refused,
                    Err(e) => {
                        tracing::warn!(mail = %id, error = %e, "the refusal of inbound attachments could not be recorded");
                        AttachedFiles::Failed
                    }
                }
            }
            Err(e) => {
                tracing::warn!(mail = %id, ticket = %ticket, error = %e, "inbound attachments not attached yet: owed, to be retried");
                AttachedFiles::Failed
            }
        }
    }

    /// Attaches the files a message imported earlier still owes, from its raw bytes: to the
    /// comment it became when its import's last event is that comment, else to the ticket.
    async fn attach_owed_files(&self, owed: &StoredMail) -> Result<AttachedFiles, ServiceError> {
        let raw = self.stored_raw(owed.id).await?;
        let mail = parse::parse(&raw).unwrap_or_default();
        let files = mail_files(&mail);
        let Some(ticket_id) = owed.ticket_id else { return Ok(AttachedFiles::Failed) };
        if files.is_empty() {
            // Cannot be (the import found files in the same bytes); say so rather than retry forever.
            self.store.refuse_mail_attachments(owed.id, "no files found in the stored message", self.now()).await?;
            return Ok(AttachedFiles::Refused);
        }
        let ticket = self.store.get_ticket(TicketRef::Id(ticket_id)).await?.ok_or(ServiceError::NotFound { what: "ticket" })?;
        let comment = match owed.event_seq {
            Some(seq) => self.comment_visibility(&ticket, seq, None).await.ok().map(|visibility| (seq, visibility)),
            None => None,
        };
        Ok(self.attach_mail_files(owed, comment, files, &customer_actor(&mail)).await)
    }

    async fn settle(
        &self,
        id: InboundMailId,
        state: InboundMailState,
        reason: MailReason,
        detail: &str,
    ) -> Result<StoredMail, ServiceError> {
        let detail = (!detail.is_empty()).then_some(detail);
        if self.store.settle_mail(id, state, reason, detail, self.now()).await? {
            self.metrics.observe_mail(state.as_str());
            tracing::info!(mail = %id, state = state.as_str(), reason = reason.as_str(), detail, "inbound message not imported");
        }
        self.reread(id).await
    }

    async fn reread(&self, id: InboundMailId) -> Result<StoredMail, ServiceError> {
        self.store.get_inbound_mail(id).await?.ok_or(ServiceError::NotFound { what: "mail message" })
    }

    /// One page of the quarantine, oldest first, and the id to continue after.
    pub async fn list_quarantine(
        &self,
        principal: &Principal,
        after: Option<InboundMailId>,
        limit: u32,
    ) -> Result<(Vec<StoredMail>, Option<String>), ServiceError> {
        principal.require(Permission::ManageMail)?;
        let mut page = self.store.list_inbound_mail(InboundMailState::Quarantined, after, limit + 1).await?;
        let next = if page.len() > limit as usize {
            page.truncate(limit as usize);
            page.last().map(|m| m.id.to_string())
        } else {
            None
        };
        Ok((page, next))
    }

    pub async fn get_inbound_mail(&self, principal: &Principal, id: InboundMailId) -> Result<StoredMail, ServiceError> {
        principal.require(Permission::ManageMail)?;
        self.reread(id).await
    }

    /// Imports a quarantined message again, under today's configuration and tickets (the rate
    /// limit aside: the admin has judged the sender).
    pub async fn retry_inbound_mail(&self, principal: &Principal, id: InboundMailId) -> Result<StoredMail, ServiceError> {
        principal.require(Permission::ManageMail)?;
        let stored = self.quarantined(id).await?;
        let raw = self.stored_raw(id).await?;
        let defaults = self.defaults_for(&stored.source);
        self.import_stored(&stored, &raw, &defaults, true).await
    }

    /// Opens a ticket from a quarantined message whatever its defects: the text as far as it
    /// reads, characters no ticket may hold replaced, the admin's title and customer first.
    pub async fn mail_to_ticket(&self, principal: &Principal, id: InboundMailId, manual: ManualTicket) -> Result<Ticket, ServiceError> {
        principal.require(Permission::ManageMail)?;
        let stored = self.quarantined(id).await?;
        let raw = self.stored_raw(id).await?;
        let mail = readable(&stored, &raw);
        let mut defaults = self.defaults_for(&stored.source);
        if manual.process.is_some() {
            defaults.process = manual.process;
        }
        let description = clean_text(&mail.body_text());
        let title = manual.title.unwrap_or_else(|| clean_text(&mail.title()).replace(['\r', '\n'], " "));
        let customer_name =
            manual.customer_name.or_else(|| mail.customer_name().map(|n| clean_text(&n))).unwrap_or_else(|| "unknown sender".into());
        let customer_contact = manual.customer_contact.or_else(|| mail.from.as_ref().map(|f| clean_text(&f.address)));
        let draft = email_draft(title, description, customer_name, customer_contact, &defaults)?;
        let files = mail_files(&mail);
        let import = MailImport { mail: id, attachments_owed: !files.is_empty() };
        match self.create_ticket_importing(draft, None, &principal.actor(), None, Some(import)).await {
            Ok(CreateTicket::Created(ticket)) => {
                self.metrics.observe_mail("imported");
                if import.attachments_owed {
                    let imported = self.reread(id).await?;
                    self.attach_mail_files(&imported, None, files, &principal.actor()).await;
                }
                Ok(*ticket)
            }
            Ok(_) => unreachable!("no idempotency key, no replay"),
            Err(ServiceError::AlreadyDone(_)) => {
                Err(ServiceError::Conflict { field: None, message: "the message was imported meanwhile".into() })
            }
            Err(e) => Err(e),
        }
    }

    /// A stored message (any state) with its header lines and text, for the quarantine's page.
    pub async fn read_inbound_mail(&self, principal: &Principal, id: InboundMailId) -> Result<MailReading, ServiceError> {
        principal.require(Permission::ManageMail)?;
        let mail = self.reread(id).await?;
        let raw = self.stored_raw(id).await?;
        let headers = parse::header_lines(&raw, MAX_SHOWN_HEADERS);
        let read = readable(&mail, &raw);
        let text = match (&read.text, &read.html) {
            (Some(text), _) if !text.trim().is_empty() => text.clone(),
            (_, Some(html)) => steward_domain::mail_inbound::html_to_text(html),
            _ => String::new(),
        };
        Ok(MailReading { mail, headers, text: clean_text(&text) })
    }

    /// A stored message's bytes exactly as received (`ManageMail`).
    pub async fn inbound_mail_raw(&self, principal: &Principal, id: InboundMailId) -> Result<Vec<u8>, ServiceError> {
        principal.require(Permission::ManageMail)?;
        self.stored_raw(id).await
    }

    /// The last event each message imported into `ticket` wrote there, in order: the ticket page
    /// marks what arrived by mail. The caller has checked that the viewer may see the ticket.
    pub async fn mail_event_seqs(&self, ticket: TicketId) -> Result<Vec<i64>, ServiceError> {
        Ok(self.store.mail_event_seqs(ticket).await?)
    }

    async fn quarantined(&self, id: InboundMailId) -> Result<StoredMail, ServiceError> {
        let stored = self.reread(id).await?;
        if stored.state != InboundMailState::Quarantined {
            return Err(ServiceError::Conflict { field: None, message: format!("the message is {}, not quarantined", stored.state) });
        }
        Ok(stored)
    }

    /// The ticket defaults for messages from `source`: its mailbox's, over the inbound ones.
    fn defaults_for(&self, source: &str) -> MailTicketDefaults {
        let inbound = &self.mail.inbound.defaults;
        match source.strip_prefix("imap:").and_then(|name| self.mail.mailboxes.iter().find(|m| m.name == name)) {
            Some(mailbox) => inbound.overridden_by(&mailbox.defaults),
            None => inbound.clone(),
        }
    }

    /// Finishes interrupted imports, oldest first: imports stored messages whose import never
    /// committed (a crash between storing and importing), and attaches the files that imported
    /// messages still owe (a crash or a failing attachment store after the import). Each waits
    /// `mail.inbound.retry_after_secs` first. The worker's pass; returns how many it settled.
    pub async fn import_pending_mail(&self) -> Result<usize, ServiceError> {
        let older_than =
            self.now().plus_millis(-i64::try_from(self.mail.inbound.retry_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX));
        let mut done = 0;
        for stored in self.store.list_inbound_mail(InboundMailState::Received, None, 100).await? {
            if stored.received_at > older_than {
                continue;
            }
            let raw = self.stored_raw(stored.id).await?;
            let defaults = self.defaults_for(&stored.source);
            self.import_stored(&stored, &raw, &defaults, false).await?;
            done += 1;
        }
        for owed in self.store.list_owed_attachments(older_than, 100).await? {
            // One message's trouble (logged) does not hold back the others' files.
            match self.attach_owed_files(&owed).await {
                Ok(AttachedFiles::Attached | AttachedFiles::Refused) => done += 1,
                Ok(AttachedFiles::Unowed | AttachedFiles::Failed) => {}
                Err(e) => tracing::warn!(mail = %owed.id, error = %e, "owed inbound attachments not attached"),
            }
        }
        Ok(done)
    }

    /// Whether mail to this contact bounces, and since when.
    pub async fn contact_bounce(&self, contact: &str) -> Result<Option<Bounce>, ServiceError> {
        Ok(self.store.contact_bounce(contact).await?)
    }
}

/// The message as far as it reads: parsed, or (when nothing of it reads as a message) its
/// bytes as text under the stored subject.
fn readable(stored: &StoredMail, raw: &[u8]) -> InboundMail {
    parse::parse(raw).unwrap_or_else(|| InboundMail {
        text: Some(String::from_utf8_lossy(raw).into_owned()),
        subject: stored.subject.clone(),
        ..InboundMail::default()
    })
}

/// What attaching a message's owed files came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttachedFiles {
    Attached,
    /// Over a cap: recorded on the message, not tried again.
    Refused,
    /// Not owed any more: another attempt attached them meanwhile.
    Unowed,
    /// Still owed: the pending-mail pass tries again.
    Failed,
}

/// The files of a message worth attaching (attachment parts and inline images, empty ones
/// left out), each with its part number (its place among the message's attachment parts,
/// which the same bytes always parse to): the key that attaches each once.
fn mail_files(mail: &InboundMail) -> Vec<(i64, NewFile)> {
    (0i64..)
        .zip(&mail.attachments)
        .filter(|(_, a)| !a.bytes.is_empty())
        .map(|(part, a)| {
            let name = FileName::sanitize(a.file_name.as_deref().unwrap_or_default());
            (part, NewFile { name, bytes: a.bytes.clone().into() })
        })
        .collect()
}

/// A ticket opened from mail: channel `email`, the mail defaults' process, priority, tier and tags.
fn email_draft(
    title: String,
    description: String,
    customer_name: String,
    customer_contact: Option<String>,
    defaults: &MailTicketDefaults,
) -> Result<TicketDraft, ServiceError> {
    let priority = match defaults.priority.as_deref() {
        Some(p) => Priority::parse("mail.inbound.defaults.priority", p).map_err(ValidationError::from)?,
        None => Priority::Normal,
    };
    Ok(TicketDraft {
        title,
        description: (!description.is_empty()).then_some(description),
        kind: Kind::Request,
        channel: Channel::Email,
        priority,
        customer_name,
        customer_contact,
        customer_tier: defaults.tier.clone(),
        process: defaults.process.clone(),
        assignee: None,
        tags: defaults.tags.clone(),
        custom_fields: None,
        origin_ticket_id: None,
    })
}

/// The customer, as the timeline records a message from them.
fn customer_actor(mail: &InboundMail) -> Actor {
    Actor { kind: ActorKind::Customer, token_id: None, staff_id: None, name: mail.customer_name().unwrap_or_else(|| "customer".into()) }
}

/// The comment a reply becomes; a reply with no text of its own still says it came.
fn comment_text(mail: &InboundMail) -> String {
    let body = mail.body_text();
    if body.is_empty() {
        "(a message without text)".into()
    } else {
        body
    }
}

/// Text with the characters no ticket may hold replaced by U+FFFD, for the admin's by-hand
/// import of a message whose text carries them.
fn clean_text(text: &str) -> String {
    text.chars()
        .map(|c| if steward_domain::text::forbidden_character(c.encode_utf8(&mut [0; 4])).is_some() { '\u{FFFD}' } else { c })
        .collect()
}
