//! A new user's first commands: the rough edges of issue #12 (names, token roles, paths).

use crate::helpers::{body, problem, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::process::{Command, Output};

fn steward_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(args)
        .current_dir(dir)
        .env_remove("STEWARD_CONFIG")
        .env("STEWARD_LOG_LEVEL", "warn")
        .env("STEWARD_DATABASE_URL", format!("sqlite://{}/x.db", dir.display()))
        .output()
        .expect("steward runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn token_create_refuses_the_partner_role_pointing_at_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let out = steward_in(dir.path(), &["token", "create", "--name", "p", "--role", "partner"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("partner_id") && stderr(&out).contains("/api/v1/tokens"), "{}", stderr(&out));
    let help = steward_in(dir.path(), &["token", "create", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("admin, supervisor, agent, qa or viewer") && help.contains("partner_id"), "{help}");
}

#[test]
fn plugin_new_follows_the_manifest_naming_rule() {
    let dir = tempfile::tempdir().unwrap();
    let out = steward_in(dir.path(), &["plugin", "new", "closing_rules", "--runtime", "rhai", "--dir", "."]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = steward_in(dir.path(), &["plugin", "check", "closing_rules"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = steward_in(dir.path(), &["plugin", "new", "Closing", "--dir", "."]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("lower-case letters, digits, `-` and `_`"), "{}", stderr(&out));
}

#[test]
fn plugin_paths_come_from_the_working_directory_not_the_build() {
    let dir = tempfile::tempdir().unwrap();
    // No sdk/ here and none beside the binary: the WASM template says where it looked.
    let out = steward_in(dir.path(), &["plugin", "new", "w", "--runtime", "wasm", "--dir", "."]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(&dir.path().join("sdk").display().to_string()) && stderr(&out).contains("--sdk"), "{}", stderr(&out));
    // From the repository root it finds sdk/.
    let repo = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let out = steward_in(repo, &["plugin", "new", "w", "--runtime", "wasm", "--dir", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cargo_toml = std::fs::read_to_string(dir.path().join("w/Cargo.toml")).unwrap();
    assert!(cargo_toml.contains(&repo.canonicalize().unwrap().join("sdk").display().to_string()), "{cargo_toml}");
    // build-bundled builds plugins/ of the working directory.
    let out = steward_in(dir.path(), &["plugin", "build-bundled"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&dir.path().join("plugins").display().to_string()) && stderr(&out).contains("Cargo.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_port_in_use_is_one_line_with_the_address_before_the_database_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let db = dir.path().join("data").join("fresh.db");
    let out = Command::new(env!("CARGO_BIN_EXE_steward"))
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("STEWARD_CONFIG")
        .env("STEWARD_LOG_LEVEL", "warn")
        .env("STEWARD_LISTEN", &addr)
        .env("STEWARD_DATABASE_URL", format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = stderr(&out);
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{text}");
    assert!(errors[0].contains(&format!("cannot listen on {addr}")), "{text}");
    // The cause once, not "X: X".
    let cause = errors[0].rsplit(": ").next().unwrap();
    assert_eq!(errors[0].matches(cause).count(), 1, "{text}");
    assert!(!db.exists(), "the database was created before the port was bound");
}

// Both backends, written out: the test configures the plugin directories before start-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_copied_in_loads_through_the_api_and_a_broken_reload_keeps_it_running_sqlite() {
    plugin_copied_in_then_broken(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_copied_in_loads_through_the_api_and_a_broken_reload_keeps_it_running_postgres() {
    plugin_copied_in_then_broken(Backend::Postgres).await;
}

async fn plugin_copied_in_then_broken(backend: Backend) {
    let operator = tempfile::tempdir().unwrap();
    let dirs = vec![operator.path().to_owned()];
    let Some(app) = TestApp::spawn_with(backend, move |c| c.plugins.dirs = dirs).await else {
        return crate::helpers::postgres_absent();
    };
    let dir = operator.path().join("closing-rules");
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = "name = \"closing-rules\"\nversion = \"1.0.0\"\ncontract = \"steward:plugin@1\"\nruntime = \"rhai\"\nentry = \"main.rhai\"\nhooks = [\"guard-transition\"]\n";
    std::fs::write(dir.join("plugin.toml"), manifest).unwrap();
    std::fs::write(dir.join("main.rhai"), "fn guard_transition(t, f, to) { if to == \"closed\" { \"not yet\" } }").unwrap();

    // Copied in after start-up: reload loads it, no restart.
    let r = app.request(Method::POST, "/api/v1/plugins/closing-rules/reload").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["state"], "enabled");
    let t = app.create_ticket(json!({})).await;
    let number = t["number"].as_str().unwrap();
    problem(app.transition(number, "closed").await, StatusCode::CONFLICT).await;

    // A broken version: 422 plugin-error naming the file, and the old version keeps guarding.
    std::fs::write(dir.join("plugin.toml"), manifest.replace("1.0.0", "two")).unwrap();
    let r = app.request(Method::POST, "/api/v1/plugins/closing-rules/reload").send().await.unwrap();
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["type"], "/problems/plugin-error");
    assert!(p["detail"].as_str().unwrap().contains("plugin.toml"), "{p}");
    let listed = body(app.get("/api/v1/plugins").await).await;
    assert_eq!((listed[0]["state"].as_str(), listed[0]["version"].as_str()), (Some("enabled"), Some("1.0.0")), "{listed}");
    let p = problem(app.transition(number, "closed").await, StatusCode::CONFLICT).await;
    assert_eq!(p["type"], "/problems/transition-vetoed");
}

#[test]
fn an_unreachable_postgresql_is_connection_refused_at_host_and_port() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1: nothing listens there, so the connection is refused at once.
    let out = Command::new(env!("CARGO_BIN_EXE_steward"))
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("STEWARD_CONFIG")
        .env("STEWARD_LOG_LEVEL", "warn")
        .env("STEWARD_LISTEN", "127.0.0.1:0")
        .env("STEWARD_DATABASE_URL", "postgres://steward:secret@127.0.0.1:1/steward")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = stderr(&out);
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{text}");
    assert!(errors[0].contains("cannot connect to PostgreSQL at 127.0.0.1:1: connection refused"), "{text}");
    assert!(!text.contains("secret") && !text.contains("became free"), "{text}");
}
