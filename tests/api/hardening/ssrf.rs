//! Webhooks cannot probe the inside: every form of an inside destination is refused on create
//! and on PATCH, and at delivery (after DNS resolution) no connection is made and the log says
//! only a coarse outcome. The suite's config allows 127.0.0.1/32, where test receivers live.

use crate::helpers::{body, problem, problem_fields, TestApp};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

on_both_backends!(
    every_inside_destination_is_refused_on_create_and_patch,
    delivery_to_a_destination_now_refused_never_connects_and_logs_coarsely,
);

/// Cloud metadata, private ranges, link-local, and loopback in numeric disguises and IPv6 forms.
pub const INSIDE: &[&str] = &[
    "http://169.254.169.254/latest/meta-data/iam/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1:8080/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://0/",
    "http://127.0.0.2/",
    "http://127.2:9/",
    "http://2130706434/",
    "http://0x7f.2/",
    "http://0177.0.0.2/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.2]/",
    "http://[::ffff:7f00:2]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
];

async fn every_inside_destination_is_refused_on_create_and_patch(app: TestApp) {
    for url in INSIDE {
        let r = app.post("/api/v1/webhooks", &json!({"url": url, "event_kinds": ["*"]})).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem_fields(&p), ["url"], "{url}: {p}");
    }
    // The allow-list opens exactly 127.0.0.1, also when disguised.
    for url in ["http://127.0.0.1:9/hook", "http://2130706433:9/", "http://0x7f.1:9/", "http://[::ffff:127.0.0.1]:9/"] {
        let r = app.post("/api/v1/webhooks", &json!({"url": url, "event_kinds": ["*"]})).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{url}");
    }
    let hook = body(app.post("/api/v1/webhooks", &json!({"url": "https://hooks.example.test/x", "event_kinds": ["*"]})).await).await;
    let path = format!("/api/v1/webhooks/{}", hook["id"].as_str().unwrap());
    for url in INSIDE {
        let r = app.request(Method::PATCH, &path).json(&json!({"url": url})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "PATCH {url}");
        let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem_fields(&p), ["url"], "PATCH {url}: {p}");
    }
    let now = body(app.get(&path).await).await;
    assert_eq!(now["url"], "https://hooks.example.test/x", "no refused URL was stored");
}

/// A listener that only counts the connections it accepts.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, count)
}

async fn attempts(app: &TestApp, hook: &Value) -> Vec<Value> {
    let log = body(app.get(&format!("/api/v1/webhooks/{}/deliveries", hook["id"].as_str().unwrap())).await).await;
    log["items"].as_array().unwrap().iter().flat_map(|d| d["attempts"].as_array().unwrap().clone()).collect()
}

async fn delivery_to_a_destination_now_refused_never_connects_and_logs_coarsely(app: TestApp) {
    let (port, connections) = counting_listener().await;
    // Allowed when created (this node allows 127.0.0.1/32), both as a literal and by name.
    let literal =
        body(app.post("/api/v1/webhooks", &json!({"url": format!("http://127.0.0.1:{port}/hook"), "event_kinds": ["created"]})).await)
            .await;
    let named =
        body(app.post("/api/v1/webhooks", &json!({"url": format!("http://localhost:{port}/hook"), "event_kinds": ["created"]})).await)
            .await;
    assert!(literal["id"].is_string() && named["id"].is_string(), "{literal} {named}");
    app.create_ticket(json!({})).await;
    // A node whose operator allows nothing inside delivers: it must not connect.
    let strict = app.node(|c| c.webhooks.allow_private = Vec::new()).await;
    assert_eq!(strict.workers.deliver_all_due_webhooks().await, 2);
    assert_eq!(connections.load(Ordering::SeqCst), 0, "no connection to a refused destination");
    for hook in [&literal, &named] {
        let tried = attempts(&app, hook).await;
        assert_eq!(tried.len(), 1, "{tried:?}");
        let error = tried[0]["error"].as_str().unwrap();
        assert!(error.starts_with("refused: the destination is not allowed"), "{error}");
    }
    // A failed connection on an allowed destination says only that: no OS error to scan with.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let nobody =
        body(app.post("/api/v1/webhooks", &json!({"url": format!("http://127.0.0.1:{closed}/"), "event_kinds": ["created"]})).await).await;
    app.create_ticket(json!({})).await;
    app.deliver_webhooks().await;
    let tried = attempts(&app, &nobody).await;
    assert_eq!(tried.len(), 1, "{tried:?}");
    assert_eq!(tried[0]["error"], "connection failed");
}
