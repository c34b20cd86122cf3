//! The OpenAPI document is the whole truth: schemathesis (pinned in `tests/run`, installed into
//! `target/test-tools/schemathesis-venv`) runs every check against a live server's
//! `/openapi.json`, all four phases (examples, coverage, fuzzing, stateful), with an admin token,
//! and the test fails on any failure it reports: a 5xx, a status or content type the document
//! does not list, a response that breaks its schema, a request valid by the schema that is
//! refused, an invalid one that is accepted, a missing header, and so on.
//!
//! One operation is left out: `POST /api/v1/webhooks/{id}/ping` connects to the webhook's URL at
//! once, and schemathesis makes up public URLs; this machine sends no traffic off-box. Its answers
//! are covered by tests/api/webhooks.rs and hardening/ssrf.rs against receivers on loopback.
//!
//! It runs only when asked (`STEWARD_TEST_SCHEMATHESIS=1`, which makes `tests/run` install it),
//! since it is not yet green and takes minutes. Without schemathesis the test is skipped,
//! unless `STEWARD_TEST_REQUIRE_SCHEMATHESIS=1` (`tests/run` sets it after installing it), when
//! it fails.

use crate::helpers::TestApp;
use crate::on_both_backends;
use std::path::PathBuf;
use std::time::Duration;

on_both_backends!(schemathesis_finds_nothing_wrong_with_the_document_or_the_server);

/// Test cases per operation and phase: enough to try every documented rule's edges (the
/// coverage phase does that whatever this is), small enough that both backends together stay
/// within a few minutes on two cores.
const MAX_EXAMPLES: &str = "12";

/// How long one run may take before the test gives up on it (a run takes about four minutes on
/// two shared cores, most of it the coverage phase).
const RUN_LIMIT: Duration = Duration::from_secs(600);

fn tools_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/test-tools"))
}

fn required() -> bool {
    std::env::var_os("STEWARD_TEST_REQUIRE_SCHEMATHESIS").is_some_and(|v| v == "1")
}

async fn schemathesis_finds_nothing_wrong_with_the_document_or_the_server(app: TestApp) {
    if std::env::var_os("STEWARD_TEST_SCHEMATHESIS").is_none_or(|v| v != "1") {
        eprintln!("skipped: set STEWARD_TEST_SCHEMATHESIS=1 to run schemathesis against the server");
        return;
    }
    let binary = tools_dir().join("schemathesis-venv/bin/schemathesis");
    if !binary.exists() {
        assert!(!required(), "schemathesis is required (STEWARD_TEST_REQUIRE_SCHEMATHESIS=1) but {} is missing", binary.display());
        eprintln!("skipped: schemathesis is not installed (tests/run installs it into {})", binary.display());
        return;
    }
    let backend = format!("{:?}", app.backend).to_lowercase();
    let work = tools_dir().join(format!("schemathesis-run/{backend}"));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work directory");
    let seed = std::env::var("STEWARD_SCHEMATHESIS_SEED").unwrap_or_else(|_| "1".to_owned());
    let log = std::fs::File::create(work.join("output.txt")).expect("output file");
    let mut child = std::process::Command::new(&binary)
        .current_dir(&work)
        // Everything it writes stays under target/.
        .env("HOME", &work)
        .env("XDG_CACHE_HOME", work.join("cache"))
        .env("NO_COLOR", "1")
        .args(["--config-file", concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/api/hardening/schemathesis.toml")])
        .args(["run", &app.url("/openapi.json")])
        .args(["--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", &seed])
        .args(["--generation-database", "none", "--no-color", "--workers", "2"])
        .args(["--header", &format!("Authorization: Bearer {}", app.token)])
        .args(["--exclude-path-regex", r"^/api/v1/webhooks/\{id\}/ping$"])
        .args(["--report", "junit", "--report-dir", "report"])
        // A network timeout only: on two shared cores a request can wait behind a plugin reload.
        .args(["--request-timeout", "60"])
        // `max_response_time` (one of "all") only as a hang detector: speed targets are
        // `steward bench`'s, not a test's on two shared cores.
        .args(["--max-response-time", "60"])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("output file"))
        .stderr(log)
        .spawn()
        .expect("schemathesis starts");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("schemathesis runs") {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("schemathesis did not finish within {RUN_LIMIT:?}; its output so far is in {}", work.join("output.txt").display());
        }
        // Waiting for a child process to end, not for time to pass: nothing is asserted on it.
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let stdout = std::fs::read_to_string(work.join("output.txt")).unwrap_or_default();
    assert!(
        status.success(),
        "schemathesis found problems on {backend} (exit {:?}; output kept in {}):\n{stdout}",
        status.code(),
        work.join("output.txt").display()
    );
    // A run that tested nothing would pass too: it must have sent requests to the operations.
    assert!(stdout.contains("API Operations:") && !stdout.contains("No operations"), "schemathesis tested nothing:\n{stdout}");
}
