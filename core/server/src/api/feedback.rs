//! Quality reviews (/api/v1/tickets/{id}/reviews) and satisfaction surveys
//! (/api/v1/surveys/{token}, answered by customers without a token).

use super::extract::{authenticate, Json, Principal};
use super::problem::{ApiError, Problem};
use super::tickets::{ticket_ref, ticket_response, TicketView};
use super::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use steward_domain::auth::{Permission, Role};
use steward_domain::feedback::{ChecklistItem, ReviewOutcome};
use steward_domain::time::Timestamp;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(review_ticket)).routes(routes!(get_survey, answer_survey))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecklistItemBody {
    item: String,
    passed: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// `pass` or `fail`.
    #[schema(value_type = String, example = "pass")]
    outcome: ReviewOutcome,
    /// 0 to 100.
    score: i64,
    #[serde(default)]
    checklist: Vec<ChecklistItemBody>,
    notes: Option<String>,
}

/// Record a quality review of the work in the ticket's current stage (roles qa, supervisor,
/// admin). A stage with `requires_review` is left (or the ticket closed) only after a passing one.
#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/reviews", tag = "tickets",
    params(("id" = String, Path, description = "Ticket id or number")),
    request_body = ReviewBody,
    responses(
        (status = 201, description = "The ticket after the review", body = TicketView),
        (status = 403, description = "Role may not review", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn review_ticket(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<ReviewBody>,
) -> Result<Response, ApiError> {
    principal.require(Permission::ReviewTickets)?;
    let checklist = body.checklist.into_iter().map(|c| ChecklistItem { item: c.item.trim().to_owned(), passed: c.passed }).collect();
    let (ticket, _review) =
        state.services.review_ticket(ticket_ref(&id)?, body.outcome, body.score, checklist, body.notes, &principal.actor()).await?;
    Ok(ticket_response(StatusCode::CREATED, ticket))
}

#[derive(Serialize, ToSchema)]
pub struct SurveyTicket {
    #[schema(example = "T-000123")]
    number: String,
    title: String,
}

#[derive(Serialize, ToSchema)]
pub struct SurveyView {
    ticket: SurveyTicket,
    #[schema(value_type = String, format = DateTime)]
    expires_at: Timestamp,
    /// Whether it has been answered (it takes one answer).
    answered: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyAnswer {
    /// 1 (very dissatisfied) to 5 (very satisfied).
    score: i64,
    comment: Option<String>,
}

/// What the customer is asked about. Needs no token: the survey token in the URL is the key.
#[utoipa::path(
    get, path = "/api/v1/surveys/{token}", tag = "surveys",
    params(("token" = String, Path)),
    responses(
        (status = 200, description = "The survey", body = SurveyView),
        (status = 404, description = "No such survey", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Expired", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_survey(State(state): State<AppState>, Path(token): Path<String>) -> Result<axum::Json<SurveyView>, ApiError> {
    let view = state.services.survey(&token).await?;
    Ok(axum::Json(SurveyView {
        ticket: SurveyTicket { number: view.ticket.number.to_string(), title: view.ticket.title },
        expires_at: view.survey.expires_at,
        answered: view.survey.answered_at.is_some(),
    }))
}

/// Answer the survey: once, before it expires. Needs no token.
#[utoipa::path(
    post, path = "/api/v1/surveys/{token}", tag = "surveys",
    params(("token" = String, Path)),
    request_body = SurveyAnswer,
    responses(
        (status = 204, description = "Thank you"),
        (status = 403, description = "Sent with a partner's token: survey answers come from customers only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such survey", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already answered", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid score or comment", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn answer_survey(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Json(body): Json<SurveyAnswer>,
) -> Result<StatusCode, ApiError> {
    // The answer feeds the scorecard of the partner who did the work: a partner may not give it.
    if headers.contains_key(header::AUTHORIZATION) {
        if let Ok(principal) = authenticate(&headers, &state).await {
            if principal.role == Role::Partner {
                return Err(ApiError::forbidden("survey answers come from customers; a partner's token may not answer a survey"));
            }
        }
    }
    state.services.answer_survey(&token, body.score, body.comment.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}
