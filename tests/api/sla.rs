use crate::helpers::{body, clock_passes, eventually, problem, problem_fields, TestApp};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    clocks_start_under_the_matching_policy_and_explain_why,
    a_breach_is_detected_and_recorded_once_with_warning_and_escalation,
    waiting_on_the_customer_pauses_resolution_with_the_reason,
    a_priority_change_rematches_the_policy_and_keeps_elapsed_time_and_pauses,
    the_first_public_reply_stops_the_first_response_clock,
    customer_messages_after_the_first_response_start_next_response_clocks,
    closing_stops_every_clock,
    stage_moves_give_each_stage_its_own_clock,
    business_calendars_move_due_times_past_holidays,
    two_nodes_sweeping_one_database_record_each_breach_once,
    policies_are_managed_by_admins_with_validation,
    calendars_are_managed_by_admins_and_guarded_when_in_use,
);

pub(crate) async fn sla(app: &TestApp, ticket: &str) -> Value {
    let r = app.get(&format!("/api/v1/tickets/{ticket}/sla")).await;
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await
}

pub(crate) fn clock<'a>(sla: &'a Value, kind: &str) -> &'a Value {
    sla["clocks"].as_array().unwrap().iter().find(|c| c["kind"] == kind).unwrap_or_else(|| panic!("no {kind} clock in {sla}"))
}

