//! What an SRE watches: the access log, the webhook metrics and their alerts, and the shipped
//! Grafana dashboard (every query parses with promtool's PromQL parser, every variable it uses
//! is defined).

use crate::helpers::{clock_passes, TestApp};
use crate::kpis::promtool;
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

on_both_backends!(webhook_metrics_count_outcomes_and_watch_the_queue);

const DASHBOARD: &str = include_str!("../../config/grafana/steward-dashboard.json");

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).map(|v| v.trim().parse().unwrap()))
}

async fn webhook_metrics_count_outcomes_and_watch_the_queue(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |c| {
        c.webhooks.max_attempts = 2;
        c.webhooks.retry_base_ms = 10;
        c.webhooks.retry_max_secs = 1;
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ok_addr = listener.local_addr().unwrap();
    let receiver = tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(|| async { "ok" })).await.unwrap();
    });
    // A port nobody listens on: every attempt there fails.
    let dead_addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    for addr in [ok_addr, dead_addr] {
        let hook = json!({"url": format!("http://{addr}/hook"), "event_kinds": ["created"]});
        assert_eq!(app.post("/api/v1/webhooks", &hook).await.status(), StatusCode::CREATED);
    }
    let text = app.scrape().await;
    for outcome in ["delivered", "retrying", "failed"] {
        let series = format!("steward_webhook_deliveries_total{{outcome=\"{outcome}\"}}");
        assert_eq!(sample(&text, &series), Some(0.0), "every outcome is a series from the start: {text}");
    }
    app.create_ticket(json!({})).await;
    app.refresh_metrics().await;
    let text = app.scrape().await;
    assert_eq!(sample(&text, "steward_webhook_queue_depth"), Some(2.0), "{text}");
    let age = sample(&text, "steward_webhook_oldest_pending_age_seconds").unwrap();
    assert!((0.0..60.0).contains(&age), "{age}");

    // One pass: the live receiver takes its delivery, the dead one is retried later.
    assert_eq!(app.deliver_webhooks().await, 2);
    app.refresh_metrics().await;
    let text = app.scrape().await;
    assert_eq!(sample(&text, "steward_webhook_deliveries_total{outcome=\"delivered\"}"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "steward_webhook_deliveries_total{outcome=\"retrying\"}"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "steward_webhook_queue_depth"), Some(1.0), "{text}");

    // After the backoff (at most a second here) the last attempt fails and the queue is empty.
    clock_passes(jiff::Timestamp::now() + jiff::SignedDuration::from_millis(1_100)).await;
    assert_eq!(app.deliver_webhooks().await, 1);
    app.refresh_metrics().await;
    let text = app.scrape().await;
    assert_eq!(sample(&text, "steward_webhook_deliveries_total{outcome=\"failed\"}"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "steward_webhook_queue_depth"), Some(0.0), "{text}");
    assert_eq!(sample(&text, "steward_webhook_oldest_pending_age_seconds"), Some(0.0), "{text}");
    receiver.abort();
}

#[test]
fn the_webhook_alerts_fire_as_their_rule_tests_say() {
    if let Some(out) = promtool(&["test", "rules", "tests/prometheus/webhooks.test.yml"], None) {
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "promtool test rules:\n{said}");
    }
    let alerts = include_str!("../../config/prometheus/steward.alerts.yml");
    for alert in ["StewardWebhookDeliveriesStuck", "StewardWebhookDeliveriesFailing"] {
        assert!(alerts.contains(&format!("alert: {alert}")), "{alert} is shipped");
    }
}

/// Every query of the dashboard, with the panel it belongs to (variable queries included).
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            out.push((panel["title"].as_str().unwrap().to_owned(), target["expr"].as_str().unwrap().to_owned()));
        }
    }
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        let query = variable["query"]["query"].as_str().or(variable["query"].as_str()).unwrap();
        // `label_values(selector, label)` is Grafana's, not PromQL: its selector must parse.
        let selector = query.strip_prefix("label_values(").and_then(|q| q.rsplit_once(',')).map(|(s, _)| s.trim()).unwrap_or(query);
        out.push((format!("variable {}", variable["name"]), selector.to_owned()));
    }
    out
}

/// `$name` and `${name}` references in a query.
fn variables_used(query: &str) -> Vec<String> {
    let mut used = Vec::new();
    let mut rest = query;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let name: String = rest.trim_start_matches('{').chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        used.push(name);
    }
    used
}

