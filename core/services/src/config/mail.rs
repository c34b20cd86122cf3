//! `[mail]`: the desk's address; how mail leaves (`[mail.smtp]`, `[mail.outbound]`); inbound
//! limits and defaults (`[mail.inbound]`) and the IMAP mailboxes fetched (`[[mail.mailboxes]]`).

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// The desk's address (`support@example.org`): From of every mail Steward sends; its domain
    /// part ends our Message-IDs, so a message whose own Message-ID is at it is ours coming
    /// back (a loop, ignored). Unset, no mail is queued or sent (inbound mail still works).
    pub address: Option<String>,
    pub smtp: SmtpConfig,
    pub outbound: OutboundMailConfig,
    pub inbound: MailInboundConfig,
    /// IMAP mailboxes to fetch from (`[[mail.mailboxes]]`).
    pub mailboxes: Vec<MailboxConfig>,
}

impl MailConfig {
    /// The domain of `address`, when one is set.
    pub fn domain(&self) -> Option<&str> {
        self.address.as_deref().and_then(steward_domain::mail::address_domain)
    }
}

/// How the SMTP server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host or a test server.
    None,
}

/// The SMTP server mail is handed to (`[mail.smtp]`). The password comes from the environment
/// variable `password_env` names, never from the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// Authenticate as this user (with the password from `password_env`); unset, no auth.
    pub username: Option<String>,
    /// The environment variable holding the SMTP password.
    pub password_env: Option<String>,
    /// Time limit of one SMTP conversation.
    pub timeout_ms: u64,
    /// A PEM file of CA certificates trusted for the relay's certificate, besides the public
    /// roots (an internal relay signed by the organisation's own CA). Unused with `tls = none`.
    pub ca_file: Option<PathBuf>,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password_env: None,
            timeout_ms: 30_000,
            ca_file: None,
        }
    }
}

/// What is mailed and how the outbox is worked (`[mail.outbound]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundMailConfig {
    /// Send queued mail from this node. Mail is queued on every node regardless.
    pub worker: bool,
    /// How often the worker looks for due mail.
    pub poll_interval_ms: u64,
    /// Mails claimed per pass, each sent on an SMTP connection of its own.
    pub batch: u32,
    /// Mails of a pass in flight at once: one mail's conversation is mostly waiting.
    pub concurrency: u32,
    /// How long a claimed mail stays reserved for the node that claimed it.
    pub lease_ms: u64,
    /// Wait before the first retry; it doubles with every failed attempt (less some jitter).
    pub retry_base_ms: u64,
    /// Longest wait between two attempts.
    pub retry_max_secs: u64,
    /// Attempts before a mail is given up as failed (its last error kept).
    pub max_attempts: u32,
    /// The notification kinds that are on (each process may switch more off in its mail file).
    pub kinds: Vec<steward_domain::mail::NotificationKind>,
    /// The language of mail to staff, and to customers when neither their ticket (custom field
    /// `language`) nor their process names one.
    pub language: steward_domain::login::Language,
    /// Where links in mail (survey, ticket) point; unset, `public_url` (else the listen address).
    pub link_base_url: Option<String>,
    /// Per-process mail files: `{dir}/{process}.toml` (language, kinds off, templates).
    pub dir: PathBuf,
    /// An unanswered survey is reminded once, this many hours after it was issued; 0: never.
    pub survey_reminder_after_hours: u64,
}

impl Default for OutboundMailConfig {
    fn default() -> Self {
        OutboundMailConfig {
            worker: true,
            poll_interval_ms: 1_000,
            batch: 16,
            concurrency: 8,
            lease_ms: 120_000,
            retry_base_ms: 30_000,
            retry_max_secs: 3_600,
            max_attempts: 10,
            kinds: steward_domain::mail::NotificationKind::ALL.to_vec(),
            language: steward_domain::login::Language::En,
            link_base_url: None,
            dir: PathBuf::from("config/mail"),
            survey_reminder_after_hours: 72,
        }
    }
}

