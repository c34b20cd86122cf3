//! Key performance indicators: the pure math (nearest-rank percentiles, rates, status against a
//! target), the KPI targets of `config/kpis.toml`, and reporting periods (`window=30d`,
//! `month=2026-11`).
//!
//! A KPI set is a list of [`Kpi`] entries, each computed on its own: built-in ones from
//! aggregate queries, and (later) ones declared by plugins, which may carry an error instead
//! of a value without affecting the others.

use super::duration::TargetDuration;
use super::string_enum;
use super::time::Timestamp;
use super::FieldError;
use serde::Deserialize;
use std::collections::BTreeMap;

string_enum! {
    /// How a KPI value compares with its target.
    pub enum KpiStatus {
        Ok => "ok",
        /// Missed, but within the warning margin.
        Warning => "warning",
        Breach => "breach",
    }
}

string_enum! {
    pub enum Unit {
        Seconds => "seconds",
        /// A share from 0 to 1.
        Ratio => "ratio",
        /// A CSAT score from 1 to 5.
        Score => "score",
        Count => "count",
    }
}

impl Unit {
    pub fn format(self, v: f64) -> String {
        match self {
            Unit::Seconds => format_seconds(v),
            Unit::Ratio => format!("{:.1} %", v * 100.0),
            Unit::Score => format!("{v:.2}"),
            Unit::Count => format!("{v:.0}"),
        }
    }
}

/// `42s`, `5m 12s`, `3h 20m`, `2d 4h`.
pub fn format_seconds(v: f64) -> String {
    let s = v.round().max(0.0) as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3_599 => format!("{}m {}s", s / 60, s % 60),
        3_600..=86_399 => format!("{}h {}m", s / 3_600, s % 3_600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3_600),
    }
}

/// Which way is better for a KPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

/// A target and how far off it still counts as a warning rather than a breach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub value: f64,
    pub better: Better,
    /// Relative margin, e.g. 0.1: up to 10 % worse than the target is a warning.
    pub warning_margin: f64,
}

impl Target {
    pub fn status(&self, value: f64) -> KpiStatus {
        let (ok, warn) = match self.better {
            Better::Lower => (value <= self.value, value <= self.value * (1.0 + self.warning_margin)),
            Better::Higher => (value >= self.value, value >= self.value * (1.0 - self.warning_margin)),
        };
        if ok {
            KpiStatus::Ok
        } else if warn {
            KpiStatus::Warning
        } else {
            KpiStatus::Breach
        }
    }
}

/// One computed indicator. `dimension` distinguishes entries of the same key (the clock of an
/// SLA compliance figure, the stage of a dwell time, `stage/status` of a backlog count).
#[derive(Debug, Clone, PartialEq)]
pub struct Kpi {
    pub key: String,
    pub name: String,
    pub dimension: Option<String>,
    pub unit: Unit,
    /// None when there is no sample (or on error).
    pub value: Option<f64>,
    pub target: Option<Target>,
    pub sample: u64,
    /// Set when this KPI could not be computed (a plugin KPI that failed); the others stand.
    pub error: Option<String>,
}

impl Kpi {
    pub fn new(key: &str, name: &str, unit: Unit, value: Option<f64>, sample: u64) -> Kpi {
        Kpi { key: key.to_owned(), name: name.to_owned(), dimension: None, unit, value, target: None, sample, error: None }
    }

    pub fn with_dimension(mut self, dimension: impl Into<String>) -> Kpi {
        self.dimension = Some(dimension.into());
        self
    }

    pub fn with_target(mut self, target: Option<Target>) -> Kpi {
        self.target = target;
        self
    }

    /// No status without a value or a target.
    pub fn status(&self) -> Option<KpiStatus> {
        Some(self.target?.status(self.value?))
    }

    /// The value as people read it: `1h 5m`, `85.0 %`, `4.20`, `12`.
    pub fn display_value(&self) -> String {
        self.value.map(|v| self.unit.format(v)).unwrap_or_else(|| "–".to_owned())
    }

