//! Live updates: `/live?ticket={id or number}` and `/live?queue=all` (each with an optional
//! `after={position}`, where the page was rendered; a ticket stream also with `shown={seq}`, the
//! ticket's last event the page shows, so events the page already shows are no news: the page's
//! own change after an htmx swap is not announced), Server-Sent Events for the signed-in viewer, and `/live/tickets/{ticket}`, the smallest page that carries the live panel.
//!
//! A stream waits on the services' change hint (in-process, and from other nodes through the
//! PostgreSQL listener) and on its own heartbeat; each wake reads the events after its last
//! position from the database, scoped to what the viewer may see, so a lost hint loses nothing.
//! Each `changed` event carries its position as the SSE `id`; a reconnecting browser sends it
//! back as `Last-Event-ID` and hears what it missed. A ticket stream also keeps the viewer's
//! presence and sends `viewers` ("also viewing") whenever that list changes.
//!
//! Event data is JSON: `changed` = `{"tickets": [{"id", "number", "events"}], "events", "html"}`,
//! `viewers` = `{"names", "html"}`; `html` is the escaped fragment to show (`assets/console.js`
//! puts it in the element marked `data-live-notice` / `data-live-viewers`).

use crate::i18n::Texts;
use crate::page::{problem, render, Chrome, Section};
use crate::session::Viewer;
use crate::ConsoleState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::collections::{BTreeSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use steward_domain::auth::{Permission, Principal};
use steward_domain::event::EventPosition;
use steward_domain::ids::{TicketId, TicketRef};
use steward_domain::ValidationError;
use steward_services::live::{LiveBatch, LiveChange, LiveScope, HELD_BACK_RETRY, PRESENCE_HEARTBEAT};
use steward_services::{ServiceError, Services};
use tokio::sync::watch;

#[derive(Deserialize)]
pub struct LiveQuery {
    ticket: Option<String>,
    queue: Option<String>,
    /// Where the page that opens the stream was rendered (`data-live-after`): the stream starts
    /// there, so a change between the page and its stream is not missed.
    after: Option<String>,
    /// The ticket's last event the page shows (`data-live-shown`): events up to it are not news.
    shown: Option<String>,
}

fn invalid(field: &str, message: &str) -> ServiceError {
    ServiceError::Invalid(ValidationError::field(field, message))
}

/// `GET /live`: the event stream of one ticket or of every ticket the viewer may see.
pub async fn stream(viewer: Viewer, State(state): State<ConsoleState>, Query(query): Query<LiveQuery>, headers: HeaderMap) -> Response {
    let services = state.services.clone();
    let principal = viewer.principal.clone();
    let fail = |e: &ServiceError| problem(Chrome::signed_in(&viewer, Section::Queues), e);
    let scope = match (query.ticket.as_deref(), query.queue.as_deref()) {
        (Some(ticket), None) => {
            let reference = match TicketRef::parse("ticket", ticket) {
                Ok(r) => r,
                Err(e) => return fail(&ServiceError::Invalid(e.into())),
            };
            match services.live_ticket(&principal, reference).await {
                Ok(t) => LiveScope::Ticket(t.id),
                Err(e) => return fail(&e),
            }
        }
        (None, Some("all")) => {
            if let Err(e) = principal.require_ticket_access(Permission::ReadTickets, Permission::ReadDelegatedTickets) {
                return fail(&e.into());
            }
            LiveScope::AllTickets
        }
        (None, Some(_)) => return fail(&invalid("queue", "the live queue stream is `queue=all`")),
        _ => return fail(&invalid("ticket", "name one ticket (`ticket=`) or the queue (`queue=all`)")),
    };
    // A reconnecting browser's Last-Event-ID wins over the page's starting point.
    let resume = match headers.get("last-event-id") {
        Some(v) => Some(("Last-Event-ID", v.to_str().unwrap_or("?"))),
        None => query.after.as_deref().map(|a| ("after", a)),
    };
    let position = match resume {
        Some((field, text)) => match EventPosition::parse(field, text) {
            Ok(p) => p,
            Err(e) => return fail(&ServiceError::Invalid(e.into())),
        },
        None => match services.live_head().await {
            Ok(p) => p,
            Err(e) => return fail(&e),
        },
    };
    let shown = match query.shown.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(text) => match text.parse::<i64>() {
            Ok(seq) if seq >= 0 => seq,
            _ => return fail(&invalid("shown", "the number of the last event the page shows, such as 12")),
        },
    };
    let presence = match scope {
        LiveScope::Ticket(ticket) => Some(Presence { services: services.clone(), ticket, viewer_id: uuid::Uuid::now_v7().to_string() }),
        LiveScope::AllTickets => None,
    };
    let live = LiveStream {
        hint: services.subscribe_changes(),
        services,
        principal,
        scope,
        position,
        shown,
        t: viewer.locale.lang.texts(),
        presence,
        viewers: None,
        events_seen: 0,
        tickets_seen: BTreeSet::new(),
        out: VecDeque::new(),
        next_beat: tokio::time::Instant::now(),
    };
    let events = futures_util::stream::unfold(live, |mut live| async move { live.next().await.map(|e| (Ok::<_, Infallible>(e), live)) });
    let mut response = Sse::new(events).keep_alive(KeepAlive::default()).into_response();
    // Proxies that buffer (nginx) would hold the events back.
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// One open stream's state.
struct LiveStream {
    services: Arc<Services>,
    principal: Principal,
    scope: LiveScope,
    /// The last position read; the next read starts after it.
    position: EventPosition,
    /// A ticket stream: the ticket's events up to this one are on the page already.
    shown: i64,
    hint: watch::Receiver<u64>,
    t: &'static Texts,
    presence: Option<Presence>,
    /// The "also viewing" names last sent.
    viewers: Option<Vec<String>>,
    /// Since the stream opened: events of the ticket, or tickets changed.
    events_seen: usize,
    tickets_seen: BTreeSet<TicketId>,
    out: VecDeque<Event>,
    next_beat: tokio::time::Instant,
}

/// This stream's row in the ticket's viewers; removed when the stream ends.
struct Presence {
    services: Arc<Services>,
    ticket: TicketId,
    viewer_id: String,
}

impl Drop for Presence {
    fn drop(&mut self) {
        let (services, ticket, viewer_id) = (self.services.clone(), self.ticket, std::mem::take(&mut self.viewer_id));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = services.leave_presence(ticket, &viewer_id).await {
                    tracing::warn!(error = %e, "removing a ticket viewer failed; it expires");
                }
            });
        }
    }
}

