//! `/improvements` and `/improvements/{id}`: the improvement actions the monthly review meeting
//! sets, filtered by status, owner and review month, with a form to create one; one action with
//! its edit form (carrying the version it was rendered from) and its history. Reading needs
//! `ReadTickets`, changing `ManageImprovements` — the services check both, as for the API. A
//! refused form comes back as typed with each message beside its field (422); a stale edit
//! shows the action as it is now (409).

pub(crate) mod texts;

use crate::admin::Choice;
use crate::admin_sla::{optional, Posted, Refusals, TextInput};
use crate::i18n::Lang;
use crate::page::{problem, render, Chrome, Section};
use crate::session::{percent_encode, Viewer};
use crate::staff::SelectInput;
use crate::ConsoleState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::HashMap;
use steward_domain::auth::Permission;
use steward_domain::ids::{ImprovementId, StaffId};
use steward_domain::improvement::{
    kpi_keys, kpi_meta, FieldChange, Improvement, ImprovementInput, ImprovementPatch, ImprovementQuery, ImprovementStatus,
};
use steward_domain::kpi::Month;
use steward_domain::staff::{Staff, StaffQuery};
use steward_domain::FieldError;
use steward_services::ServiceError;
pub use texts::ImprovementTexts;

/// Actions shown per page.
const PAGE: u32 = 50;

/// The layout and texts for a viewer who may read actions, or the refusal page.
fn admitted(viewer: &Viewer) -> Result<(Chrome, &'static ImprovementTexts), Box<Response>> {
    let chrome = Chrome::signed_in(viewer, Section::Supervision);
    match viewer.principal.require(Permission::ReadTickets) {
        Ok(()) => Ok((chrome, texts::texts(viewer.locale.lang))),
        Err(e) => Err(Box::new(problem(chrome, &ServiceError::from(e)))),
    }
}

fn invalid(e: FieldError) -> ServiceError {
    ServiceError::Invalid(e.into())
}

/// Staff by id (up to 200 people: the owners' names and the owner choices).
async fn staff_of(state: &ConsoleState) -> Result<Vec<Staff>, ServiceError> {
    Ok(state.services.list_staff(StaffQuery { limit: 200, ..StaffQuery::default() }).await?.0)
}

fn status_choices(it: &ImprovementTexts, chosen: &str, any: bool) -> Vec<Choice> {
    let mut out = Vec::new();
    if any {
        out.push(Choice { value: String::new(), label: it.any.to_owned(), selected: chosen.is_empty() });
    }
    out.extend(ImprovementStatus::ALL.iter().map(|s| Choice {
        value: s.as_str().to_owned(),
        label: it.status(*s).to_owned(),
        selected: s.as_str() == chosen,
    }));
    out
}

/// Active staff, and the chosen one even when no longer active.
fn owner_choices(it: &ImprovementTexts, staff: &[Staff], chosen: &str, any: bool) -> Vec<Choice> {
    let mut out = vec![Choice { value: String::new(), label: if any { it.any } else { it.none }.to_owned(), selected: chosen.is_empty() }];
    out.extend(staff.iter().filter(|s| s.active || s.id.to_string() == chosen).map(|s| Choice {
        value: s.id.to_string(),
        label: s.name.clone(),
        selected: s.id.to_string() == chosen,
    }));
    out
}

fn kpi_label(lang: Lang, key: &str) -> String {
    lang.texts()
        .kpi_name(key)
        .map(str::to_owned)
        .or_else(|| kpi_meta(key).map(|(name, ..)| name.to_owned()))
        .unwrap_or_else(|| key.to_owned())
}

fn kpi_choices(it: &ImprovementTexts, lang: Lang, chosen: &str) -> Vec<Choice> {
    let mut out = vec![Choice { value: String::new(), label: it.none.to_owned(), selected: chosen.is_empty() }];
    out.extend(kpi_keys().into_iter().map(|k| Choice { value: k.to_owned(), label: kpi_label(lang, k), selected: k == chosen }));
    out
}

