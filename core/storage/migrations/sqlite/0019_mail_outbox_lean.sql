-- The outbox row is written in the transaction of the ticket change that causes it, so every
-- B-tree it touches is one more page at that commit, under SQLite's single writer. Of the six it
-- touched, two served nothing on the write path: the unique index on `message_id` (no query
-- reads mail by it, and the mail's own id inside each Message-ID already makes it unique) and
-- the listing's `(state, id)` index (the newest-first listing walks the primary key and finds
-- sent and pending mail at once; failed mail, the rare one, gets a partial index). SQLite cannot
-- drop a column's UNIQUE in place, so the table is rebuilt; its attempts move with it.

CREATE TABLE mail_outbox_next (
    id              TEXT PRIMARY KEY,
    ticket_id       TEXT REFERENCES tickets (id),
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    in_reply_to     TEXT,
    references_ids  TEXT,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER,
    locked_until    INTEGER,
    lock_token      TEXT,
    sent_at         INTEGER,
    last_error      TEXT,
    CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL))
);
INSERT INTO mail_outbox_next
SELECT id, ticket_id, kind, recipient, subject, text_body, html_body, message_id, in_reply_to, references_ids, state,
       attempts, created_at, next_attempt_at, locked_until, lock_token, sent_at, last_error
FROM mail_outbox;

CREATE TABLE mail_attempts_next (
    mail_id     TEXT NOT NULL REFERENCES mail_outbox_next (id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    error       TEXT,
    PRIMARY KEY (mail_id, number)
);
INSERT INTO mail_attempts_next SELECT mail_id, number, at, duration_ms, error FROM mail_attempts;

-- The child first, so dropping the parent cascades into nothing.
DROP TABLE mail_attempts;
DROP TABLE mail_outbox;
-- Renaming the parent rewrites the child's reference to it.
ALTER TABLE mail_outbox_next RENAME TO mail_outbox;
ALTER TABLE mail_attempts_next RENAME TO mail_attempts;

CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX mail_outbox_thread ON mail_outbox (ticket_id, recipient, id) WHERE ticket_id IS NOT NULL;
CREATE INDEX mail_outbox_failed ON mail_outbox (id) WHERE state = 'failed';
