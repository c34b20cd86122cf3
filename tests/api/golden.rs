//! Golden public shapes: a ticket's timeline as `GET /api/v1/tickets/{id}/events` serves it, and
//! a webhook delivery as Steward POSTs it, compared with files under `tests/api/golden/` after
//! the values that differ from run to run (ids, instants, the ticket number, the signature)
//! are replaced by named placeholders. Both backends must serve the same shapes.
//!
//! After an intended change of shape: `UPDATE_GOLDEN=1 cargo test -p steward --test api golden`
//! rewrites the files; review their diff like any other change of the API.

use crate::helpers::{body, TestApp};
use crate::on_both_backends;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use reqwest::StatusCode;
use serde_json::{json, Map, Value};
use std::time::Duration;
use tokio::sync::mpsc;

on_both_backends!(ticket_events_are_served_in_their_golden_shape, webhook_deliveries_are_posted_in_their_golden_shape);

const TICKET_EVENTS: &str = include_str!("golden/ticket-events.json");
const WEBHOOK_DELIVERY: &str = include_str!("golden/webhook-delivery.json");
const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/api/golden");

/// Replaces the values known to vary by named placeholders, then any other id or instant by a
/// generic one, so what is left is the shape and the values the test chose.
struct Placeholders(Vec<(String, String)>);

impl Placeholders {
    fn new() -> Self {
        Placeholders(Vec::new())
    }

    fn name(mut self, value: &Value, placeholder: &str) -> Self {
        let value = value.as_str().unwrap_or_else(|| panic!("{placeholder}: {value} is not a string")).to_owned();
        self.0.push((value, format!("<{placeholder}>")));
        self
    }

    fn apply(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => {
                if let Some((_, placeholder)) = self.0.iter().find(|(v, _)| v == s) {
                    Value::String(placeholder.clone())
                } else if uuid::Uuid::try_parse(s).is_ok() {
                    Value::String("<id>".into())
                } else if s.parse::<jiff::Timestamp>().is_ok() {
                    Value::String("<instant>".into())
                } else {
                    value.clone()
                }
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.apply(v)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), self.apply(v))).collect::<Map<_, _>>()),
            other => other.clone(),
        }
    }
}

/// The paths at which two JSON values differ, one line each.
fn differences(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                match a.get(k) {
                    Some(w) => differences(&format!("{path}.{k}"), v, w, out),
                    None => out.push(format!("{path}.{k}: missing (golden has {v})")),
                }
            }
            for (k, w) in a.iter().filter(|(k, _)| !e.contains_key(*k)) {
                out.push(format!("{path}.{k}: not in the golden file (now {w})"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, (v, w)) in e.iter().zip(a).enumerate() {
                differences(&format!("{path}[{i}]"), v, w, out);
            }
            if e.len() != a.len() {
                out.push(format!("{path}: golden has {} items, now {}", e.len(), a.len()));
            }
        }
        (e, a) if e != a => out.push(format!("{path}: golden {e}, now {a}")),
        _ => {}
    }
}

/// Compares `actual` with the golden file `name` (its text is `golden`), or rewrites the file
/// under `UPDATE_GOLDEN=1`.
fn assert_golden(name: &str, golden: &str, actual: &Value) {
    let path = format!("{DIR}/{name}");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(actual).expect("serialises") + "\n").expect("golden file written");
        return;
    }
    let expected: Value = serde_json::from_str(golden).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"));
    let mut diff = Vec::new();
    differences("$", &expected, actual, &mut diff);
    assert!(
        diff.is_empty(),
        "the public shape in {path} changed:\n  {}\nIf the change is intended, run with UPDATE_GOLDEN=1 and review the file's diff.",
        diff.join("\n  ")
    );
}

