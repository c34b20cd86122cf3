//! The accept loop: axum's router on hyper connections with the limits that keep slow clients
//! from holding the server (`http.header_read_timeout_ms`, `http.max_connections`; the body
//! read timeout is applied where bodies are read, `api::extract`). Graceful shutdown stops
//! accepting and waits for the connections' in-flight requests.
//!
//! The first request head of each connection is read here, within the header read timeout, and
//! parsed with httparse (hyper's own parser) before hyper sees it: a malformed head is answered
//! 400, a request target over [`MAX_URI_BYTES`] 414 and a head over [`MAX_HEAD_BYTES`] (or with
//! more than [`MAX_HEADERS`] fields) 431, each as problem+json, where hyper would answer with an
//! empty body. A valid head is replayed to hyper. Later requests on a kept-alive connection are
//! parsed by hyper under the same limits (its buffer is [`MAX_HEAD_BYTES`]; the router answers a
//! long target 414 itself); only hyper's answer to a malformed later head stays empty.

use axum::extract::ConnectInfo;
use axum::Router;
use bytes::{Buf, BytesMut};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use steward_services::config::HttpConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// The longest request head (request line and header fields) the server reads.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The longest request target (path and query).
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most header fields in one request (hyper's own limit).
pub const MAX_HEADERS: usize = 100;

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

impl From<&HttpConfig> for ConnectionLimits {
    fn from(http: &HttpConfig) -> Self {
        ConnectionLimits { header_read_timeout: Duration::from_millis(http.header_read_timeout_ms), max_connections: http.max_connections }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then waits for open connections
/// to finish their requests (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The header read timeout also covers an idle keep-alive connection waiting for its next
    // request, so an idle connection is closed after the same time.
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).max_buf_size(MAX_HEAD_BYTES);
    builder.http2().timer(TokioTimer::new());
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(max_connections = limits.max_connections, "connection refused: http.max_connections reached");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (builder, router, watcher) = (builder.clone(), router.clone(), graceful.watcher());
        tokio::spawn(async move {
            // The first head is read here: a client that connects and sends nothing, or only
            // part of a head, gets the header read timeout to finish it.
            let Some(stream) = first_head(stream, limits.header_read_timeout).await else {
                return;
            };
            // The peer's address reaches handlers as axum's `ConnectInfo` (sign-in throttling).
            let service = router.map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
            if let Err(e) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// What the first head of a connection turned out to be.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// A complete head hyper can take (or the HTTP/2 preface, which hyper reads itself).
    Valid,
    /// Not there yet.
    Partial,
    /// Refused with this status, slug, title and detail.
    Refused(u16, &'static str, &'static str, String),
}

fn judge(buf: &[u8]) -> Head {
    const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n";
    if buf.starts_with(H2_PREFACE) {
        return Head::Valid;
    }
    if H2_PREFACE.starts_with(buf) {
        return Head::Partial;
    }
    let line_end = buf.iter().position(|&b| b == b'\n');
    if line_end.unwrap_or(buf.len()) > MAX_URI_BYTES + 64 {
        // The request line alone is too long: its target is.
        return uri_too_long();
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Complete(_)) if request.path.is_some_and(|p| p.len() > MAX_URI_BYTES) => uri_too_long(),
        Ok(httparse::Status::Complete(_)) => Head::Valid,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD_BYTES => Head::Refused(
            431,
            "request-header-fields-too-large",
            "Request header fields too large",
            format!("the request head exceeds {MAX_HEAD_BYTES} bytes"),
        ),
        Ok(httparse::Status::Partial) => Head::Partial,
        Err(httparse::Error::TooManyHeaders) => Head::Refused(
            431,
            "request-header-fields-too-large",
            "Request header fields too large",
            format!("the request has more than {MAX_HEADERS} header fields"),
        ),
        Err(e) => Head::Refused(400, "malformed-request", "Malformed request", format!("the request head is not HTTP/1.1: {e}")),
    }
}

fn uri_too_long() -> Head {
    Head::Refused(414, "uri-too-long", "URI too long", format!("the request target exceeds {MAX_URI_BYTES} bytes"))
}

/// Reads the connection's first request head within `timeout`. A valid head comes back with
/// the stream, to be read again by hyper; a refused one is answered and closed; a silent or
/// slow client is closed.
async fn first_head(mut stream: TcpStream, timeout: Duration) -> Option<Replayed<TcpStream>> {
    let mut buf = BytesMut::with_capacity(4096);
    let read = tokio::time::timeout(timeout, async {
        loop {
            if stream.read_buf(&mut buf).await.ok()? == 0 {
                return None;
            }
            match judge(&buf) {
                Head::Partial => continue,
                head => return Some(head),
            }
        }
    })
    .await;
    match read {
        Ok(Some(Head::Valid)) => Some(Replayed { head: buf, inner: stream }),
        Ok(Some(Head::Refused(status, slug, title, detail))) => {
            let body =
                serde_json::json!({ "type": format!("/problems/{slug}"), "title": title, "status": status, "detail": detail }).to_string();
            let reason = axum::http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
            let response = format!(
                "HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tokio::time::timeout(timeout, async {
                stream.write_all(response.as_bytes()).await?;
                stream.shutdown().await
            })
            .await;
            None
        }
        _ => None,
    }
}

/// A stream whose first bytes, already read, are read again.
struct Replayed<S> {
    head: BytesMut,
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Replayed<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        if !self.head.is_empty() {
            let n = self.head.len().min(out.remaining());
            out.put_slice(&self.head[..n]);
            self.head.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, out)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Replayed<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_judged_as_hyper_would_with_our_limits() {
        assert_eq!(judge(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Head::Valid);
        assert_eq!(judge(b"GET / HTTP/1.1\r\nHost: x\r\n"), Head::Partial);
        assert_eq!(judge(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Head::Valid);
        assert_eq!(judge(b"PRI * HT"), Head::Partial);
        assert!(matches!(judge(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"), Head::Refused(400, ..)));
        assert!(matches!(judge(b"\x01\x02 nonsense\r\n\r\n"), Head::Refused(400, ..)));
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_URI_BYTES));
        assert!(matches!(judge(long.as_bytes()), Head::Refused(414, ..)));
        let endless = format!("GET /{}", "a".repeat(MAX_URI_BYTES + 100));
        assert!(matches!(judge(endless.as_bytes()), Head::Refused(414, ..)));
        let big = format!("GET / HTTP/1.1\r\nX-Big: {}", "a".repeat(MAX_HEAD_BYTES));
        assert!(matches!(judge(big.as_bytes()), Head::Refused(431, ..)));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: y\r\n")).collect();
        assert!(matches!(judge(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()), Head::Refused(431, ..)));
    }
}
