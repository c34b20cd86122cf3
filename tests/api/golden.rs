//! Golden public shapes: a ticket's timeline as `GET /api/v1/tickets/{id}/events` serves it, and
//! webhook deliveries (of a ticket event and of a staff event) as Steward POSTs them, compared with files under `tests/api/golden/` after
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
use std::collections::BTreeMap;
use std::time::Duration;
use steward_domain::duration::TargetDuration;
use steward_domain::ids::StaffId;
use steward_domain::time::Timestamp;
use steward_domain::training::{AssessmentMethod, Course};
use steward_services::NewTrainingRecord;
use tokio::sync::mpsc;

on_both_backends!(
    ticket_events_are_served_in_their_golden_shape,
    attachment_events_are_served_in_their_golden_shape,
    webhook_deliveries_are_posted_in_their_golden_shape
);

const TICKET_EVENTS: &str = include_str!("golden/ticket-events.json");
const WEBHOOK_DELIVERY: &str = include_str!("golden/webhook-delivery.json");
const ATTACHMENT_EVENTS: &str = include_str!("golden/attachment-events.json");
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
    let current = app.get(&format!("/api/v1/tickets/{id}")).await;
    let etag = current.headers().get("etag").and_then(|v| v.to_str().ok()).expect("an ETag").to_owned();
    let r = app.patch(&format!("/api/v1/tickets/{id}"), Some(&etag), &json!({"title": "Printer on fire (floor 3)"})).await;
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