    /// The name with its dimension, e.g. `SLA compliance (first_response)`.
    pub fn label(&self) -> String {
        match &self.dimension {
            Some(d) => format!("{} ({d})", self.name),
            None => self.name.clone(),
        }
    }

    /// How far the value is from its target as a ratio (> 1 is worse than the target),
    /// whichever way is better; None without value or target.
    pub fn severity(&self) -> Option<f64> {
        let (v, t) = (self.value?, self.target?);
        match t.better {
            Better::Lower if t.value > 0.0 => Some(v / t.value),
            Better::Higher if v > 0.0 => Some(t.value / v),
            Better::Higher => Some(f64::INFINITY),
            Better::Lower => None,
        }
    }
}

/// The 0-based rank of the p-th percentile among `n` sorted values (nearest-rank method:
/// the smallest value with at least p of the sample at or below it). None for an empty sample.
pub fn percentile_offset(n: u64, p: f64) -> Option<u64> {
    if n == 0 {
        return None;
    }
    let rank = (p.clamp(0.0, 1.0) * n as f64).ceil() as u64;
    Some(rank.clamp(1, n) - 1)
}

/// `part / whole`; None when `whole` is 0.
pub fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Milliseconds to seconds.
pub fn seconds(ms: f64) -> f64 {
    ms / 1000.0
}

/// A half-open period [from, to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Timestamp,
    pub to: Timestamp,
}

impl Period {
    /// The period `[from, to)`: `to` (RFC 3339) defaults to `now`; `from` (RFC 3339) defaults to
    /// `window` (a duration such as `30d`, default 30 days) before `to`. When `from` is given,
    /// it decides the start and `window` plays no part. A `from` at or after `to` is an empty
    /// period, which counts nothing.
    pub fn parse(from: Option<&str>, to: Option<&str>, window: Option<&str>, now: Timestamp) -> Result<Period, Vec<FieldError>> {
        let mut errors = Vec::new();
        let to_at = match to.map(|t| Timestamp::parse("to", t)).transpose() {
            Ok(t) => t.unwrap_or(now),
            Err(e) => {
                errors.push(e);
                now
            }
        };
        // A window is checked even when `from` makes it moot.
        if let (Some(_), Some(w)) = (from, window) {
            if let Err(e) = TargetDuration::parse("window", w) {
                errors.push(e);
            }
        }
        let from_at = match (from, window) {
            (Some(f), _) => Timestamp::parse("from", f).map_err(|e| errors.push(e)).unwrap_or(to_at),
            (None, Some(w)) => match TargetDuration::parse("window", w) {
                Ok(d) => to_at.plus_millis(-d.as_millis()),
                Err(e) => {
                    errors.push(e);
                    to_at
                }
            },
            (None, None) => to_at.plus_millis(-30 * 86_400_000),
        };
        if errors.is_empty() {
            Ok(Period { from: from_at, to: to_at })
        } else {
            Err(errors)
        }
    }
}

/// A calendar month (UTC), as `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    pub year: i16,
    pub month: i8,
}

impl Month {
    pub fn parse(field: &str, text: &str) -> Result<Month, FieldError> {
        let bad = || FieldError::new(field, format!("`{text}` is not a month such as 2026-11"));
        let (y, m) = text.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i16 = y.parse().map_err(|_| bad())?;
        let month: i8 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) || !(1970..=9999).contains(&year) {
            return Err(bad());
        }
        Ok(Month { year, month })
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month { year: self.year - 1, month: 12 }
        } else {
            Month { year: self.year, month: self.month - 1 }
        }
    }

    fn next(self) -> Month {
        if self.month == 12 {
            Month { year: self.year + 1, month: 1 }
        } else {
            Month { year: self.year, month: self.month + 1 }
        }
    }

    fn start(self) -> Timestamp {
        let date = jiff::civil::date(self.year, self.month, 1);
        let ts = date.to_zoned(jiff::tz::TimeZone::UTC).expect("a UTC date exists").timestamp();
        Timestamp::from_millis(ts.as_millisecond())
    }

    pub fn period(self) -> Period {
        Period { from: self.start(), to: self.next().start() }
    }
}

