//! The ticket page in the browser: replies and notes (the keyboard and Ctrl+Enter), moves and a
//! refused one, the certification gate then a supervisor's override, the review, closing and
//! the customer's survey, a stale edit from a second session, a partner technician's view, and
//! typed markup staying inert; axe on the page. Every form posts with htmx: a marker set on the
//! window before the first post is still there after the last (no page load), the focus lands
//! on the field to correct, and the live panel does not announce the page's own changes, while
//! another session's change is announced.

use super::harness::Browser;
use crate::helpers::{body, ConsoleSession, TestApp, CONSOLE_PASSWORD};
use serde_json::json;
use steward_console::texts::Lang;

const XSS: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";

async fn sign_in(b: &Browser, app: &TestApp, email: &str) {
    b.goto(&app.url("/sign-in")).await;
    b.type_into("#email", email).await;
    b.type_into("#password", CONSOLE_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_text(".who", "").await;
}

async fn sign_out(b: &Browser) {
    b.click(".sign-out button").await;
    b.wait_text("main .message", "You have signed out.").await;
}

/// Chooses `value` in the `<select>` `css`.
async fn choose(b: &Browser, css: &str, value: &str) {
    b.script(&format!("document.querySelector('{css}').value = '{value}'; return true;")).await;
}

async fn no_injection(b: &Browser) {
    b.ensure_no_dialog().await;
    let injected = b.script("return document.querySelectorAll('main script, main img, img[src=x]').length").await;
    b.ensure(injected == 0, "no element injected by typed text").await;
}

pub async fn a_ticket_is_worked_from_open_to_closed(b: &Browser, app: &TestApp) {
    let supervisor = app.create_staff("Sue Supervisor", "sue@desk.test", "supervisor").await;
    ConsoleSession::login_for(app, &supervisor, json!({})).await;
    let una = app.create_staff("Una Certified", "una@desk.test", "agent").await;
    let partner = body(
        app.post(
            "/api/v1/partners",
            &json!({"name": XSS, "kind": "subcontractor", "categories": ["hardware"],
                    "contract": {"start": "2020-01-01T00:00:00Z", "first_response": "4h", "resolution": "2d"}}),
        )
        .await,
    )
    .await;
    let t = app.create_ticket(json!({"title": XSS, "customer": {"name": XSS, "contact": "c@acme.test"}})).await;
    let number = t["number"].as_str().unwrap().to_owned();
    app.post(&format!("/api/v1/tickets/{number}/comments"), &json!({"body": XSS, "visibility": "public", "from_customer": true})).await;
    let page = app.url(&format!("/tickets/{number}"));

    sign_in(b, app, "sue@desk.test").await;
    b.goto(&page).await;
    // Gone if the page ever loads again: every form below answers with htmx swaps.
    b.script("window.stewardSamePage = true; return true;").await;
    no_injection(b).await;
    b.ensure(b.text(".ticket-title").await == XSS, "the title shown as typed").await;
    b.ensure(b.text(".customer-name").await == XSS, "the customer shown as typed").await;
    b.ensure(b.text("[aria-current=step]").await == "Consultation", "the current stage is marked").await;
    b.ensure_accessible("the ticket page").await;

    // `r` picks a public reply and focuses the message; Ctrl+Enter sends it.
    b.script("document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'r', bubbles: true})); return true;").await;
    let focused = b.script("return document.activeElement.id + ':' + document.getElementById('visibility-public').checked").await;
    b.ensure(focused == "comment-body:true", &format!("r focuses a public reply: {focused}")).await;
    b.type_into("#comment-body", "We are on our way").await;
    b.script("document.getElementById('comment-body').dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', ctrlKey: true, bubbles: true})); return true;").await;
    b.wait_text(".event.public:last-child .comment-body", "We are on our way").await;
    b.wait_until(
        "return document.activeElement.id === 'comment-body' && document.activeElement.value === ''",
        "the cleared composer has the focus",
    )
    .await;
    // `n` switches to an internal note, visibly and for screen readers.
    b.script("document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'n', bubbles: true})); return true;").await;
    let internal = b.script("return document.getElementById('visibility-internal').checked").await;
    b.ensure(internal == true, "n picks an internal note").await;
    b.type_into("#comment-body", "Bring the spare fuse").await;
    b.click("#composer button[type=submit]").await;
    b.wait_text(".event.internal:last-child", "Internal: staff only").await;
    b.ensure_accessible("the ticket page with comments").await;
    own_changes_are_not_news(b, app, &t).await;
    // Comments only; a note posted meanwhile joins the filtered timeline, a move would not.
    b.click("nav.filter a:last-child").await;
    b.wait_text("nav.filter a[aria-current=true]", "Comments only").await;
    let opened = b.script("return document.querySelectorAll('#timeline .event-meta strong').length === document.querySelectorAll('#timeline .comment-body').length").await;
    b.ensure(opened == true, "only comments in the filtered timeline").await;
    b.click("nav.filter a:first-child").await;
    b.wait_text("nav.filter a[aria-current=true]", steward_console::texts::ticket(Lang::En).all_events).await;

    // Moves, then the certification gate refusing, then the override with a reason. The other
    // session's comment moved the ticket on: the first move meets it (the focus on what
    // changed), and is applied again knowingly.
    b.click("button[name=to][value=needs_analysis]").await;
    b.wait_text(".conflict h2", steward_console::texts::ticket(Lang::En).conflict_title).await;
    b.wait_until("return document.activeElement.id === 'conflict-title'", "the conflict has the focus").await;
    b.click(".conflict button[type=submit]").await;
    b.wait_text("[aria-current=step]", "Needs analysis").await;
    b.wait_until("return document.querySelector('.conflict') === null", "the conflict is cleared").await;
    b.click("button[name=to][value=solution_design]").await;
    b.wait_text("[aria-current=step]", "Solution design").await;
    choose(b, "#assignee", una["id"].as_str().unwrap()).await;
    b.click("#assign button[type=submit]").await;
    b.wait_text("#assign-error", "does not hold a valid SOLUTION-DESIGN certification").await;
    b.wait_until("return document.activeElement.id === 'override-reason'", "the override's reason has the focus").await;
    b.ensure_accessible("the refused assignment").await;
    choose(b, "#assignee", una["id"].as_str().unwrap()).await;
    b.type_into("#override-reason", "Only one on site today").await;
    b.click("#assign button[type=submit]").await;
    b.wait_text(".assignee", "Una Certified").await;
    b.wait_text("#timeline", "Only one on site today").await;

    // Delegation with the partner's OLA due times.
    choose(b, "#partner-select", partner["id"].as_str().unwrap()).await;
    b.click("#delegation button[type=submit]").await;
    b.wait_text("#delegation", "first response due").await;
    no_injection(b).await;

    // Delivery needs a review: leaving without one is refused inline.
    b.click("button[name=to][value=delivery]").await;
    b.wait_text("[aria-current=step]", "Delivery").await;
    b.click("button[name=to][value=after_sales]").await;
    b.wait_text("#move-error", "requires a passing quality review").await;
    b.ensure_accessible("the refused move").await;
    for i in 0..3 {
        b.click(&format!("input[name=check{i}]")).await;
    }
    b.click("#review button[type=submit]").await;
    b.wait_text("#timeline", "Reviewed").await;
    b.click("button[name=to][value=after_sales]").await;
    b.wait_text("[aria-current=step]", "After-sales support").await;
    b.click("button[name=to][value=closed]").await;
    b.wait_text("[aria-current=step]", "Closed").await;
    let same = b.script("return window.stewardSamePage === true").await;
    b.ensure(same == true, "every form answered in place: the page never loaded again").await;
    sign_out(b).await;

    // The customer answers the survey issued on closing.
    let events = app.events(&number).await;
    let url = events.iter().find(|e| e["kind"] == "survey_issued").unwrap()["data"]["survey_url"].as_str().unwrap().to_owned();
    b.goto(&app.url(&format!("/survey/{}", url.rsplit('/').next().unwrap()))).await;
    b.click("input[name=score][value='5']").await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "Thank you").await;

    // A partner technician sees its ticket, and nothing else.
    let tech = app.create_staff("Tina Tech", "tina@fixit.test", "agent").await;
    ConsoleSession::login_for(app, &tech, json!({"partner_id": partner["id"]})).await;
    let other = app.create_ticket(json!({"title": "Not theirs"})).await;
    sign_in(b, app, "tina@fixit.test").await;
    b.goto(&page).await;
    no_injection(b).await;
    let hidden = b.script("return !document.body.textContent.includes('Bring the spare fuse') && !document.getElementById('assign')").await;
    b.ensure(hidden == true, "a partner sees no internal note and no assignment").await;
    b.ensure_accessible("the partner's ticket page").await;
    b.goto(&app.url(&format!("/tickets/{}", other["number"].as_str().unwrap()))).await;
    b.wait_text("h1", "Not found").await;
    sign_out(b).await;
}

