//! Tickets and the rules for opening, editing, moving and commenting on them. Each rule returns
//! the next state of the ticket and the events that explain it; storage writes both at once.

use super::{
    error::Errors,
    event::{EventData, FieldChange},
    ids::{StaffId, TicketId, TicketNumber},
    process::{Process, TransitionError},
    string_enum,
    time::Timestamp,
    FieldError, ValidationError,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

string_enum! {
    pub enum Kind {
        Request => "request",
        Incident => "incident",
        Complaint => "complaint",
    }
}

string_enum! {
    pub enum Channel {
        Phone => "phone",
        Email => "email",
        Chat => "chat",
        Web => "web",
        Onsite => "onsite",
    }
}

string_enum! {
    pub enum Priority {
        Urgent => "urgent",
        High => "high",
        Normal => "normal",
        Low => "low",
    }
}

string_enum! {
    pub enum Status {
        Open => "open",
        WaitingCustomer => "waiting_customer",
        WaitingPartner => "waiting_partner",
        Resolved => "resolved",
        Closed => "closed",
    }
}

string_enum! {
    pub enum Visibility {
        Public => "public",
        Internal => "internal",
    }
}

// Text limits count characters (Unicode scalar values) as sent, before trimming, so that the
// OpenAPI document can state them exactly (JSON Schema's maxLength counts the same way).
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 64 * 1024;
pub const MAX_COMMENT_CHARS: usize = 64 * 1024;
pub const MAX_CUSTOMER_NAME_CHARS: usize = 200;
pub const MAX_CONTACT_CHARS: usize = 200;
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG_CHARS: usize = 64;
/// The characters a tag is made of (ASCII letters, case-insensitive, digits and these marks).
pub const TAG_MARKS: &str = "-_:./";
pub const MAX_CUSTOM_FIELDS_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub name: String,
    pub contact: Option<String>,
    pub tier: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub id: TicketId,
    pub number: TicketNumber,
    pub title: String,
    pub description: String,
    pub kind: Kind,
    pub channel: Channel,
    pub priority: Priority,
    pub customer: Customer,
    pub process: String,
    pub process_version: u32,
    pub stage: String,
    pub status: Status,
    pub assignee: Option<StaffId>,
    pub tags: Vec<String>,
    pub custom_fields: Map<String, Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub first_response_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    pub reopen_count: u32,
    /// A complaint's ticket complained about, or a follow-up's earlier ticket.
    pub origin_ticket_id: Option<TicketId>,
    /// The stage whose latest quality review passed; cleared when the ticket changes stage.
    pub review_passed_stage: Option<String>,
    /// Public replies to the customer from staff or partners (first-contact resolution counts
    /// them).
    pub staff_replies: u32,
    /// Increases by one with every change; the ETag clients send back in If-Match.
    pub version: i64,
}

/// What the configuration says about tickets: the customer tiers and the processes.
pub struct TicketRules<'a> {
    pub tiers: &'a [String],
    pub default_process: &'a str,
    pub processes: &'a super::process::ProcessRegistry,
}

/// A new ticket as the client described it (enums already typed by the wire layer).
#[derive(Debug, Clone)]
pub struct TicketDraft {
    pub title: String,
    pub description: Option<String>,
    pub kind: Kind,
    pub channel: Channel,
    pub priority: Priority,
    pub customer_name: String,
    pub customer_contact: Option<String>,
    pub customer_tier: Option<String>,
    pub process: Option<String>,
    pub assignee: Option<StaffId>,
    pub tags: Vec<String>,
    pub custom_fields: Option<Value>,
    pub origin_ticket_id: Option<TicketId>,
}

impl TicketDraft {
    /// Only a complaint names the ticket it is about (a follow-up's origin is set by the
    /// reopen rule, not by a client).
    pub fn check_origin_allowed(&self) -> Result<(), FieldError> {
        match self.kind {
            Kind::Complaint => Ok(()),
            _ => Err(FieldError::new("origin_ticket_id", "only complaints (kind `complaint`) name an origin ticket")),
        }
    }
}

/// A partial edit. `Some(None)` clears an optional field. `custom_fields` is a JSON merge
/// patch (RFC 7396): keys set to null are removed.
#[derive(Debug, Clone, Default)]
pub struct TicketPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub kind: Option<Kind>,
    pub channel: Option<Channel>,
    pub priority: Option<Priority>,
    pub customer_name: Option<String>,
    pub customer_contact: Option<Option<String>>,
    pub customer_tier: Option<String>,
    pub status: Option<Status>,
    pub assignee: Option<Option<StaffId>>,
    pub tags: Option<Vec<String>>,
    pub custom_fields: Option<Value>,
}

