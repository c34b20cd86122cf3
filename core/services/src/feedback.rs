//! Satisfaction surveys and quality reviews.

use super::{ServiceError, Services};
use steward_domain::event::{Actor, EventData};
use steward_domain::feedback::{validate_answer, ChecklistItem, Review, ReviewOutcome, Survey, SurveyClosed};
use steward_domain::ids::TicketRef;
use steward_domain::ticket::{Change, SideWrite, Ticket};
use steward_domain::time::Timestamp;
use steward_storage::StoreError;

/// What a survey link shows the customer.
pub struct SurveyView {
    pub survey: Survey,
    pub ticket: Ticket,
}

impl Services {
    /// Issues a survey when a change resolves the ticket.
    pub(super) fn with_survey(&self, before: &Ticket, mut change: Change) -> Change {
        if before.resolved_at.is_none() && change.ticket.resolved_at.is_some() {
            let survey = Survey::issue(change.ticket.id, change.ticket.updated_at, self.survey_valid_ms);
            change.events.push(EventData::SurveyIssued { survey_url: survey.url(), expires_at: survey.expires_at });
            change.side.push(SideWrite::IssueSurvey(survey));
        }
        change
    }

    async fn open_survey(&self, token: &str) -> Result<(Survey, Ticket), ServiceError> {
        let survey = self.store.find_survey(token).await?.ok_or(ServiceError::NotFound { what: "survey" })?;
        let ticket = self.get_ticket(TicketRef::Id(survey.ticket_id)).await?;
        Ok((survey, ticket))
    }

    pub async fn survey(&self, token: &str) -> Result<SurveyView, ServiceError> {
        let (survey, ticket) = self.open_survey(token).await?;
        if let Err(SurveyClosed::Expired) = survey.check_open(Timestamp::now()) {
            return Err(ServiceError::Gone(SurveyClosed::Expired.to_string()));
        }
        Ok(SurveyView { survey, ticket })
    }

    /// Records the customer's answer, once; it becomes an event on the ticket.
    pub async fn answer_survey(&self, token: &str, score: i64, comment: Option<&str>) -> Result<(), ServiceError> {
        let (score, comment) = validate_answer(score, comment)?;
        let (survey, ticket) = self.open_survey(token).await?;
        let now = Timestamp::now();
        match survey.check_open(now) {
            Ok(()) => {}
            Err(SurveyClosed::Answered) => return Err(ServiceError::Conflict { field: None, message: SurveyClosed::Answered.to_string() }),
            Err(SurveyClosed::Expired) => return Err(ServiceError::Gone(SurveyClosed::Expired.to_string())),
        }
        let actor = Actor::customer(&ticket.customer.name);
        let outcome = self
            .store
            .change_ticket(TicketRef::Id(ticket.id), &actor, |t, _clocks| {
                Ok::<_, ServiceError>(plan_survey_answer(t, token, score, comment.clone(), now))
            })
            .await;
        match outcome {
            Ok(Some(result)) => result.map(|(after, events)| {
                self.changes_committed();
                self.metrics.observe_ticket(Some(&ticket), &after, &events)
            }),
            Ok(None) => Err(ServiceError::NotFound { what: "ticket" }),
            Err(StoreError::AlreadyDone(message)) => Err(ServiceError::Conflict { field: None, message: message.into() }),
            Err(e) => Err(e.into()),
        }
    }

    /// Records a quality review of the work in the ticket's current stage.
    pub async fn review_ticket(
        &self,
        reference: TicketRef,
        outcome: ReviewOutcome,
        score: i64,
        checklist: Vec<ChecklistItem>,
        notes: Option<String>,
        actor: &Actor,
    ) -> Result<(Ticket, Review), ServiceError> {
        self.review_ticket_at(reference, None, outcome, score, checklist, notes, actor).await
    }

    /// [`Services::review_ticket`], applied only to `expected_version` when one is given (the
    /// review is of the stage the reviewer saw).
    #[allow(clippy::too_many_arguments)]
    pub async fn review_ticket_at(
        &self,
        reference: TicketRef,
        expected_version: Option<i64>,
        outcome: ReviewOutcome,
        score: i64,
        checklist: Vec<ChecklistItem>,
        notes: Option<String>,
        actor: &Actor,
    ) -> Result<(Ticket, Review), ServiceError> {
        let now = Timestamp::now();
        let mut recorded = None;
        let ticket = self
            .modify_ticket(reference, expected_version, actor, |t| {
                let review = Review::new(t.id, &t.stage, outcome, score, checklist, notes, &actor.name, now)?;
                recorded = Some(review.clone());
                Ok(t.record_review(review, now))
            })
            .await?;
        Ok((ticket, recorded.expect("the rule ran")))
    }
}

/// The change that records a customer's answer to the survey `token` of `t`.
pub fn plan_survey_answer(t: &Ticket, token: &str, score: u8, comment: Option<String>, now: Timestamp) -> Change {
    let mut change = Change::new(t.clone(), vec![EventData::CsatReceived { score, comment: comment.clone() }]);
    change.side.push(SideWrite::AnswerSurvey { token: token.to_owned(), score, comment, at: now });
    change
}
