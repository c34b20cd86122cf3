//! /api/v1/plugins: what is loaded, how it fares, and the admin's levers.

use super::extract::Principal;
use super::problem::{ApiError, Problem};
use super::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use std::sync::Arc;
use steward_domain::auth::Permission;
use steward_plugin_host::{HostError, PluginHost, PluginStatus};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plugins))
        .routes(routes!(reload_plugin))
        .routes(routes!(enable_plugin))
        .routes(routes!(disable_plugin))
}

#[derive(Serialize, ToSchema)]
pub struct PluginView {
    name: String,
    version: Option<String>,
    /// wasm or rhai
    runtime: Option<String>,
    /// Hooks it implements: on-event, guard-transition, score-partner, compute-kpi.
    hooks: Vec<String>,
    /// Keys of the service processes it contributes.
    processes: Vec<String>,
    /// KPI names it contributes.
    kpis: Vec<String>,
    /// Scorecard names it contributes.
    scorecards: Vec<String>,
    /// enabled, disabled, auto_disabled, failed or not_built (a WASM plugin whose component is not built yet).
    state: String,
    /// Why it was disabled automatically, or why it failed to load.
    state_reason: Option<String>,
    calls: u64,
    failures: u64,
    fuel_consumed: u64,
    mean_duration_us: f64,
    last_error: Option<String>,
}

impl From<PluginStatus> for PluginView {
    fn from(s: PluginStatus) -> Self {
        let state = serde_json::to_value(&s.state).ok();
        let field = |name: &str| state.as_ref().and_then(|v| v.get(name)).and_then(|v| v.as_str()).map(str::to_owned);
        PluginView {
            state: field("state").unwrap_or_default(),
            state_reason: field("reason").or_else(|| field("error")),
            name: s.name,
            version: s.version,
            runtime: s.runtime.and_then(|r| serde_json::to_value(r).ok()).and_then(|v| v.as_str().map(str::to_owned)),
            hooks: s.hooks.iter().map(|h| h.as_str().to_owned()).collect(),
            processes: s.processes,
            kpis: s.kpis.into_iter().map(|k| k.name).collect(),
            scorecards: s.scorecards.into_iter().map(|c| c.name).collect(),
            calls: s.calls,
            failures: s.failures,
            fuel_consumed: s.fuel_consumed,
            mean_duration_us: s.mean_duration_us,
            last_error: s.last_error,
        }
    }
}

fn host(state: &AppState) -> Result<Arc<PluginHost>, ApiError> {
    state.services.plugin_host().cloned().ok_or_else(|| ApiError::not_found("plugins are not set up on this node (plugins.dirs is empty)"))
}

fn host_error(e: HostError) -> ApiError {
    match e {
        HostError::UnknownPlugin { .. } => ApiError::not_found(e.to_string()),
        other => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "plugin-error", "Plugin error", other.to_string()),
    }
}

/// Every plugin: version, runtime, hooks, contributions, state, calls, failures, fuel used,
/// mean duration, last error (admin).
#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins",
    responses((status = 200, description = "Plugins", body = Vec<PluginView>),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_plugins(State(state): State<AppState>, principal: Principal) -> Result<axum::Json<Vec<PluginView>>, ApiError> {
    principal.require(Permission::ManagePlugins)?;
    let plugins = state.services.plugin_host().map(|h| h.list()).unwrap_or_default();
    Ok(axum::Json(plugins.into_iter().map(PluginView::from).collect()))
}

/// Load the plugin again from its directory, or for the first time (a directory copied into a
/// plugins directory); calls under way finish on the old version, and a reload that fails keeps
/// it running (admin).
#[utoipa::path(post, path = "/api/v1/plugins/{name}/reload", tag = "plugins", params(("name" = String, Path)),
    responses((status = 200, description = "The reloaded plugin", body = PluginView),
              (status = 404, description = "No such plugin", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "It does not load (/problems/plugin-error); the old version keeps running", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn reload_plugin(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<axum::Json<PluginView>, ApiError> {
    principal.require(Permission::ManagePlugins)?;
    let host = host(&state)?;
    let status = tokio::task::spawn_blocking(move || host.reload(&name)).await.map_err(|_| ApiError::internal())?.map_err(host_error)?;
    Ok(axum::Json(status.into()))
}

/// Enable a disabled or auto-disabled plugin (admin).
#[utoipa::path(post, path = "/api/v1/plugins/{name}/enable", tag = "plugins", params(("name" = String, Path)),
    responses((status = 200, description = "The plugin", body = PluginView),
              (status = 404, description = "No such plugin", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn enable_plugin(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<axum::Json<PluginView>, ApiError> {
    principal.require(Permission::ManagePlugins)?;
    Ok(axum::Json(host(&state)?.enable(&name).map_err(host_error)?.into()))
}

/// Disable a plugin: its hooks stop running; its processes stay for the tickets in them (admin).
#[utoipa::path(post, path = "/api/v1/plugins/{name}/disable", tag = "plugins", params(("name" = String, Path)),
    responses((status = 200, description = "The plugin", body = PluginView),
              (status = 404, description = "No such plugin", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn disable_plugin(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<axum::Json<PluginView>, ApiError> {
    principal.require(Permission::ManagePlugins)?;
    Ok(axum::Json(host(&state)?.disable(&name).map_err(host_error)?.into()))
}
