-- Partners with contracts (an OLA), tickets delegated to them, partner tokens; courses and
-- append-only training records from which certifications are derived.

CREATE TABLE partners (
    id                  TEXT COLLATE "C" PRIMARY KEY,
    name                TEXT NOT NULL,
    kind                TEXT NOT NULL,
    contact             TEXT,
    status              TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    -- JSON array of service categories.
    categories          TEXT NOT NULL,
    -- The contract, all NULL when there is none.
    contract_start      BIGINT,
    contract_end        BIGINT,
    ola_first_response_secs BIGINT,
    ola_resolution_secs BIGINT,
    contract_calendar   TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE ticket_delegations (
    id                    TEXT COLLATE "C" PRIMARY KEY,
    ticket_id             TEXT COLLATE "C" NOT NULL REFERENCES tickets (id),
    partner_id            TEXT COLLATE "C" NOT NULL REFERENCES partners (id),
    note                  TEXT,
    delegated_at          BIGINT NOT NULL,
    first_response_due_at BIGINT,
    resolution_due_at     BIGINT,
    withdrawn_at          BIGINT
);
-- At most one active delegation per ticket.
CREATE UNIQUE INDEX ticket_delegations_active ON ticket_delegations (ticket_id) WHERE withdrawn_at IS NULL;
-- A partner token's listing (newest ticket first) and access checks.
CREATE INDEX ticket_delegations_partner_active ON ticket_delegations (partner_id, ticket_id) WHERE withdrawn_at IS NULL;
-- Partner statistics over a window.
CREATE INDEX ticket_delegations_partner_time ON ticket_delegations (partner_id, delegated_at);

ALTER TABLE api_tokens ADD COLUMN partner_id TEXT COLLATE "C" REFERENCES partners (id);

CREATE TABLE courses (
    code          TEXT PRIMARY KEY,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL,
    certifies     BOOLEAN NOT NULL,
    validity_secs BIGINT,
    pass_score    BIGINT NOT NULL,
    method        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- Append-only: a correction is a new record naming the one it supersedes.
CREATE TABLE training_records (
    id                TEXT COLLATE "C" PRIMARY KEY,
    staff_id          TEXT COLLATE "C" NOT NULL REFERENCES staff (id),
    course_code       TEXT NOT NULL REFERENCES courses (code),
    completed_at      BIGINT NOT NULL,
    score             BIGINT NOT NULL,
    assessor          TEXT NOT NULL,
    method            TEXT NOT NULL,
    notes             TEXT,
    passed            BOOLEAN NOT NULL,
    expires_at        BIGINT,
    supersedes        TEXT COLLATE "C" UNIQUE REFERENCES training_records (id),
    correction_reason TEXT,
    recorded_at       BIGINT NOT NULL
);
CREATE INDEX training_records_staff_course ON training_records (staff_id, course_code, completed_at);

-- The staff timeline: events about people rather than tickets (a certification expiring or
-- expired), recorded once each across nodes by their once_key.
CREATE TABLE staff_events (
    -- Time-ordered (UUID v7): id order is the timeline's order.
    id        TEXT COLLATE "C" PRIMARY KEY,
    staff_id  TEXT COLLATE "C" NOT NULL REFERENCES staff (id),
    at        BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    data      TEXT NOT NULL,
    -- e.g. certification_expired:<training record id>
    once_key  TEXT NOT NULL UNIQUE
);
CREATE INDEX staff_events_staff ON staff_events (staff_id, id);

-- Webhook deliveries carry either a ticket event (ticket_id, seq) or a staff event.
ALTER TABLE webhook_deliveries
    ALTER COLUMN ticket_id DROP NOT NULL,
    ALTER COLUMN seq DROP NOT NULL,
    ADD COLUMN staff_event_id TEXT COLLATE "C" REFERENCES staff_events (id),
    ADD CONSTRAINT webhook_deliveries_one_subject CHECK ((ticket_id IS NOT NULL AND seq IS NOT NULL) <> (staff_event_id IS NOT NULL));
