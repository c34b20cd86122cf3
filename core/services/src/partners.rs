use super::{ServiceError, Services};
use steward_domain::event::{Actor, EventData, RecordedEvent};
use steward_domain::ids::{DelegationId, PartnerId, TicketRef};
use steward_domain::partner::{Delegation, Partner, PartnerInput, PartnerPatch};
use steward_domain::scorecard::{builtin_scorecard, PartnerStats, Sample, Scorecard};
use steward_domain::ticket::{Change, SideWrite, Status, Ticket, Visibility};
use steward_domain::time::Timestamp;
use steward_domain::ValidationError;
use steward_storage::{unique, StoreError};

impl Services {
    pub async fn create_partner(&self, input: PartnerInput) -> Result<Partner, ServiceError> {
        let partner = Partner::create(input, Timestamp::now())?;
        self.check_calendar(&partner)?;
        self.store.insert_partner(&partner).await?;
        Ok(partner)
    }

    fn check_calendar(&self, partner: &Partner) -> Result<(), ServiceError> {
        if let Some(key) = partner.contract.as_ref().and_then(|c| c.calendar.as_deref()) {
            if !self.sla_catalog().calendars.contains_key(key) {
                return Err(ServiceError::Missing { field: "contract.calendar", message: format!("no calendar `{key}`") });
            }
        }
        Ok(())
    }

    pub async fn get_partner(&self, id: PartnerId) -> Result<Partner, ServiceError> {
        self.store.get_partner(id).await?.ok_or(ServiceError::NotFound { what: "partner" })
    }

    pub async fn list_partners(&self) -> Result<Vec<Partner>, ServiceError> {
        Ok(self.store.list_partners().await?)
    }

    pub async fn update_partner(&self, id: PartnerId, patch: PartnerPatch) -> Result<Partner, ServiceError> {
        let next = self.get_partner(id).await?.apply(patch, Timestamp::now())?;
        self.check_calendar(&next)?;
        if !self.store.update_partner(&next).await? {
            return Err(ServiceError::NotFound { what: "partner" });
        }
        Ok(next)
    }

