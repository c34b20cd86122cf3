//! /api/v1/tickets/{id}/attachments: upload (multipart), list, metadata, download, delete.
//!
//! A download is always `Content-Disposition: attachment` with `nosniff`, and labelled with a
//! type the domain deems safe (`application/octet-stream` for anything else), so stored bytes
//! are never rendered as a page of this origin.

use super::extract::{Principal, Query};
use super::problem::{ApiError, Problem};
use super::tickets::{decode_cursor_text, encode_cursor, page_limit, ticket_ref, PageParams};
use super::{AppState, Page};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use steward_console::files::{body_limit, download_response, read_upload, UploadError};
use steward_domain::attachment::Attachment;
use steward_domain::event::Actor;
use steward_domain::ids::AttachmentId;
use steward_domain::time::Timestamp;
use steward_services::attachments::AttachmentSource;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes(limits: &steward_domain::attachment::AttachmentLimits) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_attachments, list_attachments))
        .routes(routes!(get_attachment, delete_attachment))
        .routes(routes!(download_attachment))
        // Uploads may be larger than other bodies: up to a ticket's cap.
        .layer(DefaultBodyLimit::max(body_limit(limits)))
}

#[derive(Serialize, ToSchema)]
pub struct AttachmentView {
    #[schema(value_type = String, format = Uuid)]
    id: String,
    #[schema(value_type = String, format = Uuid)]
    ticket_id: String,
    /// The comment it belongs to (that event's `seq`), if any.
    comment_seq: Option<i64>,
    file_name: String,
    /// Sniffed from the bytes on upload, not taken from the client.
    content_type: String,
    size: u64,
    sha256: String,
    /// `internal` when its comment is internal (partners never see it).
    visibility: steward_domain::ticket::Visibility,
    added_by: super::tickets::ActorView,
    #[schema(value_type = String, format = DateTime)]
    added_at: Timestamp,
    /// Where to download it.
    content_url: String,
}

impl From<Attachment> for AttachmentView {
    fn from(a: Attachment) -> Self {
        let actor: Actor = a.added_by;
        AttachmentView {
            content_url: format!("/api/v1/tickets/{}/attachments/{}/content", a.ticket_id, a.id),
            id: a.id.to_string(),
            ticket_id: a.ticket_id.to_string(),
            comment_seq: a.comment_seq,
            file_name: a.file_name,
            content_type: a.content_type,
            size: a.size,
            sha256: a.sha256.as_str().to_owned(),
            visibility: a.visibility,
            added_by: actor.into(),
            added_at: a.added_at,
        }
    }
}

/// The form of an upload.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AttachmentUpload {
    /// One or more files: repeat the part. Each part's `filename` is kept (one path component,
    /// no control characters, at most 200 characters; Unicode kept).
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
    /// Attach to this comment (its event `seq`) rather than to the ticket alone.
    comment: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct UploadedView {
    items: Vec<AttachmentView>,
}

fn upload_error(e: UploadError) -> ApiError {
    match e {
        UploadError::Invalid(field) => ApiError::validation(StatusCode::UNPROCESSABLE_ENTITY, vec![field]),
        UploadError::TooLarge { field, limit } => ApiError::too_large(&field, format!("a file is at most {limit} bytes"), limit),
        UploadError::Unreadable { status, message } if status == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::too_large("file", format!("the upload is larger than allowed: {message}"), 0)
        }
        UploadError::Unreadable { message, .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "unreadable-body",
            "Unreadable body",
            format!("not a readable multipart form: {message}"),
        ),
    }
}

