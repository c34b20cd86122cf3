//! A message's files are attached after its import commits; when that fails (here: the
//! attachment store's directory is a plain file, so nothing can be written under it — real
//! even for root) the import stands, its files are owed, and the pending-mail pass attaches
//! them from the raw message once the store works again: exactly once, however often and
//! however concurrently it runs. Files over a cap are refused once, not retried.

use super::{attachment_bytes, base64, message, send, with_desk_address};
use crate::helpers::{body, TestApp};
use reqwest::StatusCode;
use serde_json::Value;
use steward_services::config::Config;

crate::on_both_backends!(
    config = crate::mail_inbound::with_desk_address;
    files_left_owed_by_a_failing_store_are_attached_once_by_the_pending_pass,
);

mod capped {
    use super::*;

    crate::on_both_backends!(
        config = crate::mail_inbound::owed_attachments::with_a_small_file_cap;
        files_over_the_cap_are_refused_once_and_kept_in_the_raw_message,
    );
}

pub(crate) fn with_a_small_file_cap(config: &mut Config) {
    with_desk_address(config);
    config.attachments.max_file_bytes = 1000;
}

/// A multipart/mixed message: `text`, then `file` as an attachment named `name`.
fn with_file(headers: &[(&str, &str)], text: &str, name: &str, file: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--f1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--f1\r\nContent-Type: application/octet-stream; \
         name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    )
    .into_bytes();
    for line in base64(file).as_bytes().chunks(76) {
        body.extend_from_slice(line);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--f1--\r\n");
    let mut all = headers.to_vec();
    all.extend([("MIME-Version", "1.0"), ("Content-Type", "multipart/mixed; boundary=\"f1\"")]);
    message(&all, &body)
}

/// The headers of Ann's reply `message_id` to her first message, `<owed-1@customer.example>`.
fn reply_headers(message_id: &str) -> [(&'static str, &str); 4] {
    [
        ("From", "ann@customer.example"),
        ("Subject", "Re: Scanner jams"),
        ("Message-ID", message_id),
        ("References", "<owed-1@customer.example>"),
    ]
}

/// The attachment store made unwritable: its directory replaced by a plain file.
struct BrokenStore(std::path::PathBuf);

impl BrokenStore {
    fn break_it(app: &TestApp) -> BrokenStore {
        let dir = app.attachments_dir.clone();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::write(&dir, b"not a directory").expect("a file where the store's directory was");
        BrokenStore(dir)
    }

    fn mend(&self) {
        std::fs::remove_file(&self.0).expect("the file removed: the store makes its directory again");
    }
}

async fn attachments(app: &TestApp, ticket: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/tickets/{ticket}/attachments")).await;
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await["items"].as_array().expect("items").clone()
}

/// One pass after `retry_after_secs` has passed; how many messages it settled.
async fn pass_later(app: &TestApp) -> usize {
    app.services.advance_clock(61_000);
    app.services.import_pending_mail().await.expect("the pending-mail pass")
}

async fn files_left_owed_by_a_failing_store_are_attached_once_by_the_pending_pass(app: TestApp) {
    let store = BrokenStore::break_it(&app);
    let headers = [("From", "ann@customer.example"), ("Subject", "Scanner jams"), ("Message-ID", "<owed-1@customer.example>")];
    let first_raw = with_file(&headers, "It jams on every page.", "scan-log.pdf", &attachment_bytes());
    let first = send(&app, first_raw.clone()).await;
    assert_eq!((first["state"].as_str(), first["attachments"].as_str()), (Some("imported"), Some("owed")), "{first}");
    let ticket = first["ticket_id"].as_str().unwrap().to_owned();
    assert!(attachments(&app, &ticket).await.is_empty(), "the ticket stands without its file");
    // A reply with a file becomes a comment whose file is owed too.
    let reply =
        send(&app, with_file(&reply_headers("<owed-2@customer.example>"), "A photo of the jam.", "jam.txt", b"the second file")).await;
    assert_eq!((reply["ticket_id"].as_str(), reply["attachments"].as_str()), (Some(ticket.as_str()), Some("owed")), "{reply}");
    let comment_seq = reply["event_seq"].as_i64().expect("the comment's event");

    // Not before retry_after_secs (the import's own attempt has its chance); while the store
    // fails, they stay owed.
    assert_eq!(app.services.import_pending_mail().await.unwrap(), 0);
    assert_eq!(pass_later(&app).await, 0, "the store still fails: nothing settled");
    store.mend();
    assert_eq!(pass_later(&app).await, 2, "both messages' files attached");
    assert_eq!(pass_later(&app).await, 0, "and only once");

    let items = attachments(&app, &ticket).await;
    assert_eq!(items.len(), 2, "{items:?}");
    let on_ticket = items.iter().find(|a| a["file_name"] == "scan-log.pdf").expect("the first message's file");
    assert!(on_ticket["comment_seq"].is_null(), "on the ticket it opened: {on_ticket}");
    assert_eq!(on_ticket["added_by"]["kind"], "customer");
    let on_comment = items.iter().find(|a| a["file_name"] == "jam.txt").expect("the reply's file");
    assert_eq!(on_comment["comment_seq"].as_i64(), Some(comment_seq), "on the comment the reply became: {on_comment}");
    let comment = app.events(&ticket).await.into_iter().find(|e| e["seq"].as_i64() == Some(comment_seq)).expect("that event");
    assert_eq!((comment["kind"].as_str(), comment["data"]["from_customer"].as_bool()), (Some("comment_added"), Some(true)));
    let r = app.get(on_ticket["content_url"].as_str().unwrap()).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), attachment_bytes().as_slice(), "byte for byte from the raw message");

    // A redelivery finds the files attached and adds none.
    let again = send(&app, first_raw).await;
    assert_eq!((again["duplicate"].as_bool(), again["attachments"].as_str()), (Some(true), Some("attached")), "{again}");
    assert_eq!(attachments(&app, &ticket).await.len(), 2);

    // Two passes at once (two nodes) attach a third message's file once between them.
    let store = BrokenStore::break_it(&app);
    let third =
        send(&app, with_file(&reply_headers("<owed-3@customer.example>"), "And the error page.", "error.txt", b"the third file")).await;
    assert_eq!(third["attachments"], "owed", "{third}");
    store.mend();
    app.services.advance_clock(61_000);
    let (a, b) = tokio::join!(app.services.import_pending_mail(), app.services.import_pending_mail());
    assert_eq!(a.unwrap() + b.unwrap(), 1, "one pass attached it, the other found it attached");
    let names: Vec<_> = attachments(&app, &ticket).await.iter().map(|a| a["file_name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["scan-log.pdf", "jam.txt", "error.txt"]);
}

async fn files_over_the_cap_are_refused_once_and_kept_in_the_raw_message(app: TestApp) {
    let headers = [("From", "bo@customer.example"), ("Subject", "Big log"), ("Message-ID", "<big@customer.example>")];
    let receipt = send(&app, with_file(&headers, "The log is attached.", "big.pdf", &attachment_bytes())).await;
    assert_eq!((receipt["state"].as_str(), receipt["attachments"].as_str()), (Some("imported"), Some("refused")), "{receipt}");
    let detail = receipt["detail"].as_str().expect("why");
    assert!(detail.contains("at most 1000 bytes"), "{detail}");
    assert_eq!(pass_later(&app).await, 0, "a refusal is not retried");
    assert!(attachments(&app, receipt["ticket_id"].as_str().unwrap()).await.is_empty());
}
