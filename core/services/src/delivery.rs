//! Webhook delivery: the worker that sends queued deliveries over HTTP. The one place that
//! knows the HTTP client (reqwest) and the webhook payload, which is a public contract like the
//! REST API: `{"id", "webhook_id", "event": {"ticket_id", "ticket_number", "ticket_title",
//! "customer": {"name", "contact", "tier"}, "seq", "at", "kind", "actor", "data"}}` for a ticket
//! event (title and customer as they are when the delivery is sent, so a receiver can act
//! without calling back), `{"id", "webhook_id", "staff_event": {"id",
//! "staff_id", "at", "kind", "data"}}` for a staff event, POSTed with `Steward-Event`,
//! `Steward-Delivery` and `Steward-Signature`.
//!
//! Every node may run a worker. Each pass claims due deliveries under a lease (see
//! `Store::claim_due_deliveries`), sends them concurrently, and records each attempt; the
//! services decide whether a delivery is done, retried later or given up.

use crate::config::WebhooksConfig;
use crate::Services;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use steward_domain::event::ActorKind;
use steward_domain::ids::{DeliveryId, StaffEventId, StaffId, TicketId, TicketNumber, TokenId, WebhookId};
use steward_domain::time::Timestamp;
use steward_domain::webhook::{signature_header, Attempt, AttemptOutcome};
use steward_storage::webhooks::{ClaimedDelivery, DeliverySubject};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// Deliveries claimed per pass; they are sent concurrently.
pub const CLAIM_BATCH: u32 = 16;

#[derive(Serialize)]
struct Payload<'a> {
    id: DeliveryId,
    webhook_id: WebhookId,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<EventPayload<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    staff_event: Option<StaffEventPayload<'a>>,
}

/// An event of the staff timeline, as `GET /api/v1/staff-events` shows it.
#[derive(Serialize)]
struct StaffEventPayload<'a> {
    id: StaffEventId,
    staff_id: StaffId,
    at: Timestamp,
    kind: &'a str,
    data: &'a Value,
}

#[derive(Serialize)]
struct EventPayload<'a> {
    ticket_id: TicketId,
    /// `T-000123`
    ticket_number: TicketNumber,
    ticket_title: &'a str,
    customer: CustomerPayload<'a>,
    seq: i64,
    at: Timestamp,
    kind: &'a str,
    actor: ActorPayload<'a>,
    data: &'a Value,
}

/// The same shape as a ticket's customer in the ticket API.
#[derive(Serialize)]
struct CustomerPayload<'a> {
    name: &'a str,
    contact: Option<&'a str>,
    tier: &'a str,
}

/// The same shape as an actor in the ticket timeline API.
#[derive(Serialize)]
struct ActorPayload<'a> {
    kind: ActorKind,
    token_id: Option<TokenId>,
    staff_id: Option<StaffId>,
    name: &'a str,
}

fn payload(d: &ClaimedDelivery) -> Payload<'_> {
    match &d.subject {
        DeliverySubject::Ticket { ticket_id, ticket_number, ticket_title, customer, event: e } => Payload {
            id: d.id,
            webhook_id: d.webhook_id,
            event: Some(EventPayload {
                ticket_id: *ticket_id,
                ticket_number: *ticket_number,
                ticket_title,
                customer: CustomerPayload { name: &customer.name, contact: customer.contact.as_deref(), tier: &customer.tier },
                seq: e.seq,
                at: e.at,
                kind: &e.kind,
                actor: ActorPayload { kind: e.actor.kind, token_id: e.actor.token_id, staff_id: e.actor.staff_id, name: &e.actor.name },
                data: &e.data,
            }),
            staff_event: None,
        },
        DeliverySubject::Staff(e) => Payload {
            id: d.id,
            webhook_id: d.webhook_id,
            event: None,
            staff_event: Some(StaffEventPayload { id: e.id, staff_id: e.staff_id, at: e.at, kind: &e.kind, data: &e.data }),
        },
    }
}

/// A ping's body: `{"id", "webhook_id", "ping": {"at"}}`, sent as `Steward-Event: ping`.
#[derive(Serialize)]
struct PingPayload {
    id: DeliveryId,
    webhook_id: WebhookId,
    ping: PingBody,
}

