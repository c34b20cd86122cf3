//! Failure accounting: what each plugin's calls cost and how often they failed. A plugin that
//! fails `failure_threshold` times within the window is disabled until an administrator
//! enables it again; an administrator can also disable a plugin by hand.

use super::{HostError, PluginHost, PluginStatus, Slot};
use crate::{Hook, PluginError};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    /// A WASM plugin whose component has not been built yet: not an error, and not disabled
    /// (no alert fires); `reason` says which command builds it.
    NotBuilt {
        reason: String,
    },
}

/// A plugin's calls since it was first loaded (a reload keeps them).
#[derive(Default)]
pub(super) struct Stats {
    pub(super) calls: AtomicU64,
    pub(super) failures: AtomicU64,
    pub(super) fuel: AtomicU64,
    pub(super) nanos: AtomicU64,
    pub(super) last_error: Mutex<Option<String>>,
    /// When the failures inside the current window happened, oldest first.
    recent_failures: Mutex<VecDeque<Instant>>,
}

impl Stats {
    pub(super) fn record_call(&self, elapsed: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub(super) fn record_fuel(&self, fuel: u64) {
        self.fuel.fetch_add(fuel, Ordering::Relaxed);
    }

    /// Counts a failure at `now` and returns how many fell within `window` of it.
    fn record_failure(&self, hook: Hook, error: &PluginError, now: Instant, window: Duration) -> usize {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{hook}: {error}"));
        let mut recent = self.recent_failures.lock().unwrap_or_else(|e| e.into_inner());
        recent.push_back(now);
        while recent.front().is_some_and(|t| now.duration_since(*t) > window) {
            recent.pop_front();
        }
        recent.len()
    }

    fn forget_recent_failures(&self) {
        self.recent_failures.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub(super) fn mean_duration_us(&self) -> f64 {
        let calls = self.calls.load(Ordering::Relaxed);
        let nanos = self.nanos.load(Ordering::Relaxed);
        if calls == 0 {
            0.0
        } else {
            nanos as f64 / calls as f64 / 1000.0
        }
    }
}

impl PluginHost {
    /// Disables a plugin: its hooks stop being called (its processes stay, for existing tickets).
    pub fn disable(&self, name: &str) -> Result<PluginStatus, HostError> {
        let slot = self.slot(name)?;
        if !matches!(slot.state(), PluginState::Failed { .. }) {
            slot.set_state(PluginState::Disabled);
            self.metrics.set_disabled(name, true);
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
        slot.stats.forget_recent_failures();
        slot.set_state(PluginState::Enabled);
        self.metrics.set_disabled(name, false);
        tracing::info!(plugin = %name, "plugin enabled");
        self.status(name)
    }

    /// Counts a failed call and disables the plugin once it has failed too often.
    pub(super) fn record_failure(&self, name: &str, slot: &Slot, hook: Hook, error: &PluginError) {
        tracing::warn!(plugin = %name, %hook, %error, "plugin call failed");
        let window = Duration::from_secs(self.config.failure_window_secs);
        let count = slot.stats.record_failure(hook, error, Instant::now(), window);
        if self.config.failure_threshold > 0 && count >= self.config.failure_threshold as usize {
            let mut state = slot.state.lock().unwrap_or_else(|e| e.into_inner());
            if *state == PluginState::Enabled {
                let reason = format!("failed {count} times within {} s; last: {hook}: {error}", self.config.failure_window_secs);
                tracing::error!(plugin = %name, %reason, "plugin auto-disabled");
                *state = PluginState::AutoDisabled { reason };
                self.metrics.set_disabled(name, true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{host_with, render, rhai_plugin, LOOPING_GUARD};
    use super::*;
    use crate::types::samples;
    use crate::PluginsConfig;

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
}
