//! Every text the console shows, in English and Simplified Chinese, in this one place. The
//! language comes from the user's setting when signed in, else from `Accept-Language`; times are
//! shown in the user's timezone (UTC until one is set).

use axum::http::{header, HeaderMap};
use steward_domain::auth::Role;
use steward_domain::clock::{ClockKind, ClockState};
use steward_domain::partner::{PartnerKind, PartnerStatus};
use steward_domain::process::Office;
use steward_domain::sla::CalendarSource;
use steward_domain::ticket::{Channel, Kind, Priority, Status};
use steward_domain::time::Timestamp;
use steward_domain::webhook::DeliveryState;

pub use crate::screen_texts::ScreenTexts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// The first language of `Accept-Language` that we have, by the client's q-values.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        let Some(value) = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()) else {
            return Lang::En;
        };
        let mut ranked: Vec<(f32, Lang)> = value
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';');
                let tag = parts.next()?.trim().to_ascii_lowercase();
                let q = parts.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok())).unwrap_or(1.0);
                let lang = match tag.split('-').next()? {
                    "zh" => Lang::Zh,
                    "en" => Lang::En,
                    _ => return None,
                };
                (q > 0.0).then_some((q, lang))
            })
            .collect();
        // Stable: among equal q-values the client's order wins.
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.first().map_or(Lang::En, |&(_, lang)| lang)
    }

    /// The BCP 47 tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-Hans",
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Zh => &ZH,
        }
    }
}

/// How one person sees the console: language and timezone.
#[derive(Debug, Clone)]
pub struct Locale {
    pub lang: Lang,
    pub tz: jiff::tz::TimeZone,
}

impl Locale {
    pub fn from_headers(headers: &HeaderMap) -> Locale {
        Locale { lang: Lang::from_headers(headers), tz: jiff::tz::TimeZone::UTC }
    }

    /// A signed-in person's locale: their chosen language (else the browser's) and timezone
    /// (else UTC; a name the timezone database no longer knows falls back to UTC too).
    pub fn for_login(login: &steward_domain::login::Login, headers: &HeaderMap) -> Locale {
        use steward_domain::login::Language;
        let lang = match login.preferences.language {
            Some(Language::En) => Lang::En,
            Some(Language::Zh) => Lang::Zh,
            None => Lang::from_headers(headers),
        };
        let tz =
            login.preferences.timezone.as_deref().and_then(|name| jiff::tz::TimeZone::get(name).ok()).unwrap_or(jiff::tz::TimeZone::UTC);
        Locale { lang, tz }
    }

