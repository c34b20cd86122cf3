//! Partners: suppliers, subcontractors and logistics firms that take delegated work under a
//! contract with committed service levels (an OLA), and the delegations themselves.

use super::{
    duration::TargetDuration,
    error::Errors,
    ids::{DelegationId, PartnerId, TicketId},
    string_enum,
    time::Timestamp,
    FieldError, ValidationError,
};

string_enum! {
    pub enum PartnerKind {
        Supplier => "supplier",
        Subcontractor => "subcontractor",
        Logistics => "logistics",
        Other => "other",
    }
}

string_enum! {
    pub enum PartnerStatus {
        Active => "active",
        Suspended => "suspended",
    }
}

/// What a partner committed to: a period and the targets of its OLA, measured on a calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct Contract {
    pub start: Timestamp,
    /// None: open-ended.
    pub end: Option<Timestamp>,
    pub first_response: TargetDuration,
    pub resolution: TargetDuration,
    /// An SLA calendar key; None counts every hour.
    pub calendar: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Partner {
    pub id: PartnerId,
    pub name: String,
    pub kind: PartnerKind,
    pub contact: Option<String>,
    pub status: PartnerStatus,
    /// Service categories (tags), lower-case, unique, sorted.
    pub categories: Vec<String>,
    pub contract: Option<Contract>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A new partner as a client sent it.
#[derive(Debug, Clone)]
pub struct PartnerInput {
    pub name: String,
    pub kind: PartnerKind,
    pub contact: Option<String>,
    pub status: PartnerStatus,
    pub categories: Vec<String>,
    pub contract: Option<Contract>,
}

/// A partial change; `Some(None)` clears an optional field.
#[derive(Debug, Clone, Default)]
pub struct PartnerPatch {
    pub name: Option<String>,
    pub kind: Option<PartnerKind>,
    pub contact: Option<Option<String>>,
    pub status: Option<PartnerStatus>,
    pub categories: Option<Vec<String>>,
    pub contract: Option<Option<Contract>>,
}

impl Partner {
    pub fn create(input: PartnerInput, now: Timestamp) -> Result<Partner, ValidationError> {
        let blank = Partner {
            id: PartnerId::new_at(now),
            name: String::new(),
            kind: input.kind,
            contact: None,
            status: input.status,
            categories: Vec::new(),
            contract: None,
            created_at: now,
            updated_at: now,
        };
        blank.apply(
            PartnerPatch {
                name: Some(input.name),
                kind: None,
                contact: Some(input.contact),
                status: None,
                categories: Some(input.categories),
                contract: Some(input.contract),
            },
            now,
        )
    }

    pub fn apply(&self, patch: PartnerPatch, now: Timestamp) -> Result<Partner, ValidationError> {
        let mut next = self.clone();
        let mut errors = Errors::default();
        if let Some(name) = patch.name {
            next.name = errors.take(validate_name(&name)).unwrap_or_default();
        }
        if let Some(kind) = patch.kind {
            next.kind = kind;
        }
        if let Some(contact) = patch.contact {
            next.contact = contact.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
            if next.contact.as_ref().is_some_and(|c| c.chars().count() > MAX_CONTACT_CHARS) {
                errors.push(FieldError::new("contact", format!("must be at most {MAX_CONTACT_CHARS} characters")));
            }
        }
        if let Some(status) = patch.status {
            next.status = status;
        }
        if let Some(categories) = patch.categories {
            next.categories = errors.take(validate_categories(&categories)).unwrap_or_default();
        }
        if let Some(contract) = patch.contract {
            if let Some(c) = &contract {
                if c.first_response.as_seconds() == 0 {
                    errors.push(FieldError::new("contract.first_response", "must be longer than zero"));
                }
                if c.resolution.as_seconds() == 0 {
                    errors.push(FieldError::new("contract.resolution", "must be longer than zero"));
                }
            }
            next.contract = contract;
        }
        errors.finish()?;
        next.updated_at = now;
        Ok(next)
    }

    /// Why this partner cannot take work now, if it cannot: it is suspended, or has no
    /// contract in force.
    pub fn refuses_work(&self, now: Timestamp) -> Option<String> {
        if self.status == PartnerStatus::Suspended {
            return Some(format!("partner `{}` is suspended", self.name));
        }
        match &self.contract {
            None => Some(format!("partner `{}` has no contract", self.name)),
            Some(c) if now < c.start => Some(format!("the contract of partner `{}` starts at {}", self.name, c.start)),
            Some(c) if c.end.is_some_and(|end| end <= now) => {
                Some(format!("the contract of partner `{}` expired at {}", self.name, c.end.expect("checked")))
            }
            Some(_) => None,
        }
    }
}

fn validate_name(name: &str) -> Result<String, FieldError> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new("name", format!("must be at most {MAX_NAME_CHARS} characters")));
    }
    match name.trim() {
        "" => Err(FieldError::new("name", "must not be empty")),
        name => Ok(name.to_owned()),
    }
}

