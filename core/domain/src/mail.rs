//! Outbound mail: which event sends which notification to whom, the templates (English and
//! Chinese, overridable per process), header-safe subjects, Message-IDs and the retry rule.
//! Plain rules: the storage writes what [`MailSettings::plan_ticket`] returns in the event's
//! own transaction; the services send it.

use crate::clock::ClockKind;
use crate::event::{Actor, EventData, SlaClockRef};
use crate::ids::{StaffId, TicketId};
use crate::login::Language;
use crate::ticket::{Ticket, Visibility};
use crate::time::Timestamp;
use crate::training::StaffEventData;
use crate::webhook::RetryPolicy;
use crate::FieldError;
use std::collections::{BTreeMap, BTreeSet};

crate::string_enum! {
    /// What a mail tells its reader. Customers hear the first four; staff the rest.
    pub enum NotificationKind {
        TicketReceived => "ticket_received",
        StaffReply => "staff_reply",
        Resolved => "resolved",
        SurveyReminder => "survey_reminder",
        Assigned => "assigned",
        SlaWarning => "sla_warning",
        SlaBreached => "sla_breached",
        SlaEscalated => "sla_escalated",
        CertificationExpiring => "certification_expiring",
    }
}

crate::string_enum! {
    /// Where an outbox row stands: waiting (to be sent, or retried), sent, or given up.
    pub enum MailState {
        Pending => "pending",
        Sent => "sent",
        Failed => "failed",
    }
}

impl NotificationKind {
    /// The placeholders its templates may use.
    pub fn placeholders(self) -> &'static [&'static str] {
        use NotificationKind::*;
        match self {
            TicketReceived => &["number", "title", "customer"],
            StaffReply => &["number", "title", "customer", "body", "author"],
            Resolved | SurveyReminder => &["number", "title", "customer", "survey_link"],
            Assigned => &["number", "title", "priority", "ticket_link"],
            SlaWarning => &["number", "title", "clock", "percent", "due_at", "ticket_link"],
            SlaBreached => &["number", "title", "clock", "target", "ticket_link"],
            SlaEscalated => &["number", "title", "clock", "percent", "role", "ticket_link"],
            CertificationExpiring => &["certification", "expires_at"],
        }
    }
}

/// Who a planned mail is for; the storage turns staff and roles into their addresses inside
/// the same transaction (active staff only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Address(String),
    Staff(StaffId),
    /// Every active staff member with the role (an escalation's `notify_role`).
    Role(String),
}

/// A mail to queue: rendered, addressed, not yet given its Message-ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedMail {
    pub kind: NotificationKind,
    pub ticket_id: Option<TicketId>,
    pub recipient: Recipient,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A mail in the outbox, as an admin sees it, with its delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: crate::ids::MailId,
    pub ticket_id: Option<TicketId>,
    pub kind: NotificationKind,
    pub recipient: String,
    pub subject: String,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub state: MailState,
    pub created_at: Timestamp,
    /// Set while pending.
    pub next_attempt_at: Option<Timestamp>,
    pub sent_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub attempts: Vec<MailAttempt>,
}

/// One try at handing a mail to the SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttempt {
    pub at: Timestamp,
    pub duration_ms: i64,
    /// None: the server accepted the mail.
    pub error: Option<String>,
}

/// One template: subject, text body, HTML body, with `{placeholder}`s (`{{` is a brace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Mail settings of one process (`config/mail/{process}.toml`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessMail {
    /// The language of this process's customers when their ticket names none.
    pub language: Option<Language>,
    /// Kinds this process never sends.
    pub off: BTreeSet<NotificationKind>,
    pub templates: BTreeMap<(NotificationKind, Language), Template>,
}

/// Everything planning needs: the desk's address, which kinds are on, languages, templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The desk's address: From of every mail; its domain names our Message-IDs.
    pub address: String,
    pub default_language: Language,
    /// Where links in mail point (`https://steward.example.org`), no trailing slash.
    pub link_base_url: String,
    /// Kinds switched on for every process (each process may switch more off).
    pub kinds_on: BTreeSet<NotificationKind>,
    pub processes: BTreeMap<String, ProcessMail>,
}

impl MailSettings {
    /// The domain part of the desk's address, which every Message-ID we make ends in.
    pub fn domain(&self) -> &str {
        address_domain(&self.address).unwrap_or("localhost")
    }

    fn is_on(&self, process: &str, kind: NotificationKind) -> bool {
        self.kinds_on.contains(&kind) && !self.processes.get(process).is_some_and(|p| p.off.contains(&kind))
    }

    /// The customer's language: the ticket's `language` custom field when it names one
    /// (`zh`, `zh-CN`, `en`…), else the process's, else the server's default.
    pub fn customer_language(&self, ticket: &Ticket) -> Language {
        let named = ticket.custom_fields.get("language").and_then(|v| v.as_str()).and_then(language_named);
        named.or_else(|| self.processes.get(&ticket.process).and_then(|p| p.language)).unwrap_or(self.default_language)
    }

