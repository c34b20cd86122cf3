//! The supervision, partner, staff, training and administration screens in the browser: each
//! passes axe, and names typed with markup stay inert (no dialog, no injected element).

use super::harness::Browser;
use crate::console_screens::{create_partner, XSS};
use crate::helpers::{ConsoleSession, TestApp, CONSOLE_PASSWORD};
use serde_json::json;

/// Signs the browser in as a new person of `role` (named with markup).
async fn sign_in_as(b: &Browser, app: &TestApp, email: &str, role: &str) {
    let staff = app.create_staff(XSS, email, role).await;
    ConsoleSession::login_for(app, &staff, json!({})).await;
    b.goto(&app.url("/sign-in")).await;
    b.type_into("#email", email).await;
    b.type_into("#password", CONSOLE_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_text(".who", "<script>").await;
}

async fn ensure_inert(b: &Browser) {
    b.ensure_no_dialog().await;
    let injected = b.script("return document.querySelectorAll('main script, img[src=x]').length").await;
    b.ensure(injected == 0, "no element injected by a name").await;
}

async fn sign_out(b: &Browser) {
    b.click(".sign-out button").await;
    b.wait_text("main .message", "You have signed out.").await;
}

pub async fn a_supervisor_reads_supervision_and_the_review(b: &Browser, app: &TestApp) {
    let partner = create_partner(app, XSS).await;
    let t = app.create_ticket(json!({"title": XSS, "customer": {"name": XSS}})).await;
    app.post(&format!("/api/v1/tickets/{}/delegation", t["id"].as_str().unwrap()), &json!({"partner_id": partner["id"]})).await;
    sign_in_as(b, app, "boss@desk.test", "supervisor").await;
    b.click("a[href='/supervision']").await;
    b.wait_text("h1", "Supervision").await;
    ensure_inert(b).await;
    b.ensure_accessible("the supervision screen").await;
    b.click("a[href^='/supervision/review']").await;
    b.wait_text("h1", "Monthly service review").await;
    ensure_inert(b).await;
    b.ensure_accessible("the monthly review").await;
    sign_out(b).await;
}
