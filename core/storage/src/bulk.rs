//! Bulk writes for `steward seed`: whole ticket histories, many per transaction, with
//! multi-row inserts. The rows are encoded by the same functions as the one-change-at-a-time
//! path, so the API cannot tell the two apart. Bulk histories are not queued for webhooks:
//! they are history, not news.

use super::feedback::{review_row, survey_row, REVIEW_COLUMNS, SURVEY_COLUMNS};
use super::partners::{delegation_row, DELEGATION_COLUMNS};
use super::queues::{bulk_queue_cells, insert_deltas, BULK_QUEUE_COLUMNS};
use super::sla::{clock_row, CLOCK_COLUMNS};
use super::sql::insert_rows;
use super::tickets::{event_row, ticket_row, EVENT_INSERT_COLUMNS, TICKET_INSERT_COLUMNS};
use super::Operation;
use super::{Backend, Store, StoreError};
use steward_domain::history::TicketHistory;
use steward_domain::queue::{counter_keys, QueueState};

impl Store {
    /// Takes `count` ticket numbers for tickets to be written later (unique, in order; with
    /// several writers on PostgreSQL not necessarily contiguous).
    pub async fn reserve_ticket_numbers(&self, count: u32) -> Result<Vec<i64>, StoreError> {
        Operation("reserve_ticket_numbers")
            .run(async {
                if count == 0 {
                    return Ok(Vec::new());
                }
                match self.backend {
                    Backend::Sqlite => {
                        let mut tx = self.begin_write().await?;
                        let last: i64 = sqlx::query_scalar(
                            "UPDATE ticket_number_counter SET last_number = last_number + $1 WHERE id = 1 RETURNING last_number",
                        )
                        .bind(i64::from(count))
                        .fetch_one(&mut *tx)
                        .await?;
                        tx.commit().await?;
                        Ok((last - i64::from(count) + 1..=last).collect())
                    }
                    Backend::Postgres => Ok(sqlx::query_scalar("SELECT nextval('ticket_number_seq') FROM generate_series(1, $1)")
                        .bind(i64::from(count))
                        .fetch_all(self.pool())
                        .await?),
                }
            })
            .await
    }

    /// How many tickets the database holds: a whole-table count, for the offline tools only
    /// (`steward bench --reuse` deciding what is left to seed), never on a request's path.
    pub async fn ticket_count(&self) -> Result<i64, StoreError> {
        Operation("ticket_count").run(async { Ok(sqlx::query_scalar("SELECT COUNT(*) FROM tickets").fetch_one(self.pool()).await?) }).await
    }

    /// Refreshes PostgreSQL's planner statistics after a bulk load, so the first queries
    /// after it do not plan for the tables as they were (autovacuum gets there, later). SQLite
    /// keeps no statistics here: its plans follow the indexes alone (a unit test checks them).
    pub async fn analyze(&self) -> Result<(), StoreError> {
        Operation("analyze")
            .run(async {
                if self.backend == Backend::Postgres {
                    sqlx::query("ANALYZE").execute(self.pool()).await?;
                }
                Ok(())
            })
            .await
    }

    /// Writes complete ticket histories in one transaction: tickets, tags, timelines, SLA
    /// clocks and alerts, surveys, reviews and delegations.
    pub async fn insert_histories(&self, histories: &[TicketHistory]) -> Result<(), StoreError> {
        Operation("insert_histories")
            .run(async {
                let mut tx = self.begin_write().await?;
                let states: Vec<QueueState> = histories
                    .iter()
                    .map(|h| QueueState::of(&h.clocks, h.delegations.iter().find(|d| d.withdrawn_at.is_none()).map(|d| d.partner_id)))
                    .collect();
                let tickets = histories
                    .iter()
                    .zip(&states)
                    .map(|(h, state)| {
                        let mut row = ticket_row(&h.ticket);
                        row.extend(bulk_queue_cells(state));
                        row
                    })
                    .collect();
                let columns = format!("{TICKET_INSERT_COLUMNS}, {BULK_QUEUE_COLUMNS}");
                insert_rows(&mut tx, "tickets", &columns, tickets, "").await?;
                let mut deltas: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
                for (h, state) in histories.iter().zip(&states) {
                    for key in counter_keys(h.ticket.status, h.ticket.assignee, state) {
                        *deltas.entry(key).or_default() += 1;
                    }
                }
                insert_deltas(&mut tx, deltas.into_iter().collect()).await?;
                let tags = histories
                    .iter()
                    .flat_map(|h| h.ticket.tags.iter().map(|tag| vec![tag.as_str().into(), h.ticket.id.to_string().into()]))
                    .collect();
                insert_rows(&mut tx, "ticket_tags", "tag, ticket_id", tags, "").await?;
                let events = histories
                    .iter()
                    .flat_map(|h| h.events.iter().enumerate().map(|(i, e)| event_row(h.ticket.id, i as i64 + 1, e.at, &e.actor, &e.data)))
                    .collect();
                insert_rows(&mut tx, "ticket_events", EVENT_INSERT_COLUMNS, events, "").await?;
                let clocks = histories.iter().flat_map(|h| h.clocks.iter().map(clock_row)).collect();
                insert_rows(&mut tx, "sla_clocks", CLOCK_COLUMNS, clocks, "").await?;
                let alerts = histories
                    .iter()
                    .flat_map(|h| {
                        h.alerts.iter().map(|a| vec![a.clock_id.to_string().into(), a.level.as_str().into(), a.at.as_millis().into()])
                    })
                    .collect();
                insert_rows(&mut tx, "sla_alerts", "clock_id, level, at", alerts, "").await?;
                let surveys = histories.iter().flat_map(|h| h.surveys.iter().map(survey_row)).collect();
                insert_rows(&mut tx, "surveys", SURVEY_COLUMNS, surveys, "").await?;
                let reviews = histories.iter().flat_map(|h| h.reviews.iter().map(review_row)).collect();
                insert_rows(&mut tx, "ticket_reviews", REVIEW_COLUMNS, reviews, "").await?;
                let delegations = histories.iter().flat_map(|h| h.delegations.iter().map(delegation_row)).collect();
                insert_rows(&mut tx, "ticket_delegations", DELEGATION_COLUMNS, delegations, "").await?;
                tx.commit().await?;
                Ok(())
            })
            .await
    }
}
