//! WebAssembly component plugins. The only module that knows wasmtime.
//!
//! One [`WasmRuntime`] per process owns the engine (pooling allocator when the address-space
//! reservation succeeds, on-demand allocation otherwise), the linker and the epoch ticker thread.
//! A [`WasmPlugin`] is a compiled component ready to instantiate (`InstancePre`); each call gets
//! a fresh store and instance, so no state survives between calls and a crashed call leaves
//! nothing behind. Per call: fuel (reported back as usage), an epoch deadline for wall time, a
//! [`ResourceLimiter`] capping linear memory, and size caps on input and output.
//!
//! Guests get no filesystem, network, environment, arguments or clock. Components built by
//! Rust's `wasm32-wasip2` target import WASI for their standard library, so WASI is linked, with
//! an empty context: no preopened directories, no variables, sockets refused, clocks frozen at
//! the epoch. Standard error goes to a small buffer that is quoted when the guest traps (that is
//! where a Rust panic message lands).
//!
//! Compiled components are cached on disk, keyed by the SHA-256 of the component and of the
//! engine's compatibility hash (wasmtime version and settings), so a restart does not recompile.

use super::limits::{self, Limits, MAX_LOG_LINES_PER_CALL, MAX_LOG_LINE_BYTES, MAX_REASON_BYTES};
use super::types::{check_kpi_value, truncate, RawPayload};
use super::{
    Action, Call, EventSnapshot, Hook, KpiInput, LoadError, Manifest, PartnerStats, Plugin, PluginError, ScoreItem, Scorecard,
    TicketSnapshot, Usage, Verdict,
};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{Component, HasSelf, InstancePre, Linker, ResourceTable};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

mod bindings {
    wasmtime::component::bindgen!({ path: "../../sdk/wit", world: "plugin" });
}

use bindings::exports::steward::plugin::{events, guards, kpis, scorecards};
use bindings::steward::plugin::{host, types as wit};

/// Memory per pooled slot kept mapped between instances (see the pooling setup).
const KEEP_RESIDENT_BYTES: usize = 1 << 20;

/// How the WASM sandbox is set up; one per process.
#[derive(Debug, Clone)]
pub struct WasmRuntimeConfig {
    /// Where compiled components are cached (`None`: compile at every load).
    pub cache_dir: Option<PathBuf>,
    /// The most linear memory any plugin may be granted (per-plugin limits are at most this).
    pub max_memory_bytes: u64,
    /// Instances that may run at once with the pooling allocator.
    pub pool_instances: u32,
    /// The epoch ticker's period: wall-time limits are enforced to about this precision.
    pub epoch_tick: Duration,
}

impl Default for WasmRuntimeConfig {
    fn default() -> Self {
        WasmRuntimeConfig {
            cache_dir: None,
            max_memory_bytes: limits::mib(limits::MAX_MEMORY_MB),
            pool_instances: 64,
            epoch_tick: Duration::from_millis(2),
        }
    }
}

/// The wasmtime engine, linker and epoch ticker shared by all WASM plugins.
pub struct WasmRuntime {
    engine: Engine,
    linker: Linker<GuestState>,
    cache_dir: Option<PathBuf>,
    engine_key: String,
    pooling: bool,
    epoch_tick: Duration,
    stop_ticker: Arc<AtomicBool>,
    compiled: AtomicU64,
    cache_hits: AtomicU64,
}

