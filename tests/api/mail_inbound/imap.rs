//! IMAP import against a real dovecot: the test starts its own instance (a temp config, a
//! passwd-file user, a maildir under a temp dir, a free port; no system service), appends
//! messages over IMAP, runs the fetch pass and checks the tickets and the flagged and moved
//! messages. dovecot comes from Debian's `dovecot-imapd` (tests/run installs it); without it
//! the test is skipped, unless `CI` or `STEWARD_TEST_REQUIRE_IMAP=1` requires it.

use crate::helpers::{body, Backend, TestApp};
use futures_util::TryStreamExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use steward_services::config::{MailTicketDefaults, MailboxConfig};

pub(crate) const USER: &str = "support";
pub(crate) const PASSWORD: &str = "imap-test-secret";

/// A dovecot of the test's own, stopped when dropped (also the one `steward bench --quick`
/// fetches from, tests/api/seed.rs).
pub(crate) struct Dovecot {
    pub(crate) port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dovecot_binary() -> Option<PathBuf> {
    ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"].iter().map(PathBuf::from).find(|p| p.exists())
}

fn required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var("STEWARD_TEST_REQUIRE_IMAP").is_ok_and(|v| v == "1")
}

fn id(flag: &str, name: &str) -> u32 {
    let out = Command::new("id").args([flag, name]).output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a numeric id")
}

