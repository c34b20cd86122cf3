//! Webhooks and their deliveries. Deliveries are an outbox: queued in the transaction that
//! records the ticket events ([`queue_deliveries`]), then claimed under a lease by the delivery
//! worker of any node, so that no two nodes send one delivery at the same time.

use super::sql::{placeholders, Bind};
use super::Operation;
use super::{col, col_bool, corrupt, Leased, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use std::collections::HashMap;
use steward_domain::event::{Actor, ActorKind, EventData, RecordedEvent};
use steward_domain::ids::{DeliveryId, StaffEventId, StaffId, TicketId, TicketNumber, TokenId, WebhookId};
use steward_domain::ticket::Customer;
use steward_domain::time::Timestamp;
use steward_domain::training::StaffEvent;
use steward_domain::webhook::{Attempt, AttemptOutcome, Delivery, DeliveryState, EventFilter, Webhook};

const WEBHOOK_COLUMNS: &str = "id, url, event_kinds, secret, active, created_at, updated_at";

/// Deliveries that may be sent now: due, not leased to a worker, of an active webhook.
/// Binds: `$1` and `$2` the current time, `$3` true.
const DUE: &str = "webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
     WHERE d.next_attempt_at <= $1 AND (d.locked_until IS NULL OR d.locked_until <= $2) AND w.active = $3";

/// A delivery claimed by this node, with what sending it takes.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub url: String,
    pub secret: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// Proves the claim when the outcome is recorded.
    pub lock_token: String,
    pub subject: DeliverySubject,
}

/// Pending deliveries of active webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookQueue {
    pub pending: u64,
    pub oldest_queued_at: Option<Timestamp>,
}

/// What a delivery sends: a ticket event, or a staff event.
#[derive(Debug, Clone)]
pub enum DeliverySubject {
    /// The ticket's title and customer as they are when the delivery is sent.
    Ticket {
        ticket_id: TicketId,
        ticket_number: TicketNumber,
        ticket_title: String,
        customer: Customer,
        event: RecordedEvent,
    },
    Staff(StaffEvent),
}

impl ClaimedDelivery {
    /// The event's kind (sent as `Steward-Event`).
    pub fn kind(&self) -> &str {
        match &self.subject {
            DeliverySubject::Ticket { event, .. } => &event.kind,
            DeliverySubject::Staff(e) => &e.kind,
        }
    }
}

/// Queues one delivery of a staff event for every active webhook that wants its kind, in the
/// transaction that records the event (the same outbox as ticket events).
pub(super) async fn queue_staff_deliveries(
    tx: &mut Transaction<'static, Any>,
    event: StaffEventId,
    kind: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    let webhooks = sqlx::query("SELECT id, event_kinds FROM webhooks WHERE active = $1").bind(true).fetch_all(&mut **tx).await?;
    for webhook in &webhooks {
        let webhook_id: String = col(webhook, "id")?;
        if !filter_from_text(&col::<String>(webhook, "event_kinds")?)?.matches(kind) {
            continue;
        }
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, staff_event_id, state, attempts, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $6)",
        )
        .bind(DeliveryId::new_at(at).to_string())
        .bind(&webhook_id)
        .bind(event.to_string())
        .bind(DeliveryState::Pending.as_str())
        .bind(at.as_millis())
        .bind(at.as_millis())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The outcome of an attempt and what follows it, recorded by the claim's holder.
pub struct FinishedAttempt<'a> {
    pub delivery: &'a ClaimedDelivery,
    pub attempt: &'a Attempt,
    pub state: DeliveryState,
    pub next_attempt_at: Option<Timestamp>,
}

fn filter_from_text(text: &str) -> Result<EventFilter, StoreError> {
    let kinds: Vec<String> = serde_json::from_str(text).map_err(corrupt)?;
    EventFilter::parse("event_kinds", &kinds).map_err(corrupt)
}

fn webhook_from_row(row: &AnyRow) -> Result<Webhook, StoreError> {
    let id: String = col(row, "id")?;
    Ok(Webhook {
        id: WebhookId::parse("id", &id).map_err(corrupt)?,
        url: col(row, "url")?,
        events: filter_from_text(&col::<String>(row, "event_kinds")?)?,
        secret: col(row, "secret")?,
        active: col_bool(row, "active")?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        updated_at: Timestamp::from_millis(col(row, "updated_at")?),
    })
}

