//! The console's mail screens over HTTP, on both backends: the quarantine lists held messages
//! with their reasons in words; a message's page shows its headers and text escaped, never
//! its HTML, and offers the raw message as a download; Retry and Make a ticket go through the
//! services the API calls (303 on success, the refusal beside its form: 422 for a field, 409
//! once it is no longer quarantined); the outbox shows each mail's state and last error and
//! retries a failed one; the ticket page marks what arrived by mail and a bouncing contact.
//! Non-admins are refused every one.

use crate::console_screens::{assert_inert, XSS, XSS_ESCAPED};
use crate::helpers::{body, ConsoleSession, TestApp};
use crate::mail_inbound::{delivery_report, message, send, with_desk_address};
use crate::on_both_backends;
use crate::sla_admin_pages::{admin, after_id, location};
use crate::ticket_page::post_form;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};
use steward_console::texts::{self, Lang};
use steward_domain::mail_inbound::MailReason;
use steward_services::config::Config;
use steward_services::mail::MailWorker;

/// The desk's address, and a rate limit of two messages per sender, so that a third is held
/// back and an admin's retry imports it.
fn with_desk_and_rate_limit(config: &mut Config) {
    with_desk_address(config);
    config.mail.inbound.rate_limit_messages = 2;
}

on_both_backends!(
    config = crate::mail_pages::with_desk_and_rate_limit;
    held_mail_is_listed_read_escaped_and_downloaded_raw,
    an_admin_retries_held_mail_and_makes_a_ticket_of_it,
    the_ticket_page_marks_mail_and_a_bouncing_contact,
    the_conflict_view_marks_what_arrived_by_mail_meanwhile,
    non_admins_are_refused_the_mail_screens
);

/// A message without a From (quarantined: `missing_from`) whose subject and text carry markup,
/// with an HTML alternative that must never be rendered.
fn held_with_markup(message_id: &str) -> Vec<u8> {
    let body = format!(
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain: {XSS}\r\n\
         --b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p><b>Bold</b></p><script>alert(3)</script>\r\n--b--\r\n"
    );
    message(
        &[("Subject", XSS), ("Message-ID", message_id), ("MIME-Version", "1.0"), ("Content-Type", "multipart/alternative; boundary=\"b\"")],
        body.as_bytes(),
    )
}

fn plain(from: &str, subject: &str, message_id: &str, text: &str) -> Vec<u8> {
    message(&[("From", from), ("To", "support@example.org"), ("Subject", subject), ("Message-ID", message_id)], text.as_bytes())
}

