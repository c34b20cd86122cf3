-- Live updates: a position ordering every event across tickets, and who has a ticket open.
--
-- An event's position is (commit_tx, id). `id` already numbers events in insert order across
-- tickets. On SQLite every writer holds the database's one write lock from BEGIN IMMEDIATE to
-- COMMIT, so insert order is commit order and commit_tx stays 0 (existing rows included).
ALTER TABLE ticket_events ADD COLUMN commit_tx INTEGER NOT NULL DEFAULT 0;
CREATE INDEX ticket_events_position ON ticket_events (commit_tx, id);

-- "Also viewing": one row per open live stream on a ticket page, refreshed by the stream's
-- heartbeat (seen_at, epoch ms) and removed when the stream ends; rows not refreshed expire.
CREATE TABLE ticket_viewers (
    ticket_id  TEXT NOT NULL REFERENCES tickets (id),
    viewer_id  TEXT NOT NULL,
    staff_id   TEXT REFERENCES staff (id),
    name       TEXT NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, viewer_id)
);
CREATE INDEX ticket_viewers_seen_at ON ticket_viewers (seen_at);
