//! Service staff: the people who work tickets.

use super::{auth::Role, error::Errors, ids::StaffId, time::Timestamp, FieldError, ValidationError};

#[derive(Debug, Clone, PartialEq)]
pub struct Staff {
    pub id: StaffId,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub team: Option<String>,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Raw input for a new staff member, as a client sent it.
#[derive(Debug, Clone)]
pub struct StaffInput {
    pub name: String,
    pub email: String,
    pub role: Role,
    pub team: Option<String>,
    pub active: bool,
}

/// A partial change to a staff member; `team: Some(None)` clears the team.
#[derive(Debug, Clone, Default)]
pub struct StaffPatch {
    pub name: Option<String>,
    pub email: Option<String>,
    pub role: Option<Role>,
    pub team: Option<Option<String>>,
    pub active: Option<bool>,
}

impl Staff {
    pub fn create(input: StaffInput, now: Timestamp) -> Result<Staff, ValidationError> {
        let mut errors = Errors::default();
        let name = errors.take(validate_name(&input.name));
        let email = errors.take(normalize_email(&input.email));
        let team = errors.take(validate_team(input.team.as_deref()));
        errors.take(validate_role(input.role));
        errors.finish()?;
        Ok(Staff {
            id: StaffId::new_at(now),
            name: name.expect("validated"),
            email: email.expect("validated"),
            role: input.role,
            team: team.expect("validated"),
            active: input.active,
            created_at: now,
            updated_at: now,
        })
    }

    pub fn apply(&self, patch: StaffPatch, now: Timestamp) -> Result<Staff, ValidationError> {
        let mut next = self.clone();
        let mut errors = Errors::default();
        if let Some(name) = patch.name {
            next.name = errors.take(validate_name(&name)).unwrap_or_default();
        }
        if let Some(email) = patch.email {
            next.email = errors.take(normalize_email(&email)).unwrap_or_default();
        }
        if let Some(team) = patch.team {
            next.team = errors.take(validate_team(team.as_deref())).flatten();
        }
        if let Some(role) = patch.role {
            errors.take(validate_role(role));
            next.role = role;
        }
        if let Some(active) = patch.active {
            next.active = active;
        }
        errors.finish()?;
        next.updated_at = now;
        Ok(next)
    }
}

/// The longest staff name and team, in characters as sent.
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_TEAM_CHARS: usize = 100;
/// The longest email, in characters as sent.
pub const MAX_EMAIL_CHARS: usize = 254;

fn validate_name(name: &str) -> Result<String, FieldError> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new("name", format!("must be at most {MAX_NAME_CHARS} characters")));
    }
    match name.trim() {
        "" => Err(FieldError::new("name", "must not be empty")),
        name => Ok(name.to_owned()),
    }
}

/// `partner` and `mailgate` are token roles only: partners are organisations, mail gateways
/// machines, neither staff.
fn validate_role(role: Role) -> Result<(), FieldError> {
    if role.is_token_only() {
        return Err(FieldError::new("role", format!("`{role}` is a token role only, not a staff role")));
    }
    Ok(())
}

fn validate_team(team: Option<&str>) -> Result<Option<String>, FieldError> {
    if team.is_some_and(|t| t.chars().count() > MAX_TEAM_CHARS) {
        return Err(FieldError::new("team", format!("must be at most {MAX_TEAM_CHARS} characters")));
    }
    match team.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

/// Emails are compared case-insensitively, so they are stored lower-cased.
pub fn normalize_email(email: &str) -> Result<String, FieldError> {
    let valid_length = email.chars().count() <= MAX_EMAIL_CHARS;
    let email = email.trim().to_lowercase();
    let valid = valid_length
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err(FieldError::new("email", format!("`{email}` is not an email address")))
    }
}

/// Which staff to list, in id order, continuing after `after`.
#[derive(Debug, Clone, Default)]
pub struct StaffQuery {
    pub role: Option<Role>,
    pub team: Option<String>,
    pub active: Option<bool>,
    pub after: Option<StaffId>,
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> StaffInput {
        StaffInput {
            name: " Ada Lovelace ".into(),
            email: "Ada@Example.COM".into(),
            role: Role::Agent,
            team: Some("Tier 1".into()),
            active: true,
        }
    }

    #[test]
    fn create_trims_and_normalizes() {
        let s = Staff::create(input(), Timestamp::from_millis(1)).unwrap();
        assert_eq!(s.name, "Ada Lovelace");
        assert_eq!(s.email, "ada@example.com");
    }

    #[test]
    fn create_reports_every_bad_field() {
        let e = Staff::create(StaffInput { name: "".into(), email: "nope".into(), ..input() }, Timestamp::from_millis(1)).unwrap_err();
        let fields: Vec<_> = e.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "email"]);
    }

    #[test]
    fn patch_clears_team_and_keeps_the_rest() {
        let s = Staff::create(input(), Timestamp::from_millis(1)).unwrap();
        let next = s.apply(StaffPatch { team: Some(None), ..Default::default() }, Timestamp::from_millis(2)).unwrap();
        assert_eq!(next.team, None);
        assert_eq!(next.email, s.email);
        assert_eq!(next.updated_at, Timestamp::from_millis(2));
    }

    #[test]
    fn rejects_malformed_emails() {
        for bad in ["a@b", "@b.c", "a b@c.d", "a@.c", "a@c.", "a@b@c.d"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
