//! The console's read-mostly screens over HTTP, on both backends: supervision and its monthly
//! review, partners, staff and training, administration. Each is opened by the role its
//! permission allows and refused to the others, and typed markup stays inert on every one.

use crate::helpers::{body, ConsoleSession, TestApp, CONSOLE_PASSWORD};
use crate::on_both_backends;
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    supervision_shows_kpis_backlog_partners_and_the_monthly_review,
    an_admin_manages_logins_in_the_console,
    an_admin_creates_and_revokes_api_tokens_in_the_console,
    an_admin_disables_enables_and_reloads_plugins_in_the_console,
    an_admin_reads_a_webhooks_delivery_log_redelivers_and_pings,
    partners_show_contract_work_statistics_and_the_scorecard_breakdown,
    staff_names_course_names_and_override_reasons_stay_inert_on_the_staff_and_training_pages
);

pub const XSS: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
/// How the XSS string reads once escaped in HTML text.
pub const XSS_ESCAPED: &str = "&#60;script&#62;alert(1)&#60;/script&#62;&#34;&#62;&#60;img src=x onerror=alert(2)&#62;";

pub fn assert_inert(html: &str) {
    assert!(!html.contains("<script>alert(1)"), "a raw script tag on the page");
    assert!(!html.contains("<img src=x"), "a raw img tag on the page");
}

