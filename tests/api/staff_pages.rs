//! The staff and training screens over HTTP, on both backends: `/staff` (filters, keyset paging,
//! each person's certification standing), `/staff/{id}` (edit with inline refusals and a 409 for
//! a taken email, recording a training that makes the certification current, certification
//! events, open load, gate overrides) and `/training` (courses created, changed and deleted, a
//! course in use refused, the expiring list, every gate override with keyset paging). What the
//! forms save, the API reads; agents read but are refused every change.

use crate::helpers::{body, ConsoleSession, TestApp};
use crate::on_both_backends;
use crate::ticket_page::post_form;
use crate::training::{create_course, iso_days_ago, record, ticket_in_solution_design};
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    the_staff_list_filters_pages_and_counts_each_persons_certifications,
    a_person_is_edited_with_refusals_beside_their_fields_and_a_taken_email_is_a_conflict,
    recording_a_training_makes_the_certification_current,
    courses_are_created_changed_and_one_in_use_is_refused,
    a_gate_override_appears_on_the_training_page_and_the_persons_page,
    the_expiring_list_takes_the_configured_window_by_default,
    an_agent_reads_staff_and_training_but_changes_nothing
);

async fn supervisor(app: &TestApp) -> (ConsoleSession, Value) {
    ConsoleSession::person(app, "Sue Supervisor", "sue@desk.test", "supervisor").await
}

fn location(r: &reqwest::Response) -> String {
    r.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// The page after `id="{id}"`, up to the end of its table.
fn table<'a>(html: &'a str, id: &str) -> &'a str {
    let after = html.split(&format!("id=\"{id}\"")).nth(1).unwrap_or_else(|| panic!("no #{id} in {html}"));
    after.split("</table>").next().unwrap()
}

/// The table row naming `name`.
fn row<'a>(table: &'a str, name: &str) -> &'a str {
    table.split("<tr>").find(|r| r.contains(name)).unwrap_or_else(|| panic!("no row with {name} in {table}"))
}

/// The href of the link with this id, as a path to request.
fn link(html: &str, id: &str) -> String {
    let tag = html.split(&format!("id=\"{id}\"")).next().unwrap().rsplit("<a ").next().unwrap();
    tag.split("href=\"").nth(1).unwrap().split('"').next().unwrap().replace("&#38;", "&").replace("&amp;", "&")
}

