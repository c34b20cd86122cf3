//! The web console: server-rendered HTML on top of the same services the API calls, mounted at
//! `/` on the API's port (switched by `console.enabled`).
//!
//! - `assets`: the embedded scripts and styles, under content-hashed names.
//! - `security`: the headers on every response and the CSRF rule for state-changing requests.
//! - `i18n`: every text in English and Simplified Chinese, and times in the user's timezone.
//! - `page`: the one place that renders a template into a response.
//! - one module per screen (`home`, `survey`); later screens (queues, ticket, supervision,
//!   partners, administration) slot in as further modules with their templates.

pub mod assets;
mod home;
pub mod i18n;
mod page;
pub mod security;
mod survey;

use axum::middleware;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use steward_services::Services;

#[derive(Clone)]
pub struct ConsoleState {
    pub services: Arc<Services>,
}

/// The console's routes with their state, headers and CSRF check. The caller merges it into the
/// application beside `/api`.
pub fn router(services: Arc<Services>) -> Router {
    Router::new()
        .route("/", get(home::show))
        .route("/assets/{name}", get(assets::serve))
        .route("/survey/{token}", get(survey::show).post(survey::answer))
        .with_state(ConsoleState { services })
        .layer(middleware::from_fn(security::csrf))
        .layer(middleware::from_fn(security::headers))
}
