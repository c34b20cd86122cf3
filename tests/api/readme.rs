//! The README's shell blocks, run verbatim with bash against a fresh, real server.
//!
//! Every ```sh block of README.md is run in order, as a reader would, in one bash script whose
//! line numbers are the README's own (so a failure names the README line). The set-up block's
//! `cargo run --release -- serve` is run as the "other terminal" (a separate process) and
//! `./tests/run` is skipped (it is this suite). What the test maps, and nothing else:
//! - `cargo`: a shim first on PATH runs `cargo run [--release] [-q] -- ARGS` as the steward
//!   binary this suite built (`CARGO_BIN_EXE_steward`): a release build here would take minutes.
//! - `127.0.0.1:8080`: the server listens on a free port (`STEWARD_LISTEN`); a `curl` function
//!   rewrites the README's address to it, and records each call's HTTP status by README line.
//! - The working directory is a fresh directory holding a copy of `config/` and a link to
//!   `plugins/`, so `data/` (the SQLite database) starts empty.
//!
//! Each curl call must answer 2xx unless its command (or the comment lines right after it)
//! says `→ NNN`, which is then the status it must answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const SERVE: &str = "cargo run --release -- serve";
/// Commands of the set-up block that the test does not run, with the reason.
const NOT_RUN: &[(&str, &str)] = &[("./tests/run", "the test suite itself")];

/// A ```sh block: (README line number, text) of each line.
fn shell_blocks(readme: &str) -> Vec<Vec<(usize, String)>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<(usize, String)>> = None;
    for (i, line) in readme.lines().enumerate() {
        let number = i + 1;
        match current.as_mut() {
            None if line.trim_end() == "```sh" => current = Some(Vec::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => blocks.push(current.take().expect("in a block")),
            Some(block) => block.push((number, line.to_owned())),
        }
    }
    assert!(current.is_none(), "README.md: a ```sh block is never closed");
    blocks
}

/// The lines of each command: a command continues while a quote is open or a line ends in `\`.
/// Returns (first line, last line) of every command, in README line numbers.
fn command_spans(lines: &[(usize, String)]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start: Option<usize> = None;
    let (mut single, mut double) = (false, false);
    for (number, line) in lines {
        let trimmed = line.trim_start();
        if start.is_none() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        start.get_or_insert(*number);
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if !single => {
                    chars.next();
                }
                '\'' if !double => single = !single,
                '"' if !single => double = !double,
                '#' if !single && !double => break,
                _ => {}
            }
        }
        if !single && !double && !line.trim_end().ends_with('\\') {
            spans.push((start.take().expect("started"), *number));
        }
    }
    spans
}

