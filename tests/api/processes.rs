use crate::helpers::{body, problem, TestApp};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(processes_list_the_shipped_general_process);

async fn processes_list_the_shipped_general_process(app: TestApp) {
    let all = body(app.get("/api/v1/processes").await).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    let general = body(app.get("/api/v1/processes/general").await).await;
    assert_eq!(general["version"], 1);
    let stages: Vec<_> = general["stages"].as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap().to_owned()).collect();
    assert_eq!(stages, ["consultation", "needs_analysis", "solution_design", "delivery", "after_sales", "closed", "cancelled"]);
    assert_eq!(general["stages"][0]["target"], "4h");
    assert_eq!(general["stages"][0]["office"], "front");
    assert_eq!(general["stages"][0]["next"], json!(["needs_analysis", "closed", "cancelled"]));
    assert_eq!(general["stages"][6]["resolves"], false);
    problem(app.get("/api/v1/processes/nope").await, StatusCode::NOT_FOUND).await;
    problem(app.client.get(app.url("/api/v1/processes")).send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
}
