//! Test harness: every test gets the real server on port 0 against a fresh database — a temp
//! SQLite file, or a PostgreSQL database created for it and dropped afterwards.
//!
//! The background loops are off (`test_config`): a test runs background work when it wants it,
//! through the same passes the loops run (`TestApp::sweep_sla`, `run_plugin_jobs`,
//! `deliver_webhooks`, `refresh_metrics`, `watch_certifications`), and asserts on what they did.

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use steward_domain::auth::Role;
use steward_domain::time::Timestamp;
use steward_server::{Application, Config};
use steward_services::config::WorkersConfig;
use steward_services::delivery::DeliveryWorker;
use steward_services::Services;
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each listed test on SQLite and on PostgreSQL. The PostgreSQL variants run when
/// `STEWARD_TEST_POSTGRES_URL` is set; without it they fail when PostgreSQL is required
/// (`STEWARD_TEST_REQUIRE_POSTGRES=1`, or `CI` set) and are skipped otherwise. With
/// `config = path::to::f;` first (a full path), each app's test config is adjusted by
/// `f(&mut Config)` before it starts.
#[macro_export]
macro_rules! on_both_backends {
    (config = $adjust:path; $($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::helpers::TestApp::spawn_with($crate::helpers::Backend::Sqlite, $adjust)
                        .await
                        .expect("sqlite is always available");
                    super::$name(app).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = $crate::helpers::TestApp::spawn_with($crate::helpers::Backend::Postgres, $adjust).await else {
                        return $crate::helpers::postgres_absent();
                    };
                    super::$name(app).await;
                }
            )+
        }
    };
    ($($name:ident),+ $(,)?) => {
        $crate::on_both_backends!(config = $crate::helpers::unchanged; $($name),+);
    };
}

/// The test config as it is (`on_both_backends!` without `config =`).
pub fn unchanged(_: &mut Config) {}

/// What a PostgreSQL test does when `STEWARD_TEST_POSTGRES_URL` is unset: fails when
/// PostgreSQL is required (`tests/run` and `.ci/run` require it whenever they have one), so a
/// lost URL cannot turn the PostgreSQL half of the suite into silent passes; skips otherwise.
pub fn postgres_absent() {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    if set("STEWARD_TEST_REQUIRE_POSTGRES") || set("CI") {
        panic!("PostgreSQL is required (STEWARD_TEST_REQUIRE_POSTGRES or CI is set) but STEWARD_TEST_POSTGRES_URL is not set");
    }
    eprintln!("skipped: STEWARD_TEST_POSTGRES_URL is not set");
}

/// A database made for one test; removed when dropped.
pub enum TestDb {
    /// Holds the directory so it lives as long as the test.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    pub async fn create(backend: Backend) -> Option<(TestDb, String)> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/steward.db", dir.path().display());
                Some((TestDb::Sqlite(dir), url))
            }
            Backend::Postgres => {
                let admin_url = std::env::var("STEWARD_TEST_POSTGRES_URL").ok()?;
                let name = format!("steward_test_{}", uuid::Uuid::now_v7().simple());
                admin_execute(&admin_url, &format!("CREATE DATABASE {name}")).await;
                let url = database_url(&admin_url, &name);
                Some((TestDb::Postgres { admin_url, name }, url))
            }
        }
    }
}