    /// A date and time in this person's timezone, e.g. `2026-12-02 14:05 UTC`.
    pub fn time(&self, at: Timestamp) -> String {
        match jiff::Timestamp::from_millisecond(at.as_millis()) {
            Ok(t) => t.to_zoned(self.tz.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string(),
            Err(_) => at.to_string(),
        }
    }
}

/// The texts of one language. A missing translation is a compile error.
pub struct Texts {
    pub product: &'static str,
    pub skip_to_content: &'static str,
    pub home_title: &'static str,
    pub home_lead: &'static str,
    pub survey_title: &'static str,
    pub survey_about: &'static str,
    pub survey_question: &'static str,
    pub survey_scores: [&'static str; 5],
    pub survey_comment: &'static str,
    pub survey_comment_hint: &'static str,
    pub survey_send: &'static str,
    pub survey_expires: &'static str,
    pub survey_pick_a_score: &'static str,
    pub survey_thanks_title: &'static str,
    pub survey_thanks: &'static str,
    pub survey_answered_title: &'static str,
    pub survey_answered: &'static str,
    pub survey_expired_title: &'static str,
    pub survey_expired: &'static str,
    pub survey_unknown_title: &'static str,
    pub survey_unknown: &'static str,
    pub problem_title: &'static str,
    pub problem_unavailable: &'static str,
    pub nav_label: &'static str,
    pub nav_home: &'static str,
    pub signed_in_as: &'static str,
    pub sign_out: &'static str,
    pub sign_in_title: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub sign_in_button: &'static str,
    pub sign_in_help: &'static str,
    pub wrong_credentials: &'static str,
    pub throttled: &'static str,
    pub signed_out: &'static str,
    pub password_set_done: &'static str,
    pub set_password_title: &'static str,
    pub set_password_for: &'static str,
    pub new_password: &'static str,
    pub confirm_password: &'static str,
    pub set_password_button: &'static str,
    pub password_rules: &'static str,
    pub passwords_differ: &'static str,
    pub link_gone: &'static str,
    pub problem_not_found_title: &'static str,
    pub problem_not_found: &'static str,
    pub problem_forbidden_title: &'static str,
    pub problem_forbidden: &'static str,
    // Preferences (console-queues).
    pub nav_preferences: &'static str,
    pub preferences_title: &'static str,
    pub pref_language: &'static str,
    pub pref_language_browser: &'static str,
    pub pref_timezone: &'static str,
    pub pref_timezone_hint: &'static str,
    pub pref_save: &'static str,
    pub pref_saved: &'static str,
    // Keyboard (console-queues).
    pub keys_title: &'static str,
    pub key_jk: &'static str,
    pub key_enter: &'static str,
    pub key_search: &'static str,
    pub key_gq: &'static str,
    pub key_number: &'static str,
    pub key_help: &'static str,
    pub key_reply_note: &'static str,
    pub key_assign: &'static str,
    pub key_send: &'static str,
    pub keys_close: &'static str,
    // Saved views (console-queues).
    pub saved_views: &'static str,
    pub view_shared: &'static str,
    pub view_delete: &'static str,
    pub view_save_as: &'static str,
    pub view_share: &'static str,
    pub view_save: &'static str,
    // Queues (console-queues).
    pub nav_queues: &'static str,
    pub queues_title: &'static str,
    pub views_label: &'static str,
    pub view_all: &'static str,
    pub view_mine: &'static str,
    pub view_team: &'static str,
    pub view_unassigned: &'static str,
    pub view_at_risk: &'static str,
    pub view_breached: &'static str,
    pub view_waiting_customer: &'static str,
    pub view_waiting_partner: &'static str,
    pub view_delegated: &'static str,
    pub filters_label: &'static str,
    pub q_search: &'static str,
    pub q_status: &'static str,
    pub q_priority: &'static str,
    pub q_channel: &'static str,
    pub q_kind: &'static str,
    pub q_tier: &'static str,
    pub q_tag: &'static str,
    pub q_assignee: &'static str,
    pub q_team: &'static str,
    pub q_process: &'static str,
    pub q_stage: &'static str,
    pub q_apply: &'static str,
    pub q_any: &'static str,
    pub q_nobody: &'static str,
    pub bulk_legend: &'static str,
    pub bulk_assign_to: &'static str,
    pub bulk_assign: &'static str,
    pub bulk_move_to: &'static str,
    pub bulk_move: &'static str,
    pub bulk_priority_to: &'static str,
    pub bulk_priority: &'static str,
    pub bulk_tag_with: &'static str,
    pub bulk_tag: &'static str,
    pub select_all: &'static str,
    pub select_ticket: &'static str,
    pub col_number: &'static str,
    pub col_title: &'static str,
    pub col_customer: &'static str,
    pub col_priority: &'static str,
    pub col_stage: &'static str,
    pub col_assignee: &'static str,
    pub col_sla: &'static str,
    pub queue_empty: &'static str,
    pub load_more: &'static str,
    pub bulk_result_title: &'static str,
    pub bulk_summary_done: &'static str,
    pub bulk_summary_failed: &'static str,
    pub bulk_back: &'static str,
    pub bulk_pick_action: &'static str,
    pub bulk_pick_tickets: &'static str,
    pub bulk_done: &'static str,
    pub bulk_stale: &'static str,
    pub clock_first_response: &'static str,
    pub clock_next_response: &'static str,
    pub clock_resolution: &'static str,
    pub clock_stage: &'static str,
    pub band_breached: &'static str,
    pub band_paused: &'static str,
    pub band_at_risk: &'static str,
    pub band_ok: &'static str,
    pub priority_urgent: &'static str,
    pub priority_high: &'static str,
    pub priority_normal: &'static str,
    pub priority_low: &'static str,
    pub status_open: &'static str,
    pub status_waiting_customer: &'static str,
    pub status_waiting_partner: &'static str,
    pub status_resolved: &'static str,
    pub status_closed: &'static str,
    // Channels, kinds and clock states, wherever a ticket's values are shown.
    pub channel_phone: &'static str,
    pub channel_email: &'static str,
    pub channel_chat: &'static str,
    pub channel_web: &'static str,
    pub channel_onsite: &'static str,
    pub kind_request: &'static str,
    pub kind_incident: &'static str,
    pub kind_complaint: &'static str,
    pub clock_running: &'static str,
    pub clock_paused: &'static str,
    pub clock_met: &'static str,
    pub clock_breached: &'static str,
    pub clock_not_applicable: &'static str,
    pub calendar_from_stage: &'static str,
    pub calendar_from_target: &'static str,
    pub calendar_from_policy: &'static str,
    pub calendar_from_default: &'static str,
    // Roles, partners, offices and deliveries: English keeps their spellings.
    pub role_admin: &'static str,
    pub role_supervisor: &'static str,
    pub role_agent: &'static str,
    pub role_qa: &'static str,
    pub role_viewer: &'static str,
    pub role_partner: &'static str,
    pub role_mailgate: &'static str,
    pub partner_supplier: &'static str,
    pub partner_subcontractor: &'static str,
    pub partner_logistics: &'static str,
    pub partner_other: &'static str,
    pub partner_active: &'static str,
    pub partner_suspended: &'static str,
    pub office_front: &'static str,
    pub office_back: &'static str,
    pub delivery_pending: &'static str,
    pub delivery_delivered: &'static str,
    pub delivery_failed: &'static str,
    // Live updates (live.rs).
    pub live_panel_label: &'static str,
    pub live_ticket_changed: &'static str,
    pub live_reload: &'static str,
    pub live_queue_changed: &'static str,
    pub live_refresh: &'static str,
    pub live_also_viewing: &'static str,
    pub live_stage: &'static str,
    pub live_status: &'static str,
    /// The supervision, partner, staff, training and administration screens' texts.
    pub screens: &'static ScreenTexts,
}

impl Texts {
    pub fn priority_label(&self, p: Priority) -> &'static str {
        match p {
            Priority::Urgent => self.priority_urgent,
            Priority::High => self.priority_high,
            Priority::Normal => self.priority_normal,
            Priority::Low => self.priority_low,
        }
    }

