use crate::helpers::{admin_execute, body, eventually, postgres_absent, problem, Backend, TestApp};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_backends!(
    health_and_readiness_need_no_token,
    metrics_count_requests_by_route_template,
    metrics_can_require_a_token,
    openapi_documents_every_route,
    shutdown_lets_in_flight_requests_finish,
);

async fn health_and_readiness_need_no_token(app: TestApp) {
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["status"], "ok");
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn metrics_count_requests_by_route_template(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    app.get(&format!("/api/v1/tickets/{id}")).await;
    app.get(&format!("/api/v1/tickets/{}", t["number"].as_str().unwrap())).await;
    app.get("/api/v1/tickets/T-999999").await;
    app.get("/no/such/route/123").await;
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    assert!(text.contains(r#"steward_http_requests_total{method="GET",route="/api/v1/tickets/{id}",status="200"} 2"#), "{text}");
    assert!(text.contains(r#"steward_http_requests_total{method="GET",route="/api/v1/tickets/{id}",status="404"} 1"#), "{text}");
    assert!(text.contains(r#"steward_http_requests_total{method="POST",route="/api/v1/tickets",status="201"} 1"#), "{text}");
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(!text.contains(id), "raw paths never become labels");
    assert!(text.contains(r#"steward_http_request_duration_seconds_count{method="GET",route="/api/v1/tickets/{id}"} 3"#), "{text}");
    assert!(text.contains(&format!("steward_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"))), "{text}");
}

async fn metrics_can_require_a_token(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |c| c.metrics.require_token = true).await.unwrap();
    problem(app.client.get(app.url("/metrics")).send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    let viewer = app.token_with_role("viewer").await;
    let r = app.request_as(&viewer, Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn openapi_documents_every_route(app: TestApp) {
    let r = app.client.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc = body(r).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let expected = [
        ("post", "/api/v1/tickets"),
        ("get", "/api/v1/tickets"),
        ("get", "/api/v1/tickets/{id}"),
        ("patch", "/api/v1/tickets/{id}"),
        ("post", "/api/v1/tickets/{id}/transitions"),
        ("post", "/api/v1/tickets/{id}/comments"),
        ("get", "/api/v1/tickets/{id}/events"),
        ("post", "/api/v1/tickets/{id}/attachments"),
        ("get", "/api/v1/tickets/{id}/attachments"),
        ("get", "/api/v1/tickets/{id}/attachments/{aid}"),
        ("get", "/api/v1/tickets/{id}/attachments/{aid}/content"),
        ("delete", "/api/v1/tickets/{id}/attachments/{aid}"),
        ("get", "/api/v1/processes"),
        ("get", "/api/v1/processes/{key}"),
        ("post", "/api/v1/staff"),
        ("get", "/api/v1/staff"),
        ("get", "/api/v1/staff/{id}"),
        ("patch", "/api/v1/staff/{id}"),
        ("delete", "/api/v1/staff/{id}"),
        ("post", "/api/v1/tokens"),
        ("get", "/api/v1/tokens"),
        ("delete", "/api/v1/tokens/{id}"),
        ("post", "/api/v1/logins"),
        ("get", "/api/v1/logins"),
        ("get", "/api/v1/logins/{id}"),
        ("post", "/api/v1/logins/{id}/set-password-link"),
        ("get", "/api/v1/logins/{id}/sessions"),
        ("delete", "/api/v1/logins/{id}/sessions"),
        ("post", "/api/v1/logins/{id}/disable"),
        ("get", "/api/v1/login-audit"),
        ("get", "/api/v1/sla-policies"),
        ("post", "/api/v1/sla-policies"),
        ("get", "/api/v1/sla-policies/{key}"),
        ("put", "/api/v1/sla-policies/{key}"),
        ("delete", "/api/v1/sla-policies/{key}"),
        ("get", "/api/v1/calendars"),
        ("post", "/api/v1/calendars"),
        ("get", "/api/v1/calendars/{key}"),
        ("put", "/api/v1/calendars/{key}"),
        ("delete", "/api/v1/calendars/{key}"),
        ("get", "/api/v1/tickets/{id}/sla"),
        ("post", "/api/v1/tickets/{id}/reopen"),
        ("post", "/api/v1/tickets/{id}/reviews"),
        ("get", "/api/v1/surveys/{token}"),
        ("post", "/api/v1/surveys/{token}"),
        ("post", "/api/v1/webhooks"),
        ("get", "/api/v1/webhooks"),
        ("get", "/api/v1/webhooks/{id}"),
        ("patch", "/api/v1/webhooks/{id}"),
        ("delete", "/api/v1/webhooks/{id}"),
        ("get", "/api/v1/webhooks/{id}/deliveries"),
        ("post", "/api/v1/webhooks/{id}/ping"),
        ("post", "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver"),
        ("get", "/api/v1/mail/outbox"),
        ("post", "/api/v1/mail/outbox/{id}/retry"),
        ("post", "/api/v1/mail/inbound"),
        ("get", "/api/v1/mail/quarantine"),
        ("post", "/api/v1/mail/quarantine/{id}/retry"),
        ("post", "/api/v1/mail/quarantine/{id}/ticket"),
        ("get", "/api/v1/kpis"),
        ("get", "/api/v1/reports/review"),
        ("get", "/api/v1/plugins"),
        ("post", "/api/v1/plugins/{name}/reload"),
        ("post", "/api/v1/plugins/{name}/enable"),
        ("post", "/api/v1/plugins/{name}/disable"),
        ("post", "/api/v1/partners"),
        ("get", "/api/v1/partners"),
        ("get", "/api/v1/partners/{id}"),
        ("patch", "/api/v1/partners/{id}"),
        ("delete", "/api/v1/partners/{id}"),
        ("post", "/api/v1/tickets/{id}/delegation"),
        ("delete", "/api/v1/tickets/{id}/delegation"),
        ("get", "/api/v1/partners/{id}/stats"),
        ("get", "/api/v1/partners/{id}/scorecard"),
        ("get", "/api/v1/partners/scorecards"),
        ("post", "/api/v1/courses"),
        ("get", "/api/v1/courses"),
        ("get", "/api/v1/courses/{code}"),
        ("patch", "/api/v1/courses/{code}"),
        ("delete", "/api/v1/courses/{code}"),
        ("post", "/api/v1/training-records"),
        ("get", "/api/v1/training-records"),
        ("get", "/api/v1/staff/{id}/certifications"),
        ("get", "/api/v1/certifications/expiring"),
        ("get", "/api/v1/tickets/{id}/eligible-assignees"),
        ("get", "/api/v1/staff-events"),
        ("post", "/api/v1/improvements"),
        ("get", "/api/v1/improvements"),
        ("get", "/api/v1/improvements/{id}"),
        ("patch", "/api/v1/improvements/{id}"),
        ("get", "/api/v1/improvements/{id}/history"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, expected.len(), "every route and only these: {:?}", paths.keys().collect::<Vec<_>>());
    for (method, path) in expected {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing");
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
        if path.starts_with("/api/") && !path.starts_with("/api/v1/surveys/") {
            assert_eq!(op["security"], json!([{"bearer": []}]), "{method} {path}");
        }
    }
    for schema in
        ["TicketView", "NewTicketBody", "Problem", "Priority", "StaffView", "ProcessView", "EventView", "WebhookView", "DeliveryView"]
    {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema} missing");
    }
    assert_eq!(doc["components"]["schemas"]["Priority"]["enum"], json!(["urgent", "high", "normal", "low"]));
}

/// A request whose body is still arriving when shutdown begins is answered, then the
/// server stops.
async fn shutdown_lets_in_flight_requests_finish(mut app: TestApp) {
    let body_json = json!({"title": "Sent slowly", "customer": {"name": "ACME"}}).to_string();
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    // `Expect: 100-continue`: the server answers `100 Continue` when the handler starts reading
    // the body, which tells the test that the request is in flight.
    let head = format!(
        "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        app.token,
        body_json.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let continue_line = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut interim = vec![0; continue_line.len()];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut interim)).await.expect("100 Continue in time").unwrap();
    assert_eq!(interim, continue_line);
    app.trigger_shutdown();
    // Shutdown has begun once the listener is closed.
    eventually("the listener to close", || async { tokio::net::TcpStream::connect(app.addr).await.is_err().then_some(()) }).await;
    stream.write_all(body_json.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut response)).await.expect("answered in time").unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    tokio::time::timeout(Duration::from_secs(10), app.wait_stopped()).await.expect("server stopped");
    assert!(tokio::net::TcpStream::connect(app.addr).await.is_err(), "no longer accepting connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_with_503_when_the_database_is_gone() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return postgres_absent();
    };
    let admin = std::env::var("STEWARD_TEST_POSTGRES_URL").unwrap();
    let name = app.database_url.rsplit('/').next().unwrap().to_owned();
    admin_execute(&admin, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    let p = problem(r, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(p["type"], "/problems/not-ready");
    let r = app.get("/api/v1/tickets").await;
    assert!(r.status().is_server_error());
    let p = body(r).await;
    assert!(!p.to_string().to_lowercase().contains("database \""), "internals stay in the log: {p}");
}