/// The admin URL with its database name replaced.
pub fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url.split_once('?').map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let base = match base.rfind('/') {
        Some(i) if i > base.find("://").map_or(0, |s| s + 2) => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

pub async fn admin_execute(admin_url: &str, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("STEWARD_TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {e}"));
    sqlx::query(sql).execute(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self {
            let (admin_url, sql) = (admin_url.clone(), format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            // Drop runs inside the test's runtime; a thread with its own runtime may block.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(admin_execute(&admin_url, &sql));
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub backend: Backend,
    pub client: reqwest::Client,
    /// A token with the admin role.
    pub token: String,
    pub database_url: String,
    /// Where this server's filesystem attachment store keeps blobs.
    #[allow(dead_code)]
    pub attachments_dir: std::path::PathBuf,
    #[allow(dead_code)]
    pub services: Arc<Services>,
    /// This node's background work, run when the test says so.
    pub workers: Workers,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    // Dropped last: the server must be gone before its database is.
    _db: TestDb,
}

pub fn test_config(database_url: &str) -> Config {
    let mut config = Config { listen: "127.0.0.1:0".into(), ..Config::default() };
    config.database.url = database_url.to_owned();
    config.database.max_connections = 8;
    config.processes.dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/processes").into();
    config.sla.file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/sla.toml").into();
    // Quick, for the tests that turn the sweeper on.
    config.sla.sweep_interval_ms = 50;
    // No background loop runs: tests run each pass themselves (`Workers`), or turn a loop on.
    config.workers = WorkersConfig::none();
    config.webhooks.worker = false;
    // The webhook tests deliver to receivers on loopback; nothing else inside is allowed.
    config.webhooks.allow_private = vec!["127.0.0.1/32".parse().unwrap()];
    // Each server its own blob directory, never the repository's data/.
    config.attachments.directory = std::env::temp_dir().join(format!("steward-attachments-{}", uuid::Uuid::now_v7().simple()));
    config
}

/// One node's background work, run when a test says so. Each method is one pass of a loop that
/// `Application::run_until` runs on a timer when it is switched on, calling the same function.
#[derive(Clone)]
pub struct Workers {
    services: Arc<Services>,
    config: Arc<Config>,
    deliveries: Arc<DeliveryWorker>,
}

impl Workers {
    fn new(services: Arc<Services>, config: Config) -> Workers {
        let deliveries = Arc::new(DeliveryWorker::new(services.clone(), &config.webhooks).expect("webhook client"));
        Workers { services, config: Arc::new(config), deliveries }
    }

    /// One SLA sweep now: records every alert due. Returns how many tickets had due clocks.
    pub async fn sweep_sla(&self) -> usize {
        self.services.sweep_sla(Timestamp::now(), self.config.sla.sweep_batch).await.expect("SLA sweep")
    }

    /// Runs every queued plugin reaction to completion; returns how many jobs ran.
    pub async fn run_plugin_jobs(&self) -> usize {
        self.services.run_pending_plugin_jobs().await
    }

    /// One delivery pass: sends the webhook deliveries due now. Returns how many were claimed.
    pub async fn deliver_webhooks(&self) -> usize {
        self.deliveries.deliver_due().await.expect("webhook delivery pass")
    }

    /// Delivery passes until one finds nothing due; returns how many deliveries were claimed.
    /// (A failed attempt is due again only after its backoff, so this ends.)
    pub async fn deliver_all_due_webhooks(&self) -> usize {
        let mut claimed = 0;
        loop {
            match self.deliver_webhooks().await {
                0 => return claimed,
                n => claimed += n,
            }
        }
    }

    /// Refreshes the gauges that come from the database.
    pub async fn refresh_metrics(&self) {
        self.services.refresh_metrics().await.expect("metrics refresh");
    }

    /// One pass of the certification expiry watcher now; returns how many staff events it recorded.
    pub async fn watch_certifications(&self) -> u64 {
        self.services.watch_certifications(Timestamp::now()).await.expect("certification watch")
    }
}

/// Waits until the wall clock has passed `at` (an instant the API reported, such as a due
/// time): what is due then can be run next. Waits for time, never for a worker.
#[allow(dead_code)]
pub async fn clock_passes(at: jiff::Timestamp) {
    let ahead = at.duration_since(jiff::Timestamp::now());
    if let Ok(ahead) = Duration::try_from(ahead) {
        tokio::time::sleep(ahead + Duration::from_millis(1)).await;
    }
    assert!(jiff::Timestamp::now() > at);
}

/// Polls `check` until it yields a value, failing after 15 s: for tests that leave a loop on and
/// wait on what it does.
#[allow(dead_code)]
pub async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, mut check: impl FnMut() -> F) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "waited 15 s in vain for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Another Steward node on the same database: its own listener, pool and workers (loops per its
/// config). Aborted when dropped; [`Node::stop`] shuts it down gracefully.
#[allow(dead_code)]
pub struct Node {
    pub addr: SocketAddr,
    pub services: Arc<Services>,
    pub workers: Workers,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

#[allow(dead_code)]
impl Node {
    /// A node on `database_url` with the test config, adjusted.
    pub async fn start(database_url: &str, adjust: impl FnOnce(&mut Config)) -> Node {
        let mut config = test_config(database_url);
        adjust(&mut config);
        let app = Application::build(config.clone()).await.expect("node builds");
        let (addr, services) = (app.local_addr(), app.services());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Node { addr, workers: Workers::new(services.clone(), config), services, stop: Some(stop), server: Some(server) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Shuts down gracefully: its loops finish what they are doing (webhook attempts in flight).
    pub async fn stop(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        if let Some(server) = self.server.take() {
            server.await.expect("node task").expect("node ran");
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let (db, url) = TestDb::create(backend).await?;
        let mut config = test_config(&url);
        adjust(&mut config);
        let app = Application::build(config.clone()).await.expect("application builds");
        let addr = app.local_addr();
        let services = app.services();
        let attachments_dir = config.attachments.directory.clone();
        let workers = Workers::new(services.clone(), config);
        let (_, secret) = services.create_token("test-admin", Role::Admin, None).await.expect("admin token");
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        Some(TestApp {
            addr,
            backend,
            client: reqwest::Client::new(),
            token: secret.expose().to_owned(),
            database_url: url,
            attachments_dir,
            services,
            workers,
            shutdown: Some(tx),
            server: Some(server),
            _db: db,
        })
    }

    /// Another node on the same database, with the test config adjusted.
    pub async fn node(&self, adjust: impl FnOnce(&mut Config)) -> Node {
        Node::start(&self.database_url, adjust).await
    }

    /// A connection of its own to the test's database, for tests that read or set rows directly.
    pub async fn database_connection(&self) -> sqlx::AnyConnection {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&self.database_url).await.expect("test database")
    }

    /// Runs SQL on the test's database (to place rows as an older version left them).
    pub async fn exec(&self, sql: &str) {
        let mut conn = self.database_connection().await;
        sqlx::query(sql).execute(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = sqlx::Connection::close(conn).await;
    }

    /// The text of one of this backend's migration files (`0006_staff_replies.sql`).
    pub fn migration_text(&self, file: &str) -> String {
        let dir = if self.backend == Backend::Sqlite { "sqlite" } else { "postgres" };
        let path = format!("{}/../storage/migrations/{dir}/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// One SLA sweep now (see [`Workers::sweep_sla`]).
    pub async fn sweep_sla(&self) -> usize {
        self.workers.sweep_sla().await
    }

    /// Runs every queued plugin reaction to completion (see [`Workers::run_plugin_jobs`]).
    pub async fn run_plugin_jobs(&self) -> usize {
        self.workers.run_plugin_jobs().await
    }

    /// One webhook delivery pass (see [`Workers::deliver_webhooks`]).
    pub async fn deliver_webhooks(&self) -> usize {
        self.workers.deliver_webhooks().await
    }

    /// Delivery passes until nothing is due (see [`Workers::deliver_all_due_webhooks`]).
    pub async fn deliver_all_due_webhooks(&self) -> usize {
        self.workers.deliver_all_due_webhooks().await
    }

    /// Refreshes the database-derived gauges (see [`Workers::refresh_metrics`]).
    pub async fn refresh_metrics(&self) {
        self.workers.refresh_metrics().await
    }

    /// One pass of the certification expiry watcher (see [`Workers::watch_certifications`]).
    pub async fn watch_certifications(&self) -> u64 {
        self.workers.watch_certifications().await
    }

    /// The metrics exposition, as Prometheus scrapes it.
    pub async fn scrape(&self) -> String {
        let r = self.client.get(self.url("/metrics")).send().await.expect("scrape sent");
        assert_eq!(r.status(), StatusCode::OK);
        r.text().await.expect("exposition text")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A request with the admin token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(&self.token)
    }

    pub fn request_as(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(token)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.expect("request sent")
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path).json(body).send().await.expect("request sent")
    }

    pub async fn patch(&self, path: &str, if_match: Option<&str>, body: &Value) -> Response {
        let mut r = self.request(Method::PATCH, path).json(body);
        if let Some(tag) = if_match {
            r = r.header("If-Match", tag);
        }
        r.send().await.expect("request sent")
    }

    /// Creates a token with `role` through the API and returns its secret.
    pub async fn token_with_role(&self, role: &str) -> String {
        let r = self.post("/api/v1/tokens", &json!({"name": format!("{role}-token"), "role": role})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        body(r).await["token"].as_str().expect("secret").to_owned()
    }

    /// Creates a ticket with sensible defaults merged with `fields`; returns its JSON.
    pub async fn create_ticket(&self, fields: Value) -> Value {
        let mut ticket = json!({
            "title": "Printer on fire",
            "channel": "phone",
            "priority": "high",
            "customer": {"name": "ACME Ltd", "contact": "ops@acme.test"},
        });
        merge(&mut ticket, fields);
        let r = self.post("/api/v1/tickets", &ticket).await;
        assert_eq!(r.status(), StatusCode::CREATED, "creating {ticket}");
        body(r).await
    }

    pub async fn create_staff(&self, name: &str, email: &str, role: &str) -> Value {
        let r = self.post("/api/v1/staff", &json!({"name": name, "email": email, "role": role, "team": "support"})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        body(r).await
    }

    pub async fn transition(&self, ticket: &str, to: &str) -> Response {
        self.post(&format!("/api/v1/tickets/{ticket}/transitions"), &json!({"to": to})).await
    }

    pub async fn events(&self, ticket: &str) -> Vec<Value> {
        let r = self.get(&format!("/api/v1/tickets/{ticket}/events?limit=200")).await;
        assert_eq!(r.status(), StatusCode::OK);
        body(r).await["items"].as_array().expect("items").clone()
    }

    pub fn trigger_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub async fn wait_stopped(&mut self) {
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server ran");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        t.insert(k, v);
                    }
                }
            }
        }
        (t, p) => *t = p,
    }
}

pub async fn body(r: Response) -> Value {
    let text = r.text().await.expect("body read");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts a problem+json response with this status; returns the problem.
pub async fn problem(r: Response, status: StatusCode) -> Value {
    assert_eq!(r.status(), status, "status");
    let content_type = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let p = body(r).await;
    assert_eq!(p["status"], status.as_u16(), "{p}");
    assert!(p["type"].as_str().is_some_and(|t| t.starts_with("/problems/")), "{p}");
    assert!(p["title"].is_string() && p["detail"].is_string(), "{p}");
    p
}

/// The field names a validation problem lists.
pub fn problem_fields(p: &Value) -> Vec<String> {
    p["errors"].as_array().map(|e| e.iter().map(|e| e["field"].as_str().unwrap_or("").to_owned()).collect()).unwrap_or_default()
}

/// The password every console test person gets.
pub const CONSOLE_PASSWORD: &str = "correct horse battery staple";

/// A browser-like console client: follows no redirects (tests look at them), sends form posts
/// as our own pages do (`Sec-Fetch-Site: same-origin`) and keeps the session cookie.
pub struct ConsoleSession {
    pub client: reqwest::Client,
    base: String,
    pub cookie: Option<String>,
}

impl ConsoleSession {
    pub fn anonymous(app: &TestApp) -> ConsoleSession {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        ConsoleSession { client, base: format!("http://{}", app.addr), cookie: None }
    }

    /// Creates a staff member with a login, sets the password through the set-password link
    /// and signs in through the sign-in page. Returns the session and the staff member's JSON.
    pub async fn person(app: &TestApp, name: &str, email: &str, role: &str) -> (ConsoleSession, Value) {
        let staff = app.create_staff(name, email, role).await;
        Self::login_for(app, &staff, json!({})).await;
        let mut session = ConsoleSession::anonymous(app);
        let r = session.sign_in(email, CONSOLE_PASSWORD).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name} signs in");
        (session, staff)
    }

    /// A login (with `extra` fields, e.g. `partner_id`) and its password, for this staff member.
    pub async fn login_for(app: &TestApp, staff: &Value, extra: Value) -> Value {
        let mut request = json!({"staff_id": staff["id"]});
        merge(&mut request, extra);
        let r = app.post("/api/v1/logins", &request).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let login = body(r).await;
        let r = app.post(&format!("/api/v1/logins/{}/set-password-link", login["id"].as_str().unwrap()), &json!({})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let path = body(r).await["path"].as_str().unwrap().to_owned();
        app.services.set_password(path.strip_prefix("/set-password/").unwrap(), CONSOLE_PASSWORD).await.expect("password set");
        login
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The same signed-in session, speaking to another node (sessions live in the database).
    #[allow(dead_code)]
    pub fn on(&self, node: &Node) -> ConsoleSession {
        ConsoleSession { client: self.client.clone(), base: node.url(""), cookie: self.cookie.clone() }
    }

    fn with_cookie(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.cookie {
            Some(cookie) => request.header(reqwest::header::COOKIE, cookie),
            None => request,
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.with_cookie(self.client.get(self.url(path))).send().await.expect("console GET")
    }

    /// A same-origin form post.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.with_cookie(self.client.post(self.url(path)).header("sec-fetch-site", "same-origin").form(form))
            .send()
            .await
            .expect("console POST")
    }

    /// A multipart form post (a file upload) with the given `Sec-Fetch-Site`.
    #[allow(dead_code)]
    pub async fn post_multipart(&self, path: &str, form: reqwest::multipart::Form, fetch_site: &str) -> Response {
        self.with_cookie(self.client.post(self.url(path)).header("sec-fetch-site", fetch_site).multipart(form))
            .send()
            .await
            .expect("console multipart POST")
    }

    /// A same-origin form post as htmx sends it (`HX-Request`): the page answers with fragments.
    pub async fn post_htmx(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.with_cookie(self.client.post(self.url(path)).header("sec-fetch-site", "same-origin").header("hx-request", "true").form(form))
            .send()
            .await
            .expect("console htmx POST")
    }

    /// Posts the sign-in form; keeps the session cookie it sets.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> Response {
        let r = self.post("/sign-in", &[("email", email), ("password", password)]).await;
        if let Some(set) = r.headers().get(reqwest::header::SET_COOKIE).and_then(|v| v.to_str().ok()) {
            let pair = set.split(';').next().unwrap_or_default();
            self.cookie = pair.split_once('=').is_some_and(|(_, v)| !v.is_empty()).then(|| pair.to_owned());
        }
        r
    }

    /// GETs a page that must answer 200 with HTML; returns the HTML.
    pub async fn page(&self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.text().await.expect("html")
    }
}
