//! Roles, what each may do, the authenticated caller (`Principal`), and API token secrets.

use super::string_enum;
use base64::Engine;
use sha2::{Digest, Sha256};

string_enum! {
    /// The role a token acts with. Staff roles double as token roles, except `partner`: a
    /// partner token is bound to one partner and sees only the tickets delegated to it.
    pub enum Role {
        Admin => "admin",
        Supervisor => "supervisor",
        Agent => "agent",
        Qa => "qa",
        Viewer => "viewer",
        Partner => "partner",
        /// A mail gateway's token (`steward mailgate`, an MTA's pipe): hands in messages and
        /// nothing else.
        Mailgate => "mailgate",
    }
}

/// Something a caller may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ReadTickets,
    /// Create, update and move tickets.
    WriteTickets,
    CommentOnTickets,
    ReadStaff,
    ManageStaff,
    ManageTokens,
    /// Change SLA policies and calendars.
    ManageSla,
    /// Record quality reviews.
    ReviewTickets,
    /// See plugins and reload, enable or disable them.
    ManagePlugins,
    /// Create, change and delete webhooks, and read their delivery logs (which reveal events).
    ManageWebhooks,
    ReadMetrics,
    /// Create, change and delete partners, and delegate tickets to them.
    ManagePartners,
    /// Read the tickets delegated to the caller's own partner (a partner token).
    ReadDelegatedTickets,
    /// Comment publicly on, and move, the tickets delegated to the caller's own partner.
    WorkDelegatedTickets,
    /// Manage courses and record training.
    ManageTraining,
    /// Assign or move a ticket past a certification gate, with a reason.
    OverrideCertification,
    /// Create and disable people's logins, issue set-password links, revoke sessions, and read
    /// the sign-in audit.
    ManageLogins,
    /// Hand in an inbound mail message (`POST /api/v1/mail/inbound`).
    ReceiveMail,
    /// Read the mail outbox (what was mailed to whom, with its delivery log) and retry a mail;
    /// list the inbound quarantine, retry a message or turn it into a ticket by hand.
    ManageMail,
    /// Create and change improvement actions (reading them is `ReadTickets`, as the review).
    ManageImprovements,
}

impl Permission {
    /// Every permission; `every_permission_is_listed` keeps it complete.
    pub const ALL: &'static [Permission] = &[
        Permission::ReadTickets,
        Permission::WriteTickets,
        Permission::CommentOnTickets,
        Permission::ReadStaff,
        Permission::ManageStaff,
        Permission::ManageTokens,
        Permission::ManageSla,
        Permission::ReviewTickets,
        Permission::ManagePlugins,
        Permission::ManageWebhooks,
        Permission::ReadMetrics,
        Permission::ManagePartners,
        Permission::ReadDelegatedTickets,
        Permission::WorkDelegatedTickets,
        Permission::ManageTraining,
        Permission::OverrideCertification,
        Permission::ManageLogins,
        Permission::ReceiveMail,
        Permission::ManageMail,
        Permission::ManageImprovements,
    ];

    /// What the permission lets a caller do, for refusals ("role `agent` may not …").
    pub fn describe(self) -> &'static str {
        match self {
            Permission::ReadTickets => "read tickets",
            Permission::WriteTickets => "create or change tickets",
            Permission::CommentOnTickets => "comment on tickets",
            Permission::ReadStaff => "read staff",
            Permission::ManageStaff => "manage staff",
            Permission::ManageTokens => "manage API tokens",
            Permission::ManageSla => "change SLA policies and calendars",
            Permission::ReviewTickets => "record quality reviews",
            Permission::ManagePlugins => "manage plugins",
            Permission::ManageWebhooks => "manage webhooks",
            Permission::ReadMetrics => "read metrics",
            Permission::ManagePartners => "manage partners or delegate tickets",
            Permission::ReadDelegatedTickets => "read delegated tickets",
            Permission::WorkDelegatedTickets => "work delegated tickets",
            Permission::ManageTraining => "manage courses or record training",
            Permission::OverrideCertification => "override a certification gate",
            Permission::ManageLogins => "manage logins or read the sign-in audit",
            Permission::ReceiveMail => "hand in mail",
            Permission::ManageMail => "manage the mail outbox or quarantine",
            Permission::ManageImprovements => "manage improvement actions",
        }
    }
}

impl Role {
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Supervisor => !matches!(
                permission,
                ManageTokens
                    | ManageSla
                    | ManageWebhooks
                    | ManagePlugins
                    | ManageLogins
                    | ReadDelegatedTickets
                    | WorkDelegatedTickets
                    | ReceiveMail
                    | ManageMail
            ),
            Role::Agent => matches!(permission, ReadTickets | WriteTickets | CommentOnTickets | ReadStaff | ReadMetrics),
            Role::Qa => matches!(permission, ReadTickets | CommentOnTickets | ReviewTickets | ReadStaff | ReadMetrics),
            Role::Viewer => matches!(permission, ReadTickets | ReadStaff | ReadMetrics),
            Role::Partner => matches!(permission, ReadDelegatedTickets | WorkDelegatedTickets),
            Role::Mailgate => matches!(permission, ReceiveMail),
        }
    }

    /// `partner` and `mailgate` act for an organisation or a machine, never for staff.
    pub fn is_token_only(self) -> bool {
        matches!(self, Role::Partner | Role::Mailgate)
    }
}

