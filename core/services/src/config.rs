//! The one typed configuration: `config/steward.toml` (or `--config` / `STEWARD_CONFIG`), then
//! `STEWARD_*` environment overrides. Every option is documented in the shipped example.

use serde::Deserialize;
use std::path::{Path, PathBuf};
mod mail;
pub use mail::{MailConfig, MailInboundConfig, MailTicketDefaults, MailboxConfig, OutboundMailConfig, SmtpConfig, SmtpTls};
pub use steward_storage::DatabaseConfig;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// host:port to listen on; port 0 picks a free port.
    pub listen: String,
    /// The URL people reach this server at (`https://steward.example.org`), for links the CLI
    /// prints; unset, they are built from `listen`.
    pub public_url: Option<String>,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub http: HttpConfig,
    pub metrics: MetricsConfig,
    pub tickets: TicketsConfig,
    pub processes: ProcessesConfig,
    pub sla: SlaConfig,
    pub webhooks: WebhooksConfig,
    pub kpis: KpisConfig,
    pub plugins: steward_plugin_host::PluginsConfig,
    pub partners: PartnersConfig,
    pub training: TrainingConfig,
    pub workers: WorkersConfig,
    pub auth: AuthConfig,
    pub console: ConsoleConfig,
    pub attachments: AttachmentsConfig,
    pub mail: MailConfig,
}

/// Where attached files' bytes are kept, and how large they may be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttachmentsConfig {
    pub store: BlobStoreKind,
    /// The filesystem store's root (`<directory>/ab/cd/<sha256>`).
    pub directory: PathBuf,
    /// One file at most, in bytes.
    pub max_file_bytes: u64,
    /// A ticket's live attachments together at most, in bytes.
    pub max_ticket_bytes: u64,
    pub s3: S3Config,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlobStoreKind {
    Filesystem,
    S3,
}

/// An S3-compatible bucket (`attachments.store = "s3"`). The credentials are read from the
/// environment variables named here, never from the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    pub bucket: String,
    /// The service's URL (`https://s3.eu-central-1.amazonaws.com`, or a MinIO or s3s server);
    /// unset, AWS's endpoint for the region. Plain `http://` is allowed for a local server.
    pub endpoint: Option<String>,
    pub region: String,
    /// Keys are `<prefix><ab>/<cd>/<sha256>`.
    pub prefix: String,
    pub access_key_id_env: String,
    pub secret_access_key_env: String,
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        AttachmentsConfig {
            store: BlobStoreKind::Filesystem,
            directory: PathBuf::from("data/attachments"),
            max_file_bytes: 25 * 1024 * 1024,
            max_ticket_bytes: 250 * 1024 * 1024,
            s3: S3Config::default(),
        }
    }
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            bucket: String::new(),
            endpoint: None,
            region: "us-east-1".into(),
            prefix: "attachments/".into(),
            access_key_id_env: "STEWARD_S3_ACCESS_KEY_ID".into(),
            secret_access_key_env: "STEWARD_S3_SECRET_ACCESS_KEY".into(),
        }
    }
}

impl AttachmentsConfig {
    pub fn limits(&self) -> steward_domain::attachment::AttachmentLimits {
        steward_domain::attachment::AttachmentLimits { max_file_bytes: self.max_file_bytes, max_ticket_bytes: self.max_ticket_bytes }
    }
}

/// People's sign-in: sessions, set-password links and login throttling.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// A session ends after this many minutes without use.
    pub session_idle_minutes: u64,
    /// ... and at the latest this many hours after sign-in.
    pub session_max_hours: u64,
    /// How long a set-password link works, in hours.
    pub set_password_link_hours: u64,
    /// Failed sign-ins allowed per account (email) within the window; 0 switches it off.
    pub max_failures_per_account: u32,
    /// Failed sign-ins allowed per remote address within the window; 0 switches it off.
    pub max_failures_per_address: u32,
    /// The throttling window, in minutes.
    pub throttle_window_minutes: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            session_idle_minutes: 480,
            session_max_hours: 168,
            set_password_link_hours: 72,
            max_failures_per_account: 5,
            max_failures_per_address: 20,
            throttle_window_minutes: 15,
        }
    }
}

