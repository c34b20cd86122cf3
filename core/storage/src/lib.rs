//! Storage: the one place that knows SQL.
//!
//! One `Store` serves SQLite and PostgreSQL through sqlx's `Any` driver with portable SQL
//! (`$1` placeholders, BIGINT/TEXT/BOOLEAN columns, instants as epoch milliseconds). The few
//! real differences between the engines live in [`Backend`] methods: how a writer begins, how a
//! ticket number is allocated, how rows are locked or claimed, and the migration files.

pub mod attachments;
mod bulk;
mod error;
mod feedback;
pub mod improvements;
pub mod kpis;
pub mod live;
pub mod logins;
pub mod mail;
pub mod mail_inbound;
pub mod partners;
pub mod queues;
pub mod sla;
mod sql;
pub mod staff;
pub mod tickets;
pub mod tokens;
pub mod training;
pub mod webhooks;

pub(crate) use error::Operation;
pub use error::{unique, StoreError};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::borrow::Cow;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(redact(url)))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// Appended to a SELECT inside a write transaction to lock the rows it reads. SQLite needs
    /// none: `BEGIN IMMEDIATE` already holds the database's write lock.
    pub(crate) fn lock_rows(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// Appended to the SELECT that picks rows to claim, so that concurrent claimers each take
    /// different rows instead of queueing on the same ones. SQLite needs none: claims run under
    /// `BEGIN IMMEDIATE`, one writer at a time.
    pub(crate) fn skip_locked_rows(self, table: &str) -> String {
        match self {
            Backend::Sqlite => String::new(),
            Backend::Postgres => format!(" FOR UPDATE OF {table} SKIP LOCKED"),
        }
    }

    /// A statement to run first in a transaction that rebuilds what `table` accumulates: no
    /// other transaction can add rows to it until this one ends, and those that have added
    /// rows are waited for (reads go on). SQLite needs none: `BEGIN IMMEDIATE` already holds
    /// the database's write lock.
    pub(crate) fn lock_out_inserts(self, table: &str) -> Option<String> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some(format!("LOCK TABLE {table} IN EXCLUSIVE MODE")),
        }
    }

    /// The text of `key` in the JSON object held in the TEXT column `column` (NULL when absent).
    pub(crate) fn json_text(self, column: &str, key: &str) -> String {
        match self {
            Backend::Sqlite => format!("json_extract({column}, '$.{key}')"),
            Backend::Postgres => format!("(({column})::jsonb ->> '{key}')"),
        }
    }

    fn migrations(self) -> &'static [(i64, &'static str, &'static str)] {
        match self {
            Backend::Sqlite => &[
                (1, "foundation", include_str!("../migrations/sqlite/0001_foundation.sql")),
                (2, "service standards", include_str!("../migrations/sqlite/0002_service_standards.sql")),
                (3, "webhooks", include_str!("../migrations/sqlite/0003_webhooks.sql")),
                (4, "partners and training", include_str!("../migrations/sqlite/0004_partners_training.sql")),
                (5, "kpis", include_str!("../migrations/sqlite/0005_kpis.sql")),
                (6, "staff replies", include_str!("../migrations/sqlite/0006_staff_replies.sql")),
                (7, "console auth", include_str!("../migrations/sqlite/0007_console_auth.sql")),
                (8, "login preferences", include_str!("../migrations/sqlite/0008_login_preferences.sql")),
                (9, "queue counters", include_str!("../migrations/sqlite/0009_queue_counters.sql")),
                (10, "event position", include_str!("../migrations/sqlite/0010_event_position.sql")),
                (11, "queue backfill", include_str!("../migrations/sqlite/0011_queue_backfill.sql")),
                (12, "gate overrides", include_str!("../migrations/sqlite/0012_gate_overrides.sql")),
                (13, "attachments", include_str!("../migrations/sqlite/0013_attachments.sql")),
                (14, "mail inbound", include_str!("../migrations/sqlite/0014_mail_inbound.sql")),
                (15, "mail outbox", include_str!("../migrations/sqlite/0015_mail_outbox.sql")),
                (16, "mail attachments owed", include_str!("../migrations/sqlite/0016_mail_attachments_owed.sql")),
                (17, "clock calendars", include_str!("../migrations/sqlite/0017_clock_calendars.sql")),
                (18, "improvements", include_str!("../migrations/sqlite/0018_improvements.sql")),
                (19, "mail outbox lean", include_str!("../migrations/sqlite/0019_mail_outbox_lean.sql")),
            ],
            Backend::Postgres => &[
                (1, "foundation", include_str!("../migrations/postgres/0001_foundation.sql")),
                (2, "service standards", include_str!("../migrations/postgres/0002_service_standards.sql")),
                (3, "webhooks", include_str!("../migrations/postgres/0003_webhooks.sql")),
                (4, "partners and training", include_str!("../migrations/postgres/0004_partners_training.sql")),
                (5, "kpis", include_str!("../migrations/postgres/0005_kpis.sql")),
                (6, "staff replies", include_str!("../migrations/postgres/0006_staff_replies.sql")),
                (7, "console auth", include_str!("../migrations/postgres/0007_console_auth.sql")),
                (8, "login preferences", include_str!("../migrations/postgres/0008_login_preferences.sql")),
                (9, "queue counters", include_str!("../migrations/postgres/0009_queue_counters.sql")),
                (10, "event position", include_str!("../migrations/postgres/0010_event_position.sql")),
                (11, "queue backfill", include_str!("../migrations/postgres/0011_queue_backfill.sql")),
                (12, "gate overrides", include_str!("../migrations/postgres/0012_gate_overrides.sql")),
                (13, "attachments", include_str!("../migrations/postgres/0013_attachments.sql")),
                (14, "mail inbound", include_str!("../migrations/postgres/0014_mail_inbound.sql")),
                (15, "mail outbox", include_str!("../migrations/postgres/0015_mail_outbox.sql")),
                (16, "mail attachments owed", include_str!("../migrations/postgres/0016_mail_attachments_owed.sql")),
                (17, "clock calendars", include_str!("../migrations/postgres/0017_clock_calendars.sql")),
                (18, "improvements", include_str!("../migrations/postgres/0018_improvements.sql")),
                (19, "mail outbox lean", include_str!("../migrations/postgres/0019_mail_outbox_lean.sql")),
            ],
        }
    }
}

