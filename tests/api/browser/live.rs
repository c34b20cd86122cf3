//! Live updates in the browser: a ticket's live panel on one node hears a change made on
//! another (two nodes on one PostgreSQL database; on SQLite, the one node's in-process hint),
//! and "also viewing" names the other person who opens the ticket.

use super::harness::Browser;
use crate::helpers::{ConsoleSession, TestApp, CONSOLE_PASSWORD};
use crate::live_updates::Stream;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

const XSS: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";

pub async fn a_change_on_another_node_reaches_the_page(b: &Browser, app: &TestApp) {
    // On PostgreSQL the page is served by a second node with its listener on; the change is
    // made on the test's node, whose notifier this journey drives (`notify_changes`).
    let postgres = app.backend == crate::helpers::Backend::Postgres;
    let page_node = match postgres {
        true => Some(app.node(|c| c.workers.live_feed = true).await),
        false => None,
    };
    let base = page_node.as_ref().map_or_else(|| app.url(""), |n| n.url(""));
    let staff = app.create_staff("Lin Live", "lin.live@desk.test", "agent").await;
    ConsoleSession::login_for(app, &staff, json!({})).await;
    let ticket = app.create_ticket(json!({"title": XSS, "customer": {"name": XSS}})).await;
    let (id, number) = (ticket["id"].as_str().unwrap(), ticket["number"].as_str().unwrap());
    // The page starts its stream where it was rendered; once the ticket's creation is readable
    // there (PostgreSQL: no older transaction still running), the notice stays empty until
    // the change below.
    crate::live_updates::settled_after(app, &ticket).await;

    b.goto(&format!("{base}/tickets/{number}")).await;
    if b.script("return document.querySelector('#email') !== null").await == json!(true) {
        b.type_into("#email", "lin.live@desk.test").await;
        b.type_into("#password", CONSOLE_PASSWORD).await;
        b.click("button[type=submit]").await;
    }
    b.wait_text("h1", number).await;
    b.wait_until("return document.querySelector('[data-live-open]') !== null", "the live stream opened").await;
    b.ensure_no_dialog().await;
    b.ensure_accessible("the ticket page with its live panel").await;
    let empty = b.script("return document.querySelector('[data-live-notice]').textContent.trim() === ''").await;
    b.ensure(empty == json!(true), "no notice before anything changed").await;

    // A comment on the other node: the notice appears without a reload.
    let r = app.post(&format!("/api/v1/tickets/{id}/comments"), &json!({"body": XSS, "visibility": "public"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    if postgres {
        assert!(app.services.notify_changes().await.unwrap(), "the change is owed to the other nodes");
    }
    b.wait_text("[data-live-notice]", "This ticket changed:").await;

    // Someone else opens the ticket (on the other node): the page says so.
    let (other, _) = ConsoleSession::person(app, "Bo Other", "bo.other@desk.test", "agent").await;
    let mut stream = Stream::open(&other, &format!("/live?ticket={id}"), None).await;
    stream.next_of("viewers").await;
    if postgres {
        let _ = app.services.notify_changes().await;
    }
    b.wait_text("[data-live-viewers]", "Also viewing: Bo Other").await;
    b.ensure_no_dialog().await;
    let injected = b.script("return document.querySelectorAll('main script, main img').length").await;
    b.ensure(injected == 0, "nothing injected by the typed title or comment").await;
    b.ensure_accessible("the live panel with its notice and viewers").await;

    // They leave: the name goes.
    drop(stream);
    if postgres {
        // The leave is announced after the server notices the closed stream.
        for _ in 0..100 {
            if app.services.notify_changes().await.unwrap() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    b.wait_until("return document.querySelector('[data-live-viewers]').textContent.trim() === ''", "the viewer who left is gone").await;

    // Reload clears the notice: the page shows the ticket as it is now.
    b.click("[data-live-reload]").await;
    b.wait_until("return document.querySelector('[data-live-notice]').textContent.trim() === ''", "a fresh page").await;
    if let Some(node) = page_node {
        node.stop().await;
    }
}
