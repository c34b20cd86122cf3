//! Improvement actions: what a monthly review meeting decides to improve, who owns it and by
//! when, the KPI or process stage it targets and the review month it came from; followed up
//! in the next months' reviews (its status and the movement of its KPI since that month).
//!
//! Status: `open` → `in_progress` → `done`, or `dropped` when the meeting gives it up. Any
//! status may follow any other (a done action found not done is reopened); `done` and
//! `dropped` close it, and a closed action is never overdue. An action is overdue once its due
//! day (UTC) has ended while it is open or in progress.

use super::error::Errors;
use super::event::Actor;
use super::ids::{ImprovementId, StaffId};
use super::kpi::{Better, Kpi, Month, Unit, BUILTIN, STAGE_DWELL};
use super::text::{check_characters, MAX_NOTE_CHARS};
use super::time::Timestamp;
use super::{string_enum, FieldError, ValidationError};
use serde::{Deserialize, Serialize};

string_enum! {
    /// Where an action stands; `done` and `dropped` close it.
    pub enum ImprovementStatus {
        Open => "open",
        InProgress => "in_progress",
        Done => "done",
        Dropped => "dropped",
    }
}

impl ImprovementStatus {
    pub fn is_closed(self) -> bool {
        matches!(self, ImprovementStatus::Done | ImprovementStatus::Dropped)
    }
}

/// A due date: a calendar day, `YYYY-MM-DD`, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DueDate(jiff::civil::Date);

impl DueDate {
    pub fn parse(field: &str, text: &str) -> Result<DueDate, FieldError> {
        let bad = || FieldError::new(field, format!("`{text}` is not a date such as 2026-12-31"));
        let b = text.as_bytes();
        let shaped =
            b.len() == 10 && b[4] == b'-' && b[7] == b'-' && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shaped || !text.starts_with(['1', '2', '3', '4', '5', '6', '7', '8', '9']) {
            return Err(bad());
        }
        text.parse::<jiff::civil::Date>().map(DueDate).map_err(|_| bad())
    }

    /// The instant the due day ends (the next midnight, UTC): overdue from then on.
    pub fn end(self) -> Timestamp {
        let next = self.0.tomorrow().unwrap_or(self.0);
        let ts = next.to_zoned(jiff::tz::TimeZone::UTC).expect("a UTC date exists").timestamp();
        Timestamp::from_millis(ts.as_millisecond())
    }
}

