//! /api/v1/courses, /api/v1/training-records, certifications, and who may take a ticket.

use super::extract::{Json, Principal, Query};
use super::problem::{ApiError, Problem};
use super::tickets::ticket_ref;
use super::tickets::{decode_cursor_text, encode_cursor, page_limit};
use super::{double_option, AppState, Page};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use steward_domain::auth::{Permission, Role};
use steward_domain::duration::TargetDuration;
use steward_domain::ids::{StaffEventId, StaffId, TrainingRecordId};
use steward_domain::time::Timestamp;
use steward_domain::training::{AssessmentMethod, Certification, CertificationState, Course, CoursePatch, TrainingRecord};
use steward_services::{EligibleAssignee, NewTrainingRecord};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_course, list_courses))
        .routes(routes!(get_course, update_course, delete_course))
        .routes(routes!(create_training_record, list_training_records))
        .routes(routes!(staff_certifications))
        .routes(routes!(expiring_certifications))
        .routes(routes!(eligible_assignees))
        .routes(routes!(list_staff_events))
}

fn unprocessable(e: steward_domain::FieldError) -> ApiError {
    ApiError::validation(StatusCode::UNPROCESSABLE_ENTITY, vec![e])
}

#[derive(Serialize, ToSchema)]
pub struct CourseView {
    code: String,
    title: String,
    description: String,
    certifies: bool,
    /// How long a pass certifies, e.g. `365d`; null: for good.
    validity: Option<String>,
    pass_score: u8,
    method: AssessmentMethod,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl From<Course> for CourseView {
    fn from(c: Course) -> Self {
        CourseView {
            code: c.code,
            title: c.title,
            description: c.description,
            certifies: c.certifies,
            validity: c.validity.map(|v| v.to_string()),
            pass_score: c.pass_score,
            method: c.method,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCourseBody {
    /// Upper-case letters, digits and dashes; what stages name in `required_certification`.
    code: String,
    title: String,
    description: Option<String>,
    certifies: bool,
    /// e.g. `365d`; absent: a pass certifies for good.
    validity: Option<String>,
    /// 0 to 100.
    pass_score: i64,
    method: AssessmentMethod,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoursePatchBody {
    title: Option<String>,
    description: Option<String>,
    certifies: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    validity: Option<Option<String>>,
    pass_score: Option<i64>,
    method: Option<AssessmentMethod>,
}

fn parse_validity(text: Option<&str>) -> Result<Option<TargetDuration>, ApiError> {
    text.map(|v| TargetDuration::parse("validity", v)).transpose().map_err(unprocessable)
}

/// Add a course (admin, supervisor).
#[utoipa::path(
    post, path = "/api/v1/courses", tag = "training", request_body = NewCourseBody,
    responses(
        (status = 201, description = "The new course", body = CourseView, headers(("Location" = String))),
        (status = 403, description = "Role may not manage training", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Code taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn create_course(State(state): State<AppState>, principal: Principal, Json(body): Json<NewCourseBody>) -> Result<Response, ApiError> {
    principal.require(Permission::ManageTraining)?;
    let validity = parse_validity(body.validity.as_deref())?;
    let course =
        Course::create(&body.code, &body.title, body.description, body.certifies, validity, body.pass_score, body.method, Timestamp::now())
            .map_err(steward_services::ServiceError::from)?;
    let course = state.services.create_course(course).await?;
    let location = format!("/api/v1/courses/{}", course.code);
    let mut response = (StatusCode::CREATED, axum::Json(CourseView::from(course))).into_response();
    response.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).expect("ascii code"));
    Ok(response)
}

/// List courses by code.
#[utoipa::path(
    get, path = "/api/v1/courses", tag = "training",
    responses((status = 200, description = "All courses", body = Vec<CourseView>)),
    security(("bearer" = []))
)]
async fn list_courses(State(state): State<AppState>, principal: Principal) -> Result<axum::Json<Vec<CourseView>>, ApiError> {
    principal.require(Permission::ReadStaff)?;
    Ok(axum::Json(state.services.list_courses().await?.into_iter().map(CourseView::from).collect()))
}

/// Read a course.
#[utoipa::path(
    get, path = "/api/v1/courses/{code}", tag = "training", params(("code" = String, Path)),
    responses(
        (status = 200, description = "The course", body = CourseView),
        (status = 404, description = "No such course", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn get_course(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
) -> Result<axum::Json<CourseView>, ApiError> {
    principal.require(Permission::ReadStaff)?;
    Ok(axum::Json(state.services.get_course(&code).await?.into()))
}

/// Edit a course (admin, supervisor). Records already made keep what they derived.
#[utoipa::path(
    patch, path = "/api/v1/courses/{code}", tag = "training", params(("code" = String, Path)), request_body = CoursePatchBody,
    responses(
        (status = 200, description = "The edited course", body = CourseView),
        (status = 404, description = "No such course", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn update_course(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
    Json(body): Json<CoursePatchBody>,
) -> Result<axum::Json<CourseView>, ApiError> {
    principal.require(Permission::ManageTraining)?;
    let validity = match body.validity {
        None => None,
        Some(v) => Some(parse_validity(v.as_deref())?),
    };
    let patch = CoursePatch {
        title: body.title,
        description: body.description,
        certifies: body.certifies,
        validity,
        pass_score: body.pass_score,
        method: body.method,
    };
    Ok(axum::Json(state.services.update_course(&code, patch).await?.into()))
}

/// Delete a course nobody has a record of (otherwise 409).
#[utoipa::path(
    delete, path = "/api/v1/courses/{code}", tag = "training", params(("code" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such course", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Records refer to it", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn delete_course(State(state): State<AppState>, principal: Principal, Path(code): Path<String>) -> Result<StatusCode, ApiError> {
    principal.require(Permission::ManageTraining)?;
    state.services.delete_course(&code).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct TrainingRecordView {
    #[schema(value_type = String, format = Uuid)]
    id: TrainingRecordId,
    #[schema(value_type = String, format = Uuid)]
    staff_id: StaffId,
    course_code: String,
    #[schema(value_type = String, format = DateTime)]
    completed_at: Timestamp,
    score: u8,
    assessor: String,
    method: AssessmentMethod,
    notes: Option<String>,
    /// Derived: score ≥ the course's pass score.
    passed: bool,
    /// Derived: completed_at + the course's validity, for a passed certifying course.
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = Uuid)]
    supersedes: Option<TrainingRecordId>,
    correction_reason: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    recorded_at: Timestamp,
}

impl From<TrainingRecord> for TrainingRecordView {
    fn from(r: TrainingRecord) -> Self {
        TrainingRecordView {
            id: r.id,
            staff_id: r.staff_id,
            course_code: r.course_code,
            completed_at: r.completed_at,
            score: r.score,
            assessor: r.assessor,
            method: r.method,
            notes: r.notes,
            passed: r.passed,
            expires_at: r.expires_at,
            supersedes: r.supersedes,
            correction_reason: r.correction_reason,
            recorded_at: r.recorded_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTrainingRecordBody {
    #[schema(value_type = String, format = Uuid)]
    staff_id: String,
    course_code: String,
    #[schema(value_type = String, format = DateTime)]
    completed_at: String,
    /// 0 to 100.
    score: i64,
    assessor: String,
    /// Default: the course's method.
    method: Option<AssessmentMethod>,
    notes: Option<String>,
    /// A correction: the record it replaces (which then no longer counts), with a reason.
    #[schema(value_type = Option<String>, format = Uuid)]
    supersedes: Option<String>,
    correction_reason: Option<String>,
}

/// Record a completed training (admin, supervisor). Append-only: correct a record by
/// superseding it with a reason. `passed` and `expires_at` are derived from the course.
#[utoipa::path(
    post, path = "/api/v1/training-records", tag = "training", request_body = NewTrainingRecordBody,
    responses(
        (status = 404, description = "A field names a staff member, a course or a superseded record that does not exist (`not-found`; `errors` names the field)", body = Problem, content_type = "application/problem+json"),
        (status = 201, description = "The record", body = TrainingRecordView),
        (status = 403, description = "Role may not record training", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The superseded record was already corrected", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn create_training_record(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewTrainingRecordBody>,
) -> Result<(StatusCode, axum::Json<TrainingRecordView>), ApiError> {
    principal.require(Permission::ManageTraining)?;
    let input = NewTrainingRecord {
        course_code: body.course_code.trim().to_owned(),
        staff_id: StaffId::parse("staff_id", &body.staff_id).map_err(unprocessable)?,
        completed_at: Timestamp::parse("completed_at", &body.completed_at).map_err(unprocessable)?,
        score: body.score,
        assessor: body.assessor,
        method: body.method,
        notes: body.notes,
        supersedes: body.supersedes.as_deref().map(|s| TrainingRecordId::parse("supersedes", s)).transpose().map_err(unprocessable)?,
        correction_reason: body.correction_reason,
    };
    let record = state.services.record_training(input).await?;
    Ok((StatusCode::CREATED, axum::Json(record.into())))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecordListParams {
    staff_id: Option<String>,
    course_code: Option<String>,
}

/// Training records, oldest first, superseded ones included.
#[utoipa::path(
    get, path = "/api/v1/training-records", tag = "training", params(RecordListParams),
    responses(
        (status = 200, description = "The records", body = Vec<TrainingRecordView>),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_training_records(
    State(state): State<AppState>,
    principal: Principal,
    Query(p): Query<RecordListParams>,
) -> Result<axum::Json<Vec<TrainingRecordView>>, ApiError> {
    principal.require(Permission::ReadStaff)?;
    let staff = p
        .staff_id
        .as_deref()
        .map(|s| StaffId::parse("staff_id", s))
        .transpose()
        .map_err(|e| ApiError::validation(StatusCode::BAD_REQUEST, vec![e]))?;
    let records = state.services.list_training_records(staff, p.course_code.as_deref()).await?;
    Ok(axum::Json(records.into_iter().map(TrainingRecordView::from).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct CertificationView {
    #[schema(value_type = String, format = Uuid)]
    staff_id: StaffId,
    /// The certifying course's code.
    certification: String,
    /// valid, expiring (within `training.expiring_within_days`), expired or missing.
    #[schema(value_type = String)]
    state: CertificationState,
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<Timestamp>,
    /// The latest passing record it rests on.
    #[schema(value_type = Option<String>, format = Uuid)]
    record_id: Option<TrainingRecordId>,
}

impl From<Certification> for CertificationView {
    fn from(c: Certification) -> Self {
        CertificationView {
            staff_id: c.staff_id,
            certification: c.course_code,
            state: c.state,
            expires_at: c.expires_at,
            record_id: c.record_id,
        }
    }
}

/// A person's standing with every certifying course, from their latest passing records.
#[utoipa::path(
    get, path = "/api/v1/staff/{id}/certifications", tag = "training", params(("id" = String, Path)),
    responses(
        (status = 200, description = "One entry per certifying course", body = Vec<CertificationView>),
        (status = 404, description = "No such staff member", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn staff_certifications(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<Vec<CertificationView>>, ApiError> {
    principal.require(Permission::ReadStaff)?;
    let id = StaffId::parse("id", &id).map_err(|_| ApiError::not_found(format!("no staff member `{id}`")))?;
    Ok(axum::Json(state.services.staff_certifications(id).await?.into_iter().map(CertificationView::from).collect()))
}

/// The furthest look ahead for expiring certifications, in days.
pub(super) const MAX_WITHIN_DAYS: u64 = 3650;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExpiringParams {
    /// Default 30.
    within_days: Option<u64>,
}

/// Valid certifications of active staff expiring within `within_days`, soonest first.
#[utoipa::path(
    get, path = "/api/v1/certifications/expiring", tag = "training", params(ExpiringParams),
    responses(
        (status = 200, description = "Certifications about to expire", body = Vec<CertificationView>),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn expiring_certifications(
    State(state): State<AppState>,
    principal: Principal,
    Query(p): Query<ExpiringParams>,
) -> Result<axum::Json<Vec<CertificationView>>, ApiError> {
    principal.require(Permission::ReadStaff)?;
    let days = p.within_days.unwrap_or(30);
    if days > MAX_WITHIN_DAYS {
        return Err(ApiError::field(StatusCode::BAD_REQUEST, "within_days", format!("at most {MAX_WITHIN_DAYS}")));
    }
    Ok(axum::Json(state.services.expiring_certifications(days).await?.into_iter().map(CertificationView::from).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct EligibleAssigneeView {
    #[schema(value_type = String, format = Uuid)]
    staff_id: StaffId,
    name: String,
    role: Role,
    team: Option<String>,
    /// Their tickets that are not resolved or closed.
    open_tickets: i64,
    /// Their standing with the stage's certification, when it requires one.
    certification: Option<CertificationView>,
}

#[derive(Serialize, ToSchema)]
pub struct EligibleAssigneesView {
    stage: String,
    required_certification: Option<String>,
    /// Least loaded first.
    items: Vec<EligibleAssigneeView>,
}

impl From<EligibleAssignee> for EligibleAssigneeView {
    fn from(e: EligibleAssignee) -> Self {
        EligibleAssigneeView {
            staff_id: e.staff.id,
            name: e.staff.name,
            role: e.staff.role,
            team: e.staff.team,
            open_tickets: e.open_tickets,
            certification: e.certification.map(CertificationView::from),
        }
    }
}

/// Active staff who may take the ticket in its current stage (holding the stage's required
/// certification, if any), with team and open-ticket load.
#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/eligible-assignees", tag = "training",
    params(("id" = String, Path, description = "Ticket id or number")),
    responses(
        (status = 200, description = "Who may take it, least loaded first", body = EligibleAssigneesView),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn eligible_assignees(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<EligibleAssigneesView>, ApiError> {
    principal.require(Permission::ReadTickets)?;
    principal.require(Permission::ReadStaff)?;
    let (stage, required, items) = state.services.eligible_assignees(ticket_ref(&id)?).await?;
    Ok(axum::Json(EligibleAssigneesView {
        stage,
        required_certification: required,
        items: items.into_iter().map(EligibleAssigneeView::from).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct StaffEventView {
    #[schema(value_type = String, format = Uuid)]
    id: StaffEventId,
    #[schema(value_type = String, format = Uuid)]
    staff_id: StaffId,
    #[schema(value_type = String, format = DateTime)]
    at: Timestamp,
    /// certification_expiring or certification_expired
    kind: String,
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StaffEventParams {
    /// One person's events only.
    staff_id: Option<String>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The staff timeline, oldest first: events about people (certifications expiring or expired),
/// each recorded once by the expiry watcher.
#[utoipa::path(
    get, path = "/api/v1/staff-events", tag = "training", params(StaffEventParams),
    responses(
        (status = 200, description = "A page of staff events", body = Page<StaffEventView>),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_staff_events(
    State(state): State<AppState>,
    principal: Principal,
    Query(p): Query<StaffEventParams>,
) -> Result<axum::Json<Page<StaffEventView>>, ApiError> {
    principal.require(Permission::ReadStaff)?;
    let bad = |field: &str| ApiError::field(StatusCode::BAD_REQUEST, field, "not a valid value");
    let staff = p.staff_id.as_deref().map(|s| StaffId::parse("staff_id", s)).transpose().map_err(|_| bad("staff_id"))?;
    let after = p
        .cursor
        .as_deref()
        .map(|c| decode_cursor_text(c).and_then(|t| StaffEventId::parse("cursor", &t).ok()).ok_or_else(|| bad("cursor")))
        .transpose()?;
    let limit = page_limit(p.limit)?;
    let mut events = state.services.staff_events(staff, after, limit + 1).await?;
    let next = (events.len() > limit as usize).then(|| {
        events.truncate(limit as usize);
        encode_cursor(&events.last().map(|e| e.id.to_string()).unwrap_or_default())
    });
    Ok(axum::Json(Page {
        items: events
            .into_iter()
            .map(|e| StaffEventView { id: e.id, staff_id: e.staff_id, at: e.at, kind: e.kind, data: e.data })
            .collect(),
        next_cursor: next,
    }))
}
