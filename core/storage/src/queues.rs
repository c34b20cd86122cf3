//! Queue state on the ticket row, the per-view counters, and the clocks a queue page shows.
//!
//! Every ticket write ends with [`refresh_queue_state`] in its transaction: the ticket's SLA
//! band, soonest due time and active delegation are recomputed from its clocks as just
//! written, stored on the row (the queues' indexes), and the counter keys it left or entered
//! get a delta row each. Deltas are appended, never updated in place, so concurrent writers
//! on PostgreSQL never wait on one hot counter row; [`Store::fold_queue_counts`] folds them
//! into `queue_counts` in the background, and a count adds the deltas not yet folded.

use super::sql::{insert_rows, placeholders, Cell};
use super::Operation;
use super::{col, corrupt, Backend, Store, StoreError};
use sqlx::{Any, Transaction};
use std::collections::{BTreeMap, HashMap};
use steward_domain::ids::{PartnerId, SavedViewId, StaffId, TicketId};
use steward_domain::queue::SavedView;
use steward_domain::queue::{counter_deltas, counter_keys, counter_totals, QueueState, SlaBand, ASSIGNEE_KEY_PREFIX, NO_DUE};
use steward_domain::sla_engine::{self, SlaCatalog, TicketClock};
use steward_domain::ticket::{Status, Ticket};
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
    let inputs = queue_inputs(tx, backend, &[after.id]).await?.remove(&after.id).unwrap_or_default();
    let new = inputs.state();
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
        store_state(tx, &id, &new).await?;
    }
    let deltas = counter_deltas(&old_keys, &counter_keys(after.status, after.assignee, &new));
    insert_deltas(tx, deltas).await
}

/// What a ticket's queue state is computed from: its clocks (locked, ticket rows being locked
/// first by the caller) and the partner it is actively delegated to.
#[derive(Debug, Default)]
struct QueueInputs {
    clocks: Vec<TicketClock>,
    partner: Option<PartnerId>,
}

impl QueueInputs {
    fn state(&self) -> QueueState {
        QueueState::of(&self.clocks, self.partner)
    }
}

/// The queue inputs of each ticket given: one read of the clocks and one of the delegations
/// for the lot (a single ticket after a write, or a backfill batch).
async fn queue_inputs(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    tickets: &[TicketId],
) -> Result<BTreeMap<TicketId, QueueInputs>, StoreError> {
    let mut inputs: BTreeMap<TicketId, QueueInputs> = tickets.iter().map(|t| (*t, QueueInputs::default())).collect();
    if tickets.is_empty() {
        return Ok(inputs);
    }
    let list = placeholders(1, tickets.len());
    let sql = format!(
        "SELECT {} FROM sla_clocks WHERE ticket_id IN ({list}) ORDER BY ticket_id, id{}",
        super::sla::CLOCK_COLUMNS,
        backend.lock_rows()
    );
    let mut query = sqlx::query(&sql);
    for t in tickets {
        query = query.bind(t.to_string());
    }
    for row in query.fetch_all(&mut **tx).await? {
        let clock = super::sla::clock_from_row(&row)?;
        inputs.entry(clock.ticket_id).or_default().clocks.push(clock);
    }
    let sql = format!("SELECT ticket_id, partner_id FROM ticket_delegations WHERE withdrawn_at IS NULL AND ticket_id IN ({list})");
    let mut query = sqlx::query(&sql);
    for t in tickets {
        query = query.bind(t.to_string());
    }
    for row in query.fetch_all(&mut **tx).await? {
        let ticket = TicketId::parse("ticket_id", &col::<String>(&row, "ticket_id")?).map_err(corrupt)?;
        inputs.entry(ticket).or_default().partner =
            Some(PartnerId::parse("partner_id", &col::<String>(&row, "partner_id")?).map_err(corrupt)?);
    }
    Ok(inputs)
}

