//! `/supervision`: the supervisor's view of the service now (KPIs against their targets, the
//! backlog by stage, clocks at risk, today's breaches, the CSAT trend, consistency across a
//! dimension, the partner ranking and expiring certifications), and `/supervision/review`, the
//! monthly review as a page with its exports.

use crate::charts::BarChart;
use crate::i18n::{ScreenTexts, Texts};
use crate::page::{problem, render, Chrome, Section};
use crate::session::Viewer;
use crate::ConsoleState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use std::collections::BTreeMap;
use steward_domain::auth::Permission;
use steward_domain::kpi::{GroupBy, Kpi, KpiFilter, Month, Period};
use steward_domain::review::{Section as ReviewSection, ServiceReview};
use steward_domain::staff::StaffQuery;
use steward_domain::time::Timestamp;
use steward_services::{ServiceError, Services};

const DAY_MS: i64 = 86_400_000;

/// A KPI as a table row: label, value, target and status (its colour class and its word).
pub struct KpiRow {
    pub label: String,
    pub value: String,
    pub target: String,
    pub class: &'static str,
    pub status: &'static str,
    pub sample: u64,
}

impl KpiRow {
    pub fn of(k: &Kpi, t: &'static Texts) -> KpiRow {
        let (class, status) = status_of(k, t.screens);
        KpiRow {
            label: t.kpi_label(k),
            value: k.display_value(),
            target: k.target.map(|t| k.unit.format(t.value)).unwrap_or_else(|| "–".to_owned()),
            class,
            status,
            sample: k.sample,
        }
    }
}

fn status_of(k: &Kpi, s: &'static ScreenTexts) -> (&'static str, &'static str) {
    match k.status() {
        Some(st) => match st.as_str() {
            "ok" => ("ok", s.status_ok),
            "warning" => ("warning", s.status_warning),
            _ => ("breach", s.status_breach),
        },
        None => ("none", s.status_none),
    }
}

pub struct CountRow {
    pub label: String,
    pub count: u64,
}

pub struct BreachRow {
    pub clock: String,
    pub stage: String,
    pub priority: String,
    pub count: u64,
}

pub struct TrendRow {
    pub week: String,
    pub value: String,
    pub answers: u64,
    pub class: &'static str,
    pub status: &'static str,
}

pub struct Cell {
    pub value: String,
    pub class: &'static str,
    pub status: &'static str,
}

pub struct GroupRow {
    pub value: String,
    pub cells: Vec<Cell>,
}

pub struct PartnerRow {
    pub rank: usize,
    pub id: String,
    pub name: String,
    pub score: String,
    pub grade: String,
    pub delegated: u64,
}

pub struct ExpiringRow {
    pub staff_id: String,
    pub staff: String,
    pub course: String,
    pub expires: String,
}

pub struct GroupChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "supervision.html")]
struct SupervisionPage {
    chrome: Chrome,
    s: &'static ScreenTexts,
    period: String,
    kpis: Vec<KpiRow>,
    backlog: Vec<CountRow>,
    backlog_chart: BarChart,
    at_risk: Vec<CountRow>,
    breaches: Vec<BreachRow>,
    csat: Vec<TrendRow>,
    csat_chart: BarChart,
    csat_target: String,
    choices: Vec<GroupChoice>,
    group_headers: Vec<String>,
    groups: Vec<GroupRow>,
    partners: Vec<PartnerRow>,
    expiring: Vec<ExpiringRow>,
    month: String,
}

#[derive(Deserialize)]
pub struct SupervisionParams {
    group_by: Option<String>,
}

/// The KPIs compared across the groups of the consistency table.
const COMPARED: [&str; 5] = ["first_response_time_p90", "resolution_time_p90", "resolution_rate", "reopen_rate", "csat_satisfied_share"];

const GROUPS: [GroupBy; 7] =
    [GroupBy::Channel, GroupBy::Team, GroupBy::Assignee, GroupBy::Process, GroupBy::Priority, GroupBy::Tier, GroupBy::Partner];