    pub fn status_label(&self, s: Status) -> &'static str {
        match s {
            Status::Open => self.status_open,
            Status::WaitingCustomer => self.status_waiting_customer,
            Status::WaitingPartner => self.status_waiting_partner,
            Status::Resolved => self.status_resolved,
            Status::Closed => self.status_closed,
        }
    }

    pub fn channel_label(&self, c: Channel) -> &'static str {
        match c {
            Channel::Phone => self.channel_phone,
            Channel::Email => self.channel_email,
            Channel::Chat => self.channel_chat,
            Channel::Web => self.channel_web,
            Channel::Onsite => self.channel_onsite,
        }
    }

    pub fn kind_label(&self, k: Kind) -> &'static str {
        match k {
            Kind::Request => self.kind_request,
            Kind::Incident => self.kind_incident,
            Kind::Complaint => self.kind_complaint,
        }
    }

    /// A clock's name: first response, next response, resolution or stage.
    pub fn clock_label(&self, k: ClockKind) -> &'static str {
        match k {
            ClockKind::FirstResponse => self.clock_first_response,
            ClockKind::NextResponse => self.clock_next_response,
            ClockKind::Resolution => self.clock_resolution,
            ClockKind::Stage => self.clock_stage,
        }
    }

    pub fn clock_state_label(&self, s: ClockState) -> &'static str {
        match s {
            ClockState::Running => self.clock_running,
            ClockState::Paused => self.clock_paused,
            ClockState::Met => self.clock_met,
            ClockState::Breached => self.clock_breached,
            ClockState::NotApplicable => self.clock_not_applicable,
        }
    }

    /// Why a clock counts on its calendar.
    pub fn calendar_source_label(&self, s: CalendarSource) -> &'static str {
        match s {
            CalendarSource::Stage => self.calendar_from_stage,
            CalendarSource::Target => self.calendar_from_target,
            CalendarSource::Policy => self.calendar_from_policy,
            CalendarSource::Default => self.calendar_from_default,
        }
    }

    pub fn role_label(&self, r: Role) -> &'static str {
        match r {
            Role::Admin => self.role_admin,
            Role::Supervisor => self.role_supervisor,
            Role::Agent => self.role_agent,
            Role::Qa => self.role_qa,
            Role::Viewer => self.role_viewer,
            Role::Partner => self.role_partner,
            Role::Mailgate => self.role_mailgate,
        }
    }

    /// A role as spelled in events and settings, in words (else as it is).
    pub fn role_named(&self, spelled: &str) -> String {
        Role::parse("", spelled).map_or_else(|_| spelled.to_owned(), |r| self.role_label(r).to_owned())
    }

    pub fn partner_kind_label(&self, k: PartnerKind) -> &'static str {
        match k {
            PartnerKind::Supplier => self.partner_supplier,
            PartnerKind::Subcontractor => self.partner_subcontractor,
            PartnerKind::Logistics => self.partner_logistics,
            PartnerKind::Other => self.partner_other,
        }
    }

    pub fn partner_status_label(&self, s: PartnerStatus) -> &'static str {
        match s {
            PartnerStatus::Active => self.partner_active,
            PartnerStatus::Suspended => self.partner_suspended,
        }
    }

    pub fn office_label(&self, o: Office) -> &'static str {
        match o {
            Office::Front => self.office_front,
            Office::Back => self.office_back,
        }
    }

    pub fn delivery_label(&self, d: DeliveryState) -> &'static str {
        match d {
            DeliveryState::Pending => self.delivery_pending,
            DeliveryState::Delivered => self.delivery_delivered,
            DeliveryState::Failed => self.delivery_failed,
        }
    }

    /// A value as stored in events and reports (`email`, `urgent`, `waiting_customer`,
    /// `first_response`…) in words: whichever closed set spells it, else as it is.
    /// A KPI's name in the viewer's words, with its dimension (a clock, a channel...) named too;
    /// a plugin's KPI keeps the name its manifest declares.
    pub fn kpi_label(&self, kpi: &steward_domain::kpi::Kpi) -> String {
        let name = self.kpi_name(&kpi.key).unwrap_or(&kpi.name);
        match &kpi.dimension {
            Some(d) => format!("{name} ({})", self.value_label(d)),
            None => name.to_owned(),
        }
    }

    /// A sign-in audit kind in words.
    pub fn audit_kind_label(&self, kind: steward_domain::login::AuditKind) -> &'static str {
        self.term(&format!("audit:{}", kind.as_str())).unwrap_or(kind.as_str())
    }

    /// An assessment method in words.
    pub fn method_label(&self, method: steward_domain::training::AssessmentMethod) -> &'static str {
        self.term(&format!("method:{}", method.as_str())).unwrap_or(method.as_str())
    }

    /// A calendar's name with its timezone; the built-in 24×7 calendar named in this language.
    pub fn calendar_label(&self, calendar: &steward_domain::calendar::Calendar) -> String {
        let name = match calendar.key() == steward_domain::calendar::Calendar::ALWAYS_UTC_KEY {
            true => self.term("calendar:always").unwrap_or(calendar.name()),
            false => calendar.name(),
        };
        format!("{name} ({})", calendar.timezone())
    }

    fn term(&self, key: &str) -> Option<&'static str> {
        self.screens.term_names.iter().find(|(k, _)| *k == key).map(|(_, name)| *name)
    }

    /// A built-in KPI's name by key, when this language has one.
    pub fn kpi_name(&self, key: &str) -> Option<&'static str> {
        self.screens.kpi_names.iter().find(|(k, _)| *k == key).map(|(_, name)| *name)
    }

    pub fn value_label(&self, spelled: &str) -> String {
        let found = Channel::parse("", spelled)
            .map(|c| self.channel_label(c))
            .or_else(|_| Kind::parse("", spelled).map(|k| self.kind_label(k)))
            .or_else(|_| Priority::parse("", spelled).map(|p| self.priority_label(p)))
            .or_else(|_| Status::parse("", spelled).map(|s| self.status_label(s)))
            .or_else(|_| ClockKind::parse("", spelled).map(|k| self.clock_label(k)))
            .or_else(|_| ClockState::parse("", spelled).map(|s| self.clock_state_label(s)));
        found.map_or_else(|_| spelled.to_owned(), str::to_owned)
    }
}

