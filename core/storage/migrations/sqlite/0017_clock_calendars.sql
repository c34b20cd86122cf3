-- Per-stage and per-target calendars, and the first response of a ticket closed unanswered.
--
-- calendar_source: which rule chose a clock's calendar (calendar_key), for the SLA report:
-- `stage` (the process names the stage's calendar), `target` (the policy names one for this
-- target), `policy` (the policy's calendar) or `default` (nothing named: 24×7 UTC). Clocks from
-- before this migration could only count on the policy's calendar or, with none, on `always`.
ALTER TABLE sla_clocks ADD COLUMN calendar_source TEXT NOT NULL DEFAULT 'policy'
    CHECK (calendar_source IN ('stage', 'target', 'policy', 'default'));
UPDATE sla_clocks SET calendar_source = 'default' WHERE calendar_key = 'always';

-- not_applicable: a first-response clock stopped within its target by a close without any
-- public reply. Neither met nor breached: the compliance rate leaves it out. Earlier such
-- closes were counted as met; they are not applicable too.
ALTER TABLE sla_clocks ADD COLUMN not_applicable INTEGER NOT NULL DEFAULT FALSE CHECK (not_applicable IN (0, 1));
UPDATE sla_clocks SET not_applicable = TRUE
WHERE kind = 'first_response' AND stopped_at IS NOT NULL AND breached_at IS NULL
  AND ticket_id IN (SELECT id FROM tickets WHERE first_response_at IS NULL);