impl std::fmt::Display for DueDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A process stage, written `process/stage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRef {
    pub process: String,
    pub stage: String,
}

impl StageRef {
    pub fn parse(field: &str, text: &str) -> Result<StageRef, FieldError> {
        match text.trim().split_once('/') {
            Some((p, s)) if !p.is_empty() && !s.is_empty() && !s.contains('/') => {
                Ok(StageRef { process: p.to_owned(), stage: s.to_owned() })
            }
            _ => Err(FieldError::new(field, format!("`{text}` is not a stage written process/stage, such as general/consultation"))),
        }
    }
}

impl std::fmt::Display for StageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.process, self.stage)
    }
}

/// The KPI keys an action may target: every built-in KPI and the stage dwell time.
pub fn kpi_keys() -> Vec<&'static str> {
    BUILTIN.iter().map(|(k, ..)| *k).chain([STAGE_DWELL.0]).collect()
}

/// A KPI's name, unit and which way is better, by key (built-in or the stage dwell time).
pub fn kpi_meta(key: &str) -> Option<(&'static str, Unit, Better)> {
    if key == STAGE_DWELL.0 {
        return Some((STAGE_DWELL.1, Unit::Seconds, Better::Lower));
    }
    BUILTIN.iter().find(|(k, ..)| *k == key).map(|(_, name, unit, better, _)| (*name, *unit, *better))
}

fn parse_kpi(text: &str) -> Result<String, FieldError> {
    let key = text.trim();
    match kpi_meta(key) {
        Some(_) => Ok(key.to_owned()),
        None => Err(FieldError::new("kpi", format!("unknown KPI `{key}`; known: {}", kpi_keys().join(", ")))),
    }
}

/// The longest title, in characters as sent.
pub const MAX_TITLE_CHARS: usize = 200;

fn parse_title(text: &str) -> Result<String, FieldError> {
    check_characters("title", text)?;
    if text.chars().count() > MAX_TITLE_CHARS {
        return Err(FieldError::new("title", format!("must be at most {MAX_TITLE_CHARS} characters")));
    }
    match text.trim() {
        "" => Err(FieldError::new("title", "must not be empty")),
        t => Ok(t.to_owned()),
    }
}

fn parse_description(text: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(text) = text else { return Ok(None) };
    check_characters("description", text)?;
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(FieldError::new("description", format!("must be at most {MAX_NOTE_CHARS} characters")));
    }
    Ok(Some(text.trim().to_owned()).filter(|t| !t.is_empty()))
}

fn parse_owner(text: &str) -> Result<StaffId, FieldError> {
    StaffId::parse("owner", text.trim()).map_err(|_| FieldError::new("owner", format!("`{text}` is not a staff member's id")))
}

fn blank(text: &Option<String>) -> bool {
    text.as_deref().is_none_or(|t| t.trim().is_empty())
}

/// One improvement action.
#[derive(Debug, Clone, PartialEq)]
pub struct Improvement {
    pub id: ImprovementId,
    pub title: String,
    pub description: Option<String>,
    /// The staff member who owns it.
    pub owner: StaffId,
    pub due: DueDate,
    pub status: ImprovementStatus,
    /// The KPI it is to move (a built-in key), if any.
    pub kpi: Option<String>,
    /// The process stage it targets, if any. At least one of `kpi` and `stage` is set.
    pub stage: Option<StageRef>,
    /// The review month it came from.
    pub month: Month,
    /// 1 when created; every change adds one. The ETag.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When it was last closed (done or dropped); None while open or in progress.
    pub closed_at: Option<Timestamp>,
}

/// A new action as a client sent it.
#[derive(Debug, Clone, Default)]
pub struct ImprovementInput {
    pub title: String,
    pub description: Option<String>,
    pub owner: String,
    pub due: String,
    /// Default `open`.
    pub status: Option<ImprovementStatus>,
    pub kpi: Option<String>,
    pub stage: Option<String>,
    pub month: String,
}

/// A partial change; `Some(None)` clears an optional field.
#[derive(Debug, Clone, Default)]
pub struct ImprovementPatch {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub owner: Option<String>,
    pub due: Option<String>,
    pub status: Option<ImprovementStatus>,
    pub kpi: Option<Option<String>>,
    pub stage: Option<Option<String>>,
    pub month: Option<String>,
}

impl ImprovementPatch {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.owner.is_none()
            && self.due.is_none()
            && self.status.is_none()
            && self.kpi.is_none()
            && self.stage.is_none()
            && self.month.is_none()
    }
}

/// One field's change, as the history records it (values in their wire spelling).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

string_enum! {
    pub enum ImprovementEventKind {
        Created => "created",
        Changed => "changed",
    }
}

/// One entry of an action's history (append-only): who changed which fields, from what to what.
#[derive(Debug, Clone, PartialEq)]
pub struct ImprovementEvent {
    pub improvement_id: ImprovementId,
    /// The action's version after the change.
    pub seq: i64,
    pub at: Timestamp,
    pub actor: Actor,
    pub kind: ImprovementEventKind,
    pub changes: Vec<FieldChange>,
}

impl Improvement {
    /// A new action and the history entry that records it.
    pub fn create(input: ImprovementInput, actor: &Actor, now: Timestamp) -> Result<(Improvement, ImprovementEvent), ValidationError> {
        let mut errors = Errors::default();
        let title = errors.take(parse_title(&input.title));
        let description = errors.take(parse_description(input.description.as_deref()));
        let owner = errors.take(parse_owner(&input.owner));
        let due = errors.take(DueDate::parse("due", input.due.trim()));
        let kpi = errors.take(input.kpi.as_deref().filter(|k| !k.trim().is_empty()).map(parse_kpi).transpose());
        let stage = errors.take(input.stage.as_deref().filter(|s| !s.trim().is_empty()).map(|s| StageRef::parse("stage", s)).transpose());
        let month = errors.take(Month::parse("month", input.month.trim()));
        if blank(&input.kpi) && blank(&input.stage) {
            errors.push(FieldError::new("kpi", "name the KPI (`kpi`) or the process stage (`stage`) the action targets"));
        }
        errors.finish()?;
        let status = input.status.unwrap_or(ImprovementStatus::Open);
        let action = Improvement {
            id: ImprovementId::new_at(now),
            title: title.expect("checked"),
            description: description.expect("checked"),
            owner: owner.expect("checked"),
            due: due.expect("checked"),
            status,
            kpi: kpi.expect("checked"),
            stage: stage.expect("checked"),
            month: month.expect("checked"),
            version: 1,
            created_at: now,
            updated_at: now,
            closed_at: status.is_closed().then_some(now),
        };
        let changes = action.fields().into_iter().filter(|(_, v)| v.is_some()).map(|(f, v)| change(f, None, v)).collect();
        let event = ImprovementEvent {
            improvement_id: action.id,
            seq: 1,
            at: now,
            actor: actor.clone(),
            kind: ImprovementEventKind::Created,
            changes,
        };
        Ok((action, event))
    }

    /// The action after `patch` and the history entry that records what changed; None for the
    /// entry when nothing did (the action is then returned as it was, at the same version).
    pub fn apply(
        &self,
        patch: ImprovementPatch,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<(Improvement, Option<ImprovementEvent>), ValidationError> {
        let mut next = self.clone();
        let mut errors = Errors::default();
        if let Some(title) = &patch.title {
            next.title = errors.take(parse_title(title)).unwrap_or_default();
        }
        if let Some(description) = &patch.description {
            next.description = errors.take(parse_description(description.as_deref())).flatten();
        }
        if let Some(owner) = &patch.owner {
            next.owner = errors.take(parse_owner(owner)).unwrap_or(self.owner);
        }
        if let Some(due) = &patch.due {
            next.due = errors.take(DueDate::parse("due", due.trim())).unwrap_or(self.due);
        }
        if let Some(kpi) = &patch.kpi {
            next.kpi = errors.take(kpi.as_deref().filter(|k| !k.trim().is_empty()).map(parse_kpi).transpose()).flatten();
        }
        if let Some(stage) = &patch.stage {
            next.stage =
                errors.take(stage.as_deref().filter(|s| !s.trim().is_empty()).map(|s| StageRef::parse("stage", s)).transpose()).flatten();
        }
        if let Some(month) = &patch.month {
            next.month = errors.take(Month::parse("month", month.trim())).unwrap_or(self.month);
        }
        if let Some(status) = patch.status {
            next.status = status;
        }
        if next.kpi.is_none() && next.stage.is_none() && !errors.has("kpi") && !errors.has("stage") {
            errors.push(FieldError::new("kpi", "an action keeps a KPI (`kpi`) or a process stage (`stage`) as its target"));
        }
        errors.finish()?;
        let changes: Vec<FieldChange> = self
            .fields()
            .into_iter()
            .zip(next.fields())
            .filter(|((_, before), (_, after))| before != after)
            .map(|((field, before), (_, after))| change(field, before, after))
            .collect();
        if changes.is_empty() {
            return Ok((self.clone(), None));
        }
        next.version = self.version + 1;
        next.updated_at = now;
        next.closed_at = match (self.status.is_closed(), next.status.is_closed()) {
            (false, true) => Some(now),
            (true, true) => self.closed_at,
            (_, false) => None,
        };
        let event = ImprovementEvent {
            improvement_id: self.id,
            seq: next.version,
            at: now,
            actor: actor.clone(),
            kind: ImprovementEventKind::Changed,
            changes,
        };
        Ok((next, Some(event)))
    }

    /// Past its due day and neither done nor dropped.
    pub fn overdue_at(&self, at: Timestamp) -> bool {
        !self.status.is_closed() && at >= self.due.end()
    }

    /// The KPI whose movement follows the action up: its `kpi` (for the stage dwell time, of its
    /// stage), else the dwell time of its stage. Key and dimension.
    pub fn tracked_kpi(&self) -> Option<(String, Option<String>)> {
        match (&self.kpi, &self.stage) {
            (Some(k), stage) if k == STAGE_DWELL.0 => Some((k.clone(), stage.as_ref().map(ToString::to_string))),
            (Some(k), _) => Some((k.clone(), None)),
            (None, Some(stage)) => Some((STAGE_DWELL.0.to_owned(), Some(stage.to_string()))),
            (None, None) => None,
        }
    }

    /// The fields a person edits, in their wire spelling, in one order: what the history diffs.
    fn fields(&self) -> [(&'static str, Option<String>); 8] {
        [
            ("title", Some(self.title.clone())),
            ("description", self.description.clone()),
            ("owner", Some(self.owner.to_string())),
            ("due", Some(self.due.to_string())),
            ("status", Some(self.status.as_str().to_owned())),
            ("kpi", self.kpi.clone()),
            ("stage", self.stage.as_ref().map(ToString::to_string)),
            ("month", Some(self.month.to_string())),
        ]
    }
}

fn change(field: &str, from: Option<String>, to: Option<String>) -> FieldChange {
    FieldChange { field: field.to_owned(), from, to }
}

/// Which actions to list, in id (creation) order, continuing after `after`.
#[derive(Debug, Clone, Default)]
pub struct ImprovementQuery {
    pub status: Option<ImprovementStatus>,
    pub owner: Option<StaffId>,
    pub month: Option<Month>,
    /// Only those overdue at this instant.
    pub overdue_at: Option<Timestamp>,
    pub after: Option<ImprovementId>,
    pub limit: u32,
}

string_enum! {
    /// How a followed-up KPI moved since the action's month, judged by which way is better.
    pub enum Movement {
        Better => "better",
        Worse => "worse",
        Unchanged => "unchanged",
        /// A value is missing in one of the months (no sample).
        Unknown => "unknown",
    }
}

impl Movement {
    pub fn of(from: Option<f64>, to: Option<f64>, better: Better) -> Movement {
        let (Some(from), Some(to)) = (from, to) else { return Movement::Unknown };
        let d = to - from;
        if d.abs() <= 1e-9 * from.abs().max(1.0) {
            return Movement::Unchanged;
        }
        match (better, d > 0.0) {
            (Better::Higher, true) | (Better::Lower, false) => Movement::Better,
            _ => Movement::Worse,
        }
    }
}

/// A followed-up KPI: its value in the action's month and in the month reviewed.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiMovement {
    pub key: String,
    pub dimension: Option<String>,
    pub label: String,
    pub unit: Unit,
    /// In the month the action came from.
    pub from: Option<f64>,
    /// In the month reviewed.
    pub to: Option<f64>,
    pub movement: Movement,
}

impl KpiMovement {
    /// The tracked KPI of `action` looked up in the KPIs of its month (`then`) and of the month
    /// reviewed (`now`), by key and dimension.
    pub fn of(action: &Improvement, then: &[Kpi], now: &[Kpi]) -> Option<KpiMovement> {
        let (key, dimension) = action.tracked_kpi()?;
        let (name, unit, better) = kpi_meta(&key)?;
        let value = |kpis: &[Kpi]| kpis.iter().find(|k| k.key == key && k.dimension == dimension).and_then(|k| k.value);
        let (from, to) = (value(then), value(now));
        let label = match &dimension {
            Some(d) => format!("{name} ({d})"),
            None => name.to_owned(),
        };
        Some(KpiMovement { movement: Movement::of(from, to, better), key, dimension, label, unit, from, to })
    }
}

/// One action as the review follows it up.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowUp {
    pub action: Improvement,
    pub owner_name: String,
    /// Overdue when the review was generated.
    pub overdue: bool,
    pub kpi: Option<KpiMovement>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ImprovementInput {
        ImprovementInput {
            title: " Shorten consultation ".into(),
            description: Some("  ".into()),
            owner: StaffId::new_at(Timestamp::from_millis(0)).to_string(),
            due: "2026-12-31".into(),
            status: None,
            kpi: Some("first_response_time_p90".into()),
            stage: None,
            month: "2026-11".into(),
        }
    }

    fn at(text: &str) -> Timestamp {
        Timestamp::parse("at", text).unwrap()
    }

    #[test]
    fn create_parses_every_field_and_records_them() {
        let (a, event) = Improvement::create(input(), &Actor::system(), Timestamp::from_millis(5)).unwrap();
        assert_eq!(
            (a.title.as_str(), a.description.as_deref(), a.status, a.version),
            ("Shorten consultation", None, ImprovementStatus::Open, 1)
        );
        assert_eq!(a.month.to_string(), "2026-11");
        assert_eq!((event.seq, event.kind), (1, ImprovementEventKind::Created));
        let fields: Vec<_> = event.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["title", "owner", "due", "status", "kpi", "month"]);
    }

    #[test]
    fn create_names_every_bad_field() {
        let bad = ImprovementInput {
            title: "".into(),
            owner: "someone".into(),
            due: "31.12.2026".into(),
            kpi: Some("happiness".into()),
            stage: Some("nostage".into()),
            month: "2026-13".into(),
            ..input()
        };
        let e = Improvement::create(bad, &Actor::system(), Timestamp::from_millis(5)).unwrap_err();
        let fields: Vec<_> = e.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "owner", "due", "kpi", "stage", "month"]);
        assert!(e.errors[3].message.contains("unknown KPI `happiness`; known: first_response_time_mean"), "{e}");
        let untargeted = ImprovementInput { kpi: None, ..input() };
        assert_eq!(Improvement::create(untargeted, &Actor::system(), Timestamp::from_millis(5)).unwrap_err().errors[0].field, "kpi");
        for bad in ["2026-2-01", "2026-02-30", "02026-01-01", "2026-01-01T00:00:00Z", "0999-01-01"] {
            assert!(DueDate::parse("due", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn overdue_after_the_due_day_until_closed() {
        let (a, _) = Improvement::create(input(), &Actor::system(), Timestamp::from_millis(5)).unwrap();
        assert!(!a.overdue_at(at("2026-12-31T23:59:59Z")));
        assert!(a.overdue_at(at("2027-01-01T00:00:00Z")));
        let patch = ImprovementPatch { status: Some(ImprovementStatus::Done), ..Default::default() };
        let (done, event) = a.apply(patch, &Actor::system(), at("2027-01-02T00:00:00Z")).unwrap();
        assert!(!done.overdue_at(at("2027-01-03T00:00:00Z")));
        assert_eq!((done.version, done.closed_at), (2, Some(at("2027-01-02T00:00:00Z"))));
        let event = event.unwrap();
        assert_eq!(event.changes, [change("status", Some("open".into()), Some("done".into()))]);
        let reopen = ImprovementPatch { status: Some(ImprovementStatus::InProgress), ..Default::default() };
        let (again, _) = done.apply(reopen, &Actor::system(), at("2027-01-04T00:00:00Z")).unwrap();
        assert_eq!(again.closed_at, None);
    }

    #[test]
    fn a_patch_that_changes_nothing_records_nothing() {
        let (a, _) = Improvement::create(input(), &Actor::system(), Timestamp::from_millis(5)).unwrap();
        let same = ImprovementPatch { title: Some("Shorten consultation".into()), ..Default::default() };
        let (b, event) = a.apply(same, &Actor::system(), Timestamp::from_millis(9)).unwrap();
        assert_eq!((b.version, event), (1, None));
        let untarget = ImprovementPatch { kpi: Some(None), ..Default::default() };
        assert_eq!(a.apply(untarget, &Actor::system(), Timestamp::from_millis(9)).unwrap_err().errors[0].field, "kpi");
    }

    #[test]
    fn movement_follows_which_way_is_better() {
        assert_eq!(Movement::of(Some(0.5), Some(0.8), Better::Higher), Movement::Better);
        assert_eq!(Movement::of(Some(100.0), Some(120.0), Better::Lower), Movement::Worse);
        assert_eq!(Movement::of(Some(1.0), Some(1.0), Better::Lower), Movement::Unchanged);
        assert_eq!(Movement::of(None, Some(1.0), Better::Lower), Movement::Unknown);
    }

    #[test]
    fn a_stage_action_follows_that_stage_dwell_time() {
        let stage = ImprovementInput { kpi: None, stage: Some("general/consultation".into()), ..input() };
        let (a, _) = Improvement::create(stage, &Actor::system(), Timestamp::from_millis(5)).unwrap();
        let dwell = |v: f64| Kpi::new(STAGE_DWELL.0, STAGE_DWELL.1, Unit::Seconds, Some(v), 1).with_dimension("general/consultation");
        let m = KpiMovement::of(&a, &[dwell(7200.0)], &[dwell(3600.0)]).unwrap();
        assert_eq!((m.from, m.to, m.movement), (Some(7200.0), Some(3600.0), Movement::Better));
        assert_eq!(m.label, "Stage dwell time (general/consultation)");
    }
}
