//! The registry of plugin directories: loading them (a plugin that cannot be loaded is listed
//! as failed, never dropped), reloading one by swapping in its new version, finding the
//! plugins a hook goes to, and describing them to the API and the CLI.

use super::{HostError, Loaded, PluginHost, PluginState, Slot, Slots};
use crate::manifest::MANIFEST_FILE;
use crate::{load_plugin, Hook, KpiDecl, LoadError, Manifest, Runtime, ScorecardDecl};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use steward_domain::process::Process;

/// What the API and the CLI show about a plugin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginStatus {
    pub name: String,
    pub version: Option<String>,
    pub runtime: Option<Runtime>,
    pub dir: PathBuf,
    pub hooks: Vec<Hook>,
    /// Keys of the service processes it contributes.
    pub processes: Vec<String>,
    pub kpis: Vec<KpiDecl>,
    pub scorecards: Vec<ScorecardDecl>,
    #[serde(flatten)]
    pub state: PluginState,
    pub calls: u64,
    pub failures: u64,
    pub fuel_consumed: u64,
    pub mean_duration_us: f64,
    pub last_error: Option<String>,
}

impl PluginHost {
    /// Loads every plugin directory under the configured `dir` (a missing `dir` means no
    /// plugins). A plugin that fails to load is kept in the list as failed, with its error,
    /// and returned here for logging; the others load regardless.
    pub fn load_all(&self) -> Vec<LoadError> {
        let mut errors = Vec::new();
        for root in &self.config.dirs {
            let Ok(entries) = std::fs::read_dir(root) else {
                continue;
            };
            let mut dirs: Vec<PathBuf> =
                entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.join(MANIFEST_FILE).is_file()).collect();
            dirs.sort();
            for dir in dirs {
                // Not built yet is a state, not a load error: it is logged as a warning.
                if let Err(error) = self.load_dir(&dir) {
                    if !matches!(self.dir_state(&dir), Some(PluginState::NotBuilt { .. })) {
                        errors.push(error);
                    }
                }
            }
        }
        errors
    }

    /// Loads (or replaces) the plugin in `dir` and returns its name.
    pub fn load_dir(&self, dir: &Path) -> Result<String, LoadError> {
        if let Some((name, reason)) = not_built(dir) {
            tracing::warn!(plugin = %name, dir = %dir.display(), "plugin {reason}");
            let error = LoadError::Entry { file: dir.join(MANIFEST_FILE).display().to_string(), message: reason.clone() };
            self.insert_unloaded(dir, Some(&name), PluginState::NotBuilt { reason });
            return Err(error);
        }
        match self.build(dir) {
            Ok(loaded) => {
                let name = loaded.manifest.name.clone();
                let mut slots = self.write_slots();
                if let Some(existing) = slots.get(&name) {
                    if existing.dir != dir {
                        // The first directory keeps the name; the second is refused, untouched.
                        let error = LoadError::Entry {
                            file: dir.join(MANIFEST_FILE).display().to_string(),
                            message: format!(
                                "plugin name `{name}` is already used by {}; this directory ({}) is not loaded (rename one of them)",
                                existing.dir.display(),
                                dir.display()
                            ),
                        };
                        tracing::error!(plugin = %name, first = %existing.dir.display(), second = %dir.display(), "two plugins named `{name}`: the second is not loaded");
                        return Err(error);
                    }
                }
                // A failed load of the same directory was kept under the directory's name.
                let dir_key = dir_key(dir);
                if dir_key != name && slots.get(&dir_key).is_some_and(|s| s.dir == dir) {
                    slots.remove(&dir_key);
                }
                let slot = slots.entry(name.clone()).or_insert_with(|| Arc::new(Slot::new(dir)));
                // The swap: calls in flight hold the old version's `Arc` and finish on it.
                slot.install(Some(Arc::new(loaded)));
                if matches!(slot.state(), PluginState::Failed { .. }) {
                    slot.set_state(PluginState::Enabled);
                }
                self.metrics.set_disabled(&name, slot.state() != PluginState::Enabled);
                tracing::info!(plugin = %name, dir = %dir.display(), "plugin loaded");
                Ok(name)
            }
            Err(error) => {
                tracing::error!(dir = %dir.display(), %error, "plugin not loaded: it cannot be loaded");
                self.insert_unloaded(dir, None, PluginState::Failed { error: error.to_string() });
                Err(error)
            }
        }
    }

    /// Re-reads a plugin's directory and swaps the new version in; calls already running
    /// finish on the old one. A reload that fails keeps the version that was running (its
    /// `last_error` says why). A name not loaded yet is looked for in the plugin directories
    /// (by manifest name, or directory name), so a plugin copied in loads without a restart.
    pub fn reload(&self, name: &str) -> Result<PluginStatus, HostError> {
        let dir = match self.slot(name) {
            Ok(slot) => slot.dir.clone(),
            Err(unknown) => self.find_dir(name).ok_or(unknown)?,
        };
        let new_name = self.load_dir(&dir)?;
        self.status(&new_name)
    }

    /// The plugin directory, under the configured dirs, of the plugin named `name`.
    fn find_dir(&self, name: &str) -> Option<PathBuf> {
        let dirs = self.config.dirs.iter().filter_map(|root| std::fs::read_dir(root).ok()).flat_map(|entries| {
            entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.join(MANIFEST_FILE).is_file()).collect::<Vec<_>>()
        });
        dirs.into_iter().find(|dir| Manifest::load(dir).map(|m| m.name == name).unwrap_or_else(|_| dir_key(dir) == name))
    }

    fn dir_state(&self, dir: &Path) -> Option<PluginState> {
        self.read_slots().values().find(|s| s.dir == dir).map(|s| s.state())
    }

    fn build(&self, dir: &Path) -> Result<Loaded, LoadError> {
        let manifest = Manifest::load(dir)?;
        let limits = self.config.limits_for(&manifest.limits);
        let plugin = load_plugin(&manifest, limits, &self.wasm)?;
        Ok(Loaded { manifest, plugin })
    }

    /// Records a directory that did not load. A version already running from it keeps running
    /// (a failed reload does not take it down); only its `last_error` records the failure.
    fn insert_unloaded(&self, dir: &Path, name: Option<&str>, state: PluginState) {
        let mut slots = self.write_slots();
        let key = slots
            .iter()
            .find(|(_, s)| s.dir == dir)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| name.map(str::to_owned).unwrap_or_else(|| dir_key(dir)));
        if slots.get(&key).is_some_and(|s| s.dir != dir) {
            // Another directory holds that name: it stays as it is.
            return;
        }
        let slot = slots.entry(key.clone()).or_insert_with(|| Arc::new(Slot::new(dir)));
        if slot.loaded().is_some() {
            let why = match &state {
                PluginState::Failed { error } => error.clone(),
                PluginState::NotBuilt { reason } => reason.clone(),
                _ => String::new(),
            };
            *slot.stats.last_error.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(format!("reload failed, still running the previous version: {why}"));
            return;
        }
        let disabled = matches!(state, PluginState::Failed { .. });
        slot.install(None);
        slot.set_state(state);
        self.metrics.set_disabled(&key, disabled);
    }

    fn read_slots(&self) -> std::sync::RwLockReadGuard<'_, Slots> {
        self.slots.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_slots(&self) -> std::sync::RwLockWriteGuard<'_, Slots> {
        self.slots.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn slot(&self, name: &str) -> Result<Arc<Slot>, HostError> {
        self.read_slots().get(name).cloned().ok_or_else(|| HostError::UnknownPlugin { name: name.to_owned() })
    }

    /// Enabled plugins that implement `hook`, in name order, each with the version to call.
    pub(super) fn callable(&self, hook: Hook) -> Vec<(String, Arc<Slot>, Arc<Loaded>)> {
        self.read_slots()
            .iter()
            .filter(|(_, slot)| slot.state() == PluginState::Enabled)
            .filter_map(|(name, slot)| slot.loaded().filter(|l| l.manifest.implements(hook)).map(|l| (name.clone(), slot.clone(), l)))
            .collect()
    }

    /// The first loaded plugin, in name order and whatever its state, whose version matches.
    pub(super) fn find_loaded(&self, matches: impl Fn(&Loaded) -> bool) -> Option<(String, Arc<Slot>, Arc<Loaded>)> {
        self.read_slots().iter().find_map(|(name, slot)| slot.loaded().filter(|l| matches(l)).map(|l| (name.clone(), slot.clone(), l)))
    }

    pub fn status(&self, name: &str) -> Result<PluginStatus, HostError> {
        let slot = self.slot(name)?;
        Ok(describe(name, &slot))
    }

    /// Every plugin, loaded or not, in name order.
    pub fn list(&self) -> Vec<PluginStatus> {
        self.read_slots().iter().map(|(name, slot)| describe(name, slot)).collect()
    }

    /// Service processes contributed by loaded plugins (whatever their state: tickets already
    /// in a process must keep working while its plugin is disabled).
    pub fn processes(&self) -> Vec<Process> {
        self.read_slots().values().filter_map(|s| s.loaded()).flat_map(|l| l.manifest.processes.clone()).collect()
    }

    /// KPIs declared by loaded plugins, with the plugin's name.
    pub fn kpis(&self) -> Vec<(String, KpiDecl)> {
        self.read_slots()
            .iter()
            .filter_map(|(n, s)| s.loaded().map(|l| (n.clone(), l)))
            .flat_map(|(n, l)| l.manifest.kpis.iter().map(move |k| (n.clone(), k.clone())).collect::<Vec<_>>())
            .collect()
    }

    /// Scorecards declared by loaded plugins, with the plugin's name.
    pub fn scorecards(&self) -> Vec<(String, ScorecardDecl)> {
        self.read_slots()
            .iter()
            .filter_map(|(n, s)| s.loaded().map(|l| (n.clone(), l)))
            .flat_map(|(n, l)| l.manifest.scorecards.iter().map(move |c| (n.clone(), c.clone())).collect::<Vec<_>>())
            .collect()
    }
}

