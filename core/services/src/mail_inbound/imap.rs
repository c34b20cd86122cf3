//! Fetching from IMAP mailboxes (`[[mail.mailboxes]]`) with async-imap: each message not yet
//! marked is received like any other ([`Services::accept_mail`]: stored, then imported), and
//! marked (a flag) or moved only after that committed. Nothing is ever deleted. A message over
//! the size cap is left in the mailbox with the keyword [`REFUSED_KEYWORD`] and a logged reason.

use super::{MailSource, ServiceError, Services};
use crate::config::MailboxConfig;
use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Set on a message the size cap refused, so later passes leave it alone.
pub const REFUSED_KEYWORD: &str = "$StewardRefused";

/// What one pass over a mailbox did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImapPass {
    /// Messages received (stored and settled: imported, ignored or quarantined).
    pub received: usize,
    /// Messages left in the mailbox as over the size cap.
    pub refused: usize,
    /// Whether the server offers IDLE.
    pub idle: bool,
}

/// A connection to an IMAP server, over TLS or (for a server on the same host) plain TCP.
pub trait ImapStream: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> ImapStream for T {}

type ImapSession = Session<Box<dyn ImapStream>>;

fn imap_error(mailbox: &MailboxConfig, what: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Unavailable(format!("IMAP mailbox `{}` ({}:{}): {what}: {e}", mailbox.name, mailbox.host, mailbox.port))
}

async fn connect(mailbox: &MailboxConfig) -> Result<ImapSession, ServiceError> {
    let tcp = tokio::net::TcpStream::connect((mailbox.host.as_str(), mailbox.port)).await.map_err(|e| imap_error(mailbox, "connect", e))?;
    let stream: Box<dyn ImapStream> = if mailbox.tls {
        let roots = tokio_rustls::rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let tls =
            tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(tokio_rustls::rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| imap_error(mailbox, "TLS setup", e))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        let name =
            tokio_rustls::rustls::pki_types::ServerName::try_from(mailbox.host.clone()).map_err(|e| imap_error(mailbox, "TLS name", e))?;
        Box::new(tokio_rustls::TlsConnector::from(Arc::new(tls)).connect(name, tcp).await.map_err(|e| imap_error(mailbox, "TLS", e))?)
    } else {
        Box::new(tcp)
    };
    let mut client = Client::new(stream);
    client
        .read_response()
        .await
        .map_err(|e| imap_error(mailbox, "greeting", e))?
        .ok_or_else(|| imap_error(mailbox, "greeting", "the server closed the connection"))?;
    let password = std::env::var(&mailbox.password_env)
        .map_err(|_| imap_error(mailbox, "login", format!("the password variable {} is not set", mailbox.password_env)))?;
    let mut session = client.login(&mailbox.username, password).await.map_err(|(e, _)| imap_error(mailbox, "login", e))?;
    session.select(&mailbox.folder).await.map_err(|e| imap_error(mailbox, "select", e))?;
    Ok(session)
}

/// The search for messages not handled yet.
fn unhandled_query(mailbox: &MailboxConfig) -> String {
    let not_marked = if mailbox.move_to.is_none() {
        if mailbox.flag.eq_ignore_ascii_case("\\Seen") {
            "UNSEEN ".to_owned()
        } else {
            format!("UNKEYWORD {} ", mailbox.flag)
        }
    } else {
        String::new()
    };
    format!("{not_marked}UNKEYWORD {REFUSED_KEYWORD}")
}

impl Services {
    /// One pass over one mailbox: connects, receives every message not handled yet, marks or
    /// moves each after its import committed, logs out.
    pub async fn fetch_mailbox(&self, mailbox: &MailboxConfig) -> Result<ImapPass, ServiceError> {
        let mut session = connect(mailbox).await?;
        let pass = self.fetch_selected(&mut session, mailbox).await;
        // Logging out is a courtesy: the work is committed and marked already.
        let _ = session.logout().await;
        pass
    }

    /// One pass over every configured mailbox; the first failure ends it (what was marked stays
    /// marked; the rest is fetched next time).
    pub async fn fetch_mailboxes(&self) -> Result<ImapPass, ServiceError> {
        let mut total = ImapPass::default();
        for mailbox in self.mail.mailboxes.clone() {
            let pass = self.fetch_mailbox(&mailbox).await?;
            total.received += pass.received;
            total.refused += pass.refused;
            total.idle |= pass.idle;
        }
        Ok(total)
    }

