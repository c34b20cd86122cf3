//! `steward seed`: the generator writes through the services, so the API sees ordinary data.

use crate::helpers::{body, TestApp};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::BTreeMap;
use steward_tools::seed::{seed, SeedOptions};

on_both_backends!(
    seeding_fills_the_database_with_a_year_of_varied_data_and_repeats_with_the_same_seed,
    the_quick_bench_measures_every_row_against_the_real_server,
    the_bench_reuses_an_earlier_seed_and_seeds_only_what_is_missing
);

fn options() -> SeedOptions {
    // A fixed end of the generated year: two runs see the same lives.
    let until = steward_domain::time::Timestamp::now();
    SeedOptions { tickets: 150, events_per_ticket: 3, seed: 7, batch: 40, until: Some(until), ..SeedOptions::default() }
}

async fn tickets(app: &TestApp) -> Vec<Value> {
    let mut all = Vec::new();
    let mut next = String::new();
    loop {
        let r = app.get(&format!("/api/v1/tickets?limit=200{next}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        let page = body(r).await;
        all.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => next = format!("&cursor={cursor}"),
            None => return all,
        }
    }
}

fn count_by(tickets: &[Value], field: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for t in tickets {
        *counts.entry(t[field].as_str().unwrap().to_owned()).or_default() += 1;
    }
    counts
}

async fn seeding_fills_the_database_with_a_year_of_varied_data_and_repeats_with_the_same_seed(app: TestApp) {
    let options = options();
    let report = seed(&app.services, options.clone()).await.expect("seeded");
    assert_eq!(report.tickets, 150);
    assert!(report.transitions > 0 && report.comments > 0 && report.reviews > 0 && report.surveys_answered > 0, "{report:?}");
    assert!(report.delegations > 0 && report.sla_alerts > 0 && report.training_records > 0, "{report:?}");
    assert_eq!((report.staff, report.partners), (30, 6));

    let all = tickets(&app).await;
    assert_eq!(all.len(), 150);
    let statuses = count_by(&all, "status");
    let stages = count_by(&all, "stage");
    assert!(statuses.len() >= 4, "every status: {statuses:?}");
    assert!(stages.len() >= 5, "{stages:?}");
    // Across a year, newest first: the listing's order is creation order.
    let created: Vec<&str> = all.iter().map(|t| t["created_at"].as_str().unwrap()).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "ids follow the backdated creation times");
    let oldest = steward_domain::time::Timestamp::parse("created_at", created.last().unwrap()).unwrap();
    assert!(options.until.unwrap().as_millis() - oldest.as_millis() > 200 * 86_400_000, "spread over the year");

    // Every timeline is gapless and ordered, and holds what the API would have written.
    let mut kinds = BTreeMap::<String, usize>::new();
    for t in all.iter().take(60) {
        let id = t["id"].as_str().unwrap();
        let events = app.events(id).await;
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "ticket {id}");
        let times: Vec<&str> = events.iter().map(|e| e["at"].as_str().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "ticket {id}: {times:?}");
        for e in &events {
            *kinds.entry(e["kind"].as_str().unwrap().to_owned()).or_default() += 1;
        }
    }
    for kind in ["created", "stage_changed", "comment_added", "reviewed", "survey_issued", "csat_received", "sla_breached"] {
        assert!(kinds.contains_key(kind), "no `{kind}` event: {kinds:?}");
    }

    // Seeded tickets are ordinary tickets: the API works on them where they stand.
    let open = all.iter().find(|t| t["status"] == "open" && t["stage"] == "consultation").expect("an open ticket in consultation");
    let id = open["id"].as_str().unwrap();
    let before = app.events(id).await.len();
    assert_eq!(app.transition(id, "needs_analysis").await.status(), StatusCode::OK);
    assert_eq!(app.events(id).await.last().unwrap()["seq"].as_i64().unwrap(), before as i64 + 1);
    let sla = body(app.get(&format!("/api/v1/tickets/{id}/sla")).await).await;
    assert!(!sla["clocks"].as_array().unwrap().is_empty(), "{sla}");
    let partners = body(app.get("/api/v1/partners").await).await;
    assert_eq!(partners["items"].as_array().map_or_else(|| partners.as_array().unwrap().len(), Vec::len), 6);
    let kpis = body(app.get("/api/v1/kpis?window=365d").await).await;
    assert!(kpis.to_string().contains("resolution"), "{kpis}");

    // The same seed in a fresh database gives the same data.
    let again = TestApp::spawn(app.backend).await.expect("the backend that ran the first half");
    let second = seed(&again.services, options.clone()).await.expect("seeded again");
    assert_eq!(second, report);
    let all_again = tickets(&again).await;
    assert_eq!(count_by(&all_again, "status"), statuses);
    assert_eq!(count_by(&all_again, "stage"), stages);

    // Seeding on top continues the sequence and reuses the reference data.
    let more = seed(&again.services, SeedOptions { tickets: 5, first: 150, ..options }).await.expect("seeded on top");
    assert_eq!((more.staff, more.partners, more.courses, more.tickets), (0, 0, 0, 5));
    assert_eq!(tickets(&again).await.len(), 155);
}

