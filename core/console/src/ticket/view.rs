//! What the ticket page shows, gathered from the services in one pass and shaped for the
//! templates: plain strings and flags, no logic left for the HTML.

use super::texts::TicketTexts;
use crate::i18n::{Locale, Texts};
use crate::session::Viewer;
use std::collections::{HashMap, HashSet};
use steward_domain::auth::Permission;
use steward_domain::clock::ClockState;
use steward_domain::duration::TargetDuration;
use steward_domain::event::{EventData, RecordedEvent, SlaClockRef};
use steward_domain::feedback::ReviewOutcome;
use steward_domain::ids::{PartnerId, StaffId, TicketId, TicketRef};
use steward_domain::process::Process;
use steward_domain::ticket::{Priority, Status, Ticket, Visibility};
use steward_domain::time::Timestamp;
use steward_services::{ServiceError, Services};

/// The most events one page shows; a ticket's whole history in practice.
pub const MAX_EVENTS: u32 = 10_000;
/// The attachments the page lists (a ticket's byte cap keeps them few).
pub const MAX_ATTACHMENTS: u32 = 200;

pub struct Link {
    pub href: String,
    pub label: String,
}

pub struct Field {
    pub name: String,
    pub value: String,
}

pub struct Step {
    pub name: String,
    pub current: bool,
    pub visited: bool,
}

pub struct MoveOption {
    pub key: String,
    pub name: String,
}

pub struct PauseRow {
    pub from: String,
    pub to: String,
    pub reason: String,
}

pub struct ClockRow {
    pub name: String,
    pub state: String,
    pub breached: bool,
    pub target: String,
    pub remaining: String,
    pub due: String,
    pub calendar: String,
    pub pauses: Vec<PauseRow>,
}

pub struct SlaPanel {
    pub policy: Option<String>,
    pub explanation: String,
    pub calendar: String,
    pub clocks: Vec<ClockRow>,
}

pub struct EventRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub label: &'static str,
    pub detail: String,
    pub comment: Option<CommentRow>,
    /// It arrived as a customer's mail (an opening or a comment an import wrote).
    pub by_email: bool,
}

pub struct CommentRow {
    pub body: String,
    pub internal: bool,
    pub from_customer: bool,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct AssignPanel {
    pub eligible: Vec<Choice>,
    pub others: Vec<Choice>,
    pub can_override: bool,
}

pub struct DelegationInfo {
    pub partner: String,
    pub first_response_due: String,
    pub resolution_due: String,
    pub note: Option<String>,
}

/// Messages shown beside the form they concern, after a refused action.
#[derive(Default)]
pub struct Errors {
    pub attachments: Option<String>,
    pub comment: Option<String>,
    pub moves: Option<String>,
    pub assign: Option<String>,
    /// The gate refused and the viewer may override: the reason field is what is wanted.
    pub assign_needs_reason: bool,
    pub priority: Option<String>,
    pub delegate: Option<String>,
    pub review: Option<String>,
    pub reopen: Option<String>,
}

/// An action refused because the ticket changed after the page was rendered.
pub struct Conflict {
    pub events: Vec<EventRow>,
    pub action: String,
    pub fields: Vec<(String, String)>,
}

/// What the person had typed, shown again when the page (or the part) is rendered after a
/// refusal. Each form's fields are kept only when that form was the one posted.
#[derive(Default)]
pub struct Draft {
    pub body: String,
    pub internal: bool,
    pub assignee: Option<String>,
    pub override_reason: String,
    pub move_note: String,
    pub reopen_reason: String,
    pub partner: Option<String>,
    pub delegate_note: String,
    /// The review's ticked items (by index), outcome, score and notes; `None`: not posted.
    pub review: Option<ReviewDraft>,
}

pub struct ReviewDraft {
    pub checked: Vec<usize>,
    pub fail: bool,
    pub score: String,
    pub notes: String,
}

impl Draft {
    /// Whether the review's item `index` is ticked (none is, on a fresh form).
    pub fn checked(&self, index: &usize) -> bool {
        self.review.as_ref().is_some_and(|r| r.checked.contains(index))
    }

    pub fn review_fail(&self) -> bool {
        self.review.as_ref().is_some_and(|r| r.fail)
    }

