//! Identifiers. Ids are UUID v7 (time-ordered, so a newer ticket has a larger id, which makes
//! id order a creation order usable for keyset pagination); tickets also carry a human number.

use super::{time::Timestamp, FieldError};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new id whose time part is `at`, so ids sort in creation order.
            pub fn new_at(at: Timestamp) -> Self {
                $name(uuid_v7_at(at))
            }

            pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
                Uuid::try_parse(text)
                    .map($name)
                    .map_err(|_| FieldError::new(field, format!("`{text}` is not a valid id")))
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A ticket's stable id.
    TicketId
);
uuid_id!(
    /// An inbound mail message as stored.
    InboundMailId
);
uuid_id!(
    /// A staff member's id.
    StaffId
);
uuid_id!(
    /// An API token's id (public; the secret is never stored).
    TokenId
);
uuid_id!(
    /// One SLA clock of a ticket.
    ClockId
);
uuid_id!(
    /// A quality review.
    ReviewId
);
uuid_id!(
    /// A webhook's id.
    WebhookId
);
uuid_id!(
    /// One delivery of one event to one webhook; sent as `Steward-Delivery` so that receivers
    /// can drop a repeat.
    DeliveryId
);
uuid_id!(
    /// One mail in the outbox.
    MailId
);

uuid_id!(
    /// A partner organisation.
    PartnerId
);
uuid_id!(
    /// One delegation of a ticket to a partner.
    DelegationId
);

uuid_id!(
    /// One training record (append-only).
    TrainingRecordId
);

uuid_id!(
    /// One event of the staff timeline.
    StaffEventId
);

uuid_id!(
    /// A person's login (email and password) to the console.
    LoginId
);
uuid_id!(
    /// One signed-in session of a login.
    SessionId
);
uuid_id!(
    /// One set-password link of a login.
    SetPasswordLinkId
);
uuid_id!(
    /// One entry of the sign-in audit log.
    LoginAuditId
);
uuid_id!(
    /// A saved queue view (a named filter set).
    SavedViewId
);
uuid_id!(
    /// A file attached to a ticket (or to one of its comments).
    AttachmentId
);
uuid_id!(
    /// An improvement action set by a monthly review meeting.
    ImprovementId
);

fn uuid_v7_at(at: Timestamp) -> Uuid {
    let ms = at.as_millis().max(0) as u64;
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, ms / 1000, ((ms % 1000) * 1_000_000) as u32);
    Uuid::new_v7(ts)
}

impl TicketId {
    /// The smallest id a ticket created at or after `at` can have: lets a creation-time range
    /// become an id range, served by the primary key.
    pub fn lower_bound_at(at: Timestamp) -> String {
        let ms = at.as_millis().clamp(0, (1 << 48) - 1) as u64;
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
        Uuid::from_bytes(bytes).hyphenated().to_string()
    }
}

/// The human ticket number, shown as `T-000123`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TicketNumber(pub i64);

impl TicketNumber {
    /// Accepts `T-000123`, `t-123` or `123`.
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        let digits = text.strip_prefix("T-").or_else(|| text.strip_prefix("t-")).unwrap_or(text);
        match digits.parse::<i64>() {
            Ok(n) if n > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(TicketNumber(n)),
            _ => Err(FieldError::new(field, format!("`{text}` is not a ticket number such as T-000123"))),
        }
    }
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "T-{:06}", self.0)
    }
}

impl Serialize for TicketNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How a client names a ticket in a URL: by id or by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketRef {
    Id(TicketId),
    Number(TicketNumber),
}

impl std::fmt::Display for TicketRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TicketRef::Id(id) => id.fmt(f),
            TicketRef::Number(number) => number.fmt(f),
        }
    }
}

impl TicketRef {
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        if let Ok(id) = TicketId::parse(field, text) {
            return Ok(TicketRef::Id(id));
        }
        TicketNumber::parse(field, text)
            .map(TicketRef::Number)
            .map_err(|_| FieldError::new(field, format!("`{text}` is neither a ticket id nor a ticket number such as T-000123")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_numbers_render_padded_and_parse_in_every_spelling() {
        assert_eq!(TicketNumber(123).to_string(), "T-000123");
        assert_eq!(TicketNumber(1_234_567).to_string(), "T-1234567");
        for text in ["T-000123", "t-123", "123"] {
            assert_eq!(TicketNumber::parse("n", text).unwrap(), TicketNumber(123));
        }
        for bad in ["T-", "T-0", "T--1", "abc", "T-12a", "+12"] {
            assert!(TicketNumber::parse("n", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_sort_in_creation_order_and_bound_by_time() {
        let early = Timestamp::from_millis(1_700_000_000_000);
        let late = early.plus_millis(1);
        let a = TicketId::new_at(early).to_string();
        let b = TicketId::new_at(late).to_string();
        assert!(a < b);
        let bound = TicketId::lower_bound_at(late);
        assert!(a < bound && bound <= b);
    }

    #[test]
    fn ticket_ref_accepts_ids_and_numbers() {
        let id = TicketId::new_at(Timestamp::now());
        assert_eq!(TicketRef::parse("id", &id.to_string()).unwrap(), TicketRef::Id(id));
        assert_eq!(TicketRef::parse("id", "T-000007").unwrap(), TicketRef::Number(TicketNumber(7)));
        assert!(TicketRef::parse("id", "nope").is_err());
    }
}
