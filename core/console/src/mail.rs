//! `/admin/mail`: the mail screens. The quarantine (inbound messages held back, with their
//! reasons, keyset pages), one message (its headers and plain text, always escaped and never
//! rendered as HTML; the raw `.eml` as a download; retry it, or make a ticket of it by hand),
//! and the outbox (`/admin/mail/outbox`: each mail's state and last error, filtered by state,
//! a failed one retried). Everything goes through the services the API's `/api/v1/mail` calls, under the
//! same permission (`ManageMail`); a refusal re-renders the page with the message beside the
//! form.

pub(crate) mod texts;

use crate::admin::{AdminLink, Choice, FieldErrors};
use crate::admin_sla::optional;
use crate::i18n::Lang;
use crate::page::{problem, render, Chrome, Section};
use crate::session::Viewer;
use crate::ticket::view::byte_size;
use crate::ConsoleState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use steward_domain::auth::Permission;
use steward_domain::ids::{InboundMailId, MailId, TicketRef};
use steward_domain::mail::{MailState, OutboxMail};
use steward_domain::mail_inbound::{InboundMailState, StoredMail};
use steward_services::mail_inbound::{MailReading, ManualTicket};
use steward_services::ServiceError;
use texts::texts;
pub use texts::MailTexts;

/// Rows on one page of either list.
const PAGE_SIZE: u32 = 50;

/// The overview's links to these screens.
pub fn admin_links(lang: Lang) -> [AdminLink; 2] {
    let m = texts(lang);
    [
        AdminLink { href: "/admin/mail", label: m.quarantine, about: m.quarantine_about },
        AdminLink { href: "/admin/mail/outbox", label: m.outbox, about: m.outbox_about },
    ]
}

/// The page's layout and texts for a viewer allowed to manage mail, or the refusal page.
fn admitted(viewer: &Viewer) -> Result<(Chrome, &'static MailTexts), Box<Response>> {
    let chrome = Chrome::signed_in(viewer, Section::Admin);
    match viewer.principal.require(Permission::ManageMail) {
        Ok(()) => Ok((chrome, texts(viewer.locale.lang))),
        Err(e) => Err(Box::new(problem(chrome, &ServiceError::from(e)))),
    }
}

#[derive(Deserialize)]
pub struct PageParams {
    /// Keyset: the quarantine continues after this id, the outbox below it.
    after: Option<String>,
    before: Option<String>,
    done: Option<String>,
    /// The outbox's state filter (`pending`, `sent`, `failed`; empty: any).
    state: Option<String>,
}

// ---- the quarantine ----

pub struct QuarantineRow {
    pub href: String,
    pub received: String,
    pub from: String,
    pub subject: String,
    pub reason: &'static str,
    pub size: String,
}

#[derive(Template)]
#[template(path = "admin_mail.html")]
struct QuarantinePage {
    chrome: Chrome,
    m: &'static MailTexts,
    notice: Option<&'static str>,
    rows: Vec<QuarantineRow>,
    next_href: Option<String>,
    first_href: Option<&'static str>,
}

fn subject_of(mail: &StoredMail, m: &MailTexts) -> String {
    mail.subject.clone().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| m.no_subject.to_owned())
}

fn message_href(id: InboundMailId) -> String {
    format!("/admin/mail/messages/{id}")
}

pub async fn quarantine(State(state): State<ConsoleState>, viewer: Viewer, Query(p): Query<PageParams>) -> Response {
    let (chrome, m) = match admitted(&viewer) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let after = p.after.as_deref().and_then(|a| InboundMailId::parse("after", a).ok());
    let (page, next) = match state.services.list_quarantine(&viewer.principal, after, PAGE_SIZE).await {
        Ok(v) => v,
        Err(e) => return problem(chrome, &e),
    };
    let locale = &viewer.locale;
    let rows = page
        .iter()
        .map(|mail| QuarantineRow {
            href: message_href(mail.id),
            received: locale.time(mail.received_at),
            from: mail.sender.clone().unwrap_or_else(|| m.no_sender.to_owned()),
            subject: subject_of(mail, m),
            reason: mail.reason.map_or("", |r| m.reason_label(r)),
            size: byte_size(mail.size),
        })
        .collect();
    let notice = match p.done.as_deref() {
        Some("imported") => Some(m.imported),
        Some("ignored") => Some(m.ignored),
        _ => None,
    };
    let page = QuarantinePage {
        chrome,
        m,
        notice,
        rows,
        next_href: next.map(|n| format!("/admin/mail?after={n}")),
        first_href: after.map(|_| "/admin/mail"),
    };
    render(StatusCode::OK, &page)
}

