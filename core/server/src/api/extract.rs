//! Request extractors that turn every kind of bad input into a problem naming the field.

use super::problem::ApiError;
use super::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;
use steward_domain::{text, FieldError};

/// A JSON request body. Malformed JSON → 400; well-formed JSON of the wrong shape (unknown or
/// missing fields, wrong types, bad enum values) → 422 naming the field; too large → 413;
/// not JSON → 415.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_json_body(request, state).await?;
        parse_json(&bytes).map(Json)
    }
}

/// The raw bytes of a JSON body: 415 unless the content type is JSON, 413 past the limit.
pub async fn read_json_body(request: Request, state: &AppState) -> Result<Bytes, ApiError> {
    let is_json =
        request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as JSON with Content-Type: application/json",
        ));
    }
    read_body(request, state, state.config.http.max_body_bytes).await
}

/// The raw bytes of a body of at most `limit` bytes: 413 when the declared length is over it
/// (before a byte is read) or the body turns out to be, 408 when it does not arrive in time.
/// The route's `DefaultBodyLimit` must allow `limit`.
pub async fn read_body(request: Request, state: &AppState, limit: usize) -> Result<Bytes, ApiError> {
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        // Refused before a byte of the body is read.
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            format!("the declared Content-Length exceeds the limit of {limit} bytes"),
        )
        .with("limit_bytes", limit));
    }
    let timeout = std::time::Duration::from_millis(state.config.http.body_read_timeout_ms);
    let Ok(read) = tokio::time::timeout(timeout, Bytes::from_request(request, state)).await else {
        return Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            "Request timeout",
            format!("the request body did not arrive within {} ms", timeout.as_millis()),
        ));
    };
    read.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
                format!("the request body exceeds the limit of {limit} bytes"),
            )
            .with("limit_bytes", limit)
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "unreadable-body", "Unreadable body", rejection.body_text())
        }
    })
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let syntax = |inner: &serde_json::Error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "Malformed JSON",
            format!("the body is not valid JSON (line {}, column {})", inner.line(), inner.column()),
        )
    };
    // Syntax first: a truncated document is malformed (400) whatever shape it started with.
    let document: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| syntax(&e))?;
    // Then the character rule over every string and key, before any shape is imposed.
    let mut errors = Vec::new();
    check_json_characters(&document, &mut String::new(), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(StatusCode::UNPROCESSABLE_ENTITY, errors));
    }
    // A number with no fractional part is an integer (JSON Schema says so, and `5.0` is how some
    // clients write 5): integer fields take it.
    let document = integral_numbers(document);
    let value = serde_path_to_error::deserialize(document).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => syntax(&inner),
            _ => {
                let message = strip_position(&inner.to_string());
                ApiError::validation(StatusCode::UNPROCESSABLE_ENTITY, vec![FieldError::new(field_path(&path, &message), message)])
            }
        }
    })?;
    Ok(value)
}

/// Turns every number without a fractional part (`5.0`, `1e2`) into an integer.
fn integral_numbers(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral_numbers).collect()),
        Value::Object(fields) => Value::Object(fields.into_iter().map(|(k, v)| (k, integral_numbers(v))).collect()),
        other => other,
    }
}

/// Applies [`text::check_characters`] to every string value and object key of a JSON document,
/// naming each offending field by its path (`customer.name`, `tags[1]`); a bad key is reported
/// against the object that holds it.
fn check_json_characters(value: &serde_json::Value, path: &mut String, errors: &mut Vec<FieldError>) {
    use serde_json::Value;
    let here = |path: &str| if path.is_empty() { "(body)".to_owned() } else { path.to_owned() };
    match value {
        Value::String(s) => errors.extend(text::check_characters(&here(path), s).err()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_json_characters(item, path, errors);
                path.truncate(len);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                if let Err(mut e) = text::check_characters(&here(path), key) {
                    e.message = format!("an object key {}", e.message);
                    errors.push(e);
                    continue;
                }
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                check_json_characters(item, path, errors);
                path.truncate(len);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Names the field an error is about: serde reports unknown and missing fields against the
/// enclosing object, so the field's own name is taken from the message.
fn field_path(path: &str, message: &str) -> String {
    let parent = if path == "." { "" } else { path };
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    match (named, parent) {
        // serde_path_to_error already ends the path with an unknown field's name.
        (Some(name), parent) if parent == name || parent.ends_with(&format!(".{name}")) => parent.to_owned(),
        (Some(name), "") => name.to_owned(),
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, "") => "(body)".to_owned(),
        (None, parent) => parent.to_owned(),
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Query-string parameters; a bad one → 400 naming the parameter.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        check_query_characters(query)?;
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(Query).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            ApiError::validation(StatusCode::BAD_REQUEST, vec![FieldError::new(field_path(&path, &message), message)])
        })
    }
}

/// The character rule over a query string's decoded names and values: 400 naming the parameter.
fn check_query_characters(query: &str) -> Result<(), ApiError> {
    let errors: Vec<FieldError> = form_urlencoded::parse(query.as_bytes())
        .filter_map(|(name, value)| {
            if text::forbidden_character(&name).is_some() {
                return text::check_characters("(query)", &name).err();
            }
            text::check_characters(&name, &value).err()
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(StatusCode::BAD_REQUEST, errors))
    }
}

