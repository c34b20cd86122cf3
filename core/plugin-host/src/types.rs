//! The data that crosses the plugin boundary, as plain Rust types. Both runtimes translate these
//! to and from their own representation (component-model values, Rhai maps) with the same field
//! names, so a hook sees the same shapes in either language.

use super::limits::{FIXED_INPUT_BYTES, MAX_BREAKDOWN_ITEMS, MAX_GRADE_CHARS};
use super::PluginError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use steward_domain::event::{Actor, EventData, RecordedEvent};
use steward_domain::ticket::{normalize_tag, Priority, Ticket, MAX_COMMENT_CHARS};
use steward_domain::time::Timestamp;

/// What a hook sees of a ticket. `now` is the current time: plugins have no clock of their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketSnapshot {
    pub id: String,
    pub number: String,
    pub title: String,
    pub description: String,
    pub kind: String,
    pub channel: String,
    pub priority: String,
    pub customer_name: String,
    pub customer_tier: String,
    pub process: String,
    pub process_version: u32,
    pub stage: String,
    pub status: String,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
    /// Custom fields as JSON values (WASM guests get each value as JSON text).
    pub custom_fields: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
    pub first_response_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub reopen_count: u32,
    pub now: i64,
}

impl TicketSnapshot {
    /// The ticket as of `now`.
    pub fn at(ticket: &Ticket, now: Timestamp) -> Self {
        TicketSnapshot {
            id: ticket.id.to_string(),
            number: ticket.number.to_string(),
            title: ticket.title.clone(),
            description: ticket.description.clone(),
            kind: ticket.kind.to_string(),
            channel: ticket.channel.to_string(),
            priority: ticket.priority.to_string(),
            customer_name: ticket.customer.name.clone(),
            customer_tier: ticket.customer.tier.clone(),
            process: ticket.process.clone(),
            process_version: ticket.process_version,
            stage: ticket.stage.clone(),
            status: ticket.status.to_string(),
            assignee: ticket.assignee.map(|a| a.to_string()),
            tags: ticket.tags.clone(),
            custom_fields: ticket.custom_fields.clone(),
            created_at: ticket.created_at.as_millis(),
            updated_at: ticket.updated_at.as_millis(),
            first_response_at: ticket.first_response_at.map(Timestamp::as_millis),
            resolved_at: ticket.resolved_at.map(Timestamp::as_millis),
            reopen_count: ticket.reopen_count,
            now: now.as_millis(),
        }
    }
}

impl TicketSnapshot {
    /// A cheap upper estimate of the snapshot's size in bytes, to enforce input limits without
    /// serialising it.
    pub fn approx_size(&self) -> usize {
        let strings = [
            &self.id,
            &self.number,
            &self.title,
            &self.description,
            &self.kind,
            &self.channel,
            &self.priority,
            &self.customer_name,
            &self.customer_tier,
            &self.process,
            &self.stage,
            &self.status,
        ];
        let fields =
            if self.custom_fields.is_empty() { 0 } else { serde_json::to_vec(&self.custom_fields).map(|v| v.len()).unwrap_or(usize::MAX) };
        strings.iter().map(|s| s.len()).sum::<usize>()
            + self.tags.iter().map(|t| t.len() + 4).sum::<usize>()
            + fields.saturating_add(FIXED_INPUT_BYTES)
    }
}

/// Snapshot with `now` taken from the clock.
impl From<&Ticket> for TicketSnapshot {
    fn from(ticket: &Ticket) -> Self {
        TicketSnapshot::at(ticket, Timestamp::now())
    }
}

/// Something that happened to a ticket: the kind and data of a timeline event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSnapshot {
    pub kind: String,
    /// The event's data object, as stored in the timeline.
    pub data: Value,
    pub at: i64,
    /// The actor's name.
    pub actor: String,
}

