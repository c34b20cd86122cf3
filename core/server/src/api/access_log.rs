//! The access log (`log.access_log`): one line per answered request, target `steward::access`,
//! with the route template rather than the path, so ticket numbers and survey tokens in URLs
//! never reach the log.

use super::{RouteTemplate, REQUEST_ID};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

pub async fn record(State(enabled): State<bool>, request: Request, next: Next) -> Response {
    if !enabled {
        return next.run(request).await;
    }
    let started = Instant::now();
    let method = request.method().clone();
    let request_id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
    let response = next.run(request).await;
    let route = response.extensions().get::<RouteTemplate>().map(|r| r.0.clone());
    tracing::info!(
        target: "steward::access",
        method = %method,
        route = route.as_deref().unwrap_or("unmatched"),
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id = %request_id,
        "request answered"
    );
    response
}
