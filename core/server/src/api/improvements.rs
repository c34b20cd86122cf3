//! /api/v1/improvements: improvement actions set by the monthly review meeting, and their
//! history. Reading needs `ReadTickets` (as the review), changing `ManageImprovements`
//! (supervisors, admins); the services check both.

use super::extract::{etag, IfMatch, Json, Principal, Query};
use super::problem::{ApiError, Problem};
use super::tickets::{page_limit, ActorView};
use super::{double_option, AppState, Page};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use steward_domain::ids::{ImprovementId, StaffId};
use steward_domain::improvement::{
    FieldChange, Improvement, ImprovementEvent, ImprovementEventKind, ImprovementInput, ImprovementPatch, ImprovementQuery,
    ImprovementStatus,
};
use steward_domain::kpi::Month;
use steward_domain::time::Timestamp;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_improvement, list_improvements))
        .routes(routes!(get_improvement, update_improvement))
        .routes(routes!(improvement_history))
}

#[derive(Serialize, ToSchema)]
pub struct ImprovementView {
    #[schema(value_type = String, format = Uuid)]
    id: ImprovementId,
    title: String,
    description: Option<String>,
    /// The staff member who owns the action.
    #[schema(value_type = String, format = Uuid)]
    owner: StaffId,
    /// The due day, `YYYY-MM-DD` (UTC).
    due: String,
    status: ImprovementStatus,
    /// Past its due day and neither done nor dropped, now.
    overdue: bool,
    /// The KPI it targets (a key of GET /api/v1/kpis), if any.
    kpi: Option<String>,
    /// The process stage it targets, `process/stage`, if any.
    stage: Option<String>,
    /// The review month it came from, `YYYY-MM`.
    month: String,
    /// Increases with every change; the ETag to send back in If-Match.
    version: i64,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
    /// When it was closed (done or dropped); null while open or in progress.
    #[schema(value_type = Option<String>, format = DateTime)]
    closed_at: Option<Timestamp>,
}

impl ImprovementView {
    fn of(a: Improvement, now: Timestamp) -> ImprovementView {
        ImprovementView {
            overdue: a.overdue_at(now),
            id: a.id,
            title: a.title,
            description: a.description,
            owner: a.owner,
            due: a.due.to_string(),
            status: a.status,
            kpi: a.kpi,
            stage: a.stage.map(|s| s.to_string()),
            month: a.month.to_string(),
            version: a.version,
            created_at: a.created_at,
            updated_at: a.updated_at,
            closed_at: a.closed_at,
        }
    }
}

