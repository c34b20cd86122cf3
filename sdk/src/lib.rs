//! Write Steward plugins in Rust, as WebAssembly components.
//!
//! A plugin is a `cdylib` crate built for `wasm32-wasip2`. Implement [`Plugin`] for a unit
//! struct (override only the hooks you list in your `plugin.toml`), then export it with
//! [`export_plugin!`]. The types are those of the contract `steward:plugin@1.0.0`
//! (`sdk/wit/plugin.wit`), with a few helpers added here.
//!
//! ```no_run
//! use steward_sdk::{export_plugin, Action, Error, Event, Plugin, Ticket};
//!
//! struct FieldService;
//!
//! impl Plugin for FieldService {
//!     fn guard_transition(ticket: Ticket, _from: String, to: String) -> Result<(), String> {
//!         if to == "verification" && !ticket.has_custom_field("parts_log") {
//!             return Err("fill in the parts log before verification".into());
//!         }
//!         Ok(())
//!     }
//!
//!     fn on_event(event: Event, ticket: Ticket) -> Result<Vec<Action>, Error> {
//!         let urgent_visit = event.kind == "stage_changed" && ticket.stage == "on_site" && ticket.priority == "urgent";
//!         Ok(if urgent_visit { vec![Action::add_tag("urgent-onsite")] } else { vec![] })
//!     }
//! }
//!
//! export_plugin!(FieldService);
//! ```
//!
//! ```toml
//! # Cargo.toml
//! [lib]
//! crate-type = ["cdylib"]
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2` and point the manifest's `entry`
//! at the `.wasm` file (or copy it next to `plugin.toml`).
//!
//! A plugin gets no clock, files, network or environment: every input carries `now`, and
//! [`log`] is the only way out. Each call runs in a fresh instance, so statics do not persist
//! between calls.

// Lets the generated code name this crate as `::steward_sdk` from inside it too.
extern crate self as steward_sdk;

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// Bindings generated from the contract.
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_steward_plugin",
        default_bindings_module: "::steward_sdk::bindings",
        runtime_path: "::steward_sdk::__wit_bindgen::rt",
    });
}

pub use bindings::steward::plugin::types::{
    Action, CustomField, DurationStats, Error, Event, KpiInput, Level, PartnerStats, ScoreItem, Scorecard, Ticket,
};

/// The contract version this SDK builds plugins for.
pub const CONTRACT: &str = "steward:plugin@1.0.0";

/// The hooks. Each has a default that reports it is not implemented; override those your
/// manifest lists under `hooks`.
pub trait Plugin {
    /// Reacts to a ticket event with actions for Steward to apply (`on-event`).
    fn on_event(event: Event, ticket: Ticket) -> Result<Vec<Action>, Error> {
        let _ = (event, ticket);
        Err(Error::not_implemented("on-event"))
    }

    /// Allows a stage move with `Ok(())` or vetoes it with a reason (`guard-transition`).
    fn guard_transition(ticket: Ticket, from: String, to: String) -> Result<(), String> {
        let _ = (ticket, from, to);
        Err("guard-transition is not implemented by this plugin".into())
    }

    /// Scores a partner for the named scorecard (`score-partner`).
    fn score_partner(scorecard: String, stats: PartnerStats) -> Result<Scorecard, Error> {
        let _ = (scorecard, stats);
        Err(Error::not_implemented("score-partner"))
    }

    /// Computes the named KPI (`compute-kpi`).
    fn compute_kpi(kpi: String, input: KpiInput) -> Result<f64, Error> {
        let _ = (kpi, input);
        Err(Error::not_implemented("compute-kpi"))
    }
}

/// Exports a [`Plugin`] implementation as the component's hooks. Use once per crate.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ident) => {
        const _: () = {
            use $crate::bindings::exports::steward::plugin as __hooks;
            impl __hooks::events::Guest for $plugin {
                fn on_event(event: $crate::Event, ticket: $crate::Ticket) -> Result<Vec<$crate::Action>, $crate::Error> {
                    <$plugin as $crate::Plugin>::on_event(event, ticket)
                }
            }
            impl __hooks::guards::Guest for $plugin {
                fn guard_transition(ticket: $crate::Ticket, from: String, to: String) -> Result<(), String> {
                    <$plugin as $crate::Plugin>::guard_transition(ticket, from, to)
                }
            }
            impl __hooks::scorecards::Guest for $plugin {
                fn score_partner(scorecard: String, stats: $crate::PartnerStats) -> Result<$crate::Scorecard, $crate::Error> {
                    <$plugin as $crate::Plugin>::score_partner(scorecard, stats)
                }
            }
            impl __hooks::kpis::Guest for $plugin {
                fn compute_kpi(kpi: String, input: $crate::KpiInput) -> Result<f64, $crate::Error> {
                    <$plugin as $crate::Plugin>::compute_kpi(kpi, input)
                }
            }
        };
        $crate::bindings::__export_steward_plugin!($plugin with_types_in $crate::bindings);
    };
}

/// Writes a line to Steward's log, attributed to the plugin.
pub fn log(level: Level, message: &str) {
    bindings::steward::plugin::host::log(level, message)
}

impl Error {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Error { code: code.into(), message: message.into() }
    }

    fn not_implemented(hook: &str) -> Self {
        Error::new("not-implemented", format!("{hook} is not implemented by this plugin"))
    }
}

impl Action {
    pub fn add_tag(tag: impl Into<String>) -> Self {
        Action::AddTag(tag.into())
    }

    /// `priority` is `urgent`, `high`, `normal` or `low`.
    pub fn set_priority(priority: impl Into<String>) -> Self {
        Action::SetPriority(priority.into())
    }

    pub fn add_internal_note(note: impl Into<String>) -> Self {
        Action::AddInternalNote(note.into())
    }

    /// Sets a custom field to a string value.
    pub fn set_custom_text(key: impl Into<String>, value: &str) -> Self {
        Action::SetCustomField(CustomField { key: key.into(), value: json_string(value) })
    }

    /// Sets a custom field to `json`, which must be JSON text (`"42"`, `"true"`, `"{\"a\":1}"`).
    pub fn set_custom_json(key: impl Into<String>, json: impl Into<String>) -> Self {
        Action::SetCustomField(CustomField { key: key.into(), value: json.into() })
    }
}

impl Ticket {
    /// The JSON text of a custom field, if the ticket has it.
    pub fn custom_field(&self, key: &str) -> Option<&str> {
        self.custom_fields.iter().find(|f| f.key == key).map(|f| f.value.as_str())
    }

    /// Whether a custom field is present and not null, `""`, `[]` or `{}`.
    pub fn has_custom_field(&self, key: &str) -> bool {
        self.custom_field(key).is_some_and(|v| !matches!(v.trim(), "null" | "\"\"" | "[]" | "{}"))
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

/// `text` as a JSON string literal.
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(fields: &[(&str, &str)]) -> Ticket {
        Ticket {
            id: "1".into(),
            number: "T-000001".into(),
            title: "t".into(),
            description: String::new(),
            kind: "incident".into(),
            channel: "phone".into(),
            priority: "normal".into(),
            customer_name: "c".into(),
            customer_tier: "standard".into(),
            process: "p".into(),
            process_version: 1,
            stage: "s".into(),
            status: "open".into(),
            assignee: None,
            tags: vec!["a".into()],
            custom_fields: fields.iter().map(|(k, v)| CustomField { key: (*k).into(), value: (*v).into() }).collect(),
            created_at: 0,
            updated_at: 0,
            first_response_at: None,
            resolved_at: None,
            reopen_count: 0,
            now: 0,
        }
    }

    #[test]
    fn empty_custom_fields_do_not_count_as_set() {
        let t = ticket(&[("parts_log", "\"valve\""), ("empty", "\"\""), ("none", "null")]);
        assert!(t.has_custom_field("parts_log"));
        assert!(!t.has_custom_field("empty"));
        assert!(!t.has_custom_field("none"));
        assert!(!t.has_custom_field("missing"));
        assert!(t.has_tag("a"));
    }

    #[test]
    fn text_values_become_json_strings() {
        assert_eq!(json_string("a \"b\"\n"), "\"a \\\"b\\\"\\n\"");
        match Action::set_custom_text("k", "v") {
            Action::SetCustomField(f) => assert_eq!(f.value, "\"v\""),
            other => panic!("{other:?}"),
        }
    }
}
