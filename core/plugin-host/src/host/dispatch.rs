//! Running a hook: across every enabled plugin that implements it (guards, events) or on the
//! one plugin that declares the KPI or scorecard, with each plugin's failure policy deciding
//! what a failed call means, and every call accounted for (statistics, metrics, failures).

use super::{HostError, Loaded, PluginHost, PluginState, Slot};
use crate::{
    Action, Call, EventSnapshot, FailurePolicy, Hook, KpiInput, Manifest, PartnerStats, Plugin, PluginError, Scorecard, TicketSnapshot,
    Verdict,
};
use std::sync::Arc;
use std::time::Instant;

/// A guard's veto of a stage move, or a fail-closed guard that could not decide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin `{plugin}` refused the move: {reason}")]
pub struct GuardRejection {
    pub plugin: String,
    pub reason: String,
    /// True when the plugin failed (and its guard is fail-closed) rather than said no.
    pub plugin_failed: bool,
}

/// Actions one plugin asked for in answer to an event.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginActions {
    pub plugin: String,
    pub actions: Vec<Action>,
}

/// A hook call that failed and was let through (fail-open), for the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginFailure {
    pub plugin: String,
    pub hook: Hook,
    pub error: String,
    /// Set when this failure made Steward disable the plugin.
    pub auto_disabled: Option<String>,
}

impl PluginFailure {
    fn new(name: &str, slot: &Slot, hook: Hook, error: &PluginError) -> Self {
        let auto_disabled = match slot.state() {
            PluginState::AutoDisabled { reason } => Some(reason),
            _ => None,
        };
        PluginFailure { plugin: name.to_owned(), hook, error: error.to_string(), auto_disabled }
    }
}

impl PluginHost {
    /// Runs every enabled guard on a stage move, in plugin-name order; the first veto wins.
    /// A failing guard rejects the move when its policy is fail-closed (the default for
    /// guards) and is skipped, logged and counted when fail-open.
    pub fn guard_transition(&self, ticket: &TicketSnapshot, from: &str, to: &str) -> Result<(), GuardRejection> {
        self.guard_transition_reporting(ticket, from, to).0
    }

    /// [`PluginHost::guard_transition`], also returning the fail-open failures it let through.
    pub fn guard_transition_reporting(
        &self,
        ticket: &TicketSnapshot,
        from: &str,
        to: &str,
    ) -> (Result<(), GuardRejection>, Vec<PluginFailure>) {
        let mut failures = Vec::new();
        for (name, slot, loaded) in self.callable(Hook::GuardTransition) {
            let result = self.invoke(
                &name,
                &slot,
                &loaded,
                Hook::GuardTransition,
                |p| p.guard_transition(ticket, from, to),
                |v| match v {
                    Verdict::Allow => "ok",
                    Verdict::Reject(_) => "rejected",
                },
            );
            match result {
                Ok(Verdict::Allow) => {}
                Ok(Verdict::Reject(reason)) => return (Err(GuardRejection { plugin: name, reason, plugin_failed: false }), failures),
                Err(error) => {
                    if loaded.manifest.failure_policy(Hook::GuardTransition) == FailurePolicy::FailClosed {
                        return (
                            Err(GuardRejection {
                                plugin: name,
                                reason: format!("the plugin's guard failed, so the move is refused: {error}"),
                                plugin_failed: true,
                            }),
                            failures,
                        );
                    }
                    failures.push(PluginFailure::new(&name, &slot, Hook::GuardTransition, &error));
                }
            }
        }
        (Ok(()), failures)
    }

    /// Offers an event to every enabled `on-event` plugin and collects the actions they ask
    /// for (plugins that ask for none are left out). A failing fail-open plugin is logged and
    /// counted; a failing fail-closed one makes the whole call an error.
    pub fn on_event(&self, event: &EventSnapshot, ticket: &TicketSnapshot) -> Result<Vec<PluginActions>, HostError> {
        let (actions, _) = self.on_event_reporting(event, ticket)?;
        Ok(actions)
    }

