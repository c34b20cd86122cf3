//! Rhai plugins. The only module that knows Rhai.
//!
//! Each plugin gets its own engine (so `print` is attributed and limits are its own) and its
//! script is compiled once, at load. A call builds a fresh scope, converts the inputs to Rhai
//! maps with the contract's field names (snake_case), calls the hook function and converts the
//! result back, checking it against the contract.
//!
//! Sandbox: `eval` is disabled, there are no modules (`import` does not parse) and no clock
//! (`timestamp` is not compiled in); operations, call depth, expression depth and the sizes of
//! strings, arrays and maps are limited; wall time is checked from the progress callback.

use super::limits::{self, Limits, MAX_LOG_LINES_PER_CALL, MAX_LOG_LINE_BYTES, MAX_REASON_BYTES};
use super::types::{check_kpi_value, truncate, RawPayload};
use super::{
    Action, Call, EventSnapshot, Hook, KpiInput, LoadError, Manifest, PartnerStats, Plugin, PluginError, ScoreItem, Scorecard,
    TicketSnapshot, Usage, Verdict,
};
use rhai::{CallFnOptions, Dynamic, Engine, EvalAltResult, Map, Scope, AST};
use std::cell::Cell;
use std::time::Instant;

/// How many operations pass between two looks at the clock.
const CLOCK_EVERY: u64 = 512;

#[derive(Clone, Copy)]
struct Progress {
    deadline: Option<Instant>,
    operations: u64,
    log_lines: u32,
}

thread_local! {
    // Calls are synchronous: the progress callback runs on the calling thread, so the call's
    // deadline and operation count travel through a thread-local rather than the shared engine.
    static PROGRESS: Cell<Progress> = const { Cell::new(Progress { deadline: None, operations: 0, log_lines: 0 }) };
}

/// A loaded Rhai plugin.
pub struct RhaiPlugin {
    name: String,
    engine: Engine,
    ast: AST,
    /// The hooks the manifest lists: only these are called, as with WASM exports.
    hooks: Vec<Hook>,
    limits: Limits,
}

impl RhaiPlugin {
    pub fn load(manifest: &Manifest, limits: Limits) -> Result<Self, LoadError> {
        let file = manifest.entry.display().to_string();
        let source =
            std::fs::read_to_string(&manifest.entry).map_err(|e| LoadError::Entry { file: file.clone(), message: e.to_string() })?;
        Self::compile(&manifest.name, &file, &source, &manifest.hooks, limits)
    }

    /// Compiles `source` and checks that every hook in `hooks` is defined with the right arity.
    pub fn compile(name: &str, file: &str, source: &str, hooks: &[Hook], limits: Limits) -> Result<Self, LoadError> {
        let engine = build_engine(name, limits);
        let ast =
            engine.compile(source).map_err(|e| LoadError::Entry { file: file.to_owned(), message: format!("does not compile: {e}") })?;
        for hook in hooks {
            let (fn_name, arity) = signature(*hook);
            if !ast.iter_functions().any(|f| f.name == fn_name && f.params.len() == arity) {
                return Err(LoadError::Entry {
                    file: file.to_owned(),
                    message: format!(
                        "the manifest lists hook `{hook}` but the script defines no function `{fn_name}` with {arity} parameters"
                    ),
                });
            }
        }
        Ok(RhaiPlugin { name: name.to_owned(), engine, ast, hooks: hooks.to_vec(), limits })
    }

    /// Refuses a hook the manifest does not list, then an input over the cap, before any of
    /// the input is converted.
    fn admit(&self, hook: Hook, input_size: usize) -> Result<(), PluginError> {
        if !self.hooks.contains(&hook) {
            return Err(PluginError::NotImplemented { hook });
        }
        self.limits.check_input(input_size)
    }

    fn call(&self, hook: Hook, args: Vec<Dynamic>) -> Result<(Dynamic, Usage), PluginError> {
        let (fn_name, _) = signature(hook);
        let started = Instant::now();
        PROGRESS.with(|p| p.set(Progress { deadline: Some(started + self.limits.wall_time), operations: 0, log_lines: 0 }));
        let mut scope = Scope::new();
        // Top-level statements are not run per call: hooks are functions, and functions cannot
        // see the top-level scope anyway.
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(false);
        let result = self.engine.call_fn_with_options::<Dynamic>(options, &mut scope, &self.ast, fn_name, args);
        let progress = PROGRESS.with(|p| p.replace(Progress { deadline: None, operations: 0, log_lines: 0 }));
        let usage = Usage { fuel: progress.operations, memory_bytes: 0, elapsed: started.elapsed() };
        result.map(|value| (value, usage)).map_err(|e| self.map_error(&e))
    }

