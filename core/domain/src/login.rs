//! People's sign-in: logins (email and password), the password rules and hashing, console
//! sessions, one-time set-password links, login throttling and the sign-in audit.
//!
//! Everything here is a pure function of its inputs; hashing is CPU work with no I/O, and the
//! services run it on the blocking pool, never on the async threads.

use super::ids::{LoginAuditId, LoginId, PartnerId, StaffId};
use super::string_enum;
use super::time::Timestamp;
use super::FieldError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;

/// A staff member's login. A login with `partner_id` belongs to a partner's technician: it
/// signs in as role `partner`, scoped to that partner's delegated tickets.
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    pub id: LoginId,
    pub staff_id: StaffId,
    /// Normalised (trimmed, lower case); unique across logins.
    pub email: String,
    pub partner_id: Option<PartnerId>,
    /// False until the person follows a set-password link.
    pub password_set: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub disabled_at: Option<Timestamp>,
    /// The person's own console settings.
    pub preferences: Preferences,
}

/// A login with what signing in needs to know about its owner.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginOwner {
    pub login: Login,
    /// The argon2id PHC string, None until a password is set.
    pub password_hash: Option<String>,
    pub staff_name: String,
    pub staff_role: super::auth::Role,
    pub staff_active: bool,
}

impl LoginOwner {
    /// Whether this login may sign in at all (whatever the password).
    pub fn may_sign_in(&self) -> Result<(), &'static str> {
        if self.login.disabled_at.is_some() {
            Err("login disabled")
        } else if !self.staff_active {
            Err("staff member inactive")
        } else {
            Ok(())
        }
    }

    /// The principal a session of this login acts as: the staff member's role, or `partner`
    /// scoped to the login's partner, exactly as a token of that role would.
    pub fn principal(&self, session: super::ids::SessionId) -> super::auth::Principal {
        use super::auth::{Credential, Principal, Role};
        Principal {
            role: if self.login.partner_id.is_some() { Role::Partner } else { self.staff_role },
            staff_id: Some(self.login.staff_id),
            partner_id: self.login.partner_id,
            name: self.staff_name.clone(),
            credential: Credential::Session { session, login: self.login.id },
        }
    }
}

/// A console session as stored (its secret exists only as a hash).
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: super::ids::SessionId,
    pub login_id: LoginId,
    pub remote_addr: Option<String>,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// The password rules, stated once: checked when a password is set, explained on refusal.
pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 256;

pub fn validate_password(field: &str, password: &str, email: &str) -> Result<(), FieldError> {
    let chars = password.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars) {
        return Err(FieldError::new(field, format!("a password has {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters")));
    }
    if password.trim().is_empty() {
        return Err(FieldError::new(field, "a password is not only spaces"));
    }
    if password.trim().eq_ignore_ascii_case(email.trim()) {
        return Err(FieldError::new(field, "a password is not the email address"));
    }
    Ok(())
}

/// Argon2id's cost, stated once (OWASP's recommended minimum: 19 MiB, 2 passes, 1 lane). Each
/// hash records its parameters, so raising them later still verifies older hashes.
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
pub const ARGON2_PASSES: u32 = 2;
pub const ARGON2_LANES: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None).expect("the stated argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string (`$argon2id$v=19$m=…`) of a password under a fresh random salt.
pub fn hash_password(password: &str) -> String {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes make a valid salt");
    argon2().hash_password(password.as_bytes(), &salt).expect("argon2 hashes any password within the stated limits").to_string()
}

/// Whether `password` matches the stored PHC string; an unreadable hash matches nothing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| argon2().verify_password(password.as_bytes(), &hash).is_ok())
}

/// A hash no password matches, verified when the email is unknown so that a wrong email costs
/// the same time as a wrong password and timing does not reveal which logins exist.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&format!("decoy-{}", rand::random::<u64>())))
}

/// Prefixes of the one-time secrets, so a leaked one is recognisable.
pub const SESSION_PREFIX: &str = "sts_";
pub const SET_PASSWORD_PREFIX: &str = "stp_";

/// A fresh secret of 256 random bits with `prefix`: shown once, stored only as its SHA-256
/// ([`super::auth::hash_token`]), which suffices at this entropy.
pub fn generate_secret(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// How long sessions and links live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session ends after this long without use (sliding).
    pub idle_ms: i64,
    /// ... and at the latest this long after sign-in, however busy.
    pub max_ms: i64,
    /// How long a set-password link works.
    pub link_ms: i64,
    /// Last-seen is written at most this often, so reading a session rarely writes.
    pub touch_every_ms: i64,
}

impl SessionPolicy {
    /// When a session used at `now` expires.
    pub fn expires_at(&self, created_at: Timestamp, now: Timestamp) -> Timestamp {
        Timestamp::from_millis(now.plus_millis(self.idle_ms).as_millis().min(created_at.plus_millis(self.max_ms).as_millis()))
    }

    /// Whether a session last seen at `last_seen` should have that moved to `now`.
    pub fn needs_touch(&self, last_seen: Timestamp, now: Timestamp) -> bool {
        now.as_millis() - last_seen.as_millis() >= self.touch_every_ms
    }
}

/// Login throttling: at most `max_failures` failed sign-ins per window, counted separately
/// for an account (email) and for a remote address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub max_failures_per_account: u32,
    pub max_failures_per_address: u32,
    pub window_ms: i64,
}

