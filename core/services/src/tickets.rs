use super::{ServiceError, Services};
use steward_domain::event::{Actor, EventData, RecordedEvent};
use steward_domain::idempotency::{IdempotencyClaim, StoredResponse};
use steward_domain::ids::{StaffId, TicketRef};
use steward_domain::ticket::{Change, ReopenRefused, SideWrite, Ticket, TicketDraft, TicketPatch, TicketQuery, Visibility};
use steward_domain::time::Timestamp;
use steward_domain::ValidationError;
use steward_storage::{unique, StoreError};

/// What reopening did.
pub enum Reopened {
    InPlace(Ticket),
    /// The window had passed: this new ticket follows the old one up.
    FollowUp(Ticket),
}

/// The outcome of a ticket creation that carried an Idempotency-Key.
pub enum CreateTicket {
    Created(Box<Ticket>),
    /// The key was used before for the same request: replay this response.
    Replay(StoredResponse),
    /// The key was used before for a different request.
    KeyReused,
}

impl Services {
    async fn check_assignable(&self, staff: StaffId, field: &'static str) -> Result<(), ServiceError> {
        match self.store.get_staff(staff).await? {
            Some(s) if s.active => Ok(()),
            Some(_) => Err(ServiceError::Conflict { field: Some(field), message: format!("staff member {staff} is not active") }),
            None => Err(ServiceError::Missing { field, message: format!("no staff member {staff}") }),
        }
    }

    /// Looks up an earlier response stored under this client's Idempotency-Key.
    pub async fn idempotent_replay(&self, principal: &str, key: &str, request_hash: &str) -> Result<Option<CreateTicket>, ServiceError> {
        let not_before = Timestamp::now().plus_millis(-self.idempotency_ttl_ms);
        Ok(self.store.find_idempotent_response(principal, key, not_before).await?.map(|stored| {
            if stored.request_hash == request_hash {
                CreateTicket::Replay(stored)
            } else {
                CreateTicket::KeyReused
            }
        }))
    }

    /// Opens a ticket. A complaint (or follow-up) names its `origin` ticket, which must exist.
    pub async fn create_ticket(
        &self,
        draft: TicketDraft,
        origin: Option<TicketRef>,
        actor: &Actor,
        claim: Option<IdempotencyClaim>,
    ) -> Result<CreateTicket, ServiceError> {
        self.create_ticket_importing(draft, origin, actor, claim, None).await
    }

