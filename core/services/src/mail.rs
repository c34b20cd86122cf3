//! Outbound mail: the settings planning reads (from `[mail]` and the per-process mail files),
//! the outbox's use cases, and the worker that hands queued mail to the SMTP server. The one
//! place that knows the SMTP client (lettre).
//!
//! Every node may run a worker. Each pass claims due mail under a lease (see
//! `Store::claim_due_mail`), sends it (over connections the pass reuses, see [`relay`]), and
//! records the attempts as they end, those that ended meanwhile together in one write
//! transaction; the domain's retry rule decides whether a mail is done, retried later or given
//! up.

mod relay;

use crate::config::{Config, MailConfig, SmtpTls};
use crate::{ServiceError, Services};
use futures_util::StreamExt;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use lettre::Message;
use relay::{Relay, RelayError, Security};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use steward_domain::auth::{Permission, Principal};
use steward_domain::ids::MailId;
use steward_domain::mail::{after_attempt, MailAttempt, MailSettings, MailState, OutboxMail, ProcessMail};
use steward_domain::time::Timestamp;
use steward_storage::mail::{ClaimedMail, FinishedMail};
use tokio::sync::watch;

/// A mail file or the SMTP set-up that cannot be used: start-up stops, naming it.
#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    #[error("{file}: {field}: {message}")]
    File { file: String, field: String, message: String },
    #[error("mail.smtp: {0}")]
    Smtp(String),
    #[error("mail.smtp.password_env: the environment variable {0} is not set")]
    PasswordMissing(String),
    #[error("mail.smtp.ca_file: {file}: {message}")]
    CaFile { file: String, message: String },
}

/// How the relay's certificate is checked: against the public roots and, when `ca_file` names
/// one, the operator's own CA certificates too; for the host name the configuration gives.
fn tls_parameters(smtp: &crate::config::SmtpConfig) -> Result<TlsParameters, MailSetupError> {
    let mut builder = TlsParameters::builder(smtp.host.clone());
    if let Some(file) = &smtp.ca_file {
        let failed = |message: String| MailSetupError::CaFile { file: file.display().to_string(), message };
        let pem = std::fs::read(file).map_err(|e| failed(e.to_string()))?;
        // lettre accepts a file without any certificate in it; trusting nothing is a mistake.
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(failed("no PEM certificate in it".into()));
        }
        let certificate = Certificate::from_pem(&pem).map_err(|e| failed(e.to_string()))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build().map_err(|e| MailSetupError::Smtp(e.to_string()))
}

/// What planning needs, from the configuration and `{mail.outbound.dir}/{process}.toml`; None
/// when `mail.address` is unset (no mail at all).
pub fn mail_settings(config: &Config) -> Result<Option<MailSettings>, MailSetupError> {
    let Some(address) = config.mail.address.clone() else { return Ok(None) };
    let outbound = &config.mail.outbound;
    let link_base_url = match &outbound.link_base_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => config.public_link(""),
    };
    Ok(Some(MailSettings {
        address,
        default_language: outbound.language,
        link_base_url,
        kinds_on: outbound.kinds.iter().copied().collect(),
        processes: load_mail_dir(&outbound.dir)?,
    }))
}

/// Every `*.toml` in `dir`, in name order, each named by its file stem (the process). A
/// missing directory is no overrides.
fn load_mail_dir(dir: &Path) -> Result<std::collections::BTreeMap<String, ProcessMail>, MailSetupError> {
    let mut processes = std::collections::BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(processes) };
    let mut files: Vec<_> =
        entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect();
    files.sort();
    for file in files {
        let shown = file.display().to_string();
        let failed = |field: &str, message: String| MailSetupError::File { file: shown.clone(), field: field.into(), message };
        let text = std::fs::read_to_string(&file).map_err(|e| failed("(file)", e.to_string()))?;
        let mail = MailSettings::parse_process_file(&text).map_err(|e| failed(&e.field, e.message))?;
        let process = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        processes.insert(process, mail);
    }
    Ok(processes)
}

