//! Queues: the state a ticket shows in the console's lists (its SLA band and soonest due time),
//! the built-in views, and which view counters a ticket counts in.
//!
//! The band and the due time are derived from the ticket's clocks as stored, so they move when
//! a write or the SLA sweeper changes a clock, never by reading the clock against "now": the
//! queue's "at risk" and "breached" are what the sweeper has recorded.

use super::ids::{PartnerId, StaffId};
use super::sla_engine::TicketClock;
use super::string_enum;
use super::ticket::Status;
use super::time::Timestamp;

string_enum! {
    /// How a ticket's SLA stands, for the queue's colour band.
    pub enum SlaBand {
        /// No clock is running or paused.
        None => "none",
        /// Clocks run within their targets.
        Ok => "ok",
        /// A running clock's warning has been recorded.
        AtRisk => "at_risk",
        /// A clock still counting (running or paused) has breached.
        Breached => "breached",
        /// Every clock still counting is paused.
        Paused => "paused",
    }
}

/// The due key of a ticket without a running clock: after every real instant, so a single
/// index on (due key, id) orders the queue and tickets without a due time come last.
pub const NO_DUE: i64 = i64::MAX;

/// What a ticket shows in queues, derived from its clocks and delegation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueState {
    pub band: SlaBand,
    /// The soonest due instant of a running clock; None when none runs.
    pub due_at: Option<Timestamp>,
    /// The partner the ticket is actively delegated to.
    pub delegated_to: Option<PartnerId>,
}

impl QueueState {
    /// The stored sort key: the due instant, or [`NO_DUE`].
    pub fn due_key(&self) -> i64 {
        self.due_at.map_or(NO_DUE, Timestamp::as_millis)
    }

    pub fn of(clocks: &[TicketClock], delegated_to: Option<PartnerId>) -> QueueState {
        let counting: Vec<&TicketClock> = clocks.iter().filter(|c| !c.clock.is_stopped()).collect();
        let running = || counting.iter().filter(|c| c.clock.is_running());
        let band = if counting.iter().any(|c| c.clock.breached_at.is_some()) {
            SlaBand::Breached
        } else if running().any(|c| c.alerted.iter().any(|a| a == "warning")) {
            SlaBand::AtRisk
        } else if running().next().is_some() {
            SlaBand::Ok
        } else if !counting.is_empty() {
            SlaBand::Paused
        } else {
            SlaBand::None
        };
        QueueState { band, due_at: running().filter_map(|c| c.due_at).min(), delegated_to }
    }
}

/// Statuses a ticket is still worked in (queues of work show only these).
pub fn is_active(status: Status) -> bool {
    !matches!(status, Status::Resolved | Status::Closed)
}

string_enum! {
    /// The console's built-in queue views.
    pub enum BuiltInView {
        Mine => "mine",
        MyTeam => "team",
        Unassigned => "unassigned",
        AtRisk => "at_risk",
        Breached => "breached",
        WaitingCustomer => "waiting_customer",
        WaitingPartner => "waiting_partner",
        Delegated => "delegated",
    }
}

/// The prefix of the per-assignee counters: `assignee:<staff id>` counts one person's open tickets.
pub const ASSIGNEE_KEY_PREFIX: &str = "assignee:";

/// The counter of one person's open (not resolved or closed) tickets.
pub fn assignee_key(staff: StaffId) -> String {
    format!("{ASSIGNEE_KEY_PREFIX}{staff}")
}

/// The counter keys a ticket counts under. Counts per view are sums of these keys' counters
/// (a team's count is the sum of its members' `assignee:` keys), so a ticket's write changes
/// only the counters of the keys it enters or leaves.
pub fn counter_keys(status: Status, assignee: Option<StaffId>, state: &QueueState) -> Vec<String> {
    let mut keys = Vec::new();
    if is_active(status) {
        keys.push(match assignee {
            Some(a) => assignee_key(a),
            None => "unassigned".to_owned(),
        });
        match state.band {
            SlaBand::AtRisk => keys.push("at_risk".to_owned()),
            SlaBand::Breached => keys.push("breached".to_owned()),
            _ => {}
        }
        if let Some(p) = state.delegated_to {
            keys.push("delegated".to_owned());
            keys.push(format!("delegated:{p}"));
        }
    }
    match status {
        Status::WaitingCustomer => keys.push("waiting_customer".to_owned()),
        Status::WaitingPartner => keys.push("waiting_partner".to_owned()),
        _ => {}
    }
    keys
}

/// The counter changes (key, +1/-1) when a ticket goes from `before` keys to `after` keys.
pub fn counter_deltas(before: &[String], after: &[String]) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = before.iter().filter(|k| !after.contains(k)).map(|k| (k.clone(), -1)).collect();
    out.extend(after.iter().filter(|k| !before.contains(k)).map(|k| (k.clone(), 1)));
    out
}

/// Every counter's value from scratch, given how many tickets stand in each combination of
/// status, assignee and queue state (the counters' rebuild after the queue-state backfill):
/// each combination counts under its [`counter_keys`], so the rebuild and the deltas of every
/// write agree on what a ticket counts under. Keys no ticket counts under are absent.
pub fn counter_totals<'a>(groups: impl IntoIterator<Item = (Status, Option<StaffId>, &'a QueueState, i64)>) -> Vec<(String, i64)> {
    let mut totals = std::collections::BTreeMap::<String, i64>::new();
    for (status, assignee, state, n) in groups {
        for key in counter_keys(status, assignee, state) {
            *totals.entry(key).or_default() += n;
        }
    }
    totals.into_iter().filter(|(_, n)| *n != 0).collect()
}

