//! Queue state on the ticket row, the per-view counters, and the clocks a queue page shows.
//!
//! Every ticket write ends with [`refresh_queue_state`] in its transaction: the ticket's SLA
//! band, soonest due time and active delegation are recomputed from its clocks as just
//! written, stored on the row (the queues' indexes), and the counter keys it left or entered
//! get a delta row each. Deltas are appended, never updated in place, so concurrent writers
//! on PostgreSQL never wait on one hot counter row; [`Store::fold_queue_counts`] folds them
//! into `queue_counts` in the background, and a count adds the deltas not yet folded.

use super::sql::{insert_rows, Cell};
use super::Operation;
use super::{col, corrupt, Backend, Store, StoreError};
use sqlx::{Any, Transaction};
use std::collections::HashMap;
use steward_domain::ids::{PartnerId, SavedViewId, StaffId, TicketId};
use steward_domain::queue::SavedView;
use steward_domain::queue::{counter_deltas, counter_keys, QueueState, SlaBand, ASSIGNEE_KEY_PREFIX, NO_DUE};
use steward_domain::sla_engine::TicketClock;
use steward_domain::ticket::Ticket;
use steward_domain::time::Timestamp;

/// Recomputes a ticket's queue state after a write and records the counter changes. `before`
/// is the ticket as it was (None for a new one).
pub(super) async fn refresh_queue_state(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    before: Option<&Ticket>,
    after: &Ticket,
) -> Result<(), StoreError> {
    let id = after.id.to_string();
    let clocks = super::sla::load_clocks(tx, backend, after.id).await?;
    let partner: Option<String> =
        sqlx::query_scalar("SELECT partner_id FROM ticket_delegations WHERE ticket_id = $1 AND withdrawn_at IS NULL")
            .bind(&id)
            .fetch_optional(&mut **tx)
            .await?;
    let partner = partner.map(|p| PartnerId::parse("partner_id", &p)).transpose().map_err(corrupt)?;
    let new = QueueState::of(&clocks, partner);
    let (old, old_keys) = match before {
        Some(b) => {
            let row = sqlx::query("SELECT sla_band, sla_due_at, delegated_partner FROM tickets WHERE id = $1")
                .bind(&id)
                .fetch_one(&mut **tx)
                .await?;
            let old = stored_state(col(&row, "sla_band")?, col(&row, "sla_due_at")?, col(&row, "delegated_partner")?)?;
            let keys = counter_keys(b.status, b.assignee, &old);
            (Some(old), keys)
        }
        None => (None, Vec::new()),
    };
    if old.as_ref() != Some(&new) {
        sqlx::query("UPDATE tickets SET sla_band = $2, sla_due_at = $3, delegated_partner = $4 WHERE id = $1")
            .bind(&id)
            .bind(new.band.as_str())
            .bind(new.due_key())
            .bind(new.delegated_to.map(|p| p.to_string()))
            .execute(&mut **tx)
            .await?;
    }
    let deltas = counter_deltas(&old_keys, &counter_keys(after.status, after.assignee, &new));
    insert_deltas(tx, deltas).await
}

fn stored_state(band: String, due: i64, partner: Option<String>) -> Result<QueueState, StoreError> {
    Ok(QueueState {
        band: SlaBand::parse("sla_band", &band).map_err(corrupt)?,
        due_at: (due != NO_DUE).then(|| Timestamp::from_millis(due)),
        delegated_to: partner.map(|p| PartnerId::parse("delegated_partner", &p)).transpose().map_err(corrupt)?,
    })
}

pub(super) async fn insert_deltas(tx: &mut Transaction<'static, Any>, deltas: Vec<(String, i64)>) -> Result<(), StoreError> {
    let rows: Vec<Vec<Cell>> = deltas.into_iter().filter(|d| d.1 != 0).map(|(key, delta)| vec![key.into(), delta.into()]).collect();
    if !rows.is_empty() {
        insert_rows(tx, "queue_count_deltas", "key, delta", rows, "").await?;
    }
    Ok(())
}

/// The queue columns of a ticket row written in bulk (the seed), after [`super::tickets::ticket_row`].
pub(super) const BULK_QUEUE_COLUMNS: &str = "sla_band, sla_due_at, delegated_partner";

pub(super) fn bulk_queue_cells(state: &QueueState) -> Vec<Cell> {
    vec![state.band.as_str().into(), state.due_key().into(), state.delegated_to.map(|p| p.to_string()).into()]
}

