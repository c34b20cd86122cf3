//! Inbound mail end to end: messages handed in over HTTP (as `steward mailgate` does) become
//! tickets or customer comments, loops are ignored, broken mail is stored and quarantined with
//! its reason and can be retried or turned into a ticket by hand; the mailgate's exit codes;
//! IMAP import against a real dovecot.

use crate::helpers::{body, problem, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use steward_services::config::Config;

/// The desk's address set, as a deployment has it: its domain names our Message-IDs (loops,
/// threading). Mail it plans is queued, not sent: no worker runs here (see mail_channel).
pub(crate) fn with_desk_address(config: &mut Config) {
    config.mail.address = Some("support@example.org".into());
    config.mail.outbound.worker = false;
    config.mail.outbound.dir = "/nonexistent/steward-mail".into();
}

/// A message built from headers and a body (CRLF line ends).
pub(crate) fn message(headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut raw = Vec::new();
    for (name, value) in headers {
        raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(body);
    raw
}

fn plain(from: &str, subject: &str, message_id: &str, text: &str) -> Vec<u8> {
    message(&[("From", from), ("To", "support@example.org"), ("Subject", subject), ("Message-ID", message_id)], text.as_bytes())
}

/// RFC 2047 base64 words need base64; a small encoder keeps the fixtures built by code.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16) | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8) | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= chunk.len() { T[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

async fn send_as(app: &TestApp, token: &str, raw: Vec<u8>) -> reqwest::Response {
    app.request_as(token, Method::POST, "/api/v1/mail/inbound?source=mailgate")
        .header("content-type", "message/rfc822")
        .body(raw)
        .send()
        .await
        .expect("request sent")
}

/// Hands a message in with a mailgate token; returns the receipt (202 expected).
pub(crate) async fn send(app: &TestApp, raw: Vec<u8>) -> Value {
    let token = app.token_with_role("mailgate").await;
    let r = send_as(app, &token, raw).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    body(r).await
}

async fn ticket(app: &TestApp, id: &str) -> Value {
    let r = app.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await
}

async fn ticket_count(app: &TestApp) -> usize {
    body(app.get("/api/v1/tickets?limit=200").await).await["items"].as_array().unwrap().len()
}

async fn quarantine(app: &TestApp) -> Vec<Value> {
    let r = app.get("/api/v1/mail/quarantine?limit=200").await;
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await["items"].as_array().unwrap().clone()
}

fn customer_comments(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] == "comment_added" && e["data"]["from_customer"] == true)
        .map(|e| {
            assert_eq!(e["data"]["visibility"], "public");
            e["data"]["body"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// The journey: a customer mails in with a Chinese GBK subject and body and an
/// attachment (multipart/mixed), as `gbk_mail` builds it.
pub(crate) fn gbk_mail(message_id: &str, attachment: &[u8]) -> Vec<u8> {
    // "李雷" <li@customer.example>, subject "打印机坏了", body "请帮忙" — all in GBK.
    let name = format!("=?GBK?B?{}?= <li@customer.example>", base64(&[0xC0, 0xEE, 0xC0, 0xD7]));
    let subject = format!("=?GBK?B?{}?=", base64(&[0xB4, 0xF2, 0xD3, 0xA1, 0xBB, 0xFA, 0xBB, 0xB5, 0xC1, 0xCB]));
    let mut body = b"--b1\r\nContent-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".to_vec();
    body.extend_from_slice(&[0xC7, 0xEB, 0xB0, 0xEF, 0xC3, 0xA6]);
    body.extend_from_slice(b"\r\n--b1\r\nContent-Type: application/pdf; name=\"error-log.pdf\"\r\n");
    body.extend_from_slice(b"Content-Disposition: attachment; filename=\"error-log.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    for line in base64(attachment).as_bytes().chunks(76) {
        body.extend_from_slice(line);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--b1--\r\n");
    message(
        &[
            ("From", &name),
            ("To", "support@example.org"),
            ("Subject", &subject),
            ("Message-ID", message_id),
            ("MIME-Version", "1.0"),
            ("Content-Type", "multipart/mixed; boundary=\"b1\""),
        ],
        &body,
    )
}

/// A PDF's magic number, then every byte value: what goes in must come out unchanged.
pub(crate) fn attachment_bytes() -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.extend((0..=255u8).cycle().take(3000));
    bytes
}

async fn a_gbk_mail_opens_an_email_ticket_with_its_chinese_text(app: TestApp) {
    let raw = gbk_mail("<gbk-1@customer.example>", &attachment_bytes());
    let receipt = send(&app, raw).await;
    assert_eq!(receipt["state"], "imported", "{receipt}");
    assert_eq!(receipt["source"], "mailgate");
    assert_eq!(receipt["message_id"], "gbk-1@customer.example");
    assert_eq!(receipt["duplicate"], false);
    let t = ticket(&app, receipt["ticket_id"].as_str().unwrap()).await;
    assert_eq!(t["title"], "打印机坏了");
    assert_eq!(t["description"], "请帮忙");
    assert_eq!(t["channel"], "email");
    assert_eq!(t["customer"]["name"], "李雷");
    assert_eq!(t["customer"]["contact"], "li@customer.example");
    let events = app.events(t["id"].as_str().unwrap()).await;
    assert_eq!(events[0]["actor"]["kind"], "customer", "{events:?}");
    let metrics = app.scrape().await;
    assert!(metrics.contains("steward_mail_messages_total{outcome=\"imported\"} 1"), "{metrics}");
    assert!(metrics.contains("steward_mail_messages_total{outcome=\"received\"} 1"), "{metrics}");

    // The attachment is on the ticket (not on a comment), from the customer, and downloads
    // byte for byte as it was sent.
    let listed = body(app.get(&format!("/api/v1/tickets/{}/attachments", t["id"].as_str().unwrap())).await).await;
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{listed}");
    let a = &items[0];
    assert_eq!(
        (a["file_name"].as_str(), a["content_type"].as_str(), a["comment_seq"].as_i64()),
        (Some("error-log.pdf"), Some("application/pdf"), None),
        "{a}"
    );
    assert_eq!(a["size"], attachment_bytes().len());
    assert_eq!(a["added_by"]["kind"], "customer", "{a}");
    let r = app.get(a["content_url"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), attachment_bytes().as_slice());
    assert!(metrics.contains("steward_attachments_stored_total{source=\"mail\"} 1"), "{metrics}");
}

async fn replies_thread_by_message_id_and_by_subject_token(app: TestApp) {
    let first = send(&app, plain("Ann <ann@customer.example>", "VPN down", "<first@customer.example>", "The VPN is down.")).await;
    let ticket_id = first["ticket_id"].as_str().unwrap().to_owned();
    let number = ticket(&app, &ticket_id).await["number"].as_str().unwrap().to_owned();

    // 1. In-Reply-To naming a Message-ID of Steward's form for the ticket, quoted text trimmed.
    let ours = format!("<{ticket_id}.{}@example.org>", uuid::Uuid::now_v7());
    let reply = message(
        &[("From", "ann@customer.example"), ("Subject", "Re: VPN down"), ("Message-ID", "<r1@customer.example>"), ("In-Reply-To", &ours)],
        b"Still down.\r\n\r\nOn Mon, 1 Dec 2026, Support <support@example.org> wrote:\r\n> We are on it.\r\n",
    );
    let r1 = send(&app, reply).await;
    assert_eq!((r1["state"].as_str(), r1["ticket_id"].as_str()), (Some("imported"), Some(ticket_id.as_str())), "{r1}");
    // 2. References naming the customer's own first message, recorded for the ticket.
    let reply = message(
        &[
            ("From", "ann@customer.example"),
            ("Subject", "more"),
            ("Message-ID", "<r2@customer.example>"),
            ("References", "<first@customer.example>"),
        ],
        "发件人: Support\r\n".as_bytes(),
    );
    let r2 = send(&app, reply).await;
    assert_eq!(r2["ticket_id"].as_str(), Some(ticket_id.as_str()), "{r2}");
    // 3. Only the subject token.
    let r3 =
        send(&app, plain("ann@customer.example", &format!("回复: [{number}] VPN down"), "<r3@customer.example>", "谢谢，好了。")).await;
    assert_eq!(r3["ticket_id"].as_str(), Some(ticket_id.as_str()), "{r3}");
    // A token naming no ticket opens a new one.
    let r4 = send(&app, plain("bob@customer.example", "[T-999999] other", "<r4@customer.example>", "New problem.")).await;
    assert_ne!(r4["ticket_id"].as_str(), Some(ticket_id.as_str()));

    let comments = customer_comments(&app.events(&ticket_id).await);
    // A reply that is all quote keeps its text.
    assert_eq!(comments, ["Still down.", "发件人: Support", "谢谢，好了。"]);
    assert_eq!(ticket_count(&app).await, 2);
    let r = app.get(&format!("/api/v1/tickets/{ticket_id}/events?limit=200")).await;
    let events = body(r).await;
    let last = events["items"].as_array().unwrap().last().unwrap()["seq"].clone();
    assert_eq!(r3["event_seq"], last, "the message records the last event it wrote");
}

async fn a_customer_reply_reopens_a_resolved_ticket(app: TestApp) {
    let first = send(&app, plain("ann@customer.example", "Broken", "<b1@customer.example>", "It broke.")).await;
    let id = first["ticket_id"].as_str().unwrap().to_owned();
    let version = format!("\"{}\"", ticket(&app, &id).await["version"]);
    let r = app.patch(&format!("/api/v1/tickets/{id}"), Some(&version), &json!({"status": "resolved"})).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", body(r).await);
    let reply = message(
        &[
            ("From", "ann@customer.example"),
            ("Subject", "Re"),
            ("Message-ID", "<b2@customer.example>"),
            ("In-Reply-To", "<b1@customer.example>"),
        ],
        b"Broken again.",
    );
    let receipt = send(&app, reply).await;
    assert_eq!(receipt["state"], "imported");
    let t = ticket(&app, &id).await;
    assert_ne!(t["status"], "resolved", "{t}");
    assert_eq!(t["reopen_count"], 1);
}

async fn the_same_message_id_twice_makes_one_ticket(app: TestApp) {
    let raw = plain("ann@customer.example", "Once", "<once@customer.example>", "Only once.");
    let a = send(&app, raw.clone()).await;
    let b = send(&app, raw).await;
    assert_eq!(b["duplicate"], true);
    assert_eq!(a["id"], b["id"]);
    assert_eq!(a["ticket_id"], b["ticket_id"]);
    assert_eq!(ticket_count(&app).await, 1);
    assert_eq!(app.events(a["ticket_id"].as_str().unwrap()).await.iter().filter(|e| e["kind"] == "created").count(), 1);
}

async fn loops_are_stored_and_ignored(app: TestApp) {
    let cases = [
        (vec![("Auto-Submitted", "auto-replied")], "auto_submitted"),
        (vec![("Precedence", "bulk")], "bulk_precedence"),
        (vec![("Precedence", "list")], "bulk_precedence"),
        (vec![("Precedence", "junk")], "bulk_precedence"),
    ];
    for (i, (extra, reason)) in cases.into_iter().enumerate() {
        let id = format!("<loop-{i}@customer.example>");
        let mut headers = vec![("From", "bot@customer.example"), ("Subject", "Out of office"), ("Message-ID", id.as_str())];
        headers.extend(extra);
        let receipt = send(&app, message(&headers, b"I am away.")).await;
        assert_eq!((receipt["state"].as_str(), receipt["reason"].as_str()), (Some("ignored"), Some(reason)), "{receipt}");
        assert!(receipt["ticket_id"].is_null());
    }
    let ours = send(&app, plain("support@example.org", "Your ticket", "<x.y@example.org>", "Ours, back again.")).await;
    assert_eq!(ours["reason"], "own_message");
    assert_eq!(ticket_count(&app).await, 0);
}

/// A delivery-status notification (RFC 3464) saying mail to `recipient` failed for good.
pub(crate) fn delivery_report(recipient: &str) -> Vec<u8> {
    let report = format!(
        "--dsn\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
         --dsn\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.example\r\n\r\n\
         Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--dsn--\r\n"
    );
    message(
        &[
            ("From", "MAILER-DAEMON@mx.customer.example"),
            ("Subject", "Undelivered Mail Returned to Sender"),
            ("Message-ID", "<dsn-1@mx.customer.example>"),
            ("Auto-Submitted", "auto-replied"),
            ("MIME-Version", "1.0"),
            ("Content-Type", "multipart/report; report-type=delivery-status; boundary=\"dsn\""),
        ],
        report.as_bytes(),
    )
}

async fn a_delivery_report_marks_the_contact_bouncing(app: TestApp) {
    let first = send(&app, plain("gone@customer.example", "Hello", "<h@customer.example>", "Hi.")).await;
    let id = first["ticket_id"].as_str().unwrap().to_owned();
    assert!(ticket(&app, &id).await["customer"].get("bouncing_since").is_none());
    let dsn = delivery_report("Gone@customer.example");
    let receipt = send(&app, dsn).await;
    assert_eq!((receipt["state"].as_str(), receipt["reason"].as_str()), (Some("ignored"), Some("delivery_report")), "{receipt}");
    assert!(ticket(&app, &id).await["customer"]["bouncing_since"].is_string());
    assert_eq!(ticket_count(&app).await, 1);
}

async fn broken_mail_is_stored_and_quarantined_with_its_reason(app: TestApp) {
    let injected = format!("=?utf-8?B?{}?=", base64(b"Hello\r\nBcc: everyone@example.org"));
    let mut many_parts = String::new();
    for i in 0..10_000 {
        many_parts.push_str(&format!("--p\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"));
    }
    many_parts.push_str("--p--\r\n");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            message(
                &[("From", "a@customer.example"), ("Message-ID", "<mime@c>"), ("Content-Type", "multipart/mixed; boundary=\"never\"")],
                b"--never\r\nContent-Type: text/plain\r\n\r\nthe end never comes\r\n",
            ),
            "malformed_mime",
        ),
        (message(&[("Subject", "Who am I"), ("Message-ID", "<nofrom@c>")], b"No sender."), "missing_from"),
        (message(&[("From", "a@customer.example"), ("Subject", &injected), ("Message-ID", "<inject@c>")], b"Hi."), "header_injection"),
        (
            // Declared UTF-8, sent as GBK: a charset lie.
            message(
                &[
                    ("From", "a@customer.example"),
                    ("Subject", "lie"),
                    ("Message-ID", "<lie@c>"),
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Transfer-Encoding", "8bit"),
                ],
                &[0xC7, 0xEB, 0xB0, 0xEF, 0xC3, 0xA6],
            ),
            "charset_mismatch",
        ),
        (
            message(
                &[
                    ("From", "a@customer.example"),
                    ("Subject", "parts"),
                    ("Message-ID", "<parts@c>"),
                    ("Content-Type", "multipart/mixed; boundary=\"p\""),
                ],
                many_parts.as_bytes(),
            ),
            "too_many_parts",
        ),
    ];
    for (raw, reason) in cases {
        let size = raw.len();
        let receipt = send(&app, raw).await;
        assert_eq!((receipt["state"].as_str(), receipt["reason"].as_str()), (Some("quarantined"), Some(reason)), "{receipt}");
        assert_eq!(receipt["size_bytes"], size, "stored whole");
        assert!(receipt["detail"].is_string());
    }
    let listed: Vec<String> = quarantine(&app).await.iter().map(|m| m["reason"].as_str().unwrap().to_owned()).collect();
    assert_eq!(listed, ["malformed_mime", "missing_from", "header_injection", "charset_mismatch", "too_many_parts"]);
    assert_eq!(ticket_count(&app).await, 0);

    // 30 MB: over the 25 MiB cap, refused before it is stored, with a reason the MTA is told.
    let token = app.token_with_role("mailgate").await;
    let huge = plain("a@customer.example", "big", "<big@c>", &"x".repeat(30 * 1024 * 1024));
    // The server answers from the declared length and closes; the client may still be writing
    // the body then and see the connection close instead of the answer.
    let sent = app
        .request_as(&token, Method::POST, "/api/v1/mail/inbound?source=mailgate")
        .header("content-type", "message/rfc822")
        .body(huge)
        .send()
        .await;
    if let Ok(r) = sent {
        let p = problem(r, StatusCode::PAYLOAD_TOO_LARGE).await;
        assert_eq!(p["limit_bytes"], 25 * 1024 * 1024);
    }
    assert_eq!(quarantine(&app).await.len(), 5);
    app.workers.refresh_metrics().await;
    let metrics = app.scrape().await;
    assert!(metrics.contains("steward_mail_messages_total{outcome=\"refused\"} 1"), "{metrics}");
    assert!(metrics.contains("steward_mail_messages_total{outcome=\"quarantined\"} 5"), "{metrics}");
    assert!(metrics.contains("steward_mail_quarantine_size 5"), "{metrics}");
}

async fn bad_requests_name_what_is_wrong(app: TestApp) {
    let token = app.token_with_role("mailgate").await;
    let r = app
        .request_as(&token, Method::POST, "/api/v1/mail/inbound")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let r = app
        .request_as(&token, Method::POST, "/api/v1/mail/inbound?source=carrier-pigeon")
        .header("content-type", "message/rfc822")
        .body("From: a@b\r\n\r\nx")
        .send()
        .await
        .unwrap();
    let p = problem(r, StatusCode::BAD_REQUEST).await;
    assert_eq!(p["errors"][0]["field"], "source");
    // An agent may not hand in mail; a mailgate token may not read the quarantine.
    let agent = app.token_with_role("agent").await;
    problem(send_as(&app, &agent, b"From: a@b\r\n\r\nx".to_vec()).await, StatusCode::FORBIDDEN).await;
    let r = app.request_as(&token, Method::GET, "/api/v1/mail/quarantine").send().await.unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
    // A mailgate token is a token role only.
    let r = app.post("/api/v1/staff", &json!({"name": "Gate", "email": "gate@example.org", "role": "mailgate"})).await;
    assert_eq!(problem(r, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["field"], "role");
}

async fn quarantined_mail_is_retried_and_turned_into_a_ticket_by_hand(app: TestApp) {
    // The rate limit (2 per window here) quarantines the third message; an admin's retry
    // imports it.
    for i in 0..3 {
        send(&app, plain("chatty@customer.example", &format!("note {i}"), &format!("<n{i}@customer.example>"), "again")).await;
    }
    let held = quarantine(&app).await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["reason"], "rate_limited");
    let r = app.request(Method::POST, &format!("/api/v1/mail/quarantine/{}/retry", held[0]["id"].as_str().unwrap())).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let retried = body(r).await;
    assert_eq!(retried["state"], "imported", "{retried}");
    assert_eq!(retried["attempts"], 2);

    // Without a sender, a retry quarantines it again; by hand it becomes a ticket.
    let receipt = send(&app, message(&[("Subject", "Nobody"), ("Message-ID", "<nobody@c>")], b"Who sent this?")).await;
    let id = receipt["id"].as_str().unwrap().to_owned();
    let again = body(app.request(Method::POST, &format!("/api/v1/mail/quarantine/{id}/retry")).send().await.unwrap()).await;
    assert_eq!((again["state"].as_str(), again["reason"].as_str()), (Some("quarantined"), Some("missing_from")));
    let r = app
        .post(&format!("/api/v1/mail/quarantine/{id}/ticket"), &json!({"customer_name": "Walk-in", "customer_contact": "front@desk"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let t = body(r).await;
    assert_eq!(
        (t["title"].as_str(), t["description"].as_str(), t["customer"]["name"].as_str()),
        (Some("Nobody"), Some("Who sent this?"), Some("Walk-in"))
    );
    assert_eq!(t["channel"], "email");
    assert!(quarantine(&app).await.is_empty());
    // Once imported, it is neither retried nor imported twice.
    let r = app.request(Method::POST, &format!("/api/v1/mail/quarantine/{id}/retry")).send().await.unwrap();
    problem(r, StatusCode::CONFLICT).await;
    let r = app.post(&format!("/api/v1/mail/quarantine/{id}/ticket"), &json!({})).await;
    problem(r, StatusCode::CONFLICT).await;
}

/// A crash after the message was stored and before its import committed: the stored row is
/// imported once by the worker's pass, and a redelivery finds it imported.
async fn an_interrupted_import_is_finished_exactly_once(app: TestApp) {
    let raw = plain("ann@customer.example", "Crash", "<crash@customer.example>", "Stored, then the power went.");
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let bytes = match app.backend {
        crate::helpers::Backend::Sqlite => format!("X'{hex}'"),
        crate::helpers::Backend::Postgres => format!("'\\x{hex}'::bytea"),
    };
    app.exec(&format!(
        "INSERT INTO mail_messages (id, message_id, source, received_at, size, raw, sender, subject, state, attempts, updated_at) \
         VALUES ('{}', 'crash@customer.example', 'mailgate', 0, {}, {bytes}, 'ann@customer.example', 'Crash', 'received', 0, 0)",
        uuid::Uuid::now_v7(),
        raw.len()
    ))
    .await;
    assert_eq!(app.services.import_pending_mail().await.unwrap(), 1);
    assert_eq!(app.services.import_pending_mail().await.unwrap(), 0);
    let again = send(&app, raw).await;
    assert_eq!((again["state"].as_str(), again["duplicate"].as_bool()), (Some("imported"), Some(true)));
    assert_eq!(ticket_count(&app).await, 1);
}

crate::on_both_backends!(
    config = crate::mail_inbound::with_desk_address;
    a_gbk_mail_opens_an_email_ticket_with_its_chinese_text,
    replies_thread_by_message_id_and_by_subject_token,
    a_customer_reply_reopens_a_resolved_ticket,
    the_same_message_id_twice_makes_one_ticket,
    loops_are_stored_and_ignored,
    a_delivery_report_marks_the_contact_bouncing,
    broken_mail_is_stored_and_quarantined_with_its_reason,
    bad_requests_name_what_is_wrong,
    an_interrupted_import_is_finished_exactly_once,
);

mod rate_limited {
    use super::*;

    async fn spawn(backend: crate::helpers::Backend) -> Option<TestApp> {
        TestApp::spawn_with(backend, |c| {
            with_desk_address(c);
            c.mail.inbound.rate_limit_messages = 2;
        })
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        quarantined_mail_is_retried_and_turned_into_a_ticket_by_hand(spawn(crate::helpers::Backend::Sqlite).await.unwrap()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let Some(app) = spawn(crate::helpers::Backend::Postgres).await else {
            return crate::helpers::postgres_absent();
        };
        quarantined_mail_is_retried_and_turned_into_a_ticket_by_hand(app).await;
    }
}

pub(crate) mod imap;
mod mailgate;
mod owed_attachments;
