//! The live feed's storage: events in their global order (the position), the cross-node
//! change hint (PostgreSQL `NOTIFY`/`LISTEN`) and who has a ticket open (presence).
//!
//! Positions are `(commit_tx, id)` (see `migrations/postgres/0010_event_position.sql`). On
//! PostgreSQL a reader only takes events of transactions older than the oldest one still
//! running, so a transaction that took a smaller id but commits later is never passed over;
//! on SQLite insert order is commit order and every event is readable at once.

use super::{col, Backend, Operation, Store, StoreError};
use steward_domain::event::EventPosition;
use steward_domain::ids::{StaffId, TicketId, TicketNumber};
use steward_domain::time::Timestamp;

/// The channel every node's listener listens on. The payload is empty: a notification is only a
/// hint to read the events after one's position.
pub const CHANNEL: &str = "steward_events";

/// One event as the live feed sees it: where it stands and which ticket it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    pub position: EventPosition,
    pub ticket_id: TicketId,
    pub ticket_number: TicketNumber,
    pub seq: i64,
    pub kind: String,
}

/// One read of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRead {
    pub events: Vec<FeedEvent>,
    /// More events are committed after these but not yet readable: a transaction that began
    /// earlier is still running (PostgreSQL). Read again shortly.
    pub held_back: bool,
}

/// A live stream on a ticket page, as the other viewers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketViewer {
    pub viewer_id: String,
    pub staff_id: Option<StaffId>,
    pub name: String,
}

impl Backend {
    /// The condition that keeps a feed read behind every transaction still running.
    fn settled_events(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " AND e.commit_tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
        }
    }
}

/// After a position: a row-value comparison, one range of the `(commit_tx, id)` index on both
/// engines.
const AFTER: &str = "(e.commit_tx, e.id) > ($1, $2)";

fn ticket_filter(one_ticket: bool) -> &'static str {
    if one_ticket {
        " AND e.ticket_id = $4"
    } else {
        ""
    }
}

/// The feed's read: `$1`, `$2` the position, `$3` the limit, `$4` the ticket when one.
fn events_after_sql(backend: Backend, one_ticket: bool) -> String {
    format!(
        "SELECT e.commit_tx, e.id, e.ticket_id, t.number, e.seq, e.kind FROM ticket_events e \
         JOIN tickets t ON t.id = e.ticket_id \
         WHERE {AFTER}{}{} ORDER BY e.commit_tx, e.id LIMIT $3",
        backend.settled_events(),
        ticket_filter(one_ticket)
    )
}

fn feed_event(row: &sqlx::any::AnyRow) -> Result<FeedEvent, StoreError> {
    let ticket: String = col(row, "ticket_id")?;
    Ok(FeedEvent {
        position: EventPosition { tx: col(row, "commit_tx")?, id: col(row, "id")? },
        ticket_id: TicketId::parse("ticket_id", &ticket).map_err(super::corrupt)?,
        ticket_number: TicketNumber(col(row, "number")?),
        seq: col(row, "seq")?,
        kind: col(row, "kind")?,
    })
}

impl Store {
    /// Up to `limit` events after `after`, in position order, of one ticket or of all; only
    /// events no running transaction can precede (see the module's note).
    pub async fn events_after(&self, after: EventPosition, ticket: Option<TicketId>, limit: u32) -> Result<FeedRead, StoreError> {
        Operation("events_after")
            .run(async {
                let (sql, only_ticket) = (events_after_sql(self.backend, ticket.is_some()), ticket_filter(ticket.is_some()));
                let mut query = sqlx::query(&sql).bind(after.tx).bind(after.id).bind(i64::from(limit));
                if let Some(ticket) = ticket {
                    query = query.bind(ticket.to_string());
                }
                let events: Vec<FeedEvent> = query.fetch_all(self.pool()).await?.iter().map(feed_event).collect::<Result<_, _>>()?;
                let mut held_back = false;
                if self.backend == Backend::Postgres && events.len() < limit as usize {
                    // Committed but unsettled events beyond what was read (the same order, no horizon).
                    let last = events.last().map_or(after, |e| e.position);
                    let sql = format!("SELECT e.id FROM ticket_events e WHERE {AFTER}{only_ticket} LIMIT $3");
                    let mut query = sqlx::query(&sql).bind(last.tx).bind(last.id).bind(1_i64);
                    if let Some(ticket) = ticket {
                        query = query.bind(ticket.to_string());
                    }
                    held_back = query.fetch_optional(self.pool()).await?.is_some();
                }
                Ok(FeedRead { events, held_back })
            })
            .await
    }

