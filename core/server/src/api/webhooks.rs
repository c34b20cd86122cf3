//! /api/v1/webhooks: subscriptions to ticket events and their delivery logs (admin only).
//! A secret is shown once, when its webhook is created.

use super::extract::{Json, Principal, Query};
use super::problem::{ApiError, Problem};
use super::tickets::{decode_cursor_text, encode_cursor, page_limit};
use super::{AppState, Page};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use steward_domain::auth::Permission;
use steward_domain::ids::{DeliveryId, StaffEventId, TicketId, WebhookId};
use steward_domain::time::Timestamp;
use steward_domain::webhook::{Attempt, AttemptOutcome, Delivery, DeliveryState, Webhook, WebhookInput, WebhookPatch};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(ping_webhook))
        .routes(routes!(redeliver))
}

#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    #[schema(value_type = String, format = Uuid)]
    id: WebhookId,
    url: String,
    /// Ticket event kinds delivered, or `["*"]` for all.
    event_kinds: Vec<String>,
    /// Inactive: nothing new is queued, and pending deliveries wait until it is active again.
    active: bool,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl From<Webhook> for WebhookView {
    fn from(w: Webhook) -> Self {
        WebhookView {
            id: w.id,
            url: w.url,
            event_kinds: w.events.to_list(),
            active: w.active,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedWebhookView {
    #[serde(flatten)]
    view: WebhookView,
    /// The signing secret (given or generated). Shown only in this response.
    secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookBody {
    /// An absolute http or https URL, without credentials.
    #[schema(example = "https://hooks.example.com/steward")]
    url: String,
    /// Ticket event kinds to receive (`created`, `updated`, `status_changed`,
    /// `assignee_changed`, `stage_changed`, `comment_added`), or `["*"]` for all.
    event_kinds: Vec<String>,
    /// At least 16 characters; generated when absent.
    secret: Option<String>,
    /// Default true.
    active: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatchBody {
    url: Option<String>,
    event_kinds: Option<Vec<String>>,
    /// A new signing secret (at least 16 characters); it is not shown back.
    secret: Option<String>,
    active: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    #[schema(value_type = String, format = DateTime)]
    at: Timestamp,
    duration_ms: i64,
    /// The receiver's status code; null when no answer came.
    status_code: Option<u16>,
    /// Why no answer came (timeout, connection failure); null when one came.
    error: Option<String>,
}

impl From<Attempt> for AttemptView {
    fn from(a: Attempt) -> Self {
        let (status_code, error) = match a.outcome {
            AttemptOutcome::Status(code) => (Some(code), None),
            AttemptOutcome::Error(message) => (None, Some(message)),
        };
        AttemptView { at: a.at, duration_ms: a.duration_ms, status_code, error }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    /// Sent as `Steward-Delivery`: the same on every attempt.
    #[schema(value_type = String, format = Uuid)]
    id: DeliveryId,
    /// The event's kind, sent as `Steward-Event`.
    event_kind: String,
    /// The ticket, for a ticket event (null for a staff event).
    #[schema(value_type = Option<String>, format = Uuid)]
    ticket_id: Option<TicketId>,
    #[schema(example = "T-000123")]
    ticket_number: Option<String>,
    /// The event's position in the ticket's timeline (null for a staff event).
    seq: Option<i64>,
    /// The staff event, for a staff event (`certification_expiring`, `certification_expired`).
    #[schema(value_type = Option<String>, format = Uuid)]
    staff_event_id: Option<StaffEventId>,
    state: DeliveryState,
    /// Oldest first.
    attempts: Vec<AttemptView>,
    /// When the next attempt is due; null once delivered or failed.
    #[schema(value_type = Option<String>, format = DateTime)]
    next_attempt_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            id: d.id,
            event_kind: d.event_kind,
            ticket_id: d.ticket_id,
            ticket_number: d.ticket_number.map(|n| n.to_string()),
            seq: d.seq,
            staff_event_id: d.staff_event_id,
            state: d.state,
            attempts: d.attempts.into_iter().map(AttemptView::from).collect(),
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListParams {
    /// Page size, 1 to 200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

fn webhook_id(text: &str) -> Result<WebhookId, ApiError> {
    WebhookId::parse("id", text).map_err(|_| ApiError::not_found(format!("no webhook `{text}`")))
}

/// Subscribe a URL to ticket events. The response carries the signing secret once.
#[utoipa::path(
    post, path = "/api/v1/webhooks", tag = "webhooks", request_body = NewWebhookBody,
    responses(
        (status = 201, description = "The webhook and its secret", body = CreatedWebhookView, headers(("Location" = String))),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn create_webhook(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewWebhookBody>,
) -> Result<Response, ApiError> {
    principal.require(Permission::ManageWebhooks)?;
    let input = WebhookInput { url: body.url, event_kinds: body.event_kinds, secret: body.secret, active: body.active.unwrap_or(true) };
    let webhook = state.services.create_webhook(input).await?;
    let location = format!("/api/v1/webhooks/{}", webhook.id);
    let secret = webhook.secret.clone();
    let mut response = (StatusCode::CREATED, axum::Json(CreatedWebhookView { view: webhook.into(), secret })).into_response();
    response.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).expect("ascii"));
    Ok(response)
}

/// List webhooks (never their secrets).
#[utoipa::path(
    get, path = "/api/v1/webhooks", tag = "webhooks",
    responses(
        (status = 200, description = "All webhooks", body = Vec<WebhookView>),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_webhooks(State(state): State<AppState>, principal: Principal) -> Result<axum::Json<Vec<WebhookView>>, ApiError> {
    principal.require(Permission::ManageWebhooks)?;
    Ok(axum::Json(state.services.list_webhooks().await?.into_iter().map(WebhookView::from).collect()))
}

/// Read a webhook.
#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The webhook", body = WebhookView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn get_webhook(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<WebhookView>, ApiError> {
    principal.require(Permission::ManageWebhooks)?;
    Ok(axum::Json(state.services.get_webhook(webhook_id(&id)?).await?.into()))
}

/// Change a webhook's URL, event kinds, secret or active flag.
#[utoipa::path(
    patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)), request_body = WebhookPatchBody,
    responses(
        (status = 200, description = "The changed webhook", body = WebhookView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn update_webhook(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<WebhookPatchBody>,
) -> Result<axum::Json<WebhookView>, ApiError> {
    principal.require(Permission::ManageWebhooks)?;
    let patch = WebhookPatch { url: body.url, event_kinds: body.event_kinds, secret: body.secret, active: body.active };
    Ok(axum::Json(state.services.update_webhook(webhook_id(&id)?, patch).await?.into()))
}

/// Delete a webhook with its delivery log; its pending deliveries are dropped.
#[utoipa::path(
    delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn delete_webhook(State(state): State<AppState>, principal: Principal, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    principal.require(Permission::ManageWebhooks)?;
    state.services.delete_webhook(webhook_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook's deliveries, newest first, each with its attempts (keyset pagination).
#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = String, Path), DeliveryListParams),
    responses(
        (status = 200, description = "A page of deliveries", body = Page<DeliveryView>),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(p): Query<DeliveryListParams>,
) -> Result<axum::Json<Page<DeliveryView>>, ApiError> {
    principal.require(Permission::ManageWebhooks)?;
    let before = p
        .cursor
        .as_deref()
        .map(|c| {
            decode_cursor_text(c)
                .and_then(|t| DeliveryId::parse("cursor", &t).ok())
                .ok_or_else(|| ApiError::field(StatusCode::BAD_REQUEST, "cursor", "not a cursor returned by this API"))
        })
        .transpose()?;
    let (deliveries, next) = state.services.list_deliveries(webhook_id(&id)?, before, page_limit(p.limit)?).await?;
    Ok(axum::Json(Page { items: deliveries.into_iter().map(DeliveryView::from).collect(), next_cursor: next.map(|n| encode_cursor(&n)) }))
}

#[derive(Serialize, ToSchema)]
pub struct PingView {
    /// Whether the receiver answered 2xx.
    delivered: bool,
    #[serde(flatten)]
    attempt: AttemptView,
}

/// Send a signed `ping` (`{"id", "webhook_id", "ping": {"at"}}`, `Steward-Event: ping`) to the
/// webhook's URL now, active or not, and report the receiver's answer. Nothing is queued or
/// recorded: it checks that the URL and the secret work.
#[utoipa::path(
    post, path = "/api/v1/webhooks/{id}/ping", tag = "webhooks", params(("id" = String, Path)),
    responses(
        (status = 200, description = "How the receiver answered (or why it did not)", body = PingView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn ping_webhook(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<PingView>, ApiError> {
    principal.require(Permission::ManageWebhooks)?;
    let attempt = steward_services::delivery::ping_webhook(&state.services, &state.config.webhooks, webhook_id(&id)?).await?;
    Ok(axum::Json(PingView { delivered: attempt.outcome.succeeded(), attempt: attempt.into() }))
}

/// Send a delivered or failed delivery again: it becomes pending and due now, for one more
/// attempt (its earlier attempts stay in the log). A pending delivery is on its way: 409.
#[utoipa::path(
    post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    params(("id" = String, Path), ("delivery_id" = String, Path)),
    responses(
        (status = 202, description = "Queued again"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook or delivery", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The delivery is still pending", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn redeliver(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    principal.require(Permission::ManageWebhooks)?;
    let delivery = DeliveryId::parse("delivery_id", &delivery).map_err(|_| ApiError::not_found(format!("no delivery `{delivery}`")))?;
    state.services.redeliver(webhook_id(&id)?, delivery).await?;
    Ok(StatusCode::ACCEPTED)
}
