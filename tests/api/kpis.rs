//! KPIs, ticket metrics, the monthly review and the shipped monitoring assets, checked by value
//! after a scripted sequence of tickets.

use crate::helpers::{body, clock_passes, problem, problem_fields, Backend, TestApp};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    kpis_metrics_and_review_agree_with_a_scripted_month,
    kpi_parameters_are_checked_and_named,
    database_gauges_agree_across_nodes,
    the_staff_replies_backfill_counts_public_staff_replies,
);

async fn comment(app: &TestApp, id: &str, text: &str) {
    let r = app.post(&format!("/api/v1/tickets/{id}/comments"), &json!({"body": text, "visibility": "public"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

async fn answer_survey(app: &TestApp, id: &str, score: u8) {
    let url = app.events(id).await.iter().find(|e| e["kind"] == "survey_issued").expect("survey")["data"]["survey_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app.client.post(app.url(&url)).json(&json!({"score": score})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

async fn review(app: &TestApp, id: &str, outcome: &str) {
    let r = app
        .post(&format!("/api/v1/tickets/{id}/reviews"), &json!({"outcome": outcome, "score": if outcome == "pass" { 90 } else { 30 }}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}

/// A sample's value in the exposition text: the series named `name` carrying every label.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .find(|l| labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// The sum of every series of `name`.
fn total(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.split(['{', ' ']).next() == Some(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn kpi<'a>(kpis: &'a Value, key: &str, dimension: Option<&str>) -> &'a Value {
    kpis.as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == key && k["dimension"].as_str() == dimension)
        .unwrap_or_else(|| panic!("KPI {key} {dimension:?} missing from {kpis}"))
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

async fn scrape(app: &TestApp) -> String {
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

/// `promtool check metrics` on a live scrape; skipped (with a note) only when promtool is not
/// installed — `tests/run` installs it.
pub(crate) fn promtool(args: &[&str], stdin: Option<&str>) -> Option<std::process::Output> {
    use std::io::Write;
    let mut cmd = std::process::Command::new("promtool");
    cmd.args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(std::process::Stdio::piped());
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(_) => {
            // CI sets this: there, a missing promtool is a failure, not a skip.
            assert!(
                std::env::var_os("STEWARD_TEST_REQUIRE_PROMTOOL").is_none(),
                "promtool is required (STEWARD_TEST_REQUIRE_PROMTOOL) but not installed"
            );
            eprintln!("note: promtool not installed (tests/run installs it); promtool checks skipped");
            return None;
        }
    };
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    Some(child.wait_with_output().unwrap())
}

/// Renders `html` to a PNG in headless Chromium (`tests/run` installs Debian's `chromium`) and
/// returns its path under the target directory, to be looked at. Checks that Chromium drew a
/// page of the window's size.
fn screenshot_in_chromium(html: &str, name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join(format!("{name}.html"));
    let png = dir.join(format!("{name}.png"));
    std::fs::write(&page, html).unwrap();
    let _ = std::fs::remove_file(&png);
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,3000"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium is installed (tests/run installs it)");
    assert!(out.status.success() && png.exists(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let (width, height) = (u32::from_be_bytes(bytes[16..20].try_into().unwrap()), u32::from_be_bytes(bytes[20..24].try_into().unwrap()));
    assert_eq!((width, height), (1280, 3000), "the window's size");
    png
}

async fn kpis_metrics_and_review_agree_with_a_scripted_month(app: TestApp) {
    // A policy that breaches at once: onsite tickets must be answered within a second, 24×7.
    let r = app
        .post("/api/v1/sla-policies", &json!({"key": "kpi-test", "name": "Instant", "order": 1, "match": {"channels": ["onsite"]}, "first_response": "1s", "resolution": "1d"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // T1 phone: one reply, closed, survey 5, review pass. First contact resolution.
    let t1 = app.create_ticket(json!({"channel": "phone"})).await;
    let t1 = t1["id"].as_str().unwrap().to_owned();
    comment(&app, &t1, "On our way").await;
    review(&app, &t1, "pass").await;
    assert_eq!(app.transition(&t1, "closed").await.status(), StatusCode::OK);
    answer_survey(&app, &t1, 5).await;
    // T2 email: one reply, closed, survey 2, review fail, then reopened.
    let t2 = app.create_ticket(json!({"channel": "email", "priority": "normal"})).await;
    let t2 = t2["id"].as_str().unwrap().to_owned();
    comment(&app, &t2, "Looking into it").await;
    review(&app, &t2, "fail").await;
    assert_eq!(app.transition(&t2, "closed").await.status(), StatusCode::OK);
    answer_survey(&app, &t2, 2).await;
    assert_eq!(app.post(&format!("/api/v1/tickets/{t2}/reopen"), &json!({"reason": "still broken"})).await.status(), StatusCode::OK);
    // T3 chat: two replies, closed: resolved, but not at first contact.
    let t3 = app.create_ticket(json!({"channel": "chat"})).await;
    let t3 = t3["id"].as_str().unwrap().to_owned();
    comment(&app, &t3, "Hello").await;
    comment(&app, &t3, "Try again now").await;
    assert_eq!(app.transition(&t3, "closed").await.status(), StatusCode::OK);
    // T4: a complaint, open, unanswered.
    app.create_ticket(json!({"channel": "web", "kind": "complaint", "tags": ["billing"]})).await;
    // T5 onsite: its first-response clock breaches before the reply.
    let t5 = app.create_ticket(json!({"channel": "onsite", "priority": "low"})).await;
    let t5 = t5["id"].as_str().unwrap().to_owned();
    let sla = body(app.get(&format!("/api/v1/tickets/{t5}/sla")).await).await;
    let first = sla["clocks"].as_array().unwrap().iter().find(|c| c["kind"] == "first_response").unwrap().clone();
    clock_passes(first["due_at"].as_str().unwrap().parse().unwrap()).await;
    assert!(app.sweep_sla().await >= 1);
    assert!(app.events(&t5).await.iter().any(|e| e["kind"] == "sla_breached"), "the onsite clock breached");
    comment(&app, &t5, "Sorry for the wait").await;
    // Place the first responses at 10 s, 20 s, 40 s and 30 s after opening.
    for (id, seconds) in [(&t1, 10), (&t2, 20), (&t3, 40), (&t5, 30)] {
        app.exec(&format!("UPDATE tickets SET created_at = first_response_at - {} WHERE id = '{id}'", seconds * 1000)).await;
    }

    let r = app.get("/api/v1/kpis?window=1d").await;
    assert_eq!(r.status(), StatusCode::OK);
    let view = body(r).await;
    let kpis = &view["kpis"];
    let frt = |stat: &str| kpi(kpis, &format!("first_response_time_{stat}"), None).clone();
    assert_eq!(frt("p50")["value"], 20.0, "{kpis}");
    assert_eq!(frt("p90")["value"], 40.0);
    assert_eq!(frt("mean")["value"], 25.0);
    assert_eq!(frt("p90")["sample"], 4);
    assert_eq!(frt("p90")["unit"], "seconds");
    assert_eq!(frt("p90")["target"], 7200.0);
    assert_eq!(frt("p90")["status"], "ok");
    let resolution = kpi(kpis, "resolution_time_p90", None);
    assert_eq!(resolution["sample"], 2, "T1 and T3 are resolved; T2 was reopened");
    let r90 = resolution["value"].as_f64().unwrap();
    assert!((40.0..100.0).contains(&r90), "T3 resolved shortly after its reply 40 s in: {r90}");
    assert!(close(&kpi(kpis, "resolution_rate", None)["value"], 2.0 / 5.0));
    assert_eq!(kpi(kpis, "resolution_rate", None)["status"], "breach");
    assert!(close(&kpi(kpis, "first_contact_resolution_rate", None)["value"], 0.5));
    assert!(close(&kpi(kpis, "reopen_rate", None)["value"], 1.0 / 3.0));
    assert_eq!(kpi(kpis, "reopen_rate", None)["sample"], 3);
    assert!(close(&kpi(kpis, "csat_mean", None)["value"], 3.5));
    let csat = kpi(kpis, "csat_satisfied_share", None);
    assert!(close(&csat["value"], 0.5));
    assert_eq!((csat["target"].clone(), csat["status"].clone(), csat["sample"].clone()), (json!(0.85), json!("breach"), json!(2)));
    assert!(close(&kpi(kpis, "complaint_rate", None)["value"], 0.2));
    let frc = kpi(kpis, "sla_compliance", Some("first_response"));
    assert!(close(&frc["value"], 0.75), "T1–T3 met, T5 breached, T4 undecided: {frc}");
    assert_eq!(frc["sample"], 4);
    assert!(close(&kpi(kpis, "review_pass_rate", None)["value"], 0.5));
    assert_eq!(kpi(kpis, "backlog", None)["value"], 3.0);
    assert_eq!(kpi(kpis, "backlog", Some("general/consultation/open"))["value"], 3.0);
    let dwell = kpi(kpis, "stage_dwell_time", Some("general/consultation"));
    assert_eq!((dwell["target"].clone(), dwell["status"].clone()), (json!(14400.0), json!("ok")), "{dwell}");

    // Filters and grouping.
    let email = body(app.get("/api/v1/kpis?window=1d&channel=email").await).await;
    assert_eq!(email["filters"], json!({"channel": "email"}));
    assert!(close(&kpi(&email["kpis"], "reopen_rate", None)["value"], 1.0));
    assert_eq!(kpi(&email["kpis"], "resolution_rate", None)["sample"], 1);
    let grouped = body(app.get("/api/v1/kpis?window=1d&group_by=channel").await).await;
    assert_eq!(grouped["group_by"], "channel");
    let groups = grouped["groups"].as_array().unwrap();
    let values: Vec<&str> = groups.iter().map(|g| g["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["chat", "email", "onsite", "phone", "web"]);
    let phone = groups.iter().find(|g| g["value"] == "phone").unwrap();
    assert!(close(&kpi(&phone["kpis"], "resolution_rate", None)["value"], 1.0));
    assert!(close(&kpi(&phone["kpis"], "csat_mean", None)["value"], 5.0));
    let past = body(app.get("/api/v1/kpis?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z").await).await;
    assert_eq!(kpi(&past["kpis"], "resolution_rate", None)["value"], Value::Null);
    assert_eq!(kpi(&past["kpis"], "resolution_rate", None)["status"], Value::Null);

    // Metrics: counters and histograms from the events, gauges from the refresher.
    app.refresh_metrics().await;
    let text = scrape(&app).await;
    let s = |name: &str, labels: &[(&str, &str)]| sample(&text, name, labels).unwrap_or_else(|| panic!("{name} {labels:?} in\n{text}"));
    assert_eq!(s("steward_tickets_created_total", &[("channel", "phone"), ("priority", "high"), ("kind", "request")]), 1.0);
    assert_eq!(total(&text, "steward_tickets_created_total"), 5.0);
    assert_eq!(total(&text, "steward_tickets_resolved_total"), 3.0, "T2's resolution counts though it was reopened");
    assert_eq!(s("steward_tickets_reopened_total", &[("channel", "email"), ("priority", "normal")]), 1.0);
    assert_eq!(s("steward_complaints_total", &[("channel", "web")]), 1.0);
    assert_eq!(s("steward_sla_breaches_total", &[("clock", "first_response"), ("priority", "low")]), 1.0);
    assert_eq!(s("steward_csat_responses_total", &[("score", "5")]), 1.0);
    assert_eq!(s("steward_csat_responses_total", &[("score", "2")]), 1.0);
    assert_eq!(s("steward_quality_reviews_total", &[("outcome", "pass")]), 1.0);
    assert_eq!(s("steward_quality_reviews_total", &[("outcome", "fail")]), 1.0);
    assert_eq!(total(&text, "steward_ticket_first_response_seconds_count"), 4.0);
    assert_eq!(total(&text, "steward_ticket_resolution_seconds_count"), 3.0);
    // T5 waited at least a second for its reply; the others less than 20 s.
    assert_eq!(s("steward_ticket_first_response_seconds_bucket", &[("channel", "onsite"), ("le", "+Inf")]), 1.0);
    assert_eq!(s("steward_ticket_first_response_seconds_bucket", &[("channel", "phone"), ("le", "20")]), 1.0);
    assert!(text.contains("le=\"30\"") && text.contains("le=\"7200\"") && text.contains("le=\"86400\""), "buckets at the SLA targets");
    assert_eq!(s("steward_tickets_open", &[("process", "general"), ("stage", "consultation"), ("status", "open")]), 3.0);
    assert_eq!(s("steward_sla_at_risk", &[("clock", "first_response")]), 0.0);
    assert!(s("steward_metrics_refreshed_timestamp_seconds", &[]) > 1.7e9);
    for id in [&t1, &t2, &t3, &t5] {
        assert!(!text.contains(id.as_str()), "no ticket ids in labels");
    }
    if let Some(out) = promtool(&["check", "metrics"], Some(&text)) {
        assert!(
            out.status.success(),
            "promtool check metrics:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // The monthly review of this month.
    let month = jiff::Timestamp::now().strftime("%Y-%m").to_string();
    let r = app.get(&format!("/api/v1/reports/review?month={month}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let review = body(r).await;
    assert_eq!(review["month"], month);
    let keys: Vec<&str> = review["sections"].as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        ["kpis", "worse", "breaches", "weakest_stages", "complaint_tags", "partners", "training", "improvement_actions", "improvements"]
    );
    let headline = &review["headline"];
    assert_eq!(
        (headline["opened"].as_u64(), headline["resolved"].as_u64(), headline["backlog_at_end"].as_u64()),
        (Some(5), Some(2), Some(3)),
        "{headline}"
    );
    assert!(close(&headline["csat"], 0.5) && close(&headline["csat_target"], 0.85), "{headline}");
    assert!(headline["sla_compliance"].as_f64().is_some(), "{headline}");
    let section = |key: &str| review["sections"].as_array().unwrap().iter().find(|s| s["key"] == key).unwrap()["items"].clone();
    let lines = section("kpis");
    assert!(close(&kpi(&lines, "resolution_rate", None)["value"], 0.4));
    assert_eq!(kpi(&lines, "resolution_rate", None)["previous"], Value::Null, "nothing happened the month before");
    assert_eq!(kpi(&lines, "backlog", None)["value"], 3.0);
    assert_eq!(kpi(&lines, "backlog", None)["previous"], 0.0, "at the end of last month none of these tickets existed");
    assert_eq!(
        section("breaches"),
        json!([{"clock": "first_response", "process": "general", "stage": null, "priority": "low", "count": 1}])
    );
    assert_eq!(section("complaint_tags"), json!([{"tag": "billing", "count": 1}]));
    assert_eq!(section("partners"), json!([]), "no partners in this month's script");
    assert_eq!(section("training")[0], json!({"training_compliance": null, "previous": null, "staff_considered": 0}));
    assert_eq!(section("improvement_actions"), json!([]), "no improvement action in this month's script");
    let points = section("improvements").to_string();
    assert!(points.contains("CSAT (share of 4–5 scores) is 50.0 %") && points.contains("`billing` (1)"), "{points}");

    let md = app.get(&format!("/api/v1/reports/review?month={month}&format=md")).await;
    assert!(md.headers()["content-type"].to_str().unwrap().starts_with("text/markdown"));
    let md = md.text().await.unwrap();
    let human_month = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC).strftime("%B %Y").to_string();
    assert!(md.starts_with(&format!("# Service review {human_month}")), "{md}");
    assert!(md.contains("| Resolution rate | 40.0 % | – | 90.0 % | breach | 5 |"), "{md}");
    let html = app.get(&format!("/api/v1/reports/review?month={month}&format=html")).await.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg") && html.contains("billing"), "{html}");
    assert!(!html.contains("src=") && !html.contains("href=") && !html.contains("@import"), "standalone: no external assets");
    if app.backend == Backend::Sqlite {
        let png = screenshot_in_chromium(&html, "review-deck");
        eprintln!("the review deck as Chromium draws it: {}", png.display());
    }
    let csv = app.get(&format!("/api/v1/reports/review?month={month}&format=csv")).await.text().await.unwrap();
    assert!(csv.starts_with("section,item,dimension,value,unit,previous,target,status,grade,sample\n"), "{csv}");
    assert!(csv.contains("\nkpis,resolution_rate,,0.4,ratio,,0.9,breach,,5\n"), "{csv}");
    assert!(csv.contains("\nbreaches,first_response,general//low,1,count,"), "{csv}");
    assert!(csv.contains("\nheadline,backlog_at_end,,3,count,"), "{csv}");

    // Last month's review counts the backlog as it stood at that month's end, not today's.
    let last = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC).first_of_month().unwrap().yesterday().unwrap();
    let last = last.strftime("%Y-%m").to_string();
    let before = body(app.get(&format!("/api/v1/reports/review?month={last}")).await).await;
    assert_eq!(before["headline"]["backlog_at_end"], 0, "{}", before["headline"]);
    let lines = before["sections"][0]["items"].clone();
    assert_eq!(kpi(&lines, "backlog", None)["value"], 0.0);

    // The same review from the command line, on SQLite (the binary opens the same file).
    if app.backend == Backend::Sqlite {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("review.md");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_steward"))
            .args(["report", "review", "--month", &month, "--format", "md", "--out", file.to_str().unwrap()])
            .env_remove("STEWARD_CONFIG")
            .env("STEWARD_DATABASE_URL", &app.database_url)
            .env("STEWARD_LOG_LEVEL", "warn")
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let written = std::fs::read_to_string(&file).unwrap();
        assert!(written.contains("| Resolution rate | 40.0 % | – | 90.0 % | breach | 5 |"), "{written}");
    }
}

async fn kpi_parameters_are_checked_and_named(app: TestApp) {
    let p = problem(app.get("/api/v1/kpis?group_by=colour&channel=fax").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(problem_fields(&p), ["channel", "group_by"]);
    // `from` decides the start; `window` (still checked) plays no part then.
    let k = body(app.get("/api/v1/kpis?window=7d&from=2026-01-01T00:00:00Z").await).await;
    assert!(k["from"].as_str().is_some_and(|f| f.starts_with("2026-01-01T00:00:00")), "{k}");
    let p = problem(app.get("/api/v1/kpis?window=soon&from=2026-01-01T00:00:00Z").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(problem_fields(&p), ["window"]);
    let p = problem(app.get("/api/v1/kpis?window=soon").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(problem_fields(&p), ["window"]);
    let p = problem(app.get("/api/v1/kpis?partner=acme").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(problem_fields(&p), ["partner"]);
    let p = problem(app.get("/api/v1/reports/review?month=2026-13&format=pdf").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(problem_fields(&p), ["month", "format"]);
    problem(app.get("/api/v1/reports/review").await, StatusCode::BAD_REQUEST).await;
    let viewer = app.token_with_role("viewer").await;
    let r = app.request_as(&viewer, Method::GET, "/api/v1/kpis").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "every role reads KPIs");
    problem(app.client.get(app.url("/api/v1/kpis")).send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    // The shipped rules pass promtool.
    if let Some(out) = promtool(&["check", "rules", "config/prometheus/steward.rules.yml", "config/prometheus/steward.alerts.yml"], None) {
        assert!(
            out.status.success(),
            "promtool check rules:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dashboard: Value =
        serde_json::from_str(include_str!("../../config/grafana/steward-dashboard.json")).expect("the dashboard is JSON");
    assert_eq!(dashboard["__inputs"][0]["pluginId"], "prometheus", "importable with a data source prompt");
    let exprs = dashboard.to_string();
    for metric in [
        "steward_sla_breaches_total",
        "steward_tickets_open",
        "steward_ticket_first_response_seconds_bucket",
        "steward_csat_responses_total",
        "steward_complaints_total",
        "steward_http_request_duration_seconds_bucket",
    ] {
        assert!(exprs.contains(metric), "dashboard uses {metric}");
    }
}

/// Gauges read from the database are the same on every node.
async fn database_gauges_agree_across_nodes(app: TestApp) {
    app.create_ticket(json!({})).await;
    app.create_ticket(json!({"channel": "email"})).await;
    let other = app.node(|_| {}).await;
    app.refresh_metrics().await;
    other.workers.refresh_metrics().await;
    let here = scrape(&app).await;
    let there = app.client.get(other.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let open = [("process", "general"), ("stage", "consultation"), ("status", "open")];
    assert_eq!(sample(&here, "steward_tickets_open", &open), Some(2.0));
    assert_eq!(sample(&there, "steward_tickets_open", &open), Some(2.0), "the other node created nothing but reads the same rows");
    assert_eq!(total(&there, "steward_tickets_created_total"), 0.0, "counters are per node");
}

#[test]
fn report_review_is_a_documented_command() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_steward")).args(["report", "review", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--month") && help.contains("--format") && help.contains("--out"), "{help}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(["report", "review", "--month", "2026-13"])
        .env_remove("STEWARD_CONFIG")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--month"), "the error names the option");
}

/// Migration 6 fills the new reply counter of tickets that existed before it from their
/// timelines: public staff replies count, internal notes do not.
async fn the_staff_replies_backfill_counts_public_staff_replies(app: TestApp) {
    use sqlx::Connection;
    let id = app.create_ticket(json!({})).await["id"].as_str().unwrap().to_owned();
    comment(&app, &id, "On our way").await;
    comment(&app, &id, "Fixed").await;
    let r = app.post(&format!("/api/v1/tickets/{id}/comments"), &json!({"body": "note", "visibility": "internal"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);

    app.exec("UPDATE tickets SET staff_replies = 0").await;
    let migration = app.migration_text("0006_staff_replies.sql");
    let backfill = &migration[migration.find("UPDATE tickets").expect("the backfill")..];
    app.exec(backfill.trim().trim_end_matches(';')).await;

    let mut conn = app.database_connection().await;
    let replies: i64 =
        sqlx::query_scalar(&format!("SELECT staff_replies FROM tickets WHERE id = '{id}'")).fetch_one(&mut conn).await.unwrap();
    let _ = conn.close().await;
    assert_eq!(replies, 2);
}