impl WasmRuntime {
    pub fn new(config: &WasmRuntimeConfig) -> Result<Arc<Self>, LoadError> {
        let sandbox_err = |e: wasmtime::Error| LoadError::Sandbox(format!("{e:#}"));
        let mut wasm_config = Config::new();
        wasm_config.consume_fuel(true).epoch_interruption(true).wasm_component_model(true);
        let mut pool = PoolingAllocationConfig::new();
        let max_memory = usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX);
        // A Rust component holds a handful of core instances (its code plus adapter shims).
        pool.total_component_instances(config.pool_instances)
            .total_core_instances(config.pool_instances.saturating_mul(8))
            .total_memories(config.pool_instances.saturating_mul(2))
            .total_tables(config.pool_instances.saturating_mul(8))
            .max_memory_size(max_memory)
            // Instances are short-lived and reuse warm slots: reset the pages a call dirtied
            // with memcpy (found with PAGEMAP_SCAN where the kernel has it) instead of
            // unmapping them, so the next call does not page-fault its memory back in.
            .pagemap_scan(Enabled::Auto)
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(KEEP_RESIDENT_BYTES / 16);
        wasm_config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let (engine, pooling) = match Engine::new(&wasm_config) {
            Ok(engine) => (engine, true),
            Err(e) => {
                // The pool reserves address space up front; where that is refused (ulimit -v,
                // small 32-bit spaces) allocate per instance instead, which is slower, not unsafe.
                tracing::warn!(error = %format!("{e:#}"), "pooling allocator unavailable; using on-demand allocation");
                wasm_config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
                (Engine::new(&wasm_config).map_err(sandbox_err)?, false)
            }
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(sandbox_err)?;
        bindings::Plugin::add_to_linker::<GuestState, HasSelf<GuestState>>(&mut linker, |state| state).map_err(sandbox_err)?;

        let mut hasher = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = hex::encode(&hasher.0.finalize()[..12]);

        let stop_ticker = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), config.epoch_tick, stop_ticker.clone())
            .map_err(|e| LoadError::Sandbox(format!("cannot start the epoch ticker: {e}")))?;
        Ok(Arc::new(WasmRuntime {
            engine,
            linker,
            cache_dir: config.cache_dir.clone(),
            engine_key,
            pooling,
            epoch_tick: config.epoch_tick,
            stop_ticker,
            compiled: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
        }))
    }

    /// Whether instances come from the pooling allocator (false: it fell back to on-demand).
    pub fn pooling(&self) -> bool {
        self.pooling
    }

    /// Components compiled, and components loaded from the on-disk cache, since start.
    pub fn compile_counts(&self) -> (u64, u64) {
        (self.compiled.load(Ordering::Relaxed), self.cache_hits.load(Ordering::Relaxed))
    }

    // The one place with `unsafe`: deserialising components this engine compiled (see SAFETY).
    #[allow(unsafe_code)]
    fn component(&self, file: &Path, bytes: &[u8]) -> Result<Component, LoadError> {
        let entry_err =
            |e: wasmtime::Error| LoadError::Entry { file: file.display().to_string(), message: format!("not a valid component: {e:#}") };
        let Some(dir) = &self.cache_dir else {
            self.compiled.fetch_add(1, Ordering::Relaxed);
            return Component::new(&self.engine, bytes).map_err(entry_err);
        };
        let cached = dir.join(format!("{}-{}.cwasm", hex::encode(Sha256::digest(bytes)), self.engine_key));
        if cached.is_file() {
            // SAFETY: files in the cache directory are written only below, from
            // `precompile_component` of this same engine configuration (the key says so), and
            // the directory belongs to Steward; wasmtime still checks the header and versions.
            match unsafe { Component::deserialize_file(&self.engine, &cached) } {
                Ok(component) => {
                    self.cache_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(component);
                }
                Err(e) => tracing::warn!(file = %cached.display(), error = %format!("{e:#}"), "discarding unusable cached component"),
            }
        }
        let compiled = self.engine.precompile_component(bytes).map_err(entry_err)?;
        self.compiled.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = write_atomically(dir, &cached, &compiled) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot cache a compiled component");
        }
        // SAFETY: `compiled` was produced just above by this engine.
        unsafe { Component::deserialize(&self.engine, &compiled) }.map_err(entry_err)
    }
}

impl Drop for WasmRuntime {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

fn spawn_epoch_ticker(engine: Engine, tick: Duration, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    std::thread::Builder::new().name("plugin-epoch".into()).spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(tick);
            engine.increment_epoch();
        }
    })?;
    Ok(())
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // Unique per call: two loads of one component may race to fill the cache.
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = path.with_extension(format!("tmp{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Feeds `Hash` output into SHA-256, which, unlike std's hashers, is stable across builds.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        0
    }
}

/// Denies growth past the plugin's memory limit and remembers that it did, so the trap that
/// follows (a Rust guest aborts when allocation fails) is reported as memory exhaustion.
struct MemoryLimiter {
    limit: usize,
    peak: usize,
    denied: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.denied = true;
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= limits::WASM_MAX_TABLE_ELEMENTS)
    }
}

