//! `/staff` and `/staff/{id}`: the people who work tickets, with their certifications, training
//! records, certification events, open ticket load and the gate overrides that let them
//! through; `/training` (in `training.rs`): courses, the expiring list and every gate
//! override. Reading needs `ReadStaff`; changing a person `ManageStaff`; courses and training
//! records `ManageTraining` — the API's permissions, checked on the session's `Principal`
//! before the same services are called. A refused form comes back as typed with each message
//! beside its field (422; a taken email is 409).

pub(crate) mod texts;
mod training;

use crate::admin::Choice;
use crate::admin_sla::{optional, Posted, Refusals, TextInput};
use crate::i18n::{Lang, Locale, Texts};
use crate::page::{problem, render, Chrome, Section};
use crate::session::{percent_encode, Viewer};
use crate::ConsoleState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_domain::auth::{Permission, Role};
use steward_domain::ids::StaffId;
use steward_domain::staff::{Staff, StaffPatch, StaffQuery};
use steward_domain::time::Timestamp;
use steward_domain::training::{Certification, CertificationState, GateOverride};
use steward_domain::FieldError;
use steward_services::{NewTrainingRecord, ServiceError};
pub use texts::StaffTexts;
pub use training::{course, courses, create_course, delete_course, save_course};

/// People shown per page of `/staff`.
const STAFF_PAGE: u32 = 50;
/// Gate overrides shown on a person's page and per page of `/training`.
const OVERRIDES_PAGE: u32 = 20;

/// The layout and texts for a viewer who may read staff, or the refusal page.
fn admitted(viewer: &Viewer, section: Section) -> Result<(Chrome, &'static StaffTexts), Box<Response>> {
    let chrome = Chrome::signed_in(viewer, section);
    match viewer.principal.require(Permission::ReadStaff) {
        Ok(()) => Ok((chrome, texts::texts(viewer.locale.lang))),
        Err(e) => Err(Box::new(problem(chrome, &ServiceError::from(e)))),
    }
}

/// The status of a refused form: 409 for a conflict with what exists, 422 otherwise.
fn refused_status(error: &ServiceError) -> StatusCode {
    match error {
        ServiceError::Conflict { .. } => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn yes_no(t: &StaffTexts, value: bool) -> &'static str {
    if value {
        t.yes
    } else {
        t.no
    }
}

fn role_choices(words: &Texts, chosen: &str) -> Vec<Choice> {
    Role::ALL
        .iter()
        .filter(|r| !r.is_token_only())
        .map(|r| Choice { value: r.as_str().to_owned(), label: words.role_label(*r).to_owned(), selected: r.as_str() == chosen })
        .collect()
}

/// A select with its label and the message refusing it.
pub struct SelectInput {
    pub name: &'static str,
    pub label: &'static str,
    pub choices: Vec<Choice>,
    pub error: Option<String>,
}

// ---- the list ----

#[derive(Deserialize, Default)]
pub struct StaffFilter {
    role: Option<String>,
    team: Option<String>,
    active: Option<String>,
    /// The last person of the previous page (keyset).
    after: Option<String>,
}

/// A person's standing, counted by state.
pub struct Standing {
    pub current: usize,
    pub expiring: usize,
    pub expired: usize,
    pub missing: usize,
}

impl Standing {
    fn of(held: &[Certification]) -> Standing {
        let count = |state: CertificationState| held.iter().filter(|c| c.state == state).count();
        Standing {
            current: count(CertificationState::Valid),
            expiring: count(CertificationState::Expiring),
            expired: count(CertificationState::Expired),
            missing: count(CertificationState::Missing),
        }
    }
}

pub struct StaffRow {
    pub href: String,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub team: String,
    pub active: &'static str,
    pub standing: Standing,
}

#[derive(Template)]
#[template(path = "staff_list.html")]
struct StaffListPage {
    chrome: Chrome,
    st: &'static StaffTexts,
    roles: Vec<Choice>,
    team: String,
    actives: Vec<Choice>,
    people: Vec<StaffRow>,
    next_href: Option<String>,
}

fn invalid(e: FieldError) -> ServiceError {
    ServiceError::Invalid(e.into())
}

fn staff_query(f: &StaffFilter) -> Result<StaffQuery, ServiceError> {
    let role = match f.role.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(r) => Some(Role::parse("role", r).map_err(invalid)?),
    };
    let active = match f.active.as_deref() {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => return Err(invalid(FieldError::new("active", format!("`{other}` is neither true nor false")))),
    };
    let after = match f.after.as_deref() {
        None | Some("") => None,
        Some(a) => Some(StaffId::parse("after", a).map_err(invalid)?),
    };
    let team = f.team.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
    Ok(StaffQuery { role, team, active, after, limit: STAFF_PAGE })
}