/// What an action targets, in words: its KPI and its stage.
fn target_of(lang: Lang, a: &Improvement) -> String {
    let kpi = a.kpi.as_deref().map(|k| kpi_label(lang, k));
    let stage = a.stage.as_ref().map(ToString::to_string);
    [kpi, stage].into_iter().flatten().collect::<Vec<_>>().join(" · ")
}

// ---- the form ----

/// The action form as typed.
#[derive(Default)]
struct Form {
    title: String,
    description: String,
    owner: String,
    due: String,
    status: String,
    kpi: String,
    stage: String,
    month: String,
}

impl Form {
    fn of(a: &Improvement) -> Form {
        Form {
            title: a.title.clone(),
            description: a.description.clone().unwrap_or_default(),
            owner: a.owner.to_string(),
            due: a.due.to_string(),
            status: a.status.as_str().to_owned(),
            kpi: a.kpi.clone().unwrap_or_default(),
            stage: a.stage.as_ref().map(ToString::to_string).unwrap_or_default(),
            month: a.month.to_string(),
        }
    }

    /// A new action: open, from last month's review (the meeting reviews the month gone by).
    fn blank(now: steward_domain::time::Timestamp) -> Form {
        let this = jiff::Timestamp::from_millisecond(now.as_millis()).map_or_else(|_| String::new(), |t| t.strftime("%Y-%m").to_string());
        let month = Month::parse("month", &this).map(|m| m.previous().to_string()).unwrap_or_default();
        Form { status: ImprovementStatus::Open.as_str().to_owned(), month, ..Form::default() }
    }

    fn posted(body: &str) -> (Form, String) {
        let f = Posted::parse(body);
        let form = Form {
            title: f.one("title"),
            description: f.one("description"),
            owner: f.one("owner"),
            due: f.one("due"),
            status: f.one("status"),
            kpi: f.one("kpi"),
            stage: f.one("stage"),
            month: f.one("month"),
        };
        (form, f.one("version"))
    }

    fn status(&self) -> Result<ImprovementStatus, Refusals> {
        ImprovementStatus::parse("status", self.status.trim()).map_err(|e| {
            let mut errors = Refusals::default();
            errors.push(e);
            errors
        })
    }

    fn input(&self) -> Result<ImprovementInput, Refusals> {
        Ok(ImprovementInput {
            title: self.title.clone(),
            description: optional(&self.description),
            owner: self.owner.clone(),
            due: self.due.clone(),
            status: Some(self.status()?),
            kpi: optional(&self.kpi),
            stage: optional(&self.stage),
            month: self.month.clone(),
        })
    }

    fn patch(&self) -> Result<ImprovementPatch, Refusals> {
        Ok(ImprovementPatch {
            title: Some(self.title.clone()),
            description: Some(optional(&self.description)),
            owner: Some(self.owner.clone()),
            due: Some(self.due.clone()),
            status: Some(self.status()?),
            kpi: Some(optional(&self.kpi)),
            stage: Some(optional(&self.stage)),
            month: Some(self.month.clone()),
        })
    }
}

pub struct FormView {
    pub summary: Vec<(String, String)>,
    pub title: TextInput,
    pub description: String,
    pub description_error: Option<String>,
    pub owner: SelectInput,
    pub inputs: Vec<TextInput>,
    pub kpi: SelectInput,
    pub status: SelectInput,
}

fn form_view(it: &'static ImprovementTexts, lang: Lang, staff: &[Staff], form: Form, errors: &Refusals) -> FormView {
    let e = |field: &str| errors.about(field, lang);
    FormView {
        summary: errors.all(lang),
        title: TextInput::new("title", it.action, form.title, e("title")),
        description: form.description,
        description_error: e("description"),
        owner: SelectInput { name: "owner", label: it.owner, choices: owner_choices(it, staff, &form.owner, false), error: e("owner") },
        inputs: vec![
            TextInput::new("due", it.due, form.due, e("due")).hinted(it.due_hint),
            TextInput::new("stage", it.stage, form.stage, e("stage")).hinted(it.stage_hint),
            TextInput::new("month", it.month, form.month, e("month")).hinted(it.month_hint),
        ],
        kpi: SelectInput { name: "kpi", label: it.kpi, choices: kpi_choices(it, lang, &form.kpi), error: e("kpi") },
        status: SelectInput { name: "status", label: it.status, choices: status_choices(it, &form.status, false), error: e("status") },
    }
}

