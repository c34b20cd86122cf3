//! The plugin metrics: calls by outcome, call duration, fuel consumed and which plugins are off.

use crate::Hook;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};
use std::time::Duration;

pub(super) struct PluginMetrics {
    calls: IntCounterVec,
    duration: HistogramVec,
    fuel: IntCounterVec,
    disabled: IntGaugeVec,
}

impl PluginMetrics {
    pub(super) fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
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

    pub(super) fn call_took(&self, plugin: &str, hook: Hook, elapsed: Duration) {
        self.duration.with_label_values(&[plugin, hook.as_str()]).observe(elapsed.as_secs_f64());
    }

    /// A finished call, by its outcome (`ok`, `rejected`, or a [`crate::PluginError::outcome`]).
    pub(super) fn call_ended(&self, plugin: &str, hook: Hook, outcome: &str) {
        self.calls.with_label_values(&[plugin, hook.as_str(), outcome]).inc();
    }

    pub(super) fn fuel_consumed(&self, plugin: &str, fuel: u64) {
        self.fuel.with_label_values(&[plugin]).inc_by(fuel);
    }

    pub(super) fn set_disabled(&self, plugin: &str, disabled: bool) {
        self.disabled.with_label_values(&[plugin]).set(i64::from(disabled));
    }
}