/// A file attached to a comment and one to the ticket, then deleted: the attachment events and
/// the attachment as the API lists it.
async fn attachment_events_are_served_in_their_golden_shape(app: TestApp) {
    let ticket = app.create_ticket(json!({})).await;
    let id = ticket["id"].as_str().unwrap();
    let r = app.post(&format!("/api/v1/tickets/{id}/comments"), &json!({"body": "Photo attached.", "visibility": "internal"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let upload = |form: reqwest::multipart::Form| {
        app.request(reqwest::Method::POST, &format!("/api/v1/tickets/{id}/attachments")).multipart(form.percent_encode_noop()).send()
    };
    let photo = reqwest::multipart::Part::bytes(b"\xff\xd8\xff\xe0 a photo".to_vec()).file_name("打印机.jpg");
    let r = upload(reqwest::multipart::Form::new().part("file", photo).text("comment", "2")).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let added = body(r).await;
    let log = reqwest::multipart::Part::bytes(b"paper jam\n".to_vec()).file_name("log.txt");
    let r = upload(reqwest::multipart::Form::new().part("file", log)).await.unwrap();
    let log = body(r).await["items"][0].clone();
    let r = app.request(reqwest::Method::DELETE, &format!("/api/v1/tickets/{id}/attachments/{}", log["id"].as_str().unwrap())).send();
    assert_eq!(r.await.unwrap().status(), StatusCode::NO_CONTENT);
    let events = body(app.get(&format!("/api/v1/tickets/{id}/events?limit=50")).await).await;
    let items: Vec<Value> =
        events["items"].as_array().unwrap().iter().filter(|e| e["kind"].as_str().unwrap().starts_with("attachment_")).cloned().collect();
    let placeholders = Placeholders::new()
        .name(&ticket["id"], "ticket-id")
        .name(&added["items"][0]["id"], "photo-id")
        .name(&log["id"], "log-id")
        .name(&admin_token_id(&app).await, "token-id");
    let mut added = added;
    // The content URL names the ticket and the attachment: checked here, then a placeholder.
    let url = &mut added["items"][0]["content_url"];
    assert_eq!(*url, format!("/api/v1/tickets/{id}/attachments/{}/content", photo_id_in(&events)));
    *url = Value::String("/api/v1/tickets/<ticket-id>/attachments/<photo-id>/content".into());
    let actual = placeholders.apply(&json!({"events": items, "uploaded": added}));
    assert_golden("attachment-events.json", ATTACHMENT_EVENTS, &actual);
}

/// The photo's id, as the timeline's first `attachment_added` event names it.
fn photo_id_in(events: &Value) -> String {
    let first = events["items"].as_array().unwrap().iter().find(|e| e["kind"] == "attachment_added").expect("an attachment event");
    first["data"]["attachment_id"].as_str().unwrap().to_owned()
}

/// Forwards every request's headers and body to the test.
async fn receive(State(tx): State<mpsc::UnboundedSender<(HeaderMap, Bytes)>>, headers: HeaderMap, body: Bytes) -> AxumStatus {
    let _ = tx.send((headers, body));
    AxumStatus::NO_CONTENT
}

/// One delivery as the receiver got it: the Steward headers and the JSON body.
fn as_received(headers: &HeaderMap, sent: &Bytes) -> Value {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header")).to_owned();
    let signature = header("steward-signature");
    let well_formed = signature.split_once(',').is_some_and(|(t, v1)| {
        t.strip_prefix("t=").is_some_and(|t| t.parse::<i64>().is_ok()) && v1.strip_prefix("v1=").is_some_and(|h| h.len() == 64)
    });
    assert!(well_formed, "Steward-Signature is t=<unix seconds>,v1=<hex HMAC-SHA256>: {signature}");
    json!({
        "headers": {
            "content-type": header("content-type"),
            "steward-event": header("steward-event"),
            "steward-delivery": header("steward-delivery"),
            "steward-signature": "<signature>",
        },
        "body": serde_json::from_slice::<Value>(sent).expect("a JSON body"),
    })
}

async fn webhook_deliveries_are_posted_in_their_golden_shape(app: TestApp) {
    // The worker polls every 20 ms, so deliveries come at once.
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |c| c.webhooks.poll_interval_ms = 20).await.expect("the backend was available a moment ago");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let addr = listener.local_addr().unwrap();
    let receiver = tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(receive).with_state(tx)).await.expect("receiver runs");
    });
    let hook = json!({"url": format!("http://{addr}/hook"), "event_kinds": ["comment_added", "certification_expired"], "secret": "0123456789abcdef"});
    let r = app.post("/api/v1/webhooks", &hook).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let webhook = body(r).await;

    // A ticket event: the scripted ticket's public reply.
    let (ticket, staff) = scripted_ticket(&app).await;
    // A staff event: a certification that ran out, found by one pass of the expiry watcher.
    let now = Timestamp::now();
    let day = 86_400_000;
    let course = Course::create(
        "FORKLIFT",
        "Forklift licence",
        None,
        true,
        Some(TargetDuration::from_seconds(86_400)),
        70,
        AssessmentMethod::Exam,
        now,
    )
    .expect("a valid course");
    app.services.create_course(course).await.expect("course created");
    let staff_id = StaffId::parse("id", staff["id"].as_str().unwrap()).unwrap();
    let record = NewTrainingRecord {
        course_code: "FORKLIFT".into(),
        staff_id,
        completed_at: now.plus_millis(-2 * day),
        score: 90,
        assessor: "Grace Hopper".into(),
        method: None,
        notes: None,
        supersedes: None,
        correction_reason: None,
    };
    let record = app.services.record_training(record).await.expect("training recorded");
    app.services.watch_certifications(now).await.expect("the watcher ran");

    // Workers are off in tests: run the delivery pass the worker would run.
    assert_eq!(app.deliver_all_due_webhooks().await, 2, "one ticket event and one staff event are due");
    let mut received = BTreeMap::new();
    while received.len() < 2 {
        let (headers, sent) =
            tokio::time::timeout(Duration::from_secs(15), rx.recv()).await.expect("deliveries within 15 s").expect("the receiver runs");
        let delivery = as_received(&headers, &sent);
        received.insert(delivery["headers"]["steward-event"].as_str().expect("Steward-Event").to_owned(), delivery);
    }
    receiver.abort();
    let (ticket_event, staff_event) = (&received["comment_added"], &received["certification_expired"]);
    let placeholders = Placeholders::new()
        .name(&ticket_event["body"]["id"], "delivery-id")
        .name(&staff_event["body"]["id"], "staff-delivery-id")
        .name(&staff_event["body"]["staff_event"]["id"], "staff-event-id")
        .name(&json!(record.id.to_string()), "training-record-id")
        .name(&webhook["id"], "webhook-id")
        .name(&ticket["id"], "ticket-id")
        .name(&ticket["number"], "ticket-number")
        .name(&staff["id"], "staff-id")
        .name(&admin_token_id(&app).await, "token-id");
    let deliveries = json!({"ticket_event": ticket_event, "staff_event": staff_event});
    assert_golden("webhook-delivery.json", WEBHOOK_DELIVERY, &placeholders.apply(&deliveries));
}
