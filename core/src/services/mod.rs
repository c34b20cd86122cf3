//! Application services: each use case loads what it needs from storage, applies the domain
//! rules and writes the result. Knows neither HTTP nor SQL.

mod feedback;
pub(crate) use feedback::plan_survey_answer;
pub mod kpis;
mod partners;
pub mod plugins;
pub use partners::PartnerScorecard;
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
use crate::domain::kpi::KpiTargets;
use crate::domain::process::{ProcessRegistry, TransitionError};
use crate::domain::sla_engine::SlaCatalog;
use crate::domain::ticket::TicketRules;
use crate::domain::webhook::RetryPolicy;
use crate::domain::ValidationError;
use crate::metrics::Metrics;
use crate::storage::{Store, StoreError};
use std::sync::{Arc, RwLock};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("{what} not found")]
    NotFound { what: &'static str },
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
    #[error(transparent)]
    Storage(#[from] StoreError),
    /// A plugin's guard refused a stage move (or failed, and fails closed).
    #[error("plugin `{plugin}` refused the move: {reason}")]
    Vetoed { plugin: String, reason: String, plugin_failed: bool },
    #[error("{0}")]
    Plugin(String),
    /// The person lacks a valid certification that the stage requires.
    #[error(
        "{staff_name} ({staff_id}) does not hold a valid {certification} certification (it is {state}), which stage `{stage}` requires"
    )]
    CertificationRequired {
        field: &'static str,
        staff_id: crate::domain::ids::StaffId,
        staff_name: String,
        certification: String,
        state: crate::domain::training::CertificationState,
        expires_at: Option<crate::domain::time::Timestamp>,
        stage: String,
    },
    /// Internal: the reopen window has passed (a follow-up is opened instead).
    #[error("the reopen window has passed")]
    ReopenWindowPassed,
}

/// Everything the use cases need, shared by all requests.
pub struct Services {
    /// Export partner scores as metrics (`metrics.partner_labels`).
    partner_metrics: bool,
    /// The plugin host, when plugins are set up.
    plugins: Option<Arc<crate::plugins::PluginHost>>,
    plugin_jobs: Option<tokio::sync::mpsc::UnboundedSender<plugins::PluginJob>>,
    pub store: Store,
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
    scorecard_weights: crate::domain::scorecard::ScorecardWeights,
    scorecard_window_days: u64,
}

impl Services {
    /// The process a ticket follows when its draft names none.
    pub fn default_process(&self) -> &str {
        &self.default_process
    }

    pub fn new(store: Store, processes: Arc<ProcessRegistry>, config: &Config) -> Self {
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
        }
    }

    /// Uses these KPI targets instead of the built-in defaults.
    pub fn with_kpi_targets(mut self, targets: KpiTargets) -> Self {
        self.kpi_targets = targets;
        self
    }

    pub(crate) fn with_rules<R>(&self, f: impl FnOnce(&TicketRules<'_>) -> R) -> R {
        f(&self.rules())
    }

    pub(crate) fn rules(&self) -> TicketRules<'_> {
        TicketRules { tiers: &self.tiers, default_process: &self.default_process, processes: &self.processes }
    }
}

fn days_ms(days: u64) -> i64 {
    i64::try_from(days.saturating_mul(86_400_000)).unwrap_or(i64::MAX)
}