impl Services {
    /// Claims up to `limit` due mails for this node, leased long enough to send each.
    pub async fn claim_due_mail(&self, limit: u32) -> Result<Vec<ClaimedMail>, ServiceError> {
        let now = Timestamp::now();
        Ok(self.store.claim_due_mail(now, now.plus_millis(self.mail_lease_ms), limit).await?)
    }

    /// Records attempts, in one write transaction, each deciding what follows: sent, retried
    /// after a backoff, or given up. Each outcome in the order given; `None`: that mail's claim
    /// had lapsed and nothing was recorded for it.
    pub async fn record_mail_attempts(&self, attempts: &[(&ClaimedMail, MailAttempt)]) -> Result<Vec<Option<MailState>>, ServiceError> {
        let now = Timestamp::now();
        let finished: Vec<FinishedMail<'_>> = attempts
            .iter()
            .map(|(mail, attempt)| {
                let (state, next_attempt_at) =
                    after_attempt(&self.mail_retry, mail.attempts + 1, attempt.error.is_none(), now, rand::random());
                FinishedMail { mail, attempt, state, next_attempt_at }
            })
            .collect();
        let recorded = self.store.record_mail_attempts(&finished).await?;
        Ok(finished
            .iter()
            .zip(recorded)
            .map(|(f, recorded)| {
                if recorded {
                    self.metrics.observe_mail_attempt(match f.state {
                        MailState::Sent => "sent",
                        MailState::Pending => "retrying",
                        MailState::Failed => "failed",
                    });
                }
                recorded.then_some(f.state)
            })
            .collect())
    }

    /// Queues the reminder of every survey left unanswered for `mail.outbound.
    /// survey_reminder_after_hours` (once per survey, across nodes); how many were reminded.
    pub async fn remind_surveys(&self) -> Result<u64, ServiceError> {
        let Some(after) = self.survey_reminder_after_ms else { return Ok(0) };
        // `now()` moves with the tests' clock; the mail itself is due at the real time.
        let issued_before = self.now().plus_millis(-after);
        Ok(self.store.remind_surveys(issued_before, Timestamp::now(), 100).await?)
    }

    /// One page of the outbox, newest first, and the id to continue below (`ManageMail`).
    pub async fn list_mail(
        &self,
        principal: &Principal,
        state: Option<MailState>,
        before: Option<MailId>,
        limit: u32,
    ) -> Result<(Vec<OutboxMail>, Option<MailId>), ServiceError> {
        principal.require(Permission::ManageMail)?;
        let mut mails = self.store.list_mail(state, before, limit + 1).await?;
        let next = if mails.len() > limit as usize {
            mails.truncate(limit as usize);
            mails.last().map(|m| m.id)
        } else {
            None
        };
        Ok((mails, next))
    }

    /// Queues a failed mail again, due now, for one more attempt (a failure then marks it failed
    /// again) (`ManageMail`). Pending or sent mail is a conflict.
    pub async fn retry_mail(&self, principal: &Principal, id: MailId) -> Result<(), ServiceError> {
        principal.require(Permission::ManageMail)?;
        match self.store.retry_mail(id, self.now()).await? {
            None => Err(ServiceError::NotFound { what: "mail" }),
            Some(MailState::Failed) => Ok(()),
            Some(state) => {
                Err(ServiceError::Conflict { field: None, message: format!("the mail is {state}: only a failed mail is retried") })
            }
        }
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834) on every mail, so that other systems' auto-
/// responders do not answer it and no mail loop starts.
#[derive(Clone)]
struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// A mail worker ready to start: built with the application so that an SMTP set-up that cannot
/// work (a missing password, a bad host name) stops start-up rather than failing later.
pub struct MailWorker {
    services: Arc<Services>,
    relay: Relay,
    from: Mailbox,
    batch: u32,
    concurrency: usize,
    poll_interval: Duration,
}

impl MailWorker {
    pub fn new(services: Arc<Services>, config: &MailConfig) -> Result<MailWorker, MailSetupError> {
        Self::with_env(services, config, |name| std::env::var(name).ok())
    }