/// Where the database is and how the pool behaves (`[database]` in `steward.toml`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/file.db` or `postgres://user@host:port/db`.
    pub url: String,
    pub max_connections: u32,
    /// Seconds to wait for a pooled connection before failing the request.
    pub acquire_timeout_secs: u64,
    /// SQLite `synchronous` pragma: `full` survives power loss; `normal` only process crashes.
    pub sqlite_synchronous: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://data/steward.db".into(),
            max_connections: 16,
            acquire_timeout_secs: 10,
            sqlite_synchronous: "full".into(),
        }
    }
}

/// A URL with its password, if any, masked, fit for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// The database behind Steward. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where write transactions begin. On SQLite a pool of one connection: writers queue for
    /// it in order instead of polling SQLite's lock through the busy timeout (which sleeps and
    /// retries, and under load spends more time sleeping than writing). On PostgreSQL the
    /// same pool as reads.
    writer: AnyPool,
    backend: Backend,
    /// Where the live feed's listener connects (PostgreSQL), with its own connection.
    url: String,
    /// What events mail, and how (`[mail]`); None: no mail is queued.
    mail: Option<std::sync::Arc<steward_domain::mail::MailSettings>>,
}

/// Outbox rows leased to one claimer (see `Store::lease_due`).
pub(crate) struct Leased {
    pub ids: Vec<String>,
    pub token: String,
    pub tx: Transaction<'static, Any>,
}

static INSTALL_DRIVERS: std::sync::Once = std::sync::Once::new();

