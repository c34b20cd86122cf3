//! Inbound mail: what a parsed message is, which ticket it threads to, when it is a loop, when
//! it is quarantined and why, and how its text becomes a comment (quoted replies trimmed, HTML
//! turned into plain text). Parsing the MIME itself happens in the services (the `mail-parser`
//! crate); everything here is a pure function of the parsed message and of facts handed in.

use super::ids::{InboundMailId, TicketId, TicketNumber};
use super::string_enum;
use super::ticket::{MAX_COMMENT_CHARS, MAX_CUSTOMER_NAME_CHARS, MAX_TITLE_CHARS};
use super::time::Timestamp;

string_enum! {
    /// What became of the files of an imported message that had any.
    pub enum MailAttachments {
        /// Not attached yet: the import committed, attaching them did not (it failed, or was
        /// interrupted). The pending-mail pass attaches them from the raw message.
        Owed => "owed",
        Attached => "attached",
        /// Over a cap: kept in the raw message only, the reason in `detail`.
        Refused => "refused",
    }
}

/// The message an import writes to a ticket, and whether files of it are to be attached after
/// the import commits (then the import marks them owed, and attaching them settles that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailImport {
    pub mail: InboundMailId,
    pub attachments_owed: bool,
}

string_enum! {
    /// Where a stored message stands.
    pub enum InboundMailState {
        /// Stored raw, not yet imported: a crash after storing leaves it here, and the next
        /// attempt imports it.
        Received => "received",
        Imported => "imported",
        /// Kept for an admin: it could not be parsed or threaded, or a rule held it back.
        Quarantined => "quarantined",
        /// A loop or a delivery report: stored, deliberately not imported.
        Ignored => "ignored",
    }
}

string_enum! {
    /// Why a message was ignored or quarantined.
    pub enum MailReason {
        /// Its own Message-ID is at our domain: one of ours came back.
        OwnMessage => "own_message",
        /// `Auto-Submitted` other than `no` (RFC 3834).
        AutoSubmitted => "auto_submitted",
        /// `Precedence: bulk`, `list` or `junk`.
        BulkPrecedence => "bulk_precedence",
        /// A delivery-status notification: its failed recipients are marked bouncing.
        DeliveryReport => "delivery_report",
        /// The MIME structure is broken (no boundary, an unterminated multipart).
        MalformedMime => "malformed_mime",
        /// No `From` address to answer.
        MissingFrom => "missing_from",
        /// The subject decodes to a line break: a header injection attempt.
        HeaderInjection => "header_injection",
        /// The text does not decode in the charset it declares.
        CharsetMismatch => "charset_mismatch",
        /// The text carries characters no ticket may hold (NUL and other controls).
        ForbiddenCharacters => "forbidden_characters",
        /// More MIME parts than `mail.inbound.max_parts`.
        TooManyParts => "too_many_parts",
        /// The sender sent more than the rate limit allows.
        RateLimited => "rate_limited",
        /// A ticket rule refused what the message would write (the text too long, say).
        Refused => "refused",
    }
}

/// A message as stored (its raw bytes are read apart, when needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMail {
    pub id: InboundMailId,
    /// Without angle brackets.
    pub message_id: Option<String>,
    /// `http`, `mailgate` or `imap:{mailbox}`.
    pub source: String,
    pub received_at: Timestamp,
    pub size: u64,
    /// The From address lowercased, when it could be read.
    pub sender: Option<String>,
    pub subject: Option<String>,
    pub state: InboundMailState,
    pub reason: Option<MailReason>,
    pub detail: Option<String>,
    pub ticket_id: Option<TicketId>,
    /// The last event the import wrote on the ticket.
    pub event_seq: Option<i64>,
    /// Its files, when it was imported with some.
    pub attachments: Option<MailAttachments>,
    pub attempts: u32,
    pub updated_at: Timestamp,
}

/// A message about to be stored: what could be read of its headers without parsing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    pub id: InboundMailId,
    pub message_id: Option<String>,
    pub source: String,
    pub received_at: Timestamp,
    pub raw: Vec<u8>,
    pub sender: Option<String>,
    pub subject: Option<String>,
}

/// A contact that a delivery report said is undeliverable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    pub contact: String,
    pub bounced_at: Timestamp,
    pub bounces: u64,
    pub mail_id: InboundMailId,
}

/// A sender address and display name, as `From` gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAddress {
    pub name: Option<String>,
    pub address: String,
}