async fn store_state(tx: &mut Transaction<'static, Any>, id: &str, state: &QueueState) -> Result<(), StoreError> {
    sqlx::query("UPDATE tickets SET sla_band = $2, sla_due_at = $3, delegated_partner = $4 WHERE id = $1")
        .bind(id)
        .bind(state.band.as_str())
        .bind(state.due_key())
        .bind(state.delegated_to.map(|p| p.to_string()))
        .execute(&mut **tx)
        .await?;
    Ok(())
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
    /// The counters of `keys` (folded value plus pending deltas), read by key from two small
    /// tables in one statement, never from the tickets. A key with no row counts 0.
    pub async fn queue_counts(&self, keys: &[String]) -> Result<HashMap<String, i64>, StoreError> {
        Operation("queue_counts")
            .run(async {
                let mut counts: HashMap<String, i64> = keys.iter().map(|k| (k.clone(), 0)).collect();
                if keys.is_empty() {
                    return Ok(counts);
                }
                let list = placeholders(1, keys.len());
                let sql = format!(
                    "SELECT key, CAST(SUM(n) AS BIGINT) AS n FROM (SELECT key, n FROM queue_counts WHERE key IN ({list}) \
                     UNION ALL SELECT key, delta AS n FROM queue_count_deltas WHERE key IN ({list})) AS c GROUP BY key"
                );
                let mut query = sqlx::query(&sql);
                for key in keys {
                    query = query.bind(key.as_str());
                }
                for row in query.fetch_all(self.pool()).await? {
                    counts.insert(col(&row, "key")?, col(&row, "n")?);
                }
                Ok(counts)
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
                let list = placeholders(1, tickets.len());
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

/// Where the queue-state backfill stands (migration 0011's one row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackfillCursor {
    /// The last ticket whose queue state has been computed, in id order.
    pub after: Option<TicketId>,
    /// Every ticket has been done and the counters rebuilt.
    pub done: bool,
}

/// What one call of [`Store::backfill_queue_state`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackfillStep {
    /// Tickets whose queue state this batch computed (0 for the batch that rebuilt the counters).
    pub tickets: usize,
    /// Tickets whose stored state or clocks' due times were not right and were written.
    pub corrected: usize,
    pub done: bool,
}

async fn read_cursor<'e>(executor: impl sqlx::Executor<'e, Database = Any>, lock: &str) -> Result<BackfillCursor, StoreError> {
    let row = sqlx::query(&format!("SELECT after_ticket, done FROM queue_backfill WHERE id = 1{lock}")).fetch_optional(executor).await?;
    let Some(row) = row else {
        // No cursor row: nothing was ever owed.
        return Ok(BackfillCursor { after: None, done: true });
    };
    let after: Option<String> = col(&row, "after_ticket")?;
    Ok(BackfillCursor {
        after: after.map(|a| TicketId::parse("after_ticket", &a)).transpose().map_err(corrupt)?,
        done: super::col_bool(&row, "done")?,
    })
}

impl Store {
    /// Where the queue-state backfill stands: one row read.
    pub async fn queue_backfill_cursor(&self) -> Result<BackfillCursor, StoreError> {
        Operation("queue_backfill_cursor").run(read_cursor(self.pool(), "")).await
    }

    /// One step of the queue-state backfill for tickets written before migration 0009 kept
    /// queue state: the next `batch` tickets after the cursor get their clocks' due times
    /// (on each clock's calendar in `catalog`, as every clock write stores them) and their
    /// queue columns, and the cursor moves past them, in one write transaction, so a crash
    /// loses nothing and the next call resumes there. Tickets already right are read, not
    /// written. The step that finds no ticket left rebuilds the counters and marks the cursor
    /// done in one transaction. Several nodes may call this at once: the cursor row is locked,
    /// so they take turns and never do a batch twice.
    pub async fn backfill_queue_state(&self, batch: u32, catalog: &SlaCatalog) -> Result<BackfillStep, StoreError> {
        Operation("backfill_queue_state")
            .run(async {
                if self.queue_backfill_cursor().await?.done {
                    return Ok(BackfillStep { tickets: 0, corrected: 0, done: true });
                }
                let mut tx = self.begin_write().await?;
                let cursor = read_cursor(&mut *tx, self.backend.lock_rows()).await?;
                if cursor.done {
                    return Ok(BackfillStep { tickets: 0, corrected: 0, done: true });
                }
                // Ticket rows first, then their clocks: the writers' lock order.
                let sql = format!(
                    "SELECT id, sla_band, sla_due_at, delegated_partner FROM tickets WHERE id > $1 ORDER BY id LIMIT $2{}",
                    self.backend.lock_rows()
                );
                let rows = sqlx::query(&sql)
                    .bind(cursor.after.map(|t| t.to_string()).unwrap_or_default())
                    .bind(i64::from(batch.max(1)))
                    .fetch_all(&mut *tx)
                    .await?;
                if rows.is_empty() {
                    rebuild_queue_counts(&mut tx, self.backend).await?;
                    sqlx::query("UPDATE queue_backfill SET done = $1 WHERE id = 1").bind(true).execute(&mut *tx).await?;
                    tx.commit().await?;
                    return Ok(BackfillStep { tickets: 0, corrected: 0, done: true });
                }
                let mut stored = Vec::with_capacity(rows.len());
                for row in &rows {
                    let id: String = col(row, "id")?;
                    let state = stored_state(col(row, "sla_band")?, col(row, "sla_due_at")?, col(row, "delegated_partner")?)?;
                    stored.push((TicketId::parse("id", &id).map_err(corrupt)?, id, state));
                }
                let ids: Vec<TicketId> = stored.iter().map(|(t, _, _)| *t).collect();
                let mut inputs = queue_inputs(&mut tx, self.backend, &ids).await?;
                let mut corrected = 0;
                for (ticket, id, state) in &stored {
                    let inputs = inputs.entry(*ticket).or_default();
                    let stale = sla_engine::refresh_due_times(&mut inputs.clocks, catalog);
                    for clock in &stale {
                        sqlx::query("UPDATE sla_clocks SET due_at = $2 WHERE id = $1")
                            .bind(clock.id.to_string())
                            .bind(clock.due_at.map(Timestamp::as_millis))
                            .execute(&mut *tx)
                            .await?;
                    }
                    let new = inputs.state();
                    if new != *state {
                        store_state(&mut tx, id, &new).await?;
                    }
                    corrected += usize::from(!stale.is_empty() || new != *state);
                }
                let last = stored.last().map(|(_, id, _)| id.clone());
                sqlx::query("UPDATE queue_backfill SET after_ticket = $1 WHERE id = 1").bind(last).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(BackfillStep { tickets: stored.len(), corrected, done: false })
            })
            .await
    }
}

/// Replaces every counter with its value computed from the tickets as they stand, and drops
/// the pending deltas (written against the old, unbackfilled state, they no longer apply).
///
/// Concurrent writers (PostgreSQL; on SQLite this transaction holds the one write lock): a
/// writer appends its deltas at the end of its transaction, relative to the ticket's state as
/// committed before it. The lock first taken here keeps any transaction from adding deltas
/// until this one commits, and waits for those that already have to commit; the counting
/// statement then runs after the lock, so it sees exactly the ticket changes whose deltas it
/// deletes. A writer that has changed a ticket but not yet appended its deltas waits at the
/// append; its change is not counted here, and its delta, from the committed state that was,
/// applies on top of the rebuilt counts. The fold (`fold_queue_counts`) deletes deltas, so it
/// waits likewise and finds none of those deleted here. Nothing is counted twice or lost.
async fn rebuild_queue_counts(tx: &mut Transaction<'static, Any>, backend: Backend) -> Result<(), StoreError> {
    if let Some(lock) = backend.lock_out_inserts("queue_count_deltas") {
        sqlx::query(&lock).execute(&mut **tx).await?;
    }
    let rows = sqlx::query(
        "SELECT status, assignee_id, sla_band, delegated_partner, COUNT(*) AS n FROM tickets \
         GROUP BY status, assignee_id, sla_band, delegated_partner",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut groups = Vec::with_capacity(rows.len());
    for row in &rows {
        let status = Status::parse("status", &col::<String>(row, "status")?).map_err(corrupt)?;
        let assignee: Option<String> = col(row, "assignee_id")?;
        let assignee = assignee.map(|a| StaffId::parse("assignee_id", &a)).transpose().map_err(corrupt)?;
        // The due time does not decide any counter key.
        let state = stored_state(col(row, "sla_band")?, NO_DUE, col(row, "delegated_partner")?)?;
        groups.push((status, assignee, state, col::<i64>(row, "n")?));
    }
    let totals = counter_totals(groups.iter().map(|(status, assignee, state, n)| (*status, *assignee, state, *n)));
    sqlx::query("DELETE FROM queue_count_deltas").execute(&mut **tx).await?;
    sqlx::query("DELETE FROM queue_counts").execute(&mut **tx).await?;
    let rows: Vec<Vec<Cell>> = totals.into_iter().map(|(key, n)| vec![key.into(), n.into()]).collect();
    if !rows.is_empty() {
        insert_rows(tx, "queue_counts", "key, n", rows, "").await?;
    }
    Ok(())
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
