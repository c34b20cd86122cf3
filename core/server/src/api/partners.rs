//! /api/v1/partners and /api/v1/tickets/{id}/delegation: partners, their contracts, and
//! tickets delegated to them.

use super::extract::{Json, Principal, Query};
use super::problem::{ApiError, Problem};
use super::tickets::{ticket_ref, ticket_response, TicketView};
use super::{double_option, AppState};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use steward_domain::auth::Permission;
use steward_domain::duration::TargetDuration;
use steward_domain::ids::PartnerId;
use steward_domain::partner::{Contract, Partner, PartnerInput, PartnerKind, PartnerPatch, PartnerStatus};
use steward_domain::scorecard::{PartnerStats, Scorecard};
use steward_domain::time::Timestamp;
use steward_domain::FieldError;
use steward_services::PartnerScorecard;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_partner, list_partners))
        .routes(routes!(get_partner, update_partner, delete_partner))
        .routes(routes!(delegate_ticket, withdraw_delegation))
        .routes(routes!(partner_stats))
        .routes(routes!(partner_scorecard))
        .routes(routes!(rank_partners))
}

/// A partner's contract and the service levels it committed to (its OLA).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractBody {
    #[schema(value_type = String, format = DateTime)]
    start: String,
    /// None: open-ended.
    #[schema(value_type = Option<String>, format = DateTime)]
    end: Option<String>,
    /// Committed first-response time, e.g. `4h`.
    first_response: String,
    /// Committed resolution time, e.g. `2d`.
    resolution: String,
    /// An SLA calendar key (`/api/v1/calendars`); none counts every hour.
    calendar: Option<String>,
}

fn parse_contract(body: ContractBody) -> Result<Contract, ApiError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let start = Timestamp::parse("contract.start", &body.start).map_err(|e| errors.push(e)).ok();
    let end = body.end.as_deref().map(|e| Timestamp::parse("contract.end", e).map_err(|e| errors.push(e)).ok());
    let first_response = TargetDuration::parse("contract.first_response", &body.first_response).map_err(|e| errors.push(e)).ok();
    let resolution = TargetDuration::parse("contract.resolution", &body.resolution).map_err(|e| errors.push(e)).ok();
    if !errors.is_empty() {
        return Err(ApiError::validation(StatusCode::UNPROCESSABLE_ENTITY, errors));
    }
    Ok(Contract {
        start: start.expect("parsed"),
        end: end.map(|e| e.expect("parsed")),
        first_response: first_response.expect("parsed"),
        resolution: resolution.expect("parsed"),
        calendar: body.calendar.filter(|c| !c.trim().is_empty()),
    })
}

