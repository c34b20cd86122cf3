//! Plugins end to end: the bundled WASM and rhai plugins loaded by a real server, their
//! processes, guards and event reactions through the API, and the admin's levers.

use crate::helpers::{body, problem, Backend, TestApp};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::OnceLock;

on_both_backends!(
    bundled_plugins_load_and_contribute_processes,
    a_wasm_guard_vetoes_until_the_parts_are_logged,
    a_wasm_plugin_tags_urgent_on_site_work,
    a_rhai_plugin_guards_and_reacts,
    admins_disable_enable_and_reload_plugins,
    failing_plugins_are_recorded_and_disabled_automatically,
    plugin_kpis_appear_beside_the_built_in_ones,
    a_rhai_plugin_scores_partners_from_the_same_statistics,
);

/// Builds the bundled WASM plugins once per test run (the guest workspace under `plugins/`).
fn bundled() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        steward_plugin_host::guest_build::build_and_install_bundled().expect("bundled plugins build (rustup target add wasm32-wasip2)")
    })
    .clone()
}

pub(crate) async fn with_plugins(backend: Backend, extra: Option<PathBuf>) -> TestApp {
    let bundled = bundled();
    TestApp::spawn_with(backend, move |c| {
        c.plugins.dirs = std::iter::once(bundled).chain(extra).collect();
        c.plugins.cache_dir = None;
        c.plugins.failure_threshold = 3;
    })
    .await
    .expect("backend available")
}

async fn ticket(app: &TestApp, id: &str) -> Value {
    body(app.get(&format!("/api/v1/tickets/{id}")).await).await
}

fn has_tag(ticket: &Value, tag: &str) -> bool {
    ticket["tags"].as_array().unwrap().iter().any(|g| g == tag)
}

/// How many times `plugin`'s on-event hook ran and returned normally, by the plugin metrics.
async fn on_event_calls(app: &TestApp, plugin: &str) -> u64 {
    let series = format!(r#"steward_plugin_calls_total{{hook="on-event",outcome="ok",plugin="{plugin}"}} "#);
    let text = app.scrape().await;
    text.lines().find_map(|l| l.strip_prefix(&series)).map_or(0, |n| n.parse().unwrap())
}

async fn move_to(app: &TestApp, ticket: &str, stage: &str) -> reqwest::Response {
    app.post(&format!("/api/v1/tickets/{ticket}/transitions"), &json!({"to": stage})).await
}

async fn bundled_plugins_load_and_contribute_processes(app: TestApp) {
    let app = with_plugins(app.backend, None).await;
    let plugins = body(app.get("/api/v1/plugins").await).await;
    let mut names: Vec<(String, String, String)> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().into(), p["runtime"].as_str().unwrap().into(), p["state"].as_str().unwrap().into()))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ("ecommerce-returns".into(), "rhai".into(), "enabled".into()),
            ("field-service".into(), "wasm".into(), "enabled".into()),
            ("first-contact-kpi".into(), "wasm".into(), "enabled".into()),
            ("partner-scorecard".into(), "rhai".into(), "enabled".into()),
        ]
    );
    let processes = body(app.get("/api/v1/processes").await).await;
    let keys: Vec<&str> = processes.as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap()).collect();
    assert!(keys.contains(&"field_service") && keys.contains(&"ecommerce") && keys.contains(&"general"), "{keys:?}");
    let field = body(app.get("/api/v1/processes/field_service").await).await;
    assert!(field["source"].as_str().unwrap().contains("field-service"), "{field}");
}

async fn a_wasm_guard_vetoes_until_the_parts_are_logged(app: TestApp) {
    let app = with_plugins(app.backend, None).await;
    let t = app.create_ticket(json!({"process": "field_service"})).await;
    let id = t["id"].as_str().unwrap();
    for stage in ["on_site", "parts"] {
        assert_eq!(move_to(&app, id, stage).await.status(), StatusCode::OK, "{stage}");
    }
    let p = problem(move_to(&app, id, "verification").await, StatusCode::CONFLICT).await;
    assert_eq!(p["type"], "/problems/transition-vetoed");
    assert_eq!(p["plugin"], "field-service");
    assert!(p["detail"].as_str().unwrap().contains("parts_log"), "{p}");
    let current = body(app.get(&format!("/api/v1/tickets/{id}")).await).await;
    assert_eq!(current["stage"], "parts", "a vetoed move changes nothing");
    let tag = format!("\"{}\"", current["version"]);
    let r = app.patch(&format!("/api/v1/tickets/{id}"), Some(&tag), &json!({"custom_fields": {"parts_log": "valve 3/4"}})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(move_to(&app, id, "verification").await.status(), StatusCode::OK);
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"steward_plugin_calls_total{hook="guard-transition",outcome="rejected",plugin="field-service"} 1"#),
        "{metrics}"
    );
}

