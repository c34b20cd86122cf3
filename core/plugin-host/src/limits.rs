//! Every limit a plugin call runs under, stated once: the operator's defaults and caps, the size
//! caps on what crosses the boundary, the log caps, and the bounds each runtime's sandbox adds.
//!
//! Both runtimes, the manifest defaults ([`crate::PluginsConfig`]) and the contract checks in
//! [`crate::types`] read these constants, and both runtimes measure input and output with the
//! functions here, so a hook that is too big for one runtime is too big for the other.
//! `config/steward.toml` repeats the operator-facing values for people to read (a test keeps it
//! honest).

use super::{EventSnapshot, KpiInput, PartnerStats, PluginError, TicketSnapshot};
use std::time::Duration;

// Per call, what a plugin gets when its manifest asks for nothing, and the most it may ask for.
/// WASM fuel units, or Rhai operations.
pub const DEFAULT_FUEL: u64 = 10_000_000;
pub const MAX_FUEL: u64 = 100_000_000;
/// Linear memory of a WASM instance (Rhai's string cap is derived from it).
pub const DEFAULT_MEMORY_MB: u32 = 16;
pub const MAX_MEMORY_MB: u32 = 64;
pub const DEFAULT_WALL_TIME_MS: u64 = 100;
pub const MAX_WALL_TIME_MS: u64 = 1_000;
/// Largest hook input and output (not per plugin: the operator's setting alone).
pub const MAX_INPUT_KB: usize = 256;
pub const MAX_OUTPUT_KB: usize = 64;

/// Longest plugin name, and longest KPI or scorecard name, in a manifest.
pub const MAX_NAME_CHARS: usize = 64;

// What a hook hands back, beyond the output cap.
/// Longest veto reason or error message kept; longer ones are cut (they are shown to people).
pub const MAX_REASON_BYTES: usize = 1024;
/// Longest error code a hook may report; longer ones are cut.
pub const MAX_ERROR_CODE_BYTES: usize = 64;
/// Longest custom-field key a plugin may set.
pub const MAX_FIELD_KEY_CHARS: usize = 64;
pub const MAX_GRADE_CHARS: usize = 16;
pub const MAX_BREAKDOWN_ITEMS: usize = 64;
/// What each action, and each scorecard criterion, counts against the output cap on top of its
/// text, so a flood of empty items is not free.
pub const ACTION_OVERHEAD_BYTES: usize = 8;
pub const SCORE_ITEM_OVERHEAD_BYTES: usize = 16;
/// What a hook's fixed-size arguments (numbers, a KPI's aggregates) count against the input cap.
pub const FIXED_INPUT_BYTES: usize = 128;
pub const KPI_INPUT_BYTES: usize = 256;

// Logging: a plugin cannot flood the log.
pub const MAX_LOG_LINES_PER_CALL: u32 = 64;
pub const MAX_LOG_LINE_BYTES: usize = 2048;

// Rhai's own bounds (its data lives on the host heap, so sizes are capped instead of memory).
/// Deepest nesting of script function calls: runaway recursion stops here.
pub const RHAI_MAX_CALL_LEVELS: usize = 48;
pub const RHAI_MAX_EXPR_DEPTH: usize = 64;
pub const RHAI_MAX_FN_EXPR_DEPTH: usize = 32;
/// A script's strings may take a quarter of its memory limit, within these bounds.
pub const RHAI_MIN_STRING_BYTES: usize = 1024;
pub const RHAI_MAX_STRING_BYTES: usize = 1024 * 1024;
pub const RHAI_MAX_ARRAY_LEN: usize = 65_536;
pub const RHAI_MAX_MAP_LEN: usize = 16_384;

// WebAssembly's own bounds.
pub const WASM_MAX_TABLE_ELEMENTS: usize = 100_000;
/// How much of a trapped guest's standard error is kept for the error message.
pub const WASM_STDERR_CAPTURE_BYTES: usize = 2048;

/// The limits one call runs under, after the operator's caps were applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// WASM fuel units, or Rhai operations.
    pub fuel: u64,
    pub memory_bytes: u64,
    pub wall_time: Duration,
    pub max_input_bytes: usize,
    pub max_output_bytes: usize,
}

impl Limits {
    /// What a plugin whose manifest asks for no limits runs under with the default configuration.
    pub const DEFAULT: Limits = Limits {
        fuel: DEFAULT_FUEL,
        memory_bytes: mib(DEFAULT_MEMORY_MB),
        wall_time: Duration::from_millis(DEFAULT_WALL_TIME_MS),
        max_input_bytes: kib(MAX_INPUT_KB),
        max_output_bytes: kib(MAX_OUTPUT_KB),
    };

    /// Refuses an input (measured with the `*_input_size` functions) over the cap.
    pub(crate) fn check_input(&self, size: usize) -> Result<(), PluginError> {
        if size > self.max_input_bytes {
            return Err(PluginError::InputTooLarge { size, limit: self.max_input_bytes });
        }
        Ok(())
    }

    /// Refuses an output (measured with the `*_output_size` functions) over the cap.
    pub(crate) fn check_output(&self, size: usize) -> Result<(), PluginError> {
        if size > self.max_output_bytes {
            return Err(PluginError::OutputTooLarge { size, limit: self.max_output_bytes });
        }
        Ok(())
    }
}

pub const fn mib(mb: u32) -> u64 {
    (mb as u64) << 20
}

