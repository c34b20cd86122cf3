//! Application services: each use case loads what it needs from storage, applies the domain
//! rules and writes the result. Knows neither HTTP nor SQL (this crate depends on neither axum
//! nor sqlx). Also the typed configuration, the metrics registry, the webhook delivery worker and
//! the mail worker.

pub mod assembly;
pub mod attachments;
pub mod blobs;
pub mod config;
pub mod delivery;
pub mod destinations;
pub mod metrics;

mod bulk;
mod feedback;
pub use feedback::plan_survey_answer;
mod improvements;
pub mod kpis;
pub mod live;
mod logins;
pub mod mail;
pub mod mail_inbound;
pub use logins::{AuditFilter, LiveSession, NewLogin, NewSession, SetPasswordLink, SignIn, SignInError};
pub use mail_inbound::{MailReceipt, MailSource};
mod partners;
pub mod plugins;
pub mod queues;
pub use partners::{PartnerScorecard, BUILTIN_SCORECARD};
pub mod sla;
mod staff;
mod tickets;
mod tokens;
mod training;
mod webhooks;

pub use feedback::SurveyView;
pub use tickets::{CreateTicket, Reopened};
pub use training::{EligibleAssignee, NewTrainingRecord};

use crate::config::Config;
use crate::metrics::Metrics;
use std::sync::{Arc, RwLock};
use steward_domain::kpi::KpiTargets;
use steward_domain::process::{ProcessRegistry, TransitionError};
use steward_domain::sla_engine::SlaCatalog;
use steward_domain::ticket::TicketRules;
use steward_domain::webhook::RetryPolicy;
use steward_domain::ValidationError;
use steward_storage::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// A field of the request names something that does not exist (a staff member, a partner,
    /// a course…).
    #[error("{message}")]
    Missing { field: &'static str, message: String },
    #[error("the ticket has changed: it is now at version {current}")]
    StaleVersion { current: i64 },
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// A one-time link that no longer works (an answered or expired survey).
    #[error("{0}")]
    Gone(String),
    /// The request conflicts with what exists (a taken email, a row still in use).
    #[error("{message}")]
    Conflict { field: Option<&'static str>, message: String },
    /// A one-time action was already taken (a survey answered, a delegation withdrawn).
    #[error("{0}")]
    AlreadyDone(&'static str),
    /// The database cannot be reached or is overloaded; the request may be retried.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A unique key no use case expected to collide; `constraint` names it.
    #[error("the request collides with an existing record (unique key `{constraint}`)")]
    Duplicate { constraint: String },
    /// A failure the client cannot fix; `operation` names what failed. Logged, never shown.
    #[error("{operation} failed: {cause}")]
    Internal { operation: &'static str, cause: String },
    /// A plugin's guard refused a stage move (or failed, and fails closed).
    #[error("plugin `{plugin}` refused the move: {reason}")]
    Vetoed { plugin: String, reason: String, plugin_failed: bool },
    #[error("{0}")]
    Plugin(String),
    /// A plugin computing what a read asked for gave no answer: it failed, or is disabled.
    #[error("plugin `{plugin}` failed: {detail}")]
    PluginFailed { plugin: String, detail: String },
    /// The person lacks a valid certification that the stage requires.
    #[error("{0}")]
    CertificationRequired(Box<steward_domain::training::CertificationRefusal>),
    /// The caller's role lacks the permission.
    #[error(transparent)]
    Forbidden(#[from] steward_domain::auth::Forbidden),
    /// A sign-in failed: wrong credentials (one answer for every cause) or throttled.
    #[error(transparent)]
    SignIn(#[from] SignInError),
    /// The request is larger than a configured cap (`limit` bytes); `field` names the part.
    #[error("{message}")]
    TooLarge { field: String, message: String, limit: u64 },
    /// Internal: the reopen window has passed (a follow-up is opened instead).
    #[error("the reopen window has passed")]
    ReopenWindowPassed,
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(reason) => ServiceError::Unavailable(reason),
            StoreError::Duplicate { constraint } => ServiceError::Duplicate { constraint },
            StoreError::ForeignKey => ServiceError::Conflict {
                field: None,
                message: "the request refers to a record that does not exist, or a record still in use".into(),
            },
            StoreError::AlreadyDone(message) => ServiceError::AlreadyDone(message),
            StoreError::Database { operation, source } => ServiceError::Internal { operation, cause: source.to_string() },
            StoreError::VersionConflict => {
                ServiceError::Internal { operation: "a versioned write", cause: "the row changed since it was read".into() }
            }
            StoreError::Corrupt(cause) => ServiceError::Internal { operation: "reading a stored value", cause },
            e @ (StoreError::Migrate(_) | StoreError::UnsupportedUrl(_) | StoreError::Io(_)) => {
                ServiceError::Internal { operation: "opening the database", cause: e.to_string() }
            }
        }
    }
}

/// Everything the use cases need, shared by all requests.
pub struct Services {
    /// Export partner scores as metrics (`metrics.partner_labels`).
    partner_metrics: bool,
    /// The plugin host, when plugins are set up.
    plugins: Option<Arc<steward_plugin_host::PluginHost>>,
    /// Committed events waiting for the plugins' `on-event` hooks, when plugins are set up.
    plugin_jobs: Option<plugins::PluginQueue>,
    store: Store,
    pub processes: Arc<ProcessRegistry>,
    tiers: Vec<String>,
    default_process: String,
    idempotency_ttl_ms: i64,
    reopen_window_ms: i64,
    survey_valid_ms: i64,
    /// SLA policies and calendars, swapped whole when they change.
    sla: RwLock<Arc<SlaCatalog>>,
    retry: RetryPolicy,
    /// How long a claimed delivery is reserved for the node that claimed it.
    delivery_lease_ms: i64,
    /// This application's metrics: counters move as ticket events commit.
    pub metrics: Arc<Metrics>,
    /// KPI targets (`config/kpis.toml`).
    kpi_targets: KpiTargets,
    waiting_partner_on_delegation: bool,
    /// A certification expiring within this many days is `expiring`.
    expiring_within_days: u64,
    scorecard_weights: steward_domain::scorecard::ScorecardWeights,
    scorecard_window_days: u64,
    /// Added to the wall clock by `advance_clock` (tests), read through `now()`.
    clock_offset_ms: std::sync::atomic::AtomicI64,
    session_policy: steward_domain::login::SessionPolicy,
    throttle_policy: steward_domain::login::ThrottlePolicy,
    /// Where webhooks may point (`webhooks.allow_private`).
    destinations: steward_domain::destination::Destinations,
    scorecard_minimum_sample: u64,
    /// The live feed's hints (in-process, and owed to other nodes).
    feed: live::ChangeFeed,
    /// Where attachments' bytes are kept (`[attachments]`).
    blobs: Arc<dyn blobs::BlobStore>,
    attachment_limits: steward_domain::attachment::AttachmentLimits,
    /// When failed mail is tried again (`mail.outbound`).
    mail_retry: RetryPolicy,
    /// How long a claimed mail is reserved for the node that claimed it.
    mail_lease_ms: i64,
    /// An unanswered survey is reminded this long after it was issued (None: never).
    survey_reminder_after_ms: Option<i64>,
    /// `[mail]`: the desk's address, inbound limits, defaults and mailboxes.
    mail: config::MailConfig,
}

impl Services {
    /// The customer tiers this deployment knows, in configured order.
    pub fn tiers(&self) -> &[String] {
        &self.tiers
    }

    /// The process a ticket follows when its draft names none.
    pub fn default_process(&self) -> &str {
        &self.default_process
    }

    pub(crate) fn new(store: Store, processes: Arc<ProcessRegistry>, blobs: Arc<dyn blobs::BlobStore>, config: &Config) -> Self {
        Services {
            plugins: None,
            plugin_jobs: None,
            partner_metrics: config.metrics.partner_labels,
            store,
            processes,
            tiers: config.tickets.tiers.clone(),
            default_process: config.tickets.default_process.clone(),
            idempotency_ttl_ms: i64::try_from(config.tickets.idempotency_ttl_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX),
            reopen_window_ms: days_ms(config.tickets.reopen_window_days),
            survey_valid_ms: days_ms(config.tickets.survey_valid_days),
            sla: RwLock::new(Arc::new(SlaCatalog::default())),
            retry: config.webhooks.retry_policy(),
            delivery_lease_ms: config.webhooks.lease_ms(),
            metrics: Arc::new(Metrics::new()),
            kpi_targets: KpiTargets::default(),
            waiting_partner_on_delegation: config.partners.waiting_partner_on_delegation,
            expiring_within_days: config.training.expiring_within_days,
            scorecard_weights: config.partners.scorecard_weights.weights(),
            scorecard_window_days: config.partners.scorecard_window_days,
            clock_offset_ms: std::sync::atomic::AtomicI64::new(0),
            session_policy: config.auth.session_policy(),
            throttle_policy: config.auth.throttle_policy(),
            destinations: steward_domain::destination::Destinations::new(config.webhooks.allow_private.clone()),
            scorecard_minimum_sample: config.partners.scorecard_minimum_sample,
            feed: live::ChangeFeed::new(),
            blobs,
            attachment_limits: config.attachments.limits(),
            mail_retry: config.mail.outbound.retry_policy(),
            mail_lease_ms: i64::try_from(config.mail.outbound.lease_ms).unwrap_or(i64::MAX),
            survey_reminder_after_ms: match config.mail.outbound.survey_reminder_after_hours {
                0 => None,
                hours => Some(i64::try_from(hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX)),
            },
            mail: config.mail.clone(),
        }
    }

    /// Uses these KPI targets instead of the built-in defaults.
    pub fn with_kpi_targets(mut self, targets: KpiTargets) -> Self {
        self.kpi_targets = targets;
        self
    }

    pub fn with_rules<R>(&self, f: impl FnOnce(&TicketRules<'_>) -> R) -> R {
        f(&self.rules())
    }

    pub fn rules(&self) -> TicketRules<'_> {
        TicketRules { tiers: &self.tiers, default_process: &self.default_process, processes: &self.processes }
    }
}

fn days_ms(days: u64) -> i64 {
    i64::try_from(days.saturating_mul(86_400_000)).unwrap_or(i64::MAX)
}
