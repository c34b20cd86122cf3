//! Per-stage and per-target SLA calendars, and the first response of a ticket closed without
//! any public reply, on both backends.

use crate::helpers::{body, clock_passes, problem, problem_fields, test_config, ConsoleSession, TestApp, TestDb};
use crate::on_both_backends;
use crate::sla::{after_due, clock, fast_policy, sla};
use reqwest::StatusCode;
use serde_json::{json, Value};
use steward_console::i18n::Lang;

on_both_backends!(
    a_stage_target_on_always_runs_on_wall_clock_time_under_a_business_hours_policy,
    a_policy_target_with_its_own_calendar_counts_on_it,
    a_ticket_closed_unanswered_before_its_due_time_leaves_first_response_not_applicable,
    a_ticket_closed_unanswered_after_its_due_time_stays_breached,
    unknown_calendars_are_refused_naming_the_field,
    a_calendar_a_stage_or_target_counts_on_cannot_be_deleted,
    a_stage_naming_an_unknown_calendar_stops_start_up_naming_file_and_field,
);

fn millis(v: &Value) -> i64 {
    let at: jiff::Timestamp = v.as_str().unwrap_or_else(|| panic!("not an instant: {v}")).parse().unwrap();
    at.as_millisecond()
}

const DAY_MS: i64 = 24 * 3_600_000;

/// The ticket moved through the shipped general process into `after_sales` (delivery needs a
/// passing review first).
async fn into_after_sales(app: &TestApp, id: &str) {
    for stage in ["needs_analysis", "solution_design", "delivery"] {
        assert_eq!(app.transition(id, stage).await.status(), StatusCode::OK, "to {stage}");
    }
    let r = app.post(&format!("/api/v1/tickets/{id}/reviews"), &json!({"outcome": "pass", "score": 90, "checklist": []})).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    assert_eq!(app.transition(id, "after_sales").await.status(), StatusCode::OK);
}

