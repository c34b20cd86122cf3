//! The parsers' rules as JSON Schema keywords on the request schemas of the OpenAPI document,
//! each stated from the constant (or the configuration) the parser itself reads. A rule names
//! its schema and property; one that names nothing is a stale rule and stops start-up.

use super::openapi::{allowed_text_pattern, blank_class, forbidden_class, non_blank_text_pattern, Facts};
use serde_json::{json, Map, Value};
use steward_domain::{feedback, improvement, partner, sla, staff, text, ticket, training};

/// One rule: keywords merged into the schema at `/components/schemas/{schema}{pointer}`.
pub struct Rule {
    schema: &'static str,
    pointer: String,
    keywords: Map<String, Value>,
}

impl Rule {
    pub fn apply(self, doc: &mut Value) {
        let at = format!("/components/schemas/{}{}", self.schema, self.pointer);
        let target = doc.pointer_mut(&at).and_then(Value::as_object_mut).unwrap_or_else(|| panic!("OpenAPI rule for missing schema {at}"));
        for (key, value) in self.keywords {
            target.insert(key, value);
        }
    }
}

fn keywords(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("keywords are an object"),
    }
}

/// Keywords for the schema of every query or path parameter called `name` of the operations
/// whose path `paths` accepts.
pub struct ParamRule {
    name: &'static str,
    paths: fn(&str) -> bool,
    keywords: Map<String, Value>,
}

impl ParamRule {
    pub fn apply(self, doc: &mut Value) {
        let mut applied = false;
        let paths = doc.get_mut("paths").and_then(Value::as_object_mut).expect("paths");
        for (path, item) in paths.iter_mut().filter(|(path, _)| (self.paths)(path)) {
            let Some(item) = item.as_object_mut() else { continue };
            for op in item.values_mut() {
                for param in op.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                    if param.get("name").and_then(Value::as_str) != Some(self.name) {
                        continue;
                    }
                    let schema = param
                        .get_mut("schema")
                        .and_then(Value::as_object_mut)
                        .unwrap_or_else(|| panic!("{path}: {} has a schema", self.name));
                    schema.extend(self.keywords.clone());
                    applied = true;
                }
            }
        }
        assert!(applied, "OpenAPI rule for a parameter `{}` that no operation has", self.name);
    }
}

fn param(name: &'static str, paths: fn(&str) -> bool, value: Value) -> ParamRule {
    ParamRule { name, paths, keywords: keywords(value) }
}

fn any(_: &str) -> bool {
    true
}

/// Keywords for a property.
fn property(schema: &'static str, name: &str, value: Value) -> Rule {
    Rule { schema, pointer: format!("/properties/{name}"), keywords: keywords(value) }
}

/// Keywords for the items of an array property.
fn items(schema: &'static str, name: &str, value: Value) -> Rule {
    Rule { schema, pointer: format!("/properties/{name}/items"), keywords: keywords(value) }
}

/// Keywords for the schema itself (required, if/then).
fn whole(schema: &'static str, value: Value) -> Rule {
    Rule { schema, pointer: String::new(), keywords: keywords(value) }
}

/// Text that may be blank, at most `max` characters as sent.
fn text_up_to(max: usize) -> Value {
    json!({ "maxLength": max, "pattern": allowed_text_pattern() })
}

/// Text that must not be blank, at most `max` characters as sent.
fn non_blank_up_to(max: usize) -> Value {
    json!({ "minLength": 1, "maxLength": max, "pattern": non_blank_text_pattern() })
}

fn integer_range(min: i64, max: i64) -> Value {
    json!({ "minimum": min, "maximum": max })
}

fn integer_in(min: i64, max: i64) -> Value {
    json!({ "type": "integer", "minimum": min, "maximum": max })
}

/// A value from a set the configuration decides, or null where the field is optional.
fn one_of(values: &[String], nullable: bool) -> Value {
    let mut values: Vec<Value> = values.iter().map(|v| Value::String(v.clone())).collect();
    if nullable {
        values.push(Value::Null);
    }
    json!({ "enum": values })
}

/// A regular-expression class of ASCII letters, digits and the given marks (escaped).
fn ascii_class(marks: &str) -> String {
    let escaped: String = marks.chars().map(|c| if c == '-' { "\\-".to_owned() } else { format!("\\{c}") }).collect();
    format!("A-Za-z0-9{escaped}")
}

