//! Webhooks end to end: a receiver on loopback records what Steward POSTs and answers as each
//! test scripts it.

use crate::helpers::{body, clock_passes, problem, problem_fields, Node, TestApp};
use crate::on_both_backends;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus, Uri};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steward_server::Config;
use tokio::task::JoinHandle;

on_both_backends!(
    deliveries_are_signed_with_the_webhook_secret,
    failed_delivery_is_retried_until_it_succeeds_and_never_sent_again,
    every_failed_attempt_is_logged_until_the_delivery_gives_up,
    deliveries_queued_before_a_restart_are_sent_after_it,
    event_kinds_choose_what_each_webhook_receives,
    webhooks_are_listed_read_changed_and_deleted,
    webhook_validation_names_the_field,
    only_admins_manage_webhooks,
    two_nodes_never_send_one_delivery_twice,
    staff_events_are_delivered_to_webhooks_that_want_them,
    events_caused_by_the_customer_are_delivered,
);

/// Retries due within a fraction of a second, and few of them. The tests run the delivery
/// passes themselves (`TestApp::deliver_webhooks`); where a worker loop runs, it polls quickly.
fn fast(c: &mut Config) {
    c.webhooks.poll_interval_ms = 20;
    c.webhooks.retry_base_ms = 250;
    c.webhooks.retry_max_secs = 1;
    c.webhooks.max_attempts = 3;
    c.webhooks.timeout_ms = 5_000;
}

/// The app again, on a fresh database, with `adjust` applied to its config.
async fn respawn(app: TestApp, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let backend = app.backend;
    drop(app);
    TestApp::spawn_with(backend, adjust).await.expect("the backend was available a moment ago")
}

/// Longest wait for something a running worker loop should do within a few polls.
const PATIENCE: Duration = Duration::from_secs(15);

/// How the receiver answers one request.
#[derive(Clone, Copy)]
enum Reply {
    Status(u16),
    /// Answers only after this long, past the client's timeout.
    After(Duration),
}

#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header: {self:?}"))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn kind(&self) -> String {
        self.json()["event"]["kind"].as_str().expect("event.kind").to_owned()
    }

    /// Checks `Steward-Signature: t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` the way
    /// the README tells receivers to; returns `t`.
    fn verify_signature(&self, secret: &str) -> Result<i64, String> {
        let header = self.header("steward-signature");
        let (t, v1) = header
            .split_once(',')
            .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1.strip_prefix("v1=")?)))
            .ok_or_else(|| format!("malformed signature header `{header}`"))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(format!("{t}.").as_bytes());
        mac.update(&self.body);
        let claimed = hex::decode(v1).map_err(|e| format!("v1 is not hex: {e}"))?;
        mac.verify_slice(&claimed).map_err(|_| "the signature does not match".to_owned())?;
        t.parse().map_err(|e| format!("t is not a number: {e}"))
    }
}

#[derive(Default)]
struct ReceiverState {
    received: Vec<Received>,
    /// Answers for the next requests, in order; 204 once it is empty.
    script: VecDeque<Reply>,
}

/// A webhook receiver on 127.0.0.1, stopped when dropped.
struct Receiver {
    addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
    server: JoinHandle<()>,
}