pub static EN: Texts = Texts {
    product: "Steward",
    skip_to_content: "Skip to content",
    home_title: "Steward console",
    home_lead: "The service desk in your browser.",
    survey_title: "How did we do?",
    survey_about: "About your request",
    survey_question: "How satisfied are you with how we handled it?",
    survey_scores: ["1 – Very dissatisfied", "2 – Dissatisfied", "3 – Neither", "4 – Satisfied", "5 – Very satisfied"],
    survey_comment: "Anything you would like to tell us? (optional)",
    survey_comment_hint: "At most 4096 characters.",
    survey_send: "Send my answer",
    survey_expires: "This survey is open until",
    survey_pick_a_score: "Please choose a score from 1 to 5.",
    survey_thanks_title: "Thank you",
    survey_thanks: "Your answer has been recorded. Thank you for helping us improve.",
    survey_answered_title: "Already answered",
    survey_answered: "This survey has already been answered. Each survey takes one answer.",
    survey_expired_title: "This survey has closed",
    survey_expired: "The time to answer this survey has passed.",
    survey_unknown_title: "Survey not found",
    survey_unknown: "This link does not lead to a survey. Please check that you copied all of it.",
    problem_title: "Something went wrong",
    problem_unavailable: "We could not complete this just now. Please try again in a moment.",
    nav_label: "Main menu",
    nav_home: "Home",
    signed_in_as: "Signed in as",
    sign_out: "Sign out",
    sign_in_title: "Sign in",
    email: "Email",
    password: "Password",
    sign_in_button: "Sign in",
    sign_in_help: "No password yet, or forgot it? Ask an administrator for a set-password link.",
    wrong_credentials: "The email or password is wrong.",
    throttled: "Too many failed sign-ins. Try again in {seconds} seconds.",
    signed_out: "You have signed out.",
    password_set_done: "Your password is set. Sign in with it now.",
    set_password_title: "Set your password",
    set_password_for: "Setting the password for",
    new_password: "New password",
    confirm_password: "New password again",
    set_password_button: "Set password",
    password_rules: "At least {min} characters, not only spaces, and not your email address.",
    passwords_differ: "The two passwords differ. Type the same password twice.",
    link_gone: "This link has been used or has expired. Ask an administrator for a new one.",
    problem_not_found_title: "Not found",
    problem_not_found: "There is nothing here, or it has been removed.",
    problem_forbidden_title: "Not allowed",
    problem_forbidden: "Your role does not allow this. Ask a supervisor or an administrator.",
    // Preferences (console-queues).
    nav_preferences: "Preferences",
    preferences_title: "Preferences",
    pref_language: "Language",
    pref_language_browser: "Browser default",
    pref_timezone: "Timezone",
    pref_timezone_hint: "An IANA name such as Asia/Shanghai or Europe/Berlin; empty for UTC.",
    pref_save: "Save preferences",
    pref_saved: "Your preferences are saved.",
    // Keyboard (console-queues).
    keys_title: "Keyboard shortcuts",
    key_jk: "Move the selection down / up a list",
    key_enter: "Open the selected ticket",
    key_search: "Search",
    key_gq: "Go to the queues",
    key_number: "Type a ticket number in the search to jump to it",
    key_help: "Show these shortcuts",
    key_reply_note: "On a ticket: write a public reply / an internal note",
    key_assign: "On a ticket: choose the assignee",
    key_send: "Send the reply or note being written",
    keys_close: "Close",
    // Saved views (console-queues).
    saved_views: "Saved views",
    view_shared: "shared",
    view_delete: "Delete view",
    view_save_as: "Save these filters as",
    view_share: "Share with everyone",
    view_save: "Save view",
    // Queues (console-queues).
    nav_queues: "Queues",
    queues_title: "Queues",
    views_label: "Views",
    view_all: "All tickets",
    view_mine: "Mine",
    view_team: "My team",
    view_unassigned: "Unassigned",
    view_at_risk: "At risk",
    view_breached: "Breached",
    view_waiting_customer: "Waiting on customer",
    view_waiting_partner: "Waiting on partner",
    view_delegated: "Delegated",
    filters_label: "Filter tickets",
    q_search: "Search titles",
    q_status: "Status",
    q_priority: "Priority",
    q_channel: "Channel",
    q_kind: "Kind",
    q_tier: "Customer tier",
    q_tag: "Tag",
    q_assignee: "Assignee (staff id)",
    q_team: "Team",
    q_process: "Process",
    q_stage: "Stage",
    q_apply: "Apply filters",
    q_any: "Any",
    q_nobody: "Nobody (unassign)",
    bulk_legend: "With the selected tickets",
    bulk_assign_to: "Assign to",
    bulk_assign: "Assign",
    bulk_move_to: "Move to stage",
    bulk_move: "Move",
    bulk_priority_to: "Set priority",
    bulk_priority: "Set",
    bulk_tag_with: "Add tag",
    bulk_tag: "Tag",
    select_all: "Select all tickets on this page",
    select_ticket: "Select",
    col_number: "Number",
    col_title: "Title",
    col_customer: "Customer",
    col_priority: "Priority",
    col_stage: "Stage",
    col_assignee: "Assignee",
    col_sla: "SLA",
    queue_empty: "No tickets in this view.",
    load_more: "Load more",
    bulk_result_title: "Bulk action results",
    bulk_summary_done: "Done:",
    bulk_summary_failed: "Failed:",
    bulk_back: "Back to the queue",
    bulk_pick_action: "Choose an action and its value.",
    bulk_pick_tickets: "Select at least one ticket.",
    bulk_done: "done",
    bulk_stale: "someone changed this ticket since the page was shown; reload and try again",
    clock_first_response: "First response",
    clock_next_response: "Next response",
    clock_resolution: "Resolution",
    clock_stage: "Stage",
    band_breached: "breached",
    band_paused: "paused",
    band_at_risk: "at risk",
    band_ok: "on time",
    priority_urgent: "Urgent",
    priority_high: "High",
    priority_normal: "Normal",
    priority_low: "Low",
    status_open: "Open",
    status_waiting_customer: "Waiting on customer",
    status_waiting_partner: "Waiting on partner",
    status_resolved: "Resolved",
    status_closed: "Closed",
    channel_phone: "Phone",
    channel_email: "Email",
    channel_chat: "Chat",
    channel_web: "Web",
    channel_onsite: "On site",
    kind_request: "Request",
    kind_incident: "Incident",
    kind_complaint: "Complaint",
    clock_running: "running",
    clock_paused: "paused",
    clock_met: "met",
    clock_breached: "breached",
    clock_not_applicable: "not applicable",
    calendar_from_stage: "the stage's own calendar",
    calendar_from_target: "the policy's calendar for this target",
    calendar_from_policy: "the policy's calendar",
    calendar_from_default: "no calendar named: wall-clock time",
    role_admin: "admin",
    role_supervisor: "supervisor",
    role_agent: "agent",
    role_qa: "qa",
    role_viewer: "viewer",
    role_partner: "partner",
    role_mailgate: "mail gateway",
    partner_supplier: "supplier",
    partner_subcontractor: "subcontractor",
    partner_logistics: "logistics",
    partner_other: "other",
    partner_active: "active",
    partner_suspended: "suspended",
    office_front: "front",
    office_back: "back",
    delivery_pending: "pending",
    delivery_delivered: "delivered",
    delivery_failed: "failed",
    live_panel_label: "Live updates",
    live_ticket_changed: "This ticket changed: {count} new events.",
    live_reload: "Reload",
    live_queue_changed: "{count} tickets changed.",
    live_refresh: "Refresh",
    live_also_viewing: "Also viewing:",
    live_stage: "Stage",
    live_status: "Status",
    screens: &crate::screen_texts::EN,
};

