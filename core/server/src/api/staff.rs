//! /api/v1/staff: the people who work tickets.

use super::extract::{Json, Principal, Query};
use super::problem::{ApiError, Problem};
use super::tickets::{decode_cursor_text, encode_cursor, page_limit};
use super::{double_option, AppState, Page};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use steward_domain::auth::{Permission, Role};
use steward_domain::ids::StaffId;
use steward_domain::staff::StaffQuery;
use steward_domain::staff::{Staff, StaffInput, StaffPatch};
use steward_domain::time::Timestamp;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_staff, list_staff)).routes(routes!(get_staff, update_staff, delete_staff))
}

#[derive(Serialize, ToSchema)]
pub struct StaffView {
    #[schema(value_type = String, format = Uuid)]
    id: StaffId,
    name: String,
    email: String,
    role: Role,
    team: Option<String>,
    active: bool,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl From<Staff> for StaffView {
    fn from(s: Staff) -> Self {
        StaffView {
            id: s.id,
            name: s.name,
            email: s.email,
            role: s.role,
            team: s.team,
            active: s.active,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaffBody {
    name: String,
    /// Unique (case-insensitive).
    email: String,
    role: Role,
    team: Option<String>,
    /// Default true.
    active: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffPatchBody {
    name: Option<String>,
    email: Option<String>,
    role: Option<Role>,
    /// A team, or null for none.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    team: Option<Option<String>>,
    active: Option<bool>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StaffListParams {
    role: Option<Role>,
    team: Option<String>,
    active: Option<bool>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

fn staff_id(text: &str) -> Result<StaffId, ApiError> {
    StaffId::parse("id", text).map_err(|_| ApiError::not_found(format!("no staff member `{text}`")))
}

/// Add a staff member (admin, supervisor).
#[utoipa::path(
    post, path = "/api/v1/staff", tag = "staff", request_body = NewStaffBody,
    responses(
        (status = 201, description = "The new staff member", body = StaffView, headers(("Location" = String))),
        (status = 403, description = "Role may not manage staff", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn create_staff(State(state): State<AppState>, principal: Principal, Json(body): Json<NewStaffBody>) -> Result<Response, ApiError> {
    principal.require(Permission::ManageStaff)?;
    let staff = state
        .services
        .create_staff(StaffInput {
            name: body.name,
            email: body.email,
            role: body.role,
            team: body.team,
            active: body.active.unwrap_or(true),
        })
        .await?;
    let location = format!("/api/v1/staff/{}", staff.id);
    let mut response = (StatusCode::CREATED, axum::Json(StaffView::from(staff))).into_response();
    response.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).expect("ascii"));
    Ok(response)
}

/// List staff in id order.
#[utoipa::path(
    get, path = "/api/v1/staff", tag = "staff", params(StaffListParams),
    responses(
        (status = 200, description = "A page of staff", body = Page<StaffView>),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_staff(
    State(state): State<AppState>,
    principal: Principal,
    Query(p): Query<StaffListParams>,
) -> Result<axum::Json<Page<StaffView>>, ApiError> {
    principal.require(Permission::ReadStaff)?;
    let after = match p.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            decode_cursor_text(c)
                .and_then(|t| StaffId::parse("cursor", &t).ok())
                .ok_or_else(|| ApiError::field(StatusCode::BAD_REQUEST, "cursor", "not a cursor returned by this API"))?,
        ),
    };
    let query = StaffQuery { role: p.role, team: p.team, active: p.active, after, limit: page_limit(p.limit)? };
    let (staff, next) = state.services.list_staff(query).await?;
    Ok(axum::Json(Page { items: staff.into_iter().map(StaffView::from).collect(), next_cursor: next.map(|n| encode_cursor(&n)) }))
}

/// Read a staff member.
#[utoipa::path(
    get, path = "/api/v1/staff/{id}", tag = "staff", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The staff member", body = StaffView),
        (status = 404, description = "No such staff member", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn get_staff(State(state): State<AppState>, principal: Principal, Path(id): Path<String>) -> Result<axum::Json<StaffView>, ApiError> {
    principal.require(Permission::ReadStaff)?;
    Ok(axum::Json(state.services.get_staff(staff_id(&id)?).await?.into()))
}

/// Edit a staff member (admin, supervisor). Set `active` to false when someone leaves.
#[utoipa::path(
    patch, path = "/api/v1/staff/{id}", tag = "staff", params(("id" = String, Path)), request_body = StaffPatchBody,
    responses(
        (status = 200, description = "The edited staff member", body = StaffView),
        (status = 404, description = "No such staff member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn update_staff(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<StaffPatchBody>,
) -> Result<axum::Json<StaffView>, ApiError> {
    principal.require(Permission::ManageStaff)?;
    let patch = StaffPatch { name: body.name, email: body.email, role: body.role, team: body.team, active: body.active };
    Ok(axum::Json(state.services.update_staff(staff_id(&id)?, patch).await?.into()))
}

/// Delete a staff member who never worked a ticket and owns no token (otherwise 409: deactivate instead).
#[utoipa::path(
    delete, path = "/api/v1/staff/{id}", tag = "staff", params(("id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such staff member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still referenced", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn delete_staff(State(state): State<AppState>, principal: Principal, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    principal.require(Permission::ManageStaff)?;
    state.services.delete_staff(staff_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
