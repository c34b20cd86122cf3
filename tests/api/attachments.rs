//! Attachments end to end: upload (multipart), list, metadata, download and delete over HTTP;
//! content stored once on the filesystem store; the caps (413 naming the file); the download's
//! headers; Chinese names; partner isolation; the timeline's events; the console's panel; and
//! the same round trip against a real S3-compatible server (s3s-fs).

use crate::helpers::{body, problem, problem_fields, Backend, ConsoleSession, TestApp};
use crate::on_both_backends;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use steward_services::config::BlobStoreKind;

on_both_backends!(
    attachments_round_trip_through_upload_list_download_and_delete,
    the_same_content_is_stored_once_and_removed_with_its_last_attachment,
    caps_refuse_oversized_files_and_full_tickets_with_413,
    downloads_are_attachments_never_rendered_as_html,
    chinese_file_names_survive_upload_listing_and_download,
    bad_uploads_are_refused_naming_the_part,
    partners_see_only_their_delegated_tickets_and_public_attachments,
    attachments_on_comments_name_the_comment_and_stay_private_when_it_is,
    the_console_lists_uploads_and_deletes_attachments,
    attachments_round_trip_through_a_real_s3_server,
);

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

/// A form as browsers send it: file names in UTF-8 as they are, not percent-encoded.
fn form() -> Form {
    Form::new().percent_encode_noop()
}

fn file(name: &str, bytes: &[u8]) -> Part {
    Part::bytes(bytes.to_vec()).file_name(name.to_owned())
}

async fn upload_as(app: &TestApp, token: &str, ticket: &str, form: Form) -> reqwest::Response {
    app.request_as(token, Method::POST, &format!("/api/v1/tickets/{ticket}/attachments")).multipart(form).send().await.expect("upload sent")
}

async fn upload(app: &TestApp, ticket: &str, form: Form) -> reqwest::Response {
    upload_as(app, &app.token, ticket, form).await
}

/// Uploads one file and returns its attachment.
async fn attach(app: &TestApp, ticket: &str, name: &str, bytes: &[u8]) -> Value {
    let r = upload(app, ticket, form().part("file", file(name, bytes))).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    body(r).await["items"][0].clone()
}

async fn listing(app: &TestApp, ticket: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/tickets/{ticket}/attachments")).await;
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await["items"].as_array().expect("items").clone()
}

/// Every file below `dir` (the blobs of a filesystem store, or of s3s-fs's bucket).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

fn blob_path(root: &Path, sha256: &str) -> PathBuf {
    root.join(&sha256[..2]).join(&sha256[2..4]).join(sha256)
}