fn describe(name: &str, slot: &Slot) -> PluginStatus {
    let loaded = slot.loaded();
    let m = loaded.as_ref().map(|l| &l.manifest);
    PluginStatus {
        name: name.to_owned(),
        version: m.map(|m| m.version.to_string()),
        runtime: m.map(|m| m.runtime),
        dir: slot.dir.clone(),
        hooks: m.map(|m| m.hooks.clone()).unwrap_or_default(),
        processes: m.map(|m| m.processes.iter().map(|p| p.key.clone()).collect()).unwrap_or_default(),
        kpis: m.map(|m| m.kpis.clone()).unwrap_or_default(),
        scorecards: m.map(|m| m.scorecards.clone()).unwrap_or_default(),
        state: slot.state(),
        calls: slot.stats.calls.load(Ordering::Relaxed),
        failures: slot.stats.failures.load(Ordering::Relaxed),
        fuel_consumed: slot.stats.fuel.load(Ordering::Relaxed),
        mean_duration_us: slot.stats.mean_duration_us(),
        last_error: slot.stats.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
    }
}

/// A WASM plugin whose manifest is fine but whose component is missing: its name, and what to
/// run to build it.
fn not_built(dir: &Path) -> Option<(String, String)> {
    let manifest = Manifest::load(dir).ok()?;
    if manifest.runtime != Runtime::Wasm || manifest.entry.exists() {
        return None;
    }
    let how = match dir.join("Cargo.toml").is_file() {
        true => format!(
            "run `steward plugin build-bundled` from the repository root for the bundled plugins, or `steward plugin build {}` (it puts the component at {})",
            dir.display(),
            manifest.entry.display()
        ),
        false => format!("put the built component at {}", manifest.entry.display()),
    };
    Some((manifest.name, format!("not built, {how}")))
}

