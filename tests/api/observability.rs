//! What an SRE watches: the access log, the webhook metrics and their alerts, and the shipped
//! Grafana dashboard (every query parses with promtool's PromQL parser, every variable it uses
//! is defined).

use crate::helpers::{body, clock_passes, problem, TestApp};
use crate::kpis::promtool;
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

on_both_backends!(webhook_metrics_count_outcomes_and_watch_the_queue, webhooks_can_be_pinged_and_deliveries_sent_again);

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
    for metric in [
        "steward_webhook_deliveries_total",
        "steward_webhook_queue_depth",
        "steward_webhook_oldest_pending_age_seconds",
        "steward_mail_sent_total",
        "steward_mail_outbox_depth",
    ] {
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

/// A receiver answering with the status in `status`, keeping what it got.
type Received = Arc<Mutex<Vec<(axum::http::HeaderMap, Value)>>>;

async fn receiver(status: Arc<AtomicU16>) -> (std::net::SocketAddr, Received, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received: Received = Arc::default();
    let kept = received.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap, bytes: axum::body::Bytes| {
        let (kept, status) = (kept.clone(), status.clone());
        async move {
            kept.lock().unwrap().push((headers, serde_json::from_slice(&bytes).unwrap()));
            axum::http::StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap()
        }
    });
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, received, task)
}

async fn webhooks_can_be_pinged_and_deliveries_sent_again(app: TestApp) {
    let backend = app.backend;
    drop(app);
    // One attempt per delivery: a 500 fails it at once.
    let app = TestApp::spawn_with(backend, |c| c.webhooks.max_attempts = 1).await.unwrap();
    let status = Arc::new(AtomicU16::new(500));
    let (addr, received, task) = receiver(status.clone()).await;
    let hook = json!({"url": format!("http://{addr}/hook"), "event_kinds": ["created"], "secret": "0123456789abcdef"});
    let webhook = body(app.post("/api/v1/webhooks", &hook).await).await;
    let id = webhook["id"].as_str().unwrap().to_owned();

    // A ping reports the receiver's answer, signed like a delivery, and queues nothing.
    let ping = body(app.post(&format!("/api/v1/webhooks/{id}/ping"), &json!({})).await).await;
    assert_eq!((&ping["delivered"], &ping["status_code"], &ping["error"]), (&json!(false), &json!(500), &Value::Null), "{ping}");
    status.store(200, Ordering::SeqCst);
    let ping = body(app.post(&format!("/api/v1/webhooks/{id}/ping"), &json!({})).await).await;
    assert_eq!((&ping["delivered"], &ping["status_code"]), (&json!(true), &json!(200)), "{ping}");
    {
        let got = received.lock().unwrap();
        assert_eq!(got.len(), 2);
        let (headers, sent) = &got[1];
        assert_eq!(headers["steward-event"], "ping");
        assert!(headers["steward-signature"].to_str().unwrap().contains("v1="), "{headers:?}");
        assert_eq!(sent["webhook_id"], json!(id));
        assert!(sent["ping"]["at"].is_string() && sent["id"] == headers["steward-delivery"].to_str().unwrap(), "{sent}");
    }
    let log = body(app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await).await;
    assert_eq!(log["items"], json!([]), "a ping is not a delivery");
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let other = body(app.post("/api/v1/webhooks", &json!({"url": format!("http://{dead}/"), "event_kinds": ["updated"]})).await).await;
    let ping = body(app.post(&format!("/api/v1/webhooks/{}/ping", other["id"].as_str().unwrap()), &json!({})).await).await;
    assert_eq!((&ping["delivered"], &ping["status_code"]), (&json!(false), &Value::Null), "{ping}");
    assert!(ping["error"].as_str().unwrap().contains("connection"), "{ping}");
    problem(app.post("/api/v1/webhooks/0190d7a4-0000-7000-8000-000000000000/ping", &json!({})).await, StatusCode::NOT_FOUND).await;
    let agent = app.token_with_role("agent").await;
    let r = app.request_as(&agent, reqwest::Method::POST, &format!("/api/v1/webhooks/{id}/ping")).send().await.unwrap();
    problem(r, StatusCode::FORBIDDEN).await;

    // A failed delivery, sent again once the receiver is back.
    status.store(500, Ordering::SeqCst);
    app.create_ticket(json!({})).await;
    assert_eq!(app.deliver_webhooks().await, 1);
    let log = body(app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await).await;
    let delivery = log["items"][0].clone();
    assert_eq!((&delivery["state"], delivery["attempts"].as_array().unwrap().len()), (&json!("failed"), 1), "{delivery}");
    let again = format!("/api/v1/webhooks/{id}/deliveries/{}/redeliver", delivery["id"].as_str().unwrap());
    status.store(200, Ordering::SeqCst);
    assert_eq!(app.post(&again, &json!({})).await.status(), StatusCode::ACCEPTED);
    let pending = body(app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await).await["items"][0].clone();
    assert!(pending["state"] == "pending" && pending["next_attempt_at"].is_string(), "{pending}");
    let p = problem(app.post(&again, &json!({})).await, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("pending"), "{p}");
    assert_eq!(app.deliver_webhooks().await, 1);
    let done = body(app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await).await["items"][0].clone();
    let codes: Vec<_> = done["attempts"].as_array().unwrap().iter().map(|a| a["status_code"].clone()).collect();
    assert_eq!((&done["state"], codes), (&json!("delivered"), vec![json!(500), json!(200)]), "{done}");
    assert_eq!(received.lock().unwrap().last().unwrap().0["steward-delivery"], delivery["id"].as_str().unwrap(), "the same delivery id");
    problem(
        app.post(&format!("/api/v1/webhooks/{id}/deliveries/0190d7a4-0000-7000-8000-000000000000/redeliver"), &json!({})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(app.post(&format!("/api/v1/webhooks/{id}/deliveries/nope/redeliver"), &json!({})).await, StatusCode::NOT_FOUND).await;

    // Both are in the OpenAPI document with every status they answer.
    let doc = body(app.client.get(app.url("/openapi.json")).send().await.unwrap()).await;
    let statuses = |path: &str| -> Vec<String> { doc["paths"][path]["post"]["responses"].as_object().unwrap().keys().cloned().collect() };
    assert_eq!(statuses("/api/v1/webhooks/{id}/ping"), ["200", "400", "401", "403", "404", "503"]);
    assert_eq!(statuses("/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver"), ["202", "400", "401", "403", "404", "409", "503"]);
    task.abort();
}
