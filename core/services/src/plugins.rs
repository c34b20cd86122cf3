//! Plugins in the ticket flow: guards on stage moves, and reactions to ticket events applied as
//! the plugin's own changes through the normal rules.

use super::{ServiceError, Services};
use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use steward_domain::event::{Actor, ActorKind, EventData};
use steward_domain::ids::{TicketId, TicketRef};
use steward_domain::ticket::{Change, Ticket, TicketPatch, Visibility};
use steward_domain::time::Timestamp;
use steward_plugin_host::types::{Action, EventSnapshot, TicketSnapshot};
use steward_plugin_host::{PluginFailure, PluginHost};
use tokio::sync::watch;

/// Events just committed on one ticket, for the plugins' `on-event` hooks.
pub struct PluginJob {
    ticket: TicketId,
    events: Vec<EventData>,
    actor: Actor,
    at: Timestamp,
}

/// The queue of plugin jobs, in memory. The plugin worker and tests take jobs from it through
/// the same pass, [`Services::run_pending_plugin_jobs`].
pub(crate) struct PluginQueue {
    state: Mutex<QueueState>,
    /// Signalled after every change of `state`, so a pass can wait for a job another caller runs.
    changed: watch::Sender<()>,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<PluginJob>,
    /// Jobs taken from `jobs` and not finished yet.
    running: usize,
}

enum Next {
    Run(PluginJob),
    /// Another caller is running a job.
    Wait,
    Idle,
}

impl Default for PluginQueue {
    fn default() -> Self {
        PluginQueue { state: Mutex::default(), changed: watch::Sender::new(()) }
    }
}

impl PluginQueue {
    fn state(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().expect("plugin queue lock")
    }

    fn push(&self, job: PluginJob) {
        self.state().jobs.push_back(job);
        self.changed.send_replace(());
    }

    fn next(&self) -> Next {
        let mut state = self.state();
        match state.jobs.pop_front() {
            Some(job) => {
                state.running += 1;
                Next::Run(job)
            }
            None if state.running > 0 => Next::Wait,
            None => Next::Idle,
        }
    }
}

/// A job taken from the queue; finished when dropped, also when its pass is cancelled.
struct Running<'a>(&'a PluginQueue);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.state().running -= 1;
        self.0.changed.send_replace(());
    }
}

impl Services {
    /// Adds the plugin host: its contributed processes join the configured ones (a key already
    /// taken is refused with an error in the log), and committed events are queued for its
    /// `on-event` hooks (see [`plugin_worker`] and [`Services::run_pending_plugin_jobs`]).
    pub fn with_plugins(mut self, host: Arc<PluginHost>) -> Self {
        let mut registry = (*self.processes).clone();
        for process in host.processes() {
            let key = process.key.clone();
            if let Err(e) = registry.insert(process) {
                tracing::error!(process = %key, error = %e, "plugin process not added");
            }
        }
        self.processes = Arc::new(registry);
        self.plugin_jobs = Some(PluginQueue::default());
        self.plugins = Some(host);
        self
    }

    pub fn plugin_host(&self) -> Option<&Arc<PluginHost>> {
        self.plugins.as_ref()
    }

    /// Queues committed events for the plugins. A plugin's own changes are not fed back to
    /// plugins, nor are plugin failures, so plugins cannot loop.
    pub(super) fn notify_plugins(&self, ticket: TicketId, events: &[EventData], actor: &Actor, at: Timestamp) {
        let Some(queue) = &self.plugin_jobs else { return };
        if actor.kind == ActorKind::Plugin {
            return;
        }
        let events: Vec<EventData> = events.iter().filter(|e| !matches!(e, EventData::PluginFailed { .. })).cloned().collect();
        if !events.is_empty() {
            queue.push(PluginJob { ticket, events, actor: actor.clone(), at });
        }
    }

    /// Asks the plugins' guards about a move; their fail-open failures are recorded.
    pub(super) async fn guard_transition(&self, ticket: &Ticket, to: &str) -> Result<(), ServiceError> {
        let Some(host) = self.plugins.clone() else { return Ok(()) };
        let snapshot = TicketSnapshot::at(ticket, Timestamp::now());
        let (from, to_owned) = (ticket.stage.clone(), to.to_owned());
        let (verdict, failures) = host
            .blocking(steward_plugin_host::Hook::GuardTransition, move |host| {
                Ok(host.guard_transition_reporting(&snapshot, &from, &to_owned))
            })
            .await
            .map_err(|e| ServiceError::Plugin(format!("a transition guard could not run: {e}")))?;
        self.record_plugin_failures(ticket.id, failures).await;
        verdict.map_err(|r| ServiceError::Vetoed { plugin: r.plugin, reason: r.reason, plugin_failed: r.plugin_failed })
    }