    fn map_error(&self, error: &EvalAltResult) -> PluginError {
        match error.unwrap_inner() {
            EvalAltResult::ErrorTooManyOperations(_) => PluginError::OutOfFuel { limit: self.limits.fuel },
            EvalAltResult::ErrorTerminated(..) => PluginError::Timeout { limit_ms: self.limits.wall_time.as_millis() as u64 },
            EvalAltResult::ErrorStackOverflow(_) => PluginError::StackOverflow,
            EvalAltResult::ErrorDataTooLarge(what, pos) => PluginError::LimitExceeded { message: format!("{what} is too large ({pos})") },
            EvalAltResult::ErrorRuntime(value, pos) => thrown(value, *pos),
            other => PluginError::Script { message: truncate(other.to_string(), MAX_REASON_BYTES) },
        }
    }
}

fn thrown(value: &Dynamic, pos: rhai::Position) -> PluginError {
    if let Some(map) = value.read_lock::<Map>() {
        let text = |k: &str| map.get(k).and_then(|v| v.clone().into_immutable_string().ok()).map(|s| s.to_string());
        if let (Some(code), Some(message)) = (text("code"), text("message")) {
            return PluginError::hook(code, message);
        }
    }
    PluginError::hook("error".into(), format!("{value} ({pos})"))
}

fn signature(hook: Hook) -> (&'static str, usize) {
    match hook {
        Hook::OnEvent => ("on_event", 2),
        Hook::GuardTransition => ("guard_transition", 3),
        Hook::ScorePartner => ("score_partner", 2),
        Hook::ComputeKpi => ("compute_kpi", 2),
    }
}

fn build_engine(name: &str, limits: Limits) -> Engine {
    let mut engine = Engine::new();
    engine.disable_symbol("eval");
    engine.set_strict_variables(true);
    engine.set_max_operations(limits.fuel);
    engine.set_max_call_levels(limits::RHAI_MAX_CALL_LEVELS);
    engine.set_max_expr_depths(limits::RHAI_MAX_EXPR_DEPTH, limits::RHAI_MAX_FN_EXPR_DEPTH);
    let string_cap =
        usize::try_from(limits.memory_bytes / 4).unwrap_or(usize::MAX).clamp(limits::RHAI_MIN_STRING_BYTES, limits::RHAI_MAX_STRING_BYTES);
    engine.set_max_string_size(string_cap);
    engine.set_max_array_size(limits::RHAI_MAX_ARRAY_LEN);
    engine.set_max_map_size(limits::RHAI_MAX_MAP_LEN);
    engine.on_progress(|operations| {
        PROGRESS.with(|p| {
            let mut progress = p.get();
            progress.operations = operations;
            p.set(progress);
            match progress.deadline {
                Some(deadline) if operations % CLOCK_EVERY == 0 && Instant::now() >= deadline => Some(Dynamic::from("wall-time limit")),
                _ => None,
            }
        })
    });
    let plugin = name.to_owned();
    engine.on_print(move |text| {
        if may_log() {
            tracing::info!(plugin = %plugin, "{}", truncate(text.to_owned(), MAX_LOG_LINE_BYTES));
        }
    });
    let plugin = name.to_owned();
    engine.on_debug(move |text, _source, pos| {
        if may_log() {
            tracing::debug!(plugin = %plugin, %pos, "{}", truncate(text.to_owned(), MAX_LOG_LINE_BYTES));
        }
    });
    // Action constructors, so scripts read `add_tag("urgent")` rather than building maps.
    engine.register_fn("add_tag", |tag: &str| single("add_tag", tag.into()));
    engine.register_fn("set_priority", |p: &str| single("set_priority", p.into()));
    engine.register_fn("add_internal_note", |n: &str| single("add_internal_note", n.into()));
    engine.register_fn("set_custom_field", |key: &str, value: Dynamic| {
        let mut field = Map::new();
        field.insert("key".into(), key.into());
        field.insert("value".into(), value);
        single("set_custom_field", field.into())
    });
    engine
}

