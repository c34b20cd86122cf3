-- Queues: each ticket's queue state (SLA band, soonest due time of a running clock, active
-- delegation) kept on its row by every ticket write, so queue views are index range scans
-- sorted by SLA due; and per-view counters kept in the same transactions.
--
-- Counters are append-only deltas (one row per change, never a hot row that every writer
-- would update) folded into queue_counts by a background pass; a count is the folded value
-- plus the deltas not yet folded.

ALTER TABLE sla_clocks ADD COLUMN due_at INTEGER;

-- 9223372036854775807: no running clock (sorts last).
ALTER TABLE tickets ADD COLUMN sla_due_at INTEGER NOT NULL DEFAULT '9223372036854775807';
ALTER TABLE tickets ADD COLUMN sla_band TEXT NOT NULL DEFAULT 'none';
ALTER TABLE tickets ADD COLUMN delegated_partner TEXT;

CREATE INDEX tickets_sla_due ON tickets (sla_due_at, id);
CREATE INDEX tickets_band_due ON tickets (sla_band, sla_due_at, id);
CREATE INDEX tickets_assignee_due ON tickets (assignee_id, sla_due_at, id);
CREATE INDEX tickets_status_due ON tickets (status, sla_due_at, id);
CREATE INDEX tickets_delegated_due ON tickets (delegated_partner, sla_due_at, id) WHERE delegated_partner IS NOT NULL;

CREATE TABLE queue_counts (
    key TEXT PRIMARY KEY,
    n   INTEGER NOT NULL
);

CREATE TABLE queue_count_deltas (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    key   TEXT NOT NULL,
    delta INTEGER NOT NULL
);
CREATE INDEX queue_count_deltas_key ON queue_count_deltas (key);

-- Saved views: a named filter set, personal (owner) or shared by a supervisor.
CREATE TABLE saved_views (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES staff (id),
    name       TEXT NOT NULL,
    filters    TEXT NOT NULL,
    shared     INTEGER NOT NULL CHECK (shared IN (0, 1)),
    created_at INTEGER NOT NULL
);
CREATE INDEX saved_views_owner ON saved_views (owner_id, id);
CREATE INDEX saved_views_shared ON saved_views (shared, id);
