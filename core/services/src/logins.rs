//! People's sign-in: logins, set-password links, console sessions, throttling and the audit.
//!
//! A session yields the same [`Principal`] as a token of the person's role, so the console
//! calls the same services under the same permission checks. Password hashing runs on tokio's
//! blocking pool, never on the async threads. Time comes from the services' clock
//! ([`Services::now`]), so tests advance it instead of sleeping.

use super::{ServiceError, Services};
use steward_domain::auth::{hash_token, Credential, Permission, Principal};
use steward_domain::ids::{LoginAuditId, LoginId, PartnerId, SessionId, SetPasswordLinkId, StaffId};
use steward_domain::login::{self, AuditEntry, AuditKind, Login, LoginOwner, Session};
use steward_domain::staff::normalize_email;
use steward_domain::time::Timestamp;
use steward_domain::ValidationError;
pub use steward_storage::logins::AuditFilter;
use steward_storage::logins::NewSessionRow;

/// What a person typed to sign in, and where from.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub email: String,
    pub password: String,
    /// The client's address as the server saw it; throttled and audited.
    pub remote_addr: Option<String>,
}

/// A session that has just begun.
pub struct NewSession {
    /// The cookie value: shown once, stored only as its hash.
    pub secret: String,
    pub expires_at: Timestamp,
    pub principal: Principal,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession").field("expires_at", &self.expires_at).field("principal", &self.principal).finish_non_exhaustive()
    }
}

/// A live session and the principal it yields.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub session: Session,
    pub principal: Principal,
    pub login: Login,
}

/// A one-time set-password link's secret (the last segment of `/set-password/{secret}`).
pub struct SetPasswordLink {
    pub secret: String,
    pub expires_at: Timestamp,
    pub login: Login,
}

impl SetPasswordLink {
    /// The page's path, relative to the server's public URL.
    pub fn path(&self) -> String {
        format!("/set-password/{}", self.secret)
    }
}

/// A new login for an existing staff member.
#[derive(Debug, Clone, Default)]
pub struct NewLogin {
    pub staff_id: Option<StaffId>,
    /// Defaults to the staff member's email.
    pub email: Option<String>,
    /// For a partner's technician: the login signs in as role `partner` for this partner.
    pub partner_id: Option<PartnerId>,
}

/// Why a sign-in failed, as the caller may learn it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// The email, the password, or the login's state was wrong: deliberately one answer.
    #[error("the email or password is wrong")]
    WrongCredentials,
    /// Too many recent failures for the account or the address.
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
}