    /// [`PluginHost::on_event`], also returning the fail-open failures it let through.
    pub fn on_event_reporting(
        &self,
        event: &EventSnapshot,
        ticket: &TicketSnapshot,
    ) -> Result<(Vec<PluginActions>, Vec<PluginFailure>), HostError> {
        let mut out = Vec::new();
        let mut failures = Vec::new();
        for (name, slot, loaded) in self.callable(Hook::OnEvent) {
            match self.invoke(&name, &slot, &loaded, Hook::OnEvent, |p| p.on_event(event, ticket), |_| "ok") {
                Ok(actions) if actions.is_empty() => {}
                Ok(actions) => out.push(PluginActions { plugin: name, actions }),
                Err(error) if loaded.manifest.failure_policy(Hook::OnEvent) == FailurePolicy::FailClosed => {
                    return Err(HostError::Failed { plugin: name, hook: Hook::OnEvent, error })
                }
                Err(error) => failures.push(PluginFailure::new(&name, &slot, Hook::OnEvent, &error)),
            }
        }
        Ok((out, failures))
    }

    /// Computes a plugin-declared KPI. `Ok(None)`: the plugin failed and is fail-open.
    pub fn compute_kpi(&self, kpi: &str, input: &KpiInput) -> Result<Option<f64>, HostError> {
        let (name, slot, loaded) = self
            .declaring(Hook::ComputeKpi, |m| m.kpis.iter().any(|k| k.name == kpi))
            .ok_or_else(|| HostError::UnknownKpi { name: kpi.to_owned() })?;
        self.single(&name, &slot, &loaded, Hook::ComputeKpi, |p| p.compute_kpi(kpi, input))
    }

    /// Computes a plugin-declared partner scorecard. `Ok(None)`: the plugin failed and is fail-open.
    pub fn score_partner(&self, scorecard: &str, stats: &PartnerStats) -> Result<Option<Scorecard>, HostError> {
        let (name, slot, loaded) = self
            .declaring(Hook::ScorePartner, |m| m.scorecards.iter().any(|c| c.name == scorecard))
            .ok_or_else(|| HostError::UnknownScorecard { name: scorecard.to_owned() })?;
        self.single(&name, &slot, &loaded, Hook::ScorePartner, |p| p.score_partner(scorecard, stats))
    }

    /// The loaded plugin (enabled or not) that implements `hook` and declares what is asked for.
    fn declaring(&self, hook: Hook, declares: impl Fn(&Manifest) -> bool) -> Option<(String, Arc<Slot>, Arc<Loaded>)> {
        self.find_loaded(|loaded| loaded.manifest.implements(hook) && declares(&loaded.manifest))
    }

    /// Calls the one plugin that computes a value, if it is enabled, under its failure policy.
    fn single<T>(
        &self,
        name: &str,
        slot: &Slot,
        loaded: &Loaded,
        hook: Hook,
        f: impl FnOnce(&dyn Plugin) -> Result<Call<T>, PluginError>,
    ) -> Result<Option<T>, HostError> {
        if slot.state() != PluginState::Enabled {
            return Err(HostError::NotEnabled { name: name.to_owned() });
        }
        match self.invoke(name, slot, loaded, hook, f, |_| "ok") {
            Ok(v) => Ok(Some(v)),
            Err(PluginError::Hook { code, message }) if code == crate::NO_DATA => {
                Err(HostError::NoData { plugin: name.to_owned(), message })
            }
            Err(error) if loaded.manifest.failure_policy(hook) == FailurePolicy::FailClosed => {
                Err(HostError::Failed { plugin: name.to_owned(), hook, error })
            }
            Err(_) => Ok(None),
        }
    }