    fn template(&self, process: &str, kind: NotificationKind, language: Language) -> Template {
        match self.processes.get(process).and_then(|p| p.templates.get(&(kind, language))) {
            Some(t) => t.clone(),
            None => builtin(kind, language),
        }
    }

    fn ticket_link(&self, ticket: &Ticket) -> String {
        format!("{}/tickets/{}", self.link_base_url, ticket.number)
    }

    /// The mails a committed change sends: to the customer (when their contact is an email
    /// address) on creation, a public staff reply and resolution; to staff on assignment and
    /// SLA alerts. `actor` made the change (a person assigning a ticket to themselves is not
    /// told). Each kind only when switched on for the ticket's process.
    pub fn plan_ticket(&self, ticket: &Ticket, actor: &Actor, events: &[EventData]) -> Vec<PlannedMail> {
        let customer = customer_address(ticket.customer.contact.as_deref());
        let language = self.customer_language(ticket);
        let name = || ("customer", ticket.customer.name.clone());
        let mut mails = Vec::new();
        for event in events {
            let planned = match (event, &customer) {
                (EventData::Created { .. }, Some(to)) => {
                    self.ticket_mail(ticket, NotificationKind::TicketReceived, Recipient::Address(to.clone()), language, vec![name()])
                }
                (EventData::CommentAdded { body, visibility: Visibility::Public, from_customer: false, .. }, Some(to)) => self.ticket_mail(
                    ticket,
                    NotificationKind::StaffReply,
                    Recipient::Address(to.clone()),
                    language,
                    vec![name(), ("body", body.clone()), ("author", actor.name.clone())],
                ),
                (EventData::SurveyIssued { survey_url, .. }, Some(to)) => self.ticket_mail(
                    ticket,
                    NotificationKind::Resolved,
                    Recipient::Address(to.clone()),
                    language,
                    vec![name(), ("survey_link", self.survey_link(survey_url))],
                ),
                (EventData::AssigneeChanged { to: Some(staff), .. }, _) if actor.staff_id != Some(*staff) => self.ticket_mail(
                    ticket,
                    NotificationKind::Assigned,
                    Recipient::Staff(*staff),
                    self.default_language,
                    vec![("priority", ticket.priority.as_str().to_owned()), ("ticket_link", self.ticket_link(ticket))],
                ),
                (EventData::SlaWarning { clock, percent, due_at }, _) => ticket.assignee.and_then(|staff| {
                    self.ticket_mail(
                        ticket,
                        NotificationKind::SlaWarning,
                        Recipient::Staff(staff),
                        self.default_language,
                        vec![
                            ("clock", clock_words(clock, self.default_language)),
                            ("percent", percent.to_string()),
                            ("due_at", due_at.map(|t| t.to_string()).unwrap_or_default()),
                            ("ticket_link", self.ticket_link(ticket)),
                        ],
                    )
                }),
                (EventData::SlaBreached { clock, target, .. }, _) => ticket.assignee.and_then(|staff| {
                    self.ticket_mail(
                        ticket,
                        NotificationKind::SlaBreached,
                        Recipient::Staff(staff),
                        self.default_language,
                        vec![
                            ("clock", clock_words(clock, self.default_language)),
                            ("target", target.clone()),
                            ("ticket_link", self.ticket_link(ticket)),
                        ],
                    )
                }),
                (EventData::SlaEscalated { clock, percent, notify_role }, _) => self.ticket_mail(
                    ticket,
                    NotificationKind::SlaEscalated,
                    Recipient::Role(notify_role.clone()),
                    self.default_language,
                    vec![
                        ("clock", clock_words(clock, self.default_language)),
                        ("percent", percent.to_string()),
                        ("role", notify_role.clone()),
                        ("ticket_link", self.ticket_link(ticket)),
                    ],
                ),
                _ => None,
            };
            mails.extend(planned);
        }
        mails
    }

    /// The one reminder of an unanswered survey (by its token), to the customer.
    pub fn plan_survey_reminder(&self, ticket: &Ticket, survey_token: &str) -> Vec<PlannedMail> {
        let Some(to) = customer_address(ticket.customer.contact.as_deref()) else { return Vec::new() };
        let values = vec![("customer", ticket.customer.name.clone()), ("survey_link", self.survey_page(survey_token))];
        let language = self.customer_language(ticket);
        self.ticket_mail(ticket, NotificationKind::SurveyReminder, Recipient::Address(to), language, values).into_iter().collect()
    }

