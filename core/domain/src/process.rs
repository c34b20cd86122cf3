//! Service processes: named, versioned chains of stages, and the stage machine that says which
//! moves are allowed. Definitions are TOML files; loading errors name file, line and field.

use super::{duration::TargetDuration, string_enum};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use toml::Spanned;

string_enum! {
    /// Whether a stage faces the customer (front) or supports those that do (back).
    pub enum Office {
        Front => "front",
        Back => "back",
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub key: String,
    pub name: String,
    pub office: Office,
    /// How long a ticket should spend in this stage (measured by the SLA engine).
    pub target: Option<TargetDuration>,
    /// The calendar the target counts on (a calendar key, `always` for wall-clock time); none:
    /// the matching SLA policy's calendar. Checked against the SLA catalog when processes are
    /// loaded ([`ProcessRegistry::check_calendars`]).
    pub calendar: Option<String>,
    /// The role responsible for the work in this stage.
    pub responsible_role: String,
    pub required_certification: Option<String>,
    pub terminal: bool,
    /// For terminal stages: whether arriving here means the customer's need was met
    /// (`closed`) or not (`cancelled`).
    pub resolves: bool,
    /// The work in this stage gets a quality review: the ticket leaves it (or closes) only
    /// after a passing one.
    pub requires_review: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    pub key: String,
    pub name: String,
    pub version: u32,
    pub description: Option<String>,
    pub stages: Vec<Stage>,
    /// Explicit moves (`from` → targets). Empty: the next stage and any terminal stage.
    pub transitions: BTreeMap<String, Vec<String>>,
    /// Where the definition came from (a file path), for error messages and the API.
    pub source: String,
}

/// A stage move the process does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("stage `{to}` does not exist in process `{process}`")]
    UnknownStage { process: String, to: String, allowed: Vec<String> },
    #[error("the ticket is already in stage `{stage}`")]
    AlreadyThere { stage: String, allowed: Vec<String> },
    #[error("cannot move from `{from}` to `{to}`")]
    NotAllowed { from: String, to: String, allowed: Vec<String> },
    #[error("stage `{stage}` requires a passing quality review before the ticket leaves it")]
    ReviewRequired { stage: String },
}

impl TransitionError {
    pub fn allowed(&self) -> &[String] {
        match self {
            TransitionError::UnknownStage { allowed, .. }
            | TransitionError::AlreadyThere { allowed, .. }
            | TransitionError::NotAllowed { allowed, .. } => allowed,
            TransitionError::ReviewRequired { .. } => &[],
        }
    }
}

impl Process {
    pub fn initial_stage(&self) -> &Stage {
        &self.stages[0]
    }

    pub fn stage(&self, key: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.key == key)
    }

    /// The stages a ticket in `from` may move to, in process order.
    pub fn allowed_targets(&self, from: &str) -> Vec<&Stage> {
        let Some(position) = self.stages.iter().position(|s| s.key == from) else {
            return Vec::new();
        };
        if self.stages[position].terminal {
            return Vec::new();
        }
        if !self.transitions.is_empty() {
            let targets = self.transitions.get(from).map(Vec::as_slice).unwrap_or_default();
            return self.stages.iter().filter(|s| targets.contains(&s.key)).collect();
        }
        self.stages.iter().enumerate().filter(|(i, s)| *i == position + 1 || (s.terminal && *i != position)).map(|(_, s)| s).collect()
    }

    /// Checks a move and returns the target stage.
    pub fn check_transition(&self, from: &str, to: &str) -> Result<&Stage, TransitionError> {
        let allowed = self.allowed_targets(from);
        let allowed_keys = || allowed.iter().map(|s| s.key.clone()).collect::<Vec<_>>();
        let Some(target) = self.stage(to) else {
            return Err(TransitionError::UnknownStage { process: self.key.clone(), to: to.to_owned(), allowed: allowed_keys() });
        };
        if from == to {
            return Err(TransitionError::AlreadyThere { stage: to.to_owned(), allowed: allowed_keys() });
        }
        if allowed.iter().any(|s| s.key == to) {
            Ok(target)
        } else {
            Err(TransitionError::NotAllowed { from: from.to_owned(), to: to.to_owned(), allowed: allowed_keys() })
        }
    }
}

