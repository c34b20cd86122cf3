-- Inbound mail. Every accepted message is stored raw first, in its own committed transaction,
-- before it is parsed (state `received`); importing it (a ticket or a comment) marks it
-- `imported` in the import's own transaction, so a crash in between leaves a stored message
-- that the next attempt imports exactly once. The unique Message-ID makes a redelivery find
-- the stored row instead of making a second one.
CREATE TABLE mail_messages (
    id          TEXT COLLATE "C" PRIMARY KEY,
    -- Without angle brackets; NULL when the message has none (then it is never deduplicated).
    message_id  TEXT COLLATE "C" UNIQUE,
    -- `http`, `mailgate` or `imap:{mailbox}`.
    source      TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    size        BIGINT NOT NULL,
    raw         BYTEA NOT NULL,
    -- The From address lowercased, when it could be read: the rate limit's key.
    sender      TEXT COLLATE "C",
    subject     TEXT,
    state       TEXT NOT NULL CHECK (state IN ('received', 'imported', 'quarantined', 'ignored')),
    reason      TEXT,
    detail      TEXT,
    -- The ticket the import wrote to, and the last event it wrote there.
    ticket_id   TEXT COLLATE "C" REFERENCES tickets (id),
    event_seq   BIGINT,
    attempts    BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    CHECK ((state = 'imported') = (ticket_id IS NOT NULL))
);
-- The quarantine listing and the retry of stored but unimported messages, oldest first.
CREATE INDEX mail_messages_state ON mail_messages (state, id);
-- The per-sender rate limit counts one sender's recent messages.
CREATE INDEX mail_messages_sender ON mail_messages (sender, received_at);
-- Outbound mail threads on the messages received for its ticket (References).
CREATE INDEX mail_messages_ticket ON mail_messages (ticket_id, received_at);

-- Contacts a delivery-status notification reported undeliverable.
CREATE TABLE mail_bounces (
    contact    TEXT COLLATE "C" PRIMARY KEY,
    bounced_at BIGINT NOT NULL,
    bounces    BIGINT NOT NULL,
    -- The report that said so.
    mail_id    TEXT COLLATE "C" NOT NULL REFERENCES mail_messages (id)
);
