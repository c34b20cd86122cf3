//! RFC 9457 problem details: the only shape of an error response.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use steward_domain::process::TransitionError;
use steward_domain::training::CertificationRefusal;
use steward_domain::FieldError;
use steward_services::ServiceError;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem document. `type` is a relative URI naming the kind of problem; `errors` lists the
/// offending fields of a validation problem.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(example = "/problems/validation-error")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<ProblemField>)]
    pub errors: Vec<FieldError>,
    /// Problem-specific members (e.g. `allowed` stages, `current_version`).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
}

/// One offending field of a validation problem.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProblemField {
    /// Path of the field in the request, e.g. `customer.tier` or `tags[2]`; for query
    /// parameters and headers, their name.
    field: String,
    message: String,
}

/// An error on its way to the client. Boxed: errors are rare and `Result<T, ApiError>` stays small.
#[derive(Debug)]
pub struct ApiError(Box<ErrorParts>);

#[derive(Debug)]
struct ErrorParts {
    status: StatusCode,
    problem: Problem,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        ApiError(Box::new(ErrorParts {
            status,
            problem: Problem {
                kind: format!("/problems/{slug}"),
                title: title.to_owned(),
                status: status.as_u16(),
                detail: detail.into(),
                errors: Vec::new(),
                extra: Map::new(),
            },
            headers: Vec::new(),
        }))
    }

    pub fn validation(status: StatusCode, errors: Vec<FieldError>) -> Self {
        let detail = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        let mut e = ApiError::new(status, "validation-error", "Invalid request", detail);
        e.0.problem.errors = errors;
        e
    }

    pub fn field(status: StatusCode, field: &str, message: impl Into<String>) -> Self {
        Self::validation(status, vec![FieldError::new(field, message)])
    }

    /// 413 naming the part at fault, with the cap as `limit_bytes` when one is known.
    pub fn too_large(field: &str, message: String, limit: u64) -> Self {
        let mut e = Self::field(StatusCode::PAYLOAD_TOO_LARGE, field, message);
        if limit > 0 {
            e = e.with("limit_bytes", limit);
        }
        e
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn unauthorized(detail: &str) -> Self {
        let mut e = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required", detail);
        e.0.headers.push((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        e
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Internal server error",
            "the server failed to answer; the x-request-id header identifies this failure in the server's log",
        )
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.problem.extra.insert(key.to_owned(), value.into());
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.0.headers.push((name, value));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.0.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let parts = *self.0;
        let body = serde_json::to_vec(&parts.problem).expect("problem serialises");
        let mut response = (parts.status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        for (name, value) in parts.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// A permission the caller's role lacks: 403 saying which.
impl From<steward_domain::auth::Forbidden> for ApiError {
    fn from(e: steward_domain::auth::Forbidden) -> Self {
        ApiError::forbidden(e.to_string())
    }
}

/// A field that breaks a domain rule: 422 naming it.
impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::validation(StatusCode::UNPROCESSABLE_ENTITY, vec![e])
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(v) => ApiError::validation(StatusCode::UNPROCESSABLE_ENTITY, v.errors),
            ServiceError::NotFound { what } => ApiError::not_found(format!("no such {what}")),
            ServiceError::Missing { field, message } => {
                let mut e = ApiError::not_found(message.clone());
                e.0.problem.errors = vec![FieldError::new(field, message)];
                e
            }
            ServiceError::StaleVersion { current } => ApiError::new(
                StatusCode::CONFLICT,
                "version-conflict",
                "The resource has changed",
                format!(
                    "it was changed by someone else and is now at version {current}; fetch it again and retry with If-Match: \"{current}\""
                ),
            )
            .with("current_version", current),
            ServiceError::Transition(t) => {
                let allowed = t.allowed().to_vec();
                let detail = match allowed.is_empty() {
                    true => format!("{t}; no move is allowed from here"),
                    false => format!("{t}; allowed: {}", allowed.join(", ")),
                };
                // The move is well formed; the ticket as it stands refuses it: a conflict with
                // the current state of the resource (RFC 9110 §15.5.10).
                let mut e = ApiError::new(StatusCode::CONFLICT, "transition-not-allowed", "Transition not allowed", detail)
                    .with("allowed", allowed);
                e.0.problem.errors = vec![FieldError::new("to", t.to_string())];
                match t {
                    TransitionError::UnknownStage { .. } => e.0.problem.kind = "/problems/unknown-stage".into(),
                    TransitionError::ReviewRequired { stage } => {
                        e.0.problem.kind = "/problems/review-required".into();
                        e.0.problem.extra.remove("allowed");
                        e.0.problem.title = "Quality review required".into();
                        e.0.problem.detail = format!("stage `{stage}` requires a passing quality review before the ticket leaves it; record one with POST /api/v1/tickets/{{id}}/reviews");
                        e.0.problem.extra.insert("rule".into(), format!("stage `{stage}` requires_review").into());
                    }
                    _ => {}
                }
                e
            }
            ServiceError::Conflict { field, message } => {
                let mut e = ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", message.clone());
                if let Some(field) = field {
                    e.0.problem.errors = vec![FieldError::new(field, message)];
                }
                e
            }
            ServiceError::Vetoed { plugin, reason, plugin_failed } => {
                let (slug, title) = match plugin_failed {
                    true => ("plugin-guard-failed", "A plugin's guard failed"),
                    false => ("transition-vetoed", "Transition vetoed"),
                };
                let mut e = ApiError::new(StatusCode::CONFLICT, slug, title, format!("plugin `{plugin}`: {reason}")).with("plugin", plugin);
                e.0.problem.errors = vec![FieldError::new("to", reason)];
                e
            }
            ServiceError::PluginFailed { plugin, detail } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "plugin-failed",
                "A plugin failed",
                format!("plugin `{plugin}` gave no answer: {detail}"),
            )
            .with("plugin", plugin),
            ServiceError::Plugin(message) => {
                tracing::error!(%message, "plugin call failed");
                ApiError::internal()
            }
            ServiceError::CertificationRequired(refusal) => {
                let CertificationRefusal { field, staff_id, ref staff_name, ref certification, state, expires_at, ref stage } = *refusal;
                let detail = refusal.to_string();
                let mut e = ApiError::new(StatusCode::CONFLICT, "certification-required", "Certification required", detail.clone())
                    .with("staff_id", staff_id.to_string())
                    .with("staff_name", staff_name.clone())
                    .with("certification", certification.clone())
                    .with("certification_state", state.as_str())
                    .with("stage", stage.clone());
                if let Some(at) = expires_at {
                    e = e.with("expires_at", at.to_string());
                }
                e.0.problem.errors = vec![FieldError::new(field, detail)];
                e
            }
            ServiceError::Gone(message) => ApiError::new(StatusCode::GONE, "gone", "Gone", message),
            ServiceError::AlreadyDone(message) => ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", message),
            ServiceError::Duplicate { ref constraint } => {
                tracing::warn!(%constraint, "unexpected unique-key collision");
                ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", e.to_string())
            }
            ServiceError::Unavailable(ref reason) => {
                tracing::error!(%reason, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "the database is busy or unreachable; try again",
                )
            }
            ServiceError::Internal { operation, ref cause } => {
                // The cause stays in the log (with the request id of the current span).
                tracing::error!(operation, %cause, "internal failure");
                ApiError::internal()
            }
            ServiceError::Forbidden(f) => f.into(),
            ServiceError::SignIn(steward_services::SignInError::WrongCredentials) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "wrong-credentials", "Sign-in failed", "the email or password is wrong")
            }
            ServiceError::SignIn(steward_services::SignInError::Throttled { retry_after_secs }) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-sign-in-attempts",
                "Too many sign-in attempts",
                format!("too many failed sign-ins for this account or address; try again in {retry_after_secs} seconds"),
            )
            .with("retry_after_secs", retry_after_secs)
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after_secs)),
            ServiceError::TooLarge { field, message, limit } => ApiError::too_large(&field, message, limit),
            ServiceError::ReopenWindowPassed => {
                tracing::error!("reopen window error escaped the service layer");
                ApiError::internal()
            }
        }
    }
}

