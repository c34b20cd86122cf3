//! The mail rows of `steward bench` (BENCHMARKS.md, issue #15's "Measure"):
//!
//! - P14 inbound through `steward mailgate`: the real command, one process per message as an
//!   MTA pipes it, several at once; then the same mix posted straight to
//!   `POST /api/v1/mail/inbound` (the server's own rate); then P1's load while mail arrives.
//! - P15 inbound through IMAP: messages APPENDed to a real mailbox, then one fetch pass (what
//!   the server's mailbox worker runs), timed until every message is imported.
//! - P16 outbound: a backlog queued by real ticket creations on a server with mail on, sent
//!   to a real SMTP server by the mail worker's passes; then P1's load on a server with mail
//!   on, its worker sending meanwhile, against P1 on a server with mail off.
//!
//! The servers are the operator's to name (`--smtp`, `--imap`): a row whose server is missing
//! says so and measures nothing.

use super::{millis_since, BenchError, BenchOptions, BenchRow, Server, ServerCommand, Timings};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use steward_domain::auth::{Principal, Role};
use steward_domain::mail::MailState;
use steward_domain::time::Timestamp;
use steward_services::config::{Config, MailConfig, MailboxConfig, SmtpTls};
use steward_services::mail::MailWorker;
use steward_services::Services;

/// The desk's address on the bench's servers with mail on.
const DESK_ADDRESS: &str = "support@bench.example";

/// Inbound mail handed in at this steady rate during P1's load (P14's 5 % rule): about 300
/// times the average of a desk that takes a million tickets a year.
const INBOUND_DURING_LOAD_PER_SECOND: f64 = 10.0;

/// A plain-text SMTP server on this host (aiosmtpd, a local relay): no TLS, no auth.
#[derive(Debug, Clone)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
}

/// A plain IMAP account on this host (dovecot, as the tests run it), its password in the
/// environment variable `password_env`; messages go to and are fetched from `folder`.
#[derive(Debug, Clone)]
pub struct ImapAccount {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password_env: String,
    pub folder: String,
}

impl ImapAccount {
    /// The mailbox the bench process fetches from (P15): flagged `\Seen` once imported.
    pub fn mailbox(&self) -> MailboxConfig {
        MailboxConfig {
            name: "bench".into(),
            host: self.host.clone(),
            port: self.port,
            tls: false,
            username: self.user.clone(),
            password_env: self.password_env.clone(),
            folder: self.folder.clone(),
            ..MailboxConfig::default()
        }
    }
}

/// `HOST:PORT`, for `--smtp`; `imap://HOST:PORT` (or `HOST:PORT`), for `--imap`.
pub fn parse_host_port(option: &str, text: &str) -> Result<(String, u16), String> {
    let bare = text.strip_prefix("imap://").or_else(|| text.strip_prefix("smtp://")).unwrap_or(text).trim_end_matches('/');
    if text.starts_with("imaps://") || text.starts_with("smtps://") {
        return Err(format!("{option}: `{text}`: the bench speaks plain IMAP and SMTP to a server on this host; TLS is not offered"));
    }
    let (host, port) = bare.rsplit_once(':').ok_or_else(|| format!("{option}: `{text}` is not HOST:PORT"))?;
    let port = port.parse().map_err(|_| format!("{option}: `{port}` is not a port"))?;
    if host.is_empty() {
        return Err(format!("{option}: `{text}` names no host"));
    }
    Ok((host.to_owned(), port))
}

/// P14–P16's servers and sizes.
#[derive(Debug, Clone)]
pub struct MailOptions {
    pub smtp: Option<SmtpServer>,
    pub imap: Option<ImapAccount>,
    /// P14: messages handed in through `steward mailgate`, and posted to the endpoint.
    pub mailgate_messages: usize,
    pub posted_messages: usize,
    /// P14: mailgate processes (and connections) at once.
    pub concurrency: usize,
    /// P15: messages appended to the mailbox before the pass.
    pub imap_messages: usize,
    /// P16: tickets created (each queues its "received" mail) before the worker sends.
    pub outbox_backlog: usize,
    /// The 5 % rule: rounds of P1's load per setting, taken in turn so that drift (the database
    /// growing, other load on the machine) falls on every setting alike.
    pub rounds: usize,
    /// Mails the worker claims per pass (`mail.outbound.batch`).
    pub batch: u32,
}