/// Counts a log line of the current call; false once the call has logged its share, so a
/// script cannot flood the log.
fn may_log() -> bool {
    PROGRESS.with(|p| {
        let mut progress = p.get();
        progress.log_lines = progress.log_lines.saturating_add(1);
        p.set(progress);
        progress.log_lines <= MAX_LOG_LINES_PER_CALL
    })
}

fn single(key: &str, value: Dynamic) -> Map {
    let mut map = Map::new();
    map.insert(key.into(), value);
    map
}

fn to_dynamic<T: serde::Serialize>(value: &T) -> Result<Dynamic, PluginError> {
    rhai::serde::to_dynamic(value).map_err(|e| PluginError::Host { message: format!("cannot convert input: {e}") })
}

fn bad(message: impl Into<String>) -> PluginError {
    PluginError::BadOutput { message: message.into() }
}

fn number(value: &Dynamic) -> Option<f64> {
    value.as_float().ok().or_else(|| value.as_int().ok().map(|i| i as f64))
}

fn text(value: &Dynamic) -> Option<String> {
    value.clone().into_immutable_string().ok().map(|s| s.to_string())
}

fn to_json(value: &Dynamic) -> Result<serde_json::Value, PluginError> {
    rhai::serde::from_dynamic::<serde_json::Value>(value).map_err(|e| bad(format!("custom field value is not plain data: {e}")))
}

/// Checks the shape of each action, then the total against the output cap, then each action
/// against the contract, as for WASM. (Strings and lists a script hands back already obey the
/// engine's limits; the cap bounds their total.)
fn parse_actions(value: Dynamic, limits: &Limits) -> Result<Vec<Action>, PluginError> {
    if value.is_unit() {
        return Ok(Vec::new());
    }
    let list = value.into_array().map_err(|t| bad(format!("on_event must return an array of actions, not {t}")))?;
    let mut size = 0;
    let mut raw = Vec::with_capacity(list.len());
    for (i, item) in list.into_iter().enumerate() {
        let map = item.try_cast::<Map>().ok_or_else(|| bad(format!("action {i} is not a map such as #{{ add_tag: \"urgent\" }}")))?;
        if map.len() != 1 {
            return Err(bad(format!("action {i} must have exactly one key (the action's name)")));
        }
        let (case, value) = map.into_iter().next().expect("one entry");
        let payload = if case == "set_custom_field" {
            let field = value.try_cast::<Map>().ok_or_else(|| bad(format!("action {i}: set_custom_field takes #{{ key, value }}")))?;
            let key = field.get("key").and_then(text).ok_or_else(|| bad(format!("action {i}: set_custom_field needs a string `key`")))?;
            let value = to_json(field.get("value").unwrap_or(&Dynamic::UNIT))?;
            size += limits::action_output_size(key.len() + value.to_string().len());
            RawPayload::Field { key, value }
        } else {
            let t = text(&value).ok_or_else(|| bad(format!("action {i}: `{case}` takes a string")))?;
            size += limits::action_output_size(t.len());
            RawPayload::Text(t)
        };
        raw.push((case, payload));
    }
    limits.check_output(size)?;
    raw.into_iter().map(|(case, payload)| Action::from_raw(&case, payload)).collect()
}

fn parse_verdict(value: Dynamic, limits: &Limits) -> Result<Verdict, PluginError> {
    if value.is_unit() || value.as_bool() == Ok(true) {
        return Ok(Verdict::Allow);
    }
    match text(&value) {
        Some(reason) => {
            limits.check_output(reason.len())?;
            Ok(Verdict::Reject(truncate(reason, MAX_REASON_BYTES)))
        }
        None => Err(bad(format!("guard_transition returns () to allow or a reason string to refuse, not {}", value.type_name()))),
    }
}