#[derive(Template)]
#[template(path = "live_notice.html")]
struct Notice<'a> {
    message: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "live_viewers.html")]
struct Viewers<'a> {
    t: &'static Texts,
    names: &'a [String],
}

impl LiveStream {
    /// The next event to send; `None` ends the stream (the ticket is no longer visible to the
    /// viewer, or the server is shutting down).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.out.pop_front() {
                return Some(event);
            }
            if self.services.live_closing() {
                return None;
            }
            if tokio::time::Instant::now() >= self.next_beat {
                self.next_beat = tokio::time::Instant::now() + PRESENCE_HEARTBEAT;
                if let Some(p) = &self.presence {
                    if let Err(e) = self.services.touch_presence(&self.principal, p.ticket, &p.viewer_id).await {
                        tracing::warn!(error = %e, "recording a ticket viewer failed");
                    }
                }
            }
            // Marked seen before reading: a hint that comes during the read wakes the wait below.
            self.hint.borrow_and_update();
            let mut wake = self.next_beat;
            match self.resync().await {
                Ok(batch) if batch.more => continue,
                Ok(batch) if batch.held_back => wake = wake.min(tokio::time::Instant::now() + HELD_BACK_RETRY),
                Ok(_) => {}
                Err(ServiceError::NotFound { .. } | ServiceError::Forbidden(_)) => return None,
                Err(e) => tracing::warn!(error = %e, "a live stream could not read the changes; it tries again"),
            }
            if !self.out.is_empty() {
                continue;
            }
            tokio::select! {
                changed = self.hint.changed() => if changed.is_err() { return None },
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Reads what changed after the position and queues the events to send; says whether to
    /// read again at once (`more`) or soon (`held_back`).
    async fn resync(&mut self) -> Result<Flags, ServiceError> {
        let batch = self.services.live_changes(&self.principal, self.scope, self.position).await?;
        self.position = batch.position;
        if let Some(event) = self.changed(&batch) {
            self.out.push_back(event);
        }
        if let Some(p) = &self.presence {
            let names = self.services.ticket_viewers(&self.principal, p.ticket).await?;
            if self.viewers.as_ref() != Some(&names) {
                let html = render_fragment(&Viewers { t: self.t, names: &names });
                let data = serde_json::json!({ "names": names, "html": html });
                self.out.push_back(Event::default().event("viewers").data(data.to_string()));
                self.viewers = Some(names);
            }
        }
        Ok(Flags { more: batch.more, held_back: batch.held_back })
    }

    /// The `changed` event for what `batch` brings that the page does not show yet, if anything.
    fn changed(&mut self, batch: &LiveBatch) -> Option<Event> {
        let news = |c: &LiveChange| match self.scope {
            LiveScope::Ticket(_) => c.seqs.iter().filter(|seq| **seq > self.shown).count(),
            LiveScope::AllTickets => c.events,
        };
        let changes: Vec<(&LiveChange, usize)> = batch.tickets.iter().map(|c| (c, news(c))).filter(|(_, n)| *n > 0).collect();
        if changes.is_empty() {
            return None;
        }
        self.events_seen += changes.iter().map(|(_, n)| n).sum::<usize>();
        self.tickets_seen.extend(changes.iter().map(|(c, _)| c.ticket_id));
        let (message, link) = match self.scope {
            LiveScope::Ticket(_) => (self.t.live_ticket_changed.replace("{count}", &self.events_seen.to_string()), self.t.live_reload),
            LiveScope::AllTickets => {
                (self.t.live_queue_changed.replace("{count}", &self.tickets_seen.len().to_string()), self.t.live_refresh)
            }
        };
        let tickets: Vec<_> = changes
            .iter()
            .map(|(c, n)| serde_json::json!({"id": c.ticket_id.to_string(), "number": c.number.to_string(), "events": n}))
            .collect();
        let data = serde_json::json!({
            "tickets": tickets,
            "events": self.events_seen,
            "html": render_fragment(&Notice { message: &message, link }),
        });
        Some(Event::default().event("changed").id(batch.position.to_string()).data(data.to_string()))
    }
}

