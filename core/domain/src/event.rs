//! The ticket timeline. Every change to a ticket is an event, written in the same transaction
//! as the change; SLAs and KPIs are derived from events, so their shapes are a contract.

use super::{
    ids::{StaffId, TokenId},
    ticket::{Priority, Status, Visibility},
    time::Timestamp,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    /// The API token that made the request, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<TokenId>,
    /// The staff member the token belongs to, when it belongs to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff_id: Option<StaffId>,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    Token,
    System,
    /// The customer, through a survey link or a comment relayed as theirs.
    Customer,
    /// A plugin's actions (its name is the actor's name).
    Plugin,
    /// A person signed in to the console (a session of their login).
    Session,
}

impl Actor {
    pub fn system() -> Self {
        Actor { kind: ActorKind::System, token_id: None, staff_id: None, name: "steward".into() }
    }

    pub fn plugin(name: &str) -> Self {
        Actor { kind: ActorKind::Plugin, token_id: None, staff_id: None, name: name.to_owned() }
    }

    pub fn customer(name: &str) -> Self {
        Actor { kind: ActorKind::Customer, token_id: None, staff_id: None, name: name.to_owned() }
    }
}

/// A field's value before and after a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub from: Value,
    pub to: Value,
}

/// What happened. Serialised as `{"kind": "...", "data": {...}}`; `kind` is stored in its own
/// column so events can be found by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum EventData {
    Created {
        number: String,
        process: String,
        process_version: u32,
        stage: String,
        status: Status,
        priority: Priority,
        channel: String,
        kind: String,
        tier: String,
        /// A complaint's ticket complained about, or a follow-up's earlier ticket.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin_ticket_id: Option<super::ids::TicketId>,
    },
    /// Plain field edits (title, description, priority, kind, channel, customer, tags,
    /// custom fields). Status and assignment have events of their own.
    Updated {
        changes: BTreeMap<String, FieldChange>,
    },
    StatusChanged {
        from: Status,
        to: Status,
    },
    AssigneeChanged {
        from: Option<StaffId>,
        to: Option<StaffId>,
    },
    StageChanged {
        from: String,
        to: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    CommentAdded {
        body: String,
        visibility: Visibility,
        /// This comment was the first public reply by staff (sets first_response_at).
        first_response: bool,
        /// Written by the customer (relayed by staff or an integration), not by staff.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        from_customer: bool,
    },
    /// A resolved or closed ticket came back within the reopen window.
    Reopened {
        reopen_count: u32,
        from_status: Status,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        from_customer: bool,
    },
    /// The ticket came back after its reopen window: a new ticket follows it up.
    FollowUpCreated {
        ticket_id: super::ids::TicketId,
        number: String,
    },
    /// A complaint names this ticket as the one complained about.
    ComplaintReceived {
        complaint_id: super::ids::TicketId,
        number: String,
        title: String,
    },
    /// A satisfaction survey was issued on resolution; the link is for the customer.
    SurveyIssued {
        survey_url: String,
        expires_at: Timestamp,
    },
    /// The customer answered the satisfaction survey.
    CsatReceived {
        score: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// A quality review of the work in a stage.
    Reviewed {
        review_id: super::ids::ReviewId,
        stage: String,
        outcome: super::feedback::ReviewOutcome,
        score: u8,
        failed_items: Vec<String>,
    },
    /// A different SLA policy applies now (the ticket's kind, channel, priority, tier or
    /// process changed); clocks keep their elapsed time and pauses.
    SlaPolicyChanged {
        from: Option<String>,
        to: Option<String>,
        explanation: String,
    },
    /// A clock passed its warning threshold.
    SlaWarning {
        clock: SlaClockRef,
        percent: u32,
        due_at: Option<Timestamp>,
    },
    /// A clock exceeded its target.
    SlaBreached {
        clock: SlaClockRef,
        breached_at: Timestamp,
        target: String,
    },
    /// A clock reached an escalation level.
    SlaEscalated {
        clock: SlaClockRef,
        percent: u32,
        notify_role: String,
    },
    /// A plugin hook failed on this ticket and was let through (fail-open); `auto_disabled`
    /// says when the failure made Steward disable the plugin.
    PluginFailed {
        plugin: String,
        hook: String,
        error: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        auto_disabled: Option<String>,
    },
    /// The ticket was handed to a partner; its OLA clock starts now.
    Delegated {
        delegation_id: super::ids::DelegationId,
        partner_id: super::ids::PartnerId,
        partner_name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        first_response_due_at: Option<Timestamp>,
        #[serde(skip_serializing_if = "Option::is_none")]
        resolution_due_at: Option<Timestamp>,
    },
    /// The ticket was taken back from its partner.
    DelegationWithdrawn {
        delegation_id: super::ids::DelegationId,
        partner_id: super::ids::PartnerId,
    },
    /// A supervisor let someone without a valid certification work a gated stage.
    CertificationOverridden {
        staff_id: StaffId,
        stage: String,
        certification: String,
        /// valid, expired or missing, when the override was made.
        state: String,
        reason: String,
    },
    /// A file was attached to the ticket, or to one of its comments (`comment_seq`).
    AttachmentAdded {
        attachment_id: super::ids::AttachmentId,
        file_name: String,
        /// Sniffed from the bytes, not taken from the client.
        content_type: String,
        size: u64,
        sha256: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment_seq: Option<i64>,
        /// `internal` when the comment it belongs to is internal.
        visibility: Visibility,
    },
    /// An attachment was deleted (its bytes go when no other attachment shares them).
    AttachmentDeleted {
        attachment_id: super::ids::AttachmentId,
        file_name: String,
        visibility: Visibility,
    },
}

/// Names a clock in SLA events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClockRef {
    pub id: super::ids::ClockId,
    /// first_response, resolution or stage.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

impl EventData {
    /// Every value [`EventData::kind`] returns (webhooks subscribe by these names).
    pub const KINDS: &'static [&'static str] = &[
        "created",
        "updated",
        "status_changed",
        "assignee_changed",
        "stage_changed",
        "comment_added",
        "reopened",
        "follow_up_created",
        "complaint_received",
        "survey_issued",
        "csat_received",
        "reviewed",
        "sla_policy_changed",
        "sla_warning",
        "sla_breached",
        "sla_escalated",
        "plugin_failed",
        "delegated",
        "delegation_withdrawn",
        "certification_overridden",
        "attachment_added",
        "attachment_deleted",
    ];

    pub fn kind(&self) -> &'static str {
        match self {
            EventData::Created { .. } => "created",
            EventData::Updated { .. } => "updated",
            EventData::StatusChanged { .. } => "status_changed",
            EventData::AssigneeChanged { .. } => "assignee_changed",
            EventData::StageChanged { .. } => "stage_changed",
            EventData::CommentAdded { .. } => "comment_added",
            EventData::Reopened { .. } => "reopened",
            EventData::FollowUpCreated { .. } => "follow_up_created",
            EventData::ComplaintReceived { .. } => "complaint_received",
            EventData::SurveyIssued { .. } => "survey_issued",
            EventData::CsatReceived { .. } => "csat_received",
            EventData::Reviewed { .. } => "reviewed",
            EventData::SlaPolicyChanged { .. } => "sla_policy_changed",
            EventData::SlaWarning { .. } => "sla_warning",
            EventData::SlaBreached { .. } => "sla_breached",
            EventData::SlaEscalated { .. } => "sla_escalated",
            EventData::PluginFailed { .. } => "plugin_failed",
            EventData::Delegated { .. } => "delegated",
            EventData::DelegationWithdrawn { .. } => "delegation_withdrawn",
            EventData::CertificationOverridden { .. } => "certification_overridden",
            EventData::AttachmentAdded { .. } => "attachment_added",
            EventData::AttachmentDeleted { .. } => "attachment_deleted",
        }
    }

    /// The `data` part alone, as stored.
    pub fn data_json(&self) -> Value {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut map)) => map.remove("data").unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }
}