impl OutboundMailConfig {
    pub fn retry_policy(&self) -> steward_domain::webhook::RetryPolicy {
        super::retry_policy(self.retry_base_ms, self.retry_max_secs, self.max_attempts)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailInboundConfig {
    /// A larger message is refused (413 to the mailgate, which tells the MTA; left in the
    /// mailbox and logged for IMAP).
    pub max_message_bytes: usize,
    /// A message with more MIME parts is quarantined.
    pub max_parts: usize,
    /// At most this many messages per sender within `rate_limit_window_minutes` are imported;
    /// the rest are quarantined. 0 switches the limit off.
    pub rate_limit_messages: u64,
    pub rate_limit_window_minutes: u64,
    /// A stored message still unimported this many seconds after it arrived (its import was
    /// interrupted) is imported by the mail worker's pass.
    pub retry_after_secs: u64,
    /// How new tickets from mail start (each mailbox may override them).
    pub defaults: MailTicketDefaults,
}

impl Default for MailInboundConfig {
    fn default() -> Self {
        MailInboundConfig {
            max_message_bytes: 25 * 1024 * 1024,
            max_parts: 1000,
            rate_limit_messages: 30,
            rate_limit_window_minutes: 60,
            retry_after_secs: 60,
            defaults: MailTicketDefaults::default(),
        }
    }
}

/// What a ticket opened by mail starts with; unset, the ticket defaults apply.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailTicketDefaults {
    /// A process key (`tickets.default_process` when unset).
    pub process: Option<String>,
    /// `urgent`, `high`, `normal` or `low` (`normal` when unset).
    pub priority: Option<String>,
    /// A customer tier (the first tier when unset).
    pub tier: Option<String>,
    /// Tags every such ticket carries; a team's queue can select on them.
    pub tags: Vec<String>,
}

impl MailTicketDefaults {
    /// These defaults with `over`'s set fields taking precedence.
    pub fn overridden_by(&self, over: &MailTicketDefaults) -> MailTicketDefaults {
        MailTicketDefaults {
            process: over.process.clone().or_else(|| self.process.clone()),
            priority: over.priority.clone().or_else(|| self.priority.clone()),
            tier: over.tier.clone().or_else(|| self.tier.clone()),
            tags: if over.tags.is_empty() { self.tags.clone() } else { over.tags.clone() },
        }
    }
}

/// One IMAP mailbox. A message is marked (`flag`) or moved (`move_to`) only after its import
/// committed, and never deleted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailboxConfig {
    /// Names the mailbox in logs and in the stored message's source (`imap:{name}`).
    pub name: String,
    pub host: String,
    pub port: u16,
    /// TLS from the first byte (IMAPS, port 993). Off only for a server on the same host.
    pub tls: bool,
    pub username: String,
    /// The environment variable holding the password (never the password itself).
    pub password_env: String,
    /// The folder fetched from.
    pub folder: String,
    /// Move each imported message to this folder (needs the MOVE extension)...
    pub move_to: Option<String>,
    /// ... else set this flag on it; messages carrying it are not fetched again.
    pub flag: String,
    /// Seconds between polls when the server offers no IDLE (and the longest IDLE wait).
    pub poll_interval_secs: u64,
    /// Overrides `mail.inbound.defaults` for this mailbox's tickets.
    pub defaults: MailTicketDefaults,
}

impl Default for MailboxConfig {
    fn default() -> Self {
        MailboxConfig {
            name: "support".into(),
            host: "localhost".into(),
            port: 993,
            tls: true,
            username: String::new(),
            password_env: "STEWARD_IMAP_PASSWORD".into(),
            folder: "INBOX".into(),
            move_to: None,
            flag: "\\Seen".into(),
            poll_interval_secs: 60,
            defaults: MailTicketDefaults::default(),
        }
    }
}