async fn a_stage_target_on_always_runs_on_wall_clock_time_under_a_business_hours_policy(app: TestApp) {
    let t = app.create_ticket(json!({"channel": "web"})).await;
    let id = t["id"].as_str().unwrap();
    into_after_sales(&app, id).await;
    let s = sla(&app, id).await;
    assert_eq!((s["policy"]["key"].as_str(), s["calendar"]["key"].as_str()), (Some("default"), Some("support-hours")));
    let stage = s["clocks"].as_array().unwrap().iter().find(|c| c["stage"] == "after_sales").expect("an after-sales clock");
    assert_eq!((stage["target"].as_str(), stage["calendar"].as_str()), (Some("1d"), Some("always")), "{stage}");
    assert_eq!(stage["calendar_source"], "stage");
    assert_eq!(stage["state"], "running");
    // 24 wall-clock hours from entering the stage, whatever the support desk's hours.
    assert_eq!(millis(&stage["due_at"]) - millis(&stage["started_at"]), DAY_MS, "{stage}");
    // The other clocks count on the policy's business hours.
    let delivery = s["clocks"].as_array().unwrap().iter().find(|c| c["stage"] == "delivery").unwrap();
    assert_eq!((delivery["calendar"].as_str(), delivery["calendar_source"].as_str()), (Some("support-hours"), Some("policy")));
    let resolution = clock(&s, "resolution");
    assert_eq!((resolution["calendar"].as_str(), resolution["calendar_source"].as_str()), (Some("support-hours"), Some("policy")));

    // The ticket page's SLA section says which calendar counts for each clock, and why.
    let (session, _) = ConsoleSession::person(&app, "Zhang Min", "zhang@desk.test", "agent").await;
    let r = session.post("/preferences", &[("language", "zh"), ("timezone", "Asia/Shanghai")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = session.page(&format!("/tickets/{}", t["number"].as_str().unwrap())).await;
    let zh = Lang::Zh.texts();
    let section = &html[html.find("id=\"ticket-sla\"").expect("an SLA section")..];
    assert!(section.contains(&format!("全天候（7×24 小时） (UTC) · {}", zh.calendar_from_stage)), "{section}");
    assert!(section.contains(zh.calendar_from_policy), "{section}");
}

async fn a_policy_target_with_its_own_calendar_counts_on_it(app: TestApp) {
    let r = app
        .post(
            "/api/v1/sla-policies",
            &json!({"key": "after-sales", "name": "After-sales", "order": 1, "match": {"tiers": ["priority"]},
                    "first_response": "1h", "resolution": "1d", "calendar": "support-hours", "resolution_calendar": "always"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let policy = body(r).await;
    assert_eq!((policy["resolution_calendar"].as_str(), policy["first_response_calendar"].as_str()), (Some("always"), None));
    let t = app.create_ticket(json!({"customer": {"tier": "priority"}})).await;
    let s = sla(&app, t["id"].as_str().unwrap()).await;
    assert_eq!(s["policy"]["key"], "after-sales");
    let resolution = clock(&s, "resolution");
    assert_eq!((resolution["calendar"].as_str(), resolution["calendar_source"].as_str()), (Some("always"), Some("target")));
    assert_eq!(resolution["calendar_name"], "24×7 (UTC)");
    assert_eq!(millis(&resolution["due_at"]) - millis(&resolution["started_at"]), DAY_MS, "1d is 24 wall-clock hours: {resolution}");
    let first = clock(&s, "first_response");
    assert_eq!((first["calendar"].as_str(), first["calendar_source"].as_str()), (Some("support-hours"), Some("policy")));
    assert_eq!(first["calendar_name"], "Support desk hours");
    // Listed and read back as stored.
    let read = body(app.get("/api/v1/sla-policies/after-sales").await).await;
    assert_eq!(read["resolution_calendar"], "always");
}

async fn first_response_compliance(app: &TestApp) -> Value {
    let view = body(app.get("/api/v1/kpis?window=1d").await).await;
    view["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "sla_compliance" && k["dimension"] == "first_response")
        .cloned()
        .unwrap_or(Value::Null)
}

async fn a_ticket_closed_unanswered_before_its_due_time_leaves_first_response_not_applicable(app: TestApp) {
    // One ticket answered in time: met.
    let answered = app.create_ticket(json!({"channel": "web"})).await;
    let answered = answered["id"].as_str().unwrap();
    app.post(&format!("/api/v1/tickets/{answered}/comments"), &json!({"body": "On it.", "visibility": "public"})).await;
    assert_eq!(clock(&sla(&app, answered).await, "first_response")["state"], "met");
    // One closed without any public reply, an internal note aside, long before its 4 business hours.
    let t = app.create_ticket(json!({"channel": "web"})).await;
    let id = t["id"].as_str().unwrap();
    app.post(&format!("/api/v1/tickets/{id}/comments"), &json!({"body": "duplicate of the other", "visibility": "internal"})).await;
    assert_eq!(app.transition(id, "closed").await.status(), StatusCode::OK);
    let s = sla(&app, id).await;
    let first = clock(&s, "first_response");
    assert_eq!(first["state"], "not_applicable", "{first}");
    assert!(first["stopped_at"].is_string() && first["breached_at"].is_null());
    assert_eq!(clock(&s, "resolution")["state"], "met", "closing resolves in time");
    assert!(!app.events(id).await.iter().any(|e| e["kind"] == "sla_breached"));
    // The compliance rate counts the answered ticket alone.
    let compliance = first_response_compliance(&app).await;
    assert_eq!((compliance["value"].as_f64(), compliance["sample"].as_u64()), (Some(1.0), Some(1)), "{compliance}");
}

async fn a_ticket_closed_unanswered_after_its_due_time_stays_breached(app: TestApp) {
    fast_policy(&app, "1s", "1h").await;
    let t = app.create_ticket(json!({"customer": {"tier": "priority"}})).await;
    let id = t["id"].as_str().unwrap();
    clock_passes(after_due(clock(&sla(&app, id).await, "first_response"), 10)).await;
    // No sweep ran: closing late records the breach itself.
    assert_eq!(app.transition(id, "closed").await.status(), StatusCode::OK);
    let first = clock(&sla(&app, id).await, "first_response").clone();
    assert_eq!(first["state"], "breached", "{first}");
    let breaches: Vec<Value> = app.events(id).await.into_iter().filter(|e| e["kind"] == "sla_breached").collect();
    assert_eq!(breaches.len(), 1);
    assert_eq!(breaches[0]["data"]["clock"]["kind"], "first_response");
    assert_eq!(app.sweep_sla().await, 0, "nothing left to alert");
    let compliance = first_response_compliance(&app).await;
    assert_eq!((compliance["value"].as_f64(), compliance["sample"].as_u64()), (Some(0.0), Some(1)), "{compliance}");
}

async fn unknown_calendars_are_refused_naming_the_field(app: TestApp) {
    for field in ["resolution_calendar", "first_response_calendar", "next_response_calendar"] {
        let p = problem(
            app.post("/api/v1/sla-policies", &json!({"key": "typo", "name": "Typo", "first_response": "1h", field: "support-hour"})).await,
            StatusCode::NOT_FOUND,
        )
        .await;
        assert_eq!(problem_fields(&p), [field], "{p}");
        assert!(p["detail"].as_str().unwrap().contains("`support-hour`"), "{p}");
    }
    let r = app
        .request(reqwest::Method::PUT, "/api/v1/sla-policies/default")
        .json(&json!({"name": "Standard", "resolution": "3d", "resolution_calendar": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem_fields(&problem(r, StatusCode::NOT_FOUND).await), ["resolution_calendar"]);
    // Not a text: the shape is refused first, naming the field.
    let p = problem(
        app.post("/api/v1/sla-policies", &json!({"key": "typo", "name": "Typo", "first_response": "1h", "resolution_calendar": 7})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem_fields(&p), ["resolution_calendar"], "{p}");
    // `always` is built in; the policy's own calendar may name it too.
    let r =
        app.post("/api/v1/sla-policies", &json!({"key": "wall", "name": "Wall clock", "first_response": "1h", "calendar": "always"})).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}

async fn a_calendar_a_stage_or_target_counts_on_cannot_be_deleted(app: TestApp) {
    let r = app.post("/api/v1/calendars", &json!({"key": "night-desk", "timezone": "UTC", "hours": {"mon": ["18:00-24:00"]}})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .post(
            "/api/v1/sla-policies",
            &json!({"key": "nights", "name": "Nights", "first_response": "1h", "first_response_calendar": "night-desk"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let p = problem(app.request(reqwest::Method::DELETE, "/api/v1/calendars/night-desk").send().await.unwrap(), StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("policies `nights`"), "{p}");
    assert_eq!(app.request(reqwest::Method::DELETE, "/api/v1/sla-policies/nights").send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(app.request(reqwest::Method::DELETE, "/api/v1/calendars/night-desk").send().await.unwrap().status(), StatusCode::NO_CONTENT);
    // The processes API says which calendar a stage counts on.
    let process = body(app.get("/api/v1/processes/general").await).await;
    let after_sales = process["stages"].as_array().unwrap().iter().find(|s| s["key"] == "after_sales").unwrap();
    assert_eq!(after_sales["calendar"], "always");
    assert!(process["stages"][0]["calendar"].is_null());
}

async fn a_stage_naming_an_unknown_calendar_stops_start_up_naming_file_and_field(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let (_db, url) = TestDb::create(backend).await.expect("the backend was available a moment ago");
    let dir = tempfile::tempdir().unwrap();
    let general = steward_domain::process::BUILTIN_GENERAL.replacen("calendar = \"always\"", "calendar = \"nights\"", 1);
    assert_ne!(general, steward_domain::process::BUILTIN_GENERAL);
    std::fs::write(dir.path().join("general.toml"), general).unwrap();
    let mut config = test_config(&url);
    config.processes.dir = dir.path().to_owned();
    let refused = steward_server::Application::build(config).await.err().expect("start-up is refused").to_string();
    assert!(refused.contains("general.toml") && refused.contains("stages[4].calendar") && refused.contains("`nights`"), "{refused}");
}
