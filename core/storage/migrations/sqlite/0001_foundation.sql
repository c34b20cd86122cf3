-- Foundation: staff, API tokens, tickets with their tags and event timeline, idempotency keys.
-- Instants are INTEGER milliseconds since the Unix epoch (UTC); ids are UUID v7 text.

CREATE TABLE staff (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    team        TEXT,
    active      INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    staff_id    TEXT REFERENCES staff (id),
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

-- Ticket numbers: one counter row, incremented inside the (BEGIN IMMEDIATE) writer.
CREATE TABLE ticket_number_counter (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    last_number INTEGER NOT NULL
);
INSERT INTO ticket_number_counter (id, last_number) VALUES (1, 0);

CREATE TABLE tickets (
    id                TEXT PRIMARY KEY,
    number            INTEGER NOT NULL UNIQUE,
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
    process_version   INTEGER NOT NULL,
    stage             TEXT NOT NULL,
    status            TEXT NOT NULL,
    assignee_id       TEXT REFERENCES staff (id),
    tags              TEXT NOT NULL,
    custom_fields     TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    first_response_at INTEGER,
    resolved_at       INTEGER,
    closed_at         INTEGER,
    reopen_count      INTEGER NOT NULL,
    version           INTEGER NOT NULL
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
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    PRIMARY KEY (tag, ticket_id)
);
CREATE INDEX ticket_tags_ticket ON ticket_tags (ticket_id);

CREATE TABLE ticket_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id      TEXT NOT NULL REFERENCES tickets (id),
    seq            INTEGER NOT NULL,
    at             INTEGER NOT NULL,
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
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    location     TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
