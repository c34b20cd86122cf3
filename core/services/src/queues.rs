//! Queues: the console's built-in views over the ticket list (sorted by SLA due), their counts
//! from the maintained counters, each row's clock countdowns, and bulk actions that report per
//! ticket.

use crate::{ServiceError, Services};
use steward_domain::auth::{Forbidden, Permission, Principal, Role};
use steward_domain::clock::{ClockKind, ClockState};
use steward_domain::ids::{PartnerId, SavedViewId, StaffId, TicketRef};
use steward_domain::queue::{assignee_key, BuiltInView, SavedView, SlaBand};
use steward_domain::staff::StaffQuery;
use steward_domain::ticket::{Priority, Status, Ticket, TicketPatch, TicketQuery, TicketSort};
use steward_domain::time::Timestamp;

/// One SLA clock of a queue row, as the countdown shows it.
#[derive(Debug, Clone)]
pub struct Countdown {
    pub kind: ClockKind,
    pub stage: Option<String>,
    pub state: ClockState,
    /// While running: when the target is reached (wall time).
    pub due_at: Option<Timestamp>,
    /// Business milliseconds left now; negative once breached.
    pub remaining_ms: i64,
    /// The sweeper recorded the warning: the clock is at risk.
    pub at_risk: bool,
}

pub struct QueueRow {
    pub ticket: Ticket,
    /// The assignee's name, when the ticket has one who is still a staff member.
    pub assignee_name: Option<String>,
    pub countdowns: Vec<Countdown>,
}

pub struct QueuePage {
    pub rows: Vec<QueueRow>,
    /// The keyset to continue after (`due key` and id of the last row), when more may follow.
    pub next: Option<(i64, steward_domain::ids::TicketId)>,
}

/// The outcome of one ticket of a bulk action.
pub struct BulkOutcome {
    pub reference: String,
    pub result: Result<Ticket, ServiceError>,
}

/// A bulk action, applied to each selected ticket through the single-ticket services.
#[derive(Debug, Clone)]
pub enum BulkAction {
    Assign(Option<StaffId>),
    Move(String),
    Priority(Priority),
    AddTag(String),
}

/// Tickets per backfill step: each step is one write transaction, short enough that writers
/// waiting behind it (on SQLite, every writer) are not held up noticeably.
pub const QUEUE_BACKFILL_BATCH: u32 = 500;

impl Services {
    /// Brings the queue state of tickets written before it was kept (migration 0009) up to
    /// date: steps of `batch` tickets until done, resuming where an earlier run stopped, then
    /// the counters rebuilt from the tickets. Progress is logged. Run at start-up after the
    /// SLA catalog is loaded (clocks' due times need their calendars); when the work is done
    /// it costs one row read. Returns how many tickets it went through.
    pub async fn backfill_queue_state(&self, batch: u32) -> Result<usize, ServiceError> {
        let cursor = self.store.queue_backfill_cursor().await?;
        if cursor.done {
            return Ok(0);
        }
        let started = std::time::Instant::now();
        tracing::info!(resuming_after = ?cursor.after, "queue-state backfill: starting");
        let (mut tickets, mut corrected, mut logged) = (0, 0, started);
        loop {
            let step = self.backfill_queue_batch(batch).await?;
            tickets += step.tickets;
            corrected += step.corrected;
            if step.done {
                break;
            }
            if logged.elapsed() >= std::time::Duration::from_secs(5) {
                tracing::info!(tickets, corrected, "queue-state backfill: in progress");
                logged = std::time::Instant::now();
            }
        }
        tracing::info!(
            tickets,
            corrected,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "queue-state backfill: done, counters rebuilt"
        );
        Ok(tickets)
    }

    /// One step of [`Services::backfill_queue_state`] (tests stop between steps).
    pub async fn backfill_queue_batch(&self, batch: u32) -> Result<steward_storage::queues::BackfillStep, ServiceError> {
        Ok(self.store.backfill_queue_state(batch, &self.sla_catalog()).await?)
    }

    /// Where the queue-state backfill stands.
    pub async fn queue_backfill_cursor(&self) -> Result<steward_storage::queues::BackfillCursor, ServiceError> {
        Ok(self.store.queue_backfill_cursor().await?)
    }