fn group_label(g: GroupBy, s: &'static ScreenTexts) -> &'static str {
    match g {
        GroupBy::Channel => s.by_channel,
        GroupBy::Team => s.by_team,
        GroupBy::Assignee => s.by_agent,
        GroupBy::Process => s.by_process,
        GroupBy::Priority => s.by_priority,
        GroupBy::Tier => s.by_tier,
        GroupBy::Partner => s.by_partner,
    }
}

pub fn staff_names(list: Vec<steward_domain::staff::Staff>) -> BTreeMap<String, String> {
    list.into_iter().map(|m| (m.id.to_string(), m.name)).collect()
}

pub async fn all_staff(services: &Services) -> Result<Vec<steward_domain::staff::Staff>, ServiceError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = services.list_staff(StaffQuery { role: None, team: None, active: None, after, limit: 500 }).await?;
        out.extend(page);
        match next {
            Some(n) => after = Some(steward_domain::ids::StaffId::parse("after", &n).map_err(steward_domain::ValidationError::from)?),
            None => return Ok(out),
        }
    }
}

pub async fn show(State(state): State<ConsoleState>, viewer: Viewer, Query(p): Query<SupervisionParams>) -> Response {
    let chrome = Chrome::signed_in(&viewer, Section::Supervision);
    if let Err(e) = viewer.principal.require(Permission::ManageStaff) {
        return problem(chrome, &ServiceError::from(e));
    }
    let group = p.group_by.as_deref().and_then(|g| GroupBy::parse("group_by", g).ok()).unwrap_or(GroupBy::Channel);
    match build(&state.services, &viewer, chrome.t.screens, group).await {
        Ok(page) => render(StatusCode::OK, &SupervisionPage { chrome, ..page }),
        Err(e) => problem(chrome, &e),
    }
}

