//! The SLA engine: keeps a ticket's clocks in step with the ticket, and finds the alerts that
//! are due. Pure: given the ticket before and after a change, its clocks, the policies and
//! calendars, and the current time, it says which clocks to write and which events to record.
//!
//! Clocks: `first_response` (until the first public staff reply), `next_response` (from each
//! customer message after that to the next public staff reply, when the policy sets a target),
//! `resolution` (until resolved or closed; paused while the status is one of the policy's
//! `pause_on`), and one `stage` clock per visit to a stage that has a target in its process.
//!
//! Calendars: a ticket-level clock counts on its target's own calendar
//! (`first_response_calendar`, …) when the policy names one, else on the policy's `calendar`;
//! a stage clock on the stage's `calendar` when the process names one, else on the policy's.
//! `always` (or nothing named) is wall-clock time, 24×7 UTC. Each clock records which rule
//! chose its calendar ([`CalendarSource`]) for the SLA report.
//!
//! A ticket closed without any public reply ends its first-response clock "not applicable"
//! when it was still within its target (left out of the compliance rate), and breached when
//! it was past it.

use super::calendar::Calendar;
use super::clock::{Clock, ClockKind, ClockState};
use super::event::{EventData, SlaClockRef};
use super::ids::{ClockId, TicketId};
use super::process::{Process, Stage};
use super::sla::{match_policy, AlertLevel, CalendarSource, PolicyMatch, SlaPolicy, DEFAULT_WARNING_PERCENT};
use super::ticket::{Status, Ticket};
use super::time::Timestamp;
use std::collections::BTreeMap;

/// A clock as stored: the clock, what it belongs to, the alerts already recorded for it and
/// when the sweeper should look at it next.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketClock {
    pub id: ClockId,
    pub ticket_id: TicketId,
    pub stage: Option<String>,
    pub policy_key: Option<String>,
    pub clock: Clock,
    /// Which rule chose the clock's calendar (`clock.calendar_key`).
    pub calendar_source: CalendarSource,
    /// Names of the alert levels recorded (`warning`, `breach`, `escalation_150`).
    pub alerted: Vec<String>,
    /// The earliest pending alert instant while running; the sweeper's index.
    pub next_check_at: Option<Timestamp>,
    /// When the clock reaches its target if nothing changes (None unless running); the
    /// queues' sort and countdown.
    pub due_at: Option<Timestamp>,
}

impl TicketClock {
    /// A clock just started for a ticket, not yet alerted about; its calendar chosen by the
    /// policy (see [`TicketClock::on_calendar_of`] for another reason).
    pub fn new(ticket_id: TicketId, stage: Option<String>, policy_key: Option<String>, clock: Clock, now: Timestamp) -> Self {
        TicketClock {
            id: ClockId::new_at(now),
            ticket_id,
            stage,
            policy_key,
            clock,
            calendar_source: CalendarSource::Policy,
            alerted: Vec::new(),
            next_check_at: None,
            due_at: None,
        }
    }
}

impl TicketClock {
    /// The same clock, saying its calendar was chosen for `source`.
    pub fn on_calendar_of(mut self, source: CalendarSource) -> Self {
        self.calendar_source = source;
        self
    }
}

/// The calendar key a clock of `kind` counts on under `policy` (None: 24×7 UTC), and why. A
/// stage clock counts on `stage`'s own calendar when it names one.
pub fn clock_calendar<'a>(policy: Option<&'a SlaPolicy>, kind: ClockKind, stage: Option<&'a Stage>) -> (Option<&'a str>, CalendarSource) {
    if let Some(own) = stage.filter(|_| kind == ClockKind::Stage).and_then(|s| s.calendar.as_deref()) {
        return (Some(own), CalendarSource::Stage);
    }
    match policy {
        Some(p) if kind == ClockKind::Stage => match p.calendar.as_deref() {
            Some(key) => (Some(key), CalendarSource::Policy),
            None => (None, CalendarSource::Default),
        },
        Some(p) => p.calendar_for(kind),
        None => (None, CalendarSource::Default),
    }
}

/// Policies and calendars in force.
#[derive(Debug, Clone, Default)]
pub struct SlaCatalog {
    pub policies: Vec<SlaPolicy>,
    pub calendars: BTreeMap<String, Calendar>,
}

impl SlaCatalog {
    pub fn calendar(&self, key: Option<&str>) -> Calendar {
        key.and_then(|k| self.calendars.get(k)).cloned().unwrap_or_else(Calendar::always_utc)
    }

    /// The calendar a clock counts business time on (by its stored key; always-on UTC when the
    /// key is no longer in the catalog).
    pub fn calendar_of(&self, clock: &TicketClock) -> Calendar {
        self.calendar(Some(clock.clock.calendar_key.as_str()).filter(|k| *k != Calendar::ALWAYS_UTC_KEY))
    }

