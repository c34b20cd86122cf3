use crate::helpers::{body, TestApp};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use tokio::task::JoinSet;

on_both_backends!(
    concurrent_creations_get_unique_numbers,
    concurrent_comments_on_one_ticket_lose_nothing,
    concurrent_patches_with_one_if_match_let_exactly_one_win,
    concurrent_retries_with_one_idempotency_key_create_one_ticket,
);

const WRITERS: usize = 24;

/// Sends `WRITERS` requests at once; returns (status, body) of each.
async fn all_at_once(make: impl Fn(usize) -> reqwest::RequestBuilder) -> Vec<(StatusCode, Value)> {
    let mut set = JoinSet::new();
    for i in 0..WRITERS {
        let request = make(i);
        set.spawn(async move {
            let r = request.send().await.expect("sent");
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        });
    }
    set.join_all().await
}

async fn concurrent_creations_get_unique_numbers(app: TestApp) {
    let results = all_at_once(|i| {
        app.request(reqwest::Method::POST, "/api/v1/tickets").json(&json!({"title": format!("Parallel {i}"), "customer": {"name": "ACME"}}))
    })
    .await;
    assert!(results.iter().all(|(s, _)| *s == StatusCode::CREATED), "{results:?}");
    let numbers: BTreeSet<_> = results.iter().map(|(_, t)| t["number"].as_str().unwrap().to_owned()).collect();
    assert_eq!(numbers.len(), WRITERS, "no number is handed out twice");
    let listed = body(app.get("/api/v1/tickets?limit=200").await).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), WRITERS);
}

async fn concurrent_comments_on_one_ticket_lose_nothing(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let path = format!("/api/v1/tickets/{}/comments", t["id"].as_str().unwrap());
    let results =
        all_at_once(|i| app.request(reqwest::Method::POST, &path).json(&json!({"body": format!("note {i}"), "visibility": "internal"})))
            .await;
    assert!(results.iter().all(|(s, _)| *s == StatusCode::CREATED), "{results:?}");
    let events = app.events(t["id"].as_str().unwrap()).await;
    let seqs: Vec<_> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=WRITERS as i64 + 1).collect::<Vec<_>>(), "a gapless timeline");
    let bodies: BTreeSet<_> = events.iter().skip(1).map(|e| e["data"]["body"].as_str().unwrap().to_owned()).collect();
    assert_eq!(bodies.len(), WRITERS, "every comment kept");
    let now = body(app.get(&format!("/api/v1/tickets/{}", t["id"].as_str().unwrap())).await).await;
    assert_eq!(now["version"], WRITERS as i64 + 1);
}

async fn concurrent_patches_with_one_if_match_let_exactly_one_win(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let path = format!("/api/v1/tickets/{}", t["id"].as_str().unwrap());
    let results = all_at_once(|i| {
        app.request(reqwest::Method::PATCH, &path).header("If-Match", "\"1\"").json(&json!({"title": format!("Title {i}")}))
    })
    .await;
    let won: Vec<_> = results.iter().filter(|(s, _)| *s == StatusCode::OK).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert!(results.iter().all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::CONFLICT));
    let now = body(app.get(&path).await).await;
    assert_eq!(now["title"], won[0].1["title"]);
    assert_eq!(now["version"], 2);
}

async fn concurrent_retries_with_one_idempotency_key_create_one_ticket(app: TestApp) {
    let results = all_at_once(|_| {
        app.request(reqwest::Method::POST, "/api/v1/tickets")
            .header("Idempotency-Key", "same-key")
            .json(&json!({"title": "Retry storm", "customer": {"name": "ACME"}}))
    })
    .await;
    assert!(results.iter().all(|(s, _)| *s == StatusCode::CREATED), "{results:?}");
    let ids: BTreeSet<_> = results.iter().map(|(_, t)| t["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 1);
    let listed = body(app.get("/api/v1/tickets").await).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}
