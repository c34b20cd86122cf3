//! The SLA policy, calendar and process screens under /admin over HTTP, on both backends: forms
//! go through the same services as /api/v1/sla-policies and /api/v1/calendars (what the form
//! saves, the API reads), refusals name their field and keep what was typed, agents are
//! refused, and names typed with markup stay inert.

use crate::console_screens::{assert_inert, XSS, XSS_ESCAPED};
use crate::helpers::{body, ConsoleSession, TestApp};
use crate::on_both_backends;
use reqwest::{header, StatusCode};
use serde_json::Value;

on_both_backends!(
    a_policy_created_through_the_form_is_the_apis_policy,
    a_refused_policy_form_names_the_field_and_keeps_the_input,
    a_calendar_interval_ending_before_it_starts_is_refused_beside_its_day,
    processes_are_drawn_with_their_stages_in_order,
    an_agent_is_refused_the_sla_screens
);

pub async fn admin(app: &TestApp) -> ConsoleSession {
    ConsoleSession::person(app, "Ada Admin", "ada@desk.test", "admin").await.0
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

/// The page after `id="{id}"`.
pub fn after_id<'a>(html: &'a str, id: &str) -> &'a str {
    html.split(&format!("id=\"{id}\"")).nth(1).unwrap_or_else(|| panic!("no #{id} in {html}"))
}

async fn api_policy(app: &TestApp, key: &str) -> Option<Value> {
    let policies = body(app.get("/api/v1/sla-policies").await).await;
    policies.as_array().unwrap().iter().find(|p| p["key"] == key).cloned()
}

