//! Attachments over HTTP, for the console's pages and the API's routes alike: reading a
//! `multipart/form-data` upload (`file` parts, their names parsed by the domain's strict rule,
//! and the form's other text fields; a file is refused as soon as it passes the per-file cap,
//! before the rest of it is read) and answering a download (always `attachment`, nosniff, a
//! type the domain deems safe, and a CSP that forbids everything).

use axum::extract::multipart::{Multipart, MultipartError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use steward_domain::attachment::{download_content_type, Attachment, AttachmentLimits, FileName};
use steward_domain::{text, FieldError};
use steward_services::attachments::NewFile;

/// An upload as read: the files in order and the other fields by name.
pub struct Upload {
    pub files: Vec<NewFile>,
    pub fields: Vec<(String, String)>,
}

impl Upload {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// A field breaks a rule (a file's name, a field's characters, no file at all).
    #[error("{0}")]
    Invalid(FieldError),
    /// A file is larger than `limit` bytes.
    #[error("{field}: a file is at most {limit} bytes")]
    TooLarge { field: String, limit: u64 },
    /// The body is not a readable multipart form (`status` is 400, or 413 past the body cap).
    #[error("{message}")]
    Unreadable { status: StatusCode, message: String },
}

impl From<MultipartError> for UploadError {
    fn from(e: MultipartError) -> Self {
        UploadError::Unreadable { status: e.status(), message: e.body_text() }
    }
}

/// The body size an upload may reach: a ticket's cap, plus room for the form's framing.
pub fn body_limit(limits: &AttachmentLimits) -> usize {
    usize::try_from(limits.max_ticket_bytes.saturating_add(1024 * 1024)).unwrap_or(usize::MAX)
}

/// Reads every part. Parts named `file` are files; any other part is a text field, held to the
/// character rule.
pub async fn read_upload(mut multipart: Multipart, limits: &AttachmentLimits) -> Result<Upload, UploadError> {
    let mut upload = Upload { files: Vec::new(), fields: Vec::new() };
    while let Some(mut part) = multipart.next_field().await? {
        let name = part.name().unwrap_or_default().to_owned();
        if name == "file" {
            let field = steward_services::attachments::file_field(upload.files.len());
            let raw_name = part.file_name().unwrap_or_default().to_owned();
            let mut bytes = Vec::new();
            while let Some(chunk) = part.chunk().await? {
                if (bytes.len() + chunk.len()) as u64 > limits.max_file_bytes {
                    return Err(UploadError::TooLarge { field, limit: limits.max_file_bytes });
                }
                bytes.extend_from_slice(&chunk);
            }
            // A form posted without choosing a file sends an empty, nameless part.
            if raw_name.is_empty() && bytes.is_empty() {
                continue;
            }
            let raw_name = if raw_name.is_empty() { "attachment" } else { raw_name.as_str() };
            let file_name = FileName::parse(&field, raw_name).map_err(UploadError::Invalid)?;
            upload.files.push(NewFile { name: file_name, bytes: Bytes::from(bytes) });
        } else {
            let value = part.text().await?;
            text::check_characters(&name, &value).map_err(UploadError::Invalid)?;
            upload.fields.push((name, value));
        }
    }
    if upload.files.is_empty() {
        return Err(UploadError::Invalid(FieldError::new("file", "choose at least one file")));
    }
    Ok(upload)
}

/// `attachment; filename*=UTF-8''…` (RFC 6266 / RFC 8187), with an ASCII `filename` beside it
/// for old clients.
fn content_disposition(file_name: &str) -> HeaderValue {
    let ascii: String =
        file_name.chars().map(|c| if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%' | ';') || c == ' ' { c } else { '_' }).collect();
    let encoded: String = file_name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// The response of a download, for the API and the console alike.
pub fn download_response(attachment: &Attachment, bytes: bytes::Bytes) -> Response {
    download_named(&attachment.file_name, &attachment.content_type, bytes)
}

/// A download of `bytes` saved as `file_name`, labelled with `content_type` only when that
/// type is known safe (else `application/octet-stream`), never shown inline.
pub fn download_named(file_name: &str, content_type: &str, bytes: bytes::Bytes) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(download_content_type(content_type))),
        (header::CONTENT_DISPOSITION, content_disposition(file_name)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox")),
        (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
    ];
    (StatusCode::OK, headers, bytes).into_response()
}
