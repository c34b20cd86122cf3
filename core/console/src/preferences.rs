//! `/preferences`: a person's language (English, Simplified Chinese, or the browser's) and
//! timezone (an IANA name, checked against the timezone database), stored on their login and
//! used on every page they see.

use crate::page::{problem, render, Chrome, Section};
use crate::session::Viewer;
use crate::ConsoleState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use steward_domain::login::{Language, Preferences};

pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "preferences.html")]
struct PreferencesPage {
    chrome: Chrome,
    languages: Vec<Choice>,
    timezone: String,
    saved: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

#[derive(Deserialize)]
pub struct PreferencesForm {
    #[serde(default)]
    language: String,
    #[serde(default)]
    timezone: String,
}

fn languages(chrome: &Chrome, chosen: &str) -> Vec<Choice> {
    [("browser", chrome.t.pref_language_browser), ("en", "English"), ("zh", "简体中文")]
        .into_iter()
        .map(|(value, label)| Choice { value, label, selected: value == chosen })
        .collect()
}

fn chosen(language: Option<Language>) -> &'static str {
    language.map_or("browser", Language::as_str)
}

pub async fn show(viewer: Viewer, Query(q): Query<Saved>) -> Response {
    let chrome = Chrome::signed_in(&viewer, Section::Preferences);
    let prefs = &viewer.login.preferences;
    let page = PreferencesPage {
        languages: languages(&chrome, chosen(prefs.language)),
        timezone: prefs.timezone.clone().unwrap_or_default(),
        saved: q.saved.is_some(),
        error: None,
        chrome,
    };
    render(StatusCode::OK, &page)
}

pub async fn save(State(state): State<ConsoleState>, viewer: Viewer, Form(form): Form<PreferencesForm>) -> Response {
    match Preferences::parse(&form.language, &form.timezone) {
        Ok(prefs) => match state.services.set_preferences(&viewer.principal, &prefs).await {
            Ok(()) => Redirect::to("/preferences?saved=1").into_response(),
            Err(e) => problem(Chrome::signed_in(&viewer, Section::Preferences), &e),
        },
        Err(e) => {
            let chrome = Chrome::signed_in(&viewer, Section::Preferences);
            let page = PreferencesPage {
                languages: languages(&chrome, form.language.trim()),
                timezone: form.timezone,
                saved: false,
                error: Some(crate::refusal::field_error(viewer.locale.lang, &e)),
                chrome,
            };
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}