impl Store {
    /// Opens a pool. A SQLite file and its directory are created when missing; every SQLite
    /// connection runs in WAL mode with foreign keys on and a busy timeout.
    pub async fn connect(config: &DatabaseConfig) -> Result<Store, StoreError> {
        INSTALL_DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = Backend::from_url(&config.url)?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(&config.url)?,
            Backend::Postgres => config.url.clone(),
        };
        let pragmas = format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
            config.sqlite_synchronous
        );
        let options = |max_connections: u32| {
            let pragmas = pragmas.clone();
            AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(config.acquire_timeout_secs))
                .after_connect(move |conn, _meta| {
                    let pragmas = pragmas.clone();
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            conn.execute(pragmas.as_str()).await?;
                        }
                        Ok(())
                    })
                })
        };
        if backend == Backend::Postgres {
            // One direct attempt first: the pool retries a refused connection until
            // `acquire_timeout_secs` and then reports only the timeout, hiding the cause.
            match <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await {
                Ok(conn) => drop(sqlx::Connection::close(conn).await),
                Err(e) => {
                    return Err(StoreError::Unavailable(format!(
                        "cannot connect to PostgreSQL at {}: {}",
                        postgres_address(&url),
                        connect_cause(&e)
                    )))
                }
            }
        }
        let pool = options(config.max_connections).connect(&url).await?;
        let writer = match backend {
            Backend::Sqlite => options(1).connect(&url).await?,
            Backend::Postgres => pool.clone(),
        };
        Ok(Store { pool, writer, backend, url, mail: None })
    }

    /// Queues mail with every event that causes one, as `settings` say.
    pub fn with_mail(mut self, settings: steward_domain::mail::MailSettings) -> Store {
        self.mail = Some(std::sync::Arc::new(settings));
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations. Safe to run from several nodes at once on PostgreSQL (an
    /// advisory lock serialises them).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.migrate_up_to(i64::MAX).await
    }

    /// Applies the pending migrations numbered up to `last`: a database as an older release
    /// left it, for the upgrade tests.
    async fn migrate_up_to(&self, last: i64) -> Result<(), StoreError> {
        Operation("migrate")
            .run(async {
                let migrations = self
                    .backend
                    .migrations()
                    .iter()
                    .filter(|(version, _, _)| *version <= last)
                    .map(|(version, description, sql)| {
                        Migration::new(*version, Cow::Borrowed(*description), MigrationType::Simple, Cow::Borrowed(*sql), false)
                    })
                    .collect::<Vec<_>>();
                let migrator = Migrator { migrations: Cow::Owned(migrations), ..Migrator::DEFAULT };
                migrator.run(&self.pool).await?;
                Ok(())
            })
            .await
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        Operation("ping")
            .run(async {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            })
            .await
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so a read-then-write transaction never fails with SQLITE_BUSY when
    /// another writer committed in between; writers queue for the one writer connection.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Leases up to `limit` due rows of an outbox (webhook deliveries, mail) to one claimer until
    /// `lease_until`. `due` is the `FROM … WHERE …` that selects the due rows, naming the outbox
    /// `alias` and using placeholders `$1…` for `binds`. The rows are looked for first without a
    /// write lock, so an idle worker never takes SQLite's; then leased in the order they fell due,
    /// concurrent claimers on PostgreSQL skipping each other's rows. None: nothing was due. Else
    /// the leased ids, the token proving the lease, and the still open write transaction, in
    /// which the claimer reads what sending them takes before committing.
    pub(crate) async fn lease_due(
        &self,
        table: &str,
        alias: &str,
        due: &str,
        binds: Vec<sql::Bind>,
        lease_until: steward_domain::time::Timestamp,
        limit: u32,
    ) -> Result<Option<Leased>, StoreError> {
        let probe = format!("SELECT {alias}.id FROM {due} LIMIT 1");
        let any_due = sql::bind_values(sqlx::query(&probe), binds.clone()).fetch_optional(self.pool()).await?;
        if any_due.is_none() {
            return Ok(None);
        }
        let token = format!("{:032x}", rand::random::<u128>());
        let mut tx = self.begin_write().await?;
        let n = binds.len();
        let claim = format!(
            "UPDATE {table} SET locked_until = ${}, lock_token = ${} WHERE id IN \
             (SELECT {alias}.id FROM {due} ORDER BY {alias}.next_attempt_at LIMIT ${}{}) RETURNING id",
            n + 1,
            n + 2,
            n + 3,
            self.backend.skip_locked_rows(alias)
        );
        let rows = sql::bind_values(sqlx::query(&claim), binds)
            .bind(lease_until.as_millis())
            .bind(token.clone())
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(None);
        }
        let ids = rows.iter().map(|row| col::<String>(row, "id")).collect::<Result<_, _>>()?;
        Ok(Some(Leased { ids, token, tx }))
    }
}