    pub fn policy(&self, key: Option<&str>) -> Option<&SlaPolicy> {
        key.and_then(|k| self.policies.iter().find(|p| p.key == k))
    }

    pub fn matching(&self, ticket: &Ticket) -> Option<PolicyMatch<'_>> {
        match_policy(&self.policies, ticket)
    }

    /// Alert levels for a clock under its policy (warning and breach when it has none).
    fn levels(&self, clock: &TicketClock) -> Vec<AlertLevel> {
        match self.policy(clock.policy_key.as_deref()) {
            Some(p) => p.alert_levels(),
            None => vec![AlertLevel::Warning(DEFAULT_WARNING_PERCENT), AlertLevel::Breach],
        }
    }
}

/// An alert to record once per clock and level; `event` indexes the event it justifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    pub clock_id: ClockId,
    pub level: String,
    pub event: usize,
}

/// What the engine decided: clocks to insert or update, events to record, alerts to claim.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClockPlan {
    pub clocks: Vec<TicketClock>,
    pub events: Vec<EventData>,
    pub alerts: Vec<AlertRecord>,
}

impl ClockPlan {
    pub fn is_empty(&self) -> bool {
        self.clocks.is_empty() && self.events.is_empty()
    }
}

fn clock_ref(c: &TicketClock) -> SlaClockRef {
    SlaClockRef { id: c.id, kind: c.clock.kind.as_str().to_owned(), stage: c.stage.clone(), policy: c.policy_key.clone() }
}

struct Working<'a> {
    catalog: &'a SlaCatalog,
    now: Timestamp,
    clocks: Vec<TicketClock>,
    changed: Vec<bool>,
    plan: ClockPlan,
}

impl Working<'_> {
    fn calendar_of(&self, i: usize) -> Calendar {
        self.catalog.calendar_of(&self.clocks[i])
    }

    fn add(&mut self, clock: TicketClock) {
        self.clocks.push(clock);
        self.changed.push(true);
    }

    /// Stops a clock; a late stop records its breach (once) if the sweeper has not yet.
    fn stop(&mut self, i: usize) {
        self.stop_with(i, Clock::stop);
    }

    /// Stops a clock whose event never happened ([`Clock::end_unanswered`]); a late one records
    /// its breach as `stop` does.
    fn end_unanswered(&mut self, i: usize) {
        self.stop_with(i, Clock::end_unanswered);
    }

    fn stop_with(&mut self, i: usize, stop: fn(&mut Clock, &Calendar, Timestamp) -> ClockState) {
        let cal = self.calendar_of(i);
        let now = self.now;
        let c = &mut self.clocks[i];
        if c.clock.is_stopped() {
            return;
        }
        let state = stop(&mut c.clock, &cal, now);
        self.changed[i] = true;
        if state == ClockState::Breached && !c.alerted.iter().any(|a| a == "breach") {
            let breached_at = c.clock.breached_at.unwrap_or(now);
            c.alerted.push("breach".into());
            let event = EventData::SlaBreached { clock: clock_ref(c), breached_at, target: target_text(c.clock.target_ms) };
            self.plan.alerts.push(AlertRecord { clock_id: c.id, level: "breach".into(), event: self.plan.events.len() });
            self.plan.events.push(event);
        }
    }
}

fn target_text(ms: i64) -> String {
    super::duration::TargetDuration::from_seconds(u64::try_from(ms / 1000).unwrap_or(0)).to_string()
}

