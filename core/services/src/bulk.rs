//! Bulk work for the offline tools (`steward seed`, `steward bench`) and the server's life
//! cycle: histories written whole, ticket numbers reserved in advance, the database's health.

use super::{ServiceError, Services};
use steward_domain::history::TicketHistory;
use steward_domain::staff::Staff;

impl Services {
    /// Reserves `count` ticket numbers for histories written in bulk.
    pub async fn reserve_ticket_numbers(&self, count: u32) -> Result<Vec<i64>, ServiceError> {
        Ok(self.store.reserve_ticket_numbers(count).await?)
    }

    /// Writes whole ticket histories in one transaction. They are history, not news: no
    /// webhook delivery and no plugin reaction is queued for them.
    pub async fn import_histories(&self, histories: &[TicketHistory]) -> Result<(), ServiceError> {
        Ok(self.store.insert_histories(histories).await?)
    }

    /// Refreshes the query planner's statistics after a bulk load (PostgreSQL's `ANALYZE`).
    pub async fn refresh_planner_statistics(&self) -> Result<(), ServiceError> {
        Ok(self.store.analyze().await?)
    }

    /// Every active staff member, in id order.
    pub async fn active_staff(&self) -> Result<Vec<Staff>, ServiceError> {
        Ok(self.store.active_staff().await?)
    }

    /// How many tickets the database holds (a whole-table count: offline tools only).
    pub async fn ticket_count(&self) -> Result<i64, ServiceError> {
        Ok(self.store.ticket_count().await?)
    }

    /// How many SLA clocks are running.
    pub async fn running_clock_count(&self) -> Result<i64, ServiceError> {
        Ok(self.store.running_clock_count().await?)
    }

    /// `sqlite` or `postgres`.
    pub fn database_backend(&self) -> &'static str {
        self.store.backend().name()
    }

    /// Checks that the database answers (readiness).
    pub async fn ping_database(&self) -> Result<(), ServiceError> {
        Ok(self.store.ping().await?)
    }

    /// Closes the database pool; the services are unusable afterwards.
    pub async fn close(&self) {
        self.store.close().await;
    }
}
