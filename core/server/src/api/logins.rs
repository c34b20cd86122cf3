//! /api/v1/logins and /api/v1/login-audit: people's logins to the console (admin only,
//! `ManageLogins`). Bearer tokens only, like all of /api: nothing here reads a cookie.

use super::extract::{Json, Principal, Query};
use super::problem::{ApiError, Problem};
use super::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use steward_domain::ids::{LoginAuditId, LoginId, PartnerId, SessionId, StaffId};
use steward_domain::login::{AuditEntry, AuditKind, Login, Session};
use steward_domain::time::Timestamp;
use steward_services::{AuditFilter, NewLogin};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_login, list_logins))
        .routes(routes!(get_login))
        .routes(routes!(issue_link))
        .routes(routes!(list_sessions, revoke_sessions))
        .routes(routes!(disable_login))
        .routes(routes!(list_audit))
}

#[derive(Serialize, ToSchema)]
pub struct LoginView {
    #[schema(value_type = String, format = Uuid)]
    id: LoginId,
    #[schema(value_type = String, format = Uuid)]
    staff_id: StaffId,
    email: String,
    /// Set for a partner's technician: the login signs in as role `partner` for this partner.
    #[schema(value_type = Option<String>, format = Uuid)]
    partner_id: Option<PartnerId>,
    /// False until the person follows a set-password link.
    password_set: bool,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    disabled_at: Option<Timestamp>,
}