impl AuthConfig {
    pub fn session_policy(&self) -> steward_domain::login::SessionPolicy {
        steward_domain::login::SessionPolicy {
            idle_ms: minutes_ms(self.session_idle_minutes),
            max_ms: minutes_ms(self.session_max_hours.saturating_mul(60)),
            link_ms: minutes_ms(self.set_password_link_hours.saturating_mul(60)),
            touch_every_ms: 60_000,
        }
    }

    pub fn throttle_policy(&self) -> steward_domain::login::ThrottlePolicy {
        steward_domain::login::ThrottlePolicy {
            max_failures_per_account: self.max_failures_per_account,
            max_failures_per_address: self.max_failures_per_address,
            window_ms: minutes_ms(self.throttle_window_minutes),
        }
    }
}

fn minutes_ms(minutes: u64) -> i64 {
    i64::try_from(minutes.saturating_mul(60_000)).unwrap_or(i64::MAX)
}

/// The web console at `/` on the API's port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Serve the console. Off, only `/api`, `/metrics` and the other machine routes answer.
    pub enabled: bool,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig { enabled: true }
    }
}

/// The background loops this node runs (webhook delivery has its own switch,
/// `webhooks.worker`). All on in production; tests turn them off and run each pass themselves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkersConfig {
    /// The SLA sweeper (every `sla.sweep_interval_ms`).
    pub sla_sweeper: bool,
    /// The refresher of database-derived gauges (every `metrics.refresh_interval_ms`).
    pub metrics_refresher: bool,
    /// The certification expiry watcher (every `training.watch_interval_ms`).
    pub certification_watcher: bool,
    /// The plugins' `on-event` reactions. Off, committed events wait in memory for someone to
    /// run them: only tests, which drain them themselves, turn this off.
    pub plugin_reactions: bool,
    /// Hourly clean-up (expired idempotency keys).
    pub housekeeping: bool,
    /// Live updates across nodes (PostgreSQL): the coalesced change notification after commit
    /// and the listener that hears other nodes'. Off, live pages hear only this node's changes.
    pub live_feed: bool,
    /// Inbound mail: fetching the `[[mail.mailboxes]]` (IDLE or polling), and importing stored
    /// messages whose import was interrupted. Outbound mail has `mail.outbound.worker`.
    pub mail_inbound: bool,
}

impl Default for WorkersConfig {
    fn default() -> Self {
        WorkersConfig {
            sla_sweeper: true,
            metrics_refresher: true,
            certification_watcher: true,
            plugin_reactions: true,
            housekeeping: true,
            live_feed: true,
            mail_inbound: true,
        }
    }
}

