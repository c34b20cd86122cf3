//! Application services: each use case loads what it needs from storage, applies the domain
//! rules and writes the result. Knows neither HTTP nor SQL.

mod staff;
mod tickets;
mod tokens;
mod webhooks;

pub use tickets::CreateTicket;

use crate::config::Config;
use crate::domain::process::{ProcessRegistry, TransitionError};
use crate::domain::ticket::TicketRules;
use crate::domain::webhook::RetryPolicy;
use crate::domain::ValidationError;
use crate::storage::{Store, StoreError};
use std::sync::Arc;

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
    /// The request conflicts with what exists (a taken email, a row still in use).
    #[error("{message}")]
    Conflict { field: Option<&'static str>, message: String },
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Everything the use cases need, shared by all requests.
pub struct Services {
    pub store: Store,
    pub processes: Arc<ProcessRegistry>,
    tiers: Vec<String>,
    default_process: String,
    idempotency_ttl_ms: i64,
    retry: RetryPolicy,
    /// How long a claimed delivery is reserved for the node that claimed it.
    delivery_lease_ms: i64,
}

impl Services {
    pub fn new(store: Store, processes: Arc<ProcessRegistry>, config: &Config) -> Self {
        Services {
            store,
            processes,
            tiers: config.tickets.tiers.clone(),
            default_process: config.tickets.default_process.clone(),
            idempotency_ttl_ms: i64::try_from(config.tickets.idempotency_ttl_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX),
            retry: config.webhooks.retry_policy(),
            delivery_lease_ms: config.webhooks.lease_ms(),
        }
    }

    fn rules(&self) -> TicketRules<'_> {
        TicketRules { tiers: &self.tiers, default_process: &self.default_process, processes: &self.processes }
    }
}