fn parse_scorecard(value: Dynamic, limits: &Limits) -> Result<Scorecard, PluginError> {
    let map = value.try_cast::<Map>().ok_or_else(|| bad("score_partner must return #{ score, grade, breakdown }"))?;
    let score = map.get("score").and_then(number).ok_or_else(|| bad("scorecard: `score` must be a number"))?;
    let grade = map.get("grade").and_then(text).ok_or_else(|| bad("scorecard: `grade` must be a string"))?;
    let mut breakdown = Vec::new();
    if let Some(items) = map.get("breakdown") {
        let items = items.clone().into_array().map_err(|_| bad("scorecard: `breakdown` must be an array"))?;
        for (i, item) in items.into_iter().enumerate() {
            let item = item.try_cast::<Map>().ok_or_else(|| bad(format!("breakdown[{i}] must be #{{ criterion, score, weight }}")))?;
            let field = |k: &str| item.get(k).and_then(number).ok_or_else(|| bad(format!("breakdown[{i}].{k} must be a number")));
            let criterion =
                item.get("criterion").and_then(text).ok_or_else(|| bad(format!("breakdown[{i}].criterion must be a string")))?;
            breakdown.push(ScoreItem { criterion, score: field("score")?, weight: field("weight")? });
        }
    }
    limits.check_output(limits::scorecard_output_size(&grade, breakdown.iter().map(|i| i.criterion.as_str())))?;
    Scorecard { score, grade, breakdown }.validate()
}

impl Plugin for RhaiPlugin {
    fn on_event(&self, event: &EventSnapshot, ticket: &TicketSnapshot) -> Result<Call<Vec<Action>>, PluginError> {
        self.admit(Hook::OnEvent, limits::on_event_input_size(event, ticket))?;
        let (value, usage) = self.call(Hook::OnEvent, vec![to_dynamic(event)?, to_dynamic(ticket)?])?;
        Ok(Call { value: parse_actions(value, &self.limits)?, usage })
    }

    fn guard_transition(&self, ticket: &TicketSnapshot, from: &str, to: &str) -> Result<Call<Verdict>, PluginError> {
        self.admit(Hook::GuardTransition, limits::guard_input_size(ticket, from, to))?;
        let (value, usage) = self.call(Hook::GuardTransition, vec![to_dynamic(ticket)?, from.into(), to.into()])?;
        Ok(Call { value: parse_verdict(value, &self.limits)?, usage })
    }

    fn score_partner(&self, scorecard: &str, stats: &PartnerStats) -> Result<Call<Scorecard>, PluginError> {
        self.admit(Hook::ScorePartner, limits::score_partner_input_size(scorecard, stats))?;
        let (value, usage) = self.call(Hook::ScorePartner, vec![scorecard.into(), to_dynamic(stats)?])?;
        Ok(Call { value: parse_scorecard(value, &self.limits)?, usage })
    }

    fn compute_kpi(&self, kpi: &str, input: &KpiInput) -> Result<Call<f64>, PluginError> {
        self.admit(Hook::ComputeKpi, limits::compute_kpi_input_size(kpi, input))?;
        let (value, usage) = self.call(Hook::ComputeKpi, vec![kpi.into(), to_dynamic(input)?])?;
        let v = number(&value).ok_or_else(|| bad(format!("compute_kpi must return a number, not {}", value.type_name())))?;
        Ok(Call { value: check_kpi_value(v)?, usage })
    }
}