struct Flags {
    more: bool,
    held_back: bool,
}

fn render_fragment(fragment: &impl Template) -> String {
    fragment.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "rendering a live fragment failed");
        String::new()
    })
}

/// What a page needs to carry the live panel (`templates/live_ticket.html`).
pub struct LivePanel {
    pub ticket: String,
    /// The feed's position before the page read what it shows (`Services::live_head`).
    pub after: String,
    /// The ticket's last event the page shows (0: none); the stream does not announce those.
    pub shown: i64,
}

#[derive(Template)]
#[template(path = "live_ticket_page.html")]
struct LiveTicketPage {
    chrome: Chrome,
    number: String,
    title: String,
    stage: String,
    status: String,
    live: LivePanel,
}

/// `GET /live/tickets/{ticket}`: a ticket's headline with its live panel ("changed" notice and
/// "also viewing"); the ticket page carries the same panel.
pub async fn ticket_page(viewer: Viewer, State(state): State<ConsoleState>, Path(reference): Path<String>) -> Response {
    let chrome = Chrome::signed_in(&viewer, Section::Queues);
    let reference = match TicketRef::parse("ticket", &reference) {
        Ok(r) => r,
        Err(e) => return problem(chrome, &ServiceError::Invalid(e.into())),
    };
    // The position first: whatever commits after it is reported, even if the page shows it.
    let after = match state.services.live_head().await {
        Ok(p) => p.to_string(),
        Err(e) => return problem(chrome, &e),
    };
    match state.services.live_ticket(&viewer.principal, reference).await {
        Ok(t) => render(
            StatusCode::OK,
            &LiveTicketPage {
                chrome,
                number: t.number.to_string(),
                title: t.title,
                stage: t.stage,
                status: t.status.as_str().to_owned(),
                live: LivePanel { ticket: t.id.to_string(), after, shown: 0 },
            },
        ),
        Err(e) => problem(chrome, &e),
    }
}