/// White space the character rule allows (tab, LF, CR, space, the Unicode spaces; not the
/// controls that count as white space), as a class body.
fn allowed_blank_class() -> String {
    let forbidden = |c: char| text::forbidden_character(c.encode_utf8(&mut [0; 4])).is_some();
    let codes: Vec<u32> =
        text::WHITESPACE_RANGES.iter().flat_map(|&(l, h)| l..=h).filter(|&c| char::from_u32(c).is_some_and(|c| !forbidden(c))).collect();
    codes.iter().map(|c| format!("\\u{c:04x}")).collect()
}

/// A tag as `ticket::normalize_tag` takes it: surrounding white space, then 1 or more of the
/// tag characters.
fn tag_pattern() -> String {
    let blank = allowed_blank_class();
    let class = ascii_class(ticket::TAG_MARKS);
    format!("^[{blank}]*[{class}]+[{blank}]*$")
}

/// A duration as `TargetDuration::parse` takes it: parts `<number><unit>`, largest unit first
/// (w, d, h, m, s), the whole longer than zero. The document asks for numbers without leading
/// zeros and of at most nine digits, which the parser takes too.
fn duration() -> Value {
    let blank = allowed_blank_class();
    let n = "[1-9][0-9]{0,8}";
    let units = ["w", "d", "h", "m", "s"];
    // One alternative per largest unit present: it is there, the smaller ones may follow.
    let alternatives: Vec<String> = (0..units.len())
        .map(|first| {
            let rest: String = units[first + 1..].iter().map(|u| format!("({n}{u})?")).collect();
            format!("{n}{}{rest}", units[first])
        })
        .collect();
    json!({ "pattern": format!("^[{blank}]*({})[{blank}]*$", alternatives.join("|")) })
}

/// A page size: 1 to `max`.
fn page_size(max: u32) -> Value {
    json!({ "minimum": 1, "maximum": max })
}

