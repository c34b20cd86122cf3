//! Plugin call latency: one guard hook call with a fresh WASM instance, and the same logic in
//! Rhai. Not a test: run `cargo run --release -p steward --bin plugin-bench` and read the table.
//! Builds the bundled WASM guests first (needs the `wasm32-wasip2` target).

use std::sync::Arc;
use std::time::{Duration, Instant};
use steward_plugin_host::rhai::RhaiPlugin;
use steward_plugin_host::types::samples;
use steward_plugin_host::wasm::{WasmPlugin, WasmRuntime};
use steward_plugin_host::{guest_build, Hook, Plugin, PluginsConfig, Verdict};

const WARMUP: usize = 500;
const RUNS: usize = 5_000;

/// The field-service guard, line for line, in Rhai.
const RHAI_GUARD: &str = r#"
fn guard_transition(ticket, from, to) {
    let log = ticket.custom_fields.parts_log;
    if ticket.process == "field_service" && to == "verification" && (log == () || log == "") {
        return `${ticket.number}: record the parts used in the parts_log custom field (or "none") before verification`;
    }
}
"#;

fn measure(plugin: &dyn Plugin, with_log: bool) -> (Vec<Duration>, u64) {
    let mut ticket = samples::ticket();
    ticket.process = "field_service".into();
    if with_log {
        ticket.custom_fields.insert("parts_log".into(), "valve x2".into());
    }
    let expected_allow = with_log;
    let mut fuel = 0;
    for _ in 0..WARMUP {
        plugin.guard_transition(&ticket, "parts", "verification").expect("guard runs");
    }
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let call = plugin.guard_transition(&ticket, "parts", "verification").expect("guard runs");
        times.push(started.elapsed());
        assert_eq!(call.value == Verdict::Allow, expected_allow);
        fuel = call.usage.fuel;
    }
    times.sort();
    (times, fuel)
}

fn pct(times: &[Duration], p: f64) -> f64 {
    let i = ((times.len() as f64 - 1.0) * p).round() as usize;
    times[i].as_secs_f64() * 1e6
}

fn main() {
    let out = guest_build::build_workspace(&guest_build::repository_guest_workspace()).unwrap_or_else(|e| panic!("{e}"));
    let wasm_file = guest_build::artifact(&out, "field-service");
    let bytes = std::fs::read(&wasm_file).expect("built component");
    let config = PluginsConfig { cache_dir: None, ..PluginsConfig::default() };
    let limits = config.limits_for(&Default::default());
    let runtime: Arc<WasmRuntime> = WasmRuntime::new(&config.wasm_runtime_config()).expect("sandbox");
    let wasm = WasmPlugin::from_bytes(&runtime, "field-service", &wasm_file, &bytes, &[Hook::GuardTransition], limits).expect("loads");
    let rhai = RhaiPlugin::compile("field-service-rhai", "bench.rhai", RHAI_GUARD, &[Hook::GuardTransition], limits).expect("compiles");

    println!("plugin guard hook, {RUNS} calls after {WARMUP} warm-up, pooling allocator: {}", runtime.pooling());
    println!("{:<44} {:>10} {:>10} {:>10} {:>10}", "case", "median µs", "p90 µs", "p99 µs", "fuel");
    for (label, plugin, with_log) in [
        ("wasm, fresh instance per call (veto)", &wasm as &dyn Plugin, false),
        ("wasm, fresh instance per call (allow)", &wasm, true),
        ("rhai, same logic (veto)", &rhai, false),
        ("rhai, same logic (allow)", &rhai, true),
    ] {
        let (times, fuel) = measure(plugin, with_log);
        println!("{label:<44} {:>10.1} {:>10.1} {:>10.1} {:>10}", pct(&times, 0.5), pct(&times, 0.9), pct(&times, 0.99), fuel);
    }
    println!("targets: wasm median < 25 µs, rhai median < 10 µs");
}
