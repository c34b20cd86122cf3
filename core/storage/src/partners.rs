//! Partners and the delegations of tickets to them.

use super::sql::{insert_rows, Cell};
use super::Operation;
use super::{col, corrupt, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use steward_domain::duration::TargetDuration;
use steward_domain::ids::{DelegationId, PartnerId, TicketId};
use steward_domain::partner::{Contract, Delegation, Partner, PartnerKind, PartnerStatus};
use steward_domain::scorecard::PartnerStats;
use steward_domain::time::Timestamp;

const PARTNER_COLUMNS: &str = "id, name, kind, contact, status, categories, contract_start, contract_end, \
     ola_first_response_secs, ola_resolution_secs, contract_calendar, created_at, updated_at";

pub(super) const DELEGATION_COLUMNS: &str =
    "id, ticket_id, partner_id, note, delegated_at, first_response_due_at, resolution_due_at, withdrawn_at";

fn secs(row: &AnyRow, name: &str) -> Result<Option<TargetDuration>, StoreError> {
    col::<Option<i64>>(row, name)?.map(|s| u64::try_from(s).map(TargetDuration::from_seconds).map_err(corrupt)).transpose()
}

fn partner_from_row(row: &AnyRow) -> Result<Partner, StoreError> {
    let id: String = col(row, "id")?;
    let categories: String = col(row, "categories")?;
    let start: Option<i64> = col(row, "contract_start")?;
    let contract = match (start, secs(row, "ola_first_response_secs")?, secs(row, "ola_resolution_secs")?) {
        (Some(start), Some(first_response), Some(resolution)) => Some(Contract {
            start: Timestamp::from_millis(start),
            end: col::<Option<i64>>(row, "contract_end")?.map(Timestamp::from_millis),
            first_response,
            resolution,
            calendar: col(row, "contract_calendar")?,
        }),
        _ => None,
    };
    Ok(Partner {
        id: PartnerId::parse("id", &id).map_err(corrupt)?,
        name: col(row, "name")?,
        kind: PartnerKind::parse("kind", &col::<String>(row, "kind")?).map_err(corrupt)?,
        contact: col(row, "contact")?,
        status: PartnerStatus::parse("status", &col::<String>(row, "status")?).map_err(corrupt)?,
        categories: serde_json::from_str(&categories).map_err(corrupt)?,
        contract,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        updated_at: Timestamp::from_millis(col(row, "updated_at")?),
    })
}

fn delegation_from_row(row: &AnyRow) -> Result<Delegation, StoreError> {
    let ts = |name: &str| col::<Option<i64>>(row, name).map(|v| v.map(Timestamp::from_millis));
    Ok(Delegation {
        id: DelegationId::parse("id", &col::<String>(row, "id")?).map_err(corrupt)?,
        ticket_id: TicketId::parse("ticket_id", &col::<String>(row, "ticket_id")?).map_err(corrupt)?,
        partner_id: PartnerId::parse("partner_id", &col::<String>(row, "partner_id")?).map_err(corrupt)?,
        note: col(row, "note")?,
        delegated_at: Timestamp::from_millis(col(row, "delegated_at")?),
        first_response_due_at: ts("first_response_due_at")?,
        resolution_due_at: ts("resolution_due_at")?,
        withdrawn_at: ts("withdrawn_at")?,
    })
}

/// Binds the fields an edit may alter, in the order the insert and the update list them.
fn bind_partner_state<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    p: &'q Partner,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let c = p.contract.as_ref();
    query
        .bind(&p.name)
        .bind(p.kind.as_str())
        .bind(&p.contact)
        .bind(p.status.as_str())
        .bind(serde_json::to_string(&p.categories).expect("strings serialise"))
        .bind(c.map(|c| c.start.as_millis()))
        .bind(c.and_then(|c| c.end).map(Timestamp::as_millis))
        .bind(secs_value(c.map(|c| c.first_response)))
        .bind(secs_value(c.map(|c| c.resolution)))
        .bind(c.and_then(|c| c.calendar.clone()))
        .bind(p.updated_at.as_millis())
}

fn secs_value(d: Option<TargetDuration>) -> Option<i64> {
    d.map(|d| i64::try_from(d.as_seconds()).unwrap_or(i64::MAX))
}