/// A clock stuck at the Unix epoch: guests get the time from their input, never from the host.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    plugin: Arc<str>,
    log_lines: u32,
    /// The guest's standard error, shared with the WASI context.
    stderr: MemoryOutputPipe,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl wit::Host for GuestState {}

impl host::Host for GuestState {
    fn log(&mut self, level: wit::Level, message: String) {
        self.log_lines = self.log_lines.saturating_add(1);
        if self.log_lines > MAX_LOG_LINES_PER_CALL {
            return;
        }
        let message = truncate(message, MAX_LOG_LINE_BYTES);
        let plugin = &*self.plugin;
        match level {
            wit::Level::Trace => tracing::trace!(plugin = %plugin, "{message}"),
            wit::Level::Debug => tracing::debug!(plugin = %plugin, "{message}"),
            wit::Level::Info => tracing::info!(plugin = %plugin, "{message}"),
            wit::Level::Warn => tracing::warn!(plugin = %plugin, "{message}"),
            wit::Level::Error => tracing::error!(plugin = %plugin, "{message}"),
        }
    }
}

/// Export indices of the hooks a plugin declared, resolved once at load.
#[derive(Default)]
struct Exports {
    events: Option<events::GuestIndices>,
    guards: Option<guards::GuestIndices>,
    scorecards: Option<scorecards::GuestIndices>,
    kpis: Option<kpis::GuestIndices>,
}

/// A compiled component, ready to be instantiated once per call.
pub struct WasmPlugin {
    runtime: Arc<WasmRuntime>,
    name: Arc<str>,
    pre: InstancePre<GuestState>,
    exports: Exports,
    limits: Limits,
}

impl WasmPlugin {
    pub fn load(runtime: &Arc<WasmRuntime>, manifest: &Manifest, limits: Limits) -> Result<Self, LoadError> {
        let file = manifest.entry.display().to_string();
        let bytes =
            std::fs::read(&manifest.entry).map_err(|e| LoadError::Entry { file: file.clone(), message: format!("cannot read: {e}") })?;
        Self::from_bytes(runtime, &manifest.name, &manifest.entry, &bytes, &manifest.hooks, limits)
    }

    /// Compiles (or loads from cache) `bytes` and checks the hooks in `hooks` against the contract.
    pub fn from_bytes(
        runtime: &Arc<WasmRuntime>,
        name: &str,
        file: &Path,
        bytes: &[u8],
        hooks: &[Hook],
        limits: Limits,
    ) -> Result<Self, LoadError> {
        let entry_err = |message: String| LoadError::Entry { file: file.display().to_string(), message };
        let component = runtime.component(file, bytes)?;
        check_contract_major(&component, &runtime.engine).map_err(entry_err)?;
        let pre = runtime.linker.instantiate_pre(&component).map_err(|e| {
            entry_err(format!("imports something Steward does not provide (plugins may import only steward:plugin/host and WASI): {e:#}"))
        })?;
        let export_err = |hook: Hook, e: wasmtime::Error| {
            entry_err(format!("the manifest lists hook `{hook}` but the component does not export it as the contract says: {e:#}"))
        };
        let mut exports = Exports::default();
        for hook in hooks {
            match hook {
                Hook::OnEvent => exports.events = Some(events::GuestIndices::new(&pre).map_err(|e| export_err(*hook, e))?),
                Hook::GuardTransition => exports.guards = Some(guards::GuestIndices::new(&pre).map_err(|e| export_err(*hook, e))?),
                Hook::ScorePartner => exports.scorecards = Some(scorecards::GuestIndices::new(&pre).map_err(|e| export_err(*hook, e))?),
                Hook::ComputeKpi => exports.kpis = Some(kpis::GuestIndices::new(&pre).map_err(|e| export_err(*hook, e))?),
            }
        }
        let plugin = WasmPlugin { runtime: runtime.clone(), name: name.into(), pre, exports, limits };
        // Instantiate once so that signature mismatches surface now, not at the first call.
        let mut store = plugin.store();
        let instance =
            plugin.pre.instantiate(&mut store).map_err(|e| entry_err(format!("cannot be instantiated: {}", plugin.classify(e, &store))))?;
        let check = |hook: Hook, r: wasmtime::Result<()>| r.map_err(|e| export_err(hook, e));
        if let Some(ix) = &plugin.exports.events {
            check(Hook::OnEvent, ix.load(&mut store, &instance).map(drop))?;
        }
        if let Some(ix) = &plugin.exports.guards {
            check(Hook::GuardTransition, ix.load(&mut store, &instance).map(drop))?;
        }
        if let Some(ix) = &plugin.exports.scorecards {
            check(Hook::ScorePartner, ix.load(&mut store, &instance).map(drop))?;
        }
        if let Some(ix) = &plugin.exports.kpis {
            check(Hook::ComputeKpi, ix.load(&mut store, &instance).map(drop))?;
        }
        Ok(plugin)
    }

