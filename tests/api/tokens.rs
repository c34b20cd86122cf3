use crate::helpers::{body, problem, problem_fields, TestApp};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(token_secret_is_shown_once_and_works, revoked_tokens_stop_working_at_once, token_validation_names_fields);

async fn token_secret_is_shown_once_and_works(app: TestApp) {
    let r = app.post("/api/v1/tokens", &json!({"name": "ci-bot", "role": "viewer"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created = body(r).await;
    let secret = created["token"].as_str().unwrap();
    assert!(secret.starts_with("stw_"));
    assert_eq!(created["role"], "viewer");
    let listed = body(app.get("/api/v1/tokens").await).await;
    let text = listed.to_string();
    assert!(!text.contains(secret), "secrets never come back");
    assert!(listed.as_array().unwrap().iter().any(|t| t["id"] == created["id"] && t["token"].is_null()));
    let r = app.request_as(secret, Method::GET, "/api/v1/tickets").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn revoked_tokens_stop_working_at_once(app: TestApp) {
    let created = body(app.post("/api/v1/tokens", &json!({"name": "temp", "role": "agent"})).await).await;
    let secret = created["token"].as_str().unwrap();
    let r = app.request(Method::DELETE, &format!("/api/v1/tokens/{}", created["id"].as_str().unwrap())).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(body(r).await["revoked_at"].is_string());
    problem(app.request_as(secret, Method::GET, "/api/v1/tickets").send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    problem(
        app.request(Method::DELETE, "/api/v1/tokens/01a20c6d-0000-7000-8000-000000000000").send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn token_validation_names_fields(app: TestApp) {
    let p = problem(app.post("/api/v1/tokens", &json!({"name": "x", "role": "root"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["role"]);
    let p = problem(app.post("/api/v1/tokens", &json!({"name": " ", "role": "agent"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["name"]);
    let p = problem(
        app.post("/api/v1/tokens", &json!({"name": "x", "role": "agent", "staff_id": "01a20c6d-0000-7000-8000-000000000000"})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(problem_fields(&p), ["staff_id"]);
}
