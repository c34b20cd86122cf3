//! The OpenAPI document's frame; paths and schemas are collected from the handlers.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::{Modify, OpenApi as _};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Steward", description = "Self-hosted service operations: tickets, service processes, staff, partners, training, tokens and webhooks."),
    modifiers(&BearerAuth),
    tags(
        (name = "tickets", description = "Tickets and their timeline"),
        (name = "processes", description = "Service processes and stages"),
        (name = "plugins", description = "Sandboxed plugins (WASM and rhai)"),
        (name = "sla", description = "SLA policies, business calendars and ticket clocks"),
        (name = "surveys", description = "Customer satisfaction surveys (no token: the survey link is the key)"),
        (name = "staff", description = "Service staff"),
        (name = "partners", description = "Partners, their contracts (OLA), and tickets delegated to them"),
        (name = "training", description = "Courses, training records, certifications and the gates they open"),
        (name = "tokens", description = "API tokens (admin)"),
        (name = "logins", description = "People's logins to the console, their sessions, and the sign-in audit (admin)"),
        (name = "webhooks", description = "Ticket events POSTed to your URLs, signed; delivery logs (admin)"),
        (name = "kpis", description = "KPIs against their targets, and the monthly service review"),
        (name = "system", description = "Health, readiness, metrics, this document"),
    )
)]
struct Frame;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

pub fn base() -> OpenApi {
    let mut doc = Frame::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}