fn action_response(state: &AppState, status: StatusCode, a: Improvement) -> Response {
    let view = ImprovementView::of(a, state.services.now());
    let version = view.version;
    let location = format!("/api/v1/improvements/{}", view.id);
    let mut response = (status, axum::Json(view)).into_response();
    response.headers_mut().insert(header::ETAG, HeaderValue::from_str(&etag(version)).expect("digits and quotes"));
    if status == StatusCode::CREATED {
        response.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).expect("ascii"));
    }
    response
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewImprovementBody {
    title: String,
    description: Option<String>,
    /// A staff member's id.
    owner: String,
    /// `YYYY-MM-DD` (UTC): overdue once that day has ended.
    due: String,
    /// Default `open`.
    status: Option<ImprovementStatus>,
    /// A KPI key (built-in, or `stage_dwell_time`). Give `kpi`, `stage` or both.
    kpi: Option<String>,
    /// `process/stage`.
    stage: Option<String>,
    /// The review month the action came from, `YYYY-MM`.
    month: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImprovementPatchBody {
    title: Option<String>,
    /// A description, or null for none.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
    owner: Option<String>,
    due: Option<String>,
    status: Option<ImprovementStatus>,
    /// A KPI key, or null for none (the action keeps a KPI or a stage).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    kpi: Option<Option<String>>,
    /// `process/stage`, or null for none.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    stage: Option<Option<String>>,
    month: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImprovementListParams {
    status: Option<ImprovementStatus>,
    /// A staff member's id.
    owner: Option<String>,
    /// The review month the actions came from, `YYYY-MM`.
    month: Option<String>,
    /// `true`: only the actions overdue now.
    overdue: Option<bool>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldChangeView {
    /// `title`, `description`, `owner`, `due`, `status`, `kpi`, `stage` or `month`.
    field: String,
    from: Option<String>,
    to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ImprovementEventView {
    /// The action's version after this change, from 1.
    seq: i64,
    #[schema(value_type = String, format = DateTime)]
    at: Timestamp,
    actor: ActorView,
    /// `created` or `changed`.
    kind: String,
    changes: Vec<FieldChangeView>,
}

impl From<ImprovementEvent> for ImprovementEventView {
    fn from(e: ImprovementEvent) -> Self {
        let kind: ImprovementEventKind = e.kind;
        ImprovementEventView {
            seq: e.seq,
            at: e.at,
            actor: e.actor.into(),
            kind: kind.as_str().to_owned(),
            changes: e.changes.into_iter().map(|FieldChange { field, from, to }| FieldChangeView { field, from, to }).collect(),
        }
    }
}

fn action_id(text: &str) -> Result<ImprovementId, ApiError> {
    ImprovementId::parse("id", text).map_err(|_| ApiError::not_found(format!("no improvement action `{text}`")))
}

/// Set an improvement action (supervisor, admin). The owner must be a staff member and the stage
/// one of a loaded process.
#[utoipa::path(
    post, path = "/api/v1/improvements", tag = "improvements", request_body = NewImprovementBody,
    responses(
        (status = 201, description = "The new action", body = ImprovementView, headers(("Location" = String), ("ETag" = String))),
        (status = 403, description = "Role may not manage improvement actions", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The owner or the stage does not exist (`not-found`, `errors` names `owner` or `stage`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named: an unknown KPI key, a bad month, a due date not `YYYY-MM-DD`, no target", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn create_improvement(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewImprovementBody>,
) -> Result<Response, ApiError> {
    let input = ImprovementInput {
        title: body.title,
        description: body.description,
        owner: body.owner,
        due: body.due,
        status: body.status,
        kpi: body.kpi,
        stage: body.stage,
        month: body.month,
    };
    let action = state.services.create_improvement(&principal, input).await?;
    Ok(action_response(&state, StatusCode::CREATED, action))
}

/// List improvement actions in creation order, filtered by status, owner, review month or
/// overdue.
#[utoipa::path(
    get, path = "/api/v1/improvements", tag = "improvements", params(ImprovementListParams),
    responses(
        (status = 200, description = "A page of actions", body = Page<ImprovementView>),
        (status = 400, description = "A bad parameter, named", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_improvements(
    State(state): State<AppState>,
    principal: Principal,
    Query(p): Query<ImprovementListParams>,
) -> Result<axum::Json<Page<ImprovementView>>, ApiError> {
    let mut errors = Vec::new();
    let owner = p.owner.as_deref().map(|o| StaffId::parse("owner", o)).transpose().map_err(|e| errors.push(e)).ok().flatten();
    let month = p.month.as_deref().map(|m| Month::parse("month", m)).transpose().map_err(|e| errors.push(e)).ok().flatten();
    let after = p.cursor.as_deref().map(|c| ImprovementId::parse("cursor", c)).transpose().map_err(|e| errors.push(e)).ok().flatten();
    if !errors.is_empty() {
        return Err(ApiError::validation(StatusCode::BAD_REQUEST, errors));
    }
    let now = state.services.now();
    let query = ImprovementQuery {
        status: p.status,
        owner,
        month,
        overdue_at: p.overdue.unwrap_or(false).then_some(now),
        after,
        limit: page_limit(p.limit)?,
    };
    let (actions, next) = state.services.list_improvements(&principal, query).await?;
    Ok(axum::Json(Page {
        items: actions.into_iter().map(|a| ImprovementView::of(a, now)).collect(),
        next_cursor: next.map(|n| n.to_string()),
    }))
}

/// Read an improvement action; its ETag is its version.
#[utoipa::path(
    get, path = "/api/v1/improvements/{id}", tag = "improvements", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The action", body = ImprovementView, headers(("ETag" = String))),
        (status = 404, description = "No such action", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn get_improvement(State(state): State<AppState>, principal: Principal, Path(id): Path<String>) -> Result<Response, ApiError> {
    let action = state.services.get_improvement(&principal, action_id(&id)?).await?;
    Ok(action_response(&state, StatusCode::OK, action))
}

/// Change an improvement action (supervisor, admin): its status as it is followed up, or any
/// other field. Requires `If-Match` with the ETag last read: a stale one is a 409, none a 428.
/// Each change is recorded in the action's history.
#[utoipa::path(
    patch, path = "/api/v1/improvements/{id}", tag = "improvements",
    params(("id" = String, Path),
           ("If-Match" = String, Header, description = "The ETag from the last read, e.g. \"3\"")),
    request_body = ImprovementPatchBody,
    responses(
        (status = 200, description = "The changed action", body = ImprovementView, headers(("ETag" = String))),
        (status = 403, description = "Role may not manage improvement actions", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such action, or the owner or stage does not exist (`errors` names it)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The action changed since it was read (`version-conflict`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn update_improvement(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<ImprovementPatchBody>,
) -> Result<Response, ApiError> {
    let id = action_id(&id)?;
    let if_match = IfMatch::required(&headers)?;
    let patch = ImprovementPatch {
        title: body.title,
        description: body.description,
        owner: body.owner,
        due: body.due,
        status: body.status,
        kpi: body.kpi,
        stage: body.stage,
        month: body.month,
    };
    let action = state.services.update_improvement(&principal, id, if_match.version(), patch).await?;
    Ok(action_response(&state, StatusCode::OK, action))
}

/// An improvement action's history, oldest first: who changed which fields, from what to what.
#[utoipa::path(
    get, path = "/api/v1/improvements/{id}/history", tag = "improvements", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The history", body = Vec<ImprovementEventView>),
        (status = 404, description = "No such action", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn improvement_history(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<Vec<ImprovementEventView>>, ApiError> {
    let events = state.services.improvement_history(&principal, action_id(&id)?).await?;
    Ok(axum::Json(events.into_iter().map(Into::into).collect()))
}
