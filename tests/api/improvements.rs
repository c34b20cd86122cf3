//! Improvement actions on both backends: created, listed with filters, read and changed under
//! If-Match with every change in the history; bad fields named; the next month's review shows
//! each action's status and its KPI's movement (JSON, Markdown, HTML, CSV); overdue actions are
//! the `improvements_overdue` KPI and the `steward_improvements_overdue` gauge; the console's
//! `/improvements` lists them and its form creates and edits them (in English and Chinese),
//! while agents read and change nothing.

use crate::helpers::{body, problem, problem_fields, ConsoleSession, TestApp};
use crate::on_both_backends;
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};
use steward_console::texts::{self, Lang};

on_both_backends!(
    actions_are_created_listed_read_and_changed_with_their_history,
    bad_fields_are_named_and_only_supervisors_and_admins_change_actions,
    the_next_review_shows_each_actions_status_and_kpi_movement,
    overdue_actions_are_a_kpi_and_a_metric,
    the_console_lists_actions_and_its_form_creates_and_edits_them,
);

fn this_month() -> String {
    jiff::Timestamp::now().strftime("%Y-%m").to_string()
}

fn last_month() -> String {
    let first = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC).first_of_month().unwrap();
    first.yesterday().unwrap().strftime("%Y-%m").to_string()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

async fn create(app: &TestApp, fields: Value) -> Value {
    let r = app.post("/api/v1/improvements", &fields).await;
    assert_eq!(r.status(), StatusCode::CREATED, "creating {fields}");
    body(r).await
}

