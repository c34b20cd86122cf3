//! `steward seed`: the generator writes through the services, so the API sees ordinary data.

use crate::helpers::{body, TestApp};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::BTreeMap;
use steward::seed::{seed, SeedOptions};

on_both_backends!(seeding_fills_the_database_with_varied_data_and_repeats_with_the_same_seed);

fn options() -> SeedOptions {
    SeedOptions { tickets: 30, events_per_ticket: 3, seed: 7, concurrency: 8, progress_every: 10 }
}

async fn tickets(app: &TestApp) -> Vec<Value> {
    let r = app.get("/api/v1/tickets?limit=200").await;
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await["items"].as_array().unwrap().clone()
}

fn count_by(tickets: &[Value], field: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for t in tickets {
        *counts.entry(t[field].as_str().unwrap().to_owned()).or_default() += 1;
    }
    counts
}

async fn seeding_fills_the_database_with_varied_data_and_repeats_with_the_same_seed(app: TestApp) {
    let report = seed(&app.services, options()).await.expect("seeded");
    assert_eq!(report.tickets, 30);
    assert!(report.transitions > 0 && report.comments > 0 && report.reviews > 0 && report.surveys_answered > 0, "{report:?}");

    let all = tickets(&app).await;
    assert_eq!(all.len(), 30);
    let statuses = count_by(&all, "status");
    let stages = count_by(&all, "stage");
    assert!(statuses.len() >= 3, "{statuses:?}");
    assert!(stages.len() >= 4, "{stages:?}");
    assert!(statuses.contains_key("waiting_customer") || statuses.contains_key("waiting_partner"), "{statuses:?}");
    assert!(all.iter().any(|t| !t["resolved_at"].is_null()), "some tickets are resolved");

    let mut kinds = BTreeMap::<String, usize>::new();
    for t in &all {
        let id = t["id"].as_str().unwrap();
        let events = body(app.get(&format!("/api/v1/tickets/{id}/events?limit=200")).await).await;
        for e in events["items"].as_array().unwrap() {
            *kinds.entry(e["kind"].as_str().unwrap().to_owned()).or_default() += 1;
        }
    }
    for kind in ["created", "stage_changed", "comment_added", "reviewed", "survey_issued", "csat_received"] {
        assert!(kinds.contains_key(kind), "no `{kind}` event: {kinds:?}");
    }

    // The same seed in a fresh database gives the same distribution.
    let again = TestApp::spawn(app.backend).await.expect("the backend that ran the first half");
    let second = seed(&again.services, options()).await.expect("seeded again");
    assert_eq!(second, report);
    let all_again = tickets(&again).await;
    assert_eq!(count_by(&all_again, "status"), statuses);
    assert_eq!(count_by(&all_again, "stage"), stages);

    // Seeding the same database again adds tickets and reuses the seeded staff.
    let more = seed(&again.services, SeedOptions { tickets: 5, ..options() }).await.expect("seeded on top");
    assert_eq!((more.staff, more.tickets), (0, 5));
    assert_eq!(tickets(&again).await.len(), 35);
}

#[test]
fn the_seed_command_fills_a_database_and_reports_progress() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/seed.db", dir.path().display());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(["seed", "--tickets", "12", "--events-per-ticket", "2", "--seed", "3"])
        .env_remove("STEWARD_CONFIG")
        .env("STEWARD_LOG_LEVEL", "warn")
        .env("STEWARD_DATABASE_URL", &url)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("steward runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("seeded 12 tickets"), "{stdout}");
    assert!(stderr.contains("seed: 12/12 tickets"), "{stderr}");
}

#[test]
fn the_quick_bench_prints_a_table_and_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/bench.db", dir.path().display());
    let json = dir.path().join("bench.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(["bench", "--quick", "--json", json.to_str().unwrap()])
        .env_remove("STEWARD_CONFIG")
        .env("STEWARD_LOG_LEVEL", "warn")
        .env("STEWARD_DATABASE_URL", &url)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("steward runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("| P2 |") && stdout.contains("| seed |") && stdout.contains("Backend: sqlite"), "{stdout}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["tickets"], 40);
    assert_eq!(report["rows"][1]["id"], "P2");
}
