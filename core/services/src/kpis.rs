//! KPIs, the monthly service review, and the refresh of database-derived metrics gauges.

use super::{ServiceError, Services};
use std::path::Path;
use steward_domain::improvement::{FollowUp, KpiMovement};
use steward_domain::kpi::{build_kpis, Better, GroupBy, Kpi, KpiFilter, KpiInputs, KpiTargets, Month, Period, Target, Unit};
use steward_domain::review::{
    improvement_points, weakest_stages, what_got_worse, Headline, KpiLine, PartnerRank, Section, ServiceReview, TrainingStanding, WeakStage,
};
use steward_domain::time::Timestamp;

/// KPIs for one value of the grouping dimension.
pub struct KpiGroup {
    pub value: String,
    pub kpis: Vec<Kpi>,
}

pub struct KpiReport {
    pub filter: KpiFilter,
    pub period: Period,
    pub kpis: Vec<Kpi>,
    pub group_by: Option<GroupBy>,
    pub groups: Vec<KpiGroup>,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct KpiFileError {
    pub file: String,
    pub message: String,
}

/// Reads `config/kpis.toml`; the built-in targets when the file does not exist.
pub fn load_kpi_targets(file: &Path) -> Result<KpiTargets, KpiFileError> {
    let shown = file.display().to_string();
    match std::fs::read_to_string(file) {
        Ok(text) => KpiTargets::from_toml(&text).map_err(|e| KpiFileError { file: shown, message: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::info!(file = %shown, "no KPI targets file; using the built-in targets");
            Ok(KpiTargets::default())
        }
        Err(e) => Err(KpiFileError { file: shown, message: e.to_string() }),
    }
}

impl Services {
    fn stage_target_seconds(&self, process: &str, stage: &str) -> Option<f64> {
        self.processes.get(process)?.stage(stage)?.target.map(|t| t.as_seconds() as f64)
    }

    /// The KPI set of the filter's tickets (built-in, then those plugins declare), with its
    /// aggregate inputs.
    pub async fn kpi_set(&self, filter: &KpiFilter) -> Result<(KpiInputs, Vec<Kpi>), ServiceError> {
        let inputs = self.store.kpi_inputs(filter).await?;
        let mut kpis = build_kpis(&inputs, &self.kpi_targets, |p, s| self.stage_target_seconds(p, s));
        let (compliant, considered) = self.training_compliance().await?;
        let share = (considered > 0).then(|| compliant as f64 / considered as f64);
        kpis.push(self.kpi_targets.kpi("training_compliance", share, considered));
        // Not about tickets, so no filter narrows it: the actions overdue now.
        let overdue = self.overdue_improvements().await?;
        kpis.push(self.kpi_targets.kpi("improvements_overdue", Some(overdue as f64), overdue));
        kpis.extend(self.plugin_kpis(filter, &inputs).await);
        Ok((inputs, kpis))
    }

    /// KPIs declared by plugins, computed by their `compute-kpi` hook from the same aggregate
    /// inputs. A plugin that fails gives its KPI an error; the others stand.
    async fn plugin_kpis(&self, filter: &KpiFilter, inputs: &KpiInputs) -> Vec<Kpi> {
        let Some(host) = self.plugin_host() else { return Vec::new() };
        let declared = host.kpis();
        if declared.is_empty() {
            return Vec::new();
        }
        let input = plugin_kpi_input(filter, inputs);
        let mut out = Vec::with_capacity(declared.len());
        for (plugin, decl) in declared {
            let unit = match decl.unit.as_str() {
                "seconds" => Unit::Seconds,
                "score" => Unit::Score,
                "count" => Unit::Count,
                _ => Unit::Ratio,
            };
            // Keyed by plugin, so a plugin's KPI never shadows a built-in one of the same name.
            let mut kpi = Kpi::new(&format!("{plugin}/{}", decl.name), &decl.help, unit, None, inputs.tickets);
            kpi.target = decl.target.map(|value| Target {
                value,
                better: if decl.better.as_deref() == Some("lower") { Better::Lower } else { Better::Higher },
                warning_margin: self.kpi_targets.margin(),
            });
            match host.compute_kpi_async(decl.name.clone(), input.clone()).await {
                Ok(Some(value)) if value.is_finite() => kpi.value = Some(value),
                Ok(Some(_)) => kpi.error = Some(format!("plugin `{plugin}` returned a value that is not a finite number")),
                Ok(None) => kpi.error = Some(format!("plugin `{plugin}` failed to compute it; see its last error in /api/v1/plugins")),
                // No data is an answer: the KPI has no value, and nothing failed.
                Err(steward_plugin_host::HostError::NoData { .. }) => {}
                Err(e) => kpi.error = Some(e.to_string()),
            }
            out.push(kpi);
        }
        out
    }

    /// KPIs of the tickets opened in the filter's period, and per value of `group_by`.
    /// Without a period in the filter: the last 30 days.
    pub async fn kpis(&self, mut filter: KpiFilter, group_by: Option<GroupBy>) -> Result<KpiReport, ServiceError> {
        let now = Timestamp::now();
        let period = *filter.period.get_or_insert(Period { from: now.plus_millis(-30 * 86_400_000), to: now });
        let (_, kpis) = self.kpi_set(&filter).await?;
        let mut groups = Vec::new();
        if let Some(group) = group_by {
            for value in self.store.group_values(&filter, group).await? {
                let narrowed = filter.narrowed(group, &value).map_err(steward_domain::ValidationError::from)?;
                let (_, kpis) = self.kpi_set(&narrowed).await?;
                groups.push(KpiGroup { value, kpis });
            }
        }
        Ok(KpiReport { filter, period, kpis, group_by, groups })
    }

    /// The KPIs of `month` as the review reads them: flows over the tickets opened in it;
    /// figures that are a state rather than a flow (the backlog, training compliance, overdue
    /// improvement actions) at the month's end (or now, for the running month), so last
    /// month's figures read as they were then.
    async fn month_kpis(&self, month: Month, now: Timestamp) -> Result<(KpiInputs, Vec<Kpi>), ServiceError> {
        let end = month.period().to.min(now);
        let (inputs, mut kpis) = self.kpi_set(&KpiFilter { period: Some(month.period()), ..KpiFilter::default() }).await?;
        let backlog = self.store.backlog_at(&KpiFilter::default(), end).await?;
        let (compliant, considered) = self.training_compliance_at(end).await?;
        let overdue = self.store.count_overdue_improvements(end).await?;
        for kpi in kpis.iter_mut().filter(|k| k.dimension.is_none()) {
            match kpi.key.as_str() {
                "backlog" => {
                    kpi.value = Some(backlog as f64);
                    kpi.sample = backlog;
                }
                "training_compliance" => kpi.value = (considered > 0).then(|| compliant as f64 / considered as f64),
                "improvements_overdue" => {
                    kpi.value = Some(overdue as f64);
                    kpi.sample = overdue;
                }
                _ => {}
            }
        }
        Ok((inputs, kpis))
    }

    /// The monthly service review: a headline, the month's KPIs against targets and the month
    /// before, what got worse, breaches, the weakest stages, complaint tags, partners,
    /// training, the improvement actions of earlier reviews, and improvement points. Figures
    /// that are a state are taken at each month's end (see `month_kpis`).
    pub async fn service_review(&self, month: Month) -> Result<ServiceReview, ServiceError> {
        let now = Timestamp::now();
        let this = KpiFilter { period: Some(month.period()), ..KpiFilter::default() };
        let end_of = |m: Month| m.period().to.min(now);
        let (inputs, kpis) = self.month_kpis(month, now).await?;
        let (_, previous) = self.month_kpis(month.previous(), now).await?;
        let share = |(compliant, considered): (u64, u64)| (considered > 0).then(|| compliant as f64 / considered as f64);
        let (compliant, considered) = self.training_compliance_at(end_of(month)).await?;
        let training_end = share((compliant, considered));
        let training_before = share(self.training_compliance_at(end_of(month.previous())).await?);
        let actions = self.follow_ups(month, &inputs, &kpis, now).await?;
        let lines: Vec<KpiLine> = kpis
            .into_iter()
            // The backlog's breakdown by stage is of now; the review keeps the month-end total.
            .filter(|kpi| !(kpi.key == "backlog" && kpi.dimension.is_some()))
            .map(|kpi| {
                let previous = previous.iter().find(|p| p.key == kpi.key && p.dimension == kpi.dimension).and_then(|p| p.value);
                KpiLine { kpi, previous }
            })
            .collect();
        let backlog_end = lines.iter().find(|l| l.kpi.key == "backlog").map_or(0, |l| l.kpi.sample);
        let (met, decided) = inputs.sla.iter().fold((0, 0), |(m, d), c| (m + c.met, d + c.met + c.breached));
        let csat = lines.iter().find(|l| l.kpi.key == "csat_satisfied_share");
        let headline = Headline {
            opened: inputs.tickets,
            resolved: inputs.resolved,
            backlog_at_end: backlog_end,
            sla_compliance: (decided > 0).then(|| met as f64 / decided as f64),
            csat: csat.and_then(|l| l.kpi.value),
            csat_target: csat.and_then(|l| l.kpi.target).map(|t| t.value),
        };
        let worse = what_got_worse(&lines);
        let breaches = self.store.breaches(&this).await?;
        let stages = inputs
            .stages
            .iter()
            .map(|d| WeakStage { dwell: d.clone(), target_seconds: self.stage_target_seconds(&d.process, &d.stage) })
            .collect();
        let weakest = weakest_stages(stages, 5);
        let tags = self.store.complaint_tags(&this, 5).await?;
        let improvements = improvement_points(&lines, &weakest, &tags);
        let partners = self
            .rank_partners(this.period.expect("set").from, this.period.expect("set").to, None)
            .await?
            .into_iter()
            .map(|p| PartnerRank { name: p.partner.name, score: p.scorecard.score, grade: p.scorecard.grade, delegated: p.stats.delegated })
            .collect();
        let staff_names: std::collections::BTreeMap<_, _> = self.store.active_staff().await?.into_iter().map(|s| (s.id, s.name)).collect();
        let expiring = self
            .expiring_certifications(30)
            .await?
            .into_iter()
            .filter_map(|c| Some((staff_names.get(&c.staff_id)?.clone(), c.course_code, c.expires_at?)))
            .collect();
        let training = TrainingStanding { compliance: training_end, previous: training_before, staff_considered: considered, expiring };
        Ok(ServiceReview {
            month,
            period: month.period(),
            generated_at: now,
            headline,
            sections: vec![
                Section::Kpis(lines),
                Section::Worse(worse),
                Section::Breaches(breaches),
                Section::WeakestStages(weakest),
                Section::ComplaintTags(tags),
                Section::Partners(partners),
                Section::Training(training),
                Section::Actions(actions),
                Section::Improvements(improvements),
            ],
        })
    }

    /// The improvement actions a review of `month` follows up, each with its KPI's value in the
    /// month it came from and in `month` (`kpis`, computed from `inputs`).
    async fn follow_ups(&self, month: Month, inputs: &KpiInputs, kpis: &[Kpi], now: Timestamp) -> Result<Vec<FollowUp>, ServiceError> {
        let actions = self.store.improvements_to_follow_up(month).await?;
        if actions.is_empty() {
            return Ok(Vec::new());
        }
        let owners: Vec<_> = actions.iter().map(|a| a.owner).collect();
        let names = self.store.staff_names(&owners).await?;
        let mut then = std::collections::BTreeMap::new();
        for m in actions.iter().map(|a| a.month).collect::<std::collections::BTreeSet<_>>() {
            let (then_inputs, then_kpis) = self.month_kpis(m, now).await?;
            then.insert(m, with_overall_sla(then_kpis, &then_inputs));
        }
        let this = with_overall_sla(kpis.to_vec(), inputs);
        let at = self.now();
        Ok(actions
            .into_iter()
            .map(|action| FollowUp {
                kpi: KpiMovement::of(&action, &then[&action.month], &this),
                owner_name: names.get(&action.owner).cloned().unwrap_or_else(|| action.owner.to_string()),
                overdue: action.overdue_at(at),
                action,
            })
            .collect())
    }

    /// Running clocks past their warning threshold and not yet breached, by clock kind: what
    /// is at risk now.
    pub async fn clocks_at_risk(&self) -> Result<Vec<(String, u64)>, ServiceError> {
        Ok(self.store.clocks_at_risk().await?.into_iter().map(|a| (a.clock, a.count)).collect())
    }

    /// SLA breaches that happened in `[from, to)` by clock, stage and priority, most first.
    pub async fn breaches_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<steward_domain::kpi::BreachCount>, ServiceError> {
        Ok(self.store.breaches_between(from, to).await?)
    }

    /// Reads the gauges that come from the database and sets them. Every node reads the same
    /// rows, so nodes sharing a database report the same values.
    pub async fn refresh_metrics(&self) -> Result<(), ServiceError> {
        let open = self.store.open_tickets(&KpiFilter::default()).await?;
        let at_risk = self.store.clocks_at_risk().await?;
        let open: Vec<_> = open.into_iter().map(|b| (b.process, b.stage, b.status, b.count)).collect();
        let at_risk: Vec<_> = at_risk.into_iter().map(|a| (a.clock, a.count)).collect();
        self.metrics.set_open_tickets(&open);
        self.metrics.set_at_risk(&at_risk);
        self.metrics.set_certifications(&self.certification_counts().await?);
        let queue = self.store.webhook_queue().await?;
        let now = Timestamp::now();
        let oldest_age = queue.oldest_queued_at.map_or(0.0, |at| (now.as_millis() - at.as_millis()).max(0) as f64 / 1000.0);
        self.metrics.set_webhook_queue(queue.pending, oldest_age);
        self.metrics.set_mail_outbox_depth(self.store.mail_outbox_depth().await?);
        self.metrics.set_improvements_overdue(self.overdue_improvements().await?);
        self.metrics.set_mail_quarantine(self.store.count_inbound_mail(steward_domain::mail_inbound::InboundMailState::Quarantined).await?);
        if self.partner_metrics {
            let (from, to) = self.default_scorecard_window();
            for card in self.rank_partners(from, to, None).await? {
                self.metrics.set_partner_score(&card.partner.name, card.scorecard.score);
            }
        }
        if self.plugin_host().is_some_and(|h| !h.kpis().is_empty()) {
            let now = Timestamp::now();
            let filter = KpiFilter { period: Some(Period { from: now.plus_millis(-30 * 86_400_000), to: now }), ..KpiFilter::default() };
            let inputs = self.store.kpi_inputs(&filter).await?;
            for kpi in self.plugin_kpis(&filter, &inputs).await {
                self.metrics.set_plugin_kpi(&kpi.key, kpi.value);
            }
        }
        self.metrics.mark_refreshed(Timestamp::now().as_millis() / 1000);
        Ok(())
    }
}

/// `kpis` with SLA compliance over every clock kind together (no dimension), which the KPI set
/// has only per clock kind: what an improvement action on `sla_compliance` follows.
fn with_overall_sla(mut kpis: Vec<Kpi>, inputs: &KpiInputs) -> Vec<Kpi> {
    let (met, decided) = inputs.sla.iter().fold((0, 0), |(m, d), c| (m + c.met, d + c.met + c.breached));
    let value = (decided > 0).then(|| met as f64 / decided as f64);
    kpis.push(Kpi::new("sla_compliance", "SLA compliance", Unit::Ratio, value, decided));
    kpis
}

/// The plugin contract's aggregate input, from the same figures as the built-in KPIs.
fn plugin_kpi_input(filter: &KpiFilter, inputs: &KpiInputs) -> steward_plugin_host::KpiInput {
    let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    let seconds = |ms: Option<f64>| ms.map_or(0.0, |ms| ms / 1000.0);
    let stats = |d: &steward_domain::kpi::DurationStats| steward_plugin_host::DurationStats {
        count: count(d.count),
        mean: seconds(d.mean_ms),
        median: seconds(d.p50_ms),
        p90: seconds(d.p90_ms),
        max: seconds(d.max_ms),
    };
    let period = filter.period.unwrap_or(Period { from: Timestamp::from_millis(0), to: Timestamp::now() });
    steward_plugin_host::KpiInput {
        window_start: period.from.as_millis(),
        window_end: period.to.as_millis(),
        now: Timestamp::now().as_millis(),
        tickets_created: count(inputs.tickets),
        // Resolved at least once in the window, reopened or not: the base of a reopen rate.
        tickets_resolved: count(inputs.resolved_once),
        tickets_reopened: count(inputs.reopened),
        first_contact_resolved: count(inputs.first_contact_resolved),
        complaints: count(inputs.complaints),
        sla_breaches: count(inputs.sla.iter().map(|c| c.breached).sum()),
        backlog: count(inputs.backlog.iter().map(|b| b.count).sum()),
        first_response: stats(&inputs.first_response),
        resolution: stats(&inputs.resolution),
        csat_responses: count(inputs.csat_responses),
        csat_average: inputs.csat_mean,
    }
}
