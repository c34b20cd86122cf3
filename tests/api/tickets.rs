use crate::helpers::{body, problem, problem_fields, TestApp};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    create_returns_201_with_location_etag_and_defaults,
    ticket_is_readable_by_id_and_by_number,
    numbers_are_sequential_and_formatted,
    idempotency_key_replays_the_first_response,
    idempotency_key_with_a_different_body_is_409,
    patch_requires_if_match_and_rejects_stale_versions,
    patch_changes_fields_and_records_events,
    patch_validates_every_field,
    patch_assigns_only_active_staff,
    transitions_follow_the_process_and_terminal_stages_close,
    rejected_transition_lists_allowed_targets,
    transition_with_stale_if_match_is_409,
    first_public_staff_reply_sets_first_response,
    timeline_records_every_change_in_order,
    list_filters_by_every_field,
    list_paginates_with_a_cursor_without_gaps_or_repeats,
    list_rejects_bad_parameters,
    unknown_ticket_is_404,
);

async fn create_returns_201_with_location_etag_and_defaults(app: TestApp) {
    let r = app
        .post("/api/v1/tickets", &json!({"title": " Printer on fire ", "customer": {"name": "ACME"}, "tags": ["HW", "hw", "floor-3"], "custom_fields": {"asset": "P-7"}}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let t = body(r).await;
    assert_eq!(location, format!("/api/v1/tickets/{}", t["id"].as_str().unwrap()));
    assert_eq!(etag, "\"1\"");
    assert_eq!(t["title"], "Printer on fire");
    assert_eq!(t["kind"], "request");
    assert_eq!(t["channel"], "web");
    assert_eq!(t["priority"], "normal");
    assert_eq!(t["customer"]["tier"], "standard");
    assert_eq!((t["process"].as_str(), t["stage"].as_str(), t["status"].as_str()), (Some("general"), Some("consultation"), Some("open")));
    assert_eq!(t["tags"], json!(["hw", "floor-3"]));
    assert_eq!(t["custom_fields"], json!({"asset": "P-7"}));
    assert_eq!(t["version"], 1);
    assert_eq!(t["reopen_count"], 0);
    assert!(t["first_response_at"].is_null() && t["resolved_at"].is_null() && t["closed_at"].is_null());
    let fetched = body(app.get(&location).await).await;
    assert_eq!(fetched, t);
}

async fn ticket_is_readable_by_id_and_by_number(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let number = t["number"].as_str().unwrap();
    for reference in [t["id"].as_str().unwrap(), number, &number.to_lowercase(), number.trim_start_matches("T-")] {
        let r = app.get(&format!("/api/v1/tickets/{reference}")).await;
        assert_eq!(r.status(), StatusCode::OK, "{reference}");
        assert_eq!(r.headers()["etag"], "\"1\"");
        assert_eq!(body(r).await["id"], t["id"]);
    }
}

async fn numbers_are_sequential_and_formatted(app: TestApp) {
    let a = app.create_ticket(json!({})).await;
    let b = app.create_ticket(json!({})).await;
    assert_eq!(a["number"], "T-000001");
    assert_eq!(b["number"], "T-000002");
}

async fn idempotency_key_replays_the_first_response(app: TestApp) {
    let send = || {
        app.request(Method::POST, "/api/v1/tickets")
            .header("Idempotency-Key", "order-42")
            .json(&json!({"title": "Once only", "customer": {"name": "ACME"}}))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_location = first.headers()["location"].clone();
    let first_body = body(first).await;
    let replay = send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["location"], first_location);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(body(replay).await, first_body);
    let list = body(app.get("/api/v1/tickets").await).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "a replay creates nothing");
    // Keys are per client: another token's same key is a different request.
    let other = app.token_with_role("agent").await;
    let r = app
        .request_as(&other, Method::POST, "/api/v1/tickets")
        .header("Idempotency-Key", "order-42")
        .json(&json!({"title": "Once only", "customer": {"name": "ACME"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_ne!(body(r).await["id"], first_body["id"]);
}

async fn idempotency_key_with_a_different_body_is_409(app: TestApp) {
    let send = |title: &str| {
        app.request(Method::POST, "/api/v1/tickets")
            .header("Idempotency-Key", "k-1")
            .json(&json!({"title": title, "customer": {"name": "ACME"}}))
            .send()
    };
    assert_eq!(send("First").await.unwrap().status(), StatusCode::CREATED);
    let p = problem(send("Second").await.unwrap(), StatusCode::CONFLICT).await;
    assert_eq!(p["type"], "/problems/idempotency-key-reused");
}

async fn patch_requires_if_match_and_rejects_stale_versions(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let path = format!("/api/v1/tickets/{}", t["id"].as_str().unwrap());
    let p = problem(app.patch(&path, None, &json!({"priority": "low"})).await, StatusCode::PRECONDITION_REQUIRED).await;
    assert_eq!(p["type"], "/problems/precondition-required");
    let r = app.patch(&path, Some("\"1\""), &json!({"priority": "low"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["etag"], "\"2\"");
    // A second writer still holding version 1 must not overwrite the first one's change.
    let p = problem(app.patch(&path, Some("\"1\""), &json!({"priority": "urgent"})).await, StatusCode::CONFLICT).await;
    assert_eq!(p["current_version"], 2);
    assert_eq!(body(app.get(&path).await).await["priority"], "low");
    problem(app.patch(&path, Some("soon"), &json!({"priority": "urgent"})).await, StatusCode::BAD_REQUEST).await;
}

async fn patch_changes_fields_and_records_events(app: TestApp) {
    let t = app.create_ticket(json!({"custom_fields": {"a": 1, "b": 2}})).await;
    let id = t["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/api/v1/tickets/{id}"),
            Some("\"1\""),
            &json!({"title": "Printer smoking", "priority": "urgent", "status": "waiting_customer", "customer": {"tier": "vip", "contact": null},
                    "tags": ["Escalated"], "custom_fields": {"a": null, "c": 3}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let t = body(r).await;
    assert_eq!(t["title"], "Printer smoking");
    assert_eq!(t["priority"], "urgent");
    assert_eq!(t["status"], "waiting_customer");
    assert_eq!(t["customer"], json!({"name": "ACME Ltd", "contact": null, "tier": "vip"}));
    assert_eq!(t["tags"], json!(["escalated"]));
    assert_eq!(t["custom_fields"], json!({"b": 2, "c": 3}));
    assert_eq!(t["version"], 2);
    let events = app.events(id).await;
    let kinds: Vec<_> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    // Urgent priority and the vip tier bring another SLA policy.
    assert_eq!(kinds, ["created", "updated", "status_changed", "sla_policy_changed"]);
    assert_eq!(events[1]["data"]["changes"]["priority"], json!({"from": "high", "to": "urgent"}));
    assert_eq!(events[2]["data"], json!({"from": "open", "to": "waiting_customer"}));
    // Sending the same values again changes nothing and keeps the version.
    let r = app.patch(&format!("/api/v1/tickets/{id}"), Some("\"2\""), &json!({"priority": "urgent"})).await;
    assert_eq!(body(r).await["version"], 2);
    // The tag index follows the edit.
    let found = body(app.get("/api/v1/tickets?tag=escalated").await).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let gone = body(app.get("/api/v1/tickets?tag=hw").await).await;
    assert!(gone["items"].as_array().unwrap().is_empty());
}

async fn patch_validates_every_field(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let path = format!("/api/v1/tickets/{}", t["id"].as_str().unwrap());
    let p = problem(
        app.patch(&path, Some("\"1\""), &json!({"title": "", "customer": {"tier": "gold"}, "tags": ["a b"]})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem_fields(&p), ["title", "customer.tier", "tags[0]"]);
    let p = problem(app.patch(&path, Some("\"1\""), &json!({"status": "closed"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["status"]);
    let p = problem(app.patch(&path, Some("\"1\""), &json!({"priority": "p1"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["priority"]);
    assert!(p["detail"].as_str().unwrap().contains("urgent"), "{p}");
    // Nothing was written by the rejected edits.
    assert_eq!(body(app.get(&path).await).await["version"], 1);
}

async fn patch_assigns_only_active_staff(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let path = format!("/api/v1/tickets/{}", t["id"].as_str().unwrap());
    let ada = app.create_staff("Ada", "ada@example.test", "agent").await;
    let r = app.patch(&path, Some("\"1\""), &json!({"assignee_id": ada["id"]})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["assignee_id"], ada["id"]);
    let filtered = body(app.get(&format!("/api/v1/tickets?assignee={}", ada["id"].as_str().unwrap())).await).await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let p = problem(
        app.patch(&path, Some("\"2\""), &json!({"assignee_id": "01a20c6d-0000-7000-8000-000000000000"})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(problem_fields(&p), ["assignee_id"]);
    let r = app.patch(&format!("/api/v1/staff/{}", ada["id"].as_str().unwrap()), None, &json!({"active": false})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let p = problem(app.patch(&path, Some("\"2\""), &json!({"assignee_id": ada["id"]})).await, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("not active"), "{p}");
    let r = app.patch(&path, Some("\"2\""), &json!({"assignee_id": null})).await;
    assert_eq!(body(r).await["assignee_id"], Value::Null);
    let events = app.events(t["id"].as_str().unwrap()).await;
    assert_eq!(events.last().unwrap()["kind"], "assignee_changed");
    assert_eq!(events.last().unwrap()["data"]["to"], Value::Null);
}

async fn transitions_follow_the_process_and_terminal_stages_close(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    for stage in ["needs_analysis", "solution_design", "delivery"] {
        let r = app.transition(id, stage).await;
        assert_eq!(r.status(), StatusCode::OK, "to {stage}");
        let t = body(r).await;
        assert_eq!(t["stage"], stage);
        assert_eq!(t["status"], "open");
    }
    // Delivery requires a passing quality review before the ticket moves on.
    let p = problem(app.transition(id, "after_sales").await, StatusCode::CONFLICT).await;
    assert_eq!(p["type"], "/problems/review-required");
    assert!(p["detail"].as_str().unwrap().contains("`delivery`"), "{p}");
    let r = app
        .post(
            &format!("/api/v1/tickets/{id}/reviews"),
            &json!({"outcome": "pass", "score": 92, "checklist": [{"item": "installed", "passed": true}]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(body(r).await["review_passed_stage"], "delivery");
    let t = body(app.transition(id, "after_sales").await).await;
    assert_eq!(t["stage"], "after_sales");
    assert!(t["review_passed_stage"].is_null());
    let r = app.post(&format!("/api/v1/tickets/{id}/transitions"), &json!({"to": "closed", "note": "customer happy"})).await;
    let t = body(r).await;
    assert_eq!(t["stage"], "closed");
    assert_eq!(t["status"], "closed");
    assert!(t["closed_at"].is_string() && t["resolved_at"].is_string());
    let p = problem(app.transition(id, "consultation").await, StatusCode::CONFLICT).await;
    assert_eq!(p["allowed"], json!([]));
    // Cancelling closes without resolving.
    let c = app.create_ticket(json!({})).await;
    let t = body(app.transition(c["id"].as_str().unwrap(), "cancelled").await).await;
    assert_eq!(t["status"], "closed");
    assert!(t["resolved_at"].is_null());
}

async fn rejected_transition_lists_allowed_targets(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    let p = problem(app.transition(id, "delivery").await, StatusCode::CONFLICT).await;
    assert_eq!(p["type"], "/problems/transition-not-allowed");
    assert_eq!(p["allowed"], json!(["needs_analysis", "closed", "cancelled"]));
    assert_eq!(problem_fields(&p), ["to"]);
    let p = problem(app.transition(id, "nowhere").await, StatusCode::CONFLICT).await;
    assert_eq!(p["type"], "/problems/unknown-stage");
    let p = problem(
        app.post(&format!("/api/v1/tickets/{id}/transitions"), &json!({"stage": "delivery"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(problem_fields(&p).contains(&"stage".to_string()) || problem_fields(&p).contains(&"to".to_string()), "{p}");
    assert_eq!(app.events(id).await.len(), 1, "rejected moves leave no trace");
}

async fn transition_with_stale_if_match_is_409(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    assert_eq!(app.transition(id, "needs_analysis").await.status(), StatusCode::OK);
    let r = app
        .request(Method::POST, &format!("/api/v1/tickets/{id}/transitions"))
        .header("If-Match", "\"1\"")
        .json(&json!({"to": "solution_design"}))
        .send()
        .await
        .unwrap();
    let p = problem(r, StatusCode::CONFLICT).await;
    assert_eq!(p["current_version"], 2);
}

async fn first_public_staff_reply_sets_first_response(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    let comments = format!("/api/v1/tickets/{id}/comments");
    let r = app.post(&comments, &json!({"body": "checking logs", "visibility": "internal"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(body(r).await["first_response_at"].is_null());
    let r = app.post(&comments, &json!({"body": "We are on it", "visibility": "public"})).await;
    let first = body(r).await["first_response_at"].clone();
    assert!(first.is_string());
    let r = app.post(&comments, &json!({"body": "Still on it", "visibility": "public"})).await;
    assert_eq!(body(r).await["first_response_at"], first);
    problem(app.post(&comments, &json!({"body": "  ", "visibility": "public"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let p = problem(app.post(&comments, &json!({"body": "x", "visibility": "secret"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["visibility"]);
    let events = app.events(id).await;
    let flags: Vec<_> =
        events.iter().filter(|e| e["kind"] == "comment_added").map(|e| e["data"]["first_response"].as_bool().unwrap()).collect();
    assert_eq!(flags, [false, true, false]);
}

async fn timeline_records_every_change_in_order(app: TestApp) {
    let staff = app.create_staff("Grace", "grace@example.test", "agent").await;
    let r = app.post("/api/v1/tokens", &json!({"name": "grace-laptop", "role": "agent", "staff_id": staff["id"]})).await;
    let token = body(r).await["token"].as_str().unwrap().to_owned();
    let r = app
        .request_as(&token, Method::POST, "/api/v1/tickets")
        .json(&json!({"title": "Router down", "customer": {"name": "Initech"}, "assignee_id": staff["id"]}))
        .send()
        .await
        .unwrap();
    let t = body(r).await;
    let id = t["id"].as_str().unwrap();
    app.transition(id, "needs_analysis").await;
    app.post(&format!("/api/v1/tickets/{id}/comments"), &json!({"body": "hi", "visibility": "public"})).await;
    let events = app.events(id).await;
    let kinds: Vec<_> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "assignee_changed", "stage_changed", "comment_added"]);
    let seqs: Vec<_> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert_eq!(events[0]["actor"]["staff_id"], staff["id"], "events record the acting staff member");
    assert_eq!(events[0]["actor"]["name"], "grace-laptop");
    assert_eq!(events[0]["data"]["number"], t["number"]);
    assert!(events[2]["actor"]["staff_id"].is_null(), "the admin token belongs to no staff member");
    assert!(events[2]["actor"]["token_id"].is_string());
    // Paging through the timeline.
    let r = body(app.get(&format!("/api/v1/tickets/{id}/events?limit=3")).await).await;
    assert_eq!(r["items"].as_array().unwrap().len(), 3);
    let next = r["next_cursor"].as_str().unwrap();
    let r = body(app.get(&format!("/api/v1/tickets/{id}/events?limit=3&cursor={next}")).await).await;
    assert_eq!(r["items"][0]["seq"], 4);
    assert!(r["next_cursor"].is_null());
}

async fn list_filters_by_every_field(app: TestApp) {
    let a = app.create_ticket(json!({"title": "Broken PRINTER", "kind": "incident", "channel": "email", "priority": "urgent", "customer": {"tier": "vip"}, "tags": ["hw"]})).await;
    let b = app
        .create_ticket(json!({"title": "Invoice question", "kind": "request", "channel": "chat", "priority": "low", "tags": ["billing"]}))
        .await;
    app.transition(b["id"].as_str().unwrap(), "needs_analysis").await;
    for (query, expected) in [
        ("kind=incident", &a),
        ("channel=chat", &b),
        ("priority=urgent", &a),
        ("tier=vip", &a),
        ("tag=billing", &b),
        ("tag=HW", &a),
        ("stage=needs_analysis", &b),
        ("stage=consultation&process=general", &a),
        ("status=open&q=printer", &a),
        ("q=voice", &b),
    ] {
        assert_eq!(ticket_ids(&app, query).await, [expected["id"].clone()], "{query}");
    }
    let created = a["created_at"].as_str().unwrap().to_owned();
    assert!(ticket_ids(&app, &format!("created_before={created}")).await.is_empty());
    assert_eq!(ticket_ids(&app, &format!("created_after={created}")).await.len(), 2);
    assert!(ticket_ids(&app, "q=%25").await.is_empty(), "LIKE wildcards match literally");
    assert_eq!(ticket_ids(&app, "").await, [b["id"].clone(), a["id"].clone()], "newest first");
}

async fn list_paginates_with_a_cursor_without_gaps_or_repeats(app: TestApp) {
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(app.create_ticket(json!({"title": format!("Ticket {i}")})).await["id"].clone());
    }
    created.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/tickets?limit=3&status=open&cursor={c}"),
            None => "/api/v1/tickets?limit=3&status=open".to_owned(),
        };
        let page = body(app.get(&path).await).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|t| t["id"].clone()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, created);
}

async fn list_rejects_bad_parameters(app: TestApp) {
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("status=lost", "status"),
        ("cursor=%%%", "cursor"),
        ("cursor=bm9wZQ", "cursor"),
        ("created_after=yesterday", "created_after"),
        ("assignee=bob", "assignee"),
        ("colour=red", "colour"),
    ] {
        let p = problem(app.get(&format!("/api/v1/tickets?{query}")).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(problem_fields(&p), [field], "{query}: {p}");
    }
}

async fn unknown_ticket_is_404(app: TestApp) {
    for path in ["/api/v1/tickets/T-999999", "/api/v1/tickets/01a20c6d-0000-7000-8000-000000000000", "/api/v1/tickets/garbage"] {
        problem(app.get(path).await, StatusCode::NOT_FOUND).await;
    }
    problem(app.transition("T-999999", "closed").await, StatusCode::NOT_FOUND).await;
    problem(app.patch("/api/v1/tickets/T-999999", Some("\"1\""), &json!({"priority": "low"})).await, StatusCode::NOT_FOUND).await;
    problem(app.get("/api/v1/tickets/T-999999/events").await, StatusCode::NOT_FOUND).await;
    problem(app.post("/api/v1/tickets/T-999999/comments", &json!({"body": "x", "visibility": "public"})).await, StatusCode::NOT_FOUND)
        .await;
}

async fn ticket_ids(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/tickets?{query}")).await;
    assert_eq!(r.status(), StatusCode::OK, "{query}");
    body(r).await["items"].as_array().unwrap().iter().map(|t| t["id"].clone()).collect()
}
