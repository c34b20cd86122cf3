//! /api/v1/sla-policies, /api/v1/calendars and /api/v1/tickets/{id}/sla.

use super::extract::{parse_json, read_json_body, Principal};
use super::problem::{ApiError, Problem};
use super::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use steward_domain::auth::Permission;
use steward_domain::calendar::{BusinessHours, Calendar, CalendarSpec};
use steward_domain::ids::TicketRef;
use steward_domain::sla::{CalendarSource, PolicySpec, SlaPolicy};
use steward_domain::time::Timestamp;
use steward_services::sla::{ClockReport, SlaReport};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_policies, create_policy))
        .routes(routes!(get_policy, replace_policy, delete_policy))
        .routes(routes!(list_calendars, create_calendar))
        .routes(routes!(get_calendar, replace_calendar, delete_calendar))
        .routes(routes!(ticket_sla))
}

/// Documents the policy body; the domain's `PolicySpec` does the parsing.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PolicyBody {
    name: String,
    /// Lower wins between equally specific policies.
    order: Option<i32>,
    /// Conditions; an empty or absent list means any. The policy constraining the most dimensions wins.
    #[schema(value_type = Option<Object>, example = json!({"channels": ["phone"], "tiers": ["vip"]}))]
    r#match: Option<Value>,
    /// Business-time targets such as `30s`, `2h`, `1d`.
    first_response: Option<String>,
    next_response: Option<String>,
    resolution: Option<String>,
    /// Default 80.
    warning_percent: Option<u32>,
    #[schema(value_type = Option<Vec<Object>>, example = json!([{"at_percent": 100, "notify_role": "supervisor"}]))]
    escalations: Option<Value>,
    /// Calendar key; none (or `always`) means 24×7 UTC, wall-clock time.
    calendar: Option<String>,
    /// The calendar the first-response target counts on, instead of `calendar` (`always`: wall-clock time).
    first_response_calendar: Option<String>,
    /// The calendar the next-response target counts on, instead of `calendar`.
    next_response_calendar: Option<String>,
    /// The calendar the resolution target counts on, instead of `calendar`.
    resolution_calendar: Option<String>,
    /// Statuses that pause the resolution clock.
    pause_on: Option<Vec<String>>,
}

/// A new policy: its key and the policy (PUT takes the policy alone, the key being in the path).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NewPolicyBody {
    /// 1 to 64 lower-case letters, digits, `_` and `-`, starting with a letter.
    key: String,
    #[serde(flatten)]
    policy: PolicyBody,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyView {
    key: String,
    #[serde(flatten)]
    #[schema(value_type = PolicyBody)]
    spec: PolicySpec,
}

impl From<&SlaPolicy> for PolicyView {
    fn from(p: &SlaPolicy) -> Self {
        PolicyView { key: p.key.clone(), spec: p.to_spec() }
    }
}

/// Documents the calendar body; the domain's `CalendarSpec` does the parsing.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CalendarBody {
    name: Option<String>,
    /// IANA time zone, e.g. `Europe/Berlin`.
    timezone: String,
    /// 24×7 instead of `hours`.
    always: Option<bool>,
    /// Weekday (`mon` … `sun`) to intervals `HH:MM-HH:MM`.
    #[schema(value_type = Option<Object>, example = json!({"mon": ["09:00-12:00", "13:00-17:00"]}))]
    hours: Option<Value>,
    /// Local dates `YYYY-MM-DD` without business time.
    holidays: Option<Vec<String>>,
}

/// A new calendar: its key and the calendar (PUT takes the calendar alone).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NewCalendarBody {
    /// Not blank, not `always` (the built-in 24×7 UTC calendar).
    key: String,
    #[serde(flatten)]
    calendar: CalendarBody,
}

#[derive(Serialize, ToSchema)]
pub struct CalendarView {
    key: String,
    name: String,
    timezone: String,
    always: bool,
    hours: BTreeMap<String, Vec<String>>,
    holidays: Vec<String>,
}