    /// Which tickets a view shows, for this caller: the view's filter laid over `filters`.
    /// A partner's technician sees only its partner's delegated tickets, whatever the view.
    /// `Ok(None)`: the view is empty for this caller (e.g. "my team" without a team).
    pub async fn view_query(
        &self,
        principal: &Principal,
        view: Option<BuiltInView>,
        mut filters: TicketQuery,
    ) -> Result<Option<TicketQuery>, ServiceError> {
        let partner = principal.require_ticket_access(Permission::ReadTickets, Permission::ReadDelegatedTickets)?;
        filters.delegated_to = partner;
        filters.sort = TicketSort::SlaDue;
        let Some(view) = view else { return Ok(Some(filters)) };
        match view {
            BuiltInView::Mine => match principal.staff_id {
                Some(me) => {
                    filters.assignee = Some(me);
                    filters.active_only = true;
                }
                None => return Ok(None),
            },
            BuiltInView::MyTeam => match self.team_of(principal).await? {
                Some(team) => {
                    filters.team = Some(team);
                    filters.active_only = true;
                }
                None => return Ok(None),
            },
            BuiltInView::Unassigned => {
                filters.unassigned = true;
                filters.active_only = true;
            }
            BuiltInView::AtRisk => {
                filters.band = Some(SlaBand::AtRisk);
                filters.active_only = true;
            }
            BuiltInView::Breached => {
                filters.band = Some(SlaBand::Breached);
                filters.active_only = true;
            }
            BuiltInView::WaitingCustomer => filters.status = Some(Status::WaitingCustomer),
            BuiltInView::WaitingPartner => filters.status = Some(Status::WaitingPartner),
            BuiltInView::Delegated => {
                filters.delegated = true;
                filters.active_only = true;
            }
        }
        Ok(Some(filters))
    }

    async fn team_of(&self, principal: &Principal) -> Result<Option<String>, ServiceError> {
        match principal.staff_id {
            Some(me) => Ok(self.get_staff(me).await?.team),
            None => Ok(None),
        }
    }

    /// The views this caller may open: a partner's technician has only "delegated".
    pub fn views_for(principal: &Principal) -> Vec<BuiltInView> {
        if principal.partner_id.is_some() && principal.require(Permission::ReadTickets).is_err() {
            vec![BuiltInView::Delegated]
        } else {
            BuiltInView::ALL.to_vec()
        }
    }

    /// One page of a queue (a query from [`Services::view_query`]), each row with its clocks.
    pub async fn queue_page(&self, query: TicketQuery) -> Result<QueuePage, ServiceError> {
        let limit = query.limit as usize;
        let mut query = query;
        query.sort = TicketSort::SlaDue;
        query.limit += 1;
        let mut found = self.store.list_queue(&query).await?;
        let next = if found.len() > limit {
            found.truncate(limit);
            found.last().map(|(t, due)| (*due, t.id))
        } else {
            None
        };
        let ids: Vec<_> = found.iter().map(|(t, _)| t.id).collect();
        let mut assignees: Vec<_> = found.iter().filter_map(|(t, _)| t.assignee).collect();
        assignees.sort();
        assignees.dedup();
        let (clocks, names) = tokio::try_join!(self.store.clocks_of_tickets(&ids), self.store.staff_names(&assignees))?;
        let catalog = self.sla_catalog();
        let now = self.now();
        let rows = found
            .into_iter()
            .map(|(ticket, _)| {
                let countdowns = clocks
                    .iter()
                    .filter(|c| c.ticket_id == ticket.id && !c.clock.is_stopped())
                    .map(|c| {
                        let calendar = catalog.calendar_of(c);
                        Countdown {
                            kind: c.clock.kind,
                            stage: c.stage.clone(),
                            state: c.clock.state_at(&calendar, now),
                            due_at: c.due_at,
                            remaining_ms: c.clock.remaining_at(&calendar, now),
                            at_risk: c.alerted.iter().any(|a| a == "warning"),
                        }
                    })
                    .collect();
                let assignee_name = ticket.assignee.and_then(|a| names.get(&a).cloned());
                QueueRow { ticket, assignee_name, countdowns }
            })
            .collect();
        Ok(QueuePage { rows, next })
    }

    /// The count of each view for this caller, from the counters (never a count over tickets).
    pub async fn view_counts(&self, principal: &Principal) -> Result<Vec<(BuiltInView, i64)>, ServiceError> {
        let partner = principal.require_ticket_access(Permission::ReadTickets, Permission::ReadDelegatedTickets)?;
        // Every view's keys first, then one read of all of them: one round trip per page.
        let mut keyed = Vec::new();
        for view in Services::views_for(principal) {
            keyed.push((view, self.counter_keys_of(principal, partner, view).await?));
        }
        let mut all: Vec<String> = keyed.iter().flat_map(|(_, keys)| keys.iter().cloned()).collect();
        all.sort();
        all.dedup();
        let counts = self.store.queue_counts(&all).await?;
        Ok(keyed.into_iter().map(|(view, keys)| (view, keys.iter().map(|k| counts.get(k).copied().unwrap_or(0)).sum())).collect())
    }

