//! One SLA clock: business time measured toward a target, pauses excluded.
//!
//! The clock is folded state, one database row: the business time counted so far
//! (`elapsed_ms`) and, while it runs, the instant from which more accrues (`segment_from`).
//! Every operation folds the running segment with the calendar in force at that moment, so a
//! change of calendar or target later never recounts or loses time already measured, and the
//! pause history stays whole.
//!
//! Breach follows business time: a clock is breached once its elapsed business time exceeds
//! the target. A target reached at Friday 17:00 in a 09–17 calendar is therefore met by a stop
//! on Saturday, and breached from Monday 09:00 on; `breached_at` then records Friday 17:00,
//! the instant the target was reached.

use super::{calendar::Calendar, string_enum, time::Timestamp};
use serde::{Deserialize, Serialize};

string_enum! {
    pub enum ClockKind {
        FirstResponse => "first_response",
        /// From a customer's message to the next public staff reply, after the first response.
        NextResponse => "next_response",
        Resolution => "resolution",
        Stage => "stage",
    }
}

string_enum! {
    pub enum ClockState {
        Running => "running",
        Paused => "paused",
        /// Stopped within the target.
        Met => "met",
        /// Elapsed business time exceeds the target, whether running, paused or stopped.
        Breached => "breached",
        /// Stopped within the target without what it measures having happened (a ticket closed
        /// before its due time without any public reply): neither met nor breached, and left
        /// out of the compliance rate.
        NotApplicable => "not_applicable",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub from: Timestamp,
    /// `None` while the pause lasts.
    pub to: Option<Timestamp>,
    pub reason: String,
}

/// Running: `segment_from` is set. Paused: neither `segment_from` nor `stopped_at` is set and
/// the last pause is open. Stopped: `stopped_at` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    pub kind: ClockKind,
    /// Business milliseconds allowed.
    pub target_ms: i64,
    pub calendar_key: String,
    pub started_at: Timestamp,
    /// Business milliseconds counted up to `segment_from` (or up to the pause or stop).
    pub elapsed_ms: i64,
    /// While running, business time accrues from this instant.
    pub segment_from: Option<Timestamp>,
    pub stopped_at: Option<Timestamp>,
    /// Set once the target is exceeded: the wall instant at which elapsed business time
    /// reached the target. Always about the current target: a retarget that lifts the target
    /// above the elapsed time clears it.
    pub breached_at: Option<Timestamp>,
    pub pauses: Vec<Pause>,
    /// Stopped by [`Clock::end_unanswered`] within the target: the outcome is "not
    /// applicable", not "met".
    #[serde(default)]
    pub not_applicable: bool,
}

impl Clock {
    pub fn start(kind: ClockKind, target_ms: i64, calendar_key: impl Into<String>, now: Timestamp) -> Clock {
        Clock {
            kind,
            target_ms,
            calendar_key: calendar_key.into(),
            started_at: now,
            elapsed_ms: 0,
            segment_from: Some(now),
            stopped_at: None,
            breached_at: None,
            pauses: Vec::new(),
            not_applicable: false,
        }
    }

    pub fn is_running(&self) -> bool {
        self.running_since().is_some()
    }

    pub fn is_paused(&self) -> bool {
        self.stopped_at.is_none() && self.segment_from.is_none()
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped_at.is_some()
    }

    fn running_since(&self) -> Option<Timestamp> {
        match self.stopped_at {
            Some(_) => None,
            None => self.segment_from,
        }
    }

    /// Business milliseconds counted by `now`.
    pub fn elapsed_at(&self, cal: &Calendar, now: Timestamp) -> i64 {
        let running = self.running_since().map_or(0, |from| cal.business_millis_between(from, now));
        self.elapsed_ms.saturating_add(running)
    }

    /// Business milliseconds left at `now`; negative once the target is exceeded.
    pub fn remaining_at(&self, cal: &Calendar, now: Timestamp) -> i64 {
        self.target_ms.saturating_sub(self.elapsed_at(cal, now))
    }

