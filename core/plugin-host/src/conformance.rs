//! The two runtimes keep the same contract: one table of hook cases, each run through
//! `dyn Plugin` on a WebAssembly guest and on a Rhai script that implement the same logic
//! (`tests/fixtures/plugins/conformance-guest`: `src/lib.rs` and `conformance.rhai`), and the
//! same outcome expected of both.
//!
//! Outcomes are compared exactly (verdicts, actions, values, error variants and their fields),
//! with one allowance: when a guest's own code fails (a Rust panic traps; a Rhai runtime error
//! is a script error), each runtime reports it in its own words, so both count as "crashed".

use crate::limits::{self, Limits, MAX_LOG_LINES_PER_CALL, MAX_LOG_LINE_BYTES, MAX_REASON_BYTES};
use crate::testing::{self, event, ROOMY};
use crate::types::{check_kpi_value, samples, RawPayload};
use crate::{Action, Call, Hook, KpiInput, PartnerStats, Plugin, PluginError, ScoreItem, Scorecard, TicketSnapshot, Verdict};
use std::time::Duration;
use steward_domain::ticket::Priority;

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Verdict(Verdict),
    Actions(Vec<Action>),
    Number(f64),
    Scorecard(Scorecard),
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Returned(Value),
    Failed(PluginError),
    /// The guest's own code failed (see the module comment).
    Crashed,
}

fn outcome<T>(result: Result<Call<T>, PluginError>, value: fn(T) -> Value) -> Outcome {
    match result {
        Ok(call) => Outcome::Returned(value(call.value)),
        Err(PluginError::Trap { .. } | PluginError::Script { .. }) => Outcome::Crashed,
        Err(error) => Outcome::Failed(error),
    }
}

/// One hook call with its inputs, on whichever runtime.
type Run = Box<dyn Fn(&dyn Plugin) -> Outcome>;

fn guard(ticket: TicketSnapshot, to: &'static str) -> Run {
    Box::new(move |p| outcome(p.guard_transition(&ticket, "parts", to), Value::Verdict))
}

fn on_event(kind: &'static str, ticket: TicketSnapshot) -> Run {
    Box::new(move |p| outcome(p.on_event(&event(kind), &ticket), Value::Actions))
}

fn kpi(name: &'static str, input: KpiInput) -> Run {
    Box::new(move |p| outcome(p.compute_kpi(name, &input), Value::Number))
}

fn scorecard(name: &'static str, stats: PartnerStats) -> Run {
    Box::new(move |p| outcome(p.score_partner(name, &stats), Value::Scorecard))
}

fn returned(value: Value) -> Outcome {
    Outcome::Returned(value)
}

fn hook_error(code: &str, message: &str) -> Outcome {
    Outcome::Failed(PluginError::Hook { code: code.into(), message: message.into() })
}

fn with_field(key: &str, value: serde_json::Value) -> TicketSnapshot {
    let mut ticket = samples::ticket();
    ticket.custom_fields.insert(key.into(), value);
    ticket
}

struct Case {
    name: &'static str,
    /// The hooks the plugin is loaded with (what its manifest would list).
    hooks: &'static [Hook],
    limits: Limits,
    run: Run,
    expected: Outcome,
}

/// For the runaway cases: a small fuel budget, or fuel to spare and a short wall time.
const LITTLE_FUEL: Limits = Limits { fuel: 1_000_000, ..ROOMY };
const LITTLE_TIME: Limits = Limits { fuel: u64::MAX / 2, wall_time: Duration::from_millis(50), ..Limits::DEFAULT };
const AMPLE_FUEL: Limits = Limits { fuel: u64::MAX / 2, ..ROOMY };

