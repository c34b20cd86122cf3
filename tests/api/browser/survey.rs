//! The customer's survey page, and typed markup staying inert, in the browser.

use super::harness::Browser;
use crate::helpers::TestApp;
use reqwest::StatusCode;
use serde_json::json;

const XSS: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";

/// Opens and resolves a ticket; returns its survey page's URL.
async fn survey_url(app: &TestApp, title: &str, customer: &str) -> String {
    let t = app.create_ticket(json!({"title": title, "customer": {"name": customer}})).await;
    let id = t["id"].as_str().unwrap();
    let r = app.patch(&format!("/api/v1/tickets/{id}"), Some("\"1\""), &json!({"status": "resolved"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let events = app.events(id).await;
    let api = events.iter().find(|e| e["kind"] == "survey_issued").unwrap()["data"]["survey_url"].as_str().unwrap().to_owned();
    app.url(&format!("/survey/{}", api.rsplit('/').next().unwrap()))
}

pub async fn the_customer_answers_the_survey_on_its_page(b: &Browser, app: &TestApp) {
    let url = survey_url(app, "Router down", "ACME Ltd").await;
    b.goto(&url).await;
    b.ensure(b.text("h1").await == "How did we do?", "the survey's heading").await;
    b.ensure(b.text(".ticket-title").await == "Router down", "the ticket's title").await;
    b.ensure_accessible("the survey form").await;
    // Without a score the browser's own check stops nothing (novalidate): the server refuses
    // and says why, keeping the comment.
    b.type_into("#comment", "Quick and kind").await;
    b.click("button[type=submit]").await;
    b.wait_text("#score-error", "choose a score").await;
    let kept = b.script("return document.querySelector('#comment').value").await;
    b.ensure(kept == "Quick and kind", "the comment survives the refusal").await;
    b.ensure_accessible("the refused survey form").await;
    b.click("input[name=score][value='5']").await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "Thank you").await;
    b.ensure_accessible("the thanks page").await;
    b.goto(&url).await;
    b.wait_text("h1", "Already answered").await;
    let forms = b.script("return document.forms.length").await;
    b.ensure(forms == 0, "no form once answered").await;
}

pub async fn typed_markup_stays_inert(b: &Browser, app: &TestApp) {
    let url = survey_url(app, XSS, XSS).await;
    b.goto(&url).await;
    b.ensure_no_dialog().await;
    let injected = b.script("return document.querySelectorAll('main script, main img, img[src=x]').length").await;
    b.ensure(injected == 0, "no element injected by the title").await;
    b.ensure(b.text(".ticket-title").await == XSS, "the title shown as typed").await;
    b.goto(&app.url("/")).await;
    b.ensure_accessible("the front page").await;
}
