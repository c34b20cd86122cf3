-- Foundation: staff, API tokens, tickets with their tags and event timeline, idempotency keys.
-- Instants are BIGINT milliseconds since the Unix epoch (UTC); ids are UUID v7 text, compared
-- bytewise (COLLATE "C") so id order is creation order.

CREATE TABLE staff (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    team        TEXT,
    active      BOOLEAN NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    staff_id    TEXT REFERENCES staff (id),
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

-- Ticket numbers: a sequence, so concurrent writers never wait on a counter row. A number
-- taken by a transaction that rolls back is skipped; numbers are unique, not gapless.
CREATE SEQUENCE ticket_number_seq;

CREATE TABLE tickets (
    id                TEXT COLLATE "C" PRIMARY KEY,
    number            BIGINT NOT NULL UNIQUE,
    title             TEXT NOT NULL,
    title_search      TEXT NOT NULL,
    description       TEXT NOT NULL,
    kind              TEXT NOT NULL,
    channel           TEXT NOT NULL,
    priority          TEXT NOT NULL,
    customer_name     TEXT NOT NULL,
    customer_contact  TEXT,
    customer_tier     TEXT NOT NULL,
    process           TEXT NOT NULL,
    process_version   BIGINT NOT NULL,
    stage             TEXT NOT NULL,
    status            TEXT NOT NULL,
    assignee_id       TEXT REFERENCES staff (id),
    tags              TEXT NOT NULL,
    custom_fields     TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    first_response_at BIGINT,
    resolved_at       BIGINT,
    closed_at         BIGINT,
    reopen_count      BIGINT NOT NULL,
    version           BIGINT NOT NULL
);

-- Every ticket listing is keyset-paginated on id (newest first) under one filter; each
-- filter has an index ending in id so the first page and every later one are index range scans.
CREATE INDEX tickets_status_id   ON tickets (status, id);
CREATE INDEX tickets_stage_id    ON tickets (stage, id);
CREATE INDEX tickets_process_id  ON tickets (process, id);
CREATE INDEX tickets_priority_id ON tickets (priority, id);
CREATE INDEX tickets_channel_id  ON tickets (channel, id);
CREATE INDEX tickets_kind_id     ON tickets (kind, id);
CREATE INDEX tickets_tier_id     ON tickets (customer_tier, id);
CREATE INDEX tickets_assignee_id ON tickets (assignee_id, id);

CREATE TABLE ticket_tags (
    tag       TEXT NOT NULL,
    ticket_id TEXT COLLATE "C" NOT NULL REFERENCES tickets (id),
    PRIMARY KEY (tag, ticket_id)
);
CREATE INDEX ticket_tags_ticket ON ticket_tags (ticket_id);

CREATE TABLE ticket_events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id      TEXT COLLATE "C" NOT NULL REFERENCES tickets (id),
    seq            BIGINT NOT NULL,
    at             BIGINT NOT NULL,
    actor_kind     TEXT NOT NULL,
    actor_token_id TEXT,
    actor_staff_id TEXT,
    actor_name     TEXT NOT NULL,
    kind           TEXT NOT NULL,
    data           TEXT NOT NULL,
    UNIQUE (ticket_id, seq)
);
CREATE INDEX ticket_events_kind_at ON ticket_events (kind, at);

CREATE TABLE idempotency_keys (
    principal    TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       BIGINT NOT NULL,
    body         TEXT NOT NULL,
    location     TEXT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
