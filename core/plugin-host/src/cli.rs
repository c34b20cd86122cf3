//! `steward plugin new|check|test`, as library functions the binary calls and prints.

use super::guest_build;
use super::manifest::{Manifest, MANIFEST_FILE};
use super::types::samples;
use super::wasm::WasmRuntime;
use super::{load_plugin, EventSnapshot, Hook, KpiInput, LoadError, PartnerStats, Plugin, PluginsConfig, Runtime, TicketSnapshot, Usage};
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Build(#[from] guest_build::BuildError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |e| CliError::Io { path: path.to_owned(), message: e.to_string() }
}

/// Writes a working plugin template named `name` into `parent/name` and returns its directory.
/// A WASM template depends on the SDK at `sdk` (by path).
pub fn new_plugin(parent: &Path, name: &str, runtime: Runtime, sdk: &Path) -> Result<PathBuf, CliError> {
    if !super::manifest::is_plugin_name(name) {
        return Err(CliError::Invalid(format!("`{name}`: {}", super::manifest::PLUGIN_NAME_RULE)));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(CliError::Invalid(format!("{} already exists", dir.display())));
    }
    let files: Vec<(String, String)> = match runtime {
        Runtime::Rhai => vec![(MANIFEST_FILE.into(), rhai_manifest(name)), ("main.rhai".into(), RHAI_TEMPLATE.into())],
        Runtime::Wasm => {
            let sdk = sdk.canonicalize().map_err(io_err(sdk))?;
            vec![
                (MANIFEST_FILE.into(), wasm_manifest(name)),
                ("Cargo.toml".into(), wasm_cargo_toml(name, &sdk)),
                ("src/lib.rs".into(), WASM_TEMPLATE.into()),
                (".gitignore".into(), "/target\n/Cargo.lock\n".into()),
            ]
        }
    };
    for (file, text) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().expect("inside dir")).map_err(io_err(&dir))?;
        std::fs::write(&path, text).map_err(io_err(&path))?;
    }
    Ok(dir)
}

fn rhai_manifest(name: &str) -> String {
    format!(
        r#"name = "{name}"
version = "0.1.0"
description = "What this plugin does."
contract = "steward:plugin@1"
runtime = "rhai"
entry = "main.rhai"
# Hooks Steward calls: on-event, guard-transition, score-partner, compute-kpi.
hooks = ["guard-transition", "on-event"]

# [contributes]
# processes = ["processes/my_process.toml"]   # same format as config/processes/general.toml

[limits]
fuel = 100000        # Rhai operations per call
wall_time_ms = 50

[failure]
guard-transition = "fail-closed"   # a failing guard refuses the move
on-event = "fail-open"             # a failing on-event is logged and skipped
"#
    )
}

const RHAI_TEMPLATE: &str = r#"// Hooks receive maps with the contract's field names (see `steward plugin test` output).
// `now` in the ticket is the current time in milliseconds; there is no clock otherwise.

// Return nothing to allow the move, or a reason (a string) to refuse it.
fn guard_transition(ticket, from, to) {
    if to == "closed" && ticket.custom_fields.resolution_note == () {
        return "write a resolution note (custom field resolution_note) before closing";
    }
}

// Return a list of actions: add_tag(t), set_priority(p), add_internal_note(n),
// set_custom_field(key, value). `throw #{ code: "...", message: "..." }` reports an error.
fn on_event(event, ticket) {
    if event.kind == "created" && ticket.channel == "phone" && ticket.priority == "urgent" {
        return [add_tag("hotline")];
    }
    []
}
"#;

fn crate_file(name: &str) -> String {
    name.replace('-', "_")
}

fn wasm_manifest(name: &str) -> String {
    format!(
        r#"name = "{name}"
version = "0.1.0"
description = "What this plugin does."
contract = "steward:plugin@1"
runtime = "wasm"
# Build with: cargo build --release --target wasm32-wasip2
entry = "target/wasm32-wasip2/release/{file}.wasm"
# Hooks Steward calls: on-event, guard-transition, score-partner, compute-kpi.
hooks = ["guard-transition", "on-event"]

[limits]
fuel = 1000000
memory_mb = 8
wall_time_ms = 50

[failure]
guard-transition = "fail-closed"
on-event = "fail-open"
"#,
        file = crate_file(name)
    )
}

