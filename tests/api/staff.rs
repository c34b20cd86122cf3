use crate::helpers::{body, problem, problem_fields, TestApp};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    staff_crud_round_trip,
    staff_email_is_unique_case_insensitively,
    staff_list_filters_and_paginates,
    staff_in_use_cannot_be_deleted,
    staff_validation_names_fields
);

async fn staff_crud_round_trip(app: TestApp) {
    let r =
        app.post("/api/v1/staff", &json!({"name": "Ada Lovelace", "email": "Ada@Example.test", "role": "agent", "team": "tier1"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let s = body(r).await;
    assert_eq!(s["email"], "ada@example.test");
    assert_eq!(s["active"], true);
    assert_eq!(body(app.get(&location).await).await, s);
    let r = app.patch(&location, None, &json!({"role": "supervisor", "team": null})).await;
    let updated = body(r).await;
    assert_eq!((updated["role"].as_str(), updated["team"].is_null()), (Some("supervisor"), true));
    let r = app.request(Method::DELETE, &location).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    problem(app.get(&location).await, StatusCode::NOT_FOUND).await;
    problem(app.request(Method::DELETE, &location).send().await.unwrap(), StatusCode::NOT_FOUND).await;
}

async fn staff_email_is_unique_case_insensitively(app: TestApp) {
    app.create_staff("Ada", "ada@example.test", "agent").await;
    let p = problem(
        app.post("/api/v1/staff", &json!({"name": "Other", "email": "ADA@example.test", "role": "qa"})).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(problem_fields(&p), ["email"]);
    let grace = app.create_staff("Grace", "grace@example.test", "agent").await;
    let r = app.patch(&format!("/api/v1/staff/{}", grace["id"].as_str().unwrap()), None, &json!({"email": "ada@example.test"})).await;
    problem(r, StatusCode::CONFLICT).await;
}

async fn staff_list_filters_and_paginates(app: TestApp) {
    for i in 0..5 {
        app.create_staff(&format!("Agent {i}"), &format!("a{i}@example.test"), if i % 2 == 0 { "agent" } else { "qa" }).await;
    }
    let page = body(app.get("/api/v1/staff?role=qa").await).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let first = body(app.get("/api/v1/staff?limit=3").await).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let next = first["next_cursor"].as_str().unwrap();
    let second = body(app.get(&format!("/api/v1/staff?limit=3&cursor={next}")).await).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 2);
    assert!(second["next_cursor"].is_null());
    let inactive = body(app.get("/api/v1/staff?active=false").await).await;
    assert!(inactive["items"].as_array().unwrap().is_empty());
}

async fn staff_in_use_cannot_be_deleted(app: TestApp) {
    let ada = app.create_staff("Ada", "ada@example.test", "agent").await;
    app.create_ticket(json!({"assignee_id": ada["id"]})).await;
    let p = problem(
        app.request(Method::DELETE, &format!("/api/v1/staff/{}", ada["id"].as_str().unwrap())).send().await.unwrap(),
        StatusCode::CONFLICT,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("active"), "{p}");
}

async fn staff_validation_names_fields(app: TestApp) {
    let p =
        problem(app.post("/api/v1/staff", &json!({"name": "", "email": "nope", "role": "agent"})).await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert_eq!(problem_fields(&p), ["name", "email"]);
    let p =
        problem(app.post("/api/v1/staff", &json!({"name": "A", "email": "a@b.c", "role": "boss"})).await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert_eq!(problem_fields(&p), ["role"]);
    problem(app.get("/api/v1/staff/not-an-id").await, StatusCode::NOT_FOUND).await;
}