    /// The position of the last event a feed can read now: a stream that starts here hears
    /// every event committed after it.
    pub async fn feed_head(&self) -> Result<EventPosition, StoreError> {
        Operation("feed_head")
            .run(async {
                let sql = format!(
                    "SELECT e.commit_tx, e.id FROM ticket_events e WHERE 1 = 1{} ORDER BY e.commit_tx DESC, e.id DESC LIMIT 1",
                    self.backend.settled_events()
                );
                let row = sqlx::query(&sql).fetch_optional(self.pool()).await?;
                Ok(match row {
                    Some(row) => EventPosition { tx: col(&row, "commit_tx")?, id: col(&row, "id")? },
                    None => EventPosition::default(),
                })
            })
            .await
    }

    /// Tells every node's listener that events (or viewers) changed. Called after commit,
    /// never inside a write transaction (NOTIFY takes a database-wide lock at commit, which
    /// would serialise writers). Nothing to do on SQLite, which has one node.
    pub async fn notify_change(&self) -> Result<(), StoreError> {
        Operation("notify_change")
            .run(async {
                if self.backend == Backend::Postgres {
                    sqlx::query("SELECT pg_notify($1, '')").bind(CHANNEL).execute(self.pool()).await?;
                }
                Ok(())
            })
            .await
    }

    /// A connection listening for change hints from every node (PostgreSQL only; `None` on
    /// SQLite, where the in-process hint is the whole story).
    pub async fn listen_changes(&self) -> Result<Option<ChangeListener>, StoreError> {
        match self.backend {
            Backend::Sqlite => Ok(None),
            Backend::Postgres => Operation("listen_changes").run(async { Ok(Some(ChangeListener::connect(&self.url).await?)) }).await,
        }
    }

    /// Records that `viewer_id` (one open stream) has `ticket` open now. Also forgets viewers
    /// not seen since `expired_before`. Returns whether this viewer is new on the ticket.
    pub async fn touch_viewer(
        &self,
        ticket: TicketId,
        viewer: &TicketViewer,
        now: Timestamp,
        expired_before: Timestamp,
    ) -> Result<bool, StoreError> {
        Operation("touch_viewer")
            .run(async {
                sqlx::query("DELETE FROM ticket_viewers WHERE seen_at < $1")
                    .bind(expired_before.as_millis())
                    .execute(self.writer())
                    .await?;
                let updated = sqlx::query("UPDATE ticket_viewers SET seen_at = $3 WHERE ticket_id = $1 AND viewer_id = $2")
                    .bind(ticket.to_string())
                    .bind(&viewer.viewer_id)
                    .bind(now.as_millis())
                    .execute(self.writer())
                    .await?;
                if updated.rows_affected() == 1 {
                    return Ok(false);
                }
                sqlx::query("INSERT INTO ticket_viewers (ticket_id, viewer_id, staff_id, name, seen_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(ticket.to_string())
                    .bind(&viewer.viewer_id)
                    .bind(viewer.staff_id.map(|s| s.to_string()))
                    .bind(&viewer.name)
                    .bind(now.as_millis())
                    .execute(self.writer())
                    .await?;
                Ok(true)
            })
            .await
    }

    /// Forgets one viewer (its stream ended).
    pub async fn remove_viewer(&self, ticket: TicketId, viewer_id: &str) -> Result<(), StoreError> {
        Operation("remove_viewer")
            .run(async {
                sqlx::query("DELETE FROM ticket_viewers WHERE ticket_id = $1 AND viewer_id = $2")
                    .bind(ticket.to_string())
                    .bind(viewer_id)
                    .execute(self.writer())
                    .await?;
                Ok(())
            })
            .await
    }

    /// The viewers of `ticket` seen at or after `since`, by name.
    pub async fn ticket_viewers(&self, ticket: TicketId, since: Timestamp) -> Result<Vec<TicketViewer>, StoreError> {
        Operation("ticket_viewers")
            .run(async {
                let rows = sqlx::query(
                    "SELECT viewer_id, staff_id, name FROM ticket_viewers WHERE ticket_id = $1 AND seen_at >= $2 ORDER BY name, viewer_id",
                )
                .bind(ticket.to_string())
                .bind(since.as_millis())
                .fetch_all(self.pool())
                .await?;
                rows.iter()
                    .map(|row| {
                        let staff: Option<String> = col(row, "staff_id")?;
                        Ok(TicketViewer {
                            viewer_id: col(row, "viewer_id")?,
                            staff_id: staff.map(|s| StaffId::parse("staff_id", &s)).transpose().map_err(super::corrupt)?,
                            name: col(row, "name")?,
                        })
                    })
                    .collect()
            })
            .await
    }
}

/// What a listener heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// Some node committed a change.
    Change,
    /// The connection dropped and is listening again: notifications sent in between are lost,
    /// so the caller must resync as if it had heard a change.
    Reconnected,
}

