//! Hook calls for async callers. Calls are synchronous CPU work bounded by fuel and wall time,
//! so they run on tokio's blocking pool rather than on a runtime worker.

use super::{GuardRejection, HostError, PluginActions, PluginHost};
use crate::{EventSnapshot, Hook, KpiInput, PartnerStats, PluginError, Scorecard, TicketSnapshot};
use std::sync::Arc;

impl PluginHost {
    /// Runs a hook call on tokio's blocking pool (calls are CPU-bound); a call that could not
    /// even run there is reported as a host failure of `hook`.
    pub async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        hook: Hook,
        call: impl FnOnce(&PluginHost) -> Result<T, HostError> + Send + 'static,
    ) -> Result<T, HostError> {
        let host = self.clone();
        tokio::task::spawn_blocking(move || call(&host)).await.unwrap_or_else(|e| {
            Err(HostError::Failed { plugin: "(plugin host)".into(), hook, error: PluginError::Host { message: e.to_string() } })
        })
    }

    /// [`PluginHost::guard_transition`] on tokio's blocking pool.
    pub async fn guard_transition_async(self: &Arc<Self>, ticket: TicketSnapshot, from: String, to: String) -> Result<(), GuardRejection> {
        self.blocking(Hook::GuardTransition, move |host| Ok(host.guard_transition(&ticket, &from, &to)))
            .await
            .unwrap_or_else(|e| Err(GuardRejection { plugin: "(plugin host)".into(), reason: e.to_string(), plugin_failed: true }))
    }

    /// [`PluginHost::on_event`] on tokio's blocking pool.
    pub async fn on_event_async(self: &Arc<Self>, event: EventSnapshot, ticket: TicketSnapshot) -> Result<Vec<PluginActions>, HostError> {
        self.blocking(Hook::OnEvent, move |host| host.on_event(&event, &ticket)).await
    }

    /// [`PluginHost::compute_kpi`] on tokio's blocking pool.
    pub async fn compute_kpi_async(self: &Arc<Self>, kpi: String, input: KpiInput) -> Result<Option<f64>, HostError> {
        self.blocking(Hook::ComputeKpi, move |host| host.compute_kpi(&kpi, &input)).await
    }

    /// [`PluginHost::score_partner`] on tokio's blocking pool.
    pub async fn score_partner_async(self: &Arc<Self>, scorecard: String, stats: PartnerStats) -> Result<Option<Scorecard>, HostError> {
        self.blocking(Hook::ScorePartner, move |host| host.score_partner(&scorecard, &stats)).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{bundled_host, ticket};
    use super::*;
    use crate::types::samples;

    #[tokio::test]
    async fn async_wrappers_run_on_the_blocking_pool() {
        let (host, _) = bundled_host();
        let host = Arc::new(host);
        let veto = host.guard_transition_async(ticket("field_service", "parts"), "parts".into(), "verification".into()).await.unwrap_err();
        assert_eq!(veto.plugin, "field-service");
        assert_eq!(host.compute_kpi_async("first_contact_resolution".into(), samples::kpi()).await, Ok(Some(0.7)));
    }
}