/// A process definition that cannot be used, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {field}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ProcessLoadError {
    pub file: String,
    pub line: Option<usize>,
    pub field: String,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProcess {
    key: Spanned<String>,
    name: String,
    version: u32,
    description: Option<String>,
    stages: Vec<RawStage>,
    #[serde(default)]
    transitions: Vec<RawTransition>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    key: Spanned<String>,
    name: String,
    office: Office,
    target: Option<Spanned<String>>,
    calendar: Option<Spanned<String>>,
    role: Spanned<String>,
    required_certification: Option<String>,
    #[serde(default)]
    terminal: bool,
    resolves: Option<Spanned<bool>>,
    #[serde(default)]
    requires_review: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransition {
    from: Spanned<String>,
    to: Vec<Spanned<String>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Process {
    /// Parses and checks one process definition. `source` names it in errors.
    pub fn from_toml(source: &str, text: &str) -> Result<Process, ProcessLoadError> {
        let err = |span: Option<std::ops::Range<usize>>, field: &str, message: String| ProcessLoadError {
            file: source.to_owned(),
            line: span.map(|s| line_of(text, s.start)),
            field: field.to_owned(),
            message,
        };
        let deserializer = toml::Deserializer::new(text);
        let raw: RawProcess = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            err(inner.span(), if path == "." { "(document)" } else { &path }, inner.message().to_owned())
        })?;

        if !is_valid_key(raw.key.get_ref()) {
            return Err(err(Some(raw.key.span()), "key", "must be lower_snake_case, starting with a letter, at most 64 characters".into()));
        }
        if raw.stages.is_empty() {
            return Err(err(None, "stages", "a process needs at least one stage".into()));
        }
        let mut stages = Vec::with_capacity(raw.stages.len());
        let mut seen = BTreeSet::new();
        for (i, s) in raw.stages.into_iter().enumerate() {
            let field = |name: &str| format!("stages[{i}].{name}");
            let key = s.key.get_ref().clone();
            if !is_valid_key(&key) {
                return Err(err(Some(s.key.span()), &field("key"), format!("`{key}` must be lower_snake_case, starting with a letter")));
            }
            if !seen.insert(key.clone()) {
                return Err(err(Some(s.key.span()), &field("key"), format!("stage `{key}` is defined twice")));
            }
            let target = match &s.target {
                Some(t) => {
                    Some(TargetDuration::parse(&field("target"), t.get_ref()).map_err(|e| err(Some(t.span()), &e.field, e.message))?)
                }
                None => None,
            };
            if let Some(c) = &s.calendar {
                if target.is_none() {
                    return Err(err(
                        Some(c.span()),
                        &field("calendar"),
                        "a calendar measures the stage's target: give a target too".into(),
                    ));
                }
                if !super::sla::is_valid_key(c.get_ref()) {
                    return Err(err(Some(c.span()), &field("calendar"), format!("`{}` is not a calendar key", c.get_ref())));
                }
            }
            if s.role.get_ref().trim().is_empty() {
                return Err(err(Some(s.role.span()), &field("role"), "must name the responsible role".into()));
            }
            if let Some(r) = &s.resolves {
                if !s.terminal {
                    return Err(err(Some(r.span()), &field("resolves"), "only terminal stages resolve or not".into()));
                }
            }
            stages.push(Stage {
                key,
                name: s.name,
                office: s.office,
                target,
                calendar: s.calendar.map(Spanned::into_inner),
                responsible_role: s.role.into_inner(),
                required_certification: s.required_certification,
                terminal: s.terminal,
                resolves: s.resolves.map(Spanned::into_inner).unwrap_or(true),
                requires_review: s.requires_review,
            });
        }
        if stages[0].terminal {
            return Err(err(None, "stages[0].terminal", "the first stage is where tickets start and cannot be terminal".into()));
        }
        if !stages.iter().any(|s| s.terminal) {
            return Err(err(None, "stages", "a process needs at least one terminal stage".into()));
        }

        let mut transitions: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, t) in raw.transitions.into_iter().enumerate() {
            let from = t.from.get_ref();
            match stages.iter().find(|s| &s.key == from) {
                None => {
                    return Err(err(Some(t.from.span()), &format!("transitions[{i}].from"), format!("no stage `{from}` in this process")))
                }
                Some(s) if s.terminal => {
                    return Err(err(
                        Some(t.from.span()),
                        &format!("transitions[{i}].from"),
                        format!("`{from}` is terminal: nothing moves out of it"),
                    ))
                }
                Some(_) => {}
            }
            let targets = transitions.entry(from.clone()).or_default();
            for (j, to) in t.to.iter().enumerate() {
                if !seen.contains(to.get_ref()) {
                    return Err(err(
                        Some(to.span()),
                        &format!("transitions[{i}].to[{j}]"),
                        format!("no stage `{}` in this process", to.get_ref()),
                    ));
                }
                if to.get_ref() == from {
                    return Err(err(Some(to.span()), &format!("transitions[{i}].to[{j}]"), "a stage cannot move to itself".into()));
                }
                targets.push(to.get_ref().clone());
            }
        }

        Ok(Process {
            key: raw.key.into_inner(),
            name: raw.name,
            version: raw.version,
            description: raw.description,
            stages,
            transitions,
            source: source.to_owned(),
        })
    }
}