fn wasm_cargo_toml(name: &str, sdk: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
steward-sdk = {{ path = "{sdk}" }}

[profile.release]
opt-level = "s"
lto = true
strip = true

# A workspace of its own, so it builds wherever it is placed.
[workspace]
"#,
        sdk = sdk.display().to_string().replace('\\', "/")
    )
}

const WASM_TEMPLATE: &str = r#"//! A Steward plugin. Build: cargo build --release --target wasm32-wasip2

use steward_sdk::{export_plugin, Action, Error, Event, Plugin, Ticket};

struct MyPlugin;

impl Plugin for MyPlugin {
    /// `Ok(())` allows the move; `Err(reason)` refuses it.
    fn guard_transition(ticket: Ticket, _from: String, to: String) -> Result<(), String> {
        if to == "closed" && !ticket.has_custom_field("resolution_note") {
            return Err("write a resolution note (custom field resolution_note) before closing".into());
        }
        Ok(())
    }

    /// Actions for Steward to apply, attributed to the plugin.
    fn on_event(event: Event, ticket: Ticket) -> Result<Vec<Action>, Error> {
        if event.kind == "created" && ticket.channel == "phone" && ticket.priority == "urgent" {
            return Ok(vec![Action::add_tag("hotline")]);
        }
        Ok(Vec::new())
    }
}

export_plugin!(MyPlugin);
"#;

/// What `check` found: the manifest's content, as lines to print.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub manifest: Manifest,
    pub lines: Vec<String>,
}

/// Validates the manifest and loads the entry under production limits, which checks it
/// against the contract (exports and their signatures, or script functions and arities).
pub fn check(dir: &Path, config: &PluginsConfig) -> Result<CheckReport, CliError> {
    let manifest = Manifest::load(dir).map_err(LoadError::from)?;
    let limits = config.limits_for(&manifest.limits);
    let runtime = WasmRuntime::new(&config.wasm_runtime_config())?;
    load_plugin(&manifest, limits, &runtime)?;
    let hooks: Vec<_> = manifest.hooks.iter().map(|h| h.as_str()).collect();
    let mut lines = vec![
        format!("{} {} ({}), contract steward:plugin@{}", manifest.name, manifest.version, manifest.runtime.as_str(), manifest.contract),
        format!("entry: {}", manifest.entry.display()),
        format!("hooks: {}", hooks.join(", ")),
        format!("limits: fuel {}, memory {} MiB, wall time {} ms", limits.fuel, limits.memory_bytes >> 20, limits.wall_time.as_millis()),
    ];
    for hook in &manifest.hooks {
        lines.push(format!("failure policy for {hook}: {}", manifest.failure_policy(*hook).as_str()));
    }
    for p in &manifest.processes {
        let stages: Vec<_> = p.stages.iter().map(|s| s.key.as_str()).collect();
        lines.push(format!("process {} v{}: {}", p.key, p.version, stages.join(" → ")));
    }
    for k in &manifest.kpis {
        lines.push(format!("KPI {} ({}): {}", k.name, k.unit, k.help));
    }
    for c in &manifest.scorecards {
        lines.push(format!("scorecard {}: {}", c.name, c.help));
    }
    Ok(CheckReport { manifest, lines })
}

/// Inputs for `test`; every part is optional and defaults to a built-in sample.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    pub ticket: Option<TicketSnapshot>,
    pub event: Option<EventSnapshot>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub scorecard: Option<String>,
    pub partner: Option<PartnerStats>,
    pub kpi: Option<String>,
    pub kpi_input: Option<KpiInput>,
}

impl Fixture {
    /// Reads a JSON fixture file.
    pub fn load(path: &Path) -> Result<Fixture, CliError> {
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        serde_json::from_str(&text).map_err(|e| CliError::Invalid(format!("{}: {e}", path.display())))
    }
}

/// One hook run by `test`.
#[derive(Debug, Clone)]
pub struct HookRun {
    pub hook: Hook,
    /// What went in, briefly.
    pub input: String,
    /// The result, or the error.
    pub outcome: Result<String, String>,
    pub usage: Usage,
}