    async fn record_plugin_failures(&self, ticket: TicketId, failures: Vec<PluginFailure>) {
        if failures.is_empty() {
            return;
        }
        let events: Vec<EventData> = failures
            .into_iter()
            .map(|f| EventData::PluginFailed {
                plugin: f.plugin,
                hook: f.hook.as_str().to_owned(),
                error: f.error,
                auto_disabled: f.auto_disabled,
            })
            .collect();
        let outcome = self
            .store
            .change_ticket(TicketRef::Id(ticket), &Actor::system(), |t, _| Ok::<_, ServiceError>(Change::new(t.clone(), events)))
            .await;
        match outcome {
            Ok(Some(Ok((_, events)))) if !events.is_empty() => self.changes_committed(),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, %ticket, "could not record a plugin failure on the ticket"),
        }
    }

    /// The plugin worker's pass: runs every queued job, in order, to completion (a job that
    /// another caller took meanwhile is waited for). Returns how many this call ran. Jobs
    /// produce no further jobs (a plugin's own changes are not fed back), so after it returns
    /// every event committed before the call has been offered to the plugins.
    pub async fn run_pending_plugin_jobs(&self) -> usize {
        let Some(queue) = &self.plugin_jobs else { return 0 };
        let mut ran = 0;
        loop {
            // Subscribed before looking, so a change made after the look wakes the wait below.
            let mut changes = queue.changed.subscribe();
            match queue.next() {
                Next::Run(job) => {
                    let _running = Running(queue);
                    self.run_plugin_job(job).await;
                    ran += 1;
                }
                Next::Wait => {
                    // The sender lives as long as the queue, which `self` holds.
                    let _ = changes.changed().await;
                }
                Next::Idle => return ran,
            }
        }
    }

    /// Runs the `on-event` hooks for one job and applies each plugin's actions as its own change.
    async fn run_plugin_job(&self, job: PluginJob) {
        let Some(host) = self.plugins.clone() else { return };
        for event in job.events {
            let ticket = match self.get_ticket(TicketRef::Id(job.ticket)).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(error = %e, ticket = %job.ticket, "plugin job: ticket unavailable");
                    return;
                }
            };
            let snapshot = TicketSnapshot::at(&ticket, Timestamp::now());
            let event = EventSnapshot::new(&event, &job.actor, job.at);
            let outcome = host.blocking(steward_plugin_host::Hook::OnEvent, move |host| host.on_event_reporting(&event, &snapshot)).await;
            let (actions, failures) = match outcome {
                Ok(result) => result,
                // A fail-closed on-event failure has nothing to refuse (the event happened); it is
                // recorded like any other.
                Err(steward_plugin_host::HostError::Failed { plugin, hook, error }) => {
                    (Vec::new(), vec![PluginFailure { plugin, hook, error: error.to_string(), auto_disabled: None }])
                }
                Err(e) => {
                    tracing::error!(error = %e, "on-event hooks failed");
                    continue;
                }
            };
            self.record_plugin_failures(job.ticket, failures).await;
            for set in actions {
                let actor = Actor::plugin(&set.plugin);
                let result = self
                    .modify_ticket(TicketRef::Id(job.ticket), None, &actor, |t| apply_actions(self, t, &set.actions, Timestamp::now()))
                    .await;
                if let Err(e) = result {
                    tracing::warn!(plugin = %set.plugin, error = %e, "plugin actions refused by the ticket's rules");
                    let failure = PluginFailure {
                        plugin: set.plugin.clone(),
                        hook: steward_plugin_host::Hook::OnEvent,
                        error: format!("actions refused: {e}"),
                        auto_disabled: None,
                    };
                    self.record_plugin_failures(job.ticket, vec![failure]).await;
                }
            }
        }
    }
}