/// A part that is not the message's text: kept with the parse for attachments to take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttachment {
    pub file_name: Option<String>,
    pub content_type: String,
    pub inline: bool,
    pub bytes: Vec<u8>,
}

/// A message as parsed: plain data, every header already decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundMail {
    /// Without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub from: Option<MailAddress>,
    pub subject: Option<String>,
    /// The text/plain body, when there is one.
    pub text: Option<String>,
    /// The text/html body, when there is one.
    pub html: Option<String>,
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    /// Set for a `multipart/report; report-type=delivery-status`: the recipients it reports
    /// failed.
    pub delivery_failures: Option<Vec<String>>,
    /// Every MIME part, the containers included.
    pub part_count: usize,
    /// A part's bytes did not decode in its declared charset.
    pub encoding_problem: bool,
    /// What is broken in the MIME structure, if anything.
    pub mime_defect: Option<String>,
    pub attachments: Vec<MailAttachment>,
}

/// The limits and identity the decision needs from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundPolicy {
    /// The domain of `mail.address`: Message-IDs at it are ours. None when no address is set
    /// (then Steward sends no mail, so none can come back).
    pub our_domain: Option<String>,
    pub max_parts: usize,
    pub rate_limit: RateLimit,
}

/// At most `max_messages` from one sender within `window_minutes`; the rest are quarantined
/// (so a loop with an auto-responder that ignores `Auto-Submitted` stops).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max_messages: u64,
    pub window_minutes: u64,
}

impl RateLimit {
    /// Whether one more message may pass, given how many from the same sender were received
    /// within the window before it. Zero switches the limit off.
    pub fn allows(&self, earlier_in_window: u64) -> bool {
        self.max_messages == 0 || earlier_in_window < self.max_messages
    }

    pub fn window_ms(&self) -> i64 {
        i64::try_from(self.window_minutes.saturating_mul(60_000)).unwrap_or(i64::MAX)
    }
}

/// What the references of a message name, for the services to look up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadKeys {
    /// In-Reply-To then References, newest reference first, without duplicates.
    pub referenced: Vec<String>,
    /// Tickets named by referenced Message-IDs of our own form.
    pub our_tickets: Vec<TicketId>,
    /// The subject's `[T-000123]`.
    pub subject_number: Option<TicketNumber>,
}

/// What the lookups of [`ThreadKeys`] found, and the sender's recent count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailFacts {
    /// The ticket of a referenced Message-ID recorded for one.
    pub recorded_ticket: Option<TicketId>,
    /// An existing ticket named by one of our Message-IDs.
    pub our_ticket: Option<TicketId>,
    /// The existing ticket the subject token names.
    pub subject_ticket: Option<TicketId>,
    /// Messages from the same sender received within the rate-limit window before this one.
    pub recent_from_sender: u64,
}

/// What becomes of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    Ignore(MailReason),
    Quarantine {
        reason: MailReason,
        detail: String,
    },
    /// A delivery report: mark these contacts bouncing, then ignore the message.
    Bounce(Vec<String>),
    /// A public comment from the customer on this ticket.
    Comment(TicketId),
    NewTicket,
}

impl InboundMail {
    /// The sender's address, lowercased: the key of the rate limit and of bounces.
    pub fn sender_key(&self) -> Option<String> {
        self.from.as_ref().map(|f| f.address.trim().to_lowercase()).filter(|a| !a.is_empty())
    }

    /// The ids and token to look up for threading.
    pub fn thread_keys(&self, our_domain: Option<&str>) -> ThreadKeys {
        let mut referenced: Vec<String> = Vec::new();
        for id in self.in_reply_to.iter().chain(self.references.iter().rev()) {
            let id = strip_brackets(id);
            if !id.is_empty() && !referenced.iter().any(|r| r == id) {
                referenced.push(id.to_owned());
            }
        }
        let our_tickets = match our_domain {
            Some(domain) => referenced.iter().filter_map(|id| ticket_of_our_message_id(id, domain)).collect(),
            None => Vec::new(),
        };
        ThreadKeys { referenced, our_tickets, subject_number: self.subject.as_deref().and_then(subject_token) }
    }