/// An API token as stored: everything but the secret, which exists only as a hash.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiToken {
    pub id: super::ids::TokenId,
    pub name: String,
    pub role: Role,
    pub staff_id: Option<super::ids::StaffId>,
    /// Set exactly when the role is `partner`: the one partner this token acts for.
    pub partner_id: Option<super::ids::PartnerId>,
    pub created_at: super::time::Timestamp,
    pub revoked_at: Option<super::time::Timestamp>,
}

/// How a principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An API token (`Authorization: Bearer …`).
    Token(super::ids::TokenId),
    /// A console session of a person's login.
    Session { session: super::ids::SessionId, login: super::ids::LoginId },
    /// The operator at the command line (`steward admin …`), who holds the database itself.
    Operator,
}

/// The one authenticated caller type: a token and a console session both yield it, and every
/// permission check is asked of it, so a person in the console can do exactly what a token of
/// their role can.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub role: Role,
    /// The staff member acting, when it is one (a staff token, or any person's session).
    pub staff_id: Option<super::ids::StaffId>,
    /// Set exactly when the role is `partner`: the one partner the caller acts for.
    pub partner_id: Option<super::ids::PartnerId>,
    /// The token's name, or the person's name; recorded on the events the caller causes.
    pub name: String,
    pub credential: Credential,
}

/// A permission the caller's role lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role `{role}` may not {action}")]
pub struct Forbidden {
    pub role: Role,
    pub action: &'static str,
}

impl Principal {
    pub fn from_token(token: &ApiToken) -> Principal {
        Principal {
            role: token.role,
            staff_id: token.staff_id,
            partner_id: token.partner_id,
            name: token.name.clone(),
            credential: Credential::Token(token.id),
        }
    }

    /// The operator at the command line: an admin that no request can impersonate.
    pub fn operator() -> Principal {
        Principal { role: Role::Admin, staff_id: None, partner_id: None, name: "operator".into(), credential: Credential::Operator }
    }

    pub fn allows(&self, permission: Permission) -> bool {
        self.role.allows(permission)
    }

    pub fn require(&self, permission: Permission) -> Result<(), Forbidden> {
        if self.allows(permission) {
            Ok(())
        } else {
            Err(Forbidden { role: self.role, action: permission.describe() })
        }
    }

    /// Passes when the role has `staff` (any ticket) or `partner` (its partner's delegated
    /// tickets only). Returns the partner to scope ticket access to, if any.
    pub fn require_ticket_access(&self, staff: Permission, partner: Permission) -> Result<Option<super::ids::PartnerId>, Forbidden> {
        if self.allows(staff) {
            return Ok(None);
        }
        match self.partner_id {
            Some(p) if self.allows(partner) => Ok(Some(p)),
            _ => self.require(staff).map(|()| None),
        }
    }

    /// Who the timeline records for what this caller does.
    pub fn actor(&self) -> super::event::Actor {
        use super::event::{Actor, ActorKind};
        match self.credential {
            Credential::Token(id) => Actor { kind: ActorKind::Token, token_id: Some(id), staff_id: self.staff_id, name: self.name.clone() },
            Credential::Session { .. } => {
                Actor { kind: ActorKind::Session, token_id: None, staff_id: self.staff_id, name: self.name.clone() }
            }
            Credential::Operator => Actor::system(),
        }
    }

    /// Scopes per-client state such as idempotency keys: a token, or a person across their
    /// sessions.
    pub fn key(&self) -> String {
        match self.credential {
            Credential::Token(id) => id.to_string(),
            Credential::Session { login, .. } => format!("login:{login}"),
            Credential::Operator => "operator".into(),
        }
    }
}

/// Prefix of every secret, so leaked tokens are recognisable by secret scanners.
pub const TOKEN_PREFIX: &str = "stw_";
/// The longest token name, in characters as sent (it must not be blank).
pub const MAX_TOKEN_NAME_CHARS: usize = 100;

/// A freshly generated token secret: shown once, stored only as its hash.
pub struct TokenSecret(String);

