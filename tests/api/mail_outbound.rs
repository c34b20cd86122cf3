//! Outbound mail against a real SMTP server: aiosmtpd (from PyPI, in a venv under
//! target/test-tools that tests/run installs) started by each test on a free port, storing
//! every message it accepts in a maildir, which the test reads back with a MIME parser.
//!
//! aiosmtpd rather than a system MTA: it runs unprivileged on any port with no system
//! configuration, stores exactly what it was handed (no rewriting, no queue of its own), and
//! starts in a fraction of a second, so each test has its own server and can stop and restart
//! it to play an outage.

use crate::helpers::{body, clock_passes, problem, problem_fields, Backend, ConsoleSession, TestApp};
use crate::ticket_page::post_form;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use steward_domain::mail::{MailAttempt, MailState};
use steward_domain::time::Timestamp;
use steward_server::Config;
use steward_services::config::SmtpTls;
use steward_services::mail::MailWorker;

/// Runs each listed test (taking the backend) on SQLite and on PostgreSQL, like
/// `on_both_backends!`; these tests build their app themselves with a mail configuration.
macro_rules! on_both_backends_with_mail {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if std::env::var("STEWARD_TEST_POSTGRES_URL").is_err() {
                        return crate::helpers::postgres_absent();
                    }
                    super::$name(crate::helpers::Backend::Postgres).await;
                }
            )+
        }
    };
}

on_both_backends_with_mail!(
    received_reply_and_resolution_reach_the_customer_in_one_thread,
    mail_in_and_mail_out_are_one_thread_on_one_ticket,
    a_chinese_customer_gets_the_chinese_template,
    an_outage_is_waited_out_with_backoff_and_the_mail_sent_when_the_server_is_back,
    a_mail_given_up_keeps_its_error_and_an_admin_can_retry_it,
    two_nodes_never_send_one_mail_twice,
    a_pass_carries_its_mails_over_as_many_connections_as_it_sends_at_once,
    attempts_are_recorded_together_and_a_lapsed_claim_records_nothing_for_its_row,
    a_kind_switched_off_for_a_process_sends_nothing,
    assignment_reaches_the_staff_members_address,
    an_unanswered_survey_is_reminded_once,
    a_public_reply_in_the_console_is_mailed_and_an_internal_one_is_not,
    sla_alerts_mail_the_assignee_and_escalations_the_responsible_role,
    an_expiring_certification_is_mailed_to_its_holder_once,
);

/// The Python with aiosmtpd: `STEWARD_TEST_AIOSMTPD_PYTHON`, else the venv tests/run makes.
fn aiosmtpd_python() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("STEWARD_TEST_AIOSMTPD_PYTHON") {
        return Some(PathBuf::from(python));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools/aiosmtpd-venv/bin/python");
    venv.exists().then_some(venv)
}

/// Whether a missing SMTP server fails the test (CI, or `STEWARD_TEST_REQUIRE_SMTP=1`).
fn smtp_required() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    set("STEWARD_TEST_REQUIRE_SMTP") || set("CI")
}

/// A real SMTP server on 127.0.0.1 storing what it accepts in a maildir (also the one
/// `steward bench --quick` sends to, tests/api/seed.rs).
pub(crate) struct SmtpServer {
    python: PathBuf,
    pub(crate) port: u16,
    maildir: tempfile::TempDir,
    child: Option<Child>,
    /// The arguments of a server that requires TLS and AUTH (`security`); plain when empty.
    secured: Vec<std::ffi::OsString>,
}

