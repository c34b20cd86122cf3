//! `steward plugin test --fixture FILE`: the API's own JSON as hook inputs.
//!
//! A fixture is a JSON object. Either it is a ticket exactly as `GET /api/v1/tickets/{id}`
//! returns it, or it has any of these keys:
//!
//! - `ticket`: a ticket as `GET /api/v1/tickets/{id}` returns it; the fields it leaves out keep
//!   the sample ticket's values (a ticket in the first stage of the plugin's process);
//! - `event`: one event as `GET /api/v1/tickets/{id}/events` lists it (`kind` and `data`
//!   required; `seq`, `at` and `actor` optional), offered to `on-event` instead of one sample
//!   of every kind;
//! - `from`, `to`: the one stage move offered to `guard-transition`;
//! - `scorecard`, `partner`: the scorecard name and the statistics `score-partner` gets (the
//!   hook's input, as `core/plugin-host/tests/golden/hook-input.json` shows it);
//! - `kpi`, `kpi_input`: the KPI name and the aggregates `compute-kpi` gets (likewise).
//!
//! Times are RFC 3339 text, as the API writes them. Every error is reported at once, each
//! naming its field (`ticket.priority`, `ticket.customer.tier`, `event.data`).

use serde_json::{Map, Value};
use std::path::Path;
use steward_domain::event::EventData;
use steward_domain::ids::{StaffId, TicketId, TicketNumber};
use steward_domain::ticket::{Channel, Kind, Priority, Status};
use steward_domain::time::Timestamp;
use steward_domain::FieldError;
use steward_plugin_host::cli::Fixture;
use steward_plugin_host::EventSnapshot;

/// The keys of a fixture that is not a ticket by itself.
pub const FIXTURE_KEYS: &[&str] = &["ticket", "event", "from", "to", "scorecard", "partner", "kpi", "kpi_input"];

/// The fields of the API's ticket (`TicketView`), in its order.
pub const TICKET_FIELDS: &[&str] = &[
    "id",
    "number",
    "title",
    "description",
    "kind",
    "channel",
    "priority",
    "customer",
    "process",
    "process_version",
    "stage",
    "status",
    "assignee_id",
    "tags",
    "custom_fields",
    "created_at",
    "updated_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "reopen_count",
    "origin_ticket_id",
    "review_passed_stage",
    "version",
];

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("{path}: {message}")]
    Unreadable { path: String, message: String },
    #[error("{path}: {}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Fields { path: String, errors: Vec<FieldError> },
}

/// Reads the fixture file at `path`.
pub fn load(path: &Path) -> Result<Fixture, FixtureError> {
    let unreadable = |message: String| FixtureError::Unreadable { path: path.display().to_string(), message };
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| unreadable(format!("not JSON: {e}")))?;
    parse(&value).map_err(|errors| FixtureError::Fields { path: path.display().to_string(), errors })
}