    /// The score field's value: what was typed, else the usual 90.
    pub fn review_score(&self) -> &str {
        self.review.as_ref().map_or("90", |r| r.score.as_str())
    }

    pub fn review_notes(&self) -> &str {
        self.review.as_ref().map_or("", |r| r.notes.as_str())
    }
}

pub struct View {
    pub base: String,
    pub id: String,
    pub number: String,
    pub title: String,
    pub description: String,
    pub kind: &'static str,
    pub channel: &'static str,
    /// The priority's key (a CSS class) and its name in the viewer's language.
    pub priority: &'static str,
    pub priority_label: &'static str,
    pub status: &'static str,
    pub customer_name: String,
    pub customer_tier: String,
    pub customer_contact: Option<String>,
    /// "mail to … bounces since …", when a delivery report said so.
    pub bounce: Option<String>,
    pub assignee: Option<String>,
    pub team: Option<String>,
    pub tags: Vec<String>,
    pub custom_fields: Vec<Field>,
    pub origin: Option<Link>,
    pub linked: Vec<Link>,
    pub process: String,
    pub stages: Vec<Step>,
    pub moves: Vec<MoveOption>,
    pub can_move: bool,
    pub can_reopen: bool,
    pub version: i64,
    pub seen: i64,
    pub sla: Option<SlaPanel>,
    pub events: Vec<EventRow>,
    pub comments_only: bool,
    pub can_comment: bool,
    pub can_internal: bool,
    pub assign: Option<AssignPanel>,
    pub delegation: Option<DelegationInfo>,
    pub delegate_to: Vec<Choice>,
    pub review_items: Vec<&'static str>,
    pub priorities: Vec<Choice>,
    pub errors: Errors,
    pub draft: Draft,
    pub conflict: Option<Conflict>,
    pub attachments: Vec<AttachmentRow>,
    pub can_attach: bool,
    /// The per-file cap, as people read it.
    pub attach_hint: String,
    /// The id of the element that takes the focus (`autofocus`) after an action: the field
    /// to correct after a refusal, the composer after a comment; empty on a plain page load.
    pub focus: &'static str,
}

/// One live attachment in the panel.
pub struct AttachmentRow {
    pub name: String,
    pub size: String,
    pub content_type: String,
    pub added_by: String,
    pub added_at: String,
    pub href: String,
    /// The delete form's action, when the viewer may delete it.
    pub delete: Option<String>,
}

/// Who the viewer may see tickets as: staff (None) or one partner.
pub fn partner_scope(viewer: &Viewer) -> Result<Option<PartnerId>, ServiceError> {
    Ok(viewer.principal.require_ticket_access(Permission::ReadTickets, Permission::ReadDelegatedTickets)?)
}

pub fn reference(text: &str) -> Result<TicketRef, ServiceError> {
    TicketRef::parse("id", text).map_err(|_| ServiceError::NotFound { what: "ticket" })
}

/// Staff names by id, for the timeline and the header.
pub async fn staff_names(services: &Services) -> Result<HashMap<StaffId, (String, Option<String>)>, ServiceError> {
    Ok(services.active_staff().await?.into_iter().map(|s| (s.id, (s.name, s.team))).collect())
}

/// Everything the page shows about `ticket` for `viewer` (who may see it: checked by the caller).
pub async fn build(
    services: &Services,
    viewer: &Viewer,
    tt: &'static TicketTexts,
    ticket: Ticket,
    partner: Option<PartnerId>,
    comments_only: bool,
) -> Result<View, ServiceError> {
    let principal = &viewer.principal;
    let locale = &viewer.locale;
    // The layout's words: priorities and statuses are named as in the queues.
    let words = locale.lang.texts();
    let staff = staff_names(services).await?;
    let reference = TicketRef::Id(ticket.id);
    let recorded = services.ticket_events_for(reference, partner, 0, MAX_EVENTS).await?;
    let process = services.processes.get(&ticket.process).cloned();
    let seen = recorded.last().map_or(0, |e| e.seq);
    let base = format!("/tickets/{}", ticket.number);

    let mut linked = Vec::new();
    for e in &recorded {
        let (id, label) = match e.kind.as_str() {
            "complaint_received" => (e.data["complaint_id"].as_str(), tt.complaint),
            "follow_up_created" => (e.data["ticket_id"].as_str(), tt.follow_up),
            _ => continue,
        };
        let Some(id) = id.and_then(reference_of) else { continue };
        // A partner sees only its own tickets: links to others are left out.
        if let Ok(other) = services.ticket_for(id, partner).await {
            linked.push(Link { href: format!("/tickets/{}", other.number), label: format!("{label} {}", other.number) });
        }
    }
    let origin = match ticket.origin_ticket_id {
        Some(id) => services
            .ticket_for(TicketRef::Id(id), partner)
            .await
            .ok()
            .map(|o| Link { href: format!("/tickets/{}", o.number), label: format!("{} · {}", o.number, o.title) }),
        None => None,
    };

    let done = ticket.is_done();
    let staff_side = partner.is_none();
    let can_move = !done && principal.require_ticket_access(Permission::WriteTickets, Permission::WorkDelegatedTickets).is_ok();
    let (stages, moves) = match &process {
        Some(p) => stages_of(p, &ticket, &recorded),
        None => (Vec::new(), Vec::new()),
    };
    let can_write = staff_side && principal.allows(Permission::WriteTickets);

    let sla = if staff_side { Some(sla_panel(services, locale, tt, &ticket, process.as_deref()).await?) } else { None };

    let assign = if can_write && !done {
        Some(assign_panel(services, &ticket, principal.allows(Permission::OverrideCertification), tt).await?)
    } else {
        None
    };

    let delegation = match services.active_delegation(ticket.id).await? {
        Some(d) => {
            let partner_name = services.get_partner(d.partner_id).await.map(|p| p.name).unwrap_or_else(|_| d.partner_id.to_string());
            Some(DelegationInfo {
                partner: partner_name,
                first_response_due: d.first_response_due_at.map_or_else(|| tt.not_due.to_owned(), |t| locale.time(t)),
                resolution_due: d.resolution_due_at.map_or_else(|| tt.not_due.to_owned(), |t| locale.time(t)),
                note: d.note,
            })
        }
        None => None,
    };
    let now = Timestamp::now();
    let delegate_to = if staff_side && !done && delegation.is_none() && principal.allows(Permission::ManagePartners) {
        services
            .list_partners()
            .await?
            .into_iter()
            .filter(|p| p.refuses_work(now).is_none())
            .map(|p| Choice { value: p.id.to_string(), label: p.name, selected: false })
            .collect()
    } else {
        Vec::new()
    };
    let needs_review = process.as_ref().and_then(|p| p.stage(&ticket.stage)).is_some_and(|s| s.requires_review)
        && ticket.review_passed_stage.as_deref() != Some(ticket.stage.as_str());
    let review_items = if staff_side && !done && needs_review && principal.allows(Permission::ReviewTickets) {
        tt.review_checklist.to_vec()
    } else {
        Vec::new()
    };
    let priorities = if can_write && !done {
        Priority::ALL
            .iter()
            .map(|p| Choice { value: p.as_str().to_owned(), label: words.priority_label(*p).to_owned(), selected: *p == ticket.priority })
            .collect()
    } else {
        Vec::new()
    };

    let can_delete_attachments = staff_side && principal.allows(Permission::WriteTickets);
    let attachments = services
        .list_attachments(principal, reference, None, MAX_ATTACHMENTS)
        .await?
        .attachments
        .into_iter()
        .map(|a| AttachmentRow {
            href: format!("{base}/attachments/{}", a.id),
            delete: can_delete_attachments.then(|| format!("{base}/attachments/{}/delete", a.id)),
            name: a.file_name,
            size: byte_size(a.size),
            content_type: a.content_type,
            added_by: a.added_by.name,
            added_at: locale.time(a.added_at),
        })
        .collect();
    let mailed = mailed_events(services, ticket.id, &recorded).await?;
    let events = recorded
        .iter()
        .filter(|e| !comments_only || e.kind == "comment_added")
        .map(|e| EventRow { by_email: mailed.contains(&e.seq), ..event_row(e, tt, locale, &staff, process.as_deref()) })
        .collect();
    let bounce = match &ticket.customer.contact {
        Some(contact) => services
            .contact_bounce(contact)
            .await?
            .map(|b| tt.bounces.replace("{contact}", contact).replace("{since}", &locale.time(b.bounced_at))),
        None => None,
    };
    let (assignee, team) = match ticket.assignee.and_then(|a| staff.get(&a)) {
        Some((name, team)) => (Some(name.clone()), team.clone()),
        None => (ticket.assignee.map(|a| a.to_string()), None),
    };
    let mut custom_fields: Vec<Field> = ticket
        .custom_fields
        .iter()
        .map(|(k, v)| Field { name: k.clone(), value: v.as_str().map_or_else(|| v.to_string(), str::to_owned) })
        .collect();
    custom_fields.sort_by(|a, b| a.name.cmp(&b.name));

    Ok(View {
        base,
        id: ticket.id.to_string(),
        number: ticket.number.to_string(),
        title: ticket.title,
        description: ticket.description,
        kind: words.kind_label(ticket.kind),
        channel: words.channel_label(ticket.channel),
        priority: ticket.priority.as_str(),
        priority_label: words.priority_label(ticket.priority),
        status: words.status_label(ticket.status),
        customer_name: ticket.customer.name,
        customer_tier: ticket.customer.tier,
        customer_contact: ticket.customer.contact,
        bounce,
        assignee,
        team,
        tags: ticket.tags,
        custom_fields,
        origin,
        linked,
        process: process.as_ref().map_or_else(|| ticket.process.clone(), |p| p.name.clone()),
        stages,
        moves: if can_move { moves } else { Vec::new() },
        can_move,
        can_reopen: done && can_write && matches!(ticket.status, Status::Resolved | Status::Closed),
        version: ticket.version,
        seen,
        sla,
        events,
        comments_only,
        can_comment: principal.require_ticket_access(Permission::CommentOnTickets, Permission::WorkDelegatedTickets).is_ok(),
        can_internal: staff_side && principal.allows(Permission::CommentOnTickets),
        assign,
        delegation,
        delegate_to,
        review_items,
        priorities,
        errors: Errors::default(),
        draft: Draft::default(),
        conflict: None,
        attachments,
        can_attach: principal.require_ticket_access(Permission::CommentOnTickets, Permission::WorkDelegatedTickets).is_ok(),
        attach_hint: tt.attachments.hint.replace("{size}", &byte_size(services.attachment_limits().max_file_bytes)),
        focus: "",
    })
}

/// The events among `events` that arrived as mail: each import records the last event it
/// wrote, and the opening or comment it wrote is the last such event at or before it.
pub async fn mailed_events(services: &Services, ticket: TicketId, events: &[RecordedEvent]) -> Result<HashSet<i64>, ServiceError> {
    let seqs = services.mail_event_seqs(ticket).await?;
    Ok(seqs
        .iter()
        .filter_map(|last| {
            events.iter().rev().filter(|e| e.seq <= *last).find(|e| e.kind == "comment_added" || e.kind == "created").map(|e| e.seq)
        })
        .collect())
}

fn reference_of(id: &str) -> Option<TicketRef> {
    TicketRef::parse("id", id).ok()
}

/// The process's stages in order, the current one marked, with the moves it allows from here.
fn stages_of(process: &Process, ticket: &Ticket, events: &[RecordedEvent]) -> (Vec<Step>, Vec<MoveOption>) {
    let visited: Vec<&str> = events.iter().filter(|e| e.kind == "stage_changed").filter_map(|e| e.data["from"].as_str()).collect();
    let stages = process
        .stages
        .iter()
        .map(|s| Step { name: s.name.clone(), current: s.key == ticket.stage, visited: visited.contains(&s.key.as_str()) })
        .collect();
    let moves =
        process.allowed_targets(&ticket.stage).into_iter().map(|s| MoveOption { key: s.key.clone(), name: s.name.clone() }).collect();
    (stages, moves)
}

/// Business time as hours and minutes: `3h 05m`, `-0h 20m` once overdue.
pub fn business_time(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let minutes = ms.unsigned_abs() / 60_000;
    format!("{sign}{}h {:02}m", minutes / 60, minutes % 60)
}

async fn sla_panel(
    services: &Services,
    locale: &Locale,
    tt: &'static TicketTexts,
    ticket: &Ticket,
    process: Option<&Process>,
) -> Result<SlaPanel, ServiceError> {
    let report = services.ticket_sla(TicketRef::Id(ticket.id)).await?;
    let words = locale.lang.texts();
    let clocks = report
        .clocks
        .into_iter()
        .map(|r| {
            let c = &r.clock;
            ClockRow {
                name: clock_name(words, c.clock.kind.as_str(), c.stage.as_deref(), process),
                state: words.clock_state_label(r.state).to_owned(),
                breached: r.state == ClockState::Breached,
                target: TargetDuration::from_seconds(u64::try_from(c.clock.target_ms / 1000).unwrap_or(0)).to_string(),
                remaining: business_time(r.remaining_ms),
                due: r.due_at.map_or_else(|| tt.not_due.to_owned(), |t| locale.time(t)),
                calendar: format!("{} · {}", words.calendar_label(&r.calendar), words.calendar_source_label(c.calendar_source)),
                pauses: c
                    .clock
                    .pauses
                    .iter()
                    .map(|p| PauseRow {
                        from: locale.time(p.from),
                        to: p.to.map_or_else(|| tt.still_paused.to_owned(), |t| locale.time(t)),
                        // The engine pauses "status waiting_customer": the status is the reason.
                        reason: words.value_label(p.reason.strip_prefix("status ").unwrap_or(&p.reason)),
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(SlaPanel {
        policy: report.policy.map(|p| format!("{} ({})", p.name, p.key)),
        explanation: explanation(words, tt, &report.explanation),
        calendar: words.calendar_label(&report.calendar),
        clocks,
    })
}

/// A clock as a person names it: its kind in words, and the stage's name for a stage clock.
fn clock_name(words: &Texts, kind: &str, stage: Option<&str>, process: Option<&Process>) -> String {
    let kind = words.value_label(kind);
    match stage {
        Some(key) => format!("{kind}: {}", stage_name(process, key)),
        None => kind,
    }
}

/// A stage's name in its process, or its key when the process no longer has it.
pub(crate) fn stage_name(process: Option<&Process>, key: &str) -> String {
    process.and_then(|p| p.stage(key)).map_or_else(|| key.to_owned(), |s| s.name.clone())
}

/// Why the policy applies, in the viewer's words, read back from the domain's sentence
/// (`PolicyMatch::explanation`: the policy, the conditions met as `dimension=value`, the
/// policies it outranks). A sentence of another shape is shown as it is.
pub fn explanation(words: &Texts, tt: &TicketTexts, text: &str) -> String {
    if text == "no SLA policy matches this ticket" {
        return tt.sla_no_policy.to_owned();
    }
    let Some((policy, rest)) = text.strip_prefix("policy `").and_then(|t| t.split_once("` applies: ")) else {
        return text.to_owned();
    };
    let (why, others) = match rest.split_once("; it is more specific or earlier in order than ") {
        Some((why, others)) => (why, Some(others)),
        None => (rest, None),
    };
    let why = if why == "it has no conditions (the fallback)" {
        tt.sla_fallback.to_owned()
    } else {
        let condition = |c: &str| match c.split_once('=') {
            Some((dimension, value)) => {
                let dimension = match dimension {
                    "kind" => words.q_kind,
                    "channel" => words.q_channel,
                    "priority" => words.q_priority,
                    "tier" => words.q_tier,
                    "process" => words.q_process,
                    other => other,
                };
                tt.sla_condition.replace("{dimension}", dimension).replace("{value}", &words.value_label(value))
            }
            None => c.to_owned(),
        };
        why.split(", ").map(condition).collect::<Vec<_>>().join(tt.sla_conditions_separator)
    };
    let mut out = tt.sla_applies.replace("{policy}", policy).replace("{why}", &why);
    if let Some(others) = others {
        out.push_str(&tt.sla_outranks.replace("{others}", &others.replace('`', "")));
    }
    out
}

async fn assign_panel(
    services: &Services,
    ticket: &Ticket,
    can_override: bool,
    tt: &'static TicketTexts,
) -> Result<AssignPanel, ServiceError> {
    let (_, required, eligible) = services.eligible_assignees(TicketRef::Id(ticket.id)).await?;
    let label = |name: &str, team: &Option<String>, open: i64| match team {
        Some(team) => format!("{name} ({team}) · {open} {}", tt.open_tickets),
        None => format!("{name} · {open} {}", tt.open_tickets),
    };
    let eligible_ids: Vec<StaffId> = eligible.iter().map(|e| e.staff.id).collect();
    let eligible_choices = eligible
        .iter()
        .map(|e| Choice {
            value: e.staff.id.to_string(),
            label: label(&e.staff.name, &e.staff.team, e.open_tickets),
            selected: ticket.assignee == Some(e.staff.id),
        })
        .collect();
    // People whose role works tickets but whom the stage's certification gate refuses.
    let others = if required.is_some() {
        let load = services.open_ticket_load().await?;
        services
            .active_staff()
            .await?
            .into_iter()
            .filter(|s| s.role.allows(Permission::WriteTickets) && !eligible_ids.contains(&s.id))
            .map(|s| Choice {
                value: s.id.to_string(),
                label: label(&s.name, &s.team, load.get(&s.id).copied().unwrap_or(0)),
                selected: ticket.assignee == Some(s.id),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(AssignPanel { eligible: eligible_choices, others, can_override })
}

/// One line of the timeline: what happened, told from the event's data in the viewer's words.
pub fn event_row(
    e: &RecordedEvent,
    tt: &'static TicketTexts,
    locale: &Locale,
    staff: &HashMap<StaffId, (String, Option<String>)>,
    process: Option<&Process>,
) -> EventRow {
    let (k, w) = (&tt.event_kinds, &tt.event_words);
    let words = locale.lang.texts();
    let name_of = |id: &Option<StaffId>| match id {
        Some(id) => staff.get(id).map_or_else(|| id.to_string(), |(n, _)| n.clone()),
        None => tt.unassigned.to_owned(),
    };
    let named = |key: &str| stage_name(process, key);
    let clock = |c: &SlaClockRef| clock_name(words, &c.kind, c.stage.as_deref(), process);
    let field_name = |field: &str| -> String {
        let name = match field {
            "title" => w.field_title,
            "description" => tt.description,
            "kind" => tt.kind,
            "channel" => tt.channel,
            "priority" => tt.priority,
            "customer.name" => tt.customer,
            "customer.contact" => w.field_contact,
            "customer.tier" => w.field_tier,
            "tags" => tt.tags,
            "custom_fields" => w.field_custom_fields,
            other => return other.to_owned(),
        };
        name.to_owned()
    };
    let value = |field: &str, v: &serde_json::Value| match (field, v) {
        ("kind" | "channel" | "priority", serde_json::Value::String(spelled)) => words.value_label(spelled),
        _ => plain(v),
    };
    let typed: Option<EventData> = serde_json::from_value(serde_json::json!({"kind": e.kind, "data": e.data})).ok();
    let mut comment = None;
    let Some(typed) = typed else {
        return EventRow {
            seq: e.seq,
            at: locale.time(e.at),
            actor: e.actor.name.clone(),
            label: k.other,
            detail: e.kind.replace('_', " "),
            comment,
            by_email: false,
        };
    };
    let (label, detail) = match typed {
        EventData::Created { stage, priority, channel, .. } => {
            (k.created, format!("{} · {} · {}", named(&stage), words.priority_label(priority), words.value_label(&channel)))
        }
        EventData::Updated { changes } => (
            k.updated,
            changes
                .iter()
                .map(|(field, c)| format!("{}: {} → {}", field_name(field), value(field, &c.from), value(field, &c.to)))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        EventData::StatusChanged { from, to } => (k.status_changed, format!("{} → {}", words.status_label(from), words.status_label(to))),
        EventData::AssigneeChanged { from, to } => (k.assignee_changed, format!("{} → {}", name_of(&from), name_of(&to))),
        EventData::StageChanged { from, to, note } => {
            let mut d = format!("{} → {}", named(&from), named(&to));
            if let Some(note) = note {
                d.push_str(" · ");
                d.push_str(&note);
            }
            (k.stage_changed, d)
        }
        EventData::CommentAdded { body, visibility, from_customer, .. } => {
            comment = Some(CommentRow { body, internal: visibility == Visibility::Internal, from_customer });
            (k.comment_added, String::new())
        }
        EventData::Reopened { reason, from_status, .. } => {
            let was = w.reopened_from.replace("{status}", words.status_label(from_status));
            (k.reopened, reason.map_or_else(|| was.clone(), |r| format!("{was} · {r}")))
        }
        EventData::FollowUpCreated { number, .. } => (k.follow_up_created, number),
        EventData::ComplaintReceived { number, title, .. } => (k.complaint_received, format!("{number} · {title}")),
        EventData::SurveyIssued { expires_at, .. } => (k.survey_issued, w.survey_open_until.replace("{at}", &locale.time(expires_at))),
        EventData::CsatReceived { score, comment: said } => {
            let score = w.csat.replace("{score}", &score.to_string());
            (k.csat_received, said.map_or_else(|| score.clone(), |c| format!("{score} · {c}")))
        }
        EventData::Reviewed { stage, outcome, score, failed_items, .. } => {
            let outcome = match outcome {
                ReviewOutcome::Pass => tt.review_pass,
                ReviewOutcome::Fail => tt.review_fail,
            };
            let mut d = format!("{} · {outcome} · {}", named(&stage), w.score.replace("{score}", &score.to_string()));
            if !failed_items.is_empty() {
                d.push_str(" · ");
                d.push_str(&failed_items.join(", "));
            }
            (k.review, d)
        }
        EventData::SlaPolicyChanged { from, to, explanation: why } => {
            let none = || w.no_policy.to_owned();
            let d = format!("{} → {} · {}", from.unwrap_or_else(none), to.unwrap_or_else(none), explanation(words, tt, &why));
            (k.sla_policy_changed, d)
        }
        EventData::SlaWarning { clock: c, percent, due_at } => {
            let due = due_at.map_or_else(|| tt.not_due.to_owned(), |t| locale.time(t));
            let d = w.sla_warning.replace("{clock}", &clock(&c)).replace("{percent}", &percent.to_string()).replace("{due}", &due);
            (k.sla_warning, d)
        }
        EventData::SlaBreached { clock: c, breached_at, target } => {
            let d = w.sla_breached.replace("{clock}", &clock(&c)).replace("{target}", &target).replace("{at}", &locale.time(breached_at));
            (k.sla_breached, d)
        }
        EventData::SlaEscalated { clock: c, percent, notify_role } => {
            let d = w
                .sla_escalated
                .replace("{clock}", &clock(&c))
                .replace("{percent}", &percent.to_string())
                .replace("{role}", &words.role_named(&notify_role));
            (k.sla_escalated, d)
        }
        EventData::PluginFailed { plugin, hook, error, auto_disabled } => {
            let mut d = format!("{plugin} · {hook}: {error}");
            if auto_disabled.is_some() {
                d.push_str(" · ");
                d.push_str(w.auto_disabled);
            }
            (k.plugin_failed, d)
        }
        EventData::Delegated { partner_name, note, .. } => {
            (k.delegated, note.map_or_else(|| partner_name.clone(), |n| format!("{partner_name} · {n}")))
        }
        EventData::DelegationWithdrawn { .. } => (k.delegation_withdrawn, String::new()),
        EventData::CertificationOverridden { staff_id, certification, reason, state, .. } => {
            let state = crate::staff::texts::texts(locale.lang).state_named(&state);
            (k.override_recorded, format!("{} · {certification} ({state}) · {reason}", name_of(&Some(staff_id))))
        }
        EventData::AttachmentAdded { file_name, size, .. } => (k.attachment_added, format!("{file_name} · {}", byte_size(size))),
        EventData::AttachmentDeleted { file_name, .. } => (k.attachment_deleted, file_name),
    };
    EventRow { seq: e.seq, at: locale.time(e.at), actor: e.actor.name.clone(), label, detail, comment, by_email: false }
}

/// A size as people read it: bytes, KiB or MiB with one decimal.
pub fn byte_size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    match bytes {
        b if b < KIB => format!("{b} B"),
        b if b < KIB * KIB => format!("{:.1} KiB", b as f64 / KIB as f64),
        b => format!("{:.1} MiB", b as f64 / (KIB * KIB) as f64),
    }
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}
