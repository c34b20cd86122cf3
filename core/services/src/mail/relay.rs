//! The connections to the SMTP relay: lettre's SMTP client over TCP connections the worker
//! opens itself, with `TCP_NODELAY` set, and reused within a pass.
//!
//! Why not lettre's `AsyncSmtpTransport`: it opens its sockets without `TCP_NODELAY`, and its
//! client writes a mail's content and then the closing `.` in two writes before it reads the
//! reply. With Nagle's algorithm on, the second write waits for the relay to acknowledge the
//! first, which the relay delays (delayed ACK, ~40 ms on Linux) because it has nothing to send
//! until it has the `.`: every mail paid that wait. lettre's own API
//! (`AsyncSmtpConnection::connect_with_transport`) takes a stream we opened, so the worker
//! opens it, sets `TCP_NODELAY`, and hands it over; STARTTLS, TLS from the first byte, the
//! trusted CA (`mail.smtp.ca_file`) and AUTH stay lettre's, with the same `TlsParameters`.
//!
//! A connection that carried a mail is kept for the next one of the same pass (as lettre's
//! pool would), so a pass of `mail.outbound.batch` mails opens at most
//! `mail.outbound.concurrency` connections rather than one per mail; any error drops the
//! connection, and the pass closes the rest (`QUIT`) when it ends, so no idle connection
//! outlives a pass.

use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
#[allow(deprecated)]
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How the relay's connection is secured.
pub(super) enum Security {
    /// Plain text (a trusted local relay).
    None,
    /// `STARTTLS`, required.
    Starttls(TlsParameters),
    /// TLS from the first byte (SMTPS).
    Tls(TlsParameters),
}

/// Why a mail did not reach the relay.
#[derive(Debug)]
pub(super) enum RelayError {
    /// The relay answered with a refusal, or the SMTP exchange or TLS failed (lettre's error).
    Smtp(lettre::transport::smtp::Error),
    /// No TCP connection.
    Connect(io::Error),
    /// `mail.smtp.timeout_ms` passed while connecting, or while handing over one mail.
    Timeout,
}

impl From<lettre::transport::smtp::Error> for RelayError {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        RelayError::Smtp(e)
    }
}

/// The relay and the connections a pass has open to it.
pub(super) struct Relay {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
}

impl Relay {
    pub(super) fn new(host: String, port: u16, security: Security, credentials: Option<Credentials>, timeout: Duration) -> Relay {
        Relay { host, port, security, credentials, timeout, hello: ClientId::default(), idle: Mutex::new(Vec::new()) }
    }

    /// Hands `message` to the relay over an idle connection of this pass, or a new one. The
    /// connection is kept for the next mail unless anything failed.
    pub(super) async fn send(&self, message: &Message) -> Result<(), RelayError> {
        let idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        let mut connection = match idle {
            Some(connection) => connection,
            None => self.within_timeout(self.connect()).await?,
        };
        let sent = self.within_timeout(async { Ok(connection.send(message.envelope(), &message.formatted()).await?) }).await;
        if sent.is_ok() && !connection.has_broken() {
            self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(connection);
        }
        sent.map(|_| ())
    }

    /// Closes the connections the pass left open (`QUIT`, within the timeout).
    pub(super) async fn close_idle(&self) {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for mut connection in idle {
            let _ = tokio::time::timeout(self.timeout, connection.quit()).await;
        }
    }

    async fn within_timeout<T>(&self, step: impl std::future::Future<Output = Result<T, RelayError>>) -> Result<T, RelayError> {
        tokio::time::timeout(self.timeout, step).await.unwrap_or(Err(RelayError::Timeout))
    }

    /// A new connection, greeted, secured as configured and authenticated.
    async fn connect(&self) -> Result<AsyncSmtpConnection, RelayError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await.map_err(RelayError::Connect)?;
        tcp.set_nodelay(true).map_err(RelayError::Connect)?;
        let mut connection = match &self.security {
            Security::None | Security::Starttls(_) => AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?,
            Security::Tls(parameters) => {
                #[allow(deprecated)]
                let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
                stream.upgrade_tls(parameters.clone()).await?;
                AsyncSmtpConnection::connect_with_transport(Box::new(TlsFirst(stream)), &self.hello).await?
            }
        };
        if let Security::Starttls(parameters) = &self.security {
            connection.starttls(parameters.clone(), &self.hello).await?;
        }
        if let Some(credentials) = &self.credentials {
            connection.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(connection)
    }
}

/// A connection that lettre secured with TLS before the greeting (its own handshake, with the
/// configured `TlsParameters`), handed back to lettre's client as the stream it speaks SMTP
/// over: the one way lettre's API takes a socket we opened and then speaks TLS from the first
/// byte.
#[allow(deprecated)]
#[derive(Debug)]
struct TlsFirst(AsyncNetworkStream);

impl AsyncRead for TlsFirst {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let n = ready!(futures_util::io::AsyncRead::poll_read(Pin::new(&mut self.0), cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for TlsFirst {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        futures_util::io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_util::io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_util::io::AsyncWrite::poll_close(Pin::new(&mut self.0), cx)
    }
}

impl AsyncTokioStream for TlsFirst {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }
}