/// A plugin's actions as one change: tags, custom fields and priority through the normal edit
/// rules, notes as internal comments.
fn apply_actions(services: &Services, t: &Ticket, actions: &[Action], now: Timestamp) -> Result<Change, ServiceError> {
    let mut patch = TicketPatch::default();
    let mut tags = t.tags.clone();
    let mut fields = Map::new();
    let mut notes = Vec::new();
    for action in actions {
        match action {
            Action::AddTag(tag) => {
                if !tags.contains(tag) {
                    tags.push(tag.clone());
                }
            }
            Action::SetCustomField { key, value } => {
                fields.insert(key.clone(), value.clone());
            }
            Action::SetPriority(priority) => patch.priority = Some(*priority),
            Action::AddInternalNote(note) => notes.push(note.clone()),
        }
    }
    if tags != t.tags {
        patch.tags = Some(tags);
    }
    if !fields.is_empty() {
        patch.custom_fields = Some(Value::Object(fields));
    }
    let mut change = services.with_rules(|rules| t.apply_patch(patch, rules, now))?;
    for note in notes {
        let noted = change.ticket.comment(&note, Visibility::Internal, false, now)?;
        change.ticket = noted.ticket;
        change.events.extend(noted.events);
    }
    Ok(change)
}

/// Feeds queued jobs to the plugins, one at a time, as they come (until aborted): each time
/// jobs are queued it runs the same pass that tests call.
pub async fn plugin_worker(services: Arc<Services>) {
    let Some(queue) = &services.plugin_jobs else { return };
    let mut changes = queue.changed.subscribe();
    loop {
        services.run_pending_plugin_jobs().await;
        // A change since the subscription (a job queued, or one finished, during the pass) ends
        // this wait at once; a pass over an empty queue costs nothing.
        if changes.changed().await.is_err() {
            return;
        }
    }
}

/// A plugin as the console shows it, in plain values (the console knows no plugin-host types).
#[derive(Debug, Clone)]
pub struct PluginSummary {
    pub name: String,
    pub version: Option<String>,
    pub runtime: Option<&'static str>,
    pub hooks: Vec<&'static str>,
    /// `enabled`, `disabled`, `auto_disabled`, `failed` or `not_built`.
    pub state: &'static str,
    /// Why it was disabled automatically, failed to load, or is not built.
    pub reason: Option<String>,
    pub calls: u64,
    pub failures: u64,
    pub fuel_consumed: u64,
    pub mean_duration_us: f64,
    pub last_error: Option<String>,
}

impl From<steward_plugin_host::PluginStatus> for PluginSummary {
    fn from(s: steward_plugin_host::PluginStatus) -> Self {
        use steward_plugin_host::PluginState;
        let (state, reason) = match s.state {
            PluginState::Enabled => ("enabled", None),
            PluginState::Disabled => ("disabled", None),
            PluginState::AutoDisabled { reason } => ("auto_disabled", Some(reason)),
            PluginState::Failed { error } => ("failed", Some(error)),
            PluginState::NotBuilt { reason } => ("not_built", Some(reason)),
        };
        PluginSummary {
            name: s.name,
            version: s.version,
            runtime: s.runtime.map(|r| r.as_str()),
            hooks: s.hooks.iter().map(|h| h.as_str()).collect(),
            state,
            reason,
            calls: s.calls,
            failures: s.failures,
            fuel_consumed: s.fuel_consumed,
            mean_duration_us: s.mean_duration_us,
            last_error: s.last_error,
        }
    }
}

/// What an administrator does to a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginAction {
    Enable,
    Disable,
    Reload,
}

impl Services {
    /// Every plugin with its state and counters (`ManagePlugins`); none without a plugin host.
    pub fn plugin_summaries(&self, principal: &steward_domain::auth::Principal) -> Result<Vec<PluginSummary>, ServiceError> {
        principal.require(steward_domain::auth::Permission::ManagePlugins)?;
        Ok(self.plugin_host().map(|h| h.list()).unwrap_or_default().into_iter().map(PluginSummary::from).collect())
    }

    /// Enables, disables or reloads a plugin (`ManagePlugins`), as the API's levers do.
    pub async fn act_on_plugin(
        &self,
        principal: &steward_domain::auth::Principal,
        name: &str,
        action: PluginAction,
    ) -> Result<PluginSummary, ServiceError> {
        principal.require(steward_domain::auth::Permission::ManagePlugins)?;
        let host = self.plugin_host().cloned().ok_or(ServiceError::NotFound { what: "plugin" })?;
        let name = name.to_owned();
        let done = match action {
            PluginAction::Enable => host.enable(&name),
            PluginAction::Disable => host.disable(&name),
            PluginAction::Reload => tokio::task::spawn_blocking(move || host.reload(&name))
                .await
                .map_err(|e| ServiceError::Internal { operation: "reloading a plugin", cause: e.to_string() })?,
        };
        match done {
            Ok(status) => Ok(status.into()),
            Err(steward_plugin_host::HostError::UnknownPlugin { .. }) => Err(ServiceError::NotFound { what: "plugin" }),
            Err(other) => Err(ServiceError::Plugin(other.to_string())),
        }
    }
}
