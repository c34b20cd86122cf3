//! `/`: the console's front page.

use crate::i18n::Locale;
use crate::page::{render, Chrome};
use askama::Template;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
}

pub async fn show(headers: HeaderMap) -> Response {
    let locale = Locale::from_headers(&headers);
    render(StatusCode::OK, &HomePage { chrome: Chrome::new(&locale) })
}