/// One node's `LISTEN` connection (PostgreSQL), on a connection of its own.
pub struct ChangeListener {
    url: String,
    inner: sqlx::postgres::PgListener,
}

impl ChangeListener {
    async fn connect(url: &str) -> Result<ChangeListener, sqlx::Error> {
        let mut inner = sqlx::postgres::PgListener::connect(url).await?;
        inner.listen(CHANNEL).await?;
        Ok(ChangeListener { url: url.to_owned(), inner })
    }

    /// Waits for the next hint. A dropped connection is replaced (and listening again) before
    /// this returns [`Heard::Reconnected`]; an error means no new connection could be made.
    pub async fn next(&mut self) -> Result<Heard, StoreError> {
        match self.inner.try_recv().await {
            Ok(Some(_)) => Ok(Heard::Change),
            Ok(None) | Err(_) => {
                *self = Operation("listen_changes").run(async { Ok(ChangeListener::connect(&self.url).await?) }).await?;
                Ok(Heard::Reconnected)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The feed reads a range of the position index (all tickets, in its order, no sort) or one
    /// ticket's own events, never the whole table: its cost follows what changed, not the data.
    #[tokio::test]
    async fn the_feed_reads_an_index_range() {
        let dir = std::env::temp_dir().join(format!("steward-feed-plan-{}", uuid::Uuid::now_v7().simple()));
        let config = crate::DatabaseConfig { url: format!("sqlite://{}/plan.db", dir.display()), ..Default::default() };
        let store = Store::connect(&config).await.unwrap();
        store.migrate().await.unwrap();
        for one_ticket in [false, true] {
            let sql = format!("EXPLAIN QUERY PLAN {}", events_after_sql(Backend::Sqlite, one_ticket));
            let mut query = sqlx::query(&sql).bind(0_i64).bind(0_i64).bind(10_i64);
            if one_ticket {
                query = query.bind("t");
            }
            let plan: Vec<String> =
                query.fetch_all(store.pool()).await.unwrap().iter().map(|r| col::<String>(r, "detail").unwrap()).collect();
            let events = plan.iter().find(|s| s.contains(" e ")).cloned().unwrap_or_default();
            match one_ticket {
                false => {
                    assert!(events.starts_with("SEARCH e USING INDEX ticket_events_position"), "{plan:?}");
                    assert!(!plan.iter().any(|s| s.contains("TEMP B-TREE")), "{plan:?}");
                }
                // One ticket's events, found by its key (and sorted: they are few).
                true => assert!(events.starts_with("SEARCH e USING INDEX sqlite_autoindex_ticket_events_1 (ticket_id=?)"), "{plan:?}"),
            }
        }
        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