    /// The one decision: loop rules first (our own mail, delivery reports, auto-replies, bulk),
    /// then what would make the import wrong (quarantine), then threading.
    pub fn decide(&self, policy: &InboundPolicy, facts: &MailFacts) -> Disposition {
        let ours = |id: &str| policy.our_domain.as_deref().is_some_and(|domain| is_at_domain(id, domain));
        if self.message_id.as_deref().is_some_and(ours) {
            return Disposition::Ignore(MailReason::OwnMessage);
        }
        if let Some(failed) = &self.delivery_failures {
            return Disposition::Bounce(failed.iter().map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty()).collect());
        }
        if self.auto_submitted.as_deref().is_some_and(|v| !header_word(v).eq_ignore_ascii_case("no")) {
            return Disposition::Ignore(MailReason::AutoSubmitted);
        }
        if self.precedence.as_deref().is_some_and(|v| matches!(header_word(v).to_ascii_lowercase().as_str(), "bulk" | "list" | "junk")) {
            return Disposition::Ignore(MailReason::BulkPrecedence);
        }
        if let Some(defect) = &self.mime_defect {
            return quarantine(MailReason::MalformedMime, defect.clone());
        }
        if self.part_count > policy.max_parts {
            return quarantine(
                MailReason::TooManyParts,
                format!("{} MIME parts; at most {} are imported", self.part_count, policy.max_parts),
            );
        }
        let Some(sender) = self.sender_key() else {
            return quarantine(MailReason::MissingFrom, "no From address".into());
        };
        if !policy.rate_limit.allows(facts.recent_from_sender) {
            return quarantine(
                MailReason::RateLimited,
                format!(
                    "{sender} sent {} messages within {} minutes; at most {} are imported",
                    facts.recent_from_sender + 1,
                    policy.rate_limit.window_minutes,
                    policy.rate_limit.max_messages
                ),
            );
        }
        if self.subject.as_deref().is_some_and(|s| s.contains(['\r', '\n'])) {
            return quarantine(MailReason::HeaderInjection, "the subject decodes to a line break".into());
        }
        if self.encoding_problem || self.texts().any(|t| t.contains('\u{FFFD}')) {
            return quarantine(MailReason::CharsetMismatch, "a text part does not decode in the charset it declares".into());
        }
        if let Some(c) = self.texts().find_map(super::text::forbidden_character) {
            return quarantine(MailReason::ForbiddenCharacters, format!("the text carries the control character U+{:04X}", u32::from(c)));
        }
        match facts.recorded_ticket.or(facts.our_ticket).or(facts.subject_ticket) {
            Some(ticket) => Disposition::Comment(ticket),
            None => Disposition::NewTicket,
        }
    }

    fn texts(&self) -> impl Iterator<Item = &str> {
        [self.subject.as_deref(), self.text.as_deref(), self.html.as_deref()]
            .into_iter()
            .flatten()
            .chain(self.from.iter().filter_map(|f| f.name.as_deref()))
    }

    /// The message's text as a comment or a description: the plain text part (or the HTML
    /// part as text), quoted reply trimmed, cut to what a comment holds.
    pub fn body_text(&self) -> String {
        let text = match (&self.text, &self.html) {
            (Some(text), _) if !text.trim().is_empty() => text.clone(),
            (_, Some(html)) => html_to_text(html),
            _ => String::new(),
        };
        truncate_chars(trim_quoted_reply(&text).trim(), MAX_COMMENT_CHARS)
    }

    /// The new ticket's title: the subject, or a placeholder when it is blank.
    pub fn title(&self) -> String {
        let subject = self.subject.as_deref().map(str::trim).unwrap_or_default();
        truncate_chars(if subject.is_empty() { "(no subject)" } else { subject }, MAX_TITLE_CHARS)
    }

    /// The customer's name: the display name, else the address.
    pub fn customer_name(&self) -> Option<String> {
        let from = self.from.as_ref()?;
        let name = from.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).unwrap_or(from.address.trim());
        Some(truncate_chars(name, MAX_CUSTOMER_NAME_CHARS))
    }
}

fn quarantine(reason: MailReason, detail: String) -> Disposition {
    Disposition::Quarantine { reason, detail }
}

/// The first word of a header value (`auto-replied; owner-email=…` → `auto-replied`).
fn header_word(value: &str) -> &str {
    value.split([';', ' ', '\t']).find(|w| !w.is_empty()).unwrap_or("")
}

pub fn strip_brackets(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('<').and_then(|i| i.strip_suffix('>')).unwrap_or(id).trim()
}

fn is_at_domain(message_id: &str, domain: &str) -> bool {
    strip_brackets(message_id).rsplit_once('@').is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
}