    pub async fn delete_partner(&self, id: PartnerId) -> Result<(), ServiceError> {
        match self.store.delete_partner(id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ServiceError::NotFound { what: "partner" }),
            Err(StoreError::ForeignKey) => Err(ServiceError::Conflict {
                field: None,
                message: "delegations or tokens still refer to this partner; set status to suspended instead".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Hands a ticket to a partner and starts the partner's OLA clock (due times on the
    /// contract's calendar). A suspended partner or one without a contract in force → 422.
    pub async fn delegate_ticket(
        &self,
        reference: TicketRef,
        partner_id: PartnerId,
        note: Option<String>,
        actor: &Actor,
    ) -> Result<Ticket, ServiceError> {
        self.delegate_ticket_at(reference, None, partner_id, note, actor).await
    }

    /// [`Services::delegate_ticket`], applied only to `expected_version` when one is given
    /// (a stale one is [`ServiceError::StaleVersion`]): the console's forms carry the version
    /// they were rendered from.
    pub async fn delegate_ticket_at(
        &self,
        reference: TicketRef,
        expected_version: Option<i64>,
        partner_id: PartnerId,
        note: Option<String>,
        actor: &Actor,
    ) -> Result<Ticket, ServiceError> {
        let partner = self
            .store
            .get_partner(partner_id)
            .await?
            .ok_or_else(|| ServiceError::Missing { field: "partner_id", message: format!("no partner {partner_id}") })?;
        let now = Timestamp::now();
        if let Some(why) = partner.refuses_work(now) {
            // The partner exists but cannot take work as it stands (suspended, out of contract).
            return Err(ServiceError::Conflict { field: Some("partner_id"), message: why.to_string() });
        }
        let outcome = self.modify_ticket(reference, expected_version, actor, |t| self.plan_delegation(t, &partner, note, now)).await;
        match outcome {
            Err(ServiceError::Duplicate { constraint }) if constraint == unique::ACTIVE_DELEGATION => Err(ServiceError::Conflict {
                field: None,
                message: "the ticket is already delegated; take it back first (DELETE …/delegation)".into(),
            }),
            other => other,
        }
    }

    /// The change that hands `t` to `partner` (which takes work) at `now`, with the partner's
    /// OLA due times on the contract's calendar.
    pub fn plan_delegation(&self, t: &Ticket, partner: &Partner, note: Option<String>, now: Timestamp) -> Result<Change, ServiceError> {
        if t.is_done() {
            return Err(ServiceError::Conflict {
                field: Some("status"),
                message: format!("the ticket is {}; only open work can be delegated", t.status),
            });
        }
        let contract = partner.contract.as_ref().expect("a partner that takes work has a contract");
        let calendar = self.sla_catalog().calendar(contract.calendar.as_deref());
        let first_response_due_at = calendar.add_business_millis(now, contract.first_response.as_millis());
        let resolution_due_at = calendar.add_business_millis(now, contract.resolution.as_millis());
        let delegation = Delegation {
            id: DelegationId::new_at(now),
            ticket_id: t.id,
            partner_id: partner.id,
            note: note.clone(),
            delegated_at: now,
            first_response_due_at,
            resolution_due_at,
            withdrawn_at: None,
        };
        let mut events = vec![EventData::Delegated {
            delegation_id: delegation.id,
            partner_id: partner.id,
            partner_name: partner.name.clone(),
            note,
            first_response_due_at,
            resolution_due_at,
        }];
        let mut next = t.clone();
        if self.waiting_partner_on_delegation && t.status != Status::WaitingPartner {
            events.push(EventData::StatusChanged { from: t.status, to: Status::WaitingPartner });
            next.status = Status::WaitingPartner;
        }
        let mut change = next.record(events, now);
        change.side.push(SideWrite::Delegate(delegation));
        Ok(change)
    }

    /// Takes a ticket back from its partner.
    pub async fn withdraw_delegation(&self, reference: TicketRef, actor: &Actor) -> Result<Ticket, ServiceError> {
        let ticket = self.get_ticket(reference).await?;
        let delegation = self.store.active_delegation(ticket.id).await?.ok_or(ServiceError::NotFound { what: "delegation" })?;
        let waiting = self.waiting_partner_on_delegation;
        let outcome = self
            .modify_ticket(TicketRef::Id(ticket.id), None, actor, |t| {
                let now = Timestamp::now();
                let mut events = vec![EventData::DelegationWithdrawn { delegation_id: delegation.id, partner_id: delegation.partner_id }];
                let mut next = t.clone();
                if waiting && t.status == Status::WaitingPartner {
                    events.push(EventData::StatusChanged { from: t.status, to: Status::Open });
                    next.status = Status::Open;
                }
                let mut change = next.record(events, now);
                change.side.push(SideWrite::WithdrawDelegation { ticket_id: t.id, at: now });
                Ok(change)
            })
            .await;
        match outcome {
            Err(ServiceError::AlreadyDone(_)) => Err(ServiceError::NotFound { what: "delegation" }),
            other => other,
        }
    }

    /// The partner a ticket is delegated to now, if any.
    pub async fn active_delegation(&self, ticket: steward_domain::ids::TicketId) -> Result<Option<Delegation>, ServiceError> {
        Ok(self.store.active_delegation(ticket).await?)
    }

    /// The ticket, as the caller may see it: a partner sees only tickets actively delegated to
    /// it, and any other ticket does not exist for it (404, never 403: existence is not leaked).
    pub async fn ticket_for(&self, reference: TicketRef, partner: Option<PartnerId>) -> Result<Ticket, ServiceError> {
        let ticket = self.get_ticket(reference).await?;
        if let Some(partner) = partner {
            match self.store.active_delegation(ticket.id).await? {
                Some(d) if d.partner_id == partner => {}
                _ => return Err(ServiceError::NotFound { what: "ticket" }),
            }
        }
        Ok(ticket)
    }

    /// A ticket's timeline as the caller may see it: a partner never sees internal comments,
    /// nor the customer's survey link (whoever holds it can answer the survey, and the answer
    /// feeds the partner's own scorecard).
    pub async fn ticket_events_for(
        &self,
        reference: TicketRef,
        partner: Option<PartnerId>,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, ServiceError> {
        let ticket = self.ticket_for(reference, partner).await?;
        let mut events = self.store.list_events(ticket.id, after_seq, limit).await?;
        if partner.is_some() {
            // Pages may come out shorter than asked; the cursor still moves by seq.
            let internal = serde_json::to_value(Visibility::Internal).expect("serialises");
            let private_kinds = ["comment_added", "attachment_added", "attachment_deleted"];
            events.retain(|e| !(private_kinds.contains(&e.kind.as_str()) && e.data["visibility"] == internal));
            for event in events.iter_mut().filter(|e| e.kind == "survey_issued") {
                if let Some(data) = event.data.as_object_mut() {
                    data.remove("survey_url");
                }
            }
        }
        Ok(events)
    }
}

/// A partner's scorecard (built-in, or one a plugin computes) and the statistics it was
/// computed from.
pub struct PartnerScorecard {
    pub partner: Partner,
    pub stats: PartnerStats,
    /// `builtin`, or the name of a plugin scorecard.
    pub name: String,
    pub scorecard: Scorecard,
    /// The evidence against the minimum a rating needs; below it the scorecard is `unrated`.
    pub sample: Sample,
    /// Why the plugin computing this scorecard gave no answer (in a ranking, where the other
    /// partners' entries stand); None when it answered.
    pub error: Option<String>,
}

pub const BUILTIN_SCORECARD: &str = "builtin";

impl Services {
    /// Statistics over delegations made in `[from, to)`; a `to` at or before `from` is an
    /// empty window.
    pub async fn partner_stats(&self, id: PartnerId, from: Timestamp, to: Timestamp) -> Result<PartnerStats, ServiceError> {
        self.get_partner(id).await?;
        let to = to.max(from);
        Ok(self.store.partner_stats(id, from, to, Timestamp::now()).await?)
    }

    /// The window used when a request names none: the last `partners.scorecard_window_days`.
    pub fn default_scorecard_window(&self) -> (Timestamp, Timestamp) {
        let now = Timestamp::now();
        (now.plus_millis(-super::days_ms(self.scorecard_window_days)), now.plus_millis(1))
    }

    pub async fn partner_scorecard(
        &self,
        id: PartnerId,
        from: Timestamp,
        to: Timestamp,
        name: Option<&str>,
    ) -> Result<PartnerScorecard, ServiceError> {
        let partner = self.get_partner(id).await?;
        let stats = self.partner_stats(id, from, to).await?;
        self.score(partner, stats, name, from, to).await
    }

    /// Every partner's scorecard, best first (unrated ones last).
    pub async fn rank_partners(&self, from: Timestamp, to: Timestamp, name: Option<&str>) -> Result<Vec<PartnerScorecard>, ServiceError> {
        let mut out = Vec::new();
        for partner in self.store.list_partners().await? {
            let stats = self.partner_stats(partner.id, from, to).await?;
            let (kept_partner, kept_stats) = (partner.clone(), stats.clone());
            match self.score(partner, stats, name, from, to).await {
                Ok(card) => out.push(card),
                // One partner's failed plugin call does not hide the others' scores.
                Err(ServiceError::PluginFailed { plugin, detail }) => out.push(PartnerScorecard {
                    sample: Sample::of(&kept_stats, self.scorecard_minimum_sample),
                    partner: kept_partner,
                    stats: kept_stats,
                    name: name.unwrap_or(BUILTIN_SCORECARD).to_owned(),
                    scorecard: unrated(),
                    error: Some(format!("plugin `{plugin}` failed: {detail}")),
                }),
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| b.scorecard.score.unwrap_or(-1.0).total_cmp(&a.scorecard.score.unwrap_or(-1.0)));
        Ok(out)
    }

    /// The built-in scorecard, or a plugin's computed from the same statistics.
    async fn score(
        &self,
        partner: Partner,
        stats: PartnerStats,
        name: Option<&str>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<PartnerScorecard, ServiceError> {
        let name = name.unwrap_or(BUILTIN_SCORECARD);
        let sample = Sample::of(&stats, self.scorecard_minimum_sample);
        if name == BUILTIN_SCORECARD {
            let scorecard = sample.withhold(builtin_scorecard(&stats, &self.scorecard_weights));
            return Ok(PartnerScorecard { partner, stats, name: name.to_owned(), scorecard, sample, error: None });
        }
        let declared = self.plugin_host().map(|h| h.scorecards()).unwrap_or_default();
        let plugin = declared.iter().find(|(_, s)| s.name == name).map(|(p, _)| p.clone()).unwrap_or_default();
        let known: Vec<String> = declared.into_iter().map(|(_, s)| s.name).collect();
        let Some(host) = self.plugin_host().filter(|_| known.iter().any(|k| k == name)).cloned() else {
            let mut names = vec![BUILTIN_SCORECARD.to_owned()];
            names.extend(known);
            return Err(ValidationError::field("scorecard", format!("`{name}` is not one of: {}", names.join(", "))).into());
        };
        // Too little data: the same `unrated` as the built-in one, and the plugin is not asked.
        if sample.unrated_reason().is_some() {
            return Ok(PartnerScorecard { partner, stats, name: name.to_owned(), scorecard: unrated(), sample, error: None });
        }
        let input = steward_plugin_host::PartnerStats {
            partner_id: partner.id.to_string(),
            partner_name: partner.name.clone(),
            window_start: from.as_millis(),
            window_end: to.as_millis(),
            now: Timestamp::now().as_millis(),
            jobs: u32::try_from(stats.delegated).unwrap_or(u32::MAX),
            on_time: u32::try_from(stats.ola_met).unwrap_or(u32::MAX),
            csat_responses: u32::try_from(stats.csat_answers).unwrap_or(u32::MAX),
            csat_average: stats.csat_mean,
            complaints: u32::try_from(stats.complaints).unwrap_or(u32::MAX),
            reopens: u32::try_from(stats.reopens).unwrap_or(u32::MAX),
        };
        let failed = |detail: String| ServiceError::PluginFailed { plugin: plugin.clone(), detail };
        let card = match host.score_partner_async(name.to_owned(), input).await {
            Ok(Some(card)) => card,
            // "No data" is an answer: the partner is unrated by this scorecard.
            Err(steward_plugin_host::HostError::NoData { .. }) => {
                return Ok(PartnerScorecard { partner, stats, name: name.to_owned(), scorecard: unrated(), sample, error: None })
            }
            Ok(None) => return Err(failed("its score-partner hook failed; see its last error in /api/v1/plugins".to_owned())),
            Err(steward_plugin_host::HostError::Failed { error, .. }) => return Err(failed(error.to_string())),
            Err(steward_plugin_host::HostError::NotEnabled { .. }) => {
                return Err(failed("it is not enabled (an admin enables it in /api/v1/plugins)".to_owned()))
            }
            Err(e) => return Err(ServiceError::Plugin(e.to_string())),
        };
        let scorecard = Scorecard {
            score: Some(card.score),
            grade: card.grade,
            components: card
                .breakdown
                .into_iter()
                .map(|item| steward_domain::scorecard::Component {
                    name: item.criterion,
                    weight: item.weight,
                    score: Some(item.score),
                    inputs: Vec::new(),
                })
                .collect(),
        };
        Ok(PartnerScorecard { partner, stats, name: name.to_owned(), scorecard, sample, error: None })
    }
}

/// A scorecard without a score: no data to rate from, or no answer from its plugin.
fn unrated() -> Scorecard {
    Scorecard { score: None, grade: steward_domain::scorecard::grade(None).to_owned(), components: Vec::new() }
}