impl MailOptions {
    pub fn full() -> MailOptions {
        MailOptions {
            smtp: None,
            imap: None,
            mailgate_messages: 300,
            posted_messages: 600,
            concurrency: 8,
            imap_messages: 600,
            outbox_backlog: 1_000,
            rounds: 3,
            batch: 16,
        }
    }

    pub fn quick() -> MailOptions {
        MailOptions { mailgate_messages: 6, posted_messages: 6, imap_messages: 6, outbox_backlog: 20, rounds: 1, ..MailOptions::full() }
    }
}

/// The bench process fetches only its own mailbox, never one the configuration names.
pub fn bench_mailboxes(config: &mut Config, options: &MailOptions) {
    config.mail.mailboxes = options.imap.iter().map(ImapAccount::mailbox).collect();
}

/// A row that measured nothing, saying why.
fn not_measured(id: &'static str, what: &str, why: &str) -> BenchRow {
    BenchRow {
        id,
        what: format!("{what}: not measured ({why})"),
        samples: 0,
        p50_ms: None,
        p99_ms: None,
        per_second: None,
        value: None,
        target: String::new(),
        met: None,
    }
}

/// Every mail row the options ask for. The server under test is started here as each row
/// needs it (mail on or off); none other runs meanwhile.
pub(super) async fn rows(services: &Arc<Services>, options: &BenchOptions, token: &str) -> Result<Vec<BenchRow>, BenchError> {
    let mail = &options.mail;
    let mut rows = Vec::new();
    let (_, gate) = services.create_token("steward bench mailgate", Role::Mailgate, None).await?;
    let gate = gate.expose().to_owned();
    // Message-IDs unique to this run: a database reused from an earlier run has its messages.
    let run = Timestamp::now().as_millis().to_string();
    if options.wants("P14") {
        let server = start(options, token, Mail::Off).await?;
        rows.push(mailgate_row(services, &server, &options.server, mail, &gate, &run).await?);
        rows.push(posted_row(services, &server, mail, &gate, &run).await?);
        server.stop().await;
    }
    if options.wants("P15") {
        rows.push(match &mail.imap {
            Some(imap) => imap_row(services, imap, mail.imap_messages, &run).await?,
            None => not_measured("P15", "IMAP import, one fetch pass", "no --imap"),
        });
    }
    if options.wants("P16") {
        rows.push(match &mail.smtp {
            Some(smtp) => outbox_row(services, options, token, smtp).await?,
            None => not_measured("P16", "notifications sent to the SMTP server by the mail worker", "no --smtp"),
        });
    }
    if options.wants("P14") || options.wants("P16") {
        rows.extend(load_rows(options, token, &gate, &run).await?);
    }
    Ok(rows)
}

/// How the server under test is started for a mail row.
#[derive(Clone, Copy)]
enum Mail {
    /// No desk address: nothing is queued (inbound mail is taken all the same).
    Off,
    /// Mail on, to the bench's SMTP server, with or without this node's worker.
    On { worker: bool },
}

async fn start(options: &BenchOptions, token: &str, mail: Mail) -> Result<Server, BenchError> {
    match (mail, &options.mail.smtp) {
        (Mail::Off, _) => Server::start_with(&options.server, token, &[("STEWARD_MAIL_ADDRESS", String::new())]).await,
        (Mail::On { worker }, Some(smtp)) => {
            let config = MailConfigFile::write(&options.server)?;
            let command = ServerCommand { program: options.server.program.clone(), args: vec!["--config".into(), config.0.clone().into()] };
            let env = [
                ("STEWARD_MAIL_ADDRESS", DESK_ADDRESS.to_owned()),
                ("STEWARD_MAIL_SMTP_HOST", smtp.host.clone()),
                ("STEWARD_MAIL_SMTP_PORT", smtp.port.to_string()),
                ("STEWARD_MAIL_OUTBOUND_WORKER", worker.to_string()),
            ];
            // The server has read its config once it answers; the file can go then.
            Server::start_with(&command, token, &env).await
        }
        (Mail::On { .. }, None) => Err(BenchError::Server("mail on needs --smtp".into())),
    }
}