fn cases() -> Vec<Case> {
    let all = &Hook::ALL;
    let case = |name, limits, run, expected| Case { name, hooks: all, limits, run, expected };
    let cap = ROOMY.max_output_bytes;
    let mut urgent_on_site = samples::ticket();
    (urgent_on_site.stage, urgent_on_site.priority) = ("on_site".into(), "urgent".into());
    let mut oversized = samples::ticket();
    oversized.description = "x".repeat(ROOMY.max_input_bytes);
    let oversized_size = limits::guard_input_size(&oversized, "parts", "verification");
    let not_a_priority = Action::from_raw("set_priority", RawPayload::Text("extreme".into())).unwrap_err();
    let out_of_range = Scorecard { score: 250.0, grade: "A".into(), breakdown: Vec::new() }.validate().unwrap_err();
    let item = |criterion: &str, score, weight| ScoreItem { criterion: criterion.into(), score, weight };
    vec![
        // Guards.
        case(
            "a guard vetoes a move to verification without a parts log",
            ROOMY,
            guard(samples::ticket(), "verification"),
            returned(Value::Verdict(Verdict::Reject("T-000042: record the parts used first".into()))),
        ),
        case(
            "a guard allows the move once the parts are logged",
            ROOMY,
            guard(with_field("parts_log", "valve x2".into()), "verification"),
            returned(Value::Verdict(Verdict::Allow)),
        ),
        case("a guard allows other moves", ROOMY, guard(samples::ticket(), "on_site"), returned(Value::Verdict(Verdict::Allow))),
        case(
            "a guard that never ends runs out of fuel",
            LITTLE_FUEL,
            guard(samples::ticket(), "spin"),
            Outcome::Failed(PluginError::OutOfFuel { limit: LITTLE_FUEL.fuel }),
        ),
        case(
            "a guard that never ends, with fuel to spare, runs out of time",
            LITTLE_TIME,
            guard(samples::ticket(), "spin"),
            Outcome::Failed(PluginError::Timeout { limit_ms: 50 }),
        ),
        case(
            "runaway recursion overflows the stack",
            AMPLE_FUEL,
            guard(samples::ticket(), "recurse"),
            Outcome::Failed(PluginError::StackOverflow),
        ),
        case("a guard whose own code fails (trap or throw) crashes", ROOMY, guard(samples::ticket(), "crash"), Outcome::Crashed),
        case(
            "a veto reason at the output cap is kept, cut to the reason limit",
            ROOMY,
            guard(with_field("reason_bytes", cap.into()), "huge"),
            returned(Value::Verdict(Verdict::Reject("x".repeat(MAX_REASON_BYTES)))),
        ),
        case(
            "a veto reason over the output cap is refused",
            ROOMY,
            guard(with_field("reason_bytes", (cap + 1).into()), "huge"),
            Outcome::Failed(PluginError::OutputTooLarge { size: cap + 1, limit: cap }),
        ),
        case(
            "an input over the input cap is refused before the call",
            ROOMY,
            guard(oversized, "verification"),
            Outcome::Failed(PluginError::InputTooLarge { size: oversized_size, limit: ROOMY.max_input_bytes }),
        ),
        // Events.
        case(
            "urgent on-site work gets a tag, a field, a priority and a note",
            ROOMY,
            on_event("stage_changed", urgent_on_site.clone()),
            returned(Value::Actions(vec![
                Action::AddTag("urgent-onsite".into()),
                Action::SetCustomField { key: "visit".into(), value: serde_json::json!({ "count": 1, "stage": "on_site" }) },
                Action::SetPriority(Priority::High),
                Action::AddInternalNote("T-000042 reached on_site as urgent work".into()),
            ])),
        ),
        case("other events get no actions", ROOMY, on_event("updated", urgent_on_site), returned(Value::Actions(Vec::new()))),
        case(
            "an action outside the contract is refused",
            ROOMY,
            on_event("bad_priority", samples::ticket()),
            Outcome::Failed(not_a_priority),
        ),
        case(
            "actions over the output cap are refused, measured alike",
            ROOMY,
            on_event("flood", samples::ticket()),
            Outcome::Failed(PluginError::OutputTooLarge { size: 9 * (8000 + limits::ACTION_OVERHEAD_BYTES), limit: cap }),
        ),
        case("an event hook's own error", ROOMY, on_event("fail", samples::ticket()), hook_error("busy", "cannot handle fail now")),
        // KPIs.
        case("a KPI from counts", ROOMY, kpi("first_contact_resolution", samples::kpi()), returned(Value::Number(0.7))),
        case(
            "a KPI from nested duration statistics",
            ROOMY,
            kpi("mean_first_response_minutes", samples::kpi()),
            returned(Value::Number(10.0)),
        ),
        case("a KPI from an optional average", ROOMY, kpi("csat", samples::kpi()), returned(Value::Number(4.2))),
        case(
            "a missing optional average is the hook's error",
            ROOMY,
            kpi("csat", KpiInput { csat_average: None, ..samples::kpi() }),
            hook_error("no-data", "no satisfaction answers in the window"),
        ),
        case(
            "a KPI without data is the hook's error",
            ROOMY,
            kpi("first_contact_resolution", KpiInput { tickets_resolved: 0, ..samples::kpi() }),
            hook_error("no-data", "no tickets were resolved in the window"),
        ),
        case(
            "a KPI that is not a number is refused",
            ROOMY,
            kpi("nan", samples::kpi()),
            Outcome::Failed(check_kpi_value(f64::NAN).unwrap_err()),
        ),
        case(
            "an unknown KPI is the hook's error",
            ROOMY,
            kpi("nps", samples::kpi()),
            hook_error("unknown-kpi", "this plugin does not compute nps"),
        ),
        // Scorecards.
        case(
            "a scorecard weighs on-time rate, satisfaction and complaints",
            ROOMY,
            scorecard("partner_quality", samples::partner()),
            returned(Value::Scorecard(Scorecard {
                // In the guests' order of operations, so the sum is the same to the last bit.
                score: 0.0 + 90.0 * 0.5 + 87.5 * 0.3 + 93.75 * 0.2,
                grade: "A".into(),
                breakdown: vec![item("on_time_rate", 90.0, 0.5), item("csat", 87.5, 0.3), item("complaints", 93.75, 0.2)],
            })),
        ),
        case(
            "a partner without jobs is the hook's error",
            ROOMY,
            scorecard("partner_quality", PartnerStats { jobs: 0, ..samples::partner() }),
            hook_error("no-data", "FastParts handled no jobs in the window"),
        ),
        case("a score out of range is refused", ROOMY, scorecard("out_of_range", samples::partner()), Outcome::Failed(out_of_range)),
        case(
            "an unknown scorecard is the hook's error",
            ROOMY,
            scorecard("nope", samples::partner()),
            hook_error("unknown-scorecard", "this plugin does not compute nope"),
        ),
        // A hook the manifest does not list is not called, whatever the guest defines.
        Case {
            name: "a hook the manifest does not list is not implemented",
            hooks: &[Hook::GuardTransition],
            limits: ROOMY,
            run: kpi("first_contact_resolution", samples::kpi()),
            expected: Outcome::Failed(PluginError::NotImplemented { hook: Hook::ComputeKpi }),
        },
    ]
}

