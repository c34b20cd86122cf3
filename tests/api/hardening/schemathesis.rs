//! The OpenAPI document is the whole truth: schemathesis (pinned in `tests/run`, installed into
//! `target/test-tools/schemathesis-venv`) runs every check against a live server's
//! `/openapi.json`, all four phases (examples, coverage, fuzzing, stateful), with an admin token,
//! and the test fails on any failure it reports: a 5xx, a status or content type the document
//! does not list, a response that breaks its schema, a request valid by the schema that is
//! refused, an invalid one that is accepted, a missing header, and so on. What it is told to
//! expect besides its defaults is in `schemathesis.toml` next to this file, each with its reason.
//!
//! One operation is left out: `POST /api/v1/webhooks/{id}/ping` connects to the webhook's URL at
//! once, and schemathesis makes up public URLs; this machine sends no traffic off-box. Its answers
//! are covered by tests/api/webhooks.rs and hardening/ssrf.rs against receivers on loopback.
//!
//! It always runs. `tests/run` installs schemathesis (and sets
//! `STEWARD_TEST_REQUIRE_SCHEMATHESIS=1`); a bare `cargo test` without it installed skips with a
//! message saying how to install it, except under CI (`CI` set) or when required, where a missing
//! schemathesis is a failure.
//!
//! Its time is bounded by what it generates, not by a clock: the coverage phase is deterministic
//! (every documented rule's edges, once) and takes most of a run; `MAX_EXAMPLES` bounds the
//! fuzzing and stateful phases per operation; two workers match the two cores. A run takes about
//! 90 s per backend on two shared cores, both backends at once.

use crate::helpers::TestApp;
use crate::on_both_backends;
use std::path::PathBuf;
use std::time::Duration;

on_both_backends!(schemathesis_finds_nothing_wrong_with_the_document_or_the_server);

/// Test cases per operation in the fuzzing phase (and steps in the stateful one): the coverage
/// phase tries every documented rule's edges whatever this is, so this only adds random bodies;
/// 12 keeps a run near 90 s per backend.
const MAX_EXAMPLES: &str = "12";

/// Parallel requests: one per core of the two the suite is sized for.
const WORKERS: &str = "2";

/// How long one run may take before the test gives up on it: a hang detector, not a speed target
/// (a run takes about 90 s; a loaded machine may take several times that).
const RUN_LIMIT: Duration = Duration::from_secs(600);

fn tools_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/test-tools"))
}

/// Whether a missing schemathesis is a failure: `tests/run` installed it, or this is CI.
fn required() -> bool {
    std::env::var_os("STEWARD_TEST_REQUIRE_SCHEMATHESIS").is_some_and(|v| v == "1") || std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

async fn schemathesis_finds_nothing_wrong_with_the_document_or_the_server(app: TestApp) {
    let binary = tools_dir().join("schemathesis-venv/bin/schemathesis");
    if !binary.exists() {
        assert!(
            !required(),
            "schemathesis is required (STEWARD_TEST_REQUIRE_SCHEMATHESIS=1 or CI) but {} is missing: run tests/run, which installs it",
            binary.display()
        );
        eprintln!("skipped: schemathesis is not installed at {}; tests/run installs it (from PyPI, needs the network)", binary.display());
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
        .args(["--generation-database", "none", "--no-color", "--workers", WORKERS])
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
