//! The plugin registry the rest of Steward calls: loads plugin directories, runs hooks across
//! plugins with their failure policies, counts failures, disables plugins that keep failing,
//! swaps in reloaded versions atomically and exports metrics.

use super::manifest::{RequestedLimits, MANIFEST_FILE};
use super::wasm::{WasmRuntime, WasmRuntimeConfig};
use super::{
    load_plugin, Action, Call, EventSnapshot, FailurePolicy, Hook, KpiDecl, KpiInput, Limits, LoadError, Manifest, PartnerStats, Plugin,
    PluginError, Runtime, Scorecard, ScorecardDecl, TicketSnapshot, Verdict,
};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use steward_domain::process::Process;

/// The operator's plugin settings (the `[plugins]` table of the configuration).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Directories holding one sub-directory per plugin (each with a `plugin.toml`), in load
    /// order: the bundled `plugins/` and an operator directory. `STEWARD_PLUGIN_DIRS`
    /// (colon-separated) replaces the list.
    pub dirs: Vec<PathBuf>,
    /// Where compiled WASM components are cached; absent: compile at every start.
    pub cache_dir: Option<PathBuf>,
    /// Fuel (WASM) or operations (Rhai) per call: used when a plugin asks for none, and the cap.
    pub default_fuel: u64,
    pub max_fuel: u64,
    /// Linear memory per WASM instance, in MiB (Rhai strings are capped from it too).
    pub default_memory_mb: u32,
    pub max_memory_mb: u32,
    /// Wall time per call, in milliseconds.
    pub default_wall_time_ms: u64,
    pub max_wall_time_ms: u64,
    /// Largest hook input and output, in KiB.
    pub max_input_kb: usize,
    pub max_output_kb: usize,
    /// A plugin failing this many times within `failure_window_secs` is disabled until an
    /// administrator enables it again.
    pub failure_threshold: u32,
    pub failure_window_secs: u64,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            dirs: vec![PathBuf::from("plugins"), PathBuf::from("data/plugins")],
            cache_dir: Some(PathBuf::from("data/plugin-cache")),
            default_fuel: 10_000_000,
            max_fuel: 100_000_000,
            default_memory_mb: 16,
            max_memory_mb: 64,
            default_wall_time_ms: 100,
            max_wall_time_ms: 1_000,
            max_input_kb: 256,
            max_output_kb: 64,
            failure_threshold: 5,
            failure_window_secs: 60,
        }
    }
}

impl PluginsConfig {
    /// The limits a plugin runs under: what it asked for (or the default), capped.
    pub fn limits_for(&self, requested: &RequestedLimits) -> Limits {
        let fuel = requested.fuel.unwrap_or(self.default_fuel).min(self.max_fuel);
        let memory_mb = requested.memory_mb.unwrap_or(self.default_memory_mb).min(self.max_memory_mb);
        let wall_ms = requested.wall_time_ms.unwrap_or(self.default_wall_time_ms).min(self.max_wall_time_ms);
        Limits {
            fuel,
            memory_bytes: u64::from(memory_mb) << 20,
            wall_time: Duration::from_millis(wall_ms),
            max_input_bytes: self.max_input_kb.saturating_mul(1024),
            max_output_bytes: self.max_output_kb.saturating_mul(1024),
        }
    }

    pub fn wasm_runtime_config(&self) -> WasmRuntimeConfig {
        WasmRuntimeConfig {
            cache_dir: self.cache_dir.clone(),
            max_memory_bytes: u64::from(self.max_memory_mb) << 20,
            ..WasmRuntimeConfig::default()
        }
    }
}

/// Whether a plugin's hooks run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PluginState {
    Enabled,
    /// Disabled by an administrator.
    Disabled,
    /// Disabled by Steward after repeated failures; an administrator enables it again.
    AutoDisabled {
        reason: String,
    },
    /// Could not be loaded; fix it and reload.
    Failed {
        error: String,
    },
}

/// What the API and the CLI show about a plugin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginStatus {
    pub name: String,
    pub version: Option<String>,
    pub runtime: Option<Runtime>,
    pub dir: PathBuf,
    pub hooks: Vec<Hook>,
    /// Keys of the service processes it contributes.
    pub processes: Vec<String>,
    pub kpis: Vec<KpiDecl>,
    pub scorecards: Vec<ScorecardDecl>,
    #[serde(flatten)]
    pub state: PluginState,
    pub calls: u64,
    pub failures: u64,
    pub fuel_consumed: u64,
    pub mean_duration_us: f64,
    pub last_error: Option<String>,
}

/// A guard's veto of a stage move, or a fail-closed guard that could not decide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin `{plugin}` refused the move: {reason}")]
pub struct GuardRejection {
    pub plugin: String,
    pub reason: String,
    /// True when the plugin failed (and its guard is fail-closed) rather than said no.
    pub plugin_failed: bool,
}

/// Actions one plugin asked for in answer to an event.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginActions {
    pub plugin: String,
    pub actions: Vec<Action>,
}

/// A hook call that failed and was let through (fail-open), for the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginFailure {
    pub plugin: String,
    pub hook: Hook,
    pub error: String,
    /// Set when this failure made Steward disable the plugin.
    pub auto_disabled: Option<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HostError {
    #[error("no plugin named `{name}`")]
    UnknownPlugin { name: String },
    #[error("no plugin computes KPI `{name}`")]
    UnknownKpi { name: String },
    #[error("no plugin computes scorecard `{name}`")]
    UnknownScorecard { name: String },
    #[error("plugin `{name}` is not enabled")]
    NotEnabled { name: String },
    #[error("plugin `{plugin}` failed in `{hook}`: {error}")]
    Failed { plugin: String, hook: Hook, error: PluginError },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot register plugin metrics: {0}")]
    Metrics(String),
}