impl SmtpServer {
    /// A server on a free port, not yet started (so a test can begin with it down). None when
    /// aiosmtpd is missing and not required (the test is then skipped, saying so).
    pub(crate) fn prepare() -> Option<SmtpServer> {
        let Some(python) = aiosmtpd_python() else {
            assert!(
                !smtp_required(),
                "an SMTP server is required (CI or STEWARD_TEST_REQUIRE_SMTP) but aiosmtpd is not installed: run tests/run"
            );
            eprintln!("skipped: aiosmtpd is not installed (tests/run installs it into target/test-tools)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().unwrap().port();
        Some(SmtpServer { python, port, maildir: tempfile::tempdir().expect("maildir"), child: None, secured: Vec::new() })
    }

    /// A server started as `tests/fixtures/smtp/secure_smtp_server.py` with `args` (and its
    /// address and maildir), not yet started; None as for [`SmtpServer::prepare`].
    fn prepare_secured(args: &[&std::ffi::OsStr]) -> Option<SmtpServer> {
        let mut server = SmtpServer::prepare()?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/smtp/secure_smtp_server.py");
        server.secured = vec![script.into_os_string(), "--listen".into(), format!("127.0.0.1:{}", server.port).into(), "--maildir".into()];
        server.secured.push(server.maildir.path().join("mail").into_os_string());
        server.secured.extend(args.iter().map(|a| a.to_os_string()));
        Some(server)
    }

    pub(crate) async fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut command = Command::new(&self.python);
        if self.secured.is_empty() {
            command
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{}", self.port), "-c", "aiosmtpd.handlers.Mailbox"])
                .arg(self.maildir.path().join("mail"));
        } else {
            command.args(&self.secured);
        }
        let child = command.stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().expect("aiosmtpd starts");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "aiosmtpd did not listen on port {} within 10 s", self.port);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every message stored so far, raw, in the order received.
    pub(crate) fn raw_messages(&self) -> Vec<Vec<u8>> {
        let dir = self.maildir.path().join("mail/new");
        let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
        let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        // Maildir names carry the server's delivery counter (`…Q7.host`): the order received.
        let counter = |f: &PathBuf| -> u64 {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.split_once('Q').and_then(|(_, rest)| rest.split('.').next()).and_then(|q| q.parse().ok()).unwrap_or(u64::MAX)
        };
        files.sort_by_key(|f| (counter(f), f.clone()));
        files.iter().map(|f| std::fs::read(f).expect("stored message")).collect()
    }

    fn messages(&self) -> Vec<Received> {
        self.raw_messages().iter().map(|raw| Received::parse(raw)).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the SMTP server got, decoded by a MIME parser.
#[derive(Debug)]
struct Received {
    raw: String,
    to: String,
    from: String,
    subject: String,
    message_id: String,
    in_reply_to: Vec<String>,
    references: Vec<String>,
    auto_submitted: Option<String>,
    text: String,
    html: String,
}

fn ids(value: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match value.as_text_list() {
        Some(list) => list.iter().map(|s| s.to_string()).collect(),
        None => value.as_text().map(|s| vec![s.to_owned()]).unwrap_or_default(),
    }
}

impl Received {
    fn parse(raw: &[u8]) -> Received {
        let message = mail_parser::MessageParser::default().parse(raw).expect("a message the parser reads");
        let address = |a: Option<&mail_parser::Address<'_>>| {
            a.and_then(|a| a.first()).and_then(|a| a.address()).map(str::to_owned).unwrap_or_default()
        };
        Received {
            raw: String::from_utf8_lossy(raw).into_owned(),
            to: address(message.to()),
            from: address(message.from()),
            subject: message.subject().unwrap_or_default().to_owned(),
            message_id: message.message_id().unwrap_or_default().to_owned(),
            in_reply_to: ids(message.in_reply_to()),
            references: ids(message.references()),
            auto_submitted: message.header_raw("Auto-Submitted").map(|v| v.trim().to_owned()),
            text: message.body_text(0).unwrap_or_default().into_owned(),
            html: message.body_html(0).unwrap_or_default().into_owned(),
        }
    }
}

/// The test config with mail on, to `smtp` without TLS, retries quick.
fn with_mail(config: &mut Config, smtp: &SmtpServer, mail_dir: Option<&Path>) {
    config.mail.address = Some("support@example.org".into());
    config.mail.smtp.host = "127.0.0.1".into();
    config.mail.smtp.port = smtp.port;
    config.mail.smtp.tls = SmtpTls::None;
    config.mail.smtp.timeout_ms = 5_000;
    // Tests run the worker's pass themselves.
    config.mail.outbound.worker = false;
    config.mail.outbound.retry_base_ms = 300;
    config.mail.outbound.retry_max_secs = 1;
    config.mail.outbound.link_base_url = Some("https://desk.example.org".into());
    config.mail.outbound.dir = mail_dir.map_or_else(|| PathBuf::from("/nonexistent/steward-mail"), Path::to_path_buf);
}

/// An app with mail to `smtp`, and the mail worker whose pass the test runs.
struct MailApp {
    app: TestApp,
    config: Config,
    worker: Arc<MailWorker>,
}

impl MailApp {
    async fn spawn(backend: Backend, smtp: &SmtpServer, adjust: impl FnOnce(&mut Config)) -> MailApp {
        MailApp::spawn_with_env(backend, smtp, adjust, |name| std::env::var(name).ok()).await
    }

    /// As [`MailApp::spawn`], the worker reading the SMTP password's variable through `env`.
    async fn spawn_with_env(
        backend: Backend,
        smtp: &SmtpServer,
        adjust: impl FnOnce(&mut Config),
        env: impl Fn(&str) -> Option<String>,
    ) -> MailApp {
        let mut config = None;
        let app = TestApp::spawn_with(backend, |c| {
            with_mail(c, smtp, None);
            adjust(c);
            config = Some(c.clone());
        })
        .await
        .expect("the backend is available");
        let config = config.expect("adjusted");
        let worker = Arc::new(MailWorker::with_env(app.services.clone(), &config.mail, env).expect("mail worker"));
        MailApp { app, config, worker }
    }

    /// One pass of the mail worker; how many mails it claimed.
    async fn send_due(&self) -> usize {
        self.worker.send_due().await.expect("mail pass")
    }

    async fn outbox(&self, query: &str) -> Vec<Value> {
        let r = self.app.get(&format!("/api/v1/mail/outbox{query}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        body(r).await["items"].as_array().expect("items").clone()
    }

    async fn comment(&self, ticket: &str, text: &str, visibility: &str) {
        let r = self.app.post(&format!("/api/v1/tickets/{ticket}/comments"), &json!({"body": text, "visibility": visibility})).await;
        assert_eq!(r.status(), StatusCode::CREATED, "commenting");
    }

    async fn resolve(&self, ticket: &str) {
        let current = body(self.app.get(&format!("/api/v1/tickets/{ticket}")).await).await;
        let tag = format!("\"{}\"", current["version"]);
        let r = self.app.patch(&format!("/api/v1/tickets/{ticket}"), Some(&tag), &json!({"status": "resolved"})).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
}

fn email_ticket(extra: Value) -> Value {
    let mut fields = json!({"channel": "email", "title": "Printer jammed", "customer": {"name": "Ada", "contact": "ada@example.com"}});
    if let (Some(fields), Value::Object(extra)) = (fields.as_object_mut(), extra) {
        fields.extend(extra);
    }
    fields
}

async fn received_reply_and_resolution_reach_the_customer_in_one_thread(backend: Backend) {
    let Some(mut smtp) = SmtpServer::prepare() else { return };
    smtp.start().await;
    let m = MailApp::spawn(backend, &smtp, |_| {}).await;
    let t = m.app.create_ticket(email_ticket(json!({}))).await;
    let (id, number) = (t["id"].as_str().unwrap(), t["number"].as_str().unwrap());
    assert_eq!(m.send_due().await, 1);
    let received = smtp.messages();
    assert_eq!(received.len(), 1);
    let first = &received[0];
    assert_eq!(first.to, "ada@example.com");
    assert_eq!(first.from, "support@example.org");
    assert!(first.subject.starts_with(&format!("[{number}] ")), "the subject token: {}", first.subject);
    assert!(first.text.contains(number), "{}", first.text);
    assert!(first.html.contains(&format!("<strong>{number}</strong>")), "{}", first.html);
    assert_eq!(first.auto_submitted.as_deref(), Some("auto-generated"));
    assert!(first.message_id.starts_with(&format!("{id}.")) && first.message_id.ends_with("@example.org"), "{}", first.message_id);
    assert!(first.in_reply_to.is_empty());

    // A public staff reply answers in the same thread; an internal note is not mailed.
    m.comment(id, "Please try <b>turning it off</b> and on.", "public").await;
    m.comment(id, "Internal: customer is impatient", "internal").await;
    assert_eq!(m.send_due().await, 1);
    assert_eq!(m.send_due().await, 0);
    let received = smtp.messages();
    assert_eq!(received.len(), 2, "the internal note is not mailed");
    let reply = &received[1];
    assert!(reply.subject.starts_with(&format!("[{number}]")));
    assert!(reply.text.contains("Please try <b>turning it off</b> and on."), "text is plain: {}", reply.text);
    assert!(reply.html.contains("&lt;b&gt;turning it off&lt;/b&gt;"), "HTML is escaped: {}", reply.html);
    assert!(!reply.raw.contains("customer is impatient"));
    assert_eq!(reply.in_reply_to, std::slice::from_ref(&first.message_id));
    assert_eq!(reply.references, std::slice::from_ref(&first.message_id));

    // Resolution sends the survey link, the thread's third message.
    m.resolve(id).await;
    assert_eq!(m.send_due().await, 1);
    let survey_url = m.app.events(id).await.iter().find(|e| e["kind"] == "survey_issued").expect("a survey")["data"]["survey_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = survey_url.rsplit('/').next().unwrap();
    let received = smtp.messages();
    let resolved = &received[2];
    assert!(resolved.subject.contains("Resolved"), "{}", resolved.subject);
    assert!(resolved.text.contains(&format!("https://desk.example.org/survey/{token}")), "{}", resolved.text);
    assert_eq!(resolved.in_reply_to, std::slice::from_ref(&reply.message_id));
    assert_eq!(resolved.references, [first.message_id.clone(), reply.message_id.clone()]);

    // The outbox shows all three as sent, with their log; the metrics count them.
    let outbox = m.outbox("?state=sent").await;
    assert_eq!(outbox.len(), 3);
    assert_eq!(outbox.iter().map(|o| o["kind"].as_str().unwrap()).collect::<Vec<_>>(), ["resolved", "staff_reply", "ticket_received"]);
    assert!(outbox.iter().all(|o| o["to"] == "ada@example.com" && o["attempts"].as_array().unwrap().len() == 1));
    assert_eq!(outbox[0]["message_id"], format!("<{}>", resolved.message_id));
    assert!(m.outbox("?state=pending").await.is_empty());
    m.app.refresh_metrics().await;
    let scrape = m.app.scrape().await;
    assert!(scrape.contains("steward_mail_sent_total{outcome=\"sent\"} 3"), "{scrape}");
    assert!(scrape.contains("steward_mail_outbox_depth 0"), "{scrape}");

    // Only admins read the outbox; a bad state is named.
    let agent = m.app.token_with_role("agent").await;
    let r = m.app.request_as(&agent, reqwest::Method::GET, "/api/v1/mail/outbox").send().await.unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
    let p = problem(m.app.get("/api/v1/mail/outbox?state=lost").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(problem_fields(&p), ["state"]);
}

/// The email channel both ways: a customer mails in (GBK, an attachment) and gets the
/// "received" mail, whose References name their own message; a staff reply names it too; their
/// mail client's answer to our reply lands on the same ticket as their comment.
async fn mail_in_and_mail_out_are_one_thread_on_one_ticket(backend: Backend) {
    use crate::mail_inbound::{attachment_bytes, gbk_mail, message, send};
    let Some(mut smtp) = SmtpServer::prepare() else { return };
    smtp.start().await;
    let m = MailApp::spawn(backend, &smtp, |_| {}).await;
    let receipt = send(&m.app, gbk_mail("<gbk-journey@customer.example>", &attachment_bytes())).await;
    assert_eq!(receipt["state"], "imported", "{receipt}");
    let id = receipt["ticket_id"].as_str().unwrap().to_owned();
    let t = body(m.app.get(&format!("/api/v1/tickets/{id}")).await).await;
    let number = t["number"].as_str().unwrap();

    // A ticket made from mail gets the "received" mail, threaded under the customer's message.
    assert_eq!(m.send_due().await, 1);
    let received = smtp.messages();
    assert_eq!(received.len(), 1);
    let first = &received[0];
    assert_eq!(first.to, "li@customer.example");
    assert!(first.subject.starts_with(&format!("[{number}] ")), "{}", first.subject);
    assert!(first.text.contains(number), "{}", first.text);
    assert_eq!(first.in_reply_to, ["gbk-journey@customer.example"]);
    assert_eq!(first.references, ["gbk-journey@customer.example"]);

    // A public staff reply names the customer's message and our received mail, in order.
    m.comment(&id, "We are sending a technician.", "public").await;
    assert_eq!(m.send_due().await, 1);
    let received = smtp.messages();
    let reply = &received[1];
    assert_eq!(reply.in_reply_to, std::slice::from_ref(&first.message_id));
    assert_eq!(reply.references, ["gbk-journey@customer.example".to_owned(), first.message_id.clone()]);

    // The customer's client answers our reply: In-Reply-To and References as clients set them.
    let references = format!("<gbk-journey@customer.example> <{}> <{}>", first.message_id, reply.message_id);
    let in_reply_to = format!("<{}>", reply.message_id);
    let answer = message(
        &[
            ("From", "li@customer.example"),
            ("Subject", &format!("Re: {}", reply.subject)),
            ("Message-ID", "<gbk-answer@customer.example>"),
            ("In-Reply-To", &in_reply_to),
            ("References", &references),
        ],
        b"Thank you, he can come tomorrow.\r\n",
    );
    let answered = send(&m.app, answer).await;
    assert_eq!((answered["state"].as_str(), answered["ticket_id"].as_str()), (Some("imported"), Some(id.as_str())), "{answered}");
    let events = m.app.events(&id).await;
    let comment = events.iter().rev().find(|e| e["kind"] == "comment_added").expect("the customer's comment");
    assert_eq!(comment["data"]["from_customer"], true, "{comment}");
    assert_eq!(comment["data"]["body"], "Thank you, he can come tomorrow.");
    assert_eq!(crate::helpers::body(m.app.get("/api/v1/tickets?limit=50").await).await["items"].as_array().unwrap().len(), 1);

    // The next staff reply threads on the whole conversation, the customer's answer last.
    m.comment(&id, "Booked for tomorrow.", "public").await;
    assert_eq!(m.send_due().await, 1);
    let received = smtp.messages();
    let second = &received[2];
    assert_eq!(second.in_reply_to, ["gbk-answer@customer.example"]);
    assert_eq!(
        second.references,
        [
            "gbk-journey@customer.example".to_owned(),
            first.message_id.clone(),
            reply.message_id.clone(),
            "gbk-answer@customer.example".into()
        ]
    );
}

async fn a_chinese_customer_gets_the_chinese_template(backend: Backend) {
    let Some(mut smtp) = SmtpServer::prepare() else { return };
    smtp.start().await;
    let m = MailApp::spawn(backend, &smtp, |_| {}).await;
    let t = m
        .app
        .create_ticket(email_ticket(json!({"title": "打印机卡纸", "customer": {"name": "王芳", "contact": "wang@example.cn"}, "custom_fields": {"language": "zh-CN"}})))
        .await;
    let number = t["number"].as_str().unwrap();
    assert_eq!(m.send_due().await, 1);
    let mail = &smtp.messages()[0];
    assert_eq!(mail.subject, format!("[{number}] 我们已收到您的请求：打印机卡纸"));
    assert!(mail.text.starts_with("王芳，您好："), "{}", mail.text);
    assert!(mail.html.contains("服务台"), "{}", mail.html);
    // On the wire the subject is RFC 2047 encoded words: headers stay ASCII.
    let subject_line = mail.raw.lines().find(|l| l.starts_with("Subject:")).expect("a Subject header");
    assert!(subject_line.is_ascii() && subject_line.to_ascii_lowercase().contains("=?utf-8?"), "{subject_line}");
}

async fn an_outage_is_waited_out_with_backoff_and_the_mail_sent_when_the_server_is_back(backend: Backend) {
    let Some(mut smtp) = SmtpServer::prepare() else { return };
    let m = MailApp::spawn(backend, &smtp, |c| c.mail.outbound.max_attempts = 5).await;
    m.app.create_ticket(email_ticket(json!({}))).await;
    // The server is down: the attempt fails and the mail waits out its backoff.
    assert_eq!(m.send_due().await, 1);
    let pending = m.outbox("?state=pending").await;
    assert_eq!(pending.len(), 1);
    let attempts = pending[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert!(attempts[0]["error"].as_str().unwrap().contains("could not be reached"), "{attempts:?}");
    assert_eq!(pending[0]["last_error"], attempts[0]["error"]);
    assert_eq!(m.send_due().await, 0, "not due again before its backoff");
    let due: jiff::Timestamp = pending[0]["next_attempt_at"].as_str().unwrap().parse().unwrap();
    let tried: jiff::Timestamp = attempts[0]["at"].as_str().unwrap().parse().unwrap();
    let first_wait = due.duration_since(tried);
    clock_passes(due).await;
    assert_eq!(m.send_due().await, 1);
    let pending = m.outbox("?state=pending").await;
    let second_due: jiff::Timestamp = pending[0]["next_attempt_at"].as_str().unwrap().parse().unwrap();
    let second_tried: jiff::Timestamp = pending[0]["attempts"][1]["at"].as_str().unwrap().parse().unwrap();
    assert!(
        second_due.duration_since(second_tried) > first_wait,
        "the wait grows: {first_wait:?}, then {:?}",
        second_due.duration_since(second_tried)
    );
    // Back up: the next due attempt sends it.
    smtp.start().await;
    clock_passes(second_due).await;
    assert_eq!(m.send_due().await, 1);
    assert_eq!(smtp.messages().len(), 1);
    let sent = m.outbox("?state=sent").await;
    assert_eq!(sent[0]["attempts"].as_array().unwrap().len(), 3);
    assert!(sent[0]["attempts"][2]["error"].is_null());
    m.app.refresh_metrics().await;
    let scrape = m.app.scrape().await;
    assert!(scrape.contains("steward_mail_sent_total{outcome=\"retrying\"} 2"), "{scrape}");
    assert!(scrape.contains("steward_mail_sent_total{outcome=\"sent\"} 1"), "{scrape}");
}

async fn a_mail_given_up_keeps_its_error_and_an_admin_can_retry_it(backend: Backend) {
    let Some(mut smtp) = SmtpServer::prepare() else { return };
    let m = MailApp::spawn(backend, &smtp, |c| c.mail.outbound.max_attempts = 1).await;
    m.app.create_ticket(email_ticket(json!({}))).await;
    m.app.refresh_metrics().await;
    assert!(m.app.scrape().await.contains("steward_mail_outbox_depth 1"));
    assert_eq!(m.send_due().await, 1);
    let failed = m.outbox("?state=failed").await;
    assert_eq!(failed.len(), 1);
    assert!(failed[0]["last_error"].as_str().unwrap().contains("could not be reached"));
    assert!(failed[0]["next_attempt_at"].is_null());
    m.app.refresh_metrics().await;
    let scrape = m.app.scrape().await;
    assert!(scrape.contains("steward_mail_sent_total{outcome=\"failed\"} 1") && scrape.contains("steward_mail_outbox_depth 0"), "{scrape}");
    let id = failed[0]["id"].as_str().unwrap();
    let retry = format!("/api/v1/mail/outbox/{id}/retry");
    smtp.start().await;
    assert_eq!(m.app.post(&retry, &json!({})).await.status(), StatusCode::ACCEPTED);
    assert_eq!(m.send_due().await, 1);
    assert_eq!(smtp.messages().len(), 1);
    let sent = m.outbox("?state=sent").await;
    assert_eq!(sent[0]["attempts"].as_array().unwrap().len(), 2, "the log keeps the failed attempt");
    problem(m.app.post(&retry, &json!({})).await, StatusCode::CONFLICT).await;
    problem(m.app.post("/api/v1/mail/outbox/01a20c6d-0000-7000-8000-000000000000/retry", &json!({})).await, StatusCode::NOT_FOUND).await;
}

async fn two_nodes_never_send_one_mail_twice(backend: Backend) {
    let Some(mut smtp) = SmtpServer::prepare() else { return };
    smtp.start().await;
    let m = MailApp::spawn(backend, &smtp, |c| c.mail.outbound.batch = 3).await;
    let node = m.app.node(|c| with_mail(c, &smtp, None)).await;
    let other = MailWorker::new(node.services.clone(), &m.config.mail).expect("second worker");
    const MAILS: usize = 24;
    for i in 0..MAILS {
        m.app.create_ticket(email_ticket(json!({"customer": {"name": "Ada", "contact": format!("c{i}@example.com")}}))).await;
    }
    // Each node drains the outbox on a task of its own, at the same time as the other.
    let drain = |worker: Arc<MailWorker>| {
        tokio::spawn(async move {
            let mut claimed = 0;
            loop {
                match worker.send_due().await.expect("mail pass") {
                    0 => return claimed,
                    n => claimed += n,
                }
            }
        })
    };
    let other = Arc::new(other);
    let mut claims = 0;
    // Until nothing waits: an attempt that failed under load (a timeout) is due again later.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (a, b) = tokio::join!(drain(m.worker.clone()), drain(other.clone()));
        claims += a.expect("first node") + b.expect("second node");
        let pending = m.outbox("?state=pending&limit=200").await;
        if pending.is_empty() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "mail still pending: {pending:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent = m.outbox("?state=sent&limit=200").await;
    assert_eq!(sent.len(), MAILS);
    let attempts: usize = sent.iter().map(|s| s["attempts"].as_array().unwrap().len()).sum();
    assert_eq!(claims, attempts, "every claim is one recorded attempt: no mail was claimed by both nodes");
    let received = smtp.messages();
    assert_eq!(received.len(), MAILS);
    let mut ids: Vec<_> = received.iter().map(|r| r.message_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), MAILS, "no mail was sent twice");
}

async fn a_pass_carries_its_mails_over_as_many_connections_as_it_sends_at_once(backend: Backend) {
    let Some(mut smtp) = SmtpServer::prepare() else { return };
    smtp.start().await;
    const MAILS: usize = 12;
    let m = MailApp::spawn(backend, &smtp, |c| {
        c.mail.outbound.batch = MAILS as u32;
        c.mail.outbound.concurrency = 3;
    })
    .await;
    for i in 0..MAILS {
        m.app.create_ticket(email_ticket(json!({"customer": {"name": "Ada", "contact": format!("c{i}@example.com")}}))).await;
    }
    assert_eq!(m.send_due().await, MAILS, "one pass claims them all");
    assert_eq!(m.outbox("?state=sent&limit=100").await.len(), MAILS);
    // aiosmtpd stamps each mail with the connection's peer (`X-Peer: ('127.0.0.1', port)`).
    let mut peers: Vec<String> = smtp
        .messages()
        .iter()
        .map(|r| r.raw.lines().find_map(|l| l.strip_prefix("X-Peer: ")).expect("the server's X-Peer stamp").trim().to_owned())
        .collect();
    assert_eq!(peers.len(), MAILS);
    peers.sort();
    peers.dedup();
    assert!(!peers.is_empty() && peers.len() <= 3, "at most one connection per mail sent at once, reused: {peers:?}");
    // The next pass opens connections of its own (none outlives a pass) and they work.
    m.app.create_ticket(email_ticket(json!({"customer": {"name": "Bo", "contact": "bo@example.com"}}))).await;
    assert_eq!(m.send_due().await, 1);
    assert_eq!(smtp.messages().len(), MAILS + 1);
}

async fn attempts_are_recorded_together_and_a_lapsed_claim_records_nothing_for_its_row(backend: Backend) {
    let Some(smtp) = SmtpServer::prepare() else { return };
    let m = MailApp::spawn(backend, &smtp, |c| c.mail.outbound.max_attempts = 5).await;
    for i in 0..3 {
        m.app.create_ticket(email_ticket(json!({"customer": {"name": "Ada", "contact": format!("r{i}@example.com")}}))).await;
    }
    let services = &m.app.services;
    let claimed = services.claim_due_mail(10).await.expect("claimed");
    assert_eq!(claimed.len(), 3);
    // The second one's claim as a worker holds it whose lease ran out and passed on.
    let mut lapsed = claimed[1].clone();
    lapsed.lock_token = "a lease that ran out".into();
    let attempt = |error: Option<&str>| MailAttempt { at: Timestamp::now(), duration_ms: 7, error: error.map(str::to_owned) };
    let outcomes = services
        .record_mail_attempts(&[
            (&claimed[0], attempt(None)),
            (&lapsed, attempt(None)),
            (&claimed[2], attempt(Some("the SMTP server refused the mail (451): try later"))),
        ])
        .await
        .expect("recorded");
    assert_eq!(outcomes, [Some(MailState::Sent), None, Some(MailState::Pending)], "each row on its own claim");
    let all = m.outbox("?limit=10").await;
    let row = |i: usize| all.iter().find(|r| r["id"] == claimed[i].id.to_string()).expect("in the outbox").clone();
    assert_eq!((row(0)["state"].as_str(), row(0)["attempts"].as_array().unwrap().len()), (Some("sent"), 1));
    assert_eq!(
        (row(1)["state"].as_str(), row(1)["attempts"].as_array().unwrap().len()),
        (Some("pending"), 0),
        "nothing for the lapsed claim"
    );
    assert_eq!((row(2)["state"].as_str(), row(2)["attempts"].as_array().unwrap().len()), (Some("pending"), 1));
    assert!(row(2)["last_error"].as_str().unwrap().contains("451"));
    // The claim's holder still records its row; a claim already recorded records nothing again.
    let again = services.record_mail_attempts(&[(&claimed[1], attempt(None)), (&claimed[0], attempt(None))]).await.expect("recorded");
    assert_eq!(again, [Some(MailState::Sent), None]);
    assert_eq!(m.outbox("?state=sent").await.len(), 2);
    m.app.refresh_metrics().await;
    let scrape = m.app.scrape().await;
    assert!(scrape.contains("steward_mail_sent_total{outcome=\"sent\"} 2"), "{scrape}");
    assert!(scrape.contains("steward_mail_sent_total{outcome=\"retrying\"} 1"), "{scrape}");
}

async fn a_kind_switched_off_for_a_process_sends_nothing(backend: Backend) {
    let Some(mut smtp) = SmtpServer::prepare() else { return };
    smtp.start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("general.toml"), "off = [\"ticket_received\"]\n").unwrap();
    let path = dir.path().to_path_buf();
    let m = MailApp::spawn(backend, &smtp, |c| c.mail.outbound.dir = path).await;
    let t = m.app.create_ticket(email_ticket(json!({}))).await;
    assert_eq!(m.send_due().await, 0);
    assert!(m.outbox("").await.is_empty(), "nothing queued for a kind that is off");
    // Another kind of the same process still goes out.
    m.comment(t["id"].as_str().unwrap(), "We are on it.", "public").await;
    assert_eq!(m.send_due().await, 1);
    let received = smtp.messages();
    assert_eq!(received.len(), 1);
    assert!(received[0].text.contains("We are on it."));
}

async fn assignment_reaches_the_staff_members_address(backend: Backend) {
    let Some(mut smtp) = SmtpServer::prepare() else { return };
    smtp.start().await;
    let m = MailApp::spawn(backend, &smtp, |c| c.mail.outbound.kinds = vec![steward_domain::mail::NotificationKind::Assigned]).await;
    let grace = m.app.create_staff("Grace Hopper", "grace@desk.example.org", "agent").await;
    // A phone ticket with no email contact: only staff hear of it.
    let t = m.app.create_ticket(json!({"customer": {"name": "ACME", "contact": "+1 555 0100"}})).await;
    let (id, number) = (t["id"].as_str().unwrap(), t["number"].as_str().unwrap());
    let r = m.app.patch(&format!("/api/v1/tickets/{id}"), Some("\"1\""), &json!({"assignee_id": grace["id"]})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(m.send_due().await, 1);
    let mail = &smtp.messages()[0];
    assert_eq!(mail.to, "grace@desk.example.org");
    assert_eq!(mail.subject, format!("[{number}] Assigned to you: Printer on fire"));
    assert!(mail.text.contains(&format!("https://desk.example.org/tickets/{number}")), "{}", mail.text);
    assert_eq!(m.outbox("").await[0]["kind"], "assigned");
}

async fn an_unanswered_survey_is_reminded_once(backend: Backend) {
    let Some(mut smtp) = SmtpServer::prepare() else { return };
    smtp.start().await;
    let m = MailApp::spawn(backend, &smtp, |_| {}).await;
    let silent = m.app.create_ticket(email_ticket(json!({}))).await;
    let answered = m.app.create_ticket(email_ticket(json!({"customer": {"name": "Bob", "contact": "bob@example.com"}}))).await;
    let (silent, answered) = (silent["id"].as_str().unwrap(), answered["id"].as_str().unwrap());
    m.resolve(silent).await;
    m.resolve(answered).await;
    assert_eq!(m.send_due().await, 4, "received and resolved, twice");
    let survey_url = |events: Vec<Value>| {
        events.iter().find(|e| e["kind"] == "survey_issued").expect("a survey")["data"]["survey_url"].as_str().unwrap().to_owned()
    };
    let answer = m.app.client.post(m.app.url(&survey_url(m.app.events(answered).await))).json(&json!({"score": 5})).send().await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    // Not yet due: nothing is reminded before its time.
    assert_eq!(m.send_due().await, 0);
    m.app.services.advance_clock(73 * 3_600_000);
    assert_eq!(m.send_due().await, 1, "only the unanswered survey is reminded");
    assert_eq!(m.send_due().await, 0, "and only once");
    let received = smtp.messages();
    assert_eq!(received.len(), 5);
    let resolved = received.iter().find(|r| r.to == "ada@example.com" && r.subject.contains("Resolved")).expect("the resolution mail");
    let reminder = &received[4];
    assert_eq!(reminder.to, "ada@example.com");
    assert!(reminder.subject.contains("A minute for your feedback?"), "{}", reminder.subject);
    let token = survey_url(m.app.events(silent).await).rsplit('/').next().unwrap().to_owned();
    assert!(reminder.text.contains(&format!("https://desk.example.org/survey/{token}")), "{}", reminder.text);
    assert_eq!(resolved.to, "ada@example.com");
    assert_eq!(reminder.in_reply_to, std::slice::from_ref(&resolved.message_id), "the reminder answers the resolution mail");
}

async fn a_public_reply_in_the_console_is_mailed_and_an_internal_one_is_not(backend: Backend) {
    let Some(mut smtp) = SmtpServer::prepare() else { return };
    smtp.start().await;
    let m = MailApp::spawn(backend, &smtp, |c| c.mail.outbound.kinds = vec![steward_domain::mail::NotificationKind::StaffReply]).await;
    let t = m.app.create_ticket(email_ticket(json!({}))).await;
    let base = format!("/tickets/{}", t["number"].as_str().unwrap());
    let (agent, _) = ConsoleSession::person(&m.app, "Ada Agent", "ada@desk.test", "agent").await;
    let page = agent.page(&base).await;
    let r = post_form(&agent, &page, &format!("{base}/comment"), &[("visibility", "internal"), ("body", "Check the fuse")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = agent.page(&base).await;
    let r = post_form(&agent, &page, &format!("{base}/comment"), &[("visibility", "public"), ("body", "A technician comes at 3.")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(m.send_due().await, 1);
    let received = smtp.messages();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, "ada@example.com");
    assert!(received[0].text.contains("A technician comes at 3.") && received[0].text.contains("Ada Agent"), "{}", received[0].text);
    assert!(!received[0].raw.contains("Check the fuse"));
}

async fn sla_alerts_mail_the_assignee_and_escalations_the_responsible_role(backend: Backend) {
    use steward_domain::mail::NotificationKind::{SlaBreached, SlaEscalated, SlaWarning};
    let Some(mut smtp) = SmtpServer::prepare() else { return };
    smtp.start().await;
    let m = MailApp::spawn(backend, &smtp, |c| c.mail.outbound.kinds = vec![SlaWarning, SlaBreached, SlaEscalated]).await;
    crate::sla::fast_policy(&m.app, "1s", "1h").await;
    let grace = m.app.create_staff("Grace Hopper", "grace@desk.example.org", "agent").await;
    m.app.create_staff("Sam Supervisor", "sam@desk.example.org", "supervisor").await;
    let old = m.app.create_staff("Old Supervisor", "old@desk.example.org", "supervisor").await;
    let r = m.app.patch(&format!("/api/v1/staff/{}", old["id"].as_str().unwrap()), None, &json!({"active": false})).await;
    assert_eq!(r.status(), StatusCode::OK, "deactivating");
    let assigned = m.app.create_ticket(json!({"customer": {"tier": "priority"}, "assignee_id": grace["id"]})).await;
    let unassigned = m.app.create_ticket(json!({"title": "Nobody's yet", "customer": {"tier": "priority"}})).await;
    assert_eq!(m.send_due().await, 0, "nothing is due before the sweep records an alert");
    // The escalation is due at 150 % of the 1 s target: half a second after the breach.
    for ticket in [&assigned, &unassigned] {
        let sla = crate::sla::sla(&m.app, ticket["id"].as_str().unwrap()).await;
        clock_passes(crate::sla::after_due(crate::sla::clock(&sla, "first_response"), 500)).await;
    }
    assert_eq!(m.app.sweep_sla().await, 2);
    // Assigned: warning and breach to the assignee, escalation to the active supervisor; the
    // unassigned ticket's warning and breach have nobody to tell, its escalation has.
    assert_eq!(m.send_due().await, 4);
    assert_eq!(m.send_due().await, 0);
    let number = assigned["number"].as_str().unwrap();
    let other = unassigned["number"].as_str().unwrap();
    let received = smtp.messages();
    let to = |who: &str| -> Vec<&Received> { received.iter().filter(|r| r.to == who).collect() };
    assert!(to("old@desk.example.org").is_empty(), "an inactive person is not mailed");
    let grace_mail = to("grace@desk.example.org");
    let mut subjects: Vec<_> = grace_mail.iter().map(|r| r.subject.as_str()).collect();
    subjects.sort();
    assert_eq!(subjects, [format!("[{number}] SLA breached: Printer on fire"), format!("[{number}] SLA warning (80%): Printer on fire")]);
    let breach = grace_mail.iter().find(|r| r.subject.contains("breached")).unwrap();
    let warning = grace_mail.iter().find(|r| r.subject.contains("warning")).unwrap();
    assert!(breach.text.contains("The first response clock") && breach.text.contains("target of 1s"), "{}", breach.text);
    assert!(breach.text.contains(&format!("https://desk.example.org/tickets/{number}")), "{}", breach.text);
    assert!(breach.html.contains(&format!("href=\"https://desk.example.org/tickets/{number}\"")), "{}", breach.html);
    assert_eq!(breach.in_reply_to, std::slice::from_ref(&warning.message_id), "the breach threads on the warning to the same person");
    assert_eq!(breach.auto_submitted.as_deref(), Some("auto-generated"));
    let mut escalations: Vec<_> = to("sam@desk.example.org").iter().map(|r| r.subject.clone()).collect();
    escalations.sort();
    assert_eq!(
        escalations,
        [format!("[{number}] Escalated to supervisor: Printer on fire"), format!("[{other}] Escalated to supervisor: Nobody's yet")]
    );
    let kinds: Vec<_> = m.outbox("?limit=50").await.iter().map(|mail| mail["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "sla_escalated").count(), 2, "{kinds:?}");
    // A later sweep records nothing new, so nothing more is mailed.
    assert_eq!(m.app.sweep_sla().await, 0);
    assert_eq!(m.send_due().await, 0);
}

async fn an_expiring_certification_is_mailed_to_its_holder_once(backend: Backend) {
    let Some(mut smtp) = SmtpServer::prepare() else { return };
    smtp.start().await;
    let m = MailApp::spawn(backend, &smtp, |c| {
        c.mail.outbound.kinds = vec![steward_domain::mail::NotificationKind::CertificationExpiring];
        c.mail.outbound.language = steward_domain::login::Language::Zh;
    })
    .await;
    crate::training::create_course(&m.app).await;
    let soon = m.app.create_staff("Soon", "soon@desk.example.org", "agent").await;
    let fine = m.app.create_staff("Fine", "fine@desk.example.org", "agent").await;
    let record = crate::training::record(&m.app, &soon, 350, 90).await;
    crate::training::record(&m.app, &fine, 1, 90).await;
    assert_eq!(m.app.watch_certifications().await, 1, "one certification expiring");
    assert_eq!(m.send_due().await, 1);
    assert_eq!(m.app.watch_certifications().await, 0);
    assert_eq!(m.send_due().await, 0, "mailed once");
    let received = smtp.messages();
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert_eq!(mail.to, "soon@desk.example.org");
    assert!(mail.subject.contains("SOLUTION-DESIGN"), "{}", mail.subject);
    let expires_on = &record["expires_at"].as_str().unwrap()[..10];
    assert!(mail.text.contains("SOLUTION-DESIGN") && mail.text.contains(expires_on), "{}", mail.text);
    assert!(mail.text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "the Chinese template: {}", mail.text);
    assert_eq!(m.outbox("").await[0]["kind"], "certification_expiring");
}

mod security;
