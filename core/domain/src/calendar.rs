//! Business calendars: when the clock of a service level runs. A calendar is either 24×7 or a
//! set of weekly opening hours in one IANA time zone, minus whole-day holidays.
//!
//! Business time is measured between real instants. Each local opening boundary (say 09:00 on
//! 2026-03-29 in Europe/Berlin) is turned into an instant with jiff's `compatible`
//! disambiguation, the same rule as RFC 5545 and Temporal:
//! - a boundary inside a gap (clocks jump forward) is read with the offset from before the
//!   gap, so it lands after the gap: 02:30 on a 02:00→03:00 night becomes 03:30 of the new time;
//! - a boundary inside a fold (clocks fall back) takes the first of its two instants.
//!
//! So a 09:00–17:00 day is 8 h on the day clocks change overnight, while 00:00–06:00 on that
//! night is really 5 h (spring) or 7 h (autumn) long.

use super::{error::Errors, time::Timestamp, FieldError, ValidationError};
use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// How many local days `add_business_millis` looks ahead before it gives up (about three
/// years). Real targets end within weeks; the limit keeps one call cheap when a target is
/// absurd or holidays cover nearly every opening day.
pub const MAX_SCAN_DAYS: u32 = 3 * 366;

const MINUTES_PER_DAY: u16 = 24 * 60;

pub const WEEKDAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One opening interval `[start, end)` in local wall-clock minutes after midnight;
/// `end` may be 1440 (written `24:00`), the end of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalInterval {
    start_minute: u16,
    end_minute: u16,
}

impl LocalInterval {
    pub fn start_minute(self) -> u16 {
        self.start_minute
    }

    pub fn end_minute(self) -> u16 {
        self.end_minute
    }

    /// Parses `HH:MM-HH:MM`; the error message says what is wrong, the caller names the field.
    fn parse(text: &str) -> Result<Self, String> {
        let malformed = || format!("`{text}` is not an interval such as 09:00-17:00");
        let (start, end) = text.trim().split_once('-').ok_or_else(malformed)?;
        let start_minute = parse_clock_minute(start.trim()).ok_or_else(malformed)?;
        let end_minute = parse_clock_minute(end.trim()).ok_or_else(malformed)?;
        if end_minute == start_minute {
            return Err(format!("`{text}` is empty: it ends when it starts"));
        }
        if end_minute < start_minute {
            return Err(format!(
                "`{text}` ends before it starts; hours cannot cross midnight, so split them \
                 into an interval ending at 24:00 and one starting at 00:00 the next day"
            ));
        }
        Ok(LocalInterval { start_minute, end_minute })
    }
}

impl fmt::Display for LocalInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, e) = (self.start_minute, self.end_minute);
        write!(f, "{:02}:{:02}-{:02}:{:02}", s / 60, s % 60, e / 60, e % 60)
    }
}

/// `HH:MM` as minutes after midnight, `24:00` included; anything else is `None`.
fn parse_clock_minute(text: &str) -> Option<u16> {
    let bytes = text.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' {
        return None;
    }
    let digits = [bytes[0], bytes[1], bytes[3], bytes[4]];
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let [h1, h2, m1, m2] = digits.map(|d| u16::from(d - b'0'));
    let (hour, minute) = (h1 * 10 + h2, m1 * 10 + m2);
    match (hour, minute) {
        (0..=23, 0..=59) | (24, 0) => Some(hour * 60 + minute),
        _ => None,
    }
}

/// Opening hours for each weekday, Monday first; each day's intervals are sorted and disjoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyHours {
    days: [Vec<LocalInterval>; 7],
}

impl WeeklyHours {
    pub fn on(&self, weekday: Weekday) -> &[LocalInterval] {
        &self.days[weekday_index(weekday)]
    }
}

fn weekday_index(weekday: Weekday) -> usize {
    // Monday is 0 and Sunday 6, so the cast cannot lose anything.
    weekday.to_monday_zero_offset() as usize
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusinessHours {
    /// Every minute of every day counts (holidays still do not).
    Always,
    Weekly(WeeklyHours),
}

/// A calendar as written in configuration, before validation:
///
/// ```toml
/// timezone = "Europe/Berlin"
/// holidays = ["2026-12-25"]
/// [hours]
/// mon = ["09:00-12:00", "13:00-17:00"]
/// ```
///
/// or `always = true` instead of `[hours]` for a 24×7 calendar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    /// Display name; the key when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// IANA time zone name such as `Europe/Berlin`.
    #[serde(default)]
    pub timezone: String,
    #[serde(default)]
    pub always: bool,
    /// Weekday key (`mon` … `sun`) to intervals `HH:MM-HH:MM`.
    #[serde(default)]
    pub hours: BTreeMap<String, Vec<String>>,
    /// Local dates `YYYY-MM-DD` without business time.
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// A validated business calendar with its time zone resolved once, so the arithmetic never
/// looks it up again. Cheap to clone (the zone rules are shared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    key: String,
    name: String,
    timezone: String,
    zone: TimeZone,
    hours: BusinessHours,
    holidays: BTreeSet<Date>,
}