/// The configuration the server under test reads, with mail set up for the bench's SMTP
/// server: plain (no TLS, no login), survey reminders off (the seed leaves a year of
/// unanswered surveys that a first worker would otherwise remind all at once), no mailboxes.
/// Removed when dropped.
struct MailConfigFile(PathBuf);

impl MailConfigFile {
    fn write(command: &ServerCommand) -> Result<MailConfigFile, BenchError> {
        let failed = |e: String| BenchError::Server(format!("the mail config for the server under test: {e}"));
        // The file the server would read: --config, else STEWARD_CONFIG, else the default path.
        let explicit = command.args.windows(2).find(|w| w[0] == "--config").map(|w| PathBuf::from(&w[1]));
        let base = explicit.or_else(|| std::env::var_os("STEWARD_CONFIG").map(PathBuf::from)).or_else(|| {
            let default = Path::new(steward_services::config::DEFAULT_CONFIG_PATH);
            default.exists().then(|| default.to_path_buf())
        });
        let mut table = match &base {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| failed(format!("{}: {e}", path.display())))?;
                text.parse::<toml::Table>().map_err(|e| failed(format!("{}: {e}", path.display())))?
            }
            None => toml::Table::new(),
        };
        let section = |table: &mut toml::Table, key: &str| -> Result<toml::Table, BenchError> {
            match table.remove(key) {
                None => Ok(toml::Table::new()),
                Some(toml::Value::Table(t)) => Ok(t),
                Some(_) => Err(failed(format!("`{key}` is not a table"))),
            }
        };
        let mut mail = section(&mut table, "mail")?;
        let mut smtp = section(&mut mail, "smtp")?;
        smtp.insert("tls".into(), toml::Value::String("none".into()));
        smtp.remove("username");
        smtp.remove("password_env");
        let mut outbound = section(&mut mail, "outbound")?;
        outbound.insert("survey_reminder_after_hours".into(), toml::Value::Integer(0));
        mail.remove("mailboxes");
        mail.insert("smtp".into(), toml::Value::Table(smtp));
        mail.insert("outbound".into(), toml::Value::Table(outbound));
        table.insert("mail".into(), toml::Value::Table(mail));
        let path = std::env::temp_dir().join(format!("steward-bench-mail-{}-{}.toml", std::process::id(), Timestamp::now().as_millis()));
        let text = toml::to_string(&table).map_err(|e| failed(e.to_string()))?;
        std::fs::write(&path, text).map_err(|e| failed(format!("{}: {e}", path.display())))?;
        Ok(MailConfigFile(path))
    }
}