/// The note just posted is on the page: the live panel swapped in with it says nothing, until
/// someone else changes the ticket.
async fn own_changes_are_not_news(b: &Browser, app: &TestApp, ticket: &serde_json::Value) {
    let panel = "#ticket-live-panel [data-live-ticket]";
    b.wait_until(&format!("return document.querySelector('{panel}[data-live-synced]') !== null"), "the new live panel heard the stream")
        .await;
    let notice = b.script("return document.querySelector('[data-live-notice]').textContent.trim()").await;
    b.ensure(notice == json!(""), &format!("one's own note is not announced: {notice}")).await;
    let shown = b.script(&format!("return Number(document.querySelector('{panel}').getAttribute('data-live-shown'))")).await;
    let number = ticket["number"].as_str().unwrap();
    let r = app.post(&format!("/api/v1/tickets/{number}/comments"), &json!({"body": "Called back", "visibility": "internal"})).await;
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let position = crate::live_updates::settled_after(app, ticket).await;
    b.wait_until(
        &format!("return document.querySelector('{panel}').getAttribute('data-live-position') === '{position}'"),
        "the stream delivered the other session's comment",
    )
    .await;
    let news = app.events(number).await.len() - shown.as_u64().unwrap() as usize;
    let expected = Lang::En.texts().live_ticket_changed.replace("{count}", &news.to_string());
    b.ensure(b.text("[data-live-notice]").await.contains(&expected), &format!("only the other's change is news: {expected}")).await;
}