    /// A mail about `ticket`, rendered from the process's template in `language`, when `kind`
    /// is on for the process; `values` besides the number and title.
    fn ticket_mail(
        &self,
        ticket: &Ticket,
        kind: NotificationKind,
        recipient: Recipient,
        language: Language,
        mut values: Vec<(&str, String)>,
    ) -> Option<PlannedMail> {
        if !self.is_on(&ticket.process, kind) {
            return None;
        }
        let number = ticket.number.to_string();
        values.push(("number", number.clone()));
        values.push(("title", ticket.title.clone()));
        let template = self.template(&ticket.process, kind, language);
        Some(render(kind, Some(ticket.id), recipient, &template, &values, Some(&number)))
    }

    /// The mail a staff event sends to its person: a certification about to expire.
    pub fn plan_staff(&self, staff: StaffId, event: &StaffEventData) -> Vec<PlannedMail> {
        let StaffEventData::CertificationExpiring { certification, expires_at, .. } = event else {
            return Vec::new();
        };
        let kind = NotificationKind::CertificationExpiring;
        if !self.kinds_on.contains(&kind) {
            return Vec::new();
        }
        let values = [("certification", certification.clone()), ("expires_at", expires_at.to_string())];
        vec![render(kind, None, Recipient::Staff(staff), &builtin(kind, self.default_language), &values, None)]
    }

    /// The customer's survey page for a survey the API links as `/api/v1/surveys/{token}`.
    fn survey_link(&self, survey_url: &str) -> String {
        self.survey_page(survey_url.rsplit('/').next().unwrap_or(survey_url))
    }

    fn survey_page(&self, token: &str) -> String {
        format!("{}/survey/{token}", self.link_base_url)
    }

    /// Reads one process's mail file: `language`, `off` (kinds never sent) and
    /// `[templates.KIND.LANGUAGE]` tables of `subject`, `text`, `html` (any left out is the
    /// built-in one). Unknown keys, kinds, languages and placeholders are refused by name.
    pub fn parse_process_file(text: &str) -> Result<ProcessMail, FieldError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            language: Option<String>,
            #[serde(default)]
            off: Vec<String>,
            #[serde(default)]
            templates: BTreeMap<String, BTreeMap<String, Parts>>,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Parts {
            subject: Option<String>,
            text: Option<String>,
            html: Option<String>,
        }
        let file: File = toml::from_str(text).map_err(|e| FieldError::new("(file)", e.message().to_owned()))?;
        let language = file.language.as_deref().map(|l| Language::parse("language", l)).transpose()?;
        let off = file.off.iter().map(|k| NotificationKind::parse("off", k)).collect::<Result<_, _>>()?;
        let mut templates = BTreeMap::new();
        for (kind_name, languages) in file.templates {
            let kind = NotificationKind::parse("templates", &kind_name)?;
            for (language_name, parts) in languages {
                let field = format!("templates.{kind_name}.{language_name}");
                let language = Language::parse(&field, &language_name)?;
                let base = builtin(kind, language);
                let template = Template {
                    subject: parts.subject.unwrap_or(base.subject),
                    text: parts.text.unwrap_or(base.text),
                    html: parts.html.unwrap_or(base.html),
                };
                for (part, body) in [("subject", &template.subject), ("text", &template.text), ("html", &template.html)] {
                    check_placeholders(&format!("{field}.{part}"), body, kind.placeholders())?;
                }
                templates.insert((kind, language), template);
            }
        }
        Ok(ProcessMail { language, off, templates })
    }
}

fn language_named(text: &str) -> Option<Language> {
    let primary = text.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    Language::parse("language", &primary).ok()
}

/// The customer's contact as a mail address, when it is one.
pub fn customer_address(contact: Option<&str>) -> Option<String> {
    crate::staff::normalize_email(contact?).ok()
}

/// A subject safe to put in a header: line breaks and other control characters become spaces
/// (no header can be injected), runs of spaces one, at most 200 characters.
pub fn header_safe(text: &str) -> String {
    let spaced: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect()
}

/// The domain part of an address (`support@example.org` → `example.org`).
pub fn address_domain(address: &str) -> Option<&str> {
    address.rsplit_once('@').map(|(_, d)| d.trim()).filter(|d| !d.is_empty())
}

/// Our Message-ID for a mail: `<{ticket}.{unique}@{domain}>` about a ticket (mail replies are
/// threaded back by it), `<{unique}@{domain}>` otherwise.
pub fn message_id(ticket: Option<TicketId>, unique: uuid::Uuid, domain: &str) -> String {
    match ticket {
        Some(ticket) => format!("<{ticket}.{unique}@{domain}>"),
        None => format!("<{unique}@{domain}>"),
    }
}

/// The subject token every mail about a ticket carries: `[T-000123]`.
pub fn subject_token(number: &str) -> String {
    format!("[{number}]")
}