pub async fn list(State(state): State<ConsoleState>, viewer: Viewer, Query(f): Query<StaffFilter>) -> Response {
    let (chrome, st) = match admitted(&viewer, Section::Staff) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let services = &state.services;
    let loaded = async {
        let query = staff_query(&f)?;
        let (people, next) = services.list_staff(query).await?;
        let standing = services.certification_standing(&people.iter().map(|p| p.id).collect::<Vec<_>>()).await?;
        Ok::<_, ServiceError>((people, next, standing))
    }
    .await;
    let (people, next, standing) = match loaded {
        Ok(v) => v,
        Err(e) => return problem(chrome, &e),
    };
    let role = f.role.clone().unwrap_or_default();
    let team = f.team.clone().unwrap_or_default();
    let active = f.active.clone().unwrap_or_default();
    let words = chrome.t;
    let mut roles = vec![Choice { value: String::new(), label: st.any.to_owned(), selected: role.is_empty() }];
    roles.extend(role_choices(words, &role));
    let actives = [("", st.any), ("true", st.yes), ("false", st.no)]
        .into_iter()
        .map(|(v, l)| Choice { value: v.to_owned(), label: l.to_owned(), selected: v == active })
        .collect();
    let next_href = next.map(|after| {
        format!("/staff?role={}&team={}&active={}&after={after}", percent_encode(&role), percent_encode(&team), percent_encode(&active))
    });
    let people = people
        .into_iter()
        .map(|p| StaffRow {
            href: format!("/staff/{}", p.id),
            standing: Standing::of(standing.get(&p.id).map_or(&[][..], Vec::as_slice)),
            name: p.name,
            email: p.email,
            role: words.role_label(p.role),
            team: p.team.unwrap_or_default(),
            active: yes_no(st, p.active),
        })
        .collect();
    render(StatusCode::OK, &StaffListPage { chrome, st, roles, team, actives, people, next_href })
}

// ---- one person ----

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// The person form as typed.
struct PersonForm {
    name: String,
    email: String,
    role: String,
    team: String,
    active: bool,
}

impl PersonForm {
    fn of(p: &Staff) -> PersonForm {
        PersonForm {
            name: p.name.clone(),
            email: p.email.clone(),
            role: p.role.as_str().to_owned(),
            team: p.team.clone().unwrap_or_default(),
            active: p.active,
        }
    }

    fn posted(body: &str) -> PersonForm {
        let f = Posted::parse(body);
        PersonForm {
            name: f.one("name"),
            email: f.one("email"),
            role: f.one("role"),
            team: f.one("team"),
            active: !f.one("active").is_empty(),
        }
    }
}

/// The training record form as typed.
#[derive(Default)]
struct RecordForm {
    course_code: String,
    completed_at: String,
    score: String,
    assessor: String,
    notes: String,
}

impl RecordForm {
    fn blank(viewer: &Viewer) -> RecordForm {
        let today = jiff::Timestamp::now().to_zoned(viewer.locale.tz.clone()).date().to_string();
        RecordForm { completed_at: today, assessor: viewer.principal.name.clone(), ..RecordForm::default() }
    }

    fn posted(body: &str) -> RecordForm {
        let f = Posted::parse(body);
        RecordForm {
            course_code: f.one("course_code"),
            completed_at: f.one("completed_at"),
            score: f.one("score"),
            assessor: f.one("assessor"),
            notes: f.one("notes"),
        }
    }

    /// The record the services check, or the fields that are not even of the right shape. The
    /// date is the start of that day in the viewer's timezone.
    fn input(&self, staff_id: StaffId, locale: &Locale) -> Result<NewTrainingRecord, Refusals> {
        let mut refusals = Refusals::default();
        let completed_at = match self.completed_at.trim().parse::<jiff::civil::Date>() {
            Ok(date) => date.to_zoned(locale.tz.clone()).ok().map(|z| Timestamp::from_millis(z.timestamp().as_millisecond())),
            Err(_) => None,
        };
        if completed_at.is_none() {
            refusals.push(FieldError::new("completed_at", format!("`{}` is not a date such as 2026-11-30", self.completed_at.trim())));
        }
        let score = self.score.trim().parse::<i64>();
        if score.is_err() {
            refusals.push(FieldError::new("score", format!("`{}` is not a whole number", self.score.trim())));
        }
        match (completed_at, score) {
            (Some(completed_at), Ok(score)) if refusals.is_empty() => Ok(NewTrainingRecord {
                course_code: self.course_code.trim().to_owned(),
                staff_id,
                completed_at,
                score,
                assessor: self.assessor.clone(),
                method: None,
                notes: optional(&self.notes),
                supersedes: None,
                correction_reason: None,
            }),
            _ => Err(refusals),
        }
    }
}

