//! `/queues`: the built-in views with their counts, every filter of the list API, rows sorted by
//! SLA due with a countdown per clock, keyset "load more" (htmx appends the next rows; without
//! JavaScript a plain link opens the next page), and bulk actions reported per ticket.

use crate::i18n::{Lang, Locale, Texts};
use crate::page::{problem, render, Chrome, Section};
use crate::session::{percent_encode, Viewer};
use crate::ticket::view::stage_name;
use crate::ConsoleState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_domain::auth::{Permission, Role};
use steward_domain::clock::{ClockKind, ClockState};
use steward_domain::ids::{StaffId, TicketId, TicketRef};
use steward_domain::process::Process;
use steward_domain::queue::BuiltInView;
use steward_domain::staff::StaffQuery;
use steward_domain::ticket::{Channel, Kind, Priority, Status, TicketQuery};
use steward_domain::time::Timestamp;
use steward_domain::FieldError;
use steward_services::queues::{BulkAction, Countdown, QueuePage};
use steward_services::{ServiceError, Services};

/// Rows per page.
pub const PAGE_SIZE: u32 = 50;

/// `/`: a signed-in person starts at the queues.
pub async fn home(_viewer: Viewer) -> Response {
    Redirect::to("/queues").into_response()
}

/// The query string of `/queues`: the view, every filter, and the keyset to continue after.
#[derive(Debug, Default, Deserialize, Clone)]
pub struct QueueParams {
    #[serde(default)]
    pub view: String,
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub tier: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub assignee: String,
    #[serde(default)]
    pub team: String,
    #[serde(default)]
    pub process: String,
    #[serde(default)]
    pub stage: String,
    #[serde(default)]
    pub after: String,
}

impl QueueParams {
    /// The query string for these filters (without `after`).
    fn query_string(&self) -> String {
        let pairs = [
            ("view", &self.view),
            ("q", &self.q),
            ("status", &self.status),
            ("priority", &self.priority),
            ("channel", &self.channel),
            ("kind", &self.kind),
            ("tier", &self.tier),
            ("tag", &self.tag),
            ("assignee", &self.assignee),
            ("team", &self.team),
            ("process", &self.process),
            ("stage", &self.stage),
        ];
        pairs
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| format!("{k}={}", percent_encode(v.trim())))
            .collect::<Vec<_>>()
            .join("&")
    }

    fn view(&self) -> Result<Option<BuiltInView>, FieldError> {
        match self.view.trim() {
            "" | "all" => Ok(None),
            v => BuiltInView::parse("view", v).map(Some),
        }
    }

    /// The filters as the list service's query; a bad value is an error naming its field.
    fn filters(&self) -> Result<TicketQuery, FieldError> {
        fn opt(s: &str) -> Option<String> {
            Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned)
        }
        let mut query = TicketQuery {
            status: opt(&self.status).map(|s| Status::parse("status", &s)).transpose()?,
            priority: opt(&self.priority).map(|s| Priority::parse("priority", &s)).transpose()?,
            channel: opt(&self.channel).map(|s| Channel::parse("channel", &s)).transpose()?,
            kind: opt(&self.kind).map(|s| Kind::parse("kind", &s)).transpose()?,
            tier: opt(&self.tier),
            tag: opt(&self.tag).map(|t| steward_domain::ticket::normalize_tag(&t).unwrap_or(t)),
            assignee: opt(&self.assignee).map(|a| StaffId::parse("assignee", &a)).transpose()?,
            team: opt(&self.team),
            process: opt(&self.process),
            stage: opt(&self.stage),
            title_contains: opt(&self.q),
            limit: PAGE_SIZE,
            ..Default::default()
        };
        if let Some(after) = opt(&self.after) {
            query.after_due = Some(parse_cursor(&after).ok_or_else(|| FieldError::new("after", "not a position this page gave"))?);
        }
        Ok(query)
    }
}

/// `T-000123`, `t-123` or `123` as the number form `T-000123`; anything else stays as it is
/// (and is not a number).
fn ticket_number_form(q: &str) -> String {
    let q = q.trim();
    let digits = q.strip_prefix("T-").or_else(|| q.strip_prefix("t-")).unwrap_or(q);
    match digits.parse::<u64>() {
        Ok(n) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => format!("T-{n:06}"),
        _ => String::new(),
    }
}