/// Route middleware: the character rule over the matched path parameters (a ticket id, an SLA
/// policy key, a plugin name…) and the query string, so a handler that takes `Path<String>` or
/// reads the query itself cannot pass a NUL to the store. 400 naming the parameter.
pub async fn refuse_control_characters(params: RawPathParams, request: Request, next: Next) -> Result<Response, ApiError> {
    let errors: Vec<FieldError> = params.iter().filter_map(|(name, value)| text::check_characters(name, value).err()).collect();
    if !errors.is_empty() {
        return Err(ApiError::validation(StatusCode::BAD_REQUEST, errors));
    }
    check_query_characters(request.uri().query().unwrap_or(""))?;
    Ok(next.run(request).await)
}

/// The caller: the domain's one [`Principal`], here authenticated by `Authorization: Bearer
/// <token>` (the API never reads cookies). Handlers call `principal.require(…)?`.
pub use steward_domain::auth::Principal;

pub async fn authenticate(headers: &HeaderMap, state: &AppState) -> Result<Principal, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized("send an API token as Authorization: Bearer <token>"));
    };
    let secret = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))?;
    match state.services.token_principal(secret).await? {
        Some(principal) => Ok(principal),
        None => Err(ApiError::unauthorized("the token is unknown or revoked")),
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(&parts.headers, state).await
    }
}

/// The version a client expects, from `If-Match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    Any,
    Version(i64),
}

impl IfMatch {
    /// Reads `If-Match: "7"` or `*` (any version: never stale). `If-Match` uses strong
    /// comparison (RFC 9110 §13.1.1), so a weak tag `W/"7"` could never match: it is refused
    /// with a 400 naming the header rather than silently treated as strong.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<IfMatch>, ApiError> {
        let Some(value) = headers.get(header::IF_MATCH) else {
            return Ok(None);
        };
        let bad = || ApiError::field(StatusCode::BAD_REQUEST, "If-Match", "must be an ETag from GET, such as \"3\", or *");
        let text = value.to_str().map_err(|_| bad())?.trim();
        if text.is_empty() {
            // An empty list of entity tags (RFC 9110 §5.6.1): no precondition.
            return Ok(None);
        }
        if text == "*" {
            return Ok(Some(IfMatch::Any));
        }
        if text.starts_with("W/") {
            return Err(ApiError::field(
                StatusCode::BAD_REQUEST,
                "If-Match",
                "weak ETags never match If-Match (strong comparison, RFC 9110): send the ETag from GET, such as \"3\", or *",
            ));
        }
        let tag = text;
        let version = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')).ok_or_else(bad)?;
        version.parse().map(|v| Some(IfMatch::Version(v))).map_err(|_| bad())
    }

    /// [`IfMatch::from_headers`] where the header is required: without it, 428, so that no
    /// one's change is overwritten by a client that did not read first.
    pub fn required(headers: &HeaderMap) -> Result<IfMatch, ApiError> {
        IfMatch::from_headers(headers)?.ok_or_else(|| {
            ApiError::new(
                StatusCode::PRECONDITION_REQUIRED,
                "precondition-required",
                "If-Match required",
                "send If-Match with the ETag from your last GET, so that no one's change is overwritten",
            )
        })
    }

    pub fn version(self) -> Option<i64> {
        match self {
            IfMatch::Any => None,
            IfMatch::Version(v) => Some(v),
        }
    }
}

pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn field_paths_name_unknown_and_missing_fields() {
        assert_eq!(field_path(".", "unknown field `colour`, expected one of `a`"), "colour");
        assert_eq!(field_path("colour", "unknown field `colour`, expected one of `a`"), "colour");
        assert_eq!(field_path("customer.age", "unknown field `age`, expected one of `a`"), "customer.age");
        assert_eq!(field_path("customer", "missing field `name`"), "customer.name");
        assert_eq!(field_path("priority", "unknown variant `p1`"), "priority");
        assert_eq!(field_path(".", "invalid type: string, expected a map"), "(body)");
    }

    #[test]
    fn if_match_accepts_strong_and_star_and_refuses_weak() {
        let mut h = HeaderMap::new();
        assert_eq!(IfMatch::from_headers(&h).unwrap(), None);
        h.insert(header::IF_MATCH, HeaderValue::from_static("\"4\""));
        assert_eq!(IfMatch::from_headers(&h).unwrap(), Some(IfMatch::Version(4)));
        h.insert(header::IF_MATCH, HeaderValue::from_static("W/\"5\""));
        assert_eq!(IfMatch::from_headers(&h).unwrap_err().status(), StatusCode::BAD_REQUEST);
        h.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert_eq!(IfMatch::from_headers(&h).unwrap(), Some(IfMatch::Any));
        h.insert(header::IF_MATCH, HeaderValue::from_static("4"));
        assert!(IfMatch::from_headers(&h).is_err());
    }

    #[test]
    fn json_errors_distinguish_syntax_from_shape() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct B {
            n: u32,
        }
        assert_eq!(parse_json::<B>(b"{").unwrap_err().status(), StatusCode::BAD_REQUEST);
        assert_eq!(parse_json::<B>(b"{\"n\": 1} x").unwrap_err().status(), StatusCode::BAD_REQUEST);
        let e = parse_json::<B>(b"{\"n\": \"x\"}").unwrap_err();
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}