impl Dovecot {
    pub(crate) async fn start() -> Option<Dovecot> {
        let Some(binary) = dovecot_binary() else {
            assert!(!required(), "dovecot is required here (CI): install the Debian package dovecot-imapd (tests/run does)");
            eprintln!("note: dovecot missing; the IMAP test is skipped (install dovecot-imapd)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for sub in ["run", "state", "home"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::write(root.join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).unwrap();
        let me = Command::new("id").arg("-un").output().unwrap();
        let me = String::from_utf8_lossy(&me.stdout).trim().to_owned();
        // As root, dovecot's login and mail processes must run as unprivileged users: Debian's
        // package creates `dovenull` and `dovecot`. Otherwise everything runs as the caller.
        let is_root = id("-u", &me) == 0;
        let (internal, login) = if is_root { ("dovecot".to_owned(), "dovenull".to_owned()) } else { (me.clone(), me.clone()) };
        let (uid, gid) = (id("-u", &internal), id("-g", &internal));
        if is_root {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::os::unix::fs::chown(root.join("home"), Some(uid), Some(gid)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let r = root.display();
        let config = format!(
            "base_dir = {r}/run\nstate_dir = {r}/state\nlog_path = {r}/dovecot.log\nprotocols = imap\nlisten = 127.0.0.1\n\
             ssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\n\
             default_internal_user = {internal}\ndefault_login_user = {login}\nfirst_valid_uid = {uid}\n\
             mail_location = maildir:~/Maildir\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {r}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={r}/home/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
             namespace inbox {{\n  inbox = yes\n  mailbox Second {{\n    auto = create\n  }}\n  mailbox Imported {{\n    auto = create\n  }}\n}}\n"
        );
        let config_path = root.join("dovecot.conf");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(binary)
            .args(["-F", "-c", config_path.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dovecot starts");
        let dovecot = Dovecot { port, child, dir };
        for _ in 0..100 {
            if let Ok(mut session) = dovecot.session().await {
                let _ = session.logout().await;
                return Some(dovecot);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(dovecot.dir.path().join("dovecot.log")).unwrap_or_default();
        panic!("dovecot did not come up on port {port}: {log}");
    }

    async fn session(&self) -> Result<async_imap::Session<tokio::net::TcpStream>, String> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.map_err(|e| e.to_string())?;
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.map_err(|e| e.to_string())?.ok_or("no greeting")?;
        client.login(USER, PASSWORD).await.map_err(|(e, _)| e.to_string())
    }

    async fn append(&self, folder: &str, message: &[u8]) {
        let mut s = self.session().await.unwrap();
        s.append(folder, None, None, message).await.unwrap();
        s.logout().await.unwrap();
    }

    /// Each message in `folder` with whether it carries `\Seen`.
    pub(crate) async fn seen_flags(&self, folder: &str) -> Vec<bool> {
        let mut s = self.session().await.unwrap();
        let mailbox = s.select(folder).await.unwrap();
        let mut seen = Vec::new();
        if mailbox.exists > 0 {
            let fetched: Vec<_> = s.fetch("1:*", "(FLAGS)").await.unwrap().try_collect().await.unwrap();
            seen = fetched.iter().map(|f| f.flags().any(|flag| flag == async_imap::types::Flag::Seen)).collect();
        }
        s.logout().await.unwrap();
        seen
    }

    fn mailbox(&self, name: &str, folder: &str, move_to: Option<&str>, password_env: &str) -> MailboxConfig {
        MailboxConfig {
            name: name.into(),
            host: "127.0.0.1".into(),
            port: self.port,
            tls: false,
            username: USER.into(),
            password_env: password_env.into(),
            folder: folder.into(),
            move_to: move_to.map(str::to_owned),
            flag: "\\Seen".into(),
            poll_interval_secs: 1,
            defaults: MailTicketDefaults { priority: Some("high".into()), ..MailTicketDefaults::default() },
        }
    }
}

fn mail(id: &str, subject: &str) -> Vec<u8> {
    format!("From: Ann <ann@customer.example>\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\r\nFrom the mailbox.\r\n").into_bytes()
}

async fn imap_mail_becomes_tickets_and_is_marked_after_the_import(backend: Backend) {
    let Some(dovecot) = Dovecot::start().await else { return };
    // The password is read from the environment variable the mailbox names; one per backend
    // so the two tests never race on it.
    let password_env = format!("STEWARD_TEST_IMAP_PASSWORD_{}", backend_name(backend));
    std::env::set_var(&password_env, PASSWORD);
    let flagged = dovecot.mailbox("flagged", "INBOX", None, &password_env);
    let moved = dovecot.mailbox("moved", "Second", Some("Imported"), &password_env);
    let Some(app) = TestApp::spawn_with(backend, |c| c.mail.mailboxes = vec![flagged.clone(), moved.clone()]).await else {
        return crate::helpers::postgres_absent();
    };
    dovecot.append("INBOX", &mail("imap-1@customer.example", "First by IMAP")).await;
    dovecot.append("INBOX", &mail("imap-2@customer.example", "Second by IMAP")).await;
    dovecot.append("Second", &mail("imap-3@customer.example", "Third by IMAP")).await;
    assert_eq!(dovecot.seen_flags("INBOX").await, [false, false]);

    let pass = app.services.fetch_mailboxes().await.expect("IMAP pass");
    assert_eq!((pass.received, pass.refused, pass.idle), (3, 0, true), "{pass:?}");
    let tickets = body(app.get("/api/v1/tickets?limit=10").await).await;
    let mut titles: Vec<&str> = tickets["items"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect();
    titles.sort_unstable();
    assert_eq!(titles, ["First by IMAP", "Second by IMAP", "Third by IMAP"]);
    assert!(tickets["items"].as_array().unwrap().iter().all(|t| t["channel"] == "email" && t["priority"] == "high"));
    // Flagged in place, or moved; nothing deleted.
    assert_eq!(dovecot.seen_flags("INBOX").await, [true, true]);
    assert!(dovecot.seen_flags("Second").await.is_empty());
    assert_eq!(dovecot.seen_flags("Imported").await.len(), 1);

    // A second pass finds nothing new; a message arriving later is fetched by the next one.
    assert_eq!(app.services.fetch_mailboxes().await.unwrap().received, 0);
    dovecot.append("INBOX", &mail("imap-1@customer.example", "First by IMAP, delivered twice")).await;
    assert_eq!(app.services.fetch_mailboxes().await.unwrap().received, 1);
    let tickets = body(app.get("/api/v1/tickets?limit=10").await).await;
    assert_eq!(tickets["items"].as_array().unwrap().len(), 3, "the same Message-ID makes no second ticket");

    // A wrong password is an error of the pass, not a lost message.
    std::env::set_var(&password_env, "wrong");
    assert!(app.services.fetch_mailboxes().await.is_err());
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLITE",
        Backend::Postgres => "POSTGRES",
    }
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn imap_mail_becomes_tickets_and_is_marked_after_the_import() {
        super::imap_mail_becomes_tickets_and_is_marked_after_the_import(crate::helpers::Backend::Sqlite).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn imap_mail_becomes_tickets_and_is_marked_after_the_import() {
        super::imap_mail_becomes_tickets_and_is_marked_after_the_import(crate::helpers::Backend::Postgres).await;
    }
}