impl EventSnapshot {
    /// An event that has just been produced by a domain rule (not yet numbered by storage).
    pub fn new(data: &EventData, actor: &Actor, at: Timestamp) -> Self {
        EventSnapshot { kind: data.kind().to_owned(), data: data.data_json(), at: at.as_millis(), actor: actor.name.clone() }
    }
}

impl From<&RecordedEvent> for EventSnapshot {
    fn from(e: &RecordedEvent) -> Self {
        EventSnapshot { kind: e.kind.clone(), data: e.data.clone(), at: e.at.as_millis(), actor: e.actor.name.clone() }
    }
}

/// A change a plugin asks for. The caller applies it through the domain rules, attributed to
/// the plugin. Actions are validated when they come out of a plugin, so these are well-formed.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A tag, already normalised (lower-case, allowed characters).
    AddTag(String),
    SetCustomField {
        key: String,
        value: Value,
    },
    SetPriority(Priority),
    AddInternalNote(String),
}

pub use super::limits::MAX_FIELD_KEY_CHARS;

impl Action {
    /// Checks a raw action from a plugin (`case` is the WIT case name, snake_case) and builds
    /// the typed action, or says what breaks the contract.
    pub(crate) fn from_raw(case: &str, payload: RawPayload) -> Result<Action, PluginError> {
        let bad = |message: String| PluginError::BadOutput { message };
        match (case, payload) {
            ("add_tag", RawPayload::Text(tag)) => normalize_tag(&tag).map(Action::AddTag).map_err(|m| bad(format!("add_tag: {m}"))),
            ("set_priority", RawPayload::Text(p)) => {
                Priority::parse("set_priority", &p).map(Action::SetPriority).map_err(|e| bad(e.to_string()))
            }
            ("add_internal_note", RawPayload::Text(note)) => {
                if note.trim().is_empty() || note.chars().count() > MAX_COMMENT_CHARS {
                    Err(bad(format!("add_internal_note: a note has 1 to {MAX_COMMENT_CHARS} characters")))
                } else {
                    Ok(Action::AddInternalNote(note))
                }
            }
            ("set_custom_field", RawPayload::Field { key, value }) => {
                let key = key.trim().to_owned();
                if key.is_empty() || key.chars().count() > MAX_FIELD_KEY_CHARS {
                    return Err(bad(format!("set_custom_field: a key has 1 to {MAX_FIELD_KEY_CHARS} characters")));
                }
                Ok(Action::SetCustomField { key, value })
            }
            (case, _) => Err(bad(format!(
                "`{case}` is not an action with that payload (add_tag, set_custom_field, set_priority, add_internal_note)"
            ))),
        }
    }
}

/// An action's payload before validation.
pub(crate) enum RawPayload {
    Text(String),
    Field { key: String, value: Value },
}

/// What Steward knows about a partner over a scorecard's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerStats {
    pub partner_id: String,
    pub partner_name: String,
    pub window_start: i64,
    pub window_end: i64,
    pub now: i64,
    pub jobs: u32,
    pub on_time: u32,
    pub csat_responses: u32,
    /// Mean satisfaction, 1 to 5.
    pub csat_average: Option<f64>,
    pub complaints: u32,
    pub reopens: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreItem {
    pub criterion: String,
    pub score: f64,
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    /// 0 to 100.
    pub score: f64,
    pub grade: String,
    pub breakdown: Vec<ScoreItem>,
}

impl Scorecard {
    /// Checks the ranges the contract promises to callers.
    pub(crate) fn validate(self) -> Result<Self, PluginError> {
        let bad = |message: String| Err(PluginError::BadOutput { message });
        let in_range = |x: f64| x.is_finite() && (0.0..=100.0).contains(&x);
        if !in_range(self.score) {
            return bad(format!("score {} is not between 0 and 100", self.score));
        }
        if self.grade.trim().is_empty() || self.grade.chars().count() > MAX_GRADE_CHARS {
            return bad(format!("grade must have 1 to {MAX_GRADE_CHARS} characters"));
        }
        if self.breakdown.len() > MAX_BREAKDOWN_ITEMS {
            return bad(format!("at most {MAX_BREAKDOWN_ITEMS} breakdown items"));
        }
        for item in &self.breakdown {
            if !in_range(item.score) {
                return bad(format!("breakdown `{}`: score {} is not between 0 and 100", item.criterion, item.score));
            }
            if !(item.weight.is_finite() && (0.0..=1.0).contains(&item.weight)) {
                return bad(format!("breakdown `{}`: weight {} is not between 0 and 1", item.criterion, item.weight));
            }
        }
        Ok(self)
    }
}

