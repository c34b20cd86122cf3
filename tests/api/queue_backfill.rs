//! The queue-state backfill (migration 0011, `Store::backfill_queue_state`), on both backends:
//! a database whose tickets predate queue state (migration 0009 left its defaults on their rows,
//! no due times on their clocks, empty counters) shows, after the next start, the same queues
//! as one that kept the state all along: the same counts, the same order, the same bands. A run
//! stopped after a batch resumes from its cursor; a fresh database owes nothing.

use crate::helpers::{clock_passes, ConsoleSession, TestApp};
use crate::on_both_backends;
use crate::queue_pages::{count_of, delegated_waiting_partner, id, listed, patch, sla_clock, view_counts};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;

on_both_backends!(
    an_upgraded_database_shows_the_same_queues_after_its_next_start,
    a_stopped_backfill_resumes_from_its_cursor,
    a_fresh_database_owes_no_backfill
);

/// Tickets in every queue situation: running on a business-hours calendar, breached (open, and
/// closed since), at risk, waiting on the customer, delegated and waiting on the partner,
/// assigned to the person or a colleague, unassigned, resolved, closed; part of the counter
/// deltas folded. Returns the agent's console session.
async fn mixed_queues(app: &TestApp) -> ConsoleSession {
    let (browser, me) = ConsoleSession::person(app, "Queue Agent", "queue.agent@desk.test", "agent").await;
    let colleague = app.create_staff("Team Mate", "mate@desk.test", "agent").await;
    for policy in [
        json!({"key": "fast", "name": "Fast lane", "order": 1, "match": {"tiers": ["priority"]},
               "first_response": "1s", "resolution": "1h"}),
        // Warned at 5 % of the 20 s resolution target (1 s), breached long after the test.
        json!({"key": "watched", "name": "Watched", "order": 1, "match": {"tiers": ["priority"], "channels": ["email"]},
               "first_response": "1h", "resolution": "20s", "warning_percent": 5}),
    ] {
        let r = app.post("/api/v1/sla-policies", &policy).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    }
    let priority = json!({"name": "Big Co", "tier": "priority"});
    // Watched first: its warning falls due before the others' first response.
    app.create_ticket(json!({"title": "being watched", "channel": "email", "customer": priority})).await;
    let late = app.create_ticket(json!({"title": "too slow", "customer": priority})).await;
    let late_done = app.create_ticket(json!({"title": "late but done", "customer": priority})).await;
    // The default phone policy runs on the support-hours calendar.
    app.create_ticket(json!({"title": "mine, on time", "assignee_id": me["id"]})).await;
    app.create_ticket(json!({"title": "nobody's", "channel": "web"})).await;
    let waiting = app.create_ticket(json!({"title": "asked the customer"})).await;
    patch(app, &waiting, json!({"assignee_id": colleague["id"], "status": "waiting_customer"})).await;
    delegated_waiting_partner(app).await;
    let resolved = app.create_ticket(json!({"title": "fixed", "assignee_id": me["id"]})).await;
    patch(app, &resolved, json!({"status": "resolved"})).await;
    let closed = app.create_ticket(json!({"title": "done"})).await;
    assert_eq!(app.transition(id(&closed), "closed").await.status(), StatusCode::OK);
    app.services.fold_queue_counts(5).await.unwrap();

    let first = sla_clock(app, id(&late), "first_response").await;
    let due: jiff::Timestamp = first["due_at"].as_str().unwrap().parse().unwrap();
    clock_passes(due + jiff::SignedDuration::from_millis(100)).await;
    assert!(app.sweep_sla().await >= 3, "the breaches and the warning are recorded");
    assert_eq!(app.transition(id(&late_done), "closed").await.status(), StatusCode::OK);

    let counts = view_counts(&browser.page("/queues").await);
    for (view, n) in [("breached", 1), ("at_risk", 1), ("mine", 1), ("team", 2), ("waiting_customer", 1), ("delegated", 1)] {
        assert_eq!(count_of(&counts, view), n, "{view} in {counts:?}");
    }
    browser
}

/// What the queues show, and the stored state behind them.
#[derive(Debug, PartialEq)]
struct Queues {
    /// Each view's count and the tickets it lists, in order.
    views: Vec<(String, i64, Vec<String>)>,
    /// Each ticket's band, due key and delegation as stored.
    tickets: Vec<(String, String, i64, Option<String>)>,
    /// Each clock's stored due time.
    clocks: Vec<(String, Option<i64>)>,
    /// Every counter: folded value plus pending deltas, by key.
    counters: Vec<(String, i64)>,
}

