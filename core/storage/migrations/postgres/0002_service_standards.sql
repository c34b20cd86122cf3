-- Service standards: SLA policies and business calendars (specs as JSON, validated by the
-- domain on the way in), the clocks of each ticket, and the alerts recorded once per clock.

CREATE TABLE calendars (
    key        TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE sla_policies (
    key        TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE sla_clocks (
    id            TEXT COLLATE "C" PRIMARY KEY,
    ticket_id     TEXT COLLATE "C" NOT NULL REFERENCES tickets (id),
    kind          TEXT NOT NULL,
    stage         TEXT,
    policy_key    TEXT,
    target_ms     BIGINT NOT NULL,
    calendar_key  TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    elapsed_ms    BIGINT NOT NULL,
    segment_from  BIGINT,
    stopped_at    BIGINT,
    breached_at   BIGINT,
    pauses        TEXT NOT NULL,
    alerted       TEXT NOT NULL,
    next_check_at BIGINT
);
CREATE INDEX sla_clocks_ticket ON sla_clocks (ticket_id);
-- The sweeper reads only clocks with a pending alert, soonest first.
CREATE INDEX sla_clocks_next_check ON sla_clocks (next_check_at) WHERE next_check_at IS NOT NULL;

-- One row per clock and alert level: the database, not luck, keeps each alert to one event
-- even when several nodes sweep at once.
CREATE TABLE sla_alerts (
    clock_id TEXT NOT NULL REFERENCES sla_clocks (id),
    level    TEXT NOT NULL,
    at       BIGINT NOT NULL,
    PRIMARY KEY (clock_id, level)
);

-- Complaints name the ticket complained about; follow-ups the ticket they follow.
ALTER TABLE tickets ADD COLUMN origin_ticket_id TEXT COLLATE "C" REFERENCES tickets (id);
-- The stage whose latest quality review passed (stages may require one before the ticket leaves).
ALTER TABLE tickets ADD COLUMN review_passed_stage TEXT;

-- Satisfaction surveys: issued on resolution, answered once, before they expire.
CREATE TABLE surveys (
    token       TEXT PRIMARY KEY,
    ticket_id   TEXT COLLATE "C" NOT NULL REFERENCES tickets (id),
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    answered_at BIGINT,
    score       BIGINT,
    comment     TEXT
);
CREATE INDEX surveys_ticket ON surveys (ticket_id);

CREATE TABLE ticket_reviews (
    id        TEXT PRIMARY KEY,
    ticket_id TEXT COLLATE "C" NOT NULL REFERENCES tickets (id),
    stage     TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    score     BIGINT NOT NULL,
    checklist TEXT NOT NULL,
    notes     TEXT,
    reviewer  TEXT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX ticket_reviews_ticket ON ticket_reviews (ticket_id);