    fn store(&self) -> Store<GuestState> {
        let stderr = MemoryOutputPipe::new(limits::WASM_STDERR_CAPTURE_BYTES);
        let wasi = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .build();
        let limit = usize::try_from(self.limits.memory_bytes).unwrap_or(usize::MAX);
        let state = GuestState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter { limit, peak: 0, denied: false },
            plugin: self.name.clone(),
            log_lines: 0,
            stderr,
        };
        let mut store = Store::new(&self.runtime.engine, state);
        store.limiter(|state| &mut state.limiter);
        // Fuel is enabled engine-wide, so setting it cannot fail.
        store.set_fuel(self.limits.fuel).expect("fuel is enabled");
        let tick = self.runtime.epoch_tick.as_nanos().max(1);
        let ticks = self.limits.wall_time.as_nanos().div_ceil(tick) + 1;
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        store
    }

    /// Runs `f` on a fresh instance and reports what it cost.
    fn run<R>(
        &self,
        f: impl FnOnce(&mut Store<GuestState>, &wasmtime::component::Instance) -> wasmtime::Result<R>,
    ) -> Result<(R, Usage), PluginError> {
        let started = Instant::now();
        let mut store = self.store();
        let result = self.pre.instantiate(&mut store).and_then(|instance| f(&mut store, &instance));
        match result {
            Ok(value) => {
                let fuel = self.limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
                let memory_bytes = store.data().limiter.peak as u64;
                Ok((value, Usage { fuel, memory_bytes, elapsed: started.elapsed() }))
            }
            Err(e) => Err(self.classify(e, &store)),
        }
    }

    fn classify(&self, error: wasmtime::Error, store: &Store<GuestState>) -> PluginError {
        let state = store.data();
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => PluginError::OutOfFuel { limit: self.limits.fuel },
            Some(Trap::Interrupt) => PluginError::Timeout { limit_ms: self.limits.wall_time.as_millis() as u64 },
            Some(Trap::StackOverflow) => PluginError::StackOverflow,
            _ if state.limiter.denied => PluginError::MemoryExhausted { limit_bytes: self.limits.memory_bytes },
            _ => {
                let stderr = state.wasi_stderr();
                let mut message = format!("{error:#}");
                if !stderr.is_empty() {
                    message = format!("{message}; the plugin wrote: {}", stderr.trim());
                }
                PluginError::Trap { message: truncate(message, MAX_REASON_BYTES) }
            }
        }
    }
}

impl GuestState {
    fn wasi_stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }
}

fn not_implemented(hook: Hook) -> PluginError {
    PluginError::NotImplemented { hook }
}

fn hook_error(e: wit::Error) -> PluginError {
    PluginError::hook(e.code, e.message)
}

fn to_wit_ticket(t: &TicketSnapshot) -> wit::Ticket {
    wit::Ticket {
        id: t.id.clone(),
        number: t.number.clone(),
        title: t.title.clone(),
        description: t.description.clone(),
        kind: t.kind.clone(),
        channel: t.channel.clone(),
        priority: t.priority.clone(),
        customer_name: t.customer_name.clone(),
        customer_tier: t.customer_tier.clone(),
        process: t.process.clone(),
        process_version: t.process_version,
        stage: t.stage.clone(),
        status: t.status.clone(),
        assignee: t.assignee.clone(),
        tags: t.tags.clone(),
        custom_fields: t.custom_fields.iter().map(|(k, v)| wit::CustomField { key: k.clone(), value: v.to_string() }).collect(),
        created_at: t.created_at,
        updated_at: t.updated_at,
        first_response_at: t.first_response_at,
        resolved_at: t.resolved_at,
        reopen_count: t.reopen_count,
        now: t.now,
    }
}

