//! The Chinese interface in the browser: a person whose preferences say Simplified Chinese and
//! Asia/Shanghai works a ticket (a note, a move), reads supervision and walks the
//! administration screens. Each page says `lang="zh-Hans"`, shows the console's own Chinese
//! texts (read from where the console keeps them, not copied here), dates in the person's
//! timezone, and passes axe.

use super::harness::Browser;
use super::screens::{prefer, sign_in_as, sign_out};
use crate::helpers::TestApp;
use serde_json::json;
use steward_console::texts::{self, Lang};

async fn in_chinese(b: &Browser, screen: &str) {
    let lang = b.script("return document.documentElement.lang").await;
    b.ensure(lang == json!("zh-Hans"), &format!("{screen} says it is Chinese: {lang}")).await;
    b.ensure_no_dialog().await;
    b.ensure_accessible(screen).await;
}

/// `at` (an API instant) as the console shows it in Asia/Shanghai.
fn shanghai(at: &str) -> String {
    let at: jiff::Timestamp = at.parse().expect("an instant");
    at.to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap()).strftime("%Y-%m-%d %H:%M %Z").to_string()
}

pub async fn a_person_works_in_chinese_from_ticket_to_administration(b: &Browser, app: &TestApp) {
    let (t, tt, sla) = (Lang::Zh.texts(), texts::ticket(Lang::Zh), texts::sla(Lang::Zh));
    let s = &t.screens;
    let ticket = app.create_ticket(json!({"title": "打印机卡纸", "priority": "high", "channel": "email"})).await;
    let number = ticket["number"].as_str().unwrap().to_owned();
    let r = app.patch(&format!("/api/v1/tickets/{number}"), Some("*"), &json!({"priority": "urgent"})).await;
    assert!(r.status().is_success(), "the priority changes");
    sign_in_as(b, app, "zhang@desk.test", "admin").await;
    prefer(b, app, "zh", "Asia/Shanghai").await;

    // The ticket page: its parts' headings, the opening event at Shanghai time.
    b.goto(&app.url(&format!("/tickets/{number}"))).await;
    b.wait_text("#composer h2", tt.compose).await;
    b.wait_text("#timeline h2", tt.timeline).await;
    b.wait_text("#ticket-sla h2", tt.sla).await;
    b.wait_text("#assign h2", tt.assign).await;
    b.wait_text(".bar nav", t.nav_queues).await;
    let opened = &app.events(&number).await[0];
    b.wait_text("#timeline .event:first-child time", &shanghai(opened["at"].as_str().unwrap())).await;
    b.wait_text("#timeline .event:first-child .event-meta strong", tt.event_kinds.created).await;
    // The header's values and the timeline's details in Chinese words.
    b.wait_text(".facts", t.channel_email).await;
    b.wait_text("#timeline", &format!("{}: {} → {}", tt.priority, t.priority_high, t.priority_urgent)).await;
    b.wait_text("#ticket-sla", t.clock_first_response).await;
    in_chinese(b, "the ticket page in Chinese").await;
    // An internal note, then a move: the timeline names them in Chinese.
    b.click("#visibility-internal").await;
    b.type_into("#comment-body", "已联系客户").await;
    b.click("#composer button[type=submit]").await;
    b.wait_text(".event.internal:last-child .visibility", tt.internal_marker).await;
    b.wait_text(".event.internal:last-child .event-meta strong", tt.event_kinds.comment_added).await;
    b.click("button[name=to][value=needs_analysis]").await;
    b.wait_text("#timeline", tt.event_kinds.stage_changed).await;
    let moved = app.events(&number).await.into_iter().rev().find(|e| e["kind"] == "stage_changed").unwrap();
    let row = format!("#event-{}", moved["seq"]);
    b.wait_text(&format!("{row} .event-meta strong"), tt.event_kinds.stage_changed).await;
    b.wait_text(&format!("{row} time"), &shanghai(moved["at"].as_str().unwrap())).await;
    in_chinese(b, "the ticket page in Chinese after a note and a move").await;
    // Out of a reviewed stage without a passing review: refused beside the moves, in Chinese.
    for to in ["solution_design", "delivery"] {
        assert!(app.transition(&number, to).await.status().is_success(), "to {to}");
    }
    b.goto(&app.url(&format!("/tickets/{number}"))).await;
    b.click("button[name=to][value=after_sales]").await;
    b.wait_text("#move-error", &texts::refusals(Lang::Zh).review_required.replace("{stage}", "Delivery")).await;
    in_chinese(b, "the ticket page in Chinese with a refused move").await;

    // Supervision and the monthly review.
    b.goto(&app.url("/supervision")).await;
    b.wait_text("h1", s.supervision_title).await;
    in_chinese(b, "supervision in Chinese").await;
    // Administration, screen by screen.
    for (path, heading) in [
        ("/admin", s.admin_title),
        ("/admin/logins", s.admin_logins),
        ("/admin/tokens", s.admin_tokens),
        ("/admin/plugins", s.admin_plugins),
        ("/admin/webhooks", s.admin_webhooks),
        ("/admin/sla-policies", sla.policies),
        ("/admin/calendars", sla.calendars),
        ("/admin/processes", sla.processes),
        ("/admin/mail", texts::mail(Lang::Zh).quarantine),
        ("/admin/mail/outbox", texts::mail(Lang::Zh).outbox),
    ] {
        b.goto(&app.url(path)).await;
        b.wait_text("h1", heading).await;
        in_chinese(b, &format!("{path} in Chinese")).await;
    }
    // The sign-in audit names its kinds in Chinese, never by their spelling.
    b.goto(&app.url("/admin/logins")).await;
    b.wait_text("#audit", t.audit_kind_label(steward_domain::login::AuditKind::SignedIn)).await;
    let audit = b.text("#audit").await;
    b.ensure(!audit.contains("signed_in") && !audit.contains("password_"), &format!("no spelled audit kind: {audit}")).await;
    sign_out(b).await;
}