/// A ticket's next state, the events that record how it got there, what it means for the
/// ticket's SLA clocks, and the records that go with it. Storage writes all of it in one
/// transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub ticket: Ticket,
    pub events: Vec<EventData>,
    /// Clocks to write and SLA alerts to claim; `alerts[i].event` indexes `events`.
    pub sla: super::sla_engine::ClockPlan,
    pub side: Vec<SideWrite>,
}

/// Records written with a ticket change.
#[derive(Debug, Clone, PartialEq)]
pub enum SideWrite {
    IssueSurvey(super::feedback::Survey),
    /// Records the answer; fails the whole change if the survey was answered meanwhile.
    AnswerSurvey {
        token: String,
        score: u8,
        comment: Option<String>,
        at: Timestamp,
    },
    RecordReview(super::feedback::Review),
    /// An event on another ticket (a complaint's origin, a follow-up's predecessor).
    EventOnTicket(TicketId, EventData),
    /// Hands the ticket to a partner (fails the change if it already has an active delegation).
    Delegate(super::partner::Delegation),
    /// Ends the ticket's active delegation.
    WithdrawDelegation {
        ticket_id: TicketId,
        at: Timestamp,
    },
    /// Marks the inbound message this change imports as imported (fails the change if it was
    /// imported meanwhile, so a message is imported once).
    MailImported {
        mail: super::ids::InboundMailId,
        ticket: TicketId,
        /// Its files are attached after the import commits: marked owed until they are.
        attachments_owed: bool,
    },
}

impl Change {
    pub fn new(ticket: Ticket, events: Vec<EventData>) -> Self {
        Change { ticket, events, sla: Default::default(), side: Vec::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.sla.clocks.is_empty()
    }

    /// Adds the SLA engine's plan: its events follow the ticket's own.
    pub fn with_sla(mut self, mut plan: super::sla_engine::ClockPlan) -> Self {
        let offset = self.events.len();
        for alert in &mut plan.alerts {
            alert.event += offset;
        }
        self.events.append(&mut plan.events);
        self.sla = plan;
        self
    }
}

/// Which tickets to list: every field narrows the set. Pages run newest first, continuing
/// below `before` (the last id of the previous page).
#[derive(Debug, Clone, Default)]
pub struct TicketQuery {
    pub status: Option<Status>,
    pub stage: Option<String>,
    pub process: Option<String>,
    pub priority: Option<Priority>,
    pub channel: Option<Channel>,
    pub kind: Option<Kind>,
    pub tier: Option<String>,
    pub assignee: Option<StaffId>,
    pub tag: Option<String>,
    pub created_after: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    /// Case-insensitive text that the title must contain.
    pub title_contains: Option<String>,
    /// Only tickets actively delegated to this partner (a partner token's listing).
    pub delegated_to: Option<super::ids::PartnerId>,
    pub before: Option<TicketId>,
    pub limit: u32,
    /// Newest first (the API's order) or soonest SLA due first (the queues').
    pub sort: TicketSort,
    /// Only tickets still worked: not resolved or closed.
    pub active_only: bool,
    /// Only tickets without an assignee.
    pub unassigned: bool,
    /// Only tickets assigned to a member of this team.
    pub team: Option<String>,
    /// Only tickets in this SLA band.
    pub band: Option<super::queue::SlaBand>,
    /// Only tickets actively delegated to a partner (any partner).
    pub delegated: bool,
    /// With [`TicketSort::SlaDue`]: continue after this (due key, id), the previous page's last.
    pub after_due: Option<(i64, TicketId)>,
}

/// The order of a ticket listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TicketSort {
    #[default]
    Newest,
    /// Soonest due running clock first; tickets without one last ([`super::queue::NO_DUE`]).
    SlaDue,
}

/// Lower-cased form of a title used for case-insensitive search on every backend alike.
pub fn search_form(text: &str) -> String {
    text.to_lowercase()
}

/// Why a ticket cannot be reopened in place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReopenRefused {
    #[error("the ticket is {0}, not resolved or closed")]
    NotDone(Status),
    #[error("the reopen window has passed")]
    WindowPassed,
}

fn validate_title(title: &str) -> Result<String, FieldError> {
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(FieldError::new("title", format!("must be at most {MAX_TITLE_CHARS} characters")));
    }
    match title.trim() {
        "" => Err(FieldError::new("title", "must not be empty")),
        title => Ok(title.to_owned()),
    }
}

