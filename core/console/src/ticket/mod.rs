//! `/tickets/{number}`: one ticket, its process, SLA, timeline, and every action on it.
//!
//! The page is built in one pass (`view::build`) and rendered by `templates/ticket.html`, which
//! includes one template per part (header, stages, SLA, timeline, composer, actions) so a part
//! can be rendered alone (`/tickets/{number}/timeline` renders the timeline, the hook for live
//! updates is `#ticket-live`). Every action is a plain form posted to
//! `/tickets/{number}/{action}` carrying the version and the last event the page showed: a
//! success redirects back to the page; a refusal re-renders the page with the message beside
//! the form (422); a change made meanwhile is not applied, and the page lists what changed
//! since and offers to apply it again (409). Posted by htmx (`HX-Request`), the same outcomes
//! answer the parts as out-of-band swaps instead (`templates/ticket_swap.html`), so the page
//! changes in place.

pub mod texts;
pub mod view;

use crate::i18n::Lang;
use crate::live::LivePanel;
use crate::page::{problem, render, Chrome, Section};
use crate::refusal;
use crate::session::Viewer;
use crate::ConsoleState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use steward_domain::auth::Permission;
use steward_domain::feedback::{ChecklistItem, ReviewOutcome};
use steward_domain::ids::{PartnerId, StaffId, TicketRef};
use steward_domain::process::Process;
use steward_domain::text;
use steward_domain::ticket::{Priority, Ticket, TicketPatch, Visibility};
use steward_domain::FieldError;
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
    /// Whether the parts are rendered as out-of-band swaps (false: the page).
    pub oob: bool,
}

/// The answer to an htmx post: the page's parts as out-of-band swaps (`templates/ticket_swap.html`).
#[derive(Template)]
#[template(path = "ticket_swap.html")]
pub struct TicketSwap {
    pub chrome: Chrome,
    pub tt: &'static TicketTexts,
    pub v: View,
    pub live: LivePanel,
    pub oob: bool,
    /// The timeline's events after the last one the page showed.
    pub new_events: Vec<view::EventRow>,
    /// Whether the composer is swapped too (after a comment).
    pub composer: bool,
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
            let live = LivePanel { ticket: v.id.clone(), after, shown: v.seen };
            render(StatusCode::OK, &TicketPage { chrome: Chrome::signed_in(&viewer, Section::Queues), tt, v, live, oob: false })
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
    /// How `e` refused an action on a ticket of `process`, in `lang` where it is shown inline.
    fn from_service(part: Part, e: ServiceError, lang: Lang, process: Option<&Process>) -> Refusal {
        match e {
            ServiceError::StaleVersion { .. } => Refusal::Stale,
            e @ (ServiceError::NotFound { .. }
            | ServiceError::Forbidden(_)
            | ServiceError::Unavailable(_)
            | ServiceError::Internal { .. }) => Refusal::Page(e),
            ServiceError::CertificationRequired(_) => {
                let part = if matches!(part, Part::Assign) { Part::AssignReason } else { part };
                Refusal::Inline(part, refusal::message(lang, &e, process))
            }
            other => Refusal::Inline(part, refusal::message(lang, &other, process)),
        }
    }
}

