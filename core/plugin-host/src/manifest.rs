//! `plugin.toml`: what a plugin is, which hooks it implements, what it contributes and which
//! limits it asks for. Errors name the file, the line when known, and the field.

use super::limits::MAX_NAME_CHARS;
use super::{Hook, CONTRACT_MAJOR, CONTRACT_VERSION};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use steward_domain::process::Process;
use toml::Spanned;

pub const MANIFEST_FILE: &str = "plugin.toml";

/// Which engine runs a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Wasm,
    Rhai,
}

impl Runtime {
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Wasm => "wasm",
            Runtime::Rhai => "rhai",
        }
    }
}

/// What a failed call means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailurePolicy {
    /// Log, count, and carry on as if the plugin were not there.
    FailOpen,
    /// Treat the failure as a refusal (guards) or an error (other hooks).
    FailClosed,
}

impl FailurePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            FailurePolicy::FailOpen => "fail-open",
            FailurePolicy::FailClosed => "fail-closed",
        }
    }

    pub fn default_for(hook: Hook) -> Self {
        match hook {
            Hook::GuardTransition => FailurePolicy::FailClosed,
            _ => FailurePolicy::FailOpen,
        }
    }
}

/// Limits a plugin asks for; each is capped by the operator's configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestedLimits {
    pub fuel: Option<u64>,
    pub memory_mb: Option<u32>,
    pub wall_time_ms: Option<u64>,
}

/// A KPI the plugin computes through `compute-kpi`.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct KpiDecl {
    pub name: String,
    pub help: String,
    /// e.g. `ratio`, `percent`, `seconds`, `count`.
    pub unit: String,
    pub target: Option<f64>,
    /// Whether a `higher` (default) or `lower` value is better, for the status against the target.
    #[serde(default)]
    pub better: Option<String>,
}

/// A partner scorecard the plugin computes through `score-partner`.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScorecardDecl {
    pub name: String,
    pub help: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContributions {
    #[serde(default)]
    processes: Vec<Spanned<String>>,
    #[serde(default)]
    kpis: Vec<KpiDecl>,
    #[serde(default)]
    scorecards: Vec<ScorecardDecl>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: Spanned<String>,
    version: Spanned<String>,
    description: Option<String>,
    contract: Spanned<String>,
    runtime: Runtime,
    entry: Spanned<String>,
    #[serde(default)]
    hooks: Vec<Hook>,
    #[serde(default)]
    contributes: RawContributions,
    #[serde(default)]
    limits: RequestedLimits,
    #[serde(default)]
    failure: BTreeMap<Hook, FailurePolicy>,
}

/// A parsed and checked manifest, with its contributed processes loaded.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub name: String,
    pub version: semver::Version,
    pub description: Option<String>,
    /// The contract version the plugin was built for (major is always [`CONTRACT_MAJOR`]).
    pub contract: semver::Version,
    pub runtime: Runtime,
    /// The entry file (a `.wasm` component or a `.rhai` script), resolved against `dir`.
    pub entry: PathBuf,
    pub hooks: Vec<Hook>,
    pub processes: Vec<Process>,
    pub kpis: Vec<KpiDecl>,
    pub scorecards: Vec<ScorecardDecl>,
    pub limits: RequestedLimits,
    failure: BTreeMap<Hook, FailurePolicy>,
    /// The plugin's directory.
    pub dir: PathBuf,
}

impl Manifest {
    pub fn implements(&self, hook: Hook) -> bool {
        self.hooks.contains(&hook)
    }

    pub fn failure_policy(&self, hook: Hook) -> FailurePolicy {
        self.failure.get(&hook).copied().unwrap_or(FailurePolicy::default_for(hook))
    }