async fn build(services: &Services, viewer: &Viewer, s: &'static ScreenTexts, group: GroupBy) -> Result<SupervisionPage, ServiceError> {
    let now = Timestamp::now();
    let locale = &viewer.locale;
    let report = services.kpis(KpiFilter::default(), Some(group)).await?;
    let period = format!("{} – {}", locale.time(report.period.from), locale.time(report.period.to));
    let kpis =
        report.kpis.iter().filter(|k| !(k.key == "backlog" && k.dimension.is_some())).map(|k| KpiRow::of(k, locale.lang.texts())).collect();

    // The backlog by stage: the open tickets' counts summed over their statuses.
    let mut by_stage: BTreeMap<String, u64> = BTreeMap::new();
    for k in report.kpis.iter().filter(|k| k.key == "backlog") {
        if let Some(d) = &k.dimension {
            let stage = d.rsplit_once('/').map_or(d.as_str(), |(ps, _status)| ps);
            *by_stage.entry(stage.to_owned()).or_default() += k.sample;
        }
    }
    let backlog: Vec<CountRow> = by_stage.into_iter().map(|(label, count)| CountRow { label, count }).collect();
    let backlog_chart = BarChart::new(
        "backlog-chart",
        s.backlog_heading.to_owned(),
        s.backlog_desc.to_owned(),
        backlog.iter().map(|r| (r.label.clone(), r.count as f64, r.count.to_string(), "plain")).collect(),
        None,
    );

    let words = locale.lang.texts();
    let at_risk =
        services.clocks_at_risk().await?.into_iter().map(|(clock, count)| CountRow { label: words.value_label(&clock), count }).collect();
    let today = jiff::Timestamp::from_millisecond(now.as_millis())
        .ok()
        .and_then(|t| t.to_zoned(locale.tz.clone()).start_of_day().ok())
        .map_or(now.plus_millis(-DAY_MS), |z| Timestamp::from_millis(z.timestamp().as_millisecond()));
    let breaches = services
        .breaches_between(today, now.plus_millis(1))
        .await?
        .into_iter()
        .map(|b| BreachRow {
            clock: words.value_label(&b.clock),
            stage: b.stage.map_or_else(|| b.process.clone(), |st| format!("{}/{st}", b.process)),
            priority: words.value_label(&b.priority),
            count: b.count,
        })
        .collect();

    // CSAT: the satisfied share of each of the last eight weeks against its target.
    let mut csat = Vec::new();
    let mut target = None;
    for week in (0..8).rev() {
        let from = now.plus_millis(-(week + 1) * 7 * DAY_MS);
        let to = now.plus_millis(-week * 7 * DAY_MS);
        let (_, kpis) = services.kpi_set(&KpiFilter { period: Some(Period { from, to }), ..KpiFilter::default() }).await?;
        if let Some(k) = kpis.into_iter().find(|k| k.key == "csat_satisfied_share") {
            target = target.or(k.target.map(|t| t.value));
            let (class, status) = status_of(&k, s);
            csat.push((locale.time(from).chars().take(10).collect::<String>(), k.value, k.display_value(), k.sample, class, status));
        }
    }
    let target = target.unwrap_or(0.85);
    let csat_target = format!("{:.0} %", target * 100.0);
    let csat_chart = BarChart::new(
        "csat-chart",
        s.csat_heading.to_owned(),
        s.csat_desc.replace("{target}", &csat_target),
        csat.iter().map(|c| (c.0.clone(), c.1.unwrap_or(0.0), c.2.clone(), if c.1.is_some() { c.4 } else { "none" })).collect(),
        Some(1.0),
    )
    .with_target(target, 1.0, csat_target.clone());
    let csat = csat.into_iter().map(|(week, _, value, answers, class, status)| TrendRow { week, value, answers, class, status }).collect();

    // Consistency: the same KPIs per value of the chosen dimension, names for ids.
    let names: BTreeMap<String, String> = match group {
        GroupBy::Assignee => staff_names(all_staff(services).await?),
        GroupBy::Partner => services.list_partners().await?.into_iter().map(|p| (p.id.to_string(), p.name)).collect(),
        _ => BTreeMap::new(),
    };
    let first = report.groups.first().map(|g| g.kpis.as_slice()).unwrap_or(&report.kpis);
    let group_headers = COMPARED
        .iter()
        .map(|key| {
            words
                .kpi_name(key)
                .map(str::to_owned)
                .or_else(|| first.iter().find(|k| k.key == *key).map(|k| k.name.clone()))
                .unwrap_or_else(|| (*key).to_owned())
        })
        .collect();
    let groups = report
        .groups
        .iter()
        .map(|g| GroupRow {
            value: match group {
                GroupBy::Assignee | GroupBy::Partner => names.get(&g.value).cloned().unwrap_or_else(|| g.value.clone()),
                GroupBy::Channel | GroupBy::Priority => words.value_label(&g.value),
                GroupBy::Team | GroupBy::Process | GroupBy::Tier => g.value.clone(),
            },
            cells: COMPARED
                .iter()
                .map(|key| match g.kpis.iter().find(|k| k.key == *key) {
                    Some(k) => {
                        let (class, status) = status_of(k, s);
                        Cell { value: k.display_value(), class, status }
                    }
                    None => Cell { value: "–".to_owned(), class: "none", status: s.status_none },
                })
                .collect(),
        })
        .collect();
    let choices = GROUPS.iter().map(|g| GroupChoice { value: g.as_str(), label: group_label(*g, s), selected: *g == group }).collect();

    let (from, to) = services.default_scorecard_window();
    let partners = services
        .rank_partners(from, to, None)
        .await?
        .into_iter()
        .enumerate()
        .map(|(i, c)| PartnerRow {
            rank: i + 1,
            id: c.partner.id.to_string(),
            name: c.partner.name,
            score: c.scorecard.score.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}")),
            grade: c.scorecard.grade,
            delegated: c.stats.delegated,
        })
        .collect();

    let staff = staff_names(all_staff(services).await?);
    let expiring = services
        .expiring_certifications(30)
        .await?
        .into_iter()
        .map(|c| ExpiringRow {
            staff_id: c.staff_id.to_string(),
            staff: staff.get(&c.staff_id.to_string()).cloned().unwrap_or_else(|| c.staff_id.to_string()),
            course: c.course_code,
            expires: c.expires_at.map_or_else(|| "–".to_owned(), |t| locale.time(t)),
        })
        .collect();
    let month = jiff::Timestamp::from_millisecond(now.as_millis()).map_or_else(|_| String::new(), |t| t.strftime("%Y-%m").to_string());

    Ok(SupervisionPage {
        chrome: Chrome::new(locale),
        s,
        period,
        kpis,
        backlog,
        backlog_chart,
        at_risk,
        breaches,
        csat,
        csat_chart,
        csat_target,
        choices,
        group_headers,
        groups,
        partners,
        expiring,
        month,
    })
}

// ---- the monthly review ----

pub struct ReviewKpiRow {
    pub row: KpiRow,
    pub previous: String,
}