    pub fn state_at(&self, cal: &Calendar, now: Timestamp) -> ClockState {
        if self.not_applicable && self.is_stopped() {
            ClockState::NotApplicable
        } else if self.elapsed_at(cal, now) > self.target_ms {
            ClockState::Breached
        } else if self.is_stopped() {
            ClockState::Met
        } else if self.is_paused() {
            ClockState::Paused
        } else {
            ClockState::Running
        }
    }

    /// Stops the count until `resume`. Returns false (and changes nothing) unless running.
    pub fn pause(&mut self, cal: &Calendar, now: Timestamp, reason: impl Into<String>) -> bool {
        let Some(from) = self.running_since() else {
            return false;
        };
        self.fold(cal, now);
        self.segment_from = None;
        self.pauses.push(Pause { from: now.max(from), to: None, reason: reason.into() });
        true
    }

    /// Counts again from `now`. Returns false (and changes nothing) unless paused.
    pub fn resume(&mut self, now: Timestamp) -> bool {
        if !self.is_paused() {
            return false;
        }
        let resumed = self.close_open_pause(now);
        self.segment_from = Some(resumed);
        true
    }

    /// Stops for good (until `reopen`) and returns the outcome: Met when elapsed business time
    /// is within the target, Breached otherwise. A stopped clock just returns its outcome.
    pub fn stop(&mut self, cal: &Calendar, now: Timestamp) -> ClockState {
        if !self.is_stopped() {
            if self.is_running() {
                self.fold(cal, now);
            } else {
                self.close_open_pause(now);
            }
            self.segment_from = None;
            self.stopped_at = Some(now);
        }
        self.outcome()
    }

    /// Stops a clock whose event never happened (a ticket closed without the reply the clock
    /// waits for). Within the target the outcome is [`ClockState::NotApplicable`]: nobody was
    /// late, and nothing was met either. Past the target it is [`ClockState::Breached`], as
    /// any late stop. A stopped clock just returns its outcome.
    pub fn end_unanswered(&mut self, cal: &Calendar, now: Timestamp) -> ClockState {
        if !self.is_stopped() && self.stop(cal, now) == ClockState::Met {
            self.not_applicable = true;
        }
        self.outcome()
    }

    /// A stopped clock's outcome: not applicable, met or breached.
    fn outcome(&self) -> ClockState {
        match (self.not_applicable, self.elapsed_ms > self.target_ms) {
            (true, _) => ClockState::NotApplicable,
            (false, true) => ClockState::Breached,
            (false, false) => ClockState::Met,
        }
    }

    /// Runs a stopped clock again from the business time it had (a reopened ticket); a clock
    /// that ended not applicable counts again too. Returns false (and changes nothing) unless
    /// stopped.
    pub fn reopen(&mut self, now: Timestamp) -> bool {
        if !self.is_stopped() {
            return false;
        }
        self.not_applicable = false;
        self.stopped_at = None;
        self.segment_from = Some(now);
        true
    }

    /// A new policy matched: business time so far is folded with `old_cal` up to `now`, then
    /// the clock goes on toward `new_target_ms` on `new_cal`, keeping its pauses and its
    /// running or paused state. A stopped clock keeps its outcome and returns false.
    ///
    /// When the new target is already exceeded, `breached_at` is exact if the crossing falls
    /// in the segment just folded. If it fell earlier, folded state no longer knows when: a
    /// breach instant already recorded is kept, otherwise `now` is recorded.
    pub fn retarget(&mut self, old_cal: &Calendar, new_cal: &Calendar, new_target_ms: i64, now: Timestamp) -> bool {
        if self.is_stopped() {
            return false;
        }
        let folded = self.fold_segment(old_cal, now);
        self.target_ms = new_target_ms;
        self.calendar_key = new_cal.key().to_owned();
        if self.elapsed_ms <= new_target_ms {
            self.breached_at = None;
        } else if let Some((from, before)) = folded.filter(|(_, before)| *before <= new_target_ms) {
            self.breached_at = Some(reached_in_segment(old_cal, from, before, new_target_ms, now));
        } else if self.breached_at.is_none() {
            self.breached_at = Some(now);
        }
        true
    }