/// Durations of a set of tickets, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DurationStats {
    pub count: u32,
    pub mean: f64,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
}

/// Aggregates over a KPI's window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KpiInput {
    pub window_start: i64,
    pub window_end: i64,
    pub now: i64,
    pub tickets_created: u32,
    pub tickets_resolved: u32,
    pub tickets_reopened: u32,
    pub first_contact_resolved: u32,
    pub complaints: u32,
    pub sla_breaches: u32,
    pub backlog: u32,
    pub first_response: DurationStats,
    pub resolution: DurationStats,
    pub csat_responses: u32,
    pub csat_average: Option<f64>,
}

/// A guard's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Reject(String),
}

pub use super::limits::MAX_REASON_BYTES;

pub(crate) fn check_kpi_value(v: f64) -> Result<f64, PluginError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(PluginError::BadOutput { message: format!("KPI value {v} is not a finite number") })
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub(crate) fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

pub mod samples {
    //! Sample inputs: what `steward plugin test` feeds hooks when given no fixture, and what
    //! the tests of both runtimes use.
    use super::*;
    use steward_domain::event::FieldChange;
    use steward_domain::process::Process;

    pub const NOW: i64 = 1_767_225_600_000;

    pub fn ticket() -> TicketSnapshot {
        TicketSnapshot {
            id: "0190a0b0-0000-7000-8000-000000000001".into(),
            number: "T-000042".into(),
            title: "Boiler broken".into(),
            description: "No hot water".into(),
            kind: "incident".into(),
            channel: "phone".into(),
            priority: "normal".into(),
            customer_name: "ACME".into(),
            customer_tier: "standard".into(),
            process: "field_service".into(),
            process_version: 1,
            stage: "parts".into(),
            status: "open".into(),
            assignee: None,
            tags: vec!["boiler".into()],
            custom_fields: Map::new(),
            created_at: NOW - 3_600_000,
            updated_at: NOW - 60_000,
            first_response_at: None,
            resolved_at: None,
            reopen_count: 0,
            now: NOW,
        }
    }

    /// [`ticket`] fitted to `process`: a new urgent phone ticket in its first stage.
    pub fn ticket_in(process: &Process) -> TicketSnapshot {
        TicketSnapshot {
            process: process.key.clone(),
            process_version: process.version,
            stage: process.initial_stage().key.clone(),
            priority: "urgent".into(),
            ..ticket()
        }
    }

    fn id<T>(parse: fn(&str, &str) -> Result<T, steward_domain::FieldError>, n: u32) -> T {
        parse("id", &format!("0190a0b0-0000-7000-8000-{n:012}")).expect("a valid sample id")
    }