#[derive(Template)]
#[template(path = "supervision_review.html")]
struct ReviewPage {
    chrome: Chrome,
    s: &'static ScreenTexts,
    month: String,
    month_human: String,
    generated: String,
    opened: u64,
    resolved: u64,
    backlog_at_end: u64,
    sla_compliance: String,
    csat: String,
    kpis: Vec<ReviewKpiRow>,
    worse: Vec<ReviewKpiRow>,
    breaches: Vec<BreachRow>,
    weakest: Vec<CountRow>,
    tags: Vec<CountRow>,
    partners: Vec<PartnerRow>,
    training: String,
    expiring: Vec<ExpiringRow>,
    improvements: Vec<String>,
    it: &'static crate::improvements::ImprovementTexts,
    actions: Vec<FollowRow>,
    error: Option<String>,
}

/// An improvement action of an earlier review as this month's review follows it up.
pub struct FollowRow {
    pub href: String,
    pub title: String,
    pub owner: String,
    pub set_in: String,
    pub due: String,
    pub status: String,
    pub overdue: bool,
    pub kpi: String,
    pub then: String,
    pub now: String,
    pub movement: &'static str,
    pub movement_key: &'static str,
}

#[derive(Deserialize)]
pub struct ReviewParams {
    month: Option<String>,
}

