-- Outbound mail. A mail is queued in the transaction that records the event causing it (an
-- outbox, like webhook deliveries), and sent over SMTP by the mail worker of any node under a
-- lease.

CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY,
    -- The ticket the mail is about; NULL for staff mail about no ticket (certifications).
    ticket_id       TEXT REFERENCES tickets (id),
    -- The notification kind (ticket_received, staff_reply, resolved, assigned, …).
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    -- Ours, `<{ticket_id}.{uuid}@{domain}>`: replies are threaded back by it.
    message_id      TEXT NOT NULL UNIQUE,
    -- The earlier messages of the ticket's thread with this recipient (space-separated ids).
    in_reply_to     TEXT,
    references_ids  TEXT,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    -- Attempts made so far (each is a row of mail_attempts).
    attempts        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    -- Set exactly while pending: the worker sends the mail once this has passed.
    next_attempt_at INTEGER,
    -- A worker's claim: no other worker sends the mail before locked_until, and only the
    -- holder of lock_token may record the attempt's outcome.
    locked_until    INTEGER,
    lock_token      TEXT,
    sent_at         INTEGER,
    -- The last failed attempt's error (kept when the mail is given up).
    last_error      TEXT,
    CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL))
);
-- The worker's scan for due mail, in the order it fell due; finished mail is left out.
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
-- A ticket's thread with one recipient, oldest first (In-Reply-To and References).
CREATE INDEX mail_outbox_thread ON mail_outbox (ticket_id, recipient, id) WHERE ticket_id IS NOT NULL;
-- The admin's listing by state, newest first (keyset on the time-ordered id).
CREATE INDEX mail_outbox_state ON mail_outbox (state, id);

CREATE TABLE mail_attempts (
    mail_id     TEXT NOT NULL REFERENCES mail_outbox (id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    -- NULL when the server accepted the mail; else why not.
    error       TEXT,
    PRIMARY KEY (mail_id, number)
);

-- The one reminder of an unanswered survey: set when it was queued, by whichever node got there
-- first (the reminder is queued in the same transaction).
ALTER TABLE surveys ADD COLUMN reminded_at INTEGER;
-- The reminder pass's scan: unanswered surveys not yet reminded, oldest first.
CREATE INDEX surveys_unreminded ON surveys (issued_at) WHERE answered_at IS NULL AND reminded_at IS NULL;