/// Attach files to a ticket.
///
/// A `multipart/form-data` body with one or more `file` parts and, optionally, `comment` (the
/// `seq` of a comment event of this ticket). All files are attached or none. Each file is at most
/// `attachments.max_file_bytes`; the ticket's live attachments together at most
/// `attachments.max_ticket_bytes` (413 naming `file`, with `limit_bytes`). The same content is
/// stored once however often it is attached.
#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/attachments", tag = "attachments",
    params(("id" = String, Path, description = "Ticket id or number")),
    request_body(content = AttachmentUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The attachments added", body = UploadedView),
        (status = 400, description = "Not a readable multipart form (`unreadable-body`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not attach files", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket, or no such comment (`errors` names `comment`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "A file, or the ticket's attachments, would pass the cap (`validation-error` naming `file`, with `limit_bytes`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `multipart/form-data`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An empty file, a bad file name or no file (`validation-error` naming the part)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn upload_attachments(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let reference = ticket_ref(&id)?;
    let multipart = Multipart::from_request(request, &state).await.map_err(|rejection| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("send the files as multipart/form-data ({})", rejection.body_text()),
        )
    })?;
    let limits = state.services.attachment_limits();
    let timeout = std::time::Duration::from_millis(state.config.http.body_read_timeout_ms);
    let upload = match tokio::time::timeout(timeout, read_upload(multipart, &limits)).await {
        Ok(read) => read.map_err(upload_error)?,
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "Request timeout",
                format!("the request body did not arrive within {} ms", timeout.as_millis()),
            ))
        }
    };
    let comment = match upload.field("comment").map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "comment", "the seq of a comment event, such as 3"))?,
        ),
    };
    if let Some((name, _)) = upload.fields.iter().find(|(name, _)| name != "comment") {
        return Err(ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, name, "unknown part: send `file` parts and, optionally, `comment`"));
    }
    let added = state.services.add_attachments(&principal, reference, comment, upload.files, AttachmentSource::Api).await?;
    let view = UploadedView { items: added.into_iter().map(AttachmentView::from).collect() };
    Ok((StatusCode::CREATED, axum::Json(view)).into_response())
}

/// A ticket's attachments, oldest first (deleted ones are left out).
#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/attachments", tag = "attachments",
    params(("id" = String, Path, description = "Ticket id or number"), PageParams),
    responses(
        (status = 200, description = "A page of attachments", body = Page<AttachmentView>),
        (status = 403, description = "Role may not read tickets", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_attachments(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(p): Query<PageParams>,
) -> Result<axum::Json<Page<AttachmentView>>, ApiError> {
    let limit = page_limit(p.limit)?;
    let after = match p.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            decode_cursor_text(c)
                .and_then(|t| AttachmentId::parse("cursor", &t).ok())
                .ok_or_else(|| ApiError::field(StatusCode::BAD_REQUEST, "cursor", "not a cursor returned by this API"))?,
        ),
    };
    let page = state.services.list_attachments(&principal, ticket_ref(&id)?, after, limit).await?;
    let next_cursor = page.next.map(|id| encode_cursor(&id.to_string()));
    Ok(axum::Json(Page { items: page.attachments.into_iter().map(AttachmentView::from).collect(), next_cursor }))
}

fn attachment_id(text: &str) -> Result<AttachmentId, ApiError> {
    AttachmentId::parse("aid", text).map_err(|_| ApiError::not_found(format!("no attachment `{text}`")))
}

/// One attachment's metadata.
#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/attachments/{aid}", tag = "attachments",
    params(("id" = String, Path, description = "Ticket id or number"), ("aid" = String, Path, description = "Attachment id")),
    responses(
        (status = 200, description = "The attachment", body = AttachmentView),
        (status = 403, description = "Role may not read tickets", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket or attachment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn get_attachment(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, aid)): Path<(String, String)>,
) -> Result<axum::Json<AttachmentView>, ApiError> {
    let attachment = state.services.get_attachment(&principal, ticket_ref(&id)?, attachment_id(&aid)?).await?;
    Ok(axum::Json(attachment.into()))
}

/// Download an attachment's bytes. Always `Content-Disposition: attachment`, with
/// `X-Content-Type-Options: nosniff`; the type is the sniffed one when it is safe to label
/// (images, PDF, plain text, archives), else `application/octet-stream`.
#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/attachments/{aid}/content", tag = "attachments",
    params(("id" = String, Path, description = "Ticket id or number"), ("aid" = String, Path, description = "Attachment id")),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>,
            headers(("Content-Disposition" = String), ("X-Content-Type-Options" = String))),
        (status = 403, description = "Role may not read tickets", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket or attachment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn download_attachment(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, aid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (attachment, bytes) = state.services.open_attachment(&principal, ticket_ref(&id)?, attachment_id(&aid)?).await?;
    Ok(download_response(&attachment, bytes))
}

/// Delete an attachment: an `attachment_deleted` event on the ticket. Its bytes are removed
/// when no other attachment shares them.
#[utoipa::path(
    delete, path = "/api/v1/tickets/{id}/attachments/{aid}", tag = "attachments",
    params(("id" = String, Path, description = "Ticket id or number"), ("aid" = String, Path, description = "Attachment id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Role may not change tickets (a partner: not its own attachment)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket or attachment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn delete_attachment(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, aid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.services.delete_attachment(&principal, ticket_ref(&id)?, attachment_id(&aid)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