fn from_wit_action(action: wit::Action) -> Result<Action, PluginError> {
    match action {
        wit::Action::AddTag(t) => Action::from_raw("add_tag", RawPayload::Text(t)),
        wit::Action::SetPriority(p) => Action::from_raw("set_priority", RawPayload::Text(p)),
        wit::Action::AddInternalNote(n) => Action::from_raw("add_internal_note", RawPayload::Text(n)),
        wit::Action::SetCustomField(f) => {
            let value = serde_json::from_str(&f.value)
                .map_err(|e| PluginError::BadOutput { message: format!("set_custom_field `{}`: value is not JSON text: {e}", f.key) })?;
            Action::from_raw("set_custom_field", RawPayload::Field { key: f.key, value })
        }
    }
}

/// Measured on the guest's text, before any JSON is parsed.
fn action_size(a: &wit::Action) -> usize {
    limits::action_output_size(match a {
        wit::Action::AddTag(s) | wit::Action::SetPriority(s) | wit::Action::AddInternalNote(s) => s.len(),
        wit::Action::SetCustomField(f) => f.key.len() + f.value.len(),
    })
}

impl Plugin for WasmPlugin {
    fn on_event(&self, event: &EventSnapshot, ticket: &TicketSnapshot) -> Result<Call<Vec<Action>>, PluginError> {
        let ix = self.exports.events.as_ref().ok_or_else(|| not_implemented(Hook::OnEvent))?;
        self.limits.check_input(limits::on_event_input_size(event, ticket))?;
        let wit_event = wit::Event { kind: event.kind.clone(), data: event.data.to_string(), at: event.at, actor: event.actor.clone() };
        let wit_ticket = to_wit_ticket(ticket);
        let (result, usage) =
            self.run(|store, instance| ix.load(&mut *store, instance)?.call_on_event(&mut *store, &wit_event, &wit_ticket))?;
        let raw = result.map_err(hook_error)?;
        self.limits.check_output(raw.iter().map(action_size).sum())?;
        let actions = raw.into_iter().map(from_wit_action).collect::<Result<Vec<_>, _>>()?;
        Ok(Call { value: actions, usage })
    }

    fn guard_transition(&self, ticket: &TicketSnapshot, from: &str, to: &str) -> Result<Call<Verdict>, PluginError> {
        let ix = self.exports.guards.as_ref().ok_or_else(|| not_implemented(Hook::GuardTransition))?;
        self.limits.check_input(limits::guard_input_size(ticket, from, to))?;
        let wit_ticket = to_wit_ticket(ticket);
        let (result, usage) =
            self.run(|store, instance| ix.load(&mut *store, instance)?.call_guard_transition(&mut *store, &wit_ticket, from, to))?;
        let verdict = match result {
            Ok(()) => Verdict::Allow,
            Err(reason) => {
                self.limits.check_output(reason.len())?;
                Verdict::Reject(truncate(reason, MAX_REASON_BYTES))
            }
        };
        Ok(Call { value: verdict, usage })
    }

    fn score_partner(&self, scorecard: &str, stats: &PartnerStats) -> Result<Call<Scorecard>, PluginError> {
        let ix = self.exports.scorecards.as_ref().ok_or_else(|| not_implemented(Hook::ScorePartner))?;
        self.limits.check_input(limits::score_partner_input_size(scorecard, stats))?;
        let wit_stats = wit::PartnerStats {
            partner_id: stats.partner_id.clone(),
            partner_name: stats.partner_name.clone(),
            window_start: stats.window_start,
            window_end: stats.window_end,
            now: stats.now,
            jobs: stats.jobs,
            on_time: stats.on_time,
            csat_responses: stats.csat_responses,
            csat_average: stats.csat_average,
            complaints: stats.complaints,
            reopens: stats.reopens,
        };
        let (result, usage) =
            self.run(|store, instance| ix.load(&mut *store, instance)?.call_score_partner(&mut *store, scorecard, &wit_stats))?;
        let card = result.map_err(hook_error)?;
        self.limits.check_output(limits::scorecard_output_size(&card.grade, card.breakdown.iter().map(|i| i.criterion.as_str())))?;
        let card = Scorecard {
            score: card.score,
            grade: card.grade,
            breakdown: card.breakdown.into_iter().map(|i| ScoreItem { criterion: i.criterion, score: i.score, weight: i.weight }).collect(),
        };
        Ok(Call { value: card.validate()?, usage })
    }