/// Records the outcome of one leased outbox row (webhook deliveries, mail) and releases its
/// lease, inside `tx`, if the claim still holds: `set` assigns the outcome's columns with
/// placeholders from `$3` on, bound from `values`. False: the lease had run out and passed to
/// another claimer (or the row is gone), and nothing was written for it. The attempt's own log
/// row is the caller's, written only when this returned true.
pub(crate) async fn finish_leased(
    tx: &mut Transaction<'static, Any>,
    table: &str,
    id: &str,
    token: &str,
    set: &str,
    values: Vec<sql::Cell>,
) -> Result<bool, StoreError> {
    let update = format!("UPDATE {table} SET {set}, locked_until = NULL, lock_token = NULL WHERE id = $1 AND lock_token = $2");
    let query = sql::bind_cells(sqlx::query(&update).bind(id.to_owned()).bind(token.to_owned()), values);
    Ok(query.execute(&mut **tx).await?.rows_affected() == 1)
}

impl Store {
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Where single-statement writes go: SQLite's one writer connection, so they queue with
    /// the transactions instead of waiting out the busy timeout.
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }
}

/// Creates the SQLite file's directory, checks that this process may write the database there,
/// and asks the driver to create the file.
fn prepare_sqlite_url(url: &str) -> Result<String, StoreError> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path.contains(":memory:") {
        return Err(StoreError::UnsupportedUrl(format!(
            "{url} (an in-memory SQLite database is not shared between pooled connections; use a file)"
        )));
    }
    if !query.contains("mode=ro") {
        check_sqlite_writable(std::path::Path::new(path))?;
    }
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty() && !p.starts_with("mode=")).collect();
    let mode = if query.contains("mode=") { query.split('&').find(|p| p.starts_with("mode=")).unwrap_or("mode=rwc") } else { "mode=rwc" };
    params.push(mode);
    Ok(format!("sqlite://{path}?{}", params.join("&")))
}

/// Whether this process may write the SQLite database at `path`: the file (when it exists) and
/// its directory, where SQLite creates the file and, in WAL mode, its `-wal` and `-shm`
/// companions. SQLite itself says only "(code 14) unable to open database file", without the
/// path, or opens the file read-only and fails later, once per pooled connection.
fn check_sqlite_writable(path: &std::path::Path) -> Result<(), StoreError> {
    use std::path::Path;
    let unavailable = |what: String, e: std::io::Error| StoreError::Unavailable(format!("{what}: {}", io_cause(&e)));
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| unavailable(format!("cannot create the database directory {}", dir.display()), e))?;
    if path.exists() {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| unavailable(format!("cannot open the SQLite database {} for writing", path.display()), e))?;
    }
    let companion = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    if path.exists() && companion("-wal").exists() && companion("-shm").exists() {
        return Ok(());
    }
    // A file of our own, created and removed at once: the one portable test of a directory.
    let probe = dir.join(format!(".steward-write-check-{}", std::process::id()));
    let what = match path.exists() {
        true => {
            format!("cannot write in {} beside the SQLite database {} (its -wal and -shm files go there)", dir.display(), path.display())
        }
        false => format!("cannot create the SQLite database {}: cannot write in {}", path.display(), dir.display()),
    };
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        // Left behind by an earlier process with our id: the directory took it.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(unavailable(what, e)),
    }
}

/// An I/O error's cause in words, without the OS error number ("permission denied").
fn io_cause(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::ReadOnlyFilesystem => "read-only file system".into(),
        _ => e.to_string(),
    }
}

/// Reads a column, naming it when the stored value does not fit.
pub(crate) fn col<'r, T>(row: &'r AnyRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    use sqlx::Row;
    row.try_get(name).map_err(|e| corrupt(format!("column {name}: {e}")))
}

/// Reads a boolean column: BOOLEAN on PostgreSQL, INTEGER 0/1 on SQLite (the Any driver cannot
/// read SQLite's BOOLEAN declared type).
pub(crate) fn col_bool(row: &AnyRow, name: &str) -> Result<bool, StoreError> {
    use sqlx::Row;
    match row.try_get::<bool, _>(name) {
        Ok(b) => Ok(b),
        Err(_) => col::<i64>(row, name).map(|i| i != 0),
    }
}

