use crate::helpers::{body, clock_passes, problem, problem_fields, TestApp};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    reopening_within_the_window_counts_and_resumes_the_resolution_clock,
    reopening_after_the_window_opens_a_linked_follow_up,
    a_customer_comment_on_a_resolved_ticket_reopens_it,
    resolving_issues_a_survey_answered_once,
    surveys_refuse_bad_scores_unknown_and_expired_links,
    complaints_name_their_origin_and_its_timeline_records_them,
    reviews_gate_stages_and_only_qa_or_supervisors_review,
);

async fn resolve(app: &TestApp, id: &str) -> Value {
    let current = body(app.get(&format!("/api/v1/tickets/{id}")).await).await;
    let tag = format!("\"{}\"", current["version"]);
    let r = app.patch(&format!("/api/v1/tickets/{id}"), Some(&tag), &json!({"status": "resolved"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await
}

fn kinds(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
}

async fn reopening_within_the_window_counts_and_resumes_the_resolution_clock(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    app.transition(id, "needs_analysis").await;
    assert_eq!(app.transition(id, "closed").await.status(), StatusCode::OK);
    let before = body(app.get(&format!("/api/v1/tickets/{id}/sla")).await).await;
    let resolution_before = before["clocks"].as_array().unwrap().iter().find(|c| c["kind"] == "resolution").unwrap().clone();
    assert!(resolution_before["stopped_at"].is_string());
    let r = app.post(&format!("/api/v1/tickets/{id}/reopen"), &json!({"reason": "the printer smokes again"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let t = body(r).await;
    assert_eq!((t["status"].as_str(), t["stage"].as_str(), t["reopen_count"].as_u64()), (Some("open"), Some("needs_analysis"), Some(1)));
    assert!(t["closed_at"].is_null() && t["resolved_at"].is_null());
    let events = app.events(id).await;
    let reopened = events.iter().find(|e| e["kind"] == "reopened").unwrap();
    assert_eq!(reopened["data"]["reason"], "the printer smokes again");
    assert_eq!(reopened["data"]["from_status"], "closed");
    let after = body(app.get(&format!("/api/v1/tickets/{id}/sla")).await).await;
    let resolution = after["clocks"].as_array().unwrap().iter().find(|c| c["kind"] == "resolution").unwrap();
    assert_eq!(resolution["state"], "running");
    assert_eq!(resolution["id"], resolution_before["id"], "the same clock resumes");
    assert!(resolution["elapsed_ms"].as_i64().unwrap() >= resolution_before["elapsed_ms"].as_i64().unwrap());
    // Only resolved or closed tickets reopen.
    let p = problem(app.post(&format!("/api/v1/tickets/{id}/reopen"), &json!({})).await, StatusCode::CONFLICT).await;
    assert_eq!(problem_fields(&p), ["status"]);
}

async fn reopening_after_the_window_opens_a_linked_follow_up(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |c| c.tickets.reopen_window_days = 0).await.unwrap();
    let t = app.create_ticket(json!({"tags": ["printer"]})).await;
    let id = t["id"].as_str().unwrap();
    let closed = body(app.transition(id, "closed").await).await;
    // A zero-day window has passed once the clock is past the closing instant.
    clock_passes(closed["closed_at"].as_str().expect("closed_at").parse().unwrap()).await;
    let r = app.post(&format!("/api/v1/tickets/{id}/reopen"), &json!({"reason": "again"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let follow_up = body(r).await;
    assert_ne!(follow_up["id"], t["id"]);
    assert_eq!(location, format!("/api/v1/tickets/{}", follow_up["id"].as_str().unwrap()));
    assert_eq!(follow_up["origin_ticket_id"], t["id"]);
    assert_eq!(follow_up["title"], format!("Follow-up to {}: Printer on fire", t["number"].as_str().unwrap()));
    assert_eq!(follow_up["tags"], json!(["printer"]));
    assert_eq!(follow_up["description"], "again");
    let old = body(app.get(&format!("/api/v1/tickets/{id}")).await).await;
    assert_eq!((old["status"].as_str(), old["reopen_count"].as_u64()), (Some("closed"), Some(0)));
    let events = app.events(id).await;
    let link = events.iter().find(|e| e["kind"] == "follow_up_created").expect("the old ticket links the follow-up");
    assert_eq!(link["data"]["number"], follow_up["number"]);
}

async fn a_customer_comment_on_a_resolved_ticket_reopens_it(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    resolve(&app, id).await;
    let r = app
        .post(&format!("/api/v1/tickets/{id}/comments"), &json!({"body": "It broke again.", "visibility": "public", "from_customer": true}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let t = body(r).await;
    assert_eq!((t["status"].as_str(), t["reopen_count"].as_u64()), (Some("open"), Some(1)));
    assert!(t["first_response_at"].is_null(), "the customer's comment is not a response");
    let k = kinds(&app.events(id).await);
    assert_eq!(&k[k.len() - 3..], ["reopened", "status_changed", "comment_added"]);
    let p = problem(
        app.post(&format!("/api/v1/tickets/{id}/comments"), &json!({"body": "psst", "visibility": "internal", "from_customer": true}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem_fields(&p), ["visibility"]);
}

async fn resolving_issues_a_survey_answered_once(app: TestApp) {
    let t = app.create_ticket(json!({"title": "Router down"})).await;
    let id = t["id"].as_str().unwrap();
    resolve(&app, id).await;
    let events = app.events(id).await;
    let issued = events.iter().find(|e| e["kind"] == "survey_issued").expect("a survey on resolution");
    let url = issued["data"]["survey_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("/api/v1/surveys/"));
    // The customer needs no token.
    let r = app.client.get(app.url(&url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let survey = body(r).await;
    assert_eq!(survey["ticket"], json!({"number": t["number"], "title": "Router down"}));
    assert_eq!(survey["answered"], false);
    let r = app.client.post(app.url(&url)).json(&json!({"score": 5, "comment": "Quick and kind"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let p = problem(app.client.post(app.url(&url)).json(&json!({"score": 1})).send().await.unwrap(), StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("already answered"), "{p}");
    assert_eq!(body(app.client.get(app.url(&url)).send().await.unwrap()).await["answered"], true);
    let events = app.events(id).await;
    let answers: Vec<&Value> = events.iter().filter(|e| e["kind"] == "csat_received").collect();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0]["data"], json!({"score": 5, "comment": "Quick and kind"}));
    assert_eq!(answers[0]["actor"]["kind"], "customer");
    // Answering does not change the ticket's version.
    assert_eq!(body(app.get(&format!("/api/v1/tickets/{id}")).await).await["version"], 2);
}

async fn surveys_refuse_bad_scores_unknown_and_expired_links(app: TestApp) {
    problem(app.client.get(app.url("/api/v1/surveys/nope")).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    problem(app.client.post(app.url("/api/v1/surveys/nope")).json(&json!({"score": 3})).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    resolve(&app, id).await;
    let url =
        app.events(id).await.iter().find(|e| e["kind"] == "survey_issued").unwrap()["data"]["survey_url"].as_str().unwrap().to_owned();
    for (answer, field) in [
        (json!({"score": 0}), "score"),
        (json!({"score": 6}), "score"),
        (json!({"score": "five"}), "score"),
        (json!({"score": 4, "mood": "ok"}), "mood"),
    ] {
        let p = problem(app.client.post(app.url(&url)).json(&answer).send().await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem_fields(&p), [field], "{answer}");
    }
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |c| c.tickets.survey_valid_days = 0).await.unwrap();
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    resolve(&app, id).await;
    let url =
        app.events(id).await.iter().find(|e| e["kind"] == "survey_issued").unwrap()["data"]["survey_url"].as_str().unwrap().to_owned();
    problem(app.client.get(app.url(&url)).send().await.unwrap(), StatusCode::GONE).await;
    let p = problem(app.client.post(app.url(&url)).json(&json!({"score": 4})).send().await.unwrap(), StatusCode::GONE).await;
    assert!(p["detail"].as_str().unwrap().contains("expired"));
}

async fn complaints_name_their_origin_and_its_timeline_records_them(app: TestApp) {
    let origin = app.create_ticket(json!({"title": "Late delivery"})).await;
    let r = app
        .post("/api/v1/tickets", &json!({"title": "Nobody called back", "kind": "complaint", "customer": {"name": "ACME"}, "origin_ticket_id": origin["number"]}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let complaint = body(r).await;
    assert_eq!(complaint["origin_ticket_id"], origin["id"]);
    let s = body(app.get(&format!("/api/v1/tickets/{}/sla", complaint["id"].as_str().unwrap())).await).await;
    assert_eq!(s["policy"]["key"], "complaint", "complaints follow the stricter policy");
    let events = app.events(origin["id"].as_str().unwrap()).await;
    let recorded = events.iter().find(|e| e["kind"] == "complaint_received").expect("the origin records the complaint");
    assert_eq!(recorded["data"], json!({"complaint_id": complaint["id"], "number": complaint["number"], "title": "Nobody called back"}));
    let p = problem(
        app.post("/api/v1/tickets", &json!({"title": "x", "kind": "request", "customer": {"name": "A"}, "origin_ticket_id": origin["id"]}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem_fields(&p), ["origin_ticket_id"]);
    let p = problem(
        app.post("/api/v1/tickets", &json!({"title": "x", "kind": "complaint", "customer": {"name": "A"}, "origin_ticket_id": "T-999999"}))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(problem_fields(&p), ["origin_ticket_id"]);
}

async fn reviews_gate_stages_and_only_qa_or_supervisors_review(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    for stage in ["needs_analysis", "solution_design", "delivery"] {
        assert_eq!(app.transition(id, stage).await.status(), StatusCode::OK);
    }
    let p = problem(app.transition(id, "closed").await, StatusCode::CONFLICT).await;
    assert_eq!(p["type"], "/problems/review-required", "closing needs the review too");
    assert_eq!(p["rule"], "stage `delivery` requires_review");
    let agent = app.token_with_role("agent").await;
    let review = json!({"outcome": "fail", "score": 40, "checklist": [{"item": "parts logged", "passed": false}, {"item": "customer signed", "passed": true}], "notes": "parts missing"});
    let r = app.request_as(&agent, Method::POST, &format!("/api/v1/tickets/{id}/reviews")).json(&review).send().await.unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
    let qa = app.token_with_role("qa").await;
    let r = app.request_as(&qa, Method::POST, &format!("/api/v1/tickets/{id}/reviews")).json(&review).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(body(r).await["review_passed_stage"].is_null());
    problem(app.transition(id, "after_sales").await, StatusCode::CONFLICT).await;
    let contradictory = json!({"outcome": "pass", "score": 90, "checklist": [{"item": "parts logged", "passed": false}]});
    let p = problem(
        app.request_as(&qa, Method::POST, &format!("/api/v1/tickets/{id}/reviews")).json(&contradictory).send().await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem_fields(&p), ["outcome"]);
    let p = problem(
        app.request_as(&qa, Method::POST, &format!("/api/v1/tickets/{id}/reviews"))
            .json(&json!({"outcome": "pass", "score": 101}))
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem_fields(&p), ["score"]);
    let supervisor = app.token_with_role("supervisor").await;
    let r = app
        .request_as(&supervisor, Method::POST, &format!("/api/v1/tickets/{id}/reviews"))
        .json(&json!({"outcome": "pass", "score": 88}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(app.transition(id, "closed").await.status(), StatusCode::OK);
    let events = app.events(id).await;
    let reviews: Vec<&Value> = events.iter().filter(|e| e["kind"] == "reviewed").collect();
    assert_eq!(reviews.len(), 2);
    assert_eq!(reviews[0]["data"]["failed_items"], json!(["parts logged"]));
    assert_eq!((reviews[1]["data"]["outcome"].as_str(), reviews[1]["data"]["stage"].as_str()), (Some("pass"), Some("delivery")));
}