impl ThrottlePolicy {
    /// Given the newest failures in the window (newest first, at most `max` of them), the time
    /// from which another attempt is allowed, or None if one is allowed now. The attempt is
    /// allowed again when the oldest of the `max` newest failures leaves the window.
    pub fn blocked_until(&self, newest_failures: &[Timestamp], max: u32, now: Timestamp) -> Option<Timestamp> {
        let max = max as usize;
        if max == 0 || newest_failures.len() < max {
            return None;
        }
        let until = newest_failures[max - 1].plus_millis(self.window_ms);
        (until > now).then_some(until)
    }

    /// The start of the window ending at `now`.
    pub fn window_start(&self, now: Timestamp) -> Timestamp {
        now.plus_millis(-self.window_ms)
    }
}

string_enum! {
    /// What an entry of the sign-in audit records.
    pub enum AuditKind {
        /// A correct email and password: a session began.
        SignedIn => "signed_in",
        /// A wrong email or password (the entry says which; the caller was not told).
        SignInFailed => "sign_in_failed",
        /// Refused without checking the password: too many recent failures.
        SignInThrottled => "sign_in_throttled",
        /// Correct password on a disabled login, or a login whose staff member is inactive.
        SignInRefused => "sign_in_refused",
        SignedOut => "signed_out",
        SignedOutEverywhere => "signed_out_everywhere",
        /// An admin revoked a login's sessions.
        SessionsRevoked => "sessions_revoked",
        LoginCreated => "login_created",
        LoginDisabled => "login_disabled",
        SetPasswordLinkIssued => "set_password_link_issued",
        PasswordSet => "password_set",
    }
}

/// One entry of the sign-in audit log (append-only).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: LoginAuditId,
    pub at: Timestamp,
    pub kind: AuditKind,
    /// The email as typed (normalised) or the login's email.
    pub email: Option<String>,
    pub login_id: Option<LoginId>,
    pub remote_addr: Option<String>,
    /// Who did it, when not the login's owner (an admin's or the operator's name).
    pub actor: Option<String>,
    /// What the caller was not told, for the operator: `unknown email`, `wrong password`, …
    pub detail: Option<String>,
}

string_enum! {
    /// A console language a person can choose (none chosen: the browser's).
    pub enum Language {
        En => "en",
        Zh => "zh",
    }
}

/// A person's console settings: language (None: the browser's `Accept-Language`) and timezone
/// (an IANA name; None: UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    pub language: Option<Language>,
    pub timezone: Option<String>,
}

impl Preferences {
    /// Parses the preferences form: `language` is `en`, `zh` or empty/`browser`; `timezone` an
    /// IANA name known to the timezone database, or empty.
    pub fn parse(language: &str, timezone: &str) -> Result<Preferences, FieldError> {
        let language = match language.trim() {
            "" | "browser" => None,
            other => Some(Language::parse("language", other)?),
        };
        let timezone = match timezone.trim() {
            "" => None,
            name => match jiff::tz::TimeZone::get(name) {
                Ok(_) => Some(name.to_owned()),
                Err(_) => {
                    return Err(FieldError::new(
                        "timezone",
                        format!("`{name}` is not an IANA timezone name such as Asia/Shanghai or Europe/Berlin"),
                    ))
                }
            },
        };
        Ok(Preferences { language, timezone })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules_name_the_field_and_state_the_limits() {
        let e = validate_password("password", "short", "a@b.co").unwrap_err();
        assert_eq!(e.field, "password");
        assert!(e.message.contains("12 to 256"));
        assert!(validate_password("password", "            ", "a@b.co").is_err());
        assert!(validate_password("password", "Alice@Example.org", "alice@example.org").is_err());
        assert!(validate_password("password", "correct horse battery", "a@b.co").is_ok());
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify_only_the_password() {
        let a = hash_password("correct horse battery");
        let b = hash_password("correct horse battery");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(verify_password("correct horse battery", &a));
        assert!(!verify_password("correct horse batterY", &a));
        assert!(!verify_password("anything", "not a hash"));
        assert!(!verify_password("", decoy_hash()));
    }

    #[test]
    fn throttling_blocks_until_the_oldest_counted_failure_leaves_the_window() {
        let policy = ThrottlePolicy { max_failures_per_account: 3, max_failures_per_address: 10, window_ms: 1000 };
        let t = Timestamp::from_millis;
        assert_eq!(policy.blocked_until(&[t(500), t(400)], 3, t(600)), None, "under the limit");
        assert_eq!(policy.blocked_until(&[t(500), t(400), t(300)], 3, t(600)), Some(t(1300)));
        assert_eq!(policy.blocked_until(&[t(500), t(400), t(300)], 3, t(1300)), None, "the window has moved on");
        assert_eq!(policy.blocked_until(&[t(500)], 0, t(600)), None, "0 switches throttling off");
    }

    #[test]
    fn sessions_slide_but_never_past_their_maximum() {
        let p = SessionPolicy { idle_ms: 100, max_ms: 250, link_ms: 1, touch_every_ms: 10 };
        let t = Timestamp::from_millis;
        assert_eq!(p.expires_at(t(0), t(0)), t(100));
        assert_eq!(p.expires_at(t(0), t(90)), t(190));
        assert_eq!(p.expires_at(t(0), t(200)), t(250));
        assert!(!p.needs_touch(t(0), t(9)) && p.needs_touch(t(0), t(10)));
    }

    #[test]
    fn secrets_are_prefixed_and_unique() {
        let a = generate_secret(SESSION_PREFIX);
        assert!(a.starts_with("sts_") && a.len() > 40);
        assert_ne!(a, generate_secret(SESSION_PREFIX));
    }
}
