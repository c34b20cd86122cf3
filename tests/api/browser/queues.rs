//! The queues in the browser: signing in (a wrong then the right password), the queue sorted by
//! SLA due with a ticking countdown, load more, a bulk action with one failure, keyboard-only
//! navigation (j/k/Enter, `/`, `?`, `g q`), the Chinese interface by preference, and axe on the
//! queue and preferences screens.

use super::harness::Browser;
use crate::helpers::{body, ConsoleSession, TestApp, CONSOLE_PASSWORD};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::Locator;
use serde_json::json;
use std::time::Duration;

async fn press(b: &Browser, keys: &str) {
    let mut actions = KeyActions::new("keyboard".to_owned());
    for key in keys.chars() {
        actions = actions.then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
    }
    if let Err(e) = b.client.perform_actions(actions).await {
        b.fail::<()>(&format!("pressing {keys:?}: {e}")).await;
    }
}

/// Polls a script until it returns true (at most 5 s).
async fn until(b: &Browser, js: &str, what: &str) {
    for _ in 0..100 {
        if b.script(js).await == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.fail::<()>(what).await;
}

async fn url(b: &Browser) -> String {
    b.client.current_url().await.map(|u| u.to_string()).unwrap_or_default()
}

pub async fn an_agent_works_the_queue(b: &Browser, app: &TestApp) {
    let staff = app.create_staff("Queue Keeper", "keeper@desk.test", "agent").await;
    ConsoleSession::login_for(app, &staff, json!({})).await;
    for i in 0..51 {
        app.create_ticket(json!({"title": format!("standard {i}"), "channel": "web", "tags": ["queue-journey"]})).await;
    }
    let vip = app
        .create_ticket(
            json!({"title": "VIP on the phone", "channel": "phone", "customer": {"name": "VIP", "tier": "vip"}, "tags": ["queue-journey"], "assignee_id": staff["id"]}),
        )
        .await;
    let vip_number = vip["number"].as_str().unwrap().to_owned();

    // Whatever journey ran before may have left someone signed in: start as a stranger.
    b.goto(&app.url("/sign-in")).await;
    b.client.delete_all_cookies().await.expect("cookies cleared");
    // The other journeys' tickets (some due sooner) are left out by the tag.
    b.goto(&app.url("/queues?view=all&tag=queue-journey")).await;
    b.wait_text("h1", "Sign in").await;
    b.type_into("#email", "keeper@desk.test").await;
    b.type_into("#password", "certainly not the password").await;
    b.click("button[type=submit]").await;
    b.wait_text("#sign-in-error", "The email or password is wrong.").await;
    b.type_into("#password", CONSOLE_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "Queues").await;
    b.ensure_accessible("the queue").await;
    b.wait_text("#queue-rows tr:first-child a.number", &vip_number).await;
    // The row names the assignee and the stage, not their ids or keys.
    b.wait_text("#queue-rows tr:first-child", "Queue Keeper").await;
    b.wait_text("#queue-rows tr:first-child", "Consultation").await;

    // The countdown ticks in the browser.
    let first = b.text("#queue-rows tr:first-child .remaining[data-due]").await;
    until(
        b,
        &format!("return document.querySelector('#queue-rows tr:first-child .remaining[data-due]').textContent !== {first:?};"),
        "the countdown ticks",
    )
    .await;

    // Load more appends the next rows in place.
    until(b, "return document.querySelectorAll('#queue-rows tr[data-row]').length === 50;", "a first page of 50").await;
    b.click("[data-load-more]").await;
    until(
        b,
        "return document.querySelectorAll('#queue-rows tr[data-row]').length > 50 && !document.getElementById('load-more');",
        "the rest appended by load more",
    )
    .await;

    // A bulk action: two tickets, one of them changed meanwhile; the other goes through.
    let second = b.text("#queue-rows tr:nth-child(2) a.number").await;
    b.click("#queue-rows tr:first-child input[name=ticket]").await;
    b.click("#queue-rows tr:nth-child(2) input[name=ticket]").await;
    let current = body(app.get(&format!("/api/v1/tickets/{second}")).await).await;
    let version = format!("\"{}\"", current["version"]);
    let r = app
        .patch(&format!("/api/v1/tickets/{}", current["id"].as_str().unwrap()), Some(&version), &json!({"title": "changed meanwhile"}))
        .await;
    assert!(r.status().is_success());
    match b.client.find(Locator::Css("#bulk-priority")).await {
        Ok(select) => select.select_by_value("low").await.unwrap(),
        Err(e) => b.fail(&format!("no priority select: {e}")).await,
    }
    b.click("button[name=action][value=priority]").await;
    b.wait_text("main p[role=status]", "Done: 1").await;
    b.wait_text("main p[role=status]", "Failed: 1").await;
    b.wait_text(".outcome-failed", &second).await;
    b.ensure_no_dialog().await;

    // Keyboard only: j/k move the selection, Enter opens, / searches, ? explains, g q returns.
    b.goto(&app.url("/queues?view=all")).await;
    b.wait_text("h1", "Queues").await;
    press(b, "jjk").await;
    until(b, "var r = document.querySelector('#queue-rows tr[aria-selected=true]'); return !!r && r === document.querySelector('#queue-rows tr');", "j j k selects the first row").await;
    press(b, "?").await;
    until(b, "return document.getElementById('keys-help').open;", "? opens the shortcuts").await;
    press(b, "\u{E00C}").await; // Escape
    until(b, "return !document.getElementById('keys-help').open;", "Escape closes them").await;
    press(b, "/").await;
    until(b, "return document.activeElement && document.activeElement.id === 'queue-search';", "/ focuses the search").await;
    press(b, "\u{E00C}").await;
    b.script("document.activeElement.blur(); return true;").await;
    press(b, "g").await;
    press(b, "q").await;
    until(b, "return location.pathname === '/queues' && location.search === '';", "g q goes to the queues").await;
    b.wait_text("h1", "Queues").await;
    press(b, "j").await;
    press(b, "\u{E007}").await; // Enter
    for _ in 0..100 {
        if url(b).await.ends_with("/tickets/") || url(b).await.contains("/tickets/T-") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let opened = url(b).await;
    b.ensure(opened.contains("/tickets/T-"), &format!("Enter opens the selected ticket: {opened}")).await;
    // Typing a ticket number in the search jumps to it.
    b.goto(&app.url("/queues")).await;
    b.type_into("#queue-search", &format!("{}\u{E007}", vip_number.trim_start_matches("T-").trim_start_matches('0'))).await;
    for _ in 0..100 {
        if url(b).await.ends_with(&format!("/tickets/{vip_number}")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let jumped = url(b).await;
    b.ensure(jumped.ends_with(&format!("/tickets/{vip_number}")), &format!("a typed number jumps to the ticket: {jumped}")).await;

    // The Chinese interface, chosen in the preferences.
    super::screens::prefer(b, app, "zh", "Asia/Shanghai").await;
    b.goto(&app.url("/queues?view=all")).await;
    b.wait_text("h1", "工单队列").await;
    b.wait_text(".views", "未分配").await;
    b.ensure_accessible("the queue in Chinese").await;
    b.ensure_no_dialog().await;
    b.click(".sign-out button").await;
}