/// Runs every hook the manifest lists on the fixture's inputs (or samples), under the
/// production limits, and reports result, fuel, time and memory for each.
pub fn test(dir: &Path, fixture: &Fixture, config: &PluginsConfig) -> Result<Vec<HookRun>, CliError> {
    let report = check(dir, config)?;
    let manifest = &report.manifest;
    let limits = config.limits_for(&manifest.limits);
    let runtime = WasmRuntime::new(&config.wasm_runtime_config())?;
    let plugin: Arc<dyn Plugin> = load_plugin(manifest, limits, &runtime)?;

    let process = manifest.processes.first();
    let mut ticket = fixture.ticket.clone().unwrap_or_else(samples::ticket);
    if fixture.ticket.is_none() {
        if let Some(p) = process {
            ticket.process = p.key.clone();
            ticket.stage = p.initial_stage().key.clone();
        }
    }
    let from = fixture.from.clone().unwrap_or_else(|| ticket.stage.clone());
    let to = fixture.to.clone().unwrap_or_else(|| match process {
        Some(p) => p.allowed_targets(&from).first().map(|s| s.key.clone()).unwrap_or_else(|| "closed".into()),
        None => "closed".into(),
    });
    let event = fixture.event.clone().unwrap_or_else(|| EventSnapshot {
        kind: "stage_changed".into(),
        data: serde_json::json!({ "from": from, "to": ticket.stage }),
        at: ticket.now,
        actor: "steward plugin test".into(),
    });
    let partner = fixture.partner.clone().unwrap_or_else(samples::partner);
    let kpi_input = fixture.kpi_input.clone().unwrap_or_else(samples::kpi);

    let mut runs = Vec::new();
    for hook in &manifest.hooks {
        let started = Instant::now();
        let (input, result) = match hook {
            Hook::GuardTransition => (
                format!("{} in `{}`: {from} → {to}", ticket.number, ticket.process),
                plugin.guard_transition(&ticket, &from, &to).map(|c| (format!("{:?}", c.value), c.usage)),
            ),
            Hook::OnEvent => (
                format!("{} event on {}", event.kind, ticket.number),
                plugin.on_event(&event, &ticket).map(|c| (format!("{:?}", c.value), c.usage)),
            ),
            Hook::ScorePartner => {
                let name = fixture.scorecard.clone().or_else(|| manifest.scorecards.first().map(|c| c.name.clone())).unwrap_or_default();
                (
                    format!("scorecard `{name}` for {}", partner.partner_name),
                    plugin.score_partner(&name, &partner).map(|c| (format!("{:?}", c.value), c.usage)),
                )
            }
            Hook::ComputeKpi => {
                let name = fixture.kpi.clone().or_else(|| manifest.kpis.first().map(|k| k.name.clone())).unwrap_or_default();
                (format!("KPI `{name}`"), plugin.compute_kpi(&name, &kpi_input).map(|c| (format!("{:?}", c.value), c.usage)))
            }
        };
        let (outcome, usage) = match result {
            Ok((value, usage)) => (Ok(value), usage),
            Err(e) => (Err(e.to_string()), Usage { elapsed: started.elapsed(), ..Usage::default() }),
        };
        runs.push(HookRun { hook: *hook, input, outcome, usage });
    }
    Ok(runs)
}

/// The runs as a human-readable report.
pub fn render_runs(runs: &[HookRun]) -> String {
    let mut out = String::new();
    for run in runs {
        let _ = writeln!(out, "{}: {}", run.hook, run.input);
        match &run.outcome {
            Ok(value) => {
                let _ = writeln!(out, "  result: {value}");
            }
            Err(e) => {
                let _ = writeln!(out, "  FAILED: {e}");
            }
        }
        let _ = writeln!(
            out,
            "  fuel {}, time {:.1} µs, memory {} KiB",
            run.usage.fuel,
            run.usage.elapsed.as_secs_f64() * 1e6,
            run.usage.memory_bytes / 1024
        );
    }
    out
}

/// The SDK directory of the source tree this binary was built from (tests only: the binary
/// looks in its working directory, see [`sdk_dir_from`]).
pub fn default_sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk")
}