    fn compute_kpi(&self, kpi: &str, input: &KpiInput) -> Result<Call<f64>, PluginError> {
        let ix = self.exports.kpis.as_ref().ok_or_else(|| not_implemented(Hook::ComputeKpi))?;
        self.limits.check_input(limits::compute_kpi_input_size(kpi, input))?;
        let stats =
            |d: &super::DurationStats| wit::DurationStats { count: d.count, mean: d.mean, median: d.median, p90: d.p90, max: d.max };
        let wit_input = wit::KpiInput {
            window_start: input.window_start,
            window_end: input.window_end,
            now: input.now,
            tickets_created: input.tickets_created,
            tickets_resolved: input.tickets_resolved,
            tickets_reopened: input.tickets_reopened,
            first_contact_resolved: input.first_contact_resolved,
            complaints: input.complaints,
            sla_breaches: input.sla_breaches,
            backlog: input.backlog,
            first_response: stats(&input.first_response),
            resolution: stats(&input.resolution),
            csat_responses: input.csat_responses,
            csat_average: input.csat_average,
        };
        let (result, usage) = self.run(|store, instance| ix.load(&mut *store, instance)?.call_compute_kpi(&mut *store, kpi, wit_input))?;
        Ok(Call { value: check_kpi_value(result.map_err(hook_error)?)?, usage })
    }
}

/// Refuses components whose `steward:plugin` exports carry another major version.
fn check_contract_major(component: &Component, engine: &Engine) -> Result<(), String> {
    component.component_type().exports(engine).try_for_each(|(name, _)| check_export_name(name))
}

/// An export named `steward:plugin/<interface>@<version>` must have our major version; other
/// exports are none of our business.
fn check_export_name(name: &str) -> Result<(), String> {
    let Some(rest) = name.strip_prefix("steward:plugin/") else { return Ok(()) };
    let Some((_, version)) = rest.split_once('@') else { return Ok(()) };
    let major = version.split('.').next().and_then(|m| m.parse::<u64>().ok());
    if major == Some(super::CONTRACT_MAJOR) {
        return Ok(());
    }
    Err(format!(
        "exports `{name}`, built for contract steward:plugin@{version}; this Steward speaks steward:plugin@{} (major version {} only)",
        super::CONTRACT_VERSION,
        super::CONTRACT_MAJOR
    ))
}