impl Receiver {
    async fn start(script: impl IntoIterator<Item = Reply>) -> Receiver {
        let state = Arc::new(Mutex::new(ReceiverState { received: Vec::new(), script: script.into_iter().collect() }));
        let router = axum::Router::new().fallback(receive).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("receiver runs");
        });
        Receiver { addr, state, server }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    fn received_at(&self, path: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path == path).collect()
    }

    /// Waits (boundedly) until what was received satisfies `done`; returns it.
    async fn wait_until(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let waited = tokio::time::timeout(PATIENCE, async {
            loop {
                let received = self.received();
                if done(&received) {
                    return received;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| panic!("waited in vain for {what}; received: {:#?}", self.received()))
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(State(state): State<Arc<Mutex<ReceiverState>>>, uri: Uri, headers: HeaderMap, body: Bytes) -> AxumStatus {
    let reply = {
        let mut state = state.lock().unwrap();
        state.received.push(Received { path: uri.path().to_owned(), headers, body });
        state.script.pop_front()
    };
    match reply {
        None => AxumStatus::NO_CONTENT,
        Some(Reply::Status(code)) => AxumStatus::from_u16(code).unwrap(),
        Some(Reply::After(delay)) => {
            tokio::time::sleep(delay).await;
            AxumStatus::OK
        }
    }
}

async fn create_webhook(app: &TestApp, fields: Value) -> Value {
    let r = app.post("/api/v1/webhooks", &fields).await;
    assert_eq!(r.status(), StatusCode::CREATED, "creating {fields}");
    body(r).await
}

fn id(v: &Value) -> &str {
    v["id"].as_str().expect("an id")
}

/// The first page of a webhook's delivery log, as served by the node at `addr`.
async fn delivery_log(app: &TestApp, addr: SocketAddr, webhook: &str) -> Vec<Value> {
    let r = app
        .client
        .get(format!("http://{addr}/api/v1/webhooks/{webhook}/deliveries?limit=200"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await["items"].as_array().expect("items").clone()
}

/// Waits (boundedly) until the delivery log satisfies `done`; returns it.
async fn wait_for_log(app: &TestApp, addr: SocketAddr, webhook: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let log = delivery_log(app, addr, webhook).await;
        if done(&log) {
            return log;
        }
        assert!(tokio::time::Instant::now() < deadline, "waited in vain for {what}; log: {log:#?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the latest retry among `app`'s pending deliveries to `webhooks` is due (the clock
/// passes its `next_attempt_at`), then makes one delivery pass; returns how many it claimed.
async fn deliver_when_due(app: &TestApp, webhooks: &[&Value]) -> usize {
    let mut latest: Option<jiff::Timestamp> = None;
    for webhook in webhooks {
        for delivery in delivery_log(app, app.addr, id(webhook)).await {
            if let Some(at) = delivery["next_attempt_at"].as_str() {
                latest = latest.max(Some(at.parse().unwrap()));
            }
        }
    }
    clock_passes(latest.expect("a pending delivery")).await;
    app.deliver_webhooks().await
}

/// Milliseconds from the end of the delivery's last attempt to its next one, as its log shows them.
fn backoff_ms(delivery: &Value) -> f64 {
    let last = delivery["attempts"].as_array().unwrap().last().unwrap().clone();
    let started: jiff::Timestamp = last["at"].as_str().unwrap().parse().unwrap();
    let ended = started + jiff::SignedDuration::from_millis(last["duration_ms"].as_i64().unwrap());
    let next: jiff::Timestamp = delivery["next_attempt_at"].as_str().expect("a retry is scheduled").parse().unwrap();
    next.duration_since(ended).as_secs_f64() * 1000.0
}

fn all_in_state(state: &'static str, count: usize) -> impl Fn(&[Value]) -> bool {
    move |log| log.len() == count && log.iter().all(|d| d["state"] == state)
}

fn statuses(delivery: &Value) -> Vec<Value> {
    delivery["attempts"].as_array().unwrap().iter().map(|a| a["status_code"].clone()).collect()
}

async fn deliveries_are_signed_with_the_webhook_secret(app: TestApp) {
    let app = respawn(app, fast).await;
    let receiver = Receiver::start([]).await;
    let chosen = "a-secret-of-our-choosing";
    let given = create_webhook(&app, json!({"url": receiver.url("/given"), "event_kinds": ["*"], "secret": chosen})).await;
    assert_eq!(given["secret"], chosen);
    let generated = create_webhook(&app, json!({"url": receiver.url("/generated"), "event_kinds": ["created"]})).await;
    let generated_secret = generated["secret"].as_str().unwrap().to_owned();
    assert!(generated_secret.starts_with("whsec_") && generated_secret.len() >= 40, "{generated}");
    let ticket = app.create_ticket(json!({})).await;
    assert!(receiver.received().is_empty(), "deliveries are queued, and sent by the delivery pass");
    assert_eq!(app.deliver_all_due_webhooks().await, 2);
    let received = receiver.received();
    assert_eq!(received.len(), 2, "one delivery to each webhook");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    for (path, webhook, secret, wrong) in
        [("/given", &given, chosen, generated_secret.as_str()), ("/generated", &generated, &generated_secret, chosen)]
    {
        let request = received.iter().find(|r| r.path == path).unwrap_or_else(|| panic!("nothing at {path}"));
        let t = request.verify_signature(secret).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!((now - t).abs() < 300, "the signed time is the time of sending: {t} vs {now}");
        assert!(request.verify_signature(wrong).is_err(), "another secret does not verify");
        assert_eq!(request.header("content-type"), "application/json");
        assert_eq!(request.header("steward-event"), "created");
        let payload = request.json();
        assert_eq!(payload["id"], request.header("steward-delivery"));
        assert_eq!(payload["webhook_id"], webhook["id"]);
        let event = &payload["event"];
        assert_eq!(event["ticket_id"], ticket["id"]);
        assert_eq!(event["ticket_number"], ticket["number"]);
        assert_eq!((event["seq"].as_i64(), event["kind"].as_str()), (Some(1), Some("created")));
        assert_eq!(event["data"]["number"], ticket["number"]);
        assert_eq!(event["actor"]["kind"], "token");
        assert_eq!(event["actor"]["name"], "test-admin");
        // The payload's event is the timeline's event.
        let timeline = app.events(id(&ticket)).await;
        assert_eq!((&event["at"], &event["data"], &event["actor"]), (&timeline[0]["at"], &timeline[0]["data"], &timeline[0]["actor"]));
    }
    // The secret is shown once: never again on read.
    let listed = body(app.get("/api/v1/webhooks").await).await.to_string();
    assert!(!listed.contains(chosen) && !listed.contains(&generated_secret), "{listed}");
}

async fn failed_delivery_is_retried_until_it_succeeds_and_never_sent_again(app: TestApp) {
    let app = respawn(app, fast).await;
    let receiver = Receiver::start([Reply::Status(500)]).await;
    let hook = create_webhook(&app, json!({"url": receiver.url("/hook"), "event_kinds": ["created"], "secret": "0123456789abcdef"})).await;
    app.create_ticket(json!({})).await;
    assert_eq!(app.deliver_webhooks().await, 1);
    let pending = delivery_log(&app, app.addr, id(&hook)).await;
    assert!(all_in_state("pending", 1)(&pending), "a 500 is retried: {pending:#?}");
    assert_eq!(app.deliver_webhooks().await, 0, "not before its backoff");
    assert_eq!(deliver_when_due(&app, &[&hook]).await, 1, "the retry");
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].header("steward-delivery"), received[1].header("steward-delivery"), "a retry is the same delivery");
    assert_eq!(received[0].body, received[1].body, "with the same payload");
    received[1].verify_signature("0123456789abcdef").unwrap();
    let log = delivery_log(&app, app.addr, id(&hook)).await;
    assert!(all_in_state("delivered", 1)(&log), "{log:#?}");
    let delivery = &log[0];
    assert_eq!(delivery["id"], received[0].header("steward-delivery"));
    assert_eq!(statuses(delivery), [json!(500), json!(204)]);
    assert!(delivery["attempts"].as_array().unwrap().iter().all(|a| a["error"].is_null() && a["duration_ms"].as_i64().is_some()));
    assert!(delivery["next_attempt_at"].is_null());
    assert_eq!(delivery["event_kind"], "created");
    // A delivered delivery (no next attempt) is never sent again.
    assert_eq!(app.deliver_webhooks().await, 0);
    assert_eq!(receiver.received().len(), 2);
}

async fn every_failed_attempt_is_logged_until_the_delivery_gives_up(app: TestApp) {
    // A pass lasts as long as its slowest attempt (the timeout), and every retry is due well after.
    let (timeout_ms, retry_base_ms) = (300, 1000);
    let app = respawn(app, |c| {
        fast(c);
        c.webhooks.timeout_ms = timeout_ms;
        c.webhooks.retry_base_ms = retry_base_ms;
        c.webhooks.retry_max_secs = 2;
    })
    .await;
    let failing = Receiver::start([Reply::Status(500), Reply::Status(503), Reply::Status(302)]).await;
    let slow = Receiver::start([Reply::After(Duration::from_secs(3)); 3]).await;
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let to_failing = create_webhook(&app, json!({"url": failing.url("/hook"), "event_kinds": ["created"]})).await;
    let to_slow = create_webhook(&app, json!({"url": slow.url("/hook"), "event_kinds": ["created"]})).await;
    let to_nobody = create_webhook(&app, json!({"url": format!("http://127.0.0.1:{closed_port}/hook"), "event_kinds": ["created"]})).await;
    app.create_ticket(json!({})).await;
    let hooks = [&to_failing, &to_slow, &to_nobody];
    assert_eq!(app.deliver_webhooks().await, 3, "the first attempts");
    for attempt in 2..=3 {
        // After failed attempt n the retry waits base · 2^(n−1), less up to a quarter of jitter,
        // and no pass sends it sooner.
        let wait = retry_base_ms as f64 * 2f64.powi(attempt - 2);
        for hook in hooks {
            let delivery = delivery_log(&app, app.addr, id(hook)).await[0].clone();
            let backoff = backoff_ms(&delivery);
            // (The upper bound allows for the moments between the attempt's end and its recording.)
            assert!((0.75 * wait..=wait + 200.0).contains(&backoff), "backoff before attempt {attempt}: {backoff} ms: {delivery}");
        }
        assert_eq!(app.deliver_webhooks().await, 0, "attempt {attempt} is not due yet");
        assert_eq!(deliver_when_due(&app, &hooks).await, 3, "attempt {attempt}");
    }
    let mut logs = Vec::new();
    for hook in hooks {
        let log = delivery_log(&app, app.addr, id(hook)).await;
        assert!(all_in_state("failed", 1)(&log), "given up: {log:#?}");
        let delivery = log[0].clone();
        assert!(delivery["next_attempt_at"].is_null(), "{delivery}");
        assert_eq!(delivery["attempts"].as_array().unwrap().len(), 3, "max_attempts, then no more: {delivery}");
        logs.push(delivery);
    }
    assert_eq!(statuses(&logs[0]), [json!(500), json!(503), json!(302)], "a redirect is not followed, and not a success");
    assert_eq!(app.deliver_webhooks().await, 0, "a failed delivery (no next attempt) is never sent again");
    assert_eq!(failing.received().len(), 3);
    for attempt in logs[1]["attempts"].as_array().unwrap() {
        assert!(attempt["status_code"].is_null());
        assert_eq!(attempt["error"], format!("timed out after {timeout_ms} ms"), "{attempt}");
    }
    for attempt in logs[2]["attempts"].as_array().unwrap() {
        assert!(attempt["status_code"].is_null());
        assert!(attempt["error"].as_str().unwrap().starts_with("connection failed"), "{attempt}");
    }
}

async fn deliveries_queued_before_a_restart_are_sent_after_it(app: TestApp) {
    let mut app = respawn(app, fast).await;
    let receiver = Receiver::start([]).await;
    let hook = create_webhook(&app, json!({"url": receiver.url("/hook"), "event_kinds": ["*"]})).await;
    let ticket = app.create_ticket(json!({})).await;
    let r = app.post(&format!("/api/v1/tickets/{}/comments", id(&ticket)), &json!({"body": "on it", "visibility": "public"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let queued = delivery_log(&app, app.addr, id(&hook)).await;
    assert!(all_in_state("pending", 2)(&queued), "{queued:#?}");
    assert!(queued.iter().all(|d| d["attempts"] == json!([]) && d["next_attempt_at"].is_string()));
    app.trigger_shutdown();
    app.wait_stopped().await;

    let restarted = Node::start(&app.database_url, fast).await;
    assert_eq!(restarted.workers.deliver_all_due_webhooks().await, 2);
    let received = receiver.received();
    assert_eq!(received.len(), 2, "both queued deliveries");
    let kinds: BTreeSet<_> = received.iter().map(Received::kind).collect();
    assert_eq!(kinds, BTreeSet::from(["comment_added".to_owned(), "created".to_owned()]));
    let sent: BTreeSet<_> = received.iter().map(|r| r.header("steward-delivery").to_owned()).collect();
    let logged: BTreeSet<_> = queued.iter().map(|d| id(d).to_owned()).collect();
    assert_eq!(sent, logged, "the very deliveries queued before the restart");
    let log = delivery_log(&app, restarted.addr, id(&hook)).await;
    assert!(all_in_state("delivered", 2)(&log), "{log:#?}");
    restarted.stop().await;
}

async fn event_kinds_choose_what_each_webhook_receives(app: TestApp) {
    let app = respawn(app, fast).await;
    let receiver = Receiver::start([]).await;
    let comments = create_webhook(&app, json!({"url": receiver.url("/comments"), "event_kinds": ["comment_added"]})).await;
    create_webhook(&app, json!({"url": receiver.url("/all"), "event_kinds": ["*"]})).await;
    let paused = create_webhook(&app, json!({"url": receiver.url("/paused"), "event_kinds": ["*"], "active": false})).await;
    let ticket = app.create_ticket(json!({})).await;
    let comment = json!({"body": "hello", "visibility": "public"});
    app.post(&format!("/api/v1/tickets/{}/comments", id(&ticket)), &comment).await;
    let count_at = |received: &[Received], path: &str| received.iter().filter(|r| r.path == path).count();
    assert_eq!(app.deliver_all_due_webhooks().await, 3);
    let received = receiver.received();
    assert_eq!((count_at(&received, "/all"), count_at(&received, "/comments")), (2, 1));
    let kinds = |path: &str| receiver.received_at(path).iter().map(Received::kind).collect::<BTreeSet<_>>();
    assert_eq!(kinds("/all"), BTreeSet::from(["comment_added".to_owned(), "created".to_owned()]));
    assert_eq!(kinds("/comments"), BTreeSet::from(["comment_added".to_owned()]));
    assert!(delivery_log(&app, app.addr, id(&paused)).await.is_empty(), "nothing is queued for an inactive webhook");

    // Webhooks are read on every write: a change applies to the very next event.
    let r = app.patch(&format!("/api/v1/webhooks/{}", id(&comments)), None, &json!({"event_kinds": ["stage_changed"]})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.patch(&format!("/api/v1/webhooks/{}", id(&paused)), None, &json!({"active": true})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.transition(id(&ticket), "needs_analysis").await.status(), StatusCode::OK);
    assert_eq!(app.deliver_all_due_webhooks().await, 3, "the stage change, to all three");
    let received = receiver.received();
    assert_eq!((count_at(&received, "/all"), count_at(&received, "/comments"), count_at(&received, "/paused")), (3, 2, 1));
    let last_kind = |path: &str| received.iter().rfind(|r| r.path == path).map(Received::kind);
    assert_eq!(last_kind("/comments").as_deref(), Some("stage_changed"));
    assert_eq!(last_kind("/paused").as_deref(), Some("stage_changed"));
}

async fn webhooks_are_listed_read_changed_and_deleted(app: TestApp) {
    let app = respawn(app, fast).await;
    let receiver = Receiver::start([]).await;
    let r = app
        .post(
            "/api/v1/webhooks",
            &json!({"url": receiver.url("/hook"), "event_kinds": ["stage_changed", "created", "created"], "secret": "first-secret-0123"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let created = body(r).await;
    assert_eq!(location, format!("/api/v1/webhooks/{}", id(&created)));
    assert_eq!(created["event_kinds"], json!(["created", "stage_changed"]), "sorted, without repeats");
    assert_eq!((created["active"].as_bool(), created["url"].as_str()), (Some(true), Some(receiver.url("/hook").as_str())));
    let read = body(app.get(&location).await).await;
    assert!(read.get("secret").is_none(), "{read}");
    assert_eq!(read["id"], created["id"]);
    let listed = body(app.get("/api/v1/webhooks").await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(listed[0].get("secret").is_none());

    let r = app.patch(&location, None, &json!({"secret": "second-secret-456", "event_kinds": ["*"]})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let changed = body(r).await;
    assert!(changed.get("secret").is_none(), "{changed}");
    assert_eq!(changed["event_kinds"], json!(["*"]));
    assert_eq!(changed["created_at"], created["created_at"]);
    // Deliveries are signed with the secret as it is when they are sent.
    app.create_ticket(json!({})).await;
    assert_eq!(app.deliver_all_due_webhooks().await, 1);
    let received = receiver.received();
    received[0].verify_signature("second-secret-456").unwrap();
    assert!(received[0].verify_signature("first-secret-0123").is_err());
    let log = delivery_log(&app, app.addr, id(&created)).await;
    assert!(all_in_state("delivered", 1)(&log), "{log:#?}");

    let r = app.request(Method::DELETE, &location).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    problem(app.get(&location).await, StatusCode::NOT_FOUND).await;
    problem(app.get(&format!("{location}/deliveries")).await, StatusCode::NOT_FOUND).await;
    assert_eq!(body(app.get("/api/v1/webhooks").await).await, json!([]));
    // Events after the deletion are still recorded; they just go nowhere.
    app.create_ticket(json!({})).await;
    assert_eq!(app.deliver_all_due_webhooks().await, 0);
    assert_eq!(receiver.received().len(), 1);
}

async fn webhook_validation_names_the_field(app: TestApp) {
    let ok_url = "https://hooks.example.test/steward";
    for (fields, expected) in [
        (json!({"url": "ftp://hooks.example.test/x", "event_kinds": ["*"]}), vec!["url"]),
        (json!({"url": "hooks.example.test", "event_kinds": ["*"]}), vec!["url"]),
        (json!({"url": "https://user:pw@hooks.example.test/", "event_kinds": ["*"]}), vec!["url"]),
        (json!({"event_kinds": ["*"]}), vec!["url"]),
        (json!({"url": ok_url, "event_kinds": []}), vec!["event_kinds"]),
        (json!({"url": ok_url, "event_kinds": "*"}), vec!["event_kinds"]),
        (json!({"url": ok_url, "event_kinds": ["created", "closed"]}), vec!["event_kinds[1]"]),
        (json!({"url": ok_url, "event_kinds": ["*", "created"]}), vec!["event_kinds"]),
        (json!({"url": ok_url, "event_kinds": ["*"], "secret": "too-short"}), vec!["secret"]),
        (json!({"url": ok_url, "event_kinds": ["*"], "colour": "red"}), vec!["colour"]),
        (json!({"url": "mailto:x@y.test", "event_kinds": ["nope"], "secret": "short"}), vec!["url", "event_kinds[0]", "secret"]),
    ] {
        let p = problem(app.post("/api/v1/webhooks", &fields).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem_fields(&p), expected, "{fields}: {p}");
    }
    assert_eq!(body(app.get("/api/v1/webhooks").await).await, json!([]), "bad input creates nothing");

    let hook = create_webhook(&app, json!({"url": ok_url, "event_kinds": ["*"]})).await;
    let path = format!("/api/v1/webhooks/{}", id(&hook));
    for (fields, field) in
        [(json!({"url": "nope"}), "url"), (json!({"secret": "short"}), "secret"), (json!({"event_kinds": ["x"]}), "event_kinds[0]")]
    {
        let p = problem(app.patch(&path, None, &fields).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem_fields(&p), [field], "{fields}: {p}");
    }
    assert_eq!(body(app.get(&path).await).await["updated_at"], hook["updated_at"], "rejected edits change nothing");
    for (query, field) in [("limit=0", "limit"), ("cursor=bm9wZQ", "cursor"), ("state=failed", "state")] {
        let p = problem(app.get(&format!("{path}/deliveries?{query}")).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(problem_fields(&p), [field], "{query}: {p}");
    }
    let unknown = "/api/v1/webhooks/01a20c6d-0000-7000-8000-000000000000";
    problem(app.get(unknown).await, StatusCode::NOT_FOUND).await;
    problem(app.get("/api/v1/webhooks/garbage").await, StatusCode::NOT_FOUND).await;
    problem(app.patch(unknown, None, &json!({"active": false})).await, StatusCode::NOT_FOUND).await;
    problem(app.request(Method::DELETE, unknown).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    problem(app.get(&format!("{unknown}/deliveries")).await, StatusCode::NOT_FOUND).await;
}

async fn only_admins_manage_webhooks(app: TestApp) {
    let hook = create_webhook(&app, json!({"url": "https://hooks.example.test/h", "event_kinds": ["*"]})).await;
    let path = format!("/api/v1/webhooks/{}", id(&hook));
    for role in ["supervisor", "agent", "qa", "viewer"] {
        let token = app.token_with_role(role).await;
        for (method, route, fields) in [
            (Method::GET, "/api/v1/webhooks".to_owned(), None),
            (Method::POST, "/api/v1/webhooks".to_owned(), Some(json!({"url": "https://x.test/h", "event_kinds": ["*"]}))),
            (Method::GET, path.clone(), None),
            (Method::PATCH, path.clone(), Some(json!({"active": false}))),
            (Method::DELETE, path.clone(), None),
            (Method::GET, format!("{path}/deliveries"), None),
        ] {
            let mut request = app.request_as(&token, method.clone(), &route);
            if let Some(fields) = fields {
                request = request.json(&fields);
            }
            let p = problem(request.send().await.unwrap(), StatusCode::FORBIDDEN).await;
            assert!(p["detail"].as_str().unwrap().contains("manage webhooks"), "{role} {method} {route}: {p}");
        }
    }
    let unchanged = body(app.get(&path).await).await;
    assert_eq!(unchanged["active"], true);
}

/// Both nodes' delivery loops run, claiming from one queue.
async fn two_nodes_never_send_one_delivery_twice(app: TestApp) {
    let with_worker = |c: &mut Config| {
        fast(c);
        c.webhooks.worker = true;
    };
    let mut app = respawn(app, with_worker).await;
    let other = Node::start(&app.database_url, with_worker).await;
    let receiver = Receiver::start([]).await;
    create_webhook(&app, json!({"url": receiver.url("/hook"), "event_kinds": ["*"]})).await;
    const TICKETS: usize = 24;
    for i in 0..TICKETS {
        app.create_ticket(json!({"title": format!("Ticket {i}")})).await;
    }
    receiver.wait_until("every delivery", |r| r.len() >= TICKETS).await;
    let hook = body(app.get("/api/v1/webhooks").await).await[0].clone();
    wait_for_log(&app, app.addr, id(&hook), "every delivery to be logged as delivered", all_in_state("delivered", TICKETS)).await;
    // Nothing is left for any poll of either node to send.
    assert_eq!(tokio::join!(app.deliver_webhooks(), other.workers.deliver_webhooks()), (0, 0));
    // Stopping lets attempts in flight finish: a second send of any delivery has arrived by now.
    other.stop().await;
    app.trigger_shutdown();
    app.wait_stopped().await;
    let received = receiver.received();
    let distinct: BTreeSet<_> = received.iter().map(|r| r.header("steward-delivery").to_owned()).collect();
    assert_eq!(distinct.len(), TICKETS);
    assert_eq!(received.len(), TICKETS, "a delivery was sent twice");
}

async fn staff_events_are_delivered_to_webhooks_that_want_them(app: TestApp) {
    let app = respawn(app, fast).await;
    let receiver = Receiver::start([]).await;
    let r = app.post("/api/v1/webhooks", &json!({"url": receiver.url("/staff"), "event_kinds": ["certification_expired"]})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let webhook = body(r).await;
    let secret = webhook["secret"].as_str().unwrap().to_owned();
    let r = app.post("/api/v1/webhooks", &json!({"url": receiver.url("/tickets"), "event_kinds": ["created"]})).await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let r = app
        .post(
            "/api/v1/courses",
            &json!({"code": "FIELD-SAFETY", "title": "Field safety", "certifies": true, "validity": "1d", "pass_score": 50, "method": "exam"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let ada = app.create_staff("Ada", "ada@example.test", "agent").await;
    let r = app
        .post(
            "/api/v1/training-records",
            &json!({"staff_id": ada["id"], "course_code": "FIELD-SAFETY", "completed_at": "2020-01-01T00:00:00Z", "score": 90, "assessor": "G"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    assert_eq!(app.watch_certifications().await, 1, "the expiry");
    assert_eq!(app.deliver_all_due_webhooks().await, 1);
    let got = receiver.received();
    let delivery = got.iter().find(|r| r.path == "/staff").expect("the expiry at /staff");
    assert_eq!(delivery.header("steward-event"), "certification_expired");
    delivery.verify_signature(&secret).expect("signed like ticket events");
    let payload = delivery.json();
    assert_eq!(payload["staff_event"]["staff_id"], ada["id"]);
    assert_eq!(payload["staff_event"]["data"]["certification"], "FIELD-SAFETY");
    assert!(payload.get("event").is_none(), "{payload}");
    // Once only, and only to the webhook that wants it.
    assert_eq!(app.watch_certifications().await, 0);
    assert_eq!(app.deliver_all_due_webhooks().await, 0);
    assert_eq!(receiver.received_at("/staff").len(), 1);
    assert!(receiver.received_at("/tickets").is_empty());
    let log = body(app.get(&format!("/api/v1/webhooks/{}/deliveries", webhook["id"].as_str().unwrap())).await).await;
    let item = &log["items"][0];
    assert_eq!((item["event_kind"].as_str(), item["state"].as_str()), (Some("certification_expired"), Some("delivered")), "{log}");
    assert!(item["ticket_id"].is_null() && item["staff_event_id"].is_string(), "{item}");
}

async fn events_caused_by_the_customer_are_delivered(app: TestApp) {
    let app = respawn(app, fast).await;
    let receiver = Receiver::start([]).await;
    let r = app.post("/api/v1/webhooks", &json!({"url": receiver.url("/csat"), "event_kinds": ["csat_received"]})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    let r = app.patch(&format!("/api/v1/tickets/{id}"), Some("*"), &json!({"status": "resolved"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let url =
        app.events(id).await.iter().find(|e| e["kind"] == "survey_issued").unwrap()["data"]["survey_url"].as_str().unwrap().to_owned();
    let r = app.client.post(app.url(&url)).json(&json!({"score": 4})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.deliver_all_due_webhooks().await, 1);
    let got = receiver.received();
    let event = &got[0].json()["event"];
    assert_eq!((event["kind"].as_str(), event["actor"]["kind"].as_str()), (Some("csat_received"), Some("customer")), "{event}");
}