/// The ticket a Message-ID of our own form ([`crate::mail::message_id`]) names, if it is one.
pub fn ticket_of_our_message_id(message_id: &str, our_domain: &str) -> Option<TicketId> {
    let (local, domain) = strip_brackets(message_id).rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(our_domain) {
        return None;
    }
    let (ticket, unique) = local.split_once('.')?;
    uuid::Uuid::try_parse(unique).ok()?;
    TicketId::parse("message_id", ticket).ok()
}

/// The ticket number a subject carries as `[T-000123]`.
pub fn subject_token(subject: &str) -> Option<TicketNumber> {
    let mut rest = subject;
    while let Some(start) = rest.find('[') {
        let after = &rest[start + 1..];
        if let Some(end) = after.find(']') {
            let token = after[..end].trim();
            if token.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("t-")) {
                if let Ok(number) = TicketNumber::parse("subject", token) {
                    return Some(number);
                }
            }
        }
        rest = after;
    }
    None
}

/// Cuts a reply at the first line that introduces the quoted earlier message (English and
/// Chinese clients' headers) and drops `>`-quoted lines. A text that is all quote is kept
/// whole: trimming must never leave the customer's message empty.
pub fn trim_quoted_reply(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let l = line.trim();
        let previous = if i > 0 { lines[i - 1].trim() } else { "" };
        let attribution = (l.starts_with("On ") && l.ends_with("wrote:"))
            // Clients wrap a long "On … wrote:" over two lines.
            || (l.ends_with("wrote:") && previous.starts_with("On ") && !previous.ends_with("wrote:"))
            || (l.starts_with('在') && (l.ends_with("写道:") || l.ends_with("写道：")))
            || l.trim_matches('-').trim().eq_ignore_ascii_case("Original Message") && l.starts_with("-----")
            || l.starts_with("-----原始邮件-----")
            || l.starts_with("发件人:")
            || l.starts_with("发件人：")
            || (l.starts_with("From:") && previous.is_empty() && i > 0 && lines.get(i + 1).is_some_and(|n| is_mail_header_line(n)));
        if attribution {
            end = if l.ends_with("wrote:") && !l.starts_with("On ") { i - 1 } else { i };
            break;
        }
    }
    let kept: Vec<&str> = lines[..end].iter().copied().filter(|l| !l.trim_start().starts_with('>')).collect();
    let trimmed = kept.join("\n").trim_end().to_owned();
    if trimmed.trim().is_empty() {
        text.trim_end().to_owned()
    } else {
        trimmed
    }
}

fn is_mail_header_line(line: &str) -> bool {
    let l = line.trim_start();
    ["Sent:", "To:", "Date:", "Subject:", "Cc:"].iter().any(|h| l.starts_with(h))
}

