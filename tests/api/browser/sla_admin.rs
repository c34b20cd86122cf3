//! The SLA policy, calendar and process screens in the browser: a refused form shows its
//! message beside the field, the corrected form saves, each screen passes axe, and names typed
//! with markup stay inert.

use super::harness::Browser;
use super::screens::{ensure_inert, sign_in_as, sign_out};
use crate::console_screens::XSS;
use crate::helpers::TestApp;

/// Sets an input's value outright (typing would add to what the form already holds).
async fn set_value(b: &Browser, css: &str, value: &str) {
    let js = format!("document.querySelector({}).value = {}; return true;", serde_json::json!(css), serde_json::json!(value));
    b.script(&js).await;
}

pub async fn an_admin_manages_sla_policies_calendars_and_reads_processes(b: &Browser, app: &TestApp) {
    sign_in_as(b, app, "sla@desk.test", "admin").await;
    b.click("a[href='/admin']").await;
    b.wait_text("h1", "Administration").await;
    b.click("a[href='/admin/sla-policies']").await;
    b.wait_text("h1", "SLA policies").await;
    b.wait_text("#policies", "Standard service").await;
    b.ensure_accessible("the SLA policies screen").await;

    b.type_into("#key", "after-hours").await;
    b.type_into("#name", XSS).await;
    b.click("input[name=channels][value=phone]").await;
    b.type_into("#first_response", "10m").await;
    b.type_into("#resolution", "a day").await;
    b.type_into("#escalation-1-percent", "100").await;
    b.click("#policy-form button[type=submit]").await;
    b.wait_text("#resolution-error", "a day").await;
    ensure_inert(b).await;
    b.ensure_accessible("the refused policy form").await;
    set_value(b, "#resolution", "1d").await;
    b.click("#policy-form button[type=submit]").await;
    b.wait_text("main .message", "Created.").await;
    b.wait_text("#policy", "100 % → supervisor").await;
    ensure_inert(b).await;
    b.ensure_accessible("an SLA policy's page").await;

    b.goto(&app.url("/admin/calendars")).await;
    b.wait_text("h1", "Business calendars").await;
    b.wait_text("#calendars", "Support desk hours").await;
    b.ensure_accessible("the calendars screen").await;
    b.type_into("#key", "night").await;
    b.type_into("#name", XSS).await;
    set_value(b, "#timezone", "Asia/Shanghai").await;
    set_value(b, "#hours_mon", "18:00-09:00").await;
    b.click("#calendar-form button[type=submit]").await;
    b.wait_text("#hours_mon-error", "ends before it starts").await;
    ensure_inert(b).await;
    b.ensure_accessible("the refused calendar form").await;
    set_value(b, "#hours_mon", "18:00-24:00").await;
    b.click("#calendar-form button[type=submit]").await;
    b.wait_text("main .message", "Created.").await;
    b.wait_text("#calendar", "Asia/Shanghai").await;
    ensure_inert(b).await;
    b.ensure_accessible("a calendar's page").await;

    b.goto(&app.url("/admin/processes")).await;
    b.wait_text("h1", "Service processes").await;
    b.wait_text("#process-general .stages", "After-sales support").await;
    b.ensure_accessible("the processes screen").await;
    sign_out(b).await;
}
