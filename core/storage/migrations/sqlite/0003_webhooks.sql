-- Webhooks and their deliveries. A delivery is queued in the transaction that records its
-- ticket event (an outbox), and sent by the delivery worker of any node under a lease.

CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    -- JSON array of event kinds, or ["*"] for all.
    event_kinds TEXT NOT NULL,
    -- In the clear: deliveries are signed with it.
    secret      TEXT NOT NULL,
    active      INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    ticket_id       TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    -- Attempts made so far (each is a row of webhook_attempts).
    attempts        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    -- Set exactly while pending: the worker sends a delivery once this has passed.
    next_attempt_at INTEGER,
    -- A worker's claim: no other worker sends the delivery before locked_until, and only the
    -- holder of lock_token may record the attempt's outcome.
    locked_until    INTEGER,
    lock_token      TEXT,
    FOREIGN KEY (ticket_id, seq) REFERENCES ticket_events (ticket_id, seq),
    CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL))
);
-- The worker's scan for due deliveries, in the order they fell due; finished ones are left out.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
-- A webhook's delivery log, newest first (keyset-paginated on the time-ordered id).
CREATE INDEX webhook_deliveries_webhook_id ON webhook_deliveries (webhook_id, id);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    -- The receiver's status code, or (when no answer came) the error.
    status_code INTEGER,
    error       TEXT,
    PRIMARY KEY (delivery_id, number)
);
