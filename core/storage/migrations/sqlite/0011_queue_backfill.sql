-- The queue-state backfill for databases that had tickets before 0009: their rows still hold
-- 0009's defaults (no SLA band, no due time, no delegation), their clocks no due time, and the
-- counters are empty. `Store::backfill_queue_state` walks the tickets in id order in batches,
-- each batch one transaction that also moves this cursor (a crash resumes after the last
-- committed batch), and the last batch rebuilds the counters and marks the cursor done.
--
-- One row. A database without tickets has nothing to backfill: it starts done.
CREATE TABLE queue_backfill (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    after_ticket TEXT,
    done         INTEGER NOT NULL CHECK (done IN (0, 1))
);
INSERT INTO queue_backfill (id, after_ticket, done) SELECT 1, NULL, NOT EXISTS (SELECT 1 FROM tickets);