impl TokenSecret {
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        TokenSecret(format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> String {
        hash_token(&self.0)
    }
}

/// SHA-256 suffices: secrets carry 256 bits of entropy, so a slow password hash buys nothing
/// and would cost every request.
pub fn hash_token(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_manage_tokens_and_webhooks() {
        for role in Role::ALL {
            assert_eq!(role.allows(Permission::ManageTokens), *role == Role::Admin);
            assert_eq!(role.allows(Permission::ManageWebhooks), *role == Role::Admin);
            assert_eq!(role.allows(Permission::ManageLogins), *role == Role::Admin);
        }
    }

    #[test]
    fn viewers_and_qa_cannot_change_tickets() {
        assert!(!Role::Viewer.allows(Permission::WriteTickets));
        assert!(!Role::Viewer.allows(Permission::CommentOnTickets));
        assert!(!Role::Qa.allows(Permission::WriteTickets));
        assert!(Role::Agent.allows(Permission::WriteTickets));
        assert!(!Role::Agent.allows(Permission::ManageStaff));
        assert!(Role::Supervisor.allows(Permission::ManageStaff));
        assert!(Role::Qa.allows(Permission::ReviewTickets) && Role::Supervisor.allows(Permission::ReviewTickets));
        assert!(!Role::Agent.allows(Permission::ReviewTickets));
    }

    #[test]
    fn every_permission_is_listed() {
        // A new variant breaks this match until it is added to ALL too.
        let rank = |p: Permission| match p {
            Permission::ReadTickets => 0,
            Permission::WriteTickets => 1,
            Permission::CommentOnTickets => 2,
            Permission::ReadStaff => 3,
            Permission::ManageStaff => 4,
            Permission::ManageTokens => 5,
            Permission::ManageSla => 6,
            Permission::ReviewTickets => 7,
            Permission::ManagePlugins => 8,
            Permission::ManageWebhooks => 9,
            Permission::ReadMetrics => 10,
            Permission::ManagePartners => 11,
            Permission::ReadDelegatedTickets => 12,
            Permission::WorkDelegatedTickets => 13,
            Permission::ManageTraining => 14,
            Permission::OverrideCertification => 15,
            Permission::ManageLogins => 16,
            Permission::ReceiveMail => 17,
            Permission::ManageMail => 18,
            Permission::ManageImprovements => 19,
        };
        let ranks: Vec<usize> = Permission::ALL.iter().map(|p| rank(*p)).collect();
        assert_eq!(ranks, (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn partners_may_only_work_delegated_tickets() {
        use Permission::*;
        for &p in Permission::ALL.iter().filter(|p| !matches!(p, ReadDelegatedTickets | WorkDelegatedTickets)) {
            assert!(!Role::Partner.allows(p), "{p:?}");
        }
        assert!(Role::Partner.allows(ReadDelegatedTickets) && Role::Partner.allows(WorkDelegatedTickets));
        assert!(Role::Supervisor.allows(OverrideCertification) && !Role::Agent.allows(OverrideCertification));
        assert!(Role::Supervisor.allows(ManagePartners) && !Role::Agent.allows(ManagePartners));
    }

    #[test]
    fn secrets_are_unique_prefixed_and_hash_stably() {
        let a = TokenSecret::generate();
        let b = TokenSecret::generate();
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with(TOKEN_PREFIX));
        assert_eq!(a.hash(), hash_token(a.expose()));
        assert_eq!(a.hash().len(), 64);
    }

    #[test]
    fn a_partner_principal_reaches_only_delegated_tickets_and_says_why_not() {
        let partner = super::super::ids::PartnerId::new_at(super::super::time::Timestamp::from_millis(0));
        let p = Principal {
            role: Role::Partner,
            staff_id: None,
            partner_id: Some(partner),
            name: "acme tech".into(),
            credential: Credential::Operator,
        };
        assert_eq!(p.require_ticket_access(Permission::ReadTickets, Permission::ReadDelegatedTickets), Ok(Some(partner)));
        let refused = p.require(Permission::ManageLogins).unwrap_err();
        assert_eq!(refused.to_string(), "role `partner` may not manage logins or read the sign-in audit");
        let agent = Principal { role: Role::Agent, partner_id: None, ..p };
        assert_eq!(agent.require_ticket_access(Permission::ReadTickets, Permission::ReadDelegatedTickets), Ok(None));
    }

    #[test]
    fn a_mailgate_token_only_hands_in_mail_and_admins_manage_the_quarantine() {
        for &p in Permission::ALL {
            assert_eq!(Role::Mailgate.allows(p), p == Permission::ReceiveMail, "{p:?}");
        }
        for role in Role::ALL {
            assert_eq!(role.allows(Permission::ManageMail), *role == Role::Admin, "{role:?}");
        }
        assert!(Role::Admin.allows(Permission::ReceiveMail) && !Role::Supervisor.allows(Permission::ReceiveMail));
        assert!(Role::Mailgate.is_token_only() && Role::Partner.is_token_only() && !Role::Admin.is_token_only());
    }

    #[test]
    fn supervisors_and_admins_manage_improvements_and_staff_read_them() {
        for role in Role::ALL {
            let manages = matches!(role, Role::Admin | Role::Supervisor);
            assert_eq!(role.allows(Permission::ManageImprovements), manages, "{role:?}");
        }
        assert!([Role::Agent, Role::Qa, Role::Viewer].iter().all(|r| r.allows(Permission::ReadTickets)));
    }

    #[test]
    fn role_parse_names_the_field_and_lists_roles() {
        let e = Role::parse("role", "root").unwrap_err();
        assert_eq!(e.field, "role");
        assert!(e.message.contains("admin, supervisor, agent, qa, viewer"));
    }
}