    /// As [`MailWorker::new`], reading the password's variable through `env`.
    pub fn with_env(
        services: Arc<Services>,
        config: &MailConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<MailWorker, MailSetupError> {
        let smtp = &config.smtp;
        let address = config.address.as_deref().ok_or_else(|| MailSetupError::Smtp("mail.address is not set".into()))?;
        let from: Mailbox = address.parse().map_err(|e: lettre::address::AddressError| MailSetupError::Smtp(e.to_string()))?;
        let security = match smtp.tls {
            SmtpTls::Starttls => Security::Starttls(tls_parameters(smtp)?),
            SmtpTls::Tls => Security::Tls(tls_parameters(smtp)?),
            SmtpTls::None => Security::None,
        };
        let credentials = match &smtp.username {
            Some(user) => {
                let variable = smtp.password_env.clone().unwrap_or_else(|| "STEWARD_MAIL_SMTP_PASSWORD".to_owned());
                let password = env(&variable).ok_or(MailSetupError::PasswordMissing(variable))?;
                Some(Credentials::new(user.clone(), password))
            }
            None => None,
        };
        let timeout = Duration::from_millis(smtp.timeout_ms);
        Ok(MailWorker {
            services,
            relay: Relay::new(smtp.host.clone(), smtp.port, security, credentials, timeout),
            from,
            batch: config.outbound.batch,
            concurrency: config.outbound.concurrency.max(1) as usize,
            poll_interval: Duration::from_millis(config.outbound.poll_interval_ms),
        })
    }

    /// One pass, the one the running worker makes on every poll: queues the survey reminders
    /// that are due, then claims due mail (at most `mail.outbound.batch`), sends it
    /// (`mail.outbound.concurrency` at once, over connections the pass reuses) and records the
    /// attempts as they end: whatever ended while the previous record was being written is
    /// recorded together, in one write transaction. Returns how many were claimed. Tests call
    /// it to send when they choose.
    pub async fn send_due(&self) -> Result<usize, ServiceError> {
        if let Err(e) = self.services.remind_surveys().await {
            tracing::warn!(error = %e, "survey reminders could not be queued");
        }
        let claimed = self.services.claim_due_mail(self.batch).await?;
        let (ended, mut outcomes) = tokio::sync::mpsc::unbounded_channel();
        let claimed_here = &claimed;
        let sending = async move {
            futures_util::stream::iter(claimed_here)
                .for_each_concurrent(self.concurrency, |mail| {
                    let ended = ended.clone();
                    async move {
                        // The receiver lives until every sender is gone.
                        let _ = ended.send((mail, self.attempt(mail).await));
                    }
                })
                .await;
            // The last sender gone: the recording ends once it has recorded the rest.
            drop(ended);
            self.relay.close_idle().await;
        };
        let recording = async {
            let mut chunk = Vec::new();
            while outcomes.recv_many(&mut chunk, claimed_here.len().max(1)).await > 0 {
                self.record(&chunk).await;
                chunk.clear();
            }
        };
        tokio::join!(sending, recording);
        Ok(claimed.len())
    }

    /// The attempts that ended, recorded together; each record checks that its claim still
    /// holds. An attempt not recorded is sent again once its lease ran out (at least once).
    async fn record(&self, ended: &[(&ClaimedMail, MailAttempt)]) {
        match self.services.record_mail_attempts(ended).await {
            Ok(states) => {
                for ((mail, _), state) in ended.iter().zip(states) {
                    match state {
                        Some(state) => tracing::debug!(mail = %mail.id, kind = %mail.kind, %state, "mail attempt recorded"),
                        None => tracing::warn!(mail = %mail.id, "mail attempt not recorded: the claim ran out meanwhile"),
                    }
                }
            }
            Err(e) => tracing::warn!(mails = ended.len(), error = %e, "mail attempts could not be recorded"),
        }
    }

    async fn attempt(&self, mail: &ClaimedMail) -> MailAttempt {
        let at = Timestamp::now();
        let started = Instant::now();
        let error = match self.message(mail) {
            Ok(message) => self.relay.send(&message).await.err().map(|e| describe(&e)),
            Err(e) => Some(format!("the mail cannot be built: {e}")),
        };
        if let Some(error) = &error {
            tracing::info!(mail = %mail.id, %error, "mail not sent");
        }
        MailAttempt { at, duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX), error }
    }