#[test]
fn both_runtimes_give_the_same_outcome_in_every_case() {
    let mut wrong = Vec::new();
    for case in cases() {
        for (runtime, plugin) in testing::conformance_plugins_with(case.hooks, case.limits) {
            let got = (case.run)(&*plugin);
            if got != case.expected {
                let brief = |o: &Outcome| format!("{o:?}").chars().take(300).collect::<String>();
                wrong.push(format!(
                    "{} ({}):\n  expected {}\n  got      {}",
                    case.name,
                    runtime.as_str(),
                    brief(&case.expected),
                    brief(&got)
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{} case runs differ:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn both_runtimes_cap_a_calls_log_lines_alike() {
    for (runtime, plugin) in testing::conformance_plugins(ROOMY) {
        let (result, logs) = testing::capture_logs(|| plugin.guard_transition(&samples::ticket(), "parts", "chatty"));
        assert_eq!(result.unwrap().value, Verdict::Allow, "{runtime:?}");
        let lines: Vec<_> = logs.lines().collect();
        assert_eq!(lines.len(), MAX_LOG_LINES_PER_CALL as usize, "{runtime:?}: a call's log lines are capped");
        for line in lines {
            assert!(line.contains("INFO") && line.contains("plugin=conformance"), "{runtime:?}: {line}");
            assert_eq!(line.matches('#').count(), MAX_LOG_LINE_BYTES, "{runtime:?}: a log line is cut to the cap");
        }
    }
}
