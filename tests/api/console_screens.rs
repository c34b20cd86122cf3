//! The console's read-mostly screens over HTTP, on both backends: supervision and its monthly
//! review, partners, staff and training, administration. Each is opened by the role its
//! permission allows and refused to the others, and typed markup stays inert on every one.

use crate::helpers::{body, ConsoleSession, TestApp};
use crate::on_both_backends;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

on_both_backends!(supervision_shows_kpis_backlog_partners_and_the_monthly_review);

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
    assert!(consistency.contains(">phone<"), "{consistency}");
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