pub const fn kib(kb: usize) -> usize {
    kb.saturating_mul(1024)
}

// Input sizes are cheap upper estimates, taken before any conversion to a runtime's values.
pub(crate) fn on_event_input_size(event: &EventSnapshot, ticket: &TicketSnapshot) -> usize {
    ticket.approx_size() + event.kind.len() + event.actor.len() + event.data.to_string().len()
}

pub(crate) fn guard_input_size(ticket: &TicketSnapshot, from: &str, to: &str) -> usize {
    ticket.approx_size() + from.len() + to.len()
}

pub(crate) fn score_partner_input_size(scorecard: &str, stats: &PartnerStats) -> usize {
    scorecard.len() + stats.partner_id.len() + stats.partner_name.len() + FIXED_INPUT_BYTES
}

pub(crate) fn compute_kpi_input_size(kpi: &str, _input: &KpiInput) -> usize {
    kpi.len() + KPI_INPUT_BYTES
}

/// An action's share of the output: its text (a custom field's key and JSON value text).
pub(crate) fn action_output_size(payload_bytes: usize) -> usize {
    payload_bytes + ACTION_OVERHEAD_BYTES
}

pub(crate) fn scorecard_output_size<'a>(grade: &str, criteria: impl Iterator<Item = &'a str>) -> usize {
    grade.len() + criteria.map(|c| c.len() + SCORE_ITEM_OVERHEAD_BYTES).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Manifest, RequestedLimits};
    use crate::{testing, types::samples, PluginsConfig, Verdict};
    use std::path::Path;

    const NO_LIMITS: &str =
        "name = \"plain\"\nversion = \"1.0.0\"\ncontract = \"steward:plugin@1\"\nruntime = \"rhai\"\nentry = \"main.rhai\"\nhooks = [\"guard-transition\"]\n";

    #[test]
    fn a_manifest_that_asks_for_nothing_runs_under_the_stated_defaults() {
        let manifest = Manifest::parse(Path::new("/p/plain"), Path::new("/p/plain/plugin.toml"), NO_LIMITS).unwrap();
        assert_eq!(manifest.limits, RequestedLimits::default());
        let limits = PluginsConfig::default().limits_for(&manifest.limits);
        assert_eq!(limits, Limits::DEFAULT);
        assert_eq!(limits.fuel, DEFAULT_FUEL);
        assert_eq!(limits.memory_bytes, u64::from(DEFAULT_MEMORY_MB) * 1024 * 1024);
        assert_eq!(limits.wall_time, Duration::from_millis(DEFAULT_WALL_TIME_MS));
        assert_eq!(limits.max_input_bytes, MAX_INPUT_KB * 1024);
        assert_eq!(limits.max_output_bytes, MAX_OUTPUT_KB * 1024);
        // Whatever a manifest asks for, the caps hold.
        let greedy = RequestedLimits { fuel: Some(u64::MAX), memory_mb: Some(u32::MAX), wall_time_ms: Some(u64::MAX) };
        let capped = PluginsConfig::default().limits_for(&greedy);
        assert_eq!(
            (capped.fuel, capped.memory_bytes, capped.wall_time),
            (MAX_FUEL, mib(MAX_MEMORY_MB), Duration::from_millis(MAX_WALL_TIME_MS))
        );
        assert_eq!(crate::wasm::WasmRuntimeConfig::default().max_memory_bytes, mib(MAX_MEMORY_MB));
    }

    #[test]
    fn the_shipped_config_states_the_same_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/steward.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut file: toml::Table = toml::from_str(&text).unwrap();
        let shipped: PluginsConfig = file.remove("plugins").expect("a [plugins] table").try_into().unwrap();
        let defaults = PluginsConfig::default();
        assert_eq!(shipped.limits_for(&RequestedLimits::default()), Limits::DEFAULT);
        let caps = |c: &PluginsConfig| (c.max_fuel, c.max_memory_mb, c.max_wall_time_ms, c.failure_threshold, c.failure_window_secs);
        assert_eq!(caps(&shipped), caps(&defaults));
    }

    #[test]
    fn both_runtimes_enforce_the_same_output_cap() {
        let limits = testing::ROOMY;
        let cap = limits.max_output_bytes;
        let reason_of = |bytes: usize| {
            let mut ticket = samples::ticket();
            ticket.custom_fields.insert("reason_bytes".into(), bytes.into());
            ticket
        };
        let flood = testing::event("flood");
        let mut flood_sizes = Vec::new();
        for (runtime, plugin) in testing::conformance_plugins(limits) {
            let at_cap = plugin.guard_transition(&reason_of(cap), "parts", "huge").unwrap().value;
            assert_eq!(at_cap, Verdict::Reject("x".repeat(MAX_REASON_BYTES)), "{runtime:?}: a reason at the cap is kept, cut for people");
            let over = plugin.guard_transition(&reason_of(cap + 1), "parts", "huge").unwrap_err();
            assert_eq!(over, PluginError::OutputTooLarge { size: cap + 1, limit: cap }, "{runtime:?}");
            match plugin.on_event(&flood, &samples::ticket()).unwrap_err() {
                PluginError::OutputTooLarge { size, limit } if limit == cap && size > cap => flood_sizes.push(size),
                other => panic!("{runtime:?}: {other}"),
            }
        }
        assert_eq!(flood_sizes.len(), 2);
        assert_eq!(flood_sizes[0], flood_sizes[1], "both runtimes measure a list of actions the same way");
    }
}