struct PluginMetrics {
    calls: IntCounterVec,
    duration: HistogramVec,
    fuel: IntCounterVec,
    disabled: IntGaugeVec,
}

impl PluginMetrics {
    fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let calls = IntCounterVec::new(
            Opts::new("steward_plugin_calls_total", "Plugin hook calls, by plugin, hook and outcome."),
            &["plugin", "hook", "outcome"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new("steward_plugin_call_duration_seconds", "Time a plugin hook call took, instantiation included.")
                .buckets(vec![0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05, 0.25, 1.0]),
            &["plugin", "hook"],
        )?;
        let fuel = IntCounterVec::new(
            Opts::new("steward_plugin_fuel_consumed_total", "Fuel (WASM) or operations (Rhai) consumed by successful calls."),
            &["plugin"],
        )?;
        let disabled = IntGaugeVec::new(
            Opts::new("steward_plugin_disabled", "1 while a plugin is disabled, failed to load or auto-disabled."),
            &["plugin"],
        )?;
        registry.register(Box::new(calls.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(fuel.clone()))?;
        registry.register(Box::new(disabled.clone()))?;
        Ok(PluginMetrics { calls, duration, fuel, disabled })
    }
}

/// A loaded version of a plugin. Calls hold an `Arc` to it, so a reload never pulls a version
/// out from under a call in flight.
struct Loaded {
    manifest: Manifest,
    plugin: Arc<dyn Plugin>,
}

#[derive(Default)]
struct Stats {
    calls: AtomicU64,
    failures: AtomicU64,
    fuel: AtomicU64,
    nanos: AtomicU64,
    last_error: Mutex<Option<String>>,
    recent_failures: Mutex<VecDeque<Instant>>,
}

struct Slot {
    dir: PathBuf,
    loaded: RwLock<Option<Arc<Loaded>>>,
    state: Mutex<PluginState>,
    stats: Stats,
}

impl Slot {
    fn loaded(&self) -> Option<Arc<Loaded>> {
        self.loaded.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn state(&self) -> PluginState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_state(&self, state: PluginState) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }
}

/// All plugins of this node. Cheap to share behind an `Arc`; every method takes `&self`.
///
/// Hook calls are synchronous and CPU-bound (bounded by fuel and wall time): from async code
/// use the `*_async` methods, which run them on tokio's blocking pool.
pub struct PluginHost {
    config: PluginsConfig,
    wasm: Arc<WasmRuntime>,
    slots: RwLock<BTreeMap<String, Arc<Slot>>>,
    metrics: PluginMetrics,
}

impl PluginHost {
    /// Starts the WASM sandbox and registers the plugin metrics in `registry`. Loads nothing:
    /// call [`PluginHost::load_all`].
    pub fn new(config: PluginsConfig, registry: &Registry) -> Result<Self, HostError> {
        let wasm = WasmRuntime::new(&config.wasm_runtime_config())?;
        Self::with_runtime(config, wasm, registry)
    }

    /// Like [`PluginHost::new`], sharing an existing WASM runtime (tests, tools).
    pub fn with_runtime(config: PluginsConfig, wasm: Arc<WasmRuntime>, registry: &Registry) -> Result<Self, HostError> {
        let metrics = PluginMetrics::register(registry).map_err(|e| HostError::Metrics(e.to_string()))?;
        Ok(PluginHost { config, wasm, slots: RwLock::new(BTreeMap::new()), metrics })
    }

    pub fn config(&self) -> &PluginsConfig {
        &self.config
    }

    /// Loads every plugin directory under the configured `dir` (a missing `dir` means no
    /// plugins). A plugin that fails to load is kept in the list as failed, with its error,
    /// and returned here for logging; the others load regardless.
    pub fn load_all(&self) -> Vec<LoadError> {
        let mut errors = Vec::new();
        for root in &self.config.dirs {
            let Ok(entries) = std::fs::read_dir(root) else {
                continue;
            };
            let mut dirs: Vec<PathBuf> =
                entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.join(MANIFEST_FILE).is_file()).collect();
            dirs.sort();
            errors.extend(dirs.iter().filter_map(|dir| self.load_dir(dir).err()));
        }
        errors
    }

