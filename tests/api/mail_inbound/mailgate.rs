//! `steward mailgate` as an MTA runs it: a real process, the message on stdin, the exit code
//! read back.

use crate::helpers::TestApp;
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs the mailgate with `message` on stdin; returns its exit code and stderr.
async fn mailgate(url: String, token: Option<String>, message: Vec<u8>) -> (i32, String) {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, token.unwrap_or_default()).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_steward"))
            .args(["mailgate", "--url", &url, "--token-file", token_file.to_str().unwrap(), "--timeout-secs", "20"])
            .env_remove("STEWARD_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("steward runs");
        child.stdin.take().unwrap().write_all(&message).unwrap();
        let out = child.wait_with_output().unwrap();
        (out.status.code().expect("exited"), format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout)))
    })
    .await
    .unwrap()
}

fn mail(id: &str, body: &str) -> Vec<u8> {
    format!("From: ann@customer.example\r\nSubject: via the MTA\r\nMessage-ID: <{id}>\r\n\r\n{body}\r\n").into_bytes()
}

async fn mailgate_exit_codes_tell_the_mta_what_to_do(app: TestApp) {
    let token = app.token_with_role("mailgate").await;
    let base = app.url("");
    // Taken: 0, and the ticket exists.
    let (code, said) = mailgate(base.clone(), Some(token.clone()), mail("gate-1@customer.example", "Hello")).await;
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("imported"), "{said}");
    let tickets = crate::helpers::body(app.get("/api/v1/tickets").await).await;
    assert_eq!(tickets["items"][0]["channel"], "email");
    // Ignored is taken too: 0.
    let auto = "From: bot@x.example\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <gate-2@x.example>\r\n\r\naway\r\n".as_bytes().to_vec();
    assert_eq!(mailgate(base.clone(), Some(token.clone()), auto).await.0, 0);
    // Over the cap (4 KiB here): refused for good, 65 (EX_DATAERR), the MTA bounces it.
    let (code, said) = mailgate(base.clone(), Some(token.clone()), mail("gate-3@customer.example", &"x".repeat(8 * 1024))).await;
    assert_eq!(code, 65, "{said}");
    assert!(said.contains("413"), "{said}");
    // A wrong token: 77 (EX_NOPERM), the MTA keeps the message.
    assert_eq!(mailgate(base.clone(), Some("stw_wrong".into()), mail("gate-4@customer.example", "x")).await.0, 77);
    // A missing token file's content: 64 (EX_USAGE).
    assert_eq!(mailgate(base.clone(), None, mail("gate-5@customer.example", "x")).await.0, 64);
    // Nobody listening: 75 (EX_TEMPFAIL), the MTA retries later.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (code, said) = mailgate(dead, Some(token.clone()), mail("gate-6@customer.example", "x")).await;
    assert_eq!(code, 75, "{said}");
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mailgate_exit_codes_tell_the_mta_what_to_do() {
        let app = super::spawn(crate::helpers::Backend::Sqlite).await.expect("sqlite is always available");
        super::mailgate_exit_codes_tell_the_mta_what_to_do(app).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mailgate_exit_codes_tell_the_mta_what_to_do() {
        let Some(app) = super::spawn(crate::helpers::Backend::Postgres).await else {
            return crate::helpers::postgres_absent();
        };
        super::mailgate_exit_codes_tell_the_mta_what_to_do(app).await;
    }
}

async fn spawn(backend: crate::helpers::Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |c| c.mail.inbound.max_message_bytes = 4096).await
}