/// How the server renders the review's exports (`md`, `html`, `csv`): the API's own renderer,
/// handed to the console by the server, which owns it (`Extension` on the console's router).
#[derive(Clone, Copy)]
pub struct ReviewExports(pub fn(&ServiceReview, &str) -> Option<(String, &'static str)>);

fn current_month() -> String {
    jiff::Timestamp::now().strftime("%Y-%m").to_string()
}

fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{:.1} %", v * 100.0))
}

pub async fn review(State(state): State<ConsoleState>, viewer: Viewer, Query(p): Query<ReviewParams>) -> Response {
    let chrome = Chrome::signed_in(&viewer, Section::Supervision);
    if let Err(e) = viewer.principal.require(Permission::ManageStaff) {
        return problem(chrome, &ServiceError::from(e));
    }
    let s = chrome.t.screens;
    let text = p.month.unwrap_or_else(current_month);
    let month = match Month::parse("month", &text) {
        Ok(m) => m,
        Err(_) => {
            let page = ReviewPage { error: Some(s.month_invalid.to_owned()), ..empty_review(chrome, s, text) };
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let review = match state.services.service_review(month).await {
        Ok(r) => r,
        Err(e) => return problem(chrome, &e),
    };
    let locale = &viewer.locale;
    let mut page = empty_review(chrome, s, text);
    page.month_human = month.human();
    page.generated = locale.time(review.generated_at);
    page.opened = review.headline.opened;
    page.resolved = review.headline.resolved;
    page.backlog_at_end = review.headline.backlog_at_end;
    page.sla_compliance = percent(review.headline.sla_compliance);
    page.csat = percent(review.headline.csat);
    let line = |l: &steward_domain::review::KpiLine| ReviewKpiRow {
        row: KpiRow::of(&l.kpi, locale.lang.texts()),
        previous: l.previous.map_or_else(|| "–".to_owned(), |v| l.kpi.unit.format(v)),
    };
    for section in &review.sections {
        match section {
            ReviewSection::Kpis(lines) => page.kpis = lines.iter().map(line).collect(),
            ReviewSection::Worse(lines) => page.worse = lines.iter().map(line).collect(),
            ReviewSection::Breaches(b) => {
                page.breaches = b
                    .iter()
                    .map(|b| BreachRow {
                        clock: b.clock.clone(),
                        stage: b.stage.as_ref().map_or_else(|| b.process.clone(), |st| format!("{}/{st}", b.process)),
                        priority: b.priority.clone(),
                        count: b.count,
                    })
                    .collect()
            }
            ReviewSection::WeakestStages(w) => {
                page.weakest = w
                    .iter()
                    .map(|w| CountRow { label: format!("{}/{}", w.dwell.process, w.dwell.stage), count: w.dwell.breached })
                    .collect()
            }
            ReviewSection::ComplaintTags(tags) => page.tags = tags.iter().map(|(t, n)| CountRow { label: t.clone(), count: *n }).collect(),
            ReviewSection::Partners(p) => {
                page.partners = p
                    .iter()
                    .enumerate()
                    .map(|(i, p)| PartnerRow {
                        rank: i + 1,
                        id: String::new(),
                        name: p.name.clone(),
                        score: p.score.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}")),
                        grade: p.grade.clone(),
                        delegated: p.delegated,
                    })
                    .collect()
            }
            ReviewSection::Training(t) => {
                page.training = format!("{} ({} {})", percent(t.compliance), t.staff_considered, s.staff_considered);
                page.expiring = t
                    .expiring
                    .iter()
                    .map(|(staff, course, at)| ExpiringRow {
                        staff_id: String::new(),
                        staff: staff.clone(),
                        course: course.clone(),
                        expires: locale.time(*at),
                    })
                    .collect();
            }
            ReviewSection::Actions(actions) => {
                let it = page.it;
                page.actions = actions
                    .iter()
                    .map(|f| {
                        let value = |v: Option<f64>, k: &steward_domain::improvement::KpiMovement| {
                            v.map_or_else(|| "–".to_owned(), |v| k.unit.format(v))
                        };
                        FollowRow {
                            href: format!("/improvements/{}", f.action.id),
                            title: f.action.title.clone(),
                            owner: f.owner_name.clone(),
                            set_in: f.action.month.to_string(),
                            due: f.action.due.to_string(),
                            status: it.status(f.action.status).to_owned(),
                            overdue: f.overdue,
                            kpi: f.kpi.as_ref().map_or_else(|| "–".to_owned(), |k| k.label.clone()),
                            then: f.kpi.as_ref().map_or_else(|| "–".to_owned(), |k| value(k.from, k)),
                            now: f.kpi.as_ref().map_or_else(|| "–".to_owned(), |k| value(k.to, k)),
                            movement: f.kpi.as_ref().map_or("–", |k| it.movement(k.movement)),
                            movement_key: f.kpi.as_ref().map_or("unknown", |k| k.movement.as_str()),
                        }
                    })
                    .collect();
            }
            ReviewSection::Improvements(points) => page.improvements = points.clone(),
        }
    }
    render(StatusCode::OK, &page)
}

fn empty_review(chrome: Chrome, s: &'static ScreenTexts, month: String) -> ReviewPage {
    let lang = chrome.language;
    ReviewPage {
        chrome,
        s,
        month,
        month_human: String::new(),
        generated: String::new(),
        opened: 0,
        resolved: 0,
        backlog_at_end: 0,
        sla_compliance: String::new(),
        csat: String::new(),
        kpis: Vec::new(),
        worse: Vec::new(),
        breaches: Vec::new(),
        weakest: Vec::new(),
        tags: Vec::new(),
        partners: Vec::new(),
        training: String::new(),
        expiring: Vec::new(),
        improvements: Vec::new(),
        it: crate::improvements::texts::texts(lang),
        actions: Vec::new(),
        error: None,
    }
}

#[derive(Deserialize)]
pub struct ExportParams {
    month: String,
    format: String,
}

/// `/supervision/review/export?month=…&format=md|html|csv`: the review's files under the
/// session (the API's formats need a token).
pub async fn export(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    exports: Option<Extension<ReviewExports>>,
    Query(p): Query<ExportParams>,
) -> Response {
    let chrome = Chrome::signed_in(&viewer, Section::Supervision);
    if let Err(e) = viewer.principal.require(Permission::ManageStaff) {
        return problem(chrome, &ServiceError::from(e));
    }
    let month = match Month::parse("month", &p.month) {
        Ok(m) => m,
        Err(e) => return problem(chrome, &ServiceError::Invalid(e.into())),
    };
    let Some(Extension(ReviewExports(render_export))) = exports else {
        return problem(chrome, &ServiceError::Unavailable("review exports are not configured".to_owned()));
    };
    let review = match state.services.service_review(month).await {
        Ok(r) => r,
        Err(e) => return problem(chrome, &e),
    };
    let Some((body, content_type)) =
        (if matches!(p.format.as_str(), "md" | "html" | "csv") { render_export(&review, &p.format) } else { None })
    else {
        return problem(chrome, &ServiceError::NotFound { what: "export format" });
    };
    let name = format!("attachment; filename=\"service-review-{}.{}\"", p.month, p.format);
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&name) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    response
}