impl Drop for MailConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The `i`th message of the bench's mix, in turn: plain text; Chinese in GBK (subject and
/// body); a message with a PDF attached (its bytes differ per message, as real files do, so
/// each is stored). Each comes from its own sender: the per-sender rate limit guards against
/// loops, and a bench is not one.
pub fn message(run: &str, i: usize) -> Vec<u8> {
    use base64::Engine;
    let from = format!("Customer {i} <customer-{i}@bench-customers.example>");
    let id = format!("<bench-{run}-{i}@bench-customers.example>");
    let mut head = format!("From: {from}\r\nTo: {DESK_ADDRESS}\r\nMessage-ID: {id}\r\nMIME-Version: 1.0\r\n");
    let mut body = Vec::new();
    match i % 3 {
        0 => {
            head.push_str(&format!("Subject: The printer on floor {i} is jammed\r\nContent-Type: text/plain; charset=utf-8\r\n"));
            body.extend_from_slice(
                b"Hello,\r\n\r\nthe printer jams on every second page since this morning.\r\nCould someone look at it?\r\n\r\nThanks\r\n",
            );
        }
        1 => {
            // "打印机坏了" and "请帮忙", in GBK, as Chinese mail clients send them.
            head.push_str(&format!("Subject: =?GBK?Q?=B4=F2=D3=A1=BB=FA=BB=B5=C1=CB?= {i}\r\n"));
            head.push_str("Content-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: 8bit\r\n");
            body.extend_from_slice(&[0xC7, 0xEB, 0xB0, 0xEF, 0xC3, 0xA6]);
            body.extend_from_slice(b"\r\n");
        }
        _ => {
            head.push_str(&format!("Subject: Error log of unit {i}\r\nContent-Type: multipart/mixed; boundary=\"bench-part\"\r\n"));
            let mut pdf = format!("%PDF-1.4\n% unit {i}\n").into_bytes();
            pdf.extend((0..=255u8).cycle().skip(i % 256).take(20_000));
            body.extend_from_slice(b"--bench-part\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe log is attached.\r\n");
            body.extend_from_slice(b"--bench-part\r\nContent-Type: application/pdf; name=\"error-log.pdf\"\r\n");
            body.extend_from_slice(
                b"Content-Disposition: attachment; filename=\"error-log.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
            );
            for line in base64::engine::general_purpose::STANDARD.encode(&pdf).as_bytes().chunks(76) {
                body.extend_from_slice(line);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"--bench-part--\r\n");
        }
    }
    let mut raw = head.into_bytes();
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(&body);
    raw
}

/// Fails unless exactly `expected` tickets were added since `before`.
async fn check_tickets(services: &Services, before: i64, expected: usize, what: &str) -> Result<(), BenchError> {
    let added = services.ticket_count().await? - before;
    match added == expected as i64 {
        true => Ok(()),
        false => Err(BenchError::Server(format!("{what}: {expected} messages made {added} tickets"))),
    }
}

/// P14's two ways in: messages `first..first + n` of the mix, each handed in by one call of
/// `hand_in`, over `lanes` lanes at once, each timed from its start to its end; the row once
/// every message made its ticket (`checked_as` names the way in if not).
async fn handed_in_row<F, Fut>(
    services: &Arc<Services>,
    (first, n): (usize, usize),
    lanes: usize,
    what: String,
    checked_as: &str,
    hand_in: F,
) -> Result<BenchRow, BenchError>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), BenchError>> + Send + 'static,
{
    let before = services.ticket_count().await?;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..lanes {
        let hand_in = hand_in.clone();
        tasks.spawn(async move {
            let mut timings = Vec::new();
            for i in (first + lane..first + n).step_by(lanes) {
                let started = Instant::now();
                hand_in(i).await?;
                timings.push(millis_since(started));
            }
            Ok::<_, BenchError>(timings)
        });
    }
    let mut timings = Vec::with_capacity(n);
    while let Some(done) = tasks.join_next().await {
        timings.extend(done??);
    }
    let per_second = n as f64 / started.elapsed().as_secs_f64().max(1e-9);
    check_tickets(services, before, n, checked_as).await?;
    let mut row = Timings::sorted(timings).row("P14", what, "", None);
    row.per_second = Some(per_second);
    row.value = Some(format!("{n} tickets"));
    Ok(row)
}

/// P14: the real `steward mailgate`, one process per message as an MTA runs it, `concurrency`
/// at once; each process is timed from its start to its exit.
async fn mailgate_row(
    services: &Arc<Services>,
    server: &Server,
    command: &ServerCommand,
    mail: &MailOptions,
    gate: &str,
    run: &str,
) -> Result<BenchRow, BenchError> {
    let token_file = TokenFile::write(gate)?;
    let lanes = mail.concurrency.max(1);
    let what = format!(
        "mail handed in by `steward mailgate` (one process per message, {lanes} at once; plain, GBK, with a PDF in turn) → tickets"
    );
    let args = Arc::new((command.program.clone(), server.base.clone(), token_file.0.clone(), run.to_owned()));
    // Blocking threads: a child's stdin and exit are waited for synchronously.
    let hand_in = move |i| {
        let args = args.clone();
        async move {
            let (program, url, file, run) = &*args;
            let (program, url, file, raw) = (program.clone(), url.clone(), file.clone(), message(run, i));
            tokio::task::spawn_blocking(move || pipe_to_mailgate(&program, &url, &file, &raw)).await?
        }
    };
    handed_in_row(services, (0, mail.mailgate_messages), lanes, what, "steward mailgate", hand_in).await
}