    async fn fetch_selected(&self, session: &mut ImapSession, mailbox: &MailboxConfig) -> Result<ImapPass, ServiceError> {
        let idle = session.capabilities().await.map_err(|e| imap_error(mailbox, "capabilities", e))?.has_str("IDLE");
        let mut uids: Vec<u32> =
            session.uid_search(unhandled_query(mailbox)).await.map_err(|e| imap_error(mailbox, "search", e))?.into_iter().collect();
        uids.sort_unstable();
        let defaults = self.defaults_for(&MailSource::Imap(mailbox.name.clone()).label());
        let mut pass = ImapPass { idle, ..ImapPass::default() };
        for uid in uids {
            let sizes: Vec<_> = session
                .uid_fetch(uid.to_string(), "(UID RFC822.SIZE)")
                .await
                .map_err(|e| imap_error(mailbox, "fetch", e))?
                .try_collect()
                .await
                .map_err(|e| imap_error(mailbox, "fetch", e))?;
            let size = sizes.iter().find_map(|f| f.size).unwrap_or(0) as usize;
            if size > self.mail.inbound.max_message_bytes {
                self.metrics.observe_mail("refused");
                tracing::warn!(mailbox = %mailbox.name, uid, size, limit = self.mail.inbound.max_message_bytes,
                    "inbound message left in the mailbox: over mail.inbound.max_message_bytes");
                self.mark(session, mailbox, uid, Some(REFUSED_KEYWORD)).await?;
                pass.refused += 1;
                continue;
            }
            let fetched: Vec<_> = session
                .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
                .await
                .map_err(|e| imap_error(mailbox, "fetch", e))?
                .try_collect()
                .await
                .map_err(|e| imap_error(mailbox, "fetch", e))?;
            let Some(raw) = fetched.iter().find_map(|f| f.body()).map(<[u8]>::to_vec) else {
                continue;
            };
            match self.accept_mail(raw, MailSource::Imap(mailbox.name.clone()), &defaults).await {
                Ok(_) => {
                    self.mark(session, mailbox, uid, None).await?;
                    pass.received += 1;
                }
                // The server's size said less than the message is.
                Err(ServiceError::TooLarge { .. }) => {
                    self.mark(session, mailbox, uid, Some(REFUSED_KEYWORD)).await?;
                    pass.refused += 1;
                }
                // Left unmarked: the next pass fetches it again, and its Message-ID keeps it once.
                Err(e) => return Err(e),
            }
        }
        Ok(pass)
    }

    /// Marks a handled message: `keyword`, else the mailbox's move or flag.
    async fn mark(&self, session: &mut ImapSession, mailbox: &MailboxConfig, uid: u32, keyword: Option<&str>) -> Result<(), ServiceError> {
        match (keyword, &mailbox.move_to) {
            (None, Some(folder)) => session.uid_mv(uid.to_string(), folder).await.map_err(|e| imap_error(mailbox, "move", e)),
            (keyword, _) => {
                let flag = keyword.unwrap_or(&mailbox.flag);
                let _: Vec<_> = session
                    .uid_store(uid.to_string(), format!("+FLAGS ({flag})"))
                    .await
                    .map_err(|e| imap_error(mailbox, "store flags", e))?
                    .try_collect()
                    .await
                    .map_err(|e| imap_error(mailbox, "store flags", e))?;
                Ok(())
            }
        }
    }

    /// The mailbox worker: a pass, then IDLE until the server announces mail (or the poll
    /// interval passes) where the server offers it, a sleep of the poll interval otherwise.
    /// Failures are logged and retried after the poll interval.
    pub async fn run_mailbox(&self, mailbox: MailboxConfig) {
        let every = Duration::from_secs(mailbox.poll_interval_secs.max(1));
        loop {
            match connect(&mailbox).await {
                Ok(mut session) => loop {
                    match self.fetch_selected(&mut session, &mailbox).await {
                        Ok(pass) if pass.idle => {
                            let mut idle = session.idle();
                            if let Err(e) = idle.init().await {
                                tracing::warn!(mailbox = %mailbox.name, error = %e, "IMAP IDLE failed");
                                break;
                            }
                            let (wait, _stop) = idle.wait_with_timeout(every);
                            if let Err(e) = wait.await {
                                tracing::warn!(mailbox = %mailbox.name, error = %e, "IMAP IDLE failed");
                                break;
                            }
                            match idle.done().await {
                                Ok(s) => session = s,
                                Err(e) => {
                                    tracing::warn!(mailbox = %mailbox.name, error = %e, "IMAP IDLE failed");
                                    break;
                                }
                            }
                        }
                        Ok(_) => tokio::time::sleep(every).await,
                        Err(e) => {
                            tracing::warn!(mailbox = %mailbox.name, error = %e, "IMAP pass failed");
                            break;
                        }
                    }
                },
                Err(e) => tracing::warn!(mailbox = %mailbox.name, error = %e, "IMAP connection failed"),
            }
            tokio::time::sleep(every).await;
        }
    }

    /// The configured mailboxes.
    pub fn mailboxes(&self) -> &[MailboxConfig] {
        &self.mail.mailboxes
    }
}