async fn a_policy_created_through_the_form_is_the_apis_policy(app: TestApp) {
    let admin = admin(&app).await;
    let html = admin.page("/admin").await;
    for href in ["/admin/sla-policies", "/admin/calendars", "/admin/processes"] {
        assert!(html.contains(&format!("href=\"{href}\"")), "the overview links {href}");
    }
    let html = admin.page("/admin/sla-policies").await;
    // The seeded policies, with their conditions, targets, calendar and escalations.
    let vip_phone = after_id(&html, "policies").split("VIP phone calls").nth(1).expect("the vip-phone row");
    let row = vip_phone.split("</tr>").next().unwrap();
    assert!(row.contains("<td>Phone</td><td>vip</td><td>any</td>"), "{row}");
    assert!(row.contains("<td>20s</td><td>8h</td>") && row.contains("100 % → supervisor"), "{row}");

    let r = admin
        .post(
            "/admin/sla-policies",
            &[
                ("key", "night-desk"),
                ("name", XSS),
                ("order", "5"),
                ("channels", "phone"),
                ("channels", "chat"),
                ("tiers", "vip"),
                ("first_response", "10m"),
                ("resolution", "1d"),
                ("warning_percent", "70"),
                // Typed out of order: stored in percent order.
                ("escalation_percent", "150"),
                ("escalation_role", "admin"),
                ("escalation_percent", "100"),
                ("escalation_role", "supervisor"),
                ("escalation_percent", ""),
                ("escalation_role", "supervisor"),
                ("calendar", "support-hours"),
                // The resolution alone counts on wall-clock time.
                ("resolution_calendar", "always"),
                ("first_response_calendar", ""),
                ("pause_on", "waiting_customer"),
            ],
        )
        .await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/admin/sla-policies/night-desk?done=created".to_owned()));
    let policy = api_policy(&app, "night-desk").await.expect("the API lists the policy");
    assert_eq!(policy["name"], XSS);
    assert_eq!(policy["order"], 5);
    assert_eq!(policy["match"]["channels"], serde_json::json!(["phone", "chat"]));
    assert_eq!(policy["match"]["tiers"], serde_json::json!(["vip"]));
    assert_eq!((policy["first_response"].as_str(), policy["resolution"].as_str()), (Some("10m"), Some("1d")));
    assert!(policy["next_response"].is_null());
    assert_eq!(policy["warning_percent"], 70);
    assert_eq!(
        policy["escalations"],
        serde_json::json!([{"at_percent": 100, "notify_role": "supervisor"}, {"at_percent": 150, "notify_role": "admin"}])
    );
    assert_eq!(policy["calendar"], "support-hours");
    assert_eq!((policy["resolution_calendar"].as_str(), policy["first_response_calendar"].as_str()), (Some("always"), None));
    assert_eq!(policy["pause_on"], serde_json::json!(["waiting_customer"]));

    let html = admin.page("/admin/sla-policies/night-desk?done=created").await;
    assert_inert(&html);
    assert!(html.contains(&format!("<h1>SLA policy: {XSS_ESCAPED}</h1>")), "{html}");
    assert!(html.contains(&format!("value=\"{XSS_ESCAPED}\"")), "the edit form holds the name");
    assert!(html.contains("Support desk hours") && html.contains("100 % → supervisor, 150 % → admin"));
    assert!(html.contains("<input type=\"checkbox\" name=\"channels\" value=\"chat\" checked>"), "{html}");
    let chooser = after_id(&html, "resolution_calendar").split("</select>").next().unwrap();
    assert!(chooser.contains("<option value=\"always\" selected>"), "the edit form holds the target's calendar: {chooser}");
    assert!(html.contains("Resolution: Around the clock (24×7, UTC)"), "the facts say the target's own calendar");
    assert_inert(&admin.page("/admin/sla-policies").await);

    // A change through the form is the API's policy too; a delete removes it.
    let r = admin
        .post(
            "/admin/sla-policies/night-desk",
            &[("name", "Night desk"), ("order", "5"), ("first_response", "15m"), ("resolution", "2d"), ("warning_percent", "80")],
        )
        .await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/admin/sla-policies/night-desk?done=saved".to_owned()));
    let policy = api_policy(&app, "night-desk").await.unwrap();
    assert_eq!((policy["name"].as_str(), policy["first_response"].as_str()), (Some("Night desk"), Some("15m")));
    assert_eq!(policy["match"]["channels"], serde_json::json!([]), "nothing ticked: any channel");
    assert!(policy["calendar"].is_null() && policy["escalations"] == serde_json::json!([]));
    let r = admin.post("/admin/sla-policies/night-desk/delete", &[]).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/admin/sla-policies?done=deleted".to_owned()));
    assert!(api_policy(&app, "night-desk").await.is_none());
    assert_eq!(admin.get("/admin/sla-policies/night-desk").await.status(), StatusCode::NOT_FOUND);
}

