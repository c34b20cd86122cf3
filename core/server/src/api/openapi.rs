//! The OpenAPI document: the frame here, paths and schemas collected from the handlers'
//! annotations, then [`complete`]: the answers every operation of a kind can give (401 for a
//! bearer operation, 400/408/413/415/422 for a JSON body, 400 for a parameter, 503 when the
//! database is down) and the parser's rules, stated from the same constants and tables the
//! parsers use, so the document and the server cannot drift apart.

use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use steward_domain::text;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::{Modify, OpenApi as _};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Steward", description = "Self-hosted service operations: tickets, service processes, staff, partners, training, tokens and webhooks.\n\nEvery error is an RFC 9457 problem document (`application/problem+json`) whose `type` names the problem (`/problems/validation-error`, `/problems/unauthorized`, …); a validation problem lists the offending fields in `errors`. No text anywhere (a JSON string or key, a query parameter, a path segment) may carry a control character other than tab, line feed and carriage return, nor a Unicode noncharacter: the `pattern` of every string states it. Idempotency keys (`Idempotency-Key` on POST /api/v1/tickets) are per API token."),
    modifiers(&BearerAuth),
    tags(
        (name = "tickets", description = "Tickets and their timeline"),
        (name = "attachments", description = "Files on tickets and comments: upload, list, download, delete"),
        (name = "processes", description = "Service processes and stages"),
        (name = "plugins", description = "Sandboxed plugins (WASM and rhai)"),
        (name = "sla", description = "SLA policies, business calendars and ticket clocks"),
        (name = "surveys", description = "Customer satisfaction surveys (no token: the survey link is the key)"),
        (name = "staff", description = "Service staff"),
        (name = "partners", description = "Partners, their contracts (OLA), and tickets delegated to them"),
        (name = "training", description = "Courses, training records, certifications and the gates they open"),
        (name = "tokens", description = "API tokens (admin)"),
        (name = "logins", description = "People's logins to the console, their sessions, and the sign-in audit (admin)"),
        (name = "webhooks", description = "Ticket events POSTed to your URLs, signed; delivery logs (admin)"),
        (name = "mail", description = "Mail: inbound messages handed in by `steward mailgate` (or any client with a mailgate token) and their quarantine; the outbound outbox and its delivery log (admin)"),
        (name = "kpis", description = "KPIs against their targets, and the monthly service review"),
        (name = "improvements", description = "Improvement actions set by the monthly review and followed up by the next ones, with their history"),
        (name = "system", description = "Health, readiness, metrics, this document"),
    )
)]
struct Frame;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

pub fn base() -> OpenApi {
    let mut doc = Frame::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// What the document states that only the configuration knows.
pub struct Facts {
    /// The configured customer tiers.
    pub tiers: Vec<String>,
    /// The keys of the service processes loaded at start-up.
    pub processes: Vec<String>,
    /// Every stage key of those processes.
    pub stages: Vec<String>,
    /// `builtin` and the scorecards the plugins loaded at start-up declare.
    pub scorecards: Vec<String>,
    /// The IANA time zone names the bundled database knows.
    pub timezones: Vec<String>,
}

/// The finished document as JSON text. Panics on a rule naming a schema or property that does
/// not exist: the router is built at start-up, so every test fails on a stale rule.
pub fn complete(doc: OpenApi, facts: &Facts) -> String {
    let mut doc = serde_json::to_value(doc).expect("OpenAPI document serialises");
    complete_operations(&mut doc);
    for rule in super::schema_rules::rules(facts) {
        rule.apply(&mut doc);
    }
    for rule in super::schema_rules::param_rules(facts) {
        rule.apply(&mut doc);
    }
    // After the rules, so the copies carry them; before the character rule closes the objects.
    for name in ["NewPolicyBody", "NewCalendarBody", "PolicyView"] {
        flatten_all_of(&mut doc, name);
    }
    apply_character_rule(&mut doc);
    serde_json::to_string_pretty(&doc).expect("OpenAPI document serialises")
}

pub const PROBLEM_JSON: &str = "application/problem+json";

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } }
    })
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The answers an operation gives because of its kind, added where its annotation does not
/// already say them; every error answer is a problem document.
fn complete_operations(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else { continue };
            let secured = op.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
            let has_body = op.contains_key("requestBody");
            let has_params = op
                .get("parameters")
                .and_then(Value::as_array)
                .is_some_and(|p| p.iter().any(|p| matches!(p.get("in").and_then(Value::as_str), Some("path" | "query"))));
            // A header is absent or a string, never null.
            for param in op.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                if param.get("in").and_then(Value::as_str) == Some("header") {
                    if let Some(schema) = param.get_mut("schema").and_then(Value::as_object_mut) {
                        schema.insert("type".into(), Value::String("string".into()));
                    }
                }
            }
            let responses = op.entry("responses").or_insert_with(|| json!({})).as_object_mut().expect("responses is an object");
            let mut add = |status: &str, description: &str| {
                responses.entry(status.to_owned()).or_insert_with(|| problem_response(description));
            };
            if secured {
                add(
                    "401",
                    "No valid token: missing, malformed, unknown or revoked (`/problems/unauthorized`, with `WWW-Authenticate: Bearer`)",
                );
            }
            match (has_body, has_params) {
                (true, true) => add("400", "Malformed JSON (`/problems/malformed-json`), an unreadable body (`/problems/unreadable-body`), or a parameter that breaks its rule (`/problems/validation-error` naming it)"),
                (true, false) => add("400", "Malformed JSON (`/problems/malformed-json`) or an unreadable body (`/problems/unreadable-body`)"),
                (false, true) => add("400", "A parameter that breaks its rule (`/problems/validation-error` naming it)"),
                (false, false) => {}
            }
            if has_body {
                add("408", "The body did not arrive within `http.body_read_timeout_ms` (`/problems/request-timeout`)");
                add("413", "The body (or its declared Content-Length) exceeds `http.max_body_bytes` (`/problems/payload-too-large`, `limit_bytes`)");
                add("415", "The body is not sent as JSON (`/problems/unsupported-media-type`)");
                add("422", "Well-formed JSON of the wrong shape, or a field that breaks a rule (`/problems/validation-error`; `errors` names each field)");
            }
            if path.starts_with("/api/") {
                add("503", "The database is busy or unreachable (`/problems/unavailable`); retry");
            }
            for (status, response) in responses.iter_mut() {
                let is_error = status.starts_with('4') || status.starts_with('5');
                let Some(response) = response.as_object_mut() else { continue };
                if is_error && !response.contains_key("content") {
                    response.insert("content".into(), json!({ PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } }));
                }
            }
        }
    }
}

