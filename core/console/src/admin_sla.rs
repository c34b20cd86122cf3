//! `/admin/sla-policies`, `/admin/calendars` and `/admin/processes`: the service standards.
//! Policies and calendars are listed, shown, created, changed and deleted through the same
//! services as `/api/v1/sla-policies` and `/api/v1/calendars`, so the same rules refuse the same
//! fields; a refusal re-renders the form as typed with each message beside its field (422).
//! Processes come from their files and are only shown. Every screen needs `ManageSla`, the
//! permission the API asks for changes.

pub(crate) mod texts;

use crate::admin::{AdminLink, Choice, FieldErrors};
use crate::i18n::{Lang, Texts};
use crate::page::{problem, render, Chrome, Section};
use crate::session::{percent_encode, Viewer};
use crate::ConsoleState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::BTreeMap;
use steward_domain::auth::{Permission, Role};
use steward_domain::calendar::{BusinessHours, Calendar, CalendarSpec, WEEKDAY_KEYS};
use steward_domain::sla::{Conditions, Escalation, PolicySpec, SlaPolicy, DEFAULT_WARNING_PERCENT};
use steward_domain::ticket::{Channel, Kind, Priority, Status};
use steward_domain::FieldError;
use steward_services::ServiceError;
use texts::texts;
pub use texts::SlaTexts;

/// The overview's links to these screens.
pub fn admin_links(lang: Lang) -> [AdminLink; 3] {
    let a = texts(lang);
    [
        AdminLink { href: "/admin/sla-policies", label: a.policies, about: a.policies_about },
        AdminLink { href: "/admin/calendars", label: a.calendars, about: a.calendars_about },
        AdminLink { href: "/admin/processes", label: a.processes, about: a.processes_about },
    ]
}

/// The page's layout and texts for a viewer allowed to manage SLAs, or the refusal page.
fn admitted(viewer: &Viewer) -> Result<(Chrome, &'static SlaTexts), Box<Response>> {
    let chrome = Chrome::signed_in(viewer, Section::Admin);
    match viewer.principal.require(Permission::ManageSla) {
        Ok(()) => Ok((chrome, texts(viewer.locale.lang))),
        Err(e) => Err(Box::new(problem(chrome, &ServiceError::from(e)))),
    }
}

/// A refusal's messages, looked up by a form input: the input's own field and the fields
/// inside it (`hours.mon` gathers `hours.mon[1]`; `escalations[0]` its `.at_percent`).
#[derive(Default)]
pub struct Refusals(FieldErrors);

impl Refusals {
    /// Everything a form refusal says, or None when the failure is not the form's.
    pub(crate) fn of(error: &ServiceError) -> Option<Refusals> {
        match error {
            ServiceError::Missing { field, message } => Some(Refusals(FieldErrors::one(field, message))),
            other => FieldErrors::of(other).map(Refusals),
        }
    }

    pub(crate) fn push(&mut self, e: FieldError) {
        self.0 .0.entry(e.field).or_insert(e.message);
    }

    pub fn is_empty(&self) -> bool {
        self.0 .0.is_empty()
    }

    /// The messages about `field` (and the fields inside it) in `lang`.
    pub fn about(&self, field: &str, lang: Lang) -> Option<String> {
        let messages: Vec<String> = self
            .0
             .0
            .iter()
            .filter(|(k, _)| {
                k.as_str() == field || k.strip_prefix(field).is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
            })
            .map(|(_, m)| crate::refusal::free_text(lang, m))
            .collect();
        (!messages.is_empty()).then(|| messages.join(crate::refusal::texts(lang).separator))
    }

    /// Every message with its field in `lang`, for the summary above the form.
    pub fn all(&self, lang: Lang) -> Vec<(String, String)> {
        self.0 .0.iter().map(|(k, v)| (k.clone(), crate::refusal::free_text(lang, v))).collect()
    }
}

/// A posted form as its pairs in order; inputs may repeat (checkboxes, escalation rows).
pub(crate) struct Posted(Vec<(String, String)>);