fn action(owner: &Value, fields: Value) -> Value {
    let mut a = json!({
        "title": "Answer the phone faster",
        "owner": owner["id"],
        "due": "2099-12-31",
        "kpi": "first_response_time_p90",
        "month": last_month(),
    });
    for (k, v) in fields.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

async fn actions_are_created_listed_read_and_changed_with_their_history(app: TestApp) {
    let sue = app.create_staff("Sue Supervisor", "sue@desk.test", "supervisor").await;
    let ann = app.create_staff("Ann Agent", "ann@desk.test", "agent").await;
    let r = app.post("/api/v1/improvements", &action(&sue, json!({"description": "Two more people on the morning shift"}))).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()[header::ETAG], "\"1\"");
    let location = r.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let first = body(r).await;
    assert_eq!(location, format!("/api/v1/improvements/{}", id(&first)));
    assert_eq!(
        (&first["status"], &first["version"], &first["overdue"], &first["month"], &first["due"], &first["closed_at"]),
        (&json!("open"), &json!(1), &json!(false), &json!(last_month()), &json!("2099-12-31"), &Value::Null)
    );
    let second = create(&app, action(&ann, json!({"title": "Shorter consultations", "kpi": null, "stage": "general/consultation"}))).await;
    assert_eq!((&second["stage"], &second["kpi"]), (&json!("general/consultation"), &Value::Null));
    let third =
        create(&app, action(&ann, json!({"title": "Fewer reopens", "kpi": "reopen_rate", "month": this_month(), "status": "in_progress"})))
            .await;

    // Filters: status, owner, month; keyset pages.
    let titles =
        |page: &Value| page["items"].as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let all = body(app.get("/api/v1/improvements").await).await;
    assert_eq!(titles(&all), ["Answer the phone faster", "Shorter consultations", "Fewer reopens"]);
    let by_owner = body(app.get(&format!("/api/v1/improvements?owner={}", id(&ann))).await).await;
    assert_eq!(titles(&by_owner), ["Shorter consultations", "Fewer reopens"]);
    let by_status = body(app.get("/api/v1/improvements?status=in_progress").await).await;
    assert_eq!(titles(&by_status), ["Fewer reopens"]);
    let by_month = body(app.get(&format!("/api/v1/improvements?month={}", last_month())).await).await;
    assert_eq!(titles(&by_month), ["Answer the phone faster", "Shorter consultations"]);
    let page = body(app.get("/api/v1/improvements?limit=2").await).await;
    assert_eq!(titles(&page).len(), 2);
    let rest = body(app.get(&format!("/api/v1/improvements?limit=2&cursor={}", page["next_cursor"].as_str().unwrap())).await).await;
    assert_eq!((titles(&rest), &rest["next_cursor"]), (vec!["Fewer reopens".to_owned()], &Value::Null));

    // A change under If-Match: the version moves and the history records who changed what.
    let path = format!("/api/v1/improvements/{}", id(&first));
    let r = app.get(&path).await;
    assert_eq!(r.headers()[header::ETAG], "\"1\"");
    let r = app.patch(&path, Some("\"1\""), &json!({"status": "in_progress", "owner": ann["id"], "description": null})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::ETAG], "\"2\"");
    let changed = body(r).await;
    assert_eq!((&changed["status"], &changed["owner"], &changed["description"]), (&json!("in_progress"), &ann["id"], &Value::Null));
    // Nothing to change: the same version, nothing recorded.
    let same = body(app.patch(&path, Some("\"2\""), &json!({"status": "in_progress"})).await).await;
    assert_eq!(same["version"], 2);
    let done = body(app.patch(&path, Some("\"2\""), &json!({"status": "done"})).await).await;
    assert_eq!(done["version"], 3);
    assert!(done["closed_at"].is_string(), "closing stamps it: {done}");
    // A stale version is refused and changes nothing.
    let p = problem(app.patch(&path, Some("\"2\""), &json!({"status": "dropped"})).await, StatusCode::CONFLICT).await;
    assert_eq!(p["current_version"], 3);
    assert_eq!(body(app.get(&path).await).await["status"], "done");

    let history = body(app.get(&format!("{path}/history")).await).await;
    let history = history.as_array().unwrap();
    assert_eq!(
        history.iter().map(|e| (e["seq"].as_i64().unwrap(), e["kind"].as_str().unwrap())).collect::<Vec<_>>(),
        [(1, "created"), (2, "changed"), (3, "changed")]
    );
    let fields = |e: &Value| e["changes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(fields(&history[0]), ["title", "description", "owner", "due", "status", "kpi", "month"]);
    assert_eq!(fields(&history[1]), ["description", "owner", "status"]);
    assert_eq!(history[2]["changes"], json!([{"field": "status", "from": "in_progress", "to": "done"}]));
    assert_eq!(history[1]["changes"][1], json!({"field": "owner", "from": sue["id"], "to": ann["id"]}));
    assert_eq!(history[2]["actor"]["kind"], "token");
    let _ = third;
    assert_eq!(app.get("/api/v1/improvements/0190d4b5-0000-7000-8000-000000000000").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/improvements/not-an-id/history").await.status(), StatusCode::NOT_FOUND);
}

async fn bad_fields_are_named_and_only_supervisors_and_admins_change_actions(app: TestApp) {
    let sue = app.create_staff("Sue Supervisor", "sue@desk.test", "supervisor").await;
    let bad = json!({"title": " ", "owner": "nobody", "due": "31.12.2026", "kpi": "happiness", "stage": "general", "month": "2026-13"});
    let p = problem(app.post("/api/v1/improvements", &bad).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["title", "owner", "due", "kpi", "stage", "month"]);
    let kpi = p["errors"].as_array().unwrap().iter().find(|e| e["field"] == "kpi").unwrap()["message"].as_str().unwrap().to_owned();
    assert!(kpi.contains("unknown KPI `happiness`") && kpi.contains("improvements_overdue"), "{kpi}");
    let p = problem(app.post("/api/v1/improvements", &action(&sue, json!({"due": "2026-02-30"}))).await, StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    assert_eq!(problem_fields(&p), ["due"]);
    let p = problem(app.post("/api/v1/improvements", &action(&sue, json!({"kpi": null}))).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["kpi"], "an action targets a KPI or a stage");
    // Names of things that do not exist: the owner, the stage.
    let nobody = json!("0190d4b5-0000-7000-8000-000000000000");
    let p = problem(app.post("/api/v1/improvements", &action(&sue, json!({"owner": nobody}))).await, StatusCode::NOT_FOUND).await;
    assert_eq!(problem_fields(&p), ["owner"]);
    let p =
        problem(app.post("/api/v1/improvements", &action(&sue, json!({"stage": "general/nowhere"}))).await, StatusCode::NOT_FOUND).await;
    assert_eq!(problem_fields(&p), ["stage"]);
    let r = app.post("/api/v1/improvements", &action(&sue, json!({"status": "someday"}))).await;
    assert_eq!(problem_fields(&problem(r, StatusCode::UNPROCESSABLE_ENTITY).await), ["status"]);
    let p = problem(app.get("/api/v1/improvements?month=november&owner=x&status=open").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(problem_fields(&p), ["owner", "month"]);
    assert_eq!(app.get("/api/v1/improvements").await.status(), StatusCode::OK);
    assert!(body(app.get("/api/v1/improvements").await).await["items"].as_array().unwrap().is_empty(), "nothing was created");

    let a = create(&app, action(&sue, json!({}))).await;
    let path = format!("/api/v1/improvements/{}", id(&a));
    assert_eq!(app.patch(&path, None, &json!({"status": "done"})).await.status(), StatusCode::PRECONDITION_REQUIRED);
    let p =
        problem(app.patch(&path, Some("*"), &json!({"due": "tomorrow", "month": "2026"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["due", "month"]);
    let p = problem(app.patch(&path, Some("*"), &json!({"kpi": null})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["kpi"]);

    // Agents and viewers read; supervisors and admins change.
    let agent = app.token_with_role("agent").await;
    let supervisor = app.token_with_role("supervisor").await;
    let r = app.request_as(&agent, Method::GET, &path).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.request_as(&agent, Method::POST, "/api/v1/improvements").json(&action(&sue, json!({}))).send().await.unwrap();
    assert!(problem(r, StatusCode::FORBIDDEN).await["detail"].as_str().unwrap().contains("manage improvement actions"));
    let r = app.request_as(&agent, Method::PATCH, &path).header("If-Match", "*").json(&json!({"status": "done"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r =
        app.request_as(&supervisor, Method::PATCH, &path).header("If-Match", "*").json(&json!({"status": "done"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let partner = crate::console_screens::create_partner(&app, "Acme").await;
    let r = app.post("/api/v1/tokens", &json!({"name": "acme", "role": "partner", "partner_id": partner["id"]})).await;
    let secret = body(r).await["token"].as_str().unwrap().to_owned();
    let r = app.request_as(&secret, Method::GET, "/api/v1/improvements").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "partners do not read the service's improvements");
}

fn section<'a>(review: &'a Value, key: &str) -> &'a Vec<Value> {
    review["sections"].as_array().unwrap().iter().find(|s| s["key"] == key).unwrap_or_else(|| panic!("no {key} in {review}"))["items"]
        .as_array()
        .unwrap()
}

async fn the_next_review_shows_each_actions_status_and_kpi_movement(app: TestApp) {
    let sue = app.create_staff("Sue Supervisor", "sue@desk.test", "supervisor").await;
    // Last month's meeting set three actions; this month's sets one more.
    let backlog = create(&app, action(&sue, json!({"title": "Clear the backlog", "kpi": "backlog"}))).await;
    let dropped = create(&app, action(&sue, json!({"title": "Try a chatbot", "kpi": "csat_mean"}))).await;
    let stage = create(&app, action(&sue, json!({"title": "Shorter consultations", "kpi": null, "stage": "general/consultation"}))).await;
    create(&app, action(&sue, json!({"title": "Set this month", "month": this_month()}))).await;
    let path = format!("/api/v1/improvements/{}", id(&backlog));
    assert_eq!(app.patch(&path, Some("*"), &json!({"status": "in_progress"})).await.status(), StatusCode::OK);
    let path = format!("/api/v1/improvements/{}", id(&dropped));
    assert_eq!(app.patch(&path, Some("*"), &json!({"status": "dropped"})).await.status(), StatusCode::OK);
    // This month two tickets are opened and stay open: the backlog went from 0 to 2.
    app.create_ticket(json!({})).await;
    app.create_ticket(json!({})).await;

    let month = this_month();
    let review = body(app.get(&format!("/api/v1/reports/review?month={month}")).await).await;
    let actions = section(&review, "improvement_actions");
    let titles: Vec<_> = actions.iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Clear the backlog", "Try a chatbot", "Shorter consultations"], "only earlier reviews' actions");
    let first = &actions[0];
    assert_eq!(
        (&first["status"], &first["owner_name"], &first["month"], &first["overdue"]),
        (&json!("in_progress"), &json!("Sue Supervisor"), &json!(last_month()), &json!(false))
    );
    assert_eq!(
        first["kpi"],
        json!({"key": "backlog", "dimension": null, "label": "Backlog (open tickets)", "unit": "count",
                                    "from": 0.0, "to": 2.0, "movement": "worse"})
    );
    assert_eq!(actions[1]["status"], "dropped", "closed this month: still followed up");
    assert_eq!((&actions[1]["kpi"]["from"], &actions[1]["kpi"]["movement"]), (&Value::Null, &json!("unknown")));
    assert_eq!(actions[2]["kpi"]["key"], "stage_dwell_time");
    assert_eq!(actions[2]["kpi"]["dimension"], "general/consultation");
    assert_eq!(id(&stage), actions[2]["id"]);
    // Last month's review follows up nothing from before it.
    let before = body(app.get(&format!("/api/v1/reports/review?month={}", last_month())).await).await;
    assert!(section(&before, "improvement_actions").is_empty());

    let md = app.get(&format!("/api/v1/reports/review?month={month}&format=md")).await.text().await.unwrap();
    assert!(md.contains("## Improvement actions from earlier reviews"), "{md}");
    assert!(
        md.contains(&format!(
            "| Clear the backlog | Sue Supervisor | {} | 2099-12-31 | in progress | Backlog (open tickets) | 0 | 2 | worse |",
            last_month()
        )),
        "{md}"
    );
    let html = app.get(&format!("/api/v1/reports/review?month={month}&format=html")).await.text().await.unwrap();
    let part = html.split("id=\"improvement_actions\"").nth(1).unwrap().split("</section>").next().unwrap();
    assert!(part.contains("<td>Clear the backlog</td>") && part.contains("<td class=\"s breach\">worse</td>"), "{part}");
    let csv = app.get(&format!("/api/v1/reports/review?month={month}&format=csv")).await.text().await.unwrap();
    assert!(csv.contains("\nimprovement_actions,Clear the backlog,Backlog (open tickets),2,count,0,,in_progress,worse,\n"), "{csv}");
}

async fn overdue_actions_are_a_kpi_and_a_metric(app: TestApp) {
    let sue = app.create_staff("Sue Supervisor", "sue@desk.test", "supervisor").await;
    let kpi = |kpis: &Value| kpis["kpis"].as_array().unwrap().iter().find(|k| k["key"] == "improvements_overdue").cloned().unwrap();
    let none = body(app.get("/api/v1/kpis").await).await;
    assert_eq!((&kpi(&none)["value"], &kpi(&none)["status"]), (&json!(0.0), &json!("ok")));

    let late = create(&app, action(&sue, json!({"title": "Late", "due": "2020-01-31"}))).await;
    let closed = create(&app, action(&sue, json!({"title": "Late but done", "due": "2020-01-31", "status": "done"}))).await;
    create(&app, action(&sue, json!({"title": "In time", "due": "2099-01-31"}))).await;
    assert_eq!((&late["overdue"], &closed["overdue"]), (&json!(true), &json!(false)));
    let now = body(app.get("/api/v1/kpis").await).await;
    assert_eq!((&kpi(&now)["value"], &kpi(&now)["status"], &kpi(&now)["target"]), (&json!(1.0), &json!("breach"), &json!(0.0)));
    let overdue = body(app.get("/api/v1/improvements?overdue=true").await).await;
    assert_eq!(overdue["items"].as_array().unwrap().iter().map(|a| &a["title"]).collect::<Vec<_>>(), [&json!("Late")]);
    app.refresh_metrics().await;
    assert!(app.scrape().await.contains("\nsteward_improvements_overdue 1\n"), "the gauge counts it");
    // The review counts it at the month's end (now, for this month) and names it a point.
    let review = body(app.get(&format!("/api/v1/reports/review?month={}", this_month())).await).await;
    let line = section(&review, "kpis").iter().find(|k| k["key"] == "improvements_overdue").cloned().unwrap();
    assert_eq!((&line["value"], &line["previous"]), (&json!(1.0), &json!(0.0)), "none existed at last month's end");
    assert!(
        section(&review, "improvements").iter().any(|p| p.as_str().unwrap().starts_with("Improvement actions overdue is 1")),
        "{review}"
    );

    let path = format!("/api/v1/improvements/{}", id(&late));
    assert_eq!(app.patch(&path, Some("*"), &json!({"status": "done"})).await.status(), StatusCode::OK);
    assert_eq!(kpi(&body(app.get("/api/v1/kpis").await).await)["value"], 0.0);
    app.refresh_metrics().await;
    assert!(app.scrape().await.contains("\nsteward_improvements_overdue 0\n"));
    // Reopened, it is overdue again.
    assert_eq!(app.patch(&path, Some("*"), &json!({"status": "open"})).await.status(), StatusCode::OK);
    assert_eq!(kpi(&body(app.get("/api/v1/kpis").await).await)["value"], 1.0);
}

/// The page after `id="{id}"`, up to the end of its table.
fn table<'a>(html: &'a str, id: &str) -> &'a str {
    html.split(&format!("id=\"{id}\"")).nth(1).unwrap_or_else(|| panic!("no #{id} in {html}")).split("</table>").next().unwrap()
}

async fn the_console_lists_actions_and_its_form_creates_and_edits_them(app: TestApp) {
    let (sue, sue_staff) = ConsoleSession::person(&app, "Sue Supervisor", "sue@desk.test", "supervisor").await;
    let sue_id = id(&sue_staff).to_owned();
    let html = sue.page("/improvements").await;
    assert!(html.contains("<h1>Improvement actions</h1>") && html.contains("id=\"improvement-form\""), "{html}");
    assert!(html.contains("id=\"no-improvements\""), "none yet");
    assert!(html.contains(&format!("value=\"{}\"", last_month())), "a new action comes from last month's review by default");
    // The review links the screen.
    assert!(sue.page("/supervision/review").await.contains("href=\"/improvements\""));

    // Refused fields beside their inputs, what was typed kept.
    let mut form = vec![
        ("title", "Answer faster"),
        ("description", "Morning shift"),
        ("owner", sue_id.as_str()),
        ("due", "31.12.2099"),
        ("kpi", "first_response_time_p90"),
        ("stage", ""),
        ("status", "open"),
        ("month", "2026-13"),
    ];
    let r = sue.post("/improvements", &form).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"due-error\"") && html.contains("id=\"month-error\""), "{html}");
    assert!(html.contains("value=\"31.12.2099\"") && html.contains("Morning shift"), "the input is kept");
    form[3].1 = "2099-12-31";
    form[7].1 = "2026-11";
    let r = sue.post("/improvements", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with("/improvements/") && location.ends_with("?done=created"), "{location}");
    let action_id = location.trim_start_matches("/improvements/").trim_end_matches("?done=created").to_owned();
    let api = body(app.get(&format!("/api/v1/improvements/{action_id}")).await).await;
    assert_eq!(
        (&api["title"], &api["owner"], &api["month"], &api["kpi"]),
        (&json!("Answer faster"), &json!(sue_id), &json!("2026-11"), &json!("first_response_time_p90"))
    );
    let html = sue.page(&location).await;
    assert!(
        html.contains("<h1 id=\"action-title\">Answer faster</h1>") && html.contains("role=\"status\">The improvement action was created.")
    );
    assert!(table(&html, "history").contains("Status: Open"), "{html}");
    assert!(html.contains("name=\"version\" value=\"1\""), "the form carries its version");

    // An edit at the version shown; a second post of the same version is stale.
    let path = format!("/improvements/{action_id}");
    let mut edit = form.clone();
    edit[6].1 = "in_progress";
    edit.push(("version", "1"));
    let r = sue.post(&path, &edit).await;
    assert_eq!(
        (r.status(), r.headers()[header::LOCATION].to_str().unwrap()),
        (StatusCode::SEE_OTHER, format!("{path}?done=saved").as_str())
    );
    assert_eq!(body(app.get(&format!("/api/v1/improvements/{action_id}")).await).await["status"], "in_progress");
    let r = sue.post(&path, &edit).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(html.contains("Someone else changed this action") && html.contains("name=\"version\" value=\"2\""), "{html}");
    let html = sue.page(&path).await;
    assert!(table(&html, "history").contains("Status: Open → In progress"), "{html}");
    // The list shows it, and filters.
    let html = sue.page("/improvements?status=in_progress").await;
    assert!(table(&html, "improvements").contains(&format!("href=\"{path}\"")), "{html}");
    assert!(sue.page("/improvements?status=done").await.contains("id=\"no-improvements\""));

    // In Chinese.
    let r = sue.post("/preferences", &[("language", "zh"), ("timezone", "Asia/Shanghai")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let zh = texts::improvements(Lang::Zh);
    let html = sue.page(&path).await;
    assert!(html.contains(zh.history) && html.contains(zh.in_progress) && html.contains(zh.edit), "{html}");
    assert!(sue.page("/improvements").await.contains(&format!("<h1>{}</h1>", zh.title)));

    // An agent reads but is refused every change.
    let (agent, _) = ConsoleSession::person(&app, "Ann Agent", "ann@desk.test", "agent").await;
    let html = agent.page(&path).await;
    assert!(html.contains("Answer faster") && !html.contains("id=\"improvement-form\""), "{html}");
    assert!(!agent.page("/improvements").await.contains("id=\"improvement-form\""));
    assert_eq!(agent.post("/improvements", &form).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(agent.post(&path, &edit).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(body(app.get("/api/v1/improvements").await).await["items"].as_array().unwrap().len(), 1);
}