/// The status of a refused form: 409 for a stale version, 422 otherwise.
fn refused_status(error: &ServiceError) -> StatusCode {
    match error {
        ServiceError::StaleVersion { .. } | ServiceError::Conflict { .. } => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

// ---- the list ----

#[derive(Deserialize, Default)]
pub struct Filter {
    status: Option<String>,
    owner: Option<String>,
    month: Option<String>,
    /// The last action of the previous page (keyset).
    after: Option<String>,
    done: Option<String>,
}

pub struct Row {
    pub href: String,
    pub title: String,
    pub owner: String,
    pub due: String,
    pub status: &'static str,
    pub status_key: &'static str,
    pub overdue: bool,
    pub target: String,
    pub month: String,
}

#[derive(Template)]
#[template(path = "improvements.html")]
struct ListPage {
    chrome: Chrome,
    it: &'static ImprovementTexts,
    notice: Option<&'static str>,
    statuses: Vec<Choice>,
    owners: Vec<Choice>,
    month: String,
    rows: Vec<Row>,
    next_href: Option<String>,
    create: Option<FormView>,
    no_owner: bool,
}

fn blank_to_none(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

fn query_of(f: &Filter) -> Result<ImprovementQuery, ServiceError> {
    Ok(ImprovementQuery {
        status: blank_to_none(&f.status).map(|s| ImprovementStatus::parse("status", s)).transpose().map_err(invalid)?,
        owner: blank_to_none(&f.owner).map(|o| StaffId::parse("owner", o)).transpose().map_err(invalid)?,
        month: blank_to_none(&f.month).map(|m| Month::parse("month", m)).transpose().map_err(invalid)?,
        overdue_at: None,
        after: blank_to_none(&f.after).map(|a| ImprovementId::parse("after", a)).transpose().map_err(invalid)?,
        limit: PAGE,
    })
}

async fn list_page(state: &ConsoleState, viewer: &Viewer, f: Filter, refused: Option<(Form, Refusals, StatusCode)>) -> Response {
    let (chrome, it) = match admitted(viewer) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let services = &state.services;
    let loaded = async {
        let query = query_of(&f)?;
        let (actions, next) = services.list_improvements(&viewer.principal, query).await?;
        Ok::<_, ServiceError>((actions, next, staff_of(state).await?))
    }
    .await;
    let (actions, next, staff) = match loaded {
        Ok(v) => v,
        Err(e) => return problem(chrome, &e),
    };
    let lang = viewer.locale.lang;
    let names: HashMap<StaffId, &str> = staff.iter().map(|s| (s.id, s.name.as_str())).collect();
    let now = services.now();
    let rows = actions
        .iter()
        .map(|a| Row {
            href: format!("/improvements/{}", a.id),
            title: a.title.clone(),
            owner: names.get(&a.owner).map_or_else(|| a.owner.to_string(), |n| (*n).to_owned()),
            due: a.due.to_string(),
            status: it.status(a.status),
            status_key: a.status.as_str(),
            overdue: a.overdue_at(now),
            target: target_of(lang, a),
            month: a.month.to_string(),
        })
        .collect();
    let (status, owner, month) =
        (f.status.clone().unwrap_or_default(), f.owner.clone().unwrap_or_default(), f.month.clone().unwrap_or_default());
    let next_href = next.map(|after| {
        format!(
            "/improvements?status={}&owner={}&month={}&after={after}",
            percent_encode(&status),
            percent_encode(&owner),
            percent_encode(&month)
        )
    });
    let may_manage = viewer.principal.allows(Permission::ManageImprovements);
    let has_owner = staff.iter().any(|s| s.active);
    let (code, create) = match refused {
        Some((form, errors, code)) => (code, Some(form_view(it, lang, &staff, form, &errors))),
        None => (StatusCode::OK, (may_manage && has_owner).then(|| form_view(it, lang, &staff, Form::blank(now), &Refusals::default()))),
    };
    let notice = (f.done.as_deref() == Some("created")).then_some(it.created);
    let page = ListPage {
        statuses: status_choices(it, &status, true),
        owners: owner_choices(it, &staff, &owner, true),
        month,
        rows,
        next_href,
        create,
        no_owner: may_manage && !has_owner,
        notice,
        it,
        chrome,
    };
    render(code, &page)
}

pub async fn list(State(state): State<ConsoleState>, viewer: Viewer, Query(f): Query<Filter>) -> Response {
    list_page(&state, &viewer, f, None).await
}

pub async fn create(State(state): State<ConsoleState>, viewer: Viewer, body: String) -> Response {
    if let Err(e) = viewer.principal.require(Permission::ManageImprovements) {
        return problem(Chrome::signed_in(&viewer, Section::Supervision), &ServiceError::from(e));
    }
    let (form, _) = Form::posted(&body);
    let input = match form.input() {
        Ok(input) => input,
        Err(errors) => return list_page(&state, &viewer, Filter::default(), Some((form, errors, StatusCode::UNPROCESSABLE_ENTITY))).await,
    };
    match state.services.create_improvement(&viewer.principal, input).await {
        Ok(a) => Redirect::to(&format!("/improvements/{}?done=created", a.id)).into_response(),
        Err(e) => match Refusals::of(&e) {
            Some(errors) => list_page(&state, &viewer, Filter::default(), Some((form, errors, refused_status(&e)))).await,
            None => problem(Chrome::signed_in(&viewer, Section::Supervision), &e),
        },
    }
}

// ---- one action ----

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

pub struct HistoryRow {
    pub when: String,
    pub who: String,
    pub changes: Vec<String>,
}

#[derive(Template)]
#[template(path = "improvement.html")]
struct ActionPage {
    chrome: Chrome,
    it: &'static ImprovementTexts,
    name: String,
    href: String,
    version: i64,
    notice: Option<&'static str>,
    facts: Vec<(&'static str, String)>,
    edit: Option<FormView>,
    history: Vec<HistoryRow>,
}

/// One change in words: the field's label and its values (statuses and owners named).
fn change_text(it: &ImprovementTexts, lang: Lang, names: &HashMap<StaffId, &str>, c: &FieldChange) -> String {
    let label = match c.field.as_str() {
        "title" => it.action,
        "description" => it.description,
        "owner" => it.owner,
        "due" => it.due,
        "status" => it.status,
        "kpi" => it.kpi,
        "stage" => it.stage,
        _ => it.month,
    };
    let word = |v: &Option<String>| match v.as_deref() {
        None => "–".to_owned(),
        Some(v) => match c.field.as_str() {
            "status" => ImprovementStatus::parse("status", v).map_or_else(|_| v.to_owned(), |s| it.status(s).to_owned()),
            "owner" => StaffId::parse("owner", v).ok().and_then(|id| names.get(&id)).map_or_else(|| v.to_owned(), |n| (*n).to_owned()),
            "kpi" => kpi_label(lang, v),
            _ => v.to_owned(),
        },
    };
    match &c.from {
        None => format!("{label}: {}", word(&c.to)),
        Some(_) => format!("{label}: {} → {}", word(&c.from), word(&c.to)),
    }
}

async fn action_page(
    state: &ConsoleState,
    viewer: &Viewer,
    id: &str,
    notice: Option<&'static str>,
    refused: Option<(Form, Refusals, StatusCode)>,
) -> Response {
    let (chrome, it) = match admitted(viewer) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Ok(id) = ImprovementId::parse("id", id) else {
        return problem(chrome, &ServiceError::NotFound { what: "improvement action" });
    };
    let services = &state.services;
    let loaded = async {
        let action = services.get_improvement(&viewer.principal, id).await?;
        let history = services.improvement_history(&viewer.principal, id).await?;
        Ok::<_, ServiceError>((action, history, staff_of(state).await?))
    }
    .await;
    let (action, history, staff) = match loaded {
        Ok(v) => v,
        Err(e) => return problem(chrome, &e),
    };
    let lang = viewer.locale.lang;
    let locale = &viewer.locale;
    let names: HashMap<StaffId, &str> = staff.iter().map(|s| (s.id, s.name.as_str())).collect();
    let owner = names.get(&action.owner).map_or_else(|| action.owner.to_string(), |n| (*n).to_owned());
    let overdue = action.overdue_at(services.now());
    let status = if overdue { format!("{} · {}", it.status(action.status), it.overdue) } else { it.status(action.status).to_owned() };
    let facts = vec![
        (it.description, action.description.clone().unwrap_or_default()),
        (it.owner, owner),
        (it.due, action.due.to_string()),
        (it.status, status),
        (it.target, target_of(lang, &action)),
        (it.month, action.month.to_string()),
    ];
    let history = history
        .iter()
        .rev()
        .map(|e| HistoryRow {
            when: locale.time(e.at),
            who: e.actor.name.clone(),
            changes: e.changes.iter().map(|c| change_text(it, lang, &names, c)).collect(),
        })
        .collect();
    let may_manage = viewer.principal.allows(Permission::ManageImprovements);
    let (code, edit) = match refused {
        Some((form, errors, code)) => (code, Some(form_view(it, lang, &staff, form, &errors))),
        None => (StatusCode::OK, may_manage.then(|| form_view(it, lang, &staff, Form::of(&action), &Refusals::default()))),
    };
    let page = ActionPage {
        it,
        name: action.title.clone(),
        href: format!("/improvements/{}", action.id),
        version: action.version,
        notice,
        facts,
        edit,
        history,
        chrome,
    };
    render(code, &page)
}

pub async fn show(State(state): State<ConsoleState>, viewer: Viewer, Path(id): Path<String>, Query(d): Query<Done>) -> Response {
    let it = texts::texts(viewer.locale.lang);
    let notice = match d.done.as_deref() {
        Some("created") => Some(it.created),
        Some("saved") => Some(it.saved),
        _ => None,
    };
    action_page(&state, &viewer, &id, notice, None).await
}

pub async fn save(State(state): State<ConsoleState>, viewer: Viewer, Path(id): Path<String>, body: String) -> Response {
    let chrome = || Chrome::signed_in(&viewer, Section::Supervision);
    if let Err(e) = viewer.principal.require(Permission::ManageImprovements) {
        return problem(chrome(), &ServiceError::from(e));
    }
    let Ok(action_id) = ImprovementId::parse("id", &id) else {
        return problem(chrome(), &ServiceError::NotFound { what: "improvement action" });
    };
    let (form, version) = Form::posted(&body);
    let patch = match form.patch() {
        Ok(patch) => patch,
        Err(errors) => return action_page(&state, &viewer, &id, None, Some((form, errors, StatusCode::UNPROCESSABLE_ENTITY))).await,
    };
    // The version the form was rendered from: never applied to a later one.
    let expected = version.trim().parse::<i64>().ok();
    if expected.is_none() {
        return problem(chrome(), &invalid(FieldError::new("version", "the form lost the version it was rendered from")));
    }
    match state.services.update_improvement(&viewer.principal, action_id, expected, patch).await {
        Ok(_) => Redirect::to(&format!("/improvements/{id}?done=saved")).into_response(),
        Err(ServiceError::StaleVersion { .. }) => {
            let it = texts::texts(viewer.locale.lang);
            let page = action_page(&state, &viewer, &id, Some(it.stale), None).await;
            let (mut parts, body) = page.into_parts();
            if parts.status == StatusCode::OK {
                parts.status = StatusCode::CONFLICT;
            }
            Response::from_parts(parts, body)
        }
        Err(e) => match Refusals::of(&e) {
            Some(errors) => action_page(&state, &viewer, &id, None, Some((form, errors, refused_status(&e)))).await,
            None => problem(chrome(), &e),
        },
    }
}