/// What follows a send attempt number `attempt` (from 1): sent, retried at the instant given,
/// or given up once the attempts are spent (the webhooks' backoff with its cap and jitter).
pub fn after_attempt(policy: &RetryPolicy, attempt: u32, sent: bool, now: Timestamp, jitter: f64) -> (MailState, Option<Timestamp>) {
    if sent {
        (MailState::Sent, None)
    } else if attempt >= policy.max_attempts {
        (MailState::Failed, None)
    } else {
        (MailState::Pending, Some(now.plus_millis(policy.delay_ms(attempt, jitter))))
    }
}

fn render(
    kind: NotificationKind,
    ticket_id: Option<TicketId>,
    recipient: Recipient,
    template: &Template,
    values: &[(&str, String)],
    number: Option<&str>,
) -> PlannedMail {
    let mut subject = header_safe(&fill(&template.subject, values, |v| v.to_owned()));
    if let Some(number) = number {
        let token = subject_token(number);
        if !subject.contains(&token) {
            subject = header_safe(&format!("{token} {subject}"));
        }
    }
    PlannedMail {
        kind,
        ticket_id,
        recipient,
        subject,
        text: fill(&template.text, values, |v| v.to_owned()),
        html: fill(&template.html, values, |v| escape_html(v).replace('\n', "<br>\n")),
    }
}

/// Puts `values` in for their `{name}`s, each through `encode`; `{{` and `}}` are braces.
fn fill(template: &str, values: &[(&str, String)], encode: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
        } else if let (true, Some(end)) = (tail.starts_with('{'), tail.find('}')) {
            let name = &tail[1..end];
            match values.iter().find(|(n, _)| *n == name) {
                Some((_, value)) => out.push_str(&encode(value)),
                None => out.push_str(&tail[..=end]),
            }
            rest = &tail[end + 1..];
        } else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

fn check_placeholders(field: &str, template: &str, allowed: &[&str]) -> Result<(), FieldError> {
    let mut rest = template.replace("{{", "").replace("}}", "");
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            return Err(FieldError::new(field, "a `{` is not closed (write `{{` for a brace)"));
        };
        let name = &rest[start + 1..start + len];
        if !allowed.contains(&name) {
            return Err(FieldError::new(field, format!("`{{{name}}}` is not a placeholder here; use one of: {}", allowed.join(", "))));
        }
        rest = rest[start + len + 1..].to_owned();
    }
    Ok(())
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A clock as a mail says it: "first response", "stage diagnosis" — words in the mail's
/// language, not the API's spellings.
fn clock_words(clock: &SlaClockRef, language: Language) -> String {
    let words = match (ClockKind::parse("clock", &clock.kind), language) {
        (Ok(ClockKind::FirstResponse), Language::En) => "first response",
        (Ok(ClockKind::FirstResponse), Language::Zh) => "首次响应",
        (Ok(ClockKind::NextResponse), Language::En) => "next response",
        (Ok(ClockKind::NextResponse), Language::Zh) => "后续响应",
        (Ok(ClockKind::Resolution), Language::En) => "resolution",
        (Ok(ClockKind::Resolution), Language::Zh) => "解决",
        (Ok(ClockKind::Stage), Language::En) => "stage",
        (Ok(ClockKind::Stage), Language::Zh) => "阶段",
        (Err(_), _) => return clock.kind.clone(),
    };
    match &clock.stage {
        Some(stage) => format!("{words} {stage}"),
        None => words.to_owned(),
    }
}

