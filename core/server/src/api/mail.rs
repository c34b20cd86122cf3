//! /api/v1/mail/outbox: the mail Steward sends, each with its delivery log, and retrying a mail
//! that was given up (admin only: mail shows what customers were told).

use super::extract::{Principal, Query};
use super::problem::{ApiError, Problem};
use super::tickets::{decode_cursor_text, encode_cursor, page_limit};
use super::{AppState, Page};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use steward_domain::ids::{MailId, TicketId};
use steward_domain::mail::{MailAttempt, MailState, NotificationKind, OutboxMail};
use steward_domain::time::Timestamp;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_outbox)).routes(routes!(retry_mail))
}

#[derive(Serialize, ToSchema)]
pub struct MailAttemptView {
    #[schema(value_type = String, format = DateTime)]
    at: Timestamp,
    duration_ms: i64,
    /// Why the SMTP server did not take the mail; null when it did.
    error: Option<String>,
}

impl From<MailAttempt> for MailAttemptView {
    fn from(a: MailAttempt) -> Self {
        MailAttemptView { at: a.at, duration_ms: a.duration_ms, error: a.error }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MailView {
    #[schema(value_type = String, format = Uuid)]
    id: MailId,
    kind: NotificationKind,
    /// The ticket the mail is about (null for staff mail about no ticket).
    #[schema(value_type = Option<String>, format = Uuid)]
    ticket_id: Option<TicketId>,
    /// The address it goes to.
    to: String,
    subject: String,
    /// Ours, `<{ticket_id}.{uuid}@{domain}>`: replies thread back by it.
    message_id: String,
    /// The thread's previous message, when there is one.
    in_reply_to: Option<String>,
    state: MailState,
    /// The last failed attempt's error (kept when the mail was given up).
    last_error: Option<String>,
    /// Oldest first.
    attempts: Vec<MailAttemptView>,
    /// When the next attempt is due; null once sent or failed.
    #[schema(value_type = Option<String>, format = DateTime)]
    next_attempt_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    sent_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
}

impl From<OutboxMail> for MailView {
    fn from(m: OutboxMail) -> Self {
        MailView {
            id: m.id,
            kind: m.kind,
            ticket_id: m.ticket_id,
            to: m.recipient,
            subject: m.subject,
            message_id: m.message_id,
            in_reply_to: m.in_reply_to,
            state: m.state,
            last_error: m.last_error,
            attempts: m.attempts.into_iter().map(MailAttemptView::from).collect(),
            next_attempt_at: m.next_attempt_at,
            sent_at: m.sent_at,
            created_at: m.created_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxParams {
    /// Only mail in this state.
    state: Option<MailState>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The outbox, newest first: pending, sent and failed mail, each with its attempts (keyset
/// pagination).
#[utoipa::path(
    get, path = "/api/v1/mail/outbox", tag = "mail", params(OutboxParams),
    responses(
        (status = 200, description = "A page of mail", body = Page<MailView>),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_outbox(
    State(state): State<AppState>,
    principal: Principal,
    Query(p): Query<OutboxParams>,
) -> Result<axum::Json<Page<MailView>>, ApiError> {
    let before = p
        .cursor
        .as_deref()
        .map(|c| {
            decode_cursor_text(c)
                .and_then(|t| MailId::parse("cursor", &t).ok())
                .ok_or_else(|| ApiError::field(StatusCode::BAD_REQUEST, "cursor", "not a cursor returned by this API"))
        })
        .transpose()?;
    let (mails, next) = state.services.list_mail(&principal, p.state, before, page_limit(p.limit)?).await?;
    Ok(axum::Json(Page {
        items: mails.into_iter().map(MailView::from).collect(),
        next_cursor: next.map(|n| encode_cursor(&n.to_string())),
    }))
}

/// Send a failed mail again: it becomes pending and due now, for one more attempt (the earlier
/// ones stay in its log). Pending or sent mail: 409.
#[utoipa::path(
    post, path = "/api/v1/mail/outbox/{id}/retry", tag = "mail", params(("id" = String, Path)),
    responses(
        (status = 202, description = "Queued again"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such mail", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The mail is pending or sent", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn retry_mail(State(state): State<AppState>, principal: Principal, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let id = MailId::parse("id", &id).map_err(|_| ApiError::not_found(format!("no mail `{id}`")))?;
    state.services.retry_mail(&principal, id).await?;
    Ok(StatusCode::ACCEPTED)
}
