//! SLA policies: which standards apply to a ticket. A policy matches on any subset of kind,
//! channel, priority, customer tier and process; the most specific match wins, ties broken by
//! `order`. Targets are business durations measured through the policy's calendar.

use super::auth::Role;
use super::calendar::Calendar;
use super::duration::TargetDuration;
use super::error::Errors;
use super::string_enum;
use super::ticket::{Channel, Kind, Priority, Status, Ticket};
use super::{FieldError, ValidationError};
use serde::{Deserialize, Serialize};

/// Conditions of a policy; an empty list means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Conditions {
    pub kinds: Vec<Kind>,
    pub channels: Vec<Channel>,
    pub priorities: Vec<Priority>,
    pub tiers: Vec<String>,
    pub processes: Vec<String>,
}

/// Raised when a clock reaches `at_percent` of its target: recorded as an event and sent to
/// whoever watches for it (webhooks, metrics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    pub at_percent: u32,
    pub notify_role: Role,
}

/// A policy as written in `config/sla.toml` or sent to the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    pub name: String,
    /// Breaks ties between equally specific policies: lower wins.
    #[serde(default)]
    pub order: i32,
    #[serde(default, rename = "match")]
    pub conditions: Conditions,
    pub first_response: Option<String>,
    pub next_response: Option<String>,
    pub resolution: Option<String>,
    /// Percent of a target at which a warning is raised.
    pub warning_percent: Option<u32>,
    #[serde(default)]
    pub escalations: Vec<Escalation>,
    /// Calendar key; none (or `always`) means around the clock (24×7, UTC).
    pub calendar: Option<String>,
    /// A calendar for one target alone, instead of `calendar` (`always`: wall-clock time).
    pub first_response_calendar: Option<String>,
    pub next_response_calendar: Option<String>,
    pub resolution_calendar: Option<String>,
    /// Statuses that pause the resolution clock (default: waiting_customer, waiting_partner).
    pub pause_on: Option<Vec<Status>>,
}