/// A fixture from its JSON, with every field error at once.
pub fn parse(value: &Value) -> Result<Fixture, Vec<FieldError>> {
    let Value::Object(map) = value else {
        return Err(vec![FieldError::new(
            "(fixture)",
            "must be a JSON object: a ticket, or an object with any of ticket, event, from, to, scorecard, partner, kpi, kpi_input",
        )]);
    };
    let mut errors = Vec::new();
    let mut fixture = Fixture::default();
    if !map.keys().any(|k| FIXTURE_KEYS.contains(&k.as_str())) && !map.is_empty() {
        fixture.ticket = ticket_fields("", map, &mut errors);
        return finish(fixture, errors);
    }
    for (key, value) in map {
        let text = |field: &str, errors: &mut Vec<FieldError>| match string(field, value) {
            Ok(s) => Some(s),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        match key.as_str() {
            "ticket" => match value {
                Value::Object(ticket) => fixture.ticket = ticket_fields("ticket.", ticket, &mut errors),
                _ => errors.push(FieldError::new("ticket", "must be an object: a ticket as GET /api/v1/tickets/{id} returns it")),
            },
            "event" => fixture.event = event(value, &mut errors),
            "from" => fixture.from = text("from", &mut errors),
            "to" => fixture.to = text("to", &mut errors),
            "scorecard" => fixture.scorecard = text("scorecard", &mut errors),
            "kpi" => fixture.kpi = text("kpi", &mut errors),
            "partner" => match serde_json::from_value(value.clone()) {
                Ok(v) => fixture.partner = Some(v),
                Err(e) => errors.push(FieldError::new("partner", e.to_string())),
            },
            "kpi_input" => match serde_json::from_value(value.clone()) {
                Ok(v) => fixture.kpi_input = Some(v),
                Err(e) => errors.push(FieldError::new("kpi_input", e.to_string())),
            },
            other => errors.push(FieldError::new(other, format!("unknown key; a fixture has {}", FIXTURE_KEYS.join(", ")))),
        }
    }
    finish(fixture, errors)
}

fn finish(fixture: Fixture, errors: Vec<FieldError>) -> Result<Fixture, Vec<FieldError>> {
    match errors.is_empty() {
        true => Ok(fixture),
        false => Err(errors),
    }
}

fn string(field: &str, v: &Value) -> Result<String, FieldError> {
    v.as_str().map(str::to_owned).ok_or_else(|| FieldError::new(field, format!("must be a string, not {v}")))
}

fn optional<T>(v: &Value, read: impl FnOnce() -> Result<T, FieldError>) -> Result<Option<T>, FieldError> {
    match v {
        Value::Null => Ok(None),
        _ => read().map(Some),
    }
}

fn whole(field: &str, v: &Value, max: u64) -> Result<u64, FieldError> {
    v.as_u64().filter(|n| *n <= max).ok_or_else(|| FieldError::new(field, format!("must be a whole number from 0 to {max}, not {v}")))
}

fn time(field: &str, v: &Value) -> Result<i64, FieldError> {
    Timestamp::parse(field, &string(field, v)?).map(Timestamp::as_millis)
}

/// The API ticket's fields in `map`, checked one by one and renamed to the hooks' field names
/// (`TicketSnapshot`); fields the hooks do not see are checked and dropped.
fn ticket_fields(prefix: &str, map: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    let before = errors.len();
    for (name, v) in map {
        let field = format!("{prefix}{name}");
        let f = field.as_str();
        let converted: Result<Vec<(&str, Value)>, FieldError> = (|| {
            Ok(match name.as_str() {
                "id" => vec![("id", TicketId::parse(f, &string(f, v)?)?.to_string().into())],
                "number" => vec![("number", TicketNumber::parse(f, &string(f, v)?)?.to_string().into())],
                "title" | "description" | "process" | "stage" => vec![(name.as_str(), string(f, v)?.into())],
                "kind" => vec![("kind", Kind::parse(f, &string(f, v)?)?.as_str().into())],
                "channel" => vec![("channel", Channel::parse(f, &string(f, v)?)?.as_str().into())],
                "priority" => vec![("priority", Priority::parse(f, &string(f, v)?)?.as_str().into())],
                "status" => vec![("status", Status::parse(f, &string(f, v)?)?.as_str().into())],
                "customer" => return customer(f, v, errors),
                "process_version" => vec![("process_version", whole(f, v, u64::from(u32::MAX))?.into())],
                "reopen_count" => vec![("reopen_count", whole(f, v, u64::from(u32::MAX))?.into())],
                "assignee_id" => {
                    vec![("assignee", optional(v, || string(f, v).and_then(|s| StaffId::parse(f, &s)))?.map(|s| s.to_string()).into())]
                }
                "tags" => {
                    let tags = v.as_array().filter(|a| a.iter().all(Value::is_string));
                    vec![("tags", tags.cloned().ok_or_else(|| FieldError::new(f, "must be a list of strings"))?.into())]
                }
                "custom_fields" => {
                    vec![("custom_fields", v.as_object().cloned().ok_or_else(|| FieldError::new(f, "must be an object"))?.into())]
                }
                "created_at" | "updated_at" => vec![(name.as_str(), time(f, v)?.into())],
                "first_response_at" | "resolved_at" => vec![(name.as_str(), optional(v, || time(f, v))?.into())],
                "closed_at" => optional(v, || time(f, v)).map(|_| Vec::new())?,
                "origin_ticket_id" => optional(v, || string(f, v).and_then(|s| TicketId::parse(f, &s))).map(|_| Vec::new())?,
                "review_passed_stage" => optional(v, || string(f, v)).map(|_| Vec::new())?,
                "version" => {
                    v.as_i64().map(|_| Vec::new()).ok_or_else(|| FieldError::new(f, format!("must be a whole number, not {v}")))?
                }
                _ => return Err(FieldError::new(f, format!("unknown field; a ticket has {}", TICKET_FIELDS.join(", ")))),
            })
        })();
        match converted {
            Ok(fields) => out.extend(fields.into_iter().map(|(k, v)| (k.to_owned(), v))),
            Err(e) => errors.push(e),
        }
    }
    (errors.len() == before).then_some(out)
}

/// The ticket's `customer` object: `name` and `tier` become `customer_name` and `customer_tier`.
fn customer(field: &str, v: &Value, errors: &mut Vec<FieldError>) -> Result<Vec<(&'static str, Value)>, FieldError> {
    let Value::Object(map) = v else { return Err(FieldError::new(field, "must be an object with name, contact and tier")) };
    let mut out = Vec::new();
    for (name, v) in map {
        let f = format!("{field}.{name}");
        let converted = match name.as_str() {
            "name" => string(&f, v).map(|s| Some(("customer_name", s.into()))),
            "tier" => string(&f, v).map(|s| Some(("customer_tier", s.into()))),
            "contact" => optional(v, || string(&f, v)).map(|_| None),
            _ => Err(FieldError::new(&f, "unknown field; a customer has name, contact and tier")),
        };
        match converted {
            Ok(field) => out.extend(field),
            Err(e) => errors.push(e),
        }
    }
    Ok(out)
}

/// One timeline event as the API lists it.
fn event(v: &Value, errors: &mut Vec<FieldError>) -> Option<EventSnapshot> {
    let Value::Object(map) = v else {
        errors.push(FieldError::new("event", "must be an object: an event as GET /api/v1/tickets/{id}/events lists it"));
        return None;
    };
    let before = errors.len();
    let mut take = |r: Result<(), FieldError>| {
        if let Err(e) = r {
            errors.push(e);
        }
    };
    let (mut kind, mut data, mut at, mut actor) = (None, Value::Object(Map::new()), steward_plugin_host::types::samples::NOW, None);
    for (name, v) in map {
        let f = format!("event.{name}");
        match name.as_str() {
            "kind" => take(string(&f, v).map(|k| kind = Some(k))),
            "data" => data = v.clone(),
            "at" => take(time(&f, v).map(|t| at = t)),
            "seq" => take(whole(&f, v, i64::MAX as u64).map(drop)),
            "actor" => match v.get("name").and_then(Value::as_str) {
                Some(name) => actor = Some(name.to_owned()),
                None => take(Err(FieldError::new(&f, "must be an object with a name"))),
            },
            _ => take(Err(FieldError::new(&f, "unknown field; an event has seq, at, actor, kind and data"))),
        }
    }
    match &kind {
        None => take(Err(FieldError::new("event.kind", "missing"))),
        Some(k) if !EventData::KINDS.contains(&k.as_str()) => {
            take(Err(FieldError::new("event.kind", format!("`{k}` is not one of {}", EventData::KINDS.join(", ")))))
        }
        Some(k) => {
            let parsed: Result<EventData, _> = serde_json::from_value(serde_json::json!({ "kind": k, "data": data }));
            take(parsed.map(drop).map_err(|e| FieldError::new("event.data", format!("not the data of a `{k}` event: {e}"))));
        }
    }
    (errors.len() == before).then(|| EventSnapshot {
        kind: kind.unwrap_or_default(),
        data,
        at,
        actor: actor.unwrap_or_else(|| "steward plugin test".into()),
    })
}
