//! The console's queues over HTTP, on both backends: views and their counts (from counters,
//! checked against what each view lists after a mixed history), the SLA-due order with its
//! countdowns, keyset "load more" (plain link and htmx fragment), filters that name a bad field,
//! escaping, a partner's technician seeing only its delegated work, and bulk actions that
//! report per ticket.

use crate::helpers::{body, clock_passes, ConsoleSession, TestApp, CONSOLE_PASSWORD};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    every_view_count_equals_what_the_view_lists_after_a_mixed_history,
    the_queue_runs_by_sla_due_and_loads_more_without_a_cap,
    bulk_actions_report_each_ticket_and_the_rest_go_through,
    bad_filters_name_their_field_and_typed_text_stays_inert,
    preferences_set_the_language_and_timezone_of_every_page,
    saved_views_are_personal_or_shared_by_a_supervisor,
    a_row_names_its_assignee_and_its_stage_not_their_keys
);

const EVIL: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";

pub(crate) fn id(t: &Value) -> &str {
    t["id"].as_str().unwrap()
}

/// `(view key, count)` of each view link on a queue page.
pub(crate) fn view_counts(html: &str) -> Vec<(String, i64)> {
    html.split("<a href=\"/queues?view=")
        .skip(1)
        .filter_map(|rest| {
            let key = rest.split('"').next()?.to_owned();
            let link = rest.split("</a>").next()?;
            let count = link.split("data-count>").nth(1)?.split('<').next()?.trim().parse().ok()?;
            Some((key, count))
        })
        .collect()
}