/// The service processes known to this node, by key.
#[derive(Debug, Clone, Default)]
pub struct ProcessRegistry {
    by_key: BTreeMap<String, Arc<Process>>,
}

/// The generic process, built in so a server with no process directory still works.
pub const BUILTIN_GENERAL: &str = include_str!("../../../config/processes/general.toml");

impl ProcessRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, process: Process) -> Result<(), ProcessLoadError> {
        if let Some(existing) = self.by_key.get(&process.key) {
            return Err(ProcessLoadError {
                file: process.source.clone(),
                line: None,
                field: "key".into(),
                message: format!("process `{}` is already defined in {}", process.key, existing.source),
            });
        }
        self.by_key.insert(process.key.clone(), Arc::new(process));
        Ok(())
    }

    pub fn builtin() -> Self {
        let mut registry = Self::new();
        registry
            .insert(Process::from_toml("(built-in general.toml)", BUILTIN_GENERAL).expect("built-in process is valid"))
            .expect("empty registry");
        registry
    }

    pub fn get(&self, key: &str) -> Option<&Arc<Process>> {
        self.by_key.get(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Process>> {
        self.by_key.values()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Every stage's calendar must be one of `known` (the catalog's keys) or `always`: the
    /// first that is not, named by its file and field.
    pub fn check_calendars(&self, known: &[&str]) -> Result<(), ProcessLoadError> {
        self.iter().try_for_each(|p| p.check_calendars(known))
    }
}

impl Process {
    /// [`ProcessRegistry::check_calendars`] for one process.
    pub fn check_calendars(&self, known: &[&str]) -> Result<(), ProcessLoadError> {
        for (i, stage) in self.stages.iter().enumerate() {
            let Some(calendar) = stage.calendar.as_deref() else { continue };
            if calendar != super::calendar::Calendar::ALWAYS_UTC_KEY && !known.contains(&calendar) {
                let mut names = vec![super::calendar::Calendar::ALWAYS_UTC_KEY];
                names.extend(known);
                return Err(ProcessLoadError {
                    file: self.source.clone(),
                    line: None,
                    field: format!("stages[{i}].calendar"),
                    message: format!("no calendar `{calendar}` (calendars: {})", names.join(", ")),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn general() -> Process {
        Process::from_toml("general.toml", BUILTIN_GENERAL).unwrap()
    }

    #[test]
    fn shipped_general_process_has_the_generic_chain() {
        let p = general();
        let keys: Vec<_> = p.stages.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["consultation", "needs_analysis", "solution_design", "delivery", "after_sales", "closed", "cancelled"]);
        assert!(p.stage("closed").unwrap().resolves);
        assert!(!p.stage("cancelled").unwrap().resolves);
    }

    #[test]
    fn without_explicit_transitions_next_and_terminal_stages_are_allowed() {
        let p = general();
        let targets: Vec<_> = p.allowed_targets("needs_analysis").iter().map(|s| s.key.clone()).collect();
        assert_eq!(targets, ["solution_design", "closed", "cancelled"]);
        assert!(p.check_transition("consultation", "delivery").is_err());
        assert!(p.check_transition("consultation", "needs_analysis").is_ok());
        assert!(p.check_transition("consultation", "cancelled").is_ok());
    }

    #[test]
    fn terminal_stages_allow_no_moves() {
        let p = general();
        assert!(p.allowed_targets("closed").is_empty());
        let e = p.check_transition("closed", "consultation").unwrap_err();
        assert!(matches!(e, TransitionError::NotAllowed { .. }));
    }

    #[test]
    fn rejected_moves_list_the_allowed_targets() {
        let p = general();
        let e = p.check_transition("consultation", "after_sales").unwrap_err();
        assert_eq!(e.allowed(), ["needs_analysis", "closed", "cancelled"]);
        let e = p.check_transition("consultation", "nowhere").unwrap_err();
        assert!(matches!(e, TransitionError::UnknownStage { .. }));
        let e = p.check_transition("consultation", "consultation").unwrap_err();
        assert!(matches!(e, TransitionError::AlreadyThere { .. }));
    }

    const EXPLICIT: &str = r#"
key = "repair"
name = "Repair"
version = 2

[[stages]]
key = "intake"
name = "Intake"
office = "front"
role = "agent"

[[stages]]
key = "fix"
name = "Fix"
office = "back"
role = "technician"
target = "1d"

[[stages]]
key = "done"
name = "Done"
office = "front"
role = "agent"
terminal = true

[[transitions]]
from = "intake"
to = ["fix"]

[[transitions]]
from = "fix"
to = ["intake", "done"]
"#;

    #[test]
    fn explicit_transitions_replace_the_default_chain() {
        let p = Process::from_toml("repair.toml", EXPLICIT).unwrap();
        assert_eq!(p.version, 2);
        assert!(p.check_transition("intake", "done").is_err());
        assert!(p.check_transition("fix", "intake").is_ok());
        assert_eq!(p.stage("fix").unwrap().target.unwrap().as_seconds(), 86_400);
    }

    fn load_err(text: &str) -> ProcessLoadError {
        Process::from_toml("bad.toml", text).unwrap_err()
    }

    #[test]
    fn a_bad_enum_value_is_reported_with_line_and_field() {
        let e = load_err(&EXPLICIT.replace("office = \"back\"", "office = \"middle\""));
        assert_eq!(e.field, "stages[1].office");
        assert_eq!(e.line, Some(15));
        assert!(e.message.contains("middle"), "{}", e.message);
        assert!(e.to_string().starts_with("bad.toml:15: stages[1].office"), "{e}");
    }

    #[test]
    fn a_bad_target_is_reported_with_line_and_field() {
        let e = load_err(&EXPLICIT.replace("target = \"1d\"", "target = \"soon\""));
        assert_eq!((e.field.as_str(), e.line), ("stages[1].target", Some(17)));
    }

    #[test]
    fn unknown_fields_and_stages_are_rejected() {
        let e = load_err(&EXPLICIT.replace("role = \"technician\"", "role = \"technician\"\ncolour = \"red\""));
        assert!(e.field.contains("stages[1]"), "{e}");
        assert!(e.message.contains("colour"), "{e}");
        let e = load_err(&EXPLICIT.replace("to = [\"fix\"]", "to = [\"fixx\"]"));
        assert_eq!((e.field.as_str(), e.line), ("transitions[0].to[0]", Some(28)));
        let e = load_err(&EXPLICIT.replace("key = \"fix\"", "key = \"intake\""));
        assert!(e.message.contains("defined twice"), "{e}");
    }

    #[test]
    fn a_stage_calendar_is_parsed_and_checked_against_the_known_calendars() {
        let p =
            Process::from_toml("repair.toml", &EXPLICIT.replace("target = \"1d\"", "target = \"1d\"\ncalendar = \"workshop\"")).unwrap();
        assert_eq!(p.stage("fix").unwrap().calendar.as_deref(), Some("workshop"));
        assert_eq!(p.stage("intake").unwrap().calendar, None);
        assert!(p.check_calendars(&["workshop"]).is_ok());
        let e = p.check_calendars(&["support-hours"]).unwrap_err();
        assert_eq!((e.file.as_str(), e.field.as_str()), ("repair.toml", "stages[1].calendar"));
        assert!(e.message.contains("`workshop`") && e.message.contains("always, support-hours"), "{e}");
        let shipped = general();
        assert_eq!(shipped.stage("after_sales").unwrap().calendar.as_deref(), Some("always"), "after-sales runs on wall-clock time");
        assert!(shipped.check_calendars(&[]).is_ok(), "`always` is built in");

        let e = load_err(&EXPLICIT.replace(
            "role = \"agent\"\n\n[[stages]]\nkey = \"fix\"",
            "role = \"agent\"\ncalendar = \"always\"\n\n[[stages]]\nkey = \"fix\"",
        ));
        assert_eq!((e.field.as_str(), e.line), ("stages[0].calendar", Some(11)), "{e}");
        let e = load_err(&EXPLICIT.replace("target = \"1d\"", "target = \"1d\"\ncalendar = \"Office Hours\""));
        assert_eq!((e.field.as_str(), e.line), ("stages[1].calendar", Some(18)), "{e}");
    }

    #[test]
    fn a_syntax_error_names_the_line() {
        let e = load_err("key = \"x\"\nname = \n");
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn registry_refuses_duplicate_keys_naming_both_files() {
        let mut r = ProcessRegistry::builtin();
        let e = r.insert(Process::from_toml("other.toml", BUILTIN_GENERAL).unwrap()).unwrap_err();
        assert!(e.message.contains("built-in"), "{e}");
        assert_eq!(e.file, "other.toml");
    }
}