async fn attachments_round_trip_through_upload_list_download_and_delete(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    let r = upload(&app, id, form().part("file", file("photo.png", PNG)).part("file", file("notes.txt", b"line one\nline two\n"))).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let added = body(r).await["items"].as_array().unwrap().clone();
    assert_eq!(added.len(), 2);
    assert_eq!(added[0]["file_name"], "photo.png");
    assert_eq!(added[0]["content_type"], "image/png", "sniffed from the bytes");
    assert_eq!(added[0]["size"], PNG.len());
    assert_eq!(added[1]["content_type"], "text/plain; charset=utf-8");
    assert_eq!(added[0]["added_by"]["name"], "test-admin");
    let listed = listing(&app, id).await;
    assert_eq!(listed.iter().map(|a| a["id"].clone()).collect::<Vec<_>>(), added.iter().map(|a| a["id"].clone()).collect::<Vec<_>>());

    let aid = added[0]["id"].as_str().unwrap();
    let meta = body(app.get(&format!("/api/v1/tickets/{id}/attachments/{aid}")).await).await;
    assert_eq!(meta["sha256"], added[0]["sha256"]);
    // By number as well as by id.
    let number = t["number"].as_str().unwrap();
    let r = app.get(meta["content_url"].as_str().unwrap().replace(id, number).as_str()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);

    let blob = blob_path(&app.attachments_dir, added[0]["sha256"].as_str().unwrap());
    assert_eq!(std::fs::read(&blob).unwrap(), PNG, "the filesystem store keeps it under ab/cd/<sha256>");
    let r = app.request(Method::DELETE, &format!("/api/v1/tickets/{id}/attachments/{aid}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(!blob.exists(), "no other attachment holds it: its bytes are gone");
    let left = listing(&app, id).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["file_name"], "notes.txt");
    problem(app.get(&format!("/api/v1/tickets/{id}/attachments/{aid}")).await, StatusCode::NOT_FOUND).await;
    problem(app.get(&format!("/api/v1/tickets/{id}/attachments/{aid}/content")).await, StatusCode::NOT_FOUND).await;
    problem(app.request(Method::DELETE, &format!("/api/v1/tickets/{id}/attachments/{aid}")).send().await.unwrap(), StatusCode::NOT_FOUND)
        .await;

    // The timeline tells it, with the data the webhooks carry.
    let events = app.events(id).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "attachment_added", "attachment_added", "attachment_deleted"]);
    assert_eq!(events[1]["data"]["attachment_id"], added[0]["id"]);
    assert_eq!(events[1]["data"]["content_type"], "image/png");
    assert_eq!(events[1]["data"]["visibility"], "public");
    assert_eq!(events[3]["data"], json!({"attachment_id": aid, "file_name": "photo.png", "visibility": "public"}));

    let metrics = app.scrape().await;
    assert!(metrics.contains("steward_attachments_stored_total{source=\"api\"} 2"), "{metrics}");
    let bytes = PNG.len() + 18;
    assert!(metrics.contains(&format!("steward_attachment_bytes_stored_total{{source=\"api\"}} {bytes}")));
    // A ticket that does not exist has no attachments to list or add.
    problem(app.get("/api/v1/tickets/T-999999/attachments").await, StatusCode::NOT_FOUND).await;
    problem(upload(&app, "T-999999", form().part("file", file("a.txt", b"a"))).await, StatusCode::NOT_FOUND).await;
}

async fn the_same_content_is_stored_once_and_removed_with_its_last_attachment(app: TestApp) {
    let a = app.create_ticket(json!({})).await;
    let b = app.create_ticket(json!({})).await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let report = b"%PDF-1.7\nthe same report\n";
    let first = attach(&app, a, "report.pdf", report).await;
    let second = attach(&app, a, "report (copy).pdf", report).await;
    let third = attach(&app, b, "rapport.pdf", report).await;
    assert_eq!(first["sha256"], third["sha256"]);
    assert_eq!(files_under(&app.attachments_dir), [blob_path(&app.attachments_dir, first["sha256"].as_str().unwrap())], "stored once");
    for (ticket, attachment) in [(a, &first), (b, &third)] {
        let r = app.request(Method::DELETE, &format!("/api/v1/tickets/{ticket}/attachments/{}", attachment["id"].as_str().unwrap())).send();
        assert_eq!(r.await.unwrap().status(), StatusCode::NO_CONTENT);
        assert_eq!(files_under(&app.attachments_dir).len(), 1, "another attachment still holds the content");
    }
    let r = app.get(&format!("/api/v1/tickets/{a}/attachments/{}/content", second["id"].as_str().unwrap())).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), report);
    let r = app.request(Method::DELETE, &format!("/api/v1/tickets/{a}/attachments/{}", second["id"].as_str().unwrap())).send();
    assert_eq!(r.await.unwrap().status(), StatusCode::NO_CONTENT);
    assert!(files_under(&app.attachments_dir).is_empty(), "the last attachment took the content with it");
    // Attached again, it is stored again.
    let again = attach(&app, b, "report.pdf", report).await;
    assert!(blob_path(&app.attachments_dir, again["sha256"].as_str().unwrap()).exists());
}