async fn a_wasm_plugin_tags_urgent_on_site_work(app: TestApp) {
    let app = with_plugins(app.backend, None).await;
    let t = app.create_ticket(json!({"process": "field_service", "priority": "urgent"})).await;
    let id = t["id"].as_str().unwrap();
    assert_eq!(move_to(&app, id, "on_site").await.status(), StatusCode::OK);
    assert!(!has_tag(&ticket(&app, id).await, "urgent-onsite"), "reactions wait for the plugin jobs to run");
    assert_eq!(app.run_plugin_jobs().await, 2, "one job per committed change: the opening and the move");
    let t = ticket(&app, id).await;
    assert!(has_tag(&t, "urgent-onsite"), "{t}");
    assert_eq!(t["stage"], "on_site");
    let events = app.events(id).await;
    let by_plugin: Vec<&Value> = events.iter().filter(|e| e["actor"]["kind"] == "plugin").collect();
    assert!(!by_plugin.is_empty());
    assert!(by_plugin.iter().all(|e| e["actor"]["name"] == "field-service"));
    let kinds: Vec<&str> = by_plugin.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["updated", "comment_added"], "the tag, then the internal note");
    assert_eq!(by_plugin[1]["data"]["visibility"], "internal");
    // A normal-priority visit is left alone: the hook runs on each of its events and asks for
    // nothing, so nothing but the visit's own events is recorded.
    let calls_before = on_event_calls(&app, "field-service").await;
    let calm = app.create_ticket(json!({"process": "field_service", "priority": "normal"})).await;
    let calm = calm["id"].as_str().unwrap();
    assert_eq!(move_to(&app, calm, "on_site").await.status(), StatusCode::OK);
    let own_events = app.events(calm).await;
    assert_eq!(app.run_plugin_jobs().await, 2);
    assert_eq!(
        on_event_calls(&app, "field-service").await - calls_before,
        own_events.len() as u64,
        "the hook saw every event of the visit once: {own_events:?}"
    );
    let t = ticket(&app, calm).await;
    assert_eq!(t["tags"], json!([]));
    assert_eq!(app.events(calm).await, own_events, "no plugin change, note or failure was recorded");
}

