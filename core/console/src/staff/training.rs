//! `/training`: the courses (created, changed and deleted by those who may manage training; a
//! course with training records is refused with the reason), the certifications expiring
//! within N days (default `training.expiring_within_days`), and every gate override, newest
//! first with keyset paging, each linking to its ticket and to the people.

use super::{admitted, may, override_rows, refused_status, Done, SelectInput, StaffTexts, OVERRIDES_PAGE};
use crate::admin::Choice;
use crate::admin_sla::{segment, Posted, Refusals, TextInput};
use crate::i18n::Lang;
use crate::page::{problem, render, Chrome, Section};
use crate::session::Viewer;
use crate::ConsoleState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::HashMap;
use steward_domain::auth::Permission;
use steward_domain::duration::TargetDuration;
use steward_domain::time::Timestamp;
use steward_domain::training::{AssessmentMethod, Course, CoursePatch};
use steward_domain::FieldError;
use steward_services::ServiceError;

/// The furthest look ahead of the expiring list, as the API's `within_days`.
const MAX_WITHIN_DAYS: u64 = 3650;

/// The course form as typed.
#[derive(Default)]
struct CourseForm {
    code: String,
    title: String,
    description: String,
    certifies: bool,
    validity: String,
    pass_score: String,
    method: String,
}

/// What a course form becomes once its inputs have the right shape.
struct CourseSpec {
    validity: Option<TargetDuration>,
    pass_score: i64,
    method: AssessmentMethod,
}

impl CourseForm {
    fn blank() -> CourseForm {
        CourseForm { certifies: true, pass_score: "70".into(), method: AssessmentMethod::Exam.as_str().into(), ..CourseForm::default() }
    }

    fn of(c: &Course) -> CourseForm {
        CourseForm {
            code: c.code.clone(),
            title: c.title.clone(),
            description: c.description.clone(),
            certifies: c.certifies,
            validity: c.validity.map(|v| v.to_string()).unwrap_or_default(),
            pass_score: c.pass_score.to_string(),
            method: c.method.as_str().to_owned(),
        }
    }

    fn posted(body: &str, code: Option<&str>) -> CourseForm {
        let f = Posted::parse(body);
        CourseForm {
            code: code.map_or_else(|| f.one("code").trim().to_owned(), str::to_owned),
            title: f.one("title"),
            description: f.one("description"),
            certifies: !f.one("certifies").is_empty(),
            validity: f.one("validity"),
            pass_score: f.one("pass_score"),
            method: f.one("method"),
        }
    }

    fn spec(&self) -> Result<CourseSpec, Refusals> {
        let mut refusals = Refusals::default();
        let validity = match self.validity.trim() {
            "" => Some(None),
            v => TargetDuration::parse("validity", v).map(Some).map_err(|e| refusals.push(e)).ok(),
        };
        let pass_score = self
            .pass_score
            .trim()
            .parse::<i64>()
            .map_err(|_| refusals.push(FieldError::new("pass_score", format!("`{}` is not a whole number", self.pass_score.trim()))))
            .ok();
        let method = AssessmentMethod::parse("method", self.method.trim()).map_err(|e| refusals.push(e)).ok();
        match (validity, pass_score, method) {
            (Some(validity), Some(pass_score), Some(method)) => Ok(CourseSpec { validity, pass_score, method }),
            _ => Err(refusals),
        }
    }
}

pub struct CourseFormView {
    pub action: String,
    pub creating: bool,
    pub summary: Vec<(String, String)>,
    pub inputs: Vec<TextInput>,
    pub description: String,
    pub description_error: Option<String>,
    pub certifies: bool,
    pub method: SelectInput,
}

