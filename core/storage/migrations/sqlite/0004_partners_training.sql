-- Partners with contracts (an OLA), tickets delegated to them, partner tokens; courses and
-- append-only training records from which certifications are derived.

CREATE TABLE partners (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    kind                TEXT NOT NULL,
    contact             TEXT,
    status              TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    -- JSON array of service categories.
    categories          TEXT NOT NULL,
    -- The contract, all NULL when there is none.
    contract_start      INTEGER,
    contract_end        INTEGER,
    ola_first_response_secs INTEGER,
    ola_resolution_secs INTEGER,
    contract_calendar   TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

CREATE TABLE ticket_delegations (
    id                    TEXT PRIMARY KEY,
    ticket_id             TEXT NOT NULL REFERENCES tickets (id),
    partner_id            TEXT NOT NULL REFERENCES partners (id),
    note                  TEXT,
    delegated_at          INTEGER NOT NULL,
    first_response_due_at INTEGER,
    resolution_due_at     INTEGER,
    withdrawn_at          INTEGER
);
-- At most one active delegation per ticket.
CREATE UNIQUE INDEX ticket_delegations_active ON ticket_delegations (ticket_id) WHERE withdrawn_at IS NULL;
-- A partner token's listing (newest ticket first) and access checks.
CREATE INDEX ticket_delegations_partner_active ON ticket_delegations (partner_id, ticket_id) WHERE withdrawn_at IS NULL;
-- Partner statistics over a window.
CREATE INDEX ticket_delegations_partner_time ON ticket_delegations (partner_id, delegated_at);

ALTER TABLE api_tokens ADD COLUMN partner_id TEXT REFERENCES partners (id);

CREATE TABLE courses (
    code          TEXT PRIMARY KEY,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL,
    certifies     INTEGER NOT NULL CHECK (certifies IN (0, 1)),
    validity_secs INTEGER,
    pass_score    INTEGER NOT NULL,
    method        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- Append-only: a correction is a new record naming the one it supersedes.
CREATE TABLE training_records (
    id                TEXT PRIMARY KEY,
    staff_id          TEXT NOT NULL REFERENCES staff (id),
    course_code       TEXT NOT NULL REFERENCES courses (code),
    completed_at      INTEGER NOT NULL,
    score             INTEGER NOT NULL,
    assessor          TEXT NOT NULL,
    method            TEXT NOT NULL,
    notes             TEXT,
    passed            INTEGER NOT NULL CHECK (passed IN (0, 1)),
    expires_at        INTEGER,
    supersedes        TEXT UNIQUE REFERENCES training_records (id),
    correction_reason TEXT,
    recorded_at       INTEGER NOT NULL
);
CREATE INDEX training_records_staff_course ON training_records (staff_id, course_code, completed_at);

-- The staff timeline: events about people rather than tickets (a certification expiring or
-- expired), recorded once each across nodes by their once_key.
CREATE TABLE staff_events (
    -- Time-ordered (UUID v7): id order is the timeline's order.
    id        TEXT PRIMARY KEY,
    staff_id  TEXT NOT NULL REFERENCES staff (id),
    at        INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    data      TEXT NOT NULL,
    -- e.g. certification_expired:<training record id>
    once_key  TEXT NOT NULL UNIQUE
);
CREATE INDEX staff_events_staff ON staff_events (staff_id, id);

-- Webhook deliveries carry either a ticket event (ticket_id, seq) or a staff event. SQLite
-- cannot drop NOT NULL in place, and this migration runs in a transaction (foreign keys stay
-- on), so the tables are renamed away (webhook_attempts' reference follows the rename), made
-- anew, filled, and the old ones dropped once nothing refers to them.
ALTER TABLE webhook_deliveries RENAME TO webhook_deliveries_old;
ALTER TABLE webhook_attempts RENAME TO webhook_attempts_old;
DROP INDEX webhook_deliveries_due;
DROP INDEX webhook_deliveries_webhook_id;

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    -- A ticket event (ticket_id, seq), or a staff event (staff_event_id): exactly one.
    ticket_id       TEXT,
    seq             INTEGER,
    staff_event_id  TEXT REFERENCES staff_events (id),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER,
    locked_until    INTEGER,
    lock_token      TEXT,
    FOREIGN KEY (ticket_id, seq) REFERENCES ticket_events (ticket_id, seq),
    CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL)),
    CHECK ((ticket_id IS NOT NULL AND seq IS NOT NULL) <> (staff_event_id IS NOT NULL))
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_webhook_id ON webhook_deliveries (webhook_id, id);
INSERT INTO webhook_deliveries (id, webhook_id, ticket_id, seq, staff_event_id, state, attempts, created_at, next_attempt_at, locked_until, lock_token)
    SELECT id, webhook_id, ticket_id, seq, NULL, state, attempts, created_at, next_attempt_at, locked_until, lock_token FROM webhook_deliveries_old;

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    error       TEXT,
    PRIMARY KEY (delivery_id, number)
);
INSERT INTO webhook_attempts SELECT delivery_id, number, at, duration_ms, status_code, error FROM webhook_attempts_old;
DROP TABLE webhook_attempts_old;
DROP TABLE webhook_deliveries_old;
