//! `/tickets/{number}`: one ticket, its process, SLA, timeline, and every action on it.
//!
//! The page is built in one pass (`view::build`) and rendered by `templates/ticket.html`, which
//! includes one template per part (header, stages, SLA, timeline, composer, actions) so a part
//! can be rendered alone (`/tickets/{number}/timeline` renders the timeline, the hook for live
//! updates is `#ticket-live`). Every action is a plain form posted to
//! `/tickets/{number}/{action}` carrying the version and the last event the page showed: a
//! success redirects back to the page; a refusal re-renders the page with the message beside
//! the form (422); a change made meanwhile is not applied, and the page lists what changed
//! since and offers to apply it again (409).

pub mod texts;
pub mod view;

use crate::live::LivePanel;
use crate::page::{problem, render, Chrome, Section};
use crate::session::Viewer;
use crate::ConsoleState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use steward_domain::auth::Permission;
use steward_domain::feedback::{ChecklistItem, ReviewOutcome};
use steward_domain::ids::{PartnerId, StaffId, TicketRef};
use steward_domain::text;
use steward_domain::ticket::{Priority, Ticket, TicketPatch, Visibility};
use steward_services::ServiceError;
use texts::TicketTexts;
use view::View;

#[derive(Template)]
#[template(path = "ticket.html")]
pub struct TicketPage {
    pub chrome: Chrome,
    pub tt: &'static TicketTexts,
    pub v: View,
    /// "This ticket changed" and "also viewing", kept current over `/live` (templates/live_ticket.html).
    pub live: LivePanel,
}

/// The timeline alone (the comments-only toggle, live updates).
#[derive(Template)]
#[template(path = "ticket_timeline.html")]
pub struct TimelineFragment {
    pub tt: &'static TicketTexts,
    pub v: View,
}

#[derive(Deserialize)]
pub struct PageQuery {
    comments: Option<String>,
}

impl PageQuery {
    fn comments_only(&self) -> bool {
        self.comments.as_deref().is_some_and(|c| c == "1")
    }
}

/// The ticket as `viewer` may see it: a partner's other tickets do not exist for it.
async fn visible(state: &ConsoleState, viewer: &Viewer, number: &str) -> Result<(Ticket, Option<PartnerId>), ServiceError> {
    let partner = view::partner_scope(viewer)?;
    let ticket = state.services.ticket_for(view::reference(number)?, partner).await?;
    Ok((ticket, partner))
}

pub async fn show(State(state): State<ConsoleState>, viewer: Viewer, Path(number): Path<String>, Query(q): Query<PageQuery>) -> Response {
    let tt = texts::texts(viewer.locale.lang);
    let outcome = async {
        // The feed's position before reading the ticket: whatever commits after it is reported live.
        let after = state.services.live_head().await?.to_string();
        let (ticket, partner) = visible(&state, &viewer, &number).await?;
        let v = view::build(&state.services, &viewer, tt, ticket, partner, q.comments_only()).await?;
        Ok::<_, ServiceError>((v, after))
    }
    .await;
    match outcome {
        Ok((v, after)) => {
            let live = LivePanel { ticket: v.id.clone(), after };
            render(StatusCode::OK, &TicketPage { chrome: Chrome::signed_in(&viewer, Section::Queues), tt, v, live })
        }
        Err(e) => problem(Chrome::signed_in(&viewer, Section::Queues), &e),
    }
}

pub async fn timeline(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path(number): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let tt = texts::texts(viewer.locale.lang);
    let outcome = async {
        let (ticket, partner) = visible(&state, &viewer, &number).await?;
        view::build(&state.services, &viewer, tt, ticket, partner, q.comments_only()).await
    }
    .await;
    match outcome {
        Ok(v) => render(StatusCode::OK, &TimelineFragment { tt, v }),
        Err(e) => problem(Chrome::signed_in(&viewer, Section::Queues), &e),
    }
}

/// How an action failed.
enum Refusal {
    /// Shown beside the form of `Part`, the page re-rendered (422).
    Inline(Part, String),
    /// The ticket moved on from the version the form was rendered from (409).
    Stale,
    /// Not this person's to do, or no such ticket: the error page.
    Page(ServiceError),
}

#[derive(Clone, Copy)]
enum Part {
    Comment,
    Moves,
    Assign,
    AssignReason,
    Priority,
    Delegate,
    Review,
    Reopen,
}

