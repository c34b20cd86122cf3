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
}

impl Actor {
    pub fn system() -> Self {
        Actor { kind: ActorKind::System, token_id: None, staff_id: None, name: "steward".into() }
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
    },
}

impl EventData {
    /// Every value [`EventData::kind`] returns (webhooks subscribe by these names).
    pub const KINDS: &'static [&'static str] =
        &["created", "updated", "status_changed", "assignee_changed", "stage_changed", "comment_added"];

    pub fn kind(&self) -> &'static str {
        match self {
            EventData::Created { .. } => "created",
            EventData::Updated { .. } => "updated",
            EventData::StatusChanged { .. } => "status_changed",
            EventData::AssigneeChanged { .. } => "assignee_changed",
            EventData::StageChanged { .. } => "stage_changed",
            EventData::CommentAdded { .. } => "comment_added",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_matches_the_serialised_tag() {
        let e = EventData::StageChanged { from: "a".into(), to: "b".into(), note: None };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["kind"], e.kind());
        assert_eq!(e.data_json(), serde_json::json!({"from": "a", "to": "b"}));
    }

    #[test]
    fn kinds_lists_the_kind_of_every_variant() {
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
            },
            EventData::Updated { changes: BTreeMap::new() },
            EventData::StatusChanged { from: Status::Open, to: Status::Resolved },
            EventData::AssigneeChanged { from: None, to: None },
            EventData::StageChanged { from: "a".into(), to: "b".into(), note: None },
            EventData::CommentAdded { body: "hi".into(), visibility: Visibility::Public, first_response: true },
        ];
        let kinds: Vec<_> = one_of_each.iter().map(EventData::kind).collect();
        assert_eq!(kinds, EventData::KINDS);
    }
}
