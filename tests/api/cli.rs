//! The `steward` binary itself: commands, exit codes, start-up errors, signals.

use crate::helpers::{body, test_config};
use reqwest::StatusCode;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use steward_server::Application;

fn steward(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_steward"));
    cmd.args(args).env_remove("STEWARD_CONFIG").env("STEWARD_LOG_LEVEL", "warn");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.output().expect("steward runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_describes_every_command() {
    let out = steward(&["--help"], &[]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for command in ["serve", "migrate", "token"] {
        assert!(help.contains(command), "{help}");
    }
    let out = steward(&["token", "create", "--help"], &[]);
    let help = text(&out.stdout);
    assert!(help.contains("--name") && help.contains("--role") && help.contains("last line"), "{help}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_prints_a_working_secret_on_the_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/cli.db", dir.path().display());
    let out = steward(&["migrate"], &[("STEWARD_DATABASE_URL", &url)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let again = steward(&["migrate"], &[("STEWARD_DATABASE_URL", &url)]);
    assert!(again.status.success(), "migrating twice is harmless");
    let out = steward(&["token", "create", "--name", "bootstrap", "--role", "admin"], &[("STEWARD_DATABASE_URL", &url)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let secret = stdout.lines().last().unwrap().trim().to_owned();
    assert!(secret.starts_with("stw_") && !secret.contains(' '), "{stdout}");

    let app = Application::build(test_config(&url)).await.unwrap();
    let addr = app.local_addr();
    let server = tokio::spawn(app.run_until(std::future::pending()));
    let r = reqwest::Client::new().get(format!("http://{addr}/api/v1/tokens")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await[0]["name"], "bootstrap");
    server.abort();

    let out = steward(&["token", "create", "--name", "x", "--role", "root"], &[("STEWARD_DATABASE_URL", &url)]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--role"), "{}", text(&out.stderr));
}

#[test]
fn a_malformed_process_file_stops_start_up_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let general = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/processes/general.toml")).unwrap();
    let broken = general.replacen("office = \"back\"", "office = \"basement\"", 1);
    let line = broken.lines().position(|l| l.contains("basement")).unwrap() + 1;
    std::fs::write(dir.path().join("general.toml"), broken).unwrap();
    let url = format!("sqlite://{}/x.db", dir.path().display());
    let out = steward(
        &["serve"],
        &[("STEWARD_DATABASE_URL", &url), ("STEWARD_PROCESSES_DIR", dir.path().to_str().unwrap()), ("STEWARD_LISTEN", "127.0.0.1:0")],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("general.toml:{line}")), "{stderr}");
    assert!(stderr.contains("stages[2].office") && stderr.contains("basement"), "{stderr}");
}

#[test]
fn bad_configuration_is_reported_before_anything_starts() {
    let out = steward(&["migrate"], &[("STEWARD_LOG_FORMAT", "xml")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("STEWARD_LOG_FORMAT"), "{}", text(&out.stderr));
    let out = steward(&["migrate", "--config", "/nonexistent/steward.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/steward.toml"));
    let out = steward(&["migrate"], &[("STEWARD_DATABASE_URL", "mysql://root@localhost/x")]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("unsupported database URL"), "{}", text(&out.stderr));
}

#[test]
fn serve_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/sig.db", dir.path().display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_steward"))
        .arg("serve")
        .env("STEWARD_DATABASE_URL", &url)
        .env("STEWARD_LISTEN", &listen)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The port is bound before start-up (migrations, plugins) is done: wait until it is ready.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !ready(&listen) {
        assert!(std::time::Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether the server at `addr` answers `GET /readyz` with 200 (plain HTTP/1.1 on a socket).
fn ready(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}
