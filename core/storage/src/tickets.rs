//! Tickets, their tags, their event timeline and the idempotency keys of ticket creation.

use super::sql::{bind_cells, insert_rows, like_escape, Bind, Cell, Conditions};
use super::Operation;
use super::{col, corrupt, Backend, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use steward_domain::event::{Actor, ActorKind, EventData, RecordedEvent};
use steward_domain::idempotency::{IdempotencyClaim, StoredResponse};
use steward_domain::ids::{StaffId, TicketId, TicketNumber, TicketRef, TokenId};
use steward_domain::sla_engine::TicketClock;
use steward_domain::ticket::{search_form, Change, Channel, Customer, Kind, Priority, SideWrite, Status, Ticket, TicketQuery, TicketSort};
use steward_domain::time::Timestamp;

pub(super) const TICKET_COLUMNS: &str = "id, number, title, description, kind, channel, priority, customer_name, \
     customer_contact, customer_tier, process, process_version, stage, status, assignee_id, tags, \
     custom_fields, created_at, updated_at, first_response_at, resolved_at, closed_at, reopen_count, origin_ticket_id, \
     review_passed_stage, staff_replies, version";

fn ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp::from_millis)
}

pub(super) fn ticket_from_row(row: &AnyRow) -> Result<Ticket, StoreError> {
    let text = |name: &str| col::<String>(row, name);
    let id: String = text("id")?;
    let assignee: Option<String> = col(row, "assignee_id")?;
    let tags: String = text("tags")?;
    let custom_fields: String = text("custom_fields")?;
    let origin: Option<String> = col(row, "origin_ticket_id")?;
    Ok(Ticket {
        id: TicketId::parse("id", &id).map_err(corrupt)?,
        number: TicketNumber(col(row, "number")?),
        title: text("title")?,
        description: text("description")?,
        kind: Kind::parse("kind", &text("kind")?).map_err(corrupt)?,
        channel: Channel::parse("channel", &text("channel")?).map_err(corrupt)?,
        priority: Priority::parse("priority", &text("priority")?).map_err(corrupt)?,
        customer: Customer { name: text("customer_name")?, contact: col(row, "customer_contact")?, tier: text("customer_tier")? },
        process: text("process")?,
        process_version: u32::try_from(col::<i64>(row, "process_version")?).map_err(corrupt)?,
        stage: text("stage")?,
        status: Status::parse("status", &text("status")?).map_err(corrupt)?,
        assignee: assignee.map(|a| StaffId::parse("assignee_id", &a)).transpose().map_err(corrupt)?,
        tags: serde_json::from_str(&tags).map_err(corrupt)?,
        custom_fields: serde_json::from_str(&custom_fields).map_err(corrupt)?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        updated_at: Timestamp::from_millis(col(row, "updated_at")?),
        first_response_at: ts(col(row, "first_response_at")?),
        resolved_at: ts(col(row, "resolved_at")?),
        closed_at: ts(col(row, "closed_at")?),
        reopen_count: u32::try_from(col::<i64>(row, "reopen_count")?).map_err(corrupt)?,
        origin_ticket_id: origin.map(|o| TicketId::parse("origin_ticket_id", &o)).transpose().map_err(corrupt)?,
        review_passed_stage: col(row, "review_passed_stage")?,
        staff_replies: u32::try_from(col::<i64>(row, "staff_replies")?).map_err(|_| corrupt("staff_replies out of range"))?,
        version: col(row, "version")?,
    })
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

impl Store {
    async fn next_ticket_number(&self, tx: &mut Transaction<'static, Any>) -> Result<i64, StoreError> {
        let sql = match self.backend {
            // Serialised by BEGIN IMMEDIATE: no two writers read the same value.
            Backend::Sqlite => "UPDATE ticket_number_counter SET last_number = last_number + 1 WHERE id = 1 RETURNING last_number",
            Backend::Postgres => "SELECT nextval('ticket_number_seq')",
        };
        Ok(sqlx::query_scalar(sql).fetch_one(&mut **tx).await?)
    }

    /// Inserts a new ticket with its events (and claims the idempotency key, if any) in one
    /// transaction. Allocates the ticket number and writes it into `change`.
    /// A key already claimed yields [`StoreError::Duplicate`] and creates nothing.
    pub async fn insert_ticket(&self, change: &mut Change, actor: &Actor, claim: Option<IdempotencyClaim>) -> Result<(), StoreError> {
        Operation("insert_ticket")
            .run(async {
                let mut tx = self.begin_write().await?;
                let number = self.next_ticket_number(&mut tx).await?;
                Ticket::set_number(change, TicketNumber(number));
                let t = &change.ticket;
                super::sql::insert_rows(&mut tx, "tickets", TICKET_INSERT_COLUMNS, vec![ticket_row(t)], "").await?;
                insert_tags(&mut tx, t.id, &t.tags).await?;
                super::sla::upsert_clocks(&mut tx, &change.sla.clocks).await?;
                insert_events(&mut tx, t.id, 0, t.updated_at, actor, &change.events).await?;
                // Side writes first: an imported message's row names the ticket before its mail
                // is threaded on it.
                super::feedback::write_side(&mut tx, self.backend, &change.side, actor, t.updated_at).await?;
                let opened_by_mail = change.side.iter().any(|w| matches!(w, SideWrite::MailImported { .. }));
                let thread = if opened_by_mail { super::mail::Thread::LookUp } else { super::mail::Thread::None };
                super::mail::queue_ticket_mail(&mut tx, self.mail_settings(), t, actor, &change.events, t.updated_at, thread).await?;
                super::queues::refresh_queue_state(&mut tx, self.backend, None, &change.ticket).await?;
                if let Some(claim) = claim {
                    let (status, body, location) = (claim.render)(&change.ticket);
                    sqlx::query(
                        "INSERT INTO idempotency_keys (principal, key, request_hash, status, body, location, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(claim.principal)
                    .bind(claim.key)
                    .bind(claim.request_hash)
                    .bind(i64::from(status))
                    .bind(body)
                    .bind(location)
                    .bind(change.ticket.created_at.as_millis())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            })
            .await
    }

    /// Changes one ticket under a row lock: reads it and its SLA clocks, lets `rule` decide the
    /// change, and writes the new state, its events and its clocks in one transaction, so
    /// concurrent writers queue instead of overwriting each other. `Ok(None)`: no such ticket.
    /// A rule error rolls back and is handed back as `Ok(Some(Err(e)))`. On success: the
    /// ticket as committed and the events actually written.
    ///
    /// The ticket row is always locked first, then its clocks: one lock order for every
    /// writer, request or sweeper, so they cannot deadlock.
    pub async fn change_ticket<E>(
        &self,
        reference: TicketRef,
        actor: &Actor,
        rule: impl FnOnce(&Ticket, &[TicketClock]) -> Result<Change, E>,
    ) -> Result<Option<Result<(Ticket, Vec<EventData>), E>>, StoreError> {
        Operation("change_ticket")
            .run(async {
                let mut tx = self.begin_write().await?;
                let (condition, bind) = ticket_condition(reference);
                let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE {condition}{}", self.backend.lock_rows());
                let row = bind_one(sqlx::query(&sql), bind).fetch_optional(&mut *tx).await?;
                let Some(current) = row.as_ref().map(ticket_from_row).transpose()? else {
                    return Ok(None);
                };
                let clocks = super::sla::load_clocks(&mut tx, self.backend, current.id).await?;
                let mut change = match rule(&current, &clocks) {
                    Ok(change) => change,
                    Err(e) => return Ok(Some(Err(e))),
                };
                if change.is_empty() {
                    return Ok(Some(Ok((current, Vec::new()))));
                }
                if change.ticket != current {
                    self.update_ticket_row(&mut tx, &current, &change.ticket).await?;
                }
                super::sla::upsert_clocks(&mut tx, &change.sla.clocks).await?;
                let at = change.ticket.updated_at.max(Timestamp::now());
                let already = super::sla::claim_alerts(&mut tx, &change.sla.alerts, at).await?;
                if !already.is_empty() {
                    // Another node recorded these alerts first: their events must not appear twice.
                    change.events = change.events.into_iter().enumerate().filter(|(i, _)| !already.contains(i)).map(|(_, e)| e).collect();
                }
                if !change.events.is_empty() {
                    let last_seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM ticket_events WHERE ticket_id = $1")
                        .bind(current.id.to_string())
                        .fetch_one(&mut *tx)
                        .await?;
                    insert_events(&mut tx, current.id, last_seq, at, actor, &change.events).await?;
                }
                // Side writes before the mail, as on creation.
                super::feedback::write_side(&mut tx, self.backend, &change.side, actor, at).await?;
                if !change.events.is_empty() {
                    super::mail::queue_ticket_mail(
                        &mut tx,
                        self.mail_settings(),
                        &change.ticket,
                        actor,
                        &change.events,
                        at,
                        super::mail::Thread::LookUp,
                    )
                    .await?;
                }
                super::queues::refresh_queue_state(&mut tx, self.backend, Some(&current), &change.ticket).await?;
                tx.commit().await?;
                Ok(Some(Ok((change.ticket, change.events))))
            })
            .await
    }

    /// Writes a ticket's new state over `current`, which the caller holds locked.
    async fn update_ticket_row(&self, tx: &mut Transaction<'static, Any>, current: &Ticket, t: &Ticket) -> Result<(), StoreError> {
        let update = sqlx::query(
            "UPDATE tickets SET title = $3, title_search = $4, description = $5, kind = $6, channel = $7, \
             priority = $8, customer_name = $9, customer_contact = $10, customer_tier = $11, stage = $12, \
             status = $13, assignee_id = $14, tags = $15, custom_fields = $16, updated_at = $17, \
             first_response_at = $18, resolved_at = $19, closed_at = $20, reopen_count = $21, \
             review_passed_stage = $22, version = $23, staff_replies = $24 WHERE id = $1 AND version = $2",
        )
        .bind(t.id.to_string())
        .bind(current.version);
        let updated = bind_cells(update, ticket_state_cells(t)).execute(&mut **tx).await?;
        // The row lock makes this impossible; checked anyway so a bug cannot lose an update.
        if updated.rows_affected() != 1 {
            return Err(StoreError::VersionConflict);
        }
        if t.tags != current.tags {
            sqlx::query("DELETE FROM ticket_tags WHERE ticket_id = $1").bind(t.id.to_string()).execute(&mut **tx).await?;
            insert_tags(tx, t.id, &t.tags).await?;
        }
        Ok(())
    }

    pub async fn get_ticket(&self, reference: TicketRef) -> Result<Option<Ticket>, StoreError> {
        Operation("get_ticket")
            .run(async {
                let (condition, bind) = ticket_condition(reference);
                let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE {condition}");
                bind_one(sqlx::query(&sql), bind).fetch_optional(self.pool()).await?.as_ref().map(ticket_from_row).transpose()
            })
            .await
    }

    /// One page of a queue: tickets in the query's order, each with its due key (the keyset).
    pub async fn list_queue(&self, query: &TicketQuery) -> Result<Vec<(Ticket, i64)>, StoreError> {
        Operation("list_queue")
            .run(async {
                let (sql, c) = list_query(query);
                let rows = c.bind_all(sqlx::query(&sql)).fetch_all(self.pool()).await?;
                rows.iter().map(|row| Ok((ticket_from_row(row)?, col::<i64>(row, "sla_due_at")?))).collect()
            })
            .await
    }

    /// One page of tickets, newest first. Returns up to `query.limit` tickets.
    pub async fn list_tickets(&self, query: &TicketQuery) -> Result<Vec<Ticket>, StoreError> {
        Operation("list_tickets")
            .run(async {
                let (sql, c) = list_query(query);
                let rows = c.bind_all(sqlx::query(&sql)).fetch_all(self.pool()).await?;
                rows.iter().map(ticket_from_row).collect()
            })
            .await
    }
}

/// The statement for one page of tickets: filters, keyset bound, newest first.
fn list_query(query: &TicketQuery) -> (String, Conditions) {
    let mut c = Conditions::default();
    let text = |s: &str| Bind::Text(s.to_owned());
    // A tag filter reads the tag's index in ticket-id order and joins the tickets, so a rare tag
    // does not walk every ticket.
    let (from, order) = match &query.tag {
        Some(tag) => {
            (format!("ticket_tags tt JOIN tickets ON tickets.id = tt.ticket_id AND tt.tag = {}", c.placeholder(text(tag))), "tt.ticket_id")
        }
        None => ("tickets".to_owned(), "tickets.id"),
    };
    let equal = [
        ("status", query.status.map(|v| v.as_str().to_owned())),
        ("stage", query.stage.clone()),
        ("process", query.process.clone()),
        ("priority", query.priority.map(|v| v.as_str().to_owned())),
        ("channel", query.channel.map(|v| v.as_str().to_owned())),
        ("kind", query.kind.map(|v| v.as_str().to_owned())),
        ("customer_tier", query.tier.clone()),
        ("assignee_id", query.assignee.map(|v| v.to_string())),
    ];
    for (column, value) in equal {
        if let Some(value) = value {
            c.push(&format!("tickets.{column} = {{}}"), Bind::Text(value));
        }
    }
    // Ids are time-ordered, so creation-time bounds become id bounds on the primary key.
    if let Some(v) = query.created_after {
        c.push(&format!("{order} >= {{}}"), Bind::Text(TicketId::lower_bound_at(v)));
    }
    if let Some(v) = query.created_before {
        c.push(&format!("{order} < {{}}"), Bind::Text(TicketId::lower_bound_at(v)));
    }
    if let Some(v) = &query.title_contains {
        c.push("tickets.title_search LIKE {} ESCAPE '\\'", Bind::Text(format!("%{}%", like_escape(&search_form(v)))));
    }
    if let Some(v) = query.delegated_to {
        c.push(
            "EXISTS (SELECT 1 FROM ticket_delegations d WHERE d.ticket_id = tickets.id AND d.partner_id = {} AND d.withdrawn_at IS NULL)",
            Bind::Text(v.to_string()),
        );
    }
    if query.active_only {
        c.and("tickets.status NOT IN ('resolved', 'closed')");
    }
    if query.unassigned {
        c.and("tickets.assignee_id IS NULL");
    }
    if let Some(team) = &query.team {
        c.push("tickets.assignee_id IN (SELECT s.id FROM staff s WHERE s.team = {})", Bind::Text(team.clone()));
    }
    if let Some(band) = query.band {
        c.push("tickets.sla_band = {}", Bind::Text(band.as_str().to_owned()));
    }
    if query.delegated {
        c.and("tickets.delegated_partner IS NOT NULL");
    }
    let columns = TICKET_COLUMNS.split(',').map(|col| format!("tickets.{}", col.trim())).collect::<Vec<_>>().join(", ");
    match query.sort {
        TicketSort::Newest => {
            if let Some(v) = query.before {
                c.push(&format!("{order} < {{}}"), Bind::Text(v.to_string()));
            }
            let limit = c.placeholder(Bind::Int(i64::from(query.limit)));
            let sql = format!("SELECT {columns}, tickets.sla_due_at FROM {from} {} ORDER BY {order} DESC LIMIT {limit}", c.where_sql());
            (sql, c)
        }
        // Soonest due first, keyset on (due key, id) under the (…, sla_due_at, id) indexes.
        TicketSort::SlaDue => {
            if let Some((due, id)) = query.after_due {
                let d = c.placeholder(Bind::Int(due));
                let i = c.placeholder(Bind::Text(id.to_string()));
                c.and(&format!("(tickets.sla_due_at > {d} OR (tickets.sla_due_at = {d} AND tickets.id > {i}))"));
            }
            let limit = c.placeholder(Bind::Int(i64::from(query.limit)));
            let sql = format!(
                "SELECT {columns}, tickets.sla_due_at FROM {from} {} ORDER BY tickets.sla_due_at, tickets.id LIMIT {limit}",
                c.where_sql()
            );
            (sql, c)
        }
    }
}

impl Store {
    /// Events of one ticket after `after_seq`, oldest first.
    pub async fn list_events(&self, ticket: TicketId, after_seq: i64, limit: u32) -> Result<Vec<RecordedEvent>, StoreError> {
        Operation("list_events")
            .run(async {
                let rows = sqlx::query(
                    "SELECT seq, at, actor_kind, actor_token_id, actor_staff_id, actor_name, kind, data FROM ticket_events \
                 WHERE ticket_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                )
                .bind(ticket.to_string())
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch_all(self.pool())
                .await?;
                rows.iter()
                    .map(|row| {
                        let actor_kind: String = col(row, "actor_kind")?;
                        let token: Option<String> = col(row, "actor_token_id")?;
                        let staff: Option<String> = col(row, "actor_staff_id")?;
                        let data: String = col(row, "data")?;
                        Ok(RecordedEvent {
                            seq: col(row, "seq")?,
                            at: Timestamp::from_millis(col(row, "at")?),
                            actor: Actor {
                                kind: serde_json::from_value(serde_json::Value::String(actor_kind)).map_err(corrupt)?,
                                token_id: token.map(|t| TokenId::parse("actor_token_id", &t)).transpose().map_err(corrupt)?,
                                staff_id: staff.map(|s| StaffId::parse("actor_staff_id", &s)).transpose().map_err(corrupt)?,
                                name: col(row, "actor_name")?,
                            },
                            kind: col(row, "kind")?,
                            data: serde_json::from_str(&data).map_err(corrupt)?,
                        })
                    })
                    .collect()
            })
            .await
    }

    /// The stage a ticket was in before it moved to `stage` (for reopening a closed ticket).
    pub async fn stage_left_for(&self, ticket: TicketId, stage: &str) -> Result<Option<String>, StoreError> {
        Operation("stage_left_for")
            .run(async {
                let rows = sqlx::query(
                    "SELECT data FROM ticket_events WHERE ticket_id = $1 AND kind = 'stage_changed' ORDER BY seq DESC LIMIT 20",
                )
                .bind(ticket.to_string())
                .fetch_all(self.pool())
                .await?;
                for row in &rows {
                    let data: serde_json::Value = serde_json::from_str(&col::<String>(row, "data")?).map_err(corrupt)?;
                    if data["to"] == stage {
                        return Ok(data["from"].as_str().map(str::to_owned));
                    }
                }
                Ok(None)
            })
            .await
    }

    pub async fn find_idempotent_response(
        &self,
        principal: &str,
        key: &str,
        not_before: Timestamp,
    ) -> Result<Option<StoredResponse>, StoreError> {
        Operation("find_idempotent_response")
            .run(async {
                let row = sqlx::query(
                    "SELECT request_hash, status, body, location FROM idempotency_keys \
                 WHERE principal = $1 AND key = $2 AND created_at >= $3",
                )
                .bind(principal)
                .bind(key)
                .bind(not_before.as_millis())
                .fetch_optional(self.pool())
                .await?;
                row.map(|row| {
                    Ok(StoredResponse {
                        request_hash: col(&row, "request_hash")?,
                        status: u16::try_from(col::<i64>(&row, "status")?).map_err(corrupt)?,
                        body: col(&row, "body")?,
                        location: col(&row, "location")?,
                    })
                })
                .transpose()
            })
            .await
    }

    /// Forgets idempotency keys older than `before`; returns how many.
    pub async fn purge_idempotency_keys(&self, before: Timestamp) -> Result<u64, StoreError> {
        Operation("purge_idempotency_keys")
            .run(async {
                let done =
                    sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1").bind(before.as_millis()).execute(self.pool()).await?;
                Ok(done.rows_affected())
            })
            .await
    }
}

/// The columns of a new ticket row, in the order of [`ticket_row`].
pub(super) const TICKET_INSERT_COLUMNS: &str = "id, number, process, process_version, created_at, origin_ticket_id, \
     title, title_search, description, kind, channel, priority, customer_name, customer_contact, customer_tier, \
     stage, status, assignee_id, tags, custom_fields, updated_at, first_response_at, resolved_at, closed_at, \
     reopen_count, review_passed_stage, version, staff_replies";

/// A new ticket row: the fields fixed at creation, then [`ticket_state_cells`].
pub(super) fn ticket_row(t: &Ticket) -> Vec<Cell> {
    let mut row = vec![
        t.id.to_string().into(),
        t.number.0.into(),
        t.process.as_str().into(),
        i64::from(t.process_version).into(),
        t.created_at.as_millis().into(),
        t.origin_ticket_id.map(|o| o.to_string()).into(),
    ];
    row.extend(ticket_state_cells(t));
    row
}

/// The fields a ticket change may alter, in the order the insert and the update list them
/// (after their own leading parameters).
fn ticket_state_cells(t: &Ticket) -> Vec<Cell> {
    vec![
        t.title.as_str().into(),
        search_form(&t.title).into(),
        t.description.as_str().into(),
        t.kind.as_str().into(),
        t.channel.as_str().into(),
        t.priority.as_str().into(),
        t.customer.name.as_str().into(),
        t.customer.contact.clone().into(),
        t.customer.tier.as_str().into(),
        t.stage.as_str().into(),
        t.status.as_str().into(),
        t.assignee.map(|a| a.to_string()).into(),
        json_text(&t.tags).into(),
        json_text(&t.custom_fields).into(),
        t.updated_at.as_millis().into(),
        t.first_response_at.map(Timestamp::as_millis).into(),
        t.resolved_at.map(Timestamp::as_millis).into(),
        t.closed_at.map(Timestamp::as_millis).into(),
        i64::from(t.reopen_count).into(),
        t.review_passed_stage.clone().into(),
        t.version.into(),
        i64::from(t.staff_replies).into(),
    ]
}

pub(super) fn ticket_condition(reference: TicketRef) -> (&'static str, Bind) {
    match reference {
        TicketRef::Id(id) => ("id = $1", Bind::Text(id.to_string())),
        TicketRef::Number(n) => ("number = $1", Bind::Int(n.0)),
    }
}

pub(super) fn bind_one<'q>(
    query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    bind: Bind,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    match bind {
        Bind::Text(s) => query.bind(s),
        Bind::Int(i) => query.bind(i),
        Bind::Bool(b) => query.bind(b),
    }
}

async fn insert_tags(tx: &mut Transaction<'static, Any>, ticket: TicketId, tags: &[String]) -> Result<(), StoreError> {
    let rows = tags.iter().map(|tag| vec![tag.as_str().into(), ticket.to_string().into()]).collect();
    insert_rows(tx, "ticket_tags", "tag, ticket_id", rows, "").await?;
    Ok(())
}

pub(super) const EVENT_INSERT_COLUMNS: &str = "ticket_id, seq, at, actor_kind, actor_token_id, actor_staff_id, actor_name, kind, data";

pub(super) fn event_row(ticket: TicketId, seq: i64, at: Timestamp, actor: &Actor, event: &EventData) -> Vec<Cell> {
    let actor_kind = match actor.kind {
        ActorKind::Token => "token",
        ActorKind::System => "system",
        ActorKind::Customer => "customer",
        ActorKind::Plugin => "plugin",
        ActorKind::Session => "session",
    };
    vec![
        ticket.to_string().into(),
        seq.into(),
        at.as_millis().into(),
        actor_kind.into(),
        actor.token_id.map(|t| t.to_string()).into(),
        actor.staff_id.map(|s| s.to_string()).into(),
        actor.name.as_str().into(),
        event.kind().into(),
        event.data_json().to_string().into(),
    ]
}

pub(super) async fn insert_events(
    tx: &mut Transaction<'static, Any>,
    ticket: TicketId,
    last_seq: i64,
    at: Timestamp,
    actor: &Actor,
    events: &[EventData],
) -> Result<(), StoreError> {
    let rows = events.iter().enumerate().map(|(i, event)| event_row(ticket, last_seq + 1 + i as i64, at, actor, event)).collect();
    insert_rows(tx, "ticket_events", EVENT_INSERT_COLUMNS, rows, "").await?;
    super::webhooks::queue_deliveries(tx, ticket, last_seq, at, events).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_domain::ticket::{Channel, Kind, Priority, Status};

    /// Every ticket listing is served by an index: SQLite's plan for each filter, alone and
    /// with a keyset cursor, never scans the table without one.
    #[tokio::test]
    async fn every_ticket_listing_uses_an_index() {
        let dir = std::env::temp_dir().join(format!("steward-plan-{}", uuid::Uuid::now_v7().simple()));
        let config = crate::DatabaseConfig { url: format!("sqlite://{}/plan.db", dir.display()), ..Default::default() };
        let store = Store::connect(&config).await.unwrap();
        store.migrate().await.unwrap();
        let now = Timestamp::from_millis(1_800_000_000_000);
        let base = TicketQuery { limit: 50, ..Default::default() };
        // Without a filter, and for title text (LIKE '%…%' has no b-tree), the newest tickets are
        // read in id order until the page is full; every other filter searches an index.
        let in_id_order = [TicketQuery { ..base.clone() }, TicketQuery { title_contains: Some("printer".into()), ..base.clone() }];
        for query in &in_id_order {
            let (sql, c) = list_query(query);
            let rows = c.bind_all(sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))).fetch_all(store.pool()).await.unwrap();
            let plan: Vec<String> = rows.iter().map(|r| col::<String>(r, "detail").unwrap()).collect();
            assert_eq!(plan, ["SCAN tickets USING INDEX sqlite_autoindex_tickets_1"], "{query:?}");
        }
        let queries = [
            TicketQuery { status: Some(Status::Open), ..base.clone() },
            TicketQuery { stage: Some("delivery".into()), ..base.clone() },
            TicketQuery { process: Some("general".into()), ..base.clone() },
            TicketQuery { priority: Some(Priority::High), ..base.clone() },
            TicketQuery { channel: Some(Channel::Email), ..base.clone() },
            TicketQuery { kind: Some(Kind::Incident), ..base.clone() },
            TicketQuery { tier: Some("vip".into()), ..base.clone() },
            TicketQuery { assignee: Some(steward_domain::ids::StaffId::new_at(now)), ..base.clone() },
            TicketQuery { tag: Some("hw".into()), ..base.clone() },
            TicketQuery { created_after: Some(now), created_before: Some(now.plus_millis(1)), ..base.clone() },
            TicketQuery { tag: Some("hw".into()), before: Some(TicketId::new_at(now)), ..base.clone() },
            TicketQuery { status: Some(Status::Open), before: Some(TicketId::new_at(now)), ..base.clone() },
        ];
        for query in queries {
            let (sql, c) = list_query(&query);
            let rows = c.bind_all(sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))).fetch_all(store.pool()).await.unwrap();
            let plan: Vec<String> = rows.iter().map(|r| col::<String>(r, "detail").unwrap()).collect();
            assert!(plan.iter().all(|step| step.starts_with("SEARCH")), "{query:?} does not search an index: {plan:?}");
            assert!(!plan.iter().any(|s| s.contains("TEMP B-TREE")), "{query:?} sorts instead of reading in order: {plan:?}");
        }
        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