async fn a_rhai_plugin_guards_and_reacts(app: TestApp) {
    let app = with_plugins(app.backend, None).await;
    let t = app.create_ticket(json!({"process": "ecommerce"})).await;
    let id = t["id"].as_str().unwrap();
    assert_eq!(move_to(&app, id, "payment").await.status(), StatusCode::OK);
    let p = problem(move_to(&app, id, "shipping").await, StatusCode::CONFLICT).await;
    assert_eq!(p["plugin"], "ecommerce-returns");
    let r = app
        .patch(
            &format!("/api/v1/tickets/{id}"),
            Some("\"2\""),
            &json!({"custom_fields": {"payment_ref": "PAY-1", "return_status": "open"}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.run_plugin_jobs().await;
    let t = ticket(&app, id).await;
    assert!(has_tag(&t, "return"), "{t}");
    assert_eq!(t["custom_fields"]["payment_ref"], "PAY-1");
    assert_eq!(move_to(&app, id, "shipping").await.status(), StatusCode::OK);
}

async fn admins_disable_enable_and_reload_plugins(app: TestApp) {
    let app = with_plugins(app.backend, None).await;
    let agent = app.token_with_role("agent").await;
    problem(app.request_as(&agent, Method::GET, "/api/v1/plugins").send().await.unwrap(), StatusCode::FORBIDDEN).await;
    problem(app.request(Method::POST, "/api/v1/plugins/nope/disable").send().await.unwrap(), StatusCode::NOT_FOUND).await;
    let r = app.request(Method::POST, "/api/v1/plugins/ecommerce-returns/disable").send().await.unwrap();
    assert_eq!(body(r).await["state"], "disabled");
    let t = app.create_ticket(json!({"process": "ecommerce"})).await;
    let id = t["id"].as_str().unwrap();
    move_to(&app, id, "payment").await;
    assert_eq!(move_to(&app, id, "shipping").await.status(), StatusCode::OK, "a disabled plugin's guard does not run");
    let r = app.request(Method::POST, "/api/v1/plugins/ecommerce-returns/enable").send().await.unwrap();
    assert_eq!(body(r).await["state"], "enabled");
    let r = app.request(Method::POST, "/api/v1/plugins/field-service/reload").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let reloaded = body(r).await;
    assert_eq!((reloaded["name"].as_str(), reloaded["state"].as_str()), (Some("field-service"), Some("enabled")));
}

async fn failing_plugins_are_recorded_and_disabled_automatically(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let operator = tempfile::tempdir().unwrap();
    let flaky = operator.path().join("flaky");
    std::fs::create_dir_all(&flaky).unwrap();
    std::fs::write(
        flaky.join("plugin.toml"),
        "name = \"flaky\"\nversion = \"0.1.0\"\ncontract = \"steward:plugin@1\"\nruntime = \"rhai\"\nentry = \"flaky.rhai\"\nhooks = [\"on-event\"]\n",
    )
    .unwrap();
    std::fs::write(flaky.join("flaky.rhai"), "fn on_event(event, ticket) { let s = \"x\"; loop { s += s; } }\n").unwrap();
    // A KPI plugin that always fails: its KPI carries the error, the others stand.
    let broken_kpi = operator.path().join("broken-kpi");
    std::fs::create_dir_all(&broken_kpi).unwrap();
    std::fs::write(
        broken_kpi.join("plugin.toml"),
        "name = \"broken-kpi\"\nversion = \"0.1.0\"\ncontract = \"steward:plugin@1\"\nruntime = \"rhai\"\nentry = \"k.rhai\"\n\
         hooks = [\"compute-kpi\"]\n[[contributes.kpis]]\nname = \"doomed\"\nhelp = \"Never computes.\"\nunit = \"ratio\"\n",
    )
    .unwrap();
    std::fs::write(broken_kpi.join("k.rhai"), "fn compute_kpi(name, input) { throw \"no data source\"; }\n").unwrap();
    let broken = operator.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(
        broken.join("plugin.toml"),
        "name = \"broken\"\nversion = \"one\"\ncontract = \"steward:plugin@1\"\nruntime = \"rhai\"\nentry = \"b.rhai\"\nhooks = []\n",
    )
    .unwrap();
    let app = with_plugins(backend, Some(operator.path().to_owned())).await;
    let plugins = body(app.get("/api/v1/plugins").await).await;
    let broken = plugins.as_array().unwrap().iter().find(|p| p["state"] == "failed").expect("a bad manifest is listed as failed");
    assert!(broken["state_reason"].as_str().unwrap().contains("version"), "{broken}");
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    for i in 0..3 {
        app.post(&format!("/api/v1/tickets/{id}/comments"), &json!({"body": format!("n{i}"), "visibility": "internal"})).await;
    }
    app.run_plugin_jobs().await;
    let failures: Vec<Value> = app.events(id).await.into_iter().filter(|e| e["kind"] == "plugin_failed").collect();
    assert_eq!(failures.len(), 3, "the threshold's third failure disables it; the last job finds it disabled: {failures:?}");
    assert!(failures.iter().all(|f| f["data"]["plugin"] == "flaky" && f["data"]["hook"] == "on-event"));
    assert!(failures.iter().any(|f| f["data"]["auto_disabled"].is_string()), "the last failure disabled it: {failures:?}");
    let plugins = body(app.get("/api/v1/plugins").await).await;
    let flaky = plugins.as_array().unwrap().iter().find(|p| p["name"] == "flaky").unwrap();
    assert_eq!(flaky["state"], "auto_disabled");
    assert!(flaky["failures"].as_u64().unwrap() >= 3);
    // The server kept serving throughout.
    assert_eq!(app.get("/api/v1/tickets").await.status(), StatusCode::OK);
    let current = body(app.get(&format!("/api/v1/tickets/{id}")).await).await;
    let tag = format!("\"{}\"", current["version"]);
    assert_eq!(app.patch(&format!("/api/v1/tickets/{id}"), Some(&tag), &json!({"status": "resolved"})).await.status(), StatusCode::OK);
    let report = body(app.get("/api/v1/kpis?window=1d").await).await;
    let kpis = report["kpis"].as_array().unwrap();
    let doomed = kpis.iter().find(|k| k["key"] == "broken-kpi/doomed").expect("the failing KPI is listed");
    assert!(doomed["value"].is_null() && doomed["error"].as_str().is_some_and(|e| e.contains("broken-kpi")), "{doomed}");
    let fcr = kpis.iter().find(|k| k["key"] == "first-contact-kpi/first_contact_resolution").unwrap();
    assert!(fcr["error"].is_null(), "the other plugin KPIs stand: {fcr}");
    assert!(kpis.iter().find(|k| k["key"] == "backlog").unwrap()["value"].is_number());
}

async fn plugin_kpis_appear_beside_the_built_in_ones(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let bundled = bundled();
    let app = TestApp::spawn_with(backend, move |c| {
        c.plugins.dirs = vec![bundled];
        c.plugins.cache_dir = None;
    })
    .await
    .unwrap();
    // Two tickets resolved, one of them reopened.
    for reopen in [false, true] {
        let t = app.create_ticket(json!({})).await;
        let id = t["id"].as_str().unwrap();
        app.post(&format!("/api/v1/tickets/{id}/comments"), &json!({"body": "done", "visibility": "public"})).await;
        app.patch(&format!("/api/v1/tickets/{id}"), Some("\"2\""), &json!({"status": "resolved"})).await;
        if reopen {
            app.post(&format!("/api/v1/tickets/{id}/reopen"), &json!({})).await;
        }
    }
    let report = body(app.get("/api/v1/kpis?window=1d").await).await;
    let kpis = report["kpis"].as_array().unwrap();
    let kpi = |key: &str| kpis.iter().find(|k| k["key"] == key).unwrap_or_else(|| panic!("no {key} in {report}")).clone();
    let reopen = kpi("first-contact-kpi/reopen_rate");
    assert_eq!(reopen["value"], kpi("reopen_rate")["value"], "the plugin sees the same aggregates: {reopen}");
    assert_eq!(reopen["status"], "breach", "lower is better and 0.5 is far above 0.05: {reopen}");
    let fcr = kpi("first-contact-kpi/first_contact_resolution");
    assert!(fcr["value"].is_number() && fcr["error"].is_null(), "{fcr}");
    // The same figures reach Prometheus through the gauge refresher.
    assert!(!app.scrape().await.contains(r#"steward_kpi{kpi="first-contact-kpi/reopen_rate"}"#), "not before a refresh");
    app.refresh_metrics().await;
    let text = app.scrape().await;
    assert!(text.contains(r#"steward_kpi{kpi="first-contact-kpi/reopen_rate"} 0.5"#), "{text}");
}

async fn a_rhai_plugin_scores_partners_from_the_same_statistics(app: TestApp) {
    let app = with_plugins(app.backend, None).await;
    let partner = json!({
        "name": "FixIt GmbH", "kind": "subcontractor",
        "contract": {"start": "2020-01-01T00:00:00Z", "first_response": "4h", "resolution": "2d"}
    });
    let partner = body(app.post("/api/v1/partners", &partner).await).await;
    let delegate = |t: Value| {
        let app = &app;
        let partner = &partner;
        async move {
            let id = t["id"].as_str().unwrap().to_owned();
            let r = app.post(&format!("/api/v1/tickets/{id}/delegation"), &json!({"partner_id": partner["id"]})).await;
            assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
            id
        }
    };
    delegate(app.create_ticket(json!({})).await).await;
    let path = format!("/api/v1/partners/{}/scorecard", partner["id"].as_str().unwrap());
    // One open delegation is too little data: unrated on both scorecards, the minimum stated.
    for query in ["", "?scorecard=partner_quality"] {
        let card = body(app.get(&format!("{path}{query}")).await).await;
        assert_eq!((&card["score"], &card["grade"]), (&Value::Null, &json!("unrated")), "{card}");
        assert_eq!(card["sample"], json!({"judged": 0, "minimum": 3}), "{card}");
        assert!(card["unrated_reason"].as_str().unwrap().contains("at least 3"), "{card}");
    }
    for _ in 0..3 {
        let id = delegate(app.create_ticket(json!({})).await).await;
        let r = app.patch(&format!("/api/v1/tickets/{id}"), Some("*"), &json!({"status": "resolved"})).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let card = body(app.get(&format!("{path}?scorecard=partner_quality")).await).await;
    assert_eq!(card["scorecard"], "partner_quality");
    assert_eq!(card["sample"], json!({"judged": 3, "minimum": 3}), "{card}");
    assert!(card.get("unrated_reason").is_none(), "{card}");
    let criteria: Vec<&str> = card["components"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(criteria, ["on_time_rate", "csat", "complaints"]);
    assert!(card["score"].as_f64().is_some_and(|s| (0.0..=100.0).contains(&s)), "{card}");
    assert_eq!(card["stats"]["tickets_delegated"], 4, "computed from the same statistics as the built-in one: {card}");
    let builtin = body(app.get(&path).await).await;
    assert_eq!(builtin["scorecard"], "builtin");
    let ranking = body(app.get("/api/v1/partners/scorecards?scorecard=partner_quality").await).await;
    assert_eq!(ranking[0]["scorecard"], "partner_quality");
    let p = problem(app.get(&format!("{path}?scorecard=nope")).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["detail"].as_str().unwrap().contains("partner_quality"), "{p}");
}