#[test]
fn the_dashboard_parses_and_uses_only_variables_it_defines() {
    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
    let defined: BTreeSet<String> =
        dashboard["templating"]["list"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(defined, ["instance", "job", "process"].map(String::from).into(), "job, instance and process variables");
    // Grafana's own.
    let builtin = ["__rate_interval", "__interval", "__range"];
    let queries = dashboard_queries(&dashboard);
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (panel, query)) in queries.iter().enumerate() {
        let mut promql = query.clone();
        for name in variables_used(query) {
            assert!(defined.contains(&name) || builtin.contains(&name.as_str()), "{panel}: `${name}` is not a dashboard variable");
        }
        // What Grafana substitutes before Prometheus sees the query.
        for (from, to) in [("$__rate_interval", "5m"), ("$__interval", "1m"), ("$__range", "1d")] {
            promql = promql.replace(from, to);
        }
        for name in &defined {
            promql = promql.replace(&format!("${{{name}}}"), ".*").replace(&format!("${name}"), ".*");
        }
        assert!(!query.contains("job=\"steward\""), "{panel}: the job is a variable, not hard-coded");
        rules.push_str(&format!("      - record: dashboard:query_{i}\n        expr: {}\n", serde_json::to_string(&promql).unwrap()));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard.rules.yml");
    std::fs::write(&file, &rules).unwrap();
    if let Some(out) = promtool(&["check", "rules", file.to_str().unwrap()], None) {
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "a dashboard query does not parse:\n{said}\n{rules}");
    }

    let panel = |title: &str| -> Value {
        dashboard["panels"].as_array().unwrap().iter().find(|p| p["title"] == title).unwrap_or_else(|| panic!("no panel {title}")).clone()
    };
    // Stages of different processes stay apart, and the process variable narrows them.
    let stages = &panel("Open tickets by process and stage")["targets"][0];
    assert!(
        stages["expr"].as_str().unwrap().starts_with("sum by (process, stage)") && stages["expr"].as_str().unwrap().contains("$process")
    );
    assert_eq!(stages["legendFormat"], "{{process}} / {{stage}}");
    // The score distribution is one instant bar per score over the selected range.
    let csat = &panel("CSAT answers by score (selected range)")["targets"][0];
    assert_eq!((&csat["instant"], &csat["format"]), (&json!(true), &json!("table")));
    assert!(csat["expr"].as_str().unwrap().contains("[$__range]"));
    // The build panel shows the version label, not the gauge's value 1.
    let build = panel("Build");
    assert_eq!(build["options"]["textMode"], "name");
    assert_eq!(build["targets"][0]["legendFormat"], "{{version}}");
    // No 5xx answers is 0 %, not "No data".
    assert!(panel("HTTP errors (5xx share)")["targets"][0]["expr"].as_str().unwrap().contains("or vector(0)"));
    for metric in ["steward_webhook_deliveries_total", "steward_webhook_queue_depth", "steward_webhook_oldest_pending_age_seconds"] {
        assert!(DASHBOARD.contains(metric), "the dashboard shows {metric}");
    }
}

/// Runs `steward serve` with the given environment, makes two requests, stops it with SIGTERM
/// and returns what it wrote to stderr.
async fn serve_and_log(envs: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/access.db", dir.path().display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_steward"));
    command
        .arg("serve")
        .env_remove("STEWARD_CONFIG")
        .env("STEWARD_DATABASE_URL", &url)
        .env("STEWARD_LISTEN", &listen)
        .env("STEWARD_LOG_FORMAT", "json")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        command.env(k, v);
    }
    let child = command.spawn().unwrap();
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while client.get(format!("http://{listen}/healthz")).send().await.is_err() {
        assert!(std::time::Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = client.get(format!("http://{listen}/api/v1/tickets/T-000042")).header("x-request-id", "req-42").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn access_lines(log: &str) -> Vec<Value> {
    log.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(|l| l["target"] == "steward::access").collect()
}

#[tokio::test]
async fn the_access_log_is_off_by_default_and_one_line_per_request_when_on() {
    let quiet = serve_and_log(&[]).await;
    assert!(access_lines(&quiet).is_empty(), "off by default:\n{quiet}");

    let log = serve_and_log(&[("STEWARD_ACCESS_LOG", "true")]).await;
    let lines = access_lines(&log);
    let line = lines.iter().find(|l| l["request_id"] == "req-42").unwrap_or_else(|| panic!("no access line for req-42:\n{log}"));
    assert_eq!(line["method"], "GET");
    assert_eq!(line["route"], "/api/v1/tickets/{id}", "the route template, never the ticket number");
    assert_eq!(line["status"], 401);
    assert!(line["duration_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{line}");
    assert!(lines.iter().any(|l| l["route"] == "/healthz"), "every request has its line: {log}");
}