async fn the_staff_list_filters_pages_and_counts_each_persons_certifications(app: TestApp) {
    let (sue, _) = supervisor(&app).await;
    create_course(&app).await;
    let current = app.create_staff("Cora Current", "cora@desk.test", "agent").await;
    let soon = app.create_staff("Eve Expiring", "eve@desk.test", "agent").await;
    let lapsed = app.create_staff("Lou Lapsed", "lou@desk.test", "qa").await;
    record(&app, &current, 1, 90).await;
    record(&app, &soon, 350, 90).await;
    record(&app, &lapsed, 400, 90).await;
    let r = app.patch(&format!("/api/v1/staff/{}", id(&lapsed)), None, &json!({"team": "north", "active": false})).await;
    assert_eq!(r.status(), StatusCode::OK);

    let html = sue.page("/staff").await;
    assert!(html.contains("href=\"/staff\" aria-current=\"page\""), "the menu marks the section");
    assert!(html.contains("href=\"/training\""), "the training screen is in the menu");
    let staff = table(&html, "staff");
    let cora = row(staff, "Cora Current");
    assert!(cora.contains(&format!("href=\"/staff/{}\"", id(&current))), "{cora}");
    assert!(cora.contains("current 1 · expiring 0 · expired 0 · missing 0"), "{cora}");
    assert!(row(staff, "Eve Expiring").contains("current 0 · expiring 1 · expired 0 · missing 0"));
    let lou = row(staff, "Lou Lapsed");
    assert!(lou.contains("<td>qa</td><td>north</td><td>no</td>") && lou.contains("expired 1"), "{lou}");
    assert!(row(staff, "Sue Supervisor").contains("missing 1"));
    assert!(!html.contains("id=\"load-more\""), "one page");

    // The list API's filters.
    let html = sue.page("/staff?role=agent&team=&active=").await;
    let staff = table(&html, "staff");
    assert!(staff.contains("Cora Current") && staff.contains("Eve Expiring") && !staff.contains("Lou Lapsed"), "{staff}");
    assert!(html.contains("<option value=\"agent\" selected>"));
    let html = sue.page("/staff?team=north").await;
    assert!(table(&html, "staff").contains("Lou Lapsed") && !html.contains("Cora Current"));
    let html = sue.page("/staff?active=false").await;
    let staff = table(&html, "staff");
    assert!(staff.contains("Lou Lapsed") && !staff.contains("Sue Supervisor"), "{staff}");
    let html = sue.page("/staff?role=agent&active=false").await;
    assert!(html.contains("No staff member matches."), "{html}");
    assert_eq!(sue.get("/staff?role=captain").await.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Keyset paging: 50 a page, "load more" continues after the last one shown.
    for i in 0..48 {
        app.create_staff(&format!("Person {i:02}"), &format!("p{i}@desk.test"), "viewer").await;
    }
    let html = sue.page("/staff").await;
    let first = table(&html, "staff").to_owned();
    assert_eq!(first.matches("<tr><th scope=\"row\">").count(), 50);
    let next = link(&html, "load-more");
    assert!(next.starts_with("/staff?role=&team=&active=&after="), "{next}");
    let html = sue.page(&next).await;
    let rest = table(&html, "staff");
    assert_eq!(rest.matches("<tr><th scope=\"row\">").count(), 2, "{rest}");
    // Ids made in the same millisecond need not sort in creation order: every person is on
    // exactly one of the two pages, whichever two the second holds.
    for i in 0..48 {
        let name = format!(">Person {i:02}<");
        assert!(first.contains(&name) != rest.contains(&name), "{name} on both pages or neither");
    }
    assert!(!html.contains("id=\"load-more\""));
}

async fn a_person_is_edited_with_refusals_beside_their_fields_and_a_taken_email_is_a_conflict(app: TestApp) {
    let (sue, _) = supervisor(&app).await;
    let ann = app.create_staff("Ann Agent", "ann@desk.test", "agent").await;
    let path = format!("/staff/{}", id(&ann));
    let html = sue.page(&path).await;
    assert!(html.contains("<h1 id=\"person-name\">Ann Agent</h1>"), "{html}");
    assert!(html.contains("id=\"person-form\"") && html.contains("value=\"ann@desk.test\""), "the edit form holds the details");
    let details = html.split("id=\"details\"").nth(1).unwrap().split("</dl>").next().unwrap();
    assert!(details.contains("<dt>Open tickets</dt><dd>0</dd>"), "{details}");

    // Bad fields: each message beside its input, what was typed kept.
    let r = sue.post(&path, &[("name", " "), ("email", "not-an-email"), ("role", "agent"), ("team", "south")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"name-error\"") && html.contains("id=\"email-error\""), "{html}");
    assert!(html.contains("value=\"not-an-email\"") && html.contains("value=\"south\""), "the input is kept");
    assert!(html.contains("aria-describedby=\"email-error\""));
    let r = sue.post(&path, &[("name", "Ann"), ("email", "ann@desk.test"), ("role", "captain")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("id=\"role-error\""));
    // A taken email is the API's 409, said beside the email.
    let r = sue.post(&path, &[("name", "Ann"), ("email", "sue@desk.test"), ("role", "agent"), ("active", "true")]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"email-error\"") && html.contains("value=\"sue@desk.test\""), "{html}");

    // A good edit is the API's staff member.
    let r = sue.post(&path, &[("name", "Ann Lee"), ("email", "ann.lee@desk.test"), ("role", "qa"), ("team", "south")]).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, format!("{path}?done=saved")));
    let api = body(app.get(&format!("/api/v1/staff/{}", id(&ann))).await).await;
    assert_eq!(
        (api["name"].as_str(), api["email"].as_str(), api["role"].as_str(), api["team"].as_str(), api["active"].as_bool()),
        (Some("Ann Lee"), Some("ann.lee@desk.test"), Some("qa"), Some("south"), Some(false)),
        "an unticked box is inactive"
    );
    let html = sue.page(&format!("{path}?done=saved")).await;
    assert!(html.contains("role=\"status\">Saved.</p>"));
    assert_eq!(sue.get("/staff/not-an-id").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(sue.get("/staff/0190d4b5-0000-7000-8000-000000000000").await.status(), StatusCode::NOT_FOUND);
}