fn event_kinds_text(webhook: &Webhook) -> String {
    serde_json::to_string(&webhook.events.to_list()).expect("strings serialise")
}

fn count(row: &AnyRow, name: &str) -> Result<u32, StoreError> {
    u32::try_from(col::<i64>(row, name)?).map_err(corrupt)
}

/// Queues one delivery per event for every active webhook that wants it, inside the
/// transaction that records the events: an event commits with its deliveries or not at all.
/// The webhooks are read here each time, so one just created on another node is not missed.
/// The events are numbered from `last_seq + 1`, as `insert_events` numbers them.
pub(super) async fn queue_deliveries(
    tx: &mut Transaction<'static, Any>,
    ticket: TicketId,
    last_seq: i64,
    at: Timestamp,
    events: &[EventData],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let webhooks = sqlx::query("SELECT id, event_kinds FROM webhooks WHERE active = $1").bind(true).fetch_all(&mut **tx).await?;
    for webhook in &webhooks {
        let webhook_id: String = col(webhook, "id")?;
        let filter = filter_from_text(&col::<String>(webhook, "event_kinds")?)?;
        for (i, _) in events.iter().enumerate().filter(|(_, e)| filter.matches(e.kind())) {
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, webhook_id, ticket_id, seq, state, attempts, created_at, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
            )
            .bind(DeliveryId::new_at(at).to_string())
            .bind(&webhook_id)
            .bind(ticket.to_string())
            .bind(last_seq + 1 + i as i64)
            .bind(DeliveryState::Pending.as_str())
            .bind(at.as_millis())
            .bind(at.as_millis())
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

impl Store {
    pub async fn insert_webhook(&self, w: &Webhook) -> Result<(), StoreError> {
        Operation("insert_webhook")
            .run(async {
                sqlx::query(&format!("INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"))
                    .bind(w.id.to_string())
                    .bind(&w.url)
                    .bind(event_kinds_text(w))
                    .bind(&w.secret)
                    .bind(w.active)
                    .bind(w.created_at.as_millis())
                    .bind(w.updated_at.as_millis())
                    .execute(self.pool())
                    .await?;
                Ok(())
            })
            .await
    }

    pub async fn get_webhook(&self, id: WebhookId) -> Result<Option<Webhook>, StoreError> {
        Operation("get_webhook")
            .run(async {
                let row = sqlx::query(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1"))
                    .bind(id.to_string())
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(webhook_from_row).transpose()
            })
            .await
    }

    pub async fn list_webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        Operation("list_webhooks")
            .run(async {
                let rows = sqlx::query(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY id")).fetch_all(self.pool()).await?;
                rows.iter().map(webhook_from_row).collect()
            })
            .await
    }

    /// Returns false when no such webhook exists.
    pub async fn update_webhook(&self, w: &Webhook) -> Result<bool, StoreError> {
        Operation("update_webhook")
            .run(async {
                let done =
                    sqlx::query("UPDATE webhooks SET url = $2, event_kinds = $3, secret = $4, active = $5, updated_at = $6 WHERE id = $1")
                        .bind(w.id.to_string())
                        .bind(&w.url)
                        .bind(event_kinds_text(w))
                        .bind(&w.secret)
                        .bind(w.active)
                        .bind(w.updated_at.as_millis())
                        .execute(self.pool())
                        .await?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }

    /// Deletes a webhook with its deliveries and their attempts. Returns false when no such
    /// webhook exists.
    pub async fn delete_webhook(&self, id: WebhookId) -> Result<bool, StoreError> {
        Operation("delete_webhook")
            .run(async {
                let done = sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id.to_string()).execute(self.pool()).await?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }

    /// Claims up to `limit` deliveries that are due at `now` until `lease_until`: no other
    /// worker takes them before then, so a worker that dies mid-send delays its deliveries by
    /// the lease at most. On PostgreSQL concurrent claimers skip each other's rows; on SQLite
    /// the claim runs under the database's write lock.
    pub async fn claim_due_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        Operation("claim_due_deliveries")
            .run(async {
                let due = vec![Bind::Int(now.as_millis()), Bind::Int(now.as_millis()), Bind::Bool(true)];
                let Some(Leased { ids, token: lock_token, mut tx }) =
                    self.lease_due("webhook_deliveries", "d", DUE, due, lease_until, limit).await?
                else {
                    return Ok(Vec::new());
                };
                let details = format!(
                    "SELECT d.id, d.webhook_id, d.attempts, d.ticket_id, d.staff_event_id, w.url, w.secret, t.number, \
                 t.title, t.customer_name, t.customer_contact, t.customer_tier, \
                 e.seq, e.at, e.actor_kind, e.actor_token_id, e.actor_staff_id, e.actor_name, e.kind, e.data, \
                 s.staff_id AS s_staff_id, s.at AS s_at, s.kind AS s_kind, s.data AS s_data \
                 FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                 LEFT JOIN ticket_events e ON e.ticket_id = d.ticket_id AND e.seq = d.seq LEFT JOIN tickets t ON t.id = d.ticket_id \
                 LEFT JOIN staff_events s ON s.id = d.staff_event_id \
                 WHERE d.id IN ({}) ORDER BY d.next_attempt_at",
                    placeholders(1, ids.len())
                );
                let rows = ids.iter().fold(sqlx::query(&details), |q, id| q.bind(id)).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                rows.iter()
                    .map(|row| {
                        let id: String = col(row, "id")?;
                        let webhook_id: String = col(row, "webhook_id")?;
                        let ticket_id: Option<String> = col(row, "ticket_id")?;
                        let staff_event_id: Option<String> = col(row, "staff_event_id")?;
                        let subject = match (ticket_id, staff_event_id) {
                            (Some(ticket_id), _) => DeliverySubject::Ticket {
                                ticket_id: TicketId::parse("ticket_id", &ticket_id).map_err(corrupt)?,
                                ticket_number: TicketNumber(col(row, "number")?),
                                ticket_title: col(row, "title")?,
                                customer: Customer {
                                    name: col(row, "customer_name")?,
                                    contact: col(row, "customer_contact")?,
                                    tier: col(row, "customer_tier")?,
                                },
                                event: event_from_row(row)?,
                            },
                            (None, Some(event_id)) => DeliverySubject::Staff(StaffEvent {
                                id: StaffEventId::parse("staff_event_id", &event_id).map_err(corrupt)?,
                                staff_id: StaffId::parse("staff_id", &col::<String>(row, "s_staff_id")?).map_err(corrupt)?,
                                at: Timestamp::from_millis(col(row, "s_at")?),
                                kind: col(row, "s_kind")?,
                                data: serde_json::from_str(&col::<String>(row, "s_data")?).map_err(corrupt)?,
                            }),
                            (None, None) => return Err(corrupt("a delivery names neither a ticket event nor a staff event")),
                        };
                        Ok(ClaimedDelivery {
                            id: DeliveryId::parse("id", &id).map_err(corrupt)?,
                            webhook_id: WebhookId::parse("webhook_id", &webhook_id).map_err(corrupt)?,
                            url: col(row, "url")?,
                            secret: col(row, "secret")?,
                            attempts: count(row, "attempts")?,
                            lock_token: lock_token.clone(),
                            subject,
                        })
                    })
                    .collect()
            })
            .await
    }

    /// Records an attempt and what follows it, if the claim still holds (the lease may have run
    /// out and passed to another worker, or the webhook been deleted). Returns whether it did.
    pub async fn record_delivery_attempt(&self, finished: FinishedAttempt<'_>) -> Result<bool, StoreError> {
        Operation("record_delivery_attempt")
            .run(async {
                let delivery = finished.delivery;
                let number = delivery.attempts + 1;
                let mut tx = self.begin_write().await?;
                let holds = super::finish_leased(
                    &mut tx,
                    "webhook_deliveries",
                    &delivery.id.to_string(),
                    &delivery.lock_token,
                    "state = $3, attempts = $4, next_attempt_at = $5",
                    vec![
                        finished.state.as_str().into(),
                        i64::from(number).into(),
                        finished.next_attempt_at.map(Timestamp::as_millis).into(),
                    ],
                )
                .await?;
                if !holds {
                    return Ok(false);
                }
                let (status_code, error) = match &finished.attempt.outcome {
                    AttemptOutcome::Status(code) => (Some(i64::from(*code)), None),
                    AttemptOutcome::Error(message) => (None, Some(message.as_str())),
                };
                sqlx::query(
                "INSERT INTO webhook_attempts (delivery_id, number, at, duration_ms, status_code, error) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(delivery.id.to_string())
            .bind(i64::from(number))
            .bind(finished.attempt.at.as_millis())
            .bind(finished.attempt.duration_ms)
            .bind(status_code)
            .bind(error)
            .execute(&mut *tx)
            .await?;
                tx.commit().await?;
                Ok(true)
            })
            .await
    }

    /// Queues a delivered or failed delivery of `webhook` again, due at `now` (the attempts so
    /// far stay in its log). Returns the state it was in, or None when there is no such delivery.
    /// A pending one is left as it is (its state is returned).
    pub async fn redeliver(&self, webhook: WebhookId, delivery: DeliveryId, now: Timestamp) -> Result<Option<DeliveryState>, StoreError> {
        Operation("redeliver")
            .run(async {
                let mut tx = self.begin_write().await?;
                let state: Option<String> = sqlx::query_scalar("SELECT state FROM webhook_deliveries WHERE id = $1 AND webhook_id = $2")
                    .bind(delivery.to_string())
                    .bind(webhook.to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(state) = state else {
                    tx.commit().await?;
                    return Ok(None);
                };
                let state = DeliveryState::parse("state", &state).map_err(corrupt)?;
                if state != DeliveryState::Pending {
                    sqlx::query(
                        "UPDATE webhook_deliveries SET state = $2, next_attempt_at = $3, locked_until = NULL, lock_token = NULL WHERE id = $1",
                    )
                    .bind(delivery.to_string())
                    .bind(DeliveryState::Pending.as_str())
                    .bind(now.as_millis())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(Some(state))
            })
            .await
    }

    /// The outbox as an operator watches it: deliveries still to be sent for active webhooks,
    /// and when the oldest of them was queued. Served by the partial index on pending rows.
    pub async fn webhook_queue(&self) -> Result<WebhookQueue, StoreError> {
        Operation("webhook_queue")
            .run(async {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS pending, MIN(d.created_at) AS oldest FROM webhook_deliveries d \
                     JOIN webhooks w ON w.id = d.webhook_id WHERE d.next_attempt_at IS NOT NULL AND w.active = $1",
                )
                .bind(true)
                .fetch_one(self.pool())
                .await?;
                Ok(WebhookQueue {
                    pending: count(&row, "pending")?.into(),
                    oldest_queued_at: col::<Option<i64>>(&row, "oldest")?.map(Timestamp::from_millis),
                })
            })
            .await
    }

    /// One page of a webhook's deliveries, newest first, below `before`.
    pub async fn list_deliveries(&self, webhook: WebhookId, before: Option<DeliveryId>, limit: u32) -> Result<Vec<Delivery>, StoreError> {
        Operation("list_deliveries")
            .run(async {
                let before_clause = if before.is_some() { "AND d.id < $3" } else { "" };
                let sql = format!(
                    "SELECT d.id, d.webhook_id, d.ticket_id, d.seq, d.staff_event_id, d.state, d.next_attempt_at, d.created_at, \
                 COALESCE(e.kind, s.kind) AS kind, t.number \
                 FROM webhook_deliveries d LEFT JOIN ticket_events e ON e.ticket_id = d.ticket_id AND e.seq = d.seq \
                 LEFT JOIN tickets t ON t.id = d.ticket_id LEFT JOIN staff_events s ON s.id = d.staff_event_id \
                 WHERE d.webhook_id = $1 {before_clause} ORDER BY d.id DESC LIMIT $2"
                );
                let mut query = sqlx::query(&sql).bind(webhook.to_string()).bind(i64::from(limit));
                if let Some(before) = before {
                    query = query.bind(before.to_string());
                }
                let rows = query.fetch_all(self.pool()).await?;
                let mut deliveries = rows
                    .iter()
                    .map(|row| {
                        let id: String = col(row, "id")?;
                        let webhook_id: String = col(row, "webhook_id")?;
                        let ticket_id: Option<String> = col(row, "ticket_id")?;
                        let staff_event_id: Option<String> = col(row, "staff_event_id")?;
                        let state: String = col(row, "state")?;
                        Ok(Delivery {
                            id: DeliveryId::parse("id", &id).map_err(corrupt)?,
                            webhook_id: WebhookId::parse("webhook_id", &webhook_id).map_err(corrupt)?,
                            ticket_id: ticket_id.map(|t| TicketId::parse("ticket_id", &t)).transpose().map_err(corrupt)?,
                            ticket_number: col::<Option<i64>>(row, "number")?.map(TicketNumber),
                            seq: col(row, "seq")?,
                            staff_event_id: staff_event_id
                                .map(|s| StaffEventId::parse("staff_event_id", &s))
                                .transpose()
                                .map_err(corrupt)?,
                            event_kind: col(row, "kind")?,
                            state: DeliveryState::parse("state", &state).map_err(corrupt)?,
                            attempts: Vec::new(),
                            next_attempt_at: col::<Option<i64>>(row, "next_attempt_at")?.map(Timestamp::from_millis),
                            created_at: Timestamp::from_millis(col(row, "created_at")?),
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                if deliveries.is_empty() {
                    return Ok(deliveries);
                }
                let sql = format!(
                    "SELECT delivery_id, at, duration_ms, status_code, error FROM webhook_attempts \
                 WHERE delivery_id IN ({}) ORDER BY delivery_id, number",
                    placeholders(1, deliveries.len())
                );
                let rows = deliveries.iter().fold(sqlx::query(&sql), |q, d| q.bind(d.id.to_string())).fetch_all(self.pool()).await?;
                let mut attempts: HashMap<String, Vec<Attempt>> = HashMap::new();
                for row in &rows {
                    let status_code: Option<i64> = col(row, "status_code")?;
                    let error: Option<String> = col(row, "error")?;
                    let outcome = match (status_code, error) {
                        (Some(code), _) => AttemptOutcome::Status(u16::try_from(code).map_err(corrupt)?),
                        (None, error) => AttemptOutcome::Error(error.unwrap_or_default()),
                    };
                    attempts.entry(col(row, "delivery_id")?).or_default().push(Attempt {
                        at: Timestamp::from_millis(col(row, "at")?),
                        duration_ms: col(row, "duration_ms")?,
                        outcome,
                    });
                }
                for delivery in &mut deliveries {
                    delivery.attempts = attempts.remove(&delivery.id.to_string()).unwrap_or_default();
                }
                Ok(deliveries)
            })
            .await
    }
}

fn event_from_row(row: &AnyRow) -> Result<RecordedEvent, StoreError> {
    let actor_kind: String = col(row, "actor_kind")?;
    let token: Option<String> = col(row, "actor_token_id")?;
    let staff: Option<String> = col(row, "actor_staff_id")?;
    let data: String = col(row, "data")?;
    Ok(RecordedEvent {
        seq: col(row, "seq")?,
        at: Timestamp::from_millis(col(row, "at")?),
        actor: Actor {
            kind: match actor_kind.as_str() {
                "token" => ActorKind::Token,
                "system" => ActorKind::System,
                "customer" => ActorKind::Customer,
                "plugin" => ActorKind::Plugin,
                "session" => ActorKind::Session,
                other => return Err(corrupt(format!("actor_kind `{other}`"))),
            },
            token_id: token.map(|t| TokenId::parse("actor_token_id", &t)).transpose().map_err(corrupt)?,
            staff_id: staff.map(|s| StaffId::parse("actor_staff_id", &s)).transpose().map_err(corrupt)?,
            name: col(row, "actor_name")?,
        },
        kind: col(row, "kind")?,
        data: serde_json::from_str(&data).map_err(corrupt)?,
    })
}
