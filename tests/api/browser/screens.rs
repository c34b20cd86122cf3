//! The supervision, partner, staff, training and administration screens in the browser: each
//! passes axe, and names typed with markup stay inert (no dialog, no injected element).

use super::harness::Browser;
use crate::console_screens::{create_partner, XSS};
use crate::helpers::{ConsoleSession, TestApp, CONSOLE_PASSWORD};
use serde_json::json;
use steward_console::texts::Lang;

/// Signs the browser in as a new person of `role` (named with markup).
pub(super) async fn sign_in_as(b: &Browser, app: &TestApp, email: &str, role: &str) {
    let staff = app.create_staff(XSS, email, role).await;
    ConsoleSession::login_for(app, &staff, json!({})).await;
    b.goto(&app.url("/sign-in")).await;
    b.type_into("#email", email).await;
    b.type_into("#password", CONSOLE_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_text(".who", "<script>").await;
}

pub(super) async fn ensure_inert(b: &Browser) {
    b.ensure_no_dialog().await;
    let injected = b.script("return document.querySelectorAll('main script, img[src=x]').length").await;
    b.ensure(injected == 0, "no element injected by a name").await;
}

/// Chooses `language` (`en`, `zh`) and `timezone` on the preferences page, which says so in
/// the language chosen.
pub(super) async fn prefer(b: &Browser, app: &TestApp, language: &str, timezone: &str) {
    b.goto(&app.url("/preferences")).await;
    b.wait_text("h1", "Preferences").await;
    b.ensure_accessible("the preferences").await;
    match b.client.find(fantoccini::Locator::Css("#pref-language")).await {
        Ok(select) => select.select_by_value(language).await.unwrap(),
        Err(e) => b.fail(&format!("no language select: {e}")).await,
    }
    b.type_into("#pref-timezone", timezone).await;
    b.click("form.card button[type=submit]").await;
    let lang = if language == "zh" { Lang::Zh } else { Lang::En };
    b.wait_text("main p[role=status]", lang.texts().pref_saved).await;
}

pub(super) async fn sign_out(b: &Browser) {
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
    b.click("a[href='/improvements']").await;
    b.wait_text("h1", "Improvement actions").await;
    ensure_inert(b).await;
    b.ensure_accessible("the improvement actions with their form").await;
    b.click("a[href='/partners']").await;
    b.wait_text("h1", "Partners").await;
    ensure_inert(b).await;
    b.ensure_accessible("the partners list").await;
    b.click("#partners a[href^='/partners/']").await;
    b.wait_text("#unrated", "Unrated").await;
    ensure_inert(b).await;
    b.ensure_accessible("a partner's page").await;
    sign_out(b).await;
}

pub async fn an_admin_manages_logins_and_tokens(b: &Browser, app: &TestApp) {
    app.create_staff(XSS, "newcomer@desk.test", "agent").await;
    sign_in_as(b, app, "root@desk.test", "admin").await;
    b.click("a[href='/admin']").await;
    b.wait_text("h1", "Administration").await;
    b.ensure_accessible("the administration overview").await;
    b.click("a[href='/admin/logins']").await;
    b.wait_text("h1", "People and logins").await;
    ensure_inert(b).await;
    b.ensure_accessible("the logins screen").await;
    // Refused without a staff member: the message beside the field.
    b.click("#new-login-h + form button[type=submit]").await;
    b.wait_text("#staff_id-error", "Choose the staff member").await;
    b.ensure_accessible("the refused login form").await;
    b.script("const s = document.querySelector('#staff_id'); s.selectedIndex = 1; return true;").await;
    b.click("#new-login-h + form button[type=submit]").await;
    b.wait_text("main .message", "The login is created").await;
    b.click("form[action$='/link'] button").await;
    b.wait_text("#set-password-link", "/set-password/").await;
    ensure_inert(b).await;
    b.ensure_accessible("the issued set-password link").await;

    b.goto(&app.url("/admin/tokens")).await;
    b.wait_text("h1", "API tokens").await;
    b.type_into("#name", XSS).await;
    b.script("document.querySelector('#role').value = 'viewer'; return true;").await;
    b.click("#new-token-h + form button[type=submit]").await;
    b.wait_text("#token-secret", "stw_").await;
    ensure_inert(b).await;
    b.ensure_accessible("the created token's secret").await;
    b.goto(&app.url("/admin/plugins")).await;
    b.wait_text("h1", "Plugins").await;
    b.ensure_accessible("the plugins screen").await;
    let r = app
        .post("/api/v1/webhooks", &json!({"url": "http://127.0.0.1:9/hook", "event_kinds": ["created"], "secret": "0123456789abcdef"}))
        .await;
    let hook = crate::helpers::body(r).await;
    app.create_ticket(json!({"title": XSS})).await;
    app.deliver_webhooks().await;
    b.goto(&app.url("/admin/webhooks")).await;
    b.ensure_accessible("the webhooks screen").await;
    b.goto(&app.url(&format!("/admin/webhooks/{}", hook["id"].as_str().unwrap()))).await;
    b.wait_text("#deliveries", "created").await;
    ensure_inert(b).await;
    b.ensure_accessible("a webhook's delivery log").await;
    sign_out(b).await;
}
