//! The console in a real browser: headless Chromium driven over WebDriver (fantoccini, plain
//! HTTP to a `chromedriver` this harness starts on a free port) against the real server on port
//! 0. One browser session runs every journey in turn, so the suite pays for one browser start.
//!
//! axe-core (vendored from npm, `tests/fixtures/vendor/`) checks every main screen and fails on
//! a serious or critical violation. On a failure the page's screenshot and HTML are kept under
//! `target/browser-artifacts/`.
//!
//! `tests/run` installs Debian's `chromium` and `chromium-driver` and requires the browser
//! (`STEWARD_TEST_REQUIRE_BROWSER=1`); without them, and not required, these tests are skipped.

mod chinese;
mod harness;
mod live;
mod mail;
mod queues;
mod screens;
mod sign_in;
mod sla_admin;
mod staff;
mod survey;
mod ticket;

use crate::helpers::{Backend, TestApp};
use harness::Browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_journeys_in_a_real_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = TestApp::spawn(backend).await else {
            crate::helpers::postgres_absent();
            continue;
        };
        browser.set_context(&format!("{backend:?}"));
        sign_in::a_person_sets_a_password_and_signs_in(&browser, &app).await;
        survey::the_customer_answers_the_survey_on_its_page(&browser, &app).await;
        survey::typed_markup_stays_inert(&browser, &app).await;
        ticket::a_ticket_is_worked_from_open_to_closed(&browser, &app).await;
        ticket::a_stale_edit_is_shown_not_applied(&browser, &app).await;
        live::a_change_on_another_node_reaches_the_page(&browser, &app).await;
        queues::an_agent_works_the_queue(&browser, &app).await;
        screens::a_supervisor_reads_supervision_and_the_review(&browser, &app).await;
        screens::an_admin_manages_logins_and_tokens(&browser, &app).await;
        sla_admin::an_admin_manages_sla_policies_calendars_and_reads_processes(&browser, &app).await;
        staff::a_supervisor_records_a_training_and_reads_the_overrides(&browser, &app).await;
        mail::an_admin_works_the_quarantine_in_english_and_chinese(&browser, &app).await;
        chinese::a_person_works_in_chinese_from_ticket_to_administration(&browser, &app).await;
    }
    browser.close().await;
}