/// An event as recorded: numbered within its ticket, stamped and attributed.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub seq: i64,
    pub at: Timestamp,
    pub actor: Actor,
    pub kind: String,
    pub data: Value,
}

/// Where an event stands among all events of all tickets: the live feed's cursor (the SSE
/// `id`, sent back as `Last-Event-ID`). Ordered by `(tx, id)`: `id` numbers events in insert
/// order; `tx` is the writing transaction's id on PostgreSQL (0 on SQLite, whose single writer
/// commits in insert order, and for events written before positions existed). Reading only
/// events of transactions older than every transaction still running, in this order, never
/// passes over an event that commits later (ARCHITECTURE.md, "Live updates").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventPosition {
    pub tx: i64,
    pub id: i64,
}

impl EventPosition {
    /// Parses the form [`Display`](std::fmt::Display) writes: `{tx}-{id}`.
    pub fn parse(field: &str, text: &str) -> Result<EventPosition, crate::FieldError> {
        let bad = || crate::FieldError::new(field, format!("`{text}` is not an event position such as 0-123"));
        let (tx, id) = text.trim().split_once('-').ok_or_else(bad)?;
        let number = |part: &str| part.parse::<i64>().ok().filter(|n| *n >= 0 && !part.starts_with('+')).ok_or_else(bad);
        Ok(EventPosition { tx: number(tx)?, id: number(id)? })
    }
}

