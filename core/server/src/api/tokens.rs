//! /api/v1/tokens: API tokens (admin only). Secrets are shown once, at creation.

use super::extract::{Json, Principal};
use super::problem::{ApiError, Problem};
use super::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use steward_domain::auth::{ApiToken, Permission, Role};
use steward_domain::ids::{PartnerId, StaffId, TokenId};
use steward_domain::time::Timestamp;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_token, list_tokens)).routes(routes!(revoke_token))
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    #[schema(value_type = String, format = Uuid)]
    id: TokenId,
    name: String,
    role: Role,
    #[schema(value_type = Option<String>, format = Uuid)]
    staff_id: Option<StaffId>,
    /// The partner a `partner` token is bound to.
    #[schema(value_type = Option<String>, format = Uuid)]
    partner_id: Option<PartnerId>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    revoked_at: Option<Timestamp>,
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        TokenView {
            id: t.id,
            name: t.name,
            role: t.role,
            staff_id: t.staff_id,
            partner_id: t.partner_id,
            created_at: t.created_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedTokenView {
    #[serde(flatten)]
    view: TokenView,
    /// The secret, for `Authorization: Bearer …`. Shown only in this response.
    token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    name: String,
    role: Role,
    /// The staff member this token acts for; recorded on every event it causes.
    #[schema(value_type = Option<String>, format = Uuid)]
    staff_id: Option<String>,
    /// Required for role `partner` (and only for it): the partner whose delegated tickets the
    /// token may read and work.
    #[schema(value_type = Option<String>, format = Uuid)]
    partner_id: Option<String>,
}

/// Create an API token. The response carries the secret once; only its hash is stored.
#[utoipa::path(
    post, path = "/api/v1/tokens", tag = "tokens", request_body = NewTokenBody,
    responses(
        (status = 404, description = "A field names a staff member or a partner that does not exist (`not-found`; `errors` names the field)", body = Problem, content_type = "application/problem+json"),
        (status = 201, description = "The token and its secret (`token`)", body = CreatedTokenView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn create_token(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewTokenBody>,
) -> Result<(StatusCode, axum::Json<CreatedTokenView>), ApiError> {
    principal.require(Permission::ManageTokens)?;
    let staff_id = body
        .staff_id
        .as_deref()
        .map(|s| StaffId::parse("staff_id", s))
        .transpose()
        .map_err(|e| ApiError::validation(StatusCode::UNPROCESSABLE_ENTITY, vec![e]))?;
    let partner_id = body
        .partner_id
        .as_deref()
        .map(|s| PartnerId::parse("partner_id", s))
        .transpose()
        .map_err(|e| ApiError::validation(StatusCode::UNPROCESSABLE_ENTITY, vec![e]))?;
    let (token, secret) = state.services.create_token_for(&body.name, body.role, staff_id, partner_id).await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedTokenView { view: token.into(), token: secret.expose().to_owned() })))
}

/// List tokens (never their secrets), revoked ones included.
#[utoipa::path(
    get, path = "/api/v1/tokens", tag = "tokens",
    responses(
        (status = 200, description = "All tokens", body = Vec<TokenView>),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_tokens(State(state): State<AppState>, principal: Principal) -> Result<axum::Json<Vec<TokenView>>, ApiError> {
    principal.require(Permission::ManageTokens)?;
    Ok(axum::Json(state.services.list_tokens().await?.into_iter().map(TokenView::from).collect()))
}

/// Revoke a token: it stops working at once.
#[utoipa::path(
    delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The revoked token", body = TokenView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn revoke_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<TokenView>, ApiError> {
    principal.require(Permission::ManageTokens)?;
    let id = TokenId::parse("id", &id).map_err(|_| ApiError::not_found(format!("no token `{id}`")))?;
    Ok(axum::Json(state.services.revoke_token(id).await?.into()))
}
