//! Rendering: the layout's shared parts and the one function that turns a template into a
//! response. Templates are askama's: checked at compile time, HTML-escaped by default.

use crate::assets;
use crate::i18n::{Locale, Texts};
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// What the layout (`templates/base.html`) needs on every page.
pub struct Chrome {
    pub lang: &'static str,
    pub t: &'static Texts,
    pub css: String,
    pub htmx: String,
    pub js: String,
}

impl Chrome {
    pub fn new(locale: &Locale) -> Chrome {
        Chrome {
            lang: locale.lang.tag(),
            t: locale.lang.texts(),
            css: assets::url("console.css"),
            htmx: assets::url("vendor/htmx-2.0.11.min.js"),
            js: assets::url("console.js"),
        }
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
