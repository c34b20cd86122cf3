use crate::helpers::{problem, problem_fields, TestApp};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    missing_or_bad_tokens_are_401,
    weak_roles_are_403,
    malformed_json_is_400,
    wrong_shapes_are_422_naming_the_field,
    oversized_bodies_are_413_and_create_nothing,
    non_json_bodies_are_415,
    unknown_routes_and_methods_are_problems,
    every_response_carries_a_request_id,
);

async fn missing_or_bad_tokens_are_401(app: TestApp) {
    let r = app.client.get(app.url("/api/v1/tickets")).send().await.unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    problem(r, StatusCode::UNAUTHORIZED).await;
    let r = app.client.get(app.url("/api/v1/tickets")).bearer_auth("stw_not-a-real-token").send().await.unwrap();
    problem(r, StatusCode::UNAUTHORIZED).await;
    let r = app.client.get(app.url("/api/v1/tickets")).header("Authorization", "Basic YTpi").send().await.unwrap();
    problem(r, StatusCode::UNAUTHORIZED).await;
}

async fn weak_roles_are_403(app: TestApp) {
    let viewer = app.token_with_role("viewer").await;
    let agent = app.token_with_role("agent").await;
    let qa = app.token_with_role("qa").await;
    let new_ticket = json!({"title": "x", "customer": {"name": "y"}});
    let r = app.request_as(&viewer, Method::POST, "/api/v1/tickets").json(&new_ticket).send().await.unwrap();
    let p = problem(r, StatusCode::FORBIDDEN).await;
    assert!(p["detail"].as_str().unwrap().contains("viewer"), "{p}");
    let r = app.request_as(&viewer, Method::GET, "/api/v1/tickets").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "viewers read");
    let r = app.request_as(&agent, Method::POST, "/api/v1/tickets").json(&new_ticket).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "agents create");
    let r = app.request_as(&qa, Method::POST, "/api/v1/tickets").json(&new_ticket).send().await.unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
    let r = app
        .request_as(&agent, Method::POST, "/api/v1/staff")
        .json(&json!({"name": "a", "email": "a@b.c", "role": "agent"}))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
    let r = app.request_as(&agent, Method::GET, "/api/v1/tokens").send().await.unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
    let supervisor = app.token_with_role("supervisor").await;
    let r = app.request_as(&supervisor, Method::POST, "/api/v1/tokens").json(&json!({"name": "n", "role": "admin"})).send().await.unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
}

async fn malformed_json_is_400(app: TestApp) {
    for bad in ["{", "{\"title\": }", "[1,", "{\"title\": \"x\"} trailing", ""] {
        let r = app.request(Method::POST, "/api/v1/tickets").header("content-type", "application/json").body(bad).send().await.unwrap();
        let p = problem(r, StatusCode::BAD_REQUEST).await;
        assert_eq!(p["type"], "/problems/malformed-json", "{bad:?}");
    }
}

async fn wrong_shapes_are_422_naming_the_field(app: TestApp) {
    for (body, field) in [
        (json!({"title": "x", "customer": {"name": "y"}, "colour": "red"}), "colour"),
        (json!({"title": "x", "customer": {"name": "y", "age": 3}}), "customer.age"),
        (json!({"customer": {"name": "y"}}), "title"),
        (json!({"title": "x"}), "customer"),
        (json!({"title": 5, "customer": {"name": "y"}}), "title"),
        (json!({"title": "x", "customer": {"name": "y"}, "priority": "p1"}), "priority"),
        (json!({"title": "x", "customer": {"name": "y"}, "channel": "fax"}), "channel"),
        (json!({"title": "x", "customer": {"name": "y"}, "tags": "hw"}), "tags"),
        (json!({"title": "x", "customer": {"name": "y"}, "tags": ["ok", 7]}), "tags[1]"),
        (json!({"title": "x", "customer": {"name": "y", "tier": "gold"}}), "customer.tier"),
        (json!({"title": "x", "customer": {"name": "y"}, "process": "nope"}), "process"),
        (json!({"title": "x", "customer": {"name": "y"}, "custom_fields": [1]}), "custom_fields"),
        (json!({"title": "x", "customer": {"name": "y"}, "assignee_id": "bob"}), "assignee_id"),
        (json!({"title": "", "customer": {"name": "y"}}), "title"),
        (json!([]), "(body)"),
    ] {
        let p = problem(app.post("/api/v1/tickets", &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["type"], "/problems/validation-error");
        assert_eq!(problem_fields(&p), [field], "{body}: {p}");
    }
    let listed = crate::helpers::body(app.get("/api/v1/tickets").await).await;
    assert!(listed["items"].as_array().unwrap().is_empty(), "bad input creates nothing");
}

async fn oversized_bodies_are_413_and_create_nothing(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |c| c.http.max_body_bytes = 4096).await.unwrap();
    let big = json!({"title": "x", "customer": {"name": "y"}, "description": "z".repeat(5000)});
    let p = problem(app.post("/api/v1/tickets", &big).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(p["limit_bytes"], 4096);
    let p = problem(app.post("/api/v1/staff", &big).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(p["type"], "/problems/payload-too-large");
    let listed = crate::helpers::body(app.get("/api/v1/tickets").await).await;
    assert!(listed["items"].as_array().unwrap().is_empty());
}

async fn non_json_bodies_are_415(app: TestApp) {
    let r = app.request(Method::POST, "/api/v1/tickets").header("content-type", "text/plain").body("title=x").send().await.unwrap();
    problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let r = app.request(Method::POST, "/api/v1/tickets").body("{}").send().await.unwrap();
    problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
}

async fn unknown_routes_and_methods_are_problems(app: TestApp) {
    let p = problem(app.get("/api/v1/nothing-here").await, StatusCode::NOT_FOUND).await;
    assert_eq!(p["type"], "/problems/not-found");
    problem(app.client.get(app.url("/nothing-here")).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    let r = app.request(Method::PUT, "/api/v1/tickets").send().await.unwrap();
    assert!(r.headers().contains_key("allow"));
    let p = problem(r, StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(p["type"], "/problems/method-not-allowed");
}

async fn every_response_carries_a_request_id(app: TestApp) {
    for r in [app.get("/api/v1/tickets").await, app.get("/nope").await, app.client.get(app.url("/healthz")).send().await.unwrap()] {
        let id = r.headers().get("x-request-id").expect("x-request-id").to_str().unwrap().to_owned();
        assert_eq!(id.len(), 36, "{id}");
    }
    let r = app.client.get(app.url("/healthz")).header("x-request-id", "trace-me-123").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-me-123", "a caller's id is kept");
}
