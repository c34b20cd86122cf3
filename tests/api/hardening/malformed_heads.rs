//! The HTTP parser's refusals are problem documents: a raw TCP client sends a malformed request
//! line, a request target that is too long and a head that is too large, and reads the answer.

use crate::helpers::TestApp;
use crate::on_both_backends;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

on_both_backends!(
    a_malformed_request_line_is_a_400_problem,
    a_request_target_that_is_too_long_is_a_414_problem,
    a_head_that_is_too_large_is_a_431_problem,
    a_long_target_on_a_kept_alive_connection_is_a_414_problem_too,
);

/// Sends `request` on a fresh connection and reads until the server closes it.
async fn exchange(app: &TestApp, request: &[u8]) -> String {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    // The server may answer (and close) before it has read all of an oversized request.
    let _ = s.write_all(request).await;
    read_to_close(&mut s).await
}

async fn read_to_close(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got)).await.expect("the server answers and closes");
    String::from_utf8_lossy(&got).into_owned()
}

/// The status and the problem document of a raw answer.
fn problem(answer: &str) -> (u16, Value) {
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head in {answer:?}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {head:?}"));
    assert!(head.to_ascii_lowercase().contains("content-type: application/problem+json"), "{head}");
    (status, serde_json::from_str(body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {body:?}")))
}

async fn a_malformed_request_line_is_a_400_problem(app: TestApp) {
    for request in [&b"GET /healthz HTTP/1.1 extra\r\n\r\n"[..], b"G\x01T / HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n"] {
        let (status, body) = problem(&exchange(&app, request).await);
        assert_eq!(status, 400, "{request:?}");
        assert_eq!(body["type"], "/problems/malformed-request", "{body}");
        assert_eq!(body["status"], 400);
    }
}

async fn a_request_target_that_is_too_long_is_a_414_problem(app: TestApp) {
    let request = format!("GET /healthz?pad={} HTTP/1.1\r\nHost: steward\r\n\r\n", "a".repeat(steward_server::serve::MAX_URI_BYTES));
    let (status, body) = problem(&exchange(&app, request.as_bytes()).await);
    assert_eq!(status, 414);
    assert_eq!(body["type"], "/problems/uri-too-long", "{body}");
    // One just under the limit is served.
    let fits = format!("/healthz?pad={}", "a".repeat(steward_server::serve::MAX_URI_BYTES - 20));
    assert_eq!(app.client.get(app.url(&fits)).send().await.unwrap().status(), 200);
}

async fn a_head_that_is_too_large_is_a_431_problem(app: TestApp) {
    let big = format!("GET /healthz HTTP/1.1\r\nHost: steward\r\nX-Big: {}\r\n\r\n", "a".repeat(steward_server::serve::MAX_HEAD_BYTES));
    let (status, body) = problem(&exchange(&app, big.as_bytes()).await);
    assert_eq!(status, 431);
    assert_eq!(body["type"], "/problems/request-header-fields-too-large", "{body}");
    let many: String = (0..=steward_server::serve::MAX_HEADERS).map(|i| format!("X-Field-{i}: y\r\n")).collect();
    let (status, _) = problem(&exchange(&app, format!("GET /healthz HTTP/1.1\r\nHost: steward\r\n{many}\r\n").as_bytes()).await);
    assert_eq!(status, 431);
}

async fn a_long_target_on_a_kept_alive_connection_is_a_414_problem_too(app: TestApp) {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    let long = format!("/healthz?pad={}", "a".repeat(steward_server::serve::MAX_URI_BYTES));
    let requests =
        format!("GET /healthz HTTP/1.1\r\nHost: steward\r\n\r\nGET {long} HTTP/1.1\r\nHost: steward\r\nConnection: close\r\n\r\n");
    s.write_all(requests.as_bytes()).await.unwrap();
    let answers = read_to_close(&mut s).await;
    let second = answers.match_indices("HTTP/1.1 ").nth(1).map(|(i, _)| &answers[i..]).expect("two answers");
    assert!(answers.starts_with("HTTP/1.1 200"), "{answers}");
    let (status, body) = problem(second);
    assert_eq!(status, 414);
    assert_eq!(body["type"], "/problems/uri-too-long");
}
