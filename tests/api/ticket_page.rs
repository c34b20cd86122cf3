//! The console's ticket page over HTTP, on both backends: what it shows, the forms that act on
//! the ticket (their refusals inline, never a bare error page), stale forms that are not
//! applied, and a partner technician who sees only its own delegated ticket.

use crate::helpers::{body, ConsoleSession, TestApp, CONSOLE_PASSWORD};
use crate::on_both_backends;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    the_page_shows_the_ticket_its_stages_sla_and_timeline_inert,
    replies_notes_and_moves_go_through_forms_and_refusals_show_inline,
    the_certification_gate_refuses_then_a_supervisor_overrides_with_a_reason,
    a_stale_form_is_not_applied_and_shows_what_changed_since,
    a_review_lets_the_ticket_leave_a_reviewed_stage,
    a_partner_technician_sees_only_its_delegated_ticket,
    a_plugin_guard_refusal_shows_inline_with_the_plugins_reason,
    an_htmx_post_answers_the_changed_parts_not_a_redirect,
    htmx_refusals_come_back_as_fragments_keeping_what_was_typed,
    the_live_stream_does_not_announce_what_the_page_shows,
);

pub const HOSTILE: &str = r#"<script>alert(1)</script>"><img src=x onerror=alert(2)>"#;

fn hostile_is_inert(html: &str) {
    assert!(!html.contains("<script>alert(1)"), "raw script tag in the page");
    assert!(!html.contains("<img src=x"), "raw img tag in the page");
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "the text is shown, escaped");
}

fn location(r: &reqwest::Response) -> String {
    r.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

/// The value of the hidden `name` field of the first form posting to `action`.
fn hidden(html: &str, action: &str, name: &str) -> String {
    let form = html.split(&format!("action=\"{action}\"")).nth(1).unwrap_or_else(|| panic!("no form for {action}"));
    let marker = format!("name=\"{name}\" value=\"");
    let start = form.find(&marker).unwrap_or_else(|| panic!("no {name} in {action}")) + marker.len();
    form[start..].split('"').next().unwrap().to_owned()
}

/// The form of `action` on `page` with its hidden version and seen, and `extra`.
fn form_of(page: &str, action: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut form = vec![("version".to_owned(), hidden(page, action, "version")), ("seen".to_owned(), hidden(page, action, "seen"))];
    form.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    form
}

fn pairs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

pub(crate) async fn post_form(session: &ConsoleSession, page: &str, action: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    session.post(action, &pairs(&form_of(page, action, extra))).await
}

/// The same post as htmx sends it; `page` may be an earlier answer's fragments.
async fn post_htmx(session: &ConsoleSession, page: &str, action: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    session.post_htmx(action, &pairs(&form_of(page, action, extra))).await
}

/// The out-of-band part of an htmx answer whose root element has `id`, up to the next part.
fn part<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no part {id} in {html}"));
    let rest = &html[start..];
    // Past its own `hx-swap-oob`, up to the next part's.
    let own = rest.find(" hx-swap-oob=\"").map_or(0, |i| i + 1);
    let end = rest[own..].find(" hx-swap-oob=\"").map_or(rest.len(), |i| i + own);
    &rest[..end]
}

async fn ticket(app: &TestApp, number: &str) -> Value {
    body(app.get(&format!("/api/v1/tickets/{number}")).await).await
}