/// The status a command promises with `→ NNN` on its lines or the comment lines after it.
fn promised_status(readme_lines: &[&str], (first, last): (usize, usize)) -> Option<u16> {
    let mut candidates: Vec<&str> = (first..=last).map(|n| readme_lines[n - 1]).collect();
    candidates.extend(readme_lines[last..].iter().take_while(|l| l.trim_start().starts_with('#')));
    candidates.iter().find_map(|l| {
        let after = l.split('→').nth(1)?;
        let word = after.trim_start().split(|c: char| !c.is_ascii_digit()).next()?;
        word.parse().ok().filter(|s| (100..600).contains(s))
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn shims(bin: &Path) {
    std::fs::create_dir_all(bin).unwrap();
    let cargo = bin.join("cargo");
    std::fs::write(
        &cargo,
        "#!/usr/bin/env bash\n\
         # README test shim: `cargo run [--release] [-q] -- ARGS` is the steward binary the test suite built.\n\
         [ \"${1:-}\" = run ] || { echo \"cargo shim: only 'cargo run ... -- ARGS' is mapped, not: cargo $*\" >&2; exit 97; }\n\
         while [ $# -gt 0 ] && [ \"$1\" != -- ]; do shift; done\n\
         [ $# -gt 0 ] || { echo 'cargo shim: no -- before the arguments' >&2; exit 97; }\n\
         shift\n\
         exec \"$README_STEWARD_BIN\" \"$@\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Sourced on line 1 of the script: the `curl` function and the failure report.
const PRELUDE: &str = r#"set -eu
trap 'echo "README.md:$LINENO: the command ending here failed (exit status $?)" >&2' ERR
curl() {
  local args=() a out
  for a in "$@"; do args+=("${a//127.0.0.1:8080/$README_ADDR}"); done
  out=$(command curl "${args[@]}" -w '\n%{http_code}') || { echo "README.md:${BASH_LINENO[0]}: curl failed" >&2; return 1; }
  echo "${BASH_LINENO[0]} ${out##*$'\n'}" >> "$README_STATUS_LOG"
  out=${out%$'\n'*}
  [ -z "$out" ] || printf '%s\n' "$out"
}
"#;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_readme_shell_blocks_run_verbatim_against_a_fresh_server() {
    let readme = std::fs::read_to_string(README).unwrap();
    let readme_lines: Vec<&str> = readme.lines().collect();
    let blocks = shell_blocks(&readme);
    let setup = blocks
        .iter()
        .position(|b| b.iter().any(|(_, l)| l.trim_start().starts_with(SERVE)))
        .expect("README: a block that starts the server");

    let work = tempfile::tempdir().unwrap();
    let cwd = work.path().join("clone");
    std::fs::create_dir_all(&cwd).unwrap();
    copy_dir(&Path::new(REPO).join("config"), &cwd.join("config"));
    std::os::unix::fs::symlink(Path::new(REPO).join("plugins").canonicalize().unwrap(), cwd.join("plugins")).unwrap();
    let bin = work.path().join("bin");
    shims(&bin);
    let port = free_port();
    let status_log = work.path().join("statuses");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let bash = |script: &str| {
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(script)
            .current_dir(&cwd)
            .env("PATH", &path)
            .env("README_STEWARD_BIN", env!("CARGO_BIN_EXE_steward"))
            .env("README_ADDR", format!("127.0.0.1:{port}"))
            .env("README_STATUS_LOG", &status_log)
            .env("STEWARD_LISTEN", format!("127.0.0.1:{port}"))
            .env_remove("STEWARD_CONFIG")
            .env_remove("STEWARD_DATABASE_URL")
            .env_remove("STEWARD_PLUGIN_DIRS");
        cmd
    };

    // The set-up block, but for the server (the other terminal) and the commands not run.
    let mut script = vec![String::new(); readme_lines.len() + 1];
    script[0] = format!("source {}", work.path().join("prelude.sh").display());
    std::fs::write(work.path().join("prelude.sh"), PRELUDE).unwrap();
    for (i, block) in blocks.iter().enumerate() {
        for (number, line) in block {
            let command = line.trim_start();
            let skipped = i == setup && (command.starts_with(SERVE) || NOT_RUN.iter().any(|(c, _)| command.starts_with(c)));
            if !skipped {
                script[number - 1] = line.clone();
            }
        }
    }
    let (setup_end, _) = blocks[setup].last().cloned().unwrap();
    let (before, after) = script.split_at(setup_end);
    let run = |lines: &[String], offset: usize, what: &str| {
        // Pad so that bash's line numbers are the README's.
        let text = match offset {
            0 => lines.join("\n"),
            _ => format!("{}\n{}{}", script[0], "\n".repeat(offset - 1), lines.join("\n")),
        };
        let out = bash(&text).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{what} failed; stderr:\n{stderr}\nstdout:\n{stdout}");
    };
    run(before, 0, "the README's set-up block (before the server starts)");

    let server_log = work.path().join("server.log");
    let log_file = std::fs::File::create(&server_log).unwrap();
    let server = Server(bash(SERVE).stdout(log_file.try_clone().unwrap()).stderr(log_file).stdin(Stdio::null()).spawn().unwrap());
    let server_output = || std::fs::read_to_string(&server_log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    // The port is bound before start-up is done; ready means plugins are loaded too.
    while !ready(port) {
        assert!(Instant::now() < deadline, "`{SERVE}` never became ready on {port}:\n{}", server_output());
        std::thread::sleep(Duration::from_millis(100));
    }
    let first_start = server_output();
    assert!(!first_start.contains("ERROR"), "the first `{SERVE}` logged an ERROR line:\n{first_start}");
    // With no step before it: core/cli/build.rs put the WASM components beside their manifests.
    for plugin in ["ecommerce-returns", "field-service", "first-contact-kpi", "partner-scorecard"] {
        assert!(
            first_start.lines().any(|l| l.contains("plugin loaded") && l.contains(plugin)),
            "the first `{SERVE}` did not load the bundled plugin {plugin}:\n{first_start}"
        );
    }

    run(after, setup_end, "the README's shell blocks");
    drop(server);

    // Every curl call answered what the README says it does.
    let mut spans = Vec::new();
    for block in &blocks {
        spans.extend(command_spans(block));
    }
    let statuses = std::fs::read_to_string(&status_log).unwrap();
    let mut checked = BTreeMap::new();
    for entry in statuses.lines() {
        let (line, status) = entry.split_once(' ').unwrap();
        let (line, status): (usize, u16) = (line.parse().unwrap(), status.parse().unwrap());
        let span = spans.iter().copied().find(|(a, b)| (*a..=*b).contains(&line)).unwrap_or((line, line));
        let ok = match promised_status(&readme_lines, span) {
            Some(promised) => status == promised,
            None => (200..300).contains(&status),
        };
        assert!(
            ok,
            "README.md:{}: `{}` answered {status}, but the README promises {}\nserver log:\n{}",
            span.0,
            readme_lines[span.0 - 1].trim(),
            promised_status(&readme_lines, span).map_or("a 2xx".to_owned(), |s| s.to_string()),
            server_output()
        );
        checked.insert(line, status);
    }
    assert!(checked.len() > 30, "only {} curl calls ran: {checked:?}", checked.len());
}

/// Whether the server answers `GET /readyz` with 200 (plain HTTP/1.1 on a socket).
fn ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}

fn copy_dir(from: &Path, to: &PathBuf) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        match entry.file_type().unwrap().is_dir() {
            true => copy_dir(&entry.path(), &target),
            false => {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
}

#[test]
fn command_spans_follow_quotes_and_continuations() {
    let lines: Vec<(usize, String)> =
        ["# a comment", "A=$(curl -d '{", "  \"x\": 1}' | jq .)", "curl a \\", "  b   # → 404", "", "echo 'it''s'"]
            .iter()
            .enumerate()
            .map(|(i, l)| (i + 1, l.to_string()))
            .collect();
    assert_eq!(command_spans(&lines), vec![(2, 3), (4, 5), (7, 7)]);
    let text: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(promised_status(&text, (4, 5)), Some(404));
    assert_eq!(promised_status(&text, (2, 3)), None);
}