impl From<Login> for LoginView {
    fn from(l: Login) -> Self {
        LoginView {
            id: l.id,
            staff_id: l.staff_id,
            email: l.email,
            partner_id: l.partner_id,
            password_set: l.password_set,
            created_at: l.created_at,
            updated_at: l.updated_at,
            disabled_at: l.disabled_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLoginBody {
    /// The staff member the login is for (one login per staff member).
    #[schema(value_type = String, format = Uuid)]
    staff_id: String,
    /// Defaults to the staff member's email.
    email: Option<String>,
    /// For a partner's technician: the partner whose delegated tickets the login may work.
    #[schema(value_type = Option<String>, format = Uuid)]
    partner_id: Option<String>,
}

fn parse_field<T>(
    parse: impl Fn(&str, &str) -> Result<T, steward_domain::FieldError>,
    field: &str,
    text: Option<&str>,
) -> Result<Option<T>, ApiError> {
    text.map(|t| parse(field, t)).transpose().map_err(|e| ApiError::validation(StatusCode::UNPROCESSABLE_ENTITY, vec![e]))
}

fn login_id(id: &str) -> Result<LoginId, ApiError> {
    LoginId::parse("id", id).map_err(|_| ApiError::not_found(format!("no login `{id}`")))
}

/// Create a login for a staff member. It has no password until the person follows a
/// set-password link (POST /api/v1/logins/{id}/set-password-link).
#[utoipa::path(
    post, path = "/api/v1/logins", tag = "logins", request_body = NewLoginBody,
    responses(
        (status = 404, description = "A field names something that does not exist (`not-found`; `errors` names the field)", body = Problem, content_type = "application/problem+json"),
        (status = 201, description = "The login", body = LoginView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The staff member already has a login, or the email is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn create_login(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewLoginBody>,
) -> Result<(StatusCode, axum::Json<LoginView>), ApiError> {
    principal.require(steward_domain::auth::Permission::ManageLogins)?;
    let staff_id = parse_field(StaffId::parse, "staff_id", Some(&body.staff_id))?;
    let partner_id = parse_field(PartnerId::parse, "partner_id", body.partner_id.as_deref())?;
    let login = state.services.create_login(&principal, NewLogin { staff_id, email: body.email, partner_id }).await?;
    Ok((StatusCode::CREATED, axum::Json(login.into())))
}

/// List every login (never a password or a secret).
#[utoipa::path(
    get, path = "/api/v1/logins", tag = "logins",
    responses(
        (status = 200, description = "All logins", body = Vec<LoginView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_logins(State(state): State<AppState>, principal: Principal) -> Result<axum::Json<Vec<LoginView>>, ApiError> {
    Ok(axum::Json(state.services.list_logins(&principal).await?.into_iter().map(LoginView::from).collect()))
}

/// One login.
#[utoipa::path(
    get, path = "/api/v1/logins/{id}", tag = "logins", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The login", body = LoginView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such login", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn get_login(State(state): State<AppState>, principal: Principal, Path(id): Path<String>) -> Result<axum::Json<LoginView>, ApiError> {
    principal.require(steward_domain::auth::Permission::ManageLogins)?;
    Ok(axum::Json(state.services.get_login(&principal, login_id(&id)?).await?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct SetPasswordLinkView {
    /// The page to send the person to (built from `public_url` or the listen address); the
    /// secret in it works once. Shown only in this response.
    url: String,
    /// The same link relative to the server.
    path: String,
    #[schema(value_type = String, format = DateTime)]
    expires_at: Timestamp,
}

/// Issue a one-time set-password link for a login; earlier unused links stop working.
#[utoipa::path(
    post, path = "/api/v1/logins/{id}/set-password-link", tag = "logins", params(("id" = String, Path)),
    responses(
        (status = 201, description = "The link, shown once", body = SetPasswordLinkView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such login", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn issue_link(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<(StatusCode, axum::Json<SetPasswordLinkView>), ApiError> {
    principal.require(steward_domain::auth::Permission::ManageLogins)?;
    let link = state.services.issue_set_password_link(&principal, login_id(&id)?).await?;
    let path = link.path();
    Ok((StatusCode::CREATED, axum::Json(SetPasswordLinkView { url: state.config.public_link(&path), path, expires_at: link.expires_at })))
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    #[schema(value_type = String, format = Uuid)]
    id: SessionId,
    remote_addr: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    last_seen_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    expires_at: Timestamp,
}

impl From<Session> for SessionView {
    fn from(s: Session) -> Self {
        SessionView {
            id: s.id,
            remote_addr: s.remote_addr,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
        }
    }
}

/// A login's live sessions, newest first.
#[utoipa::path(
    get, path = "/api/v1/logins/{id}/sessions", tag = "logins", params(("id" = String, Path)),
    responses(
        (status = 200, description = "Live sessions", body = Vec<SessionView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such login", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_sessions(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<Vec<SessionView>>, ApiError> {
    principal.require(steward_domain::auth::Permission::ManageLogins)?;
    Ok(axum::Json(state.services.login_sessions(&principal, login_id(&id)?).await?.into_iter().map(SessionView::from).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct RevokedView {
    /// How many live sessions ended.
    revoked: u64,
}

/// End every session of a login at once, on every node.
#[utoipa::path(
    delete, path = "/api/v1/logins/{id}/sessions", tag = "logins", params(("id" = String, Path)),
    responses(
        (status = 200, description = "How many sessions ended", body = RevokedView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such login", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn revoke_sessions(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<RevokedView>, ApiError> {
    principal.require(steward_domain::auth::Permission::ManageLogins)?;
    let revoked = state.services.revoke_login_sessions(&principal, login_id(&id)?).await?;
    Ok(axum::Json(RevokedView { revoked }))
}

/// Disable a login: it can no longer sign in, and its sessions end.
#[utoipa::path(
    post, path = "/api/v1/logins/{id}/disable", tag = "logins", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The disabled login", body = LoginView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such login", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn disable_login(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<LoginView>, ApiError> {
    principal.require(steward_domain::auth::Permission::ManageLogins)?;
    Ok(axum::Json(state.services.disable_login(&principal, login_id(&id)?).await?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntryView {
    #[schema(value_type = String, format = Uuid)]
    id: LoginAuditId,
    #[schema(value_type = String, format = DateTime)]
    at: Timestamp,
    kind: AuditKind,
    email: Option<String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    login_id: Option<LoginId>,
    remote_addr: Option<String>,
    /// Who did it, when not the login's owner (an admin's or the operator's name).
    actor: Option<String>,
    /// What the person signing in was not told: `unknown email`, `wrong password`, ...
    detail: Option<String>,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(e: AuditEntry) -> Self {
        AuditEntryView {
            id: e.id,
            at: e.at,
            kind: e.kind,
            email: e.email,
            login_id: e.login_id,
            remote_addr: e.remote_addr,
            actor: e.actor,
            detail: e.detail,
        }
    }
}

/// The largest page of the sign-in audit.
pub(super) const AUDIT_PAGE_MAX: u32 = 500;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries about this email.
    email: Option<String>,
    /// Only entries about this login.
    login_id: Option<String>,
    /// Only entries of this kind (`sign_in_failed`, `signed_in`, ...).
    kind: Option<String>,
    /// Only entries from this remote address.
    remote_addr: Option<String>,
    /// The previous page's `next` cursor.
    before: Option<String>,
    /// Page size, 1 to 500 (default 100).
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    items: Vec<AuditEntryView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    next: Option<String>,
}

/// The sign-in audit, newest first: every sign-in, failure (with its cause), throttled attempt,
/// sign-out, revoke, link and password change.
#[utoipa::path(
    get, path = "/api/v1/login-audit", tag = "logins", params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries", body = AuditPage),
        (status = 400, description = "A bad query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_audit(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<AuditQuery>,
) -> Result<axum::Json<AuditPage>, ApiError> {
    principal.require(steward_domain::auth::Permission::ManageLogins)?;
    let bad = |e: steward_domain::FieldError| ApiError::validation(StatusCode::BAD_REQUEST, vec![e]);
    let limit = q.limit.unwrap_or(100);
    if !(1..=AUDIT_PAGE_MAX).contains(&limit) {
        return Err(bad(steward_domain::FieldError::new("limit", format!("must be 1 to {AUDIT_PAGE_MAX}"))));
    }
    let filter = AuditFilter {
        email: q.email,
        login_id: q.login_id.as_deref().map(|l| LoginId::parse("login_id", l)).transpose().map_err(bad)?,
        kind: q.kind.as_deref().map(|k| AuditKind::parse("kind", k)).transpose().map_err(bad)?,
        remote_addr: q.remote_addr,
        before: q.before.as_deref().map(|b| LoginAuditId::parse("before", b)).transpose().map_err(bad)?,
        limit: limit + 1,
    };
    let mut items = state.services.login_audit(&principal, filter).await?;
    let next = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|e| e.id.to_string())
    } else {
        None
    };
    Ok(axum::Json(AuditPage { items: items.into_iter().map(AuditEntryView::from).collect(), next }))
}
