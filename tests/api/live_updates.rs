//! Live updates over SSE (`/live`), on both backends: a change made through the API shows up in
//! the stream, a stream resumes after its `Last-Event-ID`, a partner never hears another
//! partner's ticket, "also viewing" lists the others and forgets them; and on PostgreSQL, two
//! nodes on one database: a change on node B reaches a stream on node A, and a notification
//! lost while A's listener reconnects loses nothing.

use crate::helpers::{body, ConsoleSession, TestApp};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use steward_domain::event::EventPosition;

on_both_backends!(
    a_change_by_the_api_shows_up_in_the_ticket_stream,
    a_stream_resumes_after_its_last_event_id,
    a_partner_stream_never_carries_another_partners_ticket,
    also_viewing_lists_the_others_and_forgets_them
);

const XSS: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";

/// One server-sent event.
#[derive(Debug)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
}

/// An open `/live` stream, read event by event.
pub struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    pub async fn open(session: &ConsoleSession, path: &str, last_event_id: Option<&str>) -> Stream {
        let mut request = session.client.get(session.url(path));
        if let Some(cookie) = &session.cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("GET /live");
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        assert_eq!(response.headers()[reqwest::header::CONTENT_TYPE], "text/event-stream");
        Stream { response, buffer: String::new() }
    }

    /// The next event (keep-alive comments skipped); fails after 15 s without one.
    pub async fn next(&mut self) -> SseEvent {
        tokio::time::timeout(Duration::from_secs(15), async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let (mut event, mut id, mut data) = (String::from("message"), None, String::new());
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("event:") {
                            event = v.trim().to_owned();
                        } else if let Some(v) = line.strip_prefix("id:") {
                            id = Some(v.trim().to_owned());
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        }
                    }
                    if data.is_empty() {
                        continue;
                    }
                    return SseEvent { event, id, data: serde_json::from_str(&data).expect("JSON data") };
                }
                match self.response.chunk().await.expect("the stream reads") {
                    Some(chunk) => self.buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8")),
                    None => panic!("the stream ended"),
                }
            }
        })
        .await
        .expect("waited 15 s in vain for an event")
    }

    /// The next event named `kind`, skipping others.
    pub async fn next_of(&mut self, kind: &str) -> SseEvent {
        loop {
            let e = self.next().await;
            if e.event == kind {
                return e;
            }
        }
    }

    /// Whether the server has ended the stream (reads what is left).
    /// Whether the server ends the stream within 15 s; what it sends before ending (a last
    /// `changed`, a keep-alive) does not matter.
    pub async fn ended(&mut self) -> bool {
        let until_end = async { while let Ok(Some(_)) = self.response.chunk().await {} };
        tokio::time::timeout(Duration::from_secs(15), until_end).await.is_ok()
    }
}