impl Store {
    pub async fn insert_partner(&self, p: &Partner) -> Result<(), StoreError> {
        Operation("insert_partner")
            .run(async {
                let insert = sqlx::query(
                    "INSERT INTO partners (id, created_at, name, kind, contact, status, categories, contract_start, contract_end, \
                 ola_first_response_secs, ola_resolution_secs, contract_calendar, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(p.id.to_string())
                .bind(p.created_at.as_millis());
                bind_partner_state(insert, p).execute(self.pool()).await?;
                Ok(())
            })
            .await
    }

    /// Returns false when no such partner exists.
    pub async fn update_partner(&self, p: &Partner) -> Result<bool, StoreError> {
        Operation("update_partner")
            .run(async {
                let update = sqlx::query(
                    "UPDATE partners SET name = $2, kind = $3, contact = $4, status = $5, categories = $6, contract_start = $7, \
                 contract_end = $8, ola_first_response_secs = $9, ola_resolution_secs = $10, contract_calendar = $11, \
                 updated_at = $12 WHERE id = $1",
                )
                .bind(p.id.to_string());
                let done = bind_partner_state(update, p).execute(self.pool()).await?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }

    pub async fn get_partner(&self, id: PartnerId) -> Result<Option<Partner>, StoreError> {
        Operation("get_partner")
            .run(async {
                let row = sqlx::query(&format!("SELECT {PARTNER_COLUMNS} FROM partners WHERE id = $1"))
                    .bind(id.to_string())
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(partner_from_row).transpose()
            })
            .await
    }

    pub async fn list_partners(&self) -> Result<Vec<Partner>, StoreError> {
        Operation("list_partners")
            .run(async {
                let rows = sqlx::query(&format!("SELECT {PARTNER_COLUMNS} FROM partners ORDER BY id")).fetch_all(self.pool()).await?;
                rows.iter().map(partner_from_row).collect()
            })
            .await
    }

    /// Returns false when no such partner exists; [`StoreError::ForeignKey`] when delegations
    /// or tokens still refer to it.
    pub async fn delete_partner(&self, id: PartnerId) -> Result<bool, StoreError> {
        Operation("delete_partner")
            .run(async {
                let done = sqlx::query("DELETE FROM partners WHERE id = $1").bind(id.to_string()).execute(self.pool()).await?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }

    /// The ticket's active delegation, if any.
    pub async fn active_delegation(&self, ticket: TicketId) -> Result<Option<Delegation>, StoreError> {
        Operation("active_delegation")
            .run(async {
                let row = sqlx::query(&format!(
                    "SELECT {DELEGATION_COLUMNS} FROM ticket_delegations WHERE ticket_id = $1 AND withdrawn_at IS NULL"
                ))
                .bind(ticket.to_string())
                .fetch_optional(self.pool())
                .await?;
                row.as_ref().map(delegation_from_row).transpose()
            })
            .await
    }
}

/// Delegations of partner `$1` made in `[$2, $3)`, joined to their tickets.
const WINDOW: &str = "ticket_delegations d JOIN tickets t ON t.id = d.ticket_id \
     WHERE d.partner_id = $1 AND d.delegated_at >= $2 AND d.delegated_at < $3";

fn count(row: &AnyRow, name: &str) -> Result<u64, StoreError> {
    Ok(u64::try_from(col::<Option<i64>>(row, name)?.unwrap_or(0)).unwrap_or(0))
}

impl Store {
    /// A partner's statistics over delegations made in `[from, to)`, all computed by aggregate
    /// SQL (the p90 by one indexed ORDER BY … OFFSET), never by loading the tickets.
    pub async fn partner_stats(
        &self,
        partner: PartnerId,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<PartnerStats, StoreError> {
        Operation("partner_stats")
            .run(async {
            let (p, f, t) = (partner.to_string(), from.as_millis(), to.as_millis());
            let row = sqlx::query(&format!(
                "SELECT COUNT(*) AS delegated, \
                 SUM(CASE WHEN d.resolution_due_at IS NOT NULL AND (t.resolved_at IS NOT NULL OR d.resolution_due_at <= $4) THEN 1 ELSE 0 END) AS ola_due, \
                 SUM(CASE WHEN d.resolution_due_at IS NOT NULL AND t.resolved_at IS NOT NULL AND t.resolved_at <= d.resolution_due_at THEN 1 ELSE 0 END) AS ola_met, \
                 SUM(CASE WHEN t.resolved_at >= d.delegated_at THEN 1 ELSE 0 END) AS resolved, \
                 AVG(CAST(CASE WHEN t.resolved_at >= d.delegated_at THEN t.resolved_at - d.delegated_at END AS DOUBLE PRECISION)) AS mean_ms \
                 FROM {WINDOW}"
            ))
            .bind(&p)
            .bind(f)
            .bind(t)
            .bind(now.as_millis())
            .fetch_one(self.pool())
            .await?;
            let resolved = count(&row, "resolved")?;
            let mean: Option<f64> = mean_column(&row, "mean_ms")?;
            let mut stats = PartnerStats {
                partner_id: Some(partner),
                from: Some(from),
                to: Some(to),
                delegated: count(&row, "delegated")?,
                ola_due: count(&row, "ola_due")?,
                ola_met: count(&row, "ola_met")?,
                resolved,
                mean_resolution_ms: mean.map(|m| m.round() as i64),
                ..PartnerStats::default()
            };
            if resolved > 0 {
                // The nearest-rank 90th percentile.
                let rank = (resolved * 9).div_ceil(10).max(1) - 1;
                stats.p90_resolution_ms = sqlx::query_scalar(&format!(
                    "SELECT t.resolved_at - d.delegated_at FROM {WINDOW} AND t.resolved_at >= d.delegated_at \
                     ORDER BY t.resolved_at - d.delegated_at LIMIT 1 OFFSET $4"
                ))
                .bind(&p)
                .bind(f)
                .bind(t)
                .bind(i64::try_from(rank).unwrap_or(i64::MAX))
                .fetch_optional(self.pool())
                .await?;
            }
            let row = sqlx::query(&format!(
                "SELECT COUNT(s.score) AS answers, AVG(CAST(s.score AS DOUBLE PRECISION)) AS mean FROM surveys s \
                 WHERE s.score IS NOT NULL AND s.ticket_id IN (SELECT d.ticket_id FROM {WINDOW})"
            ))
            .bind(&p)
            .bind(f)
            .bind(t)
            .fetch_one(self.pool())
            .await?;
            stats.csat_answers = count(&row, "answers")?;
            stats.csat_mean = mean_column(&row, "mean")?;
            stats.complaints = sqlx::query_scalar::<_, i64>(&format!(
                "SELECT COUNT(*) FROM tickets c WHERE c.kind = $4 AND c.origin_ticket_id IN (SELECT d.ticket_id FROM {WINDOW})"
            ))
            .bind(&p)
            .bind(f)
            .bind(t)
            .bind("complaint")
            .fetch_one(self.pool())
            .await?
            .max(0) as u64;
            stats.reopens = sqlx::query_scalar::<_, i64>(&format!(
                "SELECT COUNT(*) FROM ticket_events e, {WINDOW} AND e.ticket_id = d.ticket_id AND e.kind = $4 AND e.at >= d.delegated_at"
            ))
            .bind(&p)
            .bind(f)
            .bind(t)
            .bind("reopened")
            .fetch_one(self.pool())
            .await?
            .max(0) as u64;
            Ok(stats)
            })
            .await
    }
}

/// An AVG over a DOUBLE PRECISION cast (PostgreSQL would answer NUMERIC for integers, which
/// the Any driver cannot read); SQLite may still hand back an integer.
fn mean_column(row: &AnyRow, name: &str) -> Result<Option<f64>, StoreError> {
    use sqlx::Row;
    match row.try_get::<Option<f64>, _>(name) {
        Ok(v) => Ok(v),
        Err(_) => col::<Option<i64>>(row, name).map(|v| v.map(|v| v as f64)),
    }
}

pub(super) fn delegation_row(d: &Delegation) -> Vec<Cell> {
    vec![
        d.id.to_string().into(),
        d.ticket_id.to_string().into(),
        d.partner_id.to_string().into(),
        d.note.clone().into(),
        d.delegated_at.as_millis().into(),
        d.first_response_due_at.map(Timestamp::as_millis).into(),
        d.resolution_due_at.map(Timestamp::as_millis).into(),
        d.withdrawn_at.map(Timestamp::as_millis).into(),
    ]
}

pub(super) async fn insert_delegation(tx: &mut Transaction<'static, Any>, d: &Delegation) -> Result<(), StoreError> {
    insert_rows(tx, "ticket_delegations", DELEGATION_COLUMNS, vec![delegation_row(d)], "").await?;
    Ok(())
}

pub(super) async fn withdraw_delegation(tx: &mut Transaction<'static, Any>, ticket: TicketId, at: Timestamp) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE ticket_delegations SET withdrawn_at = $2 WHERE ticket_id = $1 AND withdrawn_at IS NULL")
        .bind(ticket.to_string())
        .bind(at.as_millis())
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::AlreadyDone("the ticket is not delegated"));
    }
    Ok(())
}