    /// Calls one hook of one plugin and accounts for it: metrics, statistics, failures.
    fn invoke<T>(
        &self,
        name: &str,
        slot: &Slot,
        loaded: &Loaded,
        hook: Hook,
        f: impl FnOnce(&dyn Plugin) -> Result<Call<T>, PluginError>,
        outcome: impl Fn(&T) -> &'static str,
    ) -> Result<T, PluginError> {
        let started = Instant::now();
        // A panic here would be a bug in a runtime binding, not in the guest; contain it anyway
        // so a request never dies with it.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&*loaded.plugin)))
            .unwrap_or_else(|_| Err(PluginError::Host { message: "the plugin runtime panicked".into() }));
        let elapsed = started.elapsed();
        self.metrics.call_took(name, hook, elapsed);
        slot.stats.record_call(elapsed);
        match result {
            Ok(call) => {
                slot.stats.record_fuel(call.usage.fuel);
                self.metrics.fuel_consumed(name, call.usage.fuel);
                self.metrics.call_ended(name, hook, outcome(&call.value));
                Ok(call.value)
            }
            Err(error) => {
                self.metrics.call_ended(name, hook, error.outcome());
                if !error.is_no_data() {
                    self.record_failure(name, slot, hook, &error);
                }
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{bundled_host, host_with, render, rhai_plugin, ticket, LOOPING_GUARD};
    use super::*;
    use crate::testing::{self, event};
    use crate::types::samples;
    use crate::PluginsConfig;
    use steward_domain::ticket::Priority;

    #[test]
    fn field_service_guard_wants_a_parts_log_before_verification() {
        let (host, registry) = bundled_host();
        let t = ticket("field_service", "parts");
        let veto = host.guard_transition(&t, "parts", "verification").unwrap_err();
        assert_eq!(veto.plugin, "field-service");
        assert!(!veto.plugin_failed);
        assert!(veto.reason.contains("parts_log"), "{veto}");
        let mut logged = t.clone();
        logged.custom_fields.insert("parts_log".into(), "valve x2".into());
        assert_eq!(host.guard_transition(&logged, "parts", "verification"), Ok(()));
        assert_eq!(host.guard_transition(&t, "parts", "on_site"), Ok(()));
        assert_eq!(host.guard_transition(&ticket("general", "delivery"), "delivery", "verification"), Ok(()));
        let metrics = render(&registry);
        assert!(
            metrics.contains("steward_plugin_calls_total{hook=\"guard-transition\",outcome=\"rejected\",plugin=\"field-service\"} 1"),
            "{metrics}"
        );
        assert!(metrics.contains("steward_plugin_call_duration_seconds_bucket{hook=\"guard-transition\""), "{metrics}");
        assert!(metrics.contains("steward_plugin_fuel_consumed_total{plugin=\"field-service\"}"), "{metrics}");
        let status = host.status("field-service").unwrap();
        assert!(status.calls >= 4 && status.fuel_consumed > 0 && status.mean_duration_us > 0.0, "{status:?}");
    }

    #[test]
    fn field_service_tags_urgent_on_site_work() {
        let (host, _) = bundled_host();
        let mut t = ticket("field_service", "on_site");
        t.priority = "urgent".into();
        let out = host.on_event(&event("stage_changed"), &t).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].plugin, "field-service");
        assert_eq!(out[0].actions[0], Action::AddTag("urgent-onsite".into()));
        assert!(matches!(&out[0].actions[1], Action::AddInternalNote(n) if n.contains("arrival")));
        t.priority = Priority::Normal.to_string();
        assert_eq!(host.on_event(&event("stage_changed"), &t).unwrap(), []);
    }

    #[test]
    fn ecommerce_guards_shipping_and_closing_and_tags_returns() {
        let (host, _) = bundled_host();
        let mut t = ticket("ecommerce", "payment");
        let veto = host.guard_transition(&t, "payment", "shipping").unwrap_err();
        assert_eq!(veto.plugin, "ecommerce-returns");
        assert!(veto.reason.contains("payment_ref"), "{veto}");
        t.custom_fields.insert("payment_ref".into(), "PAY-1".into());
        assert_eq!(host.guard_transition(&t, "payment", "shipping"), Ok(()));
        t.stage = "after_sales".into();
        t.custom_fields.insert("return_status".into(), "open".into());
        assert!(host.guard_transition(&t, "after_sales", "closed").unwrap_err().reason.contains("return is still open"));
        let out = host.on_event(&event("updated"), &t).unwrap();
        assert_eq!(out[0].actions[0], Action::AddTag("return".into()));
        t.custom_fields.insert("return_status".into(), "refunded".into());
        assert_eq!(host.guard_transition(&t, "after_sales", "closed"), Ok(()));
    }

    #[test]
    fn partner_scorecard_weights_on_time_csat_and_complaints() {
        let (host, _) = bundled_host();
        let card = host.score_partner("partner_quality", &samples::partner()).unwrap().unwrap();
        // 90 on time (36/40), CSAT 4.5 → 87.5, 1 complaint in 40 jobs → 93.75.
        assert!((card.score - 90.0).abs() < 1e-9, "{card:?}");
        assert_eq!(card.grade, "A");
        let weights: f64 = card.breakdown.iter().map(|i| i.weight).sum();
        assert!((weights - 1.0).abs() < 1e-9);
        let poor = PartnerStats { on_time: 20, complaints: 8, csat_average: Some(2.0), ..samples::partner() };
        assert_eq!(host.score_partner("partner_quality", &poor).unwrap().unwrap().grade, "D");
        assert!(matches!(host.score_partner("nope", &poor), Err(HostError::UnknownScorecard { .. })));
    }

    #[test]
    fn kpi_plugin_computes_first_contact_resolution() {
        let (host, _) = bundled_host();
        assert_eq!(host.compute_kpi("first_contact_resolution", &samples::kpi()), Ok(Some(0.7)));
        assert_eq!(host.compute_kpi("reopen_rate", &samples::kpi()), Ok(Some(0.05)));
        assert!(matches!(host.compute_kpi("nps", &samples::kpi()), Err(HostError::UnknownKpi { .. })));
        // "No data" is an answer, not a failure: it is reported as such and never counted.
        let empty = KpiInput { tickets_resolved: 0, ..samples::kpi() };
        assert!(matches!(host.compute_kpi("first_contact_resolution", &empty), Err(HostError::NoData { .. })));
        let status = host.status("first-contact-kpi").unwrap();
        assert_eq!((status.failures, status.last_error), (0, None));
    }

    #[test]
    fn a_failing_guard_rejects_when_fail_closed_and_is_skipped_when_fail_open() {
        let (_root, dir) = rhai_plugin("closed", LOOPING_GUARD, "[limits]\nfuel = 1000\n");
        let (host, _) = host_with(PluginsConfig::default());
        host.load_dir(&dir).unwrap();
        let veto = host.guard_transition(&samples::ticket(), "a", "b").unwrap_err();
        assert!(veto.plugin_failed && veto.reason.contains("out of fuel"), "{veto}");

        let (_root, dir) = rhai_plugin("open", LOOPING_GUARD, "[limits]\nfuel = 1000\n[failure]\nguard-transition = \"fail-open\"\n");
        let (host, registry) = host_with(PluginsConfig::default());
        host.load_dir(&dir).unwrap();
        assert_eq!(host.guard_transition(&samples::ticket(), "a", "b"), Ok(()));
        let status = host.status("open").unwrap();
        assert_eq!((status.calls, status.failures), (1, 1));
        assert!(status.last_error.unwrap().contains("out of fuel"));
        assert!(
            render(&registry).contains("steward_plugin_calls_total{hook=\"guard-transition\",outcome=\"out_of_fuel\",plugin=\"open\"} 1")
        );
    }

    #[test]
    fn a_wasm_plugin_breaking_the_contract_in_on_event_follows_its_failure_policy() {
        let (_root, dir) = testing::bad_guest_dir("\"on-event\"", "");
        let (host, registry) = host_with(PluginsConfig::default());
        host.load_dir(&dir).unwrap();
        assert_eq!(host.on_event(&event("created"), &samples::ticket()), Ok(vec![]));
        assert!(render(&registry).contains("steward_plugin_calls_total{hook=\"on-event\",outcome=\"bad_output\",plugin=\"bad-guest\"} 1"));

        let (_root, dir) = testing::bad_guest_dir("\"on-event\"", "[failure]\non-event = \"fail-closed\"\n");
        let (host, _) = host_with(PluginsConfig::default());
        host.load_dir(&dir).unwrap();
        let e = host.on_event(&event("created"), &samples::ticket()).unwrap_err();
        assert!(
            matches!(&e, HostError::Failed { plugin, hook: Hook::OnEvent, error: PluginError::BadOutput { .. } } if plugin == "bad-guest"),
            "{e}"
        );
    }
}