async fn recording_a_training_makes_the_certification_current(app: TestApp) {
    let (sue, _) = supervisor(&app).await;
    let path = format!("/staff/{}", id(&app.create_staff("Ann Agent", "ann@desk.test", "agent").await));
    let html = sue.page(&path).await;
    assert!(html.contains("There is no course to record yet."), "{html}");
    create_course(&app).await;
    let html = sue.page(&path).await;
    let certs = table(&html, "certifications");
    assert!(certs.contains("Solution design (SOLUTION-DESIGN)") && certs.contains("data-state=\"missing\""), "{certs}");
    assert!(html.contains("No training recorded yet."));
    assert!(html.contains("value=\"Sue Supervisor\""), "the assessor defaults to the viewer");

    // Refused: not a date, not a number; then a date in the future, a course that does not exist.
    let r = sue
        .post(
            &format!("{path}/training"),
            &[("course_code", "SOLUTION-DESIGN"), ("completed_at", "yesterday"), ("score", "lots"), ("assessor", "Sue")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"completed_at-error\"") && html.contains("id=\"score-error\""), "{html}");
    assert!(html.contains("value=\"yesterday\"") && html.contains("value=\"lots\""));
    let r = sue
        .post(
            &format!("{path}/training"),
            &[("course_code", "SOLUTION-DESIGN"), ("completed_at", "2999-01-01"), ("score", "80"), ("assessor", "Sue")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("must not be in the future"));
    let r = sue
        .post(&format!("{path}/training"), &[("course_code", "NOPE"), ("completed_at", "2026-01-01"), ("score", "80"), ("assessor", "Sue")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("id=\"course_code-error\""));

    // A failing score is recorded, not certifying; a pass makes the certification current.
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    let r = sue
        .post(
            &format!("{path}/training"),
            &[("course_code", "SOLUTION-DESIGN"), ("completed_at", &today), ("score", "50"), ("assessor", "Sue")],
        )
        .await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, format!("{path}?done=recorded")));
    assert!(table(&sue.page(&path).await, "certifications").contains("data-state=\"missing\""));
    let r = sue
        .post(
            &format!("{path}/training"),
            &[("course_code", "SOLUTION-DESIGN"), ("completed_at", &today), ("score", "85"), ("assessor", "Sue"), ("notes", "Second try")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = sue.page(&format!("{path}?done=recorded")).await;
    assert!(html.contains("Training recorded."));
    let certs = table(&html, "certifications");
    assert!(certs.contains("data-state=\"valid\">current</td>") && certs.contains(" UTC</td>"), "{certs}");
    let records = table(&html, "records");
    assert_eq!(records.matches("<tr><th scope=\"row\">").count(), 2);
    let latest = records.split("<tr><th scope=\"row\">").nth(1).unwrap();
    assert!(latest.contains("<td>85</td><td>yes</td>") && latest.contains("Second try"), "newest first: {latest}");
    let api = body(app.get(&format!("/api/v1/training-records?staff_id={}", path.trim_start_matches("/staff/"))).await).await;
    assert_eq!(api.as_array().unwrap().len(), 2, "{api}");
}

async fn courses_are_created_changed_and_one_in_use_is_refused(app: TestApp) {
    let (sue, _) = supervisor(&app).await;
    let html = sue.page("/training").await;
    assert!(html.contains("href=\"/training\" aria-current=\"page\"") && html.contains("No course yet."), "{html}");
    // Refused: the code's rule, the validity's form and the score's range, beside each input.
    let r = sue
        .post(
            "/training/courses",
            &[
                ("code", "bad code"),
                ("title", "Safety"),
                ("validity", "soon"),
                ("pass_score", "70"),
                ("method", "exam"),
                ("certifies", "true"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"validity-error\"") && html.contains("value=\"soon\"") && html.contains("value=\"bad code\""), "{html}");
    let r = sue
        .post(
            "/training/courses",
            &[("code", "bad code"), ("title", "Safety"), ("validity", "365d"), ("pass_score", "170"), ("method", "exam")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"code-error\"") && html.contains("id=\"pass_score-error\""), "{html}");

    let r = sue
        .post(
            "/training/courses",
            &[
                ("code", "SAFETY"),
                ("title", "Site safety"),
                ("validity", "8w"),
                ("pass_score", "80"),
                ("method", "simulation"),
                ("certifies", "true"),
                ("description", "Yearly"),
            ],
        )
        .await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/training/courses/SAFETY?done=created".to_owned()));
    let api = body(app.get("/api/v1/courses/SAFETY").await).await;
    assert_eq!((api["title"].as_str(), api["validity"].as_str(), api["pass_score"].as_i64()), (Some("Site safety"), Some("8w"), Some(80)));
    assert_eq!(
        (api["certifies"].as_bool(), api["method"].as_str(), api["description"].as_str()),
        (Some(true), Some("simulation"), Some("Yearly"))
    );
    // The same code again is the API's 409, beside the code.
    let r = sue.post("/training/courses", &[("code", "SAFETY"), ("title", "Again"), ("pass_score", "80"), ("method", "exam")]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("id=\"code-error\""));

    let html = sue.page("/training/courses/SAFETY?done=created").await;
    assert!(html.contains("<h1>Course: Site safety</h1>") && html.contains("Created."), "{html}");
    let r = sue
        .post("/training/courses/SAFETY", &[("title", "Site safety II"), ("validity", ""), ("pass_score", "75"), ("method", "exam")])
        .await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/training/courses/SAFETY?done=saved".to_owned()));
    let api = body(app.get("/api/v1/courses/SAFETY").await).await;
    assert_eq!(
        (api["title"].as_str(), api["certifies"].as_bool(), api["pass_score"].as_i64()),
        (Some("Site safety II"), Some(false), Some(75))
    );
    assert!(api["validity"].is_null());
    let r = sue.post("/training/courses/SAFETY", &[("title", ""), ("pass_score", "75"), ("method", "exam")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("id=\"title-error\""));
    let courses = table(&sue.page("/training").await, "courses").to_owned();
    assert!(courses.contains("href=\"/training/courses/SAFETY\">SAFETY</a>") && courses.contains("Site safety II"), "{courses}");

    // A course with training records stays, and the page says so.
    let ann = app.create_staff("Ann Agent", "ann@desk.test", "agent").await;
    let r = app
        .post(
            "/api/v1/training-records",
            &json!({"staff_id": ann["id"], "course_code": "SAFETY", "completed_at": iso_days_ago(1), "score": 90, "assessor": "Sue"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = sue.post("/training/courses/SAFETY/delete", &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"course-error\"") && html.contains("training records refer to this course"), "{html}");
    assert_eq!(app.get("/api/v1/courses/SAFETY").await.status(), StatusCode::OK);
    // An unused course goes.
    let r = sue.post("/training/courses", &[("code", "SPARE"), ("title", "Spare"), ("pass_score", "50"), ("method", "exam")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = sue.post("/training/courses/SPARE/delete", &[]).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/training?done=deleted".to_owned()));
    assert_eq!(app.get("/api/v1/courses/SPARE").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(sue.get("/training/courses/SPARE").await.status(), StatusCode::NOT_FOUND);
}

async fn a_gate_override_appears_on_the_training_page_and_the_persons_page(app: TestApp) {
    let (sue, _) = supervisor(&app).await;
    create_course(&app).await;
    let ada = app.create_staff("Ada Uncertified", "ada@desk.test", "agent").await;
    let bob = app.create_staff("Bob Uncertified", "bob@desk.test", "agent").await;
    let ticket = ticket_in_solution_design(&app).await;
    let number = body(app.get(&format!("/api/v1/tickets/{ticket}")).await).await["number"].as_str().unwrap().to_owned();
    assert!(sue.page("/training").await.contains("No gate override yet."));

    // The supervisor assigns Ada past the gate on the ticket page, with a reason.
    let base = format!("/tickets/{number}");
    let page = sue.page(&base).await;
    let r = post_form(&sue, &page, &format!("{base}/assign"), &[("assignee", id(&ada)), ("override_reason", "Only one on site")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let html = sue.page("/training").await;
    let overrides = table(&html, "overrides");
    let first = row(overrides, "Ada Uncertified");
    assert!(first.contains(&format!("href=\"/staff/{}\"", id(&ada))), "{first}");
    assert!(first.contains(&format!("<a href=\"/tickets/{number}\">{number}</a>")), "{first}");
    assert!(
        first.contains("<td>solution_design</td><td>SOLUTION-DESIGN</td><td>missing</td><td>Only one on site</td><td>Sue Supervisor</td>"),
        "{first}"
    );
    assert!(first.contains(" UTC</td>"), "when, in the viewer's timezone");
    let html = sue.page(&format!("/staff/{}", id(&ada))).await;
    assert!(row(table(&html, "overrides"), "Only one on site").contains(&format!("/tickets/{number}")));
    let details = html.split("id=\"details\"").nth(1).unwrap().split("</dl>").next().unwrap();
    assert!(details.contains("<dt>Open tickets</dt><dd>1</dd>"), "{details}");
    assert!(sue.page(&format!("/staff/{}", id(&bob))).await.contains("No gate override yet."), "only the overrides concerning them");

    // Twenty a page, newest first; "older overrides" continues after the last one shown.
    for i in 0..20 {
        let who = if i % 2 == 0 { &bob } else { &ada };
        let r = app
            .patch(
                &format!("/api/v1/tickets/{ticket}"),
                Some("*"),
                &json!({"assignee_id": who["id"], "override": {"reason": format!("cover {i:02}")}}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let html = sue.page("/training").await;
    let overrides = table(&html, "overrides");
    assert_eq!(overrides.matches("<tr><td>").count(), 20);
    assert!(overrides.split("<tr><td>").nth(1).unwrap().contains("cover 19"), "newest first");
    assert!(!overrides.contains("Only one on site"));
    let older = link(&html, "older-overrides");
    let html = sue.page(&older).await;
    let overrides = table(&html, "overrides");
    assert_eq!(overrides.matches("<tr><td>").count(), 1, "{overrides}");
    assert!(overrides.contains("Only one on site") && !html.contains("id=\"older-overrides\""));
    assert_eq!(sue.get("/training?before=x").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn the_expiring_list_takes_the_configured_window_by_default(app: TestApp) {
    let (sue, _) = supervisor(&app).await;
    create_course(&app).await;
    let soon = app.create_staff("Eve Soon", "eve@desk.test", "agent").await;
    let later = app.create_staff("Leo Later", "leo@desk.test", "agent").await;
    let gone = app.create_staff("Gus Gone", "gus@desk.test", "agent").await;
    record(&app, &soon, 350, 90).await;
    record(&app, &later, 300, 90).await;
    record(&app, &gone, 400, 90).await;

    let html = sue.page("/training").await;
    assert!(html.contains("expire within 30 days") && html.contains("name=\"within_days\" value=\"30\""), "the configured window");
    let expiring = table(&html, "expiring");
    let eve = row(expiring, "Eve Soon");
    assert!(eve.contains(&format!("href=\"/staff/{}\"", id(&soon))) && eve.contains("<td>expiring</td>"), "{eve}");
    assert!(!expiring.contains("Leo Later") && !expiring.contains("Gus Gone"), "{expiring}");
    let expiring = table(&sue.page("/training?within_days=90").await, "expiring").to_owned();
    assert!(expiring.contains("Eve Soon") && expiring.contains("Leo Later") && !expiring.contains("Gus Gone"), "{expiring}");
    assert!(expiring.find("Eve Soon") < expiring.find("Leo Later"), "soonest first");
    assert!(sue.page("/training?within_days=0").await.contains("No certification expires within 0 days."));
    assert_eq!(sue.get("/training?within_days=soon").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(sue.get("/training?within_days=4000").await.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The watcher's events on the person's page; the supervision block links here.
    assert!(sue.page(&format!("/staff/{}", id(&soon))).await.contains("No certification of this person"));
    app.watch_certifications().await;
    let html = sue.page(&format!("/staff/{}", id(&soon))).await;
    assert!(row(table(&html, "events"), "Solution design").contains("<td>expiring</td>"), "{html}");
    let html = sue.page(&format!("/staff/{}", id(&gone))).await;
    assert!(row(table(&html, "events"), "Solution design").contains("<td>expired</td>"), "{html}");
    let html = sue.page("/supervision").await;
    assert!(html.contains(&format!("<a href=\"/staff/{}\">Eve Soon</a>", id(&soon))), "{html}");
    assert!(html.contains("href=\"/training#expiring-h\""));
}

async fn an_agent_reads_staff_and_training_but_changes_nothing(app: TestApp) {
    create_course(&app).await;
    let (agent, ann) = ConsoleSession::person(&app, "Ann Agent", "ann@desk.test", "agent").await;
    let path = format!("/staff/{}", id(&ann));
    let menu = agent.page("/queues").await;
    assert!(menu.contains("href=\"/staff\"") && menu.contains("href=\"/training\""), "agents may read staff");
    let html = agent.page(&path).await;
    assert!(html.contains("Solution design") && !html.contains("id=\"person-form\"") && !html.contains("id=\"record-form\""), "{html}");
    let html = agent.page("/training").await;
    assert!(html.contains("SOLUTION-DESIGN") && !html.contains("id=\"course-form\""), "{html}");
    assert!(!agent.page("/training/courses/SOLUTION-DESIGN").await.contains("/delete\""));

    let refused = [
        agent.post(&path, &[("name", "Boss"), ("email", "ann@desk.test"), ("role", "admin")]).await,
        agent
            .post(
                &format!("{path}/training"),
                &[("course_code", "SOLUTION-DESIGN"), ("completed_at", "2026-01-01"), ("score", "99"), ("assessor", "me")],
            )
            .await,
        agent.post("/training/courses", &[("code", "MINE"), ("title", "Mine"), ("pass_score", "1"), ("method", "exam")]).await,
        agent.post("/training/courses/SOLUTION-DESIGN", &[("title", "Mine"), ("pass_score", "1"), ("method", "exam")]).await,
        agent.post("/training/courses/SOLUTION-DESIGN/delete", &[]).await,
    ];
    for r in refused {
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{}", r.url());
    }
    let api = body(app.get(&format!("/api/v1/staff/{}", id(&ann))).await).await;
    assert_eq!(api["role"], "agent");
    assert!(body(app.get(&format!("/api/v1/training-records?staff_id={}", id(&ann))).await).await.as_array().unwrap().is_empty());
    assert_eq!(app.get("/api/v1/courses/MINE").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(body(app.get("/api/v1/courses/SOLUTION-DESIGN").await).await["title"], "Solution design");

    // Without a session: to the sign-in page.
    let r = ConsoleSession::anonymous(&app).get("/training").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/sign-in?next="));
}