impl Services {
    /// The services' clock: the wall clock, moved by [`Services::advance_clock`] in tests.
    pub fn now(&self) -> Timestamp {
        Timestamp::now().plus_millis(self.clock_offset_ms.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Moves the services' clock forward (tests: expiry and throttling without sleeping).
    pub fn advance_clock(&self, ms: i64) {
        self.clock_offset_ms.fetch_add(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// The principal of a live API token.
    pub async fn token_principal(&self, secret: &str) -> Result<Option<Principal>, ServiceError> {
        Ok(self.authenticate(secret).await?.as_ref().map(Principal::from_token))
    }

    async fn audit(
        &self,
        kind: AuditKind,
        email: Option<&str>,
        login: Option<LoginId>,
        remote_addr: Option<&str>,
        actor: Option<&Principal>,
        detail: Option<&str>,
    ) -> Result<(), ServiceError> {
        let at = self.now();
        let entry = AuditEntry {
            id: LoginAuditId::new_at(at),
            at,
            kind,
            email: email.map(str::to_owned),
            login_id: login,
            remote_addr: remote_addr.map(str::to_owned),
            actor: actor.map(|p| p.name.clone()),
            detail: detail.map(str::to_owned),
        };
        Ok(self.store.insert_login_audit(&entry).await?)
    }

    /// Creates a login for a staff member (`ManageLogins`). It has no password until the
    /// person follows a set-password link.
    pub async fn create_login(&self, principal: &Principal, new: NewLogin) -> Result<Login, ServiceError> {
        principal.require(Permission::ManageLogins)?;
        let staff_id = new.staff_id.ok_or_else(|| ValidationError::field("staff_id", "name the staff member the login is for"))?;
        let staff = self
            .store
            .get_staff(staff_id)
            .await?
            .ok_or_else(|| ServiceError::Missing { field: "staff_id", message: format!("no staff member {staff_id}") })?;
        let email = match new.email.as_deref() {
            Some(e) => normalize_email(e).map_err(ValidationError::from)?,
            None => staff.email.clone(),
        };
        if let Some(partner) = new.partner_id {
            if self.store.get_partner(partner).await?.is_none() {
                return Err(ServiceError::Missing { field: "partner_id", message: format!("no partner {partner}") });
            }
        }
        // Asked first, so both engines name the same field when the email collides too.
        if self.store.login_for_staff(staff_id).await?.is_some() {
            return Err(ServiceError::Conflict {
                field: Some("staff_id"),
                message: format!("staff member {staff_id} already has a login"),
            });
        }
        let now = self.now();
        let login = Login {
            id: LoginId::new_at(now),
            staff_id,
            email,
            partner_id: new.partner_id,
            password_set: false,
            created_at: now,
            updated_at: now,
            disabled_at: None,
            preferences: Default::default(),
        };
        self.store.insert_login(&login).await.map_err(|e| match ServiceError::from(e) {
            ServiceError::Duplicate { constraint } if constraint == steward_storage::unique::LOGIN_STAFF => {
                ServiceError::Conflict { field: Some("staff_id"), message: format!("staff member {staff_id} already has a login") }
            }
            ServiceError::Duplicate { constraint } if constraint == steward_storage::unique::LOGIN_EMAIL => {
                ServiceError::Conflict { field: Some("email"), message: format!("a login with email `{}` exists", login.email) }
            }
            other => other,
        })?;
        self.audit(AuditKind::LoginCreated, Some(&login.email), Some(login.id), None, Some(principal), None).await?;
        Ok(login)
    }

    pub async fn list_logins(&self, principal: &Principal) -> Result<Vec<Login>, ServiceError> {
        principal.require(Permission::ManageLogins)?;
        Ok(self.store.list_logins().await?)
    }

    pub async fn get_login(&self, principal: &Principal, id: LoginId) -> Result<Login, ServiceError> {
        principal.require(Permission::ManageLogins)?;
        self.store.get_login(id).await?.ok_or(ServiceError::NotFound { what: "login" })
    }

    /// The login's sessions that are live now (`ManageLogins`).
    pub async fn login_sessions(&self, principal: &Principal, id: LoginId) -> Result<Vec<Session>, ServiceError> {
        self.get_login(principal, id).await?;
        Ok(self.store.live_sessions(id, self.now()).await?)
    }

    /// Disables a login and ends its sessions (`ManageLogins`).
    pub async fn disable_login(&self, principal: &Principal, id: LoginId) -> Result<Login, ServiceError> {
        principal.require(Permission::ManageLogins)?;
        if !self.store.disable_login(id, self.now()).await? {
            return Err(ServiceError::NotFound { what: "login" });
        }
        let login = self.store.get_login(id).await?.ok_or(ServiceError::NotFound { what: "login" })?;
        self.audit(AuditKind::LoginDisabled, Some(&login.email), Some(id), None, Some(principal), None).await?;
        Ok(login)
    }

    /// Issues a one-time set-password link (`ManageLogins`); earlier unused links of the login
    /// stop working.
    pub async fn issue_set_password_link(&self, principal: &Principal, id: LoginId) -> Result<SetPasswordLink, ServiceError> {
        let login = self.get_login(principal, id).await?;
        let now = self.now();
        let secret = login::generate_secret(login::SET_PASSWORD_PREFIX);
        let expires_at = now.plus_millis(self.session_policy.link_ms);
        self.store.insert_set_password_link(SetPasswordLinkId::new_at(now), id, &hash_token(&secret), now, expires_at).await?;
        self.audit(AuditKind::SetPasswordLinkIssued, Some(&login.email), Some(id), None, Some(principal), None).await?;
        Ok(SetPasswordLink { secret, expires_at, login })
    }

    /// Whether a set-password link works now (for rendering its page).
    pub async fn set_password_link_valid(&self, secret: &str) -> Result<bool, ServiceError> {
        Ok(self.store.set_password_link_login(&hash_token(secret), self.now()).await?.is_some())
    }

    /// The login a working set-password link is for (the page may show its email).
    pub async fn set_password_link_login(&self, secret: &str) -> Result<Option<Login>, ServiceError> {
        Ok(self.store.set_password_link_login(&hash_token(secret), self.now()).await?)
    }

    /// Sets a password through a one-time link: the link is used up, the password hashed with
    /// argon2id, and the login's existing sessions end. A used, expired or unknown link is
    /// `Gone`; a password breaking the rules is invalid (and the link still works).
    pub async fn set_password(&self, secret: &str, new_password: &str) -> Result<Login, ServiceError> {
        let gone = || ServiceError::Gone("this set-password link has expired or was already used; ask an admin for a new one".into());
        let login = self.store.set_password_link_login(&hash_token(secret), self.now()).await?.ok_or_else(gone)?;
        login::validate_password("password", new_password, &login.email).map_err(ValidationError::from)?;
        let password = new_password.to_owned();
        let hash = blocking("hashing a password", move || login::hash_password(&password)).await?;
        let id = self.store.use_set_password_link(&hash_token(secret), &hash, self.now()).await?.ok_or_else(gone)?;
        self.audit(AuditKind::PasswordSet, Some(&login.email), Some(id), None, None, None).await?;
        self.store.get_login(id).await?.ok_or(ServiceError::NotFound { what: "login" })
    }

    /// Signs a person in. Wrong email, wrong password, no password yet, a disabled login and an
    /// inactive staff member all give the same `WrongCredentials` (the audit says which);
    /// too many recent failures for the email or the address give `Throttled` without checking
    /// the password. Every attempt is audited.
    pub async fn sign_in(&self, attempt: SignIn) -> Result<NewSession, ServiceError> {
        let now = self.now();
        let addr = attempt.remote_addr.as_deref();
        // An unparsable email is simply a wrong one: the caller learns nothing more.
        let email = normalize_email(&attempt.email).unwrap_or_else(|_| attempt.email.trim().to_lowercase());
        let email = email.chars().take(254).collect::<String>();
        if let Some(until) = self.throttled_until(&email, addr, now).await? {
            self.audit(AuditKind::SignInThrottled, Some(&email), None, addr, None, None).await?;
            let retry_after_secs = u64::try_from((until.as_millis() - now.as_millis() + 999) / 1000).unwrap_or(1).max(1);
            return Err(SignInError::Throttled { retry_after_secs }.into());
        }
        let owner = self.store.find_login_owner_by_email(&email).await?;
        let hash = owner.as_ref().and_then(|o| o.password_hash.clone());
        let password = attempt.password.clone();
        // Always one argon2 verification, against a decoy when there is no hash, so the time
        // taken does not tell a known email from an unknown one.
        let matches = blocking("verifying a password", move || {
            let ok = login::verify_password(&password, hash.as_deref().unwrap_or_else(|| login::decoy_hash()));
            ok && hash.is_some()
        })
        .await?;
        let refusal = match (&owner, matches) {
            (None, _) => Some((AuditKind::SignInFailed, "unknown email")),
            (Some(o), _) if o.password_hash.is_none() => Some((AuditKind::SignInFailed, "no password set")),
            (Some(_), false) => Some((AuditKind::SignInFailed, "wrong password")),
            (Some(o), true) => o.may_sign_in().err().map(|why| (AuditKind::SignInRefused, why)),
        };
        let login_id = owner.as_ref().map(|o| o.login.id);
        if let Some((kind, detail)) = refusal {
            self.audit(kind, Some(&email), login_id, addr, None, Some(detail)).await?;
            return Err(SignInError::WrongCredentials.into());
        }
        let owner = owner.expect("a login signs in only when found");
        let secret = login::generate_secret(login::SESSION_PREFIX);
        let session = SessionId::new_at(now);
        let expires_at = self.session_policy.expires_at(now, now);
        let hash = hash_token(&secret);
        self.store
            .insert_session(&NewSessionRow {
                id: session,
                login_id: owner.login.id,
                secret_hash: &hash,
                remote_addr: addr,
                created_at: now,
                expires_at,
            })
            .await?;
        self.audit(AuditKind::SignedIn, Some(&email), login_id, addr, None, None).await?;
        Ok(NewSession { secret, expires_at, principal: owner.principal(session) })
    }

    async fn throttled_until(&self, email: &str, addr: Option<&str>, now: Timestamp) -> Result<Option<Timestamp>, ServiceError> {
        let policy = self.throttle_policy;
        let since = policy.window_start(now);
        let mut until = None;
        if policy.max_failures_per_account > 0 {
            let failures = self.store.recent_account_failures(email, since, policy.max_failures_per_account).await?;
            until = policy.blocked_until(&failures, policy.max_failures_per_account, now);
        }
        if let (Some(addr), true) = (addr, policy.max_failures_per_address > 0) {
            let failures = self.store.recent_address_failures(addr, since, policy.max_failures_per_address).await?;
            until = until.max(policy.blocked_until(&failures, policy.max_failures_per_address, now));
        }
        Ok(until)
    }

    /// The live session with this secret and the principal it yields; expired, revoked or
    /// unknown → None, as is a session whose login was disabled or whose staff member left.
    /// Use slides the expiry (last-seen is written at most once a minute).
    pub async fn session_principal(&self, secret: &str) -> Result<Option<LiveSession>, ServiceError> {
        let now = self.now();
        let Some((mut session, owner)) = self.store.find_live_session(&hash_token(secret), now).await? else {
            return Ok(None);
        };
        if owner.may_sign_in().is_err() {
            return Ok(None);
        }
        if self.session_policy.needs_touch(session.last_seen_at, now) {
            session.last_seen_at = now;
            session.expires_at = self.session_policy.expires_at(session.created_at, now);
            self.store.touch_session(session.id, now, session.expires_at).await?;
        }
        Ok(Some(LiveSession { principal: owner.principal(session.id), login: owner.login, session }))
    }

    /// Stores the caller's own console preferences (a console session's login).
    pub async fn set_preferences(
        &self,
        principal: &Principal,
        preferences: &steward_domain::login::Preferences,
    ) -> Result<(), ServiceError> {
        let Credential::Session { login, .. } = principal.credential else {
            return Err(ServiceError::NotFound { what: "login" });
        };
        if self.store.set_login_preferences(login, preferences, self.now()).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound { what: "login" })
        }
    }

    /// Ends the session with this secret; signing out twice is harmless.
    pub async fn sign_out(&self, secret: &str) -> Result<(), ServiceError> {
        if let Some(login) = self.store.revoke_session_by_hash(&hash_token(secret), self.now()).await? {
            self.audit(AuditKind::SignedOut, Some(&login.email), Some(login.id), None, None, None).await?;
        }
        Ok(())
    }

    /// Ends every session of the caller's own login (a session's login, or the login of a
    /// staff token's staff member). Returns how many ended.
    pub async fn sign_out_everywhere(&self, principal: &Principal) -> Result<u64, ServiceError> {
        let login = match principal.credential {
            Credential::Session { login, .. } => self.store.get_login(login).await?,
            _ => match principal.staff_id {
                Some(staff) => self.store.login_for_staff(staff).await?,
                None => None,
            },
        }
        .ok_or(ServiceError::NotFound { what: "login" })?;
        let n = self.store.revoke_login_sessions(login.id, self.now()).await?;
        self.audit(AuditKind::SignedOutEverywhere, Some(&login.email), Some(login.id), None, None, Some(&format!("{n} sessions"))).await?;
        Ok(n)
    }

    /// An admin ends every session of a login (`ManageLogins`). Returns how many ended.
    pub async fn revoke_login_sessions(&self, principal: &Principal, id: LoginId) -> Result<u64, ServiceError> {
        let login = self.get_login(principal, id).await?;
        let n = self.store.revoke_login_sessions(id, self.now()).await?;
        self.audit(AuditKind::SessionsRevoked, Some(&login.email), Some(id), None, Some(principal), Some(&format!("{n} sessions"))).await?;
        Ok(n)
    }

    /// The sign-in audit, newest first (`ManageLogins`).
    pub async fn login_audit(&self, principal: &Principal, filter: AuditFilter) -> Result<Vec<AuditEntry>, ServiceError> {
        principal.require(Permission::ManageLogins)?;
        let filter = AuditFilter { email: filter.email.map(|e| e.trim().to_lowercase()), ..filter };
        Ok(self.store.list_login_audit(&filter).await?)
    }

    /// The operator's first admin (`steward admin create`): creates the staff member when no
    /// staff member has the email (role admin), then its login, and issues a set-password link.
    pub async fn bootstrap_admin(&self, name: &str, email: &str) -> Result<SetPasswordLink, ServiceError> {
        let operator = Principal::operator();
        let email = normalize_email(email).map_err(ValidationError::from)?;
        let staff = match self.store.find_staff_by_email(&email).await? {
            Some(staff) => staff,
            None => {
                let input = steward_domain::staff::StaffInput {
                    name: name.to_owned(),
                    email: email.clone(),
                    role: steward_domain::auth::Role::Admin,
                    team: None,
                    active: true,
                };
                self.create_staff(input).await?
            }
        };
        let login = match self.store.login_for_staff(staff.id).await? {
            Some(login) => login,
            None => self.create_login(&operator, NewLogin { staff_id: Some(staff.id), email: Some(email), partner_id: None }).await?,
        };
        self.issue_set_password_link(&operator, login.id).await
    }

    /// A fresh set-password link for the login with this email (`steward admin link`).
    pub async fn operator_link(&self, email: &str) -> Result<SetPasswordLink, ServiceError> {
        let email = normalize_email(email).map_err(ValidationError::from)?;
        let owner: LoginOwner = self.store.find_login_owner_by_email(&email).await?.ok_or(ServiceError::NotFound { what: "login" })?;
        self.issue_set_password_link(&Principal::operator(), owner.login.id).await
    }
}

/// Runs CPU-heavy work (argon2) on tokio's blocking pool.
async fn blocking<T: Send + 'static>(operation: &'static str, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ServiceError::Internal { operation, cause: e.to_string() })
}