/// Merges a schema's `allOf` of a `$ref` and an object into one object schema, so that
/// `additionalProperties: false` can close it.
fn flatten_all_of(doc: &mut Value, name: &str) {
    let pointer = format!("/components/schemas/{name}");
    let parts = doc
        .pointer(&pointer)
        .and_then(|s| s.get("allOf"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_else(|| panic!("{name} is an allOf"));
    let mut merged = json!({ "type": "object", "properties": {}, "required": [] });
    for part in parts {
        let part = match part.get("$ref").and_then(Value::as_str) {
            Some(r) => doc.pointer(&r.replacen('#', "", 1)).cloned().expect("the referenced schema"),
            None => part,
        };
        if let Some(properties) = part.get("properties").and_then(Value::as_object) {
            merged["properties"].as_object_mut().expect("object").extend(properties.clone());
        }
        if let Some(required) = part.get("required").and_then(Value::as_array) {
            merged["required"].as_array_mut().expect("array").extend(required.iter().cloned());
        }
        if let Some(description) = part.get("description") {
            merged["description"] = description.clone();
        }
    }
    *doc.pointer_mut(&pointer).expect("the schema") = merged;
}

/// The name of the component that is any JSON value whose strings and keys keep the
/// character rule (free-form objects' values, `custom_fields`, `hours`…).
const SAFE_JSON: &str = "JsonValue";

/// A regular-expression character class body listing the code points in `ranges`.
fn class(ranges: impl IntoIterator<Item = (u32, u32)>) -> String {
    let one = |code: u32| match char::from_u32(code) {
        // Astral code points are written as themselves: `\u` takes four digits in every dialect.
        Some(c) if code > 0xFFFF => c.to_string(),
        _ => format!("\\u{code:04x}"),
    };
    ranges.into_iter().map(|(low, high)| if low == high { one(low) } else { format!("{}-{}", one(low), one(high)) }).collect()
}

/// The code points no text may carry (a class body).
pub fn forbidden_class() -> String {
    class(text::FORBIDDEN_RANGES.iter().copied().chain(text::plane_end_noncharacters()))
}

/// Any text the character rule allows.
pub fn allowed_text_pattern() -> String {
    format!("^[^{}]*$", forbidden_class())
}

/// The code points `str::trim` removes (a class body).
pub fn blank_class() -> String {
    class(text::WHITESPACE_RANGES.iter().copied())
}

/// Text the character rule allows that is not blank (`str::trim` leaves something).
pub fn non_blank_text_pattern() -> String {
    let (forbidden, blank) = (forbidden_class(), blank_class());
    format!("^[^{forbidden}]*[^{forbidden}{blank}][^{forbidden}]*$")
}

/// Every string a client sends (body, query, path, header) carries the character rule, and
/// every free-form object's keys do: added to each string schema reachable from a request
/// that states no `pattern`, `format` or `enum` of its own.
fn apply_character_rule(doc: &mut Value) {
    let pattern = allowed_text_pattern();
    let mut components = BTreeSet::new();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            for method in METHODS {
                let Some(op) = item.get_mut(method) else { continue };
                if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                    for param in params {
                        if let Some(schema) = param.get_mut("schema") {
                            constrain(schema, &pattern, &mut components);
                        }
                    }
                }
                if let Some(content) = op.pointer_mut("/requestBody/content").and_then(Value::as_object_mut) {
                    for media in content.values_mut() {
                        if let Some(schema) = media.get_mut("schema") {
                            constrain(schema, &pattern, &mut components);
                        }
                    }
                }
            }
        }
    }
    let safe = json!({ "$ref": format!("#/components/schemas/{SAFE_JSON}") });
    let any_json = json!({
        "description": "Any JSON value; no string or key carries a control character or noncharacter.",
        "anyOf": [
            { "type": ["null", "boolean", "number"] },
            { "type": "string", "pattern": pattern },
            { "type": "array", "items": safe },
            { "type": "object", "propertyNames": { "pattern": pattern }, "additionalProperties": safe },
        ],
    });
    doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut).expect("components").insert(SAFE_JSON.into(), any_json);
    let mut done = BTreeSet::from([SAFE_JSON.to_owned()]);
    while let Some(name) = components.iter().find(|n| !done.contains(*n)).cloned() {
        done.insert(name.clone());
        if let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")) {
            constrain(schema, &pattern, &mut components);
        }
    }
}