    async fn counter_keys_of(
        &self,
        principal: &Principal,
        partner: Option<PartnerId>,
        view: BuiltInView,
    ) -> Result<Vec<String>, ServiceError> {
        Ok(match view {
            BuiltInView::Mine => principal.staff_id.map(|me| vec![assignee_key(me)]).unwrap_or_default(),
            BuiltInView::MyTeam => match self.team_of(principal).await? {
                Some(team) => {
                    let mut keys = Vec::new();
                    let mut after = None;
                    loop {
                        let query = StaffQuery { team: Some(team.clone()), after, limit: 200, ..Default::default() };
                        let (staff, next) = self.list_staff(query).await?;
                        keys.extend(staff.iter().map(|s| assignee_key(s.id)));
                        match next {
                            Some(_) => after = staff.last().map(|s| s.id),
                            None => break,
                        }
                    }
                    keys
                }
                None => Vec::new(),
            },
            BuiltInView::Delegated => match partner {
                Some(p) => vec![format!("delegated:{p}")],
                None => vec!["delegated".to_owned()],
            },
            other => vec![other.as_str().to_owned()],
        })
    }

    /// Folds pending counter deltas (the background pass; tests call it directly).
    pub async fn fold_queue_counts(&self, batch: u32) -> Result<usize, ServiceError> {
        Ok(self.store.fold_queue_counts(batch).await?)
    }

    /// Applies `action` to each ticket (`reference`, the version the person saw) through the
    /// same services and checks as the single-ticket API; each ticket succeeds or fails alone.
    pub async fn bulk_apply(&self, principal: &Principal, action: &BulkAction, tickets: &[(TicketRef, i64)]) -> Vec<BulkOutcome> {
        let mut out = Vec::with_capacity(tickets.len());
        for &(reference, version) in tickets {
            let result = self.bulk_one(principal, action, reference, version).await;
            out.push(BulkOutcome { reference: reference.to_string(), result });
        }
        out
    }

    async fn bulk_one(
        &self,
        principal: &Principal,
        action: &BulkAction,
        reference: TicketRef,
        version: i64,
    ) -> Result<Ticket, ServiceError> {
        let actor = principal.actor();
        match action {
            BulkAction::Move(to) => {
                let partner = principal.require_ticket_access(Permission::WriteTickets, Permission::WorkDelegatedTickets)?;
                self.ticket_for(reference, partner).await?;
                self.transition_ticket(reference, to, None, Some(version), None, &actor).await
            }
            other => {
                principal.require(Permission::WriteTickets)?;
                let mut patch = TicketPatch::default();
                match other {
                    BulkAction::Assign(a) => patch.assignee = Some(*a),
                    BulkAction::Priority(p) => patch.priority = Some(*p),
                    BulkAction::AddTag(tag) => {
                        let current = self.get_ticket(reference).await?;
                        let mut tags = current.tags.clone();
                        tags.push(tag.clone());
                        patch.tags = Some(tags);
                    }
                    BulkAction::Move(_) => unreachable!("handled above"),
                }
                self.update_ticket(reference, Some(version), patch, None, &actor).await
            }
        }
    }
}

impl Services {
    /// Saves a view for the caller. Only a supervisor or an admin may share one.
    pub async fn save_view(&self, principal: &Principal, name: &str, filters: &str, shared: bool) -> Result<SavedView, ServiceError> {
        principal.require_ticket_access(Permission::ReadTickets, Permission::ReadDelegatedTickets)?;
        let Some(owner) = principal.staff_id else {
            return Err(ServiceError::NotFound { what: "staff member" });
        };
        if shared && !may_share(principal) {
            return Err(ServiceError::Forbidden(Forbidden { role: principal.role, action: "share a queue view" }));
        }
        let view = SavedView::new(owner, name, filters, shared, self.now()).map_err(|e| ServiceError::Invalid(e.into()))?;
        self.store.insert_saved_view(&view).await?;
        Ok(view)
    }

    /// The caller's own views and the shared ones.
    pub async fn saved_views(&self, principal: &Principal) -> Result<Vec<SavedView>, ServiceError> {
        Ok(self.store.saved_views_for(principal.staff_id).await?)
    }

    /// Deletes a view: its owner may, and a supervisor or an admin may delete a shared one.
    pub async fn delete_view(&self, principal: &Principal, id: SavedViewId) -> Result<(), ServiceError> {
        let view = self.store.get_saved_view(id).await?.ok_or(ServiceError::NotFound { what: "view" })?;
        let own = principal.staff_id == Some(view.owner);
        if !(own || view.shared && may_share(principal)) {
            return Err(ServiceError::NotFound { what: "view" });
        }
        self.store.delete_saved_view(id).await?;
        Ok(())
    }
}

fn may_share(principal: &Principal) -> bool {
    matches!(principal.role, Role::Supervisor | Role::Admin)
}
