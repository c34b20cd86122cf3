//! GET /api/v1/kpis and GET /api/v1/reports/review.

use super::extract::{Principal, Query};
use super::problem::{ApiError, Problem};
use super::report::{self, ReviewFormat};
use super::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use steward_domain::auth::Permission;
use steward_domain::ids::StaffId;
use steward_domain::kpi::{GroupBy, Kpi, KpiFilter, Month, Period};
use steward_domain::ticket::{Channel, Priority};
use steward_domain::time::Timestamp;
use steward_domain::FieldError;
use steward_services::kpis::KpiReport;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_kpis)).routes(routes!(service_review))
}

/// One KPI: its value against its target.
#[derive(Serialize, ToSchema)]
pub struct KpiView {
    /// e.g. `first_response_time_p90`, `sla_compliance`, `stage_dwell_time`.
    key: String,
    name: String,
    /// Distinguishes entries of one key: the clock (`first_response`), the stage
    /// (`general/consultation`), or `process/stage/status` for backlog counts.
    dimension: Option<String>,
    /// `seconds`, `ratio` (0–1), `score` (1–5) or `count`.
    unit: &'static str,
    /// Null without a sample (or on error).
    value: Option<f64>,
    target: Option<f64>,
    /// `ok`, `warning` or `breach`; null without value or target.
    status: Option<&'static str>,
    /// How many tickets, clocks, answers or reviews the value is computed from.
    sample: u64,
    /// Set when this KPI alone could not be computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl From<&Kpi> for KpiView {
    fn from(k: &Kpi) -> Self {
        KpiView {
            key: k.key.clone(),
            name: k.name.clone(),
            dimension: k.dimension.clone(),
            unit: k.unit.as_str(),
            value: k.value,
            target: k.target.map(|t| t.value),
            status: k.status().map(|s| s.as_str()),
            sample: k.sample,
            error: k.error.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct KpiGroupView {
    /// The dimension's value (a channel, a staff id …).
    value: String,
    kpis: Vec<KpiView>,
}

#[derive(Serialize, ToSchema)]
pub struct KpisView {
    /// Tickets opened from `from` (inclusive) to `to` (exclusive).
    #[schema(value_type = String, format = DateTime)]
    from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    to: Timestamp,
    /// The filters applied (absent ones are omitted).
    #[schema(value_type = Object)]
    filters: serde_json::Map<String, serde_json::Value>,
    kpis: Vec<KpiView>,
    group_by: Option<&'static str>,
    /// Present with `group_by`: the same KPIs per value of the dimension.
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<KpiGroupView>>,
}

impl From<KpiReport> for KpisView {
    fn from(r: KpiReport) -> Self {
        let f = &r.filter;
        let mut filters = serde_json::Map::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                filters.insert(k.to_owned(), v.into());
            }
        };
        put("process", f.process.clone());
        put("channel", f.channel.map(|c| c.as_str().to_owned()));
        put("priority", f.priority.map(|p| p.as_str().to_owned()));
        put("tier", f.tier.clone());
        put("team", f.team.clone());
        put("assignee", f.assignee.map(|a| a.to_string()));
        KpisView {
            from: r.period.from,
            to: r.period.to,
            filters,
            kpis: r.kpis.iter().map(KpiView::from).collect(),
            group_by: r.group_by.map(|g| g.as_str()),
            groups: r.group_by.map(|_| {
                r.groups.iter().map(|g| KpiGroupView { value: g.value.clone(), kpis: g.kpis.iter().map(KpiView::from).collect() }).collect()
            }),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KpiParams {
    /// RFC 3339 instant: tickets opened at or after it.
    from: Option<String>,
    /// RFC 3339 instant: tickets opened before it (default now).
    to: Option<String>,
    /// Instead of `from`/`to`: the period ending now, e.g. `30d`, `7d`, `12h` (default `30d`).
    window: Option<String>,
    process: Option<String>,
    channel: Option<String>,
    priority: Option<String>,
    /// Customer tier.
    tier: Option<String>,
    /// The assignee's team.
    team: Option<String>,
    /// Staff id of the assignee.
    assignee: Option<String>,
    /// Partner id: tickets delegated to that partner.
    partner: Option<String>,
    /// `process`, `channel`, `priority`, `tier`, `team`, `assignee` or `partner`.
    group_by: Option<String>,
}

fn bad_params(errors: Vec<FieldError>) -> ApiError {
    ApiError::validation(StatusCode::BAD_REQUEST, errors)
}

/// Built-in KPIs of the tickets opened in a period, each with value, unit, target, status and
/// sample size; optionally per value of one dimension. The backlog counts open tickets now.
#[utoipa::path(
    get, path = "/api/v1/kpis", tag = "kpis",
    params(KpiParams),
    responses(
        (status = 200, description = "The KPIs", body = KpisView),
        (status = 400, description = "A bad parameter, named", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn get_kpis(
    State(state): State<AppState>,
    principal: Principal,
    Query(p): Query<KpiParams>,
) -> Result<axum::Json<KpisView>, ApiError> {
    principal.require(Permission::ReadTickets)?;
    let mut errors = Vec::new();
    let period =
        Period::parse(p.from.as_deref(), p.to.as_deref(), p.window.as_deref(), Timestamp::now()).map_err(|e| errors.extend(e)).ok();
    fn take<T>(errors: &mut Vec<FieldError>, r: Result<T, FieldError>) -> Option<T> {
        r.map_err(|e| errors.push(e)).ok()
    }
    let channel = p.channel.as_deref().and_then(|c| take(&mut errors, Channel::parse("channel", c)));
    let priority = p.priority.as_deref().and_then(|c| take(&mut errors, Priority::parse("priority", c)));
    let assignee = p.assignee.as_deref().and_then(|a| take(&mut errors, StaffId::parse("assignee", a)));
    let partner = p.partner.as_deref().and_then(|a| take(&mut errors, steward_domain::ids::PartnerId::parse("partner", a)));
    let group_by = p.group_by.as_deref().and_then(|g| take(&mut errors, GroupBy::parse("group_by", g)));
    if !errors.is_empty() {
        return Err(bad_params(errors));
    }
    let filter = KpiFilter { period, process: p.process, channel, priority, tier: p.tier, team: p.team, assignee, partner };
    Ok(axum::Json(state.services.kpis(filter, group_by).await?.into()))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReviewParams {
    /// The month reviewed, `YYYY-MM` (UTC).
    month: String,
    /// `json` (default), `md`, `html` (a standalone page with inline SVG charts) or `csv`.
    format: Option<String>,
}

/// The monthly service review: KPIs against targets and the previous month, SLA breaches by
/// stage and priority, the weakest stages, top complaint tags, and improvement points.
#[utoipa::path(
    get, path = "/api/v1/reports/review", tag = "kpis",
    params(ReviewParams),
    responses(
        (status = 200, description = "The review in the format asked for", content(
            (Object = "application/json"),
            (String = "text/markdown"),
            (String = "text/html"),
            (String = "text/csv"))),
        (status = 400, description = "A bad parameter, named", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn service_review(State(state): State<AppState>, principal: Principal, Query(p): Query<ReviewParams>) -> Result<Response, ApiError> {
    principal.require(Permission::ReadTickets)?;
    let mut errors = Vec::new();
    let month = Month::parse("month", &p.month).map_err(|e| errors.push(e)).ok();
    let format = ReviewFormat::from_param(p.format.as_deref()).map_err(|e| errors.push(e)).ok();
    let (Some(month), Some(format)) = (month, format) else {
        return Err(bad_params(errors));
    };
    let review = state.services.service_review(month).await?;
    let mut response = report::render(&review, format).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    Ok(response)
}