async fn the_quick_bench_measures_every_row_against_the_real_server(app: TestApp) {
    // The mail rows reach the real servers the mail tests use: aiosmtpd and dovecot.
    let mut smtp = crate::mail_outbound::SmtpServer::prepare();
    if let Some(smtp) = smtp.as_mut() {
        smtp.start().await;
    }
    let dovecot = crate::mail_inbound::imap::Dovecot::start().await;
    let mut args = Vec::new();
    if let Some(smtp) = &smtp {
        args.extend(["--smtp".to_owned(), format!("127.0.0.1:{}", smtp.port)]);
    }
    if let Some(dovecot) = &dovecot {
        args.extend(["--imap".to_owned(), format!("imap://127.0.0.1:{}", dovecot.port)]);
        args.extend(
            ["--imap-user", crate::mail_inbound::imap::USER, "--imap-password-env", "STEWARD_TEST_BENCH_IMAP_PASSWORD"].map(String::from),
        );
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = [("STEWARD_TEST_BENCH_IMAP_PASSWORD", crate::mail_inbound::imap::PASSWORD)];
    let (report, stdout) = bench_with(&app, &args, &env).await;
    let backend = if app.backend == crate::helpers::Backend::Sqlite { "sqlite" } else { "postgres" };
    assert!(stdout.contains(&format!("Backend: **{backend}**")), "{stdout}");
    assert_eq!(report["tickets"], 300);
    let rows = report["rows"].as_array().unwrap();
    for id in ["seed", "P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9", "P10", "P11", "P12", "P13", "P14", "P15", "P16"] {
        assert!(rows.iter().any(|r| r["id"] == id), "no {id} row: {stdout}");
        assert!(stdout.contains(&format!("| {id} |")), "{stdout}");
    }
    // Every timed row carries numbers (P7 and P13 are sizes); the breach probes were all seen.
    for row in rows.iter().filter(|r| r["samples"].as_u64() > Some(0) && r["id"] != "seed" && r["id"] != "P7" && r["id"] != "P13") {
        assert!(row["p50_ms"].as_f64().is_some() || row["per_second"].as_f64().is_some(), "{row}");
    }
    let delay = rows.iter().find(|r| r["id"] == "P6" && r["what"].as_str().unwrap().contains("delay")).unwrap();
    assert_eq!(delay["samples"], 2);
    let memory = rows.iter().find(|r| r["id"] == "P7").unwrap();
    assert!(memory["value"].as_str().unwrap().contains("MB"), "{memory}");
    // The first loads were fetched compressed: a page and its assets, each counted.
    let first_loads: Vec<&Value> = rows.iter().filter(|r| r["id"] == "P13").collect();
    assert_eq!(first_loads.len(), 2, "{stdout}");
    for row in first_loads {
        let figure = row["value"].as_str().unwrap();
        assert!(figure.contains(" 4 assets ") && row["met"] == true, "{row}");
    }

    // Mail in: through the mailgate command and the endpoint every message became a ticket
    // (the tool checks the count), and P1 ran while mail arrived.
    let measured = |id: &str, what: &str| {
        rows.iter()
            .find(|r| r["id"] == id && r["what"].as_str().unwrap().contains(what))
            .unwrap_or_else(|| panic!("no {id} `{what}`: {stdout}"))
    };
    for (id, what) in [("P14", "steward mailgate"), ("P14", "POST /api/v1/mail/inbound, 8 connections"), ("P14", "while mail is handed in")]
    {
        let row = measured(id, what);
        assert!(row["per_second"].as_f64().is_some_and(|r| r > 0.0), "{row}");
    }
    assert!(measured("P14", "while mail is handed in")["value"].as_str().unwrap().starts_with("ratio "), "{stdout}");
    // Mail by IMAP: every appended message fetched in one pass and flagged in the mailbox.
    match &dovecot {
        Some(dovecot) => {
            let row = measured("P15", "IMAP import");
            assert_eq!(row["samples"], 6, "{row}");
            let flags = dovecot.seen_flags("INBOX").await;
            assert!(flags.len() == 6 && flags.iter().all(|seen| *seen), "{flags:?}");
        }
        None => assert!(measured("P15", "IMAP import")["what"].as_str().unwrap().contains("not measured (no --imap)"), "{stdout}"),
    }
    // Mail out: the SMTP server holds every mail of the backlog the worker reports sent, and P1
    // ran on a server with mail on.
    match &smtp {
        Some(smtp) => {
            let sent = measured("P16", "by the mail worker");
            let backlog = sent["samples"].as_u64().unwrap();
            assert!(backlog >= 20 && sent["per_second"].as_f64().is_some(), "{sent}");
            assert!(measured("P16", "with mail on")["value"].as_str().unwrap().starts_with("ratio "), "{stdout}");
            let stored = smtp.raw_messages().len() as u64;
            assert!(stored >= backlog, "{stored} mails at the SMTP server, {backlog} sent: {stdout}");
        }
        None => assert!(measured("P16", "by the mail worker")["what"].as_str().unwrap().contains("not measured (no --smtp)"), "{stdout}"),
    }
}

/// Runs `steward bench --quick` on the test's database; returns its JSON report and what it printed.
async fn bench_on(app: &TestApp, args: &[&str]) -> (Value, String) {
    bench_with(app, args, &[]).await
}

/// As [`bench_on`], with `env` added to the tool's environment.
async fn bench_with(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let mut all: Vec<String> = ["bench", "--quick", "--json", json.to_str().unwrap()].map(String::from).to_vec();
    all.extend(args.iter().map(|a| a.to_string()));
    let url = app.database_url.clone();
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    // Files that arrive with the mail rows' messages go to the test's directory, not the tree.
    let attachments = dir.path().join("attachments");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_steward"))
            .args(all)
            .env_remove("STEWARD_CONFIG")
            .env("STEWARD_LOG_LEVEL", "error")
            .env("STEWARD_DATABASE_URL", url)
            .env("STEWARD_ATTACHMENTS_DIR", attachments)
            .envs(env)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("steward runs")
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap(), String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn ticket_rows(app: &TestApp) -> i64 {
    let mut conn = app.database_connection().await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets").fetch_one(&mut conn).await.unwrap();
    let _ = sqlx::Connection::close(conn).await;
    n
}

async fn the_bench_reuses_an_earlier_seed_and_seeds_only_what_is_missing(app: TestApp) {
    let (first, _) = bench_on(&app, &["--rows", "P2", "--tickets", "120"]).await;
    assert_eq!((first["tickets"].as_u64(), first["reused_tickets"].as_u64()), (Some(120), Some(0)));
    assert_eq!(ticket_rows(&app).await, 120);

    // Asked for more: only the missing ones are seeded, continuing the same sequence.
    let (more, _) = bench_on(&app, &["--rows", "P2", "--tickets", "150", "--reuse"]).await;
    assert_eq!((more["tickets"].as_u64(), more["reused_tickets"].as_u64()), (Some(150), Some(120)));
    let seed_row = more["rows"].as_array().unwrap().iter().find(|r| r["id"] == "seed").unwrap();
    assert!(seed_row["what"].as_str().unwrap().contains("seed 30 ticket histories"), "{seed_row}");
    assert_eq!(ticket_rows(&app).await, 150);

    // Asked for no more than there are: nothing seeded, the rows measured at the size there is.
    let (again, _) = bench_on(&app, &["--rows", "P2", "--tickets", "100", "--reuse"]).await;
    assert_eq!((again["tickets"].as_u64(), again["reused_tickets"].as_u64()), (Some(150), Some(150)));
    assert!(again["rows"].as_array().unwrap().iter().any(|r| r["id"] == "P2" && r["p50_ms"].as_f64().is_some()), "{again}");
    assert_eq!(ticket_rows(&app).await, 150);
}

/// Runs the steward binary with `args` on a SQLite file `file` in `dir` (no config file).
fn steward_on_a_file(dir: &tempfile::TempDir, file: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(args)
        .env_remove("STEWARD_CONFIG")
        .env("STEWARD_LOG_LEVEL", "warn")
        .env("STEWARD_DATABASE_URL", format!("sqlite://{}/{file}", dir.path().display()))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("steward runs")
}

#[test]
fn the_bench_names_an_unknown_row_before_it_seeds_anything() {
    let dir = tempfile::tempdir().unwrap();
    let out = steward_on_a_file(&dir, "bench.db", &["bench", "--quick", "--rows", "P9,P99"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("--rows: no row `P99`") && stderr.contains("P13"), "{stderr}");
    assert!(!dir.path().join("bench.db").exists(), "nothing was created");
}

#[test]
fn the_seed_command_fills_a_database_and_reports_progress() {
    let dir = tempfile::tempdir().unwrap();
    let out = steward_on_a_file(&dir, "seed.db", &["seed", "--tickets", "12", "--events-per-ticket", "2", "--seed", "3"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("seeded 12 tickets"), "{stdout}");
    assert!(stderr.contains("seed: 12/12 tickets"), "{stderr}");
}
