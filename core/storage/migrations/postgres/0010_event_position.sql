-- Live updates: a position ordering every event across tickets, and who has a ticket open.
--
-- An event's position is (commit_tx, id): `id` (an identity, i.e. a sequence) numbers events in
-- insert order, and commit_tx is the writing transaction's id. Sequence values are taken before
-- commit, so id N+1 may be visible before id N. The live feed therefore reads, in (commit_tx, id)
-- order, only events of transactions older than the oldest transaction still running
-- (pg_snapshot_xmin): those are all finished, and every later transaction gets a larger id, so
-- the feed never passes over an event that commits afterwards. Existing rows were committed
-- before this migration: commit_tx 0.
ALTER TABLE ticket_events ADD COLUMN commit_tx BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ticket_events ALTER COLUMN commit_tx SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX ticket_events_position ON ticket_events (commit_tx, id);

-- "Also viewing": one row per open live stream on a ticket page, refreshed by the stream's
-- heartbeat (seen_at, epoch ms) and removed when the stream ends; rows not refreshed expire.
CREATE TABLE ticket_viewers (
    ticket_id  TEXT COLLATE "C" NOT NULL REFERENCES tickets (id),
    viewer_id  TEXT NOT NULL,
    staff_id   TEXT COLLATE "C" REFERENCES staff (id),
    name       TEXT NOT NULL,
    seen_at    BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, viewer_id)
);
CREATE INDEX ticket_viewers_seen_at ON ticket_viewers (seen_at);