impl PolicySpec {
    /// Every calendar the spec names, with its field: the policy's, then each target's.
    pub fn calendar_fields(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("calendar", &self.calendar),
            ("first_response_calendar", &self.first_response_calendar),
            ("next_response_calendar", &self.next_response_calendar),
            ("resolution_calendar", &self.resolution_calendar),
        ]
        .into_iter()
        .filter_map(|(field, key)| key.as_deref().map(|k| (field, k)))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlaPolicy {
    pub key: String,
    pub name: String,
    pub order: i32,
    pub conditions: Conditions,
    pub first_response: Option<TargetDuration>,
    pub next_response: Option<TargetDuration>,
    pub resolution: Option<TargetDuration>,
    pub warning_percent: u32,
    /// Sorted by `at_percent`.
    pub escalations: Vec<Escalation>,
    pub calendar: Option<String>,
    /// Per-target calendars; none: the target counts on `calendar`.
    pub first_response_calendar: Option<String>,
    pub next_response_calendar: Option<String>,
    pub resolution_calendar: Option<String>,
    pub pause_on: Vec<Status>,
}

pub const DEFAULT_WARNING_PERCENT: u32 = 80;

/// [`is_valid_key`] as a regular expression (stated in the OpenAPI document).
pub const KEY_PATTERN: &str = "^[a-z][a-z0-9_-]{0,63}$";

pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl SlaPolicy {
    /// Checks a spec; `known_calendars` are the calendar keys that exist (the built-in
    /// `always` is known without being listed).
    pub fn from_spec(key: &str, spec: PolicySpec, known_calendars: &[&str], tiers: &[String]) -> Result<SlaPolicy, ValidationError> {
        let mut errors = Errors::default();
        if !is_valid_key(key) {
            errors.push(FieldError::new("key", "must be 1 to 64 lower-case letters, digits, _ or -, starting with a letter"));
        }
        if spec.name.trim().is_empty() {
            errors.push(FieldError::new("name", "must not be empty"));
        }
        let mut target = |field: &str, text: &Option<String>| text.as_deref().and_then(|t| errors.take(TargetDuration::parse(field, t)));
        let first_response = target("first_response", &spec.first_response);
        let next_response = target("next_response", &spec.next_response);
        let resolution = target("resolution", &spec.resolution);
        if first_response.is_none() && resolution.is_none() && spec.first_response.is_none() && spec.resolution.is_none() {
            errors.push(FieldError::new("resolution", "a policy sets at least a first_response or a resolution target"));
        }
        let warning_percent = spec.warning_percent.unwrap_or(DEFAULT_WARNING_PERCENT);
        if !(1..=99).contains(&warning_percent) {
            errors.push(FieldError::new("warning_percent", "must be between 1 and 99"));
        }
        let mut escalations = spec.escalations.clone();
        escalations.sort_by_key(|e| e.at_percent);
        for (i, e) in escalations.iter().enumerate() {
            if !(50..=1000).contains(&e.at_percent) {
                errors.push(FieldError::new(format!("escalations[{i}].at_percent"), "must be between 50 and 1000"));
            }
            if i > 0 && escalations[i - 1].at_percent == e.at_percent {
                errors.push(FieldError::new(format!("escalations[{i}].at_percent"), "two escalations at the same percent"));
            }
        }
        for (field, calendar) in spec.calendar_fields() {
            if calendar != Calendar::ALWAYS_UTC_KEY && !known_calendars.contains(&calendar) {
                errors.push(FieldError::new(field, format!("no calendar `{calendar}`")));
            }
        }
        for (i, tier) in spec.conditions.tiers.iter().enumerate() {
            if !tiers.contains(tier) {
                errors.push(FieldError::new(format!("match.tiers[{i}]"), format!("`{tier}` is not one of: {}", tiers.join(", "))));
            }
        }
        let pause_on = spec.pause_on.unwrap_or_else(|| vec![Status::WaitingCustomer, Status::WaitingPartner]);
        for (i, status) in pause_on.iter().enumerate() {
            if matches!(status, Status::Resolved | Status::Closed) {
                errors.push(FieldError::new(format!("pause_on[{i}]"), "resolved and closed stop clocks; they cannot pause them"));
            }
        }
        errors.finish()?;
        Ok(SlaPolicy {
            key: key.to_owned(),
            name: spec.name.trim().to_owned(),
            order: spec.order,
            conditions: spec.conditions,
            first_response,
            next_response,
            resolution,
            warning_percent,
            escalations,
            calendar: spec.calendar,
            first_response_calendar: spec.first_response_calendar,
            next_response_calendar: spec.next_response_calendar,
            resolution_calendar: spec.resolution_calendar,
            pause_on,
        })
    }

    pub fn to_spec(&self) -> PolicySpec {
        PolicySpec {
            name: self.name.clone(),
            order: self.order,
            conditions: self.conditions.clone(),
            first_response: self.first_response.map(|t| t.to_string()),
            next_response: self.next_response.map(|t| t.to_string()),
            resolution: self.resolution.map(|t| t.to_string()),
            warning_percent: Some(self.warning_percent),
            escalations: self.escalations.clone(),
            calendar: self.calendar.clone(),
            first_response_calendar: self.first_response_calendar.clone(),
            next_response_calendar: self.next_response_calendar.clone(),
            resolution_calendar: self.resolution_calendar.clone(),
            pause_on: Some(self.pause_on.clone()),
        }
    }

    /// How many dimensions the policy constrains; more is more specific.
    pub fn specificity(&self) -> usize {
        let c = &self.conditions;
        [c.kinds.is_empty(), c.channels.is_empty(), c.priorities.is_empty(), c.tiers.is_empty(), c.processes.is_empty()]
            .iter()
            .filter(|empty| !**empty)
            .count()
    }

    /// The conditions this ticket meets, as `dimension=value`, or None if one fails.
    pub fn matched_conditions(&self, t: &Ticket) -> Option<Vec<String>> {
        let c = &self.conditions;
        let mut met = Vec::new();
        let mut check = |ok: bool, constrained: bool, what: String| {
            if constrained {
                met.push(what);
            }
            ok || !constrained
        };
        let all = check(c.kinds.contains(&t.kind), !c.kinds.is_empty(), format!("kind={}", t.kind))
            && check(c.channels.contains(&t.channel), !c.channels.is_empty(), format!("channel={}", t.channel))
            && check(c.priorities.contains(&t.priority), !c.priorities.is_empty(), format!("priority={}", t.priority))
            && check(c.tiers.contains(&t.customer.tier), !c.tiers.is_empty(), format!("tier={}", t.customer.tier))
            && check(c.processes.contains(&t.process), !c.processes.is_empty(), format!("process={}", t.process));
        all.then_some(met)
    }

    /// The target for a ticket-level clock.
    pub fn target(&self, kind: super::clock::ClockKind) -> Option<TargetDuration> {
        use super::clock::ClockKind;
        match kind {
            ClockKind::FirstResponse => self.first_response,
            ClockKind::NextResponse => self.next_response,
            ClockKind::Resolution => self.resolution,
            ClockKind::Stage => None,
        }
    }

    /// The calendar a ticket-level clock of `kind` counts on, and why: the target's own, else
    /// the policy's, else none (24×7 UTC).
    pub fn calendar_for(&self, kind: super::clock::ClockKind) -> (Option<&str>, CalendarSource) {
        use super::clock::ClockKind;
        let own = match kind {
            ClockKind::FirstResponse => &self.first_response_calendar,
            ClockKind::NextResponse => &self.next_response_calendar,
            ClockKind::Resolution => &self.resolution_calendar,
            ClockKind::Stage => &None,
        };
        match (own, &self.calendar) {
            (Some(own), _) => (Some(own), CalendarSource::Target),
            (None, Some(policy)) => (Some(policy), CalendarSource::Policy),
            (None, None) => (None, CalendarSource::Default),
        }
    }

    /// Percent levels that raise an alert, in order: the warning, the breach (100), escalations.
    pub fn alert_levels(&self) -> Vec<AlertLevel> {
        let mut levels = vec![AlertLevel::Warning(self.warning_percent), AlertLevel::Breach];
        levels.extend(self.escalations.iter().map(|e| AlertLevel::Escalation(e.at_percent, e.notify_role)));
        levels
    }
}

string_enum! {
    /// Why a clock counts on the calendar it does.
    pub enum CalendarSource {
        /// The stage names its own calendar (`calendar` in the process file).
        Stage => "stage",
        /// The policy names one for this target (`first_response_calendar`, …).
        Target => "target",
        /// The policy's `calendar`.
        Policy => "policy",
        /// Nothing names one: around the clock, UTC.
        Default => "default",
    }
}

/// A point on a clock worth an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertLevel {
    Warning(u32),
    Breach,
    Escalation(u32, Role),
}