pub async fn create_partner(app: &TestApp, name: &str) -> Value {
    let r = app
        .post(
            "/api/v1/partners",
            &json!({
                "name": name, "kind": "subcontractor", "contact": "ops@partner.test", "categories": ["network"],
                "contract": {"start": "2020-01-01T00:00:00Z", "first_response": "4h", "resolution": "2d"}
            }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    body(r).await
}

async fn supervision_shows_kpis_backlog_partners_and_the_monthly_review(app: TestApp) {
    let partner = create_partner(&app, XSS).await;
    let t = app.create_ticket(json!({"title": XSS, "customer": {"name": XSS}})).await;
    let r = app.post(&format!("/api/v1/tickets/{}/delegation", t["id"].as_str().unwrap()), &json!({"partner_id": partner["id"]})).await;
    assert_eq!(r.status(), StatusCode::OK, "delegated");
    app.create_ticket(json!({"title": "Printer jam", "channel": "phone"})).await;

    // An agent neither sees the section in the menu nor opens it.
    let (agent, _) = ConsoleSession::person(&app, "Ann Agent", "ann@desk.test", "agent").await;
    assert!(!agent.page("/queues").await.contains("href=\"/supervision\""));
    let r = agent.get("/supervision").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(agent.get("/supervision/review").await.status(), StatusCode::FORBIDDEN);

    let (boss, _) = ConsoleSession::person(&app, XSS, "sue@desk.test", "supervisor").await;
    let html = boss.page("/supervision").await;
    assert_inert(&html);
    assert!(html.contains("href=\"/supervision\" aria-current=\"page\""), "the menu marks the section");
    // KPIs with their targets and status words.
    assert!(html.contains("id=\"kpis\"") && html.contains("Resolution rate"), "{html}");
    assert!(html.contains("status-"), "status colours");
    // The backlog by stage: two open tickets, as a chart with a title and as a table.
    let backlog = html.split("id=\"backlog\"").nth(1).expect("the backlog table");
    assert!(backlog.contains("<td>2</td>") || backlog.contains("<td>1</td>"), "{backlog}");
    assert!(html.contains("<svg class=\"chart\" role=\"img\"") && html.contains("<title id=\"backlog-chart-title\">"));
    // The CSAT trend against its target, eight weeks.
    let csat = html.split("id=\"csat\"").nth(1).unwrap().split("</table>").next().unwrap();
    assert_eq!(csat.matches("<tr><th scope=\"row\">").count(), 8, "{csat}");
    assert!(html.contains("85 %"), "the CSAT target");
    // Partner ranking names the partner, escaped.
    let ranking = html.split("id=\"partner-ranking\"").nth(1).expect("the ranking");
    assert!(ranking.contains(XSS_ESCAPED), "{ranking}");
    // Consistency by channel by default; by agent on request.
    let consistency = html.split("id=\"consistency\"").nth(1).expect("consistency table");
    assert!(consistency.contains(">Phone<"), "{consistency}");
    let html = boss.page("/supervision?group_by=partner").await;
    assert!(html.split("id=\"consistency\"").nth(1).unwrap().contains(XSS_ESCAPED));
    assert!(html.contains("<option value=\"partner\" selected>"));

    // The monthly review as a page, with exports under the session.
    let month = jiff::Timestamp::now().strftime("%Y-%m").to_string();
    let html = boss.page(&format!("/supervision/review?month={month}")).await;
    assert_inert(&html);
    assert!(html.contains("id=\"headline\"") && html.contains("id=\"review-kpis\""), "{html}");
    assert!(html.contains(XSS_ESCAPED), "the partner ranking of the month");
    assert!(html.contains(&format!("/supervision/review/export?month={month}&amp;format=csv")));
    let r = boss.get("/supervision/review?month=2026-13").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"month-error\"") && html.contains("YYYY-MM") && html.contains("aria-invalid=\"true\""));
    for (format, content_type) in [("csv", "text/csv"), ("md", "text/markdown"), ("html", "text/html")] {
        let r = boss.get(&format!("/supervision/review/export?month={month}&format={format}")).await;
        assert_eq!(r.status(), StatusCode::OK, "{format}");
        assert!(r.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with(content_type));
        assert!(r.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().contains(&format!("service-review-{month}.{format}")));
        let text = r.text().await.unwrap();
        assert!(!text.is_empty());
        if format == "html" {
            assert_inert(&text);
        }
    }
    assert_eq!(boss.get(&format!("/supervision/review/export?month={month}&format=pdf")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(agent.get(&format!("/supervision/review/export?month={month}&format=csv")).await.status(), StatusCode::FORBIDDEN);
}

/// The value of the `href` of the first link on the page starting with `prefix`.
fn link_starting(html: &str, prefix: &str) -> String {
    let start = html.find(&format!("href=\"{prefix}")).expect(prefix) + 6;
    html[start..].split('"').next().unwrap().to_owned()
}

/// The id in the first form action on the page of the shape `{prefix}{id}{suffix}`.
fn action_id(html: &str, prefix: &str, suffix: &str) -> String {
    let start = html.find(&format!("action=\"{prefix}")).expect(prefix) + 8 + prefix.len();
    html[start..].split(suffix).next().unwrap().to_owned()
}

async fn an_admin_manages_logins_in_the_console(app: TestApp) {
    let (admin, _) = ConsoleSession::person(&app, "Ada Admin", "ada@desk.test", "admin").await;
    let (boss, _) = ConsoleSession::person(&app, "Sue Boss", "sue@desk.test", "supervisor").await;
    assert!(!boss.page("/queues").await.contains("href=\"/admin\""));
    assert_eq!(boss.get("/admin/logins").await.status(), StatusCode::FORBIDDEN);
    let newcomer = app.create_staff(XSS, "new@desk.test", "agent").await;
    let newcomer_id = newcomer["id"].as_str().unwrap();
    // A supervisor's post is refused by the service, whatever the form says.
    assert_eq!(boss.post("/admin/logins", &[("staff_id", newcomer_id)]).await.status(), StatusCode::FORBIDDEN);

    let html = admin.page("/admin").await;
    assert!(html.contains("href=\"/admin/logins\"") && html.contains("href=\"/admin/tokens\""));
    let html = admin.page("/admin/logins").await;
    assert_inert(&html);
    assert!(html.contains(&format!("<option value=\"{newcomer_id}\">{XSS_ESCAPED} &#60;new@desk.test&#62;</option>")), "{html}");
    // No staff member chosen: the form again, the message beside the field.
    let r = admin.post("/admin/logins", &[("staff_id", ""), ("email", "x@desk.test")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"staff_id-error\">Choose the staff member") && html.contains("value=\"x@desk.test\""), "{html}");
    // An email another login has: refused beside the email.
    let r = admin.post("/admin/logins", &[("staff_id", newcomer_id), ("email", "ada@desk.test")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("id=\"email-error\">a login with email"));
    let r = admin.post("/admin/logins", &[("staff_id", newcomer_id), ("email", "")]).await;
    assert_eq!((r.status(), r.headers()[header::LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/admin/logins?done=created"));
    let html = admin.page("/admin/logins?done=created").await;
    assert!(html.contains("The login is created"));
    let logins = html.split("id=\"logins\"").nth(1).unwrap();
    assert!(logins.contains("new@desk.test") && logins.contains(XSS_ESCAPED), "{logins}");
    let audit = html.split("id=\"audit\"").nth(1).unwrap();
    assert!(audit.contains("<td>login created</td>") && audit.contains("<td>signed in</td>"), "{audit}");

    // The set-password link, shown once; the person sets a password and signs in with it.
    let logins_json = body(app.get("/api/v1/logins").await).await;
    let login = logins_json.as_array().unwrap().iter().find(|l| l["email"] == "new@desk.test").unwrap().clone();
    let id = login["id"].as_str().unwrap();
    let r = admin.post(&format!("/admin/logins/{id}/link"), &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    let html = r.text().await.unwrap();
    let path = link_starting(&html, "/set-password/");
    assert!(!admin.page("/admin/logins").await.contains(&path), "the link is shown once");
    app.services.set_password(path.strip_prefix("/set-password/").unwrap(), CONSOLE_PASSWORD).await.expect("the link works");
    let mut person = ConsoleSession::anonymous(&app);
    assert_eq!(person.sign_in("new@desk.test", CONSOLE_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(person.get("/queues").await.status(), StatusCode::OK);
    assert!(admin.page("/admin/logins").await.split("new@desk.test").nth(1).unwrap().contains("<td>1</td>"), "one live session");

    // Revoking the sessions signs the person out; disabling keeps them out.
    let r = admin.post(&format!("/admin/logins/{id}/revoke-sessions"), &[]).await;
    assert_eq!(r.headers()[header::LOCATION], "/admin/logins?done=revoked");
    assert_eq!(person.get("/queues").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(person.sign_in("new@desk.test", CONSOLE_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let r = admin.post(&format!("/admin/logins/{id}/disable"), &[]).await;
    assert_eq!(r.headers()[header::LOCATION], "/admin/logins?done=disabled");
    assert_eq!(person.get("/queues").await.status(), StatusCode::SEE_OTHER);
    let html = admin.page("/admin/logins?done=disabled").await;
    assert!(html.contains("The login is disabled"));
    assert!(html.split("new@desk.test").nth(1).unwrap().contains("disabled 20"), "the row says since when");
    let audit = html.split("id=\"audit\"").nth(1).unwrap();
    assert!(
        audit.contains("<td>sessions revoked</td>")
            && audit.contains("<td>login disabled</td>")
            && audit.contains("<td>set-password link issued</td>"),
        "{audit}"
    );
    assert_eq!(admin.post("/admin/logins/not-an-id/disable", &[]).await.status(), StatusCode::NOT_FOUND);
}

async fn an_admin_creates_and_revokes_api_tokens_in_the_console(app: TestApp) {
    let (admin, _) = ConsoleSession::person(&app, "Ada Admin", "ada@desk.test", "admin").await;
    let (boss, _) = ConsoleSession::person(&app, "Sue Boss", "sue@desk.test", "supervisor").await;
    assert_eq!(boss.get("/admin/tokens").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(boss.post("/admin/tokens", &[("name", "x"), ("role", "admin")]).await.status(), StatusCode::FORBIDDEN);
    create_partner(&app, XSS).await;

    let html = admin.page("/admin/tokens").await;
    assert_inert(&html);
    // Refusals: no role; an empty name; a partner token without its partner.
    let r = admin.post("/admin/tokens", &[("name", "ci"), ("role", "")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"role-error\"") && html.contains("value=\"ci\""), "{html}");
    let r = admin.post("/admin/tokens", &[("name", "  "), ("role", "viewer")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("id=\"name-error\">a token name has 1 to 100 characters"));
    let r = admin.post("/admin/tokens", &[("name", "fixit"), ("role", "partner")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"partner_id-error\">a partner token names its partner"), "{html}");
    assert!(html.contains("<option value=\"partner\" selected>"), "the role is kept");

    // Created: the secret shown once, and it works on the API until revoked.
    let r = admin.post("/admin/tokens", &[("name", XSS), ("role", "viewer")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    let html = r.text().await.unwrap();
    assert_inert(&html);
    let secret = html.split("id=\"token-secret\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("stw_"), "{secret}");
    let r = app.request_as(&secret, Method::GET, "/api/v1/tickets").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = admin.page("/admin/tokens").await;
    assert!(!html.contains(&secret), "the secret is shown once");
    let tokens = html.split("id=\"tokens\"").nth(1).unwrap();
    assert!(tokens.contains(XSS_ESCAPED) && tokens.contains("viewer"), "{tokens}");
    let row = tokens.split("<tr>").find(|row| row.contains(XSS_ESCAPED)).unwrap();
    let id = action_id(row, "/admin/tokens/", "/revoke");
    let r = admin.post(&format!("/admin/tokens/{id}/revoke"), &[]).await;
    assert_eq!(r.headers()[header::LOCATION], "/admin/tokens?done=revoked");
    assert!(admin.page("/admin/tokens?done=revoked").await.contains("The token is revoked."));
    let r = app.request_as(&secret, Method::GET, "/api/v1/tickets").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

async fn an_admin_disables_enables_and_reloads_plugins_in_the_console(app: TestApp) {
    let app = crate::plugins::with_plugins(app.backend, None).await;
    let (admin, _) = ConsoleSession::person(&app, "Ada Admin", "ada@desk.test", "admin").await;
    let (boss, _) = ConsoleSession::person(&app, "Sue Boss", "sue@desk.test", "supervisor").await;
    assert_eq!(boss.get("/admin/plugins").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(boss.post("/admin/plugins/ecommerce-returns/disable", &[]).await.status(), StatusCode::FORBIDDEN);

    let html = admin.page("/admin/plugins").await;
    let row = html.split("id=\"plugin-ecommerce-returns\"").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(row.contains(">enabled<") && row.contains("action=\"/admin/plugins/ecommerce-returns/disable\""), "{row}");
    let r = admin.post("/admin/plugins/ecommerce-returns/disable", &[]).await;
    assert_eq!(r.headers()[header::LOCATION], "/admin/plugins?done=disable");
    let api = body(app.get("/api/v1/plugins").await).await;
    let state = api.as_array().unwrap().iter().find(|p| p["name"] == "ecommerce-returns").unwrap()["state"].clone();
    assert_eq!(state, "disabled", "the console's lever is the API's");
    let html = admin.page("/admin/plugins?done=disable").await;
    assert!(html.contains("The plugin is disabled"));
    let row = html.split("id=\"plugin-ecommerce-returns\"").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(row.contains(">disabled<") && row.contains("/admin/plugins/ecommerce-returns/enable"), "{row}");
    assert_eq!(admin.post("/admin/plugins/ecommerce-returns/enable", &[]).await.headers()[header::LOCATION], "/admin/plugins?done=enable");
    assert_eq!(admin.post("/admin/plugins/field-service/reload", &[]).await.headers()[header::LOCATION], "/admin/plugins?done=reload");
    assert_eq!(admin.post("/admin/plugins/nope/disable", &[]).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(admin.post("/admin/plugins/field-service/explode", &[]).await.status(), StatusCode::NOT_FOUND);
}

/// A webhook receiver on loopback that answers every request 204.
async fn receiver() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router: axum::Router = axum::Router::new().fallback(|| async { axum::http::StatusCode::NO_CONTENT });
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

async fn an_admin_reads_a_webhooks_delivery_log_redelivers_and_pings(app: TestApp) {
    let addr = receiver().await;
    let r = app
        .post("/api/v1/webhooks", &json!({"url": format!("http://{addr}/hook"), "event_kinds": ["created"], "secret": "0123456789abcdef"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let hook = body(r).await;
    let hook_id = hook["id"].as_str().unwrap();
    app.create_ticket(json!({"title": XSS})).await;
    assert_eq!(app.deliver_webhooks().await, 1);
    let (admin, _) = ConsoleSession::person(&app, "Ada Admin", "ada@desk.test", "admin").await;
    let (boss, _) = ConsoleSession::person(&app, "Sue Boss", "sue@desk.test", "supervisor").await;
    assert_eq!(boss.get("/admin/webhooks").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(boss.post(&format!("/admin/webhooks/{hook_id}/ping"), &[]).await.status(), StatusCode::FORBIDDEN);

    let html = admin.page("/admin/webhooks").await;
    assert!(html.contains(&format!("href=\"/admin/webhooks/{hook_id}\">http://{addr}/hook</a>")), "{html}");
    let html = admin.page(&format!("/admin/webhooks/{hook_id}")).await;
    assert_inert(&html);
    let log = html.split("id=\"deliveries\"").nth(1).unwrap();
    assert!(log.contains(">created<") && log.contains("delivered") && log.contains("HTTP 204"), "{log}");
    let delivery = action_id(log, &format!("/admin/webhooks/{hook_id}/deliveries/"), "/redeliver");
    let r = admin.post(&format!("/admin/webhooks/{hook_id}/deliveries/{delivery}/redeliver"), &[]).await;
    assert_eq!(r.headers()[header::LOCATION].to_str().unwrap(), format!("/admin/webhooks/{hook_id}?done=redelivered"));
    let html = admin.page(&format!("/admin/webhooks/{hook_id}?done=redelivered")).await;
    assert!(html.contains("queued to be sent again") && html.contains("pending"), "{html}");
    assert!(!html.contains("/redeliver\""), "a pending delivery offers no redelivery");
    // Asked again while pending: the page says why, nothing changes.
    let r = admin.post(&format!("/admin/webhooks/{hook_id}/deliveries/{delivery}/redeliver"), &[]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("still pending"));
    assert_eq!(app.deliver_webhooks().await, 1, "the redelivery is sent");
    // A ping: how the receiver answered, nothing queued.
    let r = admin.post(&format!("/admin/webhooks/{hook_id}/ping"), &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("The receiver answered: HTTP 204"));
    assert_eq!(app.deliver_webhooks().await, 0);
    assert_eq!(admin.get("/admin/webhooks/not-an-id").await.status(), StatusCode::NOT_FOUND);
}

async fn partners_show_contract_work_statistics_and_the_scorecard_breakdown(app: TestApp) {
    let partner = create_partner(&app, XSS).await;
    let partner_id = partner["id"].as_str().unwrap();
    let t = app.create_ticket(json!({"title": XSS})).await;
    let r = app.post(&format!("/api/v1/tickets/{}/delegation", t["id"].as_str().unwrap()), &json!({"partner_id": partner_id})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let (agent, _) = ConsoleSession::person(&app, "Ann Agent", "ann@desk.test", "agent").await;
    assert_eq!(agent.get("/partners").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(agent.get(&format!("/partners/{partner_id}")).await.status(), StatusCode::FORBIDDEN);
    let (boss, _) = ConsoleSession::person(&app, "Sue Boss", "sue@desk.test", "supervisor").await;
    assert!(boss.page("/queues").await.contains("href=\"/partners\""));

    let html = boss.page("/partners").await;
    assert_inert(&html);
    let list = html.split("id=\"partners\"").nth(1).unwrap();
    assert!(list.contains(&format!("href=\"/partners/{partner_id}\">{XSS_ESCAPED}</a>")) && list.contains("subcontractor"), "{list}");

    let html = boss.page(&format!("/partners/{partner_id}")).await;
    assert_inert(&html);
    let contract = html.split("id=\"contract\"").nth(1).unwrap();
    assert!(contract.contains("4h") && contract.contains("2d") && contract.contains("open-ended"), "{contract}");
    // One open delegation cannot be judged yet: unrated, and the page says why.
    assert!(html.contains("<strong>unrated</strong>"), "{html}");
    let unrated = html.split("id=\"unrated\">").nth(1).unwrap();
    assert!(unrated.starts_with("Unrated: 0 delegations can be judged"), "{unrated}");
    let components = html.split("id=\"components\"").nth(1).unwrap().split("</table>").next().unwrap();
    assert!(components.contains(" %</td>"), "weights shown: {components}");
    let stats = html.split("id=\"stats\"").nth(1).unwrap();
    assert!(stats.contains("<dt>Delegated</dt><dd>1</dd>"), "{stats}");
    let work = html.split("id=\"work\"").nth(1).unwrap();
    assert!(work.contains(XSS_ESCAPED) && work.contains(&t["number"].to_string().trim_matches('"').to_owned()), "{work}");
    assert_eq!(boss.get("/partners/not-an-id").await.status(), StatusCode::NOT_FOUND);
}

async fn staff_names_course_names_and_override_reasons_stay_inert_on_the_staff_and_training_pages(app: TestApp) {
    crate::training::create_course(&app).await;
    let r = app.patch("/api/v1/courses/SOLUTION-DESIGN", None, &json!({"title": XSS, "description": XSS})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let (boss, _) = ConsoleSession::person(&app, XSS, "sue@desk.test", "supervisor").await;
    let person = app.create_staff(XSS, "x@desk.test", "agent").await;
    crate::training::record(&app, &person, 350, 90).await;
    let ticket = crate::training::ticket_in_solution_design(&app).await;
    let uncertified = app.create_staff(XSS, "y@desk.test", "agent").await;
    let r = app
        .patch(&format!("/api/v1/tickets/{ticket}"), Some("*"), &json!({"assignee_id": uncertified["id"], "override": {"reason": XSS}}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.watch_certifications().await;

    let pages = [
        "/staff".to_owned(),
        format!("/staff/{}", person["id"].as_str().unwrap()),
        format!("/staff/{}", uncertified["id"].as_str().unwrap()),
        "/training".to_owned(),
        "/training/courses/SOLUTION-DESIGN".to_owned(),
        "/supervision".to_owned(),
    ];
    for path in &pages {
        let html = boss.page(path).await;
        assert_inert(&html);
        assert!(html.contains(XSS_ESCAPED), "{path} shows the typed text, escaped");
    }
    let html = boss.page("/training").await;
    assert!(html.split("id=\"overrides\"").nth(1).unwrap().contains(XSS_ESCAPED), "the override's reason and person");
    assert!(html.split("id=\"expiring\"").nth(1).unwrap().contains(XSS_ESCAPED), "the expiring person and course");
    // A refused form keeps the typed markup inert too.
    let r = boss.post("/training/courses", &[("code", XSS), ("title", XSS), ("pass_score", XSS), ("method", "exam")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert_inert(&html);
    assert!(html.contains(&format!("value=\"{XSS_ESCAPED}\"")));
}