impl From<&Calendar> for CalendarView {
    fn from(c: &Calendar) -> Self {
        let (always, hours) = match c.hours() {
            BusinessHours::Always => (true, BTreeMap::new()),
            BusinessHours::Weekly(week) => {
                let days = [
                    ("mon", jiff::civil::Weekday::Monday),
                    ("tue", jiff::civil::Weekday::Tuesday),
                    ("wed", jiff::civil::Weekday::Wednesday),
                    ("thu", jiff::civil::Weekday::Thursday),
                    ("fri", jiff::civil::Weekday::Friday),
                    ("sat", jiff::civil::Weekday::Saturday),
                    ("sun", jiff::civil::Weekday::Sunday),
                ];
                let hours = days
                    .iter()
                    .filter(|(_, d)| !week.on(*d).is_empty())
                    .map(|(name, d)| (name.to_string(), week.on(*d).iter().map(ToString::to_string).collect()))
                    .collect();
                (false, hours)
            }
        };
        CalendarView {
            key: c.key().to_owned(),
            name: c.name().to_owned(),
            timezone: c.timezone().to_owned(),
            always,
            hours,
            holidays: c.holidays().iter().map(ToString::to_string).collect(),
        }
    }
}

/// Splits `{"key": …, rest}` into the key and the rest, parsed as `T` with field-naming errors.
fn keyed_body<T: DeserializeOwned>(bytes: &Bytes) -> Result<(String, T), ApiError> {
    let mut value: Value = parse_json(bytes)?;
    let key = match value.as_object_mut().map(|o| o.remove("key")) {
        Some(Some(Value::String(key))) => key,
        Some(Some(_)) => return Err(ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "key", "must be a string")),
        Some(None) => return Err(ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "key", "missing field `key`")),
        None => return Err(ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "(body)", "must be a JSON object")),
    };
    let rest = serde_json::to_vec(&value).expect("a value serialises");
    Ok((key, parse_json(&rest)?))
}

fn created<T: Serialize>(location: String, view: T) -> Response {
    let mut response = (StatusCode::CREATED, axum::Json(view)).into_response();
    response.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).expect("keys are ASCII"));
    response
}

/// SLA policies, most specific first.
#[utoipa::path(get, path = "/api/v1/sla-policies", tag = "sla",
    responses((status = 200, description = "All policies", body = Vec<PolicyView>)), security(("bearer" = [])))]
async fn list_policies(State(state): State<AppState>, principal: Principal) -> Result<axum::Json<Vec<PolicyView>>, ApiError> {
    principal.require(Permission::ReadTickets)?;
    let catalog = state.services.sla_catalog();
    let mut policies: Vec<&SlaPolicy> = catalog.policies.iter().collect();
    policies.sort_by(|a, b| b.specificity().cmp(&a.specificity()).then(a.order.cmp(&b.order)).then(a.key.cmp(&b.key)));
    Ok(axum::Json(policies.into_iter().map(PolicyView::from).collect()))
}

/// Add an SLA policy (admin).
#[utoipa::path(post, path = "/api/v1/sla-policies", tag = "sla", request_body = NewPolicyBody,
    responses(
        (status = 404, description = "`calendar` or a `*_calendar` names no calendar (`not-found`; `errors` names the field)", body = Problem, content_type = "application/problem+json"),
        (status = 201, description = "The policy", body = PolicyView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Key taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ), security(("bearer" = [])))]
async fn create_policy(State(state): State<AppState>, principal: Principal, request: Request) -> Result<Response, ApiError> {
    principal.require(Permission::ManageSla)?;
    let (key, spec) = keyed_body::<PolicySpec>(&read_json_body(request, &state).await?)?;
    let policy = state.services.create_policy(&key, spec).await?;
    Ok(created(format!("/api/v1/sla-policies/{key}"), PolicyView::from(&policy)))
}

