//! /api/v1/mail: inbound messages handed in (`steward mailgate`, any client with the right),
//! and the quarantine for admins.

use super::extract::{read_body, Json, Principal, Query};
use super::problem::{ApiError, Problem};
use super::tickets::{decode_cursor_text, encode_cursor, page_limit, ticket_response, TicketView};
use super::{AppState, Page};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use steward_domain::ids::{InboundMailId, TicketId};
use steward_domain::mail_inbound::{InboundMailState, MailAttachments, MailReason, StoredMail};
use steward_domain::time::Timestamp;
use steward_services::mail_inbound::ManualTicket;
use steward_services::MailSource;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes(max_message_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        // The message cap is the limit here, not `http.max_body_bytes`; the handler says 413.
        .routes(routes!(receive_mail))
        .layer(DefaultBodyLimit::max(max_message_bytes.saturating_add(1)))
        .routes(routes!(list_quarantine))
        .routes(routes!(retry_quarantined_mail))
        .routes(routes!(mail_to_ticket))
}

/// A stored inbound message (its raw bytes are kept, not shown).
#[derive(Serialize, ToSchema)]
pub struct InboundMailView {
    #[schema(value_type = String, format = Uuid)]
    id: InboundMailId,
    /// Without angle brackets.
    message_id: Option<String>,
    /// `http`, `mailgate` or `imap:{mailbox}`.
    source: String,
    #[schema(value_type = String, format = DateTime)]
    received_at: Timestamp,
    size_bytes: u64,
    /// The From address, lowercased, when it could be read.
    sender: Option<String>,
    subject: Option<String>,
    state: InboundMailState,
    /// Why it was ignored or quarantined.
    reason: Option<MailReason>,
    detail: Option<String>,
    /// The ticket the import wrote to.
    #[schema(value_type = Option<String>, format = Uuid)]
    ticket_id: Option<TicketId>,
    /// The last event the import wrote on that ticket.
    event_seq: Option<i64>,
    /// Its files, when it was imported with some: `owed` (not attached yet; the pending-mail
    /// pass attaches them), `attached`, or `refused` (over a cap; the reason in `detail`).
    attachments: Option<MailAttachments>,
    attempts: u32,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl From<StoredMail> for InboundMailView {
    fn from(m: StoredMail) -> Self {
        InboundMailView {
            id: m.id,
            message_id: m.message_id,
            source: m.source,
            received_at: m.received_at,
            size_bytes: m.size,
            sender: m.sender,
            subject: m.subject,
            state: m.state,
            reason: m.reason,
            detail: m.detail,
            ticket_id: m.ticket_id,
            event_seq: m.event_seq,
            attachments: m.attachments,
            attempts: m.attempts,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ReceiptView {
    #[serde(flatten)]
    mail: InboundMailView,
    /// The Message-ID was received before: this answers with that message, nothing new was
    /// imported.
    duplicate: bool,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReceiveParams {
    /// `mailgate` when an MTA's pipe hands the message in; `http` (the default) otherwise.
    source: Option<String>,
}

/// Hand in one RFC 5322 message (`Content-Type: message/rfc822`). It is stored raw before it
/// is parsed, then imported (a new ticket, or a public comment from the customer on the ticket
/// it threads to), ignored (a loop, a delivery report) or quarantined with its reason.
#[utoipa::path(
    post, path = "/api/v1/mail/inbound", tag = "mail", params(ReceiveParams),
    request_body(content = Vec<u8>, content_type = "message/rfc822", description = "The message exactly as received"),
    responses(
        (status = 202, description = "Stored; `state` says what became of it", body = ReceiptView),
        (status = 400, description = "A bad parameter or an unreadable body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither a mailgate token nor an admin", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over `mail.inbound.max_message_bytes` (not stored; logged)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not `message/rfc822`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn receive_mail(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<ReceiveParams>,
    request: Request,
) -> Result<(StatusCode, axum::Json<ReceiptView>), ApiError> {
    let source = match params.source.as_deref() {
        Some(s) => MailSource::parse("source", s).map_err(|e| ApiError::field(StatusCode::BAD_REQUEST, "source", e.message))?,
        None => MailSource::Http,
    };
    principal.require(steward_domain::auth::Permission::ReceiveMail)?;
    let is_message = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("message/rfc822"));
    if !is_message {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the message as Content-Type: message/rfc822",
        ));
    }
    let limit = state.services.max_message_bytes();
    let raw = read_body(request, &state, limit).await.inspect_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            state.services.metrics.observe_mail("refused");
            tracing::warn!(limit, source = %source.label(), "inbound message refused: over mail.inbound.max_message_bytes");
        }
    })?;
    if raw.is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "empty-message", "Empty message", "the body holds no message"));
    }
    let receipt = state.services.receive_mail(&principal, raw.to_vec(), source).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(ReceiptView { mail: receipt.mail.into(), duplicate: receipt.duplicate })))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QuarantineParams {
    /// Page size, 1 to 200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

fn mail_id(text: &str) -> Result<InboundMailId, ApiError> {
    InboundMailId::parse("id", text).map_err(|_| ApiError::not_found(format!("no mail message `{text}`")))
}

/// The quarantined messages, oldest first (keyset pagination).
#[utoipa::path(
    get, path = "/api/v1/mail/quarantine", tag = "mail", params(QuarantineParams),
    responses(
        (status = 200, description = "A page of quarantined messages", body = Page<InboundMailView>),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_quarantine(
    State(state): State<AppState>,
    principal: Principal,
    Query(p): Query<QuarantineParams>,
) -> Result<axum::Json<Page<InboundMailView>>, ApiError> {
    let after = p
        .cursor
        .as_deref()
        .map(|c| {
            decode_cursor_text(c)
                .and_then(|t| InboundMailId::parse("cursor", &t).ok())
                .ok_or_else(|| ApiError::field(StatusCode::BAD_REQUEST, "cursor", "not a cursor returned by this API"))
        })
        .transpose()?;
    let (page, next) = state.services.list_quarantine(&principal, after, page_limit(p.limit)?).await?;
    Ok(axum::Json(Page { items: page.into_iter().map(InboundMailView::from).collect(), next_cursor: next.map(|n| encode_cursor(&n)) }))
}

/// Import a quarantined message again under the current configuration and tickets (the
/// per-sender rate limit aside). It may be quarantined again, with the reason that holds now.
#[utoipa::path(
    post, path = "/api/v1/mail/quarantine/{id}/retry", tag = "mail", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The message as it now stands", body = InboundMailView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The message is not quarantined", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn retry_quarantined_mail(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<InboundMailView>, ApiError> {
    Ok(axum::Json(state.services.retry_inbound_mail(&principal, mail_id(&id)?).await?.into()))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ManualTicketBody {
    /// The ticket's title; the subject when absent.
    title: Option<String>,
    /// The customer; the sender when absent.
    customer_name: Option<String>,
    customer_contact: Option<String>,
    /// The process to open it in; the mailbox's default when absent.
    process: Option<String>,
}

/// Open a ticket from a quarantined message by hand: its text as far as it reads, the fields
/// given here before what the message says.
#[utoipa::path(
    post, path = "/api/v1/mail/quarantine/{id}/ticket", tag = "mail", params(("id" = String, Path)), request_body = ManualTicketBody,
    responses(
        (status = 201, description = "The ticket", body = TicketView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The message is not quarantined", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn mail_to_ticket(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<ManualTicketBody>,
) -> Result<Response, ApiError> {
    let manual = ManualTicket {
        title: body.title,
        customer_name: body.customer_name,
        customer_contact: body.customer_contact,
        process: body.process,
    };
    let ticket = state.services.mail_to_ticket(&principal, mail_id(&id)?, manual).await?;
    Ok(ticket_response(StatusCode::CREATED, ticket))
}