/// One stretch of business time between two instants, `[start, end)` in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    start: i64,
    end: i64,
}

impl Calendar {
    /// Key of the built-in 24×7 UTC calendar; configured calendars cannot take it.
    pub const ALWAYS_UTC_KEY: &'static str = "always";

    /// 24×7 in UTC without holidays: business time is wall time. For policies without a
    /// calendar.
    pub fn always_utc() -> Calendar {
        Calendar {
            key: Self::ALWAYS_UTC_KEY.to_owned(),
            name: "24×7 (UTC)".to_owned(),
            timezone: "UTC".to_owned(),
            zone: TimeZone::UTC,
            hours: BusinessHours::Always,
            holidays: BTreeSet::new(),
        }
    }

    /// Validates a spec; the error lists every offending field (`timezone`, `hours.mon[1]`,
    /// `holidays[0]` …).
    pub fn from_spec(key: &str, spec: CalendarSpec) -> Result<Calendar, ValidationError> {
        let mut errors = Errors::default();
        let key = key.trim();
        if key.is_empty() {
            errors.push(FieldError::new("key", "must not be empty"));
        } else if key == Self::ALWAYS_UTC_KEY {
            errors.push(FieldError::new("key", format!("`{key}` is reserved for the built-in 24×7 UTC calendar")));
        }
        let name = match spec.name.as_deref().map(str::trim) {
            None => key.to_owned(),
            Some("") => {
                errors.push(FieldError::new("name", "must not be empty when given"));
                String::new()
            }
            Some(name) => name.to_owned(),
        };
        let zone = errors.take(resolve_zone(&spec.timezone));
        let hours = match validate_hours(spec.always, &spec.hours) {
            Ok(hours) => Some(hours),
            Err(hour_errors) => {
                hour_errors.into_iter().for_each(|e| errors.push(e));
                None
            }
        };
        let mut holidays = BTreeSet::new();
        for (i, text) in spec.holidays.iter().enumerate() {
            if let Some(date) = errors.take(parse_holiday(&format!("holidays[{i}]"), text)) {
                holidays.insert(date);
            }
        }
        errors.finish()?;
        Ok(Calendar {
            key: key.to_owned(),
            name,
            timezone: spec.timezone.trim().to_owned(),
            zone: zone.expect("validated"),
            hours: hours.expect("validated"),
            holidays,
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The IANA name as configured.
    pub fn timezone(&self) -> &str {
        &self.timezone
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    pub fn hours(&self) -> &BusinessHours {
        &self.hours
    }

    pub fn holidays(&self) -> &BTreeSet<Date> {
        &self.holidays
    }

    /// Business milliseconds in `[from, to)`; 0 when `to <= from`. Costs one step per local
    /// day in the range.
    pub fn business_millis_between(&self, from: Timestamp, to: Timestamp) -> i64 {
        let (from, to) = (from.as_millis(), to.as_millis());
        if to <= from {
            return 0;
        }
        if self.is_wall_time() {
            return to - from;
        }
        self.windows(from, to, u32::MAX).map(|w| w.end.min(to) - w.start.max(from)).filter(|ms| *ms > 0).sum()
    }

    /// The earliest instant `t >= from` with `business_millis_between(from, t) == business_ms`.
    /// `from` itself when `business_ms <= 0`, even outside business hours.
    ///
    /// `None` when that instant lies more than [`MAX_SCAN_DAYS`] local days after `from` (or
    /// past the year 9999): a holiday-heavy schedule or an absurd target, never a real due
    /// date.
    pub fn add_business_millis(&self, from: Timestamp, business_ms: i64) -> Option<Timestamp> {
        if business_ms <= 0 {
            return Some(from);
        }
        let from = from.as_millis();
        if self.is_wall_time() {
            return from.checked_add(business_ms).map(Timestamp::from_millis);
        }
        let mut remaining = business_ms;
        for window in self.windows(from, i64::MAX, MAX_SCAN_DAYS) {
            let start = window.start.max(from);
            let available = window.end - start;
            if available <= 0 {
                continue;
            }
            if remaining <= available {
                return Some(Timestamp::from_millis(start + remaining));
            }
            remaining -= available;
        }
        None
    }

    fn is_wall_time(&self) -> bool {
        matches!(self.hours, BusinessHours::Always) && self.holidays.is_empty()
    }

    /// Business windows in ascending order, from the local day before `from`'s date until a
    /// day starts at or after `until`, for at most `max_days + 1` days. The extra day matters
    /// where a gap straddles midnight: there `from` can already show the next date while
    /// still inside the previous date's business time.
    fn windows(&self, from: i64, until: i64, max_days: u32) -> Windows<'_> {
        let local = self.zone.to_datetime(to_jiff(from));
        Windows {
            calendar: self,
            next_date: local.date().yesterday().ok(),
            days_left: max_days.saturating_add(1),
            until,
            day: Vec::new(),
            index: 0,
        }
    }

    /// The instant of a local date and minute (1440 meaning the next midnight), with
    /// `compatible` disambiguation. `None` only at the ends of jiff's range.
    fn instant(&self, date: Date, minute: u16) -> Option<i64> {
        let local = if minute >= MINUTES_PER_DAY {
            date.tomorrow().ok()?.at(0, 0, 0, 0)
        } else {
            // Both parts are below 60 and 24, so they fit in i8.
            date.at((minute / 60) as i8, (minute % 60) as i8, 0, 0)
        };
        self.instant_of(local)
    }

    fn instant_of(&self, local: DateTime) -> Option<i64> {
        let instant = self.zone.to_ambiguous_timestamp(local).compatible().ok()?;
        Some(instant.as_millisecond())
    }

    /// Fills `out` with the windows of one local date. Every window lies within
    /// `[midnight, next midnight)` of that date and they never go backwards, even when a
    /// boundary inside a gap maps later than the boundary after it. Because each day is
    /// computed on its own, the same date always yields the same windows, which keeps
    /// `business_millis_between` additive. Returns the instant the day starts.
    fn fill_day(&self, date: Date, out: &mut Vec<Window>) -> Option<i64> {
        out.clear();
        let day_start = self.instant(date, 0)?;
        if self.holidays.contains(&date) {
            return Some(day_start);
        }
        let day_end = self.instant(date, MINUTES_PER_DAY)?;
        let all_day = [LocalInterval { start_minute: 0, end_minute: MINUTES_PER_DAY }];
        let intervals: &[LocalInterval] = match &self.hours {
            BusinessHours::Always => &all_day,
            BusinessHours::Weekly(week) => week.on(date.weekday()),
        };
        let mut floor = day_start;
        for interval in intervals {
            let start = self.instant(date, interval.start_minute)?.clamp(floor, day_end);
            let end = self.instant(date, interval.end_minute)?.clamp(start, day_end);
            if end > start {
                out.push(Window { start, end });
            }
            floor = end;
        }
        Some(day_start)
    }
}

/// Jiff cannot represent instants beyond about ±9999 years; clamp to its range, which no
/// business date reaches.
fn to_jiff(ms: i64) -> jiff::Timestamp {
    let ms = ms.clamp(jiff::Timestamp::MIN.as_millisecond(), jiff::Timestamp::MAX.as_millisecond());
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// Walks a calendar day by day, yielding its business windows in order.
struct Windows<'a> {
    calendar: &'a Calendar,
    next_date: Option<Date>,
    days_left: u32,
    until: i64,
    day: Vec<Window>,
    index: usize,
}

impl Iterator for Windows<'_> {
    type Item = Window;

    fn next(&mut self) -> Option<Window> {
        loop {
            if let Some(window) = self.day.get(self.index) {
                self.index += 1;
                return Some(*window);
            }
            let date = self.next_date?;
            if self.days_left == 0 {
                return None;
            }
            self.days_left -= 1;
            self.index = 0;
            let Some(day_start) = self.calendar.fill_day(date, &mut self.day) else {
                self.next_date = None;
                self.day.clear();
                continue;
            };
            if day_start >= self.until {
                self.next_date = None;
                self.day.clear();
                continue;
            }
            self.next_date = date.tomorrow().ok();
        }
    }
}

fn resolve_zone(name: &str) -> Result<TimeZone, FieldError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(FieldError::new("timezone", "is required: an IANA time zone such as Europe/Berlin"));
    }
    jiff::tz::db()
        .get(name)
        .map_err(|_| FieldError::new("timezone", format!("`{name}` is not a known IANA time zone such as Europe/Berlin")))
}

