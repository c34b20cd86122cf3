//! `/`: the console's front page for a signed-in person.

use crate::page::{render, Chrome, Section};
use crate::session::Viewer;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
}

pub async fn show(viewer: Viewer) -> Response {
    render(StatusCode::OK, &HomePage { chrome: Chrome::signed_in(&viewer, Section::Home) })
}
