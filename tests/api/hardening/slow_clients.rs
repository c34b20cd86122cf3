//! Slow clients are cut off: real TCP clients that send half a request head, or half a body,
//! against the real server with tiny timeouts; a declared oversized body is refused before it is
//! read; connections over the cap are closed at once.

use crate::helpers::{eventually, Backend, TestApp};
use crate::on_both_backends;
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

on_both_backends!(
    half_sent_heads_are_closed_within_the_timeout_while_normal_requests_go_on,
    a_half_sent_body_is_answered_408,
    a_declared_oversized_body_is_refused_before_it_is_read,
    connections_over_the_cap_are_closed_at_once,
    an_idle_kept_alive_connection_is_closed_by_the_header_read_timeout,
);

const TIMEOUT_MS: u64 = 300;

async fn app_with(backend: Backend, header_ms: u64, body_ms: u64, max_connections: usize) -> TestApp {
    TestApp::spawn_with(backend, move |c| {
        c.http.header_read_timeout_ms = header_ms;
        c.http.body_read_timeout_ms = body_ms;
        c.http.max_connections = max_connections;
    })
    .await
    .expect("backend available")
}

/// Reads until the server closes the connection (or `limit` passes); what it sent.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| String::from_utf8_lossy(&got).into_owned())
}

async fn half_sent_heads_are_closed_within_the_timeout_while_normal_requests_go_on(app: TestApp) {
    let app = app_with(app.backend, TIMEOUT_MS, 30_000, 10_000).await;
    let started = Instant::now();
    let mut slow = Vec::new();
    for i in 0..200 {
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: steward\r\nX-Slow-{i}: ").as_bytes()).await.unwrap();
        slow.push(s);
    }
    // Connections that send nothing at all are slow clients too.
    for _ in 0..20 {
        slow.push(TcpStream::connect(app.addr).await.unwrap());
    }
    for _ in 0..50 {
        assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    }
    let limit = Duration::from_millis(TIMEOUT_MS * 10);
    for (i, s) in slow.iter_mut().enumerate() {
        let left = limit.saturating_sub(started.elapsed());
        assert!(read_until_closed(s, left).await.is_some(), "slow connection {i} still open after {limit:?}");
    }
}

async fn a_half_sent_body_is_answered_408(app: TestApp) {
    let app = app_with(app.backend, 30_000, TIMEOUT_MS, 10_000).await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/tickets HTTP/1.1\r\nHost: steward\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"title\": ",
        app.token
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut s, Duration::from_millis(TIMEOUT_MS * 10)).await.expect("answered and closed in time");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json") && answer.contains("request-timeout"), "{answer}");
}

async fn a_declared_oversized_body_is_refused_before_it_is_read(app: TestApp) {
    // The body timeout is long: a 413 that came after reading would take 30 s.
    let app = app_with(app.backend, 30_000, 30_000, 10_000).await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/tickets HTTP/1.1\r\nHost: steward\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n",
        app.token
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await.expect("answered without the body").unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

async fn connections_over_the_cap_are_closed_at_once(app: TestApp) {
    let app = app_with(app.backend, 30_000, 30_000, 4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: steward\r\n").await.unwrap();
        held.push(s);
    }
    let mut extra = TcpStream::connect(app.addr).await.unwrap();
    let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\nHost: steward\r\n\r\n").await;
    let answer = read_until_closed(&mut extra, Duration::from_secs(2)).await.expect("the fifth connection is closed at once");
    assert!(answer.is_empty(), "{answer}");
    drop(held);
    // Once the held connections are gone, their places are free again.
    eventually("a free connection slot", || async {
        let r = reqwest::Client::new().get(app.url("/healthz")).send().await.ok()?;
        (r.status() == StatusCode::OK).then_some(())
    })
    .await;
}

async fn an_idle_kept_alive_connection_is_closed_by_the_header_read_timeout(app: TestApp) {
    let app = app_with(app.backend, TIMEOUT_MS, 30_000, 10_000).await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: steward\r\n\r\n").await.unwrap();
    // The first answer arrives, and the connection stays open for a next request…
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await.expect("answered").unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // …which never comes: the idle connection is closed without an answer.
    let rest = read_until_closed(&mut s, Duration::from_millis(TIMEOUT_MS * 10)).await.expect("idle connection closed in time");
    assert!(rest.is_empty() || rest.starts_with("HTTP/1.1 408"), "{rest}");
}
