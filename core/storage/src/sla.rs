//! SLA policies and calendars (as JSON specs), ticket clocks and their alerts.

use super::sql::{insert_rows, Cell};
use super::Operation;
use super::{col, col_bool, corrupt, Backend, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use steward_domain::clock::{Clock, ClockKind};
use steward_domain::ids::{ClockId, TicketId};
use steward_domain::sla::CalendarSource;
use steward_domain::sla_engine::{AlertRecord, TicketClock};
use steward_domain::time::Timestamp;

/// The two catalogs kept as validated JSON specs by key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catalog {
    Calendars,
    Policies,
}

impl Catalog {
    fn table(self) -> &'static str {
        match self {
            Catalog::Calendars => "calendars",
            Catalog::Policies => "sla_policies",
        }
    }
}

pub(super) const CLOCK_COLUMNS: &str = "id, ticket_id, kind, stage, policy_key, target_ms, calendar_key, started_at, elapsed_ms, \
     segment_from, stopped_at, breached_at, pauses, alerted, next_check_at, due_at, calendar_source, not_applicable";

fn ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp::from_millis)
}

pub(super) fn clock_from_row(row: &AnyRow) -> Result<TicketClock, StoreError> {
    let id: String = col(row, "id")?;
    let ticket: String = col(row, "ticket_id")?;
    let kind: String = col(row, "kind")?;
    let pauses: String = col(row, "pauses")?;
    let alerted: String = col(row, "alerted")?;
    let source: String = col(row, "calendar_source")?;
    Ok(TicketClock {
        id: ClockId::parse("id", &id).map_err(corrupt)?,
        ticket_id: TicketId::parse("ticket_id", &ticket).map_err(corrupt)?,
        stage: col(row, "stage")?,
        policy_key: col(row, "policy_key")?,
        clock: Clock {
            kind: ClockKind::parse("kind", &kind).map_err(corrupt)?,
            target_ms: col(row, "target_ms")?,
            calendar_key: col(row, "calendar_key")?,
            started_at: Timestamp::from_millis(col(row, "started_at")?),
            elapsed_ms: col(row, "elapsed_ms")?,
            segment_from: ts(col(row, "segment_from")?),
            stopped_at: ts(col(row, "stopped_at")?),
            breached_at: ts(col(row, "breached_at")?),
            pauses: serde_json::from_str(&pauses).map_err(corrupt)?,
            not_applicable: col_bool(row, "not_applicable")?,
        },
        calendar_source: CalendarSource::parse("calendar_source", &source).map_err(corrupt)?,
        alerted: serde_json::from_str(&alerted).map_err(corrupt)?,
        next_check_at: ts(col(row, "next_check_at")?),
        due_at: ts(col(row, "due_at")?),
    })
}

impl Store {
    /// Every entry of a catalog as (key, spec JSON), by key.
    pub async fn catalog_entries(&self, catalog: Catalog) -> Result<Vec<(String, String)>, StoreError> {
        Operation("catalog_entries")
            .run(async {
                let rows = sqlx::query(&format!("SELECT key, spec FROM {} ORDER BY key", catalog.table())).fetch_all(self.pool()).await?;
                rows.iter().map(|r| Ok((col(r, "key")?, col(r, "spec")?))).collect()
            })
            .await
    }

    /// Adds an entry; [`StoreError::Duplicate`] when the key exists.
    pub async fn insert_catalog_entry(&self, catalog: Catalog, key: &str, spec: &str, now: Timestamp) -> Result<(), StoreError> {
        Operation("insert_catalog_entry")
            .run(async {
                sqlx::query(&format!("INSERT INTO {} (key, spec, created_at, updated_at) VALUES ($1, $2, $3, $3)", catalog.table()))
                    .bind(key)
                    .bind(spec)
                    .bind(now.as_millis())
                    .execute(self.pool())
                    .await?;
                Ok(())
            })
            .await
    }