/// A ticket with a short, scripted life: opened with an assignee, answered, edited, moved on.
async fn scripted_ticket(app: &TestApp) -> (Value, Value) {
    let staff = app.create_staff("Ada Lovelace", "ada@example.test", "agent").await;
    let ticket = app
        .create_ticket(json!({
            "title": "Printer on fire",
            "description": "Floor 3, next to the kitchen.",
            "kind": "incident",
            "assignee_id": staff["id"],
            "tags": ["printer", "floor-3"],
            "custom_fields": {"asset": "PR-7"},
        }))
        .await;
    let id = ticket["id"].as_str().expect("an id").to_owned();
    let r = app.post(&format!("/api/v1/tickets/{id}/comments"), &json!({"body": "On our way.", "visibility": "public"})).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", body(r).await);
    let r = app.patch(&format!("/api/v1/tickets/{id}"), None, &json!({"title": "Printer on fire (floor 3)"})).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", body(r).await);
    let r = app.post(&format!("/api/v1/tickets/{id}/transitions"), &json!({"to": "needs_analysis", "note": "Parts needed"})).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", body(r).await);
    (ticket, staff)
}

/// The admin token's id, which the timeline names as the actor.
async fn admin_token_id(app: &TestApp) -> Value {
    let tokens = body(app.get("/api/v1/tokens").await).await;
    let items = tokens["items"].as_array().or(tokens.as_array()).expect("a token list").clone();
    items.iter().find(|t| t["name"] == "test-admin").expect("the admin token")["id"].clone()
}

async fn ticket_events_are_served_in_their_golden_shape(app: TestApp) {
    let (ticket, staff) = scripted_ticket(&app).await;
    let r = app.get(&format!("/api/v1/tickets/{}/events?limit=50", ticket["id"].as_str().unwrap())).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = body(r).await;
    let kinds: Vec<&str> = page["items"].as_array().expect("items").iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "assignee_changed", "comment_added", "updated", "stage_changed"], "the scripted life");
    let placeholders = Placeholders::new()
        .name(&ticket["id"], "ticket-id")
        .name(&ticket["number"], "ticket-number")
        .name(&staff["id"], "staff-id")
        .name(&admin_token_id(&app).await, "token-id");
    assert_golden("ticket-events.json", TICKET_EVENTS, &placeholders.apply(&page));
}

/// Forwards every request's headers and body to the test.
async fn receive(State(tx): State<mpsc::UnboundedSender<(HeaderMap, Bytes)>>, headers: HeaderMap, body: Bytes) -> AxumStatus {
    let _ = tx.send((headers, body));
    AxumStatus::NO_CONTENT
}

async fn webhook_deliveries_are_posted_in_their_golden_shape(app: TestApp) {
    // The worker polls every 20 ms, so the delivery comes at once.
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |c| c.webhooks.poll_interval_ms = 20).await.expect("the backend was available a moment ago");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let addr = listener.local_addr().unwrap();
    let receiver = tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(receive).with_state(tx)).await.expect("receiver runs");
    });
    let r = app
        .post(
            "/api/v1/webhooks",
            &json!({"url": format!("http://{addr}/hook"), "event_kinds": ["comment_added"], "secret": "0123456789abcdef"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let webhook = body(r).await;
    let (ticket, staff) = scripted_ticket(&app).await;
    let (headers, sent) =
        tokio::time::timeout(Duration::from_secs(15), rx.recv()).await.expect("a delivery within 15 s").expect("the receiver runs");
    receiver.abort();

    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header")).to_owned();
    let signature = header("steward-signature");
    let well_formed = signature.split_once(',').is_some_and(|(t, v1)| {
        t.strip_prefix("t=").is_some_and(|t| t.parse::<i64>().is_ok()) && v1.strip_prefix("v1=").is_some_and(|h| h.len() == 64)
    });
    assert!(well_formed, "Steward-Signature is t=<unix seconds>,v1=<hex HMAC-SHA256>: {signature}");
    let payload: Value = serde_json::from_slice(&sent).expect("a JSON body");
    let delivery = json!({
        "headers": {
            "content-type": header("content-type"),
            "steward-event": header("steward-event"),
            "steward-delivery": header("steward-delivery"),
            "steward-signature": "<signature>",
        },
        "body": payload,
    });
    let placeholders = Placeholders::new()
        .name(&payload["id"], "delivery-id")
        .name(&webhook["id"], "webhook-id")
        .name(&ticket["id"], "ticket-id")
        .name(&ticket["number"], "ticket-number")
        .name(&staff["id"], "staff-id")
        .name(&admin_token_id(&app).await, "token-id");
    assert_golden("webhook-delivery.json", WEBHOOK_DELIVERY, &placeholders.apply(&delivery));
}