// ---- one message ----

pub struct Fact {
    pub name: &'static str,
    pub value: String,
}

/// The manual ticket form as typed, so a refused form comes back as it was sent.
#[derive(Deserialize, Default)]
pub struct TicketForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    customer_name: String,
    #[serde(default)]
    customer_contact: String,
    #[serde(default)]
    process: String,
}

#[derive(Template)]
#[template(path = "admin_mail_message.html")]
struct MessagePage {
    chrome: Chrome,
    m: &'static MailTexts,
    id: String,
    subject: String,
    facts: Vec<Fact>,
    /// The ticket it went to, once imported.
    ticket: Option<(String, String)>,
    headers: Vec<(String, String)>,
    text: String,
    quarantined: bool,
    notice: Option<&'static str>,
    /// Why the retry was refused, beside its form.
    retry_error: Option<String>,
    /// Why the ticket was not made (a refusal that names no field), beside its form.
    ticket_error: Option<String>,
    form: TicketForm,
    errors: FieldErrors,
    processes: Vec<Choice>,
}

/// What the page shows of a message beyond the form: looked up once per answer.
struct Shown {
    reading: MailReading,
    ticket: Option<(String, String)>,
}

async fn shown(state: &ConsoleState, viewer: &Viewer, id: InboundMailId) -> Result<Shown, ServiceError> {
    let reading = state.services.read_inbound_mail(&viewer.principal, id).await?;
    let ticket = match reading.mail.ticket_id {
        Some(t) => state.services.get_ticket(TicketRef::Id(t)).await.ok().map(|t| (format!("/tickets/{}", t.number), t.number.to_string())),
        None => None,
    };
    Ok(Shown { reading, ticket })
}

struct Refusal {
    status: StatusCode,
    retry: Option<String>,
    ticket: Option<String>,
    errors: FieldErrors,
}