    /// When elapsed business time reaches the target if nothing changes; see `threshold_at`.
    pub fn due_at(&self, cal: &Calendar) -> Option<Timestamp> {
        self.threshold_at(cal, 100)
    }

    /// When elapsed business time reaches `percent` of the target if nothing changes (80 for a
    /// warning, 100, 150 … for escalation levels). `None` while paused or stopped, or when the
    /// instant lies beyond the calendar's scan horizon.
    ///
    /// A threshold already passed before the running segment began is answered with the
    /// earliest instant folded state still knows: `breached_at` for the target itself, the
    /// segment start otherwise (both in the past, so a scheduler fires at once).
    pub fn threshold_at(&self, cal: &Calendar, percent: u32) -> Option<Timestamp> {
        let from = self.running_since()?;
        let threshold = self.threshold_ms(percent);
        let remaining = threshold.saturating_sub(self.elapsed_ms);
        if remaining >= 0 {
            return cal.add_business_millis(from, remaining);
        }
        match self.breached_at {
            Some(reached) if threshold == self.target_ms => Some(reached),
            _ => Some(from),
        }
    }

    /// The first instant at which the clock is breached (elapsed business time exceeds the
    /// target) if nothing changes: the business millisecond after `due_at`. A target reached at
    /// closing time is breached only when business time resumes, so that is when the alert is
    /// raised. `None` while paused or stopped.
    pub fn breach_check_at(&self, cal: &Calendar) -> Option<Timestamp> {
        let from = self.running_since()?;
        let remaining = self.target_ms.saturating_sub(self.elapsed_ms);
        if remaining >= 0 {
            return cal.add_business_millis(from, remaining.saturating_add(1));
        }
        Some(self.breached_at.unwrap_or(from))
    }

    /// Records the breach instant unless one is recorded already; returns whether it did.
    pub fn mark_breached(&mut self, at: Timestamp) -> bool {
        if self.breached_at.is_some() {
            return false;
        }
        self.breached_at = Some(at);
        true
    }

    fn threshold_ms(&self, percent: u32) -> i64 {
        let ms = i128::from(self.target_ms) * i128::from(percent) / 100;
        i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
    }

    /// Folds the running segment up to `now` and, if that overran the target, records when
    /// the target was reached, so a pause or stop never loses the breach instant.
    fn fold(&mut self, cal: &Calendar, now: Timestamp) {
        let Some((from, before)) = self.fold_segment(cal, now) else {
            return;
        };
        if self.breached_at.is_none() && self.elapsed_ms > self.target_ms {
            self.breached_at = Some(reached_in_segment(cal, from, before, self.target_ms, now));
        }
    }

    /// Adds the running segment's business time up to `now` to `elapsed_ms` and restarts the
    /// segment at `now`. Returns where the segment began and the elapsed time before it.
    fn fold_segment(&mut self, cal: &Calendar, now: Timestamp) -> Option<(Timestamp, i64)> {
        let from = self.running_since()?;
        let before = self.elapsed_ms;
        self.elapsed_ms = before.saturating_add(cal.business_millis_between(from, now));
        self.segment_from = Some(now.max(from));
        Some((from, before))
    }

    /// Ends the open pause, if any, at `now` (never before it began); returns the end.
    fn close_open_pause(&mut self, now: Timestamp) -> Timestamp {
        match self.pauses.last_mut() {
            Some(pause) if pause.to.is_none() => {
                let end = now.max(pause.from);
                pause.to = Some(end);
                end
            }
            _ => now,
        }
    }
}

/// When `target` was reached in a segment that began at `from` with `before` already counted
/// and was folded at `now`: exact when the crossing lies in the segment (the calendar's scan
/// always reaches it unless the segment outlasts the horizon, where `now` stands in), the
/// segment start when the target had been passed before it.
fn reached_in_segment(cal: &Calendar, from: Timestamp, before: i64, target: i64, now: Timestamp) -> Timestamp {
    if before > target {
        return from;
    }
    cal.add_business_millis(from, target - before).unwrap_or(now)
}