    /// A sample event of `kind` on `ticket` (in `process`), with the ticket as it stands after
    /// it, built from the domain's own event types; `None` for `plugin_failed`, which is never
    /// offered to plugins, and for a kind this function does not know.
    pub fn event(kind: &str, ticket: &TicketSnapshot, process: &Process) -> Option<(EventSnapshot, TicketSnapshot)> {
        use steward_domain::event::SlaClockRef;
        use steward_domain::feedback::ReviewOutcome;
        use steward_domain::ids::{AttachmentId, ClockId, DelegationId, PartnerId, ReviewId, StaffId, TicketId};
        use steward_domain::ticket::{Status, Visibility};
        let at = Timestamp::from_millis(ticket.now);
        let mut after = ticket.clone();
        let status = |s: &str| Status::parse("status", s).unwrap_or(Status::Open);
        let clock = || SlaClockRef { id: id(ClockId::parse, 11), kind: "resolution".into(), stage: None, policy: Some("standard".into()) };
        let data = match kind {
            "created" => {
                after.stage = process.initial_stage().key.clone();
                after.status = "open".into();
                after.created_at = ticket.now;
                EventData::Created {
                    number: ticket.number.clone(),
                    process: process.key.clone(),
                    process_version: process.version,
                    stage: after.stage.clone(),
                    status: Status::Open,
                    priority: Priority::parse("priority", &ticket.priority).unwrap_or(Priority::Normal),
                    channel: ticket.channel.clone(),
                    kind: ticket.kind.clone(),
                    tier: ticket.customer_tier.clone(),
                    origin_ticket_id: None,
                }
            }
            "updated" => {
                after.tags.push("sample".into());
                let changes = [("tags".to_owned(), FieldChange { from: ticket.tags.clone().into(), to: after.tags.clone().into() })];
                EventData::Updated { changes: changes.into_iter().collect() }
            }
            "status_changed" => {
                after.status = "waiting_customer".into();
                EventData::StatusChanged { from: status(&ticket.status), to: Status::WaitingCustomer }
            }
            "assignee_changed" => {
                let to = id(StaffId::parse, 3);
                after.assignee = Some(to.to_string());
                let from = ticket.assignee.as_deref().and_then(|a| StaffId::parse("assignee", a).ok());
                EventData::AssigneeChanged { from, to: Some(to) }
            }
            "stage_changed" => {
                let to = process.allowed_targets(&ticket.stage).first()?.key.clone();
                after.stage = to.clone();
                EventData::StageChanged { from: ticket.stage.clone(), to, note: None }
            }
            "comment_added" => EventData::CommentAdded {
                body: "Any news? The boiler is still cold.".into(),
                visibility: Visibility::Public,
                first_response: false,
                from_customer: true,
            },
            "reopened" => {
                after.status = "open".into();
                after.resolved_at = None;
                after.reopen_count = ticket.reopen_count + 1;
                EventData::Reopened {
                    reopen_count: after.reopen_count,
                    from_status: Status::Resolved,
                    reason: Some("still broken".into()),
                    from_customer: true,
                }
            }
            "follow_up_created" => EventData::FollowUpCreated { ticket_id: id(TicketId::parse, 2), number: "T-000043".into() },
            "complaint_received" => EventData::ComplaintReceived {
                complaint_id: id(TicketId::parse, 4),
                number: "T-000044".into(),
                title: "Nobody came".into(),
            },
            "survey_issued" => {
                after.status = "resolved".into();
                after.resolved_at = Some(ticket.now);
                EventData::SurveyIssued {
                    survey_url: "https://steward.example/survey/sample".into(),
                    expires_at: at.plus_millis(7 * 86_400_000),
                }
            }
            "csat_received" => {
                after.status = "resolved".into();
                after.resolved_at = Some(ticket.now);
                EventData::CsatReceived { score: 4, comment: Some("Quick and friendly".into()) }
            }
            "reviewed" => EventData::Reviewed {
                review_id: id(ReviewId::parse, 5),
                stage: ticket.stage.clone(),
                outcome: ReviewOutcome::Pass,
                score: 90,
                failed_items: Vec::new(),
            },
            "sla_policy_changed" => EventData::SlaPolicyChanged {
                from: Some("standard".into()),
                to: Some("urgent".into()),
                explanation: "priority is urgent".into(),
            },
            "sla_warning" => EventData::SlaWarning { clock: clock(), percent: 80, due_at: Some(at.plus_millis(3_600_000)) },
            "sla_breached" => EventData::SlaBreached { clock: clock(), breached_at: at, target: "4h".into() },
            "sla_escalated" => EventData::SlaEscalated { clock: clock(), percent: 120, notify_role: "supervisor".into() },
            "delegated" => EventData::Delegated {
                delegation_id: id(DelegationId::parse, 6),
                partner_id: id(PartnerId::parse, 7),
                partner_name: "FastParts".into(),
                note: None,
                first_response_due_at: Some(at.plus_millis(4 * 3_600_000)),
                resolution_due_at: Some(at.plus_millis(2 * 86_400_000)),
            },
            "delegation_withdrawn" => {
                EventData::DelegationWithdrawn { delegation_id: id(DelegationId::parse, 6), partner_id: id(PartnerId::parse, 7) }
            }
            "certification_overridden" => EventData::CertificationOverridden {
                staff_id: id(StaffId::parse, 3),
                stage: ticket.stage.clone(),
                certification: "SOLUTION-DESIGN".into(),
                state: "expired".into(),
                reason: "only expert on site".into(),
            },
            "attachment_added" => EventData::AttachmentAdded {
                attachment_id: id(AttachmentId::parse, 8),
                file_name: "boiler.jpg".into(),
                content_type: "image/jpeg".into(),
                size: 48_213,
                sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".into(),
                comment_seq: None,
                visibility: Visibility::Public,
            },
            "attachment_deleted" => EventData::AttachmentDeleted {
                attachment_id: id(AttachmentId::parse, 8),
                file_name: "boiler.jpg".into(),
                visibility: Visibility::Public,
            },
            _ => return None,
        };
        after.updated_at = ticket.now;
        let event =
            EventSnapshot { kind: data.kind().to_owned(), data: data.data_json(), at: ticket.now, actor: "steward plugin test".into() };
        Some((event, after))
    }