/// Brings the clocks in step with a ticket that was just opened (`before` is None) or changed.
pub fn reconcile(
    before: Option<&Ticket>,
    after: &Ticket,
    events: &[EventData],
    process: Option<&Process>,
    clocks: &[TicketClock],
    catalog: &SlaCatalog,
    now: Timestamp,
) -> ClockPlan {
    let mut w = Working { catalog, now, clocks: clocks.to_vec(), changed: vec![false; clocks.len()], plan: ClockPlan::default() };
    let matched = catalog.matching(after);
    let policy = matched.as_ref().map(|m| m.policy);
    let policy_key = policy.map(|p| p.key.clone());
    let calendar_for = |kind: ClockKind, stage: Option<&Stage>| {
        let (key, source) = clock_calendar(policy, kind, stage);
        (catalog.calendar(key), source)
    };

    // A different policy now applies: clocks keep their time and go on under the new one.
    if let Some(before) = before {
        let previous = catalog.matching(before).map(|m| m.policy.key.clone());
        if previous != policy_key {
            w.plan.events.push(EventData::SlaPolicyChanged {
                from: previous,
                to: policy_key.clone(),
                explanation: matched.as_ref().map(|m| m.explanation()).unwrap_or_else(|| "no policy matches".into()),
            });
        }
    }

    for kind in [ClockKind::FirstResponse, ClockKind::NextResponse, ClockKind::Resolution] {
        let target = policy.and_then(|p| p.target(kind)).map(|t| t.as_millis());
        let running = w.clocks.iter().position(|c| c.clock.kind == kind && !c.clock.is_stopped());
        let existing = running.or_else(|| w.clocks.iter().position(|c| c.clock.kind == kind));
        let (calendar, source) = calendar_for(kind, None);
        match (existing, target) {
            (None, Some(target)) if before.is_none() && kind != ClockKind::NextResponse => {
                let clock = Clock::start(kind, target, calendar.key(), after.created_at);
                w.add(TicketClock::new(after.id, None, policy_key.clone(), clock, now).on_calendar_of(source));
            }
            (Some(i), Some(target)) if !w.clocks[i].clock.is_stopped() => {
                let c = &w.clocks[i];
                if c.policy_key != policy_key || c.clock.target_ms != target || c.clock.calendar_key != calendar.key() {
                    let old = w.calendar_of(i);
                    let c = &mut w.clocks[i];
                    c.clock.retarget(&old, &calendar, target, now);
                    c.policy_key = policy_key.clone();
                    w.changed[i] = true;
                }
                if w.clocks[i].calendar_source != source {
                    w.clocks[i].calendar_source = source;
                    w.changed[i] = true;
                }
            }
            _ => {}
        }
    }

    // A customer's message after the first response starts a next-response clock; the next
    // public staff reply stops it.
    let customer_wrote = events.iter().any(|e| matches!(e, EventData::CommentAdded { from_customer: true, .. }));
    let staff_replied = events
        .iter()
        .any(|e| matches!(e, EventData::CommentAdded { from_customer: false, visibility: super::ticket::Visibility::Public, .. }));
    let awaiting_reply = w.clocks.iter().any(|c| c.clock.kind == ClockKind::NextResponse && !c.clock.is_stopped());
    if let Some(target) = policy.and_then(|p| p.next_response) {
        if customer_wrote && !awaiting_reply && before.is_some_and(|b| b.first_response_at.is_some()) && !after.is_done() {
            let (calendar, source) = calendar_for(ClockKind::NextResponse, None);
            let clock = Clock::start(ClockKind::NextResponse, target.as_millis(), calendar.key(), now);
            w.add(TicketClock::new(after.id, None, policy_key.clone(), clock, now).on_calendar_of(source));
        }
    }

    let closed = after.status == Status::Closed;
    let pause_on = policy.map(|p| p.pause_on.clone()).unwrap_or_else(|| vec![Status::WaitingCustomer, Status::WaitingPartner]);
    for i in 0..w.clocks.len() {
        let kind = w.clocks[i].clock.kind;
        let stop = match kind {
            ClockKind::FirstResponse => after.first_response_at.is_some() || closed,
            ClockKind::NextResponse => staff_replied || after.is_done(),
            ClockKind::Resolution => after.resolved_at.is_some() || closed,
            ClockKind::Stage => closed || w.clocks[i].stage.as_deref() != Some(after.stage.as_str()),
        };
        let was_done = before.is_some_and(|b| b.resolved_at.is_some() || b.status == Status::Closed);
        if stop && kind == ClockKind::FirstResponse && after.first_response_at.is_none() {
            // Closed without any public reply: not applicable within the target, breached past it.
            w.end_unanswered(i);
        } else if stop {
            w.stop(i);
        } else if w.clocks[i].clock.is_stopped()
            && was_done
            && (kind == ClockKind::Resolution || (kind == ClockKind::FirstResponse && w.clocks[i].clock.not_applicable))
        {
            // Reopened: the resolution clock goes on from the time it had, and so does a
            // first-response clock that ended unanswered.
            w.clocks[i].clock.reopen(now);
            w.changed[i] = true;
        }
        if kind == ClockKind::Resolution && !w.clocks[i].clock.is_stopped() {
            let cal = w.calendar_of(i);
            let c = &mut w.clocks[i];
            if pause_on.contains(&after.status) {
                if c.clock.pause(&cal, now, format!("status {}", after.status)) {
                    w.changed[i] = true;
                }
            } else if c.clock.resume(now) {
                w.changed[i] = true;
            }
        }
    }

    // A stage with a target gets a clock of its own for each visit.
    let entered_stage = before.is_none_or(|b| b.stage != after.stage);
    if entered_stage && !closed {
        if let Some(stage) = process.and_then(|p| p.stage(&after.stage)).filter(|s| !s.terminal) {
            if let Some(target) = stage.target {
                let (calendar, source) = calendar_for(ClockKind::Stage, Some(stage));
                let clock = Clock::start(ClockKind::Stage, target.as_millis(), calendar.key(), now);
                w.add(TicketClock::new(after.id, Some(stage.key.clone()), policy_key.clone(), clock, now).on_calendar_of(source));
            }
        }
    }
    finish(w)
}

