//! The plugin host the rest of Steward calls, one concern per module:
//!
//! - [`config`]: the operator's `[plugins]` settings and how they cap what a plugin asks for;
//! - [`registry`]: loading plugin directories, reloading one by swapping in its new version,
//!   finding the plugins a hook goes to, and the status shown to the API and the CLI;
//! - [`dispatch`]: running a hook across plugins under their failure policies, and accounting
//!   for every call;
//! - [`health`]: failure counts, auto-disabling plugins that keep failing, enable and disable;
//! - [`metrics`]: the Prometheus series;
//! - [`blocking`]: the `*_async` wrappers that run calls on tokio's blocking pool.
//!
//! This module holds what they share: [`PluginHost`] itself and a plugin's [`Slot`].

mod blocking;
mod config;
mod dispatch;
mod health;
mod metrics;
mod registry;

pub use config::PluginsConfig;
pub use dispatch::{GuardRejection, PluginActions, PluginFailure};
pub use health::PluginState;
pub use registry::PluginStatus;

use crate::wasm::WasmRuntime;
use crate::{Hook, LoadError, Manifest, Plugin, PluginError};
use health::Stats;
use metrics::PluginMetrics;
use prometheus::Registry;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

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
    /// The hook answered that it has no data to compute from: unrated, not a failure.
    #[error("plugin `{plugin}` has no data: {message}")]
    NoData { plugin: String, message: String },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot register plugin metrics: {0}")]
    Metrics(String),
}

/// All plugins of this node. Cheap to share behind an `Arc`; every method takes `&self`.
///
/// Hook calls are synchronous and CPU-bound (bounded by fuel and wall time): from async code
/// use the `*_async` methods, which run them on tokio's blocking pool.
pub struct PluginHost {
    config: PluginsConfig,
    wasm: Arc<WasmRuntime>,
    slots: RwLock<Slots>,
    metrics: PluginMetrics,
}

/// Plugins by name, in name order (the order hooks run in).
type Slots = BTreeMap<String, Arc<Slot>>;

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
}

/// A loaded version of a plugin. Calls hold an `Arc` to it, so a reload never pulls a version
/// out from under a call in flight.
struct Loaded {
    manifest: Manifest,
    plugin: Arc<dyn Plugin>,
}

/// One plugin directory: its current version (none when it failed to load), its state and
/// the statistics of its calls, which outlive reloads.
struct Slot {
    dir: PathBuf,
    loaded: RwLock<Option<Arc<Loaded>>>,
    state: Mutex<PluginState>,
    stats: Stats,
}

impl Slot {
    fn new(dir: &Path) -> Self {
        Slot { dir: dir.to_owned(), loaded: RwLock::new(None), state: Mutex::new(PluginState::Enabled), stats: Stats::default() }
    }

    fn loaded(&self) -> Option<Arc<Loaded>> {
        self.loaded.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the version new calls get, in one step.
    fn install(&self, version: Option<Arc<Loaded>>) {
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = version;
    }

    fn state(&self) -> PluginState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_state(&self, state: PluginState) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }
}

#[cfg(test)]
mod fixtures {
    //! What the host's tests share: hosts over the bundled plugins or throw-away ones.
    use super::{PluginHost, PluginsConfig};
    use crate::testing;
    use crate::types::{samples, TicketSnapshot};
    use prometheus::Registry;
    use std::path::PathBuf;

    pub fn host_with(config: PluginsConfig) -> (PluginHost, Registry) {
        let registry = Registry::new();
        (PluginHost::with_runtime(config, testing::runtime(), &registry).unwrap(), registry)
    }

    /// A host over the repository's bundled plugins.
    pub fn bundled_host() -> (PluginHost, Registry) {
        let dir = testing::bundled("field-service").parent().unwrap().to_owned();
        let (host, registry) = host_with(PluginsConfig { dirs: vec![dir], cache_dir: None, ..PluginsConfig::default() });
        assert_eq!(host.load_all(), []);
        (host, registry)
    }

    pub fn render(registry: &Registry) -> String {
        let mut out = Vec::new();
        prometheus::Encoder::encode(&prometheus::TextEncoder::new(), &registry.gather(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    pub fn ticket(process: &str, stage: &str) -> TicketSnapshot {
        TicketSnapshot { process: process.into(), stage: stage.into(), ..samples::ticket() }
    }

    pub const LOOPING_GUARD: &str = "fn guard_transition(t, f, to) { loop { } }";

    pub fn rhai_plugin(name: &str, script: &str, extra: &str) -> (tempfile::TempDir, PathBuf) {
        let manifest = format!(
            "name = \"{name}\"\nversion = \"1.0.0\"\ncontract = \"steward:plugin@1\"\nruntime = \"rhai\"\nentry = \"main.rhai\"\nhooks = [\"guard-transition\"]\n{extra}"
        );
        testing::plugin_dir(name, &[("plugin.toml", manifest.as_bytes()), ("main.rhai", script.as_bytes())])
    }
}
