//! People's logins, set-password links, console sessions and the sign-in audit. Secrets are
//! stored only as SHA-256 hashes, passwords only as argon2id PHC strings.

use super::Operation;
use super::{col, col_bool, corrupt, Store, StoreError};
use sqlx::any::AnyRow;
use steward_domain::auth::Role;
use steward_domain::ids::{LoginAuditId, LoginId, PartnerId, SessionId, SetPasswordLinkId, StaffId};
use steward_domain::login::{AuditEntry, AuditKind, Language, Login, LoginOwner, Preferences, Session};
use steward_domain::time::Timestamp;

const LOGIN_COLUMNS: &str =
    "l.id, l.staff_id, l.email, l.partner_id, l.password_hash, l.created_at, l.updated_at, l.disabled_at, l.language, l.timezone";
const OWNER_COLUMNS: &str = "s.name AS staff_name, s.role AS staff_role, s.active AS staff_active";
const SESSION_COLUMNS: &str = "x.id AS session_id, x.login_id AS session_login_id, x.remote_addr AS session_remote_addr, \
     x.created_at AS session_created_at, x.last_seen_at AS session_last_seen_at, x.expires_at AS session_expires_at, \
     x.revoked_at AS session_revoked_at";
const AUDIT_COLUMNS: &str = "id, at, kind, email, login_id, remote_addr, actor, detail";

fn login_from_row(row: &AnyRow) -> Result<Login, StoreError> {
    let id: String = col(row, "id")?;
    let staff: String = col(row, "staff_id")?;
    let partner: Option<String> = col(row, "partner_id")?;
    let hash: Option<String> = col(row, "password_hash")?;
    Ok(Login {
        id: LoginId::parse("id", &id).map_err(corrupt)?,
        staff_id: StaffId::parse("staff_id", &staff).map_err(corrupt)?,
        email: col(row, "email")?,
        partner_id: partner.map(|p| PartnerId::parse("partner_id", &p)).transpose().map_err(corrupt)?,
        password_set: hash.is_some(),
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        updated_at: Timestamp::from_millis(col(row, "updated_at")?),
        disabled_at: col::<Option<i64>>(row, "disabled_at")?.map(Timestamp::from_millis),
        preferences: Preferences {
            language: col::<Option<String>>(row, "language")?.map(|l| Language::parse("language", &l)).transpose().map_err(corrupt)?,
            timezone: col(row, "timezone")?,
        },
    })
}

fn owner_from_row(row: &AnyRow) -> Result<LoginOwner, StoreError> {
    let role: String = col(row, "staff_role")?;
    Ok(LoginOwner {
        login: login_from_row(row)?,
        password_hash: col(row, "password_hash")?,
        staff_name: col(row, "staff_name")?,
        staff_role: Role::parse("staff_role", &role).map_err(corrupt)?,
        staff_active: col_bool(row, "staff_active")?,
    })
}

fn session_from_row(row: &AnyRow) -> Result<Session, StoreError> {
    let id: String = col(row, "session_id")?;
    let login: String = col(row, "session_login_id")?;
    Ok(Session {
        id: SessionId::parse("session_id", &id).map_err(corrupt)?,
        login_id: LoginId::parse("session_login_id", &login).map_err(corrupt)?,
        remote_addr: col(row, "session_remote_addr")?,
        created_at: Timestamp::from_millis(col(row, "session_created_at")?),
        last_seen_at: Timestamp::from_millis(col(row, "session_last_seen_at")?),
        expires_at: Timestamp::from_millis(col(row, "session_expires_at")?),
        revoked_at: col::<Option<i64>>(row, "session_revoked_at")?.map(Timestamp::from_millis),
    })
}

