//! Outbound mail over TLS with AUTH, against a real server: aiosmtpd requiring STARTTLS (or
//! speaking TLS from the first byte) and a password (tests/fixtures/smtp/secure_smtp_server.py),
//! with a certificate from a CA made by openssl's CLI at test time. The worker trusts that CA
//! only because `mail.smtp.ca_file` names it: without it, or with another CA, the relay is
//! refused.

use super::{email_ticket, MailApp, SmtpServer};
use crate::helpers::{clock_passes, Backend};
use serde_json::json;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;
use steward_server::Config;
use steward_services::config::SmtpTls;

on_both_backends_with_mail!(
    starttls_with_auth_login_delivers_the_mail,
    starttls_with_auth_plain_delivers_the_mail,
    implicit_tls_with_auth_delivers_the_mail,
    a_wrong_password_is_retried_then_failed_with_the_servers_refusal,
    a_relay_whose_certificate_is_not_trusted_is_refused,
);

const USER: &str = "steward";
const PASSWORD: &str = "correct horse battery";
const PASSWORD_ENV: &str = "STEWARD_TEST_SMTP_PASSWORD";

/// A test CA (`ca.pem`), a server certificate it signed for 127.0.0.1 and localhost
/// (`server.pem`, `server.key`), and a second CA that signed nothing (`other-ca.pem`).
struct TestPki {
    dir: tempfile::TempDir,
}