    /// Reads `dir/plugin.toml` and the process files it names.
    pub fn load(dir: &Path) -> Result<Manifest, ManifestError> {
        let file = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&file).map_err(|e| ManifestError::new(&file, None, "(file)", e.to_string()))?;
        Manifest::parse(dir, &file, &text)
    }

    /// Parses manifest `text` read from `file`; relative paths resolve against `dir`.
    pub fn parse(dir: &Path, file: &Path, text: &str) -> Result<Manifest, ManifestError> {
        let line_of = |offset: usize| Some(text[..offset.min(text.len())].matches('\n').count() + 1);
        let err = |span: Option<std::ops::Range<usize>>, field: &str, message: String| {
            ManifestError::new(file, span.and_then(|s| line_of(s.start)), field, message)
        };
        let raw: RawManifest = match serde_path_to_error::deserialize(toml::Deserializer::new(text)) {
            Ok(raw) => raw,
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let message = inner.message();
                // serde reports a missing key at the parent's path; name the key itself.
                let missing = message.strip_prefix("missing field `").and_then(|m| m.split('`').next());
                let field = match (path.as_str(), missing) {
                    ("." | "", Some(key)) => key.to_owned(),
                    (_, Some(key)) => format!("{path}.{key}"),
                    ("." | "", None) => "(syntax)".to_owned(),
                    _ => path,
                };
                // A missing key has no line of its own (serde points at the whole table).
                let span = if missing.is_some() { None } else { inner.span() };
                return Err(err(span, &field, message.to_owned()));
            }
        };

        let name = raw.name.get_ref();
        if !is_plugin_name(name) {
            return Err(err(
                Some(raw.name.span()),
                "name",
                format!(
                    "`{name}` must be lower-case letters, digits and - or _, starting with a letter, at most {MAX_NAME_CHARS} characters"
                ),
            ));
        }
        let version = semver::Version::parse(raw.version.get_ref()).map_err(|e| {
            err(Some(raw.version.span()), "version", format!("`{}` is not a semantic version such as 1.2.0: {e}", raw.version.get_ref()))
        })?;
        let contract = parse_contract(raw.contract.get_ref()).map_err(|m| err(Some(raw.contract.span()), "contract", m))?;
        let entry = raw.entry.get_ref();
        let expected_ext = match raw.runtime {
            Runtime::Wasm => "wasm",
            Runtime::Rhai => "rhai",
        };
        if Path::new(entry).extension().is_none_or(|x| x != expected_ext) {
            return Err(err(
                Some(raw.entry.span()),
                "entry",
                format!("a {} plugin's entry is a .{expected_ext} file, not `{entry}`", raw.runtime.as_str()),
            ));
        }
        if raw.hooks.is_empty() {
            return Err(err(None, "hooks", "a plugin implements at least one hook".into()));
        }
        let mut hooks = raw.hooks.clone();
        hooks.sort();
        hooks.dedup();
        for hook in raw.failure.keys() {
            if !hooks.contains(hook) {
                return Err(err(None, &format!("failure.{hook}"), format!("sets a failure policy for `{hook}`, which is not in `hooks`")));
            }
        }
        if let Some(fuel) = raw.limits.fuel {
            if fuel == 0 {
                return Err(err(None, "limits.fuel", "must be more than 0".into()));
            }
        }
        if raw.limits.memory_mb == Some(0) {
            return Err(err(None, "limits.memory_mb", "must be more than 0".into()));
        }
        if raw.limits.wall_time_ms == Some(0) {
            return Err(err(None, "limits.wall_time_ms", "must be more than 0".into()));
        }
        for (i, kpi) in raw.contributes.kpis.iter().enumerate() {
            if !hooks.contains(&Hook::ComputeKpi) {
                return Err(err(None, &format!("contributes.kpis[{i}]"), "declaring a KPI needs the `compute-kpi` hook".into()));
            }
            if !is_snake_key(&kpi.name) {
                return Err(err(None, &format!("contributes.kpis[{i}].name"), format!("`{}` must be lower_snake_case", kpi.name)));
            }
            if kpi.target.is_some_and(|t| !t.is_finite()) {
                return Err(err(None, &format!("contributes.kpis[{i}].target"), "must be a finite number".into()));
            }
            if kpi.better.as_deref().is_some_and(|b| b != "higher" && b != "lower") {
                return Err(err(None, &format!("contributes.kpis[{i}].better"), "must be `higher` or `lower`".into()));
            }
        }
        for (i, card) in raw.contributes.scorecards.iter().enumerate() {
            if !hooks.contains(&Hook::ScorePartner) {
                return Err(err(
                    None,
                    &format!("contributes.scorecards[{i}]"),
                    "declaring a scorecard needs the `score-partner` hook".into(),
                ));
            }
            if !is_snake_key(&card.name) {
                return Err(err(None, &format!("contributes.scorecards[{i}].name"), format!("`{}` must be lower_snake_case", card.name)));
            }
        }
        let mut processes = Vec::new();
        for (i, path) in raw.contributes.processes.iter().enumerate() {
            let field = format!("contributes.processes[{i}]");
            let process_file = dir.join(path.get_ref());
            let text = std::fs::read_to_string(&process_file)
                .map_err(|e| err(Some(path.span()), &field, format!("cannot read `{}`: {e}", process_file.display())))?;
            let process = Process::from_toml(&process_file.display().to_string(), &text).map_err(|e| ManifestError {
                file: PathBuf::from(&e.file),
                line: e.line,
                field: e.field.clone(),
                message: e.message.clone(),
            })?;
            processes.push(process);
        }

        Ok(Manifest {
            name: raw.name.into_inner(),
            version,
            description: raw.description,
            contract,
            runtime: raw.runtime,
            entry: dir.join(raw.entry.get_ref()),
            hooks,
            processes,
            kpis: raw.contributes.kpis,
            scorecards: raw.contributes.scorecards,
            limits: raw.limits,
            failure: raw.failure,
            dir: dir.to_owned(),
        })
    }
}

