//! The operator's plugin settings and how they bound what a plugin asks for.

use crate::limits::{self, Limits};
use crate::manifest::RequestedLimits;
use crate::wasm::WasmRuntimeConfig;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

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
    /// The limits are those of [`crate::limits`].
    fn default() -> Self {
        PluginsConfig {
            dirs: vec![PathBuf::from("plugins"), PathBuf::from("data/plugins")],
            cache_dir: Some(PathBuf::from("data/plugin-cache")),
            default_fuel: limits::DEFAULT_FUEL,
            max_fuel: limits::MAX_FUEL,
            default_memory_mb: limits::DEFAULT_MEMORY_MB,
            max_memory_mb: limits::MAX_MEMORY_MB,
            default_wall_time_ms: limits::DEFAULT_WALL_TIME_MS,
            max_wall_time_ms: limits::MAX_WALL_TIME_MS,
            max_input_kb: limits::MAX_INPUT_KB,
            max_output_kb: limits::MAX_OUTPUT_KB,
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
            memory_bytes: limits::mib(memory_mb),
            wall_time: Duration::from_millis(wall_ms),
            max_input_bytes: limits::kib(self.max_input_kb),
            max_output_bytes: limits::kib(self.max_output_kb),
        }
    }

    pub fn wasm_runtime_config(&self) -> WasmRuntimeConfig {
        WasmRuntimeConfig {
            cache_dir: self.cache_dir.clone(),
            max_memory_bytes: limits::mib(self.max_memory_mb),
            ..WasmRuntimeConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_caps_bound_what_plugins_ask_for() {
        let config = PluginsConfig::default();
        let asked = RequestedLimits { fuel: Some(u64::MAX), memory_mb: Some(4096), wall_time_ms: None };
        let limits = config.limits_for(&asked);
        assert_eq!(limits.fuel, config.max_fuel);
        assert_eq!(limits.memory_bytes, u64::from(config.max_memory_mb) << 20);
        assert_eq!(limits.wall_time, Duration::from_millis(config.default_wall_time_ms));
    }
}