impl TestPki {
    fn generate() -> TestPki {
        let dir = tempfile::tempdir().expect("a directory for the certificates");
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("openssl runs (the TLS mail tests make their certificates with it)");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        let ec_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        for ca in ["ca", "other-ca"] {
            let (key, pem, subject) = (format!("{ca}.key"), format!("{ca}.pem"), format!("/CN=Steward test {ca}"));
            let mut args = vec!["req", "-x509"];
            args.extend(ec_key);
            args.extend(["-keyout", &key, "-out", &pem, "-days", "2", "-subj", &subject]);
            args.extend(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
            openssl(&args);
        }
        let mut args = vec!["req", "-new"];
        args.extend(ec_key);
        args.extend(["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
        openssl(&args);
        std::fs::write(
            dir.path().join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .expect("extensions file");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ]);
        TestPki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A server requiring TLS (`starttls` or `smtps`) and AUTH as [`USER`] with [`PASSWORD`],
/// offering only `mechanism` when given; not yet started.
fn secured_server(pki: &TestPki, mode: &str, mechanism: Option<&str>) -> Option<SmtpServer> {
    let (cert, key) = (pki.path("server.pem"), pki.path("server.key"));
    let mut args: Vec<&OsStr> = vec!["--mode".as_ref(), mode.as_ref(), "--cert".as_ref(), cert.as_os_str(), "--key".as_ref()];
    args.extend([key.as_os_str(), "--user".as_ref(), USER.as_ref(), "--password".as_ref(), PASSWORD.as_ref()]);
    if let Some(mechanism) = mechanism {
        args.extend([OsStr::new("--mechanism"), OsStr::new(mechanism)]);
    }
    SmtpServer::prepare_secured(&args)
}

/// An app whose worker reaches `smtp` with `tls`, trusting `ca_file`, as [`USER`] with
/// `password` (from the variable the config names, as in production).
async fn secured_app(
    backend: Backend,
    smtp: &SmtpServer,
    tls: SmtpTls,
    ca_file: Option<PathBuf>,
    password: &str,
    adjust: impl FnOnce(&mut Config),
) -> MailApp {
    let password = password.to_owned();
    let configure = |c: &mut Config| {
        c.mail.smtp.tls = tls;
        c.mail.smtp.ca_file = ca_file;
        c.mail.smtp.username = Some(USER.into());
        c.mail.smtp.password_env = Some(PASSWORD_ENV.into());
        adjust(c);
    };
    MailApp::spawn_with_env(backend, smtp, configure, move |name| (name == PASSWORD_ENV).then(|| password.clone())).await
}

/// The one mail a new ticket queues reaches the server, over TLS, authenticated with `mechanism`.
async fn delivered(backend: Backend, mode: &str, tls: SmtpTls, mechanism: Option<&str>) {
    let pki = TestPki::generate();
    let Some(mut smtp) = secured_server(&pki, mode, mechanism) else { return };
    smtp.start().await;
    let m = secured_app(backend, &smtp, tls, Some(pki.path("ca.pem")), PASSWORD, |_| {}).await;
    let t = m.app.create_ticket(email_ticket(json!({}))).await;
    assert_eq!(m.send_due().await, 1);
    let received = smtp.messages();
    assert_eq!(received.len(), 1, "outbox: {:?}", m.outbox("").await);
    let mail = &received[0];
    assert_eq!(mail.to, "ada@example.com");
    assert!(mail.subject.starts_with(&format!("[{}] ", t["number"].as_str().unwrap())), "{}", mail.subject);
    assert!(mail.raw.starts_with("X-Test-Tls: TLSv1."), "the server saw TLS: {}", mail.raw);
    let auth = mail.raw.lines().find_map(|l| l.strip_prefix("X-Test-Auth: ")).expect("the server's AUTH stamp").trim();
    let expected = format!("{} {USER}", mechanism.unwrap_or("PLAIN"));
    assert_eq!(auth, expected, "authenticated as the configured user");
    assert_eq!(m.outbox("?state=sent").await.len(), 1);
}

async fn starttls_with_auth_login_delivers_the_mail(backend: Backend) {
    delivered(backend, "starttls", SmtpTls::Starttls, Some("LOGIN")).await;
}

async fn starttls_with_auth_plain_delivers_the_mail(backend: Backend) {
    delivered(backend, "starttls", SmtpTls::Starttls, Some("PLAIN")).await;
}

async fn implicit_tls_with_auth_delivers_the_mail(backend: Backend) {
    // Both mechanisms offered: lettre prefers PLAIN.
    delivered(backend, "smtps", SmtpTls::Tls, None).await;
}

async fn a_wrong_password_is_retried_then_failed_with_the_servers_refusal(backend: Backend) {
    let pki = TestPki::generate();
    let Some(mut smtp) = secured_server(&pki, "starttls", None) else { return };
    smtp.start().await;
    let adjust = |c: &mut Config| c.mail.outbound.max_attempts = 2;
    let m = secured_app(backend, &smtp, SmtpTls::Starttls, Some(pki.path("ca.pem")), "not the password", adjust).await;
    m.app.create_ticket(email_ticket(json!({}))).await;
    assert_eq!(m.send_due().await, 1);
    let pending = m.outbox("?state=pending").await;
    assert_eq!(pending.len(), 1, "retried after the refusal");
    let error = pending[0]["attempts"][0]["error"].as_str().expect("the attempt's error").to_owned();
    assert!(error.contains("refused") && error.contains("535"), "the server's refusal is logged: {error}");
    m.app.refresh_metrics().await;
    assert!(m.app.scrape().await.contains("steward_mail_sent_total{outcome=\"retrying\"} 1"));
    clock_passes(pending[0]["next_attempt_at"].as_str().unwrap().parse().unwrap()).await;
    assert_eq!(m.send_due().await, 1);
    let failed = m.outbox("?state=failed").await;
    assert_eq!(failed.len(), 1, "given up after max_attempts");
    assert_eq!(failed[0]["attempts"].as_array().unwrap().len(), 2);
    assert!(failed[0]["last_error"].as_str().unwrap().contains("535"), "{}", failed[0]["last_error"]);
    m.app.refresh_metrics().await;
    let scrape = m.app.scrape().await;
    assert!(scrape.contains("steward_mail_sent_total{outcome=\"failed\"} 1"), "{scrape}");
    assert!(scrape.contains("steward_mail_sent_total{outcome=\"sent\"} 0"), "{scrape}");
    assert!(smtp.messages().is_empty(), "nothing was accepted");
}

async fn a_relay_whose_certificate_is_not_trusted_is_refused(backend: Backend) {
    let pki = TestPki::generate();
    // STARTTLS while trusting another CA; TLS from the first byte trusting the public roots only.
    for (mode, tls, ca_file) in [("starttls", SmtpTls::Starttls, Some(pki.path("other-ca.pem"))), ("smtps", SmtpTls::Tls, None)] {
        let Some(mut smtp) = secured_server(&pki, mode, None) else { return };
        smtp.start().await;
        let m = secured_app(backend, &smtp, tls, ca_file, PASSWORD, |c| c.mail.outbound.max_attempts = 1).await;
        m.app.create_ticket(email_ticket(json!({}))).await;
        assert_eq!(m.send_due().await, 1);
        assert!(smtp.messages().is_empty(), "{mode}: nothing is sent to an untrusted relay");
        let failed = m.outbox("?state=failed").await;
        assert_eq!(failed.len(), 1, "{mode}: the attempt failed");
        let error = failed[0]["last_error"].as_str().unwrap();
        assert!(error.contains("TLS") && error.contains("certificate"), "{mode}: the refusal says why: {error}");
        m.app.refresh_metrics().await;
        assert!(m.app.scrape().await.contains("steward_mail_sent_total{outcome=\"failed\"} 1"), "{mode}");
    }
}