fn audit_from_row(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let id: String = col(row, "id")?;
    let kind: String = col(row, "kind")?;
    let login: Option<String> = col(row, "login_id")?;
    Ok(AuditEntry {
        id: LoginAuditId::parse("id", &id).map_err(corrupt)?,
        at: Timestamp::from_millis(col(row, "at")?),
        kind: AuditKind::parse("kind", &kind).map_err(corrupt)?,
        email: col(row, "email")?,
        login_id: login.map(|l| LoginId::parse("login_id", &l)).transpose().map_err(corrupt)?,
        remote_addr: col(row, "remote_addr")?,
        actor: col(row, "actor")?,
        detail: col(row, "detail")?,
    })
}

/// Which audit entries to list: all filters must match; newest first, keyset on the id.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub email: Option<String>,
    pub login_id: Option<LoginId>,
    pub kind: Option<AuditKind>,
    pub remote_addr: Option<String>,
    /// Only entries older than this one (the previous page's last id).
    pub before: Option<LoginAuditId>,
    pub limit: u32,
}

/// A new session row: the secret's hash and when it starts and ends.
pub struct NewSessionRow<'a> {
    pub id: SessionId,
    pub login_id: LoginId,
    pub secret_hash: &'a str,
    pub remote_addr: Option<&'a str>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Store {
    /// Stores a login's console preferences; false when there is no such login.
    pub async fn set_login_preferences(&self, id: LoginId, preferences: &Preferences, now: Timestamp) -> Result<bool, StoreError> {
        Operation("set_login_preferences")
            .run(async {
                let done = sqlx::query("UPDATE logins SET language = $2, timezone = $3, updated_at = $4 WHERE id = $1")
                    .bind(id.to_string())
                    .bind(preferences.language.map(|l| l.as_str()))
                    .bind(preferences.timezone.clone())
                    .bind(now.as_millis())
                    .execute(self.pool())
                    .await?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }

    pub async fn insert_login(&self, login: &Login) -> Result<(), StoreError> {
        Operation("insert_login")
            .run(async {
                sqlx::query(
                    "INSERT INTO logins (id, staff_id, email, partner_id, password_hash, created_at, updated_at, disabled_at) \
                     VALUES ($1, $2, $3, $4, NULL, $5, $6, NULL)",
                )
                .bind(login.id.to_string())
                .bind(login.staff_id.to_string())
                .bind(&login.email)
                .bind(login.partner_id.map(|p| p.to_string()))
                .bind(login.created_at.as_millis())
                .bind(login.updated_at.as_millis())
                .execute(self.pool())
                .await?;
                Ok(())
            })
            .await
    }

    pub async fn get_login(&self, id: LoginId) -> Result<Option<Login>, StoreError> {
        Operation("get_login")
            .run(async {
                let row = sqlx::query(&format!("SELECT {LOGIN_COLUMNS} FROM logins l WHERE l.id = $1"))
                    .bind(id.to_string())
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(login_from_row).transpose()
            })
            .await
    }

    /// The login of a staff member, if it has one.
    pub async fn login_for_staff(&self, staff: StaffId) -> Result<Option<Login>, StoreError> {
        Operation("login_for_staff")
            .run(async {
                let row = sqlx::query(&format!("SELECT {LOGIN_COLUMNS} FROM logins l WHERE l.staff_id = $1"))
                    .bind(staff.to_string())
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(login_from_row).transpose()
            })
            .await
    }

    pub async fn list_logins(&self) -> Result<Vec<Login>, StoreError> {
        Operation("list_logins")
            .run(async {
                let rows = sqlx::query(&format!("SELECT {LOGIN_COLUMNS} FROM logins l ORDER BY l.id")).fetch_all(self.pool()).await?;
                rows.iter().map(login_from_row).collect()
            })
            .await
    }

    /// The login with this (normalised) email, with its owner and password hash.
    pub async fn find_login_owner_by_email(&self, email: &str) -> Result<Option<LoginOwner>, StoreError> {
        Operation("find_login_owner_by_email")
            .run(async {
                let row = sqlx::query(&format!(
                    "SELECT {LOGIN_COLUMNS}, {OWNER_COLUMNS} FROM logins l JOIN staff s ON s.id = l.staff_id WHERE l.email = $1"
                ))
                .bind(email)
                .fetch_optional(self.pool())
                .await?;
                row.as_ref().map(owner_from_row).transpose()
            })
            .await
    }

    /// Disables a login and revokes its sessions, in one transaction. False when no such login.
    /// Disabling twice keeps the first time.
    pub async fn disable_login(&self, id: LoginId, at: Timestamp) -> Result<bool, StoreError> {
        Operation("disable_login")
            .run(async {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("UPDATE logins SET disabled_at = COALESCE(disabled_at, $2), updated_at = $2 WHERE id = $1")
                    .bind(id.to_string())
                    .bind(at.as_millis())
                    .execute(&mut *tx)
                    .await?;
                revoke_sessions_of(&mut tx, id, at).await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }

    /// Stores a set-password link, voiding the login's earlier unused links in the same
    /// transaction: only the newest link works.
    pub async fn insert_set_password_link(
        &self,
        id: SetPasswordLinkId,
        login: LoginId,
        secret_hash: &str,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        Operation("insert_set_password_link")
            .run(async {
                let mut tx = self.begin_write().await?;
                sqlx::query("UPDATE set_password_links SET used_at = $2 WHERE login_id = $1 AND used_at IS NULL")
                    .bind(login.to_string())
                    .bind(created_at.as_millis())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO set_password_links (id, login_id, secret_hash, created_at, expires_at, used_at) \
                     VALUES ($1, $2, $3, $4, $5, NULL)",
                )
                .bind(id.to_string())
                .bind(login.to_string())
                .bind(secret_hash)
                .bind(created_at.as_millis())
                .bind(expires_at.as_millis())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            })
            .await
    }

    /// The login a set-password link is for, if it is unused and unexpired at `now`.
    pub async fn set_password_link_login(&self, secret_hash: &str, now: Timestamp) -> Result<Option<Login>, StoreError> {
        Operation("set_password_link_login")
            .run(async {
                let row = sqlx::query(&format!(
                    "SELECT {LOGIN_COLUMNS} FROM set_password_links k JOIN logins l ON l.id = k.login_id \
                     WHERE k.secret_hash = $1 AND k.used_at IS NULL AND k.expires_at > $2"
                ))
                .bind(secret_hash)
                .bind(now.as_millis())
                .fetch_optional(self.pool())
                .await?;
                row.as_ref().map(login_from_row).transpose()
            })
            .await
    }

    /// Follows a set-password link once: marks it used, stores the new password hash and
    /// revokes the login's sessions, all in one transaction. None when the link is unknown,
    /// used or expired (and then nothing changes).
    pub async fn use_set_password_link(
        &self,
        secret_hash: &str,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<Option<LoginId>, StoreError> {
        Operation("use_set_password_link")
            .run(async {
                let mut tx = self.begin_write().await?;
                let row =
                    sqlx::query("SELECT login_id FROM set_password_links WHERE secret_hash = $1 AND used_at IS NULL AND expires_at > $2")
                        .bind(secret_hash)
                        .bind(now.as_millis())
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let login: String = col(&row, "login_id")?;
                let login = LoginId::parse("login_id", &login).map_err(corrupt)?;
                // The guard on used_at makes a concurrent second use of the same link a no-op.
                let claimed = sqlx::query("UPDATE set_password_links SET used_at = $2 WHERE secret_hash = $1 AND used_at IS NULL")
                    .bind(secret_hash)
                    .bind(now.as_millis())
                    .execute(&mut *tx)
                    .await?;
                if claimed.rows_affected() != 1 {
                    return Ok(None);
                }
                sqlx::query("UPDATE logins SET password_hash = $2, updated_at = $3 WHERE id = $1")
                    .bind(login.to_string())
                    .bind(password_hash)
                    .bind(now.as_millis())
                    .execute(&mut *tx)
                    .await?;
                revoke_sessions_of(&mut tx, login, now).await?;
                tx.commit().await?;
                Ok(Some(login))
            })
            .await
    }

    pub async fn insert_session(&self, session: &NewSessionRow<'_>) -> Result<(), StoreError> {
        Operation("insert_session")
            .run(async {
                sqlx::query(
                    "INSERT INTO sessions (id, login_id, secret_hash, remote_addr, created_at, last_seen_at, expires_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $5, $6, NULL)",
                )
                .bind(session.id.to_string())
                .bind(session.login_id.to_string())
                .bind(session.secret_hash)
                .bind(session.remote_addr)
                .bind(session.created_at.as_millis())
                .bind(session.expires_at.as_millis())
                .execute(self.pool())
                .await?;
                Ok(())
            })
            .await
    }

    /// The live session with this secret hash at `now` (not revoked, not expired) with its
    /// login and owner.
    pub async fn find_live_session(&self, secret_hash: &str, now: Timestamp) -> Result<Option<(Session, LoginOwner)>, StoreError> {
        Operation("find_live_session")
            .run(async {
                let row = sqlx::query(&format!(
                    "SELECT {SESSION_COLUMNS}, {LOGIN_COLUMNS}, {OWNER_COLUMNS} FROM sessions x \
                     JOIN logins l ON l.id = x.login_id JOIN staff s ON s.id = l.staff_id \
                     WHERE x.secret_hash = $1 AND x.revoked_at IS NULL AND x.expires_at > $2"
                ))
                .bind(secret_hash)
                .bind(now.as_millis())
                .fetch_optional(self.pool())
                .await?;
                row.as_ref().map(|r| Ok((session_from_row(r)?, owner_from_row(r)?))).transpose()
            })
            .await
    }

    /// Moves a live session's last-seen and expiry forward.
    pub async fn touch_session(&self, id: SessionId, last_seen: Timestamp, expires_at: Timestamp) -> Result<(), StoreError> {
        Operation("touch_session")
            .run(async {
                sqlx::query("UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE id = $1 AND revoked_at IS NULL")
                    .bind(id.to_string())
                    .bind(last_seen.as_millis())
                    .bind(expires_at.as_millis())
                    .execute(self.pool())
                    .await?;
                Ok(())
            })
            .await
    }

    /// Revokes the live session with this secret hash; returns its login when there was one.
    pub async fn revoke_session_by_hash(&self, secret_hash: &str, at: Timestamp) -> Result<Option<Login>, StoreError> {
        Operation("revoke_session_by_hash")
            .run(async {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(&format!(
                    "SELECT {LOGIN_COLUMNS} FROM sessions x JOIN logins l ON l.id = x.login_id \
                     WHERE x.secret_hash = $1 AND x.revoked_at IS NULL"
                ))
                .bind(secret_hash)
                .fetch_optional(&mut *tx)
                .await?;
                let login = row.as_ref().map(login_from_row).transpose()?;
                if login.is_some() {
                    sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE secret_hash = $1 AND revoked_at IS NULL")
                        .bind(secret_hash)
                        .bind(at.as_millis())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(login)
            })
            .await
    }

    /// Revokes every live session of a login; returns how many there were.
    pub async fn revoke_login_sessions(&self, login: LoginId, at: Timestamp) -> Result<u64, StoreError> {
        Operation("revoke_login_sessions")
            .run(async {
                let mut tx = self.begin_write().await?;
                let n = revoke_sessions_of(&mut tx, login, at).await?;
                tx.commit().await?;
                Ok(n)
            })
            .await
    }

    /// A login's sessions that are live at `now`, newest first.
    pub async fn live_sessions(&self, login: LoginId, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        Operation("live_sessions")
            .run(async {
                let rows = sqlx::query(&format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions x WHERE x.login_id = $1 AND x.revoked_at IS NULL AND x.expires_at > $2 \
                     ORDER BY x.id DESC"
                ))
                .bind(login.to_string())
                .bind(now.as_millis())
                .fetch_all(self.pool())
                .await?;
                rows.iter().map(session_from_row).collect()
            })
            .await
    }

    pub async fn insert_login_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        Operation("insert_login_audit")
            .run(async {
                sqlx::query(&format!("INSERT INTO login_audit ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
                    .bind(entry.id.to_string())
                    .bind(entry.at.as_millis())
                    .bind(entry.kind.as_str())
                    .bind(entry.email.as_deref())
                    .bind(entry.login_id.map(|l| l.to_string()))
                    .bind(entry.remote_addr.as_deref())
                    .bind(entry.actor.as_deref())
                    .bind(entry.detail.as_deref())
                    .execute(self.pool())
                    .await?;
                Ok(())
            })
            .await
    }

    /// The newest failed sign-ins for an email since `since` and since its last successful
    /// sign-in (a success clears the account's count), newest first, at most `limit`.
    pub async fn recent_account_failures(&self, email: &str, since: Timestamp, limit: u32) -> Result<Vec<Timestamp>, StoreError> {
        Operation("recent_account_failures")
            .run(async {
                let rows = sqlx::query(
                    "SELECT at FROM login_audit WHERE email = $1 AND kind = 'sign_in_failed' AND at >= $2 \
                     AND at > COALESCE((SELECT MAX(at) FROM login_audit WHERE email = $1 AND kind = 'signed_in'), -1) \
                     ORDER BY at DESC LIMIT $3",
                )
                .bind(email)
                .bind(since.as_millis())
                .bind(i64::from(limit))
                .fetch_all(self.pool())
                .await?;
                rows.iter().map(|r| col::<i64>(r, "at").map(Timestamp::from_millis)).collect()
            })
            .await
    }

    /// The newest failed sign-ins from an address since `since`, newest first, at most `limit`.
    pub async fn recent_address_failures(&self, address: &str, since: Timestamp, limit: u32) -> Result<Vec<Timestamp>, StoreError> {
        Operation("recent_address_failures")
            .run(async {
                let rows = sqlx::query(
                    "SELECT at FROM login_audit WHERE remote_addr = $1 AND kind = 'sign_in_failed' AND at >= $2 \
                     ORDER BY at DESC LIMIT $3",
                )
                .bind(address)
                .bind(since.as_millis())
                .bind(i64::from(limit))
                .fetch_all(self.pool())
                .await?;
                rows.iter().map(|r| col::<i64>(r, "at").map(Timestamp::from_millis)).collect()
            })
            .await
    }

    pub async fn list_login_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        Operation("list_login_audit")
            .run(async {
                let mut conditions = Vec::new();
                let mut binds: Vec<String> = Vec::new();
                let mut add = |column: &str, op: &str, value: String| {
                    binds.push(value);
                    conditions.push(format!("{column} {op} ${}", binds.len()));
                };
                if let Some(email) = &filter.email {
                    add("email", "=", email.clone());
                }
                if let Some(login) = filter.login_id {
                    add("login_id", "=", login.to_string());
                }
                if let Some(kind) = filter.kind {
                    add("kind", "=", kind.as_str().to_owned());
                }
                if let Some(addr) = &filter.remote_addr {
                    add("remote_addr", "=", addr.clone());
                }
                if let Some(before) = filter.before {
                    add("id", "<", before.to_string());
                }
                let clause = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
                let sql = format!("SELECT {AUDIT_COLUMNS} FROM login_audit {clause} ORDER BY id DESC LIMIT {}", filter.limit.max(1));
                let mut query = sqlx::query(&sql);
                for b in &binds {
                    query = query.bind(b.as_str());
                }
                let rows = query.fetch_all(self.pool()).await?;
                rows.iter().map(audit_from_row).collect()
            })
            .await
    }
}

async fn revoke_sessions_of(tx: &mut sqlx::Transaction<'static, sqlx::Any>, login: LoginId, at: Timestamp) -> Result<u64, StoreError> {
    let done = sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE login_id = $1 AND revoked_at IS NULL AND expires_at > $2")
        .bind(login.to_string())
        .bind(at.as_millis())
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}