    pub fn partner() -> PartnerStats {
        PartnerStats {
            partner_id: "p-1".into(),
            partner_name: "FastParts".into(),
            window_start: NOW - 30 * 86_400_000,
            window_end: NOW,
            now: NOW,
            jobs: 40,
            on_time: 36,
            csat_responses: 20,
            csat_average: Some(4.5),
            complaints: 1,
            reopens: 2,
        }
    }

    pub fn kpi() -> KpiInput {
        KpiInput {
            window_start: NOW - 30 * 86_400_000,
            window_end: NOW,
            now: NOW,
            tickets_created: 120,
            tickets_resolved: 100,
            tickets_reopened: 5,
            first_contact_resolved: 70,
            complaints: 3,
            sla_breaches: 4,
            backlog: 20,
            first_response: DurationStats { count: 100, mean: 600.0, median: 400.0, p90: 1800.0, max: 7200.0 },
            resolution: DurationStats { count: 100, mean: 86_400.0, median: 40_000.0, p90: 200_000.0, max: 900_000.0 },
            csat_responses: 50,
            csat_average: Some(4.2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_domain::process::ProcessRegistry;
    use steward_domain::ticket::{Channel, Kind, TicketDraft, TicketRules};

    #[test]
    fn every_event_kind_offered_to_plugins_has_a_sample_in_the_domain_form() {
        let registry = ProcessRegistry::builtin();
        let general = registry.get("general").unwrap();
        let ticket = samples::ticket_in(general);
        for kind in EventData::KINDS {
            let sample = samples::event(kind, &ticket, general);
            if *kind == "plugin_failed" {
                assert!(sample.is_none(), "plugin failures are never offered to plugins");
                continue;
            }
            let (event, after) = sample.unwrap_or_else(|| panic!("no sample `{kind}` event"));
            assert_eq!(event.kind, *kind);
            let parsed: EventData = serde_json::from_value(serde_json::json!({ "kind": kind, "data": event.data })).unwrap();
            assert_eq!(parsed.kind(), *kind);
            assert_eq!(after.process, "general");
        }
        let (_, moved) = samples::event("stage_changed", &ticket, general).unwrap();
        assert_eq!((ticket.stage.as_str(), moved.stage.as_str()), ("consultation", "needs_analysis"));
    }

    #[test]
    fn snapshot_carries_the_ticket_fields_and_the_given_time() {
        let registry = ProcessRegistry::builtin();
        let tiers = vec!["standard".to_string()];
        let rules = TicketRules { tiers: &tiers, default_process: "general", processes: &registry };
        let draft = TicketDraft {
            title: "Printer".into(),
            description: None,
            kind: Kind::Incident,
            channel: Channel::Phone,
            priority: Priority::High,
            customer_name: "ACME".into(),
            customer_contact: None,
            customer_tier: None,
            process: None,
            assignee: None,
            tags: vec!["hw".into()],
            custom_fields: Some(serde_json::json!({"parts_log": "valve"})),
            origin_ticket_id: None,
        };
        let t0 = Timestamp::from_millis(samples::NOW);
        let ticket = Ticket::open(draft, &rules, t0).unwrap().ticket;
        let snap = TicketSnapshot::at(&ticket, t0.plus_millis(5));
        assert_eq!(snap.priority, "high");
        assert_eq!(snap.stage, "consultation");
        assert_eq!(snap.custom_fields["parts_log"], "valve");
        assert_eq!(snap.now, samples::NOW + 5);
        assert_eq!(snap.created_at, samples::NOW);
    }

    #[test]
    fn raw_actions_are_validated_against_the_domain_rules() {
        assert_eq!(Action::from_raw("add_tag", RawPayload::Text(" Urgent ".into())).unwrap(), Action::AddTag("urgent".into()));
        assert!(matches!(Action::from_raw("add_tag", RawPayload::Text("no spaces allowed".into())), Err(PluginError::BadOutput { .. })));
        assert!(matches!(Action::from_raw("set_priority", RawPayload::Text("extreme".into())), Err(PluginError::BadOutput { .. })));
        assert!(matches!(Action::from_raw("add_internal_note", RawPayload::Text("  ".into())), Err(PluginError::BadOutput { .. })));
        assert!(matches!(Action::from_raw("delete_ticket", RawPayload::Text("x".into())), Err(PluginError::BadOutput { .. })));
    }

    #[test]
    fn scorecards_outside_the_contract_ranges_are_refused() {
        let ok =
            Scorecard { score: 80.0, grade: "B".into(), breakdown: vec![ScoreItem { criterion: "x".into(), score: 80.0, weight: 1.0 }] };
        assert!(ok.clone().validate().is_ok());
        assert!(Scorecard { score: 250.0, ..ok.clone() }.validate().is_err());
        assert!(Scorecard { score: f64::NAN, ..ok.clone() }.validate().is_err());
        assert!(Scorecard { grade: String::new(), ..ok.clone() }.validate().is_err());
        let heavy = Scorecard { breakdown: vec![ScoreItem { criterion: "x".into(), score: 1.0, weight: 2.0 }], ..ok };
        assert!(heavy.validate().is_err());
    }

    /// Hook inputs reach Rhai scripts as maps with these field names (and `steward plugin test`
    /// fixtures are written with them): renaming a Rust field must be a decision, not an accident.
    #[test]
    fn hook_inputs_keep_their_golden_json_form() {
        let inputs = crate::testing::hook_inputs();
        let actual = serde_json::to_value(&inputs).unwrap();
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            // Written from the structs, in their field order; compared as values.
            let text = serde_json::to_string_pretty(&inputs).unwrap() + "\n";
            std::fs::write(crate::testing::golden_hook_input_path(), text).unwrap();
            return;
        }
        let golden: Value = serde_json::from_str(crate::testing::GOLDEN_HOOK_INPUT).unwrap();
        assert!(
            actual == golden,
            "hook input changed shape (scripts would see it): rerun with UPDATE_GOLDEN=1 if that is meant\n{}",
            serde_json::to_string_pretty(&actual).unwrap()
        );
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("héllo".into(), 2), "h");
        assert_eq!(truncate("abc".into(), 10), "abc");
    }
}
