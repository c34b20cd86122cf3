//! `steward plugin new|check|test`, as library functions the binary calls and prints.

use super::guest_build;
use super::manifest::{Manifest, MANIFEST_FILE};
use super::types::samples;
use super::wasm::WasmRuntime;
use super::{load_plugin, EventSnapshot, Hook, KpiInput, LoadError, PartnerStats, Plugin, PluginsConfig, Runtime, TicketSnapshot, Usage};
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use steward_domain::process::{Process, ProcessRegistry};

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
# Built by `steward plugin build <this directory>`, which puts the component here, beside
# this manifest: copying the directory (without target/) copies the whole plugin.
entry = "{file}.wasm"
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

const WASM_TEMPLATE: &str = r#"//! A Steward plugin. Build: `steward plugin build <plugin directory>`

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

/// Builds a WASM plugin's crate (`cargo build --release --target wasm32-wasip2` in `dir`, into
/// `target_dir`, default `dir/target`) and puts the component where the manifest's `entry`
/// says, beside the manifest. Returns the installed component's path.
pub fn build(dir: &Path, target_dir: Option<&Path>) -> Result<PathBuf, CliError> {
    let manifest = Manifest::load(dir).map_err(LoadError::from)?;
    if manifest.runtime != Runtime::Wasm {
        return Err(CliError::Invalid(format!("{}: a {} plugin needs no build", dir.display(), manifest.runtime.as_str())));
    }
    if !dir.join("Cargo.toml").is_file() {
        return Err(CliError::Invalid(format!("{}: no Cargo.toml, so nothing to build", dir.display())));
    }
    let Some(file) = manifest.entry.file_name() else {
        return Err(CliError::Invalid(format!("{}: entry names no file", dir.join(MANIFEST_FILE).display())));
    };
    let target_dir = target_dir.map(Path::to_owned).unwrap_or_else(|| dir.join("target"));
    let out = guest_build::build_workspace_into(dir, &target_dir)?;
    let built = out.join(file);
    if !built.is_file() {
        return Err(CliError::Invalid(format!(
            "the build made no {} (the manifest's entry is named after the crate's library: {})",
            built.display(),
            manifest.entry.display()
        )));
    }
    if let Some(parent) = manifest.entry.parent() {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    guest_build::install(&built, &manifest.entry).map_err(io_err(&manifest.entry))?;
    Ok(manifest.entry)
}

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
    if manifest.runtime == Runtime::Wasm && !manifest.entry.exists() && dir.join("Cargo.toml").is_file() {
        return Err(CliError::Invalid(format!(
            "{} is not built yet: run `steward plugin build {}`",
            manifest.entry.display(),
            dir.display()
        )));
    }
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

/// Inputs for `test`; every part is optional and defaults to a sample fitted to the plugin.
/// The binary reads it from the API's own JSON (`steward_server::plugin_fixture`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fixture {
    /// Ticket fields, in the hooks' field names ([`TicketSnapshot`]), laid over the sample
    /// ticket: the fields a fixture leaves out keep the sample's values.
    pub ticket: Option<Map<String, Value>>,
    /// The one event to offer `on-event` (default: one sample of every event kind).
    pub event: Option<EventSnapshot>,
    /// The move to offer `guard-transition` (default: every move the ticket's process has).
    pub from: Option<String>,
    pub to: Option<String>,
    pub scorecard: Option<String>,
    pub partner: Option<PartnerStats>,
    pub kpi: Option<String>,
    pub kpi_input: Option<KpiInput>,
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

/// The moves a guard is asked about: the fixture's, or every stage a ticket can be moved to,
/// each from the first stage that allows it (for a fixture ticket: from its own stage).
fn moves(process: &Process, ticket: &TicketSnapshot, fixture: &Fixture) -> Vec<(String, String)> {
    let from_stage = |from: &str| process.allowed_targets(from).into_iter().map(|s| (from.to_owned(), s.key.clone())).collect::<Vec<_>>();
    match (&fixture.from, &fixture.to) {
        (from, Some(to)) => vec![(from.clone().unwrap_or_else(|| ticket.stage.clone()), to.clone())],
        (Some(from), None) => from_stage(from),
        (None, None) if fixture.ticket.is_some() => from_stage(&ticket.stage),
        (None, None) => {
            let mut moves: Vec<(String, String)> = Vec::new();
            for stage in &process.stages {
                for (from, to) in from_stage(&stage.key) {
                    if !moves.iter().any(|(_, t)| *t == to) {
                        moves.push((from, to));
                    }
                }
            }
            moves
        }
    }
}

/// Runs every hook the manifest lists under the production limits, and reports result, fuel,
/// time and memory for each call. The samples fit the plugin: a ticket in the first stage of
/// its first contributed process (the built-in `general` process when it contributes none),
/// the guard asked about every move of that process, `on-event` offered one event of every
/// kind Steward sends plugins, each declared scorecard and KPI computed. A fixture replaces
/// any of these.
pub fn test(dir: &Path, fixture: &Fixture, config: &PluginsConfig) -> Result<Vec<HookRun>, CliError> {
    let report = check(dir, config)?;
    let manifest = &report.manifest;
    let limits = config.limits_for(&manifest.limits);
    let runtime = WasmRuntime::new(&config.wasm_runtime_config())?;
    let plugin: Arc<dyn Plugin> = load_plugin(manifest, limits, &runtime)?;

    let builtin = ProcessRegistry::builtin();
    let general = || builtin.get("general").map(|p| (**p).clone()).expect("the built-in process");
    let fitted = manifest.processes.first().cloned().unwrap_or_else(general);
    let mut ticket = samples::ticket_in(&fitted);
    if let Some(fields) = &fixture.ticket {
        let mut value = serde_json::to_value(&ticket).map_err(|e| CliError::Invalid(e.to_string()))?;
        if let Value::Object(map) = &mut value {
            map.extend(fields.clone());
        }
        ticket = serde_json::from_value(value).map_err(|e| CliError::Invalid(format!("fixture ticket: {e}")))?;
    }
    // The ticket's own process, when it names one the plugin or Steward defines.
    let process = manifest
        .processes
        .iter()
        .find(|p| p.key == ticket.process)
        .cloned()
        .or_else(|| builtin.get(&ticket.process).map(|p| (**p).clone()))
        .unwrap_or(fitted);
    let events: Vec<(EventSnapshot, TicketSnapshot)> = match &fixture.event {
        Some(event) => vec![(event.clone(), ticket.clone())],
        None => steward_domain::event::EventData::KINDS.iter().filter_map(|kind| samples::event(kind, &ticket, &process)).collect(),
    };
    let partner = fixture.partner.clone().unwrap_or_else(samples::partner);
    let kpi_input = fixture.kpi_input.clone().unwrap_or_else(samples::kpi);
    let names = |given: &Option<String>, declared: Vec<String>| match given {
        Some(name) => vec![name.clone()],
        None if declared.is_empty() => vec![String::new()],
        None => declared,
    };

    let mut runs = Vec::new();
    let mut run = |hook: Hook, input: String, call: &dyn Fn() -> Result<(String, Usage), super::PluginError>| {
        let started = Instant::now();
        let (outcome, usage) = match call() {
            Ok((value, usage)) => (Ok(value), usage),
            Err(e) => (Err(e.to_string()), Usage { elapsed: started.elapsed(), ..Usage::default() }),
        };
        runs.push(HookRun { hook, input, outcome, usage });
    };
    for hook in &manifest.hooks {
        match hook {
            Hook::GuardTransition => {
                for (from, to) in moves(&process, &ticket, fixture) {
                    let at = TicketSnapshot { stage: from.clone(), ..ticket.clone() };
                    run(*hook, format!("{} in `{}`: {from} → {to}", at.number, at.process), &|| {
                        plugin.guard_transition(&at, &from, &to).map(|c| (format!("{:?}", c.value), c.usage))
                    });
                }
            }
            Hook::OnEvent => {
                for (event, ticket) in &events {
                    run(*hook, format!("{} event on {} (`{}` stage {})", event.kind, ticket.number, ticket.process, ticket.stage), &|| {
                        plugin.on_event(event, ticket).map(|c| (format!("{:?}", c.value), c.usage))
                    });
                }
            }
            Hook::ScorePartner => {
                for name in names(&fixture.scorecard, manifest.scorecards.iter().map(|c| c.name.clone()).collect()) {
                    run(*hook, format!("scorecard `{name}` for {}", partner.partner_name), &|| {
                        plugin.score_partner(&name, &partner).map(|c| (format!("{:?}", c.value), c.usage))
                    });
                }
            }
            Hook::ComputeKpi => {
                for name in names(&fixture.kpi, manifest.kpis.iter().map(|k| k.name.clone()).collect()) {
                    run(*hook, format!("KPI `{name}`"), &|| {
                        plugin.compute_kpi(&name, &kpi_input).map(|c| (format!("{:?}", c.value), c.usage))
                    });
                }
            }
        }
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

    /// The runs of `hook` whose input mentions `what`.
    fn runs_of<'r>(runs: &'r [HookRun], hook: Hook, what: &str) -> Vec<&'r HookRun> {
        runs.iter().filter(|r| r.hook == hook && r.input.contains(what)).collect()
    }

    #[test]
    fn a_new_rhai_plugin_checks_and_runs_its_hooks() {
        let root = tempfile::tempdir().unwrap();
        let dir = new_plugin(root.path(), "hotline", Runtime::Rhai, &default_sdk_dir()).unwrap();
        let report = check(&dir, &config()).unwrap();
        assert!(report.lines[0].starts_with("hotline 0.1.0 (rhai)"), "{:?}", report.lines);
        let runs = test(&dir, &Fixture::default(), &config()).unwrap();
        assert!(runs.iter().all(|r| r.outcome.is_ok()), "{runs:?}");
        // Without a contributed process the ticket is in the built-in general process, and the
        // guard is asked about every stage it can be moved to: the template guards `closed`.
        let guards = runs_of(&runs, Hook::GuardTransition, "");
        let targets: Vec<&str> = guards.iter().map(|r| r.input.rsplit(' ').next().unwrap()).collect();
        assert_eq!(targets, ["needs_analysis", "closed", "cancelled", "solution_design", "delivery", "after_sales"]);
        assert!(guards.iter().all(|r| r.input.contains("in `general`")), "{guards:?}");
        let closing = runs_of(&runs, Hook::GuardTransition, "→ closed");
        assert!(closing[0].outcome.as_ref().unwrap().contains("resolution note"), "{closing:?}");
        assert!(closing[0].usage.fuel > 0);
        // Every event kind is offered, and the template's own `created` rule fires.
        let events = runs_of(&runs, Hook::OnEvent, "");
        assert_eq!(events.len(), steward_domain::event::EventData::KINDS.len() - 1, "all but plugin_failed");
        let created = runs_of(&runs, Hook::OnEvent, "created event");
        assert!(created[0].outcome.as_ref().unwrap().contains("hotline"), "{created:?}");
        let fixture = Fixture { to: Some("verification".into()), ..Fixture::default() };
        let runs = test(&dir, &fixture, &config()).unwrap();
        let guards = runs_of(&runs, Hook::GuardTransition, "");
        assert_eq!(guards.len(), 1);
        assert_eq!(guards[0].outcome, Ok(format!("{:?}", Verdict::Allow)));
        assert!(render_runs(&runs).contains("fuel"));
        assert!(matches!(new_plugin(root.path(), "hotline", Runtime::Rhai, &default_sdk_dir()), Err(CliError::Invalid(_))));
        assert!(matches!(new_plugin(root.path(), "Bad Name", Runtime::Rhai, &default_sdk_dir()), Err(CliError::Invalid(_))));
    }

    #[test]
    fn a_new_wasm_plugin_builds_checks_and_runs() {
        let root = tempfile::tempdir().unwrap();
        let dir = new_plugin(root.path(), "closing-rules", Runtime::Wasm, &default_sdk_dir()).unwrap();
        let e = check(&dir, &config()).unwrap_err().to_string();
        assert!(e.contains("closing_rules.wasm is not built yet: run `steward plugin build"), "{e}");
        // Share the repository guests' target directory so the SDK is not compiled again.
        let target = guest_build::repository_guest_workspace().join("target");
        let entry = build(&dir, Some(&target)).unwrap();
        assert_eq!(entry, dir.join("closing_rules.wasm"), "the component is beside the manifest");
        let runs = test(&dir, &Fixture::default(), &config()).unwrap();
        let created = runs_of(&runs, Hook::OnEvent, "created event");
        assert!(created[0].outcome.as_ref().unwrap().contains("hotline"), "the template's own rule runs: {created:?}");
        let fixture = Fixture { to: Some("closed".into()), ..Fixture::default() };
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
        // Its own process and stages: the guard refuses verification without a parts log, and
        // the urgent ticket moved on site is tagged.
        let verification = runs_of(&runs, Hook::GuardTransition, "→ verification");
        assert!(verification[0].input.contains("in `field_service`: on_site → verification"), "{verification:?}");
        assert!(verification[0].outcome.as_ref().unwrap().contains("parts_log"), "{verification:?}");
        let moved = runs_of(&runs, Hook::OnEvent, "stage_changed event");
        assert!(moved[0].outcome.as_ref().unwrap().contains("urgent-onsite"), "{moved:?}");
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