impl std::fmt::Debug for RhaiPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RhaiPlugin").field("name", &self.name).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use crate::types::samples;
    use std::time::Duration;

    fn plugin(source: &str, hooks: &[Hook]) -> RhaiPlugin {
        RhaiPlugin::compile("test", "test.rhai", source, hooks, testing::LIMITS).unwrap()
    }

    fn guard(source: &str) -> Result<Call<Verdict>, PluginError> {
        plugin(source, &[Hook::GuardTransition]).guard_transition(&samples::ticket(), "parts", "verification")
    }

    #[test]
    fn guards_see_the_ticket_as_a_map_with_contract_field_names() {
        let src = r#"
            fn guard_transition(ticket, from, to) {
                if to == "verification" && !("parts_log" in ticket.custom_fields) {
                    return `${ticket.number}: record the parts used first`;
                }
            }
        "#;
        let call = guard(src).unwrap();
        assert_eq!(call.value, Verdict::Reject("T-000042: record the parts used first".into()));
        assert!(call.usage.fuel > 0);
        let mut ticket = samples::ticket();
        ticket.custom_fields.insert("parts_log".into(), "valve x2".into());
        let p = plugin(src, &[Hook::GuardTransition]);
        assert_eq!(p.guard_transition(&ticket, "parts", "verification").unwrap().value, Verdict::Allow);
    }

    #[test]
    fn on_event_actions_are_built_with_helpers_and_validated() {
        let src = r#"
            fn on_event(event, ticket) {
                [add_tag("Urgent"), set_priority("high"), add_internal_note(`saw ${event.kind}`),
                 set_custom_field("visits", #{ count: 2 })]
            }
        "#;
        let event = EventSnapshot {
            kind: "stage_changed".into(),
            data: serde_json::json!({"from": "a", "to": "b"}),
            at: samples::NOW,
            actor: "ann".into(),
        };
        let actions = plugin(src, &[Hook::OnEvent]).on_event(&event, &samples::ticket()).unwrap().value;
        assert_eq!(
            actions,
            [
                Action::AddTag("urgent".into()),
                Action::SetPriority(steward_domain::ticket::Priority::High),
                Action::AddInternalNote("saw stage_changed".into()),
                Action::SetCustomField { key: "visits".into(), value: serde_json::json!({"count": 2}) },
            ]
        );
        let bad_src = r#"fn on_event(event, ticket) { [set_priority("extreme")] }"#;
        let e = plugin(bad_src, &[Hook::OnEvent]).on_event(&event, &samples::ticket()).unwrap_err();
        assert!(matches!(e, PluginError::BadOutput { .. }), "{e}");
    }

    #[test]
    fn an_infinite_loop_runs_out_of_operations() {
        let e = guard("fn guard_transition(t, f, to) { loop { } }").unwrap_err();
        assert_eq!(e, PluginError::OutOfFuel { limit: testing::LIMITS.fuel });
    }

    #[test]
    fn a_slow_loop_hits_the_wall_time_limit() {
        let limits = Limits { fuel: u64::MAX, wall_time: Duration::from_millis(30), ..testing::LIMITS };
        let p = RhaiPlugin::compile("t", "t.rhai", "fn guard_transition(t, f, to) { loop { } }", &[Hook::GuardTransition], limits).unwrap();
        let started = Instant::now();
        let e = p.guard_transition(&samples::ticket(), "a", "b").unwrap_err();
        assert_eq!(e, PluginError::Timeout { limit_ms: 30 });
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn runaway_recursion_is_stopped() {
        let e = guard("fn down(n) { down(n + 1) } fn guard_transition(t, f, to) { down(0) }").unwrap_err();
        assert_eq!(e, PluginError::StackOverflow);
    }

    #[test]
    fn a_huge_string_is_refused() {
        let e = guard(r#"fn guard_transition(t, f, to) { let s = "x"; loop { s += s; } }"#).unwrap_err();
        assert!(matches!(&e, PluginError::LimitExceeded { message } if message.contains("string")), "{e}");
    }

    #[test]
    fn eval_and_imports_are_not_available() {
        let e =
            RhaiPlugin::compile("t", "t.rhai", r#"fn guard_transition(t, f, to) { eval("1") }"#, &[Hook::GuardTransition], testing::LIMITS)
                .unwrap_err();
        assert!(e.to_string().contains("eval"), "{e}");
        let e = RhaiPlugin::compile(
            "t",
            "t.rhai",
            "import \"fs\" as fs;\nfn guard_transition(t, f, to) { }",
            &[Hook::GuardTransition],
            testing::LIMITS,
        )
        .unwrap_err();
        assert!(e.to_string().contains("does not compile"), "{e}");
        let e =
            RhaiPlugin::compile("t", "t.rhai", "fn guard_transition(t, f, to) { timestamp() }", &[Hook::GuardTransition], testing::LIMITS)
                .unwrap();
        let err = e.guard_transition(&samples::ticket(), "a", "b").unwrap_err();
        assert!(matches!(&err, PluginError::Script { message } if message.contains("timestamp")), "{err}");
    }

    #[test]
    fn print_and_debug_go_to_the_log() {
        let p = plugin(r#"fn guard_transition(t, f, to) { print(`moving ${t.number}`); debug(to); }"#, &[Hook::GuardTransition]);
        let (result, logs) = testing::capture_logs(|| p.guard_transition(&samples::ticket(), "a", "closed"));
        assert_eq!(result.unwrap().value, Verdict::Allow);
        assert!(logs.contains("plugin=test") && logs.contains("moving T-000042"), "{logs}");
        assert!(logs.contains("DEBUG") && logs.contains("closed"), "{logs}");
        let chatty = plugin(r#"fn guard_transition(t, f, to) { for i in 0..1000 { print(`line ${i}`); } }"#, &[Hook::GuardTransition]);
        let (_, logs) = testing::capture_logs(|| chatty.guard_transition(&samples::ticket(), "a", "b"));
        assert_eq!(logs.lines().count(), MAX_LOG_LINES_PER_CALL as usize, "a call's log lines are capped");
    }

    #[test]
    fn a_missing_hook_function_is_a_load_error() {
        let e = RhaiPlugin::compile("t", "t.rhai", "fn guard(t) { }", &[Hook::GuardTransition], testing::LIMITS).unwrap_err();
        assert!(e.to_string().contains("guard_transition"), "{e}");
    }

    #[test]
    fn thrown_errors_become_hook_errors() {
        let src = r#"fn compute_kpi(name, input) { throw #{ code: "no-data", message: "nothing resolved" }; }"#;
        let e = plugin(src, &[Hook::ComputeKpi]).compute_kpi("fcr", &samples::kpi()).unwrap_err();
        assert_eq!(e, PluginError::Hook { code: "no-data".into(), message: "nothing resolved".into() });
    }

    #[test]
    fn kpi_and_scorecard_outputs_are_checked() {
        let p =
            plugin("fn compute_kpi(name, input) { input.first_contact_resolved.to_float() / input.tickets_resolved }", &[Hook::ComputeKpi]);
        assert_eq!(p.compute_kpi("fcr", &samples::kpi()).unwrap().value, 0.7);
        let p = plugin(r#"fn score_partner(n, s) { #{ score: 250, grade: "A", breakdown: [] } }"#, &[Hook::ScorePartner]);
        let e = p.score_partner("x", &samples::partner()).unwrap_err();
        assert!(matches!(&e, PluginError::BadOutput { message } if message.contains("250")), "{e}");
    }

    #[test]
    fn scripts_see_hook_inputs_as_the_golden_json_says() {
        let golden: serde_json::Value = serde_json::from_str(testing::GOLDEN_HOOK_INPUT).unwrap();
        let inputs = testing::hook_inputs();
        let seen = |value: Dynamic| rhai::serde::from_dynamic::<serde_json::Value>(&value).unwrap();
        assert_eq!(seen(to_dynamic(&inputs.ticket).unwrap()), golden["ticket"]);
        assert_eq!(seen(to_dynamic(&inputs.event).unwrap()), golden["event"]);
        assert_eq!(seen(to_dynamic(&inputs.partner_stats).unwrap()), golden["partner_stats"]);
        assert_eq!(seen(to_dynamic(&inputs.kpi_input).unwrap()), golden["kpi_input"]);
        // And a script reads them by those names.
        let p = plugin(
            "fn guard_transition(t, f, to) { `${t.customer_tier}/${t.custom_fields.site.floor}/${t.first_response_at}` }",
            &[Hook::GuardTransition],
        );
        let verdict = p.guard_transition(&inputs.ticket, "parts", "verification").unwrap().value;
        assert_eq!(verdict, Verdict::Reject(format!("standard/3/{}", samples::NOW - 3_000_000)));
    }

    #[test]
    fn hooks_the_manifest_does_not_list_are_not_called() {
        let p = plugin("fn guard_transition(t, f, to) { } fn compute_kpi(k, i) { 1.0 }", &[Hook::GuardTransition]);
        assert_eq!(p.compute_kpi("x", &samples::kpi()).unwrap_err(), PluginError::NotImplemented { hook: Hook::ComputeKpi });
    }

    #[test]
    fn oversized_input_is_refused_before_the_call() {
        let mut ticket = samples::ticket();
        ticket.description = "x".repeat(testing::LIMITS.max_input_bytes + 1);
        let e = plugin("fn guard_transition(t, f, to) { }", &[Hook::GuardTransition]).guard_transition(&ticket, "a", "b").unwrap_err();
        assert!(matches!(e, PluginError::InputTooLarge { .. }), "{e}");
    }
}