    /// [`Services::create_ticket`], marking the inbound message `mail` imported in the same
    /// transaction when one is given.
    pub(crate) async fn create_ticket_importing(
        &self,
        mut draft: TicketDraft,
        origin: Option<TicketRef>,
        actor: &Actor,
        claim: Option<IdempotencyClaim>,
        mail: Option<steward_domain::mail_inbound::MailImport>,
    ) -> Result<CreateTicket, ServiceError> {
        if let Some(assignee) = draft.assignee {
            self.check_assignable(assignee, "assignee_id").await?;
            let process_key = draft.process.clone().unwrap_or_else(|| self.default_process.clone());
            if let Some(process) = self.processes.get(&process_key) {
                let stage = process.initial_stage().key.clone();
                self.certification_gate(assignee, &process_key, &stage, "assignee_id", None).await?;
            }
        }
        // The client names an origin only for a complaint; a follow-up names its own.
        if origin.is_some() {
            draft.check_origin_allowed().map_err(ValidationError::from)?;
        }
        let origin = match origin.or(draft.origin_ticket_id.map(TicketRef::Id)) {
            Some(reference) => {
                let ticket = self.store.get_ticket(reference).await?;
                let ticket = ticket
                    .ok_or_else(|| ServiceError::Missing { field: "origin_ticket_id", message: format!("no ticket `{reference}`") })?;
                draft.origin_ticket_id = Some(ticket.id);
                Some(ticket)
            }
            None => None,
        };
        let mut change = self.plan_new_ticket(Ticket::open(draft, &self.rules(), Timestamp::now())?);
        if let Some(mail) = mail {
            change.side.push(SideWrite::MailImported {
                mail: mail.mail,
                ticket: change.ticket.id,
                attachments_owed: mail.attachments_owed,
            });
        }
        if let Some(origin) = origin {
            // The ticket complained about (or followed up) records it in its own timeline.
            let t = &change.ticket;
            let event = if t.kind == steward_domain::ticket::Kind::Complaint {
                EventData::ComplaintReceived { complaint_id: t.id, number: String::new(), title: t.title.clone() }
            } else {
                EventData::FollowUpCreated { ticket_id: t.id, number: String::new() }
            };
            change.side.push(SideWrite::EventOnTicket(origin.id, event));
        }
        let claimed = claim.as_ref().map(|c| (c.principal.clone(), c.key.clone(), c.request_hash.clone()));
        match self.store.insert_ticket(&mut change, actor, claim).await {
            Ok(()) => {
                self.changes_committed();
                self.metrics.observe_ticket(None, &change.ticket, &change.events);
                self.notify_plugins(change.ticket.id, &change.events, actor, change.ticket.created_at);
                Ok(CreateTicket::Created(Box::new(change.ticket)))
            }
            // A concurrent request with the same key won the race: answer as it did.
            Err(StoreError::Duplicate { constraint }) if constraint == unique::IDEMPOTENCY_KEY => {
                let (principal, key, hash) = claimed.expect("only a claim takes an idempotency key");
                self.idempotent_replay(&principal, &key, &hash).await?.ok_or(ServiceError::Duplicate { constraint })
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_ticket(&self, reference: TicketRef) -> Result<Ticket, ServiceError> {
        self.store.get_ticket(reference).await?.ok_or(ServiceError::NotFound { what: "ticket" })
    }

    /// One page of tickets and, when more may follow, the id to continue below.
    pub async fn list_tickets(&self, mut query: TicketQuery) -> Result<(Vec<Ticket>, Option<String>), ServiceError> {
        let limit = query.limit as usize;
        query.limit += 1;
        let mut tickets = self.store.list_tickets(&query).await?;
        let next = if tickets.len() > limit {
            tickets.truncate(limit);
            tickets.last().map(|t| t.id.to_string())
        } else {
            None
        };
        Ok((tickets, next))
    }

    /// Applies `rule` to the ticket under a row lock and saves the result with its events.
    /// With `expected_version` the change applies only to that version (409 otherwise).
    pub(super) async fn modify_ticket(
        &self,
        reference: TicketRef,
        expected_version: Option<i64>,
        actor: &Actor,
        rule: impl FnOnce(&Ticket) -> Result<Change, ServiceError>,
    ) -> Result<Ticket, ServiceError> {
        let catalog = self.sla_catalog();
        let mut before = None;
        let outcome = self
            .store
            .change_ticket(reference, actor, |current, clocks| match expected_version {
                Some(expected) if expected != current.version => Err(ServiceError::StaleVersion { current: current.version }),
                _ => {
                    before = Some(current.clone());
                    let change = rule(current)?;
                    if change.is_empty() {
                        return Ok(change);
                    }
                    let now = change.ticket.updated_at;
                    Ok(self.settle_change(current, change, clocks, &catalog, now))
                }
            })
            .await?;
        match outcome {
            None => Err(ServiceError::NotFound { what: "ticket" }),
            Some(result) => result.map(|(ticket, events)| {
                // Also when no event of this ticket was written: a side write may have added one
                // to another ticket. A needless hint costs each stream one read.
                self.changes_committed();
                self.metrics.observe_ticket(before.as_ref(), &ticket, &events);
                self.notify_plugins(ticket.id, &events, actor, ticket.updated_at);
                ticket
            }),
        }
    }

    pub async fn update_ticket(
        &self,
        reference: TicketRef,
        expected_version: Option<i64>,
        patch: TicketPatch,
        override_reason: Option<&str>,
        actor: &Actor,
    ) -> Result<Ticket, ServiceError> {
        let mut overridden = None;
        if let Some(Some(assignee)) = patch.assignee {
            self.check_assignable(assignee, "assignee_id").await?;
            let current = self.get_ticket(reference).await?;
            if current.assignee != Some(assignee) {
                overridden = self.certification_gate(assignee, &current.process, &current.stage, "assignee_id", override_reason).await?;
            }
        }
        self.modify_ticket(reference, expected_version, actor, |t| {
            if t.status == steward_domain::ticket::Status::Closed && patch.status.is_some_and(|s| s != t.status) {
                // A well-formed edit the ticket as it stands refuses.
                return Err(ServiceError::Conflict {
                    field: Some("status"),
                    message: "the ticket is closed; its status cannot change".into(),
                });
            }
            let mut change = t.apply_patch(patch, &self.rules(), Timestamp::now())?;
            if let Some(event) = overridden {
                if !change.is_empty() {
                    change.events.push(event);
                }
            }
            Ok(change)
        })
        .await
    }

    /// Moves a ticket to another stage. The process decides first; then the plugins' guards
    /// are asked about the move as the ticket stands. With If-Match the move applies only to that
    /// version; without, it applies to the current one unless the stage or the assignee changed
    /// meanwhile (then the guards are asked again; after the last attempt that is a 409).
    pub async fn transition_ticket(
        &self,
        reference: TicketRef,
        to: &str,
        note: Option<String>,
        expected_version: Option<i64>,
        override_reason: Option<&str>,
        actor: &Actor,
    ) -> Result<Ticket, ServiceError> {
        const ATTEMPTS: usize = 3;
        for attempt in 1..=ATTEMPTS {
            let current = self.get_ticket(reference).await?;
            if let Some(expected) = expected_version {
                if expected != current.version {
                    return Err(ServiceError::StaleVersion { current: current.version });
                }
            }
            let process = self
                .processes
                .get(&current.process)
                .ok_or_else(|| ValidationError::field("to", format!("the ticket's process `{}` is no longer configured", current.process)))?
                .clone();
            // Moves the process refuses are reported as such: they reach neither the
            // certification gate nor the plugins.
            current.transition(&process, to, None, Timestamp::now())?;
            let overridden = match current.assignee {
                Some(assignee) => self.certification_gate(assignee, &current.process, to, "to", override_reason).await?,
                None => None,
            };
            self.guard_transition(&current, to).await?;
            let note = note.clone();
            // Without If-Match the move applies to the ticket as it stands under the row lock: a
            // comment or an edit meanwhile does not conflict. The guards' and the gate's answers
            // hold for the stage and the assignee they were asked about, so only a change of
            // either asks them again.
            let (stage, assignee) = (current.stage.clone(), current.assignee);
            let outcome = self
                .modify_ticket(reference, expected_version, actor, |t| {
                    if t.stage != stage || t.assignee != assignee {
                        return Err(ServiceError::StaleVersion { current: t.version });
                    }
                    let mut change = t.transition(&process, to, note, Timestamp::now())?;
                    change.events.extend(overridden);
                    Ok(change)
                })
                .await;
            match outcome {
                Err(ServiceError::StaleVersion { .. }) if expected_version.is_none() && attempt < ATTEMPTS => continue,
                other => return other,
            }
        }
        unreachable!("the last attempt returns")
    }

    /// Adds a comment. A comment from the customer on a resolved or closed ticket reopens it
    /// (or, past the reopen window, goes on a follow-up ticket, which is returned).
    pub async fn comment_on_ticket(
        &self,
        reference: TicketRef,
        body: &str,
        visibility: Visibility,
        from_customer: bool,
        actor: &Actor,
    ) -> Result<Ticket, ServiceError> {
        self.comment_importing(reference, body, visibility, from_customer, actor, None).await
    }

    /// [`Services::comment_on_ticket`], marking the inbound message `mail` imported in the
    /// comment's transaction when one is given.
    pub(crate) async fn comment_importing(
        &self,
        reference: TicketRef,
        body: &str,
        visibility: Visibility,
        from_customer: bool,
        actor: &Actor,
        mail: Option<steward_domain::mail_inbound::MailImport>,
    ) -> Result<Ticket, ServiceError> {
        let mut reference = reference;
        if from_customer && self.get_ticket(reference).await?.is_done() {
            if let Reopened::FollowUp(new) = self.reopen_ticket(reference, Some("the customer wrote again".into()), true, actor).await? {
                reference = TicketRef::Id(new.id);
            }
        }
        self.modify_ticket(reference, None, actor, |t| {
            let mut change = t.comment(body, visibility, from_customer, Timestamp::now())?;
            change.side.extend(mail.map(|m| SideWrite::MailImported { mail: m.mail, ticket: t.id, attachments_owed: m.attachments_owed }));
            Ok(change)
        })
        .await
    }

    /// Reopens a resolved or closed ticket within the reopen window; past it, opens a
    /// follow-up ticket linked to it.
    pub async fn reopen_ticket(
        &self,
        reference: TicketRef,
        reason: Option<String>,
        from_customer: bool,
        actor: &Actor,
    ) -> Result<Reopened, ServiceError> {
        let current = self.get_ticket(reference).await?;
        let back_to = self.store.stage_left_for(current.id, &current.stage).await?;
        let process = self.processes.get(&current.process).cloned().ok_or_else(|| {
            ValidationError::field("process", format!("the ticket's process `{}` is no longer configured", current.process))
        })?;
        let window = self.reopen_window_ms;
        let outcome = self
            .modify_ticket(TicketRef::Id(current.id), None, actor, |t| {
                match t.reopen(&process, back_to.as_deref(), reason.clone(), from_customer, window, Timestamp::now()) {
                    Ok(change) => Ok(change),
                    Err(ReopenRefused::NotDone(status)) => Err(ServiceError::Conflict {
                        field: Some("status"),
                        message: format!("the ticket is {status}; only resolved or closed tickets reopen"),
                    }),
                    Err(ReopenRefused::WindowPassed) => Err(ServiceError::ReopenWindowPassed),
                }
            })
            .await;
        match outcome {
            Ok(ticket) => Ok(Reopened::InPlace(ticket)),
            Err(ServiceError::ReopenWindowPassed) => {
                let mut title = format!("Follow-up to {}: {}", current.number, current.title);
                if title.chars().count() > steward_domain::ticket::MAX_TITLE_CHARS {
                    title = title.chars().take(steward_domain::ticket::MAX_TITLE_CHARS).collect();
                }
                let draft = TicketDraft {
                    title,
                    description: reason,
                    kind: current.kind,
                    channel: current.channel,
                    priority: current.priority,
                    customer_name: current.customer.name.clone(),
                    customer_contact: current.customer.contact.clone(),
                    customer_tier: Some(current.customer.tier.clone()),
                    process: Some(current.process.clone()),
                    assignee: None,
                    tags: current.tags.clone(),
                    custom_fields: None,
                    origin_ticket_id: Some(current.id),
                };
                match self.create_ticket(draft, None, actor, None).await? {
                    CreateTicket::Created(t) => Ok(Reopened::FollowUp(*t)),
                    _ => unreachable!("no idempotency key, no replay"),
                }
            }
            Err(e) => Err(e),
        }
    }

    pub async fn ticket_events(&self, reference: TicketRef, after_seq: i64, limit: u32) -> Result<Vec<RecordedEvent>, ServiceError> {
        let ticket = self.get_ticket(reference).await?;
        Ok(self.store.list_events(ticket.id, after_seq, limit).await?)
    }

    /// Forgets Idempotency-Keys past their time to live.
    pub async fn purge_expired_idempotency_keys(&self) -> Result<u64, ServiceError> {
        Ok(self.store.purge_idempotency_keys(Timestamp::now().plus_millis(-self.idempotency_ttl_ms)).await?)
    }
}