/// Records the alerts that are due at `now` for a ticket's clocks.
pub fn sweep(clocks: &[TicketClock], catalog: &SlaCatalog, now: Timestamp) -> ClockPlan {
    let mut w = Working { catalog, now, clocks: clocks.to_vec(), changed: vec![false; clocks.len()], plan: ClockPlan::default() };
    for i in 0..w.clocks.len() {
        if !w.clocks[i].clock.is_running() {
            continue;
        }
        let cal = w.calendar_of(i);
        let levels = catalog.levels(&w.clocks[i]);
        for level in levels {
            let name = level.name();
            let c = &mut w.clocks[i];
            if c.alerted.contains(&name) {
                continue;
            }
            let Some(at) = level_check_at(&c.clock, &cal, level) else { continue };
            if at > now {
                continue;
            }
            let event = match level {
                AlertLevel::Warning(percent) => EventData::SlaWarning { clock: clock_ref(c), percent, due_at: c.clock.due_at(&cal) },
                AlertLevel::Breach => {
                    // Breached from the moment the target was reached (the due time).
                    let reached = c.clock.due_at(&cal).filter(|due| *due <= at).unwrap_or(at);
                    c.clock.mark_breached(reached);
                    EventData::SlaBreached {
                        clock: clock_ref(c),
                        breached_at: c.clock.breached_at.unwrap_or(reached),
                        target: target_text(c.clock.target_ms),
                    }
                }
                AlertLevel::Escalation(percent, role) => {
                    EventData::SlaEscalated { clock: clock_ref(c), percent, notify_role: role.as_str().into() }
                }
            };
            c.alerted.push(name.clone());
            w.changed[i] = true;
            w.plan.alerts.push(AlertRecord { clock_id: c.id, level: name, event: w.plan.events.len() });
            w.plan.events.push(event);
        }
    }
    finish(w)
}

/// Sets each changed clock's next check and returns the plan with the changed clocks.
fn finish(mut w: Working<'_>) -> ClockPlan {
    for i in 0..w.clocks.len() {
        let calendar = w.calendar_of(i);
        let next = next_check(&w.clocks[i], &calendar, w.catalog);
        if next != w.clocks[i].next_check_at {
            w.clocks[i].next_check_at = next;
            w.changed[i] = true;
        }
        let due = due_at(&w.clocks[i], &calendar);
        if due != w.clocks[i].due_at {
            w.clocks[i].due_at = due;
            w.changed[i] = true;
        }
    }
    let changed = std::mem::take(&mut w.changed);
    w.plan.clocks = w.clocks.into_iter().zip(changed).filter_map(|(c, changed)| changed.then_some(c)).collect();
    w.plan
}

/// What a clock stores as its due time (`TicketClock::due_at`), on its calendar
/// ([`SlaCatalog::calendar_of`]): when it reaches its target if nothing changes. Every write
/// of a clock stores this, and the queue-state backfill recomputes it for clocks written
/// before it was stored.
pub fn due_at(clock: &TicketClock, calendar: &Calendar) -> Option<Timestamp> {
    clock.clock.due_at(calendar)
}

/// Sets each clock's stored due time to what [`due_at`] says on its calendar (the backfill of
/// clocks written before due times were stored); returns the clocks it changed.
pub fn refresh_due_times(clocks: &mut [TicketClock], catalog: &SlaCatalog) -> Vec<TicketClock> {
    let mut changed = Vec::new();
    for c in clocks.iter_mut() {
        let due = due_at(c, &catalog.calendar_of(c));
        if due != c.due_at {
            c.due_at = due;
            changed.push(c.clone());
        }
    }
    changed
}

/// The earliest instant an alert not yet recorded becomes due; None unless running.
pub fn next_check(clock: &TicketClock, calendar: &Calendar, catalog: &SlaCatalog) -> Option<Timestamp> {
    if !clock.clock.is_running() {
        return None;
    }
    catalog
        .levels(clock)
        .into_iter()
        .filter(|level| !clock.alerted.contains(&level.name()))
        .filter_map(|level| level_check_at(&clock.clock, calendar, level))
        .min()
}