async fn held_mail_is_listed_read_escaped_and_downloaded_raw(app: TestApp) {
    let en = texts::mail(Lang::En);
    let raw = held_with_markup("<markup@customer.example>");
    let receipt = send(&app, raw.clone()).await;
    assert_eq!(receipt["reason"], "missing_from");
    let id = receipt["id"].as_str().unwrap().to_owned();
    let admin = admin(&app).await;

    let html = admin.page("/admin").await;
    assert!(html.contains("href=\"/admin/mail\"") && html.contains("href=\"/admin/mail/outbox\""), "the overview links the mail screens");
    let html = admin.page("/admin/mail").await;
    assert_inert(&html);
    let row = after_id(&html, "quarantine").split("</tr>").nth(1).expect("the message's row");
    assert!(row.contains(en.reason_label(MailReason::MissingFrom)), "the reason in words: {row}");
    assert!(!row.contains("missing_from"), "never the reason's spelling: {row}");
    assert!(row.contains(en.no_sender) && row.contains(XSS_ESCAPED), "{row}");
    assert!(row.contains(&format!("href=\"/admin/mail/messages/{id}\"")), "{row}");

    let html = admin.page(&format!("/admin/mail/messages/{id}")).await;
    assert_inert(&html);
    assert!(!html.contains("<b>Bold</b>") && !html.contains("alert(3)</script>"), "the HTML part is never rendered");
    let headers = after_id(&html, "mail-headers");
    assert!(headers.contains("<th scope=\"row\">Subject</th>") && headers.contains(XSS_ESCAPED), "the header as received, escaped");
    assert!(after_id(&html, "mail-text").starts_with(&format!(">Plain: {XSS_ESCAPED}")), "the plain text, escaped");
    assert!(after_id(&html, "mail-facts").contains(en.reason_label(MailReason::MissingFrom)));

    // The raw message: the bytes as received, a download that is never shown inline.
    let r = admin.get(&format!("/admin/mail/messages/{id}/raw")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let disposition = r.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment;") && disposition.contains(".eml"), "{disposition}");
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/octet-stream");
    assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(r.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("sandbox"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), raw.as_slice(), "byte-identical");

    // An id that names no message, and one that is no id.
    assert_eq!(admin.get("/admin/mail/messages/01a20c6d-0000-7000-8000-000000000000").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(admin.get("/admin/mail/messages/nope/raw").await.status(), StatusCode::NOT_FOUND);

    // Keyset pages of 50: the 51st message is on the next page.
    for i in 0..50 {
        send(&app, message(&[("Subject", &format!("held {i}")), ("Message-ID", &format!("<held{i}@c>"))], b"x")).await;
    }
    let html = admin.page("/admin/mail").await;
    assert_eq!(after_id(&html, "quarantine").matches("<tr>").count(), 51, "the header row and 50 messages");
    let next_href = html.split("rel=\"next\"").next().unwrap().rsplit("href=\"").next().unwrap().split('"').next().unwrap().to_owned();
    let second = admin.page(&next_href.replace("&amp;", "&")).await;
    let rows = after_id(&second, "quarantine");
    assert_eq!(rows.matches("<tr>").count(), 2, "one more message: {rows}");
    assert!(!second.contains("rel=\"next\""), "no page after it");
    assert!(second.contains("href=\"/admin/mail\">First page"), "and a way back");
}

async fn an_admin_retries_held_mail_and_makes_a_ticket_of_it(app: TestApp) {
    let zh = texts::mail(Lang::Zh);
    // A third message within the window is held back; the admin's retry imports it.
    for i in 0..3 {
        send(&app, plain("chatty@customer.example", &format!("note {i}"), &format!("<n{i}@customer.example>"), "again")).await;
    }
    let admin = admin(&app).await;
    let html = admin.page("/admin/mail").await;
    let held = html.split("href=\"/admin/mail/messages/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let r = admin.post(&format!("/admin/mail/messages/{held}/retry"), &[]).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/admin/mail?done=imported".to_owned()));
    let html = admin.page("/admin/mail?done=imported").await;
    assert!(html.contains(texts::mail(Lang::En).imported) && html.contains("id=\"quarantine-empty\""), "{html}");
    let imported = body(app.get("/api/v1/mail/quarantine?limit=200").await).await;
    assert_eq!(imported["items"], json!([]));

    // Without a sender a retry holds it again: back to the message, which says why.
    let receipt = send(&app, message(&[("Subject", "Nobody"), ("Message-ID", "<nobody@c>")], b"Who sent this?")).await;
    let id = receipt["id"].as_str().unwrap().to_owned();
    let page = format!("/admin/mail/messages/{id}");
    let r = admin.post(&format!("{page}/retry"), &[]).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, format!("{page}?done=quarantined")));
    let html = admin.page(&format!("{page}?done=quarantined")).await;
    assert!(after_id(&html, "mail-notice").contains(texts::mail(Lang::En).quarantined_again));

    // Make a ticket: a title over the limit and a process that does not exist are refused
    // beside their inputs, the typed values kept (422).
    let long = "t".repeat(300);
    let r = admin
        .post(&format!("{page}/ticket"), &[("title", &long), ("customer_name", "Walk-in"), ("customer_contact", ""), ("process", "")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(after_id(&html, "title-error").contains("at most"), "{html}");
    assert!(html.contains(&format!("value=\"{long}\"")) && html.contains("value=\"Walk-in\""), "what was typed comes back");
    assert!(html.contains("id=\"ticket-error\""), "the form says it was refused");
    let r = admin.post(&format!("{page}/ticket"), &[("title", ""), ("customer_name", XSS), ("process", "nowhere")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert_inert(&html);
    assert!(after_id(&html, "process-error").contains("nowhere"), "{html}");
    assert!(html.contains(&format!("value=\"{XSS_ESCAPED}\"")));

    // In order: 303 to the new ticket, which the API reads as typed.
    let r = admin
        .post(
            &format!("{page}/ticket"),
            &[("title", ""), ("customer_name", "Walk-in"), ("customer_contact", "front@desk"), ("process", "general")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    let number = to.strip_prefix("/tickets/").expect("to the ticket's page").to_owned();
    let t = body(app.get(&format!("/api/v1/tickets/{number}")).await).await;
    assert_eq!(
        (t["title"].as_str(), t["description"].as_str(), t["customer"]["name"].as_str(), t["customer"]["contact"].as_str()),
        (Some("Nobody"), Some("Who sent this?"), Some("Walk-in"), Some("front@desk"))
    );
    assert_eq!((t["channel"].as_str(), t["process"].as_str()), (Some("email"), Some("general")));
    // The message names its ticket now, and neither form applies again (409, said in words).
    let html = admin.page(&page).await;
    assert!(after_id(&html, "mail-ticket").contains(&number), "the message links its ticket");
    assert!(!html.contains("id=\"retry-form\""), "no retry once imported");
    let r = admin.post(&format!("{page}/retry"), &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(after_id(&html, "retry-error").contains("it is imported"), "{html}");
    let r = admin.post(&format!("{page}/ticket"), &[("title", "again")]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("id=\"ticket-error\""));
    // In Chinese, the same refusal in Chinese words.
    let r = admin.post("/preferences", &[("language", "zh"), ("timezone", "Asia/Shanghai")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the preference is saved");
    let r = admin.post(&format!("{page}/retry"), &[]).await;
    let html = r.text().await.unwrap();
    assert!(
        after_id(&html, "retry-error")
            .contains(&zh.not_quarantined.replace("{state}", zh.state_label(steward_domain::mail_inbound::InboundMailState::Imported))),
        "{html}"
    );
}

async fn the_ticket_page_marks_mail_and_a_bouncing_contact(app: TestApp) {
    let tt = texts::ticket(Lang::En);
    let first = send(&app, plain("ann@customer.example", "VPN down", "<v1@customer.example>", "It is down.")).await;
    let ticket_id = first["ticket_id"].as_str().unwrap().to_owned();
    let t = body(app.get(&format!("/api/v1/tickets/{ticket_id}")).await).await;
    let number = t["number"].as_str().unwrap().to_owned();
    let r = app.post(&format!("/api/v1/tickets/{number}/comments"), &json!({"body": "On it.", "visibility": "public"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let reply =
        send(&app, plain("ann@customer.example", &format!("Re: [{number}] VPN down"), "<v2@customer.example>", "Still down.")).await;
    assert_eq!(reply["ticket_id"].as_str(), Some(ticket_id.as_str()));

    let admin = admin(&app).await;
    let html = admin.page(&format!("/tickets/{number}")).await;
    let events = app.events(&number).await;
    let marked = |kind: &str, nth: usize| -> bool {
        let e = events.iter().filter(|e| e["kind"] == kind).nth(nth).unwrap_or_else(|| panic!("no {kind} #{nth}"));
        let row = after_id(&html, &format!("event-{}", e["seq"]));
        row.split("</li>").next().unwrap().contains(&format!("<span class=\"by-email\">({})</span>", tt.by_email))
    };
    assert!(marked("created", 0), "the opening came by mail");
    assert!(!marked("comment_added", 0), "the staff reply did not");
    assert!(marked("comment_added", 1), "the customer's reply did");
    assert!(!html.contains("id=\"customer-bounce\""), "no bounce yet");

    let dsn = delivery_report("ann@customer.example");
    assert_eq!(send(&app, dsn).await["reason"], "delivery_report");
    let html = admin.page(&format!("/tickets/{number}")).await;
    let bounce = after_id(&html, "customer-bounce").split("</span>").next().unwrap();
    assert!(bounce.starts_with(">mail to ann@customer.example bounces since 20"), "{bounce}");
    // In Chinese, in Chinese words.
    let r = admin.post("/preferences", &[("language", "zh"), ("timezone", "Asia/Shanghai")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = admin.page(&format!("/tickets/{number}")).await;
    let zh = texts::ticket(Lang::Zh);
    let bounce = after_id(&html, "customer-bounce").split("</span>").next().unwrap();
    assert!(bounce.contains(zh.bounces.split("{contact}").next().unwrap()) && bounce.contains("CST"), "{bounce}");
    assert!(html.contains(&format!("({})", zh.by_email)));
}

async fn the_conflict_view_marks_what_arrived_by_mail_meanwhile(app: TestApp) {
    let tt = texts::ticket(Lang::En);
    let first = send(&app, plain("bo@customer.example", "Printer jams", "<p1@customer.example>", "It jams.")).await;
    let ticket_id = first["ticket_id"].as_str().unwrap().to_owned();
    let number = body(app.get(&format!("/api/v1/tickets/{ticket_id}")).await).await["number"].as_str().unwrap().to_owned();
    let admin = admin(&app).await;
    let base = format!("/tickets/{number}");
    let page = admin.page(&base).await;
    // While the page is open the customer's reply arrives by mail and an agent comments in the API.
    let reply =
        send(&app, plain("bo@customer.example", &format!("Re: [{number}] Printer jams"), "<p2@customer.example>", "Still jams.")).await;
    assert_eq!(reply["ticket_id"].as_str(), Some(ticket_id.as_str()));
    let r = app.post(&format!("/api/v1/tickets/{number}/comments"), &json!({"body": "Looking.", "visibility": "public"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = post_form(&admin, &page, &format!("{base}/priority"), &[("priority", "urgent")]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    let conflict = after_id(&html, "ticket-conflict").split("</section>").next().unwrap();
    let events = app.events(&number).await;
    let comments: Vec<&Value> = events.iter().filter(|e| e["kind"] == "comment_added").collect();
    assert_eq!(comments.len(), 2, "{events:?}");
    let marked = |e: &Value| {
        let row = after_id(conflict, &format!("event-{}", e["seq"])).split("</li>").next().unwrap();
        row.contains(&format!("<span class=\"by-email\">({})</span>", tt.by_email))
    };
    assert!(marked(comments[0]), "the customer's reply came by mail: {conflict}");
    assert!(!marked(comments[1]), "the agent's comment did not: {conflict}");
    let opening = events.iter().find(|e| e["kind"] == "created").unwrap();
    assert!(!conflict.contains(&format!("id=\"event-{}\"", opening["seq"])), "the opening was on the page already");
}

async fn non_admins_are_refused_the_mail_screens(app: TestApp) {
    let receipt = send(&app, message(&[("Subject", "Nobody"), ("Message-ID", "<nobody@c>")], b"Who?")).await;
    let id = receipt["id"].as_str().unwrap().to_owned();
    let (agent, _) = ConsoleSession::person(&app, "Alex Agent", "alex@desk.test", "agent").await;
    for path in [
        "/admin/mail".to_owned(),
        "/admin/mail/outbox".to_owned(),
        format!("/admin/mail/messages/{id}"),
        format!("/admin/mail/messages/{id}/raw"),
    ] {
        assert_eq!(agent.get(&path).await.status(), StatusCode::FORBIDDEN, "GET {path}");
    }
    for path in
        [format!("/admin/mail/messages/{id}/retry"), format!("/admin/mail/messages/{id}/ticket"), format!("/admin/mail/outbox/{id}/retry")]
    {
        assert_eq!(agent.post(&path, &[("title", "mine")]).await.status(), StatusCode::FORBIDDEN, "POST {path}");
    }
    let (supervisor, _) = ConsoleSession::person(&app, "Sue Supervisor", "sue@desk.test", "supervisor").await;
    assert_eq!(supervisor.get("/admin/mail").await.status(), StatusCode::FORBIDDEN);
    // Signed out: to the sign-in page; from another site: refused before anything runs.
    let stranger = ConsoleSession::anonymous(&app);
    let r = stranger.get("/admin/mail").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/sign-in?next="));
    let admin = admin(&app).await;
    let r = admin
        .client
        .post(admin.url(&format!("/admin/mail/messages/{id}/retry")))
        .header(header::COOKIE, admin.cookie.clone().unwrap())
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let still = body(app.get("/api/v1/mail/quarantine").await).await;
    assert_eq!(still["items"].as_array().unwrap().len(), 1, "nothing was retried");
    assert_eq!(still["items"][0]["attempts"], 1);
}

// ---- the outbox: a real SMTP port nobody listens on makes a mail fail ----

/// An app whose mail goes to a port on 127.0.0.1 where nothing listens, given up after one
/// attempt, and the mail worker whose pass the test runs.
async fn with_unreachable_smtp(backend: crate::helpers::Backend) -> Option<(TestApp, MailWorker)> {
    let mut config = None;
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().unwrap().port();
    let app = TestApp::spawn_with(backend, |c| {
        with_desk_address(c);
        c.mail.smtp.host = "127.0.0.1".into();
        c.mail.smtp.port = port;
        c.mail.smtp.tls = steward_services::config::SmtpTls::None;
        c.mail.smtp.timeout_ms = 2_000;
        c.mail.outbound.max_attempts = 1;
        config = Some(c.clone());
    })
    .await?;
    let worker = MailWorker::new(app.services.clone(), &config.expect("adjusted").mail).expect("mail worker");
    Some((app, worker))
}

/// Runs each listed outbox test (taking the app and its worker, [`with_unreachable_smtp`]) on
/// SQLite and on PostgreSQL.
macro_rules! outbox_on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod outbox {
            mod sqlite {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let (app, worker) =
                            crate::mail_pages::with_unreachable_smtp(crate::helpers::Backend::Sqlite).await.expect("sqlite");
                        crate::mail_pages::$name(app, worker).await;
                    }
                )+
            }
            mod postgres {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let Some((app, worker)) = crate::mail_pages::with_unreachable_smtp(crate::helpers::Backend::Postgres).await
                        else {
                            return crate::helpers::postgres_absent();
                        };
                        crate::mail_pages::$name(app, worker).await;
                    }
                )+
            }
        }
    };
}

outbox_on_both_backends!(
    the_outbox_shows_each_mails_state_and_error_and_retries_a_failed_one,
    the_outbox_is_filtered_by_state_in_english_and_chinese,
);

fn outbox_row<'a>(html: &'a str, id: &str) -> &'a str {
    after_id(html, &format!("mail-{id}")).split("</tr>").next().unwrap()
}

async fn outbox_items(app: &TestApp) -> Vec<Value> {
    body(app.get("/api/v1/mail/outbox").await).await["items"].as_array().expect("items").clone()
}

async fn the_outbox_shows_each_mails_state_and_error_and_retries_a_failed_one(app: TestApp, worker: MailWorker) {
    let en = texts::mail(Lang::En);
    let ticket = |title: &str| json!({"channel": "email", "title": title, "customer": {"name": "Ada", "contact": "ada@example.com"}});
    let first = app.create_ticket(ticket("Printer jammed")).await;
    assert_eq!(worker.send_due().await.unwrap(), 1, "the received mail is tried once and given up");
    app.create_ticket(ticket(XSS)).await;
    let items = outbox_items(&app).await;
    let (queued, failed) = (items[0]["id"].as_str().unwrap().to_owned(), items[1]["id"].as_str().unwrap().to_owned());
    assert_eq!((items[0]["state"].as_str(), items[1]["state"].as_str()), (Some("pending"), Some("failed")));

    let admin = admin(&app).await;
    let html = admin.page("/admin/mail/outbox").await;
    assert_inert(&html);
    let row = outbox_row(&html, &failed);
    assert!(row.contains(&format!("<td class=\"mail-state\">{}", en.failed)), "{row}");
    assert!(
        row.contains(en.kind_label(steward_domain::mail::NotificationKind::TicketReceived)) && row.contains("ada@example.com"),
        "{row}"
    );
    assert!(row.contains("could not be reached"), "the last attempt's error: {row}");
    assert!(row.contains(&format!(">{}</a>", first["number"].as_str().unwrap())), "the ticket's number: {row}");
    assert!(row.contains(&format!("action=\"/admin/mail/outbox/{failed}/retry\"")), "a failed mail offers Retry");
    let row = outbox_row(&html, &queued);
    assert!(row.contains(&format!("<td class=\"mail-state\">{}", en.queued)) && row.contains(XSS_ESCAPED), "{row}");
    assert!(!row.contains("/retry"), "a queued mail offers none: {row}");

    // Retry: 303 back, the mail waiting again with its failed attempt kept (retrying).
    let r = admin.post(&format!("/admin/mail/outbox/{failed}/retry"), &[]).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/admin/mail/outbox?done=retried".to_owned()));
    let html = admin.page("/admin/mail/outbox?done=retried").await;
    assert!(after_id(&html, "outbox-notice").contains(en.retry_queued));
    let row = outbox_row(&html, &failed);
    assert!(row.contains(&format!("<td class=\"mail-state\">{}", en.retrying)) && row.contains(en.next_attempt), "{row}");
    // A mail that is not failed is refused on the page (409); an unknown one is not found.
    let r = admin.post(&format!("/admin/mail/outbox/{queued}/retry"), &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(after_id(&r.text().await.unwrap(), "outbox-error").contains(en.retry_refused));
    let r = admin.post("/admin/mail/outbox/01a20c6d-0000-7000-8000-000000000000/retry", &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let states: Vec<Value> = outbox_items(&app).await.iter().map(|m| m["state"].clone()).collect();
    assert_eq!(states, [json!("pending"), json!("pending")]);
}

async fn the_outbox_is_filtered_by_state_in_english_and_chinese(app: TestApp, worker: MailWorker) {
    let ticket = |title: &str| json!({"channel": "email", "title": title, "customer": {"name": "Ada", "contact": "ada@example.com"}});
    app.create_ticket(ticket("Printer jammed")).await;
    assert_eq!(worker.send_due().await.unwrap(), 1, "the received mail is tried once and given up");
    app.create_ticket(ticket("Scanner offline")).await;
    let items = outbox_items(&app).await;
    let (queued, failed) = (items[0]["id"].as_str().unwrap().to_owned(), items[1]["id"].as_str().unwrap().to_owned());
    let shown = |html: &str, id: &str| html.contains(&format!("id=\"mail-{id}\""));
    let filter = |html: &str| after_id(html, "outbox-filter").split("</form>").next().unwrap().to_owned();

    let admin = admin(&app).await;
    let en = texts::mail(Lang::En);
    let html = admin.page("/admin/mail/outbox").await;
    assert!(shown(&html, &queued) && shown(&html, &failed), "any state: both");
    assert!(filter(&html).contains(&format!("<option value=\"\" selected>{}</option>", en.any_state)), "{}", filter(&html));
    let html = admin.page("/admin/mail/outbox?state=failed").await;
    assert!(shown(&html, &failed) && !shown(&html, &queued), "failed only");
    let form = filter(&html);
    assert!(form.contains(&format!("<option value=\"failed\" selected>{}</option>", en.failed)), "the choice is kept: {form}");
    assert!(form.contains(&format!("<option value=\"pending\">{}</option>", en.pending)), "{form}");
    assert!(html.contains(&format!("aria-label=\"{}\" id=\"outbox-filter\"", en.outbox_filter)), "the filter is named");
    let html = admin.page("/admin/mail/outbox?state=pending").await;
    assert!(shown(&html, &queued) && !shown(&html, &failed), "waiting mail only");
    let html = admin.page("/admin/mail/outbox?state=sent").await;
    assert!(after_id(&html, "outbox-empty").starts_with(&format!(">{}", en.outbox_none_in_state)), "nothing sent yet");
    // A state that does not exist shows every state, as the empty choice does.
    let html = admin.page("/admin/mail/outbox?state=lost").await;
    assert!(shown(&html, &queued) && shown(&html, &failed));

    let r = admin.post("/preferences", &[("language", "zh"), ("timezone", "Asia/Shanghai")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let zh = texts::mail(Lang::Zh);
    let html = admin.page("/admin/mail/outbox?state=pending").await;
    assert!(shown(&html, &queued) && !shown(&html, &failed));
    let form = filter(&html);
    assert!(html.contains(&format!("aria-label=\"{}\" id=\"outbox-filter\"", zh.outbox_filter)), "the filter is named");
    assert!(form.contains(&format!("<option value=\"pending\" selected>{}</option>", zh.pending)), "{form}");
    assert!(form.contains(zh.any_state) && form.contains(zh.show), "{form}");
    let html = admin.page("/admin/mail/outbox?state=sent").await;
    assert!(after_id(&html, "outbox-empty").starts_with(&format!(">{}", zh.outbox_none_in_state)));
}