    /// Adds an entry unless the key exists (seeding from configuration); returns whether it did.
    pub async fn seed_catalog_entry(&self, catalog: Catalog, key: &str, spec: &str, now: Timestamp) -> Result<bool, StoreError> {
        Operation("seed_catalog_entry")
            .run(async {
                let done = sqlx::query(&format!(
                    "INSERT INTO {} (key, spec, created_at, updated_at) VALUES ($1, $2, $3, $3) ON CONFLICT (key) DO NOTHING",
                    catalog.table()
                ))
                .bind(key)
                .bind(spec)
                .bind(now.as_millis())
                .execute(self.pool())
                .await?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }

    /// Replaces an entry's spec; returns false when the key does not exist.
    pub async fn replace_catalog_entry(&self, catalog: Catalog, key: &str, spec: &str, now: Timestamp) -> Result<bool, StoreError> {
        Operation("replace_catalog_entry")
            .run(async {
                let done = sqlx::query(&format!("UPDATE {} SET spec = $2, updated_at = $3 WHERE key = $1", catalog.table()))
                    .bind(key)
                    .bind(spec)
                    .bind(now.as_millis())
                    .execute(self.pool())
                    .await?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }

    pub async fn delete_catalog_entry(&self, catalog: Catalog, key: &str) -> Result<bool, StoreError> {
        Operation("delete_catalog_entry")
            .run(async {
                let done = sqlx::query(&format!("DELETE FROM {} WHERE key = $1", catalog.table())).bind(key).execute(self.pool()).await?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }

    /// Clocks not yet stopped (running or paused).
    pub async fn running_clock_count(&self) -> Result<i64, StoreError> {
        Operation("running_clock_count")
            .run(async { Ok(sqlx::query_scalar("SELECT COUNT(*) FROM sla_clocks WHERE stopped_at IS NULL").fetch_one(self.pool()).await?) })
            .await
    }

    pub async fn ticket_clocks(&self, ticket: TicketId) -> Result<Vec<TicketClock>, StoreError> {
        Operation("ticket_clocks")
            .run(async {
                let rows = sqlx::query(&format!("SELECT {CLOCK_COLUMNS} FROM sla_clocks WHERE ticket_id = $1 ORDER BY id"))
                    .bind(ticket.to_string())
                    .fetch_all(self.pool())
                    .await?;
                rows.iter().map(clock_from_row).collect()
            })
            .await
    }

    /// Tickets with a clock whose next alert is due by `now`, soonest first (index on
    /// next_check_at; never a scan of open tickets).
    pub async fn tickets_with_due_clocks(&self, now: Timestamp, limit: u32) -> Result<Vec<TicketId>, StoreError> {
        Operation("tickets_with_due_clocks")
            .run(async {
                let rows = sqlx::query(
                "SELECT ticket_id FROM sla_clocks WHERE next_check_at IS NOT NULL AND next_check_at <= $1 ORDER BY next_check_at LIMIT $2",
            )
            .bind(now.as_millis())
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
                let mut ids: Vec<TicketId> = Vec::with_capacity(rows.len());
                for row in &rows {
                    let id = TicketId::parse("ticket_id", &col::<String>(row, "ticket_id")?).map_err(corrupt)?;
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                Ok(ids)
            })
            .await
    }
}

pub(super) async fn load_clocks(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    ticket: TicketId,
) -> Result<Vec<TicketClock>, StoreError> {
    let sql = format!("SELECT {CLOCK_COLUMNS} FROM sla_clocks WHERE ticket_id = $1 ORDER BY id{}", backend.lock_rows());
    let rows = sqlx::query(&sql).bind(ticket.to_string()).fetch_all(&mut **tx).await?;
    rows.iter().map(clock_from_row).collect()
}

pub(super) fn clock_row(c: &TicketClock) -> Vec<Cell> {
    vec![
        c.id.to_string().into(),
        c.ticket_id.to_string().into(),
        c.clock.kind.as_str().into(),
        c.stage.clone().into(),
        c.policy_key.clone().into(),
        c.clock.target_ms.into(),
        c.clock.calendar_key.as_str().into(),
        c.clock.started_at.as_millis().into(),
        c.clock.elapsed_ms.into(),
        c.clock.segment_from.map(Timestamp::as_millis).into(),
        c.clock.stopped_at.map(Timestamp::as_millis).into(),
        c.clock.breached_at.map(Timestamp::as_millis).into(),
        serde_json::to_string(&c.clock.pauses).expect("plain data").into(),
        serde_json::to_string(&c.alerted).expect("plain data").into(),
        c.next_check_at.map(Timestamp::as_millis).into(),
        c.due_at.map(Timestamp::as_millis).into(),
        c.calendar_source.as_str().into(),
        c.clock.not_applicable.into(),
    ]
}

pub(super) async fn upsert_clocks(tx: &mut Transaction<'static, Any>, clocks: &[TicketClock]) -> Result<(), StoreError> {
    let rows = clocks.iter().map(clock_row).collect();
    insert_rows(
        tx,
        "sla_clocks",
        CLOCK_COLUMNS,
        rows,
        " ON CONFLICT (id) DO UPDATE SET policy_key = excluded.policy_key, target_ms = excluded.target_ms, \
         calendar_key = excluded.calendar_key, elapsed_ms = excluded.elapsed_ms, segment_from = excluded.segment_from, \
         stopped_at = excluded.stopped_at, breached_at = excluded.breached_at, pauses = excluded.pauses, \
         alerted = excluded.alerted, next_check_at = excluded.next_check_at, due_at = excluded.due_at, \
         calendar_source = excluded.calendar_source, not_applicable = excluded.not_applicable",
    )
    .await?;
    Ok(())
}

/// Claims each alert; returns the indexes of the events whose alert was already recorded
/// (by another node), which must not be recorded again.
pub(super) async fn claim_alerts(
    tx: &mut Transaction<'static, Any>,
    alerts: &[AlertRecord],
    at: Timestamp,
) -> Result<Vec<usize>, StoreError> {
    let mut already = Vec::new();
    for alert in alerts {
        let done = sqlx::query("INSERT INTO sla_alerts (clock_id, level, at) VALUES ($1, $2, $3) ON CONFLICT (clock_id, level) DO NOTHING")
            .bind(alert.clock_id.to_string())
            .bind(&alert.level)
            .bind(at.as_millis())
            .execute(&mut **tx)
            .await?;
        if done.rows_affected() == 0 {
            already.push(alert.event);
        }
    }
    Ok(already)
}