#[derive(Serialize)]
struct PingBody {
    at: Timestamp,
}

/// The client deliveries and pings are sent with.
/// The one webhook HTTP client shape: names resolve through the destination guard (the address
/// checked is the one used), redirects are never followed.
fn client(timeout: Duration, destinations: &steward_domain::destination::Destinations) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(crate::destinations::GuardedResolver { rule: destinations.clone() }))
        .timeout(timeout)
        // A redirect is an answer other than 2xx: it is recorded and retried, never followed,
        // so a delivery goes nowhere but the configured URL.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Steward-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends one signed `ping` to a webhook's URL now, active or not, and says how the receiver
/// answered; nothing is queued or recorded. An operator's check that URL and secret work.
pub async fn ping_webhook(services: &Services, config: &WebhooksConfig, id: WebhookId) -> Result<Attempt, crate::ServiceError> {
    let webhook = services.get_webhook(id).await?;
    let timeout = Duration::from_millis(config.timeout_ms);
    let destinations = services.webhook_destinations();
    // A ping is a delivery like any other: it never reaches a refused destination.
    if !crate::destinations::literal_permitted(&destinations, &webhook.url) {
        return Ok(Attempt {
            at: Timestamp::now(),
            duration_ms: 0,
            outcome: AttemptOutcome::Error(crate::destinations::REFUSED.to_owned()),
        });
    }
    let client = client(timeout, &destinations)
        .map_err(|e| crate::ServiceError::Internal { operation: "building the webhook HTTP client", cause: e.to_string() })?;
    let at = Timestamp::now();
    let delivery = DeliveryId::new_at(at);
    let body =
        serde_json::to_vec(&PingPayload { id: delivery, webhook_id: webhook.id, ping: PingBody { at } }).expect("plain data serialises");
    let started = Instant::now();
    let sent = client
        .post(&webhook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Steward-Event", "ping")
        .header("Steward-Delivery", delivery.to_string())
        .header("Steward-Signature", signature_header(&webhook.secret, at.as_millis().div_euclid(1000), &body))
        .body(body)
        .send()
        .await;
    let outcome = match sent {
        Ok(response) => AttemptOutcome::Status(response.status().as_u16()),
        Err(e) => AttemptOutcome::Error(describe(&e, timeout)),
    };
    Ok(Attempt { at, duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX), outcome })
}

/// Sends deliveries: the HTTP client and what it needs.
struct Sender {
    services: Arc<Services>,
    client: reqwest::Client,
    timeout: Duration,
    destinations: steward_domain::destination::Destinations,
}

/// A delivery worker ready to start: built with the application so that a client that cannot
/// be made (TLS set-up) stops start-up rather than failing later.
pub struct DeliveryWorker {
    sender: Arc<Sender>,
    poll_interval: Duration,
}

impl DeliveryWorker {
    pub fn new(services: Arc<Services>, config: &WebhooksConfig) -> Result<DeliveryWorker, reqwest::Error> {
        let timeout = Duration::from_millis(config.timeout_ms);
        let destinations = services.webhook_destinations();
        let client = client(timeout, &destinations)?;
        Ok(DeliveryWorker {
            sender: Arc::new(Sender { services, client, timeout, destinations }),
            poll_interval: Duration::from_millis(config.poll_interval_ms),
        })
    }

    /// One pass, the one the running worker makes on every poll: claims due deliveries (at
    /// most [`CLAIM_BATCH`]), sends them concurrently and records each attempt. Returns how many
    /// were claimed. Tests call it to deliver when they choose.
    pub async fn deliver_due(&self) -> Result<usize, crate::ServiceError> {
        self.sender.deliver_due().await
    }

    /// Starts sending in the background until [`RunningWorker::stop`].
    pub fn start(self) -> RunningWorker {
        let (stop, stopping) = watch::channel(false);
        let task = tokio::spawn(run(self.sender, self.poll_interval, stopping));
        RunningWorker::new(stop, task)
    }
}

