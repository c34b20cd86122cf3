//! SLA catalog (policies and calendars), the sweeper that raises alerts, and clock reports.

use super::{ServiceError, Services};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use steward_domain::calendar::{Calendar, CalendarSpec};
use steward_domain::clock::ClockState;
use steward_domain::event::Actor;
use steward_domain::ids::TicketRef;
use steward_domain::process::ProcessLoadError;
use steward_domain::sla::{PolicySpec, SlaPolicy};
use steward_domain::sla_engine::{self, SlaCatalog, TicketClock};
use steward_domain::ticket::{Change, Ticket};
use steward_domain::time::Timestamp;
use steward_domain::ValidationError;
use steward_storage::sla::Catalog;
use steward_storage::{unique, StoreError};

/// `config/sla.toml`: calendars and policies that seed the database on start-up.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaFile {
    #[serde(default)]
    pub calendars: BTreeMap<String, CalendarSpec>,
    #[serde(default)]
    pub policies: BTreeMap<String, PolicySpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum SlaFileError {
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: {what} `{key}`: {errors}")]
    Invalid { file: String, what: &'static str, key: String, errors: ValidationError },
    #[error(transparent)]
    Storage(#[from] ServiceError),
}

impl From<StoreError> for SlaFileError {
    fn from(e: StoreError) -> Self {
        SlaFileError::Storage(e.into())
    }
}

/// A clock with everything a person needs to read it, computed at one instant.
pub struct ClockReport {
    pub clock: TicketClock,
    pub state: ClockState,
    pub elapsed_ms: i64,
    pub remaining_ms: i64,
    pub due_at: Option<Timestamp>,
    pub calendar: Calendar,
}

/// A ticket's SLA: the policy that applies and why, and each clock.
pub struct SlaReport {
    pub policy: Option<SlaPolicy>,
    pub explanation: String,
    pub calendar: Calendar,
    pub clocks: Vec<ClockReport>,
    pub at: Timestamp,
}

fn spec_json<T: serde::Serialize>(spec: &T) -> String {
    serde_json::to_string(spec).expect("specs serialise")
}

impl Services {
    pub fn sla_catalog(&self) -> Arc<SlaCatalog> {
        self.sla.read().expect("catalog lock").clone()
    }

    /// Rebuilds the catalog from the database (changes made through any node).
    pub async fn reload_sla_catalog(&self) -> Result<(), ServiceError> {
        let mut catalog = SlaCatalog::default();
        for (key, spec) in self.store.catalog_entries(Catalog::Calendars).await? {
            match serde_json::from_str::<CalendarSpec>(&spec)
                .map_err(|e| e.to_string())
                .and_then(|s| Calendar::from_spec(&key, s).map_err(|e| e.to_string()))
            {
                Ok(calendar) => {
                    catalog.calendars.insert(key, calendar);
                }
                Err(e) => tracing::error!(calendar = %key, error = %e, "stored calendar is unusable; skipped"),
            }
        }
        let calendar_keys: Vec<&str> = catalog.calendars.keys().map(String::as_str).collect();
        let mut policies = Vec::new();
        for (key, spec) in self.store.catalog_entries(Catalog::Policies).await? {
            match serde_json::from_str::<PolicySpec>(&spec)
                .map_err(|e| e.to_string())
                .and_then(|s| SlaPolicy::from_spec(&key, s, &calendar_keys, &self.tiers).map_err(|e| e.to_string()))
            {
                Ok(policy) => policies.push(policy),
                Err(e) => tracing::error!(policy = %key, error = %e, "stored SLA policy is unusable; skipped"),
            }
        }
        catalog.policies = policies;
        *self.sla.write().expect("catalog lock") = Arc::new(catalog);
        Ok(())
    }

    /// Adds the calendars and policies of `config/sla.toml` that the database does not have
    /// yet (by key); what was changed through the API is left alone.
    pub async fn seed_sla(&self, file: &Path) -> Result<(), SlaFileError> {
        let shown = file.display().to_string();
        let parsed: SlaFile = match std::fs::read_to_string(file) {
            Ok(text) => {
                let de = toml::Deserializer::new(&text);
                serde_path_to_error::deserialize(de).map_err(|e| {
                    let path = e.path().to_string();
                    let inner = e.into_inner();
                    let line = inner
                        .span()
                        .map(|s| format!("line {}: ", text[..s.start].bytes().filter(|b| *b == b'\n').count() + 1))
                        .unwrap_or_default();
                    SlaFileError::Parse { file: shown.clone(), message: format!("{line}{path}: {}", inner.message()) }
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(file = %shown, "no SLA file; starting with the policies already in the database");
                SlaFile::default()
            }
            Err(e) => return Err(SlaFileError::Parse { file: shown, message: e.to_string() }),
        };
        let now = Timestamp::now();
        for (key, spec) in &parsed.calendars {
            Calendar::from_spec(key, spec.clone()).map_err(|errors| SlaFileError::Invalid {
                file: shown.clone(),
                what: "calendar",
                key: key.clone(),
                errors,
            })?;
            self.store.seed_catalog_entry(Catalog::Calendars, key, &spec_json(spec), now).await?;
        }
        let stored_calendars: Vec<String> = self.store.catalog_entries(Catalog::Calendars).await?.into_iter().map(|(k, _)| k).collect();
        let calendar_keys: Vec<&str> = stored_calendars.iter().map(String::as_str).collect();
        for (key, spec) in &parsed.policies {
            SlaPolicy::from_spec(key, spec.clone(), &calendar_keys, &self.tiers).map_err(|errors| SlaFileError::Invalid {
                file: shown.clone(),
                what: "policy",
                key: key.clone(),
                errors,
            })?;
            self.store.seed_catalog_entry(Catalog::Policies, key, &spec_json(spec), now).await?;
        }
        self.reload_sla_catalog().await.map_err(|e| match e {
            e @ (ServiceError::Unavailable(_) | ServiceError::Internal { .. }) => SlaFileError::Storage(e),
            other => SlaFileError::Parse { file: shown, message: other.to_string() },
        })
    }

    pub async fn create_calendar(&self, key: &str, spec: CalendarSpec) -> Result<Calendar, ServiceError> {
        let calendar = Calendar::from_spec(key, spec.clone())?;
        match self.store.insert_catalog_entry(Catalog::Calendars, key, &spec_json(&spec), Timestamp::now()).await {
            Ok(()) => {}
            Err(StoreError::Duplicate { constraint }) if constraint == unique::CALENDAR_KEY => {
                return Err(ServiceError::Conflict { field: Some("key"), message: format!("calendar `{key}` exists") })
            }
            Err(e) => return Err(e.into()),
        }
        self.reload_sla_catalog().await?;
        Ok(calendar)
    }

    pub async fn replace_calendar(&self, key: &str, spec: CalendarSpec) -> Result<Calendar, ServiceError> {
        let calendar = Calendar::from_spec(key, spec.clone())?;
        if !self.store.replace_catalog_entry(Catalog::Calendars, key, &spec_json(&spec), Timestamp::now()).await? {
            return Err(ServiceError::NotFound { what: "calendar" });
        }
        self.reload_sla_catalog().await?;
        Ok(calendar)
    }

    pub async fn delete_calendar(&self, key: &str) -> Result<(), ServiceError> {
        if let Some(users) = self.calendar_users(key) {
            return Err(ServiceError::Conflict { field: None, message: format!("calendar `{key}` is used by {users}") });
        }
        if !self.store.delete_catalog_entry(Catalog::Calendars, key).await? {
            return Err(ServiceError::NotFound { what: "calendar" });
        }
        self.reload_sla_catalog().await
    }

    /// Who counts time on calendar `key`, in words ("policies `a`, `b` and stages
    /// `general/after_sales`"); None when nothing does. A policy uses it as its calendar or
    /// one target's; a process stage as its own.
    pub fn calendar_users(&self, key: &str) -> Option<String> {
        let policies: Vec<String> = self
            .sla_catalog()
            .policies
            .iter()
            .filter(|p| p.to_spec().calendar_fields().any(|(_, c)| c == key))
            .map(|p| format!("`{}`", p.key))
            .collect();
        let stages: Vec<String> = self
            .processes
            .iter()
            .flat_map(|p| {
                p.stages.iter().filter(move |s| s.calendar.as_deref() == Some(key)).map(move |s| format!("`{}/{}`", p.key, s.key))
            })
            .collect();
        let said: Vec<String> = [("policies", policies), ("stages", stages)]
            .into_iter()
            .filter(|(_, users)| !users.is_empty())
            .map(|(what, users)| format!("{what} {}", users.join(", ")))
            .collect();
        (!said.is_empty()).then(|| said.join(" and "))
    }

    /// Every process stage names a calendar that exists (or `always`): checked once the SLA
    /// catalog is loaded, so a typo stops the start with the file and field.
    pub fn check_stage_calendars(&self) -> Result<(), ProcessLoadError> {
        let catalog = self.sla_catalog();
        let known: Vec<&str> = catalog.calendars.keys().map(String::as_str).collect();
        self.processes.check_calendars(&known)
    }

    fn check_policy(&self, key: &str, spec: PolicySpec) -> Result<SlaPolicy, ServiceError> {
        let catalog = self.sla_catalog();
        // A calendar that does not exist is a missing reference (404) naming its field, told
        // after the policy's own rules (422).
        let missing: Vec<(&'static str, String)> = spec
            .calendar_fields()
            .filter(|(_, c)| *c != Calendar::ALWAYS_UTC_KEY && !catalog.calendars.contains_key(*c))
            .map(|(field, c)| (field, c.to_owned()))
            .collect();
        let mut calendar_keys: Vec<&str> = catalog.calendars.keys().map(String::as_str).collect();
        calendar_keys.extend(missing.iter().map(|(_, c)| c.as_str()));
        let policy = SlaPolicy::from_spec(key, spec, &calendar_keys, &self.tiers)?;
        match missing.into_iter().next() {
            Some((field, calendar)) => Err(ServiceError::Missing { field, message: format!("no calendar `{calendar}`") }),
            None => Ok(policy),
        }
    }

    pub async fn create_policy(&self, key: &str, spec: PolicySpec) -> Result<SlaPolicy, ServiceError> {
        let policy = self.check_policy(key, spec)?;
        match self.store.insert_catalog_entry(Catalog::Policies, key, &spec_json(&policy.to_spec()), Timestamp::now()).await {
            Ok(()) => {}
            Err(StoreError::Duplicate { constraint }) if constraint == unique::POLICY_KEY => {
                return Err(ServiceError::Conflict { field: Some("key"), message: format!("policy `{key}` exists") })
            }
            Err(e) => return Err(e.into()),
        }
        self.reload_sla_catalog().await?;
        Ok(policy)
    }

    pub async fn replace_policy(&self, key: &str, spec: PolicySpec) -> Result<SlaPolicy, ServiceError> {
        let policy = self.check_policy(key, spec)?;
        if !self.store.replace_catalog_entry(Catalog::Policies, key, &spec_json(&policy.to_spec()), Timestamp::now()).await? {
            return Err(ServiceError::NotFound { what: "SLA policy" });
        }
        self.reload_sla_catalog().await?;
        Ok(policy)
    }

    pub async fn delete_policy(&self, key: &str) -> Result<(), ServiceError> {
        if !self.store.delete_catalog_entry(Catalog::Policies, key).await? {
            return Err(ServiceError::NotFound { what: "SLA policy" });
        }
        self.reload_sla_catalog().await
    }

    /// Clocks for a ticket being opened.
    pub fn plan_new_ticket(&self, change: Change) -> Change {
        let catalog = self.sla_catalog();
        let process = self.processes.get(&change.ticket.process).map(AsRef::as_ref);
        let plan = sla_engine::reconcile(None, &change.ticket, &change.events, process, &[], &catalog, change.ticket.created_at);
        change.with_sla(plan)
    }

    /// What a rule's change of `before` becomes once the SLA engine and the survey rule have
    /// had their say: the change storage commits.
    pub fn settle_change(&self, before: &Ticket, change: Change, clocks: &[TicketClock], catalog: &SlaCatalog, now: Timestamp) -> Change {
        let process = self.processes.get(&change.ticket.process).map(AsRef::as_ref);
        let plan = sla_engine::reconcile(Some(before), &change.ticket, &change.events, process, clocks, catalog, now);
        self.with_survey(before, change.with_sla(plan))
    }

    /// What the sweeper records for a ticket whose clocks are due by `now`.
    pub fn plan_sweep(ticket: &Ticket, clocks: &[TicketClock], catalog: &SlaCatalog, now: Timestamp) -> Change {
        Change::new(ticket.clone(), Vec::new()).with_sla(sla_engine::sweep(clocks, catalog, now))
    }

    /// Records every SLA alert due by `now`, once per clock and level even when several nodes
    /// sweep the same database. Returns how many tickets were looked at.
    pub async fn sweep_sla(&self, now: Timestamp, batch: u32) -> Result<usize, ServiceError> {
        let catalog = self.sla_catalog();
        let due = self.store.tickets_with_due_clocks(now, batch).await?;
        let actor = Actor::system();
        for ticket in &due {
            let outcome = self
                .store
                .change_ticket(TicketRef::Id(*ticket), &actor, |t, clocks| {
                    Ok::<_, ServiceError>(Services::plan_sweep(t, clocks, &catalog, now))
                })
                .await?;
            if let Some(Ok((after, events))) = outcome {
                if !events.is_empty() {
                    self.changes_committed();
                }
                self.metrics.observe_ticket(Some(&after), &after, &events);
            }
        }
        Ok(due.len())
    }

    pub async fn ticket_sla(&self, reference: TicketRef) -> Result<SlaReport, ServiceError> {
        let ticket = self.get_ticket(reference).await?;
        let clocks = self.store.ticket_clocks(ticket.id).await?;
        let catalog = self.sla_catalog();
        let now = Timestamp::now();
        let matched = catalog.matching(&ticket);
        let explanation = matched.as_ref().map(|m| m.explanation()).unwrap_or_else(|| "no SLA policy matches this ticket".to_owned());
        let policy = matched.map(|m| m.policy.clone());
        let calendar = catalog.calendar(policy.as_ref().and_then(|p| p.calendar.as_deref()));
        let mut clocks = clocks;
        // Ticket clocks first, then stage clocks in the order the stages were visited.
        clocks.sort_by_key(|c| {
            (
                c.clock.kind != steward_domain::clock::ClockKind::FirstResponse,
                c.clock.kind == steward_domain::clock::ClockKind::Stage,
                c.clock.started_at,
                c.id,
            )
        });
        let clocks = clocks
            .into_iter()
            .map(|clock| {
                let calendar = catalog.calendar_of(&clock);
                ClockReport {
                    state: clock.clock.state_at(&calendar, now),
                    elapsed_ms: clock.clock.elapsed_at(&calendar, now),
                    remaining_ms: clock.clock.remaining_at(&calendar, now),
                    due_at: sla_engine::due_at(&clock, &calendar),
                    calendar,
                    clock,
                }
            })
            .collect();
        Ok(SlaReport { policy, explanation, calendar, clocks, at: now })
    }
}