fn validate_hours(always: bool, hours: &BTreeMap<String, Vec<String>>) -> Result<BusinessHours, Vec<FieldError>> {
    if always {
        return if hours.is_empty() {
            Ok(BusinessHours::Always)
        } else {
            Err(vec![FieldError::new("always", "cannot be combined with hours: a 24×7 calendar has no weekly hours")])
        };
    }
    let mut errors = Vec::new();
    let mut days: [Vec<LocalInterval>; 7] = Default::default();
    for (day_key, texts) in hours {
        let Some(day) = WEEKDAY_KEYS.iter().position(|k| k == day_key) else {
            errors.push(FieldError::new(
                format!("hours.{day_key}"),
                format!("`{day_key}` is not a weekday; use {}", WEEKDAY_KEYS.join(", ")),
            ));
            continue;
        };
        let mut parsed: Vec<(usize, LocalInterval)> = Vec::with_capacity(texts.len());
        for (i, text) in texts.iter().enumerate() {
            let field = format!("hours.{day_key}[{i}]");
            match LocalInterval::parse(text) {
                Ok(interval) => parsed.push((i, interval)),
                Err(message) => errors.push(FieldError::new(field, message)),
            }
        }
        parsed.sort_by_key(|(_, interval)| *interval);
        for pair in parsed.windows(2) {
            let ((earlier_index, earlier), (later_index, later)) = (pair[0], pair[1]);
            if later.start_minute < earlier.end_minute {
                errors.push(FieldError::new(
                    format!("hours.{day_key}[{later_index}]"),
                    format!("`{later}` overlaps `{earlier}` (hours.{day_key}[{earlier_index}])"),
                ));
            }
        }
        days[day] = parsed.into_iter().map(|(_, interval)| interval).collect();
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if days.iter().all(Vec::is_empty) {
        return Err(vec![FieldError::new("hours", "has no business hours on any weekday; give some, or set always = true for 24×7")]);
    }
    Ok(BusinessHours::Weekly(WeeklyHours { days }))
}

/// A strict `YYYY-MM-DD`; jiff alone would also take a date with a time attached.
fn parse_holiday(field: &str, text: &str) -> Result<Date, FieldError> {
    let bad = || FieldError::new(field, format!("`{text}` is not a date such as 2026-12-25"));
    let bytes = text.as_bytes();
    let shape_ok =
        bytes.len() == 10 && bytes.iter().enumerate().all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() });
    if !shape_ok {
        return Err(bad());
    }
    let year: i16 = text[0..4].parse().map_err(|_| bad())?;
    let month: i8 = text[5..7].parse().map_err(|_| bad())?;
    let day: i8 = text[8..10].parse().map_err(|_| bad())?;
    Date::new(year, month, day).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const MINUTE: i64 = 60_000;

    fn spec(timezone: &str, hours: &[(&str, &[&str])], holidays: &[&str]) -> CalendarSpec {
        CalendarSpec {
            name: None,
            timezone: timezone.to_owned(),
            always: false,
            hours: hours.iter().map(|(day, intervals)| (day.to_string(), intervals.iter().map(|s| s.to_string()).collect())).collect(),
            holidays: holidays.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn calendar(timezone: &str, hours: &[(&str, &[&str])], holidays: &[&str]) -> Calendar {
        Calendar::from_spec("test", spec(timezone, hours, holidays)).unwrap()
    }

    const WEEKDAYS: [&str; 5] = ["mon", "tue", "wed", "thu", "fri"];
    const ALL_DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

    fn same_hours<'a>(days: &[&'a str], intervals: &'a [&'a str]) -> Vec<(&'a str, &'a [&'a str])> {
        days.iter().map(|d| (*d, intervals)).collect()
    }

    /// Monday to Friday, 09:00–17:00, Europe/Berlin.
    fn office_berlin(holidays: &[&str]) -> Calendar {
        calendar("Europe/Berlin", &same_hours(&WEEKDAYS, &["09:00-17:00"]), holidays)
    }

    /// A local wall-clock time in the calendar's zone (`compatible` where ambiguous).
    fn local(cal: &Calendar, text: &str) -> Timestamp {
        let dt: DateTime = text.parse().unwrap();
        Timestamp::from_millis(dt.to_zoned(cal.zone().clone()).unwrap().timestamp().as_millisecond())
    }

    fn utc(text: &str) -> Timestamp {
        Timestamp::parse("t", text).unwrap()
    }

    #[test]
    fn weekend_is_skipped() {
        let cal = office_berlin(&[]);
        let friday = local(&cal, "2026-03-27T16:00");
        assert_eq!(cal.add_business_millis(friday, 2 * HOUR), Some(local(&cal, "2026-03-30T10:00")));
        assert_eq!(cal.business_millis_between(friday, local(&cal, "2026-03-30T10:00")), 2 * HOUR);
    }

    #[test]
    fn lunch_break_is_not_business_time() {
        let cal = calendar("Europe/Berlin", &same_hours(&WEEKDAYS, &["09:00-12:00", "13:00-17:00"]), &[]);
        let morning = local(&cal, "2026-06-10T11:00");
        assert_eq!(cal.add_business_millis(morning, 2 * HOUR), Some(local(&cal, "2026-06-10T14:00")));
        assert_eq!(cal.business_millis_between(local(&cal, "2026-06-10T00:00"), local(&cal, "2026-06-11T00:00")), 7 * HOUR);
        assert_eq!(cal.business_millis_between(local(&cal, "2026-06-10T12:10"), local(&cal, "2026-06-10T12:50")), 0);
    }

    #[test]
    fn holiday_has_no_business_time() {
        let cal = office_berlin(&["2026-12-24", "2026-12-25"]);
        let wednesday = local(&cal, "2026-12-23T16:00");
        // Thursday and Friday are holidays, then the weekend.
        assert_eq!(cal.add_business_millis(wednesday, 2 * HOUR), Some(local(&cal, "2026-12-28T10:00")));
        assert_eq!(cal.business_millis_between(local(&cal, "2026-12-24T00:00"), local(&cal, "2026-12-28T00:00")), 0);
    }

    #[test]
    fn berlin_night_hours_across_dst_switches_are_real_elapsed_time() {
        let cal = calendar("Europe/Berlin", &same_hours(&ALL_DAYS, &["00:00-06:00"]), &[]);
        // Spring forward on 2026-03-29: 02:00 CET becomes 03:00 CEST.
        let spring_night = cal.business_millis_between(utc("2026-03-28T12:00:00Z"), utc("2026-03-29T12:00:00Z"));
        assert_eq!(spring_night, 5 * HOUR);
        assert_eq!(cal.add_business_millis(utc("2026-03-28T23:00:00Z"), 5 * HOUR), Some(utc("2026-03-29T04:00:00Z")));
        // Fall back on 2026-10-25: 03:00 CEST becomes 02:00 CET.
        let autumn_night = cal.business_millis_between(utc("2026-10-24T12:00:00Z"), utc("2026-10-25T12:00:00Z"));
        assert_eq!(autumn_night, 7 * HOUR);
        assert_eq!(cal.add_business_millis(utc("2026-10-24T22:00:00Z"), 7 * HOUR), Some(utc("2026-10-25T05:00:00Z")));
    }

    #[test]
    fn berlin_office_hours_stay_eight_hours_on_dst_days() {
        let cal = calendar("Europe/Berlin", &same_hours(&ALL_DAYS, &["09:00-17:00"]), &[]);
        for day in ["2026-03-29", "2026-10-25"] {
            let start = local(&cal, &format!("{day}T00:00"));
            let end = local(&cal, &format!("{day}T23:59"));
            assert_eq!(cal.business_millis_between(start, end), 8 * HOUR, "{day}");
        }
        // Saturday 16:00 CET (15:00Z) + 2 h = Sunday 10:00 CEST (08:00Z).
        assert_eq!(cal.add_business_millis(utc("2026-03-28T15:00:00Z"), 2 * HOUR), Some(utc("2026-03-29T08:00:00Z")));
    }

    #[test]
    fn new_york_night_and_office_hours_across_dst_switches() {
        let night = calendar("America/New_York", &same_hours(&ALL_DAYS, &["00:00-06:00"]), &[]);
        // 2026-03-08 02:00 EST becomes 03:00 EDT; 2026-11-01 02:00 EDT becomes 01:00 EST.
        assert_eq!(night.business_millis_between(utc("2026-03-08T00:00:00Z"), utc("2026-03-09T00:00:00Z")), 5 * HOUR);
        assert_eq!(night.business_millis_between(utc("2026-11-01T00:00:00Z"), utc("2026-11-02T00:00:00Z")), 7 * HOUR);
        let office = calendar("America/New_York", &same_hours(&ALL_DAYS, &["09:00-17:00"]), &[]);
        assert_eq!(office.business_millis_between(utc("2026-03-08T00:00:00Z"), utc("2026-03-09T00:00:00Z")), 8 * HOUR);
        assert_eq!(office.business_millis_between(utc("2026-11-01T00:00:00Z"), utc("2026-11-02T00:00:00Z")), 8 * HOUR);
        // Saturday 16:00 EST (21:00Z) + 2 h = Sunday 10:00 EDT (14:00Z).
        assert_eq!(office.add_business_millis(utc("2026-03-07T21:00:00Z"), 2 * HOUR), Some(utc("2026-03-08T14:00:00Z")));
    }

    #[test]
    fn boundaries_inside_a_gap_or_fold_use_compatible_disambiguation() {
        let cal = calendar("Europe/Berlin", &same_hours(&ALL_DAYS, &["02:30-04:00"]), &[]);
        // Gap: 02:30 is read as CET, i.e. 03:30 CEST (01:30Z); 04:00 CEST is 02:00Z.
        assert_eq!(cal.business_millis_between(utc("2026-03-28T12:00:00Z"), utc("2026-03-29T12:00:00Z")), 30 * MINUTE);
        // Fold: 02:30 takes its first instant (CEST, 00:30Z); 04:00 CET is 03:00Z.
        assert_eq!(cal.business_millis_between(utc("2026-10-24T12:00:00Z"), utc("2026-10-25T12:00:00Z")), 150 * MINUTE);
        // A boundary that maps after the next one (02:45 → 01:45Z, 03:15 → 01:15Z) yields no
        // time rather than negative time.
        let inverted = calendar("Europe/Berlin", &same_hours(&ALL_DAYS, &["02:45-03:15"]), &[]);
        assert_eq!(inverted.business_millis_between(utc("2026-03-28T12:00:00Z"), utc("2026-03-29T12:00:00Z")), 0);
        // 02:30 maps to 01:30Z but 03:00 to 01:00Z: the second interval starts where the first
        // ended instead of counting 01:00Z–01:30Z twice. 01:00–02:00 CET plus 03:00–04:00 CEST.
        let around_gap = calendar("Europe/Berlin", &same_hours(&ALL_DAYS, &["01:00-02:30", "03:00-04:00"]), &[]);
        let night = (utc("2026-03-28T12:00:00Z"), utc("2026-03-29T12:00:00Z"));
        assert_eq!(around_gap.business_millis_between(night.0, night.1), 2 * HOUR);
        assert_eq!(around_gap.add_business_millis(night.0, 90 * MINUTE), Some(utc("2026-03-29T01:30:00Z")));
    }

    #[test]
    fn a_gap_straddling_midnight_keeps_the_previous_days_hours() {
        // No real zone does this today, so a POSIX rule: UTC+3, jumping at 23:30 on
        // 2026-03-29 (20:30Z) to 00:30 of the next date at UTC+4.
        let mut cal = calendar("UTC", &same_hours(&ALL_DAYS, &["20:00-24:00"]), &[]);
        cal.zone = TimeZone::posix("XST-3XDT,M3.5.0/23:30,M10.5.0/3").unwrap();
        // 24:00 on the 29th is read as UTC+3, i.e. 21:00Z, so that day's hours run until then
        // although the local date already shows the 30th from 20:30Z on.
        let from = utc("2026-03-29T20:40:00Z");
        assert_eq!(cal.business_millis_between(from, utc("2026-03-29T21:00:00Z")), 20 * MINUTE);
        assert_eq!(cal.add_business_millis(from, 20 * MINUTE), Some(utc("2026-03-29T21:00:00Z")));
    }

    #[test]
    fn always_utc_is_wall_time() {
        let cal = Calendar::always_utc();
        let from = utc("2026-03-28T10:00:00Z");
        let to = utc("2026-04-02T07:30:00.250Z");
        assert_eq!(cal.business_millis_between(from, to), to.as_millis() - from.as_millis());
        assert_eq!(cal.add_business_millis(from, 5 * 24 * HOUR), Some(utc("2026-04-02T10:00:00Z")));
    }

    #[test]
    fn whole_days_in_a_dst_zone_are_wall_time() {
        let full_days = calendar("Europe/Berlin", &same_hours(&ALL_DAYS, &["00:00-24:00"]), &[]);
        let always_berlin = Calendar::from_spec(
            "berlin-24x7",
            CalendarSpec { always: true, timezone: "Europe/Berlin".into(), holidays: vec!["2026-01-01".into()], ..CalendarSpec::default() },
        )
        .unwrap();
        for (from, to) in [("2026-03-28T10:00:00Z", "2026-03-30T10:00:00Z"), ("2026-10-24T21:59:59.999Z", "2026-10-26T01:00:00Z")] {
            let (from, to) = (utc(from), utc(to));
            let wall = to.as_millis() - from.as_millis();
            assert_eq!(full_days.business_millis_between(from, to), wall);
            assert_eq!(always_berlin.business_millis_between(from, to), wall);
        }
        // The 24×7 calendar with a holiday does skip that day.
        assert_eq!(always_berlin.business_millis_between(utc("2025-12-31T12:00:00Z"), utc("2026-01-02T12:00:00Z")), 24 * HOUR);
    }

    #[test]
    fn adding_zero_returns_the_start_even_outside_hours() {
        let cal = office_berlin(&[]);
        let saturday = local(&cal, "2026-03-28T03:00");
        assert_eq!(cal.add_business_millis(saturday, 0), Some(saturday));
        assert_eq!(cal.add_business_millis(saturday, 1), Some(local(&cal, "2026-03-30T09:00").plus_millis(1)));
    }

    #[test]
    fn between_is_zero_unless_to_is_after_from() {
        let cal = office_berlin(&[]);
        let t = local(&cal, "2026-06-10T10:00");
        assert_eq!(cal.business_millis_between(t, t), 0);
        assert_eq!(cal.business_millis_between(t, local(&cal, "2026-06-10T09:30")), 0);
    }

    #[test]
    fn thirty_business_days_end_on_the_sixth_friday() {
        let cal = office_berlin(&[]);
        let monday = local(&cal, "2026-03-02T09:00");
        let due = cal.add_business_millis(monday, 30 * 8 * HOUR).unwrap();
        // 30 working days end on the Friday of the sixth week, across the spring switch.
        assert_eq!(due, local(&cal, "2026-04-10T17:00"));
        assert_eq!(cal.business_millis_between(monday, due), 30 * 8 * HOUR);
    }

    #[test]
    fn a_schedule_buried_in_holidays_gives_no_due_date_within_the_horizon() {
        // Open only on Mondays, and every Monday for four years is a holiday.
        let first_monday = Date::new(2026, 1, 5).unwrap();
        let holidays: Vec<String> =
            (0..4 * 53).map(|week| first_monday.checked_add(jiff::Span::new().weeks(week)).unwrap().to_string()).collect();
        let holiday_refs: Vec<&str> = holidays.iter().map(String::as_str).collect();
        let cal = calendar("Europe/Berlin", &[("mon", &["09:00-17:00"])], &holiday_refs);
        let from = local(&cal, "2026-01-01T00:00");
        assert_eq!(cal.add_business_millis(from, HOUR), None);
        assert_eq!(cal.business_millis_between(from, local(&cal, "2029-12-31T00:00")), 0);
    }

    /// Deterministic pseudo-random numbers (xorshift64), so a failing case can be replayed.
    struct Cases(u64);

    impl Cases {
        fn next(&mut self, below: i64) -> i64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % below as u64) as i64
        }
    }

    fn sample_calendars() -> Vec<Calendar> {
        vec![
            calendar("Europe/Berlin", &same_hours(&WEEKDAYS, &["09:00-12:00", "13:00-17:30"]), &["2026-04-03", "2026-12-25"]),
            calendar(
                "America/New_York",
                &[("mon", &["00:00-06:00", "20:00-24:00"]), ("sun", &["01:30-02:30"]), ("sat", &["10:00-14:00"])],
                &[],
            ),
            calendar("Europe/Berlin", &same_hours(&ALL_DAYS, &["02:15-02:45", "02:45-03:30"]), &[]),
            Calendar::always_utc(),
        ]
    }

    #[test]
    fn adding_then_measuring_round_trips_to_the_millisecond() {
        let mut cases = Cases(0x5eed_cafe);
        let year_start = utc("2026-01-01T00:00:00Z").as_millis();
        for cal in sample_calendars() {
            for _ in 0..300 {
                let from = Timestamp::from_millis(year_start + cases.next(365 * 24 * HOUR));
                let amount = cases.next(40 * 8 * HOUR);
                let due = cal.add_business_millis(from, amount).unwrap();
                assert!(due >= from);
                assert_eq!(cal.business_millis_between(from, due), amount, "{} from {from} + {amount}", cal.key());
                if amount > 0 {
                    // Earliest: one millisecond sooner is not enough.
                    assert_eq!(cal.business_millis_between(from, due.plus_millis(-1)), amount - 1);
                }
            }
        }
    }

    #[test]
    fn business_time_is_additive_over_split_ranges() {
        let mut cases = Cases(0xc0ff_ee00);
        let year_start = utc("2026-01-01T00:00:00Z").as_millis();
        for cal in sample_calendars() {
            for _ in 0..300 {
                let mut points = [0; 3].map(|_| year_start + cases.next(365 * 24 * HOUR));
                points.sort_unstable();
                let [a, b, c] = points.map(Timestamp::from_millis);
                assert_eq!(
                    cal.business_millis_between(a, c),
                    cal.business_millis_between(a, b) + cal.business_millis_between(b, c),
                    "{} {a} {b} {c}",
                    cal.key()
                );
            }
        }
    }

    #[test]
    fn spec_reads_from_toml() {
        let weekly: CalendarSpec = toml::from_str(
            r#"
            name = "Berlin office"
            timezone = "Europe/Berlin"
            holidays = ["2026-12-25"]
            [hours]
            mon = ["09:00-12:00", "13:00-17:00"]
            fri = ["09:00-15:00"]
            "#,
        )
        .unwrap();
        let cal = Calendar::from_spec("berlin", weekly).unwrap();
        assert_eq!(cal.name(), "Berlin office");
        assert_eq!(cal.timezone(), "Europe/Berlin");
        let BusinessHours::Weekly(week) = cal.hours() else { panic!("weekly hours expected") };
        let monday: Vec<String> = week.on(Weekday::Monday).iter().map(ToString::to_string).collect();
        assert_eq!(monday, ["09:00-12:00", "13:00-17:00"]);
        assert!(week.on(Weekday::Tuesday).is_empty());
        assert!(cal.holidays().contains(&Date::new(2026, 12, 25).unwrap()));

        let always: CalendarSpec = toml::from_str("timezone = \"UTC\"\nalways = true").unwrap();
        let cal = Calendar::from_spec("support", always).unwrap();
        assert_eq!(cal.name(), "support");
        assert_eq!(cal.hours(), &BusinessHours::Always);
    }

    #[test]
    fn intervals_may_end_at_midnight_and_come_in_any_order() {
        let cal = calendar("UTC", &[("sat", &["20:00-24:00", "08:00-12:00"])], &[]);
        let BusinessHours::Weekly(week) = cal.hours() else { panic!("weekly hours expected") };
        assert_eq!(week.on(Weekday::Saturday).iter().map(ToString::to_string).collect::<Vec<_>>(), ["08:00-12:00", "20:00-24:00"]);
        assert_eq!(cal.business_millis_between(utc("2026-03-28T00:00:00Z"), utc("2026-03-29T00:00:00Z")), 8 * HOUR);
    }

    fn fields_of(err: ValidationError) -> Vec<String> {
        err.errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn spec_errors_name_each_offending_field() {
        let err = Calendar::from_spec(
            "berlin",
            spec(
                "Europe/Berln",
                &[
                    ("mon", &["09:00-12:00", "11:00-14:00"]),
                    ("tue", &["9-17"]),
                    ("wed", &["17:00-09:00"]),
                    ("thu", &["10:00-10:00"]),
                    ("funday", &["09:00-10:00"]),
                ],
                &["2026-12-25", "2026-02-30", "2026-12-25T10:00"],
            ),
        )
        .unwrap_err();
        assert_eq!(
            fields_of(err.clone()),
            ["timezone", "hours.funday", "hours.mon[1]", "hours.thu[0]", "hours.tue[0]", "hours.wed[0]", "holidays[1]", "holidays[2]"]
        );
        let message = err.to_string();
        for expected in [
            "not a known IANA time zone",
            "overlaps `09:00-12:00`",
            "not an interval",
            "ends before it starts",
            "is empty",
            "not a weekday",
            "not a date",
        ] {
            assert!(message.contains(expected), "{expected:?} missing from {message}");
        }
    }

    #[test]
    fn spec_without_any_hours_or_zone_is_rejected() {
        let err = Calendar::from_spec("empty", spec("", &[("mon", &[])], &[])).unwrap_err();
        assert_eq!(fields_of(err.clone()), ["timezone", "hours"]);
        assert!(err.to_string().contains("no business hours"));
    }

    #[test]
    fn spec_cannot_mix_always_with_hours_or_take_the_builtin_key() {
        let mut mixed = spec("UTC", &[("mon", &["09:00-17:00"])], &[]);
        mixed.always = true;
        assert_eq!(fields_of(Calendar::from_spec("x", mixed).unwrap_err()), ["always"]);
        let builtin = CalendarSpec { always: true, timezone: "UTC".into(), ..CalendarSpec::default() };
        assert_eq!(fields_of(Calendar::from_spec(Calendar::ALWAYS_UTC_KEY, builtin).unwrap_err()), ["key"]);
    }

    #[test]
    fn zone_rules_are_bundled_for_hosts_without_tzdata() {
        let bundled = jiff::tz::TimeZoneDatabase::bundled();
        for name in ["Europe/Berlin", "America/New_York", "Asia/Kolkata"] {
            assert!(bundled.get(name).is_ok(), "{name} missing from the bundled database");
        }
    }
}
