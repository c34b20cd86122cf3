//! The HTTP edge: the one place that knows axum, status codes and the wire format. Handlers
//! turn requests into service calls and domain values into views; errors become problem+json.

mod access_log;
mod attachments;
mod extract;
mod feedback;
mod improvements;
mod kpis;
mod logins;
mod mail;
mod mail_inbound;
mod openapi;
mod partners;
mod plugins;
mod problem;
mod processes;
pub mod report;
mod schema_rules;
mod sla;
mod staff;
mod system;
mod tickets;
mod tokens;
mod training;
mod webhooks;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::{Deserialize, Deserializer, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use steward_services::config::Config;
use steward_services::metrics::Metrics;
use steward_services::Services;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

pub use problem::{ApiError, Problem};

#[derive(Clone)]
pub struct AppState {
    pub services: Arc<Services>,
    pub metrics: Arc<Metrics>,
    pub config: Arc<Config>,
    openapi: Arc<String>,
}

/// One page of a listing. `next_cursor` is absent on the last page.
#[derive(Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Distinguishes an absent field (None) from an explicit null (Some(None)) in a patch.
fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The matched route template, passed from the inner route layer to the outer metrics layer.
#[derive(Clone)]
struct RouteTemplate(Arc<str>);

/// Builds the whole HTTP application.
pub fn router(services: Arc<Services>, metrics: Arc<Metrics>, config: Arc<Config>) -> Router {
    let (api, spec) = OpenApiRouter::with_openapi(openapi::base())
        .merge(tickets::routes())
        .merge(attachments::routes(&services.attachment_limits()))
        .merge(feedback::routes())
        .merge(processes::routes())
        .merge(plugins::routes())
        .merge(sla::routes())
        .merge(staff::routes())
        .merge(partners::routes())
        .merge(training::routes())
        .merge(tokens::routes())
        .merge(logins::routes())
        .merge(webhooks::routes())
        .merge(mail::routes())
        .merge(mail_inbound::routes(config.mail.inbound.max_message_bytes))
        .merge(kpis::routes())
        .merge(improvements::routes())
        .merge(system::routes())
        .split_for_parts();
    let stages: std::collections::BTreeSet<String> =
        services.processes.iter().flat_map(|p| p.stages.iter().map(|s| s.key.clone())).collect();
    let facts = openapi::Facts {
        tiers: config.tickets.tiers.clone(),
        processes: services.processes.iter().map(|p| p.key.clone()).collect(),
        stages: stages.into_iter().collect(),
        scorecards: std::iter::once(steward_services::BUILTIN_SCORECARD.to_owned())
            .chain(services.plugin_host().map(|h| h.scorecards()).unwrap_or_default().into_iter().map(|(_, s)| s.name))
            .collect(),
        timezones: jiff::tz::db().available().map(|name| name.to_string()).collect(),
    };
    let spec = openapi::complete(spec, &facts);
    let state = AppState { services, metrics: metrics.clone(), config: config.clone(), openapi: Arc::new(spec) };

    let request_span = |request: &Request| {
        let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
        tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
    };
    let mut app = api
        .route_layer(middleware::from_fn(extract::refuse_control_characters))
        .route_layer(middleware::from_fn(remember_route))
        .fallback(problem::route_not_found)
        .with_state(state.clone());
    if config.console.enabled {
        let exports = steward_console::supervision::ReviewExports(report::render_export);
        app = app.merge(
            steward_console::router(state.services.clone(), config.public_url.as_deref())
                .layer(axum::Extension(exports))
                .layer(axum::Extension(steward_console::admin::WebhookSettings(Arc::new(config.webhooks.clone())))),
        );
    }
    app.layer(DefaultBodyLimit::max(config.http.max_body_bytes))
        .layer(middleware::from_fn(refuse_long_targets))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn(problem::ensure_problem))
        .layer(middleware::from_fn_with_state(metrics, record_metrics))
        .layer(middleware::from_fn_with_state(config.log.access_log, access_log::record))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// A request target over the accept loop's limit: 414. The accept loop answers the first
/// request of a connection itself; this covers the later ones on a kept-alive connection.
async fn refuse_long_targets(request: Request, next: Next) -> Response {
    let length = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if length > crate::serve::MAX_URI_BYTES {
        return problem::ApiError::new(
            axum::http::StatusCode::URI_TOO_LONG,
            "uri-too-long",
            "URI too long",
            format!("the request target exceeds {} bytes", crate::serve::MAX_URI_BYTES),
        )
        .into_response();
    }
    next.run(request).await
}

async fn remember_route(matched: MatchedPath, request: Request, next: Next) -> Response {
    let template = RouteTemplate(Arc::from(matched.as_str()));
    let mut response = next.run(request).await;
    response.extensions_mut().insert(template);
    response
}

async fn record_metrics(axum::extract::State(metrics): axum::extract::State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let response = next.run(request).await;
    let route = response.extensions().get::<RouteTemplate>().map(|r| r.0.clone());
    metrics.observe_http(
        method.as_str(),
        route.as_deref().unwrap_or("unmatched"),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// How long graceful shutdown waits for in-flight requests.
pub fn shutdown_grace(config: &Config) -> Duration {
    Duration::from_secs(config.http.shutdown_grace_secs)
}
