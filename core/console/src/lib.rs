//! The web console: server-rendered HTML on top of the same services the API calls, mounted at
//! `/` on the API's port (switched by `console.enabled`).
//!
//! - `assets`: the embedded scripts and styles, under content-hashed names.
//! - `security`: the headers on every response and the CSRF rule for state-changing requests.
//! - `i18n`: every text in English and Simplified Chinese, and times in the user's timezone.
//! - `page`: the one place that renders a template into a response.
//! - `session`: the session cookie and the `Viewer` extractor of every signed-in page.
//! - one module per screen (`queues`, `sign_in`, `survey`, `ticket`, `supervision`, `partners`,
//!   `staff` with `/training`, `improvements`, `admin`, `admin_sla`, `mail`), each with its
//!   templates.
//! - `texts`: every screen's texts by language, for the browser tests that read a page in a
//!   language and look for its words where the console keeps them.

pub mod admin;
mod admin_sla;
pub mod assets;
mod charts;
pub mod files;
pub mod i18n;
mod improvements;
pub mod live;
mod mail;
mod page;
mod partners;
mod preferences;
mod queues;
mod refusal;
mod screen_texts;
pub mod security;
pub mod session;
mod sign_in;
mod staff;
pub mod supervision;
mod survey;
mod ticket;

/// Every screen's texts by language: the layout's and the read-mostly screens' (`Texts`, with
/// `screens`), the ticket page's, the SLA administration's and the mail screens'.
pub mod texts {
    pub use crate::admin_sla::texts::{texts as sla, SlaTexts};
    pub use crate::i18n::{Lang, Texts};
    pub use crate::improvements::texts::{texts as improvements, ImprovementTexts};
    pub use crate::mail::texts::{texts as mail, MailTexts};
    pub use crate::refusal::{free_text, texts as refusals, RefusalTexts};
    pub use crate::ticket::texts::{texts as ticket, TicketTexts};
}

use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use steward_services::Services;
use tower_http::compression::CompressionLayer;

#[derive(Clone)]
pub struct ConsoleState {
    pub services: Arc<Services>,
    pub cookies: session::CookiePolicy,
}

/// The console's routes with their state, headers and CSRF check. The caller merges it into the
/// application beside `/api`. `public_url` is the server's configured public URL: HTTPS there
/// makes the session cookie `__Host-` and Secure for every host.
pub fn router(services: Arc<Services>, public_url: Option<&str>) -> Router {
    let cookies = session::CookiePolicy { public_https: public_url.is_some_and(|u| u.starts_with("https://")) };
    Router::new()
        .route("/", get(queues::home))
        .route("/queues", get(queues::show))
        .route("/queues/bulk", post(queues::bulk))
        .route("/queues/views", post(queues::save_view))
        .route("/queues/views/{id}/delete", post(queues::delete_view))
        .route("/preferences", get(preferences::show).post(preferences::save))
        .route("/sign-in", get(sign_in::show).post(sign_in::submit))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/set-password/{secret}", get(sign_in::show_set_password).post(sign_in::set_password))
        .route("/assets/{name}", get(assets::serve))
        .route("/survey/{token}", get(survey::show).post(survey::answer))
        .route("/tickets/{number}", get(ticket::show))
        .route("/tickets/{number}/timeline", get(ticket::timeline))
        .route("/tickets/{number}/{action}", post(ticket::act))
        .route(
            "/tickets/{number}/attachments",
            post(ticket::upload).layer(axum::extract::DefaultBodyLimit::max(files::body_limit(&services.attachment_limits()))),
        )
        .route("/tickets/{number}/attachments/{id}", get(ticket::download))
        .route("/tickets/{number}/attachments/{id}/delete", post(ticket::delete_attachment))
        .route("/live", get(live::stream))
        .route("/live/tickets/{ticket}", get(live::ticket_page))
        .route("/supervision", get(supervision::show))
        .route("/supervision/review", get(supervision::review))
        .route("/supervision/review/export", get(supervision::export))
        .route("/improvements", get(improvements::list).post(improvements::create))
        .route("/improvements/{id}", get(improvements::show).post(improvements::save))
        .route("/partners", get(partners::list))
        .route("/partners/{id}", get(partners::show))
        .route("/staff", get(staff::list))
        .route("/staff/{id}", get(staff::show).post(staff::save))
        .route("/staff/{id}/training", post(staff::record_training))
        .route("/training", get(staff::courses))
        .route("/training/courses", post(staff::create_course))
        .route("/training/courses/{code}", get(staff::course).post(staff::save_course))
        .route("/training/courses/{code}/delete", post(staff::delete_course))
        .route("/admin", get(admin::overview))
        .route("/admin/logins", get(admin::logins).post(admin::create_login))
        .route("/admin/logins/{id}/link", post(admin::issue_link))
        .route("/admin/logins/{id}/revoke-sessions", post(admin::revoke_sessions))
        .route("/admin/logins/{id}/disable", post(admin::disable_login))
        .route("/admin/tokens", get(admin::tokens).post(admin::create_token))
        .route("/admin/tokens/{id}/revoke", post(admin::revoke_token))
        .route("/admin/plugins", get(admin::plugins))
        .route("/admin/plugins/{name}/{action}", post(admin::plugin_action))
        .route("/admin/webhooks", get(admin::webhooks))
        .route("/admin/webhooks/{id}", get(admin::webhook))
        .route("/admin/webhooks/{id}/ping", post(admin::ping))
        .route("/admin/webhooks/{id}/deliveries/{delivery}/redeliver", post(admin::redeliver))
        .route("/admin/sla-policies", get(admin_sla::policies).post(admin_sla::create_policy))
        .route("/admin/sla-policies/{key}", get(admin_sla::policy).post(admin_sla::save_policy))
        .route("/admin/sla-policies/{key}/delete", post(admin_sla::delete_policy))
        .route("/admin/calendars", get(admin_sla::calendars).post(admin_sla::create_calendar))
        .route("/admin/calendars/{key}", get(admin_sla::calendar).post(admin_sla::save_calendar))
        .route("/admin/calendars/{key}/delete", post(admin_sla::delete_calendar))
        .route("/admin/processes", get(admin_sla::processes))
        .route("/admin/mail", get(mail::quarantine))
        .route("/admin/mail/messages/{id}", get(mail::message))
        .route("/admin/mail/messages/{id}/raw", get(mail::raw))
        .route("/admin/mail/messages/{id}/retry", post(mail::retry))
        .route("/admin/mail/messages/{id}/ticket", post(mail::make_ticket))
        .route("/admin/mail/outbox", get(mail::outbox))
        .route("/admin/mail/outbox/{id}/retry", post(mail::retry_mail))
        .with_state(ConsoleState { services, cookies })
        .layer(middleware::from_fn(security::csrf))
        .layer(middleware::from_fn(security::headers))
        // Pages are gzipped for clients that accept it (assets come gzipped already and live
        // streams are never buffered: the default predicate leaves SSE alone). A page shows a
        // secret (a new token, a set-password link) only in answer to a same-origin POST, which
        // the CSRF rule keeps other sites from making, so compression gives them no oracle.
        .layer(CompressionLayer::new())
}
