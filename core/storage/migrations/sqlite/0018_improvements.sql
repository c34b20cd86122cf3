-- Improvement actions set by the monthly review meeting, and their append-only history.
-- Statuses: open, in_progress, done, dropped (done and dropped close an action: closed_at is
-- set exactly then). An action targets a KPI, a process stage, or both.

CREATE TABLE improvement_actions (
    id           TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    description  TEXT,
    owner_id     TEXT NOT NULL REFERENCES staff (id),
    -- The due day, YYYY-MM-DD (UTC), and the instant it ends: overdue from due_end on.
    due_date     TEXT NOT NULL,
    due_end      INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'done', 'dropped')),
    kpi          TEXT,
    process      TEXT,
    stage        TEXT,
    -- The review month it came from, YYYY-MM.
    review_month TEXT NOT NULL,
    version      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    closed_at    INTEGER,
    CHECK (kpi IS NOT NULL OR stage IS NOT NULL),
    CHECK ((process IS NULL) = (stage IS NULL)),
    CHECK ((status IN ('done', 'dropped')) = (closed_at IS NOT NULL))
);
-- A review month's actions, and the later reviews that follow them up.
CREATE INDEX improvement_actions_month ON improvement_actions (review_month, id);
CREATE INDEX improvement_actions_owner ON improvement_actions (owner_id, id);
-- The overdue count: open actions by due time.
CREATE INDEX improvement_actions_open_due ON improvement_actions (due_end) WHERE closed_at IS NULL;

-- One row per change, never updated: seq is the action's version after it, so two writers of
-- the same version cannot both record theirs.
CREATE TABLE improvement_events (
    improvement_id TEXT NOT NULL REFERENCES improvement_actions (id),
    seq            INTEGER NOT NULL,
    at             INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('created', 'changed')),
    -- JSON of the actor, as on ticket events.
    actor          TEXT NOT NULL,
    -- JSON array of {field, from, to}.
    changes        TEXT NOT NULL,
    PRIMARY KEY (improvement_id, seq)
);