fn message_page(
    state: &ConsoleState,
    viewer: &Viewer,
    (chrome, m): (Chrome, &'static MailTexts),
    shown: Shown,
    notice: Option<&'static str>,
    form: TicketForm,
    refusal: Refusal,
) -> Response {
    let locale = &viewer.locale;
    let mail = &shown.reading.mail;
    let mut facts = vec![
        Fact { name: m.received, value: locale.time(mail.received_at) },
        Fact { name: m.source, value: mail.source.clone() },
        Fact { name: m.from, value: mail.sender.clone().unwrap_or_else(|| m.no_sender.to_owned()) },
        Fact { name: m.message_id, value: mail.message_id.clone().unwrap_or_default() },
        Fact { name: m.state, value: m.state_label(mail.state).to_owned() },
    ];
    if let Some(reason) = mail.reason {
        facts.push(Fact { name: m.reason, value: m.reason_label(reason).to_owned() });
    }
    if let Some(detail) = &mail.detail {
        facts.push(Fact { name: m.detail, value: detail.clone() });
    }
    facts.push(Fact { name: m.size, value: byte_size(mail.size) });
    facts.push(Fact { name: m.attempts, value: mail.attempts.to_string() });
    let default = Choice { value: String::new(), label: m.default_process.to_owned(), selected: form.process.is_empty() };
    let processes = std::iter::once(default)
        .chain(state.services.processes.iter().map(|p| Choice {
            selected: p.key == form.process,
            value: p.key.clone(),
            label: p.name.clone(),
        }))
        .collect();
    let page = MessagePage {
        m,
        id: mail.id.to_string(),
        subject: subject_of(mail, m),
        facts,
        ticket: shown.ticket,
        headers: shown.reading.headers,
        text: shown.reading.text,
        quarantined: mail.state == InboundMailState::Quarantined,
        notice,
        retry_error: refusal.retry,
        ticket_error: refusal.ticket,
        errors: refusal.errors.translated(locale.lang),
        processes,
        form,
        chrome,
    };
    render(refusal.status, &page)
}

impl Refusal {
    fn none() -> Refusal {
        Refusal { status: StatusCode::OK, retry: None, ticket: None, errors: FieldErrors::default() }
    }
}

/// [`admitted`], and the message the path names (an id that is none is not found).
fn admitted_to(viewer: &Viewer, id: &str) -> Result<((Chrome, &'static MailTexts), InboundMailId), Box<Response>> {
    let (chrome, m) = admitted(viewer)?;
    match inbound_id(id) {
        Ok(id) => Ok(((chrome, m), id)),
        Err(e) => Err(Box::new(problem(chrome, &e))),
    }
}

fn inbound_id(text: &str) -> Result<InboundMailId, ServiceError> {
    InboundMailId::parse("id", text).map_err(|_| ServiceError::NotFound { what: "mail message" })
}

pub async fn message(State(state): State<ConsoleState>, viewer: Viewer, Path(id): Path<String>, Query(p): Query<PageParams>) -> Response {
    let (chrome, m) = match admitted(&viewer) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let found = async { shown(&state, &viewer, inbound_id(&id)?).await }.await;
    match found {
        Ok(shown) => {
            let notice = (p.done.as_deref() == Some("quarantined")).then_some(m.quarantined_again);
            message_page(&state, &viewer, (chrome, m), shown, notice, TicketForm::default(), Refusal::none())
        }
        Err(e) => problem(chrome, &e),
    }
}

/// `GET /admin/mail/messages/{id}/raw`: the bytes as received, as a download that is never
/// shown inline.
pub async fn raw(State(state): State<ConsoleState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let (chrome, _) = match admitted(&viewer) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let found = async { state.services.inbound_mail_raw(&viewer.principal, inbound_id(&id)?).await }.await;
    match found {
        Ok(bytes) => crate::files::download_named(&format!("message-{id}.eml"), "message/rfc822", bytes.into()),
        Err(e) => problem(chrome, &e),
    }
}

/// A refusal of a message's form: the page again, the message beside the form; a failure that
/// is not the form's is the problem page.
async fn refused(
    state: &ConsoleState,
    viewer: &Viewer,
    (chrome, m): (Chrome, &'static MailTexts),
    id: InboundMailId,
    form: TicketForm,
    error: ServiceError,
    on_ticket_form: bool,
) -> Response {
    let shown = match shown(state, viewer, id).await {
        Ok(s) => s,
        Err(e) => return problem(chrome, &e),
    };
    let lang = viewer.locale.lang;
    let refusal = match &error {
        // Imported or settled meanwhile: said with the state it is in now, in words.
        ServiceError::Conflict { field: None, .. } => {
            let said = m.not_quarantined.replace("{state}", m.state_label(shown.reading.mail.state));
            let (retry, ticket) = if on_ticket_form { (None, Some(said)) } else { (Some(said), None) };
            Refusal { status: StatusCode::CONFLICT, retry, ticket, errors: FieldErrors::default() }
        }
        ServiceError::Invalid(_) | ServiceError::Conflict { .. } if on_ticket_form => {
            let errors = FieldErrors::of(&error).unwrap_or_default();
            // The ticket's fields by the form's names.
            let errors = FieldErrors(
                errors
                    .0
                    .into_iter()
                    .map(|(field, message)| {
                        let input = match field.as_str() {
                            "customer.name" => "customer_name".to_owned(),
                            "customer.contact" => "customer_contact".to_owned(),
                            _ => field,
                        };
                        (input, message)
                    })
                    .collect::<BTreeMap<_, _>>(),
            );
            let shown_beside = ["title", "customer_name", "customer_contact", "process"];
            let elsewhere: Vec<String> = errors
                .0
                .iter()
                .filter(|(f, _)| !shown_beside.contains(&f.as_str()))
                .map(|(f, message)| crate::refusal::field_error(lang, &steward_domain::FieldError::new(f.as_str(), message.as_str())))
                .collect();
            let ticket =
                Some(if elsewhere.is_empty() { m.refused.to_owned() } else { elsewhere.join(crate::refusal::texts(lang).separator) });
            Refusal { status: StatusCode::UNPROCESSABLE_ENTITY, retry: None, ticket, errors }
        }
        ServiceError::NotFound { .. } | ServiceError::Forbidden(_) | ServiceError::Unavailable(_) | ServiceError::Internal { .. } => {
            return problem(chrome, &error)
        }
        other => {
            let said = Some(crate::refusal::message(lang, other, None));
            let (retry, ticket) = if on_ticket_form { (None, said) } else { (said, None) };
            Refusal { status: StatusCode::UNPROCESSABLE_ENTITY, retry, ticket, errors: FieldErrors::default() }
        }
    };
    message_page(state, viewer, (chrome, m), shown, None, form, refusal)
}

/// `POST /admin/mail/messages/{id}/retry`: imported or ignored → 303 to the quarantine; held
/// again → 303 back to the message, which shows the reason that holds now.
pub async fn retry(State(state): State<ConsoleState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let ((chrome, m), id) = match admitted_to(&viewer, &id) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    match state.services.retry_inbound_mail(&viewer.principal, id).await {
        Ok(mail) => Redirect::to(&match mail.state {
            InboundMailState::Quarantined => format!("{}?done=quarantined", message_href(id)),
            InboundMailState::Ignored => "/admin/mail?done=ignored".to_owned(),
            _ => "/admin/mail?done=imported".to_owned(),
        })
        .into_response(),
        Err(e) => refused(&state, &viewer, (chrome, m), id, TicketForm::default(), e, false).await,
    }
}

/// `POST /admin/mail/messages/{id}/ticket`: the ticket made → 303 to its page.
pub async fn make_ticket(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<TicketForm>,
) -> Response {
    let ((chrome, m), id) = match admitted_to(&viewer, &id) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let manual = ManualTicket {
        title: optional(&form.title),
        customer_name: optional(&form.customer_name),
        customer_contact: optional(&form.customer_contact),
        process: optional(&form.process),
    };
    match state.services.mail_to_ticket(&viewer.principal, id, manual).await {
        Ok(ticket) => Redirect::to(&format!("/tickets/{}", ticket.number)).into_response(),
        Err(e) => refused(&state, &viewer, (chrome, m), id, form, e, true).await,
    }
}

// ---- the outbox ----

pub struct OutboxRow {
    pub id: String,
    pub queued: String,
    pub kind: &'static str,
    pub to: String,
    pub subject: String,
    pub ticket: Option<(String, String)>,
    /// The state's CSS key (`queued`, `retrying`, `sent`, `failed`) and its words.
    pub state: &'static str,
    pub state_label: &'static str,
    /// When it is next tried, or when it was sent.
    pub when: String,
    pub attempts: usize,
    pub error: String,
    pub failed: bool,
}

#[derive(Template)]
#[template(path = "admin_mail_outbox.html")]
struct OutboxPage {
    chrome: Chrome,
    m: &'static MailTexts,
    notice: Option<&'static str>,
    error: Option<&'static str>,
    rows: Vec<OutboxRow>,
    /// The state filter's choices, the chosen one selected; whether one is chosen.
    states: Vec<Choice>,
    filtered: bool,
    next_href: Option<String>,
    first_href: Option<String>,
}

/// The outbox's address for `state` (none: any), continuing below `before`.
fn outbox_href(state: Option<MailState>, before: Option<MailId>) -> String {
    let mut query: Vec<String> = Vec::new();
    if let Some(state) = state {
        query.push(format!("state={state}"));
    }
    if let Some(before) = before {
        query.push(format!("before={before}"));
    }
    match query.is_empty() {
        true => "/admin/mail/outbox".to_owned(),
        false => format!("/admin/mail/outbox?{}", query.join("&")),
    }
}

/// A mail's state as the outbox names it: waiting mail is queued until an attempt failed, then
/// retrying.
fn outbox_state(mail: &OutboxMail, m: &'static MailTexts) -> (&'static str, &'static str) {
    match mail.state {
        MailState::Pending if mail.attempts.is_empty() => ("queued", m.queued),
        MailState::Pending => ("retrying", m.retrying),
        MailState::Sent => ("sent", m.sent),
        MailState::Failed => ("failed", m.failed),
    }
}

async fn outbox_page(
    state: &ConsoleState,
    viewer: &Viewer,
    (chrome, m): (Chrome, &'static MailTexts),
    (filter, before): (Option<MailState>, Option<MailId>),
    notice: Option<&'static str>,
    error: Option<&'static str>,
) -> Response {
    let services = &state.services;
    let (mails, next) = match services.list_mail(&viewer.principal, filter, before, PAGE_SIZE).await {
        Ok(v) => v,
        Err(e) => return problem(chrome, &e),
    };
    // Each ticket's number once, for the links.
    let mut numbers = HashMap::new();
    for id in mails.iter().filter_map(|mail| mail.ticket_id) {
        if let std::collections::hash_map::Entry::Vacant(slot) = numbers.entry(id) {
            if let Ok(t) = services.get_ticket(TicketRef::Id(id)).await {
                slot.insert(t.number.to_string());
            }
        }
    }
    let locale = &viewer.locale;
    let rows = mails
        .iter()
        .map(|mail| {
            let (key, label) = outbox_state(mail, m);
            let when = match (mail.state, mail.next_attempt_at, mail.sent_at) {
                (MailState::Sent, _, Some(at)) => format!("{} {}", m.sent_at, locale.time(at)),
                (MailState::Pending, Some(at), _) => format!("{} {}", m.next_attempt, locale.time(at)),
                _ => String::new(),
            };
            OutboxRow {
                id: mail.id.to_string(),
                queued: locale.time(mail.created_at),
                kind: m.kind_label(mail.kind),
                to: mail.recipient.clone(),
                subject: mail.subject.clone(),
                ticket: mail.ticket_id.and_then(|t| numbers.get(&t)).map(|n| (format!("/tickets/{n}"), n.clone())),
                state: key,
                state_label: label,
                when,
                attempts: mail.attempts.len(),
                error: mail.last_error.clone().unwrap_or_default(),
                failed: mail.state == MailState::Failed,
            }
        })
        .collect();
    let status = if error.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
    let any = Choice { value: String::new(), label: m.any_state.to_owned(), selected: filter.is_none() };
    let states = std::iter::once(any)
        .chain(MailState::ALL.iter().map(|s| Choice {
            value: s.as_str().to_owned(),
            label: m.filter_label(*s).to_owned(),
            selected: filter == Some(*s),
        }))
        .collect();
    let page = OutboxPage {
        chrome,
        m,
        notice,
        error,
        rows,
        states,
        filtered: filter.is_some(),
        next_href: next.map(|n| outbox_href(filter, Some(n))),
        first_href: before.map(|_| outbox_href(filter, None)),
    };
    render(status, &page)
}

pub async fn outbox(State(state): State<ConsoleState>, viewer: Viewer, Query(p): Query<PageParams>) -> Response {
    let (chrome, m) = match admitted(&viewer) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let before = p.before.as_deref().and_then(|b| MailId::parse("before", b).ok());
    // An unknown state (an edited address) shows every state, as the empty choice does.
    let filter = p.state.as_deref().filter(|s| !s.is_empty()).and_then(|s| MailState::parse("state", s).ok());
    let notice = (p.done.as_deref() == Some("retried")).then_some(m.retry_queued);
    outbox_page(&state, &viewer, (chrome, m), (filter, before), notice, None).await
}

/// `POST /admin/mail/outbox/{id}/retry`: a failed mail queued again → 303 to the outbox; any
/// other mail is refused on the outbox page (409).
pub async fn retry_mail(State(state): State<ConsoleState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let (chrome, m) = match admitted(&viewer) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Ok(id) = MailId::parse("id", &id) else {
        return problem(chrome, &ServiceError::NotFound { what: "mail" });
    };
    match state.services.retry_mail(&viewer.principal, id).await {
        Ok(()) => Redirect::to("/admin/mail/outbox?done=retried").into_response(),
        Err(ServiceError::Conflict { .. }) => outbox_page(&state, &viewer, (chrome, m), (None, None), None, Some(m.retry_refused)).await,
        Err(e) => problem(chrome, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_pages_keep_the_state_filter() {
        let below = MailId::parse("before", "01a20c6d-0000-7000-8000-000000000000").unwrap();
        assert_eq!(outbox_href(None, None), "/admin/mail/outbox");
        assert_eq!(outbox_href(Some(MailState::Failed), None), "/admin/mail/outbox?state=failed");
        assert_eq!(outbox_href(None, Some(below)), format!("/admin/mail/outbox?before={below}"));
        assert_eq!(outbox_href(Some(MailState::Pending), Some(below)), format!("/admin/mail/outbox?state=pending&before={below}"));
    }
}