/// Accepts `steward:plugin@1`, `@1.2` or `@1.2.3`; refuses other packages and other majors.
fn parse_contract(text: &str) -> Result<semver::Version, String> {
    let Some(version) = text.strip_prefix("steward:plugin@") else {
        return Err(format!("`{text}` is not a Steward plugin contract; write `steward:plugin@{CONTRACT_MAJOR}`"));
    };
    let mut parts = version.split('.');
    let mut next = || parts.next().map(|p| p.parse::<u64>());
    let parsed = match (next(), next(), next(), next()) {
        (Some(Ok(major)), None, None, None) => Some((major, 0, 0)),
        (Some(Ok(major)), Some(Ok(minor)), None, None) => Some((major, minor, 0)),
        (Some(Ok(major)), Some(Ok(minor)), Some(Ok(patch)), None) => Some((major, minor, patch)),
        _ => None,
    };
    let Some((major, minor, patch)) = parsed else {
        return Err(format!("`{version}` is not a contract version such as 1 or 1.0"));
    };
    if major != CONTRACT_MAJOR {
        return Err(format!(
            "the plugin was built for contract steward:plugin@{major}, but this Steward speaks steward:plugin@{CONTRACT_VERSION} (major version {CONTRACT_MAJOR} only); rebuild the plugin for version {CONTRACT_MAJOR}"
        ));
    }
    Ok(semver::Version::new(major, minor, patch))
}

/// The one naming rule for plugins, checked by the manifest and by `steward plugin new`.
pub const PLUGIN_NAME_RULE: &str =
    "a plugin name is lower-case letters, digits, `-` and `_`, starting with a letter, at most 64 characters";