impl Refusal {
    fn from_service(part: Part, e: ServiceError) -> Refusal {
        match e {
            ServiceError::StaleVersion { .. } => Refusal::Stale,
            e @ (ServiceError::NotFound { .. }
            | ServiceError::Forbidden(_)
            | ServiceError::Unavailable(_)
            | ServiceError::Internal { .. }) => Refusal::Page(e),
            ServiceError::Vetoed { plugin, reason, .. } => Refusal::Inline(part, format!("{plugin}: {reason}")),
            ServiceError::CertificationRequired(r) => {
                let part = if matches!(part, Part::Assign) { Part::AssignReason } else { part };
                Refusal::Inline(part, r.to_string())
            }
            other => Refusal::Inline(part, other.to_string()),
        }
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn forbid(e: steward_domain::auth::Forbidden) -> Refusal {
    Refusal::Page(ServiceError::Forbidden(e))
}

/// Every action posts here: `comment`, `move`, `reopen`, `assign`, `priority`, `delegate`, `review`.
pub async fn act(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path((number, action)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let tt = texts::texts(viewer.locale.lang);
    let chrome = || Chrome::signed_in(&viewer, Section::Queues);
    let (ticket, partner) = match visible(&state, &viewer, &number).await {
        Ok(found) => found,
        Err(e) => return problem(chrome(), &e),
    };
    let base = format!("/tickets/{}", ticket.number);
    let seen: i64 = field(&fields, "seen").and_then(|s| s.parse().ok()).unwrap_or(0);
    let outcome = perform(&state, &viewer, &ticket, partner, &action, &fields).await;
    let refusal = match outcome {
        Ok(()) => return Redirect::to(&format!("{base}#timeline")).into_response(),
        Err(refusal) => refusal,
    };
    let rebuilt = async {
        let current = state.services.ticket_for(TicketRef::Id(ticket.id), partner).await?;
        view::build(&state.services, &viewer, tt, current, partner, false).await
    }
    .await;
    let mut v = match rebuilt {
        Ok(v) => v,
        Err(e) => return problem(chrome(), &e),
    };
    // What the person typed comes back with the page.
    v.draft.body = field(&fields, "body").unwrap_or_default().to_owned();
    v.draft.internal = field(&fields, "visibility") == Some("internal");
    v.draft.assignee = field(&fields, "assignee").map(str::to_owned);
    v.draft.override_reason = field(&fields, "override_reason").unwrap_or_default().to_owned();
    let status = match refusal {
        Refusal::Page(e) => return problem(chrome(), &e),
        Refusal::Inline(part, message) => {
            let e = &mut v.errors;
            match part {
                Part::Comment => e.comment = Some(message),
                Part::Moves => e.moves = Some(message),
                Part::Assign => e.assign = Some(message),
                Part::AssignReason => {
                    e.assign_needs_reason = v.assign.as_ref().is_some_and(|a| a.can_override);
                    e.assign = Some(message);
                }
                Part::Priority => e.priority = Some(message),
                Part::Delegate => e.delegate = Some(message),
                Part::Review => e.review = Some(message),
                Part::Reopen => e.reopen = Some(message),
            }
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Refusal::Stale => {
            let staff = view::staff_names(&state.services).await.unwrap_or_default();
            let process = state.services.processes.get(&ticket.process).cloned();
            let since = match state.services.ticket_events_for(TicketRef::Id(ticket.id), partner, seen, view::MAX_EVENTS).await {
                Ok(events) => events.iter().map(|e| view::event_row(e, tt, &viewer.locale, &staff, process.as_deref())).collect(),
                Err(e) => return problem(chrome(), &e),
            };
            let mut again: Vec<(String, String)> = fields.iter().filter(|(k, _)| k != "version" && k != "seen").cloned().collect();
            again.push(("version".into(), v.version.to_string()));
            again.push(("seen".into(), v.seen.to_string()));
            v.conflict = Some(view::Conflict { events: since, action: format!("{base}/{action}"), fields: again });
            StatusCode::CONFLICT
        }
    };
    let after = match state.services.live_head().await {
        Ok(p) => p.to_string(),
        Err(e) => return problem(chrome(), &e),
    };
    let live = LivePanel { ticket: v.id.clone(), after };
    render(status, &TicketPage { chrome: chrome(), tt, v, live })
}

/// The version the form was rendered from.
fn version(fields: &[(String, String)], part: Part) -> Result<i64, Refusal> {
    field(fields, "version")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Refusal::Inline(part, "version: the form lacks the version it was shown at; reload the page".into()))
}

fn override_reason(viewer: &Viewer, fields: &[(String, String)], part: Part) -> Result<Option<String>, Refusal> {
    match field(fields, "override_reason").map(str::trim) {
        None | Some("") => Ok(None),
        Some(reason) => {
            viewer.principal.require(Permission::OverrideCertification).map_err(forbid)?;
            text::required_reason("override_reason", reason).map(Some).map_err(|e| Refusal::Inline(part, e.to_string()))
        }
    }
}

async fn perform(
    state: &ConsoleState,
    viewer: &Viewer,
    ticket: &Ticket,
    partner: Option<PartnerId>,
    action: &str,
    fields: &[(String, String)],
) -> Result<(), Refusal> {
    let services = &state.services;
    let principal = &viewer.principal;
    let actor = principal.actor();
    let reference = TicketRef::Id(ticket.id);
    match action {
        "comment" => {
            principal.require_ticket_access(Permission::CommentOnTickets, Permission::WorkDelegatedTickets).map_err(forbid)?;
            let visibility = match field(fields, "visibility") {
                Some("internal") => Visibility::Internal,
                Some("public") => Visibility::Public,
                _ => return Err(Refusal::Inline(Part::Comment, "visibility: choose a public reply or an internal note".into())),
            };
            if partner.is_some() && visibility != Visibility::Public {
                return Err(forbid(steward_domain::auth::Forbidden { role: principal.role, action: "write internal notes" }));
            }
            let body = field(fields, "body").unwrap_or_default();
            services
                .comment_on_ticket(reference, body, visibility, false, &actor)
                .await
                .map_err(|e| Refusal::from_service(Part::Comment, e))?;
        }
        "move" => {
            principal.require_ticket_access(Permission::WriteTickets, Permission::WorkDelegatedTickets).map_err(forbid)?;
            let expected = version(fields, Part::Moves)?;
            let to = field(fields, "to").unwrap_or_default().trim().to_owned();
            let note = text::optional_note("note", field(fields, "note").map(str::to_owned))
                .map_err(|e| Refusal::Inline(Part::Moves, e.to_string()))?;
            let reason = override_reason(viewer, fields, Part::Moves)?;
            services
                .transition_ticket(reference, &to, note, Some(expected), reason.as_deref(), &actor)
                .await
                .map_err(|e| Refusal::from_service(Part::Moves, e))?;
        }
        "reopen" => {
            principal.require(Permission::WriteTickets).map_err(forbid)?;
            if version(fields, Part::Reopen)? != ticket.version {
                return Err(Refusal::Stale);
            }
            let reason = text::optional_note("reason", field(fields, "reason").map(str::to_owned))
                .map_err(|e| Refusal::Inline(Part::Reopen, e.to_string()))?;
            services.reopen_ticket(reference, reason, false, &actor).await.map_err(|e| Refusal::from_service(Part::Reopen, e))?;
        }
        "assign" => {
            principal.require(Permission::WriteTickets).map_err(forbid)?;
            let expected = version(fields, Part::Assign)?;
            let assignee = match field(fields, "assignee").map(str::trim) {
                None | Some("") => None,
                Some(id) => Some(StaffId::parse("assignee", id).map_err(|e| Refusal::Inline(Part::Assign, e.to_string()))?),
            };
            let reason = override_reason(viewer, fields, Part::Assign)?;
            let patch = TicketPatch { assignee: Some(assignee), ..TicketPatch::default() };
            services
                .update_ticket(reference, Some(expected), patch, reason.as_deref(), &actor)
                .await
                .map_err(|e| Refusal::from_service(Part::Assign, e))?;
        }
        "priority" => {
            principal.require(Permission::WriteTickets).map_err(forbid)?;
            let expected = version(fields, Part::Priority)?;
            let priority = Priority::parse("priority", field(fields, "priority").unwrap_or_default())
                .map_err(|e| Refusal::Inline(Part::Priority, e.to_string()))?;
            let patch = TicketPatch { priority: Some(priority), ..TicketPatch::default() };
            services
                .update_ticket(reference, Some(expected), patch, None, &actor)
                .await
                .map_err(|e| Refusal::from_service(Part::Priority, e))?;
        }
        "delegate" => {
            principal.require(Permission::ManagePartners).map_err(forbid)?;
            let expected = version(fields, Part::Delegate)?;
            let partner_id = PartnerId::parse("partner_id", field(fields, "partner_id").unwrap_or_default())
                .map_err(|e| Refusal::Inline(Part::Delegate, e.to_string()))?;
            let note = text::optional_note("note", field(fields, "note").map(str::to_owned))
                .map_err(|e| Refusal::Inline(Part::Delegate, e.to_string()))?;
            services
                .delegate_ticket_at(reference, Some(expected), partner_id, note, &actor)
                .await
                .map_err(|e| Refusal::from_service(Part::Delegate, e))?;
        }
        "review" => {
            principal.require(Permission::ReviewTickets).map_err(forbid)?;
            let expected = version(fields, Part::Review)?;
            let outcome = ReviewOutcome::parse("outcome", field(fields, "outcome").unwrap_or_default())
                .map_err(|e| Refusal::Inline(Part::Review, e.to_string()))?;
            let score: i64 = field(fields, "score")
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| Refusal::Inline(Part::Review, "score: a whole number from 0 to 100".into()))?;
            let tt = texts::texts(viewer.locale.lang);
            // Every item of the checklist is answered: ticked passes, unticked fails.
            let checklist = tt
                .review_checklist
                .iter()
                .enumerate()
                .map(|(i, item)| ChecklistItem { item: (*item).to_owned(), passed: field(fields, &format!("check{i}")).is_some() })
                .collect();
            let notes = text::optional_note("notes", field(fields, "notes").map(str::to_owned))
                .map_err(|e| Refusal::Inline(Part::Review, e.to_string()))?;
            services
                .review_ticket_at(reference, Some(expected), outcome, score, checklist, notes, &actor)
                .await
                .map_err(|e| Refusal::from_service(Part::Review, e))?;
        }
        _ => return Err(Refusal::Page(ServiceError::NotFound { what: "action" })),
    }
    Ok(())
}