impl WorkersConfig {
    /// Every loop off: background work runs only when its pass is called.
    pub fn none() -> Self {
        WorkersConfig {
            sla_sweeper: false,
            metrics_refresher: false,
            certification_watcher: false,
            plugin_reactions: false,
            housekeeping: false,
            live_feed: false,
            mail_inbound: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PartnersConfig {
    /// Delegating a ticket sets its status to `waiting_partner` (and taking it back sets it to
    /// `open` again), which pauses the clocks that pause while waiting on a partner.
    pub waiting_partner_on_delegation: bool,
    /// The window of a scorecard when the request names none.
    pub scorecard_window_days: u64,
    /// Delegations in the window the OLA can be judged on (resolved or past due) that a rating
    /// needs; with fewer, every scorecard is `unrated`.
    pub scorecard_minimum_sample: u64,
    pub scorecard_weights: ScorecardWeightsConfig,
}

impl Default for PartnersConfig {
    fn default() -> Self {
        PartnersConfig {
            waiting_partner_on_delegation: false,
            scorecard_window_days: 90,
            scorecard_minimum_sample: 3,
            scorecard_weights: Default::default(),
        }
    }
}

/// Relative weights of the built-in partner scorecard's components.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScorecardWeightsConfig {
    pub ola_met: f64,
    pub csat: f64,
    pub complaints: f64,
    pub reopens: f64,
}

impl Default for ScorecardWeightsConfig {
    fn default() -> Self {
        ScorecardWeightsConfig { ola_met: 40.0, csat: 30.0, complaints: 15.0, reopens: 15.0 }
    }
}

impl ScorecardWeightsConfig {
    pub fn weights(&self) -> steward_domain::scorecard::ScorecardWeights {
        steward_domain::scorecard::ScorecardWeights {
            ola_met: self.ola_met,
            csat: self.csat,
            complaints: self.complaints,
            reopens: self.reopens,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    /// A valid certification expiring within this many days is reported as `expiring`.
    pub expiring_within_days: u64,
    /// How often the certification expiry watcher looks, in milliseconds.
    pub watch_interval_ms: u64,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig { expiring_within_days: 30, watch_interval_ms: 3_600_000 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing filter such as `info` or `steward=debug,sqlx=warn`.
    pub level: String,
    /// One line per answered request (target `steward::access`): method, route template,
    /// status, duration and request id.
    pub access_log: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub max_body_bytes: usize,
    /// Seconds a graceful shutdown waits for in-flight requests.
    pub shutdown_grace_secs: u64,
    /// A connection that has not sent a request's whole head within this many milliseconds
    /// (from connecting, or from the previous response) is closed: slow clients cannot hold it.
    pub header_read_timeout_ms: u64,
    /// A request body not received whole within this many milliseconds is answered 408.
    pub body_read_timeout_ms: u64,
    /// Open connections at most; one more is closed at once.
    pub max_connections: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Require a valid API token (any role) to scrape `/metrics`.
    pub require_token: bool,
    /// How often gauges that come from the database (open tickets, clocks at risk) are
    /// refreshed by a background task, in milliseconds. A scrape never queries the database.
    pub refresh_interval_ms: u64,
    /// Export each partner's built-in scorecard as `steward_partner_score{partner}`. Off by
    /// default: a label per partner is fine for tens of partners, not for thousands.
    pub partner_labels: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { require_token: false, refresh_interval_ms: 15_000, partner_labels: false }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KpisConfig {
    /// KPI targets (`config/kpis.toml`); built-in defaults when the file does not exist.
    pub file: PathBuf,
}

impl Default for KpisConfig {
    fn default() -> Self {
        KpisConfig { file: PathBuf::from("config/kpis.toml") }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TicketsConfig {
    /// Customer tiers, lowest first; the first is the default.
    pub tiers: Vec<String>,
    pub default_process: String,
    /// How long an Idempotency-Key is remembered.
    pub idempotency_ttl_hours: u64,
    /// Days after resolution (or closing) within which a ticket reopens in place; later, a
    /// follow-up ticket is opened instead.
    pub reopen_window_days: u64,
    /// Days a satisfaction survey link stays valid.
    pub survey_valid_days: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessesConfig {
    /// Directory of `*.toml` process definitions. When it does not exist the built-in general
    /// process is used.
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaConfig {
    /// Calendars and policies added to the database at start-up when their key is new.
    pub file: PathBuf,
    /// How often the sweeper looks for clocks whose alerts are due (milliseconds).
    pub sweep_interval_ms: u64,
    /// How many tickets one sweep handles at most (the rest wait for the next sweep).
    pub sweep_batch: u32,
    /// How often each node reloads policies and calendars changed through another node (seconds).
    pub catalog_refresh_secs: u64,
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig { file: PathBuf::from("config/sla.toml"), sweep_interval_ms: 250, sweep_batch: 500, catalog_refresh_secs: 5 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Send queued deliveries from this node. Deliveries are queued on every node regardless.
    pub worker: bool,
    /// How often the worker looks for due deliveries.
    pub poll_interval_ms: u64,
    /// Time limit of one attempt, from connecting to receiving the response's head.
    pub timeout_ms: u64,
    /// Wait before the first retry; it doubles with every failed attempt (less some jitter).
    pub retry_base_ms: u64,
    /// Longest wait between two attempts.
    pub retry_max_secs: u64,
    /// Attempts before a delivery is given up as failed.
    pub max_attempts: u32,
    /// Inside networks (loopback, private, link-local…) that webhooks may nevertheless reach, in
    /// CIDR notation. Empty by default: a webhook can never probe the inside.
    pub allow_private: Vec<steward_domain::destination::Network>,
}

impl WebhooksConfig {
    pub fn retry_policy(&self) -> steward_domain::webhook::RetryPolicy {
        retry_policy(self.retry_base_ms, self.retry_max_secs, self.max_attempts)
    }

    /// How long a claimed delivery stays reserved: one attempt plus ample time to record it.
    /// Only a node that dies mid-attempt makes a delivery wait this long.
    pub fn lease_ms(&self) -> i64 {
        i64::try_from(self.timeout_ms.saturating_add(30_000)).unwrap_or(i64::MAX)
    }
}

/// Backoff from `base_ms`, doubling up to `max_secs`, for `max_attempts` (webhooks and mail).
fn retry_policy(base_ms: u64, max_secs: u64, max_attempts: u32) -> steward_domain::webhook::RetryPolicy {
    let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    steward_domain::webhook::RetryPolicy { base_ms: ms(base_ms), max_ms: ms(max_secs.saturating_mul(1000)), max_attempts }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            database: DatabaseConfig::default(),
            log: LogConfig::default(),
            http: HttpConfig::default(),
            metrics: MetricsConfig::default(),
            tickets: TicketsConfig::default(),
            processes: ProcessesConfig::default(),
            sla: SlaConfig::default(),
            webhooks: WebhooksConfig::default(),
            plugins: steward_plugin_host::PluginsConfig::default(),
            kpis: KpisConfig::default(),
            partners: PartnersConfig::default(),
            training: TrainingConfig::default(),
            workers: WorkersConfig::default(),
            auth: AuthConfig::default(),
            console: ConsoleConfig::default(),
            attachments: AttachmentsConfig::default(),
            mail: MailConfig::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: LogFormat::Human, level: "info".into(), access_log: false }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: 1024 * 1024,
            shutdown_grace_secs: 30,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            max_connections: 10_000,
        }
    }
}

impl Default for TicketsConfig {
    fn default() -> Self {
        TicketsConfig {
            tiers: vec!["standard".into(), "priority".into(), "vip".into()],
            default_process: "general".into(),
            idempotency_ttl_hours: 24,
            reopen_window_days: 14,
            survey_valid_days: 14,
        }
    }
}

impl Default for ProcessesConfig {
    fn default() -> Self {
        ProcessesConfig { dir: PathBuf::from("config/processes") }
    }
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            worker: true,
            poll_interval_ms: 1000,
            timeout_ms: 10_000,
            retry_base_ms: 1000,
            retry_max_secs: 3600,
            max_attempts: 20,
            allow_private: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

/// Where the config is read from when neither `--config` nor `STEWARD_CONFIG` names a file.
pub const DEFAULT_CONFIG_PATH: &str = "config/steward.toml";

impl Config {
    /// A link on this server for people to follow: `public_url` when configured, else built
    /// from the listen address.
    pub fn public_link(&self, path: &str) -> String {
        match &self.public_url {
            Some(base) => format!("{}{path}", base.trim_end_matches('/')),
            None => format!("http://{}{path}", self.listen),
        }
    }

    /// Reads the config file (an explicit path must exist; the default path may not), then
    /// applies environment overrides from `env`.
    pub fn load(explicit: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let from_env = env("STEWARD_CONFIG").map(PathBuf::from);
        let path = explicit.map(Path::to_path_buf).or(from_env);
        let mut config = match path {
            Some(path) => Self::from_file(&path)?,
            None if Path::new(DEFAULT_CONFIG_PATH).exists() => Self::from_file(Path::new(DEFAULT_CONFIG_PATH))?,
            None => Config::default(),
        };
        config.apply_env(env)?;
        config.check()?;
        Ok(config)
    }

    fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
        Self::from_toml(&shown, &text)
    }

    pub fn from_toml(path: &str, text: &str) -> Result<Config, ConfigError> {
        let de = toml::Deserializer::new(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            let line =
                inner.span().map(|s| format!("line {}, ", text[..s.start].bytes().filter(|b| *b == b'\n').count() + 1)).unwrap_or_default();
            ConfigError::Parse { path: path.to_owned(), message: format!("{line}{field}: {}", inner.message()) }
        })
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value.parse().map_err(|e: T::Err| ConfigError::Env { name: name.into(), message: e.to_string() })
        }
        if let Some(v) = env("STEWARD_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = env("STEWARD_PUBLIC_URL") {
            self.public_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = env("STEWARD_MAIL_INBOUND_MAX_MESSAGE_BYTES") {
            self.mail.inbound.max_message_bytes = parse("STEWARD_MAIL_INBOUND_MAX_MESSAGE_BYTES", &v)?;
        }
        if let Some(v) = env("STEWARD_DATABASE_URL") {
            self.database.url = v;
        }
        if let Some(v) = env("STEWARD_DATABASE_MAX_CONNECTIONS") {
            self.database.max_connections = parse("STEWARD_DATABASE_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = env("STEWARD_LOG_FORMAT") {
            self.log.format = match v.as_str() {
                "human" => LogFormat::Human,
                "json" => LogFormat::Json,
                _ => {
                    return Err(ConfigError::Env {
                        name: "STEWARD_LOG_FORMAT".into(),
                        message: format!("`{v}` is not one of: human, json"),
                    })
                }
            };
        }
        if let Some(v) = env("STEWARD_LOG_LEVEL") {
            self.log.level = v;
        }
        if let Some(v) = env("STEWARD_ACCESS_LOG") {
            self.log.access_log = parse("STEWARD_ACCESS_LOG", &v)?;
        }
        if let Some(v) = env("STEWARD_HEADER_READ_TIMEOUT_MS") {
            self.http.header_read_timeout_ms = parse("STEWARD_HEADER_READ_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = env("STEWARD_MAX_BODY_BYTES") {
            self.http.max_body_bytes = parse("STEWARD_MAX_BODY_BYTES", &v)?;
        }
        if let Some(v) = env("STEWARD_METRICS_REQUIRE_TOKEN") {
            self.metrics.require_token = parse("STEWARD_METRICS_REQUIRE_TOKEN", &v)?;
        }
        if let Some(v) = env("STEWARD_PROCESSES_DIR") {
            self.processes.dir = PathBuf::from(v);
        }
        if let Some(v) = env("STEWARD_SLA_FILE") {
            self.sla.file = PathBuf::from(v);
        }
        if let Some(v) = env("STEWARD_KPIS_FILE") {
            self.kpis.file = PathBuf::from(v);
        }
        if let Some(v) = env("STEWARD_METRICS_REFRESH_INTERVAL_MS") {
            self.metrics.refresh_interval_ms = parse("STEWARD_METRICS_REFRESH_INTERVAL_MS", &v)?;
        }
        if let Some(v) = env("STEWARD_PLUGIN_DIRS") {
            self.plugins.dirs = v.split(':').filter(|d| !d.is_empty()).map(PathBuf::from).collect();
        }
        if let Some(v) = env("STEWARD_ATTACHMENTS_DIR") {
            self.attachments.directory = PathBuf::from(v);
        }
        if let Some(v) = env("STEWARD_ATTACHMENTS_STORE") {
            self.attachments.store = match v.as_str() {
                "filesystem" => BlobStoreKind::Filesystem,
                "s3" => BlobStoreKind::S3,
                _ => {
                    return Err(ConfigError::Env {
                        name: "STEWARD_ATTACHMENTS_STORE".into(),
                        message: format!("`{v}` is not one of: filesystem, s3"),
                    })
                }
            };
        }
        if let Some(v) = env("STEWARD_MAIL_ADDRESS") {
            self.mail.address = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = env("STEWARD_MAIL_SMTP_HOST") {
            self.mail.smtp.host = v;
        }
        if let Some(v) = env("STEWARD_MAIL_SMTP_PORT") {
            self.mail.smtp.port = parse("STEWARD_MAIL_SMTP_PORT", &v)?;
        }
        if let Some(v) = env("STEWARD_MAIL_OUTBOUND_WORKER") {
            self.mail.outbound.worker = parse("STEWARD_MAIL_OUTBOUND_WORKER", &v)?;
        }
        if let Some(v) = env("STEWARD_WEBHOOKS_WORKER") {
            self.webhooks.worker = parse("STEWARD_WEBHOOKS_WORKER", &v)?;
        }
        Ok(())
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |field: &str, message: &str| Err(ConfigError::Invalid { field: field.into(), message: message.into() });
        if self.tickets.tiers.is_empty() {
            return invalid("tickets.tiers", "list at least one customer tier");
        }
        if self.http.header_read_timeout_ms == 0 || self.http.body_read_timeout_ms == 0 || self.http.max_connections == 0 {
            return invalid("http.header_read_timeout_ms", "the read timeouts and max_connections must be at least 1");
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1");
        }
        if !matches!(self.database.sqlite_synchronous.as_str(), "full" | "normal" | "extra") {
            return invalid("database.sqlite_synchronous", "must be one of: full, normal, extra");
        }
        if self.sla.sweep_interval_ms == 0 || self.sla.sweep_batch == 0 {
            return invalid("sla.sweep_interval_ms", "the sweep interval and batch must be at least 1");
        }
        if self.http.max_body_bytes < 1024 {
            return invalid("http.max_body_bytes", "must be at least 1024");
        }
        if self.metrics.refresh_interval_ms < 100 {
            return invalid("metrics.refresh_interval_ms", "must be at least 100");
        }
        let sw = &self.partners.scorecard_weights;
        let weights = [sw.ola_met, sw.csat, sw.complaints, sw.reopens];
        if weights.iter().any(|w| !w.is_finite() || *w < 0.0) || weights.iter().sum::<f64>() <= 0.0 {
            return invalid("partners.scorecard_weights", "weights are non-negative numbers, not all zero");
        }
        if self.mail.inbound.max_message_bytes < 1024 || self.mail.inbound.max_parts == 0 {
            return invalid("mail.inbound.max_message_bytes", "max_message_bytes at least 1024 and max_parts at least 1");
        }
        for (i, m) in self.mail.mailboxes.iter().enumerate() {
            if m.name.trim().is_empty() || m.host.trim().is_empty() || m.username.trim().is_empty() || m.poll_interval_secs == 0 {
                return invalid(
                    &format!("mail.mailboxes[{i}]"),
                    "a mailbox needs a name, a host, a username and a poll interval of at least 1",
                );
            }
        }
        if self.training.watch_interval_ms < 10 {
            return invalid("training.watch_interval_ms", "must be at least 10");
        }
        if self.partners.scorecard_window_days == 0 {
            return invalid("partners.scorecard_window_days", "must be at least 1");
        }
        if self.partners.scorecard_minimum_sample == 0 {
            return invalid("partners.scorecard_minimum_sample", "must be at least 1");
        }
        let a = &self.attachments;
        if a.max_file_bytes == 0 || a.max_ticket_bytes < a.max_file_bytes {
            return invalid("attachments.max_ticket_bytes", "max_file_bytes is at least 1 and max_ticket_bytes at least max_file_bytes");
        }
        if a.store == BlobStoreKind::S3 && a.s3.bucket.trim().is_empty() {
            return invalid("attachments.s3.bucket", "name the bucket when attachments.store is \"s3\"");
        }
        let w = &self.webhooks;
        if w.poll_interval_ms < 10 {
            return invalid("webhooks.poll_interval_ms", "must be at least 10");
        }
        if w.timeout_ms < 100 {
            return invalid("webhooks.timeout_ms", "must be at least 100");
        }
        if w.retry_base_ms == 0 {
            return invalid("webhooks.retry_base_ms", "must be at least 1");
        }
        if w.retry_max_secs.saturating_mul(1000) < w.retry_base_ms {
            return invalid("webhooks.retry_max_secs", "must not be shorter than webhooks.retry_base_ms");
        }
        if w.max_attempts == 0 {
            return invalid("webhooks.max_attempts", "must be at least 1");
        }
        if let Some(address) = &self.mail.address {
            if steward_domain::staff::normalize_email(address).is_err() {
                return invalid("mail.address", "must be an email address such as support@example.org");
            }
        }
        let m = &self.mail.outbound;
        if m.poll_interval_ms < 10 || m.batch == 0 || m.concurrency == 0 || m.max_attempts == 0 || m.retry_base_ms == 0 {
            return invalid(
                "mail.outbound",
                "poll_interval_ms must be at least 10, batch, concurrency, max_attempts and retry_base_ms at least 1",
            );
        }
        if m.retry_max_secs.saturating_mul(1000) < m.retry_base_ms {
            return invalid("mail.outbound.retry_max_secs", "must not be shorter than mail.outbound.retry_base_ms");
        }
        if m.lease_ms < self.mail.smtp.timeout_ms.saturating_mul(2) {
            return invalid("mail.outbound.lease_ms", "must be at least twice mail.smtp.timeout_ms");
        }
        if self.mail.smtp.host.trim().is_empty() || self.mail.smtp.port == 0 {
            return invalid("mail.smtp.host", "name a host and a port");
        }
        let a = &self.auth;
        if a.session_idle_minutes == 0 || a.session_max_hours == 0 || a.set_password_link_hours == 0 {
            return invalid("auth.session_idle_minutes", "session and link lifetimes must be at least 1");
        }
        if a.throttle_window_minutes == 0 {
            return invalid("auth.throttle_window_minutes", "must be at least 1");
        }
        if let Some(url) = &self.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return invalid("public_url", "must start with http:// or https://");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_parses_and_matches_the_defaults() {
        let text = include_str!("../../../config/steward.toml");
        let shipped = Config::from_toml("steward.toml", text).unwrap();
        let defaults = Config::default();
        assert_eq!(shipped.listen, defaults.listen);
        assert_eq!(shipped.database.url, defaults.database.url);
        assert_eq!(shipped.tickets.tiers, defaults.tickets.tiers);
        assert_eq!(shipped.http.max_body_bytes, defaults.http.max_body_bytes);
        assert_eq!(shipped.metrics.refresh_interval_ms, defaults.metrics.refresh_interval_ms);
        assert_eq!(shipped.kpis.file, defaults.kpis.file);
        assert_eq!(shipped.public_url, defaults.public_url);
        let (a, d) = (&shipped.attachments, &defaults.attachments);
        assert_eq!(
            (a.store, &a.directory, a.max_file_bytes, a.max_ticket_bytes),
            (d.store, &d.directory, d.max_file_bytes, d.max_ticket_bytes)
        );
        assert_eq!((&a.s3.region, &a.s3.prefix, &a.s3.access_key_id_env), (&d.s3.region, &d.s3.prefix, &d.s3.access_key_id_env));
        let (a, d) = (&shipped.auth, &defaults.auth);
        assert_eq!(
            (a.session_idle_minutes, a.session_max_hours, a.set_password_link_hours),
            (d.session_idle_minutes, d.session_max_hours, d.set_password_link_hours)
        );
        assert_eq!(
            (a.max_failures_per_account, a.max_failures_per_address, a.throttle_window_minutes),
            (d.max_failures_per_account, d.max_failures_per_address, d.throttle_window_minutes)
        );
        let (w, d) = (&shipped.workers, &defaults.workers);
        assert_eq!(
            (w.sla_sweeper, w.metrics_refresher, w.certification_watcher, w.plugin_reactions, w.housekeeping, w.live_feed),
            (d.sla_sweeper, d.metrics_refresher, d.certification_watcher, d.plugin_reactions, d.housekeeping, d.live_feed)
        );
        let (shipped, defaults) = (&shipped.webhooks, &defaults.webhooks);
        assert_eq!(
            (
                shipped.worker,
                shipped.poll_interval_ms,
                shipped.timeout_ms,
                shipped.retry_base_ms,
                shipped.retry_max_secs,
                shipped.max_attempts
            ),
            (
                defaults.worker,
                defaults.poll_interval_ms,
                defaults.timeout_ms,
                defaults.retry_base_ms,
                defaults.retry_max_secs,
                defaults.max_attempts
            )
        );
    }

    #[test]
    fn env_overrides_file_values() {
        let env = |name: &str| match name {
            "STEWARD_DATABASE_URL" => Some("postgres://x@localhost/db".to_string()),
            "STEWARD_LISTEN" => Some("0.0.0.0:9000".to_string()),
            "STEWARD_LOG_FORMAT" => Some("json".to_string()),
            _ => None,
        };
        let mut c = Config::default();
        c.apply_env(env).unwrap();
        assert_eq!(c.database.url, "postgres://x@localhost/db");
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.log.format, LogFormat::Json);
    }

    #[test]
    fn bad_values_name_the_field_and_line() {
        let e = Config::from_toml("c.toml", "listen = \"x\"\n[http]\nmax_body_bytes = \"big\"\n").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("line 3") && text.contains("http.max_body_bytes"), "{text}");
        let e = Config::from_toml("c.toml", "[database]\nurl = \"x\"\ncolour = 1\n").unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn webhook_settings_are_checked() {
        let mut c = Config::default();
        c.webhooks.retry_base_ms = 5000;
        c.webhooks.retry_max_secs = 4;
        assert!(c.check().unwrap_err().to_string().contains("webhooks.retry_max_secs"));
        let mut c = Config::default();
        c.webhooks.max_attempts = 0;
        assert!(c.check().unwrap_err().to_string().contains("webhooks.max_attempts"));
        let mut c = Config::default();
        c.apply_env(|n| (n == "STEWARD_WEBHOOKS_WORKER").then(|| "false".to_string())).unwrap();
        assert!(!c.webhooks.worker);
    }

    #[test]
    fn bad_env_values_are_named() {
        let mut c = Config::default();
        let e = c.apply_env(|n| (n == "STEWARD_MAX_BODY_BYTES").then(|| "lots".to_string())).unwrap_err();
        assert!(e.to_string().contains("STEWARD_MAX_BODY_BYTES"));
    }
}
