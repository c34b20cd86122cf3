//! /api/v1/processes: the service processes this node knows.

use super::extract::Principal;
use super::problem::{ApiError, Problem};
use super::AppState;
use axum::extract::{Path, State};
use serde::Serialize;
use std::collections::BTreeMap;
use steward_domain::auth::Permission;
use steward_domain::process::{Office, Process};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_processes)).routes(routes!(get_process))
}

#[derive(Serialize, ToSchema)]
pub struct StageView {
    key: String,
    name: String,
    office: Office,
    /// Target time in this stage, e.g. `4h`.
    target: Option<String>,
    /// The calendar the target counts on (`always`: wall-clock time); null: the matching SLA
    /// policy's calendar.
    calendar: Option<String>,
    /// The role responsible for the work in this stage.
    role: String,
    required_certification: Option<String>,
    terminal: bool,
    /// Terminal stages: whether arriving here resolves the ticket.
    resolves: bool,
    /// Stages a ticket here may move to.
    next: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ProcessView {
    key: String,
    name: String,
    version: u32,
    description: Option<String>,
    stages: Vec<StageView>,
    /// Explicit transitions; empty means: the next stage and any terminal stage.
    transitions: BTreeMap<String, Vec<String>>,
    /// Where the definition was loaded from.
    source: String,
}

impl From<&Process> for ProcessView {
    fn from(p: &Process) -> Self {
        ProcessView {
            key: p.key.clone(),
            name: p.name.clone(),
            version: p.version,
            description: p.description.clone(),
            stages: p
                .stages
                .iter()
                .map(|s| StageView {
                    key: s.key.clone(),
                    name: s.name.clone(),
                    office: s.office,
                    target: s.target.map(|t| t.to_string()),
                    calendar: s.calendar.clone(),
                    role: s.responsible_role.clone(),
                    required_certification: s.required_certification.clone(),
                    terminal: s.terminal,
                    resolves: s.terminal && s.resolves,
                    next: p.allowed_targets(&s.key).iter().map(|t| t.key.clone()).collect(),
                })
                .collect(),
            transitions: p.transitions.clone(),
            source: p.source.clone(),
        }
    }
}

/// All service processes.
#[utoipa::path(
    get, path = "/api/v1/processes", tag = "processes",
    responses((status = 200, description = "Every process", body = Vec<ProcessView>),
              (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []))
)]
async fn list_processes(State(state): State<AppState>, principal: Principal) -> Result<axum::Json<Vec<ProcessView>>, ApiError> {
    principal.require(Permission::ReadTickets)?;
    Ok(axum::Json(state.services.processes.iter().map(|p| ProcessView::from(p.as_ref())).collect()))
}

/// One service process with its stages and allowed moves.
#[utoipa::path(
    get, path = "/api/v1/processes/{key}", tag = "processes", params(("key" = String, Path)),
    responses((status = 200, description = "The process", body = ProcessView),
              (status = 404, description = "No such process", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []))
)]
async fn get_process(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> Result<axum::Json<ProcessView>, ApiError> {
    principal.require(Permission::ReadTickets)?;
    let process = state.services.processes.get(&key).ok_or_else(|| ApiError::not_found(format!("no process `{key}`")))?;
    Ok(axum::Json(ProcessView::from(process.as_ref())))
}
