//! A ticket's whole recorded life, built by applying its changes one after the other in memory,
//! so that it can be written at once (the bulk path of `steward seed`). Applying a [`Change`]
//! here has the effect storage gives it one transaction at a time: the same state, timeline,
//! clocks, alerts and side records.

use super::event::{Actor, EventData};
use super::feedback::{Review, Survey};
use super::ids::{ClockId, TicketId};
use super::partner::Delegation;
use super::sla_engine::TicketClock;
use super::ticket::{Change, SideWrite, Ticket};
use super::time::Timestamp;
use std::sync::Arc;

/// One timeline entry; its sequence number is its position (from 1).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    pub at: Timestamp,
    pub actor: Arc<Actor>,
    pub data: EventData,
}

/// An SLA alert recorded once per clock and level.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryAlert {
    pub clock_id: ClockId,
    pub level: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TicketHistory {
    pub ticket: Ticket,
    pub events: Vec<HistoryEvent>,
    pub clocks: Vec<TicketClock>,
    pub alerts: Vec<HistoryAlert>,
    pub surveys: Vec<Survey>,
    pub reviews: Vec<Review>,
    pub delegations: Vec<Delegation>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HistoryError {
    #[error("a change of ticket {0} was applied to the history of ticket {1}")]
    OtherTicket(TicketId, TicketId),
    #[error("a history holds one ticket: an event on ticket {0} cannot be recorded in it")]
    EventOnOtherTicket(TicketId),
    /// A seeded history imports no mail.
    #[error("a seeded history imports no mail")]
    MailImport,
    #[error("survey {0} is not open on this ticket")]
    NoOpenSurvey(String),
    #[error("the ticket has no active delegation to withdraw")]
    NoActiveDelegation,
    #[error("the ticket is already delegated")]
    AlreadyDelegated,
}

impl TicketHistory {
    /// Starts from the change that opened the ticket (its number already set).
    pub fn open(change: Change, actor: &Arc<Actor>) -> Result<TicketHistory, HistoryError> {
        let mut history = TicketHistory {
            ticket: change.ticket.clone(),
            events: Vec::new(),
            clocks: Vec::new(),
            alerts: Vec::new(),
            surveys: Vec::new(),
            reviews: Vec::new(),
            delegations: Vec::new(),
        };
        let at = change.ticket.created_at;
        history.apply(change, actor, at)?;
        Ok(history)
    }

    /// Applies one change made at `at` by `actor`, as storage would commit it.
    pub fn apply(&mut self, change: Change, actor: &Arc<Actor>, at: Timestamp) -> Result<(), HistoryError> {
        if change.ticket.id != self.ticket.id {
            return Err(HistoryError::OtherTicket(change.ticket.id, self.ticket.id));
        }
        for write in &change.side {
            self.check_side(write)?;
        }
        for clock in change.sla.clocks {
            match self.clocks.iter_mut().find(|c| c.id == clock.id) {
                Some(existing) => *existing = clock,
                None => self.clocks.push(clock),
            }
        }
        // A history is written by one writer: every alert is new, none is claimed twice.
        for alert in &change.sla.alerts {
            self.alerts.push(HistoryAlert { clock_id: alert.clock_id, level: alert.level.clone(), at });
        }
        self.events.extend(change.events.into_iter().map(|data| HistoryEvent { at, actor: actor.clone(), data }));
        for write in change.side {
            match write {
                SideWrite::IssueSurvey(survey) => self.surveys.push(survey),
                SideWrite::AnswerSurvey { token, score, comment, at } => {
                    let survey = self.surveys.iter_mut().find(|s| s.token == token).expect("checked");
                    survey.answered_at = Some(at);
                    survey.score = Some(score);
                    survey.comment = comment;
                }
                SideWrite::RecordReview(review) => self.reviews.push(review),
                SideWrite::Delegate(delegation) => self.delegations.push(delegation),
                SideWrite::WithdrawDelegation { at, .. } => {
                    self.delegations.iter_mut().find(|d| d.withdrawn_at.is_none()).expect("checked").withdrawn_at = Some(at)
                }
                SideWrite::EventOnTicket(..) | SideWrite::MailImported { .. } => unreachable!("refused by check_side"),
            }
        }
        self.ticket = change.ticket;
        Ok(())
    }

    /// The refusals storage would give, checked before anything is applied.
    fn check_side(&self, write: &SideWrite) -> Result<(), HistoryError> {
        match write {
            SideWrite::AnswerSurvey { token, .. } if !self.surveys.iter().any(|s| &s.token == token && s.answered_at.is_none()) => {
                Err(HistoryError::NoOpenSurvey(token.clone()))
            }
            SideWrite::WithdrawDelegation { .. } if !self.delegations.iter().any(|d| d.withdrawn_at.is_none()) => {
                Err(HistoryError::NoActiveDelegation)
            }
            SideWrite::Delegate(_) if self.delegations.iter().any(|d| d.withdrawn_at.is_none()) => Err(HistoryError::AlreadyDelegated),
            SideWrite::EventOnTicket(other, _) => Err(HistoryError::EventOnOtherTicket(*other)),
            SideWrite::MailImported { .. } => Err(HistoryError::MailImport),
            _ => Ok(()),
        }
    }

    /// The token of the newest survey still unanswered.
    pub fn open_survey(&self) -> Option<&str> {
        self.surveys.iter().rev().find(|s| s.answered_at.is_none()).map(|s| s.token.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ActorKind;
    use crate::feedback::Survey;
    use crate::ticket::tests::{draft, with_rules, T0};
    use crate::ticket::Visibility;

    fn opened() -> (TicketHistory, Arc<Actor>) {
        let actor = Arc::new(Actor { kind: ActorKind::System, token_id: None, staff_id: None, name: "test".into() });
        let change = with_rules(|rules| Ticket::open(draft(), rules, T0)).unwrap();
        (TicketHistory::open(change, &actor).unwrap(), actor)
    }

    #[test]
    fn changes_append_to_the_timeline_at_their_instant_and_replace_the_ticket() {
        let (mut history, actor) = opened();
        assert_eq!(history.events.len(), 1);
        let at = T0.plus_millis(60_000);
        let change = history.ticket.comment("On it", Visibility::Public, false, at).unwrap();
        let version = change.ticket.version;
        history.apply(change, &actor, at).unwrap();
        assert_eq!(history.events.len(), 2);
        assert_eq!(history.events[1].at, at);
        assert_eq!(history.ticket.version, version);
    }

    #[test]
    fn side_records_follow_the_rules_storage_enforces() {
        let (mut history, actor) = opened();
        let at = T0.plus_millis(1000);
        let survey = Survey::issue(history.ticket.id, at, 86_400_000);
        let token = survey.token.clone();
        let mut change = history.ticket.record(vec![], at);
        change.side.push(SideWrite::IssueSurvey(survey));
        history.apply(change, &actor, at).unwrap();
        assert_eq!(history.open_survey(), Some(token.as_str()));

        let answer = |token: &str| {
            let mut change = Change::new(history.ticket.clone(), vec![]);
            change.side.push(SideWrite::AnswerSurvey { token: token.to_owned(), score: 5, comment: None, at });
            change
        };
        let (first, second) = (answer(&token), answer(&token));
        history.apply(first, &actor, at).unwrap();
        assert_eq!(history.surveys[0].score, Some(5));
        assert_eq!(history.apply(second, &actor, at), Err(HistoryError::NoOpenSurvey(token)));
        assert_eq!(history.open_survey(), None);

        let withdraw = Change {
            side: vec![SideWrite::WithdrawDelegation { ticket_id: history.ticket.id, at }],
            ..Change::new(history.ticket.clone(), vec![])
        };
        assert_eq!(history.apply(withdraw, &actor, at), Err(HistoryError::NoActiveDelegation));
        let elsewhere = crate::ids::TicketId::new_at(at);
        let on_other = Change {
            side: vec![SideWrite::EventOnTicket(elsewhere, EventData::FollowUpCreated { ticket_id: elsewhere, number: String::new() })],
            ..Change::new(history.ticket.clone(), vec![])
        };
        let events_before = history.events.len();
        assert_eq!(history.apply(on_other, &actor, at), Err(HistoryError::EventOnOtherTicket(elsewhere)));
        assert_eq!(history.events.len(), events_before, "a refused change applies nothing");
    }
}
