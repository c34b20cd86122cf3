//! Partners and the delegations of tickets to them.

use super::{col, corrupt, Store, StoreError};
use crate::domain::duration::TargetDuration;
use crate::domain::ids::{DelegationId, PartnerId, TicketId};
use crate::domain::partner::{Contract, Delegation, Partner, PartnerKind, PartnerStatus};
use crate::domain::time::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

const PARTNER_COLUMNS: &str = "id, name, kind, contact, status, categories, contract_start, contract_end, \
     ola_first_response_secs, ola_resolution_secs, contract_calendar, created_at, updated_at";

const DELEGATION_COLUMNS: &str = "id, ticket_id, partner_id, note, delegated_at, first_response_due_at, resolution_due_at, withdrawn_at";

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

fn secs_value(d: Option<TargetDuration>) -> Option<i64> {
    d.map(|d| i64::try_from(d.as_seconds()).unwrap_or(i64::MAX))
}

impl Store {
    pub async fn insert_partner(&self, p: &Partner) -> Result<(), StoreError> {
        let c = p.contract.as_ref();
        sqlx::query(&format!("INSERT INTO partners ({PARTNER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"))
            .bind(p.id.to_string())
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
            .bind(p.created_at.as_millis())
            .bind(p.updated_at.as_millis())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Returns false when no such partner exists.
    pub async fn update_partner(&self, p: &Partner) -> Result<bool, StoreError> {
        let c = p.contract.as_ref();
        let done = sqlx::query(
            "UPDATE partners SET name = $2, kind = $3, contact = $4, status = $5, categories = $6, contract_start = $7, \
             contract_end = $8, ola_first_response_secs = $9, ola_resolution_secs = $10, contract_calendar = $11, \
             updated_at = $12 WHERE id = $1",
        )
        .bind(p.id.to_string())
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
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn get_partner(&self, id: PartnerId) -> Result<Option<Partner>, StoreError> {
        let row = sqlx::query(&format!("SELECT {PARTNER_COLUMNS} FROM partners WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(partner_from_row).transpose()
    }

    pub async fn list_partners(&self) -> Result<Vec<Partner>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {PARTNER_COLUMNS} FROM partners ORDER BY id")).fetch_all(self.pool()).await?;
        rows.iter().map(partner_from_row).collect()
    }

    /// Returns false when no such partner exists; [`StoreError::ForeignKey`] when delegations
    /// or tokens still refer to it.
    pub async fn delete_partner(&self, id: PartnerId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM partners WHERE id = $1").bind(id.to_string()).execute(self.pool()).await?;
        Ok(done.rows_affected() == 1)
    }

    /// The ticket's active delegation, if any.
    pub async fn active_delegation(&self, ticket: TicketId) -> Result<Option<Delegation>, StoreError> {
        let row =
            sqlx::query(&format!("SELECT {DELEGATION_COLUMNS} FROM ticket_delegations WHERE ticket_id = $1 AND withdrawn_at IS NULL"))
                .bind(ticket.to_string())
                .fetch_optional(self.pool())
                .await?;
        row.as_ref().map(delegation_from_row).transpose()
    }
}

pub(super) async fn insert_delegation(tx: &mut Transaction<'static, Any>, d: &Delegation) -> Result<(), StoreError> {
    sqlx::query(&format!("INSERT INTO ticket_delegations ({DELEGATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
        .bind(d.id.to_string())
        .bind(d.ticket_id.to_string())
        .bind(d.partner_id.to_string())
        .bind(&d.note)
        .bind(d.delegated_at.as_millis())
        .bind(d.first_response_due_at.map(Timestamp::as_millis))
        .bind(d.resolution_due_at.map(Timestamp::as_millis))
        .bind(d.withdrawn_at.map(Timestamp::as_millis))
        .execute(&mut **tx)
        .await?;
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