async fn comment(app_url: &str, token: &str, ticket: &Value, text: &str) {
    let r = reqwest::Client::new()
        .post(format!("{app_url}/api/v1/tickets/{}/comments", ticket["id"].as_str().unwrap()))
        .bearer_auth(token)
        .json(&json!({"body": text, "visibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "commenting");
}

/// The feed position once every event of `ticket` so far can be read (on PostgreSQL, once no
/// older transaction in the cluster still runs): a stream started there hears only what follows.
pub async fn settled_after(app: &TestApp, ticket: &Value) -> String {
    let total = app.events(&id(ticket)).await.len();
    let ticket_id = steward_domain::ids::TicketId::parse("id", &id(ticket)).unwrap();
    let operator = steward_domain::auth::Principal::operator();
    crate::helpers::eventually("the ticket's events to settle", || async {
        let scope = steward_services::live::LiveScope::Ticket(ticket_id);
        let batch = app.services.live_changes(&operator, scope, EventPosition::default()).await.unwrap();
        (batch.tickets.first().map(|c| c.events) == Some(total)).then(|| batch.position.to_string())
    })
    .await
}

fn changed_tickets(e: &SseEvent) -> Vec<String> {
    assert_eq!(e.event, "changed", "{e:?}");
    e.data["tickets"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
}

fn id(t: &Value) -> String {
    t["id"].as_str().unwrap().to_owned()
}

async fn a_change_by_the_api_shows_up_in_the_ticket_stream(app: TestApp) {
    let (agent, _) = ConsoleSession::person(&app, "Ada Agent", "ada@desk.test", "agent").await;
    let ticket = app.create_ticket(json!({"title": XSS, "customer": {"name": XSS}})).await;
    let other = app.create_ticket(json!({"title": "another"})).await;
    let number = ticket["number"].as_str().unwrap();
    let after = settled_after(&app, &ticket).await;
    let mut stream = Stream::open(&agent, &format!("/live?ticket={number}&after={after}"), None).await;
    let first = stream.next().await;
    assert_eq!((first.event.as_str(), &first.data["names"]), ("viewers", &json!([])), "first, who else is here: nobody");

    let before = app.events(&id(&ticket)).await.len();
    comment(&app.url(""), &app.token, &other, "elsewhere").await;
    comment(&app.url(""), &app.token, &ticket, "on it").await;
    let added = app.events(&id(&ticket)).await.len() - before;
    let e = stream.next_of("changed").await;
    assert_eq!(changed_tickets(&e), [id(&ticket)], "only this ticket's events reach its stream");
    assert_eq!(e.data["events"], added, "a commit's events arrive together");
    assert_eq!(e.data["tickets"][0]["number"], number);
    assert!(e.data["html"].as_str().unwrap().contains(&format!("This ticket changed: {added} new events.")), "{e:?}");
    let position = EventPosition::parse("id", &e.id.expect("each change carries its position")).unwrap();

    // The next change counts on.
    let r = app.transition(&id(&ticket), "needs_analysis").await;
    assert_eq!(r.status(), StatusCode::OK);
    let total = app.events(&id(&ticket)).await.len() - before;
    let e = stream.next_of("changed").await;
    assert_eq!(e.data["events"], total, "{e:?}");
    assert!(EventPosition::parse("id", &e.id.unwrap()).unwrap() > position, "positions grow");

    // The host page carries the panel the script fills; the typed title stays text.
    let html = agent.page(&format!("/live/tickets/{number}")).await;
    assert!(html.contains(&format!("data-live-ticket=\"{}\"", id(&ticket))), "{html}");
    assert!(!html.contains("<script>alert") && !html.contains("<img src=x"), "{html}");
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "{html}");
    // The ticket page and the queue carry the same panels, starting where they were rendered.
    let html = agent.page(&format!("/tickets/{number}")).await;
    assert!(html.contains(&format!("data-live-ticket=\"{}\" data-live-after=\"", id(&ticket))), "{html}");
    let html = agent.page("/queues").await;
    assert!(html.contains("data-live-queue=\"all\" data-live-after=\""), "{html}");

    // Bad requests say which field is wrong; an unknown ticket is not found.
    let r = agent.get("/live?ticket=nonsense").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(agent.get("/live?ticket=T-999999").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(agent.get("/live").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(agent.get("/live?queue=all&after=yesterday").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(agent.get("/live?queue=someone-elses").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Not signed in: sent to sign in, like every page.
    assert_eq!(ConsoleSession::anonymous(&app).get("/live?queue=all").await.status(), StatusCode::SEE_OTHER);
}

async fn a_stream_resumes_after_its_last_event_id(app: TestApp) {
    let (agent, _) = ConsoleSession::person(&app, "Ada Agent", "ada@desk.test", "agent").await;
    let a = app.create_ticket(json!({"title": "a"})).await;
    let mut stream = Stream::open(&agent, "/live?queue=all", None).await;
    let b = app.create_ticket(json!({"title": "b"})).await;
    let mut e = stream.next_of("changed").await;
    assert!(e.data["html"].as_str().unwrap().contains(&format!("{} tickets changed.", changed_tickets(&e).len())), "{e:?}");
    // A stream starts at the settled head: on SQLite that is now; on PostgreSQL, behind any
    // transaction still running in the cluster, so ticket a's creation just before may be heard
    // too (with b, or in an event of its own before b's).
    let mut first = changed_tickets(&e);
    while !first.contains(&id(&b)) {
        e = stream.next_of("changed").await;
        first.extend(changed_tickets(&e));
    }
    match app.backend {
        crate::helpers::Backend::Sqlite => assert_eq!(first, [id(&b)], "a stream starts now: ticket a's creation is before it"),
        crate::helpers::Backend::Postgres => assert!(first == [id(&b)] || first == [id(&a), id(&b)], "{first:?}"),
    }
    let seen = e.id.unwrap();
    drop(stream);

    // While no stream is open, two tickets change; resuming from the last id hears both, once.
    comment(&app.url(""), &app.token, &a, "while away").await;
    let c = app.create_ticket(json!({"title": "c"})).await;
    let mut resumed = Stream::open(&agent, "/live?queue=all", Some(&seen)).await;
    let mut heard = Vec::new();
    while heard.len() < 2 {
        heard.extend(changed_tickets(&resumed.next_of("changed").await));
    }
    assert_eq!(heard, [id(&a), id(&c)], "what changed after the last id, in commit order");

    let r = agent
        .client
        .get(agent.url("/live?queue=all"))
        .header("cookie", agent.cookie.clone().unwrap())
        .header("last-event-id", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Last-Event-ID"));
}

async fn a_partner_stream_never_carries_another_partners_ticket(app: TestApp) {
    let partner = |name: &str| {
        json!({"name": name, "kind": "subcontractor", "contact": "ops@partner.test", "categories": ["Hardware"],
            "contract": {"start": "2020-01-01T00:00:00Z", "first_response": "4h", "resolution": "2d"}})
    };
    let acme = body(app.post("/api/v1/partners", &partner(XSS)).await).await;
    let other = body(app.post("/api/v1/partners", &partner("Other")).await).await;
    let mine = app.create_ticket(json!({"title": "printer"})).await;
    let theirs = app.create_ticket(json!({"title": "router"})).await;
    let internal = app.create_ticket(json!({"title": "not delegated"})).await;
    for (ticket, partner) in [(&mine, &acme), (&theirs, &other)] {
        let r = app.post(&format!("/api/v1/tickets/{}/delegation", id(ticket)), &json!({"partner_id": partner["id"]})).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let staff = app.create_staff("Tech", "tech@acme.test", "agent").await;
    ConsoleSession::login_for(&app, &staff, json!({"partner_id": acme["id"]})).await;
    let mut tech = ConsoleSession::anonymous(&app);
    assert_eq!(tech.sign_in("tech@acme.test", crate::helpers::CONSOLE_PASSWORD).await.status(), StatusCode::SEE_OTHER);

    let mut queue = Stream::open(&tech, "/live?queue=all", None).await;
    comment(&app.url(""), &app.token, &theirs, "theirs").await;
    comment(&app.url(""), &app.token, &internal, "ours").await;
    comment(&app.url(""), &app.token, &mine, "for acme").await;
    let e = queue.next_of("changed").await;
    assert_eq!(changed_tickets(&e), [id(&mine)], "only the partner's own delegated ticket");

    // Another partner's ticket, and one not delegated, have no stream for it: not found.
    for t in [&theirs, &internal] {
        assert_eq!(tech.get(&format!("/live?ticket={}", id(t))).await.status(), StatusCode::NOT_FOUND);
    }
    // Its own ticket's stream ends when the delegation is withdrawn.
    let mut own = Stream::open(&tech, &format!("/live?ticket={}", id(&mine)), None).await;
    own.next_of("viewers").await;
    let r = app.request(reqwest::Method::DELETE, &format!("/api/v1/tickets/{}/delegation", id(&mine))).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert!(own.ended().await, "the stream of a ticket no longer delegated ends");
}

async fn also_viewing_lists_the_others_and_forgets_them(app: TestApp) {
    let (ada, _) = ConsoleSession::person(&app, "Ada Agent", "ada@desk.test", "agent").await;
    let (other, _) = ConsoleSession::person(&app, XSS, "xss@desk.test", "agent").await;
    let ticket = app.create_ticket(json!({"title": "shared"})).await;
    let path = format!("/live?ticket={}", id(&ticket));
    let mut mine = Stream::open(&ada, &path, None).await;
    assert_eq!(mine.next_of("viewers").await.data["names"], json!([]));

    let mut theirs = Stream::open(&other, &path, None).await;
    assert_eq!(theirs.next_of("viewers").await.data["names"], json!(["Ada Agent"]), "the newcomer sees who is here");
    let e = mine.next_of("viewers").await;
    assert_eq!(e.data["names"], json!([XSS]), "and is announced to them");
    let html = e.data["html"].as_str().unwrap();
    assert!(
        html.starts_with("Also viewing:") && html.contains("&#60;script&#62;") && !html.contains("<script>") && !html.contains("<img"),
        "{html}"
    );

    // The same person in a second tab is still one name, and not "also" to themselves.
    let mut second_tab = Stream::open(&ada, &path, None).await;
    assert_eq!(second_tab.next_of("viewers").await.data["names"], json!([XSS]));

    // Closing the page: the others hear it.
    drop(theirs);
    assert_eq!(mine.next_of("viewers").await.data["names"], json!([]), "a closed page is forgotten at once");

    // A viewer whose heartbeat stops (its node died) expires.
    let (gone, _) = ConsoleSession::person(&app, "Gone", "gone@desk.test", "agent").await;
    let principal = principal_of(&app, &gone).await;
    let ticket_id = steward_domain::ids::TicketId::parse("id", &id(&ticket)).unwrap();
    app.services.touch_presence(&principal, ticket_id, "a-stream-on-a-dead-node").await.unwrap();
    assert_eq!(mine.next_of("viewers").await.data["names"], json!(["Gone"]));
    app.services.advance_clock((steward_services::live::PRESENCE_EXPIRY + Duration::from_secs(1)).as_millis() as i64);
    comment(&app.url(""), &app.token, &ticket, "any change makes the streams look again").await;
    assert_eq!(mine.next_of("viewers").await.data["names"], json!([]), "not heard from within the expiry: gone");
}

async fn principal_of(app: &TestApp, session: &ConsoleSession) -> steward_domain::auth::Principal {
    let secret = session.cookie.as_ref().unwrap().split_once('=').unwrap().1.to_owned();
    app.services.session_principal(&secret).await.unwrap().expect("a live session").principal
}

/// Two nodes on one PostgreSQL database: node A serves the stream (its listener on), node B
/// takes the change (its notifier driven by the test). A notification lost while A's listener
/// is down is recovered by the resync after it reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_another_node_reaches_the_stream_and_a_lost_notification_loses_nothing() {
    let Some(app) = TestApp::spawn(crate::helpers::Backend::Postgres).await else {
        return crate::helpers::postgres_absent();
    };
    let node_a = app.node(|c| c.workers.live_feed = true).await;
    let node_b: &TestApp = &app;
    let (agent, _) = ConsoleSession::person(&app, "Ada Agent", "ada@desk.test", "agent").await;
    let on_a = agent.on(&node_a);
    let ticket = app.create_ticket(json!({"title": "two nodes"})).await;
    let after = settled_after(&app, &ticket).await;
    let mut stream = Stream::open(&on_a, &format!("/live?ticket={}&after={after}", id(&ticket)), None).await;
    stream.next_of("viewers").await;
    let before = app.events(&id(&ticket)).await.len();
    let added = || async { json!(app.events(&id(&ticket)).await.len() - before) };

    // B commits; B's notifier (driven here) tells A; A's stream hears it.
    comment(&node_b.url(""), &node_b.token, &ticket, "from node B").await;
    assert!(node_b.services.notify_changes().await.unwrap(), "B owed a notification");
    let e = stream.next_of("changed").await;
    assert_eq!((changed_tickets(&e), e.data["events"].clone()), (vec![id(&ticket)], added().await));
    assert!(!node_b.services.notify_changes().await.unwrap(), "one notification for one commit");

    // Two commits, one notification: coalesced, and both commits' events arrive.
    comment(&node_b.url(""), &node_b.token, &ticket, "second").await;
    comment(&node_b.url(""), &node_b.token, &ticket, "third").await;
    assert!(node_b.services.notify_changes().await.unwrap());
    let expected = added().await;
    while stream.next_of("changed").await.data["events"] != expected {}

    // A's listener loses its connection; B's notification meanwhile is lost. The listener
    // reconnects, hints a resync, and the event arrives all the same.
    let database = app.database_url.rsplit('/').next().unwrap().to_owned();
    let admin = std::env::var("STEWARD_TEST_POSTGRES_URL").unwrap();
    let killed = terminate_listeners(&admin, &database).await;
    assert_eq!(killed, 1, "node A's listener connection (B's notifier is off)");
    comment(&node_b.url(""), &node_b.token, &ticket, "while A was deaf").await;
    let _ = node_b.services.notify_changes().await;
    let expected = added().await;
    let e = stream.next_of("changed").await;
    assert_eq!(e.data["events"], expected, "nothing lost: {e:?}");
    drop(stream);
    node_a.stop().await;
}

async fn terminate_listeners(admin_url: &str, database: &str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin_url).await.expect("admin connection");
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%') t",
    )
    .bind(database)
    .fetch_one(&mut conn)
    .await
    .expect("terminate");
    conn.close().await.unwrap();
    killed
}