fn parse_cursor(text: &str) -> Option<(i64, TicketId)> {
    let (due, id) = text.split_once('.')?;
    Some((due.parse().ok()?, TicketId::parse("after", id).ok()?))
}

pub struct ViewLink {
    pub label: &'static str,
    pub href: String,
    pub count: i64,
    pub current: bool,
}

pub struct SavedLink {
    pub id: String,
    pub name: String,
    pub href: String,
    pub shared: bool,
    pub current: bool,
    pub can_delete: bool,
}

pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn options<'a>(values: impl IntoIterator<Item = (&'a str, String)>, chosen: &str, any: &str) -> Vec<Opt> {
    let mut out = vec![Opt { value: String::new(), label: any.to_owned(), selected: chosen.trim().is_empty() }];
    out.extend(values.into_iter().map(|(v, label)| Opt { value: v.to_owned(), selected: v == chosen.trim(), label }));
    out
}

pub struct CountdownView {
    pub label: String,
    /// `ok`, `risk`, `breached` or `paused`: the colour band.
    pub band: &'static str,
    pub state: &'static str,
    /// RFC 3339, for `<time datetime>`; empty while paused.
    pub due_iso: String,
    pub due_text: String,
    /// Epoch milliseconds console.js counts down to; 0 while paused (no ticking).
    pub due_ms: i64,
    pub remaining: String,
}

pub struct Row {
    pub number: String,
    pub href: String,
    pub select: String,
    pub title: String,
    pub customer: String,
    pub priority: &'static str,
    pub stage: String,
    pub assignee: String,
    pub countdowns: Vec<CountdownView>,
}

#[derive(Template)]
#[template(path = "queues.html")]
struct QueuesPage {
    chrome: Chrome,
    /// The live feed's position before the rows were read: later changes are announced.
    live_after: String,
    t: &'static Texts,
    views: Vec<ViewLink>,
    p: QueueParams,
    all_href: String,
    all_current: bool,
    status_opts: Vec<Opt>,
    priority_opts: Vec<Opt>,
    channel_opts: Vec<Opt>,
    kind_opts: Vec<Opt>,
    rows: Vec<Row>,
    next_href: Option<String>,
    error: Option<String>,
    can_write: bool,
    staff_opts: Vec<Opt>,
    stage_opts: Vec<Opt>,
    bulk_priority_opts: Vec<Opt>,
    back: String,
    saved: Vec<SavedLink>,
    /// The current filters as a query string (what "save this view" keeps).
    filters_now: String,
    can_share: bool,
}

#[derive(Template)]
#[template(path = "queue_rows.html")]
struct QueueRows {
    t: &'static Texts,
    rows: Vec<Row>,
    next_href: Option<String>,
    can_write: bool,
}