/// A started worker. Dropping it aborts the worker; [`RunningWorker::stop`] lets the attempts
/// in flight finish and be recorded first.
pub struct RunningWorker {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl RunningWorker {
    pub(crate) fn new(stop: watch::Sender<bool>, task: JoinHandle<()>) -> RunningWorker {
        RunningWorker { stop, task: Some(task) }
    }

    /// Stops claiming, and waits for the attempts in flight (each bounded by the timeout).
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn run(sender: Arc<Sender>, poll_interval: Duration, stopping: watch::Receiver<bool>) {
    run_passes("webhook deliveries", CLAIM_BATCH as usize, poll_interval, stopping, || sender.deliver_due()).await
}

/// A worker's loop: one `pass` after another until stopped, at once again after a full batch
/// (more is likely due), else after `poll_interval`. A pass that is stopped mid-way finishes.
pub(crate) async fn run_passes<F, Fut>(what: &str, batch: usize, poll_interval: Duration, mut stopping: watch::Receiver<bool>, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<usize, crate::ServiceError>>,
{
    loop {
        let full_batch = match pass().await {
            Ok(claimed) => claimed == batch,
            Err(e) => {
                tracing::warn!(error = %e, "{what} could not be claimed");
                false
            }
        };
        if *stopping.borrow() {
            break;
        }
        if full_batch {
            continue;
        }
        tokio::select! {
            _ = stopping.changed() => break,
            () = tokio::time::sleep(poll_interval) => {}
        }
    }
}

impl Sender {
    /// One pass: claims due deliveries, sends them concurrently, records each attempt.
    /// Returns how many were claimed.
    async fn deliver_due(self: &Arc<Self>) -> Result<usize, crate::ServiceError> {
        let claimed = self.services.claim_due_deliveries(CLAIM_BATCH).await?;
        let count = claimed.len();
        let mut sends = JoinSet::new();
        for delivery in claimed {
            let sender = self.clone();
            sends.spawn(async move {
                let attempt = sender.attempt(&delivery).await;
                let outcome = attempt.outcome.clone();
                match sender.services.record_delivery_attempt(&delivery, attempt).await {
                    Ok(Some(state)) => {
                        tracing::debug!(delivery = %delivery.id, webhook = %delivery.webhook_id, ?outcome, %state, "webhook attempt recorded")
                    }
                    Ok(None) => tracing::warn!(
                        delivery = %delivery.id,
                        "webhook attempt not recorded: the claim ran out, or the webhook was deleted meanwhile"
                    ),
                    Err(e) => tracing::warn!(delivery = %delivery.id, error = %e, "webhook attempt could not be recorded"),
                }
            });
        }
        while sends.join_next().await.is_some() {}
        Ok(count)
    }

    async fn attempt(&self, delivery: &ClaimedDelivery) -> Attempt {
        let body = serde_json::to_vec(&payload(delivery)).expect("plain data serialises");
        let at = Timestamp::now();
        let signature = signature_header(&delivery.secret, at.as_millis().div_euclid(1000), &body);
        let started = Instant::now();
        if !crate::destinations::literal_permitted(&self.destinations, &delivery.url) {
            // Created before the rule, or the allow-list shrank: never connect.
            return Attempt { at, duration_ms: 0, outcome: AttemptOutcome::Error(crate::destinations::REFUSED.to_owned()) };
        }
        let sent = self
            .client
            .post(&delivery.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Steward-Event", delivery.kind())
            .header("Steward-Delivery", delivery.id.to_string())
            .header("Steward-Signature", signature)
            .body(body)
            .send()
            .await;
        let outcome = match sent {
            Ok(response) => AttemptOutcome::Status(response.status().as_u16()),
            Err(e) => AttemptOutcome::Error(describe(&e, self.timeout)),
        };
        Attempt { at, duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX), outcome }
    }
}

/// Why no answer came, for the delivery log: coarse on purpose (refused, timed out, could not
/// connect), never the operating system's error, so that the log cannot map the inside network.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {} ms", timeout.as_millis());
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(inner) = cause {
        if inner.is::<crate::destinations::RefusedDestination>() {
            return crate::destinations::REFUSED.to_owned();
        }
        cause = inner.source();
    }
    if e.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    }
}