fn validate_description(text: &str) -> Result<String, FieldError> {
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(FieldError::new("description", format!("must be at most {MAX_DESCRIPTION_CHARS} characters")));
    }
    Ok(text.to_owned())
}

fn validate_customer_name(name: &str) -> Result<String, FieldError> {
    if name.chars().count() > MAX_CUSTOMER_NAME_CHARS {
        return Err(FieldError::new("customer.name", format!("must be at most {MAX_CUSTOMER_NAME_CHARS} characters")));
    }
    match name.trim() {
        "" => Err(FieldError::new("customer.name", "must not be empty")),
        name => Ok(name.to_owned()),
    }
}

fn validate_contact(contact: Option<&str>) -> Result<Option<String>, FieldError> {
    if contact.is_some_and(|c| c.chars().count() > MAX_CONTACT_CHARS) {
        return Err(FieldError::new("customer.contact", format!("must be at most {MAX_CONTACT_CHARS} characters")));
    }
    match contact.map(str::trim) {
        None | Some("") => Ok(None),
        Some(c) => Ok(Some(c.to_owned())),
    }
}

fn validate_tier(tier: &str, tiers: &[String]) -> Result<String, FieldError> {
    if tiers.iter().any(|t| t == tier) {
        Ok(tier.to_owned())
    } else {
        Err(FieldError::new("customer.tier", format!("`{tier}` is not one of: {}", tiers.join(", "))))
    }
}