pub static ZH: Texts = Texts {
    product: "Steward",
    skip_to_content: "跳到正文",
    home_title: "Steward 控制台",
    home_lead: "浏览器里的服务台。",
    survey_title: "您对我们的服务满意吗？",
    survey_about: "关于您的请求",
    survey_question: "您对我们的处理有多满意？",
    survey_scores: ["1 – 非常不满意", "2 – 不满意", "3 – 一般", "4 – 满意", "5 – 非常满意"],
    survey_comment: "还有什么想告诉我们的吗？（可选）",
    survey_comment_hint: "最多 4096 个字符。",
    survey_send: "提交我的回答",
    survey_expires: "本问卷开放至",
    survey_pick_a_score: "请选择 1 到 5 之间的评分。",
    survey_thanks_title: "谢谢您",
    survey_thanks: "您的回答已记录。感谢您帮助我们改进。",
    survey_answered_title: "已经回答过了",
    survey_answered: "本问卷已经回答过了，每份问卷只能回答一次。",
    survey_expired_title: "本问卷已关闭",
    survey_expired: "回答本问卷的时间已过。",
    survey_unknown_title: "找不到问卷",
    survey_unknown: "此链接没有对应的问卷，请检查链接是否完整。",
    problem_title: "出错了",
    problem_unavailable: "暂时无法完成，请稍后再试。",
    nav_label: "主菜单",
    nav_home: "首页",
    signed_in_as: "当前用户",
    sign_out: "退出登录",
    sign_in_title: "登录",
    email: "电子邮箱",
    password: "密码",
    sign_in_button: "登录",
    sign_in_help: "还没有密码或忘记了密码？请向管理员索取设置密码的链接。",
    wrong_credentials: "电子邮箱或密码不正确。",
    throttled: "登录失败次数过多，请在 {seconds} 秒后重试。",
    signed_out: "您已退出登录。",
    password_set_done: "密码已设置，请用新密码登录。",
    set_password_title: "设置密码",
    set_password_for: "正在为以下账号设置密码：",
    new_password: "新密码",
    confirm_password: "再次输入新密码",
    set_password_button: "设置密码",
    password_rules: "至少 {min} 个字符，不能全是空格，也不能是您的电子邮箱。",
    passwords_differ: "两次输入的密码不一致，请输入相同的密码。",
    link_gone: "此链接已被使用或已过期，请向管理员索取新链接。",
    problem_not_found_title: "未找到",
    problem_not_found: "这里没有内容，或已被删除。",
    problem_forbidden_title: "无权访问",
    problem_forbidden: "您的角色无权执行此操作，请联系主管或管理员。",
    // Preferences (console-queues).
    nav_preferences: "偏好设置",
    preferences_title: "偏好设置",
    pref_language: "语言",
    pref_language_browser: "跟随浏览器",
    pref_timezone: "时区",
    pref_timezone_hint: "IANA 时区名称，例如 Asia/Shanghai 或 Europe/Berlin；留空则为 UTC。",
    pref_save: "保存偏好设置",
    pref_saved: "偏好设置已保存。",
    // Keyboard (console-queues).
    keys_title: "键盘快捷键",
    key_jk: "在列表中向下 / 向上移动选择",
    key_enter: "打开所选工单",
    key_search: "搜索",
    key_gq: "前往工单队列",
    key_number: "在搜索框输入工单编号即可直接打开",
    key_help: "显示这些快捷键",
    key_reply_note: "在工单页：撰写公开回复 / 内部备注",
    key_assign: "在工单页：选择处理人",
    key_send: "发送正在撰写的回复或备注",
    keys_close: "关闭",
    // Saved views (console-queues).
    saved_views: "已保存的视图",
    view_shared: "共享",
    view_delete: "删除视图",
    view_save_as: "将当前筛选保存为",
    view_share: "与所有人共享",
    view_save: "保存视图",
    // Queues (console-queues).
    nav_queues: "工单队列",
    queues_title: "工单队列",
    views_label: "视图",
    view_all: "全部工单",
    view_mine: "我的",
    view_team: "我的团队",
    view_unassigned: "未分配",
    view_at_risk: "即将超时",
    view_breached: "已超时",
    view_waiting_customer: "等待客户",
    view_waiting_partner: "等待合作伙伴",
    view_delegated: "已委派",
    filters_label: "筛选工单",
    q_search: "搜索标题",
    q_status: "状态",
    q_priority: "优先级",
    q_channel: "渠道",
    q_kind: "类型",
    q_tier: "客户等级",
    q_tag: "标签",
    q_assignee: "处理人（员工 ID）",
    q_team: "团队",
    q_process: "流程",
    q_stage: "阶段",
    q_apply: "应用筛选",
    q_any: "全部",
    q_nobody: "无人（取消分配）",
    bulk_legend: "对所选工单",
    bulk_assign_to: "分配给",
    bulk_assign: "分配",
    bulk_move_to: "移至阶段",
    bulk_move: "移动",
    bulk_priority_to: "设置优先级",
    bulk_priority: "设置",
    bulk_tag_with: "添加标签",
    bulk_tag: "加标签",
    select_all: "选择本页全部工单",
    select_ticket: "选择",
    col_number: "编号",
    col_title: "标题",
    col_customer: "客户",
    col_priority: "优先级",
    col_stage: "阶段",
    col_assignee: "处理人",
    col_sla: "服务时限",
    queue_empty: "此视图中没有工单。",
    load_more: "加载更多",
    bulk_result_title: "批量操作结果",
    bulk_summary_done: "成功：",
    bulk_summary_failed: "失败：",
    bulk_back: "返回队列",
    bulk_pick_action: "请选择一个操作及其取值。",
    bulk_pick_tickets: "请至少选择一张工单。",
    bulk_done: "已完成",
    bulk_stale: "页面显示后此工单已被他人修改，请刷新后重试",
    clock_first_response: "首次响应",
    clock_next_response: "下次响应",
    clock_resolution: "解决",
    clock_stage: "阶段",
    band_breached: "已超时",
    band_paused: "已暂停",
    band_at_risk: "即将超时",
    band_ok: "正常",
    priority_urgent: "紧急",
    priority_high: "高",
    priority_normal: "普通",
    priority_low: "低",
    status_open: "处理中",
    status_waiting_customer: "等待客户",
    status_waiting_partner: "等待合作伙伴",
    status_resolved: "已解决",
    status_closed: "已关闭",
    channel_phone: "电话",
    channel_email: "电子邮件",
    channel_chat: "在线聊天",
    channel_web: "网页",
    channel_onsite: "现场",
    kind_request: "服务请求",
    kind_incident: "故障",
    kind_complaint: "投诉",
    clock_running: "计时中",
    clock_paused: "已暂停",
    clock_met: "已达标",
    clock_breached: "已超时",
    clock_not_applicable: "不适用",
    calendar_from_stage: "该阶段自己的日历",
    calendar_from_target: "策略为此目标指定的日历",
    calendar_from_policy: "策略的日历",
    calendar_from_default: "未指定日历：按自然时间计",
    role_admin: "管理员",
    role_supervisor: "主管",
    role_agent: "坐席",
    role_qa: "质检员",
    role_viewer: "只读用户",
    role_partner: "合作伙伴",
    role_mailgate: "邮件网关",
    partner_supplier: "供应商",
    partner_subcontractor: "分包商",
    partner_logistics: "物流",
    partner_other: "其他",
    partner_active: "合作中",
    partner_suspended: "已暂停",
    office_front: "前台",
    office_back: "后台",
    delivery_pending: "等待发送",
    delivery_delivered: "已送达",
    delivery_failed: "失败",
    live_panel_label: "实时更新",
    live_ticket_changed: "此工单已更新：{count} 条新事件。",
    live_reload: "重新加载",
    live_queue_changed: "{count} 个工单有更新。",
    live_refresh: "刷新",
    live_also_viewing: "同时在查看：",
    live_stage: "阶段",
    live_status: "状态",
    screens: &crate::screen_texts::ZH,
};

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn lang(accept: &'static str) -> Lang {
        Lang::from_headers(&HeaderMap::from_iter([(header::ACCEPT_LANGUAGE, HeaderValue::from_static(accept))]))
    }

    #[test]
    fn accept_language_picks_the_best_language_we_have() {
        assert_eq!(lang("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(lang("fr-FR, en;q=0.5, zh;q=0.4"), Lang::En);
        assert_eq!(lang("en;q=0.3, zh-Hans;q=0.7"), Lang::Zh);
        assert_eq!(lang("zh;q=0, de"), Lang::En);
        assert_eq!(Lang::from_headers(&HeaderMap::new()), Lang::En);
    }

    #[test]
    fn every_audit_kind_and_assessment_method_has_words_in_both_languages() {
        use steward_domain::login::AuditKind;
        use steward_domain::training::AssessmentMethod;
        for t in [&EN, &ZH] {
            for kind in AuditKind::ALL {
                assert!(t.term(&format!("audit:{}", kind.as_str())).is_some(), "{kind:?}");
            }
            for method in AssessmentMethod::ALL {
                assert!(t.term(&format!("method:{}", method.as_str())).is_some(), "{method:?}");
            }
        }
        assert_eq!(ZH.audit_kind_label(AuditKind::SignInThrottled), "登录受限（失败过多）");
        assert_eq!(EN.method_label(AssessmentMethod::RealCase), "Real case");
        let always = steward_domain::calendar::Calendar::always_utc();
        assert_eq!(ZH.calendar_label(&always), "全天候（7×24 小时） (UTC)");
        assert_eq!(EN.calendar_label(&always), "Around the clock (UTC)");
    }

    #[test]
    fn every_value_word_has_its_own_chinese() {
        let words = |t: &Texts| {
            let mut all: Vec<&str> = Channel::ALL.iter().map(|c| t.channel_label(*c)).collect();
            all.extend(Kind::ALL.iter().map(|k| t.kind_label(*k)));
            all.extend(ClockKind::ALL.iter().map(|k| t.clock_label(*k)));
            all.extend(ClockState::ALL.iter().map(|s| t.clock_state_label(*s)));
            all.extend(CalendarSource::ALL.iter().map(|s| t.calendar_source_label(*s)));
            all.extend(Priority::ALL.iter().map(|p| t.priority_label(*p)));
            all.extend(Status::ALL.iter().map(|s| t.status_label(*s)));
            all.extend(Role::ALL.iter().map(|r| t.role_label(*r)));
            all.extend(PartnerKind::ALL.iter().map(|k| t.partner_kind_label(*k)));
            all.extend(PartnerStatus::ALL.iter().map(|s| t.partner_status_label(*s)));
            all.extend(Office::ALL.iter().map(|o| t.office_label(*o)));
            all.extend(DeliveryState::ALL.iter().map(|d| t.delivery_label(*d)));
            all
        };
        for (en, zh) in words(&EN).into_iter().zip(words(&ZH)) {
            assert!(!zh.is_empty() && en != zh, "{en} has its own Chinese word");
        }
    }

    #[test]
    fn a_spelled_value_is_named_by_its_closed_set() {
        assert_eq!(ZH.value_label("email"), ZH.channel_email);
        assert_eq!(ZH.value_label("incident"), ZH.kind_incident);
        assert_eq!(ZH.value_label("waiting_customer"), ZH.status_waiting_customer);
        assert_eq!(ZH.value_label("first_response"), ZH.clock_first_response);
        assert_eq!(ZH.value_label("breached"), ZH.clock_breached);
        assert_eq!(EN.value_label("urgent"), "Urgent");
        assert_eq!(ZH.value_label("vip"), "vip");
    }

    #[test]
    fn every_built_in_kpi_has_a_chinese_name_and_english_keeps_the_domains() {
        use steward_domain::kpi::{Kpi, Unit, BUILTIN, STAGE_DWELL};
        for key in BUILTIN.iter().map(|(key, ..)| *key).chain([STAGE_DWELL.0]) {
            assert!(ZH.kpi_name(key).is_some_and(|name| !name.is_empty()), "{key} has a Chinese name");
            assert_eq!(EN.kpi_name(key), None, "{key}: English reads the domain's name");
        }
        let compliance = Kpi::new("sla_compliance", "SLA compliance", Unit::Ratio, None, 0).with_dimension("first_response");
        assert_eq!(ZH.kpi_label(&compliance), format!("SLA 达成率 ({})", ZH.clock_first_response));
        assert_eq!(EN.kpi_label(&compliance), "SLA compliance (First response)");
        let plugin = Kpi::new("acme/uptime", "Uptime of the fleet", Unit::Ratio, None, 0);
        assert_eq!(ZH.kpi_label(&plugin), "Uptime of the fleet");
    }

    #[test]
    fn times_are_shown_in_the_persons_timezone() {
        let at = Timestamp::parse("at", "2026-12-02T14:05:00Z").unwrap();
        let utc = Locale { lang: Lang::En, tz: jiff::tz::TimeZone::UTC };
        assert_eq!(utc.time(at), "2026-12-02 14:05 UTC");
        let shanghai = Locale { lang: Lang::Zh, tz: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap() };
        assert_eq!(shanghai.time(at), "2026-12-02 22:05 CST");
    }
}