async fn queues(app: &TestApp, browser: &ConsoleSession) -> Queues {
    let mut views = Vec::new();
    for (view, n) in view_counts(&browser.page("/queues").await).into_iter().chain([("all".to_owned(), -1)]) {
        let listed = listed(browser, &view).await;
        views.push((view, n, listed));
    }
    let mut conn = app.database_connection().await;
    let tickets = sqlx::query("SELECT id, sla_band, sla_due_at, delegated_partner FROM tickets ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("id"), r.get("sla_band"), r.get("sla_due_at"), r.get("delegated_partner")))
        .collect();
    let clocks = sqlx::query("SELECT id, due_at FROM sla_clocks ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("id"), r.get("due_at")))
        .collect();
    let counters = sqlx::query(
        "SELECT key, CAST(SUM(n) AS BIGINT) AS n FROM (SELECT key, n FROM queue_counts UNION ALL \
         SELECT key, delta AS n FROM queue_count_deltas) AS c GROUP BY key HAVING SUM(n) <> 0 ORDER BY key",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("key"), r.get("n")))
    .collect();
    let _ = sqlx::Connection::close(conn).await;
    Queues { views, tickets, clocks, counters }
}

/// Puts the database back as migration 0009 left an older one: every ticket with the
/// defaults, no due times, no counters; then migration 0011's cursor row as it inserts it into
/// a database with tickets.
async fn forget_queue_state(app: &TestApp) {
    for sql in [
        "UPDATE tickets SET sla_band = 'none', sla_due_at = 9223372036854775807, delegated_partner = NULL",
        "UPDATE sla_clocks SET due_at = NULL",
        "DELETE FROM queue_counts",
        "DELETE FROM queue_count_deltas",
        "DELETE FROM queue_backfill",
    ] {
        app.exec(sql).await;
    }
    let migration = app.migration_text("0011_queue_backfill.sql");
    let insert = &migration[migration.find("INSERT INTO queue_backfill").expect("the cursor row")..];
    app.exec(insert.trim().trim_end_matches(';')).await;
    assert!(!app.services.queue_backfill_cursor().await.unwrap().done, "a database with tickets owes the backfill");
}

async fn an_upgraded_database_shows_the_same_queues_after_its_next_start(app: TestApp) {
    let browser = mixed_queues(&app).await;
    let kept = queues(&app, &browser).await;
    forget_queue_state(&app).await;
    let forgotten = queues(&app, &browser).await;
    assert_ne!(forgotten.counters, kept.counters, "the counters are gone");
    assert_ne!(forgotten.tickets, kept.tickets, "the rows hold the defaults");
    assert_ne!(forgotten.clocks, kept.clocks, "the clocks have no due times");
    assert_ne!(forgotten.views, kept.views, "the queues show it");

    let node = app.node(|_| {}).await;
    assert!(node.services.queue_backfill_cursor().await.unwrap().done);
    assert_eq!(queues(&app, &browser.on(&node)).await, kept);
}

async fn a_stopped_backfill_resumes_from_its_cursor(app: TestApp) {
    let browser = mixed_queues(&app).await;
    let kept = queues(&app, &browser).await;
    let total = kept.tickets.len();
    forget_queue_state(&app).await;

    let step = app.services.backfill_queue_batch(3).await.unwrap();
    assert_eq!((step.tickets, step.done), (3, false));
    let cursor = app.services.queue_backfill_cursor().await.unwrap();
    assert_eq!((cursor.after.map(|t| t.to_string()), cursor.done), (Some(kept.tickets[2].0.clone()), false));
    // Stopped here, as by a crash: the rest in batches of 2, from the cursor on.
    assert_eq!(app.services.backfill_queue_state(2).await.unwrap(), total - 3);
    assert_eq!(queues(&app, &browser).await, kept);
    // Done: the next start reads the cursor and does nothing.
    assert_eq!(app.services.backfill_queue_state(2).await.unwrap(), 0);
}

async fn a_fresh_database_owes_no_backfill(app: TestApp) {
    let cursor = app.services.queue_backfill_cursor().await.unwrap();
    assert_eq!((cursor.after, cursor.done), (None, true));
    app.create_ticket(json!({})).await;
    assert_eq!(app.services.backfill_queue_state(500).await.unwrap(), 0);
}
