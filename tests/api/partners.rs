//! Partners, delegation, and what a partner token may and may not do.

use crate::helpers::{body, clock_passes, problem, problem_fields, TestApp};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    partner_crud_round_trip_and_validation,
    delegation_records_events_and_can_be_taken_back,
    suspended_or_out_of_contract_partners_cannot_receive_work,
    partner_tokens_are_bound_to_one_partner,
    partner_token_sees_and_works_only_its_delegated_tickets,
    partner_token_is_refused_everything_else,
    delegation_can_set_waiting_partner_by_policy,
    stats_and_scorecards_explain_each_partner_over_a_window,
    kpis_filter_and_group_by_partner,
    partner_scores_are_metrics_when_enabled,
    a_partner_never_sees_the_survey_link_nor_answers_a_survey,
    a_partner_with_too_little_data_is_unrated_with_the_minimum_stated,
);

fn partner_body(name: &str) -> Value {
    json!({
        "name": name, "kind": "subcontractor", "contact": "ops@partner.test", "categories": ["Hardware", "network"],
        "contract": {"start": "2020-01-01T00:00:00Z", "first_response": "4h", "resolution": "2d"}
    })
}

async fn create_partner(app: &TestApp, name: &str) -> Value {
    let r = app.post("/api/v1/partners", &partner_body(name)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    body(r).await
}

async fn delegate(app: &TestApp, ticket: &str, partner: &Value) -> reqwest::Response {
    app.post(&format!("/api/v1/tickets/{ticket}/delegation"), &json!({"partner_id": partner["id"], "note": "please fix"})).await
}

async fn partner_token(app: &TestApp, partner: &Value) -> String {
    let r = app.post("/api/v1/tokens", &json!({"name": "partner", "role": "partner", "partner_id": partner["id"]})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let t = body(r).await;
    assert_eq!(t["partner_id"], partner["id"]);
    t["token"].as_str().unwrap().to_owned()
}

async fn partner_crud_round_trip_and_validation(app: TestApp) {
    let r = app.post("/api/v1/partners", &partner_body("FixIt GmbH")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let p = body(r).await;
    assert_eq!(p["status"], "active");
    assert_eq!(p["categories"], json!(["hardware", "network"]));
    assert_eq!(p["contract"]["first_response"], "4h");
    assert_eq!(body(app.get(&location).await).await, p);
    let listed = body(app.get("/api/v1/partners").await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let r = app.patch(&location, None, &json!({"status": "suspended", "contact": null})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let p = body(r).await;
    assert_eq!((p["status"].as_str(), p["contact"].is_null()), (Some("suspended"), true));

    let mut bad = partner_body("Bad");
    bad["contract"]["end"] = json!("2019-01-01T00:00:00Z");
    bad["contract"]["resolution"] = json!("soon");
    bad["kind"] = json!("friend");
    let p = problem(app.post("/api/v1/partners", &bad).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["kind"]);
    bad["kind"] = json!("other");
    let p = problem(app.post("/api/v1/partners", &bad).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["contract.resolution"]);
    bad["contract"]["resolution"] = json!("1d");
    bad["contract"]["end"] = json!(null);
    bad["contract"]["calendar"] = json!("nowhere");
    let p = problem(app.post("/api/v1/partners", &bad).await, StatusCode::NOT_FOUND).await;
    assert_eq!(problem_fields(&p), ["contract.calendar"]);

    let agent = app.token_with_role("agent").await;
    problem(app.request_as(&agent, Method::GET, "/api/v1/partners").send().await.unwrap(), StatusCode::FORBIDDEN).await;
    let supervisor = app.token_with_role("supervisor").await;
    let r = app.request_as(&supervisor, Method::GET, "/api/v1/partners").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let r = app.request(Method::DELETE, &location).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    problem(app.get(&location).await, StatusCode::NOT_FOUND).await;
}

async fn delegation_records_events_and_can_be_taken_back(app: TestApp) {
    let partner = create_partner(&app, "FixIt").await;
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    let r = delegate(&app, id, &partner).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["etag"], "\"2\"");
    let events = app.events(id).await;
    let d = events.iter().find(|e| e["kind"] == "delegated").expect("delegated event");
    assert_eq!(d["data"]["partner_id"], partner["id"]);
    assert_eq!(d["data"]["partner_name"], "FixIt");
    assert_eq!(d["data"]["note"], "please fix");
    assert!(d["data"]["first_response_due_at"].is_string() && d["data"]["resolution_due_at"].is_string(), "{d}");

    let p = problem(delegate(&app, id, &partner).await, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("already delegated"), "{p}");
    let other = create_partner(&app, "Other").await;
    problem(delegate(&app, id, &other).await, StatusCode::CONFLICT).await;

    let r = app.request(Method::DELETE, &format!("/api/v1/tickets/{id}/delegation")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let events = app.events(id).await;
    assert_eq!(events.last().unwrap()["kind"], "delegation_withdrawn");
    let r = app.request(Method::DELETE, &format!("/api/v1/tickets/{id}/delegation")).send().await.unwrap();
    problem(r, StatusCode::NOT_FOUND).await;
    // Taken back, it can go to another partner; a partner that did work cannot be deleted.
    assert_eq!(delegate(&app, id, &other).await.status(), StatusCode::OK);
    let r = app.request(Method::DELETE, &format!("/api/v1/partners/{}", partner["id"].as_str().unwrap())).send().await.unwrap();
    problem(r, StatusCode::CONFLICT).await;
    problem(app.post("/api/v1/tickets/T-999999/delegation", &json!({"partner_id": other["id"]})).await, StatusCode::NOT_FOUND).await;
}

async fn suspended_or_out_of_contract_partners_cannot_receive_work(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    let suspended = create_partner(&app, "Sleepy").await;
    app.patch(&format!("/api/v1/partners/{}", suspended["id"].as_str().unwrap()), None, &json!({"status": "suspended"})).await;
    let p = problem(delegate(&app, id, &suspended).await, StatusCode::CONFLICT).await;
    assert_eq!(problem_fields(&p), ["partner_id"]);
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("suspended"), "{p}");

    let mut expired = partner_body("Expired");
    expired["contract"]["end"] = json!("2021-01-01T00:00:00Z");
    let expired = body(app.post("/api/v1/partners", &expired).await).await;
    let p = problem(delegate(&app, id, &expired).await, StatusCode::CONFLICT).await;
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("expired"), "{p}");

    let mut none = partner_body("No contract");
    none["contract"] = json!(null);
    let none = body(app.post("/api/v1/partners", &none).await).await;
    let p = problem(delegate(&app, id, &none).await, StatusCode::CONFLICT).await;
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("no contract"), "{p}");
    assert!(app.events(id).await.iter().all(|e| e["kind"] != "delegated"));
}

async fn partner_tokens_are_bound_to_one_partner(app: TestApp) {
    let partner = create_partner(&app, "FixIt").await;
    let p = problem(app.post("/api/v1/tokens", &json!({"name": "p", "role": "partner"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["partner_id"]);
    let p = problem(
        app.post("/api/v1/tokens", &json!({"name": "p", "role": "agent", "partner_id": partner["id"]})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem_fields(&p), ["partner_id"]);
    let p = problem(
        app.post("/api/v1/tokens", &json!({"name": "p", "role": "partner", "partner_id": "0190d7a4-0000-7000-8000-000000000000"})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(problem_fields(&p), ["partner_id"]);
    // Partners are organisations, not staff.
    let p = problem(
        app.post("/api/v1/staff", &json!({"name": "P", "email": "p@partner.test", "role": "partner"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem_fields(&p), ["role"]);
    partner_token(&app, &partner).await;
}

/// Three tickets: one delegated to partner A, one to partner B, one to nobody.
async fn isolation_fixture(app: &TestApp) -> (String, String, String, String) {
    let a = create_partner(app, "A").await;
    let b = create_partner(app, "B").await;
    let mine = app.create_ticket(json!({"title": "for A"})).await["id"].as_str().unwrap().to_owned();
    let theirs = app.create_ticket(json!({"title": "for B"})).await["id"].as_str().unwrap().to_owned();
    let nobodys = app.create_ticket(json!({"title": "internal only"})).await["id"].as_str().unwrap().to_owned();
    assert_eq!(delegate(app, &mine, &a).await.status(), StatusCode::OK);
    assert_eq!(delegate(app, &theirs, &b).await.status(), StatusCode::OK);
    (partner_token(app, &a).await, mine, theirs, nobodys)
}

async fn partner_token_sees_and_works_only_its_delegated_tickets(app: TestApp) {
    let (token, mine, theirs, nobodys) = isolation_fixture(&app).await;
    let get = |path: String| app.request_as(&token, Method::GET, &path).send();
    let post = |path: String, b: Value| app.request_as(&token, Method::POST, &path).json(&b).send();

    // Listing: only its own.
    let list = body(get("/api/v1/tickets".into()).await.unwrap()).await;
    let ids: Vec<_> = list["items"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, std::slice::from_ref(&mine));

    // Reading: its own; another partner's or an undelegated ticket does not exist (404, not 403).
    assert_eq!(get(format!("/api/v1/tickets/{mine}")).await.unwrap().status(), StatusCode::OK);
    for other in [&theirs, &nobodys] {
        problem(get(format!("/api/v1/tickets/{other}")).await.unwrap(), StatusCode::NOT_FOUND).await;
        problem(get(format!("/api/v1/tickets/{other}/events")).await.unwrap(), StatusCode::NOT_FOUND).await;
        let r = post(format!("/api/v1/tickets/{other}/comments"), json!({"body": "hi", "visibility": "public"})).await.unwrap();
        problem(r, StatusCode::NOT_FOUND).await;
        let r = post(format!("/api/v1/tickets/{other}/transitions"), json!({"to": "needs_analysis"})).await.unwrap();
        problem(r, StatusCode::NOT_FOUND).await;
    }
    problem(get("/api/v1/tickets/T-999999".into()).await.unwrap(), StatusCode::NOT_FOUND).await;

    // Internal notes never reach the partner's timeline.
    let r = app.post(&format!("/api/v1/tickets/{mine}/comments"), &json!({"body": "margin is thin", "visibility": "internal"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.post(&format!("/api/v1/tickets/{mine}/comments"), &json!({"body": "partner on it", "visibility": "public"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let events = body(get(format!("/api/v1/tickets/{mine}/events")).await.unwrap()).await;
    let events = events["items"].as_array().unwrap();
    assert!(events.iter().any(|e| e["data"]["body"] == "partner on it"));
    assert!(!events.iter().any(|e| e["data"]["visibility"] == "internal"), "{events:?}");
    assert!(!serde_json::to_string(events).unwrap().contains("margin is thin"));
    // Staff still see everything.
    assert!(app.events(&mine).await.iter().any(|e| e["data"]["body"] == "margin is thin"));

    // Working: a public comment and a move the process allows; internal or customer comments are refused.
    let r = post(format!("/api/v1/tickets/{mine}/comments"), json!({"body": "on site at 3pm", "visibility": "public"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = post(format!("/api/v1/tickets/{mine}/comments"), json!({"body": "x", "visibility": "internal"})).await.unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
    let r = post(format!("/api/v1/tickets/{mine}/comments"), json!({"body": "x", "visibility": "public", "from_customer": true}))
        .await
        .unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
    let r = post(format!("/api/v1/tickets/{mine}/transitions"), json!({"to": "needs_analysis"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = post(format!("/api/v1/tickets/{mine}/transitions"), json!({"to": "after_sales"})).await.unwrap();
    problem(r, StatusCode::CONFLICT).await;
    let comment = app.events(&mine).await.into_iter().find(|e| e["data"]["body"] == "on site at 3pm").unwrap();
    assert_eq!(comment["actor"]["name"], "partner");

    // Taken back, the ticket is gone for the partner.
    app.request(Method::DELETE, &format!("/api/v1/tickets/{mine}/delegation")).send().await.unwrap();
    problem(get(format!("/api/v1/tickets/{mine}")).await.unwrap(), StatusCode::NOT_FOUND).await;
    let list = body(get("/api/v1/tickets".into()).await.unwrap()).await;
    assert_eq!(list["items"], json!([]));
}

async fn partner_token_is_refused_everything_else(app: TestApp) {
    let (token, mine, _, _) = isolation_fixture(&app).await;
    let partners = body(app.get("/api/v1/partners").await).await;
    let partner_id = partners[0]["id"].as_str().unwrap().to_owned();
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::POST, "/api/v1/tickets".into(), Some(json!({"title": "x", "channel": "web", "customer": {"name": "c"}}))),
        (Method::PATCH, format!("/api/v1/tickets/{mine}"), Some(json!({"title": "mine now"}))),
        (Method::POST, format!("/api/v1/tickets/{mine}/reopen"), Some(json!({}))),
        (Method::POST, format!("/api/v1/tickets/{mine}/reviews"), Some(json!({"outcome": "pass", "score": 90}))),
        (Method::GET, format!("/api/v1/tickets/{mine}/sla"), None),
        (Method::POST, format!("/api/v1/tickets/{mine}/delegation"), Some(json!({"partner_id": partner_id}))),
        (Method::DELETE, format!("/api/v1/tickets/{mine}/delegation"), None),
        (Method::GET, "/api/v1/partners".into(), None),
        (Method::GET, format!("/api/v1/partners/{partner_id}"), None),
        (Method::GET, "/api/v1/staff".into(), None),
        (Method::GET, "/api/v1/tokens".into(), None),
        (Method::GET, "/api/v1/processes".into(), None),
        (Method::GET, "/api/v1/sla-policies".into(), None),
        (Method::GET, "/api/v1/webhooks".into(), None),
        (Method::GET, "/api/v1/partners/scorecards".into(), None),
        (Method::GET, format!("/api/v1/partners/{partner_id}/stats"), None),
        (Method::GET, format!("/api/v1/tickets/{mine}/eligible-assignees"), None),
        (Method::GET, "/api/v1/courses".into(), None),
        (Method::GET, "/api/v1/training-records".into(), None),
        (Method::GET, "/api/v1/certifications/expiring".into(), None),
        (Method::GET, "/api/v1/staff-events".into(), None),
    ];
    for (method, path, b) in cases {
        let mut r = app.request_as(&token, method.clone(), &path).header("If-Match", "*");
        if let Some(b) = b {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
    // Nothing changed on the ticket.
    let t = body(app.get(&format!("/api/v1/tickets/{mine}")).await).await;
    assert_eq!(t["title"], "for A");
}

async fn delegation_can_set_waiting_partner_by_policy(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |c| c.partners.waiting_partner_on_delegation = true).await.expect("same backend as before");
    let partner = create_partner(&app, "FixIt").await;
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    let r = delegate(&app, id, &partner).await;
    assert_eq!(body(r).await["status"], "waiting_partner");
    let r = app.request(Method::DELETE, &format!("/api/v1/tickets/{id}/delegation")).send().await.unwrap();
    assert_eq!(body(r).await["status"], "open");
    let kinds: Vec<_> =
        app.events(id).await.iter().map(|e| e["kind"].as_str().unwrap().to_owned()).filter(|k| !k.starts_with("sla_")).collect();
    assert_eq!(kinds, ["created", "delegated", "status_changed", "delegation_withdrawn", "status_changed"]);
}

async fn resolve(app: &TestApp, id: &str) {
    let r = app.patch(&format!("/api/v1/tickets/{id}"), Some("*"), &json!({"status": "resolved"})).await;
    assert_eq!(r.status(), StatusCode::OK);
}

async fn stats_and_scorecards_explain_each_partner_over_a_window(app: TestApp) {
    // Small samples on purpose: every partner here is rated from a single judged delegation.
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |c| c.partners.scorecard_minimum_sample = 1).await.unwrap();
    let good = create_partner(&app, "Good").await;
    let mut slow = partner_body("Slow");
    slow["contract"]["resolution"] = json!("1s");
    let slow = body(app.post("/api/v1/partners", &slow).await).await;
    let idle = create_partner(&app, "Idle").await;

    // Good: one resolved in time and praised, one still open, one resolved then complained
    // about and reopened.
    let t1 = app.create_ticket(json!({})).await["id"].as_str().unwrap().to_owned();
    let t2 = app.create_ticket(json!({})).await["id"].as_str().unwrap().to_owned();
    let t3 = app.create_ticket(json!({})).await["id"].as_str().unwrap().to_owned();
    for t in [&t1, &t2, &t3] {
        assert_eq!(delegate(&app, t, &good).await.status(), StatusCode::OK);
    }
    resolve(&app, &t1).await;
    let url =
        app.events(&t1).await.iter().find(|e| e["kind"] == "survey_issued").unwrap()["data"]["survey_url"].as_str().unwrap().to_owned();
    let r = app.client.post(app.url(&url)).json(&json!({"score": 5})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    resolve(&app, &t3).await;
    app.create_ticket(json!({"kind": "complaint", "origin_ticket_id": t3})).await;
    let r = app.post(&format!("/api/v1/tickets/{t3}/reopen"), &json!({"reason": "still broken"})).await;
    assert_eq!(r.status(), StatusCode::OK);

    // Slow: misses its one-second OLA.
    let t4 = app.create_ticket(json!({})).await["id"].as_str().unwrap().to_owned();
    assert_eq!(delegate(&app, &t4, &slow).await.status(), StatusCode::OK);
    let delegated = app.events(&t4).await.into_iter().find(|e| e["kind"] == "delegated").expect("delegated event");
    let delegated_at: jiff::Timestamp = delegated["at"].as_str().unwrap().parse().unwrap();
    clock_passes(delegated_at + jiff::SignedDuration::from_secs(1)).await;

    let good_id = good["id"].as_str().unwrap();
    let s = body(app.get(&format!("/api/v1/partners/{good_id}/stats?window=30d")).await).await;
    assert_eq!(s["tickets_delegated"], 3, "{s}");
    assert_eq!((s["ola_due"].as_u64(), s["ola_met"].as_u64(), s["ola_met_rate"].as_f64()), (Some(1), Some(1), Some(1.0)), "{s}");
    assert_eq!(s["resolved"], 1, "the reopened ticket is no longer resolved: {s}");
    assert!(s["mean_resolution_ms"].as_i64().is_some() && s["p90_resolution_ms"].as_i64().is_some(), "{s}");
    assert_eq!((s["csat_answers"].as_u64(), s["csat_mean"].as_f64()), (Some(1), Some(5.0)), "{s}");
    assert_eq!((s["complaints"].as_u64(), s["reopens"].as_u64()), (Some(1), Some(1)), "{s}");
    // A window before any of it is empty.
    let s = body(app.get(&format!("/api/v1/partners/{good_id}/stats?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z")).await).await;
    assert_eq!(s["tickets_delegated"], 0);
    problem(app.get(&format!("/api/v1/partners/{good_id}/stats?window=soon")).await, StatusCode::BAD_REQUEST).await;
    // `from` decides the start, whatever the window; one after `to` is an empty window.
    let s =
        body(app.get(&format!("/api/v1/partners/{good_id}/stats?window=1d&from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z")).await).await;
    assert_eq!(s["tickets_delegated"], 0);
    let s = body(app.get(&format!("/api/v1/partners/{good_id}/stats?from=2020-02-01T00:00:00Z&to=2020-01-01T00:00:00Z")).await).await;
    assert_eq!(s["tickets_delegated"], 0);

    let card = body(app.get(&format!("/api/v1/partners/{good_id}/scorecard")).await).await;
    // (100·40 + 100·30 + 66.7·15 + 66.7·15) / 100
    assert_eq!((card["score"].as_f64(), card["grade"].as_str()), (Some(90.0), Some("A")), "{card}");
    let names: Vec<_> = card["components"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ola_met", "csat", "complaints", "reopens"]);
    assert_eq!(card["components"][0]["weight"], 40.0);
    assert_eq!(card["components"][2]["inputs"], json!({"complaints": 1, "delegated": 3}));

    let ranking = body(app.get("/api/v1/partners/scorecards?window=30d").await).await;
    let order: Vec<_> = ranking.as_array().unwrap().iter().map(|c| (c["partner_id"].clone(), c["grade"].clone())).collect();
    assert_eq!(order, [(good["id"].clone(), json!("A")), (slow["id"].clone(), json!("E")), (idle["id"].clone(), json!("unrated"))]);
    assert_eq!(ranking[1]["stats"]["ola_met_rate"], 0.0);
}

async fn kpis_filter_and_group_by_partner(app: TestApp) {
    let partner = create_partner(&app, "FixIt GmbH").await;
    let delegated = app.create_ticket(json!({})).await;
    app.create_ticket(json!({})).await;
    assert_eq!(delegate(&app, delegated["id"].as_str().unwrap(), &partner).await.status(), StatusCode::OK);
    let id = partner["id"].as_str().unwrap();
    let sample = |report: &Value| -> Value {
        report["kpis"].as_array().unwrap().iter().find(|k| k["key"] == "resolution_rate").unwrap()["sample"].clone()
    };
    let all = body(app.get("/api/v1/kpis?window=1d").await).await;
    assert_eq!(sample(&all), 2);
    let theirs = body(app.get(&format!("/api/v1/kpis?window=1d&partner={id}")).await).await;
    assert_eq!(sample(&theirs), 1, "only the delegated ticket");
    let grouped = body(app.get("/api/v1/kpis?window=1d&group_by=partner").await).await;
    let groups = grouped["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{grouped}");
    assert_eq!(groups[0]["value"], id);
    assert_eq!(sample(&groups[0]), 1);
    // Partner scores reach Prometheus only when the operator enables the label.
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains("steward_partner_score{"), "off by default");
}

async fn partner_scores_are_metrics_when_enabled(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |c| c.metrics.partner_labels = true).await.unwrap();
    let partner = create_partner(&app, "FixIt GmbH").await;
    let t = app.create_ticket(json!({})).await;
    delegate(&app, t["id"].as_str().unwrap(), &partner).await;
    // An unrated partner (one open delegation) has no score series.
    app.refresh_metrics().await;
    assert!(!app.scrape().await.contains("steward_partner_score{"), "unrated: no series");
    for _ in 0..3 {
        let t = app.create_ticket(json!({})).await;
        delegate(&app, t["id"].as_str().unwrap(), &partner).await;
        resolve(&app, t["id"].as_str().unwrap()).await;
    }
    let card = body(app.get(&format!("/api/v1/partners/{}/scorecard", partner["id"].as_str().unwrap())).await).await;
    let score = card["score"].as_f64().expect("rated: three resolved delegations are enough");
    app.refresh_metrics().await;
    let text = app.scrape().await;
    assert!(text.contains(&format!("steward_partner_score{{partner=\"FixIt GmbH\"}} {score}")), "{text}");
}

async fn a_partner_never_sees_the_survey_link_nor_answers_a_survey(app: TestApp) {
    let partner = create_partner(&app, "FixIt").await;
    let token = partner_token(&app, &partner).await;
    let id = app.create_ticket(json!({})).await["id"].as_str().unwrap().to_owned();
    assert_eq!(delegate(&app, &id, &partner).await.status(), StatusCode::OK);
    resolve(&app, &id).await;
    let url = app.events(&id).await.iter().find(|e| e["kind"] == "survey_issued").unwrap()["data"]["survey_url"]
        .as_str()
        .expect("staff see the link")
        .to_owned();

    // The partner's timeline says a survey went out, and nothing that opens it.
    let r = app.request_as(&token, Method::GET, &format!("/api/v1/tickets/{id}/events")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    let page: Value = serde_json::from_str(&text).unwrap();
    let issued = page["items"].as_array().unwrap().iter().find(|e| e["kind"] == "survey_issued").expect("the event is kept").clone();
    assert!(issued["data"].get("survey_url").is_none() && issued["data"]["expires_at"].is_string(), "{issued}");
    let secret = url.rsplit('/').next().unwrap();
    assert!(!text.contains(secret), "the survey token appears nowhere: {text}");
    let ticket = app.request_as(&token, Method::GET, &format!("/api/v1/tickets/{id}")).send().await.unwrap().text().await.unwrap();
    assert!(!ticket.contains(secret), "{ticket}");

    // Even holding the link, a partner's token cannot answer; the customer still can.
    let r = app.request_as(&token, Method::POST, &url).json(&json!({"score": 5})).send().await.unwrap();
    let p = problem(r, StatusCode::FORBIDDEN).await;
    assert!(p["detail"].as_str().unwrap().contains("customers"), "{p}");
    assert_eq!(body(app.client.get(app.url(&url)).send().await.unwrap()).await["answered"], false);
    let r = app.client.post(app.url(&url)).json(&json!({"score": 4})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

async fn a_partner_with_too_little_data_is_unrated_with_the_minimum_stated(app: TestApp) {
    let partner = create_partner(&app, "New").await;
    let id = app.create_ticket(json!({})).await["id"].as_str().unwrap().to_owned();
    assert_eq!(delegate(&app, &id, &partner).await.status(), StatusCode::OK);
    let path = format!("/api/v1/partners/{}/scorecard", partner["id"].as_str().unwrap());
    // One open delegation and nothing resolved: the components alone would say 100 / A.
    let card = body(app.get(&path).await).await;
    assert_eq!((&card["score"], &card["grade"]), (&Value::Null, &json!("unrated")), "{card}");
    assert_eq!(card["sample"], json!({"judged": 0, "minimum": 3}), "{card}");
    let reason = card["unrated_reason"].as_str().unwrap();
    assert!(reason.contains("0 delegations") && reason.contains("at least 3"), "{reason}");
    let ranking = body(app.get("/api/v1/partners/scorecards").await).await;
    assert_eq!(ranking[0]["grade"], "unrated");
    // Three judged delegations make a rating.
    resolve(&app, &id).await;
    for _ in 0..2 {
        let t = app.create_ticket(json!({})).await["id"].as_str().unwrap().to_owned();
        assert_eq!(delegate(&app, &t, &partner).await.status(), StatusCode::OK);
        resolve(&app, &t).await;
    }
    let card = body(app.get(&path).await).await;
    assert_eq!(card["sample"], json!({"judged": 3, "minimum": 3}), "{card}");
    assert!(card["score"].is_number() && card["grade"] != "unrated" && card.get("unrated_reason").is_none(), "{card}");
}