pub struct Fact {
    pub label: &'static str,
    pub value: String,
}

pub struct CertificationRow {
    pub course: String,
    pub state: &'static str,
    pub state_key: &'static str,
    pub expires: String,
}

pub struct RecordRow {
    pub course: String,
    pub completed: String,
    pub score: u8,
    pub passed: &'static str,
    pub expires: String,
    pub assessor: String,
    pub notes: String,
}

pub struct EventRow {
    pub when: String,
    pub event: &'static str,
    pub certification: String,
    pub expires: String,
}

/// One gate override as the tables show it.
pub struct OverrideRow {
    pub person_href: String,
    pub person: String,
    pub by: String,
    pub ticket: String,
    pub ticket_href: String,
    pub stage: String,
    pub certification: String,
    pub state: &'static str,
    pub reason: String,
    pub when: String,
}

/// Gate overrides as rows; `names` gives each person's name (an id stands in for a stranger).
fn override_rows(
    overrides: Vec<GateOverride>,
    st: &StaffTexts,
    locale: &Locale,
    names: &std::collections::HashMap<StaffId, String>,
) -> Vec<OverrideRow> {
    overrides
        .into_iter()
        .map(|o| OverrideRow {
            person_href: format!("/staff/{}", o.staff_id),
            person: names.get(&o.staff_id).cloned().unwrap_or_else(|| o.staff_id.to_string()),
            by: o.by,
            ticket: o.ticket_number.to_string(),
            ticket_href: format!("/tickets/{}", o.ticket_number),
            stage: o.stage,
            certification: o.certification,
            state: st.state_named(&o.state),
            reason: o.reason,
            when: locale.time(o.at),
        })
        .collect()
}

pub struct PersonFormView {
    pub summary: Vec<(String, String)>,
    pub inputs: Vec<TextInput>,
    pub role: SelectInput,
    pub active: bool,
}

pub struct RecordFormView {
    pub summary: Vec<(String, String)>,
    pub course: SelectInput,
    pub inputs: Vec<TextInput>,
    pub notes: String,
    pub notes_error: Option<String>,
}

#[derive(Template)]
#[template(path = "staff_person.html")]
struct PersonPage {
    chrome: Chrome,
    st: &'static StaffTexts,
    name: String,
    href: String,
    notice: Option<&'static str>,
    facts: Vec<Fact>,
    edit: Option<PersonFormView>,
    certifications: Vec<CertificationRow>,
    records: Vec<RecordRow>,
    record: Option<RecordFormView>,
    no_course: bool,
    events: Vec<EventRow>,
    overrides: Vec<OverrideRow>,
}

/// What a person's page shows besides what is read: a notice, or a refused form as typed.
#[derive(Default)]
struct Shown {
    notice: Option<&'static str>,
    person: Option<(PersonForm, Refusals)>,
    record: Option<(RecordForm, Refusals)>,
    status: Option<StatusCode>,
}

