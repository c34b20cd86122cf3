//! The staff and training screens in the browser: a supervisor opens the staff list and a
//! person, records a training and sees the certification become current, opens /training and
//! sees a gate override; every screen passes axe, in English and then in Chinese, and names
//! typed with markup stay inert.

use super::harness::Browser;
use super::screens::{ensure_inert, sign_in_as};
use crate::console_screens::XSS;
use crate::helpers::TestApp;
use fantoccini::Locator;
use serde_json::json;

pub async fn a_supervisor_records_a_training_and_reads_the_overrides(b: &Browser, app: &TestApp) {
    crate::training::create_course(app).await;
    let trainee = app.create_staff("Tess Trainee", "tess@desk.test", "agent").await;
    let covering = app.create_staff(XSS, "cover@desk.test", "agent").await;
    let ticket = crate::training::ticket_in_solution_design(app).await;
    let r = app
        .patch(&format!("/api/v1/tickets/{ticket}"), Some("*"), &json!({"assignee_id": covering["id"], "override": {"reason": XSS}}))
        .await;
    b.ensure(r.status().is_success(), "the override assignment").await;

    sign_in_as(b, app, "trainer@desk.test", "supervisor").await;
    b.click("a[href='/staff']").await;
    b.wait_text("h1", "Staff").await;
    b.wait_text("#staff", "Tess Trainee").await;
    ensure_inert(b).await;
    b.ensure_accessible("the staff list").await;

    b.click(&format!("#staff a[href='/staff/{}']", trainee["id"].as_str().unwrap())).await;
    b.wait_text("#person-name", "Tess Trainee").await;
    b.wait_text("#certifications", "missing").await;
    b.ensure_accessible("a person's page").await;
    b.type_into("#score", "85").await;
    b.click("#record-form button[type=submit]").await;
    b.wait_text("main p[role=status]", "Training recorded.").await;
    b.wait_text("#certifications", "current").await;
    b.wait_text("#records", "85").await;
    ensure_inert(b).await;
    b.ensure_accessible("a person's page after a training").await;

    b.click("a[href='/training']").await;
    b.wait_text("h1", "Training").await;
    b.wait_text("#courses", "SOLUTION-DESIGN").await;
    b.wait_text("#overrides", "solution_design").await;
    b.wait_text("#overrides", "<script>").await;
    ensure_inert(b).await;
    b.ensure_accessible("the training screen").await;
    b.click("#overrides a[href^='/staff/']").await;
    b.wait_text("#overrides", "SOLUTION-DESIGN").await;
    ensure_inert(b).await;

    // The same screens in Chinese, chosen in the preferences.
    b.goto(&app.url("/preferences")).await;
    match b.client.find(Locator::Css("#pref-language")).await {
        Ok(select) => select.select_by_value("zh").await.unwrap(),
        Err(e) => b.fail(&format!("no language select: {e}")).await,
    }
    b.click("form.card button[type=submit]").await;
    b.wait_text("main p[role=status]", "偏好设置已保存").await;
    b.goto(&app.url("/staff")).await;
    b.wait_text("h1", "员工").await;
    b.wait_text("#staff thead", "认证").await;
    b.ensure_accessible("the staff list in Chinese").await;
    b.goto(&app.url(&format!("/staff/{}", trainee["id"].as_str().unwrap()))).await;
    b.wait_text("#records-h", "培训记录").await;
    b.wait_text("#certifications", "有效").await;
    b.wait_text("label[for=completed_at]", "完成日期").await;
    b.ensure_accessible("a person's page in Chinese").await;
    b.goto(&app.url("/training")).await;
    b.wait_text("h1", "培训").await;
    b.wait_text("#overrides-h", "资质门槛放行").await;
    b.wait_text("#overrides thead", "理由").await;
    ensure_inert(b).await;
    b.ensure_accessible("the training screen in Chinese").await;
    b.click(".sign-out button").await;
}