impl AlertLevel {
    pub fn percent(self) -> u32 {
        match self {
            AlertLevel::Warning(p) | AlertLevel::Escalation(p, _) => p,
            AlertLevel::Breach => 100,
        }
    }

    /// A stable name, unique per clock: the database keeps each (clock, name) once.
    pub fn name(self) -> String {
        match self {
            AlertLevel::Warning(_) => "warning".into(),
            AlertLevel::Breach => "breach".into(),
            AlertLevel::Escalation(p, _) => format!("escalation_{p}"),
        }
    }
}

/// Which policy applies to a ticket, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyMatch<'a> {
    pub policy: &'a SlaPolicy,
    pub matched: Vec<String>,
    /// Other policies that matched but lost, by key.
    pub also_matched: Vec<String>,
}

impl PolicyMatch<'_> {
    pub fn explanation(&self) -> String {
        let why = if self.matched.is_empty() { "it has no conditions (the fallback)".to_owned() } else { self.matched.join(", ") };
        let mut text = format!("policy `{}` applies: {why}", self.policy.key);
        if !self.also_matched.is_empty() {
            text.push_str(&format!("; it is more specific or earlier in order than {}", self.also_matched.join(", ")));
        }
        text
    }
}

/// The most specific matching policy; ties go to the lower `order`, then the key.
pub fn match_policy<'a>(policies: &'a [SlaPolicy], ticket: &Ticket) -> Option<PolicyMatch<'a>> {
    let mut candidates: Vec<(&SlaPolicy, Vec<String>)> =
        policies.iter().filter_map(|p| p.matched_conditions(ticket).map(|m| (p, m))).collect();
    candidates.sort_by(|(a, _), (b, _)| b.specificity().cmp(&a.specificity()).then(a.order.cmp(&b.order)).then(a.key.cmp(&b.key)));
    let mut iter = candidates.into_iter();
    let (policy, matched) = iter.next()?;
    Some(PolicyMatch { policy, matched, also_matched: iter.map(|(p, _)| format!("`{}`", p.key)).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::ProcessRegistry;
    use crate::ticket::{TicketDraft, TicketRules};
    use crate::time::Timestamp;

    fn ticket(channel: Channel, tier: &str, kind: Kind) -> Ticket {
        let registry = ProcessRegistry::builtin();
        let tiers = vec!["standard".to_string(), "priority".into(), "vip".into()];
        let rules = TicketRules { tiers: &tiers, default_process: "general", processes: &registry };
        let draft = TicketDraft {
            title: "t".into(),
            description: None,
            kind,
            channel,
            priority: Priority::Normal,
            customer_name: "c".into(),
            customer_contact: None,
            customer_tier: Some(tier.into()),
            process: None,
            assignee: None,
            tags: vec![],
            custom_fields: None,
            origin_ticket_id: None,
        };
        Ticket::open(draft, &rules, Timestamp::from_millis(0)).unwrap().ticket
    }

    fn policy(key: &str, order: i32, conditions: Conditions) -> SlaPolicy {
        SlaPolicy::from_spec(key, spec(key, order, conditions), &[], &["standard".into(), "priority".into(), "vip".into()]).unwrap()
    }

    fn spec(key: &str, order: i32, conditions: Conditions) -> PolicySpec {
        PolicySpec {
            name: key.into(),
            order,
            conditions,
            first_response: Some("1h".into()),
            next_response: None,
            resolution: Some("1d".into()),
            warning_percent: None,
            escalations: vec![
                Escalation { at_percent: 150, notify_role: Role::Admin },
                Escalation { at_percent: 100, notify_role: Role::Supervisor },
            ],
            calendar: None,
            first_response_calendar: None,
            next_response_calendar: None,
            resolution_calendar: None,
            pause_on: None,
        }
    }

    #[test]
    fn the_most_specific_policy_wins_and_explains_itself() {
        let policies = vec![
            policy("default", 100, Conditions::default()),
            policy("phone", 10, Conditions { channels: vec![Channel::Phone], ..Default::default() }),
            policy("vip-phone", 50, Conditions { channels: vec![Channel::Phone], tiers: vec!["vip".into()], ..Default::default() }),
        ];
        let m = match_policy(&policies, &ticket(Channel::Phone, "vip", Kind::Request)).unwrap();
        assert_eq!(m.policy.key, "vip-phone");
        assert_eq!(m.matched, ["channel=phone", "tier=vip"]);
        assert!(m.explanation().contains("`phone`") && m.explanation().contains("`default`"), "{}", m.explanation());
        let m = match_policy(&policies, &ticket(Channel::Email, "vip", Kind::Request)).unwrap();
        assert_eq!(m.policy.key, "default");
        assert!(m.explanation().contains("fallback"));
    }

    #[test]
    fn two_escalations_at_one_percent_are_refused_whatever_their_roles() {
        let mut spec = spec("dup", 0, Conditions::default());
        spec.escalations =
            vec![Escalation { at_percent: 120, notify_role: Role::Admin }, Escalation { at_percent: 120, notify_role: Role::Supervisor }];
        let err = SlaPolicy::from_spec("dup", spec, &[], &[]).unwrap_err();
        assert!(format!("{err:?}").contains("two escalations at the same percent"), "{err:?}");
    }

    #[test]
    fn ties_go_to_the_lower_order() {
        let policies = vec![
            policy("b", 2, Conditions { kinds: vec![Kind::Complaint], ..Default::default() }),
            policy("a", 1, Conditions { channels: vec![Channel::Chat], ..Default::default() }),
        ];
        let m = match_policy(&policies, &ticket(Channel::Chat, "standard", Kind::Complaint)).unwrap();
        assert_eq!(m.policy.key, "a");
    }

    #[test]
    fn no_match_without_a_fallback() {
        let policies = vec![policy("phone", 1, Conditions { channels: vec![Channel::Phone], ..Default::default() })];
        assert!(match_policy(&policies, &ticket(Channel::Web, "standard", Kind::Request)).is_none());
    }

    #[test]
    fn alert_levels_are_ordered_and_named_uniquely() {
        let p = policy("x", 0, Conditions::default());
        let names: Vec<_> = p.alert_levels().iter().map(|l| l.name()).collect();
        assert_eq!(names, ["warning", "breach", "escalation_100", "escalation_150"]);
        assert_eq!(p.alert_levels()[0].percent(), 80);
    }

    #[test]
    fn spec_errors_name_fields() {
        let spec = PolicySpec {
            name: " ".into(),
            order: 0,
            conditions: Conditions { tiers: vec!["gold".into()], ..Default::default() },
            first_response: Some("soon".into()),
            next_response: None,
            resolution: None,
            warning_percent: Some(120),
            escalations: vec![],
            calendar: Some("office".into()),
            first_response_calendar: None,
            next_response_calendar: None,
            resolution_calendar: None,
            pause_on: Some(vec![Status::Closed]),
        };
        let e = SlaPolicy::from_spec("Bad Key", spec, &["support"], &["standard".into()]).unwrap_err();
        let fields: Vec<_> = e.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["key", "name", "first_response", "warning_percent", "calendar", "match.tiers[0]", "pause_on[0]"]);
    }
}