impl std::fmt::Debug for WasmPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmPlugin").field("name", &self.name).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use crate::types::samples;

    const ALL_HOOKS: [Hook; 4] = Hook::ALL;

    fn bad(limits: Limits) -> WasmPlugin {
        let file = testing::guest("bad-guest");
        let bytes = std::fs::read(&file).unwrap();
        WasmPlugin::from_bytes(&testing::runtime(), "bad-guest", &file, &bytes, &ALL_HOOKS, limits).unwrap()
    }

    fn misbehave(to: &str, limits: Limits) -> Result<Call<Verdict>, PluginError> {
        bad(limits).guard_transition(&samples::ticket(), "parts", to)
    }

    #[test]
    fn a_well_behaved_call_reports_fuel_and_memory() {
        let call = misbehave("fine", testing::LIMITS).unwrap();
        assert_eq!(call.value, Verdict::Allow);
        assert!(call.usage.fuel > 0 && call.usage.fuel < testing::LIMITS.fuel, "{:?}", call.usage);
        assert!(call.usage.memory_bytes >= 64 * 1024, "{:?}", call.usage);
    }

    #[test]
    fn an_infinite_loop_runs_out_of_fuel() {
        let e = misbehave("spin", testing::LIMITS).unwrap_err();
        assert_eq!(e, PluginError::OutOfFuel { limit: testing::LIMITS.fuel });
    }

    #[test]
    fn an_infinite_loop_with_ample_fuel_hits_the_wall_time_limit() {
        let limits = Limits { fuel: u64::MAX / 2, wall_time: Duration::from_millis(40), ..testing::LIMITS };
        let started = Instant::now();
        let e = misbehave("spin", limits).unwrap_err();
        assert_eq!(e, PluginError::Timeout { limit_ms: 40 });
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn unbounded_memory_growth_is_capped() {
        let limits = Limits { memory_bytes: 8 << 20, fuel: u64::MAX / 2, wall_time: Duration::from_secs(5), ..testing::LIMITS };
        let e = misbehave("grow", limits).unwrap_err();
        assert_eq!(e, PluginError::MemoryExhausted { limit_bytes: 8 << 20 });
    }

    #[test]
    fn a_panic_is_a_trap_that_quotes_the_guest() {
        let e = misbehave("panic", testing::LIMITS).unwrap_err();
        assert!(matches!(&e, PluginError::Trap { message } if message.contains("deliberate panic in the bad guest")), "{e}");
    }

    #[test]
    fn runaway_recursion_overflows_the_stack() {
        let limits = Limits { fuel: u64::MAX / 2, wall_time: Duration::from_secs(5), ..testing::LIMITS };
        assert_eq!(misbehave("recurse", limits).unwrap_err(), PluginError::StackOverflow);
    }

    #[test]
    fn oversized_output_is_refused() {
        let limits = Limits { fuel: u64::MAX / 2, wall_time: Duration::from_secs(5), ..testing::LIMITS };
        let e = misbehave("huge", limits).unwrap_err();
        assert_eq!(e, PluginError::OutputTooLarge { size: 1 << 20, limit: testing::LIMITS.max_output_bytes });
    }

    #[test]
    fn files_and_environment_are_out_of_reach() {
        let call = misbehave("escape", testing::LIMITS).unwrap();
        let Verdict::Reject(report) = call.value else { panic!("the guest reports what it could read") };
        assert!(report.starts_with("file=denied") && report.contains("env=denied"), "{report}");
    }

    #[test]
    fn output_that_breaks_the_contract_is_refused() {
        let p = bad(testing::LIMITS);
        let event = EventSnapshot { kind: "created".into(), data: serde_json::json!({}), at: samples::NOW, actor: "a".into() };
        let e = p.on_event(&event, &samples::ticket()).unwrap_err();
        assert!(matches!(&e, PluginError::BadOutput { message } if message.contains("extreme")), "{e}");
        let e = p.score_partner("quality", &samples::partner()).unwrap_err();
        assert!(matches!(&e, PluginError::BadOutput { message } if message.contains("250")), "{e}");
        let e = p.compute_kpi("x", &samples::kpi()).unwrap_err();
        assert!(matches!(e, PluginError::BadOutput { .. }), "{e}");
    }

    #[test]
    fn oversized_input_is_refused_before_instantiation() {
        let mut ticket = samples::ticket();
        ticket.description = "x".repeat(testing::LIMITS.max_input_bytes);
        let e = bad(testing::LIMITS).guard_transition(&ticket, "a", "fine").unwrap_err();
        assert!(matches!(e, PluginError::InputTooLarge { .. }), "{e}");
    }

    #[test]
    fn hooks_not_declared_are_not_callable() {
        let file = testing::guest("bad-guest");
        let bytes = std::fs::read(&file).unwrap();
        let p = WasmPlugin::from_bytes(&testing::runtime(), "bad-guest", &file, &bytes, &[Hook::GuardTransition], testing::LIMITS).unwrap();
        let e = p.compute_kpi("x", &samples::kpi()).unwrap_err();
        assert_eq!(e, PluginError::NotImplemented { hook: Hook::ComputeKpi });
    }

    #[test]
    fn exports_of_another_contract_major_are_refused() {
        assert_eq!(check_export_name("steward:plugin/guards@1.0.0"), Ok(()));
        assert_eq!(check_export_name("steward:plugin/guards@1.3.0"), Ok(()));
        assert_eq!(check_export_name("wasi:cli/run@0.2.0"), Ok(()));
        let e = check_export_name("steward:plugin/guards@2.0.0").unwrap_err();
        assert!(e.contains("steward:plugin@2.0.0") && e.contains("major version 1 only"), "{e}");
    }

    #[test]
    fn guest_log_lines_reach_the_host_log_attributed_to_the_plugin() {
        let file = testing::bundled("field-service").join("field_service.wasm");
        let bytes = std::fs::read(&file).unwrap();
        let p = WasmPlugin::from_bytes(&testing::runtime(), "field-service", &file, &bytes, &[Hook::OnEvent], testing::LIMITS).unwrap();
        let mut ticket = samples::ticket();
        (ticket.stage, ticket.priority) = ("on_site".into(), "urgent".into());
        let event = EventSnapshot { kind: "stage_changed".into(), data: serde_json::json!({}), at: samples::NOW, actor: "a".into() };
        let (result, logs) = testing::capture_logs(|| p.on_event(&event, &ticket));
        assert_eq!(result.unwrap().value[0], Action::AddTag("urgent-onsite".into()));
        assert!(
            logs.contains("INFO") && logs.contains("plugin=field-service") && logs.contains("T-000042 is urgent on-site work"),
            "{logs}"
        );
    }

    #[test]
    fn a_hook_with_the_wrong_signature_is_refused_at_load() {
        let file = testing::guest("mismatched-guest");
        let bytes = std::fs::read(&file).unwrap();
        let e = WasmPlugin::from_bytes(&testing::runtime(), "mismatched", &file, &bytes, &[Hook::GuardTransition], testing::LIMITS)
            .unwrap_err()
            .to_string();
        assert!(e.contains("hook `guard-transition`") && e.contains("does not export it as the contract says"), "{e}");
        // A hook it does not export at all is refused too.
        let e = WasmPlugin::from_bytes(&testing::runtime(), "mismatched", &file, &bytes, &[Hook::OnEvent], testing::LIMITS)
            .unwrap_err()
            .to_string();
        assert!(e.contains("steward:plugin/events"), "{e}");
    }

    #[test]
    fn garbage_is_not_a_component() {
        let e =
            WasmPlugin::from_bytes(&testing::runtime(), "junk", Path::new("junk.wasm"), b"\0asm junk", &[Hook::OnEvent], testing::LIMITS)
                .unwrap_err();
        assert!(
            matches!(&e, LoadError::Entry { file, message } if file == "junk.wasm" && message.contains("not a valid component")),
            "{e}"
        );
    }

    #[test]
    fn compiled_components_are_cached_on_disk() {
        let cache = tempfile::tempdir().unwrap();
        let config = WasmRuntimeConfig { cache_dir: Some(cache.path().to_owned()), pool_instances: 4, ..WasmRuntimeConfig::default() };
        let file = testing::guest("first-contact-kpi");
        let bytes = std::fs::read(&file).unwrap();
        let first = WasmRuntime::new(&config).unwrap();
        WasmPlugin::from_bytes(&first, "kpi", &file, &bytes, &[Hook::ComputeKpi], testing::LIMITS).unwrap();
        assert_eq!(first.compile_counts(), (1, 0));
        // A restart: a new engine with the same settings finds the compiled artifact.
        let second = WasmRuntime::new(&config).unwrap();
        let p = WasmPlugin::from_bytes(&second, "kpi", &file, &bytes, &[Hook::ComputeKpi], testing::LIMITS).unwrap();
        assert_eq!(second.compile_counts(), (0, 1));
        assert_eq!(p.compute_kpi("first_contact_resolution", &samples::kpi()).unwrap().value, 0.7);
        let files: Vec<_> = std::fs::read_dir(cache.path()).unwrap().filter_map(Result::ok).collect();
        assert_eq!(files.len(), 1);
    }

    #[test]
    fn an_impossible_pool_falls_back_to_on_demand_allocation() {
        let config = WasmRuntimeConfig { pool_instances: u32::MAX / 8, ..WasmRuntimeConfig::default() };
        let runtime = WasmRuntime::new(&config).unwrap();
        assert!(!runtime.pooling());
        let file = testing::guest("bad-guest");
        let bytes = std::fs::read(&file).unwrap();
        let p = WasmPlugin::from_bytes(&runtime, "bad", &file, &bytes, &[Hook::GuardTransition], testing::LIMITS).unwrap();
        assert_eq!(p.guard_transition(&samples::ticket(), "a", "fine").unwrap().value, Verdict::Allow);
        assert!(testing::runtime().pooling(), "the default pool fits on this machine");
    }
}