async fn caps_refuse_oversized_files_and_full_tickets_with_413(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |c| {
        c.attachments.max_file_bytes = 1000;
        c.attachments.max_ticket_bytes = 2500;
    })
    .await
    .unwrap();
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    let p = problem(upload(&app, id, form().part("file", file("big.bin", &[7u8; 1001]))).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(problem_fields(&p), ["file"]);
    assert_eq!(p["limit_bytes"], 1000);
    // The second file of an upload is named as such, and nothing of the upload is kept.
    let parts = form().part("file", file("ok.bin", &[1u8; 10])).part("file", file("big.bin", &[7u8; 5000]));
    let p = problem(upload(&app, id, parts).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(problem_fields(&p), ["file[1]"]);
    assert!(listing(&app, id).await.is_empty());

    attach(&app, id, "one.bin", &[1u8; 1000]).await;
    attach(&app, id, "two.bin", &[2u8; 1000]).await;
    let p = problem(upload(&app, id, form().part("file", file("three.bin", &[3u8; 600]))).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(problem_fields(&p), ["file"]);
    assert_eq!(p["limit_bytes"], 2500);
    assert!(p["detail"].as_str().unwrap().contains("2000"), "it says what the ticket holds: {p}");
    attach(&app, id, "three.bin", &[3u8; 500]).await;
    // A deleted attachment no longer counts.
    let first = listing(&app, id).await[0]["id"].as_str().unwrap().to_owned();
    let r = app.request(Method::DELETE, &format!("/api/v1/tickets/{id}/attachments/{first}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    attach(&app, id, "four.bin", &[4u8; 1000]).await;
    // Another ticket has its own allowance.
    let other = app.create_ticket(json!({})).await;
    attach(&app, other["id"].as_str().unwrap(), "one.bin", &[1u8; 1000]).await;
}

async fn downloads_are_attachments_never_rendered_as_html(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    let page = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>";
    let r = upload(&app, id, form().part("file", file("invoice.html", page).mime_str("text/html").unwrap())).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let a = body(r).await["items"][0].clone();
    assert_ne!(a["content_type"], "text/html", "the client's type is not taken");
    let r = app.get(a["content_url"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let headers = r.headers().clone();
    let content_type = headers["content-type"].to_str().unwrap();
    assert!(!content_type.contains("html"), "served as {content_type}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''invoice.html"), "{disposition}");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("sandbox"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), page);
    // Bytes nobody recognises go out as octet-stream.
    let exe = attach(&app, id, "setup.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00").await;
    let r = app.get(exe["content_url"].as_str().unwrap()).await;
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    // An SVG is text to us: never image/svg+xml, which a browser would run scripts in.
    let svg = attach(&app, id, "logo.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>").await;
    let r = app.get(svg["content_url"].as_str().unwrap()).await;
    assert!(!r.headers()["content-type"].to_str().unwrap().contains("svg"));
}

async fn chinese_file_names_survive_upload_listing_and_download(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    let name = "打印机故障报告（第二版）.txt";
    let a = attach(&app, id, name, "打印机又坏了。\n".as_bytes()).await;
    assert_eq!(a["file_name"], name);
    assert_eq!(listing(&app, id).await[0]["file_name"], name);
    let r = app.get(a["content_url"].as_str().unwrap()).await;
    let disposition = r.headers()["content-disposition"].to_str().unwrap().to_owned();
    let encoded = disposition.split("filename*=UTF-8''").nth(1).expect("an RFC 8187 name");
    let decoded = percent_decode(encoded);
    assert_eq!(decoded, name);
    assert_eq!(String::from_utf8(r.bytes().await.unwrap().to_vec()).unwrap(), "打印机又坏了。\n");
    let events = app.events(id).await;
    assert_eq!(events.last().unwrap()["data"]["file_name"], name);
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

async fn bad_uploads_are_refused_naming_the_part(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    let p = problem(upload(&app, id, form().part("file", file("empty.txt", b""))).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["file"]);
    // A path, and a name past the cap (the domain's tests cover the rest of the rule).
    for bad in ["../etc/passwd".to_owned(), format!("{}.txt", "名".repeat(200))] {
        let p = problem(upload(&app, id, form().part("file", file(&bad, b"x"))).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem_fields(&p), ["file"], "{bad}");
    }
    let p = problem(upload(&app, id, form().text("comment", "")).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["file"]);
    let parts = form().part("file", file("a.txt", b"a")).text("colour", "blue");
    let p = problem(upload(&app, id, parts).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["colour"]);
    let p = problem(
        upload(&app, id, form().part("file", file("a.txt", b"a")).text("comment", "first")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem_fields(&p), ["comment"]);
    // A comment that is not one of this ticket's comments.
    let p = problem(upload(&app, id, form().part("file", file("a.txt", b"a")).text("comment", "1")).await, StatusCode::NOT_FOUND).await;
    assert_eq!(problem_fields(&p), ["comment"]);
    // Not multipart at all.
    let r = app.post(&format!("/api/v1/tickets/{id}/attachments"), &json!({"file": "a"})).await;
    problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert!(listing(&app, id).await.is_empty());
    // A viewer may read but not attach.
    let viewer = app.token_with_role("viewer").await;
    problem(upload_as(&app, &viewer, id, form().part("file", file("a.txt", b"a"))).await, StatusCode::FORBIDDEN).await;
}

async fn partners_see_only_their_delegated_tickets_and_public_attachments(app: TestApp) {
    let r = app
        .post(
            "/api/v1/partners",
            &json!({"name": "Northwind", "kind": "subcontractor", "contact": "ops@northwind.test", "categories": ["Hardware"],
                    "contract": {"start": "2020-01-01T00:00:00Z", "first_response": "4h", "resolution": "2d"}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let partner = body(r).await;
    let r = app.post("/api/v1/tokens", &json!({"name": "northwind", "role": "partner", "partner_id": partner["id"]})).await;
    let token = body(r).await["token"].as_str().unwrap().to_owned();
    let theirs = app.create_ticket(json!({})).await;
    let other = app.create_ticket(json!({})).await;
    let (theirs, other) = (theirs["id"].as_str().unwrap(), other["id"].as_str().unwrap());
    let r = app.post(&format!("/api/v1/tickets/{theirs}/delegation"), &json!({"partner_id": partner["id"]})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let staff_file = attach(&app, theirs, "diagnosis.txt", b"fan broken").await;
    let hidden = attach(&app, other, "contract.pdf", b"%PDF-1.4 secret").await;

    // Another ticket does not exist for the partner, nor do its attachments.
    let get = |path: String| app.request_as(&token, Method::GET, &path).send();
    problem(get(format!("/api/v1/tickets/{other}/attachments")).await.unwrap(), StatusCode::NOT_FOUND).await;
    let path = format!("/api/v1/tickets/{other}/attachments/{}/content", hidden["id"].as_str().unwrap());
    problem(get(path).await.unwrap(), StatusCode::NOT_FOUND).await;
    problem(upload_as(&app, &token, other, form().part("file", file("a.txt", b"a"))).await, StatusCode::NOT_FOUND).await;
    // Its own delegated ticket it reads and works.
    let r = get(format!("/api/v1/tickets/{theirs}/attachments")).await.unwrap();
    assert_eq!(body(r).await["items"].as_array().unwrap().len(), 1);
    let r = upload_as(&app, &token, theirs, form().part("file", file("repair.jpg", b"\xff\xd8\xff\xe0 photo"))).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let mine = body(r).await["items"][0].clone();
    // It deletes what it attached, not what staff attached.
    let delete = |aid: &str| app.request_as(&token, Method::DELETE, &format!("/api/v1/tickets/{theirs}/attachments/{aid}")).send();
    problem(delete(staff_file["id"].as_str().unwrap()).await.unwrap(), StatusCode::FORBIDDEN).await;
    assert_eq!(delete(mine["id"].as_str().unwrap()).await.unwrap().status(), StatusCode::NO_CONTENT);
}

async fn attachments_on_comments_name_the_comment_and_stay_private_when_it_is(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    let r = app.post(&format!("/api/v1/tickets/{id}/comments"), &json!({"body": "see the log", "visibility": "internal"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let seq = app.events(id).await.iter().find(|e| e["kind"] == "comment_added").unwrap()["seq"].clone();
    let r = upload(&app, id, form().part("file", file("log.txt", b"kernel panic")).text("comment", seq.to_string())).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let a = body(r).await["items"][0].clone();
    assert_eq!(a["comment_seq"], seq);
    assert_eq!(a["visibility"], "internal");
    // Not a comment: the creation event.
    let p = problem(upload(&app, id, form().part("file", file("a.txt", b"a")).text("comment", "1")).await, StatusCode::NOT_FOUND).await;
    assert_eq!(problem_fields(&p), ["comment"]);

    // A partner on the ticket sees neither the internal comment's file nor its event.
    let partner = body(
        app.post(
            "/api/v1/partners",
            &json!({"name": "Contoso", "kind": "subcontractor", "contact": "ops@contoso.test", "categories": ["Hardware"],
                    "contract": {"start": "2020-01-01T00:00:00Z", "first_response": "4h", "resolution": "2d"}}),
        )
        .await,
    )
    .await;
    let token = body(app.post("/api/v1/tokens", &json!({"name": "contoso", "role": "partner", "partner_id": partner["id"]})).await).await
        ["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.post(&format!("/api/v1/tickets/{id}/delegation"), &json!({"partner_id": partner["id"]})).await.status(), StatusCode::OK);
    let r = app.request_as(&token, Method::GET, &format!("/api/v1/tickets/{id}/attachments")).send().await.unwrap();
    assert!(body(r).await["items"].as_array().unwrap().is_empty());
    let r = app.request_as(&token, Method::GET, &format!("/api/v1/tickets/{id}/attachments/{}", a["id"].as_str().unwrap())).send();
    problem(r.await.unwrap(), StatusCode::NOT_FOUND).await;
    let r = app.request_as(&token, Method::GET, &format!("/api/v1/tickets/{id}/events")).send().await.unwrap();
    let kinds: Vec<Value> = body(r).await["items"].as_array().unwrap().iter().map(|e| e["kind"].clone()).collect();
    assert!(!kinds.contains(&json!("attachment_added")), "{kinds:?}");
    // Nor may it attach to the internal comment.
    let r = upload_as(&app, &token, id, form().part("file", file("a.txt", b"a")).text("comment", seq.to_string())).await;
    assert_eq!(problem_fields(&problem(r, StatusCode::NOT_FOUND).await), ["comment"]);
}

async fn the_console_lists_uploads_and_deletes_attachments(app: TestApp) {
    let (agent, _) = ConsoleSession::person(&app, "Wang Fang", "wang@example.test", "agent").await;
    let t = app.create_ticket(json!({})).await;
    let number = t["number"].as_str().unwrap();
    attach(&app, t["id"].as_str().unwrap(), "现场照片.png", PNG).await;
    let page = agent.page(&format!("/tickets/{number}")).await;
    assert!(page.contains("现场照片.png"), "the panel lists the file");
    assert!(page.contains("enctype=\"multipart/form-data\""), "a form that works without JavaScript");
    // The upload form, posted as a browser posts it.
    let upload_path = format!("/tickets/{number}/attachments");
    let parts = form().part("file", file("日志.txt", "第一行\n".as_bytes()));
    assert_eq!(agent.post_multipart(&upload_path, parts, "same-origin").await.status(), StatusCode::SEE_OTHER);
    let listed = listing(&app, t["id"].as_str().unwrap()).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1]["file_name"], "日志.txt");
    // An empty file is refused beside the form.
    let r = agent.post_multipart(&upload_path, form().part("file", file("empty.txt", b"")), "same-origin").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("role=\"alert\""));
    // A cross-site post is refused before anything is read.
    let r = agent.post_multipart(&upload_path, form().part("file", file("evil.txt", b"x")), "cross-site").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(listing(&app, t["id"].as_str().unwrap()).await.len(), 2);
    // The download link answers the file as an attachment; the delete form removes it.
    let aid = listed[1]["id"].as_str().unwrap();
    let r = agent.get(&format!("/tickets/{number}/attachments/{aid}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-disposition"].to_str().unwrap().starts_with("attachment;"));
    let r = agent.post(&format!("/tickets/{number}/attachments/{aid}/delete"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(listing(&app, t["id"].as_str().unwrap()).await.len(), 1);
    let events = app.events(t["id"].as_str().unwrap()).await;
    assert_eq!(events.last().unwrap()["kind"], "attachment_deleted");
    assert_eq!(events.last().unwrap()["actor"]["name"], "Wang Fang");
}

/// An s3s-fs server on a free port over a temporary directory, stopped when dropped.
struct S3Server {
    child: std::process::Child,
    root: tempfile::TempDir,
    endpoint: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const S3_BUCKET: &str = "steward-test";
const S3_KEY_ID: &str = "steward-test-key";
const S3_SECRET: &str = "steward-test-secret-0123456789";

/// Starts s3s-fs, or answers None when it is not installed and not required (tests/run
/// installs it and then requires it; CI always requires it).
async fn start_s3s_fs() -> Option<S3Server> {
    let binary = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/test-tools/bin/s3s-fs"));
    if !binary.exists() {
        let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0");
        assert!(
            !(set("STEWARD_TEST_REQUIRE_S3") || set("CI")),
            "s3s-fs is required (STEWARD_TEST_REQUIRE_S3=1 or CI) but {} is missing: run tests/run, which installs it",
            binary.display()
        );
        eprintln!("skipped: s3s-fs is not installed at {}; tests/run installs it", binary.display());
        return None;
    }
    let root = tempfile::tempdir().expect("s3s-fs root");
    // A bucket of s3s-fs is a directory under its root.
    std::fs::create_dir(root.path().join(S3_BUCKET)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new(&binary)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", S3_KEY_ID, "--secret-key", S3_SECRET])
        .arg(root.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("s3s-fs starts");
    let server = S3Server { child, root, endpoint: format!("http://127.0.0.1:{port}") };
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "s3s-fs did not listen on {port}");
        // Waiting for a child process to listen, not for time to pass: nothing is asserted on it.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some(server)
}

async fn attachments_round_trip_through_a_real_s3_server(app: TestApp) {
    let backend: Backend = app.backend;
    drop(app);
    let Some(s3) = start_s3s_fs().await else { return };
    // The credentials come from the environment, under the names the config gives.
    std::env::set_var("STEWARD_TEST_S3_KEY_ID", S3_KEY_ID);
    std::env::set_var("STEWARD_TEST_S3_SECRET", S3_SECRET);
    let endpoint = s3.endpoint.clone();
    let app = TestApp::spawn_with(backend, |c| {
        c.attachments.store = BlobStoreKind::S3;
        c.attachments.s3.bucket = S3_BUCKET.into();
        c.attachments.s3.endpoint = Some(endpoint);
        c.attachments.s3.prefix = "tickets/".into();
        c.attachments.s3.access_key_id_env = "STEWARD_TEST_S3_KEY_ID".into();
        c.attachments.s3.secret_access_key_env = "STEWARD_TEST_S3_SECRET".into();
    })
    .await
    .unwrap();
    let a = app.create_ticket(json!({})).await;
    let b = app.create_ticket(json!({})).await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let photo = attach(&app, a, "机房照片.png", PNG).await;
    let copy = attach(&app, b, "copy.png", PNG).await;
    let sha = photo["sha256"].as_str().unwrap();
    let object = s3.root.path().join(S3_BUCKET).join("tickets").join(&sha[..2]).join(&sha[2..4]).join(sha);
    assert_eq!(std::fs::read(&object).unwrap(), PNG, "the object is in s3s-fs's directory under its key");
    let stored: Vec<PathBuf> = files_under(&s3.root.path().join(S3_BUCKET)).into_iter().filter(|p| p.ends_with(sha)).collect();
    assert_eq!(stored.len(), 1, "stored once for both tickets");
    assert!(files_under(&app.attachments_dir).is_empty(), "nothing on the local filesystem store");
    let r = app.get(photo["content_url"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
    for (ticket, attachment) in [(a, &photo), (b, &copy)] {
        let r = app.request(Method::DELETE, &format!("/api/v1/tickets/{ticket}/attachments/{}", attachment["id"].as_str().unwrap())).send();
        assert_eq!(r.await.unwrap().status(), StatusCode::NO_CONTENT);
    }
    assert!(!object.exists(), "the last delete removed the object");
    let r = app.get(&format!("/api/v1/tickets/{a}/events")).await;
    let kinds: Vec<Value> = body(r).await["items"].as_array().unwrap().iter().map(|e| e["kind"].clone()).collect();
    assert_eq!(kinds, [json!("created"), json!("attachment_added"), json!("attachment_deleted")]);
}
