//! Plugins: industry packs, guards, partner scorecards and KPIs written by others, run in a
//! sandbox.
//!
//! One contract, `steward:plugin@1.0.0` (WIT in `sdk/wit/plugin.wit`), serves two runtimes:
//! WebAssembly components ([`wasm`], the only module that knows wasmtime) and Rhai scripts
//! ([`rhai`], the only module that knows Rhai). Both implement [`Plugin`]; the rest of Steward
//! talks to [`PluginHost`], which loads plugin directories, counts failures, disables plugins
//! that keep failing and swaps in new versions without disturbing calls in flight.
//!
//! Architecture invariant: hook inputs and outputs are the plain types of [`types`]; nothing
//! outside `wasm.rs` and `rhai.rs` sees a runtime type. Calls are synchronous CPU work bounded
//! by fuel and wall time: async callers run them through `tokio::task::spawn_blocking` (the
//! `*_async` methods of [`PluginHost`] do exactly that).

pub mod cli;
pub mod guest_build;
mod host;
pub mod limits;
pub mod manifest;
pub mod rhai;
pub mod types;
pub mod wasm;

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod testing;

pub use host::{GuardRejection, HostError, PluginActions, PluginFailure, PluginHost, PluginState, PluginStatus, PluginsConfig};
pub use limits::Limits;
pub use manifest::{FailurePolicy, KpiDecl, Manifest, ManifestError, Runtime, ScorecardDecl};
pub use types::{Action, DurationStats, EventSnapshot, KpiInput, PartnerStats, ScoreItem, Scorecard, TicketSnapshot, Verdict};

use serde::{Deserialize, Serialize};
use std::fmt;

/// The contract's major version: plugins built for another major are refused.
pub const CONTRACT_MAJOR: u64 = 1;
/// The contract version this Steward implements.
pub const CONTRACT_VERSION: &str = "1.0.0";

/// The hooks of the contract. Spelled as in WIT and in manifests: `on-event`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hook {
    OnEvent,
    GuardTransition,
    ScorePartner,
    ComputeKpi,
}

impl Hook {
    pub const ALL: [Hook; 4] = [Hook::OnEvent, Hook::GuardTransition, Hook::ScorePartner, Hook::ComputeKpi];

    pub fn as_str(self) -> &'static str {
        match self {
            Hook::OnEvent => "on-event",
            Hook::GuardTransition => "guard-transition",
            Hook::ScorePartner => "score-partner",
            Hook::ComputeKpi => "compute-kpi",
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a successful call cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// WASM fuel consumed, or Rhai operations performed.
    pub fuel: u64,
    /// Peak linear memory of the instance (WASM); 0 for Rhai, whose data lives on the host heap
    /// under size limits instead.
    pub memory_bytes: u64,
    pub elapsed: std::time::Duration,
}

/// A hook's result and what computing it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Call<T> {
    pub value: T,
    pub usage: Usage,
}

/// Why a call failed. Every way a guest can misbehave ends up here, never in a panic or a hang.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PluginError {
    #[error("ran out of fuel (limit {limit} units): the hook does too much work or never ends")]
    OutOfFuel { limit: u64 },
    #[error("ran longer than its wall-time limit of {limit_ms} ms")]
    Timeout { limit_ms: u64 },
    #[error("tried to use more than its memory limit of {limit_bytes} bytes")]
    MemoryExhausted { limit_bytes: u64 },
    #[error("exhausted its call stack (runaway recursion)")]
    StackOverflow,
    #[error("trapped: {message}")]
    Trap { message: String },
    #[error("script error: {message}")]
    Script { message: String },
    #[error("broke a sandbox limit: {message}")]
    LimitExceeded { message: String },
    #[error("input of {size} bytes is over the limit of {limit} bytes")]
    InputTooLarge { size: usize, limit: usize },
    #[error("output of {size} bytes is over the limit of {limit} bytes")]
    OutputTooLarge { size: usize, limit: usize },
    #[error("output does not match the contract: {message}")]
    BadOutput { message: String },
    /// The hook ran and reported that it could not do its work.
    #[error("the hook reported an error ({code}): {message}")]
    Hook { code: String, message: String },
    #[error("does not implement `{hook}`")]
    NotImplemented { hook: Hook },
    /// The host could not set up the call (an internal problem, not the guest's fault).
    #[error("could not run the plugin: {message}")]
    Host { message: String },
}

impl PluginError {
    /// A hook's own report that it could not do its work, with code and message cut to size.
    pub(crate) fn hook(code: String, message: String) -> Self {
        PluginError::Hook {
            code: types::truncate(code, limits::MAX_ERROR_CODE_BYTES),
            message: types::truncate(message, limits::MAX_REASON_BYTES),
        }
    }

    /// The hook's own report that it has nothing to compute from (`no-data`): an answer, not
    /// a failure, so it never counts toward auto-disable.
    pub fn is_no_data(&self) -> bool {
        matches!(self, PluginError::Hook { code, .. } if code == NO_DATA)
    }

    /// A short, bounded label for metrics.
    pub fn outcome(&self) -> &'static str {
        if self.is_no_data() {
            return "no_data";
        }
        match self {
            PluginError::OutOfFuel { .. } => "out_of_fuel",
            PluginError::Timeout { .. } => "timeout",
            PluginError::MemoryExhausted { .. } => "out_of_memory",
            PluginError::StackOverflow => "stack_overflow",
            PluginError::Trap { .. } => "trap",
            PluginError::Script { .. } => "script_error",
            PluginError::LimitExceeded { .. } => "limit_exceeded",
            PluginError::InputTooLarge { .. } => "input_too_large",
            PluginError::OutputTooLarge { .. } => "output_too_large",
            PluginError::BadOutput { .. } => "bad_output",
            PluginError::Hook { .. } => "hook_error",
            PluginError::NotImplemented { .. } => "not_implemented",
            PluginError::Host { .. } => "host_error",
        }
    }
}

/// The error code a `score-partner` or `compute-kpi` hook throws when it has no data to compute
/// from (a partner without jobs in the window).
pub const NO_DATA: &str = "no-data";

/// A plugin that could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{file}: {message}")]
    Entry { file: String, message: String },
    #[error("the plugin sandbox is not available: {0}")]
    Sandbox(String),
}

/// One loaded plugin, whatever its runtime. Implementations are stateless between calls (WASM
/// instances are fresh per call; Rhai scopes are fresh per call), so they are shared freely.
pub trait Plugin: Send + Sync {
    fn on_event(&self, event: &EventSnapshot, ticket: &TicketSnapshot) -> Result<Call<Vec<Action>>, PluginError>;
    fn guard_transition(&self, ticket: &TicketSnapshot, from: &str, to: &str) -> Result<Call<Verdict>, PluginError>;
    fn score_partner(&self, scorecard: &str, stats: &PartnerStats) -> Result<Call<Scorecard>, PluginError>;
    fn compute_kpi(&self, kpi: &str, input: &KpiInput) -> Result<Call<f64>, PluginError>;
}

/// Loads a plugin's entry file with the runtime its manifest names.
pub fn load_plugin(
    manifest: &Manifest,
    limits: Limits,
    wasm_runtime: &std::sync::Arc<wasm::WasmRuntime>,
) -> Result<std::sync::Arc<dyn Plugin>, LoadError> {
    Ok(match manifest.runtime {
        Runtime::Wasm => std::sync::Arc::new(wasm::WasmPlugin::load(wasm_runtime, manifest, limits)?),
        Runtime::Rhai => std::sync::Arc::new(rhai::RhaiPlugin::load(manifest, limits)?),
    })
}