async fn a_refused_policy_form_names_the_field_and_keeps_the_input(app: TestApp) {
    let admin = admin(&app).await;
    // The domain's rules: a target it cannot read, an escalation under 50 %, a taken key.
    let r = admin
        .post(
            "/admin/sla-policies",
            &[
                ("key", "late"),
                ("name", XSS),
                ("order", "1"),
                ("first_response", "soon"),
                ("resolution", "1d"),
                ("escalation_percent", "120"),
                ("escalation_role", "admin"),
                ("escalation_percent", "20"),
                ("escalation_role", "supervisor"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert_inert(&html);
    assert!(html.contains("id=\"form-refused\""), "the summary names the fields: {html}");
    assert!(after_id(&html, "form-refused").contains("<code>first_response</code>"));
    assert!(html.contains("id=\"first_response\" name=\"first_response\" type=\"text\" value=\"soon\" aria-invalid=\"true\""), "{html}");
    assert!(after_id(&html, "first_response-error").starts_with('>'), "the message beside the field");
    // The 20 % row comes first (percent order), with its message beside it.
    assert!(html.contains("id=\"escalation-1-percent\" name=\"escalation_percent\" type=\"text\" inputmode=\"numeric\" value=\"20\" aria-invalid=\"true\""), "{html}");
    assert!(after_id(&html, "escalation-1-error").contains("between 50 and 1000"));
    assert!(html.contains("value=\"120\""), "the other row is kept");
    assert!(html.contains(&format!("value=\"{XSS_ESCAPED}\"")) && html.contains("id=\"key\" name=\"key\" type=\"text\" value=\"late\""));
    assert!(api_policy(&app, "late").await.is_none(), "nothing saved");

    let r = admin.post("/admin/sla-policies", &[("key", "default"), ("name", "Again"), ("resolution", "1d")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(after_id(&r.text().await.unwrap(), "key-error").contains("policy `default` exists"));
    // Not a number, before the services are asked.
    let r = admin.post("/admin/sla-policies/default", &[("name", "Standard"), ("order", "first"), ("resolution", "3d")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(after_id(&html, "order-error").contains("`first` is not a whole number") && html.contains("value=\"first\""));
    assert_eq!(api_policy(&app, "default").await.unwrap()["name"], "Standard service", "unchanged");
}

async fn a_calendar_interval_ending_before_it_starts_is_refused_beside_its_day(app: TestApp) {
    let admin = admin(&app).await;
    let html = admin.page("/admin/calendars").await;
    let seeded = after_id(&html, "calendars");
    assert!(seeded.contains("Support desk hours") && seeded.contains("08:00-18:00") && seeded.contains("2026-12-25"), "{seeded}");
    let night = [
        ("key", "night"),
        ("name", XSS),
        ("timezone", "Asia/Shanghai"),
        ("hours_mon", "18:00-09:00"),
        ("hours_tue", "18:00-24:00"),
        ("holidays", "2026-10-01\n2026-10-02"),
    ];
    let r = admin.post("/admin/calendars", &night).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert_inert(&html);
    assert!(html.contains("id=\"hours_mon\" name=\"hours_mon\" type=\"text\" value=\"18:00-09:00\" aria-invalid=\"true\""), "{html}");
    assert!(after_id(&html, "hours_mon-error").contains("ends before it starts"), "{html}");
    assert!(after_id(&html, "form-refused").contains("<code>hours.mon[0]</code>"));
    assert!(html.contains("value=\"Asia/Shanghai\"") && html.contains("2026-10-01\n2026-10-02</textarea>"), "the rest is kept");
    assert_eq!(app.get("/api/v1/calendars/night").await.status(), StatusCode::NOT_FOUND);

    let mut fixed = night;
    fixed[3] = ("hours_mon", "00:00-09:00, 18:00-24:00");
    let r = admin.post("/admin/calendars", &fixed).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/admin/calendars/night?done=created".to_owned()));
    let calendar = body(app.get("/api/v1/calendars/night").await).await;
    assert_eq!(calendar["timezone"], "Asia/Shanghai");
    assert_eq!(calendar["hours"]["mon"], serde_json::json!(["00:00-09:00", "18:00-24:00"]));
    assert_eq!(calendar["holidays"], serde_json::json!(["2026-10-01", "2026-10-02"]));
    let html = admin.page("/admin/calendars/night?done=created").await;
    assert_inert(&html);
    assert!(html.contains(&format!("<h1>Business calendar: {XSS_ESCAPED}</h1>")));
    assert!(
        html.contains("<dt>Monday</dt><dd>00:00-09:00, 18:00-24:00</dd>") && html.contains("<dt>Wednesday</dt><dd>closed</dd>"),
        "{html}"
    );

    // An unknown time zone on the edit form; then 24×7.
    let r = admin.post("/admin/calendars/night", &[("timezone", "Mars/Olympus"), ("hours_mon", "09:00-17:00")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(after_id(&html, "timezone-error").contains("not a known IANA time zone") && html.contains("value=\"Mars/Olympus\""));
    let r = admin.post("/admin/calendars/night", &[("timezone", "UTC"), ("always", "true"), ("hours_mon", "09:00-17:00")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(body(app.get("/api/v1/calendars/night").await).await["always"], true);

    // A calendar a policy uses stays, and its page says which policies.
    let r = admin.post("/admin/calendars/support-hours/delete", &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(after_id(&r.text().await.unwrap(), "calendar-error").contains("`default`"));
    let r = admin.post("/admin/calendars/night/delete", &[]).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/admin/calendars?done=deleted".to_owned()));
    assert_eq!(app.get("/api/v1/calendars/night").await.status(), StatusCode::NOT_FOUND);

    // A key holding `/` and a space stays one path segment in links and forms.
    let r = app.post("/api/v1/calendars", &serde_json::json!({"key": "late/shift 2", "timezone": "UTC", "always": true})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(admin.page("/admin/calendars").await.contains("href=\"/admin/calendars/late%2Fshift%202\""));
    let html = admin.page("/admin/calendars/late%2Fshift%202").await;
    assert!(html.contains("action=\"/admin/calendars/late%2Fshift%202\"") && html.contains("Around the clock"), "{html}");
    let r = admin.post("/admin/calendars/late%2Fshift%202", &[("name", "Late shift"), ("timezone", "UTC"), ("always", "true")]).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/admin/calendars/late%2Fshift%202?done=saved".to_owned()));
    assert_eq!(body(app.get("/api/v1/calendars/late%2Fshift%202").await).await["name"], "Late shift");
}

async fn processes_are_drawn_with_their_stages_in_order(app: TestApp) {
    let admin = admin(&app).await;
    let html = admin.page("/admin/processes").await;
    let general = after_id(&html, "process-general");
    let drawn = general.split("<ol class=\"stages\">").nth(1).unwrap().split("</ol>").next().unwrap();
    let names: Vec<&str> = drawn.split("<li>").skip(1).map(|li| li.trim_end_matches("</li>")).collect();
    assert_eq!(
        names,
        ["Consultation", "Needs analysis", "Solution design", "Delivery", "After-sales support", "Closed", "Cancelled"],
        "{drawn}"
    );
    let delivery = general.split("4. Delivery").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(delivery.contains("<td>agent</td><td>3d</td>") && delivery.contains("<td>required</td>"), "{delivery}");
    assert!(delivery.contains("After-sales support"), "its allowed moves: {delivery}");
    let design = general.split("3. Solution design").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(design.contains("<td>supervisor</td><td>2d</td>") && design.contains("<td>–</td>"), "{design}");

    // In Chinese once the person chooses it.
    let r = admin.post("/preferences", &[("language", "zh"), ("timezone", "Asia/Shanghai")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = admin.page("/admin/processes").await;
    assert!(html.contains("<h1>服务流程</h1>") && html.contains("<th scope=\"col\">负责角色</th>"), "{html}");
    assert!(admin.page("/admin/sla-policies").await.contains("<h1>SLA 策略</h1>"));
    assert!(admin.page("/admin/calendars").await.contains("<dt>星期一</dt><dd>08:00-18:00</dd>"));
}

async fn an_agent_is_refused_the_sla_screens(app: TestApp) {
    let (agent, _) = ConsoleSession::person(&app, "Ann Agent", "ann@desk.test", "agent").await;
    for path in
        ["/admin/sla-policies", "/admin/sla-policies/default", "/admin/calendars", "/admin/calendars/support-hours", "/admin/processes"]
    {
        assert_eq!(agent.get(path).await.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let r = agent.post("/admin/sla-policies", &[("key", "mine"), ("name", "Mine"), ("resolution", "1m")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(api_policy(&app, "mine").await.is_none());
    assert_eq!(agent.post("/admin/sla-policies/default/delete", &[]).await.status(), StatusCode::FORBIDDEN);
    assert!(api_policy(&app, "default").await.is_some());
    assert_eq!(agent.post("/admin/calendars/support-hours/delete", &[]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/calendars/support-hours").await.status(), StatusCode::OK);
    // Signed out: to the sign-in page.
    let r = ConsoleSession::anonymous(&app).get("/admin/calendars").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}