    fn message(&self, mail: &ClaimedMail) -> Result<Message, String> {
        let to: Mailbox = mail.recipient.parse().map_err(|e: lettre::address::AddressError| e.to_string())?;
        let mut builder =
            Message::builder().from(self.from.clone()).to(to).subject(mail.subject.clone()).message_id(Some(mail.message_id.clone()));
        if let Some(parent) = &mail.in_reply_to {
            builder = builder.in_reply_to(parent.clone());
        }
        if !mail.references.is_empty() {
            builder = builder.references(mail.references.join(" "));
        }
        builder
            .header(AutoSubmitted)
            .multipart(MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone()))
            .map_err(|e| e.to_string())
    }

    /// Starts sending in the background until [`crate::delivery::RunningWorker::stop`].
    pub fn start(self) -> crate::delivery::RunningWorker {
        let (stop, stopping) = watch::channel(false);
        let task = tokio::spawn(run(self, stopping));
        crate::delivery::RunningWorker::new(stop, task)
    }
}

async fn run(worker: MailWorker, stopping: watch::Receiver<bool>) {
    crate::delivery::run_passes("mail", worker.batch as usize, worker.poll_interval, stopping, || worker.send_due()).await
}

/// Why the server did not take the mail, for the outbox's log: the server's reply when it gave
/// one (a permanent or transient refusal), else that it could not be reached.
fn describe(e: &RelayError) -> String {
    let e = match e {
        RelayError::Timeout => return "the SMTP server timed out".to_owned(),
        RelayError::Connect(e) => return format!("the SMTP server could not be reached: {e}"),
        RelayError::Smtp(e) => e,
    };
    match e.status() {
        Some(code) => format!("the SMTP server refused the mail ({code}): {e}"),
        None if e.is_timeout() => "the SMTP server timed out".to_owned(),
        None if e.is_tls() || failed_in_tls(e) => format!("the TLS handshake with the SMTP server failed: {e}"),
        None => format!("the SMTP server could not be reached: {e}"),
    }
}

/// Whether the connection failed in the TLS handshake (lettre reports it as a connection
/// error): an untrusted or invalid certificate, which no retry mends until the relay's
/// certificate or `mail.smtp.ca_file` changes.
fn failed_in_tls(e: &lettre::transport::smtp::Error) -> bool {
    use tokio_rustls::rustls::Error as TlsError;
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let in_io = cause.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref).is_some_and(|inner| inner.is::<TlsError>());
        if in_io || cause.is::<TlsError>() {
            return true;
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_mail_file_parses() {
        let text = include_str!("../../../config/mail/general.toml");
        assert_eq!(MailSettings::parse_process_file(text).unwrap(), ProcessMail::default());
    }

    #[test]
    fn a_ca_file_that_cannot_be_used_stops_start_up_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let smtp = |file: &Path| crate::config::SmtpConfig { ca_file: Some(file.to_path_buf()), ..Default::default() };
        let missing = dir.path().join("missing.pem");
        let e = tls_parameters(&smtp(&missing)).err().expect("a missing file is refused").to_string();
        assert!(e.starts_with("mail.smtp.ca_file: ") && e.contains("missing.pem"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = tls_parameters(&smtp(&empty)).err().expect("a file without a certificate is refused").to_string();
        assert!(e.contains("empty.pem") && e.contains("no PEM certificate"), "{e}");
        assert!(tls_parameters(&crate::config::SmtpConfig::default()).is_ok(), "no ca_file: the public roots");
    }

    #[test]
    fn a_bad_mail_file_is_named_with_its_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("general.toml"), "[templates.resolved.en]\nsubject = \"{nope}\"\n").unwrap();
        let e = load_mail_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("general.toml") && e.contains("templates.resolved.en.subject") && e.contains("{nope}"), "{e}");
    }
}