/// Runs `steward mailgate` with `message` on its stdin, as an MTA's pipe does; it must exit 0
/// with the message imported.
fn pipe_to_mailgate(program: &Path, url: &str, token_file: &Path, message: &[u8]) -> Result<(), BenchError> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let failed = |e: String| BenchError::Server(format!("steward mailgate: {e}"));
    let mut child = Command::new(program)
        .args(["mailgate", "--url", url, "--token-file"])
        .arg(token_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot start {}: {e}", program.display())))?;
    child.stdin.take().ok_or_else(|| failed("no stdin".into()))?.write_all(message).map_err(|e| failed(e.to_string()))?;
    let out = child.wait_with_output().map_err(|e| failed(e.to_string()))?;
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    match out.status.success() && said.contains("taken: imported") {
        true => Ok(()),
        false => Err(failed(format!("exit {}: {}", out.status, said.trim()))),
    }
}

/// The mailgate token in a file only this run knows, removed when dropped.
struct TokenFile(PathBuf);

impl TokenFile {
    fn write(secret: &str) -> Result<TokenFile, BenchError> {
        let path = std::env::temp_dir().join(format!("steward-bench-mailgate-{}-{}", std::process::id(), Timestamp::now().as_millis()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&path).and_then(|mut f| std::io::Write::write_all(&mut f, secret.as_bytes()));
        written.map_err(|e| BenchError::Server(format!("the mailgate token file {}: {e}", path.display())))?;
        Ok(TokenFile(path))
    }
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Posts one message as the mailgate does; it must be imported.
async fn post_message(client: &reqwest::Client, base: &str, gate: &str, raw: Vec<u8>) -> Result<(), BenchError> {
    let response = client
        .post(format!("{base}/api/v1/mail/inbound?source=mailgate"))
        .bearer_auth(gate)
        .header("content-type", "message/rfc822")
        .body(raw)
        .send()
        .await?;
    let status = response.status();
    let receipt: Value = serde_json::from_str(&response.text().await?).unwrap_or(Value::Null);
    match status == reqwest::StatusCode::ACCEPTED && receipt["state"] == "imported" {
        true => Ok(()),
        false => Err(BenchError::Server(format!("POST /api/v1/mail/inbound answered {status}: {receipt}"))),
    }
}

/// P14, the server's own rate: the same mix posted to `POST /api/v1/mail/inbound` over
/// `concurrency` connections (no process per message).
async fn posted_row(services: &Arc<Services>, server: &Server, mail: &MailOptions, gate: &str, run: &str) -> Result<BenchRow, BenchError> {
    let lanes = mail.concurrency.max(1);
    let what = format!("the same mix posted to POST /api/v1/mail/inbound, {lanes} connections (the server's own rate) → tickets");
    let args = Arc::new((server.client.clone(), server.base.clone(), gate.to_owned(), run.to_owned()));
    let hand_in = move |i| {
        let args = args.clone();
        async move {
            let (client, base, gate, run) = &*args;
            post_message(client, base, gate, message(run, i)).await
        }
    };
    // After the mailgate's messages in the sequence, so every Message-ID is new.
    let messages = (mail.mailgate_messages, mail.posted_messages);
    handed_in_row(services, messages, lanes, what, "POST /api/v1/mail/inbound", hand_in).await
}

/// P15: `n` messages APPENDed to the mailbox, then one fetch pass (`Services::fetch_mailboxes`,
/// what the server's mailbox worker runs on every wake-up), timed until it has imported them
/// all.
async fn imap_row(services: &Arc<Services>, imap: &ImapAccount, n: usize, run: &str) -> Result<BenchRow, BenchError> {
    let what = format!("IMAP import: {n} messages in the mailbox, one fetch pass (the mailbox worker's) → tickets");
    let Ok(password) = std::env::var(&imap.password_env) else {
        return Ok(not_measured("P15", &what, &format!("the IMAP password variable {} is not set", imap.password_env)));
    };
    let failed = |step: &str, e: String| BenchError::Server(format!("IMAP {}:{} {step}: {e}", imap.host, imap.port));
    let tcp = tokio::net::TcpStream::connect((imap.host.as_str(), imap.port)).await.map_err(|e| failed("connect", e.to_string()))?;
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.map_err(|e| failed("greeting", e.to_string()))?;
    let mut session = client.login(&imap.user, &password).await.map_err(|(e, _)| failed("login", e.to_string()))?;
    // After P14's messages in the sequence, so every Message-ID is new.
    for i in 0..n {
        session.append(&imap.folder, None, None, message(run, 1_000_000 + i)).await.map_err(|e| failed("append", e.to_string()))?;
    }
    session.logout().await.map_err(|e| failed("logout", e.to_string()))?;

    let before = services.ticket_count().await?;
    let started = Instant::now();
    let pass = services.fetch_mailboxes().await?;
    let seconds = started.elapsed().as_secs_f64();
    // Messages left unmarked by an earlier, interrupted run are fetched too; ours must all be in.
    if pass.received < n {
        return Err(failed("fetch pass", format!("{} of {n} messages received", pass.received)));
    }
    let added = services.ticket_count().await? - before;
    if added < n as i64 {
        return Err(failed("fetch pass", format!("{n} messages made {added} tickets")));
    }
    Ok(BenchRow {
        id: "P15",
        what,
        samples: pass.received,
        p50_ms: None,
        p99_ms: None,
        per_second: Some(pass.received as f64 / seconds.max(1e-9)),
        value: Some(format!("{} imported in {seconds:.1} s", pass.received)),
        target: String::new(),
        met: None,
    })
}

/// Pending mails in the outbox (every page counted).
async fn pending_mail(services: &Services) -> Result<usize, BenchError> {
    let operator = Principal::operator();
    let (mut count, mut before) = (0, None);
    loop {
        let (page, next) = services.list_mail(&operator, Some(MailState::Pending), before, 1000).await?;
        count += page.len();
        match next {
            Some(id) => before = Some(id),
            None => return Ok(count),
        }
    }
}

/// Whether any mail was given up.
async fn failed_mail(services: &Services) -> Result<usize, BenchError> {
    let (page, _) = services.list_mail(&Principal::operator(), Some(MailState::Failed), None, 1000).await?;
    Ok(page.len())
}

/// P16: `outbox_backlog` tickets created over HTTP on a server with mail on and no worker (each
/// creation queues its "received" mail in its transaction), then the mail worker's passes (its
/// own code, `MailWorker::send_due`, back to back while a pass finds a full batch, as the
/// running worker does) until the outbox is empty, timed.
async fn outbox_row(services: &Arc<Services>, options: &BenchOptions, token: &str, smtp: &SmtpServer) -> Result<BenchRow, BenchError> {
    let mail = &options.mail;
    let queuing = start(options, token, Mail::On { worker: false }).await?;
    let connections = mail.concurrency.max(1);
    let per_connection = mail.outbox_backlog.div_ceil(connections);
    super::http_creations(&queuing, connections, per_connection).await?;
    queuing.stop().await;
    let backlog = pending_mail(services).await?;
    let failed_before = failed_mail(services).await?;

    let config = MailConfig {
        address: Some(DESK_ADDRESS.into()),
        smtp: steward_services::config::SmtpConfig { host: smtp.host.clone(), port: smtp.port, tls: SmtpTls::None, ..Default::default() },
        outbound: steward_services::config::OutboundMailConfig { batch: mail.batch, ..Default::default() },
        ..MailConfig::default()
    };
    let worker = MailWorker::new(services.clone(), &config).map_err(|e| BenchError::Server(e.to_string()))?;
    let started = Instant::now();
    let mut claimed = 0;
    loop {
        let pass = worker.send_due().await?;
        claimed += pass;
        if pass < mail.batch as usize {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let left = pending_mail(services).await?;
    let failed = failed_mail(services).await? - failed_before;
    if left > 0 || failed > 0 || claimed < backlog {
        return Err(BenchError::Server(format!(
            "P16: of {backlog} queued mails {claimed} were claimed, {left} are still pending and {failed} failed (is the SMTP server at {}:{} taking mail?)",
            smtp.host, smtp.port
        )));
    }
    Ok(BenchRow {
        id: "P16",
        what: format!(
            "notifications sent to the SMTP server by the mail worker (batch {}, {} at once), from a backlog queued by {} ticket creations",
            mail.batch,
            config.outbound.concurrency,
            connections * per_connection
        ),
        samples: claimed,
        p50_ms: None,
        p99_ms: None,
        per_second: Some(claimed as f64 / seconds.max(1e-9)),
        value: Some(format!("{claimed} sent in {seconds:.1} s")),
        target: String::new(),
        met: None,
    })
}

/// The 5 % rule: P1's load (64 connections creating tickets) on a server with mail off, on one
/// with mail on and its worker off (the queuing alone), on one with mail on and its worker
/// sending to the SMTP server meanwhile (P16), and on one with mail
/// off while messages are handed in at a steady rate (P14); the settings in turn, `rounds`
/// times, on the same database. Each ratio is the setting's mean rate over mail off's.
async fn load_rows(options: &BenchOptions, token: &str, gate: &str, run: &str) -> Result<Vec<BenchRow>, BenchError> {
    let mail = &options.mail;
    let (connections, requests) = (options.connections, options.requests_per_connection);
    let outbound_wanted = options.wants("P16") && mail.smtp.is_some();
    let (mut off, mut queuing, mut outbound, mut inbound) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut sent_meanwhile, mut queued, mut handed_in) = (0.0, 0, 0);
    // Every setting once per round, so drift falls on all alike.
    for round in 0..mail.rounds.max(1) {
        let server = start(options, token, Mail::Off).await?;
        off.push(super::http_creations(&server, connections, requests).await?.0);
        server.stop().await;

        if outbound_wanted {
            // Queuing alone (the worker off) splits the creation's own cost from the sending's.
            let server = start(options, token, Mail::On { worker: false }).await?;
            queuing.push(super::http_creations(&server, connections, requests).await?.0);
            server.stop().await;

            let server = start(options, token, Mail::On { worker: true }).await?;
            let sent_before = server.metric("steward_mail_sent_total{outcome=\"sent\"}").await?;
            outbound.push(super::http_creations(&server, connections, requests).await?.0);
            sent_meanwhile += server.metric("steward_mail_sent_total{outcome=\"sent\"}").await? - sent_before;
            queued += connections * requests;
            // What is left waits for the next round's worker: the load queues mail faster than
            // one worker sends it, so the worker is busy throughout every round either way.
            server.stop().await;
        }

        if options.wants("P14") {
            let server = start(options, token, Mail::Off).await?;
            let stop = Arc::new(AtomicBool::new(false));
            let taken = Arc::new(AtomicUsize::new(0));
            // Numbered past every other message of the run.
            let first = 2_000_000 + round * 1_000_000;
            let sender = tokio::spawn(hand_in_steadily(
                server.client.clone(),
                server.base.clone(),
                gate.to_owned(),
                run.to_owned(),
                first,
                stop.clone(),
                taken.clone(),
            ));
            inbound.push(super::http_creations(&server, connections, requests).await?.0);
            stop.store(true, Ordering::SeqCst);
            sender.await??;
            handed_in += taken.load(Ordering::SeqCst);
            server.stop().await;
        }
    }
    let mean = |rates: &[f64]| rates.iter().sum::<f64>() / rates.len().max(1) as f64;
    let base = mean(&off);
    let rounds = off.len();
    let ratio_row = |id: &'static str, what: String, rates: &[f64], extra: String| {
        let ratio = mean(rates) / base.max(1e-9);
        let each = |rates: &[f64]| rates.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ");
        BenchRow {
            id,
            what,
            samples: rates.len() * connections * requests,
            p50_ms: None,
            p99_ms: None,
            per_second: Some(mean(rates)),
            value: Some(format!(
                "ratio {ratio:.3} ({base:.0}/s with mail off; {}: {} against {} per second){extra}",
                plural(rounds, "round each", "rounds each"),
                each(rates),
                each(&off)
            )),
            target: "ratio to mail off ≥ 0.95".into(),
            met: Some(ratio >= 0.95),
        }
    };
    let mut rows = Vec::new();
    if options.wants("P16") {
        let what =
            format!("P1 ({connections} connections) with mail on: a \"received\" mail queued per ticket, the worker sending meanwhile");
        let queuing_what =
            format!("P1 ({connections} connections) with mail on and the worker off: the \"received\" mail queued, none sent");
        match outbound_wanted {
            true => {
                rows.push(ratio_row("P16", queuing_what, &queuing, String::new()));
                rows.push(ratio_row("P16", what, &outbound, format!("; {sent_meanwhile:.0} of {queued} mails sent during the load")));
            }
            false => rows.push(not_measured("P16", &what, "no --smtp")),
        }
    }
    if options.wants("P14") {
        let what = format!(
            "P1 ({connections} connections) while mail is handed in ({INBOUND_DURING_LOAD_PER_SECOND:.0} messages/s to POST /api/v1/mail/inbound)"
        );
        rows.push(ratio_row(
            "P14",
            what,
            &inbound,
            format!("; {} during the load", plural(handed_in, "message imported", "messages imported")),
        ));
    }
    Ok(rows)
}

/// `n` and the noun that goes with it.
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Hands the mix in at [`INBOUND_DURING_LOAD_PER_SECOND`] until `stop`; counts what was taken.
async fn hand_in_steadily(
    client: reqwest::Client,
    base: String,
    gate: String,
    run: String,
    first: usize,
    stop: Arc<AtomicBool>,
    taken: Arc<AtomicUsize>,
) -> Result<(), BenchError> {
    let every = Duration::from_secs_f64(1.0 / INBOUND_DURING_LOAD_PER_SECOND);
    let mut next = tokio::time::Instant::now();
    let mut i = first;
    while !stop.load(Ordering::SeqCst) {
        post_message(&client, &base, &gate, message(&run, i)).await?;
        taken.fetch_add(1, Ordering::SeqCst);
        i += 1;
        next += every;
        tokio::time::sleep_until(next).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_named_as_host_and_port() {
        assert_eq!(parse_host_port("--smtp", "127.0.0.1:2525"), Ok(("127.0.0.1".into(), 2525)));
        assert_eq!(parse_host_port("--imap", "imap://localhost:1143/"), Ok(("localhost".into(), 1143)));
        assert!(parse_host_port("--imap", "imaps://localhost:993").unwrap_err().contains("TLS"));
        assert!(parse_host_port("--smtp", "localhost").unwrap_err().contains("HOST:PORT"));
        assert!(parse_host_port("--smtp", "localhost:http").unwrap_err().contains("not a port"));
    }

    #[test]
    fn the_mix_is_plain_gbk_and_an_attachment_each_with_its_own_id() {
        let plain = String::from_utf8_lossy(&message("r", 0)).into_owned();
        let gbk = message("r", 1);
        let attached = String::from_utf8_lossy(&message("r", 2)).into_owned();
        assert!(plain.contains("Message-ID: <bench-r-0@") && plain.contains("customer-0@"));
        assert!(gbk.windows(11).any(|w| w == b"charset=GBK") && gbk.ends_with(&[0xC7, 0xEB, 0xB0, 0xEF, 0xC3, 0xA6, b'\r', b'\n']));
        assert!(attached.contains("filename=\"error-log.pdf\"") && attached.ends_with("--bench-part--\r\n"));
        let attachment = |i| String::from_utf8_lossy(&message("r", i)).split("base64\r\n\r\n").nth(1).map(str::to_owned);
        assert!(attachment(2).is_some());
        assert_ne!(attachment(2), attachment(5), "each attachment is its own file");
    }
}
