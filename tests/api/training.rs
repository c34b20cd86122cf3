//! Courses, training records, certifications, and the gates they open.

use crate::helpers::{body, problem, problem_fields, TestApp};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    courses_are_managed_and_validated,
    records_derive_pass_and_expiry_and_are_corrected_by_superseding,
    certifications_are_valid_expiring_or_expired_from_the_latest_pass,
    assigning_into_a_gated_stage_needs_a_valid_certification,
    moving_into_a_gated_stage_checks_the_assignee,
    supervisors_override_the_gate_with_a_reason_recorded_as_an_event,
    eligible_assignees_are_certified_active_staff_with_their_load,
    the_expiry_watcher_records_each_event_once_across_nodes,
    training_compliance_is_a_kpi_and_certifications_are_metrics,
);

const DAY_MS: i64 = 86_400_000;

pub(crate) fn iso_days_ago(days: i64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let at = now - days * DAY_MS;
    chrono_like(at)
}

/// RFC 3339 in UTC from epoch milliseconds, without a date library.
fn chrono_like(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The course SOLUTION-DESIGN (certifies for 365 days, pass at 70), which the general process's
/// `solution_design` stage requires.
pub(crate) async fn create_course(app: &TestApp) -> Value {
    let r = app
        .post(
            "/api/v1/courses",
            &json!({"code": "SOLUTION-DESIGN", "title": "Solution design", "certifies": true, "validity": "365d",
                    "pass_score": 70, "method": "simulation"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    body(r).await
}

/// A SOLUTION-DESIGN record for `staff`, completed `days_ago`.
pub(crate) async fn record(app: &TestApp, staff: &Value, days_ago: i64, score: i64) -> Value {
    let r = app
        .post(
            "/api/v1/training-records",
            &json!({"staff_id": staff["id"], "course_code": "SOLUTION-DESIGN", "completed_at": iso_days_ago(days_ago),
                    "score": score, "assessor": "Grace Hopper"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    body(r).await
}

async fn certifications(app: &TestApp, staff: &Value) -> Value {
    let r = app.get(&format!("/api/v1/staff/{}/certifications", staff["id"].as_str().unwrap())).await;
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await
}

async fn courses_are_managed_and_validated(app: TestApp) {
    let c = create_course(&app).await;
    assert_eq!((c["validity"].as_str(), c["pass_score"].as_i64()), (Some("52w1d"), Some(70)));
    assert_eq!(body(app.get("/api/v1/courses/SOLUTION-DESIGN").await).await, c);
    let p = problem(
        app.post(
            "/api/v1/courses",
            &json!({"code": "SOLUTION-DESIGN", "title": "x", "certifies": false, "pass_score": 1, "method": "exam"}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(problem_fields(&p), ["code"]);
    let p = problem(
        app.post("/api/v1/courses", &json!({"code": "bad code", "title": "", "certifies": true, "pass_score": 101, "method": "exam"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem_fields(&p), ["code", "title", "pass_score"]);
    let r = app.patch("/api/v1/courses/SOLUTION-DESIGN", None, &json!({"pass_score": 80, "validity": "730d"})).await;
    assert_eq!(body(r).await["validity"], "104w2d", "durations come back in canonical form");
    let agent = app.token_with_role("agent").await;
    let r = app.request_as(&agent, Method::POST, "/api/v1/courses").json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "shape is checked before the role");
    let r = app
        .request_as(&agent, Method::POST, "/api/v1/courses")
        .json(&json!({"code": "X", "title": "x", "certifies": false, "pass_score": 1, "method": "exam"}))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
    let r = app.request_as(&agent, Method::GET, "/api/v1/courses").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn records_derive_pass_and_expiry_and_are_corrected_by_superseding(app: TestApp) {
    create_course(&app).await;
    let ada = app.create_staff("Ada", "ada@example.test", "agent").await;
    let r = record(&app, &ada, 10, 95).await;
    assert_eq!(r["passed"], true);
    assert!(r["expires_at"].is_string());
    assert_eq!(certifications(&app, &ada).await[0]["state"], "valid");

    // passed/expires_at cannot be typed in.
    let p = problem(
        app.post(
            "/api/v1/training-records",
            &json!({"staff_id": ada["id"], "course_code": "SOLUTION-DESIGN", "completed_at": iso_days_ago(1), "score": 10,
                    "assessor": "G", "passed": true}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem_fields(&p), ["passed"]);

    // A correction without a reason is refused; with one it supersedes, and the old one stops counting.
    let fix = json!({"staff_id": ada["id"], "course_code": "SOLUTION-DESIGN", "completed_at": iso_days_ago(10), "score": 45,
                     "assessor": "Grace Hopper", "supersedes": r["id"]});
    let p = problem(app.post("/api/v1/training-records", &fix).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["correction_reason"]);
    let mut fix = fix;
    fix["correction_reason"] = json!("score was mistyped");
    let r2 = app.post("/api/v1/training-records", &fix).await;
    assert_eq!(r2.status(), StatusCode::CREATED);
    let r2 = body(r2).await;
    assert_eq!((r2["passed"].as_bool(), r2["expires_at"].is_null()), (Some(false), true));
    assert_eq!(certifications(&app, &ada).await[0]["state"], "missing");
    // A record is corrected once; the correction itself can be corrected.
    problem(app.post("/api/v1/training-records", &fix).await, StatusCode::CONFLICT).await;
    let listed = body(app.get(&format!("/api/v1/training-records?staff_id={}", ada["id"].as_str().unwrap())).await).await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "append-only: both records remain");
}

async fn certifications_are_valid_expiring_or_expired_from_the_latest_pass(app: TestApp) {
    create_course(&app).await;
    let valid = app.create_staff("Valid", "valid@example.test", "agent").await;
    let expiring = app.create_staff("Expiring", "expiring@example.test", "agent").await;
    let expired = app.create_staff("Expired", "expired@example.test", "agent").await;
    let missing = app.create_staff("Missing", "missing@example.test", "agent").await;
    record(&app, &valid, 400, 90).await;
    record(&app, &valid, 5, 90).await;
    record(&app, &valid, 1, 20).await; // a later fail does not undo the pass
    record(&app, &expiring, 350, 90).await;
    record(&app, &expired, 400, 90).await;
    record(&app, &missing, 3, 50).await;
    assert_eq!(certifications(&app, &valid).await[0]["state"], "valid");
    assert_eq!(certifications(&app, &expiring).await[0]["state"], "expiring");
    assert_eq!(certifications(&app, &expired).await[0]["state"], "expired");
    let m = certifications(&app, &missing).await;
    assert_eq!((m[0]["certification"].as_str(), m[0]["state"].as_str()), (Some("SOLUTION-DESIGN"), Some("missing")));

    let soon = body(app.get("/api/v1/certifications/expiring?within_days=30").await).await;
    let ids: Vec<_> = soon.as_array().unwrap().iter().map(|c| c["staff_id"].clone()).collect();
    assert_eq!(ids, [expiring["id"].clone()]);
    let later = body(app.get("/api/v1/certifications/expiring?within_days=400").await).await;
    assert_eq!(later.as_array().unwrap().len(), 2);
    problem(app.get("/api/v1/certifications/expiring?within_days=soon").await, StatusCode::BAD_REQUEST).await;
}

/// A ticket in `solution_design` (gated by SOLUTION-DESIGN), unassigned.
pub(crate) async fn ticket_in_solution_design(app: &TestApp) -> String {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap().to_owned();
    assert_eq!(app.transition(&id, "needs_analysis").await.status(), StatusCode::OK);
    assert_eq!(app.transition(&id, "solution_design").await.status(), StatusCode::OK);
    id
}

async fn assigning_into_a_gated_stage_needs_a_valid_certification(app: TestApp) {
    create_course(&app).await;
    let id = ticket_in_solution_design(&app).await;
    let ada = app.create_staff("Ada Lovelace", "ada@example.test", "supervisor").await;
    let old = app.create_staff("Old Timer", "old@example.test", "supervisor").await;
    record(&app, &old, 400, 90).await;

    let p = problem(app.patch(&format!("/api/v1/tickets/{id}"), Some("*"), &json!({"assignee_id": ada["id"]})).await, StatusCode::CONFLICT)
        .await;
    assert_eq!(p["type"], "/problems/certification-required");
    assert_eq!(problem_fields(&p), ["assignee_id"]);
    assert_eq!(
        (p["staff_name"].as_str(), p["certification"].as_str(), p["certification_state"].as_str()),
        (Some("Ada Lovelace"), Some("SOLUTION-DESIGN"), Some("missing"))
    );
    assert!(p["detail"].as_str().unwrap().contains("Ada Lovelace"), "{p}");
    let p = problem(app.patch(&format!("/api/v1/tickets/{id}"), Some("*"), &json!({"assignee_id": old["id"]})).await, StatusCode::CONFLICT)
        .await;
    assert_eq!(p["certification_state"], "expired");

    record(&app, &ada, 1, 80).await;
    let r = app.patch(&format!("/api/v1/tickets/{id}"), Some("*"), &json!({"assignee_id": ada["id"]})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["assignee_id"], ada["id"]);
    // Ungated stages take anyone: a new ticket with an uncertified assignee is fine.
    app.create_ticket(json!({"assignee_id": old["id"]})).await;
}

async fn moving_into_a_gated_stage_checks_the_assignee(app: TestApp) {
    create_course(&app).await;
    let ada = app.create_staff("Ada Lovelace", "ada@example.test", "agent").await;
    let t = app.create_ticket(json!({"assignee_id": ada["id"]})).await;
    let id = t["id"].as_str().unwrap();
    assert_eq!(app.transition(id, "needs_analysis").await.status(), StatusCode::OK);
    let p = problem(app.transition(id, "solution_design").await, StatusCode::CONFLICT).await;
    assert_eq!(p["type"], "/problems/certification-required");
    assert_eq!(problem_fields(&p), ["to"]);
    assert_eq!((p["staff_id"].as_str(), p["certification_state"].as_str()), (ada["id"].as_str(), Some("missing")));
    // A move the process refuses is still reported as such.
    let p = problem(app.transition(id, "after_sales").await, StatusCode::CONFLICT).await;
    assert_eq!(p["type"], "/problems/transition-not-allowed");
    let t = body(app.get(&format!("/api/v1/tickets/{id}")).await).await;
    assert_eq!(t["stage"], "needs_analysis");
    record(&app, &ada, 0, 75).await;
    assert_eq!(app.transition(id, "solution_design").await.status(), StatusCode::OK);
}

async fn supervisors_override_the_gate_with_a_reason_recorded_as_an_event(app: TestApp) {
    create_course(&app).await;
    let ada = app.create_staff("Ada Lovelace", "ada@example.test", "agent").await;
    let t = app.create_ticket(json!({"assignee_id": ada["id"]})).await;
    let id = t["id"].as_str().unwrap();
    app.transition(id, "needs_analysis").await;
    let path = format!("/api/v1/tickets/{id}/transitions");
    let with_override = json!({"to": "solution_design", "override": {"reason": "only expert on site"}});

    let agent = app.token_with_role("agent").await;
    let r = app.request_as(&agent, Method::POST, &path).json(&with_override).send().await.unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
    let p =
        problem(app.post(&path, &json!({"to": "solution_design", "override": {"reason": " "}})).await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert_eq!(problem_fields(&p), ["override.reason"]);

    let supervisor = app.token_with_role("supervisor").await;
    let r = app.request_as(&supervisor, Method::POST, &path).json(&with_override).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let events = app.events(id).await;
    let o = events.iter().find(|e| e["kind"] == "certification_overridden").expect("override recorded");
    assert_eq!(o["data"]["staff_id"], ada["id"]);
    assert_eq!(o["data"]["certification"], "SOLUTION-DESIGN");
    assert_eq!(o["data"]["state"], "missing");
    assert_eq!(o["data"]["reason"], "only expert on site");
    assert_eq!(o["data"]["stage"], "solution_design");

    // The same on assignment.
    let grace = app.create_staff("Grace", "grace@example.test", "agent").await;
    let r = app
        .request_as(&supervisor, Method::PATCH, &format!("/api/v1/tickets/{id}"))
        .header("If-Match", "*")
        .json(&json!({"assignee_id": grace["id"], "override": {"reason": "covering for Ada"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let overrides: Vec<_> = app.events(id).await.into_iter().filter(|e| e["kind"] == "certification_overridden").collect();
    assert_eq!(overrides.len(), 2);
    assert_eq!(overrides[1]["data"]["staff_id"], grace["id"]);
}

async fn eligible_assignees_are_certified_active_staff_with_their_load(app: TestApp) {
    create_course(&app).await;
    let busy = app.create_staff("Busy", "busy@example.test", "supervisor").await;
    let free = app.create_staff("Free", "free@example.test", "supervisor").await;
    let uncertified = app.create_staff("Uncertified", "u@example.test", "agent").await;
    app.create_staff("Watcher", "viewer@example.test", "viewer").await; // a viewer never takes tickets
    let gone = app.create_staff("Gone", "gone@example.test", "agent").await;
    for s in [&busy, &free, &gone] {
        record(&app, s, 1, 90).await;
    }
    app.patch(&format!("/api/v1/staff/{}", gone["id"].as_str().unwrap()), None, &json!({"active": false})).await;
    for _ in 0..2 {
        app.create_ticket(json!({"assignee_id": busy["id"]})).await;
    }
    // A resolved ticket is not load (the load comes from the queue counters, which follow status).
    let done = app.create_ticket(json!({"assignee_id": busy["id"]})).await;
    let r = app.patch(&format!("/api/v1/tickets/{}", done["id"].as_str().unwrap()), Some("*"), &json!({"status": "resolved"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let id = ticket_in_solution_design(&app).await;
    let e = body(app.get(&format!("/api/v1/tickets/{id}/eligible-assignees")).await).await;
    assert_eq!((e["stage"].as_str(), e["required_certification"].as_str()), (Some("solution_design"), Some("SOLUTION-DESIGN")));
    let items = e["items"].as_array().unwrap();
    let names: Vec<_> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Free", "Busy"]);
    assert_eq!((items[1]["open_tickets"].as_i64(), items[1]["team"].as_str()), (Some(2), Some("support")));
    assert_eq!(items[0]["certification"]["state"], "valid");

    // In an ungated stage every active person is eligible.
    let t = app.create_ticket(json!({})).await;
    let e = body(app.get(&format!("/api/v1/tickets/{}/eligible-assignees", t["id"].as_str().unwrap())).await).await;
    assert_eq!(e["items"].as_array().unwrap().len(), 3);
    assert!(e["required_certification"].is_null());
    let _ = uncertified;
    problem(app.get("/api/v1/tickets/T-999999/eligible-assignees").await, StatusCode::NOT_FOUND).await;
}

async fn the_expiry_watcher_records_each_event_once_across_nodes(app: TestApp) {
    // A second node watches the same database.
    let node = app.node(|_| {}).await;
    create_course(&app).await;
    let soon = app.create_staff("Soon", "soon@example.test", "agent").await;
    let gone = app.create_staff("Gone", "gone@example.test", "agent").await;
    let fine = app.create_staff("Fine", "fine@example.test", "agent").await;
    record(&app, &soon, 350, 90).await;
    record(&app, &gone, 400, 90).await;
    record(&app, &fine, 1, 90).await;
    let staff_events = || async { body(app.get("/api/v1/staff-events").await).await["items"].as_array().unwrap().clone() };
    assert!(staff_events().await.is_empty(), "expiry events are the watcher's to record");

    // Both nodes' watchers at once: between them, each event once.
    let (here, there) = tokio::join!(app.watch_certifications(), node.workers.watch_certifications());
    assert_eq!(here + there, 2, "one expiring, one expired: {here} + {there}");
    let events = staff_events().await;
    // More passes on both nodes add nothing.
    assert_eq!(tokio::join!(app.watch_certifications(), node.workers.watch_certifications()), (0, 0));
    assert_eq!(staff_events().await, events);
    let mut seen: Vec<_> = events.iter().map(|e| (e["staff_id"].clone(), e["kind"].as_str().unwrap().to_owned())).collect();
    seen.sort_by_key(|(_, k)| k.clone());
    assert_eq!(seen, [(gone["id"].clone(), "certification_expired".to_owned()), (soon["id"].clone(), "certification_expiring".to_owned())]);
    assert_eq!(events.iter().find(|e| e["kind"] == "certification_expired").unwrap()["data"]["certification"], "SOLUTION-DESIGN");
    let mine = body(app.get(&format!("/api/v1/staff-events?staff_id={}", soon["id"].as_str().unwrap())).await).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let _ = fine;
}

/// Supervisors are responsible for `solution_design`, which requires SOLUTION-DESIGN: one of two
/// certified is 50 % compliance; agents need nothing and do not count.
async fn training_compliance_is_a_kpi_and_certifications_are_metrics(app: TestApp) {
    create_course(&app).await;
    let certified = app.create_staff("Sue", "sue@example.test", "supervisor").await;
    let sam = app.create_staff("Sam", "sam@example.test", "supervisor").await;
    app.create_staff("Ada", "ada@example.test", "agent").await;
    // Before the start of this month, whatever today's date: last month's end counts it.
    record(&app, &certified, 40, 90).await;
    let report = body(app.get("/api/v1/kpis").await).await;
    let kpi =
        report["kpis"].as_array().unwrap().iter().find(|k| k["key"] == "training_compliance").expect("training compliance KPI").clone();
    assert_eq!((kpi["value"].as_f64(), kpi["sample"].as_u64()), (Some(0.5), Some(2)), "{kpi}");
    assert_eq!(kpi["status"], "breach");
    assert_eq!(kpi["target"], 1.0);
    let month = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC).strftime("%Y-%m").to_string();
    let review = body(app.get(&format!("/api/v1/reports/review?month={month}&format=json")).await).await;
    let training = review["sections"].as_array().unwrap().iter().find(|s| s["key"] == "training").unwrap()["items"].clone();
    assert_eq!(training[0], json!({"training_compliance": 0.5, "previous": 0.5, "staff_considered": 2}));
    let md = app.get(&format!("/api/v1/reports/review?month={month}&format=md")).await.text().await.unwrap();
    assert!(
        md.contains("Training compliance at the month's end: 50.0 % (2 staff considered); at the previous month's end: 50.0 %."),
        "{md}"
    );
    // Sam certifies today: this month reaches 100 %, last month stays as it was then.
    record(&app, &sam, 0, 90).await;
    let review = body(app.get(&format!("/api/v1/reports/review?month={month}&format=json")).await).await;
    let section = |key: &str| review["sections"].as_array().unwrap().iter().find(|s| s["key"] == key).unwrap()["items"].clone();
    assert_eq!(section("training")[0], json!({"training_compliance": 1.0, "previous": 0.5, "staff_considered": 2}));
    let line = section("kpis").as_array().unwrap().iter().find(|k| k["key"] == "training_compliance").unwrap().clone();
    assert_eq!((line["value"].as_f64(), line["previous"].as_f64()), (Some(1.0), Some(0.5)), "{line}");
    app.refresh_metrics().await;
    let text = app.scrape().await;
    assert!(
        text.contains(r#"steward_certifications{state="valid"} 2"#) && text.contains(r#"steward_certifications{state="missing"} 1"#),
        "the refresher counts Sue and Sam valid, Ada missing: {text}"
    );
}