/// A named filter set a person saved from the queues: personal, or shared with everyone by a
/// supervisor or an admin. `filters` is the queue's query string as the page built it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedView {
    pub id: super::ids::SavedViewId,
    pub owner: StaffId,
    pub name: String,
    pub filters: String,
    pub shared: bool,
    pub created_at: Timestamp,
}

pub const MAX_VIEW_NAME_CHARS: usize = 80;
pub const MAX_VIEW_FILTER_BYTES: usize = 2048;

impl SavedView {
    /// A new view, its name and filters checked (the name 1 to 80 characters, no control
    /// characters; the filters a query string of at most 2 KiB).
    pub fn new(owner: StaffId, name: &str, filters: &str, shared: bool, now: Timestamp) -> Result<SavedView, crate::FieldError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_VIEW_NAME_CHARS {
            return Err(crate::FieldError::new("name", format!("must be 1 to {MAX_VIEW_NAME_CHARS} characters")));
        }
        if name.chars().any(char::is_control) {
            return Err(crate::FieldError::new("name", "must not contain control characters"));
        }
        let filters = filters.trim().trim_start_matches('?');
        if filters.len() > MAX_VIEW_FILTER_BYTES || filters.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(crate::FieldError::new("filters", "not a query string of the queues"));
        }
        Ok(SavedView {
            id: super::ids::SavedViewId::new_at(now),
            owner,
            name: name.to_owned(),
            filters: filters.to_owned(),
            shared,
            created_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ClockKind};
    use crate::ids::TicketId;

    fn clock(now: Timestamp) -> TicketClock {
        let mut c = TicketClock::new(TicketId::new_at(now), None, None, Clock::start(ClockKind::Resolution, 60_000, "always", now), now);
        c.due_at = Some(now.plus_millis(60_000));
        c
    }

    #[test]
    fn the_band_follows_what_the_sweeper_recorded() {
        let now = Timestamp::from_millis(1_800_000_000_000);
        assert_eq!(QueueState::of(&[], None).band, SlaBand::None);
        let ok = clock(now);
        let state = QueueState::of(std::slice::from_ref(&ok), None);
        assert_eq!((state.band, state.due_at), (SlaBand::Ok, Some(now.plus_millis(60_000))));
        let mut warned = ok.clone();
        warned.alerted.push("warning".into());
        assert_eq!(QueueState::of(&[ok.clone(), warned.clone()], None).band, SlaBand::AtRisk);
        let mut breached = warned.clone();
        breached.clock.mark_breached(now);
        assert_eq!(QueueState::of(&[ok.clone(), breached.clone()], None).band, SlaBand::Breached);
        let mut stopped = breached;
        stopped.clock.stopped_at = Some(now);
        assert_eq!(QueueState::of(&[ok, stopped.clone()], None).band, SlaBand::Ok, "a stopped clock no longer counts");
        assert_eq!(QueueState::of(&[stopped], None).band, SlaBand::None);
    }

    #[test]
    fn keys_change_only_where_the_ticket_moved() {
        let staff = StaffId::new_at(Timestamp::from_millis(1));
        let none = QueueState { band: SlaBand::Ok, due_at: None, delegated_to: None };
        let before = counter_keys(Status::Open, None, &none);
        assert_eq!(before, vec!["unassigned".to_owned()]);
        let after = counter_keys(Status::WaitingCustomer, Some(staff), &QueueState { band: SlaBand::Breached, ..none.clone() });
        assert_eq!(after, vec![format!("assignee:{staff}"), "breached".into(), "waiting_customer".into()]);
        let deltas = counter_deltas(&before, &after);
        assert_eq!(deltas.iter().map(|d| d.1).sum::<i64>(), 2);
        assert!(counter_keys(Status::Resolved, Some(staff), &none).is_empty());
    }

    #[test]
    fn totals_add_each_group_under_every_key_it_counts_in() {
        let staff = StaffId::new_at(Timestamp::from_millis(1));
        let partner = PartnerId::new_at(Timestamp::from_millis(2));
        let ok = QueueState { band: SlaBand::Ok, due_at: None, delegated_to: None };
        let breached = QueueState { band: SlaBand::Breached, ..ok.clone() };
        let delegated = QueueState { band: SlaBand::AtRisk, delegated_to: Some(partner), ..ok.clone() };
        let totals = counter_totals([
            (Status::Open, None, &ok, 3),
            (Status::Open, Some(staff), &breached, 2),
            (Status::WaitingPartner, None, &delegated, 1),
            (Status::Closed, Some(staff), &breached, 7),
        ]);
        let expected = [
            (format!("assignee:{staff}"), 2),
            ("at_risk".to_owned(), 1),
            ("breached".into(), 2),
            ("delegated".into(), 1),
            (format!("delegated:{partner}"), 1),
            ("unassigned".into(), 4),
            ("waiting_partner".into(), 1),
        ];
        assert_eq!(totals, expected.to_vec());
    }
}
