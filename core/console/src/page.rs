//! Rendering: the layout's shared parts and the one function that turns a template into a
//! response. Templates are askama's: checked at compile time, HTML-escaped by default.

use crate::assets;
use crate::i18n::{Lang, Locale, Texts};
use crate::session::Viewer;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use steward_domain::auth::Permission;
use steward_services::ServiceError;

/// What the layout (`templates/base.html`) needs on every page.
pub struct Chrome {
    /// The page's language as `<html lang>` says it.
    pub lang: &'static str,
    pub language: Lang,
    pub t: &'static Texts,
    pub css: String,
    pub htmx: String,
    pub htmx_sse: String,
    pub js: String,
    /// The signed-in person's navigation; None on public pages (sign-in, survey).
    pub nav: Option<Nav>,
}

pub struct Nav {
    pub name: String,
    pub items: Vec<NavItem>,
}

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    /// `aria-current="page"` on the section being shown.
    pub current: bool,
}

/// The console's sections, in menu order: where each lives and who may open it. A section
/// appears in the menu only for people whose role has its permission.
pub enum Section {
    Queues,
    Supervision,
    Partners,
    Staff,
    Training,
    Admin,
    Preferences,
}

impl Section {
    const ALL: [Section; 7] =
        [Section::Queues, Section::Supervision, Section::Partners, Section::Staff, Section::Training, Section::Admin, Section::Preferences];

    fn href(&self) -> &'static str {
        match self {
            Section::Queues => "/queues",
            Section::Supervision => "/supervision",
            Section::Preferences => "/preferences",
            Section::Partners => "/partners",
            Section::Staff => "/staff",
            Section::Training => "/training",
            Section::Admin => "/admin",
        }
    }

    fn label(&self, t: &'static Texts) -> &'static str {
        match self {
            Section::Queues => t.nav_queues,
            Section::Supervision => t.screens.nav_supervision,
            Section::Preferences => t.nav_preferences,
            Section::Partners => t.screens.nav_partners,
            Section::Staff => t.screens.nav_staff,
            Section::Training => t.screens.nav_training,
            Section::Admin => t.screens.nav_admin,
        }
    }

    fn permission(&self) -> Option<Permission> {
        match self {
            Section::Queues => None::<Permission>,
            Section::Supervision => Some(Permission::ManageStaff),
            Section::Preferences => None::<Permission>,
            Section::Partners => Some(Permission::ManagePartners),
            Section::Staff | Section::Training => Some(Permission::ReadStaff),
            Section::Admin => Some(Permission::ManageLogins),
        }
    }
}

impl Chrome {
    /// The layout of a public page: no menu.
    pub fn new(locale: &Locale) -> Chrome {
        Chrome {
            lang: locale.lang.tag(),
            language: locale.lang,
            t: locale.lang.texts(),
            css: assets::url("console.css"),
            htmx: assets::url("vendor/htmx-2.0.11.min.js"),
            htmx_sse: assets::url("vendor/htmx-ext-sse-2.2.4.min.js"),
            js: assets::url("console.js"),
            nav: None,
        }
    }

    /// The layout of a signed-in page, with `current` marked in the menu.
    pub fn signed_in(viewer: &Viewer, current: Section) -> Chrome {
        let mut chrome = Chrome::new(&viewer.locale);
        let t = chrome.t;
        let items = Section::ALL
            .iter()
            .filter(|s| s.permission().is_none_or(|p| viewer.principal.require(p).is_ok()))
            .map(|s| NavItem { href: s.href(), label: s.label(t), current: s.href() == current.href() })
            .collect();
        chrome.nav = Some(Nav { name: viewer.principal.name.clone(), items });
        chrome
    }
}

pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a console page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, Html("<!doctype html><title>Error</title><p>The page could not be shown.</p>"))
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "problem.html")]
struct ProblemPage {
    chrome: Chrome,
    heading: &'static str,
    message: String,
}

/// A page saying why a request could not be served: the status and a sentence a person can
/// act on. Internal causes are logged, never shown.
pub fn problem(chrome: Chrome, error: &ServiceError) -> Response {
    let t = chrome.t;
    let (status, heading, message) = match error {
        ServiceError::NotFound { .. } => (StatusCode::NOT_FOUND, t.problem_not_found_title, t.problem_not_found.to_owned()),
        ServiceError::Forbidden(_) => (StatusCode::FORBIDDEN, t.problem_forbidden_title, t.problem_forbidden.to_owned()),
        ServiceError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, t.problem_title, t.problem_unavailable.to_owned()),
        ServiceError::Internal { .. } | ServiceError::Duplicate { .. } => {
            tracing::error!(error = %error, "a console page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, t.problem_title, t.problem_unavailable.to_owned())
        }
        other => (StatusCode::UNPROCESSABLE_ENTITY, t.problem_title, crate::refusal::message(chrome.language, other, None)),
    };
    render(status, &ProblemPage { chrome, heading, message })
}

/// The page for a failure before anyone is known (the session could not be read).
pub fn unavailable(locale: &Locale, error: &ServiceError) -> Response {
    problem(Chrome::new(locale), error)
}