/// The key a plugin that failed before its name was known is listed under.
fn dir_key(dir: &Path) -> String {
    dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{bundled_host, host_with, render, rhai_plugin};
    use super::*;
    use crate::types::samples;
    use crate::{PluginsConfig, Verdict};

    #[test]
    fn bundled_plugins_load_with_their_contributions() {
        let (host, _) = bundled_host();
        let list = host.list();
        let names: Vec<_> = list.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["ecommerce-returns", "field-service", "first-contact-kpi", "partner-scorecard"]);
        assert!(list.iter().all(|s| s.state == PluginState::Enabled), "{list:?}");
        let mut processes: Vec<_> = host.processes().into_iter().map(|p| p.key).collect();
        processes.sort();
        assert_eq!(processes, ["ecommerce", "field_service"]);
        let field_service = host.processes().into_iter().find(|p| p.key == "field_service").unwrap();
        let stages: Vec<_> = field_service.stages.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(stages, ["dispatch", "on_site", "parts", "verification", "closed", "cancelled"]);
        let kpis: Vec<_> = host.kpis().into_iter().map(|(p, k)| format!("{p}/{}", k.name)).collect();
        assert_eq!(kpis, ["first-contact-kpi/first_contact_resolution", "first-contact-kpi/reopen_rate"]);
        assert_eq!(host.scorecards()[0].1.name, "partner_quality");
    }

    #[test]
    fn a_bad_manifest_disables_only_that_plugin() {
        let root = tempfile::tempdir().unwrap();
        for (name, manifest, script) in [
            ("good", "name = \"good\"\nversion = \"1.0.0\"\ncontract = \"steward:plugin@1\"\nruntime = \"rhai\"\nentry = \"main.rhai\"\nhooks = [\"guard-transition\"]\n", "fn guard_transition(t, f, to) { }"),
            ("broken", "name = \"broken\"\nversion = \"1.0.0\"\ncontract = \"steward:plugin@9\"\nruntime = \"rhai\"\nentry = \"main.rhai\"\nhooks = [\"guard-transition\"]\n", ""),
        ] {
            std::fs::create_dir(root.path().join(name)).unwrap();
            std::fs::write(root.path().join(name).join("plugin.toml"), manifest).unwrap();
            std::fs::write(root.path().join(name).join("main.rhai"), script).unwrap();
        }
        let (host, registry) = host_with(PluginsConfig { dirs: vec![root.path().to_owned()], ..PluginsConfig::default() });
        let errors = host.load_all();
        assert_eq!(errors.len(), 1);
        let text = errors[0].to_string();
        assert!(text.contains("broken/plugin.toml:3: contract:") && text.contains("steward:plugin@9"), "{text}");
        let broken = host.status("broken").unwrap();
        assert!(matches!(&broken.state, PluginState::Failed { error } if error.contains("contract")), "{broken:?}");
        assert_eq!(host.status("good").unwrap().state, PluginState::Enabled);
        assert!(render(&registry).contains("steward_plugin_disabled{plugin=\"broken\"} 1"));
        assert_eq!(host.guard_transition(&samples::ticket(), "a", "b"), Ok(()));
        assert!(matches!(host.enable("broken"), Err(HostError::NotEnabled { .. })));
    }

    #[test]
    fn reload_swaps_versions_while_calls_in_flight_keep_the_old_one() {
        let (_root, dir) = rhai_plugin("versioned", "fn guard_transition(t, f, to) { \"v1\" }", "");
        let (host, _) = host_with(PluginsConfig::default());
        host.load_dir(&dir).unwrap();
        // What a call in flight holds: the version it started with.
        let in_flight = host.callable(Hook::GuardTransition).pop().unwrap().2;
        std::fs::write(dir.join("main.rhai"), "fn guard_transition(t, f, to) { \"v2\" }").unwrap();
        std::fs::write(dir.join("plugin.toml"), std::fs::read_to_string(dir.join("plugin.toml")).unwrap().replace("1.0.0", "1.1.0"))
            .unwrap();
        let status = host.reload("versioned").unwrap();
        assert_eq!(status.version.as_deref(), Some("1.1.0"));
        assert_eq!(in_flight.plugin.guard_transition(&samples::ticket(), "a", "b").unwrap().value, Verdict::Reject("v1".into()));
        assert_eq!(host.guard_transition(&samples::ticket(), "a", "b").unwrap_err().reason, "v2");

        // A reload that fails keeps the version that was running, and says why.
        std::fs::write(dir.join("main.rhai"), "fn guard_transition(t, f, to) {").unwrap();
        assert!(matches!(host.reload("versioned"), Err(HostError::Load(_))));
        let status = host.status("versioned").unwrap();
        assert_eq!((status.state, status.version.as_deref()), (PluginState::Enabled, Some("1.1.0")));
        assert!(status.last_error.unwrap().contains("still running the previous version"));
        assert_eq!(host.guard_transition(&samples::ticket(), "a", "b").unwrap_err().reason, "v2");
        std::fs::write(dir.join("main.rhai"), "fn guard_transition(t, f, to) { }").unwrap();
        assert_eq!(host.reload("versioned").unwrap().state, PluginState::Enabled);
        assert_eq!(host.guard_transition(&samples::ticket(), "a", "b"), Ok(()));
    }

    fn write_plugin(dir: &Path, name: &str, runtime: &str, entry: &str, script: &str) {
        std::fs::create_dir_all(dir).unwrap();
        let manifest = format!(
            "name = \"{name}\"\nversion = \"1.0.0\"\ncontract = \"steward:plugin@1\"\nruntime = \"{runtime}\"\nentry = \"{entry}\"\nhooks = [\"guard-transition\"]\n"
        );
        std::fs::write(dir.join("plugin.toml"), manifest).unwrap();
        if !script.is_empty() {
            std::fs::write(dir.join(entry), script).unwrap();
        }
    }

    #[test]
    fn a_second_plugin_with_the_same_name_is_refused_naming_both_and_the_first_runs() {
        let (bundled, operator) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write_plugin(
            &bundled.path().join("closing-rules"),
            "closing-rules",
            "rhai",
            "main.rhai",
            "fn guard_transition(t, f, to) { \"first\" }",
        );
        write_plugin(
            &operator.path().join("closing-rules"),
            "closing-rules",
            "rhai",
            "main.rhai",
            "fn guard_transition(t, f, to) { \"second\" }",
        );
        let dirs = vec![bundled.path().to_owned(), operator.path().to_owned()];
        let (host, registry) = host_with(PluginsConfig { dirs, ..PluginsConfig::default() });
        let errors = host.load_all();
        assert_eq!(errors.len(), 1, "{errors:?}");
        let text = errors[0].to_string();
        assert!(text.contains(&bundled.path().join("closing-rules").display().to_string()), "{text}");
        assert!(text.contains(&operator.path().join("closing-rules").display().to_string()), "{text}");
        let list = host.list();
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!((&list[0].state, &list[0].dir), (&PluginState::Enabled, &bundled.path().join("closing-rules")));
        assert_eq!(host.guard_transition(&samples::ticket(), "a", "b").unwrap_err().reason, "first");
        assert!(render(&registry).contains("steward_plugin_disabled{plugin=\"closing-rules\"} 0"));
    }

    #[test]
    fn a_plugin_copied_in_later_loads_through_reload_without_a_restart() {
        let root = tempfile::tempdir().unwrap();
        let (host, _) = host_with(PluginsConfig { dirs: vec![root.path().to_owned()], ..PluginsConfig::default() });
        assert!(host.load_all().is_empty());
        assert!(matches!(host.reload("late"), Err(HostError::UnknownPlugin { .. })));
        write_plugin(&root.path().join("late-dir"), "late", "rhai", "main.rhai", "fn guard_transition(t, f, to) { \"late\" }");
        assert_eq!(host.reload("late").unwrap().state, PluginState::Enabled);
        assert_eq!(host.guard_transition(&samples::ticket(), "a", "b").unwrap_err().reason, "late");
    }

    #[test]
    fn a_wasm_plugin_not_built_is_not_built_not_disabled() {
        let root = tempfile::tempdir().unwrap();
        write_plugin(&root.path().join("unbuilt"), "unbuilt", "wasm", "unbuilt.wasm", "");
        std::fs::write(root.path().join("unbuilt").join("Cargo.toml"), "[package]\nname = \"unbuilt\"\n").unwrap();
        let (host, registry) = host_with(PluginsConfig { dirs: vec![root.path().to_owned()], ..PluginsConfig::default() });
        assert!(host.load_all().is_empty(), "not built is not a load error");
        let status = host.status("unbuilt").unwrap();
        assert!(
            matches!(&status.state, PluginState::NotBuilt { reason } if reason.starts_with("not built, run `steward plugin build-bundled`")),
            "{status:?}"
        );
        assert!(render(&registry).contains("steward_plugin_disabled{plugin=\"unbuilt\"} 0"), "{}", render(&registry));
    }
}