/// A business-hours interval `HH:MM-HH:MM` (`24:00` may end one).
const INTERVAL_PATTERN: &str = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)-(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$";

/// A month, `YYYY-MM` (`Month::parse`: 1970 to 9999).
const MONTH_PATTERN: &str = "^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])$";

/// A calendar day, `YYYY-MM-DD` (`DueDate::parse`; a day the month lacks is refused with 422).
const DATE_PATTERN: &str = "^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";

/// A ticket id (UUID) or number (`T-000123`, `t-123`, `123`).
const TICKET_REF_PATTERN: &str =
    "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[Tt]-0*[1-9][0-9]{0,17}|0*[1-9][0-9]{0,17})$";

pub fn param_rules(facts: &Facts) -> Vec<ParamRule> {
    let uuid = || json!({ "format": "uuid" });
    let instant = || json!({ "format": "date-time" });
    let kinds: Vec<String> = steward_domain::login::AuditKind::ALL.iter().map(|k| k.as_str().to_owned()).collect();
    let group_by: Vec<String> = steward_domain::kpi::GroupBy::ALL.iter().map(|k| k.as_str().to_owned()).collect();
    let formats: Vec<String> = super::report::ReviewFormat::ALL.iter().map(|k| k.as_str().to_owned()).collect();
    vec![
        param("limit", |p| p != "/api/v1/login-audit", page_size(super::tickets::PAGE_MAX)),
        param("limit", |p| p == "/api/v1/login-audit", page_size(super::logins::AUDIT_PAGE_MAX)),
        // A cursor is the last item's key: a timeline position, or an id.
        param("cursor", |p| p.ends_with("/events"), json!({ "pattern": "^[0-9]{1,18}$" })),
        param("cursor", |p| !p.ends_with("/events"), uuid()),
        param("before", any, uuid()),
        param("login_id", any, uuid()),
        param("staff_id", |p| !p.contains('{'), uuid()),
        param("assignee", any, uuid()),
        param("partner", any, uuid()),
        param("owner", |p| p == "/api/v1/improvements", uuid()),
        param("created_after", any, instant()),
        param("created_before", any, instant()),
        param("from", any, instant()),
        param("to", any, instant()),
        param("window", any, duration()),
        param("kind", |p| p == "/api/v1/login-audit", one_of(&kinds, false)),
        param("group_by", any, one_of(&group_by, false)),
        param("format", any, one_of(&formats, false)),
        param("month", any, json!({ "pattern": MONTH_PATTERN })),
        param("within_days", any, json!({ "minimum": 0, "maximum": super::training::MAX_WITHIN_DAYS })),
        param("channel", |p| p == "/api/v1/kpis", one_of(&strings(steward_domain::ticket::Channel::values()), false)),
        param("priority", |p| p == "/api/v1/kpis", one_of(&strings(steward_domain::ticket::Priority::values()), false)),
        param("scorecard", any, one_of(&facts.scorecards, false)),
        param("key", |p| p.starts_with("/api/v1/sla-policies/"), json!({ "pattern": sla::KEY_PATTERN })),
        // `IfMatch::from_headers`: a strong ETag or `*`; where it is optional, an empty value
        // (an empty list, RFC 9110 §5.6.1) is no precondition.
        param("If-Match", |p| !p.ends_with("/transitions"), json!({ "pattern": "^(\\*|\"-?[0-9]{1,18}\")$" })),
        param("If-Match", |p| p.ends_with("/transitions"), json!({ "pattern": "^(\\*|\"-?[0-9]{1,18}\")?$" })),
        // `tickets::idempotency_key`: visible ASCII, not blank, at most 255.
        param(
            "Idempotency-Key",
            any,
            json!({ "maxLength": 255, "pattern": "^[\\t\\u0020-\\u007e]*[\\u0021-\\u007e][\\t\\u0020-\\u007e]*$" }),
        ),
    ]
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

pub fn rules(facts: &Facts) -> Vec<Rule> {
    let tag = {
        let mut t = keywords(json!({ "minLength": 1, "maxLength": ticket::MAX_TAG_CHARS }));
        t.insert("pattern".into(), Value::String(tag_pattern()));
        Value::Object(t)
    };
    let settable_statuses = json!(["open", "waiting_customer", "waiting_partner", "resolved", null]);
    vec![
        // Tickets.
        property("NewTicketBody", "title", non_blank_up_to(ticket::MAX_TITLE_CHARS)),
        property("NewTicketBody", "description", text_up_to(ticket::MAX_DESCRIPTION_CHARS)),
        property("NewTicketBody", "tags", json!({ "maxItems": ticket::MAX_TAGS })),
        items("NewTicketBody", "tags", tag.clone()),
        property("NewTicketBody", "process", one_of(&facts.processes, true)),
        property("NewTicketBody", "origin_ticket_id", json!({ "pattern": TICKET_REF_PATTERN })),
        // Only a complaint names the ticket it is about.
        whole(
            "NewTicketBody",
            json!({ "dependentSchemas": { "origin_ticket_id": { "properties": { "kind": { "const": "complaint" } }, "required": ["kind"] } } }),
        ),
        property("CustomerBody", "name", non_blank_up_to(ticket::MAX_CUSTOMER_NAME_CHARS)),
        property("CustomerBody", "contact", text_up_to(ticket::MAX_CONTACT_CHARS)),
        property("CustomerBody", "tier", one_of(&facts.tiers, true)),
        property("TicketPatchBody", "title", non_blank_up_to(ticket::MAX_TITLE_CHARS)),
        property("TicketPatchBody", "description", text_up_to(ticket::MAX_DESCRIPTION_CHARS)),
        property("TicketPatchBody", "tags", json!({ "maxItems": ticket::MAX_TAGS })),
        items("TicketPatchBody", "tags", tag),
        // Tickets close through a transition to a terminal stage, not by an edit.
        property("TicketPatchBody", "status", json!({ "enum": settable_statuses })),
        property("CustomerPatchBody", "name", non_blank_up_to(ticket::MAX_CUSTOMER_NAME_CHARS)),
        property("CustomerPatchBody", "contact", text_up_to(ticket::MAX_CONTACT_CHARS)),
        property("CustomerPatchBody", "tier", one_of(&facts.tiers, true)),
        property("TransitionBody", "note", text_up_to(text::MAX_NOTE_CHARS)),
        property("TransitionBody", "to", one_of(&facts.stages, false)),
        property("OverrideBody", "reason", non_blank_up_to(text::MAX_NOTE_CHARS)),
        property("CommentBody", "body", non_blank_up_to(ticket::MAX_COMMENT_CHARS)),
        // A comment from the customer is public.
        whole(
            "CommentBody",
            json!({ "if": { "properties": { "from_customer": { "const": true } }, "required": ["from_customer"] },
                    "then": { "properties": { "visibility": { "const": "public" } } } }),
        ),
        property("ReopenBody", "reason", text_up_to(text::MAX_NOTE_CHARS)),
        // Reviews and surveys.
        property("ReviewBody", "score", integer_range(0, 100)),
        property("ReviewBody", "notes", text_up_to(feedback::MAX_REVIEW_NOTES_CHARS)),
        property("ChecklistItemBody", "item", non_blank_up_to(feedback::MAX_CHECKLIST_ITEM_CHARS)),
        // A review with a failed checklist item cannot pass.
        whole(
            "ReviewBody",
            json!({ "if": { "properties": { "outcome": { "const": "pass" } }, "required": ["outcome"] },
                    "then": { "properties": { "checklist": { "items": { "properties": { "passed": { "const": true } } } } } } }),
        ),
        property("SurveyAnswer", "score", integer_range(1, 5)),
        property("SurveyAnswer", "comment", text_up_to(feedback::MAX_SURVEY_COMMENT_CHARS)),
        // Staff.
        property("NewStaffBody", "name", non_blank_up_to(staff::MAX_NAME_CHARS)),
        property("NewStaffBody", "email", email()),
        property("NewStaffBody", "team", text_up_to(staff::MAX_TEAM_CHARS)),
        property("NewStaffBody", "role", json!({ "type": "string", "enum": staff_roles() })),
        property(
            "StaffPatchBody",
            "role",
            json!({ "type": ["string", "null"], "enum": staff_roles().into_iter().map(Value::String).chain([Value::Null]).collect::<Vec<_>>() }),
        ),
        property("StaffPatchBody", "name", non_blank_up_to(staff::MAX_NAME_CHARS)),
        property("StaffPatchBody", "email", email()),
        property("StaffPatchBody", "team", text_up_to(staff::MAX_TEAM_CHARS)),
        // Improvement actions.
        property("NewImprovementBody", "title", non_blank_up_to(improvement::MAX_TITLE_CHARS)),
        property("NewImprovementBody", "description", text_up_to(text::MAX_NOTE_CHARS)),
        property("NewImprovementBody", "owner", json!({ "format": "uuid" })),
        property("NewImprovementBody", "due", json!({ "pattern": DATE_PATTERN })),
        property("NewImprovementBody", "month", json!({ "pattern": MONTH_PATTERN })),
        property("NewImprovementBody", "kpi", one_of(&strings(&improvement::kpi_keys()), true)),
        property("ImprovementPatchBody", "title", non_blank_up_to(improvement::MAX_TITLE_CHARS)),
        property("ImprovementPatchBody", "description", text_up_to(text::MAX_NOTE_CHARS)),
        property("ImprovementPatchBody", "owner", json!({ "format": "uuid" })),
        property("ImprovementPatchBody", "due", json!({ "pattern": DATE_PATTERN })),
        property("ImprovementPatchBody", "month", json!({ "pattern": MONTH_PATTERN })),
        property("ImprovementPatchBody", "kpi", one_of(&strings(&improvement::kpi_keys()), true)),
        // Partners.
        property("NewPartnerBody", "name", non_blank_up_to(partner::MAX_NAME_CHARS)),
        property("NewPartnerBody", "contact", text_up_to(partner::MAX_CONTACT_CHARS)),
        property("NewPartnerBody", "categories", json!({ "maxItems": partner::MAX_CATEGORIES })),
        items("NewPartnerBody", "categories", non_blank_up_to(partner::MAX_CATEGORY_CHARS)),
        property("PartnerPatchBody", "name", non_blank_up_to(partner::MAX_NAME_CHARS)),
        property("PartnerPatchBody", "contact", text_up_to(partner::MAX_CONTACT_CHARS)),
        property("PartnerPatchBody", "categories", json!({ "maxItems": partner::MAX_CATEGORIES })),
        items("PartnerPatchBody", "categories", non_blank_up_to(partner::MAX_CATEGORY_CHARS)),
        property("DelegationBody", "note", text_up_to(text::MAX_NOTE_CHARS)),
        // Training.
        property(
            "NewCourseBody",
            "code",
            json!({ "minLength": 1, "maxLength": training::MAX_COURSE_CODE_CHARS, "pattern": training::COURSE_CODE_PATTERN }),
        ),
        property("NewCourseBody", "title", non_blank_up_to(training::MAX_COURSE_TITLE_CHARS)),
        property("NewCourseBody", "description", text_up_to(training::MAX_COURSE_DESCRIPTION_CHARS)),
        property("NewCourseBody", "pass_score", integer_range(0, 100)),
        property("CoursePatchBody", "title", non_blank_up_to(training::MAX_COURSE_TITLE_CHARS)),
        property("CoursePatchBody", "description", text_up_to(training::MAX_COURSE_DESCRIPTION_CHARS)),
        property("CoursePatchBody", "pass_score", integer_range(0, 100)),
        property("NewCourseBody", "validity", duration()),
        property("CoursePatchBody", "validity", duration()),
        property("NewTrainingRecordBody", "course_code", json!({ "pattern": training::COURSE_CODE_PATTERN })),
        property("NewTrainingRecordBody", "score", integer_range(0, 100)),
        property("NewTrainingRecordBody", "assessor", non_blank_up_to(training::MAX_ASSESSOR_CHARS)),
        // A correction names the record it supersedes and says why; only a correction does.
        whole(
            "NewTrainingRecordBody",
            json!({ "allOf": [
                { "if": { "properties": { "supersedes": { "type": "string" } }, "required": ["supersedes"] },
                  "then": { "properties": { "correction_reason": { "type": "string", "pattern": non_blank_text_pattern() } }, "required": ["correction_reason"] } },
                { "if": { "properties": { "correction_reason": { "type": "string", "pattern": non_blank_text_pattern() } }, "required": ["correction_reason"] },
                  "then": { "properties": { "supersedes": { "type": "string" } }, "required": ["supersedes"] } },
            ] }),
        ),
        // Contracts.
        property("ContractBody", "first_response", duration()),
        property("ContractBody", "resolution", duration()),
        // Reviews: `outcome` is one of two.
        property("ReviewBody", "outcome", json!({ "type": "string", "enum": ["pass", "fail"] })),
        // Tokens.
        property("NewTokenBody", "name", non_blank_up_to(steward_domain::auth::MAX_TOKEN_NAME_CHARS)),
        // A partner token names its partner, and only a partner token does.
        whole(
            "NewTokenBody",
            json!({ "if": { "properties": { "role": { "const": "partner" } } },
                    "then": { "required": ["partner_id"], "properties": { "partner_id": { "type": "string" } } },
                    "else": { "properties": { "partner_id": { "type": "null" } } } }),
        ),
        // Webhooks.
        property("NewWebhookBody", "url", webhook_url()),
        property("WebhookPatchBody", "url", webhook_url()),
        property("NewWebhookBody", "event_kinds", event_kinds()),
        property("WebhookPatchBody", "event_kinds", event_kinds()),
        property("NewWebhookBody", "secret", secret()),
        property("WebhookPatchBody", "secret", secret()),
        // Logins.
        property("NewLoginBody", "email", email()),
        // SLA policies.
        Rule {
            schema: "NewPolicyBody",
            pointer: "/allOf/1/properties/key".into(),
            keywords: keywords(json!({ "pattern": sla::KEY_PATTERN })),
        },
        property("PolicyBody", "name", json!({ "minLength": 1, "pattern": non_blank_text_pattern() })),
        property("PolicyBody", "first_response", duration()),
        property("PolicyBody", "next_response", duration()),
        property("PolicyBody", "resolution", duration()),
        property("PolicyBody", "warning_percent", integer_range(1, 99)),
        // What the domain's `PolicySpec` takes absent but not null.
        property("PolicyBody", "order", integer_in(i32::MIN.into(), i32::MAX.into())),
        property("CalendarBody", "always", json!({ "type": "boolean" })),
        property(
            "PolicyBody",
            "escalations",
            // `uniqueItems` states only part of the rule (no two escalations at one percent,
            // whatever their roles), which JSON Schema cannot compare by one property; the rest
            // is the 422 tests/api/hardening/schemathesis.toml expects.
            json!({ "type": "array", "uniqueItems": true, "items": {
            "type": "object", "additionalProperties": false, "required": ["at_percent", "notify_role"],
            "properties": { "at_percent": integer_in(50, 1000), "notify_role": { "type": "string", "enum": strings(steward_domain::auth::Role::values()) } },
        } }),
        ),
        property(
            "PolicyBody",
            "pause_on",
            json!({ "items": { "type": "string", "enum": ["open", "waiting_customer", "waiting_partner"] } }),
        ),
        property(
            "PolicyBody",
            "match",
            json!({ "type": "object", "additionalProperties": false, "properties": {
            "kinds": { "type": "array", "items": { "type": "string", "enum": strings(steward_domain::ticket::Kind::values()) } },
            "channels": { "type": "array", "items": { "type": "string", "enum": strings(steward_domain::ticket::Channel::values()) } },
            "priorities": { "type": "array", "items": { "type": "string", "enum": strings(steward_domain::ticket::Priority::values()) } },
            "tiers": { "type": "array", "items": { "type": "string", "enum": facts.tiers } },
            "processes": { "type": "array", "items": { "type": "string", "pattern": allowed_text_pattern() } },
        } }),
        ),
        // A policy sets at least a first-response or a resolution target.
        whole(
            "PolicyBody",
            json!({ "anyOf": [
            { "required": ["first_response"], "properties": { "first_response": { "type": "string" } } },
            { "required": ["resolution"], "properties": { "resolution": { "type": "string" } } },
        ] }),
        ),
        // Calendars.
        Rule {
            schema: "NewCalendarBody",
            pointer: "/allOf/1/properties/key".into(),
            keywords: keywords(json!({
                "minLength": 1, "pattern": non_blank_text_pattern(), "not": { "const": steward_domain::calendar::Calendar::ALWAYS_UTC_KEY },
            })),
        },
        property("CalendarBody", "name", json!({ "minLength": 1, "pattern": non_blank_text_pattern() })),
        property("CalendarBody", "timezone", json!({ "type": "string", "enum": facts.timezones })),
        property(
            "CalendarBody",
            "holidays",
            json!({ "type": "array", "items": { "type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$" } }),
        ),
        property(
            "CalendarBody",
            "hours",
            json!({
                "type": "object",
                "propertyNames": { "enum": steward_domain::calendar::WEEKDAY_KEYS },
                "additionalProperties": { "type": "array", "items": { "type": "string", "pattern": INTERVAL_PATTERN } },
            }),
        ),
        // 24×7 has no weekly hours; otherwise some weekday has some.
        whole(
            "CalendarBody",
            json!({
                "if": { "properties": { "always": { "const": true } }, "required": ["always"] },
                "then": { "properties": { "hours": { "type": "object", "maxProperties": 0 } } },
                "else": { "required": ["hours"], "properties": { "hours": { "type": "object", "minProperties": 1, "additionalProperties": { "minItems": 1 } } } },
            }),
        ),
    ]
}

/// An email as `staff::normalize_email` takes it: no white space inside, a local part, `@`, and
/// a domain with a dot that neither starts nor ends it.
fn email() -> Value {
    // The class of characters an email part may hold: not `@`, not white space, not forbidden.
    let (inner, blank) = (forbidden_class(), blank_class());
    let part = format!("[^@{blank}{inner}]");
    let edge = format!("[^@.{blank}{inner}]");
    let blank = allowed_blank_class();
    json!({
        "maxLength": staff::MAX_EMAIL_CHARS,
        "pattern": format!("^[{blank}]*{part}+@{edge}{part}*\\.{part}*{edge}[{blank}]*$"),
    })
}

/// An absolute http(s) URL with a host, without credentials or a fragment.
fn webhook_url() -> Value {
    json!({
        "format": "uri",
        "maxLength": steward_domain::webhook::URL_MAX_BYTES,
        "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@\\s]+(/[^#\\s]*)?$",
    })
}

/// Event kinds, or `*` alone.
fn event_kinds() -> Value {
    let mut kinds: Vec<String> = steward_domain::event::EventData::KINDS.iter().map(|k| (*k).to_owned()).collect();
    kinds.extend(training::StaffEventData::KINDS.iter().map(|k| (*k).to_owned()));
    kinds.push(steward_domain::webhook::ALL_EVENTS.to_owned());
    json!({
        "minItems": 1,
        "items": { "type": "string", "enum": kinds },
        "if": { "type": "array", "contains": { "const": steward_domain::webhook::ALL_EVENTS } },
        "then": { "maxItems": 1 },
    })
}

fn secret() -> Value {
    json!({
        "minLength": steward_domain::webhook::SECRET_MIN_CHARS,
        "maxLength": steward_domain::webhook::SECRET_MAX_CHARS,
        "pattern": allowed_text_pattern(),
    })
}

/// The roles a staff member may have (`partner` and `mailgate` are token roles only).
fn staff_roles() -> Vec<String> {
    steward_domain::auth::Role::ALL.iter().filter(|r| !r.is_token_only()).map(|r| r.as_str().to_owned()).collect()
}