/// A field the console checks itself, refused beside the form of `part`.
fn invalid(part: Part, lang: Lang) -> impl Fn(FieldError) -> Refusal {
    move |e| Refusal::Inline(part, refusal::field_error(lang, &e))
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn forbid(e: steward_domain::auth::Forbidden) -> Refusal {
    Refusal::Page(ServiceError::Forbidden(e))
}

/// Every action posts here: `comment`, `move`, `reopen`, `assign`, `priority`, `delegate`, `review`.
///
/// A plain form post (no JavaScript) answers a 303 back to the page on success and the whole
/// page on a refusal. An htmx post (`HX-Request`) answers the parts instead (`TicketSwap`), with
/// the same statuses: 200, 422 or 409; a refusal that is a page (not found, forbidden,
/// unavailable) answers that page with `HX-Refresh`, so the browser loads it as a page.
pub async fn act(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path((number, action)): Path<(String, String)>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let htmx = headers.contains_key("hx-request");
    let tt = texts::texts(viewer.locale.lang);
    let chrome = || Chrome::signed_in(&viewer, Section::Queues);
    let page_error = |e: &ServiceError| {
        let mut response = problem(chrome(), e);
        if htmx {
            response.headers_mut().insert("hx-refresh", HeaderValue::from_static("true"));
        }
        response
    };
    let (ticket, partner) = match visible(&state, &viewer, &number).await {
        Ok(found) => found,
        Err(e) => return page_error(&e),
    };
    let base = format!("/tickets/{}", ticket.number);
    let seen: i64 = field(&fields, "seen").and_then(|s| s.parse().ok()).unwrap_or(0);
    let refusal = match perform(&state, &viewer, &ticket, partner, &action, &fields).await {
        Ok(()) if !htmx => return Redirect::to(&format!("{base}#timeline")).into_response(),
        Ok(()) => None,
        Err(refusal) => Some(refusal),
    };
    // The feed's position first, then the ticket: the answer shows everything up to it.
    let comments_only = htmx && field(&fields, "timeline") == Some("comments");
    let rebuilt = async {
        let after = state.services.live_head().await?.to_string();
        let current = state.services.ticket_for(TicketRef::Id(ticket.id), partner).await?;
        Ok::<_, ServiceError>((view::build(&state.services, &viewer, tt, current, partner, comments_only).await?, after))
    }
    .await;
    let (mut v, after) = match rebuilt {
        Ok(built) => built,
        Err(e) => return page_error(&e),
    };
    let status = match refusal {
        None => {
            v.focus = focus_after(&action, None);
            StatusCode::OK
        }
        Some(refusal) => {
            keep_draft(&mut v.draft, &action, &fields);
            match refusal {
                Refusal::Page(e) => return page_error(&e),
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
                    v.focus = focus_after(&action, Some(part));
                    if v.errors.assign_needs_reason {
                        v.focus = "override-reason";
                    }
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                Refusal::Stale => {
                    let staff = view::staff_names(&state.services).await.unwrap_or_default();
                    let process = state.services.processes.get(&ticket.process).cloned();
                    let events = match state.services.ticket_events_for(TicketRef::Id(ticket.id), partner, seen, view::MAX_EVENTS).await {
                        Ok(events) => events,
                        Err(e) => return page_error(&e),
                    };
                    // Marked as the timeline marks them: what arrived by mail meanwhile.
                    let mailed = match view::mailed_events(&state.services, ticket.id, &events).await {
                        Ok(mailed) => mailed,
                        Err(e) => return page_error(&e),
                    };
                    let since = events
                        .iter()
                        .map(|e| view::EventRow {
                            by_email: mailed.contains(&e.seq),
                            ..view::event_row(e, tt, &viewer.locale, &staff, process.as_deref())
                        })
                        .collect();
                    let mut again: Vec<(String, String)> =
                        fields.iter().filter(|(k, _)| k != "version" && k != "seen" && k != "timeline").cloned().collect();
                    again.push(("version".into(), v.version.to_string()));
                    again.push(("seen".into(), v.seen.to_string()));
                    v.conflict = Some(view::Conflict { events: since, action: format!("{base}/{action}"), fields: again });
                    v.focus = "conflict-title";
                    StatusCode::CONFLICT
                }
            }
        }
    };
    let live = LivePanel { ticket: v.id.clone(), after, shown: v.seen };
    if !htmx {
        return render(status, &TicketPage { chrome: chrome(), tt, v, live, oob: false });
    }
    // The timeline gets the events the page did not show yet; the composer is swapped only
    // after a comment (cleared, or with the refused text), so a draft there is never lost.
    let new_events = std::mem::take(&mut v.events).into_iter().filter(|e| e.seq > seen).collect();
    let composer = action == "comment";
    render(status, &TicketSwap { chrome: chrome(), tt, v, live, oob: true, new_events, composer })
}

/// What the person typed into the form of `action`, kept for the answer to a refusal.
fn keep_draft(draft: &mut view::Draft, action: &str, fields: &[(String, String)]) {
    let text = |name: &str| field(fields, name).unwrap_or_default().to_owned();
    match action {
        "comment" => {
            draft.body = text("body");
            draft.internal = field(fields, "visibility") == Some("internal");
        }
        "assign" => {
            draft.assignee = field(fields, "assignee").map(str::to_owned);
            draft.override_reason = text("override_reason");
        }
        "move" => {
            draft.move_note = text("note");
            draft.override_reason = text("override_reason");
        }
        "reopen" => draft.reopen_reason = text("reason"),
        "delegate" => {
            draft.partner = field(fields, "partner_id").map(str::to_owned);
            draft.delegate_note = text("note");
        }
        "review" => {
            let checked = fields.iter().filter_map(|(k, _)| k.strip_prefix("check")?.parse().ok()).collect();
            draft.review = Some(view::ReviewDraft {
                checked,
                fail: field(fields, "outcome") == Some("fail"),
                score: text("score"),
                notes: text("notes"),
            });
        }
        _ => {}
    }
}

/// Where the focus goes after `action`: on success, back to where the person works next; after
/// a refusal, to the field to correct (the message beside it is announced as an alert).
fn focus_after(action: &str, refused: Option<Part>) -> &'static str {
    match (action, refused) {
        ("comment", _) => "comment-body",
        ("move", Some(_)) => "move-note",
        ("reopen", Some(_)) => "reopen-reason",
        ("assign", _) => "assignee",
        ("priority", _) => "priority-select",
        ("delegate", Some(_)) => "partner-select",
        ("delegate", None) => "delegation-title",
        ("review", Some(_)) => "review-score",
        _ => "stages-title",
    }
}