/// The longest partner name and contact, in characters.
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_CONTACT_CHARS: usize = 200;
/// At most this many categories (as sent), each at most [`MAX_CATEGORY_CHARS`] as sent and
/// not blank.
pub const MAX_CATEGORIES: usize = 32;
pub const MAX_CATEGORY_CHARS: usize = 64;

fn validate_categories(categories: &[String]) -> Result<Vec<String>, FieldError> {
    if categories.len() > MAX_CATEGORIES {
        return Err(FieldError::new("categories", format!("at most {MAX_CATEGORIES} categories")));
    }
    let mut out = Vec::new();
    for (i, c) in categories.iter().enumerate() {
        if c.trim().is_empty() || c.chars().count() > MAX_CATEGORY_CHARS {
            return Err(FieldError::new(format!("categories[{i}]"), format!("a category has 1 to {MAX_CATEGORY_CHARS} characters")));
        }
        out.push(c.trim().to_lowercase());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// A ticket handed to a partner. Active until withdrawn; at most one active per ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Delegation {
    pub id: DelegationId,
    pub ticket_id: TicketId,
    pub partner_id: PartnerId,
    pub note: Option<String>,
    pub delegated_at: Timestamp,
    /// The partner's OLA: when its first response and its resolution fall due, on the
    /// contract's calendar.
    pub first_response_due_at: Option<Timestamp>,
    pub resolution_due_at: Option<Timestamp>,
    pub withdrawn_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PartnerInput {
        PartnerInput {
            name: " FixIt GmbH ".into(),
            kind: PartnerKind::Subcontractor,
            contact: Some("ops@fixit.test".into()),
            status: PartnerStatus::Active,
            categories: vec!["Hardware".into(), "hardware".into(), "network".into()],
            contract: Some(Contract {
                start: Timestamp::from_millis(1_000),
                end: Some(Timestamp::from_millis(10_000)),
                first_response: TargetDuration::from_seconds(3600),
                resolution: TargetDuration::from_seconds(86_400),
                calendar: None,
            }),
        }
    }

    #[test]
    fn categories_are_normalised_and_name_trimmed() {
        let p = Partner::create(input(), Timestamp::from_millis(0)).unwrap();
        assert_eq!(p.name, "FixIt GmbH");
        assert_eq!(p.categories, vec!["hardware", "network"]);
    }

    #[test]
    fn a_contract_ending_before_it_starts_is_kept_as_typed() {
        // Accepted, not refused: such a contract is simply never in force (see the API's 409/404 rules).
        let mut i = input();
        i.contract.as_mut().unwrap().end = Some(Timestamp::from_millis(500));
        let p = Partner::create(i, Timestamp::from_millis(0)).unwrap();
        assert_eq!(p.contract.unwrap().end, Some(Timestamp::from_millis(500)));
    }

    #[test]
    fn suspended_or_out_of_contract_partners_refuse_work() {
        let p = Partner::create(input(), Timestamp::from_millis(0)).unwrap();
        assert!(p.refuses_work(Timestamp::from_millis(5_000)).is_none());
        assert!(p.refuses_work(Timestamp::from_millis(500)).unwrap().contains("starts"));
        assert!(p.refuses_work(Timestamp::from_millis(10_000)).unwrap().contains("expired"));
        let mut s = p.clone();
        s.status = PartnerStatus::Suspended;
        assert!(s.refuses_work(Timestamp::from_millis(5_000)).unwrap().contains("suspended"));
        let mut n = p;
        n.contract = None;
        assert!(n.refuses_work(Timestamp::from_millis(5_000)).unwrap().contains("no contract"));
    }
}