async fn the_page_shows_the_ticket_its_stages_sla_and_timeline_inert(app: TestApp) {
    let t = app
        .create_ticket(json!({
            "title": HOSTILE, "customer": {"name": HOSTILE, "tier": "standard"}, "tags": ["vip"],
            "custom_fields": {"serial": "SN-42"}, "description": HOSTILE,
        }))
        .await;
    let number = t["number"].as_str().unwrap();
    let complaint = app.create_ticket(json!({"title": "Complaint about it", "kind": "complaint", "origin_ticket_id": number})).await;
    let (agent, _) = ConsoleSession::person(&app, "Ada Agent", "ada@desk.test", "agent").await;
    app.post(&format!("/api/v1/tickets/{number}/comments"), &json!({"body": HOSTILE, "visibility": "public"})).await;

    let html = agent.page(&format!("/tickets/{number}")).await;
    hostile_is_inert(&html);
    assert!(html.contains(number) && html.contains("<dd>Phone</dd>") && html.contains("High") && html.contains("vip"), "{html}");
    assert!(html.contains("serial") && html.contains("SN-42"), "custom fields are shown");
    assert!(html.contains(complaint["number"].as_str().unwrap()), "the complaint is linked");
    // The process as its stages, the current one marked, and only the moves it allows.
    assert!(html.contains(r#"<li aria-current="step" class="current">Consultation</li>"#), "{html}");
    assert_eq!(html.matches("aria-current=\"step\"").count(), 1);
    for allowed in ["needs_analysis", "closed", "cancelled"] {
        assert!(html.contains(&format!("name=\"to\" value=\"{allowed}\"")), "{allowed} offered");
    }
    assert!(!html.contains("name=\"to\" value=\"delivery\""), "a move the process refuses is not offered");
    // The SLA panel: each clock with its target and why the policy applies.
    assert!(
        html.contains("id=\"ticket-sla\"") && html.contains("<h3>First response</h3>") && html.contains("<h3>Resolution</h3>"),
        "{html}"
    );
    assert!(html.contains("class=\"hint sla-why\""));
    // The live-update hook and the timeline.
    assert!(html.contains("id=\"ticket-live\"") && html.contains("id=\"timeline\""));
    assert!(html.contains("Opened") && html.contains("Public: the customer sees this"));
    // By id too; an unknown ticket is the not-found page.
    assert!(agent.page(&format!("/tickets/{}", t["id"].as_str().unwrap())).await.contains(number));
    assert_eq!(agent.get("/tickets/T-999999").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(agent.get("/tickets/nonsense").await.status(), StatusCode::NOT_FOUND);
    // Signed out: to the sign-in page, back here afterwards.
    let r = ConsoleSession::anonymous(&app).get(&format!("/tickets/{number}")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/sign-in?next=/tickets/"));
}

async fn replies_notes_and_moves_go_through_forms_and_refusals_show_inline(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let number = t["number"].as_str().unwrap();
    let base = format!("/tickets/{number}");
    let (agent, _) = ConsoleSession::person(&app, "Ada Agent", "ada@desk.test", "agent").await;
    let page = agent.page(&base).await;
    let r = post_form(&agent, &page, &format!("{base}/comment"), &[("visibility", "public"), ("body", "We are on it")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("{base}#timeline"));
    let r = post_form(&agent, &page, &format!("{base}/comment"), &[("visibility", "internal"), ("body", "Check the fuse")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "a comment is no edit: an older page still comments");
    // An empty comment: the page again with the message, the choice kept.
    let r = post_form(&agent, &page, &format!("{base}/comment"), &[("visibility", "internal"), ("body", "  ")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("must not be empty") && html.contains("id=\"visibility-internal\" checked"), "{html}");

    let html = agent.page(&base).await;
    assert!(html.contains("class=\"event public\"") && html.contains("We are on it"));
    assert!(html.contains("class=\"event internal\"") && html.contains("Internal: staff only") && html.contains("Check the fuse"));
    // Comments only: the page and its timeline fragment.
    let only = agent.page(&format!("{base}?comments=1")).await;
    assert!(only.contains("We are on it") && !only.contains("<strong>Opened</strong>"), "{only}");
    let fragment = agent.page(&format!("{base}/timeline?comments=1")).await;
    assert!(fragment.starts_with("<section") && fragment.contains("Check the fuse") && !fragment.contains("<strong>Opened</strong>"));

    // Moves: allowed ones go; to delivery, then out of it without a review: refused inline.
    for to in ["needs_analysis", "solution_design", "delivery"] {
        let page = agent.page(&base).await;
        let r = post_form(&agent, &page, &format!("{base}/move"), &[("to", to)]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "move to {to}");
    }
    let page = agent.page(&base).await;
    assert!(page.contains(r#"<li aria-current="step" class="current">Delivery</li>"#));
    let r = post_form(&agent, &page, &format!("{base}/move"), &[("to", "after_sales")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("requires a passing quality review") && html.contains("id=\"move-error\""), "{html}");
    assert_eq!(ticket(&app, number).await["stage"], "delivery");
    // A move the process does not allow, posted by hand: refused inline too.
    let page = agent.page(&base).await;
    let r = post_form(&agent, &page, &format!("{base}/move"), &[("to", "consultation")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("cannot move from"));

    // Priority.
    let page = agent.page(&base).await;
    assert_eq!(post_form(&agent, &page, &format!("{base}/priority"), &[("priority", "urgent")]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(ticket(&app, number).await["priority"], "urgent");
}

async fn certify(app: &TestApp, staff: &Value) {
    let r = app
        .post(
            "/api/v1/courses",
            &json!({"code": "SOLUTION-DESIGN", "title": "Solution design", "certifies": true, "pass_score": 70, "method": "exam"}),
        )
        .await;
    assert!(r.status() == StatusCode::CREATED || r.status() == StatusCode::CONFLICT, "{}", r.status());
    let r = app
        .post(
            "/api/v1/training-records",
            &json!({"course_code": "SOLUTION-DESIGN", "staff_id": staff["id"], "completed_at": "2026-01-01T00:00:00Z", "score": 90, "assessor": "Trainer"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}

async fn the_certification_gate_refuses_then_a_supervisor_overrides_with_a_reason(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let number = t["number"].as_str().unwrap();
    let base = format!("/tickets/{number}");
    for to in ["needs_analysis", "solution_design"] {
        assert_eq!(app.transition(number, to).await.status(), StatusCode::OK);
    }
    let certified = app.create_staff("Cert Ified", "cert@desk.test", "agent").await;
    certify(&app, &certified).await;
    let (agent, uncertified) = ConsoleSession::person(&app, "Una Certified", "una@desk.test", "agent").await;
    let page = agent.page(&base).await;
    // The picker: eligible people with their load, and those the gate refuses apart.
    let eligible = page.split("May work this stage").nth(1).unwrap().split("</optgroup>").next().unwrap();
    assert!(eligible.contains("Cert Ified (support) · 0 open tickets"), "{page}");
    let refused = page.split("<optgroup label=\"Lacks the stage").nth(1).unwrap_or_else(|| panic!("{page}"));
    assert!(refused.contains("Una Certified"));
    assert!(!page.contains("id=\"override-reason\""), "an agent cannot override");

    let una = uncertified["id"].as_str().unwrap();
    let r = post_form(&agent, &page, &format!("{base}/assign"), &[("assignee", una)]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("does not hold a valid SOLUTION-DESIGN certification") && html.contains("id=\"assign-error\""), "{html}");
    assert!(ticket(&app, number).await["assignee_id"].is_null());

    let (supervisor, _) = ConsoleSession::person(&app, "Sue Supervisor", "sue@desk.test", "supervisor").await;
    let page = supervisor.page(&base).await;
    assert!(page.contains("id=\"override-reason\""));
    let r = post_form(&supervisor, &page, &format!("{base}/assign"), &[("assignee", una), ("override_reason", "")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "without a reason the gate still refuses");
    assert!(r.text().await.unwrap().contains("aria-describedby=\"override-hint\" aria-invalid=\"true\""));
    let r = post_form(&supervisor, &page, &format!("{base}/assign"), &[("assignee", una), ("override_reason", "Only one on site")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(ticket(&app, number).await["assignee_id"], uncertified["id"]);
    let html = supervisor.page(&base).await;
    assert!(html.contains("Certification gate overridden") && html.contains("Only one on site"), "{html}");
    // Eligible staff need no override.
    let page = agent.page(&base).await;
    let r = post_form(&agent, &page, &format!("{base}/assign"), &[("assignee", certified["id"].as_str().unwrap())]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

async fn a_stale_form_is_not_applied_and_shows_what_changed_since(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let number = t["number"].as_str().unwrap();
    let base = format!("/tickets/{number}");
    let (ada, _) = ConsoleSession::person(&app, "Ada Agent", "ada@desk.test", "agent").await;
    let (bo, _) = ConsoleSession::person(&app, "Bo Agent", "bo@desk.test", "agent").await;
    let ada_page = ada.page(&base).await;
    let bo_page = bo.page(&base).await;
    assert_eq!(post_form(&bo, &bo_page, &format!("{base}/priority"), &[("priority", "urgent")]).await.status(), StatusCode::SEE_OTHER);

    let r = post_form(&ada, &ada_page, &format!("{base}/priority"), &[("priority", "low")]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(html.contains("Someone changed this ticket meanwhile"), "{html}");
    let conflict = html.split("id=\"conflict-title\"").nth(1).unwrap().split("</section>").next().unwrap();
    assert!(conflict.contains("Bo Agent") && conflict.contains("Priority: High → Urgent"), "{conflict}");
    assert_eq!(ticket(&app, number).await["priority"], "urgent", "never overwritten");
    // A move from the stale page is not applied either.
    let r = post_form(&ada, &ada_page, &format!("{base}/move"), &[("to", "needs_analysis")]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(ticket(&app, number).await["stage"], "consultation");
    let html = r.text().await.unwrap();
    let conflict = html.split("id=\"conflict-title\"").nth(1).unwrap().split("</section>").next().unwrap();

    // Applying again, knowingly, from the conflict's form.
    let form = conflict.split("<form").nth(1).unwrap();
    let action = form.split("action=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let fields: Vec<(String, String)> = form
        .split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|f| {
            let name = f.split('"').next().unwrap().to_owned();
            let value = f.split("value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
            (name, value)
        })
        .collect();
    assert!(fields.contains(&("to".into(), "needs_analysis".into())), "{fields:?}");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(ada.post(&action, &pairs).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(ticket(&app, number).await["stage"], "needs_analysis");
}

async fn a_review_lets_the_ticket_leave_a_reviewed_stage(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let number = t["number"].as_str().unwrap();
    let base = format!("/tickets/{number}");
    for to in ["needs_analysis", "solution_design", "delivery"] {
        assert_eq!(app.transition(number, to).await.status(), StatusCode::OK);
    }
    let (agent, _) = ConsoleSession::person(&app, "Ada Agent", "ada@desk.test", "agent").await;
    assert!(!agent.page(&base).await.contains("id=\"review\""), "an agent does not review");
    let (qa, _) = ConsoleSession::person(&app, "Quinn QA", "quinn@desk.test", "qa").await;
    let page = qa.page(&base).await;
    assert!(page.contains("id=\"review\"") && page.contains("The work is documented"));
    // A pass with an unticked item contradicts itself: refused inline.
    let r = post_form(&qa, &page, &format!("{base}/review"), &[("outcome", "pass"), ("score", "90"), ("check0", "1")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("a review with a failed checklist item cannot pass"));
    let r = post_form(
        &qa,
        &page,
        &format!("{base}/review"),
        &[("outcome", "pass"), ("score", "90"), ("check0", "1"), ("check1", "1"), ("check2", "1")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = agent.page(&base).await;
    assert!(page.contains("Reviewed"));
    assert_eq!(post_form(&agent, &page, &format!("{base}/move"), &[("to", "after_sales")]).await.status(), StatusCode::SEE_OTHER);
    // Closed: no more moves; reopened where the reopen rules allow.
    let page = agent.page(&base).await;
    assert_eq!(post_form(&agent, &page, &format!("{base}/move"), &[("to", "closed")]).await.status(), StatusCode::SEE_OTHER);
    let page = agent.page(&base).await;
    assert!(!page.contains("name=\"to\""), "no moves from a final stage");
    let r = post_form(&agent, &page, &format!("{base}/reopen"), &[("reason", "not fixed")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(ticket(&app, number).await["reopen_count"], 1);
}

async fn a_partner_technician_sees_only_its_delegated_ticket(app: TestApp) {
    let partner_body = |name: &str| {
        json!({"name": name, "kind": "subcontractor", "categories": ["hardware"],
               "contract": {"start": "2020-01-01T00:00:00Z", "first_response": "4h", "resolution": "2d"}})
    };
    let fixit = body(app.post("/api/v1/partners", &partner_body(HOSTILE)).await).await;
    let other = body(app.post("/api/v1/partners", &partner_body("Other Ltd")).await).await;
    let mine = app.create_ticket(json!({"title": "Broken router"})).await;
    let theirs = app.create_ticket(json!({"title": "Not yours"})).await;
    let unrelated = app.create_ticket(json!({"title": "Nobody's"})).await;
    let base = format!("/tickets/{}", mine["number"].as_str().unwrap());

    // A supervisor delegates from the page; the OLA due times show.
    let (supervisor, _) = ConsoleSession::person(&app, "Sue Supervisor", "sue@desk.test", "supervisor").await;
    let page = supervisor.page(&base).await;
    let r =
        post_form(&supervisor, &page, &format!("{base}/delegate"), &[("partner_id", fixit["id"].as_str().unwrap()), ("note", "router")])
            .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = supervisor.page(&base).await;
    hostile_is_inert(&html);
    assert!(html.contains("s first response due") && html.contains("s resolution due"), "{html}");
    let theirs_number = theirs["number"].as_str().unwrap();
    app.post(&format!("/api/v1/tickets/{theirs_number}/delegation"), &json!({"partner_id": other["id"]})).await;
    app.post(
        &format!("/api/v1/tickets/{}/comments", mine["number"].as_str().unwrap()),
        &json!({"body": "secret note", "visibility": "internal"}),
    )
    .await;

    let tech = app.create_staff("Tina Tech", "tina@fixit.test", "agent").await;
    ConsoleSession::login_for(&app, &tech, json!({"partner_id": fixit["id"]})).await;
    let mut partner = ConsoleSession::anonymous(&app);
    assert_eq!(partner.sign_in("tina@fixit.test", CONSOLE_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let html = partner.page(&base).await;
    assert!(html.contains("Broken router") && !html.contains("secret note"), "internal notes stay inside");
    assert!(!html.contains("id=\"assign\"") && !html.contains("id=\"ticket-sla\"") && !html.contains("id=\"priority\""), "{html}");
    assert!(!html.contains("id=\"visibility-internal\""), "a partner replies publicly only");
    assert!(html.contains("name=\"to\""), "a partner works its ticket's stages");
    for number in [theirs_number, unrelated["number"].as_str().unwrap()] {
        assert_eq!(partner.get(&format!("/tickets/{number}")).await.status(), StatusCode::NOT_FOUND, "{number}");
        let r = partner.post(&format!("/tickets/{number}/comment"), &[("visibility", "public"), ("body", "hi")]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    let r = post_form(&partner, &html, &format!("{base}/comment"), &[("visibility", "internal"), ("body", "psst")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = partner.post(&format!("{base}/priority"), &[("version", "1"), ("priority", "low")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post_form(&partner, &html, &format!("{base}/comment"), &[("visibility", "public"), ("body", "On site at 3")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(supervisor.page(&base).await.contains("On site at 3"));
}

/// A directory holding only the bundled rhai plugin `ecommerce-returns` (no guest build).
fn rhai_plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/ecommerce-returns");
    let target = dir.path().join("ecommerce-returns");
    std::fs::create_dir_all(target.join("processes")).unwrap();
    for file in ["plugin.toml", "returns.rhai", "processes/ecommerce.toml"] {
        std::fs::copy(source.join(file), target.join(file)).unwrap();
    }
    dir
}

async fn a_plugin_guard_refusal_shows_inline_with_the_plugins_reason(app: TestApp) {
    let plugins = rhai_plugin_dir();
    let root = plugins.path().to_owned();
    let app = TestApp::spawn_with(app.backend, move |c| {
        c.plugins.dirs = vec![root];
        c.plugins.cache_dir = None;
    })
    .await
    .expect("backend available");
    let t = app.create_ticket(json!({"process": "ecommerce", "title": "Order 77"})).await;
    let number = t["number"].as_str().unwrap();
    let base = format!("/tickets/{number}");
    let (agent, _) = ConsoleSession::person(&app, "Ada Agent", "ada@desk.test", "agent").await;
    let page = agent.page(&base).await;
    assert_eq!(post_form(&agent, &page, &format!("{base}/move"), &[("to", "payment")]).await.status(), StatusCode::SEE_OTHER);
    let page = agent.page(&base).await;
    let r = post_form(&agent, &page, &format!("{base}/move"), &[("to", "shipping")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    let error = html.split("id=\"move-error\" role=\"alert\">").nth(1).unwrap_or_else(|| panic!("{html}"));
    assert!(error.starts_with("ecommerce-returns: ") && error.contains("record the payment reference"), "{error}");
    assert!(html.contains("id=\"composer\""), "the whole page, not an error page");
    assert_eq!(ticket(&app, number).await["stage"], "payment");
}

async fn an_htmx_post_answers_the_changed_parts_not_a_redirect(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let number = t["number"].as_str().unwrap();
    let base = format!("/tickets/{number}");
    let (agent, _) = ConsoleSession::person(&app, "Ada Agent", "ada@desk.test", "agent").await;
    let page = agent.page(&base).await;
    assert!(page.contains(&format!("hx-post=\"{base}/comment\"")) && page.contains("id=\"timeline-events\""), "{page}");

    let r = post_htmx(&agent, &page, &format!("{base}/comment"), &[("visibility", "public"), ("body", "We are on it")]).await;
    assert_eq!(r.status(), StatusCode::OK, "parts, not a 303");
    let html = r.text().await.unwrap();
    assert!(!html.contains("<html") && !html.contains("<main"), "fragments, not the page: {html}");
    for id in ["ticket-header", "ticket-live-panel", "ticket-conflict", "ticket-stages", "composer", "ticket-actions", "ticket-sla"] {
        let root = part(&html, id).split('>').next().unwrap();
        assert!(root.contains("hx-swap-oob=\"true\""), "{id} swapped: {root}");
    }
    // The composer comes back empty, with the focus; the timeline gets only the new event.
    let composer = part(&html, "composer");
    assert!(composer.contains("></textarea>") && composer.contains("autofocus"), "{composer}");
    let appended = html.split("hx-swap-oob=\"beforeend:#timeline-events\"").nth(1).unwrap();
    assert!(appended.contains("We are on it") && !appended.contains("<strong>Opened</strong>"), "{appended}");
    // The live panel restarts where the answer was read, knowing the page shows the new event.
    let panel = part(&html, "ticket-live-panel");
    let last = app.events(number).await.len();
    assert!(panel.contains("data-live-after=\"") && panel.contains(&format!("data-live-shown=\"{last}\"")), "{panel}");

    // A move from the answer's forms: the stages and actions swapped at the new version; the
    // composer is left as the person has it, only its hidden version follows.
    let r = post_htmx(&agent, &html, &format!("{base}/move"), &[("to", "needs_analysis"), ("timeline", "comments")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let stages = part(&html, "ticket-stages");
    assert!(stages.contains(r#"<li aria-current="step" class="current">Needs analysis</li>"#), "{stages}");
    assert!(!html.contains("id=\"composer\""), "the composer keeps what is typed there: {html}");
    let version = ticket(&app, number).await["version"].to_string();
    assert!(html.contains(&format!("value=\"{version}\" hx-swap-oob=\"outerHTML:#composer input[name=version]\"")), "{html}");
    assert!(part(&html, "ticket-actions").contains(&format!("name=\"version\" value=\"{version}\"")));
    let appended = html.split("hx-swap-oob=\"beforeend:#timeline-events\"").nth(1).unwrap();
    assert!(!appended.contains("<li"), "the timeline shows comments only: no stage change appended: {appended}");
    assert_eq!(ticket(&app, number).await["stage"], "needs_analysis");

    // Without htmx the same forms still answer a redirect.
    let r = post_form(&agent, &html, &format!("{base}/move"), &[("to", "solution_design")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // A refusal that is a page (no such ticket) makes htmx load it as a page.
    let r = agent.post_htmx("/tickets/T-999999/comment", &[("visibility", "public"), ("body", "hi")]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.headers()["hx-refresh"], "true");
}

async fn htmx_refusals_come_back_as_fragments_keeping_what_was_typed(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let number = t["number"].as_str().unwrap();
    let base = format!("/tickets/{number}");
    let (ada, _) = ConsoleSession::person(&app, "Ada Agent", "ada@desk.test", "agent").await;
    let (bo, _) = ConsoleSession::person(&app, "Bo Agent", "bo@desk.test", "agent").await;
    let page = ada.page(&base).await;

    // 422: an empty internal note; the composer with the message, the choice kept.
    let r = post_htmx(&ada, &page, &format!("{base}/comment"), &[("visibility", "internal"), ("body", "  ")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    let composer = part(&html, "composer");
    assert!(composer.contains("must not be empty") && composer.contains("id=\"visibility-internal\" checked"), "{composer}");
    assert!(composer.contains("aria-invalid=\"true\" autofocus"), "the field to correct takes the focus: {composer}");
    // 422: a move the process refuses, the note typed for it kept beside the message.
    let r = post_htmx(&ada, &page, &format!("{base}/move"), &[("to", "delivery"), ("note", "typed <b>note</b>")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let stages = r.text().await.unwrap();
    let stages = part(&stages, "ticket-stages");
    assert!(stages.contains("cannot move from") && stages.contains("id=\"move-error\""), "{stages}");
    assert!(stages.contains("value=\"typed &#60;b&#62;note&#60;/b&#62;\" autofocus"), "{stages}");
    assert_eq!(ticket(&app, number).await["stage"], "consultation");

    // 409: Bo raised the priority meanwhile; Ada's stale move and priority are not applied.
    let bo_page = bo.page(&base).await;
    assert_eq!(post_form(&bo, &bo_page, &format!("{base}/priority"), &[("priority", "urgent")]).await.status(), StatusCode::SEE_OTHER);
    let r = post_htmx(&ada, &page, &format!("{base}/move"), &[("to", "needs_analysis"), ("note", "after the call")]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    let conflict = part(&html, "ticket-conflict");
    assert!(conflict.contains("Someone changed this ticket meanwhile") && conflict.contains("Bo Agent"), "{conflict}");
    assert!(conflict.contains("Priority: High → Urgent") && conflict.contains(&format!("hx-post=\"{base}/move\"")), "{conflict}");
    assert!(conflict.contains(r#"name="note" value="after the call""#), "the reapply form keeps the input: {conflict}");
    assert!(part(&html, "ticket-stages").contains("value=\"after the call\""), "the move's note stays in its field");
    assert!(part(&html, "ticket-header").contains("priority-urgent"), "the parts show the ticket as it is now");
    assert_eq!(ticket(&app, number).await["stage"], "consultation");
    assert_eq!(ticket(&app, number).await["priority"], "urgent");
    // The person applies it again from the conflict's form, knowingly.
    let form = conflict.split("<form").nth(1).unwrap();
    let fields: Vec<(String, String)> = form
        .split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|f| (f.split('"').next().unwrap().to_owned(), f.split("value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()))
        .collect();
    let r = ada.post_htmx(&format!("{base}/move"), &pairs(&fields)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!part(&r.text().await.unwrap(), "ticket-conflict").contains("conflict-title"), "the conflict is cleared");
    assert_eq!(ticket(&app, number).await["stage"], "needs_analysis");
}

async fn the_live_stream_does_not_announce_what_the_page_shows(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let number = t["number"].as_str().unwrap();
    let base = format!("/tickets/{number}");
    let (ada, _) = ConsoleSession::person(&app, "Ada Agent", "ada@desk.test", "agent").await;
    let before = crate::live_updates::settled_after(&app, &t).await;
    let page = ada.page(&base).await;
    let r = post_htmx(&ada, &page, &format!("{base}/comment"), &[("visibility", "public"), ("body", "Mine")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let shown = part(&html, "ticket-live-panel").split("data-live-shown=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    // A stream from before Ada's comment, told what the page shows: it reads her comment but
    // announces only what came after it (someone else's).
    let id = t["id"].as_str().unwrap();
    let mut stream = crate::live_updates::Stream::open(&ada, &format!("/live?ticket={id}&after={before}&shown={shown}"), None).await;
    app.post(&format!("/api/v1/tickets/{number}/comments"), &json!({"body": "Theirs", "visibility": "public"})).await;
    let theirs = crate::live_updates::settled_after(&app, &t).await;
    let changed = stream.next_of("changed").await;
    assert_eq!(changed.id.as_deref(), Some(theirs.as_str()), "the first news is the other comment: {changed:?}");
    let news = app.events(number).await.len() - shown.parse::<usize>().unwrap();
    assert_eq!(changed.data["events"], news, "only the events after Ada's: {changed:?}");
    assert!(changed.data["html"].as_str().unwrap().contains(&format!("{news} new events")));
    let r = ada.get(&format!("/live?ticket={id}&shown=x")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "a shown that is no event number is refused");
}
