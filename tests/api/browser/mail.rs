//! The mail screens in the browser, in English and in Chinese: broken mail handed in through
//! `POST /api/v1/mail/inbound` is listed in the quarantine with its reason in the viewer's
//! words, read, retried (and held again), and turned into a ticket by hand, whose page marks
//! the opening as arriving by email and lists a file uploaded to it with its download. Each
//! screen passes axe.

use super::harness::Browser;
use super::screens::{ensure_inert, prefer, sign_in_as, sign_out};
use crate::helpers::{body, TestApp};
use crate::mail_inbound::{base64, message, send};
use reqwest::Method;
use serde_json::json;
use steward_console::texts::{self, Lang};
use steward_domain::mail_inbound::MailReason;

async fn in_chinese(b: &Browser, screen: &str) {
    let lang = b.script("return document.documentElement.lang").await;
    b.ensure(lang == json!("zh-Hans"), &format!("{screen} says it is Chinese: {lang}")).await;
    ensure_inert(b).await;
    b.ensure_accessible(screen).await;
}

pub async fn an_admin_works_the_quarantine_in_english_and_chinese(b: &Browser, app: &TestApp) {
    let (en, zh) = (texts::mail(Lang::En), texts::mail(Lang::Zh));
    let nobody = send(app, message(&[("Subject", "Printer on fire"), ("Message-ID", "<fire@browser.test>")], b"Nobody signed this.")).await;
    assert_eq!(nobody["reason"], "missing_from");
    let injected = format!("=?utf-8?B?{}?=", base64("你好\r\nBcc: everyone@example.org".as_bytes()));
    let chinese = message(
        &[
            ("From", "li@customer.example"),
            ("Subject", &injected),
            ("Message-ID", "<inject@browser.test>"),
            ("Content-Type", "text/plain; charset=utf-8"),
        ],
        "打印机坏了。".as_bytes(),
    );
    let chinese = send(app, chinese).await;
    assert_eq!(chinese["reason"], "header_injection");

    // In English: from the overview to the quarantine, the message, a retry, a ticket.
    sign_in_as(b, app, "mail@desk.test", "admin").await;
    b.click("a[href='/admin']").await;
    b.wait_text("h1", "Administration").await;
    b.click("a[href='/admin/mail']").await;
    b.wait_text("h1", en.quarantine).await;
    b.wait_text("#quarantine", en.reason_label(MailReason::MissingFrom)).await;
    b.wait_text("#quarantine", en.reason_label(MailReason::HeaderInjection)).await;
    ensure_inert(b).await;
    b.ensure_accessible("the mail quarantine").await;
    b.click(&format!("a[href='/admin/mail/messages/{}']", nobody["id"].as_str().unwrap())).await;
    b.wait_text("#mail-subject", "Printer on fire").await;
    b.wait_text("#mail-text", "Nobody signed this.").await;
    b.wait_text("#mail-headers", "Message-ID").await;
    b.ensure_accessible("a quarantined message").await;
    b.click("#retry-form button").await;
    b.wait_text("#mail-notice", en.quarantined_again).await;
    b.wait_text("#mail-facts", en.reason_label(MailReason::MissingFrom)).await;
    b.type_into("#customer_name", "Walk-in").await;
    b.click("#ticket-form button[type=submit]").await;
    b.wait_text(".ticket-header .customer-name", "Walk-in").await;
    b.wait_text(".ticket-title", "Printer on fire").await;
    let tt = texts::ticket(Lang::En);
    b.wait_text("#timeline .event:first-child .by-email", tt.by_email).await;

    // A file uploaded to it is listed in the attachments panel with its download.
    let number = b.text(".ticket-header .number").await;
    let form = reqwest::multipart::Form::new()
        .percent_encode_noop()
        .part("file", reqwest::multipart::Part::bytes(b"PDF? no, plain words".to_vec()).file_name("fire-report.txt"));
    let r = app.request(Method::POST, &format!("/api/v1/tickets/{number}/attachments")).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let attachment = body(r).await["items"][0].clone();
    b.goto(&app.url(&format!("/tickets/{number}"))).await;
    b.wait_text("#ticket-attachments", "fire-report.txt").await;
    let href = format!("/tickets/{number}/attachments/{}", attachment["id"].as_str().unwrap());
    let offered = b
        .script(&format!(
            "var a = document.querySelector('#ticket-attachments a[download][href=\"{href}\"]');\
             if (!a) return 'no download link';\
             return fetch(a.href).then(r => r.headers.get('content-disposition'));"
        ))
        .await;
    b.ensure(offered.as_str().is_some_and(|d| d.starts_with("attachment;")), &format!("the link downloads the file: {offered}")).await;
    b.ensure_accessible("the ticket made from a message, with its attachment").await;
    b.goto(&app.url("/admin/mail/outbox")).await;
    b.wait_text("h1", en.outbox).await;
    b.ensure_accessible("the outbox").await;

    // In Chinese: the reason in Chinese words, a retry held again, a ticket with its title.
    prefer(b, app, "zh", "Asia/Shanghai").await;
    b.goto(&app.url("/admin")).await;
    b.click("a[href='/admin/mail']").await;
    b.wait_text("h1", zh.quarantine).await;
    b.wait_text("#quarantine", zh.reason_label(MailReason::HeaderInjection)).await;
    in_chinese(b, "the mail quarantine in Chinese").await;
    b.click(&format!("a[href='/admin/mail/messages/{}']", chinese["id"].as_str().unwrap())).await;
    b.wait_text("#mail-facts", zh.reason_label(MailReason::HeaderInjection)).await;
    b.wait_text("#mail-text", "打印机坏了。").await;
    in_chinese(b, "a quarantined message in Chinese").await;
    b.click("#retry-form button").await;
    b.wait_text("#mail-notice", zh.quarantined_again).await;
    b.type_into("#title", "打印机坏了").await;
    b.click("#ticket-form button[type=submit]").await;
    b.wait_text(".ticket-title", "打印机坏了").await;
    b.wait_text(".ticket-header .customer-name", "li@customer.example").await;
    b.wait_text("#timeline .event:first-child .by-email", texts::ticket(Lang::Zh).by_email).await;
    in_chinese(b, "the ticket made from a message in Chinese").await;
    b.goto(&app.url("/admin/mail")).await;
    b.wait_text("#quarantine-empty", zh.quarantine_empty).await;
    b.goto(&app.url("/admin/mail/outbox")).await;
    b.wait_text("h1", zh.outbox).await;
    in_chinese(b, "the outbox in Chinese").await;
    sign_out(b).await;
}