fn course_form_view((st, lang): (&'static StaffTexts, Lang), form: CourseForm, creating: bool, errors: &Refusals) -> CourseFormView {
    let e = |field: &str| errors.about(field, lang);
    let mut inputs = Vec::new();
    if creating {
        inputs.push(TextInput::new("code", st.code, form.code.clone(), e("code")).hinted(st.code_hint));
    }
    inputs.push(TextInput::new("title", st.title, form.title, e("title")));
    inputs.push(TextInput::new("validity", st.validity, form.validity, e("validity")).hinted(st.validity_hint));
    inputs.push(TextInput::new("pass_score", st.pass_score, form.pass_score, e("pass_score")).numeric());
    CourseFormView {
        action: if creating { "/training/courses".to_owned() } else { format!("/training/courses/{}", segment(&form.code)) },
        creating,
        summary: errors.all(lang),
        inputs,
        description: form.description,
        description_error: e("description"),
        certifies: form.certifies,
        method: SelectInput {
            name: "method",
            label: st.method,
            choices: AssessmentMethod::ALL
                .iter()
                .map(|m| Choice {
                    value: m.as_str().to_owned(),
                    label: lang.texts().method_label(*m).to_owned(),
                    selected: m.as_str() == form.method,
                })
                .collect(),
            error: e("method"),
        },
    }
}

pub struct CourseRow {
    pub href: String,
    pub code: String,
    pub title: String,
    pub certifies: &'static str,
    pub validity: String,
    pub pass_score: u8,
    pub method: &'static str,
}

fn course_row(c: &Course, (st, lang): (&StaffTexts, Lang)) -> CourseRow {
    CourseRow {
        href: format!("/training/courses/{}", segment(&c.code)),
        code: c.code.clone(),
        title: c.title.clone(),
        certifies: super::yes_no(st, c.certifies),
        validity: if c.certifies { c.validity.map_or_else(|| st.for_good.to_owned(), |v| v.to_string()) } else { "–".to_owned() },
        pass_score: c.pass_score,
        method: lang.texts().method_label(c.method),
    }
}

pub struct ExpiringRow {
    pub person_href: String,
    pub person: String,
    pub course: String,
    pub state: &'static str,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "training.html")]
struct TrainingPage {
    chrome: Chrome,
    st: &'static StaffTexts,
    notice: Option<&'static str>,
    courses: Vec<CourseRow>,
    form: Option<CourseFormView>,
    within_days: String,
    expiring_about: String,
    expiring_empty: String,
    expiring: Vec<ExpiringRow>,
    overrides: Vec<super::OverrideRow>,
    older_href: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct TrainingParams {
    within_days: Option<String>,
    /// The last override of the previous page (keyset).
    before: Option<String>,
    done: Option<String>,
}

fn notice(st: &'static StaffTexts, done: Option<&str>) -> Option<&'static str> {
    match done {
        Some("created") => Some(st.created),
        Some("saved") => Some(st.course_saved),
        Some("deleted") => Some(st.deleted),
        _ => None,
    }
}

fn invalid(field: &str, message: String) -> ServiceError {
    ServiceError::Invalid(FieldError::new(field, message).into())
}

async fn training_page(
    state: &ConsoleState,
    viewer: &Viewer,
    chrome: Chrome,
    st: &'static StaffTexts,
    params: &TrainingParams,
    form: Option<(CourseForm, Refusals)>,
    status: StatusCode,
) -> Response {
    let services = &state.services;
    let loaded = async {
        let days = match params.within_days.as_deref().map(str::trim) {
            None | Some("") => services.expiring_within_days(),
            Some(d) => match d.parse::<u64>() {
                Ok(days) if days <= MAX_WITHIN_DAYS => days,
                _ => return Err(invalid("within_days", format!("`{d}` is not a number of days from 0 to {MAX_WITHIN_DAYS}"))),
            },
        };
        let before = match params.before.as_deref() {
            None | Some("") => None,
            Some(b) => Some(b.parse::<i64>().map_err(|_| invalid("before", format!("`{b}` is not an override of this list")))?),
        };
        let courses = services.list_courses().await?;
        let expiring = services.expiring_certifications(days).await?;
        let (overrides, older) = services.gate_overrides(None, before, OVERRIDES_PAGE).await?;
        let mut names = HashMap::new();
        for id in expiring.iter().map(|c| c.staff_id).chain(overrides.iter().map(|o| o.staff_id)) {
            if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(id) {
                slot.insert(services.get_staff(id).await?.name);
            }
        }
        Ok::<_, ServiceError>((days, courses, expiring, overrides, older, names))
    }
    .await;
    let (days, courses, expiring, overrides, older, names) = match loaded {
        Ok(v) => v,
        Err(e) => return problem(chrome, &e),
    };
    let locale = &viewer.locale;
    let title = |code: &str| courses.iter().find(|c| c.code == code).map_or_else(|| code.to_owned(), |c| format!("{} ({code})", c.title));
    let expiring = expiring
        .iter()
        .map(|c| ExpiringRow {
            person_href: format!("/staff/{}", c.staff_id),
            person: names.get(&c.staff_id).cloned().unwrap_or_default(),
            course: title(&c.course_code),
            state: st.state(c.state),
            expires: c.expires_at.map_or_else(String::new, |t| locale.time(t)),
        })
        .collect();
    let form = viewer.principal.require(Permission::ManageTraining).is_ok().then(|| {
        let (form, errors) = form.unwrap_or_else(|| (CourseForm::blank(), Refusals::default()));
        course_form_view((st, viewer.locale.lang), form, true, &errors)
    });
    let page = TrainingPage {
        st,
        notice: notice(st, params.done.as_deref()),
        courses: courses.iter().map(|c| course_row(c, (st, viewer.locale.lang))).collect(),
        form,
        within_days: days.to_string(),
        expiring_about: st.expiring_about.replace("{days}", &days.to_string()),
        expiring_empty: st.expiring_empty.replace("{days}", &days.to_string()),
        expiring,
        overrides: override_rows(overrides, st, locale, &names),
        older_href: older.map(|id| format!("/training?within_days={days}&before={id}#overrides")),
        chrome,
    };
    render(status, &page)
}

pub async fn courses(State(state): State<ConsoleState>, viewer: Viewer, Query(p): Query<TrainingParams>) -> Response {
    match admitted(&viewer, Section::Training) {
        Ok((chrome, st)) => training_page(&state, &viewer, chrome, st, &p, None, StatusCode::OK).await,
        Err(r) => *r,
    }
}

pub async fn create_course(State(state): State<ConsoleState>, viewer: Viewer, body: String) -> Response {
    let (chrome, st) = match may(&viewer, Section::Training, Permission::ManageTraining) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let form = CourseForm::posted(&body, None);
    let params = TrainingParams::default();
    let created = match form.spec() {
        Err(errors) => {
            return training_page(&state, &viewer, chrome, st, &params, Some((form, errors)), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Ok(spec) => {
            let description = Some(form.description.clone());
            match Course::create(
                &form.code,
                &form.title,
                description,
                form.certifies,
                spec.validity,
                spec.pass_score,
                spec.method,
                Timestamp::now(),
            ) {
                Ok(course) => state.services.create_course(course).await,
                Err(e) => Err(ServiceError::Invalid(e)),
            }
        }
    };
    match created {
        Ok(c) => Redirect::to(&format!("/training/courses/{}?done=created", segment(&c.code))).into_response(),
        Err(e) => match Refusals::of(&e) {
            Some(errors) => training_page(&state, &viewer, chrome, st, &params, Some((form, errors)), refused_status(&e)).await,
            None => problem(chrome, &e),
        },
    }
}

#[derive(Template)]
#[template(path = "training_course.html")]
struct CoursePage {
    chrome: Chrome,
    st: &'static StaffTexts,
    notice: Option<&'static str>,
    /// Why the course could not be deleted.
    error: Option<String>,
    course: CourseRow,
    description: String,
    form: Option<CourseFormView>,
}

async fn course_page(
    state: &ConsoleState,
    viewer: &Viewer,
    chrome: Chrome,
    st: &'static StaffTexts,
    code: &str,
    shown: (Option<&'static str>, Option<String>, Option<(CourseForm, Refusals)>),
    status: StatusCode,
) -> Response {
    let (notice, error, form) = shown;
    let course = match state.services.get_course(code).await {
        Ok(c) => c,
        Err(e) => return problem(chrome, &e),
    };
    let form = viewer.principal.require(Permission::ManageTraining).is_ok().then(|| {
        let (form, errors) = form.unwrap_or_else(|| (CourseForm::of(&course), Refusals::default()));
        course_form_view((st, viewer.locale.lang), form, false, &errors)
    });
    let page = CoursePage {
        st,
        notice,
        error,
        course: course_row(&course, (st, viewer.locale.lang)),
        description: course.description.clone(),
        form,
        chrome,
    };
    render(status, &page)
}

pub async fn course(State(state): State<ConsoleState>, viewer: Viewer, Path(code): Path<String>, Query(d): Query<Done>) -> Response {
    match admitted(&viewer, Section::Training) {
        Ok((chrome, st)) => {
            let notice = notice(st, d.done.as_deref());
            course_page(&state, &viewer, chrome, st, &code, (notice, None, None), StatusCode::OK).await
        }
        Err(r) => *r,
    }
}

pub async fn save_course(State(state): State<ConsoleState>, viewer: Viewer, Path(code): Path<String>, body: String) -> Response {
    let (chrome, st) = match may(&viewer, Section::Training, Permission::ManageTraining) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let form = CourseForm::posted(&body, Some(&code));
    let saved = match form.spec() {
        Err(errors) => {
            let shown = (None, None, Some((form, errors)));
            return course_page(&state, &viewer, chrome, st, &code, shown, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        Ok(spec) => {
            let patch = CoursePatch {
                title: Some(form.title.clone()),
                description: Some(form.description.clone()),
                certifies: Some(form.certifies),
                validity: Some(spec.validity),
                pass_score: Some(spec.pass_score),
                method: Some(spec.method),
            };
            state.services.update_course(&code, patch).await
        }
    };
    match saved {
        Ok(_) => Redirect::to(&format!("/training/courses/{}?done=saved", segment(&code))).into_response(),
        Err(e) => match Refusals::of(&e) {
            Some(errors) => course_page(&state, &viewer, chrome, st, &code, (None, None, Some((form, errors))), refused_status(&e)).await,
            None => problem(chrome, &e),
        },
    }
}

pub async fn delete_course(State(state): State<ConsoleState>, viewer: Viewer, Path(code): Path<String>) -> Response {
    let (chrome, st) = match may(&viewer, Section::Training, Permission::ManageTraining) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    match state.services.delete_course(&code).await {
        Ok(()) => Redirect::to("/training?done=deleted").into_response(),
        // In use by training records: said on the course's page.
        Err(ServiceError::Conflict { field: None, .. }) => {
            let shown = (None, Some(st.course_in_use.to_owned()), None);
            course_page(&state, &viewer, chrome, st, &code, shown, StatusCode::CONFLICT).await
        }
        Err(e) => problem(chrome, &e),
    }
}