#[derive(Serialize, ToSchema)]
pub struct ContractView {
    #[schema(value_type = String, format = DateTime)]
    start: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    end: Option<Timestamp>,
    first_response: String,
    resolution: String,
    calendar: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PartnerView {
    #[schema(value_type = String, format = Uuid)]
    id: PartnerId,
    name: String,
    kind: PartnerKind,
    contact: Option<String>,
    status: PartnerStatus,
    categories: Vec<String>,
    contract: Option<ContractView>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl From<Partner> for PartnerView {
    fn from(p: Partner) -> Self {
        PartnerView {
            id: p.id,
            name: p.name,
            kind: p.kind,
            contact: p.contact,
            status: p.status,
            categories: p.categories,
            contract: p.contract.map(|c| ContractView {
                start: c.start,
                end: c.end,
                first_response: c.first_response.to_string(),
                resolution: c.resolution.to_string(),
                calendar: c.calendar,
            }),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPartnerBody {
    name: String,
    kind: PartnerKind,
    contact: Option<String>,
    /// Default `active`.
    status: Option<PartnerStatus>,
    /// Service categories (tags).
    #[serde(default)]
    categories: Vec<String>,
    /// Without a contract in force a partner cannot receive work.
    contract: Option<ContractBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerPatchBody {
    name: Option<String>,
    kind: Option<PartnerKind>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    contact: Option<Option<String>>,
    status: Option<PartnerStatus>,
    categories: Option<Vec<String>>,
    /// Replaces the contract; null removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<ContractBody>)]
    contract: Option<Option<ContractBody>>,
}

fn partner_id(text: &str) -> Result<PartnerId, ApiError> {
    PartnerId::parse("id", text).map_err(|_| ApiError::not_found(format!("no partner `{text}`")))
}

/// Add a partner (admin, supervisor).
#[utoipa::path(
    post, path = "/api/v1/partners", tag = "partners", request_body = NewPartnerBody,
    responses(
        (status = 404, description = "A field names a calendar that does not exist (`not-found`; `errors` names the field)", body = Problem, content_type = "application/problem+json"),
        (status = 201, description = "The new partner", body = PartnerView, headers(("Location" = String))),
        (status = 403, description = "Role may not manage partners", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn create_partner(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewPartnerBody>,
) -> Result<Response, ApiError> {
    principal.require(Permission::ManagePartners)?;
    let input = PartnerInput {
        name: body.name,
        kind: body.kind,
        contact: body.contact,
        status: body.status.unwrap_or(PartnerStatus::Active),
        categories: body.categories,
        contract: body.contract.map(parse_contract).transpose()?,
    };
    let partner = state.services.create_partner(input).await?;
    let location = format!("/api/v1/partners/{}", partner.id);
    let mut response = (StatusCode::CREATED, axum::Json(PartnerView::from(partner))).into_response();
    response.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).expect("ascii"));
    Ok(response)
}

/// List partners (admin, supervisor).
#[utoipa::path(
    get, path = "/api/v1/partners", tag = "partners",
    responses(
        (status = 200, description = "All partners", body = Vec<PartnerView>),
        (status = 403, description = "Role may not manage partners", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_partners(State(state): State<AppState>, principal: Principal) -> Result<axum::Json<Vec<PartnerView>>, ApiError> {
    principal.require(Permission::ManagePartners)?;
    Ok(axum::Json(state.services.list_partners().await?.into_iter().map(PartnerView::from).collect()))
}

/// Read a partner (admin, supervisor).
#[utoipa::path(
    get, path = "/api/v1/partners/{id}", tag = "partners", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The partner", body = PartnerView),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn get_partner(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<PartnerView>, ApiError> {
    principal.require(Permission::ManagePartners)?;
    Ok(axum::Json(state.services.get_partner(partner_id(&id)?).await?.into()))
}

/// Edit a partner (admin, supervisor): suspend it, change its categories or its contract.
#[utoipa::path(
    patch, path = "/api/v1/partners/{id}", tag = "partners", params(("id" = String, Path)), request_body = PartnerPatchBody,
    responses(
        (status = 200, description = "The edited partner", body = PartnerView),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn update_partner(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<PartnerPatchBody>,
) -> Result<axum::Json<PartnerView>, ApiError> {
    principal.require(Permission::ManagePartners)?;
    let patch = PartnerPatch {
        name: body.name,
        kind: body.kind,
        contact: body.contact,
        status: body.status,
        categories: body.categories,
        contract: body.contract.map(|c| c.map(parse_contract).transpose()).transpose()?,
    };
    Ok(axum::Json(state.services.update_partner(partner_id(&id)?, patch).await?.into()))
}

/// Delete a partner that never received work and has no token (otherwise 409: suspend it).
#[utoipa::path(
    delete, path = "/api/v1/partners/{id}", tag = "partners", params(("id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still referenced", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn delete_partner(State(state): State<AppState>, principal: Principal, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    principal.require(Permission::ManagePartners)?;
    state.services.delete_partner(partner_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DelegationBody {
    #[schema(value_type = String, format = Uuid)]
    partner_id: String,
    note: Option<String>,
}

/// Delegate a ticket to a partner (admin, supervisor): records a `delegated` event with the
/// partner's OLA due times. A suspended partner, or one without a contract in force → 422;
/// a ticket already delegated → 409.
#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/delegation", tag = "partners",
    params(("id" = String, Path, description = "Ticket id or number")), request_body = DelegationBody,
    responses(
        (status = 200, description = "The delegated ticket", body = TicketView, headers(("ETag" = String))),
        (status = 403, description = "Role may not delegate", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already delegated", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The partner cannot take work, and why", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn delegate_ticket(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<DelegationBody>,
) -> Result<Response, ApiError> {
    principal.require(Permission::ManagePartners)?;
    let partner =
        PartnerId::parse("partner_id", &body.partner_id).map_err(|e| ApiError::validation(StatusCode::UNPROCESSABLE_ENTITY, vec![e]))?;
    let note = steward_domain::text::optional_note("note", body.note)?;
    let ticket = state.services.delegate_ticket(ticket_ref(&id)?, partner, note, &principal.actor()).await?;
    Ok(ticket_response(StatusCode::OK, ticket))
}

/// Take a delegated ticket back from its partner (admin, supervisor).
#[utoipa::path(
    delete, path = "/api/v1/tickets/{id}/delegation", tag = "partners",
    params(("id" = String, Path, description = "Ticket id or number")),
    responses(
        (status = 200, description = "The ticket, no longer delegated", body = TicketView, headers(("ETag" = String))),
        (status = 404, description = "No such ticket, or it is not delegated", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn withdraw_delegation(State(state): State<AppState>, principal: Principal, Path(id): Path<String>) -> Result<Response, ApiError> {
    principal.require(Permission::ManagePartners)?;
    let ticket = state.services.withdraw_delegation(ticket_ref(&id)?, &principal.actor()).await?;
    Ok(ticket_response(StatusCode::OK, ticket))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WindowParams {
    /// Delegations made at or after this instant (default: `window` before `to`).
    from: Option<String>,
    /// … and before this one (default: now). At or before `from`: an empty window.
    to: Option<String>,
    /// Without `from`: the length of the window ending at `to`, e.g. `30d` (default:
    /// `partners.scorecard_window_days`).
    window: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScorecardParams {
    /// Delegations made at or after this instant (with `to`).
    from: Option<String>,
    /// … and before this one (default: now).
    to: Option<String>,
    /// Instead of from/to: the last period, e.g. `30d` (default: `partners.scorecard_window_days`).
    window: Option<String>,
    /// `builtin` (default) or a scorecard a plugin declares (see /api/v1/plugins).
    scorecard: Option<String>,
}

impl ScorecardParams {
    fn window(&self) -> WindowParams {
        WindowParams { from: self.from.clone(), to: self.to.clone(), window: self.window.clone() }
    }
}

fn window(state: &AppState, p: &WindowParams) -> Result<(Timestamp, Timestamp), ApiError> {
    let bad = |e: FieldError| ApiError::validation(StatusCode::BAD_REQUEST, vec![e]);
    // `[from, to)`: `to` defaults to now; `from` to `window` (default
    // `partners.scorecard_window_days`) before `to`, and decides the start when given. A `from`
    // at or after `to` is an empty window.
    let (default_from, default_to) = state.services.default_scorecard_window();
    let to = p.to.as_deref().map(|t| Timestamp::parse("to", t)).transpose().map_err(bad)?;
    let window = p.window.as_deref().map(|w| TargetDuration::parse("window", w)).transpose().map_err(bad)?;
    let end = to.unwrap_or(default_to);
    let from = match (&p.from, window) {
        (Some(f), _) => Timestamp::parse("from", f).map_err(bad)?,
        (None, Some(d)) => end.plus_millis(-d.as_millis()),
        (None, None) => end.plus_millis(-(default_to.as_millis() - default_from.as_millis())),
    };
    Ok((from, end))
}

/// A partner's statistics over a window: what the scorecards are computed from.
#[derive(Serialize, ToSchema)]
pub struct PartnerStatsView {
    #[schema(value_type = String, format = DateTime)]
    from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    to: Timestamp,
    /// Delegations made in the window.
    tickets_delegated: u64,
    /// Delegations resolved, or past their OLA resolution time.
    ola_due: u64,
    ola_met: u64,
    /// ola_met / ola_due; null without any.
    ola_met_rate: Option<f64>,
    resolved: u64,
    /// From delegation to resolution, in milliseconds.
    mean_resolution_ms: Option<i64>,
    p90_resolution_ms: Option<i64>,
    csat_answers: u64,
    /// Mean satisfaction score (1–5) of the customers they served.
    csat_mean: Option<f64>,
    /// Complaints about their tickets.
    complaints: u64,
    /// Reopens of their tickets after delegation.
    reopens: u64,
}

impl From<&PartnerStats> for PartnerStatsView {
    fn from(s: &PartnerStats) -> Self {
        PartnerStatsView {
            from: s.from.unwrap_or(Timestamp::from_millis(0)),
            to: s.to.unwrap_or(Timestamp::from_millis(0)),
            tickets_delegated: s.delegated,
            ola_due: s.ola_due,
            ola_met: s.ola_met,
            ola_met_rate: s.ola_met_rate(),
            resolved: s.resolved,
            mean_resolution_ms: s.mean_resolution_ms,
            p90_resolution_ms: s.p90_resolution_ms,
            csat_answers: s.csat_answers,
            csat_mean: s.csat_mean,
            complaints: s.complaints,
            reopens: s.reopens,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ComponentView {
    name: String,
    weight: f64,
    /// 0–100; null when the window has no data for it (it then does not count).
    score: Option<f64>,
    #[schema(value_type = Object)]
    inputs: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct ScorecardView {
    #[schema(value_type = String, format = Uuid)]
    partner_id: PartnerId,
    partner_name: String,
    /// `builtin`, or the plugin scorecard asked for.
    scorecard: String,
    /// 0–100, the weighted mean of the components with data; null when none has.
    score: Option<f64>,
    /// A (≥ 90), B (≥ 80), C (≥ 70), D (≥ 60), E, or unrated.
    grade: String,
    components: Vec<ComponentView>,
    /// The evidence the rating rests on; below the minimum the grade is `unrated`.
    sample: SampleView,
    /// Why the partner is unrated when there is too little data; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    unrated_reason: Option<String>,
    stats: PartnerStatsView,
    /// In a ranking: why the plugin computing this partner's scorecard gave no answer (the entry
    /// is then unrated while the others stand); null when it answered. A plugin that has no data
    /// for a partner answers: the entry is unrated with no error.
    error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SampleView {
    /// Delegations in the window the OLA can be judged on (resolved, or past their due time).
    judged: u64,
    /// How many a rating needs (`partners.scorecard_minimum_sample`).
    minimum: u64,
}

fn scorecard_view(p: PartnerScorecard) -> ScorecardView {
    let Scorecard { score, grade, components } = p.scorecard;
    ScorecardView {
        partner_id: p.partner.id,
        partner_name: p.partner.name,
        scorecard: p.name,
        score,
        grade,
        components: components
            .into_iter()
            .map(|c| ComponentView {
                name: c.name,
                weight: c.weight,
                score: c.score,
                inputs: c.inputs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            })
            .collect(),
        sample: SampleView { judged: p.sample.judged, minimum: p.sample.minimum },
        unrated_reason: p.sample.unrated_reason(),
        stats: (&p.stats).into(),
        error: p.error,
    }
}

/// A partner's statistics over a window (admin, supervisor), computed by the database.
#[utoipa::path(
    get, path = "/api/v1/partners/{id}/stats", tag = "partners", params(("id" = String, Path), WindowParams),
    responses(
        (status = 200, description = "The statistics", body = PartnerStatsView),
        (status = 400, description = "A bad window", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn partner_stats(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(p): Query<WindowParams>,
) -> Result<axum::Json<PartnerStatsView>, ApiError> {
    principal.require(Permission::ManagePartners)?;
    let id = partner_id(&id)?;
    let (from, to) = window(&state, &p)?;
    Ok(axum::Json((&state.services.partner_stats(id, from, to).await?).into()))
}

/// A partner's built-in scorecard over a window: score, grade, and each component with its
/// weight and inputs, so the score can be explained.
#[utoipa::path(
    get, path = "/api/v1/partners/{id}/scorecard", tag = "partners", params(("id" = String, Path), ScorecardParams),
    responses(
        (status = 422, description = "`scorecard` names no scorecard (`validation-error`)", body = Problem, content_type = "application/problem+json"),
        (status = 200, description = "The scorecard", body = ScorecardView),
        (status = 400, description = "A bad window", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The plugin computing the scorecard failed or is disabled (`plugin-failed`, `plugin` names it)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn partner_scorecard(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(p): Query<ScorecardParams>,
) -> Result<axum::Json<ScorecardView>, ApiError> {
    principal.require(Permission::ManagePartners)?;
    let id = partner_id(&id)?;
    let (from, to) = window(&state, &p.window())?;
    Ok(axum::Json(scorecard_view(state.services.partner_scorecard(id, from, to, p.scorecard.as_deref()).await?)))
}

/// Every partner's built-in scorecard, best first (unrated last).
#[utoipa::path(
    get, path = "/api/v1/partners/scorecards", tag = "partners", params(ScorecardParams),
    responses(
        (status = 422, description = "`scorecard` names no scorecard (`validation-error`)", body = Problem, content_type = "application/problem+json"),
        (status = 200, description = "The ranking", body = Vec<ScorecardView>),
        (status = 400, description = "A bad window", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn rank_partners(
    State(state): State<AppState>,
    principal: Principal,
    Query(p): Query<ScorecardParams>,
) -> Result<axum::Json<Vec<ScorecardView>>, ApiError> {
    principal.require(Permission::ManagePartners)?;
    let (from, to) = window(&state, &p.window())?;
    Ok(axum::Json(state.services.rank_partners(from, to, p.scorecard.as_deref()).await?.into_iter().map(scorecard_view).collect()))
}