fn person_form_view((st, lang): (&'static StaffTexts, Lang), form: PersonForm, errors: &Refusals) -> PersonFormView {
    let e = |field: &str| errors.about(field, lang);
    PersonFormView {
        summary: errors.all(lang),
        inputs: vec![
            TextInput::new("name", st.name, form.name, e("name")),
            TextInput::new("email", st.email, form.email, e("email")),
            TextInput::new("team", st.team, form.team, e("team")).hinted(st.team_hint),
        ],
        role: SelectInput { name: "role", label: st.role, choices: role_choices(lang.texts(), &form.role), error: e("role") },
        active: form.active,
    }
}

fn record_form_view(
    (st, lang): (&'static StaffTexts, Lang),
    courses: &[steward_domain::training::Course],
    form: RecordForm,
    errors: &Refusals,
) -> RecordFormView {
    let e = |field: &str| errors.about(field, lang);
    RecordFormView {
        summary: errors.all(lang),
        course: SelectInput {
            name: "course_code",
            label: st.course,
            choices: courses
                .iter()
                .map(|c| Choice { value: c.code.clone(), label: format!("{} ({})", c.title, c.code), selected: c.code == form.course_code })
                .collect(),
            error: e("course_code"),
        },
        inputs: vec![
            TextInput::new("completed_at", st.completed_on, form.completed_at, e("completed_at")).hinted(st.completed_hint),
            TextInput::new("score", st.score, form.score, e("score")).hinted(st.score_hint).numeric(),
            TextInput::new("assessor", st.assessor, form.assessor, e("assessor")),
        ],
        notes: form.notes,
        notes_error: e("notes"),
    }
}

async fn person_page(state: &ConsoleState, viewer: &Viewer, chrome: Chrome, st: &'static StaffTexts, id: &str, shown: Shown) -> Response {
    let Ok(id) = StaffId::parse("id", id) else {
        return problem(chrome, &ServiceError::NotFound { what: "staff member" });
    };
    let services = &state.services;
    let loaded = async {
        let person = services.get_staff(id).await?;
        let held = services.staff_certifications(id).await?;
        let records = services.list_training_records(Some(id), None).await?;
        let courses = services.list_courses().await?;
        let events = services.staff_events(Some(id), None, 200).await?;
        let load = services.open_ticket_load().await?;
        let (overrides, _) = services.gate_overrides(Some(id), None, OVERRIDES_PAGE).await?;
        Ok::<_, ServiceError>((person, held, records, courses, events, load.get(&id).copied().unwrap_or(0), overrides))
    }
    .await;
    let (person, held, records, courses, events, open, overrides) = match loaded {
        Ok(v) => v,
        Err(e) => return problem(chrome, &e),
    };
    let locale = &viewer.locale;
    let title = |code: &str| courses.iter().find(|c| c.code == code).map_or_else(|| code.to_owned(), |c| format!("{} ({code})", c.title));
    let expiry = |at: Option<Timestamp>| at.map_or_else(|| st.never_expires.to_owned(), |t| locale.time(t));
    let facts = vec![
        Fact { label: st.email, value: person.email.clone() },
        Fact { label: st.role, value: viewer.locale.lang.texts().role_label(person.role).to_owned() },
        Fact { label: st.team, value: person.team.clone().unwrap_or_default() },
        Fact { label: st.active, value: yes_no(st, person.active).to_owned() },
        Fact { label: st.open_tickets, value: open.to_string() },
    ];
    let certifications = held
        .iter()
        .map(|c| CertificationRow {
            course: title(&c.course_code),
            state: st.state(c.state),
            state_key: c.state.as_str(),
            expires: if c.state == CertificationState::Missing { "–".to_owned() } else { expiry(c.expires_at) },
        })
        .collect();
    let mut records: Vec<RecordRow> = records
        .iter()
        .map(|r| RecordRow {
            course: title(&r.course_code),
            completed: locale.time(r.completed_at),
            score: r.score,
            passed: yes_no(st, r.passed),
            expires: if r.passed { expiry(r.expires_at) } else { "–".to_owned() },
            assessor: r.assessor.clone(),
            notes: r.notes.clone().unwrap_or_default(),
        })
        .collect();
    records.reverse();
    let events = events
        .iter()
        .map(|e| {
            let (event, at_key) = match e.kind.as_str() {
                "certification_expired" => (st.event_expired, "expired_at"),
                _ => (st.event_expiring, "expires_at"),
            };
            let expires = e.data[at_key].as_i64().map(|ms| locale.time(Timestamp::from_millis(ms))).unwrap_or_default();
            EventRow {
                when: locale.time(e.at),
                event,
                certification: e.data["certification"].as_str().map(&title).unwrap_or_default(),
                expires,
            }
        })
        .collect();
    let names = std::collections::HashMap::from([(person.id, person.name.clone())]);
    let edit = viewer.principal.require(Permission::ManageStaff).is_ok().then(|| {
        let (form, errors) = shown.person.unwrap_or_else(|| (PersonForm::of(&person), Refusals::default()));
        person_form_view((st, viewer.locale.lang), form, &errors)
    });
    let may_record = viewer.principal.require(Permission::ManageTraining).is_ok();
    let record = (may_record && !courses.is_empty()).then(|| {
        let (form, errors) = shown.record.unwrap_or_else(|| (RecordForm::blank(viewer), Refusals::default()));
        record_form_view((st, viewer.locale.lang), &courses, form, &errors)
    });
    let page = PersonPage {
        st,
        href: format!("/staff/{id}"),
        name: person.name.clone(),
        notice: shown.notice,
        facts,
        edit,
        certifications,
        records,
        record,
        no_course: may_record && courses.is_empty(),
        events,
        overrides: override_rows(overrides, st, locale, &names),
        chrome,
    };
    render(shown.status.unwrap_or(StatusCode::OK), &page)
}

pub async fn show(State(state): State<ConsoleState>, viewer: Viewer, Path(id): Path<String>, Query(d): Query<Done>) -> Response {
    let (chrome, st) = match admitted(&viewer, Section::Staff) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let notice = match d.done.as_deref() {
        Some("saved") => Some(st.saved),
        Some("recorded") => Some(st.recorded),
        _ => None,
    };
    person_page(&state, &viewer, chrome, st, &id, Shown { notice, ..Shown::default() }).await
}

/// The page's layout and texts for a viewer who holds `permission`, or the refusal page.
fn may(viewer: &Viewer, section: Section, permission: Permission) -> Result<(Chrome, &'static StaffTexts), Box<Response>> {
    let (chrome, st) = admitted(viewer, section)?;
    match viewer.principal.require(permission) {
        Ok(()) => Ok((chrome, st)),
        Err(e) => Err(Box::new(problem(chrome, &ServiceError::from(e)))),
    }
}

pub async fn save(State(state): State<ConsoleState>, viewer: Viewer, Path(id): Path<String>, body: String) -> Response {
    let (chrome, st) = match may(&viewer, Section::Staff, Permission::ManageStaff) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Ok(staff_id) = StaffId::parse("id", &id) else {
        return problem(chrome, &ServiceError::NotFound { what: "staff member" });
    };
    let form = PersonForm::posted(&body);
    let role = match Role::parse("role", form.role.trim()) {
        Ok(role) => role,
        Err(e) => {
            let mut errors = Refusals::default();
            errors.push(e);
            let shown = Shown { person: Some((form, errors)), status: Some(StatusCode::UNPROCESSABLE_ENTITY), ..Shown::default() };
            return person_page(&state, &viewer, chrome, st, &id, shown).await;
        }
    };
    let patch = StaffPatch {
        name: Some(form.name.clone()),
        email: Some(form.email.clone()),
        role: Some(role),
        team: Some(optional(&form.team)),
        active: Some(form.active),
    };
    match state.services.update_staff(staff_id, patch).await {
        Ok(_) => Redirect::to(&format!("/staff/{id}?done=saved")).into_response(),
        Err(e) => match Refusals::of(&e) {
            Some(errors) => {
                let shown = Shown { person: Some((form, errors)), status: Some(refused_status(&e)), ..Shown::default() };
                person_page(&state, &viewer, chrome, st, &id, shown).await
            }
            None => problem(chrome, &e),
        },
    }
}

pub async fn record_training(State(state): State<ConsoleState>, viewer: Viewer, Path(id): Path<String>, body: String) -> Response {
    let (chrome, st) = match may(&viewer, Section::Staff, Permission::ManageTraining) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Ok(staff_id) = StaffId::parse("id", &id) else {
        return problem(chrome, &ServiceError::NotFound { what: "staff member" });
    };
    let form = RecordForm::posted(&body);
    let refused = |form: RecordForm, errors: Refusals, status: StatusCode| Shown {
        record: Some((form, errors)),
        status: Some(status),
        ..Shown::default()
    };
    let input = match form.input(staff_id, &viewer.locale) {
        Ok(input) => input,
        Err(errors) => {
            return person_page(&state, &viewer, chrome, st, &id, refused(form, errors, StatusCode::UNPROCESSABLE_ENTITY)).await;
        }
    };
    match state.services.record_training(input).await {
        Ok(_) => Redirect::to(&format!("/staff/{id}?done=recorded")).into_response(),
        // A missing staff member is the page's own 404, not a field of the form.
        Err(ServiceError::Missing { field: "staff_id", .. }) => problem(chrome, &ServiceError::NotFound { what: "staff member" }),
        Err(e) => match Refusals::of(&e) {
            Some(errors) => {
                let status = refused_status(&e);
                person_page(&state, &viewer, chrome, st, &id, refused(form, errors, status)).await
            }
            None => problem(chrome, &e),
        },
    }
}