/// When a level's alert is due: a breach when elapsed business time exceeds the target, the
/// other levels when it reaches their percentage.
fn level_check_at(clock: &Clock, calendar: &Calendar, level: AlertLevel) -> Option<Timestamp> {
    match level {
        AlertLevel::Breach => clock.breach_check_at(calendar),
        other => clock.threshold_at(calendar, other.percent()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::calendar::CalendarSpec;
    use crate::process::ProcessRegistry;
    use crate::sla::{Conditions, Escalation, PolicySpec};
    use crate::ticket::{Channel, Kind, Priority, TicketDraft, TicketPatch, TicketRules, Visibility};

    const MIN: i64 = 60_000;
    // Monday 2026-01-05 09:00 UTC.
    const MONDAY_9: Timestamp = Timestamp::from_millis(1_767_603_600_000);

    fn catalog() -> SlaCatalog {
        let tiers = ["standard".to_string(), "priority".into(), "vip".into()];
        let spec = |first: &str, resolution: &str, conditions: Conditions, calendar: Option<&str>| PolicySpec {
            name: "p".into(),
            order: 0,
            conditions,
            first_response: Some(first.into()),
            next_response: None,
            resolution: Some(resolution.into()),
            warning_percent: None,
            escalations: vec![Escalation { at_percent: 150, notify_role: Role::Supervisor }],
            calendar: calendar.map(Into::into),
            first_response_calendar: None,
            next_response_calendar: None,
            resolution_calendar: None,
            pause_on: None,
        };
        let office = Calendar::from_spec(
            "office",
            CalendarSpec {
                timezone: "UTC".into(),
                hours: [
                    ("mon", "09:00-17:00"),
                    ("tue", "09:00-17:00"),
                    ("wed", "09:00-17:00"),
                    ("thu", "09:00-17:00"),
                    ("fri", "09:00-17:00"),
                ]
                .into_iter()
                .map(|(d, h)| (d.to_string(), vec![h.to_string()]))
                .collect(),
                ..Default::default()
            },
        )
        .unwrap();
        SlaCatalog {
            policies: vec![
                SlaPolicy::from_spec("default", spec("2h", "1d", Conditions::default(), Some("office")), &["office"], &tiers).unwrap(),
                SlaPolicy::from_spec(
                    "urgent",
                    spec("30m", "4h", Conditions { priorities: vec![Priority::Urgent], ..Default::default() }, None),
                    &[],
                    &tiers,
                )
                .unwrap(),
            ],
            calendars: [("office".to_string(), office)].into_iter().collect(),
        }
    }

    fn open(priority: Priority) -> Ticket {
        let registry = ProcessRegistry::builtin();
        let tiers = vec!["standard".to_string(), "priority".into(), "vip".into()];
        let rules = TicketRules { tiers: &tiers, default_process: "general", processes: &registry };
        let draft = TicketDraft {
            title: "t".into(),
            description: None,
            kind: Kind::Incident,
            channel: Channel::Email,
            priority,
            customer_name: "c".into(),
            customer_contact: None,
            customer_tier: None,
            process: None,
            assignee: None,
            tags: vec![],
            custom_fields: None,
            origin_ticket_id: None,
        };
        Ticket::open(draft, &rules, MONDAY_9).unwrap().ticket
    }

    fn general() -> Process {
        ProcessRegistry::builtin().get("general").unwrap().as_ref().clone()
    }

    fn apply(clocks: &mut Vec<TicketClock>, plan: &ClockPlan) {
        for c in &plan.clocks {
            match clocks.iter_mut().find(|x| x.id == c.id) {
                Some(x) => *x = c.clone(),
                None => clocks.push(c.clone()),
            }
        }
    }

    fn kinds(plan: &ClockPlan) -> Vec<&'static str> {
        plan.events.iter().map(EventData::kind).collect()
    }

    #[test]
    fn opening_starts_first_response_resolution_and_stage_clocks() {
        let t = open(Priority::Normal);
        let plan = reconcile(None, &t, &[], Some(&general()), &[], &catalog(), MONDAY_9);
        let started: Vec<_> = plan.clocks.iter().map(|c| (c.clock.kind.as_str(), c.stage.clone())).collect();
        assert_eq!(started, [("first_response", None), ("resolution", None), ("stage", Some("consultation".to_string()))]);
        let first = &plan.clocks[0];
        assert_eq!(first.policy_key.as_deref(), Some("default"));
        // 80 % of 2 business hours from Monday 09:00.
        assert_eq!(first.next_check_at, Some(MONDAY_9.plus_millis(96 * MIN)));
        assert!(plan.events.is_empty());
    }

    #[test]
    fn sweeping_records_warning_breach_and_escalation_once_each() {
        let t = open(Priority::Urgent);
        let cat = catalog();
        let mut clocks = Vec::new();
        apply(&mut clocks, &reconcile(None, &t, &[], Some(&general()), &[], &cat, MONDAY_9));
        let first: Vec<_> = clocks.iter().filter(|c| c.clock.kind == ClockKind::FirstResponse).cloned().collect();
        assert_eq!(first[0].next_check_at, Some(MONDAY_9.plus_millis(24 * MIN)));
        let plan = sweep(&first, &cat, MONDAY_9.plus_millis(25 * MIN));
        assert_eq!(kinds(&plan), ["sla_warning"]);
        let mut first = first;
        apply(&mut first, &plan);
        assert_eq!(first[0].next_check_at, Some(MONDAY_9.plus_millis(30 * MIN + 1)));
        let plan = sweep(&first, &cat, MONDAY_9.plus_millis(50 * MIN));
        assert_eq!(kinds(&plan), ["sla_breached", "sla_escalated"]);
        assert_eq!(plan.alerts.iter().map(|a| a.level.as_str()).collect::<Vec<_>>(), ["breach", "escalation_150"]);
        apply(&mut first, &plan);
        assert_eq!(first[0].clock.breached_at, Some(MONDAY_9.plus_millis(30 * MIN)));
        assert_eq!(first[0].next_check_at, None, "nothing left to alert");
        assert!(sweep(&first, &cat, MONDAY_9.plus_millis(500 * MIN)).is_empty());
    }

    #[test]
    fn first_reply_stops_the_first_response_clock_and_a_late_one_is_a_breach() {
        let t = open(Priority::Urgent);
        let cat = catalog();
        let mut clocks = Vec::new();
        apply(&mut clocks, &reconcile(None, &t, &[], Some(&general()), &[], &cat, MONDAY_9));
        let late = MONDAY_9.plus_millis(45 * MIN);
        let replied = t.comment("hello", Visibility::Public, false, late).unwrap().ticket;
        let plan = reconcile(Some(&t), &replied, &[], Some(&general()), &clocks, &cat, late);
        assert_eq!(kinds(&plan), ["sla_breached"]);
        apply(&mut clocks, &plan);
        let first = clocks.iter().find(|c| c.clock.kind == ClockKind::FirstResponse).unwrap();
        assert!(first.clock.is_stopped());
        assert_eq!(first.next_check_at, None);
        assert!(first.alerted.contains(&"breach".to_string()));
    }

    #[test]
    fn waiting_on_the_customer_pauses_resolution_and_a_policy_change_keeps_elapsed_time() {
        let t = open(Priority::Normal);
        let cat = catalog();
        let rules_registry = ProcessRegistry::builtin();
        let tiers = vec!["standard".to_string(), "priority".into(), "vip".into()];
        let rules = TicketRules { tiers: &tiers, default_process: "general", processes: &rules_registry };
        let mut clocks = Vec::new();
        apply(&mut clocks, &reconcile(None, &t, &[], Some(&general()), &[], &cat, MONDAY_9));
        let at_10 = MONDAY_9.plus_millis(60 * MIN);
        let waiting =
            t.apply_patch(TicketPatch { status: Some(Status::WaitingCustomer), ..Default::default() }, &rules, at_10).unwrap().ticket;
        let plan = reconcile(Some(&t), &waiting, &[], Some(&general()), &clocks, &cat, at_10);
        apply(&mut clocks, &plan);
        let resolution = clocks.iter().find(|c| c.clock.kind == ClockKind::Resolution).unwrap();
        assert!(resolution.clock.is_paused());
        assert_eq!(resolution.next_check_at, None);
        let at_12 = MONDAY_9.plus_millis(180 * MIN);
        let urgent = waiting
            .apply_patch(TicketPatch { status: Some(Status::Open), priority: Some(Priority::Urgent), ..Default::default() }, &rules, at_12)
            .unwrap()
            .ticket;
        let plan = reconcile(Some(&waiting), &urgent, &[], Some(&general()), &clocks, &cat, at_12);
        assert_eq!(kinds(&plan), ["sla_policy_changed"]);
        apply(&mut clocks, &plan);
        let resolution = clocks.iter().find(|c| c.clock.kind == ClockKind::Resolution).unwrap();
        assert_eq!(resolution.policy_key.as_deref(), Some("urgent"));
        assert_eq!(resolution.clock.target_ms, 240 * MIN);
        assert_eq!(resolution.clock.elapsed_ms, 60 * MIN, "the hour before the pause is kept, the paused hours are not counted");
        assert_eq!(resolution.clock.pauses.len(), 1);
        assert!(resolution.clock.is_running());
    }

    #[test]
    fn a_customer_message_after_the_first_response_starts_a_next_response_clock() {
        let mut cat = catalog();
        cat.policies[0].next_response = Some(crate::duration::TargetDuration::from_seconds(3600));
        let t = open(Priority::Normal);
        let p = general();
        let mut clocks = Vec::new();
        apply(&mut clocks, &reconcile(None, &t, &[], Some(&p), &[], &cat, MONDAY_9));
        assert!(clocks.iter().all(|c| c.clock.kind != ClockKind::NextResponse), "none before a customer writes");
        let at = |m| MONDAY_9.plus_millis(m * MIN);
        let replied = t.comment("on it", Visibility::Public, false, at(10)).unwrap();
        let plan = reconcile(Some(&t), &replied.ticket, &replied.events, Some(&p), &clocks, &cat, at(10));
        apply(&mut clocks, &plan);
        let asked = replied.ticket.comment("any news?", Visibility::Public, true, at(20)).unwrap();
        let plan = reconcile(Some(&replied.ticket), &asked.ticket, &asked.events, Some(&p), &clocks, &cat, at(20));
        apply(&mut clocks, &plan);
        let next: Vec<_> = clocks.iter().filter(|c| c.clock.kind == ClockKind::NextResponse).collect();
        assert_eq!(next.len(), 1);
        assert!(next[0].clock.is_running());
        let again = asked.ticket.comment("hello?", Visibility::Public, true, at(25)).unwrap();
        let plan = reconcile(Some(&asked.ticket), &again.ticket, &again.events, Some(&p), &clocks, &cat, at(25));
        apply(&mut clocks, &plan);
        assert_eq!(clocks.iter().filter(|c| c.clock.kind == ClockKind::NextResponse).count(), 1, "one clock per wait");
        let answer = again.ticket.comment("fixed", Visibility::Public, false, at(40)).unwrap();
        let plan = reconcile(Some(&again.ticket), &answer.ticket, &answer.events, Some(&p), &clocks, &cat, at(40));
        apply(&mut clocks, &plan);
        let next = clocks.iter().find(|c| c.clock.kind == ClockKind::NextResponse).unwrap();
        assert!(next.clock.is_stopped());
        assert_eq!(next.clock.elapsed_ms, 20 * MIN);
    }

    #[test]
    fn stage_moves_stop_one_stage_clock_and_start_the_next_and_closing_stops_all() {
        let t = open(Priority::Normal);
        let cat = catalog();
        let p = general();
        let mut clocks = Vec::new();
        apply(&mut clocks, &reconcile(None, &t, &[], Some(&p), &[], &cat, MONDAY_9));
        let later = MONDAY_9.plus_millis(30 * MIN);
        let moved = t.transition(&p, "needs_analysis", None, later).unwrap().ticket;
        let plan = reconcile(Some(&t), &moved, &[], Some(&p), &clocks, &cat, later);
        apply(&mut clocks, &plan);
        let stages: Vec<_> =
            clocks.iter().filter(|c| c.clock.kind == ClockKind::Stage).map(|c| (c.stage.clone().unwrap(), c.clock.is_stopped())).collect();
        assert_eq!(stages, [("consultation".to_string(), true), ("needs_analysis".to_string(), false)]);
        let closed = moved.transition(&p, "closed", None, later).unwrap().ticket;
        let plan = reconcile(Some(&moved), &closed, &[], Some(&p), &clocks, &cat, later);
        apply(&mut clocks, &plan);
        assert!(clocks.iter().all(|c| c.clock.is_stopped() && c.next_check_at.is_none()));
    }

    fn clock_of(clocks: &[TicketClock], kind: ClockKind) -> &TicketClock {
        clocks.iter().find(|c| c.clock.kind == kind).unwrap_or_else(|| panic!("no {kind} clock"))
    }

    /// The general process, its first stage measured on wall-clock time.
    fn wall_clock_consultation() -> Process {
        let text = crate::process::BUILTIN_GENERAL.replacen("target = \"4h\"", "target = \"24h\"\ncalendar = \"always\"", 1);
        Process::from_toml("wall.toml", &text).unwrap()
    }

    #[test]
    fn a_stage_target_on_always_counts_wall_clock_time_under_a_business_hours_policy() {
        let t = open(Priority::Normal);
        let plan = reconcile(None, &t, &[], Some(&wall_clock_consultation()), &[], &catalog(), MONDAY_9);
        let stage = clock_of(&plan.clocks, ClockKind::Stage);
        assert_eq!((stage.clock.calendar_key.as_str(), stage.calendar_source), ("always", CalendarSource::Stage));
        // 24 wall-clock hours, not three business days.
        assert_eq!(stage.due_at, Some(MONDAY_9.plus_millis(24 * 60 * MIN)));
        let first = clock_of(&plan.clocks, ClockKind::FirstResponse);
        assert_eq!((first.clock.calendar_key.as_str(), first.calendar_source), ("office", CalendarSource::Policy));
        // Without a calendar of its own the stage counts on the policy's: 4 business hours.
        let plan = reconcile(None, &t, &[], Some(&general()), &[], &catalog(), MONDAY_9);
        let stage = clock_of(&plan.clocks, ClockKind::Stage);
        assert_eq!((stage.clock.calendar_key.as_str(), stage.calendar_source), ("office", CalendarSource::Policy));
        assert_eq!(stage.due_at, Some(MONDAY_9.plus_millis(4 * 60 * MIN)));
    }

    #[test]
    fn a_policy_target_with_its_own_calendar_counts_on_it_and_the_others_on_the_policys() {
        let mut cat = catalog();
        cat.policies[0].resolution_calendar = Some("always".into());
        let t = open(Priority::Normal);
        let mut clocks = Vec::new();
        apply(&mut clocks, &reconcile(None, &t, &[], Some(&general()), &[], &cat, MONDAY_9));
        let resolution = clock_of(&clocks, ClockKind::Resolution);
        assert_eq!((resolution.clock.calendar_key.as_str(), resolution.calendar_source), ("always", CalendarSource::Target));
        assert_eq!(resolution.due_at, Some(MONDAY_9.plus_millis(24 * 60 * MIN)), "1d of wall-clock time");
        let first = clock_of(&clocks, ClockKind::FirstResponse);
        assert_eq!((first.clock.calendar_key.as_str(), first.calendar_source), ("office", CalendarSource::Policy));
        // An urgent ticket moves to the policy without calendars: both go on around the clock.
        let rules_registry = ProcessRegistry::builtin();
        let tiers = vec!["standard".to_string(), "priority".into(), "vip".into()];
        let rules = TicketRules { tiers: &tiers, default_process: "general", processes: &rules_registry };
        let at = MONDAY_9.plus_millis(60 * MIN);
        let urgent = t.apply_patch(TicketPatch { priority: Some(Priority::Urgent), ..Default::default() }, &rules, at).unwrap().ticket;
        let plan = reconcile(Some(&t), &urgent, &[], Some(&general()), &clocks, &cat, at);
        apply(&mut clocks, &plan);
        for kind in [ClockKind::FirstResponse, ClockKind::Resolution] {
            let c = clock_of(&clocks, kind);
            assert_eq!((c.clock.calendar_key.as_str(), c.calendar_source), ("always", CalendarSource::Default), "{kind}");
        }
    }

    #[test]
    fn closing_without_a_reply_before_the_due_time_is_not_applicable_and_after_it_a_breach() {
        let cat = catalog();
        let p = general();
        let t = open(Priority::Normal);
        let mut opened = Vec::new();
        apply(&mut opened, &reconcile(None, &t, &[], Some(&p), &[], &cat, MONDAY_9));

        // Within the 2 business hours: not applicable, no breach.
        let early = MONDAY_9.plus_millis(30 * MIN);
        let closed = t.transition(&p, "closed", None, early).unwrap().ticket;
        let mut clocks = opened.clone();
        let plan = reconcile(Some(&t), &closed, &[], Some(&p), &clocks, &cat, early);
        assert!(kinds(&plan).is_empty(), "{:?}", kinds(&plan));
        apply(&mut clocks, &plan);
        let first = clock_of(&clocks, ClockKind::FirstResponse);
        assert!(first.clock.not_applicable);
        assert_eq!(first.clock.state_at(&cat.calendar_of(first), early), ClockState::NotApplicable);
        assert!(!clock_of(&clocks, ClockKind::Resolution).clock.not_applicable, "only the reply's clock");

        // Reopened, the customer's wait for a reply counts again.
        let later = MONDAY_9.plus_millis(60 * MIN);
        let reopened = closed.reopen(&p, None, None, true, 7 * 24 * 60 * MIN, later).unwrap().ticket;
        let plan = reconcile(Some(&closed), &reopened, &[], Some(&p), &clocks, &cat, later);
        apply(&mut clocks, &plan);
        let first = clock_of(&clocks, ClockKind::FirstResponse);
        assert!(first.clock.is_running() && !first.clock.not_applicable);
        assert_eq!(first.due_at, Some(MONDAY_9.plus_millis(150 * MIN)), "the 30 minutes counted are kept");

        // Past the due time: breached, recorded once.
        let late = MONDAY_9.plus_millis(3 * 60 * MIN);
        let closed = t.transition(&p, "closed", None, late).unwrap().ticket;
        let mut clocks = opened;
        let plan = reconcile(Some(&t), &closed, &[], Some(&p), &clocks, &cat, late);
        assert_eq!(kinds(&plan), ["sla_breached"]);
        apply(&mut clocks, &plan);
        let first = clock_of(&clocks, ClockKind::FirstResponse);
        assert!(!first.clock.not_applicable);
        assert_eq!(first.clock.breached_at, Some(MONDAY_9.plus_millis(2 * 60 * MIN)));
    }
}
