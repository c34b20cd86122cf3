//! Roles, what each may do, and API token secrets.

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
    ];
}

impl Role {
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Supervisor => !matches!(
                permission,
                ManageTokens | ManageSla | ManageWebhooks | ManagePlugins | ReadDelegatedTickets | WorkDelegatedTickets
            ),
            Role::Agent => matches!(permission, ReadTickets | WriteTickets | CommentOnTickets | ReadStaff | ReadMetrics),
            Role::Qa => matches!(permission, ReadTickets | CommentOnTickets | ReviewTickets | ReadStaff | ReadMetrics),
            Role::Viewer => matches!(permission, ReadTickets | ReadStaff | ReadMetrics),
            Role::Partner => matches!(permission, ReadDelegatedTickets | WorkDelegatedTickets),
        }
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

/// Prefix of every secret, so leaked tokens are recognisable by secret scanners.
pub const TOKEN_PREFIX: &str = "stw_";

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
        };
        let ranks: Vec<usize> = Permission::ALL.iter().map(|p| rank(*p)).collect();
        assert_eq!(ranks, (0..16).collect::<Vec<_>>());
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
    fn role_parse_names_the_field_and_lists_roles() {
        let e = Role::parse("role", "root").unwrap_err();
        assert_eq!(e.field, "role");
        assert!(e.message.contains("admin, supervisor, agent, qa, viewer"));
    }
}
