//! `[mail]`: the desk's address, inbound limits and defaults, and the IMAP mailboxes fetched.
//! (`[mail.smtp]` and `[mail.outbound]` belong to outbound mail.)

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// The desk's address. Its domain part is the domain of every Message-ID Steward sends, so
    /// a message whose own Message-ID is at it is ours coming back (a loop, ignored).
    pub address: String,
    pub inbound: MailInboundConfig,
    /// IMAP mailboxes to fetch from (`[[mail.mailboxes]]`).
    pub mailboxes: Vec<MailboxConfig>,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig { address: "support@example.org".into(), inbound: MailInboundConfig::default(), mailboxes: Vec::new() }
    }
}

impl MailConfig {
    /// The domain of `address`.
    pub fn domain(&self) -> &str {
        steward_domain::mail::address_domain(&self.address).unwrap_or("")
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