/// `host:port` of a PostgreSQL URL, for messages (never the credentials).
fn postgres_address(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!("{}:{}", u.host_str().unwrap_or("localhost"), u.port().unwrap_or(5432)),
        Err(_) => "(unparsable URL)".into(),
    }
}

/// The cause of a failed connection attempt, without sqlx's wrapping ("error communicating
/// with database: …").
fn connect_cause(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        sqlx::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_chosen_by_url_scheme() {
        assert_eq!(Backend::from_url("sqlite://data/x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::from_url("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(Backend::from_url("postgresql://u@h/db").unwrap(), Backend::Postgres);
        assert!(Backend::from_url("mysql://u:secret@h/db").unwrap_err().to_string().contains("***"));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://app:hunter2@db:5432/steward"), "postgres://app:***@db:5432/steward");
        assert_eq!(redact("postgres://app@db/steward"), "postgres://app@db/steward");
        assert_eq!(redact("sqlite://data/steward.db"), "sqlite://data/steward.db");
    }

    use steward_domain::mail::MailState;

    /// Migration 0019 rebuilds the SQLite outbox: queued mail and its attempts come through,
    /// and deleting a mail still takes its attempts with it.
    #[tokio::test]
    async fn the_outbox_rebuild_keeps_mail_and_attempts() {
        let dir = std::env::temp_dir().join(format!("steward-outbox-rebuild-{}", std::process::id()));
        let config = DatabaseConfig { url: format!("sqlite://{}", dir.join("x.db").display()), ..DatabaseConfig::default() };
        let store = Store::connect(&config).await.unwrap();
        store.migrate_up_to(18).await.unwrap();
        let (m1, m2) = ("00000000-0000-7000-8000-000000000001", "00000000-0000-7000-8000-000000000002");
        for (id, state, next) in [(m1, "pending", Some(5)), (m2, "failed", None)] {
            sqlx::query(
                "INSERT INTO mail_outbox (id, kind, recipient, subject, text_body, html_body, message_id, state, attempts, created_at, next_attempt_at) \
                 VALUES ($1, 'assigned', 'a@example.com', 's', 't', 'h', $2, $3, 1, 1, $4)",
            )
            .bind(id)
            .bind(format!("<{id}@example.com>"))
            .bind(state)
            .bind(next)
            .execute(&store.pool)
            .await
            .unwrap();
            sqlx::query("INSERT INTO mail_attempts (mail_id, number, at, duration_ms, error) VALUES ($1, 1, 2, 3, 'refused')")
                .bind(id)
                .execute(&store.pool)
                .await
                .unwrap();
        }
        store.migrate().await.unwrap();
        let kept: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT o.id, o.state, COUNT(a.number) FROM mail_outbox o JOIN mail_attempts a ON a.mail_id = o.id GROUP BY o.id, o.state ORDER BY o.id",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        assert_eq!(kept, vec![(m1.into(), "pending".into(), 1), (m2.into(), "failed".into(), 1)]);
        let failed = store.list_mail(Some(MailState::Failed), None, 10).await.unwrap();
        assert_eq!(failed.iter().map(|m| m.id.to_string()).collect::<Vec<_>>(), vec![m2.to_owned()]);
        sqlx::query("DELETE FROM mail_outbox WHERE id = $1").bind(m2).execute(&store.pool).await.unwrap();
        let attempts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_attempts").fetch_one(&store.pool).await.unwrap();
        assert_eq!(attempts, 1, "the deleted mail's attempts went with it");
        let failed = store.list_mail(Some(MailState::Failed), None, 10).await.unwrap();
        assert!(failed.is_empty());
        let pending = store.list_mail(Some(MailState::Pending), None, 10).await.unwrap();
        assert_eq!(pending.len(), 1);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn sqlite_urls_get_create_mode_and_refuse_memory() {
        let dir = std::env::temp_dir().join(format!("steward-url-{}", std::process::id()));
        let file = dir.join("sub/x.db");
        let url = prepare_sqlite_url(&format!("sqlite://{}", file.display())).unwrap();
        assert!(url.ends_with("?mode=rwc"), "{url}");
        assert!(file.parent().unwrap().is_dir());
        assert!(prepare_sqlite_url("sqlite::memory:").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