/// Turns any error response that is not yet a problem document (a 405 from the router, a 500
/// from a caught panic) into one, so clients only ever parse one error shape.
pub async fn ensure_problem(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).map(|v| v.as_bytes()).unwrap_or_default();
    // The console's pages explain their errors themselves, in HTML.
    let is_explained = content_type.starts_with(PROBLEM_JSON.as_bytes()) || content_type.starts_with(b"text/html");
    if !(status.is_client_error() || status.is_server_error()) || is_explained {
        return response;
    }
    let title = status.canonical_reason().unwrap_or("Error");
    let (slug, detail) = match status {
        StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "this route does not accept that method".to_owned()),
        StatusCode::NOT_FOUND => ("not-found", "no such route".to_owned()),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload-too-large", "the request body is too large".to_owned()),
        s if s.is_server_error() => return replace_body(response, ApiError::internal()),
        _ => ("http-error", title.to_lowercase()),
    };
    replace_body(response, ApiError::new(status, slug, title, detail))
}

fn replace_body(response: Response, error: ApiError) -> Response {
    let (mut parts, _) = response.into_response().into_parts();
    let fresh = error.into_response();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    parts.headers.remove(header::CONTENT_LENGTH);
    let (_, body) = fresh.into_parts();
    Response::from_parts(parts, Body::new(body))
}

/// Unknown routes.
pub async fn route_not_found() -> ApiError {
    ApiError::not_found("no such route; see /openapi.json for the API")
}