#[cfg(test)]
mod breach_check_tests {
    use super::*;
    use crate::calendar::CalendarSpec;

    #[test]
    fn a_target_reached_at_closing_time_is_checked_when_business_time_resumes() {
        let office = Calendar::from_spec(
            "office",
            CalendarSpec {
                timezone: "UTC".into(),
                hours: ["mon", "tue", "wed", "thu", "fri"].iter().map(|d| (d.to_string(), vec!["09:00-17:00".to_string()])).collect(),
                ..Default::default()
            },
        )
        .unwrap();
        // Friday 2026-01-09 16:00 UTC, one business hour to go.
        let friday_16 = Timestamp::from_millis(1_767_974_400_000);
        let clock = Clock::start(ClockKind::Resolution, 3_600_000, "office", friday_16);
        assert_eq!(clock.due_at(&office), Some(friday_16.plus_millis(3_600_000)));
        // Monday 2026-01-12 09:00:00.001.
        assert_eq!(clock.breach_check_at(&office), Some(Timestamp::from_millis(1_768_208_400_001)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::CalendarSpec;

    const HOUR: i64 = 3_600_000;
    const MINUTE: i64 = 60_000;

    /// Monday to Friday, 09:00–17:00 in Europe/Berlin, Christmas Day off.
    fn office() -> Calendar {
        let spec: CalendarSpec = toml::from_str(
            r#"
            timezone = "Europe/Berlin"
            holidays = ["2026-12-25"]
            [hours]
            mon = ["09:00-17:00"]
            tue = ["09:00-17:00"]
            wed = ["09:00-17:00"]
            thu = ["09:00-17:00"]
            fri = ["09:00-17:00"]
            "#,
        )
        .unwrap();
        Calendar::from_spec("office", spec).unwrap()
    }

    /// Local wall-clock time in Europe/Berlin.
    fn at(text: &str) -> Timestamp {
        let local: jiff::civil::DateTime = text.parse().unwrap();
        let zoned = local.in_tz("Europe/Berlin").unwrap();
        Timestamp::from_millis(zoned.timestamp().as_millisecond())
    }

    #[test]
    fn a_pause_across_the_night_excludes_only_its_business_hours() {
        let cal = office();
        let start = at("2026-06-09T10:00");
        let mut clock = Clock::start(ClockKind::Resolution, 16 * HOUR, "office", start);
        assert!(clock.pause(&cal, at("2026-06-09T17:00"), "waiting_customer"));
        assert_eq!(clock.elapsed_ms, 7 * HOUR);
        assert!(clock.resume(at("2026-06-10T10:00")));
        let noon = at("2026-06-10T12:00");
        assert_eq!(clock.elapsed_at(&cal, noon), 9 * HOUR);
        assert_eq!(cal.business_millis_between(start, noon) - clock.elapsed_at(&cal, noon), HOUR);
        assert_eq!(
            clock.pauses,
            [Pause { from: at("2026-06-09T17:00"), to: Some(at("2026-06-10T10:00")), reason: "waiting_customer".into() }]
        );
    }

    #[test]
    fn a_policy_change_mid_clock_keeps_elapsed_time_and_pauses() {
        let office = office();
        let always = Calendar::always_utc();
        let mut clock = Clock::start(ClockKind::Resolution, 8 * HOUR, "office", at("2026-06-09T10:00"));
        clock.pause(&office, at("2026-06-09T11:00"), "waiting_partner");
        clock.resume(at("2026-06-09T13:00"));
        let pauses_before = clock.pauses.clone();

        assert!(clock.retarget(&office, &always, 24 * HOUR, at("2026-06-09T15:00")));
        assert_eq!(clock.calendar_key, Calendar::ALWAYS_UTC_KEY);
        assert_eq!(clock.target_ms, 24 * HOUR);
        assert_eq!(clock.elapsed_at(&always, at("2026-06-09T15:00")), 3 * HOUR);
        assert_eq!(clock.pauses, pauses_before);
        // From now on the evening counts too.
        assert_eq!(clock.elapsed_at(&always, at("2026-06-09T19:00")), 7 * HOUR);
        assert_eq!(clock.due_at(&always), Some(at("2026-06-10T12:00")));
        assert_eq!(clock.state_at(&always, at("2026-06-09T19:00")), ClockState::Running);
    }

    #[test]
    fn a_paused_clock_stays_paused_through_a_policy_change() {
        let office = office();
        let mut clock = Clock::start(ClockKind::FirstResponse, 8 * HOUR, "office", at("2026-06-09T10:00"));
        clock.pause(&office, at("2026-06-09T12:00"), "waiting_customer");
        assert!(clock.retarget(&office, &Calendar::always_utc(), HOUR, at("2026-06-09T14:00")));
        assert!(clock.is_paused());
        assert_eq!(clock.elapsed_ms, 2 * HOUR);
        // The new target was exceeded before the change, at an instant folded state no longer
        // holds: the change itself is recorded.
        assert_eq!(clock.breached_at, Some(at("2026-06-09T14:00")));
    }

    #[test]
    fn reopening_resumes_from_the_elapsed_time() {
        let cal = office();
        let mut clock = Clock::start(ClockKind::Resolution, 8 * HOUR, "office", at("2026-06-09T10:00"));
        assert_eq!(clock.stop(&cal, at("2026-06-09T12:00")), ClockState::Met);
        assert_eq!(clock.state_at(&cal, at("2026-06-10T09:30")), ClockState::Met);
        assert_eq!(clock.due_at(&cal), None);

        assert!(clock.reopen(at("2026-06-10T10:00")));
        assert_eq!(clock.elapsed_at(&cal, at("2026-06-10T11:00")), 3 * HOUR);
        assert_eq!(clock.state_at(&cal, at("2026-06-10T11:00")), ClockState::Running);
        assert_eq!(clock.due_at(&cal), Some(at("2026-06-10T16:00")));
        assert!(!clock.reopen(at("2026-06-10T11:00")), "only a stopped clock reopens");
    }

    #[test]
    fn due_date_skips_the_weekend_and_a_holiday() {
        let cal = office();
        // Thursday 15:00: two hours left that day, Friday is Christmas, then the weekend.
        let clock = Clock::start(ClockKind::Resolution, 8 * HOUR, "office", at("2026-12-24T15:00"));
        assert_eq!(clock.due_at(&cal), Some(at("2026-12-28T15:00")));
    }

    #[test]
    fn a_clock_past_its_target_is_breached_at_the_instant_it_reached_it() {
        let cal = office();
        let start = at("2026-06-09T10:00");
        let mut clock = Clock::start(ClockKind::FirstResponse, 4 * HOUR, "office", start);
        assert_eq!(clock.due_at(&cal), Some(at("2026-06-09T14:00")));
        assert_eq!(clock.state_at(&cal, at("2026-06-09T13:59")), ClockState::Running);
        assert_eq!(clock.state_at(&cal, at("2026-06-09T14:00")), ClockState::Running);
        assert_eq!(clock.state_at(&cal, at("2026-06-09T14:01")), ClockState::Breached);
        assert_eq!(clock.remaining_at(&cal, at("2026-06-09T14:30")), -30 * MINUTE);

        let mut on_time = clock.clone();
        assert_eq!(on_time.stop(&cal, at("2026-06-09T14:00")), ClockState::Met);
        assert_eq!(on_time.breached_at, None);

        assert_eq!(clock.stop(&cal, at("2026-06-09T15:00")), ClockState::Breached);
        assert_eq!(clock.breached_at, Some(at("2026-06-09T14:00")));
        assert_eq!(clock.state_at(&cal, at("2026-06-10T09:00")), ClockState::Breached);
        assert_eq!(clock.stop(&cal, at("2026-06-10T09:00")), ClockState::Breached);
        assert_eq!(clock.stopped_at, Some(at("2026-06-09T15:00")), "a second stop changes nothing");
    }

    #[test]
    fn a_target_reached_at_closing_time_breaches_only_when_business_time_resumes() {
        let cal = office();
        let clock = Clock::start(ClockKind::Resolution, 4 * HOUR, "office", at("2026-06-12T13:00"));
        assert_eq!(clock.due_at(&cal), Some(at("2026-06-12T17:00")));
        assert_eq!(clock.state_at(&cal, at("2026-06-13T12:00")), ClockState::Running);
        assert_eq!(clock.clone().stop(&cal, at("2026-06-13T12:00")), ClockState::Met);

        assert_eq!(clock.state_at(&cal, at("2026-06-15T09:30")), ClockState::Breached);
        let mut late = clock.clone();
        assert_eq!(late.stop(&cal, at("2026-06-15T09:30")), ClockState::Breached);
        assert_eq!(late.breached_at, Some(at("2026-06-12T17:00")));
    }

    #[test]
    fn a_breach_is_recorded_once() {
        let mut clock = Clock::start(ClockKind::Stage, HOUR, "office", at("2026-06-09T10:00"));
        assert!(clock.mark_breached(at("2026-06-09T11:00")));
        assert!(!clock.mark_breached(at("2026-06-09T11:05")));
        assert_eq!(clock.breached_at, Some(at("2026-06-09T11:00")));
    }

    #[test]
    fn pausing_past_the_target_keeps_the_breach_instant() {
        let cal = office();
        let mut clock = Clock::start(ClockKind::Resolution, 2 * HOUR, "office", at("2026-06-09T10:00"));
        clock.pause(&cal, at("2026-06-09T15:00"), "waiting_customer");
        assert_eq!(clock.breached_at, Some(at("2026-06-09T12:00")));
        assert_eq!(clock.state_at(&cal, at("2026-06-10T10:00")), ClockState::Breached);
        assert_eq!(clock.due_at(&cal), None, "no due date while paused");

        clock.resume(at("2026-06-10T10:00"));
        assert_eq!(clock.due_at(&cal), Some(at("2026-06-09T12:00")), "the instant it crossed");
    }

    #[test]
    fn thresholds_at_80_and_150_percent() {
        let cal = office();
        let mut clock = Clock::start(ClockKind::Resolution, 5 * HOUR, "office", at("2026-06-09T10:00"));
        assert_eq!(clock.threshold_at(&cal, 80), Some(at("2026-06-09T14:00")));
        assert_eq!(clock.threshold_at(&cal, 100), Some(at("2026-06-09T15:00")));
        assert_eq!(clock.threshold_at(&cal, 150), Some(at("2026-06-10T09:30")));

        clock.pause(&cal, at("2026-06-09T15:30"), "waiting_partner");
        assert_eq!(clock.threshold_at(&cal, 150), None);
        clock.resume(at("2026-06-09T16:00"));
        // 5.5 h elapsed; 2 h more reach 150 %. 80 % was passed before this segment began.
        assert_eq!(clock.threshold_at(&cal, 150), Some(at("2026-06-10T10:00")));
        assert_eq!(clock.threshold_at(&cal, 80), Some(at("2026-06-09T16:00")));
        clock.stop(&cal, at("2026-06-09T16:30"));
        assert_eq!(clock.threshold_at(&cal, 150), None);
    }

    #[test]
    fn pause_and_resume_out_of_turn_change_nothing() {
        let cal = office();
        let mut clock = Clock::start(ClockKind::Stage, 8 * HOUR, "office", at("2026-06-09T10:00"));
        assert!(!clock.resume(at("2026-06-09T10:30")));
        clock.pause(&cal, at("2026-06-09T11:00"), "waiting_customer");
        let paused = clock.clone();
        assert!(!clock.pause(&cal, at("2026-06-09T12:00"), "again"));
        assert_eq!(clock, paused);
        clock.stop(&cal, at("2026-06-09T13:00"));
        assert!(!clock.pause(&cal, at("2026-06-09T14:00"), "after stop"));
        assert!(!clock.resume(at("2026-06-09T14:00")));
        assert!(!clock.retarget(&cal, &cal, HOUR, at("2026-06-09T14:00")));
        assert_eq!(clock.target_ms, 8 * HOUR);
    }

    #[test]
    fn a_clock_ended_unanswered_within_its_target_is_not_applicable_and_past_it_breached() {
        let cal = office();
        let start = at("2026-06-09T10:00");
        let clock = Clock::start(ClockKind::FirstResponse, 2 * HOUR, "office", start);

        let mut early = clock.clone();
        assert_eq!(early.end_unanswered(&cal, at("2026-06-09T11:00")), ClockState::NotApplicable);
        assert!(early.not_applicable && early.breached_at.is_none());
        assert_eq!(early.state_at(&cal, at("2026-06-10T11:00")), ClockState::NotApplicable);
        assert_eq!(early.stop(&cal, at("2026-06-10T11:00")), ClockState::NotApplicable, "a second stop keeps the outcome");
        // Reopened, it counts again from the time it had.
        assert!(early.reopen(at("2026-06-09T12:00")));
        assert!(!early.not_applicable);
        assert_eq!(early.state_at(&cal, at("2026-06-09T12:30")), ClockState::Running);

        let mut late = clock;
        assert_eq!(late.end_unanswered(&cal, at("2026-06-09T13:00")), ClockState::Breached);
        assert!(!late.not_applicable);
        assert_eq!(late.breached_at, Some(at("2026-06-09T12:00")));
        assert_eq!(late.end_unanswered(&cal, at("2026-06-09T14:00")), ClockState::Breached);
    }

    #[test]
    fn stopping_a_paused_clock_closes_its_pause() {
        let cal = office();
        let mut clock = Clock::start(ClockKind::Resolution, 8 * HOUR, "office", at("2026-06-09T10:00"));
        clock.pause(&cal, at("2026-06-09T11:00"), "waiting_customer");
        assert_eq!(clock.stop(&cal, at("2026-06-10T10:00")), ClockState::Met);
        assert_eq!(clock.elapsed_ms, HOUR);
        assert_eq!(clock.pauses[0].to, Some(at("2026-06-10T10:00")));
    }

    #[test]
    fn lowering_the_target_below_elapsed_breaches_where_it_was_crossed_and_raising_it_clears() {
        let cal = office();
        let mut clock = Clock::start(ClockKind::Resolution, 8 * HOUR, "office", at("2026-06-09T10:00"));
        clock.retarget(&cal, &cal, 3 * HOUR, at("2026-06-09T14:00"));
        assert_eq!(clock.breached_at, Some(at("2026-06-09T13:00")));
        assert_eq!(clock.state_at(&cal, at("2026-06-09T14:00")), ClockState::Breached);

        clock.retarget(&cal, &cal, 8 * HOUR, at("2026-06-09T15:00"));
        assert_eq!(clock.breached_at, None);
        assert_eq!(clock.elapsed_at(&cal, at("2026-06-09T15:00")), 5 * HOUR);
        assert_eq!(clock.state_at(&cal, at("2026-06-09T15:00")), ClockState::Running);
    }

    #[test]
    fn a_clock_round_trips_through_json() {
        let cal = office();
        let mut clock = Clock::start(ClockKind::FirstResponse, 2 * HOUR, "office", at("2026-06-09T10:00"));
        clock.pause(&cal, at("2026-06-09T11:00"), "waiting_customer");
        let json = serde_json::to_value(&clock).unwrap();
        assert_eq!(json["kind"], "first_response");
        assert_eq!(json["pauses"][0]["from"], "2026-06-09T09:00:00.000Z");
        assert_eq!(serde_json::from_value::<Clock>(json).unwrap(), clock);
    }

    #[test]
    fn clock_kinds_and_states_parse_their_wire_names() {
        for kind in ClockKind::ALL {
            assert_eq!(ClockKind::parse("kind", kind.as_str()).unwrap(), *kind);
        }
        assert_eq!(ClockState::parse("state", "breached").unwrap(), ClockState::Breached);
        assert_eq!(ClockKind::parse("kind", "response").unwrap_err().field, "kind");
    }
}
