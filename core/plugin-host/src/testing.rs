//! Test helpers: the guest build, a shared WASM runtime, bundled plugin directories,
//! throw-away plugin directories written by code, and the conformance pair.

use super::guest_build;
use super::rhai::RhaiPlugin;
use super::types::samples;
use super::wasm::{WasmPlugin, WasmRuntime, WasmRuntimeConfig};
use super::{EventSnapshot, Hook, Limits, Plugin, Runtime};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The production defaults with less fuel and more time, so that a runaway loop in a test
/// runs out of fuel (quickly) rather than time (which depends on how busy the machine is).
pub const LIMITS: Limits = Limits { fuel: 1_000_000, wall_time: Duration::from_millis(200), ..Limits::DEFAULT };

/// The production defaults with time to spare, for calls that should succeed (or fail for
/// another reason) even on a busy machine.
pub const ROOMY: Limits = Limits { wall_time: Duration::from_secs(10), ..Limits::DEFAULT };

/// An event of `kind` with empty data.
pub fn event(kind: &str) -> EventSnapshot {
    EventSnapshot { kind: kind.into(), data: serde_json::json!({}), at: samples::NOW, actor: "ann".into() }
}

/// Builds the guest workspace once per test process and returns where the `.wasm` files are.
pub fn guests() -> PathBuf {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| guest_build::build_workspace(&guest_build::repository_guest_workspace()).unwrap_or_else(|e| panic!("{e}"))).clone()
}

pub fn guest(crate_name: &str) -> PathBuf {
    guest_build::artifact(&guests(), crate_name)
}

/// One runtime for all tests (each owns an epoch thread and a pool), caching compiled
/// components next to the guest build so reruns skip compilation.
pub fn runtime() -> Arc<WasmRuntime> {
    static RT: OnceLock<Arc<WasmRuntime>> = OnceLock::new();
    RT.get_or_init(|| {
        let cache = guest_build::repository_guest_workspace().join("target").join("steward-test-cache");
        WasmRuntime::new(&WasmRuntimeConfig { cache_dir: Some(cache), ..WasmRuntimeConfig::default() }).unwrap()
    })
    .clone()
}

/// A bundled plugin's directory, with the bundled components built and installed.
pub fn bundled(name: &str) -> PathBuf {
    static PLUGINS: OnceLock<PathBuf> = OnceLock::new();
    PLUGINS.get_or_init(|| guest_build::build_and_install_bundled().unwrap_or_else(|e| panic!("{e}"))).join(name)
}

/// A plugin directory named `name` in a fresh temporary directory, holding `files`.
pub fn plugin_dir(name: &str, files: &[(&str, &[u8])]) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, bytes) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    (root, dir)
}

/// A manifest for the bad guest with the given hooks.
pub fn bad_guest_dir(hooks: &str, extra: &str) -> (tempfile::TempDir, PathBuf) {
    let wasm = std::fs::read(guest("bad-guest")).unwrap();
    let manifest = format!(
        "name = \"bad-guest\"\nversion = \"0.1.0\"\ncontract = \"steward:plugin@1\"\nruntime = \"wasm\"\nentry = \"bad.wasm\"\nhooks = [{hooks}]\n{extra}"
    );
    plugin_dir("bad-guest", &[("plugin.toml", manifest.as_bytes()), ("bad.wasm", &wasm)])
}

/// Runs `f` with a subscriber that records this thread's log lines, and returns them.
pub fn capture_logs<R>(f: impl FnOnce() -> R) -> (R, String) {
    use std::sync::Mutex;
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_ansi(false).with_writer(move || writer.clone()).finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    (result, text)
}

/// Where the conformance guest lives: a Rust crate of the guest workspace and, next to it, the
/// same logic as a Rhai script.
pub fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/plugins/conformance-guest")
}

/// The conformance guest on both runtimes, declaring `hooks`, under `limits`.
pub fn conformance_plugins_with(hooks: &[Hook], limits: Limits) -> Vec<(Runtime, Box<dyn Plugin>)> {
    let file = guest("conformance-guest");
    let bytes = std::fs::read(&file).unwrap();
    let wasm = WasmPlugin::from_bytes(&runtime(), "conformance", &file, &bytes, hooks, limits).unwrap();
    let script_file = conformance_dir().join("conformance.rhai");
    let script = std::fs::read_to_string(&script_file).unwrap();
    let rhai = RhaiPlugin::compile("conformance", &script_file.display().to_string(), &script, hooks, limits).unwrap();
    vec![(Runtime::Wasm, Box::new(wasm)), (Runtime::Rhai, Box::new(rhai))]
}

/// The conformance guest on both runtimes with every hook declared.
pub fn conformance_plugins(limits: Limits) -> Vec<(Runtime, Box<dyn Plugin>)> {
    conformance_plugins_with(&Hook::ALL, limits)
}

/// The checked-in JSON form of [`hook_inputs`]: what hooks receive, field by field.
pub const GOLDEN_HOOK_INPUT: &str = include_str!("../tests/golden/hook-input.json");

pub fn golden_hook_input_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/hook-input.json")
}

/// One of every hook input, with every optional field set, so that each field shows.
#[derive(serde::Serialize)]
pub struct HookInputs {
    /// Every hook but `compute-kpi` gets it; `on-event` also gets the event, `guard-transition`
    /// the two stage keys, `score-partner` the scorecard's name and the stats, `compute-kpi`
    /// the KPI's name and its input.
    pub ticket: super::TicketSnapshot,
    pub event: EventSnapshot,
    pub partner_stats: super::PartnerStats,
    pub kpi_input: super::KpiInput,
}

pub fn hook_inputs() -> HookInputs {
    let mut ticket = samples::ticket();
    ticket.assignee = Some("0190a0b0-0000-7000-8000-0000000000aa".into());
    ticket.tags.push("vip".into());
    let fields = serde_json::json!({ "parts_log": "valve x2", "visits": 2, "site": { "floor": 3, "access": ["badge"] } });
    ticket.custom_fields = fields.as_object().cloned().unwrap();
    ticket.first_response_at = Some(samples::NOW - 3_000_000);
    ticket.resolved_at = Some(samples::NOW - 120_000);
    ticket.reopen_count = 1;
    let event = EventSnapshot {
        kind: "stage_changed".into(),
        data: serde_json::json!({ "from": "parts", "to": "verification" }),
        at: samples::NOW - 60_000,
        actor: "ann".into(),
    };
    HookInputs { ticket, event, partner_stats: samples::partner(), kpi_input: samples::kpi() }
}