/// One SLA policy.
#[utoipa::path(get, path = "/api/v1/sla-policies/{key}", tag = "sla", params(("key" = String, Path)),
    responses((status = 200, description = "The policy", body = PolicyView),
              (status = 404, description = "No such policy", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn get_policy(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> Result<axum::Json<PolicyView>, ApiError> {
    principal.require(Permission::ReadTickets)?;
    let catalog = state.services.sla_catalog();
    let policy = catalog.policy(Some(&key)).ok_or_else(|| ApiError::not_found(format!("no SLA policy `{key}`")))?;
    Ok(axum::Json(policy.into()))
}

/// Replace an SLA policy (admin). Open tickets follow it from their next change.
#[utoipa::path(put, path = "/api/v1/sla-policies/{key}", tag = "sla", params(("key" = String, Path)), request_body = PolicyBody,
    responses(
(status = 200, description = "The policy", body = PolicyView),
              (status = 404, description = "No such policy, or `calendar` or a `*_calendar` names no calendar (`not-found`; `errors` names the field)", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn replace_policy(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    request: Request,
) -> Result<axum::Json<PolicyView>, ApiError> {
    principal.require(Permission::ManageSla)?;
    let spec: PolicySpec = parse_json(&read_json_body(request, &state).await?)?;
    Ok(axum::Json(PolicyView::from(&state.services.replace_policy(&key, spec).await?)))
}

/// Remove an SLA policy (admin).
#[utoipa::path(delete, path = "/api/v1/sla-policies/{key}", tag = "sla", params(("key" = String, Path)),
    responses((status = 204, description = "Removed"),
              (status = 404, description = "No such policy", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn delete_policy(State(state): State<AppState>, principal: Principal, Path(key): Path<String>) -> Result<StatusCode, ApiError> {
    principal.require(Permission::ManageSla)?;
    state.services.delete_policy(&key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Business calendars.
#[utoipa::path(get, path = "/api/v1/calendars", tag = "sla",
    responses((status = 200, description = "All calendars", body = Vec<CalendarView>)), security(("bearer" = [])))]
async fn list_calendars(State(state): State<AppState>, principal: Principal) -> Result<axum::Json<Vec<CalendarView>>, ApiError> {
    principal.require(Permission::ReadTickets)?;
    Ok(axum::Json(state.services.sla_catalog().calendars.values().map(CalendarView::from).collect()))
}

/// Add a business calendar (admin).
#[utoipa::path(post, path = "/api/v1/calendars", tag = "sla", request_body = NewCalendarBody,
    responses(
        (status = 201, description = "The calendar", body = CalendarView),
        (status = 409, description = "Key taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ), security(("bearer" = [])))]
async fn create_calendar(State(state): State<AppState>, principal: Principal, request: Request) -> Result<Response, ApiError> {
    principal.require(Permission::ManageSla)?;
    let (key, spec) = keyed_body::<CalendarSpec>(&read_json_body(request, &state).await?)?;
    let calendar = state.services.create_calendar(&key, spec).await?;
    Ok(created(format!("/api/v1/calendars/{key}"), CalendarView::from(&calendar)))
}

/// One calendar.
#[utoipa::path(get, path = "/api/v1/calendars/{key}", tag = "sla", params(("key" = String, Path)),
    responses((status = 200, description = "The calendar", body = CalendarView),
              (status = 404, description = "No such calendar", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn get_calendar(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> Result<axum::Json<CalendarView>, ApiError> {
    principal.require(Permission::ReadTickets)?;
    let catalog = state.services.sla_catalog();
    let calendar = catalog.calendars.get(&key).ok_or_else(|| ApiError::not_found(format!("no calendar `{key}`")))?;
    Ok(axum::Json(calendar.into()))
}

/// Replace a calendar (admin).
#[utoipa::path(put, path = "/api/v1/calendars/{key}", tag = "sla", params(("key" = String, Path)), request_body = CalendarBody,
    responses((status = 200, description = "The calendar", body = CalendarView),
              (status = 404, description = "No such calendar", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn replace_calendar(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    request: Request,
) -> Result<axum::Json<CalendarView>, ApiError> {
    principal.require(Permission::ManageSla)?;
    let spec: CalendarSpec = parse_json(&read_json_body(request, &state).await?)?;
    Ok(axum::Json(CalendarView::from(&state.services.replace_calendar(&key, spec).await?)))
}

/// Remove a calendar no policy or stage uses (admin).
#[utoipa::path(delete, path = "/api/v1/calendars/{key}", tag = "sla", params(("key" = String, Path)),
    responses((status = 204, description = "Removed"),
              (status = 404, description = "No such calendar", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "A policy (as its calendar or a target's) or a process stage uses it", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn delete_calendar(State(state): State<AppState>, principal: Principal, Path(key): Path<String>) -> Result<StatusCode, ApiError> {
    principal.require(Permission::ManageSla)?;
    state.services.delete_calendar(&key).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct PauseView {
    #[schema(value_type = String, format = DateTime)]
    from: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    to: Option<Timestamp>,
    reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct ClockView {
    #[schema(value_type = String, format = Uuid)]
    id: String,
    /// first_response, resolution or stage
    kind: String,
    /// For stage clocks: the stage.
    stage: Option<String>,
    /// The policy the clock follows.
    policy: Option<String>,
    /// running, paused, met, breached or not_applicable (a first response never given on a
    /// ticket closed before its due time: left out of the compliance rate)
    state: String,
    /// Business time allowed, e.g. `2h`.
    target: String,
    target_ms: i64,
    /// Business time counted so far, pauses excluded.
    elapsed_ms: i64,
    /// Negative once breached.
    remaining_ms: i64,
    #[schema(value_type = String, format = DateTime)]
    started_at: Timestamp,
    /// When the target is reached if nothing changes (wall time, through the calendar); null when paused or stopped.
    #[schema(value_type = Option<String>, format = DateTime)]
    due_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    breached_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    stopped_at: Option<Timestamp>,
    /// The calendar that measures it (key); `always` is wall-clock time, 24×7 UTC.
    calendar: String,
    /// That calendar's name.
    calendar_name: String,
    /// Why it counts on that calendar: the stage's own, the policy's for this target, the
    /// policy's, or none named (24×7 UTC).
    calendar_source: CalendarSource,
    pauses: Vec<PauseView>,
    /// Alerts recorded for it: warning, breach, escalation_<percent>.
    alerts: Vec<String>,
}

impl From<ClockReport> for ClockView {
    fn from(r: ClockReport) -> Self {
        let c = r.clock;
        ClockView {
            id: c.id.to_string(),
            kind: c.clock.kind.as_str().to_owned(),
            stage: c.stage,
            policy: c.policy_key,
            state: r.state.as_str().to_owned(),
            target: steward_domain::duration::TargetDuration::from_seconds(u64::try_from(c.clock.target_ms / 1000).unwrap_or(0))
                .to_string(),
            target_ms: c.clock.target_ms,
            elapsed_ms: r.elapsed_ms,
            remaining_ms: r.remaining_ms,
            started_at: c.clock.started_at,
            due_at: r.due_at,
            breached_at: c.clock.breached_at,
            stopped_at: c.clock.stopped_at,
            calendar: r.calendar.key().to_owned(),
            calendar_name: r.calendar.name().to_owned(),
            calendar_source: c.calendar_source,
            pauses: c.clock.pauses.into_iter().map(|p| PauseView { from: p.from, to: p.to, reason: p.reason }).collect(),
            alerts: c.alerted,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PolicyRef {
    key: String,
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct CalendarRef {
    key: String,
    name: String,
    timezone: String,
}

#[derive(Serialize, ToSchema)]
pub struct TicketSlaView {
    /// The instant the figures were computed at.
    #[schema(value_type = String, format = DateTime)]
    at: Timestamp,
    policy: Option<PolicyRef>,
    /// Which policy matched and why.
    explanation: String,
    /// The policy's calendar; a clock may count on another (a stage's or a target's own, see
    /// each clock's `calendar` and `calendar_source`).
    calendar: CalendarRef,
    clocks: Vec<ClockView>,
}

impl From<SlaReport> for TicketSlaView {
    fn from(r: SlaReport) -> Self {
        TicketSlaView {
            at: r.at,
            policy: r.policy.map(|p| PolicyRef { key: p.key, name: p.name }),
            explanation: r.explanation,
            calendar: CalendarRef {
                key: r.calendar.key().to_owned(),
                name: r.calendar.name().to_owned(),
                timezone: r.calendar.timezone().to_owned(),
            },
            clocks: r.clocks.into_iter().map(ClockView::from).collect(),
        }
    }
}

/// Every SLA clock of a ticket: target, business time elapsed and remaining, due time, state,
/// pauses, and which policy and calendar apply and why.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/sla", tag = "sla", params(("id" = String, Path, description = "Ticket id or number")),
    responses((status = 200, description = "The ticket's clocks", body = TicketSlaView),
              (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn ticket_sla(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<TicketSlaView>, ApiError> {
    principal.require(Permission::ReadTickets)?;
    let reference = TicketRef::parse("id", &id).map_err(|_| ApiError::not_found(format!("no ticket `{id}`")))?;
    Ok(axum::Json(state.services.ticket_sla(reference).await?.into()))
}
