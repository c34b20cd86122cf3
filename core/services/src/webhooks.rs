use super::{ServiceError, Services};
use steward_domain::ids::{DeliveryId, WebhookId};
use steward_domain::time::Timestamp;
use steward_domain::webhook::{Attempt, Delivery, DeliveryState, Webhook, WebhookInput, WebhookPatch};
use steward_storage::webhooks::{ClaimedDelivery, FinishedAttempt};

impl Services {
    /// Creates a webhook; its secret (given or generated) is in the result, to be shown once.
    pub async fn create_webhook(&self, input: WebhookInput) -> Result<Webhook, ServiceError> {
        let webhook = Webhook::create(input, Timestamp::now())?;
        self.check_destination(&webhook.url).await?;
        self.store.insert_webhook(&webhook).await?;
        Ok(webhook)
    }

    /// Refuses a URL that points inside (after DNS resolution), 422 naming `url`.
    async fn check_destination(&self, url: &str) -> Result<(), ServiceError> {
        crate::destinations::check_url(&self.destinations, "url", url)
            .await
            .map_err(|e| ServiceError::Invalid(steward_domain::ValidationError::from(e)))
    }

    /// Where webhooks may point, for the delivery worker.
    pub fn webhook_destinations(&self) -> steward_domain::destination::Destinations {
        self.destinations.clone()
    }

    pub async fn get_webhook(&self, id: WebhookId) -> Result<Webhook, ServiceError> {
        self.store.get_webhook(id).await?.ok_or(ServiceError::NotFound { what: "webhook" })
    }

    pub async fn list_webhooks(&self) -> Result<Vec<Webhook>, ServiceError> {
        Ok(self.store.list_webhooks().await?)
    }

    pub async fn update_webhook(&self, id: WebhookId, patch: WebhookPatch) -> Result<Webhook, ServiceError> {
        let url_changes = patch.url.is_some();
        let next = self.get_webhook(id).await?.apply(patch, Timestamp::now())?;
        if url_changes {
            self.check_destination(&next.url).await?;
        }
        match self.store.update_webhook(&next).await? {
            true => Ok(next),
            false => Err(ServiceError::NotFound { what: "webhook" }),
        }
    }

    /// Deletes a webhook and its delivery log; pending deliveries are dropped.
    pub async fn delete_webhook(&self, id: WebhookId) -> Result<(), ServiceError> {
        match self.store.delete_webhook(id).await? {
            true => Ok(()),
            false => Err(ServiceError::NotFound { what: "webhook" }),
        }
    }

    /// One page of a webhook's deliveries, newest first, and the id to continue below when more
    /// may follow.
    pub async fn list_deliveries(
        &self,
        webhook: WebhookId,
        before: Option<DeliveryId>,
        limit: u32,
    ) -> Result<(Vec<Delivery>, Option<String>), ServiceError> {
        self.get_webhook(webhook).await?;
        let mut deliveries = self.store.list_deliveries(webhook, before, limit + 1).await?;
        let next = if deliveries.len() > limit as usize {
            deliveries.truncate(limit as usize);
            deliveries.last().map(|d| d.id.to_string())
        } else {
            None
        };
        Ok((deliveries, next))
    }

    /// Sends a delivered or failed delivery again: it is pending and due now, for one more
    /// attempt (a failure after the retries are spent marks it failed again). A pending one is a
    /// conflict: it is on its way.
    pub async fn redeliver(&self, webhook: WebhookId, delivery: DeliveryId) -> Result<(), ServiceError> {
        self.get_webhook(webhook).await?;
        match self.store.redeliver(webhook, delivery, Timestamp::now()).await? {
            None => Err(ServiceError::NotFound { what: "delivery" }),
            Some(DeliveryState::Pending) => Err(ServiceError::Conflict {
                field: None,
                message: "the delivery is still pending: it is sent when its next attempt is due".into(),
            }),
            Some(_) => Ok(()),
        }
    }

    /// Claims up to `limit` due deliveries for this node, leased long enough to make one
    /// attempt at each and record it.
    pub async fn claim_due_deliveries(&self, limit: u32) -> Result<Vec<ClaimedDelivery>, ServiceError> {
        let now = Timestamp::now();
        Ok(self.store.claim_due_deliveries(now, now.plus_millis(self.delivery_lease_ms), limit).await?)
    }

    /// Records an attempt and decides what follows: delivered, retried after a backoff, or
    /// given up. `None`: the claim had lapsed (or the webhook was deleted) and nothing was
    /// recorded.
    pub async fn record_delivery_attempt(
        &self,
        delivery: &ClaimedDelivery,
        attempt: Attempt,
    ) -> Result<Option<DeliveryState>, ServiceError> {
        let (state, next_attempt_at) = self.retry.after_attempt(delivery.attempts + 1, &attempt.outcome, Timestamp::now(), rand::random());
        let finished = FinishedAttempt { delivery, attempt: &attempt, state, next_attempt_at };
        let recorded = self.store.record_delivery_attempt(finished).await?;
        if recorded {
            self.metrics.observe_webhook_attempt(match state {
                DeliveryState::Delivered => "delivered",
                DeliveryState::Pending => "retrying",
                DeliveryState::Failed => "failed",
            });
        }
        Ok(recorded.then_some(state))
    }
}
