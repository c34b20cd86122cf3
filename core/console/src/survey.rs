//! `/survey/{token}`: the customer's satisfaction survey. No sign-in: the link is the key. One
//! answer; thanks after it; already-answered, expired and unknown links each say so.

use crate::i18n::{Locale, Texts};
use crate::page::{render, Chrome};
use crate::ConsoleState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use steward_services::ServiceError;

#[derive(Template)]
#[template(path = "survey.html")]
struct SurveyPage {
    chrome: Chrome,
    heading: &'static str,
    /// Present while the survey can be answered.
    form: Option<SurveyForm>,
    /// The state's explanation when there is no form.
    message: Option<&'static str>,
}

struct SurveyForm {
    number: String,
    title: String,
    expires: String,
    scores: Vec<ScoreChoice>,
    comment: String,
    score_error: Option<&'static str>,
    comment_error: Option<&'static str>,
}

struct ScoreChoice {
    value: u8,
    label: &'static str,
    checked: bool,
}

#[derive(Deserialize)]
pub struct SurveyAnswerForm {
    score: Option<String>,
    comment: Option<String>,
}

pub async fn show(State(state): State<ConsoleState>, Path(token): Path<String>, headers: HeaderMap) -> Response {
    let locale = Locale::from_headers(&headers);
    match state.services.survey(&token).await {
        Ok(view) if view.survey.answered_at.is_some() => closed(&locale, StatusCode::OK, Closed::Answered),
        Ok(view) => {
            let form = SurveyForm {
                number: view.ticket.number.to_string(),
                title: view.ticket.title,
                expires: locale.time(view.survey.expires_at),
                scores: choices(locale.lang.texts(), None),
                comment: String::new(),
                score_error: None,
                comment_error: None,
            };
            open(&locale, StatusCode::OK, form)
        }
        Err(e) => failed(&locale, e),
    }
}

pub async fn answer(
    State(state): State<ConsoleState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(answer): Form<SurveyAnswerForm>,
) -> Response {
    let locale = Locale::from_headers(&headers);
    let t = locale.lang.texts();
    let comment = answer.comment.unwrap_or_default();
    // A missing or non-numeric score goes to the same rule as an out-of-range one.
    let score = answer.score.as_deref().and_then(|s| s.trim().parse::<i64>().ok()).unwrap_or(0);
    match state.services.answer_survey(&token, score, Some(&comment)).await {
        Ok(()) => closed(&locale, StatusCode::OK, Closed::Thanks),
        Err(ServiceError::Invalid(invalid)) => {
            // Show the form again with what they typed, each refusal beside its field.
            let view = match state.services.survey(&token).await {
                Ok(view) => view,
                Err(e) => return failed(&locale, e),
            };
            let has = |field: &str| invalid.errors.iter().any(|e| e.field == field);
            let form = SurveyForm {
                number: view.ticket.number.to_string(),
                title: view.ticket.title,
                expires: locale.time(view.survey.expires_at),
                scores: choices(t, u8::try_from(score).ok()),
                comment,
                score_error: has("score").then_some(t.survey_pick_a_score),
                comment_error: has("comment").then_some(t.survey_comment_hint),
            };
            open(&locale, StatusCode::UNPROCESSABLE_ENTITY, form)
        }
        Err(e) => failed(&locale, e),
    }
}

fn choices(t: &'static Texts, checked: Option<u8>) -> Vec<ScoreChoice> {
    (1..=5u8).zip(t.survey_scores).map(|(value, label)| ScoreChoice { value, label, checked: checked == Some(value) }).collect()
}

fn open(locale: &Locale, status: StatusCode, form: SurveyForm) -> Response {
    let t = locale.lang.texts();
    render(status, &SurveyPage { chrome: Chrome::new(locale), heading: t.survey_title, form: Some(form), message: None })
}

enum Closed {
    Thanks,
    Answered,
    Expired,
    Unknown,
    Unavailable,
}

fn closed(locale: &Locale, status: StatusCode, state: Closed) -> Response {
    let t = locale.lang.texts();
    let (heading, message) = match state {
        Closed::Thanks => (t.survey_thanks_title, t.survey_thanks),
        Closed::Answered => (t.survey_answered_title, t.survey_answered),
        Closed::Expired => (t.survey_expired_title, t.survey_expired),
        Closed::Unknown => (t.survey_unknown_title, t.survey_unknown),
        Closed::Unavailable => (t.problem_title, t.problem_unavailable),
    };
    render(status, &SurveyPage { chrome: Chrome::new(locale), heading, form: None, message: Some(message) })
}

fn failed(locale: &Locale, error: ServiceError) -> Response {
    match error {
        ServiceError::NotFound { .. } => closed(locale, StatusCode::NOT_FOUND, Closed::Unknown),
        ServiceError::Gone(_) => closed(locale, StatusCode::GONE, Closed::Expired),
        ServiceError::Conflict { .. } | ServiceError::AlreadyDone(_) => closed(locale, StatusCode::CONFLICT, Closed::Answered),
        ServiceError::Unavailable(_) => closed(locale, StatusCode::SERVICE_UNAVAILABLE, Closed::Unavailable),
        other => {
            tracing::error!(error = %other, "survey page failed");
            closed(locale, StatusCode::INTERNAL_SERVER_ERROR, Closed::Unavailable)
        }
    }
}