/// Where `--sdk` defaults to: `sdk/` of the working directory (a Steward checkout), or `sdk/`
/// beside the installed binary's directory (`<prefix>/bin/steward` → `<prefix>/sdk`).
pub fn sdk_dir_from(cwd: &Path, exe: Option<&Path>) -> Result<PathBuf, CliError> {
    let beside_exe = exe.and_then(|e| e.parent()?.parent().map(|p| p.join("sdk")));
    let candidates: Vec<PathBuf> = std::iter::once(cwd.join("sdk")).chain(beside_exe).collect();
    candidates.iter().find(|d| d.join("Cargo.toml").is_file()).cloned().ok_or_else(|| {
        let tried: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
        CliError::Invalid(format!("no steward-sdk crate found (looked in {}): pass --sdk DIR", tried.join(", ")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{testing, Verdict};

    fn config() -> PluginsConfig {
        PluginsConfig { cache_dir: None, ..PluginsConfig::default() }
    }

    #[test]
    fn a_new_rhai_plugin_checks_and_runs_its_hooks() {
        let root = tempfile::tempdir().unwrap();
        let dir = new_plugin(root.path(), "hotline", Runtime::Rhai, &default_sdk_dir()).unwrap();
        let report = check(&dir, &config()).unwrap();
        assert!(report.lines[0].starts_with("hotline 0.1.0 (rhai)"), "{:?}", report.lines);
        let runs = test(&dir, &Fixture::default(), &config()).unwrap();
        assert_eq!(runs.len(), 2);
        // Without a contributed process the sample move is to `closed`, which the template guards.
        let guard = runs.iter().find(|r| r.hook == Hook::GuardTransition).unwrap();
        assert!(guard.outcome.as_ref().unwrap().contains("resolution note"), "{guard:?}");
        assert!(guard.usage.fuel > 0);
        let fixture: Fixture = serde_json::from_value(serde_json::json!({ "to": "verification" })).unwrap();
        let runs = test(&dir, &fixture, &config()).unwrap();
        let guard = runs.iter().find(|r| r.hook == Hook::GuardTransition).unwrap();
        assert_eq!(guard.outcome, Ok(format!("{:?}", Verdict::Allow)));
        assert!(render_runs(&runs).contains("fuel"));
        assert!(matches!(new_plugin(root.path(), "hotline", Runtime::Rhai, &default_sdk_dir()), Err(CliError::Invalid(_))));
        assert!(matches!(new_plugin(root.path(), "Bad Name", Runtime::Rhai, &default_sdk_dir()), Err(CliError::Invalid(_))));
    }

    #[test]
    fn a_new_wasm_plugin_builds_checks_and_runs() {
        let root = tempfile::tempdir().unwrap();
        let dir = new_plugin(root.path(), "closing-rules", Runtime::Wasm, &default_sdk_dir()).unwrap();
        // Share the repository guests' target directory so the SDK is not compiled again.
        let target = guest_build::repository_guest_workspace().join("target");
        guest_build::build_workspace_into(&dir, &target).unwrap();
        let built = target.join(guest_build::GUEST_TARGET).join("release").join("closing_rules.wasm");
        let dest = dir.join("target/wasm32-wasip2/release/closing_rules.wasm");
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(built, &dest).unwrap();
        let fixture: Fixture = serde_json::from_value(serde_json::json!({ "to": "closed" })).unwrap();
        let runs = test(&dir, &fixture, &config()).unwrap();
        let guard = runs.iter().find(|r| r.hook == Hook::GuardTransition).unwrap();
        assert!(guard.outcome.as_ref().unwrap().contains("resolution note"), "{guard:?}");
        assert!(guard.usage.memory_bytes > 0);
    }

    #[test]
    fn check_reports_the_bundled_field_service_pack() {
        let report = check(&testing::bundled("field-service"), &config()).unwrap();
        let text = report.lines.join("\n");
        assert!(text.contains("process field_service v1: dispatch → on_site → parts → verification → closed → cancelled"), "{text}");
        let runs = test(&testing::bundled("field-service"), &Fixture::default(), &config()).unwrap();
        assert!(runs.iter().all(|r| r.outcome.is_ok()), "{runs:?}");
    }

    #[test]
    fn check_names_the_bad_field() {
        let manifest = b"name = \"x\"\nversion = \"1\"\ncontract = \"steward:plugin@1\"\nruntime = \"rhai\"\nentry = \"m.rhai\"\nhooks = [\"on-event\"]\n";
        let (_root, dir) = testing::plugin_dir("x", &[("plugin.toml", manifest)]);
        let e = check(&dir, &config()).unwrap_err().to_string();
        assert!(e.contains("x/plugin.toml:2: version:"), "{e}");
        let (_root, dir) = testing::plugin_dir("y", &[("plugin.toml", b"name = \"y\"\n")]);
        let e = check(&dir, &config()).unwrap_err().to_string();
        assert!(e.ends_with("y/plugin.toml: version: missing field `version`"), "{e}");
    }
}