/// The built-in templates, English and Simplified Chinese.
pub fn builtin(kind: NotificationKind, language: Language) -> Template {
    use Language::{En, Zh};
    use NotificationKind::*;
    let (subject, text, html) = match (kind, language) {
        (TicketReceived, En) => (
            "[{number}] We have received your request: {title}",
            "Hello {customer},\n\nwe have received your request \"{title}\" and opened ticket {number}. Reply to this mail to add to it; keep {number} in the subject.\n\nThe service desk",
            "<p>Hello {customer},</p><p>we have received your request “{title}” and opened ticket <strong>{number}</strong>. Reply to this mail to add to it; keep {number} in the subject.</p><p>The service desk</p>",
        ),
        (TicketReceived, Zh) => (
            "[{number}] 我们已收到您的请求：{title}",
            "{customer}，您好：\n\n我们已收到您的请求“{title}”，工单号为 {number}。直接回复此邮件即可补充信息，请保留主题中的 {number}。\n\n服务台",
            "<p>{customer}，您好：</p><p>我们已收到您的请求“{title}”，工单号为 <strong>{number}</strong>。直接回复此邮件即可补充信息，请保留主题中的 {number}。</p><p>服务台</p>",
        ),
        (StaffReply, En) => (
            "[{number}] {title}",
            "Hello {customer},\n\n{body}\n\n{author}, the service desk",
            "<p>Hello {customer},</p><p>{body}</p><p>{author}, the service desk</p>",
        ),
        (StaffReply, Zh) => ("[{number}] {title}", "{customer}，您好：\n\n{body}\n\n{author}，服务台", "<p>{customer}，您好：</p><p>{body}</p><p>{author}，服务台</p>"),
        (Resolved, En) => (
            "[{number}] Resolved: {title}",
            "Hello {customer},\n\nyour request \"{title}\" ({number}) has been resolved. How did we do? Tell us in one minute:\n{survey_link}\n\nReply to this mail if the problem is still there.\n\nThe service desk",
            "<p>Hello {customer},</p><p>your request “{title}” ({number}) has been resolved. How did we do? <a href=\"{survey_link}\">Tell us in one minute</a>.</p><p>Reply to this mail if the problem is still there.</p><p>The service desk</p>",
        ),
        (Resolved, Zh) => (
            "[{number}] 已解决：{title}",
            "{customer}，您好：\n\n您的请求“{title}”（{number}）已解决。请花一分钟评价我们的服务：\n{survey_link}\n\n如问题仍未解决，请直接回复此邮件。\n\n服务台",
            "<p>{customer}，您好：</p><p>您的请求“{title}”（{number}）已解决。<a href=\"{survey_link}\">请花一分钟评价我们的服务</a>。</p><p>如问题仍未解决，请直接回复此邮件。</p><p>服务台</p>",
        ),
        (SurveyReminder, En) => (
            "[{number}] A minute for your feedback? {title}",
            "Hello {customer},\n\nwe would still like to hear how we handled \"{title}\" ({number}):\n{survey_link}\n\nThe service desk",
            "<p>Hello {customer},</p><p>we would still like to hear how we handled “{title}” ({number}): <a href=\"{survey_link}\">your feedback</a>.</p><p>The service desk</p>",
        ),
        (SurveyReminder, Zh) => (
            "[{number}] 请评价我们的服务：{title}",
            "{customer}，您好：\n\n我们仍希望了解您对“{title}”（{number}）处理情况的评价：\n{survey_link}\n\n服务台",
            "<p>{customer}，您好：</p><p>我们仍希望了解您对“{title}”（{number}）处理情况的<a href=\"{survey_link}\">评价</a>。</p><p>服务台</p>",
        ),
        (Assigned, En) => (
            "[{number}] Assigned to you: {title}",
            "Ticket {number} \"{title}\" (priority {priority}) is now yours.\n{ticket_link}",
            "<p>Ticket <a href=\"{ticket_link}\">{number}</a> “{title}” (priority {priority}) is now yours.</p>",
        ),
        (Assigned, Zh) => (
            "[{number}] 分配给您：{title}",
            "工单 {number}“{title}”（优先级 {priority}）已分配给您。\n{ticket_link}",
            "<p>工单 <a href=\"{ticket_link}\">{number}</a>“{title}”（优先级 {priority}）已分配给您。</p>",
        ),
        (SlaWarning, En) => (
            "[{number}] SLA warning ({percent}%): {title}",
            "The {clock} clock of ticket {number} \"{title}\" has used {percent}% of its target; it is due at {due_at}.\n{ticket_link}",
            "<p>The {clock} clock of ticket <a href=\"{ticket_link}\">{number}</a> “{title}” has used {percent}% of its target; it is due at {due_at}.</p>",
        ),
        (SlaWarning, Zh) => (
            "[{number}] SLA 预警（{percent}%）：{title}",
            "工单 {number}“{title}”的 {clock} 时钟已用去目标的 {percent}%，到期时间 {due_at}。\n{ticket_link}",
            "<p>工单 <a href=\"{ticket_link}\">{number}</a>“{title}”的 {clock} 时钟已用去目标的 {percent}%，到期时间 {due_at}。</p>",
        ),
        (SlaBreached, En) => (
            "[{number}] SLA breached: {title}",
            "The {clock} clock of ticket {number} \"{title}\" has exceeded its target of {target}.\n{ticket_link}",
            "<p>The {clock} clock of ticket <a href=\"{ticket_link}\">{number}</a> “{title}” has exceeded its target of {target}.</p>",
        ),
        (SlaBreached, Zh) => (
            "[{number}] SLA 已违约：{title}",
            "工单 {number}“{title}”的 {clock} 时钟已超出目标 {target}。\n{ticket_link}",
            "<p>工单 <a href=\"{ticket_link}\">{number}</a>“{title}”的 {clock} 时钟已超出目标 {target}。</p>",
        ),
        (SlaEscalated, En) => (
            "[{number}] Escalated to {role}: {title}",
            "Ticket {number} \"{title}\" is escalated to the {role} role: its {clock} clock is at {percent}% of its target.\n{ticket_link}",
            "<p>Ticket <a href=\"{ticket_link}\">{number}</a> “{title}” is escalated to the {role} role: its {clock} clock is at {percent}% of its target.</p>",
        ),
        (SlaEscalated, Zh) => (
            "[{number}] 已升级至 {role}：{title}",
            "工单 {number}“{title}”已升级至 {role} 角色：其 {clock} 时钟已达目标的 {percent}%。\n{ticket_link}",
            "<p>工单 <a href=\"{ticket_link}\">{number}</a>“{title}”已升级至 {role} 角色：其 {clock} 时钟已达目标的 {percent}%。</p>",
        ),
        (CertificationExpiring, En) => (
            "Your certification {certification} expires soon",
            "Your certification {certification} expires at {expires_at}. Renew it before then to keep working the stages it gates.",
            "<p>Your certification <strong>{certification}</strong> expires at {expires_at}. Renew it before then to keep working the stages it gates.</p>",
        ),
        (CertificationExpiring, Zh) => (
            "您的认证 {certification} 即将到期",
            "您的认证 {certification} 将于 {expires_at} 到期。请在此之前续期，以便继续处理需要该认证的阶段。",
            "<p>您的认证 <strong>{certification}</strong> 将于 {expires_at} 到期。请在此之前续期，以便继续处理需要该认证的阶段。</p>",
        ),
    };
    Template { subject: subject.to_owned(), text: text.to_owned(), html: html.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ActorKind;
    use crate::ids::TicketNumber;
    use crate::ticket::{Channel, Customer, Kind, Priority, Status};

    fn settings() -> MailSettings {
        MailSettings {
            address: "support@example.org".into(),
            default_language: Language::En,
            link_base_url: "https://steward.example.org".into(),
            kinds_on: NotificationKind::ALL.iter().copied().collect(),
            processes: BTreeMap::new(),
        }
    }

    fn ticket(contact: Option<&str>) -> Ticket {
        let at = Timestamp::from_millis(1_800_000_000_000);
        Ticket {
            id: TicketId::new_at(at),
            number: TicketNumber(123),
            title: "Printer <b>jammed</b>".into(),
            description: String::new(),
            kind: Kind::Incident,
            channel: Channel::Email,
            priority: Priority::High,
            customer: Customer { name: "Ada".into(), contact: contact.map(Into::into), tier: "standard".into() },
            process: "general".into(),
            process_version: 1,
            stage: "triage".into(),
            status: Status::Open,
            assignee: None,
            tags: Vec::new(),
            custom_fields: serde_json::Map::new(),
            created_at: at,
            updated_at: at,
            first_response_at: None,
            resolved_at: None,
            closed_at: None,
            reopen_count: 0,
            origin_ticket_id: None,
            review_passed_stage: None,
            staff_replies: 0,
            version: 1,
        }
    }

    fn staff_actor(staff: Option<StaffId>) -> Actor {
        Actor { kind: ActorKind::Token, token_id: None, staff_id: staff, name: "Grace".into() }
    }

    fn created() -> EventData {
        EventData::Created {
            number: "T-000123".into(),
            process: "general".into(),
            process_version: 1,
            stage: "triage".into(),
            status: Status::Open,
            priority: Priority::High,
            channel: "email".into(),
            kind: "incident".into(),
            tier: "standard".into(),
            origin_ticket_id: None,
        }
    }

    fn comment(visibility: Visibility, from_customer: bool) -> EventData {
        EventData::CommentAdded { body: "Try <this>\nthen that".into(), visibility, first_response: true, from_customer }
    }

    #[test]
    fn creation_tells_the_customer_the_number_in_the_subject_token() {
        let mails = settings().plan_ticket(&ticket(Some("Ada@Example.com")), &staff_actor(None), &[created()]);
        assert_eq!(mails.len(), 1);
        let mail = &mails[0];
        assert_eq!(mail.kind, NotificationKind::TicketReceived);
        assert_eq!(mail.recipient, Recipient::Address("ada@example.com".into()));
        assert!(mail.subject.starts_with("[T-000123] "), "{}", mail.subject);
        assert!(mail.text.contains("T-000123"));
    }

    #[test]
    fn a_customer_without_an_email_contact_gets_nothing() {
        for contact in [None, Some("+86 138 0000 0000"), Some("not an address")] {
            assert!(settings()
                .plan_ticket(&ticket(contact), &staff_actor(None), &[created(), comment(Visibility::Public, false)])
                .is_empty());
        }
    }

    #[test]
    fn only_public_staff_replies_are_mailed() {
        let s = settings();
        let t = ticket(Some("ada@example.com"));
        assert_eq!(s.plan_ticket(&t, &staff_actor(None), &[comment(Visibility::Public, false)]).len(), 1);
        assert!(s.plan_ticket(&t, &staff_actor(None), &[comment(Visibility::Internal, false)]).is_empty());
        assert!(s.plan_ticket(&t, &staff_actor(None), &[comment(Visibility::Public, true)]).is_empty());
    }

    #[test]
    fn placeholders_are_escaped_in_html_and_left_plain_in_text() {
        let mails = settings().plan_ticket(&ticket(Some("ada@example.com")), &staff_actor(None), &[comment(Visibility::Public, false)]);
        let mail = &mails[0];
        assert!(mail.text.contains("Try <this>\nthen that"));
        assert!(mail.html.contains("Try &lt;this&gt;<br>\nthen that"), "{}", mail.html);
        assert!(mail.subject.contains("Printer <b>jammed</b>"), "a subject is text, not HTML");
        assert!(!mail.html.contains("<b>jammed"));
    }

    #[test]
    fn resolution_links_the_customers_survey_page() {
        let event = EventData::SurveyIssued { survey_url: "/api/v1/surveys/svy_abc".into(), expires_at: Timestamp::from_millis(0) };
        let mails = settings().plan_ticket(&ticket(Some("ada@example.com")), &staff_actor(None), &[event]);
        assert_eq!(mails[0].kind, NotificationKind::Resolved);
        assert!(mails[0].text.contains("https://steward.example.org/survey/svy_abc"));
        assert!(mails[0].html.contains("href=\"https://steward.example.org/survey/svy_abc\""));
    }

    #[test]
    fn the_customers_language_comes_from_the_ticket_then_the_process_then_the_default() {
        let mut s = settings();
        let mut t = ticket(Some("ada@example.com"));
        assert_eq!(s.customer_language(&t), Language::En);
        s.processes.insert("general".into(), ProcessMail { language: Some(Language::Zh), ..Default::default() });
        assert_eq!(s.customer_language(&t), Language::Zh);
        t.custom_fields.insert("language".into(), "en-GB".into());
        assert_eq!(s.customer_language(&t), Language::En);
        t.custom_fields.insert("language".into(), "zh-CN".into());
        let mails = s.plan_ticket(&t, &staff_actor(None), &[created()]);
        assert!(mails[0].subject.contains("我们已收到您的请求"), "{}", mails[0].subject);
    }

    #[test]
    fn a_kind_switched_off_globally_or_for_the_process_is_not_planned() {
        let mut s = settings();
        let t = ticket(Some("ada@example.com"));
        s.processes.insert("general".into(), ProcessMail { off: [NotificationKind::TicketReceived].into(), ..Default::default() });
        assert!(s.plan_ticket(&t, &staff_actor(None), &[created()]).is_empty());
        s.processes.clear();
        s.kinds_on.remove(&NotificationKind::TicketReceived);
        assert!(s.plan_ticket(&t, &staff_actor(None), &[created()]).is_empty());
    }

    #[test]
    fn assignment_tells_the_assignee_unless_they_took_it_themselves() {
        let s = settings();
        let t = ticket(None);
        let staff = StaffId::new_at(Timestamp::from_millis(1));
        let event = EventData::AssigneeChanged { from: None, to: Some(staff) };
        let mails = s.plan_ticket(&t, &staff_actor(None), std::slice::from_ref(&event));
        assert_eq!(mails[0].recipient, Recipient::Staff(staff));
        assert_eq!(mails[0].kind, NotificationKind::Assigned);
        assert!(mails[0].text.contains("https://steward.example.org/tickets/T-000123"));
        assert!(s.plan_ticket(&t, &staff_actor(Some(staff)), &[event]).is_empty());
    }

    #[test]
    fn sla_mails_name_the_clock_in_words_of_the_mails_language() {
        let mut s = settings();
        let mut t = ticket(None);
        t.assignee = Some(StaffId::new_at(Timestamp::from_millis(1)));
        let clock = |kind: &str, stage: Option<&str>| SlaClockRef {
            id: crate::ids::ClockId::new_at(Timestamp::from_millis(2)),
            kind: kind.into(),
            stage: stage.map(str::to_owned),
            policy: None,
        };
        let breach =
            EventData::SlaBreached { clock: clock("first_response", None), target: "2h".into(), breached_at: Timestamp::from_millis(3) };
        let mails = s.plan_ticket(&t, &staff_actor(None), &[breach]);
        assert!(mails[0].text.contains("The first response clock"), "{}", mails[0].text);
        s.default_language = Language::Zh;
        let warning = EventData::SlaWarning { clock: clock("stage", Some("diagnosis")), percent: 80, due_at: None };
        let mails = s.plan_ticket(&t, &staff_actor(None), &[warning]);
        assert!(mails[0].text.contains("阶段 diagnosis 时钟"), "{}", mails[0].text);
    }

    #[test]
    fn subjects_cannot_carry_header_injection() {
        assert_eq!(header_safe("Hi\r\nBcc: all@example.org\t x"), "Hi Bcc: all@example.org x");
        let mut t = ticket(Some("ada@example.com"));
        t.title = "Help\r\nBcc: everyone@example.org".into();
        let mails = settings().plan_ticket(&t, &staff_actor(None), &[created()]);
        assert!(!mails[0].subject.contains(['\r', '\n']));
        assert_eq!(header_safe(&"x".repeat(500)).chars().count(), 200);
    }

    #[test]
    fn process_files_override_templates_and_refuse_unknown_placeholders() {
        let mail = MailSettings::parse_process_file(
            "language = \"zh\"\noff = [\"survey_reminder\"]\n[templates.ticket_received.en]\nsubject = \"Got it: {title} {{ok}}\"\n",
        )
        .unwrap();
        assert_eq!(mail.language, Some(Language::Zh));
        assert!(mail.off.contains(&NotificationKind::SurveyReminder));
        let mut s = settings();
        s.processes.insert("general".into(), mail);
        let mut t = ticket(Some("ada@example.com"));
        t.custom_fields.insert("language".into(), "en".into());
        let mails = s.plan_ticket(&t, &staff_actor(None), &[created()]);
        // The token is put in front when an override leaves it out.
        assert_eq!(mails[0].subject, "[T-000123] Got it: Printer <b>jammed</b> {ok}");
        assert_eq!(
            mails[0].text,
            fill(
                &builtin(NotificationKind::TicketReceived, Language::En).text,
                &[("customer", "Ada".to_owned()), ("number", "T-000123".to_owned()), ("title", t.title.clone())],
                |v| v.to_owned()
            )
        );
        let bad = MailSettings::parse_process_file("[templates.resolved.en]\ntext = \"{survey}\"\n").unwrap_err();
        assert_eq!(bad.field, "templates.resolved.en.text");
        assert!(MailSettings::parse_process_file("off = [\"everything\"]").unwrap_err().field == "off");
        assert!(MailSettings::parse_process_file("[templates.resolved.fr]\ntext = \"x\"")
            .unwrap_err()
            .field
            .starts_with("templates.resolved.fr"));
    }

    #[test]
    fn every_builtin_template_uses_only_its_kinds_placeholders() {
        for kind in NotificationKind::ALL {
            for language in Language::ALL {
                let t = builtin(*kind, *language);
                for part in [&t.subject, &t.text, &t.html] {
                    check_placeholders(kind.as_str(), part, kind.placeholders()).unwrap();
                }
            }
        }
    }

    #[test]
    fn addresses_have_domains() {
        assert_eq!(address_domain("support@example.org"), Some("example.org"));
        assert_eq!(address_domain("nobody"), None);
    }

    #[test]
    fn message_ids_name_the_ticket_and_our_domain() {
        let s = settings();
        let ticket = TicketId::new_at(Timestamp::from_millis(5));
        let unique = uuid::Uuid::now_v7();
        assert_eq!(message_id(Some(ticket), unique, s.domain()), format!("<{ticket}.{unique}@example.org>"));
        assert_eq!(message_id(None, unique, s.domain()), format!("<{unique}@example.org>"));
    }

    #[test]
    fn failed_sends_back_off_to_the_cap_then_give_up() {
        let policy = RetryPolicy { base_ms: 1_000, max_ms: 4_000, max_attempts: 4 };
        let now = Timestamp::from_millis(0);
        assert_eq!(after_attempt(&policy, 1, true, now, 0.0), (MailState::Sent, None));
        assert_eq!(after_attempt(&policy, 1, false, now, 0.0), (MailState::Pending, Some(now.plus_millis(1_000))));
        assert_eq!(after_attempt(&policy, 3, false, now, 0.0), (MailState::Pending, Some(now.plus_millis(4_000))));
        assert_eq!(after_attempt(&policy, 4, false, now, 0.0), (MailState::Failed, None));
    }

    #[test]
    fn a_survey_reminder_links_the_survey_page_in_the_customers_language() {
        let mut t = ticket(Some("ada@example.com"));
        t.custom_fields.insert("language".into(), "zh".into());
        let mails = settings().plan_survey_reminder(&t, "svy_abc");
        assert_eq!(mails[0].kind, NotificationKind::SurveyReminder);
        assert!(mails[0].text.contains("https://steward.example.org/survey/svy_abc"));
        assert!(mails[0].subject.contains("请评价"), "{}", mails[0].subject);
        assert!(settings().plan_survey_reminder(&ticket(None), "svy_abc").is_empty());
    }

    #[test]
    fn an_expiring_certification_mails_its_holder() {
        let staff = StaffId::new_at(Timestamp::from_millis(1));
        let event = StaffEventData::CertificationExpiring {
            certification: "forklift".into(),
            expires_at: Timestamp::from_millis(1_800_000_000_000),
            record_id: crate::ids::TrainingRecordId::new_at(Timestamp::from_millis(1)),
        };
        let mails = settings().plan_staff(staff, &event);
        assert_eq!(mails[0].recipient, Recipient::Staff(staff));
        assert!(mails[0].subject.contains("forklift"));
        assert_eq!(mails[0].ticket_id, None);
    }
}