pub async fn show(State(state): State<ConsoleState>, viewer: Viewer, headers: HeaderMap, Query(p): Query<QueueParams>) -> Response {
    // A ticket number typed into the search jumps to the ticket.
    if let Ok(steward_domain::ids::TicketRef::Number(n)) = steward_domain::ids::TicketRef::parse("q", ticket_number_form(&p.q).as_str()) {
        return Redirect::to(&format!("/tickets/{n}")).into_response();
    }
    let chrome = Chrome::signed_in(&viewer, Section::Queues);
    let t = chrome.t;
    let services = &state.services;
    let parsed = p.view().and_then(|v| p.filters().map(|f| (v, f)));
    let (view, filters, error) = match parsed {
        Ok((v, f)) => (v, Some(f), None),
        Err(e) => (None, None, Some(crate::refusal::field_error(viewer.locale.lang, &e))),
    };
    let rows_page = async {
        Ok::<_, ServiceError>(match filters {
            Some(filters) => match services.view_query(&viewer.principal, view, filters).await? {
                Some(query) => services.queue_page(query).await?,
                None => QueuePage { rows: Vec::new(), next: None },
            },
            None => QueuePage { rows: Vec::new(), next: None },
        })
    };
    let can_write = viewer.principal.require(Permission::WriteTickets).is_ok();
    let base = p.query_string();
    // htmx asking for the next rows: only them and the next "load more".
    if headers.contains_key("hx-request") && !p.after.trim().is_empty() {
        let page = match rows_page.await {
            Ok(page) => page,
            Err(e) => return problem(chrome, &e),
        };
        let (rows, next_href) = queue_rows(&viewer, t, services, &base, page);
        return render(StatusCode::OK, &QueueRows { t, rows, next_href, can_write });
    }
    // The page's reads are independent: run them together, so a page costs its slowest read,
    // not the sum of its round trips.
    let bulk = async {
        match can_write {
            true => bulk_choices(&state, t).await,
            false => (Vec::new(), Vec::new()),
        }
    };
    let (live_head, page, counts, saved, (staff_opts, stage_opts)) = tokio::join!(
        services.live_head(),
        rows_page,
        services.view_counts(&viewer.principal),
        services.saved_views(&viewer.principal),
        bulk
    );
    let live_after = match live_head {
        Ok(position) => position.to_string(),
        Err(e) => return problem(chrome, &e),
    };
    let page = match page {
        Ok(page) => page,
        Err(e) => return problem(chrome, &e),
    };
    let (rows, next_href) = queue_rows(&viewer, t, services, &base, page);
    let counts = match counts {
        Ok(c) => c,
        Err(e) => return problem(chrome, &e),
    };
    let views = counts
        .into_iter()
        .map(|(v, count)| ViewLink {
            label: view_label(t, v),
            href: format!("/queues?view={}", v.as_str()),
            count,
            current: view == Some(v),
        })
        .collect();
    let can_share = matches!(viewer.principal.role, Role::Supervisor | Role::Admin);
    let saved = match saved {
        Ok(views) => views
            .into_iter()
            .map(|v| SavedLink {
                id: v.id.to_string(),
                href: format!("/queues?{}", v.filters),
                current: v.filters == base,
                can_delete: viewer.principal.staff_id == Some(v.owner) || can_share,
                name: v.name,
                shared: v.shared,
            })
            .collect(),
        Err(e) => return problem(chrome, &e),
    };
    let page = QueuesPage {
        live_after,
        t,
        views,
        all_href: "/queues?view=all".to_owned(),
        all_current: view.is_none(),
        status_opts: options(Status::ALL.iter().map(|s| (s.as_str(), t.status_label(*s).to_owned())), &p.status, t.q_any),
        priority_opts: options(Priority::ALL.iter().map(|s| (s.as_str(), t.priority_label(*s).to_owned())), &p.priority, t.q_any),
        channel_opts: options(Channel::ALL.iter().map(|s| (s.as_str(), t.channel_label(*s).to_owned())), &p.channel, t.q_any),
        kind_opts: options(Kind::ALL.iter().map(|s| (s.as_str(), t.kind_label(*s).to_owned())), &p.kind, t.q_any),
        bulk_priority_opts: Priority::ALL
            .iter()
            .map(|s| Opt { value: s.as_str().to_owned(), label: t.priority_label(*s).to_owned(), selected: false })
            .collect(),
        back: format!("/queues?{base}"),
        saved,
        filters_now: base.clone(),
        can_share,
        rows,
        next_href,
        error: error.clone(),
        can_write,
        staff_opts,
        stage_opts,
        p,
        chrome,
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    render(status, &page)
}

/// A page of queue rows as the template shows them, and the "load more" link after them.
fn queue_rows(viewer: &Viewer, t: &'static Texts, services: &Services, base: &str, page: QueuePage) -> (Vec<Row>, Option<String>) {
    let next_href = page.next.map(|(due, id)| {
        let sep = if base.is_empty() { "" } else { "&" };
        format!("/queues?{base}{sep}after={due}.{id}")
    });
    let rows = page
        .rows
        .iter()
        .map(|r| row(&viewer.locale, t, r, services.processes.get(&r.ticket.process).map(|p| &**p), services.now()))
        .collect();
    (rows, next_href)
}

async fn bulk_choices(state: &ConsoleState, t: &'static Texts) -> (Vec<Opt>, Vec<Opt>) {
    let staff = state
        .services
        .list_staff(StaffQuery { active: Some(true), limit: 200, ..Default::default() })
        .await
        .map(|(s, _)| s)
        .unwrap_or_default();
    let mut staff_opts = vec![Opt { value: "none".to_owned(), label: t.q_nobody.to_owned(), selected: false }];
    staff_opts.extend(staff.into_iter().map(|s| Opt { value: s.id.to_string(), label: s.name, selected: false }));
    let mut stages: Vec<(String, String)> = Vec::new();
    for process in state.services.processes.iter() {
        for stage in &process.stages {
            if !stages.iter().any(|(k, _)| *k == stage.key) {
                stages.push((stage.key.clone(), stage.name.clone()));
            }
        }
    }
    let stage_opts = stages.into_iter().map(|(value, label)| Opt { value, label, selected: false }).collect();
    (staff_opts, stage_opts)
}

fn row(locale: &Locale, t: &'static Texts, r: &steward_services::queues::QueueRow, process: Option<&Process>, now: Timestamp) -> Row {
    let ticket = &r.ticket;
    Row {
        number: ticket.number.to_string(),
        href: format!("/tickets/{}", ticket.number),
        select: format!("{}@{}", ticket.number, ticket.version),
        title: ticket.title.clone(),
        customer: ticket.customer.name.clone(),
        priority: t.priority_label(ticket.priority),
        stage: stage_name(process, &ticket.stage),
        assignee: r.assignee_name.clone().unwrap_or_default(),
        countdowns: r.countdowns.iter().map(|c| countdown(locale, t, c, process, now)).collect(),
    }
}

fn countdown(locale: &Locale, t: &'static Texts, c: &Countdown, process: Option<&Process>, now: Timestamp) -> CountdownView {
    let kind = match c.kind {
        ClockKind::Stage => format!("{} {}", t.clock_stage, c.stage.as_deref().map(|s| stage_name(process, s)).unwrap_or_default()),
        other => t.clock_label(other).to_owned(),
    };
    let (band, state) = match c.state {
        ClockState::Breached => ("breached", t.band_breached),
        ClockState::Paused => ("paused", t.band_paused),
        _ if c.at_risk => ("risk", t.band_at_risk),
        _ => ("ok", t.band_ok),
    };
    match (c.state, c.due_at) {
        (ClockState::Paused, _) | (_, None) => CountdownView {
            label: kind,
            band: if c.state == ClockState::Breached { "breached" } else { "paused" },
            state,
            due_iso: String::new(),
            due_text: String::new(),
            due_ms: 0,
            remaining: remaining_text(c.remaining_ms),
        },
        (_, Some(due)) => CountdownView {
            label: kind,
            band,
            state,
            due_iso: jiff::Timestamp::from_millisecond(due.as_millis()).map(|t| t.to_string()).unwrap_or_default(),
            due_text: locale.time(due),
            due_ms: due.as_millis(),
            remaining: remaining_text(due.as_millis() - now.as_millis()),
        },
    }
}

/// `-01:02:03`, `2d 04:05:06`: the same form console.js writes every second.
pub fn remaining_text(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let mut s = ms.unsigned_abs() / 1000;
    let days = s / 86_400;
    s %= 86_400;
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if days > 0 {
        format!("{sign}{days}d {h:02}:{m:02}:{sec:02}")
    } else {
        format!("{sign}{h:02}:{m:02}:{sec:02}")
    }
}

pub fn view_label(t: &'static Texts, v: BuiltInView) -> &'static str {
    match v {
        BuiltInView::Mine => t.view_mine,
        BuiltInView::MyTeam => t.view_team,
        BuiltInView::Unassigned => t.view_unassigned,
        BuiltInView::AtRisk => t.view_at_risk,
        BuiltInView::Breached => t.view_breached,
        BuiltInView::WaitingCustomer => t.view_waiting_customer,
        BuiltInView::WaitingPartner => t.view_waiting_partner,
        BuiltInView::Delegated => t.view_delegated,
    }
}

pub struct OutcomeView {
    pub reference: String,
    pub ok: bool,
    pub message: String,
}

#[derive(Template)]
#[template(path = "queue_bulk.html")]
struct BulkPage {
    chrome: Chrome,
    t: &'static Texts,
    outcomes: Vec<OutcomeView>,
    done: usize,
    failed: usize,
    back: String,
}

/// `POST /queues/bulk`: the selected tickets (`ticket=T-000123@version`, repeated), the action
/// (`action=assign|move|priority|tag`) and its value. Each ticket goes through the same service
/// as the single-ticket API; the page lists every ticket's outcome.
pub async fn bulk(State(state): State<ConsoleState>, viewer: Viewer, body: String) -> Response {
    let chrome = Chrome::signed_in(&viewer, Section::Queues);
    let t = chrome.t;
    let mut tickets = Vec::new();
    let (mut action, mut assignee, mut stage, mut priority, mut tag, mut back) =
        (String::new(), String::new(), String::new(), String::new(), String::new(), String::new());
    for (key, value) in form_urlencoded::parse(body.as_bytes()) {
        match key.as_ref() {
            "ticket" => tickets.push(value.into_owned()),
            "action" => action = value.into_owned(),
            "assignee" => assignee = value.into_owned(),
            "stage" => stage = value.into_owned(),
            "priority" => priority = value.into_owned(),
            "tag" => tag = value.into_owned(),
            "back" => back = value.into_owned(),
            _ => {}
        }
    }
    let invalid = |e: FieldError| problem(Chrome::signed_in(&viewer, Section::Queues), &ServiceError::Invalid(e.into()));
    let action = match action.as_str() {
        "assign" => match assignee.trim() {
            "none" => BulkAction::Assign(None),
            a => match StaffId::parse("assignee", a) {
                Ok(id) => BulkAction::Assign(Some(id)),
                Err(e) => return invalid(e),
            },
        },
        "move" if !stage.trim().is_empty() => BulkAction::Move(stage.trim().to_owned()),
        "priority" => match Priority::parse("priority", priority.trim()) {
            Ok(p) => BulkAction::Priority(p),
            Err(e) => return invalid(e),
        },
        "tag" if !tag.trim().is_empty() => BulkAction::AddTag(tag.trim().to_owned()),
        _ => return invalid(FieldError::new("action", t.bulk_pick_action)),
    };
    let mut selected = Vec::new();
    for item in &tickets {
        let parsed = item.rsplit_once('@').and_then(|(r, v)| Some((TicketRef::parse("ticket", r).ok()?, v.parse::<i64>().ok()?)));
        match parsed {
            Some(p) => selected.push(p),
            None => return invalid(FieldError::new("ticket", "not a ticket of this page")),
        }
    }
    if selected.is_empty() {
        return invalid(FieldError::new("ticket", t.bulk_pick_tickets));
    }
    let outcomes: Vec<OutcomeView> = state
        .services
        .bulk_apply(&viewer.principal, &action, &selected)
        .await
        .into_iter()
        .map(|o| OutcomeView {
            ok: o.result.is_ok(),
            message: match &o.result {
                Ok(_) => t.bulk_done.to_owned(),
                Err(e) => outcome_message(t, viewer.locale.lang, e),
            },
            reference: o.reference,
        })
        .collect();
    let done = outcomes.iter().filter(|o| o.ok).count();
    let failed = outcomes.len() - done;
    let back = if back.starts_with("/queues") && !back.starts_with("//") { back } else { "/queues".to_owned() };
    render(StatusCode::OK, &BulkPage { chrome, t, done, failed, outcomes, back })
}

fn outcome_message(t: &'static Texts, lang: Lang, e: &ServiceError) -> String {
    match e {
        ServiceError::StaleVersion { .. } => t.bulk_stale.to_owned(),
        ServiceError::NotFound { .. } => t.problem_not_found.to_owned(),
        ServiceError::Forbidden(_) => t.problem_forbidden.to_owned(),
        ServiceError::Internal { .. } | ServiceError::Duplicate { .. } | ServiceError::Unavailable(_) => t.problem_unavailable.to_owned(),
        other => crate::refusal::message(lang, other, None),
    }
}

#[derive(Deserialize)]
pub struct SaveViewForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    filters: String,
    shared: Option<String>,
}

/// `POST /queues/views`: saves the current filters under a name (shared: supervisors and admins).
pub async fn save_view(State(state): State<ConsoleState>, viewer: Viewer, axum::Form(form): axum::Form<SaveViewForm>) -> Response {
    match state.services.save_view(&viewer.principal, &form.name, &form.filters, form.shared.is_some()).await {
        Ok(view) => Redirect::to(&format!("/queues?{}", view.filters)).into_response(),
        Err(e) => problem(Chrome::signed_in(&viewer, Section::Queues), &e),
    }
}

/// `POST /queues/views/{id}/delete`.
pub async fn delete_view(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let chrome = || Chrome::signed_in(&viewer, Section::Queues);
    let Ok(id) = steward_domain::ids::SavedViewId::parse("id", &id) else {
        return problem(chrome(), &ServiceError::NotFound { what: "view" });
    };
    match state.services.delete_view(&viewer.principal, id).await {
        Ok(()) => Redirect::to("/queues").into_response(),
        Err(e) => problem(chrome(), &e),
    }
}