/// A policy for tickets of tier `priority` with short targets, so tests see alerts quickly.
pub(crate) async fn fast_policy(app: &TestApp, first_response: &str, resolution: &str) {
    let r = app
        .post(
            "/api/v1/sla-policies",
            &json!({"key": "fast", "name": "Fast lane", "order": 1, "match": {"tiers": ["priority"]},
                    "first_response": first_response, "resolution": resolution,
                    "escalations": [{"at_percent": 150, "notify_role": "supervisor"}]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}

/// The instant `ms` milliseconds after the clock's due time, as the SLA report gives it.
pub(crate) fn after_due(clock: &Value, ms: i64) -> jiff::Timestamp {
    let due: jiff::Timestamp = clock["due_at"].as_str().unwrap_or_else(|| panic!("no due time: {clock}")).parse().unwrap();
    due + jiff::SignedDuration::from_millis(ms)
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["kind"] == kind).count()
}

async fn clocks_start_under_the_matching_policy_and_explain_why(app: TestApp) {
    let t = app.create_ticket(json!({"channel": "phone", "customer": {"tier": "vip"}})).await;
    let s = sla(&app, t["id"].as_str().unwrap()).await;
    assert_eq!(s["policy"]["key"], "vip-phone");
    let explanation = s["explanation"].as_str().unwrap();
    assert!(explanation.contains("channel=phone") && explanation.contains("tier=vip") && explanation.contains("`vip`"), "{explanation}");
    assert_eq!(s["calendar"]["key"], "always");
    let first = clock(&s, "first_response");
    assert_eq!((first["target"].as_str(), first["state"].as_str()), (Some("20s"), Some("running")));
    assert!(first["due_at"].is_string() && first["remaining_ms"].as_i64().unwrap() <= 20_000);
    assert_eq!(clock(&s, "resolution")["target"], "8h");
    let stage = clock(&s, "stage");
    assert_eq!((stage["stage"].as_str(), stage["target"].as_str()), (Some("consultation"), Some("4h")));
    // An email from a standard customer falls to the email policy on the support-hours calendar.
    let t = app.create_ticket(json!({"channel": "email"})).await;
    let s = sla(&app, t["number"].as_str().unwrap()).await;
    assert_eq!(s["policy"]["key"], "email");
    assert_eq!(s["calendar"]["key"], "support-hours");
    assert_eq!(clock(&s, "first_response")["calendar"], "support-hours");
}

async fn a_breach_is_detected_and_recorded_once_with_warning_and_escalation(app: TestApp) {
    fast_policy(&app, "1s", "1h").await;
    let t = app.create_ticket(json!({"customer": {"tier": "priority"}})).await;
    let id = t["id"].as_str().unwrap();
    // The escalation is due at 150 % of the 1 s target: half a second after the breach.
    clock_passes(after_due(clock(&sla(&app, id).await, "first_response"), 500)).await;
    assert_eq!(count(&app.events(id).await, "sla_breached"), 0, "alerts are the sweeper's to record");
    assert_eq!(app.sweep_sla().await, 1, "one ticket had due clocks");
    // Later sweeps find nothing left to record.
    assert_eq!(app.sweep_sla().await, 0);
    assert_eq!(app.sweep_sla().await, 0);
    let events = app.events(id).await;
    assert_eq!((count(&events, "sla_warning"), count(&events, "sla_breached"), count(&events, "sla_escalated")), (1, 1, 1));
    let breach = events.iter().find(|e| e["kind"] == "sla_breached").unwrap();
    assert_eq!(breach["data"]["clock"]["kind"], "first_response");
    assert_eq!(breach["data"]["clock"]["policy"], "fast");
    assert_eq!(breach["data"]["target"], "1s");
    assert_eq!(breach["actor"]["kind"], "system");
    let escalation = events.iter().find(|e| e["kind"] == "sla_escalated").unwrap();
    assert_eq!((escalation["data"]["percent"].as_u64(), escalation["data"]["notify_role"].as_str()), (Some(150), Some("supervisor")));
    let s = sla(&app, id).await;
    let first = clock(&s, "first_response");
    assert_eq!(first["state"], "breached");
    assert_eq!(first["alerts"], json!(["warning", "breach", "escalation_150"]));
    assert_eq!(first["breached_at"], breach["data"]["breached_at"]);
    // Alerts do not change the ticket: an If-Match taken before them still works.
    let r = app.patch(&format!("/api/v1/tickets/{id}"), Some("\"1\""), &json!({"priority": "low"})).await;
    assert_eq!(r.status(), StatusCode::OK);
}

async fn waiting_on_the_customer_pauses_resolution_with_the_reason(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    let r = app.patch(&format!("/api/v1/tickets/{id}"), Some("\"1\""), &json!({"status": "waiting_customer"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let s = sla(&app, id).await;
    let resolution = clock(&s, "resolution");
    assert_eq!(resolution["state"], "paused");
    assert!(resolution["due_at"].is_null());
    assert_eq!(resolution["pauses"][0]["reason"], "status waiting_customer");
    assert!(resolution["pauses"][0]["to"].is_null());
    assert_eq!(clock(&s, "first_response")["state"], "running", "only the resolution clock pauses");
    let r = app.patch(&format!("/api/v1/tickets/{id}"), Some("\"2\""), &json!({"status": "open"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let s = sla(&app, id).await;
    let resolution = clock(&s, "resolution");
    assert_eq!(resolution["state"], "running");
    assert!(resolution["pauses"][0]["to"].is_string());
}

async fn a_priority_change_rematches_the_policy_and_keeps_elapsed_time_and_pauses(app: TestApp) {
    let t = app.create_ticket(json!({"channel": "web", "priority": "normal"})).await;
    let id = t["id"].as_str().unwrap();
    app.patch(&format!("/api/v1/tickets/{id}"), Some("\"1\""), &json!({"status": "waiting_partner"})).await;
    app.patch(&format!("/api/v1/tickets/{id}"), Some("\"2\""), &json!({"status": "open"})).await;
    let before = sla(&app, id).await;
    assert_eq!(before["policy"]["key"], "default");
    let r = app.patch(&format!("/api/v1/tickets/{id}"), Some("\"3\""), &json!({"priority": "urgent"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let after = sla(&app, id).await;
    assert_eq!(after["policy"]["key"], "urgent");
    let resolution = clock(&after, "resolution");
    assert_eq!((resolution["policy"].as_str(), resolution["target"].as_str()), (Some("urgent"), Some("4h")));
    assert_eq!(resolution["calendar"], "always");
    assert_eq!(resolution["pauses"].as_array().unwrap().len(), 1, "pause history survives the policy change");
    assert_eq!(resolution["pauses"][0]["reason"], "status waiting_partner");
    assert_eq!(resolution["started_at"], clock(&before, "resolution")["started_at"]);
    let events = app.events(id).await;
    let changed = events.iter().find(|e| e["kind"] == "sla_policy_changed").expect("policy change recorded");
    assert_eq!((changed["data"]["from"].as_str(), changed["data"]["to"].as_str()), (Some("default"), Some("urgent")));
}

async fn the_first_public_reply_stops_the_first_response_clock(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    app.post(&format!("/api/v1/tickets/{id}/comments"), &json!({"body": "looking", "visibility": "internal"})).await;
    assert_eq!(clock(&sla(&app, id).await, "first_response")["state"], "running");
    app.post(&format!("/api/v1/tickets/{id}/comments"), &json!({"body": "hello", "visibility": "public"})).await;
    let s = sla(&app, id).await;
    let first = clock(&s, "first_response");
    assert_eq!(first["state"], "met");
    assert!(first["stopped_at"].is_string() && first["due_at"].is_null());
    assert_eq!(clock(&s, "resolution")["state"], "running");
}

async fn customer_messages_after_the_first_response_start_next_response_clocks(app: TestApp) {
    let t = app.create_ticket(json!({"channel": "email"})).await;
    let id = t["id"].as_str().unwrap();
    let comment = |body: &str, from_customer: bool| json!({"body": body, "visibility": "public", "from_customer": from_customer});
    app.post(&format!("/api/v1/tickets/{id}/comments"), &comment("We are on it", false)).await;
    assert!(sla(&app, id).await["clocks"].as_array().unwrap().iter().all(|c| c["kind"] != "next_response"));
    app.post(&format!("/api/v1/tickets/{id}/comments"), &comment("Any news?", true)).await;
    let s = sla(&app, id).await;
    let next = clock(&s, "next_response");
    assert_eq!((next["state"].as_str(), next["target"].as_str(), next["policy"].as_str()), (Some("running"), Some("4h"), Some("email")));
    app.post(&format!("/api/v1/tickets/{id}/comments"), &comment("Fixed now.", false)).await;
    let s = sla(&app, id).await;
    assert_eq!(clock(&s, "next_response")["state"], "met");
}

async fn closing_stops_every_clock(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    assert_eq!(app.transition(id, "closed").await.status(), StatusCode::OK);
    let s = sla(&app, id).await;
    for c in s["clocks"].as_array().unwrap() {
        assert!(c["stopped_at"].is_string(), "{c}");
        assert!(c["due_at"].is_null());
    }
}

async fn stage_moves_give_each_stage_its_own_clock(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    app.transition(id, "needs_analysis").await;
    app.transition(id, "solution_design").await;
    let s = sla(&app, id).await;
    let stages: Vec<(String, bool)> = s["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "stage")
        .map(|c| (c["stage"].as_str().unwrap().to_owned(), c["stopped_at"].is_null()))
        .collect();
    assert_eq!(stages, [("consultation".into(), false), ("needs_analysis".into(), false), ("solution_design".into(), true)]);
    let design = s["clocks"].as_array().unwrap().iter().find(|c| c["stage"] == "solution_design").unwrap();
    assert_eq!(design["target"], "2d");
}

async fn business_calendars_move_due_times_past_holidays(app: TestApp) {
    let today = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC).date();
    let tomorrow = today.tomorrow().unwrap();
    let r = app
        .post("/api/v1/calendars", &json!({"key": "closed-today", "name": "Closed today and tomorrow", "timezone": "UTC", "always": true, "holidays": [today.to_string(), tomorrow.to_string()]}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let r = app
        .post("/api/v1/sla-policies", &json!({"key": "holiday", "name": "Holiday test", "order": 0, "match": {"tiers": ["priority"]}, "first_response": "1h", "calendar": "closed-today"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let t = app.create_ticket(json!({"customer": {"tier": "priority"}})).await;
    let s = sla(&app, t["id"].as_str().unwrap()).await;
    assert_eq!(s["calendar"]["key"], "closed-today");
    let first = clock(&s, "first_response");
    let expected_due = format!("{}T01:00:00.000Z", tomorrow.tomorrow().unwrap());
    assert_eq!(first["due_at"], expected_due.as_str(), "1 business hour after the holidays end");
    assert_eq!(first["elapsed_ms"], 0);
}

/// The sweepers' own loops, on two nodes at once: each alert is still recorded once.
async fn two_nodes_sweeping_one_database_record_each_breach_once(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let sweeping = |c: &mut steward_server::Config| c.workers.sla_sweeper = true;
    let app = TestApp::spawn_with(backend, sweeping).await.expect("the backend was available a moment ago");
    fast_policy(&app, "1s", "2s").await;
    let second = app.node(sweeping).await;
    // The second node picks up the policy within `catalog_refresh_secs`; its clocks are created
    // by this node anyway.
    let mut ids = Vec::new();
    for i in 0..20 {
        // Spread creation over both nodes.
        let url = if i % 2 == 0 { app.url("/api/v1/tickets") } else { second.url("/api/v1/tickets") };
        let r = app
            .client
            .post(url)
            .bearer_auth(&app.token)
            .json(&json!({"title": format!("Race {i}"), "customer": {"name": "ACME", "tier": "priority"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        ids.push(body(r).await["id"].as_str().unwrap().to_owned());
    }
    // Both clocks (1 s and 2 s) warn, breach and escalate; the last escalation is at 3 s.
    for id in &ids {
        eventually(&format!("both escalations of {id}"), || async { (count(&app.events(id).await, "sla_escalated") >= 2).then_some(()) })
            .await;
    }
    // Sweeps on both nodes at once, after the loops have recorded everything, find nothing due.
    assert_eq!(tokio::join!(app.sweep_sla(), second.workers.sweep_sla()), (0, 0));
    for id in &ids {
        let events = app.events(id).await;
        assert_eq!(count(&events, "sla_breached"), 2, "{id}: one breach per clock: {events:?}");
        assert_eq!(count(&events, "sla_warning"), 2, "{id}: one warning per clock");
        assert_eq!(count(&events, "sla_escalated"), 2, "{id}: one escalation per clock");
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "a gapless timeline");
    }
}

async fn policies_are_managed_by_admins_with_validation(app: TestApp) {
    let listed = body(app.get("/api/v1/sla-policies").await).await;
    let keys: Vec<&str> = listed.as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap()).collect();
    assert_eq!(keys.first(), Some(&"vip-phone"), "most specific first: {keys:?}");
    assert_eq!(keys.last(), Some(&"default"));
    let policy = json!({"key": "night-shift", "name": "Night shift", "match": {"channels": ["chat"], "priorities": ["high"]}, "first_response": "5m", "resolution": "2h", "calendar": "support-hours"});
    let r = app.post("/api/v1/sla-policies", &policy).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["location"], "/api/v1/sla-policies/night-shift");
    let created = body(r).await;
    assert_eq!(created["warning_percent"], 80);
    assert_eq!(created["pause_on"], json!(["waiting_customer", "waiting_partner"]));
    problem(app.post("/api/v1/sla-policies", &policy).await, StatusCode::CONFLICT).await;
    let t = app.create_ticket(json!({"channel": "chat", "priority": "high"})).await;
    assert_eq!(sla(&app, t["id"].as_str().unwrap()).await["policy"]["key"], "night-shift");
    let r = app
        .request(Method::PUT, "/api/v1/sla-policies/night-shift")
        .json(&json!({"name": "Night", "first_response": "10m"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["first_response"], "10m");
    let p = problem(
        app.post(
            "/api/v1/sla-policies",
            &json!({"key": "Bad Key", "name": "x", "first_response": "soon", "calendar": "nope", "match": {"channels": ["fax"]}}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem_fields(&p), ["match.channels[0]"], "shape errors come first: {p}");
    let p = problem(
        app.post("/api/v1/sla-policies", &json!({"key": "Bad Key", "name": "x", "first_response": "soon", "calendar": "nope"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem_fields(&p), ["key", "first_response"]);
    // A well-formed policy naming a calendar that does not exist: 404 naming the field.
    let p = problem(
        app.post("/api/v1/sla-policies", &json!({"key": "good-key", "name": "x", "first_response": "1h", "calendar": "nope"})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(problem_fields(&p), ["calendar"]);
    let p =
        problem(app.post("/api/v1/sla-policies", &json!({"name": "x", "resolution": "1h"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["key"]);
    let agent = app.token_with_role("agent").await;
    let r = app.request_as(&agent, Method::DELETE, "/api/v1/sla-policies/night-shift").send().await.unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
    let r = app.request_as(&agent, Method::GET, "/api/v1/sla-policies/night-shift").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "everyone reads policies");
    assert_eq!(app.request(Method::DELETE, "/api/v1/sla-policies/night-shift").send().await.unwrap().status(), StatusCode::NO_CONTENT);
    problem(app.get("/api/v1/sla-policies/night-shift").await, StatusCode::NOT_FOUND).await;
}

async fn calendars_are_managed_by_admins_and_guarded_when_in_use(app: TestApp) {
    let listed = body(app.get("/api/v1/calendars").await).await;
    let support = listed.as_array().unwrap().iter().find(|c| c["key"] == "support-hours").expect("shipped calendar");
    assert_eq!(support["hours"]["mon"], json!(["08:00-18:00"]));
    assert!(support["hours"]["sat"].is_null());
    let r = app.post("/api/v1/calendars", &json!({"key": "berlin", "timezone": "Europe/Berlin", "hours": {"mon": ["09:00-12:00", "13:00-17:00"]}, "holidays": ["2026-12-24"]})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let c = body(app.get("/api/v1/calendars/berlin").await).await;
    assert_eq!(c["hours"]["mon"], json!(["09:00-12:00", "13:00-17:00"]));
    assert_eq!(c["timezone"], "Europe/Berlin");
    let p = problem(
        app.post(
            "/api/v1/calendars",
            &json!({"key": "bad", "timezone": "Mars/Olympus", "hours": {"mon": ["17:00-09:00"]}, "holidays": ["someday"]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields = problem_fields(&p);
    assert!(
        fields.contains(&"timezone".to_string())
            && fields.contains(&"hours.mon[0]".to_string())
            && fields.contains(&"holidays[0]".to_string()),
        "{p}"
    );
    let p = problem(app.request(Method::DELETE, "/api/v1/calendars/support-hours").send().await.unwrap(), StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("`default`"), "{p}");
    assert_eq!(app.request(Method::DELETE, "/api/v1/calendars/berlin").send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let qa = app.token_with_role("qa").await;
    let r = app
        .request_as(&qa, Method::POST, "/api/v1/calendars")
        .json(&json!({"key": "x", "timezone": "UTC", "always": true}))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
}