/// Tags are lower-cased, trimmed, deduplicated and kept in the order given.
pub fn normalize_tags(tags: &[String]) -> Result<Vec<String>, FieldError> {
    if tags.len() > MAX_TAGS {
        return Err(FieldError::new("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let tag = normalize_tag(tag).map_err(|message| FieldError::new(format!("tags[{i}]"), message))?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// One tag in its stored form, or why it cannot be one: at most [`MAX_TAG_CHARS`] as sent,
/// trimmed, not blank, ASCII letters (stored lower-case), digits and [`TAG_MARKS`].
pub fn normalize_tag(tag: &str) -> Result<String, String> {
    let trimmed = tag.trim();
    if trimmed.is_empty() || tag.chars().count() > MAX_TAG_CHARS {
        return Err(format!("a tag has 1 to {MAX_TAG_CHARS} characters"));
    }
    if !trimmed.chars().all(|c| c.is_ascii_alphanumeric() || TAG_MARKS.contains(c)) {
        return Err(format!("`{trimmed}` may contain only ASCII letters, digits and - _ : . /"));
    }
    Ok(trimmed.to_ascii_lowercase())
}

fn validate_custom_fields(value: Value) -> Result<Map<String, Value>, FieldError> {
    let Value::Object(map) = value else {
        return Err(FieldError::new("custom_fields", "must be a JSON object"));
    };
    check_custom_fields_size(&map)?;
    Ok(map)
}

fn check_custom_fields_size(map: &Map<String, Value>) -> Result<(), FieldError> {
    let size = serde_json::to_vec(map).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_CUSTOM_FIELDS_BYTES {
        return Err(FieldError::new("custom_fields", format!("must be at most {MAX_CUSTOM_FIELDS_BYTES} bytes as JSON")));
    }
    Ok(())
}

/// RFC 7396 merge of `patch` into `target`.
fn merge_patch(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(&key);
            }
            Value::Object(inner) => {
                let slot = target.entry(key).or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                if let Value::Object(slot) = slot {
                    merge_patch(slot, inner);
                }
            }
            other => {
                target.insert(key, other);
            }
        }
    }
}

fn json<T: serde::Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl Ticket {
    /// Opens a ticket from a draft: validates it against the rules and places it in the
    /// first stage of its process. The number is allocated by storage.
    pub fn open(draft: TicketDraft, rules: &TicketRules<'_>, now: Timestamp) -> Result<Change, ValidationError> {
        let mut errors = Errors::default();
        let title = errors.take(validate_title(&draft.title));
        let description = errors.take(validate_description(draft.description.as_deref().unwrap_or("")));
        let customer_name = errors.take(validate_customer_name(&draft.customer_name));
        let contact = errors.take(validate_contact(draft.customer_contact.as_deref()));
        let default_tier = rules.tiers.first().map(String::as_str).unwrap_or("standard");
        let tier = errors.take(validate_tier(draft.customer_tier.as_deref().unwrap_or(default_tier), rules.tiers));
        let tags = errors.take(normalize_tags(&draft.tags));
        let custom_fields = errors.take(validate_custom_fields(draft.custom_fields.unwrap_or(Value::Object(Map::new()))));
        let process_key = draft.process.as_deref().unwrap_or(rules.default_process);
        let process = rules.processes.get(process_key);
        if process.is_none() {
            let known: Vec<_> = rules.processes.iter().map(|p| p.key.as_str()).collect();
            errors.push(FieldError::new("process", format!("`{process_key}` is not one of: {}", known.join(", "))));
        }
        errors.finish()?;
        let process = process.expect("validated");
        let stage = process.initial_stage();

        let ticket = Ticket {
            id: TicketId::new_at(now),
            number: TicketNumber(0),
            title: title.expect("validated"),
            description: description.expect("validated"),
            kind: draft.kind,
            channel: draft.channel,
            priority: draft.priority,
            customer: Customer {
                name: customer_name.expect("validated"),
                contact: contact.expect("validated"),
                tier: tier.expect("validated"),
            },
            process: process.key.clone(),
            process_version: process.version,
            stage: stage.key.clone(),
            status: Status::Open,
            assignee: draft.assignee,
            tags: tags.expect("validated"),
            custom_fields: custom_fields.expect("validated"),
            created_at: now,
            updated_at: now,
            first_response_at: None,
            resolved_at: None,
            closed_at: None,
            reopen_count: 0,
            origin_ticket_id: draft.origin_ticket_id,
            review_passed_stage: None,
            staff_replies: 0,
            version: 1,
        };
        let mut events = vec![EventData::Created {
            number: String::new(),
            process: ticket.process.clone(),
            process_version: ticket.process_version,
            stage: ticket.stage.clone(),
            status: ticket.status,
            priority: ticket.priority,
            channel: ticket.channel.to_string(),
            kind: ticket.kind.to_string(),
            tier: ticket.customer.tier.clone(),
            origin_ticket_id: ticket.origin_ticket_id,
        }];
        if let Some(assignee) = ticket.assignee {
            events.push(EventData::AssigneeChanged { from: None, to: Some(assignee) });
        }
        Ok(Change::new(ticket, events))
    }

    /// Fills in the number storage allocated, in the ticket, its `created` event and the
    /// events that name it on other tickets.
    pub fn set_number(change: &mut Change, number: TicketNumber) {
        change.ticket.number = number;
        let id = change.ticket.id;
        let side_events = change.side.iter_mut().filter_map(|w| match w {
            SideWrite::EventOnTicket(_, e) => Some(e),
            _ => None,
        });
        for event in change.events.iter_mut().chain(side_events) {
            match event {
                EventData::Created { number: n, .. } => *n = number.to_string(),
                EventData::ComplaintReceived { complaint_id, number: n, .. }
                | EventData::FollowUpCreated { ticket_id: complaint_id, number: n }
                    if *complaint_id == id =>
                {
                    *n = number.to_string()
                }
                _ => {}
            }
        }
    }

    /// Applies a partial edit. Fields given with their current value change nothing; an edit
    /// that changes nothing yields no events and leaves the version alone.
    pub fn apply_patch(&self, patch: TicketPatch, rules: &TicketRules<'_>, now: Timestamp) -> Result<Change, ValidationError> {
        let mut next = self.clone();
        let mut errors = Errors::default();
        let mut changes: BTreeMap<String, FieldChange> = BTreeMap::new();
        let mut record = |field: &str, from: Value, to: Value| {
            if from != to {
                changes.insert(field.to_owned(), FieldChange { from, to });
            }
        };

        if let Some(title) = patch.title {
            if let Some(title) = errors.take(validate_title(&title)) {
                record("title", json(&self.title), json(&title));
                next.title = title;
            }
        }
        if let Some(description) = patch.description {
            if let Some(description) = errors.take(validate_description(&description)) {
                record("description", json(&self.description), json(&description));
                next.description = description;
            }
        }
        if let Some(kind) = patch.kind {
            record("kind", json(self.kind), json(kind));
            next.kind = kind;
        }
        if let Some(channel) = patch.channel {
            record("channel", json(self.channel), json(channel));
            next.channel = channel;
        }
        if let Some(priority) = patch.priority {
            record("priority", json(self.priority), json(priority));
            next.priority = priority;
        }
        if let Some(name) = patch.customer_name {
            if let Some(name) = errors.take(validate_customer_name(&name)) {
                record("customer.name", json(&self.customer.name), json(&name));
                next.customer.name = name;
            }
        }
        if let Some(contact) = patch.customer_contact {
            if let Some(contact) = errors.take(validate_contact(contact.as_deref())) {
                record("customer.contact", json(&self.customer.contact), json(&contact));
                next.customer.contact = contact;
            }
        }
        if let Some(tier) = patch.customer_tier {
            if let Some(tier) = errors.take(validate_tier(&tier, rules.tiers)) {
                record("customer.tier", json(&self.customer.tier), json(&tier));
                next.customer.tier = tier;
            }
        }
        if let Some(tags) = patch.tags {
            if let Some(tags) = errors.take(normalize_tags(&tags)) {
                record("tags", json(&self.tags), json(&tags));
                next.tags = tags;
            }
        }
        if let Some(patch_fields) = patch.custom_fields {
            match patch_fields {
                Value::Object(map) => {
                    merge_patch(&mut next.custom_fields, map);
                    if errors.take(check_custom_fields_size(&next.custom_fields)).is_some() {
                        record("custom_fields", json(&self.custom_fields), json(&next.custom_fields));
                    }
                }
                _ => errors.push(FieldError::new("custom_fields", "must be a JSON object (a merge patch)")),
            }
        }
        let status_change = match patch.status {
            Some(to) if to != self.status => errors.take(self.check_status_edit(to)).map(|()| to),
            _ => None,
        };
        errors.finish()?;

        let mut events = Vec::new();
        if !changes.is_empty() {
            events.push(EventData::Updated { changes });
        }
        if let Some(to) = status_change {
            next.status = to;
            next.resolved_at = match to {
                Status::Resolved => Some(now),
                _ => None,
            };
            events.push(EventData::StatusChanged { from: self.status, to });
        }
        if let Some(assignee) = patch.assignee {
            if assignee != self.assignee {
                next.assignee = assignee;
                events.push(EventData::AssigneeChanged { from: self.assignee, to: assignee });
            }
        }
        Ok(next.finish(events, now))
    }

    fn check_status_edit(&self, to: Status) -> Result<(), FieldError> {
        if self.status == Status::Closed {
            return Err(FieldError::new("status", "the ticket is closed; its status cannot change"));
        }
        if to == Status::Closed {
            return Err(FieldError::new("status", "tickets close by a transition to a terminal stage of their process"));
        }
        Ok(())
    }

    /// Moves the ticket to another stage of its process. Entering a terminal stage closes it
    /// (and resolves it, unless the stage says it does not resolve, like `cancelled`).
    pub fn transition(&self, process: &Process, to: &str, note: Option<String>, now: Timestamp) -> Result<Change, TransitionError> {
        let target = process.check_transition(&self.stage, to)?;
        if process.stage(&self.stage).is_some_and(|s| s.requires_review) && self.review_passed_stage.as_deref() != Some(self.stage.as_str())
        {
            return Err(TransitionError::ReviewRequired { stage: self.stage.clone() });
        }
        let mut next = self.clone();
        next.stage = target.key.clone();
        next.review_passed_stage = None;
        let mut events = vec![EventData::StageChanged { from: self.stage.clone(), to: target.key.clone(), note }];
        if target.terminal {
            next.status = Status::Closed;
            next.closed_at = Some(now);
            if target.resolves && next.resolved_at.is_none() {
                next.resolved_at = Some(now);
            }
            if self.status != Status::Closed {
                events.push(EventData::StatusChanged { from: self.status, to: Status::Closed });
            }
        }
        Ok(next.finish(events, now))
    }

    /// Adds a comment. The first public reply by staff is the ticket's first response; a
    /// comment from the customer is always public.
    pub fn comment(&self, body: &str, visibility: Visibility, from_customer: bool, now: Timestamp) -> Result<Change, ValidationError> {
        if body.trim().is_empty() {
            return Err(ValidationError::field("body", "must not be empty"));
        }
        if body.chars().count() > MAX_COMMENT_CHARS {
            return Err(ValidationError::field("body", format!("must be at most {MAX_COMMENT_CHARS} characters")));
        }
        if from_customer && visibility != Visibility::Public {
            return Err(ValidationError::field("visibility", "a comment from the customer is public"));
        }
        let mut next = self.clone();
        let first_response = !from_customer && visibility == Visibility::Public && self.first_response_at.is_none();
        if first_response {
            next.first_response_at = Some(now);
        }
        if !from_customer && visibility == Visibility::Public {
            next.staff_replies += 1;
        }
        let events = vec![EventData::CommentAdded { body: body.to_owned(), visibility, first_response, from_customer }];
        Ok(next.finish(events, now))
    }

    /// Whether the ticket is done with: resolved, or closed.
    pub fn is_done(&self) -> bool {
        matches!(self.status, Status::Resolved | Status::Closed)
    }

    /// Brings a resolved or closed ticket back, within `window_ms` of its resolution (or
    /// closing). A ticket in a terminal stage returns to `back_to` (the stage it left), else the
    /// process's first stage. Outside the window: `Err(ReopenRefused::WindowPassed)`, and the
    /// caller opens a follow-up ticket instead.
    pub fn reopen(
        &self,
        process: &Process,
        back_to: Option<&str>,
        reason: Option<String>,
        from_customer: bool,
        window_ms: i64,
        now: Timestamp,
    ) -> Result<Change, ReopenRefused> {
        if !self.is_done() {
            return Err(ReopenRefused::NotDone(self.status));
        }
        let done_at = self.resolved_at.or(self.closed_at).unwrap_or(self.updated_at);
        if now.as_millis().saturating_sub(done_at.as_millis()) > window_ms {
            return Err(ReopenRefused::WindowPassed);
        }
        let mut next = self.clone();
        next.status = Status::Open;
        next.resolved_at = None;
        next.closed_at = None;
        next.reopen_count += 1;
        let mut events = vec![
            EventData::Reopened { reopen_count: next.reopen_count, from_status: self.status, reason, from_customer },
            EventData::StatusChanged { from: self.status, to: Status::Open },
        ];
        if process.stage(&self.stage).is_none_or(|s| s.terminal) {
            let stage = back_to.and_then(|k| process.stage(k)).filter(|s| !s.terminal).unwrap_or_else(|| process.initial_stage());
            next.stage = stage.key.clone();
            next.review_passed_stage = None;
            events.push(EventData::StageChanged { from: self.stage.clone(), to: stage.key.clone(), note: Some("reopened".into()) });
        }
        Ok(next.finish(events, now))
    }

    /// Records a quality review of the work in the current stage.
    pub fn record_review(&self, review: super::feedback::Review, now: Timestamp) -> Change {
        let mut next = self.clone();
        next.review_passed_stage = (review.outcome == super::feedback::ReviewOutcome::Pass).then(|| review.stage.clone());
        let events = vec![EventData::Reviewed {
            review_id: review.id,
            stage: review.stage.clone(),
            outcome: review.outcome,
            score: review.score,
            failed_items: review.failed_items(),
        }];
        let mut change = next.finish(events, now);
        change.side.push(SideWrite::RecordReview(review));
        change
    }

    /// Records events that change no field of the ticket (a delegation, an override); the
    /// version still moves, so a client holding an older ETag learns of them.
    pub fn record(&self, events: Vec<EventData>, now: Timestamp) -> Change {
        self.clone().finish(events, now)
    }

    fn finish(mut self, events: Vec<EventData>, now: Timestamp) -> Change {
        if !events.is_empty() {
            self.updated_at = now;
            self.version += 1;
        }
        Change::new(self, events)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::process::ProcessRegistry;

    pub(crate) fn registry() -> ProcessRegistry {
        ProcessRegistry::builtin()
    }

    pub(crate) fn tiers() -> Vec<String> {
        vec!["standard".into(), "priority".into(), "vip".into()]
    }

    pub(crate) fn draft() -> TicketDraft {
        TicketDraft {
            title: "  Printer on fire ".into(),
            description: None,
            kind: Kind::Incident,
            channel: Channel::Phone,
            priority: Priority::Urgent,
            customer_name: "ACME".into(),
            customer_contact: Some("ops@acme.test".into()),
            customer_tier: None,
            process: None,
            assignee: None,
            tags: vec!["Hardware".into(), "hardware".into(), "floor-3".into()],
            custom_fields: None,
            origin_ticket_id: None,
        }
    }

    pub(crate) const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

    pub(crate) fn open() -> Ticket {
        let r = registry();
        let t = tiers();
        let rules = TicketRules { tiers: &t, default_process: "general", processes: &r };
        Ticket::open(draft(), &rules, T0).unwrap().ticket
    }

    pub(crate) fn with_rules<R>(f: impl FnOnce(&TicketRules<'_>) -> R) -> R {
        let r = registry();
        let t = tiers();
        f(&TicketRules { tiers: &t, default_process: "general", processes: &r })
    }

    #[test]
    fn only_public_replies_from_staff_count_as_replies() {
        let t = open();
        let t = t.comment("note to self", Visibility::Internal, false, T0).unwrap().ticket;
        let t = t.comment("any news?", Visibility::Public, true, T0).unwrap().ticket;
        assert_eq!(t.staff_replies, 0);
        let t = t.comment("on our way", Visibility::Public, false, T0).unwrap().ticket;
        let t = t.comment("fixed", Visibility::Public, false, T0).unwrap().ticket;
        assert_eq!(t.staff_replies, 2);
    }

    #[test]
    fn open_places_the_ticket_in_the_first_stage_with_defaults() {
        let change = with_rules(|rules| Ticket::open(draft(), rules, T0)).unwrap();
        let t = &change.ticket;
        assert_eq!(t.title, "Printer on fire");
        assert_eq!((t.process.as_str(), t.stage.as_str()), ("general", "consultation"));
        assert_eq!(t.status, Status::Open);
        assert_eq!(t.customer.tier, "standard");
        assert_eq!(t.tags, ["hardware", "floor-3"]);
        assert_eq!(t.version, 1);
        assert_eq!(change.events.len(), 1);
        assert_eq!(change.events[0].kind(), "created");
    }

    #[test]
    fn open_reports_every_invalid_field() {
        let bad = TicketDraft {
            title: " ".into(),
            customer_tier: Some("gold".into()),
            process: Some("nope".into()),
            tags: vec!["ok".into(), "no spaces".into()],
            custom_fields: Some(serde_json::json!([1])),
            ..draft()
        };
        let e = with_rules(|rules| Ticket::open(bad, rules, T0)).unwrap_err();
        let fields: Vec<_> = e.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "customer.tier", "tags[1]", "custom_fields", "process"]);
    }

    #[test]
    fn patch_records_only_real_changes_and_bumps_the_version_once() {
        let t = open();
        let patch = TicketPatch {
            title: Some("Printer on fire".into()),
            priority: Some(Priority::High),
            custom_fields: Some(serde_json::json!({"asset": "P-1"})),
            ..Default::default()
        };
        let change = with_rules(|rules| t.apply_patch(patch, rules, T0.plus_millis(5))).unwrap();
        assert_eq!(change.ticket.version, 2);
        assert_eq!(change.ticket.updated_at, T0.plus_millis(5));
        let EventData::Updated { changes } = &change.events[0] else { panic!() };
        assert_eq!(changes.keys().collect::<Vec<_>>(), ["custom_fields", "priority"]);
    }

    #[test]
    fn an_empty_patch_changes_nothing() {
        let t = open();
        let change = with_rules(|rules| t.apply_patch(TicketPatch::default(), rules, T0.plus_millis(5))).unwrap();
        assert!(change.is_empty());
        assert_eq!(change.ticket, t);
    }

    #[test]
    fn custom_fields_merge_and_null_removes() {
        let t = open();
        let c1 = with_rules(|r| {
            t.apply_patch(TicketPatch { custom_fields: Some(serde_json::json!({"a": 1, "b": {"x": 1}})), ..Default::default() }, r, T0)
        })
        .unwrap();
        let c2 = with_rules(|r| {
            c1.ticket.apply_patch(
                TicketPatch { custom_fields: Some(serde_json::json!({"a": null, "b": {"y": 2}})), ..Default::default() },
                r,
                T0,
            )
        })
        .unwrap();
        assert_eq!(Value::Object(c2.ticket.custom_fields), serde_json::json!({"b": {"x": 1, "y": 2}}));
    }

    #[test]
    fn status_edits_emit_their_own_event_and_track_resolution() {
        let t = open();
        let c = with_rules(|r| t.apply_patch(TicketPatch { status: Some(Status::Resolved), ..Default::default() }, r, T0)).unwrap();
        assert_eq!(c.ticket.resolved_at, Some(T0));
        assert_eq!(c.events, [EventData::StatusChanged { from: Status::Open, to: Status::Resolved }]);
        let e = with_rules(|r| t.apply_patch(TicketPatch { status: Some(Status::Closed), ..Default::default() }, r, T0)).unwrap_err();
        assert_eq!(e.errors[0].field, "status");
    }

    #[test]
    fn entering_a_terminal_stage_closes_and_resolves() {
        let t = open();
        let p = registry().get("general").unwrap().clone();
        let c = t.transition(&p, "closed", Some("done".into()), T0.plus_millis(9)).unwrap();
        assert_eq!(c.ticket.status, Status::Closed);
        assert_eq!(c.ticket.closed_at, Some(T0.plus_millis(9)));
        assert_eq!(c.ticket.resolved_at, Some(T0.plus_millis(9)));
        assert_eq!(c.events.len(), 2);
        assert_eq!(c.ticket.version, 2);
    }

    #[test]
    fn cancelling_closes_without_resolving() {
        let t = open();
        let p = registry().get("general").unwrap().clone();
        let c = t.transition(&p, "cancelled", None, T0).unwrap();
        assert_eq!(c.ticket.status, Status::Closed);
        assert_eq!(c.ticket.resolved_at, None);
    }

    #[test]
    fn first_public_staff_reply_sets_first_response_once() {
        let t = open();
        let internal = t.comment("checking", Visibility::Internal, false, T0.plus_millis(1)).unwrap();
        assert_eq!(internal.ticket.first_response_at, None);
        let reply = internal.ticket.comment("on our way", Visibility::Public, false, T0.plus_millis(2)).unwrap();
        assert_eq!(reply.ticket.first_response_at, Some(T0.plus_millis(2)));
        let again = reply.ticket.comment("still here", Visibility::Public, false, T0.plus_millis(3)).unwrap();
        assert_eq!(again.ticket.first_response_at, Some(T0.plus_millis(2)));
        assert!(t.comment("  ", Visibility::Public, false, T0).is_err());
        let customer = t.comment("any news?", Visibility::Public, true, T0).unwrap();
        assert_eq!(customer.ticket.first_response_at, None, "a customer comment is no response");
        assert!(t.comment("psst", Visibility::Internal, true, T0).is_err());
    }

    #[test]
    fn reopening_within_the_window_returns_to_the_stage_it_left() {
        let t = open();
        let p = registry().get("general").unwrap().clone();
        let moved = t.transition(&p, "needs_analysis", None, T0).unwrap().ticket;
        let closed = moved.transition(&p, "closed", None, T0).unwrap().ticket;
        let day = 86_400_000;
        let c = closed.reopen(&p, Some("needs_analysis"), Some("still broken".into()), true, 7 * day, T0.plus_millis(day)).unwrap();
        assert_eq!((c.ticket.status, c.ticket.stage.as_str(), c.ticket.reopen_count), (Status::Open, "needs_analysis", 1));
        assert_eq!((c.ticket.resolved_at, c.ticket.closed_at), (None, None));
        let kinds: Vec<_> = c.events.iter().map(EventData::kind).collect();
        assert_eq!(kinds, ["reopened", "status_changed", "stage_changed"]);
        assert_eq!(closed.reopen(&p, None, None, false, 7 * day, T0.plus_millis(8 * day)).unwrap_err(), ReopenRefused::WindowPassed);
        assert!(matches!(t.reopen(&p, None, None, false, day, T0), Err(ReopenRefused::NotDone(Status::Open))));
    }

    #[test]
    fn a_stage_that_requires_review_is_left_only_after_a_passing_one() {
        use crate::feedback::{Review, ReviewOutcome};
        let mut p = registry().get("general").unwrap().as_ref().clone();
        p.stages.iter_mut().find(|s| s.key == "consultation").unwrap().requires_review = true;
        let t = open();
        assert_eq!(
            t.transition(&p, "needs_analysis", None, T0).unwrap_err(),
            TransitionError::ReviewRequired { stage: "consultation".into() }
        );
        let failed =
            t.record_review(Review::new(t.id, "consultation", ReviewOutcome::Fail, 30, vec![], None, "qa", T0).unwrap(), T0).ticket;
        assert!(failed.transition(&p, "closed", None, T0).is_err(), "closing needs the review too");
        let passed = failed.record_review(Review::new(t.id, "consultation", ReviewOutcome::Pass, 95, vec![], None, "qa", T0).unwrap(), T0);
        assert_eq!(passed.side.len(), 1);
        let moved = passed.ticket.transition(&p, "needs_analysis", None, T0).unwrap().ticket;
        assert_eq!(moved.review_passed_stage, None);
    }

    #[test]
    fn tags_are_normalized_and_validated() {
        assert_eq!(normalize_tags(&[" VIP ".into(), "vip".into()]).unwrap(), ["vip"]);
        assert_eq!(normalize_tags(&["a b".into()]).unwrap_err().field, "tags[0]");
        assert!(normalize_tags(&vec!["x".to_string(); MAX_TAGS + 1]).is_err());
    }
}
