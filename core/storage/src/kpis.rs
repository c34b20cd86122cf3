//! Aggregates for KPIs, the monthly review and the database-derived metrics gauges.
//!
//! Every figure is one aggregate statement; nothing here reads tickets row by row. The ticket
//! population of a period is an id range on the primary key (ids are time-ordered), narrowed by
//! the usual filter indexes. Percentiles are read by rank: `ORDER BY duration LIMIT 1 OFFSET k`
//! (exact nearest-rank; the database sorts, served by the expression indexes of migration 5
//! when no other filter applies). SUM and AVG are CAST to BIGINT / DOUBLE PRECISION because
//! PostgreSQL returns NUMERIC for them, which the Any driver cannot decode.

use super::sql::{Bind, Conditions};
use super::Operation;
use super::{col, Store, StoreError};
use steward_domain::ids::TicketId;
use steward_domain::kpi::{
    percentile_offset, BacklogCount, BreachCount, ClockCompliance, DurationStats, GroupBy, KpiFilter, KpiInputs, Period, StageDwell,
};

/// Running clocks past their warning threshold, not yet breached, by clock kind.
#[derive(Debug, Clone, PartialEq)]
pub struct AtRisk {
    pub clock: String,
    pub count: u64,
}

fn u(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The filter as conditions on `tickets t`; the period only when `with_period`.
fn conditions(filter: &KpiFilter, with_period: bool) -> Conditions {
    let mut c = Conditions::default();
    if let (true, Some(Period { from, to })) = (with_period, filter.period) {
        c.push("t.id >= {}", Bind::Text(TicketId::lower_bound_at(from)));
        c.push("t.id < {}", Bind::Text(TicketId::lower_bound_at(to)));
    }
    if let Some(v) = &filter.process {
        c.push("t.process = {}", Bind::Text(v.clone()));
    }
    if let Some(v) = filter.channel {
        c.push("t.channel = {}", Bind::Text(v.as_str().to_owned()));
    }
    if let Some(v) = filter.priority {
        c.push("t.priority = {}", Bind::Text(v.as_str().to_owned()));
    }
    if let Some(v) = &filter.tier {
        c.push("t.customer_tier = {}", Bind::Text(v.clone()));
    }
    if let Some(v) = filter.assignee {
        c.push("t.assignee_id = {}", Bind::Text(v.to_string()));
    }
    if let Some(v) = &filter.team {
        c.push("t.assignee_id IN (SELECT s.id FROM staff s WHERE s.team = {})", Bind::Text(v.clone()));
    }
    if let Some(v) = filter.partner {
        c.push(
            "t.id IN (SELECT d.ticket_id FROM ticket_delegations d WHERE d.partner_id = {} AND d.withdrawn_at IS NULL)",
            Bind::Text(v.to_string()),
        );
    }
    c
}

impl Store {
    /// Everything the built-in KPIs need, in a handful of aggregate statements.
    pub async fn kpi_inputs(&self, filter: &KpiFilter) -> Result<KpiInputs, StoreError> {
        Operation("kpi_inputs")
            .run(async {
            let mut out = KpiInputs::default();
            let c = conditions(filter, true);
            let sql = format!(
                "SELECT COUNT(*) AS tickets, \
                 CAST(COALESCE(SUM(CASE WHEN t.resolved_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS resolved, \
                 CAST(COALESCE(SUM(CASE WHEN t.resolved_at IS NOT NULL OR t.reopen_count > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS resolved_once, \
                 CAST(COALESCE(SUM(CASE WHEN t.reopen_count > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS reopened, \
                 CAST(COALESCE(SUM(CASE WHEN t.kind = 'complaint' THEN 1 ELSE 0 END), 0) AS BIGINT) AS complaints, \
                 CAST(COALESCE(SUM(CASE WHEN t.resolved_at IS NOT NULL AND t.reopen_count = 0 AND t.staff_replies <= 1 \
                      THEN 1 ELSE 0 END), 0) AS BIGINT) AS fcr \
                 FROM tickets t {}",
                c.where_sql()
            );
            let row = c.bind_all(sqlx::query(&sql)).fetch_one(self.pool()).await?;
            out.tickets = u(col(&row, "tickets")?);
            out.resolved = u(col(&row, "resolved")?);
            out.resolved_once = u(col(&row, "resolved_once")?);
            out.reopened = u(col(&row, "reopened")?);
            out.complaints = u(col(&row, "complaints")?);
            out.first_contact_resolved = u(col(&row, "fcr")?);

            out.first_response = self.duration_stats(filter, "t.first_response_at").await?;
            out.resolution = self.duration_stats(filter, "t.resolved_at").await?;

            let mut c = conditions(filter, true);
            c.and("s.answered_at IS NOT NULL");
            let sql = format!(
                "SELECT COUNT(*) AS n, CAST(AVG(s.score) AS DOUBLE PRECISION) AS mean, \
                 CAST(COALESCE(SUM(CASE WHEN s.score >= 4 THEN 1 ELSE 0 END), 0) AS BIGINT) AS satisfied \
                 FROM surveys s JOIN tickets t ON t.id = s.ticket_id {}",
                c.where_sql()
            );
            let row = c.bind_all(sqlx::query(&sql)).fetch_one(self.pool()).await?;
            out.csat_responses = u(col(&row, "n")?);
            out.csat_mean = col(&row, "mean")?;
            out.csat_satisfied = u(col(&row, "satisfied")?);

            let c = conditions(filter, true);
            let sql = format!(
                "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(CASE WHEN r.outcome = 'pass' THEN 1 ELSE 0 END), 0) AS BIGINT) AS passed \
                 FROM ticket_reviews r JOIN tickets t ON t.id = r.ticket_id {}",
                c.where_sql()
            );
            let row = c.bind_all(sqlx::query(&sql)).fetch_one(self.pool()).await?;
            out.reviews = u(col(&row, "n")?);
            out.reviews_passed = u(col(&row, "passed")?);

            let c = conditions(filter, true);
            let sql = format!(
                "SELECT c.kind AS kind, \
                 CAST(COALESCE(SUM(CASE WHEN c.breached_at IS NULL AND c.stopped_at IS NOT NULL AND NOT c.not_applicable THEN 1 ELSE 0 END), 0) AS BIGINT) AS met, \
                 CAST(COALESCE(SUM(CASE WHEN c.breached_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS breached \
                 FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id {} GROUP BY c.kind ORDER BY c.kind",
                c.where_sql()
            );
            for row in c.bind_all(sqlx::query(&sql)).fetch_all(self.pool()).await? {
                out.sla.push(ClockCompliance { kind: col(&row, "kind")?, met: u(col(&row, "met")?), breached: u(col(&row, "breached")?) });
            }

            let mut c = conditions(filter, true);
            c.and("c.kind = 'stage'");
            c.and("c.stage IS NOT NULL");
            let sql = format!(
                "SELECT t.process AS process, c.stage AS stage, \
                 CAST(COALESCE(SUM(CASE WHEN c.stopped_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS completed, \
                 CAST(AVG(CASE WHEN c.stopped_at IS NOT NULL THEN c.elapsed_ms END) AS DOUBLE PRECISION) AS mean_ms, \
                 CAST(COALESCE(SUM(CASE WHEN c.breached_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS breached \
                 FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id {} GROUP BY t.process, c.stage ORDER BY t.process, c.stage",
                c.where_sql()
            );
            for row in c.bind_all(sqlx::query(&sql)).fetch_all(self.pool()).await? {
                out.stages.push(StageDwell {
                    process: col(&row, "process")?,
                    stage: col(&row, "stage")?,
                    completed: u(col(&row, "completed")?),
                    mean_ms: col(&row, "mean_ms")?,
                    breached: u(col(&row, "breached")?),
                });
            }

            out.backlog = self.open_tickets(filter).await?;
            Ok(out)
            })
            .await
    }

    /// Count, mean and p50/p90 of `end - t.created_at` over the period's tickets where `end`
    /// is set: one aggregate and one rank read per percentile.
    async fn duration_stats(&self, filter: &KpiFilter, end: &str) -> Result<DurationStats, StoreError> {
        let expr = format!("({end} - t.created_at)");
        let mut c = conditions(filter, true);
        c.and(&format!("{end} IS NOT NULL"));
        let sql = format!(
            "SELECT COUNT(*) AS n, CAST(AVG({expr}) AS DOUBLE PRECISION) AS mean, CAST(MAX({expr}) AS BIGINT) AS longest FROM tickets t {}",
            c.where_sql()
        );
        let row = c.bind_all(sqlx::query(&sql)).fetch_one(self.pool()).await?;
        let longest: Option<i64> = col(&row, "longest")?;
        let mut stats = DurationStats {
            count: u(col(&row, "n")?),
            mean_ms: col(&row, "mean")?,
            max_ms: longest.map(|l| l as f64),
            ..DurationStats::default()
        };
        for (p, slot) in [(0.5, &mut stats.p50_ms), (0.9, &mut stats.p90_ms)] {
            let Some(offset) = percentile_offset(stats.count, p) else { continue };
            let mut c = conditions(filter, true);
            c.and(&format!("{end} IS NOT NULL"));
            let offset = c.placeholder(Bind::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
            let sql = format!("SELECT {expr} AS d FROM tickets t {} ORDER BY d LIMIT 1 OFFSET {offset}", c.where_sql());
            let row = c.bind_all(sqlx::query(&sql)).fetch_optional(self.pool()).await?;
            *slot = row.map(|r| col::<i64>(&r, "d")).transpose()?.map(|d| d as f64);
        }
        Ok(stats)
    }

    /// Open tickets (not resolved or closed) by process, stage and status, matching the
    /// filter's dimensions whenever they were opened (status index).
    pub async fn open_tickets(&self, filter: &KpiFilter) -> Result<Vec<BacklogCount>, StoreError> {
        Operation("open_tickets")
            .run(async {
                let mut c = conditions(filter, false);
                c.and("t.status IN ('open', 'waiting_customer', 'waiting_partner')");
                let sql = format!(
                    "SELECT t.process AS process, t.stage AS stage, t.status AS status, COUNT(*) AS n FROM tickets t {} \
                 GROUP BY t.process, t.stage, t.status ORDER BY t.process, t.stage, t.status",
                    c.where_sql()
                );
                c.bind_all(sqlx::query(&sql))
                    .fetch_all(self.pool())
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(BacklogCount {
                            process: col(row, "process")?,
                            stage: col(row, "stage")?,
                            status: col(row, "status")?,
                            count: u(col(row, "n")?),
                        })
                    })
                    .collect()
            })
            .await
    }

    /// Tickets matching the filter's dimensions that were open at `at`: opened before it and
    /// neither resolved nor closed then. The status a ticket had at `at` comes from its
    /// timeline (the last `status_changed` event before `at`; none: open, as created), so a
    /// ticket resolved or reopened later does not change the figure. A ticket not changed since
    /// `at` (`updated_at`, the instant of its latest change, is before it) needs no look at its
    /// timeline: its status now is its status then.
    pub async fn backlog_at(&self, filter: &KpiFilter, at: steward_domain::time::Timestamp) -> Result<u64, StoreError> {
        Operation("backlog_at")
            .run(async {
                let mut c = conditions(filter, false);
                c.push("t.id < {}", Bind::Text(TicketId::lower_bound_at(at)));
                let (changed_by, before) = (c.placeholder(Bind::Int(at.as_millis())), c.placeholder(Bind::Int(at.as_millis())));
                let status_then = format!(
                    "(SELECT {to} FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind = 'status_changed' AND e.at < {before} \
                     ORDER BY e.seq DESC LIMIT 1)",
                    to = self.backend.json_text("e.data", "to")
                );
                c.and(&format!(
                    "(CASE WHEN t.updated_at < {changed_by} THEN t.status ELSE COALESCE({status_then}, 'open') END) NOT IN ('resolved', 'closed')"
                ));
                let sql = format!("SELECT COUNT(*) AS n FROM tickets t {}", c.where_sql());
                let row = c.bind_all(sqlx::query(&sql)).fetch_one(self.pool()).await?;
                Ok(u(col(&row, "n")?))
            })
            .await
    }

    /// The values a dimension takes among the filter's tickets (at most 100), for `group_by`.
    pub async fn group_values(&self, filter: &KpiFilter, group: GroupBy) -> Result<Vec<String>, StoreError> {
        Operation("group_values")
            .run(async {
                let (column, join) = match group {
                    GroupBy::Process => ("t.process", ""),
                    GroupBy::Channel => ("t.channel", ""),
                    GroupBy::Priority => ("t.priority", ""),
                    GroupBy::Tier => ("t.customer_tier", ""),
                    GroupBy::Assignee => ("t.assignee_id", ""),
                    GroupBy::Team => ("s.team", "JOIN staff s ON s.id = t.assignee_id"),
                    GroupBy::Partner => ("d.partner_id", "JOIN ticket_delegations d ON d.ticket_id = t.id AND d.withdrawn_at IS NULL"),
                };
                let mut c = conditions(filter, true);
                c.and(&format!("{column} IS NOT NULL"));
                let sql = format!("SELECT DISTINCT {column} AS v FROM tickets t {join} {} ORDER BY v LIMIT 100", c.where_sql());
                c.bind_all(sqlx::query(&sql)).fetch_all(self.pool()).await?.iter().map(|row| col(row, "v")).collect()
            })
            .await
    }

    /// SLA breaches of the period's tickets by clock, stage and priority, most first.
    pub async fn breaches(&self, filter: &KpiFilter) -> Result<Vec<BreachCount>, StoreError> {
        Operation("breaches")
            .run(async {
                let mut c = conditions(filter, true);
                c.and("c.breached_at IS NOT NULL");
                let sql = format!(
                    "SELECT c.kind AS kind, t.process AS process, c.stage AS stage, t.priority AS priority, COUNT(*) AS n \
                 FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id {} \
                 GROUP BY c.kind, t.process, c.stage, t.priority ORDER BY n DESC, c.kind, t.process, c.stage, t.priority",
                    c.where_sql()
                );
                c.bind_all(sqlx::query(&sql))
                    .fetch_all(self.pool())
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(BreachCount {
                            clock: col(row, "kind")?,
                            process: col(row, "process")?,
                            stage: col(row, "stage")?,
                            priority: col(row, "priority")?,
                            count: u(col(row, "n")?),
                        })
                    })
                    .collect()
            })
            .await
    }

    /// The most frequent tags of the period's complaints.
    pub async fn complaint_tags(&self, filter: &KpiFilter, limit: u32) -> Result<Vec<(String, u64)>, StoreError> {
        Operation("complaint_tags")
            .run(async {
                let mut c = conditions(filter, true);
                c.and("t.kind = 'complaint'");
                let limit = c.placeholder(Bind::Int(i64::from(limit)));
                let sql = format!(
                    "SELECT tt.tag AS tag, COUNT(*) AS n FROM ticket_tags tt JOIN tickets t ON t.id = tt.ticket_id {} \
                 GROUP BY tt.tag ORDER BY n DESC, tt.tag LIMIT {limit}",
                    c.where_sql()
                );
                c.bind_all(sqlx::query(&sql))
                    .fetch_all(self.pool())
                    .await?
                    .iter()
                    .map(|row| Ok((col(row, "tag")?, u(col(row, "n")?))))
                    .collect()
            })
            .await
    }

    /// SLA breaches that happened in `[from, to)`, whenever their tickets were opened, by clock,
    /// stage and priority, most first (served by the partial index on `breached_at`).
    pub async fn breaches_between(
        &self,
        from: steward_domain::time::Timestamp,
        to: steward_domain::time::Timestamp,
    ) -> Result<Vec<BreachCount>, StoreError> {
        Operation("breaches_between")
            .run(async {
                let mut c = Conditions::default();
                c.push("c.breached_at >= {}", Bind::Int(from.as_millis()));
                c.push("c.breached_at < {}", Bind::Int(to.as_millis()));
                let sql = format!(
                    "SELECT c.kind AS kind, t.process AS process, c.stage AS stage, t.priority AS priority, COUNT(*) AS n \
                 FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id {} \
                 GROUP BY c.kind, t.process, c.stage, t.priority ORDER BY n DESC, c.kind, t.process, c.stage, t.priority",
                    c.where_sql()
                );
                c.bind_all(sqlx::query(&sql))
                    .fetch_all(self.pool())
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(BreachCount {
                            clock: col(row, "kind")?,
                            process: col(row, "process")?,
                            stage: col(row, "stage")?,
                            priority: col(row, "priority")?,
                            count: u(col(row, "n")?),
                        })
                    })
                    .collect()
            })
            .await
    }

    /// Running or paused clocks that passed their warning threshold and are not breached
    /// (partial index of clocks not stopped).
    pub async fn clocks_at_risk(&self) -> Result<Vec<AtRisk>, StoreError> {
        Operation("clocks_at_risk")
            .run(async {
                let rows = sqlx::query(
                    "SELECT c.kind AS kind, COUNT(*) AS n FROM sla_clocks c WHERE c.stopped_at IS NULL AND c.breached_at IS NULL \
                 AND c.alerted LIKE '%\"warning\"%' GROUP BY c.kind ORDER BY c.kind",
                )
                .fetch_all(self.pool())
                .await?;
                rows.iter().map(|row| Ok(AtRisk { clock: col(row, "kind")?, count: u(col(row, "n")?) })).collect()
            })
            .await
    }
}