impl Posted {
    pub(crate) fn parse(body: &str) -> Posted {
        Posted(form_urlencoded::parse(body.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    pub(crate) fn one(&self, name: &str) -> String {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }
}

/// A key as one path segment: calendar keys may hold `/`, which must not split the path.
pub(crate) fn segment(key: &str) -> String {
    percent_encode(key).replace('/', "%2F")
}

/// Each value with its label, ticked when `ticked` has it.
fn checks(values: impl IntoIterator<Item = (&'static str, &'static str)>, ticked: &[String]) -> Vec<Choice> {
    values
        .into_iter()
        .map(|(v, label)| Choice { value: v.to_owned(), label: label.to_owned(), selected: ticked.iter().any(|t| t == v) })
        .collect()
}

fn owned_checks(values: &[String], ticked: &[String]) -> Vec<Choice> {
    values.iter().map(|v| Choice { value: v.clone(), label: v.clone(), selected: ticked.contains(v) }).collect()
}

/// A list of names, or "any" when the list does not constrain.
fn any_of(items: &[String], any: &str) -> String {
    if items.is_empty() {
        any.to_owned()
    } else {
        items.join(", ")
    }
}

/// Each value in words.
fn spelled<T: Copy>(items: &[T], label: impl Fn(T) -> &'static str) -> Vec<String> {
    items.iter().map(|i| label(*i).to_owned()).collect()
}

/// Each typed value parsed; a bad one is refused under `{field}[{i}]`.
fn parsed<T>(values: &[String], field: &str, parse: fn(&str, &str) -> Result<T, FieldError>, refusals: &mut Refusals) -> Vec<T> {
    values.iter().enumerate().filter_map(|(i, v)| parse(&format!("{field}[{i}]"), v).map_err(|e| refusals.push(e)).ok()).collect()
}

pub(crate) fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// A form's outcome: a 303 to `to` once saved, the form again with its refusals (`again`), or
/// the problem page for any failure that is not the form's.
fn outcome<T>(
    result: Result<T, ServiceError>,
    chrome: Chrome,
    to: impl FnOnce(T) -> String,
    again: impl FnOnce(Chrome, Refusals) -> Response,
) -> Response {
    match result {
        Ok(saved) => Redirect::to(&to(saved)).into_response(),
        Err(e) => match Refusals::of(&e) {
            Some(errors) => again(chrome, errors),
            None => problem(chrome, &e),
        },
    }
}

// ---- SLA policies ----

/// The policy form as typed, so a refused form comes back exactly as it was sent.
#[derive(Default)]
struct PolicyForm {
    key: String,
    name: String,
    order: String,
    kinds: Vec<String>,
    channels: Vec<String>,
    priorities: Vec<String>,
    tiers: Vec<String>,
    processes: Vec<String>,
    first_response: String,
    next_response: String,
    resolution: String,
    warning_percent: String,
    /// (percent, role) rows.
    escalations: Vec<(String, String)>,
    calendar: String,
    /// The targets' own calendars (empty: the policy's).
    first_response_calendar: String,
    next_response_calendar: String,
    resolution_calendar: String,
    pause_on: Vec<String>,
}

impl PolicyForm {
    fn blank() -> PolicyForm {
        PolicyForm {
            order: "0".into(),
            warning_percent: DEFAULT_WARNING_PERCENT.to_string(),
            pause_on: spelled(&[Status::WaitingCustomer, Status::WaitingPartner], Status::as_str),
            ..PolicyForm::default()
        }
    }

    fn of(p: &SlaPolicy) -> PolicyForm {
        let c = &p.conditions;
        PolicyForm {
            key: p.key.clone(),
            name: p.name.clone(),
            order: p.order.to_string(),
            kinds: spelled(&c.kinds, Kind::as_str),
            channels: spelled(&c.channels, Channel::as_str),
            priorities: spelled(&c.priorities, Priority::as_str),
            tiers: c.tiers.clone(),
            processes: c.processes.clone(),
            first_response: p.first_response.map(|t| t.to_string()).unwrap_or_default(),
            next_response: p.next_response.map(|t| t.to_string()).unwrap_or_default(),
            resolution: p.resolution.map(|t| t.to_string()).unwrap_or_default(),
            warning_percent: p.warning_percent.to_string(),
            escalations: p.escalations.iter().map(|e| (e.at_percent.to_string(), e.notify_role.as_str().to_owned())).collect(),
            calendar: p.calendar.clone().unwrap_or_default(),
            first_response_calendar: p.first_response_calendar.clone().unwrap_or_default(),
            next_response_calendar: p.next_response_calendar.clone().unwrap_or_default(),
            resolution_calendar: p.resolution_calendar.clone().unwrap_or_default(),
            pause_on: spelled(&p.pause_on, Status::as_str),
        }
    }

    fn posted(body: &str, key: Option<&str>) -> PolicyForm {
        let f = Posted::parse(body);
        let percents = f.all("escalation_percent");
        let roles = f.all("escalation_role");
        PolicyForm {
            key: key.map_or_else(|| f.one("key").trim().to_owned(), str::to_owned),
            name: f.one("name"),
            order: f.one("order"),
            kinds: f.all("kinds"),
            channels: f.all("channels"),
            priorities: f.all("priorities"),
            tiers: f.all("tiers"),
            processes: f.all("processes"),
            first_response: f.one("first_response"),
            next_response: f.one("next_response"),
            resolution: f.one("resolution"),
            warning_percent: f.one("warning_percent"),
            // A row without a percent is an unused row.
            escalations: percents
                .into_iter()
                .zip(roles.into_iter().chain(std::iter::repeat(String::new())))
                .filter(|(p, _)| !p.trim().is_empty())
                .collect(),
            calendar: f.one("calendar"),
            first_response_calendar: f.one("first_response_calendar"),
            next_response_calendar: f.one("next_response_calendar"),
            resolution_calendar: f.one("resolution_calendar"),
            pause_on: f.all("pause_on"),
        }
    }

    /// The spec the services check, or the fields that are not even of the right shape.
    /// Escalation rows are put in percent order first, the order in which the domain names
    /// them (`escalations[1]`), so each message lands beside its row.
    fn spec(&mut self) -> Result<PolicySpec, Refusals> {
        let mut refusals = Refusals::default();
        let whole = |field: &str, text: &str, refusals: &mut Refusals| -> Option<i64> {
            match text.trim() {
                "" => None,
                t => t.parse::<i64>().map_err(|_| refusals.push(FieldError::new(field, format!("`{t}` is not a whole number")))).ok(),
            }
        };
        let order = whole("order", &self.order, &mut refusals).unwrap_or(0);
        let order = i32::try_from(order).unwrap_or_else(|_| {
            refusals.push(FieldError::new("order", "is out of range"));
            0
        });
        let warning_percent = whole("warning_percent", &self.warning_percent, &mut refusals).map(|p| u32::try_from(p).unwrap_or(u32::MAX));
        let mut rows: Vec<(Option<u32>, (String, String))> =
            self.escalations.drain(..).map(|row| (row.0.trim().parse::<u32>().ok(), row)).collect();
        rows.sort_by_key(|(p, _)| *p);
        let mut escalations = Vec::with_capacity(rows.len());
        for (i, (percent, (typed, role))) in rows.iter().enumerate() {
            let role = Role::parse(&format!("escalations[{i}].notify_role"), role.trim()).map_err(|e| refusals.push(e)).ok();
            match percent {
                None => refusals
                    .push(FieldError::new(format!("escalations[{i}].at_percent"), format!("`{}` is not a whole number", typed.trim()))),
                Some(at_percent) => escalations.extend(role.map(|notify_role| Escalation { at_percent: *at_percent, notify_role })),
            }
        }
        self.escalations = rows.into_iter().map(|(_, row)| row).collect();
        let conditions = Conditions {
            kinds: parsed(&self.kinds, "match.kinds", Kind::parse, &mut refusals),
            channels: parsed(&self.channels, "match.channels", Channel::parse, &mut refusals),
            priorities: parsed(&self.priorities, "match.priorities", Priority::parse, &mut refusals),
            tiers: self.tiers.clone(),
            processes: self.processes.clone(),
        };
        let pause_on = parsed(&self.pause_on, "pause_on", Status::parse, &mut refusals);
        if !refusals.is_empty() {
            return Err(refusals);
        }
        Ok(PolicySpec {
            name: self.name.clone(),
            order,
            conditions,
            first_response: optional(&self.first_response),
            next_response: optional(&self.next_response),
            resolution: optional(&self.resolution),
            warning_percent,
            escalations,
            calendar: optional(&self.calendar),
            first_response_calendar: optional(&self.first_response_calendar),
            next_response_calendar: optional(&self.next_response_calendar),
            resolution_calendar: optional(&self.resolution_calendar),
            pause_on: Some(pause_on),
        })
    }
}

/// One text input with its label, what was typed and the message refusing it.
pub struct TextInput {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub value: String,
    pub error: Option<String>,
    pub numeric: bool,
}

impl TextInput {
    pub(crate) fn new(name: &'static str, label: &'static str, value: String, error: Option<String>) -> TextInput {
        TextInput { name, label, hint: "", value, error, numeric: false }
    }

    pub(crate) fn hinted(mut self, hint: &'static str) -> TextInput {
        self.hint = hint;
        self
    }

    pub(crate) fn numeric(mut self) -> TextInput {
        self.numeric = true;
        self
    }
}

/// Check boxes sharing one name; none ticked is an empty list.
pub struct CheckGroup {
    pub name: &'static str,
    pub legend: &'static str,
    pub items: Vec<Choice>,
    pub error: Option<String>,
}

pub struct EscalationInput {
    pub percent: String,
    pub roles: Vec<Choice>,
    pub error: Option<String>,
}

/// What the policy form template shows.
pub struct PolicyFormView {
    pub action: String,
    pub creating: bool,
    pub summary: Vec<(String, String)>,
    /// Key (when creating), name, order.
    pub head: Vec<TextInput>,
    pub conditions: Vec<CheckGroup>,
    /// The three targets and the warning percent.
    pub targets: Vec<TextInput>,
    pub escalations: Vec<EscalationInput>,
    /// The policy's calendar, then each target's own.
    pub calendars: Vec<CalendarSelect>,
    pub pause_on: CheckGroup,
}

/// A calendar chooser: its field, label, choices and the message refusing it.
pub struct CalendarSelect {
    pub name: &'static str,
    pub label: &'static str,
    pub choices: Vec<Choice>,
    pub error: Option<String>,
}

/// Spare escalation rows offered below the policy's own.
const SPARE_ESCALATIONS: usize = 2;

fn policy_form_view(
    state: &ConsoleState,
    (a, lang): (&'static SlaTexts, Lang),
    form: PolicyForm,
    creating: bool,
    errors: Refusals,
) -> PolicyFormView {
    let catalog = state.services.sla_catalog();
    let e = |field: &str| errors.about(field, lang);
    let words = lang.texts();
    let role_choices = |chosen: &str| checks(Role::ALL.iter().map(|r| (r.as_str(), words.role_label(*r))), &[chosen.to_owned()]);
    let mut escalations: Vec<EscalationInput> = form
        .escalations
        .iter()
        .enumerate()
        .map(|(i, (p, r))| EscalationInput { percent: p.clone(), roles: role_choices(r), error: e(&format!("escalations[{i}]")) })
        .collect();
    escalations.extend((0..SPARE_ESCALATIONS).map(|_| EscalationInput {
        percent: String::new(),
        roles: role_choices("supervisor"),
        error: None,
    }));
    // The policy's calendar: none is around the clock. A target's: none is the policy's, and
    // `always` is named to count that target alone around the clock.
    let select = |name: &'static str, label: &'static str, chosen: &str| {
        let mut choices = match name {
            "calendar" => vec![Choice {
                value: String::new(),
                label: a.around_the_clock.to_owned(),
                selected: chosen.is_empty() || chosen == Calendar::ALWAYS_UTC_KEY,
            }],
            _ => vec![
                Choice { value: String::new(), label: a.same_as_policy.to_owned(), selected: chosen.is_empty() },
                Choice {
                    value: Calendar::ALWAYS_UTC_KEY.to_owned(),
                    label: a.around_the_clock.to_owned(),
                    selected: chosen == Calendar::ALWAYS_UTC_KEY,
                },
            ],
        };
        choices.extend(catalog.calendars.values().map(|c| Choice {
            value: c.key().to_owned(),
            label: format!("{} ({})", c.name(), c.key()),
            selected: c.key() == chosen,
        }));
        CalendarSelect { name, label, choices, error: e(name) }
    };
    let calendars = vec![
        select("calendar", a.calendar, &form.calendar),
        select("first_response_calendar", a.first_response_calendar, &form.first_response_calendar),
        select("next_response_calendar", a.next_response_calendar, &form.next_response_calendar),
        select("resolution_calendar", a.resolution_calendar, &form.resolution_calendar),
    ];
    let processes: Vec<String> = state.services.processes.iter().map(|p| p.key.clone()).collect();
    let mut head = Vec::new();
    if creating {
        head.push(TextInput::new("key", a.key, form.key.clone(), e("key")).hinted(a.key_hint));
    }
    head.push(TextInput::new("name", a.name, form.name, e("name")));
    head.push(TextInput::new("order", a.order, form.order, e("order")).hinted(a.order_hint).numeric());
    let group = |name: &'static str, legend: &'static str, items: Vec<Choice>| CheckGroup {
        name,
        legend,
        items,
        error: e(&format!("match.{name}")),
    };
    PolicyFormView {
        action: if creating { "/admin/sla-policies".to_owned() } else { format!("/admin/sla-policies/{}", segment(&form.key)) },
        creating,
        summary: errors.all(lang),
        head,
        conditions: vec![
            group("channels", a.channels, checks(Channel::ALL.iter().map(|c| (c.as_str(), words.channel_label(*c))), &form.channels)),
            group("tiers", a.tiers, owned_checks(state.services.tiers(), &form.tiers)),
            group(
                "priorities",
                a.priorities,
                checks(Priority::ALL.iter().map(|p| (p.as_str(), words.priority_label(*p))), &form.priorities),
            ),
            group("kinds", a.kinds, checks(Kind::ALL.iter().map(|k| (k.as_str(), words.kind_label(*k))), &form.kinds)),
            group("processes", a.in_processes, owned_checks(&processes, &form.processes)),
        ],
        targets: vec![
            TextInput::new("first_response", a.first_response, form.first_response, e("first_response")),
            TextInput::new("next_response", a.next_response, form.next_response, e("next_response")),
            TextInput::new("resolution", a.resolution, form.resolution, e("resolution")),
            TextInput::new("warning_percent", a.warning_percent, form.warning_percent, e("warning_percent")).numeric(),
        ],
        escalations,
        calendars,
        pause_on: CheckGroup {
            name: "pause_on",
            legend: a.pause_on,
            items: checks(
                Status::ALL
                    .iter()
                    .filter(|s| !matches!(s, Status::Resolved | Status::Closed))
                    .map(|s| (s.as_str(), words.status_label(*s))),
                &form.pause_on,
            ),
            error: e("pause_on"),
        },
    }
}

pub struct PolicyRow {
    pub key: String,
    pub href: String,
    pub name: String,
    pub channels: String,
    pub tiers: String,
    pub priorities: String,
    /// Kinds and processes, when the policy constrains them.
    pub other: String,
    pub first_response: String,
    pub resolution: String,
    pub calendar: String,
    pub escalations: String,
    pub order: i32,
}

fn policy_row(p: &SlaPolicy, (a, words): (&SlaTexts, &Texts), catalog: &steward_domain::sla_engine::SlaCatalog) -> PolicyRow {
    let c = &p.conditions;
    let mut other = Vec::new();
    if !c.kinds.is_empty() {
        other.push(format!("{}: {}", a.kinds, spelled(&c.kinds, |k| words.kind_label(k)).join(", ")));
    }
    if !c.processes.is_empty() {
        other.push(format!("{}: {}", a.in_processes, c.processes.join(", ")));
    }
    PolicyRow {
        key: p.key.clone(),
        href: format!("/admin/sla-policies/{}", segment(&p.key)),
        name: p.name.clone(),
        channels: any_of(&spelled(&c.channels, |c| words.channel_label(c)), a.any),
        tiers: any_of(&c.tiers, a.any),
        priorities: any_of(&spelled(&c.priorities, |p| words.priority_label(p)), a.any),
        other: other.join("; "),
        first_response: p.first_response.map(|t| t.to_string()).unwrap_or_else(|| "–".into()),
        resolution: p.resolution.map(|t| t.to_string()).unwrap_or_else(|| "–".into()),
        calendar: {
            let named = |key: &str| match catalog.calendars.get(key) {
                Some(c) => words.calendar_label(c),
                None if key == Calendar::ALWAYS_UTC_KEY => a.around_the_clock.to_owned(),
                None => key.to_owned(),
            };
            let mut said = vec![p.calendar.as_deref().map_or_else(|| a.around_the_clock.to_owned(), named)];
            let targets = [
                (a.first_response, &p.first_response_calendar),
                (a.next_response, &p.next_response_calendar),
                (a.resolution, &p.resolution_calendar),
            ];
            said.extend(targets.iter().filter_map(|(what, key)| key.as_deref().map(|k| format!("{what}: {}", named(k)))));
            said.join("; ")
        },
        escalations: p
            .escalations
            .iter()
            .map(|e| format!("{} % → {}", e.at_percent, words.role_label(e.notify_role)))
            .collect::<Vec<_>>()
            .join(", "),
        order: p.order,
    }
}

#[derive(Template)]
#[template(path = "admin_sla_policies.html")]
struct PoliciesPage {
    chrome: Chrome,
    a: &'static SlaTexts,
    notice: Option<&'static str>,
    policies: Vec<PolicyRow>,
    form: PolicyFormView,
}

#[derive(Template)]
#[template(path = "admin_sla_policy.html")]
struct PolicyPage {
    chrome: Chrome,
    a: &'static SlaTexts,
    notice: Option<&'static str>,
    policy: PolicyRow,
    form: PolicyFormView,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn notice(a: &'static SlaTexts, done: Option<&str>) -> Option<&'static str> {
    match done {
        Some("created") => Some(a.created),
        Some("saved") => Some(a.saved),
        Some("deleted") => Some(a.deleted),
        _ => None,
    }
}

pub(crate) fn status_for(errors: &Refusals) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

fn policies_page(
    state: &ConsoleState,
    chrome: Chrome,
    a: &'static SlaTexts,
    notice: Option<&'static str>,
    form: PolicyForm,
    errors: Refusals,
) -> Response {
    let catalog = state.services.sla_catalog();
    let mut policies: Vec<&SlaPolicy> = catalog.policies.iter().collect();
    // The API's order: most specific first, then by order and key.
    policies.sort_by(|x, y| y.specificity().cmp(&x.specificity()).then(x.order.cmp(&y.order)).then(x.key.cmp(&y.key)));
    let policies = policies.into_iter().map(|p| policy_row(p, (a, chrome.t), &catalog)).collect();
    let status = status_for(&errors);
    let form = policy_form_view(state, (a, chrome.language), form, true, errors);
    render(status, &PoliciesPage { chrome, a, notice, policies, form })
}

fn policy_page(
    state: &ConsoleState,
    chrome: Chrome,
    a: &'static SlaTexts,
    key: &str,
    notice: Option<&'static str>,
    form: Option<PolicyForm>,
    errors: Refusals,
) -> Response {
    let catalog = state.services.sla_catalog();
    let Some(policy) = catalog.policy(Some(key)) else {
        return problem(chrome, &ServiceError::NotFound { what: "SLA policy" });
    };
    let status = status_for(&errors);
    let form = form.unwrap_or_else(|| PolicyForm::of(policy));
    render(
        status,
        &PolicyPage {
            a,
            notice,
            policy: policy_row(policy, (a, chrome.t), &catalog),
            form: policy_form_view(state, (a, chrome.language), form, false, errors),
            chrome,
        },
    )
}

pub async fn policies(State(state): State<ConsoleState>, viewer: Viewer, Query(p): Query<Done>) -> Response {
    match admitted(&viewer) {
        Ok((chrome, a)) => policies_page(&state, chrome, a, notice(a, p.done.as_deref()), PolicyForm::blank(), Refusals::default()),
        Err(r) => *r,
    }
}

pub async fn create_policy(State(state): State<ConsoleState>, viewer: Viewer, body: String) -> Response {
    let (chrome, a) = match admitted(&viewer) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let mut form = PolicyForm::posted(&body, None);
    let spec = match form.spec() {
        Ok(spec) => spec,
        Err(errors) => return policies_page(&state, chrome, a, None, form, errors),
    };
    let created = state.services.create_policy(&form.key, spec).await;
    outcome(
        created,
        chrome,
        |p| format!("/admin/sla-policies/{}?done=created", segment(&p.key)),
        |chrome, errors| policies_page(&state, chrome, a, None, form, errors),
    )
}

pub async fn policy(State(state): State<ConsoleState>, viewer: Viewer, Path(key): Path<String>, Query(p): Query<Done>) -> Response {
    match admitted(&viewer) {
        Ok((chrome, a)) => policy_page(&state, chrome, a, &key, notice(a, p.done.as_deref()), None, Refusals::default()),
        Err(r) => *r,
    }
}

pub async fn save_policy(State(state): State<ConsoleState>, viewer: Viewer, Path(key): Path<String>, body: String) -> Response {
    let (chrome, a) = match admitted(&viewer) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let mut form = PolicyForm::posted(&body, Some(&key));
    let spec = match form.spec() {
        Ok(spec) => spec,
        Err(errors) => return policy_page(&state, chrome, a, &key, None, Some(form), errors),
    };
    let saved = state.services.replace_policy(&key, spec).await;
    outcome(
        saved,
        chrome,
        |_| format!("/admin/sla-policies/{}?done=saved", segment(&key)),
        |chrome, errors| policy_page(&state, chrome, a, &key, None, Some(form), errors),
    )
}

pub async fn delete_policy(State(state): State<ConsoleState>, viewer: Viewer, Path(key): Path<String>) -> Response {
    let (chrome, _) = match admitted(&viewer) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    match state.services.delete_policy(&key).await {
        Ok(()) => Redirect::to("/admin/sla-policies?done=deleted").into_response(),
        Err(e) => problem(chrome, &e),
    }
}

// ---- calendars ----

/// The calendar form as typed.
#[derive(Default)]
struct CalendarForm {
    key: String,
    name: String,
    timezone: String,
    always: bool,
    /// Monday first: the day's intervals as typed, comma-separated.
    hours: [String; 7],
    /// One date a line.
    holidays: String,
}

impl CalendarForm {
    fn blank() -> CalendarForm {
        let mut hours: [String; 7] = Default::default();
        hours.iter_mut().take(5).for_each(|h| *h = "09:00-17:00".to_owned());
        CalendarForm { timezone: "UTC".into(), hours, ..CalendarForm::default() }
    }

    fn of(c: &Calendar) -> CalendarForm {
        let mut hours: [String; 7] = Default::default();
        let always = match c.hours() {
            BusinessHours::Always => true,
            BusinessHours::Weekly(week) => {
                for (i, day) in hours.iter_mut().enumerate() {
                    *day = week.on(weekday(i)).iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                }
                false
            }
        };
        CalendarForm {
            key: c.key().to_owned(),
            name: c.name().to_owned(),
            timezone: c.timezone().to_owned(),
            always,
            hours,
            holidays: c.holidays().iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
        }
    }

    fn posted(body: &str, key: Option<&str>) -> CalendarForm {
        let f = Posted::parse(body);
        CalendarForm {
            key: key.map_or_else(|| f.one("key").trim().to_owned(), str::to_owned),
            name: f.one("name"),
            timezone: f.one("timezone"),
            always: !f.one("always").is_empty(),
            hours: WEEKDAY_KEYS.map(|day| f.one(&format!("hours_{day}"))),
            holidays: f.one("holidays"),
        }
    }

    fn spec(&self) -> CalendarSpec {
        let hours: BTreeMap<String, Vec<String>> = WEEKDAY_KEYS
            .iter()
            .zip(&self.hours)
            .filter_map(|(day, typed)| {
                let intervals: Vec<String> = typed.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
                (!intervals.is_empty()).then(|| (day.to_string(), intervals))
            })
            .collect();
        CalendarSpec {
            name: optional(&self.name),
            timezone: self.timezone.trim().to_owned(),
            always: self.always,
            // 24×7 ignores what the day inputs still hold, as the check box says.
            hours: if self.always { BTreeMap::new() } else { hours },
            holidays: self.holidays.split(|c: char| c == ',' || c.is_whitespace()).filter(|t| !t.is_empty()).map(str::to_owned).collect(),
        }
    }
}

fn weekday(index: usize) -> jiff::civil::Weekday {
    use jiff::civil::Weekday::*;
    [Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday][index]
}

pub struct CalendarFormView {
    pub action: String,
    pub creating: bool,
    pub summary: Vec<(String, String)>,
    /// Key (when creating), name, time zone.
    pub head: Vec<TextInput>,
    pub always: bool,
    pub always_error: Option<String>,
    /// Monday first, named `hours_mon` … `hours_sun`.
    pub days: Vec<TextInput>,
    pub hours_error: Option<String>,
    pub holidays: String,
    pub holidays_error: Option<String>,
}

fn calendar_form_view((a, lang): (&'static SlaTexts, Lang), form: CalendarForm, creating: bool, errors: Refusals) -> CalendarFormView {
    const DAY_INPUTS: [&str; 7] = ["hours_mon", "hours_tue", "hours_wed", "hours_thu", "hours_fri", "hours_sat", "hours_sun"];
    let e = |field: &str| errors.about(field, lang);
    let mut head = Vec::new();
    if creating {
        head.push(TextInput::new("key", a.key, form.key.clone(), e("key")));
    }
    head.push(TextInput::new("name", a.name, form.name, e("name")));
    head.push(TextInput::new("timezone", a.timezone, form.timezone, e("timezone")).hinted(a.timezone_hint));
    CalendarFormView {
        action: if creating { "/admin/calendars".to_owned() } else { format!("/admin/calendars/{}", segment(&form.key)) },
        creating,
        summary: errors.all(lang),
        head,
        always: form.always,
        always_error: errors.0.get("always").map(str::to_owned),
        days: DAY_INPUTS
            .iter()
            .zip(WEEKDAY_KEYS)
            .zip(a.days)
            .zip(form.hours)
            .map(|(((name, day), label), value)| TextInput::new(name, label, value, e(&format!("hours.{day}"))))
            .collect(),
        hours_error: errors.0.get("hours").map(str::to_owned),
        holidays: form.holidays,
        holidays_error: e("holidays"),
    }
}

pub struct CalendarRow {
    pub key: String,
    pub href: String,
    pub name: String,
    pub timezone: String,
    /// (day, its hours) Monday first.
    pub week: Vec<(&'static str, String)>,
    pub holidays: String,
    pub used_by: String,
}

fn calendar_row(c: &Calendar, a: &SlaTexts, services: &steward_services::Services) -> CalendarRow {
    let week = match c.hours() {
        BusinessHours::Always => vec![(a.always, String::new())],
        BusinessHours::Weekly(w) => (0..7)
            .map(|i| {
                let hours = w.on(weekday(i)).iter().map(ToString::to_string).collect::<Vec<_>>();
                (a.days[i], if hours.is_empty() { a.closed.to_owned() } else { hours.join(", ") })
            })
            .collect(),
    };
    let holidays = c.holidays().iter().map(ToString::to_string).collect::<Vec<_>>();
    CalendarRow {
        key: c.key().to_owned(),
        href: format!("/admin/calendars/{}", segment(c.key())),
        name: c.name().to_owned(),
        timezone: c.timezone().to_owned(),
        week,
        holidays: if holidays.is_empty() { a.no_holidays.to_owned() } else { holidays.join(", ") },
        used_by: services.calendar_users(c.key()).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "admin_calendars.html")]
struct CalendarsPage {
    chrome: Chrome,
    a: &'static SlaTexts,
    notice: Option<&'static str>,
    calendars: Vec<CalendarRow>,
    form: CalendarFormView,
}

#[derive(Template)]
#[template(path = "admin_calendar.html")]
struct CalendarPage {
    chrome: Chrome,
    a: &'static SlaTexts,
    notice: Option<&'static str>,
    /// Why the calendar could not be deleted.
    error: Option<String>,
    calendar: CalendarRow,
    form: CalendarFormView,
}

fn calendars_page(
    chrome: Chrome,
    state: &ConsoleState,
    a: &'static SlaTexts,
    notice: Option<&'static str>,
    form: CalendarForm,
    errors: Refusals,
) -> Response {
    let catalog = state.services.sla_catalog();
    let calendars = catalog.calendars.values().map(|c| calendar_row(c, a, &state.services)).collect();
    let status = status_for(&errors);
    let form = calendar_form_view((a, chrome.language), form, true, errors);
    render(status, &CalendarsPage { chrome, a, notice, calendars, form })
}

struct CalendarShown {
    notice: Option<&'static str>,
    error: Option<String>,
    form: Option<CalendarForm>,
    errors: Refusals,
}

impl CalendarShown {
    fn plain(notice: Option<&'static str>) -> CalendarShown {
        CalendarShown { notice, error: None, form: None, errors: Refusals::default() }
    }
}

fn calendar_page(chrome: Chrome, state: &ConsoleState, a: &'static SlaTexts, key: &str, shown: CalendarShown) -> Response {
    let catalog = state.services.sla_catalog();
    let Some(calendar) = catalog.calendars.get(key) else {
        return problem(chrome, &ServiceError::NotFound { what: "calendar" });
    };
    let status = if shown.error.is_some() { StatusCode::CONFLICT } else { status_for(&shown.errors) };
    let form = shown.form.unwrap_or_else(|| CalendarForm::of(calendar));
    let page = CalendarPage {
        a,
        notice: shown.notice,
        error: shown.error,
        calendar: calendar_row(calendar, a, &state.services),
        form: calendar_form_view((a, chrome.language), form, false, shown.errors),
        chrome,
    };
    render(status, &page)
}

pub async fn calendars(State(state): State<ConsoleState>, viewer: Viewer, Query(p): Query<Done>) -> Response {
    match admitted(&viewer) {
        Ok((chrome, a)) => calendars_page(chrome, &state, a, notice(a, p.done.as_deref()), CalendarForm::blank(), Refusals::default()),
        Err(r) => *r,
    }
}

pub async fn create_calendar(State(state): State<ConsoleState>, viewer: Viewer, body: String) -> Response {
    let (chrome, a) = match admitted(&viewer) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let form = CalendarForm::posted(&body, None);
    let created = state.services.create_calendar(&form.key, form.spec()).await;
    outcome(
        created,
        chrome,
        |c| format!("/admin/calendars/{}?done=created", segment(c.key())),
        |chrome, errors| calendars_page(chrome, &state, a, None, form, errors),
    )
}

pub async fn calendar(State(state): State<ConsoleState>, viewer: Viewer, Path(key): Path<String>, Query(p): Query<Done>) -> Response {
    match admitted(&viewer) {
        Ok((chrome, a)) => calendar_page(chrome, &state, a, &key, CalendarShown::plain(notice(a, p.done.as_deref()))),
        Err(r) => *r,
    }
}

pub async fn save_calendar(State(state): State<ConsoleState>, viewer: Viewer, Path(key): Path<String>, body: String) -> Response {
    let (chrome, a) = match admitted(&viewer) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let form = CalendarForm::posted(&body, Some(&key));
    let saved = state.services.replace_calendar(&key, form.spec()).await;
    outcome(
        saved,
        chrome,
        |_| format!("/admin/calendars/{}?done=saved", segment(&key)),
        |chrome, errors| calendar_page(chrome, &state, a, &key, CalendarShown { notice: None, error: None, form: Some(form), errors }),
    )
}

pub async fn delete_calendar(State(state): State<ConsoleState>, viewer: Viewer, Path(key): Path<String>) -> Response {
    let (chrome, a) = match admitted(&viewer) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    match state.services.delete_calendar(&key).await {
        Ok(()) => Redirect::to("/admin/calendars?done=deleted").into_response(),
        // In use by a policy: said on the calendar's page, which lists those policies.
        Err(ServiceError::Conflict { field: None, message }) => calendar_page(
            chrome,
            &state,
            a,
            &key,
            CalendarShown {
                notice: None,
                error: Some(crate::refusal::free_text(viewer.locale.lang, &message)),
                form: None,
                errors: Refusals::default(),
            },
        ),
        Err(e) => problem(chrome, &e),
    }
}

// ---- processes ----

pub struct StageRow {
    pub key: String,
    pub name: String,
    pub office: &'static str,
    pub owner: String,
    pub target: String,
    pub moves: String,
    pub review: bool,
    pub certification: String,
    pub terminal: bool,
    pub resolves: bool,
}

pub struct ProcessView {
    pub key: String,
    pub name: String,
    pub version: u32,
    pub description: String,
    pub source: String,
    pub stages: Vec<StageRow>,
}

#[derive(Template)]
#[template(path = "admin_processes.html")]
struct ProcessesPage {
    chrome: Chrome,
    a: &'static SlaTexts,
    processes: Vec<ProcessView>,
}

pub async fn processes(State(state): State<ConsoleState>, viewer: Viewer) -> Response {
    let (chrome, a) = match admitted(&viewer) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let processes = state
        .services
        .processes
        .iter()
        .map(|p| ProcessView {
            key: p.key.clone(),
            name: p.name.clone(),
            version: p.version,
            description: p.description.clone().unwrap_or_default(),
            source: p.source.clone(),
            stages: p
                .stages
                .iter()
                .map(|s| StageRow {
                    key: s.key.clone(),
                    name: s.name.clone(),
                    office: chrome.t.office_label(s.office),
                    owner: chrome.t.role_named(&s.responsible_role),
                    target: match (s.target, s.calendar.as_deref()) {
                        (None, _) => a.no_target.to_owned(),
                        (Some(t), None) => t.to_string(),
                        (Some(t), Some(Calendar::ALWAYS_UTC_KEY)) => format!("{t} · {}", a.around_the_clock),
                        (Some(t), Some(key)) => {
                            let catalog = state.services.sla_catalog();
                            format!("{t} · {}", catalog.calendars.get(key).map_or_else(|| key.to_owned(), |c| chrome.t.calendar_label(c)))
                        }
                    },
                    moves: match p.allowed_targets(&s.key) {
                        next if next.is_empty() => a.no_moves.to_owned(),
                        next => next.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", "),
                    },
                    review: s.requires_review,
                    certification: s.required_certification.clone().unwrap_or_default(),
                    terminal: s.terminal,
                    resolves: s.terminal && s.resolves,
                })
                .collect(),
        })
        .collect();
    render(StatusCode::OK, &ProcessesPage { chrome, a, processes })
}