pub async fn a_stale_edit_is_shown_not_applied(b: &Browser, app: &TestApp) {
    let ada = app.create_staff("Ada Agent", "ada@desk.test", "agent").await;
    ConsoleSession::login_for(app, &ada, json!({})).await;
    let (bo, _) = ConsoleSession::person(app, "Bo Agent", "bo@desk.test", "agent").await;
    let t = app.create_ticket(json!({})).await;
    let number = t["number"].as_str().unwrap().to_owned();
    sign_in(b, app, "ada@desk.test").await;
    b.goto(&app.url(&format!("/tickets/{number}"))).await;
    // Meanwhile, in another session, Bo raises the priority.
    let base = format!("/tickets/{number}");
    let r = bo.post(&format!("{base}/priority"), &[("version", "1"), ("seen", "1"), ("priority", "urgent")]).await;
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
    choose(b, "#priority-select", "low").await;
    b.click("#priority button[type=submit]").await;
    b.wait_text(".conflict h2", "Someone changed this ticket meanwhile").await;
    b.wait_text(".conflict", "Priority: High → Urgent").await;
    b.ensure_accessible("the stale-edit conflict").await;
    b.ensure(b.text(".priority").await == "Urgent", "Bo's change stands").await;
    b.click(".conflict button[type=submit]").await;
    b.wait_text(".priority", "Low").await;
    sign_out(b).await;
}