impl Store {
    /// The sum of the counters of `keys` (a view's count): folded values plus pending deltas,
    /// read by key from two small tables, never from the tickets.
    pub async fn queue_count(&self, keys: &[String]) -> Result<i64, StoreError> {
        Operation("queue_count")
            .run(async {
                if keys.is_empty() {
                    return Ok(0);
                }
                let list = (1..=keys.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
                let sql = format!(
                    "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM (SELECT n FROM queue_counts WHERE key IN ({list}) \
                     UNION ALL SELECT delta AS n FROM queue_count_deltas WHERE key IN ({list})) AS c"
                );
                let mut query = sqlx::query_scalar::<_, i64>(&sql);
                for key in keys {
                    query = query.bind(key.as_str());
                }
                Ok(query.fetch_one(self.pool()).await?)
            })
            .await
    }

    /// Open (not resolved or closed) tickets per assignee, read from the `assignee:` counters
    /// (folded plus pending), so its cost grows with the number of people, not of tickets.
    pub async fn open_ticket_load(&self) -> Result<HashMap<StaffId, i64>, StoreError> {
        Operation("open_ticket_load")
            .run(async {
                let rows = sqlx::query(
                    "SELECT key, CAST(SUM(n) AS BIGINT) AS n FROM (SELECT key, n FROM queue_counts WHERE key LIKE $1 \
                     UNION ALL SELECT key, delta AS n FROM queue_count_deltas WHERE key LIKE $1) AS c GROUP BY key",
                )
                .bind(format!("{ASSIGNEE_KEY_PREFIX}%"))
                .fetch_all(self.pool())
                .await?;
                let mut load = HashMap::new();
                for row in &rows {
                    let key: String = col(row, "key")?;
                    let n: i64 = col(row, "n")?;
                    let id = key.strip_prefix(ASSIGNEE_KEY_PREFIX).unwrap_or(&key);
                    if n != 0 {
                        load.insert(StaffId::parse("assignee_id", id).map_err(corrupt)?, n);
                    }
                }
                Ok(load)
            })
            .await
    }

    /// Folds up to `batch` pending counter deltas into the counters; returns how many it folded.
    /// Safe on several nodes at once: each delta row is deleted, and so counted, by one of them.
    pub async fn fold_queue_counts(&self, batch: u32) -> Result<usize, StoreError> {
        Operation("fold_queue_counts")
            .run(async {
                let mut tx = self.begin_write().await?;
                let upto: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(id) FROM (SELECT id FROM queue_count_deltas ORDER BY id LIMIT $1) AS d")
                        .bind(i64::from(batch))
                        .fetch_one(&mut *tx)
                        .await?;
                let Some(upto) = upto else {
                    return Ok(0);
                };
                let rows = sqlx::query("DELETE FROM queue_count_deltas WHERE id <= $1 RETURNING key, delta")
                    .bind(upto)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut sums: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
                for row in &rows {
                    *sums.entry(col::<String>(row, "key")?).or_default() += col::<i64>(row, "delta")?;
                }
                for (key, n) in sums {
                    sqlx::query(
                        "INSERT INTO queue_counts (key, n) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET n = queue_counts.n + excluded.n",
                    )
                    .bind(key)
                    .bind(n)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(rows.len())
            })
            .await
    }

    /// The clocks of the given tickets (a queue page's countdowns), by ticket and id.
    pub async fn clocks_of_tickets(&self, tickets: &[TicketId]) -> Result<Vec<TicketClock>, StoreError> {
        Operation("clocks_of_tickets")
            .run(async {
                if tickets.is_empty() {
                    return Ok(Vec::new());
                }
                let list = (1..=tickets.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
                let sql =
                    format!("SELECT {} FROM sla_clocks WHERE ticket_id IN ({list}) ORDER BY ticket_id, id", super::sla::CLOCK_COLUMNS);
                let mut query = sqlx::query(&sql);
                for t in tickets {
                    query = query.bind(t.to_string());
                }
                query.fetch_all(self.pool()).await?.iter().map(super::sla::clock_from_row).collect()
            })
            .await
    }
}

fn saved_view_from_row(row: &sqlx::any::AnyRow) -> Result<SavedView, StoreError> {
    Ok(SavedView {
        id: SavedViewId::parse("id", &col::<String>(row, "id")?).map_err(corrupt)?,
        owner: StaffId::parse("owner_id", &col::<String>(row, "owner_id")?).map_err(corrupt)?,
        name: col(row, "name")?,
        filters: col(row, "filters")?,
        shared: super::col_bool(row, "shared")?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
    })
}

impl Store {
    pub async fn insert_saved_view(&self, view: &SavedView) -> Result<(), StoreError> {
        Operation("insert_saved_view")
            .run(async {
                let mut tx = self.begin_write().await?;
                let row = vec![
                    view.id.to_string().into(),
                    view.owner.to_string().into(),
                    view.name.as_str().into(),
                    view.filters.as_str().into(),
                    view.shared.into(),
                    view.created_at.as_millis().into(),
                ];
                insert_rows(&mut tx, "saved_views", "id, owner_id, name, filters, shared, created_at", vec![row], "").await?;
                tx.commit().await?;
                Ok(())
            })
            .await
    }

    /// The owner's views and every shared view, by creation.
    pub async fn saved_views_for(&self, owner: Option<StaffId>) -> Result<Vec<SavedView>, StoreError> {
        Operation("saved_views_for")
            .run(async {
                let rows = sqlx::query(
                    "SELECT id, owner_id, name, filters, shared, created_at FROM saved_views WHERE owner_id = $1 OR shared = $2 ORDER BY id",
                )
                .bind(owner.map(|o| o.to_string()).unwrap_or_default())
                .bind(true)
                .fetch_all(self.pool())
                .await?;
                rows.iter().map(saved_view_from_row).collect()
            })
            .await
    }

    pub async fn get_saved_view(&self, id: SavedViewId) -> Result<Option<SavedView>, StoreError> {
        Operation("get_saved_view")
            .run(async {
                let row = sqlx::query("SELECT id, owner_id, name, filters, shared, created_at FROM saved_views WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(saved_view_from_row).transpose()
            })
            .await
    }

    pub async fn delete_saved_view(&self, id: SavedViewId) -> Result<bool, StoreError> {
        Operation("delete_saved_view")
            .run(async {
                let done = sqlx::query("DELETE FROM saved_views WHERE id = $1").bind(id.to_string()).execute(self.pool()).await?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }
}