impl std::fmt::Display for EventPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.tx, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feedback::ReviewOutcome;
    use crate::ids::{ClockId, DelegationId, PartnerId, ReviewId, StaffId, TicketId};

    #[test]
    fn kind_matches_the_serialised_tag() {
        let e = EventData::StageChanged { from: "a".into(), to: "b".into(), note: None };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["kind"], e.kind());
        assert_eq!(e.data_json(), serde_json::json!({"from": "a", "to": "b"}));
    }

    #[test]
    fn kinds_lists_the_kind_of_every_variant() {
        let at = Timestamp::from_millis(0);
        let ticket = TicketId::new_at(at);
        let clock = SlaClockRef { id: ClockId::new_at(at), kind: "resolution".into(), stage: None, policy: None };
        let one_of_each = [
            EventData::Created {
                number: "T-000001".into(),
                process: "general".into(),
                process_version: 1,
                stage: "consultation".into(),
                status: Status::Open,
                priority: Priority::Normal,
                channel: "web".into(),
                kind: "request".into(),
                tier: "standard".into(),
                origin_ticket_id: None,
            },
            EventData::Updated { changes: BTreeMap::new() },
            EventData::StatusChanged { from: Status::Open, to: Status::Resolved },
            EventData::AssigneeChanged { from: None, to: None },
            EventData::StageChanged { from: "a".into(), to: "b".into(), note: None },
            EventData::CommentAdded { body: "hi".into(), visibility: Visibility::Public, first_response: true, from_customer: false },
            EventData::Reopened { reopen_count: 1, from_status: Status::Closed, reason: None, from_customer: false },
            EventData::FollowUpCreated { ticket_id: ticket, number: "T-000002".into() },
            EventData::ComplaintReceived { complaint_id: ticket, number: "T-000002".into(), title: "t".into() },
            EventData::SurveyIssued { survey_url: "/api/v1/surveys/x".into(), expires_at: at },
            EventData::CsatReceived { score: 5, comment: None },
            EventData::Reviewed {
                review_id: ReviewId::new_at(at),
                stage: "s".into(),
                outcome: ReviewOutcome::Pass,
                score: 90,
                failed_items: vec![],
            },
            EventData::SlaPolicyChanged { from: None, to: Some("p".into()), explanation: "e".into() },
            EventData::SlaWarning { clock: clock.clone(), percent: 80, due_at: None },
            EventData::SlaBreached { clock: clock.clone(), breached_at: at, target: "1h".into() },
            EventData::SlaEscalated { clock, percent: 150, notify_role: "admin".into() },
            EventData::PluginFailed { plugin: "p".into(), hook: "on-event".into(), error: "trap".into(), auto_disabled: None },
            EventData::Delegated {
                delegation_id: DelegationId::new_at(at),
                partner_id: PartnerId::new_at(at),
                partner_name: "p".into(),
                note: None,
                first_response_due_at: None,
                resolution_due_at: None,
            },
            EventData::DelegationWithdrawn { delegation_id: DelegationId::new_at(at), partner_id: PartnerId::new_at(at) },
            EventData::CertificationOverridden {
                staff_id: StaffId::new_at(at),
                stage: "s".into(),
                certification: "C".into(),
                state: "missing".into(),
                reason: "r".into(),
            },
            EventData::AttachmentAdded {
                attachment_id: crate::ids::AttachmentId::new_at(at),
                file_name: "a.txt".into(),
                content_type: "text/plain; charset=utf-8".into(),
                size: 1,
                sha256: "00".repeat(32),
                comment_seq: None,
                visibility: Visibility::Public,
            },
            EventData::AttachmentDeleted {
                attachment_id: crate::ids::AttachmentId::new_at(at),
                file_name: "a.txt".into(),
                visibility: Visibility::Public,
            },
        ];
        let kinds: Vec<_> = one_of_each.iter().map(EventData::kind).collect();
        assert_eq!(kinds, EventData::KINDS);
    }

    #[test]
    fn event_positions_order_by_transaction_then_id_and_round_trip() {
        let a = EventPosition { tx: 0, id: 900 };
        let b = EventPosition { tx: 7, id: 5 };
        assert!(a < b, "an older transaction's events come first, whatever their ids");
        assert!(EventPosition { tx: 7, id: 4 } < b);
        assert_eq!(EventPosition::parse("Last-Event-ID", &b.to_string()).unwrap(), b);
        assert_eq!(EventPosition::parse("p", "0-123").unwrap(), EventPosition { tx: 0, id: 123 });
        for bad in ["", "12", "-1-2", "1--2", "a-1", "1-b", "+1-2", "1-+2", "1-2-3"] {
            assert_eq!(EventPosition::parse("Last-Event-ID", bad).unwrap_err().field, "Last-Event-ID", "{bad}");
        }
    }
}
