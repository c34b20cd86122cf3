//! /api/v1/tickets: create, list, read, edit, move, comment, timeline.

use super::extract::{etag, parse_json, read_json_body, IfMatch, Json, Principal, Query};
use super::problem::{ApiError, Problem};
use super::{double_option, AppState, Page};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use steward_domain::auth::Permission;
use steward_domain::event::{Actor, RecordedEvent};
use steward_domain::idempotency::IdempotencyClaim;
use steward_domain::ids::{StaffId, TicketId, TicketRef};
use steward_domain::text;
use steward_domain::ticket::{Channel, Kind, Priority, Status, Ticket, TicketDraft, TicketPatch, TicketQuery, Visibility};
use steward_domain::time::Timestamp;
use steward_services::{CreateTicket, Reopened};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_ticket, list_tickets))
        .routes(routes!(get_ticket, update_ticket))
        .routes(routes!(transition_ticket))
        .routes(routes!(comment_on_ticket))
        .routes(routes!(list_events))
        .routes(routes!(reopen_ticket))
}

#[derive(Serialize, ToSchema)]
pub struct CustomerView {
    name: String,
    contact: Option<String>,
    tier: String,
    /// When a delivery report last said mail to `contact` is undeliverable (only on
    /// `GET /api/v1/tickets/{id}`; absent when it never did).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    bouncing_since: Option<Timestamp>,
}

#[derive(Serialize, ToSchema)]
pub struct TicketView {
    #[schema(value_type = String, format = Uuid)]
    id: TicketId,
    #[schema(example = "T-000123")]
    number: String,
    title: String,
    description: String,
    kind: Kind,
    channel: Channel,
    priority: Priority,
    customer: CustomerView,
    process: String,
    process_version: u32,
    stage: String,
    status: Status,
    #[schema(value_type = Option<String>, format = Uuid)]
    assignee_id: Option<StaffId>,
    tags: Vec<String>,
    #[schema(value_type = Object)]
    custom_fields: Map<String, Value>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    first_response_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    resolved_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    closed_at: Option<Timestamp>,
    reopen_count: u32,
    /// A complaint's ticket complained about, or a follow-up's earlier ticket.
    #[schema(value_type = Option<String>, format = Uuid)]
    origin_ticket_id: Option<TicketId>,
    /// The stage whose latest quality review passed, if any.
    review_passed_stage: Option<String>,
    /// Increases with every change; the ETag to send back in If-Match.
    version: i64,
}

impl From<Ticket> for TicketView {
    fn from(t: Ticket) -> Self {
        TicketView {
            id: t.id,
            number: t.number.to_string(),
            title: t.title,
            description: t.description,
            kind: t.kind,
            channel: t.channel,
            priority: t.priority,
            customer: CustomerView { name: t.customer.name, contact: t.customer.contact, tier: t.customer.tier, bouncing_since: None },
            process: t.process,
            process_version: t.process_version,
            stage: t.stage,
            status: t.status,
            assignee_id: t.assignee,
            tags: t.tags,
            custom_fields: t.custom_fields,
            created_at: t.created_at,
            updated_at: t.updated_at,
            first_response_at: t.first_response_at,
            resolved_at: t.resolved_at,
            closed_at: t.closed_at,
            reopen_count: t.reopen_count,
            origin_ticket_id: t.origin_ticket_id,
            review_passed_stage: t.review_passed_stage,
            version: t.version,
        }
    }
}

/// A ticket with its ETag header.
pub(super) fn ticket_response(status: StatusCode, ticket: Ticket) -> Response {
    view_response(status, TicketView::from(ticket))
}