    /// Loads (or replaces) the plugin in `dir` and returns its name.
    pub fn load_dir(&self, dir: &Path) -> Result<String, LoadError> {
        match self.build(dir) {
            Ok(loaded) => {
                let name = loaded.manifest.name.clone();
                let mut slots = self.write_slots();
                if let Some(existing) = slots.get(&name) {
                    if existing.dir != dir {
                        let error = LoadError::Entry {
                            file: dir.join(MANIFEST_FILE).display().to_string(),
                            message: format!("plugin name `{name}` is already used by {}", existing.dir.display()),
                        };
                        drop(slots);
                        self.insert_failed(dir, &error);
                        return Err(error);
                    }
                }
                // A failed load of the same directory was kept under the directory's name.
                let dir_key = dir_key(dir);
                if dir_key != name && slots.get(&dir_key).is_some_and(|s| s.dir == dir) {
                    slots.remove(&dir_key);
                }
                let slot = slots.entry(name.clone()).or_insert_with(|| {
                    Arc::new(Slot {
                        dir: dir.to_owned(),
                        loaded: RwLock::new(None),
                        state: Mutex::new(PluginState::Enabled),
                        stats: Stats::default(),
                    })
                });
                *slot.loaded.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(loaded));
                if matches!(slot.state(), PluginState::Failed { .. }) {
                    slot.set_state(PluginState::Enabled);
                }
                self.metrics.disabled.with_label_values(&[name.as_str()]).set(i64::from(slot.state() != PluginState::Enabled));
                tracing::info!(plugin = %name, dir = %dir.display(), "plugin loaded");
                Ok(name)
            }
            Err(error) => {
                tracing::error!(dir = %dir.display(), %error, "plugin disabled: it cannot be loaded");
                self.insert_failed(dir, &error);
                Err(error)
            }
        }
    }

    fn build(&self, dir: &Path) -> Result<Loaded, LoadError> {
        let manifest = Manifest::load(dir)?;
        let limits = self.config.limits_for(&manifest.limits);
        let plugin = load_plugin(&manifest, limits, &self.wasm)?;
        Ok(Loaded { manifest, plugin })
    }

    fn insert_failed(&self, dir: &Path, error: &LoadError) {
        let mut slots = self.write_slots();
        // Keep the previous good version of a plugin whose reload failed: mark it failed.
        let key = slots.iter().find(|(_, s)| s.dir == dir).map(|(k, _)| k.clone()).unwrap_or_else(|| dir_key(dir));
        let slot = slots.entry(key.clone()).or_insert_with(|| {
            Arc::new(Slot {
                dir: dir.to_owned(),
                loaded: RwLock::new(None),
                state: Mutex::new(PluginState::Enabled),
                stats: Stats::default(),
            })
        });
        *slot.loaded.write().unwrap_or_else(|e| e.into_inner()) = None;
        slot.set_state(PluginState::Failed { error: error.to_string() });
        self.metrics.disabled.with_label_values(&[key.as_str()]).set(1);
    }

    fn write_slots(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Slot>>> {
        self.slots.write().unwrap_or_else(|e| e.into_inner())
    }

    fn slot(&self, name: &str) -> Result<Arc<Slot>, HostError> {
        self.slots
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| HostError::UnknownPlugin { name: name.to_owned() })
    }

    /// Enabled plugins that implement `hook`, in name order, each with the version to call.
    fn callable(&self, hook: Hook) -> Vec<(String, Arc<Slot>, Arc<Loaded>)> {
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        slots
            .iter()
            .filter(|(_, slot)| slot.state() == PluginState::Enabled)
            .filter_map(|(name, slot)| slot.loaded().filter(|l| l.manifest.implements(hook)).map(|l| (name.clone(), slot.clone(), l)))
            .collect()
    }

    /// Re-reads a plugin's directory and swaps the new version in; calls already running
    /// finish on the old one. A plugin that fails to reload is marked failed.
    pub fn reload(&self, name: &str) -> Result<PluginStatus, HostError> {
        let slot = self.slot(name)?;
        let new_name = self.load_dir(&slot.dir)?;
        self.status(&new_name)
    }

    /// Disables a plugin: its hooks stop being called (its processes stay, for existing tickets).
    pub fn disable(&self, name: &str) -> Result<PluginStatus, HostError> {
        let slot = self.slot(name)?;
        if !matches!(slot.state(), PluginState::Failed { .. }) {
            slot.set_state(PluginState::Disabled);
            self.metrics.disabled.with_label_values(&[name]).set(1);
            tracing::warn!(plugin = %name, "plugin disabled by an administrator");
        }
        self.status(name)
    }

    /// Enables a disabled or auto-disabled plugin and forgets its recent failures. A plugin
    /// that failed to load must be reloaded instead.
    pub fn enable(&self, name: &str) -> Result<PluginStatus, HostError> {
        let slot = self.slot(name)?;
        if slot.loaded().is_none() {
            return Err(HostError::NotEnabled { name: name.to_owned() });
        }
        slot.stats.recent_failures.lock().unwrap_or_else(|e| e.into_inner()).clear();
        slot.set_state(PluginState::Enabled);
        self.metrics.disabled.with_label_values(&[name]).set(0);
        tracing::info!(plugin = %name, "plugin enabled");
        self.status(name)
    }

    pub fn status(&self, name: &str) -> Result<PluginStatus, HostError> {
        let slot = self.slot(name)?;
        Ok(Self::describe(name, &slot))
    }

    /// Every plugin, loaded or not, in name order.
    pub fn list(&self) -> Vec<PluginStatus> {
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        slots.iter().map(|(name, slot)| Self::describe(name, slot)).collect()
    }

    fn describe(name: &str, slot: &Slot) -> PluginStatus {
        let loaded = slot.loaded();
        let m = loaded.as_ref().map(|l| &l.manifest);
        let calls = slot.stats.calls.load(Ordering::Relaxed);
        let nanos = slot.stats.nanos.load(Ordering::Relaxed);
        PluginStatus {
            name: name.to_owned(),
            version: m.map(|m| m.version.to_string()),
            runtime: m.map(|m| m.runtime),
            dir: slot.dir.clone(),
            hooks: m.map(|m| m.hooks.clone()).unwrap_or_default(),
            processes: m.map(|m| m.processes.iter().map(|p| p.key.clone()).collect()).unwrap_or_default(),
            kpis: m.map(|m| m.kpis.clone()).unwrap_or_default(),
            scorecards: m.map(|m| m.scorecards.clone()).unwrap_or_default(),
            state: slot.state(),
            calls,
            failures: slot.stats.failures.load(Ordering::Relaxed),
            fuel_consumed: slot.stats.fuel.load(Ordering::Relaxed),
            mean_duration_us: if calls == 0 { 0.0 } else { nanos as f64 / calls as f64 / 1000.0 },
            last_error: slot.stats.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }

    /// Service processes contributed by loaded plugins (whatever their state: tickets already
    /// in a process must keep working while its plugin is disabled).
    pub fn processes(&self) -> Vec<Process> {
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        slots.values().filter_map(|s| s.loaded()).flat_map(|l| l.manifest.processes.clone()).collect()
    }

    /// KPIs declared by loaded plugins, with the plugin's name.
    pub fn kpis(&self) -> Vec<(String, KpiDecl)> {
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        slots
            .iter()
            .filter_map(|(n, s)| s.loaded().map(|l| (n.clone(), l)))
            .flat_map(|(n, l)| l.manifest.kpis.iter().map(move |k| (n.clone(), k.clone())).collect::<Vec<_>>())
            .collect()
    }

    /// Scorecards declared by loaded plugins, with the plugin's name.
    pub fn scorecards(&self) -> Vec<(String, ScorecardDecl)> {
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        slots
            .iter()
            .filter_map(|(n, s)| s.loaded().map(|l| (n.clone(), l)))
            .flat_map(|(n, l)| l.manifest.scorecards.iter().map(move |c| (n.clone(), c.clone())).collect::<Vec<_>>())
            .collect()
    }

    /// Runs every enabled guard on a stage move, in plugin-name order; the first veto wins.
    /// A failing guard rejects the move when its policy is fail-closed (the default for
    /// guards) and is skipped, logged and counted when fail-open.
    pub fn guard_transition(&self, ticket: &TicketSnapshot, from: &str, to: &str) -> Result<(), GuardRejection> {
        self.guard_transition_reporting(ticket, from, to).0
    }

    /// [`PluginHost::guard_transition`], also returning the fail-open failures it let through.
    pub fn guard_transition_reporting(
        &self,
        ticket: &TicketSnapshot,
        from: &str,
        to: &str,
    ) -> (Result<(), GuardRejection>, Vec<PluginFailure>) {
        let mut failures = Vec::new();
        for (name, slot, loaded) in self.callable(Hook::GuardTransition) {
            let result = self.invoke(
                &name,
                &slot,
                &loaded,
                Hook::GuardTransition,
                |p| p.guard_transition(ticket, from, to),
                |v| match v {
                    Verdict::Allow => "ok",
                    Verdict::Reject(_) => "rejected",
                },
            );
            match result {
                Ok(Verdict::Allow) => {}
                Ok(Verdict::Reject(reason)) => return (Err(GuardRejection { plugin: name, reason, plugin_failed: false }), failures),
                Err(error) => {
                    if loaded.manifest.failure_policy(Hook::GuardTransition) == FailurePolicy::FailClosed {
                        return (
                            Err(GuardRejection {
                                plugin: name,
                                reason: format!("the plugin's guard failed, so the move is refused: {error}"),
                                plugin_failed: true,
                            }),
                            failures,
                        );
                    }
                    failures.push(Self::failure(&name, &slot, Hook::GuardTransition, &error));
                }
            }
        }
        (Ok(()), failures)
    }

    fn failure(name: &str, slot: &Slot, hook: Hook, error: &PluginError) -> PluginFailure {
        let auto_disabled = match slot.state() {
            PluginState::AutoDisabled { reason } => Some(reason),
            _ => None,
        };
        PluginFailure { plugin: name.to_owned(), hook, error: error.to_string(), auto_disabled }
    }

    /// Offers an event to every enabled `on-event` plugin and collects the actions they ask
    /// for (plugins that ask for none are left out). A failing fail-open plugin is logged and
    /// counted; a failing fail-closed one makes the whole call an error.
    pub fn on_event(&self, event: &EventSnapshot, ticket: &TicketSnapshot) -> Result<Vec<PluginActions>, HostError> {
        let (actions, _) = self.on_event_reporting(event, ticket)?;
        Ok(actions)
    }

    /// [`PluginHost::on_event`], also returning the fail-open failures it let through.
    pub fn on_event_reporting(
        &self,
        event: &EventSnapshot,
        ticket: &TicketSnapshot,
    ) -> Result<(Vec<PluginActions>, Vec<PluginFailure>), HostError> {
        let mut out = Vec::new();
        let mut failures = Vec::new();
        for (name, slot, loaded) in self.callable(Hook::OnEvent) {
            match self.invoke(&name, &slot, &loaded, Hook::OnEvent, |p| p.on_event(event, ticket), |_| "ok") {
                Ok(actions) if actions.is_empty() => {}
                Ok(actions) => out.push(PluginActions { plugin: name, actions }),
                Err(error) if loaded.manifest.failure_policy(Hook::OnEvent) == FailurePolicy::FailClosed => {
                    return Err(HostError::Failed { plugin: name, hook: Hook::OnEvent, error })
                }
                Err(error) => failures.push(Self::failure(&name, &slot, Hook::OnEvent, &error)),
            }
        }
        Ok((out, failures))
    }

    /// Computes a plugin-declared KPI. `Ok(None)`: the plugin failed and is fail-open.
    pub fn compute_kpi(&self, kpi: &str, input: &KpiInput) -> Result<Option<f64>, HostError> {
        let (name, slot, loaded) = self
            .declaring(Hook::ComputeKpi, |m| m.kpis.iter().any(|k| k.name == kpi))
            .ok_or_else(|| HostError::UnknownKpi { name: kpi.to_owned() })?;
        self.single(&name, &slot, &loaded, Hook::ComputeKpi, |p| p.compute_kpi(kpi, input))
    }

    /// Computes a plugin-declared partner scorecard. `Ok(None)`: the plugin failed and is fail-open.
    pub fn score_partner(&self, scorecard: &str, stats: &PartnerStats) -> Result<Option<Scorecard>, HostError> {
        let (name, slot, loaded) = self
            .declaring(Hook::ScorePartner, |m| m.scorecards.iter().any(|c| c.name == scorecard))
            .ok_or_else(|| HostError::UnknownScorecard { name: scorecard.to_owned() })?;
        self.single(&name, &slot, &loaded, Hook::ScorePartner, |p| p.score_partner(scorecard, stats))
    }

    fn declaring(&self, hook: Hook, declares: impl Fn(&Manifest) -> bool) -> Option<(String, Arc<Slot>, Arc<Loaded>)> {
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        slots.iter().find_map(|(name, slot)| {
            slot.loaded().filter(|l| l.manifest.implements(hook) && declares(&l.manifest)).map(|l| (name.clone(), slot.clone(), l))
        })
    }

    fn single<T>(
        &self,
        name: &str,
        slot: &Slot,
        loaded: &Loaded,
        hook: Hook,
        f: impl FnOnce(&dyn Plugin) -> Result<Call<T>, PluginError>,
    ) -> Result<Option<T>, HostError> {
        if slot.state() != PluginState::Enabled {
            return Err(HostError::NotEnabled { name: name.to_owned() });
        }
        match self.invoke(name, slot, loaded, hook, f, |_| "ok") {
            Ok(v) => Ok(Some(v)),
            Err(error) if loaded.manifest.failure_policy(hook) == FailurePolicy::FailClosed => {
                Err(HostError::Failed { plugin: name.to_owned(), hook, error })
            }
            Err(_) => Ok(None),
        }
    }

    /// Calls one hook of one plugin and accounts for it: metrics, statistics, failures.
    fn invoke<T>(
        &self,
        name: &str,
        slot: &Slot,
        loaded: &Loaded,
        hook: Hook,
        f: impl FnOnce(&dyn Plugin) -> Result<Call<T>, PluginError>,
        outcome: impl Fn(&T) -> &'static str,
    ) -> Result<T, PluginError> {
        let started = Instant::now();
        // A panic here would be a bug in a runtime binding, not in the guest; contain it anyway
        // so a request never dies with it.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&*loaded.plugin)))
            .unwrap_or_else(|_| Err(PluginError::Host { message: "the plugin runtime panicked".into() }));
        let elapsed = started.elapsed();
        let labels = [name, hook.as_str()];
        self.metrics.duration.with_label_values(&labels).observe(elapsed.as_secs_f64());
        slot.stats.calls.fetch_add(1, Ordering::Relaxed);
        slot.stats.nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        match result {
            Ok(call) => {
                slot.stats.fuel.fetch_add(call.usage.fuel, Ordering::Relaxed);
                self.metrics.fuel.with_label_values(&[name]).inc_by(call.usage.fuel);
                self.metrics.calls.with_label_values(&[name, hook.as_str(), outcome(&call.value)]).inc();
                Ok(call.value)
            }
            Err(error) => {
                self.metrics.calls.with_label_values(&[name, hook.as_str(), error.outcome()]).inc();
                self.record_failure(name, slot, hook, &error);
                Err(error)
            }
        }
    }

    fn record_failure(&self, name: &str, slot: &Slot, hook: Hook, error: &PluginError) {
        tracing::warn!(plugin = %name, %hook, %error, "plugin call failed");
        slot.stats.failures.fetch_add(1, Ordering::Relaxed);
        *slot.stats.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{hook}: {error}"));
        let window = Duration::from_secs(self.config.failure_window_secs);
        let now = Instant::now();
        let count = {
            let mut recent = slot.stats.recent_failures.lock().unwrap_or_else(|e| e.into_inner());
            recent.push_back(now);
            while recent.front().is_some_and(|t| now.duration_since(*t) > window) {
                recent.pop_front();
            }
            recent.len()
        };
        if self.config.failure_threshold > 0 && count >= self.config.failure_threshold as usize {
            let mut state = slot.state.lock().unwrap_or_else(|e| e.into_inner());
            if *state == PluginState::Enabled {
                let reason = format!("failed {count} times within {} s; last: {hook}: {error}", self.config.failure_window_secs);
                tracing::error!(plugin = %name, %reason, "plugin auto-disabled");
                *state = PluginState::AutoDisabled { reason };
                self.metrics.disabled.with_label_values(&[name]).set(1);
            }
        }
    }

    /// Runs a hook call on tokio's blocking pool (calls are CPU-bound); a call that could not
    /// even run there is reported as a host failure of `hook`.
    pub async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        hook: Hook,
        call: impl FnOnce(&PluginHost) -> Result<T, HostError> + Send + 'static,
    ) -> Result<T, HostError> {
        let host = self.clone();
        tokio::task::spawn_blocking(move || call(&host)).await.unwrap_or_else(|e| {
            Err(HostError::Failed { plugin: "(plugin host)".into(), hook, error: PluginError::Host { message: e.to_string() } })
        })
    }

    /// [`PluginHost::guard_transition`] on tokio's blocking pool.
    pub async fn guard_transition_async(self: &Arc<Self>, ticket: TicketSnapshot, from: String, to: String) -> Result<(), GuardRejection> {
        self.blocking(Hook::GuardTransition, move |host| Ok(host.guard_transition(&ticket, &from, &to)))
            .await
            .unwrap_or_else(|e| Err(GuardRejection { plugin: "(plugin host)".into(), reason: e.to_string(), plugin_failed: true }))
    }

    /// [`PluginHost::on_event`] on tokio's blocking pool.
    pub async fn on_event_async(self: &Arc<Self>, event: EventSnapshot, ticket: TicketSnapshot) -> Result<Vec<PluginActions>, HostError> {
        self.blocking(Hook::OnEvent, move |host| host.on_event(&event, &ticket)).await
    }

    /// [`PluginHost::compute_kpi`] on tokio's blocking pool.
    pub async fn compute_kpi_async(self: &Arc<Self>, kpi: String, input: KpiInput) -> Result<Option<f64>, HostError> {
        self.blocking(Hook::ComputeKpi, move |host| host.compute_kpi(&kpi, &input)).await
    }

    /// [`PluginHost::score_partner`] on tokio's blocking pool.
    pub async fn score_partner_async(self: &Arc<Self>, scorecard: String, stats: PartnerStats) -> Result<Option<Scorecard>, HostError> {
        self.blocking(Hook::ScorePartner, move |host| host.score_partner(&scorecard, &stats)).await
    }
}