impl Month {
    /// The month for people to read, e.g. `November 2026`.
    pub fn human(self) -> String {
        let name =
            ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
                [usize::try_from(self.month - 1).unwrap_or(0)];
        format!("{name} {}", self.year)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

string_enum! {
    /// A dimension KPIs can be grouped by.
    pub enum GroupBy {
        Process => "process",
        Channel => "channel",
        Priority => "priority",
        Tier => "tier",
        Team => "team",
        Assignee => "assignee",
        Partner => "partner",
    }
}

/// Which tickets a KPI set is about: those opened in `period` (None: all, as for the backlog)
/// that match every given filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KpiFilter {
    pub period: Option<Period>,
    pub process: Option<String>,
    pub channel: Option<super::ticket::Channel>,
    pub priority: Option<super::ticket::Priority>,
    pub tier: Option<String>,
    pub team: Option<String>,
    pub assignee: Option<super::ids::StaffId>,
    /// Tickets delegated to this partner (and not taken back).
    pub partner: Option<super::ids::PartnerId>,
}

impl KpiFilter {
    /// The same filter narrowed to one value of a grouping dimension.
    pub fn narrowed(&self, group: GroupBy, value: &str) -> Result<KpiFilter, FieldError> {
        let mut f = self.clone();
        match group {
            GroupBy::Process => f.process = Some(value.to_owned()),
            GroupBy::Channel => f.channel = Some(super::ticket::Channel::parse("group_by", value)?),
            GroupBy::Priority => f.priority = Some(super::ticket::Priority::parse("group_by", value)?),
            GroupBy::Tier => f.tier = Some(value.to_owned()),
            GroupBy::Team => f.team = Some(value.to_owned()),
            GroupBy::Assignee => f.assignee = Some(super::ids::StaffId::parse("group_by", value)?),
            GroupBy::Partner => f.partner = Some(super::ids::PartnerId::parse("group_by", value)?),
        }
        Ok(f)
    }
}

/// Count, mean and percentiles of a duration, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DurationStats {
    pub count: u64,
    pub mean_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClockCompliance {
    pub kind: String,
    pub met: u64,
    pub breached: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageDwell {
    pub process: String,
    pub stage: String,
    /// Completed stays in the stage.
    pub completed: u64,
    /// Mean business time of the completed stays.
    pub mean_ms: Option<f64>,
    /// Stays (completed or not) that exceeded the stage target.
    pub breached: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BacklogCount {
    pub process: String,
    pub stage: String,
    pub status: String,
    pub count: u64,
}

/// The aggregate inputs of a KPI set: what built-in KPIs (and, through the plugin hooks, custom
/// ones) are computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KpiInputs {
    pub tickets: u64,
    pub resolved: u64,
    /// Resolved at least once (resolved now, or reopened since).
    pub resolved_once: u64,
    pub reopened: u64,
    /// Resolved, never reopened, with at most one public staff reply.
    pub first_contact_resolved: u64,
    pub complaints: u64,
    pub first_response: DurationStats,
    pub resolution: DurationStats,
    pub csat_responses: u64,
    pub csat_mean: Option<f64>,
    pub csat_satisfied: u64,
    pub reviews: u64,
    pub reviews_passed: u64,
    pub sla: Vec<ClockCompliance>,
    pub stages: Vec<StageDwell>,
    /// Open tickets now (matching the filters, whenever opened).
    pub backlog: Vec<BacklogCount>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BreachCount {
    /// first_response, resolution or stage.
    pub clock: String,
    /// The ticket's process: stage names repeat across processes.
    pub process: String,
    pub stage: Option<String>,
    pub priority: String,
    pub count: u64,
}

/// The built-in KPI set from its aggregate inputs. `stage_target` gives a stage's target in
/// seconds (from its process definition), the dwell-time target.
pub fn build_kpis(inputs: &KpiInputs, targets: &KpiTargets, stage_target: impl Fn(&str, &str) -> Option<f64>) -> Vec<Kpi> {
    let mut out = Vec::new();
    for (prefix, stats) in [("first_response_time", &inputs.first_response), ("resolution_time", &inputs.resolution)] {
        for (stat, value) in [("mean", stats.mean_ms), ("p50", stats.p50_ms), ("p90", stats.p90_ms)] {
            out.push(targets.kpi(&format!("{prefix}_{stat}"), value.map(seconds), stats.count));
        }
    }
    out.push(targets.kpi("resolution_rate", rate(inputs.resolved, inputs.tickets), inputs.tickets));
    out.push(targets.kpi("first_contact_resolution_rate", rate(inputs.first_contact_resolved, inputs.resolved), inputs.resolved));
    out.push(targets.kpi("reopen_rate", rate(inputs.reopened, inputs.resolved_once), inputs.resolved_once));
    out.push(targets.kpi("csat_mean", inputs.csat_mean, inputs.csat_responses));
    out.push(targets.kpi("csat_satisfied_share", rate(inputs.csat_satisfied, inputs.csat_responses), inputs.csat_responses));
    out.push(targets.kpi("complaint_rate", rate(inputs.complaints, inputs.tickets), inputs.tickets));
    for clock in &inputs.sla {
        let decided = clock.met + clock.breached;
        out.push(targets.kpi("sla_compliance", rate(clock.met, decided), decided).with_dimension(clock.kind.clone()));
    }
    out.push(targets.kpi("review_pass_rate", rate(inputs.reviews_passed, inputs.reviews), inputs.reviews));
    for s in &inputs.stages {
        let target = stage_target(&s.process, &s.stage).map(|t| targets.stage_target(t));
        out.push(
            Kpi::new(STAGE_DWELL.0, STAGE_DWELL.1, Unit::Seconds, s.mean_ms.map(seconds), s.completed)
                .with_dimension(format!("{}/{}", s.process, s.stage))
                .with_target(target),
        );
    }
    let open: u64 = inputs.backlog.iter().map(|b| b.count).sum();
    out.push(targets.kpi("backlog", Some(open as f64), open));
    for b in &inputs.backlog {
        out.push(targets.kpi("backlog", Some(b.count as f64), b.count).with_dimension(format!("{}/{}/{}", b.process, b.stage, b.status)));
    }
    out
}

/// Durations (`"2h"`) or plain numbers (`0.85`, `4.2`) in `config/kpis.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawValue {
    Number(f64),
    Text(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargets {
    #[serde(default = "default_margin")]
    warning_margin_percent: f64,
    #[serde(default)]
    targets: BTreeMap<String, RawValue>,
}

fn default_margin() -> f64 {
    10.0
}

/// KPI targets by KPI key, with the direction each KPI improves in.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiTargets {
    targets: BTreeMap<String, f64>,
    margin: f64,
}

impl KpiTargets {
    /// The warning margin applied to every target (also plugin KPIs').
    pub fn margin(&self) -> f64 {
        self.margin
    }
}

/// The built-in KPIs that take a target: key, name, unit, which way is better, and the
/// default target (None: no target unless configured).
pub const BUILTIN: &[(&str, &str, Unit, Better, Option<f64>)] = &[
    ("first_response_time_mean", "First-response time (mean)", Unit::Seconds, Better::Lower, None),
    ("first_response_time_p50", "First-response time (p50)", Unit::Seconds, Better::Lower, None),
    ("first_response_time_p90", "First-response time (p90)", Unit::Seconds, Better::Lower, Some(7_200.0)),
    ("resolution_time_mean", "Resolution time (mean)", Unit::Seconds, Better::Lower, None),
    ("resolution_time_p50", "Resolution time (p50)", Unit::Seconds, Better::Lower, None),
    ("resolution_time_p90", "Resolution time (p90)", Unit::Seconds, Better::Lower, Some(86_400.0)),
    ("resolution_rate", "Resolution rate", Unit::Ratio, Better::Higher, Some(0.9)),
    ("first_contact_resolution_rate", "First-contact resolution rate", Unit::Ratio, Better::Higher, Some(0.7)),
    ("reopen_rate", "Reopen rate", Unit::Ratio, Better::Lower, Some(0.05)),
    ("csat_mean", "CSAT (mean score, 1–5)", Unit::Score, Better::Higher, Some(4.25)),
    ("csat_satisfied_share", "CSAT (share of 4–5 scores)", Unit::Ratio, Better::Higher, Some(0.85)),
    ("complaint_rate", "Complaint rate", Unit::Ratio, Better::Lower, Some(0.02)),
    ("sla_compliance", "SLA compliance", Unit::Ratio, Better::Higher, Some(0.95)),
    ("review_pass_rate", "Quality-review pass rate", Unit::Ratio, Better::Higher, Some(0.9)),
    ("backlog", "Backlog (open tickets)", Unit::Count, Better::Lower, None),
    (
        "training_compliance",
        "Training compliance (staff holding every certification their stages need)",
        Unit::Ratio,
        Better::Higher,
        Some(1.0),
    ),
    // A state, like the backlog: actions past their due day, neither done nor dropped.
    ("improvements_overdue", "Improvement actions overdue", Unit::Count, Better::Lower, Some(0.0)),
];

/// Stage dwell time: its target is each stage's own target from the process definition.
pub const STAGE_DWELL: (&str, &str) = ("stage_dwell_time", "Stage dwell time");

impl Default for KpiTargets {
    fn default() -> Self {
        KpiTargets { targets: BUILTIN.iter().filter_map(|(k, _, _, _, t)| t.map(|t| ((*k).to_owned(), t))).collect(), margin: 0.1 }
    }
}

impl KpiTargets {
    /// Parses `config/kpis.toml`; errors name the offending key.
    pub fn from_toml(text: &str) -> Result<KpiTargets, FieldError> {
        let raw: RawTargets = toml::from_str(text).map_err(|e| FieldError::new("(document)", e.message().to_owned()))?;
        let mut out = KpiTargets::default();
        if !(0.0..=100.0).contains(&raw.warning_margin_percent) {
            return Err(FieldError::new("warning_margin_percent", "must be from 0 to 100"));
        }
        out.margin = raw.warning_margin_percent / 100.0;
        for (key, value) in raw.targets {
            let field = format!("targets.{key}");
            let Some((_, _, unit, _, _)) = BUILTIN.iter().find(|(k, ..)| *k == key) else {
                let known: Vec<&str> = BUILTIN.iter().map(|(k, ..)| *k).collect();
                return Err(FieldError::new(field, format!("unknown KPI `{key}`; known: {}", known.join(", "))));
            };
            let number = match (unit, value) {
                (Unit::Seconds, RawValue::Text(t)) => TargetDuration::parse(&field, &t)?.as_seconds() as f64,
                (Unit::Seconds, RawValue::Number(_)) => return Err(FieldError::new(field, "must be a duration such as \"2h\"")),
                (_, RawValue::Number(n)) => n,
                (_, RawValue::Text(_)) => return Err(FieldError::new(field, "must be a number")),
            };
            if *unit == Unit::Ratio && !(0.0..=1.0).contains(&number) {
                return Err(FieldError::new(field, "a rate is a number from 0 to 1"));
            }
            if *unit == Unit::Score && !(1.0..=5.0).contains(&number) {
                return Err(FieldError::new(field, "a CSAT score is from 1 to 5"));
            }
            out.targets.insert(key, number);
        }
        Ok(out)
    }

    pub fn target(&self, key: &str) -> Option<Target> {
        let better = BUILTIN.iter().find(|(k, ..)| *k == key).map(|(_, _, _, b, _)| *b)?;
        self.targets.get(key).map(|v| Target { value: *v, better, warning_margin: self.margin })
    }

    /// A stage's dwell-time target (its process target, in seconds).
    pub fn stage_target(&self, seconds: f64) -> Target {
        Target { value: seconds, better: Better::Lower, warning_margin: self.margin }
    }

    /// A built-in KPI by key with its configured target.
    pub fn kpi(&self, key: &str, value: Option<f64>, sample: u64) -> Kpi {
        let (name, unit) = BUILTIN.iter().find(|(k, ..)| *k == key).map(|(_, n, u, _, _)| (*n, *u)).unwrap_or((key, Unit::Count));
        Kpi::new(key, name, unit, value, sample).with_target(self.target(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kpis_are_computed_from_aggregate_inputs() {
        let inputs = KpiInputs {
            tickets: 4,
            resolved: 2,
            resolved_once: 3,
            reopened: 1,
            first_contact_resolved: 1,
            complaints: 1,
            first_response: DurationStats {
                count: 3,
                mean_ms: Some(20_000.0),
                p50_ms: Some(10_000.0),
                p90_ms: Some(40_000.0),
                max_ms: Some(40_000.0),
            },
            csat_responses: 2,
            csat_mean: Some(3.5),
            csat_satisfied: 1,
            sla: vec![ClockCompliance { kind: "first_response".into(), met: 3, breached: 1 }],
            stages: vec![StageDwell {
                process: "general".into(),
                stage: "consultation".into(),
                completed: 2,
                mean_ms: Some(7_200_000.0),
                breached: 1,
            }],
            backlog: vec![BacklogCount { process: "general".into(), stage: "consultation".into(), status: "open".into(), count: 2 }],
            ..KpiInputs::default()
        };
        let kpis = build_kpis(&inputs, &KpiTargets::default(), |_, stage| (stage == "consultation").then_some(14_400.0));
        let get = |key: &str, dim: Option<&str>| kpis.iter().find(|k| k.key == key && k.dimension.as_deref() == dim).unwrap().clone();
        assert_eq!(get("first_response_time_p90", None).value, Some(40.0));
        assert_eq!(get("first_response_time_p90", None).status(), Some(KpiStatus::Ok));
        assert_eq!(get("resolution_time_p50", None).value, None);
        assert_eq!(get("resolution_rate", None).value, Some(0.5));
        assert_eq!(get("first_contact_resolution_rate", None).value, Some(0.5));
        assert_eq!(get("reopen_rate", None).value, Some(1.0 / 3.0));
        assert_eq!(get("reopen_rate", None).status(), Some(KpiStatus::Breach));
        assert_eq!(get("csat_satisfied_share", None).value, Some(0.5));
        assert_eq!(get("complaint_rate", None).value, Some(0.25));
        assert_eq!(get("sla_compliance", Some("first_response")).value, Some(0.75));
        assert_eq!(get("sla_compliance", Some("first_response")).sample, 4);
        assert_eq!(get("review_pass_rate", None).value, None);
        let dwell = get("stage_dwell_time", Some("general/consultation"));
        assert_eq!((dwell.value, dwell.status()), (Some(7200.0), Some(KpiStatus::Ok)));
        assert_eq!(get("backlog", None).value, Some(2.0));
        assert_eq!(get("backlog", Some("general/consultation/open")).value, Some(2.0));
    }

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile_offset(0, 0.5), None);
        assert_eq!(percentile_offset(1, 0.9), Some(0));
        // 10 values: p50 is the 5th (offset 4), p90 the 9th (offset 8).
        assert_eq!(percentile_offset(10, 0.5), Some(4));
        assert_eq!(percentile_offset(10, 0.9), Some(8));
        assert_eq!(percentile_offset(3, 0.5), Some(1));
        assert_eq!(percentile_offset(4, 1.0), Some(3));
        assert_eq!(percentile_offset(4, 0.0), Some(0));
    }

    #[test]
    fn rates_need_a_denominator() {
        assert_eq!(rate(1, 4), Some(0.25));
        assert_eq!(rate(0, 0), None);
    }

    #[test]
    fn status_against_targets_both_ways() {
        let lower = Target { value: 100.0, better: Better::Lower, warning_margin: 0.1 };
        assert_eq!(lower.status(100.0), KpiStatus::Ok);
        assert_eq!(lower.status(109.0), KpiStatus::Warning);
        assert_eq!(lower.status(111.0), KpiStatus::Breach);
        let higher = Target { value: 0.85, better: Better::Higher, warning_margin: 0.1 };
        assert_eq!(higher.status(0.9), KpiStatus::Ok);
        assert_eq!(higher.status(0.8), KpiStatus::Warning);
        assert_eq!(higher.status(0.5), KpiStatus::Breach);
        let kpi = Kpi::new("x", "x", Unit::Ratio, None, 0).with_target(Some(higher));
        assert_eq!(kpi.status(), None, "no sample, no status");
    }

    #[test]
    fn targets_load_with_defaults_and_name_bad_keys() {
        let t = KpiTargets::default();
        assert_eq!(t.target("csat_satisfied_share").unwrap().value, 0.85);
        let t = KpiTargets::from_toml("warning_margin_percent = 20\n[targets]\nfirst_response_time_p90 = \"30m\"\nreopen_rate = 0.1\n")
            .unwrap();
        assert_eq!(t.target("first_response_time_p90").unwrap().value, 1800.0);
        assert_eq!(t.target("reopen_rate").unwrap().warning_margin, 0.2);
        let e = KpiTargets::from_toml("[targets]\nhappiness = 1\n").unwrap_err();
        assert_eq!(e.field, "targets.happiness");
        let e = KpiTargets::from_toml("[targets]\nreopen_rate = 5\n").unwrap_err();
        assert_eq!(e.field, "targets.reopen_rate");
        let e = KpiTargets::from_toml("[targets]\nresolution_time_p90 = 5\n").unwrap_err();
        assert_eq!(e.field, "targets.resolution_time_p90");
    }

    #[test]
    fn shipped_targets_file_parses_to_the_defaults() {
        let shipped = KpiTargets::from_toml(include_str!("../../../config/kpis.toml")).unwrap();
        assert_eq!(shipped, KpiTargets::default());
    }

    #[test]
    fn periods_from_window_or_bounds() {
        let now = Timestamp::from_millis(10 * 86_400_000);
        let p = Period::parse(None, None, Some("7d"), now).unwrap();
        assert_eq!(p.from, Timestamp::from_millis(3 * 86_400_000));
        assert_eq!(p.to, now);
        // `from` decides the start; `window` then plays no part.
        let p = Period::parse(Some("1970-01-02T00:00:00Z"), None, Some("7d"), now).unwrap();
        assert_eq!((p.from, p.to), (Timestamp::from_millis(86_400_000), now));
        // A window ending at `to`; a `from` after `to` is an empty period.
        let p = Period::parse(None, Some("1970-01-09T00:00:00Z"), Some("7d"), now).unwrap();
        assert_eq!((p.from, p.to), (Timestamp::from_millis(86_400_000), Timestamp::from_millis(8 * 86_400_000)));
        let p = Period::parse(Some("2026-02-01T00:00:00Z"), Some("2026-01-01T00:00:00Z"), None, now).unwrap();
        assert!(p.from >= p.to);
        assert_eq!(Period::parse(Some("yesterday"), None, None, now).unwrap_err()[0].field, "from");
    }

    #[test]
    fn months_cover_the_calendar_month() {
        let m = Month::parse("month", "2026-01").unwrap();
        assert_eq!(m.previous().to_string(), "2025-12");
        let p = m.period();
        assert_eq!(p.from, Timestamp::parse("x", "2026-01-01T00:00:00Z").unwrap());
        assert_eq!(p.to, Timestamp::parse("x", "2026-02-01T00:00:00Z").unwrap());
        assert!(Month::parse("month", "2026-13").is_err());
        assert!(Month::parse("month", "26-01").is_err());
    }
}