fn constrain(schema: &mut Value, pattern: &str, components: &mut BTreeSet<String>) {
    let Some(object) = schema.as_object_mut() else { return };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        if let Some(name) = reference.strip_prefix("#/components/schemas/") {
            components.insert(name.to_owned());
        }
        return;
    }
    let types: Vec<String> = type_names(object).into_iter().map(str::to_owned).collect();
    let types: Vec<&str> = types.iter().map(String::as_str).collect();
    if types.contains(&"string") && !["pattern", "format", "enum", "const"].iter().any(|k| object.contains_key(*k)) {
        object.insert("pattern".into(), Value::String(pattern.to_owned()));
    }
    if types.contains(&"object") {
        let free = !object.contains_key("properties") || object.get("additionalProperties").is_some_and(|a| a != &Value::Bool(false));
        if free && !object.contains_key("propertyNames") {
            object.insert("propertyNames".into(), json!({ "pattern": pattern }));
        }
        match object.get("additionalProperties") {
            // A request body's fields are closed: the parsers refuse unknown fields.
            None if object.contains_key("properties") => {
                object.insert("additionalProperties".into(), Value::Bool(false));
            }
            // Free-form values keep the character rule all the way down.
            None | Some(Value::Bool(true)) => {
                object.insert("additionalProperties".into(), json!({ "$ref": format!("#/components/schemas/{SAFE_JSON}") }));
            }
            _ => {}
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(inner) = object.get_mut(key) {
            constrain(inner, pattern, components);
        }
    }
    if let Some(properties) = object.get_mut("properties").and_then(Value::as_object_mut) {
        for inner in properties.values_mut() {
            constrain(inner, pattern, components);
        }
    }
    for key in ["allOf", "anyOf", "oneOf", "prefixItems"] {
        if let Some(branches) = object.get_mut(key).and_then(Value::as_array_mut) {
            for inner in branches {
                constrain(inner, pattern, components);
            }
        }
    }
}

fn type_names(object: &Map<String, Value>) -> Vec<&str> {
    match object.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        regex::Regex::new(pattern).expect("pattern compiles").is_match(text)
    }

    #[test]
    fn the_character_patterns_agree_with_the_character_rule() {
        let (allowed, non_blank) = (allowed_text_pattern(), non_blank_text_pattern());
        for text in [
            "",
            "plain",
            "tab\there",
            "caf\u{e9} \u{1f600}",
            "\u{a0}x",
            "a\u{0}b",
            "\u{1b}",
            "\u{85}",
            "\u{fdd0}",
            "\u{1fffe}",
            "  ",
            "\u{3000}",
        ] {
            assert_eq!(matches(&allowed, text), text::forbidden_character(text).is_none(), "{text:?}");
            assert_eq!(matches(&non_blank, text), text::forbidden_character(text).is_none() && !text.trim().is_empty(), "{text:?}");
        }
    }
}
