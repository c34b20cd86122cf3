//! A new user's first commands: the rough edges of issue #12 (names, token roles, paths).

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