fn view_response(status: StatusCode, view: TicketView) -> Response {
    let version = view.version;
    let mut response = (status, axum::Json(view)).into_response();
    response.headers_mut().insert(header::ETAG, HeaderValue::from_str(&etag(version)).expect("digits and quotes"));
    response
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerBody {
    name: String,
    contact: Option<String>,
    /// One of the configured tiers (default: the first, `standard`).
    tier: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicketBody {
    title: String,
    description: Option<String>,
    /// Default `request`.
    kind: Option<Kind>,
    /// Default `web`.
    channel: Option<Channel>,
    /// Default `normal`.
    priority: Option<Priority>,
    customer: CustomerBody,
    /// Process key (default: the configured default process). The ticket starts in its first stage.
    process: Option<String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    assignee_id: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[schema(value_type = Option<Object>)]
    custom_fields: Option<Value>,
    /// For complaints: the ticket complained about (id or number). Its timeline records the complaint.
    origin_ticket_id: Option<String>,
}

fn parse_staff_id(field: &str, text: &str) -> Result<StaffId, ApiError> {
    StaffId::parse(field, text).map_err(|e| ApiError::validation(StatusCode::UNPROCESSABLE_ENTITY, vec![e]))
}

pub(super) fn ticket_ref(text: &str) -> Result<TicketRef, ApiError> {
    TicketRef::parse("id", text).map_err(|_| ApiError::not_found(format!("no ticket `{text}`")))
}

/// Open a ticket.
///
/// With an `Idempotency-Key` header, a retried request returns the first response instead of
/// creating a second ticket; reusing a key for a different body is a 409. Keys are per API
/// token: the same key sent with another token is another key (and creates another ticket).
#[utoipa::path(
    post, path = "/api/v1/tickets", tag = "tickets",
    request_body = NewTicketBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: at most 255 characters, remembered for `tickets.idempotency_ttl_hours`, per API token (another token's identical key is a different key).")),
    responses(
        (status = 404, description = "A field names a staff member or an origin ticket that does not exist (`not-found`; `errors` names the field)", body = Problem, content_type = "application/problem+json"),
        (status = 201, description = "The new ticket", body = TicketView,
            headers(("Location" = String, description = "URL of the ticket"), ("ETag" = String))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not create tickets", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Idempotency-Key reused for a different request", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn create_ticket(State(state): State<AppState>, principal: Principal, request: Request) -> Result<Response, ApiError> {
    principal.require(Permission::WriteTickets)?;
    let key = idempotency_key(request.headers())?;
    let bytes = read_json_body(request, &state).await?;
    let request_hash = hex::encode(Sha256::digest(&bytes));
    if let Some(key) = &key {
        if let Some(earlier) = state.services.idempotent_replay(&principal.key(), key, &request_hash).await? {
            return Ok(created_response(earlier));
        }
    }
    let body: NewTicketBody = parse_json(&bytes)?;
    let origin = body.origin_ticket_id.as_deref().map(|text| TicketRef::parse("origin_ticket_id", text)).transpose()?;
    let draft = TicketDraft {
        title: body.title,
        description: body.description,
        kind: body.kind.unwrap_or(Kind::Request),
        channel: body.channel.unwrap_or(Channel::Web),
        priority: body.priority.unwrap_or(Priority::Normal),
        customer_name: body.customer.name,
        customer_contact: body.customer.contact,
        customer_tier: body.customer.tier,
        process: body.process,
        assignee: body.assignee_id.as_deref().map(|a| parse_staff_id("assignee_id", a)).transpose()?,
        tags: body.tags,
        custom_fields: body.custom_fields,
        origin_ticket_id: None,
    };
    let claim = key.map(|key| IdempotencyClaim {
        principal: principal.key(),
        key,
        request_hash,
        render: Box::new(|ticket: &Ticket| {
            let body = serde_json::to_string(&TicketView::from(ticket.clone())).expect("view serialises");
            (201, body, Some(location(ticket.id)))
        }),
    });
    let outcome = state.services.create_ticket(draft, origin, &principal.actor(), claim).await?;
    Ok(created_response(outcome))
}

fn location(id: TicketId) -> String {
    format!("/api/v1/tickets/{id}")
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.trim().is_empty() && key.len() <= 255 => Ok(Some(key.trim().to_owned())),
        _ => Err(ApiError::field(StatusCode::BAD_REQUEST, "Idempotency-Key", "must be 1 to 255 visible ASCII characters")),
    }
}

fn created_response(outcome: CreateTicket) -> Response {
    match outcome {
        CreateTicket::Created(ticket) => {
            let id = ticket.id;
            let mut response = ticket_response(StatusCode::CREATED, *ticket);
            response.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location(id)).expect("ascii"));
            response
        }
        CreateTicket::Replay(stored) => {
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED);
            let mut response = (status, stored.body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
            if let Some(location) = stored.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                headers.insert(header::LOCATION, location);
            }
            response
        }
        CreateTicket::KeyReused => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency-key-reused",
            "Idempotency-Key reused",
            "this Idempotency-Key was already used for a different request; use a new key for a new ticket",
        )
        .into_response(),
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TicketListParams {
    status: Option<Status>,
    stage: Option<String>,
    process: Option<String>,
    priority: Option<Priority>,
    channel: Option<Channel>,
    kind: Option<Kind>,
    /// Customer tier.
    tier: Option<String>,
    /// Staff id of the assignee.
    assignee: Option<String>,
    tag: Option<String>,
    /// RFC 3339 instant; tickets created at or after it.
    created_after: Option<String>,
    /// RFC 3339 instant; tickets created before it.
    created_before: Option<String>,
    /// Text the title contains (case-insensitive).
    q: Option<String>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The largest page of a listing.
pub(super) const PAGE_MAX: u32 = 200;

pub(super) fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit.unwrap_or(50) {
        n @ 1..=PAGE_MAX => Ok(n),
        _ => Err(ApiError::field(StatusCode::BAD_REQUEST, "limit", format!("must be between 1 and {PAGE_MAX}"))),
    }
}

fn bad_param(e: steward_domain::FieldError) -> ApiError {
    ApiError::validation(StatusCode::BAD_REQUEST, vec![e])
}

/// List tickets, newest first, one page at a time (keyset pagination).
#[utoipa::path(
    get, path = "/api/v1/tickets", tag = "tickets",
    params(TicketListParams),
    responses(
        (status = 200, description = "A page of tickets", body = Page<TicketView>),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_tickets(
    State(state): State<AppState>,
    principal: Principal,
    Query(p): Query<TicketListParams>,
) -> Result<axum::Json<Page<TicketView>>, ApiError> {
    let partner = principal.require_ticket_access(Permission::ReadTickets, Permission::ReadDelegatedTickets)?;
    let query = TicketQuery {
        status: p.status,
        stage: p.stage,
        process: p.process,
        priority: p.priority,
        channel: p.channel,
        kind: p.kind,
        tier: p.tier,
        assignee: p.assignee.as_deref().map(|a| StaffId::parse("assignee", a)).transpose().map_err(bad_param)?,
        tag: p.tag.map(|t| steward_domain::ticket::normalize_tag(&t).unwrap_or(t)),
        created_after: p.created_after.as_deref().map(|t| Timestamp::parse("created_after", t)).transpose().map_err(bad_param)?,
        created_before: p.created_before.as_deref().map(|t| Timestamp::parse("created_before", t)).transpose().map_err(bad_param)?,
        title_contains: p.q.filter(|q| !q.trim().is_empty()).map(|q| q.trim().to_owned()),
        delegated_to: partner,
        before: p.cursor.as_deref().map(decode_cursor).transpose()?,
        limit: page_limit(p.limit)?,
        ..Default::default()
    };
    let (tickets, next) = state.services.list_tickets(query).await?;
    Ok(axum::Json(Page { items: tickets.into_iter().map(TicketView::from).collect(), next_cursor: next.map(|n| encode_cursor(&n)) }))
}

/// A listing's cursor is the key of the last item of the page (an id, or a timeline position),
/// as it is: so its rule (a UUID, or digits) is in the OpenAPI document.
pub(super) fn encode_cursor(last_id: &str) -> String {
    last_id.to_owned()
}

fn decode_cursor(cursor: &str) -> Result<TicketId, ApiError> {
    decode_cursor_text(cursor)
        .and_then(|text| TicketId::parse("cursor", &text).ok())
        .ok_or_else(|| ApiError::field(StatusCode::BAD_REQUEST, "cursor", "not a cursor returned by this API"))
}

pub(super) fn decode_cursor_text(cursor: &str) -> Option<String> {
    Some(cursor.to_owned())
}

/// Read one ticket, by id or by number (`T-000123`).
#[utoipa::path(
    get, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(("id" = String, Path, description = "Ticket id or number")),
    responses(
        (status = 200, description = "The ticket", body = TicketView, headers(("ETag" = String))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn get_ticket(State(state): State<AppState>, principal: Principal, Path(id): Path<String>) -> Result<Response, ApiError> {
    let partner = principal.require_ticket_access(Permission::ReadTickets, Permission::ReadDelegatedTickets)?;
    let ticket = state.services.ticket_for(ticket_ref(&id)?, partner).await?;
    let bounce = match ticket.customer.contact.as_deref() {
        Some(contact) => state.services.contact_bounce(contact).await?,
        None => None,
    };
    let mut view = TicketView::from(ticket);
    view.customer.bouncing_since = bounce.map(|b| b.bounced_at);
    Ok(view_response(StatusCode::OK, view))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatchBody {
    name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    contact: Option<Option<String>>,
    tier: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketPatchBody {
    title: Option<String>,
    description: Option<String>,
    kind: Option<Kind>,
    channel: Option<Channel>,
    priority: Option<Priority>,
    customer: Option<CustomerPatchBody>,
    /// `open`, `waiting_customer`, `waiting_partner` or `resolved`; tickets close through a
    /// transition to a terminal stage.
    status: Option<Status>,
    /// A staff id, or null to unassign.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = Uuid)]
    assignee_id: Option<Option<String>>,
    /// Replaces the tags.
    tags: Option<Vec<String>>,
    /// A JSON merge patch (RFC 7396) of the custom fields: null removes a key.
    #[schema(value_type = Option<Object>)]
    custom_fields: Option<Value>,
    /// Assign someone who lacks the certification the stage requires (supervisor, admin).
    #[serde(rename = "override")]
    override_gate: Option<OverrideBody>,
}

/// Lets a supervisor or admin pass a certification gate; recorded as a
/// `certification_overridden` event with the reason.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideBody {
    reason: String,
}

/// The override reason, when the caller may and did give one.
pub(super) fn override_reason(principal: &Principal, body: Option<OverrideBody>) -> Result<Option<String>, ApiError> {
    let Some(body) = body else {
        return Ok(None);
    };
    principal.require(Permission::OverrideCertification)?;
    Ok(Some(text::required_reason("override.reason", &body.reason)?))
}

/// Edit a ticket. Requires `If-Match` with the ETag last read: a stale one is a 409, none a 428.
#[utoipa::path(
    patch, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(("id" = String, Path, description = "Ticket id or number"),
           ("If-Match" = String, Header, description = "The ETag from the last read, e.g. \"3\"")),
    request_body = TicketPatchBody,
    responses(
        (status = 200, description = "The edited ticket", body = TicketView, headers(("ETag" = String))),
        (status = 404, description = "No such ticket, or a field names a staff member that does not exist (`not-found`, `errors` names it)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The ticket changed since it was read (`version-conflict`), the assignee is not active (`conflict`), or lacks the stage's certification (`certification-required`: staff, certification, state)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`validation-error`)", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn update_ticket(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<TicketPatchBody>,
) -> Result<Response, ApiError> {
    principal.require(Permission::WriteTickets)?;
    let reference = ticket_ref(&id)?;
    let if_match = IfMatch::required(&headers)?;
    let customer = body.customer.unwrap_or(CustomerPatchBody { name: None, contact: None, tier: None });
    let patch = TicketPatch {
        title: body.title,
        description: body.description,
        kind: body.kind,
        channel: body.channel,
        priority: body.priority,
        customer_name: customer.name,
        customer_contact: customer.contact,
        customer_tier: customer.tier,
        status: body.status,
        assignee: body.assignee_id.map(|a| a.map(|a| parse_staff_id("assignee_id", &a)).transpose()).transpose()?,
        tags: body.tags,
        custom_fields: body.custom_fields,
    };
    let reason = override_reason(&principal, body.override_gate)?;
    let actor = principal.actor();
    let ticket = state.services.update_ticket(reference, if_match.version(), patch, reason.as_deref(), &actor).await?;
    Ok(ticket_response(StatusCode::OK, ticket))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionBody {
    /// Key of the target stage.
    to: String,
    note: Option<String>,
    /// Move into a stage whose required certification the assignee lacks (supervisor, admin).
    #[serde(rename = "override")]
    override_gate: Option<OverrideBody>,
}

/// Move a ticket to another stage of its process. A refused move is a 422 listing the allowed
/// targets. `If-Match` is optional here.
#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/transitions", tag = "tickets",
    params(("id" = String, Path, description = "Ticket id or number"),
           ("If-Match" = Option<String>, Header, description = "Only move if the ticket is still at this version (a strong ETag such as \"3\", or * for any; weak W/ tags are refused with 400). Without it the move applies to the current version, unless the stage or assignee changed meanwhile")),
    request_body = TransitionBody,
    responses(
        (status = 200, description = "The moved ticket", body = TicketView, headers(("ETag" = String))),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The ticket as it stands refuses the move: `transition-not-allowed` or `unknown-stage` (`allowed` lists the targets), `review-required`, `certification-required` (the assignee lacks the target stage's certification), `transition-vetoed` or `plugin-guard-failed` (`plugin`); or, with If-Match, `version-conflict`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`validation-error`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn transition_ticket(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<TransitionBody>,
) -> Result<Response, ApiError> {
    let partner = principal.require_ticket_access(Permission::WriteTickets, Permission::WorkDelegatedTickets)?;
    let reference = ticket_ref(&id)?;
    if partner.is_some() {
        // Another partner's ticket does not exist for this caller.
        state.services.ticket_for(reference, partner).await?;
    }
    let expected = IfMatch::from_headers(&headers)?.and_then(IfMatch::version);
    let note = text::optional_note("note", body.note)?;
    let reason = override_reason(&principal, body.override_gate)?;
    let ticket = state.services.transition_ticket(reference, body.to.trim(), note, expected, reason.as_deref(), &principal.actor()).await?;
    Ok(ticket_response(StatusCode::OK, ticket))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    body: String,
    /// `public` (the customer sees it; the first public staff reply is the first response) or `internal`.
    visibility: Visibility,
    /// The comment is the customer's (relayed by staff or an integration): it is public, and on a
    /// resolved or closed ticket it reopens it (past the reopen window, it opens a follow-up).
    #[serde(default)]
    from_customer: bool,
}

/// Comment on a ticket.
#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/comments", tag = "tickets",
    params(("id" = String, Path, description = "Ticket id or number")),
    request_body = CommentBody,
    responses(
        (status = 201, description = "The ticket after the comment", body = TicketView, headers(("ETag" = String))),
        (status = 403, description = "Role may not comment", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn comment_on_ticket(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<CommentBody>,
) -> Result<Response, ApiError> {
    let partner = principal.require_ticket_access(Permission::CommentOnTickets, Permission::WorkDelegatedTickets)?;
    if partner.is_some() {
        state.services.ticket_for(ticket_ref(&id)?, partner).await?;
        if body.visibility != Visibility::Public || body.from_customer {
            return Err(ApiError::forbidden("a partner comments publicly, as itself"));
        }
    }
    let ticket =
        state.services.comment_on_ticket(ticket_ref(&id)?, &body.body, body.visibility, body.from_customer, &principal.actor()).await?;
    Ok(ticket_response(StatusCode::CREATED, ticket))
}

#[derive(Serialize, ToSchema)]
pub struct ActorView {
    /// `token` (a client with an API token) or `system`.
    kind: String,
    #[schema(value_type = Option<String>, format = Uuid)]
    token_id: Option<String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    staff_id: Option<String>,
    name: String,
}

impl From<Actor> for ActorView {
    fn from(a: Actor) -> Self {
        ActorView {
            kind: serde_json::to_value(a.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            token_id: a.token_id.map(|t| t.to_string()),
            staff_id: a.staff_id.map(|s| s.to_string()),
            name: a.name,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    /// Position in the ticket's timeline, from 1.
    seq: i64,
    #[schema(value_type = String, format = DateTime)]
    at: Timestamp,
    actor: ActorView,
    /// created, updated, status_changed, assignee_changed, stage_changed, comment_added
    kind: String,
    #[schema(value_type = Object)]
    data: Value,
}

impl From<RecordedEvent> for EventView {
    fn from(e: RecordedEvent) -> Self {
        EventView { seq: e.seq, at: e.at, actor: e.actor.into(), kind: e.kind, data: e.data }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 200 (default 50).
    pub(super) limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub(super) cursor: Option<String>,
}

/// The ticket's timeline, oldest first: every change, append-only.
#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/events", tag = "tickets",
    params(("id" = String, Path, description = "Ticket id or number"), PageParams),
    responses(
        (status = 200, description = "A page of events", body = Page<EventView>),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_events(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(p): Query<PageParams>,
) -> Result<axum::Json<Page<EventView>>, ApiError> {
    let partner = principal.require_ticket_access(Permission::ReadTickets, Permission::ReadDelegatedTickets)?;
    let limit = page_limit(p.limit)?;
    let after = match p.cursor.as_deref() {
        None => 0,
        Some(c) => decode_cursor_text(c)
            .filter(|t| !t.is_empty() && t.len() <= 18 && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| ApiError::field(StatusCode::BAD_REQUEST, "cursor", "not a cursor returned by this API"))?,
    };
    let mut events = state.services.ticket_events_for(ticket_ref(&id)?, partner, after, limit + 1).await?;
    let next = (events.len() > limit as usize).then(|| {
        events.truncate(limit as usize);
        encode_cursor(&events.last().map(|e| e.seq).unwrap_or(after).to_string())
    });
    Ok(axum::Json(Page { items: events.into_iter().map(EventView::from).collect(), next_cursor: next }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenBody {
    reason: Option<String>,
    /// The customer asked for it.
    #[serde(default)]
    from_customer: bool,
}

/// Reopen a resolved or closed ticket. Within the reopen window it reopens in place (200:
/// `reopen_count` + 1, the resolution clock resumes); past it, a follow-up ticket linked to it
/// is opened (201 with its Location).
#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/reopen", tag = "tickets",
    params(("id" = String, Path, description = "Ticket id or number")),
    request_body = ReopenBody,
    responses(
        (status = 200, description = "Reopened", body = TicketView),
        (status = 201, description = "A follow-up ticket was opened", body = TicketView, headers(("Location" = String))),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The ticket is not resolved or closed (`conflict`, `errors` names `status`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`validation-error`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn reopen_ticket(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<ReopenBody>,
) -> Result<Response, ApiError> {
    principal.require(Permission::WriteTickets)?;
    let reason = text::optional_note("reason", body.reason)?;
    match state.services.reopen_ticket(ticket_ref(&id)?, reason, body.from_customer, &principal.actor()).await? {
        Reopened::InPlace(ticket) => Ok(ticket_response(StatusCode::OK, ticket)),
        Reopened::FollowUp(ticket) => Ok(created_response(CreateTicket::Created(Box::new(ticket)))),
    }
}
