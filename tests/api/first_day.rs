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
    assert!(help.contains("admin, supervisor, agent, qa, viewer or mailgate") && help.contains("partner_id"), "{help}");
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

/// `steward serve` run as `nobody` through `setpriv` (root writes anywhere, so the test drops
/// to an unprivileged user), with `config` and the given working directory.
fn serve_as_nobody(config: &std::path::Path, dir: &std::path::Path) -> Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_steward"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("setpriv runs")
}

fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_data_directory_the_server_cannot_write_is_one_line_naming_the_path_and_the_cause() {
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: setpriv (util-linux) is not installed, so the test cannot run steward as an unprivileged user");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    chmod(root.path(), 0o755);
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let db = data.join("steward.db");
    let repo = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).canonicalize().unwrap();
    let config = root.path().join("steward.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\n[database]\nurl = \"sqlite://{}\"\n[processes]\ndir = \"{}\"\n[plugins]\ndirs = []\n",
            db.display(),
            repo.join("config/processes").display()
        ),
    )
    .unwrap();
    chmod(&config, 0o644);
    let check = |out: &Output, cause: &str| {
        assert!(!out.status.success());
        let text = stderr(out);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one line, nothing before it:\n{text}");
        assert!(lines[0].contains(&db.display().to_string()) && lines[0].contains(cause), "{text}");
    };

    // A fresh install: the database cannot be created in a directory owned by root, mode 0555.
    chmod(&data, 0o555);
    let out = serve_as_nobody(&config, root.path());
    check(&out, "permission denied");
    assert!(stderr(&out).contains(&format!("cannot write in {}", data.display())), "{}", stderr(&out));
    assert!(!db.exists());

    // An existing database, 0444 in the 0555 directory.
    chmod(&data, 0o755);
    let migrated = Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(["migrate", "--config"])
        .arg(&config)
        .current_dir(root.path())
        .env_remove("STEWARD_CONFIG")
        .env_remove("STEWARD_DATABASE_URL")
        .output()
        .unwrap();
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    assert!(db.is_file());
    chmod(&db, 0o444);
    chmod(&data, 0o555);
    let out = serve_as_nobody(&config, root.path());
    check(&out, "permission denied");
    assert!(stderr(&out).contains("for writing"), "{}", stderr(&out));
    chmod(&data, 0o755);
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn plugin_test_fits_its_samples_to_the_plugin_and_runs_every_event_kind() {
    let dir = tempfile::tempdir().unwrap();
    let out = steward_in(dir.path(), &["plugin", "new", "hotline", "--runtime", "rhai", "--dir", "."]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = steward_in(dir.path(), &["plugin", "test", "hotline"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout(&out);
    // No process of its own: the built-in general process, never field_service's stages.
    assert!(!report.contains("field_service") && !report.contains("parts"), "{report}");
    assert!(report.contains("in `general`: consultation → closed") && report.contains("resolution note"), "{report}");
    // Every kind Steward sends plugins; the template's own `created` rule runs and tags.
    for kind in steward_domain::event::EventData::KINDS.iter().filter(|k| **k != "plugin_failed") {
        assert!(report.contains(&format!("on-event: {kind} event on")), "no {kind} run:\n{report}");
    }
    let created = report.lines().skip_while(|l| !l.starts_with("on-event: created event")).nth(1).unwrap();
    assert!(created.contains("hotline"), "{report}");

    // A bundled plugin with its own process: its stages, and its on-event rule fires.
    let repo = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let out = steward_in(repo, &["plugin", "test", "plugins/ecommerce-returns"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout(&out);
    assert!(report.contains("in `ecommerce`: payment → shipping") && !report.contains("in `general`"), "{report}");
}

#[test]
fn a_wasm_template_builds_its_component_beside_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let repo = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).canonicalize().unwrap();
    let sdk = repo.join("sdk");
    let out = steward_in(dir.path(), &["plugin", "new", "x", "--kind", "wasm", "--dir", ".", "--sdk", sdk.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plugin = dir.path().join("x");
    assert!(stdout(&out).contains("steward plugin build ./x"), "{}", stdout(&out));
    let out = steward_in(dir.path(), &["plugin", "check", "x"]);
    assert!(!out.status.success() && stderr(&out).contains("not built yet: run `steward plugin build x`"), "{}", stderr(&out));
    // Built as the README says; the repository's guest target directory is shared so the SDK
    // is not compiled again (without it the build goes to x/target).
    let out = Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(["plugin", "build", "x"])
        .current_dir(dir.path())
        .env("CARGO_TARGET_DIR", repo.join("plugins/target"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let entry = steward_plugin_host::Manifest::load(&plugin).unwrap().entry.canonicalize().unwrap();
    assert_eq!(entry, plugin.canonicalize().unwrap().join("x.wasm"), "the entry is beside the manifest");
    assert!(entry.is_file() && stdout(&out).starts_with("built "), "{}", stdout(&out));
    // The plugin directory is small enough to copy: everything but target/.
    fn size(dir: &std::path::Path) -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name() != "target")
            .map(|e| if e.path().is_dir() { size(&e.path()) } else { e.metadata().unwrap().len() })
            .sum()
    }
    let bytes = size(&plugin);
    assert!(bytes < 2 << 20, "the plugin without target/ is {bytes} bytes");
    // Copied elsewhere without target/, it still checks and runs.
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    for file in ["plugin.toml", "x.wasm"] {
        std::fs::copy(plugin.join(file), copy.join(file)).unwrap();
    }
    let out = steward_in(dir.path(), &["plugin", "test", "copy"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("on-event: created event"), "{}", stdout(&out));
}

#[test]
fn a_fixture_reports_every_field_error_at_once() {
    let errors = steward_server::plugin_fixture::parse(&json!({
        "number": "X-1",
        "priority": "p9",
        "customer": { "name": 3, "vip": true },
        "created_at": 1767225600000i64,
        "colour": "red",
    }))
    .unwrap_err();
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort();
    assert_eq!(fields, ["colour", "created_at", "customer.name", "customer.vip", "number", "priority"], "{errors:?}");
    let errors = steward_server::plugin_fixture::parse(&json!({
        "ticket": { "status": "gone" },
        "event": { "kind": "stage_changed", "data": { "to": 1 } },
        "too": "x",
    }))
    .unwrap_err();
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort();
    assert_eq!(fields, ["event.data", "ticket.status", "too"], "{errors:?}");

    // The command says all of them on one line.
    let dir = tempfile::tempdir().unwrap();
    assert!(steward_in(dir.path(), &["plugin", "new", "p", "--dir", "."]).status.success());
    std::fs::write(dir.path().join("bad.json"), r#"{"priority": "p9", "created_at": 5, "status": "gone"}"#).unwrap();
    let out = steward_in(dir.path(), &["plugin", "test", "p", "--fixture", "bad.json"]);
    assert!(!out.status.success());
    let text = stderr(&out);
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    assert!(text.contains("bad.json") && text.contains("priority:") && text.contains("created_at:") && text.contains("status:"), "{text}");
    let help = stdout(&steward_in(dir.path(), &["plugin", "test", "--help"]));
    assert!(help.contains("GET /api/v1/tickets/{id}") && help.contains("kpi_input") && help.contains("at once"), "{help}");
}

crate::on_both_backends!(a_ticket_from_the_api_is_a_plugin_test_fixture);

async fn a_ticket_from_the_api_is_a_plugin_test_fixture(app: TestApp) {
    let created = app.create_ticket(json!({ "priority": "urgent", "channel": "phone", "tags": ["boiler"] })).await;
    let ticket = body(app.get(&format!("/api/v1/tickets/{}", created["id"].as_str().unwrap())).await).await;
    // Every field of the API's ticket is read, and lands on the hooks' field of that meaning.
    let fixture = steward_server::plugin_fixture::parse(&ticket).unwrap();
    let fields = fixture.ticket.clone().unwrap();
    let snapshot = serde_json::to_value(steward_plugin_host::types::samples::ticket()).unwrap();
    let mut missing: Vec<&String> = snapshot.as_object().unwrap().keys().filter(|k| !fields.contains_key(*k)).collect();
    missing.sort();
    assert_eq!(missing, ["now"], "{fields:?}");
    assert_eq!(fields["number"], ticket["number"]);
    assert_eq!(fields["customer_name"], ticket["customer"]["name"]);
    let created_at = steward_domain::time::Timestamp::parse("created_at", ticket["created_at"].as_str().unwrap()).unwrap();
    assert_eq!(fields["created_at"], created_at.as_millis());

    // The command runs the plugin on it: the ticket's number, process and stage.
    let dir = tempfile::tempdir().unwrap();
    assert!(steward_in(dir.path(), &["plugin", "new", "hotline", "--dir", "."]).status.success());
    std::fs::write(dir.path().join("case.json"), serde_json::to_string_pretty(&ticket).unwrap()).unwrap();
    let out = steward_in(dir.path(), &["plugin", "test", "hotline", "--fixture", "case.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout(&out);
    let number = ticket["number"].as_str().unwrap();
    assert!(report.contains(&format!("on-event: created event on {number} (`general` stage consultation)")), "{report}");
    assert!(report.contains(&format!("{number} in `general`: consultation → closed")), "{report}");
    // And in the wrapped form, with one event from the ticket's own timeline.
    let events = body(app.get(&format!("/api/v1/tickets/{}/events", created["id"].as_str().unwrap())).await).await;
    let first = events["items"].get(0).or_else(|| events.get(0)).cloned().unwrap();
    let wrapped = json!({ "ticket": ticket, "event": first, "to": "needs_analysis" });
    std::fs::write(dir.path().join("case.json"), wrapped.to_string()).unwrap();
    let out = steward_in(dir.path(), &["plugin", "test", "hotline", "--fixture", "case.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout(&out);
    assert_eq!(report.matches("on-event:").count(), 1, "{report}");
    assert!(report.contains("hotline"), "the created rule fired on the API's own ticket: {report}");
    assert_eq!(report.matches("guard-transition:").count(), 1, "{report}");
}
