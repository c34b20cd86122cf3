//! A plugin scorecard that fails is never a 500: a single read is a problem+json naming the
//! plugin, a ranking keeps the other entries and gives the failed ones an `error`, also once the
//! plugin is auto-disabled. "No data" (the bundled `partner-scorecard` for a partner without
//! jobs) is an answer, unrated, and does not count toward auto-disable.

use crate::helpers::{body, problem, TestApp};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(no_data_is_unrated_and_a_failing_plugin_scorecard_is_a_problem_naming_it);

const THROWING: &str = "throwing-scorecard";

fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let bundled = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/partner-scorecard");
    let copy = dir.path().join("partner-scorecard");
    std::fs::create_dir_all(&copy).unwrap();
    for file in ["plugin.toml", "scorecard.rhai"] {
        std::fs::copy(bundled.join(file), copy.join(file)).unwrap();
    }
    let throwing = dir.path().join(THROWING);
    std::fs::create_dir_all(&throwing).unwrap();
    std::fs::write(
        throwing.join("plugin.toml"),
        format!(
            "name = \"{THROWING}\"\nversion = \"0.1.0\"\ncontract = \"steward:plugin@1\"\nruntime = \"rhai\"\nentry = \"s.rhai\"\n\
             hooks = [\"score-partner\"]\n[[contributes.scorecards]]\nname = \"throws\"\nhelp = \"Always fails.\"\n"
        ),
    )
    .unwrap();
    std::fs::write(throwing.join("s.rhai"), "fn score_partner(name, stats) { throw \"the scoring service is down\"; }\n").unwrap();
    dir
}

async fn plugin_state(app: &TestApp, name: &str) -> String {
    let plugins = body(app.get("/api/v1/plugins").await).await;
    let plugin = plugins.as_array().unwrap().iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{name} in {plugins}"));
    plugin["state"].as_str().unwrap().to_owned()
}

async fn no_data_is_unrated_and_a_failing_plugin_scorecard_is_a_problem_naming_it(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let dir = plugin_dir();
    let plugins = dir.path().to_owned();
    let app = TestApp::spawn_with(backend, move |c| {
        c.plugins.dirs = vec![plugins];
        c.plugins.cache_dir = None;
        c.plugins.failure_threshold = 3;
        // One judged delegation is enough here: the plugin must be asked (the minimum sample
        // is the partners tests' business).
        c.partners.scorecard_minimum_sample = 1;
    })
    .await
    .unwrap();
    let contract = json!({"start": "2020-01-01T00:00:00Z", "first_response": "4h", "resolution": "2d"});
    let busy = body(app.post("/api/v1/partners", &json!({"name": "Busy Ltd", "kind": "subcontractor", "contract": contract})).await).await;
    let idle = body(app.post("/api/v1/partners", &json!({"name": "Idle Ltd", "kind": "subcontractor", "contract": contract})).await).await;
    let t = app.create_ticket(json!({})).await;
    let r = app.post(&format!("/api/v1/tickets/{}/delegation", t["id"].as_str().unwrap()), &json!({"partner_id": busy["id"]})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.patch(&format!("/api/v1/tickets/{}", t["id"].as_str().unwrap()), Some("*"), &json!({"status": "resolved"})).await;
    assert_eq!(r.status(), StatusCode::OK, "resolved, so the delegation can be judged");

    // No data: unrated, five times and more within the failure window, and the plugin stays on.
    for _ in 0..6 {
        let r = app.get("/api/v1/partners/scorecards?scorecard=partner_quality").await;
        assert_eq!(r.status(), StatusCode::OK);
        let ranking: Vec<Value> = body(r).await.as_array().unwrap().clone();
        assert_eq!(ranking.len(), 2);
        let entry = |p: &Value| ranking.iter().find(|e| e["partner_id"] == p["id"]).unwrap().clone();
        assert!(entry(&busy)["score"].is_number() && entry(&busy)["error"].is_null(), "{ranking:?}");
        let unrated = entry(&idle);
        assert_eq!((unrated["score"].clone(), unrated["grade"].as_str()), (Value::Null, Some("unrated")), "{unrated}");
        assert!(unrated["error"].is_null(), "no data is not an error: {unrated}");
    }
    let one = body(app.get(&format!("/api/v1/partners/{}/scorecard?scorecard=partner_quality", idle["id"].as_str().unwrap())).await).await;
    assert_eq!(one["grade"], "unrated", "{one}");
    assert_eq!(plugin_state(&app, "partner-scorecard").await, "enabled", "no data never counts toward auto-disable");

    // A failing plugin: a problem naming it for one partner; in a ranking each entry says why.
    let single = format!("/api/v1/partners/{}/scorecard?scorecard=throws", busy["id"].as_str().unwrap());
    let p = problem(app.get(&single).await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(p["plugin"], THROWING, "{p}");
    let r = app.get("/api/v1/partners/scorecards?scorecard=throws").await;
    assert_eq!(r.status(), StatusCode::OK);
    let ranking = body(r).await;
    let entry = |p: &Value| ranking.as_array().unwrap().iter().find(|e| e["partner_id"] == p["id"]).unwrap().clone();
    let failed = entry(&busy);
    assert!(failed["score"].is_null() && failed["error"].as_str().is_some_and(|e| e.contains(THROWING)), "{failed}");
    // Too little data to rate: the plugin is not asked, so nothing failed for this one.
    let unasked = entry(&idle);
    assert!(unasked["score"].is_null() && unasked["error"].is_null() && unasked["grade"] == "unrated", "{unasked}");
    let p = problem(app.get(&single).await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(p["plugin"], THROWING, "{p}");
    // That was three failures: the plugin is auto-disabled, and reads still name it.
    assert_eq!(plugin_state(&app, THROWING).await, "auto_disabled");
    let p = problem(app.get(&single).await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(p["plugin"], THROWING, "{p}");
    let r = app.get("/api/v1/partners/scorecards?scorecard=throws").await;
    assert_eq!(r.status(), StatusCode::OK);
    drop(dir);
}