fn dir_key(dir: &Path) -> String {
    dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use crate::types::samples;
    use steward_domain::ticket::Priority;

    fn host_with(config: PluginsConfig) -> (PluginHost, Registry) {
        let registry = Registry::new();
        (PluginHost::with_runtime(config, testing::runtime(), &registry).unwrap(), registry)
    }

    /// A host over the repository's bundled plugins.
    fn bundled_host() -> (PluginHost, Registry) {
        let dir = testing::bundled("field-service").parent().unwrap().to_owned();
        let (host, registry) = host_with(PluginsConfig { dirs: vec![dir], cache_dir: None, ..PluginsConfig::default() });
        assert_eq!(host.load_all(), []);
        (host, registry)
    }

    fn render(registry: &Registry) -> String {
        let mut out = Vec::new();
        prometheus::Encoder::encode(&prometheus::TextEncoder::new(), &registry.gather(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn ticket(process: &str, stage: &str) -> TicketSnapshot {
        TicketSnapshot { process: process.into(), stage: stage.into(), ..samples::ticket() }
    }

    fn event(kind: &str) -> EventSnapshot {
        EventSnapshot { kind: kind.into(), data: serde_json::json!({}), at: samples::NOW, actor: "ann".into() }
    }

    const LOOPING_GUARD: &str = "fn guard_transition(t, f, to) { loop { } }";

    fn rhai_plugin(name: &str, script: &str, extra: &str) -> (tempfile::TempDir, PathBuf) {
        let manifest = format!(
            "name = \"{name}\"\nversion = \"1.0.0\"\ncontract = \"steward:plugin@1\"\nruntime = \"rhai\"\nentry = \"main.rhai\"\nhooks = [\"guard-transition\"]\n{extra}"
        );
        testing::plugin_dir(name, &[("plugin.toml", manifest.as_bytes()), ("main.rhai", script.as_bytes())])
    }

    #[test]
    fn bundled_plugins_load_with_their_contributions() {
        let (host, _) = bundled_host();
        let list = host.list();
        let names: Vec<_> = list.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["ecommerce-returns", "field-service", "first-contact-kpi", "partner-scorecard"]);
        assert!(list.iter().all(|s| s.state == PluginState::Enabled), "{list:?}");
        let mut processes: Vec<_> = host.processes().into_iter().map(|p| p.key).collect();
        processes.sort();
        assert_eq!(processes, ["ecommerce", "field_service"]);
        let field_service = host.processes().into_iter().find(|p| p.key == "field_service").unwrap();
        let stages: Vec<_> = field_service.stages.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(stages, ["dispatch", "on_site", "parts", "verification", "closed", "cancelled"]);
        let kpis: Vec<_> = host.kpis().into_iter().map(|(p, k)| format!("{p}/{}", k.name)).collect();
        assert_eq!(kpis, ["first-contact-kpi/first_contact_resolution", "first-contact-kpi/reopen_rate"]);
        assert_eq!(host.scorecards()[0].1.name, "partner_quality");
    }

    #[test]
    fn field_service_guard_wants_a_parts_log_before_verification() {
        let (host, registry) = bundled_host();
        let t = ticket("field_service", "parts");
        let veto = host.guard_transition(&t, "parts", "verification").unwrap_err();
        assert_eq!(veto.plugin, "field-service");
        assert!(!veto.plugin_failed);
        assert!(veto.reason.contains("parts_log"), "{veto}");
        let mut logged = t.clone();
        logged.custom_fields.insert("parts_log".into(), "valve x2".into());
        assert_eq!(host.guard_transition(&logged, "parts", "verification"), Ok(()));
        assert_eq!(host.guard_transition(&t, "parts", "on_site"), Ok(()));
        assert_eq!(host.guard_transition(&ticket("general", "delivery"), "delivery", "verification"), Ok(()));
        let metrics = render(&registry);
        assert!(
            metrics.contains("steward_plugin_calls_total{hook=\"guard-transition\",outcome=\"rejected\",plugin=\"field-service\"} 1"),
            "{metrics}"
        );
        assert!(metrics.contains("steward_plugin_call_duration_seconds_bucket{hook=\"guard-transition\""), "{metrics}");
        assert!(metrics.contains("steward_plugin_fuel_consumed_total{plugin=\"field-service\"}"), "{metrics}");
        let status = host.status("field-service").unwrap();
        assert!(status.calls >= 4 && status.fuel_consumed > 0 && status.mean_duration_us > 0.0, "{status:?}");
    }

    #[test]
    fn field_service_tags_urgent_on_site_work() {
        let (host, _) = bundled_host();
        let mut t = ticket("field_service", "on_site");
        t.priority = "urgent".into();
        let out = host.on_event(&event("stage_changed"), &t).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].plugin, "field-service");
        assert_eq!(out[0].actions[0], Action::AddTag("urgent-onsite".into()));
        assert!(matches!(&out[0].actions[1], Action::AddInternalNote(n) if n.contains("arrival")));
        t.priority = Priority::Normal.to_string();
        assert_eq!(host.on_event(&event("stage_changed"), &t).unwrap(), []);
    }

    #[test]
    fn ecommerce_guards_shipping_and_closing_and_tags_returns() {
        let (host, _) = bundled_host();
        let mut t = ticket("ecommerce", "payment");
        let veto = host.guard_transition(&t, "payment", "shipping").unwrap_err();
        assert_eq!(veto.plugin, "ecommerce-returns");
        assert!(veto.reason.contains("payment_ref"), "{veto}");
        t.custom_fields.insert("payment_ref".into(), "PAY-1".into());
        assert_eq!(host.guard_transition(&t, "payment", "shipping"), Ok(()));
        t.stage = "after_sales".into();
        t.custom_fields.insert("return_status".into(), "open".into());
        assert!(host.guard_transition(&t, "after_sales", "closed").unwrap_err().reason.contains("return is still open"));
        let out = host.on_event(&event("updated"), &t).unwrap();
        assert_eq!(out[0].actions[0], Action::AddTag("return".into()));
        t.custom_fields.insert("return_status".into(), "refunded".into());
        assert_eq!(host.guard_transition(&t, "after_sales", "closed"), Ok(()));
    }

    #[test]
    fn partner_scorecard_weights_on_time_csat_and_complaints() {
        let (host, _) = bundled_host();
        let card = host.score_partner("partner_quality", &samples::partner()).unwrap().unwrap();
        // 90 on time (36/40), CSAT 4.5 → 87.5, 1 complaint in 40 jobs → 93.75.
        assert!((card.score - 90.0).abs() < 1e-9, "{card:?}");
        assert_eq!(card.grade, "A");
        let weights: f64 = card.breakdown.iter().map(|i| i.weight).sum();
        assert!((weights - 1.0).abs() < 1e-9);
        let poor = PartnerStats { on_time: 20, complaints: 8, csat_average: Some(2.0), ..samples::partner() };
        assert_eq!(host.score_partner("partner_quality", &poor).unwrap().unwrap().grade, "D");
        assert!(matches!(host.score_partner("nope", &poor), Err(HostError::UnknownScorecard { .. })));
    }

    #[test]
    fn kpi_plugin_computes_first_contact_resolution() {
        let (host, _) = bundled_host();
        assert_eq!(host.compute_kpi("first_contact_resolution", &samples::kpi()), Ok(Some(0.7)));
        assert_eq!(host.compute_kpi("reopen_rate", &samples::kpi()), Ok(Some(0.05)));
        assert!(matches!(host.compute_kpi("nps", &samples::kpi()), Err(HostError::UnknownKpi { .. })));
        // No data is the plugin's own error; the hook is fail-open, so the KPI is just missing.
        let empty = KpiInput { tickets_resolved: 0, ..samples::kpi() };
        assert_eq!(host.compute_kpi("first_contact_resolution", &empty), Ok(None));
        let status = host.status("first-contact-kpi").unwrap();
        assert!(status.last_error.unwrap().contains("no-data"));
    }

    #[test]
    fn a_bad_manifest_disables_only_that_plugin() {
        let root = tempfile::tempdir().unwrap();
        for (name, manifest, script) in [
            ("good", "name = \"good\"\nversion = \"1.0.0\"\ncontract = \"steward:plugin@1\"\nruntime = \"rhai\"\nentry = \"main.rhai\"\nhooks = [\"guard-transition\"]\n", "fn guard_transition(t, f, to) { }"),
            ("broken", "name = \"broken\"\nversion = \"1.0.0\"\ncontract = \"steward:plugin@9\"\nruntime = \"rhai\"\nentry = \"main.rhai\"\nhooks = [\"guard-transition\"]\n", ""),
        ] {
            std::fs::create_dir(root.path().join(name)).unwrap();
            std::fs::write(root.path().join(name).join("plugin.toml"), manifest).unwrap();
            std::fs::write(root.path().join(name).join("main.rhai"), script).unwrap();
        }
        let (host, registry) = host_with(PluginsConfig { dirs: vec![root.path().to_owned()], ..PluginsConfig::default() });
        let errors = host.load_all();
        assert_eq!(errors.len(), 1);
        let text = errors[0].to_string();
        assert!(text.contains("broken/plugin.toml:3: contract:") && text.contains("steward:plugin@9"), "{text}");
        let broken = host.status("broken").unwrap();
        assert!(matches!(&broken.state, PluginState::Failed { error } if error.contains("contract")), "{broken:?}");
        assert_eq!(host.status("good").unwrap().state, PluginState::Enabled);
        assert!(render(&registry).contains("steward_plugin_disabled{plugin=\"broken\"} 1"));
        assert_eq!(host.guard_transition(&samples::ticket(), "a", "b"), Ok(()));
        assert!(matches!(host.enable("broken"), Err(HostError::NotEnabled { .. })));
    }

    #[test]
    fn a_failing_guard_rejects_when_fail_closed_and_is_skipped_when_fail_open() {
        let (_root, dir) = rhai_plugin("closed", LOOPING_GUARD, "[limits]\nfuel = 1000\n");
        let (host, _) = host_with(PluginsConfig::default());
        host.load_dir(&dir).unwrap();
        let veto = host.guard_transition(&samples::ticket(), "a", "b").unwrap_err();
        assert!(veto.plugin_failed && veto.reason.contains("out of fuel"), "{veto}");

        let (_root, dir) = rhai_plugin("open", LOOPING_GUARD, "[limits]\nfuel = 1000\n[failure]\nguard-transition = \"fail-open\"\n");
        let (host, registry) = host_with(PluginsConfig::default());
        host.load_dir(&dir).unwrap();
        assert_eq!(host.guard_transition(&samples::ticket(), "a", "b"), Ok(()));
        let status = host.status("open").unwrap();
        assert_eq!((status.calls, status.failures), (1, 1));
        assert!(status.last_error.unwrap().contains("out of fuel"));
        assert!(
            render(&registry).contains("steward_plugin_calls_total{hook=\"guard-transition\",outcome=\"out_of_fuel\",plugin=\"open\"} 1")
        );
    }

    #[test]
    fn a_wasm_plugin_breaking_the_contract_in_on_event_follows_its_failure_policy() {
        let (_root, dir) = testing::bad_guest_dir("\"on-event\"", "");
        let (host, registry) = host_with(PluginsConfig::default());
        host.load_dir(&dir).unwrap();
        assert_eq!(host.on_event(&event("created"), &samples::ticket()), Ok(vec![]));
        assert!(render(&registry).contains("steward_plugin_calls_total{hook=\"on-event\",outcome=\"bad_output\",plugin=\"bad-guest\"} 1"));

        let (_root, dir) = testing::bad_guest_dir("\"on-event\"", "[failure]\non-event = \"fail-closed\"\n");
        let (host, _) = host_with(PluginsConfig::default());
        host.load_dir(&dir).unwrap();
        let e = host.on_event(&event("created"), &samples::ticket()).unwrap_err();
        assert!(
            matches!(&e, HostError::Failed { plugin, hook: Hook::OnEvent, error: PluginError::BadOutput { .. } } if plugin == "bad-guest"),
            "{e}"
        );
    }

    #[test]
    fn a_plugin_failing_repeatedly_is_disabled_until_an_admin_enables_it() {
        let (_root, dir) = rhai_plugin("flaky", LOOPING_GUARD, "[limits]\nfuel = 1000\n[failure]\nguard-transition = \"fail-open\"\n");
        let (host, registry) = host_with(PluginsConfig { failure_threshold: 3, failure_window_secs: 600, ..PluginsConfig::default() });
        host.load_dir(&dir).unwrap();
        for _ in 0..5 {
            assert_eq!(host.guard_transition(&samples::ticket(), "a", "b"), Ok(()));
        }
        let status = host.status("flaky").unwrap();
        assert_eq!(status.calls, 3, "no calls once disabled");
        assert!(matches!(&status.state, PluginState::AutoDisabled { reason } if reason.contains("3 times")), "{status:?}");
        assert!(render(&registry).contains("steward_plugin_disabled{plugin=\"flaky\"} 1"));
        host.enable("flaky").unwrap();
        assert!(render(&registry).contains("steward_plugin_disabled{plugin=\"flaky\"} 0"));
        host.guard_transition(&samples::ticket(), "a", "b").unwrap();
        assert_eq!(host.status("flaky").unwrap().state, PluginState::Enabled, "failures were forgotten on enable");
        host.disable("flaky").unwrap();
        host.guard_transition(&samples::ticket(), "a", "b").unwrap();
        assert_eq!(host.status("flaky").unwrap().calls, 4);
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let (_root, dir) = rhai_plugin("slow-burn", LOOPING_GUARD, "[limits]\nfuel = 1000\n[failure]\nguard-transition = \"fail-open\"\n");
        let (host, _) = host_with(PluginsConfig { failure_threshold: 2, failure_window_secs: 0, ..PluginsConfig::default() });
        host.load_dir(&dir).unwrap();
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(5));
            host.guard_transition(&samples::ticket(), "a", "b").unwrap();
        }
        assert_eq!(host.status("slow-burn").unwrap().state, PluginState::Enabled);
    }

    #[test]
    fn reload_swaps_versions_while_calls_in_flight_keep_the_old_one() {
        let (_root, dir) = rhai_plugin("versioned", "fn guard_transition(t, f, to) { \"v1\" }", "");
        let (host, _) = host_with(PluginsConfig::default());
        host.load_dir(&dir).unwrap();
        // What a call in flight holds: the version it started with.
        let in_flight = host.callable(Hook::GuardTransition).pop().unwrap().2;
        std::fs::write(dir.join("main.rhai"), "fn guard_transition(t, f, to) { \"v2\" }").unwrap();
        std::fs::write(dir.join("plugin.toml"), std::fs::read_to_string(dir.join("plugin.toml")).unwrap().replace("1.0.0", "1.1.0"))
            .unwrap();
        let status = host.reload("versioned").unwrap();
        assert_eq!(status.version.as_deref(), Some("1.1.0"));
        assert_eq!(in_flight.plugin.guard_transition(&samples::ticket(), "a", "b").unwrap().value, Verdict::Reject("v1".into()));
        assert_eq!(host.guard_transition(&samples::ticket(), "a", "b").unwrap_err().reason, "v2");

        // A reload that fails marks the plugin failed instead of keeping a stale version running.
        std::fs::write(dir.join("main.rhai"), "fn guard_transition(t, f, to) {").unwrap();
        assert!(matches!(host.reload("versioned"), Err(HostError::Load(_))));
        assert!(matches!(host.status("versioned").unwrap().state, PluginState::Failed { .. }));
        assert_eq!(host.guard_transition(&samples::ticket(), "a", "b"), Ok(()));
        std::fs::write(dir.join("main.rhai"), "fn guard_transition(t, f, to) { }").unwrap();
        assert_eq!(host.reload("versioned").unwrap().state, PluginState::Enabled);
    }

    #[test]
    fn operator_caps_bound_what_plugins_ask_for() {
        let config = PluginsConfig::default();
        let asked = RequestedLimits { fuel: Some(u64::MAX), memory_mb: Some(4096), wall_time_ms: None };
        let limits = config.limits_for(&asked);
        assert_eq!(limits.fuel, config.max_fuel);
        assert_eq!(limits.memory_bytes, u64::from(config.max_memory_mb) << 20);
        assert_eq!(limits.wall_time, Duration::from_millis(config.default_wall_time_ms));
    }

    #[tokio::test]
    async fn async_wrappers_run_on_the_blocking_pool() {
        let (host, _) = bundled_host();
        let host = Arc::new(host);
        let veto = host.guard_transition_async(ticket("field_service", "parts"), "parts".into(), "verification".into()).await.unwrap_err();
        assert_eq!(veto.plugin, "field-service");
        assert_eq!(host.compute_kpi_async("first_contact_resolution".into(), samples::kpi()).await, Ok(Some(0.7)));
    }
}