/// The version the form was rendered from.
fn version(fields: &[(String, String)], part: Part, lang: Lang) -> Result<i64, Refusal> {
    field(fields, "version")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Refusal::Inline(part, refusal::texts(lang).form_version.to_owned()))
}

fn override_reason(viewer: &Viewer, fields: &[(String, String)], part: Part) -> Result<Option<String>, Refusal> {
    match field(fields, "override_reason").map(str::trim) {
        None | Some("") => Ok(None),
        Some(reason) => {
            viewer.principal.require(Permission::OverrideCertification).map_err(forbid)?;
            text::required_reason("override_reason", reason).map(Some).map_err(invalid(part, viewer.locale.lang))
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
    let lang = viewer.locale.lang;
    let process = services.processes.get(&ticket.process).cloned();
    let process = process.as_deref();
    let refused = |part: Part| move |e: ServiceError| Refusal::from_service(part, e, lang, process);
    match action {
        "comment" => {
            principal.require_ticket_access(Permission::CommentOnTickets, Permission::WorkDelegatedTickets).map_err(forbid)?;
            let visibility = match field(fields, "visibility") {
                Some("internal") => Visibility::Internal,
                Some("public") => Visibility::Public,
                _ => return Err(Refusal::Inline(Part::Comment, refusal::texts(lang).pick_visibility.to_owned())),
            };
            if partner.is_some() && visibility != Visibility::Public {
                return Err(forbid(steward_domain::auth::Forbidden { role: principal.role, action: "write internal notes" }));
            }
            let body = field(fields, "body").unwrap_or_default();
            services.comment_on_ticket(reference, body, visibility, false, &actor).await.map_err(refused(Part::Comment))?;
        }
        "move" => {
            principal.require_ticket_access(Permission::WriteTickets, Permission::WorkDelegatedTickets).map_err(forbid)?;
            let expected = version(fields, Part::Moves, lang)?;
            let to = field(fields, "to").unwrap_or_default().trim().to_owned();
            let note = text::optional_note("note", field(fields, "note").map(str::to_owned)).map_err(invalid(Part::Moves, lang))?;
            let reason = override_reason(viewer, fields, Part::Moves)?;
            services
                .transition_ticket(reference, &to, note, Some(expected), reason.as_deref(), &actor)
                .await
                .map_err(refused(Part::Moves))?;
        }
        "reopen" => {
            principal.require(Permission::WriteTickets).map_err(forbid)?;
            if version(fields, Part::Reopen, lang)? != ticket.version {
                return Err(Refusal::Stale);
            }
            let reason = text::optional_note("reason", field(fields, "reason").map(str::to_owned)).map_err(invalid(Part::Reopen, lang))?;
            services.reopen_ticket(reference, reason, false, &actor).await.map_err(refused(Part::Reopen))?;
        }
        "assign" => {
            principal.require(Permission::WriteTickets).map_err(forbid)?;
            let expected = version(fields, Part::Assign, lang)?;
            let assignee = match field(fields, "assignee").map(str::trim) {
                None | Some("") => None,
                Some(id) => Some(StaffId::parse("assignee", id).map_err(invalid(Part::Assign, lang))?),
            };
            let reason = override_reason(viewer, fields, Part::Assign)?;
            let patch = TicketPatch { assignee: Some(assignee), ..TicketPatch::default() };
            services.update_ticket(reference, Some(expected), patch, reason.as_deref(), &actor).await.map_err(refused(Part::Assign))?;
        }
        "priority" => {
            principal.require(Permission::WriteTickets).map_err(forbid)?;
            let expected = version(fields, Part::Priority, lang)?;
            let priority =
                Priority::parse("priority", field(fields, "priority").unwrap_or_default()).map_err(invalid(Part::Priority, lang))?;
            let patch = TicketPatch { priority: Some(priority), ..TicketPatch::default() };
            services.update_ticket(reference, Some(expected), patch, None, &actor).await.map_err(refused(Part::Priority))?;
        }
        "delegate" => {
            principal.require(Permission::ManagePartners).map_err(forbid)?;
            let expected = version(fields, Part::Delegate, lang)?;
            let partner_id =
                PartnerId::parse("partner_id", field(fields, "partner_id").unwrap_or_default()).map_err(invalid(Part::Delegate, lang))?;
            let note = text::optional_note("note", field(fields, "note").map(str::to_owned)).map_err(invalid(Part::Delegate, lang))?;
            services.delegate_ticket_at(reference, Some(expected), partner_id, note, &actor).await.map_err(refused(Part::Delegate))?;
        }
        "review" => {
            principal.require(Permission::ReviewTickets).map_err(forbid)?;
            let expected = version(fields, Part::Review, lang)?;
            let outcome =
                ReviewOutcome::parse("outcome", field(fields, "outcome").unwrap_or_default()).map_err(invalid(Part::Review, lang))?;
            let score: i64 = field(fields, "score")
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| Refusal::Inline(Part::Review, refusal::texts(lang).score_number.to_owned()))?;
            let tt = texts::texts(viewer.locale.lang);
            // Every item of the checklist is answered: ticked passes, unticked fails.
            let checklist = tt
                .review_checklist
                .iter()
                .enumerate()
                .map(|(i, item)| ChecklistItem { item: (*item).to_owned(), passed: field(fields, &format!("check{i}")).is_some() })
                .collect();
            let notes = text::optional_note("notes", field(fields, "notes").map(str::to_owned)).map_err(invalid(Part::Review, lang))?;
            services
                .review_ticket_at(reference, Some(expected), outcome, score, checklist, notes, &actor)
                .await
                .map_err(refused(Part::Review))?;
        }
        _ => return Err(Refusal::Page(ServiceError::NotFound { what: "action" })),
    }
    Ok(())
}

/// `POST /tickets/{number}/attachments`: the upload form (multipart, no JavaScript needed). A
/// success answers a 303 back to the page; a refusal (too large, empty, a bad name, the ticket's
/// cap) the page with the message beside the form (422).
pub async fn upload(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path(number): Path<String>,
    multipart: axum::extract::Multipart,
) -> Response {
    let lang = viewer.locale.lang;
    let chrome = || Chrome::signed_in(&viewer, Section::Queues);
    let (ticket, partner) = match visible(&state, &viewer, &number).await {
        Ok(found) => found,
        Err(e) => return problem(chrome(), &e),
    };
    let limits = state.services.attachment_limits();
    let refused = match crate::files::read_upload(multipart, &limits).await {
        Err(crate::files::UploadError::Invalid(e)) => refusal::field_error(lang, &e),
        Err(crate::files::UploadError::TooLarge { field, limit }) => {
            refusal::field_error(lang, &FieldError::new(field, format!("a file is at most {limit} bytes")))
        }
        Err(crate::files::UploadError::Unreadable { message, .. }) => message,
        Ok(upload) => {
            let source = steward_services::attachments::AttachmentSource::Console;
            match state.services.add_attachments(&viewer.principal, TicketRef::Id(ticket.id), None, upload.files, source).await {
                Ok(_) => return Redirect::to(&format!("/tickets/{}#ticket-attachments", ticket.number)).into_response(),
                Err(
                    e @ (ServiceError::NotFound { .. }
                    | ServiceError::Forbidden(_)
                    | ServiceError::Unavailable(_)
                    | ServiceError::Internal { .. }),
                ) => return problem(chrome(), &e),
                Err(e) => refusal::message(lang, &e, None),
            }
        }
    };
    let tt = texts::texts(lang);
    let rebuilt = async {
        let after = state.services.live_head().await?.to_string();
        Ok::<_, ServiceError>((view::build(&state.services, &viewer, tt, ticket, partner, false).await?, after))
    }
    .await;
    match rebuilt {
        Ok((mut v, after)) => {
            v.errors.attachments = Some(refused);
            let live = LivePanel { ticket: v.id.clone(), after, shown: v.seen };
            render(StatusCode::UNPROCESSABLE_ENTITY, &TicketPage { chrome: chrome(), tt, v, live, oob: false })
        }
        Err(e) => problem(chrome(), &e),
    }
}

/// The ticket and the attachment an attachment URL names; an unreadable id is no attachment.
fn attachment_ref(number: &str, id: &str) -> Result<(TicketRef, steward_domain::ids::AttachmentId), ServiceError> {
    let id = steward_domain::ids::AttachmentId::parse("id", id).map_err(|_| ServiceError::NotFound { what: "attachment" })?;
    Ok((view::reference(number)?, id))
}

/// `GET /tickets/{number}/attachments/{id}`: the download, as the API answers it (always
/// `attachment`, nosniff, a safe type).
pub async fn download(State(state): State<ConsoleState>, viewer: Viewer, Path((number, id)): Path<(String, String)>) -> Response {
    let opened = async {
        let (reference, id) = attachment_ref(&number, &id)?;
        state.services.open_attachment(&viewer.principal, reference, id).await
    }
    .await;
    match opened {
        Ok((attachment, bytes)) => crate::files::download_response(&attachment, bytes),
        Err(e) => problem(Chrome::signed_in(&viewer, Section::Queues), &e),
    }
}

/// `POST /tickets/{number}/attachments/{id}/delete`: an `attachment_deleted` event; back to the page.
pub async fn delete_attachment(State(state): State<ConsoleState>, viewer: Viewer, Path((number, id)): Path<(String, String)>) -> Response {
    let deleted = async {
        let (reference, id) = attachment_ref(&number, &id)?;
        state.services.delete_attachment(&viewer.principal, reference, id).await
    }
    .await;
    match deleted {
        Ok(_) => Redirect::to(&format!("/tickets/{number}#ticket-attachments")).into_response(),
        Err(e) => problem(Chrome::signed_in(&viewer, Section::Queues), &e),
    }
}