/// The ticket numbers a page lists, and its "load more" link.
pub(crate) fn rows(html: &str) -> (Vec<String>, Option<String>) {
    let numbers =
        html.split("<a class=\"number\" href=\"/tickets/").skip(1).filter_map(|rest| rest.split('"').next().map(str::to_owned)).collect();
    let next = html
        .split("id=\"load-more\"><td colspan=\"8\"><a href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(|h| h.replace("&#38;", "&").replace("&amp;", "&"));
    (numbers, next)
}

/// Every ticket a view lists, following "load more" to the end.
pub(crate) async fn listed(browser: &ConsoleSession, view: &str) -> Vec<String> {
    let mut all = Vec::new();
    let mut path = Some(format!("/queues?view={view}"));
    while let Some(p) = path {
        let (numbers, next) = rows(&browser.page(&p).await);
        all.extend(numbers);
        path = next;
    }
    all
}

async fn assert_counts_match(browser: &ConsoleSession, when: &str) -> Vec<(String, i64)> {
    let counts = view_counts(&browser.page("/queues").await);
    assert!(!counts.is_empty(), "{when}: the page shows its views");
    for (view, count) in &counts {
        let numbers = listed(browser, view).await;
        assert_eq!(*count, numbers.len() as i64, "{when}: view {view} counts {count} but lists {numbers:?}");
    }
    counts
}

pub(crate) fn count_of(counts: &[(String, i64)], view: &str) -> i64 {
    counts.iter().find(|(v, _)| v == view).map_or(-1, |(_, n)| *n)
}

pub(crate) async fn sla_clock(app: &TestApp, ticket: &str, kind: &str) -> Value {
    let s = body(app.get(&format!("/api/v1/tickets/{ticket}/sla")).await).await;
    s["clocks"].as_array().unwrap().iter().find(|c| c["kind"] == kind).cloned().unwrap_or_else(|| panic!("no {kind} clock in {s}"))
}

pub(crate) async fn patch(app: &TestApp, ticket: &Value, fields: Value) -> Value {
    let current = body(app.get(&format!("/api/v1/tickets/{}", id(ticket))).await).await;
    let version = format!("\"{}\"", current["version"]);
    let r = app.patch(&format!("/api/v1/tickets/{}", id(ticket)), Some(&version), &fields).await;
    assert_eq!(r.status(), StatusCode::OK, "patch {fields}: {}", r.text().await.unwrap());
    body(r).await
}

/// A partner, and a ticket delegated to it that waits on the partner.
pub(crate) async fn delegated_waiting_partner(app: &TestApp) -> (Value, Value) {
    let partner = body(
        app.post(
            "/api/v1/partners",
            &json!({"name": "FixIt", "kind": "subcontractor", "contact": "ops@fixit.test", "categories": ["hardware"],
                    "contract": {"start": "2020-01-01T00:00:00Z", "first_response": "4h", "resolution": "2d"}}),
        )
        .await,
    )
    .await;
    let delegated = app.create_ticket(json!({"title": "for the partner"})).await;
    let r = app.post(&format!("/api/v1/tickets/{}/delegation", id(&delegated)), &json!({"partner_id": partner["id"]})).await;
    assert_eq!(r.status(), StatusCode::OK);
    patch(app, &delegated, json!({"status": "waiting_partner"})).await;
    (partner, delegated)
}

async fn every_view_count_equals_what_the_view_lists_after_a_mixed_history(app: TestApp) {
    let (browser, me) = ConsoleSession::person(&app, "Queue Agent", "queue.agent@desk.test", "agent").await;
    let colleague = app.create_staff("Team Mate", "mate@desk.test", "agent").await;
    let r = app
        .post(
            "/api/v1/sla-policies",
            &json!({"key": "fast", "name": "Fast lane", "order": 1, "match": {"tiers": ["priority"]},
                    "first_response": "1s", "resolution": "1h"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let counts = assert_counts_match(&browser, "empty").await;
    assert!(counts.iter().all(|(_, n)| *n == 0), "{counts:?}");

    let mine = app.create_ticket(json!({"title": "mine", "assignee_id": me["id"]})).await;
    let unassigned = app.create_ticket(json!({"title": "nobody's"})).await;
    let teams = app.create_ticket(json!({"title": "the colleague's"})).await;
    patch(&app, &teams, json!({"assignee_id": colleague["id"], "status": "waiting_customer"})).await;
    let resolved = app.create_ticket(json!({"title": "done", "assignee_id": me["id"]})).await;
    let r = app.transition(id(&resolved), "closed").await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let reopened = app.create_ticket(json!({"title": "back again"})).await;
    assert_eq!(app.transition(id(&reopened), "closed").await.status(), StatusCode::OK);
    let counts = assert_counts_match(&browser, "after creating, assigning and closing").await;
    assert_eq!((count_of(&counts, "mine"), count_of(&counts, "unassigned"), count_of(&counts, "team")), (1, 1, 2));
    let r = app.post(&format!("/api/v1/tickets/{}/reopen", id(&reopened)), &json!({})).await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    // Half the deltas folded, half pending: a count is the same either way.
    app.services.fold_queue_counts(10_000).await.unwrap();

    let (partner, delegated) = delegated_waiting_partner(&app).await;
    let late = app.create_ticket(json!({"title": "too slow", "customer": {"name": "Big Co", "tier": "priority"}})).await;
    let late_done = app.create_ticket(json!({"title": "late but done", "customer": {"name": "Big Co", "tier": "priority"}})).await;
    let first = sla_clock(&app, id(&late_done), "first_response").await;
    let due: jiff::Timestamp = first["due_at"].as_str().unwrap().parse().unwrap();
    clock_passes(due + jiff::SignedDuration::from_millis(100)).await;
    assert!(app.sweep_sla().await >= 2);
    let counts = assert_counts_match(&browser, "after delegating and the sweep").await;
    assert!(count_of(&counts, "breached") >= 2, "{counts:?}");
    assert_eq!((count_of(&counts, "delegated"), count_of(&counts, "waiting_partner"), count_of(&counts, "waiting_customer")), (1, 1, 1));
    // A breached ticket that is closed leaves the breached view; its counter follows.
    assert_eq!(app.transition(id(&late_done), "closed").await.status(), StatusCode::OK);
    patch(&app, &mine, json!({"assignee_id": null})).await;
    let r = app.request(reqwest::Method::DELETE, &format!("/api/v1/tickets/{}/delegation", id(&delegated))).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    app.services.fold_queue_counts(3).await.unwrap();
    let counts = assert_counts_match(&browser, "after closing, unassigning and withdrawing").await;
    assert_eq!((count_of(&counts, "mine"), count_of(&counts, "delegated")), (0, 0));
    assert!(listed(&browser, "breached").await.contains(&late["number"].as_str().unwrap().to_owned()));
    assert!(listed(&browser, "unassigned").await.contains(&unassigned["number"].as_str().unwrap().to_owned()));

    // A partner's technician: only the delegated view, only its partner's tickets.
    let again = app.create_ticket(json!({"title": "partner's again"})).await;
    let r = app.post(&format!("/api/v1/tickets/{}/delegation", id(&again)), &json!({"partner_id": partner["id"]})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let tech = app.create_staff("Tech", "tech@fixit.test", "agent").await;
    ConsoleSession::login_for(&app, &tech, json!({"partner_id": partner["id"]})).await;
    let mut technician = ConsoleSession::anonymous(&app);
    assert_eq!(technician.sign_in("tech@fixit.test", CONSOLE_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let counts = assert_counts_match(&technician, "a partner's technician").await;
    assert_eq!(counts, vec![("delegated".to_owned(), 1)]);
    let (all, _) = rows(&technician.page("/queues?view=all").await);
    assert_eq!(all, vec![again["number"].as_str().unwrap().to_owned()], "the partner sees only its delegated ticket");
}

async fn the_queue_runs_by_sla_due_and_loads_more_without_a_cap(app: TestApp) {
    let (browser, _) = ConsoleSession::person(&app, "Queue Agent", "queue.agent@desk.test", "agent").await;
    // Phone tickets of VIPs get a 20 s first response; standard web ones far longer: the VIPs first.
    for i in 0..52 {
        app.create_ticket(json!({"title": format!("standard {i}"), "channel": "web"})).await;
    }
    let vip = app.create_ticket(json!({"title": "vip", "channel": "phone", "customer": {"name": "VIP", "tier": "vip"}})).await;
    let html = browser.page("/queues?view=all").await;
    let (first, next) = rows(&html);
    assert_eq!(first.len(), 50, "a page of 50");
    assert_eq!(first[0], vip["number"].as_str().unwrap(), "the soonest due first");
    // Each row's soonest countdown target never decreases down the page.
    let dues: Vec<i64> = html
        .split("<tr data-row")
        .skip(1)
        .map(|row| row.split("data-due=\"").skip(1).filter_map(|d| d.split('"').next()?.parse::<i64>().ok()).min().unwrap_or(i64::MAX))
        .collect();
    assert!(dues.windows(2).all(|w| w[0] <= w[1]), "{dues:?}");
    // The countdown: the due time as <time datetime> and the remaining time, already right.
    assert!(html.contains("<time datetime=\"") && html.contains("class=\"remaining\" data-due=\""), "{html}");
    assert!(html.contains("countdown band-ok"), "{html}");
    // Load more: without JS a plain page; with htmx only the rows.
    let next = next.expect("a next page");
    let (second, after) = rows(&browser.page(&next).await);
    assert_eq!((second.len(), after), (3, None));
    assert!(second.iter().all(|n| !first.contains(n)));
    let fragment = browser.client.get(browser.url(&next)).header("hx-request", "true");
    let fragment = fragment.header(reqwest::header::COOKIE, browser.cookie.clone().unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(!fragment.contains("<html") && fragment.matches("<tr data-row").count() == 3, "{fragment}");
    // Filters narrow the queue: the search finds the VIP only.
    let (found, _) = rows(&browser.page("/queues?view=all&q=VIP&channel=phone").await);
    assert_eq!(found, vec![vip["number"].as_str().unwrap().to_owned()]);
    // `/` takes a signed-in person to the queues.
    let r = browser.get("/").await;
    assert_eq!((r.status(), r.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/queues"));
}

async fn bulk_actions_report_each_ticket_and_the_rest_go_through(app: TestApp) {
    let (browser, me) = ConsoleSession::person(&app, "Queue Agent", "queue.agent@desk.test", "agent").await;
    let a = app.create_ticket(json!({"title": "a"})).await;
    let b = app.create_ticket(json!({"title": "b"})).await;
    let c = app.create_ticket(json!({"title": "c"})).await;
    let n = |t: &Value| t["number"].as_str().unwrap().to_owned();
    let seen = |t: &Value| format!("{}@{}", n(t), t["version"]);
    // `c` changes after the page was shown: its stale version is refused, the others go through.
    patch(&app, &c, json!({"title": "c, changed"})).await;
    let (sa, sb, sc) = (seen(&a), seen(&b), seen(&c));
    let r = browser
        .post(
            "/queues/bulk",
            &[("ticket", sa.as_str()), ("ticket", sb.as_str()), ("ticket", sc.as_str()), ("action", "priority"), ("priority", "urgent")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Done: 2") && html.contains("Failed: 1"), "{html}");
    assert!(html.contains(&format!("<strong>{}</strong>: someone changed this ticket", n(&c))), "{html}");
    for (t, priority) in [(&a, "urgent"), (&b, "urgent"), (&c, "high")] {
        assert_eq!(body(app.get(&format!("/api/v1/tickets/{}", id(t))).await).await["priority"], priority);
    }
    // A move the process refuses for one ticket: the others move.
    let a = body(app.get(&format!("/api/v1/tickets/{}", id(&a))).await).await;
    let b = body(app.get(&format!("/api/v1/tickets/{}", id(&b))).await).await;
    assert_eq!(app.transition(id(&b), "needs_analysis").await.status(), StatusCode::OK);
    let b = body(app.get(&format!("/api/v1/tickets/{}", id(&b))).await).await;
    let (sa, sb) = (seen(&a), seen(&b));
    let r = browser
        .post("/queues/bulk", &[("ticket", sa.as_str()), ("ticket", sb.as_str()), ("action", "move"), ("stage", "needs_analysis")])
        .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("Done: 1") && html.contains("Failed: 1"), "{html}");
    assert_eq!(body(app.get(&format!("/api/v1/tickets/{}", id(&a))).await).await["stage"], "needs_analysis");
    // Assign and tag go through the same services.
    let a = body(app.get(&format!("/api/v1/tickets/{}", id(&a))).await).await;
    let sa = seen(&a);
    let staff_id = me["id"].as_str().unwrap().to_owned();
    let r = browser.post("/queues/bulk", &[("ticket", sa.as_str()), ("action", "assign"), ("assignee", staff_id.as_str())]).await;
    assert!(r.text().await.unwrap().contains("Done: 1"));
    let a = body(app.get(&format!("/api/v1/tickets/{}", id(&a))).await).await;
    assert_eq!(a["assignee_id"], me["id"]);
    let sa = seen(&a);
    let r = browser.post("/queues/bulk", &[("ticket", sa.as_str()), ("action", "tag"), ("tag", "vip")]).await;
    assert!(r.text().await.unwrap().contains("Done: 1"));
    assert_eq!(body(app.get(&format!("/api/v1/tickets/{}", id(&a))).await).await["tags"], json!(["vip"]));
    // Nothing selected: the page says so.
    let r = browser.post("/queues/bulk", &[("action", "tag"), ("tag", "vip")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Select at least one ticket"));
    // A viewer may look but not change.
    let (viewer, _) = ConsoleSession::person(&app, "Only Looks", "looks@desk.test", "viewer").await;
    assert!(!viewer.page("/queues").await.contains("name=\"action\""));
    let r = viewer.post("/queues/bulk", &[("ticket", sa.as_str()), ("action", "priority"), ("priority", "low")]).await;
    let html = r.text().await.unwrap();
    assert!(html.contains("Failed: 1") && html.contains("Your role does not allow this"), "{html}");
}

async fn bad_filters_name_their_field_and_typed_text_stays_inert(app: TestApp) {
    let (browser, _) = ConsoleSession::person(&app, "Queue Agent", "queue.agent@desk.test", "agent").await;
    let r = browser.get("/queues?status=bogus").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("role=\"alert\">status: ") && html.contains("bogus") && html.contains("is not one of"), "{html}");
    app.create_ticket(json!({"title": EVIL, "customer": {"name": EVIL}})).await;
    let html = browser.page("/queues?view=all").await;
    assert!(!html.contains("<script>alert") && !html.contains("<img src=x"), "{html}");
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "{html}");
    // Chinese, by the browser's language.
    let r = browser.client.get(browser.url("/queues")).header(reqwest::header::ACCEPT_LANGUAGE, "zh-CN");
    let html = r.header(reqwest::header::COOKIE, browser.cookie.clone().unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("工单队列") && html.contains("未分配"), "{html}");
}

async fn preferences_set_the_language_and_timezone_of_every_page(app: TestApp) {
    let (browser, _) = ConsoleSession::person(&app, "Queue Agent", "queue.agent@desk.test", "agent").await;
    let html = browser.page("/preferences").await;
    assert!(html.contains("<option value=\"browser\" selected>"), "{html}");
    // A timezone the database does not know is refused, naming the field, and nothing changes.
    let r = browser.post("/preferences", &[("language", "zh"), ("timezone", "Mars/Olympus")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("timezone: "));
    assert!(browser.page("/queues").await.contains("<html lang=\"en\">"));
    let r = browser.post("/preferences", &[("language", "zh"), ("timezone", "Asia/Shanghai")]).await;
    assert_eq!((r.status(), r.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/preferences?saved=1"));
    let html = browser.page("/preferences?saved=1").await;
    assert!(html.contains("<html lang=\"zh-Hans\">") && html.contains("偏好设置已保存"), "{html}");
    assert!(html.contains("value=\"Asia/Shanghai\""));
    // Times on the queue are in the person's timezone.
    app.create_ticket(json!({"title": "vip", "channel": "phone", "customer": {"name": "VIP", "tier": "vip"}})).await;
    let html = browser.page("/queues?view=all").await;
    assert!(html.contains(" CST</time>") && html.contains("工单队列"), "{html}");
    // Back to the browser's language.
    browser.post("/preferences", &[("language", "browser"), ("timezone", "")]).await;
    assert!(browser.page("/queues").await.contains("<html lang=\"en\">"));
}

async fn saved_views_are_personal_or_shared_by_a_supervisor(app: TestApp) {
    let (agent, _) = ConsoleSession::person(&app, "Queue Agent", "queue.agent@desk.test", "agent").await;
    let (supervisor, _) = ConsoleSession::person(&app, "Sue Pervisor", "sue@desk.test", "supervisor").await;
    let (other, _) = ConsoleSession::person(&app, "Other Agent", "other@desk.test", "agent").await;
    app.create_ticket(json!({"title": "urgent phone", "channel": "phone", "priority": "urgent"})).await;
    app.create_ticket(json!({"title": "calm email", "channel": "email", "priority": "low"})).await;
    // An agent saves a personal view; asking to share it is refused.
    let r = agent.post("/queues/views", &[("name", "My urgent calls"), ("filters", "view=all&priority=urgent&channel=phone")]).await;
    assert_eq!(
        (r.status(), r.headers()["location"].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/queues?view=all&priority=urgent&channel=phone")
    );
    let r = agent.post("/queues/views", &[("name", "For all"), ("filters", "view=all"), ("shared", "1")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = agent.post("/queues/views", &[("name", ""), ("filters", "view=all")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A supervisor shares one.
    let r =
        supervisor.post("/queues/views", &[("name", "Low priority email"), ("filters", "view=all&priority=low"), ("shared", "1")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = agent.page("/queues").await;
    assert!(html.contains(">My urgent calls<") && html.contains(">Low priority email <span class=\"hint\">(shared)"), "{html}");
    let html = other.page("/queues").await;
    assert!(!html.contains("My urgent calls") && html.contains("Low priority email"), "{html}");
    // The saved filters list what they say.
    let (numbers, _) = rows(&agent.page("/queues?view=all&priority=urgent&channel=phone").await);
    assert_eq!(numbers.len(), 1);
    // Another agent cannot delete someone's view; the owner can.
    let id = html.split("action=\"/queues/views/").nth(1).map(|r| r.split('/').next().unwrap().to_owned());
    assert!(id.is_none(), "an agent is offered no delete for a shared view: {html}");
    let mine = agent.page("/queues").await;
    let ids: Vec<String> = mine.split("action=\"/queues/views/").skip(1).map(|r| r.split('/').next().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 1, "the agent may delete only its own view");
    assert_eq!(other.post(&format!("/queues/views/{}/delete", ids[0]), &[]).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(agent.post(&format!("/queues/views/{}/delete", ids[0]), &[]).await.status(), StatusCode::SEE_OTHER);
    assert!(!agent.page("/queues").await.contains("My urgent calls"));
}

async fn a_row_names_its_assignee_and_its_stage_not_their_keys(app: TestApp) {
    let (browser, _) = ConsoleSession::person(&app, "Queue Agent", "queue.agent@desk.test", "agent").await;
    let wang = app.create_staff("Wang Fang 王芳", "wang@desk.test", "agent").await;
    let ticket = app.create_ticket(json!({"title": "named row", "assignee_id": wang["id"]})).await;
    assert_eq!(app.transition(id(&ticket), "needs_analysis").await.status(), StatusCode::OK);
    let page = browser.page("/queues?view=all").await;
    let number = ticket["number"].as_str().unwrap();
    let row =
        page.split(&format!("data-href=\"/tickets/{number}\"")).nth(1).and_then(|r| r.split("</tr>").next()).expect("the ticket's row");
    assert!(row.contains("<td>Wang Fang 王芳</td>"), "{row}");
    assert!(!row.contains(wang["id"].as_str().unwrap()), "the row shows the assignee's id: {row}");
    assert!(row.contains("<td>Needs analysis</td>"), "{row}");
    assert!(!row.contains("needs_analysis"), "the row shows the stage's key: {row}");
    // The stage's own clock is labelled with the stage's name too.
    assert!(row.contains("Stage Needs analysis"), "{row}");
}