/// HTML as plain text: tags dropped (script, style and head with their content), block ends as
/// line breaks, entities decoded, runs of blank lines collapsed. The result is text, never
/// markup: nothing of the HTML survives to be rendered.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..lt]));
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = after[..gt].trim();
        let name: String =
            tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
        rest = &after[gt + 1..];
        if tag.starts_with("!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        if !tag.starts_with('/') && matches!(name.as_str(), "script" | "style" | "head" | "title") {
            let close = format!("</{name}");
            rest = find_ignore_case(rest, &close).map_or("", |at| rest[at..].find('>').map_or("", |g| &rest[at + g + 1..]));
            continue;
        }
        match name.as_str() {
            "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote" | "table" | "ul" | "ol" => {
                out.push('\n')
            }
            "td" | "th" => out.push(' '),
            _ => {}
        }
    }
    out.push_str(&decode_entities(rest));
    let mut text = String::with_capacity(out.len());
    let mut blank_run = 0;
    for line in out.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        text.push_str(&line);
        text.push('\n');
    }
    text.trim().to_owned()
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack.to_ascii_lowercase().find(&needle.to_ascii_lowercase())
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let entity = after.find(';').filter(|&end| end <= 10).map(|end| (&after[..end], &after[end + 1..]));
        let decoded = entity.and_then(|(name, tail)| {
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .map(|hex| u32::from_str_radix(hex, 16).ok())
                    .unwrap_or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            }?;
            Some((c, tail))
        });
        match decoded {
            Some((c, tail)) => {
                out.push(c);
                rest = tail;
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => text[..at].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> InboundPolicy {
        InboundPolicy {
            our_domain: Some("example.org".into()),
            max_parts: 100,
            rate_limit: RateLimit { max_messages: 3, window_minutes: 10 },
        }
    }

    fn mail() -> InboundMail {
        InboundMail {
            message_id: Some("abc@customer.example".into()),
            from: Some(MailAddress { name: Some("Li Lei".into()), address: "Li.Lei@Customer.example".into() }),
            subject: Some("Printer on fire".into()),
            text: Some("It burns.".into()),
            part_count: 1,
            ..InboundMail::default()
        }
    }

    #[test]
    fn a_plain_message_opens_a_ticket() {
        assert_eq!(mail().decide(&policy(), &MailFacts::default()), Disposition::NewTicket);
        assert_eq!(mail().sender_key().as_deref(), Some("li.lei@customer.example"));
        assert_eq!(mail().customer_name().as_deref(), Some("Li Lei"));
    }

    #[test]
    fn threading_prefers_recorded_ids_then_our_form_then_the_subject() {
        let a = TicketId::new_at(Timestamp::from_millis(1));
        let b = TicketId::new_at(Timestamp::from_millis(2));
        let c = TicketId::new_at(Timestamp::from_millis(3));
        let facts = MailFacts { recorded_ticket: Some(a), our_ticket: Some(b), subject_ticket: Some(c), recent_from_sender: 0 };
        assert_eq!(mail().decide(&policy(), &facts), Disposition::Comment(a));
        let facts = MailFacts { recorded_ticket: None, ..facts };
        assert_eq!(mail().decide(&policy(), &facts), Disposition::Comment(b));
        let facts = MailFacts { our_ticket: None, ..facts };
        assert_eq!(mail().decide(&policy(), &facts), Disposition::Comment(c));
    }

    #[test]
    fn thread_keys_read_our_message_ids_and_the_subject_token() {
        let ticket = TicketId::new_at(Timestamp::from_millis(5));
        let ours = crate::mail::message_id(Some(ticket), uuid::Uuid::now_v7(), "example.org");
        let m = InboundMail {
            in_reply_to: vec![ours.clone()],
            references: vec!["<old@elsewhere>".into(), ours.clone()],
            subject: Some("Re: [T-000123] Printer on fire".into()),
            ..mail()
        };
        let keys = m.thread_keys(Some("Example.ORG"));
        assert_eq!(keys.referenced, vec![strip_brackets(&ours).to_owned(), "old@elsewhere".into()]);
        assert_eq!(keys.our_tickets, vec![ticket]);
        assert_eq!(keys.subject_number, Some(TicketNumber(123)));
        assert_eq!(m.thread_keys(Some("other.org")).our_tickets, Vec::<TicketId>::new());
        assert_eq!(m.thread_keys(None).our_tickets, Vec::<TicketId>::new());
    }

    #[test]
    fn subject_tokens_need_brackets_and_digits() {
        assert_eq!(subject_token("[T-000042] help"), Some(TicketNumber(42)));
        assert_eq!(subject_token("回复: [t-7] 打印机"), Some(TicketNumber(7)));
        assert_eq!(subject_token("T-000042 help"), None);
        assert_eq!(subject_token("[T-] [T-12a] [x] [T-9]"), Some(TicketNumber(9)));
        assert_eq!(subject_token("[T-0]"), None);
        assert_eq!(subject_token("[中文] [T-5]"), Some(TicketNumber(5)));
    }

    #[test]
    fn loops_are_ignored() {
        let p = policy();
        let f = MailFacts::default();
        let ours = InboundMail { message_id: Some("<x.y@EXAMPLE.org>".into()), ..mail() };
        assert_eq!(ours.decide(&p, &f), Disposition::Ignore(MailReason::OwnMessage));
        let auto = InboundMail { auto_submitted: Some("auto-replied; owner-email=a@b".into()), ..mail() };
        assert_eq!(auto.decide(&p, &f), Disposition::Ignore(MailReason::AutoSubmitted));
        let human = InboundMail { auto_submitted: Some("No".into()), ..mail() };
        assert_eq!(human.decide(&p, &f), Disposition::NewTicket);
        for value in ["bulk", "List", "junk"] {
            let bulk = InboundMail { precedence: Some(value.into()), ..mail() };
            assert_eq!(bulk.decide(&p, &f), Disposition::Ignore(MailReason::BulkPrecedence));
        }
        let first_class = InboundMail { precedence: Some("first-class".into()), ..mail() };
        assert_eq!(first_class.decide(&p, &f), Disposition::NewTicket);
    }

    #[test]
    fn delivery_reports_bounce_their_failed_recipients() {
        let dsn = InboundMail {
            delivery_failures: Some(vec![" Gone@Customer.example ".into()]),
            auto_submitted: Some("auto-replied".into()),
            ..mail()
        };
        assert_eq!(dsn.decide(&policy(), &MailFacts::default()), Disposition::Bounce(vec!["gone@customer.example".into()]));
    }

    #[test]
    fn the_rate_limit_counts_earlier_messages_in_the_window() {
        let limit = RateLimit { max_messages: 3, window_minutes: 10 };
        assert!(limit.allows(2));
        assert!(!limit.allows(3));
        assert!(RateLimit { max_messages: 0, window_minutes: 10 }.allows(1_000));
        assert_eq!(limit.window_ms(), 600_000);
        let facts = MailFacts { recent_from_sender: 3, ..MailFacts::default() };
        assert!(matches!(mail().decide(&policy(), &facts), Disposition::Quarantine { reason: MailReason::RateLimited, .. }));
    }

    #[test]
    fn quarantine_names_its_reason() {
        let p = policy();
        let f = MailFacts::default();
        let reason = |m: InboundMail| match m.decide(&p, &f) {
            Disposition::Quarantine { reason, .. } => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(InboundMail { from: None, ..mail() }), MailReason::MissingFrom);
        assert_eq!(reason(InboundMail { subject: Some("hi\r\nBcc: all@x".into()), ..mail() }), MailReason::HeaderInjection);
        assert_eq!(reason(InboundMail { text: Some("caf\u{FFFD}".into()), ..mail() }), MailReason::CharsetMismatch);
        assert_eq!(reason(InboundMail { encoding_problem: true, ..mail() }), MailReason::CharsetMismatch);
        assert_eq!(reason(InboundMail { text: Some("a\u{0}b".into()), ..mail() }), MailReason::ForbiddenCharacters);
        assert_eq!(reason(InboundMail { part_count: 101, ..mail() }), MailReason::TooManyParts);
        assert_eq!(reason(InboundMail { mime_defect: Some("no boundary".into()), ..mail() }), MailReason::MalformedMime);
    }

    #[test]
    fn english_and_chinese_reply_headers_are_trimmed() {
        let cases = [
            "Thanks, fixed.\n\nOn Mon, 1 Dec 2026 at 10:00, Support <support@example.org> wrote:\n> old text\n",
            "Thanks, fixed.\nOn Mon, 1 Dec 2026 at 10:00, Support\n<support@example.org> wrote:\n> old text\n",
            "Thanks, fixed.\n-----Original Message-----\nFrom: Support\nold text",
            "Thanks, fixed.\n\n发件人: Support <support@example.org>\n发送时间: 2026年12月1日\nold",
            "Thanks, fixed.\n在 2026年12月1日 10:00，Support <support@example.org> 写道：\n> old",
            "Thanks, fixed.\n\n> old text\n> more",
            "Thanks, fixed.\n\nFrom: Support <support@example.org>\nSent: Monday\nold",
        ];
        for case in cases {
            assert_eq!(trim_quoted_reply(case), "Thanks, fixed.", "{case:?}");
        }
        assert_eq!(trim_quoted_reply("> only a quote"), "> only a quote");
        assert_eq!(trim_quoted_reply("line one\nline two"), "line one\nline two");
    }

    #[test]
    fn html_becomes_plain_text_without_markup() {
        let html = "<html><head><title>t</title><style>p{color:red}</style></head><body><p>Hello &amp; welcome</p>\
                    <script>alert(1)</script><div>2 &lt; 3 &#x4e2d;&#25991;</div><!-- <b>hidden</b> --><br>bye<img src=x onerror=y></body></html>";
        assert_eq!(html_to_text(html), "Hello & welcome\n\n2 < 3 中文\n\nbye");
        assert_eq!(html_to_text("a &bogus; b & c"), "a &bogus; b & c");
        assert_eq!(html_to_text("unclosed <b"), "unclosed");
    }

    #[test]
    fn the_body_prefers_text_then_html_and_trims_quotes() {
        let m = InboundMail { text: None, html: Some("<p>Yes</p><blockquote>On x wrote:</blockquote>".into()), ..mail() };
        assert_eq!(m.body_text(), "Yes");
        let m = InboundMail { text: Some("Plain\n> quoted".into()), html: Some("<p>Html</p>".into()), ..mail() };
        assert_eq!(m.body_text(), "Plain");
        assert_eq!(InboundMail { subject: Some("  ".into()), ..mail() }.title(), "(no subject)");
        assert_eq!(InboundMail { subject: Some("x".repeat(300)), ..mail() }.title().chars().count(), MAX_TITLE_CHARS);
    }
}
