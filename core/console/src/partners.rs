//! `/partners` and `/partners/{id}`: partners with their contract, the work delegated to them,
//! their statistics and their scorecard with its breakdown (components, weights, inputs; an
//! unrated scorecard says why). Supervisors and admins (`ManagePartners`).

use crate::i18n::ScreenTexts;
use crate::page::{problem, render, Chrome, Section};
use crate::session::Viewer;
use crate::ConsoleState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use steward_domain::auth::Permission;
use steward_domain::ids::PartnerId;
use steward_domain::kpi::format_seconds;
use steward_domain::ticket::TicketQuery;
use steward_services::{PartnerScorecard, ServiceError};

pub struct PartnerRow {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub categories: String,
    pub score: String,
    pub grade: String,
    pub delegated: u64,
}

#[derive(Template)]
#[template(path = "partners.html")]
struct PartnersPage {
    chrome: Chrome,
    s: &'static ScreenTexts,
    window: String,
    partners: Vec<PartnerRow>,
}

fn score_text(card: &PartnerScorecard) -> String {
    card.scorecard.score.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"))
}

pub async fn list(State(state): State<ConsoleState>, viewer: Viewer) -> Response {
    let chrome = Chrome::signed_in(&viewer, Section::Partners);
    if let Err(e) = viewer.principal.require(Permission::ManagePartners) {
        return problem(chrome, &ServiceError::from(e));
    }
    let (from, to) = state.services.default_scorecard_window();
    let cards = match state.services.rank_partners(from, to, None).await {
        Ok(c) => c,
        Err(e) => return problem(chrome, &e),
    };
    let mut partners: Vec<PartnerRow> = cards
        .iter()
        .map(|c| PartnerRow {
            id: c.partner.id.to_string(),
            name: c.partner.name.clone(),
            kind: chrome.t.partner_kind_label(c.partner.kind),
            status: chrome.t.partner_status_label(c.partner.status),
            categories: c.partner.categories.join(", "),
            score: score_text(c),
            grade: c.scorecard.grade.clone(),
            delegated: c.stats.delegated,
        })
        .collect();
    partners.sort_by(|a, b| a.name.cmp(&b.name));
    let window = format!("{} – {}", viewer.locale.time(from), viewer.locale.time(to));
    render(StatusCode::OK, &PartnersPage { s: chrome.t.screens, chrome, window, partners })
}

pub struct Fact {
    pub label: &'static str,
    pub value: String,
}

pub struct ComponentRow {
    pub name: String,
    pub weight: String,
    pub score: String,
    pub inputs: String,
}

pub struct WorkRow {
    pub number: String,
    pub title: String,
    pub status: &'static str,
    pub stage: String,
}

#[derive(Template)]
#[template(path = "partner.html")]
struct PartnerPage {
    chrome: Chrome,
    s: &'static ScreenTexts,
    name: String,
    facts: Vec<Fact>,
    contract: Vec<Fact>,
    window: String,
    stats: Vec<Fact>,
    score: String,
    grade: String,
    unrated: Option<String>,
    components: Vec<ComponentRow>,
    work: Vec<WorkRow>,
}

fn ms(v: Option<i64>) -> String {
    v.map_or_else(|| "–".to_owned(), |ms| format_seconds(ms as f64 / 1000.0))
}

pub async fn show(State(state): State<ConsoleState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let chrome = Chrome::signed_in(&viewer, Section::Partners);
    if let Err(e) = viewer.principal.require(Permission::ManagePartners) {
        return problem(chrome, &ServiceError::from(e));
    }
    let Ok(id) = PartnerId::parse("id", &id) else {
        return problem(chrome, &ServiceError::NotFound { what: "partner" });
    };
    let services = &state.services;
    let (from, to) = services.default_scorecard_window();
    let loaded = async {
        let card = services.partner_scorecard(id, from, to, None).await?;
        let (tickets, _) = services.list_tickets(TicketQuery { delegated_to: Some(id), limit: 50, ..TicketQuery::default() }).await?;
        Ok::<_, ServiceError>((card, tickets))
    }
    .await;
    let (card, tickets) = match loaded {
        Ok(v) => v,
        Err(e) => return problem(chrome, &e),
    };
    let s = chrome.t.screens;
    let locale = &viewer.locale;
    let p = &card.partner;
    let facts = vec![
        Fact { label: s.partner_kind, value: chrome.t.partner_kind_label(p.kind).to_owned() },
        Fact { label: s.col_state, value: chrome.t.partner_status_label(p.status).to_owned() },
        Fact { label: s.partner_contact, value: p.contact.clone().unwrap_or_default() },
        Fact { label: s.partner_categories, value: p.categories.join(", ") },
    ];
    let contract = match &p.contract {
        Some(c) => vec![
            Fact { label: s.contract_start, value: locale.time(c.start) },
            Fact { label: s.contract_end, value: c.end.map_or_else(|| s.open_ended.to_owned(), |e| locale.time(e)) },
            Fact { label: s.contract_first_response, value: c.first_response.to_string() },
            Fact { label: s.contract_resolution, value: c.resolution.to_string() },
            Fact { label: s.contract_calendar, value: c.calendar.clone().unwrap_or_else(|| s.every_hour.to_owned()) },
        ],
        None => Vec::new(),
    };
    let st = &card.stats;
    let stats = vec![
        Fact { label: s.col_delegated, value: st.delegated.to_string() },
        Fact { label: s.ola_judged, value: st.ola_due.to_string() },
        Fact { label: s.ola_met, value: st.ola_met_rate().map_or_else(|| "–".to_owned(), |r| format!("{:.1} %", r * 100.0)) },
        Fact { label: s.resolved, value: st.resolved.to_string() },
        Fact { label: s.mean_resolution, value: ms(st.mean_resolution_ms) },
        Fact { label: s.p90_resolution, value: ms(st.p90_resolution_ms) },
        Fact { label: s.col_answers, value: st.csat_answers.to_string() },
        Fact { label: s.csat_mean, value: st.csat_mean.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}")) },
        Fact { label: s.complaints, value: st.complaints.to_string() },
        Fact { label: s.reopens, value: st.reopens.to_string() },
    ];
    let unrated = if let Some(e) = &card.error {
        Some(e.clone())
    } else if card.scorecard.score.is_none() {
        Some(s.unrated_reason.replace("{judged}", &card.sample.judged.to_string()).replace("{minimum}", &card.sample.minimum.to_string()))
    } else {
        None
    };
    let components = card
        .scorecard
        .components
        .iter()
        .map(|c| ComponentRow {
            name: c.name.clone(),
            weight: format!("{:.0} %", c.weight * 100.0),
            score: c.score.map_or_else(|| s.no_data.to_owned(), |v| format!("{v:.1}")),
            inputs: c.inputs.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", "),
        })
        .collect();
    let work = tickets
        .into_iter()
        .map(|t| WorkRow { number: t.number.to_string(), title: t.title, status: chrome.t.status_label(t.status), stage: t.stage })
        .collect();
    let page = PartnerPage {
        s,
        name: p.name.clone(),
        facts,
        contract,
        window: format!("{} – {}", locale.time(from), locale.time(to)),
        stats,
        score: score_text(&card),
        grade: card.scorecard.grade.clone(),
        unrated,
        components,
        work,
        chrome,
    };
    render(StatusCode::OK, &page)
}