pub fn is_plugin_name(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= MAX_NAME_CHARS
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn is_snake_key(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= MAX_NAME_CHARS
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A manifest (or a file it names) that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ManifestError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub field: String,
    pub message: String,
}

impl ManifestError {
    fn new(file: &Path, line: Option<usize>, field: &str, message: String) -> Self {
        ManifestError { file: file.to_owned(), line, field: field.to_owned(), message }
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}: {}", self.file.display(), self.field, self.message),
            None => write!(f, "{}: {}: {}", self.file.display(), self.field, self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "field-service"
version = "1.2.0"
description = "Field service industry pack"
contract = "steward:plugin@1"
runtime = "wasm"
entry = "field_service.wasm"
hooks = ["guard-transition", "on-event"]

[limits]
fuel = 1000000
memory_mb = 8

[failure]
on-event = "fail-closed"
"#;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(Path::new("/p/fs"), Path::new("/p/fs/plugin.toml"), text)
    }

    #[test]
    fn a_good_manifest_parses_with_default_failure_policies() {
        let m = parse(GOOD).unwrap();
        assert_eq!(m.name, "field-service");
        assert_eq!(m.version, semver::Version::new(1, 2, 0));
        assert_eq!(m.contract, semver::Version::new(1, 0, 0));
        assert_eq!(m.entry, Path::new("/p/fs/field_service.wasm"));
        assert_eq!(m.hooks, [Hook::OnEvent, Hook::GuardTransition]);
        assert_eq!(m.failure_policy(Hook::GuardTransition), FailurePolicy::FailClosed);
        assert_eq!(m.failure_policy(Hook::OnEvent), FailurePolicy::FailClosed);
        assert_eq!(m.failure_policy(Hook::ComputeKpi), FailurePolicy::FailOpen);
        assert_eq!(m.limits.fuel, Some(1_000_000));
    }

    #[test]
    fn an_unknown_major_contract_is_refused_with_a_clear_message() {
        let e = parse(&GOOD.replace("steward:plugin@1", "steward:plugin@2.0")).unwrap_err();
        assert_eq!(e.field, "contract");
        assert_eq!(e.line, Some(5));
        assert!(e.message.contains("steward:plugin@2") && e.message.contains("major version 1"), "{e}");
        let later_minor = parse(&GOOD.replace("steward:plugin@1", "steward:plugin@1.4")).unwrap();
        assert_eq!(later_minor.contract, semver::Version::new(1, 4, 0));
        let e = parse(&GOOD.replace("steward:plugin@1", "acme:plugin@1")).unwrap_err();
        assert_eq!(e.field, "contract");
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = parse(&GOOD.replace("runtime = \"wasm\"", "runtime = \"lua\"")).unwrap_err();
        assert_eq!((e.field.as_str(), e.line), ("runtime", Some(6)));
        assert!(e.to_string().starts_with("/p/fs/plugin.toml:6: runtime:"), "{e}");
        let e = parse(&GOOD.replace("version = \"1.2.0\"", "version = \"one\"")).unwrap_err();
        assert_eq!((e.field.as_str(), e.line), ("version", Some(3)));
        let e = parse(&GOOD.replace("memory_mb = 8", "memory_mb = 8\ncpu = 2")).unwrap_err();
        assert!(e.field.starts_with("limits"), "{e}");
        assert!(e.message.contains("cpu"), "{e}");
        let e = parse(&GOOD.replace("\"on-event\"]", "\"on-evnt\"]")).unwrap_err();
        assert!(e.field.starts_with("hooks"), "{e}");
        let e = parse(&GOOD.replace("field_service.wasm", "field_service.rhai")).unwrap_err();
        assert_eq!(e.field, "entry");
        let e = parse(&GOOD.replace("entry = \"field_service.wasm\"\n", "")).unwrap_err();
        assert_eq!(e.field, "entry");
        assert!(e.message.contains("missing"), "{e}");
        let e = parse(&GOOD.replace("name = \"field-service\"", "name = \"Field Service\"")).unwrap_err();
        assert_eq!(e.field, "name");
        let e = parse(&GOOD.replace("hooks = [\"guard-transition\", \"on-event\"]", "hooks = [\"guard-transition\"]")).unwrap_err();
        assert_eq!(e.field, "failure.on-event");
    }

    #[test]
    fn contributions_need_their_hook_and_existing_files() {
        let kpi = format!("{GOOD}\n[[contributes.kpis]]\nname = \"fcr\"\nhelp = \"h\"\nunit = \"ratio\"\n");
        let e = parse(&kpi).unwrap_err();
        assert_eq!(e.field, "contributes.kpis[0]");
        let procs = GOOD.replace("[limits]", "[contributes]\nprocesses = [\"missing.toml\"]\n\n[limits]");
        let e = parse(&procs).unwrap_err();
        assert_eq!(e.field, "contributes.processes[0]");
        assert!(e.message.contains("missing.toml"), "{e}");
    }

    #[test]
    fn a_bad_contributed_process_is_reported_in_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.toml"), "key = \"x\"\nname = \"X\"\nversion = 1\nstages = []\n").unwrap();
        let text = GOOD.replace("[limits]", "[contributes]\nprocesses = [\"p.toml\"]\n\n[limits]");
        let e = Manifest::parse(dir.path(), &dir.path().join("plugin.toml"), &text).unwrap_err();
        assert!(e.file.ends_with("p.toml"), "{e}");
        assert_eq!(e.field, "stages");
    }
}
